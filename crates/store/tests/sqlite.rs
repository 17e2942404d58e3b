//! SQLite-specific guarantees: append-only tables enforced by the database,
//! idempotent replays recorded atomically with their write, concurrent
//! writers grouped into commits without losing or doubling anything, and
//! state that survives reopening.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use creditdesk_ledger::catalog::{BurnOrder, CreditType, OverageMode, Product, RateCard};
use creditdesk_ledger::clock::ManualClock;
use creditdesk_ledger::engine::{IngestMode, IngestResult};
use creditdesk_ledger::event::UsageEvent;
use creditdesk_ledger::grant::{GrantCategory, GrantSource, NewGrant};
use creditdesk_ledger::ids::{ActorId, CreditTypeId, CustomerId, EventId, GrantId, ProductId, ReasonCode};
use creditdesk_ledger::series::Bucket;
use creditdesk_ledger::{Currency, Money};
use creditdesk_store::{
    AdminOp, Customer, Idem, IdempotencyKey, Idempotent, LedgerFilter, Render, SqliteStore, StoreError, StoreOptions,
};
use rust_decimal::Decimal;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).unwrap()
}

async fn store(dir: &tempfile::TempDir) -> SqliteStore {
    store_on(dir, Arc::new(ManualClock::new(t0()))).await
}

async fn store_on(dir: &tempfile::TempDir, clock: Arc<ManualClock>) -> SqliteStore {
    let options = StoreOptions { clock, ..StoreOptions::default() };
    let s = SqliteStore::open(dir.path().join("t.db"), options).unwrap();
    if s.catalog().credit_types().next().is_none() {
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
        let product = Product {
            id: ProductId::new("chat").unwrap(),
            name: "Chat".into(),
            credit_type: CreditTypeId::new("api").unwrap(),
            rate_card: RateCard::flat(t0() - TimeDelta::days(365), Decimal::ONE).unwrap(),
        };
        s.admin(AdminOp::Product { product, by: ActorId::new("admin").unwrap() }).await.unwrap();
        let c = Customer {
            id: CustomerId::new("acme").unwrap(),
            name: "Acme".into(),
            external_ref: None,
            created_at: t0(),
        };
        s.admin(AdminOp::Customer(c)).await.unwrap();
    }
    s
}

/// A customer beside `acme`, with a grant of `amount` credits.
async fn other_customer(s: &SqliteStore, id: &str, amount: i64) -> CustomerId {
    let customer = CustomerId::new(id).unwrap();
    let c = Customer { id: customer.clone(), name: id.into(), external_ref: None, created_at: t0() };
    s.admin(AdminOp::Customer(c)).await.unwrap();
    let mut g = grant(&format!("g-{id}"), amount);
    g.customer = customer.clone();
    s.grant(g).await.unwrap();
    customer
}

fn grant(id: &str, amount: i64) -> NewGrant {
    NewGrant::new(
        GrantId::new(id).unwrap(),
        CustomerId::new("acme").unwrap(),
        CreditTypeId::new("api").unwrap(),
        Decimal::from(amount),
        GrantCategory::Paid,
        GrantSource::Purchase,
        t0(),
        ReasonCode::new("purchase").unwrap(),
        ActorId::new("alice").unwrap(),
    )
}

fn event(id: String, quantity: i64) -> UsageEvent {
    UsageEvent {
        id: EventId::new(id).unwrap(),
        customer: CustomerId::new("acme").unwrap(),
        product: ProductId::new("chat").unwrap(),
        quantity: Decimal::from(quantity),
        timestamp: t0(),
        properties: Default::default(),
    }
}

#[tokio::test]
async fn ledger_tables_refuse_update_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir).await;
    s.grant(grant("g1", 10)).await.unwrap();
    s.ingest(vec![event("e1".into(), 1)], IngestMode::Live, ActorId::new("i").unwrap()).await.unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("t.db")).unwrap();
    // Row triggers need a row: the audit log has none yet.
    conn.execute(
        "INSERT INTO audit_log (at, actor, role, action, outcome) VALUES (0, 'a', 'admin', 'x', 'allowed')",
        [],
    )
    .unwrap();
    conn.execute("INSERT INTO dispute_comments (dispute_id, at, author, body) VALUES ('d', 0, 'a', 'b')", []).unwrap();
    for sql in [
        "UPDATE entries SET amount = 0",
        "DELETE FROM entries",
        "UPDATE grants SET amount = 1",
        "DELETE FROM grants",
        "UPDATE events SET quantity = '0'",
        "DELETE FROM events",
        "UPDATE audit_log SET outcome = 'refused'",
        "DELETE FROM audit_log",
        "UPDATE dispute_comments SET body = 'x'",
        "DELETE FROM dispute_comments",
    ] {
        let err = conn.execute(sql, []).unwrap_err().to_string();
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
}

