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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, NaiveTime, TimeDelta, TimeZone, Utc, Weekday};
use creditdesk_api::Role;
use creditdesk_ledger::catalog::{BurnOrder, BurnOrderKey, CreditType, OverageMode, Product, RateCard, RateVersion};
use creditdesk_ledger::clock::ManualClock;
use creditdesk_ledger::engine::{IngestMode, IngestResult};
use creditdesk_ledger::entry::Attribution;
use creditdesk_ledger::event::UsageEvent;
use creditdesk_ledger::grant::{GrantCategory, GrantSource, NewGrant, RolloverPolicy};
use creditdesk_ledger::ids::{ActorId, ContractId, CreditTypeId, CustomerId, EventId, GrantId, ProductId, ReasonCode};
use creditdesk_ledger::{Currency, LedgerError, Money};
use creditdesk_store::{AdminOp, Customer, SqliteStore, StoreError, StoreOptions, User};
use futures_util::future::join_all;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use crate::auth::{hash_token, new_token};

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

    if check_existing(&store).await? {
        let mut users = Vec::new();
        for u in store.users().await.map_err(store_err("listing users"))? {
            if let Some(role) = demo_role(&u.name) {
                users.push(SeedUser { name: u.name, role, token: None });
            }
        }
        // The order a fresh seed reports them in: admin first.
        users.sort_by_key(|u| OTHER_USERS.iter().position(|(n, _)| *n == u.name).map_or(0, |i| i + 1));
        drop(store);
        let counts = count_rows(path, false)?;
        progress(report(SeedPhase::Done, 100));
        return Ok(SeedReport {
            outcome: SeedOutcome::AlreadySeeded,
            seed: None,
            period: None,
            customers: counts.customers,
            grants: counts.grants,
            events: counts.events,
            entries: counts.entries,
            rejected: counts.rejected,
            elapsed: started.elapsed(),
            users,
        });
    }

    let plan = Plan::new(opts, end)?;
    let period = (plan.start, plan.end);
    let users = Sim::new(&store, &clock, plan)?.run(&progress).await?;
    drop(store);
    let counts = count_rows(path, true)?;
    progress(report(SeedPhase::Done, 100));
    Ok(SeedReport {
        outcome: SeedOutcome::Seeded,
        seed: Some(opts.seed),
        period: Some(period),
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

// ---------------------------------------------------------------------------
// The catalog
// ---------------------------------------------------------------------------

/// The three demo credit types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ct {
    Batch,
    Custom,
    Realtime,
}

const CTS: [Ct; 3] = [Ct::Batch, Ct::Custom, Ct::Realtime];

impl Ct {
    fn i(self) -> usize {
        self as usize
    }

    fn id(self) -> &'static str {
        match self {
            Ct::Batch => "batch",
            Ct::Custom => "custom",
            Ct::Realtime => "realtime",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Ct::Batch => "Batch transcription credits",
            Ct::Custom => "Custom model credits",
            Ct::Realtime => "Real-time minutes",
        }
    }

    fn unit_label(self) -> &'static str {
        match self {
            Ct::Realtime => "minutes",
            _ => "credits",
        }
    }

    /// Money (USD) per credit.
    fn unit_price(self) -> Decimal {
        match self {
            Ct::Batch => Decimal::new(1, 2),
            Ct::Custom => Decimal::new(5, 2),
            Ct::Realtime => Decimal::new(2, 2),
        }
    }

    /// Real-time overage is invoiced (metered billing); the prepaid wallets
    /// net it against the next grant.
    fn overage_mode(self) -> OverageMode {
        match self {
            Ct::Realtime => OverageMode::Invoice,
            _ => OverageMode::CarryForward,
        }
    }

    /// Custom-model credits burn soonest-expiring first, whatever their
    /// priority: training promotions are short-lived and should not be
    /// wasted behind paid credits.
    fn burn_order(self) -> Result<BurnOrder, SeedError> {
        use BurnOrderKey::*;
        Ok(match self {
            Ct::Custom => BurnOrder::new(vec![ExpiresAt, PromotionalFirst, Priority, RestrictedFirst, EffectiveAt])?,
            _ => BurnOrder::standard(),
        })
    }

    /// Smallest grant worth making.
    fn min_amount(self) -> i64 {
        match self {
            Ct::Batch => 500,
            Ct::Custom => 200,
            Ct::Realtime => 100,
        }
    }
}

/// A metered product and how its usage is distributed.
struct ProductSpec {
    id: &'static str,
    name: &'static str,
    ct: Ct,
    /// Credits per unit, in thousandths.
    rate_milli: i64,
    /// Quantity per event: log-normal with this median and sigma, capped.
    median: f64,
    sigma: f64,
    max: f64,
    models: &'static [&'static str],
}

impl ProductSpec {
    fn rate(&self) -> Decimal {
        Decimal::new(self.rate_milli, 3)
    }

    /// Mean of the (uncapped) log-normal quantity.
    fn mean_quantity(&self) -> f64 {
        self.median * (self.sigma * self.sigma / 2.0).exp()
    }
}

const BATCH_EN: usize = 0;
const BATCH_MULTI: usize = 1;
const DIARIZATION: usize = 2;
const CUSTOM_TRAIN: usize = 3;
const CUSTOM_INFER: usize = 4;
const REALTIME: usize = 5;

/// Batch and real-time quantities are audio minutes; training is GPU hours.
const PRODUCTS: [ProductSpec; 6] = [
    ProductSpec {
        id: "batch-en",
        name: "Batch transcription (English)",
        ct: Ct::Batch,
        rate_milli: 1_000,
        median: 8.0,
        sigma: 1.0,
        max: 480.0,
        models: &["general-v3", "phonecall-v2", "meeting-v2"],
    },
    ProductSpec {
        id: "batch-multi",
        name: "Batch transcription (multilingual)",
        ct: Ct::Batch,
        rate_milli: 1_500,
        median: 10.0,
        sigma: 0.9,
        max: 480.0,
        models: &["multilingual-v2"],
    },
    ProductSpec {
        id: "diarization",
        name: "Speaker diarization",
        ct: Ct::Batch,
        rate_milli: 250,
        median: 8.0,
        sigma: 1.0,
        max: 480.0,
        models: &["diarize-v1"],
    },
    ProductSpec {
        id: "custom-train",
        name: "Custom model training",
        ct: Ct::Custom,
        rate_milli: 40_000,
        median: 1.5,
        sigma: 0.6,
        max: 24.0,
        models: &["adapt-small", "adapt-large"],
    },
    ProductSpec {
        id: "custom-infer",
        name: "Custom model inference",
        ct: Ct::Custom,
        rate_milli: 500,
        median: 3.0,
        sigma: 1.0,
        max: 240.0,
        models: &["adapt-small", "adapt-large"],
    },
    ProductSpec {
        id: "realtime-stream",
        name: "Real-time streaming",
        ct: Ct::Realtime,
        rate_milli: 1_000,
        median: 6.0,
        sigma: 1.1,
        max: 480.0,
        models: &["streaming-v2", "streaming-lowlatency"],
    },
];

/// The `batch-en` rate after the mid-period price cut.
const BATCH_EN_NEW_RATE_MILLI: i64 = 850;

// ---------------------------------------------------------------------------
// Customers
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tier {
    Enterprise,
    Growth,
    Startup,
    Trial,
}

impl Tier {
    fn label(self) -> &'static str {
        match self {
            Tier::Enterprise => "Enterprise",
            Tier::Growth => "Growth",
            Tier::Startup => "Startup",
            Tier::Trial => "Trial",
        }
    }
}

/// How a customer pays for one credit type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Funding {
    /// Does not use it.
    None,
    /// Monthly allotment (expiring, partial rollover).
    Plan,
    /// Buys packs by hand when running low (or late, for lapsing customers).
    Prepaid,
    /// Packs bought automatically below a threshold.
    AutoTopup,
    /// Free trial credits only.
    Trial,
}

/// Everything about a customer's behaviour, fixed up front from the seed.
struct Profile {
    id: CustomerId,
    name: String,
    external_ref: String,
    tier: Tier,
    /// A customer before the period started (created in the setup step).
    existing: bool,
    /// Day of sign-up (at noon); 0 for existing customers.
    signup_day: u32,
    created_at: DateTime<Utc>,
    /// Usage tapers off over the three weeks before this day, then stops.
    churn_day: Option<u32>,
    /// Trials: last day of the trial; unconverted trials stop using then.
    trial_end: Option<u32>,
    converted: bool,
    /// Events per day at sign-up, before scaling to the target volume.
    base: f64,
    /// Yearly log growth of volume.
    growth: f64,
    /// Weekend volume relative to weekdays.
    weekend: f64,
    bursty: bool,
    region: usize,
    /// Product weights, normalised to sum 1.
    mix: [f64; 6],
    funding: [Funding; 3],
    /// Plan size relative to expected usage, per credit type. Below 1 only
    /// for real-time minutes: invoiced overage is a normal state, while
    /// carry-forward overage below 1 would snowball month after month.
    coverage: [f64; 3],
    /// Buys only once already in overage.
    lapse: bool,
    /// Packs cover this many months of expected usage.
    pack_months: f64,
    /// Multiplier on list price (contract discount).
    discount: Decimal,
    /// Own rates: (product index, credits per unit in thousandths).
    overrides: Vec<(usize, i64)>,
    /// Expected credits per event, per credit type (list rates).
    per_event: [f64; 3],
}

