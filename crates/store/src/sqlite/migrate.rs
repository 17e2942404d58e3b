//! Versioned migrations, applied at start. The version lives in SQLite's
//! `user_version`; each migration runs in its own transaction.

use rusqlite::Connection;

use crate::error::{Result, StoreError};

const MIGRATIONS: &[(u32, &str)] = &[
    (1, include_str!("../../migrations/sqlite/0001_ledger.sql")),
    (2, include_str!("../../migrations/sqlite/0002_one_expiry.sql")),
    (3, include_str!("../../migrations/sqlite/0003_workflows.sql")),
];

/// The newest schema version this build knows.
pub fn latest() -> u32 {
    MIGRATIONS.last().map_or(0, |(v, _)| *v)
}

/// Applies what is missing; returns the versions applied.
pub fn migrate(conn: &mut Connection) -> Result<Vec<u32>> {
    let current: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > latest() {
        return Err(StoreError::corrupt(format!(
            "the database is at schema version {current}, newer than this server's {}; upgrade the server",
            latest()
        )));
    }
    let mut applied = Vec::new();
    for &(version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql).map_err(|source| StoreError::Migration { version, source })?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        applied.push(version);
    }
    Ok(applied)
}
