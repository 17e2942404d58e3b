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
use crate::error::Result;
use crate::model::StoredEvent;
use crate::shared::rows;
use crate::shared::rows::entry_columns;

/// Rows per multi-row statement (15 x 64 parameters, far below SQLite's
/// limit of 32,766).
const CHUNK: usize = 64;

/// How many slices of customers recent burns are kept in (see
/// `migrations/sqlite/0004_recent_burns.sql`): one slice moves into
/// `entries` per write group, so a burn waits at most this many groups,
/// and a slice holds about one group's worth of burns. More slices move
/// more burns per customer at once but give each group more slice tails
/// to write: 16 ingested 56-59k events/s where 64 did 50-54k and 8 fewer
/// still (quick bench, runs interleaved, 2026-12-03).
pub(crate) const SLICES: u64 = 16;

/// A customer's slice: FNV-1a of the id's bytes, modulo [`SLICES`]. Stored
/// in every recent row: it must not change while a store is open (the
/// store moves every recent burn when it opens).
pub(crate) fn slice_of(customer: &str) -> i64 {
    let mut h: u32 = 0x811c_9dc5;
    for b in customer.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    i64::from(h) % SLICES as i64
}

/// Registers `entry_slice(customer_id)` ([`slice_of`]) on a connection:
/// the queries that read recent burns name the customer's slice with it.
pub(crate) fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    conn.create_scalar_function(
        "entry_slice",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC | FunctionFlags::SQLITE_INNOCUOUS,
        |ctx| Ok(slice_of(ctx.get_raw(0).as_str().map_err(|e| rusqlite::Error::UserFunctionError(e.into()))?)),
    )
}

/// `INSERT INTO entries_recent` up to its `VALUES`: the slice, then an entry's columns.
const INSERT_RECENT_HEAD: &str = concat!("INSERT INTO entries_recent (slice, ", entry_columns!(), ") VALUES ");

/// Moves recent burns into `entries` (all of them; a slice with `WHERE`).
/// OR FAIL for the reason [`chunk_sql`] gives.
macro_rules! move_recent {
    () => {
        concat!(
            "INSERT OR FAIL INTO entries (",
            entry_columns!(),
            ") SELECT ",
            entry_columns!(),
            " FROM entries_recent"
        )
    };
}

/// One slice, in key order: sorting them by customer first cost more than
/// it saved the index inserts.
const MOVE_SLICE: &str = concat!(move_recent!(), " WHERE slice = ?1");
const DROP_MOVED: &str = "DELETE FROM entries_recent WHERE slice = ?1";

/// The recent burns that `$cond` picks (one slice, or all) summed by
/// customer, credit type, grant, product, booked quarter hour (counted
/// from the epoch) and recorded day: what [`roll_up_recent`] adds to the
/// day rollups. Floored divisions (SQLite's `/` truncates towards zero).
macro_rules! recent_burn_sums {
    ($cond:literal) => {
        concat!(
            "SELECT customer_id, credit_type_id, COALESCE(grant_id, ''), COALESCE(product_id, ''), ",
            "booked_at / 900000000 - (booked_at % 900000000 < 0), ",
            "recorded_at / 86400000000 - (recorded_at % 86400000000 < 0), SUM(amount), SUM(ABS(amount)) ",
            "FROM entries_recent WHERE ",
            $cond,
            " GROUP BY 1, 2, 3, 4, 5, 6"
        )
    };
}

