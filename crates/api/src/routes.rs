//! The route table and the HTTP headers of the contract, in one place so the
//! server's router, the client's URL builder and the docs cannot drift.
//!
//! Path templates use `{name}` placeholders, the syntax axum 0.8 routes use,
//! so the server can register these constants directly.

/// An HTTP method of the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// What retrying a call can do, which decides whether a client may retry it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Retry {
    /// No side effects (GET, and `POST /v1/authorize`, which reserves nothing).
    Safe,
    /// Writes, made repeatable by an `Idempotency-Key` the client sends.
    WithIdempotencyKey,
    /// Never retried: creating a user returns a token that must not be
    /// stored for replays, so a retry could not return it.
    Never,
}

/// One route of the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    /// Whether a bearer token is required (everything but `/healthz`).
    pub auth: bool,
    pub retry: Retry,
    pub summary: &'static str,
}

pub const HEALTHZ: &str = "/healthz";
pub const OPENAPI: &str = "/openapi.json";
pub const METRICS: &str = "/metrics";
pub const VERSION: &str = "/v1/version";
pub const ME: &str = "/v1/me";
pub const CUSTOMERS: &str = "/v1/customers";
pub const CUSTOMER: &str = "/v1/customers/{id}";
pub const CUSTOMER_BALANCES: &str = "/v1/customers/{id}/balances";
pub const CUSTOMER_GRANTS: &str = "/v1/customers/{id}/grants";
pub const CUSTOMER_LEDGER: &str = "/v1/customers/{id}/ledger";
pub const CUSTOMER_BURN: &str = "/v1/customers/{id}/burn";
pub const CUSTOMER_FORECAST: &str = "/v1/customers/{id}/forecast";
pub const CUSTOMER_EXPIRATIONS: &str = "/v1/customers/{id}/expirations";
pub const REPORT_EXPIRATIONS: &str = "/v1/reports/expirations";
pub const REPORT_BREAKAGE: &str = "/v1/reports/breakage";
pub const REPORT_RECONCILIATION: &str = "/v1/reports/reconciliation";
pub const EVENTS: &str = "/v1/events";
pub const EVENTS_REJECTED: &str = "/v1/events/rejected";
pub const EVENT: &str = "/v1/events/{id}";
pub const AUTHORIZE: &str = "/v1/authorize";
pub const GRANTS: &str = "/v1/grants";
pub const GRANT_VOID: &str = "/v1/grants/{id}/void";
pub const ADMIN_CREDIT_TYPES: &str = "/v1/admin/credit-types";
pub const ADMIN_CREDIT_TYPE: &str = "/v1/admin/credit-types/{id}";
pub const ADMIN_PRODUCTS: &str = "/v1/admin/products";
pub const ADMIN_PRODUCT: &str = "/v1/admin/products/{id}";
pub const ADMIN_PRODUCT_RATES: &str = "/v1/admin/products/{id}/rates";
pub const ADMIN_OVERRIDES: &str = "/v1/admin/overrides";
pub const ADMIN_CUSTOMERS: &str = "/v1/admin/customers";
pub const ADMIN_USERS: &str = "/v1/admin/users";
pub const ADMIN_USER_REVOKE: &str = "/v1/admin/users/{id}/revoke";
pub const ADMIN_ROLES: &str = "/v1/admin/roles";
pub const ADMIN_ROLE_LIMITS: &str = "/v1/admin/roles/{id}/limits";
pub const GRANT_PREVIEW: &str = "/v1/grants/preview";
pub const GRANT_EXTEND: &str = "/v1/grants/{id}/extend";
pub const APPROVALS: &str = "/v1/approvals";
pub const APPROVAL: &str = "/v1/approvals/{id}";
pub const APPROVAL_APPROVE: &str = "/v1/approvals/{id}/approve";
pub const APPROVAL_REJECT: &str = "/v1/approvals/{id}/reject";
pub const APPROVAL_CANCEL: &str = "/v1/approvals/{id}/cancel";
pub const DISPUTES: &str = "/v1/disputes";
pub const DISPUTE: &str = "/v1/disputes/{id}";
pub const DISPUTE_EVIDENCE: &str = "/v1/disputes/{id}/evidence";
pub const DISPUTE_ASSIGN: &str = "/v1/disputes/{id}/assign";
pub const DISPUTE_COMMENTS: &str = "/v1/disputes/{id}/comments";
pub const DISPUTE_RESOLVE: &str = "/v1/disputes/{id}/resolve";
pub const AUDIT: &str = "/v1/audit";

