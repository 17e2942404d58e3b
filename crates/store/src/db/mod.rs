//! The seam between the ledger's SQL and a database: a statement text per
//! dialect, parameters and rows in the few shapes the schema uses, and the
//! [`Db`] trait the write path and the queries are written against, once.
//!
//! The trait's bulk operations (find events, insert entries, add day
//! rollups, ...) default to one statement per row, which is what SQLite
//! wants (in-process calls cost nothing). PostgreSQL overrides them with one
//! statement per batch (`unnest` of arrays), because there every statement
//! is a network round trip.

pub(crate) mod lite;
pub(crate) mod pg;

use std::collections::HashMap;

use creditdesk_ledger::entry::Entry;
use creditdesk_ledger::ids::{CreditTypeId, CustomerId, EventId};

use crate::codec::Quarters;
use crate::error::{Result, StoreError};
use crate::model::StoredEvent;
use crate::shared::rows;

/// A wallet: customer x credit type.
pub(crate) type WalletKey = (CustomerId, CreditTypeId);

/// A locked wallet row: its version (does a cached wallet match it?) and
/// the highest entry number written to it (a writer whose block of numbers
/// is below it takes a new block, so a wallet's entries are numbered in the
/// order they were recorded, whichever writer or server wrote them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WalletRow {
    pub version: i64,
    pub last_seq: i64,
}

/// A statement: one text for both dialects, or one each where they differ.
/// Placeholders are `?N` in both; PostgreSQL's `$N` is substituted when the
/// statement is first prepared on a connection.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sql {
    pub lite: &'static str,
    pub pg: &'static str,
}

impl Sql {
    pub(crate) const fn same(text: &'static str) -> Sql {
        Sql { lite: text, pg: text }
    }

    pub(crate) const fn each(lite: &'static str, pg: &'static str) -> Sql {
        Sql { lite, pg }
    }
}

/// `?N` placeholders as PostgreSQL's `$N` (the texts hold no `?` otherwise).
pub(crate) fn pg_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(|n| n.is_ascii_digit()) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

/// A parameter: the column types the schema uses, borrowed.
#[derive(Clone, Copy, Debug)]
pub(crate) enum P<'a> {
    Null,
    I64(i64),
    Text(&'a str),
    Blob(&'a [u8]),
    Bool(bool),
}

impl From<i64> for P<'_> {
    fn from(v: i64) -> Self {
        P::I64(v)
    }
}

impl From<bool> for P<'_> {
    fn from(v: bool) -> Self {
        P::Bool(v)
    }
}

impl<'a> From<&'a str> for P<'a> {
    fn from(v: &'a str) -> Self {
        P::Text(v)
    }
}

impl<'a> From<&'a String> for P<'a> {
    fn from(v: &'a String) -> Self {
        P::Text(v)
    }
}

impl<'a> From<&'a [u8]> for P<'a> {
    fn from(v: &'a [u8]) -> Self {
        P::Blob(v)
    }
}

impl<'a, T: Into<P<'a>>> From<Option<T>> for P<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(P::Null, Into::into)
    }
}

/// Builds a `[P; N]` from values of the parameter types.
macro_rules! params {
    ($($v:expr),* $(,)?) => { [$($crate::db::P::from($v)),*] };
}
pub(crate) use params;

/// A result row, read by column index.
pub(crate) trait Row {
    fn i64(&self, i: usize) -> Result<i64>;
    fn opt_i64(&self, i: usize) -> Result<Option<i64>>;
    fn text(&self, i: usize) -> Result<String>;
    /// Borrowed from the row, where an owned copy would be thrown away.
    fn str(&self, i: usize) -> Result<&str>;
    fn opt_text(&self, i: usize) -> Result<Option<String>>;
    /// Borrowed from the row: a burn day is read per query, hundreds at a time.
    fn blob(&self, i: usize) -> Result<&[u8]>;
    fn bool(&self, i: usize) -> Result<bool>;
}

/// Called once per result row.
pub(crate) type Each<'f> = &'f mut dyn FnMut(&dyn Row) -> Result<()>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The `db` label of the store's metrics.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
        }
    }
}

