//! A small fixture over the public engine, shared by the scenario and property
//! suites: a fixed catalog, a ledger on a manual clock the test moves, and
//! builders for grants and usage with the brief's defaults.
//!
//! The catalog (prices are for finance only; rates are credits per unit):
//!
//! | credit type | overage | burn order |
//! |---|---|---|
//! | `api` ("API credits") | `carry_forward` | standard: priority, restricted, expiry, promotional, effective |
//! | `minutes` ("Transcription minutes") | `invoice` | custom: expiry, promotional, priority (restriction and effective time dropped) |
//!
//! | product | credit type | rate card |
//! |---|---|---|
//! | `chat` | `api` | 1 per unit from 2025-01-01; **0.5 per unit from 2026-01-15** (price cut mid-way) |
//! | `images` | `api` | 2 per unit |
//! | `embeddings` | `api` | 0.001 per unit; **customer `bigco` override: 0.0004 per unit** |
//! | `transcription` | `minutes` | 1 per unit (a minute) |
//! | `translation` | `minutes` | 1.5 per unit |

#![allow(dead_code)]

use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use creditdesk_ledger::balance::{Balance, GrantBalance};
use creditdesk_ledger::catalog::{
    BurnOrder, BurnOrderKey, Catalog, CreditType, OverageMode, Product, RateCard, RateVersion,
};
use creditdesk_ledger::clock::ManualClock;
use creditdesk_ledger::engine::{IngestMode, IngestResult, Ledger};
use creditdesk_ledger::entry::{Attribution, Entry};
use creditdesk_ledger::event::{IngestPolicy, UsageEvent};
use creditdesk_ledger::grant::{GrantCategory, GrantSource, NewGrant, RolloverPolicy};
use creditdesk_ledger::ids::{ActorId, CreditTypeId, CustomerId, EventId, GrantId, ProductId, ReasonCode};
use creditdesk_ledger::wallet::Reversal;
use creditdesk_ledger::{Credits, Currency, Money, Result};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

pub const ACME: &str = "acme";
pub const BIGCO: &str = "bigco";

/// `carry_forward`, standard burn order.
pub const API: &str = "api";
/// `invoice`, custom burn order.
pub const MINUTES: &str = "minutes";

pub const CHAT: &str = "chat";
pub const IMAGES: &str = "images";
pub const EMBEDDINGS: &str = "embeddings";
pub const TRANSCRIPTION: &str = "transcription";
pub const TRANSLATION: &str = "translation";

/// Products of each credit type.
pub const API_PRODUCTS: [&str; 3] = [CHAT, IMAGES, EMBEDDINGS];
pub const MINUTES_PRODUCTS: [&str; 2] = [TRANSCRIPTION, TRANSLATION];

/// The instant the `chat` price drops from 1 to 0.5 credits per unit.
pub const CHAT_PRICE_CUT: &str = "2026-01-15";

/// The custom burn order of `minutes`.
pub fn minutes_burn_order() -> BurnOrder {
    BurnOrder::new(vec![BurnOrderKey::ExpiresAt, BurnOrderKey::PromotionalFirst, BurnOrderKey::Priority])
        .expect("valid burn order")
}

// ---------------------------------------------------------------------------
// Parsing helpers: tables spell times and amounts as text, like vendor docs.

/// `"2026-01-31"`, `"2026-01-31 12:00"`, `"2026-01-31 23:59:59"` or
/// `"2026-01-31 23:59:59.999999"`, all UTC.
pub fn ts(s: &str) -> DateTime<Utc> {
    let s = s.trim();
    for fmt in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return t.and_utc();
        }
    }
    match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        Ok(d) => d.and_hms_opt(0, 0, 0).expect("midnight").and_utc(),
        Err(_) => panic!("bad time in test table: {s:?}"),
    }
}

/// An exact decimal from text (`"12.5"`).
pub fn dec(s: &str) -> Decimal {
    Decimal::from_str_exact(s.trim()).unwrap_or_else(|_| panic!("bad decimal in test table: {s:?}"))
}

/// Credits from text (`"12.5"`, `"-3"`).
pub fn cr(s: &str) -> Credits {
    Credits::from_str(s).unwrap_or_else(|_| panic!("bad credit amount in test table: {s:?}"))
}

