//! Grants (credit blocks) and their validation.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::amount::{Credits, Money};
use crate::catalog::Catalog;
use crate::error::{LedgerError, Result};
use crate::ids::{
    check_text, ActorId, ContractId, CreditTypeId, CustomerId, GrantId, ProductId, ReasonCode, DERIVED_ID_MARK,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantCategory {
    Paid,
    Promotional,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantSource {
    Purchase,
    Plan,
    Promotion,
    Goodwill,
    DisputeRefund,
    Rollover,
    AutoTopup,
    Migration,
}

/// Lowest and highest grant priority; lower burns first.
pub const PRIORITY_RANGE: std::ops::RangeInclusive<u8> = 1..=100;
pub const DEFAULT_PRIORITY: u8 = 50;

/// What part of a grant's remainder survives its expiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RolloverPolicy {
    /// Share of the remainder carried over, 0..=1.
    #[serde(with = "rust_decimal::serde::str")]
    pub fraction: Decimal,
    /// Cap on the carried amount.
    pub max_amount: Option<Credits>,
    /// Lifetime of the rollover grant, counted from the old grant's expiry.
    #[serde(rename = "expires_after_seconds", serialize_with = "seconds")]
    pub expires_after: TimeDelta,
}

fn seconds<S: serde::Serializer>(d: &TimeDelta, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_i64(d.num_seconds())
}

impl RolloverPolicy {
    pub fn new(fraction: Decimal, max_amount: Option<Decimal>, expires_after: TimeDelta) -> Result<RolloverPolicy> {
        if fraction < Decimal::ZERO || fraction > Decimal::ONE {
            return Err(LedgerError::invalid("rollover.fraction", "must be between 0 and 1"));
        }
        let max_amount = max_amount.map(|m| Credits::positive(m, "rollover.max_amount")).transpose()?;
        if expires_after <= TimeDelta::zero() {
            return Err(LedgerError::invalid("rollover.expires_after", "must be a positive duration"));
        }
        Ok(RolloverPolicy { fraction: fraction.normalize(), max_amount, expires_after })
    }

    /// `min(max_amount, remainder x fraction)`, rounded down to six places.
    pub fn rolled_amount(&self, remainder: Credits) -> Credits {
        let rolled = Credits::round_down(remainder.get() * self.fraction);
        match self.max_amount {
            Some(cap) if cap < rolled => cap,
            _ => rolled,
        }
    }
}

/// A grant as requested, before validation. Optional fields default the way
/// `ledger.md` says (priority 50, promotional only when asked, no expiry).
#[derive(Clone, Debug)]
pub struct NewGrant {
    pub id: GrantId,
    pub customer: CustomerId,
    pub credit_type: CreditTypeId,
    pub amount: Decimal,
    pub category: GrantCategory,
    pub source: GrantSource,
    pub priority: Option<u8>,
    pub effective_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub products: Option<Vec<ProductId>>,
    pub contract_id: Option<ContractId>,
    pub cost_basis: Option<Money>,
    pub rollover: Option<RolloverPolicy>,
    pub reason_code: ReasonCode,
    pub ticket_ref: Option<String>,
    pub note: Option<String>,
    pub created_by: ActorId,
    pub approved_by: Option<ActorId>,
}

impl NewGrant {
    /// A request with every optional field at its `ledger.md` default
    /// (priority 50, no expiry, every product, no contract, cost basis,
    /// rollover, ticket, note or approver); set the others with
    /// `NewGrant { expires_at: Some(..), ..NewGrant::new(..) }`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: GrantId,
        customer: CustomerId,
        credit_type: CreditTypeId,
        amount: Decimal,
        category: GrantCategory,
        source: GrantSource,
        effective_at: DateTime<Utc>,
        reason_code: ReasonCode,
        created_by: ActorId,
    ) -> NewGrant {
        NewGrant {
            id,
            customer,
            credit_type,
            amount,
            category,
            source,
            priority: None,
            effective_at,
            expires_at: None,
            products: None,
            contract_id: None,
            cost_basis: None,
            rollover: None,
            reason_code,
            ticket_ref: None,
            note: None,
            created_by,
            approved_by: None,
        }
    }
}

