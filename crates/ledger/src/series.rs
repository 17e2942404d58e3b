//! Burn series and balance history: what a customer burned per day, week or
//! month in an IANA time zone, grouped by product, and the balance at each
//! bucket's end.
//!
//! # How usage is counted
//!
//! - **Burned** = the magnitudes of `burn` and `overage` entries: the usage
//!   the ledger rated, whether grants covered it or not (`ledger.md`: "sum of
//!   burns + overage"). It is booked at event time, so a late event lands in
//!   the bucket of its event time.
//! - **Not netted.** Reversals (dispute outcomes) are *not* subtracted from
//!   `burned`; they are reported beside it as `reversed`, in the bucket of the
//!   reversal's own booking time (when the dispute was decided), because that
//!   is when the ledger booked them. Reversed = `reversal` entries plus the
//!   `grant` entries of `dispute_refund` grants (the only grant entries that
//!   carry an event). Reversal entries carry the product of the usage they
//!   undo; refund grants have none and appear in a column with
//!   `product: None`. A caller wanting net usage subtracts the totals.
//! - `overage_settled`, `expire`, `void`, rollover and ordinary grant entries
//!   move credits between grants and the customer; they are not usage.
//!
//! # Buckets
//!
//! A bucket is a local calendar day, ISO week (Monday to Monday) or calendar
//! month in the requested zone, from local midnight to local midnight, so a
//! day is 23 or 25 hours long across a DST change. When local midnight does
//! not exist (a DST gap at midnight), the bucket starts at the first local
//! time that does; a local date that does not exist at all (Pacific/Apia
//! skipped 2011-12-30) has no bucket.
//!
//! **Partial buckets:** the series has every bucket that intersects
//! `[from, to)`, and counts only usage booked in `[from, to)`. The first and
//! last bucket may therefore be partial; they report their natural start and
//! end and `partial: true`.
//!
//! # The rollup
//!
//! [`BurnRollup`] is maintained entry by entry ([`BurnRollup::record`]) and
//! keeps, per (credit type, product) and UTC day, running totals through each
//! 15-minute UTC slot. A query never rescans entries: a bucket's amount is a
//! difference of running totals at its two boundaries, plus the totals of
//! the whole days between them.
//!
//! Every local midnight falls on a slot boundary because every IANA zone's
//! UTC offset has been a whole number of quarter hours since 1980 (the last
//! exceptions were Africa/Monrovia, -0:44:30 until 1972, and
//! Pacific/Kiritimati, -10:40 until 1979; checked against chrono-tz's data).
//! A query whose bucket boundaries would fall inside a slot is refused
//! rather than answered approximately. For the same reason `from` and `to`
//! must be on 15-minute boundaries (a caller asking "up to now" rounds now up
//! to the next one: nothing is booked later than now but for the few minutes
//! of allowed clock skew).
//!
//! Totals are kept as integer micro-credits (`i128`): credits have at most six
//! decimal places, so this is exact, and it keeps the query well inside its
//! 10 ms budget. Results are returned as [`Credits`].

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::amount::{Credits, CREDIT_SCALE};
use crate::entry::{Entry, EntryKind};
use crate::error::{LedgerError, Result};
use crate::history::History;
use crate::ids::{CreditTypeId, CustomerId, ProductId};

/// Width of a rollup slot: the finest grain a series can be cut at.
pub const SLOT_SECONDS: i64 = 15 * 60;

/// Most buckets one query may return (ten years of days).
pub const MAX_BUCKETS: usize = 3_660;

/// Earliest and latest instants a query may name (keeps calendar arithmetic
/// far from chrono's limits).
const MIN_YEAR: i32 = 1900;
const MAX_YEAR: i32 = 9999;

/// The calendar unit of a series.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    Day,
    /// ISO week: starts on Monday.
    Week,
    Month,
}

impl Bucket {
    /// The first local date of the bucket containing `date`.
    fn floor(self, date: NaiveDate) -> NaiveDate {
        match self {
            Bucket::Day => date,
            // In range for every date a query accepts (years 1900..=9999).
            Bucket::Week => {
                date.checked_sub_days(Days::new(u64::from(date.weekday().num_days_from_monday()))).unwrap_or(date)
            }
            // Day 1 exists in every month.
            Bucket::Month => date.with_day(1).unwrap_or(date),
        }
    }

    /// The first local date of the next bucket (`date` is a bucket's first date).
    fn next(self, date: NaiveDate) -> Option<NaiveDate> {
        match self {
            Bucket::Day => date.checked_add_days(Days::new(1)),
            Bucket::Week => date.checked_add_days(Days::new(7)),
            Bucket::Month => date.checked_add_months(Months::new(1)),
        }
    }

    fn previous(self, date: NaiveDate) -> Option<NaiveDate> {
        match self {
            Bucket::Day => date.checked_sub_days(Days::new(1)),
            Bucket::Week => date.checked_sub_days(Days::new(7)),
            Bucket::Month => date.checked_sub_months(Months::new(1)),
        }
    }
}

/// One column of a series: usage of one product of one credit type.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct SeriesKey {
    pub credit_type: CreditTypeId,
    /// `None` for entries without a product: today only reversals.
    pub product: Option<ProductId>,
}

/// Slots per chunk of the rollup: one UTC day.
const SLOTS_PER_CHUNK: i64 = 24 * 3600 / SLOT_SECONDS;

/// One UTC day of one key's amounts: the slots (within the day) that have
/// any, ascending, and the running total through each, in micro-credits.
#[derive(Clone, Debug, Default)]
struct Chunk {
    slots: Vec<u8>,
    cum: Vec<i128>,
}

impl Chunk {
    fn add(&mut self, slot: u8, micros: i128) {
        // Entries mostly arrive in time order, so this is usually an append.
        let pos = self.slots.partition_point(|&s| s < slot);
        if self.slots.get(pos) != Some(&slot) {
            let before = if pos == 0 { 0 } else { self.cum[pos - 1] };
            self.slots.insert(pos, slot);
            self.cum.insert(pos, before);
        }
        for c in &mut self.cum[pos..] {
            *c = c.saturating_add(micros);
        }
    }

    /// The total of the slots before `slot`.
    fn before(&self, slot: i64) -> i128 {
        let pos = self.slots.partition_point(|&s| i64::from(s) < slot);
        if pos == 0 {
            0
        } else {
            self.cum[pos - 1]
        }
    }

    fn total(&self) -> i128 {
        self.cum.last().copied().unwrap_or(0)
    }
}

/// One key's amounts by UTC day.
#[derive(Clone, Debug, Default)]
struct Track(BTreeMap<i64, Chunk>);

impl Track {
    fn add(&mut self, slot: i64, micros: i128) {
        // rem_euclid < 96, so it fits a u8.
        let within = slot.rem_euclid(SLOTS_PER_CHUNK) as u8;
        self.0.entry(slot.div_euclid(SLOTS_PER_CHUNK)).or_default().add(within, micros);
    }

