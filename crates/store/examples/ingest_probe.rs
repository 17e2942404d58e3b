//! Quick probe of raw store ingest throughput (no HTTP): N events in
//! batches of 1,000 from a few concurrent tasks. The shipped benchmark is
//! `creditdesk-bench`; this is for profiling the writer alone.

use std::sync::Arc;
use std::time::Instant;

use chrono::{TimeDelta, Utc};
use creditdesk_ledger::catalog::{BurnOrder, CreditType, OverageMode, Product, RateCard};
use creditdesk_ledger::clock::SystemClock;
use creditdesk_ledger::engine::IngestMode;
use creditdesk_ledger::event::UsageEvent;
use creditdesk_ledger::grant::{GrantCategory, GrantSource, NewGrant};
use creditdesk_ledger::ids::{ActorId, CreditTypeId, CustomerId, EventId, GrantId, ProductId, ReasonCode};
use creditdesk_ledger::{Currency, Money};
use creditdesk_store::{AdminOp, Customer, SqliteStore, StoreOptions};
use rust_decimal::Decimal;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let total: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let dir = tempfile::tempdir()?;
    let s = SqliteStore::open(
        dir.path().join("p.db"),
        StoreOptions { clock: Arc::new(SystemClock), ..StoreOptions::default() },
    )?;
    let now = Utc::now();
    let usd = Money { amount: Decimal::new(1, 2), currency: Currency::USD };
    s.admin(AdminOp::CreditType(CreditType::new(
        CreditTypeId::new("api")?,
        "API",
        "credits",
        usd,
        BurnOrder::standard(),
        OverageMode::CarryForward,
    )?))
    .await?;
    s.admin(AdminOp::Product {
        product: Product {
            id: ProductId::new("chat")?,
            name: "Chat".into(),
            credit_type: CreditTypeId::new("api")?,
            rate_card: RateCard::flat(now - TimeDelta::days(30), Decimal::new(15, 1))?,
        },
        by: ActorId::new("admin")?,
    })
    .await?;
    let customers = 200;
    for c in 0..customers {
        let id = CustomerId::new(format!("c{c}"))?;
        s.admin(AdminOp::Customer(Customer {
            id: id.clone(),
            name: format!("C{c}"),
            external_ref: None,
            created_at: now,
        }))
        .await?;
        for g in 0..3 {
            s.grant(NewGrant {
                id: GrantId::new(format!("c{c}-g{g}"))?,
                customer: id.clone(),
                credit_type: CreditTypeId::new("api")?,
                amount: Decimal::from(10_000_000),
                category: if g == 0 { GrantCategory::Promotional } else { GrantCategory::Paid },
                source: GrantSource::Purchase,
                priority: Some(g as u8 + 1),
                effective_at: now - TimeDelta::days(1),
                expires_at: Some(now + TimeDelta::days(30 + g)),
                products: None,
                contract_id: None,
                cost_basis: None,
                rollover: None,
                reason_code: ReasonCode::new("p")?,
                ticket_ref: None,
                note: None,
                created_by: ActorId::new("a")?,
                approved_by: None,
            })
            .await?;
        }
    }
    let start = Instant::now();
    let batches = total / 1000;
    let mut tasks = Vec::new();
    for t in 0..4 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            for b in (t..batches).step_by(4) {
                let events: Vec<UsageEvent> = (0..1000)
                    .map(|i| UsageEvent {
                        id: EventId::new(format!("e{b}-{i}")).unwrap(),
                        customer: CustomerId::new(format!("c{}", (b * 7 + i) % customers)).unwrap(),
                        product: ProductId::new("chat").unwrap(),
                        quantity: Decimal::from(1 + i % 5),
                        timestamp: Utc::now() - TimeDelta::seconds((i % 600) as i64),
                        properties: Default::default(),
                    })
                    .collect();
                let t0 = Instant::now();
                s.ingest(events, IngestMode::Live, ActorId::new("i").unwrap()).await.unwrap();
                lat.push(t0.elapsed().as_secs_f64() * 1000.0);
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await?);
    }
    let secs = start.elapsed().as_secs_f64();
    lat.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{} events in {:.2}s = {:.0} events/s; batch p50 {:.1} ms p99 {:.1} ms",
        batches * 1000,
        secs,
        (batches * 1000) as f64 / secs,
        lat[lat.len() / 2],
        lat[(lat.len() * 99 / 100).min(lat.len() - 1)]
    );
    // duplicates
    let start = Instant::now();
    for b in 0..batches.min(100) {
        let events: Vec<UsageEvent> = (0..1000)
            .map(|i| UsageEvent {
                id: EventId::new(format!("e{b}-{i}")).unwrap(),
                customer: CustomerId::new(format!("c{}", (b * 7 + i) % customers)).unwrap(),
                product: ProductId::new("chat").unwrap(),
                quantity: Decimal::from(1 + i % 5),
                timestamp: Utc::now(),
                properties: Default::default(),
            })
            .collect();
        s.ingest(events, IngestMode::Live, ActorId::new("i").unwrap()).await?;
    }
    let n = batches.min(100) * 1000;
    println!("replay (conflicts, timestamps differ): {} events/s", (n as f64 / start.elapsed().as_secs_f64()) as u64);
    Ok(())
}
