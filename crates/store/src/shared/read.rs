//! Queries. None rescans a wallet's history: balances come from running
//! totals and day rollups, series from quarter-hour day rows.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use creditdesk_ledger::balance::{balance_view, Balance};
use creditdesk_ledger::catalog::CreditType;
use creditdesk_ledger::entry::{Attribution, Entry, EntryKind, Posting};
use creditdesk_ledger::grant::Grant;
use creditdesk_ledger::ids::{ActorId, CreditTypeId, CustomerId, EventId, GrantId, ProductId};
use creditdesk_ledger::series::{Bucket, BurnRollup, BurnSeries};
use creditdesk_ledger::wallet::{GrantState, GrantTotals, OverageItem, WalletState};

use super::load::{grant_columns, grant_from_row, GRANT_COLUMN_COUNT};
use super::rows::{entry_from_row, ENTRY_COLUMNS};
use crate::codec::*;
use crate::db::{params, query_all, query_opt, Db, Dialect, Row, Sql, P};
use crate::error::{Result, StoreError};
use crate::model::{
    CatalogTimes, Customer, GrantMeta, LedgerFilter, OverrideMeta, Page, RejectedRecord, SlotUsage, User,
};

const DAY: i64 = 86_400_000_000;

/// Whole days booked before `?3` and recorded before `?4`: the day rollups.
const DAYS_BEFORE: Sql = Sql::same(
    "SELECT grant_id, kind, CAST(SUM(amount) AS BIGINT) FROM ledger_days WHERE customer_id = ?1 \
     AND credit_type_id = ?2 AND booked_day < ?3 AND recorded_day < ?4 GROUP BY grant_id, kind",
);
/// SQLite: `cols` of the entries that match `cond` (which names the
/// customer as `?1`): the rows of `entries`, and the burns of the blocks,
/// moved and staged, that `blocks` picks (a condition on the blocks' own
/// columns that narrows them by index before any is read:
/// `sqlite::burn_block`).
macro_rules! lite_entries {
    ($cols:expr, $cond:expr, $blocks:expr) => {
        concat!(
            "SELECT ",
            $cols,
            " FROM entries WHERE ",
            $cond,
            " UNION ALL SELECT ",
            $cols,
            " FROM burn_blocks, burn_block(burns) WHERE ",
            $blocks,
            " AND ",
            $cond,
            " UNION ALL SELECT ",
            $cols,
            " FROM burn_blocks_recent, burn_block(burns) WHERE ",
            $blocks,
            " AND ",
            $cond
        )
    };
}

/// Entries matching `cond` (the customer as `?1`) summed by grant and kind.
macro_rules! sums_by_grant_and_kind {
    ($cond:expr, $blocks:expr) => {
        Sql::each(
            concat!(
                "SELECT COALESCE(grant_id, ''), kind, CAST(SUM(amount) AS BIGINT) FROM (",
                lite_entries!("grant_id, kind, amount", $cond, $blocks),
                ") GROUP BY grant_id, kind"
            ),
            concat!(
                "SELECT COALESCE(grant_id, ''), kind, CAST(SUM(amount) AS BIGINT) FROM entries WHERE ",
                $cond,
                " GROUP BY grant_id, kind"
            ),
        )
    };
}
pub(crate) const BOOKED_ON_AT_DAY: Sql = sums_by_grant_and_kind!(
    "customer_id = ?1 AND credit_type_id = ?2 AND booked_at >= ?3 AND booked_at <= ?4 AND recorded_at <= ?5",
    "customer_id = ?1 AND credit_type_id = ?2 AND booked_day BETWEEN utc_day(?3) AND utc_day(?4)"
);
const RECORDED_ON_AS_OF_DAY: Sql = sums_by_grant_and_kind!(
    "customer_id = ?1 AND recorded_at >= ?3 AND recorded_at <= ?4 AND credit_type_id = ?2 AND booked_at < ?5",
    "customer_id = ?1 AND recorded_at >= ?3 AND recorded_at <= ?4"
);
const GRANTS_KNOWN: Sql = Sql::same(concat!(
    "SELECT ",
    grant_columns!(),
    " FROM grants g WHERE g.customer_id = ?1 AND g.credit_type_id = ?2 AND g.recorded_at <= ?3"
));
// SQLite's planner, left to itself, walks `entries_recorded` (every entry
// of the customer recorded by `as_of`, burns included: a full history
// for "as known now") and checks `kind` row by row; the partial index
// holds only the rare kinds. PostgreSQL chooses from statistics.
const RARE_ENTRIES: Sql = Sql::each(
    "SELECT seq, grant_id, kind, amount, booked_at, related_seq, product_id, event_id FROM entries \
     INDEXED BY entries_rare \
     WHERE customer_id = ?1 AND credit_type_id = ?2 AND kind <> 'burn' AND booked_at <= ?3 AND recorded_at <= ?4",
    "SELECT seq, grant_id, kind, amount, booked_at, related_seq, product_id, event_id FROM entries \
     WHERE customer_id = ?1 AND credit_type_id = ?2 AND kind <> 'burn' AND booked_at <= ?3 AND recorded_at <= ?4",
);
const VOIDED_BY: Sql = Sql::each(
    "SELECT grant_id FROM entries INDEXED BY entries_rare WHERE customer_id = ?1 AND credit_type_id = ?2 \
     AND kind <> 'burn' AND kind = 'void' AND recorded_at <= ?3",
    "SELECT grant_id FROM entries WHERE customer_id = ?1 AND credit_type_id = ?2 AND kind <> 'burn' \
     AND kind = 'void' AND recorded_at <= ?3",
);

