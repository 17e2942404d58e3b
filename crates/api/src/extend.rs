//! `POST /v1/grants/{id}/extend`: moves a live grant's remainder to a later
//! expiry. Grants and entries are append-only, so an extension voids the
//! remainder and books it again as a new grant with the new expiry, in one
//! transaction (`docs/workflows.md`). It is a money-moving action (worth the
//! remainder at the unit price): within the caller's limits it executes
//! (201), else it becomes an approval request (202, `ApprovalPending`).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::common::Money;
use crate::ledger::LedgerEntry;
use crate::problem::FieldError;
use crate::validate::{Errors, Validate, MAX_NOTE_LEN, MAX_TICKET_REF_LEN};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendExpiryRequest {
    /// The new expiry: later than the grant's current one.
    pub expires_at: DateTime<Utc>,
    pub reason_code: String,
    pub ticket_ref: String,
    pub note: String,
}

impl Validate for ExtendExpiryRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut e = Errors::new();
        e.id("reason_code", &self.reason_code);
        e.text("ticket_ref", &self.ticket_ref, MAX_TICKET_REF_LEN, false);
        e.text("note", &self.note, MAX_NOTE_LEN, true);
        e.into_vec()
    }
}

/// `201` answer: the old grant's remainder was voided and granted again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ExpiryExtended {
    pub grant_id: String,
    /// The grant holding the credits now.
    pub new_grant_id: String,
    /// Credits moved (the remainder at execution).
    #[serde(with = "crate::decimal")]
    pub credits: Decimal,
    pub value: Money,
    pub expires_at: DateTime<Utc>,
    /// The void entry on the old grant and the new grant's entries.
    pub entries: Vec<LedgerEntry>,
}
