//! The facts the API shows beside balances, on both backends through the
//! same [`Store`] methods: a grant found by id with its wallet and times,
//! every grant's recorded and void times, when catalog items were created,
//! who last changed each rate override, and the reconciliation's usage per
//! 15-minute slot (rated credits against the burns and overage booked).

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use creditdesk_ledger::catalog::{BurnOrder, CreditType, OverageMode, Product, RateCard, RateVersion};
use creditdesk_ledger::clock::ManualClock;
use creditdesk_ledger::engine::{IngestMode, IngestResult};
use creditdesk_ledger::entry::Attribution;
use creditdesk_ledger::event::UsageEvent;
use creditdesk_ledger::grant::{GrantCategory, GrantSource, NewGrant};
use creditdesk_ledger::ids::{ActorId, CreditTypeId, CustomerId, EventId, GrantId, ProductId, ReasonCode};
use creditdesk_ledger::{Credits, Currency, Money};
use creditdesk_store::{AdminOp, Customer, PgStore, SqliteStore, Store, StoreOptions};
use rust_decimal::Decimal;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).unwrap()
}

fn actor(a: &str) -> ActorId {
    ActorId::new(a).unwrap()
}

fn cr(n: i64) -> Credits {
    Credits::parse_decimal(Decimal::from(n), "n").unwrap()
}

fn grant(id: &str, customer: &str, amount: i64) -> NewGrant {
    NewGrant::new(
        GrantId::new(id).unwrap(),
        CustomerId::new(customer).unwrap(),
        CreditTypeId::new("api").unwrap(),
        Decimal::from(amount),
        GrantCategory::Paid,
        GrantSource::Purchase,
        t0() - TimeDelta::days(1),
        ReasonCode::new("purchase").unwrap(),
        actor("alice"),
    )
}

fn event(id: &str, customer: &str, quantity: i64, at: DateTime<Utc>) -> UsageEvent {
    UsageEvent {
        id: EventId::new(id).unwrap(),
        customer: CustomerId::new(customer).unwrap(),
        product: ProductId::new("chat").unwrap(),
        quantity: Decimal::from(quantity),
        timestamp: at,
        properties: Default::default(),
    }
}

fn override_at(customer: &str, from: DateTime<Utc>, rate: i64, by: &str) -> AdminOp {
    AdminOp::RateVersion {
        product: ProductId::new("chat").unwrap(),
        customer: Some(CustomerId::new(customer).unwrap()),
        version: RateVersion { effective_from: from, credits_per_unit: Decimal::from(rate) },
        by: actor(by),
    }
}