/// A wallet at `at` as known at `as_of`: the entries booked by `at` and
/// recorded by `as_of`, summed from day rollups plus the two boundary days,
/// then caught up virtually to `at` exactly as the ledger's `History` does.
pub(crate) fn snapshot<D: Db + ?Sized>(
    db: &mut D,
    customer: &CustomerId,
    ct: &Arc<CreditType>,
    at: DateTime<Utc>,
    as_of: DateTime<Utc>,
) -> Result<(WalletState, HashSet<GrantId>)> {
    let (c, t) = (customer.as_str(), ct.id.as_str());
    let (at_us, as_of_us) = (ts(at), ts(as_of));
    let (d_at, d_as_of) = (day_of(at_us), day_of(as_of_us));

    let mut sums: HashMap<(String, String), i64> = HashMap::new();
    let mut add = |r: &dyn Row| -> Result<()> {
        *sums.entry((r.text(0)?, r.text(1)?)).or_default() += r.i64(2)?;
        Ok(())
    };
    // Known at `as_of` is everything when nothing was written to the wallet
    // after it (the common "as known now"): then the recorded-day split and
    // its boundary strip, which scans everything recorded that day (a whole
    // import, after a backfill), are not needed.
    let latest_write = query_opt(db, &CAUGHT_UP_AT, &params![c, t], |r| r.i64(0))?;
    let all_known = latest_write.is_none_or(|w| w <= as_of_us);
    // Whole days before both boundaries.
    // (A day number whose start in microseconds still fits an i64.)
    let recorded_before = if all_known { i64::MAX / DAY } else { d_as_of };
    db.query(&DAYS_BEFORE, &params![c, t, d_at, recorded_before], &mut add)?;
    // Booked on `at`'s day, up to `at`.
    db.query(&BOOKED_ON_AT_DAY, &params![c, t, d_at * DAY, at_us, as_of_us], &mut add)?;
    // Recorded on `as_of`'s day, up to `as_of`, booked before `at`'s day.
    if !all_known {
        db.query(&RECORDED_ON_AS_OF_DAY, &params![c, t, d_as_of * DAY, as_of_us, d_at * DAY], &mut add)?;
    }

    // Grants known at `as_of`.
    let mut grants: Vec<GrantState> = query_all(db, &GRANTS_KNOWN, &params![c, t, as_of_us], |r| {
        let grant = grant_from_row(r)?;
        let mut totals = GrantTotals::default();
        for kind in EntryKind::ALL {
            if let Some(&amount) = sums.get(&(grant.id.to_string(), kind.as_str().to_string())) {
                totals.apply(kind, credits(amount)?);
            }
        }
        Ok(GrantState { grant: Arc::new(grant), totals, voided_at: None, expiry_seq: None, restored: Vec::new() })
    })?;
    let index: HashMap<GrantId, usize> = grants.iter().enumerate().map(|(i, g)| (g.grant.id.clone(), i)).collect();

    // Everything but burns, known by then: flags, restorations, overage items.
    let mut overages: Vec<OverageItem> = Vec::new();
    let mut links: Vec<(EntryKind, u64, i64)> = Vec::new();
    db.query(&RARE_ENTRIES, &params![c, t, at_us, as_of_us], &mut |r| {
        let seq = r.i64(0)? as u64;
        let grant = r.opt_text(1)?;
        let kind = kind_from(&r.text(2)?)?;
        let amount = r.i64(3)?;
        let booked_at = time(r.i64(4)?)?;
        let related = r.opt_i64(5)?.map(|s| s as u64);
        match (kind, &grant) {
            (EntryKind::Overage, _) => overages.push(OverageItem {
                seq,
                product: ProductId::new(r.opt_text(6)?.unwrap_or_default())?,
                event: r.opt_text(7)?.map(EventId::new).transpose()?,
                booked_at,
                amount: credits(-amount)?,
                settled: creditdesk_ledger::Credits::ZERO,
                reversed: creditdesk_ledger::Credits::ZERO,
            }),
            (EntryKind::OverageSettled, _) | (EntryKind::Reversal, None) => {
                if let Some(rel) = related {
                    links.push((kind, rel, amount));
                }
            }
            _ => {}
        }
        if let Some(g) = grant {
            if let Some(&gi) = index.get(g.as_str()) {
                let state = &mut grants[gi];
                match kind {
                    EntryKind::Expire => state.expiry_seq = Some(seq),
                    EntryKind::Void => state.voided_at = Some(booked_at),
                    EntryKind::Reversal => state.restored.push((booked_at, credits(amount)?)),
                    _ => {}
                }
            }
        }
        Ok(())
    })?;
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
    if let Some(w) = last_catch_up(db, customer, &ct.id, as_of_us)? {
        state.settle_only_after(time(w)?);
    }
    state.catch_up(&mut Posting::new(at, u64::MAX / 2, Attribution::system()));

    let mut voided = HashSet::new();
    db.query(&VOIDED_BY, &params![c, t, as_of_us], &mut |r| {
        voided.insert(GrantId::new(r.text(0)?)?);
        Ok(())
    })?;
    Ok((state, voided))
}

