//! Grants: the wire view of a grant and its running totals
//! (`GET /v1/customers/{id}/grants`), creating one (`POST /v1/grants`) and
//! voiding one (`POST /v1/grants/{id}/void`).
//!
//! Creating a grant answers `201` with [`GrantCreated`] when it executed, or
//! `202` with [`ApprovalPending`] when it exceeds the caller's limits and
//! became an approval request (the workflow endpoints of the approvals issue
//! act on it by `approval_id`).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::common::{GrantCategory, GrantSource, GrantStatus, Money, Role, WriteMode};
use crate::ledger::LedgerEntry;
use crate::page::{impl_paged, Paged};
use crate::problem::FieldError;
use crate::validate::{Errors, Validate, MAX_NOTE_LEN, MAX_TICKET_REF_LEN};

/// Lowest and highest grant priority (lower burns first); default 50.
pub const PRIORITY_RANGE: std::ops::RangeInclusive<u32> = 1..=100;
/// Longest rollover lifetime accepted, in days (ten years).
pub const MAX_ROLLOVER_DAYS: u32 = 3_660;

/// What part of a grant's remainder survives its expiry as a new grant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolloverPolicy {
    /// Share of the remainder carried over, `"0"`..=`"1"`.
    #[serde(with = "crate::decimal")]
    #[schema(example = "0.5")]
    pub fraction: Decimal,
    /// Cap on the carried credits; `null` = no cap.
    #[serde(default, with = "crate::decimal::option")]
    pub max_amount: Option<Decimal>,
    /// Lifetime of the rollover grant, counted from the old grant's expiry.
    pub expires_after_days: u32,
}

impl Validate for RolloverPolicy {
    fn validate(&self) -> Vec<FieldError> {
        let mut e = Errors::new();
        if self.fraction < Decimal::ZERO || self.fraction > Decimal::ONE {
            e.push("fraction", "must be between 0 and 1");
        }
        e.range_u32("expires_after_days", Some(self.expires_after_days), 1..=MAX_ROLLOVER_DAYS);
        e.into_vec()
    }
}

/// A grant (credit block) as created. Immutable but for `voided_at`: what
/// happens to its credits is in [`GrantTotals`] and the ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Grant {
    pub id: String,
    pub customer_id: String,
    pub credit_type_id: String,
    /// Credits granted (> 0).
    #[serde(with = "crate::decimal")]
    pub amount: Decimal,
    pub category: GrantCategory,
    pub source: GrantSource,
    /// 1..=100, lower burns first.
    pub priority: u32,
    pub effective_at: DateTime<Utc>,
    /// Exclusive: at this instant the grant is already expired. `null` = never.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Products allowed to burn it; `null` = every product of the credit type.
    #[serde(default)]
    pub products: Option<Vec<String>>,
    #[serde(default)]
    pub contract_id: Option<String>,
    /// Money paid for it.
    #[serde(default)]
    pub cost_basis: Option<Money>,
    #[serde(default)]
    pub rollover: Option<RolloverPolicy>,
    /// The grant this one came from (rollovers, dispute refunds).
    #[serde(default)]
    pub parent_id: Option<String>,
    pub reason_code: String,
    #[serde(default)]
    pub ticket_ref: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
    /// User id, or `system:<job>` for grants the ledger derives.
    pub created_by: String,
    #[serde(default)]
    pub approved_by: Option<String>,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
    /// When a void took effect, if any (as known at the query's `as_of`).
    #[serde(default)]
    pub voided_at: Option<DateTime<Utc>>,
}

/// Every term of the conservation identity of a grant, from entries booked
/// by the query instant:
/// `amount + reversed + corrected = burned + expired + rolled + voided + settled + remaining`,
/// every term >= 0.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GrantTotals {
    #[serde(with = "crate::decimal")]
    pub amount: Decimal,
    #[serde(with = "crate::decimal")]
    pub burned: Decimal,
    /// Paid towards earlier overage (`overage_settled`).
    #[serde(with = "crate::decimal")]
    pub settled: Decimal,
    #[serde(with = "crate::decimal")]
    pub expired: Decimal,
    /// Taken back from `expired` by late burns (`expiry_correction`).
    #[serde(with = "crate::decimal")]
    pub corrected: Decimal,
    /// Carried into a rollover grant.
    #[serde(with = "crate::decimal")]
    pub rolled: Decimal,
    #[serde(with = "crate::decimal")]
    pub voided: Decimal,
    /// Given back by dispute reversals.
    #[serde(with = "crate::decimal")]
    pub reversed: Decimal,
}

/// A grant with its state at the query instant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GrantBalance {
    pub grant: Grant,
    pub status: GrantStatus,
    pub totals: GrantTotals,
    /// What the grant holds (for a pending grant: what it will hold).
    #[serde(with = "crate::decimal")]
    pub remaining: Decimal,
    /// `remaining` at the credit type's unit price.
    pub remaining_value: Money,
}

