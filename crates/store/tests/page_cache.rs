//! SQLite's page cache behind the store's wrapper (`sqlite::page_cache`),
//! which stores the page number B-tree balances swap through under
//! another key. A test binary of its own: the wrapper is installed only
//! when the store opens before any other SQLite connection in the process.

use std::collections::BTreeMap;

use creditdesk_store::{SqliteStore, StoreOptions};
use proptest::prelude::Rng;
use proptest::test_runner::{RngAlgorithm, TestRng};
use rusqlite::Connection;

/// Random inserts and deletes of large rows in write transactions, some
/// rolled back, checked against a model: pages split, are freed and are
/// reused out of order, so balances swap page numbers; every row must
/// read back as the model has it, and the file must pass SQLite's
/// integrity check.
#[test]
fn tables_read_back_exactly_while_balances_swap_page_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let _store = SqliteStore::open(dir.path().join("store.db"), StoreOptions::default()).unwrap();
    let before =
        creditdesk_store::sqlite::page_cache_spare_swaps().expect("the store's first open installs the wrapper");

    let conn = Connection::open(dir.path().join("pages.db")).unwrap();
    conn.execute_batch(
        "PRAGMA page_size = 8192; PRAGMA journal_mode = WAL; PRAGMA cache_size = 64;
         CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB NOT NULL);
         CREATE INDEX t_v ON t (v);",
    )
    .unwrap();
    let mut rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
    let mut below = |n: u64| rng.next_u64() % n;
    let mut model: BTreeMap<i64, Vec<u8>> = BTreeMap::new();
    for round in 0..60 {
        let mut next = model.clone();
        conn.execute_batch("BEGIN").unwrap();
        for _ in 0..200 {
            let k = below(5_000) as i64;
            if below(10) < 4 {
                conn.execute("DELETE FROM t WHERE k = ?1", [k]).unwrap();
                next.remove(&k);
            } else {
                let len = 100 + below(2_400) as usize;
                let v: Vec<u8> = (0..len).map(|_| below(256) as u8).collect();
                conn.execute("INSERT OR REPLACE INTO t (k, v) VALUES (?1, ?2)", rusqlite::params![k, v]).unwrap();
                next.insert(k, v);
            }
        }
        if round % 4 == 3 {
            conn.execute_batch("ROLLBACK").unwrap();
        } else {
            conn.execute_batch("COMMIT").unwrap();
            model = next;
        }
        let mut stmt = conn.prepare_cached("SELECT k, v FROM t ORDER BY k").unwrap();
        let rows: BTreeMap<i64, Vec<u8>> =
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect();
        assert!(rows == model, "round {round}: the table differs from the model");
    }
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    let swaps = creditdesk_store::sqlite::page_cache_spare_swaps().unwrap() - before;
    assert!(swaps > 0, "the workload never swapped page numbers, so it did not test the wrapper");
}