impl Profile {
    fn active(&self, d: i64) -> bool {
        if d < i64::from(self.signup_day) {
            return false;
        }
        if self.churn_day.is_some_and(|c| d >= i64::from(c)) {
            return false;
        }
        match self.trial_end {
            Some(end) if !self.converted => d <= i64::from(end),
            _ => true,
        }
    }

    /// Funding of `ct` on day `d` (a converted trial buys packs afterwards).
    fn funding_on(&self, ct: Ct, d: u32) -> Funding {
        match (self.funding[ct.i()], self.trial_end) {
            (Funding::Trial, Some(end)) if self.converted && d > end => Funding::Prepaid,
            (f, _) => f,
        }
    }

    /// Expected events on day `d` before scaling; `burst_mean` folds in the
    /// expected effect of random bursts (for sizing and scaling), else the
    /// caller draws the burst.
    fn lambda(&self, d: i64, weekend: bool, burst_mean: bool) -> f64 {
        if !self.active(d) {
            return 0.0;
        }
        let age = (d - i64::from(self.signup_day)) as f64;
        let mut l = self.base * (self.growth * age / 365.0).exp();
        if weekend {
            l *= self.weekend;
        }
        if let Some(churn) = self.churn_day {
            let left = i64::from(churn) - d;
            if left < CHURN_TAPER_DAYS {
                l *= left as f64 / CHURN_TAPER_DAYS as f64;
            }
        }
        if !self.existing && d == i64::from(self.signup_day) {
            l *= 0.5; // signs up at noon
        }
        if burst_mean && self.bursty {
            l *= BURST_MEAN;
        }
        l
    }
}

const CHURN_TAPER_DAYS: i64 = 21;
const BURST_P: f64 = 0.04;
const BURST_MIN: f64 = 3.0;
const BURST_MAX: f64 = 8.0;
const BURST_MEAN: f64 = 1.0 + BURST_P * ((BURST_MIN + BURST_MAX) / 2.0 - 1.0);
/// 1,000,000 events for 200 customers over 365 days.
const EVENTS_PER_CUSTOMER_DAY: f64 = 1_000_000.0 / (200.0 * 365.0);
/// Relative usage by local hour: office hours.
#[rustfmt::skip]
const HOUR_WEIGHTS: [f64; 24] =
    [1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 3.0, 5.0, 8.0, 10.0, 10.0, 10.0, 9.0, 10.0, 10.0, 10.0, 9.0, 7.0, 5.0, 4.0, 3.0, 2.0, 2.0, 1.0];
/// Region (an event property) and its UTC offset in hours.
const REGIONS: [(&str, i64); 6] =
    [("us-east", -5), ("us-west", -8), ("eu-west", 0), ("eu-central", 1), ("ap-south", 5), ("ap-northeast", 9)];

#[rustfmt::skip]
const NAME_FIRST: [&str; 48] = [
    "Acme", "Alder", "Apex", "Aurora", "Beacon", "Birch", "Blue", "Bright", "Cedar", "Clear", "Cobalt", "Copper",
    "Delta", "Echo", "Ember", "Fable", "Falcon", "Fjord", "Granite", "Harbor", "Helix", "Indigo", "Iron", "Juniper",
    "Kestrel", "Lumen", "Maple", "Meridian", "Nimbus", "North", "Nova", "Oak", "Orbit", "Pine", "Polar", "Quartz",
    "Raven", "Redwood", "Sable", "Signal", "Silver", "Summit", "Tidal", "True", "Vantage", "Vertex", "Willow",
    "Zenith",
];
#[rustfmt::skip]
const NAME_SECOND: [&str; 24] = [
    "Voice", "Audio", "Speech", "Health", "Media", "Legal", "Learning", "Insights", "Analytics", "Support", "Labs",
    "Logic", "Scribe", "Notes", "Calls", "Cast", "Wave", "Care", "Meet", "Dictation", "Studio", "Connect", "Radio",
    "Assist",
];
#[rustfmt::skip]
const NAME_SUFFIX: [&str; 12] =
    ["Inc.", "Ltd", "GmbH", "Technologies", "Systems", "Co.", "AI", "Group", "S.A.", "Pty Ltd", "BV", "Corp."];

fn company_name(rng: &mut ChaCha8Rng, taken: &mut HashSet<String>, idx: usize) -> String {
    for _ in 0..100 {
        let first = NAME_FIRST[rng.random_range(0..NAME_FIRST.len())];
        let second = NAME_SECOND[rng.random_range(0..NAME_SECOND.len())];
        let name = if rng.random_bool(0.7) {
            format!("{first} {second} {}", NAME_SUFFIX[rng.random_range(0..NAME_SUFFIX.len())])
        } else {
            format!("{first} {second}")
        };
        if taken.insert(name.clone()) {
            return name;
        }
    }
    // Only reached with thousands of customers: still unique.
    let name = format!("{} {} {}", NAME_FIRST[idx % NAME_FIRST.len()], NAME_SECOND[idx % NAME_SECOND.len()], idx + 1);
    taken.insert(name.clone());
    name
}

fn external_ref(rng: &mut ChaCha8Rng, taken: &mut HashSet<u32>) -> String {
    loop {
        let n = rng.random_range(10_000..100_000u32);
        if taken.insert(n) {
            return format!("crm-{n}");
        }
        if taken.len() >= 90_000 {
            // Unreachable with at most 9,999 customers; keeps the loop finite.
            return format!("crm-{}", 100_000 + taken.len());
        }
    }
}

fn make_profiles(rng: &mut ChaCha8Rng, opts: SeedOptions, start: DateTime<Utc>) -> Result<Vec<Profile>, SeedError> {
    let n = opts.customers as usize;
    let days = opts.days;
    let share = |f: f64| (n as f64 * f).round() as usize;
    let mut tiers = Vec::with_capacity(n);
    tiers.extend(std::iter::repeat_n(Tier::Enterprise, share(0.08).max(1)));
    tiers.extend(std::iter::repeat_n(Tier::Growth, share(0.25).max(1)));
    tiers.extend(std::iter::repeat_n(Tier::Trial, share(0.22)));
    tiers.resize(n.max(tiers.len()), Tier::Startup);
    tiers.truncate(n);
    {
        use rand::seq::SliceRandom;
        tiers.shuffle(rng);
    }
    let mut names = HashSet::new();
    let mut refs = HashSet::new();
    let mut profiles = Vec::with_capacity(n);
    for (i, tier) in tiers.into_iter().enumerate() {
        let id = CustomerId::new(format!("cus_{:04}", i + 1))?;
        let name = company_name(rng, &mut names, i);
        let external_ref = external_ref(rng, &mut refs);
        let within = |rng: &mut ChaCha8Rng, frac: f64| rng.random_range(0..((f64::from(days) * frac) as u32).max(1));
        let existing = match tier {
            Tier::Enterprise => rng.random_bool(0.85),
            Tier::Growth => rng.random_bool(0.6),
            Tier::Startup => rng.random_bool(0.4),
            Tier::Trial => false,
        };
        let signup_day = match (existing, tier) {
            (true, _) => 0,
            (false, Tier::Enterprise) => within(rng, 0.5),
            (false, Tier::Growth) => within(rng, 0.7),
            (false, Tier::Startup) => within(rng, 0.9),
            (false, Tier::Trial) => within(rng, 0.95),
        };
        let created_at = if existing {
            start - TimeDelta::days(rng.random_range(30..1_500)) - TimeDelta::seconds(rng.random_range(0..86_400))
        } else {
            start + TimeDelta::days(i64::from(signup_day)) + TimeDelta::hours(12)
        };
        let churn_day = if tier != Tier::Trial && days >= 60 && rng.random_bool(0.06) {
            let lo = (signup_day + 30).max(days / 3);
            let hi = days - 5;
            (lo < hi).then(|| rng.random_range(lo..hi))
        } else {
            None
        };
        let (trial_end, converted) = match tier {
            Tier::Trial => (Some(signup_day + rng.random_range(14..=30)), rng.random_bool(0.35)),
            _ => (None, false),
        };
        let base = match tier {
            Tier::Enterprise => 60.0,
            Tier::Growth => 18.0,
            Tier::Startup => 5.0,
            Tier::Trial => 3.0,
        } * (0.5 * normal(rng)).exp();
        let growth = match tier {
            Tier::Enterprise => rng.random_range(0.05..0.5),
            Tier::Growth => rng.random_range(0.2..1.0),
            Tier::Startup => rng.random_range(0.0..1.3),
            Tier::Trial => rng.random_range(0.0..0.8),
        };
        let weekend = if rng.random_bool(0.2) { rng.random_range(0.7..1.0) } else { rng.random_range(0.2..0.5) };
        let bursty = rng.random_bool(0.12);
        let region = rng.random_range(0..REGIONS.len());
        let growth_uses_custom = rng.random_bool(0.4);
        let mut w = |base: f64, p: f64| if rng.random_bool(p) { base * rng.random_range(0.5..1.5) } else { 0.0 };
        let mut mix = match tier {
            Tier::Enterprise => [w(40.0, 1.0), w(15.0, 0.8), w(10.0, 0.8), w(1.5, 1.0), w(12.0, 1.0), w(22.0, 1.0)],
            Tier::Growth => {
                let custom = if growth_uses_custom { 1.0 } else { 0.0 };
                [w(45.0, 1.0), w(10.0, 0.5), w(8.0, 0.6), custom * w(1.0, 1.0), custom * w(7.0, 1.0), w(30.0, 0.8)]
            }
            Tier::Startup => [w(65.0, 1.0), w(10.0, 0.3), w(8.0, 0.3), 0.0, 0.0, w(25.0, 0.5)],
            Tier::Trial => [w(80.0, 1.0), 0.0, w(5.0, 0.2), 0.0, 0.0, w(20.0, 0.3)],
        };
        let overage_prone = matches!(tier, Tier::Enterprise | Tier::Growth) && rng.random_bool(0.15);
        if overage_prone && mix[REALTIME] == 0.0 {
            mix[REALTIME] = 20.0;
        }
        let normal_coverage = rng.random_range(1.1..1.5);
        let mut coverage = [normal_coverage; 3];
        // Invoiced overage is never netted against later grants, so one
        // spike leaves it outstanding for good: real-time plans get more
        // headroom, except for the under-provisioned accounts.
        coverage[Ct::Realtime.i()] = if overage_prone { rng.random_range(0.6..0.8) } else { normal_coverage + 0.3 };
        let lapse = rng.random_bool(0.25);
        let pack_months = rng.random_range(1.0..2.5);
        let mut p = Profile {
            id,
            name,
            external_ref,
            tier,
            existing,
            signup_day,
            created_at,
            churn_day,
            trial_end,
            converted,
            base,
            growth,
            weekend,
            bursty,
            region,
            mix,
            funding: [Funding::None; 3],
            coverage,
            lapse,
            pack_months,
            discount: match tier {
                Tier::Enterprise => Decimal::new(80, 2),
                Tier::Growth => Decimal::new(92, 2),
                _ => Decimal::ONE,
            },
            overrides: Vec::new(),
            per_event: [0.0; 3],
        };
        p.normalise();
        profiles.push(p);
    }
    // At least one plan customer under-provisioned on invoiced real-time
    // minutes, so the overage views always have someone to show.
    if !profiles.iter().any(|p| p.coverage[Ct::Realtime.i()] < 1.0) {
        if let Some(p) = profiles.iter_mut().rev().find(|p| matches!(p.tier, Tier::Enterprise | Tier::Growth)) {
            p.coverage[Ct::Realtime.i()] = 0.7;
            if p.mix[REALTIME] == 0.0 {
                p.mix[REALTIME] = 0.2;
                p.normalise();
            }
        }
    }
    // Negotiated enterprise rates for the first few enterprise accounts.
    let deals: [&[(usize, i64)]; 3] = [&[(BATCH_EN, 700), (CUSTOM_INFER, 400)], &[(BATCH_EN, 750)], &[(REALTIME, 900)]];
    for (p, deal) in profiles.iter_mut().filter(|p| p.tier == Tier::Enterprise).zip(deals) {
        p.overrides = deal.to_vec();
    }
    Ok(profiles)
}

