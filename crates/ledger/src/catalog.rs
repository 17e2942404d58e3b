//! Credit types, products and rate cards: the static configuration a ledger
//! rates and burns against.

use foldhash::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::amount::{Money, MAX_CREDITS};
use crate::error::{LedgerError, Result};
use crate::ids::{CreditTypeId, CustomerId, ProductId};

/// One key of a credit type's burn order. Grants are compared key by key; the
/// grant id always breaks the last tie, so the order is total.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BurnOrderKey {
    /// `priority` ascending (1 burns first).
    Priority,
    /// Product-restricted grants before unrestricted ones.
    RestrictedFirst,
    /// Earliest `expires_at` first; grants that never expire last.
    ExpiresAt,
    /// Promotional before paid.
    PromotionalFirst,
    /// Earliest `effective_at` first.
    EffectiveAt,
}

/// The burn order of a credit type: distinct keys, compared in order, then id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct BurnOrder(Vec<BurnOrderKey>);

impl BurnOrder {
    /// The documented default: priority, restricted, expiry, promotional, effective.
    pub fn standard() -> BurnOrder {
        use BurnOrderKey::*;
        BurnOrder(vec![Priority, RestrictedFirst, ExpiresAt, PromotionalFirst, EffectiveAt])
    }

    /// A custom order; keys may be reordered or dropped but not repeated.
    pub fn new(keys: Vec<BurnOrderKey>) -> Result<BurnOrder> {
        for (i, k) in keys.iter().enumerate() {
            if keys[..i].contains(k) {
                return Err(LedgerError::invalid("burn_order", format!("key {k:?} appears twice")));
            }
        }
        Ok(BurnOrder(keys))
    }

    pub fn keys(&self) -> &[BurnOrderKey] {
        &self.0
    }
}

impl Default for BurnOrder {
    fn default() -> Self {
        BurnOrder::standard()
    }
}

impl<'de> Deserialize<'de> for BurnOrder {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        BurnOrder::new(Vec::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// What happens to usage that no grant covers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverageMode {
    /// Outstanding overage is paid first by grants that become effective later.
    #[default]
    CarryForward,
    /// Overage stays outstanding for invoicing; grants never settle it.
    Invoice,
}

/// A wallet kind: "batch transcription credits", "real-time minutes", ...
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreditType {
    pub id: CreditTypeId,
    pub name: String,
    /// "credits", "minutes", ...
    pub unit_label: String,
    /// Money per credit, for approval limits and finance reports.
    pub unit_price: Money,
    pub burn_order: BurnOrder,
    pub overage_mode: OverageMode,
}

impl CreditType {
    pub fn new(
        id: CreditTypeId,
        name: impl Into<String>,
        unit_label: impl Into<String>,
        unit_price: Money,
        burn_order: BurnOrder,
        overage_mode: OverageMode,
    ) -> Result<CreditType> {
        let name = name.into();
        let unit_label = unit_label.into();
        if name.trim().is_empty() || name.len() > 200 {
            return Err(LedgerError::invalid("name", "must be 1 to 200 bytes"));
        }
        if unit_label.trim().is_empty() || unit_label.len() > 40 {
            return Err(LedgerError::invalid("unit_label", "must be 1 to 40 bytes"));
        }
        let unit_price = Money::non_negative(unit_price.amount, unit_price.currency, "unit_price")?;
        Ok(CreditType { id, name, unit_label, unit_price, burn_order, overage_mode })
    }
}

/// One version of a rate card: from `effective_from` on, one unit of the
/// product costs `credits_per_unit` credits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateVersion {
    pub effective_from: DateTime<Utc>,
    #[serde(with = "rust_decimal::serde::str")]
    pub credits_per_unit: Decimal,
}

/// Versions in strictly increasing `effective_from` order, at least one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct RateCard(Vec<RateVersion>);

/// Most decimal places a rate may have (rating rounds the product to 6).
pub const MAX_RATE_SCALE: u32 = 12;

impl RateCard {
    pub fn new(mut versions: Vec<RateVersion>) -> Result<RateCard> {
        if versions.is_empty() {
            return Err(LedgerError::invalid("rate_card", "must have at least one version"));
        }
        versions.sort_by_key(|v| v.effective_from);
        for pair in versions.windows(2) {
            if pair[0].effective_from == pair[1].effective_from {
                return Err(LedgerError::invalid("rate_card", "two versions have the same effective_from"));
            }
        }
        for v in &mut versions {
            if v.credits_per_unit < Decimal::ZERO {
                return Err(LedgerError::invalid("credits_per_unit", "must not be negative"));
            }
            if v.credits_per_unit.normalize().scale() > MAX_RATE_SCALE {
                return Err(LedgerError::invalid("credits_per_unit", "must have at most 12 decimal places"));
            }
            if v.credits_per_unit > MAX_CREDITS {
                return Err(LedgerError::invalid("credits_per_unit", "must be at most 1000000000000000"));
            }
            v.credits_per_unit = v.credits_per_unit.normalize();
        }
        Ok(RateCard(versions))
    }

