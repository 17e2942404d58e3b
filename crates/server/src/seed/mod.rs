//! The deterministic demo dataset behind `creditdesk-server demo-seed` and
//! the desktop app's embedded mode: a speech/AI product with three credit
//! types, a few hundred customers and a year of usage, so a newcomer sees a
//! populated console (balances, burn trends, expiries, overage, voids,
//! disputes) on first launch.
//!
//! # The seeder owns the clock
//!
//! A realistic history needs the ledger's "now" to walk through the year:
//! expiries and rollovers must be booked at month ends, grants recorded when
//! they were made, and usage ingested shortly after it happened. The store
//! reads "now" from the clock it was opened with, so [`demo_seed`] opens its
//! **own** [`SqliteStore`] on the database file with a
//! [`ManualClock`], walks that clock from `now - days` to `now`, and closes
//! the store when done. The caller passes the path and the options it would
//! open the store with; `base.clock` says what "now" (the end of the
//! simulated period) is. Afterwards the caller opens the store normally.
//! Seeding overrides `sync_full` to `false`: the seed is re-runnable, so
//! power-loss durability for each of its ~1,500 commits buys nothing.
//!
//! Each simulated day: at 00:01 a sweep books the expiries and rollovers of
//! midnight and the month's plan allotments are issued; at noon the day's
//! manual work happens (sign-ups, purchases and top-ups, promotions,
//! goodwill, voids, dispute reversals); just before midnight the day's usage
//! is ingested, in one group commit (the store's cost is mostly per commit,
//! so finer slices of the day cost more than they show). Seeded grants
//! expire at midnight, so usage never arrives after an expiry it predates;
//! only `dispute_refund` grants, which the ledger dates from the reversal
//! (noon), can see that day's earlier usage arrive late, and the ledger
//! books it by event time with an `expiry_correction`, as it would live.
//!
//! # What is generated (all of it from `seed`)
//!
//! - Catalog: `batch` (batch transcription credits, $0.01, carry-forward
//!   overage, standard burn order), `custom` (custom-model credits, $0.05,
//!   carry-forward, soonest-expiring-first burn order), `realtime` (real-time
//!   minutes, $0.02, invoiced overage); products `batch-en`, `batch-multi`,
//!   `diarization`, `custom-train`, `custom-infer`, `realtime-stream`. The
//!   `batch-en` rate drops from 1 to 0.85 credits/minute on the first month
//!   start after mid-period (announced two weeks before), and a few
//!   enterprise customers have their own (override) rates.
//! - Customers `cus_0001`...: enterprise, growth, startup and trial tiers of
//!   very different volume, weekday/weekend seasonality, growth over the
//!   year, some bursty, a few churning, trials that convert or lapse.
//! - Usage: about 1,000,000 events for 200 customers and 365 days (linear in
//!   both), ingested in batches of up to 1,000 through
//!   [`SqliteStore::ingest`] in [`IngestMode::Backfill`] at the end of the
//!   day it happened. Event ids are UUIDv7 (time-ordered, as many clients
//!   send), which keeps the id-keyed events table append-only.
//! - Grants: monthly plan allotments (expiring at month end, 50% rollover
//!   capped at a quarter of the allotment), self-serve purchases and
//!   auto top-ups, migrated opening balances, trial and campaign promotions
//!   (some product-restricted), goodwill with reason codes and tickets
//!   (some approved by a lead or finance), duplicate purchases voided by
//!   finance, plan remainders voided at churn, and dispute reversals.
//! - Users: `demo-admin` (admin) plus one user per other role; their tokens
//!   are in the report and shown nowhere else (only hashes are stored).
//!
//! The same seed, options and end instant give the same ledger: events are
//! generated per (customer, day) from their own random stream, and every
//! write is sent in a fixed order (concurrent batches enter the writer's
//! queue in the order they were created).
//!
//! # Idempotent
//!
//! The demo catalog plus the `demo-admin` user (created last) mark a
//! complete seed: a second run reports [`SeedOutcome::AlreadySeeded`] and
//! writes nothing. A database holding anything else (another catalog,
//! customers, a half-finished seed) is refused rather than mixed with demo
//! data.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use creditdesk_api::Role;
use creditdesk_ledger::clock::ManualClock;
use creditdesk_ledger::LedgerError;
use creditdesk_store::{SqliteStore, StoreError, StoreOptions};