async fn scenario(store: Store, clock: Arc<ManualClock>) {
    let s = &store;
    // The catalog at t0; a second product an hour later.
    let usd = Money { amount: Decimal::new(1, 2), currency: Currency::USD };
    let ct = CreditType::new(
        CreditTypeId::new("api").unwrap(),
        "API",
        "credits",
        usd,
        BurnOrder::standard(),
        OverageMode::CarryForward,
    )
    .unwrap();
    s.admin(AdminOp::CreditType(ct)).await.unwrap();
    for (i, id) in ["chat", "vision"].into_iter().enumerate() {
        clock.set(t0() + TimeDelta::hours(i as i64));
        let product = Product {
            id: ProductId::new(id).unwrap(),
            name: id.into(),
            credit_type: CreditTypeId::new("api").unwrap(),
            rate_card: RateCard::flat(t0() - TimeDelta::days(365), Decimal::ONE).unwrap(),
        };
        s.admin(AdminOp::Product { product, by: actor("admin") }).await.unwrap();
    }
    for c in ["c1", "c2", "c3"] {
        let customer =
            Customer { id: CustomerId::new(c).unwrap(), name: c.into(), external_ref: None, created_at: t0() };
        s.admin(AdminOp::Customer(customer)).await.unwrap();
    }
    let times = s.catalog_times().await.unwrap();
    assert_eq!(times.credit_types[&CreditTypeId::new("api").unwrap()], t0());
    assert_eq!(times.products[&ProductId::new("chat").unwrap()], t0());
    assert_eq!(times.products[&ProductId::new("vision").unwrap()], t0() + TimeDelta::hours(1));
    assert_eq!(times.products.len(), 2);

    // Overrides: c1 by bob (two versions in one go), then c1 again by carol; c2 by bob.
    let t_bob = t0() + TimeDelta::hours(2);
    clock.set(t_bob);
    s.admin(override_at("c1", t0() - TimeDelta::days(30), 3, "bob")).await.unwrap();
    s.admin(override_at("c1", t0() - TimeDelta::days(10), 2, "bob")).await.unwrap();
    s.admin(override_at("c2", t0() - TimeDelta::days(30), 4, "bob")).await.unwrap();
    assert!(s.overrides(None, None).await.unwrap().iter().all(|o| o.updated_by == actor("bob")));
    let t_carol = t0() + TimeDelta::hours(3);
    clock.set(t_carol);
    s.admin(override_at("c1", t0() - TimeDelta::days(20), 5, "carol")).await.unwrap();
    let all = s.overrides(None, None).await.unwrap();
    let seen: Vec<(&str, &str, DateTime<Utc>, &str)> =
        all.iter().map(|o| (o.customer.as_str(), o.product.as_str(), o.updated_at, o.updated_by.as_str())).collect();
    assert_eq!(seen, [("c1", "chat", t_carol, "carol"), ("c2", "chat", t_bob, "bob")]);
    let only_c2 = s.overrides(Some(CustomerId::new("c2").unwrap()), None).await.unwrap();
    assert_eq!(only_c2.len(), 1);
    assert_eq!(only_c2[0].customer.as_str(), "c2");
    assert!(s.overrides(None, Some(ProductId::new("vision").unwrap())).await.unwrap().is_empty());
    assert!(s.overrides(Some(CustomerId::new("c3").unwrap()), None).await.unwrap().is_empty());

    // Grants: c3 has two; one is voided later.
    let t_grant = t0() + TimeDelta::hours(4);
    clock.set(t_grant);
    s.grant(grant("g1", "c3", 100)).await.unwrap();
    s.grant(grant("g2", "c3", 50)).await.unwrap();
    let t_void = t0() + TimeDelta::hours(5);
    clock.set(t_void);
    let by = Attribution { reason_code: Some(ReasonCode::new("fraud").unwrap()), ..Attribution::actor(actor("alice")) };
    assert_eq!(s.void(GrantId::new("g2").unwrap(), by).await.unwrap(), cr(50));

    let (g1, m1) = s.find_grant(GrantId::new("g1").unwrap()).await.unwrap().unwrap();
    assert_eq!((g1.customer.as_str(), g1.credit_type.as_str(), g1.amount), ("c3", "api", cr(100)));
    assert_eq!((m1.recorded_at, m1.voided_at), (t_grant, None));
    let (_, m2) = s.find_grant(GrantId::new("g2").unwrap()).await.unwrap().unwrap();
    assert_eq!((m2.recorded_at, m2.voided_at), (t_grant, Some(t_void)));
    assert!(s.find_grant(GrantId::new("nope").unwrap()).await.unwrap().is_none());
    let metas = s.grant_metas(CustomerId::new("c3").unwrap()).await.unwrap();
    assert_eq!(metas.len(), 2);
    assert_eq!(metas[&GrantId::new("g2").unwrap()], m2);
    assert!(s.grant_metas(CustomerId::new("c1").unwrap()).await.unwrap().is_empty());

    // Usage: c3 burns its grant (rate 1); c1 (overridden)
    // has no grant, so everything is overage; its card on the day is the
    // version from day -10 (rate 2). Two slots of 15 minutes.
    let now = t0() + TimeDelta::hours(6);
    clock.set(now);
    let slot_a = Utc.with_ymd_and_hms(2026, 5, 1, 5, 0, 0).unwrap();
    let slot_b = slot_a + TimeDelta::minutes(15);
    let batch = vec![
        event("e1", "c3", 30, slot_a + TimeDelta::minutes(1)),
        event("e2", "c3", 90, slot_a + TimeDelta::minutes(14)),
        event("e3", "c1", 2, slot_b),
        event("e4", "c3", 1, now - TimeDelta::hours(1) - TimeDelta::minutes(30)),
    ];
    let results = s.ingest(batch, IngestMode::Live, actor("ingest")).await.unwrap();
    assert!(results.iter().all(|r| matches!(r, IngestResult::Accepted { .. })), "{results:?}");

    let from = slot_a - TimeDelta::minutes(15);
    let to = slot_b + TimeDelta::minutes(15);
    let rows = s.reconciliation(from, to, None, None).await.unwrap();
    let got: Vec<(DateTime<Utc>, u64, Credits, Credits, Credits)> =
        rows.iter().map(|u| (u.start, u.events, u.rated, u.burned, u.overage)).collect();
    // Slot a: 120 rated, 100 from g1 (g2 is voided), 20 overage; slot b: c1's 4 as overage.
    assert_eq!(got, [(slot_a, 2, cr(120), cr(100), cr(20)), (slot_b, 1, cr(4), cr(0), cr(4))]);
    assert!(rows.iter().all(|u| u.credit_type.as_str() == "api"));
    let c1 = s.reconciliation(from, to, Some(CustomerId::new("c1").unwrap()), None).await.unwrap();
    assert_eq!(c1.len(), 1);
    assert_eq!((c1[0].start, c1[0].events, c1[0].overage), (slot_b, 1, cr(4)));
    // The window is half-open, by event time.
    assert!(s.reconciliation(from, slot_a, None, None).await.unwrap().is_empty());
    let other = CreditTypeId::new("other").unwrap();
    assert!(s.reconciliation(from, to, None, Some(other)).await.unwrap().is_empty());

    // Times finer than the microsecond the store keeps: sent again, the
    // event is a duplicate, not a conflict.
    let fine = event("e5", "c3", 1, now - TimeDelta::minutes(5) + TimeDelta::nanoseconds(1_500));
    let first = s.ingest(vec![fine.clone()], IngestMode::Live, actor("ingest")).await.unwrap();
    assert!(matches!(first[0], IngestResult::Accepted { .. }), "{first:?}");
    let again = s.ingest(vec![fine], IngestMode::Live, actor("ingest")).await.unwrap();
    assert!(matches!(again[0], IngestResult::Duplicate { .. }), "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(t0()));
    let options = StoreOptions { clock: clock.clone(), ..StoreOptions::default() };
    let store = SqliteStore::open(dir.path().join("views.db"), options).unwrap();
    scenario(store.into(), clock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_on_postgres() {
    let url = tokio::task::spawn_blocking(|| creditdesk_testkit::test_database_url("store_views")).await.unwrap();
    let clock = Arc::new(ManualClock::new(t0()));
    let options = StoreOptions { clock: clock.clone(), ..StoreOptions::default() };
    let store = tokio::task::spawn_blocking(move || PgStore::open(&url, options).unwrap()).await.unwrap();
    scenario(store.into(), clock).await;
}