impl Profile {
    /// Normalises the mix and derives funding and expected credits from it.
    fn normalise(&mut self) {
        let total: f64 = self.mix.iter().sum();
        if total > 0.0 {
            self.mix.iter_mut().for_each(|w| *w /= total);
        }
        self.per_event = [0.0; 3];
        for (spec, w) in PRODUCTS.iter().zip(self.mix) {
            let rate = spec.rate_milli as f64 / 1_000.0;
            self.per_event[spec.ct.i()] += w * spec.mean_quantity() * rate;
        }
        for ct in CTS {
            let used = self.per_event[ct.i()] > 0.0;
            self.funding[ct.i()] = match (used, self.tier, ct) {
                (false, _, _) => Funding::None,
                (true, Tier::Enterprise, _) => Funding::Plan,
                (true, Tier::Growth, Ct::Custom) => Funding::AutoTopup,
                (true, Tier::Growth, _) => Funding::Plan,
                (true, Tier::Startup, _) => Funding::Prepaid,
                (true, Tier::Trial, Ct::Custom) => Funding::None,
                (true, Tier::Trial, _) => Funding::Trial,
            };
        }
    }

    fn on_plan(&self) -> bool {
        self.funding.contains(&Funding::Plan)
    }
}

// ---------------------------------------------------------------------------
// The schedule
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Campaign {
    /// Product-restricted: diarization credits.
    Diarization,
    /// Product-restricted: custom-model training credits.
    CustomBeta,
    /// Product-restricted: multilingual batch credits.
    Multilingual,
    /// Unrestricted thank-you credits that expire after the period ends.
    YearEnd,
}

impl Campaign {
    fn slug(self) -> &'static str {
        match self {
            Campaign::Diarization => "diarization",
            Campaign::CustomBeta => "custom-beta",
            Campaign::Multilingual => "multilingual",
            Campaign::YearEnd => "year-end",
        }
    }
}

/// Everything decided before the first write, from the seed alone.
struct Plan {
    opts: SeedOptions,
    /// Midnight UTC of the first simulated day.
    start: DateTime<Utc>,
    /// "Now": the end of the period (inside the last simulated day).
    end: DateTime<Utc>,
    profiles: Vec<Profile>,
    /// Multiplies `Profile::lambda` so the expected total is the target.
    scale: f64,
    /// Month starts, from the one containing `start` to well past `end`.
    months: Vec<DateTime<Utc>>,
    price_change: DateTime<Utc>,
    price_announce_day: u32,
    campaigns: Vec<(u32, Campaign)>,
    outage_day: Option<u32>,
    /// Day -> customers (starting points) with a duplicated purchase.
    duplicates: BTreeMap<u32, Vec<usize>>,
    /// Day -> number of disputes resolved by reversal that day.
    disputes: BTreeMap<u32, u32>,
}

const TAG_PLAN: u64 = 1;
const TAG_EVENTS: u64 = 2;
const TAG_OPENING: u64 = 3;
const TAG_CAMPAIGN: u64 = 4;
const TAG_OUTAGE: u64 = 5;
const TAG_GOODWILL: u64 = 6;
const TAG_DISPUTE: u64 = 7;

impl Plan {
    fn new(opts: SeedOptions, end: DateTime<Utc>) -> Result<Plan, SeedError> {
        let days = opts.days;
        let today = end.date_naive().and_time(NaiveTime::MIN).and_utc();
        let start = today - TimeDelta::days(i64::from(days) - 1);
        let mut rng = rng_for(opts.seed, TAG_PLAN, 0, 0);
        let profiles = make_profiles(&mut rng, opts, start)?;

        let mut months = vec![month_start(start)];
        while let Some(&last) = months.last() {
            if last > end + TimeDelta::days(40) {
                break;
            }
            months.push(next_month(last)?);
        }
        let day_of = |t: DateTime<Utc>| (t - start).num_days();
        // A price cut on the first month start after mid-period, announced
        // two weeks ahead; never on the card's first instant.
        let mid = start + TimeDelta::days(i64::from(days / 2));
        let price_change =
            months.iter().copied().find(|&m| m >= mid && m < end).unwrap_or(mid).max(start + TimeDelta::days(1));
        let price_announce_day = u32::try_from((day_of(price_change) - 14).max(0)).unwrap_or(0);

        let at = |frac: f64| ((f64::from(days) * frac) as u32).min(days - 1);
        let year_end = if days > 40 { days - 20 } else { at(0.8) };
        let campaigns = vec![
            (at(0.25), Campaign::Diarization),
            (at(0.35), Campaign::CustomBeta),
            (at(0.55), Campaign::Multilingual),
            (year_end, Campaign::YearEnd),
        ];
        let outage_day = (days >= 10).then(|| at(0.45));

        let n = profiles.len();
        let mut duplicates: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        let mut disputes: BTreeMap<u32, u32> = BTreeMap::new();
        if days >= 3 {
            let lo = days * 15 / 100;
            let hi = (days * 85 / 100).max(lo + 1).min(days - 1);
            for _ in 0..(n / 40).max(1) {
                duplicates.entry(rng.random_range(lo..hi)).or_default().push(rng.random_range(0..n));
            }
            // Half of the disputes land right after a month end, so the
            // disputed usage burned grants that have expired since and the
            // reversal becomes a `dispute_refund` grant.
            let after_month_end: Vec<u32> = months
                .iter()
                .filter_map(|m| u32::try_from(day_of(*m) + 1).ok())
                .filter(|d| (2..days).contains(d))
                .collect();
            for k in 0..(n / 15).max(2) {
                let day = if k % 2 == 0 && !after_month_end.is_empty() {
                    after_month_end[rng.random_range(0..after_month_end.len())]
                } else {
                    rng.random_range(2..days)
                };
                *disputes.entry(day).or_default() += 1;
            }
        }

        let mut plan = Plan {
            opts,
            start,
            end,
            profiles,
            scale: 0.0,
            months,
            price_change,
            price_announce_day,
            campaigns,
            outage_day,
            duplicates,
            disputes,
        };
        let target = EVENTS_PER_CUSTOMER_DAY * f64::from(opts.customers) * f64::from(days);
        let weekends: Vec<bool> = (0..i64::from(days)).map(|d| plan.weekend(d)).collect();
        let expected: f64 = plan
            .profiles
            .iter()
            .map(|p| weekends.iter().enumerate().map(|(d, w)| p.lambda(d as i64, *w, true)).sum::<f64>())
            .sum();
        plan.scale = if expected > 0.0 { target / expected } else { 0.0 };
        Ok(plan)
    }

