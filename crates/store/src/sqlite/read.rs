//! Queries, on pooled read-only connections. None rescans a wallet's
//! history: balances come from running totals and day rollups, series from
//! quarter-hour day rows.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use creditdesk_ledger::balance::{balance_view, Balance};
use creditdesk_ledger::catalog::CreditType;
use creditdesk_ledger::entry::{Attribution, Entry, EntryKind, Posting};
use creditdesk_ledger::ids::{CreditTypeId, CustomerId, EventId, GrantId, ProductId};
use creditdesk_ledger::series::{Bucket, BurnRollup, BurnSeries};
use creditdesk_ledger::wallet::{GrantState, GrantTotals, OverageItem, WalletState};
use rusqlite::{params, Connection, OptionalExtension};

use super::load::{grant_from_row, GRANT_COLUMNS};
use super::rows::{entry_from_row, ENTRY_COLUMNS};
use crate::codec::*;
use crate::error::{Result, StoreError};
use crate::model::{Customer, LedgerFilter, Page, RejectedRecord, User};

const DAY: i64 = 86_400_000_000;

/// A wallet at `at` as known at `as_of`: the entries booked by `at` and
/// recorded by `as_of`, summed from day rollups plus the two boundary days,
/// then caught up virtually to `at` exactly as the ledger's `History` does.
pub(crate) fn snapshot(
    conn: &Connection,
    customer: &CustomerId,
    ct: &Arc<CreditType>,
    at: DateTime<Utc>,
    as_of: DateTime<Utc>,
) -> Result<(WalletState, HashSet<GrantId>)> {
    let (c, t) = (customer.as_str(), ct.id.as_str());
    let (at_us, as_of_us) = (ts(at), ts(as_of));
    let (d_at, d_as_of) = (day_of(at_us), day_of(as_of_us));

    let mut sums: HashMap<(String, String), i64> = HashMap::new();
    let mut add = |grant: String, kind: String, amount: i64| *sums.entry((grant, kind)).or_default() += amount;
    // Whole days before both boundaries.
    let mut stmt = conn.prepare_cached(
        "SELECT grant_id, kind, SUM(amount) FROM ledger_days WHERE customer_id = ?1 AND credit_type_id = ?2 \
         AND booked_day < ?3 AND recorded_day < ?4 GROUP BY grant_id, kind",
    )?;
    for row in stmt.query_map(params![c, t, d_at, d_as_of], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))? {
        let (g, k, a) = row?;
        add(g, k, a);
    }
    // Booked on `at`'s day, up to `at`.
    let mut stmt = conn.prepare_cached(
        "SELECT COALESCE(grant_id, ''), kind, SUM(amount) FROM entries WHERE customer_id = ?1 AND credit_type_id = ?2 \
         AND booked_at >= ?3 AND booked_at <= ?4 AND recorded_at <= ?5 GROUP BY grant_id, kind",
    )?;
    for row in stmt.query_map(params![c, t, d_at * DAY, at_us, as_of_us], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))? {
        let (g, k, a) = row?;
        add(g, k, a);
    }
    // Recorded on `as_of`'s day, up to `as_of`, booked before `at`'s day.
    let mut stmt = conn.prepare_cached(
        "SELECT COALESCE(grant_id, ''), kind, SUM(amount) FROM entries WHERE customer_id = ?1 AND recorded_at >= ?3 \
         AND recorded_at <= ?4 AND credit_type_id = ?2 AND booked_at < ?5 GROUP BY grant_id, kind",
    )?;
    for row in
        stmt.query_map(params![c, t, d_as_of * DAY, as_of_us, d_at * DAY], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
    {
        let (g, k, a) = row?;
        add(g, k, a);
    }

    // Grants known at `as_of`.
    let mut grants: Vec<GrantState> = Vec::new();
    let mut index: HashMap<GrantId, usize> = HashMap::new();
    let sql = format!(
        "SELECT {GRANT_COLUMNS} FROM grants g WHERE g.customer_id = ?1 AND g.credit_type_id = ?2 AND g.recorded_at <= ?3"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params![c, t, as_of_us])?;
    while let Some(r) = rows.next()? {
        let grant = grant_from_row(r)?;
        let mut totals = GrantTotals::default();
        for kind in EntryKind::ALL {
            if let Some(&amount) = sums.get(&(grant.id.to_string(), kind.as_str().to_string())) {
                totals.apply(kind, credits(amount)?);
            }
        }
        index.insert(grant.id.clone(), grants.len());
        grants.push(GrantState {
            grant: Arc::new(grant),
            totals,
            voided_at: None,
            expiry_seq: None,
            restored: Vec::new(),
        });
    }

    // Everything but burns, known by then: flags, restorations, overage items.
    let mut overages: Vec<OverageItem> = Vec::new();
    let mut links: Vec<(EntryKind, u64, i64)> = Vec::new();
    let mut stmt = conn.prepare_cached(
        "SELECT seq, grant_id, kind, amount, booked_at, related_seq, product_id, event_id FROM entries \
         WHERE customer_id = ?1 AND credit_type_id = ?2 AND kind <> 'burn' AND booked_at <= ?3 AND recorded_at <= ?4",
    )?;
    let mut rows = stmt.query(params![c, t, at_us, as_of_us])?;
    while let Some(r) = rows.next()? {
        let seq = r.get::<_, i64>(0)? as u64;
        let grant: Option<String> = r.get(1)?;
        let kind = kind_from(&r.get::<_, String>(2)?)?;
        let amount: i64 = r.get(3)?;
        let booked_at = time(r.get(4)?)?;
        let related = r.get::<_, Option<i64>>(5)?.map(|s| s as u64);
        match (kind, grant) {
            (EntryKind::Overage, _) => overages.push(OverageItem {
                seq,
                product: ProductId::new(r.get::<_, Option<String>>(6)?.unwrap_or_default())?,
                event: r.get::<_, Option<String>>(7)?.map(EventId::new).transpose()?,
                booked_at,
                amount: credits(-amount)?,
                settled: creditdesk_ledger::Credits::ZERO,
                reversed: creditdesk_ledger::Credits::ZERO,
            }),
            (EntryKind::OverageSettled, _) | (EntryKind::Reversal, None) => {
                if let Some(rel) = related {
                    links.push((kind, rel, amount));
                }
                if let (EntryKind::Reversal, _) = (kind, ()) {}
            }
            _ => {}
        }
        if let Some(g) = r.get::<_, Option<String>>(1)? {
            let Some(&gi) = index.get(g.as_str()) else { continue };
            let state = &mut grants[gi];
            match kind {
                EntryKind::Expire => state.expiry_seq = Some(seq),
                EntryKind::Void => state.voided_at = Some(booked_at),
                EntryKind::Reversal => state.restored.push((booked_at, credits(amount)?)),
                _ => {}
            }
        }
    }
    let by_seq: HashMap<u64, usize> = overages.iter().enumerate().map(|(i, o)| (o.seq, i)).collect();
    for (kind, related, amount) in links {
        if let Some(&i) = by_seq.get(&related) {
            match kind {
                EntryKind::OverageSettled => overages[i].settled += credits(-amount)?,
                _ => overages[i].reversed += credits(amount)?,
            }
        }
    }

    let mut state = WalletState::restore(customer.clone(), ct.clone(), grants, overages)?;
    // The ledger already decided settlements up to its last catch-up.
    if let Some(w) = last_catch_up(conn, customer, &ct.id, as_of_us)? {
        state.settle_only_after(time(w)?);
    }
    state.catch_up(&mut Posting::new(at, u64::MAX / 2, Attribution::system()));

    let mut voided = HashSet::new();
    let mut stmt = conn.prepare_cached(
        "SELECT grant_id FROM entries WHERE customer_id = ?1 AND credit_type_id = ?2 AND kind <> 'burn' \
         AND kind = 'void' AND recorded_at <= ?3",
    )?;
    for g in stmt.query_map(params![c, t, as_of_us], |r| r.get::<_, String>(0))? {
        voided.insert(GrantId::new(g?)?);
    }
    Ok((state, voided))
}

