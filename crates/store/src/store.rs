//! [`Store`]: either backend behind one type, for code that picks the
//! database at run time (the server's `--db` URL).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use creditdesk_ledger::balance::Balance;
use creditdesk_ledger::catalog::Catalog;
use creditdesk_ledger::engine::{IngestMode, IngestResult};
use creditdesk_ledger::entry::{Attribution, Entry};
use creditdesk_ledger::event::UsageEvent;
use creditdesk_ledger::grant::{Grant, NewGrant};
use creditdesk_ledger::ids::{ActorId, CreditTypeId, CustomerId, EventId, GrantId, ProductId};
use creditdesk_ledger::series::{Bucket, BurnSeries};
use creditdesk_ledger::wallet::Reversal;
use creditdesk_ledger::Credits;

use crate::error::Result;
use crate::model::{
    CatalogTimes, Customer, GrantMeta, Idempotent, LedgerFilter, OverrideMeta, Page, RejectedRecord, SlotUsage,
    StoreOptions, StoredEvent, User,
};
use crate::{AdminOp, Idem, PgStore, SqliteStore};

/// A store on either database; every method is the backend's own.
#[derive(Clone)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl From<SqliteStore> for Store {
    fn from(s: SqliteStore) -> Store {
        Store::Sqlite(s)
    }
}

impl From<PgStore> for Store {
    fn from(s: PgStore) -> Store {
        Store::Postgres(s)
    }
}

macro_rules! each {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            Store::Sqlite($s) => $e,
            Store::Postgres($s) => $e,
        }
    };
}

impl Store {
    pub fn options(&self) -> &StoreOptions {
        each!(self, s => s.options())
    }

    pub fn now(&self) -> DateTime<Utc> {
        each!(self, s => s.now())
    }

    pub fn catalog(&self) -> Arc<Catalog> {
        each!(self, s => s.catalog())
    }

    pub async fn ingest(&self, events: Vec<UsageEvent>, mode: IngestMode, actor: ActorId) -> Result<Vec<IngestResult>> {
        each!(self, s => s.ingest(events, mode, actor).await)
    }

    pub async fn ingest_idempotent(
        &self,
        events: Vec<UsageEvent>,
        mode: IngestMode,
        actor: ActorId,
        idem: Option<Idem<Vec<IngestResult>>>,
    ) -> Result<Idempotent<Vec<IngestResult>>> {
        each!(self, s => s.ingest_idempotent(events, mode, actor, idem).await)
    }

    pub async fn ingest_audited(
        &self,
        events: Vec<UsageEvent>,
        mode: IngestMode,
        actor: ActorId,
        idem: Option<Idem<Vec<IngestResult>>>,
        audit: Option<crate::workflow::AuditEntry>,
        timing: Option<std::sync::Arc<crate::WriteTiming>>,
    ) -> Result<Idempotent<Vec<IngestResult>>> {
        each!(self, s => s.ingest_audited(events, mode, actor, idem, audit, timing).await)
    }

    pub async fn grant(&self, grant: NewGrant) -> Result<Vec<Entry>> {
        each!(self, s => s.grant(grant).await)
    }

    pub async fn grant_idempotent(
        &self,
        grant: NewGrant,
        idem: Option<Idem<Vec<Entry>>>,
    ) -> Result<Idempotent<Vec<Entry>>> {
        each!(self, s => s.grant_idempotent(grant, idem).await)
    }

    pub async fn void(&self, grant: GrantId, by: Attribution) -> Result<Credits> {
        each!(self, s => s.void(grant, by).await)
    }

    pub async fn void_idempotent(
        &self,
        grant: GrantId,
        by: Attribution,
        idem: Option<Idem<Credits>>,
    ) -> Result<Idempotent<Credits>> {
        each!(self, s => s.void_idempotent(grant, by, idem).await)
    }

    pub async fn reverse(&self, event: EventId, by: Attribution) -> Result<Reversal> {
        each!(self, s => s.reverse(event, by).await)
    }

    pub async fn sweep(&self) -> Result<usize> {
        each!(self, s => s.sweep().await)
    }

    pub async fn admin(&self, op: AdminOp) -> Result<()> {
        each!(self, s => s.admin(op).await)
    }

    pub async fn balance(
        &self,
        customer: CustomerId,
        credit_type: CreditTypeId,
        at: Option<DateTime<Utc>>,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Balance> {
        each!(self, s => s.balance(customer, credit_type, at, as_of).await)
    }

    pub async fn burn_series(
        &self,
        customer: CustomerId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        bucket: Bucket,
        tz: Tz,
    ) -> Result<BurnSeries> {
        each!(self, s => s.burn_series(customer, from, to, bucket, tz).await)
    }

    pub async fn ledger(
        &self,
        customer: CustomerId,
        filter: LedgerFilter,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Page<Entry>> {
        each!(self, s => s.ledger(customer, filter, cursor, limit).await)
    }

    pub async fn event(&self, id: EventId) -> Result<Option<StoredEvent>> {
        each!(self, s => s.event(id).await)
    }

    pub async fn entries_of_event(&self, id: EventId) -> Result<Vec<Entry>> {
        each!(self, s => s.entries_of_event(id).await)
    }

    pub async fn customers(&self, query: Option<String>, cursor: Option<String>, limit: u32) -> Result<Page<Customer>> {
        each!(self, s => s.customers(query, cursor, limit).await)
    }

    pub async fn customer(&self, id: CustomerId) -> Result<Customer> {
        each!(self, s => s.customer(id).await)
    }

    pub async fn rejected(
        &self,
        customer: Option<CustomerId>,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Page<RejectedRecord>> {
        each!(self, s => s.rejected(customer, cursor, limit).await)
    }

    pub async fn find_grant(&self, id: GrantId) -> Result<Option<(Grant, GrantMeta)>> {
        each!(self, s => s.find_grant(id).await)
    }

    pub async fn grant_metas(&self, customer: CustomerId) -> Result<HashMap<GrantId, GrantMeta>> {
        each!(self, s => s.grant_metas(customer).await)
    }

    pub async fn catalog_times(&self) -> Result<CatalogTimes> {
        each!(self, s => s.catalog_times().await)
    }

    pub async fn overrides(
        &self,
        customer: Option<CustomerId>,
        product: Option<ProductId>,
    ) -> Result<Vec<OverrideMeta>> {
        each!(self, s => s.overrides(customer, product).await)
    }

    pub async fn reconciliation(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        customer: Option<CustomerId>,
        credit_type: Option<CreditTypeId>,
    ) -> Result<Vec<SlotUsage>> {
        each!(self, s => s.reconciliation(from, to, customer, credit_type).await)
    }

    pub async fn user_by_token_hash(&self, hash: String) -> Result<Option<User>> {
        each!(self, s => s.user_by_token_hash(hash).await)
    }

    pub async fn users(&self) -> Result<Vec<User>> {
        each!(self, s => s.users().await)
    }
}
