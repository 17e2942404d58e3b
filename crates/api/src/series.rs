//! `GET /v1/customers/{id}/burn` (usage per bucket, by product) and
//! `GET /v1/customers/{id}/forecast` (balance history, runway, breakage).
//! The counting rules are the ledger's (`creditdesk_ledger::series` and
//! `::forecast` module docs): burned = burn + overage entries at event time,
//! reversals reported beside it, never netted.
//!
//! Series are columnar (`columns` once, then one array of amounts per
//! bucket in column order): a year of daily buckets for a dozen products is
//! a few kilobytes instead of thousands of repeated objects.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::common::{Bucket, GrantCategory, Money};
use crate::problem::FieldError;
use crate::validate::{Errors, Validate};

/// Default and largest forecast horizon (days).
pub const DEFAULT_HORIZON_DAYS: u32 = 365;
pub const MAX_HORIZON_DAYS: u32 = 3_660;
/// Most buckets one series may have (ten years of days).
pub const MAX_BUCKETS: u32 = 3_660;

/// Validates an IANA zone name's shape (`Europe/Paris`, `UTC`); the server
/// checks that it exists.
fn tz_shape(e: &mut Errors, field: &str, tz: Option<&str>) {
    if let Some(tz) = tz {
        let ok = !tz.is_empty()
            && tz.len() <= 64
            && tz.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'+'));
        if !ok {
            e.push(field, "must be an IANA time zone name such as \"Europe/Paris\"");
        }
    }
}

/// How the columns of a burn series are cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SeriesGroupBy {
    /// One column per (credit type, product) (default).
    Product,
    /// One column per credit type (`product_id` null).
    CreditType,
}

/// `GET /v1/customers/{id}/burn`.
///
/// `from`/`to` not on a 15-minute UTC boundary (the rollup's grain) are
/// widened by the server: `from` rounded down, `to` up. Buckets are local
/// calendar days, ISO weeks or months in `tz`; the first and last may be
/// partial (`partial: true`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BurnQuery {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Default `day`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<Bucket>,
    /// IANA zone, default `UTC`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
    /// Default `product`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_by: Option<SeriesGroupBy>,
    /// Only this credit type (id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_type: Option<String>,
}

impl Validate for BurnQuery {
    fn validate(&self) -> Vec<FieldError> {
        let mut e = Errors::new();
        e.window(Some(self.from), Some(self.to));
        tz_shape(&mut e, "tz", self.tz.as_deref());
        e.opt_id("credit_type", self.credit_type.as_deref());
        e.into_vec()
    }
}

/// One column of a series.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SeriesColumn {
    pub credit_type_id: String,
    /// `null` for the per-credit-type grouping, and for refund grants
    /// (reversals with no product).
    #[serde(default)]
    pub product_id: Option<String>,
}

/// Usage per bucket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BurnSeries {
    pub customer_id: String,
    pub bucket: Bucket,
    pub tz: String,
    pub group_by: SeriesGroupBy,
    /// The window counted (after widening to 15-minute boundaries).
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Sorted by credit type, then product (`null` first).
    pub columns: Vec<SeriesColumn>,
    pub buckets: Vec<BurnBucket>,
    /// Per column, over the whole window.
    #[serde(with = "crate::decimal::vec")]
    pub burned: Vec<Decimal>,
    #[serde(with = "crate::decimal::vec")]
    pub reversed: Vec<Decimal>,
    #[serde(with = "crate::decimal")]
    pub total_burned: Decimal,
    #[serde(with = "crate::decimal")]
    pub total_reversed: Decimal,
}

/// One bucket of a [`BurnSeries`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BurnBucket {
    /// The local date the bucket starts on (a Monday for weeks, the 1st for months).
    pub date: NaiveDate,
    /// Local midnight of `date`, as an instant.
    pub start: DateTime<Utc>,
    /// The next bucket's start (exclusive).
    pub end: DateTime<Utc>,
    /// Only part of `[start, end)` lies in the window; only that part is counted.
    pub partial: bool,
    /// Per column of the series.
    #[serde(with = "crate::decimal::vec")]
    pub burned: Vec<Decimal>,
    #[serde(with = "crate::decimal::vec")]
    pub reversed: Vec<Decimal>,
    #[serde(with = "crate::decimal")]
    pub total_burned: Decimal,
    #[serde(with = "crate::decimal")]
    pub total_reversed: Decimal,
}

/// `GET /v1/customers/{id}/forecast`: one wallet's balance history over
/// `[from, to)` and its runway and breakage projection from now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ForecastQuery {
    /// Credit type id (a forecast is per wallet).
    pub credit_type: String,
    /// Projection horizon in days, 1..=3660 (default 365).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub horizon_days: Option<u32>,
    /// History window; default the 90 days up to now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime<Utc>>,
    /// History bucket, default `day`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<Bucket>,
    /// IANA zone of the history buckets, default `UTC`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
}

impl Validate for ForecastQuery {
    fn validate(&self) -> Vec<FieldError> {
        let mut e = Errors::new();
        e.id("credit_type", &self.credit_type);
        e.range_u32("horizon_days", self.horizon_days, 1..=MAX_HORIZON_DAYS);
        e.window(self.from, self.to);
        tz_shape(&mut e, "tz", self.tz.as_deref());
        e.into_vec()
    }
}

