//! The SQLite store: WAL, one writer thread with group commit, a pool of
//! read-only connections.

pub(crate) mod burn_block;
mod migrate;
mod page_cache;
pub(crate) mod static_rows;
mod wal_writes;

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{mpsc, oneshot};

use crate::db::lite::LiteDb;
use crate::db::Db;
use crate::error::{Result, StoreError};
use crate::model::StoreOptions;
use crate::shared::ledger_api;
pub use crate::shared::write::{AdminOp, Idem, Render};
use crate::shared::write::{Command, Gather, Linger, Queue, Shared, Writer};

pub use migrate::latest as latest_schema_version;
pub use page_cache::spare_swaps as page_cache_spare_swaps;

/// Registers on a connection of one's own (a tool reading the file) the SQL
/// functions the store's queries and the view `ledger_entries` use:
/// `burn_block(burns)`, which reads a burn block as entry rows, and
/// `utc_day(t)`. Without them a connection reads every table but not the
/// burns inside blocks.
pub fn register_sql_functions(conn: &Connection) -> Result<()> {
    Ok(crate::db::lite::register_functions(conn)?)
}

/// The schema, for tests of the SQL the store runs.
#[cfg(test)]
pub(crate) fn migrate_for_tests(conn: &mut Connection) {
    migrate::migrate(conn).unwrap();
}

/// Page size of a new database (an existing file keeps its own). With
/// burns staged by slice (as then, before burn blocks), a commit wrote
/// mostly tails and a few hundred scattered rollup and index leaves; each
/// costs a WAL frame of a whole page, so 8 KiB pages beat 16 KiB
/// (2026-12-03, interleaved quick runs:
/// 66-70k against 64-68k events/s, batch ack p99 48-51 ms against
/// 82-87 ms). 4 KiB was slower (53-58k), measured while a day's burn
/// rollup was dense (two 768-byte arrays, since made sparse): it no longer
/// fitted in a leaf and spilled to overflow pages. Measured again with
/// sparse rows and burn blocks (2026-12-05): 4 KiB wrote ~10 % fewer WAL
/// bytes per event, but the writer's CPU per event rose 5-9 % and the
/// closed loop fell (85-90k against 92-93k events/s); its paced ack p99
/// (69-73 ms) was within the spread of the 8 KiB build's runs (76-153 ms).
/// Again with one in 16 staged customers moved (2026-12-05 21:20 UTC):
/// 30 % fewer WAL bytes, and a higher ack p99 in four rounds of four.
pub const PAGE_SIZE: u32 = 8192;

/// Page cache of the write connection (KiB).
const WRITER_CACHE_KIB: i64 = 32 * 1024;
/// Page cache of each pooled read connection (KiB). Reads touch a few
/// hundred pages (running totals, day rollups, one day of entries), and
/// the operating system's file cache sits behind it.
const READER_CACHE_KIB: i64 = 8 * 1024;

/// SQLite's process-wide settings, made once before the first connection:
///
/// - its memory statistics off. They are kept under a global mutex that
///   every allocation takes (`pthread_mutex_lock` fell from 2.7 % to
///   1.8 % of the writer thread's time under live ingest), for figures
///   nothing reads;
/// - its page cache behind [`page_cache`], which keeps a spare page
///   number out of the cache's key range (2.3 % of the writer thread).
///
/// Once SQLite is initialised (another connection came first, as in some
/// tests) the settings are refused and the defaults stay, which changes
/// speed only.
fn configure_sqlite() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: `sqlite3_config` before `sqlite3_initialize` with an int
        // argument, as documented for SQLITE_CONFIG_MEMSTATUS; it touches
        // only SQLite's global configuration, and `Once` keeps it to one
        // thread.
        let rc = unsafe { rusqlite::ffi::sqlite3_config(rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS, 0 as std::ffi::c_int) };
        if rc != rusqlite::ffi::SQLITE_OK {
            tracing::debug!("SQLite was already initialised; its memory statistics stay on");
        }
        if !page_cache::install() {
            tracing::debug!("SQLite was already initialised; its default page cache stays");
        }
    });
}

