//! The single writer: owns the only write connection, applies every write
//! the server receives, and commits them in groups (all requests queued
//! while the previous commit ran go into the next transaction).
//!
//! Being the only writer, its wallet cache is always current. A group that
//! fails to commit is rolled back as a whole, its callers get the error,
//! and the wallets it touched are dropped from the cache (reloaded from the
//! database on next use), so memory never runs ahead of what is durable.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use creditdesk_ledger::catalog::{Catalog, CreditType, Product, RateVersion};
use creditdesk_ledger::engine::{IngestMode, IngestResult};
use creditdesk_ledger::entry::{Attribution, Entry, EntryKind, Posting};
use creditdesk_ledger::error::LedgerError;
use creditdesk_ledger::event::{check_timing, classify, Idempotency, IngestPolicy, RejectReason, UsageEvent};
use creditdesk_ledger::grant::{Grant, NewGrant};
use creditdesk_ledger::ids::{ActorId, CreditTypeId, CustomerId, EventId, GrantId, ProductId};
use creditdesk_ledger::rating::rate;
use creditdesk_ledger::wallet::{Reversal, WalletState};
use creditdesk_ledger::Credits;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use tokio::sync::{mpsc, oneshot};

use super::load::{load_catalog, load_wallet, wallet_of_grant};
use super::rows::{entries_of_event, find_event, insert_entry, insert_event, insert_grant};
use crate::codec::*;
use crate::error::{Result, StoreError};
use crate::model::{Customer, IdempotencyKey, Idempotent, StoreOptions, StoredEvent, User};

type WalletKey = (CustomerId, CreditTypeId);
type Reply<T> = oneshot::Sender<Result<T>>;

/// Sequence numbers per block taken from `seq_blocks` (hi/lo).
const SEQ_BLOCK: u64 = 1_000_000;
/// Take a new block when fewer than this remain (no group writes more).
const SEQ_HEADROOM: u64 = 200_000;

/// An admin change to the catalog, customers or users.
#[derive(Debug)]
pub enum AdminOp {
    CreditType(CreditType),
    Product { product: Product, by: ActorId },
    RateVersion { product: ProductId, customer: Option<CustomerId>, version: RateVersion, by: ActorId },
    Customer(Customer),
    User { user: User, token_hash: String },
    RevokeUser { name: String },
}

/// A write's `Idempotency-Key`, and how to render the response the server
/// will replay for it. The response is recorded in the same transaction as
/// the write, so a retry after a crash either replays it or finds nothing
/// written at all.
pub struct Idem<T> {
    pub key: IdempotencyKey,
    pub render: Box<dyn FnOnce(&T) -> (u16, String) + Send>,
}

pub(crate) enum Command {
    Ingest {
        events: Vec<UsageEvent>,
        mode: IngestMode,
        actor: ActorId,
        idem: Option<Idem<Vec<IngestResult>>>,
        reply: Reply<Idempotent<Vec<IngestResult>>>,
    },
    Grant {
        grant: NewGrant,
        idem: Option<Idem<Vec<Entry>>>,
        reply: Reply<Idempotent<Vec<Entry>>>,
    },
    Void {
        grant: GrantId,
        by: Attribution,
        idem: Option<Idem<Credits>>,
        reply: Reply<Idempotent<Credits>>,
    },
    Reverse {
        event: EventId,
        by: Attribution,
        reply: Reply<Reversal>,
    },
    Sweep {
        reply: Reply<usize>,
    },
    Admin {
        op: AdminOp,
        reply: Reply<()>,
    },
}

impl Command {
    fn weight(&self) -> usize {
        match self {
            Command::Ingest { events, .. } => events.len().max(1),
            _ => 1,
        }
    }
}

