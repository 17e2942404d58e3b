//! A real server for the API tests: a SQLite file in a temp dir, the
//! router served by `axum::serve` on `127.0.0.1:0`, a clock the test moves,
//! and plain `reqwest` calls (so the tests see exactly what goes over the wire).

#![allow(dead_code)]

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, TimeZone, Utc};
use creditdesk_ledger::clock::ManualClock;
use creditdesk_server::{auth, http, AppState};
use creditdesk_store::{AdminOp, SqliteStore, Store, StoreOptions, User};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use proptest::prelude::*;
use reqwest::header::HeaderMap;
use serde_json::{json, Map, Value};
use tempfile::TempDir;

/// Runs a test body on SQLite and on PostgreSQL: `both!(body, name_sqlite,
/// name_postgres)` with `async fn body(s: Server)`.
#[allow(unused_macros)] // each test crate includes this module; not all run both backends
macro_rules! both {
    ($body:ident, $lite:ident, $pg:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $lite() {
            $body(Server::start().await).await
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $pg() {
            $body(Server::start_pg(stringify!($pg)).await).await
        }
    };
}

/// The instant the tests' clock starts at.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap()
}

/// One Prometheus recorder per test process (the `metrics` facade is global).
fn recorder() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE.get_or_init(|| PrometheusBuilder::new().install_recorder().ok()).clone()
}

pub struct Server {
    pub base: String,
    pub store: Store,
    pub clock: Arc<ManualClock>,
    pub http: reqwest::Client,
    /// An admin's bearer token.
    pub admin: String,
    dir: TempDir,
    /// The PostgreSQL database's URL, for a server started on one.
    pub database_url: Option<String>,
    _serve: tokio::task::JoinHandle<()>,
}

/// An HTTP answer as the client saw it.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `Server-Timing` header's metrics: (name, milliseconds), in
    /// order (panics if it is missing or not `name;dur=ms` items).
    #[allow(dead_code)] // used by some test binaries only
    pub fn server_timing(&self) -> Vec<(String, f64)> {
        let header = self.header("server-timing").unwrap_or_else(|| panic!("no Server-Timing: {:?}", self.headers));
        header
            .split(", ")
            .map(|item| {
                let (name, dur) = item.split_once(";dur=").unwrap_or_else(|| panic!("not name;dur=ms: {header}"));
                (name.to_owned(), dur.parse().unwrap_or_else(|_| panic!("not milliseconds: {header}")))
            })
            .collect()
    }

    /// The `Server-Timing` header's stage names, in order.
    #[allow(dead_code)] // used by some test binaries only
    pub fn stage_names(&self) -> Vec<String> {
        self.server_timing().into_iter().map(|(name, _)| name).collect()
    }

    /// The problem's `code` (panics with the body if it is not a problem).
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_else(|| panic!("not a problem ({}): {}", self.status, self.text))
    }

    /// The first field error's field.
    pub fn field(&self) -> &str {
        self.body["errors"][0]["field"]
            .as_str()
            .unwrap_or_else(|| panic!("no field error ({}): {}", self.status, self.text))
    }

    pub fn fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map_or_else(Vec::new, |a| a.iter().filter_map(|e| e["field"].as_str().map(str::to_owned)).collect())
    }

    #[track_caller]
    pub fn ok(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "{}", self.text);
        &self.body
    }

    /// Asserts a problem document with this status and code.
    #[track_caller]
    pub fn problem(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(self.header("content-type"), Some("application/problem+json"), "{}", self.text);
        assert_eq!(self.code(), code, "{}", self.text);
        assert_eq!(self.body["status"], status, "{}", self.text);
        assert!(self.body["request_id"].is_string(), "problems carry the request id: {}", self.text);
    }
}

impl Server {
    pub async fn start() -> Server {
        Server::start_on(None).await
    }

    /// The same server on a fresh PostgreSQL database (the test tooling
    /// starts a throwaway server unless `DATABASE_URL` is set).
    #[allow(dead_code)] // used by some test binaries only
    pub async fn start_pg(name: &str) -> Server {
        let url = tokio::task::spawn_blocking({
            let name = name.to_string();
            move || creditdesk_testkit::test_database_url(&name)
        })
        .await
        .unwrap();
        Server::start_on(Some(url)).await
    }

    /// Two servers on one fresh PostgreSQL database, sharing the clock and
    /// the admin (as two processes behind a load balancer would share them).
    #[allow(dead_code)]
    pub async fn start_pg_pair(name: &str) -> (Server, Server) {
        let url = tokio::task::spawn_blocking({
            let name = name.to_string();
            move || creditdesk_testkit::test_database_url(&name)
        })
        .await
        .unwrap();
        let first = Server::start_on(Some(url.clone())).await;
        let mut second = Server::open(Some(url), first.clock.clone()).await;
        second.admin = first.admin.clone();
        (first, second)
    }

    async fn start_on(pg: Option<String>) -> Server {
        let mut server = Server::open(pg, Arc::new(ManualClock::new(t0()))).await;
        server.admin = server.user("root", "admin").await;
        server
    }

