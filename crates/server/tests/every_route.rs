//! Every operation in the server's own `/openapi.json`, on SQLite and on
//! PostgreSQL, driven by its schema: path ids (real ones and junk), query
//! parameters and bodies built field by field from the declared types,
//! enums and formats, each value sometimes replaced by arbitrary JSON; and
//! for each POST a valid call with one field changed, dropped or added.
//! All sent as the admin, so that permission checks do not stop the input
//! early. For every call:
//!
//! - never a 5xx;
//! - every refusal is `application/problem+json` (RFC 9457) with its
//!   `code`, a `detail` for humans and the response's `status`;
//! - a refused call, and any GET, leaves the database as it was. Every
//!   table is read before and after and compared row by row, except what a
//!   refusal is meant to leave: the audit log's record of it (`refused`,
//!   `failed`) and the stored refusal an `Idempotency-Key` replays.
//!
//! A route added to the router is in `/openapi.json`, and so in this test
//! without a line here (a valid example in `example` makes its cases reach
//! further). `ROUTE_CASES` sets the cases per operation (default 24; the
//! tables are read twice a call, so a run grows faster than its cases).

mod common;

use std::cell::RefCell;
use std::collections::BTreeMap;

use common::{arb_json, Server};
use proptest::prelude::*;
use proptest::strategy::Union;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::{Method, Url};
use serde_json::{json, Map, Value};

/// One generated call of an operation.
#[derive(Debug, Clone)]
struct Call {
    path: Vec<String>,
    query: Vec<(String, String)>,
    body: Option<Value>,
    key: Option<String>,
}

impl Call {
    /// Sends the call as `token`'s holder; returns the URL it went to too.
    fn send(&self, rt: &tokio::runtime::Runtime, s: &Server, method: &Method, token: &str) -> (Url, common::Resp) {
        let mut url = Url::parse(&s.base).expect("base url");
        url.path_segments_mut().expect("a base").pop_if_empty().extend(&self.path);
        if !self.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&self.query);
        }
        let r = rt.block_on(async {
            let mut req = s.http.request(method.clone(), url.clone()).bearer_auth(token);
            if let Some(body) = &self.body {
                req = req.json(body);
            }
            if let Some(key) = &self.key {
                req = req.header("idempotency-key", key);
            }
            s.send(req).await
        });
        (url, r)
    }
}

/// The OpenAPI document, and the ids the set-up made (so that some calls
/// reach real customers, grants, approvals and disputes).
struct Schema {
    doc: Value,
    ids: Vec<String>,
    approval: String,
}