/// Applies the connection settings every connection uses.
fn configure(conn: &Connection, sync_full: bool, wal: WalSizes) -> rusqlite::Result<()> {
    // Only takes effect on a new database (before the first table).
    conn.pragma_update(None, "page_size", PAGE_SIZE)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // Checkpoints run on their own thread (`checkpointer`), never inside
    // the writer's commit, where they would stall every queued batch.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    conn.pragma_update(None, "journal_size_limit", i64::try_from(wal.keep()).unwrap_or(i64::MAX))?;
    // Statement journals (what a statement that may abort copies pages to)
    // in memory, not in a temporary file written through the kernel.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "synchronous", if sync_full { "FULL" } else { "NORMAL" })?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "busy_timeout", 5000)?;
    // Pages, not rows, are what the writer revisits: the tail leaves of
    // each index per customer and the day rollups. 32 MiB holds them
    // with room to spare; the page cache is most of the server's memory.
    conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
    // The write path uses a few dozen statements; keep them all prepared.
    conn.set_prepared_statement_cache_capacity(128);
    crate::db::lite::register_functions(conn)
}

/// Copies the WAL back into the database with PASSIVE checkpoints: they
/// take no lock the writer waits on. While the WAL keeps growing, every
/// 10 ms (so that little is left for the writer's own checkpoint, see
/// [`WalCap`]); when nothing new was written, every quarter second. After
/// each pass it publishes how far it copied (`backfilled`).
fn checkpointer(path: &Path, stop: Arc<AtomicBool>, backfilled: Arc<AtomicI64>) -> Result<()> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "busy_timeout", 100)?;
    std::thread::Builder::new()
        .name("creditdesk-checkpoint".into())
        .spawn(move || {
            crate::shared::run_in_background();
            let mut last_log = 0;
            while !stop.load(Ordering::Relaxed) {
                let pass = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                    Ok((r.get::<_, i64>(0)? != 0, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
                });
                let pause = match pass {
                    Ok((false, log, copied)) => {
                        backfilled.store(copied, Ordering::Relaxed);
                        let growing = log > 0 && log != last_log;
                        last_log = log;
                        if growing {
                            10
                        } else {
                            250
                        }
                    }
                    // Another checkpoint (the writer's) holds the lock, or
                    // the database is locked: soon again, the WAL is growing.
                    Ok((true, ..)) | Err(_) => 10,
                };
                std::thread::sleep(std::time::Duration::from_millis(pause));
            }
        })
        .map_err(|e| StoreError::corrupt(format!("cannot start the checkpoint thread: {e}")))?;
    Ok(())
}

/// How long one truncation attempt waits for readers on older snapshots
/// (the writer holds every queued batch meanwhile).
const TRUNCATE_WAIT: std::time::Duration = std::time::Duration::from_millis(50);

/// How far behind the checkpointer thread may be for the writer to copy
/// the rest itself: about two groups' frames at 100,000 events/s.
const CATCH_UP_BYTES: u64 = 8 << 20;

/// The sizes [`WalCap`] works to, in bytes (tests use small ones).
///
/// The WAL's working size is [`StoreOptions::wal_restart_mib`]. SQLite
/// starts the WAL again from its beginning only when a write begins with
/// every frame copied back, which a background checkpoint never sees under
/// a steady stream of groups; so past this size the writer checkpoints
/// itself between groups, and the next commit writes over the file's first
/// pages (already in the page cache) instead of growing it. That
/// checkpoint's two `fsync`s hold every queued batch (docs/bench-experiments.md, "The
/// WAL's restart size"), so the server restarts less often than the
/// store's default.
///
/// What the restart leaves of the WAL file (`journal_size_limit`) is twice
/// the working size: more than the WAL reaches under the cap, so that the
/// restart never trims it and later groups write over blocks the file
/// already has. Trimming it back to the working size at every restart
/// (until 2026-12-04) freed the few MiB past it, which the next groups
/// allocated again; the `ftruncate` alone held the writer 20-76 ms
/// (docs/bench-history.md). Past four times the working size (readers kept
/// the restart from happening) the writer truncates the WAL, waiting for
/// readers on older snapshots.
#[derive(Clone, Copy, Debug)]
struct WalSizes {
    /// The working size: past it, the WAL restarts.
    restart: u64,
    /// Past it, the WAL is truncated.
    limit: u64,
    /// How far behind the checkpointer may be for the writer to copy the rest.
    catch_up: u64,
}

