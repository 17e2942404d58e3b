//! The write path, once for both databases: requests are applied in
//! groups, each group in one transaction, and every ledger rule runs on
//! in-memory wallets that a cache keeps between groups.
//!
//! A group is one attempt after another until one commits (or fails for
//! good):
//!
//! 1. lock the wallets the group's requests will touch, in one sorted
//!    order (PostgreSQL: row locks; SQLite: nothing, its writer is alone);
//! 2. take each wallet from the cache if its version is the locked row's
//!    (another process may have written it meanwhile), else load it;
//! 3. run the ledger rules; rows are written as they are decided (events,
//!    grants, rejections) or collected and written in bulk at the end
//!    (entries, running totals, day rollups), then the versions bumped;
//! 4. record the responses of idempotent requests, commit, put the wallets
//!    back in the cache with their new versions, and answer.
//!
//! A lost race with another process (a unique key taken meanwhile, a
//! deadlock) rolls the attempt back and runs it again; the retry sees the
//! winner's rows (an event id then is a duplicate). Any other failure
//! answers every request of the group with the error. Either way nothing
//! of a failed attempt stays in memory: wallets taken from the cache are
//! dropped, so memory never runs ahead of what is durable.

use std::collections::BTreeSet;
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use creditdesk_ledger::catalog::Catalog;
use creditdesk_ledger::engine::{IngestMode, IngestResult};
use creditdesk_ledger::entry::{Attribution, Entry, EntryKind, Posting};
use creditdesk_ledger::error::LedgerError;
use creditdesk_ledger::event::{check_timing, classify, Idempotency, IngestPolicy, RejectReason, UsageEvent};
use creditdesk_ledger::grant::{Grant, NewGrant};
use creditdesk_ledger::ids::{ActorId, CreditTypeId, CustomerId, EventId, GrantId, ProductId};
use creditdesk_ledger::rating::rate;
use creditdesk_ledger::wallet::{Reversal, WalletState};
use creditdesk_ledger::Credits;
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use super::load::{load_catalog, load_wallet, wallet_of_grant};
use super::rows::{self, entries_of_event, find_event, insert_grant, parse};
use crate::codec::*;
use crate::db::{
    params, query_all, query_opt, BurnDay, Db, Dialect, GrantStateRow, LedgerDay, OverageRow, RejectedRow,
    RestorationRow, Sql, WalletKey, WalletRow,
};
use crate::error::{Result, StoreError};
use crate::model::{IdempotencyKey, Idempotent, StoreOptions, StoredEvent};
use crate::workflow::{insert_audit, AuditEntry, WorkflowOut};

mod admin;
mod intake;
mod workflow;

use intake::Reply;
pub use intake::{AdminOp, Idem, Render, WriteTiming};
pub(crate) use intake::{Command, Gather, Intake, Linger, Queue};

/// Sequence numbers per block taken from `seq_blocks` (hi/lo).
const SEQ_BLOCK: u64 = 1_000_000;
/// Take a new block when fewer than this remain (no group writes more).
const SEQ_HEADROOM: u64 = 200_000;
/// Attempts of a group that keeps losing races before it fails.
const ATTEMPTS: usize = 8;

/// The catalog as last loaded, with the database's catalog version then
/// (`None` on SQLite, whose writer is the only one to change it).
#[derive(Clone, Default)]
pub(crate) struct CatalogCache {
    pub version: Option<i64>,
    pub catalog: Arc<Catalog>,
}

/// A wallet kept between groups, with the version of its row it matches.
struct Cached {
    version: i64,
    state: WalletState,
}

/// A cache slot: a wallet ready to take, or one a writer of this process
/// has taken (it holds the wallet's row lock, or has just committed and is
/// about to put the wallet back).
enum Slot {
    Ready(Box<Cached>),
    Out,
}

/// Longest wait for another writer thread to put a wallet back before
/// loading it from the database instead (a safety valve: the wait is
/// normally the moment between that writer's commit and its publish).
const CHECKOUT_WAIT: Duration = Duration::from_secs(5);

/// What the writers of one store (one process) share: the options, the
/// catalog, the customers known to exist, and the wallet cache.
pub(crate) struct Shared {
    pub options: StoreOptions,
    catalog: RwLock<CatalogCache>,
    /// Customers are never deleted, so a positive cache is always right.
    customers: RwLock<HashSet<CustomerId>>,
    wallets: Mutex<HashMap<WalletKey, Slot>>,
    /// Signalled whenever taken wallets are put back.
    returned: Condvar,
}

const ALL_CUSTOMERS: Sql = Sql::same("SELECT id FROM customers");
const CUSTOMER_EXISTS: Sql = Sql::same("SELECT 1 FROM customers WHERE id = ?1");

impl Shared {
    /// Loads the catalog and the customers.
    pub(crate) fn load<D: Db + ?Sized>(db: &mut D, options: StoreOptions) -> Result<Shared> {
        let version = db.catalog_version()?;
        let catalog = Arc::new(load_catalog(db)?);
        let customers = query_all(db, &ALL_CUSTOMERS, &[], |r| parse(r.text(0)?, CustomerId::new))?;
        Ok(Shared {
            options,
            catalog: RwLock::new(CatalogCache { version, catalog }),
            customers: RwLock::new(customers.into_iter().collect()),
            wallets: Mutex::new(HashMap::new()),
            returned: Condvar::new(),
        })
    }

    /// The catalog as of the last change this process saw.
    pub(crate) fn catalog(&self) -> Arc<Catalog> {
        self.catalog.read().map(|c| c.catalog.clone()).unwrap_or_default()
    }

