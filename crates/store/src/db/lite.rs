//! [`Db`] on a SQLite connection: statements from rusqlite's per-connection
//! cache. The bulk writes of a group (events, entries and burn blocks, and
//! the running totals and day rollups of every wallet it touched) run as
//! multi-row statements ([`Rows`]), and the idempotency look-up as one
//! statement per [`CHUNK`] ids: calls are in-process, but each statement
//! run still costs a VM start, a cache look-up and a bind, on the one
//! writer thread, and a group of live ingest writes about 1,600 rollup
//! rows for 200 customers (docs/bench-experiments.md, "What a group's flush costs").
//! The rarer bulk writes (overage, restorations) stay one per row.

use std::collections::HashMap;
use std::sync::OnceLock;

use creditdesk_ledger::entry::{Entry, EntryKind};
use creditdesk_ledger::ids::EventId;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::Connection;

use super::{
    bad_column, params, BurnDay, Db, Dialect, Each, GrantStateRow, LedgerDay, Row, Sql, WalletKey, WalletRow, P,
};
use crate::codec::{day_of, quarters_sum, ts, Quarters};
use crate::error::Result;
use crate::model::StoredEvent;
use crate::shared::rows;
use crate::shared::rows::entry_columns;
use crate::sqlite::static_rows::StaticRows;

/// Rows per multi-row statement (15 x 64 parameters, far below SQLite's
/// limit of 32,766).
const CHUNK: usize = 64;

/// The staged blocks' customers, oldest block first: a group reads them
/// until it has the customers it moves ([`LiteDb::staged_to_move`]).
const STAGED_IN_ORDER: &str = "SELECT customer_id FROM burn_blocks_recent ORDER BY id";

/// A group's move of those customers' staged blocks: appended to
/// `burn_blocks` in its index order (new ids, so the table's inserts go to
/// its last page: migration 10), then out of the staging table (its guard
/// checks each is moved). Both run without a statement journal (OR FAIL,
/// and the guard raises FAIL), as [`Rows`] explains.
const MOVE_STAGED: [&str; 2] = [
    "INSERT OR FAIL INTO burn_blocks (customer_id, credit_type_id, booked_day, booked_max, recorded_at, n, burns) \
     SELECT customer_id, credit_type_id, booked_day, booked_max, recorded_at, n, burns \
     FROM burn_blocks_recent WHERE customer_id IN (SELECT value FROM json_each(?1)) \
     ORDER BY customer_id, credit_type_id, id",
    "DELETE FROM burn_blocks_recent WHERE customer_id IN (SELECT value FROM json_each(?1))",
];

/// Each group moves the staged blocks of one in this many of the customers
/// it staged blocks for, those staged longest: a group moves about as many
/// blocks as it stages, and each customer's blocks wait about this many
/// groups, so its two index tails in `burn_blocks` are written once for
/// that many blocks. Moving every customer every so many groups instead
/// would make that group as slow as all of them (docs/bench-experiments.md, "What a
/// commit writes now"). 8 until 2026-12-05: 16 gave the lower ack p99 at
/// 100,000 events/s in each of six interleaved rounds (by 1.2 ms at the
/// median); 32 fell between the two, and 24 was no better (lower in
/// three rounds of six; docs/bench-experiments.md, "Moving a sixteenth of the staged
/// customers").
const MOVE_ONE_IN: usize = 16;

/// Registers what the store's SQL needs on a connection: `utc_day(t)`, the
/// UTC day (floored) of a time in microseconds, `quarters_add(a, b)`, the
/// sum of two burn days' quarter-hour blobs, and `burn_block(burns)`,
/// which reads a burn block as entry rows (`sqlite::burn_block`).
pub(crate) fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    conn.create_scalar_function(
        "utc_day",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC | FunctionFlags::SQLITE_INNOCUOUS,
        |ctx| Ok(day_of(ctx.get::<i64>(0)?)),
    )?;
    conn.create_scalar_function(
        "quarters_add",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC | FunctionFlags::SQLITE_INNOCUOUS,
        |ctx| {
            let blob = |i: usize| ctx.get_raw(i).as_blob().map_err(|e| rusqlite::Error::UserFunctionError(e.into()));
            quarters_sum(blob(0)?, blob(1)?)
                .map_err(|e| rusqlite::Error::UserFunctionError(e.into()))?
                .ok_or_else(|| rusqlite::Error::UserFunctionError("a burn day's quarter hour overflows".into()))
        },
    )?;
    crate::sqlite::burn_block::register(conn)
}

