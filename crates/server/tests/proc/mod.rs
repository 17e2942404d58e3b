//! The real `creditdesk-server` binary as a child process, for the tests
//! that kill it or run two at once: start it on a database URL, wait for
//! `/healthz`, `kill -9` it. Plus what those tests check over HTTP: every
//! ledger entry of a customer, batches of usage events with known rated
//! credits (each product rates 1 credit per unit), and the invariants.

#![allow(dead_code)]

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_creditdesk-server");

/// A port free right now on 127.0.0.1 (the server binds it next).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Creates an admin user on `db` with the binary's own `users add`; its token.
pub fn admin_token(db: &str) -> String {
    let out = Command::new(BIN)
        .args(["--db", db, "users", "add", "--name", "root", "--role", "admin"])
        .env("CREDITDESK_LOG", "warn")
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "users add failed: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A running server process.
pub struct Proc {
    child: Child,
    pub base: String,
}

impl Proc {
    /// Starts `creditdesk-server serve` on `db` and waits until it answers.
    pub async fn start(db: &str) -> Proc {
        let port = free_port();
        let child = Command::new(BIN)
            .args(["--db", db, "serve", "--addr", &format!("127.0.0.1:{port}"), "--log", "warn"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut p = Proc { child, base: format!("http://127.0.0.1:{port}") };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = http.get(format!("{}/healthz", p.base)).send().await {
                if r.status().is_success() {
                    return p;
                }
            }
            if let Some(status) = p.child.try_wait().unwrap() {
                panic!("creditdesk-server exited at start: {status}");
            }
            assert!(Instant::now() < deadline, "creditdesk-server did not come up on {}", p.base);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no shutdown, no flush, in-flight requests cut off.
    pub fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP client for one server: admin calls and the checks.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub token: String,
    pub http: reqwest::Client,
}

impl Api {
    pub fn new(base: &str, token: &str) -> Api {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
        Api { base: base.to_owned(), token: token.to_owned(), http }
    }

    /// POST; (status, body text), or the transport error (server gone).
    pub async fn post(&self, path: &str, body: &Value, key: Option<&str>) -> reqwest::Result<(u16, String, bool)> {
        let mut req = self.http.post(format!("{}{path}", self.base)).bearer_auth(&self.token).json(body);
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        let r = req.send().await?;
        let status = r.status().as_u16();
        let replayed = r.headers().get("idempotent-replayed").is_some_and(|v| v == "true");
        Ok((status, r.text().await?, replayed))
    }

    pub async fn post_ok(&self, path: &str, body: &Value) -> Value {
        let (status, text, _) = self.post(path, body, None).await.unwrap();
        assert!((200..300).contains(&status), "POST {path}: {status} {text}");
        serde_json::from_str(&text).unwrap()
    }

    pub async fn get(&self, path: &str) -> Value {
        let r = self.http.get(format!("{}{path}", self.base)).bearer_auth(&self.token).send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        assert_eq!(status, 200, "GET {path}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// Credit type `api` (carry-forward overage), product `chat` at 1
    /// credit per unit, and customers, each with one grant of the given size.
    pub async fn setup(&self, grants: &[(String, i64)]) {
        self.post_ok(
            "/v1/admin/credit-types",
            &json!({"id": "api", "name": "API", "unit_label": "credits",
                    "unit_price": {"amount": "0.01", "currency": "USD"}, "overage_mode": "carry_forward"}),
        )
        .await;
        self.post_ok(
            "/v1/admin/products",
            &json!({"id": "chat", "name": "Chat", "credit_type_id": "api",
                    "rate_card": [{"effective_from": "2020-01-01T00:00:00Z", "credits_per_unit": "1"}]}),
        )
        .await;
        for (c, amount) in grants {
            self.post_ok("/v1/admin/customers", &json!({"id": c, "name": c})).await;
            self.post_ok(
                "/v1/grants",
                &json!({"id": format!("g-{c}"), "customer_id": c, "credit_type_id": "api",
                        "amount": amount.to_string(), "category": "paid", "source": "purchase",
                        "reason_code": "purchase", "ticket_ref": "T-1", "note": "crash test"}),
            )
            .await;
        }
    }

    /// Every ledger entry of a customer (all pages).
    pub async fn ledger(&self, customer: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/v1/customers/{customer}/ledger?limit=1000");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let page = self.get(&path).await;
            out.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return out,
            }
        }
    }

    /// Per event id: the sum of its burn and overage entries (negative), and
    /// how many such entries; checks the customer's grants on the way.
    pub async fn check_customer(&self, customer: &str) -> HashMap<String, Decimal> {
        let entries = self.ledger(customer).await;
        let mut used: HashMap<String, Decimal> = HashMap::new();
        let mut per_grant: HashMap<String, Decimal> = HashMap::new();
        for e in &entries {
            let amount = dec(&e["amount"]);
            let kind = e["kind"].as_str().unwrap();
            if let Some(ev) = e["event_id"].as_str() {
                if kind == "burn" || kind == "overage" {
                    *used.entry(ev.to_owned()).or_default() += amount;
                }
            }
            if let Some(g) = e["grant_id"].as_str() {
                *per_grant.entry(g.to_owned()).or_default() += amount;
            }
        }
        // Per-grant conservation, nothing below zero, and the running
        // totals agree with the entries.
        let balances = self.get(&format!("/v1/customers/{customer}/balances")).await;
        for b in balances["balances"].as_array().unwrap() {
            for g in b["grants"].as_array().unwrap() {
                let t = &g["totals"];
                let [amount, burned, settled, expired, corrected, rolled, voided, reversed] =
                    ["amount", "burned", "settled", "expired", "corrected", "rolled", "voided", "reversed"]
                        .map(|k| dec(&t[k]));
                let remaining = dec(&g["remaining"]);
                assert_eq!(
                    amount + reversed + corrected,
                    burned + expired + rolled + voided + settled + remaining,
                    "conservation of {g}"
                );
                for v in [burned, settled, expired, corrected, rolled, voided, reversed, remaining] {
                    assert!(v >= Decimal::ZERO, "a negative term in {g}");
                }
                let id = g["grant"]["id"].as_str().unwrap();
                assert_eq!(
                    per_grant.get(id).copied().unwrap_or_default(),
                    remaining,
                    "entries of {id} vs its remaining"
                );
            }
        }
        used
    }

    /// The customer's available credits now.
    pub async fn available(&self, customer: &str) -> Decimal {
        dec(&self.get(&format!("/v1/customers/{customer}/balances")).await["balances"][0]["available"])
    }
}

pub fn dec(v: &Value) -> Decimal {
    v.as_str().unwrap_or_else(|| panic!("not a decimal string: {v}")).parse().unwrap()
}

/// A batch of usage events: `(id, customer, quantity)`, each timed 1 to 11
/// minutes before `now` by its id (so an event sent in two batches is the
/// same event, not a conflict).
pub fn batch_body(now: chrono::DateTime<chrono::Utc>, events: &[(String, String, i64)]) -> Value {
    let events: Vec<Value> = events
        .iter()
        .map(|(id, c, q)| {
            let spread = id.bytes().fold(0i64, |h, b| (h * 31 + i64::from(b)) % 600);
            json!({"id": id, "customer_id": c, "product_id": "chat", "quantity": q.to_string(),
                   "timestamp": (now - chrono::TimeDelta::seconds(60 + spread)).to_rfc3339()})
        })
        .collect();
    json!({ "events": events })
}

/// Every result of an ingest response, as its status.
pub fn statuses(text: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    v["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results: {text}"))
        .iter()
        .map(|r| r["status"].as_str().unwrap().to_owned())
        .collect()
}
