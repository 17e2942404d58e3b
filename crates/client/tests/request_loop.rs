//! The client's request loop against canned HTTP responses on a local
//! socket (no Creditdesk server): retries reuse the idempotency key, stop on
//! answers that are not "not now", respect the attempt limit, and surface
//! problem documents and replays. End-to-end tests against the real server
//! live with the server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use creditdesk_api::events::{EventIn, IngestRequest};
use creditdesk_api::grants::CreateGrantRequest;
use creditdesk_api::{GrantCategory, GrantSource};
use creditdesk_client::{Client, ClientError, GrantOutcome, ProblemCode, RetryPolicy, TransportKind};
use rust_decimal::Decimal;

/// A request as the stub saw it.
#[derive(Clone, Debug)]
struct Seen {
    request_line: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn read_request(stream: &mut TcpStream) -> Option<Seen> {
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).ok()? == 0 {
        return None;
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':')?;
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Seen {
        request_line: request_line.trim_end().to_owned(),
        headers,
        body: String::from_utf8_lossy(&body).into(),
    })
}

/// Serves `responses` in order, one per connection (`Connection: close`),
/// recording each request. Returns the base URL and the log.
fn stub(responses: Vec<String>) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    thread::spawn(move || {
        for response in responses {
            let Ok((mut stream, _)) = listener.accept() else { return };
            if let Some(req) = read_request(&mut stream) {
                seen.lock().unwrap().push(req);
            }
            let _ = stream.write_all(response.as_bytes());
        }
    });
    (base, log)
}

fn response(status: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut r = format!("HTTP/1.1 {status}\r\nconnection: close\r\ncontent-length: {}\r\n", body.len());
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    r.push_str("\r\n");
    r.push_str(body);
    r
}

fn fast_retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        max_retry_after: Duration::from_secs(2),
    }
}

fn client(base: &str, attempts: u32) -> Client {
    Client::builder(base).token("cdk_test").retry(fast_retries(attempts)).build().unwrap()
}

fn ingest_request() -> IngestRequest {
    IngestRequest {
        events: vec![EventIn {
            id: "e1".into(),
            customer_id: "c1".into(),
            product_id: "p1".into(),
            quantity: Decimal::new(15, 1),
            timestamp: chrono::DateTime::UNIX_EPOCH,
            properties: Default::default(),
        }],
        mode: None,
        result_detail: None,
    }
}

const INGESTED: &str = r#"{"results":[{"status":"duplicate","id":"e1","original_received_at":"2026-03-10T12:00:00Z"}],"accepted":0,"duplicates":1,"rejected":0}"#;

