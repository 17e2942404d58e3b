//! `/v1/admin/...`: the catalog (credit types, products, rate cards,
//! customer overrides), customers and users.
//!
//! Mutations are admin-only. Reading the catalog (credit types, products) is
//! open to every role: the desktop app needs names, unit labels and prices
//! to display anything.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::common::{BurnOrderKey, Money, OverageMode, Role};
use crate::page::{impl_paged, Paged};
use crate::problem::FieldError;
use crate::validate::{Errors, Validate, MAX_NAME_LEN};

/// Longest unit label (bytes).
pub const MAX_UNIT_LABEL_LEN: usize = 40;

/// `POST /v1/admin/credit-types`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCreditTypeRequest {
    pub id: String,
    pub name: String,
    /// "credits", "minutes", ...
    pub unit_label: String,
    /// Money per credit, in the deployment currency.
    pub unit_price: Money,
    /// Distinct keys; default the standard order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burn_order: Option<Vec<BurnOrderKey>>,
    /// Default `carry_forward`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overage_mode: Option<OverageMode>,
}

impl Validate for CreateCreditTypeRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut e = Errors::new();
        e.id("id", &self.id);
        e.text("name", &self.name, MAX_NAME_LEN, false);
        e.text("unit_label", &self.unit_label, MAX_UNIT_LABEL_LEN, false);
        e.currency("unit_price.currency", &self.unit_price.currency);
        if self.unit_price.amount < Decimal::ZERO {
            e.push("unit_price.amount", "must not be negative");
        }
        if let Some(keys) = &self.burn_order {
            for (i, k) in keys.iter().enumerate() {
                if keys[..i].contains(k) {
                    e.push(format!("burn_order[{i}]"), format!("key `{k}` appears twice"));
                }
            }
        }
        e.into_vec()
    }
}

/// A credit type (wallet kind).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CreditType {
    pub id: String,
    pub name: String,
    pub unit_label: String,
    pub unit_price: Money,
    /// The full order applied (the grant id breaks the last tie).
    pub burn_order: Vec<BurnOrderKey>,
    pub overage_mode: OverageMode,
    pub created_at: DateTime<Utc>,
}

/// One version of a rate card: from `effective_from` on, one unit of the
/// product costs `credits_per_unit` credits. Also the body of
/// `POST /v1/admin/products/{id}/rates`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateVersion {
    pub effective_from: DateTime<Utc>,
    /// >= 0, at most 12 decimal places.
    #[serde(with = "crate::decimal")]
    #[schema(example = "0.25")]
    pub credits_per_unit: Decimal,
}

/// Body of `POST /v1/admin/products/{id}/rates`: a new version appended to
/// the product's card (it applies to events timed at or after `effective_from`;
/// events already rated are never re-rated).
pub type AddRateVersionRequest = RateVersion;

/// `prefix` is `""` for a lone version or `"rate_card[3]."` inside a card.
fn rate_version_errors(e: &mut Errors, prefix: &str, v: &RateVersion) {
    if v.credits_per_unit < Decimal::ZERO {
        e.push(format!("{prefix}credits_per_unit"), "must not be negative");
    }
}

fn rate_card_errors(e: &mut Errors, field: &str, card: &[RateVersion]) {
    if card.is_empty() {
        e.push(field, "must have at least one version");
    }
    for (i, v) in card.iter().enumerate() {
        rate_version_errors(e, &format!("{field}[{i}]."), v);
        if card[..i].iter().any(|w| w.effective_from == v.effective_from) {
            e.push(format!("{field}[{i}].effective_from"), "two versions have the same effective_from");
        }
    }
}

impl Validate for RateVersion {
    fn validate(&self) -> Vec<FieldError> {
        let mut e = Errors::new();
        rate_version_errors(&mut e, "", self);
        e.into_vec()
    }
}

/// `POST /v1/admin/products`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProductRequest {
    pub id: String,
    pub name: String,
    /// The credit type its usage burns.
    pub credit_type_id: String,
    /// At least one version.
    pub rate_card: Vec<RateVersion>,
}

impl Validate for CreateProductRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut e = Errors::new();
        e.id("id", &self.id);
        e.text("name", &self.name, MAX_NAME_LEN, false);
        e.id("credit_type_id", &self.credit_type_id);
        rate_card_errors(&mut e, "rate_card", &self.rate_card);
        e.into_vec()
    }
}

/// A metered product.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Product {
    pub id: String,
    pub name: String,
    pub credit_type_id: String,
    /// By `effective_from` ascending.
    pub rate_card: Vec<RateVersion>,
    pub created_at: DateTime<Utc>,
}

/// `POST /v1/admin/overrides`: sets (replaces) a customer's own rate card for
/// a product (custom enterprise rates).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetOverrideRequest {
    pub customer_id: String,
    pub product_id: String,
    pub rate_card: Vec<RateVersion>,
}

impl Validate for SetOverrideRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut e = Errors::new();
        e.id("customer_id", &self.customer_id);
        e.id("product_id", &self.product_id);
        rate_card_errors(&mut e, "rate_card", &self.rate_card);
        e.into_vec()
    }
}

