//! The SQLite store: WAL, one writer thread with group commit, a pool of
//! read-only connections.

mod load;
mod migrate;
mod read;
mod rows;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use creditdesk_ledger::balance::Balance;
use creditdesk_ledger::catalog::Catalog;
use creditdesk_ledger::engine::{IngestMode, IngestResult};
use creditdesk_ledger::entry::{Attribution, Entry};
use creditdesk_ledger::event::UsageEvent;
use creditdesk_ledger::grant::NewGrant;
use creditdesk_ledger::ids::{ActorId, CreditTypeId, CustomerId, EventId, GrantId};
use creditdesk_ledger::series::{Bucket, BurnSeries};
use creditdesk_ledger::wallet::Reversal;
use creditdesk_ledger::{Credits, LedgerError};
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{mpsc, oneshot};

pub use writer::{AdminOp, Idem};
use writer::{Command, Writer};

use crate::error::{Result, StoreError};
use crate::model::{Customer, Idempotent, LedgerFilter, Page, RejectedRecord, StoreOptions, StoredEvent, User};

/// Without a key there is nothing to replay.
fn done<T>(r: Idempotent<T>) -> Result<T> {
    match r {
        Idempotent::Done(t) => Ok(t),
        Idempotent::Replayed { .. } => Err(StoreError::corrupt("a replay without an idempotency key")),
    }
}

pub use migrate::latest as latest_schema_version;

/// Applies the connection settings every connection uses.
fn configure(conn: &Connection, sync_full: bool) -> rusqlite::Result<()> {
    // Only takes effect on a new database (before the first table).
    conn.pragma_update(None, "page_size", 16384)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // Checkpoints run on their own thread (`checkpointer`), never inside
    // the writer's commit, where they would stall every queued batch.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    conn.pragma_update(None, "synchronous", if sync_full { "FULL" } else { "NORMAL" })?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "busy_timeout", 5000)?;
    conn.pragma_update(None, "cache_size", -65536)?; // 64 MiB
    Ok(())
}

