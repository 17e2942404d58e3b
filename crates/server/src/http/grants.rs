//! `POST /v1/grants` and `POST /v1/grants/{id}/void`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, TimeDelta, Utc};
use creditdesk_api::grants::{ApprovalPending, CreateGrantRequest, GrantCreated, GrantVoided, VoidGrantRequest};
use creditdesk_api::{routes, FieldError, Problem, WriteMode};
use creditdesk_ledger::amount::{Currency, Money};
use creditdesk_ledger::balance::{GrantBalance, GrantStatus};
use creditdesk_ledger::entry::{Attribution, Entry, EntryKind};
use creditdesk_ledger::grant::{Grant, NewGrant, RolloverPolicy};
use creditdesk_ledger::ids::{ActorId, ContractId, CreditTypeId, CustomerId, GrantId, ProductId, ReasonCode};
use creditdesk_ledger::wallet::GrantTotals;
use creditdesk_ledger::{Credits, LedgerError};
use creditdesk_store::workflow::{ActRequest, Executed, MoneyAction};
use creditdesk_store::LedgerFilter;

use super::audit::RequestId;
use super::error::{ApiError, ApiResult};
use super::extract::{decode_json, IdempotencyKey, Json, PathId};
use super::idempotency::{self, Recorded, Render};
use super::map::{self, GrantMeta, GrantMetas};
use super::policy::{Action, Caller};
use crate::state::AppState;

/// How far in the past a live grant's `effective_at` may be: client clocks
/// drift. Earlier starts are imports (`mode=backfill`, admin).
const LIVE_PAST_TOLERANCE: TimeDelta = TimeDelta::minutes(5);

/// The ledger's refusals of a grant request, with the wire's field names
/// (a missing catalog reference is bad input here, not a missing resource).
pub(super) fn grant_error(e: LedgerError) -> ApiError {
    match &e {
        LedgerError::NotFound { what: "credit type", .. } => {
            ApiError::field("credit_type_id", "is not a known credit type")
        }
        LedgerError::NotFound { what: "product", id } => {
            ApiError::field("products", format!("`{id}` is not a known product"))
        }
        _ => ApiError::from(e)
            .rename_field("rollover.expires_after", "rollover.expires_after_days")
            .rename_field("currency", "cost_basis.currency")
            .rename_field("cost_basis", "cost_basis.amount"),
    }
}

pub(super) fn new_grant(
    req: &CreateGrantRequest,
    created_by: &str,
    effective_at: DateTime<Utc>,
) -> ApiResult<NewGrant> {
    let id = match &req.id {
        Some(id) => GrantId::new(id).map_err(|e| ApiError::from(e).rename_field("grant_id", "id"))?,
        None => GrantId::new(format!("g_{}", uuid::Uuid::new_v4().simple()))?,
    };
    let products = req
        .products
        .as_ref()
        .map(|ps| ps.iter().map(ProductId::new).collect::<Result<Vec<_>, _>>())
        .transpose()
        .map_err(|e| ApiError::from(e).rename_field("product_id", "products"))?;
    let cost_basis = req
        .cost_basis
        .as_ref()
        .map(|m| Currency::new(&m.currency).map(|currency| Money { amount: m.amount, currency }))
        .transpose()
        .map_err(|e| ApiError::from(e).rename_field("currency", "cost_basis.currency"))?;
    let rollover = req
        .rollover
        .as_ref()
        .map(|r| RolloverPolicy::new(r.fraction, r.max_amount, TimeDelta::days(i64::from(r.expires_after_days))))
        .transpose()
        .map_err(grant_error)?;
    Ok(NewGrant {
        id,
        customer: CustomerId::new(&req.customer_id)?,
        credit_type: CreditTypeId::new(&req.credit_type_id)?,
        amount: req.amount,
        category: map::category_in(req.category),
        source: map::source_in(req.source),
        // Validated to 1..=100 by the request's shape check.
        priority: req.priority.map(|p| u8::try_from(p).unwrap_or(u8::MAX)),
        effective_at,
        expires_at: req.expires_at,
        products,
        contract_id: req.contract_id.as_deref().map(ContractId::new).transpose()?,
        cost_basis,
        rollover,
        reason_code: ReasonCode::new(&req.reason_code)?,
        ticket_ref: req.ticket_ref.clone(),
        note: req.note.clone(),
        created_by: ActorId::new(created_by)?,
        approved_by: None,
    })
}