impl Schema {
    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema["$ref"].as_str().and_then(|r| r.strip_prefix("#/components/schemas/")) {
            Some(name) => self.resolve(&self.doc["components"]["schemas"][name]),
            None => schema,
        }
    }

    /// A value for field `name` of type `schema`: mostly of its type,
    /// sometimes arbitrary JSON.
    fn value(&self, name: &str, schema: &Value, depth: u32) -> BoxedStrategy<Value> {
        if depth > 4 {
            return arb_json().boxed();
        }
        prop_oneof![1 => arb_json(), 10 => self.typed(name, schema, depth)].boxed()
    }

    fn typed(&self, name: &str, schema: &Value, depth: u32) -> BoxedStrategy<Value> {
        let schema = self.resolve(schema);
        for alternatives in ["oneOf", "anyOf", "allOf"] {
            if let Some(alts) = schema[alternatives].as_array() {
                return Union::new(alts.iter().map(|a| self.value(name, a, depth + 1))).boxed();
            }
        }
        if let Some(values) = schema["enum"].as_array() {
            return prop::sample::select(values.clone()).boxed();
        }
        let types: Vec<&str> = match &schema["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let options: Vec<BoxedStrategy<Value>> = types
            .into_iter()
            .map(|t| match t {
                "null" => Just(Value::Null).boxed(),
                "boolean" => any::<bool>().prop_map(Value::Bool).boxed(),
                "integer" => prop_oneof![0i64..400, any::<i64>()].prop_map(|n| json!(n)).boxed(),
                "number" => prop_oneof![0i64..100, any::<i64>()].prop_map(|n| json!(n)).boxed(),
                "string" if schema["format"] == "date-time" => instants().prop_map(|s| json!(s)).boxed(),
                "string" => match hints(name) {
                    Some(likely) => {
                        prop_oneof![3 => prop::sample::select(likely).prop_map(String::from), 1 => self.strings()]
                            .prop_map(Value::String)
                            .boxed()
                    }
                    None => self.strings().prop_map(Value::String).boxed(),
                },
                "array" => prop::collection::vec(self.value(name, &schema["items"], depth + 1), 0..3)
                    .prop_map(Value::Array)
                    .boxed(),
                _ => self.object(schema, depth),
            })
            .collect();
        if options.is_empty() {
            return arb_json().boxed();
        }
        Union::new(options).boxed()
    }

    /// An object of the schema's properties: each required one nearly
    /// always, each optional one half the time; now and then a stray field.
    fn object(&self, schema: &Value, depth: u32) -> BoxedStrategy<Value> {
        let required: Vec<&str> =
            schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        let fields: Vec<BoxedStrategy<Option<(String, Value)>>> = schema["properties"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(name, field)| {
                let keep = if required.contains(&name.as_str()) { 0.95 } else { 0.5 };
                let name = name.clone();
                prop::option::weighted(keep, self.value(name.as_str(), field, depth + 1))
                    .prop_map(move |v| v.map(|v| (name.clone(), v)))
                    .boxed()
            })
            .collect();
        let stray = prop::option::weighted(0.05, ("[a-z_]{1,8}", arb_json()));
        (fields, stray)
            .prop_map(|(fields, stray)| {
                let mut map: Map<String, Value> = fields.into_iter().flatten().collect();
                if let Some((name, value)) = stray {
                    map.insert(name, value);
                }
                Value::Object(map)
            })
            .boxed()
    }

    /// Strings a field might get: the set-up's ids, amounts, and junk.
    fn strings(&self) -> BoxedStrategy<String> {
        let mut known = self.ids.clone();
        known.extend(
            [
                "1",
                "2500",
                "-1",
                "0",
                "0.0000001",
                "1e3",
                "99999999999999999999999",
                "NaN",
                "",
                " ",
                "\u{0}",
                "é✓",
                "../x",
                "%2F",
                "USD",
                "EUR",
                "UTC",
                "Europe/Berlin",
                "Mars/Olympus",
                "day",
                "hour",
                "month",
                "product",
            ]
            .map(String::from),
        );
        known.push("x".repeat(3000));
        prop_oneof![3 => prop::sample::select(known), 1 => "[a-zA-Z0-9 ~._/%-]{0,12}", 1 => instants()].boxed()
    }

    /// Every operation: method, path template, its strategy.
    fn operations(&self) -> Vec<(Method, String, BoxedStrategy<Call>)> {
        let mut ops = Vec::new();
        for (template, methods) in self.doc["paths"].as_object().expect("paths") {
            for (method, op) in methods.as_object().expect("methods") {
                let method: Method = method.to_uppercase().parse().expect("a method");
                ops.push((method, template.clone(), self.call(template, op)));
            }
        }
        ops
    }

    fn call(&self, template: &str, op: &Value) -> BoxedStrategy<Call> {
        let params: Vec<&Value> = op["parameters"].as_array().into_iter().flatten().collect();
        let path: Vec<BoxedStrategy<String>> = template
            .split('/')
            .skip(1)
            .map(|segment| {
                if segment.starts_with('{') {
                    prop_oneof![2 => prop::sample::select(self.ids.clone()), 1 => self.strings()].boxed()
                } else {
                    Just(segment.to_owned()).boxed()
                }
            })
            .collect();
        let query: Vec<BoxedStrategy<Option<(String, String)>>> = params
            .iter()
            .filter(|p| p["in"] == "query")
            .map(|p| {
                let name = p["name"].as_str().expect("a parameter's name").to_owned();
                prop::option::weighted(0.5, self.value(&name, &p["schema"], 1))
                    .prop_map(move |v| v.and_then(|v| query_text(v).map(|text| (name.clone(), text))))
                    .boxed()
            })
            .collect();
        let body_schema = &op["requestBody"]["content"]["application/json"]["schema"];
        let body = match body_schema {
            Value::Null => Just(None).boxed(),
            schema => prop_oneof![1 => arb_json(), 5 => self.typed("", schema, 0)].prop_map(Some).boxed(),
        };
        let keyed = params.iter().any(|p| p["in"] == "header" && p["name"] == "Idempotency-Key");
        let key = if keyed {
            prop::option::weighted(0.3, prop_oneof![Just("k1".to_owned()), "[a-z0-9-]{1,10}"]).boxed()
        } else {
            Just(None).boxed()
        };
        let generated = (path, query, body, key.clone()).prop_map(|(path, query, body, key)| Call {
            path,
            query: query.into_iter().flatten().collect(),
            body,
            key,
        });
        // The examples are POST bodies: the GET at the same path takes none.
        match example(template, &self.approval).filter(|_| !body_schema.is_null()) {
            Some((path, body)) => prop_oneof![generated, self.mutated(path, body, body_schema, key)].boxed(),
            None => generated.boxed(),
        }
    }

    /// A valid call with at most one change to its body: a field given
    /// another value of its type or arbitrary JSON, dropped, or joined by
    /// a stray one. `{n}` in the body becomes a number, for fresh ids.
    fn mutated(
        &self,
        path: Vec<String>,
        body: Value,
        schema: &Value,
        key: BoxedStrategy<Option<String>>,
    ) -> BoxedStrategy<Call> {
        let properties = &self.resolve(schema)["properties"];
        let fields = body.as_object().expect("an example body is an object with fields").keys();
        let replacement =
            Union::new(fields.map(|field| (Just(field.clone()), self.value(field, &properties[field.as_str()], 1))));
        (any::<u32>(), 0..5u8, replacement, key)
            .prop_map(move |(n, change, (field, value), key)| {
                let text = body.to_string().replace("{n}", &n.to_string());
                let mut body: Value = serde_json::from_str(&text).expect("an example body");
                if let Some(map) = body.as_object_mut() {
                    match change {
                        0 => {}
                        1 | 2 => {
                            map.insert(field, value);
                        }
                        3 => {
                            map.remove(&field);
                        }
                        _ => {
                            map.insert(format!("{field}_x"), value);
                        }
                    }
                }
                Call { path: path.clone(), query: Vec::new(), body: Some(body), key }
            })
            .boxed()
    }
}

