//! The writer's multi-row statements, with their values bound in place.
//!
//! rusqlite binds every text and blob `SQLITE_TRANSIENT`: SQLite copies the
//! bytes into the statement, freeing the copy it held from the last
//! execution, and the statement cache clears the bindings again (freeing
//! once more) whenever a statement goes back to it. A group's events are
//! written 64 rows and 768 values a statement, so at 100,000 events/s the
//! binding was 8 % of the writer thread (`perf`, 2026-12-05), most of it
//! those copies and frees. Bound `SQLITE_STATIC`, SQLite reads the values
//! where they lie. That is sound because [`StaticRows::execute`] borrows
//! them for the whole step and clears the bindings before it returns, so
//! the statement never holds a pointer past the call.
//!
//! Only the writer thread uses this, for [`crate::db::lite`]'s `write_rows`;
//! everything else goes through rusqlite.

use std::collections::HashMap;
use std::ffi::{c_int, CStr};
use std::ptr;

use rusqlite::{ffi, Connection};

use crate::db::P;
use crate::error::Result;

/// Prepared statements keyed by their SQL's address: the multi-row SQL
/// lives in `static` `Rows`, so each text has one fixed address.
pub(crate) struct StaticRows<'c> {
    conn: &'c Connection,
    statements: HashMap<(usize, usize), Statement>,
}

/// A statement owned here, finalized on drop (before the connection goes:
/// [`StaticRows`] borrows it).
struct Statement(*mut ffi::sqlite3_stmt);

impl Drop for Statement {
    fn drop(&mut self) {
        // SAFETY: the statement came from `sqlite3_prepare_v3` and is
        // finalized once, here.
        unsafe {
            ffi::sqlite3_finalize(self.0);
        }
    }
}

impl<'c> StaticRows<'c> {
    pub(crate) fn new(conn: &'c Connection) -> StaticRows<'c> {
        StaticRows { conn, statements: HashMap::new() }
    }

    /// Runs `sql` (a statement that returns no rows) with `params`; the
    /// number of rows it changed.
    pub(crate) fn execute(&mut self, sql: &'static str, params: &[P<'_>]) -> Result<usize> {
        // SAFETY: the connection outlives `self`, and this thread is its
        // only user while the call runs (the writer owns it).
        let db = unsafe { self.conn.handle() };
        let key = (sql.as_ptr() as usize, sql.len());
        let stmt = match self.statements.get(&key) {
            Some(s) => s.0,
            None => {
                let s = prepare(db, sql)?;
                self.statements.insert(key, Statement(s));
                s
            }
        };
        // SAFETY: `stmt` is a live statement of `db`; each value bound is
        // borrowed from `params` for the rest of this call, and the
        // bindings are cleared before it returns.
        unsafe {
            let mut rc = ffi::SQLITE_OK;
            for (i, p) in params.iter().enumerate() {
                rc = bind(stmt, i as c_int + 1, p);
                if rc != ffi::SQLITE_OK {
                    break;
                }
            }
            if rc == ffi::SQLITE_OK {
                rc = match ffi::sqlite3_step(stmt) {
                    ffi::SQLITE_DONE => ffi::SQLITE_OK,
                    ffi::SQLITE_ROW => ffi::SQLITE_MISUSE,
                    other => other,
                };
            }
            let failure = (rc != ffi::SQLITE_OK).then(|| error(db, rc));
            ffi::sqlite3_reset(stmt);
            ffi::sqlite3_clear_bindings(stmt);
            match failure {
                Some(e) => Err(e.into()),
                None => Ok(ffi::sqlite3_changes64(db) as usize),
            }
        }
    }
}

fn prepare(db: *mut ffi::sqlite3, sql: &str) -> Result<*mut ffi::sqlite3_stmt> {
    let mut stmt = ptr::null_mut();
    // SAFETY: `sql` is valid for its length; SQLite writes the statement
    // handle (or null) into `stmt`.
    let rc = unsafe {
        ffi::sqlite3_prepare_v3(
            db,
            sql.as_ptr().cast(),
            sql.len() as c_int,
            ffi::SQLITE_PREPARE_PERSISTENT,
            &mut stmt,
            ptr::null_mut(),
        )
    };
    if rc != ffi::SQLITE_OK || stmt.is_null() {
        // SAFETY: finalizing null is a no-op; a failed prepare may leave one.
        unsafe { ffi::sqlite3_finalize(stmt) };
        return Err(error(db, if rc == ffi::SQLITE_OK { ffi::SQLITE_MISUSE } else { rc }).into());
    }
    Ok(stmt)
}

