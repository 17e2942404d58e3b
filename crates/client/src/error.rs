//! The client's one error type.
//!
//! When the server answered with a problem document the error carries it
//! whole ([`ClientError::Api`]): callers branch on [`ClientError::code`] and
//! show [`ClientError::field_errors`] next to the fields. Every other variant
//! says what was being called (`method` and path) so a log line is enough to
//! find the failing call.

use std::time::Duration;

use creditdesk_api::{FieldError, Problem, ProblemCode, PROBLEM_CONTENT_TYPE};

/// Why a call produced no response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportKind {
    /// Could not connect (refused, DNS, TLS).
    Connect,
    /// Timed out (connect or overall timeout).
    Timeout,
    /// The connection broke mid-request or mid-response.
    Broken,
    /// The request could not be built or was redirected (the API never redirects).
    Request,
}

impl std::fmt::Display for TransportKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TransportKind::Connect => "could not connect",
            TransportKind::Timeout => "timed out",
            TransportKind::Broken => "connection broken",
            TransportKind::Request => "request failed",
        })
    }
}

/// Any failure of a client call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server refused the call with a problem document.
    #[error("{method} {path}: {problem}")]
    Api {
        method: &'static str,
        path: String,
        problem: Box<Problem>,
        /// The `Retry-After` the server sent, if any (429, 503).
        retry_after: Option<Duration>,
    },

    /// A non-success status without a problem document (e.g. a proxy's error page).
    #[error("{method} {path}: HTTP {status}: {body}")]
    Http { method: &'static str, path: String, status: u16, body: String },

    /// No response, after `attempts` attempts.
    #[error("{method} {path}: {kind} after {attempts} attempt(s): {source}")]
    Transport {
        method: &'static str,
        path: String,
        kind: TransportKind,
        attempts: u32,
        #[source]
        source: reqwest::Error,
    },

    /// A success status whose body does not match the contract's type.
    #[error("{method} {path}: HTTP {status}: the response does not match the API contract: {source}")]
    Decode {
        method: &'static str,
        path: String,
        status: u16,
        #[source]
        source: serde_json::Error,
    },

    /// A success status this call does not expect (e.g. 204 where a body was due).
    #[error("{method} {path}: unexpected HTTP {status}")]
    UnexpectedStatus { method: &'static str, path: String, status: u16 },

    /// The request body could not be serialised.
    #[error("could not encode the request: {0}")]
    Encode(#[source] serde_json::Error),

    /// The client is misconfigured (base URL, token, certificate).
    #[error("invalid client configuration: {0}")]
    Config(String),
}

impl ClientError {
    /// The server's problem document, if it sent one.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            ClientError::Api { problem, .. } => Some(problem),
            _ => None,
        }
    }

    /// The server's stable problem code, if it sent one.
    pub fn code(&self) -> Option<&ProblemCode> {
        self.problem().map(|p| &p.code)
    }

    /// Whether the server answered with this code.
    pub fn is(&self, code: &ProblemCode) -> bool {
        self.code() == Some(code)
    }

    /// The HTTP status, if the server answered at all.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { problem, .. } => Some(problem.status),
            ClientError::Http { status, .. }
            | ClientError::Decode { status, .. }
            | ClientError::UnexpectedStatus { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The field errors of a `validation_failed` problem (empty otherwise).
    pub fn field_errors(&self) -> &[FieldError] {
        self.problem().map_or(&[], |p| p.errors.as_slice())
    }

    /// The server's request id, to quote in a support ticket.
    pub fn request_id(&self) -> Option<&str> {
        self.problem().and_then(|p| p.request_id.as_deref())
    }

    /// The server asked to wait this long before retrying.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ClientError::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Most of a non-problem error body kept in [`ClientError::Http`].
const MAX_BODY_SNIPPET: usize = 512;

/// What a non-success response body was.
#[derive(Debug, PartialEq)]
pub enum ErrorBody {
    Problem(Box<Problem>),
    /// Not a problem document: the start of the body, as text.
    Other(String),
}

/// Reads a non-success body: a problem document if the media type says so
/// (`application/problem+json`), or if a plain JSON body parses as one
/// (some proxies and frameworks rewrite the media type); otherwise a
/// snippet of the text, cut at a character boundary.
pub fn parse_error_body(content_type: Option<&str>, body: &[u8]) -> ErrorBody {
    let media = content_type.and_then(|c| c.split(';').next()).map(|m| m.trim().to_ascii_lowercase());
    let jsonish = matches!(media.as_deref(), Some(PROBLEM_CONTENT_TYPE) | Some("application/json"));
    if jsonish {
        if let Ok(p) = serde_json::from_slice::<Problem>(body) {
            return ErrorBody::Problem(Box::new(p));
        }
    }
    let text = String::from_utf8_lossy(body);
    let mut end = text.len().min(MAX_BODY_SNIPPET);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    ErrorBody::Other(text[..end].trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROBLEM: &str = r#"{"type":"https://creditdesk.dev/problems/validation_failed","title":"The request is invalid",
        "status":422,"detail":"amount: must be greater than 0","code":"validation_failed","request_id":"r-9",
        "errors":[{"field":"amount","rule":"must be greater than 0"}]}"#;

    #[test]
    fn problem_bodies_are_parsed() {
        let ErrorBody::Problem(p) =
            parse_error_body(Some("application/problem+json; charset=utf-8"), PROBLEM.as_bytes())
        else {
            panic!("not parsed")
        };
        let err = ClientError::Api { method: "POST", path: "/v1/grants".into(), problem: p, retry_after: None };
        assert_eq!(err.code(), Some(&ProblemCode::ValidationFailed));
        assert!(err.is(&ProblemCode::ValidationFailed));
        assert_eq!(err.status(), Some(422));
        assert_eq!(err.field_errors(), [FieldError::new("amount", "must be greater than 0")]);
        assert_eq!(err.request_id(), Some("r-9"));
        assert_eq!(
            err.to_string(),
            "POST /v1/grants: validation_failed (422): amount: must be greater than 0 [request r-9]"
        );
    }

    #[test]
    fn plain_json_problems_are_accepted_other_bodies_kept_as_text() {
        assert!(matches!(parse_error_body(Some("application/json"), PROBLEM.as_bytes()), ErrorBody::Problem(_)));
        assert_eq!(
            parse_error_body(Some("application/json"), br#"{"error":"nope"}"#),
            ErrorBody::Other(r#"{"error":"nope"}"#.into())
        );
        assert_eq!(
            parse_error_body(Some("text/html"), b"<html>502 Bad Gateway</html>\n"),
            ErrorBody::Other("<html>502 Bad Gateway</html>".into())
        );
        assert_eq!(
            parse_error_body(Some("text/plain"), PROBLEM.as_bytes()),
            ErrorBody::Other(PROBLEM[..].trim().into())
        );
        let long = "é".repeat(400);
        let ErrorBody::Other(snippet) = parse_error_body(None, long.as_bytes()) else { panic!() };
        assert!(snippet.len() <= MAX_BODY_SNIPPET && snippet.chars().all(|c| c == 'é'));
    }
}
