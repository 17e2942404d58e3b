//! Benchmarks of the ledger core (issue 2, section 5). Run with
//! `cargo bench -p creditdesk-ledger --bench ledger`; results go in
//! `BENCHMARKS.md`.
//!
//! - `allocation/*`: `WalletState::burn` of one event against 10 and 1,000
//!   live grants (target >= 1,000,000 events/s against 10), beside a naive
//!   allocator that filters and sorts the eligible grants per event.
//! - `balance_1m/*`: a point-in-time balance of a wallet with 1,000,000
//!   entries (target <= 20 ms), at a past instant as known now and as known
//!   at a past recorded time, beside the full replay (`balance_by_replay`).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput};
use rust_decimal::Decimal;

use creditdesk_ledger::amount::{Credits, Currency, Money};
use creditdesk_ledger::catalog::{BurnOrder, Catalog, CreditType, OverageMode, Product, RateCard};
use creditdesk_ledger::entry::{Attribution, Entry, EntryKind, Posting};
use creditdesk_ledger::event::UsageEvent;
use creditdesk_ledger::grant::{Grant, GrantCategory, GrantSource, NewGrant, RolloverPolicy};
use creditdesk_ledger::history::History;
use creditdesk_ledger::ids::{ActorId, CreditTypeId, CustomerId, EventId, GrantId, ProductId, ReasonCode};
use creditdesk_ledger::wallet::{burn_order_cmp, Allocation, WalletState};

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap()
}

struct Setup {
    catalog: Catalog,
    credit_type: Arc<CreditType>,
    customer: CustomerId,
    api: ProductId,
    batch: ProductId,
}

fn setup() -> Setup {
    let mut catalog = Catalog::new();
    let id = CreditTypeId::new("credits").unwrap();
    let price = Money { amount: Decimal::new(1, 2), currency: Currency::USD };
    let ct = CreditType::new(id.clone(), "Credits", "credits", price, BurnOrder::standard(), OverageMode::CarryForward)
        .unwrap();
    let credit_type = catalog.add_credit_type(ct).unwrap();
    let api = ProductId::new("api").unwrap();
    let batch = ProductId::new("batch").unwrap();
    for p in [&api, &batch] {
        let card = RateCard::flat(start() - TimeDelta::days(3650), Decimal::ONE).unwrap();
        catalog
            .add_product(Product { id: p.clone(), name: p.to_string(), credit_type: id.clone(), rate_card: card })
            .unwrap();
    }
    Setup { catalog, credit_type, customer: CustomerId::new("cust_1").unwrap(), api, batch }
}

struct GrantSpec {
    id: String,
    amount: Decimal,
    priority: u8,
    effective_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    products: Option<Vec<ProductId>>,
    promotional: bool,
    rollover: Option<RolloverPolicy>,
}

fn grant(s: &Setup, spec: GrantSpec) -> Grant {
    let req = NewGrant {
        priority: Some(spec.priority),
        expires_at: spec.expires_at,
        products: spec.products,
        rollover: spec.rollover,
        ..NewGrant::new(
            GrantId::new(&spec.id).unwrap(),
            s.customer.clone(),
            s.credit_type.id.clone(),
            spec.amount,
            if spec.promotional { GrantCategory::Promotional } else { GrantCategory::Paid },
            if spec.promotional { GrantSource::Promotion } else { GrantSource::Plan },
            spec.effective_at,
            ReasonCode::new("bench").unwrap(),
            ActorId::new("bench").unwrap(),
        )
    };
    Grant::validate(req, &s.catalog).unwrap()
}

fn event(s: &Setup, id: String, product: &ProductId, t: DateTime<Utc>) -> UsageEvent {
    UsageEvent {
        id: EventId::new(id).unwrap(),
        customer: s.customer.clone(),
        product: product.clone(),
        quantity: Decimal::ONE,
        timestamp: t,
        properties: Default::default(),
    }
}

// ---------------------------------------------------------------------------
// Allocation
// ---------------------------------------------------------------------------

/// A wallet of `n` live grants that will not run out: mixed priorities
/// (1..=5), one in seven restricted to `batch` (restricted grants sort first
/// within a priority, so `api` usage walks past them), mixed categories and
/// expiries a year or more away.
fn allocation_wallet(s: &Setup, n: usize, now: DateTime<Utc>) -> WalletState {
    let mut w = WalletState::new(s.customer.clone(), s.credit_type.clone());
    let mut posting = Posting::new(now, 1, Attribution::system());
    for i in 0..n {
        let g = grant(
            s,
            GrantSpec {
                id: format!("g{i:05}"),
                amount: Decimal::new(1_000_000_000, 0),
                priority: 1 + (i % 5) as u8,
                effective_at: now - TimeDelta::days(30 + (i % 17) as i64),
                expires_at: (i % 3 != 0).then(|| now + TimeDelta::days(365 + (i % 101) as i64)),
                products: (i % 7 == 3).then(|| vec![s.batch.clone()]),
                promotional: i % 4 == 0,
                rollover: None,
            },
        );
        w.add_grant(g, &mut posting).unwrap();
    }
    w
}

