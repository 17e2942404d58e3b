//! Writes every chart, drawn from the sample data, as SVG files (and their
//! tables as text) into a directory, in light and dark, en-US and de-DE:
//! `cargo run -p creditdesk-charts --example render_charts -- /tmp/charts`.

use std::path::PathBuf;

use creditdesk_charts::{samples, ChartLocale, Size, Theme};

fn main() -> anyhow::Result<()> {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "charts".to_owned()));
    std::fs::create_dir_all(&out)?;
    let sizes = [("", Size::new(800, 300)), ("-narrow", Size::new(320, 200))];
    for ((theme, locale), (suffix, size)) in
        [(Theme::light(), "en-US"), (Theme::dark(), "de-DE")].into_iter().flat_map(|t| sizes.map(|s| (t.clone(), s)))
    {
        let locale = ChartLocale::new(locale)?;
        let charts = [
            ("burn-30", creditdesk_charts::daily_burn_chart(&samples::daily_burn(30, 4), size, &theme, &locale)?),
            ("burn-365", creditdesk_charts::daily_burn_chart(&samples::daily_burn(365, 10), size, &theme, &locale)?),
            ("balance", creditdesk_charts::balance_chart(&samples::balance_forecast(90, 120), size, &theme, &locale)?),
            ("expiring", creditdesk_charts::expiring_chart(&samples::expiring_credits(13), size, &theme, &locale)?),
            ("breakage", creditdesk_charts::breakage_chart(&samples::breakage(12), size, &theme, &locale)?),
        ];
        for (name, chart) in charts {
            let stem = format!("{name}-{}{suffix}", locale.tag());
            std::fs::write(out.join(format!("{stem}.svg")), &chart.svg)?;
            let mut text = format!("{}\n", chart.table.caption);
            let headers: Vec<&str> = chart.table.columns.iter().map(|c| c.header.as_str()).collect();
            text.push_str(&format!("{}\n", headers.join(" | ")));
            for row in &chart.table.rows {
                text.push_str(&format!("{}\n", row.join(" | ")));
            }
            std::fs::write(out.join(format!("{stem}.txt")), text)?;
        }
    }
    println!("wrote {}", out.display());
    Ok(())
}