impl WalSizes {
    /// The store's, from its working size in MiB (at least 1).
    fn of(options: &StoreOptions) -> WalSizes {
        let restart = options.wal_restart_mib.clamp(1, 1 << 20) << 20;
        WalSizes { restart, limit: 4 * restart, catch_up: CATCH_UP_BYTES }
    }

    /// What a restart leaves of the WAL file (`journal_size_limit`).
    fn keep(&self) -> u64 {
        2 * self.restart
    }
}

/// Keeps the WAL near its working size and its file under the limit
/// ([`WalSizes`]). After every group it looks at the WAL's frames
/// (what the commit's WAL hook counted) and the file's size (one `stat`;
/// the file outlasts restarts, see [`WalSizes::keep`]). Over the working
/// size, once the checkpointer thread has copied all but the last
/// [`CATCH_UP_BYTES`]: a PASSIVE checkpoint, which copies the rest and
/// lets the next commit restart the WAL. Every group waits for it, so it
/// waits for the checkpointer to be nearly done: copying on its own what
/// the checkpointer had not yet reached (tens of megabytes) held the
/// writer for 10-60 ms, the p99 of batch acks at 100,000 events/s
/// (2026-12-04, docs/bench-history.md). Past twice the working size (the
/// checkpointer cannot keep up) it copies whatever is left. Over the
/// limit: a TRUNCATE checkpoint after every group until one succeeds. A
/// checkpoint that cannot finish (a reader still on an older snapshot)
/// does not fail: it answers `busy = 1` in its result row, which is why an
/// unchecked attempt could leave the WAL growing past the cap under a
/// sustained load (seen with `demo-seed`).
///
/// Before this (until 2026-12-03) the WAL grew to the limit and past it,
/// and each truncation of a 300-800 MB WAL held the writer for 160-320 ms.
struct WalCap {
    path: PathBuf,
    /// Bytes per WAL frame: a page and its 24-byte header.
    frame: u64,
    restart: u64,
    limit: u64,
    catch_up: u64,
    over: bool,
    /// Frames the checkpointer thread had copied after its last pass.
    backfilled: Arc<AtomicI64>,
}

impl WalCap {
    /// Registers the WAL hook on `conn`, which replaces any automatic
    /// checkpoint (there is none: `wal_autocheckpoint` is 0).
    fn new(conn: &Connection, sizes: WalSizes, backfilled: Arc<AtomicI64>) -> WalCap {
        let WalSizes { restart, limit, catch_up } = sizes;
        conn.wal_hook(Some(count_wal_frames));
        let path = conn.path().map(|p| PathBuf::from(format!("{p}-wal"))).unwrap_or_default();
        let page =
            conn.query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0)).ok().and_then(|p| u64::try_from(p).ok());
        let page = page.unwrap_or(PAGE_SIZE.into());
        WalCap { path, frame: page + 24, restart, limit, catch_up, over: false, backfilled }
    }

    /// After each group commit.
    fn after_group(&mut self, conn: &Connection) {
        let size = std::fs::metadata(&self.path).map_or(0, |m| m.len());
        self.over = self.over || size > self.limit;
        if self.over {
            let started = std::time::Instant::now();
            let truncated = truncate_wal(conn, TRUNCATE_WAIT);
            record_checkpoint("truncate", started);
            match truncated {
                Ok(true) => self.over = false,
                Ok(false) => tracing::debug!("WAL truncation busy; retrying after the next group"),
                Err(e) => tracing::warn!(error = %e, "WAL truncation failed; retrying after the next group"),
            }
            return;
        }
        let frames = u64::try_from(WAL_FRAMES.get()).unwrap_or(0);
        let wal = frames * self.frame;
        if wal > self.restart && (self.behind(frames) <= self.catch_up || wal > 2 * self.restart) {
            // Busy (a reader's snapshot): the next group tries again.
            let started = std::time::Instant::now();
            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::warn!(error = %e, "WAL checkpoint failed; retrying after the next group");
            }
            record_checkpoint("restart", started);
        }
    }

    /// Bytes of a WAL of `frames` the checkpointer has not copied. A count
    /// from before the last restart (more frames than the WAL holds) says
    /// nothing: all of it.
    fn behind(&self, frames: u64) -> u64 {
        match u64::try_from(self.backfilled.load(Ordering::Relaxed)) {
            Ok(copied) if copied <= frames => (frames - copied) * self.frame,
            _ => frames * self.frame,
        }
    }
}