/// `GET /v1/customers/{id}/grants`. Order: `effective_at` descending, then id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GrantListQuery {
    /// Statuses (now), comma-separated (`active,pending`); empty = all.
    #[serde(default, with = "crate::page::comma_list", skip_serializing_if = "Vec::is_empty")]
    #[param(value_type = Option<String>, example = "active,pending")]
    pub status: Vec<GrantStatus>,
    /// Credit type id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}
impl_paged!(GrantListQuery);

impl Validate for GrantListQuery {
    fn validate(&self) -> Vec<FieldError> {
        let mut e = Errors::new();
        e.opt_id("credit_type", self.credit_type.as_deref());
        e.extend(self.paging_errors());
        e.into_vec()
    }
}

/// `POST /v1/grants`. Every field of the ledger's grant; defaults as in
/// `ledger.md`. Send an `Idempotency-Key` (the client does).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGrantRequest {
    /// The grant's id; generated by the server when absent. Must not contain `~`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub customer_id: String,
    pub credit_type_id: String,
    /// Credits, > 0, at most 6 decimal places.
    #[serde(with = "crate::decimal")]
    #[schema(example = "1000")]
    pub amount: Decimal,
    pub category: GrantCategory,
    pub source: GrantSource,
    /// 1..=100 (default 50), lower burns first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u32>,
    /// Default: now. In the past only in `backfill` mode (admin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_at: Option<DateTime<Utc>>,
    /// Must be after `effective_at`; absent = never expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// Restrict to these products (non-empty); absent = every product of the credit type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub products: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_basis: Option<Money>,
    /// Needs `expires_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollover: Option<RolloverPolicy>,
    /// Why, e.g. `purchase`, `goodwill`, `service_outage`.
    pub reason_code: String,
    /// The support ticket (required for manual grants by the approval rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// `live` (default) or `backfill` (admin imports: past `effective_at` allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<WriteMode>,
}

impl Validate for CreateGrantRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut e = Errors::new();
        e.opt_id("id", self.id.as_deref());
        e.id("customer_id", &self.customer_id);
        e.id("credit_type_id", &self.credit_type_id);
        e.range_u32("priority", self.priority, PRIORITY_RANGE);
        if let Some(products) = &self.products {
            if products.is_empty() {
                e.push("products", "must not be empty; omit it to admit every product");
            }
            for (i, p) in products.iter().enumerate() {
                e.id(&format!("products[{i}]"), p);
            }
        }
        e.opt_id("contract_id", self.contract_id.as_deref());
        if let Some(m) = &self.cost_basis {
            e.currency("cost_basis.currency", &m.currency);
        }
        if let Some(r) = &self.rollover {
            e.nested("rollover", r.validate());
        }
        e.id("reason_code", &self.reason_code);
        e.opt_text("ticket_ref", self.ticket_ref.as_deref(), MAX_TICKET_REF_LEN, false);
        e.opt_text("note", self.note.as_deref(), MAX_NOTE_LEN, true);
        e.into_vec()
    }
}

/// `201` answer to `POST /v1/grants`: the grant as booked and the entries
/// the booking wrote (the grant entry, and any settlement of outstanding
/// overage it paid at once).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GrantCreated {
    pub grant: GrantBalance,
    pub entries: Vec<LedgerEntry>,
}

/// Which of the actor's limits an action exceeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    PerAction,
    Monthly,
}

/// `202` answer to a money-moving action that exceeds the caller's limits:
/// nothing was booked; an approval request was filed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApprovalPending {
    pub approval_id: String,
    /// What was requested, e.g. `grant`.
    pub action: String,
    /// The action's value (credits x unit price).
    pub value: Money,
    /// The limit it exceeds, its amount (remaining budget for `monthly`) and by how much.
    pub exceeded: LimitKind,
    pub limit: Money,
    pub exceeded_by: Money,
    /// Roles whose approve limit covers the value.
    pub approver_roles: Vec<Role>,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    /// Unapproved requests expire (7 days).
    pub expires_at: DateTime<Utc>,
}

/// `POST /v1/grants/{id}/void` (finance or admin): forfeits the remainder now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoidGrantRequest {
    pub reason_code: String,
    /// Required, like every manual action's (`validation_failed` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Validate for VoidGrantRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut e = Errors::new();
        e.id("reason_code", &self.reason_code);
        // Every manual action carries a ticket reference (product.md).
        match self.ticket_ref.as_deref() {
            Some(ticket) => e.text("ticket_ref", ticket, MAX_TICKET_REF_LEN, false),
            None => e.push("ticket_ref", "is required for a void"),
        }
        e.opt_text("note", self.note.as_deref(), MAX_NOTE_LEN, true);
        e.into_vec()
    }
}

