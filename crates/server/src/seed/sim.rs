//! The simulation: walks the store's clock through the period day by day
//! and sends the day's sweeps, grants, voids, disputes and usage through the
//! store, in a fixed order.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use creditdesk_api::Role;
use creditdesk_ledger::catalog::{CreditType, OverageMode, Product, RateCard, RateVersion};
use creditdesk_ledger::clock::ManualClock;
use creditdesk_ledger::engine::{IngestMode, IngestResult};
use creditdesk_ledger::entry::Attribution;
use creditdesk_ledger::event::UsageEvent;
use creditdesk_ledger::grant::{GrantCategory, GrantSource, NewGrant, RolloverPolicy};
use creditdesk_ledger::ids::{ActorId, ContractId, CreditTypeId, EventId, GrantId, ProductId, ReasonCode};
use creditdesk_ledger::{Currency, Money};
use creditdesk_store::{AdminOp, Customer, SqliteStore, User};
use futures_util::future::join_all;
use rand::Rng;
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use crate::auth::{hash_token, new_token};

use super::catalog::{Ct, BATCH_EN, BATCH_EN_NEW_RATE_MILLI, BATCH_MULTI, CTS, CUSTOM_TRAIN, DIARIZATION, PRODUCTS};
use super::customers::{Funding, Tier, BURST_MAX, BURST_MIN, BURST_P, HOUR_WEIGHTS, REGIONS};
use super::numbers::{decimal_f64, hundredths, lognormal, money, nice, pick, poisson, rng_for};
use super::plan::{Campaign, Plan, TAG_CAMPAIGN, TAG_DISPUTE, TAG_EVENTS, TAG_GOODWILL, TAG_OPENING, TAG_OUTAGE};
use super::{store_err, SeedError, SeedPhase, SeedProgress, SeedUser, ADMIN_USER, OTHER_USERS};

/// Usage events per ingest call (the API's batch limit).
const BATCH_SIZE: usize = 1_000;
/// Ingest batches in flight at once: they queue in the writer and commit
/// together (group commit); a day's usage is rarely more than 8,000 events.
const IN_FLIGHT_BATCHES: usize = 8;
/// Other writes in flight at once. Below `join_all`'s small-set threshold
/// (30), so the futures are first polled, and their commands queued, in
/// order: the ledger sees the same sequence on every run.
const IN_FLIGHT_WRITES: usize = 16;
/// Plan allotments are issued this long before their month starts, so
/// "pending" grants show near month ends.
const PLAN_LEAD: TimeDelta = TimeDelta::days(3);
/// Daily chance of an ad-hoc goodwill grant per paying customer.
const GOODWILL_P: f64 = 0.6 / 365.0;

const GOODWILL_REASONS: [(&str, &str); 4] = [
    ("transcription_quality", "Poor accuracy on noisy call-centre audio; credited while the model is retrained"),
    ("billing_error", "Pack charged at the old list price; difference credited"),
    ("latency_incident", "Real-time latency above SLA for several hours"),
    ("customer_retention", "Renewal negotiation: one-off goodwill credits"),
];

const DISPUTE_REASONS: [(&str, &str); 3] = [
    ("duplicate_usage", "Client retried uploads after a timeout; the same files were transcribed twice"),
    ("test_traffic", "A staging key hit the production endpoint during a load test"),
    ("quality_issue", "Wrong language detected; transcripts unusable and re-run"),
];

/// A generated event with the customer and credit type it belongs to.
struct Gen {
    event: UsageEvent,
    c: usize,
    ct: usize,
}

/// A rough model of a prepaid wallet (lots by expiry, minus usage), only
/// to decide when a customer buys more; the ledger keeps the real books.
struct Tracker {
    lots: Vec<(Option<DateTime<Utc>>, Decimal)>,
    deficit: Decimal,
    /// Carry-forward: a new grant first pays the deficit; invoice: the
    /// deficit is billed separately and forgotten.
    settles: bool,
}

impl Tracker {
    fn new(ct: Ct) -> Tracker {
        Tracker { lots: Vec::new(), deficit: Decimal::ZERO, settles: ct.overage_mode() == OverageMode::CarryForward }
    }

    fn add(&mut self, amount: Decimal, expires: Option<DateTime<Utc>>) {
        let paid = if self.settles { amount.min(self.deficit) } else { self.deficit };
        self.deficit -= paid;
        let left = if self.settles { amount - paid } else { amount };
        if left > Decimal::ZERO {
            self.lots.push((expires, left));
            self.lots.sort_by_key(|(e, _)| e.unwrap_or(DateTime::<Utc>::MAX_UTC));
        }
    }

    fn expire(&mut self, t: DateTime<Utc>) {
        self.lots.retain(|(e, _)| e.is_none_or(|e| e > t));
    }

    fn consume(&mut self, credits: Decimal, t: DateTime<Utc>) {
        self.expire(t);
        let mut need = credits;
        for lot in &mut self.lots {
            let take = lot.1.min(need);
            lot.1 -= take;
            need -= take;
            if need.is_zero() {
                break;
            }
        }
        self.lots.retain(|l| l.1 > Decimal::ZERO);
        self.deficit += need;
    }

