//! Finance reports across customers: expiring liability, breakage and
//! reconciliation. Credits of different credit types are never added; money
//! values (credits x unit price, one deployment currency) are.
//!
//! Expirations and breakage walk every customer through the store's own
//! queries (balances and filtered ledger listings): exact, and proportional
//! to the number of customers, fine for a finance report run on demand.
//! Reconciliation takes the store's per-15-minute-slot usage
//! (`Store::reconciliation`) and buckets the slots in the requested zone.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::State;
use axum::Json as AxumJson;
use chrono::{DateTime, Datelike, Days, NaiveDate, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use creditdesk_api::balances::CreditTypeAmount;
use creditdesk_api::reports::{
    BreakageGroupBy, BreakageQuery, BreakageReport, BreakageRow, ExpirationGroupBy, ExpirationReport,
    ExpirationReportQuery, ExpirationReportRow, ReconciliationQuery, ReconciliationReport, ReconciliationRow,
    DEFAULT_EXPIRATION_DAYS,
};
use creditdesk_api::{Money as ApiMoney, Paged, Problem};
use creditdesk_ledger::balance::GrantStatus;
use creditdesk_ledger::catalog::CreditType;
use creditdesk_ledger::entry::EntryKind;
use creditdesk_ledger::grant::GrantCategory;
use creditdesk_ledger::ids::{CreditTypeId, CustomerId};
use creditdesk_ledger::series::{slot_ceil, slot_floor};
use creditdesk_ledger::Credits;
use creditdesk_store::{Customer, LedgerFilter};
use rust_decimal::Decimal;

use super::customers::{credit_type_filter, parse_tz, wallets};
use super::error::{ApiError, ApiResult};
use super::extract::Query;
use super::map;
use super::meta::deployment_currency;
use super::policy::{Action, Caller};
use crate::state::AppState;

/// Every customer, in id order.
async fn all_customers(state: &AppState) -> ApiResult<Vec<Customer>> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = state.store.customers(None, cursor, 1_000).await?;
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

fn money_sum(values: impl IntoIterator<Item = ApiMoney>, currency: &str) -> ApiMoney {
    ApiMoney::new(values.into_iter().map(|m| m.amount).sum::<Decimal>().normalize(), currency)
}

/// The Monday of the ISO week `t` falls in, in `tz`.
fn week_start(t: DateTime<Utc>, tz: Tz) -> NaiveDate {
    let d = t.with_timezone(&tz).date_naive();
    d.checked_sub_days(Days::new(u64::from(d.weekday().num_days_from_monday()))).unwrap_or(d)
}

/// Keeps the page of `rows` (sorted by `key`) after `cursor`, at most
/// `limit`; returns the cursor of the next page, if any.
fn page_rows<R>(rows: &mut Vec<R>, key: impl Fn(&R) -> String, cursor: Option<&str>, limit: usize) -> Option<String> {
    if let Some(c) = cursor {
        rows.retain(|r| key(r).as_str() > c);
    }
    if rows.len() <= limit {
        return None;
    }
    rows.truncate(limit);
    rows.last().map(key)
}

/// What a breakage row is for: a month or week (its first day), or a customer.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Period {
    Day(NaiveDate),
    Customer(String),
}

fn month_start(t: DateTime<Utc>, tz: Tz) -> NaiveDate {
    let d = t.with_timezone(&tz).date_naive();
    d.with_day(1).unwrap_or(d)
}

#[derive(Default)]
struct Acc {
    grants: u32,
    credits: Credits,
    paid: Credits,
    rolls: Credits,
}

