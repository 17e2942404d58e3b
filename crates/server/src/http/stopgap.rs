//! STOPGAP: read-only SQL against the SQLite store's schema for the few
//! facts `SqliteStore` does not expose yet. Each function names the store
//! method that should replace it; once the store has them, this file goes.
//! Nothing here writes; every query runs on its own read-only connection
//! (WAL readers never block the writer).
//!
//! | function | store method wanted |
//! |---|---|
//! | [`wallet_of_grant`] | `grant(id) -> Option<(Grant, CustomerId, CreditTypeId)>` |
//! | [`grant_metas`] | `recorded_at` and `voided_at` on the balance view's grants |
//! | [`catalog_times`] | `created_at` on credit types and products |
//! | [`overrides`] | `overrides(customer?, product?) -> Vec<(card, updated_at, updated_by)>` |
//! | [`usage_slots`] | `reconciliation(from, to, customer?, credit_type?)` |

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use creditdesk_store::codec::{time, ts};
use creditdesk_store::{SqliteStore, Store, StoreError};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use super::error::ApiError;
use super::map::{GrantMeta, GrantMetas};

/// The SQLite file behind a store, if it is one (these reads exist only
/// for SQLite; on PostgreSQL the routes that need them answer 501 until the
/// store grows the methods listed above).
pub trait SqliteFile {
    fn sqlite_file(&self) -> Option<std::path::PathBuf>;
}

impl SqliteFile for SqliteStore {
    fn sqlite_file(&self) -> Option<std::path::PathBuf> {
        Some(self.path().to_path_buf())
    }
}

impl SqliteFile for Store {
    fn sqlite_file(&self) -> Option<std::path::PathBuf> {
        match self {
            Store::Sqlite(s) => Some(s.path().to_path_buf()),
            Store::Postgres(_) => None,
        }
    }
}

async fn read<T: Send + 'static>(
    store: &impl SqliteFile,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    let path = store.sqlite_file().ok_or_else(|| {
        ApiError::other(
            "not_implemented",
            axum::http::StatusCode::NOT_IMPLEMENTED,
            "Not implemented",
            "this view is not available on PostgreSQL in this server version",
        )
    })?;
    tokio::task::spawn_blocking(move || {
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        f(&conn)
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|e| ApiError::from(StoreError::Sqlite(e)))
}

fn conv<T>(r: creditdesk_store::Result<T>) -> rusqlite::Result<T> {
    r.map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

/// The wallet a grant belongs to.
pub async fn wallet_of_grant(store: &impl SqliteFile, grant: &str) -> Result<Option<(String, String)>, ApiError> {
    let grant = grant.to_owned();
    read(store, move |c| {
        c.prepare_cached("SELECT customer_id, credit_type_id FROM grants WHERE id = ?1")?
            .query_row([grant], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
    })
    .await
}

/// When each of a customer's grants was recorded and (currently) voided.
pub async fn grant_metas(store: &impl SqliteFile, customer: &str) -> Result<GrantMetas, ApiError> {
    let customer = customer.to_owned();
    read(store, move |c| {
        let mut stmt = c.prepare_cached(
            "SELECT g.id, g.recorded_at, s.voided_at FROM grants g LEFT JOIN grant_state s ON s.grant_id = g.id \
             WHERE g.customer_id = ?1",
        )?;
        let rows = stmt.query_map([customer], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, Option<i64>>(2)?))
        })?;
        let mut out = HashMap::new();
        for row in rows {
            let (id, recorded, voided) = row?;
            let meta = GrantMeta {
                recorded_at: conv(time(recorded))?,
                voided_at: voided.map(time).transpose().ok().flatten(),
            };
            out.insert(id, meta);
        }
        Ok(out)
    })
    .await
}

