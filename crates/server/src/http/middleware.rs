//! Cross-cutting request handling: request ids, tracing, Prometheus metrics,
//! problem documents, panics, and bearer-token authentication.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use creditdesk_api::routes::headers;
use creditdesk_api::{ProblemCode, Role, PROBLEM_CONTENT_TYPE};
use tracing::Instrument;

use super::error::{ApiError, ProblemExt};
use super::policy::Caller;
use crate::auth::hash_token;
use crate::state::AppState;

/// Longest client-supplied request id kept (longer ones are replaced).
const MAX_REQUEST_ID_LEN: usize = 200;

fn client_request_id(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(headers::REQUEST_ID)?.to_str().ok()?;
    let ok = !v.is_empty() && v.len() <= MAX_REQUEST_ID_LEN && v.bytes().all(|b| b.is_ascii_graphic());
    ok.then(|| v.to_owned())
}

/// Request id, tracing span, metrics and problem finishing, in one layer so
/// each request is timed and labelled exactly once. Applied with
/// `Router::layer`, so it runs inside routing and sees the matched route
/// template (`/v1/customers/{id}`): metric labels stay bounded.
pub async fn observe(mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    // The client's `X-Request-Id` if it sent a sane one, else a fresh UUID
    // v4: echoed in the response header, every problem and every log line.
    let id = client_request_id(req.headers()).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    // For the audit log (`audit::RequestId`).
    req.extensions_mut().insert(super::audit::ObservedId(id.clone()));
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let route = req.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let span =
        tracing::info_span!("http", request_id = %id, method = %method, route = %route, user = tracing::field::Empty);

    let mut response = next.run(req).instrument(span.clone()).await;

    if response.status() == StatusCode::METHOD_NOT_ALLOWED && response.extensions().get::<ProblemExt>().is_none() {
        let allow = response.headers().get(header::ALLOW).cloned();
        response =
            ApiError::new(ProblemCode::MethodNotAllowed, format!("{method} is not allowed on {path}")).into_response();
        if let Some(allow) = allow {
            response.headers_mut().insert(header::ALLOW, allow);
        }
    }
    if let Some(ext) = response.extensions_mut().remove::<ProblemExt>() {
        finish_problem(&mut response, ext, &id, &path, &span);
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(headers::REQUEST_ID, v);
    }

    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    metrics::counter!(
        "creditdesk_http_requests_total",
        "method" => method.clone(),
        "route" => route.clone(),
        "status" => status.to_string()
    )
    .increment(1);
    metrics::histogram!("creditdesk_http_request_duration_seconds", "route" => route.clone())
        .record(elapsed.as_secs_f64());
    span.in_scope(|| {
        tracing::info!(status, latency_us = elapsed.as_micros() as u64, path = %path, "request");
    });
    response
}

/// Fills `request_id` and `instance`, re-renders, and logs 5xx causes.
fn finish_problem(response: &mut Response, ext: ProblemExt, id: &str, path: &str, span: &tracing::Span) {
    let problem = ext.problem.with_request_id(id).with_instance(path);
    if problem.status >= 500 {
        span.in_scope(|| {
            tracing::error!(
                code = %problem.code,
                cause = ext.internal.as_deref().unwrap_or("-"),
                "request failed"
            );
        });
    }
    if let Ok(body) = serde_json::to_vec(&problem) {
        *response.body_mut() = Body::from(body);
        response.headers_mut().remove(header::CONTENT_LENGTH);
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_CONTENT_TYPE));
    }
}

/// What `CatchPanicLayer` answers if a handler panics: a 500 problem (the
/// panic message goes to the log, not the client). Bad input must never get
/// here; this is the last line of defence for bugs.
pub fn panic_response(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let msg = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "unknown panic".to_owned());
    ApiError::internal(format!("handler panicked: {msg}")).into_response()
}

/// Unknown paths.
pub async fn not_found(req: Request) -> Response {
    ApiError::new(creditdesk_api::ProblemCode::NotFound, format!("no route {}", req.uri().path())).into_response()
}

/// Bearer-token authentication for every protected route.
///
/// A token's user is read from the database at most once a second per
/// token (`auth::TokenCache`): a token revoked through this server is
/// refused from the very next request, one revoked elsewhere (the `users
/// revoke` command, another server) within a second.
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    match caller(&state, req.headers()).await {
        Ok(caller) => {
            tracing::Span::current().record("user", caller.user.id.as_str());
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

async fn caller(state: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::unauthorized("a bearer token is required (Authorization: Bearer <token>)"));
    };
    let text = value.to_str().map_err(|_| ApiError::unauthorized("the Authorization header is not valid text"))?;
    let token = match text.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => token.trim(),
        _ => return Err(ApiError::unauthorized("the Authorization header must be `Bearer <token>`")),
    };
    let hash = hash_token(token);
    let user = match state.tokens.get(&hash) {
        Some(user) => user,
        None => {
            let user = state
                .store
                .user_by_token_hash(hash.clone())
                .await?
                .ok_or_else(|| ApiError::unauthorized("the bearer token is not known"))?;
            state.tokens.put(hash, user.clone());
            user
        }
    };
    if user.revoked_at.is_some() {
        return Err(ApiError::unauthorized("the bearer token was revoked"));
    }
    let role: Role =
        user.role.parse().map_err(|e| ApiError::internal(format!("user {} has a bad role: {e}", user.id)))?;
    Ok(Caller { user, role })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_request_ids_are_kept_only_when_sane() {
        let mut h = HeaderMap::new();
        assert_eq!(client_request_id(&h), None);
        h.insert(headers::REQUEST_ID, HeaderValue::from_static("abc-123"));
        assert_eq!(client_request_id(&h).as_deref(), Some("abc-123"));
        h.insert(headers::REQUEST_ID, HeaderValue::from_static("has space"));
        assert_eq!(client_request_id(&h), None);
        h.insert(headers::REQUEST_ID, HeaderValue::from_str(&"x".repeat(201)).unwrap());
        assert_eq!(client_request_id(&h), None);
    }
}
