//! Approval requests: `/v1/approvals...`, the shared path of every
//! money-moving action ([`act`]) and the grant preview.
//!
//! The handlers only parse and rebuild: whether an action executes, whether
//! an approver may approve, and that a request executes once are decided
//! by the store inside one transaction (`creditdesk_store::workflow`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use creditdesk_api::approvals::{
    Approval as ApiApproval, ApprovalDecided, ApprovalListQuery, ApprovalStatus as ApiStatus, ApproveRequest,
    CancelRequest, GrantPreview, RejectRequest,
};
use creditdesk_api::grants::{ApprovalPending, CreateGrantRequest, LimitKind};
use creditdesk_api::{routes, Money, Page, Paged, Problem, ProblemCode, Role};
use creditdesk_ledger::catalog::OverageMode;
use creditdesk_ledger::entry::Attribution;
use creditdesk_ledger::ids::{ActorId, CreditTypeId, CustomerId, EventId, ReasonCode};
use creditdesk_store::workflow::{
    breach, ActOutcome, ActRequest, Approval, ApprovalFilter, ApprovalStatus, DecideRequest, Decision, Exceeded,
    Limits, MoneyAction, WorkflowOp, WorkflowOut,
};
use creditdesk_store::IdempotencyKey as StoreKey;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::audit::{audited, RequestId};
use super::error::{ApiError, ApiResult};
use super::extract::{IdempotencyKey, Json as Body, PathId, Query};
use super::idempotency::{self, Render};
use super::map;
use super::policy::{Action, Caller};
use crate::state::AppState;

/// A fresh approval id.
pub fn new_approval_id() -> String {
    format!("apr_{}", uuid::Uuid::new_v4().simple())
}

fn role(s: &str) -> Role {
    s.parse().unwrap_or(Role::Viewer)
}

fn limit_kind(e: Exceeded) -> LimitKind {
    match e {
        Exceeded::PerAction => LimitKind::PerAction,
        Exceeded::Monthly => LimitKind::Monthly,
    }
}

/// The `202` body of an action that became a request.
pub fn pending(a: &Approval) -> ApprovalPending {
    let m = |v: Decimal| Money::new(v.normalize(), a.currency.clone());
    ApprovalPending {
        approval_id: a.id.clone(),
        action: a.action.clone(),
        value: m(a.value),
        exceeded: limit_kind(a.exceeded),
        limit: m(a.limit),
        exceeded_by: m(a.exceeded_by),
        approver_roles: a.approver_roles.iter().map(|r| role(r)).collect(),
        requested_by: a.requested_by.clone(),
        requested_at: a.requested_at,
        expires_at: a.expires_at,
    }
}

fn status(s: ApprovalStatus) -> ApiStatus {
    match s {
        ApprovalStatus::Pending => ApiStatus::Pending,
        ApprovalStatus::Approved => ApiStatus::Approved,
        ApprovalStatus::Rejected => ApiStatus::Rejected,
        ApprovalStatus::Cancelled => ApiStatus::Cancelled,
        ApprovalStatus::Expired => ApiStatus::Expired,
        ApprovalStatus::Failed => ApiStatus::Failed,
    }
}

fn status_in(s: ApiStatus) -> ApprovalStatus {
    match s {
        ApiStatus::Pending => ApprovalStatus::Pending,
        ApiStatus::Approved => ApprovalStatus::Approved,
        ApiStatus::Rejected => ApprovalStatus::Rejected,
        ApiStatus::Cancelled => ApprovalStatus::Cancelled,
        ApiStatus::Expired => ApprovalStatus::Expired,
        ApiStatus::Failed => ApprovalStatus::Failed,
    }
}

