//! `creditdesk-bench`: the performance targets of `service.md`, measured
//! over real HTTP against a real `creditdesk-server` process on SQLite,
//! then the same load on PostgreSQL (a throwaway durable server started by
//! `creditdesk-testkit`), the SQLite figures each beside a baseline
//! measured in the same run on the same rows:
//!
//! - the raw SQLite insert rate of the same ledger rows with no logic (the
//!   ceiling a ledger on SQLite can approach), and
//! - a plain SQL ledger that sums entries per query (what a user would
//!   write by hand) for balances and series.
//!
//! Request bodies are serialised before the clock starts, so the client's
//! own JSON work on this 2-core machine is not charged to the server.
//!
//! Run: `scripts/bench` (builds the release binaries, then runs this).

mod baseline;
mod load;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;

#[derive(Parser, Clone)]
#[command(about = "Benchmark creditdesk-server over HTTP")]
pub struct Args {
    /// The server binary (a release build).
    #[arg(long, default_value = "target/release/creditdesk-server")]
    pub server: PathBuf,
    /// Events of history for the one big customer (backfilled over 365 days).
    #[arg(long, default_value_t = 1_000_000)]
    pub history: usize,
    /// Events of live ingest across all customers.
    #[arg(long, default_value_t = 1_000_000)]
    pub live: usize,
    /// Customers.
    #[arg(long, default_value_t = 200)]
    pub customers: usize,
    /// Events per HTTP batch during live ingest.
    #[arg(long, default_value_t = 200)]
    pub batch: usize,
    /// Seconds of the fixed-schedule phase, offered at the database's
    /// ingest target (SQLite 100,000, PostgreSQL 20,000 events/s).
    #[arg(long, default_value_t = 5.0)]
    pub paced_seconds: f64,
    /// Events per second offered in the fixed-schedule phase instead of the
    /// database's target: on a machine too slow to take the target rate,
    /// what a lower rate costs in acks (the ack target is then not judged).
    #[arg(long)]
    pub paced_rate: Option<f64>,
    /// The shape of the event ids clients send (their idempotency keys).
    #[arg(long, value_enum, default_value_t = EventIds::Sequential)]
    pub event_ids: EventIds,
    /// Concurrent HTTP clients during live ingest.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Queries per latency figure.
    #[arg(long, default_value_t = 200)]
    pub queries: usize,
    /// Write the markdown report here too.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Skip the PostgreSQL run.
    #[arg(long)]
    pub no_pg: bool,
    /// Skip the SQLite run and its baselines (PostgreSQL only).
    #[arg(long, conflicts_with = "no_pg")]
    pub no_sqlite: bool,
}

/// Event ids as clients make them. The events table is keyed by id, so
/// the shape decides where each insert lands: sequential and time-ordered
/// ids append, random ones land anywhere in the table.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq)]
pub enum EventIds {
    /// `l0`, `l1`, ...: one counter, in batch order.
    Sequential,
    /// Random UUIDs (version 4).
    Uuid4,
    /// Time-ordered UUIDs (version 7, as ULIDs are).
    Uuid7,
}

impl EventIds {
    /// The id of the `i`th event of a phase whose ids start with `prefix`.
    pub fn id(self, prefix: &str, i: usize) -> String {
        match self {
            EventIds::Sequential => format!("{prefix}{i}"),
            EventIds::Uuid4 => uuid::Uuid::new_v4().to_string(),
            EventIds::Uuid7 => uuid::Uuid::now_v7().to_string(),
        }
    }
}

/// A running server process, killed on drop.
pub struct Server {
    child: Child,
    pub base: String,
    pub token: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory of a process, in bytes.
    pub fn rss_of(pid: u32) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let kb: u64 = status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    }
}

/// CPU time and bytes passed to `write` so far, summed over a process's
/// threads whose name starts with one of `prefixes` (Linux `/proc`).
#[derive(Clone, Copy)]
pub struct ThreadUsage {
    pub cpu_secs: f64,
    pub bytes_written: u64,
}

impl Server {
    /// The store's writer threads: `creditdesk-writer` (SQLite) and
    /// `creditdesk-pg-writer-N`, as `/proc` shortens them to 15 bytes.
    pub fn writer_usage(pid: u32) -> Option<ThreadUsage> {
        Self::thread_usage(pid, &["creditdesk-writ", "creditdesk-pg-w"])
    }

