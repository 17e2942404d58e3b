//! Light and dark palettes. The UI uses the same colours (`Theme::css_variables`
//! or the serialized `Theme`), so a chart and the card around it match.

use serde::{Serialize, Serializer};

/// An opaque sRGB colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// `#RRGGBB`, upper case: the form plotters' SVG backend writes, so a
    /// colour can be looked up in a chart's SVG as it is.
    pub fn hex(self) -> String {
        format!("#{:02X}{:02X}{:02X}", self.0, self.1, self.2)
    }

    pub(crate) fn plotters(self) -> plotters::style::RGBColor {
        plotters::style::RGBColor(self.0, self.1, self.2)
    }
}

impl Serialize for Rgb {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.hex())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ThemeMode {
    Light,
    Dark,
}

/// Number of categorical series colours; charts with more series fold the
/// smallest into "Other" (drawn in [`Theme::other`]).
pub const SERIES_COLOURS: usize = 8;

/// The colours and type of every chart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Theme {
    pub mode: ThemeMode,
    pub background: Rgb,
    /// Legend text and the units caption.
    pub text: Rgb,
    /// Axis labels and notes ("Today", "No data").
    pub muted_text: Rgb,
    /// Horizontal grid lines.
    pub grid: Rgb,
    /// Axis lines and tick marks.
    pub axis: Rgb,
    /// Categorical colours, in series order (products, credit types, ...).
    /// Chosen to stay apart for the common colour-vision deficiencies.
    pub series: [Rgb; SERIES_COLOURS],
    /// The "Other" series.
    pub other: Rgb,
    /// Grant markers.
    pub positive: Rgb,
    /// Expiry markers.
    pub warning: Rgb,
    /// The runway's end.
    pub danger: Rgb,
    /// CSS `font-family` written into the SVG's text.
    pub font_family: &'static str,
    /// Label size in CSS pixels.
    pub font_size: u32,
}

const FONT_FAMILY: &str = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif";

impl Theme {
    pub fn new(mode: ThemeMode) -> Theme {
        match mode {
            ThemeMode::Light => Theme::light(),
            ThemeMode::Dark => Theme::dark(),
        }
    }

    pub fn light() -> Theme {
        Theme {
            mode: ThemeMode::Light,
            background: Rgb(0xFF, 0xFF, 0xFF),
            text: Rgb(0x1F, 0x29, 0x37),
            muted_text: Rgb(0x5B, 0x66, 0x75),
            grid: Rgb(0xE5, 0xE7, 0xEB),
            axis: Rgb(0x9C, 0xA3, 0xAF),
            series: [
                Rgb(0x25, 0x63, 0xEB), // blue
                Rgb(0xD9, 0x77, 0x06), // amber
                Rgb(0x05, 0x96, 0x69), // emerald
                Rgb(0xDB, 0x27, 0x77), // pink
                Rgb(0x7C, 0x3A, 0xED), // violet
                Rgb(0x08, 0x91, 0xB2), // cyan
                Rgb(0x65, 0xA3, 0x0D), // lime
                Rgb(0x92, 0x40, 0x0E), // brown
            ],
            other: Rgb(0x9C, 0xA3, 0xAF),
            positive: Rgb(0x15, 0x80, 0x3D),
            warning: Rgb(0xB4, 0x53, 0x09),
            danger: Rgb(0xDC, 0x26, 0x26),
            font_family: FONT_FAMILY,
            font_size: 12,
        }
    }

    pub fn dark() -> Theme {
        Theme {
            mode: ThemeMode::Dark,
            background: Rgb(0x11, 0x18, 0x27),
            text: Rgb(0xE5, 0xE7, 0xEB),
            muted_text: Rgb(0x9C, 0xA3, 0xAF),
            grid: Rgb(0x26, 0x30, 0x40),
            axis: Rgb(0x4B, 0x55, 0x63),
            series: [
                Rgb(0x60, 0xA5, 0xFA),
                Rgb(0xFB, 0xBF, 0x24),
                Rgb(0x34, 0xD3, 0x99),
                Rgb(0xF4, 0x72, 0xB6),
                Rgb(0xA7, 0x8B, 0xFA),
                Rgb(0x22, 0xD3, 0xEE),
                Rgb(0xA3, 0xE6, 0x35),
                Rgb(0xD6, 0x9E, 0x6B),
            ],
            other: Rgb(0x6B, 0x72, 0x80),
            positive: Rgb(0x4A, 0xDE, 0x80),
            warning: Rgb(0xFB, 0x92, 0x3C),
            danger: Rgb(0xF8, 0x71, 0x71),
            font_family: FONT_FAMILY,
            font_size: 12,
        }
    }

    /// The palette as CSS custom properties (`--chart-background: #FFFFFF;`
    /// ...), for the UI to style the cards and tables around the charts.
    pub fn css_variables(&self) -> String {
        let mut out = String::new();
        let mut var = |name: &str, value: String| out.push_str(&format!("--chart-{name}: {value};\n"));
        var("background", self.background.hex());
        var("text", self.text.hex());
        var("muted-text", self.muted_text.hex());
        var("grid", self.grid.hex());
        var("axis", self.axis.hex());
        for (i, c) in self.series.iter().enumerate() {
            var(&format!("series-{i}"), c.hex());
        }
        var("other", self.other.hex());
        var("positive", self.positive.hex());
        var("warning", self.warning.hex());
        var("danger", self.danger.hex());
        var("font-family", self.font_family.to_owned());
        var("font-size", format!("{}px", self.font_size));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn palettes_differ_and_stay_distinct_within_a_theme() {
        for theme in [Theme::light(), Theme::dark()] {
            let mut all: Vec<Rgb> = theme.series.to_vec();
            all.extend([theme.background, theme.other, theme.positive, theme.warning, theme.danger]);
            let mut unique = all.clone();
            unique.sort_by_key(|c| (c.0, c.1, c.2));
            unique.dedup();
            assert_eq!(unique.len(), all.len(), "{:?} reuses a colour", theme.mode);
        }
        assert_ne!(Theme::light().background, Theme::dark().background);
    }

    #[test]
    fn serializes_as_hex_and_css() {
        let json = serde_json_value(&Theme::light());
        assert!(json.contains("\"background\":\"#FFFFFF\""), "{json}");
        assert!(json.contains("\"mode\":\"light\""));
        let css = Theme::dark().css_variables();
        assert!(css.contains("--chart-background: #111827;\n"), "{css}");
        assert!(css.contains("--chart-series-7: #D69E6B;\n"));
        assert!(css.contains("--chart-font-size: 12px;\n"));
    }

    fn serde_json_value<T: Serialize>(v: &T) -> String {
        serde_json::to_string(v).unwrap()
    }
}