    /// For each boundary slot `b` (ascending), the total of the slots from
    /// the first boundary's day up to `b` (exclusive): consecutive
    /// differences are the amounts between boundaries. One pass over the
    /// days in range, one search per boundary.
    fn prefix_at(&self, boundaries: &[i64], out: &mut Vec<i128>) {
        out.clear();
        let (Some(&first), Some(&last)) = (boundaries.first(), boundaries.last()) else { return };
        let mut days = self.0.range(first.div_euclid(SLOTS_PER_CHUNK)..=last.div_euclid(SLOTS_PER_CHUNK)).peekable();
        let mut passed = 0i128;
        for &b in boundaries {
            let day = b.div_euclid(SLOTS_PER_CHUNK);
            while let Some((_, chunk)) = days.next_if(|(&d, _)| d < day) {
                passed = passed.saturating_add(chunk.total());
            }
            let within = match days.peek() {
                Some((&d, chunk)) if d == day => chunk.before(b.rem_euclid(SLOTS_PER_CHUNK)),
                _ => 0,
            };
            out.push(passed.saturating_add(within));
        }
    }
}

/// A customer's usage per (credit type, product), kept up to date entry by
/// entry as running totals per 15-minute slot within each UTC day. A query
/// reads two running totals per bucket boundary per product plus one total
/// per day in range, so its cost does not grow with the number of entries.
/// Feed it every entry once (from the posting that wrote it, or from a store
/// when loading), in any order; other customers' entries are ignored, so it
/// can be fed a whole ledger's stream.
#[derive(Clone, Debug)]
pub struct BurnRollup {
    customer: CustomerId,
    keys: Vec<SeriesKey>,
    /// credit type -> product -> index into `keys`; nested so that a lookup
    /// borrows the entry's ids instead of cloning them.
    index: HashMap<CreditTypeId, HashMap<Option<ProductId>, u32>>,
    /// Per key: usage, and reversals (rare, so kept apart).
    burned: Vec<Track>,
    reversed: Vec<Track>,
    counted: u64,
}

impl BurnRollup {
    pub fn new(customer: CustomerId) -> BurnRollup {
        BurnRollup {
            customer,
            keys: Vec::new(),
            index: HashMap::new(),
            burned: Vec::new(),
            reversed: Vec::new(),
            counted: 0,
        }
    }