const CAUGHT_UP_AT: Sql = Sql::same("SELECT caught_up_at FROM wallets WHERE customer_id = ?1 AND credit_type_id = ?2");
const LAST_RECORDED: Sql = Sql::each(
    "SELECT recorded_at FROM (SELECT recorded_at FROM entries WHERE customer_id = ?1 AND recorded_at <= ?3 \
     AND credit_type_id = ?2 ORDER BY recorded_at DESC LIMIT 1) UNION ALL SELECT recorded_at FROM (SELECT \
     recorded_at FROM burn_blocks WHERE customer_id = ?1 AND recorded_at <= ?3 AND credit_type_id = ?2 \
     ORDER BY recorded_at DESC LIMIT 1) UNION ALL SELECT recorded_at FROM (SELECT recorded_at FROM \
     burn_blocks_recent WHERE customer_id = ?1 AND credit_type_id = ?2 AND recorded_at <= ?3 \
     ORDER BY recorded_at DESC LIMIT 1) ORDER BY 1 DESC LIMIT 1",
    "SELECT recorded_at FROM entries WHERE customer_id = ?1 AND recorded_at <= ?3 AND credit_type_id = ?2 \
     ORDER BY recorded_at DESC LIMIT 1",
);

fn last_catch_up<D: Db + ?Sized>(
    db: &mut D,
    customer: &CustomerId,
    ct: &CreditTypeId,
    as_of: i64,
) -> Result<Option<i64>> {
    let latest = query_opt(db, &CAUGHT_UP_AT, &params![customer.as_str(), ct.as_str()], |r| r.i64(0))?;
    match latest {
        Some(t) if t <= as_of => Ok(Some(t)),
        None => Ok(None),
        Some(_) => query_opt(db, &LAST_RECORDED, &params![customer.as_str(), ct.as_str(), as_of], |r| r.i64(0)),
    }
}

