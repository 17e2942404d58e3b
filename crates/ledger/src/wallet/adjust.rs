//! Voids and reversals: the corrections support and finance make.

use std::sync::Arc;

use chrono::TimeDelta;
use serde::Serialize;

use super::WalletState;
use crate::amount::Credits;
use crate::entry::{Entry, EntryKind, Line, Posting};
use crate::error::{LedgerError, Result};
use crate::grant::{Grant, GrantSource};
use crate::ids::{derived_grant_id, EventId, GrantId, ProductId, ReasonCode};

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
                // `0 - x`, not `-x`: a zero remainder is written `0`, not `-0`.
                amount: Credits::ZERO - remainder,
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
        let mut parts = reversal_parts(&mine);
        if parts.is_empty() {
            return Err(LedgerError::NothingToReverse { event: event.to_string() });
        }
        // Usage up to the future skew ahead of now: a reversal booked now
        // would come before the usage it undoes.
        if mine
            .iter()
            .any(|e| matches!(e.kind, EntryKind::Burn | EntryKind::Overage) && e.booked_at > posting.recorded_at)
        {
            return Err(LedgerError::invalid(
                "event",
                "has not happened yet; it can be reversed from its event time on",
            ));
        }
        for part in &parts {
            if let Some(g) = &part.grant {
                if !self.index.contains_key(g) {
                    return Err(LedgerError::not_found("grant", g));
                }
            }
        }

        self.catch_up(posting);
        // The catch-up may have settled some of the event's overage (a grant
        // became effective since the last write): that part now goes back to
        // the paying grant rather than being cancelled as outstanding. The
        // total, and the checks above, are unchanged by this.
        if posting.entries.iter().any(|e| e.event.as_ref() == Some(event)) {
            let caught_up: Vec<&Entry> = mine
                .iter()
                .copied()
                .chain(posting.entries.iter().filter(|e| e.event.as_ref() == Some(event)))
                .collect();
            parts = reversal_parts(&caught_up);
        }
        let now = posting.recorded_at;
        let mut outcome = Reversal::default();
        for (n, Part { grant, amount, undone, product }) in parts.into_iter().enumerate() {
            let line = |grant: Option<GrantId>| Line {
                grant,
                kind: EntryKind::Reversal,
                amount,
                booked_at: now,
                event: Some(event.clone()),
                product: product.clone(),
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
        self.settle_now(posting);
        Ok(outcome)
    }
}

/// One thing a reversal gives back.
struct Part {
    /// The grant to restore; `None` for unsettled overage.
    grant: Option<GrantId>,
    amount: Credits,
    /// The burn, settlement or overage entry undone.
    undone: u64,
    /// The product of the usage, so reversals show per product in series.
    product: Option<ProductId>,
}

/// What reversing an event gives back, from its entries: each burn and each
/// settlement of its overage to its grant, and the unsettled rest of its
/// overage (grant `None`); zeros dropped.
fn reversal_parts(mine: &[&Entry]) -> Vec<Part> {
    let mut parts = Vec::new();
    for e in mine {
        let part = |grant, amount| Part { grant, amount, undone: e.seq, product: e.product.clone() };
        match e.kind {
            EntryKind::Burn | EntryKind::OverageSettled => parts.push(part(e.grant.clone(), -e.amount)),
            EntryKind::Overage => {
                let settled: Credits = mine
                    .iter()
                    .filter(|s| s.kind == EntryKind::OverageSettled && s.related == Some(e.seq))
                    .map(|s| -s.amount)
                    .sum();
                parts.push(part(None, -e.amount - settled));
            }
            _ => {}
        }
    }
    parts.retain(|p| p.amount.is_positive());
    parts
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
