//! The billing API over real HTTP: every endpoint's happy path, auth
//! failures, bad input on every field of the write requests (with nothing
//! written), duplicates and conflicts, idempotent replays, balances as of.

mod common;

use chrono::TimeDelta;
use common::{t0, Server};
use creditdesk_api::routes;
use serde_json::{json, Value};

fn ids(items: &Value) -> Vec<String> {
    items.as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap_or_default().to_owned()).collect()
}

#[tokio::test]
async fn health_is_public_openapi_and_metrics_need_a_token() {
    let s = Server::start().await;
    let r = s.get(None, "/healthz").await;
    assert_eq!(r.ok(200), &json!({"status": "ok"}));
    assert!(r.header("x-request-id").is_some());
    // Every other route needs a token (any role), these two included.
    s.get(None, "/openapi.json").await.problem(401, "unauthorized");
    s.get(None, "/metrics").await.problem(401, "unauthorized");
    let agent = s.user("sam", "support_agent").await;

    let doc = s.get(Some(&agent), "/openapi.json").await;
    let doc = doc.ok(200);
    assert_eq!(doc["openapi"], "3.1.0");
    for route in routes::ROUTES {
        let op = &doc["paths"][route.path][route.method.as_str().to_lowercase()];
        assert!(op.is_object(), "{} {} is documented", route.method.as_str(), route.path);
    }
    assert!(doc["components"]["schemas"]["CreateGrantRequest"].is_object());

    assert_eq!(doc["paths"]["/healthz"]["get"]["security"], json!([{}]), "only /healthz is public");
    assert!(doc["paths"]["/metrics"]["get"]["security"].is_null());

    s.get(Some(&s.admin), "/v1/me").await.ok(200);
    let m = s.get(Some(&agent), "/metrics").await;
    assert_eq!(m.status, 200, "{}", m.text);
    assert!(m.text.contains("creditdesk_http_requests_total"), "{}", m.text);
    assert!(m.text.contains("route=\"/v1/me\""), "routes are labelled by template: {}", m.text);
    // The store's write groups (creating the users was one each): their
    // time's sum over time is how busy the writer is.
    assert!(m.text.contains("creditdesk_store_write_group_seconds_count{db=\"sqlite\"}"), "{}", m.text);
}

#[tokio::test]
async fn auth_failures_have_exact_codes() {
    let s = Server::start().await;
    s.catalog().await;

    // No token, a malformed header, an unknown token.
    let r = s.get(None, "/v1/me").await;
    r.problem(401, "unauthorized");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    let raw = s.http.get(format!("{}/v1/me", s.base)).header("authorization", "Basic abc").send().await.unwrap();
    assert_eq!(raw.status(), 401);
    s.get(Some("cdk_not_a_token"), "/v1/customers").await.problem(401, "unauthorized");
    // Unauthenticated writes are refused before the body is looked at.
    s.post(None, "/v1/events", &json!({"events": []})).await.problem(401, "unauthorized");

    // A user created through the API works until revoked, then is refused.
    let created = s.post(Some(&s.admin), "/v1/admin/users", &json!({"name": "vera", "role": "viewer"})).await;
    let created = created.ok(201).clone();
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("cdk_"));
    let me = s.get(Some(&token), "/v1/me").await;
    assert_eq!(me.ok(200)["role"], "viewer");
    let user_id = created["user"]["id"].as_str().unwrap();
    let revoked = s.post(Some(&s.admin), &format!("/v1/admin/users/{user_id}/revoke"), &json!({})).await;
    assert!(revoked.ok(200)["revoked_at"].is_string());
    let r = s.get(Some(&token), "/v1/me").await;
    r.problem(401, "unauthorized");
    assert!(r.body["detail"].as_str().unwrap().contains("revoked"));

    // Wrong roles: 403 naming the rule, nothing written.
    let viewer = s.user("vic", "viewer").await;
    let agent = s.user("sam", "support_agent").await;
    let finance = s.user("fin", "finance").await;
    let grant = Server::grant_body("g1", "c1", "100");
    let r = s.post(Some(&viewer), "/v1/grants", &grant).await;
    r.problem(403, "insufficient_permission");
    assert_eq!(r.body["detail"], "role viewer is read-only and may not call POST /v1/grants");
    // An account manager may ask, never act alone: the grant waits for approval.
    let manager = s.user("amy", "account_manager").await;
    assert_eq!(s.post(Some(&manager), "/v1/grants", &grant).await.ok(202)["exceeded"], "per_action");
    let ev = json!({"events": [s.event("e1", "c1", "1", 1)]});
    s.post(Some(&finance), "/v1/events", &ev).await.problem(403, "insufficient_permission");
    s.post(Some(&viewer), "/v1/events", &ev).await.problem(403, "insufficient_permission");
    s.post(Some(&finance), "/v1/admin/customers", &json!({"id": "c9", "name": "x"}))
        .await
        .problem(403, "insufficient_permission");
    s.get(Some(&viewer), "/v1/admin/users").await.problem(403, "insufficient_permission");
    let mut backfill = grant.clone();
    backfill["mode"] = json!("backfill");
    s.post(Some(&finance), "/v1/grants", &backfill).await.problem(403, "insufficient_permission");
    assert!(s.ledger("c1").await.is_empty(), "refused writes wrote nothing");

    // Voids: finance and admin only.
    s.post(Some(&finance), "/v1/grants", &grant).await.ok(201);
    let void = json!({"reason_code": "fraud", "ticket_ref": "ZD-9"});
    s.post(Some(&agent), "/v1/grants/g1/void", &void).await.problem(403, "insufficient_permission");
    s.post(Some(&finance), "/v1/grants/g1/void", &void).await.ok(200);

    // Every role reads.
    for t in [&viewer, &agent, &finance] {
        s.get(Some(t), "/v1/customers/c1/balances").await.ok(200);
        s.get(Some(t), "/v1/admin/credit-types").await.ok(200);
    }
}

#[tokio::test]
async fn request_ids_are_echoed_and_problems_are_rfc9457() {
    let s = Server::start().await;
    let r = s
        .http
        .get(format!("{}/v1/customers/nope", s.base))
        .bearer_auth(&s.admin)
        .header("x-request-id", "req-42")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "req-42");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["request_id"], "req-42");
    assert_eq!(body["type"], "https://creditdesk.dev/problems/not_found");
    assert_eq!(body["instance"], "/v1/customers/nope");
    assert_eq!(body["title"], "Not found");

    let r = s.get(Some(&s.admin), "/v1/nothing-here").await;
    r.problem(404, "not_found");
    let r = s.http.delete(format!("{}/v1/me", s.base)).bearer_auth(&s.admin).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
}