#[tokio::test]
async fn idempotent_writes_replay_the_recorded_response_and_refuse_a_different_body() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir).await;
    let key = |hash: &str| IdempotencyKey { actor: "alice".into(), key: "k-1".into(), request_hash: hash.into() };
    let render = || -> Render<Vec<creditdesk_ledger::entry::Entry>> {
        Box::new(|entries| (201, format!("{} entries", entries.len())))
    };
    let first = s.grant_idempotent(grant("g1", 10), Some(Idem { key: key("h1"), render: render() })).await.unwrap();
    assert!(matches!(first, Idempotent::Done(ref e) if e.len() == 1));
    // Retried: the same response, and no second grant.
    let again = s.grant_idempotent(grant("g1", 10), Some(Idem { key: key("h1"), render: render() })).await.unwrap();
    assert_eq!(again, Idempotent::Replayed { status: 201, body: "1 entries".into() });
    let other = s.grant_idempotent(grant("g2", 99), Some(Idem { key: key("h2"), render: render() })).await.unwrap_err();
    assert!(matches!(other, StoreError::IdempotencyConflict { .. }), "{other}");
    let page = s.ledger(CustomerId::new("acme").unwrap(), LedgerFilter::default(), None, 100).await.unwrap();
    assert_eq!(page.items.len(), 1, "one grant entry, written once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_lose_and_double_nothing_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir).await;
    s.grant(grant("big", 1_000_000)).await.unwrap();
    // 16 tasks x 25 batches x 40 events, with every batch also resending
    // 10 ids from another task: each id must be booked exactly once.
    let mut tasks = Vec::new();
    for task in 0..16 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut accepted = 0;
            for batch in 0..25 {
                let mut events: Vec<UsageEvent> = (0..40).map(|i| event(format!("t{task}-b{batch}-{i}"), 2)).collect();
                events.extend((0..10).map(|i| event(format!("t{}-b{batch}-{i}", (task + 1) % 16), 2)));
                for r in s.ingest(events, IngestMode::Live, ActorId::new("i").unwrap()).await.unwrap() {
                    if matches!(r, IngestResult::Accepted { .. }) {
                        accepted += 1;
                    }
                }
            }
            accepted
        }));
    }
    let mut accepted = 0;
    for t in tasks {
        accepted += t.await.unwrap();
    }
    assert_eq!(accepted, 16 * 25 * 40, "every id booked once, whichever batch got there first");
    let customer = CustomerId::new("acme").unwrap();
    let ct = CreditTypeId::new("api").unwrap();
    let before = s.balance(customer.clone(), ct.clone(), None, None).await.unwrap();
    assert_eq!(before.available.to_string(), (1_000_000 - 2 * 16 * 25 * 40).to_string());
    drop(s);
    let reopened = store(&dir).await;
    let after = reopened.balance(customer, ct, None, None).await.unwrap();
    assert_eq!(serde_json::to_value(&before).unwrap(), serde_json::to_value(&after).unwrap());
}