mod catalog;
mod customers;
mod numbers;
mod plan;
mod sim;

use catalog::CTS;
use plan::Plan;
use sim::Sim;

/// How big a dataset to generate, and from which seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedOptions {
    pub customers: u32,
    /// Length of the simulated period, ending at the store clock's "now".
    pub days: u32,
    pub seed: u64,
}

impl Default for SeedOptions {
    fn default() -> Self {
        SeedOptions { customers: 200, days: 365, seed: 42 }
    }
}

/// Most customers: ids are `cus_0001` to `cus_9999`.
pub const MAX_CUSTOMERS: u32 = 9_999;
/// Most days: ten years is plenty for a demo and keeps dates sane.
pub const MAX_DAYS: u32 = 3_650;

impl SeedOptions {
    fn validate(&self) -> Result<(), SeedError> {
        if !(1..=MAX_CUSTOMERS).contains(&self.customers) {
            return Err(SeedError::Options(format!("customers must be between 1 and {MAX_CUSTOMERS}")));
        }
        if !(1..=MAX_DAYS).contains(&self.days) {
            return Err(SeedError::Options(format!("days must be between 1 and {MAX_DAYS}")));
        }
        Ok(())
    }
}

/// The demo admin: the desktop app's embedded mode signs in as this user.
pub const ADMIN_USER: &str = "demo-admin";

/// The other demo users, one per role, so each role's view can be tried.
const OTHER_USERS: [(&str, Role); 5] = [
    ("demo-support-agent", Role::SupportAgent),
    ("demo-support-lead", Role::SupportLead),
    ("demo-finance", Role::Finance),
    ("demo-account-manager", Role::AccountManager),
    ("demo-viewer", Role::Viewer),
];

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("invalid seed options: {0}")]
    Options(String),
    #[error("the database is not empty ({0}); demo data is only seeded into an empty database")]
    NotEmpty(String),
    #[error("the database holds an incomplete demo dataset (an interrupted seed?); delete the file and seed again")]
    Incomplete,
    #[error("{what}: {source}")]
    Store {
        what: String,
        #[source]
        source: StoreError,
    },
    #[error("demo event {event} was not accepted: {detail}")]
    EventNotAccepted { event: String, detail: String },
    /// Generated data broke a ledger rule: a bug in the generator.
    #[error("generating the demo data: {0}")]
    Ledger(#[from] LedgerError),
    #[error("reading back the seeded database: {0}")]
    Count(#[from] rusqlite::Error),
}

/// Wraps a store error with what the seeder was doing.
fn store_err(what: impl Into<String>) -> impl FnOnce(StoreError) -> SeedError {
    let what = what.into();
    move |source| SeedError::Store { what, source }
}

/// Where the seeder is, for progress bars.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeedPhase {
    /// Looking at what the database already holds.
    Checking,
    /// Credit types, products, rate cards, customers.
    Catalog,
    /// Walking the days: grants, usage, expiries, voids, disputes.
    Usage,
    /// Demo users and final counts.
    Finishing,
    Done,
}

impl SeedPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            SeedPhase::Checking => "checking",
            SeedPhase::Catalog => "catalog",
            SeedPhase::Usage => "usage",
            SeedPhase::Finishing => "finishing",
            SeedPhase::Done => "done",
        }
    }
}

/// A progress report: the phase, overall percent, and for the usage phase
/// the simulated day and events so far. Sent at each phase change and each
/// whole percent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedProgress {
    pub phase: SeedPhase,
    /// 0..=100, over the whole seed.
    pub percent: u8,
    /// Simulated days done.
    pub day: u32,
    pub days: u32,
    /// Usage events ingested so far.
    pub events: u64,
}

