//! Daily burn, stacked by product: bars while a day is at least 3 px wide,
//! stacked areas (thinned to two points per pixel) when it is narrower.

use chrono::{Duration, NaiveDate};
use plotters::prelude::*;
use rust_decimal::Decimal;

use crate::frame::{render, render_message, to_f64, Axes, Canvas, Layout};
use crate::locale::ChartLocale;
use crate::scale::{date_ticks, ValueAxis};
use crate::stack::{draw_bars, extent, Series};
use crate::theme::Theme;
use crate::thin::{min_max_per_pixel, Thinning};
use crate::{check_amount, check_size, Chart, ChartError, Column, Size, Table, MAX_DAYS};

/// The ranges the customer view offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BurnRange {
    Days30,
    Days90,
    Days365,
}

impl BurnRange {
    pub fn days(self) -> u32 {
        match self {
            BurnRange::Days30 => 30,
            BurnRange::Days90 => 90,
            BurnRange::Days365 => 365,
        }
    }

    /// The first day of the range ending on `last_day` (inclusive).
    pub fn first_day(self, last_day: NaiveDate) -> NaiveDate {
        last_day - Duration::days(self.days() as i64 - 1)
    }
}

/// One wallet's (one credit type's) usage per local day, by product: the
/// billing API's `GET /v1/customers/{id}/burn?bucket=day&credit_type=...`
/// (columns' `product_id`s, buckets' `date` and `burned`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DailyBurn {
    /// What the amounts count, shown as the units caption: `"API credits"`.
    pub unit: String,
    /// The days shown, inclusive; days without an entry in `days` are zero.
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    /// Series names, in the order (and colours) they stack, bottom first.
    pub products: Vec<String>,
    /// Ascending by date, each within the range.
    pub days: Vec<BurnDay>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BurnDay {
    pub date: NaiveDate,
    /// Credits burned, one per product, each >= 0.
    pub burned: Vec<Decimal>,
}

/// Daily burn stacked by product. The table has one row per day and a
/// column per product (every product, even those the chart folds into
/// "Other") and the day's total.
pub fn daily_burn_chart(
    input: &DailyBurn,
    size: Size,
    theme: &Theme,
    locale: &ChartLocale,
) -> Result<Chart, ChartError> {
    render_burn(input, &Canvas { size, theme, locale }, Thinning::MinMaxPerPixel)
}

