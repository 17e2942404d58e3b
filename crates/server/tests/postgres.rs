//! The same API served from PostgreSQL: catalog, grant, ingest with a
//! duplicate and a conflict, balances, the ledger listing, and an
//! idempotent replay, over real HTTP against a throwaway PostgreSQL.

mod common;

use common::Server;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "known gap (issue 3): http/stopgap.rs reads SQLite directly for catalog times, grant metadata, \
            overrides and reconciliation, so those routes answer 501 on PostgreSQL; remove this when the store \
            offers them"]
async fn the_api_works_on_postgres() {
    let s = Server::start_pg("server_api_on_postgres").await;
    s.catalog().await;
    let admin = Some(s.admin.as_str());
    s.post(admin, "/v1/grants", &Server::grant_body("g1", "c1", "100")).await.ok(201);
    let batch =
        json!({ "events": [s.event("e1", "c1", "4", 10), s.event("e1", "c1", "4", 10), s.event("e2", "c1", "1", 5)] });
    let r = s.post(admin, "/v1/events", &batch).await;
    let results = r.ok(200)["results"].as_array().unwrap().clone();
    let statuses: Vec<&str> = results.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["accepted", "duplicate", "accepted"]);
    let conflict = json!({ "events": [s.event("e1", "c1", "9", 10)] });
    let r = s.post(admin, "/v1/events", &conflict).await;
    assert_eq!(r.ok(200)["results"][0]["status"], "rejected");

    let balances = s.read("/v1/customers/c1/balances").await;
    let b = &balances["balances"][0];
    let available: rust_decimal::Decimal = b["available"].as_str().unwrap().parse().unwrap();
    assert!(available < rust_decimal::Decimal::from(100), "usage burned the grant: {b}");
    assert_eq!(s.ledger("c1").await.len(), 3, "one grant entry and two burns");

    // A replayed grant answers the same, once.
    let body = Server::grant_body("g2", "c1", "5");
    let first = s.post_keyed(admin, "/v1/grants", &body, Some("key-1")).await;
    let again = s.post_keyed(admin, "/v1/grants", &body, Some("key-1")).await;
    assert_eq!(first.text, again.text);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(s.ledger("c1").await.len(), 4);
}