/// BASELINE, not the ledger's allocator: per event, filter the eligible
/// grants, sort them in burn order, then draw. Writes the same entries.
struct NaiveAllocator {
    order: BurnOrder,
    customer: CustomerId,
    credit_type: CreditTypeId,
    grants: Vec<(Arc<Grant>, Credits)>,
    next_seq: u64,
}

impl NaiveAllocator {
    fn from_wallet(w: &WalletState) -> NaiveAllocator {
        NaiveAllocator {
            order: w.credit_type().burn_order.clone(),
            customer: w.customer().clone(),
            credit_type: w.credit_type().id.clone(),
            grants: w.grants().iter().map(|g| (g.grant.clone(), g.totals.remaining())).collect(),
            next_seq: 1,
        }
    }

    fn burn(
        &mut self,
        ev: &UsageEvent,
        credits: Credits,
        recorded_at: DateTime<Utc>,
        out: &mut Vec<Entry>,
    ) -> Allocation {
        let t = ev.timestamp;
        let mut eligible: Vec<usize> = (0..self.grants.len())
            .filter(|&i| {
                let (g, left) = &self.grants[i];
                g.in_term_at(t) && g.admits(&ev.product) && left.is_positive()
            })
            .collect();
        eligible.sort_by(|&a, &b| burn_order_cmp(&self.order, &self.grants[a].0, &self.grants[b].0));
        let mut need = credits;
        let mut allocation = Allocation::default();
        for i in eligible {
            if !need.is_positive() {
                break;
            }
            let take = self.grants[i].1.min(need);
            self.grants[i].1 -= take;
            need -= take;
            let id = self.grants[i].0.id.clone();
            out.push(self.entry(Some(id.clone()), EntryKind::Burn, -take, ev, recorded_at));
            allocation.burns.push((id, take));
        }
        if need.is_positive() {
            out.push(self.entry(None, EntryKind::Overage, -need, ev, recorded_at));
            allocation.overage = need;
        }
        allocation
    }

    fn entry(
        &mut self,
        grant: Option<GrantId>,
        kind: EntryKind,
        amount: Credits,
        ev: &UsageEvent,
        recorded_at: DateTime<Utc>,
    ) -> Entry {
        self.next_seq += 1;
        Entry {
            seq: self.next_seq,
            customer: self.customer.clone(),
            credit_type: self.credit_type.clone(),
            grant,
            kind,
            amount,
            booked_at: ev.timestamp,
            recorded_at,
            event: Some(ev.id.clone()),
            product: Some(ev.product.clone()),
            related: None,
            actor: ActorId::system(),
            reason_code: None,
            ticket_ref: None,
            note: None,
        }
    }
}

/// Entries written are dropped every this many, inside the timed loop (their
/// cost is part of writing them); the wallet is cloned outside it.
const FLUSH: usize = 4096;

fn bench_allocation(c: &mut Criterion) {
    let s = setup();
    let now = start() + TimeDelta::days(200);
    let credits = Credits::round_half_even(Decimal::new(125, 2));
    let events: Vec<UsageEvent> = (0..1024).map(|i| event(&s, format!("ev_{i}"), &s.api, now)).collect();

    let mut group = c.benchmark_group("allocation");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(4));
    for n in [10usize, 1000] {
        let wallet = allocation_wallet(&s, n, now);
        group.bench_with_input(BenchmarkId::new("burn", n), &wallet, |b, wallet| {
            b.iter_custom(|iters| {
                let mut w = wallet.clone();
                let mut posting = Posting::new(now, 1_000_000, Attribution::system());
                let t0 = Instant::now();
                for i in 0..iters as usize {
                    black_box(w.burn(&events[i % events.len()], credits, &mut posting));
                    if posting.entries.len() >= FLUSH {
                        posting.entries.clear();
                    }
                }
                t0.elapsed()
            })
        });
        group.bench_with_input(BenchmarkId::new("baseline_filter_sort", n), &wallet, |b, wallet| {
            b.iter_custom(|iters| {
                let mut naive = NaiveAllocator::from_wallet(wallet);
                let mut out = Vec::with_capacity(FLUSH);
                let t0 = Instant::now();
                for i in 0..iters as usize {
                    black_box(naive.burn(&events[i % events.len()], credits, now, &mut out));
                    if out.len() >= FLUSH {
                        out.clear();
                    }
                }
                t0.elapsed()
            })
        });
    }
    group.finish();
}

// ---------------------------------------------------------------------------
// Point-in-time balance over 1,000,000 entries
// ---------------------------------------------------------------------------

const TARGET_ENTRIES: usize = 1_000_000;
const DAYS: i64 = 365;

