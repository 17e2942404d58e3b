//! Burn allocation: which grants a usage event draws from, in what order.

use std::cmp::Ordering;

use serde::Serialize;

use super::WalletState;
use crate::amount::Credits;
use crate::catalog::{BurnOrder, BurnOrderKey, OverageMode};
use crate::entry::{EntryKind, Line, Posting};
use crate::event::UsageEvent;
use crate::grant::{Grant, GrantCategory};
use crate::ids::GrantId;

/// Compares two grants in a credit type's burn order. The keys are applied in
/// the configured order; the grant id breaks any remaining tie, so the order
/// is total whatever the configuration.
pub fn burn_order_cmp(order: &BurnOrder, a: &Grant, b: &Grant) -> Ordering {
    for key in order.keys() {
        let ord = match key {
            BurnOrderKey::Priority => a.priority.cmp(&b.priority),
            // `true` (restricted) sorts first.
            BurnOrderKey::RestrictedFirst => b.products.is_some().cmp(&a.products.is_some()),
            BurnOrderKey::ExpiresAt => match (a.expires_at, b.expires_at) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            },
            BurnOrderKey::PromotionalFirst => {
                let promo = |g: &Grant| g.category == GrantCategory::Promotional;
                promo(b).cmp(&promo(a))
            }
            BurnOrderKey::EffectiveAt => a.effective_at.cmp(&b.effective_at),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    a.id.cmp(&b.id)
}

/// How one event's credits were covered.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Allocation {
    /// One line per grant touched, in burn order.
    pub burns: Vec<(GrantId, Credits)>,
    /// What no grant covered.
    pub overage: Credits,
}

impl WalletState {
    /// Burns `credits` (already rated) for `event` at its event time.
    ///
    /// Eligible grants: effective at t, not expired at t, never voided,
    /// admitting the product, with something left. A late event may draw on a
    /// remainder already booked as expired; that writes an
    /// `expiry_correction` beside the burn. What nothing covers becomes one
    /// `overage` entry. Burns already booked are never re-allocated.
    pub fn burn(&mut self, event: &UsageEvent, credits: Credits, posting: &mut Posting) -> Allocation {
        self.catch_up(posting);
        let t = event.timestamp;
        let mut need = credits;
        let mut allocation = Allocation::default();
        let mut i = 0;
        while need.is_positive() && i < self.burn_order.len() {
            let gi = self.burn_order[i];
            i += 1;
            let g = &self.grants[gi];
            if !g.grant.admits(&event.product) {
                continue;
            }
            let (drawable, from_expired) = g.drawable_at(t);
            if !drawable.is_positive() {
                continue;
            }
            let take = drawable.min(need);
            need -= take;
            let grant_id = g.grant.id.clone();
            let burn_seq = self.write(
                gi,
                Line {
                    grant: Some(grant_id.clone()),
                    kind: EntryKind::Burn,
                    amount: -take,
                    booked_at: t,
                    event: Some(event.id.clone()),
                    product: Some(event.product.clone()),
                    related: None,
                    system: false,
                },
                posting,
            );
            if from_expired {
                self.correct_expiry(gi, take, burn_seq, posting);
            }
            allocation.burns.push((grant_id, take));
        }
        if need.is_positive() {
            let seq = posting.write(
                &self.customer,
                &self.credit_type.id,
                Line {
                    grant: None,
                    kind: EntryKind::Overage,
                    amount: -need,
                    booked_at: t,
                    event: Some(event.id.clone()),
                    product: Some(event.product.clone()),
                    related: None,
                    system: false,
                },
            );
            self.push_overage(super::OverageItem {
                seq,
                product: event.product.clone(),
                event: Some(event.id.clone()),
                booked_at: t,
                amount: need,
                settled: Credits::ZERO,
                reversed: Credits::ZERO,
            });
            allocation.overage = need;
            if self.credit_type.overage_mode == OverageMode::CarryForward {
                // A late event's overage may be payable by a grant that
                // became effective after its event time.
                self.settle_dirty = true;
                self.catch_up(posting);
            }
        }
        allocation
    }

    /// Books `+amount` against a grant's expired remainder (at its expiry
    /// instant), because a late burn or settlement took it.
    pub(super) fn correct_expiry(&mut self, gi: usize, amount: Credits, cause: u64, posting: &mut Posting) {
        let g = &self.grants[gi];
        let (Some(expires_at), Some(_)) = (g.grant.expires_at, g.expiry_seq) else {
            return;
        };
        let grant_id = g.grant.id.clone();
        let event = posting.entries.iter().rev().find(|e| e.seq == cause).and_then(|e| e.event.clone());
        self.write(
            gi,
            Line {
                grant: Some(grant_id),
                kind: EntryKind::ExpiryCorrection,
                amount,
                booked_at: expires_at,
                event,
                product: None,
                related: Some(cause),
                system: true,
            },
            posting,
        );
    }

    pub(super) fn push_overage(&mut self, item: super::OverageItem) {
        self.outstanding += item.outstanding();
        let key = (item.booked_at, item.seq);
        let pos = self.overages.partition_point(|o| (o.booked_at, o.seq) < key);
        self.overages.insert(pos, item);
    }
}