#[tokio::test]
async fn ingest_retries_with_the_same_key_and_reads_the_replay_flag() {
    let (base, log) = stub(vec![
        response("503 Service Unavailable", &[("retry-after", "0")], ""),
        response("502 Bad Gateway", &[("content-type", "text/html")], "<html>bad gateway</html>"),
        response("200 OK", &[("content-type", "application/json"), ("idempotent-replayed", "true")], INGESTED),
    ]);
    let out = client(&base, 3).ingest(&ingest_request()).await.unwrap();
    assert!(out.replayed);
    assert_eq!(out.duplicates, 1, "derefs to the response");
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 3);
    let keys: Vec<_> = log.iter().map(|s| s.header("idempotency-key").unwrap().to_owned()).collect();
    assert!(keys.iter().all(|k| *k == out.idempotency_key), "one key per logical call: {keys:?}");
    assert_eq!(log[0].request_line, "POST /v1/events HTTP/1.1");
    assert_eq!(log[0].header("authorization"), Some("Bearer cdk_test"));
    assert_eq!(log[0].header("content-type"), Some("application/json"));
    assert!(log[0].body.contains(r#""quantity":"1.5""#), "{}", log[0].body);
}

#[tokio::test]
async fn gives_up_after_max_attempts_with_the_last_answer() {
    let (base, log) = stub(vec![
        response("503 Service Unavailable", &[], ""),
        response(
            "503 Service Unavailable",
            &[("content-type", "application/problem+json"), ("retry-after", "1")],
            r#"{"type":"https://creditdesk.dev/problems/unavailable","title":"Service unavailable","status":503,"detail":"draining","code":"unavailable"}"#,
        ),
    ]);
    let err = client(&base, 2).me().await.unwrap_err();
    assert!(err.is(&ProblemCode::Unavailable), "{err}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
    assert_eq!(log.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn answers_are_not_retried_and_problems_are_surfaced() {
    let problem = r#"{"type":"https://creditdesk.dev/problems/validation_failed","title":"The request is invalid","status":422,
        "detail":"amount: must be greater than 0","code":"validation_failed","request_id":"req-7",
        "errors":[{"field":"amount","rule":"must be greater than 0"}]}"#;
    let (base, log) = stub(vec![
        response("422 Unprocessable Entity", &[("content-type", "application/problem+json")], problem),
        response("200 OK", &[], "{}"),
    ]);
    let req = CreateGrantRequest {
        id: None,
        customer_id: "c1".into(),
        credit_type_id: "batch".into(),
        amount: Decimal::ZERO,
        category: GrantCategory::Paid,
        source: GrantSource::Goodwill,
        priority: None,
        effective_at: None,
        expires_at: None,
        products: None,
        contract_id: None,
        cost_basis: None,
        rollover: None,
        reason_code: "goodwill".into(),
        ticket_ref: Some("ZD-1".into()),
        note: None,
        mode: None,
    };
    let err = client(&base, 5).create_grant(&req).await.unwrap_err();
    assert_eq!(err.code(), Some(&ProblemCode::ValidationFailed));
    assert_eq!(err.field_errors()[0].field, "amount");
    assert_eq!(err.request_id(), Some("req-7"));
    assert_eq!(log.lock().unwrap().len(), 1, "a 422 is an answer, not a reason to retry");
}

#[tokio::test]
async fn a_202_is_a_pending_approval() {
    let body = r#"{"approval_id":"ap_1","action":"grant","value":{"amount":"80","currency":"USD"},"exceeded":"per_action",
        "limit":{"amount":"50","currency":"USD"},"exceeded_by":{"amount":"30","currency":"USD"},
        "approver_roles":["support_lead","finance","admin"],"requested_by":"u_1",
        "requested_at":"2026-03-10T12:00:00Z","expires_at":"2026-03-17T12:00:00Z"}"#;
    let (base, _log) = stub(vec![response("202 Accepted", &[("content-type", "application/json")], body)]);
    let req: CreateGrantRequest = serde_json::from_str(
        r#"{"customer_id":"c1","credit_type_id":"batch","amount":"8000","category":"promotional","source":"goodwill","reason_code":"outage"}"#,
    )
    .unwrap();
    let out = client(&base, 1).create_grant(&req).await.unwrap();
    assert!(!out.replayed);
    match out.value {
        GrantOutcome::PendingApproval(p) => assert_eq!(p.exceeded_by.amount, Decimal::from(30)),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_body_off_contract_is_a_decode_error() {
    let (base, _log) = stub(vec![response("200 OK", &[], r#"{"name":"creditdesk-server"}"#)]);
    let err = client(&base, 1).version().await.unwrap_err();
    assert!(matches!(err, ClientError::Decode { status: 200, .. }), "{err}");
    assert!(err.to_string().contains("GET /v1/version"), "{err}");
}

#[tokio::test]
async fn connection_refused_is_retried_then_reported() {
    // A port that was free a moment ago: nothing listens on it.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let err = client(&format!("http://127.0.0.1:{port}"), 3).health().await.unwrap_err();
    match err {
        ClientError::Transport { kind, attempts, .. } => {
            assert_eq!(kind, TransportKind::Connect);
            assert_eq!(attempts, 3);
        }
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn creating_a_user_is_never_retried() {
    let (base, log) = stub(vec![response("503 Service Unavailable", &[], ""), response("201 Created", &[], "{}")]);
    let req = creditdesk_api::admin::CreateUserRequest { name: "bob".into(), role: creditdesk_api::Role::Viewer };
    let err = client(&base, 5).create_user(&req).await.unwrap_err();
    assert_eq!(err.status(), Some(503));
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].header("idempotency-key"), None, "the token answer must not be stored for replay");
}

#[tokio::test]
async fn ids_are_one_path_segment() {
    let (base, log) = stub(vec![response("404 Not Found", &[], "")]);
    let err = client(&base, 1).customer("../admin/users").await.unwrap_err();
    assert!(matches!(err, ClientError::Http { status: 404, .. }), "{err}");
    assert_eq!(log.lock().unwrap()[0].request_line, "GET /v1/customers/..%2Fadmin%2Fusers HTTP/1.1");
}
