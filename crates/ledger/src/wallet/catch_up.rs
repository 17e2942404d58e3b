//! What time alone makes due: expiry and rollover at `expires_at`, and (in
//! `carry_forward` mode) settlement of outstanding overage by grants that
//! became effective after it. Processed in time order, so a grant pays
//! overage before it expires, and the same entries are written whether this
//! runs once for a long gap or many times along the way.

use chrono::{DateTime, Utc};

use super::WalletState;
use crate::amount::Credits;
use crate::catalog::OverageMode;
use crate::entry::{EntryKind, Line, Posting};
use crate::grant::{Grant, GrantSource, RolloverPolicy};
use crate::ids::{derived_grant_id, ReasonCode};

/// Which settlement booking times a pass may use.
#[derive(Clone, Copy)]
enum Bound {
    Before(DateTime<Utc>),
    UpTo(DateTime<Utc>),
}

impl Bound {
    fn admits(self, t: DateTime<Utc>) -> bool {
        match self {
            Bound::Before(x) => t < x,
            Bound::UpTo(x) => t <= x,
        }
    }
}

impl WalletState {
    /// Books everything due at or before `posting.recorded_at`. Idempotent:
    /// a second call at the same instant writes nothing.
    pub fn catch_up(&mut self, posting: &mut Posting) {
        let now = posting.recorded_at;
        while let Some(&(t, _)) = self.pending_activations.first() {
            if t > now {
                break;
            }
            self.pending_activations.pop_first();
            self.settle_dirty = true;
        }
        while let Some(&(expires_at, gi)) = self.pending_expiries.first() {
            if expires_at > now {
                break;
            }
            self.settle(Bound::Before(expires_at), None, posting);
            self.pending_expiries.pop_first();
            self.expire(gi, expires_at, posting);
        }
        self.settle(Bound::UpTo(now), None, posting);
        self.settle_dirty = self.overage_ahead_of(now);
    }

    /// Overage of usage booked ahead of now (inside the future skew) cannot
    /// be paid before its time: settlement stays due for a later catch-up.
    fn overage_ahead_of(&self, now: DateTime<Utc>) -> bool {
        self.overages.iter().any(|o| o.booked_at > now)
    }

    /// Settles what credits given back now (a reversal to a live grant) can
    /// pay, booked now: before now those credits were not in the grant, so a
    /// settlement booked earlier would overdraw it at the instants between.
    /// Runs right after a full catch-up, so nothing payable earlier is left.
    pub(super) fn settle_now(&mut self, posting: &mut Posting) {
        let now = posting.recorded_at;
        self.settle(Bound::UpTo(now), Some(now), posting);
        self.settle_dirty = self.overage_ahead_of(now);
    }

    /// The instant of the next expiry not yet booked (for sweepers).
    pub fn next_expiry(&self) -> Option<DateTime<Utc>> {
        self.pending_expiries.first().map(|&(t, _)| t)
    }

    /// Expires grant `gi` at `expires_at`: rollover first (if any), then the
    /// rest as `expire` (always written, possibly 0: it marks the expiry done).
    fn expire(&mut self, gi: usize, expires_at: DateTime<Utc>, posting: &mut Posting) {
        let g = &self.grants[gi];
        if g.expiry_seq.is_some() || g.is_voided() {
            return;
        }
        let grant = g.grant.clone();
        let remainder = g.totals.remaining().max(Credits::ZERO);
        let rolled = match grant.rollover {
            Some(policy) => policy.rolled_amount(remainder),
            None => Credits::ZERO,
        };
        if rolled.is_positive() {
            let out_seq = self.write(
                gi,
                Line {
                    grant: Some(grant.id.clone()),
                    kind: EntryKind::RolloverOut,
                    amount: -rolled,
                    booked_at: expires_at,
                    event: None,
                    product: None,
                    related: None,
                    system: true,
                },
                posting,
            );
            if let Some(policy) = grant.rollover {
                let child = rollover_grant(&grant, policy, rolled, expires_at, out_seq);
                self.book_new_grant(child.into(), None, Some(out_seq), true, posting);
            }
        }
        self.write(
            gi,
            Line {
                grant: Some(grant.id.clone()),
                kind: EntryKind::Expire,
                // `0 - x`, not `-x`: nothing left is written `0`, not `-0`.
                amount: Credits::ZERO - (remainder - rolled),
                booked_at: expires_at,
                event: None,
                product: None,
                related: None,
                system: true,
            },
            posting,
        );
    }