/// A validated grant. Immutable: what changes over its life (burns, expiry,
/// void) lives in ledger entries and in the wallet's running totals.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Grant {
    pub id: GrantId,
    pub customer: CustomerId,
    pub credit_type: CreditTypeId,
    pub amount: Credits,
    pub category: GrantCategory,
    pub source: GrantSource,
    pub priority: u8,
    pub effective_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Sorted and de-duplicated; `None` admits every product of the credit type.
    pub products: Option<Arc<[ProductId]>>,
    pub contract_id: Option<ContractId>,
    pub cost_basis: Option<Money>,
    pub rollover: Option<RolloverPolicy>,
    /// The grant this one came from (rollovers and dispute refunds).
    pub parent: Option<GrantId>,
    pub reason_code: ReasonCode,
    pub ticket_ref: Option<Arc<str>>,
    pub note: Option<Arc<str>>,
    pub created_by: ActorId,
    pub approved_by: Option<ActorId>,
}

impl Grant {
    /// Validates a request against the catalog: every rule of `ledger.md`.
    pub fn validate(req: NewGrant, catalog: &Catalog) -> Result<Grant> {
        catalog.credit_type(&req.credit_type)?;
        if req.id.as_str().contains(DERIVED_ID_MARK) {
            return Err(LedgerError::invalid("id", "must not contain `~` (reserved for ids the ledger derives)"));
        }
        let amount = Credits::positive(req.amount, "amount")?;
        let priority = req.priority.unwrap_or(DEFAULT_PRIORITY);
        if !PRIORITY_RANGE.contains(&priority) {
            return Err(LedgerError::invalid("priority", "must be between 1 and 100"));
        }
        if let Some(exp) = req.expires_at {
            if exp <= req.effective_at {
                return Err(LedgerError::invalid("expires_at", "must be after effective_at"));
            }
        }
        let products = match req.products {
            None => None,
            Some(mut list) => {
                if list.is_empty() {
                    return Err(LedgerError::invalid("products", "must not be empty; omit it to admit every product"));
                }
                catalog.check_products_of(&req.credit_type, &list)?;
                list.sort();
                list.dedup();
                Some(Arc::from(list))
            }
        };
        if req.rollover.is_some() && req.expires_at.is_none() {
            return Err(LedgerError::invalid(
                "rollover",
                "needs expires_at: a grant that never expires never rolls over",
            ));
        }
        let cost_basis = req.cost_basis.map(|m| Money::non_negative(m.amount, m.currency, "cost_basis")).transpose()?;
        let ticket_ref = req.ticket_ref.map(|t| check_text("ticket_ref", t.trim(), 200)).transpose()?;
        let note = req.note.map(|n| check_text("note", &n, 2000)).transpose()?;
        Ok(Grant {
            id: req.id,
            customer: req.customer,
            credit_type: req.credit_type,
            amount,
            category: req.category,
            source: req.source,
            priority,
            effective_at: req.effective_at,
            expires_at: req.expires_at,
            products,
            contract_id: req.contract_id,
            cost_basis,
            rollover: req.rollover,
            parent: None,
            reason_code: req.reason_code,
            ticket_ref,
            note,
            created_by: req.created_by,
            approved_by: req.approved_by,
        })
    }

    /// Whether usage of `product` may burn this grant.
    pub fn admits(&self, product: &ProductId) -> bool {
        match &self.products {
            None => true,
            Some(list) => list.binary_search(product).is_ok(),
        }
    }

    /// Whether the grant is expired at `t` (expiry is exclusive: at
    /// `expires_at` itself the grant is already expired).
    pub fn is_expired_at(&self, t: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|e| t >= e)
    }

    /// Effective and not expired at `t` (ignores voids and remainders).
    pub fn in_term_at(&self, t: DateTime<Utc>) -> bool {
        self.effective_at <= t && !self.is_expired_at(t)
    }
}
