//! What every chart shares: the layout (units caption and legend above, value
//! labels left, date or category labels below), plotters' chart and mesh
//! with our own exact tick labels, the "no data" chart, and the SVG's
//! accessible name.

use std::io;
use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::locale::ChartLocale;
use crate::scale::ValueAxis;
use crate::theme::{Rgb, Theme};
use crate::{check_size, ChartError, Size};

/// What a drawing step returns (plotters' error for the SVG backend).
pub(crate) type DrawResult = Result<(), DrawingAreaErrorKind<io::Error>>;
pub(crate) type Coords = Cartesian2d<TickedAxis, TickedAxis>;
/// The plot a chart draws its series into, in data coordinates: x in days
/// or category slots, y in credits or money (as `f64` positions).
pub(crate) type Plot<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Coords>;

const MARGIN: i32 = 8;
/// Room right of the plot for the last x label to overhang.
const RIGHT_MARGIN: i32 = 16;
const TICK: i32 = 4;
/// Average glyph advance of a sans-serif label, in ems (digits are ~0.55).
const CHAR_EM: f64 = 0.6;

/// Where a chart is drawn: its size, colours and locale.
#[derive(Clone, Copy)]
pub(crate) struct Canvas<'a> {
    pub size: Size,
    pub theme: &'a Theme,
    pub locale: &'a ChartLocale,
}

impl Canvas<'_> {
    pub fn char_width(&self) -> f64 {
        self.theme.font_size as f64 * CHAR_EM
    }

    fn text_width(&self, text: &str) -> i32 {
        (text.chars().count() as f64 * self.char_width()).ceil() as i32
    }

    fn line_height(&self) -> i32 {
        self.theme.font_size as i32 + 8
    }

    pub fn font(&self, colour: Rgb) -> TextStyle<'static> {
        let mut style = TextStyle::from((self.theme.font_family, plotters_font_size(self.theme.font_size)));
        style.color = colour.plotters().to_backend_color();
        style
    }
}

/// plotters' SVG backend writes `font-size` as the style's size / 1.24;
/// this is the size whose quotient prints as exactly `px`.
fn plotters_font_size(px: u32) -> f64 {
    let want = px as f64;
    let guess = want * 1.24;
    let (mut up, mut down) = (guess, guess);
    for _ in 0..64 {
        if up / 1.24 == want {
            return up;
        }
        if down / 1.24 == want {
            return down;
        }
        up = up.next_up();
        down = down.next_down();
    }
    guess
}

/// How a legend entry's swatch looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Swatch {
    /// A filled square (bars, areas).
    Square,
    /// A solid line.
    Line,
    /// A dashed line (projections).
    Dashed,
    /// A triangle pointing up (grants) or down (expiries).
    Up,
    Down,
}

#[derive(Clone, Debug)]
pub(crate) struct LegendEntry {
    pub label: String,
    pub colour: Rgb,
    pub swatch: Swatch,
}

impl LegendEntry {
    pub fn new(label: impl Into<String>, colour: Rgb, swatch: Swatch) -> LegendEntry {
        LegendEntry { label: label.into(), colour, swatch }
    }
}

/// A linear `f64` axis whose ticks (grid lines and labels) are exactly the
/// given positions. plotters' own `with_key_points` cannot be used with
/// `f64` axes' label formatters in 0.3.7, hence this small coordinate.
#[derive(Clone, Debug)]
pub(crate) struct TickedAxis {
    range: Range<f64>,
    ticks: Vec<f64>,
}

impl Ranged for TickedAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    /// plotters' own linear mapping for `f64` (`RangedCoordf64::map`).
    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let (start, end) = (self.range.start, self.range.end);
        if start == end {
            return (limit.1 - limit.0) / 2;
        }
        let logical = (*v - start) / (end - start);
        let length = limit.1 - limit.0;
        if length == 0 {
            return limit.1;
        }
        if logical.is_infinite() {
            return if logical.is_sign_positive() { limit.1 } else { limit.0 };
        }
        if length > 0 {
            limit.0 + (length as f64 * logical + 1e-3).floor() as i32
        } else {
            limit.0 + (length as f64 * logical - 1e-3).ceil() as i32
        }
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // Bold points only: no light grid lines between the ticks.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// Pixel rectangle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rect {
    pub left: i32,
    pub top: i32,
    pub width: i32,
    pub height: i32,
}

/// Where things go, computed before anything is drawn so that the x ticks
/// and the thinning can use the plot's width in pixels.
pub(crate) struct Layout {
    pub plot: Rect,
    y_label_width: i32,
    x_label_height: i32,
    /// The units caption's and each shown legend entry's top-left corner.
    caption_at: (i32, i32),
    legend_at: Vec<(i32, i32)>,
}

