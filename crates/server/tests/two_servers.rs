//! Two `creditdesk-server` processes on one PostgreSQL, over HTTP: clients
//! send overlapping batches for the same customers to both at once. Every
//! batch goes to both servers under the same `Idempotency-Key` (one runs
//! it, the other replays its answer), and every batch also shares half its
//! events with the next batch, which has its own key (those events are
//! duplicates the second time, wherever they land first). Afterwards each
//! event is applied exactly once with burns + overage equal to its rated
//! credits, every grant conserves credits and none is below zero.

mod proc;

use std::collections::HashMap;

use proc::{admin_token, batch_body, statuses, Api, Proc};
use rust_decimal::Decimal;
use serde_json::Value;

const BATCHES: usize = 16;
const PER_BATCH: usize = 300;
const CUSTOMERS: usize = 4;

fn customer(i: usize) -> String {
    format!("k{i}")
}

/// The event with index `n` (ids, customers and quantities from `n` only,
/// so a shared event is the same event in both batches).
fn event(n: usize) -> (String, String, i64) {
    (format!("e{n}"), customer(n % CUSTOMERS), (n % 3 + 1) as i64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_postgres_apply_each_event_once() {
    let db = tokio::task::spawn_blocking(|| creditdesk_testkit::test_database_url("server_two")).await.unwrap();
    let token = admin_token(&db);
    let (a, b) = (Proc::start(&db).await, Proc::start(&db).await);
    let (api_a, api_b) = (Api::new(&a.base, &token), Api::new(&b.base, &token));
    let grants: Vec<(String, i64)> = (0..CUSTOMERS).map(|c| (customer(c), 1_000 + 1_500 * c as i64)).collect();
    api_a.setup(&grants).await;

    // Batch i holds events [i*h, i*h + PER_BATCH) with h = PER_BATCH / 2:
    // its second half is the next batch's first half.
    let half = PER_BATCH / 2;
    let batches: Vec<Vec<(String, String, i64)>> =
        (0..BATCHES).map(|i| (i * half..i * half + PER_BATCH).map(event).collect()).collect();
    let now = chrono::Utc::now();
    let bodies: Vec<Value> = batches.iter().map(|b| batch_body(now, b)).collect();

    // Both servers get every batch at once; A goes forwards, B backwards,
    // so the overlaps meet in every order.
    let send = |api: Api, order: Vec<usize>, bodies: Vec<Value>| {
        tokio::spawn(async move {
            let mut out = HashMap::new();
            for i in order {
                let (status, text, _) = api.post("/v1/events", &bodies[i], Some(&format!("batch-{i}"))).await.unwrap();
                assert_eq!(status, 200, "batch {i}: {text}");
                out.insert(i, text);
            }
            out
        })
    };
    let forwards: Vec<usize> = (0..BATCHES).collect();
    let backwards: Vec<usize> = (0..BATCHES).rev().collect();
    let (from_a, from_b) =
        tokio::join!(send(api_a.clone(), forwards, bodies.clone()), send(api_b.clone(), backwards, bodies.clone()));
    let (from_a, from_b) = (from_a.unwrap(), from_b.unwrap());
    for i in 0..BATCHES {
        assert_eq!(from_a[&i], from_b[&i], "batch {i}: one server ran it, the other replayed it");
        for (s, (id, _, _)) in statuses(&from_a[&i]).iter().zip(&batches[i]) {
            assert!(s == "accepted" || s == "duplicate", "event {id}: {s} in {}", from_a[&i]);
        }
    }

    // Each event accepted exactly once across all answers.
    let mut accepted: HashMap<String, usize> = HashMap::new();
    for i in 0..BATCHES {
        for (s, (id, _, _)) in statuses(&from_a[&i]).iter().zip(&batches[i]) {
            if s == "accepted" {
                *accepted.entry(id.clone()).or_default() += 1;
            }
        }
    }
    let distinct: HashMap<String, (String, i64)> =
        batches.iter().flatten().map(|(id, c, q)| (id.clone(), (c.clone(), *q))).collect();
    for id in distinct.keys() {
        assert_eq!(accepted.get(id), Some(&1), "event {id} accepted once");
    }

    // The ledger, read through both servers: the same, each event once.
    for api in [&api_a, &api_b] {
        let mut used = HashMap::new();
        for c in 0..CUSTOMERS {
            used.extend(api.check_customer(&customer(c)).await);
        }
        assert_eq!(used.len(), distinct.len());
        let mut by_customer: HashMap<&str, i64> = HashMap::new();
        for (id, (c, q)) in &distinct {
            assert_eq!(used[id], -Decimal::from(*q), "event {id}: burns + overage = rated");
            *by_customer.entry(c).or_default() += q;
        }
        for (c, granted) in &grants {
            let expected = Decimal::from((granted - by_customer[c.as_str()]).max(0));
            assert_eq!(api.available(c).await, expected, "customer {c}");
        }
    }
}