const fn route(method: Method, path: &'static str, retry: Retry, summary: &'static str) -> Route {
    Route { method, path, auth: true, retry, summary }
}

use Method::{Get, Post};
use Retry::{Never, Safe, WithIdempotencyKey as Keyed};

/// Every route of the billing API.
pub const ROUTES: &[Route] = &[
    Route { method: Get, path: HEALTHZ, auth: false, retry: Safe, summary: "liveness" },
    route(Get, VERSION, Safe, "server name and version"),
    route(Get, OPENAPI, Safe, "OpenAPI 3.1 document"),
    route(Get, METRICS, Safe, "Prometheus metrics (text)"),
    route(Get, ME, Safe, "caller, role, limits, remaining monthly budget"),
    route(Get, CUSTOMERS, Safe, "search customers, with summaries"),
    route(Get, CUSTOMER, Safe, "one customer's summary"),
    route(Get, CUSTOMER_BALANCES, Safe, "balances now or at `at`, as known at `as_of`, per grant"),
    route(Get, CUSTOMER_GRANTS, Safe, "grants, filtered by status"),
    route(Get, CUSTOMER_LEDGER, Safe, "ledger entries, filtered"),
    route(Get, CUSTOMER_BURN, Safe, "burn series"),
    route(Get, CUSTOMER_FORECAST, Safe, "balance history, runway, breakage"),
    route(Get, CUSTOMER_EXPIRATIONS, Safe, "expiry schedule"),
    route(Get, REPORT_EXPIRATIONS, Safe, "expiring liability across customers"),
    route(Get, REPORT_BREAKAGE, Safe, "breakage by month"),
    route(Get, REPORT_RECONCILIATION, Safe, "rated usage vs burns + overage"),
    route(Post, EVENTS, Keyed, "ingest usage events"),
    route(Get, EVENTS_REJECTED, Safe, "rejected events"),
    route(Get, EVENT, Safe, "one usage event: its rating, burns and reversals"),
    route(Post, AUTHORIZE, Safe, "can the customer afford this usage now (reserves nothing)"),
    route(Post, GRANTS, Keyed, "grant credits (201, or 202 pending approval)"),
    route(Post, GRANT_VOID, Keyed, "void a grant's remainder"),
    route(Get, ADMIN_CREDIT_TYPES, Safe, "list credit types"),
    route(Post, ADMIN_CREDIT_TYPES, Keyed, "create a credit type"),
    route(Get, ADMIN_CREDIT_TYPE, Safe, "one credit type"),
    route(Get, ADMIN_PRODUCTS, Safe, "list products"),
    route(Post, ADMIN_PRODUCTS, Keyed, "create a product"),
    route(Get, ADMIN_PRODUCT, Safe, "one product with its rate card"),
    route(Post, ADMIN_PRODUCT_RATES, Keyed, "add a rate-card version"),
    route(Get, ADMIN_OVERRIDES, Safe, "list customer rate overrides"),
    route(Post, ADMIN_OVERRIDES, Keyed, "set a customer's rate override"),
    route(Post, ADMIN_CUSTOMERS, Keyed, "create a customer"),
    route(Get, ADMIN_USERS, Safe, "list users (no tokens)"),
    route(Post, ADMIN_USERS, Never, "create a user; the token is shown once"),
    route(Post, ADMIN_USER_REVOKE, Keyed, "revoke a user's token"),
    route(Get, ADMIN_ROLES, Safe, "every role's money limits"),
    route(Post, ADMIN_ROLE_LIMITS, Keyed, "replace a role's money limits"),
    route(Post, GRANT_PREVIEW, Safe, "what a grant would do now (writes nothing)"),
    route(Post, GRANT_EXTEND, Keyed, "extend a grant's expiry (201, or 202 pending approval)"),
    route(Get, APPROVALS, Safe, "approval requests (pending, mine, by customer)"),
    route(Get, APPROVAL, Safe, "one approval request"),
    route(Post, APPROVAL_APPROVE, Keyed, "approve and execute a request (once)"),
    route(Post, APPROVAL_REJECT, Keyed, "reject a request (reason required)"),
    route(Post, APPROVAL_CANCEL, Keyed, "cancel one's own request"),
    route(Get, DISPUTES, Safe, "disputes (status, assignee, overdue)"),
    route(Post, DISPUTES, Keyed, "open a dispute"),
    route(Get, DISPUTE, Safe, "one dispute with its comments"),
    route(Get, DISPUTE_EVIDENCE, Safe, "evidence for each disputed event"),
    route(Post, DISPUTE_ASSIGN, Keyed, "assign a dispute"),
    route(Post, DISPUTE_COMMENTS, Keyed, "comment on a dispute"),
    route(Post, DISPUTE_RESOLVE, Keyed, "resolve: reverse_usage, goodwill_grant or no_action"),
    route(Get, AUDIT, Safe, "audit log, filtered, newest first"),
];