    /// The catalog, reloaded first if another process changed it.
    pub(crate) fn fresh_catalog<D: Db + ?Sized>(&self, db: &mut D) -> Result<Arc<Catalog>> {
        let current = self.catalog.read().map(|c| c.clone()).unwrap_or_default();
        let version = db.catalog_version()?;
        if version.is_none() || version == current.version {
            return Ok(current.catalog);
        }
        let catalog = Arc::new(load_catalog(db)?);
        self.publish_catalog(CatalogCache { version, catalog: catalog.clone() });
        Ok(catalog)
    }

    /// Takes a wallet from the cache for a writer holding its row lock.
    /// If another writer of this process has it out, that writer has just
    /// committed (it released the row lock we now hold): wait for it to put
    /// the wallet back rather than load it again. `None`: load it.
    fn check_out(&self, key: &WalletKey) -> Option<Cached> {
        let mut map = self.wallets.lock().ok()?;
        let deadline = std::time::Instant::now() + CHECKOUT_WAIT;
        while matches!(map.get(key), Some(Slot::Out)) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return None;
            }
            map = self.returned.wait_timeout(map, left).ok()?.0;
        }
        match map.insert(key.clone(), Slot::Out) {
            Some(Slot::Ready(c)) => Some(*c),
            _ => None,
        }
    }

    /// Puts wallets back (`None`: forget it, it is to be loaded again).
    fn give_back(&self, wallets: impl Iterator<Item = (WalletKey, Option<Cached>)>) {
        if let Ok(mut map) = self.wallets.lock() {
            for (key, cached) in wallets {
                match cached {
                    Some(c) => map.insert(key, Slot::Ready(Box::new(c))),
                    None => map.remove(&key),
                };
            }
        }
        self.returned.notify_all();
    }

    /// Replaces the cached catalog unless a newer one is there already.
    fn publish_catalog(&self, new: CatalogCache) {
        if let Ok(mut shared) = self.catalog.write() {
            if new.version.is_none() || new.version >= shared.version {
                *shared = new;
            }
        }
    }
}

/// A wallet taken from the cache (or loaded) for one attempt, and the
/// version of its row while this transaction holds the lock.
struct Held {
    version: i64,
    state: WalletState,
}

/// (customer, credit type, booked day, recorded day, grant, kind): a
/// `ledger_days` cell, summing micro-credits.
type LedgerDayKey = (CustomerId, CreditTypeId, i64, i64, Option<GrantId>, &'static str);
/// (customer, credit type, product, day): a `burn_days` row, holding
/// quarter-hour (burned, reversed) micro-credits.
type BurnDayKey = (CustomerId, CreditTypeId, Option<ProductId>, i64);

/// One attempt of a group: what it took, and what the flush writes.
/// Dropped without being published (a failed attempt), it forgets the
/// wallets it took: they are loaded again on next use.
struct Group {
    shared: Arc<Shared>,
    now: DateTime<Utc>,
    catalog: Arc<Catalog>,
    catalog_changed: bool,
    new_catalog: Option<CatalogCache>,
    /// Locked wallet rows; `None` on SQLite.
    locked: Option<std::collections::HashMap<WalletKey, WalletRow>>,
    wallets: HashMap<WalletKey, Held>,
    /// Wallets written to: their versions are bumped at the flush.
    touched: HashSet<WalletKey>,
    new_customers: HashSet<CustomerId>,
    dirty_grants: HashSet<(WalletKey, GrantId)>,
    ledger_days: HashMap<LedgerDayKey, i64>,
    /// (burned, reversed) quarters to add.
    burn_days: HashMap<BurnDayKey, (Quarters, Quarters)>,
    /// Rows not yet written (see `flush_rows`).
    entries: Vec<Entry>,
    overage_new: Vec<OverageRow>,
    overage_index: HashMap<i64, usize>,
    overage_deltas: HashMap<i64, (i64, i64)>,
    restorations: Vec<RestorationRow>,
}

impl Drop for Group {
    fn drop(&mut self) {
        if !self.wallets.is_empty() {
            self.shared.give_back(self.wallets.drain().map(|(key, _)| (key, None)));
        }
    }
}

impl Group {
    fn new(shared: Arc<Shared>, now: DateTime<Utc>, catalog: Arc<Catalog>) -> Group {
        Group {
            shared,
            now,
            catalog,
            catalog_changed: false,
            new_catalog: None,
            locked: None,
            wallets: HashMap::new(),
            touched: HashSet::new(),
            new_customers: HashSet::new(),
            dirty_grants: HashSet::new(),
            ledger_days: HashMap::new(),
            burn_days: HashMap::new(),
            entries: Vec::new(),
            overage_new: Vec::new(),
            overage_index: HashMap::new(),
            overage_deltas: HashMap::new(),
            restorations: Vec::new(),
        }
    }

    fn add_overage(&mut self, seq: i64, settled: i64, reversed: i64) {
        match self.overage_index.get(&seq) {
            Some(&i) => {
                self.overage_new[i].settled += settled;
                self.overage_new[i].reversed += reversed;
            }
            None => {
                let d = self.overage_deltas.entry(seq).or_default();
                d.0 += settled;
                d.1 += reversed;
            }
        }
    }
}

/// An idempotency key's state at the start of a request.
enum Claim {
    /// No key: just run.
    Free,
    /// This transaction holds the key (a placeholder row): run, then record.
    Claimed,
    /// Used before: replay this, or refuse a different request.
    Seen(Result<(u16, String)>),
}

const CLAIM_KEY: Sql = Sql::same(
    "INSERT INTO idempotency_keys (actor, key, request_hash, status, body, created_at) \
     VALUES (?1, ?2, ?3, 0, '', ?4) ON CONFLICT (actor, key) DO NOTHING",
);
const SEEN_KEY: Sql =
    Sql::same("SELECT request_hash, status, body FROM idempotency_keys WHERE actor = ?1 AND key = ?2");
const RECORD_KEY: Sql = Sql::same("UPDATE idempotency_keys SET status = ?3, body = ?4 WHERE actor = ?1 AND key = ?2");
const RELEASE_KEY: Sql = Sql::same("DELETE FROM idempotency_keys WHERE actor = ?1 AND key = ?2");

/// Takes the key for this transaction. Another transaction holding it
/// makes this wait until that one ends, then see its recorded response.
fn claim<D: Db + ?Sized>(db: &mut D, key: Option<&IdempotencyKey>, now: DateTime<Utc>) -> Result<Claim> {
    let Some(k) = key else { return Ok(Claim::Free) };
    let taken = db.execute(&CLAIM_KEY, &params![k.actor.as_str(), k.key.as_str(), k.request_hash.as_str(), ts(now)])?;
    if taken == 1 {
        return Ok(Claim::Claimed);
    }
    let (hash, status, body) = query_opt(db, &SEEN_KEY, &params![k.actor.as_str(), k.key.as_str()], |r| {
        Ok((r.text(0)?, r.i64(1)?, r.text(2)?))
    })?
    .ok_or_else(|| StoreError::corrupt(format!("idempotency key {} neither free nor recorded", k.key)))?;
    if hash != k.request_hash {
        return Ok(Claim::Seen(Err(StoreError::IdempotencyConflict { key: k.key.clone() })));
    }
    let status = u16::try_from(status).map_err(StoreError::corrupt)?;
    Ok(Claim::Seen(Ok((status, body))))
}

/// A request's outcome in an attempt: a refusal or a value (a failure
/// aborts the attempt instead), and whether its key is to be recorded.
struct Ran<T> {
    claimed: bool,
    result: Result<Idempotent<T>>,
}

impl<T> Ran<T> {
    fn new(claim: Claim, run: impl FnOnce() -> Result<T>) -> Result<Ran<T>> {
        match claim {
            Claim::Seen(Ok((status, body))) => {
                Ok(Ran { claimed: false, result: Ok(Idempotent::Replayed { status, body }) })
            }
            Claim::Seen(Err(e)) => Ok(Ran { claimed: false, result: Err(e) }),
            Claim::Free | Claim::Claimed => {
                let claimed = matches!(claim, Claim::Claimed);
                Ok(Ran { claimed, result: refusal(run())?.map(Idempotent::Done) })
            }
        }
    }
}

/// Splits a refusal (kept as the request's answer) from a failure (which
/// aborts the attempt).
fn refusal<T>(r: Result<T>) -> Result<Result<T>> {
    match r {
        Err(e) if e.is_failure() => Err(e),
        r => Ok(r),
    }
}

enum Done {
    Ingest(Ran<Vec<IngestResult>>),
    Grant(Ran<Vec<Entry>>),
    Void(Ran<Credits>),
    Reverse(Result<Reversal>),
    Sweep(Result<usize>),
    Admin(Result<()>),
    Workflow(Ran<WorkflowOut>),
}

type Finish = Box<dyn FnOnce(Option<&str>) + Send>;

/// Sends `result` once the group's fate is known: as is if it committed,
/// else the commit error.
fn deferred<T: Send + 'static>(reply: Reply<T>, result: Result<T>) -> Finish {
    Box::new(move |failure| {
        let out = match failure {
            None => result,
            // A refusal stays a refusal: nothing of it was written anyway.
            Some(_) if matches!(&result, Err(e) if !e.is_failure()) => result,
            Some(msg) => Err(StoreError::Corrupt(format!("write failed: {msg}"))),
        };
        let _ = reply.send(out);
    })
}

