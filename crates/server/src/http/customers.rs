//! `/v1/customers...`: search with summaries, balances (now, at, as of),
//! grants, ledger, burn series, forecast and expiry schedule.

use std::cmp::Reverse;
use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, TimeDelta, Utc};
use creditdesk_api::balances::{
    BalanceQuery, BalancesResponse, CreditTypeAmount, ExpirationsQuery, ExpirationsResponse, ScheduledExpiry,
};
use creditdesk_api::customers::{CustomerListQuery, CustomerSort, CustomerSummary, WalletSummary};
use creditdesk_api::grants::{GrantBalance as ApiGrantBalance, GrantListQuery};
use creditdesk_api::ledger::{LedgerEntry, LedgerQuery};
use creditdesk_api::series::{
    BalanceHistory, BalancePoint, BurnQuery, BurnSeries as ApiBurnSeries, ForecastQuery, ForecastResponse,
    ProjectedExpiry, ProjectedPoint, SeriesGroupBy, DEFAULT_HORIZON_DAYS,
};
use creditdesk_api::{Page, Paged, Problem, SortOrder, Validate, MAX_LIMIT};
use creditdesk_ledger::balance::{Balance, GrantStatus};
use creditdesk_ledger::catalog::CreditType;
use creditdesk_ledger::entry::Entry;
use creditdesk_ledger::ids::{CreditTypeId, CustomerId, EventId, ProductId};
use creditdesk_ledger::series::{slot_ceil, slot_floor};
use creditdesk_ledger::Credits;
use creditdesk_store::{Customer, LedgerFilter};
use rust_decimal::Decimal;

use super::error::{ApiError, ApiResult};
use super::extract::{PathId, PlainQuery, Query};
use super::forecast::{self, whole_days, RecentBurn};
use super::map;
use super::policy::{Action, Caller};
use crate::state::AppState;

/// One wallet (customer x credit type) at an instant.
pub struct Wallet {
    pub ct: Arc<CreditType>,
    pub balance: Balance,
}

/// The customer named by the path, or 404.
pub async fn customer(state: &AppState, id: &str) -> ApiResult<Customer> {
    let cid = CustomerId::new(id).map_err(|e| ApiError::from(e).rename_field("customer_id", "id"))?;
    Ok(state.store.customer(cid).await?)
}

/// A credit-type filter, checked against the catalog.
pub fn credit_type_filter(state: &AppState, field: &str, id: Option<&str>) -> ApiResult<Option<Arc<CreditType>>> {
    let Some(id) = id else { return Ok(None) };
    let ct = CreditTypeId::new(id).map_err(|_| ApiError::field(field, "is not a valid id"))?;
    let catalog = state.store.catalog();
    catalog.credit_type(&ct).map(|c| Some(c.clone())).map_err(|_| ApiError::field(field, "is not a known credit type"))
}

/// Balances of the customer's wallets: `only` one credit type (always
/// returned), or every credit type in which the customer has grants or
/// overage, by credit type id.
pub async fn wallets(
    state: &AppState,
    customer: &CustomerId,
    only: Option<&Arc<CreditType>>,
    at: DateTime<Utc>,
    as_of: DateTime<Utc>,
) -> ApiResult<Vec<Wallet>> {
    let catalog = state.store.catalog();
    let mut types: Vec<Arc<CreditType>> = match only {
        Some(ct) => vec![ct.clone()],
        None => catalog.credit_types().cloned().collect(),
    };
    types.sort_by(|a, b| a.id.cmp(&b.id));
    let mut out = Vec::with_capacity(types.len());
    for ct in types {
        let balance = state.store.balance(customer.clone(), ct.id.clone(), Some(at), Some(as_of)).await?;
        if only.is_some() || !balance.grants.is_empty() || !balance.overage.is_zero() {
            out.push(Wallet { ct, balance });
        }
    }
    Ok(out)
}

