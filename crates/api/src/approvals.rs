//! Approval requests (`/v1/approvals...`): money-moving actions above their
//! requester's limits wait here for a second person. Approve, reject
//! (reason required), cancel (the requester), or they expire after 7 days.
//! A request executes exactly once (`docs/workflows.md`).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::common::{Money, Role};
use crate::grants::{CreateGrantRequest, LimitKind};
use crate::ledger::LedgerEntry;
use crate::page::{impl_paged, Paged};
use crate::problem::FieldError;
use crate::validate::{Errors, Validate, MAX_NOTE_LEN};

/// Where a request stands. `expired` also covers pending requests past
/// `expires_at` that no sweep has marked yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    Pending,
    /// Approved and executed.
    Approved,
    Rejected,
    Cancelled,
    Expired,
    /// Approved, but the ledger refused the action (e.g. the event was
    /// reversed meanwhile): nothing was booked.
    Failed,
}

impl ApprovalStatus {
    pub const ALL: [ApprovalStatus; 6] = [
        ApprovalStatus::Pending,
        ApprovalStatus::Approved,
        ApprovalStatus::Rejected,
        ApprovalStatus::Cancelled,
        ApprovalStatus::Expired,
        ApprovalStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Approved => "approved",
            ApprovalStatus::Rejected => "rejected",
            ApprovalStatus::Cancelled => "cancelled",
            ApprovalStatus::Expired => "expired",
            ApprovalStatus::Failed => "failed",
        }
    }
}

/// An approval request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Approval {
    pub id: String,
    /// `grant`, `goodwill_grant`, `reverse_usage`.
    pub action: String,
    pub customer_id: String,
    pub credit_type_id: String,
    /// Credits the action adds back or grants.
    #[serde(with = "crate::decimal")]
    pub credits: Decimal,
    /// Its value (credits x unit price).
    pub value: Money,
    /// The requester's limit it exceeded when filed, that limit (for
    /// `monthly`: what was left of the budget) and by how much.
    pub exceeded: LimitKind,
    pub limit: Money,
    pub exceeded_by: Money,
    /// Roles whose approve limit covers the value.
    pub approver_roles: Vec<Role>,
    pub reason_code: String,
    pub ticket_ref: String,
    pub note: String,
    #[serde(default)]
    pub dispute_id: Option<String>,
    pub requested_by: String,
    pub requested_role: Role,
    pub requested_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub status: ApprovalStatus,
    #[serde(default)]
    pub decided_by: Option<String>,
    #[serde(default)]
    pub decided_at: Option<DateTime<Utc>>,
    /// The rejection reason, the cancellation note, or why execution failed.
    #[serde(default)]
    pub decision_note: Option<String>,
    /// What executes on approval (the request as filed).
    pub request: serde_json::Value,
    /// What the execution booked: `{entries: [seq], reversed_events: [id]}`.
    #[serde(default)]
    pub result: Option<serde_json::Value>,
}

/// `GET /v1/approvals`. Order: newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ApprovalListQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ApprovalStatus>,
    /// Only the caller's own requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mine: Option<bool>,
    /// Customer id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// Dispute id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispute: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}
impl_paged!(ApprovalListQuery);

impl Validate for ApprovalListQuery {
    fn validate(&self) -> Vec<FieldError> {
        let mut e = Errors::new();
        e.opt_id("customer", self.customer.as_deref());
        e.opt_id("dispute", self.dispute.as_deref());
        e.extend(self.paging_errors());
        e.into_vec()
    }
}

/// `POST /v1/approvals/{id}/approve`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Validate for ApproveRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut e = Errors::new();
        e.opt_text("note", self.note.as_deref(), MAX_NOTE_LEN, true);
        e.into_vec()
    }
}

/// `POST /v1/approvals/{id}/reject`: the reason is required.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    pub reason: String,
}

impl Validate for RejectRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut e = Errors::new();
        e.text("reason", &self.reason, MAX_NOTE_LEN, true);
        e.into_vec()
    }
}

/// `POST /v1/approvals/{id}/cancel` (the requester).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Validate for CancelRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut e = Errors::new();
        e.opt_text("reason", self.reason.as_deref(), MAX_NOTE_LEN, true);
        e.into_vec()
    }
}

/// Answer to approve / reject / cancel: the request after the decision and,
/// when it executed, what it booked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApprovalDecided {
    pub approval: Approval,
    /// The entries of an executed grant (reversals: see `reversed_events`
    /// and the customer's ledger).
    pub entries: Vec<LedgerEntry>,
    pub reversed_events: Vec<String>,
    /// Credits given back by reversals.
    #[serde(with = "crate::decimal")]
    pub reversed: Decimal,
}

/// `POST /v1/grants/preview`: what `POST /v1/grants` with this body would
/// do now, without writing anything.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GrantPreview {
    /// The request as it would be validated.
    pub request: CreateGrantRequest,
    pub value: Money,
    /// `available` of the customer's credit type now, and after the grant
    /// (a grant effective later leaves it unchanged now).
    #[serde(with = "crate::decimal")]
    pub available_before: Decimal,
    #[serde(with = "crate::decimal")]
    pub available_after: Decimal,
    /// True: it would execute at once (201). False: it would become an
    /// approval request (202) for the reason below.
    pub executes_now: bool,
    #[serde(default)]
    pub exceeded: Option<LimitKind>,
    #[serde(default)]
    pub limit: Option<Money>,
    #[serde(default)]
    pub exceeded_by: Option<Money>,
    /// Roles that could approve it (empty when it executes now).
    pub approver_roles: Vec<Role>,
    /// The caller's budget left this month before the action; `null` = unlimited.
    #[serde(default)]
    pub remaining_monthly_budget: Option<Money>,
}