pub fn approval_out(a: &Approval) -> ApiApproval {
    let m = |v: Decimal| Money::new(v.normalize(), a.currency.clone());
    ApiApproval {
        id: a.id.clone(),
        action: a.action.clone(),
        customer_id: a.customer_id.clone(),
        credit_type_id: a.credit_type_id.clone(),
        credits: a.credits.normalize(),
        value: m(a.value),
        exceeded: limit_kind(a.exceeded),
        limit: m(a.limit),
        exceeded_by: m(a.exceeded_by),
        approver_roles: a.approver_roles.iter().map(|r| role(r)).collect(),
        reason_code: a.reason_code.clone(),
        ticket_ref: a.ticket_ref.clone(),
        note: a.note.clone(),
        dispute_id: a.dispute_id.clone(),
        requested_by: a.requested_by.clone(),
        requested_role: role(&a.requested_role),
        requested_at: a.requested_at,
        expires_at: a.expires_at,
        status: status(a.status),
        decided_by: a.decided_by.clone(),
        decided_at: a.decided_at,
        decision_note: a.decision_note.clone(),
        request: serde_json::from_str(&a.payload).unwrap_or(serde_json::Value::Null),
        result: a.result.as_deref().and_then(|r| serde_json::from_str(r).ok()),
    }
}

/// A refusal from the workflow transaction is already in the audit log.
fn in_tx(e: ApiError) -> ApiError {
    if e.status().is_client_error() && *e.code() != ProblemCode::IdempotencyConflict {
        e.audited()
    } else {
        e
    }
}

/// Runs a workflow write under the request's `Idempotency-Key`; the
/// response (first and replays) is marked audited.
pub async fn run(
    state: &AppState,
    key: Option<StoreKey>,
    op: WorkflowOp,
    render: Render<WorkflowOut>,
) -> ApiResult<Response> {
    let store = state.store.clone();
    let (recorded, _) =
        idempotency::run(key, render, |idem| async move { store.workflow(op, idem).await }).await.map_err(in_tx)?;
    Ok(audited(recorded.into_response()))
}

/// A money-moving action: `executed` renders what it booked (201); a
/// request renders as [`ApprovalPending`] (202) unless `requested` says
/// otherwise.
pub async fn act(
    state: &AppState,
    key: Option<StoreKey>,
    act: ActRequest,
    executed: impl Fn(&creditdesk_store::workflow::Executed) -> (u16, String) + Send + Sync + 'static,
    requested: Option<Render<Approval>>,
) -> ApiResult<Response> {
    let render: Render<WorkflowOut> = Arc::new(move |out: &WorkflowOut| match out {
        WorkflowOut::Acted(ActOutcome::Executed(ex)) => executed(ex),
        WorkflowOut::Acted(ActOutcome::Requested(a)) => match &requested {
            Some(r) => r(a),
            None => idempotency::json(StatusCode::ACCEPTED, &pending(a)),
        },
        _ => idempotency::json(StatusCode::INTERNAL_SERVER_ERROR, &serde_json::json!({})),
    });
    run(state, key, WorkflowOp::Act(Box::new(act)), render).await
}

/// What a `reverse_usage` request carries to its approval.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReversePayload {
    pub events: Vec<String>,
    pub reason_code: String,
    pub ticket_ref: String,
    pub note: String,
}

/// The action an approval executes, rebuilt from what was filed, with the
/// approver recorded (grants: `approved_by`; reversal entries: their note).
async fn rebuild(state: &AppState, a: &Approval, approver: &Caller) -> ApiResult<MoneyAction> {
    let corrupt = |e: serde_json::Error| ApiError::internal(format!("approval {} payload: {e}", a.id));
    match a.action.as_str() {
        "grant" | "goodwill_grant" => {
            let req: CreateGrantRequest = serde_json::from_str(&a.payload).map_err(corrupt)?;
            let at = req.effective_at.unwrap_or_else(|| state.store.now());
            let mut grant = super::grants::new_grant(&req, &a.requested_by, at)?;
            grant.approved_by = Some(ActorId::new(approver.actor())?);
            Ok(MoneyAction::Grant(Box::new(grant)))
        }
        "reverse_usage" => {
            let p: ReversePayload = serde_json::from_str(&a.payload).map_err(corrupt)?;
            let events = p.events.iter().map(EventId::new).collect::<Result<Vec<_>, _>>()?;
            let by = Attribution {
                actor: ActorId::new(&a.requested_by)?,
                reason_code: Some(ReasonCode::new(&p.reason_code)?),
                ticket_ref: Some(Arc::from(p.ticket_ref.as_str())),
                note: Some(Arc::from(format!("{} (approved by {}, {})", p.note, approver.actor(), a.id).as_str())),
            };
            Ok(MoneyAction::Reverse { events, by })
        }
        "extend_expiry" => {
            let p: super::extend::ExtendPayload = serde_json::from_str(&a.payload).map_err(corrupt)?;
            let (action, _, _) = super::extend::template(state, &p, &a.requested_by, Some(approver.actor())).await?;
            Ok(action)
        }
        other => Err(ApiError::internal(format!("approval {} has unknown action {other}", a.id))),
    }
}

