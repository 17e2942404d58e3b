//! The views the UI asks for, built from billing API answers: each is one
//! command's result, carries its [`DataAge`], and holds display-ready
//! decimals as strings (the UI never does money arithmetic). Charts are
//! drawn here with `creditdesk-charts` and come with their exact table.

use std::fmt::Write as _;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use creditdesk_api::admin::{CreditType, Product};
use creditdesk_api::balances::{BalanceQuery, BalancesResponse, CreditTypeAmount, ExpirationsQuery};
use creditdesk_api::common::{Bucket, EntryKind, SortOrder};
use creditdesk_api::customers::{CustomerListQuery, CustomerSort, CustomerSummary};
use creditdesk_api::disputes::EventEvidence;
use creditdesk_api::events::{RejectedEvent, RejectedEventsQuery};
use creditdesk_api::ledger::{LedgerEntry, LedgerQuery};
use creditdesk_api::reports::{
    BreakageQuery, BreakageReport, ExpirationGroupBy, ExpirationReport, ExpirationReportQuery, ReconciliationQuery,
    ReconciliationReport,
};
use creditdesk_api::series::{BurnQuery, ForecastQuery, SeriesGroupBy};
use creditdesk_api::{Page, PageParams, MAX_LIMIT};
use creditdesk_charts as charts;
use creditdesk_client::{Client, ClientError};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{some_text, AppCore, CoreError, DataAge};

/// Light or dark: charts are drawn in the UI's theme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ThemeName {
    Light,
    Dark,
}

impl ThemeName {
    fn theme(self) -> charts::Theme {
        match self {
            ThemeName::Light => charts::Theme::light(),
            ThemeName::Dark => charts::Theme::dark(),
        }
    }
}

/// Where and how big a chart is drawn (CSS pixels of its container).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChartSpec {
    pub width: u32,
    pub height: u32,
    pub theme: ThemeName,
}

impl ChartSpec {
    fn size(self) -> charts::Size {
        charts::Size::new(self.width.clamp(320, 4000), self.height.clamp(160, 2000))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TableColumn {
    pub header: String,
    /// Right-aligned.
    pub numeric: bool,
}

/// A drawn chart and the exact values it shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChartView {
    /// A standalone `<svg role="img">` drawn by the app's Rust side.
    pub svg: String,
    pub caption: String,
    pub columns: Vec<TableColumn>,
    pub rows: Vec<Vec<String>>,
    pub age: DataAge,
}

impl ChartView {
    fn new(chart: charts::Chart, age: DataAge) -> ChartView {
        let t = chart.table;
        ChartView {
            svg: chart.svg,
            caption: t.caption,
            columns: t.columns.into_iter().map(|c| TableColumn { header: c.header, numeric: c.numeric }).collect(),
            rows: t.rows,
            age,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CustomersPage {
    pub items: Vec<CustomerSummary>,
    #[serde(default)]
    pub next_cursor: Option<String>,
    pub age: DataAge,
}

/// The customer view's head: the summary, balances now and what expires
/// within 30 days per credit type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CustomerView {
    pub customer: CustomerSummary,
    pub balances: BalancesResponse,
    pub expiring_30d: Vec<CreditTypeAmount>,
    pub age: DataAge,
}

/// A ledger entry with a sentence saying what it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LedgerRow {
    pub entry: LedgerEntry,
    pub explanation: String,
}

/// The Customers view's search, filters and order, all optional; the
/// billing API filters and sorts (every page would have to be loaded to do
/// it here).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CustomerFilter {
    /// Name, id or external reference.
    #[serde(default)]
    pub q: Option<String>,
    /// Only customers with a wallet whose runway ends in fewer days.
    #[serde(default)]
    pub runway_under_days: Option<u32>,
    /// Only customers with credits expiring within this many days.
    #[serde(default)]
    pub expiring_within_days: Option<u32>,
    #[serde(default)]
    pub sort: Option<CustomerSort>,
    #[serde(default)]
    pub order: Option<SortOrder>,
}

impl CustomerFilter {
    fn query(self, cursor: Option<String>) -> CustomerListQuery {
        CustomerListQuery {
            q: some_text(self.q),
            runway_under_days: self.runway_under_days,
            expiring_within_days: self.expiring_within_days,
            sort: self.sort,
            order: self.order,
            limit: Some(50),
            cursor,
        }
    }
}

/// The customer view's ledger filters, all optional. Days are UTC days,
/// both ends included.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LedgerFilter {
    #[serde(default)]
    pub credit_type: Option<String>,
    #[serde(default)]
    pub kind: Option<EntryKind>,
    /// Entries of usage of this product.
    #[serde(default)]
    pub product: Option<String>,
    /// Entries booked on or after this day.
    #[serde(default)]
    pub from: Option<NaiveDate>,
    /// Entries booked on or before this day.
    #[serde(default)]
    pub to: Option<NaiveDate>,
}

