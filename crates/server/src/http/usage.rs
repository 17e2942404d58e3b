//! Usage: `POST /v1/events`, `GET /v1/events/rejected`, `POST /v1/authorize`.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{FromRequest, Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json as AxumJson;
use chrono::{DateTime, Utc};
use creditdesk_api::events::{
    AuthorizeRequest, AuthorizeResponse, EventIn, IngestRequest, IngestResponse, RejectedEvent, RejectedEventsQuery,
    ResultDetail,
};
use creditdesk_api::{routes, Page, Paged, Problem, WriteMode};
use creditdesk_ledger::balance::GrantStatus;
use creditdesk_ledger::engine::{IngestMode, IngestResult};
use creditdesk_ledger::event::{RejectReason, UsageEvent, MAX_QUANTITY_SCALE};
use creditdesk_ledger::ids::{ActorId, CustomerId, EventId, ProductId};
use creditdesk_ledger::rating::rate;
use creditdesk_ledger::Credits;
use creditdesk_store::{RejectedRecord, Store, WriteTiming};
use rust_decimal::Decimal;
use serde_json::Value;

use super::admission;
use super::audit::{self, RequestId};
use super::bulk;
use super::error::{ApiError, ApiResult};
use super::extract::{IdempotencyKey, Json, Query};
use super::idempotency::{self, Render};
use super::map;
use super::policy::{Action, Caller};
use crate::state::AppState;

fn to_event(e: &EventIn) -> ApiResult<UsageEvent> {
    Ok(UsageEvent {
        id: EventId::new(&e.id).map_err(|err| ApiError::from(err).rename_field("event_id", "id"))?,
        customer: CustomerId::new(&e.customer_id)?,
        product: ProductId::new(&e.product_id)?,
        quantity: e.quantity,
        timestamp: e.timestamp,
        properties: e.properties.clone(),
    })
}

