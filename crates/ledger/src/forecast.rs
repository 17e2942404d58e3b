//! Runway and projected breakage: when will the wallet run dry at its recent
//! rate of use, and how many credits will expire unused before then.
//!
//! # Method
//!
//! **1. Recent burn.** For each product of the wallet's credit type: the
//! credits it burned (`burn` + `overage` entries, gross of reversals, exactly
//! as the [burn series](crate::series) counts them) in the trailing windows
//! `[t - 14 days, t)` and `[t - 30 days, t)`, where `t` is `now` rounded down
//! to the rollup's 15-minute slot; divided by 14 and by 30, and rounded
//! half-even to 6 places: `daily_burn_14d`, `daily_burn_30d`. Days are
//! 24-hour UTC days. Days without usage count as zero: a wallet younger than
//! a window is averaged over the whole window (the estimate errs low until
//! the wallet has a month of history).
//!
//! **2. Rate used.** Each product is projected at the *larger* of its two
//! averages. The 14-day average catches a recent ramp-up; the 30-day one
//! keeps a quiet fortnight (a holiday, an outage) from hiding the usual
//! level. Taking the larger errs on the safe side for both outputs: the
//! runway comes early rather than late (top-up prompts and alerts fire in
//! time), and breakage comes out low rather than high (finance never
//! recognises as breakage credits that usage would have consumed). Both
//! averages are reported, and [`project`] accepts any other rates.
//!
//! **3. Simulation.** Starting from the wallet's balance at `now` (every grant
//! in burn order, with what it holds; pending grants with what they will
//! hold; outstanding overage by product), time runs forward to
//! `now + horizon_days` (default 365, at most 3,660). Each product `p`
//! consumes at a constant rate: by instant `u` it has demanded
//! `C_p(u) = rate_p x (u - now) / 1 day`, rounded down to 6 places (exact at
//! every whole day). Time is cut into segments at every day boundary
//! `now + k days`, every grant's `effective_at` and `expires_at`, and every
//! instant a grant runs dry (the first microsecond at which the exact demand
//! of the products drawing on it covers what it holds), so within a segment
//! no grant starts, ends or empties. In each segment each product (in product-id order) draws
//! `C_p(end) - C_p(start)` from the live grants that admit it, in the credit
//! type's burn order; what no grant covers is unmet demand (future overage).
//! At each instant, in this order:
//! - grants reaching `expires_at` expire: the remainder, less what their
//!   rollover policy carries into a new grant (same rule as the ledger),
//!   is **projected breakage**;
//! - pending grants reaching `effective_at` join;
//! - in `carry_forward` mode, outstanding overage (oldest first) is settled
//!   from the live grants that admit its product, in burn order, as the
//!   ledger would when a grant becomes effective.
//!
//! **Outputs.** `runway_date` is the first instant at which some product
//! with a non-zero rate has no live grant left to draw from, so its usage
//! would be booked as overage (`None` if that does not happen within the
//! horizon). For a wallet without product restrictions this is exactly when
//! `available` reaches zero while demand continues; with restrictions it can
//! come earlier (a product's own credits ran out while another product's
//! remain), and `runway_product` names the product. `projected_breakage` is
//! the total that expires unused at instants in `(now, now + horizon]`, per
//! grant in `expiries`. `projected_points` holds `available` at `now + k days`
//! for `k = 0..=horizon_days`, with the meaning of [`Balance::available`]
//! at that instant (grants expiring at it are gone, grants starting at it
//! count). All amounts are `Credits`; no floating point anywhere.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::amount::Credits;
use crate::balance::{Balance, GrantStatus};
use crate::catalog::{BurnOrder, OverageMode};
use crate::error::{LedgerError, Result};
use crate::grant::{Grant, GrantCategory};
use crate::history::History;
use crate::ids::{CreditTypeId, GrantId, ProductId};
use crate::series::{from_micros, BurnRollup, SLOT_SECONDS};
use crate::wallet::{burn_order_cmp, rollover_grant, WalletState};

pub const DEFAULT_HORIZON_DAYS: u32 = 365;
pub const MAX_HORIZON_DAYS: u32 = 3_660;

const DAY_MICROS: i64 = 86_400_000_000;

/// A product's recent daily burn and the rate the projection uses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProductRate {
    pub product: ProductId,
    pub daily_burn_14d: Credits,
    pub daily_burn_30d: Credits,
    pub rate_used: Credits,
}

