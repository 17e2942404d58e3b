//! The plan: everything decided from the seed before the first write (the
//! period, the customers, the usage scale, the rate change, campaigns, an
//! outage, duplicated purchases and disputes), and the tags of the random
//! streams.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveTime, TimeDelta, Utc, Weekday};
use rand::Rng;
use rust_decimal::Decimal;

use super::catalog::Ct;
use super::customers::{make_profiles, Profile, EVENTS_PER_CUSTOMER_DAY};
use super::numbers::{month_start, next_month, nice, rng_for};
use super::{SeedError, SeedOptions};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Campaign {
    /// Product-restricted: diarization credits.
    Diarization,
    /// Product-restricted: custom-model training credits.
    CustomBeta,
    /// Product-restricted: multilingual batch credits.
    Multilingual,
    /// Unrestricted thank-you credits that expire after the period ends.
    YearEnd,
}

impl Campaign {
    pub(super) fn slug(self) -> &'static str {
        match self {
            Campaign::Diarization => "diarization",
            Campaign::CustomBeta => "custom-beta",
            Campaign::Multilingual => "multilingual",
            Campaign::YearEnd => "year-end",
        }
    }
}

/// Everything decided before the first write, from the seed alone.
pub(super) struct Plan {
    pub(super) opts: SeedOptions,
    /// Midnight UTC of the first simulated day.
    pub(super) start: DateTime<Utc>,
    /// "Now": the end of the period (inside the last simulated day).
    pub(super) end: DateTime<Utc>,
    pub(super) profiles: Vec<Profile>,
    /// Multiplies `Profile::lambda` so the expected total is the target.
    pub(super) scale: f64,
    /// Month starts, from the one containing `start` to well past `end`.
    pub(super) months: Vec<DateTime<Utc>>,
    pub(super) price_change: DateTime<Utc>,
    pub(super) price_announce_day: u32,
    pub(super) campaigns: Vec<(u32, Campaign)>,
    pub(super) outage_day: Option<u32>,
    /// Day -> customers (starting points) with a duplicated purchase.
    pub(super) duplicates: BTreeMap<u32, Vec<usize>>,
    /// Day -> number of disputes resolved by reversal that day.
    pub(super) disputes: BTreeMap<u32, u32>,
}

const TAG_PLAN: u64 = 1;
pub(super) const TAG_EVENTS: u64 = 2;
pub(super) const TAG_OPENING: u64 = 3;
pub(super) const TAG_CAMPAIGN: u64 = 4;
pub(super) const TAG_OUTAGE: u64 = 5;
pub(super) const TAG_GOODWILL: u64 = 6;
pub(super) const TAG_DISPUTE: u64 = 7;

