//! Axis ticks. Value ticks are computed in `Decimal` (steps of 1, 2 or 5
//! times a power of ten), so every label is an exact value; only their
//! positions become `f64`.

use chrono::{Datelike, NaiveDate, Weekday};
use rust_decimal::Decimal;

use crate::locale::ChartLocale;

/// A value axis: `min..=max` with ticks every `step`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ValueAxis {
    pub min: Decimal,
    pub max: Decimal,
    pub ticks: Vec<Decimal>,
    step: Decimal,
}

impl ValueAxis {
    /// An axis covering `lo..=hi` and zero, with at most `max_ticks` ticks
    /// (at least 2). Inputs are bounded by [`crate::MAX_AMOUNT`], so nothing
    /// here overflows.
    pub fn nice(lo: Decimal, hi: Decimal, max_ticks: usize) -> ValueAxis {
        let lo = lo.min(Decimal::ZERO);
        let mut hi = hi.max(Decimal::ZERO);
        if hi == lo {
            hi = lo + Decimal::ONE;
        }
        let intervals = Decimal::from(max_ticks.max(2) as u64 - 1);
        let raw = (hi - lo) / intervals;
        // The power of ten at or below `raw`.
        let mut magnitude = Decimal::ONE;
        while magnitude > raw {
            magnitude /= Decimal::TEN;
        }
        while magnitude * Decimal::TEN <= raw {
            magnitude *= Decimal::TEN;
        }
        let step = [1u8, 2, 5, 10]
            .into_iter()
            .map(|m| magnitude * Decimal::from(m))
            .find(|s| *s >= raw)
            .unwrap_or(magnitude * Decimal::TEN)
            .normalize();
        let min = (lo / step).floor() * step;
        let max = (hi / step).ceil() * step;
        let mut ticks = Vec::new();
        let mut t = min;
        while t <= max {
            ticks.push(t);
            t += step;
        }
        ValueAxis { min, max, ticks, step }
    }

    /// Tick labels, all with the step's number of decimals (`0.0`, `0.5`, `1.0`).
    pub fn labels(&self, locale: &ChartLocale) -> Vec<String> {
        let scale = self.step.scale();
        self.ticks
            .iter()
            .map(|t| {
                let mut t = t.normalize();
                t.rescale(scale);
                locale.number(t)
            })
            .collect()
    }
}

/// Dated ticks along a day axis, labelled; at most as many as fit.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct DateTicks {
    pub dates: Vec<NaiveDate>,
    pub labels: Vec<String>,
}

/// One way of spacing date ticks.
struct Cadence {
    keep: fn(NaiveDate) -> bool,
    /// Labelled by month (`Mar`) rather than by day (`Mar 5`).
    monthly: bool,
    /// Days between two ticks (at least, but for ISO years of 53 weeks).
    least_days: i64,
}

/// Finest first.
const CADENCES: [Cadence; 6] = [
    Cadence { keep: |_| true, monthly: false, least_days: 1 },
    Cadence { keep: |d| d.weekday() == Weekday::Mon, monthly: false, least_days: 7 },
    Cadence { keep: |d| d.weekday() == Weekday::Mon && d.iso_week().week() % 2 == 1, monthly: false, least_days: 14 },
    Cadence { keep: |d| d.day() == 1, monthly: true, least_days: 28 },
    Cadence { keep: |d| d.day() == 1 && d.month0() % 3 == 0, monthly: true, least_days: 90 },
    Cadence { keep: |d| d.ordinal() == 1, monthly: true, least_days: 365 },
];

/// Picks the finest of: every day, every Monday, every other Monday, month
/// starts, quarter starts, year starts, whose labels fit `plot_width` for
/// the days `first..=last` without overlapping.
pub(crate) fn date_ticks(
    first: NaiveDate,
    last: NaiveDate,
    plot_width: f64,
    char_width: f64,
    locale: &ChartLocale,
) -> DateTicks {
    let days = (last - first).num_days() as f64 + 1.0;
    let px_per_day = plot_width / days;
    let every = |keep: fn(NaiveDate) -> bool| -> Vec<NaiveDate> {
        first.iter_days().take_while(|d| *d <= last).filter(|d| keep(*d)).collect()
    };
    for cadence in CADENCES {
        let Cadence { keep, monthly, least_days } = cadence;
        // Too dense for even a three-letter label: skip without formatting.
        if (least_days as f64) * px_per_day < 3.0 * char_width + LABEL_GAP {
            continue;
        }
        let mut dates = every(keep);
        let x = |d: &NaiveDate| ((*d - first).num_days() as f64 + 0.5) * px_per_day;
        let half = |l: &String| l.chars().count() as f64 * char_width / 2.0;
        // Labels may reach a little past the plot's edges (into the value
        // labels' column on the left, the margin on the right), not further.
        // Dropping the first label moves the year to the next: relabel.
        let mut labels = label_dates(&dates, monthly, locale);
        while let (Some(d), Some(l)) = (dates.first(), labels.first()) {
            if x(d) - half(l) >= -EDGE_SLACK {
                break;
            }
            dates.remove(0);
            labels = label_dates(&dates, monthly, locale);
        }
        while let (Some(d), Some(l)) = (dates.last(), labels.last()) {
            if x(d) + half(l) <= plot_width + EDGE_SLACK {
                break;
            }
            dates.pop();
            labels.pop();
        }
        if dates.is_empty() {
            continue;
        }
        let overlaps = (1..dates.len())
            .any(|i| x(&dates[i]) - x(&dates[i - 1]) < half(&labels[i]) + half(&labels[i - 1]) + LABEL_GAP);
        if !overlaps {
            return DateTicks { dates, labels };
        }
    }
    // Nothing fits (a very narrow chart): no date labels; the table has them.
    DateTicks { dates: Vec::new(), labels: Vec::new() }
}