/// A grant that the projection expects to expire with credits left.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProjectedExpiry {
    pub grant: GrantId,
    pub category: GrantCategory,
    pub expires_at: DateTime<Utc>,
    /// Expires unused: breakage.
    pub unused: Credits,
    /// Carried into a rollover grant instead (not breakage).
    pub rolled: Credits,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Forecast {
    pub now: DateTime<Utc>,
    pub horizon_days: u32,
    /// The rates projected, by product id ([`recent_burn`]: every product
    /// with usage in the last 30 days).
    pub rates: Vec<ProductRate>,
    /// Sums over `rates`.
    pub daily_burn_14d: Credits,
    pub daily_burn_30d: Credits,
    pub rate_used: Credits,
    /// First instant some product's demand goes unmet, within the horizon.
    pub runway_date: Option<DateTime<Utc>>,
    pub runway_product: Option<ProductId>,
    /// Credits expiring unused within the horizon.
    pub projected_breakage: Credits,
    pub expiries: Vec<ProjectedExpiry>,
    /// Demand no grant covered within the horizon (before any settlement).
    pub unmet_demand: Credits,
    /// `available` at `now + k days`, `k = 0..=horizon_days`.
    pub projected_points: Vec<(DateTime<Utc>, Credits)>,
}

/// Runway and breakage for the wallet of `history` at `now`, from the burn
/// recorded in `rollup` (the customer's; other credit types are ignored).
pub fn forecast(history: &History, rollup: &BurnRollup, now: DateTime<Utc>, horizon_days: u32) -> Result<Forecast> {
    check_horizon(horizon_days)?;
    let state = history.snapshot(now, now)?;
    if rollup.customer() != state.customer() {
        return Err(LedgerError::Invalid { field: "rollup", rule: "belongs to another customer".into() });
    }
    // The balance view knows which pending grants are already voided.
    let balance = history.balance(now, now)?;
    let rates = recent_burn(rollup, &state.credit_type().id, now)?;
    project(&state, &balance, rates, horizon_days)
}

/// Step 1 and 2 of the method: trailing 14- and 30-day daily burn per
/// product of `credit_type`, and the rate used (the larger).
pub fn recent_burn(rollup: &BurnRollup, credit_type: &CreditTypeId, now: DateTime<Utc>) -> Result<Vec<ProductRate>> {
    let end = now.timestamp().div_euclid(SLOT_SECONDS);
    let slots_per_day = 86_400 / SLOT_SECONDS;
    let t14 = rollup.totals_between(end - 14 * slots_per_day, end);
    let t30 = rollup.totals_between(end - 30 * slots_per_day, end);
    let mut rates = Vec::new();
    for (i, key) in rollup.keys().iter().enumerate() {
        let Some(product) = &key.product else { continue };
        if &key.credit_type != credit_type || t30[i].0 == 0 {
            continue;
        }
        let daily_burn_14d = Credits::round_half_even(from_micros(t14[i].0)?.get() / Decimal::from(14));
        let daily_burn_30d = Credits::round_half_even(from_micros(t30[i].0)?.get() / Decimal::from(30));
        rates.push(ProductRate {
            product: product.clone(),
            daily_burn_14d,
            daily_burn_30d,
            rate_used: daily_burn_14d.max(daily_burn_30d),
        });
    }
    rates.sort_by(|a, b| a.product.cmp(&b.product));
    Ok(rates)
}

