//! One wallet: a customer's grants of one credit type, their running totals,
//! and the outstanding overage. Every write operation first calls
//! [`WalletState::catch_up`], which books what time alone has made due
//! (expiries, rollovers, overage settlement), so the outcome of an operation
//! never depends on whether a background sweeper ran before it.
//!
//! Operations check everything that can fail before they change anything, so
//! an `Err` leaves the wallet and the posting untouched.

mod adjust;
mod allocation;
mod catch_up;

use std::collections::BTreeSet;

use foldhash::{HashMap, HashMapExt};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use adjust::Reversal;
pub use allocation::{burn_order_cmp, Allocation};
pub(crate) use catch_up::rollover_grant;

use crate::amount::Credits;
use crate::catalog::{CreditType, OverageMode};
use crate::entry::{Entry, EntryKind, Line, Posting};
use crate::error::{LedgerError, Result};
use crate::grant::Grant;
use crate::ids::{CustomerId, EventId, GrantId, ProductId};

/// Every term of the per-grant conservation invariant:
/// `amount + reversed + corrected = burned + expired + rolled + voided + settled + remaining`.
/// All terms are magnitudes (>= 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GrantTotals {
    pub amount: Credits,
    pub burned: Credits,
    pub settled: Credits,
    pub expired: Credits,
    pub corrected: Credits,
    pub rolled: Credits,
    pub voided: Credits,
    pub reversed: Credits,
}

impl GrantTotals {
    pub fn remaining(&self) -> Credits {
        self.amount + self.reversed + self.corrected
            - self.burned
            - self.settled
            - self.expired
            - self.rolled
            - self.voided
    }

    /// Folds one entry on this grant into the totals.
    pub fn apply(&mut self, kind: EntryKind, amount: Credits) {
        match kind {
            EntryKind::Grant => self.amount += amount,
            EntryKind::Burn => self.burned -= amount,
            EntryKind::OverageSettled => self.settled -= amount,
            EntryKind::Expire => self.expired -= amount,
            EntryKind::ExpiryCorrection => self.corrected += amount,
            EntryKind::RolloverOut => self.rolled -= amount,
            EntryKind::Void => self.voided -= amount,
            EntryKind::Reversal => self.reversed += amount,
            EntryKind::Overage => {}
        }
    }
}

/// A grant inside a wallet: the immutable grant plus what has happened to it.
#[derive(Clone, Debug)]
pub struct GrantState {
    pub grant: Arc<Grant>,
    pub totals: GrantTotals,
    /// When the void took effect, if voided.
    pub voided_at: Option<DateTime<Utc>>,
    /// The `expire` entry, once written: the expiry is done.
    pub expiry_seq: Option<u64>,
    /// Credits given back by reversals: (booked_at, amount).
    pub restored: Vec<(DateTime<Utc>, Credits)>,
}

impl GrantState {
    /// What usage or settlement booked at `t` may still take from this grant,
    /// and whether it comes out of the expired remainder (which then needs an
    /// `expiry_correction`). The rolled-over part is never taken back.
    pub fn drawable_at(&self, t: DateTime<Utc>) -> (Credits, bool) {
        if self.voided_at.is_some() || !self.grant.in_term_at(t) {
            return (Credits::ZERO, false);
        }
        let (left, from_expired) = match self.expiry_seq {
            None => (self.totals.remaining(), false),
            Some(_) => (self.totals.expired - self.totals.corrected, true),
        };
        // Credits a reversal gave back after `t` were not there at `t`: a
        // late draw that used them would leave the grant negative in between.
        let restored_later: Credits = self.restored.iter().filter(|(b, _)| *b > t).map(|(_, c)| *c).sum();
        ((left - restored_later).max(Credits::ZERO), from_expired)
    }

    pub fn is_voided(&self) -> bool {
        self.voided_at.is_some()
    }
}

/// Usage no grant covered, still owed (in full or in part).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverageItem {
    /// The `overage` entry.
    pub seq: u64,
    pub product: ProductId,
    pub event: Option<EventId>,
    pub booked_at: DateTime<Utc>,
    /// Magnitude of the overage entry.
    pub amount: Credits,
    pub settled: Credits,
    pub reversed: Credits,
}

impl OverageItem {
    pub fn outstanding(&self) -> Credits {
        self.amount - self.settled - self.reversed
    }
}

/// The live state of one (customer, credit type) wallet.
#[derive(Clone, Debug)]
pub struct WalletState {
    customer: CustomerId,
    credit_type: Arc<CreditType>,
    grants: Vec<GrantState>,
    index: HashMap<GrantId, usize>,
    /// Grant indices in burn order (static per grant, so kept sorted).
    burn_order: Vec<usize>,
    /// Overage with something outstanding, oldest first.
    overages: Vec<OverageItem>,
    outstanding: Credits,
    /// Expiries not yet booked: (expires_at, grant index).
    pending_expiries: BTreeSet<(DateTime<Utc>, usize)>,
    /// Grants whose `effective_at` catch-up has not passed yet.
    pending_activations: BTreeSet<(DateTime<Utc>, usize)>,
    /// Something may have made overage settlement possible.
    settle_dirty: bool,
    /// Settlements may only be booked after this instant. Set on snapshots:
    /// the ledger already decided every settlement up to its last catch-up,
    /// with knowledge a snapshot at an instant lacks (entries booked later).
    settled_through: Option<DateTime<Utc>>,
}

