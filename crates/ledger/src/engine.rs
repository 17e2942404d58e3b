//! An in-memory ledger: the catalog, every wallet, the idempotency index and
//! the rejected-events store, driven by an injectable clock. It is the
//! reference implementation of the whole ledger contract: the stores of the
//! billing API must give the same answers, and the scenario and property
//! tests run against it.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use crate::amount::Credits;
use crate::balance::Balance;
use crate::catalog::Catalog;
use crate::clock::Clock;
use crate::entry::{Attribution, Entry, Posting};
use crate::error::{LedgerError, Result};
use crate::event::{check_timing, classify, Idempotency, IngestPolicy, RejectReason, UsageEvent};
use crate::forecast::{forecast, Forecast, DEFAULT_HORIZON_DAYS};
use crate::grant::{Grant, NewGrant};
use crate::history::History;
use crate::ids::{ActorId, CreditTypeId, CustomerId, EventId, GrantId, ProductId};
use crate::rating::{rate, Rating};
use crate::series::{balance_history, BalancePoint, Bucket, BurnRollup, BurnSeries};
use crate::wallet::{Allocation, Reversal, WalletState};
use chrono_tz::Tz;

/// Default lifetime of a `dispute_refund` grant.
pub const DEFAULT_REFUND_EXPIRY: TimeDelta = TimeDelta::days(30);

/// Whether the late window applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IngestMode {
    /// Live usage: the late window and future skew apply.
    Live,
    /// Admin imports and migrations: past event times are accepted (the
    /// future-skew rule still applies). Nothing else is bypassed.
    Backfill,
}

/// The per-event result of an ingest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum IngestResult {
    Accepted {
        rating: Rating,
        allocation: Allocation,
        entries: Vec<u64>,
    },
    /// Seen before with the same body: nothing written.
    Duplicate {
        original_received_at: DateTime<Utc>,
    },
    Rejected {
        reason: RejectReason,
    },
}

/// An accepted event, as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct AcceptedEvent {
    pub event: UsageEvent,
    pub received_at: DateTime<Utc>,
    pub rating: Rating,
    pub credit_type: CreditTypeId,
}

/// A rejected event, kept with its reason so support can see it.
#[derive(Clone, Debug, PartialEq)]
pub struct RejectedEvent {
    pub event: UsageEvent,
    pub received_at: DateTime<Utc>,
    pub reason: RejectReason,
}

struct Book {
    state: WalletState,
    history: History,
}

pub struct Ledger {
    clock: Arc<dyn Clock>,
    catalog: Catalog,
    policy: IngestPolicy,
    refund_expiry: TimeDelta,
    books: HashMap<(CustomerId, CreditTypeId), Book>,
    grant_wallets: HashMap<GrantId, (CustomerId, CreditTypeId)>,
    /// Burn rollups per customer (all credit types), for series and runway.
    rollups: HashMap<CustomerId, BurnRollup>,
    events: HashMap<EventId, AcceptedEvent>,
    event_entries: HashMap<EventId, Vec<usize>>,
    rejected: Vec<RejectedEvent>,
    entries: Vec<Entry>,
    next_seq: u64,
}

impl Ledger {
    pub fn new(catalog: Catalog, clock: Arc<dyn Clock>) -> Ledger {
        Ledger {
            clock,
            catalog,
            policy: IngestPolicy::default(),
            refund_expiry: DEFAULT_REFUND_EXPIRY,
            books: HashMap::new(),
            grant_wallets: HashMap::new(),
            rollups: HashMap::new(),
            events: HashMap::new(),
            event_entries: HashMap::new(),
            rejected: Vec::new(),
            entries: Vec::new(),
            next_seq: 1,
        }
    }

    pub fn with_policy(mut self, policy: IngestPolicy) -> Ledger {
        self.policy = policy;
        self
    }