fn last_catch_up(conn: &Connection, customer: &CustomerId, ct: &CreditTypeId, as_of: i64) -> Result<Option<i64>> {
    let latest: Option<i64> = conn
        .prepare_cached("SELECT caught_up_at FROM wallets WHERE customer_id = ?1 AND credit_type_id = ?2")?
        .query_row(params![customer.as_str(), ct.as_str()], |r| r.get(0))
        .optional()?;
    match latest {
        Some(t) if t <= as_of => Ok(Some(t)),
        None => Ok(None),
        Some(_) => Ok(conn
            .prepare_cached(
                "SELECT recorded_at FROM entries WHERE customer_id = ?1 AND recorded_at <= ?3 AND credit_type_id = ?2 \
                 ORDER BY recorded_at DESC LIMIT 1",
            )?
            .query_row(params![customer.as_str(), ct.as_str(), as_of], |r| r.get(0))
            .optional()?),
    }
}

pub(crate) fn balance(
    conn: &Connection,
    customer: &CustomerId,
    ct: &Arc<CreditType>,
    at: DateTime<Utc>,
    as_of: DateTime<Utc>,
) -> Result<Balance> {
    let (state, voided) = snapshot(conn, customer, ct, at, as_of)?;
    Ok(balance_view(&state, at, as_of, |g| voided.contains(&g.id)))
}

