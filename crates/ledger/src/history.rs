//! A wallet's history: every grant and entry, indexed so that the wallet's
//! state at any instant, as known at any recorded time, can be rebuilt.
//!
//! Queries at (`at`, `as_of`) count the entries booked at or before `at` and
//! recorded at or before `as_of`, then run the same catch-up the live wallet
//! runs (expiry, rollover, settlement) up to `at`, virtually: a balance is
//! right whether or not a sweeper has written those entries yet.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::balance::{balance_view, Balance};
use crate::catalog::CreditType;
use crate::entry::{Attribution, Entry, EntryKind, Posting};
use crate::error::Result;
use crate::grant::Grant;
use crate::ids::{CustomerId, GrantId};
use crate::wallet::WalletState;

/// A grant as the history knows it: when it was recorded.
#[derive(Clone, Debug)]
pub struct RecordedGrant {
    pub grant: Arc<Grant>,
    pub recorded_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct History {
    customer: CustomerId,
    credit_type: Arc<CreditType>,
    grants: Vec<RecordedGrant>,
    entries: Vec<Entry>,
}

impl History {
    pub fn new(customer: CustomerId, credit_type: Arc<CreditType>) -> History {
        History { customer, credit_type, grants: Vec::new(), entries: Vec::new() }
    }

    /// Appends what one posting wrote for this wallet.
    pub fn record(&mut self, posting: &Posting) {
        for g in &posting.grants {
            if g.customer == self.customer && g.credit_type == self.credit_type.id {
                self.grants.push(RecordedGrant { grant: g.clone(), recorded_at: posting.recorded_at });
            }
        }
        for e in &posting.entries {
            if e.customer == self.customer && e.credit_type == self.credit_type.id {
                self.entries.push(e.clone());
            }
        }
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn grants(&self) -> &[RecordedGrant] {
        &self.grants
    }

    /// The wallet at `at` as known at `as_of`, caught up (virtually) to `at`.
    pub fn snapshot(&self, at: DateTime<Utc>, as_of: DateTime<Utc>) -> Result<WalletState> {
        let grants = self.grants.iter().filter(|g| g.recorded_at <= as_of).map(|g| g.grant.clone());
        let entries = self.entries.iter().filter(|e| e.booked_at <= at && e.recorded_at <= as_of);
        let mut state = WalletState::replay(self.customer.clone(), self.credit_type.clone(), grants, entries)?;
        let mut scratch = Posting::new(at, u64::MAX / 2, Attribution::system());
        state.catch_up(&mut scratch);
        Ok(state)
    }

    /// The balance at `at` as known at `as_of`.
    pub fn balance(&self, at: DateTime<Utc>, as_of: DateTime<Utc>) -> Result<Balance> {
        let state = self.snapshot(at, as_of)?;
        let voided: HashSet<&GrantId> = self
            .entries
            .iter()
            .filter(|e| e.kind == EntryKind::Void && e.recorded_at <= as_of)
            .filter_map(|e| e.grant.as_ref())
            .collect();
        Ok(balance_view(&state, at, as_of, |g| voided.contains(&g.id)))
    }
}