/// A batch larger than the writer's multi-row statements (64 rows): events
/// and entries written in whole chunks plus a short tail, and looked up in
/// chunks (the last padded), lose, double and mix up nothing.
#[tokio::test]
async fn a_large_batch_is_written_and_looked_up_in_chunks_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir).await;
    s.grant(grant("big", 1_000_000)).await.unwrap();
    let actor = ActorId::new("i").unwrap();
    s.ingest(vec![event("e-7".into(), 7)], IngestMode::Live, actor.clone()).await.unwrap();
    // 150 events: e-7 sent before (same body: duplicate), e-9 twice in the
    // batch (the second a duplicate), e-11 again with another quantity.
    let mut batch: Vec<UsageEvent> = (0..147).map(|i| event(format!("e-{i}"), i + 1)).collect();
    batch[7] = event("e-7".into(), 7);
    batch.push(event("e-9".into(), 10));
    batch.push(event("e-11".into(), 99));
    batch.push(event("e-147".into(), 148));
    let results = s.ingest(batch.clone(), IngestMode::Live, actor.clone()).await.unwrap();
    assert_eq!(results.len(), 150);
    for (i, r) in results.iter().enumerate() {
        let want = match i {
            7 | 147 => "duplicate",
            148 => "rejected",
            _ => "accepted",
        };
        let got = match r {
            IngestResult::Accepted { .. } => "accepted",
            IngestResult::Duplicate { .. } => "duplicate",
            IngestResult::Rejected { .. } => "rejected",
        };
        assert_eq!(got, want, "event {i}");
    }
    // The same batch again: every stored event found, each by its own id.
    let again = s.ingest(batch, IngestMode::Live, actor).await.unwrap();
    for (i, r) in again.iter().enumerate() {
        let ok = if i == 148 {
            matches!(r, IngestResult::Rejected { .. })
        } else {
            matches!(r, IngestResult::Duplicate { .. })
        };
        assert!(ok, "event {i} on replay: {r:?}");
    }
    // One burn per accepted event (147 of them + e-7 before), each event's
    // own credits (quantity x 1).
    let acme = CustomerId::new("acme").unwrap();
    let mut burns = std::collections::HashMap::new();
    let mut cursor = None;
    loop {
        let page = s.ledger(acme.clone(), LedgerFilter::default(), cursor, 100).await.unwrap();
        for e in &page.items {
            if let Some(ev) = &e.event {
                assert!(burns.insert(ev.to_string(), -e.amount.get()).is_none(), "{ev} booked twice");
            }
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(burns.len(), 148);
    for i in 0..148 {
        let want = if i == 7 { 7 } else { i + 1 };
        assert_eq!(burns[&format!("e-{i}")], Decimal::from(want), "e-{i}");
    }
}

/// The writer's multi-row inserts stop at a failing row without undoing
/// the statement's earlier rows (`INSERT OR FAIL`, no statement journal):
/// the group's rollback is what removes them. A database failure injected
/// in the middle of a 64-row chunk leaves nothing of the batch, and the
/// same batch then goes through whole, burned once.
#[tokio::test]
async fn a_failure_inside_a_multi_row_insert_leaves_nothing_of_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir).await;
    s.grant(grant("g1", 1_000_000)).await.unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("t.db")).unwrap();
    creditdesk_store::sqlite::register_sql_functions(&conn).unwrap();
    // RAISE(FAIL) behaves as OR FAIL does: e-64..e-99 of the second chunk
    // of events stay written when e-100 fails.
    conn.execute_batch(
        "CREATE TRIGGER inject BEFORE INSERT ON events WHEN NEW.id = 'e-100' \
         BEGIN SELECT RAISE(FAIL, 'injected failure'); END;",
    )
    .unwrap();
    let batch: Vec<UsageEvent> = (0..150).map(|i| event(format!("e-{i}"), i + 1)).collect();
    let actor = ActorId::new("i").unwrap();
    let err = s.ingest(batch.clone(), IngestMode::Live, actor.clone()).await.unwrap_err();
    assert!(err.to_string().contains("injected failure"), "{err}");
    let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!(count("SELECT COUNT(*) FROM ledger_entries WHERE event_id IS NOT NULL"), 0);
    assert_eq!(count("SELECT COUNT(*) FROM events"), 0);
    assert_eq!(count("SELECT burned FROM grant_state WHERE grant_id = 'g1'"), 0);

    conn.execute_batch("DROP TRIGGER inject").unwrap();
    let results = s.ingest(batch, IngestMode::Live, actor).await.unwrap();
    assert!(results.iter().all(|r| matches!(r, IngestResult::Accepted { .. })));
    assert_eq!(count("SELECT COUNT(*) FROM ledger_entries WHERE event_id IS NOT NULL"), 150);
    // 1 + 2 + ... + 150 credits, in micro-credits.
    assert_eq!(count("SELECT ABS(burned) FROM grant_state WHERE grant_id = 'g1'"), 11_325_000_000);
}

