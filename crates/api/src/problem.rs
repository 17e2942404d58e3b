//! Errors on the wire: RFC 9457 `application/problem+json` documents with a
//! stable machine `code`.
//!
//! Clients branch on `code`, never on `title` or `detail` (human text that
//! may change). `type` is derived from `code` so the two cannot disagree.
//! Extension members (e.g. `limit`, `exceeded_by`, `approver_roles` from the
//! approval flows) travel in [`Problem::extra`] so a client built before a
//! new extension existed still parses the document.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// Media type of a problem document (RFC 9457).
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// Prefix of every problem `type` URI; the code follows.
pub const PROBLEM_TYPE_BASE: &str = "https://creditdesk.dev/problems/";

/// A stable machine code. New codes may be added in later versions; a code
/// this build does not know parses as [`ProblemCode::Other`] instead of
/// failing, so an old client keeps working against a newer server.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ProblemCode {
    /// The request (body, query or path) broke a shape or domain rule; see `errors`.
    ValidationFailed,
    NotFound,
    /// No bearer token, or an unknown or revoked one.
    Unauthorized,
    /// Authenticated, but the role may not do this.
    InsufficientPermission,
    /// The action exceeds the caller's limits and was not executed (see the
    /// `limit`, `exceeded_by` and `approver_roles` extension members).
    ApprovalRequired,
    /// The `Idempotency-Key` (or event id) was used before with a different body.
    IdempotencyConflict,
    /// An event older than the late window.
    EventTooOld,
    /// An event more than the allowed skew in the future.
    EventInFuture,
    /// A resource with this id already exists.
    AlreadyExists,
    /// The event was already reversed.
    AlreadyReversed,
    /// The event booked nothing that could be reversed.
    NothingToReverse,
    /// The grant's state forbids the action (e.g. voiding an expired grant).
    GrantStateConflict,
    /// Too many requests; see `Retry-After`.
    RateLimited,
    /// The request body is larger than the server accepts (8 MiB).
    PayloadTooLarge,
    /// The route exists but not with this HTTP method; see `Allow`.
    MethodNotAllowed,
    /// The server is shutting down or its database is unreachable; retry later.
    Unavailable,
    /// An unexpected server error; `request_id` identifies it in the logs.
    Internal,
    /// A code unknown to this version of the crate.
    Other(String),
}

impl ProblemCode {
    /// Every code this version knows (not `Other`).
    pub const KNOWN: [ProblemCode; 17] = [
        ProblemCode::ValidationFailed,
        ProblemCode::NotFound,
        ProblemCode::Unauthorized,
        ProblemCode::InsufficientPermission,
        ProblemCode::ApprovalRequired,
        ProblemCode::IdempotencyConflict,
        ProblemCode::EventTooOld,
        ProblemCode::EventInFuture,
        ProblemCode::AlreadyExists,
        ProblemCode::AlreadyReversed,
        ProblemCode::NothingToReverse,
        ProblemCode::GrantStateConflict,
        ProblemCode::RateLimited,
        ProblemCode::PayloadTooLarge,
        ProblemCode::MethodNotAllowed,
        ProblemCode::Unavailable,
        ProblemCode::Internal,
    ];

    pub fn as_str(&self) -> &str {
        match self {
            ProblemCode::ValidationFailed => "validation_failed",
            ProblemCode::NotFound => "not_found",
            ProblemCode::Unauthorized => "unauthorized",
            ProblemCode::InsufficientPermission => "insufficient_permission",
            ProblemCode::ApprovalRequired => "approval_required",
            ProblemCode::IdempotencyConflict => "idempotency_conflict",
            ProblemCode::EventTooOld => "event_too_old",
            ProblemCode::EventInFuture => "event_in_future",
            ProblemCode::AlreadyExists => "already_exists",
            ProblemCode::AlreadyReversed => "already_reversed",
            ProblemCode::NothingToReverse => "nothing_to_reverse",
            ProblemCode::GrantStateConflict => "grant_state_conflict",
            ProblemCode::RateLimited => "rate_limited",
            ProblemCode::PayloadTooLarge => "payload_too_large",
            ProblemCode::MethodNotAllowed => "method_not_allowed",
            ProblemCode::Unavailable => "unavailable",
            ProblemCode::Internal => "internal",
            ProblemCode::Other(code) => code,
        }
    }

    /// The HTTP status the server answers with for this code. One status per
    /// code, so a client can rely on either. `Other` codes have no known
    /// status; the document's own `status` is authoritative (500 is returned
    /// here as the conservative guess).
    pub fn http_status(&self) -> u16 {
        match self {
            // 422: the request was well-formed HTTP but its content breaks a
            // rule (includes unparsable JSON bodies and bad query values).
            ProblemCode::ValidationFailed | ProblemCode::EventTooOld | ProblemCode::EventInFuture => 422,
            ProblemCode::NotFound => 404,
            ProblemCode::Unauthorized => 401,
            ProblemCode::InsufficientPermission | ProblemCode::ApprovalRequired => 403,
            ProblemCode::IdempotencyConflict
            | ProblemCode::AlreadyExists
            | ProblemCode::AlreadyReversed
            | ProblemCode::NothingToReverse
            | ProblemCode::GrantStateConflict => 409,
            ProblemCode::RateLimited => 429,
            ProblemCode::PayloadTooLarge => 413,
            ProblemCode::MethodNotAllowed => 405,
            ProblemCode::Unavailable => 503,
            ProblemCode::Internal | ProblemCode::Other(_) => 500,
        }
    }