    /// A card with a single version.
    pub fn flat(effective_from: DateTime<Utc>, credits_per_unit: Decimal) -> Result<RateCard> {
        RateCard::new(vec![RateVersion { effective_from, credits_per_unit }])
    }

    pub fn versions(&self) -> &[RateVersion] {
        &self.0
    }

    /// The version in force at `t`: the latest with `effective_from <= t`.
    pub fn version_at(&self, t: DateTime<Utc>) -> Option<&RateVersion> {
        let idx = self.0.partition_point(|v| v.effective_from <= t);
        idx.checked_sub(1).map(|i| &self.0[i])
    }
}

impl<'de> Deserialize<'de> for RateCard {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        RateCard::new(Vec::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A metered product. Its usage burns credits of one credit type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Product {
    pub id: ProductId,
    pub name: String,
    pub credit_type: CreditTypeId,
    pub rate_card: RateCard,
}

/// Credit types, products and per-customer rate overrides.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    credit_types: HashMap<CreditTypeId, Arc<CreditType>>,
    products: HashMap<ProductId, Arc<Product>>,
    overrides: HashMap<(CustomerId, ProductId), RateCard>,
}

impl Catalog {
    pub fn new() -> Catalog {
        Catalog::default()
    }

    pub fn add_credit_type(&mut self, ct: CreditType) -> Result<Arc<CreditType>> {
        if self.credit_types.contains_key(&ct.id) {
            return Err(LedgerError::AlreadyExists { what: "credit type", id: ct.id.to_string() });
        }
        let ct = Arc::new(ct);
        self.credit_types.insert(ct.id.clone(), ct.clone());
        Ok(ct)
    }

    pub fn add_product(&mut self, product: Product) -> Result<Arc<Product>> {
        if !self.credit_types.contains_key(&product.credit_type) {
            return Err(LedgerError::not_found("credit type", &product.credit_type));
        }
        if self.products.contains_key(&product.id) {
            return Err(LedgerError::AlreadyExists { what: "product", id: product.id.to_string() });
        }
        if product.name.trim().is_empty() || product.name.len() > 200 {
            return Err(LedgerError::invalid("name", "must be 1 to 200 bytes"));
        }
        let product = Arc::new(product);
        self.products.insert(product.id.clone(), product.clone());
        Ok(product)
    }

    /// Sets (or replaces) a customer's own rate card for a product.
    pub fn set_override(&mut self, customer: CustomerId, product: &ProductId, card: RateCard) -> Result<()> {
        self.product(product)?;
        self.overrides.insert((customer, product.clone()), card);
        Ok(())
    }

    pub fn credit_type(&self, id: &CreditTypeId) -> Result<&Arc<CreditType>> {
        self.credit_types.get(id).ok_or_else(|| LedgerError::not_found("credit type", id))
    }

    pub fn product(&self, id: &ProductId) -> Result<&Arc<Product>> {
        self.products.get(id).ok_or_else(|| LedgerError::not_found("product", id))
    }

    pub fn override_for(&self, customer: &CustomerId, product: &ProductId) -> Option<&RateCard> {
        // Most catalogs have none: spare every usage event the key's clones.
        if self.overrides.is_empty() {
            return None;
        }
        self.overrides.get(&(customer.clone(), product.clone()))
    }

    pub fn credit_types(&self) -> impl Iterator<Item = &Arc<CreditType>> {
        self.credit_types.values()
    }

    pub fn products(&self) -> impl Iterator<Item = &Arc<Product>> {
        self.products.values()
    }

    /// Checks that every product in `products` exists and burns `credit_type`.
    pub fn check_products_of(&self, credit_type: &CreditTypeId, products: &[ProductId]) -> Result<()> {
        for p in products {
            let product = self.product(p)?;
            if &product.credit_type != credit_type {
                return Err(LedgerError::invalid(
                    "products",
                    format!("product `{p}` burns credit type `{}`, not `{credit_type}`", product.credit_type),
                ));
            }
        }
        Ok(())
    }
}