/// Records an idempotent request's response under its key (or frees the
/// key of a refused one), and returns how to answer it.
fn settle<D: Db + ?Sized, T: Send + 'static>(
    db: &mut D,
    idem: Option<Idem<T>>,
    ran: Ran<T>,
    reply: Reply<Idempotent<T>>,
) -> (Finish, Result<()>) {
    let mut written = Ok(());
    if let (true, Some(i)) = (ran.claimed, idem) {
        let key = [i.key.actor.as_str().into(), i.key.key.as_str().into()];
        written = match &ran.result {
            Ok(Idempotent::Done(v)) => {
                let (status, body) = (i.render)(v);
                db.execute(&RECORD_KEY, &[key[0], key[1], i64::from(status).into(), body.as_str().into()]).map(drop)
            }
            _ => db.execute(&RELEASE_KEY, &key).map(drop),
        };
    }
    (deferred(reply, ran.result), written)
}

/// One writer: a connection's worth of state (its block of sequence
/// numbers) over the store's [`Shared`] state.
pub(crate) struct Writer {
    shared: Arc<Shared>,
    next_seq: u64,
    seq_end: u64,
}

impl Writer {
    pub(crate) fn new(shared: Arc<Shared>) -> Writer {
        Writer { shared, next_seq: 0, seq_end: 0 }
    }