pub fn customer(s: &str) -> CustomerId {
    CustomerId::new(s).expect("valid customer id")
}
pub fn credit_type(s: &str) -> CreditTypeId {
    CreditTypeId::new(s).expect("valid credit type id")
}
pub fn product(s: &str) -> ProductId {
    ProductId::new(s).expect("valid product id")
}
/// A grant id (client ids, and the ids the ledger derives, `g~rollover`).
pub fn grant_id(s: &str) -> GrantId {
    GrantId::new(s).expect("valid grant id")
}
pub fn event_id(s: &str) -> EventId {
    EventId::new(s).expect("valid event id")
}
pub fn actor(s: &str) -> ActorId {
    ActorId::new(s).expect("valid actor id")
}

// ---------------------------------------------------------------------------
// The catalog.

pub fn catalog() -> Catalog {
    let usd = |s: &str| Money { amount: dec(s), currency: Currency::USD };
    let mut c = Catalog::new();
    c.add_credit_type(
        CreditType::new(
            credit_type(API),
            "API credits",
            "credits",
            usd("0.01"),
            BurnOrder::standard(),
            OverageMode::CarryForward,
        )
        .expect("valid credit type"),
    )
    .expect("new credit type");
    c.add_credit_type(
        CreditType::new(
            credit_type(MINUTES),
            "Transcription minutes",
            "minutes",
            usd("0.10"),
            minutes_burn_order(),
            OverageMode::Invoice,
        )
        .expect("valid credit type"),
    )
    .expect("new credit type");
    let since = ts("2025-01-01");
    let flat = |rate: &str| RateCard::flat(since, dec(rate)).expect("valid rate card");
    let products = [
        (
            CHAT,
            API,
            RateCard::new(vec![
                RateVersion { effective_from: since, credits_per_unit: dec("1") },
                RateVersion { effective_from: ts(CHAT_PRICE_CUT), credits_per_unit: dec("0.5") },
            ])
            .expect("valid rate card"),
        ),
        (IMAGES, API, flat("2")),
        (EMBEDDINGS, API, flat("0.001")),
        (TRANSCRIPTION, MINUTES, flat("1")),
        (TRANSLATION, MINUTES, flat("1.5")),
    ];
    for (id, ct, rate_card) in products {
        c.add_product(Product { id: product(id), name: id.to_string(), credit_type: credit_type(ct), rate_card })
            .expect("new product");
    }
    c.set_override(customer(BIGCO), &product(EMBEDDINGS), flat("0.0004")).expect("known product");
    c
}

// ---------------------------------------------------------------------------
// Grants.

/// A grant request with the brief's defaults: customer `acme`, credit type
/// `api`, paid purchase, priority 50 (unset), effective now, no expiry, no
/// restriction, no rollover.
#[derive(Clone, Debug)]
pub struct GrantSpec {
    pub id: String,
    pub customer: String,
    pub credit_type: String,
    pub amount: Decimal,
    pub category: GrantCategory,
    pub source: GrantSource,
    pub priority: Option<u8>,
    /// `None`: the clock's now when booked.
    pub effective_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub products: Option<Vec<String>>,
    pub rollover: Option<RolloverPolicy>,
    pub contract_id: Option<String>,
    pub cost_basis: Option<Money>,
    pub reason_code: String,
    pub ticket_ref: Option<String>,
    pub note: Option<String>,
    pub created_by: String,
    pub approved_by: Option<String>,
}

pub fn grant(id: &str, amount: &str) -> GrantSpec {
    GrantSpec {
        id: id.to_string(),
        customer: ACME.to_string(),
        credit_type: API.to_string(),
        amount: dec(amount),
        category: GrantCategory::Paid,
        source: GrantSource::Purchase,
        priority: None,
        effective_at: None,
        expires_at: None,
        products: None,
        rollover: None,
        contract_id: None,
        cost_basis: None,
        reason_code: "purchase".to_string(),
        ticket_ref: None,
        note: None,
        created_by: "user:ops".to_string(),
        approved_by: None,
    }
}

