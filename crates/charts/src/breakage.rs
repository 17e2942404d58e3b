//! Breakage by month: the value of credits that expired unused and of
//! credits voided, stacked, per calendar month.

use std::collections::BTreeSet;

use chrono::{Datelike, Months, NaiveDate};
use rust_decimal::Decimal;

use crate::frame::{render_message, Canvas};
use crate::locale::ChartLocale;
use crate::stack::{render_columns, Series};
use crate::theme::Theme;
use crate::{check_amount, check_currency, check_size, Chart, ChartError, Column, Size, Table};

/// The billing API's `GET /v1/reports/breakage` (rows' `month`,
/// `credit_type_id`, `category`, `expired`, `expired_value`, `voided`,
/// `voided_value`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Breakage {
    /// ISO 4217 code of every value.
    pub currency: String,
    /// First days of the first and last month shown, inclusive.
    pub first_month: NaiveDate,
    pub last_month: NaiveDate,
    /// At most one row per (month, credit type, category); months without rows are zero.
    pub rows: Vec<BreakageRow>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BreakageRow {
    /// The first day of the month.
    pub month: NaiveDate,
    /// The credit type's name.
    pub credit_type: String,
    /// `paid` or `promotional`, as the table should show it.
    pub category: String,
    /// Credits expired unused, net of expiry corrections (may be negative).
    pub expired: Decimal,
    pub expired_value: Decimal,
    /// Credits voided.
    pub voided: Decimal,
    pub voided_value: Decimal,
}

/// Most months a breakage chart spans (ten years).
const MAX_MONTHS: i32 = 120;

/// Breakage by month: columns of expired and voided value (money may be
/// summed across credit types; credits may not). The table lists every
/// row's credits and values.
pub fn breakage_chart(input: &Breakage, size: Size, theme: &Theme, locale: &ChartLocale) -> Result<Chart, ChartError> {
    let canvas = Canvas { size, theme, locale };
    check_size(size)?;
    validate(input)?;
    let months = month_index(input.last_month, input.first_month) as usize + 1;
    let period = format!("{} to {}", locale.month_year(input.first_month), locale.month_year(input.last_month));
    let caption = format!("Breakage by month from {period}, valued in {}", input.currency);
    let unit = format!("Value ({})", input.currency);
    let currency = input.currency.as_str();

    let mut rows: Vec<&BreakageRow> = input.rows.iter().collect();
    rows.sort_by(|a, b| (a.month, &a.credit_type, &a.category).cmp(&(b.month, &b.credit_type, &b.category)));
    let columns = vec![
        Column::text("Month"),
        Column::text("Credit type"),
        Column::text("Category"),
        Column::number("Expired"),
        Column::number(format!("Expired value ({currency})")),
        Column::number("Voided"),
        Column::number(format!("Voided value ({currency})")),
    ];
    let nothing = |r: &&BreakageRow| [r.expired, r.expired_value, r.voided, r.voided_value].iter().all(|v| v.is_zero());
    if rows.iter().all(nothing) {
        let message = format!("No breakage from {period}");
        let svg = render_message(&canvas, &caption, &unit, &message)?;
        return Ok(Chart { svg, table: Table { caption: format!("{caption}: {message}"), columns, rows: Vec::new() } });
    }
    let expired: Decimal = rows.iter().map(|r| r.expired_value).sum();
    let voided: Decimal = rows.iter().map(|r| r.voided_value).sum();
    let table = Table {
        caption: format!(
            "{caption}; expired {}, voided {}",
            locale.money(expired, currency),
            locale.money(voided, currency)
        ),
        columns,
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    locale.month_year(r.month),
                    r.credit_type.clone(),
                    r.category.clone(),
                    locale.credits(r.expired),
                    locale.money(r.expired_value, currency),
                    locale.credits(r.voided),
                    locale.money(r.voided_value, currency),
                ]
            })
            .collect(),
    };

    let mut values = vec![vec![Decimal::ZERO; 2]; months];
    for r in &rows {
        let m = month_index(r.month, input.first_month) as usize;
        values[m][0] += r.expired_value;
        values[m][1] += r.voided_value;
    }
    let names = ["Expired".to_owned(), "Voided".to_owned()];
    let series = Series::fold(&names, &[Decimal::ZERO; 2], theme);
    // Label the Januaries (and the first label shown) with their year.
    let month = |i: usize| input.first_month + Months::new(i as u32);
    let january = (0..months).find(|i| month(*i).month() == 1).unwrap_or(0);
    let label = |i: usize, first: bool| {
        if first || month(i).month() == 1 {
            locale.month_year(month(i))
        } else {
            locale.month(month(i))
        }
    };
    let svg = render_columns(&canvas, &caption, &unit, &series, &values, january, label)?;
    Ok(Chart { svg, table })
}

/// Months from `from` to `month` (both first days).
fn month_index(month: NaiveDate, from: NaiveDate) -> i32 {
    (month.year() - from.year()) * 12 + month.month() as i32 - from.month() as i32
}

fn validate(input: &Breakage) -> Result<(), ChartError> {
    check_currency(&input.currency)?;
    for (field, month) in [("first_month", input.first_month), ("last_month", input.last_month)] {
        if month.day() != 1 {
            return Err(ChartError::input(field, "must be the first day of a month"));
        }
    }
    let span = month_index(input.last_month, input.first_month);
    if span < 0 {
        return Err(ChartError::input("last_month", "must not be before first_month"));
    }
    if span >= MAX_MONTHS {
        return Err(ChartError::input(
            "last_month",
            format!("must be less than {MAX_MONTHS} months after first_month"),
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, r) in input.rows.iter().enumerate() {
        if r.month.day() != 1 || r.month < input.first_month || r.month > input.last_month {
            return Err(ChartError::input(
                format!("rows[{i}].month"),
                "must be the first day of a month within first_month..=last_month",
            ));
        }
        if !seen.insert((r.month, &r.credit_type, &r.category)) {
            return Err(ChartError::input(
                format!("rows[{i}]"),
                "repeats an earlier row's month, credit type and category",
            ));
        }
        for (name, v) in [
            ("expired", r.expired),
            ("expired_value", r.expired_value),
            ("voided", r.voided),
            ("voided_value", r.voided_value),
        ] {
            check_amount(|| format!("rows[{i}].{name}"), v)?;
        }
    }
    Ok(())
}
