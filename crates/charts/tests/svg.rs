//! The charts' SVG, parsed back (roxmltree): structure, exact labels,
//! geometry against the values, theme colours, thinning, empty data.

use chrono::{Duration, NaiveDate};
use creditdesk_charts::baseline::{balance_chart_unthinned, daily_burn_chart_unthinned};
use creditdesk_charts::*;
use roxmltree::{Document, Node};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

fn day(m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, m, d).unwrap()
}

fn en() -> ChartLocale {
    ChartLocale::en_us()
}

fn de() -> ChartLocale {
    ChartLocale::new("de-DE").unwrap()
}

const SIZE: Size = Size::new(600, 300);

/// The parsed SVG and queries on it.
struct Svg<'a>(Document<'a>);

impl<'a> Svg<'a> {
    fn parse(text: &'a str) -> Svg<'a> {
        Svg(Document::parse(text).unwrap_or_else(|e| panic!("not well-formed XML ({e}):\n{text}")))
    }

    fn all(&self, tag: &str) -> Vec<Node<'_, 'a>> {
        self.0.descendants().filter(|n| n.has_tag_name(tag)).collect()
    }

    /// Elements `tag` whose `attr` is `value`.
    fn with(&self, tag: &str, attr: &str, value: &str) -> Vec<Node<'_, 'a>> {
        self.all(tag).into_iter().filter(|n| n.attribute(attr) == Some(value)).collect()
    }

    fn texts(&self) -> Vec<String> {
        self.all("text").iter().map(|n| n.text().unwrap_or("").trim().to_owned()).collect()
    }

    fn has_text(&self, text: &str) -> bool {
        self.texts().iter().any(|t| t == text)
    }

    /// The `text` element reading `text`.
    fn text_node(&self, text: &str) -> Node<'_, 'a> {
        *self.all("text").iter().find(|n| n.text().unwrap_or("").trim() == text).unwrap_or_else(|| {
            panic!("no text {text:?} in {:?}", self.texts());
        })
    }

    fn root_attr(&self, name: &str) -> &str {
        self.0.root_element().attribute(name).unwrap_or_default()
    }
}

fn num(n: &Node, attr: &str) -> f64 {
    n.attribute(attr).unwrap_or_else(|| panic!("no {attr}")).parse().unwrap()
}

fn points(n: &Node) -> Vec<(f64, f64)> {
    n.attribute("points")
        .unwrap()
        .split_whitespace()
        .map(|p| {
            let (x, y) = p.split_once(',').unwrap();
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect()
}

/// The pixel row of value-axis label `label` (its grid line).
fn y_of_label(svg: &Svg, label: &str) -> f64 {
    num(&svg.text_node(label), "y")
}

fn small_burn() -> DailyBurn {
    DailyBurn {
        unit: "API credits".into(),
        first_day: day(3, 1),
        last_day: day(3, 3),
        products: vec!["chat".into(), "embeddings".into()],
        days: vec![
            BurnDay { date: day(3, 1), burned: vec![dec!(100), dec!(50)] },
            BurnDay { date: day(3, 2), burned: vec![dec!(0), dec!(200)] },
            BurnDay { date: day(3, 3), burned: vec![dec!(25.5), dec!(0)] },
        ],
    }
}

#[test]
fn burn_bars_match_the_values_and_the_table_is_exact() {
    let theme = Theme::light();
    let chart = daily_burn_chart(&small_burn(), SIZE, &theme, &en()).unwrap();
    let svg = Svg::parse(&chart.svg);
    assert_eq!(svg.root_attr("width"), "600");
    assert_eq!(svg.root_attr("height"), "300");
    assert_eq!(svg.root_attr("viewBox"), "0 0 600 300");
    assert_eq!(svg.root_attr("role"), "img");
    let title = svg.all("title")[0].text().unwrap();
    assert_eq!(title, "Daily burn of API credits by product, Mar 1, 2026 to Mar 3, 2026");
    assert_eq!(svg.all("rect")[0].attribute("fill"), Some("#FFFFFF"), "the background comes first");

    // Bars: one per non-zero value, plus the legend's swatch per product.
    let chat = svg.with("rect", "fill", &theme.series[0].hex());
    let embeddings = svg.with("rect", "fill", &theme.series[1].hex());
    assert_eq!((chat.len(), embeddings.len()), (2 + 1, 2 + 1));
    assert!(svg.has_text("chat") && svg.has_text("embeddings") && svg.has_text("API credits"));

    // Value axis: 0 to 200 in exact steps, and bar heights proportional.
    for label in ["0", "50", "100", "150", "200"] {
        assert!(svg.has_text(label), "{label} in {:?}", svg.texts());
    }
    let zero = y_of_label(&svg, "0");
    let per_credit = (zero - y_of_label(&svg, "200")) / 200.0;
    let height = |n: &Node| num(n, "height");
    // chat: Mar 1 (100), Mar 3 (25.5); embeddings: Mar 1 (50, stacked on 100), Mar 2 (200).
    let close = |px: f64, credits: f64| (px - credits * per_credit).abs() <= 1.5;
    assert!(close(height(&chat[1]), 100.0) && close(height(&chat[2]), 25.5), "chat bars");
    assert!(close(height(&embeddings[1]), 50.0) && close(height(&embeddings[2]), 200.0), "embeddings bars");
    assert!((num(&embeddings[1], "y") + height(&embeddings[1]) - num(&chat[1], "y")).abs() <= 1.0, "stacked on chat");
    assert!((num(&embeddings[2], "y") + height(&embeddings[2]) - zero).abs() <= 1.0, "a bar stands on zero");

    // Date labels.
    assert!(svg.has_text("Mar 1") && svg.has_text("Mar 3"));

    let t = &chart.table;
    assert_eq!(t.caption, "Daily burn of API credits by product, Mar 1, 2026 to Mar 3, 2026; 375.5 in total");
    let headers: Vec<&str> = t.columns.iter().map(|c| c.header.as_str()).collect();
    assert_eq!(headers, ["Date", "chat", "embeddings", "Total"]);
    assert_eq!(
        t.rows,
        [["Mar 1, 2026", "100", "50", "150"], ["Mar 2, 2026", "0", "200", "200"], ["Mar 3, 2026", "25.5", "0", "25.5"]]
    );
    assert!(t.columns[1].numeric && !t.columns[0].numeric);
}

#[test]
fn labels_and_cells_follow_the_locale_exactly() {
    let mut burn = small_burn();
    burn.days[0].burned[0] = dec!(1234567.891);
    let chart = daily_burn_chart(&burn, SIZE, &Theme::light(), &de()).unwrap();
    let svg = Svg::parse(&chart.svg);
    assert!(svg.has_text("1.000.000"), "German grouping on the axis: {:?}", svg.texts());
    assert!(svg.has_text("1. März"), "German date labels: {:?}", svg.texts());
    assert_eq!(chart.table.rows[0], ["01.03.2026", "1.234.567,891", "50", "1.234.617,891"]);

    let en = daily_burn_chart(&burn, SIZE, &Theme::light(), &en()).unwrap();
    assert_eq!(en.table.rows[0][1], "1,234,567.891");
    assert!(Svg::parse(&en.svg).has_text("1,000,000"));
}

#[test]
fn dark_theme_colours_the_chart() {
    let theme = Theme::dark();
    let chart = daily_burn_chart(&small_burn(), SIZE, &theme, &en()).unwrap();
    let svg = Svg::parse(&chart.svg);
    assert_eq!(svg.all("rect")[0].attribute("fill"), Some(theme.background.hex().as_str()));
    assert_eq!(svg.with("rect", "fill", &theme.series[0].hex()).len(), 3);
    assert_eq!(svg.with("rect", "fill", &Theme::light().series[0].hex()).len(), 0);
    assert_eq!(svg.text_node("0").attribute("fill"), Some(theme.muted_text.hex().as_str()));
    assert_eq!(svg.text_node("chat").attribute("fill"), Some(theme.text.hex().as_str()));
    assert!(svg.all("text").iter().all(|t| t.attribute("font-size") == Some("12")));
    assert!(svg.all("text").iter().all(|t| t.attribute("font-family") == Some(theme.font_family)));
}

#[test]
fn a_year_of_burn_in_a_narrow_chart_is_thinned_areas_with_peaks_kept() {
    let theme = Theme::light();
    let mut burn = samples::daily_burn(365, 3);
    let spike = 200;
    burn.days[spike].burned = vec![dec!(90000), dec!(5000), dec!(5000)];
    let size = Size::new(240, 200);
    let chart = daily_burn_chart(&burn, size, &theme, &en()).unwrap();
    let svg = Svg::parse(&chart.svg);
    let areas = svg.all("polygon");
    assert_eq!(areas.len(), 3, "one area per product, no bars");
    assert_eq!(svg.with("rect", "fill", &theme.series[0].hex()).len(), 1, "only the legend swatch");
    // The plot is narrower than the chart: at most 2 points per pixel column
    // on each edge of each area (upper and lower).
    let plot_columns = 240.0;
    for area in &areas {
        assert!(points(area).len() as f64 <= 2.0 * 2.0 * plot_columns, "{} points", points(area).len());
    }
    let unthinned = daily_burn_chart_unthinned(&burn, size, &theme, &en()).unwrap();
    let before = Svg::parse(&unthinned.svg);
    assert_eq!(points(&before.all("polygon")[0]).len(), 2 * 365);
    assert!(points(&areas[0]).len() < 2 * 365);
    // The spike (100,000 in total) reaches the top tick's row in both.
    let top = |s: &Svg| s.all("polygon").iter().flat_map(points).map(|(_, y)| y).fold(f64::MAX, f64::min);
    assert_eq!(top(&svg), top(&before));
    assert!((top(&svg) - y_of_label(&svg, "100,000")).abs() <= 1.0);
    // The table keeps every day, exactly.
    assert_eq!(chart.table.rows.len(), 365);
    assert_eq!(chart.table.rows[spike][4], "100,000");
}

#[test]
fn more_products_than_colours_fold_into_other_in_the_chart_only() {
    let theme = Theme::light();
    let burn = samples::daily_burn(30, 10);
    let chart = daily_burn_chart(&burn, Size::new(900, 300), &theme, &en()).unwrap();
    let svg = Svg::parse(&chart.svg);
    assert!(svg.has_text("Other"));
    assert!(!svg.with("rect", "fill", &theme.other.hex()).is_empty());
    assert_eq!(chart.table.columns.len(), 1 + 10 + 1, "every product in the table");
}

fn forecast() -> BalanceForecast {
    BalanceForecast {
        unit: "API credits".into(),
        history: (0..10)
            .map(|d| BalancePoint {
                date: day(3, 1) + Duration::days(d),
                available: dec!(1000) - Decimal::from(d * 50),
            })
            .collect(),
        today: day(3, 10),
        projection: (0..30)
            .map(|d| BalancePoint {
                date: day(3, 10) + Duration::days(d),
                available: (dec!(550) - Decimal::from(d * 25)).max(dec!(0)),
            })
            .collect(),
        runway_end: Some(day(4, 1)),
        grants: vec![
            BalanceMarker { date: day(3, 1), credits: dec!(1000), label: "Plan".into() },
            BalanceMarker { date: day(1, 1), credits: dec!(5), label: "out of range".into() },
        ],
        expiries: vec![BalanceMarker { date: day(3, 20), credits: dec!(123.45), label: "Promo".into() }],
    }
}

#[test]
fn balance_has_history_projection_markers_and_runway() {
    let theme = Theme::light();
    let chart = balance_chart(&forecast(), SIZE, &theme, &en()).unwrap();
    let svg = Svg::parse(&chart.svg);
    for legend in ["Balance", "Projected", "Grant", "Expiry", "Runway ends"] {
        assert!(svg.has_text(legend), "{legend}");
    }
    assert!(svg.has_text("Today") && svg.has_text("Runway ends Apr 1"));
    // Grant and expiry markers: triangles in their colours (one each in the legend).
    assert_eq!(svg.with("polygon", "fill", &theme.positive.hex()).len(), 1 + 1, "the out-of-range grant is left out");
    assert_eq!(svg.with("polygon", "fill", &theme.warning.hex()).len(), 1 + 1);
    // The history is one solid polyline of 10 points; the projection dashes.
    let series = svg.with("polyline", "stroke", &theme.series[0].hex());
    let history: Vec<_> = series.iter().filter(|p| points(p).len() == 10).collect();
    assert_eq!(history.len(), 1);
    assert!(series.len() > 5, "dashes of the projection");
    let runway = svg.with("polyline", "stroke", &theme.danger.hex());
    assert_eq!(runway.len(), 2, "the runway line and its legend swatch");
    // The history starts at 1,000, the top tick.
    assert!((points(history[0])[0].1 - y_of_label(&svg, "1,000")).abs() <= 1.0);

    let t = &chart.table;
    assert_eq!(
        t.caption,
        "Balance of API credits from Mar 1, 2026 to Apr 8, 2026, projected from Mar 10, 2026; runway ends Apr 1, 2026"
    );
    assert_eq!(t.rows.len(), 39);
    assert_eq!(t.rows[0], ["Mar 1, 2026", "1,000", "", "Grant 1,000 (Plan)"]);
    assert_eq!(t.rows[9], ["Mar 10, 2026", "550", "550", ""]);
    assert_eq!(t.rows[19], ["Mar 20, 2026", "", "300", "Expires 123.45 (Promo)"]);
    assert_eq!(t.rows[31], ["Apr 1, 2026", "", "0", "Runway ends"]);
}

#[test]
fn runway_note_moves_down_a_line_when_it_would_meet_today() {
    let f = samples::balance_forecast(90, 120);
    let runway = f.runway_end.unwrap();
    let note = format!("Runway ends {}", en().day_month(runway));
    let y = |size: Size| {
        let chart = balance_chart(&f, size, &Theme::light(), &en()).unwrap();
        let svg = Svg::parse(&chart.svg);
        // Both notes hang from the plot's top by their own offset.
        num(&svg.text_node(&note), "y") - num(&svg.text_node("Today"), "y")
    };
    assert_eq!(y(Size::new(1200, 300)), 0.0, "apart on a wide chart");
    assert_eq!(y(Size::new(320, 200)), 16.0, "a line lower on a narrow one");
}

#[test]
fn balance_without_projection_or_runway() {
    let mut f = forecast();
    f.projection.clear();
    f.runway_end = None;
    f.expiries.clear();
    f.today = day(3, 10);
    let chart = balance_chart(&f, SIZE, &Theme::light(), &en()).unwrap();
    let svg = Svg::parse(&chart.svg);
    assert!(!svg.has_text("Projected") && !svg.has_text("Runway ends") && !svg.has_text("Expiry"));
    assert_eq!(chart.table.caption, "Balance of API credits from Mar 1, 2026 to Mar 10, 2026");

    // Credits lasting beyond the projection say so.
    let mut f = forecast();
    f.runway_end = None;
    let chart = balance_chart(&f, SIZE, &Theme::light(), &en()).unwrap();
    assert!(chart.table.caption.ends_with("; credits last beyond Apr 8, 2026"), "{}", chart.table.caption);
}

#[test]
fn long_balance_lines_are_capped_at_two_points_per_pixel() {
    let theme = Theme::light();
    let f = samples::balance_forecast(3000, 600);
    let size = Size::new(300, 200);
    let chart = balance_chart(&f, size, &theme, &en()).unwrap();
    let svg = Svg::parse(&chart.svg);
    let history =
        svg.with("polyline", "stroke", &theme.series[0].hex()).into_iter().map(|p| points(&p).len()).max().unwrap();
    assert!(history <= 2 * 300, "{history} points for 3,000 days in 300 px");
    let unthinned = balance_chart_unthinned(&f, size, &theme, &en()).unwrap();
    let before = Svg::parse(&unthinned.svg)
        .with("polyline", "stroke", &theme.series[0].hex())
        .into_iter()
        .map(|p| points(&p).len())
        .max()
        .unwrap();
    assert_eq!(before, 3000);
    assert_eq!(chart.table.rows.len(), unthinned.table.rows.len(), "tables are never thinned");
}

#[test]
fn expiring_credits_stack_value_by_credit_type() {
    let theme = Theme::light();
    let monday = day(3, 2);
    let input = ExpiringCredits {
        currency: "USD".into(),
        first_week: monday,
        last_week: monday + Duration::weeks(3),
        rows: vec![
            ExpiringRow { week: monday, credit_type: "Seats".into(), credits: dec!(4), value: dec!(100) },
            ExpiringRow { week: monday, credit_type: "API credits".into(), credits: dec!(5000), value: dec!(50) },
            ExpiringRow {
                week: monday + Duration::weeks(2),
                credit_type: "API credits".into(),
                credits: dec!(1234.5),
                value: dec!(12.345),
            },
        ],
    };
    let chart = expiring_chart(&input, SIZE, &theme, &en()).unwrap();
    let svg = Svg::parse(&chart.svg);
    // Credit types in name order: API credits first colour, Seats second.
    assert_eq!(svg.with("rect", "fill", &theme.series[0].hex()).len(), 2 + 1);
    assert_eq!(svg.with("rect", "fill", &theme.series[1].hex()).len(), 1 + 1);
    assert!(svg.has_text("Value (USD)") && svg.has_text("Mar 2") && svg.has_text("Mar 23"));
    let t = &chart.table;
    assert_eq!(t.caption, "Credits expiring by week from Mar 2, 2026 to Mar 29, 2026, by credit type, valued in USD; 162.345 USD in total");
    assert_eq!(
        t.rows,
        [
            ["Mar 2, 2026", "API credits", "5,000", "50.00 USD"],
            ["Mar 2, 2026", "Seats", "4", "100.00 USD"],
            ["Mar 16, 2026", "API credits", "1,234.5", "12.345 USD"]
        ]
    );
}

#[test]
fn breakage_stacks_expired_and_voided_and_handles_corrections_below_zero() {
    let theme = Theme::light();
    let row = |month: NaiveDate, expired: Decimal, voided: Decimal| BreakageRow {
        month,
        credit_type: "API credits".into(),
        category: "paid".into(),
        expired,
        expired_value: expired / dec!(100),
        voided,
        voided_value: voided / dec!(100),
    };
    let input = Breakage {
        currency: "EUR".into(),
        first_month: day(1, 1),
        last_month: day(3, 1),
        rows: vec![row(day(1, 1), dec!(10000), dec!(2500)), row(day(3, 1), dec!(-5000), dec!(0))],
    };
    let chart = breakage_chart(&input, SIZE, &theme, &de()).unwrap();
    let svg = Svg::parse(&chart.svg);
    assert_eq!(svg.with("rect", "fill", &theme.series[0].hex()).len(), 2 + 1, "expired: January and March");
    assert_eq!(svg.with("rect", "fill", &theme.series[1].hex()).len(), 1 + 1, "voided: January");
    assert!(svg.has_text("-60") || svg.has_text("-50"), "a negative tick: {:?}", svg.texts());
    assert!(svg.has_text("Januar 2026") && svg.has_text("Feb"), "{:?}", svg.texts());
    // The March correction hangs below the zero line.
    let zero = y_of_label(&svg, "0");
    let march = svg.with("rect", "fill", &theme.series[0].hex())[2];
    assert!((num(&march, "y") - zero).abs() <= 1.0 && num(&march, "height") > 0.0);
    let t = &chart.table;
    assert_eq!(
        t.caption,
        "Breakage by month from Januar 2026 to März 2026, valued in EUR; expired 50,00 EUR, voided 25,00 EUR"
    );
    assert_eq!(t.rows[1], ["März 2026", "API credits", "paid", "-5.000", "-50,00 EUR", "0", "0,00 EUR"]);
}

#[test]
fn empty_data_draws_a_no_data_chart() {
    let theme = Theme::light();
    let burn = DailyBurn { days: Vec::new(), ..small_burn() };
    let balance = BalanceForecast { history: Vec::new(), projection: Vec::new(), ..forecast() };
    let expiring =
        ExpiringCredits { currency: "USD".into(), first_week: day(3, 2), last_week: day(3, 30), rows: Vec::new() };
    let breakage = Breakage { currency: "USD".into(), first_month: day(1, 1), last_month: day(3, 1), rows: Vec::new() };
    let charts = [
        (daily_burn_chart(&burn, SIZE, &theme, &en()).unwrap(), "No usage from Mar 1, 2026 to Mar 3, 2026"),
        (balance_chart(&balance, SIZE, &theme, &en()).unwrap(), "No balance history"),
        (expiring_chart(&expiring, SIZE, &theme, &en()).unwrap(), "No credits expire from Mar 2, 2026 to Apr 5, 2026"),
        (breakage_chart(&breakage, SIZE, &theme, &en()).unwrap(), "No breakage from January 2026 to March 2026"),
    ];
    for (chart, message) in charts {
        let svg = Svg::parse(&chart.svg);
        assert!(svg.has_text(message), "{message} in {:?}", svg.texts());
        assert_eq!(svg.all("rect").len(), 1, "only the background");
        assert!(svg.all("polyline").is_empty() && svg.all("polygon").is_empty());
        assert!(chart.table.rows.is_empty());
        assert!(chart.table.caption.ends_with(message), "{}", chart.table.caption);
    }
}

#[test]
fn names_are_escaped() {
    let mut burn = small_burn();
    burn.products[0] = "<chat & \"co\">".into();
    burn.unit = "credits <beta>".into();
    let chart = daily_burn_chart(&burn, SIZE, &Theme::light(), &en()).unwrap();
    let svg = Svg::parse(&chart.svg);
    assert!(svg.has_text("<chat & \"co\">") && svg.has_text("credits <beta>"));
    assert!(svg.all("title")[0].text().unwrap().contains("credits <beta>"));
}

#[test]
fn bad_input_names_the_field_and_the_rule() {
    let theme = Theme::light();
    let mut burn = small_burn();
    burn.days[1].burned.pop();
    assert_eq!(
        daily_burn_chart(&burn, SIZE, &theme, &en()).unwrap_err().to_string(),
        "days[1].burned: must have one amount per product"
    );
    let mut burn = small_burn();
    burn.days[2].burned[0] = dec!(-1);
    assert!(
        matches!(daily_burn_chart(&burn, SIZE, &theme, &en()), Err(ChartError::Input { field, .. }) if field == "days[2].burned[0]")
    );
    let mut burn = small_burn();
    burn.days.swap(0, 1);
    assert!(daily_burn_chart(&burn, SIZE, &theme, &en()).is_err(), "dates out of order");
    assert!(matches!(
        daily_burn_chart(&small_burn(), Size::new(100, 300), &theme, &en()),
        Err(ChartError::Size { .. })
    ));
    let mut f = forecast();
    f.history[3].available = Decimal::MAX;
    assert!(
        matches!(balance_chart(&f, SIZE, &theme, &en()), Err(ChartError::Input { field, .. }) if field == "history[3].available")
    );
    let expiring =
        ExpiringCredits { currency: "USD".into(), first_week: day(3, 3), last_week: day(3, 30), rows: Vec::new() };
    assert_eq!(expiring_chart(&expiring, SIZE, &theme, &en()).unwrap_err().to_string(), "first_week: must be a Monday");
    let breakage = Breakage { currency: "usd".into(), first_month: day(1, 1), last_month: day(3, 1), rows: Vec::new() };
    assert!(
        matches!(breakage_chart(&breakage, SIZE, &theme, &en()), Err(ChartError::Input { field, .. }) if field == "currency")
    );
}

#[test]
fn every_sample_chart_is_well_formed_in_both_themes_and_locales() {
    for theme in [Theme::light(), Theme::dark()] {
        for locale in [en(), de()] {
            for size in [Size::MIN, Size::new(800, 300), Size::new(1600, 500)] {
                let charts = [
                    daily_burn_chart(&samples::daily_burn(30, 4), size, &theme, &locale).unwrap(),
                    daily_burn_chart(&samples::daily_burn(90, 6), size, &theme, &locale).unwrap(),
                    daily_burn_chart(&samples::daily_burn(365, 10), size, &theme, &locale).unwrap(),
                    balance_chart(&samples::balance_forecast(90, 365), size, &theme, &locale).unwrap(),
                    expiring_chart(&samples::expiring_credits(13), size, &theme, &locale).unwrap(),
                    breakage_chart(&samples::breakage(12), size, &theme, &locale).unwrap(),
                ];
                for chart in charts {
                    let svg = Svg::parse(&chart.svg);
                    assert_eq!(svg.root_attr("width"), size.width.to_string());
                    assert_eq!(svg.all("title").len(), 1);
                    assert!(!chart.table.rows.is_empty());
                    assert!(chart.table.rows.iter().all(|r| r.len() == chart.table.columns.len()));
                }
            }
        }
    }
}
