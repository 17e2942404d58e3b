//! Versioned migrations, applied at start: `schema_migrations` holds the
//! versions applied and when. All pending migrations run in one
//! transaction under an advisory lock, so servers starting together take
//! turns: the first applies them, the others then find nothing to do.

use postgres::Client;

use crate::error::{Result, StoreError};

const MIGRATIONS: &[(u32, &str)] = &[
    (1, include_str!("../../migrations/postgres/0001_ledger.sql")),
    (2, include_str!("../../migrations/postgres/0002_workflows.sql")),
];

/// The advisory lock key of schema migrations ("creditdk").
const MIGRATION_LOCK: i64 = 0x6372_6564_6974_646b;

/// The newest schema version this build knows.
pub fn latest() -> u32 {
    MIGRATIONS.last().map_or(0, |(v, _)| *v)
}

/// Applies what is missing; returns the versions applied.
pub(crate) fn migrate(client: &mut Client) -> Result<Vec<u32>> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (\
         version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )?;
    let current: i32 = tx.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[])?.try_get(0)?;
    let current = u32::try_from(current).map_err(StoreError::corrupt)?;
    if current > latest() {
        return Err(StoreError::corrupt(format!(
            "the database is at schema version {current}, newer than this server's {}; upgrade the server",
            latest()
        )));
    }
    let mut applied = Vec::new();
    for &(version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.batch_execute(sql).map_err(|source| StoreError::PgMigration { version, source })?;
        let v = i32::try_from(version).map_err(StoreError::corrupt)?;
        tx.execute("INSERT INTO schema_migrations (version) VALUES ($1)", &[&v])?;
        applied.push(version);
    }
    tx.commit()?;
    Ok(applied)
}
