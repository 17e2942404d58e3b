//! Rendering the charts from 365 daily points (the app's target: data fetch
//! plus render within 16 ms, one frame). Inputs are the crate's samples:
//! a year of daily burn over 5 products, 365 days of balance history plus a
//! 365-day projection, 13 weeks of expiring credits, 12 months of breakage,
//! and ten years of daily burn.
//!
//! Baselines in the same groups: the same charts drawn without thinning
//! (`unthinned`), which is what thinning saves once a series has more than
//! two points per pixel column (the ten years do; a year at these widths
//! does not). The SVG sizes of both are printed first. `to_json` adds
//! serialising the result (SVG + table) as a Tauri command returns it.
//!
//! Run: `cargo bench -p creditdesk-charts --bench charts`

use std::hint::black_box;
use std::time::Duration;

use creditdesk_charts::baseline::{balance_chart_unthinned, daily_burn_chart_unthinned};
use creditdesk_charts::{
    balance_chart, breakage_chart, daily_burn_chart, expiring_chart, samples, Chart, ChartLocale, Size, Theme,
};
use criterion::{criterion_group, criterion_main, Criterion};

/// A chart card in the customer view, and a narrow one (a side panel).
const CARD: Size = Size::new(800, 300);
const NARROW: Size = Size::new(320, 200);

fn charts(c: &mut Criterion) {
    let theme = Theme::light();
    let locale = ChartLocale::en_us();
    let burn = samples::daily_burn(365, 5);
    let balance = samples::balance_forecast(365, 365);
    let long_projection = samples::balance_forecast(90, 3_650);
    let expiring = samples::expiring_credits(13);
    let breakage = samples::breakage(12);

    // Thinning changes what is drawn, never the table; what it saves the
    // webview is SVG to parse and paint, so the sizes are printed too.
    let sizes = [("800x300", CARD), ("320x200", NARROW)];
    for (name, size) in sizes {
        let (thinned, unthinned) = (
            daily_burn_chart(&burn, size, &theme, &locale).unwrap(),
            daily_burn_chart_unthinned(&burn, size, &theme, &locale).unwrap(),
        );
        assert_eq!(thinned.table, unthinned.table);
        svg_bytes(&format!("burn_365d_5_products_{name}"), &thinned, &unthinned);
        let (thinned, unthinned) = (
            balance_chart(&balance, size, &theme, &locale).unwrap(),
            balance_chart_unthinned(&balance, size, &theme, &locale).unwrap(),
        );
        assert_eq!(thinned.table, unthinned.table);
        svg_bytes(&format!("balance_365d_history_365d_projection_{name}"), &thinned, &unthinned);
    }
    let decade = samples::daily_burn(3_650, 5);
    svg_bytes(
        "burn_3650d_5_products_800x300",
        &daily_burn_chart(&decade, CARD, &theme, &locale).unwrap(),
        &daily_burn_chart_unthinned(&decade, CARD, &theme, &locale).unwrap(),
    );
    svg_bytes(
        "balance_90d_history_3650d_projection_800x300",
        &balance_chart(&long_projection, CARD, &theme, &locale).unwrap(),
        &balance_chart_unthinned(&long_projection, CARD, &theme, &locale).unwrap(),
    );

    for (name, size) in sizes {
        let mut g = c.benchmark_group(format!("burn_365d_5_products_{name}"));
        g.bench_function("thinned", |b| b.iter(|| daily_burn_chart(black_box(&burn), size, &theme, &locale)));
        g.bench_function("thinned_to_json", |b| {
            b.iter(|| serde_json::to_string(&daily_burn_chart(black_box(&burn), size, &theme, &locale).unwrap()))
        });
        g.bench_function("unthinned", |b| {
            b.iter(|| daily_burn_chart_unthinned(black_box(&burn), size, &theme, &locale))
        });
        g.finish();

        let mut g = c.benchmark_group(format!("balance_365d_history_365d_projection_{name}"));
        g.bench_function("thinned", |b| b.iter(|| balance_chart(black_box(&balance), size, &theme, &locale)));
        g.bench_function("unthinned", |b| {
            b.iter(|| balance_chart_unthinned(black_box(&balance), size, &theme, &locale))
        });
        g.finish();
    }

    // Ten years of days: about five per pixel column, where thinning has
    // something to drop.
    let mut g = c.benchmark_group("burn_3650d_5_products_800x300");
    g.bench_function("thinned", |b| b.iter(|| daily_burn_chart(black_box(&decade), CARD, &theme, &locale)));
    g.bench_function("unthinned", |b| b.iter(|| daily_burn_chart_unthinned(black_box(&decade), CARD, &theme, &locale)));
    g.finish();

    let mut g = c.benchmark_group("balance_90d_history_3650d_projection_800x300");
    g.bench_function("thinned", |b| b.iter(|| balance_chart(black_box(&long_projection), CARD, &theme, &locale)));
    g.bench_function("unthinned", |b| {
        b.iter(|| balance_chart_unthinned(black_box(&long_projection), CARD, &theme, &locale))
    });
    g.finish();

    let mut g = c.benchmark_group("reports_800x300");
    g.bench_function("expiring_13_weeks", |b| b.iter(|| expiring_chart(black_box(&expiring), CARD, &theme, &locale)));
    g.bench_function("breakage_12_months", |b| b.iter(|| breakage_chart(black_box(&breakage), CARD, &theme, &locale)));
    g.finish();

    let mut g = c.benchmark_group("locale");
    g.bench_function("chart_locale_new_de_DE", |b| b.iter(|| ChartLocale::new(black_box("de-DE"))));
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(Duration::from_secs(3));
    targets = charts
}
criterion_main!(benches);

fn svg_bytes(group: &str, thinned: &Chart, unthinned: &Chart) {
    println!("{group}: SVG {} bytes thinned, {} unthinned", thinned.svg.len(), unthinned.svg.len());
}
