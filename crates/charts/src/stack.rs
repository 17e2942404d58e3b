//! Stacked series: folding many columns into at most eight coloured series,
//! and drawing stacked bars (positive values up from zero, negative down).

use plotters::prelude::*;
use rust_decimal::Decimal;

use crate::burn::value_ticks;
use crate::frame::{render, to_f64, Axes, Canvas, DrawResult, Layout, LegendEntry, Plot, Swatch};
use crate::scale::{label_stride, ValueAxis};
use crate::theme::{Rgb, Theme, SERIES_COLOURS};
use crate::ChartError;

/// Input columns grouped into the series a chart draws.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Series {
    pub labels: Vec<String>,
    pub colours: Vec<Rgb>,
    /// For each input column, the series it is drawn in.
    pub of_column: Vec<usize>,
}

impl Series {
    /// One series per column while they fit the palette, coloured in column
    /// order (so a product keeps its colour across ranges). Beyond that the
    /// seven largest by magnitude keep their order and colours and the rest
    /// are summed into "Other" (only columns of one unit are ever summed).
    pub fn fold(names: &[String], totals: &[Decimal], theme: &Theme) -> Series {
        if names.len() <= SERIES_COLOURS {
            return Series {
                labels: names.to_vec(),
                colours: theme.series[..names.len()].to_vec(),
                of_column: (0..names.len()).collect(),
            };
        }
        let kept = SERIES_COLOURS - 1;
        let mut by_size: Vec<usize> = (0..names.len()).collect();
        by_size.sort_by(|a, b| totals[*b].abs().cmp(&totals[*a].abs()).then(a.cmp(b)));
        let mut largest = by_size[..kept].to_vec();
        largest.sort_unstable();
        let mut of_column = vec![kept; names.len()];
        for (series, column) in largest.iter().enumerate() {
            of_column[*column] = series;
        }
        let mut labels: Vec<String> = largest.iter().map(|c| names[*c].clone()).collect();
        labels.push("Other".to_owned());
        let mut colours = theme.series[..kept].to_vec();
        colours.push(theme.other);
        Series { labels, colours, of_column }
    }

    /// One square swatch per series.
    pub fn legend(&self) -> Vec<LegendEntry> {
        self.labels.iter().zip(&self.colours).map(|(l, c)| LegendEntry::new(l.clone(), *c, Swatch::Square)).collect()
    }

    /// `values[slot][column]` summed into `[slot][series]`.
    pub fn apply(&self, values: &[Vec<Decimal>]) -> Vec<Vec<Decimal>> {
        values
            .iter()
            .map(|row| {
                let mut out = vec![Decimal::ZERO; self.labels.len()];
                for (column, v) in row.iter().enumerate() {
                    out[self.of_column[column]] += *v;
                }
                out
            })
            .collect()
    }
}

/// Lowest and highest stack ends over all slots: negative values stack
/// down from zero, positive ones up.
pub(crate) fn extent(stacks: &[Vec<Decimal>]) -> (Decimal, Decimal) {
    let mut low = Decimal::ZERO;
    let mut high = Decimal::ZERO;
    for slot in stacks {
        let up: Decimal = slot.iter().filter(|v| v.is_sign_positive()).sum();
        let down: Decimal = slot.iter().filter(|v| v.is_sign_negative()).sum();
        high = high.max(up);
        low = low.min(down);
    }
    (low, high)
}

/// Draws `stacks[slot][series]` as stacked bars, slot `i` spanning
/// `span(i)` on the x axis; zero values draw nothing.
pub(crate) fn draw_bars(
    plot: &mut Plot,
    stacks: &[Vec<Decimal>],
    colours: &[Rgb],
    span: impl Fn(usize) -> (f64, f64),
) -> DrawResult {
    let mut bars = Vec::new();
    for (slot, values) in stacks.iter().enumerate() {
        let (x0, x1) = span(slot);
        let (mut up, mut down) = (Decimal::ZERO, Decimal::ZERO);
        for (series, v) in values.iter().enumerate() {
            if v.is_zero() {
                continue;
            }
            let (from, to) = if v.is_sign_positive() {
                up += *v;
                (up - *v, up)
            } else {
                down += *v;
                (down, down - *v)
            };
            bars.push(Rectangle::new([(x0, to_f64(to)), (x1, to_f64(from))], colours[series].plotters().filled()));
        }
    }
    plot.draw_series(bars)?;
    Ok(())
}

/// A chart of stacked columns, one per category (week, month), labelled
/// under the column: every k-th category when not all labels fit, counted
/// from `anchor` (a category that must be labelled, such as a January).
/// `label(i, first)` is category `i`'s label, `first` when it is the
/// leftmost shown (months then carry their year).
pub(crate) fn render_columns(
    canvas: &Canvas,
    caption: &str,
    unit: &str,
    series: &Series,
    stacks: &[Vec<Decimal>],
    anchor: usize,
    label: impl Fn(usize, bool) -> String,
) -> Result<String, ChartError> {
    let legend = series.legend();
    let (low, high) = extent(stacks);
    let y = ValueAxis::nice(low, high, value_ticks(canvas.size));
    let y_labels = y.labels(canvas.locale);
    let layout = Layout::new(canvas, unit, &legend, &y_labels);
    let n = stacks.len();
    let px_per_slot = layout.plot.width as f64 / n as f64;
    let widest = (0..n).map(|i| label(i, true).chars().count()).max().unwrap_or(0) as f64 * canvas.char_width();
    let stride = label_stride(px_per_slot, widest).min(n.max(1));
    let shown: Vec<usize> = (anchor % stride..n).step_by(stride).collect();
    let x_ticks = shown.iter().enumerate().map(|(k, i)| (*i as f64 + 0.5, label(*i, k == 0))).collect();
    let axes = Axes { x: 0.0..n as f64, x_ticks, y, y_labels };
    // A gap of a quarter of the slot, 2 to 24 px, split either side.
    let pad = (px_per_slot * 0.25).clamp(2.0, 24.0) / 2.0 / px_per_slot;
    render(canvas, caption, unit, &legend, &layout, &axes, |plot| {
        draw_bars(plot, stacks, &series.colours, |i| (i as f64 + pad, i as f64 + 1.0 - pad))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn folds_the_smallest_columns_into_other() {
        let theme = Theme::light();
        let names: Vec<String> = (0..10).map(|i| format!("p{i}")).collect();
        let totals: Vec<Decimal> = (0..10).map(|i| Decimal::from(if i == 0 { 1 } else { 100 + i })).collect();
        let s = Series::fold(&names, &totals, &theme);
        // p0 (smallest) and p1, p2 (next smallest) go to Other.
        assert_eq!(s.labels, ["p3", "p4", "p5", "p6", "p7", "p8", "p9", "Other"]);
        assert_eq!(s.of_column[..4], [7, 7, 7, 0]);
        assert_eq!(s.colours[7], theme.other);
        let row = vec![(0..10).map(Decimal::from).collect::<Vec<_>>()];
        assert_eq!(s.apply(&row)[0][7], dec!(3));
        let few = Series::fold(&names[..3], &totals[..3], &theme);
        assert_eq!(few.colours, theme.series[..3]);
    }

    #[test]
    fn extent_stacks_signs_apart() {
        let stacks = vec![vec![dec!(2), dec!(-1), dec!(3)], vec![dec!(-4), dec!(1)]];
        assert_eq!(extent(&stacks), (dec!(-4), dec!(5)));
    }
}
