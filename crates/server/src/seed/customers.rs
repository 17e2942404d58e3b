//! The demo customers: tiers, funding, volume, seasonality, growth and
//! churn, and the names and references they are listed under.

use std::collections::HashSet;

use chrono::{DateTime, TimeDelta, Utc};
use creditdesk_ledger::ids::CustomerId;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;

use super::catalog::{Ct, BATCH_EN, CTS, CUSTOM_INFER, PRODUCTS, REALTIME};
use super::numbers::normal;
use super::{SeedError, SeedOptions};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Tier {
    Enterprise,
    Growth,
    Startup,
    Trial,
}

impl Tier {
    pub(super) fn label(self) -> &'static str {
        match self {
            Tier::Enterprise => "Enterprise",
            Tier::Growth => "Growth",
            Tier::Startup => "Startup",
            Tier::Trial => "Trial",
        }
    }
}

/// How a customer pays for one credit type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Funding {
    /// Does not use it.
    None,
    /// Monthly allotment (expiring, partial rollover).
    Plan,
    /// Buys packs by hand when running low (or late, for lapsing customers).
    Prepaid,
    /// Packs bought automatically below a threshold.
    AutoTopup,
    /// Free trial credits only.
    Trial,
}

/// Everything about a customer's behaviour, fixed up front from the seed.
pub(super) struct Profile {
    pub(super) id: CustomerId,
    pub(super) name: String,
    pub(super) external_ref: String,
    pub(super) tier: Tier,
    /// A customer before the period started (created in the setup step).
    pub(super) existing: bool,
    /// Day of sign-up (at noon); 0 for existing customers.
    pub(super) signup_day: u32,
    pub(super) created_at: DateTime<Utc>,
    /// Usage tapers off over the three weeks before this day, then stops.
    pub(super) churn_day: Option<u32>,
    /// Trials: last day of the trial; unconverted trials stop using then.
    trial_end: Option<u32>,
    converted: bool,
    /// Events per day at sign-up, before scaling to the target volume.
    pub(super) base: f64,
    /// Yearly log growth of volume.
    pub(super) growth: f64,
    /// Weekend volume relative to weekdays.
    pub(super) weekend: f64,
    pub(super) bursty: bool,
    pub(super) region: usize,
    /// Product weights, normalised to sum 1.
    pub(super) mix: [f64; 6],
    pub(super) funding: [Funding; 3],
    /// Plan size relative to expected usage, per credit type. Below 1 only
    /// for real-time minutes: invoiced overage is a normal state, while
    /// carry-forward overage below 1 would snowball month after month.
    pub(super) coverage: [f64; 3],
    /// Buys only once already in overage.
    pub(super) lapse: bool,
    /// Packs cover this many months of expected usage.
    pub(super) pack_months: f64,
    /// Multiplier on list price (contract discount).
    pub(super) discount: Decimal,
    /// Own rates: (product index, credits per unit in thousandths).
    pub(super) overrides: Vec<(usize, i64)>,
    /// Expected credits per event, per credit type (list rates).
    pub(super) per_event: [f64; 3],
}

impl Profile {
    pub(super) fn active(&self, d: i64) -> bool {
        if d < i64::from(self.signup_day) {
            return false;
        }
        if self.churn_day.is_some_and(|c| d >= i64::from(c)) {
            return false;
        }
        match self.trial_end {
            Some(end) if !self.converted => d <= i64::from(end),
            _ => true,
        }
    }

    /// Funding of `ct` on day `d` (a converted trial buys packs afterwards).
    pub(super) fn funding_on(&self, ct: Ct, d: u32) -> Funding {
        match (self.funding[ct.i()], self.trial_end) {
            (Funding::Trial, Some(end)) if self.converted && d > end => Funding::Prepaid,
            (f, _) => f,
        }
    }

