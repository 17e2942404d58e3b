//! Support workflows over real HTTP, each body run on SQLite and on a
//! throwaway PostgreSQL: limits and the monthly budget, approvals (every
//! way around them tried and refused), exactly-once execution under
//! concurrent approvals (two clients; on PostgreSQL also two servers),
//! disputes and the audit log, and a support day end to end.
//!
//! Balances and grants are read from the store (the same methods both
//! backends share), the ledger and everything of the workflow over HTTP.

#[macro_use]
mod common;

use common::Server;
use creditdesk_api::routes::{self, Method};
use creditdesk_ledger::ids::{CreditTypeId, CustomerId};
use rust_decimal::Decimal;
use serde_json::{json, Value};

both!(limits_and_me, limits_and_me_sqlite, limits_and_me_postgres);
both!(grants_through_limits, grants_through_limits_sqlite, grants_through_limits_postgres);
both!(approval_rules, approval_rules_sqlite, approval_rules_postgres);
both!(concurrent_approvals, concurrent_approvals_sqlite, concurrent_approvals_postgres);
both!(voids_and_double_reversal, voids_and_double_reversal_sqlite, voids_and_double_reversal_postgres);
both!(viewer_writes_nothing, viewer_writes_nothing_sqlite, viewer_writes_nothing_postgres);
both!(support_day, support_day_sqlite, support_day_postgres);
both!(ingest_audited_with_its_batch, ingest_audited_with_its_batch_sqlite, ingest_audited_with_its_batch_postgres);

fn dec(v: &Value) -> Decimal {
    v.as_str().unwrap_or_else(|| panic!("not a decimal string: {v}")).parse().unwrap()
}

/// The catalog of `Server::catalog` (credit type `batch` at 0.01 USD,
/// `transcribe` 2 credits per unit, customers c1 and c2), created over
/// HTTP on either database.
async fn setup(s: &Server) {
    let admin = Some(s.admin.as_str());
    let ok = |r: common::Resp| assert_eq!(r.status, 201, "{}", r.text);
    ok(s.post(
        admin,
        "/v1/admin/credit-types",
        &json!({"id": "batch", "name": "Batch", "unit_label": "credits",
                "unit_price": {"amount": "0.01", "currency": "USD"}}),
    )
    .await);
    ok(s.post(
        admin,
        "/v1/admin/products",
        &json!({"id": "transcribe", "name": "transcribe", "credit_type_id": "batch",
                "rate_card": [{"effective_from": "2026-01-01T00:00:00Z", "credits_per_unit": "2"}]}),
    )
    .await);
    for c in ["c1", "c2"] {
        s.post(admin, "/v1/admin/customers", &json!({"id": c, "name": c})).await.ok(201);
    }
    assert!(s.store.catalog().product(&creditdesk_ledger::ids::ProductId::new("transcribe").unwrap()).is_ok());
}

/// `available` credits of the customer's `batch` wallet now, as the API
/// answers it.
async fn available(s: &Server, customer: &str) -> Decimal {
    let body = s.read(&format!("/v1/customers/{customer}/balances")).await;
    let batch = body["balances"].as_array().and_then(|b| b.iter().find(|w| w["credit_type_id"] == "batch"));
    dec(&batch.unwrap_or_else(|| panic!("no batch wallet: {body}"))["available"])
}

/// The audit rows matching `query` (newest first), read as admin.
async fn audit(s: &Server, query: &str) -> Vec<Value> {
    s.read(&format!("/v1/audit?limit=1000&{query}")).await["items"].as_array().cloned().unwrap_or_default()
}

/// Whether an audit row with this action, outcome and rule exists.
fn has(rows: &[Value], action: &str, outcome: &str, rule: &str) -> bool {
    rows.iter().any(|r| r["action"] == action && r["outcome"] == outcome && r["rule"] == rule)
}

fn kinds(ledger: &[Value], kind: &str) -> usize {
    ledger.iter().filter(|e| e["kind"] == kind).count()
}

async fn limits_and_me(s: Server) {
    setup(&s).await;
    let admin = Some(s.admin.as_str());
    let ann = s.user("ann", "support_agent").await;
    let me = s.get(Some(&ann), "/v1/me").await;
    let me = me.ok(200);
    assert_eq!(me["limits"]["per_action"]["amount"], "50");
    assert_eq!(me["limits"]["monthly"]["amount"], "500");
    assert_eq!(me["limits"]["approve_up_to"]["amount"], "0");
    assert_eq!(me["remaining_monthly_budget"], json!({"amount": "500", "currency": "USD"}));
    let root = s.read("/v1/me").await;
    assert_eq!(root["limits"]["per_action"], Value::Null, "admin: unlimited");
    assert_eq!(root["remaining_monthly_budget"], Value::Null);

    // The spec's defaults, stored.
    let roles = s.read("/v1/admin/roles").await;
    let names: Vec<&str> = roles["roles"].as_array().unwrap().iter().map(|r| r["role"].as_str().unwrap()).collect();
    assert_eq!(names, ["viewer", "account_manager", "support_agent", "support_lead", "finance", "admin"]);
    assert_eq!(roles["roles"][4]["limits"]["approve_up_to"]["amount"], "50000");
    assert_eq!(roles["roles"][2]["updated_by"], "system:default");

    // Only an admin edits them; the refusal is audited.
    let body = json!({"per_action": "20", "monthly": "100", "approve_up_to": "0"});
    let path = "/v1/admin/roles/support_agent/limits";
    s.post(Some(&ann), path, &body).await.problem(403, "insufficient_permission");
    let r = s.post(admin, "/v1/admin/roles/wizard/limits", &body).await;
    r.problem(422, "validation_failed");
    assert_eq!(r.field(), "id");
    let r = s.post(admin, path, &json!({"per_action": "20", "monthly": "100"})).await;
    r.problem(422, "validation_failed");
    let r = s.post(admin, path, &json!({"per_action": "-1", "monthly": null, "approve_up_to": null})).await;
    assert_eq!(r.field(), "per_action");
    let set = s.post(admin, path, &body).await;
    assert_eq!(set.ok(200)["limits"]["per_action"]["amount"], "20");
    assert_eq!(set.body["updated_by"], "u_root");
    let me = s.get(Some(&ann), "/v1/me").await;
    assert_eq!(me.ok(200)["remaining_monthly_budget"]["amount"], "100");

    // The new limit decides at once: 25 USD is 5 over the 20 per action.
    let r = s.post(Some(&ann), "/v1/grants", &Server::grant_body("g1", "c1", "2500")).await;
    let p = r.ok(202);
    assert_eq!((p["exceeded"].as_str(), p["limit"]["amount"].as_str()), (Some("per_action"), Some("20")));
    assert_eq!(p["exceeded_by"]["amount"], "5");
    assert_eq!(p["approver_roles"], json!(["support_lead", "finance", "admin"]));

    let rows = audit(&s, "").await;
    assert!(has(&rows, "POST /v1/admin/roles/{id}/limits", "refused", "insufficient_permission"), "{rows:?}");
    let set = rows.iter().find(|r| r["action"] == "limits.set").expect("limits.set audited");
    assert_eq!((set["actor"].as_str(), set["outcome"].as_str()), (Some("u_root"), Some("ok")));
    assert_eq!(set["detail"], "per_action=20 monthly=100 approve_up_to=0");
    assert!(has(&rows, "grant", "approval_requested", "limit.per_action"), "{rows:?}");
}

