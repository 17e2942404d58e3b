//! Deterministic random streams, the distributions drawn from them, and
//! the date and amount helpers the generator uses.

use chrono::{DateTime, Datelike, NaiveTime, TimeZone, Utc};
use creditdesk_ledger::{Currency, Money};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;

use super::catalog::Ct;
use super::SeedError;

/// A random stream per purpose and key, independent of how many draws any
/// other stream made. ChaCha8 is value-stable across `rand_chacha` releases.
pub(super) fn rng_for(seed: u64, tag: u64, a: u64, b: u64) -> ChaCha8Rng {
    let mut x = splitmix(seed);
    for v in [tag, a, b] {
        x = splitmix(x ^ v);
    }
    ChaCha8Rng::seed_from_u64(x)
}

fn splitmix(z: u64) -> u64 {
    let z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Standard normal (Box-Muller).
pub(super) fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1 = 1.0 - rng.random::<f64>(); // (0, 1]: ln is finite
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

pub(super) fn lognormal(rng: &mut ChaCha8Rng, median: f64, sigma: f64) -> f64 {
    median * (sigma * normal(rng)).exp()
}

/// Poisson: Knuth's method for small means, a rounded normal above 30.
pub(super) fn poisson(rng: &mut ChaCha8Rng, lambda: f64) -> usize {
    if lambda.is_nan() || lambda <= 0.0 {
        return 0;
    }
    if lambda < 30.0 {
        let limit = (-lambda).exp();
        let mut k = 0;
        let mut p = rng.random::<f64>();
        while p > limit {
            k += 1;
            p *= rng.random::<f64>();
        }
        k
    } else {
        (lambda + lambda.sqrt() * normal(rng)).round().max(0.0) as usize
    }
}

/// Index drawn with probability proportional to its weight.
pub(super) fn pick(rng: &mut ChaCha8Rng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut x = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.iter().rposition(|w| *w > 0.0).unwrap_or(0)
}

/// A quantity rounded half-away to two decimal places (at least 0.01).
pub(super) fn hundredths(x: f64) -> Decimal {
    Decimal::new(((x * 100.0).round() as i64).max(1), 2)
}

/// A round amount of whole credits: rounded up to two significant digits,
/// at least `min`. Amounts people grant and buy look like `12,000`.
pub(super) fn nice(x: f64, min: i64) -> Decimal {
    let min = min.max(1);
    if !x.is_finite() || x <= min as f64 {
        return Decimal::from(min);
    }
    let magnitude = 10f64.powi(x.log10().floor() as i32 - 1).max(1.0);
    let rounded = ((x / magnitude).ceil() * magnitude).round();
    // Capped far inside `MAX_CREDITS`, so the conversion is exact.
    Decimal::from((rounded.min(1e12) as i64).max(min))
}

/// For sizing only (never for amounts that are booked).
pub(super) fn decimal_f64(d: Decimal) -> f64 {
    rust_decimal::prelude::ToPrimitive::to_f64(&d).unwrap_or(0.0)
}

/// List price of `credits`, times the contract discount, in cents.
pub(super) fn money(credits: Decimal, ct: Ct, discount: Decimal) -> Money {
    Money { amount: (credits * ct.unit_price() * discount).round_dp(2), currency: Currency::USD }
}

pub(super) fn month_start(t: DateTime<Utc>) -> DateTime<Utc> {
    let date = t.date_naive();
    date.with_day(1).unwrap_or(date).and_time(NaiveTime::MIN).and_utc()
}

pub(super) fn next_month(m: DateTime<Utc>) -> Result<DateTime<Utc>, SeedError> {
    let next = m
        .date_naive()
        .checked_add_months(chrono::Months::new(1))
        .ok_or_else(|| SeedError::Options("the period runs past the calendar".into()))?;
    Ok(Utc.from_utc_datetime(&next.and_time(NaiveTime::MIN)))
}
