//! The one error type of the HTTP layer: every refusal and failure leaves a
//! handler as an [`ApiError`] and reaches the client as an RFC 9457
//! `application/problem+json` document ([`creditdesk_api::Problem`]).
//!
//! `IntoResponse` renders the problem and also stashes it in the response's
//! extensions; the `finish_problems` middleware (which knows the request id
//! and path) fills `request_id` and `instance`, re-renders it, and logs the
//! private cause of 500s. So handlers never thread the request id around,
//! and internals (SQL errors, paths) never reach a client.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use creditdesk_api::{FieldError, Problem, ProblemCode, PROBLEM_CONTENT_TYPE};
use creditdesk_ledger::LedgerError;
use creditdesk_store::StoreError;

/// A problem to answer with, plus what only the logs may see. Boxed: it
/// travels in every handler's `Result`, whose happy path should stay small.
#[derive(Debug)]
pub struct ApiError(Box<Inner>);

#[derive(Debug)]
struct Inner {
    problem: Problem,
    /// The private cause of a 5xx (logged with the request id, never sent).
    internal: Option<String>,
    /// The store wrote this refusal's audit row in its own transaction
    /// (the audit layer then writes none).
    audited: bool,
}

/// What the response carries for the `finish_problems` middleware.
#[derive(Clone, Debug)]
pub(crate) struct ProblemExt {
    pub problem: Problem,
    pub internal: Option<String>,
}

impl ApiError {
    fn from_problem(problem: Problem, internal: Option<String>) -> ApiError {
        ApiError(Box::new(Inner { problem, internal, audited: false }))
    }

    pub fn new(code: ProblemCode, detail: impl Into<String>) -> ApiError {
        ApiError::from_problem(Problem::new(code, detail), None)
    }

    /// The problem document this error answers with.
    pub fn problem(&self) -> &Problem {
        &self.0.problem
    }

    /// `validation_failed` with every field error at once.
    pub fn validation(errors: Vec<FieldError>) -> ApiError {
        ApiError::from_problem(Problem::validation(errors), None)
    }

    /// `validation_failed` naming one field.
    pub fn field(field: impl Into<String>, rule: impl Into<String>) -> ApiError {
        ApiError::validation(vec![FieldError::new(field, rule)])
    }

    pub fn not_found(what: &str, id: &str) -> ApiError {
        ApiError::new(ProblemCode::NotFound, format!("unknown {what} `{id}`"))
    }

    pub fn unauthorized(detail: impl Into<String>) -> ApiError {
        ApiError::new(ProblemCode::Unauthorized, detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> ApiError {
        ApiError::new(ProblemCode::InsufficientPermission, detail)
    }

    /// A 500 whose cause is logged, not sent.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        ApiError::from_problem(
            Problem::new(
                ProblemCode::Internal,
                "the server failed to complete the request; quote the request id to support",
            ),
            Some(cause.to_string()),
        )
    }

    pub fn with_extension(mut self, key: &str, value: impl serde::Serialize) -> ApiError {
        let p = std::mem::replace(&mut self.0.problem, Problem::new(ProblemCode::Internal, ""));
        self.0.problem = p.with_extension(key, value);
        self
    }

    /// Marks the refusal as already in the audit log.
    pub fn audited(mut self) -> ApiError {
        self.0.audited = true;
        self
    }

    pub fn code(&self) -> &ProblemCode {
        &self.0.problem.code
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.0.problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// Renames the field of a `validation_failed` (the ledger's names differ
    /// from the wire's in a few places, e.g. `rollover.expires_after`).
    pub fn rename_field(mut self, from: &str, to: &str) -> ApiError {
        let p = &mut self.0.problem;
        for e in &mut p.errors {
            if e.field == from {
                e.field = to.to_owned();
            }
        }
        if p.code == ProblemCode::ValidationFailed {
            *p = Problem::validation(std::mem::take(&mut p.errors));
        }
        self
    }

    /// Puts `prefix.` before every field (`events[3].` + `quantity`).
    pub fn nest(mut self, prefix: &str) -> ApiError {
        let p = &mut self.0.problem;
        for e in &mut p.errors {
            e.field = format!("{prefix}.{}", e.field);
        }
        if p.code == ProblemCode::ValidationFailed {
            *p = Problem::validation(std::mem::take(&mut p.errors));
        }
        self
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.problem)
    }
}

impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> ApiError {
        match &e {
            LedgerError::Invalid { field, rule } => ApiError::field(*field, rule.clone()),
            LedgerError::NotFound { .. } => ApiError::new(ProblemCode::NotFound, e.to_string()),
            LedgerError::AlreadyExists { .. } => ApiError::new(ProblemCode::AlreadyExists, e.to_string()),
            LedgerError::GrantState { .. } => ApiError::new(ProblemCode::GrantStateConflict, e.to_string()),
            LedgerError::AlreadyReversed { .. } => ApiError::new(ProblemCode::AlreadyReversed, e.to_string()),
            LedgerError::NothingToReverse { .. } => ApiError::new(ProblemCode::NothingToReverse, e.to_string()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Ledger(l) => l.into(),
            StoreError::IdempotencyConflict { key } => ApiError::new(
                ProblemCode::IdempotencyConflict,
                format!("Idempotency-Key `{key}` was already used with a different request"),
            ),
            StoreError::Closed => ApiError::new(ProblemCode::Unavailable, "the server is shutting down; retry later"),
            StoreError::Refused(r) => {
                let mut problem = creditdesk_api::Problem::new(ProblemCode::Other(r.code.clone()), r.detail);
                problem.status = r.status;
                problem.title = super::audit::refusal_title(&r.code).to_owned();
                for (k, v) in r.extensions {
                    problem = problem.with_extension(&k, v);
                }
                ApiError::from_problem(problem, None)
            }
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let Inner { problem, internal, audited } = *self.0;
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (status, body).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_CONTENT_TYPE));
        if problem.code == ProblemCode::Unauthorized {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response.extensions_mut().insert(ProblemExt { problem, internal });
        if audited {
            response.extensions_mut().insert(super::audit::Audited);
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_refusals_keep_their_codes() {
        let cases: Vec<(LedgerError, &str, u16)> = vec![
            (LedgerError::invalid("amount", "must be greater than 0"), "validation_failed", 422),
            (LedgerError::not_found("grant", "g1"), "not_found", 404),
            (LedgerError::AlreadyExists { what: "grant", id: "g1".into() }, "already_exists", 409),
            (LedgerError::GrantState { grant: "g1".into(), rule: "is voided" }, "grant_state_conflict", 409),
            (LedgerError::AlreadyReversed { event: "e".into() }, "already_reversed", 409),
            (LedgerError::NothingToReverse { event: "e".into() }, "nothing_to_reverse", 409),
        ];
        for (e, code, status) in cases {
            assert_eq!(e.code(), code, "the ledger's own code agrees");
            let api = ApiError::from(e);
            assert_eq!((api.code().as_str(), api.problem().status), (code, status));
        }
        let v = ApiError::from(LedgerError::invalid("amount", "must be greater than 0"));
        assert_eq!(v.problem().errors[0].field, "amount");
    }

    #[test]
    fn failures_hide_internals() {
        let e = ApiError::from(StoreError::Corrupt("SELECT * FROM secrets".into()));
        assert_eq!(e.problem().status, 500);
        assert!(!e.problem().detail.contains("SELECT"));
        assert_eq!(e.0.internal.as_deref(), Some("stored data is inconsistent: SELECT * FROM secrets"));
    }

    #[test]
    fn renames_and_nesting_rebuild_the_detail() {
        let e = ApiError::field("rollover.expires_after", "must be a positive duration")
            .rename_field("rollover.expires_after", "rollover.expires_after_days")
            .nest("x");
        assert_eq!(e.problem().errors[0].field, "x.rollover.expires_after_days");
        assert!(e.problem().detail.starts_with("x.rollover.expires_after_days"));
    }
}