/// Step 3 of the method: projects `state` (a snapshot at `balance.at`) and
/// `balance` (the balance at the same instant) at the given rates. Callers
/// may pass their own rates for a what-if.
pub fn project(
    state: &WalletState,
    balance: &Balance,
    mut rates: Vec<ProductRate>,
    horizon_days: u32,
) -> Result<Forecast> {
    check_horizon(horizon_days)?;
    if balance.customer != *state.customer() || balance.credit_type != state.credit_type().id {
        return Err(LedgerError::Invalid { field: "balance", rule: "belongs to another wallet".into() });
    }
    rates.sort_by(|a, b| a.product.cmp(&b.product));
    for pair in rates.windows(2) {
        if pair[0].product == pair[1].product {
            return Err(LedgerError::Invalid {
                field: "rates",
                rule: format!("product `{}` appears twice", pair[0].product),
            });
        }
    }
    if rates.iter().any(|r| r.rate_used.is_negative()) {
        return Err(LedgerError::Invalid { field: "rate_used", rule: "must not be negative".into() });
    }

    let now = balance.at;
    let too_far =
        || LedgerError::Invalid { field: "horizon_days", rule: "reaches beyond the supported calendar".into() };
    let end = now.checked_add_signed(TimeDelta::days(i64::from(horizon_days))).ok_or_else(too_far)?;
    let mut sim = Sim::new(state, balance);
    let demanding: Vec<&ProductRate> = rates.iter().filter(|r| r.rate_used.is_positive()).collect();
    // C_p(cur) per demanding product.
    let mut demanded = vec![Credits::ZERO; demanding.len()];
    let mut points = Vec::with_capacity(horizon_days as usize + 1);
    let mut runway: Option<(DateTime<Utc>, ProductId)> = None;
    let mut unmet = Credits::ZERO;
    let mut cur = now;
    let mut day: i64 = 0;
    // Segments end at day boundaries, grant starts and ends (rollover
    // grants included) and grants running dry; this bounds them.
    let max_steps = u64::from(horizon_days) + 8 * (sim.grants.len() as u64 + 1) + 16;
    let mut steps = 0u64;
    loop {
        sim.at_instant(cur);
        let boundary = now + TimeDelta::days(day);
        if cur == boundary {
            points.push((cur, sim.available()));
            day += 1;
        }
        if cur >= end {
            break;
        }
        steps += 1;
        if steps > max_steps {
            return Err(LedgerError::Invalid { field: "rates", rule: "the projection did not converge".into() });
        }

        // Which grant each product draws from now; none means the runway ends here.
        let mut draining: Vec<(usize, Vec<usize>)> = Vec::new();
        for (i, r) in demanding.iter().enumerate() {
            match sim.current(&r.product) {
                Some(g) => match draining.iter_mut().find(|(x, _)| *x == g) {
                    Some((_, ps)) => ps.push(i),
                    None => draining.push((g, vec![i])),
                },
                None => {
                    if runway.is_none() {
                        runway = Some((cur, r.product.clone()));
                    }
                }
            }
        }

        let mut next = (now + TimeDelta::days(day)).min(end);
        if let Some(t) = sim.next_change_after(cur) {
            next = next.min(t);
        }
        // When each draining grant runs dry in the continuous model: the
        // first microsecond by which its products' exact demand covers it.
        let mut dry_at: Vec<Option<DateTime<Utc>>> = Vec::with_capacity(draining.len());
        for (g, ps) in &draining {
            let q = ps.iter().map(|&i| demanding[i].rate_used).sum::<Credits>().get();
            let us = sim.grants[*g]
                .left
                .get()
                .checked_mul(Decimal::from(DAY_MICROS))
                .and_then(|x| x.checked_div(q))
                .and_then(|x| x.ceil().to_i64());
            let t = us.and_then(|us| cur.checked_add_signed(TimeDelta::microseconds(us.max(1))));
            if let Some(t) = t {
                next = next.min(t);
            }
            dry_at.push(t);
        }

        for (i, r) in demanding.iter().enumerate() {
            let upto = cumulative(r.rate_used, now, next)?;
            // A product may be a few micro-credits ahead (see below).
            let need = (upto - demanded[i]).max(Credits::ZERO);
            demanded[i] = demanded[i].max(upto);
            let short = need - sim.draw(&r.product, need);
            if short.is_positive() {
                unmet += short;
                sim.overage.push((r.product.clone(), short));
            }
        }
        // Each product's demand is rounded down on its own, so a grant shared
        // by n products can be up to n micro-credits short of empty at the
        // instant it runs dry. Its first product takes that dust now, ahead of
        // its rounded demand, rather than letting rounding move the runway.
        for ((g, ps), t) in draining.iter().zip(dry_at) {
            let dust = sim.grants[*g].left;
            let bound = Credits::round_half_even(Decimal::new(ps.len() as i64, 6));
            if t == Some(next) && dust.is_positive() && dust <= bound {
                sim.grants[*g].left = Credits::ZERO;
                demanded[ps[0]] += dust;
            }
        }
        cur = next;
    }

    let sum = |f: fn(&ProductRate) -> Credits| rates.iter().map(f).sum::<Credits>();
    Ok(Forecast {
        now,
        horizon_days,
        daily_burn_14d: sum(|r| r.daily_burn_14d),
        daily_burn_30d: sum(|r| r.daily_burn_30d),
        rate_used: sum(|r| r.rate_used),
        runway_date: runway.as_ref().map(|(t, _)| *t),
        runway_product: runway.map(|(_, p)| p),
        projected_breakage: sim.expiries.iter().map(|e| e.unused).sum(),
        expiries: sim.expiries,
        unmet_demand: unmet,
        projected_points: points,
        rates,
    })
}

