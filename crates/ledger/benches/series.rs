//! Burn series over a year of usage: 1,000,000 events, 365 local days in
//! America/New_York (two DST changes), grouped by 8 products.
//!
//! `rollup` is the query the API runs ([`BurnRollup::burn_series`]); `naive`
//! is the baseline it replaces: one pass over every entry, converting each
//! `booked_at` to the zone to find its day. `build` is the one-off cost of
//! feeding the rollup all the entries (a store does this on load).
//!
//! Entries are built directly rather than through the engine, so that the
//! setup stays a fraction of a second: 98% burns, 2% overage, as allocation
//! would write them.
//!
//! Run: `cargo bench -p creditdesk-ledger --bench series`

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use creditdesk_ledger::entry::{Entry, EntryKind};
use creditdesk_ledger::ids::{ActorId, CreditTypeId, CustomerId, EventId, GrantId, ProductId};
use creditdesk_ledger::series::{Bucket, BurnRollup};
use creditdesk_ledger::Credits;
use criterion::{criterion_group, criterion_main, Criterion};
use rust_decimal::Decimal;

const EVENTS: usize = 1_000_000;
const PRODUCTS: usize = 8;

fn entries() -> Vec<Entry> {
    let customer = CustomerId::new("acme").unwrap();
    let credit_type = CreditTypeId::new("credits").unwrap();
    let grant = GrantId::new("g1").unwrap();
    let actor = ActorId::new("ingest").unwrap();
    let products: Vec<ProductId> = (0..PRODUCTS).map(|p| ProductId::new(format!("product-{p}")).unwrap()).collect();
    let start = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
    // 365 days spread evenly over the events.
    let step_us = 365 * 86_400_000_000i64 / EVENTS as i64;
    (0..EVENTS)
        .map(|i| {
            let overage = i % 50 == 49;
            // 0.25 to 24.25 credits.
            let amount = Credits::round_half_even(-Decimal::new((i % 97 + 1) as i64 * 25, 2));
            let at = start + TimeDelta::microseconds(i as i64 * step_us);
            Entry {
                seq: i as u64 + 1,
                customer: customer.clone(),
                credit_type: credit_type.clone(),
                grant: (!overage).then(|| grant.clone()),
                kind: if overage { EntryKind::Overage } else { EntryKind::Burn },
                amount,
                booked_at: at,
                recorded_at: at,
                event: Some(EventId::new(format!("e{i}")).unwrap()),
                product: Some(products[(i * 7 + i / 1000) % PRODUCTS].clone()),
                related: None,
                actor: actor.clone(),
                reason_code: None,
                ticket_ref: None,
                note: None,
            }
        })
        .collect()
}

/// The baseline: every entry, each converted to local time to find its day.
fn naive(
    entries: &[Entry],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    tz: Tz,
) -> (NaiveDate, Vec<ProductId>, Vec<Vec<Decimal>>) {
    let first = from.with_timezone(&tz).date_naive();
    let days = (to.with_timezone(&tz).date_naive() - first).num_days() as usize + 1;
    let mut columns: HashMap<&ProductId, usize> = HashMap::new();
    let mut products = Vec::new();
    let mut sums: Vec<Vec<Decimal>> = vec![Vec::new(); days];
    for e in entries {
        if !matches!(e.kind, EntryKind::Burn | EntryKind::Overage) || e.booked_at < from || e.booked_at >= to {
            continue;
        }
        let Some(product) = &e.product else { continue };
        let day = (e.booked_at.with_timezone(&tz).date_naive() - first).num_days() as usize;
        let col = *columns.entry(product).or_insert_with(|| {
            products.push(product.clone());
            products.len() - 1
        });
        let row = &mut sums[day];
        if row.len() <= col {
            row.resize(col + 1, Decimal::ZERO);
        }
        row[col] -= e.amount.get();
    }
    (first, products, sums)
}

fn series(c: &mut Criterion) {
    let entries = entries();
    let customer = CustomerId::new("acme").unwrap();
    let tz: Tz = chrono_tz::America::New_York;
    // 365 local days from local midnight on 2025-01-01 (EST, UTC-5).
    let from = Utc.with_ymd_and_hms(2025, 1, 1, 5, 0, 0).unwrap();
    let to = Utc.with_ymd_and_hms(2026, 1, 1, 5, 0, 0).unwrap();

    let rollup = BurnRollup::from_entries(customer.clone(), &entries);
    // The two must agree before either is timed.
    let s = rollup.burn_series(from, to, Bucket::Day, tz).unwrap();
    assert_eq!(s.buckets.len(), 365);
    assert_eq!(s.columns.len(), PRODUCTS);
    let (_, products, sums) = naive(&entries, from, to, tz);
    let naive_total: Decimal = sums.iter().flatten().sum();
    assert_eq!(s.total_burned.get(), naive_total);
    for (j, p) in products.iter().enumerate() {
        let col = s.columns.iter().position(|k| k.product.as_ref() == Some(p)).unwrap();
        for (r, b) in s.buckets.iter().enumerate() {
            assert_eq!(b.burned[col].get(), sums[r].get(j).copied().unwrap_or_default(), "day {r}");
        }
    }

    let mut g = c.benchmark_group("series_365d_daily_by_product_1m_events");
    g.sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    g.bench_function("rollup", |b| b.iter(|| rollup.burn_series(black_box(from), black_box(to), Bucket::Day, tz)));
    g.sample_size(10);
    g.bench_function("naive", |b| b.iter(|| naive(black_box(&entries), black_box(from), black_box(to), tz)));
    g.finish();

    let mut g = c.benchmark_group("series_rollup_build_1m_entries");
    g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    g.bench_function("record_all", |b| b.iter(|| BurnRollup::from_entries(customer.clone(), black_box(&entries))));
    g.finish();
}

criterion_group!(benches, series);
criterion_main!(benches);