/// A `grant_state` row: a grant's running totals (micro-credits).
#[derive(Clone, Debug)]
pub(crate) struct GrantStateRow {
    pub grant: String,
    pub burned: i64,
    pub settled: i64,
    pub expired: i64,
    pub corrected: i64,
    pub rolled: i64,
    pub voided: i64,
    pub reversed: i64,
    pub voided_at: Option<i64>,
    pub expiry_seq: Option<i64>,
}

/// An amount to add to a `ledger_days` cell (`grant` '' = none).
#[derive(Clone, Debug)]
pub(crate) struct LedgerDay {
    pub customer: String,
    pub credit_type: String,
    pub booked_day: i64,
    pub recorded_day: i64,
    pub grant: String,
    pub kind: &'static str,
    pub amount: i64,
}

/// Quarter-hour amounts to add to a `burn_days` row (`product` '' = none).
#[derive(Clone, Debug)]
pub(crate) struct BurnDay {
    pub customer: String,
    pub credit_type: String,
    pub product: String,
    pub day: i64,
    pub burned: Quarters,
    pub reversed: Quarters,
}

impl LedgerDay {
    /// Its row's key. Day rows are added in key order: the same order in
    /// every write group and on every writer.
    pub(crate) fn key(&self) -> (&str, &str, i64, i64, &str, &str) {
        (&self.customer, &self.credit_type, self.booked_day, self.recorded_day, &self.grant, self.kind)
    }
}

impl BurnDay {
    /// Its row's key (added in key order, as [`LedgerDay::key`]).
    pub(crate) fn key(&self) -> (&str, &str, &str, i64) {
        (&self.customer, &self.credit_type, &self.product, self.day)
    }
}

/// A new `overage_items` row.
#[derive(Clone, Debug)]
pub(crate) struct OverageRow {
    pub seq: i64,
    pub customer: String,
    pub credit_type: String,
    pub product: String,
    pub event: Option<String>,
    pub booked_at: i64,
    pub amount: i64,
    pub settled: i64,
    pub reversed: i64,
}

/// A new `rejected_events` row.
#[derive(Clone, Debug)]
pub(crate) struct RejectedRow {
    pub event: String,
    pub customer: String,
    pub product: String,
    pub body: String,
    pub received_at: i64,
    pub code: String,
    pub detail: String,
}

/// A new `restorations` row.
#[derive(Clone, Debug)]
pub(crate) struct RestorationRow {
    pub grant: String,
    pub seq: i64,
    pub booked_at: i64,
    pub amount: i64,
}

/// A database connection (inside a transaction when writing). Everything
/// the store does goes through these methods.
pub(crate) trait Db {
    fn dialect(&self) -> Dialect;