impl LedgerFilter {
    /// The API's query for this filter: the days become instants (`to`'s
    /// day is included, so the API's exclusive end is the next midnight).
    fn query(self, cursor: Option<String>) -> Result<LedgerQuery, CoreError> {
        if let (Some(from), Some(to)) = (self.from, self.to) {
            if to < from {
                return Err(CoreError::input("to", "must not be before from"));
            }
        }
        let midnight = |d: NaiveDate| d.and_time(NaiveTime::MIN).and_utc();
        Ok(LedgerQuery {
            kind: self.kind.into_iter().collect(),
            credit_type: some_text(self.credit_type),
            product: some_text(self.product),
            from: self.from.map(midnight),
            to: self.to.and_then(|d| d.succ_opt()).map(midnight),
            order: Some(SortOrder::Desc),
            limit: Some(50),
            cursor,
            ..LedgerQuery::default()
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LedgerPage {
    pub items: Vec<LedgerRow>,
    #[serde(default)]
    pub next_cursor: Option<String>,
    pub age: DataAge,
}

/// The `report-progress` event's payload: which step of a long report
/// (the finance view, a CSV export) is under way.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReportProgress {
    /// 1-based.
    pub step: u32,
    pub of: u32,
    pub label: String,
}

impl ReportProgress {
    /// The finance view's steps: four reports, then the charts.
    const FINANCE_STEPS: u32 = 5;

    fn new(step: u32, label: &str) -> ReportProgress {
        ReportProgress { step, of: Self::FINANCE_STEPS, label: label.to_owned() }
    }
}

/// Where a long report says how far it got.
pub type Progress = Arc<dyn Fn(ReportProgress) + Send + Sync>;

/// A page of a customer's rejected usage events, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RejectedPage {
    pub items: Vec<RejectedEvent>,
    #[serde(default)]
    pub next_cursor: Option<String>,
    pub age: DataAge,
}

/// The balances at a past instant, as known now and as known then.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BalanceAtView {
    pub at: DateTime<Utc>,
    /// With everything recorded since (late usage, corrections).
    pub known_now: BalancesResponse,
    /// With only what was recorded by `at`: what the console said then.
    pub known_then: BalancesResponse,
    pub age: DataAge,
}

/// One step of the "Explain balance" waterfall.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WaterfallStep {
    pub label: String,
    /// Signed credits (a decimal string); the total steps carry the running sum.
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String)]
    pub amount: Decimal,
    /// `true` for a subtotal/total bar.
    pub total: bool,
}

/// Granted - burned - expired - voided +/- reversals and corrections = what
/// the grants hold, for one credit type, from the grants' own totals.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BalanceExplanation {
    pub credit_type_id: String,
    pub unit_label: String,
    pub steps: Vec<WaterfallStep>,
    /// What the balance endpoint says (available + pending); the waterfall
    /// must arrive there, and `difference` says by how much it does not.
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String)]
    pub reported: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String)]
    pub difference: Decimal,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ExplainView {
    pub wallets: Vec<BalanceExplanation>,
    pub age: DataAge,
}

/// Finance: expiring liability, breakage and reconciliation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FinanceView {
    pub days: u32,
    pub expirations: ExpirationReport,
    pub expiring_chart: ChartView,
    pub by_customer: ExpirationReport,
    pub breakage: BreakageReport,
    pub breakage_chart: ChartView,
    pub reconciliation: ReconciliationReport,
    pub age: DataAge,
}