#[tokio::test]
async fn admin_catalog_customers_and_users() {
    let s = Server::start().await;
    s.catalog().await;
    let admin = Some(s.admin.as_str());

    let ct = s.read("/v1/admin/credit-types/batch").await;
    assert_eq!(ct["unit_price"], json!({"amount": "0.01", "currency": "USD"}));
    assert_eq!(ct["overage_mode"], "carry_forward");
    assert_eq!(ct["burn_order"].as_array().unwrap().len(), 5);
    assert!(ct["created_at"].as_str().unwrap().starts_with("2026-03-10"));
    assert_eq!(ids(&s.read("/v1/admin/credit-types").await["items"]), ["batch"]);
    s.post(
        admin,
        "/v1/admin/credit-types",
        &json!({"id": "batch", "name": "again", "unit_label": "c", "unit_price": {"amount": "1", "currency": "USD"}}),
    )
    .await
    .problem(409, "already_exists");
    let r = s
        .post(
            admin,
            "/v1/admin/credit-types",
            &json!({"id": "eur", "name": "e", "unit_label": "c", "unit_price": {"amount": "1", "currency": "EUR"}}),
        )
        .await;
    r.problem(422, "validation_failed");
    assert_eq!(r.field(), "unit_price.currency");

    let products = s.read("/v1/admin/products?limit=1").await;
    assert_eq!(ids(&products["items"]), ["diarize"]);
    let next = products["next_cursor"].as_str().unwrap();
    assert_eq!(ids(&s.read(&format!("/v1/admin/products?limit=1&cursor={next}")).await["items"]), ["transcribe"]);
    let p = s
        .post(
            admin,
            "/v1/admin/products/transcribe/rates",
            &json!({"effective_from": "2026-04-01T00:00:00Z", "credits_per_unit": "2.5"}),
        )
        .await;
    assert_eq!(p.ok(201)["rate_card"].as_array().unwrap().len(), 2);
    assert_eq!(s.read("/v1/admin/products/transcribe").await["rate_card"][1]["credits_per_unit"], "2.5");
    let r = s
        .post(admin, "/v1/admin/products", &json!({"id": "x", "name": "x", "credit_type_id": "nope", "rate_card": [{"effective_from": "2026-01-01T00:00:00Z", "credits_per_unit": "1"}]}))
        .await;
    r.problem(422, "validation_failed");
    assert_eq!(r.field(), "credit_type_id");

    let o = s
        .post(admin, "/v1/admin/overrides", &json!({"customer_id": "c1", "product_id": "transcribe", "rate_card": [{"effective_from": "2026-01-01T00:00:00Z", "credits_per_unit": "1.5"}]}))
        .await;
    assert_eq!(o.ok(201)["rate_card"][0]["credits_per_unit"], "1.5");
    let list = s.read("/v1/admin/overrides?customer=c1").await;
    assert_eq!(list["items"][0]["product_id"], "transcribe");
    assert_eq!(list["items"][0]["updated_by"], "u_root");

    let c = s.post(admin, "/v1/admin/customers", &json!({"id": "c3", "name": "Acme", "external_ref": "crm-3"})).await;
    assert_eq!(c.ok(201)["external_ref"], "crm-3");
    s.post(admin, "/v1/admin/customers", &json!({"id": "c3", "name": "Acme"})).await.problem(409, "already_exists");

    let u = s.post(admin, "/v1/admin/users", &json!({"name": "ann", "role": "support_lead"})).await;
    let u = u.ok(201).clone();
    assert_eq!(u["user"]["role"], "support_lead");
    let users = s.read("/v1/admin/users").await;
    assert!(users["items"].as_array().unwrap().iter().all(|u| u.get("token").is_none()), "tokens are never listed");
    assert_eq!(users["items"].as_array().unwrap().len(), 2);
    // Revoke by name works too; revoking twice is harmless.
    s.post(admin, "/v1/admin/users/ann/revoke", &json!({})).await.ok(200);
    s.post(admin, "/v1/admin/users/ann/revoke", &json!({})).await.ok(200);
    assert_eq!(s.read("/v1/admin/users").await["items"].as_array().unwrap().len(), 1);
    assert_eq!(s.read("/v1/admin/users?include_revoked=true").await["items"].as_array().unwrap().len(), 2);
    s.post(admin, "/v1/admin/users/nobody/revoke", &json!({})).await.problem(404, "not_found");
}

