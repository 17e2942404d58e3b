//! The same API served from PostgreSQL: catalog, grant, ingest with a
//! duplicate and a conflict, balances, the ledger listing, an idempotent
//! replay, and the views that read grant, catalog and override metadata
//! (void, grant listing, balances per grant, catalog lists, overrides,
//! reconciliation), over real HTTP against a throwaway PostgreSQL.

mod common;

use common::Server;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_works_on_postgres() {
    let s = Server::start_pg("server_api_on_postgres").await;
    s.catalog().await;
    let admin = Some(s.admin.as_str());
    s.post(admin, "/v1/grants", &Server::grant_body("g1", "c1", "100")).await.ok(201);
    let batch =
        json!({ "events": [s.event("e1", "c1", "4", 10), s.event("e1", "c1", "4", 10), s.event("e2", "c1", "1", 5)] });
    let r = s.post(admin, "/v1/events", &batch).await;
    let results = r.ok(200)["results"].as_array().unwrap().clone();
    // PostgreSQL's writers note the queue and the group as SQLite's does.
    assert_eq!(r.stage_names(), ["admit", "parse", "queue", "write", "reply", "total"], "{:?}", r.headers);
    let statuses: Vec<&str> = results.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["accepted", "duplicate", "accepted"]);
    let conflict = json!({ "events": [s.event("e1", "c1", "9", 10)] });
    let r = s.post(admin, "/v1/events", &conflict).await;
    assert_eq!(r.ok(200)["results"][0]["status"], "rejected");

    let balances = s.read("/v1/customers/c1/balances").await;
    let b = &balances["balances"][0];
    let available: rust_decimal::Decimal = b["available"].as_str().unwrap().parse().unwrap();
    assert!(available < rust_decimal::Decimal::from(100), "usage burned the grant: {b}");
    // The events precede the grant (effective now): each is overage at its
    // time, settled from the grant when it starts.
    let kinds: Vec<String> = s.ledger("c1").await.iter().map(|e| e["kind"].as_str().unwrap().to_owned()).collect();
    assert_eq!(kinds, ["overage_settled", "overage", "overage_settled", "overage", "grant"]);

    // A replayed grant answers the same, once.
    let body = Server::grant_body("g2", "c1", "5");
    let first = s.post_keyed(admin, "/v1/grants", &body, Some("key-1")).await;
    let again = s.post_keyed(admin, "/v1/grants", &body, Some("key-1")).await;
    assert_eq!(first.text, again.text);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(s.ledger("c1").await.len(), 6);

    // Catalog lists carry creation times.
    let cts = s.read("/v1/admin/credit-types").await;
    assert_eq!(cts["items"][0]["id"], "batch");
    assert_eq!(cts["items"][0]["created_at"], "2026-03-10T12:00:00Z");
    let products = s.read("/v1/admin/products").await;
    assert_eq!(products["items"].as_array().unwrap().len(), 2);
    assert!(products["items"].as_array().unwrap().iter().all(|p| p["created_at"] == "2026-03-10T12:00:00Z"));

    // Overrides with who and when.
    s.clock.advance(chrono::TimeDelta::minutes(1));
    let o = json!({"customer_id": "c2", "product_id": "transcribe",
                   "rate_card": [{"effective_from": "2026-01-01T00:00:00Z", "credits_per_unit": "1.5"}]});
    s.post(admin, "/v1/admin/overrides", &o).await.ok(201);
    let list = s.read("/v1/admin/overrides?customer=c2").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["updated_by"], "u_root");
    assert_eq!(list["items"][0]["updated_at"], "2026-03-10T12:01:00Z");
    assert_eq!(list["items"][0]["rate_card"][0]["credits_per_unit"], "1.5");
    assert!(s.read("/v1/admin/overrides?customer=c1").await["items"].as_array().unwrap().is_empty());

    // Grants with their recorded time, in balances and the grant listing.
    let grants = s.read("/v1/customers/c1/grants").await;
    let items = grants["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|g| g["grant"]["created_at"] == "2026-03-10T12:00:00Z"), "{grants}");
    let per_grant = &s.read("/v1/customers/c1/balances").await["balances"][0]["grants"];
    assert_eq!(per_grant.as_array().unwrap().len(), 2);
    assert!(per_grant[0]["grant"]["created_at"].is_string());

    // Void: found by id on PostgreSQL, its time in the answer and afterwards.
    let v = s.post(admin, "/v1/grants/g2/void", &json!({"reason_code": "fraud", "ticket_ref": "ZD-9"})).await;
    let v = v.ok(200).clone();
    assert_eq!(v["voided"], "5");
    assert_eq!(v["grant"]["status"], "voided");
    assert_eq!(v["grant"]["grant"]["voided_at"], "2026-03-10T12:01:00Z");
    s.post(admin, "/v1/grants/nope/void", &json!({"reason_code": "fraud", "ticket_ref": "ZD-9"}))
        .await
        .problem(404, "not_found");
    let voided = s.read("/v1/customers/c1/grants?status=voided").await;
    assert_eq!(voided["items"][0]["grant"]["id"], "g2");
    assert_eq!(voided["items"][0]["grant"]["voided_at"], "2026-03-10T12:01:00Z");

    // A NUL in a query's text never reaches PostgreSQL (it refuses NUL in
    // text, which was a 500): each is refused, naming the parameter.
    for (query, field) in [("/v1/audit?action=%00", "action"), ("/v1/customers?cursor=a%00", "cursor")] {
        let r = s.get(admin, query).await;
        assert_eq!((r.status, r.field()), (422, field), "{query}: {}", r.text);
    }

    // Reconciliation: 10 credits rated (transcribe at 2 per unit), all overage at event time.
    let rec = s.read("/v1/reports/reconciliation?from=2026-03-10T00:00:00Z&to=2026-03-11T00:00:00Z").await;
    assert_eq!(rec["balanced"], true, "{rec}");
    assert_eq!(rec["rows"][0]["events"], 2);
    assert_eq!(rec["rows"][0]["rated"], "10");
    assert_eq!(rec["rows"][0]["burned"], "0");
    assert_eq!(rec["rows"][0]["overage"], "10");
    let none = s.read("/v1/reports/reconciliation?from=2026-03-10T00:00:00Z&to=2026-03-11T00:00:00Z&customer=c2").await;
    assert!(none["rows"].as_array().unwrap().is_empty());

    // Status alone: awaited and rendered on the HTTP worker, timed the same.
    let brief = json!({ "events": [s.event("e3", "c2", "1", 1)], "result_detail": "status" });
    let r = s.post(admin, "/v1/events", &brief).await;
    assert_eq!(r.ok(200)["results"][0], json!({"status": "accepted", "id": "e3"}));
    assert_eq!(r.stage_names(), ["admit", "parse", "queue", "write", "reply", "total"], "{:?}", r.headers);
    assert_eq!(s.read("/v1/customers/c2/ledger?event=e3").await["items"].as_array().map(Vec::len), Some(1));
}