    /// Applies a group of requests in one transaction and answers them.
    /// `locked` is called once the group holds its wallets' row locks (the
    /// PostgreSQL writers hand the queue to the next writer only then: see
    /// `pg::run_writer`).
    ///
    /// `more` hands over requests that join the group while it is applied
    /// (the SQLite writer's [`Gather`]), or on PostgreSQL while it waits
    /// for its locks.
    pub(crate) fn run_group<D: Db + ?Sized>(
        &mut self,
        db: &mut D,
        mut batch: Vec<Command>,
        more: &mut dyn Intake,
        locked: &mut dyn FnMut(),
    ) {
        let started = Instant::now();
        let mut attempt = 1;
        let (group, dones) = loop {
            match self.attempt(db, &mut batch, more, locked) {
                Ok(done) => break done,
                Err(e) => {
                    let _ = db.rollback();
                    if e.is_retryable() && attempt < ATTEMPTS {
                        tracing::debug!(error = %e, attempt, "write group lost a race; retrying");
                        attempt += 1;
                        continue;
                    }
                    let msg = e.to_string();
                    batch.into_iter().for_each(|c| c.fail(&msg));
                    return;
                }
            }
        };
        // Record idempotent responses (each rendered once, here), commit.
        let timings: Vec<Arc<WriteTiming>> = batch.iter().filter_map(|c| c.timing().cloned()).collect();
        let mut finish: Vec<Finish> = Vec::with_capacity(batch.len());
        let mut outcome: Result<()> = Ok(());
        for (cmd, done) in batch.into_iter().zip(dones) {
            let (f, written) = match (cmd, done) {
                (Command::Ingest { idem, reply, .. }, Done::Ingest(ran)) => settle(db, idem, ran, reply),
                (Command::Grant { idem, reply, .. }, Done::Grant(ran)) => settle(db, idem, ran, reply),
                (Command::Void { idem, reply, .. }, Done::Void(ran)) => settle(db, idem, ran, reply),
                (Command::Reverse { reply, .. }, Done::Reverse(r)) => (deferred(reply, r), Ok(())),
                (Command::Sweep { reply }, Done::Sweep(r)) => (deferred(reply, r), Ok(())),
                (Command::Admin { reply, .. }, Done::Admin(r)) => (deferred(reply, r), Ok(())),
                (Command::Workflow { idem, reply, .. }, Done::Workflow(ran)) => settle(db, idem, ran, reply),
                (cmd, _) => {
                    cmd.fail("request and outcome out of step");
                    continue;
                }
            };
            finish.push(f);
            if outcome.is_ok() {
                outcome = written;
            }
        }
        let outcome = outcome.and_then(|()| db.commit());
        match &outcome {
            Ok(()) => {
                timings.iter().for_each(|t| t.mark(&t.committed));
                self.publish(group)
            }
            Err(_) => {
                let _ = db.rollback();
            }
        }
        let err = outcome.err().map(|e| e.to_string());
        for f in finish {
            f(err.as_deref());
        }
        // Its sum's rate is how busy the writers are: the queue's wait
        // grows steeply as it nears one per writer (BENCHMARKS.md).
        metrics::histogram!("creditdesk_store_write_group_seconds", "db" => db.dialect().label())
            .record(started.elapsed().as_secs_f64());
    }

    /// Puts what a committed group holds back into the shared state.
    fn publish(&self, mut g: Group) {
        let touched = std::mem::take(&mut g.touched);
        self.shared.give_back(g.wallets.drain().map(|(key, held)| {
            let version = if touched.contains(&key) { held.version + 1 } else { held.version };
            (key, Some(Cached { version, state: held.state }))
        }));
        if !g.new_customers.is_empty() {
            if let Ok(mut known) = self.shared.customers.write() {
                known.extend(g.new_customers.drain());
            }
        }
        if let Some(catalog) = g.new_catalog.take() {
            self.shared.publish_catalog(catalog);
        }
    }

    fn ensure_seqs<D: Db + ?Sized>(&mut self, db: &mut D) -> Result<()> {
        if self.seq_end.saturating_sub(self.next_seq) >= SEQ_HEADROOM {
            return Ok(());
        }
        self.new_block(db)
    }

    /// A fresh block: above every number handed out before, by any writer.
    fn new_block<D: Db + ?Sized>(&mut self, db: &mut D) -> Result<()> {
        let block = db.next_seq_block()?;
        self.next_seq = block * SEQ_BLOCK + 1;
        self.seq_end = (block + 1) * SEQ_BLOCK;
        Ok(())
    }

    /// Everything of a group up to (not including) recording idempotent
    /// responses and committing. Any error leaves the transaction to be
    /// rolled back.
    fn attempt<D: Db + ?Sized>(
        &mut self,
        db: &mut D,
        batch: &mut Vec<Command>,
        more: &mut dyn Intake,
        locked: &mut dyn FnMut(),
    ) -> Result<(Group, Vec<Done>)> {
        self.ensure_seqs(db)?;
        db.begin_write()?;
        let now = self.shared.options.clock.now();
        let catalog = self.shared.fresh_catalog(db)?;
        let mut g = Group::new(self.shared.clone(), now, catalog);
        // Locks matter only where other writers share the database.
        if db.dialect() == Dialect::Postgres {
            let mut keys = BTreeSet::new();
            for cmd in batch.iter() {
                self.plan(db, &mut g, cmd, &mut keys)?;
            }
            g.locked = db.lock_wallets(&keys.iter().cloned().collect::<Vec<_>>())?;
            // What queued while the locks were awaited joins the group if
            // its wallets are all held (the queue is this writer's until
            // `locked`): as a group of its own it would be small, wait for
            // these locks in turn, and pay a group's whole fixed cost. A
            // request that needs other wallets goes back to the queue, first
            // in line for the next group: locking more now, out of the
            // sorted order, could deadlock with another server's group.
            while let Some(cmd) = more.next() {
                let mut wants = BTreeSet::new();
                let planned = self.plan(db, &mut g, &cmd, &mut wants);
                if planned.is_ok() && !wants.is_subset(&keys) {
                    more.put_back(cmd);
                    continue;
                }
                batch.push(cmd);
                planned?;
            }
        }
        locked();
        let mut dones = Vec::with_capacity(batch.len());
        for cmd in batch.iter() {
            dones.push(self.apply(db, &mut g, cmd)?);
        }
        // Requests that arrive meanwhile join the group (kept in `batch`
        // before they are applied: a failed attempt answers or retries them
        // with the rest).
        while let Some(cmd) = more.next() {
            batch.push(cmd);
            let cmd = batch.last().ok_or_else(|| StoreError::corrupt("group intake"))?;
            dones.push(self.apply(db, &mut g, cmd)?);
        }
        self.flush(db, &mut g)?;
        if g.catalog_changed {
            // Read under this transaction's own bump: the pair is consistent.
            let version = db.catalog_version()?;
            g.new_catalog = Some(CatalogCache { version, catalog: g.catalog.clone() });
        }
        Ok((g, dones))
    }

