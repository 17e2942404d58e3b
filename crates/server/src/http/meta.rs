//! Liveness, version, the OpenAPI document, Prometheus metrics, and `/v1/me`.

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Datelike, TimeZone, Utc};
use creditdesk_api::me::{MeResponse, RoleLimits};
use creditdesk_api::meta::{Health, HealthStatus, VersionInfo};
use creditdesk_api::{Money, Problem, ProblemCode, Role};
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

/// The default limits of the service spec ("Roles and approval limits").
/// Not enforced yet: issue 4 brings limits, their storage and the monthly
/// spend; until then `remaining_monthly_budget` is the whole monthly limit.
pub fn default_limits(role: Role, currency: &str) -> RoleLimits {
    let m = |n: i64| Some(Money::new(Decimal::from(n), currency));
    match role {
        Role::Viewer => RoleLimits { per_action: m(0), monthly: m(0), approve_up_to: m(0) },
        Role::AccountManager => RoleLimits { per_action: m(0), monthly: m(0), approve_up_to: m(0) },
        Role::SupportAgent => RoleLimits { per_action: m(50), monthly: m(500), approve_up_to: m(0) },
        Role::SupportLead => RoleLimits { per_action: m(500), monthly: m(5_000), approve_up_to: m(500) },
        Role::Finance => RoleLimits { per_action: m(5_000), monthly: m(50_000), approve_up_to: m(50_000) },
        Role::Admin => RoleLimits { per_action: None, monthly: None, approve_up_to: None },
    }
}

fn month_bounds(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0).single().unwrap_or(now);
    let (y, m) = if now.month() == 12 { (now.year() + 1, 1) } else { (now.year(), now.month() + 1) };
    let end = Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single().unwrap_or(now);
    (start, end)
}

/// Who the token belongs to, the role's limits (the spec's defaults, not
/// enforced until issue 4) and the budget month.
#[utoipa::path(get, path = "/v1/me", tag = "me",
    responses((status = 200, body = MeResponse), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn me(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<MeResponse>> {
    let currency = deployment_currency(&state);
    let limits = default_limits(caller.role, &currency);
    let (start, end) = month_bounds(state.store.now());
    Ok(Json(MeResponse {
        user_id: caller.user.id.clone(),
        name: caller.user.name.clone(),
        role: caller.role,
        remaining_monthly_budget: limits.monthly.clone(),
        limits,
        budget_period_start: start,
        budget_period_end: end,
        currency,
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