impl fmt::Display for SeedProgress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "demo-seed [{:>3}%] {}", self.percent, self.phase.as_str())?;
        if self.phase == SeedPhase::Usage {
            write!(f, ": day {}/{}, {} events", self.day, self.days, thousands(self.events))?;
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeedOutcome {
    Seeded,
    /// The database already held the demo dataset; nothing was written.
    AlreadySeeded,
}

/// A demo user; `token` is only known to the run that created the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedUser {
    pub name: String,
    pub role: Role,
    pub token: Option<String>,
}

/// What the seed did. Counts are read back from the database, so they
/// include what the ledger derived (rollover grants, expiry entries, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedReport {
    pub outcome: SeedOutcome,
    /// The seed and period used (known only to the run that seeded).
    pub seed: Option<u64>,
    pub period: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub customers: u64,
    pub grants: u64,
    pub events: u64,
    pub entries: u64,
    /// Rejected events stored (0 for a healthy seed).
    pub rejected: u64,
    pub elapsed: Duration,
    pub users: Vec<SeedUser>,
}

impl SeedReport {
    /// The `demo-admin` token, when this run created the user.
    pub fn admin_token(&self) -> Option<&str> {
        self.users.iter().find(|u| u.name == ADMIN_USER).and_then(|u| u.token.as_deref())
    }
}

impl fmt::Display for SeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.outcome {
            SeedOutcome::Seeded => writeln!(
                f,
                "demo dataset seeded (seed {}) in {:.1} s",
                self.seed.unwrap_or_default(),
                self.elapsed.as_secs_f64()
            )?,
            SeedOutcome::AlreadySeeded => {
                writeln!(f, "the database already holds the demo dataset; nothing was written")?
            }
        }
        if let Some((from, to)) = self.period {
            writeln!(
                f,
                "  period     {} .. {} ({} days)",
                from.format("%Y-%m-%d"),
                to.format("%Y-%m-%d %H:%M UTC"),
                (to - from).num_days() + 1
            )?;
        }
        writeln!(f, "  customers  {}", thousands(self.customers))?;
        writeln!(f, "  grants     {}", thousands(self.grants))?;
        let rate = match self.outcome {
            SeedOutcome::Seeded if self.elapsed.as_secs_f64() > 0.0 => {
                format!(" ({} events/s overall)", thousands((self.events as f64 / self.elapsed.as_secs_f64()) as u64))
            }
            _ => String::new(),
        };
        writeln!(f, "  events     {}{rate}", thousands(self.events))?;
        writeln!(f, "  entries    {}", thousands(self.entries))?;
        if self.rejected > 0 {
            writeln!(f, "  rejected   {}", thousands(self.rejected))?;
        }
        if self.users.iter().any(|u| u.token.is_some()) {
            writeln!(f, "  users (tokens are shown once; only their hashes are stored):")?;
        } else {
            writeln!(f, "  users (tokens were shown when the dataset was seeded; `users add` makes new ones):")?;
        }
        for u in &self.users {
            writeln!(f, "    {:<22} {:<16} {}", u.name, u.role.as_str(), u.token.as_deref().unwrap_or("-"))?;
        }
        Ok(())
    }
}