/// The writer's own checkpoints (each holds every queued batch), for
/// `/metrics`: `kind` is `restart` (the rest of the WAL copied so that
/// the next commit starts it again) or `truncate`.
fn record_checkpoint(kind: &'static str, started: std::time::Instant) {
    metrics::histogram!("creditdesk_store_wal_checkpoint_seconds", "kind" => kind)
        .record(started.elapsed().as_secs_f64());
}

thread_local! {
    /// Frames in the WAL after the last commit on this thread's write
    /// connection (the store's writer thread has one). The hook is a plain
    /// function, hence a thread-local rather than a field.
    static WAL_FRAMES: Cell<i64> = const { Cell::new(0) };
}

/// SQLite's WAL hook, called after each commit with the WAL's frames.
fn count_wal_frames(_: &rusqlite::hooks::Wal, frames: std::ffi::c_int) -> rusqlite::Result<()> {
    WAL_FRAMES.set(frames.into());
    Ok(())
}

/// A TRUNCATE checkpoint that waits at most `wait` for readers; whether it
/// completed (the WAL is then empty).
fn truncate_wal(conn: &Connection, wait: std::time::Duration) -> rusqlite::Result<bool> {
    conn.busy_timeout(wait)?;
    let busy = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get::<_, i64>(0));
    conn.busy_timeout(std::time::Duration::from_millis(5000))?;
    Ok(busy? == 0)
}