fn check_horizon(horizon_days: u32) -> Result<()> {
    if !(1..=MAX_HORIZON_DAYS).contains(&horizon_days) {
        return Err(LedgerError::Invalid {
            field: "horizon_days",
            rule: format!("must be between 1 and {MAX_HORIZON_DAYS}"),
        });
    }
    Ok(())
}

/// Whole microseconds of a span inside the horizon (at most 3,660 days).
fn micros(d: TimeDelta) -> i64 {
    d.num_microseconds().unwrap_or(i64::MAX)
}

/// `C(u) = rate x (u - now) / 1 day`, rounded down to 6 places. Whole days
/// are multiplied separately so that the division only sees the remainder.
fn cumulative(rate: Credits, now: DateTime<Utc>, u: DateTime<Utc>) -> Result<Credits> {
    let us = micros(u - now);
    let (days, rest) = (us.div_euclid(DAY_MICROS), us.rem_euclid(DAY_MICROS));
    let r = rate.get();
    r.checked_mul(Decimal::from(days))
        .zip(r.checked_mul(Decimal::from(rest)).and_then(|x| x.checked_div(Decimal::from(DAY_MICROS))))
        .and_then(|(whole, part)| whole.checked_add(part))
        .map(Credits::round_down)
        .ok_or_else(|| LedgerError::Invalid { field: "rate_used", rule: "is too large to project".into() })
}

/// A grant in the projection.
struct SimGrant {
    grant: Arc<Grant>,
    left: Credits,
    /// Effective (pending grants join at `effective_at`).
    joined: bool,
    /// Expired.
    gone: bool,
}

impl SimGrant {
    fn live(&self) -> bool {
        self.joined && !self.gone
    }
}

struct Sim {
    order: BurnOrder,
    mode: OverageMode,
    /// In burn order.
    grants: Vec<SimGrant>,
    /// Outstanding overage, oldest first.
    overage: Vec<(ProductId, Credits)>,
    expiries: Vec<ProjectedExpiry>,
}

impl Sim {
    fn new(state: &WalletState, balance: &Balance) -> Sim {
        let grants = balance
            .grants
            .iter()
            .filter(|g| g.remaining.is_positive())
            .filter_map(|g| match g.status {
                GrantStatus::Active => {
                    Some(SimGrant { grant: g.grant.clone(), left: g.remaining, joined: true, gone: false })
                }
                GrantStatus::Pending => {
                    Some(SimGrant { grant: g.grant.clone(), left: g.remaining, joined: false, gone: false })
                }
                GrantStatus::Expired | GrantStatus::Voided => None,
            })
            .collect();
        let overage = state
            .overage_items()
            .iter()
            .filter(|o| o.outstanding().is_positive())
            .map(|o| (o.product.clone(), o.outstanding()))
            .collect();
        Sim {
            order: state.credit_type().burn_order.clone(),
            mode: state.overage_mode(),
            grants,
            overage,
            expiries: Vec::new(),
        }
    }

    /// Expiries, then activations, then settlement, at instant `t`.
    fn at_instant(&mut self, t: DateTime<Utc>) {
        let mut joined = false;
        let mut children = Vec::new();
        for g in self.grants.iter_mut().filter(|g| g.live() && g.grant.is_expired_at(t)) {
            g.gone = true;
            let unused = g.left.max(Credits::ZERO);
            g.left = Credits::ZERO;
            let policy = g.grant.rollover;
            let rolled = policy.map_or(Credits::ZERO, |p| p.rolled_amount(unused));
            if unused.is_positive() {
                self.expiries.push(ProjectedExpiry {
                    grant: g.grant.id.clone(),
                    category: g.grant.category,
                    expires_at: g.grant.expires_at.unwrap_or(t),
                    unused: unused - rolled,
                    rolled,
                });
            }
            if let (Some(policy), true) = (policy, rolled.is_positive()) {
                children.push(rollover_grant(&g.grant, policy, rolled, t, 0));
            }
        }
        for child in children {
            let pos = self.grants.partition_point(|g| burn_order_cmp(&self.order, &g.grant, &child).is_lt());
            let left = child.amount;
            self.grants.insert(pos, SimGrant { grant: Arc::new(child), left, joined: true, gone: false });
            joined = true;
        }
        for g in self.grants.iter_mut().filter(|g| !g.joined && g.grant.effective_at <= t) {
            g.joined = true;
            joined = true;
        }
        if joined && self.mode == OverageMode::CarryForward && !self.overage.is_empty() {
            let mut overage = std::mem::take(&mut self.overage);
            for (product, owed) in &mut overage {
                *owed -= self.draw(product, *owed);
            }
            overage.retain(|(_, owed)| owed.is_positive());
            self.overage = overage;
        }
    }

