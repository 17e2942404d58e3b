//! Usage: `POST /v1/events` (batch ingest with a result per event),
//! `GET /v1/events/rejected` (the dead-letter view) and `POST /v1/authorize`.
//!
//! A batch whose JSON does not match [`IngestRequest`] (bad syntax, unknown
//! field, a number for `quantity`, more than 1,000 events) is refused whole
//! with `validation_failed`: nothing is stored and the field errors say
//! where. A well-formed batch gets one [`EventResult`] per event, in request
//! order; events that break a rule (negative quantity, unknown product, too
//! old, ...) are `rejected` individually and kept in the rejected store, so
//! nothing is silently dropped and the rest of the batch still books.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use crate::common::WriteMode;
use crate::page::{impl_paged, Paged};
use crate::problem::{FieldError, ProblemCode};
use crate::validate::{Errors, Validate};

/// Most events in one ingest batch.
pub const MAX_BATCH: usize = 1_000;
/// Largest `properties` object, serialised (bytes), as in the ledger.
pub const MAX_PROPERTIES_BYTES: usize = 4_096;

/// `POST /v1/events`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IngestRequest {
    /// 1..=1000 events.
    pub events: Vec<EventIn>,
    /// `live` (default) or `backfill` (admin imports: the late window is lifted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<WriteMode>,
    /// What each accepted event's result says: `full` (default) or `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_detail: Option<ResultDetail>,
}

/// How much an accepted event's result says. Duplicates and rejections
/// always carry their original time or reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResultDetail {
    /// The rating, the allocation across grants and the entries written:
    /// what support needs to explain a charge.
    #[default]
    Full,
    /// The id and status alone: for metering pipelines that stream events
    /// and only need to know each one is booked. Cheaper to answer
    /// (docs/server.md, "Answers with status alone"); the detail stays in
    /// the ledger.
    Status,
}

impl Validate for IngestRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut e = Errors::new();
        if self.events.is_empty() {
            e.push("events", "must contain at least one event");
        } else if self.events.len() > MAX_BATCH {
            e.push("events", format!("must contain at most {MAX_BATCH} events"));
        }
        for (i, ev) in self.events.iter().enumerate().take(MAX_BATCH) {
            e.nested(&format!("events[{i}]"), ev.validate());
        }
        e.into_vec()
    }
}

/// One usage event. `id` is the client's idempotency key: sending the same
/// event again is harmless (`duplicate`); the same id with a different body
/// is `rejected` with `idempotency_conflict`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventIn {
    pub id: String,
    pub customer_id: String,
    pub product_id: String,
    /// Units of the product used, >= 0, at most 12 decimal places.
    #[serde(with = "crate::decimal")]
    #[schema(example = "3.5")]
    pub quantity: Decimal,
    /// When the usage happened.
    pub timestamp: DateTime<Utc>,
    /// Small JSON object (<= 4096 bytes serialised), kept as evidence.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub properties: Map<String, Value>,
}

impl Validate for EventIn {
    /// Shape only. Quantity sign and scale, unknown products and timing are
    /// per-event rejections decided by the ledger, not batch errors.
    fn validate(&self) -> Vec<FieldError> {
        let mut e = Errors::new();
        e.id("id", &self.id);
        e.id("customer_id", &self.customer_id);
        e.id("product_id", &self.product_id);
        e.into_vec()
    }
}

/// Answer to an ingest: one result per event in request order, and counts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IngestResponse {
    pub results: Vec<EventResult>,
    pub accepted: u32,
    pub duplicates: u32,
    pub rejected: u32,
}

impl IngestResponse {
    /// Builds the response, counting the results.
    pub fn new(results: Vec<EventResult>) -> IngestResponse {
        let count =
            |s: EventStatus| u32::try_from(results.iter().filter(|r| r.status() == s).count()).unwrap_or(u32::MAX);
        IngestResponse {
            accepted: count(EventStatus::Accepted),
            duplicates: count(EventStatus::Duplicate),
            rejected: count(EventStatus::Rejected),
            results,
        }
    }
}

/// The status of one event's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    Accepted,
    Duplicate,
    Rejected,
}

/// What happened to one event, tagged by `status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum EventResult {
    /// Rated and burned; the ledger entries are written.
    Accepted {
        id: String,
        /// How it was rated and burned; absent when the request asked for
        /// `result_detail: status`.
        #[serde(flatten)]
        #[schema(schema_with = accepted_detail_if_asked)]
        detail: Option<AcceptedDetail>,
    },
    /// Seen before with the same body; nothing written.
    Duplicate {
        id: String,
        /// When the original was received.
        original_received_at: DateTime<Utc>,
    },
    /// Not booked; kept in the rejected store with this reason.
    Rejected { id: String, reason: EventRejection },
}

/// How an accepted event was rated and burned (`result_detail: full`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AcceptedDetail {
    pub credit_type_id: String,
    pub rating: Rating,
    pub allocation: Allocation,
    /// Sequence numbers of the entries written (burns, overage, corrections).
    pub entry_seqs: Vec<u64>,
}

