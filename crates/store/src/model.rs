//! What the store keeps besides the ledger's own types.

use std::sync::Arc;

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use creditdesk_ledger::clock::{Clock, SystemClock};
use creditdesk_ledger::entry::EntryKind;
use creditdesk_ledger::event::{IngestPolicy, UsageEvent};
use creditdesk_ledger::ids::{ActorId, CreditTypeId, CustomerId, EventId, ProductId};
use creditdesk_ledger::rating::Rating;
use creditdesk_ledger::Credits;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Customer {
    pub id: CustomerId,
    pub name: String,
    pub external_ref: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A person or system that calls the API. The token itself is never stored,
/// only its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: String,
    pub name: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// An accepted usage event with how it was rated: dispute evidence.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEvent {
    pub event: UsageEvent,
    pub credit_type: CreditTypeId,
    pub received_at: DateTime<Utc>,
    pub rating: Rating,
}

/// A rejected event, as sent, with the reason.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RejectedRecord {
    pub rid: i64,
    pub event_id: Option<String>,
    pub customer_id: Option<String>,
    pub product_id: Option<String>,
    pub body: serde_json::Value,
    pub received_at: DateTime<Utc>,
    pub code: String,
    pub detail: String,
}

/// When a grant was recorded and, if voided, when the void took effect
/// (facts of the grant's rows that its balance view does not carry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GrantMeta {
    pub recorded_at: DateTime<Utc>,
    pub voided_at: Option<DateTime<Utc>>,
}

/// When each credit type and product was created.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CatalogTimes {
    pub credit_types: HashMap<CreditTypeId, DateTime<Utc>>,
    pub products: HashMap<ProductId, DateTime<Utc>>,
}

/// Who last changed a customer's rate override for a product, and when
/// (the override's card itself is in the catalog).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverrideMeta {
    pub customer: CustomerId,
    pub product: ProductId,
    pub updated_at: DateTime<Utc>,
    pub updated_by: ActorId,
}

/// One credit type's usage in one 15-minute slot of event time: the
/// accepted events and their rated credits, beside the burn and overage
/// entries booked for them (as positive amounts). Reconciled when
/// `rated == burned + overage`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotUsage {
    pub credit_type: CreditTypeId,
    pub start: DateTime<Utc>,
    pub events: u64,
    pub rated: Credits,
    pub burned: Credits,
    pub overage: Credits,
}

/// Filters of a ledger listing. Times filter `booked_at`, half-open.
#[derive(Clone, Debug, Default)]
pub struct LedgerFilter {
    pub credit_type: Option<CreditTypeId>,
    pub kind: Option<EntryKind>,
    pub product: Option<ProductId>,
    pub event: Option<EventId>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// One page of a listing in a stable order; `next_cursor` continues it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// How the store is run.
#[derive(Clone)]
pub struct StoreOptions {
    pub clock: Arc<dyn Clock>,
    pub policy: IngestPolicy,
    pub refund_expiry: TimeDelta,
    /// `synchronous=FULL` (durable across power loss) instead of `NORMAL`
    /// (durable across process crashes; the WAL default).
    pub sync_full: bool,
    pub readers: u32,
    /// Most events one group commit applies before committing.
    pub group_events: usize,
    /// PostgreSQL: writer threads, each with its own connection (SQLite
    /// always has one writer).
    pub writers: u32,
    /// SQLite: the WAL's working size, in MiB. Past it the writer lets the
    /// WAL start again from its beginning, which costs one pause between
    /// two groups (a checkpoint of what is left and two `fsync`s, 6-15 ms
    /// under load); the file keeps up to twice this size and is truncated
    /// past four times it. Larger means fewer pauses under sustained ingest
    /// and a larger file (the server's default is 256: BENCHMARKS.md).
    pub wal_restart_mib: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            clock: Arc::new(SystemClock),
            policy: IngestPolicy::default(),
            refund_expiry: creditdesk_ledger::engine::DEFAULT_REFUND_EXPIRY,
            sync_full: false,
            readers: 4,
            group_events: 20_000,
            writers: 2,
            wal_restart_mib: 64,
        }
    }
}

impl std::fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreOptions")
            .field("policy", &self.policy)
            .field("refund_expiry", &self.refund_expiry)
            .field("sync_full", &self.sync_full)
            .field("readers", &self.readers)
            .field("group_events", &self.group_events)
            .field("writers", &self.writers)
            .field("wal_restart_mib", &self.wal_restart_mib)
            .finish()
    }
}

/// The `Idempotency-Key` of a write: who sent it, the key, and a hash of
/// the request it came with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub actor: String,
    pub key: String,
    pub request_hash: String,
}

/// A write's outcome: done now, or the recorded response of the first time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Idempotent<T> {
    Done(T),
    Replayed { status: u16, body: String },
}
