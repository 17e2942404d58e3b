//! `/v1/disputes...`: open, list (status, assignee, overdue against the
//! SLA), evidence, assign, comment, resolve. A credit-adding resolution
//! (`reverse_usage`, `goodwill_grant`) is a money-moving action like a
//! manual grant: it executes within the resolver's limits or waits for an
//! approval (the dispute is `awaiting_approval` meanwhile). The state
//! machine is in `docs/workflows.md`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use chrono::{DateTime, TimeDelta, Utc};
use creditdesk_api::disputes::{
    AssignDisputeRequest, CommentRequest, Dispute as ApiDispute, DisputeComment as ApiComment, DisputeDetail,
    DisputeEvidence, DisputeListQuery, DisputeOutcome, DisputeResolved, DisputeStatus as ApiStatus, EventEvidence,
    OpenDisputeRequest, ResolveDisputeRequest, DEFAULT_SLA_HOURS,
};
use creditdesk_api::grants::CreateGrantRequest;
use creditdesk_api::{routes, GrantCategory, GrantSource, Page, Paged, Problem};
use creditdesk_ledger::entry::{Attribution, EntryKind};
use creditdesk_ledger::grant::Grant;
use creditdesk_ledger::ids::{ActorId, CreditTypeId, CustomerId, EventId, ReasonCode};
use creditdesk_store::workflow::{
    ActRequest, Approval, Dispute, DisputeComment, DisputeFilter, DisputeStatus, Executed, MoneyAction, WorkflowOp,
    WorkflowOut,
};
use rust_decimal::Decimal;

use super::approvals::{self, ReversePayload};
use super::audit::RequestId;
use super::error::{ApiError, ApiResult};
use super::extract::{IdempotencyKey, Json as Body, PathId, Query};
use super::idempotency::{self, Render};
use super::map;
use super::policy::{Action, Caller};
use crate::state::AppState;

fn status(s: DisputeStatus) -> ApiStatus {
    match s {
        DisputeStatus::Open => ApiStatus::Open,
        DisputeStatus::Investigating => ApiStatus::Investigating,
        DisputeStatus::AwaitingApproval => ApiStatus::AwaitingApproval,
        DisputeStatus::Resolved => ApiStatus::Resolved,
        DisputeStatus::Rejected => ApiStatus::Rejected,
    }
}

fn status_in(s: ApiStatus) -> DisputeStatus {
    match s {
        ApiStatus::Open => DisputeStatus::Open,
        ApiStatus::Investigating => DisputeStatus::Investigating,
        ApiStatus::AwaitingApproval => DisputeStatus::AwaitingApproval,
        ApiStatus::Resolved => DisputeStatus::Resolved,
        ApiStatus::Rejected => DisputeStatus::Rejected,
    }
}

fn outcome(s: &str) -> Option<DisputeOutcome> {
    match s {
        "reverse_usage" => Some(DisputeOutcome::ReverseUsage),
        "goodwill_grant" => Some(DisputeOutcome::GoodwillGrant),
        "no_action" => Some(DisputeOutcome::NoAction),
        _ => None,
    }
}

pub fn dispute_out(d: &Dispute, now: DateTime<Utc>) -> ApiDispute {
    ApiDispute {
        id: d.id.clone(),
        customer_id: d.customer_id.clone(),
        credit_type_id: d.credit_type_id.clone(),
        events: d.events.clone(),
        ticket_ref: d.ticket_ref.clone(),
        description: d.description.clone(),
        claimed_amount: d.claimed.map(|c| c.normalize()),
        status: status(d.status),
        assignee: d.assignee.clone(),
        opened_by: d.opened_by.clone(),
        opened_at: d.opened_at,
        sla_due_at: d.sla_due_at,
        overdue: d.status.is_active() && d.sla_due_at <= now,
        updated_at: d.updated_at,
        resolution: d.resolution.as_deref().and_then(outcome),
        resolution_reason: d.resolution_reason.clone(),
        resolved_by: d.resolved_by.clone(),
        resolved_at: d.resolved_at,
        approval_id: d.approval_id.clone(),
    }
}

