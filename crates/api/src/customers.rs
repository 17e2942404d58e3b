//! `GET /v1/customers` (search, with a summary per row) and
//! `GET /v1/customers/{id}`.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::common::{wire_enum, ExpiringAmount, Money, SortOrder};
use crate::page::impl_paged;
use crate::problem::FieldError;
use crate::validate::{Errors, Validate};

/// `GET /v1/customers`. Order: customer id ascending unless `sort` says
/// otherwise. With a filter or another order the server summarises every
/// customer the search matches before it pages (see `docs/api.md`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CustomerListQuery {
    /// Search: matches a prefix of the id, a case-insensitive substring of
    /// the name, or the exact `external_ref`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// Only customers with a wallet whose runway ends in fewer than this
    /// many whole days (`runway_days < runway_under_days`), 1..=365.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runway_under_days: Option<u32>,
    /// Only customers with credits that expire within this many days from
    /// now (a wallet's `next_expiry`), 1..=366.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiring_within_days: Option<u32>,
    /// Order of the list; `id` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<CustomerSort>,
    /// `asc` (the default) or `desc`. Customers without a value for the
    /// sort (no runway within the horizon, nothing expiring) come last
    /// either way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<SortOrder>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}
impl_paged!(CustomerListQuery);

impl CustomerListQuery {
    /// True when the list is the store's own order with no filter, so the
    /// server can page in the store instead of summarising every match.
    pub fn is_plain(&self) -> bool {
        self.runway_under_days.is_none()
            && self.expiring_within_days.is_none()
            && matches!(self.sort, None | Some(CustomerSort::Id))
            && matches!(self.order, None | Some(SortOrder::Asc))
    }
}

impl Validate for CustomerListQuery {
    fn validate(&self) -> Vec<FieldError> {
        let mut e = Errors::new();
        e.opt_text("q", self.q.as_deref(), 200, false);
        e.range_u32("runway_under_days", self.runway_under_days, 1..=crate::series::DEFAULT_HORIZON_DAYS);
        e.range_u32("expiring_within_days", self.expiring_within_days, 1..=366);
        e.extend(crate::page::Paged::paging_errors(self));
        e.into_vec()
    }
}

wire_enum! {
    /// What a customer list is ordered by. Per-wallet values (runway, next
    /// expiry) use the customer's soonest wallet.
    pub enum CustomerSort as "sort" {
        Id => "id",
        Name => "name",
        /// The soonest `runway_date` of the customer's wallets.
        Runway => "runway",
        /// The soonest `next_expiry` of the customer's wallets.
        NextExpiry => "next_expiry",
        OpenDisputes => "open_disputes",
    }
}

/// One customer with a summary of each wallet (credit type) it has.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CustomerSummary {
    pub id: String,
    pub name: String,
    /// The customer's id in the company's CRM or billing system.
    #[serde(default)]
    pub external_ref: Option<String>,
    pub created_at: DateTime<Utc>,
    /// One per credit type the customer has grants or usage in, by credit type id.
    pub wallets: Vec<WalletSummary>,
    /// Disputes not yet resolved or rejected.
    pub open_disputes: u32,
}

/// A customer's position in one credit type, now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WalletSummary {
    pub credit_type_id: String,
    /// "credits", "minutes", ...
    pub unit_label: String,
    /// What live grants hold (credits).
    #[serde(with = "crate::decimal")]
    pub available: Decimal,
    /// Grants not yet effective.
    #[serde(with = "crate::decimal")]
    pub pending: Decimal,
    /// Outstanding overage.
    #[serde(with = "crate::decimal")]
    pub overage: Decimal,
    /// `available - overage`.
    #[serde(with = "crate::decimal")]
    pub net: Decimal,
    /// `available` at the credit type's unit price.
    pub available_value: Money,
    /// Credits burned (burn + overage entries) in the last 30 days.
    #[serde(with = "crate::decimal")]
    pub burn_30d: Decimal,
    /// When `available` is projected to run out at the recent burn rate
    /// (the forecast method), `null` if not within the forecast horizon.
    #[serde(default)]
    pub runway_date: Option<DateTime<Utc>>,
    /// Whole days from now to `runway_date` (rounded down), `null` likewise.
    #[serde(default)]
    pub runway_days: Option<u32>,
    /// The soonest expiry of a live grant with credits left, and how much.
    #[serde(default)]
    pub next_expiry: Option<ExpiringAmount>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_string() {
        let q: CustomerListQuery = serde_urlencoded::from_str("q=acme&limit=20").unwrap();
        assert_eq!(q.q.as_deref(), Some("acme"));
        assert!(q.validate().is_empty());
        assert!(serde_urlencoded::from_str::<CustomerListQuery>("search=acme").is_err());
        let q: CustomerListQuery =
            serde_urlencoded::from_str("runway_under_days=14&sort=next_expiry&order=desc").unwrap();
        assert_eq!((q.sort, q.order), (Some(CustomerSort::NextExpiry), Some(SortOrder::Desc)));
        assert!(!q.is_plain() && q.validate().is_empty());
        assert!(serde_urlencoded::from_str::<CustomerListQuery>("sort=balance").is_err());
        let q: CustomerListQuery = serde_urlencoded::from_str("runway_under_days=0&expiring_within_days=400").unwrap();
        let fields: Vec<_> = q.validate().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["runway_under_days", "expiring_within_days"]);
    }
}