pub(crate) fn balance<D: Db + ?Sized>(
    db: &mut D,
    customer: &CustomerId,
    ct: &Arc<CreditType>,
    at: DateTime<Utc>,
    as_of: DateTime<Utc>,
) -> Result<Balance> {
    if let Some(state) = live(db, customer, ct, at, as_of)? {
        return Ok(balance_view(&state, at, as_of, |g| {
            state.grants().iter().any(|s| s.grant.id == g.id && s.voided_at.is_some())
        }));
    }
    let (state, voided) = snapshot(db, customer, ct, at, as_of)?;
    Ok(balance_view(&state, at, as_of, |g| voided.contains(&g.id)))
}

/// A block holds a burn booked after `?3` exactly when its latest does.
pub(crate) const BOOKED_AFTER: Sql = Sql::each(
    "SELECT 1 FROM entries WHERE customer_id = ?1 AND credit_type_id = ?2 AND booked_at > ?3 UNION ALL \
     SELECT 1 FROM burn_blocks WHERE customer_id = ?1 AND credit_type_id = ?2 AND booked_day >= utc_day(?3) \
     AND booked_max > ?3 UNION ALL SELECT 1 FROM burn_blocks_recent WHERE customer_id = ?1 \
     AND credit_type_id = ?2 AND booked_max > ?3 LIMIT 1",
    "SELECT 1 FROM entries WHERE customer_id = ?1 AND credit_type_id = ?2 AND booked_at > ?3 LIMIT 1",
);

/// The common "balance now": when everything written to the wallet is
/// known at `as_of` and booked by `at`, the running totals the writer
/// keeps (`grant_state`, open overage, restorations) are exactly the
/// entries a snapshot would sum, so the wallet is read from them (a few
/// rows per grant) instead of from day rollups and the entries of `at`'s
/// day. Then the same virtual catch-up to `at`. `None` when the snapshot
/// is needed (a write after `as_of`, or an entry booked after `at`: a
/// future-dated grant, usage inside the future-skew window).
fn live<D: Db + ?Sized>(
    db: &mut D,
    customer: &CustomerId,
    ct: &Arc<CreditType>,
    at: DateTime<Utc>,
    as_of: DateTime<Utc>,
) -> Result<Option<WalletState>> {
    let (c, t) = (customer.as_str(), ct.id.as_str());
    let Some(written) = query_opt(db, &CAUGHT_UP_AT, &params![c, t], |r| r.i64(0))? else { return Ok(None) };
    if written > ts(as_of) || query_opt(db, &BOOKED_AFTER, &params![c, t, ts(at)], |r| r.i64(0))?.is_some() {
        return Ok(None);
    }
    let mut state = super::load::load_wallet(db, customer, ct)?;
    state.settle_only_after(time(written)?);
    state.catch_up(&mut Posting::new(at, u64::MAX / 2, Attribution::system()));
    Ok(Some(state))
}

const BURN_DAYS: Sql = Sql::same(
    "SELECT credit_type_id, product_id, day, burned, reversed FROM burn_days WHERE customer_id = ?1 \
     AND day >= ?2 AND day <= ?3",
);

/// Credits used per bucket in `tz`, by product, from the day rows.
pub(crate) fn burn_series<D: Db + ?Sized>(
    db: &mut D,
    customer: &CustomerId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bucket: Bucket,
    tz: Tz,
) -> Result<BurnSeries> {
    // Buckets reach at most a day past [from, to) in local time.
    let (first, last) = (day_of(ts(from)) - 1, day_of(ts(to)) + 1);
    // Most days need only their totals (daily buckets in UTC: all but the
    // window's first and last).
    let quarters = BurnRollup::days_needing_quarters(from, to, bucket, tz)?;
    let mut rollup = BurnRollup::new(customer.clone());
    db.query(&BURN_DAYS, &params![customer.as_str(), first, last], &mut |r| {
        let (ct, product, day) = (r.text(0)?, r.text(1)?, r.i64(2)?);
        let product = if product.is_empty() { None } else { Some(ProductId::new(product)?) };
        let ct = CreditTypeId::new(ct)?;
        if quarters.contains(&day) {
            let (burned, reversed) = (quarters_from_blob(r.blob(3)?)?, quarters_from_blob(r.blob(4)?)?);
            rollup.add_day(&ct, product.as_ref(), day, &burned, &reversed)?;
        } else {
            rollup.add_day_totals(
                &ct,
                product.as_ref(),
                day,
                quarters_total(r.blob(3)?)?,
                quarters_total(r.blob(4)?)?,
            )?;
        }
        Ok(())
    })?;
    Ok(rollup.burn_series(from, to, bucket, tz)?)
}