/// Looks a route up by method and template.
pub fn find(method: Method, path: &str) -> Option<&'static Route> {
    ROUTES.iter().find(|r| r.method == method && r.path == path)
}

/// Header names (lower case, as HTTP/2 sends them; matching is case-insensitive).
pub mod headers {
    /// Request: makes a POST repeatable. Same key + same body = the original
    /// response again; same key + different body = 409 `idempotency_conflict`.
    pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
    /// Response: `true` when the body is a replay of an earlier response.
    pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";
    /// Response (and optionally request): the request's id, as in problems.
    pub const REQUEST_ID: &str = "x-request-id";
    /// Response to 429/503: seconds (or an HTTP date) to wait before retrying.
    pub const RETRY_AFTER: &str = "retry-after";
}

/// Longest `Idempotency-Key` accepted (bytes, printable ASCII).
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 200;

/// Why an `Idempotency-Key` value is unacceptable, if it is.
pub fn idempotency_key_rule(key: &str) -> Option<&'static str> {
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_LEN {
        Some("must be 1 to 200 characters")
    } else if !key.bytes().all(|b| b.is_ascii_graphic()) {
        Some("must be printable ASCII without spaces")
    } else {
        None
    }
}

/// Fills a template's `{placeholders}` in order with `args`, each
/// percent-encoded as one path segment (so an id containing `/` or `?` can
/// never change the route). Returns `None` if the counts differ.
pub fn fill(template: &str, args: &[&str]) -> Option<String> {
    let mut out = String::with_capacity(template.len() + args.iter().map(|a| a.len()).sum::<usize>());
    let mut args = args.iter();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}')? + open;
        out.push_str(&rest[..open]);
        encode_segment(args.next()?, &mut out);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    match args.next() {
        Some(_) => None,
        None => Some(out),
    }
}

/// RFC 3986 path-segment encoding: unreserved characters stay, everything
/// else (including `/`, `%`, `?`, `#`, spaces and non-ASCII) becomes `%XX`.
pub fn encode_segment(segment: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xF)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_encodes_each_argument_as_one_segment() {
        assert_eq!(fill(CUSTOMER_BALANCES, &["c_1"]).unwrap(), "/v1/customers/c_1/balances");
        assert_eq!(fill(GRANT_VOID, &["a/b?c#d e%"]).unwrap(), "/v1/grants/a%2Fb%3Fc%23d%20e%25/void");
        assert_eq!(fill(CUSTOMER, &["é"]).unwrap(), "/v1/customers/%C3%A9");
        assert_eq!(fill(ME, &[]).unwrap(), ME);
        assert_eq!(fill(CUSTOMER, &[]), None, "missing argument");
        assert_eq!(fill(ME, &["x"]), None, "extra argument");
        assert_eq!(fill(GRANT_VOID, &["g~rollover"]).unwrap(), "/v1/grants/g~rollover/void");
    }

    #[test]
    fn route_table_is_consistent() {
        for (i, r) in ROUTES.iter().enumerate() {
            assert!(r.path.starts_with('/'));
            assert!(r.path == HEALTHZ || r.auth, "{}: only /healthz is public", r.path);
            assert!(
                !ROUTES[..i].iter().any(|o| o.method == r.method && o.path == r.path),
                "{} {} listed twice",
                r.method.as_str(),
                r.path
            );
            if r.method == Method::Get {
                assert_eq!(r.retry, Retry::Safe, "{}", r.path);
            }
        }
        assert_eq!(find(Method::Post, EVENTS).unwrap().retry, Retry::WithIdempotencyKey);
        assert_eq!(find(Method::Post, ADMIN_USERS).unwrap().retry, Retry::Never);
    }

    #[test]
    fn idempotency_keys() {
        assert_eq!(idempotency_key_rule("0b6c3c1e-8f0e-4bde-9d43-1c0f4f7b1a2e"), None);
        assert!(idempotency_key_rule("").is_some());
        assert!(idempotency_key_rule("has space").is_some());
        assert!(idempotency_key_rule(&"k".repeat(201)).is_some());
    }
}
