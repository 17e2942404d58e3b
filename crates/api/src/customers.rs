//! `GET /v1/customers` (search, with a summary per row) and
//! `GET /v1/customers/{id}`.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::common::{ExpiringAmount, Money};
use crate::page::impl_paged;
use crate::problem::FieldError;
use crate::validate::{Errors, Validate};

/// `GET /v1/customers`. Order: customer id ascending.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CustomerListQuery {
    /// Search: matches a prefix of the id, a case-insensitive substring of
    /// the name, or the exact `external_ref`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}
impl_paged!(CustomerListQuery);

impl Validate for CustomerListQuery {
    fn validate(&self) -> Vec<FieldError> {
        let mut e = Errors::new();
        e.opt_text("q", self.q.as_deref(), 200, false);
        e.extend(crate::page::Paged::paging_errors(self));
        e.into_vec()
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
    }
}
