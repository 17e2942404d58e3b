//! The PostgreSQL store: the scale path, where several server processes
//! share one database.
//!
//! Writes go to a small pool of writer threads (`StoreOptions::writers`),
//! each with its own connection, each applying groups of requests in one
//! transaction like SQLite's single writer. Correctness comes from the
//! database, never from process memory: every group locks the rows of the
//! wallets it touches (`SELECT ... FOR UPDATE`, one sorted order, so no
//! deadlocks), and a cached wallet is used only if its version is the
//! locked row's. Event ids, grant ids and idempotency keys are primary
//! keys; a group that loses a race on one is rolled back and retried, and
//! then sees the winner's row.
//!
//! The client is the synchronous `postgres` crate on dedicated threads (and
//! tokio's blocking pool for reads): the write path stays the plain
//! sequential code both backends share, and no request waits on an async
//! runtime's scheduling while it holds row locks.

mod migrate;

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::db::pg::{PgConn, PgDb, PgManager};
use crate::db::Db;
use crate::error::{Result, StoreError};
use crate::model::StoreOptions;
use crate::shared::ledger_api;
use crate::shared::write::{Command, Gather, Intake, Linger, Queue, Shared, Writer};

pub use migrate::latest as latest_schema_version;

/// How often the catalog is checked for changes made by other servers (so
/// that [`PgStore::catalog`] lags by at most this much; writes and reads
/// that need the catalog check it themselves).
const CATALOG_POLL: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    writer: mpsc::Sender<Command>,
    /// Taken on drop: see `Drop for Inner`.
    readers: Option<r2d2::Pool<PgManager>>,
    shared: Arc<Shared>,
    /// Tells the catalog poller to stop when the store is dropped.
    stop: Arc<AtomicBool>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Closing a sync client blocks on its own runtime, which panics on a
        // thread that drives async tasks, and the last `PgStore` is often
        // dropped on one: close the pool's connections on a thread of ours.
        if let Some(pool) = self.readers.take() {
            let closing = std::thread::Builder::new().name("creditdesk-pg-close".into()).spawn(move || drop(pool));
            if let Err(e) = closing {
                tracing::warn!(error = %e, "could not close the read pool's connections");
            }
        }
    }
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user@host/db`),
    /// applies pending migrations and starts the writer threads.
    pub fn open(url: &str, options: StoreOptions) -> Result<PgStore> {
        let config: postgres::Config = url.parse()?;
        // The sync client runs a runtime of its own per call, which must
        // not be nested in the caller's (`open` may be called from async
        // code): connect and migrate on a thread of our own.
        std::thread::Builder::new()
            .name("creditdesk-pg-open".into())
            .spawn(move || PgStore::open_blocking(config, options))
            .map_err(|e| StoreError::corrupt(format!("cannot start a thread: {e}")))?
            .join()
            .map_err(|_| StoreError::corrupt("opening the PostgreSQL store panicked"))?
    }

    fn open_blocking(config: postgres::Config, options: StoreOptions) -> Result<PgStore> {
        let mut first = PgConn::connect(&config)?;
        migrate::migrate(&mut first.client)?;
        let shared = Arc::new(Shared::load(&mut PgDb::new(&mut first), options.clone())?);
        let (tx, rx) = mpsc::channel(4096);
        let rx = Arc::new(Mutex::new(Queue::new(rx)));
        let mut conns = vec![first];
        for _ in 1..options.writers.max(1) {
            conns.push(PgConn::connect(&config)?);
        }
        for (i, conn) in conns.into_iter().enumerate() {
            let (config, shared, rx) = (config.clone(), shared.clone(), rx.clone());
            std::thread::Builder::new()
                .name(format!("creditdesk-pg-writer-{i}"))
                .spawn(move || run_writer(conn, config, shared, rx))
                .map_err(|e| StoreError::corrupt(format!("cannot start a writer thread: {e}")))?;
        }
        let readers = r2d2::Pool::builder()
            .max_size(options.readers.max(1))
            .min_idle(Some(1))
            .build(PgManager { config: config.clone() })?;
        let stop = Arc::new(AtomicBool::new(false));
        catalog_poller(config, shared.clone(), stop.clone())?;
        Ok(PgStore { inner: Arc::new(Inner { writer: tx, readers: Some(readers), shared, stop }) })
    }

    async fn send<T>(&self, make: impl FnOnce(oneshot::Sender<Result<T>>) -> Command) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.inner.writer.send(make(tx)).await.map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs `f` on a pooled connection in one read-only repeatable-read
    /// transaction (one snapshot for all its queries).
    async fn read<T: Send + 'static>(&self, f: impl FnOnce(&mut dyn Db) -> Result<T> + Send + 'static) -> Result<T> {
        let pool = self.inner.readers.clone().ok_or(StoreError::Closed)?;
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            let mut db = PgDb::new(&mut conn);
            db.batch("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
            let out = f(&mut db);
            // Nothing to keep: ending the read transaction either way.
            let _ = db.rollback();
            out
        })
        .await
        .map_err(|e| StoreError::corrupt(format!("reader task: {e}")))?
    }
}

ledger_api!(PgStore);
crate::workflow::workflow_api!(PgStore);

/// One writer thread: takes the next group off the shared queue and
/// applies it on its own connection, reconnecting if the connection broke
/// (a database restart).
///
/// A writer keeps the queue until its group holds its wallets' row locks.
/// Groups on disjoint wallets (one customer's batches) so run side by side;
/// a group that must wait for another writer's wallets waits with the queue
/// held, and what arrives meanwhile joins it once the locks are granted if
/// it needs no other wallets (the rest stays on the queue, first in line).
fn run_writer(conn: PgConn, config: postgres::Config, shared: Arc<Shared>, queue: Arc<Mutex<Queue>>) {
    crate::shared::run_in_background();
    let limit = shared.options.group_events;
    let mut writer = Writer::new(shared);
    let mut conn = Some(conn);
    loop {
        let Ok(held) = queue.lock() else { break };
        let Some((gather, first)) = Gather::start(held, limit, Linger::default()) else { break };
        // The queue stays this writer's until the group holds its locks.
        let intake = RefCell::new(Some(gather));
        let mut more = &intake;
        let mut batch = vec![first];
        batch.extend(std::iter::from_fn(|| more.next()));
        if conn.as_ref().is_none_or(|c| c.client.is_closed()) {
            conn = match PgConn::connect(&config) {
                Ok(c) => Some(c),
                Err(e) => {
                    let msg = e.to_string();
                    batch.into_iter().for_each(|c| c.fail(&msg));
                    continue;
                }
            };
        }
        if let Some(c) = conn.as_mut() {
            writer.run_group(&mut PgDb::new(c), batch, &mut more, &mut || drop(intake.borrow_mut().take()));
        }
    }
}

/// Keeps the cached catalog within [`CATALOG_POLL`] of the database's.
fn catalog_poller(config: postgres::Config, shared: Arc<Shared>, stop: Arc<AtomicBool>) -> Result<()> {
    std::thread::Builder::new()
        .name("creditdesk-pg-catalog".into())
        .spawn(move || {
            let mut conn: Option<PgConn> = None;
            let tick = Duration::from_millis(100);
            let mut waited = Duration::ZERO;
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(tick);
                waited += tick;
                if waited < CATALOG_POLL {
                    continue;
                }
                waited = Duration::ZERO;
                if conn.as_ref().is_none_or(|c| c.client.is_closed()) {
                    conn = PgConn::connect(&config).ok();
                }
                if let Some(c) = conn.as_mut() {
                    // Unreachable now: tried again next time.
                    if let Err(e) = shared.fresh_catalog(&mut PgDb::new(c)) {
                        tracing::debug!(error = %e, "catalog poll failed");
                    }
                }
            }
        })
        .map_err(|e| StoreError::corrupt(format!("cannot start the catalog poller: {e}")))?;
    Ok(())
}