    fn balance(&mut self, t: DateTime<Utc>) -> Decimal {
        self.expire(t);
        self.lots.iter().map(|l| l.1).sum::<Decimal>() - self.deficit
    }
}

/// Ids and actors used on every write, validated once.
struct Ids {
    credit_types: [CreditTypeId; 3],
    products: Vec<ProductId>,
    billing: ActorId,
    migration: ActorId,
    signup: ActorId,
    marketing: ActorId,
    ingest: ActorId,
    admin: ActorId,
    agent: ActorId,
    lead: ActorId,
    finance: ActorId,
}

impl Ids {
    fn new() -> Result<Ids, SeedError> {
        Ok(Ids {
            credit_types: [
                CreditTypeId::new(Ct::Batch.id())?,
                CreditTypeId::new(Ct::Custom.id())?,
                CreditTypeId::new(Ct::Realtime.id())?,
            ],
            products: PRODUCTS.iter().map(|p| ProductId::new(p.id)).collect::<Result<_, _>>()?,
            billing: ActorId::new("system:billing")?,
            migration: ActorId::new("system:migration")?,
            signup: ActorId::new("system:signup")?,
            marketing: ActorId::new("system:marketing")?,
            ingest: ActorId::new("system:usage-pipeline")?,
            admin: ActorId::new(ADMIN_USER)?,
            agent: ActorId::new(OTHER_USERS[0].0)?,
            lead: ActorId::new(OTHER_USERS[1].0)?,
            finance: ActorId::new(OTHER_USERS[2].0)?,
        })
    }
}

pub(super) struct Sim<'a> {
    store: &'a SqliteStore,
    clock: &'a ManualClock,
    plan: Plan,
    ids: Ids,
    trackers: Vec<[Tracker; 3]>,
    /// Per customer: the next month index whose allotment is not issued.
    next_month: Vec<Option<usize>>,
    /// (customer, credit type) -> (allotment, month index it was set).
    levels: HashMap<(usize, usize), (Decimal, usize)>,
    /// Plan grants issued per customer, with their expiry (for churn voids).
    plan_grants: Vec<Vec<(GrantId, DateTime<Utc>)>>,
    purchases: Vec<u32>,
    goodwill: Vec<u32>,
    voids_due: BTreeMap<u32, Vec<(GrantId, Attribution)>>,
    reversed: HashSet<EventId>,
    next_ticket: u32,
    events: u64,
}