#[tokio::test]
async fn grants_usage_and_every_read() {
    let s = Server::start().await;
    s.catalog().await;
    let admin = Some(s.admin.as_str());

    // Grant (201: the grant as booked and its entry).
    let g = s.post(admin, "/v1/grants", &Server::grant_body("g1", "c1", "1000")).await;
    let g = g.ok(201).clone();
    assert_eq!(g["grant"]["status"], "active");
    assert_eq!(g["grant"]["remaining"], "1000");
    assert_eq!(g["grant"]["remaining_value"], json!({"amount": "10", "currency": "USD"}));
    assert_eq!(g["grant"]["grant"]["created_by"], "u_root");
    assert_eq!(g["entries"][0]["kind"], "grant");
    assert_eq!(g["entries"][0]["ticket_ref"], "ZD-1");
    let mut pending = Server::grant_body("g2", "c1", "50");
    pending["effective_at"] = json!("2026-04-01T00:00:00Z");
    pending["category"] = json!("promotional");
    pending["source"] = json!("promotion");
    pending.as_object_mut().unwrap().remove("id");
    let p = s.post(admin, "/v1/grants", &pending).await;
    let pending_id = p.ok(201)["grant"]["grant"]["id"].as_str().unwrap().to_owned();
    assert!(pending_id.starts_with("g_"), "ids are generated when absent");
    assert_eq!(p.body["grant"]["status"], "pending");

    // Usage: 3 events of 10 units at 2 credits each.
    s.clock.advance(TimeDelta::minutes(30));
    let batch =
        json!({"events": [s.event("e1", "c1", "10", 20), s.event("e2", "c1", "10", 10), s.event("e3", "c1", "10", 5)]});
    let r = s.post(admin, "/v1/events", &batch).await;
    let r = r.ok(200);
    assert_eq!((r["accepted"].as_u64(), r["duplicates"].as_u64(), r["rejected"].as_u64()), (Some(3), Some(0), Some(0)));
    assert_eq!(r["results"][0]["status"], "accepted");
    assert_eq!(r["results"][0]["credit_type_id"], "batch");
    assert_eq!(r["results"][0]["rating"]["credits"], "20");
    assert_eq!(r["results"][0]["allocation"]["burns"][0], json!({"grant_id": "g1", "amount": "20"}));
    // One event as a ledger row explains it: the rate, the rate-card version, its burns.
    let e1 = s.read("/v1/events/e1").await;
    assert_eq!(
        (e1["quantity"].as_str(), e1["credits_per_unit"].as_str(), e1["credits"].as_str()),
        (Some("10"), Some("2"), Some("20"))
    );
    assert_eq!((e1["usage"][0]["grant_id"].as_str(), e1["usage"][0]["amount"].as_str()), (Some("g1"), Some("-20")));
    assert_eq!(e1["reversed"], false);
    let missing = s.get(admin, "/v1/events/nope").await;
    assert_eq!((missing.status, missing.body["code"].as_str()), (404, Some("not_found")));

    // Balances now, per grant.
    let b = s.read("/v1/customers/c1/balances").await;
    let bal = &b["balances"][0];
    assert_eq!(
        (bal["credit_type_id"].as_str(), bal["available"].as_str(), bal["pending"].as_str()),
        (Some("batch"), Some("940"), Some("50"))
    );
    assert_eq!(bal["net_value"]["amount"], "9.4");
    assert_eq!(bal["expiring"][0]["amount"], "940");
    assert_eq!(bal["grants"].as_array().unwrap().len(), 2);
    let only = s.read("/v1/customers/c1/balances?credit_type=batch").await;
    assert_eq!(only["balances"].as_array().unwrap().len(), 1);
    // A customer with nothing has no wallets (but asking for one shows it).
    assert!(s.read("/v1/customers/c2/balances").await["balances"].as_array().unwrap().is_empty());
    assert_eq!(s.read("/v1/customers/c2/balances?credit_type=batch").await["balances"][0]["available"], "0");

    // Grants list: status filter, order, paging.
    let active = s.read("/v1/customers/c1/grants?status=active").await;
    assert_eq!(active["items"].as_array().unwrap().len(), 1);
    assert_eq!(active["items"][0]["totals"]["burned"], "60");
    let all = s.read("/v1/customers/c1/grants?limit=1").await;
    assert_eq!(all["items"][0]["grant"]["id"], pending_id.as_str(), "latest effective first");
    let cursor = all["next_cursor"].as_str().unwrap();
    let rest = s.read(&format!("/v1/customers/c1/grants?limit=1&cursor={cursor}")).await;
    assert_eq!(rest["items"][0]["grant"]["id"], "g1");
    assert!(rest["next_cursor"].is_null());

    // Ledger: newest first, filters, cursor paging, links.
    let l = s.ledger("c1").await;
    assert_eq!(l.len(), 5);
    assert_eq!(l[0]["kind"], "burn");
    assert_eq!(l[0]["event_id"], "e3");
    assert_eq!(l[0]["actor"], "u_root");
    let burns = s.read("/v1/customers/c1/ledger?kind=burn&limit=2").await;
    assert_eq!(burns["items"].as_array().unwrap().len(), 2);
    let next = burns["next_cursor"].as_str().unwrap();
    let more = s.read(&format!("/v1/customers/c1/ledger?kind=burn&limit=2&cursor={next}")).await;
    assert_eq!(more["items"].as_array().unwrap().len(), 1);
    assert_eq!(s.read("/v1/customers/c1/ledger?event=e2").await["items"].as_array().unwrap().len(), 1);
    assert_eq!(s.read("/v1/customers/c1/ledger?kind=grant,burn&grant=g1").await["items"].as_array().unwrap().len(), 4);
    assert_eq!(
        s.read("/v1/customers/c1/ledger?product=transcribe&credit_type=batch").await["items"].as_array().unwrap().len(),
        3
    );
    let window = format!("/v1/customers/c1/ledger?from={}&to={}", "2026-03-10T12:00:00Z", "2026-03-10T12:16:00Z");
    assert_eq!(s.read(&window.replace(':', "%3A")).await["items"].as_array().unwrap().len(), 2, "booked in [from, to)");

    // Burn series in a time zone, by product and by credit type.
    let burn =
        s.read("/v1/customers/c1/burn?from=2026-03-09T00:00:00Z&to=2026-03-11T00:00:00Z&tz=Europe%2FParis").await;
    assert_eq!(burn["total_burned"], "60");
    assert_eq!(burn["columns"][0], json!({"credit_type_id": "batch", "product_id": "transcribe"}));
    assert_eq!(burn["tz"], "Europe/Paris");
    let by_ct = s
        .read(
            "/v1/customers/c1/burn?from=2026-03-01T00:00:00Z&to=2026-03-11T00:00:00Z&bucket=week&group_by=credit_type",
        )
        .await;
    assert_eq!(by_ct["columns"][0]["product_id"], Value::Null);
    assert_eq!(by_ct["burned"][0], "60");
    // Default window: the 30 days up to now.
    let recent = s.read("/v1/customers/c1/burn").await;
    assert_eq!(recent["total_burned"], "60");
    assert_eq!(recent["to"], "2026-03-10T12:30:00Z");
    assert_eq!(recent["from"], "2026-02-08T12:30:00Z");

    // Customers: search and summary.
    let list = s.read("/v1/customers?q=c").await;
    assert_eq!(ids(&list["items"]), ["c1", "c2"]);
    let c1 = &list["items"][0];
    let w = &c1["wallets"][0];
    assert_eq!(w["available"], "940");
    assert_eq!(w["burn_30d"], "60");
    // Burning ~4.3 a day (the 14-day rate) would last past June, but every
    // grant expires on 2026-06-01: that is when demand goes unmet.
    assert_eq!(w["runway_date"], "2026-06-01T00:00:00Z", "{w}");
    assert_eq!(w["runway_days"], 82);
    assert_eq!(w["next_expiry"]["amount"], "940");
    assert!(list["items"][1]["wallets"].as_array().unwrap().is_empty());
    assert_eq!(s.read("/v1/customers/c1").await["wallets"][0]["net"], "940");
    assert_eq!(ids(&s.read("/v1/customers?limit=1").await["items"]), ["c1"]);

    // Forecast and expirations.
    let f = s.read("/v1/customers/c1/forecast?credit_type=batch&horizon_days=30").await;
    assert_eq!(f["rates"][0]["product_id"], "transcribe");
    assert_eq!(f["daily_burn_30d"], "2");
    assert_eq!(f["projection"].as_array().unwrap().len(), 31);
    assert_eq!(f["history"]["points"].as_array().unwrap().len(), 91);
    let last = f["history"]["points"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["available"], "940");
    let e = s.read("/v1/customers/c1/expirations").await;
    assert_eq!(e["items"][0]["grant_id"], "g1");
    assert_eq!(
        e["totals"][0],
        json!({"credit_type_id": "batch", "credits": "940", "value": {"amount": "9.4", "currency": "USD"}})
    );

    // Authorize: reads only.
    let a = s
        .post(admin, "/v1/authorize", &json!({"customer_id": "c1", "product_id": "transcribe", "quantity": "500"}))
        .await;
    let a = a.ok(200);
    assert_eq!(
        (a["allowed"].as_bool(), a["required"].as_str(), a["shortfall"].as_str()),
        (Some(false), Some("1000"), Some("60"))
    );
    let viewer = s.user("vic", "viewer").await;
    let a = s
        .post(
            Some(&viewer),
            "/v1/authorize",
            &json!({"customer_id": "c1", "product_id": "transcribe", "quantity": "1"}),
        )
        .await;
    assert_eq!(a.ok(200)["allowed"], true);
    let r = s.post(admin, "/v1/authorize", &json!({"customer_id": "c1", "product_id": "nope", "quantity": "1"})).await;
    r.problem(422, "validation_failed");
    assert_eq!(r.field(), "product_id");

    // Void: the remainder is forfeited; a second void conflicts.
    let v = s.post(admin, "/v1/grants/g1/void", &json!({"reason_code": "fraud", "ticket_ref": "ZD-9"})).await;
    let v = v.ok(200).clone();
    assert_eq!(v["voided"], "940");
    assert_eq!(v["grant"]["status"], "voided");
    assert_eq!(v["grant"]["remaining"], "0");
    assert_eq!(v["entries"][0]["kind"], "void");
    assert_eq!(v["entries"][0]["amount"], "-940");
    assert!(v["grant"]["grant"]["voided_at"].is_string());
    s.post(admin, "/v1/grants/g1/void", &json!({"reason_code": "fraud", "ticket_ref": "ZD-9"}))
        .await
        .problem(409, "grant_state_conflict");
    s.post(admin, "/v1/grants/nope/void", &json!({"reason_code": "fraud", "ticket_ref": "ZD-9"}))
        .await
        .problem(404, "not_found");
    assert_eq!(s.read("/v1/customers/c1/balances").await["balances"][0]["available"], "0");

    // Unknown customers are 404 everywhere.
    for path in ["", "/balances", "/grants", "/ledger", "/expirations", "/forecast?credit_type=batch"] {
        s.get(admin, &format!("/v1/customers/zz{path}")).await.problem(404, "not_found");
    }
    s.get(admin, "/v1/customers/zz/burn?from=2026-03-09T00:00:00Z&to=2026-03-10T00:00:00Z")
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn ingest_duplicates_conflicts_timing_and_backfill() {
    let s = Server::start().await;
    s.catalog().await;
    let admin = Some(s.admin.as_str());
    s.post(admin, "/v1/grants", &Server::grant_body("g1", "c1", "1000")).await.ok(201);
    // Usage after the grant started (earlier usage would be overage).
    s.clock.advance(TimeDelta::minutes(30));

    let e1 = s.event("e1", "c1", "5", 10);
    s.post(admin, "/v1/events", &json!({"events": [e1.clone()]})).await.ok(200);
    // Same id, same body (1.0 == 1 for quantities): duplicate, nothing written.
    let mut same = e1.clone();
    same["quantity"] = json!("5.000");
    let r = s.post(admin, "/v1/events", &json!({"events": [same]})).await;
    assert_eq!(r.ok(200)["results"][0]["status"], "duplicate");
    assert!(r.body["results"][0]["original_received_at"].is_string());
    // Same id, different body: rejected with idempotency_conflict, kept.
    let mut other = e1.clone();
    other["quantity"] = json!("6");
    let r = s.post(admin, "/v1/events", &json!({"events": [other]})).await;
    assert_eq!(r.ok(200)["results"][0]["reason"]["code"], "idempotency_conflict");
    assert_eq!(s.ledger("c1").await.len(), 2, "grant + one burn");

    // Too old, in the future, unknown product: rejected one by one, the rest books.
    let old = s.event("old", "c1", "1", 8 * 24 * 60);
    let future = s.event("fut", "c1", "1", -10);
    let mut unknown = s.event("unk", "c1", "1", 1);
    unknown["product_id"] = json!("nope");
    let ok = s.event("ok", "c1", "1", 1);
    let r = s.post(admin, "/v1/events", &json!({"events": [old.clone(), future, unknown, ok]})).await;
    let r = r.ok(200);
    let codes: Vec<&str> =
        r["results"].as_array().unwrap().iter().map(|x| x["reason"]["code"].as_str().unwrap_or("-")).collect();
    assert_eq!(codes, ["event_too_old", "event_in_future", "validation_failed", "-"]);
    assert!(r["results"][0]["reason"]["oldest_accepted"].is_string());
    assert_eq!(r["results"][2]["reason"]["field"], "product_id");
    assert_eq!((r["accepted"].as_u64(), r["rejected"].as_u64()), (Some(1), Some(3)));

    // The dead-letter view, newest first, filterable, paged.
    let rej = s.read("/v1/events/rejected").await;
    let items = rej["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    assert_eq!(items[0]["event"]["id"], "unk");
    assert_eq!(items[3]["reason"]["code"], "idempotency_conflict");
    assert_eq!(items[3]["event"]["quantity"], "6");
    assert_eq!(s.read("/v1/events/rejected?code=event_too_old").await["items"][0]["event"]["id"], "old");
    assert_eq!(s.read("/v1/events/rejected?customer=c1&product=nope").await["items"].as_array().unwrap().len(), 1);
    let page = s.read("/v1/events/rejected?limit=3").await;
    let next = page["next_cursor"].as_str().unwrap();
    assert_eq!(
        s.read(&format!("/v1/events/rejected?limit=3&cursor={next}")).await["items"].as_array().unwrap().len(),
        1
    );

    // Backfill (admin) lifts the late window only.
    let mut old2 = old.clone();
    old2["id"] = json!("old2");
    let r = s.post(admin, "/v1/events", &json!({"events": [old2], "mode": "backfill"})).await;
    assert_eq!(r.ok(200)["results"][0]["status"], "accepted", "{}", r.text);
}

/// `result_detail: status` answers each accepted event with its id and
/// status alone; rejections keep their reason, duplicates their original
/// time, and the ledger is written exactly as for a full answer.
#[tokio::test]
async fn ingest_results_with_status_alone() {
    let s = Server::start().await;
    s.catalog().await;
    let admin = Some(s.admin.as_str());
    s.post(admin, "/v1/grants", &Server::grant_body("g1", "c1", "1000")).await.ok(201);
    s.clock.advance(TimeDelta::minutes(30));

    let full = s.post(admin, "/v1/events", &json!({"events": [s.event("e1", "c1", "5", 10)]})).await;
    let full = full.ok(200)["results"][0].clone();
    assert_eq!(full["status"], "accepted");
    assert!(full["rating"]["credits"].is_string() && full["entry_seqs"].is_array(), "{full}");

    let mut unknown = s.event("unk", "c1", "1", 1);
    unknown["product_id"] = json!("nope");
    let body = json!({"events": [s.event("e2", "c1", "5", 10), unknown], "result_detail": "status"});
    let answer = s.post(admin, "/v1/events", &body).await;
    // Awaited and rendered on the HTTP worker, timed the same.
    assert_eq!(answer.stage_names(), ["admit", "parse", "queue", "write", "reply", "total"], "{:?}", answer.headers);
    let r = answer.ok(200);
    assert_eq!(r["results"][0], json!({"status": "accepted", "id": "e2"}));
    assert_eq!(r["results"][1]["reason"]["code"], "validation_failed");
    assert_eq!(r["results"][1]["reason"]["field"], "product_id");
    assert_eq!((r["accepted"].as_u64(), r["rejected"].as_u64()), (Some(1), Some(1)));
    let replay = json!({"events": [s.event("e2", "c1", "5", 10)], "result_detail": "status"});
    let again = s.post(admin, "/v1/events", &replay).await;
    let again = again.ok(200);
    assert_eq!(again["results"][0]["status"], "duplicate");
    assert!(again["results"][0]["original_received_at"].is_string(), "{again}");

    // Under a key, the writer renders the same short answer once and
    // replays it; the other setting under that key is a conflict.
    let keyed = json!({"events": [s.event("e3", "c1", "1", 5)], "result_detail": "status"});
    let first = s.post_keyed(admin, "/v1/events", &keyed, Some("k-status")).await;
    assert_eq!(first.body["results"][0], json!({"status": "accepted", "id": "e3"}), "{}", first.text);
    let replay = s.post_keyed(admin, "/v1/events", &keyed, Some("k-status")).await;
    assert_eq!((replay.header("idempotent-replayed"), replay.text.as_str()), (Some("true"), first.text.as_str()));
    let mut full = keyed.clone();
    full["result_detail"] = json!("full");
    s.post_keyed(admin, "/v1/events", &full, Some("k-status")).await.problem(409, "idempotency_conflict");

    // The same burn in the ledger as the fully answered event's.
    let e1 = s.read("/v1/customers/c1/ledger?event=e1").await["items"].clone();
    let e2 = s.read("/v1/customers/c1/ledger?event=e2").await["items"].clone();
    assert_eq!(e2.as_array().map(Vec::len), Some(1), "{e2}");
    assert_eq!((&e2[0]["kind"], &e2[0]["amount"]), (&e1[0]["kind"], &e1[0]["amount"]));
    assert_eq!(s.rejected_count().await, 1);
}

/// Every ingest answer says where its time went (`Server-Timing`): the
/// stages in order, none negative, together within the total; a replay
/// under its key is answered by the writer too.
#[tokio::test]
async fn ingest_answers_say_where_their_time_went() {
    let s = Server::start().await;
    s.catalog().await;
    let admin = Some(s.admin.as_str());
    s.post(admin, "/v1/grants", &Server::grant_body("g1", "c1", "1000")).await.ok(201);
    s.clock.advance(TimeDelta::minutes(30));
    let body = json!({"events": [s.event("e1", "c1", "5", 10), s.event("e2", "c1", "1", 5)]});
    for key in [None, Some("k1"), Some("k1")] {
        let r = s.post_keyed(admin, "/v1/events", &body, key).await;
        r.ok(200);
        assert_eq!(r.stage_names(), ["admit", "parse", "queue", "write", "reply", "total"], "{:?}", r.headers);
        let stages = r.server_timing();
        assert!(stages.iter().all(|(_, ms)| *ms >= 0.0), "{stages:?}");
        let parts: f64 = stages[..5].iter().map(|(_, ms)| ms).sum();
        let total = stages[5].1;
        // Each stage is rounded to the microsecond.
        assert!(parts <= total + 0.005, "the stages ({parts} ms) within the total ({total} ms): {stages:?}");
        assert!(stages[3].1 > 0.0, "a commit takes time: {stages:?}");
    }
}

#[tokio::test]
async fn idempotency_keys_replay_and_conflict() {
    let s = Server::start().await;
    s.catalog().await;
    let admin = Some(s.admin.as_str());

    let mut body = Server::grant_body("g1", "c1", "100");
    body.as_object_mut().unwrap().remove("id");
    let first = s.post_keyed(admin, "/v1/grants", &body, Some("k-1")).await;
    first.ok(201);
    assert_eq!(first.header("idempotent-replayed"), None);
    let again = s.post_keyed(admin, "/v1/grants", &body, Some("k-1")).await;
    again.ok(201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.text, first.text, "the replay is the original response");
    assert_eq!(s.ledger("c1").await.len(), 1, "one grant, not two");
    let mut changed = body.clone();
    changed["amount"] = json!("101");
    s.post_keyed(admin, "/v1/grants", &changed, Some("k-1")).await.problem(409, "idempotency_conflict");
    // Keys are per caller.
    let finance = s.user("fin", "finance").await;
    s.post_keyed(Some(&finance), "/v1/grants", &body, Some("k-1")).await.ok(201);
    let r = s.post_keyed(admin, "/v1/grants", &body, Some("has space")).await;
    r.problem(422, "validation_failed");
    assert_eq!(r.field(), "Idempotency-Key");

    // Void.
    let gid = first.body["grant"]["grant"]["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/grants/{gid}/void");
    let v1 = s.post_keyed(admin, &path, &json!({"reason_code": "fraud", "ticket_ref": "ZD-9"}), Some("v-1")).await;
    v1.ok(200);
    let v2 = s.post_keyed(admin, &path, &json!({"reason_code": "fraud", "ticket_ref": "ZD-9"}), Some("v-1")).await;
    v2.ok(200);
    assert_eq!(v2.header("idempotent-replayed"), Some("true"));
    assert_eq!(v1.body, v2.body);
    assert_eq!(v2.body["entries"][0]["kind"], "void");

    // Events.
    let batch = json!({"events": [s.event("e1", "c1", "1", 1)]});
    let e1 = s.post_keyed(Some(&s.admin), "/v1/events", &batch, Some("b-1")).await;
    let e2 = s.post_keyed(Some(&s.admin), "/v1/events", &batch, Some("b-1")).await;
    assert_eq!(e2.header("idempotent-replayed"), Some("true"));
    assert_eq!(e1.body, e2.body);
    assert_eq!(e2.body["results"][0]["status"], "accepted", "the replay is the original, not a duplicate");
}

#[tokio::test]
async fn bad_grant_input_names_every_field_and_writes_nothing() {
    let s = Server::start().await;
    s.catalog().await;
    let admin = Some(s.admin.as_str());
    let base = Server::grant_body("g1", "c1", "100");
    let cases: Vec<(&str, Value, &str)> = vec![
        ("id", json!(""), "id"),
        ("id", json!("a~b"), "id"),
        ("id", json!(7), "id"),
        ("customer_id", json!("has space"), "customer_id"),
        ("customer_id", json!("nobody"), "customer_id"),
        ("credit_type_id", json!("nope"), "credit_type_id"),
        ("credit_type_id", json!(null), "credit_type_id"),
        ("amount", json!("0"), "amount"),
        ("amount", json!("-5"), "amount"),
        ("amount", json!("1.0000001"), "amount"),
        ("amount", json!(100), "amount"),
        ("amount", json!("1e3"), "amount"),
        ("category", json!("free"), "category"),
        ("source", json!("gift"), "source"),
        ("priority", json!(0), "priority"),
        ("priority", json!(101), "priority"),
        ("priority", json!("high"), "priority"),
        ("effective_at", json!("2026-01-01T00:00:00Z"), "effective_at"),
        ("effective_at", json!("tomorrow"), "effective_at"),
        ("expires_at", json!("2026-03-01T00:00:00Z"), "expires_at"),
        ("products", json!([]), "products"),
        ("products", json!(["nope"]), "products"),
        ("products", json!(["bad id"]), "products[0]"),
        ("contract_id", json!(""), "contract_id"),
        ("cost_basis", json!({"amount": "1", "currency": "usd"}), "cost_basis.currency"),
        ("cost_basis", json!({"amount": "-1", "currency": "USD"}), "cost_basis.amount"),
        ("cost_basis", json!({"amount": "1"}), "cost_basis.currency"),
        ("rollover", json!({"fraction": "2", "expires_after_days": 30}), "rollover.fraction"),
        ("rollover", json!({"fraction": "0.5", "expires_after_days": 0}), "rollover.expires_after_days"),
        ("rollover", json!({"fraction": "0.5", "max_amount": "0", "expires_after_days": 3}), "rollover.max_amount"),
        ("rollover", json!({"fraction": "0.5", "expires_after_days": 3, "x": 1}), "rollover.x"),
        ("reason_code", json!(""), "reason_code"),
        ("ticket_ref", json!("tab\there"), "ticket_ref"),
        ("note", json!("x".repeat(2001)), "note"),
        ("mode", json!("import"), "mode"),
        ("amout", json!("1"), "amout"),
    ];
    for (key, value, field) in cases {
        let mut body = base.clone();
        body[key] = value.clone();
        let r = s.post(admin, "/v1/grants", &body).await;
        r.problem(422, "validation_failed");
        assert!(r.fields().iter().any(|f| f == field), "{key}={value}: expected field {field}, got {}", r.text);
    }
    // Required fields, one at a time.
    for key in ["customer_id", "credit_type_id", "amount", "category", "source", "reason_code"] {
        let mut body = base.clone();
        body.as_object_mut().unwrap().remove(key);
        let r = s.post(admin, "/v1/grants", &body).await;
        r.problem(422, "validation_failed");
        assert_eq!(r.field(), key);
        assert_eq!(r.body["errors"][0]["rule"], "is required");
    }
    // A rollover without expiry.
    let mut body = base.clone();
    body.as_object_mut().unwrap().remove("expires_at");
    body["rollover"] = json!({"fraction": "0.5", "expires_after_days": 3});
    assert_eq!(s.post(admin, "/v1/grants", &body).await.field(), "rollover");
    // Not JSON, wrong content type, empty body.
    let r = s.post_raw(admin, "/v1/grants", b"{\"id\":".to_vec(), Some("application/json")).await;
    r.problem(422, "validation_failed");
    assert_eq!(r.field(), "body");
    let r = s.post_raw(admin, "/v1/grants", serde_json::to_vec(&base).unwrap(), Some("text/plain")).await;
    assert_eq!(r.field(), "Content-Type");
    s.post_raw(admin, "/v1/grants", Vec::new(), Some("application/json")).await.problem(422, "validation_failed");

    assert!(s.ledger("c1").await.is_empty(), "nothing written by any refused request");
    s.post(admin, "/v1/grants", &base).await.ok(201);
    s.post(admin, "/v1/grants", &base).await.problem(409, "already_exists");
    // Void input.
    let r = s.post(admin, "/v1/grants/g1/void", &json!({})).await;
    assert_eq!(r.field(), "reason_code");
    let r = s.post(admin, "/v1/grants/g1/void", &json!({"reason_code": "x", "note": 5})).await;
    assert_eq!(r.field(), "note");
    // Every manual action carries a ticket reference.
    let r = s.post(admin, "/v1/grants/g1/void", &json!({"reason_code": "fraud"})).await;
    assert_eq!((r.status, r.field()), (422, "ticket_ref"));
    assert_eq!(s.ledger("c1").await.len(), 1);
}

#[tokio::test]
async fn bad_ingest_input_names_every_field_and_writes_nothing() {
    let s = Server::start().await;
    s.catalog().await;
    let admin = Some(s.admin.as_str());
    s.post(admin, "/v1/grants", &Server::grant_body("g1", "c1", "1000")).await.ok(201);
    let good = s.event("e1", "c1", "1", 1);

    // Batch-level: the request is refused whole with the field's path.
    let cases: Vec<(&str, Value, &str)> = vec![
        ("id", json!(""), "events[1].id"),
        ("id", json!(null), "events[1].id"),
        ("customer_id", json!("a b"), "events[1].customer_id"),
        ("product_id", json!("p".repeat(129)), "events[1].product_id"),
        ("quantity", json!(1.5), "events[1].quantity"),
        ("quantity", json!("1,5"), "events[1].quantity"),
        ("timestamp", json!("yesterday"), "events[1].timestamp"),
        ("timestamp", json!(1_700_000_000), "events[1].timestamp"),
        ("properties", json!([1, 2]), "events[1].properties"),
        ("colour", json!("red"), "events[1].colour"),
    ];
    for (key, value, field) in cases {
        let mut bad = s.event("e2", "c1", "1", 1);
        bad[key] = value.clone();
        let r = s.post(admin, "/v1/events", &json!({"events": [good.clone(), bad]})).await;
        r.problem(422, "validation_failed");
        assert!(r.fields().iter().any(|f| f == field), "{key}={value}: expected {field}, got {}", r.text);
    }
    for key in ["id", "customer_id", "product_id", "quantity", "timestamp"] {
        let mut bad = s.event("e2", "c1", "1", 1);
        bad.as_object_mut().unwrap().remove(key);
        let r = s.post(admin, "/v1/events", &json!({"events": [bad]})).await;
        assert_eq!(r.field(), format!("events[0].{key}"), "{}", r.text);
    }
    let r = s.post(admin, "/v1/events", &json!({"events": []})).await;
    assert_eq!(r.field(), "events");
    let r = s.post(admin, "/v1/events", &json!({"events": vec![good.clone(); 1001]})).await;
    assert_eq!(r.field(), "events");
    let r = s.post(admin, "/v1/events", &json!({"events": [good.clone()], "mode": "replay"})).await;
    assert_eq!(r.field(), "mode");
    let r = s.post(admin, "/v1/events", &json!({"events": [good.clone()], "result_detail": "none"})).await;
    r.problem(422, "validation_failed");
    assert_eq!(r.field(), "result_detail");
    let r = s.post(admin, "/v1/events", &json!({"event": [good.clone()]})).await;
    assert!(r.fields().contains(&"event".to_owned()), "{}", r.text);
    let r = s.post(admin, "/v1/events", &json!([good.clone()])).await;
    assert_eq!(r.field(), "body");
    assert_eq!(s.ledger("c1").await.len(), 1, "no refused batch wrote anything");
    assert_eq!(s.rejected_count().await, 0, "refused batches are not per-event rejections");

    // Per-event rules: rejected one by one with the field, and kept.
    let cases: Vec<(&str, Value, &str)> = vec![
        ("quantity", json!("-1"), "quantity"),
        ("quantity", json!("0.0000000000001"), "quantity"),
        ("customer_id", json!("nobody"), "customer_id"),
        ("product_id", json!("nope"), "product_id"),
        ("properties", json!({"blob": "x".repeat(5000)}), "properties"),
    ];
    for (i, (key, value, field)) in cases.iter().enumerate() {
        let mut bad = s.event(&format!("r{i}"), "c1", "1", 1);
        bad[*key] = value.clone();
        let r = s.post(admin, "/v1/events", &json!({"events": [bad]})).await;
        let res = &r.ok(200)["results"][0];
        assert_eq!(res["status"], "rejected", "{key}: {}", r.text);
        assert_eq!(res["reason"]["code"], "validation_failed");
        assert_eq!(res["reason"]["field"], *field, "{}", r.text);
    }
    assert_eq!(s.ledger("c1").await.len(), 1, "rejected events write no entries");
    assert_eq!(s.rejected_count().await, 5);

    // Too large a body: 413 as a problem.
    let huge = vec![b' '; creditdesk_server::http::MAX_BODY_BYTES + 1];
    let r = s.post_raw(admin, "/v1/events", huge, Some("application/json")).await;
    r.problem(413, "payload_too_large");
}

#[tokio::test]
async fn balances_as_of_and_at() {
    let s = Server::start().await;
    s.catalog().await;
    let admin = Some(s.admin.as_str());
    s.post(admin, "/v1/grants", &Server::grant_body("g1", "c1", "100")).await.ok(201);
    let granted_at = s.store.now();
    s.clock.advance(TimeDelta::hours(2));
    // Usage at t0 + 1h, recorded at t0 + 2h.
    let r = s.post(admin, "/v1/events", &json!({"events": [s.event("e1", "c1", "10", 60)]})).await;
    r.ok(200);
    let q = |at: chrono::DateTime<chrono::Utc>, as_of: chrono::DateTime<chrono::Utc>| {
        format!("/v1/customers/c1/balances?at={}&as_of={}", at.to_rfc3339(), as_of.to_rfc3339()).replace('+', "%2B")
    };
    let now = s.store.now();
    let avail = |v: &Value| v["balances"][0]["available"].as_str().unwrap().to_owned();
    assert_eq!(avail(&s.read(&q(now, now)).await), "80");
    // What we believed an hour ago about now: the late usage was not known yet.
    assert_eq!(avail(&s.read(&q(now, now - TimeDelta::minutes(30))).await), "100");
    // Before the usage's event time, as known now.
    assert_eq!(avail(&s.read(&q(granted_at + TimeDelta::minutes(30), now)).await), "100");
    // Before the grant existed.
    assert_eq!(avail(&s.read(&q(granted_at - TimeDelta::hours(1), now)).await), "0");
    // In the future, past its expiry (2026-06-01).
    let later = t0() + TimeDelta::days(120);
    let v = s.read(&q(later, now)).await;
    assert_eq!(avail(&v), "0");
    assert_eq!(v["balances"][0]["grants"][0]["status"], "expired");
    assert_eq!(v["balances"][0]["grants"][0]["totals"]["expired"], "80");
    // as_of may not be in the future.
    let r = s.get(admin, &q(now, now + TimeDelta::hours(1))).await;
    r.problem(422, "validation_failed");
    assert_eq!(r.field(), "as_of");
}

#[tokio::test]
async fn query_errors_name_the_parameter() {
    let s = Server::start().await;
    s.catalog().await;
    let admin = Some(s.admin.as_str());
    let cases = [
        ("/v1/customers?limit=0", "limit"),
        ("/v1/customers?limit=ten", "limit"),
        ("/v1/customers?serch=x", "serch"),
        ("/v1/customers/c1/ledger?kind=burns", "kind"),
        ("/v1/customers/c1/ledger?cursor=garbage", "cursor"),
        ("/v1/customers/c1/ledger?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z", "to"),
        ("/v1/customers/c1/ledger?order=asc", "order"),
        ("/v1/customers/c1/balances?at=yesterday", "at"),
        ("/v1/customers/c1/balances?credit_type=nope", "credit_type"),
        ("/v1/customers/c1/burn?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z&tz=Mars%2FOlympus", "tz"),
        ("/v1/customers/c1/burn?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z&tz=Paris%20time", "tz"),
        ("/v1/customers/c1/burn?from=2026-03-11T00:00:00Z", "to"),
        ("/v1/customers/c1/burn?form=2026-03-01T00:00:00Z", "form"),
        ("/v1/customers/c1/burn?from=2000-01-01T00:00:00Z&to=2026-03-02T00:00:00Z", "to"),
        ("/v1/customers/c1/forecast", "credit_type"),
        ("/v1/customers/c1/forecast?credit_type=batch&horizon_days=0", "horizon_days"),
        ("/v1/customers/c1/grants?status=alive", "status"),
        ("/v1/events/rejected?cursor=x", "cursor"),
        ("/v1/admin/products?limit=5000", "limit"),
        ("/v1/reports/expirations?days=999", "days"),
        ("/v1/reports/reconciliation?from=2026-03-01T00:00:00Z", "to"),
    ];
    for (path, field) in cases {
        let r = s.get(admin, path).await;
        r.problem(422, "validation_failed");
        assert!(r.fields().iter().any(|f| f == field), "{path}: expected {field}, got {}", r.text);
    }
    let long = format!("/v1/customers/{}", "x".repeat(200));
    assert_eq!(s.get(admin, &long).await.field(), "id");
}

#[tokio::test]
async fn finance_reports() {
    let s = Server::start().await;
    s.catalog().await;
    let admin = Some(s.admin.as_str());
    let mut soon = Server::grant_body("g1", "c1", "100");
    soon["expires_at"] = json!("2026-03-20T00:00:00Z");
    soon["rollover"] = json!({"fraction": "0.5", "expires_after_days": 30});
    s.post(admin, "/v1/grants", &soon).await.ok(201);
    let mut promo = Server::grant_body("g2", "c2", "40");
    promo["category"] = json!("promotional");
    promo["source"] = json!("promotion");
    promo["expires_at"] = json!("2026-03-25T00:00:00Z");
    s.post(admin, "/v1/grants", &promo).await.ok(201);
    s.clock.advance(TimeDelta::minutes(30));
    s.post(admin, "/v1/events", &json!({"events": [s.event("e1", "c1", "10", 5), s.event("e2", "c2", "5", 5)]}))
        .await
        .ok(200);

    let r = s.read("/v1/reports/expirations").await;
    assert_eq!(r["rows"][0]["credit_type_id"], "batch");
    assert_eq!(r["rows"][0]["credits"], "110");
    assert_eq!(r["rows"][0]["paid_credits"], "80");
    assert_eq!(r["rows"][0]["rolls_over"], "40");
    assert_eq!(r["total_value"], json!({"amount": "1.1", "currency": "USD"}));
    let by_customer = s.read("/v1/reports/expirations?group_by=customer&limit=1").await;
    assert_eq!(by_customer["rows"][0]["customer_id"], "c1");
    assert!(by_customer["next_cursor"].is_string());
    assert_eq!(by_customer["totals"][0]["credits"], "110", "totals cover every page");
    let weeks = s.read("/v1/reports/expirations?group_by=week&tz=America%2FNew_York").await;
    assert_eq!(weeks["rows"].as_array().unwrap().len(), 2);
    assert_eq!(weeks["rows"][0]["week_start"], "2026-03-16");

    // After the expiries: breakage by month and category.
    s.clock.set(t0() + TimeDelta::days(20));
    s.store.sweep().await.unwrap();
    let b = s.read("/v1/reports/breakage").await;
    let rows = b["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{b}");
    assert_eq!(rows[0]["category"], "paid");
    assert_eq!(rows[0]["expired"], "40", "half rolled over");
    assert_eq!(rows[1]["category"], "promotional");
    assert_eq!(rows[1]["expired"], "30");
    assert_eq!(b["total_expired_value"]["amount"], "0.7");
    assert_eq!((rows[0]["month"].as_str(), b["group_by"].as_str()), (Some("2026-03-01"), Some("month")));
    // The same breakage by week (g1 expired on Friday the 20th, g2 on Wednesday the 25th) ...
    let weeks = s.read("/v1/reports/breakage?group_by=week").await;
    let starts: Vec<&str> =
        weeks["rows"].as_array().unwrap().iter().map(|r| r["week_start"].as_str().unwrap()).collect();
    assert_eq!(starts, ["2026-03-16", "2026-03-23"]);
    assert!(weeks["rows"][0]["month"].is_null());
    // ... and by customer, paged, the totals covering every page.
    let first = s.read("/v1/reports/breakage?group_by=customer&limit=1").await;
    assert_eq!(
        (first["rows"][0]["customer_id"].as_str(), first["rows"][0]["expired"].as_str()),
        (Some("c1"), Some("40"))
    );
    assert_eq!(first["total_expired_value"]["amount"], "0.7", "totals cover every page");
    let cursor = first["next_cursor"].as_str().unwrap();
    let second =
        s.read(&format!("/v1/reports/breakage?group_by=customer&limit=1&cursor={}", cursor.replace(' ', "%20"))).await;
    assert_eq!(
        (second["rows"][0]["customer_id"].as_str(), second["rows"][0]["expired"].as_str()),
        (Some("c2"), Some("30"))
    );
    assert!(second["next_cursor"].is_null());

    let rec = s.read("/v1/reports/reconciliation?from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z&bucket=month").await;
    assert_eq!(rec["balanced"], true);
    assert_eq!(rec["rows"][0]["events"], 2);
    assert_eq!(rec["rows"][0]["rated"], "30");
    assert_eq!(rec["rows"][0]["burned"], "30");
    assert_eq!(rec["rows"][0]["overage"], "0");
    let one = s.read("/v1/reports/reconciliation?from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z&customer=c2").await;
    assert_eq!(one["rows"][0]["rated"], "10");
}

#[tokio::test]
async fn version_and_me() {
    let s = Server::start().await;
    let v = s.read("/v1/version").await;
    assert_eq!(v["name"], "creditdesk-server");
    let agent = s.user("sam", "support_agent").await;
    let me = s.get(Some(&agent), "/v1/me").await;
    let me = me.ok(200);
    assert_eq!(me["user_id"], "u_sam");
    assert_eq!(me["limits"]["per_action"], json!({"amount": "50", "currency": "USD"}));
    assert_eq!(me["budget_period_start"], "2026-03-01T00:00:00Z");
    assert_eq!(me["budget_period_end"], "2026-04-01T00:00:00Z");
    let admin = s.read("/v1/me").await;
    assert!(admin["limits"]["per_action"].is_null(), "admins are unlimited");
}
