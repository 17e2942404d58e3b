//! PostgreSQL-specific guarantees, on the test server (`creditdesk-testkit`):
//! append-only tables enforced by triggers, idempotent replays, and above
//! all several servers on one database: two `PgStore`s (two "servers",
//! each with its own writer threads, caches and connections) ingesting
//! overlapping batches for the same customers, sweeping at once, starting
//! at once, and seeing each other's catalog and customers.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use creditdesk_ledger::catalog::{BurnOrder, Catalog, CreditType, OverageMode, Product, RateCard};
use creditdesk_ledger::clock::ManualClock;
use creditdesk_ledger::engine::{IngestMode, IngestResult, Ledger};
use creditdesk_ledger::entry::Entry;
use creditdesk_ledger::event::UsageEvent;
use creditdesk_ledger::grant::{GrantCategory, GrantSource, NewGrant, RolloverPolicy};
use creditdesk_ledger::ids::{ActorId, CreditTypeId, CustomerId, EventId, GrantId, ProductId, ReasonCode};
use creditdesk_ledger::{Currency, Money};
use creditdesk_store::{
    AdminOp, Customer, Idem, IdempotencyKey, Idempotent, LedgerFilter, PgStore, Render, StoreError, StoreOptions,
};
use rust_decimal::Decimal;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).unwrap()
}

fn credit_type() -> CreditType {
    let usd = Money { amount: Decimal::new(1, 2), currency: Currency::USD };
    CreditType::new(
        CreditTypeId::new("api").unwrap(),
        "API",
        "credits",
        usd,
        BurnOrder::standard(),
        OverageMode::CarryForward,
    )
    .unwrap()
}

fn product(id: &str) -> Product {
    Product {
        id: ProductId::new(id).unwrap(),
        name: id.to_uppercase(),
        credit_type: CreditTypeId::new("api").unwrap(),
        rate_card: RateCard::flat(t0() - TimeDelta::days(365), Decimal::ONE).unwrap(),
    }
}

fn customer(id: &str) -> Customer {
    Customer { id: CustomerId::new(id).unwrap(), name: id.to_uppercase(), external_ref: None, created_at: t0() }
}

fn admin() -> ActorId {
    ActorId::new("admin").unwrap()
}

fn open(url: &str, clock: &Arc<ManualClock>) -> PgStore {
    PgStore::open(url, StoreOptions { clock: clock.clone(), ..StoreOptions::default() }).unwrap()
}

/// A store on a fresh database with credit type `api`, product `chat` and
/// the given customers; also the same catalog for a reference engine.
async fn setup(name: &str, customers: &[String]) -> (String, Arc<ManualClock>, PgStore, Catalog) {
    let url = creditdesk_testkit::test_database_url(name);
    let clock = Arc::new(ManualClock::new(t0()));
    let s = open(&url, &clock);
    s.admin(AdminOp::CreditType(credit_type())).await.unwrap();
    s.admin(AdminOp::Product { product: product("chat"), by: admin() }).await.unwrap();
    for c in customers {
        s.admin(AdminOp::Customer(customer(c))).await.unwrap();
    }
    let mut catalog = Catalog::new();
    catalog.add_credit_type(credit_type()).unwrap();
    catalog.add_product(product("chat")).unwrap();
    (url, clock, s, catalog)
}

fn grant(id: &str, customer: &str, amount: i64, priority: u8) -> NewGrant {
    NewGrant {
        priority: Some(priority),
        ..NewGrant::new(
            GrantId::new(id).unwrap(),
            CustomerId::new(customer).unwrap(),
            CreditTypeId::new("api").unwrap(),
            Decimal::from(amount),
            if priority == 1 { GrantCategory::Promotional } else { GrantCategory::Paid },
            GrantSource::Purchase,
            t0() - TimeDelta::days(1),
            ReasonCode::new("purchase").unwrap(),
            ActorId::new("alice").unwrap(),
        )
    }
}

fn event(id: &str, customer: &str, quantity: i64, seconds_ago: i64) -> UsageEvent {
    UsageEvent {
        id: EventId::new(id).unwrap(),
        customer: CustomerId::new(customer).unwrap(),
        product: ProductId::new("chat").unwrap(),
        quantity: Decimal::from(quantity),
        timestamp: t0() - TimeDelta::seconds(seconds_ago),
        properties: Default::default(),
    }
}

