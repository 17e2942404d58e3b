//! The demo seed: deterministic per seed, idempotent per database, and
//! varied enough that every console view has something to show.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use creditdesk_ledger::balance::{Balance, GrantStatus};
use creditdesk_ledger::clock::ManualClock;
use creditdesk_ledger::entry::EntryKind;
use creditdesk_ledger::grant::{GrantCategory, GrantSource};
use creditdesk_ledger::ids::{CreditTypeId, CustomerId, ProductId};
use creditdesk_server::auth::hash_token;
use creditdesk_server::seed::{demo_seed, SeedError, SeedOptions, SeedOutcome, SeedReport};
use creditdesk_store::{AdminOp, Customer, LedgerFilter, SqliteStore, StoreOptions};

/// A fixed "now", so two seeds simulate the same calendar.
fn end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 17, 15, 30, 0).unwrap()
}

fn options() -> StoreOptions {
    StoreOptions { clock: Arc::new(ManualClock::new(end())), ..StoreOptions::default() }
}

const SMALL: SeedOptions = SeedOptions { customers: 12, days: 60, seed: 7 };

async fn seed(path: &Path) -> SeedReport {
    demo_seed(path, options(), SMALL, |_| {}).await.expect("demo seed")
}

fn open(path: &Path) -> SqliteStore {
    SqliteStore::open(path, options()).expect("open store")
}

async fn customers(store: &SqliteStore) -> Vec<CustomerId> {
    store.customers(None, None, 1_000).await.unwrap().items.into_iter().map(|c| c.id).collect()
}

/// Every customer's balance in every credit type, at the end instant.
async fn balances(path: &Path) -> Vec<Balance> {
    let store = open(path);
    let mut out = Vec::new();
    for c in customers(&store).await {
        for ct in ["batch", "custom", "realtime"] {
            out.push(store.balance(c.clone(), CreditTypeId::new(ct).unwrap(), None, None).await.unwrap());
        }
    }
    out
}