/// The burns a version-7 store left staged in `entries_recent`, summed
/// by customer, credit type, grant, product, booked quarter hour (counted
/// from the epoch) and recorded day. Floored divisions (SQLite's `/`
/// truncates towards zero).
const STAGED_BURN_SUMS: &str = "SELECT customer_id, credit_type_id, COALESCE(grant_id, ''), \
     COALESCE(product_id, ''), booked_at / 900000000 - (booked_at % 900000000 < 0), \
     recorded_at / 86400000000 - (recorded_at % 86400000000 < 0), SUM(amount), SUM(ABS(amount)) \
     FROM entries_recent GROUP BY 1, 2, 3, 4, 5, 6";

/// Before migration 8 drops `entries_recent`: moves the burns a version-7
/// store staged there into `entries`, adding the day rollups that version
/// wrote only when a burn moved. (Nothing when there is no such table.)
pub(crate) fn move_staged_burns(conn: &Connection) -> Result<()> {
    let staged: i64 =
        conn.query_row("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'entries_recent'", [], |r| r.get(0))?;
    if staged == 0 {
        return Ok(());
    }
    let mut db = LiteDb::new(conn);
    let mut ledger: HashMap<(String, String, i64, i64, String), i64> = HashMap::new();
    let mut burn: HashMap<(String, String, String, i64), Quarters> = HashMap::new();
    db.run(STAGED_BURN_SUMS, &[], &mut |r| {
        let (customer, credit_type, grant, product) = (r.text(0)?, r.text(1)?, r.text(2)?, r.text(3)?);
        let quarter = r.i64(4)?;
        let (booked_day, slot) = (quarter.div_euclid(96), quarter.rem_euclid(96) as usize);
        let key = (customer.clone(), credit_type.clone(), booked_day, r.i64(5)?, grant);
        *ledger.entry(key).or_default() += r.i64(6)?;
        burn.entry((customer, credit_type, product, booked_day)).or_default().add(slot, r.i64(7)?);
        Ok(())
    })?;
    let mut ledger: Vec<LedgerDay> = ledger
        .into_iter()
        .map(|((customer, credit_type, booked_day, recorded_day, grant), amount)| LedgerDay {
            customer,
            credit_type,
            booked_day,
            recorded_day,
            grant,
            kind: EntryKind::Burn.as_str(),
            amount,
        })
        .collect();
    ledger.sort_unstable_by(|a, b| a.key().cmp(&b.key()));
    db.add_ledger_days(&ledger)?;
    let mut burn: Vec<BurnDay> = burn
        .into_iter()
        .map(|((customer, credit_type, product, day), burned)| BurnDay {
            customer,
            credit_type,
            product,
            day,
            burned,
            reversed: Quarters::default(),
        })
        .collect();
    burn.sort_unstable_by(|a, b| a.key().cmp(&b.key()));
    db.add_burn_days(&burn)?;
    conn.execute(
        concat!("INSERT INTO entries (", entry_columns!(), ") SELECT ", entry_columns!(), " FROM entries_recent"),
        [],
    )?;
    Ok(())
}

/// A multi-row statement: `head`, then rows of `width` placeholders each
/// (`(?1, ?2), (?3, ?4), ...`), then `tail`. [`LiteDb::write_rows`] runs a
/// list of rows in statements of [`Rows::SIZES`] rows (64, then 16, 4 and
/// 1 for the rest): a handful of statements for any count, each prepared
/// once per connection.
///
/// Heads (`INSERT INTO`, `UPDATE`) run as `INSERT OR FAIL INTO` and
/// `UPDATE OR FAIL`. Why FAIL: a multi-row statement that may ABORT on a
/// constraint makes SQLite copy every page it touches into a statement
/// journal first, so that it can undo its own earlier rows; on the ingest
/// path that copy was a fifth of the writer's time (`perf`, 2026-12-03).
/// FAIL stops at the failing row without undoing the statement's earlier
/// rows, which is safe here: any error fails the whole group, and the
/// writer rolls the transaction back (`Writer::run_group`).
pub(crate) struct Rows {
    head: &'static str,
    width: usize,
    tail: &'static str,
    sql: OnceLock<[String; 4]>,
}

impl Rows {
    const SIZES: [usize; 4] = [CHUNK, 16, 4, 1];

    const fn new(head: &'static str, width: usize, tail: &'static str) -> Rows {
        Rows { head, width, tail, sql: OnceLock::new() }
    }