/// Another connection writing to the file (the CLI's `users add`, say)
/// while the store's writer starts a group: the writer waits for it and
/// the group goes through, instead of failing with "database is locked".
#[tokio::test]
async fn a_write_from_another_connection_is_waited_for_not_failed() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir).await;
    s.grant(grant("g1", 1_000)).await.unwrap();
    let path = dir.path().join("t.db");
    for round in 0..5 {
        let (locked_tx, locked_rx) = std::sync::mpsc::channel();
        let other = std::thread::spawn({
            let path = path.clone();
            move || {
                let conn = rusqlite::Connection::open(&path).unwrap();
                conn.execute_batch("BEGIN IMMEDIATE").unwrap();
                conn.execute(
                    "INSERT INTO audit_log (at, actor, role, action, outcome) VALUES (0, 'cli', 'admin', 'x', 'allowed')",
                    [],
                )
                .unwrap();
                locked_tx.send(()).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(200));
                conn.execute_batch("COMMIT").unwrap();
            }
        });
        locked_rx.recv().unwrap();
        let e = event(format!("e-{round}"), 1);
        let results = s.ingest(vec![e], IngestMode::Live, ActorId::new("i").unwrap()).await.unwrap();
        assert!(matches!(results[0], IngestResult::Accepted { .. }), "round {round}: {:?}", results[0]);
        other.join().unwrap();
    }
}

