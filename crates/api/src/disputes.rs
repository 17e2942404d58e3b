//! Disputes (`/v1/disputes...`): a customer contests usage. `open` ->
//! `investigating` (assigned or commented) -> `awaiting_approval` (a
//! credit-adding resolution above the resolver's limits) -> `resolved`, or
//! `rejected` (resolved with `no_action`). See `docs/workflows.md`.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::grants::ApprovalPending;
use crate::ledger::LedgerEntry;
use crate::page::{impl_paged, Paged};
use crate::problem::FieldError;
use crate::validate::{Errors, Validate, MAX_NOTE_LEN, MAX_TICKET_REF_LEN};

/// Most events one dispute names.
pub const MAX_DISPUTED_EVENTS: usize = 100;
/// Default time to resolve a dispute, from opening.
pub const DEFAULT_SLA_HOURS: u32 = 72;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DisputeStatus {
    Open,
    Investigating,
    AwaitingApproval,
    Resolved,
    Rejected,
}

impl DisputeStatus {
    pub const ALL: [DisputeStatus; 5] = [
        DisputeStatus::Open,
        DisputeStatus::Investigating,
        DisputeStatus::AwaitingApproval,
        DisputeStatus::Resolved,
        DisputeStatus::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DisputeStatus::Open => "open",
            DisputeStatus::Investigating => "investigating",
            DisputeStatus::AwaitingApproval => "awaiting_approval",
            DisputeStatus::Resolved => "resolved",
            DisputeStatus::Rejected => "rejected",
        }
    }
}

/// How a dispute is resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DisputeOutcome {
    /// Reverse the disputed events (ledger.md's reversal rules).
    ReverseUsage,
    /// Grant credits (source `goodwill`) instead.
    GoodwillGrant,
    /// Nothing is booked; the dispute is closed as `rejected`.
    NoAction,
}

/// `POST /v1/disputes`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenDisputeRequest {
    /// Generated when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub customer_id: String,
    /// Usage event ids (all of the customer, one credit type); a burn entry
    /// is named by its event.
    pub events: Vec<String>,
    pub ticket_ref: String,
    pub description: String,
    /// Credits the customer claims back.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::decimal::option")]
    #[schema(value_type = Option<String>)]
    pub claimed_amount: Option<Decimal>,
    /// User id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// Hours to resolve (default 72).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla_hours: Option<u32>,
}

impl Validate for OpenDisputeRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut e = Errors::new();
        e.opt_id("id", self.id.as_deref());
        e.id("customer_id", &self.customer_id);
        if self.events.is_empty() || self.events.len() > MAX_DISPUTED_EVENTS {
            e.push("events", format!("must name 1 to {MAX_DISPUTED_EVENTS} events"));
        }
        for (i, id) in self.events.iter().enumerate() {
            e.id(&format!("events[{i}]"), id);
            if self.events[..i].contains(id) {
                e.push(format!("events[{i}]"), "is listed twice");
            }
        }
        e.text("ticket_ref", &self.ticket_ref, MAX_TICKET_REF_LEN, false);
        e.text("description", &self.description, MAX_NOTE_LEN, true);
        if self.claimed_amount.is_some_and(|c| c <= Decimal::ZERO || c.scale() > 6) {
            e.push("claimed_amount", "must be greater than 0 with at most 6 decimal places");
        }
        e.opt_id("assignee", self.assignee.as_deref());
        e.range_u32("sla_hours", self.sla_hours, 1..=24 * 365);
        e.into_vec()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Dispute {
    pub id: String,
    pub customer_id: String,
    pub credit_type_id: String,
    pub events: Vec<String>,
    pub ticket_ref: String,
    pub description: String,
    #[serde(default, with = "crate::decimal::option")]
    #[schema(value_type = Option<String>)]
    pub claimed_amount: Option<Decimal>,
    pub status: DisputeStatus,
    #[serde(default)]
    pub assignee: Option<String>,
    pub opened_by: String,
    pub opened_at: DateTime<Utc>,
    pub sla_due_at: DateTime<Utc>,
    /// Open or investigating past `sla_due_at`.
    pub overdue: bool,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub resolution: Option<DisputeOutcome>,
    #[serde(default)]
    pub resolution_reason: Option<String>,
    #[serde(default)]
    pub resolved_by: Option<String>,
    #[serde(default)]
    pub resolved_at: Option<DateTime<Utc>>,
    /// The approval request of a resolution above the resolver's limits.
    #[serde(default)]
    pub approval_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DisputeComment {
    pub id: String,
    pub at: DateTime<Utc>,
    pub author: String,
    pub body: String,
}

/// `GET /v1/disputes/{id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DisputeDetail {
    pub dispute: Dispute,
    pub comments: Vec<DisputeComment>,
}