/// The single writer: owns the only write connection, applies every write
/// the server receives, and commits them in groups (all requests queued
/// while the previous commit ran go into the next transaction). Being the
/// only writer, its wallet cache is always current.
fn run_writer(conn: Connection, shared: Arc<Shared>, backfilled: Arc<AtomicI64>, rx: mpsc::Receiver<Command>) {
    crate::shared::run_in_background();
    let mut wal = WalCap::new(&conn, WalSizes::of(&shared.options), backfilled);
    let limit = shared.options.group_events;
    let mut writer = Writer::new(shared);
    let mut queue = Queue::new(rx);
    let mut linger = Linger::default();
    let mut rows = static_rows::StaticRows::new(&conn);
    // Each request is applied as it is taken: the group's wait for the
    // clients it expects (`Linger`) overlaps their requests' parsing on the
    // HTTP workers with this thread's work on the ones already in.
    while let Some((mut gather, first)) = Gather::start(&mut queue, limit, linger) {
        let started = std::time::Instant::now();
        writer.run_group(&mut LiteDb::writer(&conn, &mut rows), vec![first], &mut gather, &mut || {});
        linger = Linger::after(gather.ingests(), started.elapsed());
        drop(gather);
        wal.after_group(&conn);
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// Tells the checkpointer thread to stop when the store is dropped.
    stop: Arc<AtomicBool>,
    writer: mpsc::Sender<Command>,
    readers: r2d2::Pool<SqliteConnectionManager>,
    shared: Arc<Shared>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, applies pending
    /// migrations and starts the writer thread.
    pub fn open(path: impl AsRef<Path>, options: StoreOptions) -> Result<SqliteStore> {
        let path = path.as_ref().to_path_buf();
        configure_sqlite();
        // The writer's connection: its WAL frames reach the file in one
        // write per commit (`wal_writes`).
        let mut conn = Connection::open_with_flags_and_vfs(&path, OpenFlags::default(), wal_writes::register()?)?;
        configure(&conn, options.sync_full, WalSizes::of(&options))?;
        migrate::migrate(&mut conn)?;
        let shared = Arc::new(Shared::load(&mut LiteDb::new(&conn), options.clone())?);
        let (tx, rx) = mpsc::channel(4096);
        let for_writer = shared.clone();
        // Frames copied so far: none known until the checkpointer's first pass.
        let backfilled = Arc::new(AtomicI64::new(-1));
        let for_cap = backfilled.clone();
        std::thread::Builder::new()
            .name("creditdesk-writer".into())
            .spawn(move || run_writer(conn, for_writer, for_cap, rx))
            .map_err(|e| StoreError::corrupt(format!("cannot start the writer thread: {e}")))?;
        let manager = SqliteConnectionManager::file(&path)
            .with_flags(OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .with_init(|c| {
                c.pragma_update(None, "busy_timeout", 5000)?;
                c.pragma_update(None, "cache_size", -READER_CACHE_KIB)?;
                c.set_prepared_statement_cache_capacity(64);
                crate::db::lite::register_functions(c)
            });
        let readers = r2d2::Pool::builder().max_size(options.readers.max(1)).build(manager)?;
        let stop = Arc::new(AtomicBool::new(false));
        checkpointer(&path, stop.clone(), backfilled)?;
        Ok(SqliteStore { inner: Arc::new(Inner { path, stop, writer: tx, readers, shared }) })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    async fn send<T>(&self, make: impl FnOnce(oneshot::Sender<Result<T>>) -> Command) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.inner.writer.send(make(tx)).await.map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs `f` on a pooled read-only connection, in one read transaction
    /// (one snapshot for all its queries).
    ///
    /// On a multi-threaded runtime the read runs on the calling worker
    /// (`block_in_place` hands the worker's other tasks to another thread
    /// meanwhile): a read is a fraction of a millisecond, and handing it to
    /// a blocking thread and back cost two thread wake-ups, each of which
    /// can wait for a core under ingest. Balance p99 under live ingest,
    /// server side: 0.7-1.1 ms against 1.5-1.9 ms (2026-12-04,
    /// docs/bench-history.md). A current-thread runtime (most tests) cannot lend
    /// its only worker, so it uses the blocking pool.
    async fn read<T: Send + 'static>(&self, f: impl FnOnce(&mut dyn Db) -> Result<T> + Send + 'static) -> Result<T> {
        let pool = self.inner.readers.clone();
        let run = move || {
            let conn = pool.get()?;
            let mut db = LiteDb::new(&conn);
            db.begin()?;
            let out = f(&mut db);
            // Nothing to keep: ending the read transaction either way.
            let _ = db.rollback();
            out
        };
        if tokio::runtime::Handle::current().runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
            return tokio::task::block_in_place(run);
        }
        tokio::task::spawn_blocking(run).await.map_err(|e| StoreError::corrupt(format!("reader task: {e}")))?
    }
}

ledger_api!(SqliteStore);
crate::workflow::workflow_api!(SqliteStore);

#[cfg(test)]
mod tests {
    use super::*;

    fn wal_len(dir: &Path) -> u64 {
        std::fs::metadata(dir.join("w.db-wal")).map_or(0, |m| m.len())
    }

    /// The working size comes from the options; the file a restart leaves
    /// is twice it, and the truncation limit four times.
    #[test]
    fn the_wal_sizes_follow_the_options() {
        let options = StoreOptions { wal_restart_mib: 3, ..StoreOptions::default() };
        let sizes = WalSizes::of(&options);
        assert_eq!((sizes.restart, sizes.limit, sizes.keep()), (3 << 20, 12 << 20, 6 << 20));
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("w.db")).unwrap();
        configure(&conn, false, sizes).unwrap();
        let kept: i64 = conn.query_row("PRAGMA journal_size_limit", [], |r| r.get(0)).unwrap();
        assert_eq!(kept, 6 << 20);
    }

    /// The writer's checkpoints of `kind` recorded for `/metrics` while
    /// `f` ran.
    fn checkpoints_in(kind: &str, f: impl FnOnce()) -> usize {
        use metrics_util::debugging::{DebugValue, DebuggingRecorder};
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::with_local_recorder(&recorder, f);
        let ours = |key: &metrics::Key| {
            key.name() == "creditdesk_store_wal_checkpoint_seconds"
                && key.labels().any(|l| l.key() == "kind" && l.value() == kind)
        };
        let recorded = snapshotter.snapshot().into_vec().into_iter().filter(|(k, ..)| ours(k.key()));
        recorded.map(|(.., v)| if let DebugValue::Histogram(v) = v { v.len() } else { 0 }).sum()
    }

    /// A configured write connection on a new database with one table.
    fn writer_on_new_file() -> (tempfile::TempDir, PathBuf, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let writer = Connection::open(&path).unwrap();
        configure(&writer, false, WalSizes::of(&StoreOptions::default())).unwrap();
        writer.execute_batch("CREATE TABLE t (x BLOB)").unwrap();
        (dir, path, writer)
    }

    /// Frames in the WAL (what a PASSIVE checkpoint on another connection
    /// reports).
    fn wal_frames(path: &Path) -> i64 {
        let other = Connection::open(path).unwrap();
        other.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1)).unwrap()
    }

    /// Past the working size the cap leaves the copying to the
    /// checkpointer thread until it has copied all but the last
    /// `catch_up` bytes; then it checkpoints the rest, and the next commit
    /// writes the WAL from its beginning again instead of growing it.
    #[test]
    fn past_the_working_size_the_wal_starts_again_once_the_checkpointer_caught_up() {
        let (dir, path, writer) = writer_on_new_file();
        let insert = || writer.execute("INSERT INTO t VALUES (zeroblob(65536))", []).unwrap();
        let backfilled = Arc::new(AtomicI64::new(-1));
        let mut cap = WalCap::new(
            &writer,
            WalSizes { restart: 256 << 10, limit: 64 << 20, catch_up: 128 << 10 },
            backfilled.clone(),
        );
        let mut sizes = Vec::new();
        let none = checkpoints_in("restart", || {
            for _ in 0..5 {
                insert();
                cap.after_group(&writer);
                sizes.push(wal_len(dir.path()));
            }
        });
        assert_eq!(none, 0, "no checkpoint of the writer's while the checkpointer is behind");
        assert!(sizes[4] > 256 << 10 && sizes[4] < 512 << 10, "past the working size, under twice it: {sizes:?}");
        assert!(sizes.windows(2).all(|w| w[0] < w[1]), "nothing copied, no restart: {sizes:?}");

        // The checkpointer's pass while a reader holds the snapshot before
        // one more row: it copies all but that row, which the cap copies.
        let reader = Connection::open(&path).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        let _: i64 = reader.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0)).unwrap();
        insert();
        let copied: i64 =
            Connection::open(&path).unwrap().query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(2)).unwrap();
        reader.execute_batch("COMMIT").unwrap();
        backfilled.store(copied, Ordering::Relaxed);
        assert_eq!(checkpoints_in("restart", || cap.after_group(&writer)), 1, "timed for /metrics");
        let grown = wal_len(dir.path());
        insert();
        // A 64 KiB row is 65536 / PAGE_SIZE overflow pages and a leaf or two.
        let one_row = 2 * (65536 / PAGE_SIZE) as i64;
        assert!(wal_frames(&path) <= one_row, "one row's frames, from the start: {}", wal_frames(&path));
        assert_eq!(wal_len(dir.path()), grown, "the file is reused, not grown");

        // The file is still past the working size; the WAL in it is not,
        // so the next groups grow it again without a checkpoint.
        for _ in 0..2 {
            cap.after_group(&writer);
            insert();
        }
        assert!(wal_frames(&path) > one_row, "three rows' frames: {}", wal_frames(&path));
    }

    /// At the real working size: the restart writes over the file's first
    /// pages and leaves its length (no `ftruncate` of the tail, which the
    /// next groups would allocate again).
    #[test]
    fn the_restart_leaves_the_wal_file_whole() {
        let (dir, path, writer) = writer_on_new_file();
        let insert = || writer.execute("INSERT INTO t VALUES (zeroblob(1 << 20))", []).unwrap();
        let backfilled = Arc::new(AtomicI64::new(-1));
        let sizes = WalSizes::of(&StoreOptions::default());
        let mut cap = WalCap::new(&writer, sizes, backfilled.clone());
        while wal_len(dir.path()) <= sizes.restart + (2 << 20) {
            insert();
            cap.after_group(&writer);
        }
        backfilled.store(wal_frames(&path), Ordering::Relaxed);
        cap.after_group(&writer);
        let grown = wal_len(dir.path());
        insert();
        assert!(wal_frames(&path) < 200, "restarted: {} frames", wal_frames(&path));
        assert_eq!(wal_len(dir.path()), grown, "the file keeps its length past the working size");
    }

    /// A checkpointer that never copies (or a count from before the last
    /// restart) does not keep the WAL from restarting: past twice the
    /// working size the cap copies everything itself.
    #[test]
    fn without_the_checkpointer_the_cap_restarts_the_wal_at_twice_the_working_size() {
        let (dir, path, writer) = writer_on_new_file();
        let insert = || writer.execute("INSERT INTO t VALUES (zeroblob(65536))", []).unwrap();
        let backfilled = Arc::new(AtomicI64::new(i64::MAX));
        let mut cap =
            WalCap::new(&writer, WalSizes { restart: 128 << 10, limit: 64 << 20, catch_up: 64 << 10 }, backfilled);
        let mut most = 0;
        for _ in 0..16 {
            insert();
            cap.after_group(&writer);
            most = most.max(wal_len(dir.path()));
        }
        assert!(most < 512 << 10, "restarted past 256 KiB: at most {most} bytes");
        // Without the cap, the same writes keep growing the WAL.
        for _ in 0..8 {
            insert();
        }
        assert!(wal_frames(&path) > 32);
    }

    /// A reader on an old snapshot makes TRUNCATE answer busy (not an
    /// error); the cap keeps trying after every group and succeeds once
    /// the reader is gone.
    #[test]
    fn a_busy_truncation_is_retried_until_the_wal_is_empty() {
        let (dir, path, writer) = writer_on_new_file();
        let write = |n: usize| {
            for _ in 0..n {
                writer.execute("INSERT INTO t VALUES (zeroblob(65536))", []).unwrap();
            }
        };
        write(4);
        let reader = Connection::open(&path).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        let _: i64 = reader.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0)).unwrap();
        write(4);
        assert!(wal_len(dir.path()) > 256 << 10);

        let mut cap = WalCap::new(
            &writer,
            WalSizes { restart: 128 << 10, limit: 256 << 10, catch_up: 64 << 10 },
            Arc::new(AtomicI64::new(-1)),
        );
        cap.after_group(&writer);
        assert!(cap.over, "the reader's snapshot keeps the WAL");
        assert!(wal_len(dir.path()) > 0);
        cap.after_group(&writer);
        assert!(cap.over, "still busy, still pending");

        reader.execute_batch("COMMIT").unwrap();
        cap.after_group(&writer);
        assert!(!cap.over);
        assert_eq!(wal_len(dir.path()), 0, "truncated");
    }
}
