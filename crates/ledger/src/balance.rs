//! Balances: what a wallet holds at an instant, grant by grant.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::amount::Credits;
use crate::grant::{Grant, GrantSource};
use crate::ids::{CreditTypeId, CustomerId};
use crate::wallet::{GrantTotals, WalletState};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantStatus {
    /// Not yet effective.
    Pending,
    /// Effective, not expired, not voided (possibly used up).
    Active,
    Expired,
    Voided,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GrantBalance {
    pub grant: Arc<Grant>,
    pub status: GrantStatus,
    /// Every term of the conservation invariant, from entries booked by then.
    pub totals: GrantTotals,
    /// What the grant holds (for a pending grant: what it will hold).
    pub remaining: Credits,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ExpiringAmount {
    pub expires_at: DateTime<Utc>,
    pub amount: Credits,
}

/// A wallet's balance at instant `at`, as known at recorded time `as_of`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Balance {
    pub customer: CustomerId,
    pub credit_type: CreditTypeId,
    pub at: DateTime<Utc>,
    pub as_of: DateTime<Utc>,
    /// What live grants hold.
    pub available: Credits,
    /// Grants not yet effective (excluding any already known to be voided).
    pub pending: Credits,
    /// Outstanding overage.
    pub overage: Credits,
    /// `available - overage`.
    pub net: Credits,
    /// Live grants' remainders by expiry instant, soonest first.
    pub expiring: Vec<ExpiringAmount>,
    /// Every grant known at `as_of`, in burn order.
    pub grants: Vec<GrantBalance>,
}

/// Reads a balance off a wallet that reflects exactly the entries booked by
/// `at` (a [`crate::history::History`] snapshot, caught up to `at`).
/// `voided_later` tells whether a grant is known to be voided with effect
/// after `at` (a pending grant voided before it started is not pending).
pub fn balance_view(
    state: &WalletState,
    at: DateTime<Utc>,
    as_of: DateTime<Utc>,
    voided_later: impl Fn(&Grant) -> bool,
) -> Balance {
    let mut available = Credits::ZERO;
    let mut pending = Credits::ZERO;
    let mut expiring: BTreeMap<DateTime<Utc>, Credits> = BTreeMap::new();
    let grants = state
        .grants_in_burn_order()
        // A rollover grant exists only from its parent's expiry on; before
        // that its credits are still the parent's, so it is not pending.
        .filter(|g| !(g.grant.source == GrantSource::Rollover && g.grant.effective_at > at))
        .map(|g| {
            let status = if g.voided_at.is_some_and(|v| v <= at) {
                GrantStatus::Voided
            } else if g.grant.effective_at > at {
                GrantStatus::Pending
            } else if g.grant.is_expired_at(at) {
                GrantStatus::Expired
            } else {
                GrantStatus::Active
            };
            // A pending grant's entries are booked later; show what it will
            // hold, keeping the per-grant identity true.
            let (totals, remaining) = match status {
                GrantStatus::Pending => {
                    let amount = g.grant.amount;
                    if voided_later(&g.grant) {
                        (GrantTotals { amount, voided: amount, ..GrantTotals::default() }, Credits::ZERO)
                    } else {
                        (GrantTotals { amount, ..GrantTotals::default() }, amount)
                    }
                }
                _ => (g.totals, g.totals.remaining()),
            };
            match status {
                GrantStatus::Active => {
                    available += remaining;
                    if let (Some(exp), true) = (g.grant.expires_at, remaining.is_positive()) {
                        *expiring.entry(exp).or_default() += remaining;
                    }
                }
                GrantStatus::Pending => pending += remaining,
                _ => {}
            }
            GrantBalance { grant: g.grant.clone(), status, totals, remaining }
        })
        .collect();
    let overage = state.outstanding_overage();
    Balance {
        customer: state.customer().clone(),
        credit_type: state.credit_type().id.clone(),
        at,
        as_of,
        available,
        pending,
        overage,
        net: available - overage,
        expiring: expiring.into_iter().map(|(expires_at, amount)| ExpiringAmount { expires_at, amount }).collect(),
        grants,
    }
}