fn start_of(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN).and_utc()
}

fn days_range(days: u32) -> Result<u32, CoreError> {
    match days {
        30 | 90 | 365 => Ok(days),
        _ => Err(CoreError::input("days", "must be 30, 90 or 365")),
    }
}

fn product_name(id: Option<&str>) -> String {
    id.unwrap_or("refunds").to_owned()
}

/// Rejected events per page: a support agent reads the latest few.
const REJECTED_PAGE: u32 = 50;

/// Every item of a paged catalog list. Catalogs are small; every page is read.
async fn every_item<T, Fut>(mut list: impl FnMut(PageParams) -> Fut) -> Result<Vec<T>, ClientError>
where
    Fut: std::future::Future<Output = Result<Page<T>, ClientError>>,
{
    let mut all = Vec::new();
    let mut page = PageParams { limit: Some(MAX_LIMIT), cursor: None };
    loop {
        let got = list(page.clone()).await?;
        all.extend(got.items);
        match got.next_cursor {
            Some(next) => page.cursor = Some(next),
            None => return Ok(all),
        }
    }
}

/// Every row of a paged report, all pages: the finance table and its CSV
/// export must add up to the report's totals, whatever the page size.
async fn every_page(c: &Client, mut query: ExpirationReportQuery) -> Result<ExpirationReport, ClientError> {
    let mut report = c.report_expirations(&query).await?;
    while let Some(next) = report.next_cursor.take() {
        query.cursor = Some(next);
        let page = c.report_expirations(&query).await?;
        report.rows.extend(page.rows);
        report.next_cursor = page.next_cursor;
    }
    Ok(report)
}

impl AppCore {
    pub async fn customers(&self, filter: CustomerFilter, cursor: Option<String>) -> Result<CustomersPage, CoreError> {
        let query = filter.query(cursor);
        let key = format!("customers?{}", serde_json::to_string(&query).unwrap_or_default());
        let (page, age) = self.fetch(&key, |c| async move { Ok(c.customers(&query).await?) }).await?;
        Ok(CustomersPage { items: page.items, next_cursor: page.next_cursor, age })
    }

    /// Every credit type of the catalog (any role may read it): what the
    /// grant dialog offers, a customer's first grant included.
    pub async fn credit_types(&self) -> Result<Vec<CreditType>, CoreError> {
        self.catalog("credit-types", |c, page| async move { c.credit_types(&page).await }).await
    }

    /// Every product of the catalog: the grant dialog's choice of products
    /// a grant may be restricted to.
    pub async fn products(&self) -> Result<Vec<Product>, CoreError> {
        self.catalog("products", |c, page| async move { c.products(&page).await }).await
    }

    /// Every item of a catalog list, every page (any role may read them).
    async fn catalog<T, Fut>(&self, key: &str, list: fn(Client, PageParams) -> Fut) -> Result<Vec<T>, CoreError>
    where
        T: Serialize + serde::de::DeserializeOwned,
        Fut: std::future::Future<Output = Result<Page<T>, ClientError>>,
    {
        let (items, _) =
            self.fetch(key, |c| async move { Ok(every_item(|page| list(c.clone(), page)).await?) }).await?;
        Ok(items)
    }

    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn customer(&self, id: &str) -> Result<CustomerView, CoreError> {
        let id = id.to_owned();
        let key = format!("customer/{id}");
        let (view, age) = self
            .fetch(&key, |c| async move {
                let now = Utc::now();
                let q = ExpirationsQuery { credit_type: None, from: Some(now), to: Some(now + Duration::days(30)) };
                let all = BalanceQuery::default();
                // Three independent requests: one round trip's wait, not three.
                let (customer, balances, expiring) =
                    tokio::try_join!(c.customer(&id), c.balances(&id, &all), c.expirations(&id, &q))?;
                Ok((customer, balances, expiring.totals))
            })
            .await?;
        let (customer, balances, expiring_30d) = view;
        Ok(CustomerView { customer, balances, expiring_30d, age })
    }