    /// The next instant after `t` at which a grant starts or ends.
    fn next_change_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.grants
            .iter()
            .filter_map(|g| match (g.joined, g.gone) {
                (false, _) => Some(g.grant.effective_at),
                (true, false) => g.grant.expires_at,
                (true, true) => None,
            })
            .filter(|&x| x > t)
            .min()
    }

    /// The grant `product` draws from first, if any has credits.
    fn current(&self, product: &ProductId) -> Option<usize> {
        self.grants.iter().position(|g| g.live() && g.left.is_positive() && g.grant.admits(product))
    }

    /// Takes up to `need` for `product` in burn order; returns what it got.
    fn draw(&mut self, product: &ProductId, need: Credits) -> Credits {
        let mut got = Credits::ZERO;
        for g in self.grants.iter_mut().filter(|g| g.live() && g.grant.admits(product)) {
            if got >= need {
                break;
            }
            let take = g.left.min(need - got);
            if take.is_positive() {
                g.left -= take;
                got += take;
            }
        }
        got
    }

    fn available(&self) -> Credits {
        self.grants.iter().filter(|g| g.live()).map(|g| g.left).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use chrono::TimeZone;
    use rust_decimal_macros::dec;
    use serde_json::Map;

    use crate::amount::{Currency, Money};
    use crate::catalog::{Catalog, CreditType, Product, RateCard};
    use crate::clock::ManualClock;
    use crate::engine::{IngestMode, IngestResult, Ledger};
    use crate::entry::Attribution;
    use crate::event::UsageEvent;
    use crate::grant::{GrantSource, NewGrant, RolloverPolicy};
    use crate::ids::{ActorId, CustomerId, EventId, ReasonCode};

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    /// Every forecast below is made at this instant.
    fn now() -> DateTime<Utc> {
        utc(2026, 4, 1, 0, 0)
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

    /// A wallet whose March usage is `(product, per day Mar 2-17, per day
    /// Mar 18-31)`, one event at noon each day, all covered by a `past`
    /// grant that it uses up exactly.
    fn wallet(mode: OverageMode, usage: &[(&str, Decimal, Decimal)]) -> Ledger {
        let mut catalog = Catalog::new();
        let money = Money { amount: dec!(0.01), currency: Currency::USD };
        catalog
            .add_credit_type(CreditType::new(ct(), "Credits", "credits", money, BurnOrder::standard(), mode).unwrap())
            .unwrap();
        for p in ["api", "batch"] {
            let rate_card = RateCard::flat(utc(2020, 1, 1, 0, 0), dec!(1)).unwrap();
            catalog.add_product(Product { id: pid(p), name: p.into(), credit_type: ct(), rate_card }).unwrap();
        }
        let mut l = Ledger::new(catalog, Arc::new(ManualClock::new(now())));
        let total: Decimal = usage.iter().map(|(_, a, b)| a * dec!(16) + b * dec!(14)).sum();
        if total > Decimal::ZERO {
            add(&mut l, G { effective: utc(2026, 3, 1, 0, 0), ..g("past", total) });
        }
        for (product, a, b) in usage {
            for day in 2..=31 {
                let q = if day <= 17 { *a } else { *b };
                use_(&mut l, &format!("{product}-{day}"), product, q, utc(2026, 3, day, 12, 0));
            }
        }
        l
    }

    fn use_(l: &mut Ledger, id: &str, product: &str, quantity: Decimal, at: DateTime<Utc>) {
        let event = UsageEvent {
            id: EventId::new(id).unwrap(),
            customer: cust(),
            product: pid(product),
            quantity,
            timestamp: at,
            properties: Map::new(),
        };
        let r = l.ingest(event, IngestMode::Backfill, &ActorId::new("tester").unwrap());
        assert!(matches!(r, IngestResult::Accepted { .. }), "{r:?}");
    }

    struct G {
        id: &'static str,
        amount: Decimal,
        effective: DateTime<Utc>,
        expires: Option<DateTime<Utc>>,
        priority: Option<u8>,
        products: Option<Vec<ProductId>>,
        category: GrantCategory,
        rollover: Option<crate::grant::RolloverPolicy>,
    }

    /// A paid, unrestricted grant effective now that never expires.
    fn g(id: &'static str, amount: Decimal) -> G {
        G {
            id,
            amount,
            effective: now(),
            expires: None,
            priority: None,
            products: None,
            category: GrantCategory::Paid,
            rollover: None,
        }
    }

    fn add(l: &mut Ledger, g: G) {
        l.grant(NewGrant {
            priority: g.priority,
            expires_at: g.expires,
            products: g.products,
            rollover: g.rollover,
            ..NewGrant::new(
                GrantId::new(g.id).unwrap(),
                cust(),
                ct(),
                g.amount,
                g.category,
                GrantSource::Purchase,
                g.effective,
                ReasonCode::new("purchase").unwrap(),
                ActorId::new("tester").unwrap(),
            )
        })
        .unwrap();
    }

    fn run(l: &Ledger, horizon_days: u32) -> Forecast {
        let history = l.history(&cust(), &ct()).unwrap();
        let rollup = BurnRollup::from_entries(cust(), history.entries());
        forecast(history, &rollup, now(), horizon_days).unwrap()
    }

    fn point(f: &Forecast, day: i64) -> Credits {
        let (at, available) = f.projected_points[day as usize];
        assert_eq!(at, now() + TimeDelta::days(day));
        available
    }

    /// api burns 5/day, then 20/day over the last fortnight: 20/day is used.
    const API_RAMP: (&str, Decimal, Decimal) = ("api", dec!(5), dec!(20));

    #[test]
    fn the_rate_is_the_larger_of_the_14_and_30_day_averages() {
        // batch was busy, then quiet: 20/day, then 6/day.
        let mut l = wallet(OverageMode::CarryForward, &[API_RAMP, ("batch", dec!(20), dec!(6))]);
        // Before the 30-day window: not counted.
        add(&mut l, G { effective: utc(2026, 2, 1, 0, 0), ..g("old", dec!(50)) });
        use_(&mut l, "old-use", "api", dec!(50), utc(2026, 3, 1, 23, 45));
        let f = run(&l, 10);
        assert_eq!(
            f.rates,
            vec![
                // 14 x 20 / 14; (16 x 5 + 14 x 20) / 30 = 360 / 30.
                ProductRate {
                    product: pid("api"),
                    daily_burn_14d: cr("20"),
                    daily_burn_30d: cr("12"),
                    rate_used: cr("20")
                },
                // 14 x 6 / 14; (16 x 20 + 14 x 6) / 30 = 404 / 30 = 13.4666...
                ProductRate {
                    product: pid("batch"),
                    daily_burn_14d: cr("6"),
                    daily_burn_30d: cr("13.466667"),
                    rate_used: cr("13.466667"),
                },
            ]
        );
        assert_eq!((f.daily_burn_14d, f.daily_burn_30d, f.rate_used), (cr("26"), cr("25.466667"), cr("33.466667")));
        // Nothing left to draw from: the runway is over already.
        assert_eq!(f.runway_date, Some(now()));
        assert_eq!(f.runway_product, Some(pid("api")));
        assert_eq!(f.projected_points.len(), 11);
        assert!(f.projected_points.iter().all(|(_, a)| a.is_zero()));
        // 10 days x 33.466667, each product rounded down at whole days.
        assert_eq!(f.unmet_demand, cr("334.66667"));
    }

    #[test]
    fn an_expiry_before_zero_brings_the_runway_forward() {
        let mut l = wallet(OverageMode::CarryForward, &[API_RAMP]);
        // B burns first (priority 1) and lasts 5 days; A then burns 20/day
        // until it expires on Apr 11 with 100 left.
        add(&mut l, G { priority: Some(1), ..g("B", dec!(100)) });
        add(&mut l, G { expires: Some(utc(2026, 4, 11, 0, 0)), ..g("A", dec!(200)) });
        let f = run(&l, 30);
        assert_eq!(f.rate_used, cr("20"));
        assert_eq!(f.runway_date, Some(utc(2026, 4, 11, 0, 0)), "not Apr 16: A's last 100 expire first");
        assert_eq!(f.runway_product, Some(pid("api")));
        assert_eq!(f.projected_breakage, cr("100"));
        assert_eq!(
            f.expiries,
            vec![ProjectedExpiry {
                grant: GrantId::new("A").unwrap(),
                category: GrantCategory::Paid,
                expires_at: utc(2026, 4, 11, 0, 0),
                unused: cr("100"),
                rolled: Credits::ZERO,
            }]
        );
        let balance = l.balance(&cust(), &ct(), Some(now()), Some(now())).unwrap();
        assert_eq!(point(&f, 0), balance.available);
        let expected = ["300", "280", "260", "240", "220", "200", "180", "160", "140", "120", "0", "0"];
        for (day, want) in expected.iter().enumerate() {
            assert_eq!(point(&f, day as i64), cr(want), "day {day}");
        }
        assert_eq!(point(&f, 30), Credits::ZERO);
        assert_eq!(f.unmet_demand, cr("400"), "Apr 11 to May 1 at 20/day");
    }

    #[test]
    fn a_promotional_grant_that_cannot_be_used_up_is_breakage() {
        let mut l = wallet(OverageMode::CarryForward, &[API_RAMP]);
        // Promo expires first, so it burns first: 10 days x 20 = 200 of 500.
        let promo =
            G { expires: Some(utc(2026, 4, 11, 0, 0)), category: GrantCategory::Promotional, ..g("promo", dec!(500)) };
        add(&mut l, promo);
        add(&mut l, g("paid", dec!(1000)));
        let f = run(&l, DEFAULT_HORIZON_DAYS);
        assert_eq!(f.projected_breakage, cr("300"));
        assert_eq!(f.expiries.len(), 1);
        assert_eq!((f.expiries[0].category, f.expiries[0].unused), (GrantCategory::Promotional, cr("300")));
        assert_eq!(point(&f, 10), cr("1000"));
        // Then 1000 / 20 = 50 days of paid credits.
        assert_eq!(f.runway_date, Some(utc(2026, 5, 31, 0, 0)));
        assert_eq!(f.projected_points.len(), 366);
    }

    #[test]
    fn a_pending_grant_extends_the_runway() {
        let mut l = wallet(OverageMode::CarryForward, &[API_RAMP]);
        add(&mut l, g("now", dec!(100)));
        add(&mut l, G { effective: utc(2026, 4, 4, 0, 0), ..g("later", dec!(200)) });
        let f = run(&l, 30);
        // (100 + 200) / 20 = 15 days, not 5.
        assert_eq!(f.runway_date, Some(utc(2026, 4, 16, 0, 0)));
        assert_eq!(
            (point(&f, 0), point(&f, 2), point(&f, 3), point(&f, 14), point(&f, 15)),
            (cr("100"), cr("60"), cr("240"), cr("20"), cr("0"))
        );
        assert_eq!(f.projected_breakage, Credits::ZERO);
    }

    #[test]
    fn a_voided_pending_grant_does_not_extend_the_runway() {
        let mut l = wallet(OverageMode::CarryForward, &[API_RAMP]);
        add(&mut l, g("now", dec!(100)));
        add(&mut l, G { effective: utc(2026, 4, 4, 0, 0), ..g("later", dec!(200)) });
        l.void(&GrantId::new("later").unwrap(), Attribution::system()).unwrap();
        let f = run(&l, 30);
        assert_eq!(f.runway_date, Some(utc(2026, 4, 6, 0, 0)));
    }

    #[test]
    fn overage_before_a_pending_grant_is_settled_from_it_first() {
        let mut l = wallet(OverageMode::CarryForward, &[API_RAMP]);
        add(&mut l, g("now", dec!(100)));
        add(&mut l, G { effective: utc(2026, 4, 11, 0, 0), ..g("later", dec!(200)) });
        let f = run(&l, 20);
        // Dry from Apr 6; on Apr 11 the 200 first pay the 100 of overage.
        assert_eq!(f.runway_date, Some(utc(2026, 4, 6, 0, 0)));
        assert_eq!(
            (point(&f, 5), point(&f, 10), point(&f, 11), point(&f, 15)),
            (cr("0"), cr("100"), cr("80"), cr("0"))
        );
        assert_eq!(f.unmet_demand, cr("200"), "Apr 6-11 and Apr 16-21");

        // Invoice mode: overage is billed, never settled from grants.
        let mut l = wallet(OverageMode::Invoice, &[API_RAMP]);
        add(&mut l, g("now", dec!(100)));
        add(&mut l, G { effective: utc(2026, 4, 11, 0, 0), ..g("later", dec!(200)) });
        let f = run(&l, 20);
        assert_eq!(f.runway_date, Some(utc(2026, 4, 6, 0, 0)));
        assert_eq!((point(&f, 10), point(&f, 15), point(&f, 20)), (cr("200"), cr("100"), cr("0")));
        assert_eq!(f.unmet_demand, cr("100"));
    }

    #[test]
    fn restricted_grants_serve_only_their_product() {
        // batch: 10/day throughout.
        let mut l = wallet(OverageMode::CarryForward, &[API_RAMP, ("batch", dec!(10), dec!(10))]);
        add(&mut l, G { products: Some(vec![pid("batch")]), ..g("batch-only", dec!(1000)) });
        add(&mut l, g("shared", dec!(100)));
        let f = run(&l, 30);
        assert_eq!(f.rates.iter().map(|r| r.rate_used).collect::<Vec<_>>(), vec![cr("20"), cr("10")]);
        // batch draws its own grant first (restricted before unrestricted),
        // so api alone empties `shared` in 100 / 20 = 5 days.
        assert_eq!(f.runway_date, Some(utc(2026, 4, 6, 0, 0)));
        assert_eq!(f.runway_product, Some(pid("api")));
        assert_eq!(point(&f, 5), cr("950"), "available, but only to batch");
        assert_eq!(point(&f, 30), cr("700"));
        assert_eq!(f.unmet_demand, cr("500"), "api, Apr 6 to May 1");
    }

    #[test]
    fn an_expiry_inside_a_day_is_prorated() {
        let mut l = wallet(OverageMode::CarryForward, &[API_RAMP]);
        let promo =
            G { expires: Some(utc(2026, 4, 3, 12, 0)), category: GrantCategory::Promotional, ..g("promo", dec!(100)) };
        add(&mut l, promo);
        add(&mut l, g("paid", dec!(1000)));
        let f = run(&l, 60);
        // 2.5 days x 20 = 50 used, 50 expire.
        assert_eq!(f.projected_breakage, cr("50"));
        assert_eq!((point(&f, 2), point(&f, 3)), (cr("1060"), cr("990")));
        assert_eq!(f.runway_date, Some(utc(2026, 5, 23, 12, 0)));
    }

    #[test]
    fn a_rollover_carries_part_of_the_remainder() {
        let mut l = wallet(OverageMode::CarryForward, &[API_RAMP]);
        let policy = RolloverPolicy::new(dec!(0.5), None, TimeDelta::days(10)).unwrap();
        add(&mut l, G { expires: Some(utc(2026, 4, 4, 0, 0)), rollover: Some(policy), ..g("monthly", dec!(100)) });
        let f = run(&l, 30);
        // 60 used by Apr 4; of the 40 left, 20 roll over and 20 expire.
        assert_eq!(f.projected_breakage, cr("20"));
        assert_eq!((f.expiries[0].unused, f.expiries[0].rolled), (cr("20"), cr("20")));
        assert_eq!((point(&f, 3), point(&f, 4)), (cr("20"), cr("0")));
        assert_eq!(f.runway_date, Some(utc(2026, 4, 5, 0, 0)));
    }

    #[test]
    fn several_products_drain_a_shared_grant_together() {
        // 20/day + 10/day from 100: dry after 100 / 30 days = 3 d 8 h.
        let mut l = wallet(OverageMode::CarryForward, &[API_RAMP, ("batch", dec!(10), dec!(10))]);
        add(&mut l, g("shared", dec!(100)));
        let f = run(&l, 10);
        assert_eq!(f.runway_date, Some(utc(2026, 4, 4, 8, 0)));
        assert_eq!(point(&f, 3), cr("10"));
    }

    #[test]
    fn inputs_are_validated() {
        let mut l = wallet(OverageMode::CarryForward, &[API_RAMP]);
        add(&mut l, g("now", dec!(100)));
        let history = l.history(&cust(), &ct()).unwrap();
        let rollup = BurnRollup::from_entries(cust(), history.entries());
        let field = |r: Result<Forecast>| match r {
            Err(LedgerError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(forecast(history, &rollup, now(), 0)), "horizon_days");
        assert_eq!(field(forecast(history, &rollup, now(), MAX_HORIZON_DAYS + 1)), "horizon_days");
        assert!(forecast(history, &rollup, now(), MAX_HORIZON_DAYS).is_ok());
        let other = BurnRollup::new(CustomerId::new("other").unwrap());
        assert_eq!(field(forecast(history, &other, now(), 30)), "rollup");

        let state = history.snapshot(now(), now()).unwrap();
        let balance = history.balance(now(), now()).unwrap();
        let rate = |r: &str| ProductRate {
            product: pid("api"),
            daily_burn_14d: Credits::ZERO,
            daily_burn_30d: Credits::ZERO,
            rate_used: cr(r),
        };
        assert_eq!(field(project(&state, &balance, vec![rate("-1")], 30)), "rate_used");
        assert_eq!(field(project(&state, &balance, vec![rate("1"), rate("2")], 30)), "rates");
        // A what-if at a given rate: 100 / 40 = 2.5 days.
        let f = project(&state, &balance, vec![rate("40")], 30).unwrap();
        assert_eq!(f.runway_date, Some(utc(2026, 4, 3, 12, 0)));
    }
}