/// `GET /v1/disputes`. Order: newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DisputeListQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<DisputeStatus>,
    /// User id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// `true`: only open or investigating disputes past their SLA; `false`: the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overdue: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}
impl_paged!(DisputeListQuery);

impl Validate for DisputeListQuery {
    fn validate(&self) -> Vec<FieldError> {
        let mut e = Errors::new();
        e.opt_id("assignee", self.assignee.as_deref());
        e.opt_id("customer", self.customer.as_deref());
        e.extend(self.paging_errors());
        e.into_vec()
    }
}

/// `POST /v1/disputes/{id}/assign`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignDisputeRequest {
    /// User id.
    pub assignee: String,
}

impl Validate for AssignDisputeRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut e = Errors::new();
        e.id("assignee", &self.assignee);
        e.into_vec()
    }
}

/// `POST /v1/disputes/{id}/comments`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentRequest {
    pub body: String,
}

impl Validate for CommentRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut e = Errors::new();
        e.text("body", &self.body, MAX_NOTE_LEN, true);
        e.into_vec()
    }
}

/// `POST /v1/disputes/{id}/resolve`. `reason` is required for every
/// outcome; `reason_code` for the credit-adding ones; `goodwill_amount`
/// (credits) for `goodwill_grant`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveDisputeRequest {
    pub outcome: DisputeOutcome,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::decimal::option")]
    #[schema(value_type = Option<String>)]
    pub goodwill_amount: Option<Decimal>,
    /// Expiry of the goodwill grant (default: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goodwill_expires_at: Option<DateTime<Utc>>,
}

impl Validate for ResolveDisputeRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut e = Errors::new();
        e.text("reason", &self.reason, MAX_NOTE_LEN, true);
        if self.outcome != DisputeOutcome::NoAction {
            match &self.reason_code {
                Some(c) => e.id("reason_code", c),
                None => e.push("reason_code", "is required for a credit-adding outcome"),
            }
        }
        match (self.outcome, self.goodwill_amount) {
            (DisputeOutcome::GoodwillGrant, None) => e.push("goodwill_amount", "is required for goodwill_grant"),
            (DisputeOutcome::GoodwillGrant, Some(a)) if a <= Decimal::ZERO || a.scale() > 6 => {
                e.push("goodwill_amount", "must be greater than 0 with at most 6 decimal places")
            }
            (DisputeOutcome::GoodwillGrant, _) => {}
            (_, Some(_)) => e.push("goodwill_amount", "is only for goodwill_grant"),
            _ => {}
        }
        e.into_vec()
    }
}

/// Answer to a resolution: `201` executed (with what it booked), `202`
/// awaiting approval (`approval` says why and from whom), `200` no_action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DisputeResolved {
    pub dispute: Dispute,
    #[serde(default)]
    pub approval: Option<ApprovalPending>,
    /// Grant entries of a goodwill grant executed now.
    pub entries: Vec<LedgerEntry>,
    pub reversed_events: Vec<String>,
}

/// Evidence for one disputed event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EventEvidence {
    pub event_id: String,
    pub product_id: String,
    #[serde(with = "crate::decimal")]
    pub quantity: Decimal,
    pub timestamp: DateTime<Utc>,
    pub properties: serde_json::Value,
    pub received_at: DateTime<Utc>,
    /// Rated credits, the rate and the rate-card version (`effective_from`) used.
    #[serde(with = "crate::decimal")]
    pub credits: Decimal,
    #[serde(with = "crate::decimal")]
    pub credits_per_unit: Decimal,
    pub rate_version: DateTime<Utc>,
    /// Whether the customer's own rate card was used.
    pub from_override: bool,
    /// Its burns (grant, amount, booked and recorded times) and overage.
    pub usage: Vec<LedgerEntry>,
    /// Earlier reversals and refund grants of it; empty if never reversed.
    pub reversals: Vec<LedgerEntry>,
    pub reversed: bool,
}

/// `GET /v1/disputes/{id}/evidence`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DisputeEvidence {
    pub dispute_id: String,
    pub events: Vec<EventEvidence>,
    /// Credits the disputed usage booked (burns + overage), and their value.
    #[serde(with = "crate::decimal")]
    pub total_credits: Decimal,
    pub total_value: crate::common::Money,
}