    /// Pays outstanding overage (oldest first) from grants that were live at
    /// the later of the overage's time and their own `effective_at`, earliest
    /// such time first, then burn order. The settlement is booked at that
    /// later time (and not before `not_before`, if given).
    fn settle(&mut self, bound: Bound, not_before: Option<DateTime<Utc>>, posting: &mut Posting) {
        if self.credit_type.overage_mode != OverageMode::CarryForward
            || !self.outstanding.is_positive()
            || !self.settle_dirty
        {
            return;
        }
        // Grants that could pay anything at all; usually none while in overage.
        let payers: Vec<usize> = self
            .burn_order
            .iter()
            .copied()
            .filter(|&gi| {
                let g = &self.grants[gi];
                !g.is_voided()
                    && match g.expiry_seq {
                        None => g.totals.remaining().is_positive(),
                        Some(_) => (g.totals.expired - g.totals.corrected).is_positive(),
                    }
            })
            .collect();
        if payers.is_empty() {
            return;
        }
        let mut oi = 0;
        while oi < self.overages.len() {
            let item = self.overages[oi].clone();
            // Each payer at the earliest time it could pay: when both the
            // overage and the grant exist; credits a reversal gave back pay
            // from the reversal's time on.
            let mut candidates: Vec<(DateTime<Utc>, usize, usize)> = Vec::new();
            for (rank, &gi) in payers.iter().enumerate() {
                let g = &self.grants[gi];
                if !g.grant.admits(&item.product) {
                    continue;
                }
                let first = item.booked_at.max(g.grant.effective_at).max(not_before.unwrap_or(item.booked_at));
                let restorations = g.restored.iter().map(|&(r, _)| r).filter(|&r| r > first);
                for at in std::iter::once(first).chain(restorations) {
                    if bound.admits(at)
                        && self.settled_through.is_none_or(|w| at > w)
                        && g.drawable_at(at).0.is_positive()
                    {
                        candidates.push((at, rank, gi));
                    }
                }
            }
            candidates.sort_unstable();
            let mut outstanding = item.outstanding();
            for (at, _, gi) in candidates {
                if !outstanding.is_positive() {
                    break;
                }
                let (drawable, from_expired) = self.grants[gi].drawable_at(at);
                let take = drawable.min(outstanding);
                if !take.is_positive() {
                    continue;
                }
                outstanding -= take;
                let seq = self.write(
                    gi,
                    Line {
                        grant: Some(self.grants[gi].grant.id.clone()),
                        kind: EntryKind::OverageSettled,
                        amount: -take,
                        booked_at: at,
                        event: item.event.clone(),
                        product: Some(item.product.clone()),
                        related: Some(item.seq),
                        system: true,
                    },
                    posting,
                );
                if from_expired {
                    self.correct_expiry(gi, take, seq, posting);
                }
                self.overages[oi].settled += take;
                self.outstanding -= take;
            }
            if self.overages[oi].outstanding().is_positive() {
                oi += 1;
            } else {
                self.overages.remove(oi);
            }
        }
    }
}

/// The grant a rollover creates: `rolled` credits, effective at the old
/// expiry, expiring `expires_after` later, with the old grant's priority,
/// category, products and contract. It does not roll over again.
pub(crate) fn rollover_grant(
    parent: &Grant,
    policy: RolloverPolicy,
    rolled: Credits,
    at: DateTime<Utc>,
    out_seq: u64,
) -> Grant {
    Grant {
        id: derived_grant_id(&parent.id, "rollover", out_seq),
        customer: parent.customer.clone(),
        credit_type: parent.credit_type.clone(),
        amount: rolled,
        category: parent.category,
        source: GrantSource::Rollover,
        priority: parent.priority,
        effective_at: at,
        expires_at: at.checked_add_signed(policy.expires_after),
        products: parent.products.clone(),
        contract_id: parent.contract_id.clone(),
        cost_basis: None,
        rollover: None,
        parent: Some(parent.id.clone()),
        reason_code: ReasonCode::rollover(),
        ticket_ref: parent.ticket_ref.clone(),
        note: None,
        created_by: crate::ids::ActorId::system(),
        approved_by: None,
    }
}
