//! [`Db`] on a SQLite connection: statements from rusqlite's per-connection
//! cache. The bulk operations of the ingest path (look up a batch's events,
//! insert its events and entries) run one statement per [`CHUNK`] rows:
//! calls are in-process, but each statement run still costs a VM start,
//! a cache look-up and a bind per row, on the one writer thread. The other
//! bulk operations touch a few rows per group and stay one per row.

use std::collections::HashMap;
use std::sync::OnceLock;

use creditdesk_ledger::entry::{Entry, EntryKind};
use creditdesk_ledger::ids::EventId;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::Connection;

use super::{bad_column, BurnDay, Db, Dialect, Each, LedgerDay, Row, Sql, WalletKey, WalletRow, P};
use crate::codec::{day_of, ts};
use crate::error::Result;
use crate::model::StoredEvent;
use crate::shared::rows;
use crate::shared::rows::entry_columns;

/// Rows per multi-row statement (15 x 64 parameters, far below SQLite's
/// limit of 32,766).
const CHUNK: usize = 64;

/// Registers what the store's SQL needs on a connection: `utc_day(t)`, the
/// UTC day (floored) of a time in microseconds, and `burn_block(burns)`,
/// which reads a burn block as entry rows (`sqlite::burn_block`).
pub(crate) fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    conn.create_scalar_function(
        "utc_day",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC | FunctionFlags::SQLITE_INNOCUOUS,
        |ctx| Ok(day_of(ctx.get::<i64>(0)?)),
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
    let mut burn: HashMap<(String, String, String, i64), Box<[i64; 96]>> = HashMap::new();
    db.run(STAGED_BURN_SUMS, &[], &mut |r| {
        let (customer, credit_type, grant, product) = (r.text(0)?, r.text(1)?, r.text(2)?, r.text(3)?);
        let quarter = r.i64(4)?;
        let (booked_day, slot) = (quarter.div_euclid(96), quarter.rem_euclid(96) as usize);
        let key = (customer.clone(), credit_type.clone(), booked_day, r.i64(5)?, grant);
        *ledger.entry(key).or_default() += r.i64(6)?;
        burn.entry((customer, credit_type, product, booked_day)).or_insert_with(|| Box::new([0; 96]))[slot] +=
            r.i64(7)?;
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
            reversed: Box::new([0; 96]),
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

const INSERT_BLOCK: &str = "INSERT INTO burn_blocks (customer_id, credit_type_id, booked_day, booked_max, \
     recorded_at, n, burns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

/// `head` (an `INSERT INTO ...`, run as `INSERT OR FAIL INTO ...`) and
/// then [`CHUNK`] rows of `width` placeholders each: `(?1, ?2), (?3, ?4), ...`.
///
/// Why OR FAIL: a multi-row statement that may ABORT on a constraint makes
/// SQLite copy every page it touches into a statement journal first, so
/// that it can undo its own earlier rows; on the ingest path that copy was
/// a fifth of the writer's time (`perf`, 2026-12-03). FAIL stops at the
/// failing row without undoing the statement's earlier rows, which is
/// safe here: any error fails the whole group, and the writer rolls the
/// transaction back (`Writer::run_group`).
fn chunk_sql(head: &str, width: usize) -> String {
    values_sql(head, width, CHUNK)
}

/// `head` as `INSERT OR FAIL` with `rows` rows of `width` placeholders.
fn values_sql(head: &str, width: usize, rows: usize) -> String {
    let head = head.replacen("INSERT INTO", "INSERT OR FAIL INTO", 1);
    let rows: Vec<String> = (0..rows)
        .map(|r| {
            let cells: Vec<String> = (1..=width).map(|c| format!("?{}", r * width + c)).collect();
            format!("({})", cells.join(", "))
        })
        .collect();
    format!("{head}{}", rows.join(", "))
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
/// connection (and its statement cache) for its whole life.
pub(crate) struct LiteDb<'c> {
    conn: &'c Connection,
}

impl<'c> LiteDb<'c> {
    pub(crate) fn new(conn: &'c Connection) -> LiteDb<'c> {
        LiteDb { conn }
    }

    /// Runs `sql`, a statement of [`CHUNK`] rows of `width` values, once
    /// per whole chunk of `params`; returns the number of rows written (the
    /// rest, fewer than a chunk, are for the caller's one-row statement).
    fn chunks(&self, sql: &str, params: &[P<'_>], width: usize) -> Result<usize> {
        let mut written = 0;
        if params.len() >= width * CHUNK {
            let mut stmt = self.conn.prepare_cached(sql)?;
            for c in params.chunks_exact(width * CHUNK) {
                stmt.execute(rusqlite::params_from_iter(c.iter()))?;
                written += CHUNK;
            }
        }
        Ok(written)
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

impl Db for LiteDb<'_> {
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
        static SQL: OnceLock<String> = OnceLock::new();
        let sql = SQL.get_or_init(|| chunk_sql(rows::INSERT_EVENT_HEAD, 12));
        let texts = events.iter().map(rows::EventText::of).collect::<Result<Vec<_>>>()?;
        let params: Vec<P<'_>> = events.iter().zip(&texts).flat_map(|(e, t)| rows::event_params(e, t)).collect();
        let done = self.chunks(sql, &params, 12)?;
        for e in &events[done..] {
            rows::insert_event(self, e)?;
        }
        Ok(())
    }

    /// Burns go to `burn_blocks`, a block per customer, credit type,
    /// booked day and recorded time (in entry-number order within it);
    /// everything else to `entries`, a row each.
    fn insert_entries(&mut self, entries: &[Entry]) -> Result<()> {
        static SQL: OnceLock<String> = OnceLock::new();
        let sql = SQL.get_or_init(|| chunk_sql(rows::INSERT_ENTRY_HEAD, 15));
        let (burns, rest): (Vec<&Entry>, Vec<&Entry>) = entries.iter().partition(|e| e.kind == EntryKind::Burn);

        let params: Vec<P<'_>> = rest.iter().flat_map(|e| rows::entry_params(e)).collect();
        let done = self.chunks(sql, &params, 15)?;
        for e in &rest[done..] {
            rows::insert_entry(self, e)?;
        }

        fn block_of(e: &Entry) -> (&str, &str, i64, i64) {
            (e.customer.as_str(), e.credit_type.as_str(), day_of(ts(e.booked_at)), ts(e.recorded_at))
        }
        // Each burn's block worked out once (not at every comparison); the
        // sort is stable, so each block keeps its burns in booked order.
        let mut keyed: Vec<_> = burns.into_iter().map(|e| (block_of(e), e)).collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        let mut stmt = self.conn.prepare_cached(INSERT_BLOCK)?;
        for chunk in keyed.chunk_by(|a, b| a.0 == b.0) {
            let (customer, credit_type, day, recorded) = chunk[0].0;
            let block: Vec<&Entry> = chunk.iter().map(|(_, e)| *e).collect();
            let booked_max = block.iter().map(|e| ts(e.booked_at)).max().unwrap_or_default();
            stmt.execute(rusqlite::params![
                customer,
                credit_type,
                day,
                booked_max,
                recorded,
                block.len() as i64,
                crate::sqlite::burn_block::encode(&block)
            ])?;
        }
        Ok(())
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

    /// Both bulk inserts run as OR FAIL (no statement journal): a head
    /// that stopped starting with `INSERT INTO` would silently lose it.
    #[test]
    fn the_bulk_inserts_run_as_insert_or_fail() {
        for (head, width) in [(rows::INSERT_EVENT_HEAD, 12), (rows::INSERT_ENTRY_HEAD, 15)] {
            let sql = chunk_sql(head, width);
            assert!(sql.starts_with("INSERT OR FAIL INTO "), "{}", &sql[..40]);
            assert!(sql.ends_with(&format!("?{})", CHUNK * width)), "{}", &sql[sql.len() - 40..]);
        }
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
            .prepare("SELECT customer_id, credit_type_id, booked_day, n FROM burn_blocks ORDER BY 1, 2, 3")
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
