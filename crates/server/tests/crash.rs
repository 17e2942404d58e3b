//! Crash safety of ingest, against the real binary: clients send batches
//! with `Idempotency-Key`s, the server is killed with SIGKILL while batches
//! are in flight, and restarted on the same database. Then:
//!
//! - every batch is applied fully or not at all, and every batch that was
//!   acknowledged before the kill is there;
//! - clients that retry every batch with the same key and body all get
//!   `200` with every event `accepted` (a batch applied before the kill
//!   replays the response recorded in its own transaction), and a second
//!   retry replays the first byte for byte: they converge;
//! - the ledger then holds each event once, its burns + overage equal to
//!   its rated credits; every grant conserves credits, none goes below
//!   zero, and what remains is grants - usage, whatever the order.
//!
//! On SQLite (a file in a temp dir) and on a throwaway PostgreSQL.

mod proc;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use proc::{admin_token, batch_body, statuses, Api, Proc};
use rust_decimal::Decimal;
use serde_json::Value;
use tokio::sync::Mutex;

const BATCHES: usize = 24;
const PER_BATCH: usize = 400;
const CUSTOMERS: usize = 6;
/// Client tasks sending batches at once.
const SENDERS: usize = 3;
/// Acknowledged batches before the kill.
const KILL_AFTER: usize = 5;

type Events = Vec<(String, String, i64)>;

fn customer(i: usize) -> String {
    format!("k{i}")
}

/// The batches: events spread over the customers, quantities 1..=3.
fn batches() -> Vec<Events> {
    (0..BATCHES)
        .map(|b| {
            (0..PER_BATCH)
                .map(|j| (format!("b{b}-e{j}"), customer((b + j) % CUSTOMERS), ((b * 7 + j) % 3 + 1) as i64))
                .collect()
        })
        .collect()
}

/// Sends every batch once from `SENDERS` tasks; returns the acknowledged
/// responses by batch (the rest failed or were never sent).
async fn send_all(api: &Api, bodies: &Arc<Vec<Value>>, acked: &Arc<AtomicUsize>) -> HashMap<usize, String> {
    let next = Arc::new(AtomicUsize::new(0));
    let out = Arc::new(Mutex::new(HashMap::new()));
    let mut tasks = Vec::new();
    for _ in 0..SENDERS {
        let (api, bodies, next, out, acked) = (api.clone(), bodies.clone(), next.clone(), out.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let b = next.fetch_add(1, Ordering::SeqCst);
                if b >= bodies.len() {
                    return;
                }
                match api.post("/v1/events", &bodies[b], Some(&format!("batch-{b}"))).await {
                    Ok((200, text, _)) => {
                        out.lock().await.insert(b, text);
                        acked.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok((status, text, _)) => panic!("batch {b}: {status} {text}"),
                    // Cut off by the kill: the client does not know the outcome.
                    Err(_) => {}
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    Arc::try_unwrap(out).unwrap().into_inner()
}

/// Per event id: burns + overage (negative), over every customer, with the
/// grant invariants checked.
async fn usage(api: &Api) -> HashMap<String, Decimal> {
    let mut all = HashMap::new();
    for c in 0..CUSTOMERS {
        all.extend(api.check_customer(&customer(c)).await);
    }
    all
}

async fn crash_and_recover(db: String) {
    let grants: Vec<(String, i64)> = (0..CUSTOMERS).map(|c| (customer(c), 500 + 800 * c as i64)).collect();
    let token = admin_token(&db);
    let mut server = Proc::start(&db).await;
    let api = Api::new(&server.base, &token);
    api.setup(&grants).await;

    let batches = batches();
    let now = chrono::Utc::now();
    let bodies: Arc<Vec<Value>> = Arc::new(batches.iter().map(|b| batch_body(now, b)).collect());

    // Send, and kill -9 once a few batches are acknowledged.
    let acked_count = Arc::new(AtomicUsize::new(0));
    let sending = tokio::spawn({
        let (api, bodies, acked) = (api.clone(), bodies.clone(), acked_count.clone());
        async move { send_all(&api, &bodies, &acked).await }
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while acked_count.load(Ordering::SeqCst) < KILL_AFTER {
        assert!(tokio::time::Instant::now() < deadline, "no acknowledgements");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    server.kill9();
    let acked = sending.await.unwrap();
    assert!(acked.len() < BATCHES, "the kill came after every batch; nothing was tested");

    // Restart on the same database: all or nothing per batch, acks kept.
    let server = Proc::start(&db).await;
    let api = Api::new(&server.base, &token);
    let used = usage(&api).await;
    let mut applied = 0;
    for (b, events) in batches.iter().enumerate() {
        let present = events.iter().filter(|(id, _, _)| used.contains_key(id)).count();
        assert!(present == 0 || present == events.len(), "batch {b} is partly applied: {present} of {}", events.len());
        if acked.contains_key(&b) {
            assert_eq!(present, events.len(), "acknowledged batch {b} was lost");
        }
        if present > 0 {
            applied += 1;
            for (id, _, q) in events {
                assert_eq!(used[id], -Decimal::from(*q), "event {id}: burns + overage = rated");
            }
        }
    }
    assert!(applied >= acked.len());
    eprintln!("killed with {} of {BATCHES} batches acknowledged, {applied} applied", acked.len());

    // Clients retry everything with the same keys: all accepted, once.
    let mut first = HashMap::new();
    for (b, body) in bodies.iter().enumerate() {
        let (status, text, _) = api.post("/v1/events", body, Some(&format!("batch-{b}"))).await.unwrap();
        assert_eq!(status, 200, "retry of batch {b}: {text}");
        assert!(statuses(&text).iter().all(|s| s == "accepted"), "retry of batch {b}: {text}");
        if let Some(original) = acked.get(&b) {
            assert_eq!(&text, original, "an acknowledged batch replays its answer");
        }
        first.insert(b, text);
    }
    for (b, body) in bodies.iter().enumerate() {
        let (status, text, replayed) = api.post("/v1/events", body, Some(&format!("batch-{b}"))).await.unwrap();
        assert_eq!((status, replayed), (200, true));
        assert_eq!(text, first[&b], "batch {b} converged");
    }

    // The ledger: every event once, exactly its rated credits; remaining
    // credits are grants - usage per customer.
    let used = usage(&api).await;
    let mut by_customer: HashMap<String, i64> = HashMap::new();
    for (id, c, q) in batches.iter().flatten() {
        assert_eq!(used.get(id).copied(), Some(-Decimal::from(*q)), "event {id}");
        *by_customer.entry(c.clone()).or_default() += q;
    }
    assert_eq!(used.len(), BATCHES * PER_BATCH, "no other usage");
    for (c, granted) in &grants {
        let expected = Decimal::from((granted - by_customer[c]).max(0));
        assert_eq!(api.available(c).await, expected, "customer {c}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_ingest_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    crash_and_recover(format!("sqlite://{}", dir.path().join("crash.db").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_ingest_on_postgres() {
    let url = tokio::task::spawn_blocking(|| creditdesk_testkit::test_database_url("server_crash")).await.unwrap();
    crash_and_recover(url).await;
}
