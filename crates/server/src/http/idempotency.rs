//! `Idempotency-Key` on POSTs (`/v1/events`, `/v1/grants`,
//! `/v1/grants/{id}/void`): the store records the rendered response in the
//! same transaction as the write, so a retry after a timeout or a crash
//! either replays the original response (`Idempotent-Replayed: true`) or
//! finds nothing written and runs the write. The same key with a different
//! request is `409 idempotency_conflict`.
//!
//! Keys are scoped to the caller (two users may use the same key). The
//! request hash covers the route, its path parameters and the decoded body
//! re-serialised, so formatting differences (whitespace, key order) do not
//! count as a different request.
//!
//! The first response and every replay are the same bytes: the body the
//! store records is rendered once, in the writer, and the first response is
//! that very rendering.

use std::sync::{Arc, Mutex};

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use creditdesk_api::routes::headers;
use creditdesk_store::{Idem, IdempotencyKey, Idempotent};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::policy::Caller;

/// Renders a write's outcome as (status, JSON body).
pub type Render<T> = Arc<dyn Fn(&T) -> (u16, String) + Send + Sync>;

/// A response body that may be a replay.
pub struct Recorded {
    pub status: u16,
    pub body: String,
    pub replayed: bool,
}

/// The key the store records for this request, if the client sent one.
pub fn key<B: Serialize>(
    caller: &Caller,
    key: Option<String>,
    route: &str,
    params: &[&str],
    body: &B,
) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(key) = key else { return Ok(None) };
    let mut h = Sha256::new();
    h.update(route.as_bytes());
    for p in params {
        h.update(b"\n");
        h.update(p.as_bytes());
    }
    h.update(b"\n");
    h.update(serde_json::to_vec(body).map_err(ApiError::internal)?);
    Ok(Some(IdempotencyKey { actor: caller.user.id.clone(), key, request_hash: hex::encode(h.finalize()) }))
}

/// Runs a keyed write: `write` gets the `Idem` to pass to the store. Also
/// returns the write's own outcome when it ran now (not on a replay).
pub async fn run<T, F, Fut>(
    key: Option<IdempotencyKey>,
    render: Render<T>,
    write: F,
) -> Result<(Recorded, Option<T>), ApiError>
where
    T: Send + 'static,
    F: FnOnce(Option<Idem<T>>) -> Fut,
    Fut: std::future::Future<Output = creditdesk_store::Result<Idempotent<T>>>,
{
    let captured: Arc<Mutex<Option<(u16, String)>>> = Arc::new(Mutex::new(None));
    let idem = key.map(|key| {
        let (render, captured) = (render.clone(), captured.clone());
        Idem {
            key,
            render: Box::new(move |t: &T| {
                let out = render(t);
                if let Ok(mut slot) = captured.lock() {
                    *slot = Some(out.clone());
                }
                out
            }) as Box<dyn FnOnce(&T) -> (u16, String) + Send>,
        }
    });
    match write(idem).await? {
        Idempotent::Done(t) => {
            let recorded = captured.lock().ok().and_then(|mut s| s.take());
            let (status, body) = recorded.unwrap_or_else(|| render(&t));
            Ok((Recorded { status, body, replayed: false }, Some(t)))
        }
        Idempotent::Replayed { status, body } => Ok((Recorded { status, body, replayed: true }, None)),
    }
}

impl IntoResponse for Recorded {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        let mut response = (status, self.body).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if self.replayed {
            response.headers_mut().insert(headers::IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
        }
        response
    }
}

/// `(status, JSON)` for the recorder; serialising our own types cannot
/// fail, and if it ever did the client would see an empty object rather
/// than the writer thread panicking.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> (u16, String) {
    (status.as_u16(), serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned()))
}