fn comment_out(c: &DisputeComment) -> ApiComment {
    ApiComment { id: c.id.to_string(), at: c.at, author: c.author.clone(), body: c.body.clone() }
}

async fn find(state: &AppState, id: &str) -> ApiResult<(Dispute, Vec<DisputeComment>)> {
    state.store.dispute(id.to_owned()).await?.ok_or_else(|| ApiError::not_found("dispute", id))
}

fn dispute_render(now: DateTime<Utc>, code: StatusCode) -> Render<WorkflowOut> {
    Arc::new(move |out: &WorkflowOut| match out {
        WorkflowOut::Dispute(d) => idempotency::json(code, &dispute_out(d, now)),
        WorkflowOut::Comment(c) => idempotency::json(code, &comment_out(c)),
        _ => idempotency::json(StatusCode::INTERNAL_SERVER_ERROR, &serde_json::json!({})),
    })
}

/// Opens a dispute over usage events of one customer and credit type. SLA
/// due `sla_hours` (default 72) after opening.
#[utoipa::path(post, path = "/v1/disputes", tag = "disputes", request_body = OpenDisputeRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the POST repeatable")),
    responses((status = 201, body = ApiDispute), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn open(
    State(state): State<AppState>,
    caller: Caller,
    RequestId(rid): RequestId,
    IdempotencyKey(key): IdempotencyKey,
    Body(req): Body<OpenDisputeRequest>,
) -> ApiResult<Response> {
    caller.require(Action::Dispute)?;
    let key = idempotency::key(&caller, key, routes::DISPUTES, &[], &req)?;
    let customer = CustomerId::new(&req.customer_id)?;
    let mut credit_type: Option<CreditTypeId> = None;
    for (i, id) in req.events.iter().enumerate() {
        let field = format!("events[{i}]");
        let stored = state
            .store
            .event(EventId::new(id)?)
            .await?
            .ok_or_else(|| ApiError::field(field.clone(), "is not an accepted usage event"))?;
        if stored.event.customer != customer {
            return Err(ApiError::field(field, "belongs to another customer"));
        }
        match &credit_type {
            Some(ct) if *ct != stored.credit_type => {
                return Err(ApiError::field(field, "burns another credit type; open one dispute per credit type"))
            }
            _ => credit_type = Some(stored.credit_type.clone()),
        }
    }
    let credit_type = credit_type.ok_or_else(|| ApiError::field("events", "must name at least one event"))?;
    let now = state.store.now();
    let dispute = Dispute {
        id: req.id.clone().unwrap_or_else(|| format!("dsp_{}", uuid::Uuid::new_v4().simple())),
        customer_id: customer.to_string(),
        credit_type_id: credit_type.to_string(),
        events: req.events.clone(),
        ticket_ref: req.ticket_ref.trim().to_owned(),
        description: req.description.clone(),
        claimed: req.claimed_amount,
        status: DisputeStatus::Open,
        assignee: req.assignee.clone(),
        opened_by: caller.actor().to_owned(),
        opened_at: now,
        sla_due_at: now + TimeDelta::hours(i64::from(req.sla_hours.unwrap_or(DEFAULT_SLA_HOURS))),
        updated_at: now,
        resolution: None,
        resolution_reason: None,
        resolved_by: None,
        resolved_at: None,
        approval_id: None,
    };
    let op = WorkflowOp::OpenDispute { dispute: Box::new(dispute), actor: caller.workflow_actor(), request_id: rid };
    approvals::run(&state, key, op, dispute_render(now, StatusCode::CREATED)).await
}

/// Disputes, newest first, by status, assignee, customer, overdue.
#[utoipa::path(get, path = "/v1/disputes", tag = "disputes", params(DisputeListQuery),
    responses((status = 200, body = Page<ApiDispute>), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<DisputeListQuery>,
) -> ApiResult<Json<Page<ApiDispute>>> {
    caller.require(Action::Read)?;
    let filter = DisputeFilter {
        status: q.status.map(status_in),
        assignee: q.assignee.clone(),
        customer: q.customer.clone(),
        overdue: q.overdue,
    };
    let now = state.store.now();
    let page = state.store.disputes(filter, q.cursor.clone(), q.effective_limit()).await?;
    Ok(Json(Page::new(page.items.iter().map(|d| dispute_out(d, now)).collect(), page.next_cursor)))
}

#[utoipa::path(get, path = "/v1/disputes/{id}", tag = "disputes",
    params(("id" = String, Path, description = "Dispute id")),
    responses((status = 200, body = DisputeDetail), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn get(State(state): State<AppState>, caller: Caller, PathId(id): PathId) -> ApiResult<Json<DisputeDetail>> {
    caller.require(Action::Read)?;
    let (d, comments) = find(&state, &id).await?;
    let now = state.store.now();
    Ok(Json(DisputeDetail { dispute: dispute_out(&d, now), comments: comments.iter().map(comment_out).collect() }))
}

/// Evidence for each disputed event: the raw event and its properties, when
/// it was received, the rate and rate-card version used, its burns (grant,
/// amount, booked and recorded times) and overage, and earlier reversals.
#[utoipa::path(get, path = "/v1/disputes/{id}/evidence", tag = "disputes",
    params(("id" = String, Path, description = "Dispute id")),
    responses((status = 200, body = DisputeEvidence), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn evidence(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<DisputeEvidence>> {
    caller.require(Action::Read)?;
    let (d, _) = find(&state, &id).await?;
    let (events, total) = gather(&state, &d.events).await?;
    let ct = state.store.catalog().credit_type(&CreditTypeId::new(&d.credit_type_id)?)?.clone();
    Ok(Json(DisputeEvidence {
        dispute_id: d.id,
        events,
        total_credits: total.normalize(),
        total_value: creditdesk_api::Money::new(
            (total * ct.unit_price.amount).normalize(),
            ct.unit_price.currency.code(),
        ),
    }))
}

/// One accepted usage event as a ledger row's explanation shows it: the
/// event, its rating (the rate and the rate-card version), its burns and
/// overage, and any reversal. The same record a dispute's evidence holds.
#[utoipa::path(get, path = "/v1/events/{id}", tag = "usage",
    params(("id" = String, Path, description = "Event id (the client's idempotency key)")),
    responses((status = 200, body = EventEvidence), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn event(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<EventEvidence>> {
    caller.require(Action::Read)?;
    let (mut events, _) = gather(&state, std::slice::from_ref(&id)).await?;
    events.pop().map(Json).ok_or_else(|| ApiError::not_found("event", &id))
}

/// Each event's evidence, and the credits its usage booked (burns + overage).
async fn gather(state: &AppState, ids: &[String]) -> ApiResult<(Vec<EventEvidence>, Decimal)> {
    let mut out = Vec::with_capacity(ids.len());
    let mut total = Decimal::ZERO;
    for id in ids {
        let eid = EventId::new(id)?;
        let stored = state.store.event(eid.clone()).await?.ok_or_else(|| ApiError::not_found("event", id))?;
        let entries = state.store.entries_of_event(eid.clone()).await?;
        let mine: Vec<_> = entries.iter().filter(|e| e.event.as_ref() == Some(&eid)).collect();
        let usage: Vec<_> =
            mine.iter().filter(|e| matches!(e.kind, EntryKind::Burn | EntryKind::Overage)).copied().collect();
        let reversals: Vec<_> =
            mine.iter().filter(|e| matches!(e.kind, EntryKind::Reversal | EntryKind::Grant)).copied().collect();
        total += usage.iter().map(|e| -e.amount.get()).sum::<Decimal>();
        let ev = &stored.event;
        out.push(EventEvidence {
            event_id: id.clone(),
            product_id: ev.product.to_string(),
            quantity: ev.quantity,
            timestamp: ev.timestamp,
            properties: serde_json::to_value(&ev.properties).unwrap_or(serde_json::Value::Null),
            received_at: stored.received_at,
            credits: stored.rating.credits.get(),
            credits_per_unit: stored.rating.credits_per_unit,
            rate_version: stored.rating.rate_version,
            from_override: stored.rating.from_override,
            usage: usage.iter().map(|e| map::entry(e)).collect(),
            reversed: !reversals.is_empty(),
            reversals: reversals.iter().map(|e| map::entry(e)).collect(),
        });
    }
    Ok((out, total))
}

#[utoipa::path(post, path = "/v1/disputes/{id}/assign", tag = "disputes", request_body = AssignDisputeRequest,
    params(("id" = String, Path, description = "Dispute id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes the POST repeatable")),
    responses((status = 200, body = ApiDispute), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn assign(
    State(state): State<AppState>,
    caller: Caller,
    RequestId(rid): RequestId,
    PathId(id): PathId,
    IdempotencyKey(key): IdempotencyKey,
    Body(req): Body<AssignDisputeRequest>,
) -> ApiResult<Response> {
    caller.require(Action::Dispute)?;
    let key = idempotency::key(&caller, key, routes::DISPUTE_ASSIGN, &[&id], &req)?;
    let op = WorkflowOp::AssignDispute { id, assignee: req.assignee, actor: caller.workflow_actor(), request_id: rid };
    approvals::run(&state, key, op, dispute_render(state.store.now(), StatusCode::OK)).await
}

#[utoipa::path(post, path = "/v1/disputes/{id}/comments", tag = "disputes", request_body = CommentRequest,
    params(("id" = String, Path, description = "Dispute id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes the POST repeatable")),
    responses((status = 201, body = ApiComment), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn comment(
    State(state): State<AppState>,
    caller: Caller,
    RequestId(rid): RequestId,
    PathId(id): PathId,
    IdempotencyKey(key): IdempotencyKey,
    Body(req): Body<CommentRequest>,
) -> ApiResult<Response> {
    caller.require(Action::Dispute)?;
    let key = idempotency::key(&caller, key, routes::DISPUTE_COMMENTS, &[&id], &req)?;
    let op = WorkflowOp::CommentDispute { id, body: req.body, actor: caller.workflow_actor(), request_id: rid };
    approvals::run(&state, key, op, dispute_render(state.store.now(), StatusCode::CREATED)).await
}

/// Resolves a dispute. `no_action` closes it as `rejected` (200).
/// `reverse_usage` reverses every disputed event; `goodwill_grant` grants
/// `goodwill_amount` credits: both execute at once within the resolver's
/// limits (201) or file an approval request and leave the dispute
/// `awaiting_approval` (202).
#[utoipa::path(post, path = "/v1/disputes/{id}/resolve", tag = "disputes", request_body = ResolveDisputeRequest,
    params(("id" = String, Path, description = "Dispute id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes the POST repeatable")),
    responses((status = 200, body = DisputeResolved), (status = 201, body = DisputeResolved),
        (status = 202, body = DisputeResolved), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn resolve(
    State(state): State<AppState>,
    caller: Caller,
    RequestId(rid): RequestId,
    PathId(id): PathId,
    IdempotencyKey(key): IdempotencyKey,
    Body(req): Body<ResolveDisputeRequest>,
) -> ApiResult<Response> {
    let key = idempotency::key(&caller, key, routes::DISPUTE_RESOLVE, &[&id], &req)?;
    let now = state.store.now();
    let reason = req.reason.trim().to_owned();
    if req.outcome == DisputeOutcome::NoAction {
        caller.require(Action::Dispute)?;
        let op = WorkflowOp::DismissDispute { id, reason, actor: caller.workflow_actor(), request_id: rid };
        let render: Render<WorkflowOut> = Arc::new(move |out: &WorkflowOut| match out {
            WorkflowOut::Dispute(d) => idempotency::json(
                StatusCode::OK,
                &DisputeResolved {
                    dispute: dispute_out(d, now),
                    approval: None,
                    entries: Vec::new(),
                    reversed_events: Vec::new(),
                },
            ),
            _ => idempotency::json(StatusCode::INTERNAL_SERVER_ERROR, &serde_json::json!({})),
        });
        return approvals::run(&state, key, op, render).await;
    }
    caller.require(Action::Grant)?;
    let (d, _) = find(&state, &id).await?;
    let ct = state.store.catalog().credit_type(&CreditTypeId::new(&d.credit_type_id)?)?.clone();
    let reason_code = req.reason_code.clone().unwrap_or_default();
    let (action, credits, execute, payload) = match req.outcome {
        DisputeOutcome::ReverseUsage => {
            let (_, credits) = gather(&state, &d.events).await?;
            let events = d.events.iter().map(EventId::new).collect::<Result<Vec<_>, _>>()?;
            let by = Attribution {
                actor: ActorId::new(caller.actor())?,
                reason_code: Some(ReasonCode::new(&reason_code)?),
                ticket_ref: Some(Arc::from(d.ticket_ref.as_str())),
                note: Some(Arc::from(format!("{reason} (dispute {})", d.id).as_str())),
            };
            let payload = ReversePayload {
                events: d.events.clone(),
                reason_code: reason_code.clone(),
                ticket_ref: d.ticket_ref.clone(),
                note: format!("{reason} (dispute {})", d.id),
            };
            let payload = serde_json::to_string(&payload).map_err(ApiError::internal)?;
            ("reverse_usage", credits, MoneyAction::Reverse { events, by }, payload)
        }
        _ => {
            let amount = req.goodwill_amount.unwrap_or_default();
            let grant = CreateGrantRequest {
                id: Some(format!("g_{}", uuid::Uuid::new_v4().simple())),
                customer_id: d.customer_id.clone(),
                credit_type_id: d.credit_type_id.clone(),
                amount,
                category: GrantCategory::Promotional,
                source: GrantSource::Goodwill,
                priority: None,
                effective_at: None,
                expires_at: req.goodwill_expires_at,
                products: None,
                contract_id: None,
                cost_basis: None,
                rollover: None,
                reason_code: reason_code.clone(),
                ticket_ref: Some(d.ticket_ref.clone()),
                note: Some(format!("{reason} (dispute {})", d.id)),
                mode: None,
            };
            let new = super::grants::new_grant(&grant, caller.actor(), now)?;
            Grant::validate(new.clone(), &state.store.catalog())
                .map_err(|e| super::grants::grant_error(e).rename_field("expires_at", "goodwill_expires_at"))?;
            let payload = serde_json::to_string(&grant).map_err(ApiError::internal)?;
            ("goodwill_grant", amount, MoneyAction::Grant(Box::new(new)), payload)
        }
    };
    let act = ActRequest {
        actor: caller.workflow_actor(),
        action: action.to_owned(),
        execute,
        customer: CustomerId::new(&d.customer_id)?,
        credit_type: ct.id.clone(),
        credits,
        value: credits * ct.unit_price.amount,
        currency: ct.unit_price.currency.code().to_owned(),
        payload,
        reason_code,
        ticket_ref: d.ticket_ref.clone(),
        note: reason.clone(),
        dispute: Some(d.id.clone()),
        approval_id: approvals::new_approval_id(),
        request_id: rid,
    };
    let (resolver, before) = (caller.actor().to_owned(), d.clone());
    let executed = move |ex: &Executed| {
        let mut after = before.clone();
        after.status = DisputeStatus::Resolved;
        after.resolution = Some(action.to_owned());
        after.resolution_reason = Some(reason.clone());
        after.resolved_by = Some(resolver.clone());
        after.resolved_at = Some(now);
        after.updated_at = now;
        let body = DisputeResolved {
            dispute: dispute_out(&after, now),
            approval: None,
            entries: ex.entries.iter().map(map::entry).collect(),
            reversed_events: ex.reversals.iter().map(|(e, _)| e.to_string()).collect(),
        };
        idempotency::json(StatusCode::CREATED, &body)
    };
    let waiting = d;
    let requested = Arc::new(move |a: &Approval| {
        let mut after = waiting.clone();
        after.status = DisputeStatus::AwaitingApproval;
        after.approval_id = Some(a.id.clone());
        after.updated_at = now;
        let body = DisputeResolved {
            dispute: dispute_out(&after, now),
            approval: Some(approvals::pending(a)),
            entries: Vec::new(),
            reversed_events: Vec::new(),
        };
        idempotency::json(StatusCode::ACCEPTED, &body)
    });
    approvals::act(&state, key, act, executed, Some(requested)).await
}