fn decided_body(out: &WorkflowOut) -> (u16, String) {
    match out {
        WorkflowOut::Decided(d) => {
            let ex = d.executed.clone().unwrap_or_default();
            let body = ApprovalDecided {
                approval: approval_out(&d.approval),
                entries: ex.entries.iter().map(map::entry).collect(),
                reversed_events: ex.reversals.iter().map(|(e, _)| e.to_string()).collect(),
                reversed: ex.reversals.iter().map(|(_, r)| r.total().get()).sum::<Decimal>().normalize(),
            };
            idempotency::json(StatusCode::OK, &body)
        }
        _ => idempotency::json(StatusCode::INTERNAL_SERVER_ERROR, &serde_json::json!({})),
    }
}

async fn decide(
    state: &AppState,
    caller: &Caller,
    request_id: Option<String>,
    key: Option<StoreKey>,
    id: String,
    decision: Decision,
) -> ApiResult<Response> {
    let op = WorkflowOp::Decide(Box::new(DecideRequest { id, actor: caller.workflow_actor(), decision, request_id }));
    run(state, key, op, Arc::new(decided_body)).await
}

async fn find(state: &AppState, id: &str) -> ApiResult<Approval> {
    state.store.approval(id.to_owned()).await?.ok_or_else(|| ApiError::not_found("approval", id))
}