/// Values that fit a field of this name in the set-up's data, so that
/// some calls get past the checks of each field and reach the ledger and
/// the workflows; without them nearly every body failed on one field.
fn hints(name: &str) -> Option<Vec<&'static str>> {
    Some(match name {
        "customer_id" | "customer" => vec!["c1", "c2"],
        "product_id" | "product" => vec!["transcribe", "diarize"],
        "credit_type_id" | "credit_type" => vec!["batch"],
        "id" => vec!["n1", "n2", "n3", "e1", "g1", "d1"],
        "events" | "event" => vec!["e1"],
        "grant" => vec!["g1"],
        "quantity" | "amount" | "claimed_amount" | "goodwill_amount" | "credits_per_unit" | "per_action"
        | "monthly" | "approve_up_to" | "multiplier" | "price" => vec!["1", "2.5", "2500", "0", "-1"],
        "currency" => vec!["USD"],
        "tz" => vec!["UTC", "Europe/Berlin"],
        "timestamp" => vec!["2026-03-10T11:55:00Z", "2026-03-10T11:00:00Z"],
        "reason" | "description" | "note" | "comment" | "body" | "ticket_ref" | "name" => vec!["because", "ZD-9"],
        _ => return None,
    })
}

fn instants() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "2026-03-10T12:00:00Z",
        "2026-03-10T11:00:00Z",
        "2026-03-01T00:00:00Z",
        "2026-03-10T13:00:00+01:00",
        "2027-01-01T00:00:00Z",
        "1970-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "2026-02-30T00:00:00Z",
        "2026-03-10",
    ])
    .prop_map(String::from)
}