/// A customer with one summary per wallet, now.
pub async fn summary(state: &AppState, c: &Customer, now: DateTime<Utc>) -> ApiResult<CustomerSummary> {
    let recent = RecentBurn::load(state, &c.id, now).await?;
    let mut wallets_out = Vec::new();
    for w in wallets(state, &c.id, None, now, now).await? {
        let f = forecast::forecast(state, &w.ct, &w.balance, &recent, DEFAULT_HORIZON_DAYS).await?;
        let b = &w.balance;
        wallets_out.push(WalletSummary {
            credit_type_id: w.ct.id.to_string(),
            unit_label: w.ct.unit_label.clone(),
            available: b.available.get(),
            pending: b.pending.get(),
            overage: b.overage.get(),
            net: b.net.get(),
            available_value: map::value(b.available, &w.ct.unit_price),
            burn_30d: recent.burned_30d(&w.ct.id).get(),
            runway_date: f.runway_date,
            runway_days: f.runway_date.map(|d| whole_days(now, d)),
            next_expiry: b.expiring.first().map(map::expiring),
        });
    }
    Ok(CustomerSummary {
        id: c.id.to_string(),
        name: c.name.clone(),
        external_ref: c.external_ref.clone(),
        created_at: c.created_at,
        wallets: wallets_out,
        open_disputes: state.store.open_disputes(c.id.to_string()).await?,
    })
}

/// Customer summaries computed at once by a list request.
const SUMMARY_CONCURRENCY: usize = 4;

/// Search customers (prefix of id, substring of name, external ref), with a
/// summary per wallet: balance now, 30-day burn (up to the current quarter
/// hour), runway by the forecast method, next expiry. Order: id ascending,
/// or by `sort`; filters by runway and by credits expiring soon.
#[utoipa::path(get, path = "/v1/customers", tag = "customers", params(CustomerListQuery),
    responses((status = 200, body = Page<CustomerSummary>), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<CustomerListQuery>,
) -> ApiResult<Json<Page<CustomerSummary>>> {
    caller.require(Action::Read)?;
    let now = state.store.now();
    if q.is_plain() {
        let page = state.store.customers(q.q.clone(), q.cursor.clone(), q.effective_limit()).await?;
        let items = summaries(&state, page.items, now).await?;
        return Ok(Json(Page::new(items, page.next_cursor)));
    }
    // Sorting or filtering by a summary's figures needs every match
    // summarised first: the store keeps no per-customer figures to index.
    let view = ListView::new(&q)?;
    let mut matches = Vec::new();
    let mut cursor = None;
    loop {
        let page = state.store.customers(q.q.clone(), cursor, MAX_LIMIT).await?;
        matches.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let mut items = summaries(&state, matches, now).await?;
    items.retain(|c| view.keeps(c, now));
    Ok(Json(view.page(items, q.effective_limit())))
}

/// Summaries of `customers`, in their order, a few computed side by side
/// (about as many as the store has reader connections).
async fn summaries(state: &AppState, customers: Vec<Customer>, now: DateTime<Utc>) -> ApiResult<Vec<CustomerSummary>> {
    let permits = Arc::new(tokio::sync::Semaphore::new(SUMMARY_CONCURRENCY));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, c) in customers.into_iter().enumerate() {
        let (state, permits) = (state.clone(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            (i, summary(&state, &c, now).await)
        });
    }
    let mut items: Vec<(usize, CustomerSummary)> = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (i, s) = done.map_err(ApiError::internal)?;
        items.push((i, s?));
    }
    items.sort_by_key(|(i, _)| *i);
    Ok(items.into_iter().map(|(_, s)| s).collect())
}

/// A customer's value for a sort. `None` (no runway within the horizon,
/// nothing expiring) sorts last in either order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum SortValue {
    Text(String),
    Time(Option<DateTime<Utc>>),
    Count(u32),
}

/// The filters and order of a sorted or filtered customer list, and its
/// keyset cursor, of the last row: `<sort>.<order>~<id length>~<id><value>`
/// (ids and names may both hold `~`; the length says where the id ends).
struct ListView {
    runway_under_days: Option<u32>,
    expiring_within_days: Option<u32>,
    sort: CustomerSort,
    order: SortOrder,
    after: Option<(SortValue, String)>,
}

impl ListView {
    fn new(q: &CustomerListQuery) -> ApiResult<ListView> {
        let mut view = ListView {
            runway_under_days: q.runway_under_days,
            expiring_within_days: q.expiring_within_days,
            sort: q.sort.unwrap_or(CustomerSort::Id),
            order: q.order.unwrap_or(SortOrder::Asc),
            after: None,
        };
        view.after = q.cursor.as_deref().map(|c| view.parse_cursor(c)).transpose()?;
        Ok(view)
    }