/// What one group accumulates for the flush before commit.
#[derive(Default)]
struct Group {
    touched: BTreeSet<WalletKey>,
    dirty_grants: HashSet<(WalletKey, GrantId)>,
    /// (customer, credit type, booked day, recorded day, grant, kind) -> micros
    ledger_days: HashMap<(CustomerId, CreditTypeId, i64, i64, Option<GrantId>, &'static str), i64>,
    /// (customer, credit type, product, day) -> quarter-hour (burned, reversed) micros
    burn_days: HashMap<(CustomerId, CreditTypeId, Option<ProductId>, i64), Box<([i64; 96], [i64; 96])>>,
    catalog_changed: bool,
    /// A DB error inside a command: the whole group must roll back.
    failed: bool,
}

pub(crate) struct Writer {
    conn: Connection,
    state: State,
    /// The WAL file, watched so sustained writing cannot grow it forever.
    wal_path: std::path::PathBuf,
    groups: u64,
}

/// Past this size the writer truncates the WAL itself (a rare, bounded
/// stall): background PASSIVE checkpoints cannot reset a WAL that is
/// written to without pause.
const WAL_LIMIT_BYTES: u64 = 256 << 20;

struct State {
    options: StoreOptions,
    catalog: Arc<RwLock<Arc<Catalog>>>,
    customers: HashSet<CustomerId>,
    wallets: HashMap<WalletKey, WalletState>,
    next_seq: u64,
    seq_end: u64,
}

impl Writer {
    pub(crate) fn new(conn: Connection, options: StoreOptions, catalog: Arc<RwLock<Arc<Catalog>>>) -> Result<Writer> {
        let mut customers = HashSet::new();
        {
            let mut stmt = conn.prepare("SELECT id FROM customers")?;
            let ids = stmt.query_map([], |r| r.get::<_, String>(0))?;
            for id in ids {
                let id = id?;
                customers.insert(CustomerId::new(&id).map_err(|e| StoreError::corrupt(format!("{id}: {e}")))?);
            }
        }
        let state = State { options, catalog, customers, wallets: HashMap::new(), next_seq: 0, seq_end: 0 };
        let wal_path = conn.path().map(|p| std::path::PathBuf::from(format!("{p}-wal"))).unwrap_or_default();
        Ok(Writer { conn, state, wal_path, groups: 0 })
    }

    /// Runs until every sender is gone.
    pub(crate) fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        while let Some(first) = rx.blocking_recv() {
            let mut weight = first.weight();
            let mut batch = vec![first];
            while weight < self.state.options.group_events {
                match rx.try_recv() {
                    Ok(cmd) => {
                        weight += cmd.weight();
                        batch.push(cmd);
                    }
                    Err(_) => break,
                }
            }
            self.apply_group(batch);
        }
    }

    fn apply_group(&mut self, batch: Vec<Command>) {
        if let Err(e) = self.state.ensure_seqs(&mut self.conn) {
            let msg = e.to_string();
            for cmd in batch {
                cmd.fail(&msg);
            }
            return;
        }
        let now = self.state.options.clock.now();
        let tx = match self.conn.transaction() {
            Ok(tx) => tx,
            Err(e) => {
                let msg = e.to_string();
                batch.into_iter().for_each(|c| c.fail(&msg));
                return;
            }
        };
        let mut group = Group::default();
        let mut finish: Vec<Box<dyn FnOnce(Option<&str>) + Send>> = Vec::with_capacity(batch.len());
        for cmd in batch {
            finish.push(self.state.apply(&tx, &mut group, cmd, now));
        }
        let outcome = if group.failed {
            drop(tx); // rolls back
            Err("a database error aborted the batch".to_string())
        } else {
            match self.state.flush(&tx, &group, now) {
                Ok(()) => tx.commit().map_err(|e| e.to_string()),
                Err(e) => {
                    drop(tx);
                    Err(e.to_string())
                }
            }
        };
        match &outcome {
            Ok(()) => {
                if group.catalog_changed {
                    if let Ok(catalog) = load_catalog(&self.conn) {
                        if let Ok(mut shared) = self.state.catalog.write() {
                            *shared = Arc::new(catalog);
                        }
                    }
                }
            }
            Err(_) => {
                // Memory ran ahead of a transaction that did not commit.
                for key in &group.touched {
                    self.state.wallets.remove(key);
                }
                if let Ok(reloaded) = Writer::reload_customers(&self.conn) {
                    self.state.customers = reloaded;
                }
            }
        }
        let err = outcome.err();
        for f in finish {
            f(err.as_deref());
        }
        self.groups += 1;
        if self.groups % 64 == 0 && std::fs::metadata(&self.wal_path).is_ok_and(|m| m.len() > WAL_LIMIT_BYTES) {
            // Retried at the next check; no request depends on it.
            if let Err(e) = self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
                tracing::warn!(error = %e, "WAL truncation deferred");
            }
        }
    }

    fn reload_customers(conn: &Connection) -> Result<HashSet<CustomerId>> {
        let mut stmt = conn.prepare("SELECT id FROM customers")?;
        let ids = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let mut out = HashSet::new();
        for id in ids {
            out.insert(CustomerId::new(id?).map_err(StoreError::corrupt)?);
        }
        Ok(out)
    }
}