async fn has_entry(store: &SqliteStore, kind: EntryKind) -> bool {
    for c in customers(store).await {
        let filter = LedgerFilter { kind: Some(kind), ..LedgerFilter::default() };
        if !store.ledger(c, filter, None, 1).await.unwrap().items.is_empty() {
            return true;
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_seed_is_deterministic_idempotent_and_varied() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.db"), dir.path().join("b.db"));

    let first = seed(&a).await;
    assert_eq!(first.outcome, SeedOutcome::Seeded);
    assert_eq!(first.customers, 12);
    assert_eq!(first.rejected, 0, "every generated event is accepted");
    // ~1,000,000 x (12 / 200) x (60 / 365), give or take randomness.
    assert!((6_000..14_000).contains(&first.events), "events: {}", first.events);
    assert!(first.entries > first.events && first.grants > 24, "{first}");
    let (from, to) = first.period.unwrap();
    assert_eq!(to, end());
    assert_eq!(from, Utc.with_ymd_and_hms(2026, 1, 17, 0, 0, 0).unwrap());
    let token = first.admin_token().expect("admin token").to_string();
    assert_eq!(first.users.len(), 6);
    assert!(first.users.iter().all(|u| u.token.is_some()));
    assert!(first.to_string().contains(&token), "the report shows the tokens once");

    // Deterministic: a second database from the same seed holds the same ledger.
    let second = seed(&b).await;
    assert_eq!((second.events, second.grants, second.entries), (first.events, first.grants, first.entries));
    let balances_a = balances(&a).await;
    assert_eq!(balances_a, balances(&b).await);

    // Idempotent: seeding the same database again writes nothing.
    let again = seed(&a).await;
    assert_eq!(again.outcome, SeedOutcome::AlreadySeeded);
    assert_eq!(
        (again.customers, again.events, again.grants, again.entries),
        (12, first.events, first.grants, first.entries)
    );
    assert!(again.users.iter().all(|u| u.token.is_none()) && again.users.len() == 6);
    assert_eq!(balances(&a).await, balances_a);

    let store = open(&a);
    let admin = store.user_by_token_hash(hash_token(&token)).await.unwrap().expect("token signs in");
    assert_eq!((admin.name.as_str(), admin.role.as_str()), ("demo-admin", "admin"));

    // Variety: what the console's views need.
    assert!(balances_a.iter().any(|b| b.overage.is_positive()), "someone ends in overage");
    let soon = end() + TimeDelta::days(30);
    assert!(
        balances_a.iter().any(|b| b.expiring.iter().any(|e| e.expires_at <= soon && e.amount.is_positive())),
        "someone has credits expiring in the next 30 days"
    );
    let grants: Vec<_> = balances_a.iter().flat_map(|b| &b.grants).collect();
    for source in [GrantSource::Plan, GrantSource::Rollover, GrantSource::Purchase, GrantSource::Promotion] {
        assert!(grants.iter().any(|g| g.grant.source == source), "a {source:?} grant");
    }
    assert!(grants.iter().any(|g| g.grant.category == GrantCategory::Promotional && g.grant.products.is_some()));
    assert!(grants.iter().any(|g| g.grant.source == GrantSource::Goodwill && g.grant.ticket_ref.is_some()));
    assert!(grants.iter().any(|g| g.status == GrantStatus::Voided), "a voided grant");
    for kind in [EntryKind::Void, EntryKind::Reversal, EntryKind::RolloverOut, EntryKind::Expire, EntryKind::Overage] {
        assert!(has_entry(&store, kind).await, "a {kind:?} entry");
    }
    // An enterprise override rate was used to rate some usage.
    let mut override_used = false;
    'customers: for c in customers(&store).await {
        let filter = LedgerFilter {
            kind: Some(EntryKind::Burn),
            product: Some(ProductId::new("batch-en").unwrap()),
            ..LedgerFilter::default()
        };
        for e in store.ledger(c, filter, None, 5).await.unwrap().items {
            let event = store.event(e.event.clone().unwrap()).await.unwrap().unwrap();
            if event.rating.from_override {
                override_used = true;
                break 'customers;
            }
        }
    }
    assert!(override_used, "an override rate was used");
}

#[tokio::test]
async fn a_database_with_other_data_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("real.db");
    {
        let store = open(&path);
        let customer = Customer {
            id: CustomerId::new("acme").unwrap(),
            name: "Acme".into(),
            external_ref: None,
            created_at: end(),
        };
        store.admin(AdminOp::Customer(customer)).await.unwrap();
    }
    let err = demo_seed(&path, options(), SMALL, |_| {}).await.unwrap_err();
    assert!(matches!(err, SeedError::NotEmpty(_)), "{err}");
}

#[tokio::test]
async fn tiny_datasets_seed_cleanly() {
    for (customers, days) in [(1, 1), (3, 5), (5, 40)] {
        let dir = tempfile::tempdir().unwrap();
        let opts = SeedOptions { customers, days, seed: 1 };
        let report = demo_seed(&dir.path().join("tiny.db"), options(), opts, |_| {}).await.unwrap();
        assert_eq!((report.outcome, report.customers, report.rejected), (SeedOutcome::Seeded, customers.into(), 0));
    }
    // The future is `Send`: the desktop app seeds on a spawned task.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spawned.db");
    let opts = SeedOptions { customers: 2, days: 3, seed: 1 };
    let spawned = tokio::spawn(async move { demo_seed(&path, options(), opts, |_| {}).await });
    assert_eq!(spawned.await.unwrap().unwrap().outcome, SeedOutcome::Seeded);

    let bad = SeedOptions { customers: 0, days: 10, seed: 1 };
    let err = demo_seed(&dir.path().join("bad.db"), options(), bad, |_| {}).await.unwrap_err();
    assert!(matches!(err, SeedError::Options(_)), "{err}");
}

/// The full dataset, for timing: `cargo test --release -p creditdesk-server
/// --test seed -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "seeds the full 200 x 365 dataset (release build: well under a minute)"]
async fn full_demo_seed() {
    let dir = tempfile::tempdir().unwrap();
    let report =
        demo_seed(&dir.path().join("full.db"), StoreOptions::default(), SeedOptions::default(), |p| eprintln!("{p}"))
            .await
            .unwrap();
    println!("{report}");
    assert_eq!(report.rejected, 0);
}