    async fn open(pg: Option<String>, clock: Arc<ManualClock>) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let options = StoreOptions { clock: clock.clone(), ..StoreOptions::default() };
        let store: Store = match &pg {
            None => SqliteStore::open(dir.path().join("api.db"), options).unwrap().into(),
            Some(url) => creditdesk_store::PgStore::open(url, options).unwrap().into(),
        };
        let state = AppState::new(store.clone(), recorder());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = http::router(state);
        let serve = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Server {
            base: format!("http://{addr}"),
            store,
            clock,
            http: reqwest::Client::new(),
            admin: String::new(),
            dir,
            database_url: pg,
            _serve: serve,
        }
    }

    /// The database file of a server started on SQLite.
    pub fn sqlite_path(&self) -> std::path::PathBuf {
        self.dir.path().join("api.db")
    }

    /// Creates a user straight in the store; returns its token.
    pub async fn user(&self, name: &str, role: &str) -> String {
        let token = auth::new_token();
        let user = User {
            id: format!("u_{name}"),
            name: name.into(),
            role: role.into(),
            created_at: self.store.now(),
            revoked_at: None,
        };
        self.store.admin(AdminOp::User { user, token_hash: auth::hash_token(&token) }).await.unwrap();
        token
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp { status, headers, body, text }
    }

    pub async fn get(&self, token: Option<&str>, path: &str) -> Resp {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        self.send(req).await
    }

    pub async fn post(&self, token: Option<&str>, path: &str, body: &Value) -> Resp {
        self.post_keyed(token, path, body, None).await
    }

    pub async fn post_keyed(&self, token: Option<&str>, path: &str, body: &Value, key: Option<&str>) -> Resp {
        let mut req = self.http.post(format!("{}{path}", self.base)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        self.send(req).await
    }

    /// Sends raw bytes with a content type.
    pub async fn post_raw(&self, token: Option<&str>, path: &str, body: Vec<u8>, content_type: Option<&str>) -> Resp {
        let mut req = self.http.post(format!("{}{path}", self.base)).body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        self.send(req).await
    }

    /// GET as admin, expecting 200.
    pub async fn read(&self, path: &str) -> Value {
        let r = self.get(Some(&self.admin), path).await;
        assert_eq!(r.status, 200, "GET {path}: {}", r.text);
        r.body
    }

    /// A credit type `batch` (0.01 USD per credit), products `transcribe`
    /// (2 credits per unit) and `diarize` (1 per unit), customers `c1`, `c2`.
    pub async fn catalog(&self) {
        let admin = Some(self.admin.as_str());
        self.post(
            admin,
            "/v1/admin/credit-types",
            &json!({"id": "batch", "name": "Batch transcription", "unit_label": "credits",
                    "unit_price": {"amount": "0.01", "currency": "USD"}}),
        )
        .await
        .ok(201);
        for (id, rate) in [("transcribe", "2"), ("diarize", "1")] {
            self.post(
                admin,
                "/v1/admin/products",
                &json!({"id": id, "name": id, "credit_type_id": "batch",
                        "rate_card": [{"effective_from": "2026-01-01T00:00:00Z", "credits_per_unit": rate}]}),
            )
            .await
            .ok(201);
        }
        for c in ["c1", "c2"] {
            self.post(admin, "/v1/admin/customers", &json!({"id": c, "name": format!("Customer {c}")})).await.ok(201);
        }
    }

    /// A valid grant request body.
    pub fn grant_body(id: &str, customer: &str, amount: &str) -> Value {
        json!({
            "id": id,
            "customer_id": customer,
            "credit_type_id": "batch",
            "amount": amount,
            "category": "paid",
            "source": "purchase",
            "expires_at": "2026-06-01T00:00:00Z",
            "reason_code": "purchase",
            "ticket_ref": "ZD-1",
            "note": "annual plan"
        })
    }

    /// A valid event, `minutes_ago` before the clock's now.
    pub fn event(&self, id: &str, customer: &str, quantity: &str, minutes_ago: i64) -> Value {
        let t = self.store.now() - chrono::TimeDelta::minutes(minutes_ago);
        json!({
            "id": id,
            "customer_id": customer,
            "product_id": "transcribe",
            "quantity": quantity,
            "timestamp": t.to_rfc3339(),
            "properties": {"model": "large"}
        })
    }

    /// Ledger entries of a customer (first page, newest first).
    pub async fn ledger(&self, customer: &str) -> Vec<Value> {
        self.read(&format!("/v1/customers/{customer}/ledger?limit=1000")).await["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// How many events sit in the rejected store.
    pub async fn rejected_count(&self) -> usize {
        self.read("/v1/events/rejected?limit=1000").await["items"].as_array().map_or(0, Vec::len)
    }
}

/// Arbitrary JSON, with strings and numbers near the ones the API takes
/// (ids of the test catalog, amounts, instants, enum words).
pub fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1e20f64..1e20).prop_map(|f| json!(f)),
        "[a-zA-Z0-9 ~._/\\-]{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "1",
            "-1",
            "0",
            "1.5",
            "1e3",
            "0.0000001",
            "99999999999999999999999",
            "2026-03-10T11:00:00Z",
            "2026-03-10T12:30:00+01:00",
            "1999-01-01T00:00:00Z",
            "c1",
            "c2",
            "transcribe",
            "diarize",
            "batch",
            "paid",
            "promotional",
            "purchase",
            "goodwill",
            "backfill",
            "live",
            "",
            "g~x",
            "USD",
        ])
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<String, Value>>())),
        ]
    })
}