/// Binds one value in place (`SQLITE_STATIC`).
///
/// # Safety
/// `stmt` is live, and the value's bytes stay valid until the bindings are
/// cleared or rebound.
unsafe fn bind(stmt: *mut ffi::sqlite3_stmt, i: c_int, p: &P<'_>) -> c_int {
    unsafe {
        match *p {
            P::Null => ffi::sqlite3_bind_null(stmt, i),
            P::I64(v) => ffi::sqlite3_bind_int64(stmt, i, v),
            P::Bool(b) => ffi::sqlite3_bind_int64(stmt, i, i64::from(b)),
            // An empty text or blob still needs a non-null pointer (null
            // binds NULL): a static empty string's.
            P::Text(s) => {
                let bytes = if s.is_empty() { "".as_ptr() } else { s.as_ptr() };
                ffi::sqlite3_bind_text64(
                    stmt,
                    i,
                    bytes.cast(),
                    s.len() as u64,
                    ffi::SQLITE_STATIC(),
                    ffi::SQLITE_UTF8 as u8,
                )
            }
            P::Blob(b) => {
                let bytes = if b.is_empty() { "".as_ptr() } else { b.as_ptr() };
                ffi::sqlite3_bind_blob64(stmt, i, bytes.cast(), b.len() as u64, ffi::SQLITE_STATIC())
            }
        }
    }
}

/// The connection's error for `rc`, as rusqlite reports it.
fn error(db: *mut ffi::sqlite3, rc: c_int) -> rusqlite::Error {
    // SAFETY: `db` is live; `sqlite3_errmsg` returns a NUL-terminated text
    // that is copied before any other call on the connection.
    let message = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(db)) }.to_string_lossy().into_owned();
    rusqlite::Error::SqliteFailure(ffi::Error::new(rc), Some(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREATE: &str = "CREATE TABLE t (a INTEGER, b TEXT, c BLOB, d INTEGER NOT NULL)";
    const INSERT: &str = "INSERT INTO t (a, b, c, d) VALUES (?1, ?2, ?3, ?4), (?5, ?6, ?7, ?8)";
    type Row = (Option<i64>, Option<String>, Option<Vec<u8>>, i64);

    /// Values written in place read back as written, empty ones as empty
    /// (not NULL), and the bindings do not outlive the call: a second
    /// execution with other (shorter-lived) values writes those.
    #[test]
    fn rows_bound_in_place_read_back_as_written() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute(CREATE, []).unwrap();
        let mut rows = StaticRows::new(&conn);
        {
            let (text, blob) = (String::from("héllo"), vec![1u8, 2, 3]);
            let params = [
                P::I64(7),
                P::Text(&text),
                P::Blob(&blob),
                P::Bool(true),
                P::Null,
                P::Text(""),
                P::Blob(&[]),
                P::I64(-1),
            ];
            assert_eq!(rows.execute(INSERT, &params).unwrap(), 2);
        }
        let again = String::from("again");
        let params = [P::I64(8), P::Text(&again), P::Null, P::I64(0), P::I64(9), P::Text(&again), P::Null, P::I64(0)];
        assert_eq!(rows.execute(INSERT, &params).unwrap(), 2);
        let read: Vec<Row> = conn
            .prepare("SELECT a, b, c, d FROM t ORDER BY rowid")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            read,
            vec![
                (Some(7), Some("héllo".into()), Some(vec![1, 2, 3]), 1),
                (None, Some(String::new()), Some(Vec::new()), -1),
                (Some(8), Some("again".into()), None, 0),
                (Some(9), Some("again".into()), None, 0),
            ]
        );
    }

    /// A failing statement reports SQLite's error and leaves the statement
    /// usable.
    #[test]
    fn a_failing_row_is_an_error_and_the_statement_runs_again() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute(CREATE, []).unwrap();
        let mut rows = StaticRows::new(&conn);
        let bad = [P::I64(1), P::Null, P::Null, P::I64(1), P::I64(2), P::Null, P::Null, P::Null];
        let err = rows.execute(INSERT, &bad).unwrap_err().to_string();
        assert!(err.contains("NOT NULL constraint failed: t.d"), "{err}");
        let good = [P::I64(1), P::Null, P::Null, P::I64(1), P::I64(2), P::Null, P::Null, P::I64(2)];
        assert_eq!(rows.execute(INSERT, &good).unwrap(), 2);
        let bad_sql = rows.execute("INSERT INTO nowhere VALUES (1)", &[]).unwrap_err().to_string();
        assert!(bad_sql.contains("no such table"), "{bad_sql}");
    }
}