    /// The wallets a request will touch, for the lock phase (PostgreSQL).
    /// Only wallets of known customers and credit types: a refused request
    /// leaves no wallet row behind.
    fn plan<D: Db + ?Sized>(
        &mut self,
        db: &mut D,
        g: &mut Group,
        cmd: &Command,
        keys: &mut BTreeSet<WalletKey>,
    ) -> Result<()> {
        match cmd {
            Command::Ingest { events, .. } => {
                let mut unknown: HashSet<&CustomerId> = HashSet::new();
                for e in events {
                    let Ok(product) = g.catalog.product(&e.product) else { continue };
                    if unknown.contains(&e.customer) {
                        continue;
                    }
                    if !self.known_customer(db, g, &e.customer)? {
                        unknown.insert(&e.customer);
                        continue;
                    }
                    keys.insert((e.customer.clone(), product.credit_type.clone()));
                }
            }
            Command::Grant { grant, .. } => {
                if g.catalog.credit_type(&grant.credit_type).is_ok() && self.known_customer(db, g, &grant.customer)? {
                    keys.insert((grant.customer.clone(), grant.credit_type.clone()));
                }
            }
            Command::Void { grant, .. } => keys.extend(wallet_of_grant(db, grant)?),
            Command::Reverse { event, .. } => {
                if let Some(s) = find_event(db, event)? {
                    keys.insert((s.event.customer, s.credit_type));
                }
            }
            Command::Sweep { .. } => keys.extend(sweep_candidates(db, g.now)?),
            Command::Admin { .. } => {}
            Command::Workflow { op, .. } => self.plan_workflow(db, g, op, keys)?,
        }
        Ok(())
    }

    fn is_known(&self, g: &Group, id: &CustomerId) -> bool {
        g.new_customers.contains(id) || self.shared.customers.read().is_ok_and(|c| c.contains(id))
    }

    /// Whether the customer exists: from the cache, else the database
    /// (another process may have added it).
    fn known_customer<D: Db + ?Sized>(&self, db: &mut D, g: &Group, id: &CustomerId) -> Result<bool> {
        if self.is_known(g, id) {
            return Ok(true);
        }
        if query_opt(db, &CUSTOMER_EXISTS, &params![id.as_str()], |_| Ok(()))?.is_none() {
            return Ok(false);
        }
        // Not this group's own insert (checked above), so committed.
        if let Ok(mut known) = self.shared.customers.write() {
            known.insert(id.clone());
        }
        Ok(true)
    }

    fn apply<D: Db + ?Sized>(&mut self, db: &mut D, g: &mut Group, cmd: &Command) -> Result<Done> {
        let now = g.now;
        Ok(match cmd {
            Command::Ingest { events, mode, actor, idem, audit, .. } => {
                let claim = claim(db, idem.as_ref().map(|i| &i.key), now)?;
                let ran = Ran::new(claim, || self.ingest(db, g, events, *mode, actor))?;
                // A refusal (a key reused for another request) is not an
                // accepted call: the HTTP layer records it as refused.
                if let (Some(row), Ok(_)) = (audit, &ran.result) {
                    insert_audit(db, &AuditEntry { at: now, ..(**row).clone() })?;
                }
                Done::Ingest(ran)
            }
            Command::Grant { grant, idem, .. } => {
                let claim = claim(db, idem.as_ref().map(|i| &i.key), now)?;
                Done::Grant(Ran::new(claim, || self.grant(db, g, grant))?)
            }
            Command::Void { grant, by, idem, .. } => {
                let claim = claim(db, idem.as_ref().map(|i| &i.key), now)?;
                Done::Void(Ran::new(claim, || self.void(db, g, grant, by))?)
            }
            Command::Reverse { event, by, .. } => Done::Reverse(refusal(self.reverse(db, g, event, by))?),
            Command::Sweep { .. } => Done::Sweep(refusal(self.sweep(db, g))?),
            Command::Admin { op, .. } => Done::Admin(refusal(self.admin(db, g, op))?),
            Command::Workflow { op, idem, .. } => {
                let claim = claim(db, idem.as_ref().map(|i| &i.key), now)?;
                Done::Workflow(Ran::new(claim, || self.workflow(db, g, op))?)
            }
        })
    }

