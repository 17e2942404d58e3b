//! Baselines measured in the same run: the raw insert rate of the same
//! ledger rows into the same SQLite schema with no logic (the ceiling), and
//! a plain SQL ledger that answers by summing entries per query.

use std::path::Path;
use std::time::Instant;

use rusqlite::{params, Connection};

use crate::load::{latency as to_latency, Latency};
use crate::Args;

/// The store's own schema, so the ceiling pays for the same indexes. The
/// rows go straight to their final tables: the staging of recent burns
/// (migration 4) is the server's logic, not part of the ceiling.
const SCHEMA: [&str; 6] = [
    include_str!("../../store/migrations/sqlite/0001_ledger.sql"),
    include_str!("../../store/migrations/sqlite/0002_one_expiry.sql"),
    include_str!("../../store/migrations/sqlite/0003_workflows.sql"),
    include_str!("../../store/migrations/sqlite/0004_recent_burns.sql"),
    include_str!("../../store/migrations/sqlite/0005_move_guard_by_seq.sql"),
    include_str!("../../store/migrations/sqlite/0006_no_seq_index.sql"),
];

pub struct Baselines {
    pub raw_insert_events_per_sec: f64,
    pub naive_balance: Latency,
    pub naive_point_in_time: Latency,
    pub naive_series: Latency,
}

fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "page_size", creditdesk_store::sqlite::PAGE_SIZE)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "cache_size", -65536)?;
    Ok(conn)
}

pub fn run(args: &Args, dir: &Path, line: &mut impl FnMut(String)) -> anyhow::Result<Baselines> {
    // The ceiling: one event row and one burn entry per event, 1,000 events a transaction.
    let mut conn = open(&dir.join("raw.db"))?;
    for migration in SCHEMA {
        conn.execute_batch(migration)?;
    }
    let n = args.live;
    let t = Instant::now();
    for chunk in 0..n.div_ceil(1000) {
        let tx = conn.transaction()?;
        {
            let mut ev = tx.prepare_cached(
                "INSERT INTO events (id, customer_id, product_id, credit_type_id, quantity, timestamp, properties, \
                 received_at, credits, credits_per_unit, rate_version, from_override) \
                 VALUES (?1, ?2, 'chat', 'api', '1', ?3, '{}', ?3, 1000000, '1', 0, 0)",
            )?;
            let mut en = tx.prepare_cached(
                "INSERT INTO entries (seq, customer_id, credit_type_id, grant_id, kind, amount, booked_at, recorded_at, \
                 event_id, product_id, actor) VALUES (?1, ?2, 'api', ?3, 'burn', -1000000, ?4, ?4, ?5, 'chat', 'bench')",
            )?;
            for i in chunk * 1000..((chunk + 1) * 1000).min(n) {
                let customer = format!("cus_{:04}", (i * 7919) % args.customers);
                let id = args.event_ids.id("l", i);
                let ts = 1_780_000_000_000_000i64 + i as i64;
                ev.execute(params![id, customer, ts])?;
                en.execute(params![i as i64 + 1, customer, format!("{customer}-g0"), ts, id])?;
            }
        }
        tx.commit()?;
    }
    let raw = n as f64 / t.elapsed().as_secs_f64();
    line(format!("baseline: raw insert of {n} events' rows (event + burn entry, same schema) at {raw:.0} events/s"));

    // The plain SQL ledger: every entry of the big customer, summed per query.
    let conn = open(&dir.join("naive.db"))?;
    conn.execute_batch(
        "CREATE TABLE naive_entries (customer_id TEXT NOT NULL, grant_id TEXT NOT NULL, product_id TEXT, \
         kind TEXT NOT NULL, amount INTEGER NOT NULL, booked_at INTEGER NOT NULL); \
         CREATE INDEX naive_by_time ON naive_entries(customer_id, booked_at);",
    )?;
    let year_us = 365 * 86_400_000_000i64;
    let start = 1_750_000_000_000_000i64;
    {
        let tx = conn.unchecked_transaction()?;
        let mut ins = tx.prepare(
            "INSERT INTO naive_entries (customer_id, grant_id, product_id, kind, amount, booked_at) VALUES ('big', ?1, ?2, ?3, ?4, ?5)",
        )?;
        for g in 0..3 {
            ins.execute(params![format!("g{g}"), Option::<&str>::None, "grant", 500_000_000_000i64, start])?;
        }
        for i in 0..args.history as i64 {
            let product = if i % 4 == 0 { "images" } else { "chat" };
            ins.execute(params![
                "g0",
                product,
                "burn",
                -1_000_000i64,
                start + i * year_us / args.history.max(1) as i64
            ])?;
        }
        drop(ins);
        tx.commit()?;
    }
    let time = |sql: &str, arg: &dyn Fn(usize) -> i64| -> anyhow::Result<Latency> {
        let mut stmt = conn.prepare(sql)?;
        let mut samples = Vec::new();
        for q in 0..args.queries.min(50) {
            let t = Instant::now();
            let mut rows = stmt.query(params![arg(q)])?;
            while rows.next()?.is_some() {}
            samples.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        Ok(to_latency(samples))
    };
    let naive_balance = time(
        "SELECT grant_id, SUM(amount) FROM naive_entries WHERE customer_id = 'big' AND booked_at <= ?1 GROUP BY grant_id",
        &|_| i64::MAX,
    )?;
    let naive_point_in_time = time(
        "SELECT grant_id, SUM(amount) FROM naive_entries WHERE customer_id = 'big' AND booked_at <= ?1 GROUP BY grant_id",
        &|q| start + (q as i64 * 7_777_777_000_000) % year_us,
    )?;
    let naive_series = time(
        "SELECT booked_at / 86400000000 AS day, product_id, SUM(-amount) FROM naive_entries WHERE customer_id = 'big' \
         AND booked_at >= ?1 AND kind = 'burn' GROUP BY day, product_id",
        &|_| start,
    )?;
    line(format!(
        "baseline: plain SQL ledger over {} entries: balance p99 {:.1} ms, point-in-time p99 {:.1} ms, series p99 {:.1} ms",
        args.history, naive_balance.p99_ms, naive_point_in_time.p99_ms, naive_series.p99_ms
    ));
    Ok(Baselines { raw_insert_events_per_sec: raw, naive_balance, naive_point_in_time, naive_series })
}