/// Adds the day rollups of the recent burns in `slice` (all of them with
/// `None`) as they move: until then reads add them from `entries_recent`
/// (`shared::read`). The same sums the writer adds for entries written
/// straight to `entries` (`Writer::persist`), from one grouped scan of
/// the slice.
fn roll_up_recent(db: &mut LiteDb<'_>, slice: Option<i64>) -> Result<()> {
    let sums = match slice {
        Some(_) => recent_burn_sums!("slice = ?1"),
        None => recent_burn_sums!("true"),
    };
    let params: Vec<P<'_>> = slice.into_iter().map(P::I64).collect();
    let mut ledger: HashMap<(String, String, i64, i64, String), i64> = HashMap::new();
    let mut burn: HashMap<(String, String, String, i64), Box<[i64; 96]>> = HashMap::new();
    db.run(sums, &params, &mut |r| {
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
    db.add_burn_days(&burn)
}

/// Moves every recent burn into `entries`, with its day rollups, when the
/// store opens: then no burn outlives the build that filed it, and
/// [`SLICES`] or [`slice_of`] may change from one version to the next.
pub(crate) fn move_all_recent_entries(conn: &Connection) -> Result<()> {
    let tx = rusqlite::Transaction::new_unchecked(conn, rusqlite::TransactionBehavior::Immediate)?;
    roll_up_recent(&mut LiteDb::new(&tx), None)?;
    tx.execute(move_recent!(), [])?;
    tx.execute("DELETE FROM entries_recent", [])?;
    Ok(tx.commit()?)
}

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

    fn find_events(&mut self, ids: &[&EventId]) -> Result<HashMap<EventId, StoredEvent>> {
        static SQL: OnceLock<String> = OnceLock::new();
        let sql = SQL.get_or_init(|| {
            let list: Vec<String> = (1..=CHUNK).map(|i| format!("?{i}")).collect();
            format!("SELECT id, {} FROM events WHERE id IN ({})", rows::EVENT_COLUMNS, list.join(", "))
        });
        let mut out = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(CHUNK) {
            // A short chunk repeats its last id: one statement for all.
            let last = chunk.len() - 1;
            let params: Vec<P<'_>> = (0..CHUNK).map(|i| P::Text(chunk[i.min(last)].as_str())).collect();
            self.run(sql, &params, &mut |r| {
                let id = rows::parse(r.text(0)?, EventId::new)?;
                let stored = rows::event_from_row(r, 1, id.clone())?;
                out.insert(id, stored);
                Ok(())
            })?;
        }
        Ok(out)
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

    /// Burns go to `entries_recent` (each under its customer's slice),
    /// everything else straight to `entries`.
    fn insert_entries(&mut self, entries: &[Entry]) -> Result<()> {
        static SQL: OnceLock<String> = OnceLock::new();
        static RECENT_SQL: OnceLock<String> = OnceLock::new();
        let sql = SQL.get_or_init(|| chunk_sql(rows::INSERT_ENTRY_HEAD, 15));
        let recent_sql = RECENT_SQL.get_or_init(|| chunk_sql(INSERT_RECENT_HEAD, 16));
        let (burns, rest): (Vec<&Entry>, Vec<&Entry>) = entries.iter().partition(|e| e.kind == EntryKind::Burn);

        let params: Vec<P<'_>> = rest.iter().flat_map(|e| rows::entry_params(e)).collect();
        let done = self.chunks(sql, &params, 15)?;
        for e in &rest[done..] {
            rows::insert_entry(self, e)?;
        }

        let params: Vec<P<'_>> = burns
            .iter()
            .flat_map(|e| std::iter::once(P::I64(slice_of(e.customer.as_str()))).chain(rows::entry_params(e)))
            .collect();
        let done = self.chunks(recent_sql, &params, 16)?;
        if done < burns.len() {
            static ONE_SQL: OnceLock<String> = OnceLock::new();
            let one = ONE_SQL.get_or_init(|| values_sql(INSERT_RECENT_HEAD, 16, 1));
            let mut stmt = self.conn.prepare_cached(one)?;
            for row in params[done * 16..].chunks_exact(16) {
                stmt.execute(rusqlite::params_from_iter(row.iter()))?;
            }
        }
        Ok(())
    }

    fn stages_burns(&self) -> bool {
        true
    }

    fn move_recent_entries(&mut self, round: u64) -> Result<()> {
        let slice = (round % SLICES) as i64;
        roll_up_recent(self, Some(slice))?;
        self.conn.prepare_cached(MOVE_SLICE)?.execute([slice])?;
        self.conn.prepare_cached(DROP_MOVED)?.execute([slice])?;
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

    /// Slices are stored with every recent burn: the hash must not change
    /// (the values: FNV-1a 32-bit, computed apart from this code).
    #[test]
    fn a_customers_slice_is_fixed_and_the_same_in_sql() {
        let conn = Connection::open_in_memory().unwrap();
        register_functions(&conn).unwrap();
        for (customer, slice) in [("acme", 15), ("cus_0000", 7), ("cus_0199", 2), ("", 5)] {
            assert_eq!(slice_of(customer), slice, "{customer}");
            let in_sql: i64 = conn.query_row("SELECT entry_slice(?1)", [customer], |r| r.get(0)).unwrap();
            assert_eq!(in_sql, slice, "{customer}");
        }
    }

    /// A customer's recent burns are read from one slice: a range of the
    /// key, not a scan of every recent burn.
    #[test]
    fn recent_burns_are_read_by_the_customers_slice() {
        let mut conn = Connection::open_in_memory().unwrap();
        register_functions(&conn).unwrap();
        crate::sqlite::migrate_for_tests(&mut conn);
        let sql = format!("EXPLAIN QUERY PLAN {}", crate::shared::read::BOOKED_AFTER.lite);
        let mut stmt = conn.prepare(&sql).unwrap();
        let plan: Vec<String> =
            stmt.query_map(["acme", "api", "0"], |r| r.get::<_, String>(3)).unwrap().map(|r| r.unwrap()).collect();
        assert!(plan.iter().any(|p| p.contains("entries_recent USING PRIMARY KEY (slice=?")), "{plan:?}");
    }

    /// A slice's burns are summed into the day rollups as `Writer::persist`
    /// sums entries written straight to `entries`: by UTC day and quarter
    /// hour, floored (a time before the epoch falls on the day before), the
    /// burn-day rows by the amounts' absolute values.
    #[test]
    fn moving_a_slice_adds_its_burns_to_the_day_rollups_by_floored_day_and_quarter() {
        use crate::codec::{day_of, quarter_of, quarters_from_blob};
        let mut conn = Connection::open_in_memory().unwrap();
        register_functions(&conn).unwrap();
        crate::sqlite::migrate_for_tests(&mut conn);
        let day = 86_400_000_000i64;
        // (slice, seq, booked, recorded, grant, product, amount)
        let burns = [
            (3, 1, -1, 5, "g1", Some("chat"), -2),
            (3, 2, 0, 5, "g1", Some("chat"), -3),
            (3, 3, day + 5 * 900_000_000 + 1, day + 7, "g2", None, -4),
            (3, 4, day + 5 * 900_000_000 + 2, day + 8, "g2", None, -1),
            (4, 5, 0, 5, "g1", Some("chat"), -100),
        ];
        for (slice, seq, booked, recorded, grant, product, amount) in burns {
            conn.execute(
                "INSERT INTO entries_recent (slice, seq, customer_id, credit_type_id, grant_id, kind, amount, \
                 booked_at, recorded_at, product_id, actor) VALUES (?1, ?2, 'acme', 'api', ?3, 'burn', ?4, ?5, ?6, ?7, 'i')",
                rusqlite::params![slice, seq, grant, amount, booked, recorded, product],
            )
            .unwrap();
        }
        let mut db = LiteDb::new(&conn);
        db.begin().unwrap();
        db.move_recent_entries(3).unwrap();
        db.commit().unwrap();

        let ledger: Vec<(i64, i64, String, i64)> = conn
            .prepare("SELECT booked_day, recorded_day, grant_id, amount FROM ledger_days ORDER BY 1, 2, 3")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(day_of(-1), -1);
        assert_eq!(
            ledger,
            vec![(-1, 0, "g1".into(), -2), (0, 0, "g1".into(), -3), (1, 1, "g2".into(), -5)],
            "slice 4 stays staged"
        );
        let burn_days: Vec<(String, i64, [i64; 96])> = conn
            .prepare("SELECT product_id, day, burned FROM burn_days ORDER BY 1, 2")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, quarters_from_blob(&r.get::<_, Vec<u8>>(2)?).unwrap())))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        let one = |quarter: usize, amount: i64| {
            let mut q = [0; 96];
            q[quarter] = amount;
            q
        };
        assert_eq!(
            burn_days,
            vec![
                (String::new(), 1, one(quarter_of(day + 5 * 900_000_000 + 1), 5)),
                ("chat".into(), -1, one(quarter_of(-1), 2)),
                ("chat".into(), 0, one(0, 3)),
            ]
        );
        let moved: i64 = conn.query_row("SELECT COUNT(*) FROM entries", [], |r| r.get(0)).unwrap();
        let staged: i64 = conn.query_row("SELECT COUNT(*) FROM entries_recent", [], |r| r.get(0)).unwrap();
        assert_eq!((moved, staged), (4, 1));
    }
}