/// The grant as its booking left it: its entries folded into its totals.
fn booked(grant: &Arc<Grant>, entries: &[Entry], now: DateTime<Utc>) -> (GrantBalance, DateTime<Utc>) {
    let mut totals = GrantTotals::default();
    for e in entries.iter().filter(|e| e.grant.as_ref() == Some(&grant.id)) {
        totals.apply(e.kind, e.amount);
    }
    let recorded_at = entries.first().map_or(now, |e| e.recorded_at);
    let status = if grant.effective_at > recorded_at {
        GrantStatus::Pending
    } else if grant.is_expired_at(recorded_at) {
        GrantStatus::Expired
    } else {
        GrantStatus::Active
    };
    (GrantBalance { grant: grant.clone(), status, totals, remaining: totals.remaining() }, recorded_at)
}

/// A manual grant needs its why on record: the ticket and a note (the
/// reason code is required by the request's shape). Admin imports
/// (`mode=backfill`) carry their own provenance.
fn manual_fields(req: &CreateGrantRequest) -> ApiResult<()> {
    let blank = |v: &Option<String>| v.as_deref().is_none_or(|t| t.trim().is_empty());
    let mut errors = Vec::new();
    if blank(&req.ticket_ref) {
        errors.push(FieldError::new("ticket_ref", "is required for a manual grant"));
    }
    if blank(&req.note) {
        errors.push(FieldError::new("note", "is required for a manual grant"));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(errors))
    }
}