    fn day_start(&self, d: i64) -> DateTime<Utc> {
        self.start + TimeDelta::days(d)
    }

    fn weekend(&self, d: i64) -> bool {
        matches!(self.day_start(d).weekday(), Weekday::Sat | Weekday::Sun)
    }

    /// Midnight (UTC) `days` days after the day of `t`. Seeded grants
    /// expire at midnight: the day's usage, ingested just before, never
    /// arrives after an expiry it predates.
    fn midnight_after(&self, t: DateTime<Utc>, days: i64) -> DateTime<Utc> {
        self.day_start(self.day_of(t) + days)
    }

    /// Day index of an instant at or after `start`.
    fn day_of(&self, t: DateTime<Utc>) -> i64 {
        (t - self.start).num_days()
    }

    /// Expected credits of `ct` customer `c` burns on days `from..to`
    /// (days past the period extrapolate the same curve).
    fn expected_credits(&self, c: usize, ct: Ct, from: i64, to: i64) -> f64 {
        let p = &self.profiles[c];
        let events: f64 = (from..to).map(|d| p.lambda(d, self.weekend(d), true)).sum();
        events * self.scale * p.per_event[ct.i()]
    }

    /// When the customer's contract (and so its plan) starts.
    fn contract_start(&self, c: usize) -> DateTime<Utc> {
        let p = &self.profiles[c];
        if p.existing {
            self.start
        } else {
            self.day_start(i64::from(p.signup_day)) + TimeDelta::hours(12)
        }
    }

    /// Index of the month containing `t`.
    fn month_index(&self, t: DateTime<Utc>) -> usize {
        self.months.partition_point(|&m| m <= t).saturating_sub(1)
    }

    /// A pack sized to `pack_months` of expected usage from day `d`.
    fn pack(&self, c: usize, ct: Ct, d: u32) -> Decimal {
        let d = i64::from(d);
        nice(self.expected_credits(c, ct, d, d + 30) * self.profiles[c].pack_months, ct.min_amount())
    }
}

// ---------------------------------------------------------------------------
// The simulation
// ---------------------------------------------------------------------------

/// Usage events per ingest call (the API's batch limit).
const BATCH_SIZE: usize = 1_000;
/// Ingest batches in flight at once: they queue in the writer and commit
/// together (group commit); a day's usage is rarely more than 8,000 events.
const IN_FLIGHT_BATCHES: usize = 8;
/// Other writes in flight at once. Below `join_all`'s small-set threshold
/// (30), so the futures are first polled, and their commands queued, in
/// order: the ledger sees the same sequence on every run.
const IN_FLIGHT_WRITES: usize = 16;
/// Plan allotments are issued this long before their month starts, so
/// "pending" grants show near month ends.
const PLAN_LEAD: TimeDelta = TimeDelta::days(3);
/// Daily chance of an ad-hoc goodwill grant per paying customer.
const GOODWILL_P: f64 = 0.6 / 365.0;

const GOODWILL_REASONS: [(&str, &str); 4] = [
    ("transcription_quality", "Poor accuracy on noisy call-centre audio; credited while the model is retrained"),
    ("billing_error", "Pack charged at the old list price; difference credited"),
    ("latency_incident", "Real-time latency above SLA for several hours"),
    ("customer_retention", "Renewal negotiation: one-off goodwill credits"),
];

const DISPUTE_REASONS: [(&str, &str); 3] = [
    ("duplicate_usage", "Client retried uploads after a timeout; the same files were transcribed twice"),
    ("test_traffic", "A staging key hit the production endpoint during a load test"),
    ("quality_issue", "Wrong language detected; transcripts unusable and re-run"),
];

/// A generated event with the customer and credit type it belongs to.
struct Gen {
    event: UsageEvent,
    c: usize,
    ct: usize,
}

/// A rough model of a prepaid wallet (lots by expiry, minus usage), only
/// to decide when a customer buys more; the ledger keeps the real books.
struct Tracker {
    lots: Vec<(Option<DateTime<Utc>>, Decimal)>,
    deficit: Decimal,
    /// Carry-forward: a new grant first pays the deficit; invoice: the
    /// deficit is billed separately and forgotten.
    settles: bool,
}

impl Tracker {
    fn new(ct: Ct) -> Tracker {
        Tracker { lots: Vec::new(), deficit: Decimal::ZERO, settles: ct.overage_mode() == OverageMode::CarryForward }
    }

    fn add(&mut self, amount: Decimal, expires: Option<DateTime<Utc>>) {
        let paid = if self.settles { amount.min(self.deficit) } else { self.deficit };
        self.deficit -= paid;
        let left = if self.settles { amount - paid } else { amount };
        if left > Decimal::ZERO {
            self.lots.push((expires, left));
            self.lots.sort_by_key(|(e, _)| e.unwrap_or(DateTime::<Utc>::MAX_UTC));
        }
    }

    fn expire(&mut self, t: DateTime<Utc>) {
        self.lots.retain(|(e, _)| e.is_none_or(|e| e > t));
    }

    fn consume(&mut self, credits: Decimal, t: DateTime<Utc>) {
        self.expire(t);
        let mut need = credits;
        for lot in &mut self.lots {
            let take = lot.1.min(need);
            lot.1 -= take;
            need -= take;
            if need.is_zero() {
                break;
            }
        }
        self.lots.retain(|l| l.1 > Decimal::ZERO);
        self.deficit += need;
    }

    fn balance(&mut self, t: DateTime<Utc>) -> Decimal {
        self.expire(t);
        self.lots.iter().map(|l| l.1).sum::<Decimal>() - self.deficit
    }
}

/// Ids and actors used on every write, validated once.
struct Ids {
    credit_types: [CreditTypeId; 3],
    products: Vec<ProductId>,
    billing: ActorId,
    migration: ActorId,
    signup: ActorId,
    marketing: ActorId,
    ingest: ActorId,
    admin: ActorId,
    agent: ActorId,
    lead: ActorId,
    finance: ActorId,
}

impl Ids {
    fn new() -> Result<Ids, SeedError> {
        Ok(Ids {
            credit_types: [
                CreditTypeId::new(Ct::Batch.id())?,
                CreditTypeId::new(Ct::Custom.id())?,
                CreditTypeId::new(Ct::Realtime.id())?,
            ],
            products: PRODUCTS.iter().map(|p| ProductId::new(p.id)).collect::<Result<_, _>>()?,
            billing: ActorId::new("system:billing")?,
            migration: ActorId::new("system:migration")?,
            signup: ActorId::new("system:signup")?,
            marketing: ActorId::new("system:marketing")?,
            ingest: ActorId::new("system:usage-pipeline")?,
            admin: ActorId::new(ADMIN_USER)?,
            agent: ActorId::new(OTHER_USERS[0].0)?,
            lead: ActorId::new(OTHER_USERS[1].0)?,
            finance: ActorId::new(OTHER_USERS[2].0)?,
        })
    }
}

struct Sim<'a> {
    store: &'a SqliteStore,
    clock: &'a ManualClock,
    plan: Plan,
    ids: Ids,
    trackers: Vec<[Tracker; 3]>,
    /// Per customer: the next month index whose allotment is not issued.
    next_month: Vec<Option<usize>>,
    /// (customer, credit type) -> (allotment, month index it was set).
    levels: HashMap<(usize, usize), (Decimal, usize)>,
    /// Plan grants issued per customer, with their expiry (for churn voids).
    plan_grants: Vec<Vec<(GrantId, DateTime<Utc>)>>,
    purchases: Vec<u32>,
    goodwill: Vec<u32>,
    voids_due: BTreeMap<u32, Vec<(GrantId, Attribution)>>,
    reversed: HashSet<EventId>,
    next_ticket: u32,
    events: u64,
}