impl GrantSpec {
    pub fn customer(mut self, c: &str) -> Self {
        self.customer = c.to_string();
        self
    }
    pub fn credit_type(mut self, ct: &str) -> Self {
        self.credit_type = ct.to_string();
        self
    }
    pub fn promotional(mut self) -> Self {
        self.category = GrantCategory::Promotional;
        self.source = GrantSource::Promotion;
        self
    }
    pub fn category(mut self, c: GrantCategory) -> Self {
        self.category = c;
        self
    }
    pub fn source(mut self, s: GrantSource) -> Self {
        self.source = s;
        self
    }
    pub fn priority(mut self, p: u8) -> Self {
        self.priority = Some(p);
        self
    }
    pub fn effective(mut self, t: DateTime<Utc>) -> Self {
        self.effective_at = Some(t);
        self
    }
    pub fn expires(mut self, t: DateTime<Utc>) -> Self {
        self.expires_at = Some(t);
        self
    }
    pub fn products(mut self, ps: &[&str]) -> Self {
        self.products = Some(ps.iter().map(|p| p.to_string()).collect());
        self
    }
    /// Rollover of `fraction` of the remainder, capped at `max`, living
    /// `expires_after` from the old expiry.
    pub fn rollover(mut self, fraction: &str, max: Option<&str>, expires_after: TimeDelta) -> Self {
        self.rollover =
            Some(RolloverPolicy::new(dec(fraction), max.map(dec), expires_after).expect("valid rollover policy"));
        self
    }
    pub fn contract(mut self, c: &str) -> Self {
        self.contract_id = Some(c.to_string());
        self
    }
    pub fn cost_basis(mut self, usd: &str) -> Self {
        self.cost_basis = Some(Money { amount: dec(usd), currency: Currency::USD });
        self
    }
    /// Who asked, who approved, and why (reason code, ticket, note).
    pub fn by(mut self, created_by: &str, approved_by: Option<&str>) -> Self {
        self.created_by = created_by.to_string();
        self.approved_by = approved_by.map(str::to_string);
        self
    }
    pub fn because(mut self, reason_code: &str, ticket_ref: Option<&str>, note: Option<&str>) -> Self {
        self.reason_code = reason_code.to_string();
        self.ticket_ref = ticket_ref.map(str::to_string);
        self.note = note.map(str::to_string);
        self
    }

    pub fn to_new_grant(&self, now: DateTime<Utc>) -> NewGrant {
        NewGrant {
            priority: self.priority,
            expires_at: self.expires_at,
            products: self.products.as_ref().map(|ps| ps.iter().map(|p| product(p)).collect()),
            contract_id: self
                .contract_id
                .as_ref()
                .map(|c| creditdesk_ledger::ids::ContractId::new(c).expect("valid contract id")),
            cost_basis: self.cost_basis,
            rollover: self.rollover,
            ticket_ref: self.ticket_ref.clone(),
            note: self.note.clone(),
            approved_by: self.approved_by.as_deref().map(actor),
            ..NewGrant::new(
                GrantId::new(&self.id).expect("valid grant id"),
                customer(&self.customer),
                credit_type(&self.credit_type),
                self.amount,
                self.category,
                self.source,
                self.effective_at.unwrap_or(now),
                ReasonCode::new(&self.reason_code).expect("valid reason code"),
                actor(&self.created_by),
            )
        }
    }
}

// ---------------------------------------------------------------------------
// Usage.

/// A usage event: customer `acme`, at the clock's now unless `at` is given.
#[derive(Clone, Debug)]
pub struct UsageSpec {
    pub id: String,
    pub customer: String,
    pub product: String,
    pub quantity: Decimal,
    pub at: Option<DateTime<Utc>>,
    pub properties: Map<String, Value>,
}

pub fn usage(id: &str, product: &str, quantity: &str) -> UsageSpec {
    UsageSpec {
        id: id.to_string(),
        customer: ACME.to_string(),
        product: product.to_string(),
        quantity: dec(quantity),
        at: None,
        properties: Map::new(),
    }
}