/// A customer's override rate card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RateOverride {
    pub customer_id: String,
    pub product_id: String,
    pub rate_card: Vec<RateVersion>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

/// `GET /v1/admin/overrides`. Order: customer id, then product id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OverrideListQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}
impl_paged!(OverrideListQuery);

impl Validate for OverrideListQuery {
    fn validate(&self) -> Vec<FieldError> {
        let mut e = Errors::new();
        e.opt_id("customer", self.customer.as_deref());
        e.opt_id("product", self.product.as_deref());
        e.extend(self.paging_errors());
        e.into_vec()
    }
}

/// `POST /v1/admin/customers`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCustomerRequest {
    pub id: String,
    pub name: String,
    /// The customer's id in the CRM or billing system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_ref: Option<String>,
}

impl Validate for CreateCustomerRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut e = Errors::new();
        e.id("id", &self.id);
        e.text("name", &self.name, MAX_NAME_LEN, false);
        e.opt_text("external_ref", self.external_ref.as_deref(), MAX_NAME_LEN, false);
        e.into_vec()
    }
}

/// A customer (account).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Customer {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub external_ref: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// `POST /v1/admin/users`: the answer carries the bearer token, once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    pub name: String,
    pub role: Role,
}

impl Validate for CreateUserRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut e = Errors::new();
        e.text("name", &self.name, MAX_NAME_LEN, false);
        e.into_vec()
    }
}

/// A user (never with a token: tokens are stored hashed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct User {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    /// Set once the token is revoked; a revoked token answers `unauthorized`.
    #[serde(default)]
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The answer to creating a user: the only time the token is ever shown.
/// Not replayable: the server must not keep the token for `Idempotency-Key`
/// replays, and the client never retries this call.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CreatedUser {
    pub user: User,
    /// The bearer token. Shown once; store it now.
    pub token: String,
}

impl std::fmt::Debug for CreatedUser {
    /// Keeps the token out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedUser").field("user", &self.user).field("token", &"<redacted>").finish()
    }
}

/// `GET /v1/admin/users`. Order: user id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserListQuery {
    /// Include revoked users (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_revoked: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}
impl_paged!(UserListQuery);

impl Validate for UserListQuery {
    fn validate(&self) -> Vec<FieldError> {
        self.paging_errors()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn credit_type_request() {
        let body = json!({
            "id": "batch",
            "name": "Batch transcription",
            "unit_label": "credits",
            "unit_price": {"amount": "0.01", "currency": "USD"},
            "burn_order": ["expires_at", "priority"],
            "overage_mode": "invoice"
        });
        let r: CreateCreditTypeRequest = serde_json::from_value(body.clone()).unwrap();
        assert!(r.validate().is_empty());
        assert_eq!(serde_json::to_value(&r).unwrap(), body);
        let mut dup = r.clone();
        dup.burn_order = Some(vec![BurnOrderKey::Priority, BurnOrderKey::Priority]);
        assert_eq!(dup.validate(), [FieldError::new("burn_order[1]", "key `priority` appears twice")]);
        let mut bad = body;
        bad["overage_mode"] = json!("postpaid");
        assert!(serde_json::from_value::<CreateCreditTypeRequest>(bad).is_err());
    }

    #[test]
    fn product_and_rate_rules() {
        let r: CreateProductRequest = serde_json::from_value(json!({
            "id": "rt", "name": "Real-time", "credit_type_id": "minutes",
            "rate_card": [
                {"effective_from": "2026-01-01T00:00:00Z", "credits_per_unit": "1"},
                {"effective_from": "2026-01-01T00:00:00Z", "credits_per_unit": "-1"}
            ]
        }))
        .unwrap();
        let fields: Vec<String> = r.validate().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["rate_card[1].credits_per_unit", "rate_card[1].effective_from"]);
        let v: AddRateVersionRequest =
            serde_json::from_str(r#"{"effective_from":"2026-06-01T00:00:00Z","credits_per_unit":"-2"}"#).unwrap();
        assert_eq!(v.validate(), [FieldError::new("credits_per_unit", "must not be negative")]);
        assert!(serde_json::from_str::<AddRateVersionRequest>(
            r#"{"effective_from":"2026-06-01T00:00:00Z","credits_per_unit":2}"#
        )
        .is_err());
    }

    #[test]
    fn created_user_debug_hides_the_token() {
        let u = CreatedUser {
            user: User {
                id: "u_1".into(),
                name: "alice".into(),
                role: Role::SupportAgent,
                created_at: chrono::DateTime::UNIX_EPOCH,
                revoked_at: None,
            },
            token: "cdk_secret".into(),
        };
        assert!(!format!("{u:?}").contains("cdk_secret"));
        let v = serde_json::to_value(&u).unwrap();
        assert_eq!(v["token"], "cdk_secret");
        assert_eq!(v["user"]["role"], "support_agent");
        assert!(serde_json::from_str::<CreateUserRequest>(r#"{"name":"bob","role":"owner"}"#).is_err());
    }
}