pub(crate) fn render_burn(input: &DailyBurn, canvas: &Canvas, thinning: Thinning) -> Result<Chart, ChartError> {
    check_size(canvas.size)?;
    validate(input)?;
    let locale = canvas.locale;
    let n = (input.last_day - input.first_day).num_days() as usize + 1;
    let mut dense = vec![vec![Decimal::ZERO; input.products.len()]; n];
    for day in &input.days {
        dense[(day.date - input.first_day).num_days() as usize].clone_from(&day.burned);
    }
    let day_totals: Vec<Decimal> = dense.iter().map(|row| row.iter().sum()).collect();
    let period = format!("{} to {}", locale.date(input.first_day), locale.date(input.last_day));
    let caption = format!("Daily burn of {} by product, {period}", input.unit);

    if day_totals.iter().all(|t| t.is_zero()) {
        let message = format!("No usage from {period}");
        let svg = render_message(canvas, &caption, &input.unit, &message)?;
        return Ok(Chart { svg, table: empty_table(&caption, &input.products, &message) });
    }

    let mut columns = vec![Column::text("Date")];
    columns.extend(input.products.iter().map(|p| Column::number(p.clone())));
    columns.push(Column::number("Total"));
    let rows = dense
        .iter()
        .zip(&day_totals)
        .enumerate()
        .map(|(i, (row, total))| {
            let mut cells = vec![locale.date(input.first_day + Duration::days(i as i64))];
            cells.extend(row.iter().map(|v| locale.credits(*v)));
            cells.push(locale.credits(*total));
            cells
        })
        .collect();
    let period_total: Decimal = day_totals.iter().sum();
    let table = Table { caption: format!("{caption}; {} in total", locale.credits(period_total)), columns, rows };

    let column_totals: Vec<Decimal> = (0..input.products.len()).map(|c| dense.iter().map(|row| row[c]).sum()).collect();
    let series = Series::fold(&input.products, &column_totals, canvas.theme);
    let stacks = series.apply(&dense);
    let legend = series.legend();

    let (low, high) = extent(&stacks);
    let y = ValueAxis::nice(low, high, value_ticks(canvas.size));
    let y_labels = y.labels(locale);
    let layout = Layout::new(canvas, &input.unit, &legend, &y_labels);
    let plot_width = layout.plot.width as f64;
    let px_per_day = plot_width / n as f64;
    let ticks = date_ticks(input.first_day, input.last_day, plot_width, canvas.char_width(), locale);
    let x_ticks = ticks
        .dates
        .iter()
        .zip(ticks.labels)
        .map(|(d, l)| ((*d - input.first_day).num_days() as f64 + 0.5, l))
        .collect();
    let axes = Axes { x: 0.0..n as f64, x_ticks, y, y_labels };

    let svg = render(canvas, &caption, &input.unit, &legend, &layout, &axes, |plot| {
        if px_per_day >= MIN_BAR_PX {
            // A gap of a fifth of the slot, 1 to 8 px, split either side.
            let pad = (px_per_day * 0.2).clamp(1.0, 8.0) / 2.0 / px_per_day;
            draw_bars(plot, &stacks, &series.colours, |i| (i as f64 + pad, i as f64 + 1.0 - pad))
        } else {
            // Stacked areas through each day's middle. Thinning picks the
            // days by the stack's total, the same days for every layer, so
            // layers never cross and the total's peaks survive.
            let keep: Vec<usize> = match thinning {
                Thinning::MinMaxPerPixel => {
                    let xs: Vec<f64> = (0..n).map(|i| (i as f64 + 0.5) * px_per_day).collect();
                    let ys: Vec<f64> = day_totals.iter().map(|t| to_f64(*t)).collect();
                    min_max_per_pixel(&xs, &ys)
                }
                Thinning::Off => (0..n).collect(),
            };
            let mut below = vec![Decimal::ZERO; keep.len()];
            let mut areas = Vec::with_capacity(series.labels.len());
            for (s, colour) in series.colours.iter().enumerate() {
                let above: Vec<Decimal> = keep.iter().zip(&below).map(|(i, b)| *b + stacks[*i][s]).collect();
                if above != below {
                    let x = |k: usize| keep[k] as f64 + 0.5;
                    let mut points: Vec<(f64, f64)> = (0..keep.len()).map(|k| (x(k), to_f64(above[k]))).collect();
                    points.extend((0..keep.len()).rev().map(|k| (x(k), to_f64(below[k]))));
                    areas.push(Polygon::new(points, colour.plotters().filled()));
                }
                below = above;
            }
            plot.draw_series(areas)?;
            Ok(())
        }
    })?;
    Ok(Chart { svg, table })
}

/// Narrower days are drawn as areas: bars under 3 px are mostly gap.
pub(crate) const MIN_BAR_PX: f64 = 3.0;

/// How many value ticks suit a chart of this height (one per ~40 px).
pub(crate) fn value_ticks(size: Size) -> usize {
    ((size.height as usize).saturating_sub(70) / 40).clamp(2, 8)
}

pub(crate) fn empty_table(caption: &str, series: &[String], message: &str) -> Table {
    let mut columns = vec![Column::text("Date")];
    columns.extend(series.iter().map(|p| Column::number(p.clone())));
    Table { caption: format!("{caption}: {message}"), columns, rows: Vec::new() }
}

fn validate(input: &DailyBurn) -> Result<(), ChartError> {
    let span = (input.last_day - input.first_day).num_days();
    if span < 0 {
        return Err(ChartError::input("last_day", "must not be before first_day"));
    }
    if span >= MAX_DAYS {
        return Err(ChartError::input("last_day", format!("must be less than {MAX_DAYS} days after first_day")));
    }
    let mut previous: Option<NaiveDate> = None;
    for (i, day) in input.days.iter().enumerate() {
        if day.date < input.first_day || day.date > input.last_day {
            return Err(ChartError::input(format!("days[{i}].date"), "must be within first_day..=last_day"));
        }
        if previous.is_some_and(|p| day.date <= p) {
            return Err(ChartError::input(format!("days[{i}].date"), "must be after the previous day's date"));
        }
        previous = Some(day.date);
        if day.burned.len() != input.products.len() {
            return Err(ChartError::input(format!("days[{i}].burned"), "must have one amount per product"));
        }
        for (p, v) in day.burned.iter().enumerate() {
            if v.is_sign_negative() && !v.is_zero() {
                return Err(ChartError::input(format!("days[{i}].burned[{p}]"), "must not be negative"));
            }
            check_amount(|| format!("days[{i}].burned[{p}]"), *v)?;
        }
    }
    Ok(())
}