impl Command {
    fn fail(self, msg: &str) {
        fn err<T>(msg: &str) -> Result<T> {
            Err(StoreError::Corrupt(format!("write failed: {msg}")))
        }
        match self {
            Command::Ingest { reply, .. } => drop(reply.send(err(msg))),
            Command::Grant { reply, .. } => drop(reply.send(err(msg))),
            Command::Void { reply, .. } => drop(reply.send(err(msg))),
            Command::Reverse { reply, .. } => drop(reply.send(err(msg))),
            Command::Sweep { reply } => drop(reply.send(err(msg))),
            Command::Admin { reply, .. } => drop(reply.send(err(msg))),
        }
    }
}

/// Sends `result` once the group's fate is known: as is if it committed,
/// else the commit error.
fn deferred<T: Send + 'static>(reply: Reply<T>, result: Result<T>) -> Box<dyn FnOnce(Option<&str>) + Send> {
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

impl State {
    fn catalog(&self) -> Arc<Catalog> {
        self.catalog.read().map(|c| c.clone()).unwrap_or_default()
    }

    fn ensure_seqs(&mut self, conn: &mut Connection) -> Result<()> {
        if self.seq_end.saturating_sub(self.next_seq) >= SEQ_HEADROOM {
            return Ok(());
        }
        let block: i64 = conn.query_row(
            "UPDATE seq_blocks SET next_block = next_block + 1 WHERE id = 1 RETURNING next_block - 1",
            [],
            |r| r.get(0),
        )?;
        let block = block as u64;
        self.next_seq = block * SEQ_BLOCK + 1;
        self.seq_end = (block + 1) * SEQ_BLOCK;
        Ok(())
    }

    fn apply(
        &mut self,
        tx: &Transaction<'_>,
        group: &mut Group,
        cmd: Command,
        now: DateTime<Utc>,
    ) -> Box<dyn FnOnce(Option<&str>) + Send> {
        match cmd {
            Command::Ingest { events, mode, actor, idem, reply } => {
                let r = self.idempotent(tx, idem, now, |s| s.ingest(tx, group, events, mode, &actor, now));
                deferred(reply, self.note(group, r))
            }
            Command::Grant { grant, idem, reply } => {
                let r = self.idempotent(tx, idem, now, |s| s.grant(tx, group, grant, now));
                deferred(reply, self.note(group, r))
            }
            Command::Void { grant, by, idem, reply } => {
                let r = self.idempotent(tx, idem, now, |s| s.void(tx, group, &grant, by, now));
                deferred(reply, self.note(group, r))
            }
            Command::Reverse { event, by, reply } => {
                let r = self.reverse(tx, group, &event, by, now);
                deferred(reply, self.note(group, r))
            }
            Command::Sweep { reply } => {
                let r = self.sweep(tx, group, now);
                deferred(reply, self.note(group, r))
            }
            Command::Admin { op, reply } => {
                let r = self.admin(tx, group, op, now);
                deferred(reply, self.note(group, r))
            }
        }
    }

