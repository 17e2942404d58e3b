//! Voids and reversals: the corrections support and finance make.

use std::sync::Arc;

use chrono::TimeDelta;
use serde::Serialize;

use super::WalletState;
use crate::amount::Credits;
use crate::entry::{Entry, EntryKind, Line, Posting};
use crate::error::{LedgerError, Result};
use crate::grant::{Grant, GrantSource};
use crate::ids::{derived_grant_id, EventId, GrantId, ReasonCode};

/// What a reversal restored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Reversal {
    /// `reversal` entries on grants that are still live.
    pub restored: Vec<(GrantId, Credits)>,
    /// New `dispute_refund` grants for parts whose grant expired or was voided.
    pub refund_grants: Vec<(GrantId, Credits)>,
    /// Outstanding overage cancelled.
    pub overage_cancelled: Credits,
}

impl Reversal {
    pub fn total(&self) -> Credits {
        self.restored.iter().chain(&self.refund_grants).map(|(_, c)| *c).sum::<Credits>() + self.overage_cancelled
    }
}

impl WalletState {
    /// Voids a grant: its remainder is forfeited now (`void` entry). Earlier
    /// burns stand; the grant is never eligible again, not even for late
    /// events. A grant not yet effective is voided as of its `effective_at`,
    /// so its balance never dips below zero at any instant.
    pub fn void(&mut self, grant: &GrantId, posting: &mut Posting) -> Result<Credits> {
        let gi = *self.index.get(grant).ok_or_else(|| LedgerError::not_found("grant", grant))?;
        let g = &self.grants[gi];
        if g.is_voided() {
            return Err(LedgerError::GrantState { grant: grant.to_string(), rule: "is already voided" });
        }
        if g.grant.is_expired_at(posting.recorded_at) {
            return Err(LedgerError::GrantState {
                grant: grant.to_string(),
                rule: "has expired; nothing is left to void",
            });
        }
        self.catch_up(posting);
        let g = &self.grants[gi];
        let remainder = g.totals.remaining();
        let booked_at = posting.recorded_at.max(g.grant.effective_at);
        if let Some(exp) = g.grant.expires_at {
            self.pending_expiries.remove(&(exp, gi));
        }
        self.write(
            gi,
            Line {
                grant: Some(grant.clone()),
                kind: EntryKind::Void,
                amount: -remainder,
                booked_at,
                event: None,
                product: None,
                related: None,
                system: false,
            },
            posting,
        );
        Ok(remainder)
    }

    /// Reverses usage event `event` (a dispute outcome), given every entry
    /// linked to it (`event_entries`: its burns, overage, settlements of that
    /// overage, and any earlier reversal).
    ///
    /// Each burn or settlement goes back to its grant (`reversal`) if that
    /// grant is still live, else into a new `dispute_refund` grant that
    /// expires `refund_expiry` from now. Unsettled overage is cancelled. An
    /// event is reversed at most once.
    pub fn reverse(
        &mut self,
        event: &EventId,
        event_entries: &[Entry],
        refund_expiry: TimeDelta,
        posting: &mut Posting,
    ) -> Result<Reversal> {
        if refund_expiry <= TimeDelta::zero() {
            return Err(LedgerError::invalid("refund_expiry", "must be a positive duration"));
        }
        let mine: Vec<&Entry> = event_entries.iter().filter(|e| e.event.as_ref() == Some(event)).collect();
        let reversed_before = mine.iter().any(|e| {
            e.kind == EntryKind::Reversal
                || (e.kind == EntryKind::Grant
                    && e.grant
                        .as_ref()
                        .and_then(|g| self.grant(g))
                        .is_some_and(|g| g.grant.source == GrantSource::DisputeRefund))
        });
        if reversed_before {
            return Err(LedgerError::AlreadyReversed { event: event.to_string() });
        }
        // (grant, amount, entry undone); grant None = unsettled overage.
        let mut parts: Vec<(Option<GrantId>, Credits, u64)> = Vec::new();
        for e in &mine {
            match e.kind {
                EntryKind::Burn | EntryKind::OverageSettled => parts.push((e.grant.clone(), -e.amount, e.seq)),
                EntryKind::Overage => {
                    let settled: Credits = mine
                        .iter()
                        .filter(|s| s.kind == EntryKind::OverageSettled && s.related == Some(e.seq))
                        .map(|s| -s.amount)
                        .sum();
                    parts.push((None, -e.amount - settled, e.seq));
                }
                _ => {}
            }
        }
        parts.retain(|(_, amount, _)| amount.is_positive());
        if parts.is_empty() {
            return Err(LedgerError::NothingToReverse { event: event.to_string() });
        }
        for (grant, _, _) in &parts {
            if let Some(g) = grant {
                if !self.index.contains_key(g) {
                    return Err(LedgerError::not_found("grant", g));
                }
            }
        }

        self.catch_up(posting);
        let now = posting.recorded_at;
        let mut outcome = Reversal::default();
        for (n, (grant, amount, undone)) in parts.into_iter().enumerate() {
            let line = |grant: Option<GrantId>| Line {
                grant,
                kind: EntryKind::Reversal,
                amount,
                booked_at: now,
                event: Some(event.clone()),
                product: None,
                related: Some(undone),
                system: false,
            };
            let Some(grant_id) = grant else {
                posting.write(&self.customer, &self.credit_type.id, line(None));
                if let Some(item) = self.overages.iter_mut().find(|o| o.seq == undone) {
                    item.reversed += amount;
                    self.outstanding -= amount;
                }
                self.overages.retain(|o| o.outstanding().is_positive());
                outcome.overage_cancelled += amount;
                continue;
            };
            let gi = self.index[&grant_id];
            let g = &self.grants[gi];
            let live = !g.is_voided() && g.expiry_seq.is_none() && g.grant.in_term_at(now);
            if live {
                self.write(gi, line(Some(grant_id.clone())), posting);
                self.settle_dirty = true;
                outcome.restored.push((grant_id, amount));
            } else {
                let refund = refund_grant(&g.grant, event, n, amount, now, refund_expiry, posting);
                let id = refund.id.clone();
                self.book_new_grant(Arc::new(refund), Some(event.clone()), Some(undone), false, posting);
                outcome.refund_grants.push((id, amount));
            }
        }
        self.catch_up(posting);
        Ok(outcome)
    }
}

/// A `dispute_refund` grant restoring credits whose grant is gone. It keeps
/// the original grant's category, priority, products and contract, so the
/// refund burns the way the original would have.
fn refund_grant(
    original: &Grant,
    event: &EventId,
    n: usize,
    amount: Credits,
    now: chrono::DateTime<chrono::Utc>,
    refund_expiry: TimeDelta,
    posting: &Posting,
) -> Grant {
    Grant {
        id: derived_grant_id(event, &format!("refund{n}"), posting.next_seq),
        customer: original.customer.clone(),
        credit_type: original.credit_type.clone(),
        amount,
        category: original.category,
        source: GrantSource::DisputeRefund,
        priority: original.priority,
        effective_at: now,
        expires_at: now.checked_add_signed(refund_expiry),
        products: original.products.clone(),
        contract_id: original.contract_id.clone(),
        cost_basis: None,
        rollover: None,
        parent: Some(original.id.clone()),
        reason_code: posting.by.reason_code.clone().unwrap_or_else(ReasonCode::dispute_refund),
        ticket_ref: posting.by.ticket_ref.clone(),
        note: posting.by.note.clone(),
        created_by: posting.by.actor.clone(),
        approved_by: None,
    }
}