async fn grants_through_limits(s: Server) {
    setup(&s).await;
    let ann = s.user("ann", "support_agent").await;
    let bob = s.user("bob", "support_agent").await;
    let amy = s.user("amy", "account_manager").await;
    let vic = s.user("vic", "viewer").await;

    // Ten grants of 50 USD each: every one within the per-action limit...
    for i in 0..10 {
        s.post(Some(&ann), "/v1/grants", &Server::grant_body(&format!("g{i}"), "c1", "5000")).await.ok(201);
    }
    // ...and the month's 500 is spent: the eleventh, and even a tiny one,
    // become approval requests naming the monthly budget.
    let r = s.post(Some(&ann), "/v1/grants", &Server::grant_body("g10", "c1", "5000")).await;
    let p = r.ok(202);
    assert_eq!((p["exceeded"].as_str(), p["limit"]["amount"].as_str()), (Some("monthly"), Some("0")));
    assert_eq!(p["exceeded_by"]["amount"], "50");
    let r = s.post(Some(&ann), "/v1/grants", &Server::grant_body("g11", "c1", "1")).await;
    assert_eq!(r.ok(202)["exceeded"], "monthly");
    assert_eq!(s.get(Some(&ann), "/v1/me").await.ok(200)["remaining_monthly_budget"]["amount"], "0");
    assert_eq!(available(&s, "c1").await, Decimal::from(50_000));

    // The preview says the same without writing.
    let pv = s.post(Some(&ann), "/v1/grants/preview", &Server::grant_body("g12", "c1", "100")).await;
    let pv = pv.ok(200);
    assert_eq!(pv["executes_now"], false);
    assert_eq!(pv["exceeded"], "monthly");
    assert_eq!((dec(&pv["available_before"]), dec(&pv["available_after"])), (50_000.into(), 50_100.into()));
    let pv = s.post(Some(&bob), "/v1/grants/preview", &Server::grant_body("g12", "c1", "100")).await;
    assert_eq!(pv.ok(200)["executes_now"], true);
    assert_eq!(pv.body["approver_roles"], json!([]));

    // One cent over the per-action limit.
    let r = s.post(Some(&bob), "/v1/grants", &Server::grant_body("g13", "c1", "5001")).await;
    let p = r.ok(202);
    assert_eq!((p["exceeded"].as_str(), p["exceeded_by"]["amount"].as_str()), (Some("per_action"), Some("0.01")));
    // An account manager never grants alone, however small.
    let r = s.post(Some(&amy), "/v1/grants", &Server::grant_body("g14", "c1", "1")).await;
    let p = r.ok(202);
    assert_eq!((p["exceeded"].as_str(), p["limit"]["amount"].as_str()), (Some("per_action"), Some("0")));
    // A viewer may not even ask.
    s.post(Some(&vic), "/v1/grants", &Server::grant_body("g15", "c1", "1"))
        .await
        .problem(403, "insufficient_permission");
    // Reason code, ticket and note are required.
    let mut bare = Server::grant_body("g16", "c1", "1");
    bare.as_object_mut().unwrap().remove("ticket_ref");
    bare.as_object_mut().unwrap().remove("note");
    let r = s.post(Some(&bob), "/v1/grants", &bare).await;
    r.problem(422, "validation_failed");
    assert_eq!(r.fields(), ["ticket_ref", "note"]);
    bare["ticket_ref"] = json!("ZD-1");
    bare["note"] = json!("x");
    bare["reason_code"] = json!("");
    assert_eq!(s.post(Some(&bob), "/v1/grants", &bare).await.field(), "reason_code");
    let ledger = s.ledger("c1").await;
    assert_eq!(kinds(&ledger, "grant"), 10, "refusals and requests booked nothing");

    // A new month, a new budget.
    s.clock.set(chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 4, 1, 0, 0, 0).unwrap());
    s.post(Some(&ann), "/v1/grants", &Server::grant_body("g17", "c1", "5000")).await.ok(201);

    let rows = audit(&s, "actor=u_ann&action=grant").await;
    assert_eq!(rows.iter().filter(|r| r["outcome"] == "executed").count(), 11);
    assert_eq!(rows.iter().filter(|r| r["rule"] == "limit.monthly").count(), 2);
    assert_eq!(rows[0]["value"], json!({"amount": "50", "currency": "USD"}));
    let refused = audit(&s, "actor=u_bob").await;
    assert!(has(&refused, "POST /v1/grants", "refused", "validation_failed"), "{refused:?}");
    assert!(has(&audit(&s, "actor=u_vic").await, "POST /v1/grants", "refused", "insufficient_permission"));
}

/// Files a grant request worth `credits` x 0.01 USD as `token`; its approval id.
async fn request(s: &Server, token: &str, id: &str, credits: &str) -> String {
    let r = s.post(Some(token), "/v1/grants", &Server::grant_body(id, "c1", credits)).await;
    r.ok(202)["approval_id"].as_str().unwrap().to_owned()
}