/// Credits used per bucket in `tz`, by product, from the day rows.
pub(crate) fn burn_series(
    conn: &Connection,
    customer: &CustomerId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bucket: Bucket,
    tz: Tz,
) -> Result<BurnSeries> {
    // Buckets reach at most a day past [from, to) in local time.
    let (first, last) = (day_of(ts(from)) - 1, day_of(ts(to)) + 1);
    let mut rollup = BurnRollup::new(customer.clone());
    let mut stmt = conn.prepare_cached(
        "SELECT credit_type_id, product_id, day, burned, reversed FROM burn_days WHERE customer_id = ?1 \
         AND day >= ?2 AND day <= ?3",
    )?;
    let mut rows = stmt.query(params![customer.as_str(), first, last])?;
    while let Some(r) = rows.next()? {
        let ct = CreditTypeId::new(r.get::<_, String>(0)?)?;
        let product: String = r.get(1)?;
        let product = if product.is_empty() { None } else { Some(ProductId::new(product)?) };
        let burned = quarters_from_blob(&r.get::<_, Vec<u8>>(3)?)?;
        let reversed = quarters_from_blob(&r.get::<_, Vec<u8>>(4)?)?;
        rollup.add_day(&ct, product.as_ref(), r.get(2)?, &burned, &reversed)?;
    }
    Ok(rollup.burn_series(from, to, bucket, tz)?)
}

/// Ledger entries, newest recorded first, `(recorded_at, seq)` cursor.
pub(crate) fn ledger(
    conn: &Connection,
    customer: &CustomerId,
    filter: &LedgerFilter,
    cursor: Option<&str>,
    limit: u32,
) -> Result<Page<Entry>> {
    let (cur_recorded, cur_seq) = match cursor {
        None => (i64::MAX, i64::MAX),
        Some(c) => parse_cursor(c)?,
    };
    let mut sql =
        format!("SELECT {ENTRY_COLUMNS} FROM entries WHERE customer_id = ?1 AND (recorded_at, seq) < (?2, ?3)");
    let mut args: Vec<rusqlite::types::Value> =
        vec![customer.as_str().to_string().into(), cur_recorded.into(), cur_seq.into()];
    let mut push = |clause: &str, v: rusqlite::types::Value| {
        args.push(v);
        sql.push_str(&format!(" AND {clause} ?{}", args.len()));
    };
    if let Some(ct) = &filter.credit_type {
        push("credit_type_id =", ct.as_str().to_string().into());
    }
    if let Some(k) = filter.kind {
        push("kind =", k.as_str().to_string().into());
    }
    if let Some(p) = &filter.product {
        push("product_id =", p.as_str().to_string().into());
    }
    if let Some(e) = &filter.event {
        push("event_id =", e.as_str().to_string().into());
    }
    if let Some(from) = filter.from {
        push("booked_at >=", ts(from).into());
    }
    if let Some(to) = filter.to {
        push("booked_at <", ts(to).into());
    }
    sql.push_str(&format!(" ORDER BY recorded_at DESC, seq DESC LIMIT {}", limit + 1));
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
    let mut items = Vec::new();
    while let Some(r) = rows.next()? {
        items.push(entry_from_row(r)?);
    }
    let next_cursor = page_cursor(&mut items, limit, |e| format!("{}.{}", ts(e.recorded_at), e.seq));
    Ok(Page { items, next_cursor })
}

fn parse_cursor(c: &str) -> Result<(i64, i64)> {
    let bad =
        || StoreError::Ledger(creditdesk_ledger::LedgerError::invalid("cursor", "is not a cursor this API issued"));
    let (a, b) = c.split_once('.').ok_or_else(bad)?;
    Ok((a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?))
}