    /// Expected events on day `d` before scaling; `burst_mean` folds in the
    /// expected effect of random bursts (for sizing and scaling), else the
    /// caller draws the burst.
    pub(super) fn lambda(&self, d: i64, weekend: bool, burst_mean: bool) -> f64 {
        if !self.active(d) {
            return 0.0;
        }
        let age = (d - i64::from(self.signup_day)) as f64;
        let mut l = self.base * (self.growth * age / 365.0).exp();
        if weekend {
            l *= self.weekend;
        }
        if let Some(churn) = self.churn_day {
            let left = i64::from(churn) - d;
            if left < CHURN_TAPER_DAYS {
                l *= left as f64 / CHURN_TAPER_DAYS as f64;
            }
        }
        if !self.existing && d == i64::from(self.signup_day) {
            l *= 0.5; // signs up at noon
        }
        if burst_mean && self.bursty {
            l *= BURST_MEAN;
        }
        l
    }
}

const CHURN_TAPER_DAYS: i64 = 21;
pub(super) const BURST_P: f64 = 0.04;
pub(super) const BURST_MIN: f64 = 3.0;
pub(super) const BURST_MAX: f64 = 8.0;
const BURST_MEAN: f64 = 1.0 + BURST_P * ((BURST_MIN + BURST_MAX) / 2.0 - 1.0);
/// 1,000,000 events for 200 customers over 365 days.
pub(super) const EVENTS_PER_CUSTOMER_DAY: f64 = 1_000_000.0 / (200.0 * 365.0);
/// Relative usage by local hour: office hours.
#[rustfmt::skip]
pub(super) const HOUR_WEIGHTS: [f64; 24] =
    [1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 3.0, 5.0, 8.0, 10.0, 10.0, 10.0, 9.0, 10.0, 10.0, 10.0, 9.0, 7.0, 5.0, 4.0, 3.0, 2.0, 2.0, 1.0];
/// Region (an event property) and its UTC offset in hours.
pub(super) const REGIONS: [(&str, i64); 6] =
    [("us-east", -5), ("us-west", -8), ("eu-west", 0), ("eu-central", 1), ("ap-south", 5), ("ap-northeast", 9)];

#[rustfmt::skip]
const NAME_FIRST: [&str; 48] = [
    "Acme", "Alder", "Apex", "Aurora", "Beacon", "Birch", "Blue", "Bright", "Cedar", "Clear", "Cobalt", "Copper",
    "Delta", "Echo", "Ember", "Fable", "Falcon", "Fjord", "Granite", "Harbor", "Helix", "Indigo", "Iron", "Juniper",
    "Kestrel", "Lumen", "Maple", "Meridian", "Nimbus", "North", "Nova", "Oak", "Orbit", "Pine", "Polar", "Quartz",
    "Raven", "Redwood", "Sable", "Signal", "Silver", "Summit", "Tidal", "True", "Vantage", "Vertex", "Willow",
    "Zenith",
];
#[rustfmt::skip]
const NAME_SECOND: [&str; 24] = [
    "Voice", "Audio", "Speech", "Health", "Media", "Legal", "Learning", "Insights", "Analytics", "Support", "Labs",
    "Logic", "Scribe", "Notes", "Calls", "Cast", "Wave", "Care", "Meet", "Dictation", "Studio", "Connect", "Radio",
    "Assist",
];
#[rustfmt::skip]
const NAME_SUFFIX: [&str; 12] =
    ["Inc.", "Ltd", "GmbH", "Technologies", "Systems", "Co.", "AI", "Group", "S.A.", "Pty Ltd", "BV", "Corp."];

fn company_name(rng: &mut ChaCha8Rng, taken: &mut HashSet<String>, idx: usize) -> String {
    for _ in 0..100 {
        let first = NAME_FIRST[rng.random_range(0..NAME_FIRST.len())];
        let second = NAME_SECOND[rng.random_range(0..NAME_SECOND.len())];
        let name = if rng.random_bool(0.7) {
            format!("{first} {second} {}", NAME_SUFFIX[rng.random_range(0..NAME_SUFFIX.len())])
        } else {
            format!("{first} {second}")
        };
        if taken.insert(name.clone()) {
            return name;
        }
    }
    // Only reached with thousands of customers: still unique.
    let name = format!("{} {} {}", NAME_FIRST[idx % NAME_FIRST.len()], NAME_SECOND[idx % NAME_SECOND.len()], idx + 1);
    taken.insert(name.clone());
    name
}