    fn keeps(&self, c: &CustomerSummary, now: DateTime<Utc>) -> bool {
        let runway =
            self.runway_under_days.is_none_or(|days| c.wallets.iter().any(|w| w.runway_days.is_some_and(|d| d < days)));
        let expiring = self.expiring_within_days.is_none_or(|days| {
            let until = now + TimeDelta::days(i64::from(days));
            c.wallets.iter().any(|w| w.next_expiry.as_ref().is_some_and(|e| e.expires_at <= until))
        });
        runway && expiring
    }

    fn value(&self, c: &CustomerSummary) -> SortValue {
        match self.sort {
            CustomerSort::Id => SortValue::Text(c.id.clone()),
            // People expect "acme" beside "Acme", not after "Zeta".
            CustomerSort::Name => SortValue::Text(c.name.to_lowercase()),
            CustomerSort::Runway => SortValue::Time(c.wallets.iter().filter_map(|w| w.runway_date).min()),
            CustomerSort::NextExpiry => {
                SortValue::Time(c.wallets.iter().filter_map(|w| w.next_expiry.as_ref().map(|e| e.expires_at)).min())
            }
            CustomerSort::OpenDisputes => SortValue::Count(c.open_disputes),
        }
    }

    /// The list's order: by value (missing values last, whatever the
    /// order), then by id ascending so that ties page stably.
    fn cmp(&self, a: &(SortValue, String), b: &(SortValue, String)) -> std::cmp::Ordering {
        use std::cmp::Ordering;
        let by_value = match (&a.0, &b.0) {
            (SortValue::Time(None), SortValue::Time(Some(_))) => Ordering::Greater,
            (SortValue::Time(Some(_)), SortValue::Time(None)) => Ordering::Less,
            (x, y) if self.order == SortOrder::Desc => y.cmp(x),
            (x, y) => x.cmp(y),
        };
        by_value.then_with(|| a.1.cmp(&b.1))
    }

    fn page(&self, items: Vec<CustomerSummary>, limit: u32) -> Page<CustomerSummary> {
        let mut keyed: Vec<((SortValue, String), CustomerSummary)> =
            items.into_iter().map(|c| ((self.value(&c), c.id.clone()), c)).collect();
        keyed.sort_by(|a, b| self.cmp(&a.0, &b.0));
        if let Some(after) = &self.after {
            keyed.retain(|(key, _)| self.cmp(key, after).is_gt());
        }
        let more = keyed.len() > limit as usize;
        keyed.truncate(limit as usize);
        let next = if more { keyed.last().map(|(key, _)| self.cursor(key)) } else { None };
        Page::new(keyed.into_iter().map(|(_, c)| c).collect(), next)
    }

    fn tag(&self) -> String {
        format!("{}.{}", self.sort, self.order)
    }

    fn cursor(&self, (value, id): &(SortValue, String)) -> String {
        let value = match value {
            SortValue::Text(t) => t.clone(),
            SortValue::Time(Some(t)) => t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            SortValue::Time(None) => "-".to_owned(),
            SortValue::Count(n) => n.to_string(),
        };
        format!("{}~{}~{id}{value}", self.tag(), id.len())
    }

    fn parse_cursor(&self, cursor: &str) -> ApiResult<(SortValue, String)> {
        let bad = |rule: &str| ApiError::field("cursor", rule);
        let foreign = || bad("is not a cursor this API issued");
        let (tag, rest) = cursor.split_once('~').ok_or_else(foreign)?;
        if tag != self.tag() {
            return Err(bad("was issued for another sort or order; start again without it"));
        }
        let (len, rest) = rest.split_once('~').ok_or_else(foreign)?;
        let len: usize = len.parse().map_err(|_| foreign())?;
        let (id, value) = (rest.get(..len).ok_or_else(foreign)?, rest.get(len..).ok_or_else(foreign)?);
        let value = match self.sort {
            CustomerSort::Id | CustomerSort::Name => SortValue::Text(value.to_owned()),
            CustomerSort::Runway | CustomerSort::NextExpiry if value == "-" => SortValue::Time(None),
            CustomerSort::Runway | CustomerSort::NextExpiry => {
                SortValue::Time(Some(DateTime::parse_from_rfc3339(value).map_err(|_| foreign())?.to_utc()))
            }
            CustomerSort::OpenDisputes => SortValue::Count(value.parse().map_err(|_| foreign())?),
        };
        Ok((value, id.to_owned()))
    }
}