    /// The wallet for this attempt (taken from the cache if it matches the
    /// locked row's version, always on SQLite, else loaded), and a posting
    /// to write to it, numbered above every entry the wallet has.
    fn take<'g, D: Db + ?Sized>(
        &mut self,
        db: &mut D,
        g: &'g mut Group,
        key: &WalletKey,
        by: Attribution,
    ) -> Result<(&'g mut WalletState, Posting)> {
        if !g.wallets.contains_key(key) {
            let row = match &mut g.locked {
                None => None,
                Some(locked) => Some(match locked.get(key) {
                    Some(row) => *row,
                    None => {
                        // Not foreseen by the plan: lock it now (a deadlock,
                        // if any, is detected and the group retried).
                        let got = db.lock_wallets(std::slice::from_ref(key))?.and_then(|m| m.get(key).copied());
                        let row =
                            got.ok_or_else(|| StoreError::corrupt(format!("wallet {}/{} not locked", key.0, key.1)))?;
                        locked.insert(key.clone(), row);
                        row
                    }
                }),
            };
            if row.is_some_and(|r| r.last_seq >= 0 && r.last_seq as u64 >= self.next_seq) {
                self.new_block(db)?;
            }
            let cached = self.shared.check_out(key);
            let state = match (cached, row) {
                (Some(c), None) => c.state,
                (Some(c), Some(r)) if c.version == r.version => c.state,
                _ => {
                    let ct = g.catalog.credit_type(&key.1)?.clone();
                    load_wallet(db, &key.0, &ct)?
                }
            };
            g.wallets.insert(key.clone(), Held { version: row.map_or(0, |r| r.version), state });
        }
        let posting = self.posting(g.now, by);
        let wallet = g.wallets.get_mut(key).map(|h| &mut h.state).ok_or_else(|| StoreError::corrupt("wallet cache"))?;
        Ok((wallet, posting))
    }

    fn posting(&self, now: DateTime<Utc>, by: Attribution) -> Posting {
        Posting::new(now, self.next_seq, by)
    }

    /// Writes what a posting holds (grants now, the rest moved to the
    /// group's entries for the flush) and notes what the flush must update.
    /// Returns where its entries are in `g.entries`.
    fn persist<D: Db + ?Sized>(
        &mut self,
        db: &mut D,
        g: &mut Group,
        key: &WalletKey,
        posting: Posting,
    ) -> Result<std::ops::Range<usize>> {
        self.next_seq = posting.next_seq;
        if !g.touched.contains(key) {
            g.touched.insert(key.clone());
        }
        for grant in &posting.grants {
            insert_grant(db, grant, posting.recorded_at)?;
            g.dirty_grants.insert((key.clone(), grant.id.clone()));
        }
        let start = g.entries.len();
        for e in posting.entries {
            let amount = micros(e.amount);
            let (booked, recorded) = (ts(e.booked_at), ts(e.recorded_at));
            *g.ledger_days
                .entry((
                    e.customer.clone(),
                    e.credit_type.clone(),
                    day_of(booked),
                    day_of(recorded),
                    e.grant.clone(),
                    e.kind.as_str(),
                ))
                .or_default() += amount;
            let usage = matches!(e.kind, EntryKind::Burn | EntryKind::Overage);
            let reversal = e.kind == EntryKind::Reversal || (e.kind == EntryKind::Grant && e.event.is_some());
            if usage || reversal {
                let cell = g
                    .burn_days
                    .entry((e.customer.clone(), e.credit_type.clone(), e.product.clone(), day_of(booked)))
                    .or_default();
                if usage {
                    cell.0.add(quarter_of(booked), amount.abs());
                } else {
                    cell.1.add(quarter_of(booked), amount);
                }
            }
            let related = e.related.map(|s| s as i64);
            match (e.kind, &e.grant) {
                (EntryKind::Overage, _) => {
                    g.overage_index.insert(e.seq as i64, g.overage_new.len());
                    g.overage_new.push(OverageRow {
                        seq: e.seq as i64,
                        customer: e.customer.to_string(),
                        credit_type: e.credit_type.to_string(),
                        product: e.product.as_ref().map_or_else(String::new, ProductId::to_string),
                        event: e.event.as_ref().map(EventId::to_string),
                        booked_at: booked,
                        amount: -amount,
                        settled: 0,
                        reversed: 0,
                    });
                }
                (EntryKind::OverageSettled, _) => {
                    if let Some(seq) = related {
                        g.add_overage(seq, -amount, 0);
                    }
                }
                (EntryKind::Reversal, None) => {
                    if let Some(seq) = related {
                        g.add_overage(seq, 0, amount);
                    }
                }
                (EntryKind::Reversal, Some(grant)) => g.restorations.push(RestorationRow {
                    grant: grant.to_string(),
                    seq: e.seq as i64,
                    booked_at: booked,
                    amount,
                }),
                _ => {}
            }
            if let Some(grant) = &e.grant {
                g.dirty_grants.insert((key.clone(), grant.clone()));
            }
            g.entries.push(e);
        }
        Ok(start..g.entries.len())
    }

    /// Writes the collected rows, so that queries inside the transaction
    /// see them (before a reversal reads an event's entries; at the end).
    fn flush_rows<D: Db + ?Sized>(&self, db: &mut D, g: &mut Group) -> Result<()> {
        db.insert_entries(&std::mem::take(&mut g.entries))?;
        db.insert_overage_items(&std::mem::take(&mut g.overage_new))?;
        g.overage_index.clear();
        let mut deltas: Vec<(i64, i64, i64)> = g.overage_deltas.drain().map(|(seq, (s, r))| (seq, s, r)).collect();
        deltas.sort_unstable();
        db.add_overage_deltas(&deltas)?;
        db.insert_restorations(&std::mem::take(&mut g.restorations))?;
        Ok(())
    }

    fn flush<D: Db + ?Sized>(&self, db: &mut D, g: &mut Group) -> Result<()> {
        self.flush_rows(db, g)?;
        let mut states = Vec::with_capacity(g.dirty_grants.len());
        for (key, grant) in &g.dirty_grants {
            let s = g
                .wallets
                .get(key)
                .and_then(|w| w.state.grant(grant))
                .ok_or_else(|| StoreError::corrupt(format!("dirty grant {grant} not in cache")))?;
            let t = &s.totals;
            states.push(GrantStateRow {
                grant: grant.to_string(),
                burned: micros(t.burned),
                settled: micros(t.settled),
                expired: micros(t.expired),
                corrected: micros(t.corrected),
                rolled: micros(t.rolled),
                voided: micros(t.voided),
                reversed: micros(t.reversed),
                voided_at: s.voided_at.map(ts),
                expiry_seq: s.expiry_seq.map(|q| q as i64),
            });
        }
        states.sort_unstable_by(|a, b| a.grant.cmp(&b.grant));
        db.update_grant_states(&states)?;
        let mut days: Vec<LedgerDay> = g
            .ledger_days
            .drain()
            .map(|((c, ct, booked_day, recorded_day, grant, kind), amount)| LedgerDay {
                customer: c.to_string(),
                credit_type: ct.to_string(),
                booked_day,
                recorded_day,
                grant: grant.map_or_else(String::new, |g| g.to_string()),
                kind,
                amount,
            })
            .collect();
        days.sort_unstable_by(|a, b| a.key().cmp(&b.key()));
        db.add_ledger_days(&days)?;
        let mut burn: Vec<BurnDay> = g
            .burn_days
            .drain()
            .map(|((c, ct, product, day), (burned, reversed))| BurnDay {
                customer: c.to_string(),
                credit_type: ct.to_string(),
                product: product.map_or_else(String::new, |p| p.to_string()),
                day,
                burned,
                reversed,
            })
            .collect();
        burn.sort_unstable_by(|a, b| a.key().cmp(&b.key()));
        db.add_burn_days(&burn)?;
        // In the wallets' one lock order (PostgreSQL's row locks).
        let mut touched: Vec<WalletKey> = g.touched.iter().cloned().collect();
        touched.sort_unstable();
        db.touch_wallets(&touched, ts(g.now), self.next_seq.saturating_sub(1) as i64)?;
        Ok(())
    }

    fn ingest<D: Db + ?Sized>(
        &mut self,
        db: &mut D,
        g: &mut Group,
        events: &[UsageEvent],
        mode: IngestMode,
        actor: &ActorId,
    ) -> Result<Vec<IngestResult>> {
        let now = g.now;
        let stored = stored_verdicts(db, events)?;
        // Accepted earlier in this request.
        let mut fresh: Vec<StoredEvent> = Vec::new();
        let mut fresh_index: HashMap<&EventId, usize> = HashMap::new();
        let mut results = Vec::with_capacity(events.len());
        let mut rejected = Vec::new();
        for (event, stored) in events.iter().zip(stored) {
            let prev = stored.or_else(|| {
                let p = &fresh[*fresh_index.get(&event.id)?];
                Some((classify(Some(&p.event), event), p.received_at))
            });
            let r = match prev {
                Some((Idempotency::Duplicate, original_received_at)) => {
                    IngestResult::Duplicate { original_received_at }
                }
                Some((_, original_received_at)) => {
                    let reason = RejectReason::IdempotencyConflict { original_received_at };
                    rejected.push(rejection(event, now, &reason)?);
                    IngestResult::Rejected { reason }
                }
                None => match self.try_ingest(db, g, event, mode, actor)? {
                    Ok((accepted, s)) => {
                        fresh_index.insert(&event.id, fresh.len());
                        fresh.push(s);
                        accepted
                    }
                    Err(reason) => {
                        rejected.push(rejection(event, now, &reason)?);
                        IngestResult::Rejected { reason }
                    }
                },
            };
            results.push(r);
        }
        db.insert_events(&fresh)?;
        db.insert_rejected(&rejected)?;
        Ok(results)
    }

    /// Ok(Err(reason)) is a rejection; Err is a database failure.
    fn try_ingest<D: Db + ?Sized>(
        &mut self,
        db: &mut D,
        g: &mut Group,
        event: &UsageEvent,
        mode: IngestMode,
        actor: &ActorId,
    ) -> Result<std::result::Result<(IngestResult, StoredEvent), RejectReason>> {
        let reject = |e: LedgerError| Ok(Err(RejectReason::from_error(&e)));
        if let Err(e) = event.validate() {
            return reject(e);
        }
        if !self.known_customer(db, g, &event.customer)? {
            return reject(LedgerError::invalid("customer_id", "is not a known customer"));
        }
        let options = &self.shared.options;
        let policy = match mode {
            IngestMode::Live => options.policy,
            IngestMode::Backfill => IngestPolicy { late_window: chrono::TimeDelta::MAX, ..options.policy },
        };
        let now = g.now;
        if let Err(reason) = check_timing(event.timestamp, now, &policy) {
            return Ok(Err(reason));
        }
        let catalog = g.catalog.clone();
        let product = match catalog.product(&event.product) {
            Ok(p) => p,
            Err(e) => return reject(e),
        };
        let rating = match rate(
            event.quantity,
            event.timestamp,
            &product.rate_card,
            catalog.override_for(&event.customer, &event.product),
        ) {
            Ok(r) => r,
            Err(e) => return reject(e),
        };
        let key = (event.customer.clone(), product.credit_type.clone());
        let (wallet, mut posting) = self.take(db, g, &key, Attribution::actor(actor.clone()))?;
        let allocation = wallet.burn(event, rating.credits, &mut posting);
        let added = self.persist(db, g, &key, posting)?;
        let entries = g.entries[added].iter().map(|e| e.seq).collect();
        let stored = StoredEvent { event: event.clone(), credit_type: key.1, received_at: now, rating };
        Ok(Ok((IngestResult::Accepted { rating, allocation, entries }, stored)))
    }

    fn grant<D: Db + ?Sized>(&mut self, db: &mut D, g: &mut Group, req: &NewGrant) -> Result<Vec<Entry>> {
        let grant = Grant::validate(req.clone(), &g.catalog)?;
        if !self.known_customer(db, g, &grant.customer)? {
            return Err(LedgerError::invalid("customer_id", "is not a known customer").into());
        }
        if wallet_of_grant(db, &grant.id)?.is_some() {
            return Err(LedgerError::AlreadyExists { what: "grant", id: grant.id.to_string() }.into());
        }
        let by = Attribution {
            actor: grant.created_by.clone(),
            reason_code: Some(grant.reason_code.clone()),
            ticket_ref: grant.ticket_ref.clone(),
            note: grant.note.clone(),
        };
        let key = (grant.customer.clone(), grant.credit_type.clone());
        let (wallet, mut posting) = self.take(db, g, &key, by)?;
        wallet.add_grant(grant, &mut posting)?;
        let added = self.persist(db, g, &key, posting)?;
        Ok(g.entries[added].to_vec())
    }

    fn void<D: Db + ?Sized>(
        &mut self,
        db: &mut D,
        g: &mut Group,
        grant: &GrantId,
        by: &Attribution,
    ) -> Result<Credits> {
        let key = wallet_of_grant(db, grant)?
            .ok_or_else(|| LedgerError::NotFound { what: "grant", id: grant.to_string() })?;
        let (wallet, mut posting) = self.take(db, g, &key, by.clone())?;
        let voided = wallet.void(grant, &mut posting)?;
        self.persist(db, g, &key, posting)?;
        Ok(voided)
    }

    fn reverse<D: Db + ?Sized>(
        &mut self,
        db: &mut D,
        g: &mut Group,
        event: &EventId,
        by: &Attribution,
    ) -> Result<Reversal> {
        let stored =
            find_event(db, event)?.ok_or_else(|| LedgerError::NotFound { what: "event", id: event.to_string() })?;
        let key = (stored.event.customer.clone(), stored.credit_type.clone());
        // The event's entries may still be collected, not yet written.
        self.flush_rows(db, g)?;
        let linked = entries_of_event(db, &stored)?;
        let refund_expiry = self.shared.options.refund_expiry;
        let (wallet, mut posting) = self.take(db, g, &key, by.clone())?;
        let reversal = wallet.reverse(event, &linked, refund_expiry, &mut posting)?;
        self.persist(db, g, &key, posting)?;
        Ok(reversal)
    }

    /// Books every expiry, rollover and settlement due now, in every wallet
    /// where one can be due. On several servers at once, each wallet is
    /// swept under its row lock: the second sweeper finds the wallet's
    /// version moved, reloads it, and finds nothing due any more.
    fn sweep<D: Db + ?Sized>(&mut self, db: &mut D, g: &mut Group) -> Result<usize> {
        let now = g.now;
        let mut keys: BTreeSet<WalletKey> = sweep_candidates(db, now)?.into_iter().collect();
        keys.extend(g.touched.iter().cloned());
        let mut written = 0;
        for key in keys {
            let (wallet, mut posting) = self.take(db, g, &key, Attribution::system())?;
            // Nothing can be due before the next expiry but a settlement,
            // and the last write already settled what it could.
            if wallet.next_expiry().is_none_or(|t| t > now) && wallet.outstanding_overage().is_zero() {
                continue;
            }
            wallet.catch_up(&mut posting);
            if !posting.entries.is_empty() {
                written += posting.entries.len();
                self.persist(db, g, &key, posting)?;
            }
        }
        Ok(written)
    }
}

