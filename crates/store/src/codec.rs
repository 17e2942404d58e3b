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

/// Bytes per quarter in a burn-day blob: its index, then its amount.
const QUARTER_BYTES: usize = 9;

/// A dense burn-day blob (written before the sparse form): 96
/// little-endian i64s. No sparse blob has this length (768 is not a
/// multiple of [`QUARTER_BYTES`]), so the two forms need no marker.
const DENSE_BYTES: usize = 96 * 8;

/// A day's 96 quarter-hour amounts as a blob: each quarter that is not
/// zero, in order, as its index (one byte) and its amount (a little-endian
/// i64). Why sparse: the writer rewrites today's row of every customer it
/// burns for in every write group, and live usage fills a day's quarters
/// only as the day goes (reversals hardly ever), so the dense form's
/// 1,536 bytes a row (both blobs) were a fifth of all the pages each group
/// wrote (2026-12-03). An empty blob is a day of zeros.
pub fn quarters_to_blob(q: &[i64; 96]) -> Vec<u8> {
    encode_quarters(q.iter().copied().enumerate())
}

/// (index, amount) pairs in index order as a sparse blob, zeros left out.
fn encode_quarters(quarters: impl Iterator<Item = (usize, i64)> + Clone) -> Vec<u8> {
    let mut out = Vec::with_capacity(quarters.clone().filter(|&(_, a)| a != 0).count() * QUARTER_BYTES);
    for (i, amount) in quarters.filter(|&(_, a)| a != 0) {
        out.push(i as u8);
        out.extend_from_slice(&amount.to_le_bytes());
    }
    out
}

/// Quarter-hour amounts to add to a burn day, as the sparse blob holds
/// them: (quarter, amount) in quarter order. The writer adds a group's
/// burns to one of these per customer, credit type, product and day; a
/// group spans milliseconds, so each holds a quarter or two. As two dense
/// arrays of 96 (1.5 KiB, zeroed, then scanned back into the blob) they
/// cost the writer about 3 % at 100,000 events/s, and their allocation,
/// too large for glibc's small-object caches, made it consolidate its
/// free lists (`perf`, 2026-12-05).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Quarters(Vec<(u8, i64)>);

impl Quarters {
    /// Adds `amount` to quarter `quarter` (0..96).
    pub fn add(&mut self, quarter: usize, amount: i64) {
        let q = quarter as u8;
        // Usually the last quarter, or one after it.
        match self.0.iter().rposition(|&(at, _)| at <= q) {
            Some(i) if self.0[i].0 == q => self.0[i].1 += amount,
            Some(i) => self.0.insert(i + 1, (q, amount)),
            None => self.0.insert(0, (q, amount)),
        }
    }

    /// (quarter, amount) in quarter order; sums that came to zero included.
    pub fn iter(&self) -> impl Iterator<Item = (usize, i64)> + Clone + '_ {
        self.0.iter().map(|&(q, a)| (usize::from(q), a))
    }

    /// The sparse blob (empty when every quarter is zero).
    pub fn to_blob(&self) -> Vec<u8> {
        encode_quarters(self.iter())
    }
}

/// The quarters of a blob in either form, as (index, amount).
fn quarters_in(b: &[u8]) -> Result<Box<dyn Iterator<Item = (usize, i64)> + '_>> {
    let i64_at = |c: &[u8]| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(c);
        i64::from_le_bytes(bytes)
    };
    if b.len() == DENSE_BYTES {
        return Ok(Box::new(b.chunks_exact(8).map(i64_at).enumerate()));
    }
    if !b.len().is_multiple_of(QUARTER_BYTES) {
        return Err(StoreError::corrupt(format!("burn day blob of {} bytes", b.len())));
    }
    let mut last = None;
    for c in b.chunks_exact(QUARTER_BYTES) {
        let q = usize::from(c[0]);
        if q >= 96 || last.is_some_and(|l| q <= l) {
            return Err(StoreError::corrupt(format!("burn day blob: quarter {q} out of order or range")));
        }
        last = Some(q);
    }
    Ok(Box::new(b.chunks_exact(QUARTER_BYTES).map(move |c| (usize::from(c[0]), i64_at(&c[1..])))))
}

pub fn quarters_from_blob(b: &[u8]) -> Result<[i64; 96]> {
    let mut out = [0i64; 96];
    for (q, amount) in quarters_in(b)? {
        out[q] = amount;
    }
    Ok(out)
}