fn external_ref(rng: &mut ChaCha8Rng, taken: &mut HashSet<u32>) -> String {
    loop {
        let n = rng.random_range(10_000..100_000u32);
        if taken.insert(n) {
            return format!("crm-{n}");
        }
        if taken.len() >= 90_000 {
            // Unreachable with at most 9,999 customers; keeps the loop finite.
            return format!("crm-{}", 100_000 + taken.len());
        }
    }
}

pub(super) fn make_profiles(
    rng: &mut ChaCha8Rng,
    opts: SeedOptions,
    start: DateTime<Utc>,
) -> Result<Vec<Profile>, SeedError> {
    let n = opts.customers as usize;
    let days = opts.days;
    let share = |f: f64| (n as f64 * f).round() as usize;
    let mut tiers = Vec::with_capacity(n);
    tiers.extend(std::iter::repeat_n(Tier::Enterprise, share(0.08).max(1)));
    tiers.extend(std::iter::repeat_n(Tier::Growth, share(0.25).max(1)));
    tiers.extend(std::iter::repeat_n(Tier::Trial, share(0.22)));
    tiers.resize(n.max(tiers.len()), Tier::Startup);
    tiers.truncate(n);
    {
        use rand::seq::SliceRandom;
        tiers.shuffle(rng);
    }
    let mut names = HashSet::new();
    let mut refs = HashSet::new();
    let mut profiles = Vec::with_capacity(n);
    for (i, tier) in tiers.into_iter().enumerate() {
        let id = CustomerId::new(format!("cus_{:04}", i + 1))?;
        let name = company_name(rng, &mut names, i);
        let external_ref = external_ref(rng, &mut refs);
        let within = |rng: &mut ChaCha8Rng, frac: f64| rng.random_range(0..((f64::from(days) * frac) as u32).max(1));
        let existing = match tier {
            Tier::Enterprise => rng.random_bool(0.85),
            Tier::Growth => rng.random_bool(0.6),
            Tier::Startup => rng.random_bool(0.4),
            Tier::Trial => false,
        };
        let signup_day = match (existing, tier) {
            (true, _) => 0,
            (false, Tier::Enterprise) => within(rng, 0.5),
            (false, Tier::Growth) => within(rng, 0.7),
            (false, Tier::Startup) => within(rng, 0.9),
            (false, Tier::Trial) => within(rng, 0.95),
        };
        let created_at = if existing {
            start - TimeDelta::days(rng.random_range(30..1_500)) - TimeDelta::seconds(rng.random_range(0..86_400))
        } else {
            start + TimeDelta::days(i64::from(signup_day)) + TimeDelta::hours(12)
        };
        let churn_day = if tier != Tier::Trial && days >= 60 && rng.random_bool(0.06) {
            let lo = (signup_day + 30).max(days / 3);
            let hi = days - 5;
            (lo < hi).then(|| rng.random_range(lo..hi))
        } else {
            None
        };
        let (trial_end, converted) = match tier {
            Tier::Trial => (Some(signup_day + rng.random_range(14..=30)), rng.random_bool(0.35)),
            _ => (None, false),
        };
        let base = match tier {
            Tier::Enterprise => 60.0,
            Tier::Growth => 18.0,
            Tier::Startup => 5.0,
            Tier::Trial => 3.0,
        } * (0.5 * normal(rng)).exp();
        let growth = match tier {
            Tier::Enterprise => rng.random_range(0.05..0.5),
            Tier::Growth => rng.random_range(0.2..1.0),
            Tier::Startup => rng.random_range(0.0..1.3),
            Tier::Trial => rng.random_range(0.0..0.8),
        };
        let weekend = if rng.random_bool(0.2) { rng.random_range(0.7..1.0) } else { rng.random_range(0.2..0.5) };
        let bursty = rng.random_bool(0.12);
        let region = rng.random_range(0..REGIONS.len());
        let growth_uses_custom = rng.random_bool(0.4);
        let mut w = |base: f64, p: f64| if rng.random_bool(p) { base * rng.random_range(0.5..1.5) } else { 0.0 };
        let mut mix = match tier {
            Tier::Enterprise => [w(40.0, 1.0), w(15.0, 0.8), w(10.0, 0.8), w(1.5, 1.0), w(12.0, 1.0), w(22.0, 1.0)],
            Tier::Growth => {
                let custom = if growth_uses_custom { 1.0 } else { 0.0 };
                [w(45.0, 1.0), w(10.0, 0.5), w(8.0, 0.6), custom * w(1.0, 1.0), custom * w(7.0, 1.0), w(30.0, 0.8)]
            }
            Tier::Startup => [w(65.0, 1.0), w(10.0, 0.3), w(8.0, 0.3), 0.0, 0.0, w(25.0, 0.5)],
            Tier::Trial => [w(80.0, 1.0), 0.0, w(5.0, 0.2), 0.0, 0.0, w(20.0, 0.3)],
        };
        let overage_prone = matches!(tier, Tier::Enterprise | Tier::Growth) && rng.random_bool(0.15);
        if overage_prone && mix[REALTIME] == 0.0 {
            mix[REALTIME] = 20.0;
        }
        let normal_coverage = rng.random_range(1.1..1.5);
        let mut coverage = [normal_coverage; 3];
        // Invoiced overage is never netted against later grants, so one
        // spike leaves it outstanding for good: real-time plans get more
        // headroom, except for the under-provisioned accounts.
        coverage[Ct::Realtime.i()] = if overage_prone { rng.random_range(0.6..0.8) } else { normal_coverage + 0.3 };
        let lapse = rng.random_bool(0.25);
        let pack_months = rng.random_range(1.0..2.5);
        let mut p = Profile {
            id,
            name,
            external_ref,
            tier,
            existing,
            signup_day,
            created_at,
            churn_day,
            trial_end,
            converted,
            base,
            growth,
            weekend,
            bursty,
            region,
            mix,
            funding: [Funding::None; 3],
            coverage,
            lapse,
            pack_months,
            discount: match tier {
                Tier::Enterprise => Decimal::new(80, 2),
                Tier::Growth => Decimal::new(92, 2),
                _ => Decimal::ONE,
            },
            overrides: Vec::new(),
            per_event: [0.0; 3],
        };
        p.normalise();
        profiles.push(p);
    }
    // At least one plan customer under-provisioned on invoiced real-time
    // minutes, so the overage views always have someone to show.
    if !profiles.iter().any(|p| p.coverage[Ct::Realtime.i()] < 1.0) {
        if let Some(p) = profiles.iter_mut().rev().find(|p| matches!(p.tier, Tier::Enterprise | Tier::Growth)) {
            p.coverage[Ct::Realtime.i()] = 0.7;
            if p.mix[REALTIME] == 0.0 {
                p.mix[REALTIME] = 0.2;
                p.normalise();
            }
        }
    }
    // Negotiated enterprise rates for the first few enterprise accounts.
    let deals: [&[(usize, i64)]; 3] = [&[(BATCH_EN, 700), (CUSTOM_INFER, 400)], &[(BATCH_EN, 750)], &[(REALTIME, 900)]];
    for (p, deal) in profiles.iter_mut().filter(|p| p.tier == Tier::Enterprise).zip(deals) {
        p.overrides = deal.to_vec();
    }
    Ok(profiles)
}

impl Profile {
    /// Normalises the mix and derives funding and expected credits from it.
    fn normalise(&mut self) {
        let total: f64 = self.mix.iter().sum();
        if total > 0.0 {
            self.mix.iter_mut().for_each(|w| *w /= total);
        }
        self.per_event = [0.0; 3];
        for (spec, w) in PRODUCTS.iter().zip(self.mix) {
            let rate = spec.rate_milli as f64 / 1_000.0;
            self.per_event[spec.ct.i()] += w * spec.mean_quantity() * rate;
        }
        for ct in CTS {
            let used = self.per_event[ct.i()] > 0.0;
            self.funding[ct.i()] = match (used, self.tier, ct) {
                (false, _, _) => Funding::None,
                (true, Tier::Enterprise, _) => Funding::Plan,
                (true, Tier::Growth, Ct::Custom) => Funding::AutoTopup,
                (true, Tier::Growth, _) => Funding::Plan,
                (true, Tier::Startup, _) => Funding::Prepaid,
                (true, Tier::Trial, Ct::Custom) => Funding::None,
                (true, Tier::Trial, _) => Funding::Trial,
            };
        }
    }

    pub(super) fn on_plan(&self) -> bool {
        self.funding.contains(&Funding::Plan)
    }
}