/// One customer's year: ~1M usage events, a weekly plan grant (5-week
/// expiry, half of what is left rolls over, capped), a daily promotional
/// grant (3-day expiry), a monthly grant dated 10 days ahead, a void now and
/// then; 1 event in 20 arrives 1 to 48 hours late. Each operation is one
/// posting recorded into the history, as the engine does.
fn year_of_history(s: &Setup) -> (History, DateTime<Utc>) {
    let mut w = WalletState::new(s.customer.clone(), s.credit_type.clone());
    let mut h = History::new(s.customer.clone(), s.credit_type.clone());
    let mut seq = 1u64;
    let mut post = |w: &mut WalletState,
                    h: &mut History,
                    at: DateTime<Utc>,
                    op: &mut dyn FnMut(&mut WalletState, &mut Posting)| {
        let mut p = Posting::new(at, seq, Attribution::system());
        op(w, &mut p);
        h.record(&p);
        seq = p.next_seq;
    };
    let per_day = TARGET_ENTRIES as i64 / DAYS + 1;
    let step = TimeDelta::microseconds(86_400_000_000 / per_day);
    let mut n = 0u64;
    let mut day = 0;
    while h.entries().len() < TARGET_ENTRIES && day < DAYS + 30 {
        let d0 = start() + TimeDelta::days(day);
        let mut grants = Vec::new();
        if day % 7 == 0 {
            let rollover =
                RolloverPolicy::new(Decimal::new(5, 1), Some(Decimal::new(2000, 0)), TimeDelta::days(14)).ok();
            grants.push(GrantSpec {
                id: format!("plan_{day}"),
                amount: Decimal::new(8_000, 0),
                priority: 50,
                effective_at: d0,
                expires_at: Some(d0 + TimeDelta::days(35)),
                products: None,
                promotional: false,
                rollover,
            });
        }
        grants.push(GrantSpec {
            id: format!("promo_{day}"),
            amount: Decimal::new(30_000, 2),
            priority: 40,
            effective_at: d0,
            expires_at: Some(d0 + TimeDelta::days(3)),
            products: (day % 2 == 0).then(|| vec![s.api.clone()]),
            promotional: true,
            rollover: None,
        });
        if day % 30 == 0 {
            grants.push(GrantSpec {
                id: format!("topup_{day}"),
                amount: Decimal::new(1_500, 0),
                priority: 60,
                effective_at: d0 + TimeDelta::days(10),
                expires_at: None,
                products: None,
                promotional: false,
                rollover: None,
            });
        }
        for spec in grants {
            let g = grant(s, spec);
            post(&mut w, &mut h, d0, &mut |w, p| w.add_grant(g.clone(), p).unwrap());
        }
        if day % 45 == 20 {
            let id = GrantId::new(format!("promo_{}", day - 1)).unwrap();
            post(&mut w, &mut h, d0 + TimeDelta::hours(1), &mut |w, p| {
                let _ = w.void(&id, p);
            });
        }
        for i in 0..per_day {
            let arrival = d0 + step * i as i32;
            let timestamp = if n % 20 == 7 { arrival - TimeDelta::hours(1 + (n % 48) as i64) } else { arrival };
            let product = if n.is_multiple_of(3) { &s.batch } else { &s.api };
            let ev = event(s, format!("ev_{n}"), product, timestamp);
            // 0.01 to 0.97 credits, ~0.49 on average: ~1,340 a day.
            let credits = Credits::round_half_even(Decimal::new((n % 97 + 1) as i64, 2));
            post(&mut w, &mut h, arrival, &mut |w, p| {
                w.burn(&ev, credits, p);
            });
            n += 1;
        }
        day += 1;
    }
    (h, start() + TimeDelta::days(day))
}

fn bench_balance(c: &mut Criterion) {
    let s = setup();
    let built = Instant::now();
    let (history, now) = year_of_history(&s);
    let mut kinds = std::collections::BTreeMap::new();
    for e in history.entries() {
        *kinds.entry(e.kind.as_str()).or_insert(0usize) += 1;
    }
    let late = history.entries().iter().filter(|e| e.recorded_at > e.booked_at).count();
    eprintln!(
        "fixture: {} entries ({} recorded after their booking time), {} grants, built in {:.1?}; by kind: {:?}",
        history.entries().len(),
        late,
        history.grants().len(),
        built.elapsed(),
        kinds
    );
    // An arbitrary past instant, not on any boundary.
    let at = start() + TimeDelta::days(200) + TimeDelta::seconds(7 * 3600 + 13 * 60 + 17);
    let cases = [
        ("past_instant_as_of_now", at, now),
        // As known two days later: late events for the period still arriving.
        ("past_instant_as_of_past", at, at + TimeDelta::days(2)),
        // Now, as it was known at a past recorded time.
        ("now_as_of_past", now, at),
    ];
    for (name, at, as_of) in cases {
        assert_eq!(history.balance(at, as_of).unwrap(), history.balance_by_replay(at, as_of).unwrap(), "{name}");
    }

    let mut group = c.benchmark_group("balance_1m");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    for (name, at, as_of) in cases {
        group.bench_function(BenchmarkId::new("indexed", name), |b| b.iter(|| black_box(history.balance(at, as_of))));
        group.bench_function(BenchmarkId::new("baseline_replay", name), |b| {
            b.iter(|| black_box(history.balance_by_replay(at, as_of)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_allocation, bench_balance);
criterion_main!(benches);
