//! Random JSON at the write endpoints (`POST /v1/events`, `POST /v1/grants`):
//! never a 5xx, and never a partial write. A refused request (4xx) leaves
//! the ledger and the rejected store exactly as they were; an accepted one
//! adds exactly the entries (and rejected records) its response reports.
//!
//! Inputs are half arbitrary JSON, half a valid request with one field
//! replaced by arbitrary JSON, dropped, or joined by a stray field, so most
//! cases get past the JSON layer and exercise the shape and ledger rules.

mod common;

use common::{arb_json, Server};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};

/// Values a client might plausibly send for some field: most pass the JSON
/// layer, so the shape and ledger rules (and the write path) get exercised.
fn plausible() -> impl Strategy<Value = Value> {
    prop::sample::select(vec![
        json!("c1"),
        json!("c2"),
        json!("nobody"),
        json!("transcribe"),
        json!("diarize"),
        json!("nope"),
        json!("batch"),
        json!("-1"),
        json!("0"),
        json!("2.25"),
        json!("0.0000000000001"),
        json!("1000000000000001"),
        json!("2026-03-10T11:59:00Z"),
        json!("2026-03-01T00:00:00Z"),
        json!("2026-03-10T13:00:00Z"),
        json!("2030-01-01T00:00:00Z"),
        json!({"a": 1}),
        json!([]),
        json!(["transcribe"]),
        json!(5),
        json!("live"),
        json!("backfill"),
        json!(null),
    ])
}

/// One change to a JSON object: replace a field (3 in 5), drop it, or add a stray one.
fn mutate(mut obj: Value, field: &str, op: u8, value: Value) -> Value {
    if let Some(map) = obj.as_object_mut() {
        match op {
            0..=2 => {
                map.insert(field.to_owned(), value);
            }
            3 => {
                map.remove(field);
            }
            _ => {
                map.insert(format!("{field}_x"), value);
            }
        }
    }
    obj
}

fn valid_event(n: u32) -> Value {
    json!({
        "id": format!("fz{n}"),
        "customer_id": "c1",
        "product_id": "transcribe",
        "quantity": "1.5",
        "timestamp": "2026-03-10T11:30:00Z",
        "properties": {"k": n}
    })
}

fn ingest_bodies() -> impl Strategy<Value = Value> {
    let event_fields =
        prop::sample::select(vec!["id", "customer_id", "product_id", "quantity", "timestamp", "properties"]);
    let value = prop_oneof![arb_json(), plausible()];
    let mode = prop_oneof![6 => Just(None), 1 => plausible().prop_map(Some), 1 => arb_json().prop_map(Some)];
    let mutated = (any::<u32>(), event_fields, 0..5u8, value, mode).prop_map(|(n, field, op, value, mode)| {
        let event = mutate(valid_event(n), field, op, value);
        let body = json!({"events": [valid_event(n.wrapping_add(1)), event]});
        match mode {
            Some(m) => mutate(body, "mode", 0, m),
            None => body,
        }
    });
    prop_oneof![1 => arb_json(), 3 => mutated]
}

fn grant_bodies() -> impl Strategy<Value = Value> {
    let fields = prop::sample::select(vec![
        "id",
        "customer_id",
        "credit_type_id",
        "amount",
        "category",
        "source",
        "priority",
        "effective_at",
        "expires_at",
        "products",
        "contract_id",
        "cost_basis",
        "rollover",
        "reason_code",
        "ticket_ref",
        "note",
        "mode",
    ]);
    let value = prop_oneof![arb_json(), plausible()];
    let mutated = (any::<u32>(), fields, 0..5u8, value).prop_map(|(n, field, op, value)| {
        let mut base = Server::grant_body(&format!("fzg{n}"), "c1", "10");
        base["rollover"] = json!({"fraction": "0.5", "expires_after_days": 30});
        mutate(base, field, op, value)
    });
    prop_oneof![1 => arb_json(), 3 => mutated]
}

/// Every ledger entry of the known customers, and the rejected store's size.
async fn snapshot(s: &Server) -> (usize, usize) {
    let mut entries = 0;
    for c in ["c1", "c2"] {
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c2) => format!("/v1/customers/{c}/ledger?limit=1000&cursor={c2}"),
                None => format!("/v1/customers/{c}/ledger?limit=1000"),
            };
            let page = s.read(&path).await;
            entries += page["items"].as_array().map_or(0, Vec::len);
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
    }
    let mut rejected = 0;
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/events/rejected?limit=1000&cursor={c}"),
            None => "/v1/events/rejected?limit=1000".to_owned(),
        };
        let page = s.read(&path).await;
        rejected += page["items"].as_array().map_or(0, Vec::len);
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    (entries, rejected)
}

fn check(
    rt: &tokio::runtime::Runtime,
    s: &Server,
    path: &str,
    body: &Value,
    written: impl Fn(&Value) -> (usize, usize),
) -> Result<(), TestCaseError> {
    rt.block_on(async {
        let before = snapshot(s).await;
        let r = s.post(Some(&s.admin), path, body).await;
        prop_assert!(r.status < 500, "{path} {body}: {} {}", r.status, r.text);
        prop_assert!(!r.body.is_null(), "every answer is JSON: {}", r.text);
        let after = snapshot(s).await;
        if r.status >= 400 {
            prop_assert_eq!(r.header("content-type"), Some("application/problem+json"));
            prop_assert_eq!(before, after, "a refused request wrote nothing: {} {}", body, r.text);
        } else {
            let (entries, rejected) = written(&r.body);
            prop_assert_eq!(after, (before.0 + entries, before.1 + rejected), "{} -> {}", body, r.text);
        }
        Ok(())
    })
}

#[test]
fn random_json_never_500s_and_never_writes_partially() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let s = rt.block_on(async {
        let s = Server::start().await;
        s.catalog().await;
        s
    });
    let config = Config { cases: 128, failure_persistence: None, ..Config::default() };

    let mut runner = TestRunner::new(config.clone());
    runner
        .run(&ingest_bodies(), |body| {
            check(&rt, &s, "/v1/events", &body, |resp| {
                let results = resp["results"].as_array().cloned().unwrap_or_default();
                let entries = results.iter().map(|r| r["entry_seqs"].as_array().map_or(0, Vec::len)).sum();
                let rejected = results.iter().filter(|r| r["status"] == "rejected").count();
                (entries, rejected)
            })
        })
        .unwrap();

    let mut runner = TestRunner::new(config);
    runner
        .run(&grant_bodies(), |body| {
            check(&rt, &s, "/v1/grants", &body, |resp| (resp["entries"].as_array().map_or(0, Vec::len), 0))
        })
        .unwrap();
}