/// Approves and executes a pending request, once. The approver must not be
/// the requester and must have an approve limit covering the value.
#[utoipa::path(post, path = "/v1/approvals/{id}/approve", tag = "approvals", request_body = ApproveRequest,
    params(("id" = String, Path, description = "Approval id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes the POST repeatable")),
    responses((status = 200, body = ApprovalDecided), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn approve(
    State(state): State<AppState>,
    caller: Caller,
    RequestId(rid): RequestId,
    PathId(id): PathId,
    IdempotencyKey(key): IdempotencyKey,
    Body(req): Body<ApproveRequest>,
) -> ApiResult<Response> {
    caller.require(Action::Decide)?;
    let key = idempotency::key(&caller, key, routes::APPROVAL_APPROVE, &[&id], &req)?;
    // A decided request needs no rebuilding: the store answers how it was
    // decided (and audits the attempt).
    let a = find(&state, &id).await?;
    let action = match a.status {
        ApprovalStatus::Pending => match rebuild(&state, &a, &caller).await {
            Ok(action) => Some(action),
            Err(_) if find(&state, &id).await?.status != ApprovalStatus::Pending => None,
            Err(e) => return Err(e),
        },
        _ => None,
    };
    decide(&state, &caller, rid, key, id, Decision::Approve(action)).await
}

#[utoipa::path(post, path = "/v1/approvals/{id}/reject", tag = "approvals", request_body = RejectRequest,
    params(("id" = String, Path, description = "Approval id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes the POST repeatable")),
    responses((status = 200, body = ApprovalDecided), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn reject(
    State(state): State<AppState>,
    caller: Caller,
    RequestId(rid): RequestId,
    PathId(id): PathId,
    IdempotencyKey(key): IdempotencyKey,
    Body(req): Body<RejectRequest>,
) -> ApiResult<Response> {
    caller.require(Action::Decide)?;
    let key = idempotency::key(&caller, key, routes::APPROVAL_REJECT, &[&id], &req)?;
    decide(&state, &caller, rid, key, id, Decision::Reject { reason: req.reason.trim().to_owned() }).await
}

#[utoipa::path(post, path = "/v1/approvals/{id}/cancel", tag = "approvals", request_body = CancelRequest,
    params(("id" = String, Path, description = "Approval id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes the POST repeatable")),
    responses((status = 200, body = ApprovalDecided), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    RequestId(rid): RequestId,
    PathId(id): PathId,
    IdempotencyKey(key): IdempotencyKey,
    Body(req): Body<CancelRequest>,
) -> ApiResult<Response> {
    caller.require(Action::Decide)?;
    let key = idempotency::key(&caller, key, routes::APPROVAL_CANCEL, &[&id], &req)?;
    decide(&state, &caller, rid, key, id, Decision::Cancel { reason: req.reason.clone() }).await
}

/// Approval requests, newest first: `status=pending`, `mine=true`,
/// `customer=...`, `dispute=...`.
#[utoipa::path(get, path = "/v1/approvals", tag = "approvals", params(ApprovalListQuery),
    responses((status = 200, body = Page<ApiApproval>), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ApprovalListQuery>,
) -> ApiResult<Json<Page<ApiApproval>>> {
    caller.require(Action::Read)?;
    let filter = ApprovalFilter {
        status: q.status.map(status_in),
        requested_by: q.mine.unwrap_or(false).then(|| caller.actor().to_owned()),
        customer: q.customer.clone(),
        dispute: q.dispute.clone(),
    };
    let page = state.store.approvals(filter, q.cursor.clone(), q.effective_limit()).await?;
    Ok(Json(Page::new(page.items.iter().map(approval_out).collect(), page.next_cursor)))
}

#[utoipa::path(get, path = "/v1/approvals/{id}", tag = "approvals",
    params(("id" = String, Path, description = "Approval id")),
    responses((status = 200, body = ApiApproval), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn get(State(state): State<AppState>, caller: Caller, PathId(id): PathId) -> ApiResult<Json<ApiApproval>> {
    caller.require(Action::Read)?;
    Ok(Json(approval_out(&find(&state, &id).await?)))
}

/// What `POST /v1/grants` with this body would do now: the value, the
/// balance before and after, and whether it executes at once or needs an
/// approval (which limit, by how much, from which roles). Writes nothing.
#[utoipa::path(post, path = "/v1/grants/preview", tag = "grants", request_body = CreateGrantRequest,
    responses((status = 200, body = GrantPreview), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn preview(
    State(state): State<AppState>,
    caller: Caller,
    Body(req): Body<CreateGrantRequest>,
) -> ApiResult<Json<GrantPreview>> {
    caller.require(Action::Grant)?;
    let now = state.store.now();
    let effective_at = req.effective_at.unwrap_or(now);
    let new = super::grants::new_grant(&req, caller.actor(), effective_at)?;
    let catalog = state.store.catalog();
    creditdesk_ledger::grant::Grant::validate(new, &catalog).map_err(super::grants::grant_error)?;
    let ct = catalog.credit_type(&CreditTypeId::new(&req.credit_type_id)?)?.clone();
    let customer = CustomerId::new(&req.customer_id)?;
    state
        .store
        .customer(customer.clone())
        .await
        .map_err(|_| ApiError::field("customer_id", "is not a known customer"))?;
    let before = state.store.balance(customer, ct.id.clone(), Some(now), Some(now)).await?;
    let currency = ct.unit_price.currency.code().to_owned();
    let value = req.amount * ct.unit_price.amount;
    let limits = state.store.role_limits().await?;
    let mine = limits.iter().find(|r| r.role == caller.role.as_str()).map_or_else(Limits::zero, |r| r.limits.clone());
    let spent = state.store.spent_this_month(caller.actor().to_owned()).await?;
    let b = breach(&mine, value, spent);
    let before_available = before.available.get();
    // A grant effective now first settles outstanding overage (carry_forward).
    let after = if effective_at > now {
        before_available
    } else if ct.overage_mode == OverageMode::CarryForward {
        before_available + req.amount - before.overage.get().min(req.amount)
    } else {
        before_available + req.amount
    };
    let m = |v: Decimal| Money::new(v.normalize(), currency.clone());
    Ok(Json(GrantPreview {
        value: m(value),
        available_before: before_available.normalize(),
        available_after: after.normalize(),
        executes_now: b.is_none(),
        exceeded: b.map(|b| limit_kind(b.exceeded)),
        limit: b.map(|b| m(b.limit)),
        exceeded_by: b.map(|b| m(b.exceeded_by)),
        approver_roles: match b {
            None => Vec::new(),
            Some(_) => limits
                .iter()
                .filter(|r| r.role != "viewer" && r.limits.may_approve(value))
                .map(|r| role(&r.role))
                .collect(),
        },
        remaining_monthly_budget: mine.monthly.map(|l| m((l - spent).max(Decimal::ZERO))),
        request: req,
    }))
}