    /// The statement of `Rows::SIZES[i]` rows.
    fn sql(&self, i: usize) -> &str {
        &self.sql.get_or_init(|| {
            Rows::SIZES.map(|rows| {
                let tuples: Vec<String> = (0..rows)
                    .map(|r| {
                        let cells: Vec<String> = (1..=self.width).map(|c| format!("?{}", r * self.width + c)).collect();
                        format!("({})", cells.join(", "))
                    })
                    .collect();
                let head = if self.head.starts_with("UPDATE ") {
                    self.head.replacen("UPDATE ", "UPDATE OR FAIL ", 1)
                } else {
                    self.head.replacen("INSERT INTO ", "INSERT OR FAIL INTO ", 1)
                };
                format!("{head}{}{}", tuples.join(", "), self.tail)
            })
        })[i]
    }
}

impl rusqlite::ToSql for P<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match *self {
            P::Null => ValueRef::Null,
            P::I64(v) => ValueRef::Integer(v),
            P::Text(s) => ValueRef::Text(s.as_bytes()),
            P::Blob(b) => ValueRef::Blob(b),
            P::Bool(b) => ValueRef::Integer(i64::from(b)),
        }))
    }
}

/// A SQLite connection as a [`Db`]. Borrows it: the store keeps the
/// connection (and its statement cache) for its whole life. The writer's
/// also lends its multi-row statements bound in place
/// ([`crate::sqlite::static_rows`]).
pub(crate) struct LiteDb<'c, 'r> {
    conn: &'c Connection,
    rows: Option<&'r mut StaticRows<'c>>,
}

impl<'c, 'r> LiteDb<'c, 'r> {
    pub(crate) fn new(conn: &'c Connection) -> LiteDb<'c, 'r> {
        LiteDb { conn, rows: None }
    }

    /// The writer's: multi-row writes go through `rows`.
    pub(crate) fn writer(conn: &'c Connection, rows: &'r mut StaticRows<'c>) -> LiteDb<'c, 'r> {
        LiteDb { conn, rows: Some(rows) }
    }

    /// Writes `params`, whole rows of `rows.width` values, in as few
    /// statements as [`Rows::SIZES`] allows.
    fn write_rows(&mut self, rows: &'static Rows, mut params: &[P<'_>]) -> Result<()> {
        debug_assert!(params.len().is_multiple_of(rows.width), "{} values in rows of {}", params.len(), rows.width);
        for (i, size) in Rows::SIZES.into_iter().enumerate() {
            let n = size * rows.width;
            if params.len() < n {
                continue;
            }
            while params.len() >= n {
                match self.rows.as_deref_mut() {
                    Some(fast) => fast.execute(rows.sql(i), &params[..n])?,
                    None => self
                        .conn
                        .prepare_cached(rows.sql(i))?
                        .execute(rusqlite::params_from_iter(params[..n].iter()))?,
                };
                params = &params[n..];
            }
        }
        Ok(())
    }

    /// The `k` staged customers whose oldest staged block is oldest, as a
    /// JSON array for [`MOVE_STAGED`]. `k` is one in [`MOVE_ONE_IN`] of
    /// the customers the group staged blocks for. Read in staging order
    /// until `k` are found, not grouped over the whole table.
    fn staged_to_move(&self, k: usize) -> Result<String> {
        let mut stmt = self.conn.prepare_cached(STAGED_IN_ORDER)?;
        let mut rows = stmt.query([])?;
        let mut customers: Vec<String> = Vec::with_capacity(k);
        while customers.len() < k {
            let Some(row) = rows.next()? else { break };
            let customer = row.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?;
            if !customers.iter().any(|c| c == customer) {
                customers.push(customer.to_owned());
            }
        }
        serde_json::to_string(&customers).map_err(crate::error::StoreError::corrupt)
    }

    fn run(&self, sql: &str, params: &[P<'_>], each: Each<'_>) -> Result<()> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
        while let Some(r) = rows.next()? {
            each(&LiteRow(r))?;
        }
        Ok(())
    }
}

struct LiteRow<'a, 'b>(&'a rusqlite::Row<'b>);

impl Row for LiteRow<'_, '_> {
    fn i64(&self, i: usize) -> Result<i64> {
        Ok(self.0.get(i)?)
    }

    fn opt_i64(&self, i: usize) -> Result<Option<i64>> {
        Ok(self.0.get(i)?)
    }

    fn text(&self, i: usize) -> Result<String> {
        Ok(self.0.get(i)?)
    }

    fn opt_text(&self, i: usize) -> Result<Option<String>> {
        Ok(self.0.get(i)?)
    }

    fn str(&self, i: usize) -> Result<&str> {
        self.0.get_ref(i)?.as_str().map_err(|e| bad_column(i, e))
    }

