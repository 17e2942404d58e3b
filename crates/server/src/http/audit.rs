//! The audit log: the layer that records every mutating call and every
//! refusal, and `GET /v1/audit`.
//!
//! Money-moving actions, approvals, disputes, limit changes and accepted
//! usage batches write their audit row in the store, in the transaction of
//! their effect (and mark the response [`Audited`]). Everything else that
//! changes state or is refused (catalog and user administration, voids, a
//! viewer's POST, a validation error, a refused batch) is recorded here
//! once the handler has answered, with the problem's code as the rule.
//! Calls without a valid token have no actor and are not recorded (they
//! are logged with their request id).

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use creditdesk_api::audit::{AuditQuery, AuditRecord};
use creditdesk_api::{routes, Money, Page, Paged, Problem};
use creditdesk_store::workflow::{AuditEntry, AuditFilter, WorkflowOp};

use super::error::{ApiError, ApiResult, ProblemExt};
use super::extract::Query;
use super::policy::{Action, Caller};
use crate::state::AppState;

/// The request id `observe` assigned.
#[derive(Clone, Debug)]
pub struct ObservedId(pub String);

/// The request's id, for audit rows the store writes.
pub struct RequestId(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(RequestId(parts.extensions.get::<ObservedId>().map(|i| i.0.clone())))
    }
}

/// A response whose audit row the store wrote.
#[derive(Clone, Copy, Debug)]
pub struct Audited;

/// Marks a response as audited by the store.
pub fn audited(mut r: Response) -> Response {
    r.extensions_mut().insert(Audited);
    r
}

/// The `title` of a workflow refusal (one per code).
pub fn refusal_title(code: &str) -> &'static str {
    match code {
        "self_approval_forbidden" => "Approver must not be the requester",
        "approve_limit_exceeded" => "Above the approver's approve limit",
        "approval_not_pending" => "The request was already decided",
        "approval_expired" => "The request expired",
        "not_requester" => "Only the requester may cancel",
        "dispute_state_conflict" => "The dispute's state does not allow this",
        "insufficient_permission" => "Insufficient permission",
        _ => "Refused",
    }
}

/// Calls that change nothing (reads, and POSTs that only answer).
fn is_read(method: &Method, route: &str) -> bool {
    method == Method::GET || method == Method::HEAD || route == routes::AUTHORIZE || route == routes::GRANT_PREVIEW
}

/// Records mutating calls and refusals the handler did not record itself.
pub async fn record(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().map_or_else(String::new, |m| m.as_str().to_owned());
    let path = req.uri().path().to_owned();
    let caller = req.extensions().get::<Caller>().cloned();
    let request_id = req.extensions().get::<ObservedId>().map(|i| i.0.clone());
    let gate =
        caller.as_ref().map_or(Ok(()), |c| c.read_only_gate(!is_read(&method, &route), &format!("{method} {route}")));
    let response = match gate {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    };
    let status = response.status();
    let Some(caller) = caller else { return response };
    if response.extensions().get::<Audited>().is_some() || (is_read(&method, &route) && status.is_success()) {
        return response;
    }
    if is_read(&method, &route) && status != axum::http::StatusCode::FORBIDDEN {
        return response;
    }
    let problem = response.extensions().get::<ProblemExt>().map(|p| &p.problem);
    let outcome = if status.is_success() {
        "ok"
    } else if status.is_server_error() {
        "failed"
    } else {
        "refused"
    };
    let mut row = call_row(&state, &caller, &method, &route, path, request_id, outcome);
    row.rule = problem.map(|p| p.code.as_str().to_owned());
    row.detail = problem.map(|p| p.detail.clone());
    if let Err(e) = state.store.workflow(WorkflowOp::Audit(vec![row]), None).await {
        tracing::error!(error = %e, "audit row not written");
    }
    response
}

/// The audit row of a call this layer records: who called which route on
/// which path, and how it ended. Accepted usage batches hand theirs to the
/// store, which writes it in the batch's transaction (`usage::ingest`).
pub fn call_row(
    state: &AppState,
    caller: &Caller,
    method: &Method,
    route: &str,
    path: String,
    request_id: Option<String>,
    outcome: &str,
) -> AuditEntry {
    AuditEntry {
        id: 0,
        at: state.store.now(),
        actor: caller.user.id.clone(),
        role: caller.role.as_str().to_owned(),
        action: format!("{method} {route}"),
        target: Some(path),
        customer_id: None,
        value: None,
        outcome: outcome.to_owned(),
        rule: None,
        request_id,
        detail: None,
    }
}

fn money(text: &str) -> Option<Money> {
    let (amount, currency) = text.split_once(' ')?;
    Some(Money::new(amount.parse().ok()?, currency))
}

pub fn record_out(a: AuditEntry) -> AuditRecord {
    AuditRecord {
        id: a.id.to_string(),
        at: a.at,
        actor: a.actor,
        role: a.role,
        action: a.action,
        target: a.target,
        customer_id: a.customer_id,
        value: a.value.as_deref().and_then(money),
        outcome: a.outcome,
        rule: a.rule,
        request_id: a.request_id,
        detail: a.detail,
    }
}

/// The audit log, newest first (support_lead, finance, admin).
#[utoipa::path(get, path = "/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = Page<AuditRecord>), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<Page<AuditRecord>>> {
    caller.require(Action::Audit)?;
    let filter = AuditFilter {
        actor: q.actor.clone(),
        customer: q.customer.clone(),
        action: q.action.clone(),
        from: q.from,
        to: q.to,
    };
    let page = state.store.audit(filter, q.cursor.clone(), q.effective_limit()).await?;
    Ok(Json(Page::new(page.items.into_iter().map(record_out).collect(), page.next_cursor)))
}