/// A valid call of the POST at `template` (its path's segments and its
/// body), when the set-up's data allows one.
fn example(template: &str, approval: &str) -> Option<(Vec<String>, Value)> {
    let rate = json!({"effective_from": "2026-04-01T00:00:00Z", "credits_per_unit": "3"});
    let grant = json!({"id": "fz{n}", "customer_id": "c1", "credit_type_id": "batch", "amount": "10",
                       "category": "paid", "source": "purchase", "expires_at": "2026-06-01T00:00:00Z",
                       "reason_code": "purchase", "ticket_ref": "ZD-1", "note": "fuzz"});
    let (id, body) = match template {
        "/v1/admin/credit-types" => (
            None,
            json!({"id": "ct{n}", "name": "Fuzz", "unit_label": "credits",
                                                 "unit_price": {"amount": "0.01", "currency": "USD"}}),
        ),
        "/v1/admin/customers" => (None, json!({"id": "cu{n}", "name": "Fuzz {n}"})),
        "/v1/admin/overrides" => (None, json!({"customer_id": "c1", "product_id": "transcribe", "rate_card": [rate]})),
        "/v1/admin/products" => {
            (None, json!({"id": "p{n}", "name": "Fuzz", "credit_type_id": "batch", "rate_card": [rate]}))
        }
        "/v1/admin/products/{id}/rates" => (Some("transcribe"), rate),
        "/v1/admin/roles/{id}/limits" => {
            (Some("support_agent"), json!({"per_action": "20", "monthly": "100", "approve_up_to": "0"}))
        }
        "/v1/admin/users" => (None, json!({"name": "user{n}", "role": "viewer"})),
        "/v1/approvals/{id}/approve" => (Some(approval), json!({"note": "fine"})),
        "/v1/approvals/{id}/reject" => (Some(approval), json!({"reason": "no"})),
        "/v1/approvals/{id}/cancel" => (Some(approval), json!({"reason": "not needed"})),
        "/v1/authorize" => (None, json!({"customer_id": "c1", "product_id": "transcribe", "quantity": "1"})),
        "/v1/disputes" => {
            (None, json!({"customer_id": "c1", "events": ["e1"], "ticket_ref": "ZD-2", "description": "twice"}))
        }
        "/v1/disputes/{id}/assign" => (Some("d1"), json!({"assignee": "u_ann"})),
        "/v1/disputes/{id}/comments" => (Some("d1"), json!({"body": "looking"})),
        "/v1/disputes/{id}/resolve" => {
            (Some("d1"), json!({"outcome": "reverse_usage", "reason": "duplicate", "reason_code": "billing_error"}))
        }
        "/v1/events" => (
            None,
            json!({"events": [{"id": "ev{n}", "customer_id": "c1", "product_id": "transcribe",
                                                 "quantity": "1", "timestamp": "2026-03-10T11:55:00Z"}]}),
        ),
        "/v1/grants" | "/v1/grants/preview" => (None, grant),
        "/v1/grants/{id}/extend" => (
            Some("g1"),
            json!({"expires_at": "2026-07-01T00:00:00Z", "reason_code": "goodwill",
                                                        "ticket_ref": "ZD-3", "note": "more time"}),
        ),
        "/v1/grants/{id}/void" => (Some("g1"), json!({"reason_code": "mistake", "ticket_ref": "ZD-3"})),
        _ => return None,
    };
    let path = template.split('/').skip(1).map(|s| if s == "{id}" { id.unwrap_or(s) } else { s }.to_owned()).collect();
    Some((path, body))
}

/// A query parameter's text: `None` leaves it out.
fn query_text(v: Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s),
        other => Some(other.to_string()),
    }
}

/// The database under the server, read table by table.
enum Database {
    Sqlite(std::path::PathBuf),
    Postgres(Box<RefCell<postgres::Client>>),
}

/// The rows a refusal may add, left out of the comparison: the audit
/// log's record of it, the refusal an `Idempotency-Key` replays, and on
/// PostgreSQL a wallet's lock row. A write group creates the row of every
/// wallet its requests name before locking them all in one order (several
/// servers share the database), so a request refused after that (say, an
/// `Idempotency-Key` reused with another body) leaves the row: version 0,
/// nothing caught up, which every read takes as no wallet (docs/server.md).
fn refusal_rows_left_out(table: &str) -> &'static str {
    match table {
        "audit_log" => " WHERE outcome NOT IN ('refused', 'failed')",
        "idempotency_keys" => " WHERE status < 400",
        "wallets" => " WHERE version <> 0 OR caught_up_at <> 0",
        _ => "",
    }
}