impl<'a> Sim<'a> {
    fn new(store: &'a SqliteStore, clock: &'a ManualClock, plan: Plan) -> Result<Sim<'a>, SeedError> {
        let n = plan.profiles.len();
        Ok(Sim {
            store,
            clock,
            ids: Ids::new()?,
            trackers: (0..n).map(|_| CTS.map(Tracker::new)).collect(),
            next_month: vec![None; n],
            levels: HashMap::new(),
            plan_grants: vec![Vec::new(); n],
            purchases: vec![0; n],
            goodwill: vec![0; n],
            voids_due: BTreeMap::new(),
            reversed: HashSet::new(),
            next_ticket: 4_100,
            events: 0,
            plan,
        })
    }

    /// Moves the store's clock (never past the end of the period).
    fn at(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        let t = t.min(self.plan.end);
        self.clock.set(t);
        t
    }

    fn ticket(&mut self, prefix: &str) -> String {
        self.next_ticket += 1;
        format!("{prefix}-{}", self.next_ticket)
    }

    async fn run<F: Fn(SeedProgress)>(mut self, progress: &F) -> Result<Vec<SeedUser>, SeedError> {
        let days = self.plan.opts.days;
        let report = |phase, percent, day, events| progress(SeedProgress { phase, percent, day, days, events });
        report(SeedPhase::Catalog, 1, 0, 0);
        self.setup().await?;
        let mut last = 2;
        report(SeedPhase::Usage, last, 0, 0);
        for d in 0..days {
            self.day(d).await?;
            let percent = u8::try_from(3 + u64::from(d + 1) * 95 / u64::from(days)).unwrap_or(98);
            if percent != last {
                last = percent;
                report(SeedPhase::Usage, percent, d + 1, self.events);
            }
        }
        report(SeedPhase::Finishing, 99, days, self.events);
        self.at(self.plan.end);
        self.store.sweep().await.map_err(store_err("sweeping at the end"))?;
        self.create_users().await
    }

    /// The catalog and the customers who predate the period, at its start.
    async fn setup(&mut self) -> Result<(), SeedError> {
        let start = self.at(self.plan.start);
        let mut ops = Vec::new();
        for ct in CTS {
            let price = Money { amount: ct.unit_price(), currency: Currency::USD };
            ops.push(AdminOp::CreditType(CreditType::new(
                self.ids.credit_types[ct.i()].clone(),
                ct.name(),
                ct.unit_label(),
                price,
                ct.burn_order()?,
                ct.overage_mode(),
            )?));
        }
        self.admin_all(ops, "creating the credit types").await?;
        // Products only after their credit types are committed: the writer
        // checks against the catalog it reloads after each commit.
        let mut ops = Vec::new();
        for (spec, id) in PRODUCTS.iter().zip(&self.ids.products) {
            let product = Product {
                id: id.clone(),
                name: spec.name.into(),
                credit_type: self.ids.credit_types[spec.ct.i()].clone(),
                rate_card: RateCard::flat(start, spec.rate())?,
            };
            ops.push(AdminOp::Product { product, by: self.ids.admin.clone() });
        }
        self.admin_all(ops, "creating the products").await?;
        let mut ops = Vec::new();
        for c in 0..self.plan.profiles.len() {
            if self.plan.profiles[c].existing {
                ops.push(AdminOp::Customer(self.customer(c)));
                ops.extend(self.override_ops(c, start));
            }
        }
        self.admin_all(ops, "creating the customers").await
    }

    fn customer(&self, c: usize) -> Customer {
        let p = &self.plan.profiles[c];
        Customer {
            id: p.id.clone(),
            name: p.name.clone(),
            external_ref: Some(p.external_ref.clone()),
            created_at: p.created_at,
        }
    }

    fn override_ops(&self, c: usize, from: DateTime<Utc>) -> Vec<AdminOp> {
        let p = &self.plan.profiles[c];
        p.overrides
            .iter()
            .map(|&(product, milli)| AdminOp::RateVersion {
                product: self.ids.products[product].clone(),
                customer: Some(p.id.clone()),
                version: RateVersion { effective_from: from, credits_per_unit: Decimal::new(milli, 3) },
                by: self.ids.admin.clone(),
            })
            .collect()
    }

    async fn admin_all(&self, ops: Vec<AdminOp>, what: &str) -> Result<(), SeedError> {
        let store = self.store;
        let mut rest = ops.into_iter().peekable();
        while rest.peek().is_some() {
            let chunk: Vec<AdminOp> = rest.by_ref().take(IN_FLIGHT_WRITES).collect();
            for r in join_all(chunk.into_iter().map(|op| store.admin(op))).await {
                r.map_err(store_err(what))?;
            }
        }
        Ok(())
    }

    async fn grant_all(&self, grants: Vec<NewGrant>) -> Result<(), SeedError> {
        let store = self.store;
        let mut rest = grants.into_iter().peekable();
        while rest.peek().is_some() {
            let chunk: Vec<NewGrant> = rest.by_ref().take(IN_FLIGHT_WRITES).collect();
            let ids: Vec<String> = chunk.iter().map(|g| g.id.to_string()).collect();
            for (id, r) in ids.into_iter().zip(join_all(chunk.into_iter().map(|g| store.grant(g))).await) {
                r.map_err(store_err(format!("granting {id}")))?;
            }
        }
        Ok(())
    }

    /// Ingests events in batches of up to 1,000, a few in flight, in
    /// order; feeds the ratings back into the purchase trackers.
    async fn ingest(&mut self, events: Vec<Gen>) -> Result<(), SeedError> {
        let store = self.store;
        let mut rest = events.into_iter().peekable();
        while rest.peek().is_some() {
            let mut metas = Vec::with_capacity(IN_FLIGHT_BATCHES);
            let mut calls = Vec::with_capacity(IN_FLIGHT_BATCHES);
            for _ in 0..IN_FLIGHT_BATCHES {
                let batch: Vec<Gen> = rest.by_ref().take(BATCH_SIZE).collect();
                if batch.is_empty() {
                    break;
                }
                let meta: Vec<(usize, usize, DateTime<Utc>, EventId)> =
                    batch.iter().map(|g| (g.c, g.ct, g.event.timestamp, g.event.id.clone())).collect();
                metas.push(meta);
                let events = batch.into_iter().map(|g| g.event).collect();
                calls.push(store.ingest(events, IngestMode::Backfill, self.ids.ingest.clone()));
            }
            for (meta, result) in metas.into_iter().zip(join_all(calls).await) {
                let results = result.map_err(store_err("ingesting usage"))?;
                for ((c, ct, t, id), r) in meta.into_iter().zip(results) {
                    match r {
                        IngestResult::Accepted { rating, .. } => {
                            self.trackers[c][ct].consume(rating.credits.get(), t);
                            self.events += 1;
                        }
                        other => {
                            return Err(SeedError::EventNotAccepted {
                                event: id.to_string(),
                                detail: format!("{other:?}"),
                            })
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// One simulated day: sweep and plan allotments just after midnight, the
    /// day's manual work (sign-ups, purchases, promotions, goodwill, voids,
    /// disputes) at noon, and the day's usage at its end, in one group
    /// commit (the store's cost is mostly per commit).
    async fn day(&mut self, d: u32) -> Result<(), SeedError> {
        let t0 = self.plan.day_start(i64::from(d));
        let now = self.at(t0 + TimeDelta::minutes(1));
        self.store.sweep().await.map_err(store_err("sweeping"))?;
        let n = self.plan.profiles.len();
        let mut grants = Vec::new();
        for c in 0..n {
            let (existing, on_plan) = (self.plan.profiles[c].existing, self.plan.profiles[c].on_plan());
            if d == 0 && existing {
                self.opening_grants(c, &mut grants)?;
            }
            if on_plan && (self.next_month[c].is_some() || (d == 0 && existing)) {
                self.issue_plans(c, now, &mut grants)?;
            }
        }
        self.grant_all(grants).await?;

        self.midday(d, t0 + TimeDelta::hours(12)).await?;

        let mut events = Vec::new();
        for c in 0..n {
            events.extend(self.day_events(c, d)?);
        }
        events.sort_by(|a, b| a.event.timestamp.cmp(&b.event.timestamp).then_with(|| a.event.id.cmp(&b.event.id)));
        // Just before midnight: grants expiring at midnight are still live
        // for the day's usage (no late-burn corrections), and the next
        // day's sweep books their expiry on time.
        self.at(t0 + TimeDelta::days(1) - TimeDelta::microseconds(1));
        self.ingest(events).await
    }

    /// Customer `c`'s usage on day `d`: a pure function of (seed, c, d), so
    /// disputes can regenerate the events they pick.
    fn day_events(&self, c: usize, d: u32) -> Result<Vec<Gen>, SeedError> {
        let p = &self.plan.profiles[c];
        let di = i64::from(d);
        let lambda = p.lambda(di, self.plan.weekend(di), false) * self.plan.scale;
        if lambda <= 0.0 {
            return Ok(Vec::new());
        }
        let mut rng = rng_for(self.plan.opts.seed, TAG_EVENTS, c as u64, u64::from(d));
        let burst = if p.bursty && rng.random_bool(BURST_P) { rng.random_range(BURST_MIN..BURST_MAX) } else { 1.0 };
        let n = poisson(&mut rng, lambda * burst);
        let t0 = self.plan.day_start(di);
        let not_before = if !p.existing && d == p.signup_day { t0 + TimeDelta::hours(12) } else { t0 };
        let (region, offset) = REGIONS[p.region];
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let product = pick(&mut rng, &p.mix);
            let spec = &PRODUCTS[product];
            let quantity = lognormal(&mut rng, spec.median, spec.sigma).clamp(0.01, spec.max);
            let local_hour = pick(&mut rng, &HOUR_WEIGHTS) as i64;
            let micros = rng.random_range(0..3_600_000_000i64);
            let timestamp =
                t0 + TimeDelta::hours((local_hour - offset).rem_euclid(24)) + TimeDelta::microseconds(micros);
            let model = spec.models[rng.random_range(0..spec.models.len())];
            let random: [u8; 16] = rng.random::<u128>().to_le_bytes();
            if timestamp < not_before || timestamp >= self.plan.end {
                continue;
            }
            // UUIDv7 (time-ordered) keys, as many clients send: the events
            // table is keyed by id, so time-ordered ids append to it
            // instead of touching a random page per event.
            let mut tail = [0u8; 10];
            tail.copy_from_slice(&random[..10]);
            let millis = u64::try_from(timestamp.timestamp_millis()).unwrap_or(0);
            let uuid = uuid::Builder::from_unix_timestamp_millis(millis, &tail).into_uuid();
            let mut properties = Map::new();
            properties.insert("model".into(), Value::String(model.into()));
            properties.insert("region".into(), Value::String(region.into()));
            out.push(Gen {
                event: UsageEvent {
                    id: EventId::new(format!("evt_{}", uuid.simple()))?,
                    customer: p.id.clone(),
                    product: self.ids.products[product].clone(),
                    quantity: hundredths(quantity),
                    timestamp,
                    properties,
                },
                c,
                ct: spec.ct.i(),
            });
        }
        Ok(out)
    }

    async fn midday(&mut self, d: u32, noon: DateTime<Utc>) -> Result<(), SeedError> {
        let now = self.at(noon);
        let n = self.plan.profiles.len();

        let mut ops = Vec::new();
        if d == self.plan.price_announce_day {
            ops.push(AdminOp::RateVersion {
                product: self.ids.products[BATCH_EN].clone(),
                customer: None,
                version: RateVersion {
                    effective_from: self.plan.price_change,
                    credits_per_unit: Decimal::new(BATCH_EN_NEW_RATE_MILLI, 3),
                },
                by: self.ids.admin.clone(),
            });
        }
        let signups: Vec<usize> =
            (0..n).filter(|&c| !self.plan.profiles[c].existing && self.plan.profiles[c].signup_day == d).collect();
        for &c in &signups {
            ops.push(AdminOp::Customer(self.customer(c)));
            ops.extend(self.override_ops(c, now));
        }
        self.admin_all(ops, "catalog and sign-ups").await?;

        let mut grants = Vec::new();
        for &c in &signups {
            if self.plan.profiles[c].on_plan() {
                self.issue_plans(c, now, &mut grants)?;
            }
            self.trial_grants(c, now, &mut grants)?;
        }
        for c in 0..n {
            self.top_up(c, d, now, &mut grants)?;
        }
        let campaigns: Vec<Campaign> =
            self.plan.campaigns.iter().filter(|(day, _)| *day == d).map(|(_, k)| *k).collect();
        for campaign in campaigns {
            self.campaign(campaign, d, now, &mut grants)?;
        }
        if self.plan.outage_day == Some(d) {
            self.outage(d, now, &mut grants)?;
        }
        for c in 0..n {
            self.random_goodwill(c, d, now, &mut grants)?;
        }
        for c in self.plan.duplicates.get(&d).cloned().unwrap_or_default() {
            self.duplicate(c, d, now, &mut grants)?;
        }
        self.grant_all(grants).await?;

        let mut voids = self.voids_due.remove(&d).unwrap_or_default();
        for c in 0..n {
            if self.plan.profiles[c].churn_day != Some(d) {
                continue;
            }
            let live: Vec<GrantId> =
                self.plan_grants[c].iter().filter(|(_, expires)| *expires > now).map(|(g, _)| g.clone()).collect();
            for grant in live {
                let ticket = self.ticket("FIN");
                let by = attribution(
                    &self.ids.finance,
                    "contract_terminated",
                    &ticket,
                    "Contract ended; the unused allotment is forfeited",
                )?;
                voids.push((grant, by));
            }
        }
        for (grant, by) in voids {
            self.store.void(grant.clone(), by).await.map_err(store_err(format!("voiding {grant}")))?;
        }

        let disputes = self.plan.disputes.get(&d).copied().unwrap_or(0);
        for k in 0..disputes {
            self.dispute(d, k).await?;
        }
        Ok(())
    }

    /// Monthly allotments due by `now` (plus the lead time): the first
    /// (prorated) one at contract start, then one per month start.
    fn issue_plans(&mut self, c: usize, now: DateTime<Utc>, grants: &mut Vec<NewGrant>) -> Result<(), SeedError> {
        let contract_start = self.plan.contract_start(c);
        let mut k = match self.next_month[c] {
            Some(k) => k,
            None => self.plan.month_index(contract_start),
        };
        let churn_at = self.plan.profiles[c].churn_day.map(|d| self.plan.day_start(i64::from(d)));
        while k + 1 < self.plan.months.len() {
            let (month, next) = (self.plan.months[k], self.plan.months[k + 1]);
            let effective = month.max(contract_start);
            if effective > now + PLAN_LEAD {
                break;
            }
            if churn_at.is_some_and(|t| effective >= t) {
                k = self.plan.months.len();
                break;
            }
            for ct in CTS {
                if self.plan.profiles[c].funding[ct.i()] != Funding::Plan {
                    continue;
                }
                let level = self.plan_level(c, ct, k, effective);
                let amount = if effective > month {
                    let share = (next - effective).num_seconds() as f64 / (next - month).num_seconds() as f64;
                    nice(decimal_f64(level) * share, ct.min_amount() / 5)
                } else {
                    level
                };
                let grant = self.plan_grant(c, ct, amount, month, effective, next)?;
                self.plan_grants[c].push((grant.id.clone(), next));
                grants.push(grant);
            }
            k += 1;
        }
        self.next_month[c] = Some(k);
        Ok(())
    }

    /// The allotment: average monthly usage expected over the coming quarter
    /// times the customer's coverage, re-tiered every three months (so fast
    /// growers and bursty months still overrun it now and then).
    fn plan_level(&mut self, c: usize, ct: Ct, k: usize, effective: DateTime<Utc>) -> Decimal {
        if let Some(&(level, set)) = self.levels.get(&(c, ct.i())) {
            if k < set + 3 {
                return level;
            }
        }
        let from = self.plan.day_of(effective);
        let expected = self.plan.expected_credits(c, ct, from, from + 91) / 3.0;
        let level = nice(expected * self.plan.profiles[c].coverage[ct.i()], ct.min_amount());
        self.levels.insert((c, ct.i()), (level, k));
        level
    }

    fn plan_grant(
        &self,
        c: usize,
        ct: Ct,
        amount: Decimal,
        month: DateTime<Utc>,
        effective: DateTime<Utc>,
        next: DateTime<Utc>,
    ) -> Result<NewGrant, SeedError> {
        let p = &self.plan.profiles[c];
        let cap = (amount / Decimal::from(4)).round_dp(0).max(Decimal::ONE);
        Ok(NewGrant {
            expires_at: Some(next),
            contract_id: match p.tier {
                Tier::Enterprise => Some(ContractId::new(format!("ctr-{}", p.external_ref))?),
                _ => None,
            },
            cost_basis: Some(money(amount, ct, p.discount)),
            // Half of what is left rolls over (capped at a quarter of the
            // allotment) and lives 28 days, so it burns before the next
            // allotment, which expires at the next month end.
            rollover: Some(RolloverPolicy::new(Decimal::new(5, 1), Some(cap), TimeDelta::days(28))?),
            note: Some(format!("{} plan allotment for {}", p.tier.label(), month.format("%B %Y"))),
            ..NewGrant::new(
                GrantId::new(format!("plan-{}-{}-{}", p.id, ct.id(), month.format("%Y-%m")))?,
                p.id.clone(),
                self.ids.credit_types[ct.i()].clone(),
                amount,
                GrantCategory::Paid,
                GrantSource::Plan,
                effective,
                ReasonCode::new("plan_allotment")?,
                self.ids.billing.clone(),
            )
        })
    }

    /// Balances migrated from the previous billing system for customers who
    /// predate the period and pay by pack.
    fn opening_grants(&mut self, c: usize, grants: &mut Vec<NewGrant>) -> Result<(), SeedError> {
        let start = self.plan.start;
        for ct in CTS {
            if !matches!(self.plan.profiles[c].funding[ct.i()], Funding::Prepaid | Funding::AutoTopup) {
                continue;
            }
            let mut rng = rng_for(self.plan.opts.seed, TAG_OPENING, c as u64, ct.i() as u64);
            let amount = nice(self.plan.expected_credits(c, ct, 0, 45) * rng.random_range(0.5..1.5), ct.min_amount());
            let expires = start + TimeDelta::days(rng.random_range(45..240));
            self.trackers[c][ct.i()].add(amount, Some(expires));
            let p = &self.plan.profiles[c];
            grants.push(NewGrant {
                expires_at: Some(expires),
                note: Some("Opening balance migrated from the previous billing system".into()),
                ..NewGrant::new(
                    GrantId::new(format!("mig-{}-{}", p.id, ct.id()))?,
                    p.id.clone(),
                    self.ids.credit_types[ct.i()].clone(),
                    amount,
                    GrantCategory::Paid,
                    GrantSource::Migration,
                    start,
                    ReasonCode::new("opening_balance")?,
                    self.ids.migration.clone(),
                )
            });
        }
        Ok(())
    }

    fn trial_grants(&mut self, c: usize, now: DateTime<Utc>, grants: &mut Vec<NewGrant>) -> Result<(), SeedError> {
        for (ct, amount) in [(Ct::Batch, 2_000), (Ct::Realtime, 300)] {
            if self.plan.profiles[c].funding[ct.i()] != Funding::Trial {
                continue;
            }
            let amount = Decimal::from(amount);
            let expires = self.plan.midnight_after(now, 30);
            self.trackers[c][ct.i()].add(amount, Some(expires));
            let p = &self.plan.profiles[c];
            grants.push(NewGrant {
                expires_at: Some(expires),
                note: Some("Free trial credits (30 days)".into()),
                ..NewGrant::new(
                    GrantId::new(format!("trial-{}-{}", p.id, ct.id()))?,
                    p.id.clone(),
                    self.ids.credit_types[ct.i()].clone(),
                    amount,
                    GrantCategory::Promotional,
                    GrantSource::Promotion,
                    now,
                    ReasonCode::new("trial_signup")?,
                    self.ids.signup.clone(),
                )
            });
        }
        Ok(())
    }

    /// Pack customers buy when (their idea of) the balance runs low;
    /// lapsing ones only once they are already in overage.
    fn top_up(&mut self, c: usize, d: u32, now: DateTime<Utc>, grants: &mut Vec<NewGrant>) -> Result<(), SeedError> {
        if !self.plan.profiles[c].active(i64::from(d)) {
            return Ok(());
        }
        for ct in CTS {
            let p = &self.plan.profiles[c];
            let funding = p.funding_on(ct, d);
            // Lapsing only makes sense where the next pack pays the overage.
            let lapse = p.lapse && ct.overage_mode() == OverageMode::CarryForward;
            if !matches!(funding, Funding::Prepaid | Funding::AutoTopup) {
                continue;
            }
            let pack = self.plan.pack(c, ct, d);
            let threshold = match funding {
                Funding::AutoTopup => pack * Decimal::new(2, 1),
                _ if lapse => -(pack * Decimal::new(1, 1)),
                _ => pack * Decimal::new(25, 2),
            };
            if self.trackers[c][ct.i()].balance(now) >= threshold {
                continue;
            }
            let (source, note) = match funding {
                Funding::AutoTopup => {
                    (GrantSource::AutoTopup, format!("Auto top-up: balance fell below {}", threshold.round_dp(0)))
                }
                _ => (GrantSource::Purchase, format!("Self-serve pack of {pack} {}", ct.unit_label())),
            };
            let id = self.purchase_id(c)?;
            let grant = self.purchase_grant(c, ct, pack, source, now, id, note)?;
            self.trackers[c][ct.i()].add(pack, grant.expires_at);
            grants.push(grant);
        }
        Ok(())
    }

    fn purchase_id(&mut self, c: usize) -> Result<GrantId, SeedError> {
        self.purchases[c] += 1;
        Ok(GrantId::new(format!("pur-{}-{:03}", self.plan.profiles[c].id, self.purchases[c]))?)
    }

    /// A paid pack; expires a year after purchase.
    #[allow(clippy::too_many_arguments)]
    fn purchase_grant(
        &self,
        c: usize,
        ct: Ct,
        amount: Decimal,
        source: GrantSource,
        now: DateTime<Utc>,
        id: GrantId,
        note: String,
    ) -> Result<NewGrant, SeedError> {
        let expires = self.plan.midnight_after(now, 365);
        let p = &self.plan.profiles[c];
        Ok(NewGrant {
            expires_at: Some(expires),
            cost_basis: Some(money(amount, ct, p.discount)),
            note: Some(note),
            ..NewGrant::new(
                id,
                p.id.clone(),
                self.ids.credit_types[ct.i()].clone(),
                amount,
                GrantCategory::Paid,
                source,
                now,
                ReasonCode::new(if source == GrantSource::AutoTopup { "auto_topup" } else { "purchase" })?,
                self.ids.billing.clone(),
            )
        })
    }

    fn campaign(
        &mut self,
        kind: Campaign,
        d: u32,
        now: DateTime<Utc>,
        grants: &mut Vec<NewGrant>,
    ) -> Result<(), SeedError> {
        for c in 0..self.plan.profiles.len() {
            let p = &self.plan.profiles[c];
            if !p.active(i64::from(d)) || p.tier == Tier::Trial {
                continue;
            }
            let mut rng = rng_for(self.plan.opts.seed, TAG_CAMPAIGN, c as u64, kind as u64);
            let (ct, amount, products, days, chance, reason, note) = match kind {
                Campaign::Diarization => (
                    Ct::Batch,
                    Decimal::from(1_000),
                    Some(DIARIZATION),
                    60,
                    0.6,
                    "promo_diarization_launch",
                    "Diarization launch: free speaker-labelling credits",
                ),
                Campaign::CustomBeta if p.funding[Ct::Custom.i()] == Funding::None => continue,
                Campaign::CustomBeta => (
                    Ct::Custom,
                    Decimal::from(2_000),
                    Some(CUSTOM_TRAIN),
                    90,
                    1.0,
                    "promo_custom_beta",
                    "Custom model beta: training credits",
                ),
                Campaign::Multilingual => (
                    Ct::Batch,
                    Decimal::from(2_500),
                    Some(BATCH_MULTI),
                    45,
                    0.5,
                    "promo_multilingual",
                    "Multilingual launch: try 30+ languages",
                ),
                Campaign::YearEnd => (
                    Ct::Batch,
                    nice(self.plan.expected_credits(c, Ct::Batch, i64::from(d), i64::from(d) + 30) * 0.1, 500),
                    None,
                    45,
                    0.8,
                    "promo_year_end",
                    "Year-end thank-you credits",
                ),
            };
            if !rng.random_bool(chance) {
                continue;
            }
            grants.push(NewGrant {
                expires_at: Some(self.plan.midnight_after(now, days)),
                products: products.map(|i| vec![self.ids.products[i].clone()]),
                note: Some(note.into()),
                ..NewGrant::new(
                    GrantId::new(format!("promo-{}-{}", kind.slug(), p.id))?,
                    p.id.clone(),
                    self.ids.credit_types[ct.i()].clone(),
                    amount,
                    GrantCategory::Promotional,
                    GrantSource::Promotion,
                    now,
                    ReasonCode::new(reason)?,
                    self.ids.marketing.clone(),
                )
            });
        }
        Ok(())
    }

    /// Goodwill: promotional, 90 days, by a support agent; above the
    /// agent's $50 limit approved by a lead (or finance above $500).
    #[allow(clippy::too_many_arguments)]
    fn goodwill_grant(
        &mut self,
        c: usize,
        ct: Ct,
        amount: Decimal,
        reason: &str,
        ticket: String,
        note: &str,
        now: DateTime<Utc>,
    ) -> Result<NewGrant, SeedError> {
        self.goodwill[c] += 1;
        let p = &self.plan.profiles[c];
        let value = amount * ct.unit_price();
        let approved_by = if value <= Decimal::from(50) {
            None
        } else if value <= Decimal::from(500) {
            Some(self.ids.lead.clone())
        } else {
            Some(self.ids.finance.clone())
        };
        Ok(NewGrant {
            expires_at: Some(self.plan.midnight_after(now, 90)),
            ticket_ref: Some(ticket),
            note: Some(note.into()),
            approved_by,
            ..NewGrant::new(
                GrantId::new(format!("gw-{}-{:02}", p.id, self.goodwill[c]))?,
                p.id.clone(),
                self.ids.credit_types[ct.i()].clone(),
                amount,
                GrantCategory::Promotional,
                GrantSource::Goodwill,
                now,
                ReasonCode::new(reason)?,
                self.ids.agent.clone(),
            )
        })
    }

    /// A service incident: goodwill for about a third of the larger
    /// accounts (at least one), worth two days of their batch usage.
    fn outage(&mut self, d: u32, now: DateTime<Utc>, grants: &mut Vec<NewGrant>) -> Result<(), SeedError> {
        let di = i64::from(d);
        let big: Vec<usize> = (0..self.plan.profiles.len())
            .filter(|&c| {
                let p = &self.plan.profiles[c];
                p.active(di) && matches!(p.tier, Tier::Enterprise | Tier::Growth)
            })
            .collect();
        let mut chosen: Vec<usize> = big
            .iter()
            .copied()
            .filter(|&c| rng_for(self.plan.opts.seed, TAG_OUTAGE, c as u64, 0).random_bool(0.35))
            .collect();
        if chosen.is_empty() {
            chosen.extend(big.first());
        }
        let ticket = format!("INC-{}", 2_000 + d);
        let note = format!("Batch queue outage on {}: jobs delayed up to 4 hours", now.format("%-d %B %Y"));
        for c in chosen {
            let expected = self.plan.expected_credits(c, Ct::Batch, di, di + 2);
            let amount = nice(expected, 500).min(Decimal::from(20_000));
            grants.push(self.goodwill_grant(c, Ct::Batch, amount, "service_outage", ticket.clone(), &note, now)?);
        }
        Ok(())
    }

    fn random_goodwill(
        &mut self,
        c: usize,
        d: u32,
        now: DateTime<Utc>,
        grants: &mut Vec<NewGrant>,
    ) -> Result<(), SeedError> {
        let p = &self.plan.profiles[c];
        if p.tier == Tier::Trial || !p.active(i64::from(d)) {
            return Ok(());
        }
        let mut rng = rng_for(self.plan.opts.seed, TAG_GOODWILL, c as u64, u64::from(d));
        if !rng.random_bool(GOODWILL_P) {
            return Ok(());
        }
        let used: Vec<Ct> = CTS.into_iter().filter(|ct| p.funding[ct.i()] != Funding::None).collect();
        let Some(&ct) = used.get(rng.random_range(0..used.len().max(1))) else {
            return Ok(());
        };
        // $5 to $120 worth of credits.
        let value = rng.random_range(5.0..120.0);
        let amount = nice(value / decimal_f64(ct.unit_price()), ct.min_amount() / 5);
        let (reason, note) = GOODWILL_REASONS[rng.random_range(0..GOODWILL_REASONS.len())];
        let ticket = self.ticket("SUP");
        grants.push(self.goodwill_grant(c, ct, amount, reason, ticket, note, now)?);
        Ok(())
    }

    /// A purchase delivered twice by the checkout webhook; finance voids
    /// the duplicate the next day.
    fn duplicate(
        &mut self,
        from: usize,
        d: u32,
        now: DateTime<Utc>,
        grants: &mut Vec<NewGrant>,
    ) -> Result<(), SeedError> {
        let n = self.plan.profiles.len();
        let di = i64::from(d);
        let Some(c) = (0..n).map(|k| (from + k) % n).find(|&c| {
            let p = &self.plan.profiles[c];
            p.tier != Tier::Trial && p.active(di) && p.active(di + 1)
        }) else {
            return Ok(());
        };
        let amount = self.plan.pack(c, Ct::Batch, d);
        let id = self.purchase_id(c)?;
        let note = format!("Self-serve pack of {amount} credits");
        let grant = self.purchase_grant(c, Ct::Batch, amount, GrantSource::Purchase, now, id.clone(), note)?;
        self.trackers[c][Ct::Batch.i()].add(amount, grant.expires_at);
        grants.push(grant);
        // Not tracked: the customer does not count on it.
        let dup_id = GrantId::new(format!("{id}-dup"))?;
        let dup_note = format!("Duplicate of {id}: the checkout webhook was delivered twice");
        grants.push(self.purchase_grant(c, Ct::Batch, amount, GrantSource::Purchase, now, dup_id.clone(), dup_note)?);
        let ticket = self.ticket("FIN");
        let by = attribution(
            &self.ids.finance,
            "duplicate_grant",
            &ticket,
            "Duplicate pack from a webhook retry; the customer was charged once",
        )?;
        self.voids_due.entry(d + 1).or_default().push((dup_id, by));
        Ok(())
    }

    /// A dispute about usage two days ago, resolved by reversing one to
    /// four of the customer's events.
    async fn dispute(&mut self, d: u32, k: u32) -> Result<(), SeedError> {
        let Some(from) = d.checked_sub(2) else {
            return Ok(());
        };
        let n = self.plan.profiles.len();
        let mut rng = rng_for(self.plan.opts.seed, TAG_DISPUTE, u64::from(d), u64::from(k));
        let first = rng.random_range(0..n);
        for off in 0..n {
            let c = (first + off) % n;
            let p = &self.plan.profiles[c];
            if p.tier == Tier::Trial || !p.active(i64::from(d)) {
                continue;
            }
            let candidates: Vec<EventId> = self
                .day_events(c, from)?
                .into_iter()
                .map(|g| g.event.id)
                .filter(|id| !self.reversed.contains(id))
                .collect();
            if candidates.is_empty() {
                continue;
            }
            let count = rng.random_range(1..=candidates.len().min(4));
            let mut picks = rand::seq::index::sample(&mut rng, candidates.len(), count).into_vec();
            picks.sort_unstable();
            let (reason, note) = DISPUTE_REASONS[rng.random_range(0..DISPUTE_REASONS.len())];
            let ticket = self.ticket("SUP");
            for i in picks {
                let event = candidates[i].clone();
                let by = attribution(&self.ids.agent, reason, &ticket, note)?;
                self.store.reverse(event.clone(), by).await.map_err(store_err(format!("reversing {event}")))?;
                self.reversed.insert(event);
            }
            return Ok(());
        }
        Ok(())
    }

    /// The demo users, `demo-admin` last: its presence marks a complete seed.
    async fn create_users(&self) -> Result<Vec<SeedUser>, SeedError> {
        let mut users = Vec::new();
        for (name, role) in OTHER_USERS.into_iter().chain([(ADMIN_USER, Role::Admin)]) {
            let token = new_token();
            let user = User {
                id: name.into(),
                name: name.into(),
                role: role.as_str().into(),
                created_at: self.plan.start,
                revoked_at: None,
            };
            self.store
                .admin(AdminOp::User { user, token_hash: hash_token(&token) })
                .await
                .map_err(store_err(format!("creating user {name}")))?;
            users.push(SeedUser { name: name.into(), role, token: Some(token) });
        }
        users.rotate_right(1); // admin first in the report
        Ok(users)
    }
}

fn attribution(actor: &ActorId, reason: &str, ticket: &str, note: &str) -> Result<Attribution, SeedError> {
    Ok(Attribution {
        actor: actor.clone(),
        reason_code: Some(ReasonCode::new(reason)?),
        ticket_ref: Some(Arc::from(ticket)),
        note: Some(Arc::from(note)),
    })
}

// ---------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------

/// A random stream per purpose and key, independent of how many draws any
/// other stream made. ChaCha8 is value-stable across `rand_chacha` releases.
fn rng_for(seed: u64, tag: u64, a: u64, b: u64) -> ChaCha8Rng {
    let mut x = splitmix(seed);
    for v in [tag, a, b] {
        x = splitmix(x ^ v);
    }
    ChaCha8Rng::seed_from_u64(x)
}

fn splitmix(z: u64) -> u64 {
    let z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Standard normal (Box-Muller).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1 = 1.0 - rng.random::<f64>(); // (0, 1]: ln is finite
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn lognormal(rng: &mut ChaCha8Rng, median: f64, sigma: f64) -> f64 {
    median * (sigma * normal(rng)).exp()
}

/// Poisson: Knuth's method for small means, a rounded normal above 30.
fn poisson(rng: &mut ChaCha8Rng, lambda: f64) -> usize {
    if lambda.is_nan() || lambda <= 0.0 {
        return 0;
    }
    if lambda < 30.0 {
        let limit = (-lambda).exp();
        let mut k = 0;
        let mut p = rng.random::<f64>();
        while p > limit {
            k += 1;
            p *= rng.random::<f64>();
        }
        k
    } else {
        (lambda + lambda.sqrt() * normal(rng)).round().max(0.0) as usize
    }
}

/// Index drawn with probability proportional to its weight.
fn pick(rng: &mut ChaCha8Rng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut x = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.iter().rposition(|w| *w > 0.0).unwrap_or(0)
}

/// A quantity rounded half-away to two decimal places (at least 0.01).
fn hundredths(x: f64) -> Decimal {
    Decimal::new(((x * 100.0).round() as i64).max(1), 2)
}

/// A round amount of whole credits: rounded up to two significant digits,
/// at least `min`. Amounts people grant and buy look like `12,000`.
fn nice(x: f64, min: i64) -> Decimal {
    let min = min.max(1);
    if !x.is_finite() || x <= min as f64 {
        return Decimal::from(min);
    }
    let magnitude = 10f64.powi(x.log10().floor() as i32 - 1).max(1.0);
    let rounded = ((x / magnitude).ceil() * magnitude).round();
    // Capped far inside `MAX_CREDITS`, so the conversion is exact.
    Decimal::from((rounded.min(1e12) as i64).max(min))
}

/// For sizing only (never for amounts that are booked).
fn decimal_f64(d: Decimal) -> f64 {
    rust_decimal::prelude::ToPrimitive::to_f64(&d).unwrap_or(0.0)
}

/// List price of `credits`, times the contract discount, in cents.
fn money(credits: Decimal, ct: Ct, discount: Decimal) -> Money {
    Money { amount: (credits * ct.unit_price() * discount).round_dp(2), currency: Currency::USD }
}

fn month_start(t: DateTime<Utc>) -> DateTime<Utc> {
    let date = t.date_naive();
    date.with_day(1).unwrap_or(date).and_time(NaiveTime::MIN).and_utc()
}

fn next_month(m: DateTime<Utc>) -> Result<DateTime<Utc>, SeedError> {
    let next = m
        .date_naive()
        .checked_add_months(chrono::Months::new(1))
        .ok_or_else(|| SeedError::Options("the period runs past the calendar".into()))?;
    Ok(Utc.from_utc_datetime(&next.and_time(NaiveTime::MIN)))
}