    pub fn with_refund_expiry(mut self, refund_expiry: TimeDelta) -> Ledger {
        self.refund_expiry = refund_expiry;
        self
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn catalog_mut(&mut self) -> &mut Catalog {
        &mut self.catalog
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Validates and books a grant. Its creator, reason, ticket and note are
    /// stamped on the entries.
    pub fn grant(&mut self, req: NewGrant) -> Result<Vec<Entry>> {
        let grant = Grant::validate(req, &self.catalog)?;
        if self.grant_wallets.contains_key(&grant.id) {
            return Err(LedgerError::AlreadyExists { what: "grant", id: grant.id.to_string() });
        }
        let by = Attribution {
            actor: grant.created_by.clone(),
            reason_code: Some(grant.reason_code.clone()),
            ticket_ref: grant.ticket_ref.clone(),
            note: grant.note.clone(),
        };
        let key = (grant.customer.clone(), grant.credit_type.clone());
        self.post(key, by, |state, posting| state.add_grant(grant, posting)).map(|(entries, ())| entries)
    }

    /// Ingests one usage event: idempotency, timing, rating, burn.
    pub fn ingest(&mut self, event: UsageEvent, mode: IngestMode, by: &ActorId) -> IngestResult {
        let received_at = self.clock.now();
        if let Some(prev) = self.events.get(&event.id) {
            let reason = match classify(Some(&prev.event), &event) {
                Idempotency::Duplicate => {
                    return IngestResult::Duplicate { original_received_at: prev.received_at };
                }
                _ => RejectReason::IdempotencyConflict { original_received_at: prev.received_at },
            };
            // Kept like any rejection, so support can see what the client sent.
            self.rejected.push(RejectedEvent { event, received_at, reason: reason.clone() });
            return IngestResult::Rejected { reason };
        }
        match self.try_ingest(&event, mode, received_at, by) {
            Ok((rating, allocation, entries)) => IngestResult::Accepted { rating, allocation, entries },
            Err(reason) => {
                self.rejected.push(RejectedEvent { event, received_at, reason: reason.clone() });
                IngestResult::Rejected { reason }
            }
        }
    }

    fn try_ingest(
        &mut self,
        event: &UsageEvent,
        mode: IngestMode,
        received_at: DateTime<Utc>,
        by: &ActorId,
    ) -> std::result::Result<(Rating, Allocation, Vec<u64>), RejectReason> {
        event.validate().map_err(|e| RejectReason::from_error(&e))?;
        let policy = match mode {
            IngestMode::Live => self.policy,
            // No lower bound (`check_timing` saturates at the calendar's start).
            IngestMode::Backfill => IngestPolicy { late_window: TimeDelta::MAX, ..self.policy },
        };
        check_timing(event.timestamp, received_at, &policy)?;
        let product = self.catalog.product(&event.product).map_err(|e| RejectReason::from_error(&e))?.clone();
        let rating = rate(
            event.quantity,
            event.timestamp,
            &product.rate_card,
            self.catalog.override_for(&event.customer, &event.product),
        )
        .map_err(|e| RejectReason::from_error(&e))?;
        let key = (event.customer.clone(), product.credit_type.clone());
        let (entries, allocation) = self
            .post(key, Attribution::actor(by.clone()), |state, posting| Ok(state.burn(event, rating.credits, posting)))
            .map_err(|e| RejectReason::from_error(&e))?;
        self.events.insert(
            event.id.clone(),
            AcceptedEvent { event: event.clone(), received_at, rating, credit_type: product.credit_type.clone() },
        );
        Ok((rating, allocation, entries.iter().map(|e| e.seq).collect()))
    }

    /// Voids a grant's remainder now.
    pub fn void(&mut self, grant: &GrantId, by: Attribution) -> Result<Credits> {
        let key = self.grant_wallets.get(grant).cloned().ok_or_else(|| LedgerError::not_found("grant", grant))?;
        self.post(key, by, |state, posting| state.void(grant, posting)).map(|(_, v)| v)
    }

    /// Reverses a usage event (a dispute outcome), at most once.
    pub fn reverse(&mut self, event: &EventId, by: Attribution) -> Result<Reversal> {
        let accepted = self.events.get(event).ok_or_else(|| LedgerError::not_found("event", event))?;
        let key = (accepted.event.customer.clone(), accepted.credit_type.clone());
        let linked: Vec<Entry> = self.entries_of_event(event).cloned().collect();
        let refund_expiry = self.refund_expiry;
        self.post(key, by, |state, posting| state.reverse(event, &linked, refund_expiry, posting)).map(|(_, r)| r)
    }

    /// Books every expiry, rollover and settlement now due, in every wallet
    /// (what the background sweeper does). Returns the entries written.
    pub fn sweep(&mut self) -> Vec<Entry> {
        let keys: Vec<_> = self.books.keys().cloned().collect();
        let mut written = Vec::new();
        for key in keys {
            if let Ok((entries, ())) = self.post(key, Attribution::system(), |state, posting| {
                state.catch_up(posting);
                Ok(())
            }) {
                written.extend(entries);
            }
        }
        written
    }

    /// Runs `op` on one wallet in a posting. Wallet operations fail only
    /// before they change anything, so an error leaves everything untouched.
    fn post<T>(
        &mut self,
        key: (CustomerId, CreditTypeId),
        by: Attribution,
        op: impl FnOnce(&mut WalletState, &mut Posting) -> Result<T>,
    ) -> Result<(Vec<Entry>, T)> {
        let credit_type = self.catalog.credit_type(&key.1)?.clone();
        let book = self.books.entry(key.clone()).or_insert_with(|| Book {
            state: WalletState::new(key.0.clone(), credit_type.clone()),
            history: History::new(key.0.clone(), credit_type),
        });
        let mut posting = Posting::new(self.clock.now(), self.next_seq, by);
        let out = op(&mut book.state, &mut posting)?;
        book.history.record(&posting);
        self.next_seq = posting.next_seq;
        for g in &posting.grants {
            self.grant_wallets.insert(g.id.clone(), key.clone());
        }
        let rollup = self.rollups.entry(key.0.clone()).or_insert_with(|| BurnRollup::new(key.0.clone()));
        for e in &posting.entries {
            rollup.record(e);
            if let Some(ev) = &e.event {
                self.event_entries.entry(ev.clone()).or_default().push(self.entries.len());
            }
            self.entries.push(e.clone());
        }
        Ok((posting.entries, out))
    }

    /// The balance at `at` as known at `as_of` (both default to now).
    pub fn balance(
        &self,
        customer: &CustomerId,
        credit_type: &CreditTypeId,
        at: Option<DateTime<Utc>>,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Balance> {
        let now = self.clock.now();
        self.history_or_empty(customer, credit_type)?.balance(at.unwrap_or(now), as_of.unwrap_or(now))
    }

    /// Whether the customer can afford `quantity` of `product` now (nothing reserved).
    pub fn authorize(
        &self,
        customer: &CustomerId,
        product: &ProductId,
        quantity: rust_decimal::Decimal,
    ) -> Result<Authorization> {
        let now = self.clock.now();
        let p = self.catalog.product(product)?;
        let rating = rate(quantity, now, &p.rate_card, self.catalog.override_for(customer, product))?;
        let available = match self.books.get(&(customer.clone(), p.credit_type.clone())) {
            Some(book) => {
                // Expiries due but not yet booked must not count as available.
                let mut state = book.state.clone();
                state.catch_up(&mut Posting::new(now, u64::MAX / 2, Attribution::system()));
                state.available_for(product, now)
            }
            None => Credits::ZERO,
        };
        Ok(Authorization { allowed: available >= rating.credits, required: rating.credits, available })
    }

    /// Credits burned per bucket in time zone `tz`, by product.
    pub fn burn_series(
        &self,
        customer: &CustomerId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        bucket: Bucket,
        tz: Tz,
    ) -> Result<BurnSeries> {
        match self.rollups.get(customer) {
            Some(rollup) => rollup.burn_series(from, to, bucket, tz),
            None => BurnRollup::new(customer.clone()).burn_series(from, to, bucket, tz),
        }
    }

    /// Closing balances per bucket, as known at `as_of` (default now).
    #[allow(clippy::too_many_arguments)]
    pub fn balance_history(
        &self,
        customer: &CustomerId,
        credit_type: &CreditTypeId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        bucket: Bucket,
        tz: Tz,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Vec<BalancePoint>> {
        let as_of = as_of.unwrap_or_else(|| self.clock.now());
        let history = self.history_or_empty(customer, credit_type)?;
        balance_history(&history, from, to, bucket, tz, as_of)
    }

    /// Runway and projected breakage from recent burn (see `forecast`).
    pub fn forecast(
        &self,
        customer: &CustomerId,
        credit_type: &CreditTypeId,
        horizon_days: Option<u32>,
    ) -> Result<Forecast> {
        let history = self.history_or_empty(customer, credit_type)?;
        let empty;
        let rollup = match self.rollups.get(customer) {
            Some(r) => r,
            None => {
                empty = BurnRollup::new(customer.clone());
                &empty
            }
        };
        forecast(&history, rollup, self.clock.now(), horizon_days.unwrap_or(DEFAULT_HORIZON_DAYS))
    }

    fn history_or_empty(
        &self,
        customer: &CustomerId,
        credit_type: &CreditTypeId,
    ) -> Result<std::borrow::Cow<'_, History>> {
        match self.books.get(&(customer.clone(), credit_type.clone())) {
            Some(book) => Ok(std::borrow::Cow::Borrowed(&book.history)),
            None => {
                let ct = self.catalog.credit_type(credit_type)?.clone();
                Ok(std::borrow::Cow::Owned(History::new(customer.clone(), ct)))
            }
        }
    }

    pub fn wallet(&self, customer: &CustomerId, credit_type: &CreditTypeId) -> Option<&WalletState> {
        self.books.get(&(customer.clone(), credit_type.clone())).map(|b| &b.state)
    }

    pub fn history(&self, customer: &CustomerId, credit_type: &CreditTypeId) -> Option<&History> {
        self.books.get(&(customer.clone(), credit_type.clone())).map(|b| &b.history)
    }

    pub fn wallets(&self) -> impl Iterator<Item = &WalletState> {
        self.books.values().map(|b| &b.state)
    }

    /// Every entry, in sequence order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn entries_of_event<'a>(&'a self, event: &EventId) -> impl Iterator<Item = &'a Entry> + 'a {
        self.event_entries.get(event).into_iter().flatten().map(move |&i| &self.entries[i])
    }

    pub fn event(&self, id: &EventId) -> Option<&AcceptedEvent> {
        self.events.get(id)
    }

    pub fn rejected(&self) -> &[RejectedEvent] {
        &self.rejected
    }
}

/// The answer of `authorize`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Authorization {
    pub allowed: bool,
    pub required: Credits,
    pub available: Credits,
}