    /// Builds a rollup from entries, in any order.
    pub fn from_entries<'a>(customer: CustomerId, entries: impl IntoIterator<Item = &'a Entry>) -> BurnRollup {
        let mut r = BurnRollup::new(customer);
        for e in entries {
            r.record(e);
        }
        r
    }

    pub fn customer(&self) -> &CustomerId {
        &self.customer
    }

    /// Entries that counted (burns, overage, reversals, refund grants).
    pub fn counted(&self) -> u64 {
        self.counted
    }

    /// Every column ever recorded, in first-seen order.
    pub fn keys(&self) -> &[SeriesKey] {
        &self.keys
    }

    /// Folds one entry in. Returns whether it counted: usage (`burn`,
    /// `overage`) or a reversal; everything else is ignored.
    pub fn record(&mut self, e: &Entry) -> bool {
        if e.customer != self.customer {
            return false;
        }
        let micros = to_micros(e.amount);
        let reversal = match e.kind {
            EntryKind::Burn | EntryKind::Overage => false,
            EntryKind::Reversal => true,
            // A grant entry linked to an event is a dispute refund.
            EntryKind::Grant if e.event.is_some() => true,
            _ => return false,
        };
        let key = self.key_index(e);
        let slot = e.booked_at.timestamp().div_euclid(SLOT_SECONDS);
        if reversal {
            self.reversed[key].add(slot, micros);
        } else {
            // Burns and overage are negative; count their magnitude.
            self.burned[key].add(slot, micros.abs());
        }
        self.counted += 1;
        true
    }

    /// Folds in one stored UTC day (days since the epoch) of one key:
    /// `burned` and `reversed` hold the micro-credits of each of the day's
    /// quarter hours, in order (a store's pre-aggregated form of the same
    /// data `record` folds entry by entry). The day must not have been
    /// folded in before.
    pub fn add_day(
        &mut self,
        credit_type: &CreditTypeId,
        product: Option<&ProductId>,
        day: i64,
        burned: &[i64],
        reversed: &[i64],
    ) -> Result<()> {
        let per_day = SLOTS_PER_CHUNK as usize;
        if burned.len() != per_day || reversed.len() != per_day {
            return Err(LedgerError::Invalid { field: "burn_day", rule: format!("must have {per_day} quarter hours") });
        }
        let key = self.key_of(credit_type, product);
        for (track, amounts) in [(&mut self.burned[key], burned), (&mut self.reversed[key], reversed)] {
            let nonzero = amounts.iter().filter(|&&a| a != 0).count();
            if nonzero == 0 {
                continue;
            }
            // Sized once: a busy day has all 96 slots, and growing two
            // vectors slot by slot was most of a year's series query.
            let mut chunk = Chunk { slots: Vec::with_capacity(nonzero), cum: Vec::with_capacity(nonzero) };
            let mut running = 0i128;
            for (slot, &a) in amounts.iter().enumerate().filter(|(_, a)| **a != 0) {
                running = running.saturating_add(i128::from(a));
                // slot < 96 fits a u8.
                chunk.slots.push(slot as u8);
                chunk.cum.push(running);
            }
            if track.0.insert(day, chunk).is_some() {
                return Err(LedgerError::Invalid { field: "burn_day", rule: "was folded in twice".into() });
            }
        }
        Ok(())
    }

    /// Folds in one stored UTC day by its totals alone: exact for a query
    /// none of whose bucket boundaries falls inside the day after its
    /// start (every day but those [`BurnRollup::days_needing_quarters`]
    /// lists). A year of daily buckets then reads two totals per day
    /// instead of building 96 running totals per day.
    pub fn add_day_totals(
        &mut self,
        credit_type: &CreditTypeId,
        product: Option<&ProductId>,
        day: i64,
        burned: i128,
        reversed: i128,
    ) -> Result<()> {
        let key = self.key_of(credit_type, product);
        for (track, total) in [(&mut self.burned[key], burned), (&mut self.reversed[key], reversed)] {
            if total == 0 {
                continue;
            }
            // The whole day at its first quarter hour: `before(0)` is 0 and
            // `total()` the day's, which is all such a query asks of it.
            let chunk = Chunk { slots: vec![0], cum: vec![total] };
            if track.0.insert(day, chunk).is_some() {
                return Err(LedgerError::Invalid { field: "burn_day", rule: "was folded in twice".into() });
            }
        }
        Ok(())
    }

    /// The UTC days (since the epoch) inside which one of the query's
    /// bucket boundaries falls after the day's start: only these need
    /// [`BurnRollup::add_day`]; any other day may come in by
    /// [`BurnRollup::add_day_totals`]. Fails as [`BurnRollup::burn_series`]
    /// would on the same arguments.
    pub fn days_needing_quarters(
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        bucket: Bucket,
        tz: Tz,
    ) -> Result<BTreeSet<i64>> {
        const DAY: i64 = 86_400;
        let frame = Frame::new(from, to, bucket, tz)?;
        Ok(frame.counted.iter().filter(|b| b.rem_euclid(DAY) != 0).map(|b| b.div_euclid(DAY)).collect())
    }

    fn key_index(&mut self, e: &Entry) -> usize {
        self.key_of(&e.credit_type, e.product.as_ref())
    }

    fn key_of(&mut self, credit_type: &CreditTypeId, product: Option<&ProductId>) -> usize {
        if let Some(&i) = self.index.get(credit_type).and_then(|m| m.get(&product.cloned())) {
            return i as usize;
        }
        let (credit_type, product) = (credit_type.clone(), product.cloned());
        let e = SeriesKey { credit_type, product };
        let i = self.keys.len();
        self.keys.push(e.clone());
        self.burned.push(Track::default());
        self.reversed.push(Track::default());
        // Keys are products: never near 2^32 of them.
        self.index.entry(e.credit_type).or_default().insert(e.product, i as u32);
        i
    }

    /// Burned and reversed per key (indexed like [`BurnRollup::keys`]) over
    /// the slots in `[from_slot, to_slot)`, in micro-credits.
    pub(crate) fn totals_between(&self, from_slot: i64, to_slot: i64) -> Vec<(i128, i128)> {
        if from_slot >= to_slot {
            return vec![(0, 0); self.keys.len()];
        }
        let bounds = [from_slot, to_slot];
        let mut p = Vec::with_capacity(2);
        let mut between = |t: &Track| {
            t.prefix_at(&bounds, &mut p);
            p[1].saturating_sub(p[0])
        };
        (0..self.keys.len()).map(|k| (between(&self.burned[k]), between(&self.reversed[k]))).collect()
    }

    /// Usage per bucket of `bucket` in `tz`, per product, over `[from, to)`
    /// (see the module doc for partial buckets and reversals). `from` and
    /// `to` must be on 15-minute boundaries.
    pub fn burn_series(&self, from: DateTime<Utc>, to: DateTime<Utc>, bucket: Bucket, tz: Tz) -> Result<BurnSeries> {
        check_slot_aligned("from", from)?;
        check_slot_aligned("to", to)?;
        let frame = Frame::new(from, to, bucket, tz)?;
        // Counted boundaries are `from`, interior local midnights, `to`.
        if frame.counted.iter().any(|b| b.rem_euclid(SLOT_SECONDS) != 0) {
            return Err(LedgerError::Invalid {
                field: "tz",
                rule: format!("{} has a UTC offset that is not a whole quarter hour in this range", tz.name()),
            });
        }
        let bounds: Vec<i64> = frame.counted.iter().map(|b| b.div_euclid(SLOT_SECONDS)).collect();

        // burned[r * k + c]: bucket r, key c.
        let n = frame.dates.len();
        let k = self.keys.len();
        let mut burned = vec![0i128; n * k];
        let mut reversed = vec![0i128; n * k];
        let mut prefix = Vec::with_capacity(n + 1);
        for c in 0..k {
            for (track, out) in [(&self.burned[c], &mut burned), (&self.reversed[c], &mut reversed)] {
                track.prefix_at(&bounds, &mut prefix);
                for (r, w) in prefix.windows(2).enumerate() {
                    out[r * k + c] = w[1].saturating_sub(w[0]);
                }
            }
        }

        // Columns with anything in range, in key order.
        let mut cols: Vec<usize> =
            (0..k).filter(|&c| (0..n).any(|r| burned[r * k + c] != 0 || reversed[r * k + c] != 0)).collect();
        cols.sort_by(|&x, &y| self.keys[x].cmp(&self.keys[y]));

        let mut col_burned = vec![0i128; cols.len()];
        let mut col_reversed = vec![0i128; cols.len()];
        let mut buckets = Vec::with_capacity(n);
        for r in 0..n {
            let mut row_b = Vec::with_capacity(cols.len());
            let mut row_r = Vec::with_capacity(cols.len());
            let (mut tb, mut tr) = (0i128, 0i128);
            for (j, &c) in cols.iter().enumerate() {
                let (vb, vr) = (burned[r * k + c], reversed[r * k + c]);
                col_burned[j] = col_burned[j].saturating_add(vb);
                col_reversed[j] = col_reversed[j].saturating_add(vr);
                tb = tb.saturating_add(vb);
                tr = tr.saturating_add(vr);
                row_b.push(from_micros(vb)?);
                row_r.push(from_micros(vr)?);
            }
            buckets.push(BurnBucket {
                date: frame.dates[r],
                start: instant(frame.natural[r])?,
                end: instant(frame.natural[r + 1])?,
                partial: frame.is_partial(r),
                burned: row_b,
                reversed: row_r,
                total_burned: from_micros(tb)?,
                total_reversed: from_micros(tr)?,
            });
        }
        let total_burned = from_micros(col_burned.iter().fold(0i128, |a, &v| a.saturating_add(v)))?;
        let total_reversed = from_micros(col_reversed.iter().fold(0i128, |a, &v| a.saturating_add(v)))?;
        Ok(BurnSeries {
            bucket,
            tz,
            from,
            to,
            columns: cols.iter().map(|&c| self.keys[c].clone()).collect(),
            buckets,
            burned: col_burned.into_iter().map(from_micros).collect::<Result<_>>()?,
            reversed: col_reversed.into_iter().map(from_micros).collect::<Result<_>>()?,
            total_burned,
            total_reversed,
        })
    }
}

/// A burn series: one row per bucket, one column per (credit type, product)
/// with usage or reversals in `[from, to)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BurnSeries {
    pub bucket: Bucket,
    #[serde(serialize_with = "tz_name")]
    pub tz: Tz,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Sorted by credit type, then product (`None` first).
    pub columns: Vec<SeriesKey>,
    pub buckets: Vec<BurnBucket>,
    /// Per column, over `[from, to)`.
    pub burned: Vec<Credits>,
    pub reversed: Vec<Credits>,
    pub total_burned: Credits,
    pub total_reversed: Credits,
}

/// One bucket of a [`BurnSeries`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BurnBucket {
    /// The local date the bucket starts on (a Monday for weeks, the 1st for months).
    pub date: NaiveDate,
    /// Local midnight of `date`, as an instant.
    pub start: DateTime<Utc>,
    /// The next bucket's start (exclusive).
    pub end: DateTime<Utc>,
    /// Only part of `[start, end)` lies in `[from, to)`; only that part is counted.
    pub partial: bool,
    /// Per column of the series.
    pub burned: Vec<Credits>,
    pub reversed: Vec<Credits>,
    pub total_burned: Credits,
    pub total_reversed: Credits,
}

impl BurnSeries {
    /// The column of `product` of `credit_type`, if it had usage in range.
    pub fn column(&self, credit_type: &CreditTypeId, product: &ProductId) -> Option<usize> {
        self.columns.iter().position(|k| &k.credit_type == credit_type && k.product.as_ref() == Some(product))
    }