impl Database {
    fn of(s: &Server) -> Database {
        match &s.database_url {
            Some(url) => Database::Postgres(Box::new(RefCell::new(
                postgres::Client::connect(url, postgres::NoTls).expect("connect"),
            ))),
            None => Database::Sqlite(s.sqlite_path()),
        }
    }

    /// The first table that differs from `before` (another `tables()`):
    /// its name and the rows it gained and lost; `None` when none does.
    fn changes_since(&self, before: &BTreeMap<String, Vec<String>>) -> Option<String> {
        let after = self.tables();
        before.iter().find_map(|(table, rows)| {
            let now: &[String] = after.get(table).map_or(&[], Vec::as_slice);
            if rows.as_slice() == now {
                return None;
            }
            let gained: Vec<&String> = now.iter().filter(|r| !rows.contains(r)).take(3).collect();
            let lost: Vec<&String> = rows.iter().filter(|r| !now.contains(r)).take(3).collect();
            Some(format!("table {table}: gained {gained:?}, lost {lost:?}"))
        })
    }

    /// Every table's rows, as text, but the rows a refusal may add.
    fn tables(&self) -> BTreeMap<String, Vec<String>> {
        match self {
            Database::Sqlite(path) => sqlite_tables(path),
            Database::Postgres(client) => {
                let mut client = client.borrow_mut();
                let names: Vec<String> = client
                    .query(
                        "SELECT table_name::text FROM information_schema.tables \
                         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
                        &[],
                    )
                    .expect("tables")
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                names
                    .into_iter()
                    .map(|name| {
                        let sql =
                            format!("SELECT t::text FROM \"{name}\" AS t{} ORDER BY 1", refusal_rows_left_out(&name));
                        let rows = client.query(&sql, &[]).expect("rows").iter().map(|r| r.get(0)).collect();
                        (name, rows)
                    })
                    .collect()
            }
        }
    }
}

fn sqlite_tables(db: &std::path::Path) -> BTreeMap<String, Vec<String>> {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open");
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'sqlite_sequence' ORDER BY name")
        .and_then(|mut q| q.query_map([], |r| r.get(0))?.collect())
        .expect("tables");
    names
        .into_iter()
        .map(|name| {
            let mut q =
                conn.prepare(&format!("SELECT * FROM \"{name}\"{}", refusal_rows_left_out(&name))).expect("select");
            let width = q.column_count();
            let rows: Vec<String> = q
                .query_map([], |r| {
                    let cells: Vec<String> = (0..width).map(|i| cell(r.get_ref(i))).collect();
                    Ok(cells.join("|"))
                })
                .and_then(|rows| rows.collect())
                .expect("rows");
            (name, rows)
        })
        .collect()
}

fn cell(value: rusqlite::Result<rusqlite::types::ValueRef<'_>>) -> String {
    use rusqlite::types::ValueRef;
    match value {
        Ok(ValueRef::Null) => "NULL".into(),
        Ok(ValueRef::Integer(n)) => n.to_string(),
        Ok(ValueRef::Real(x)) => x.to_string(),
        Ok(ValueRef::Text(t)) => format!("{:?}", String::from_utf8_lossy(t)),
        Ok(ValueRef::Blob(b)) => format!("<{} bytes>", b.len()),
        Err(e) => format!("<{e}>"),
    }
}

/// Makes a catalog, a grant, an event, an approval waiting, and a dispute;
/// returns the ids a path parameter may name. Not the calling admin's
/// (`u_root`): a call that revokes it would leave every later call a 401.
async fn set_up(s: &Server) -> (Vec<String>, String) {
    s.catalog().await;
    let admin = Some(s.admin.as_str());
    s.post(admin, "/v1/grants", &Server::grant_body("g1", "c1", "1000")).await.ok(201);
    s.post(admin, "/v1/events", &json!({"events": [s.event("e1", "c1", "10", 5)]})).await.ok(200);
    let limits = json!({"per_action": "20", "monthly": "100", "approve_up_to": "0"});
    s.post(admin, "/v1/admin/roles/support_agent/limits", &limits).await.ok(200);
    let ann = s.user("ann", "support_agent").await;
    let pending = s.post(Some(&ann), "/v1/grants", &Server::grant_body("g2", "c1", "2500")).await;
    let approval = pending.ok(202)["approval_id"].as_str().expect("an approval id").to_owned();
    let dispute =
        json!({"id": "d1", "customer_id": "c1", "events": ["e1"], "ticket_ref": "ZD-7", "description": "double"});
    s.post(Some(&ann), "/v1/disputes", &dispute).await.ok(201);
    let ids = ["c1", "c2", "batch", "transcribe", "diarize", "g1", "e1", "d1", "u_ann", "support_agent", "admin"];
    (ids.into_iter().map(String::from).chain([approval.clone()]).collect(), approval)
}