async fn approval_rules(s: Server) {
    setup(&s).await;
    let ann = s.user("ann", "support_agent").await;
    let ben = s.user("ben", "support_agent").await;
    let lea = s.user("lea", "support_lead").await;
    let leo = s.user("leo", "support_lead").await;
    let fin = s.user("fin", "finance").await;
    let vic = s.user("vic", "viewer").await;
    let approve = |id: &str| format!("/v1/approvals/{id}/approve");

    let id = request(&s, &ann, "big", "10000").await;
    let list = |q: &str, t: &str| {
        let (q, t) = (q.to_owned(), t.to_owned());
        let s = &s;
        async move { s.get(Some(&t), &format!("/v1/approvals?{q}")).await.ok(200)["items"].as_array().unwrap().len() }
    };
    assert_eq!(list("status=pending", &lea).await, 1);
    assert_eq!(list("mine=true", &ann).await, 1);
    assert_eq!(list("mine=true", &lea).await, 0);
    assert_eq!(list("customer=c2", &lea).await, 0);
    let got = s.get(Some(&lea), &format!("/v1/approvals/{id}")).await;
    assert_eq!(got.ok(200)["status"], "pending");
    assert_eq!(got.body["request"]["amount"], "10000");
    assert_eq!(got.body["value"]["amount"], "100");

    // Every way around the rules, refused with the rule's code.
    s.post(Some(&ann), &approve(&id), &json!({})).await.problem(403, "self_approval_forbidden");
    let r = s.post(Some(&ben), &approve(&id), &json!({})).await;
    r.problem(403, "approve_limit_exceeded");
    assert_eq!(r.body["approve_up_to"], "0 USD");
    s.post(Some(&vic), &approve(&id), &json!({})).await.problem(403, "insufficient_permission");
    s.post(Some(&lea), &approve("nope"), &json!({})).await.problem(404, "not_found");
    assert!(s.ledger("c1").await.is_empty());

    // A lead approves: executed once, requester and approver on the grant.
    let r = s.post_keyed(Some(&lea), &approve(&id), &json!({}), Some("ap-1")).await;
    let d = r.ok(200);
    assert_eq!(
        (d["approval"]["status"].as_str(), d["approval"]["decided_by"].as_str()),
        (Some("approved"), Some("u_lea"))
    );
    assert_eq!(d["entries"][0]["kind"], "grant");
    let b = s.store.balance(CustomerId::new("c1").unwrap(), CreditTypeId::new("batch").unwrap(), None, None).await;
    let g = b.unwrap().grants.into_iter().find(|g| g.grant.id.as_str() == "big").unwrap();
    assert_eq!(g.grant.created_by.as_str(), "u_ann");
    assert_eq!(g.grant.approved_by.as_ref().map(|a| a.as_str()), Some("u_lea"));
    // Replays: the same key answers the same; anyone else finds it decided.
    let again = s.post_keyed(Some(&lea), &approve(&id), &json!({}), Some("ap-1")).await;
    assert_eq!((again.text.as_str(), again.header("idempotent-replayed")), (r.text.as_str(), Some("true")));
    let r = s.post(Some(&leo), &approve(&id), &json!({})).await;
    r.problem(409, "approval_not_pending");
    assert_eq!(r.body["approval_status"], "approved");
    s.post(Some(&lea), &approve(&id), &json!({})).await.problem(409, "approval_not_pending");
    assert_eq!(kinds(&s.ledger("c1").await, "grant"), 1, "executed exactly once");

    // Reject: a reason is required; then it can no longer be approved.
    let id2 = request(&s, &ann, "r2", "20000").await;
    let reject = format!("/v1/approvals/{id2}/reject");
    assert_eq!(s.post(Some(&lea), &reject, &json!({})).await.field(), "reason");
    assert_eq!(s.post(Some(&lea), &reject, &json!({"reason": "  "})).await.field(), "reason");
    s.post(Some(&ann), &reject, &json!({"reason": "mine"})).await.problem(403, "self_approval_forbidden");
    let r = s.post(Some(&lea), &reject, &json!({"reason": "no evidence on the ticket"})).await;
    assert_eq!(r.ok(200)["approval"]["status"], "rejected");
    assert_eq!(r.body["approval"]["decision_note"], "no evidence on the ticket");
    s.post(Some(&leo), &approve(&id2), &json!({})).await.problem(409, "approval_not_pending");

    // Cancel: the requester only; a cancelled request cannot be approved.
    let id3 = request(&s, &ann, "r3", "20000").await;
    let cancel = format!("/v1/approvals/{id3}/cancel");
    s.post(Some(&leo), &cancel, &json!({})).await.problem(403, "not_requester");
    assert_eq!(
        s.post(Some(&ann), &cancel, &json!({"reason": "typo"})).await.ok(200)["approval"]["status"],
        "cancelled"
    );
    let r = s.post(Some(&lea), &approve(&id3), &json!({})).await;
    r.problem(409, "approval_not_pending");
    assert_eq!(r.body["approval_status"], "cancelled");

    // Above the lead's approve limit (600 > 500): finance may.
    let id5 = request(&s, &ann, "r5", "60000").await;
    let got = s.get(Some(&lea), &format!("/v1/approvals/{id5}")).await;
    assert_eq!(got.ok(200)["approver_roles"], json!(["finance", "admin"]));
    s.post(Some(&lea), &approve(&id5), &json!({})).await.problem(403, "approve_limit_exceeded");
    s.post(Some(&fin), &approve(&id5), &json!({})).await.ok(200);

    // Expiry after 7 days, by the clock.
    let id4 = request(&s, &ann, "r4", "20000").await;
    s.clock.advance(chrono::TimeDelta::days(7) + chrono::TimeDelta::seconds(1));
    let got = s.get(Some(&lea), &format!("/v1/approvals/{id4}")).await;
    assert_eq!(got.ok(200)["status"], "expired");
    assert_eq!(list("status=pending", &lea).await, 0);
    assert_eq!(list("status=expired", &lea).await, 1);
    let r = s.post(Some(&lea), &approve(&id4), &json!({})).await;
    r.problem(409, "approval_expired");

    let ledger = s.ledger("c1").await;
    let granted: Vec<&str> =
        ledger.iter().filter(|e| e["kind"] == "grant").map(|e| e["grant_id"].as_str().unwrap()).collect();
    assert_eq!(granted.len(), 2, "{granted:?}");
    assert!(granted.contains(&"big") && granted.contains(&"r5"));

    let rows = audit(&s, "").await;
    for (action, outcome, rule) in [
        ("approval.approve", "refused", "self_approval_forbidden"),
        ("approval.approve", "refused", "approve_limit_exceeded"),
        ("approval.approve", "refused", "approval_not_pending"),
        ("approval.approve", "refused", "approval_expired"),
        ("approval.cancel", "refused", "not_requester"),
        ("POST /v1/approvals/{id}/approve", "refused", "insufficient_permission"),
        ("POST /v1/approvals/{id}/reject", "refused", "validation_failed"),
    ] {
        assert!(has(&rows, action, outcome, rule), "no {action} {outcome} {rule} in {rows:#?}");
    }
    let of_c1 = audit(&s, "customer=c1").await;
    assert!(has(&of_c1, "approval.approve", "refused", "self_approval_forbidden"), "refusals name the customer");
    assert!(of_c1.iter().all(|r| r["customer_id"] == "c1"));
    let approved: Vec<&Value> = rows.iter().filter(|r| r["outcome"] == "approved").collect();
    assert_eq!(approved.len(), 2);
    assert_eq!(approved[1]["actor"], "u_lea");
    assert_eq!(approved[1]["value"]["amount"], "100");
    assert!(approved[1]["request_id"].is_string());
}

