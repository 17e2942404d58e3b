//! [`PgServer`]: one throwaway PostgreSQL server in a temp dir.

use std::fs::{self, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tempfile::TempDir;

use crate::naming::sanitize_db_name;
use crate::sys::{self, RunAs};

/// Temp dirs of this crate's servers start with this; stale ones (their
/// test process is gone) are removed by the next [`PgServer::start`].
pub(crate) const DIR_PREFIX: &str = "creditdesk-pg-";
/// The file in a server's temp dir that names the test process owning it.
const OWNER_FILE: &str = "owner.pid";
/// The superuser initdb creates; trust auth, no password.
pub(crate) const SUPERUSER: &str = "postgres";

/// How long a start (or a restart with crash recovery) may take.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a fast shutdown (`stop`) may take before we kill the server.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long an immediate shutdown (drop, exit) may take before we kill it.
const IMMEDIATE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long killed processes may take to disappear.
const KILL_TIMEOUT: Duration = Duration::from_secs(10);
/// Free-port picks before giving up (another process may grab the port
/// between our probe and PostgreSQL's bind).
const PORT_ATTEMPTS: usize = 5;
/// Lines of the server log shown in errors.
const LOG_TAIL_LINES: usize = 30;

/// How a [`PgServer`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgOptions {
    /// `true` (the default): PostgreSQL's own durability settings (`fsync`,
    /// `full_page_writes`, `synchronous_commit` all on), as the crash tests
    /// and the benchmarks need. `false`: `fsync=off`, `full_page_writes=off`
    /// for speed: committed data still survives the kill of any process,
    /// including the postmaster, but not a kernel crash or power cut.
    pub durable: bool,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions { durable: true }
    }
}

/// A throwaway PostgreSQL server: `initdb` in a temp dir, listening on a free
/// port on 127.0.0.1 only, superuser `postgres` with trust auth. Dropping it
/// shuts the server down (immediate mode, killing it if it lingers) and
/// deletes the temp dir. See the crate docs for how and why.
pub struct PgServer {
    bindir: PathBuf,
    root: PathBuf,
    port: u16,
    run_as: Option<RunAs>,
    options: PgOptions,
    dir: Mutex<Option<TempDir>>,
    postmaster: Mutex<Option<Postmaster>>,
}

/// A running postmaster. `_keeper` keeps alive the thread that spawned it
/// (the kernel kills the postmaster when that thread dies, see
/// `sys::prepare`); dropping it, after the child is reaped, ends the thread.
struct Postmaster {
    child: Child,
    _keeper: mpsc::Sender<()>,
}

impl std::fmt::Debug for PgServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgServer")
            .field("url", &self.url())
            .field("dir", &self.root)
            .field("pid", &self.pid())
            .field("options", &self.options)
            .finish()
    }
}

impl PgServer {
    /// Starts a durable server ([`PgOptions::default`]).
    pub fn start() -> Result<PgServer> {
        PgServer::start_with(PgOptions::default())
    }

