//! The customer list's filters ("runway < 14 days", "expiring in 30 days"),
//! its sorts and their keyset paging, over real HTTP on SQLite and on a
//! throwaway PostgreSQL.

#[macro_use]
mod common;

use chrono::TimeDelta;
use common::{t0, Server};
use serde_json::{json, Value};

both!(sorts_and_filters, sorts_and_filters_sqlite, sorts_and_filters_postgres);

/// `path` with `cursor` appended as a query parameter, encoded.
fn after(path: &str, cursor: &str) -> String {
    let url = reqwest::Url::parse_with_params(&format!("http://host{path}"), &[("cursor", cursor)]).unwrap();
    format!("{}?{}", url.path(), url.query().unwrap())
}

fn ids(page: &Value) -> Vec<&str> {
    page["items"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect()
}

/// c1 burns fast (runway about a week); c2 burns slowly and has credits
/// expiring in 20 days; c~3 ("acme ~ co": a `~` in its id and name, as in
/// the cursor, and lower case, which sorts by name before "Customer" only
/// if the sort ignores case) holds credits for the year and burns nothing.
async fn sorts_and_filters(s: Server) {
    s.catalog().await;
    let admin = Some(s.admin.as_str());
    s.post(admin, "/v1/admin/customers", &json!({"id": "c~3", "name": "acme ~ co"})).await.ok(201);
    let grant = |id: &str, customer: &str, amount: &str, expires: chrono::DateTime<chrono::Utc>| {
        let mut body = Server::grant_body(id, customer, amount);
        body["expires_at"] = json!(expires.to_rfc3339());
        body
    };
    s.post(admin, "/v1/grants", &grant("g1", "c1", "100", t0() + TimeDelta::days(83))).await.ok(201);
    s.post(admin, "/v1/grants", &grant("g2", "c2", "1000", t0() + TimeDelta::days(20))).await.ok(201);
    s.post(admin, "/v1/grants", &grant("g3", "c~3", "500", t0() + TimeDelta::days(290))).await.ok(201);
    s.clock.advance(TimeDelta::minutes(10));
    // 40 units at 2 credits: c1 burns 80 of 100; c2 burns 10 of 1000.
    let events = json!({"events": [s.event("e1", "c1", "40", 5), s.event("e2", "c2", "5", 5)]});
    s.post(admin, "/v1/events", &events).await.ok(200);
    // The 30-day burn counts whole quarter hours.
    s.clock.advance(TimeDelta::minutes(30));

    let all = s.read("/v1/customers").await;
    assert_eq!(ids(&all), ["c1", "c2", "c~3"]);
    let runway = |c: &Value| c["wallets"][0]["runway_days"].clone();
    assert!(runway(&all["items"][0]).as_u64().is_some_and(|d| d < 14), "c1 runs out soon: {}", all["items"][0]);
    // c2's credits expire before it could burn them: its runway is their expiry.
    assert_eq!((runway(&all["items"][1]), runway(&all["items"][2])), (json!(19), Value::Null));

    // Filters, alone, together, and with a search.
    assert_eq!(ids(&s.read("/v1/customers?runway_under_days=14").await), ["c1"]);
    assert_eq!(ids(&s.read("/v1/customers?runway_under_days=20").await), ["c1", "c2"]);
    assert_eq!(ids(&s.read("/v1/customers?expiring_within_days=30").await), ["c2"]);
    assert_eq!(ids(&s.read("/v1/customers?expiring_within_days=90").await), ["c1", "c2"]);
    assert_eq!(ids(&s.read("/v1/customers?expiring_within_days=90&runway_under_days=14").await), ["c1"]);
    assert!(ids(&s.read("/v1/customers?q=acme&runway_under_days=14").await).is_empty());

    // Sorts: missing values last in either order, ties by id.
    assert_eq!(ids(&s.read("/v1/customers?sort=runway").await), ["c1", "c2", "c~3"]);
    assert_eq!(ids(&s.read("/v1/customers?sort=next_expiry").await), ["c2", "c1", "c~3"]);
    assert_eq!(ids(&s.read("/v1/customers?sort=next_expiry&order=desc").await), ["c~3", "c1", "c2"]);
    assert_eq!(ids(&s.read("/v1/customers?sort=name").await), ["c~3", "c1", "c2"]);
    assert_eq!(ids(&s.read("/v1/customers?sort=open_disputes&order=desc").await), ["c1", "c2", "c~3"]);
    assert_eq!(ids(&s.read("/v1/customers?sort=id&order=desc").await), ["c~3", "c2", "c1"]);

    // Keyset pages: a name with `~` in the cursor, pages that join up.
    let first = s.read("/v1/customers?sort=name&limit=1").await;
    assert_eq!(ids(&first), ["c~3"]);
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let second = s.read(&after("/v1/customers?sort=name&limit=1", &cursor)).await;
    assert_eq!(ids(&second), ["c1"]);
    let cursor2 = second["next_cursor"].as_str().unwrap().to_owned();
    let last = s.read(&after("/v1/customers?sort=name&limit=1", &cursor2)).await;
    assert_eq!((ids(&last), &last["next_cursor"]), (vec!["c2"], &Value::Null));
    let by_expiry = s.read("/v1/customers?sort=next_expiry&order=desc&limit=2").await;
    let rest = after("/v1/customers?sort=next_expiry&order=desc&limit=2", by_expiry["next_cursor"].as_str().unwrap());
    assert_eq!(ids(&s.read(&rest).await), ["c2"]);

    // A cursor of one sort is refused by another, naming the parameter.
    let r = s.get(admin, &after("/v1/customers?sort=runway", &cursor)).await;
    r.problem(422, "validation_failed");
    assert_eq!(r.field(), "cursor");
    for (path, field) in [
        ("/v1/customers?runway_under_days=0", "runway_under_days"),
        ("/v1/customers?expiring_within_days=400", "expiring_within_days"),
        ("/v1/customers?sort=balance", "sort"),
        ("/v1/customers?sort=name&order=up", "order"),
        ("/v1/customers?sort=next_expiry&cursor=next_expiry.asc~2~c1tomorrow", "cursor"),
        ("/v1/customers?sort=name&cursor=name.asc~99~c1", "cursor"),
    ] {
        let r = s.get(admin, path).await;
        r.problem(422, "validation_failed");
        assert_eq!(r.field(), field, "{path}: {}", r.text);
    }
}
