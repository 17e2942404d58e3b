//! A month in the life of one customer's credits, printed as the console
//! would show it: grants, usage, a late event, expiry with rollover, a
//! dispute reversal, and the balance at a past instant as known then and now.
//!
//! Run: `cargo run -p creditdesk-ledger --example ledger_demo`

use std::error::Error;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use creditdesk_ledger::balance::Balance;
use creditdesk_ledger::catalog::{BurnOrder, Catalog, CreditType, OverageMode, Product, RateCard};
use creditdesk_ledger::clock::ManualClock;
use creditdesk_ledger::engine::{IngestMode, IngestResult, Ledger};
use creditdesk_ledger::entry::Attribution;
use creditdesk_ledger::event::UsageEvent;
use creditdesk_ledger::grant::{GrantCategory, GrantSource, NewGrant, RolloverPolicy};
use creditdesk_ledger::ids::{ActorId, CreditTypeId, CustomerId, EventId, GrantId, ProductId, ReasonCode};
use creditdesk_ledger::{Currency, Money};
use rust_decimal::Decimal;

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0).single().unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn main() -> Result<(), Box<dyn Error>> {
    let clock = Arc::new(ManualClock::new(at(1, 0)));
    let ct = CreditTypeId::new("transcription")?;
    let mut catalog = Catalog::new();
    catalog.add_credit_type(CreditType::new(
        ct.clone(),
        "Batch transcription credits",
        "credits",
        Money { amount: Decimal::new(1, 2), currency: Currency::USD },
        BurnOrder::standard(),
        OverageMode::CarryForward,
    )?)?;
    for (id, name, rate) in [("batch-en", "Batch (English)", 10), ("batch-multi", "Batch (multilingual)", 15)] {
        catalog.add_product(Product {
            id: ProductId::new(id)?,
            name: name.into(),
            credit_type: ct.clone(),
            rate_card: RateCard::flat(at(1, 0) - TimeDelta::days(365), Decimal::new(rate, 0))?,
        })?;
    }
    let mut ledger = Ledger::new(catalog, clock.clone());
    let customer = CustomerId::new("acme-audio")?;
    let agent = ActorId::new("alice")?;

    let grant = |id: &str, amount: i64, category, source, expires: Option<DateTime<Utc>>| NewGrant {
        expires_at: expires,
        ..NewGrant::new(
            GrantId::new(id).unwrap_or_else(|_| unreachable!("literal ids are valid")),
            customer.clone(),
            ct.clone(),
            Decimal::new(amount, 0),
            category,
            source,
            at(1, 0),
            ReasonCode::new("onboarding").unwrap_or_else(|_| unreachable!()),
            agent.clone(),
        )
    };
    let mut plan = grant("plan-march", 10_000, GrantCategory::Paid, GrantSource::Plan, Some(at(15, 0)));
    plan.rollover = Some(RolloverPolicy::new(Decimal::new(5, 1), Some(Decimal::new(2_000, 0)), TimeDelta::days(30))?);
    ledger.grant(plan)?;
    ledger.grant(grant("welcome-promo", 1_500, GrantCategory::Promotional, GrantSource::Promotion, Some(at(10, 0))))?;
    ledger.grant(grant("purchase-001", 20_000, GrantCategory::Paid, GrantSource::Purchase, None))?;

    println!("Creditdesk ledger demo: customer {customer}, credit type {ct}\n");
    let mut n = 0;
    for day in 1..=20u32 {
        clock.set(at(day, 18));
        for (product, minutes) in [("batch-en", 40 + i64::from(day) * 3), ("batch-multi", 12)] {
            n += 1;
            let event = UsageEvent {
                id: EventId::new(format!("evt-{n:04}"))?,
                customer: customer.clone(),
                product: ProductId::new(product)?,
                quantity: Decimal::new(minutes, 0),
                timestamp: at(day, 12),
                properties: Default::default(),
            };
            if let IngestResult::Rejected { reason } = ledger.ingest(event, IngestMode::Live, &agent) {
                println!("rejected: {}", reason.code());
            }
        }
    }
    let before_late = ledger.now();
    // A usage event from the 14th arrives late, after the plan expired and rolled over.
    clock.set(at(20, 19));
    let late = UsageEvent {
        id: EventId::new("evt-late")?,
        customer: customer.clone(),
        product: ProductId::new("batch-en")?,
        quantity: Decimal::new(120, 0),
        timestamp: at(14, 23),
        properties: Default::default(),
    };
    ledger.ingest(late, IngestMode::Live, &agent);
    // Support reverses a disputed event.
    let mut by = Attribution::actor(agent.clone());
    by.reason_code = Some(ReasonCode::new("incorrect_usage")?);
    by.ticket_ref = Some("SUP-4812".into());
    let reversal = ledger.reverse(&EventId::new("evt-0003")?, by)?;
    println!("Reversed evt-0003: {} credits restored\n", reversal.total());

    print_balance("Balance now", &ledger.balance(&customer, &ct, None, None)?);
    print_balance(
        "Balance at Mar 14 23:30, as known before the late event",
        &ledger.balance(&customer, &ct, Some(at(14, 23) + TimeDelta::minutes(30)), Some(before_late))?,
    );
    print_balance(
        "Balance at Mar 14 23:30, as known now",
        &ledger.balance(&customer, &ct, Some(at(14, 23) + TimeDelta::minutes(30)), None)?,
    );

    println!("Last ledger entries:");
    println!("{:>5}  {:<18} {:<22} {:>12}  {:<17} event", "seq", "kind", "grant", "amount", "booked");
    for e in ledger.entries().iter().rev().take(12).rev() {
        println!(
            "{:>5}  {:<18} {:<22} {:>12}  {:<17} {}",
            e.seq,
            e.kind.as_str(),
            e.grant.as_ref().map_or("-", |g| g.as_str()),
            e.amount.to_string(),
            e.booked_at.format("%b %d %H:%M").to_string(),
            e.event.as_ref().map_or("", |ev| ev.as_str()),
        );
    }
    Ok(())
}

fn print_balance(title: &str, b: &Balance) {
    println!("{title}");
    println!("  available {}  pending {}  overage {}  net {}", b.available, b.pending, b.overage, b.net);
    println!(
        "  {:<22} {:<8} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "grant", "status", "amount", "burned", "expired", "rolled", "remaining"
    );
    for g in &b.grants {
        println!(
            "  {:<22} {:<8} {:>10} {:>10} {:>10} {:>10} {:>10}",
            g.grant.id.as_str(),
            format!("{:?}", g.status).to_lowercase(),
            g.totals.amount.to_string(),
            g.totals.burned.to_string(),
            g.totals.expired.to_string(),
            g.totals.rolled.to_string(),
            g.remaining.to_string()
        );
    }
    println!();
}