    /// Runs a statement; returns the rows it changed.
    fn execute(&mut self, sql: &Sql, params: &[P<'_>]) -> Result<u64>;

    /// Runs a query, calling `each` per row.
    fn query(&mut self, sql: &Sql, params: &[P<'_>], each: Each<'_>) -> Result<()>;

    /// A query built at run time (listing filters), in `?N` form.
    fn query_text(&mut self, sql: &str, params: &[P<'_>], each: Each<'_>) -> Result<()>;

    /// Runs SQL without parameters or results (transaction control).
    fn batch(&mut self, sql: &str) -> Result<()>;

    fn begin(&mut self) -> Result<()> {
        self.batch("BEGIN")
    }

    /// The transaction of a write group.
    fn begin_write(&mut self) -> Result<()> {
        self.begin()
    }

    fn commit(&mut self) -> Result<()> {
        self.batch("COMMIT")
    }

    fn rollback(&mut self) -> Result<()> {
        self.batch("ROLLBACK")
    }

    // ---- what differs by backend ----

    /// The next block of entry numbers (hi/lo). Runs outside the group's
    /// transaction: a block handed out is never handed out again.
    fn next_seq_block(&mut self) -> Result<u64>;

    /// Locks the wallets' rows (creating missing ones) in the given
    /// (sorted) order and returns them; `None` where the writer is the only
    /// one and its cache is authoritative (SQLite).
    fn lock_wallets(&mut self, keys: &[WalletKey]) -> Result<Option<HashMap<WalletKey, WalletRow>>>;

    /// The catalog's version, where other processes may change it.
    fn catalog_version(&mut self) -> Result<Option<i64>>;

    /// Records a catalog change for the other processes to notice.
    fn bump_catalog_version(&mut self) -> Result<()>;

    // ---- the write path's bulk operations (SQLite: multi-row statements;
    // PostgreSQL: one statement per list, over arrays) ----

    /// Calls `each` with a row of [`rows::BODY_COLUMNS`] after the id for
    /// every stored event among `ids` (committed, or written by this
    /// transaction), once per event: the idempotency check's lookup.
    fn find_event_bodies(&mut self, ids: &[&EventId], each: Each<'_>) -> Result<()>;

    fn insert_events(&mut self, events: &[StoredEvent]) -> Result<()>;

    fn insert_rejected(&mut self, rows_: &[RejectedRow]) -> Result<()> {
        for r in rows_ {
            self.execute(
                &rows::INSERT_REJECTED,
                &params![
                    r.event.as_str(),
                    r.customer.as_str(),
                    r.product.as_str(),
                    r.body.as_str(),
                    r.received_at,
                    r.code.as_str(),
                    r.detail.as_str()
                ],
            )?;
        }
        Ok(())
    }

    fn insert_entries(&mut self, entries: &[Entry]) -> Result<()>;

    /// Sets the grants' running totals (their rows exist).
    fn update_grant_states(&mut self, states: &[GrantStateRow]) -> Result<()>;

    /// Adds each amount to its `ledger_days` cell (creating it).
    fn add_ledger_days(&mut self, days: &[LedgerDay]) -> Result<()>;

    /// Adds each day's quarter hours to its `burn_days` row (creating it).
    fn add_burn_days(&mut self, days: &[BurnDay]) -> Result<()>;

    fn insert_overage_items(&mut self, items: &[OverageRow]) -> Result<()> {
        for o in items {
            self.execute(&rows::INSERT_OVERAGE, &rows::overage_params(o))?;
        }
        Ok(())
    }

    /// Adds (settled, reversed) to existing overage items, by seq.
    fn add_overage_deltas(&mut self, deltas: &[(i64, i64, i64)]) -> Result<()> {
        for (seq, settled, reversed) in deltas {
            self.execute(&rows::ADD_OVERAGE_DELTA, &params![*seq, *settled, *reversed])?;
        }
        Ok(())
    }

    fn insert_restorations(&mut self, rows_: &[RestorationRow]) -> Result<()> {
        for r in rows_ {
            self.execute(&rows::INSERT_RESTORATION, &params![r.grant.as_str(), r.seq, r.booked_at, r.amount])?;
        }
        Ok(())
    }

    /// Bumps the touched wallets' versions and records their catch-up time
    /// and (where several writers share the database) the highest entry
    /// number written to them so far.
    fn touch_wallets(&mut self, keys: &[WalletKey], now: i64, last_seq: i64) -> Result<()>;
}

/// The first row of a query, mapped.
pub(crate) fn query_opt<D: Db + ?Sized, T>(
    db: &mut D,
    sql: &Sql,
    params: &[P<'_>],
    mut map: impl FnMut(&dyn Row) -> Result<T>,
) -> Result<Option<T>> {
    let mut out = None;
    db.query(sql, params, &mut |r| {
        if out.is_none() {
            out = Some(map(r)?);
        }
        Ok(())
    })?;
    Ok(out)
}

/// Every row of a query, mapped.
pub(crate) fn query_all<D: Db + ?Sized, T>(
    db: &mut D,
    sql: &Sql,
    params: &[P<'_>],
    mut map: impl FnMut(&dyn Row) -> Result<T>,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    db.query(sql, params, &mut |r| {
        out.push(map(r)?);
        Ok(())
    })?;
    Ok(out)
}

/// Stored data that does not fit the type it must decode to.
pub(crate) fn bad_column(i: usize, what: impl std::fmt::Display) -> StoreError {
    StoreError::corrupt(format!("column {i}: {what}"))
}