impl UsageSpec {
    pub fn customer(mut self, c: &str) -> Self {
        self.customer = c.to_string();
        self
    }
    pub fn at(mut self, t: DateTime<Utc>) -> Self {
        self.at = Some(t);
        self
    }
    pub fn property(mut self, key: &str, value: Value) -> Self {
        self.properties.insert(key.to_string(), value);
        self
    }
    pub fn to_event(&self, now: DateTime<Utc>) -> UsageEvent {
        UsageEvent {
            id: event_id(&self.id),
            customer: customer(&self.customer),
            product: product(&self.product),
            quantity: self.quantity,
            timestamp: self.at.unwrap_or(now),
            properties: self.properties.clone(),
        }
    }
}

// ---------------------------------------------------------------------------
// The fixture.

/// A ledger over [`catalog`] with a manual clock shared with the test.
pub struct Fx {
    pub clock: Arc<ManualClock>,
    pub ledger: Ledger,
}

impl Fx {
    pub fn new(start: DateTime<Utc>) -> Fx {
        Fx::with_policy(start, IngestPolicy::default())
    }

    pub fn with_policy(start: DateTime<Utc>, policy: IngestPolicy) -> Fx {
        let clock = Arc::new(ManualClock::new(start));
        let ledger = Ledger::new(catalog(), clock.clone()).with_policy(policy);
        Fx { clock, ledger }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.ledger.now()
    }

    pub fn set_now(&self, t: DateTime<Utc>) {
        self.clock.set(t);
    }

    pub fn advance(&self, by: TimeDelta) {
        self.clock.advance(by);
    }

    pub fn grant(&mut self, spec: &GrantSpec) -> Result<Vec<Entry>> {
        let req = spec.to_new_grant(self.now());
        self.ledger.grant(req)
    }

    /// Live ingest: the late window applies.
    pub fn ingest(&mut self, spec: &UsageSpec) -> IngestResult {
        let ev = spec.to_event(self.now());
        self.ledger.ingest(ev, IngestMode::Live, &actor("svc:metering"))
    }

    /// Admin backfill: the late window does not apply.
    pub fn backfill(&mut self, spec: &UsageSpec) -> IngestResult {
        let ev = spec.to_event(self.now());
        self.ledger.ingest(ev, IngestMode::Backfill, &actor("user:admin"))
    }

    pub fn void(&mut self, grant: &GrantId) -> Result<Credits> {
        self.ledger.void(grant, support("grant_voided"))
    }

    pub fn reverse(&mut self, event: &str) -> Result<Reversal> {
        self.ledger.reverse(&event_id(event), support("dispute_won"))
    }

    pub fn sweep(&mut self) -> Vec<Entry> {
        self.ledger.sweep()
    }

    /// Balance now, as known now.
    pub fn balance(&self, cust: &str, ct: &str) -> Balance {
        self.ledger.balance(&customer(cust), &credit_type(ct), None, None).expect("balance")
    }

    /// Balance at `at` as known at `as_of` (both default to now).
    pub fn balance_at(&self, cust: &str, ct: &str, at: Option<DateTime<Utc>>, as_of: Option<DateTime<Utc>>) -> Balance {
        self.ledger.balance(&customer(cust), &credit_type(ct), at, as_of).expect("balance")
    }

    /// A grant's id by its display form (derived ids such as `g~rollover`
    /// included), searching every wallet.
    pub fn find_grant(&self, name: &str) -> Option<GrantId> {
        self.ledger
            .wallets()
            .flat_map(|w| w.grants().iter())
            .find(|g| g.grant.id.as_str() == name)
            .map(|g| g.grant.id.clone())
    }

    /// A grant's line of a balance, by display name.
    pub fn grant_line<'b>(balance: &'b Balance, name: &str) -> Option<&'b GrantBalance> {
        balance.grants.iter().find(|g| g.grant.id.as_str() == name)
    }

    /// Entries on a grant (by display name), in recorded order.
    pub fn entries_of_grant(&self, name: &str) -> Vec<&Entry> {
        self.ledger.entries().iter().filter(|e| e.grant.as_ref().is_some_and(|g| g.as_str() == name)).collect()
    }
}

pub fn support(reason: &str) -> Attribution {
    Attribution {
        actor: actor("user:support"),
        reason_code: Some(ReasonCode::new(reason).expect("valid reason code")),
        ticket_ref: Some(Arc::from("TCK-1")),
        note: None,
    }
}