    /// Starts a server: finds the binaries, runs `initdb` in a new temp dir,
    /// starts `postgres` on a free port and waits until it answers a query.
    pub fn start_with(options: PgOptions) -> Result<PgServer> {
        let bindir = find_bindir()?;
        let run_as = sys::run_as()?;
        sweep_stale_dirs();

        let dir = tempfile::Builder::new()
            .prefix(DIR_PREFIX)
            .tempdir()
            .context("creating a temp dir for a test PostgreSQL server (set TMPDIR to a writable directory)")?;
        let root = dir.path().to_path_buf();
        fs::write(root.join(OWNER_FILE), std::process::id().to_string())
            .with_context(|| format!("writing {}", root.join(OWNER_FILE).display()))?;
        fs::create_dir(root.join("sock")).with_context(|| format!("creating {}/sock", root.display()))?;
        if let Some(user) = &run_as {
            for path in [root.clone(), root.join("sock")] {
                sys::chown(&path, user).with_context(|| {
                    format!("handing {} to the `{}` user that will run PostgreSQL", path.display(), user.name)
                })?;
            }
        }

        let mut server = PgServer {
            bindir,
            root,
            port: 0,
            run_as,
            options,
            dir: Mutex::new(Some(dir)),
            postmaster: Mutex::new(None),
        };
        server.initdb()?;
        for attempt in 1..=PORT_ATTEMPTS {
            server.port = free_port()?;
            let log_start = server.log_len();
            match server.launch() {
                Ok(()) => return Ok(server),
                // Someone took the port between our probe and the bind: pick another.
                Err(_) if attempt < PORT_ATTEMPTS && server.log_since(log_start).contains("could not bind") => {}
                Err(error) => return Err(error),
            }
        }
        unreachable!("the last attempt returns")
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`: the maintenance database.
    pub fn url(&self) -> String {
        self.url_for(SUPERUSER)
    }

    /// The URL of database `db` on this server (not created: see
    /// [`create_database`](Self::create_database)).
    pub fn url_for(&self, db: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{db}", self.port)
    }

    /// The TCP port, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The data directory (`PGDATA`), inside the temp dir.
    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    /// The temp dir holding everything: `data/`, `sock/`, `server.log`.
    pub fn dir(&self) -> &Path {
        &self.root
    }

    /// The server's log file (the postmaster's stdout and stderr).
    pub fn log_path(&self) -> PathBuf {
        self.root.join("server.log")
    }

    /// The options the server was started with.
    pub fn options(&self) -> PgOptions {
        self.options
    }

    /// The postmaster's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.lock().as_ref().map(|postmaster| postmaster.child.id())
    }

    /// Creates database `name` (sanitised: see [`sanitize_db_name`]) and
    /// returns its URL. Fails if it exists.
    pub fn create_database(&self, name: &str) -> Result<String> {
        let name = sanitize_db_name(name);
        self.psql(SUPERUSER, &format!("CREATE DATABASE \"{name}\""))
            .with_context(|| format!("creating database {name} on {}", self.url()))?;
        Ok(self.url_for(&name))
    }

    /// Runs `sql` with `psql` in database `db` as the superuser and returns
    /// what it printed (unaligned, tuples only). For setup and checks in
    /// tests; the code under test uses its own driver.
    pub fn psql(&self, db: &str, sql: &str) -> Result<String> {
        let conninfo = format!("host=127.0.0.1 port={} user={SUPERUSER} dbname={db} connect_timeout=10", self.port);
        run_psql(&self.bindir.join("psql"), &conninfo, sql)
    }

    /// Stops the server cleanly (fast shutdown: open sessions are ended,
    /// then a checkpoint), keeping its data; [`restart`](Self::restart)
    /// starts it again. Kills it if it takes longer than 30 s.
    pub fn stop(&self) -> Result<()> {
        self.halt(libc::SIGINT, STOP_TIMEOUT)
    }

    /// Simulates a crash of the database machine's processes: SIGKILLs the
    /// postmaster and every backend at once (no shutdown checkpoint, no
    /// goodbye to clients). [`restart`](Self::restart) then runs crash
    /// recovery. With `durable: true` every acknowledged commit survives.
    pub fn crash(&self) -> Result<()> {
        let mut guard = self.lock();
        let Some(mut postmaster) = guard.take() else { bail!("the test PostgreSQL server is not running") };
        kill_tree(&mut postmaster.child)
    }

    /// Starts the server again on the same data dir and port, after
    /// [`stop`](Self::stop) or [`crash`](Self::crash); if it is running, it is
    /// stopped first.
    pub fn restart(&self) -> Result<()> {
        if self.pid().is_some() {
            self.stop()?;
        }
        self.launch()
    }

    /// The last `lines` lines of the server log.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log_since(0), lines)
    }

    /// Immediate shutdown, kill if needed, delete the temp dir. Idempotent.
    pub(crate) fn shutdown(&self) {
        if let Err(error) = self.halt(libc::SIGQUIT, IMMEDIATE_TIMEOUT) {
            eprintln!("creditdesk-testkit: stopping the test PostgreSQL at {}: {error:#}", self.root.display());
        }
        let dir = self.dir.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        if let Some(dir) = dir {
            if let Err(error) = dir.close() {
                eprintln!("creditdesk-testkit: deleting {}: {error}", self.root.display());
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Postmaster>> {
        self.postmaster.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bindir.join(program));
        // The test's working directory may be unreadable for the `postgres`
        // user; PostgreSQL's tools dislike that.
        cmd.current_dir(&self.root).stdin(Stdio::null());
        for var in ["PGDATA", "PGPORT", "PGHOST", "PGUSER", "PGDATABASE", "PGOPTIONS"] {
            cmd.env_remove(var);
        }
        cmd
    }

    fn initdb(&self) -> Result<()> {
        let mut cmd = self.command("initdb");
        cmd.arg("--pgdata")
            .arg(self.data_dir())
            .args(["--username", SUPERUSER, "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"])
            .args(["--no-sync", "--no-instructions"])
            .env("TZ", "UTC");
        sys::prepare(&mut cmd, self.run_as.as_ref(), false);
        let started = Instant::now();
        let output = cmd.output().with_context(|| format!("running {}", self.bindir.join("initdb").display()))?;
        if !output.status.success() {
            bail!(
                "initdb failed ({}) in {}{}:\n{}{}",
                output.status,
                self.root.display(),
                self.run_as.as_ref().map(|u| format!(" as user `{}`", u.name)).unwrap_or_default(),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr),
            );
        }
        log_timing("initdb", started);
        Ok(())
    }

    /// Starts the postmaster and waits until it answers a query.
    fn launch(&self) -> Result<()> {
        let started = Instant::now();
        let log_path = self.log_path();
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("opening {}", log_path.display()))?;
        let log_start = self.log_len();

        let mut cmd = self.command("postgres");
        cmd.arg("-D").arg(self.data_dir());
        let mut settings: Vec<String> = vec![
            format!("port={}", self.port),
            "listen_addresses=127.0.0.1".into(),
            format!("unix_socket_directories={}", self.socket_dir_setting()),
            "max_connections=200".into(),
            "shared_buffers=128MB".into(),
            "TimeZone=UTC".into(),
            "log_timezone=UTC".into(),
            "logging_collector=off".into(),
        ];
        if self.options.durable {
            settings.extend(["fsync=on", "full_page_writes=on", "synchronous_commit=on"].map(String::from));
        } else {
            settings.extend(["fsync=off", "full_page_writes=off"].map(String::from));
        }
        for setting in &settings {
            cmd.arg("-c").arg(setting);
        }
        cmd.stdout(log.try_clone()?).stderr(log);
        sys::prepare(&mut cmd, self.run_as.as_ref(), true);

        let mut guard = self.lock();
        if guard.is_some() {
            bail!("the test PostgreSQL server is already running");
        }
        let (child, keeper) =
            spawn_kept(cmd).with_context(|| format!("starting {}", self.bindir.join("postgres").display()))?;
        *guard = Some(Postmaster { child, _keeper: keeper });
        drop(guard);

        let deadline = Instant::now() + START_TIMEOUT;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let mut last_error = String::from("no connection yet");
        loop {
            if let Some(status) = self.reap_if_exited() {
                bail!(
                    "PostgreSQL exited while starting ({status}); the tail of {}:\n{}",
                    log_path.display(),
                    tail(&self.log_since(log_start), LOG_TAIL_LINES)
                );
            }
            if TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok() {
                match self.psql(SUPERUSER, "SELECT 1") {
                    Ok(out) if out.trim() == "1" => break,
                    Ok(out) => last_error = format!("SELECT 1 returned {out:?}"),
                    Err(error) => last_error = format!("{error:#}"),
                }
            }
            if Instant::now() >= deadline {
                let log = tail(&self.log_since(log_start), LOG_TAIL_LINES);
                let _ = self.halt(libc::SIGQUIT, IMMEDIATE_TIMEOUT);
                bail!(
                    "PostgreSQL did not accept connections on {addr} within {START_TIMEOUT:?} (last: {last_error}); \
                     the tail of {}:\n{log}",
                    log_path.display()
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
        log_timing("start", started);
        Ok(())
    }

    /// Unix sockets go in our temp dir, so no two servers share a lock file
    /// and nothing touches /var/run/postgresql. Socket paths are limited to
    /// about 100 bytes: with a very long TMPDIR, TCP only.
    fn socket_dir_setting(&self) -> String {
        let dir = self.root.join("sock");
        let dir = dir.to_string_lossy();
        if dir.len() + ".s.PGSQL.65535".len() + 1 < 100 && !dir.contains([',', ' ', '\'']) {
            dir.into_owned()
        } else {
            String::new()
        }
    }

    /// Reaps the postmaster if it has exited on its own.
    fn reap_if_exited(&self) -> Option<ExitStatus> {
        let mut guard = self.lock();
        let status = guard.as_mut()?.child.try_wait().ok()??;
        *guard = None;
        Some(status)
    }

    /// Sends `signal` (SIGINT: fast, SIGQUIT: immediate shutdown) and waits
    /// up to `timeout` for the postmaster, which waits for its backends;
    /// then kills whatever is left.
    fn halt(&self, signal: libc::c_int, timeout: Duration) -> Result<()> {
        let mut guard = self.lock();
        let Some(mut postmaster) = guard.take() else { return Ok(()) };
        let started = Instant::now();
        let child = &mut postmaster.child;
        if child.try_wait()?.is_some() {
            return Ok(());
        }
        sys::signal(child.id(), signal);
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if child.try_wait()?.is_some() {
                log_timing("stop", started);
                return Ok(());
            }
            thread::sleep(Duration::from_millis(10));
        }
        kill_tree(child)?;
        bail!("PostgreSQL did not shut down within {timeout:?}, so it was killed")
    }

    fn log_len(&self) -> u64 {
        fs::metadata(self.log_path()).map(|m| m.len()).unwrap_or(0)
    }

    fn log_since(&self, offset: u64) -> String {
        let mut text = String::new();
        if let Ok(mut file) = fs::File::open(self.log_path()) {
            let _ = file.seek(SeekFrom::Start(offset));
            let mut bytes = Vec::new();
            let _ = file.read_to_end(&mut bytes);
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
        text
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Runs `psql` against `conninfo` (a URL or key=value string): no psqlrc,
/// never a password prompt, stop at the first error.
pub(crate) fn run_psql(psql: &Path, conninfo: &str, sql: &str) -> Result<String> {
    let output = Command::new(psql)
        .args(["-X", "-w", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c", sql])
        .stdin(Stdio::null())
        .output()
        .with_context(|| {
            format!("running {} (PostgreSQL's client: apt-get install postgresql-client)", psql.display())
        })?;
    if !output.status.success() {
        bail!("psql failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Spawns `cmd` from a thread that lives until the returned sender is
/// dropped: with `PR_SET_PDEATHSIG` the kernel signals the child when the
/// *thread* that forked it dies, so that thread must outlive the test that
/// happened to start the server.
fn spawn_kept(mut cmd: Command) -> Result<(Child, mpsc::Sender<()>)> {
    let (result_tx, result_rx) = mpsc::channel();
    let (keep_tx, keep_rx) = mpsc::channel::<()>();
    thread::Builder::new()
        .name("testkit-pg-keeper".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            let spawned = cmd.spawn();
            let ok = spawned.is_ok();
            let _ = result_tx.send(spawned);
            if ok {
                // Returns when the sender is dropped.
                let _ = keep_rx.recv();
            }
        })
        .context("spawning the PostgreSQL keeper thread")?;
    let child = result_rx.recv().context("the PostgreSQL keeper thread died")??;
    Ok((child, keep_tx))
}

/// Freezes the postmaster (so it forks no more), SIGKILLs its children and
/// it, reaps it, and waits for the children to be gone.
fn kill_tree(child: &mut Child) -> Result<()> {
    let pid = child.id();
    if child.try_wait()?.is_none() {
        sys::signal(pid, libc::SIGSTOP);
        let children = sys::children_of(pid);
        for &backend in &children {
            sys::signal(backend, libc::SIGKILL);
        }
        let _ = child.kill();
        child.wait()?;
        let left = sys::wait_gone(&children, KILL_TIMEOUT);
        if !left.is_empty() {
            bail!("PostgreSQL processes {left:?} survived SIGKILL for {KILL_TIMEOUT:?}");
        }
    } else {
        child.wait()?;
    }
    Ok(())
}

/// A port nobody listens on now, on 127.0.0.1.
fn free_port() -> Result<u16> {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free TCP port on 127.0.0.1 for PostgreSQL")?;
    Ok(listener.local_addr()?.port())
}

/// The directory holding `initdb`, `postgres` and `psql`: `pg_config
/// --bindir` if it has them, else the newest `/usr/lib/postgresql/*/bin`
/// (Debian's layout), else wherever `initdb` is on `PATH`.
pub(crate) fn find_bindir() -> Result<PathBuf> {
    let complete = |dir: &Path| ["initdb", "postgres", "psql"].iter().all(|bin| is_executable(&dir.join(bin)));
    if let Ok(output) = Command::new("pg_config").arg("--bindir").stderr(Stdio::null()).output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if output.status.success() && complete(&dir) {
            return Ok(dir);
        }
    }
    let mut debian: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, dir)| complete(dir))
        .collect();
    debian.sort();
    if let Some((_, dir)) = debian.pop() {
        return Ok(dir);
    }
    if let Some(dir) = std::env::var_os("PATH").iter().flat_map(std::env::split_paths).find(|dir| complete(dir)) {
        return Ok(dir);
    }
    bail!(
        "PostgreSQL's server binaries (initdb, postgres, psql) were not found: run ./scripts/test, which installs \
         Debian's postgresql package, or `apt-get install postgresql`; or set DATABASE_URL to a server the tests may use"
    )
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Removes temp dirs left by test processes that died without cleaning up
/// (SIGKILL, abort): their postmaster died with them (see `sys::prepare`),
/// but the files stay. A dir whose owner still runs is left alone.
fn sweep_stale_dirs() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else { return };
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(DIR_PREFIX) {
            continue;
        }
        let dir = entry.path();
        let Ok(owner) = fs::read_to_string(dir.join(OWNER_FILE)) else { continue };
        let Ok(owner) = owner.trim().parse::<u32>() else { continue };
        if sys::is_running(owner) {
            continue;
        }
        // A postmaster that somehow outlived its owner (not started by this
        // crate's current code): kill it before deleting its files.
        if let Ok(pidfile) = fs::read_to_string(dir.join("data/postmaster.pid")) {
            if let Some(pid) = pidfile.lines().next().and_then(|line| line.trim().parse::<u32>().ok()) {
                let cwd = fs::read_link(format!("/proc/{pid}/cwd")).ok();
                if sys::process_name(pid).as_deref() == Some("postgres") && cwd == Some(dir.join("data")) {
                    sys::signal(pid, libc::SIGKILL);
                    sys::wait_gone(&[pid], KILL_TIMEOUT);
                }
            }
        }
        let _ = fs::remove_dir_all(&dir);
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    let tail = all[all.len().saturating_sub(lines)..].join("\n");
    if tail.is_empty() {
        "(empty)".into()
    } else {
        tail
    }
}

/// With `CREDITDESK_TESTKIT_TIMINGS=1`, prints how long each step took.
fn log_timing(what: &str, started: Instant) {
    if std::env::var_os("CREDITDESK_TESTKIT_TIMINGS").is_some_and(|v| v == "1") {
        eprintln!("creditdesk-testkit: {what} took {:?}", started.elapsed());
    }
}