    /// Daily burn of one wallet over the last `days` (30, 90 or 365) UTC days, stacked by product.
    #[tracing::instrument(level = "debug", skip(self, spec))]
    pub async fn burn_chart(
        &self,
        customer: &str,
        credit_type: &str,
        days: u32,
        spec: ChartSpec,
    ) -> Result<ChartView, CoreError> {
        let days = days_range(days)?;
        let last_day = Utc::now().date_naive();
        let first_day = last_day - Duration::days(days as i64 - 1);
        let query = BurnQuery {
            from: start_of(first_day),
            to: start_of(last_day + Duration::days(1)),
            bucket: Some(Bucket::Day),
            tz: None,
            group_by: Some(SeriesGroupBy::Product),
            credit_type: Some(credit_type.to_owned()),
        };
        let (customer, ct) = (customer.to_owned(), credit_type.to_owned());
        let key = format!("burn/{customer}/{ct}/{days}/{first_day}");
        let ((series, summary), age) = self
            .fetch(&key, |c| async move {
                // Both at once: the summary only names the unit.
                let (series, summary) = tokio::try_join!(c.burn(&customer, &query), c.customer(&customer))?;
                Ok((series, summary))
            })
            .await?;
        let unit = unit_label(&summary, credit_type);
        let input = charts::DailyBurn {
            unit,
            first_day,
            last_day,
            products: series.columns.iter().map(|c| product_name(c.product_id.as_deref())).collect(),
            days: series
                .buckets
                .iter()
                .filter(|b| b.date >= first_day && b.date <= last_day)
                .map(|b| charts::BurnDay { date: b.date, burned: b.burned.clone() })
                .collect(),
        };
        let chart = tracing::debug_span!("draw_burn").in_scope(|| {
            charts::daily_burn_chart(&input, spec.size(), &spec.theme.theme(), &charts::ChartLocale::en_us())
        })?;
        Ok(ChartView::new(chart, age))
    }

