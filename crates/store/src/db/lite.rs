//! [`Db`] on a SQLite connection: statements from rusqlite's per-connection
//! cache, one statement per row for the bulk operations (in-process calls).

use std::collections::HashMap;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::Connection;

use super::{bad_column, Db, Dialect, Each, Row, Sql, WalletKey, WalletRow, P};
use crate::error::Result;

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

    fn blob(&self, i: usize) -> Result<Vec<u8>> {
        Ok(self.0.get(i)?)
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

    fn next_seq_block(&mut self) -> Result<u64> {
        let block: i64 = self.conn.query_row(
            "UPDATE seq_blocks SET next_block = next_block + 1 WHERE id = 1 RETURNING next_block - 1",
            [],
            |r| r.get(0),
        )?;
        Ok(block as u64)
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
