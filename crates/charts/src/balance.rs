//! Balance history with grant and expiry markers, and the runway projection.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use rust_decimal::Decimal;

use crate::burn::value_ticks;
use crate::frame::{render, render_message, to_f64, triangle, Axes, Canvas, Layout, LegendEntry, Plot, Swatch};
use crate::locale::ChartLocale;
use crate::scale::{date_ticks, ValueAxis};
use crate::theme::{Rgb, Theme};
use crate::thin::{min_max_per_pixel, Thinning};
use crate::{check_amount, check_size, Chart, ChartError, Column, Size, Table, MAX_DAYS};

/// One wallet's available balance over time and its projection: the
/// billing API's `GET /v1/customers/{id}/forecast` (`history.points`,
/// `projection`, `runway_date`, `expiries`) plus the wallet's grants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BalanceForecast {
    /// What the amounts count, shown as the units caption: `"API credits"`.
    pub unit: String,
    /// Closing balance per day (or week, month), ascending by date.
    pub history: Vec<BalancePoint>,
    /// Where history ends and the projection starts (a vertical line).
    pub today: NaiveDate,
    /// Projected balance per day from `today`, ascending by date.
    pub projection: Vec<BalancePoint>,
    /// The first day some usage goes unmet; `None` if not within the projection.
    pub runway_end: Option<NaiveDate>,
    /// Drawn as markers along the bottom; those outside the dates shown are left out.
    pub grants: Vec<BalanceMarker>,
    /// Credits expiring unused, drawn as markers along the top.
    pub expiries: Vec<BalanceMarker>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BalancePoint {
    pub date: NaiveDate,
    pub available: Decimal,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BalanceMarker {
    pub date: NaiveDate,
    pub credits: Decimal,
    /// A short name for the table (`"Q1 purchase"`); may be empty.
    pub label: String,
}

/// Balance history and projection. Points are drawn in the middle of their
/// date's slot; the history is a solid line, the projection a dashed one,
/// both thinned to two points per pixel. The table has one row per date
/// with the balance, the projected balance and that day's grants, expiries
/// and runway end.
pub fn balance_chart(
    input: &BalanceForecast,
    size: Size,
    theme: &Theme,
    locale: &ChartLocale,
) -> Result<Chart, ChartError> {
    render_balance(input, &Canvas { size, theme, locale }, Thinning::MinMaxPerPixel)
}

pub(crate) fn render_balance(
    input: &BalanceForecast,
    canvas: &Canvas,
    thinning: Thinning,
) -> Result<Chart, ChartError> {
    check_size(canvas.size)?;
    validate(input)?;
    let locale = canvas.locale;
    let theme = canvas.theme;
    let dates = input.history.iter().chain(&input.projection).map(|p| p.date);
    let (Some(first), Some(last)) = (dates.clone().min(), dates.max()) else {
        let caption = format!("Balance of {}", input.unit);
        let message = "No balance history";
        let svg = render_message(canvas, &caption, &input.unit, message)?;
        let table = Table { caption: format!("{caption}: {message}"), columns: table_columns(), rows: Vec::new() };
        return Ok(Chart { svg, table });
    };
    let first = first.min(input.today);
    let last = last.max(input.today);
    let in_range = |d: NaiveDate| d >= first && d <= last;
    let grants: Vec<&BalanceMarker> = input.grants.iter().filter(|m| in_range(m.date)).collect();
    let expiries: Vec<&BalanceMarker> = input.expiries.iter().filter(|m| in_range(m.date)).collect();
    let runway = input.runway_end.filter(|d| in_range(*d));

    let caption = caption(input, first, last, runway, locale);
    let table = table(input, &grants, &expiries, runway, &caption, locale);

    let mut legend = vec![LegendEntry::new("Balance", theme.series[0], Swatch::Line)];
    if !input.projection.is_empty() {
        legend.push(LegendEntry::new("Projected", theme.series[0], Swatch::Dashed));
    }
    if !grants.is_empty() {
        legend.push(LegendEntry::new("Grant", theme.positive, Swatch::Up));
    }
    if !expiries.is_empty() {
        legend.push(LegendEntry::new("Expiry", theme.warning, Swatch::Down));
    }
    if runway.is_some() {
        legend.push(LegendEntry::new("Runway ends", theme.danger, Swatch::Line));
    }

    let values = input.history.iter().chain(&input.projection).map(|p| p.available);
    let low = values.clone().min().unwrap_or_default();
    let high = values.max().unwrap_or_default();
    let y = ValueAxis::nice(low, high, value_ticks(canvas.size));
    let y_labels = y.labels(locale);
    let layout = Layout::new(canvas, &input.unit, &legend, &y_labels);
    let plot_width = layout.plot.width as f64;
    let days = (last - first).num_days() as f64 + 1.0;
    let px_per_day = plot_width / days;
    let x_of = |d: NaiveDate| (d - first).num_days() as f64 + 0.5;
    let ticks = date_ticks(first, last, plot_width, canvas.char_width(), locale);
    let x_ticks = ticks.dates.iter().zip(ticks.labels).map(|(d, l)| (x_of(*d), l)).collect();
    let (y_min, y_max) = (to_f64(y.min), to_f64(y.max));
    let axes = Axes { x: 0.0..days, x_ticks, y, y_labels };

    let line = |points: &[BalancePoint]| -> Vec<(f64, f64)> {
        let xs: Vec<f64> = points.iter().map(|p| x_of(p.date)).collect();
        let ys: Vec<f64> = points.iter().map(|p| to_f64(p.available)).collect();
        let keep: Vec<usize> = match thinning {
            Thinning::MinMaxPerPixel => {
                let px: Vec<f64> = xs.iter().map(|x| x * px_per_day).collect();
                min_max_per_pixel(&px, &ys)
            }
            Thinning::Off => (0..xs.len()).collect(),
        };
        keep.into_iter().map(|i| (xs[i], ys[i])).collect()
    };

    let svg = render(canvas, &caption, &input.unit, &legend, &layout, &axes, |plot| {
        // "Today" left of its line; the runway's note right of its line
        // unless that runs off the chart, and a line lower if the two meet.
        let width = |text: &str| text.chars().count() as f64 * canvas.char_width();
        let today_px = x_of(input.today) * px_per_day;
        vertical(plot, x_of(input.today), (y_min, y_max), theme.axis, 1)?;
        label(plot, (x_of(input.today), y_max), "Today", HPos::Right, 0, canvas.font(theme.muted_text))?;
        if let Some(runway) = runway {
            let x = x_of(runway);
            vertical(plot, x, (y_min, y_max), theme.danger, 2)?;
            let text = format!("Runway ends {}", locale.day_month(runway));
            let (x_px, w) = (x * px_per_day, width(&text));
            let right = plot_width - x_px > w + 8.0;
            let (from, to) = if right { (x_px + 4.0, x_px + 4.0 + w) } else { (x_px - 4.0 - w, x_px - 4.0) };
            let today = (today_px - 4.0 - width("Today"), today_px - 4.0);
            let meets = from < today.1 + 6.0 && today.0 < to + 6.0;
            let side = if right { HPos::Left } else { HPos::Right };
            label(plot, (x, y_max), &text, side, if meets { 1 } else { 0 }, canvas.font(theme.danger))?;
        }
        let history = line(&input.history);
        if history.len() > 1 {
            plot.draw_series(std::iter::once(PathElement::new(history, theme.series[0].plotters().stroke_width(2))))?;
        }
        let projection = line(&input.projection);
        if projection.len() > 1 {
            let style = theme.series[0].plotters().stroke_width(2);
            plot.draw_series(std::iter::once(DashedPathElement::new(projection, 6, 4, style)))?;
        }
        // Markers sit on rails just inside the bottom (grants) and top (expiries).
        let rail = |markers: &[&BalanceMarker], y: f64, dy: i32, up: bool, colour: Rgb| {
            markers
                .iter()
                .map(|m| {
                    EmptyElement::at((x_of(m.date), y))
                        + Polygon::new(triangle((0, dy), up), colour.plotters().filled())
                })
                .collect::<Vec<_>>()
        };
        plot.draw_series(rail(&grants, y_min, -8, true, theme.positive))?;
        plot.draw_series(rail(&expiries, y_max, 8, false, theme.warning))?;
        Ok(())
    })?;
    Ok(Chart { svg, table })
}

fn vertical(plot: &mut Plot, x: f64, (y_min, y_max): (f64, f64), colour: Rgb, width: u32) -> crate::frame::DrawResult {
    plot.draw_series(std::iter::once(PathElement::new(
        vec![(x, y_min), (x, y_max)],
        colour.plotters().stroke_width(width),
    )))?;
    Ok(())
}

/// A note beside a vertical line, under the expiry rail (`row` 1: a line lower).
fn label(
    plot: &mut Plot,
    at: (f64, f64),
    text: &str,
    side: HPos,
    row: i32,
    style: TextStyle<'static>,
) -> crate::frame::DrawResult {
    let dx = if matches!(side, HPos::Left) { 4 } else { -4 };
    let style = style.pos(Pos::new(side, VPos::Top));
    let dy = 16 + row * 16;
    plot.draw_series(std::iter::once(EmptyElement::at(at) + Text::new(text.to_owned(), (dx, dy), style)))?;
    Ok(())
}

fn caption(
    input: &BalanceForecast,
    first: NaiveDate,
    last: NaiveDate,
    runway: Option<NaiveDate>,
    l: &ChartLocale,
) -> String {
    let mut caption = format!("Balance of {} from {} to {}", input.unit, l.date(first), l.date(last));
    if let Some(end) = input.projection.last() {
        caption.push_str(&format!(", projected from {}", l.date(input.today)));
        match runway {
            Some(runway) => caption.push_str(&format!("; runway ends {}", l.date(runway))),
            None => caption.push_str(&format!("; credits last beyond {}", l.date(end.date))),
        }
    }
    caption
}

fn table_columns() -> Vec<Column> {
    vec![Column::text("Date"), Column::number("Balance"), Column::number("Projected"), Column::text("Events")]
}

fn table(
    input: &BalanceForecast,
    grants: &[&BalanceMarker],
    expiries: &[&BalanceMarker],
    runway: Option<NaiveDate>,
    caption: &str,
    l: &ChartLocale,
) -> Table {
    #[derive(Default)]
    struct Row {
        balance: Option<Decimal>,
        projected: Option<Decimal>,
        events: Vec<String>,
    }
    let mut rows: BTreeMap<NaiveDate, Row> = BTreeMap::new();
    for p in &input.history {
        rows.entry(p.date).or_default().balance = Some(p.available);
    }
    for p in &input.projection {
        rows.entry(p.date).or_default().projected = Some(p.available);
    }
    let event = |what: &str, m: &BalanceMarker| {
        let mut text = format!("{what} {}", l.credits(m.credits));
        if !m.label.is_empty() {
            text.push_str(&format!(" ({})", m.label));
        }
        text
    };
    for m in grants {
        rows.entry(m.date).or_default().events.push(event("Grant", m));
    }
    for m in expiries {
        rows.entry(m.date).or_default().events.push(event("Expires", m));
    }
    if let Some(runway) = runway {
        rows.entry(runway).or_default().events.push("Runway ends".to_owned());
    }
    let cell = |v: Option<Decimal>| v.map(|v| l.credits(v)).unwrap_or_default();
    Table {
        caption: caption.to_owned(),
        columns: table_columns(),
        rows: rows
            .into_iter()
            .map(|(date, row)| vec![l.date(date), cell(row.balance), cell(row.projected), row.events.join("; ")])
            .collect(),
    }
}

fn validate(input: &BalanceForecast) -> Result<(), ChartError> {
    for (name, points) in [("history", &input.history), ("projection", &input.projection)] {
        for (i, p) in points.iter().enumerate() {
            if i > 0 && p.date <= points[i - 1].date {
                return Err(ChartError::input(format!("{name}[{i}].date"), "must be after the previous point's date"));
            }
            check_amount(|| format!("{name}[{i}].available"), p.available)?;
        }
    }
    for (name, markers) in [("grants", &input.grants), ("expiries", &input.expiries)] {
        for (i, m) in markers.iter().enumerate() {
            check_amount(|| format!("{name}[{i}].credits"), m.credits)?;
        }
    }
    let dates = input.history.iter().chain(&input.projection).map(|p| p.date).chain([input.today]);
    if let (Some(first), Some(last)) = (dates.clone().min(), dates.max()) {
        if (last - first).num_days() >= 2 * MAX_DAYS {
            return Err(ChartError::input(
                "projection",
                format!("history and projection must span less than {} days", 2 * MAX_DAYS),
            ));
        }
    }
    Ok(())
}
