//! Numbers, money and dates in the user's locale, via ICU4X (CLDR data
//! compiled in). Amounts go from `rust_decimal::Decimal` to ICU's decimal
//! through their exact decimal text, never through `f64`, so a label shows
//! exactly the value it stands for.

use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use icu_calendar::{Date, Gregorian};
use icu_datetime::fieldsets::{M, MD, YM, YMD};
use icu_datetime::FixedCalendarDateTimeFormatter;
use icu_decimal::DecimalFormatter;
use icu_locale_core::Locale;
use rust_decimal::Decimal;

use crate::ChartError;

/// The formatters of one locale. Building one costs some microseconds;
/// keep it beside the app's settings and pass it to every chart.
pub struct ChartLocale {
    tag: String,
    numbers: DecimalFormatter,
    day_month: FixedCalendarDateTimeFormatter<Gregorian, MD>,
    date: FixedCalendarDateTimeFormatter<Gregorian, YMD>,
    month: FixedCalendarDateTimeFormatter<Gregorian, M>,
    month_year: FixedCalendarDateTimeFormatter<Gregorian, YM>,
}

impl std::fmt::Debug for ChartLocale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChartLocale").field("tag", &self.tag).finish_non_exhaustive()
    }
}

impl ChartLocale {
    /// A BCP 47 tag such as `en-US` or `de-DE`. Languages without CLDR data
    /// fall back to CLDR's root formats (`1,234.5`, `2026-03-05`). Dates are
    /// always Gregorian.
    pub fn new(tag: &str) -> Result<ChartLocale, ChartError> {
        let bad = |_| ChartError::Locale { tag: tag.to_owned() };
        let locale = Locale::from_str(tag).map_err(bad)?;
        let failed = |e: icu_datetime::DateTimeFormatterLoadError| ChartError::Draw(format!("locale {tag}: {e}"));
        Ok(ChartLocale {
            tag: locale.to_string(),
            numbers: DecimalFormatter::try_new((&locale).into(), Default::default())
                .map_err(|e| ChartError::Draw(format!("locale {tag}: {e}")))?,
            day_month: FixedCalendarDateTimeFormatter::try_new((&locale).into(), MD::medium()).map_err(failed)?,
            date: FixedCalendarDateTimeFormatter::try_new((&locale).into(), YMD::medium()).map_err(failed)?,
            month: FixedCalendarDateTimeFormatter::try_new((&locale).into(), M::medium()).map_err(failed)?,
            month_year: FixedCalendarDateTimeFormatter::try_new((&locale).into(), YM::long()).map_err(failed)?,
        })
    }

    pub fn en_us() -> ChartLocale {
        ChartLocale::new("en-US").expect("en-US is compiled in")
    }

    /// The normalised tag (`de-DE`).
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// `value` with the locale's separators, every digit it has (`1.50`
    /// stays `1.50`).
    pub fn number(&self, value: Decimal) -> String {
        // The integer mantissa shifted by the scale: the same digits, no
        // text round trip (a scale is at most 28, so the shift fits an i16).
        let mut exact = fixed_decimal::Decimal::from(value.mantissa());
        exact.absolute.multiply_pow10(-(value.scale() as i16));
        self.numbers.format(&exact).to_string()
    }

    /// Credits: exact, without trailing zeros (`1,250.5`).
    pub fn credits(&self, value: Decimal) -> String {
        self.number(value.normalize())
    }

    /// Money: exact, with at least the currency's minor digits and its ISO
    /// code after the number (`1,234.50 USD`, `1.234,50 USD`). Never rounded:
    /// a value with more digits than the currency has keeps them.
    pub fn money(&self, value: Decimal, currency: &str) -> String {
        let minor = iso_currency::Currency::from_code(currency).and_then(|c| c.exponent()).unwrap_or(0) as u32;
        let mut v = value.normalize();
        if v.scale() < minor {
            v.rescale(minor);
        }
        format!("{} {currency}", self.number(v))
    }

    /// Axis label of a day: `Mar 5`, `5. März`.
    pub fn day_month(&self, date: NaiveDate) -> String {
        self.day_month.format(&gregorian(date)).to_string()
    }

    /// A full date: `Mar 5, 2026`, `05.03.2026`.
    pub fn date(&self, date: NaiveDate) -> String {
        self.date.format(&gregorian(date)).to_string()
    }

    /// Axis label of a month: `Mar`, `Mär`.
    pub fn month(&self, date: NaiveDate) -> String {
        self.month.format(&gregorian(date)).to_string()
    }

    /// A month with its year: `March 2026`, `März 2026`.
    pub fn month_year(&self, date: NaiveDate) -> String {
        self.month_year.format(&gregorian(date)).to_string()
    }
}

fn gregorian(date: NaiveDate) -> Date<Gregorian> {
    // chrono's dates are proleptic Gregorian in years -262143..=262142, all
    // of which ICU accepts; the fallback is unreachable.
    Date::try_new_gregorian(date.year(), date.month() as u8, date.day() as u8)
        .unwrap_or_else(|_| Date::try_new_gregorian(1970, 1, 1).expect("valid date"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn numbers_are_exact_with_locale_separators() {
        let en = ChartLocale::en_us();
        let de = ChartLocale::new("de-DE").unwrap();
        assert_eq!(en.number(dec!(-1234567.50)), "-1,234,567.50");
        assert_eq!(de.number(dec!(-1234567.50)), "-1.234.567,50");
        // 28 significant digits survive: no trip through f64.
        assert_eq!(en.number(dec!(1234567890123456.789012345678)), "1,234,567,890,123,456.789012345678");
        assert_eq!(en.number(dec!(0.1) + dec!(0.2)), "0.3");
        assert_eq!(en.credits(dec!(1250.500)), "1,250.5");
        assert_eq!(de.credits(dec!(1000)), "1.000");
        assert_eq!(en.number(dec!(0.000)), "0.000");
        assert_eq!(en.number(dec!(-0.05)), "-0.05");
        assert_eq!(en.number(Decimal::MAX), "79,228,162,514,264,337,593,543,950,335");
        assert_eq!(en.number(Decimal::new(1, 28)), format!("0.{}1", "0".repeat(27)));
    }

    #[test]
    fn money_pads_to_the_currency_but_never_rounds() {
        let en = ChartLocale::en_us();
        let de = ChartLocale::new("de-DE").unwrap();
        assert_eq!(en.money(dec!(1234.5), "USD"), "1,234.50 USD");
        assert_eq!(de.money(dec!(1234.5), "EUR"), "1.234,50 EUR");
        assert_eq!(en.money(dec!(0.125), "USD"), "0.125 USD");
        assert_eq!(en.money(dec!(1500), "JPY"), "1,500 JPY");
        assert_eq!(en.money(dec!(2.000), "USD"), "2.00 USD");
    }

    #[test]
    fn dates_follow_the_locale() {
        let en = ChartLocale::en_us();
        let de = ChartLocale::new("de-DE").unwrap();
        let date = d(2026, 3, 5);
        assert_eq!(en.day_month(date), "Mar 5");
        assert_eq!(de.day_month(date), "5. März");
        assert_eq!(en.date(date), "Mar 5, 2026");
        assert_eq!(de.date(date), "05.03.2026");
        assert_eq!(en.month(date), "Mar");
        assert_eq!(de.month_year(date), "März 2026");
    }

    #[test]
    fn a_malformed_tag_is_refused() {
        assert!(matches!(ChartLocale::new("not a locale"), Err(ChartError::Locale { .. })));
        assert_eq!(ChartLocale::new("de-de").unwrap().tag(), "de-DE");
    }
}