/// Ingests up to 1,000 usage events: one result per event, in request
/// order (accepted with rating and allocation, or with its status alone
/// under `result_detail: status`; duplicate; or rejected with its reason
/// and kept in the rejected store). A batch that is not
/// well-formed is refused whole and nothing is stored. `mode=backfill`
/// (admin) lifts the late window for imports.
#[utoipa::path(post, path = "/v1/events", tag = "usage", request_body = IngestRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the POST repeatable")),
    responses((status = 200, body = IngestResponse, headers(("Server-Timing" = String,
            description = "Where the request's time went, in milliseconds: admit, parse, queue (waiting for the writer), write (in the writer's group until its commit), reply, total"))),
        (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn ingest(
    State(state): State<AppState>,
    caller: Caller,
    RequestId(request_id): RequestId,
    IdempotencyKey(key): IdempotencyKey,
    request: Request,
) -> ApiResult<Response> {
    let arrived = Instant::now();
    // Let in by its size before its body is read (`admission`); the
    // permit is held until the answer is ready.
    let _admitted = state.ingest_admission.admit(admission::declared_length(&request)).await?;
    // Parsing is bulk work, and so is a full answer's rendering: that
    // batch is written and answered on the ingest thread. A status-only
    // answer is small, so it waits for the store and is rendered here,
    // without a second hop through the ingest thread (docs/server.md,
    // "Answers with status alone").
    let (handed, mut stages) = bulk::run(async move {
        let mut stages = Stages::new(arrived);
        let Json(req) = Json::<IngestRequest>::from_request(request, &state).await?;
        let batch = Batch::prepare(state, caller, request_id, key, req)?;
        let handed = match batch.detail {
            ResultDetail::Full => Handed::Answered(batch.write(&mut stages).await?),
            ResultDetail::Status => Handed::ToWrite(Box::new(batch)),
        };
        Ok((handed, stages))
    })
    .await?;
    let mut response = match handed {
        Handed::Answered(response) => response,
        Handed::ToWrite(batch) => batch.write(&mut stages).await?,
    };
    response.headers_mut().insert("server-timing", stages.header(arrived.elapsed()));
    Ok(response)
}

/// Where one ingest request's time went, for its `Server-Timing` header
/// (docs/server.md, "Where an ingest's time goes").
struct Stages {
    arrived: Instant,
    /// Admission, and the hop to the ingest thread.
    admit: Duration,
    /// From arrival until the batch was sent to the store (a status-only
    /// batch: by the HTTP worker, after the hand-back from the ingest thread).
    sent: Duration,
    /// From arrival until the answer was rendered, where it was sent from.
    answered: Duration,
    write: Option<Arc<WriteTiming>>,
}

impl Stages {
    /// On the ingest thread, for a request that arrived at `arrived`.
    fn new(arrived: Instant) -> Stages {
        Stages { arrived, admit: arrived.elapsed(), sent: Duration::ZERO, answered: Duration::ZERO, write: None }
    }

    /// `admit`, `parse` (reading and checking the body), `queue` (waiting
    /// for the writer), `write` (in the writer's group, until its commit),
    /// `reply` (from the commit until the answer was rendered) and `total`
    /// (until the answer is back on the HTTP worker), in milliseconds.
    fn header(&self, total: Duration) -> axum::http::HeaderValue {
        let mut stages = vec![("admit", self.admit), ("parse", self.sent.saturating_sub(self.admit))];
        let written = self.write.as_ref().and_then(|w| Some((w.queue()?, w.write()?)));
        if let Some((queue, write)) = written {
            let reply = self.answered.saturating_sub(self.sent + queue + write);
            stages.extend([("queue", queue), ("write", write), ("reply", reply)]);
        }
        stages.push(("total", total));
        let mut text = String::with_capacity(128);
        for (i, (name, d)) in stages.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            let _ = write!(text, "{sep}{name};dur={:.3}", d.as_secs_f64() * 1000.0);
        }
        // Names and digits only: always a valid header value.
        axum::http::HeaderValue::from_str(&text).unwrap_or(axum::http::HeaderValue::from_static(""))
    }
}

/// What the ingest thread hands back to the HTTP worker.
enum Handed {
    /// Written and answered in full.
    Answered(Response),
    /// Checked, to be written and answered with status alone.
    ToWrite(Box<Batch>),
}

/// A checked batch, ready for the store.
struct Batch {
    store: Store,
    key: Option<creditdesk_store::IdempotencyKey>,
    events: Vec<UsageEvent>,
    mode: IngestMode,
    actor: ActorId,
    row: creditdesk_store::workflow::AuditEntry,
    detail: ResultDetail,
    render: Render<Vec<IngestResult>>,
}

impl Batch {
    /// Checks the caller's rights and the events' shapes (nothing is
    /// written if any fails) and prepares the answer's rendering.
    fn prepare(
        state: AppState,
        caller: Caller,
        request_id: Option<String>,
        key: Option<String>,
        req: IngestRequest,
    ) -> ApiResult<Batch> {
        caller.require(Action::Ingest)?;
        let mode = match req.mode.unwrap_or(WriteMode::Live) {
            WriteMode::Live => IngestMode::Live,
            WriteMode::Backfill => {
                caller.require(Action::Backfill)?;
                IngestMode::Backfill
            }
        };
        let key = idempotency::key(&caller, key, routes::EVENTS, &[], &req)?;
        let mut events = Vec::with_capacity(req.events.len());
        for (i, e) in req.events.iter().enumerate() {
            events.push(to_event(e).map_err(|err| err.nest(&format!("events[{i}]")))?);
        }
        let ids: Vec<String> = req.events.iter().map(|e| e.id.clone()).collect();
        let detail = req.result_detail.unwrap_or_default();
        // Each accepted event's credit type, for full results only.
        let products: Vec<ProductId> = match detail {
            ResultDetail::Full => events.iter().map(|e| e.product.clone()).collect(),
            ResultDetail::Status => Vec::new(),
        };
        let catalog = state.store.catalog();
        let render: Render<Vec<IngestResult>> = Arc::new(move |results: &Vec<IngestResult>| {
            let out = ids
                .iter()
                .zip(results)
                .enumerate()
                .map(|(i, (id, r))| {
                    let ct = products.get(i).and_then(|p| catalog.product(p).ok()).map(|p| p.credit_type.to_string());
                    map::ingest_result(id, ct.as_deref(), r, detail)
                })
                .collect();
            idempotency::json(StatusCode::OK, &IngestResponse::new(out))
        });
        let actor = ActorId::new(caller.actor())?;
        // The call's audit row commits with the batch (replays included).
        let row = audit::call_row(
            &state,
            &caller,
            &Method::POST,
            routes::EVENTS,
            routes::EVENTS.to_owned(),
            request_id,
            "ok",
        );
        Ok(Batch { store: state.store.clone(), key, events, mode, actor, row, detail, render })
    }

    /// Sends the batch to the store, waits for its group's commit and
    /// renders the answer (or replays the one recorded under its key).
    async fn write(self, stages: &mut Stages) -> ApiResult<Response> {
        let Batch { store, key, events, mode, actor, row, render, .. } = self;
        // `sent` before the store's clock starts: the other way round, a
        // pause between the two (the thread preempted) counted in both
        // `parse` and `queue`, and the stages added up to more than the
        // total.
        stages.sent = stages.arrived.elapsed();
        let timing = WriteTiming::start();
        stages.write = Some(timing.clone());
        let (recorded, results) = idempotency::run(key, render, |idem| async move {
            store.ingest_audited(events, mode, actor, idem, Some(row), Some(timing)).await
        })
        .await?;
        stages.answered = stages.arrived.elapsed();
        if let Some(results) = results {
            count_results(&results);
        }
        Ok(audit::audited(recorded.into_response()))
    }
}

/// The ingest counters of `/metrics`.
fn count_results(results: &[IngestResult]) {
    let mut counts = [0u64; 3];
    for r in results {
        counts[match r {
            IngestResult::Accepted { .. } => 0,
            IngestResult::Duplicate { .. } => 1,
            IngestResult::Rejected { .. } => 2,
        }] += 1;
    }
    for (status, n) in ["accepted", "duplicate", "rejected"].into_iter().zip(counts) {
        if n > 0 {
            metrics::counter!("creditdesk_ingest_events_total", "status" => status).increment(n);
        }
    }
    metrics::counter!("creditdesk_ingest_batches_total").increment(1);
}

/// Rebuilds the stored reason (the store keeps it as JSON tagged by `code`).
fn stored_reason(r: &RejectedRecord) -> RejectReason {
    let v: Value = serde_json::from_str(&r.detail).unwrap_or(Value::Null);
    let time = |k: &str| v.get(k).and_then(Value::as_str).and_then(|s| s.parse::<DateTime<Utc>>().ok());
    let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    match (r.code.as_str(), time("oldest_accepted"), time("latest_accepted"), time("original_received_at")) {
        ("event_too_old", Some(t), _, _) => RejectReason::EventTooOld { oldest_accepted: t },
        ("event_in_future", _, Some(t), _) => RejectReason::EventInFuture { latest_accepted: t },
        ("idempotency_conflict", _, _, Some(t)) => RejectReason::IdempotencyConflict { original_received_at: t },
        _ => {
            let field = text("field");
            let rule = if text("rule").is_empty() { r.detail.clone() } else { text("rule") };
            RejectReason::Invalid { field: if field.is_empty() { "event".into() } else { field }, rule }
        }
    }
}

/// The event as the client sent it (the store keeps the body as JSON).
fn stored_event(r: &RejectedRecord) -> EventIn {
    let b = &r.body;
    let text = |k: &str| b.get(k).and_then(Value::as_str).map(str::to_owned);
    EventIn {
        id: r.event_id.clone().or_else(|| text("id")).unwrap_or_default(),
        customer_id: r.customer_id.clone().or_else(|| text("customer_id")).unwrap_or_default(),
        product_id: r.product_id.clone().or_else(|| text("product_id")).unwrap_or_default(),
        quantity: text("quantity").and_then(|q| q.parse::<Decimal>().ok()).unwrap_or_default(),
        timestamp: text("timestamp").and_then(|t| t.parse().ok()).unwrap_or(r.received_at),
        properties: b.get("properties").and_then(Value::as_object).cloned().unwrap_or_default(),
    }
}

fn rejected_event(r: &RejectedRecord) -> RejectedEvent {
    RejectedEvent {
        rejection_id: r.rid.to_string(),
        event: stored_event(r),
        received_at: r.received_at,
        reason: map::rejection(&stored_reason(r)),
    }
}

/// Rejected records scanned at most per request when filtering in the server.
const REJECTED_SCAN_CAP: usize = 20_000;

/// The dead-letter view: rejected events, most recently received first.
#[utoipa::path(get, path = "/v1/events/rejected", tag = "usage", params(RejectedEventsQuery),
    responses((status = 200, body = Page<RejectedEvent>), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn rejected(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<RejectedEventsQuery>,
) -> ApiResult<AxumJson<Page<RejectedEvent>>> {
    caller.require(Action::Read)?;
    if let Some(c) = &q.cursor {
        if c.parse::<i64>().is_err() {
            return Err(ApiError::field("cursor", "is not a cursor this API issued"));
        }
    }
    let customer = q
        .customer
        .as_deref()
        .map(CustomerId::new)
        .transpose()
        .map_err(|_| ApiError::field("customer", "is not a valid id"))?;
    let limit = q.effective_limit() as usize;
    let keep = |r: &RejectedRecord| {
        q.product.as_deref().is_none_or(|p| r.product_id.as_deref() == Some(p))
            && q.code.as_deref().is_none_or(|c| r.code == c)
            && q.to.is_none_or(|to| r.received_at < to)
    };
    let mut cursor = q.cursor.clone();
    let mut items: Vec<RejectedRecord> = Vec::new();
    let mut scanned = 0usize;
    let next = 'scan: loop {
        let page = state.store.rejected(customer.clone(), cursor.clone(), 1_000).await?;
        let n = page.items.len();
        for (i, r) in page.items.into_iter().enumerate() {
            scanned += 1;
            if q.from.is_some_and(|from| r.received_at < from) {
                // Newest first: everything after this is older still.
                break 'scan None;
            }
            if keep(&r) {
                items.push(r);
                if items.len() == limit {
                    let more = i + 1 < n || page.next_cursor.is_some();
                    break 'scan if more { items.last().map(|r| r.rid.to_string()) } else { None };
                }
            }
        }
        match page.next_cursor {
            None => break None,
            Some(c) if scanned >= REJECTED_SCAN_CAP => break Some(c),
            Some(c) => cursor = Some(c),
        }
    };
    Ok(AxumJson(Page::new(items.iter().map(rejected_event).collect(), next)))
}

/// Can the customer afford `quantity` of the product now? Rates the quantity
/// at the rate in force now (the customer's override first) and compares
/// with what the grants that admit the product hold now. Reserves nothing.
#[utoipa::path(post, path = "/v1/authorize", tag = "usage", request_body = AuthorizeRequest,
    responses((status = 200, body = AuthorizeResponse), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn authorize(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<AuthorizeRequest>,
) -> ApiResult<AxumJson<AuthorizeResponse>> {
    caller.require(Action::Read)?;
    if req.quantity.normalize().scale() > MAX_QUANTITY_SCALE {
        return Err(ApiError::field("quantity", "must have at most 12 decimal places"));
    }
    let catalog = state.store.catalog();
    let product_id = ProductId::new(&req.product_id)?;
    let product = catalog.product(&product_id).map_err(|_| ApiError::field("product_id", "is not a known product"))?;
    let customer = CustomerId::new(&req.customer_id)?;
    state.store.customer(customer.clone()).await.map_err(|e| match e.as_ledger() {
        Some(creditdesk_ledger::LedgerError::NotFound { .. }) => {
            ApiError::field("customer_id", "is not a known customer")
        }
        _ => ApiError::from(e),
    })?;
    let now = state.store.now();
    let rating = rate(req.quantity, now, &product.rate_card, catalog.override_for(&customer, &product_id))?;
    let balance = state.store.balance(customer.clone(), product.credit_type.clone(), Some(now), Some(now)).await?;
    let available: Credits = balance
        .grants
        .iter()
        .filter(|g| g.status == GrantStatus::Active && g.grant.admits(&product_id))
        .map(|g| g.remaining.max(Credits::ZERO))
        .sum();
    let required = rating.credits;
    Ok(AxumJson(AuthorizeResponse {
        allowed: available >= required,
        customer_id: req.customer_id,
        product_id: req.product_id,
        credit_type_id: product.credit_type.to_string(),
        required: required.get(),
        available: available.get(),
        shortfall: (required - available).max(Credits::ZERO).get(),
        at: now,
    }))
}