/// Least space between two axis labels, in pixels.
pub(crate) const LABEL_GAP: f64 = 10.0;
/// How far a label may reach past either end of the plot, in pixels.
const EDGE_SLACK: f64 = 12.0;

/// Month ticks read `Mar`, except January and the first one, which carry
/// the year (`January 2026`) so the axis says which year it shows.
fn label_dates(dates: &[NaiveDate], monthly: bool, locale: &ChartLocale) -> Vec<String> {
    dates
        .iter()
        .enumerate()
        .map(|(i, d)| {
            if !monthly {
                locale.day_month(*d)
            } else if i == 0 || d.month() == 1 {
                locale.month_year(*d)
            } else {
                locale.month(*d)
            }
        })
        .collect()
}

/// Which of `n` evenly spaced categories get a label: every `k`-th, the
/// smallest `k` for which labels of `widest` pixels fit `px_per_category`.
pub(crate) fn label_stride(px_per_category: f64, widest: f64) -> usize {
    let need = widest + LABEL_GAP;
    if px_per_category <= 0.0 {
        return usize::MAX;
    }
    (need / px_per_category).ceil().max(1.0) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn nice_axes_are_exact_decimal_steps() {
        let a = ValueAxis::nice(dec!(0), dec!(9.3), 6);
        assert_eq!(a.ticks, [dec!(0), dec!(2), dec!(4), dec!(6), dec!(8), dec!(10)]);
        let a = ValueAxis::nice(dec!(0), dec!(0.3), 4);
        assert_eq!(a.ticks, [dec!(0), dec!(0.1), dec!(0.2), dec!(0.3)]);
        assert_eq!(a.labels(&ChartLocale::en_us()), ["0.0", "0.1", "0.2", "0.3"]);
        let a = ValueAxis::nice(dec!(-120), dec!(480), 7);
        assert_eq!(a.min, dec!(-200));
        assert_eq!(a.max, dec!(500));
        assert!(a.ticks.contains(&Decimal::ZERO));
        let de = ChartLocale::new("de-DE").unwrap();
        let a = ValueAxis::nice(dec!(0), dec!(1_250_000), 6);
        assert_eq!(a.labels(&de).last().unwrap(), "1.500.000");
        // All zeros: a unit axis, not a division by zero.
        assert_eq!(ValueAxis::nice(dec!(0), dec!(0), 5).max, dec!(1));
    }

    #[test]
    fn date_ticks_coarsen_as_the_axis_narrows() {
        let en = ChartLocale::en_us();
        let first = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let last = NaiveDate::from_ymd_opt(2026, 1, 30).unwrap();
        let wide = date_ticks(first, last, 3000.0, 7.0, &en);
        assert_eq!(wide.dates.len(), 30, "every day fits at 100 px a day");
        let mid = date_ticks(first, last, 600.0, 7.0, &en);
        assert!(mid.dates.iter().all(|d| d.weekday() == Weekday::Mon), "{mid:?}");
        assert_eq!(mid.labels[0], "Jan 5");
        let year_last = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
        let year = date_ticks(first, year_last, 700.0, 7.0, &en);
        // Quarters; January 1st's label would overhang the left edge, so the
        // year moves to the first label shown.
        let quarter = |m| NaiveDate::from_ymd_opt(2026, m, 1).unwrap();
        assert_eq!(year.dates, [quarter(4), quarter(7), quarter(10)]);
        assert_eq!(year.labels, ["April 2026", "Jul", "Oct"]);
        let wide = date_ticks(first, year_last, 1400.0, 7.0, &en);
        assert!(wide.dates.windows(2).all(|w| (w[1] - w[0]).num_days() == 14), "every other Monday: {wide:?}");
        assert!(date_ticks(first, year_last, 20.0, 7.0, &en).dates.is_empty());
    }

    #[test]
    fn label_strides() {
        assert_eq!(label_stride(50.0, 30.0), 1);
        assert_eq!(label_stride(10.0, 30.0), 4);
    }
}
