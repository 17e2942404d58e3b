//! Quick probe of raw store ingest throughput (no HTTP): N events in
//! batches of 1,000 from a few concurrent tasks. The shipped benchmark is
//! `creditdesk-bench`; this is for profiling the writer alone.
//!
//! ```text
//! cargo run --release -p creditdesk-store --example ingest_probe -- [N]              # SQLite, temp file
//! cargo run --release -p creditdesk-store --example ingest_probe -- [N] --pg [URL]   # PostgreSQL
//! ```
//!
//! `--pg` without a URL starts a throwaway durable PostgreSQL (fsync on,
//! synchronous_commit on) with `creditdesk-testkit`. `--writers K` sets the
//! PostgreSQL writer threads; `--spread K` makes each batch cover K
//! customers (all 200 by default).

use std::sync::Arc;
use std::time::Instant;

use chrono::{TimeDelta, Utc};
use creditdesk_ledger::catalog::{BurnOrder, CreditType, OverageMode, Product, RateCard};
use creditdesk_ledger::clock::SystemClock;
use creditdesk_ledger::engine::IngestMode;
use creditdesk_ledger::event::UsageEvent;
use creditdesk_ledger::grant::{GrantCategory, GrantSource, NewGrant};
use creditdesk_ledger::ids::{ActorId, CreditTypeId, CustomerId, EventId, GrantId, ProductId, ReasonCode};
use creditdesk_ledger::{Currency, Money};
use creditdesk_store::{AdminOp, Customer, PgStore, SqliteStore, Store, StoreOptions};
use rust_decimal::Decimal;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let total: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let flag = |name: &str| args.iter().position(|a| a == name);
    let value = |name: &str| flag(name).and_then(|i| args.get(i + 1)).filter(|v| !v.starts_with("--")).cloned();
    let mut options = StoreOptions { clock: Arc::new(SystemClock), ..StoreOptions::default() };
    if let Some(w) = value("--writers").and_then(|w| w.parse().ok()) {
        options.writers = w;
    }
    // Customers per batch (all by default; 1: each batch is one customer's).
    let spread: usize = value("--spread").and_then(|v| v.parse().ok()).unwrap_or(200);
    let dir = tempfile::tempdir()?;
    let mut _server = None;
    let s: Store = match flag("--pg") {
        None => {
            println!("SQLite, temp file, synchronous=NORMAL (WAL)");
            SqliteStore::open(dir.path().join("p.db"), options)?.into()
        }
        Some(_) => {
            let url = match value("--pg") {
                Some(url) => url,
                None => {
                    let server = creditdesk_testkit::PgServer::start()?;
                    let url = server.create_database("ingest_probe")?;
                    _server = Some(server);
                    url
                }
            };
            println!("PostgreSQL, {} writer threads, durable commits (fsync, synchronous_commit on)", options.writers);
            PgStore::open(&url, options)?.into()
        }
    };
    let now = Utc::now();
    let usd = Money { amount: Decimal::new(1, 2), currency: Currency::USD };
    s.admin(AdminOp::CreditType(CreditType::new(
        CreditTypeId::new("api")?,
        "API",
        "credits",
        usd,
        BurnOrder::standard(),
        OverageMode::CarryForward,
    )?))
    .await?;
    s.admin(AdminOp::Product {
        product: Product {
            id: ProductId::new("chat")?,
            name: "Chat".into(),
            credit_type: CreditTypeId::new("api")?,
            rate_card: RateCard::flat(now - TimeDelta::days(30), Decimal::new(15, 1))?,
        },
        by: ActorId::new("admin")?,
    })
    .await?;
    let customers = 200;
    for c in 0..customers {
        let id = CustomerId::new(format!("c{c}"))?;
        s.admin(AdminOp::Customer(Customer {
            id: id.clone(),
            name: format!("C{c}"),
            external_ref: None,
            created_at: now,
        }))
        .await?;
        for g in 0..3 {
            s.grant(NewGrant {
                priority: Some(g as u8 + 1),
                expires_at: Some(now + TimeDelta::days(30 + g)),
                ..NewGrant::new(
                    GrantId::new(format!("c{c}-g{g}"))?,
                    id.clone(),
                    CreditTypeId::new("api")?,
                    Decimal::from(10_000_000),
                    if g == 0 { GrantCategory::Promotional } else { GrantCategory::Paid },
                    GrantSource::Purchase,
                    now - TimeDelta::days(1),
                    ReasonCode::new("p")?,
                    ActorId::new("a")?,
                )
            })
            .await?;
        }
    }
    let start = Instant::now();
    let batches = total / 1000;
    let mut tasks = Vec::new();
    for t in 0..4 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            for b in (t..batches).step_by(4) {
                let events: Vec<UsageEvent> = (0..1000)
                    .map(|i| UsageEvent {
                        id: EventId::new(format!("e{b}-{i}")).unwrap(),
                        customer: CustomerId::new(format!("c{}", (b * 7 + i % spread) % customers)).unwrap(),
                        product: ProductId::new("chat").unwrap(),
                        quantity: Decimal::from(1 + i % 5),
                        timestamp: Utc::now() - TimeDelta::seconds((i % 600) as i64),
                        properties: Default::default(),
                    })
                    .collect();
                let t0 = Instant::now();
                s.ingest(events, IngestMode::Live, ActorId::new("i").unwrap()).await.unwrap();
                lat.push(t0.elapsed().as_secs_f64() * 1000.0);
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await?);
    }
    let secs = start.elapsed().as_secs_f64();
    lat.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{} events in {:.2}s = {:.0} events/s; batch p50 {:.1} ms p99 {:.1} ms",
        batches * 1000,
        secs,
        (batches * 1000) as f64 / secs,
        lat[lat.len() / 2],
        lat[(lat.len() * 99 / 100).min(lat.len() - 1)]
    );
    // duplicates
    let start = Instant::now();
    for b in 0..batches.min(100) {
        let events: Vec<UsageEvent> = (0..1000)
            .map(|i| UsageEvent {
                id: EventId::new(format!("e{b}-{i}")).unwrap(),
                customer: CustomerId::new(format!("c{}", (b * 7 + i % spread) % customers)).unwrap(),
                product: ProductId::new("chat").unwrap(),
                quantity: Decimal::from(1 + i % 5),
                timestamp: Utc::now(),
                properties: Default::default(),
            })
            .collect();
        s.ingest(events, IngestMode::Live, ActorId::new("i").unwrap()).await?;
    }
    let n = batches.min(100) * 1000;
    println!("replay (conflicts, timestamps differ): {} events/s", (n as f64 / start.elapsed().as_secs_f64()) as u64);
    Ok(())
}