/// Runs SQL on its own connection (off the async runtime: the sync client
/// must not run on a runtime thread).
fn sql(url: &str, query: &str) -> Result<Vec<postgres::Row>, postgres::Error> {
    let (url, query) = (url.to_string(), query.to_string());
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls)?;
        client.query(query.as_str(), &[])
    })
    .join()
    .unwrap()
}

#[tokio::test]
async fn ledger_tables_refuse_update_delete_and_truncate() {
    let (url, _clock, s, _) = setup("store_pg_append_only", &["acme".into()]).await;
    s.grant(grant("g1", "acme", 10, 2)).await.unwrap();
    s.ingest(vec![event("e1", "acme", 1, 0), event("e2", "nobody", 1, 0)], IngestMode::Live, admin()).await.unwrap();
    sql(&url, "INSERT INTO audit_log (at, actor, role, action, outcome) VALUES (0, 'a', 'admin', 'x', 'allowed')")
        .unwrap();
    sql(&url, "INSERT INTO dispute_comments (dispute_id, at, author, body) VALUES ('d', 0, 'a', 'b')").unwrap();
    for stmt in [
        "UPDATE entries SET amount = 0",
        "DELETE FROM entries",
        "TRUNCATE entries",
        "UPDATE grants SET amount = 1",
        "DELETE FROM grants",
        "UPDATE events SET quantity = '0'",
        "DELETE FROM events",
        "TRUNCATE events",
        "UPDATE rejected_events SET code = 'x'",
        "DELETE FROM rejected_events",
        "UPDATE audit_log SET outcome = 'refused'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "UPDATE dispute_comments SET body = 'x'",
        "DELETE FROM dispute_comments",
        "TRUNCATE dispute_comments",
    ] {
        let err = sql(&url, stmt).unwrap_err();
        let shown = format!("{err}: {:?}", err.as_db_error().map(|d| d.message()));
        assert!(shown.contains("append-only"), "{stmt}: {shown}");
    }
    // And the data is intact.
    let n: i64 = sql(&url, "SELECT count(*) FROM entries").unwrap()[0].get(0);
    assert_eq!(n, 2, "a grant entry and a burn");
}

#[tokio::test]
async fn idempotent_writes_replay_across_servers_and_refuse_a_different_body() {
    let (url, clock, a, _) = setup("store_pg_idempotency", &["acme".into()]).await;
    let b = open(&url, &clock);
    let key = |hash: &str| IdempotencyKey { actor: "alice".into(), key: "k-1".into(), request_hash: hash.into() };
    let render = || -> Render<Vec<Entry>> { Box::new(|entries| (201, format!("{} entries", entries.len()))) };
    // The same request on both servers at once: one does it, one replays.
    let (x, y) = tokio::join!(
        a.grant_idempotent(grant("g1", "acme", 10, 2), Some(Idem { key: key("h1"), render: render() })),
        b.grant_idempotent(grant("g1", "acme", 10, 2), Some(Idem { key: key("h1"), render: render() })),
    );
    let outcomes = [x.unwrap(), y.unwrap()];
    assert_eq!(outcomes.iter().filter(|o| matches!(o, Idempotent::Done(_))).count(), 1, "{outcomes:?}");
    assert!(outcomes.contains(&Idempotent::Replayed { status: 201, body: "1 entries".into() }), "{outcomes:?}");
    // Retried later, anywhere: the same response.
    let again = b.grant_idempotent(grant("g1", "acme", 10, 2), Some(Idem { key: key("h1"), render: render() })).await;
    assert_eq!(again.unwrap(), Idempotent::Replayed { status: 201, body: "1 entries".into() });
    let other = a.grant_idempotent(grant("g2", "acme", 99, 2), Some(Idem { key: key("h2"), render: render() })).await;
    assert!(matches!(other, Err(StoreError::IdempotencyConflict { .. })), "{other:?}");
    // A refused request records nothing: the key stays free.
    let refused = a
        .grant_idempotent(
            grant("g3", "nobody", 5, 2),
            Some(Idem { key: IdempotencyKey { key: "k-2".into(), ..key("h3") }, render: render() }),
        )
        .await;
    assert!(refused.as_ref().is_err_and(|e| !e.is_failure()), "{refused:?}");
    let ok = a
        .grant_idempotent(
            grant("g3", "acme", 5, 2),
            Some(Idem { key: IdempotencyKey { key: "k-2".into(), ..key("h3") }, render: render() }),
        )
        .await;
    assert!(matches!(ok, Ok(Idempotent::Done(_))), "{ok:?}");
    let page = a.ledger(CustomerId::new("acme").unwrap(), LedgerFilter::default(), None, 100).await.unwrap();
    assert_eq!(page.items.len(), 2, "g1 written once, and g3");
}

