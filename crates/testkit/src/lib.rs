//! Test tooling for Creditdesk: throwaway PostgreSQL servers, so the storage
//! and API suites run on PostgreSQL with nothing set up by hand.
//!
//! A dev-dependency only (`publish = false`). Linux first (Debian 12 is what
//! the scripts and CI run); other Unixes work minus the kernel backstops
//! noted below.
//!
//! # Use
//!
//! ```no_run
//! // One fresh database per test, on the shared server of this test binary
//! // (or on the server DATABASE_URL names, if it is set):
//! let url = creditdesk_testkit::test_database_url("store::ingest_is_idempotent");
//! // -> postgres://postgres@127.0.0.1:PORT/store_ingest_is_idempotent_p1a2b_1
//!
//! // A server of its own, for tests that stop, crash or restart it:
//! use creditdesk_testkit::{PgOptions, PgServer};
//! let pg = PgServer::start_with(PgOptions { durable: true })?;
//! let url = pg.create_database("crash_during_ingest")?;
//! pg.crash()?; // SIGKILL the postmaster and every backend at once
//! pg.restart()?; // crash recovery, same port, same data
//! drop(pg); // immediate shutdown, temp dir deleted
//! # anyhow::Ok(())
//! ```
//!
//! # How it works, and why
//!
//! **Binaries.** Debian's `postgresql` package, which `./scripts/test`
//! installs (`ensure_postgres` in `scripts/lib/prereqs.sh`). We look in
//! `pg_config --bindir`, then the newest `/usr/lib/postgresql/<version>/bin`,
//! then `PATH`, for `initdb`, `postgres` and `psql`. The package's own `main`
//! cluster (port 5432) is never used, started or stopped.
//!
//! **A server** ([`PgServer::start`]) is `initdb` (trust auth for the
//! superuser `postgres`, UTF8, `C.UTF-8` locale, `--no-sync`: a cluster that
//! lives for one test run need not be synced at creation) in a new temp dir
//! named `creditdesk-pg-*` under `TMPDIR` (`data/`, `sock/`, `server.log`),
//! then `postgres` run directly (not through `pg_ctl`, so the postmaster is
//! our child) with `listen_addresses=127.0.0.1`, a free port,
//! `unix_socket_directories` in the temp dir (so servers never share a lock
//! file or touch `/var/run/postgresql`), `max_connections=200`,
//! `shared_buffers=128MB` and `TimeZone=UTC`. It is ready when a real query
//! (`SELECT 1` through `psql`) answers, polled every 20 ms for at most 60 s;
//! on failure the error carries the tail of the server log. A server starts
//! in about a second (initdb is most of it) and stops in well under one.
//!
//! **Root.** PostgreSQL refuses to run as root, and CI runs as root. When the
//! effective uid is 0, `initdb` and `postgres` run as the `postgres` system
//! user that Debian's package creates (`nobody` if there is none): the temp
//! dir is chowned to it, and the child processes switch user with
//! `setgid`/`setuid` before exec (`std::os::unix::process::CommandExt`, no
//! shell, no `runuser`). `psql` is only a client and runs as us. Otherwise
//! everything runs as the current user.
//!
//! **Ports.** We bind port 0 on 127.0.0.1 to learn a free port, release it,
//! and start PostgreSQL on it; if another process took it in between (the
//! log says "could not bind"), we pick another, up to 5 times. Nothing
//! listens beyond the loopback address.
//!
//! **Durability** is an option ([`PgOptions`]), on by default: `fsync`,
//! `full_page_writes` and `synchronous_commit` stay on, as the crash tests
//! and benchmarks need. `durable: false` turns `fsync` and
//! `full_page_writes` off for speed; `synchronous_commit` stays on, so an
//! acknowledged commit still survives the kill of any process (it is in the
//! kernel's page cache), just not a kernel crash or a power cut.
//!
//! **Cleanup.** Dropping a [`PgServer`] sends the postmaster SIGQUIT
//! (immediate shutdown: it ends its backends and exits), waits up to 10 s,
//! then SIGKILLs the postmaster and its children, and deletes the temp dir.
//! [`shared_pg`] lives in a static, which Rust never drops, so it is shut
//! down and deleted by an `atexit` handler when the test binary exits
//! normally (libtest exits through `exit` on success and on failure). For
//! exits that run no handler (SIGKILL, Ctrl-C, abort), the postmaster is
//! spawned with `PR_SET_PDEATHSIG = SIGKILL` from a keeper thread that lives
//! as long as the server, so the kernel kills the postmaster when the test
//! process dies, and its backends exit as soon as they see the postmaster
//! gone. Their temp dir stays; the next [`PgServer::start`] deletes every
//! `creditdesk-pg-*` dir whose owner process (`owner.pid`) is gone. After
//! `cargo test`, `pgrep -a postgres` shows no server of ours.
//!
//! **One server per test binary.** [`shared_pg`] starts at first use and
//! serves every test of the binary, each in its own database
//! ([`test_database_url`]; creating one from `template1` takes tens of
//! milliseconds). Under `cargo nextest`, which runs each test in its own
//! process, that is one server per test: slower, still correct.
//!
//! **`DATABASE_URL`.** If it is set (to a `postgres://` URL whose user may
//! create databases), [`test_database_url`] creates each test's database on
//! that server instead and starts nothing. Those databases are not dropped
//! afterwards (names carry the test name and the process id, so they can be
//! inspected, and are unique: a name that exists is skipped).

