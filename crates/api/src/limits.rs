//! Roles' money limits (`/v1/admin/roles`): what each role may do alone per
//! action and per calendar month, and what it may approve for others. The
//! server enforces them on every money-moving action (`docs/workflows.md`).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::common::Role;
use crate::me::RoleLimits;
use crate::problem::FieldError;
use crate::validate::{Errors, Validate};

/// One role's limits as stored, and who set them last.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RoleLimitsEntry {
    pub role: Role,
    pub limits: RoleLimits,
    pub updated_at: DateTime<Utc>,
    /// A user id, or `system:default` for the defaults of the service spec.
    pub updated_by: String,
}

/// `GET /v1/admin/roles`: every role, least to most trusted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RoleLimitsList {
    /// The deployment's currency: every limit is in it.
    pub currency: String,
    pub roles: Vec<RoleLimitsEntry>,
}

/// `POST /v1/admin/roles/{role}/limits` (admin): replaces a role's limits.
/// Every field is required; `null` means unlimited, `"0"` means never alone
/// (or, for `approve_up_to`, may not approve). Amounts in the deployment's
/// currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRoleLimitsRequest {
    #[serde(with = "crate::decimal::option")]
    #[schema(value_type = Option<String>, example = "50")]
    pub per_action: Option<Decimal>,
    #[serde(with = "crate::decimal::option")]
    #[schema(value_type = Option<String>, example = "500")]
    pub monthly: Option<Decimal>,
    #[serde(with = "crate::decimal::option")]
    #[schema(value_type = Option<String>, example = "0")]
    pub approve_up_to: Option<Decimal>,
}

impl Validate for SetRoleLimitsRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut e = Errors::new();
        for (field, v) in
            [("per_action", self.per_action), ("monthly", self.monthly), ("approve_up_to", self.approve_up_to)]
        {
            if v.is_some_and(|v| v < Decimal::ZERO) {
                e.push(field, "must not be negative (null means unlimited)");
            }
            if v.is_some_and(|v| v.scale() > 6) {
                e.push(field, "must have at most 6 decimal places");
            }
        }
        e.into_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_required_and_null_is_unlimited() {
        let r: SetRoleLimitsRequest =
            serde_json::from_str(r#"{"per_action":"50","monthly":null,"approve_up_to":"0"}"#).unwrap();
        assert_eq!(r.monthly, None);
        assert!(r.validate().is_empty());
        assert!(serde_json::from_str::<SetRoleLimitsRequest>(r#"{"per_action":"50","monthly":null}"#).is_err());
        let bad: SetRoleLimitsRequest =
            serde_json::from_str(r#"{"per_action":"-1","monthly":null,"approve_up_to":null}"#).unwrap();
        assert_eq!(bad.validate()[0].field, "per_action");
    }
}
