//! `/v1/admin/roles`: the roles' money limits, stored in the database (the
//! service spec's defaults are the first migration's rows) and replaced by
//! admins. Every change is audited.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use creditdesk_api::limits::{RoleLimitsEntry, RoleLimitsList, SetRoleLimitsRequest};
use creditdesk_api::{routes, Problem, Role};
use creditdesk_store::workflow::{Limits, RoleLimits, WorkflowOp, WorkflowOut};

use super::audit::RequestId;
use super::error::{ApiError, ApiResult};
use super::extract::{IdempotencyKey, Json as Body, PathId};
use super::idempotency;
use super::meta::{deployment_currency, limits_out};
use super::policy::{Action, Caller};
use crate::state::AppState;

fn entry(r: &RoleLimits, currency: &str) -> Option<RoleLimitsEntry> {
    Some(RoleLimitsEntry {
        role: r.role.parse().ok()?,
        limits: limits_out(&r.limits, currency),
        updated_at: r.updated_at,
        updated_by: r.updated_by.clone(),
    })
}

/// Every role's limits (readable by every role: the desktop app shows who
/// can approve what).
#[utoipa::path(get, path = "/v1/admin/roles", tag = "admin",
    responses((status = 200, body = RoleLimitsList), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<RoleLimitsList>> {
    caller.require(Action::Read)?;
    let currency = deployment_currency(&state);
    let rows = state.store.role_limits().await?;
    Ok(Json(RoleLimitsList { roles: rows.iter().filter_map(|r| entry(r, &currency)).collect(), currency }))
}

/// Replaces a role's limits (admin). `null` = unlimited.
#[utoipa::path(post, path = "/v1/admin/roles/{id}/limits", tag = "admin", request_body = SetRoleLimitsRequest,
    params(("id" = String, Path, description = "Role, e.g. support_agent"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes the POST repeatable")),
    responses((status = 200, body = RoleLimitsEntry), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn set(
    State(state): State<AppState>,
    caller: Caller,
    RequestId(rid): RequestId,
    PathId(id): PathId,
    IdempotencyKey(key): IdempotencyKey,
    Body(req): Body<SetRoleLimitsRequest>,
) -> ApiResult<Response> {
    caller.require(Action::Admin)?;
    let role: Role = id.parse().map_err(|e: creditdesk_api::UnknownVariant| ApiError::field("id", e.to_string()))?;
    let key = idempotency::key(&caller, key, routes::ADMIN_ROLE_LIMITS, &[&id], &req)?;
    let limits = Limits { per_action: req.per_action, monthly: req.monthly, approve_up_to: req.approve_up_to };
    let op = WorkflowOp::SetLimits {
        role: role.as_str().to_owned(),
        limits,
        actor: caller.workflow_actor(),
        request_id: rid,
    };
    let currency = deployment_currency(&state);
    let render = Arc::new(move |out: &WorkflowOut| match out {
        WorkflowOut::Limits(r) => idempotency::json(StatusCode::OK, &entry(r, &currency)),
        _ => idempotency::json(StatusCode::INTERNAL_SERVER_ERROR, &serde_json::json!({})),
    });
    super::approvals::run(&state, key, op, render).await
}