/// The wallet's closing balance of one bucket (everything booked before `end`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BalancePoint {
    /// The local date the bucket starts on.
    pub date: NaiveDate,
    /// The bucket's end, clipped to the window.
    pub end: DateTime<Utc>,
    pub partial: bool,
    #[serde(with = "crate::decimal")]
    pub available: Decimal,
    #[serde(with = "crate::decimal")]
    pub pending: Decimal,
    #[serde(with = "crate::decimal")]
    pub overage: Decimal,
    #[serde(with = "crate::decimal")]
    pub net: Decimal,
}

/// Balance history of one wallet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BalanceHistory {
    pub bucket: Bucket,
    pub tz: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub as_of: DateTime<Utc>,
    pub points: Vec<BalancePoint>,
}

/// A product's recent daily burn and the rate the projection uses (the larger).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProductRate {
    pub product_id: String,
    #[serde(with = "crate::decimal")]
    pub daily_burn_14d: Decimal,
    #[serde(with = "crate::decimal")]
    pub daily_burn_30d: Decimal,
    #[serde(with = "crate::decimal")]
    pub rate_used: Decimal,
}

/// A grant the projection expects to expire with credits left.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProjectedExpiry {
    pub grant_id: String,
    pub category: GrantCategory,
    pub expires_at: DateTime<Utc>,
    /// Expires unused: breakage.
    #[serde(with = "crate::decimal")]
    pub unused: Decimal,
    /// Carried into a rollover grant instead (not breakage).
    #[serde(with = "crate::decimal")]
    pub rolled: Decimal,
}

/// `available` at one future instant of the projection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProjectedPoint {
    pub at: DateTime<Utc>,
    #[serde(with = "crate::decimal")]
    pub available: Decimal,
}

/// History and projection for one wallet (mirrors the ledger's `Forecast`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ForecastResponse {
    pub customer_id: String,
    pub credit_type_id: String,
    pub unit_price: Money,
    pub history: BalanceHistory,
    /// The instant the projection starts from.
    pub now: DateTime<Utc>,
    pub horizon_days: u32,
    /// Every product with usage in the last 30 days, by product id.
    pub rates: Vec<ProductRate>,
    #[serde(with = "crate::decimal")]
    pub daily_burn_14d: Decimal,
    #[serde(with = "crate::decimal")]
    pub daily_burn_30d: Decimal,
    #[serde(with = "crate::decimal")]
    pub rate_used: Decimal,
    /// First instant some product's demand goes unmet; `null` if not within the horizon.
    #[serde(default)]
    pub runway_date: Option<DateTime<Utc>>,
    /// Whole days from `now` to `runway_date`, rounded down.
    #[serde(default)]
    pub runway_days: Option<u32>,
    /// The product whose demand goes unmet first.
    #[serde(default)]
    pub runway_product_id: Option<String>,
    /// Credits expiring unused within the horizon.
    #[serde(with = "crate::decimal")]
    pub projected_breakage: Decimal,
    pub projected_breakage_value: Money,
    pub expiries: Vec<ProjectedExpiry>,
    /// Demand no grant covers within the horizon (future overage).
    #[serde(with = "crate::decimal")]
    pub unmet_demand: Decimal,
    /// `available` at `now + k days`, `k = 0..=horizon_days`.
    pub projection: Vec<ProjectedPoint>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn burn_query_requires_window_and_checks_shape() {
        assert!(serde_urlencoded::from_str::<BurnQuery>("bucket=day").is_err(), "from and to are required");
        let q: BurnQuery = serde_urlencoded::from_str(
            "from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z&bucket=week&tz=Europe%2FParis&group_by=credit_type",
        )
        .unwrap();
        assert_eq!(q.bucket, Some(Bucket::Week));
        assert_eq!(q.group_by, Some(SeriesGroupBy::CreditType));
        assert!(q.validate().is_empty());
        let bad = BurnQuery { tz: Some("Paris time".into()), to: q.from, ..q };
        let fields: Vec<String> = bad.validate().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["to", "tz"]);
        assert!(serde_urlencoded::from_str::<BurnQuery>(
            "from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z&bucket=hour"
        )
        .is_err());
    }

    #[test]
    fn series_is_columnar_strings() {
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let s = BurnSeries {
            customer_id: "c1".into(),
            bucket: Bucket::Day,
            tz: "UTC".into(),
            group_by: SeriesGroupBy::Product,
            from: t,
            to: t + chrono::TimeDelta::days(1),
            columns: vec![SeriesColumn { credit_type_id: "ct".into(), product_id: Some("p".into()) }],
            buckets: vec![BurnBucket {
                date: t.date_naive(),
                start: t,
                end: t + chrono::TimeDelta::days(1),
                partial: false,
                burned: vec![Decimal::new(15, 1)],
                reversed: vec![Decimal::ZERO],
                total_burned: Decimal::new(15, 1),
                total_reversed: Decimal::ZERO,
            }],
            burned: vec![Decimal::new(15, 1)],
            reversed: vec![Decimal::ZERO],
            total_burned: Decimal::new(15, 1),
            total_reversed: Decimal::ZERO,
        };
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["buckets"][0]["burned"], serde_json::json!(["1.5"]));
        assert_eq!(v["buckets"][0]["date"], "2026-01-01");
        assert_eq!(serde_json::from_value::<BurnSeries>(v).unwrap(), s);
    }

    #[test]
    fn forecast_query_rules() {
        let q: ForecastQuery = serde_urlencoded::from_str("credit_type=batch&horizon_days=0").unwrap();
        assert_eq!(q.validate(), [FieldError::new("horizon_days", "must be between 1 and 3660")]);
        assert!(serde_urlencoded::from_str::<ForecastQuery>("horizon_days=30").is_err(), "credit_type required");
    }
}