/// Expiring liability: credits in live grants scheduled to
/// expire in `[from, from + days)`, as if no further usage happened.
#[utoipa::path(get, path = "/v1/reports/expirations", tag = "reports", params(ExpirationReportQuery),
    responses((status = 200, body = ExpirationReport), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn expirations(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ExpirationReportQuery>,
) -> ApiResult<AxumJson<ExpirationReport>> {
    caller.require(Action::Read)?;
    let tz = parse_tz("tz", q.tz.as_deref())?;
    let only = credit_type_filter(&state, "credit_type", q.credit_type.as_deref())?;
    let group_by = q.group_by.unwrap_or(ExpirationGroupBy::CreditType);
    let now = state.store.now();
    let from = q.from.unwrap_or(now);
    let to = from
        .checked_add_signed(TimeDelta::days(i64::from(q.days.unwrap_or(DEFAULT_EXPIRATION_DAYS))))
        .ok_or_else(|| ApiError::field("from", "is too far in the future"))?;
    // (customer or "", week or None, credit type) -> sums
    let mut rows: BTreeMap<(String, Option<NaiveDate>, String), Acc> = BTreeMap::new();
    let mut types: HashMap<String, Arc<CreditType>> = HashMap::new();
    for c in all_customers(&state).await? {
        for w in wallets(&state, &c.id, only.as_ref(), now, now).await? {
            for g in &w.balance.grants {
                let Some(exp) = g.grant.expires_at else { continue };
                if g.status != GrantStatus::Active || !g.remaining.is_positive() || exp < from || exp >= to {
                    continue;
                }
                let key = match group_by {
                    ExpirationGroupBy::CreditType => (String::new(), None, w.ct.id.to_string()),
                    ExpirationGroupBy::Customer => (c.id.to_string(), None, w.ct.id.to_string()),
                    ExpirationGroupBy::Week => (String::new(), Some(week_start(exp, tz)), w.ct.id.to_string()),
                };
                let acc = rows.entry(key).or_default();
                acc.grants += 1;
                acc.credits += g.remaining;
                if g.grant.category == GrantCategory::Paid {
                    acc.paid += g.remaining;
                }
                acc.rolls += g.grant.rollover.map_or(Credits::ZERO, |p| p.rolled_amount(g.remaining));
            }
            types.entry(w.ct.id.to_string()).or_insert_with(|| w.ct.clone());
        }
    }
    let currency = deployment_currency(&state);
    let mut totals: BTreeMap<String, Credits> = BTreeMap::new();
    let mut out = Vec::new();
    for ((customer, week, ct_id), acc) in rows {
        let Some(ct) = types.get(&ct_id) else { continue };
        *totals.entry(ct_id.clone()).or_default() += acc.credits;
        out.push(ExpirationReportRow {
            credit_type_id: ct_id,
            customer_id: (!customer.is_empty()).then_some(customer),
            week_start: week,
            grants: acc.grants,
            credits: acc.credits.get(),
            value: map::value(acc.credits, &ct.unit_price),
            paid_credits: acc.paid.get(),
            paid_value: map::value(acc.paid, &ct.unit_price),
            rolls_over: acc.rolls.get(),
        });
    }
    let totals: Vec<CreditTypeAmount> = totals
        .into_iter()
        .filter_map(|(id, credits)| {
            let ct = types.get(&id)?;
            Some(CreditTypeAmount {
                credit_type_id: id,
                credits: credits.get(),
                value: map::value(credits, &ct.unit_price),
            })
        })
        .collect();
    let total_value = money_sum(totals.iter().map(|t| t.value.clone()), &currency);
    // Only the per-customer grouping is long enough to page.
    let mut next_cursor = None;
    if group_by == ExpirationGroupBy::Customer {
        let key = |r: &ExpirationReportRow| format!("{} {}", r.customer_id.as_deref().unwrap_or(""), r.credit_type_id);
        next_cursor = page_rows(&mut out, key, q.cursor.as_deref(), q.effective_limit() as usize);
    }
    Ok(AxumJson(ExpirationReport { from, to, group_by, rows: out, totals, total_value, next_cursor }))
}

/// Breakage: credits that expired (net of expiry corrections) or were
/// voided, by calendar month of the booking in `tz`, credit type and category.
#[utoipa::path(get, path = "/v1/reports/breakage", tag = "reports", params(BreakageQuery),
    responses((status = 200, body = BreakageReport), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn breakage(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<BreakageQuery>,
) -> ApiResult<AxumJson<BreakageReport>> {
    caller.require(Action::Read)?;
    let tz = parse_tz("tz", q.tz.as_deref())?;
    let only = credit_type_filter(&state, "credit_type", q.credit_type.as_deref())?;
    let now = state.store.now();
    let to = q.to.unwrap_or(now);
    let from = match q.from {
        Some(f) => f,
        None => {
            let m = month_start(now, tz);
            let start = m.checked_sub_months(chrono::Months::new(12)).unwrap_or(m);
            tz.from_local_datetime(&start.and_time(chrono::NaiveTime::MIN))
                .earliest()
                .map_or(now, |t| t.with_timezone(&Utc))
        }
    };
    if from >= to {
        return Err(ApiError::field("to", "must be after from"));
    }
    let catalog = state.store.catalog();
    let group_by = q.group_by.unwrap_or(BreakageGroupBy::Month);
    // (month, week or customer, credit type, paid?) -> (expired, voided)
    let mut rows: BTreeMap<(Period, String, bool), (Credits, Credits)> = BTreeMap::new();
    for c in all_customers(&state).await? {
        let mut found = Vec::new();
        for kind in [EntryKind::Expire, EntryKind::ExpiryCorrection, EntryKind::Void] {
            let filter = LedgerFilter {
                credit_type: only.as_ref().map(|ct| ct.id.clone()),
                kind: Some(kind),
                from: Some(from),
                to: Some(to),
                ..LedgerFilter::default()
            };
            let mut cursor = None;
            loop {
                let page = state.store.ledger(c.id.clone(), filter.clone(), cursor, 1_000).await?;
                found.extend(page.items.into_iter().filter(|e| !e.amount.is_zero()));
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        if found.is_empty() {
            continue;
        }
        // Each grant's category, from the balance view (every grant known now).
        let mut categories: HashMap<String, GrantCategory> = HashMap::new();
        for w in wallets(&state, &c.id, only.as_ref(), now, now).await? {
            for g in &w.balance.grants {
                categories.insert(g.grant.id.to_string(), g.grant.category);
            }
        }
        for e in found {
            let paid =
                e.grant.as_ref().and_then(|g| categories.get(g.as_str())).is_none_or(|c| *c == GrantCategory::Paid);
            let period = match group_by {
                BreakageGroupBy::Month => Period::Day(month_start(e.booked_at, tz)),
                BreakageGroupBy::Week => Period::Day(week_start(e.booked_at, tz)),
                BreakageGroupBy::Customer => Period::Customer(c.id.to_string()),
            };
            let cell = rows.entry((period, e.credit_type.to_string(), paid)).or_default();
            match e.kind {
                EntryKind::Expire => cell.0 += e.amount.abs(),
                EntryKind::ExpiryCorrection => cell.0 -= e.amount.abs(),
                _ => cell.1 += e.amount.abs(),
            }
        }
    }
    let currency = deployment_currency(&state);
    let mut out = Vec::new();
    for ((period, ct_id, paid), (expired, voided)) in rows {
        let Ok(ct) = catalog.credit_type(&CreditTypeId::new(&ct_id)?) else { continue };
        let (day, customer_id) = match period {
            Period::Day(d) => (Some(d), None),
            Period::Customer(c) => (None, Some(c)),
        };
        out.push(BreakageRow {
            month: day.filter(|_| group_by == BreakageGroupBy::Month),
            week_start: day.filter(|_| group_by == BreakageGroupBy::Week),
            customer_id,
            credit_type_id: ct_id,
            category: if paid {
                creditdesk_api::GrantCategory::Paid
            } else {
                creditdesk_api::GrantCategory::Promotional
            },
            expired: expired.get(),
            expired_value: map::value(expired, &ct.unit_price),
            voided: voided.get(),
            voided_value: map::value(voided, &ct.unit_price),
        });
    }
    // By period or customer, credit type, category (paid before promotional, as the enum orders them).
    out.sort_by(|a, b| {
        (a.month, a.week_start, &a.customer_id, &a.credit_type_id, a.category).cmp(&(
            b.month,
            b.week_start,
            &b.customer_id,
            &b.credit_type_id,
            b.category,
        ))
    });
    let total_expired_value = money_sum(out.iter().map(|r| r.expired_value.clone()), &currency);
    let total_voided_value = money_sum(out.iter().map(|r| r.voided_value.clone()), &currency);
    // Only the per-customer grouping is long enough to page.
    let mut next_cursor = None;
    if group_by == BreakageGroupBy::Customer {
        let key = |r: &BreakageRow| {
            format!("{} {} {}", r.customer_id.as_deref().unwrap_or(""), r.credit_type_id, r.category.as_str())
        };
        next_cursor = page_rows(&mut out, key, q.cursor.as_deref(), q.effective_limit() as usize);
    }
    Ok(AxumJson(BreakageReport {
        from,
        to,
        tz: tz.name().to_owned(),
        group_by,
        rows: out,
        total_expired_value,
        total_voided_value,
        next_cursor,
    }))
}

/// Per period and credit type: accepted usage events and their rated
/// credits, against the burn and overage entries the ledger booked for
/// them (both by event time). `difference` is zero when they agree.
/// `from`/`to` are widened to 15-minute boundaries.
#[utoipa::path(get, path = "/v1/reports/reconciliation", tag = "reports", params(ReconciliationQuery),
    responses((status = 200, body = ReconciliationReport), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn reconciliation(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ReconciliationQuery>,
) -> ApiResult<AxumJson<ReconciliationReport>> {
    caller.require(Action::Read)?;
    let tz = parse_tz("tz", q.tz.as_deref())?;
    let only = credit_type_filter(&state, "credit_type", q.credit_type.as_deref())?;
    if let Some(c) = &q.customer {
        CustomerId::new(c).map_err(|_| ApiError::field("customer", "is not a valid id"))?;
    }
    let bucket = q.bucket.unwrap_or(creditdesk_api::Bucket::Day);
    let (from, to) = (slot_floor(q.from), slot_ceil(q.to));
    // The periods: the ledger's calendar frame (local midnights, DST-aware),
    // read off an empty burn series over the same window.
    let frame_of = CustomerId::new("~reconciliation-frame")?;
    let frame = state.store.burn_series(frame_of, from, to, map::bucket_in(bucket), tz).await?;
    let starts: Vec<i64> = frame.buckets.iter().map(|b| b.start.timestamp_micros()).collect();
    let customer = q.customer.as_deref().map(CustomerId::new).transpose()?;
    let slots = state.store.reconciliation(from, to, customer, only.as_ref().map(|c| c.id.clone())).await?;
    // (events, rated, burned, overage) per (period, credit type).
    let mut cells: BTreeMap<(usize, String), (u64, Credits, Credits, Credits)> = BTreeMap::new();
    for u in slots {
        let t = u.start.timestamp_micros();
        let i = starts.partition_point(|&s| s <= t).saturating_sub(1);
        let cell = cells.entry((i, u.credit_type.to_string())).or_default();
        cell.0 += u.events;
        cell.1 += u.rated;
        cell.2 += u.burned;
        cell.3 += u.overage;
    }
    let mut rows = Vec::new();
    for ((i, ct), (events, rated, burned, overage)) in cells {
        let Some(b) = frame.buckets.get(i) else { continue };
        rows.push(ReconciliationRow {
            period: b.date,
            start: b.start.max(from),
            end: b.end.min(to),
            credit_type_id: ct,
            events,
            rated: rated.get().normalize(),
            burned: burned.get().normalize(),
            overage: overage.get().normalize(),
            difference: (rated - burned - overage).get().normalize(),
        });
    }
    let balanced = rows.iter().all(|r| r.difference.is_zero());
    Ok(AxumJson(ReconciliationReport { from, to, bucket, tz: tz.name().to_owned(), rows, balanced }))
}