    fn thread_usage(pid: u32, prefixes: &[&str]) -> Option<ThreadUsage> {
        let mut usage = ThreadUsage { cpu_secs: 0.0, bytes_written: 0 };
        let mut found = false;
        for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten() {
            let dir = task.path();
            let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
            if !prefixes.iter().any(|p| comm.starts_with(p)) {
                continue;
            }
            // After the name's closing parenthesis: field 3 (state) first,
            // so utime and stime (fields 14 and 15) are at 11 and 12.
            let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
            let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
            usage.cpu_secs += ticks as f64 / 100.0; // USER_HZ, 100 on Linux
            let io = std::fs::read_to_string(dir.join("io")).unwrap_or_default();
            usage.bytes_written +=
                io.lines().find_map(|l| l.strip_prefix("wchar:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
            found = true;
        }
        found.then_some(usage)
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

async fn start_server(args: &Args, db_url: &str) -> anyhow::Result<Server> {
    let out = Command::new(&args.server)
        .args(["--db", db_url, "users", "add", "--name", "bench", "--role", "admin"])
        .output()
        .with_context(|| {
            format!("running {} (build it with `cargo build --release -p creditdesk-server`)", args.server.display())
        })?;
    if !out.status.success() {
        bail!("users add failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let token = String::from_utf8(out.stdout)?.trim().to_string();
    let port = free_port()?;
    let child = Command::new(&args.server)
        .args(["--db", db_url, "serve", "--addr", &format!("127.0.0.1:{port}"), "--log", "warn"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    let server = Server { child, base: format!("http://127.0.0.1:{port}"), token };
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while http.get(format!("{}/healthz", server.base)).send().await.is_err() {
        if Instant::now() > deadline {
            bail!("the server did not answer /healthz within 20 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(server)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|k| k.parse::<u64>().ok()))
        .map(|kb| format!("{:.0} GiB", kb as f64 / 1024.0 / 1024.0))
        .unwrap_or_default();
    format!("{cpu}, {cores} cores, {mem}")
}

/// The ingest targets (service.md), offered in the fixed-schedule phase.
const SQLITE_TARGET_EVENTS_PER_SEC: f64 = 100_000.0;
const PG_TARGET_EVENTS_PER_SEC: f64 = 20_000.0;

fn main() -> anyhow::Result<()> {
    // The load generator stands in for clients on other machines. Its
    // runtime's threads are in the background scheduling class, so that
    // on this machine's two cores it never takes a core from the server's
    // request threads, whose answer times are being measured. The main
    // thread (the servers it starts, the raw-insert baseline) and the
    // balance prober (`load::Prober`, its own thread) stay in the normal
    // class.
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_start(creditdesk_store::run_in_background)
        .build()?
        .block_on(bench(Args::parse()))
}

async fn bench(args: Args) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut report = String::new();
    let mut line = |s: String| {
        println!("{s}");
        report.push_str(&s);
        report.push('\n');
    };
    line(format!(
        "# creditdesk-server benchmark\n\nMachine: {}. Date: {}.",
        machine(),
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    ));
    line(
        "Durability: SQLite WAL, `synchronous=NORMAL` (durable across process crashes; `sync_full` for power loss), \
         the WAL restarting at the server's default working size (`wal_restart_mib`); \
         PostgreSQL with its own defaults (`fsync`, `full_page_writes`, `synchronous_commit` on).\n"
            .into(),
    );
    line(format!(
        "Event ids: `--event-ids {}`.\n",
        clap::ValueEnum::to_possible_value(&args.event_ids).map(|v| v.get_name().to_string()).unwrap_or_default()
    ));
    if !args.no_sqlite {
        let sqlite_url = format!("sqlite://{}", dir.path().join("bench.db").display());
        let server = start_server(&args, &sqlite_url).await?;
        let figures =
            load::run(&args, &server, args.paced_rate.unwrap_or(SQLITE_TARGET_EVENTS_PER_SEC), &mut line).await?;
        drop(server);
        let baselines = baseline::run(&args, dir.path(), &mut line)?;
        line(String::new());
        line(load::summary(&figures, &baselines));
    }

    if !args.no_pg {
        // The same load on PostgreSQL: a durable throwaway server (fsync,
        // full_page_writes and synchronous_commit on) on this machine.
        line("\n## PostgreSQL\n".into());
        let pg = creditdesk_testkit::PgServer::start()?;
        let server = start_server(&args, &pg.create_database("bench")?).await?;
        let figures = load::run(&args, &server, args.paced_rate.unwrap_or(PG_TARGET_EVENTS_PER_SEC), &mut line).await?;
        drop(server);
        line(String::new());
        line(load::pg_summary(&figures));
    }
    if let Some(out) = &args.out {
        std::fs::write(out, &report)?;
    }
    Ok(())
}