fn check(
    rt: &tokio::runtime::Runtime,
    s: &Server,
    db: &Database,
    method: &Method,
    call: &Call,
) -> Result<u16, TestCaseError> {
    let before = db.tables();
    let (url, r) = call.send(rt, s, method, &s.admin);
    let what = format!("{method} {url} {}", call.body.as_ref().map(Value::to_string).unwrap_or_default());
    prop_assert!(r.status < 500, "{what}: {} {}", r.status, r.text);
    prop_assert_ne!(r.status, 401, "the admin's token still works: {}", what);
    if r.status >= 400 {
        prop_assert_eq!(r.header("content-type"), Some("application/problem+json"), "{}: {}", what, r.text);
        let problem = r.body["code"].is_string() && r.body["detail"].is_string() && r.body["status"] == r.status;
        prop_assert!(problem, "{what}: {}", r.text);
    }
    if r.status >= 400 || method == Method::GET {
        if let Some(change) = db.changes_since(&before) {
            prop_assert!(false, "{what} ({}) changed {change}; the answer: {}", r.status, r.text);
        }
    }
    Ok(r.status)
}

#[test]
fn every_route_refuses_bad_input_with_a_problem_and_changes_nothing_sqlite() {
    every_route(None);
}

#[test]
fn every_route_refuses_bad_input_with_a_problem_and_changes_nothing_postgres() {
    every_route(Some("every_route_postgres"));
}