/// Grants credits through the caller's limits: `201` with the grant as
/// booked and the entries written (its grant entry, and any settlement of
/// outstanding overage it paid) when the value (amount x unit price) fits
/// the caller's per-action limit and what is left of their monthly budget;
/// otherwise `202` with the approval request filed (which limit, by how
/// much, which roles can approve). `effective_at` defaults to now; a past
/// one needs `mode=backfill` (admin).
#[utoipa::path(post, path = "/v1/grants", tag = "grants", request_body = CreateGrantRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the POST repeatable")),
    responses((status = 201, body = GrantCreated), (status = 202, body = ApprovalPending),
        (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    RequestId(rid): RequestId,
    IdempotencyKey(key): IdempotencyKey,
    Json(req): Json<CreateGrantRequest>,
) -> ApiResult<Response> {
    caller.require(Action::Grant)?;
    let backfill = req.mode == Some(WriteMode::Backfill);
    if backfill {
        caller.require(Action::Backfill)?;
    } else {
        manual_fields(&req)?;
    }
    let now = state.store.now();
    let effective_at = req.effective_at.unwrap_or(now);
    if !backfill && effective_at < now - LIVE_PAST_TOLERANCE {
        return Err(ApiError::field(
            "effective_at",
            "must not be in the past; imports with past times use mode=backfill (admin only)",
        ));
    }
    let key = idempotency::key(&caller, key, routes::GRANTS, &[], &req)?;
    let new = new_grant(&req, caller.actor(), effective_at)?;
    let catalog = state.store.catalog();
    // The ledger's own rules, checked before queueing for the writer (which
    // checks them again inside the transaction).
    let grant = Arc::new(Grant::validate(new.clone(), &catalog).map_err(grant_error)?);
    let ct = catalog.credit_type(&grant.credit_type).map_err(grant_error)?.clone();
    // What an approval executes: the request with its grant id fixed.
    let filed = CreateGrantRequest { id: Some(new.id.to_string()), ..req.clone() };
    let act = ActRequest {
        actor: caller.workflow_actor(),
        action: "grant".into(),
        customer: new.customer.clone(),
        credit_type: new.credit_type.clone(),
        credits: req.amount,
        value: req.amount * ct.unit_price.amount,
        currency: ct.unit_price.currency.code().to_owned(),
        payload: serde_json::to_string(&filed).map_err(ApiError::internal)?,
        reason_code: req.reason_code.clone(),
        ticket_ref: req.ticket_ref.clone().unwrap_or_default(),
        note: req.note.clone().unwrap_or_default(),
        dispute: None,
        approval_id: super::approvals::new_approval_id(),
        request_id: rid,
        execute: MoneyAction::Grant(Box::new(new)),
    };
    let executed = move |ex: &Executed| {
        let (gb, recorded_at) = booked(&grant, &ex.entries, now);
        let metas: GrantMetas =
            [(grant.id.to_string(), GrantMeta { recorded_at, voided_at: None })].into_iter().collect();
        let body = GrantCreated {
            grant: map::grant_balance(&gb, &metas, &ct.unit_price),
            entries: ex.entries.iter().map(map::entry).collect(),
        };
        idempotency::json(StatusCode::CREATED, &body)
    };
    super::approvals::act(&state, key, act, executed, None)
        .await
        .map_err(|e| e.rename_field("rollover.expires_after", "rollover.expires_after_days"))
}

/// The void entry of `grant` (a grant is voided at most once).
async fn void_entry(
    state: &AppState,
    customer: &CustomerId,
    ct: &CreditTypeId,
    grant: &GrantId,
) -> ApiResult<Option<Entry>> {
    let filter = LedgerFilter { credit_type: Some(ct.clone()), kind: Some(EntryKind::Void), ..LedgerFilter::default() };
    let mut cursor = None;
    for _ in 0..10 {
        let page = state.store.ledger(customer.clone(), filter.clone(), cursor, 500).await?;
        if let Some(e) = page.items.iter().find(|e| e.grant.as_ref() == Some(grant)) {
            return Ok(Some(e.clone()));
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    Ok(None)
}

/// Voids a grant's remainder now (finance or admin). Earlier burns stand;
/// the grant is never eligible again. A grant not yet effective is voided
/// as of its `effective_at`.
#[utoipa::path(post, path = "/v1/grants/{id}/void", tag = "grants", request_body = VoidGrantRequest,
    params(("id" = String, Path, description = "Grant id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes the POST repeatable")),
    responses((status = 200, body = GrantVoided), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn void(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    IdempotencyKey(key): IdempotencyKey,
    Json(req): Json<VoidGrantRequest>,
) -> ApiResult<Recorded> {
    caller.require(Action::Void)?;
    let key = idempotency::key(&caller, key, routes::GRANT_VOID, &[&id], &req)?;
    let gid = GrantId::new(&id).map_err(|e| ApiError::from(e).rename_field("grant_id", "id"))?;
    let (grant, _) = state.store.find_grant(gid.clone()).await?.ok_or_else(|| ApiError::not_found("grant", &id))?;
    let (customer, ct_id) = (grant.customer, grant.credit_type);
    let ct = state.store.catalog().credit_type(&ct_id)?.clone();
    let now = state.store.now();
    let before = state.store.balance(customer.clone(), ct_id.clone(), Some(now), Some(now)).await?;
    let gb =
        before.grants.iter().find(|g| g.grant.id == gid).cloned().ok_or_else(|| ApiError::not_found("grant", &id))?;
    let metas = map::grant_metas(state.store.grant_metas(customer.clone()).await?);
    let price = ct.unit_price;
    let render: Render<Credits> = Arc::new(move |voided: &Credits| {
        let mut after = gb.clone();
        after.totals.voided += *voided;
        after.remaining = after.totals.remaining();
        if after.status != GrantStatus::Pending {
            after.status = GrantStatus::Voided;
        }
        let body = GrantVoided {
            grant: map::grant_balance(&after, &metas, &price),
            voided: voided.get(),
            voided_value: map::value(*voided, &price),
            // Filled in from the ledger below, on the first answer and on replays alike.
            entries: Vec::new(),
        };
        idempotency::json(StatusCode::OK, &body)
    });
    let by = Attribution {
        actor: ActorId::new(caller.actor())?,
        reason_code: Some(ReasonCode::new(&req.reason_code)?),
        ticket_ref: req.ticket_ref.as_deref().map(|t| Arc::from(t.trim())),
        note: req.note.as_deref().map(Arc::from),
    };
    let store = state.store.clone();
    let void_id = gid.clone();
    let (mut recorded, _) =
        idempotency::run(key, render, |idem| async move { store.void_idempotent(void_id, by, idem).await }).await?;
    // The void entry is immutable once written, so adding it here gives the
    // same answer every time the response is replayed.
    if let Ok(mut body) = decode_json::<GrantVoided>(recorded.body.as_bytes()) {
        if body.entries.is_empty() {
            if let Some(e) = void_entry(&state, &customer, &ct_id, &gid).await? {
                body.grant.grant.voided_at = Some(e.booked_at);
                body.entries.push(map::entry(&e));
            }
            recorded.body = serde_json::to_string(&body).map_err(ApiError::internal)?;
        }
    }
    Ok(recorded)
}