    /// Burned per bucket per credit type (the optional grouping of
    /// `ledger.md`): `(credit type, one amount per bucket)`, sorted.
    pub fn burned_by_credit_type(&self) -> Vec<(CreditTypeId, Vec<Credits>)> {
        let mut out: Vec<(CreditTypeId, Vec<Credits>)> = Vec::new();
        for (j, key) in self.columns.iter().enumerate() {
            // Columns are sorted by credit type, so groups are contiguous.
            let same = matches!(out.last(), Some((ct, _)) if ct == &key.credit_type);
            if !same {
                out.push((key.credit_type.clone(), vec![Credits::ZERO; self.buckets.len()]));
            }
            if let Some((_, row)) = out.last_mut() {
                for (slot, b) in row.iter_mut().zip(&self.buckets) {
                    *slot += b.burned[j];
                }
            }
        }
        out
    }
}

fn tz_name<S: serde::Serializer>(tz: &Tz, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(tz.name())
}

/// A wallet's balance at the end of one bucket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BalancePoint {
    /// The local date the bucket starts on.
    pub date: NaiveDate,
    /// The bucket's end, clipped to `to`. The balance counts everything
    /// booked strictly before it.
    pub end: DateTime<Utc>,
    pub partial: bool,
    pub available: Credits,
    pub pending: Credits,
    pub overage: Credits,
    pub net: Credits,
}

/// `available` and `net` (with `pending` and `overage`) at the end of each
/// bucket intersecting `[from, to)`, as known at `as_of`.
///
/// "At the end" is the closing balance of the bucket: every entry booked
/// strictly before its end, i.e. the balance at `end - 1 ns` (instants have
/// nanosecond resolution). So a grant that expires at local midnight still
/// counts in the closing balance of the day before, and closing balance =
/// opening balance + movements inside the bucket, matching the half-open
/// buckets of the burn series. The last bucket ends at `to`.
pub fn balance_history(
    history: &History,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bucket: Bucket,
    tz: Tz,
    as_of: DateTime<Utc>,
) -> Result<Vec<BalancePoint>> {
    let frame = Frame::new(from, to, bucket, tz)?;
    let mut points = Vec::with_capacity(frame.dates.len());
    for (i, &date) in frame.dates.iter().enumerate() {
        let end = frame.counted_end(i)?;
        let b = history.balance(end - TimeDelta::nanoseconds(1), as_of)?;
        points.push(BalancePoint {
            date,
            end,
            partial: frame.is_partial(i),
            available: b.available,
            pending: b.pending,
            overage: b.overage,
            net: b.net,
        });
    }
    Ok(points)
}

/// The buckets intersecting `[from, to)`: their first local dates and their
/// boundaries in UTC seconds (`natural`: local midnights; `counted`: the same
/// clipped to `[from, to)`), one more boundary than dates.
struct Frame {
    dates: Vec<NaiveDate>,
    natural: Vec<i64>,
    counted: Vec<i64>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

impl Frame {
    fn new(from: DateTime<Utc>, to: DateTime<Utc>, bucket: Bucket, tz: Tz) -> Result<Frame> {
        check_range("from", from)?;
        check_range("to", to)?;
        if from >= to {
            return Err(LedgerError::Invalid { field: "from", rule: "must be before `to`".into() });
        }
        // `t` rounds up so that a bucket starting inside `to`'s last second counts.
        let (f, t) = (from.timestamp(), to.timestamp() + i64::from(to.timestamp_subsec_nanos() > 0));
        let overflow = || LedgerError::Invalid { field: "to", rule: "is beyond the supported calendar".into() };

        let mut date = bucket.floor(from.with_timezone(&tz).date_naive());
        let mut start = local_start(date, tz)?;
        // A DST change around midnight can start the local date after `from`.
        while start > f {
            date = bucket.previous(date).ok_or_else(overflow)?;
            start = local_start(date, tz)?;
        }
        let mut dates = vec![date];
        let mut natural = vec![start];
        while natural.last().is_some_and(|&s| s < t) {
            let next_date = bucket.next(date).ok_or_else(overflow)?;
            let next_start = local_start(next_date, tz)?;
            date = next_date;
            if Some(&next_start) == natural.last() {
                // `date` does not exist in the zone: the bucket is empty.
                if let Some(d) = dates.last_mut() {
                    *d = next_date;
                }
                continue;
            }
            if next_start <= f {
                // Still entirely before `from` (possible only in zones whose
                // local date goes backwards): drop the empty leading bucket.
                dates = vec![next_date];
                natural = vec![next_start];
                continue;
            }
            if dates.len() > MAX_BUCKETS {
                return Err(LedgerError::Invalid {
                    field: "to",
                    rule: format!("the range spans more than {MAX_BUCKETS} buckets"),
                });
            }
            dates.push(next_date);
            natural.push(next_start);
        }
        // The last boundary was pushed as the end of the previous bucket.
        dates.pop();
        let counted = natural.iter().map(|&b| b.clamp(f, t)).collect();
        Ok(Frame { dates, natural, counted, from, to })
    }

    fn is_partial(&self, i: usize) -> bool {
        // Compared as instants: `from` and `to` may have sub-second parts here.
        let starts_before = instant(self.natural[i]).map_or(true, |s| s < self.from);
        let ends_after = instant(self.natural[i + 1]).map_or(true, |e| e > self.to);
        starts_before || ends_after
    }