impl<'a> Sim<'a> {
    pub(super) fn new(store: &'a SqliteStore, clock: &'a ManualClock, plan: Plan) -> Result<Sim<'a>, SeedError> {
        let n = plan.profiles.len();
        Ok(Sim {
            store,
            clock,
            ids: Ids::new()?,
            trackers: (0..n).map(|_| CTS.map(Tracker::new)).collect(),
            next_month: vec![None; n],
            levels: HashMap::new(),
            plan_grants: vec![Vec::new(); n],
            purchases: vec![0; n],
            goodwill: vec![0; n],
            voids_due: BTreeMap::new(),
            reversed: HashSet::new(),
            next_ticket: 4_100,
            events: 0,
            plan,
        })
    }

    /// Moves the store's clock (never past the end of the period).
    fn at(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        let t = t.min(self.plan.end);
        self.clock.set(t);
        t
    }

    fn ticket(&mut self, prefix: &str) -> String {
        self.next_ticket += 1;
        format!("{prefix}-{}", self.next_ticket)
    }

    pub(super) async fn run<F: Fn(SeedProgress)>(mut self, progress: &F) -> Result<Vec<SeedUser>, SeedError> {
        let days = self.plan.opts.days;
        let report = |phase, percent, day, events| progress(SeedProgress { phase, percent, day, days, events });
        report(SeedPhase::Catalog, 1, 0, 0);
        self.setup().await?;
        let mut last = 2;
        report(SeedPhase::Usage, last, 0, 0);
        for d in 0..days {
            self.day(d).await?;
            let percent = u8::try_from(3 + u64::from(d + 1) * 95 / u64::from(days)).unwrap_or(98);
            if percent != last {
                last = percent;
                report(SeedPhase::Usage, percent, d + 1, self.events);
            }
        }
        report(SeedPhase::Finishing, 99, days, self.events);
        self.at(self.plan.end);
        self.store.sweep().await.map_err(store_err("sweeping at the end"))?;
        self.create_users().await
    }

    /// The catalog and the customers who predate the period, at its start.
    async fn setup(&mut self) -> Result<(), SeedError> {
        let start = self.at(self.plan.start);
        let mut ops = Vec::new();
        for ct in CTS {
            let price = Money { amount: ct.unit_price(), currency: Currency::USD };
            ops.push(AdminOp::CreditType(CreditType::new(
                self.ids.credit_types[ct.i()].clone(),
                ct.name(),
                ct.unit_label(),
                price,
                ct.burn_order()?,
                ct.overage_mode(),
            )?));
        }
        self.admin_all(ops, "creating the credit types").await?;
        // Products only after their credit types are committed: the writer
        // checks against the catalog it reloads after each commit.
        let mut ops = Vec::new();
        for (spec, id) in PRODUCTS.iter().zip(&self.ids.products) {
            let product = Product {
                id: id.clone(),
                name: spec.name.into(),
                credit_type: self.ids.credit_types[spec.ct.i()].clone(),
                rate_card: RateCard::flat(start, spec.rate())?,
            };
            ops.push(AdminOp::Product { product, by: self.ids.admin.clone() });
        }
        self.admin_all(ops, "creating the products").await?;
        let mut ops = Vec::new();
        for c in 0..self.plan.profiles.len() {
            if self.plan.profiles[c].existing {
                ops.push(AdminOp::Customer(self.customer(c)));
                ops.extend(self.override_ops(c, start));
            }
        }
        self.admin_all(ops, "creating the customers").await
    }

    fn customer(&self, c: usize) -> Customer {
        let p = &self.plan.profiles[c];
        Customer {
            id: p.id.clone(),
            name: p.name.clone(),
            external_ref: Some(p.external_ref.clone()),
            created_at: p.created_at,
        }
    }

    fn override_ops(&self, c: usize, from: DateTime<Utc>) -> Vec<AdminOp> {
        let p = &self.plan.profiles[c];
        p.overrides
            .iter()
            .map(|&(product, milli)| AdminOp::RateVersion {
                product: self.ids.products[product].clone(),
                customer: Some(p.id.clone()),
                version: RateVersion { effective_from: from, credits_per_unit: Decimal::new(milli, 3) },
                by: self.ids.admin.clone(),
            })
            .collect()
    }

    async fn admin_all(&self, ops: Vec<AdminOp>, what: &str) -> Result<(), SeedError> {
        let store = self.store;
        let mut rest = ops.into_iter().peekable();
        while rest.peek().is_some() {
            let chunk: Vec<AdminOp> = rest.by_ref().take(IN_FLIGHT_WRITES).collect();
            for r in join_all(chunk.into_iter().map(|op| store.admin(op))).await {
                r.map_err(store_err(what))?;
            }
        }
        Ok(())
    }

    async fn grant_all(&self, grants: Vec<NewGrant>) -> Result<(), SeedError> {
        let store = self.store;
        let mut rest = grants.into_iter().peekable();
        while rest.peek().is_some() {
            let chunk: Vec<NewGrant> = rest.by_ref().take(IN_FLIGHT_WRITES).collect();
            let ids: Vec<String> = chunk.iter().map(|g| g.id.to_string()).collect();
            for (id, r) in ids.into_iter().zip(join_all(chunk.into_iter().map(|g| store.grant(g))).await) {
                r.map_err(store_err(format!("granting {id}")))?;
            }
        }
        Ok(())
    }

    /// Ingests events in batches of up to 1,000, a few in flight, in
    /// order; feeds the ratings back into the purchase trackers.
    async fn ingest(&mut self, events: Vec<Gen>) -> Result<(), SeedError> {
        let store = self.store;
        let mut rest = events.into_iter().peekable();
        while rest.peek().is_some() {
            let mut metas = Vec::with_capacity(IN_FLIGHT_BATCHES);
            let mut calls = Vec::with_capacity(IN_FLIGHT_BATCHES);
            for _ in 0..IN_FLIGHT_BATCHES {
                let batch: Vec<Gen> = rest.by_ref().take(BATCH_SIZE).collect();
                if batch.is_empty() {
                    break;
                }
                let meta: Vec<(usize, usize, DateTime<Utc>, EventId)> =
                    batch.iter().map(|g| (g.c, g.ct, g.event.timestamp, g.event.id.clone())).collect();
                metas.push(meta);
                let events = batch.into_iter().map(|g| g.event).collect();
                calls.push(store.ingest(events, IngestMode::Backfill, self.ids.ingest.clone()));
            }
            for (meta, result) in metas.into_iter().zip(join_all(calls).await) {
                let results = result.map_err(store_err("ingesting usage"))?;
                for ((c, ct, t, id), r) in meta.into_iter().zip(results) {
                    match r {
                        IngestResult::Accepted { rating, .. } => {
                            self.trackers[c][ct].consume(rating.credits.get(), t);
                            self.events += 1;
                        }
                        other => {
                            return Err(SeedError::EventNotAccepted {
                                event: id.to_string(),
                                detail: format!("{other:?}"),
                            })
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// One simulated day: sweep and plan allotments just after midnight, the
    /// day's manual work (sign-ups, purchases, promotions, goodwill, voids,
    /// disputes) at noon, and the day's usage at its end, in one group
    /// commit (the store's cost is mostly per commit).
    async fn day(&mut self, d: u32) -> Result<(), SeedError> {
        let t0 = self.plan.day_start(i64::from(d));
        let now = self.at(t0 + TimeDelta::minutes(1));
        self.store.sweep().await.map_err(store_err("sweeping"))?;
        let n = self.plan.profiles.len();
        let mut grants = Vec::new();
        for c in 0..n {
            let (existing, on_plan) = (self.plan.profiles[c].existing, self.plan.profiles[c].on_plan());
            if d == 0 && existing {
                self.opening_grants(c, &mut grants)?;
            }
            if on_plan && (self.next_month[c].is_some() || (d == 0 && existing)) {
                self.issue_plans(c, now, &mut grants)?;
            }
        }
        self.grant_all(grants).await?;

        self.midday(d, t0 + TimeDelta::hours(12)).await?;

        let mut events = Vec::new();
        for c in 0..n {
            events.extend(self.day_events(c, d)?);
        }
        events.sort_by(|a, b| a.event.timestamp.cmp(&b.event.timestamp).then_with(|| a.event.id.cmp(&b.event.id)));
        // Just before midnight: grants expiring at midnight are still live
        // for the day's usage (no late-burn corrections), and the next
        // day's sweep books their expiry on time.
        self.at(t0 + TimeDelta::days(1) - TimeDelta::microseconds(1));
        self.ingest(events).await
    }

    /// Customer `c`'s usage on day `d`: a pure function of (seed, c, d), so
    /// disputes can regenerate the events they pick.
    fn day_events(&self, c: usize, d: u32) -> Result<Vec<Gen>, SeedError> {
        let p = &self.plan.profiles[c];
        let di = i64::from(d);
        let lambda = p.lambda(di, self.plan.weekend(di), false) * self.plan.scale;
        if lambda <= 0.0 {
            return Ok(Vec::new());
        }
        let mut rng = rng_for(self.plan.opts.seed, TAG_EVENTS, c as u64, u64::from(d));
        let burst = if p.bursty && rng.random_bool(BURST_P) { rng.random_range(BURST_MIN..BURST_MAX) } else { 1.0 };
        let n = poisson(&mut rng, lambda * burst);
        let t0 = self.plan.day_start(di);
        let not_before = if !p.existing && d == p.signup_day { t0 + TimeDelta::hours(12) } else { t0 };
        let (region, offset) = REGIONS[p.region];
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let product = pick(&mut rng, &p.mix);
            let spec = &PRODUCTS[product];
            let quantity = lognormal(&mut rng, spec.median, spec.sigma).clamp(0.01, spec.max);
            let local_hour = pick(&mut rng, &HOUR_WEIGHTS) as i64;
            let micros = rng.random_range(0..3_600_000_000i64);
            let timestamp =
                t0 + TimeDelta::hours((local_hour - offset).rem_euclid(24)) + TimeDelta::microseconds(micros);
            let model = spec.models[rng.random_range(0..spec.models.len())];
            let random: [u8; 16] = rng.random::<u128>().to_le_bytes();
            if timestamp < not_before || timestamp >= self.plan.end {
                continue;
            }
            // UUIDv7 (time-ordered) keys, as many clients send: the events
            // table is keyed by id, so time-ordered ids append to it
            // instead of touching a random page per event.
            let mut tail = [0u8; 10];
            tail.copy_from_slice(&random[..10]);
            let millis = u64::try_from(timestamp.timestamp_millis()).unwrap_or(0);
            let uuid = uuid::Builder::from_unix_timestamp_millis(millis, &tail).into_uuid();
            let mut properties = Map::new();
            properties.insert("model".into(), Value::String(model.into()));
            properties.insert("region".into(), Value::String(region.into()));
            out.push(Gen {
                event: UsageEvent {
                    id: EventId::new(format!("evt_{}", uuid.simple()))?,
                    customer: p.id.clone(),
                    product: self.ids.products[product].clone(),
                    quantity: hundredths(quantity),
                    timestamp,
                    properties,
                },
                c,
                ct: spec.ct.i(),
            });
        }
        Ok(out)
    }

    async fn midday(&mut self, d: u32, noon: DateTime<Utc>) -> Result<(), SeedError> {
        let now = self.at(noon);
        let n = self.plan.profiles.len();

        let mut ops = Vec::new();
        if d == self.plan.price_announce_day {
            ops.push(AdminOp::RateVersion {
                product: self.ids.products[BATCH_EN].clone(),
                customer: None,
                version: RateVersion {
                    effective_from: self.plan.price_change,
                    credits_per_unit: Decimal::new(BATCH_EN_NEW_RATE_MILLI, 3),
                },
                by: self.ids.admin.clone(),
            });
        }
        let signups: Vec<usize> =
            (0..n).filter(|&c| !self.plan.profiles[c].existing && self.plan.profiles[c].signup_day == d).collect();
        for &c in &signups {
            ops.push(AdminOp::Customer(self.customer(c)));
            ops.extend(self.override_ops(c, now));
        }
        self.admin_all(ops, "catalog and sign-ups").await?;

        let mut grants = Vec::new();
        for &c in &signups {
            if self.plan.profiles[c].on_plan() {
                self.issue_plans(c, now, &mut grants)?;
            }
            self.trial_grants(c, now, &mut grants)?;
        }
        for c in 0..n {
            self.top_up(c, d, now, &mut grants)?;
        }
        let campaigns: Vec<Campaign> =
            self.plan.campaigns.iter().filter(|(day, _)| *day == d).map(|(_, k)| *k).collect();
        for campaign in campaigns {
            self.campaign(campaign, d, now, &mut grants)?;
        }
        if self.plan.outage_day == Some(d) {
            self.outage(d, now, &mut grants)?;
        }
        for c in 0..n {
            self.random_goodwill(c, d, now, &mut grants)?;
        }
        for c in self.plan.duplicates.get(&d).cloned().unwrap_or_default() {
            self.duplicate(c, d, now, &mut grants)?;
        }
        self.grant_all(grants).await?;

        let mut voids = self.voids_due.remove(&d).unwrap_or_default();
        for c in 0..n {
            if self.plan.profiles[c].churn_day != Some(d) {
                continue;
            }
            let live: Vec<GrantId> =
                self.plan_grants[c].iter().filter(|(_, expires)| *expires > now).map(|(g, _)| g.clone()).collect();
            for grant in live {
                let ticket = self.ticket("FIN");
                let by = attribution(
                    &self.ids.finance,
                    "contract_terminated",
                    &ticket,
                    "Contract ended; the unused allotment is forfeited",
                )?;
                voids.push((grant, by));
            }
        }
        for (grant, by) in voids {
            self.store.void(grant.clone(), by).await.map_err(store_err(format!("voiding {grant}")))?;
        }

        let disputes = self.plan.disputes.get(&d).copied().unwrap_or(0);
        for k in 0..disputes {
            self.dispute(d, k).await?;
        }
        Ok(())
    }

    /// Monthly allotments due by `now` (plus the lead time): the first
    /// (prorated) one at contract start, then one per month start.
    fn issue_plans(&mut self, c: usize, now: DateTime<Utc>, grants: &mut Vec<NewGrant>) -> Result<(), SeedError> {
        let contract_start = self.plan.contract_start(c);
        let mut k = match self.next_month[c] {
            Some(k) => k,
            None => self.plan.month_index(contract_start),
        };
        let churn_at = self.plan.profiles[c].churn_day.map(|d| self.plan.day_start(i64::from(d)));
        while k + 1 < self.plan.months.len() {
            let (month, next) = (self.plan.months[k], self.plan.months[k + 1]);
            let effective = month.max(contract_start);
            if effective > now + PLAN_LEAD {
                break;
            }
            if churn_at.is_some_and(|t| effective >= t) {
                k = self.plan.months.len();
                break;
            }
            for ct in CTS {
                if self.plan.profiles[c].funding[ct.i()] != Funding::Plan {
                    continue;
                }
                let level = self.plan_level(c, ct, k, effective);
                let amount = if effective > month {
                    let share = (next - effective).num_seconds() as f64 / (next - month).num_seconds() as f64;
                    nice(decimal_f64(level) * share, ct.min_amount() / 5)
                } else {
                    level
                };
                let grant = self.plan_grant(c, ct, amount, month, effective, next)?;
                self.plan_grants[c].push((grant.id.clone(), next));
                grants.push(grant);
            }
            k += 1;
        }
        self.next_month[c] = Some(k);
        Ok(())
    }

    /// The allotment: average monthly usage expected over the coming quarter
    /// times the customer's coverage, re-tiered every three months (so fast
    /// growers and bursty months still overrun it now and then).
    fn plan_level(&mut self, c: usize, ct: Ct, k: usize, effective: DateTime<Utc>) -> Decimal {
        if let Some(&(level, set)) = self.levels.get(&(c, ct.i())) {
            if k < set + 3 {
                return level;
            }
        }
        let from = self.plan.day_of(effective);
        let expected = self.plan.expected_credits(c, ct, from, from + 91) / 3.0;
        let level = nice(expected * self.plan.profiles[c].coverage[ct.i()], ct.min_amount());
        self.levels.insert((c, ct.i()), (level, k));
        level
    }

    fn plan_grant(
        &self,
        c: usize,
        ct: Ct,
        amount: Decimal,
        month: DateTime<Utc>,
        effective: DateTime<Utc>,
        next: DateTime<Utc>,
    ) -> Result<NewGrant, SeedError> {
        let p = &self.plan.profiles[c];
        let cap = (amount / Decimal::from(4)).round_dp(0).max(Decimal::ONE);
        Ok(NewGrant {
            expires_at: Some(next),
            contract_id: match p.tier {
                Tier::Enterprise => Some(ContractId::new(format!("ctr-{}", p.external_ref))?),
                _ => None,
            },
            cost_basis: Some(money(amount, ct, p.discount)),
            // Half of what is left rolls over (capped at a quarter of the
            // allotment) and lives 28 days, so it burns before the next
            // allotment, which expires at the next month end.
            rollover: Some(RolloverPolicy::new(Decimal::new(5, 1), Some(cap), TimeDelta::days(28))?),
            note: Some(format!("{} plan allotment for {}", p.tier.label(), month.format("%B %Y"))),
            ..NewGrant::new(
                GrantId::new(format!("plan-{}-{}-{}", p.id, ct.id(), month.format("%Y-%m")))?,
                p.id.clone(),
                self.ids.credit_types[ct.i()].clone(),
                amount,
                GrantCategory::Paid,
                GrantSource::Plan,
                effective,
                ReasonCode::new("plan_allotment")?,
                self.ids.billing.clone(),
            )
        })
    }

    /// Balances migrated from the previous billing system for customers who
    /// predate the period and pay by pack.
    fn opening_grants(&mut self, c: usize, grants: &mut Vec<NewGrant>) -> Result<(), SeedError> {
        let start = self.plan.start;
        for ct in CTS {
            if !matches!(self.plan.profiles[c].funding[ct.i()], Funding::Prepaid | Funding::AutoTopup) {
                continue;
            }
            let mut rng = rng_for(self.plan.opts.seed, TAG_OPENING, c as u64, ct.i() as u64);
            let amount = nice(self.plan.expected_credits(c, ct, 0, 45) * rng.random_range(0.5..1.5), ct.min_amount());
            let expires = start + TimeDelta::days(rng.random_range(45..240));
            self.trackers[c][ct.i()].add(amount, Some(expires));
            let p = &self.plan.profiles[c];
            grants.push(NewGrant {
                expires_at: Some(expires),
                note: Some("Opening balance migrated from the previous billing system".into()),
                ..NewGrant::new(
                    GrantId::new(format!("mig-{}-{}", p.id, ct.id()))?,
                    p.id.clone(),
                    self.ids.credit_types[ct.i()].clone(),
                    amount,
                    GrantCategory::Paid,
                    GrantSource::Migration,
                    start,
                    ReasonCode::new("opening_balance")?,
                    self.ids.migration.clone(),
                )
            });
        }
        Ok(())
    }

    fn trial_grants(&mut self, c: usize, now: DateTime<Utc>, grants: &mut Vec<NewGrant>) -> Result<(), SeedError> {
        for (ct, amount) in [(Ct::Batch, 2_000), (Ct::Realtime, 300)] {
            if self.plan.profiles[c].funding[ct.i()] != Funding::Trial {
                continue;
            }
            let amount = Decimal::from(amount);
            let expires = self.plan.midnight_after(now, 30);
            self.trackers[c][ct.i()].add(amount, Some(expires));
            let p = &self.plan.profiles[c];
            grants.push(NewGrant {
                expires_at: Some(expires),
                note: Some("Free trial credits (30 days)".into()),
                ..NewGrant::new(
                    GrantId::new(format!("trial-{}-{}", p.id, ct.id()))?,
                    p.id.clone(),
                    self.ids.credit_types[ct.i()].clone(),
                    amount,
                    GrantCategory::Promotional,
                    GrantSource::Promotion,
                    now,
                    ReasonCode::new("trial_signup")?,
                    self.ids.signup.clone(),
                )
            });
        }
        Ok(())
    }

    /// Pack customers buy when (their idea of) the balance runs low;
    /// lapsing ones only once they are already in overage.
    fn top_up(&mut self, c: usize, d: u32, now: DateTime<Utc>, grants: &mut Vec<NewGrant>) -> Result<(), SeedError> {
        if !self.plan.profiles[c].active(i64::from(d)) {
            return Ok(());
        }
        for ct in CTS {
            let p = &self.plan.profiles[c];
            let funding = p.funding_on(ct, d);
            // Lapsing only makes sense where the next pack pays the overage.
            let lapse = p.lapse && ct.overage_mode() == OverageMode::CarryForward;
            if !matches!(funding, Funding::Prepaid | Funding::AutoTopup) {
                continue;
            }
            let pack = self.plan.pack(c, ct, d);
            let threshold = match funding {
                Funding::AutoTopup => pack * Decimal::new(2, 1),
                _ if lapse => -(pack * Decimal::new(1, 1)),
                _ => pack * Decimal::new(25, 2),
            };
            if self.trackers[c][ct.i()].balance(now) >= threshold {
                continue;
            }
            let (source, note) = match funding {
                Funding::AutoTopup => {
                    (GrantSource::AutoTopup, format!("Auto top-up: balance fell below {}", threshold.round_dp(0)))
                }
                _ => (GrantSource::Purchase, format!("Self-serve pack of {pack} {}", ct.unit_label())),
            };
            let id = self.purchase_id(c)?;
            let grant = self.purchase_grant(c, ct, pack, source, now, id, note)?;
            self.trackers[c][ct.i()].add(pack, grant.expires_at);
            grants.push(grant);
        }
        Ok(())
    }

    fn purchase_id(&mut self, c: usize) -> Result<GrantId, SeedError> {
        self.purchases[c] += 1;
        Ok(GrantId::new(format!("pur-{}-{:03}", self.plan.profiles[c].id, self.purchases[c]))?)
    }

    /// A paid pack; expires a year after purchase.
    #[allow(clippy::too_many_arguments)]
    fn purchase_grant(
        &self,
        c: usize,
        ct: Ct,
        amount: Decimal,
        source: GrantSource,
        now: DateTime<Utc>,
        id: GrantId,
        note: String,
    ) -> Result<NewGrant, SeedError> {
        let expires = self.plan.midnight_after(now, 365);
        let p = &self.plan.profiles[c];
        Ok(NewGrant {
            expires_at: Some(expires),
            cost_basis: Some(money(amount, ct, p.discount)),
            note: Some(note),
            ..NewGrant::new(
                id,
                p.id.clone(),
                self.ids.credit_types[ct.i()].clone(),
                amount,
                GrantCategory::Paid,
                source,
                now,
                ReasonCode::new(if source == GrantSource::AutoTopup { "auto_topup" } else { "purchase" })?,
                self.ids.billing.clone(),
            )
        })
    }

    fn campaign(
        &mut self,
        kind: Campaign,
        d: u32,
        now: DateTime<Utc>,
        grants: &mut Vec<NewGrant>,
    ) -> Result<(), SeedError> {
        for c in 0..self.plan.profiles.len() {
            let p = &self.plan.profiles[c];
            if !p.active(i64::from(d)) || p.tier == Tier::Trial {
                continue;
            }
            let mut rng = rng_for(self.plan.opts.seed, TAG_CAMPAIGN, c as u64, kind as u64);
            let (ct, amount, products, days, chance, reason, note) = match kind {
                Campaign::Diarization => (
                    Ct::Batch,
                    Decimal::from(1_000),
                    Some(DIARIZATION),
                    60,
                    0.6,
                    "promo_diarization_launch",
                    "Diarization launch: free speaker-labelling credits",
                ),
                Campaign::CustomBeta if p.funding[Ct::Custom.i()] == Funding::None => continue,
                Campaign::CustomBeta => (
                    Ct::Custom,
                    Decimal::from(2_000),
                    Some(CUSTOM_TRAIN),
                    90,
                    1.0,
                    "promo_custom_beta",
                    "Custom model beta: training credits",
                ),
                Campaign::Multilingual => (
                    Ct::Batch,
                    Decimal::from(2_500),
                    Some(BATCH_MULTI),
                    45,
                    0.5,
                    "promo_multilingual",
                    "Multilingual launch: try 30+ languages",
                ),
                Campaign::YearEnd => (
                    Ct::Batch,
                    nice(self.plan.expected_credits(c, Ct::Batch, i64::from(d), i64::from(d) + 30) * 0.1, 500),
                    None,
                    45,
                    0.8,
                    "promo_year_end",
                    "Year-end thank-you credits",
                ),
            };
            if !rng.random_bool(chance) {
                continue;
            }
            grants.push(NewGrant {
                expires_at: Some(self.plan.midnight_after(now, days)),
                products: products.map(|i| vec![self.ids.products[i].clone()]),
                note: Some(note.into()),
                ..NewGrant::new(
                    GrantId::new(format!("promo-{}-{}", kind.slug(), p.id))?,
                    p.id.clone(),
                    self.ids.credit_types[ct.i()].clone(),
                    amount,
                    GrantCategory::Promotional,
                    GrantSource::Promotion,
                    now,
                    ReasonCode::new(reason)?,
                    self.ids.marketing.clone(),
                )
            });
        }
        Ok(())
    }

    /// Goodwill: promotional, 90 days, by a support agent; above the
    /// agent's $50 limit approved by a lead (or finance above $500).
    #[allow(clippy::too_many_arguments)]
    fn goodwill_grant(
        &mut self,
        c: usize,
        ct: Ct,
        amount: Decimal,
        reason: &str,
        ticket: String,
        note: &str,
        now: DateTime<Utc>,
    ) -> Result<NewGrant, SeedError> {
        self.goodwill[c] += 1;
        let p = &self.plan.profiles[c];
        let value = amount * ct.unit_price();
        let approved_by = if value <= Decimal::from(50) {
            None
        } else if value <= Decimal::from(500) {
            Some(self.ids.lead.clone())
        } else {
            Some(self.ids.finance.clone())
        };
        Ok(NewGrant {
            expires_at: Some(self.plan.midnight_after(now, 90)),
            ticket_ref: Some(ticket),
            note: Some(note.into()),
            approved_by,
            ..NewGrant::new(
                GrantId::new(format!("gw-{}-{:02}", p.id, self.goodwill[c]))?,
                p.id.clone(),
                self.ids.credit_types[ct.i()].clone(),
                amount,
                GrantCategory::Promotional,
                GrantSource::Goodwill,
                now,
                ReasonCode::new(reason)?,
                self.ids.agent.clone(),
            )
        })
    }

    /// A service incident: goodwill for about a third of the larger
    /// accounts (at least one), worth two days of their batch usage.
    fn outage(&mut self, d: u32, now: DateTime<Utc>, grants: &mut Vec<NewGrant>) -> Result<(), SeedError> {
        let di = i64::from(d);
        let big: Vec<usize> = (0..self.plan.profiles.len())
            .filter(|&c| {
                let p = &self.plan.profiles[c];
                p.active(di) && matches!(p.tier, Tier::Enterprise | Tier::Growth)
            })
            .collect();
        let mut chosen: Vec<usize> = big
            .iter()
            .copied()
            .filter(|&c| rng_for(self.plan.opts.seed, TAG_OUTAGE, c as u64, 0).random_bool(0.35))
            .collect();
        if chosen.is_empty() {
            chosen.extend(big.first());
        }
        let ticket = format!("INC-{}", 2_000 + d);
        let note = format!("Batch queue outage on {}: jobs delayed up to 4 hours", now.format("%-d %B %Y"));
        for c in chosen {
            let expected = self.plan.expected_credits(c, Ct::Batch, di, di + 2);
            let amount = nice(expected, 500).min(Decimal::from(20_000));
            grants.push(self.goodwill_grant(c, Ct::Batch, amount, "service_outage", ticket.clone(), &note, now)?);
        }
        Ok(())
    }

    fn random_goodwill(
        &mut self,
        c: usize,
        d: u32,
        now: DateTime<Utc>,
        grants: &mut Vec<NewGrant>,
    ) -> Result<(), SeedError> {
        let p = &self.plan.profiles[c];
        if p.tier == Tier::Trial || !p.active(i64::from(d)) {
            return Ok(());
        }
        let mut rng = rng_for(self.plan.opts.seed, TAG_GOODWILL, c as u64, u64::from(d));
        if !rng.random_bool(GOODWILL_P) {
            return Ok(());
        }
        let used: Vec<Ct> = CTS.into_iter().filter(|ct| p.funding[ct.i()] != Funding::None).collect();
        let Some(&ct) = used.get(rng.random_range(0..used.len().max(1))) else {
            return Ok(());
        };
        // $5 to $120 worth of credits.
        let value = rng.random_range(5.0..120.0);
        let amount = nice(value / decimal_f64(ct.unit_price()), ct.min_amount() / 5);
        let (reason, note) = GOODWILL_REASONS[rng.random_range(0..GOODWILL_REASONS.len())];
        let ticket = self.ticket("SUP");
        grants.push(self.goodwill_grant(c, ct, amount, reason, ticket, note, now)?);
        Ok(())
    }

    /// A purchase delivered twice by the checkout webhook; finance voids
    /// the duplicate the next day.
    fn duplicate(
        &mut self,
        from: usize,
        d: u32,
        now: DateTime<Utc>,
        grants: &mut Vec<NewGrant>,
    ) -> Result<(), SeedError> {
        let n = self.plan.profiles.len();
        let di = i64::from(d);
        let Some(c) = (0..n).map(|k| (from + k) % n).find(|&c| {
            let p = &self.plan.profiles[c];
            p.tier != Tier::Trial && p.active(di) && p.active(di + 1)
        }) else {
            return Ok(());
        };
        let amount = self.plan.pack(c, Ct::Batch, d);
        let id = self.purchase_id(c)?;
        let note = format!("Self-serve pack of {amount} credits");
        let grant = self.purchase_grant(c, Ct::Batch, amount, GrantSource::Purchase, now, id.clone(), note)?;
        self.trackers[c][Ct::Batch.i()].add(amount, grant.expires_at);
        grants.push(grant);
        // Not tracked: the customer does not count on it.
        let dup_id = GrantId::new(format!("{id}-dup"))?;
        let dup_note = format!("Duplicate of {id}: the checkout webhook was delivered twice");
        grants.push(self.purchase_grant(c, Ct::Batch, amount, GrantSource::Purchase, now, dup_id.clone(), dup_note)?);
        let ticket = self.ticket("FIN");
        let by = attribution(
            &self.ids.finance,
            "duplicate_grant",
            &ticket,
            "Duplicate pack from a webhook retry; the customer was charged once",
        )?;
        self.voids_due.entry(d + 1).or_default().push((dup_id, by));
        Ok(())
    }

    /// A dispute about usage two days ago, resolved by reversing one to
    /// four of the customer's events.
    async fn dispute(&mut self, d: u32, k: u32) -> Result<(), SeedError> {
        let Some(from) = d.checked_sub(2) else {
            return Ok(());
        };
        let n = self.plan.profiles.len();
        let mut rng = rng_for(self.plan.opts.seed, TAG_DISPUTE, u64::from(d), u64::from(k));
        let first = rng.random_range(0..n);
        for off in 0..n {
            let c = (first + off) % n;
            let p = &self.plan.profiles[c];
            if p.tier == Tier::Trial || !p.active(i64::from(d)) {
                continue;
            }
            let candidates: Vec<EventId> = self
                .day_events(c, from)?
                .into_iter()
                .map(|g| g.event.id)
                .filter(|id| !self.reversed.contains(id))
                .collect();
            if candidates.is_empty() {
                continue;
            }
            let count = rng.random_range(1..=candidates.len().min(4));
            let mut picks = rand::seq::index::sample(&mut rng, candidates.len(), count).into_vec();
            picks.sort_unstable();
            let (reason, note) = DISPUTE_REASONS[rng.random_range(0..DISPUTE_REASONS.len())];
            let ticket = self.ticket("SUP");
            for i in picks {
                let event = candidates[i].clone();
                let by = attribution(&self.ids.agent, reason, &ticket, note)?;
                self.store.reverse(event.clone(), by).await.map_err(store_err(format!("reversing {event}")))?;
                self.reversed.insert(event);
            }
            return Ok(());
        }
        Ok(())
    }

    /// The demo users, `demo-admin` last: its presence marks a complete seed.
    async fn create_users(&self) -> Result<Vec<SeedUser>, SeedError> {
        let mut users = Vec::new();
        for (name, role) in OTHER_USERS.into_iter().chain([(ADMIN_USER, Role::Admin)]) {
            let token = new_token();
            let user = User {
                id: name.into(),
                name: name.into(),
                role: role.as_str().into(),
                created_at: self.plan.start,
                revoked_at: None,
            };
            self.store
                .admin(AdminOp::User { user, token_hash: hash_token(&token) })
                .await
                .map_err(store_err(format!("creating user {name}")))?;
            users.push(SeedUser { name: name.into(), role, token: Some(token) });
        }
        users.rotate_right(1); // admin first in the report
        Ok(users)
    }
}

fn attribution(actor: &ActorId, reason: &str, ticket: &str, note: &str) -> Result<Attribution, SeedError> {
    Ok(Attribution {
        actor: actor.clone(),
        reason_code: Some(ReasonCode::new(reason)?),
        ticket_ref: Some(Arc::from(ticket)),
        note: Some(Arc::from(note)),
    })
}