/// Keeps `limit` items and returns the cursor after the last, if more exist.
fn page_cursor<T>(items: &mut Vec<T>, limit: u32, key: impl Fn(&T) -> String) -> Option<String> {
    if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(key)
    } else {
        None
    }
}

pub(crate) fn customers(
    conn: &Connection,
    query: Option<&str>,
    cursor: Option<&str>,
    limit: u32,
) -> Result<Page<Customer>> {
    let pattern = query.map(|q| format!("%{}%", q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")));
    let mut stmt = conn.prepare_cached(
        "SELECT id, name, external_ref, created_at FROM customers WHERE id > ?1 AND (?2 IS NULL OR id LIKE ?2 ESCAPE '\\' \
         OR name LIKE ?2 ESCAPE '\\' OR external_ref LIKE ?2 ESCAPE '\\') ORDER BY id LIMIT ?3",
    )?;
    let mut rows = stmt.query(params![cursor.unwrap_or(""), pattern, i64::from(limit) + 1])?;
    let mut items = Vec::new();
    while let Some(r) = rows.next()? {
        items.push(Customer {
            id: CustomerId::new(r.get::<_, String>(0)?)?,
            name: r.get(1)?,
            external_ref: r.get(2)?,
            created_at: time(r.get(3)?)?,
        });
    }
    let next_cursor = page_cursor(&mut items, limit, |c| c.id.to_string());
    Ok(Page { items, next_cursor })
}

pub(crate) fn customer(conn: &Connection, id: &CustomerId) -> Result<Option<Customer>> {
    conn.prepare_cached("SELECT id, name, external_ref, created_at FROM customers WHERE id = ?1")?
        .query_row([id.as_str()], |r| Ok((r.get::<_, String>(1)?, r.get::<_, Option<String>>(2)?, r.get::<_, i64>(3)?)))
        .optional()?
        .map(|(name, external_ref, created)| {
            Ok(Customer { id: id.clone(), name, external_ref, created_at: time(created)? })
        })
        .transpose()
}

pub(crate) fn rejected(
    conn: &Connection,
    customer: Option<&CustomerId>,
    cursor: Option<&str>,
    limit: u32,
) -> Result<Page<RejectedRecord>> {
    let before: i64 = match cursor {
        None => i64::MAX,
        Some(c) => c.parse().map_err(|_| {
            StoreError::Ledger(creditdesk_ledger::LedgerError::invalid("cursor", "is not a cursor this API issued"))
        })?,
    };
    let mut stmt = conn.prepare_cached(
        "SELECT rid, event_id, customer_id, product_id, body, received_at, code, detail FROM rejected_events \
         WHERE rid < ?1 AND (?2 IS NULL OR customer_id = ?2) ORDER BY rid DESC LIMIT ?3",
    )?;
    let mut rows = stmt.query(params![before, customer.map(CustomerId::as_str), i64::from(limit) + 1])?;
    let mut items = Vec::new();
    while let Some(r) = rows.next()? {
        items.push(RejectedRecord {
            rid: r.get(0)?,
            event_id: r.get(1)?,
            customer_id: r.get(2)?,
            product_id: r.get(3)?,
            body: serde_json::from_str(&r.get::<_, String>(4)?).map_err(StoreError::corrupt)?,
            received_at: time(r.get(5)?)?,
            code: r.get(6)?,
            detail: r.get(7)?,
        });
    }
    let next_cursor = page_cursor(&mut items, limit, |r| r.rid.to_string());
    Ok(Page { items, next_cursor })
}

fn user_from_row(r: &rusqlite::Row<'_>) -> Result<User> {
    Ok(User {
        id: r.get(0)?,
        name: r.get(1)?,
        role: r.get(2)?,
        created_at: time(r.get(3)?)?,
        revoked_at: opt_time(r.get(4)?)?,
    })
}

pub(crate) fn user_by_token_hash(conn: &Connection, hash: &str) -> Result<Option<User>> {
    let mut stmt =
        conn.prepare_cached("SELECT id, name, role, created_at, revoked_at FROM users WHERE token_hash = ?1")?;
    let mut rows = stmt.query([hash])?;
    rows.next()?.map(user_from_row).transpose()
}

pub(crate) fn users(conn: &Connection) -> Result<Vec<User>> {
    let mut stmt = conn.prepare_cached("SELECT id, name, role, created_at, revoked_at FROM users ORDER BY name")?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(user_from_row(r)?);
    }
    Ok(out)
}