/// Burns are written in blocks, one per customer and write group here,
/// staged in `burn_blocks_recent` and moved to `burn_blocks` some groups
/// later (15 other customers burn in every group, so `acme`'s blocks wait
/// in both tables). Every read sees each burn exactly once: the ledger
/// listing (paged, and filtered down to one burn many blocks back),
/// balances now, at a past instant and as known at a past time (from
/// whole days' rollups and the entries of the boundary days), the daily
/// burn series, an event's entries; and the same after the store is
/// reopened.
#[tokio::test]
async fn burns_in_blocks_are_read_once_by_every_read() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(t0()));
    let s = store_on(&dir, clock.clone()).await;
    s.grant(grant("g1", 1_000_000)).await.unwrap();
    let mut others = Vec::new();
    for j in 0..15 {
        others.push(other_customer(&s, &format!("other-{j:02}"), 1_000_000).await);
    }
    let conn = rusqlite::Connection::open(dir.path().join("t.db")).unwrap();
    creditdesk_store::sqlite::register_sql_functions(&conn).unwrap();
    let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    let (acme, api) = (CustomerId::new("acme").unwrap(), CreditTypeId::new("api").unwrap());
    // Seven hours apart: the rounds span twelve days, so past instants
    // read whole days before theirs.
    let at_round = |i: i64| t0() + TimeDelta::hours(7 * i);
    let used_through = |i: i64| (1..=i + 1).sum::<i64>();
    let ledger_events = |page: &creditdesk_store::Page<creditdesk_ledger::entry::Entry>| -> Vec<String> {
        page.items.iter().filter_map(|e| e.event.as_ref().map(|e| e.to_string())).collect()
    };
    let mut staged_seen = false;
    for i in 0..40i64 {
        clock.set(at_round(i) + TimeDelta::milliseconds(1));
        let mut batch = vec![UsageEvent { timestamp: at_round(i), ..event(format!("e-{i}"), i + 1) }];
        batch.extend(others.iter().map(|c| UsageEvent {
            customer: c.clone(),
            timestamp: at_round(i),
            ..event(format!("{c}-{i}"), 1)
        }));
        s.ingest(batch, IngestMode::Live, ActorId::new("i").unwrap()).await.unwrap();

        let acme_blocks = "(SELECT COUNT(*) FROM burn_blocks WHERE customer_id = 'acme') \
                           + (SELECT COUNT(*) FROM burn_blocks_recent WHERE customer_id = 'acme')";
        assert_eq!(count(&format!("SELECT {acme_blocks}")), i + 1);
        assert_eq!(count("SELECT COUNT(*) FROM ledger_entries WHERE kind = 'burn' AND customer_id = 'acme'"), i + 1);
        assert_eq!(count("SELECT COUNT(*) FROM ledger_entries WHERE kind = 'burn'"), 16 * (i + 1));
        staged_seen |= count("SELECT COUNT(*) FROM burn_blocks_recent WHERE customer_id = 'acme'") > 1;
        assert_eq!(count("SELECT COUNT(*) FROM entries WHERE kind = 'burn'"), 0);

        let page = s.ledger(acme.clone(), LedgerFilter::default(), None, 1000).await.unwrap();
        let newest_first: Vec<String> = (0..=i).rev().map(|k| format!("e-{k}")).collect();
        assert_eq!(ledger_events(&page), newest_first, "round {i}");

        let now = s.balance(acme.clone(), api.clone(), None, None).await.unwrap();
        assert_eq!(now.available.get(), Decimal::from(1_000_000 - used_through(i)), "round {i}");
        // Mid-way through the rounds so far: booked after it exist, so the
        // balance is summed from the day's entries, not the running totals.
        let k = i / 2;
        let then = s.balance(acme.clone(), api.clone(), Some(at_round(k)), None).await.unwrap();
        assert_eq!(then.available.get(), Decimal::from(1_000_000 - used_through(k)), "round {i}, at round {k}'s time");

        // Now, as known just after round k was recorded.
        let known = at_round(k) + TimeDelta::milliseconds(1);
        let then_known = s.balance(acme.clone(), api.clone(), None, Some(known)).await.unwrap();
        assert_eq!(then_known.available.get(), Decimal::from(1_000_000 - used_through(k)), "round {i}, known {k}");
        let series = s.burn_series(acme.clone(), t0(), t0() + TimeDelta::days(14), Bucket::Day, Tz::UTC).await.unwrap();
        assert_eq!(series.total_burned.get(), Decimal::from(used_through(i)), "round {i}");
        let per_day: Vec<Decimal> =
            (0..14).map(|d| (0..=i).filter(|&r| 7 * r / 24 == d).map(|r| Decimal::from(r + 1)).sum()).collect();
        let buckets: Vec<Decimal> = series.buckets.iter().map(|b| b.burned.iter().map(|c| c.get()).sum()).collect();
        assert_eq!(buckets, per_day, "round {i}");

        let linked = s.entries_of_event(EventId::new(format!("e-{k}")).unwrap()).await.unwrap();
        assert_eq!(linked.len(), 1, "round {i}: e-{k}'s burn");
        assert_eq!(linked[0].amount.get(), Decimal::from(-(k + 1)));
    }
    // Pages of 3 read the blocks a window at a time: every burn once, in order.
    let mut paged = Vec::new();
    let mut cursor = None;
    loop {
        let page = s.ledger(acme.clone(), LedgerFilter::default(), cursor, 3).await.unwrap();
        paged.extend(ledger_events(&page));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(paged, (0..40).rev().map(|k| format!("e-{k}")).collect::<Vec<_>>());
    // The reads above ran with several of acme's blocks staged, and some moved.
    assert!(staged_seen);
    assert!(count("SELECT COUNT(*) FROM burn_blocks WHERE customer_id = 'acme'") > 0);
    // One burn 39 blocks back matches a filter: the window widens to it.
    let only = LedgerFilter { event: Some(EventId::new("e-0").unwrap()), ..LedgerFilter::default() };
    let page = s.ledger(acme.clone(), only, None, 2).await.unwrap();
    assert_eq!((ledger_events(&page), page.next_cursor), (vec!["e-0".to_owned()], None));
    // Groups without burns move staged blocks too: they drain.
    for k in 0..20 {
        s.grant(grant(&format!("g-drain-{k}"), 1)).await.unwrap();
    }
    assert_eq!(count("SELECT COUNT(*) FROM burn_blocks_recent"), 0);
    let before = s.ledger(acme.clone(), LedgerFilter::default(), None, 1000).await.unwrap();
    let burns_newest_first: Vec<String> = ledger_events(&before).into_iter().filter(|e| e.starts_with("e-")).collect();
    assert_eq!(burns_newest_first, (0..40).rev().map(|k| format!("e-{k}")).collect::<Vec<_>>());
    drop(s);
    let s = store_on(&dir, clock).await;
    let after = s.ledger(acme, LedgerFilter::default(), None, 1000).await.unwrap();
    assert_eq!(serde_json::to_value(&before.items).unwrap(), serde_json::to_value(&after.items).unwrap());
}

