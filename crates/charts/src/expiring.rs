//! Credits expiring by week, stacked by credit type. Credits of different
//! credit types are never added together (the ledger's rule), so the
//! columns stack their money value; the table has the credits.

use std::collections::BTreeSet;

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use rust_decimal::Decimal;

use crate::frame::{render_message, Canvas};
use crate::locale::ChartLocale;
use crate::stack::{render_columns, Series};
use crate::theme::Theme;
use crate::{check_amount, check_currency, check_size, Chart, ChartError, Column, Size, Table, MAX_DAYS};

/// The billing API's `GET /v1/reports/expirations?group_by=week` (rows'
/// `week_start`, `credit_type_id`, `credits`, `value`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpiringCredits {
    /// ISO 4217 code of every `value`.
    pub currency: String,
    /// Mondays: the first and last week shown, inclusive.
    pub first_week: NaiveDate,
    pub last_week: NaiveDate,
    /// At most one row per (week, credit type); weeks without rows are zero.
    pub rows: Vec<ExpiringRow>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpiringRow {
    /// The Monday the week starts on.
    pub week: NaiveDate,
    /// The credit type's name (legend and table).
    pub credit_type: String,
    /// Credits scheduled to expire that week.
    pub credits: Decimal,
    /// Their value in `currency`.
    pub value: Decimal,
}

/// Expiring credits by week: columns of value stacked by credit type
/// (credit types in name order). The table lists each row's credits and
/// value.
pub fn expiring_chart(
    input: &ExpiringCredits,
    size: Size,
    theme: &Theme,
    locale: &ChartLocale,
) -> Result<Chart, ChartError> {
    let canvas = Canvas { size, theme, locale };
    check_size(size)?;
    validate(input)?;
    let weeks: Vec<NaiveDate> = input.first_week.iter_weeks().take_while(|w| *w <= input.last_week).collect();
    let last_day = input.last_week + Duration::days(6);
    let period = format!("{} to {}", locale.date(input.first_week), locale.date(last_day));
    let caption = format!("Credits expiring by week from {period}, by credit type, valued in {}", input.currency);
    let unit = format!("Value ({})", input.currency);

    let mut rows: Vec<&ExpiringRow> = input.rows.iter().collect();
    rows.sort_by(|a, b| (a.week, &a.credit_type).cmp(&(b.week, &b.credit_type)));
    let columns = vec![
        Column::text("Week of"),
        Column::text("Credit type"),
        Column::number("Credits"),
        Column::number(format!("Value ({})", input.currency)),
    ];
    if rows.iter().all(|r| r.value.is_zero() && r.credits.is_zero()) {
        let message = format!("No credits expire from {period}");
        let svg = render_message(&canvas, &caption, &unit, &message)?;
        return Ok(Chart { svg, table: Table { caption: format!("{caption}: {message}"), columns, rows: Vec::new() } });
    }
    let total: Decimal = rows.iter().map(|r| r.value).sum();
    let table = Table {
        caption: format!("{caption}; {} in total", locale.money(total, &input.currency)),
        columns,
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    locale.date(r.week),
                    r.credit_type.clone(),
                    locale.credits(r.credits),
                    locale.money(r.value, &input.currency),
                ]
            })
            .collect(),
    };

    let credit_types: Vec<String> =
        rows.iter().map(|r| r.credit_type.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    let mut values = vec![vec![Decimal::ZERO; credit_types.len()]; weeks.len()];
    for r in &rows {
        let week = ((r.week - input.first_week).num_days() / 7) as usize;
        let column = credit_types.binary_search(&r.credit_type).unwrap_or_default();
        values[week][column] = r.value;
    }
    let totals: Vec<Decimal> = (0..credit_types.len()).map(|c| values.iter().map(|w| w[c]).sum()).collect();
    let series = Series::fold(&credit_types, &totals, theme);
    let stacks = series.apply(&values);
    let svg = render_columns(&canvas, &caption, &unit, &series, &stacks, 0, |i, _| locale.day_month(weeks[i]))?;
    Ok(Chart { svg, table })
}

fn validate(input: &ExpiringCredits) -> Result<(), ChartError> {
    check_currency(&input.currency)?;
    for (field, week) in [("first_week", input.first_week), ("last_week", input.last_week)] {
        if week.weekday() != Weekday::Mon {
            return Err(ChartError::input(field, "must be a Monday"));
        }
    }
    let span = (input.last_week - input.first_week).num_days();
    if span < 0 {
        return Err(ChartError::input("last_week", "must not be before first_week"));
    }
    if span >= MAX_DAYS {
        return Err(ChartError::input("last_week", format!("must be less than {MAX_DAYS} days after first_week")));
    }
    let mut seen = BTreeSet::new();
    for (i, r) in input.rows.iter().enumerate() {
        if r.week.weekday() != Weekday::Mon || r.week < input.first_week || r.week > input.last_week {
            return Err(ChartError::input(format!("rows[{i}].week"), "must be a Monday within first_week..=last_week"));
        }
        if !seen.insert((r.week, &r.credit_type)) {
            return Err(ChartError::input(format!("rows[{i}]"), "repeats an earlier row's week and credit type"));
        }
        check_amount(|| format!("rows[{i}].credits"), r.credits)?;
        check_amount(|| format!("rows[{i}].value"), r.value)?;
    }
    Ok(())
}