/// Copies the WAL back into the database every quarter second with a
/// PASSIVE checkpoint: it takes no lock the writer waits on, and once a
/// checkpoint has copied everything, the next commit restarts the WAL from
/// its beginning, so the file stays bounded.
fn checkpointer(path: &Path, stop: Arc<std::sync::atomic::AtomicBool>) -> Result<()> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "busy_timeout", 100)?;
    std::thread::Builder::new()
        .name("creditdesk-checkpoint".into())
        .spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(250));
                // Busy or locked now: try again next time.
                let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
            }
        })
        .map_err(|e| StoreError::corrupt(format!("cannot start the checkpoint thread: {e}")))?;
    Ok(())
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// Tells the checkpointer thread to stop when the store is dropped.
    stop: Arc<std::sync::atomic::AtomicBool>,
    writer: mpsc::Sender<Command>,
    readers: r2d2::Pool<SqliteConnectionManager>,
    catalog: Arc<RwLock<Arc<Catalog>>>,
    options: StoreOptions,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, applies pending
    /// migrations and starts the writer thread.
    pub fn open(path: impl AsRef<Path>, options: StoreOptions) -> Result<SqliteStore> {
        let path = path.as_ref().to_path_buf();
        let mut conn = Connection::open(&path)?;
        configure(&conn, options.sync_full)?;
        migrate::migrate(&mut conn)?;
        let catalog = Arc::new(RwLock::new(Arc::new(load::load_catalog(&conn)?)));
        let writer = Writer::new(conn, options.clone(), catalog.clone())?;
        let (tx, rx) = mpsc::channel(4096);
        std::thread::Builder::new()
            .name("creditdesk-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| StoreError::corrupt(format!("cannot start the writer thread: {e}")))?;
        let sync_full = options.sync_full;
        let manager = SqliteConnectionManager::file(&path)
            .with_flags(OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .with_init(move |c| {
                c.pragma_update(None, "busy_timeout", 5000)?;
                c.pragma_update(None, "cache_size", -16384)?;
                let _ = sync_full;
                Ok(())
            });
        let readers = r2d2::Pool::builder().max_size(options.readers.max(1)).build(manager)?;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        checkpointer(&path, stop.clone())?;
        Ok(SqliteStore { inner: Arc::new(Inner { path, stop, writer: tx, readers, catalog, options }) })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    pub fn options(&self) -> &StoreOptions {
        &self.inner.options
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.inner.options.clock.now()
    }

    /// The catalog as of the last committed change.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.inner.catalog.read().map(|c| c.clone()).unwrap_or_default()
    }

    async fn send<T>(&self, make: impl FnOnce(oneshot::Sender<Result<T>>) -> Command) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.inner.writer.send(make(tx)).await.map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    async fn read<T: Send + 'static>(&self, f: impl FnOnce(&Connection) -> Result<T> + Send + 'static) -> Result<T> {
        let pool = self.inner.readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool.get()?;
            f(&conn)
        })
        .await
        .map_err(|e| StoreError::corrupt(format!("reader task: {e}")))?
    }

    // ---- writes ----

    pub async fn ingest(&self, events: Vec<UsageEvent>, mode: IngestMode, actor: ActorId) -> Result<Vec<IngestResult>> {
        done(self.ingest_idempotent(events, mode, actor, None).await?)
    }

    /// [`SqliteStore::ingest`] under an `Idempotency-Key`.
    pub async fn ingest_idempotent(
        &self,
        events: Vec<UsageEvent>,
        mode: IngestMode,
        actor: ActorId,
        idem: Option<Idem<Vec<IngestResult>>>,
    ) -> Result<Idempotent<Vec<IngestResult>>> {
        self.send(|reply| Command::Ingest { events, mode, actor, idem, reply }).await
    }

    pub async fn grant(&self, grant: NewGrant) -> Result<Vec<Entry>> {
        done(self.grant_idempotent(grant, None).await?)
    }

    /// [`SqliteStore::grant`] under an `Idempotency-Key`.
    pub async fn grant_idempotent(
        &self,
        grant: NewGrant,
        idem: Option<Idem<Vec<Entry>>>,
    ) -> Result<Idempotent<Vec<Entry>>> {
        self.send(|reply| Command::Grant { grant, idem, reply }).await
    }

    pub async fn void(&self, grant: GrantId, by: Attribution) -> Result<Credits> {
        done(self.void_idempotent(grant, by, None).await?)
    }

    /// [`SqliteStore::void`] under an `Idempotency-Key`.
    pub async fn void_idempotent(
        &self,
        grant: GrantId,
        by: Attribution,
        idem: Option<Idem<Credits>>,
    ) -> Result<Idempotent<Credits>> {
        self.send(|reply| Command::Void { grant, by, idem, reply }).await
    }

    pub async fn reverse(&self, event: EventId, by: Attribution) -> Result<Reversal> {
        self.send(|reply| Command::Reverse { event, by, reply }).await
    }

    /// Books every expiry, rollover and settlement now due; returns the
    /// number of entries written.
    pub async fn sweep(&self) -> Result<usize> {
        self.send(|reply| Command::Sweep { reply }).await
    }

    pub async fn admin(&self, op: AdminOp) -> Result<()> {
        self.send(|reply| Command::Admin { op, reply }).await
    }

    // ---- reads ----

    pub async fn balance(
        &self,
        customer: CustomerId,
        credit_type: CreditTypeId,
        at: Option<DateTime<Utc>>,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Balance> {
        let ct = self.catalog().credit_type(&credit_type)?.clone();
        let now = self.now();
        let (at, as_of) = (at.unwrap_or(now), as_of.unwrap_or(now));
        self.read(move |c| read::balance(c, &customer, &ct, at, as_of)).await
    }

    pub async fn burn_series(
        &self,
        customer: CustomerId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        bucket: Bucket,
        tz: Tz,
    ) -> Result<BurnSeries> {
        self.read(move |c| read::burn_series(c, &customer, from, to, bucket, tz)).await
    }

    pub async fn ledger(
        &self,
        customer: CustomerId,
        filter: LedgerFilter,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Page<Entry>> {
        self.read(move |c| read::ledger(c, &customer, &filter, cursor.as_deref(), limit)).await
    }

    pub async fn event(&self, id: EventId) -> Result<Option<StoredEvent>> {
        self.read(move |c| rows::find_event(c, &id)).await
    }

    /// Every entry linked to an accepted event (none for an unknown one).
    pub async fn entries_of_event(&self, id: EventId) -> Result<Vec<Entry>> {
        self.read(move |c| match rows::find_event(c, &id)? {
            Some(stored) => rows::entries_of_event(c, &stored),
            None => Ok(Vec::new()),
        })
        .await
    }

    pub async fn customers(&self, query: Option<String>, cursor: Option<String>, limit: u32) -> Result<Page<Customer>> {
        self.read(move |c| read::customers(c, query.as_deref(), cursor.as_deref(), limit)).await
    }

    pub async fn customer(&self, id: CustomerId) -> Result<Customer> {
        let missing = id.to_string();
        self.read(move |c| read::customer(c, &id))
            .await?
            .ok_or_else(|| LedgerError::not_found("customer", missing).into())
    }

    pub async fn rejected(
        &self,
        customer: Option<CustomerId>,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Page<RejectedRecord>> {
        self.read(move |c| read::rejected(c, customer.as_ref(), cursor.as_deref(), limit)).await
    }

    pub async fn user_by_token_hash(&self, hash: String) -> Result<Option<User>> {
        self.read(move |c| read::user_by_token_hash(c, &hash)).await
    }

    pub async fn users(&self) -> Result<Vec<User>> {
        self.read(read::users).await
    }
}