    /// A short, fixed, human summary (RFC 9457 `title`: the same for every
    /// occurrence of the code).
    pub fn title(&self) -> &'static str {
        match self {
            ProblemCode::ValidationFailed => "The request is invalid",
            ProblemCode::NotFound => "Not found",
            ProblemCode::Unauthorized => "Authentication required",
            ProblemCode::InsufficientPermission => "Insufficient permission",
            ProblemCode::ApprovalRequired => "Approval required",
            ProblemCode::IdempotencyConflict => "Idempotency key reused with a different request",
            ProblemCode::EventTooOld => "Event older than the late window",
            ProblemCode::EventInFuture => "Event time too far in the future",
            ProblemCode::AlreadyExists => "Already exists",
            ProblemCode::AlreadyReversed => "Already reversed",
            ProblemCode::NothingToReverse => "Nothing to reverse",
            ProblemCode::GrantStateConflict => "The grant's state does not allow this",
            ProblemCode::RateLimited => "Too many requests",
            ProblemCode::PayloadTooLarge => "Request body too large",
            ProblemCode::MethodNotAllowed => "Method not allowed",
            ProblemCode::Unavailable => "Service unavailable",
            ProblemCode::Internal => "Internal error",
            ProblemCode::Other(_) => "Error",
        }
    }

    /// The `type` URI of this code.
    pub fn type_uri(&self) -> String {
        format!("{PROBLEM_TYPE_BASE}{}", self.as_str())
    }

    /// Whether a client may retry the same request later and expect a
    /// different answer (given the call is idempotent).
    pub fn is_transient(&self) -> bool {
        matches!(self, ProblemCode::RateLimited | ProblemCode::Unavailable)
    }
}

impl FromStr for ProblemCode {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<ProblemCode, Self::Err> {
        Ok(ProblemCode::KNOWN.iter().find(|c| c.as_str() == s).cloned().unwrap_or_else(|| ProblemCode::Other(s.into())))
    }
}

impl fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ProblemCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ProblemCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.parse() {
            Ok(code) => Ok(code),
            Err(never) => match never {},
        }
    }
}

/// One field that broke one rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldError {
    /// Where, as a JSON path into the request: `amount`, `rollover.fraction`,
    /// `events[3].quantity`; query parameters by name (`limit`), path
    /// parameters by their route name (`id`).
    #[schema(example = "events[3].quantity")]
    pub field: String,
    /// The rule, as a short phrase: "must not be negative".
    #[schema(example = "must not be negative")]
    pub rule: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, rule: impl Into<String>) -> FieldError {
        FieldError { field: field.into(), rule: rule.into() }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.rule)
    }
}

/// An RFC 9457 problem document, served as `application/problem+json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// `https://creditdesk.dev/problems/<code>`.
    #[serde(rename = "type")]
    #[schema(example = "https://creditdesk.dev/problems/validation_failed")]
    pub type_uri: String,
    /// Fixed per code.
    pub title: String,
    /// The HTTP status of the response.
    pub status: u16,
    /// What went wrong this time, for humans. Never internals (SQL, stack traces).
    pub detail: String,
    /// The request path the problem occurred on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The stable machine code: branch on this.
    #[schema(value_type = String, example = "validation_failed")]
    pub code: ProblemCode,
    /// The server's id for the request (also in the `X-Request-Id` header),
    /// to quote in support tickets and find in the server's logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Per-field rule violations (for `validation_failed`); empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Extension members, e.g. `limit`, `exceeded_by` (money objects) and
    /// `approver_roles` (role names) for `approval_required`, or
    /// `retry_after_seconds` for `rate_limited`.
    #[serde(flatten)]
    #[schema(value_type = Object, additional_properties)]
    pub extra: Map<String, Value>,
}

impl Problem {
    /// A problem for `code` with `type`, `title` and `status` derived from it.
    pub fn new(code: ProblemCode, detail: impl Into<String>) -> Problem {
        Problem {
            type_uri: code.type_uri(),
            title: code.title().to_owned(),
            status: code.http_status(),
            detail: detail.into(),
            instance: None,
            code,
            request_id: None,
            errors: Vec::new(),
            extra: Map::new(),
        }
    }

