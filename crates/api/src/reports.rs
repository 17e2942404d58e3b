//! Finance reports across customers: `GET /v1/reports/expirations`
//! (expiring liability), `GET /v1/reports/breakage` (what expired or was
//! voided unused, by month) and `GET /v1/reports/reconciliation` (rated
//! usage vs ledger burns + overage, per period).
//!
//! Credits of different credit types are never added together; every row
//! names its credit type. Money (`value`: credits x the credit type's unit
//! price, in the deployment currency) is what may be summed across them.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::balances::CreditTypeAmount;
use crate::common::{Bucket, GrantCategory, Money};
use crate::page::{impl_paged, Paged};
use crate::problem::FieldError;
use crate::validate::{Errors, Validate};

/// Default and largest window of the expiring-liability report (days).
pub const DEFAULT_EXPIRATION_DAYS: u32 = 30;
pub const MAX_EXPIRATION_DAYS: u32 = 366;

/// Rows of the expiring-liability report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExpirationGroupBy {
    /// One row per credit type (default).
    CreditType,
    /// One row per (customer, credit type), by customer id: paged.
    Customer,
    /// One row per (ISO week in `tz`, credit type).
    Week,
}

/// `GET /v1/reports/expirations`: credits in live grants scheduled to expire
/// in `[from, from + days)`, as if no further usage happened (an upper bound
/// of breakage; the forecast gives the usage-adjusted figure per customer).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExpirationReportQuery {
    /// Default now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    /// Window length, 1..=366 (default 30): 7, 30 and 90 are the usual ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<u32>,
    /// Default `credit_type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_by: Option<ExpirationGroupBy>,
    /// Only this credit type (id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_type: Option<String>,
    /// IANA zone of the weeks (`group_by=week`), default `UTC`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
    /// Paging applies to `group_by=customer`; the other groupings fit one page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}
impl_paged!(ExpirationReportQuery);

impl Validate for ExpirationReportQuery {
    fn validate(&self) -> Vec<FieldError> {
        let mut e = Errors::new();
        e.range_u32("days", self.days, 1..=MAX_EXPIRATION_DAYS);
        e.opt_id("credit_type", self.credit_type.as_deref());
        e.opt_text("tz", self.tz.as_deref(), 64, false);
        e.extend(self.paging_errors());
        e.into_vec()
    }
}

/// Expiring liability.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ExpirationReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub group_by: ExpirationGroupBy,
    pub rows: Vec<ExpirationReportRow>,
    /// Per credit type over the whole report (all pages).
    pub totals: Vec<CreditTypeAmount>,
    /// Sum of `totals` values.
    pub total_value: Money,
    /// For `group_by=customer`: the next page of rows.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// One row of the expiring-liability report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ExpirationReportRow {
    pub credit_type_id: String,
    /// Set for `group_by=customer`.
    #[serde(default)]
    pub customer_id: Option<String>,
    /// Set for `group_by=week`: the Monday the week starts on.
    #[serde(default)]
    pub week_start: Option<NaiveDate>,
    /// Grants contributing.
    pub grants: u32,
    /// Remainders expiring in the window.
    #[serde(with = "crate::decimal")]
    pub credits: Decimal,
    pub value: Money,
    /// The paid part of `credits` (the rest is promotional).
    #[serde(with = "crate::decimal")]
    pub paid_credits: Decimal,
    pub paid_value: Money,
    /// The part rollover policies would carry into new grants (not lost).
    #[serde(with = "crate::decimal")]
    pub rolls_over: Decimal,
}

/// `GET /v1/reports/breakage`: credits that expired (net of expiry
/// corrections) or were voided, by calendar month of the booking in `tz`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BreakageQuery {
    /// Default: the start of the month twelve months ago.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    /// Default now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_type: Option<String>,
    /// IANA zone of the months and weeks, default `UTC`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
    /// Default `month`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_by: Option<BreakageGroupBy>,
    /// Paging applies to `group_by=customer`; the other groupings fit one page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}
impl_paged!(BreakageQuery);

/// Rows of the breakage report: each with its credit type and category.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BreakageGroupBy {
    /// By calendar month in `tz` (default).
    Month,
    /// By ISO week (Monday) in `tz`.
    Week,
    /// By customer id, over the whole window: paged.
    Customer,
}

