//! Creditdesk's charts, drawn with `plotters` to SVG strings.
//!
//! One function per chart, each taking the chart's input, a [`Size`] in CSS
//! pixels, a [`Theme`] and a [`ChartLocale`], and returning a [`Chart`]: the
//! SVG and a [`Table`] of the exact values it shows (the accessible
//! alternative, and what a screen reader or a copy-paste gets).
//!
//! | chart | function | input |
//! |---|---|---|
//! | daily burn, stacked by product | [`daily_burn_chart`] | [`DailyBurn`] |
//! | balance history, grants, expiries, runway projection | [`balance_chart`] | [`BalanceForecast`] |
//! | expiring credits by week, stacked by credit type | [`expiring_chart`] | [`ExpiringCredits`] |
//! | breakage by month | [`breakage_chart`] | [`Breakage`] |
//!
//! Inputs are this crate's own types with `rust_decimal::Decimal` amounts
//! and `chrono` dates (the app maps the billing API's responses into them);
//! `f64` appears only for pixel positions. Labels and table cells are
//! formatted from the decimals themselves, so they are exact. Lines are
//! thinned to at most two points per pixel column before drawing
//! ([`thin::min_max_per_pixel`]). Empty input draws a "no data" chart.
//!
//! ```
//! use chrono::NaiveDate;
//! use creditdesk_charts::{daily_burn_chart, BurnDay, ChartLocale, DailyBurn, Size, Theme};
//! use rust_decimal::Decimal;
//!
//! let day = |d| NaiveDate::from_ymd_opt(2026, 3, d).unwrap();
//! let burn = DailyBurn {
//!     unit: "API credits".into(),
//!     first_day: day(1),
//!     last_day: day(30),
//!     products: vec!["chat".into(), "embeddings".into()],
//!     days: vec![BurnDay { date: day(2), burned: vec![Decimal::new(125, 1), Decimal::ONE] }],
//! };
//! let chart = daily_burn_chart(&burn, Size::new(640, 240), &Theme::light(), &ChartLocale::en_us()).unwrap();
//! assert!(chart.svg.starts_with("<svg"));
//! assert_eq!(chart.table.rows[1], ["Mar 2, 2026", "12.5", "1", "13.5"]);
//! ```

mod balance;
mod breakage;
mod burn;
mod expiring;
mod frame;
mod locale;
#[doc(hidden)]
pub mod samples;
mod scale;
mod stack;
mod theme;
pub mod thin;

use rust_decimal::Decimal;
use serde::Serialize;

pub use balance::{balance_chart, BalanceForecast, BalanceMarker, BalancePoint};
pub use breakage::{breakage_chart, Breakage, BreakageRow};
pub use burn::{daily_burn_chart, BurnDay, BurnRange, DailyBurn};
pub use expiring::{expiring_chart, ExpiringCredits, ExpiringRow};
pub use locale::ChartLocale;
pub use theme::{Rgb, Theme, ThemeMode, SERIES_COLOURS};

/// A chart's size in CSS pixels (the SVG's `width`, `height` and `viewBox`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Size {
    pub width: u32,
    pub height: u32,
}

impl Size {
    pub const MIN: Size = Size { width: 160, height: 100 };
    pub const MAX: Size = Size { width: 8_192, height: 4_096 };

    pub const fn new(width: u32, height: u32) -> Size {
        Size { width, height }
    }
}

/// A rendered chart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Chart {
    /// A standalone `<svg>` element (`role="img"`, with a `<title>`).
    pub svg: String,
    /// Every value the chart shows, exactly, formatted for the locale.
    pub table: Table,
}

/// The exact values behind a chart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Table {
    /// What the table (and the chart) shows; also the SVG's `<title>`.
    pub caption: String,
    pub columns: Vec<Column>,
    /// One cell per column; an empty string where a row has no value.
    pub rows: Vec<Vec<String>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Column {
    pub header: String,
    /// Numbers (right-aligned by the UI).
    pub numeric: bool,
}

impl Column {
    pub(crate) fn text(header: impl Into<String>) -> Column {
        Column { header: header.into(), numeric: false }
    }
    pub(crate) fn number(header: impl Into<String>) -> Column {
        Column { header: header.into(), numeric: true }
    }
}

/// Largest magnitude of an amount (credits or money) a chart accepts: far
/// beyond any real balance, and small enough that axis arithmetic in
/// `Decimal` never overflows.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(0xA764_0000, 0x0DE0_B6B3, 0, false, 0); // 10^18

/// Most days a day axis may span (ten years, as the billing API's series).
pub const MAX_DAYS: i64 = 3_660;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChartError {
    #[error("size {width}x{height} px is outside 160x100 to 8192x4096 px")]
    Size { width: u32, height: u32 },
    /// The input breaks a rule; `field` names the part (`days[3].burned`).
    #[error("{field}: {rule}")]
    Input { field: String, rule: String },
    #[error("`{tag}` is not a BCP 47 language tag such as \"en-US\"")]
    Locale { tag: String },
    /// plotters failed to draw (writing to a `String` does not fail in practice).
    #[error("drawing the chart failed: {0}")]
    Draw(String),
}

impl ChartError {
    pub(crate) fn input(field: impl Into<String>, rule: impl Into<String>) -> ChartError {
        ChartError::Input { field: field.into(), rule: rule.into() }
    }
}

pub(crate) fn check_size(size: Size) -> Result<(), ChartError> {
    let ok = (Size::MIN.width..=Size::MAX.width).contains(&size.width)
        && (Size::MIN.height..=Size::MAX.height).contains(&size.height);
    if ok {
        Ok(())
    } else {
        Err(ChartError::Size { width: size.width, height: size.height })
    }
}

pub(crate) fn check_amount(field: impl FnOnce() -> String, value: Decimal) -> Result<(), ChartError> {
    if value.abs() > MAX_AMOUNT {
        return Err(ChartError::input(field(), "must be between -10^18 and 10^18"));
    }
    Ok(())
}

pub(crate) fn check_currency(currency: &str) -> Result<(), ChartError> {
    if currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(ChartError::input("currency", "must be an ISO 4217 code such as \"USD\""))
    }
}

/// The benchmark's baselines: the same charts drawn without thinning, to
/// show what thinning saves. Not for the app.
#[doc(hidden)]
pub mod baseline {
    use crate::frame::Canvas;
    use crate::thin::Thinning;
    use crate::*;

    pub fn daily_burn_chart_unthinned(
        input: &DailyBurn,
        size: Size,
        theme: &Theme,
        locale: &ChartLocale,
    ) -> Result<Chart, ChartError> {
        burn::render_burn(input, &Canvas { size, theme, locale }, Thinning::Off)
    }

    pub fn balance_chart_unthinned(
        input: &BalanceForecast,
        size: Size,
        theme: &Theme,
        locale: &ChartLocale,
    ) -> Result<Chart, ChartError> {
        balance::render_balance(input, &Canvas { size, theme, locale }, Thinning::Off)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_amount_is_ten_to_the_eighteenth() {
        assert_eq!(MAX_AMOUNT, Decimal::from(1_000_000_000_000_000_000u64));
    }
}