    fn blob(&self, i: usize) -> Result<&[u8]> {
        match self.0.get_ref(i)? {
            ValueRef::Blob(b) => Ok(b),
            other => Err(bad_column(i, format!("{:?} is not a blob", other.data_type()))),
        }
    }

    fn bool(&self, i: usize) -> Result<bool> {
        match self.0.get_ref(i)? {
            ValueRef::Integer(v) => Ok(v != 0),
            other => Err(bad_column(i, format!("{:?} is not a boolean", other.data_type()))),
        }
    }
}

impl Db for LiteDb<'_, '_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn execute(&mut self, sql: &Sql, params: &[P<'_>]) -> Result<u64> {
        let n = self.conn.prepare_cached(sql.lite)?.execute(rusqlite::params_from_iter(params.iter()))?;
        Ok(n as u64)
    }

    fn query(&mut self, sql: &Sql, params: &[P<'_>], each: Each<'_>) -> Result<()> {
        self.run(sql.lite, params, each)
    }

    fn query_text(&mut self, sql: &str, params: &[P<'_>], each: Each<'_>) -> Result<()> {
        self.run(sql, params, each)
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        Ok(self.conn.execute_batch(sql)?)
    }

    /// Takes the write lock at once. A deferred BEGIN would read first and
    /// ask for the lock at its first write: if another connection (the
    /// CLI's `users add`, a migration) committed in between, SQLite refuses
    /// that upgrade at once ("database is locked", no busy wait) and the
    /// group fails. IMMEDIATE waits for the other writer (`busy_timeout`).
    fn begin_write(&mut self) -> Result<()> {
        self.batch("BEGIN IMMEDIATE")
    }

    fn next_seq_block(&mut self) -> Result<u64> {
        let block: i64 = self.conn.query_row(
            "UPDATE seq_blocks SET next_block = next_block + 1 WHERE id = 1 RETURNING next_block - 1",
            [],
            |r| r.get(0),
        )?;
        Ok(block as u64)
    }

    fn find_event_bodies(&mut self, ids: &[&EventId], each: Each<'_>) -> Result<()> {
        static SQL: OnceLock<String> = OnceLock::new();
        let sql = SQL.get_or_init(|| {
            let list: Vec<String> = (1..=CHUNK).map(|i| format!("?{i}")).collect();
            format!("SELECT id, {} FROM events WHERE id IN ({})", rows::BODY_COLUMNS, list.join(", "))
        });
        for chunk in ids.chunks(CHUNK) {
            // A short chunk repeats its last id (`IN` matches it once): one
            // statement for all.
            let last = chunk.len() - 1;
            let params: Vec<P<'_>> = (0..CHUNK).map(|i| P::Text(chunk[i.min(last)].as_str())).collect();
            self.run(sql, &params, each)?;
        }
        Ok(())
    }

    fn insert_events(&mut self, events: &[StoredEvent]) -> Result<()> {
        static EVENTS: Rows = Rows::new(rows::INSERT_EVENT_HEAD, 12, "");
        let texts = events.iter().map(rows::EventText::of).collect::<Result<Vec<_>>>()?;
        let params: Vec<P<'_>> = events.iter().zip(&texts).flat_map(|(e, t)| rows::event_params(e, t)).collect();
        self.write_rows(&EVENTS, &params)
    }

    /// Burns are staged in `burn_blocks_recent`, a block per customer,
    /// credit type, booked day and recorded time (in entry-number order
    /// within it), and then the staged blocks of one in [`MOVE_ONE_IN`] of
    /// the staged customers move to `burn_blocks` ([`MOVE_STAGED`]);
    /// everything else goes to `entries`, a row each. Called once per write
    /// group.
    fn insert_entries(&mut self, entries: &[Entry]) -> Result<()> {
        static ENTRIES: Rows = Rows::new(rows::INSERT_ENTRY_HEAD, 15, "");
        static BLOCKS: Rows = Rows::new(
            "INSERT INTO burn_blocks_recent \
             (customer_id, credit_type_id, booked_day, booked_max, recorded_at, n, burns) VALUES ",
            7,
            "",
        );
        let (burns, rest): (Vec<&Entry>, Vec<&Entry>) = entries.iter().partition(|e| e.kind == EntryKind::Burn);
        let params: Vec<P<'_>> = rest.iter().flat_map(|e| rows::entry_params(e)).collect();
        self.write_rows(&ENTRIES, &params)?;

        fn block_of(e: &Entry) -> (&str, &str, i64, i64) {
            (e.customer.as_str(), e.credit_type.as_str(), day_of(ts(e.booked_at)), ts(e.recorded_at))
        }
        // Each burn's block worked out once (not at every comparison); the
        // sort is stable, so each block keeps its burns in booked order.
        let mut keyed: Vec<_> = burns.into_iter().map(|e| (block_of(e), e)).collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        // (block key, latest booked time, burns, the encoded block)
        let mut encoder = crate::sqlite::burn_block::Encoder::default();
        let blocks: Vec<_> = keyed
            .chunk_by(|a, b| a.0 == b.0)
            .map(|chunk| {
                let block: Vec<&Entry> = chunk.iter().map(|(_, e)| *e).collect();
                let booked_max = block.iter().map(|e| ts(e.booked_at)).max().unwrap_or_default();
                (chunk[0].0, booked_max, block.len() as i64, encoder.encode(&block))
            })
            .collect();
        let params: Vec<P<'_>> = blocks
            .iter()
            .flat_map(|((customer, credit_type, day, recorded), booked_max, n, burns)| {
                params![*customer, *credit_type, *day, *booked_max, *recorded, *n, &burns[..]]
            })
            .collect();
        self.write_rows(&BLOCKS, &params)?;
        // Every group moves, burns or not, so staged blocks drain when
        // ingest stops (an empty staging table costs three cheap statements).
        let group_customers = blocks.chunk_by(|a, b| a.0 .0 == b.0 .0).count();
        let customers = self.staged_to_move(group_customers.div_ceil(MOVE_ONE_IN).max(1))?;
        for sql in MOVE_STAGED {
            self.conn.prepare_cached(sql)?.execute([&customers])?;
        }
        Ok(())
    }

    /// Grants neither voided nor expired have only their totals set: a
    /// statement that sets `voided_at` or `expiry_seq`, even to the NULL
    /// they hold, makes SQLite delete and re-insert the grant's entry in
    /// `grant_state_live` (an index on those columns), about doubling the
    /// row's cost. They only ever go from NULL to a value, so a grant
    /// still without either holds NULL in both.
    fn update_grant_states(&mut self, states: &[GrantStateRow]) -> Result<()> {
        // One UPDATE joined to the rows' values (`column1` is the grant).
        macro_rules! set_totals {
            () => {
                "UPDATE grant_state SET burned = v.column2, settled = v.column3, expired = v.column4, \
                 corrected = v.column5, rolled = v.column6, voided = v.column7, reversed = v.column8"
            };
        }
        const BY_GRANT: &str = ") AS v WHERE grant_state.grant_id = v.column1";
        static TOTALS: Rows = Rows::new(concat!(set_totals!(), " FROM (VALUES "), 8, BY_GRANT);
        static STATES: Rows = Rows::new(
            concat!(set_totals!(), ", voided_at = v.column9, expiry_seq = v.column10 FROM (VALUES "),
            10,
            BY_GRANT,
        );
        let (live, ended): (Vec<&GrantStateRow>, Vec<&GrantStateRow>) =
            states.iter().partition(|s| s.voided_at.is_none() && s.expiry_seq.is_none());
        // The first 8 values: the grant and its totals, in TOTALS' order.
        let params: Vec<P<'_>> = live.iter().flat_map(|s| rows::grant_state_params(s).into_iter().take(8)).collect();
        self.write_rows(&TOTALS, &params)?;
        let params: Vec<P<'_>> = ended.iter().flat_map(|s| rows::grant_state_params(s)).collect();
        self.write_rows(&STATES, &params)
    }

    fn add_ledger_days(&mut self, days: &[LedgerDay]) -> Result<()> {
        static DAYS: Rows = Rows::new(
            "INSERT INTO ledger_days (customer_id, credit_type_id, booked_day, recorded_day, grant_id, kind, amount) \
             VALUES ",
            7,
            " ON CONFLICT (customer_id, credit_type_id, booked_day, recorded_day, grant_id, kind) \
             DO UPDATE SET amount = ledger_days.amount + excluded.amount",
        );
        let params: Vec<P<'_>> = days.iter().flat_map(rows::ledger_day_params).collect();
        self.write_rows(&DAYS, &params)
    }

    /// Adds each day's quarter hours to its row in SQL (`quarters_add`),
    /// without reading the row first; an empty blob (no reversals, the
    /// usual case) adds nothing and is not added.
    fn add_burn_days(&mut self, days: &[BurnDay]) -> Result<()> {
        static DAYS: Rows = Rows::new(
            "INSERT INTO burn_days (customer_id, credit_type_id, product_id, day, burned, reversed) VALUES ",
            6,
            " ON CONFLICT (customer_id, credit_type_id, product_id, day) DO UPDATE SET \
             burned = CASE WHEN length(excluded.burned) = 0 THEN burn_days.burned \
             ELSE quarters_add(burn_days.burned, excluded.burned) END, \
             reversed = CASE WHEN length(excluded.reversed) = 0 THEN burn_days.reversed \
             ELSE quarters_add(burn_days.reversed, excluded.reversed) END",
        );
        let blobs: Vec<(Vec<u8>, Vec<u8>)> = days.iter().map(|d| (d.burned.to_blob(), d.reversed.to_blob())).collect();
        let params: Vec<P<'_>> = days
            .iter()
            .zip(&blobs)
            .flat_map(|(d, (b, r))| {
                params![d.customer.as_str(), d.credit_type.as_str(), d.product.as_str(), d.day, &b[..], &r[..]]
            })
            .collect();
        self.write_rows(&DAYS, &params)
    }

    fn touch_wallets(&mut self, keys: &[WalletKey], now: i64, _last_seq: i64) -> Result<()> {
        static WALLETS: Rows = Rows::new(
            "INSERT INTO wallets (customer_id, credit_type_id, version, caught_up_at) VALUES ",
            4,
            " ON CONFLICT (customer_id, credit_type_id) DO UPDATE SET version = wallets.version + 1, \
             caught_up_at = CASE WHEN excluded.caught_up_at > wallets.caught_up_at THEN excluded.caught_up_at \
             ELSE wallets.caught_up_at END",
        );
        let params: Vec<P<'_>> = keys.iter().flat_map(|(c, ct)| params![c.as_str(), ct.as_str(), 1i64, now]).collect();
        self.write_rows(&WALLETS, &params)
    }

    /// The single writer needs no locks and its cache is always current.
    fn lock_wallets(&mut self, _keys: &[WalletKey]) -> Result<Option<HashMap<WalletKey, WalletRow>>> {
        Ok(None)
    }

    fn catalog_version(&mut self) -> Result<Option<i64>> {
        Ok(None)
    }

    fn bump_catalog_version(&mut self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{quarters_from_blob, quarters_to_blob};

    /// Every multi-row write runs as OR FAIL (no statement journal): a head
    /// that stopped starting with `INSERT INTO` or `UPDATE` would silently
    /// lose it.
    #[test]
    fn the_multi_row_writes_run_as_or_fail() {
        for (head, width) in [(rows::INSERT_EVENT_HEAD, 12), (rows::INSERT_ENTRY_HEAD, 15)] {
            let rows = Rows::new(head, width, "");
            assert!(rows.sql(0).starts_with("INSERT OR FAIL INTO "), "{}", &rows.sql(0)[..40]);
            assert!(
                rows.sql(0).ends_with(&format!("?{})", CHUNK * width)),
                "{}",
                &rows.sql(0)[rows.sql(0).len() - 40..]
            );
            assert!(rows.sql(3).ends_with(&format!("?{width})")));
        }
        let update = Rows::new("UPDATE t SET a = v.column2 FROM (VALUES ", 2, ") AS v WHERE t.id = v.column1");
        assert_eq!(
            update.sql(3),
            "UPDATE OR FAIL t SET a = v.column2 FROM (VALUES (?1, ?2)) AS v WHERE t.id = v.column1"
        );
    }

    /// Rows are written in statements of 64, 16, 4 and 1 rows, in order,
    /// whatever their count; a multi-row update and upsert see every row.
    /// The same through rusqlite and through the writer's statements.
    #[test]
    fn any_count_of_rows_is_written_in_order() {
        for in_place in [false, true] {
            let conn = Connection::open_in_memory().unwrap();
            let mut statements = StaticRows::new(&conn);
            let mut db = if in_place { LiteDb::writer(&conn, &mut statements) } else { LiteDb::new(&conn) };
            rows_in_order(&conn, &mut db);
        }
    }

    fn rows_in_order(conn: &Connection, db: &mut LiteDb<'_, '_>) {
        register_functions(conn).unwrap();
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT NOT NULL, n INTEGER NOT NULL)").unwrap();
        static INSERT: Rows = Rows::new("INSERT INTO t (id, k, n) VALUES ", 3, "");
        static UPSERT: Rows =
            Rows::new("INSERT INTO t (id, k, n) VALUES ", 3, " ON CONFLICT (id) DO UPDATE SET n = t.n + excluded.n");
        static UPDATE: Rows = Rows::new("UPDATE t SET k = v.column2 FROM (VALUES ", 2, ") AS v WHERE t.id = v.column1");
        let mut id = 0i64;
        for count in [0usize, 1, 3, 4, 5, 63, 64, 65, 150, 213] {
            let ids: Vec<i64> = (id..id + count as i64).collect();
            id += count as i64;
            let keys: Vec<String> = ids.iter().map(|i| format!("k{i}")).collect();
            let p: Vec<P<'_>> = ids.iter().zip(&keys).flat_map(|(i, k)| params![*i, k.as_str(), 1i64]).collect();
            db.write_rows(&INSERT, &p).unwrap();
            db.write_rows(&UPSERT, &p).unwrap();
            let p: Vec<P<'_>> = ids.iter().flat_map(|i| params![*i, "updated"]).collect();
            db.write_rows(&UPDATE, &p).unwrap();
            let rows: Vec<(i64, String, i64)> = conn
                .prepare("SELECT id, k, n FROM t WHERE id >= ?1 ORDER BY rowid")
                .unwrap()
                .query_map([id - count as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            let want: Vec<(i64, String, i64)> = ids.iter().map(|&i| (i, "updated".to_string(), 2)).collect();
            assert_eq!(rows, want, "{count} rows");
        }
    }

    /// `quarters_add` adds quarter by quarter, in either stored form, and
    /// refuses an overflow rather than wrapping.
    /// A group moves the customers whose oldest staged block is oldest,
    /// as many as it is asked for, each once.
    #[test]
    fn the_customers_staged_longest_move_first() {
        let staged = |customers: &[&str]| {
            let mut conn = Connection::open_in_memory().unwrap();
            register_functions(&conn).unwrap();
            crate::sqlite::migrate_for_tests(&mut conn);
            for customer in customers {
                conn.execute(
                    "INSERT INTO burn_blocks_recent \
                     (customer_id, credit_type_id, booked_day, booked_max, recorded_at, n, burns) \
                     VALUES (?1, 'api', 1, 1, 1, 1, x'01')",
                    [customer],
                )
                .unwrap();
            }
            conn
        };
        let conn = staged(&["c", "a", "c", "b", "a", "d"]);
        let db = LiteDb::new(&conn);
        assert_eq!(db.staged_to_move(1).unwrap(), r#"["c"]"#);
        assert_eq!(db.staged_to_move(3).unwrap(), r#"["c","a","b"]"#);
        assert_eq!(db.staged_to_move(9).unwrap(), r#"["c","a","b","d"]"#);
        assert_eq!(LiteDb::new(&staged(&[])).staged_to_move(1).unwrap(), "[]");
    }

    #[test]
    fn quarters_add_sums_two_burn_days() {
        let conn = Connection::open_in_memory().unwrap();
        register_functions(&conn).unwrap();
        let (mut a, mut b) = ([0i64; 96], [0i64; 96]);
        a[0] = 5;
        a[95] = -2;
        b[0] = 7;
        b[40] = 3;
        let sum: Vec<u8> = conn
            .query_row("SELECT quarters_add(?1, ?2)", (quarters_to_blob(&a), quarters_to_blob(&b)), |r| r.get(0))
            .unwrap();
        let mut want = [0i64; 96];
        want[0] = 12;
        want[40] = 3;
        want[95] = -2;
        assert_eq!(quarters_from_blob(&sum).unwrap(), want);
        let empty: Vec<u8> = conn
            .query_row("SELECT quarters_add(?1, ?2)", (Vec::<u8>::new(), quarters_to_blob(&b)), |r| r.get(0))
            .unwrap();
        assert_eq!(quarters_from_blob(&empty).unwrap(), b);
        // A dense blob (as earlier builds wrote) adds the same, and a
        // quarter that sums to zero is left out.
        let dense: Vec<u8> = a.iter().flat_map(|q| q.to_le_bytes()).collect();
        let mut minus = [0i64; 96];
        minus[95] = 2;
        let sum: Vec<u8> =
            conn.query_row("SELECT quarters_add(?1, ?2)", (dense, quarters_to_blob(&minus)), |r| r.get(0)).unwrap();
        let mut want = [0i64; 96];
        want[0] = 5;
        assert_eq!(sum, quarters_to_blob(&want));
        let mut max = [0i64; 96];
        max[1] = i64::MAX;
        let mut one = [0i64; 96];
        one[1] = 1;
        let overflow =
            conn.query_row("SELECT quarters_add(?1, ?2)", (quarters_to_blob(&max), quarters_to_blob(&one)), |r| {
                r.get::<_, Vec<u8>>(0)
            });
        assert!(overflow.is_err());
    }

    /// `utc_day` floors: a time before the epoch is on the day before.
    #[test]
    fn utc_day_is_the_floored_day() {
        let conn = Connection::open_in_memory().unwrap();
        register_functions(&conn).unwrap();
        for (t, day) in [(0i64, 0i64), (-1, -1), (86_399_999_999, 0), (86_400_000_000, 1), (-86_400_000_000, -1)] {
            assert_eq!(conn.query_row("SELECT utc_day(?1)", [t], |r| r.get::<_, i64>(0)).unwrap(), day, "{t}");
        }
    }

    /// A customer's burns of a booked day are read through the blocks of
    /// that day: a range of `burn_blocks_booked`, not a scan of blocks.
    #[test]
    fn burns_are_read_through_the_blocks_of_their_booked_day() {
        let mut conn = Connection::open_in_memory().unwrap();
        register_functions(&conn).unwrap();
        crate::sqlite::migrate_for_tests(&mut conn);
        for sql in [crate::shared::read::BOOKED_ON_AT_DAY.lite, crate::shared::rows::ENTRIES_OF_EVENT.lite] {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let n = stmt.parameter_count();
            let args: Vec<i64> = (0..n as i64).collect();
            let plan: Vec<String> = stmt
                .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(3))
                .unwrap()
                .map(|r| r.unwrap())
                .collect();
            assert!(
                plan.iter().any(|p| p.contains(
                    "burn_blocks USING INDEX burn_blocks_booked (customer_id=? AND credit_type_id=? AND booked_day"
                )),
                "{plan:?}"
            );
        }
    }

    /// A group's burns are written as one block per customer, credit type,
    /// booked day and recorded time, and read back by `ledger_entries`
    /// exactly as they were.
    #[test]
    fn burns_are_written_in_blocks_and_read_back_whole() {
        use chrono::DateTime;
        use creditdesk_ledger::ids::{ActorId, CreditTypeId, CustomerId, EventId, GrantId, ProductId};
        let mut conn = Connection::open_in_memory().unwrap();
        register_functions(&conn).unwrap();
        crate::sqlite::migrate_for_tests(&mut conn);
        let day = 86_400_000_000i64;
        let entry = |seq: u64, customer: &str, credit_type: &str, booked: i64, kind: EntryKind| Entry {
            seq,
            customer: CustomerId::new(customer).unwrap(),
            credit_type: CreditTypeId::new(credit_type).unwrap(),
            grant: Some(GrantId::new("g1").unwrap()),
            kind,
            amount: crate::codec::credits(-(seq as i64)).unwrap(),
            booked_at: crate::codec::time(booked).unwrap(),
            recorded_at: DateTime::from_timestamp_micros(5 * day).unwrap(),
            event: Some(EventId::new(format!("e{seq}")).unwrap()),
            product: Some(ProductId::new("chat").unwrap()),
            related: None,
            actor: ActorId::new("ingest").unwrap(),
            reason_code: None,
            ticket_ref: None,
            note: None,
        };
        let entries = vec![
            entry(1, "acme", "api", 4 * day + 1, EntryKind::Burn),
            entry(2, "zeta", "api", 4 * day + 2, EntryKind::Burn),
            entry(3, "acme", "api", 3 * day + 3, EntryKind::Burn),
            entry(4, "acme", "api", 4 * day + 4, EntryKind::Burn),
            entry(5, "acme", "seats", 4 * day + 5, EntryKind::Burn),
            entry(6, "acme", "api", 4 * day + 6, EntryKind::Overage),
        ];
        let mut db = LiteDb::new(&conn);
        db.begin().unwrap();
        db.insert_entries(&entries).unwrap();
        db.commit().unwrap();
        let blocks: Vec<(String, String, i64, i64)> = conn
            .prepare(
                "SELECT customer_id, credit_type_id, booked_day, n FROM burn_blocks UNION ALL \
                 SELECT customer_id, credit_type_id, booked_day, n FROM burn_blocks_recent ORDER BY 1, 2, 3",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(
            blocks,
            vec![
                ("acme".into(), "api".into(), 3, 1),
                ("acme".into(), "api".into(), 4, 2),
                ("acme".into(), "seats".into(), 4, 1),
                ("zeta".into(), "api".into(), 4, 1),
            ]
        );
        let back: Vec<Entry> = conn
            .prepare(concat!("SELECT ", entry_columns!(), " FROM ledger_entries ORDER BY seq"))
            .unwrap()
            .query_map([], |r| Ok(rows::entry_from_row(&LiteRow(r)).unwrap()))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(back, entries);
    }
}