/// The whole run on SQLite, or on a fresh PostgreSQL database `pg`.
fn every_route(pg: Option<&str>) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (s, (ids, approval), doc) = rt.block_on(async {
        let s = match pg {
            Some(name) => Server::start_pg(name).await,
            None => Server::start().await,
        };
        let ids = set_up(&s).await;
        let doc = s.read("/openapi.json").await;
        (s, ids, doc)
    });
    let db = Database::of(&s);
    let schema = Schema { doc, ids, approval };
    let cases = std::env::var("ROUTE_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(24);
    let operations = schema.operations();
    assert!(operations.len() >= 50, "the document lists every route: {}", operations.len());
    for (method, template, calls) in operations {
        let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
        let statuses = RefCell::new(BTreeMap::<u16, u32>::new());
        runner
            .run(&calls, |call| {
                let status = check(&rt, &s, &db, &method, &call)?;
                *statuses.borrow_mut().entry(status).or_default() += 1;
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{method} {template}: {e}"));
        // What the cases reached (`--nocapture` shows it).
        eprintln!("{method} {template}: {:?}", statuses.borrow());
    }
}

/// Who may call each operation: `http/policy.rs`'s table, route by route.
/// A route this does not name fails the test until its roles are stated.
fn allowed_roles(method: &Method, template: &str) -> &'static [&'static str] {
    const EVERY: &[&str] = &["viewer", "account_manager", "support_agent", "support_lead", "finance", "admin"];
    const BUT_VIEWER: &[&str] = &["account_manager", "support_agent", "support_lead", "finance", "admin"];
    const ADMIN: &[&str] = &["admin"];
    match (method.as_str(), template) {
        ("GET", "/v1/audit") => &["support_lead", "finance", "admin"],
        ("GET", "/v1/admin/users") => ADMIN,
        ("GET", _) | ("POST", "/v1/authorize") => EVERY,
        ("POST", "/v1/events") => ADMIN,
        ("POST", t) if t.starts_with("/v1/admin/") => ADMIN,
        ("POST", "/v1/grants/{id}/void") => &["finance", "admin"],
        (
            "POST",
            "/v1/grants"
            | "/v1/grants/preview"
            | "/v1/grants/{id}/extend"
            | "/v1/approvals/{id}/approve"
            | "/v1/approvals/{id}/reject"
            | "/v1/approvals/{id}/cancel"
            | "/v1/disputes"
            | "/v1/disputes/{id}/assign"
            | "/v1/disputes/{id}/comments"
            | "/v1/disputes/{id}/resolve",
        ) => BUT_VIEWER,
        _ => panic!("state who may call {method} {template}"),
    }
}

/// A call of the operation at `template` that an allowed role could make:
/// the POST examples, and for a path id one the set-up made.
fn call_for_roles(method: &Method, template: &str, approval: &str, n: usize) -> Call {
    let (path, body) = match example(template, approval).filter(|_| method == Method::POST) {
        Some((path, body)) => (path, Some(body.to_string().replace("{n}", &format!("r{n}")))),
        None => {
            let segments: Vec<&str> = template.split('/').skip(1).collect();
            let path = segments
                .iter()
                .enumerate()
                .map(|(i, s)| match (*s, i.checked_sub(1).map(|j| segments[j])) {
                    ("{id}", Some("customers")) => "c1",
                    ("{id}", Some("approvals")) => approval,
                    ("{id}", Some("disputes")) => "d1",
                    ("{id}", Some("credit-types")) => "batch",
                    ("{id}", Some("products")) => "transcribe",
                    ("{id}", Some("users")) => "u_ann",
                    (s, _) => s,
                })
                .map(String::from)
                .collect();
            (path, None)
        }
    };
    let body = body.map(|text| serde_json::from_str(&text).expect("an example body"));
    Call { path, query: Vec::new(), body, key: None }
}

/// Every operation of `/openapi.json` as each of the six roles: a role the
/// policy allows is never refused for its role, and one it does not is
/// refused with `insufficient_permission` before anything is written.
/// Handlers each check their own action, so this is what proves that none
/// forgot to.
#[test]
fn every_route_answers_each_role_as_the_policy_says() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (s, approval, doc, tokens) = rt.block_on(async {
        let s = Server::start().await;
        let (_, approval) = set_up(&s).await;
        let doc = s.read("/openapi.json").await;
        let mut tokens = Vec::new();
        for role in ["viewer", "account_manager", "support_agent", "support_lead", "finance", "admin"] {
            tokens.push((role, s.user(&format!("as_{role}"), role).await));
        }
        (s, approval, doc, tokens)
    });
    // The policy `/v1/me` publishes, from which the desktop app offers
    // actions, is the one every route enforces below.
    let me = rt.block_on(s.read("/v1/me"));
    for (action, method, template) in [
        ("grant", Method::POST, "/v1/grants"),
        ("decide", Method::POST, "/v1/approvals/{id}/approve"),
        ("dispute", Method::POST, "/v1/disputes"),
        ("void", Method::POST, "/v1/grants/{id}/void"),
        ("audit", Method::GET, "/v1/audit"),
        ("admin", Method::POST, "/v1/admin/customers"),
        ("ingest", Method::POST, "/v1/events"),
    ] {
        let mut published: Vec<&str> =
            me["policy"][action].as_array().expect(action).iter().filter_map(Value::as_str).collect();
        let mut enforced = allowed_roles(&method, template).to_vec();
        published.sort_unstable();
        enforced.sort_unstable();
        assert_eq!(published, enforced, "/v1/me's policy for {action}");
    }
    let db = Database::of(&s);
    let mut n = 0;
    for (template, methods) in doc["paths"].as_object().expect("paths") {
        for method in methods.as_object().expect("methods").keys() {
            let method: Method = method.to_uppercase().parse().expect("a method");
            let allowed = allowed_roles(&method, template);
            for (role, token) in &tokens {
                n += 1;
                let call = call_for_roles(&method, template, &approval, n);
                let before = db.tables();
                let (url, r) = call.send(&rt, &s, &method, token);
                let what = format!("{role}: {method} {url}");
                assert!(r.status < 500, "{what}: {} {}", r.status, r.text);
                let refused_for_role = r.status == 403 && r.body["code"] == "insufficient_permission";
                if allowed.contains(role) {
                    assert!(!refused_for_role, "{what} is allowed by the policy: {}", r.text);
                } else {
                    assert!(refused_for_role, "{what} is not allowed by the policy: {} {}", r.status, r.text);
                    assert_eq!(db.changes_since(&before), None, "{what} wrote");
                }
            }
        }
    }
}
