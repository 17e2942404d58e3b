//! Deterministic sample inputs shaped like a demo wallet's year: for the
//! examples, the tests and the benchmark (and a quick look at each chart).

use chrono::{Datelike, Duration, Months, NaiveDate};
use rust_decimal::Decimal;

use crate::{BalanceForecast, BalanceMarker, BalancePoint, Breakage, BreakageRow, BurnDay, DailyBurn};
use crate::{ExpiringCredits, ExpiringRow};

/// The last day of every sample: 31 March 2026.
pub fn last_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 31).expect("valid date")
}

/// A small deterministic generator (xorshift), so samples need no `rand`.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// An amount in `0..max` with `scale` decimals.
    fn amount(&mut self, max: u64, scale: u32) -> Decimal {
        let unit = 10u64.pow(scale);
        Decimal::new((self.next() % (max * unit)) as i64, scale)
    }
}

const PRODUCTS: [&str; 10] =
    ["chat", "embeddings", "images", "audio", "batch", "search", "vision", "rerank", "moderation", "tts"];

/// `days` days of burn ending on [`last_day`] for the first `products`
/// (at most 10) products, weekdays busier than weekends, amounts with up to
/// three decimals.
pub fn daily_burn(days: u32, products: usize) -> DailyBurn {
    let mut noise = Noise(0x9E37_79B9_7F4A_7C15);
    let first_day = last_day() - Duration::days(days as i64 - 1);
    let products: Vec<String> = PRODUCTS.iter().take(products).map(|p| (*p).to_owned()).collect();
    let days = first_day
        .iter_days()
        .take(days as usize)
        .map(|date| {
            let busy = if date.weekday().number_from_monday() <= 5 { 3 } else { 1 };
            let burned = (0..products.len()).map(|p| noise.amount(busy * (400 / (p as u64 + 1)), 3)).collect();
            BurnDay { date, burned }
        })
        .collect();
    DailyBurn { unit: "API credits".to_owned(), first_day, last_day: last_day(), products, days }
}

/// `history_days` of balance ending on [`last_day`] (today), then
/// `projection_days` projected, a grant each month, two expiries and a
/// runway end 80 % into the projection.
pub fn balance_forecast(history_days: u32, projection_days: u32) -> BalanceForecast {
    let mut noise = Noise(0xD1B5_4A32_D192_ED03);
    let today = last_day();
    let first = today - Duration::days(history_days as i64 - 1);
    let mut balance = Decimal::from(50_000);
    let mut grants = Vec::new();
    let history = first
        .iter_days()
        .take(history_days as usize)
        .map(|date| {
            if date.day() == 1 {
                let credits = Decimal::from(20_000);
                balance += credits;
                grants.push(BalanceMarker { date, credits, label: format!("Plan {}", date.format("%Y-%m")) });
            }
            balance = (balance - noise.amount(900, 2)).max(Decimal::ZERO);
            BalancePoint { date, available: balance }
        })
        .collect();
    // Runs out 80 % into the projection.
    let daily = (balance / Decimal::from(projection_days * 4 / 5 + 1)).round_dp(2);
    let projection: Vec<BalancePoint> = today
        .iter_days()
        .take(projection_days as usize)
        .enumerate()
        .map(|(k, date)| BalancePoint {
            date,
            available: (balance - daily * Decimal::from(k as u64)).max(Decimal::ZERO).round_dp(2),
        })
        .collect();
    let runway_end = projection.iter().find(|p| p.available.is_zero()).map(|p| p.date);
    let expiries = [30, 75]
        .into_iter()
        .filter(|d| (*d as u32) < projection_days)
        .map(|d| BalanceMarker {
            date: today + Duration::days(d),
            credits: Decimal::new(123_450, 2),
            label: "Promo".to_owned(),
        })
        .collect();
    BalanceForecast { unit: "API credits".to_owned(), history, today, projection, runway_end, grants, expiries }
}

/// `weeks` weeks of expiring credits from the Monday after [`last_day`],
/// for three credit types (one with gaps).
pub fn expiring_credits(weeks: u32) -> ExpiringCredits {
    let mut noise = Noise(0x2545_F491_4F6C_DD1D);
    let first_week = last_day() + Duration::days(7 - last_day().weekday().num_days_from_monday() as i64);
    let last_week = first_week + Duration::weeks(weeks as i64 - 1);
    let mut rows = Vec::new();
    for (w, week) in first_week.iter_weeks().take(weeks as usize).enumerate() {
        for (c, (credit_type, price)) in
            [("API credits", 1), ("Batch credits", 2), ("Seats", 25)].into_iter().enumerate()
        {
            if c == 2 && w % 3 != 0 {
                continue;
            }
            let credits = noise.amount(5_000, 1);
            rows.push(ExpiringRow {
                week,
                credit_type: credit_type.to_owned(),
                credits,
                value: credits * Decimal::new(price, 2),
            });
        }
    }
    ExpiringCredits { currency: "USD".to_owned(), first_week, last_week, rows }
}

/// `months` months of breakage up to March 2026, two credit types, paid and
/// promotional, voids in some months.
pub fn breakage(months: u32) -> Breakage {
    let mut noise = Noise(0x94D0_49BB_1331_11EB);
    let last_month = NaiveDate::from_ymd_opt(2026, 3, 1).expect("valid date");
    let first_month = last_month - Months::new(months - 1);
    let mut rows = Vec::new();
    let mut month = first_month;
    while month <= last_month {
        for credit_type in ["API credits", "Batch credits"] {
            for category in ["paid", "promotional"] {
                let expired = noise.amount(20_000, 2);
                let voided = if noise.next().is_multiple_of(3) { noise.amount(3_000, 0) } else { Decimal::ZERO };
                let price = Decimal::new(1, 2);
                rows.push(BreakageRow {
                    month,
                    credit_type: credit_type.to_owned(),
                    category: category.to_owned(),
                    expired,
                    expired_value: expired * price,
                    voided,
                    voided_value: voided * price,
                });
            }
        }
        month = month + Months::new(1);
    }
    Breakage { currency: "USD".to_owned(), first_month, last_month, rows }
}