/// Two approvers at once: exactly one executes.
async fn race(a: &Server, b: &Server, requester: &str, x: &str, y: &str, round: usize) {
    let id = request(a, requester, &format!("race{round}"), "10000").await;
    let path = format!("/v1/approvals/{id}/approve");
    let empty = json!({});
    let (r1, r2) = tokio::join!(a.post(Some(x), &path, &empty), b.post(Some(y), &path, &empty));
    let mut statuses = [r1.status, r2.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "{} / {}", r1.text, r2.text);
    let loser = if r1.status == 409 { r1 } else { r2 };
    assert_eq!(loser.code(), "approval_not_pending");
}

async fn concurrent_approvals(s: Server) {
    setup(&s).await;
    let ann = s.user("ann", "support_agent").await;
    let lea = s.user("lea", "support_lead").await;
    let leo = s.user("leo", "support_lead").await;
    for round in 0..5 {
        race(&s, &s, &ann, &lea, &leo, round).await;
    }
    let ledger = s.ledger("c1").await;
    assert_eq!(kinds(&ledger, "grant"), 5, "one execution per request");
    assert_eq!(available(&s, "c1").await, Decimal::from(50_000));
}

/// Waits for a second server to see the catalog the first one wrote (it
/// polls the catalog version every second).
async fn catalog_reaches(s: &Server) {
    let batch = CreditTypeId::new("batch").unwrap();
    for _ in 0..100 {
        if s.store.catalog().credit_type(&batch).is_ok() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the second server never saw the catalog");
}

/// Two servers on one PostgreSQL database approve the same request at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_approvals_on_two_servers() {
    let (a, b) = Server::start_pg_pair("workflow_two_servers").await;
    setup(&a).await;
    catalog_reaches(&b).await;
    let ann = a.user("ann", "support_agent").await;
    let lea = a.user("lea", "support_lead").await;
    let leo = a.user("leo", "support_lead").await;
    for round in 0..5 {
        race(&a, &b, &ann, &lea, &leo, round).await;
        // The same user from both servers, too.
        race(&a, &b, &ann, &lea, &lea, round + 100).await;
    }
    assert_eq!(kinds(&a.ledger("c1").await, "grant"), 10);
    assert_eq!(kinds(&b.ledger("c1").await, "grant"), 10);
    assert_eq!(available(&b, "c1").await, Decimal::from(100_000));
}

async fn voids_and_double_reversal(s: Server) {
    setup(&s).await;
    let admin = Some(s.admin.as_str());
    let ann = s.user("ann", "support_agent").await;
    s.post(admin, "/v1/grants", &Server::grant_body("g1", "c1", "1000")).await.ok(201);
    // Voids need finance or admin.
    let r = s.post(Some(&ann), "/v1/grants/g1/void", &json!({"reason_code": "fraud", "ticket_ref": "ZD-9"})).await;
    r.problem(403, "insufficient_permission");
    assert_eq!(r.body["required_roles"], json!(["finance", "admin"]));
    assert!(has(&audit(&s, "actor=u_ann").await, "POST /v1/grants/{id}/void", "refused", "insufficient_permission"));

    s.post(admin, "/v1/events", &json!({"events": [s.event("e1", "c1", "10", 5)]})).await.ok(200);
    assert_eq!(available(&s, "c1").await, Decimal::from(980));
    let open = |id: &str| json!({"id": id, "customer_id": "c1", "events": ["e1"], "ticket_ref": "ZD-7", "description": "double charge"});
    s.post(Some(&ann), "/v1/disputes", &open("d1")).await.ok(201);
    let resolve = json!({"outcome": "reverse_usage", "reason": "duplicate upload", "reason_code": "billing_error"});
    let r = s.post(Some(&ann), "/v1/disputes/d1/resolve", &resolve).await;
    assert_eq!(r.ok(201)["reversed_events"], json!(["e1"]));
    assert_eq!(r.body["dispute"]["status"], "resolved");
    assert_eq!(available(&s, "c1").await, Decimal::from(1000));

    // The same event again: refused by the rule, nothing booked, audited.
    s.post(Some(&ann), "/v1/disputes", &open("d2")).await.ok(201);
    let r = s.post(admin, "/v1/disputes/d2/resolve", &resolve).await;
    r.problem(409, "already_reversed");
    assert_eq!(kinds(&s.ledger("c1").await, "reversal"), 1);
    assert_eq!(available(&s, "c1").await, Decimal::from(1000));
    let d2 = s.read("/v1/disputes/d2").await;
    assert_eq!(d2["dispute"]["status"], "open", "a refused resolution changes nothing");
    let ev = s.read("/v1/disputes/d2/evidence").await;
    assert_eq!(ev["events"][0]["reversed"], true);
    assert_eq!(ev["events"][0]["reversals"][0]["kind"], "reversal");
    // A resolved dispute cannot be resolved again.
    s.post(admin, "/v1/disputes/d1/resolve", &resolve).await.problem(409, "dispute_state_conflict");
    let rows = audit(&s, "customer=c1").await;
    assert!(has(&rows, "reverse_usage", "refused", "already_reversed"), "{rows:#?}");
    assert!(has(&rows, "reverse_usage", "executed", "limit.within"), "{rows:#?}");
}