    /// Balance history (90 days), grant and expiry markers, and the runway projection (90 days).
    #[tracing::instrument(level = "debug", skip(self, spec))]
    pub async fn balance_chart(
        &self,
        customer: &str,
        credit_type: &str,
        spec: ChartSpec,
    ) -> Result<ChartView, CoreError> {
        let (cid, ct) = (customer.to_owned(), credit_type.to_owned());
        let key = format!("forecast/{cid}/{ct}");
        let ((forecast, balances), age) = self
            .fetch(&key, |c| async move {
                let q = ForecastQuery {
                    credit_type: ct.clone(),
                    horizon_days: Some(90),
                    from: None,
                    to: None,
                    bucket: None,
                    tz: None,
                };
                let balance_query = BalanceQuery { credit_type: Some(ct), ..Default::default() };
                Ok(tokio::try_join!(c.forecast(&cid, &q), c.balances(&cid, &balance_query))?)
            })
            .await?;
        let today = forecast.now.date_naive();
        let balance = balances.balances.iter().find(|b| b.credit_type_id == credit_type);
        let grants = balance
            .map(|b| {
                b.grants
                    .iter()
                    .map(|g| charts::BalanceMarker {
                        date: g.grant.effective_at.date_naive(),
                        credits: g.grant.amount,
                        label: g.grant.reason_code.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut projection: Vec<charts::BalancePoint> = Vec::new();
        for p in &forecast.projection {
            let date = p.at.date_naive();
            match projection.last_mut() {
                Some(last) if last.date == date => last.available = p.available,
                _ => projection.push(charts::BalancePoint { date, available: p.available }),
            }
        }
        let input = charts::BalanceForecast {
            unit: balance.map(|b| b.unit_label.clone()).unwrap_or_else(|| credit_type.to_owned()),
            history: forecast
                .history
                .points
                .iter()
                .map(|p| charts::BalancePoint { date: p.date, available: p.available })
                .collect(),
            today,
            projection,
            runway_end: forecast.runway_date.map(|d| d.date_naive()),
            grants,
            expiries: forecast
                .expiries
                .iter()
                .filter(|e| e.unused > Decimal::ZERO)
                .map(|e| charts::BalanceMarker {
                    date: e.expires_at.date_naive(),
                    credits: e.unused,
                    label: e.grant_id.clone(),
                })
                .collect(),
        };
        let chart = tracing::debug_span!("draw_balance").in_scope(|| {
            charts::balance_chart(&input, spec.size(), &spec.theme.theme(), &charts::ChartLocale::en_us())
        })?;
        Ok(ChartView::new(chart, age))
    }

    /// Ledger entries, newest first, 50 a page.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn ledger(
        &self,
        customer: &str,
        filter: LedgerFilter,
        cursor: Option<String>,
    ) -> Result<LedgerPage, CoreError> {
        let query = filter.query(cursor)?;
        let cid = customer.to_owned();
        let key = format!("ledger/{cid}?{}", serde_json::to_string(&query).unwrap_or_default());
        let (page, age) = self.fetch(&key, |c| async move { Ok(c.ledger(&cid, &query).await?) }).await?;
        let items =
            page.items.into_iter().map(|entry| LedgerRow { explanation: explain_entry(&entry), entry }).collect();
        Ok(LedgerPage { items, next_cursor: page.next_cursor, age })
    }

    /// The customer's usage events the API refused (too old, in the future,
    /// an unknown product, ...), with the reason, newest first: what
    /// support looks at when usage seems to be missing.
    pub async fn rejected_events(&self, customer: &str, cursor: Option<String>) -> Result<RejectedPage, CoreError> {
        let query = RejectedEventsQuery {
            customer: Some(customer.to_owned()),
            limit: Some(REJECTED_PAGE),
            cursor,
            ..Default::default()
        };
        let key = format!("rejected/{customer}?{}", serde_json::to_string(&query).unwrap_or_default());
        let (page, age) = self.fetch(&key, |c| async move { Ok(c.rejected_events(&query).await?) }).await?;
        Ok(RejectedPage { items: page.items, next_cursor: page.next_cursor, age })
    }

    /// The usage event behind a ledger row: its quantity, the rate and the
    /// rate-card version it was rated at, its burns and any reversal.
    pub async fn usage_event(&self, event: &str) -> Result<EventEvidence, CoreError> {
        let id = event.to_owned();
        let (found, _) = self.fetch(&format!("event/{id}"), |c| async move { Ok(c.usage_event(&id).await?) }).await?;
        Ok(found)
    }

    /// Balances at `at` (in the past), as known now and as known then.
    pub async fn balance_at(&self, customer: &str, at: DateTime<Utc>) -> Result<BalanceAtView, CoreError> {
        if at > Utc::now() {
            return Err(CoreError::input("at", "must not be in the future"));
        }
        let cid = customer.to_owned();
        let key = format!("balance_at/{cid}/{}", at.to_rfc3339());
        let ((known_now, known_then), age) = self
            .fetch(&key, |c| async move {
                let known_now = BalanceQuery { at: Some(at), ..Default::default() };
                let known_then = BalanceQuery { at: Some(at), as_of: Some(at), ..Default::default() };
                Ok(tokio::try_join!(c.balances(&cid, &known_now), c.balances(&cid, &known_then))?)
            })
            .await?;
        Ok(BalanceAtView { at, known_now, known_then, age })
    }

    /// The "Explain balance" waterfall per credit type, from the grants' totals now.
    pub async fn explain_balance(&self, customer: &str) -> Result<ExplainView, CoreError> {
        let cid = customer.to_owned();
        let key = format!("balances/{cid}");
        let (balances, age) =
            self.fetch(&key, |c| async move { Ok(c.balances(&cid, &BalanceQuery::default()).await?) }).await?;
        Ok(ExplainView { wallets: balances.balances.iter().map(waterfall).collect(), age })
    }

    /// Finance over the next `days` (7, 30 or 90) and breakage over the last
    /// 12 months, reporting each step to `progress`; `cancel_reports` stops it
    /// between requests (`CoreError::Cancelled`).
    pub async fn finance(&self, days: u32, spec: ChartSpec, progress: Progress) -> Result<FinanceView, CoreError> {
        let cancel = self.reports_cancel.clone();
        tokio::select! {
            // Listening before the work starts, so no cancel is missed.
            biased;
            () = cancel.notified() => Err(CoreError::Cancelled),
            view = self.gather_finance(days, spec, progress) => view,
        }
    }

    /// Stops every report being gathered now.
    pub fn cancel_reports(&self) {
        self.reports_cancel.notify_waiters();
    }

    async fn gather_finance(&self, days: u32, spec: ChartSpec, progress: Progress) -> Result<FinanceView, CoreError> {
        if !matches!(days, 7 | 30 | 90) {
            return Err(CoreError::input("days", "must be 7, 30 or 90"));
        }
        let today = Utc::now().date_naive();
        let this_month = today.with_day(1).expect("day 1 exists");
        let first_month = (this_month - Duration::days(320)).with_day(1).expect("day 1 exists");
        let key = format!("finance/{days}/{today}");
        let step = progress.clone();
        let ((expirations, by_customer, breakage, reconciliation), age) = self
            .fetch(&key, |c| async move {
                step(ReportProgress::new(1, "expiring credits by week"));
                let weeks = ExpirationReportQuery {
                    days: Some(days),
                    group_by: Some(ExpirationGroupBy::Week),
                    ..Default::default()
                };
                let expirations = c.report_expirations(&weeks).await?;
                let per_customer = ExpirationReportQuery {
                    days: Some(days),
                    group_by: Some(ExpirationGroupBy::Customer),
                    limit: Some(MAX_LIMIT),
                    ..Default::default()
                };
                step(ReportProgress::new(2, "expiring credits by customer"));
                let by_customer = every_page(&c, per_customer).await?;
                step(ReportProgress::new(3, "breakage by month"));
                let bq =
                    BreakageQuery { from: Some(start_of(first_month)), to: Some(Utc::now()), ..Default::default() };
                let breakage = c.report_breakage(&bq).await?;
                let rq = ReconciliationQuery {
                    from: start_of(today - Duration::days(29)),
                    to: start_of(today + Duration::days(1)),
                    bucket: Some(Bucket::Week),
                    tz: None,
                    credit_type: None,
                    customer: None,
                };
                step(ReportProgress::new(4, "reconciliation"));
                let reconciliation = c.report_reconciliation(&rq).await?;
                Ok((expirations, by_customer, breakage, reconciliation))
            })
            .await?;
        progress(ReportProgress::new(5, "charts"));
        let (theme, locale) = (spec.theme.theme(), charts::ChartLocale::en_us());
        let monday = |d: NaiveDate| d - Duration::days(d.weekday().num_days_from_monday() as i64);
        let expiring = charts::ExpiringCredits {
            currency: expirations.total_value.currency.clone(),
            first_week: monday(today),
            last_week: monday(today + Duration::days(days as i64 - 1)),
            rows: expirations
                .rows
                .iter()
                .filter_map(|r| {
                    Some(charts::ExpiringRow {
                        week: r.week_start?,
                        credit_type: r.credit_type_id.clone(),
                        credits: r.credits,
                        value: r.value.amount,
                    })
                })
                .collect(),
        };
        let expiring_chart =
            ChartView::new(charts::expiring_chart(&expiring, spec.size(), &theme, &locale)?, age.clone());
        let breakage_input = charts::Breakage {
            currency: breakage.total_expired_value.currency.clone(),
            first_month,
            last_month: this_month,
            rows: breakage
                .rows
                .iter()
                // The app asks for the default grouping: every row has its month.
                .filter_map(|r| Some((r.month.filter(|m| *m >= first_month && *m <= this_month)?, r)))
                .map(|(month, r)| charts::BreakageRow {
                    month,
                    credit_type: r.credit_type_id.clone(),
                    category: r.category.as_str().to_owned(),
                    expired: r.expired,
                    expired_value: r.expired_value.amount,
                    voided: r.voided,
                    voided_value: r.voided_value.amount,
                })
                .collect(),
        };
        let breakage_chart =
            ChartView::new(charts::breakage_chart(&breakage_input, spec.size(), &theme, &locale)?, age.clone());
        Ok(FinanceView {
            days,
            expirations,
            expiring_chart,
            by_customer,
            breakage,
            breakage_chart,
            reconciliation,
            age,
        })
    }
}

fn unit_label(summary: &CustomerSummary, credit_type: &str) -> String {
    summary
        .wallets
        .iter()
        .find(|w| w.credit_type_id == credit_type)
        .map(|w| w.unit_label.clone())
        .unwrap_or_else(|| credit_type.to_owned())
}

/// What a ledger row is, in one sentence: the kind, the amount, and what it
/// came from (usage event and product, grant, actor, reason, ticket, note).
pub fn explain_entry(e: &LedgerEntry) -> String {
    let what = match e.kind {
        EntryKind::Grant => "Credits granted",
        EntryKind::Burn => "Usage burned credits",
        EntryKind::Overage => "Usage beyond the balance (overage)",
        EntryKind::OverageSettled => "Earlier overage settled from a grant",
        EntryKind::Expire => "Credits expired unused",
        EntryKind::ExpiryCorrection => "Expiry corrected by late usage",
        EntryKind::RolloverOut => "Credits rolled over into a new grant",
        EntryKind::Void => "Grant voided",
        EntryKind::Reversal => "Usage reversed (dispute)",
    };
    let mut s = format!("{what}: {} {}", e.amount, e.credit_type_id);
    if let Some(p) = &e.product_id {
        let _ = write!(s, " for product {p}");
    }
    if let Some(ev) = &e.event_id {
        let _ = write!(s, ", usage event {ev}");
    }
    if let Some(g) = &e.grant_id {
        let _ = write!(s, ", grant {g}");
    }
    if let Some(r) = e.related_seq {
        let _ = write!(s, ", related to entry #{r}");
    }
    let _ = write!(s, "; by {}", e.actor);
    if let Some(a) = &e.approved_by {
        let _ = write!(s, ", approved by {a}");
    }
    if let Some(r) = &e.reason_code {
        let _ = write!(s, "; reason {r}");
    }
    if let Some(t) = &e.ticket_ref {
        let _ = write!(s, "; ticket {t}");
    }
    if let Some(n) = &e.note {
        let _ = write!(s, "; note: {n}");
    }
    if e.recorded_at - e.booked_at > Duration::minutes(1) {
        // Minutes in UTC, as the ledger's own column shows times.
        let utc = |t: DateTime<Utc>| t.format("%b %-d, %Y, %H:%M UTC").to_string();
        let _ = write!(s, "; booked at {} but recorded at {} (late)", utc(e.booked_at), utc(e.recorded_at));
    }
    s
}

/// The waterfall of one wallet from its grants' totals.
pub fn waterfall(b: &creditdesk_api::balances::Balance) -> BalanceExplanation {
    let sum = |f: fn(&creditdesk_api::grants::GrantTotals) -> Decimal| -> Decimal {
        b.grants.iter().map(|g| f(&g.totals)).sum()
    };
    let granted = sum(|t| t.amount);
    let moves: [(&str, Decimal); 7] = [
        ("Burned", -sum(|t| t.burned)),
        ("Settled overage", -sum(|t| t.settled)),
        ("Expired", -sum(|t| t.expired)),
        ("Expiry corrections", sum(|t| t.corrected)),
        ("Rolled over", -sum(|t| t.rolled)),
        ("Voided", -sum(|t| t.voided)),
        ("Reversals", sum(|t| t.reversed)),
    ];
    let mut steps = vec![WaterfallStep { label: "Granted".into(), amount: granted, total: false }];
    let mut running = granted;
    for (label, amount) in moves {
        running += amount;
        steps.push(WaterfallStep { label: label.into(), amount, total: false });
    }
    steps.push(WaterfallStep { label: "Held by grants".into(), amount: running, total: true });
    let reported = b.available + b.pending;
    BalanceExplanation {
        credit_type_id: b.credit_type_id.clone(),
        unit_label: b.unit_label.clone(),
        steps,
        reported,
        difference: reported - running,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::profile::Profiles;
    use creditdesk_server::seed::SeedOptions;

    /// An app on its own embedded server, seeded; the directory holds its files.
    async fn seeded(size: SeedOptions) -> (tempfile::TempDir, AppCore) {
        let dir = tempfile::tempdir().unwrap();
        let core = AppCore::new(Profiles::new(dir.path().join("c"), dir.path().join("d")));
        core.start_embedded(size, |_| {}).await.unwrap();
        (dir, core)
    }

    /// The finance view's table by customer holds every row of the report,
    /// however many pages the API splits it into, and adds up to its total.
    #[tokio::test]
    async fn the_finance_table_by_customer_has_every_page() {
        let (_dir, core) = seeded(SeedOptions { customers: 4, days: 40, seed: 3 }).await;
        let client = core.client().await.unwrap();
        let query = |limit| ExpirationReportQuery {
            days: Some(90),
            group_by: Some(ExpirationGroupBy::Customer),
            limit: Some(limit),
            ..Default::default()
        };
        let one_page = client.report_expirations(&query(MAX_LIMIT)).await.unwrap();
        assert!(one_page.rows.len() >= 3, "rows to page through: {}", one_page.rows.len());
        let first = client.report_expirations(&query(1)).await.unwrap();
        assert!(first.next_cursor.is_some(), "a page of one row has a next page");
        let paged = every_page(&client, query(1)).await.unwrap();
        assert_eq!(paged.rows, one_page.rows);
        assert_eq!(paged.next_cursor, None);

        let spec = ChartSpec { width: 800, height: 300, theme: ThemeName::Light };
        let steps = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = steps.clone();
        let view = core.finance(90, spec, Arc::new(move |p| seen.lock().unwrap().push(p))).await.unwrap();
        assert_eq!(view.by_customer.rows, one_page.rows);
        let sum: Decimal = view.by_customer.rows.iter().map(|r| r.value.amount).sum();
        assert_eq!(sum, view.by_customer.total_value.amount);
        let steps = steps.lock().unwrap().clone();
        assert_eq!(steps.iter().map(|p| (p.step, p.of)).collect::<Vec<_>>(), [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]);

        // "Cancel" during the reports: the view answers `Cancelled`, and the next one runs.
        let core = Arc::new(core);
        let canceller = core.clone();
        let cancel_at_step_2 = Arc::new(move |p: ReportProgress| {
            if p.step == 2 {
                canceller.cancel_reports();
            }
        });
        let e = core.finance(90, spec, cancel_at_step_2).await.unwrap_err();
        assert!(matches!(e, CoreError::Cancelled), "{e}");
        assert!(core.finance(90, spec, Arc::new(|_| {})).await.is_ok(), "a cancel stops only what runs");
    }

    /// An event older than the late window is refused, kept with its
    /// reason, and listed for its customer alone, newest first.
    #[tokio::test]
    async fn a_customers_rejected_events_are_listed_with_the_reason() {
        use creditdesk_api::events::{EventIn, IngestRequest};
        let (_dir, core) = seeded(SeedOptions { customers: 2, days: 10, seed: 5 }).await;
        let client = core.client().await.unwrap();
        let product = core.products().await.unwrap()[0].id.clone();
        let event = |id: &str, customer: &str, days_ago: i64| EventIn {
            id: id.into(),
            customer_id: customer.into(),
            product_id: product.clone(),
            quantity: Decimal::ONE,
            timestamp: Utc::now() - Duration::days(days_ago),
            properties: Default::default(),
        };
        let events =
            vec![event("late-1", "cus_0001", 400), event("late-2", "cus_0001", 300), event("other", "cus_0002", 400)];
        client.ingest(&IngestRequest { events, mode: None, result_detail: None }).await.unwrap();
        let page = core.rejected_events("cus_0001", None).await.unwrap();
        let ids: Vec<&str> = page.items.iter().map(|r| r.event.id.as_str()).collect();
        assert_eq!(ids, ["late-2", "late-1"], "this customer's, newest first");
        assert!(page.items.iter().all(|r| r.reason.code.as_str() == "event_too_old"), "{:?}", page.items);
        assert!(core.rejected_events("cus_0001", Some("x".into())).await.is_err(), "a cursor the API did not issue");
    }
}