/// `created_at` of every credit type and product.
pub async fn catalog_times(
    store: &impl SqliteFile,
) -> Result<(HashMap<String, DateTime<Utc>>, HashMap<String, DateTime<Utc>>), ApiError> {
    read(store, |c| {
        let load = |sql: &str| -> rusqlite::Result<HashMap<String, DateTime<Utc>>> {
            let mut stmt = c.prepare_cached(sql)?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
            let mut out = HashMap::new();
            for row in rows {
                let (id, t) = row?;
                out.insert(id, conv(time(t))?);
            }
            Ok(out)
        };
        Ok((load("SELECT id, created_at FROM credit_types")?, load("SELECT id, created_at FROM products")?))
    })
    .await
}

/// Who last changed each customer override and when: `(customer, product) -> (at, by)`.
pub async fn overrides(store: &impl SqliteFile) -> Result<Vec<(String, String, DateTime<Utc>, String)>, ApiError> {
    read(store, |c| {
        let mut stmt = c.prepare_cached(
            "SELECT customer_id, product_id, created_at, created_by FROM rate_versions r WHERE customer_id <> '' \
             AND created_at = (SELECT MAX(created_at) FROM rate_versions x WHERE x.customer_id = r.customer_id \
             AND x.product_id = r.product_id) ORDER BY customer_id, product_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, String>(3)?))
        })?;
        let mut out: Vec<(String, String, DateTime<Utc>, String)> = Vec::new();
        for row in rows {
            let (customer, product, at, by) = row?;
            // Several versions written in one call share the time: keep one.
            if out.last().is_some_and(|l| l.0 == customer && l.1 == product) {
                continue;
            }
            out.push((customer, product, conv(time(at))?, by));
        }
        Ok(out)
    })
    .await
}

/// Per credit type and 15-minute slot of event time: accepted events, their
/// rated credits (micro-credits), and the magnitudes of the burn and
/// overage entries booked for them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlotUsage {
    pub events: u64,
    pub rated: i64,
    pub burned: i64,
    pub overage: i64,
}

pub const SLOT_MICROS: i64 = 900_000_000;

pub async fn usage_slots(
    store: &impl SqliteFile,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    customer: Option<String>,
    credit_type: Option<String>,
) -> Result<HashMap<(String, i64), SlotUsage>, ApiError> {
    let (from, to) = (ts(from), ts(to));
    read(store, move |c| {
        let mut out: HashMap<(String, i64), SlotUsage> = HashMap::new();
        let mut stmt = c.prepare_cached(
            "SELECT credit_type_id, timestamp / ?3, COUNT(*), SUM(credits) FROM events \
             WHERE timestamp >= ?1 AND timestamp < ?2 AND (?4 IS NULL OR customer_id = ?4) \
             AND (?5 IS NULL OR credit_type_id = ?5) GROUP BY 1, 2",
        )?;
        let rows = stmt.query_map(params![from, to, SLOT_MICROS, customer, credit_type], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?, r.get::<_, i64>(3)?))
        })?;
        for row in rows {
            let (ct, slot, n, rated) = row?;
            let cell = out.entry((ct, slot)).or_default();
            cell.events += u64::try_from(n).unwrap_or(0);
            cell.rated += rated;
        }
        let mut stmt = c.prepare_cached(
            "SELECT credit_type_id, booked_at / ?3, kind, SUM(amount) FROM entries \
             WHERE kind IN ('burn', 'overage') AND event_id IS NOT NULL AND booked_at >= ?1 AND booked_at < ?2 \
             AND (?4 IS NULL OR customer_id = ?4) AND (?5 IS NULL OR credit_type_id = ?5) GROUP BY 1, 2, 3",
        )?;
        let rows = stmt.query_map(params![from, to, SLOT_MICROS, customer, credit_type], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?))
        })?;
        for row in rows {
            let (ct, slot, kind, amount) = row?;
            let cell = out.entry((ct, slot)).or_default();
            if kind == "burn" {
                cell.burned -= amount;
            } else {
                cell.overage -= amount;
            }
        }
        Ok(out)
    })
    .await
}