#[utoipa::path(get, path = "/v1/customers/{id}", tag = "customers",
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = CustomerSummary), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<CustomerSummary>> {
    caller.require(Action::Read)?;
    let c = customer(&state, &id).await?;
    Ok(Json(summary(&state, &c, state.store.now()).await?))
}

/// Balances now, or at `at` (past or future), as known at `as_of` (not in
/// the future), per grant.
#[utoipa::path(get, path = "/v1/customers/{id}/balances", tag = "customers",
    params(("id" = String, Path, description = "Customer id"), BalanceQuery),
    responses((status = 200, body = BalancesResponse), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn balances(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    Query(q): Query<BalanceQuery>,
) -> ApiResult<Json<BalancesResponse>> {
    caller.require(Action::Read)?;
    let now = state.store.now();
    if q.as_of.is_some_and(|t| t > now) {
        return Err(ApiError::field("as_of", "must not be in the future"));
    }
    let only = credit_type_filter(&state, "credit_type", q.credit_type.as_deref())?;
    let c = customer(&state, &id).await?;
    let (at, as_of) = (q.at.unwrap_or(now), q.as_of.unwrap_or(now));
    let ws = wallets(&state, &c.id, only.as_ref(), at, as_of).await?;
    let metas = map::grant_metas(state.store.grant_metas(c.id.clone()).await?);
    Ok(Json(BalancesResponse {
        customer_id: c.id.to_string(),
        at,
        as_of,
        balances: ws.iter().map(|w| map::balance(&w.balance, &w.ct, &metas)).collect(),
    }))
}

fn grant_cursor(g: &ApiGrantBalance) -> String {
    format!("{}:{}", g.grant.effective_at.timestamp_micros(), g.grant.id)
}

fn parse_grant_cursor(c: &str) -> ApiResult<(i64, String)> {
    let bad = || ApiError::field("cursor", "is not a cursor this API issued");
    let (t, id) = c.split_once(':').ok_or_else(bad)?;
    Ok((t.parse().map_err(|_| bad())?, id.to_owned()))
}

/// Grants with their state now, filtered by status and credit type.
/// Order: `effective_at` descending, then id ascending.
#[utoipa::path(get, path = "/v1/customers/{id}/grants", tag = "customers",
    params(("id" = String, Path, description = "Customer id"), GrantListQuery),
    responses((status = 200, body = Page<creditdesk_api::grants::GrantBalance>), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn grants(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    Query(q): Query<GrantListQuery>,
) -> ApiResult<Json<Page<ApiGrantBalance>>> {
    caller.require(Action::Read)?;
    let after = q.cursor.as_deref().map(parse_grant_cursor).transpose()?;
    let only = credit_type_filter(&state, "credit_type", q.credit_type.as_deref())?;
    let c = customer(&state, &id).await?;
    let now = state.store.now();
    let metas = map::grant_metas(state.store.grant_metas(c.id.clone()).await?);
    let mut all: Vec<ApiGrantBalance> = Vec::new();
    for w in wallets(&state, &c.id, only.as_ref(), now, now).await? {
        all.extend(w.balance.grants.iter().map(|g| map::grant_balance(g, &metas, &w.ct.unit_price)));
    }
    all.retain(|g| q.status.is_empty() || q.status.contains(&g.status));
    let key = |g: &ApiGrantBalance| (Reverse(g.grant.effective_at.timestamp_micros()), g.grant.id.clone());
    all.sort_by_key(key);
    if let Some((t, id)) = after {
        let cursor = (Reverse(t), id);
        all.retain(|g| key(g) > cursor);
    }
    let limit = q.effective_limit() as usize;
    let next = if all.len() > limit {
        all.truncate(limit);
        all.last().map(grant_cursor)
    } else {
        None
    };
    Ok(Json(Page::new(all, next)))
}

/// Entries scanned at most per ledger request when filtering in the server
/// (several kinds, or a grant): a page may come back short, with a cursor.
const LEDGER_SCAN_CAP: usize = 20_000;

fn ledger_cursor(e: &Entry) -> String {
    // The store's cursor format: `(recorded_at, seq)` of the last item.
    format!("{}.{}", e.recorded_at.timestamp_micros(), e.seq)
}

/// Ledger entries, newest recorded first, each linking its event, grant,
/// related entry, actor and reason. Filters combine with AND.
#[utoipa::path(get, path = "/v1/customers/{id}/ledger", tag = "customers",
    params(("id" = String, Path, description = "Customer id"), LedgerQuery),
    responses((status = 200, body = Page<LedgerEntry>), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn ledger(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    Query(q): Query<LedgerQuery>,
) -> ApiResult<Json<Page<LedgerEntry>>> {
    caller.require(Action::Read)?;
    if q.order == Some(SortOrder::Asc) {
        return Err(ApiError::field("order", "only `desc` (newest first) is supported by this server version"));
    }
    let c = customer(&state, &id).await?;
    let only = credit_type_filter(&state, "credit_type", q.credit_type.as_deref())?;
    // Ids were shape-checked by the query's `Validate`.
    let grant = q.grant.clone();
    let kinds: Vec<_> = q.kind.iter().copied().map(map::kind_in).collect();
    let filter = LedgerFilter {
        credit_type: only.map(|ct| ct.id.clone()),
        kind: if kinds.len() == 1 { Some(kinds[0]) } else { None },
        product: q.product.as_deref().map(ProductId::new).transpose()?,
        event: q.event.as_deref().map(EventId::new).transpose()?,
        from: q.from,
        to: q.to,
    };
    let limit = q.effective_limit();
    let in_server = kinds.len() > 1 || grant.is_some();
    if !in_server {
        let page = state.store.ledger(c.id.clone(), filter, q.cursor.clone(), limit).await?;
        return Ok(Json(Page::new(page.items.iter().map(map::entry).collect(), page.next_cursor)));
    }
    let keep = |e: &Entry| {
        (kinds.len() <= 1 || kinds.contains(&e.kind))
            && grant.as_deref().is_none_or(|g| e.grant.as_ref().is_some_and(|x| x.as_str() == g))
    };
    let mut cursor = q.cursor.clone();
    let mut items: Vec<Entry> = Vec::new();
    let mut scanned = 0usize;
    let next = 'scan: loop {
        let page = state.store.ledger(c.id.clone(), filter.clone(), cursor.clone(), 1_000).await?;
        let n = page.items.len();
        for (i, e) in page.items.into_iter().enumerate() {
            scanned += 1;
            if keep(&e) {
                items.push(e);
                if items.len() == limit as usize {
                    let more = i + 1 < n || page.next_cursor.is_some();
                    break 'scan if more { items.last().map(ledger_cursor) } else { None };
                }
            }
        }
        match page.next_cursor {
            None => break None,
            Some(c) if scanned >= LEDGER_SCAN_CAP => break Some(c),
            Some(c) => cursor = Some(c),
        }
    };
    Ok(Json(Page::new(items.iter().map(map::entry).collect(), next)))
}

pub fn parse_tz(field: &str, tz: Option<&str>) -> ApiResult<chrono_tz::Tz> {
    match tz {
        None => Ok(chrono_tz::UTC),
        Some(name) => name.parse().map_err(|_| ApiError::field(field, format!("`{name}` is not an IANA time zone"))),
    }
}

/// The burn series' query: [`BurnQuery`] with `from` and `to` optional
/// (default: the 30 days up to now). The API crate makes them required;
/// this accepts every query that does, so clients of either agree. Move the
/// defaults into `creditdesk_api::series::BurnQuery` and drop this type.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BurnParams {
    /// Default: `to` - 30 days.
    #[serde(default)]
    pub from: Option<DateTime<Utc>>,
    /// Default: now (rounded up to the next 15-minute boundary).
    #[serde(default)]
    pub to: Option<DateTime<Utc>>,
    /// Default `day`.
    #[serde(default)]
    #[param(value_type = Option<creditdesk_api::Bucket>)]
    pub bucket: Option<creditdesk_api::Bucket>,
    /// IANA zone, default `UTC`.
    #[serde(default)]
    pub tz: Option<String>,
    /// Default `product`.
    #[serde(default)]
    #[param(value_type = Option<SeriesGroupBy>)]
    pub group_by: Option<SeriesGroupBy>,
    /// Only this credit type (id).
    #[serde(default)]
    pub credit_type: Option<String>,
}

/// Usage per local day, ISO week or month, by product or credit type.
/// `from`/`to` are widened to 15-minute boundaries (the rollup's grain).
#[utoipa::path(get, path = "/v1/customers/{id}/burn", tag = "customers",
    params(("id" = String, Path, description = "Customer id"), BurnParams),
    responses((status = 200, body = creditdesk_api::series::BurnSeries), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn burn(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    PlainQuery(p): PlainQuery<BurnParams>,
) -> ApiResult<Json<ApiBurnSeries>> {
    caller.require(Action::Read)?;
    let to = p.to.unwrap_or_else(|| state.store.now());
    let from = p.from.unwrap_or(to - TimeDelta::days(30));
    let q = BurnQuery { from, to, bucket: p.bucket, tz: p.tz, group_by: p.group_by, credit_type: p.credit_type };
    let errors = q.validate();
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let tz = parse_tz("tz", q.tz.as_deref())?;
    let only = credit_type_filter(&state, "credit_type", q.credit_type.as_deref())?;
    let c = customer(&state, &id).await?;
    let bucket = map::bucket_in(q.bucket.unwrap_or(creditdesk_api::Bucket::Day));
    let series = state.store.burn_series(c.id.clone(), slot_floor(q.from), slot_ceil(q.to), bucket, tz).await?;
    let group_by = q.group_by.unwrap_or(SeriesGroupBy::Product);
    Ok(Json(map::burn_series(c.id.as_str(), &series, group_by, only.as_ref().map(|ct| ct.id.as_str()))))
}

/// Most history points one forecast computes (each is a point-in-time balance).
const MAX_HISTORY_POINTS: usize = 400;

/// One wallet's balance history over `[from, to)` (closing balance of each
/// bucket) and its runway and breakage projection from now.
#[utoipa::path(get, path = "/v1/customers/{id}/forecast", tag = "customers",
    params(("id" = String, Path, description = "Customer id"), ForecastQuery),
    responses((status = 200, body = ForecastResponse), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn forecast(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    Query(q): Query<ForecastQuery>,
) -> ApiResult<Json<ForecastResponse>> {
    caller.require(Action::Read)?;
    let tz = parse_tz("tz", q.tz.as_deref())?;
    let ct = credit_type_filter(&state, "credit_type", Some(&q.credit_type))?
        .ok_or_else(|| ApiError::field("credit_type", "is required"))?;
    let c = customer(&state, &id).await?;
    let now = state.store.now();
    let horizon = q.horizon_days.unwrap_or(DEFAULT_HORIZON_DAYS);
    let to = slot_ceil(q.to.unwrap_or(now));
    let from = slot_floor(q.from.unwrap_or(to - TimeDelta::days(90)));
    if from >= to {
        return Err(ApiError::field("from", "must be before to"));
    }
    let bucket = q.bucket.unwrap_or(creditdesk_api::Bucket::Day);

    // The history's buckets: the burn series' frame over the same window.
    let frame = state.store.burn_series(c.id.clone(), from, to, map::bucket_in(bucket), tz).await?;
    if frame.buckets.len() > MAX_HISTORY_POINTS {
        return Err(ApiError::field(
            "bucket",
            format!("the history would have {} points (at most {MAX_HISTORY_POINTS}); use a coarser bucket or a shorter window", frame.buckets.len()),
        ));
    }
    let mut points = Vec::with_capacity(frame.buckets.len());
    for b in &frame.buckets {
        let end = b.end.min(to);
        // The closing balance: everything booked strictly before `end`.
        let at = end - TimeDelta::microseconds(1);
        let bal = state.store.balance(c.id.clone(), ct.id.clone(), Some(at), Some(now)).await?;
        points.push(BalancePoint {
            date: b.date,
            end,
            partial: b.partial,
            available: bal.available.get(),
            pending: bal.pending.get(),
            overage: bal.overage.get(),
            net: bal.net.get(),
        });
    }

    let balance = state.store.balance(c.id.clone(), ct.id.clone(), Some(now), Some(now)).await?;
    let recent = RecentBurn::load(&state, &c.id, now).await?;
    let f = forecast::forecast(&state, &ct, &balance, &recent, horizon).await?;
    let breakage = f.projected_breakage;
    Ok(Json(ForecastResponse {
        customer_id: c.id.to_string(),
        credit_type_id: ct.id.to_string(),
        unit_price: map::money(&ct.unit_price),
        history: BalanceHistory { bucket, tz: tz.name().to_owned(), from, to, as_of: now, points },
        now: f.now,
        horizon_days: f.horizon_days,
        rates: f
            .rates
            .iter()
            .map(|r| creditdesk_api::series::ProductRate {
                product_id: r.product.to_string(),
                daily_burn_14d: r.daily_burn_14d.get(),
                daily_burn_30d: r.daily_burn_30d.get(),
                rate_used: r.rate_used.get(),
            })
            .collect(),
        daily_burn_14d: f.daily_burn_14d.get(),
        daily_burn_30d: f.daily_burn_30d.get(),
        rate_used: f.rate_used.get(),
        runway_date: f.runway_date,
        runway_days: f.runway_date.map(|d| whole_days(f.now, d)),
        runway_product_id: f.runway_product.as_ref().map(ToString::to_string),
        projected_breakage: breakage.get(),
        projected_breakage_value: map::value(breakage, &ct.unit_price),
        expiries: f
            .expiries
            .iter()
            .map(|e| ProjectedExpiry {
                grant_id: e.grant.to_string(),
                category: map::category(e.category),
                expires_at: e.expires_at,
                unused: e.unused.get(),
                rolled: e.rolled.get(),
            })
            .collect(),
        unmet_demand: f.unmet_demand.get(),
        projection: f.projected_points.iter().map(|(at, a)| ProjectedPoint { at: *at, available: a.get() }).collect(),
    }))
}

/// What will expire unless used: live grants whose remainder now is
/// scheduled to expire in `[from, to)`, with what rollover keeps.
#[utoipa::path(get, path = "/v1/customers/{id}/expirations", tag = "customers",
    params(("id" = String, Path, description = "Customer id"), ExpirationsQuery),
    responses((status = 200, body = ExpirationsResponse), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn expirations(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    Query(q): Query<ExpirationsQuery>,
) -> ApiResult<Json<ExpirationsResponse>> {
    caller.require(Action::Read)?;
    let only = credit_type_filter(&state, "credit_type", q.credit_type.as_deref())?;
    let c = customer(&state, &id).await?;
    let now = state.store.now();
    let from = q.from.unwrap_or(now);
    let mut items = Vec::new();
    let mut totals: Vec<CreditTypeAmount> = Vec::new();
    for w in wallets(&state, &c.id, only.as_ref(), now, now).await? {
        let mut sum = Credits::ZERO;
        for g in &w.balance.grants {
            let Some(exp) = g.grant.expires_at else { continue };
            if g.status != GrantStatus::Active
                || !g.remaining.is_positive()
                || exp < from
                || q.to.is_some_and(|to| exp >= to)
            {
                continue;
            }
            sum += g.remaining;
            items.push(ScheduledExpiry {
                credit_type_id: w.ct.id.to_string(),
                grant_id: g.grant.id.to_string(),
                category: map::category(g.grant.category),
                expires_at: exp,
                amount: g.remaining.get(),
                value: map::value(g.remaining, &w.ct.unit_price),
                rolls_over: g.grant.rollover.map_or(Decimal::ZERO, |p| p.rolled_amount(g.remaining).get()),
            });
        }
        if sum.is_positive() {
            totals.push(CreditTypeAmount {
                credit_type_id: w.ct.id.to_string(),
                credits: sum.get(),
                value: map::value(sum, &w.ct.unit_price),
            });
        }
    }
    items.sort_by(|a, b| (a.expires_at, &a.grant_id).cmp(&(b.expires_at, &b.grant_id)));
    Ok(Json(ExpirationsResponse { customer_id: c.id.to_string(), at: now, items, totals }))
}