impl Layout {
    /// Lays out the units caption and `legend` in rows across the top
    /// (dropping entries that would leave the plot under 40 px tall: the
    /// table names every series), then the plot under them, right of the
    /// value labels `y_labels`.
    pub fn new(canvas: &Canvas, unit: &str, legend: &[LegendEntry], y_labels: &[String]) -> Layout {
        let (w, h) = (canvas.size.width as i32, canvas.size.height as i32);
        let line = canvas.line_height();
        let x_label_height = canvas.theme.font_size as i32 + 12;
        let widest_y = y_labels.iter().map(|l| canvas.text_width(l)).max().unwrap_or(0);
        let y_label_width = widest_y + TICK + 8;
        let max_rows = ((h - 2 * MARGIN - x_label_height - 40) / line).max(1);

        let caption_at = (MARGIN, MARGIN);
        let mut x = MARGIN + canvas.text_width(unit) + 16;
        let mut row = 0;
        let mut legend_at = Vec::new();
        for entry in legend {
            let width = 18 + canvas.text_width(&entry.label);
            if x + width > w - MARGIN && x > MARGIN {
                row += 1;
                x = MARGIN;
            }
            if row >= max_rows {
                break;
            }
            legend_at.push((x, MARGIN + row * line));
            x += width + 14;
        }
        let top = MARGIN + (row.min(max_rows - 1) + 1) * line + 4;
        let left = MARGIN + y_label_width;
        let plot = Rect {
            left,
            top,
            width: (w - RIGHT_MARGIN - left).max(1),
            height: (h - MARGIN - x_label_height - top).max(1),
        };
        Layout { plot, y_label_width, x_label_height, caption_at, legend_at }
    }
}

/// The axes of a chart: data ranges and labelled ticks.
pub(crate) struct Axes {
    pub x: Range<f64>,
    /// Tick positions (data units) and their labels.
    pub x_ticks: Vec<(f64, String)>,
    pub y: ValueAxis,
    pub y_labels: Vec<String>,
}

/// Draws a chart: background, caption and legend, axes with `axes`' exact
/// labels and horizontal grid lines, then `series` into the plot.
#[allow(clippy::too_many_arguments)]
pub(crate) fn render(
    canvas: &Canvas,
    title: &str,
    unit: &str,
    legend: &[LegendEntry],
    layout: &Layout,
    axes: &Axes,
    series: impl FnOnce(&mut Plot) -> DrawResult,
) -> Result<String, ChartError> {
    check_size(canvas.size)?;
    let theme = canvas.theme;
    let mut svg = String::with_capacity(32 * 1024);
    {
        let root = SVGBackend::with_string(&mut svg, (canvas.size.width, canvas.size.height)).into_drawing_area();
        root.fill(&theme.background.plotters()).map_err(draw_error)?;
        draw_header(&root, canvas, unit, legend, layout).map_err(draw_error)?;

        let y_min = to_f64(axes.y.min);
        let y_max = to_f64(axes.y.max);
        let y_ticks: Vec<f64> = axes.y.ticks.iter().map(|t| to_f64(*t)).collect();
        let x_ticks: Vec<f64> = axes.x_ticks.iter().map(|(x, _)| *x).collect();
        let mut chart = ChartBuilder::on(&root)
            .margin_top(layout.plot.top)
            .margin_left(MARGIN)
            .margin_right(RIGHT_MARGIN)
            .margin_bottom(MARGIN)
            .x_label_area_size(layout.x_label_height)
            .y_label_area_size(layout.y_label_width)
            .build_cartesian_2d(
                TickedAxis { range: axes.x.clone(), ticks: x_ticks },
                TickedAxis { range: y_min..y_max, ticks: y_ticks.clone() },
            )
            .map_err(draw_error)?;

        // Labels come from the exact decimals: look each tick up by position.
        let x_label = |v: &f64| lookup(&axes.x_ticks, *v);
        let y_pairs: Vec<(f64, String)> = y_ticks.iter().copied().zip(axes.y_labels.iter().cloned()).collect();
        let y_label = |v: &f64| lookup(&y_pairs, *v);
        let label_style = canvas.font(theme.muted_text);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .bold_line_style(theme.grid.plotters())
            .light_line_style(TRANSPARENT)
            .axis_style(theme.axis.plotters())
            .set_all_tick_mark_size(TICK)
            .label_style(label_style)
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .draw()
            .map_err(draw_error)?;
        if y_min < 0.0 {
            // The zero line, where stacks and balances turn negative.
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(axes.x.start, 0.0), (axes.x.end, 0.0)],
                    theme.axis.plotters(),
                )))
                .map_err(draw_error)?;
        }
        series(&mut chart).map_err(draw_error)?;
        root.present().map_err(draw_error)?;
    }
    Ok(finish(svg, title))
}