    /// Runs `op` unless its idempotency key was used before: the same
    /// request gets the recorded response back, a different one a conflict.
    fn idempotent<T>(
        &mut self,
        tx: &Transaction<'_>,
        idem: Option<Idem<T>>,
        now: DateTime<Utc>,
        op: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<Idempotent<T>> {
        if let Some(i) = &idem {
            let seen = tx
                .prepare_cached(
                    "SELECT request_hash, status, body FROM idempotency_keys WHERE actor = ?1 AND key = ?2",
                )?
                .query_row(params![i.key.actor, i.key.key], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?))
                })
                .optional()?;
            if let Some((hash, status, body)) = seen {
                if hash != i.key.request_hash {
                    return Err(StoreError::IdempotencyConflict { key: i.key.key.clone() });
                }
                let status = u16::try_from(status).map_err(StoreError::corrupt)?;
                return Ok(Idempotent::Replayed { status, body });
            }
        }
        let out = op(self)?;
        if let Some(i) = idem {
            let (status, body) = (i.render)(&out);
            tx.prepare_cached(
                "INSERT INTO idempotency_keys (actor, key, request_hash, status, body, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                i.key.actor,
                i.key.key,
                i.key.request_hash,
                i64::from(status),
                body,
                ts(now)
            ])?;
        }
        Ok(Idempotent::Done(out))
    }

    /// Marks the group failed on anything but a rule's refusal.
    fn note<T>(&self, group: &mut Group, r: Result<T>) -> Result<T> {
        if let Err(e) = &r {
            if e.is_failure() {
                group.failed = true;
            }
        }
        r
    }

    fn wallet(&mut self, tx: &Transaction<'_>, key: &WalletKey) -> Result<&mut WalletState> {
        if !self.wallets.contains_key(key) {
            let ct = self.catalog().credit_type(&key.1)?.clone();
            let w = load_wallet(tx, &key.0, &ct)?;
            self.wallets.insert(key.clone(), w);
        }
        self.wallets.get_mut(key).ok_or_else(|| StoreError::corrupt("wallet cache"))
    }

    fn posting(&mut self, now: DateTime<Utc>, by: Attribution) -> Posting {
        Posting::new(now, self.next_seq, by)
    }

    /// Writes what a posting holds and notes what the flush must update.
    fn persist(&mut self, tx: &Transaction<'_>, group: &mut Group, key: &WalletKey, posting: &Posting) -> Result<()> {
        self.next_seq = posting.next_seq;
        group.touched.insert(key.clone());
        for g in &posting.grants {
            insert_grant(tx, g, posting.recorded_at)?;
            group.dirty_grants.insert((key.clone(), g.id.clone()));
        }
        for e in &posting.entries {
            insert_entry(tx, e)?;
            let amount = micros(e.amount);
            let (booked, recorded) = (ts(e.booked_at), ts(e.recorded_at));
            *group
                .ledger_days
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
                let cell = group
                    .burn_days
                    .entry((e.customer.clone(), e.credit_type.clone(), e.product.clone(), day_of(booked)))
                    .or_insert_with(|| Box::new(([0; 96], [0; 96])));
                if usage {
                    cell.0[quarter_of(booked)] += amount.abs();
                } else {
                    cell.1[quarter_of(booked)] += amount;
                }
            }
            match (e.kind, &e.grant) {
                (EntryKind::Overage, _) => {
                    tx.prepare_cached(
                        "INSERT INTO overage_items (seq, customer_id, credit_type_id, product_id, event_id, booked_at, \
                         amount, settled, reversed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, 0)",
                    )?
                    .execute(params![
                        e.seq as i64,
                        e.customer.as_str(),
                        e.credit_type.as_str(),
                        e.product.as_ref().map_or("", ProductId::as_str),
                        e.event.as_ref().map(EventId::as_str),
                        booked,
                        -amount,
                    ])?;
                }
                (EntryKind::OverageSettled, _) => {
                    tx.prepare_cached("UPDATE overage_items SET settled = settled + ?2 WHERE seq = ?1")?
                        .execute(params![e.related.map(|s| s as i64), -amount])?;
                }
                (EntryKind::Reversal, None) => {
                    tx.prepare_cached("UPDATE overage_items SET reversed = reversed + ?2 WHERE seq = ?1")?
                        .execute(params![e.related.map(|s| s as i64), amount])?;
                }
                (EntryKind::Reversal, Some(g)) => {
                    tx.prepare_cached(
                        "INSERT INTO restorations (grant_id, seq, booked_at, amount) VALUES (?1, ?2, ?3, ?4)",
                    )?
                    .execute(params![g.as_str(), e.seq as i64, booked, amount])?;
                }
                _ => {}
            }
            if let Some(g) = &e.grant {
                group.dirty_grants.insert((key.clone(), g.clone()));
            }
        }
        Ok(())
    }

    fn flush(&mut self, tx: &Transaction<'_>, group: &Group, now: DateTime<Utc>) -> Result<()> {
        let mut update = tx.prepare_cached(
            "UPDATE grant_state SET burned = ?2, settled = ?3, expired = ?4, corrected = ?5, rolled = ?6, voided = ?7, \
             reversed = ?8, voided_at = ?9, expiry_seq = ?10 WHERE grant_id = ?1",
        )?;
        for (key, grant) in &group.dirty_grants {
            let g = self
                .wallets
                .get(key)
                .and_then(|w| w.grant(grant))
                .ok_or_else(|| StoreError::corrupt(format!("dirty grant {grant} not in cache")))?;
            let t = &g.totals;
            update.execute(params![
                grant.as_str(),
                micros(t.burned),
                micros(t.settled),
                micros(t.expired),
                micros(t.corrected),
                micros(t.rolled),
                micros(t.voided),
                micros(t.reversed),
                g.voided_at.map(ts),
                g.expiry_seq.map(|s| s as i64),
            ])?;
        }
        let mut days = tx.prepare_cached(
            "INSERT INTO ledger_days (customer_id, credit_type_id, booked_day, recorded_day, grant_id, kind, amount) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
             ON CONFLICT DO UPDATE SET amount = amount + excluded.amount",
        )?;
        for ((c, ct, bday, rday, grant, kind), amount) in &group.ledger_days {
            let grant = grant.as_ref().map_or("", GrantId::as_str);
            days.execute(params![c.as_str(), ct.as_str(), bday, rday, grant, kind, amount])?;
        }
        let mut read_day = tx.prepare_cached(
            "SELECT burned, reversed FROM burn_days WHERE customer_id = ?1 AND credit_type_id = ?2 AND product_id = ?3 \
             AND day = ?4",
        )?;
        let mut write_day = tx.prepare_cached(
            "INSERT OR REPLACE INTO burn_days (customer_id, credit_type_id, product_id, day, burned, reversed) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for ((c, ct, product, day), cell) in &group.burn_days {
            let (burned, reversed) = &**cell;
            let product = product.as_ref().map_or("", ProductId::as_str);
            let old = read_day
                .query_row(params![c.as_str(), ct.as_str(), product, day], |r| {
                    Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
                })
                .optional()?;
            let (mut b, mut r) = match old {
                Some((b, r)) => (quarters_from_blob(&b)?, quarters_from_blob(&r)?),
                None => ([0; 96], [0; 96]),
            };
            for i in 0..96 {
                b[i] += burned[i];
                r[i] += reversed[i];
            }
            write_day.execute(params![
                c.as_str(),
                ct.as_str(),
                product,
                day,
                quarters_to_blob(&b),
                quarters_to_blob(&r)
            ])?;
        }
        let mut bump = tx.prepare_cached(
            "INSERT INTO wallets (customer_id, credit_type_id, version, caught_up_at) VALUES (?1, ?2, 1, ?3) \
             ON CONFLICT DO UPDATE SET version = version + 1, caught_up_at = excluded.caught_up_at",
        )?;
        for (c, ct) in &group.touched {
            bump.execute(params![c.as_str(), ct.as_str(), ts(now)])?;
        }
        Ok(())
    }

    fn ingest(
        &mut self,
        tx: &Transaction<'_>,
        group: &mut Group,
        events: Vec<UsageEvent>,
        mode: IngestMode,
        actor: &ActorId,
        now: DateTime<Utc>,
    ) -> Result<Vec<IngestResult>> {
        let catalog = self.catalog();
        let mut results = Vec::with_capacity(events.len());
        for event in events {
            let r = match find_event(tx, &event.id)? {
                Some(prev) => match classify(Some(&prev.event), &event) {
                    Idempotency::Duplicate => IngestResult::Duplicate { original_received_at: prev.received_at },
                    _ => {
                        let reason = RejectReason::IdempotencyConflict { original_received_at: prev.received_at };
                        self.reject(tx, &event, now, &reason)?;
                        IngestResult::Rejected { reason }
                    }
                },
                None => match self.try_ingest(tx, group, &catalog, &event, mode, actor, now)? {
                    Ok(accepted) => accepted,
                    Err(reason) => {
                        self.reject(tx, &event, now, &reason)?;
                        IngestResult::Rejected { reason }
                    }
                },
            };
            results.push(r);
        }
        Ok(results)
    }

    /// Ok(Err(reason)) is a rejection; Err is a database failure.
    #[allow(clippy::too_many_arguments)]
    fn try_ingest(
        &mut self,
        tx: &Transaction<'_>,
        group: &mut Group,
        catalog: &Catalog,
        event: &UsageEvent,
        mode: IngestMode,
        actor: &ActorId,
        now: DateTime<Utc>,
    ) -> Result<std::result::Result<IngestResult, RejectReason>> {
        let reject = |e: LedgerError| Ok(Err(RejectReason::from_error(&e)));
        if let Err(e) = event.validate() {
            return reject(e);
        }
        if !self.customers.contains(&event.customer) {
            return reject(LedgerError::invalid("customer_id", "is not a known customer"));
        }
        let policy = match mode {
            IngestMode::Live => self.options.policy,
            IngestMode::Backfill => IngestPolicy { late_window: chrono::TimeDelta::MAX, ..self.options.policy },
        };
        if let Err(reason) = check_timing(event.timestamp, now, &policy) {
            return Ok(Err(reason));
        }
        let product = match catalog.product(&event.product) {
            Ok(p) => p.clone(),
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
        let mut posting = self.posting(now, Attribution::actor(actor.clone()));
        let allocation = self.wallet(tx, &key)?.burn(event, rating.credits, &mut posting);
        insert_event(tx, &StoredEvent { event: event.clone(), credit_type: key.1.clone(), received_at: now, rating })?;
        self.persist(tx, group, &key, &posting)?;
        let entries = posting.entries.iter().map(|e| e.seq).collect();
        Ok(Ok(IngestResult::Accepted { rating, allocation, entries }))
    }

    fn reject(
        &mut self,
        tx: &Transaction<'_>,
        event: &UsageEvent,
        now: DateTime<Utc>,
        reason: &RejectReason,
    ) -> Result<()> {
        let body = serde_json::json!({
            "id": event.id.as_str(),
            "customer_id": event.customer.as_str(),
            "product_id": event.product.as_str(),
            "quantity": event.quantity.to_string(),
            "timestamp": event.timestamp,
            "properties": event.properties,
        });
        let detail = serde_json::to_string(reason).map_err(StoreError::corrupt)?;
        tx.prepare_cached(
            "INSERT INTO rejected_events (event_id, customer_id, product_id, body, received_at, code, detail) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            event.id.as_str(),
            event.customer.as_str(),
            event.product.as_str(),
            body.to_string(),
            ts(now),
            reason.code(),
            detail,
        ])?;
        Ok(())
    }

    fn grant(
        &mut self,
        tx: &Transaction<'_>,
        group: &mut Group,
        req: NewGrant,
        now: DateTime<Utc>,
    ) -> Result<Vec<Entry>> {
        let grant = Grant::validate(req, &self.catalog())?;
        if !self.customers.contains(&grant.customer) {
            return Err(LedgerError::invalid("customer_id", "is not a known customer").into());
        }
        if wallet_of_grant(tx, &grant.id)?.is_some() {
            return Err(LedgerError::AlreadyExists { what: "grant", id: grant.id.to_string() }.into());
        }
        let by = Attribution {
            actor: grant.created_by.clone(),
            reason_code: Some(grant.reason_code.clone()),
            ticket_ref: grant.ticket_ref.clone(),
            note: grant.note.clone(),
        };
        let key = (grant.customer.clone(), grant.credit_type.clone());
        let mut posting = self.posting(now, by);
        self.wallet(tx, &key)?.add_grant(grant, &mut posting)?;
        self.persist(tx, group, &key, &posting)?;
        Ok(posting.entries)
    }

    fn void(
        &mut self,
        tx: &Transaction<'_>,
        group: &mut Group,
        grant: &GrantId,
        by: Attribution,
        now: DateTime<Utc>,
    ) -> Result<Credits> {
        let key = wallet_of_grant(tx, grant)?
            .ok_or_else(|| LedgerError::NotFound { what: "grant", id: grant.to_string() })?;
        let mut posting = self.posting(now, by);
        let voided = self.wallet(tx, &key)?.void(grant, &mut posting)?;
        self.persist(tx, group, &key, &posting)?;
        Ok(voided)
    }

    fn reverse(
        &mut self,
        tx: &Transaction<'_>,
        group: &mut Group,
        event: &EventId,
        by: Attribution,
        now: DateTime<Utc>,
    ) -> Result<Reversal> {
        let stored =
            find_event(tx, event)?.ok_or_else(|| LedgerError::NotFound { what: "event", id: event.to_string() })?;
        let key = (stored.event.customer.clone(), stored.credit_type.clone());
        let linked = entries_of_event(tx, &stored)?;
        let refund_expiry = self.options.refund_expiry;
        let mut posting = self.posting(now, by);
        let reversal = self.wallet(tx, &key)?.reverse(event, &linked, refund_expiry, &mut posting)?;
        self.persist(tx, group, &key, &posting)?;
        Ok(reversal)
    }

    /// Books every expiry, rollover and settlement due now, in every wallet.
    fn sweep(&mut self, tx: &Transaction<'_>, group: &mut Group, now: DateTime<Utc>) -> Result<usize> {
        let keys: Vec<(String, String)> = {
            let mut stmt = tx.prepare_cached("SELECT customer_id, credit_type_id FROM wallets")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut written = 0;
        for (c, ct) in keys {
            let key = (CustomerId::new(&c)?, CreditTypeId::new(&ct)?);
            let mut posting = self.posting(now, Attribution::system());
            let wallet = self.wallet(tx, &key)?;
            // Nothing can be due before the next expiry but a settlement,
            // and the last write already settled what it could.
            if wallet.next_expiry().is_none_or(|t| t > now) && wallet.outstanding_overage().is_zero() {
                continue;
            }
            wallet.catch_up(&mut posting);
            if !posting.entries.is_empty() {
                written += posting.entries.len();
                self.persist(tx, group, &key, &posting)?;
            }
        }
        Ok(written)
    }

    fn admin(&mut self, tx: &Transaction<'_>, group: &mut Group, op: AdminOp, now: DateTime<Utc>) -> Result<()> {
        let exists = |sql: &str, id: &str| -> Result<bool> {
            Ok(tx.prepare_cached(sql)?.query_row([id], |_| Ok(())).optional()?.is_some())
        };
        let already =
            |what: &'static str, id: &str| StoreError::Ledger(LedgerError::AlreadyExists { what, id: id.into() });
        match op {
            AdminOp::CreditType(ct) => {
                if exists("SELECT 1 FROM credit_types WHERE id = ?1", ct.id.as_str())? {
                    return Err(already("credit type", ct.id.as_str()));
                }
                let order: Vec<&str> = ct.burn_order.keys().iter().map(|k| burn_key_str(*k)).collect();
                tx.execute(
                    "INSERT INTO credit_types (id, name, unit_label, unit_price, currency, burn_order, overage_mode, \
                     created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        ct.id.as_str(),
                        ct.name,
                        ct.unit_label,
                        ct.unit_price.amount.to_string(),
                        ct.unit_price.currency.code(),
                        serde_json::to_string(&order).map_err(StoreError::corrupt)?,
                        overage_str(ct.overage_mode),
                        ts(now),
                    ],
                )?;
                group.catalog_changed = true;
            }
            AdminOp::Product { product, by } => {
                self.catalog().credit_type(&product.credit_type)?;
                if exists("SELECT 1 FROM products WHERE id = ?1", product.id.as_str())? {
                    return Err(already("product", product.id.as_str()));
                }
                tx.execute(
                    "INSERT INTO products (id, name, credit_type_id, created_at) VALUES (?1, ?2, ?3, ?4)",
                    params![product.id.as_str(), product.name, product.credit_type.as_str(), ts(now)],
                )?;
                for v in product.rate_card.versions() {
                    insert_rate(tx, &product.id, None, v, &by, now)?;
                }
                group.catalog_changed = true;
            }
            AdminOp::RateVersion { product, customer, version, by } => {
                let catalog = self.catalog();
                let p = catalog.product(&product)?;
                if let Some(c) = &customer {
                    if !self.customers.contains(c) {
                        return Err(LedgerError::invalid("customer_id", "is not a known customer").into());
                    }
                }
                // Validate the card as it will be with the new version.
                let mut versions: Vec<RateVersion> = match &customer {
                    None => p.rate_card.versions().to_vec(),
                    Some(c) => {
                        catalog.override_for(c, &product).map(|card| card.versions().to_vec()).unwrap_or_default()
                    }
                };
                versions.push(version);
                creditdesk_ledger::catalog::RateCard::new(versions)?;
                insert_rate(tx, &product, customer.as_ref(), &version, &by, now)?;
                group.catalog_changed = true;
            }
            AdminOp::Customer(c) => {
                if exists("SELECT 1 FROM customers WHERE id = ?1", c.id.as_str())? {
                    return Err(already("customer", c.id.as_str()));
                }
                tx.execute(
                    "INSERT INTO customers (id, name, external_ref, created_at) VALUES (?1, ?2, ?3, ?4)",
                    params![c.id.as_str(), c.name, c.external_ref, ts(c.created_at)],
                )?;
                self.customers.insert(c.id);
            }
            AdminOp::User { user, token_hash } => {
                if exists("SELECT 1 FROM users WHERE name = ?1", &user.name)? {
                    return Err(already("user", &user.name));
                }
                tx.execute(
                    "INSERT INTO users (id, name, role, token_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![user.id, user.name, user.role, token_hash, ts(user.created_at)],
                )?;
            }
            AdminOp::RevokeUser { name } => {
                let n = tx.execute(
                    "UPDATE users SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL",
                    params![name, ts(now)],
                )?;
                if n == 0 {
                    return Err(LedgerError::NotFound { what: "active user", id: name }.into());
                }
            }
        }
        Ok(())
    }
}

fn insert_rate(
    tx: &Transaction<'_>,
    product: &ProductId,
    customer: Option<&CustomerId>,
    v: &RateVersion,
    by: &ActorId,
    now: DateTime<Utc>,
) -> Result<()> {
    tx.execute(
        "INSERT INTO rate_versions (product_id, customer_id, effective_from, credits_per_unit, created_at, created_by) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            product.as_str(),
            customer.map_or("", CustomerId::as_str),
            ts(v.effective_from),
            v.credits_per_unit.to_string(),
            ts(now),
            by.as_str(),
        ],
    )?;
    Ok(())
}