impl Validate for BreakageQuery {
    fn validate(&self) -> Vec<FieldError> {
        let mut e = Errors::new();
        e.window(self.from, self.to);
        e.opt_id("credit_type", self.credit_type.as_deref());
        e.opt_text("tz", self.tz.as_deref(), 64, false);
        e.into_vec()
    }
}

/// Breakage by month, week or customer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BreakageReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub tz: String,
    pub group_by: BreakageGroupBy,
    /// By month, week or customer, then credit type and category.
    pub rows: Vec<BreakageRow>,
    /// Over the whole report (all pages).
    pub total_expired_value: Money,
    pub total_voided_value: Money,
    /// For `group_by=customer`: the next page of rows.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// Breakage of one credit type and category in one month, week, or for one
/// customer over the window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BreakageRow {
    /// Set for `group_by=month`: the first day of the month.
    #[serde(default)]
    pub month: Option<NaiveDate>,
    /// Set for `group_by=week`: the Monday the week starts on.
    #[serde(default)]
    pub week_start: Option<NaiveDate>,
    /// Set for `group_by=customer`.
    #[serde(default)]
    pub customer_id: Option<String>,
    pub credit_type_id: String,
    pub category: GrantCategory,
    /// `expire` entries less `expiry_correction` entries booked in the month.
    #[serde(with = "crate::decimal")]
    pub expired: Decimal,
    pub expired_value: Money,
    /// `void` entries booked in the month.
    #[serde(with = "crate::decimal")]
    pub voided: Decimal,
    pub voided_value: Money,
}

/// `GET /v1/reports/reconciliation`: per period, the credits usage events
/// were rated at vs what the ledger booked for them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReconciliationQuery {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Default `day`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<Bucket>,
    /// IANA zone of the periods, default `UTC`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_type: Option<String>,
    /// Only this customer (id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
}

impl Validate for ReconciliationQuery {
    fn validate(&self) -> Vec<FieldError> {
        let mut e = Errors::new();
        e.window(Some(self.from), Some(self.to));
        e.opt_text("tz", self.tz.as_deref(), 64, false);
        e.opt_id("credit_type", self.credit_type.as_deref());
        e.opt_id("customer", self.customer.as_deref());
        e.into_vec()
    }
}

/// Reconciliation of usage against the ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReconciliationReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub bucket: Bucket,
    pub tz: String,
    /// By period start, then credit type.
    pub rows: Vec<ReconciliationRow>,
    /// Whether every row's `difference` is zero.
    pub balanced: bool,
}

/// One period of one credit type. Usage is counted by event time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReconciliationRow {
    /// The local date the period starts on.
    pub period: NaiveDate,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub credit_type_id: String,
    /// Accepted usage events.
    pub events: u64,
    /// Their rated credits.
    #[serde(with = "crate::decimal")]
    pub rated: Decimal,
    /// `burn` entries for them (magnitude).
    #[serde(with = "crate::decimal")]
    pub burned: Decimal,
    /// `overage` entries for them (magnitude).
    #[serde(with = "crate::decimal")]
    pub overage: Decimal,
    /// `rated - burned - overage`; zero when the ledger is consistent.
    #[serde(with = "crate::decimal")]
    pub difference: Decimal,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiration_report_query() {
        let q: ExpirationReportQuery = serde_urlencoded::from_str("days=90&group_by=customer&limit=50").unwrap();
        assert_eq!(q.group_by, Some(ExpirationGroupBy::Customer));
        assert!(q.validate().is_empty());
        let q: ExpirationReportQuery = serde_urlencoded::from_str("days=400").unwrap();
        assert_eq!(q.validate()[0].field, "days");
        assert!(serde_urlencoded::from_str::<ExpirationReportQuery>("group_by=month").is_err());
    }

    #[test]
    fn reconciliation_requires_window() {
        assert!(serde_urlencoded::from_str::<ReconciliationQuery>("bucket=month").is_err());
        let q: ReconciliationQuery =
            serde_urlencoded::from_str("from=2026-01-01T00:00:00Z&to=2026-04-01T00:00:00Z&bucket=month").unwrap();
        assert!(q.validate().is_empty());
    }
}