/// A chart with nothing to plot: the units caption and `message` in the
/// middle, so an empty period reads as such rather than as a broken chart.
pub(crate) fn render_message(canvas: &Canvas, title: &str, unit: &str, message: &str) -> Result<String, ChartError> {
    check_size(canvas.size)?;
    let theme = canvas.theme;
    let mut svg = String::with_capacity(2 * 1024);
    {
        let root = SVGBackend::with_string(&mut svg, (canvas.size.width, canvas.size.height)).into_drawing_area();
        root.fill(&theme.background.plotters()).map_err(draw_error)?;
        draw_header(&root, canvas, unit, &[], &Layout::new(canvas, unit, &[], &[])).map_err(draw_error)?;
        let (w, h) = (canvas.size.width as i32, canvas.size.height as i32);
        let style = canvas.font(theme.muted_text).pos(Pos::new(HPos::Center, VPos::Center));
        root.draw(&Text::new(message.to_owned(), (w / 2, h / 2), style)).map_err(draw_error)?;
        root.present().map_err(draw_error)?;
    }
    Ok(finish(svg, title))
}

fn draw_header(
    root: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    canvas: &Canvas,
    unit: &str,
    legend: &[LegendEntry],
    layout: &Layout,
) -> DrawResult {
    let line = canvas.line_height();
    let middle = |(x, y): (i32, i32)| (x, y + line / 2);
    let left_centre = Pos::new(HPos::Left, VPos::Center);
    root.draw(&Text::new(unit.to_owned(), middle(layout.caption_at), canvas.font(canvas.theme.text).pos(left_centre)))?;
    for (entry, at) in legend.iter().zip(&layout.legend_at) {
        let (x, y) = middle(*at);
        let colour = entry.colour.plotters();
        match entry.swatch {
            Swatch::Square => root.draw(&Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled()))?,
            Swatch::Line => root.draw(&PathElement::new(vec![(x, y), (x + 12, y)], colour.stroke_width(2)))?,
            Swatch::Dashed => {
                root.draw(&PathElement::new(vec![(x, y), (x + 4, y)], colour.stroke_width(2)))?;
                root.draw(&PathElement::new(vec![(x + 8, y), (x + 12, y)], colour.stroke_width(2)))?;
            }
            Swatch::Up => root.draw(&Polygon::new(triangle((x + 6, y), true), colour.filled()))?,
            Swatch::Down => root.draw(&Polygon::new(triangle((x + 6, y), false), colour.filled()))?,
        }
        root.draw(&Text::new(entry.label.clone(), (x + 18, y), canvas.font(canvas.theme.text).pos(left_centre)))?;
    }
    Ok(())
}

/// A 12 px wide marker triangle centred on `at`.
pub(crate) fn triangle((x, y): (i32, i32), up: bool) -> Vec<(i32, i32)> {
    if up {
        vec![(x, y - 5), (x + 6, y + 5), (x - 6, y + 5)]
    } else {
        vec![(x, y + 5), (x + 6, y - 5), (x - 6, y - 5)]
    }
}

fn lookup(ticks: &[(f64, String)], at: f64) -> String {
    ticks.iter().find(|(x, _)| x.to_bits() == at.to_bits()).map(|(_, l)| l.clone()).unwrap_or_default()
}

/// A decimal as a plot position. Amounts are at most 10^18, so this is
/// within a pixel of exact; labels never come from it.
pub(crate) fn to_f64(d: rust_decimal::Decimal) -> f64 {
    use rust_decimal::prelude::ToPrimitive;
    d.to_f64().unwrap_or(0.0)
}

fn draw_error<E: std::fmt::Display>(e: E) -> ChartError {
    ChartError::Draw(e.to_string())
}

/// Gives the SVG its accessible name: `role="img"` and a `<title>`.
fn finish(mut svg: String, title: &str) -> String {
    const OPEN: &str = "xmlns=\"http://www.w3.org/2000/svg\">\n";
    if let Some(at) = svg.find(OPEN) {
        let end = at + OPEN.len();
        let mut head = String::from("xmlns=\"http://www.w3.org/2000/svg\" role=\"img\">\n<title>");
        escape_into(&mut head, title);
        head.push_str("</title>\n");
        svg.replace_range(at..end, &head);
    }
    svg
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::theme::Theme;

    #[test]
    fn font_size_prints_exactly() {
        // Not every size has an f64 whose quotient is exact (13 has none);
        // the themes' 12 does.
        let exact: Vec<u32> = (8..=20).filter(|px| plotters_font_size(*px) / 1.24 == *px as f64).collect();
        assert!(exact.contains(&Theme::light().font_size), "{exact:?}");
        assert_eq!(format!("{}", plotters_font_size(12) / 1.24), "12");
    }

    #[test]
    fn title_is_escaped() {
        let svg = finish("<svg width=\"1\" xmlns=\"http://www.w3.org/2000/svg\">\n</svg>\n".into(), "A & <B>");
        assert!(svg.contains("role=\"img\">\n<title>A &amp; &lt;B&gt;</title>"), "{svg}");
    }
}