/// The sum of two burn-day blobs (either form), quarter by quarter, in
/// the sparse form; `None` when a quarter overflows. Merged as the two
/// ordered lists they are: the writer adds a group's few quarters to each
/// burn day it touches, so expanding both to 96 quarters and scanning them
/// back cost more than the row's write (`perf`, 2026-12-05).
pub fn quarters_sum(a: &[u8], b: &[u8]) -> Result<Option<Vec<u8>>> {
    let (mut a, mut b) = (quarters_in(a)?.peekable(), quarters_in(b)?.peekable());
    let mut out = Vec::with_capacity(QUARTER_BYTES * 8);
    loop {
        let (q, amount) = match (a.peek().copied(), b.peek().copied()) {
            (None, None) => break,
            (Some((qa, x)), Some((qb, y))) if qa == qb => {
                a.next();
                b.next();
                let Some(sum) = x.checked_add(y) else { return Ok(None) };
                (qa, sum)
            }
            (Some((qa, _)), Some((qb, _))) if qa < qb => a.next().unwrap_or_default(),
            (Some(_), None) => a.next().unwrap_or_default(),
            _ => b.next().unwrap_or_default(),
        };
        if amount != 0 {
            out.push(q as u8);
            out.extend_from_slice(&amount.to_le_bytes());
        }
    }
    Ok(Some(out))
}

/// The sum of a burn day's 96 quarter hours.
pub fn quarters_total(b: &[u8]) -> Result<i128> {
    Ok(quarters_in(b)?.map(|(_, a)| i128::from(a)).sum())
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
    }

    #[test]
    fn a_burn_day_blob_holds_only_the_quarters_used() {
        let zeros = [0i64; 96];
        assert!(quarters_to_blob(&zeros).is_empty());
        assert_eq!(quarters_from_blob(&[]).unwrap(), zeros);
        let mut q = zeros;
        q[0] = 1;
        q[5] = -7;
        q[95] = i64::MAX;
        let blob = quarters_to_blob(&q);
        assert_eq!(blob.len(), 3 * QUARTER_BYTES);
        assert_eq!(quarters_from_blob(&blob).unwrap(), q);
        assert_eq!(quarters_total(&blob).unwrap(), 1 - 7 + i128::from(i64::MAX));
        // Every quarter used: longer than the dense form, still read back.
        let full: [i64; 96] = std::array::from_fn(|i| i as i64 + 1);
        assert_eq!(quarters_to_blob(&full).len(), 96 * QUARTER_BYTES);
        assert_eq!(quarters_from_blob(&quarters_to_blob(&full)).unwrap(), full);
    }

    proptest::proptest! {
        /// Amounts added to quarters in any order give the blob the dense
        /// day would: in quarter order, each once, zero sums left out.
        #[test]
        fn sparse_quarters_match_the_dense_day(adds in proptest::collection::vec((0usize..96, -5i64..5), 0..60)) {
            let (mut sparse, mut dense) = (Quarters::default(), [0i64; 96]);
            for &(q, amount) in &adds {
                sparse.add(q, amount);
                dense[q] += amount;
            }
            proptest::prop_assert_eq!(sparse.to_blob(), quarters_to_blob(&dense));
            proptest::prop_assert!(sparse.iter().zip(sparse.iter().skip(1)).all(|(a, b)| a.0 < b.0));
        }
    }

    /// Rows written before the sparse form keep their dense blobs until
    /// the writer next adds to them.
    #[test]
    fn a_dense_burn_day_blob_still_reads() {
        let mut q = [0i64; 96];
        q[5] = -7;
        q[80] = 12;
        let dense: Vec<u8> = q.iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(quarters_from_blob(&dense).unwrap(), q);
        assert_eq!(quarters_total(&dense).unwrap(), 5);
    }

    #[test]
    fn a_damaged_burn_day_blob_is_refused() {
        let mut q = [0i64; 96];
        q[3] = 1;
        q[7] = 2;
        let blob = quarters_to_blob(&q);
        assert!(quarters_from_blob(&blob[..10]).is_err(), "a cut blob");
        let mut swapped = blob[9..].to_vec();
        swapped.extend_from_slice(&blob[..9]);
        assert!(quarters_from_blob(&swapped).is_err(), "quarters out of order");
        let mut past = blob.clone();
        past[9] = 96;
        assert!(quarters_total(&past).is_err(), "a quarter past the day");
    }
}