async fn viewer_writes_nothing(s: Server) {
    setup(&s).await;
    let vic = s.user("vic", "viewer").await;
    let mut refused = 0;
    for r in routes::ROUTES.iter().filter(|r| r.method == Method::Post) {
        if r.path == routes::AUTHORIZE || r.path == routes::GRANT_PREVIEW {
            continue; // they write nothing
        }
        let n = r.path.matches('{').count();
        let path = routes::fill(r.path, &vec!["x"; n]).unwrap();
        let resp = s.post(Some(&vic), &path, &json!({})).await;
        resp.problem(403, "insufficient_permission");
        refused += 1;
    }
    assert!(refused >= 15);
    let rows = audit(&s, "actor=u_vic").await;
    assert_eq!(rows.len(), refused, "every refusal is in the audit log");
    assert!(rows.iter().all(|r| r["rule"] == "insufficient_permission" && r["role"] == "viewer"));
    assert!(s.ledger("c1").await.is_empty());
}

async fn support_day(s: Server) {
    setup(&s).await;
    let admin = Some(s.admin.as_str());
    let ann = s.user("ann", "support_agent").await;
    let lea = s.user("lea", "support_lead").await;
    s.post(admin, "/v1/grants", &Server::grant_body("paid", "c1", "100000")).await.ok(201);
    s.clock.advance(chrono::TimeDelta::hours(2));
    let events: Vec<Value> = (1..=3).map(|i| s.event(&format!("e{i}"), "c1", "1000", 60 - i)).collect();
    s.post(admin, "/v1/events", &json!({ "events": events })).await.ok(200);
    assert_eq!(available(&s, "c1").await, Decimal::from(94_000));

    // 09:00 the customer writes in: three burns look doubled.
    let open = json!({"id": "d1", "customer_id": "c1", "events": ["e1", "e2", "e3"], "ticket_ref": "ZD-42",
                      "description": "three uploads billed twice", "claimed_amount": "6000"});
    assert_eq!(s.read("/v1/customers/c1").await["open_disputes"], 0);
    let d = s.post(Some(&ann), "/v1/disputes", &open).await;
    let d = d.ok(201);
    assert_eq!(d["status"], "open");
    assert_eq!(s.read("/v1/customers/c1").await["open_disputes"], 1, "the customer's summary counts it");
    assert_eq!(d["sla_due_at"], "2026-03-13T14:00:00Z");
    assert_eq!(d["overdue"], false);
    let r = s
        .post(
            Some(&ann),
            "/v1/disputes",
            &json!({"customer_id": "c2", "events": ["e1"], "ticket_ref": "x",
        "description": "y"}),
        )
        .await;
    assert_eq!((r.status, r.field()), (422, "events[0]"));

    // The agent inspects the evidence.
    let ev = s.get(Some(&ann), "/v1/disputes/d1/evidence").await;
    let ev = ev.ok(200);
    assert_eq!(ev["total_credits"], "6000");
    assert_eq!(ev["total_value"], json!({"amount": "60", "currency": "USD"}));
    let e1 = &ev["events"][0];
    assert_eq!((e1["credits"].as_str(), e1["credits_per_unit"].as_str()), (Some("2000"), Some("2")));
    assert_eq!(e1["rate_version"], "2026-01-01T00:00:00Z");
    assert_eq!(e1["properties"]["model"], "large");
    assert_eq!(e1["usage"][0]["kind"], "burn");
    assert_eq!(e1["usage"][0]["grant_id"], "paid");
    assert_eq!(e1["usage"][0]["amount"], "-2000");
    assert!(e1["usage"][0]["recorded_at"].is_string() && e1["received_at"].is_string());
    assert_eq!(e1["reversed"], false);
    let c = s.post(Some(&ann), "/v1/disputes/d1/comments", &json!({"body": "uploads e1-e3 are duplicates"})).await;
    assert_eq!(c.ok(201)["author"], "u_ann");
    let a = s.post(Some(&ann), "/v1/disputes/d1/assign", &json!({"assignee": "u_ann"})).await;
    assert_eq!(a.ok(200)["status"], "investigating");
    let listed = s.get(Some(&ann), "/v1/disputes?assignee=u_ann&status=investigating").await;
    assert_eq!(listed.ok(200)["items"].as_array().unwrap().len(), 1);

    // Reversing 60 USD is above the agent's 50: it waits for a lead.
    let resolve = json!({"outcome": "reverse_usage", "reason": "duplicate uploads", "reason_code": "billing_error"});
    let r = s.post(Some(&ann), "/v1/disputes/d1/resolve", &resolve).await;
    let r = r.ok(202);
    assert_eq!(r["dispute"]["status"], "awaiting_approval");
    let p = &r["approval"];
    assert_eq!((p["exceeded"].as_str(), p["limit"]["amount"].as_str()), (Some("per_action"), Some("50")));
    assert_eq!(p["exceeded_by"]["amount"], "10");
    assert_eq!(p["approver_roles"], json!(["support_lead", "finance", "admin"]));
    let id = p["approval_id"].as_str().unwrap().to_owned();
    assert_eq!(available(&s, "c1").await, Decimal::from(94_000), "nothing booked yet");
    s.post(Some(&ann), "/v1/disputes/d1/resolve", &resolve).await.problem(409, "dispute_state_conflict");
    let pending = s.get(Some(&lea), "/v1/approvals?status=pending&dispute=d1").await;
    assert_eq!(pending.ok(200)["items"][0]["id"], id.as_str());

    // The lead approves.
    let done = s.post(Some(&lea), &format!("/v1/approvals/{id}/approve"), &json!({})).await;
    let done = done.ok(200);
    assert_eq!(done["reversed_events"], json!(["e1", "e2", "e3"]));
    assert_eq!(done["reversed"], "6000");

    // Balance, ledger, dispute, approval and audit agree.
    assert_eq!(available(&s, "c1").await, Decimal::from(100_000));
    let ledger = s.ledger("c1").await;
    let reversals: Vec<&Value> = ledger.iter().filter(|e| e["kind"] == "reversal").collect();
    assert_eq!(reversals.len(), 3);
    let total: Decimal = reversals.iter().map(|e| dec(&e["amount"])).sum();
    assert_eq!(total, Decimal::from(6000));
    for e in &reversals {
        assert_eq!((e["actor"].as_str(), e["ticket_ref"].as_str()), (Some("u_ann"), Some("ZD-42")));
        assert_eq!(e["reason_code"], "billing_error");
        assert!(e["note"].as_str().unwrap().contains(&format!("approved by u_lea, {id}")), "{e}");
    }
    let d = s.read("/v1/disputes/d1").await;
    let dd = &d["dispute"];
    assert_eq!((dd["status"].as_str(), dd["resolution"].as_str()), (Some("resolved"), Some("reverse_usage")));
    assert_eq!(s.read("/v1/customers/c1").await["open_disputes"], 0, "resolved: no longer open");
    assert_eq!((dd["resolved_by"].as_str(), dd["approval_id"].as_str()), (Some("u_lea"), Some(id.as_str())));
    assert_eq!(d["comments"][0]["body"], "uploads e1-e3 are duplicates");
    let ap = s.read(&format!("/v1/approvals/{id}")).await;
    assert_eq!((ap["status"].as_str(), ap["decided_by"].as_str()), (Some("approved"), Some("u_lea")));
    assert_eq!(ap["result"]["reversed_events"], json!(["e1", "e2", "e3"]));
    assert_eq!(ap["requested_by"], "u_ann");
    let rows = audit(&s, "customer=c1").await;
    let trail: Vec<(&str, &str, &str)> = rows
        .iter()
        .rev()
        .map(|r| (r["action"].as_str().unwrap(), r["actor"].as_str().unwrap(), r["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        trail,
        [
            ("grant", "u_root", "executed"),
            ("dispute.open", "u_ann", "ok"),
            ("dispute.comment", "u_ann", "ok"),
            ("dispute.assign", "u_ann", "ok"),
            ("reverse_usage", "u_ann", "approval_requested"),
            ("reverse_usage", "u_ann", "refused"),
            ("approval.approve", "u_lea", "approved"),
        ]
    );
    let requested = rows.iter().find(|r| r["outcome"] == "approval_requested").unwrap();
    assert_eq!(requested["value"], json!({"amount": "60", "currency": "USD"}));
    assert_eq!(requested["rule"], "limit.per_action");
    let dispute_rows = audit(&s, "actor=u_ann&action=dispute.comment").await;
    assert_eq!(dispute_rows.len(), 1);

    // SLA: a dispute left open past 72 hours is overdue.
    let late = json!({"id": "d2", "customer_id": "c1", "events": ["e1"], "ticket_ref": "ZD-43", "description": "?"});
    s.post(Some(&ann), "/v1/disputes", &late).await.ok(201);
    s.clock.advance(chrono::TimeDelta::hours(73));
    let overdue = s.read("/v1/disputes?overdue=true").await;
    let ids: Vec<&str> = overdue["items"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["d2"], "resolved disputes are never overdue");
    assert_eq!(overdue["items"][0]["overdue"], true);
}

both!(goodwill_through_the_client, goodwill_through_the_client_sqlite, goodwill_through_the_client_postgres);

/// A goodwill resolution, driven by the typed client the desktop app uses:
/// within the agent's limits it books at once; above them it waits for a
/// finance approver; `no_action` closes a dispute as rejected.
async fn goodwill_through_the_client(s: Server) {
    use creditdesk_api::approvals::{ApprovalListQuery, ApprovalStatus, ApproveRequest};
    use creditdesk_api::audit::AuditQuery;
    use creditdesk_api::disputes::{DisputeOutcome, DisputeStatus, OpenDisputeRequest, ResolveDisputeRequest};
    use creditdesk_api::Role;
    use creditdesk_client::Client;

    setup(&s).await;
    let admin = Some(s.admin.as_str());
    s.post(admin, "/v1/events", &json!({"events": [s.event("e1", "c1", "10", 5), s.event("e2", "c1", "10", 4)]}))
        .await
        .ok(200);
    let agent = Client::new(&s.base, s.user("ann", "support_agent").await).unwrap();
    let finance = Client::new(&s.base, s.user("fin", "finance").await).unwrap();
    let open = |id: &str, event: &str| OpenDisputeRequest {
        id: Some(id.into()),
        customer_id: "c1".into(),
        events: vec![event.into()],
        ticket_ref: "ZD-9".into(),
        description: "outage".into(),
        claimed_amount: None,
        assignee: None,
        sla_hours: Some(24),
    };
    let goodwill = |amount: i64| ResolveDisputeRequest {
        outcome: DisputeOutcome::GoodwillGrant,
        reason: "sorry for the outage".into(),
        reason_code: Some("goodwill".into()),
        goodwill_amount: Some(Decimal::from(amount)),
        goodwill_expires_at: None,
    };
    let d1 = agent.open_dispute(&open("d1", "e1"), None).await.unwrap().into_inner();
    assert_eq!(d1.status, DisputeStatus::Open);
    // 40 USD: within the agent's 50.
    let r = agent.resolve_dispute("d1", &goodwill(4000), None).await.unwrap().into_inner();
    assert_eq!((r.dispute.status, r.approval.is_none()), (DisputeStatus::Resolved, true));
    assert_eq!(r.entries[0].amount, Decimal::from(4000));

    // 400 USD: above it; finance approves.
    agent.open_dispute(&open("d2", "e2"), None).await.unwrap();
    let r = agent.resolve_dispute("d2", &goodwill(40_000), Some("resolve-d2")).await.unwrap();
    assert_eq!(r.dispute.status, DisputeStatus::AwaitingApproval);
    let pending = r.approval.clone().unwrap();
    assert_eq!(pending.approver_roles, [Role::SupportLead, Role::Finance, Role::Admin]);
    let again = agent.resolve_dispute("d2", &goodwill(40_000), Some("resolve-d2")).await.unwrap();
    assert!(again.replayed, "a retried resolution replays, it does not file twice");
    let q = ApprovalListQuery { status: Some(ApprovalStatus::Pending), ..ApprovalListQuery::default() };
    let list = finance.approvals(&q).await.unwrap();
    assert_eq!(list.items.len(), 1);
    assert_eq!(list.items[0].dispute_id.as_deref(), Some("d2"));
    let done = finance.approve(&pending.approval_id, &ApproveRequest::default(), None).await.unwrap().into_inner();
    assert_eq!(done.approval.status, ApprovalStatus::Approved);
    assert_eq!(done.entries[0].amount, Decimal::from(40_000));
    let detail = agent.dispute("d2").await.unwrap();
    assert_eq!(detail.dispute.status, DisputeStatus::Resolved);
    assert_eq!(detail.dispute.resolution, Some(DisputeOutcome::GoodwillGrant));
    let b = s.store.balance(CustomerId::new("c1").unwrap(), CreditTypeId::new("batch").unwrap(), None, None).await;
    let grants = b.unwrap().grants;
    let approved = grants.iter().find(|g| g.grant.approved_by.is_some()).unwrap();
    assert_eq!(approved.grant.source, creditdesk_ledger::grant::GrantSource::Goodwill);
    assert_eq!(
        (approved.grant.created_by.as_str(), approved.grant.approved_by.as_ref().unwrap().as_str()),
        ("u_ann", "u_fin")
    );

    // no_action needs a reason and closes the dispute as rejected.
    agent.open_dispute(&open("d3", "e2"), None).await.unwrap();
    let dismiss = ResolveDisputeRequest {
        outcome: DisputeOutcome::NoAction,
        reason: "usage matches the logs".into(),
        reason_code: None,
        goodwill_amount: None,
        goodwill_expires_at: None,
    };
    let r = agent.resolve_dispute("d3", &dismiss, None).await.unwrap().into_inner();
    assert_eq!((r.dispute.status, r.dispute.resolution), (DisputeStatus::Rejected, Some(DisputeOutcome::NoAction)));
    let blank = s.post(Some(&s.admin), "/v1/disputes/d3/resolve", &json!({"outcome": "no_action", "reason": ""})).await;
    assert_eq!((blank.status, blank.field()), (422, "reason"));

    let trail = finance.audit(&AuditQuery { action: Some("goodwill_grant".into()), ..AuditQuery::default() }).await;
    let outcomes: Vec<String> = trail.unwrap().items.into_iter().rev().map(|r| r.outcome).collect();
    assert_eq!(outcomes, ["executed", "approval_requested"]);
    assert!(agent.audit(&AuditQuery::default()).await.is_err(), "agents do not read the audit log");
}

both!(expiry_extension, expiry_extension_sqlite, expiry_extension_postgres);

/// An extension voids the remainder and grants it again with the later
/// expiry: the balance does not move, the old grant's history stays, and
/// above the caller's limits it waits for an approver.
async fn expiry_extension(s: Server) {
    setup(&s).await;
    let admin = Some(s.admin.as_str());
    let ann = s.user("ann", "support_agent").await;
    let lea = s.user("lea", "support_lead").await;
    s.post(admin, "/v1/grants", &Server::grant_body("g1", "c1", "1000")).await.ok(201);
    s.clock.advance(chrono::TimeDelta::hours(1));
    s.post(admin, "/v1/events", &json!({"events": [s.event("e1", "c1", "100", 5)]})).await.ok(200);
    assert_eq!(available(&s, "c1").await, Decimal::from(800));

    let body =
        |at: &str| json!({"expires_at": at, "reason_code": "goodwill", "ticket_ref": "ZD-5", "note": "pilot slipped"});
    let r = s.post(Some(&ann), "/v1/grants/g1/extend", &body("2026-09-01T00:00:00Z")).await;
    let x = r.ok(201);
    assert_eq!((x["credits"].as_str(), x["value"]["amount"].as_str()), (Some("800"), Some("8")));
    let kinds_amounts: Vec<(&str, &str)> = x["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["amount"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds_amounts, [("void", "-800"), ("grant", "800")]);
    assert_eq!(available(&s, "c1").await, Decimal::from(800), "the balance does not move");
    let new_id = x["new_grant_id"].as_str().unwrap().to_owned();
    let b =
        s.store.balance(CustomerId::new("c1").unwrap(), CreditTypeId::new("batch").unwrap(), None, None).await.unwrap();
    let new = b.grants.iter().find(|g| g.grant.id.as_str() == new_id).unwrap();
    assert_eq!(
        new.grant.expires_at,
        Some(chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 9, 1, 0, 0, 0).unwrap())
    );
    assert_eq!(
        (new.grant.category, new.grant.source),
        (creditdesk_ledger::grant::GrantCategory::Paid, creditdesk_ledger::grant::GrantSource::Purchase)
    );
    let old = b.grants.iter().find(|g| g.grant.id.as_str() == "g1").unwrap();
    assert_eq!((old.totals.burned.get(), old.totals.voided.get()), (Decimal::from(200), Decimal::from(800)));

    // The old grant is spent; the new one cannot move earlier.
    s.post(Some(&ann), "/v1/grants/g1/extend", &body("2026-12-01T00:00:00Z"))
        .await
        .problem(409, "grant_state_conflict");
    let r = s.post(Some(&ann), &format!("/v1/grants/{new_id}/extend"), &body("2026-08-01T00:00:00Z")).await;
    assert_eq!((r.status, r.field()), (422, "expires_at"));
    let mut bare = body("2026-12-01T00:00:00Z");
    bare.as_object_mut().unwrap().remove("note");
    assert_eq!(s.post(Some(&ann), &format!("/v1/grants/{new_id}/extend"), &bare).await.field(), "note");

    // 100 USD is above the agent's limit: a lead approves.
    s.post(admin, "/v1/grants", &Server::grant_body("g2", "c1", "10000")).await.ok(201);
    let r = s.post(Some(&ann), "/v1/grants/g2/extend", &body("2026-09-01T00:00:00Z")).await;
    let p = r.ok(202);
    assert_eq!((p["action"].as_str(), p["exceeded"].as_str()), (Some("extend_expiry"), Some("per_action")));
    let id = p["approval_id"].as_str().unwrap().to_owned();
    assert_eq!(available(&s, "c1").await, Decimal::from(10_800));
    let done = s.post(Some(&lea), &format!("/v1/approvals/{id}/approve"), &json!({})).await;
    assert_eq!(done.ok(200)["entries"].as_array().unwrap().len(), 2);
    assert_eq!(available(&s, "c1").await, Decimal::from(10_800));
    let b =
        s.store.balance(CustomerId::new("c1").unwrap(), CreditTypeId::new("batch").unwrap(), None, None).await.unwrap();
    let moved = b.grants.iter().find(|g| g.grant.approved_by.is_some()).unwrap();
    assert_eq!((moved.grant.created_by.as_str(), moved.grant.amount.get()), ("u_ann", Decimal::from(10_000)));
    assert_eq!(moved.grant.approved_by.as_ref().unwrap().as_str(), "u_lea");
    s.post(Some(&lea), &format!("/v1/approvals/{id}/approve"), &json!({})).await.problem(409, "approval_not_pending");

    let rows = audit(&s, "action=extend_expiry").await;
    let outcomes: Vec<&str> = rows.iter().rev().map(|r| r["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["executed", "approval_requested"]);
}

both!(expired_request_frees_its_dispute, expired_request_frees_dispute_sqlite, expired_request_frees_dispute_postgres);

/// A resolution waiting for approval that nobody decides expires after 7
/// days; the sweep marks it and the dispute can be worked on again.
async fn expired_request_frees_its_dispute(s: Server) {
    setup(&s).await;
    let admin = Some(s.admin.as_str());
    let ann = s.user("ann", "support_agent").await;
    s.post(admin, "/v1/events", &json!({"events": [s.event("e1", "c1", "5000", 5)]})).await.ok(200);
    let open = json!({"id": "d1", "customer_id": "c1", "events": ["e1"], "ticket_ref": "ZD-1", "description": "x"});
    s.post(Some(&ann), "/v1/disputes", &open).await.ok(201);
    let resolve = json!({"outcome": "reverse_usage", "reason": "bad meter", "reason_code": "billing_error"});
    let r = s.post(Some(&ann), "/v1/disputes/d1/resolve", &resolve).await;
    assert_eq!(r.ok(202)["dispute"]["status"], "awaiting_approval", "10000 credits = 100 USD > 50");
    s.clock.advance(chrono::TimeDelta::days(8));
    let swept = s.store.workflow(creditdesk_store::workflow::WorkflowOp::ExpireApprovals, None).await.unwrap();
    assert!(matches!(swept, creditdesk_store::Idempotent::Done(creditdesk_store::workflow::WorkflowOut::Expired(1))));
    let d = s.read("/v1/disputes/d1").await;
    assert_eq!(d["dispute"]["status"], "investigating");
    let listed = s.read("/v1/approvals?status=expired&dispute=d1").await;
    assert_eq!(listed["items"][0]["status"], "expired");
    // No action now closes it; nothing was ever booked.
    let dismiss = json!({"outcome": "no_action", "reason": "customer withdrew"});
    assert_eq!(s.post(Some(&ann), "/v1/disputes/d1/resolve", &dismiss).await.ok(200)["dispute"]["status"], "rejected");
    assert_eq!(kinds(&s.ledger("c1").await, "reversal"), 0);
}

/// Twelve 50-USD grants by one agent sent at once to two servers on one
/// PostgreSQL database: the budget row serialises them, exactly ten fit the
/// month's 500 and two become requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_small_grants_share_one_budget() {
    let (a, b) = Server::start_pg_pair("workflow_budget_race").await;
    setup(&a).await;
    catalog_reaches(&b).await;
    let ann = a.user("ann", "support_agent").await;
    let bodies: Vec<Value> = (0..12).map(|i| Server::grant_body(&format!("s{i}"), "c1", "5000")).collect();
    let calls = bodies.iter().enumerate().map(|(i, body)| {
        let server = if i % 2 == 0 { &a } else { &b };
        server.post(Some(&ann), "/v1/grants", body)
    });
    let answers = futures_join_all(calls).await;
    let created = answers.iter().filter(|r| r.status == 201).count();
    let requested = answers.iter().filter(|r| r.status == 202).count();
    assert_eq!((created, requested), (10, 2), "{:?}", answers.iter().map(|r| &r.text).collect::<Vec<_>>());
    assert_eq!(available(&a, "c1").await, Decimal::from(50_000));
    let me = b.get(Some(&ann), "/v1/me").await;
    assert_eq!(me.ok(200)["remaining_monthly_budget"]["amount"], "0");
}

/// Awaits every future concurrently (all in flight at once).
async fn futures_join_all<F>(calls: impl Iterator<Item = F>) -> Vec<common::Resp>
where
    F: std::future::Future<Output = common::Resp>,
{
    let mut pending: Vec<_> = calls.map(|c| Some(Box::pin(c))).collect();
    let mut out = Vec::with_capacity(pending.len());
    // Poll all together: a hand-rolled join_all (no futures crate here).
    std::future::poll_fn(|cx| {
        let mut done = true;
        for slot in pending.iter_mut() {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(r) => {
                        out.push(r);
                        *slot = None;
                    }
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    out
}

/// An accepted batch's audit row commits with the batch: it is there as
/// soon as the call answers (it used to be written behind the response),
/// with the call's request id. A replay under the same key is a call of
/// its own; a refused batch (a reused key, invalid input) is recorded by
/// the HTTP layer as before, and only as refused.
async fn ingest_audited_with_its_batch(s: Server) {
    setup(&s).await;
    let admin = Some(s.admin.as_str());
    let body = json!({"events": [s.event("e1", "c1", "10", 5)]});
    let first = s.post_keyed(admin, "/v1/events", &body, Some("k-ingest")).await;
    first.ok(200);
    let rows = audit(&s, "action=POST%20/v1/events").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!((row["actor"].as_str(), row["outcome"].as_str()), (Some("u_root"), Some("ok")), "{row}");
    assert_eq!(row["request_id"].as_str(), first.header("x-request-id"));
    assert_eq!(row["target"], "/v1/events");

    let replay = s.post_keyed(admin, "/v1/events", &body, Some("k-ingest")).await;
    assert_eq!(replay.ok(200), &first.body, "the recorded response");
    assert_eq!(audit(&s, "action=POST%20/v1/events").await.len(), 2);

    // The key reused for another batch: one row, refused, none `ok`.
    let other = json!({"events": [s.event("e3", "c1", "10", 5)]});
    s.post_keyed(admin, "/v1/events", &other, Some("k-ingest")).await.problem(409, "idempotency_conflict");
    let rows = audit(&s, "action=POST%20/v1/events").await;
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(has(&rows, "POST /v1/events", "refused", "idempotency_conflict"), "{rows:?}");
    assert_eq!(rows.iter().filter(|r| r["outcome"] == "ok").count(), 2, "{rows:?}");

    let refused = s.post(admin, "/v1/events", &json!({"events": [{"id": "e2"}]})).await;
    refused.problem(422, "validation_failed");
    let rows = audit(&s, "action=POST%20/v1/events").await;
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert!(has(&rows, "POST /v1/events", "refused", "validation_failed"), "{rows:?}");
}
