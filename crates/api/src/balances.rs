//! `GET /v1/customers/{id}/balances` (now, or at `at` as known at `as_of`)
//! and `GET /v1/customers/{id}/expirations` (the customer's schedule).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::common::{ExpiringAmount, GrantCategory, Money};
use crate::grants::GrantBalance;
use crate::problem::FieldError;
use crate::validate::{Errors, Validate};

/// Point-in-time and as-known-at: `at` is the instant the balance is for
/// (default now; may be in the future, showing scheduled expiries and
/// pending grants), `as_of` the recorded time whose knowledge is used
/// (default now; "what did we believe on March 1st").
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BalanceQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
    /// Must not be in the future.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<DateTime<Utc>>,
    /// Only this credit type (id); default every credit type the customer has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_type: Option<String>,
}

impl Validate for BalanceQuery {
    fn validate(&self) -> Vec<FieldError> {
        let mut e = Errors::new();
        e.opt_id("credit_type", self.credit_type.as_deref());
        e.into_vec()
    }
}

/// The customer's balances, one per credit type, at one instant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BalancesResponse {
    pub customer_id: String,
    pub at: DateTime<Utc>,
    pub as_of: DateTime<Utc>,
    /// By credit type id.
    pub balances: Vec<Balance>,
}

/// One wallet's balance at `at` as known at `as_of` (mirrors the ledger's `Balance`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Balance {
    pub credit_type_id: String,
    pub unit_label: String,
    /// Money per credit: what `*_value` fields are computed with.
    pub unit_price: Money,
    pub at: DateTime<Utc>,
    pub as_of: DateTime<Utc>,
    /// What live grants hold.
    #[serde(with = "crate::decimal")]
    pub available: Decimal,
    /// Grants not yet effective.
    #[serde(with = "crate::decimal")]
    pub pending: Decimal,
    /// Outstanding overage.
    #[serde(with = "crate::decimal")]
    pub overage: Decimal,
    /// `available - overage` (may be negative).
    #[serde(with = "crate::decimal")]
    pub net: Decimal,
    pub available_value: Money,
    pub net_value: Money,
    /// Live grants' remainders by exact expiry instant, soonest first.
    pub expiring: Vec<ExpiringAmount>,
    /// Every grant known at `as_of`, in the credit type's burn order.
    pub grants: Vec<GrantBalance>,
}

/// `GET /v1/customers/{id}/expirations`: live grants whose remainder is
/// scheduled to expire in `[from, to)`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExpirationsQuery {
    /// Credit type id; default all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_type: Option<String>,
    /// Default now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    /// Default: no end (every scheduled expiry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime<Utc>>,
}

impl Validate for ExpirationsQuery {
    fn validate(&self) -> Vec<FieldError> {
        let mut e = Errors::new();
        e.opt_id("credit_type", self.credit_type.as_deref());
        e.window(self.from, self.to);
        e.into_vec()
    }
}

/// A customer's expiry schedule, computed now (as if no more usage happened).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ExpirationsResponse {
    pub customer_id: String,
    /// When the schedule was computed.
    pub at: DateTime<Utc>,
    /// By `expires_at`, then grant id.
    pub items: Vec<ScheduledExpiry>,
    /// Sums of `items` per credit type.
    pub totals: Vec<CreditTypeAmount>,
}

/// One grant's remainder that will expire unless used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ScheduledExpiry {
    pub credit_type_id: String,
    pub grant_id: String,
    pub category: GrantCategory,
    pub expires_at: DateTime<Utc>,
    /// The grant's remainder now.
    #[serde(with = "crate::decimal")]
    pub amount: Decimal,
    pub value: Money,
    /// The part its rollover policy would carry into a new grant (0 without one).
    #[serde(with = "crate::decimal")]
    pub rolls_over: Decimal,
}

/// Credits of one credit type and their money value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CreditTypeAmount {
    pub credit_type_id: String,
    #[serde(with = "crate::decimal")]
    pub credits: Decimal,
    pub value: Money,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn balance_query_string() {
        let q: BalanceQuery =
            serde_urlencoded::from_str("at=2026-03-01T00:00:00Z&as_of=2026-03-02T00:00:00%2B01:00").unwrap();
        assert_eq!(q.at, Some(Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()));
        assert_eq!(q.as_of, Some(Utc.with_ymd_and_hms(2026, 3, 1, 23, 0, 0).unwrap()), "offsets are accepted");
        assert!(serde_urlencoded::from_str::<BalanceQuery>("at=yesterday").is_err());
        assert!(serde_urlencoded::from_str::<BalanceQuery>("asof=2026-03-01T00:00:00Z").is_err());
    }
}