/// Burn blocks are part of the ledger: the database refuses to change or
/// remove one, moved or staged (a staged one leaves only once moved).
#[tokio::test]
async fn a_burn_block_cannot_be_changed_or_removed() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir).await;
    s.grant(grant("g1", 10)).await.unwrap();
    let zeta = other_customer(&s, "zeta", 10).await;
    // Two customers staged: the group moves one (a sixteenth, rounded up).
    let batch = vec![event("e-1".into(), 1), UsageEvent { customer: zeta, ..event("e-2".into(), 1) }];
    s.ingest(batch, IngestMode::Live, ActorId::new("i").unwrap()).await.unwrap();
    drop(s);
    let conn = rusqlite::Connection::open(dir.path().join("t.db")).unwrap();
    for table in ["burn_blocks", "burn_blocks_recent"] {
        for sql in [
            format!("UPDATE {table} SET n = 2"),
            format!("UPDATE {table} SET burns = x'01'"),
            format!("DELETE FROM {table}"),
        ] {
            let err = conn.execute(&sql, []).unwrap_err().to_string();
            assert!(err.contains("append-only"), "{sql}: {err}");
        }
        assert_eq!(conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get::<_, i64>(0)).unwrap(), 1);
    }
    // A staged block may go once `burn_blocks` holds the same block, not a
    // block that differs in its recorded time or its bytes.
    let copy = |recorded: &str, burns: &str| {
        format!(
            "INSERT INTO burn_blocks (customer_id, credit_type_id, booked_day, booked_max, recorded_at, n, burns) \
             SELECT customer_id, credit_type_id, booked_day, booked_max, {recorded}, n, {burns} FROM burn_blocks_recent"
        )
    };
    for (recorded, burns) in [("recorded_at + 1", "burns"), ("recorded_at", "burns || x'00'")] {
        conn.execute(&copy(recorded, burns), []).unwrap();
        let err = conn.execute("DELETE FROM burn_blocks_recent", []).unwrap_err().to_string();
        assert!(err.contains("append-only"), "{recorded}, {burns}: {err}");
    }
    conn.execute(&copy("recorded_at", "burns"), []).unwrap();
    assert_eq!(conn.execute("DELETE FROM burn_blocks_recent", []).unwrap(), 1);
}

/// Burn-day rows written by earlier builds hold dense blobs (96
/// little-endian i64s each): they still count in the burn series, and the
/// writer adds to them and writes them back in the sparse form.
#[tokio::test]
async fn a_burn_day_written_in_the_dense_form_still_counts_and_takes_new_usage() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(t0() + TimeDelta::minutes(1)));
    let s = store_on(&dir, clock.clone()).await;
    s.grant(grant("g1", 1_000)).await.unwrap();
    let acme = CustomerId::new("acme").unwrap();
    let used = |s: &SqliteStore| {
        let s = s.clone();
        let acme = acme.clone();
        async move {
            let series = s.burn_series(acme, t0(), t0() + TimeDelta::days(1), Bucket::Day, Tz::UTC).await;
            series.unwrap().total_burned.get()
        }
    };
    s.ingest(vec![event("e-1".into(), 3)], IngestMode::Live, ActorId::new("i").unwrap()).await.unwrap();
    assert_eq!(used(&s).await, Decimal::from(3));
    drop(s);

    // As an earlier build left it: the same amounts, dense.
    let conn = rusqlite::Connection::open(dir.path().join("t.db")).unwrap();
    let dense = |quarter: usize, micros: i64| -> Vec<u8> {
        (0..96).flat_map(|q| if q == quarter { micros } else { 0 }.to_le_bytes()).collect()
    };
    let rows = conn
        .execute("UPDATE burn_days SET burned = ?1, reversed = ?2", rusqlite::params![dense(0, 3_000_000), dense(0, 0)])
        .unwrap();
    assert_eq!(rows, 1);

    let s = store_on(&dir, clock.clone()).await;
    assert_eq!(used(&s).await, Decimal::from(3));
    clock.set(t0() + TimeDelta::minutes(2));
    let later = UsageEvent { timestamp: t0() + TimeDelta::minutes(1), ..event("e-2".into(), 4) };
    s.ingest(vec![later], IngestMode::Live, ActorId::new("i").unwrap()).await.unwrap();
    assert_eq!(used(&s).await, Decimal::from(7));
    // The new burn's rollup was added to the row in its group, kept on reopening.
    drop(s);
    let s = store_on(&dir, clock.clone()).await;
    assert_eq!(used(&s).await, Decimal::from(7));
    let (burned, reversed): (Vec<u8>, Vec<u8>) =
        conn.query_row("SELECT burned, reversed FROM burn_days", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    // The burns were added, so rewritten sparse (one quarter used); nothing
    // was reversed, so the dense zeros were left as they were.
    assert_eq!((burned.len(), reversed.len()), (9, 768));
    assert_eq!(reversed, dense(0, 0));
}