/// An event against one sent before under its id: duplicate or conflict,
/// and when the earlier one was received.
type Verdict = (Idempotency, DateTime<Utc>);

/// For each event, its verdict against what the store already holds under
/// its id (committed, or written earlier in this transaction); `None` for
/// a new id.
fn stored_verdicts<D: Db + ?Sized>(db: &mut D, events: &[UsageEvent]) -> Result<Vec<Option<Verdict>>> {
    const END: usize = usize::MAX;
    // Each id's first event and each event's next with the same id: a batch
    // may repeat an id, and every copy is compared with the stored event.
    let mut first: HashMap<&str, usize> = HashMap::with_capacity(events.len());
    let mut next = vec![END; events.len()];
    for (i, e) in events.iter().enumerate().rev() {
        if let Some(later) = first.insert(e.id.as_str(), i) {
            next[i] = later;
        }
    }
    let ids: Vec<&EventId> = events.iter().map(|e| &e.id).collect();
    let mut verdicts = vec![None; events.len()];
    db.find_event_bodies(&ids, &mut |r| {
        let id = r.str(0)?;
        let (body, received_at) = rows::body_from_row(r, 1)?;
        let mut i = *first.get(id).ok_or_else(|| StoreError::corrupt(format!("event {id} was not asked for")))?;
        while i != END {
            verdicts[i] = Some((body.classify(&events[i]).map_err(StoreError::corrupt)?, received_at));
            i = next[i];
        }
        Ok(())
    })?;
    Ok(verdicts)
}