/// The recorded time of the customer's `?4 + 1`-th newest burn block,
/// moved or staged, recorded by `?2` (of credit type `?3` if given):
/// `None` when it has fewer. Each table's newest by its own index first.
const BLOCK_WINDOW: Sql = Sql::same(
    "SELECT recorded_at FROM (SELECT recorded_at FROM burn_blocks WHERE customer_id = ?1 AND recorded_at <= ?2 \
     AND (CAST(?3 AS TEXT) IS NULL OR credit_type_id = ?3) ORDER BY recorded_at DESC LIMIT ?4 + 1) \
     UNION ALL SELECT recorded_at FROM (SELECT recorded_at FROM burn_blocks_recent WHERE customer_id = ?1 \
     AND recorded_at <= ?2 AND (CAST(?3 AS TEXT) IS NULL OR credit_type_id = ?3) \
     ORDER BY recorded_at DESC LIMIT ?4 + 1) ORDER BY 1 DESC LIMIT 1 OFFSET ?4",
);

/// Ledger entries, newest recorded first, `(recorded_at, seq)` cursor.
pub(crate) fn ledger<D: Db + ?Sized>(
    db: &mut D,
    customer: &CustomerId,
    filter: &LedgerFilter,
    cursor: Option<&str>,
    limit: u32,
) -> Result<Page<Entry>> {
    let (cur_recorded, cur_seq) = match cursor {
        None => (i64::MAX, i64::MAX),
        Some(c) => parse_cursor(c)?,
    };
    let mut cond = String::from("customer_id = ?1 AND (recorded_at, seq) < (?2, ?3)");
    let mut args: Vec<P<'_>> = vec![customer.as_str().into(), cur_recorded.into(), cur_seq.into()];
    let mut push = |clause: &str, v| {
        args.push(v);
        cond.push_str(&format!(" AND {clause} ?{}", args.len()));
    };
    if let Some(ct) = &filter.credit_type {
        push("credit_type_id =", P::Text(ct.as_str()));
    }
    if let Some(k) = filter.kind {
        push("kind =", P::Text(k.as_str()));
    }
    if let Some(p) = &filter.product {
        push("product_id =", P::Text(p.as_str()));
    }
    if let Some(e) = &filter.event {
        push("event_id =", P::Text(e.as_str()));
    }
    if let Some(from) = filter.from {
        push("booked_at >=", P::I64(ts(from)));
    }
    if let Some(to) = filter.to {
        push("booked_at <", P::I64(ts(to)));
    }
    let order = format!(" ORDER BY recorded_at DESC, seq DESC LIMIT {}", u64::from(limit) + 1);
    let rows = format!("SELECT {ENTRY_COLUMNS} FROM entries WHERE {cond}");
    let mut items = Vec::new();
    let read = |db: &mut D, sql: &str, items: &mut Vec<Entry>| {
        items.clear();
        db.query_text(sql, &args, &mut |r| {
            items.push(entry_from_row(r)?);
            Ok(())
        })
    };
    if db.dialect() == Dialect::Sqlite {
        // Burns in blocks (SQLite) are read newest recorded first, a window
        // of blocks at a time, not the customer's every block: the page is
        // right once it holds more than `limit` entries recorded within the
        // window (anything left out was recorded before them all), or the
        // window took every block.
        let mut window = i64::from(limit) + 1;
        loop {
            let oldest = query_opt(
                db,
                &BLOCK_WINDOW,
                &params![
                    customer.as_str(),
                    cur_recorded,
                    filter.credit_type.as_ref().map(CreditTypeId::as_str),
                    window - 1
                ],
                |r| r.i64(0),
            )?;
            let blocks = match oldest {
                Some(t) => format!("customer_id = ?1 AND recorded_at >= {t}"),
                None => "customer_id = ?1".to_owned(),
            };
            let sql = format!(
                "{rows} UNION ALL SELECT {ENTRY_COLUMNS} FROM burn_blocks, burn_block(burns) WHERE {blocks} AND {cond} \
                 UNION ALL SELECT {ENTRY_COLUMNS} FROM burn_blocks_recent, burn_block(burns) WHERE {blocks} AND {cond}{order}"
            );
            read(db, &sql, &mut items)?;
            let complete =
                oldest.is_none_or(|t| items.iter().filter(|e| ts(e.recorded_at) >= t).count() > limit as usize);
            if complete {
                break;
            }
            window = window.saturating_mul(4);
        }
    } else {
        read(db, &format!("{rows}{order}"), &mut items)?;
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

/// SQLite's LIKE ignores ASCII case; PostgreSQL's needs ILIKE for the same.
const CUSTOMERS: Sql = Sql::each(
    "SELECT id, name, external_ref, created_at FROM customers WHERE id > ?1 AND (?2 IS NULL OR id LIKE ?2 ESCAPE '\\' \
     OR name LIKE ?2 ESCAPE '\\' OR external_ref LIKE ?2 ESCAPE '\\') ORDER BY id LIMIT ?3",
    "SELECT id, name, external_ref, created_at FROM customers WHERE id > ?1 AND (CAST(?2 AS TEXT) IS NULL \
     OR id ILIKE ?2 ESCAPE '\\' OR name ILIKE ?2 ESCAPE '\\' OR external_ref ILIKE ?2 ESCAPE '\\') \
     ORDER BY id LIMIT ?3",
);

fn customer_from_row(r: &dyn Row) -> Result<Customer> {
    Ok(Customer {
        id: CustomerId::new(r.text(0)?)?,
        name: r.text(1)?,
        external_ref: r.opt_text(2)?,
        created_at: time(r.i64(3)?)?,
    })
}

pub(crate) fn customers<D: Db + ?Sized>(
    db: &mut D,
    query: Option<&str>,
    cursor: Option<&str>,
    limit: u32,
) -> Result<Page<Customer>> {
    let pattern = query.map(|q| format!("%{}%", q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")));
    let mut items = query_all(
        db,
        &CUSTOMERS,
        &params![cursor.unwrap_or(""), pattern.as_ref(), i64::from(limit) + 1],
        customer_from_row,
    )?;
    let next_cursor = page_cursor(&mut items, limit, |c| c.id.to_string());
    Ok(Page { items, next_cursor })
}

const CUSTOMER: Sql = Sql::same("SELECT id, name, external_ref, created_at FROM customers WHERE id = ?1");

pub(crate) fn customer<D: Db + ?Sized>(db: &mut D, id: &CustomerId) -> Result<Option<Customer>> {
    query_opt(db, &CUSTOMER, &params![id.as_str()], customer_from_row)
}

const REJECTED: Sql = Sql::same(
    "SELECT rid, event_id, customer_id, product_id, body, received_at, code, detail FROM rejected_events \
     WHERE rid < ?1 AND (CAST(?2 AS TEXT) IS NULL OR customer_id = ?2) ORDER BY rid DESC LIMIT ?3",
);

pub(crate) fn rejected<D: Db + ?Sized>(
    db: &mut D,
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
    let mut items =
        query_all(db, &REJECTED, &params![before, customer.map(CustomerId::as_str), i64::from(limit) + 1], |r| {
            Ok(RejectedRecord {
                rid: r.i64(0)?,
                event_id: r.opt_text(1)?,
                customer_id: r.opt_text(2)?,
                product_id: r.opt_text(3)?,
                body: serde_json::from_str(&r.text(4)?).map_err(StoreError::corrupt)?,
                received_at: time(r.i64(5)?)?,
                code: r.text(6)?,
                detail: r.text(7)?,
            })
        })?;
    let next_cursor = page_cursor(&mut items, limit, |r| r.rid.to_string());
    Ok(Page { items, next_cursor })
}

fn user_from_row(r: &dyn Row) -> Result<User> {
    Ok(User {
        id: r.text(0)?,
        name: r.text(1)?,
        role: r.text(2)?,
        created_at: time(r.i64(3)?)?,
        revoked_at: opt_time(r.opt_i64(4)?)?,
    })
}

const USER_BY_TOKEN: Sql = Sql::same("SELECT id, name, role, created_at, revoked_at FROM users WHERE token_hash = ?1");
const USERS: Sql = Sql::same("SELECT id, name, role, created_at, revoked_at FROM users ORDER BY name");

pub(crate) fn user_by_token_hash<D: Db + ?Sized>(db: &mut D, hash: &str) -> Result<Option<User>> {
    query_opt(db, &USER_BY_TOKEN, &params![hash], user_from_row)
}

pub(crate) fn users<D: Db + ?Sized>(db: &mut D) -> Result<Vec<User>> {
    query_all(db, &USERS, &[], user_from_row)
}

// ---- what the API shows beside balances: when things were recorded, by whom ----

const GRANT_BY_ID: Sql = Sql::same(concat!(
    "SELECT ",
    grant_columns!(),
    ", s.voided_at FROM grants g LEFT JOIN grant_state s ON s.grant_id = g.id WHERE g.id = ?1"
));
const GRANT_METAS: Sql = Sql::same(
    "SELECT g.id, g.recorded_at, s.voided_at FROM grants g LEFT JOIN grant_state s ON s.grant_id = g.id \
     WHERE g.customer_id = ?1",
);

/// A grant (which names its wallet) with when it was recorded and voided.
pub(crate) fn find_grant<D: Db + ?Sized>(db: &mut D, id: &GrantId) -> Result<Option<(Grant, GrantMeta)>> {
    query_opt(db, &GRANT_BY_ID, &params![id.as_str()], |r| {
        let meta = GrantMeta {
            recorded_at: time(r.i64(GRANT_COLUMN_COUNT - 1)?)?,
            voided_at: opt_time(r.opt_i64(GRANT_COLUMN_COUNT)?)?,
        };
        Ok((grant_from_row(r)?, meta))
    })
}

/// When each of a customer's grants was recorded and voided.
pub(crate) fn grant_metas<D: Db + ?Sized>(db: &mut D, customer: &CustomerId) -> Result<HashMap<GrantId, GrantMeta>> {
    let mut out = HashMap::new();
    db.query(&GRANT_METAS, &params![customer.as_str()], &mut |r| {
        let meta = GrantMeta { recorded_at: time(r.i64(1)?)?, voided_at: opt_time(r.opt_i64(2)?)? };
        out.insert(GrantId::new(r.text(0)?)?, meta);
        Ok(())
    })?;
    Ok(out)
}

const CREDIT_TYPE_TIMES: Sql = Sql::same("SELECT id, created_at FROM credit_types");
const PRODUCT_TIMES: Sql = Sql::same("SELECT id, created_at FROM products");

pub(crate) fn catalog_times<D: Db + ?Sized>(db: &mut D) -> Result<CatalogTimes> {
    let mut out = CatalogTimes::default();
    db.query(&CREDIT_TYPE_TIMES, &[], &mut |r| {
        out.credit_types.insert(CreditTypeId::new(r.text(0)?)?, time(r.i64(1)?)?);
        Ok(())
    })?;
    db.query(&PRODUCT_TIMES, &[], &mut |r| {
        out.products.insert(ProductId::new(r.text(0)?)?, time(r.i64(1)?)?);
        Ok(())
    })?;
    Ok(out)
}

/// The newest version of each override; versions written by one call share
/// its time, so ties are broken by the latest `effective_from`.
const OVERRIDES: Sql = Sql::same(
    "SELECT customer_id, product_id, created_at, created_by FROM rate_versions r WHERE customer_id <> '' \
     AND (CAST(?1 AS TEXT) IS NULL OR customer_id = ?1) AND (CAST(?2 AS TEXT) IS NULL OR product_id = ?2) \
     AND NOT EXISTS (SELECT 1 FROM rate_versions x WHERE x.customer_id = r.customer_id \
     AND x.product_id = r.product_id AND (x.created_at > r.created_at \
     OR (x.created_at = r.created_at AND x.effective_from > r.effective_from))) \
     ORDER BY customer_id, product_id",
);

pub(crate) fn overrides<D: Db + ?Sized>(
    db: &mut D,
    customer: Option<&CustomerId>,
    product: Option<&ProductId>,
) -> Result<Vec<OverrideMeta>> {
    query_all(db, &OVERRIDES, &params![customer.map(CustomerId::as_str), product.map(ProductId::as_str)], |r| {
        Ok(OverrideMeta {
            customer: CustomerId::new(r.text(0)?)?,
            product: ProductId::new(r.text(1)?)?,
            updated_at: time(r.i64(2)?)?,
            updated_by: ActorId::new(r.text(3)?)?,
        })
    })
}

/// 15 minutes, the reconciliation's unit (times are after the epoch, so
/// integer division is the floor).
const SLOT: i64 = 900_000_000;
const EVENT_SLOTS: Sql = Sql::same(
    "SELECT credit_type_id, timestamp / ?3, COUNT(*), CAST(SUM(credits) AS BIGINT) FROM events \
     WHERE timestamp >= ?1 AND timestamp < ?2 AND (CAST(?4 AS TEXT) IS NULL OR customer_id = ?4) \
     AND (CAST(?5 AS TEXT) IS NULL OR credit_type_id = ?5) GROUP BY 1, 2",
);
macro_rules! usage_entry_slots {
    () => {
        "kind IN ('burn', 'overage') AND event_id IS NOT NULL AND booked_at >= ?1 AND booked_at < ?2 \
         AND (CAST(?4 AS TEXT) IS NULL OR customer_id = ?4) AND (CAST(?5 AS TEXT) IS NULL OR credit_type_id = ?5)"
    };
}
/// Across customers: SQLite reads the burn blocks of the days in range.
const USAGE_ENTRY_SLOTS: Sql = Sql::each(
    concat!(
        "SELECT credit_type_id, booked_at / ?3, kind, CAST(SUM(amount) AS BIGINT) FROM (\
         SELECT credit_type_id, booked_at, kind, amount FROM entries WHERE ",
        usage_entry_slots!(),
        " UNION ALL SELECT credit_type_id, booked_at, kind, amount FROM burn_blocks, burn_block(burns) \
         WHERE booked_day >= utc_day(?1) AND booked_day <= utc_day(?2) AND ",
        usage_entry_slots!(),
        " UNION ALL SELECT credit_type_id, booked_at, kind, amount FROM burn_blocks_recent, burn_block(burns) \
         WHERE booked_day >= utc_day(?1) AND booked_day <= utc_day(?2) AND ",
        usage_entry_slots!(),
        ") GROUP BY 1, 2, 3"
    ),
    concat!(
        "SELECT credit_type_id, booked_at / ?3, kind, CAST(SUM(amount) AS BIGINT) FROM entries WHERE ",
        usage_entry_slots!(),
        " GROUP BY 1, 2, 3"
    ),
);

/// Accepted events and their rated credits per credit type and 15-minute
/// slot of event time, beside the burns and overage booked for them.
pub(crate) fn reconciliation<D: Db + ?Sized>(
    db: &mut D,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    customer: Option<&CustomerId>,
    credit_type: Option<&CreditTypeId>,
) -> Result<Vec<SlotUsage>> {
    let (c, t) = (customer.map(CustomerId::as_str), credit_type.map(CreditTypeId::as_str));
    // (events, rated, burned, overage) in micro-credits, by (credit type, slot).
    let mut cells: BTreeMap<(String, i64), (u64, i64, i64, i64)> = BTreeMap::new();
    db.query(&EVENT_SLOTS, &params![ts(from), ts(to), SLOT, c, t], &mut |r| {
        let cell = cells.entry((r.text(0)?, r.i64(1)?)).or_default();
        cell.0 += u64::try_from(r.i64(2)?).map_err(StoreError::corrupt)?;
        cell.1 += r.i64(3)?;
        Ok(())
    })?;
    db.query(&USAGE_ENTRY_SLOTS, &params![ts(from), ts(to), SLOT, c, t], &mut |r| {
        let cell = cells.entry((r.text(0)?, r.i64(1)?)).or_default();
        // Burns and overage are booked negative.
        match r.text(2)?.as_str() {
            "burn" => cell.2 -= r.i64(3)?,
            _ => cell.3 -= r.i64(3)?,
        }
        Ok(())
    })?;
    cells
        .into_iter()
        .map(|((ct, slot), (events, rated, burned, overage))| {
            Ok(SlotUsage {
                credit_type: CreditTypeId::new(ct)?,
                start: time(slot * SLOT)?,
                events,
                rated: credits(rated)?,
                burned: credits(burned)?,
                overage: credits(overage)?,
            })
        })
        .collect()
}
