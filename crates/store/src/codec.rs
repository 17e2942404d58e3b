//! How ledger values are stored: credits as integer micro-credits, times as
//! integer microseconds since the epoch, enums by their wire names.

use chrono::{DateTime, TimeDelta, Utc};
use creditdesk_ledger::catalog::{BurnOrderKey, OverageMode};
use creditdesk_ledger::entry::EntryKind;
use creditdesk_ledger::grant::{GrantCategory, GrantSource};
use creditdesk_ledger::Credits;
use rust_decimal::Decimal;

use crate::error::{Result, StoreError};

const MICROS_PER_CREDIT: i64 = 1_000_000;

/// Credits as micro-credits. Exact: credits never have more than 6 places.
pub fn micros(c: Credits) -> i64 {
    let d = c.get();
    let scaled = d * Decimal::from(MICROS_PER_CREDIT);
    // |credits| <= 10^15 per amount and sums stay far below i64::MAX / 10^6
    // for any real ledger; saturate rather than wrap if that ever fails.
    i64::try_from(scaled.mantissa() / 10i128.pow(scaled.scale())).unwrap_or(if d.is_sign_negative() {
        i64::MIN
    } else {
        i64::MAX
    })
}

pub fn credits(micros: i64) -> Result<Credits> {
    let d = Decimal::new(micros, 6);
    Credits::parse_decimal(d, "amount").map_err(|e| StoreError::corrupt(format!("amount {micros}: {e}")))
}

/// A time as microseconds since the epoch.
pub fn ts(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub fn time(micros: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros).ok_or_else(|| StoreError::corrupt(format!("time {micros}")))
}

pub fn opt_time(micros: Option<i64>) -> Result<Option<DateTime<Utc>>> {
    micros.map(time).transpose()
}

/// Days since the epoch (UTC) of a time in microseconds.
pub fn day_of(micros: i64) -> i64 {
    micros.div_euclid(86_400_000_000)
}

/// The quarter hour of the day (0..96) of a time in microseconds.
pub fn quarter_of(micros: i64) -> usize {
    // rem_euclid of a positive modulus is in 0..96.
    (micros.rem_euclid(86_400_000_000) / 900_000_000) as usize
}

pub fn seconds(d: TimeDelta) -> i64 {
    d.num_seconds()
}

pub fn kind_from(s: &str) -> Result<EntryKind> {
    EntryKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| StoreError::corrupt(format!("entry kind {s}")))
}

macro_rules! text_enum {
    ($to:ident, $from:ident, $ty:ty, { $($variant:path => $name:literal),+ $(,)? }) => {
        pub fn $to(v: $ty) -> &'static str {
            match v { $($variant => $name),+ }
        }
        pub fn $from(s: &str) -> Result<$ty> {
            match s {
                $($name => Ok($variant),)+
                other => Err(StoreError::corrupt(format!("{} {other}", stringify!($ty)))),
            }
        }
    };
}

text_enum!(category_str, category_from, GrantCategory, {
    GrantCategory::Paid => "paid",
    GrantCategory::Promotional => "promotional",
});

text_enum!(source_str, source_from, GrantSource, {
    GrantSource::Purchase => "purchase",
    GrantSource::Plan => "plan",
    GrantSource::Promotion => "promotion",
    GrantSource::Goodwill => "goodwill",
    GrantSource::DisputeRefund => "dispute_refund",
    GrantSource::Rollover => "rollover",
    GrantSource::AutoTopup => "auto_topup",
    GrantSource::Migration => "migration",
});

text_enum!(overage_str, overage_from, OverageMode, {
    OverageMode::CarryForward => "carry_forward",
    OverageMode::Invoice => "invoice",
});

text_enum!(burn_key_str, burn_key_from, BurnOrderKey, {
    BurnOrderKey::Priority => "priority",
    BurnOrderKey::RestrictedFirst => "restricted_first",
    BurnOrderKey::ExpiresAt => "expires_at",
    BurnOrderKey::PromotionalFirst => "promotional_first",
    BurnOrderKey::EffectiveAt => "effective_at",
});

/// A day's 96 quarter-hour amounts as a blob of little-endian i64s.
pub fn quarters_to_blob(q: &[i64; 96]) -> Vec<u8> {
    q.iter().flat_map(|v| v.to_le_bytes()).collect()
}

pub fn quarters_from_blob(b: &[u8]) -> Result<[i64; 96]> {
    if b.len() != 96 * 8 {
        return Err(StoreError::corrupt(format!("burn day blob of {} bytes", b.len())));
    }
    let mut out = [0i64; 96];
    for (slot, chunk) in out.iter_mut().zip(b.chunks_exact(8)) {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        *slot = i64::from_le_bytes(bytes);
    }
    Ok(out)
}

/// The sum of a burn day's 96 quarter hours.
pub fn quarters_total(b: &[u8]) -> Result<i128> {
    Ok(quarters_from_blob(b)?.iter().map(|&a| i128::from(a)).sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credits_round_trip_exactly_as_micros() {
        for s in ["0", "1", "-1", "0.000001", "-0.000001", "123456789.123456", "1000000000000"] {
            let c: Credits = s.parse().unwrap();
            assert_eq!(credits(micros(c)).unwrap(), c, "{s}");
        }
        assert_eq!(micros("12.5".parse().unwrap()), 12_500_000);
    }

    #[test]
    fn quarters_and_days() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-03-10T09:07:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(quarter_of(ts(t)), 36);
        assert_eq!(day_of(ts(t)), 20522);
        let before_epoch = ts(t) - 100 * 86_400_000_000 * 365;
        assert!(quarter_of(before_epoch) < 96);
        let mut q = [0i64; 96];
        q[5] = -7;
        assert_eq!(quarters_from_blob(&quarters_to_blob(&q)).unwrap(), q);
    }
}