impl WalletState {
    pub fn new(customer: CustomerId, credit_type: Arc<CreditType>) -> WalletState {
        WalletState {
            customer,
            credit_type,
            grants: Vec::new(),
            index: HashMap::new(),
            burn_order: Vec::new(),
            overages: Vec::new(),
            outstanding: Credits::ZERO,
            pending_expiries: BTreeSet::new(),
            pending_activations: BTreeSet::new(),
            settle_dirty: false,
            settled_through: None,
        }
    }

    /// Rebuilds a wallet from its grants and entries, in any order: what a
    /// store loads, and the reference the incremental path is tested against.
    pub fn replay<'a>(
        customer: CustomerId,
        credit_type: Arc<CreditType>,
        grants: impl IntoIterator<Item = Arc<Grant>>,
        entries: impl IntoIterator<Item = &'a Entry>,
    ) -> Result<WalletState> {
        let mut w = WalletState::new(customer, credit_type);
        for g in grants {
            w.insert_grant(g)?;
        }
        let mut overage_links: Vec<&Entry> = Vec::new();
        for e in entries {
            if e.customer != w.customer || e.credit_type != w.credit_type.id {
                return Err(LedgerError::invalid("entries", "belong to another wallet"));
            }
            match (&e.grant, e.kind) {
                (None, EntryKind::Overage) => w.overages.push(OverageItem {
                    seq: e.seq,
                    product: e
                        .product
                        .clone()
                        .ok_or_else(|| LedgerError::invalid("entries", "overage without product"))?,
                    event: e.event.clone(),
                    booked_at: e.booked_at,
                    amount: -e.amount,
                    settled: Credits::ZERO,
                    reversed: Credits::ZERO,
                }),
                (None, EntryKind::Reversal) => overage_links.push(e),
                (None, _) => return Err(LedgerError::invalid("entries", "only overage entries may lack a grant")),
                (Some(id), kind) => {
                    let gi = *w.index.get(id).ok_or_else(|| LedgerError::not_found("grant", id))?;
                    let g = &mut w.grants[gi];
                    g.totals.apply(kind, e.amount);
                    match kind {
                        EntryKind::Expire => g.expiry_seq = Some(e.seq),
                        EntryKind::Void => g.voided_at = Some(e.booked_at),
                        EntryKind::Reversal => g.restored.push((e.booked_at, e.amount)),
                        EntryKind::OverageSettled => overage_links.push(e),
                        _ => {}
                    }
                }
            }
        }
        w.overages.sort_by_key(|o| (o.booked_at, o.seq));
        let by_seq: HashMap<u64, usize> = w.overages.iter().enumerate().map(|(i, o)| (o.seq, i)).collect();
        for e in overage_links {
            let item = e.related.and_then(|seq| by_seq.get(&seq)).ok_or_else(|| {
                LedgerError::invalid("entries", "settlement or overage reversal without its overage entry")
            })?;
            let o = &mut w.overages[*item];
            match e.kind {
                EntryKind::OverageSettled => o.settled -= e.amount,
                _ => o.reversed += e.amount,
            }
        }
        w.overages.retain(|o| o.outstanding().is_positive());
        w.outstanding = w.overages.iter().map(OverageItem::outstanding).sum();
        w.settle_dirty = true;
        Ok(w)
    }

    /// Builds a wallet from grant states whose totals were folded elsewhere
    /// (the [`crate::history::History`] index, or a store's running totals),
    /// exactly as
    /// [`WalletState::replay`] would have built it from the same entries:
    /// grants keep the given order, overage items are sorted and only those
    /// with something outstanding are kept. Builds in bulk what
    /// `insert_checked_grant` builds one grant at a time (the burn order is
    /// total, so sorting gives the same order as inserting).
    pub fn restore(
        customer: CustomerId,
        credit_type: Arc<CreditType>,
        grants: Vec<GrantState>,
        mut overages: Vec<OverageItem>,
    ) -> Result<WalletState> {
        let mut w = WalletState::new(customer, credit_type);
        w.grants.reserve(grants.len());
        for g in grants {
            w.check_new_grant(&g.grant)?;
            w.index.insert(g.grant.id.clone(), w.grants.len());
            w.grants.push(g);
        }
        let mut order: Vec<usize> = (0..w.grants.len()).collect();
        let keys = &w.credit_type.burn_order;
        order.sort_unstable_by(|&a, &b| burn_order_cmp(keys, &w.grants[a].grant, &w.grants[b].grant));
        w.burn_order = order;
        w.pending_expiries =
            w.grants.iter().enumerate().filter_map(|(gi, g)| g.grant.expires_at.map(|t| (t, gi))).collect();
        w.pending_activations = w.grants.iter().enumerate().map(|(gi, g)| (g.grant.effective_at, gi)).collect();
        overages.sort_by_key(|o| (o.booked_at, o.seq));
        overages.retain(|o| o.outstanding().is_positive());
        w.outstanding = overages.iter().map(OverageItem::outstanding).sum();
        w.overages = overages;
        w.settle_dirty = true;
        Ok(w)
    }

    fn check_new_grant(&self, grant: &Grant) -> Result<()> {
        if grant.customer != self.customer || grant.credit_type != self.credit_type.id {
            return Err(LedgerError::invalid("grant", "belongs to another wallet"));
        }
        if self.index.contains_key(&grant.id) {
            return Err(LedgerError::AlreadyExists { what: "grant", id: grant.id.to_string() });
        }
        Ok(())
    }

    fn insert_grant(&mut self, grant: Arc<Grant>) -> Result<usize> {
        self.check_new_grant(&grant)?;
        Ok(self.insert_checked_grant(grant))
    }

    /// Inserts a grant whose id is known to be new (checked, or derived).
    fn insert_checked_grant(&mut self, grant: Arc<Grant>) -> usize {
        let gi = self.grants.len();
        if let Some(exp) = grant.expires_at {
            self.pending_expiries.insert((exp, gi));
        }
        self.pending_activations.insert((grant.effective_at, gi));
        let order = &self.credit_type.burn_order;
        let pos =
            self.burn_order.partition_point(|&other| burn_order_cmp(order, &self.grants[other].grant, &grant).is_lt());
        self.burn_order.insert(pos, gi);
        self.index.insert(grant.id.clone(), gi);
        self.grants.push(GrantState {
            grant,
            totals: GrantTotals::default(),
            voided_at: None,
            expiry_seq: None,
            restored: Vec::new(),
        });
        gi
    }

    /// Adds a validated grant: writes its `grant` entry (booked at
    /// `effective_at`), then settles outstanding overage it can pay.
    pub fn add_grant(&mut self, grant: Grant, posting: &mut Posting) -> Result<()> {
        self.check_new_grant(&grant)?;
        self.catch_up(posting);
        self.book_new_grant(Arc::new(grant), None, None, false, posting);
        self.catch_up(posting);
        Ok(())
    }

    /// Inserts a grant whose id is known to be new and writes its `grant` entry.
    fn book_new_grant(
        &mut self,
        grant: Arc<Grant>,
        event: Option<EventId>,
        related: Option<u64>,
        system: bool,
        posting: &mut Posting,
    ) -> usize {
        let gi = self.insert_checked_grant(grant.clone());
        let line = Line {
            grant: Some(grant.id.clone()),
            kind: EntryKind::Grant,
            amount: grant.amount,
            booked_at: grant.effective_at,
            event,
            product: None,
            related,
            system,
        };
        self.write(gi, line, posting);
        posting.grants.push(grant);
        self.settle_dirty = true;
        gi
    }

    /// Writes an entry on grant `gi` and folds it into the running totals.
    fn write(&mut self, gi: usize, line: Line, posting: &mut Posting) -> u64 {
        let (kind, amount, booked_at) = (line.kind, line.amount, line.booked_at);
        let seq = posting.write(&self.customer, &self.credit_type.id, line);
        let g = &mut self.grants[gi];
        g.totals.apply(kind, amount);
        match kind {
            EntryKind::Expire => g.expiry_seq = Some(seq),
            EntryKind::Void => g.voided_at = Some(booked_at),
            EntryKind::Reversal => g.restored.push((booked_at, amount)),
            _ => {}
        }
        seq
    }

    /// Books no settlement at or before `t` (see `settled_through`).
    pub fn settle_only_after(&mut self, t: DateTime<Utc>) {
        self.settled_through = Some(t);
    }

    pub fn customer(&self) -> &CustomerId {
        &self.customer
    }

    pub fn credit_type(&self) -> &Arc<CreditType> {
        &self.credit_type
    }

    /// Grants in creation order.
    pub fn grants(&self) -> &[GrantState] {
        &self.grants
    }

    pub fn grant(&self, id: &GrantId) -> Option<&GrantState> {
        self.index.get(id).map(|&i| &self.grants[i])
    }

    /// Grants in burn order.
    pub fn grants_in_burn_order(&self) -> impl Iterator<Item = &GrantState> {
        self.burn_order.iter().map(|&i| &self.grants[i])
    }

    pub fn outstanding_overage(&self) -> Credits {
        self.outstanding
    }

    pub fn overage_items(&self) -> &[OverageItem] {
        &self.overages
    }

    pub fn overage_mode(&self) -> OverageMode {
        self.credit_type.overage_mode
    }

    /// What usage of `product` at `t` could draw right now: the sum over
    /// eligible grants. `POST /v1/authorize` compares against it; nothing is
    /// reserved.
    pub fn available_for(&self, product: &ProductId, t: DateTime<Utc>) -> Credits {
        self.grants
            .iter()
            .filter(|g| g.grant.admits(product) && !g.grant.is_expired_at(t))
            .map(|g| g.drawable_at(t).0)
            .sum()
    }
}

#[cfg(test)]
mod tests;
