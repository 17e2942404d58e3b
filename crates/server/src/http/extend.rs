//! `POST /v1/grants/{id}/extend`: an expiry extension, as a money-moving
//! action. The ledger is append-only, so the grant's remainder is voided
//! and booked again as a new grant carrying the new expiry (same category,
//! source, priority, products, contract and rollover), in one transaction:
//! balances never jump and the old grant's history stays as it was.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use creditdesk_api::extend::{ExpiryExtended, ExtendExpiryRequest};
use creditdesk_api::{routes, Money, Problem, ProblemCode};
use creditdesk_ledger::balance::GrantStatus;
use creditdesk_ledger::entry::Attribution;
use creditdesk_ledger::grant::{Grant, NewGrant};
use creditdesk_ledger::ids::{ActorId, GrantId, ReasonCode};
use creditdesk_store::workflow::{ActRequest, Executed, MoneyAction};
use serde::{Deserialize, Serialize};

use super::audit::RequestId;
use super::error::{ApiError, ApiResult};
use super::extract::{IdempotencyKey, Json as Body, PathId};
use super::policy::{Action, Caller};
use super::{approvals, idempotency, map};
use crate::state::AppState;

/// What an extension request carries to its approval.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExtendPayload {
    pub grant_id: String,
    pub new_grant_id: String,
    pub expires_at: DateTime<Utc>,
    pub reason_code: String,
    pub ticket_ref: String,
    pub note: String,
}

/// The live grant `id` and its remainder now.
async fn live(state: &AppState, id: &GrantId) -> ApiResult<(Arc<Grant>, rust_decimal::Decimal)> {
    let (customer, ct) =
        state.store.grant_wallet(id.clone()).await?.ok_or_else(|| ApiError::not_found("grant", id.as_str()))?;
    let balance = state.store.balance(customer, ct, None, None).await?;
    let gb = balance
        .grants
        .into_iter()
        .find(|g| g.grant.id == *id)
        .ok_or_else(|| ApiError::not_found("grant", id.as_str()))?;
    let conflict = |rule: &str| ApiError::new(ProblemCode::GrantStateConflict, format!("grant {id} {rule}"));
    match gb.status {
        GrantStatus::Active => {}
        GrantStatus::Pending => return Err(conflict("is not effective yet")),
        _ => return Err(conflict("is no longer live; nothing is left to extend")),
    }
    if gb.remaining.is_zero() {
        return Err(conflict("has nothing left to extend"));
    }
    Ok((gb.grant, gb.remaining.get()))
}

/// The new grant an extension books (its amount is set to the remainder
/// when it executes).
pub async fn template(
    state: &AppState,
    p: &ExtendPayload,
    created_by: &str,
    approved_by: Option<&str>,
) -> ApiResult<(MoneyAction, rust_decimal::Decimal, Arc<Grant>)> {
    let id = GrantId::new(&p.grant_id)?;
    let (old, remaining) = live(state, &id).await?;
    match old.expires_at {
        None => return Err(ApiError::new(ProblemCode::GrantStateConflict, format!("grant {id} never expires"))),
        Some(t) if p.expires_at <= t => {
            return Err(ApiError::field(
                "expires_at",
                format!("must be later than the grant's expiry {}", t.to_rfc3339()),
            ))
        }
        _ => {}
    }
    let note = match approved_by {
        Some(a) => format!("{} (extends {id}; approved by {a})", p.note),
        None => format!("{} (extends {id})", p.note),
    };
    let new = NewGrant {
        id: GrantId::new(&p.new_grant_id)?,
        customer: old.customer.clone(),
        credit_type: old.credit_type.clone(),
        amount: remaining,
        category: old.category,
        source: old.source,
        priority: Some(old.priority),
        effective_at: state.store.now(),
        expires_at: Some(p.expires_at),
        products: old.products.as_deref().map(<[_]>::to_vec),
        contract_id: old.contract_id.clone(),
        cost_basis: None,
        rollover: old.rollover,
        reason_code: ReasonCode::new(&p.reason_code)?,
        ticket_ref: Some(p.ticket_ref.clone()),
        note: Some(note.clone()),
        created_by: ActorId::new(created_by)?,
        approved_by: approved_by.map(ActorId::new).transpose()?,
    };
    Grant::validate(new.clone(), &state.store.catalog()).map_err(super::grants::grant_error)?;
    let by = Attribution {
        actor: ActorId::new(created_by)?,
        reason_code: Some(ReasonCode::new(&p.reason_code)?),
        ticket_ref: Some(Arc::from(p.ticket_ref.as_str())),
        note: Some(Arc::from(note.as_str())),
    };
    Ok((MoneyAction::Extend { grant: id, new: Box::new(new), by }, remaining, old))
}

/// Extends a live grant's expiry: `201` when the remainder's value fits the
/// caller's limits, else `202` with the approval request filed.
#[utoipa::path(post, path = "/v1/grants/{id}/extend", tag = "grants", request_body = ExtendExpiryRequest,
    params(("id" = String, Path, description = "Grant id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes the POST repeatable")),
    responses((status = 201, body = ExpiryExtended), (status = 202, body = creditdesk_api::grants::ApprovalPending),
        (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn extend(
    State(state): State<AppState>,
    caller: Caller,
    RequestId(rid): RequestId,
    PathId(id): PathId,
    IdempotencyKey(key): IdempotencyKey,
    Body(req): Body<ExtendExpiryRequest>,
) -> ApiResult<Response> {
    caller.require(Action::Grant)?;
    let key = idempotency::key(&caller, key, routes::GRANT_EXTEND, &[&id], &req)?;
    let payload = ExtendPayload {
        grant_id: id.clone(),
        new_grant_id: format!("g_{}", uuid::Uuid::new_v4().simple()),
        expires_at: req.expires_at,
        reason_code: req.reason_code.clone(),
        ticket_ref: req.ticket_ref.trim().to_owned(),
        note: req.note.clone(),
    };
    let (execute, remaining, old) = template(&state, &payload, caller.actor(), None).await?;
    let ct = state.store.catalog().credit_type(&old.credit_type)?.clone();
    let price = ct.unit_price;
    let act = ActRequest {
        actor: caller.workflow_actor(),
        action: "extend_expiry".into(),
        execute,
        customer: old.customer.clone(),
        credit_type: old.credit_type.clone(),
        credits: remaining,
        value: remaining * price.amount,
        currency: price.currency.code().to_owned(),
        payload: serde_json::to_string(&payload).map_err(ApiError::internal)?,
        reason_code: req.reason_code.clone(),
        ticket_ref: payload.ticket_ref.clone(),
        note: req.note.clone(),
        dispute: None,
        approval_id: approvals::new_approval_id(),
        request_id: rid,
    };
    let executed = move |ex: &Executed| {
        let credits: rust_decimal::Decimal = ex
            .entries
            .iter()
            .filter(|e| e.kind == creditdesk_ledger::entry::EntryKind::Grant)
            .map(|e| e.amount.get())
            .sum();
        let body = ExpiryExtended {
            grant_id: payload.grant_id.clone(),
            new_grant_id: payload.new_grant_id.clone(),
            credits: credits.normalize(),
            value: Money::new((credits * price.amount).normalize(), price.currency.code()),
            expires_at: payload.expires_at,
            entries: ex.entries.iter().map(map::entry).collect(),
        };
        idempotency::json(StatusCode::CREATED, &body)
    };
    approvals::act(&state, key, act, executed, None).await
}