/// [`AcceptedDetail`]'s fields, each optional: they are all there or all
/// absent, which OpenAPI cannot say of flattened fields.
fn accepted_detail_if_asked() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::Schema;
    use utoipa::openapi::RefOr;
    let mut schema = <AcceptedDetail as utoipa::PartialSchema>::schema();
    if let RefOr::T(Schema::Object(object)) = &mut schema {
        object.required.clear();
    }
    schema
}

impl EventResult {
    pub fn id(&self) -> &str {
        match self {
            EventResult::Accepted { id, .. } | EventResult::Duplicate { id, .. } | EventResult::Rejected { id, .. } => {
                id
            }
        }
    }

    pub fn status(&self) -> EventStatus {
        match self {
            EventResult::Accepted { .. } => EventStatus::Accepted,
            EventResult::Duplicate { .. } => EventStatus::Duplicate,
            EventResult::Rejected { .. } => EventStatus::Rejected,
        }
    }
}

/// How an event was rated: the evidence support needs in a dispute.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Rating {
    /// `quantity x credits_per_unit`, rounded half-even to 6 places.
    #[serde(with = "crate::decimal")]
    pub credits: Decimal,
    #[serde(with = "crate::decimal")]
    pub credits_per_unit: Decimal,
    /// `effective_from` of the rate-card version used.
    pub rate_version: DateTime<Utc>,
    /// Whether the customer's own rate card was used.
    pub from_override: bool,
}

/// How one event's credits were covered.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Allocation {
    /// One line per grant drawn, in burn order.
    pub burns: Vec<BurnLine>,
    /// What no grant covered.
    #[serde(with = "crate::decimal")]
    pub overage: Decimal,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BurnLine {
    pub grant_id: String,
    #[serde(with = "crate::decimal")]
    pub amount: Decimal,
}

/// Why an event was not booked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventRejection {
    /// `event_too_old`, `event_in_future`, `idempotency_conflict`,
    /// `validation_failed` (a field broke a rule: unknown product, negative
    /// quantity, no rate in force, ...).
    #[schema(value_type = String, example = "event_too_old")]
    pub code: ProblemCode,
    /// For humans.
    pub detail: String,
    /// For `validation_failed`: the event's field at fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For `event_too_old`: the oldest timestamp accepted at receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_accepted: Option<DateTime<Utc>>,
    /// For `event_in_future`: the latest timestamp accepted at receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_accepted: Option<DateTime<Utc>>,
    /// For `idempotency_conflict`: when the original was received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_received_at: Option<DateTime<Utc>>,
}

/// `GET /v1/events/rejected`. Order: most recently received first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RejectedEventsQuery {
    /// Customer id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// Product id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// Rejection code, e.g. `event_too_old`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Received at or after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    /// Received strictly before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}
impl_paged!(RejectedEventsQuery);

impl Validate for RejectedEventsQuery {
    fn validate(&self) -> Vec<FieldError> {
        let mut e = Errors::new();
        e.opt_id("customer", self.customer.as_deref());
        e.opt_id("product", self.product.as_deref());
        e.opt_id("code", self.code.as_deref());
        e.window(self.from, self.to);
        e.extend(self.paging_errors());
        e.into_vec()
    }
}

/// A rejected event as stored: what the client sent, when, and why it was refused.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RejectedEvent {
    /// The rejection's own id (an event id may be rejected more than once).
    pub rejection_id: String,
    pub event: EventIn,
    pub received_at: DateTime<Utc>,
    pub reason: EventRejection,
}

/// `POST /v1/authorize`: can the customer afford `quantity` of the product
/// now? Read-only: nothing is reserved, so the answer may be stale a moment later.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeRequest {
    pub customer_id: String,
    pub product_id: String,
    #[serde(with = "crate::decimal")]
    pub quantity: Decimal,
}

impl Validate for AuthorizeRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut e = Errors::new();
        e.id("customer_id", &self.customer_id);
        e.id("product_id", &self.product_id);
        if self.quantity < Decimal::ZERO {
            e.push("quantity", "must not be negative");
        }
        e.into_vec()
    }
}

