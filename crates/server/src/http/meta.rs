//! Liveness, version, the OpenAPI document, Prometheus metrics, and `/v1/me`.

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Datelike, TimeZone, Utc};
use creditdesk_api::me::{MeResponse, RoleLimits};
use creditdesk_api::meta::{Health, HealthStatus, VersionInfo};
use creditdesk_api::{Money, Problem, ProblemCode};
use creditdesk_store::workflow::Limits;
use rust_decimal::Decimal;

use super::error::{ApiError, ApiResult};
use super::policy::Caller;
use crate::state::AppState;

/// Liveness: 200 while the database answers, 503 `unavailable` otherwise.
#[utoipa::path(get, path = "/healthz", tag = "meta", security(()),
    responses((status = 200, body = Health), (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn healthz(State(state): State<AppState>) -> Response {
    match state.store.customers(None, None, 1).await {
        Ok(_) => Json(Health { status: HealthStatus::Ok }).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: the database does not answer");
            ApiError::new(ProblemCode::Unavailable, "the database does not answer").into_response()
        }
    }
}

#[utoipa::path(get, path = "/v1/version", tag = "meta",
    responses((status = 200, body = VersionInfo), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn version() -> Json<VersionInfo> {
    Json(VersionInfo { name: "creditdesk-server".into(), version: env!("CARGO_PKG_VERSION").into() })
}

/// The OpenAPI 3.1 document, generated from the handlers' annotations and
/// the API crate's schemas (rendered once).
#[utoipa::path(get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn openapi() -> Response {
    static DOC: OnceLock<String> = OnceLock::new();
    let body = DOC.get_or_init(|| serde_json::to_string(&super::api_doc()).unwrap_or_else(|_| "{}".into()));
    let mut r = body.clone().into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// Prometheus text: request counts and latencies, ingest counters, sweeper
/// lag. 404 when the process has no recorder installed.
#[utoipa::path(get, path = "/metrics", tag = "meta",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    match &state.metrics {
        Some(handle) => {
            let mut r = handle.render().into_response();
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
            r
        }
        None => ApiError::new(ProblemCode::NotFound, "metrics are not enabled in this process").into_response(),
    }
}

/// The deployment's currency: that of the credit types (the admin API keeps
/// them all in one currency); `USD` before any exists.
pub fn deployment_currency(state: &AppState) -> String {
    let catalog = state.store.catalog();
    let mut types: Vec<_> = catalog.credit_types().collect();
    types.sort_by(|a, b| a.id.cmp(&b.id));
    types.first().map_or_else(|| "USD".to_owned(), |ct| ct.unit_price.currency.code().to_owned())
}

/// Limits as the wire shows them (`null` = unlimited).
pub fn limits_out(l: &Limits, currency: &str) -> RoleLimits {
    let m = |v: Option<Decimal>| v.map(|v| Money::new(v.normalize(), currency));
    RoleLimits { per_action: m(l.per_action), monthly: m(l.monthly), approve_up_to: m(l.approve_up_to) }
}

fn month_bounds(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0).single().unwrap_or(now);
    let (y, m) = if now.month() == 12 { (now.year() + 1, 1) } else { (now.year(), now.month() + 1) };
    let end = Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single().unwrap_or(now);
    (start, end)
}

/// Who the token belongs to, the role's limits (as an admin last set them)
/// and what is left of the caller's budget this month: the monthly limit
/// less what their money-moving actions executed alone this month were
/// worth (`docs/workflows.md`).
#[utoipa::path(get, path = "/v1/me", tag = "me",
    responses((status = 200, body = MeResponse), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn me(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<MeResponse>> {
    let currency = deployment_currency(&state);
    let rows = state.store.role_limits().await?;
    let mine = rows.into_iter().find(|r| r.role == caller.role.as_str()).map_or_else(Limits::zero, |r| r.limits);
    let spent = state.store.spent_this_month(caller.actor().to_owned()).await?;
    let limits = limits_out(&mine, &currency);
    let (start, end) = month_bounds(state.store.now());
    Ok(Json(MeResponse {
        user_id: caller.user.id.clone(),
        name: caller.user.name.clone(),
        role: caller.role,
        remaining_monthly_budget: mine
            .monthly
            .map(|m| Money::new((m - spent).max(Decimal::ZERO).normalize(), &currency)),
        limits,
        budget_period_start: start,
        budget_period_end: end,
        currency,
        policy: super::policy::wire_policy(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_bounds_roll_over_the_year() {
        let t = Utc.with_ymd_and_hms(2026, 12, 15, 10, 0, 0).unwrap();
        let (s, e) = month_bounds(t);
        assert_eq!(s, Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap());
        assert_eq!(e, Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap());
    }
}