/// Answer to a void: the grant after it, the credits forfeited and the entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GrantVoided {
    pub grant: GrantBalance,
    /// Credits forfeited (the remainder at the void; may be 0).
    #[serde(with = "crate::decimal")]
    pub voided: Decimal,
    pub voided_value: Money,
    pub entries: Vec<LedgerEntry>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn request() -> serde_json::Value {
        json!({
            "customer_id": "c1",
            "credit_type_id": "batch",
            "amount": "1000.5",
            "category": "paid",
            "source": "purchase",
            "priority": 10,
            "effective_at": "2026-03-01T00:00:00Z",
            "expires_at": "2027-03-01T00:00:00Z",
            "products": ["transcribe"],
            "contract_id": "k-9",
            "cost_basis": {"amount": "900", "currency": "USD"},
            "rollover": {"fraction": "0.25", "max_amount": "100", "expires_after_days": 30},
            "reason_code": "purchase",
            "ticket_ref": "ZD-1",
            "note": "annual plan"
        })
    }

    #[test]
    fn create_request_round_trips() {
        let r: CreateGrantRequest = serde_json::from_value(request()).unwrap();
        assert_eq!(r.amount, Decimal::new(10005, 1));
        assert_eq!(r.rollover.as_ref().unwrap().max_amount, Some(Decimal::from(100)));
        assert!(r.validate().is_empty(), "{:?}", r.validate());
        assert_eq!(serde_json::to_value(&r).unwrap(), request());
    }

    #[test]
    fn create_request_refuses_unknown_fields_and_numbers() {
        let mut v = request();
        v["amout"] = json!("1");
        let err = serde_json::from_value::<CreateGrantRequest>(v).unwrap_err().to_string();
        assert!(err.contains("unknown field `amout`"), "{err}");
        let mut v = request();
        v["amount"] = json!(1000.5);
        let err = serde_json::from_value::<CreateGrantRequest>(v).unwrap_err().to_string();
        assert!(err.contains("JSON numbers are refused"), "{err}");
        let mut v = request();
        v["rollover"]["expires_after"] = json!(3);
        assert!(serde_json::from_value::<CreateGrantRequest>(v).is_err(), "nested objects are strict too");
    }

    #[test]
    fn create_request_shape_rules() {
        let mut r: CreateGrantRequest = serde_json::from_value(request()).unwrap();
        r.priority = Some(0);
        r.products = Some(vec![]);
        r.rollover = Some(RolloverPolicy { fraction: Decimal::from(2), max_amount: None, expires_after_days: 0 });
        r.reason_code = String::new();
        r.cost_basis = Some(Money::new(Decimal::ONE, "us"));
        let fields: Vec<String> = r.validate().into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "priority",
                "products",
                "cost_basis.currency",
                "rollover.fraction",
                "rollover.expires_after_days",
                "reason_code"
            ]
        );
    }

    #[test]
    fn approval_pending_shape() {
        let usd = |n: i64| Money::new(Decimal::from(n), "USD");
        let t = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
        let a = ApprovalPending {
            approval_id: "ap_1".into(),
            action: "grant".into(),
            value: usd(80),
            exceeded: LimitKind::PerAction,
            limit: usd(50),
            exceeded_by: usd(30),
            approver_roles: vec![Role::SupportLead, Role::Finance, Role::Admin],
            requested_by: "u_1".into(),
            requested_at: t,
            expires_at: t + chrono::TimeDelta::days(7),
        };
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(v["exceeded"], "per_action");
        assert_eq!(v["approver_roles"][0], "support_lead");
        assert_eq!(serde_json::from_value::<ApprovalPending>(v).unwrap(), a);
    }

    #[test]
    fn void_request_is_strict() {
        let v: VoidGrantRequest = serde_json::from_str(r#"{"reason_code":"fraud","ticket_ref":"ZD-2"}"#).unwrap();
        assert!(v.validate().is_empty());
        assert!(serde_json::from_str::<VoidGrantRequest>(r#"{"reason_code":"x","amount":"1"}"#).is_err());
        assert!(serde_json::from_str::<VoidGrantRequest>(r#"{}"#).is_err(), "reason_code is required");
        for no_ticket in [r#"{"reason_code":"fraud"}"#, r#"{"reason_code":"fraud","ticket_ref":" "}"#] {
            let v: VoidGrantRequest = serde_json::from_str(no_ticket).unwrap();
            assert_eq!(
                v.validate().iter().map(|f| f.field.as_str()).collect::<Vec<_>>(),
                ["ticket_ref"],
                "{no_ticket}"
            );
        }
    }
}