/// The answer: `allowed` iff `available >= required`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuthorizeResponse {
    pub allowed: bool,
    pub customer_id: String,
    pub product_id: String,
    pub credit_type_id: String,
    /// Credits the quantity rates at now.
    #[serde(with = "crate::decimal")]
    pub required: Decimal,
    /// Credits available to this product now.
    #[serde(with = "crate::decimal")]
    pub available: Decimal,
    /// `max(0, required - available)`.
    #[serde(with = "crate::decimal")]
    pub shortfall: Decimal,
    pub at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn event(i: usize) -> serde_json::Value {
        json!({
            "id": format!("e{i}"),
            "customer_id": "c1",
            "product_id": "transcribe",
            "quantity": "12.75",
            "timestamp": "2026-03-10T12:00:00Z",
            "properties": {"model": "large", "seconds": 765}
        })
    }

    #[test]
    fn ingest_request_round_trips() {
        let body = json!({ "events": [event(1), event(2)] });
        let req: IngestRequest = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(req.events[0].quantity, Decimal::new(1275, 2));
        assert_eq!(req.events[0].properties["seconds"], 765);
        assert!(req.validate().is_empty());
        assert_eq!(serde_json::to_value(&req).unwrap(), body);
    }

    #[test]
    fn properties_default_to_empty() {
        let mut e = event(1);
        e.as_object_mut().unwrap().remove("properties");
        let ev: EventIn = serde_json::from_value(e).unwrap();
        assert!(ev.properties.is_empty());
    }

    #[test]
    fn ingest_request_refuses_numbers_and_unknown_fields() {
        let mut e = event(1);
        e["quantity"] = json!(12.75);
        let err = serde_json::from_value::<IngestRequest>(json!({ "events": [e] })).unwrap_err().to_string();
        assert!(err.contains("JSON numbers are refused"), "{err}");
        let mut e = event(1);
        e["customer"] = json!("c1");
        let err = serde_json::from_value::<IngestRequest>(json!({ "events": [e] })).unwrap_err().to_string();
        assert!(err.contains("unknown field `customer`"), "{err}");
        let err = serde_json::from_value::<IngestRequest>(json!({ "events": [], "dry_run": true })).unwrap_err();
        assert!(err.to_string().contains("unknown field `dry_run`"));
    }

    #[test]
    fn batch_size_rules() {
        let empty = IngestRequest { events: vec![], mode: None, result_detail: None };
        assert_eq!(empty.validate(), [FieldError::new("events", "must contain at least one event")]);
        let one: EventIn = serde_json::from_value(event(0)).unwrap();
        let full = IngestRequest { events: vec![one.clone(); MAX_BATCH], mode: None, result_detail: None };
        assert!(full.validate().is_empty());
        let over = IngestRequest {
            events: vec![one.clone(); MAX_BATCH + 1],
            mode: Some(WriteMode::Backfill),
            result_detail: None,
        };
        assert_eq!(over.validate(), [FieldError::new("events", "must contain at most 1000 events")]);
        let mut bad = one;
        bad.customer_id = "a b".into();
        let errs = IngestRequest { events: vec![bad], mode: None, result_detail: None }.validate();
        assert_eq!(errs[0].field, "events[0].customer_id");
    }

    #[test]
    fn results_are_tagged_by_status() {
        let t = Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap();
        let results = vec![
            EventResult::Accepted {
                id: "e1".into(),
                detail: Some(AcceptedDetail {
                    credit_type_id: "batch".into(),
                    rating: Rating {
                        credits: Decimal::new(255, 1),
                        credits_per_unit: Decimal::from(2),
                        rate_version: t,
                        from_override: false,
                    },
                    allocation: Allocation {
                        burns: vec![BurnLine { grant_id: "g1".into(), amount: Decimal::new(205, 1) }],
                        overage: Decimal::from(5),
                    },
                    entry_seqs: vec![10, 11],
                }),
            },
            EventResult::Accepted { id: "e4".into(), detail: None },
            EventResult::Duplicate { id: "e2".into(), original_received_at: t },
            EventResult::Rejected {
                id: "e3".into(),
                reason: EventRejection {
                    code: ProblemCode::EventTooOld,
                    detail: "older than the 7-day late window".into(),
                    field: None,
                    oldest_accepted: Some(t),
                    latest_accepted: None,
                    original_received_at: None,
                },
            },
        ];
        let resp = IngestResponse::new(results);
        assert_eq!((resp.accepted, resp.duplicates, resp.rejected), (2, 1, 1));
        let v = serde_json::to_value(&resp).unwrap();
        assert_eq!(v["results"][0]["status"], "accepted");
        assert_eq!(v["results"][0]["credit_type_id"], "batch");
        assert_eq!(v["results"][0]["allocation"]["burns"][0]["amount"], "20.5");
        // `result_detail: status`: the id and the status alone.
        assert_eq!(v["results"][1], json!({"status": "accepted", "id": "e4"}));
        assert_eq!(
            v["results"][2],
            json!({"status": "duplicate", "id": "e2", "original_received_at": "2026-03-10T12:00:00Z"})
        );
        assert_eq!(v["results"][3]["reason"]["code"], "event_too_old");
        assert!(v["results"][3]["reason"].get("field").is_none());
        let back: IngestResponse = serde_json::from_value(v).unwrap();
        assert_eq!(back, resp);
        assert_eq!(back.results[3].id(), "e3");
    }

    #[test]
    fn authorize_request_is_strict() {
        let a: AuthorizeRequest =
            serde_json::from_str(r#"{"customer_id":"c1","product_id":"p1","quantity":"60"}"#).unwrap();
        assert!(a.validate().is_empty());
        assert!(serde_json::from_str::<AuthorizeRequest>(r#"{"customer_id":"c1","product_id":"p1","quantity":60}"#)
            .is_err());
    }
}
