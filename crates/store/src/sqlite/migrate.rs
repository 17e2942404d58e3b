//! Versioned migrations, applied at start. The version lives in SQLite's
//! `user_version`; each migration runs in its own transaction.

use rusqlite::Connection;

use crate::error::{Result, StoreError};

const MIGRATIONS: &[(u32, &str)] = &[
    (1, include_str!("../../migrations/sqlite/0001_ledger.sql")),
    (2, include_str!("../../migrations/sqlite/0002_one_expiry.sql")),
    (3, include_str!("../../migrations/sqlite/0003_workflows.sql")),
    (4, include_str!("../../migrations/sqlite/0004_recent_burns.sql")),
    (5, include_str!("../../migrations/sqlite/0005_move_guard_by_seq.sql")),
    (6, include_str!("../../migrations/sqlite/0006_no_seq_index.sql")),
    (7, include_str!("../../migrations/sqlite/0007_burn_rollups_on_move.sql")),
    (8, include_str!("../../migrations/sqlite/0008_burn_blocks.sql")),
    (9, include_str!("../../migrations/sqlite/0009_staged_burn_blocks.sql")),
    (10, include_str!("../../migrations/sqlite/0010_moved_blocks_appended.sql")),
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
        if version == 8 {
            // Burns staged by version 7 await their day rollups: they move
            // into `entries` with them before their table goes.
            crate::db::lite::move_staged_burns(&tx)?;
        }
        tx.execute_batch(sql).map_err(|source| StoreError::Migration { version, source })?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        applied.push(version);
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new database migrated as far as `version`, as an older build left it.
    fn at_version(version: u32) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        crate::db::lite::register_functions(&conn).unwrap();
        for &(v, sql) in MIGRATIONS.iter().filter(|(v, _)| *v <= version) {
            conn.execute_batch(sql).unwrap();
            conn.pragma_update(None, "user_version", v).unwrap();
        }
        conn
    }

    /// Version 4 rebuilds `entries` (its row key no longer `seq`): every
    /// row of a version-3 ledger comes through unchanged, still append-only.
    #[test]
    fn the_entries_of_a_version_3_ledger_survive_the_rebuild() {
        let mut conn = at_version(3);
        conn.execute_batch(
            "INSERT INTO entries (seq, customer_id, credit_type_id, grant_id, kind, amount, booked_at, recorded_at, \
             event_id, product_id, related_seq, actor, reason_code, ticket_ref, note) VALUES \
             (1, 'acme', 'api', 'g1', 'grant', 100, 10, 10, NULL, NULL, NULL, 'alice', 'purchase', 'T-1', 'n'), \
             (7, 'acme', 'api', 'g1', 'burn', -3, 20, 21, 'e1', 'chat', NULL, 'ingest', NULL, NULL, NULL), \
             (3, 'acme', 'api', 'g1', 'expire', -97, 30, 30, NULL, NULL, NULL, 'system', NULL, NULL, NULL)",
        )
        .unwrap();
        let rows = |conn: &Connection| -> Vec<String> {
            let mut stmt = conn.prepare("SELECT * FROM entries ORDER BY seq").unwrap();
            let n = stmt.column_count();
            stmt.query_map([], |r| {
                Ok((0..n).map(|i| format!("{:?}", r.get_ref(i).unwrap())).collect::<Vec<_>>().join("|"))
            })
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
        };
        let before = rows(&conn);
        assert_eq!(migrate(&mut conn).unwrap(), vec![4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(rows(&conn), before);
        let err = conn.execute("DELETE FROM entries", []).unwrap_err().to_string();
        assert!(err.contains("append-only"), "{err}");
        // The one-expiry rule came through too.
        let err = conn
            .execute(
                "INSERT INTO entries (seq, customer_id, credit_type_id, grant_id, kind, amount, booked_at, recorded_at, \
                 actor) VALUES (9, 'acme', 'api', 'g1', 'expire', -1, 40, 40, 'system')",
                [],
            )
            .unwrap_err()
            .to_string();
        assert!(err.contains("UNIQUE"), "{err}");
    }

    /// A burn staged as versions 4-7 staged them: 3 micro-credits of
    /// event `e1`, entry 7.
    fn stage_burn(conn: &Connection) {
        conn.execute(
            "INSERT INTO entries_recent (slice, seq, customer_id, credit_type_id, grant_id, kind, amount, booked_at, \
             recorded_at, event_id, product_id, actor) VALUES (3, 7, 'acme', 'api', 'g1', 'burn', -3, 20, 21, 'e1', \
             'chat', 'ingest')",
            [],
        )
        .unwrap();
    }

    /// Version 7 writes a burn's day rollups when it moves, no longer when
    /// it is staged. Burns staged by a version-6 build were rolled up
    /// already: they move as they are, and nothing is counted twice.
    #[test]
    fn burns_staged_before_version_7_move_without_being_rolled_up_again() {
        let mut conn = at_version(6);
        stage_burn(&conn);
        conn.execute("INSERT INTO ledger_days VALUES ('acme', 'api', 0, 0, 'g1', 'burn', -3)", []).unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), vec![7, 8, 9, 10]);
        let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(count("SELECT amount FROM entries WHERE seq = 7 AND event_id = 'e1'"), -3);
        assert_eq!(count("SELECT SUM(amount) FROM ledger_days"), -3);
    }

    /// Version 8 stores new burns in blocks and drops `entries_recent`:
    /// burns a version-7 build staged there move into `entries` first,
    /// with the day rollups version 7 had left for their move.
    #[test]
    fn burns_staged_by_version_7_move_with_their_rollups_before_blocks() {
        let mut conn = at_version(7);
        stage_burn(&conn);
        assert_eq!(migrate(&mut conn).unwrap(), vec![8, 9, 10]);
        let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(count("SELECT amount FROM entries WHERE seq = 7 AND event_id = 'e1'"), -3);
        assert_eq!(count("SELECT SUM(amount) FROM ledger_days"), -3);
        assert_eq!(count("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'entries_recent'"), 0);
        assert_eq!(count("SELECT COUNT(*) FROM ledger_entries"), 1);
        conn.execute(
            "INSERT INTO burn_blocks (customer_id, credit_type_id, booked_day, booked_max, recorded_at, n, burns) \
             VALUES ('acme', 'api', 0, 5, 6, 1, x'01')",
            [],
        )
        .unwrap();
        for sql in ["DELETE FROM burn_blocks", "UPDATE burn_blocks SET n = 2"] {
            let err = conn.execute(sql, []).unwrap_err().to_string();
            assert!(err.contains("append-only"), "{err}");
        }
    }
}