/// `1234567` -> `1,234,567`.
fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Seeds the demo dataset into the SQLite database at `path` (created if
/// missing), or reports that it is already there.
///
/// Opens its own store on `path` with `base`'s options but a [`ManualClock`]
/// (see the module docs); `base.clock.now()` is the end of the simulated
/// period. `progress` is called at each phase and each whole percent.
pub async fn demo_seed(
    path: &Path,
    base: StoreOptions,
    opts: SeedOptions,
    progress: impl Fn(SeedProgress),
) -> Result<SeedReport, SeedError> {
    opts.validate()?;
    let started = Instant::now();
    let end = base.clock.now();
    let clock = Arc::new(ManualClock::new(end));
    let options = StoreOptions { clock: clock.clone(), sync_full: false, ..base };
    let store = SqliteStore::open(path, options).map_err(store_err(format!("opening {}", path.display())))?;
    let report = |phase, percent| SeedProgress { phase, percent, day: 0, days: opts.days, events: 0 };
    progress(report(SeedPhase::Checking, 0));

    let (outcome, seed, period, users) = if check_existing(&store).await? {
        let mut users = Vec::new();
        for u in store.users().await.map_err(store_err("listing users"))? {
            if let Some(role) = demo_role(&u.name) {
                users.push(SeedUser { name: u.name, role, token: None });
            }
        }
        // The order a fresh seed reports them in: admin first.
        users.sort_by_key(|u| OTHER_USERS.iter().position(|(n, _)| *n == u.name).map_or(0, |i| i + 1));
        (SeedOutcome::AlreadySeeded, None, None, users)
    } else {
        let plan = Plan::new(opts, end)?;
        let period = (plan.start, plan.end);
        let users = Sim::new(&store, &clock, plan)?.run(&progress).await?;
        (SeedOutcome::Seeded, Some(opts.seed), Some(period), users)
    };
    drop(store);
    let counts = count_rows(path, outcome == SeedOutcome::Seeded)?;
    progress(report(SeedPhase::Done, 100));
    Ok(SeedReport {
        outcome,
        seed,
        period,
        customers: counts.customers,
        grants: counts.grants,
        events: counts.events,
        entries: counts.entries,
        rejected: counts.rejected,
        elapsed: started.elapsed(),
        users,
    })
}

/// `true` when the demo dataset is already complete, `false` when the
/// database is empty. Anything else is refused: demo data must never mix
/// with real data, and a half-finished seed cannot be resumed (its history
/// was recorded by a clock that has moved on).
async fn check_existing(store: &SqliteStore) -> Result<bool, SeedError> {
    let catalog = store.catalog();
    let demo_types = CTS.iter().filter(|ct| catalog.credit_types().any(|c| c.id.as_str() == ct.id())).count();
    let users = store.users().await.map_err(store_err("listing users"))?;
    if demo_types > 0 {
        let complete = demo_types == CTS.len() && users.iter().any(|u| u.name == ADMIN_USER);
        return if complete { Ok(true) } else { Err(SeedError::Incomplete) };
    }
    if catalog.credit_types().next().is_some() {
        return Err(SeedError::NotEmpty("it has credit types".into()));
    }
    let customers = store.customers(None, None, 1).await.map_err(store_err("listing customers"))?;
    if !customers.items.is_empty() {
        return Err(SeedError::NotEmpty("it has customers".into()));
    }
    if let Some(u) = users.iter().find(|u| demo_role(&u.name).is_some()) {
        return Err(SeedError::NotEmpty(format!("a user named `{}` exists", u.name)));
    }
    Ok(false)
}

fn demo_role(name: &str) -> Option<Role> {
    if name == ADMIN_USER {
        return Some(Role::Admin);
    }
    OTHER_USERS.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}

struct Counts {
    customers: u64,
    grants: u64,
    events: u64,
    entries: u64,
    rejected: u64,
}

/// Reads the totals straight from the tables: exact (including what the
/// ledger derived: rollover and refund grants, expiry and settlement
/// entries), which the store's API has no call for.
///
/// After a seed it first folds the WAL back into the database and truncates
/// it (`compact`): the seed writes without pause for its whole run, so the
/// store's background checkpoints may leave a WAL of gigabytes behind, and
/// the desktop app's first launch should leave one tidy file.
fn count_rows(path: &Path, compact: bool) -> Result<Counts, SeedError> {
    let conn = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    creditdesk_store::sqlite::register_sql_functions(&conn)
        .map_err(|source| SeedError::Store { what: "reading the ledger's burn blocks".into(), source })?;
    if compact {
        conn.busy_timeout(Duration::from_secs(5))?;
        // Best effort: a busy database keeps its WAL until the next checkpoint.
        let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    }
    let count = |table: &str| -> Result<u64, SeedError> {
        let n: i64 = conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    };
    Ok(Counts {
        customers: count("customers")?,
        grants: count("grants")?,
        events: count("events")?,
        // The view also reads the burns inside blocks (`burn_blocks`).
        entries: count("ledger_entries")?,
        rejected: count("rejected_events")?,
    })
}