/// A group that waits for a wallet's row lock keeps the queue, and what
/// queues meanwhile joins it rather than becoming a small group of its own
/// (which would pay a whole group's cost), if the group already holds its
/// wallets; a request for another wallet waits for the next group (locking
/// it out of order could deadlock). One group is one `now`: the clock moves
/// while the first request waits, so a later group receives at the new time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_queued_while_a_group_waits_for_its_locks_join_it() {
    let (url, clock, s, _) = setup("store_pg_join_waiting", &["acme".into(), "globex".into()]).await;
    s.ingest(vec![event("e0", "acme", 1, 0)], IngestMode::Live, admin()).await.unwrap();
    // Another session holds acme's wallet row.
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn({
        let url = url.clone();
        move || {
            let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            let mut tx = client.transaction().unwrap();
            tx.query("SELECT 1 FROM wallets WHERE customer_id = 'acme' FOR UPDATE", &[]).unwrap();
            locked_tx.send(()).unwrap();
            release_rx.recv().unwrap();
            tx.commit().unwrap();
        }
    });
    locked_rx.recv().unwrap();
    let first = tokio::spawn({
        let s = s.clone();
        async move { s.ingest(vec![event("e1", "acme", 1, 0)], IngestMode::Live, admin()).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let queued: Vec<_> = [("e2", "acme"), ("e3", "globex")]
        .into_iter()
        .map(|(id, c)| {
            let s = s.clone();
            tokio::spawn(async move { s.ingest(vec![event(id, c, 1, 0)], IngestMode::Live, admin()).await })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    clock.advance(TimeDelta::seconds(1));
    release_tx.send(()).unwrap();
    holder.join().unwrap();
    for r in std::iter::once(first).chain(queued) {
        // A request left behind where no writer looks would hang here.
        let waited = tokio::time::timeout(std::time::Duration::from_secs(30), r).await;
        let results = waited.expect("every request answered").unwrap().unwrap();
        assert!(matches!(results[0], IngestResult::Accepted { .. }), "{results:?}");
    }
    let received = |id: &'static str| {
        let s = s.clone();
        async move { s.event(EventId::new(id).unwrap()).await.unwrap().unwrap().received_at }
    };
    assert_eq!(received("e1").await, t0());
    assert_eq!(received("e2").await, t0(), "acme's second request joined the waiting group");
    assert_eq!(received("e3").await, t0() + TimeDelta::seconds(1), "globex's wallet was not held: the next group");
}

/// The heart of the scale path: two servers, each with two writer
/// threads, four clients sending overlapping batches for the same eight
/// customers. Every id is sent by two clients on different servers at
/// about the same time; most as exact duplicates, some with a different
/// body and customer (a conflict that is a race between different wallets,
/// settled by the primary key and a retry).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_apply_every_event_exactly_once() {
    const CUSTOMERS: usize = 8;
    const TASKS: usize = 4;
    const BATCHES: usize = 30;
    const PER_BATCH: usize = 25;
    let names: Vec<String> = (0..CUSTOMERS).map(|c| format!("c{c}")).collect();
    let (url, clock, a, catalog) = setup("store_pg_two_servers", &names).await;
    let b = open(&url, &clock);
    let mut engine = Ledger::new(catalog, clock.clone());
    for c in 0..CUSTOMERS {
        // Small grants for the first half: they run out into overage.
        let scale = if c < CUSTOMERS / 2 { 1 } else { 100 };
        for (g, (amount, priority)) in [(120, 1), (200, 2), (80, 3)].into_iter().enumerate() {
            let req = grant(&format!("c{c}-g{g}"), &format!("c{c}"), amount * scale, priority);
            engine.grant(req.clone()).unwrap();
            // Grants through either server.
            if g % 2 == 0 {
                a.grant(req).await.unwrap()
            } else {
                b.grant(req).await.unwrap()
            };
        }
    }
    // Id k belongs to task k / (BATCHES * PER_BATCH); task j sends its own
    // ids and, in the same batch, the same slice of task j+1's.
    let ids_per_task = BATCHES * PER_BATCH;
    let body = |k: usize, conflicting: bool| {
        let c = if conflicting { k + 1 } else { k } % CUSTOMERS;
        let q = 1 + (k % 5) as i64 + i64::from(conflicting);
        event(&format!("e{k}"), &format!("c{c}"), q, (k % 240) as i64)
    };
    let mut tasks = Vec::new();
    for j in 0..TASKS {
        let store = if j % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let mut sent: Vec<(UsageEvent, IngestResult)> = Vec::new();
            for batch in 0..BATCHES {
                let own = (0..PER_BATCH).map(|i| j * ids_per_task + batch * PER_BATCH + i);
                let next = (0..PER_BATCH).map(|i| ((j + 1) % TASKS) * ids_per_task + batch * PER_BATCH + i);
                let mut events: Vec<UsageEvent> = own.map(|k| body(k, false)).collect();
                // One id in 7 of the neighbour's comes with another body.
                events.extend(next.map(|k| body(k, k % 7 == 0)));
                let results = store.ingest(events.clone(), IngestMode::Live, admin()).await.unwrap();
                sent.extend(events.into_iter().zip(results));
            }
            sent
        }));
    }
    // Then a race between wallets: server A sends ids for c0..c3 while B
    // sends the same ids, at the same moment, for c4..c7. No wallet lock is
    // shared, so both try to insert each id; the primary key decides, the
    // loser's group is rolled back and retried, and sees a conflict.
    const RACES: usize = 12;
    let half = CUSTOMERS / 2;
    let mut done = Vec::new();
    for t in tasks {
        done.extend(t.await.unwrap());
    }
    let mut racers = Vec::new();
    let start = Arc::new(tokio::sync::Barrier::new(2));
    for (side, store) in [a.clone(), b.clone()].into_iter().enumerate() {
        let start = start.clone();
        racers.push(tokio::spawn(async move {
            let mut sent: Vec<(UsageEvent, IngestResult)> = Vec::new();
            for batch in 0..RACES {
                start.wait().await;
                let events: Vec<UsageEvent> = (0..PER_BATCH)
                    .map(|i| {
                        let k = batch * PER_BATCH + i;
                        event(&format!("r{k}"), &format!("c{}", side * half + k % half), 1 + (k % 3) as i64, 0)
                    })
                    .collect();
                let results = store.ingest(events.clone(), IngestMode::Live, admin()).await.unwrap();
                sent.extend(events.into_iter().zip(results));
            }
            sent
        }));
    }
    let mut accepted: BTreeMap<String, Vec<UsageEvent>> = BTreeMap::new();
    let mut conflicts = 0;
    for t in racers {
        done.extend(t.await.unwrap());
    }
    {
        for (ev, r) in done {
            match r {
                IngestResult::Accepted { .. } => accepted.entry(ev.id.to_string()).or_default().push(ev),
                IngestResult::Duplicate { .. } => {}
                IngestResult::Rejected { reason } => {
                    assert_eq!(reason.code(), "idempotency_conflict", "{}", ev.id);
                    conflicts += 1;
                }
            }
        }
    }
    let total = TASKS * ids_per_task + RACES * PER_BATCH;
    assert_eq!(accepted.len(), total, "every id accepted");
    assert!(accepted.values().all(|v| v.len() == 1), "and exactly once");
    let conflicting = (0..TASKS * ids_per_task).filter(|k| k % 7 == 0).count() + RACES * PER_BATCH;
    assert_eq!(conflicts, conflicting, "the other body of each conflicting id refused");

    // The database agrees: one row per event, entries summing to credits.
    let n: i64 = sql(&url, "SELECT count(*) FROM events").unwrap()[0].get(0);
    assert_eq!(n as usize, total);
    let (credits, used): (i64, i64) = {
        let r = &sql(
            &url,
            "SELECT (SELECT sum(credits) FROM events)::bigint, \
             (SELECT -sum(amount) FROM entries WHERE kind IN ('burn', 'overage'))::bigint",
        )
        .unwrap()[0];
        (r.get(0), r.get(1))
    };
    assert_eq!(credits, used, "usage entries sum to the rated credits");
    // Running totals are the sums of their entries, grant by grant and kind.
    let drift = sql(
        &url,
        "SELECT s.grant_id FROM grant_state s JOIN grants g ON g.id = s.grant_id \
         LEFT JOIN (SELECT grant_id, sum(CASE WHEN kind = 'burn' THEN -amount ELSE 0 END) AS burned, \
                           sum(CASE WHEN kind = 'overage_settled' THEN -amount ELSE 0 END) AS settled \
                    FROM entries WHERE grant_id IS NOT NULL GROUP BY grant_id) e ON e.grant_id = s.grant_id \
         WHERE s.burned <> COALESCE(e.burned, 0) OR s.settled <> COALESCE(e.settled, 0) \
            OR s.burned + s.settled + s.expired + s.rolled + s.voided > g.amount + s.reversed + s.corrected",
    )
    .unwrap();
    assert!(drift.is_empty(), "grants whose totals drifted or went below zero: {:?}", drift.len());

    // Balances equal a reference engine fed the accepted events: with every
    // grant live for every event, how a wallet's usage is split over its
    // grants (burn order) and overage does not depend on arrival order.
    for ev in accepted.into_values().flatten() {
        assert!(matches!(engine.ingest(ev, IngestMode::Live, &admin()), IngestResult::Accepted { .. }));
    }
    for c in &names {
        let (customer, ct) = (CustomerId::new(c).unwrap(), CreditTypeId::new("api").unwrap());
        let want = engine.balance(&customer, &ct, None, None).unwrap();
        for s in [&a, &b] {
            let got = s.balance(customer.clone(), ct.clone(), None, None).await.unwrap();
            assert_eq!(serde_json::to_value(&want).unwrap(), serde_json::to_value(&got).unwrap(), "{c}");
            for g in &got.grants {
                let t = &g.totals;
                assert!(!g.remaining.is_negative(), "{c}: {} below zero", g.grant.id);
                assert_eq!(
                    t.amount + t.reversed + t.corrected,
                    t.burned + t.expired + t.rolled + t.voided + t.settled + g.remaining,
                    "{c}: {} does not conserve",
                    g.grant.id
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweeps_on_two_servers_book_each_expiry_once() {
    let names: Vec<String> = (0..6).map(|c| format!("c{c}")).collect();
    let (url, clock, a, catalog) = setup("store_pg_two_sweepers", &names).await;
    let b = open(&url, &clock);
    let mut engine = Ledger::new(catalog, clock.clone());
    for (i, c) in names.iter().enumerate() {
        for g in 0..3 {
            let mut req = grant(&format!("{c}-g{g}"), c, 100, 2);
            req.expires_at = Some(t0() + TimeDelta::hours(1 + g));
            if g == 0 {
                req.rollover = Some(RolloverPolicy::new(Decimal::new(5, 1), None, TimeDelta::days(30)).unwrap());
            }
            engine.grant(req.clone()).unwrap();
            a.grant(req).await.unwrap();
        }
        let ev = event(&format!("use-{c}"), c, 10 + i as i64, 0);
        engine.ingest(ev.clone(), IngestMode::Live, &admin());
        b.ingest(vec![ev], IngestMode::Live, admin()).await.unwrap();
    }
    clock.advance(TimeDelta::hours(5));
    let want = engine.sweep().len();
    let mut written = 0;
    for _ in 0..3 {
        let (x, y) = tokio::join!(a.sweep(), b.sweep());
        written += x.unwrap() + y.unwrap();
    }
    assert_eq!(written, want, "every expiry and rollover booked once between the two");
    let twice = sql(&url, "SELECT grant_id FROM entries WHERE kind = 'expire' GROUP BY grant_id HAVING count(*) > 1");
    assert!(twice.unwrap().is_empty());
    let expired: i64 = sql(&url, "SELECT count(*) FROM entries WHERE kind = 'expire'").unwrap()[0].get(0);
    assert_eq!(expired, 18);
    for c in &names {
        let (customer, ct) = (CustomerId::new(c).unwrap(), CreditTypeId::new("api").unwrap());
        let want = engine.balance(&customer, &ct, None, None).unwrap();
        let got = b.balance(customer, ct, None, None).await.unwrap();
        assert_eq!(serde_json::to_value(&want).unwrap(), serde_json::to_value(&got).unwrap(), "{c}");
    }
}

#[test]
fn servers_starting_together_migrate_once() {
    let url = creditdesk_testkit::test_database_url("store_pg_migrate_race");
    let clock = Arc::new(ManualClock::new(t0()));
    let opened: Vec<_> = (0..3)
        .map(|_| {
            let (url, clock) = (url.clone(), clock.clone());
            std::thread::spawn(move || PgStore::open(&url, StoreOptions { clock, ..StoreOptions::default() }))
        })
        .collect();
    for t in opened {
        t.join().unwrap().unwrap();
    }
    let rows = sql(&url, "SELECT version FROM schema_migrations").unwrap();
    let versions: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
    let all: Vec<i32> = (1..=creditdesk_store::pg::latest_schema_version() as i32).collect();
    assert_eq!(versions, all, "each migration applied once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_servers_catalog_and_customers_reach_the_other() {
    let (url, clock, a, _) = setup("store_pg_catalog", &["acme".into()]).await;
    let b = open(&url, &clock);
    assert!(b.catalog().product(&ProductId::new("chat").unwrap()).is_ok());
    // Added on A after B started: B's next write and read see them.
    a.admin(AdminOp::Product { product: product("images"), by: admin() }).await.unwrap();
    a.admin(AdminOp::Customer(customer("late"))).await.unwrap();
    let mut ev = event("e1", "late", 3, 0);
    ev.product = ProductId::new("images").unwrap();
    let r = b.ingest(vec![ev], IngestMode::Live, admin()).await.unwrap();
    assert!(matches!(r[0], IngestResult::Accepted { .. }), "{r:?}");
    assert_eq!(b.customer(CustomerId::new("late").unwrap()).await.unwrap().name, "LATE");
    // And B's cached catalog catches up by itself.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while b.catalog().product(&ProductId::new("images").unwrap()).is_err() {
        assert!(std::time::Instant::now() < deadline, "B never saw the new product");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Both refuse what neither has.
    let mut unknown = event("e2", "acme", 1, 0);
    unknown.product = ProductId::new("video").unwrap();
    let r = a.ingest(vec![unknown], IngestMode::Live, admin()).await.unwrap();
    assert!(matches!(&r[0], IngestResult::Rejected { .. }), "{r:?}");
    let per_product: HashMap<String, i64> = sql(&url, "SELECT product_id, count(*) FROM events GROUP BY product_id")
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(per_product, HashMap::from([("images".to_string(), 1)]));
}

/// Compile-time only: the server awaits these in axum handlers, which need
/// `Send` futures, on every backend.
#[allow(dead_code)]
fn store_futures_are_send(pg: &PgStore, lite: &creditdesk_store::SqliteStore, any: &creditdesk_store::Store) {
    fn send<T: Send>(_: T) {}
    let (c, ct) = (CustomerId::new("c").unwrap(), CreditTypeId::new("api").unwrap());
    send(pg.ingest(Vec::new(), IngestMode::Live, admin()));
    send(pg.balance(c.clone(), ct.clone(), None, None));
    send(pg.sweep());
    send(lite.ingest(Vec::new(), IngestMode::Live, admin()));
    send(lite.balance(c.clone(), ct.clone(), None, None));
    send(any.ingest(Vec::new(), IngestMode::Live, admin()));
    send(any.balance(c, ct, None, None));
    send(any.ledger(CustomerId::new("c").unwrap(), LedgerFilter::default(), None, 10));
}