    /// The exact end of bucket `i` clipped to `to` (keeps `to`'s sub-second part).
    fn counted_end(&self, i: usize) -> Result<DateTime<Utc>> {
        if i + 1 == self.dates.len() {
            return Ok(self.to);
        }
        instant(self.counted[i + 1]).map(|e| e.max(self.from))
    }
}

/// The first instant of local date `date` in `tz`: local midnight, or when
/// midnight falls in a DST gap, the first quarter hour after it that exists.
/// Returns UTC seconds.
fn local_start(date: NaiveDate, tz: Tz) -> Result<i64> {
    let midnight = date.and_time(NaiveTime::MIN);
    // A gap lasts at most a day (Apia skipped a whole date); look two days on.
    for step in 0..=(2 * 24 * 4) {
        let Some(local) = midnight.checked_add_signed(TimeDelta::minutes(15 * step)) else { break };
        if let Some(t) = tz.from_local_datetime(&local).earliest() {
            return Ok(t.timestamp());
        }
    }
    Err(LedgerError::Invalid { field: "tz", rule: format!("{} has no local time on {date}", tz.name()) })
}

/// `t` rounded down to a slot boundary.
pub fn slot_floor(t: DateTime<Utc>) -> DateTime<Utc> {
    let secs = t.timestamp().div_euclid(SLOT_SECONDS) * SLOT_SECONDS;
    // Out of range only at chrono's extremes, which queries refuse anyway.
    DateTime::from_timestamp(secs, 0).unwrap_or(t)
}

/// `t` rounded up to a slot boundary: the `to` of a series "up to now".
pub fn slot_ceil(t: DateTime<Utc>) -> DateTime<Utc> {
    let floor = slot_floor(t);
    if floor == t {
        return t;
    }
    floor.checked_add_signed(TimeDelta::seconds(SLOT_SECONDS)).unwrap_or(t)
}

fn check_slot_aligned(field: &'static str, t: DateTime<Utc>) -> Result<()> {
    if t.timestamp().rem_euclid(SLOT_SECONDS) != 0 || t.timestamp_subsec_nanos() != 0 {
        return Err(LedgerError::Invalid { field, rule: "must fall on a 15-minute boundary (UTC)".into() });
    }
    Ok(())
}

fn check_range(field: &'static str, t: DateTime<Utc>) -> Result<()> {
    if !(MIN_YEAR..=MAX_YEAR).contains(&t.year()) {
        return Err(LedgerError::Invalid {
            field,
            rule: format!("must be between the years {MIN_YEAR} and {MAX_YEAR}"),
        });
    }
    Ok(())
}

fn instant(secs: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp(secs, 0)
        .ok_or_else(|| LedgerError::Invalid { field: "to", rule: "is beyond the supported calendar".into() })
}

/// Credits as integer micro-credits (exact: credits have at most 6 places).
pub(crate) fn to_micros(c: Credits) -> i128 {
    let mut d = c.get();
    if d.scale() > CREDIT_SCALE {
        // Not produced by the ledger; round rather than lose the entry.
        d = Credits::round_half_even(d).get();
    }
    // mantissa < 2^96 and the factor <= 10^6, so this cannot overflow.
    d.mantissa() * 10i128.pow(CREDIT_SCALE - d.scale())
}

pub(crate) fn from_micros(micros: i128) -> Result<Credits> {
    if micros == 0 {
        // Most cells of a sparse series.
        return Ok(Credits::ZERO);
    }
    Decimal::try_from_i128_with_scale(micros, CREDIT_SCALE)
        .map(Credits::round_half_even)
        .map_err(|_| LedgerError::Invalid { field: "series", rule: "a total exceeds the decimal range".into() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use rust_decimal_macros::dec;
    use serde_json::Map;

    use crate::amount::{Currency, Money};
    use crate::catalog::{BurnOrder, Catalog, CreditType, OverageMode, Product, RateCard};
    use crate::clock::ManualClock;
    use crate::engine::{IngestMode, IngestResult, Ledger};
    use crate::event::UsageEvent;
    use crate::grant::{GrantCategory, GrantSource, NewGrant};
    use crate::ids::{ActorId, EventId, GrantId, ReasonCode};

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    fn cr(s: &str) -> Credits {
        s.parse().unwrap()
    }

    fn ct() -> CreditTypeId {
        CreditTypeId::new("ct").unwrap()
    }

    fn cust() -> CustomerId {
        CustomerId::new("acme").unwrap()
    }

    fn pid(s: &str) -> ProductId {
        ProductId::new(s).unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// A ledger with credit type `ct`, products `api` and `batch` at 1 credit/unit.
    fn ledger(now: DateTime<Utc>) -> Ledger {
        let mut catalog = Catalog::new();
        catalog
            .add_credit_type(
                CreditType::new(
                    ct(),
                    "Credits",
                    "credits",
                    Money { amount: dec!(0.01), currency: Currency::USD },
                    BurnOrder::standard(),
                    OverageMode::CarryForward,
                )
                .unwrap(),
            )
            .unwrap();
        for p in ["api", "batch"] {
            catalog
                .add_product(Product {
                    id: pid(p),
                    name: p.into(),
                    credit_type: ct(),
                    rate_card: RateCard::flat(utc(2020, 1, 1, 0, 0), dec!(1)).unwrap(),
                })
                .unwrap();
        }
        Ledger::new(catalog, Arc::new(ManualClock::new(now)))
    }

    fn grant(
        l: &mut Ledger,
        id: &str,
        amount: Decimal,
        effective_at: DateTime<Utc>,
        expires_at: Option<DateTime<Utc>>,
    ) {
        l.grant(NewGrant {
            expires_at,
            ..NewGrant::new(
                GrantId::new(id).unwrap(),
                cust(),
                ct(),
                amount,
                GrantCategory::Paid,
                GrantSource::Purchase,
                effective_at,
                ReasonCode::new("purchase").unwrap(),
                ActorId::new("tester").unwrap(),
            )
        })
        .unwrap();
    }

    fn use_(l: &mut Ledger, id: &str, product: &str, quantity: Decimal, at: DateTime<Utc>) {
        let r = l.ingest(
            UsageEvent {
                id: EventId::new(id).unwrap(),
                customer: cust(),
                product: pid(product),
                quantity,
                timestamp: at,
                properties: Map::new(),
            },
            IngestMode::Backfill,
            &ActorId::new("tester").unwrap(),
        );
        assert!(matches!(r, IngestResult::Accepted { .. }), "{r:?}");
    }

    fn rollup(l: &Ledger) -> BurnRollup {
        BurnRollup::from_entries(cust(), l.history(&cust(), &ct()).unwrap().entries())
    }

    /// (date, api, batch, total) per bucket.
    fn rows(s: &BurnSeries) -> Vec<(NaiveDate, Credits, Credits, Credits)> {
        let api = s.column(&ct(), &pid("api"));
        let batch = s.column(&ct(), &pid("batch"));
        s.buckets
            .iter()
            .map(|b| {
                let get = |c: Option<usize>| c.map_or(Credits::ZERO, |c| b.burned[c]);
                (b.date, get(api), get(batch), b.total_burned)
            })
            .collect()
    }

    fn bounds(s: &BurnSeries) -> Vec<(DateTime<Utc>, DateTime<Utc>, bool)> {
        s.buckets.iter().map(|b| (b.start, b.end, b.partial)).collect()
    }

    #[test]
    fn utc_days_count_burns_and_overage_by_product() {
        let mut l = ledger(utc(2026, 12, 1, 0, 0));
        grant(&mut l, "g1", dec!(100), utc(2026, 3, 1, 0, 0), None);
        use_(&mut l, "e1", "api", dec!(30), utc(2026, 3, 10, 0, 0));
        use_(&mut l, "e2", "batch", dec!(12.5), utc(2026, 3, 10, 23, 59));
        // 57.5 left: 57.5 burned + 42.5 overage, all usage.
        use_(&mut l, "e3", "api", dec!(100), utc(2026, 3, 11, 8, 0));
        let s = rollup(&l).burn_series(utc(2026, 3, 10, 0, 0), utc(2026, 3, 13, 0, 0), Bucket::Day, Tz::UTC).unwrap();
        assert_eq!(
            rows(&s),
            vec![
                (date(2026, 3, 10), cr("30"), cr("12.5"), cr("42.5")),
                (date(2026, 3, 11), cr("100"), cr("0"), cr("100")),
                (date(2026, 3, 12), cr("0"), cr("0"), cr("0")),
            ]
        );
        assert_eq!(s.burned, vec![cr("130"), cr("12.5")]);
        assert_eq!(s.total_burned, cr("142.5"));
        assert_eq!(s.total_reversed, Credits::ZERO);
        assert!(s.buckets.iter().all(|b| !b.partial && b.end - b.start == TimeDelta::hours(24)));
        assert_eq!(s.burned_by_credit_type(), vec![(ct(), vec![cr("42.5"), cr("100"), cr("0")])]);
    }

    #[test]
    fn london_days_are_23_and_25_hours_across_dst() {
        let london = chrono_tz::Europe::London;
        let mut l = ledger(utc(2026, 12, 1, 0, 0));
        grant(&mut l, "g1", dec!(1000), utc(2026, 1, 1, 0, 0), None);
        // Spring: clocks go 01:00 GMT -> 02:00 BST on 2026-03-29.
        use_(&mut l, "s1", "api", dec!(1), utc(2026, 3, 28, 23, 59)); // 28th 23:59 GMT
        use_(&mut l, "s2", "api", dec!(2), utc(2026, 3, 29, 0, 0)); // 29th 00:00 GMT
        use_(&mut l, "s3", "api", dec!(4), utc(2026, 3, 29, 22, 59)); // 29th 23:59 BST
        use_(&mut l, "s4", "api", dec!(8), utc(2026, 3, 29, 23, 0)); // 30th 00:00 BST
        let r = rollup(&l);
        let s = r.burn_series(utc(2026, 3, 28, 0, 0), utc(2026, 3, 30, 23, 0), Bucket::Day, london).unwrap();
        assert_eq!(
            bounds(&s),
            vec![
                (utc(2026, 3, 28, 0, 0), utc(2026, 3, 29, 0, 0), false),
                (utc(2026, 3, 29, 0, 0), utc(2026, 3, 29, 23, 0), false),
                (utc(2026, 3, 29, 23, 0), utc(2026, 3, 30, 23, 0), false),
            ]
        );
        assert_eq!(s.buckets[1].end - s.buckets[1].start, TimeDelta::hours(23));
        let totals: Vec<_> = rows(&s).into_iter().map(|r| (r.0, r.3)).collect();
        assert_eq!(
            totals,
            vec![(date(2026, 3, 28), cr("1")), (date(2026, 3, 29), cr("6")), (date(2026, 3, 30), cr("8"))]
        );

        // Autumn: clocks go 02:00 BST -> 01:00 GMT on 2026-10-25.
        let mut l = ledger(utc(2026, 12, 1, 0, 0));
        grant(&mut l, "g1", dec!(1000), utc(2026, 1, 1, 0, 0), None);
        use_(&mut l, "a1", "api", dec!(1), utc(2026, 10, 24, 22, 59)); // 24th 23:59 BST
        use_(&mut l, "a2", "api", dec!(2), utc(2026, 10, 24, 23, 0)); // 25th 00:00 BST
        use_(&mut l, "a3", "api", dec!(4), utc(2026, 10, 25, 23, 59)); // 25th 23:59 GMT
        use_(&mut l, "a4", "api", dec!(8), utc(2026, 10, 26, 0, 0)); // 26th 00:00 GMT
        let s = rollup(&l).burn_series(utc(2026, 10, 24, 0, 0), utc(2026, 10, 27, 0, 0), Bucket::Day, london).unwrap();
        assert_eq!(s.buckets[0].start, utc(2026, 10, 23, 23, 0));
        assert!(s.buckets[0].partial, "the 24th began at 23:00 UTC on the 23rd, before `from`");
        assert_eq!((s.buckets[1].start, s.buckets[1].end), (utc(2026, 10, 24, 23, 0), utc(2026, 10, 26, 0, 0)));
        assert_eq!(s.buckets[1].end - s.buckets[1].start, TimeDelta::hours(25));
        let totals: Vec<_> = rows(&s).into_iter().map(|r| (r.0, r.3)).collect();
        assert_eq!(
            totals,
            vec![(date(2026, 10, 24), cr("1")), (date(2026, 10, 25), cr("6")), (date(2026, 10, 26), cr("8"))]
        );
    }

    #[test]
    fn kolkata_days_start_at_1830_utc() {
        let kolkata = chrono_tz::Asia::Kolkata;
        let mut l = ledger(utc(2026, 12, 1, 0, 0));
        grant(&mut l, "g1", dec!(1000), utc(2026, 1, 1, 0, 0), None);
        use_(&mut l, "k1", "api", dec!(3), utc(2026, 3, 10, 18, 29)); // 10th 23:59 IST
        use_(&mut l, "k2", "batch", dec!(5), utc(2026, 3, 10, 18, 30)); // 11th 00:00 IST
        use_(&mut l, "k3", "api", dec!(7), utc(2026, 3, 11, 18, 29)); // 11th 23:59 IST
        let s =
            rollup(&l).burn_series(utc(2026, 3, 9, 18, 30), utc(2026, 3, 11, 18, 30), Bucket::Day, kolkata).unwrap();
        assert_eq!(
            bounds(&s),
            vec![
                (utc(2026, 3, 9, 18, 30), utc(2026, 3, 10, 18, 30), false),
                (utc(2026, 3, 10, 18, 30), utc(2026, 3, 11, 18, 30), false),
            ]
        );
        assert_eq!(
            rows(&s),
            vec![(date(2026, 3, 10), cr("3"), cr("0"), cr("3")), (date(2026, 3, 11), cr("7"), cr("5"), cr("12")),]
        );
    }

    #[test]
    fn weeks_start_monday_and_partial_buckets_count_only_the_range() {
        let mut l = ledger(utc(2026, 12, 1, 0, 0));
        grant(&mut l, "g1", dec!(1000), utc(2026, 1, 1, 0, 0), None);
        use_(&mut l, "w0", "api", dec!(100), utc(2026, 3, 3, 12, 0)); // Tue, before `from`
        use_(&mut l, "w1", "api", dec!(1), utc(2026, 3, 4, 12, 0)); // Wed
        use_(&mut l, "w2", "batch", dec!(2), utc(2026, 3, 8, 23, 59)); // Sun
        use_(&mut l, "w3", "api", dec!(4), utc(2026, 3, 9, 0, 0)); // Mon
        use_(&mut l, "w4", "api", dec!(8), utc(2026, 3, 17, 11, 0)); // Tue
        use_(&mut l, "w5", "api", dec!(16), utc(2026, 3, 17, 12, 0)); // Tue, at `to`
        let s = rollup(&l).burn_series(utc(2026, 3, 4, 0, 0), utc(2026, 3, 17, 12, 0), Bucket::Week, Tz::UTC).unwrap();
        assert_eq!(
            bounds(&s),
            vec![
                (utc(2026, 3, 2, 0, 0), utc(2026, 3, 9, 0, 0), true),
                (utc(2026, 3, 9, 0, 0), utc(2026, 3, 16, 0, 0), false),
                (utc(2026, 3, 16, 0, 0), utc(2026, 3, 23, 0, 0), true),
            ]
        );
        assert_eq!(
            rows(&s),
            vec![
                (date(2026, 3, 2), cr("1"), cr("2"), cr("3")),
                (date(2026, 3, 9), cr("4"), cr("0"), cr("4")),
                (date(2026, 3, 16), cr("8"), cr("0"), cr("8")),
            ]
        );
        assert_eq!(s.total_burned, cr("15"));
    }

    #[test]
    fn new_york_months_follow_local_midnight_and_dst() {
        let ny = chrono_tz::America::New_York;
        let mut l = ledger(utc(2026, 12, 1, 0, 0));
        grant(&mut l, "g1", dec!(1000), utc(2026, 1, 1, 0, 0), None);
        use_(&mut l, "m1", "api", dec!(1), utc(2026, 3, 1, 4, 59)); // Feb 28 23:59 EST
        use_(&mut l, "m2", "api", dec!(2), utc(2026, 3, 1, 5, 0)); // Mar 1 00:00 EST
        use_(&mut l, "m3", "batch", dec!(4), utc(2026, 4, 1, 3, 59)); // Mar 31 23:59 EDT
        use_(&mut l, "m4", "api", dec!(8), utc(2026, 4, 1, 4, 0)); // Apr 1 00:00 EDT
        let s = rollup(&l).burn_series(utc(2026, 2, 1, 5, 0), utc(2026, 5, 1, 4, 0), Bucket::Month, ny).unwrap();
        assert_eq!(
            bounds(&s),
            vec![
                (utc(2026, 2, 1, 5, 0), utc(2026, 3, 1, 5, 0), false),
                (utc(2026, 3, 1, 5, 0), utc(2026, 4, 1, 4, 0), false),
                (utc(2026, 4, 1, 4, 0), utc(2026, 5, 1, 4, 0), false),
            ]
        );
        assert_eq!(
            rows(&s),
            vec![
                (date(2026, 2, 1), cr("1"), cr("0"), cr("1")),
                (date(2026, 3, 1), cr("2"), cr("4"), cr("6")),
                (date(2026, 4, 1), cr("8"), cr("0"), cr("8")),
            ]
        );
        // March in New York is 31 days less the hour lost on the 8th.
        assert_eq!(s.buckets[1].end - s.buckets[1].start, TimeDelta::hours(31 * 24 - 1));
    }

    #[test]
    fn a_skipped_local_date_has_no_bucket() {
        // Samoa moved across the date line: 2011-12-29 was followed by 2011-12-31.
        let apia = chrono_tz::Pacific::Apia;
        let r = BurnRollup::new(cust());
        let s = r.burn_series(utc(2011, 12, 28, 10, 0), utc(2011, 12, 31, 10, 0), Bucket::Day, apia).unwrap();
        let dates: Vec<_> = s.buckets.iter().map(|b| (b.date, b.end - b.start)).collect();
        assert_eq!(
            dates,
            vec![
                (date(2011, 12, 28), TimeDelta::hours(24)),
                (date(2011, 12, 29), TimeDelta::hours(24)),
                (date(2011, 12, 31), TimeDelta::hours(24)),
            ]
        );
    }

    #[test]
    fn stored_days_fold_in_to_the_same_series_as_entries() {
        let mut l = ledger(utc(2026, 3, 20, 0, 0));
        grant(&mut l, "g1", dec!(10), utc(2026, 3, 1, 0, 0), None);
        use_(&mut l, "e1", "api", dec!(15), utc(2026, 3, 10, 9, 7));
        use_(&mut l, "e2", "api", dec!(3), utc(2026, 3, 11, 23, 59));
        use_(&mut l, "e3", "api", dec!(2.5), utc(2026, 3, 11, 0, 0));
        l.reverse(&EventId::new("e1").unwrap(), crate::entry::Attribution::system()).unwrap();
        let from_entries = rollup(&l);
        // What a store keeps: per (credit type, product, UTC day), 96 quarter hours.
        type DayKey = (CreditTypeId, Option<ProductId>, i64);
        let mut days: BTreeMap<DayKey, (Vec<i64>, Vec<i64>)> = BTreeMap::new();
        for e in l.history(&cust(), &ct()).unwrap().entries() {
            let reversal = match e.kind {
                EntryKind::Burn | EntryKind::Overage => false,
                EntryKind::Reversal => true,
                EntryKind::Grant if e.event.is_some() => true,
                _ => continue,
            };
            let slot = e.booked_at.timestamp().div_euclid(SLOT_SECONDS);
            let day = days
                .entry((e.credit_type.clone(), e.product.clone(), slot.div_euclid(96)))
                .or_insert_with(|| (vec![0; 96], vec![0; 96]));
            let micros = i64::try_from(to_micros(e.amount)).unwrap();
            let cell = slot.rem_euclid(96) as usize;
            if reversal {
                day.1[cell] += micros;
            } else {
                day.0[cell] += micros.abs();
            }
        }
        let mut from_days = BurnRollup::new(cust());
        for ((credit_type, product, day), (burned, reversed)) in &days {
            from_days.add_day(credit_type, product.as_ref(), *day, burned, reversed).unwrap();
        }
        let (from, to) = (utc(2026, 3, 1, 0, 0), utc(2026, 4, 1, 0, 0));
        for tz in [Tz::UTC, chrono_tz::Asia::Kolkata, chrono_tz::America::New_York] {
            let a = from_entries.burn_series(from, to, Bucket::Day, tz).unwrap();
            let b = from_days.burn_series(from, to, Bucket::Day, tz).unwrap();
            assert_eq!(serde_json::to_value(&a).unwrap(), serde_json::to_value(&b).unwrap(), "{tz}");
        }
        // Days without a boundary inside them folded in by their totals
        // alone: the same series, for windows starting on and off midnight.
        let windows = [(from, to), (utc(2026, 3, 10, 9, 15), utc(2026, 3, 11, 23, 45)), (utc(2026, 3, 11, 0, 0), to)];
        for ((from, to), tz) in windows.into_iter().flat_map(|w| {
            [Tz::UTC, chrono_tz::Asia::Kolkata, chrono_tz::America::New_York].into_iter().map(move |tz| (w, tz))
        }) {
            for bucket in [Bucket::Day, Bucket::Week, Bucket::Month] {
                let need = BurnRollup::days_needing_quarters(from, to, bucket, tz).unwrap();
                let mut by_totals = BurnRollup::new(cust());
                for ((credit_type, product, day), (burned, reversed)) in &days {
                    if need.contains(day) {
                        by_totals.add_day(credit_type, product.as_ref(), *day, burned, reversed).unwrap();
                    } else {
                        let sum = |v: &[i64]| v.iter().map(|&a| i128::from(a)).sum::<i128>();
                        by_totals
                            .add_day_totals(credit_type, product.as_ref(), *day, sum(burned), sum(reversed))
                            .unwrap();
                    }
                }
                let a = from_entries.burn_series(from, to, bucket, tz).unwrap();
                let b = by_totals.burn_series(from, to, bucket, tz).unwrap();
                assert_eq!(serde_json::to_value(&a).unwrap(), serde_json::to_value(&b).unwrap(), "{tz} {bucket:?}");
            }
            if tz == Tz::UTC && from == utc(2026, 3, 10, 9, 15) {
                // Only the two partial days need their quarter hours.
                let need = BurnRollup::days_needing_quarters(from, to, Bucket::Day, tz).unwrap();
                assert_eq!(need.len(), 2);
            }
        }
        let err = from_days.add_day(&ct(), Some(&pid("api")), 0, &[0; 95], &[0; 96]).unwrap_err();
        assert_eq!(err.to_string(), "burn_day: must have 96 quarter hours");
    }

    #[test]
    fn reversals_are_reported_beside_gross_usage() {
        let mut l = ledger(utc(2026, 3, 20, 0, 0));
        grant(&mut l, "g1", dec!(10), utc(2026, 3, 1, 0, 0), None);
        use_(&mut l, "e1", "api", dec!(15), utc(2026, 3, 10, 9, 0)); // 10 burned + 5 overage
        use_(&mut l, "e2", "api", dec!(3), utc(2026, 3, 11, 9, 0));
        // Decided on the 20th: the 15 come back (10 to the grant, 5 overage cancelled).
        l.reverse(&EventId::new("e1").unwrap(), crate::entry::Attribution::system()).unwrap();
        let r = rollup(&l);
        let s = r.burn_series(utc(2026, 3, 10, 0, 0), utc(2026, 3, 21, 0, 0), Bucket::Day, Tz::UTC).unwrap();
        assert_eq!(s.total_burned, cr("18"), "usage is gross: the reversal does not rewrite the 10th");
        assert_eq!(s.buckets[0].total_burned, cr("15"));
        assert_eq!(s.total_reversed, cr("15"));
        assert_eq!(s.buckets[10].total_reversed, cr("15"), "booked when the dispute was decided");
        // Reversal entries carry the product of the usage they undo.
        let api = s.columns.iter().position(|k| k.product.as_ref().is_some_and(|p| p.as_str() == "api")).unwrap();
        assert_eq!(s.reversed[api], cr("15"));
        assert_eq!(s.burned[api], cr("18"));
        assert!(s.columns.iter().all(|k| k.product.is_some()), "no refund grant here, so no product-less column");
    }

    #[test]
    fn late_entries_land_in_their_event_time_bucket() {
        let mut r = BurnRollup::new(cust());
        let mut l = ledger(utc(2026, 12, 1, 0, 0));
        grant(&mut l, "g1", dec!(100), utc(2026, 1, 1, 0, 0), None);
        use_(&mut l, "e1", "api", dec!(5), utc(2026, 3, 12, 0, 0));
        use_(&mut l, "e2", "api", dec!(7), utc(2026, 3, 10, 0, 0));
        let entries = l.history(&cust(), &ct()).unwrap().entries();
        for e in entries.iter().rev() {
            r.record(e);
        }
        // Another customer's entry does not count.
        let mut other = entries[entries.len() - 1].clone();
        other.customer = CustomerId::new("other").unwrap();
        assert!(!r.record(&other));
        let s = r.burn_series(utc(2026, 3, 10, 0, 0), utc(2026, 3, 13, 0, 0), Bucket::Day, Tz::UTC).unwrap();
        assert_eq!(s.buckets.iter().map(|b| b.total_burned).collect::<Vec<_>>(), vec![cr("7"), cr("0"), cr("5")]);
        assert_eq!(r.counted(), 2);
    }

    #[test]
    fn bad_ranges_are_refused() {
        let r = BurnRollup::new(cust());
        let t = utc(2026, 3, 10, 0, 0);
        let field = |e: LedgerError| match e {
            LedgerError::Invalid { field, .. } => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(r.burn_series(t, t, Bucket::Day, Tz::UTC).unwrap_err()), "from");
        assert_eq!(field(r.burn_series(t + TimeDelta::days(1), t, Bucket::Day, Tz::UTC).unwrap_err()), "from");
        assert_eq!(
            field(r.burn_series(t + TimeDelta::minutes(5), t + TimeDelta::days(1), Bucket::Day, Tz::UTC).unwrap_err()),
            "from"
        );
        assert_eq!(field(r.burn_series(t, t + TimeDelta::seconds(1), Bucket::Day, Tz::UTC).unwrap_err()), "to");
        // What a caller does with "up to now".
        let now = t + TimeDelta::milliseconds(60_001);
        assert_eq!((slot_floor(now), slot_ceil(now)), (t, t + TimeDelta::minutes(15)));
        assert_eq!((slot_floor(t), slot_ceil(t)), (t, t));
        assert!(r.burn_series(t, slot_ceil(now), Bucket::Day, Tz::UTC).is_ok());
        // 3,660 days is the limit; one more is refused.
        assert_eq!(r.burn_series(t, t + TimeDelta::days(3660), Bucket::Day, Tz::UTC).unwrap().buckets.len(), 3660);
        let err = r.burn_series(t, t + TimeDelta::days(3661), Bucket::Day, Tz::UTC).unwrap_err();
        assert_eq!(err.to_string(), "to: the range spans more than 3660 buckets");
        assert_eq!(field(r.burn_series(utc(1850, 1, 1, 0, 0), t, Bucket::Month, Tz::UTC).unwrap_err()), "from");
        // Monrovia's -0:44:30 (until 1972) puts midnight inside a slot.
        let err = r.burn_series(utc(1971, 1, 1, 0, 0), utc(1971, 1, 5, 0, 0), Bucket::Day, chrono_tz::Africa::Monrovia);
        assert_eq!(field(err.unwrap_err()), "tz");
    }

    #[test]
    fn balance_history_gives_closing_balances() {
        let ny = chrono_tz::America::New_York;
        let mut l = ledger(utc(2026, 4, 1, 0, 0));
        // Expires at local midnight starting Mar 12 (04:00 UTC, EDT).
        grant(&mut l, "g1", dec!(100), utc(2026, 3, 1, 0, 0), Some(utc(2026, 3, 12, 4, 0)));
        grant(&mut l, "g2", dec!(50), utc(2026, 3, 11, 16, 0), None);
        use_(&mut l, "e1", "api", dec!(30), utc(2026, 3, 10, 15, 0));
        use_(&mut l, "e2", "api", dec!(200), utc(2026, 3, 12, 15, 0)); // 50 from g2 + 150 overage
        let h = l.history(&cust(), &ct()).unwrap();
        let points =
            balance_history(h, utc(2026, 3, 10, 4, 0), utc(2026, 3, 13, 16, 0), Bucket::Day, ny, l.now()).unwrap();
        let got: Vec<_> = points.iter().map(|p| (p.date, p.end, p.partial, p.available, p.overage, p.net)).collect();
        assert_eq!(
            got,
            vec![
                (date(2026, 3, 10), utc(2026, 3, 11, 4, 0), false, cr("70"), cr("0"), cr("70")),
                // g1 still counts: it expires at the very end of the 11th.
                (date(2026, 3, 11), utc(2026, 3, 12, 4, 0), false, cr("120"), cr("0"), cr("120")),
                (date(2026, 3, 12), utc(2026, 3, 13, 4, 0), false, cr("0"), cr("150"), cr("-150")),
                (date(2026, 3, 13), utc(2026, 3, 13, 16, 0), true, cr("0"), cr("150"), cr("-150")),
            ]
        );
        // Closing balances chain with the burn series: 120 - 50 burned from g2 - 70 expired = 0.
        let s = rollup(&l).burn_series(utc(2026, 3, 12, 4, 0), utc(2026, 3, 13, 4, 0), Bucket::Day, ny).unwrap();
        assert_eq!(s.total_burned, cr("200"));
    }
}