mod naming;
mod server;
mod sys;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use anyhow::{Context, Result};

pub use naming::sanitize_db_name;
pub use server::{PgOptions, PgServer};

static SHARED: OnceLock<PgServer> = OnceLock::new();
static NEXT_DB: AtomicU64 = AtomicU64::new(1);

/// The throwaway server shared by all tests of this test binary: started
/// (durable, [`PgOptions::default`]) at first use, shut down and deleted
/// when the process exits (see the crate docs). Panics, with what to do, if
/// it cannot start.
pub fn shared_pg() -> &'static PgServer {
    SHARED.get_or_init(|| {
        let server =
            PgServer::start().unwrap_or_else(|error| panic!("starting the test PostgreSQL server failed: {error:#}"));
        // SAFETY: registering a plain extern "C" fn; it never unwinds.
        if unsafe { libc::atexit(stop_shared_pg) } != 0 {
            eprintln!("creditdesk-testkit: atexit failed; the test PostgreSQL dies with the process instead");
        }
        server
    })
}

extern "C" fn stop_shared_pg() {
    let _ = std::panic::catch_unwind(|| {
        if let Some(server) = SHARED.get() {
            server.shutdown();
        }
    });
}

/// A fresh, empty database for one test, and its URL. If `DATABASE_URL` is
/// set, on that server; otherwise on [`shared_pg`]. The name is made from
/// `test_name` (sanitised), the process id and a counter, so every call
/// gets a new database. Panics, with the reason, if it cannot be created.
pub fn test_database_url(test_name: &str) -> String {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => create_unique_database_at(&url, test_name)
            .unwrap_or_else(|error| panic!("creating a test database on DATABASE_URL failed: {error:#}")),
        _ => {
            let server = shared_pg();
            let name = naming::unique_db_name(test_name, NEXT_DB.fetch_add(1, Ordering::Relaxed));
            server.create_database(&name).unwrap_or_else(|error| panic!("creating a test database failed: {error:#}"))
        }
    }
}

/// Creates a database named after `test_name` on the server at `url`,
/// skipping names that exist, and returns its URL.
fn create_unique_database_at(url: &str, test_name: &str) -> Result<String> {
    let psql = psql_binary();
    for _ in 0..1000 {
        let name = naming::unique_db_name(test_name, NEXT_DB.fetch_add(1, Ordering::Relaxed));
        match server::run_psql(&psql, url, &format!("CREATE DATABASE \"{name}\"")) {
            Ok(_) => return naming::with_database(url, &name),
            Err(error) if format!("{error:#}").contains("already exists") => continue,
            Err(error) => {
                return Err(error).with_context(|| format!("creating database {name} (the user needs CREATEDB)"))
            }
        }
    }
    anyhow::bail!("no free database name for {test_name:?} after 1000 tries")
}

fn psql_binary() -> std::path::PathBuf {
    server::find_bindir().map(|dir| dir.join("psql")).unwrap_or_else(|_| "psql".into())
}

/// Sends SIGKILL to `pid` (`kill -9`), e.g. a server process under test in
/// a crash test. Errors if there is no such process.
pub fn kill_9(pid: u32) -> std::io::Result<()> {
    if pid == 0 || libc::pid_t::try_from(pid).is_err() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("not a process id: {pid}")));
    }
    if sys::signal(pid, libc::SIGKILL) {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