impl Plan {
    pub(super) fn new(opts: SeedOptions, end: DateTime<Utc>) -> Result<Plan, SeedError> {
        let days = opts.days;
        let today = end.date_naive().and_time(NaiveTime::MIN).and_utc();
        let start = today - TimeDelta::days(i64::from(days) - 1);
        let mut rng = rng_for(opts.seed, TAG_PLAN, 0, 0);
        let profiles = make_profiles(&mut rng, opts, start)?;

        let mut months = vec![month_start(start)];
        while let Some(&last) = months.last() {
            if last > end + TimeDelta::days(40) {
                break;
            }
            months.push(next_month(last)?);
        }
        let day_of = |t: DateTime<Utc>| (t - start).num_days();
        // A price cut on the first month start after mid-period, announced
        // two weeks ahead; never on the card's first instant.
        let mid = start + TimeDelta::days(i64::from(days / 2));
        let price_change =
            months.iter().copied().find(|&m| m >= mid && m < end).unwrap_or(mid).max(start + TimeDelta::days(1));
        let price_announce_day = u32::try_from((day_of(price_change) - 14).max(0)).unwrap_or(0);

        let at = |frac: f64| ((f64::from(days) * frac) as u32).min(days - 1);
        let year_end = if days > 40 { days - 20 } else { at(0.8) };
        let campaigns = vec![
            (at(0.25), Campaign::Diarization),
            (at(0.35), Campaign::CustomBeta),
            (at(0.55), Campaign::Multilingual),
            (year_end, Campaign::YearEnd),
        ];
        let outage_day = (days >= 10).then(|| at(0.45));

        let n = profiles.len();
        let mut duplicates: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        let mut disputes: BTreeMap<u32, u32> = BTreeMap::new();
        if days >= 3 {
            let lo = days * 15 / 100;
            let hi = (days * 85 / 100).max(lo + 1).min(days - 1);
            for _ in 0..(n / 40).max(1) {
                duplicates.entry(rng.random_range(lo..hi)).or_default().push(rng.random_range(0..n));
            }
            // Half of the disputes land right after a month end, so the
            // disputed usage burned grants that have expired since and the
            // reversal becomes a `dispute_refund` grant.
            let after_month_end: Vec<u32> = months
                .iter()
                .filter_map(|m| u32::try_from(day_of(*m) + 1).ok())
                .filter(|d| (2..days).contains(d))
                .collect();
            for k in 0..(n / 15).max(2) {
                let day = if k % 2 == 0 && !after_month_end.is_empty() {
                    after_month_end[rng.random_range(0..after_month_end.len())]
                } else {
                    rng.random_range(2..days)
                };
                *disputes.entry(day).or_default() += 1;
            }
        }

        let mut plan = Plan {
            opts,
            start,
            end,
            profiles,
            scale: 0.0,
            months,
            price_change,
            price_announce_day,
            campaigns,
            outage_day,
            duplicates,
            disputes,
        };
        let target = EVENTS_PER_CUSTOMER_DAY * f64::from(opts.customers) * f64::from(days);
        let weekends: Vec<bool> = (0..i64::from(days)).map(|d| plan.weekend(d)).collect();
        let expected: f64 = plan
            .profiles
            .iter()
            .map(|p| weekends.iter().enumerate().map(|(d, w)| p.lambda(d as i64, *w, true)).sum::<f64>())
            .sum();
        plan.scale = if expected > 0.0 { target / expected } else { 0.0 };
        Ok(plan)
    }

    pub(super) fn day_start(&self, d: i64) -> DateTime<Utc> {
        self.start + TimeDelta::days(d)
    }

    pub(super) fn weekend(&self, d: i64) -> bool {
        matches!(self.day_start(d).weekday(), Weekday::Sat | Weekday::Sun)
    }

    /// Midnight (UTC) `days` days after the day of `t`. Seeded grants
    /// expire at midnight: the day's usage, ingested just before, never
    /// arrives after an expiry it predates.
    pub(super) fn midnight_after(&self, t: DateTime<Utc>, days: i64) -> DateTime<Utc> {
        self.day_start(self.day_of(t) + days)
    }

    /// Day index of an instant at or after `start`.
    pub(super) fn day_of(&self, t: DateTime<Utc>) -> i64 {
        (t - self.start).num_days()
    }

    /// Expected credits of `ct` customer `c` burns on days `from..to`
    /// (days past the period extrapolate the same curve).
    pub(super) fn expected_credits(&self, c: usize, ct: Ct, from: i64, to: i64) -> f64 {
        let p = &self.profiles[c];
        let events: f64 = (from..to).map(|d| p.lambda(d, self.weekend(d), true)).sum();
        events * self.scale * p.per_event[ct.i()]
    }

    /// When the customer's contract (and so its plan) starts.
    pub(super) fn contract_start(&self, c: usize) -> DateTime<Utc> {
        let p = &self.profiles[c];
        if p.existing {
            self.start
        } else {
            self.day_start(i64::from(p.signup_day)) + TimeDelta::hours(12)
        }
    }

    /// Index of the month containing `t`.
    pub(super) fn month_index(&self, t: DateTime<Utc>) -> usize {
        self.months.partition_point(|&m| m <= t).saturating_sub(1)
    }

    /// A pack sized to `pack_months` of expected usage from day `d`.
    pub(super) fn pack(&self, c: usize, ct: Ct, d: u32) -> Decimal {
        let d = i64::from(d);
        nice(self.expected_credits(c, ct, d, d + 30) * self.profiles[c].pack_months, ct.min_amount())
    }
}