    /// `validation_failed` with field errors; the detail summarises them.
    pub fn validation(errors: Vec<FieldError>) -> Problem {
        let detail = match errors.as_slice() {
            [] => "the request is invalid".to_owned(),
            [one] => one.to_string(),
            [first, rest @ ..] => format!("{first} (and {} more)", rest.len()),
        };
        Problem { errors, ..Problem::new(ProblemCode::ValidationFailed, detail) }
    }

    pub fn with_instance(mut self, instance: impl Into<String>) -> Problem {
        self.instance = Some(instance.into());
        self
    }

    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Problem {
        self.request_id = Some(request_id.into());
        self
    }

    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Problem {
        self.errors = errors;
        self
    }

    /// Adds an extension member. The standard members (`type`, `title`,
    /// `status`, `detail`, `instance`, `code`, `request_id`, `errors`) are
    /// refused here so an extension can never shadow them.
    pub fn with_extension(mut self, key: impl Into<String>, value: impl Serialize) -> Problem {
        let key = key.into();
        if RESERVED_MEMBERS.contains(&key.as_str()) {
            return self;
        }
        if let Ok(v) = serde_json::to_value(value) {
            self.extra.insert(key, v);
        }
        self
    }

    /// An extension member, deserialised (e.g. `problem.extension::<Money>("limit")`).
    pub fn extension<T: serde::de::DeserializeOwned>(&self, key: &str) -> Option<T> {
        self.extra.get(key).and_then(|v| serde_json::from_value(v.clone()).ok())
    }
}

const RESERVED_MEMBERS: [&str; 8] = ["type", "title", "status", "detail", "instance", "code", "request_id", "errors"];

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.detail)?;
        if let Some(id) = &self.request_id {
            write!(f, " [request {id}]")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problem {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn codes_round_trip_and_have_one_status() {
        for code in ProblemCode::KNOWN {
            let text = serde_json::to_string(&code).unwrap();
            assert_eq!(text, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ProblemCode>(&text).unwrap(), code);
            assert!((400..600).contains(&code.http_status()));
        }
        assert_eq!(ProblemCode::EventTooOld.http_status(), 422);
        assert_eq!(ProblemCode::IdempotencyConflict.http_status(), 409);
        assert_eq!(ProblemCode::Unauthorized.http_status(), 401);
        assert_eq!(ProblemCode::PayloadTooLarge.http_status(), 413);
        assert_eq!(ProblemCode::MethodNotAllowed.http_status(), 405);
        assert_eq!("method_not_allowed".parse::<ProblemCode>().ok(), Some(ProblemCode::MethodNotAllowed));
        assert_eq!(ProblemCode::InsufficientPermission.http_status(), 403);
    }

    #[test]
    fn unknown_codes_are_kept_not_refused() {
        let c: ProblemCode = serde_json::from_str("\"self_approval\"").unwrap();
        assert_eq!(c, ProblemCode::Other("self_approval".into()));
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"self_approval\"");
    }

    #[test]
    fn problem_has_the_rfc_9457_shape() {
        let p = Problem::validation(vec![FieldError::new("events[0].quantity", "must not be negative")])
            .with_instance("/v1/events")
            .with_request_id("req_1");
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(
            v,
            json!({
                "type": "https://creditdesk.dev/problems/validation_failed",
                "title": "The request is invalid",
                "status": 422,
                "detail": "events[0].quantity: must not be negative",
                "instance": "/v1/events",
                "code": "validation_failed",
                "request_id": "req_1",
                "errors": [{"field": "events[0].quantity", "rule": "must not be negative"}]
            })
        );
        assert_eq!(serde_json::from_value::<Problem>(v).unwrap(), p);
    }

    #[test]
    fn optional_members_are_omitted_and_extensions_are_flat() {
        let p = Problem::new(ProblemCode::ApprovalRequired, "over your per-action limit")
            .with_extension("limit", json!({"amount": "50", "currency": "USD"}))
            .with_extension("approver_roles", ["support_lead", "finance", "admin"])
            .with_extension("code", "sneaky");
        let v = serde_json::to_value(&p).unwrap();
        let obj = v.as_object().unwrap();
        assert!(!obj.contains_key("instance") && !obj.contains_key("request_id") && !obj.contains_key("errors"));
        assert_eq!(obj["code"], "approval_required", "extensions never shadow standard members");
        assert_eq!(obj["limit"]["amount"], "50");
        let back: Problem = serde_json::from_value(v).unwrap();
        assert_eq!(back.extension::<Vec<String>>("approver_roles").unwrap().len(), 3);
        assert_eq!(back.status, 403);
    }

    #[test]
    fn parses_a_minimal_foreign_problem() {
        let p: Problem = serde_json::from_str(
            r#"{"type":"https://creditdesk.dev/problems/new_thing","title":"T","status":418,"detail":"d","code":"new_thing","hint":1}"#,
        )
        .unwrap();
        assert_eq!(p.code, ProblemCode::Other("new_thing".into()));
        assert_eq!(p.extra["hint"], 1);
        assert!(p.errors.is_empty());
    }
}