/// A rejected event's row: kept, as sent, with the reason.
fn rejection(event: &UsageEvent, now: DateTime<Utc>, reason: &RejectReason) -> Result<RejectedRow> {
    let body = serde_json::json!({
        "id": event.id.as_str(),
        "customer_id": event.customer.as_str(),
        "product_id": event.product.as_str(),
        "quantity": event.quantity.to_string(),
        "timestamp": event.timestamp,
        "properties": event.properties,
    })
    .to_string();
    Ok(RejectedRow {
        event: event.id.to_string(),
        customer: event.customer.to_string(),
        product: event.product.to_string(),
        body,
        received_at: ts(now),
        code: reason.code().to_string(),
        detail: serde_json::to_string(reason).map_err(StoreError::corrupt)?,
    })
}

const SWEEP_CANDIDATES: Sql = Sql::same(
    "SELECT g.customer_id, g.credit_type_id FROM grants g JOIN grant_state s ON s.grant_id = g.id \
     WHERE g.expires_at <= ?1 AND s.expiry_seq IS NULL AND s.voided_at IS NULL \
     UNION SELECT customer_id, credit_type_id FROM overage_items WHERE amount > settled + reversed",
);

/// Wallets where a sweep may have something to book: a grant expired but
/// not yet booked as such, or overage outstanding (a grant may have become
/// effective to settle it).
fn sweep_candidates<D: Db + ?Sized>(db: &mut D, now: DateTime<Utc>) -> Result<Vec<WalletKey>> {
    query_all(db, &SWEEP_CANDIDATES, &params![ts(now)], |r| {
        Ok((parse(r.text(0)?, CustomerId::new)?, parse(r.text(1)?, CreditTypeId::new)?))
    })
}
