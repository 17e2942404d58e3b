//! Property tests of the invariants in `../shared/brief/ledger.md`, over
//! random sequences of operations on the in-memory engine: grants (random
//! priority, category, restriction, start, expiry, rollover), usage (on time,
//! late inside and just outside the window, slightly in the future,
//! backfilled), clock moves, sweeps, voids, reversals, resent and conflicting
//! events, authorizations.
//!
//! Times sit on a 6-hour grid (plus or minus 1µs now and then) so that usage,
//! grant starts and expiries often fall on the very same instant.
//!
//! Every sequence runs on two ledgers: `lazy` (the sweeper runs only when the
//! sequence says so) and `eager` (a sweep after every operation). After every
//! operation both must satisfy:
//!
//! - (a) per-grant conservation `amount + reversed + corrected = burned +
//!   expired + rolled + voided + settled + remaining`, every term >= 0, from
//!   the entries, from the live wallet and from `ledger.balance` (now and at
//!   earlier instants);
//! - (b) per event: rated credits = its burns + its overage; a reversed event
//!   nets to zero;
//! - (c) no burn or settlement from an ineligible grant;
//! - (d) the live wallet = `WalletState::replay` of its entries (both caught
//!   up to now), and `History::balance(now, now)` = the balance read off the
//!   live wallet;
//! - (e) allocation order: an event's burns follow the credit type's burn
//!   order, and a grant is touched only when every eligible grant before it
//!   is drained;
//! - (f) idempotent expiry: a sweep changes no balance, a second sweep writes
//!   nothing, each grant has at most one `expire` entry; and the two ledgers
//!   give the same answers and, at the end, the same entries;
//! - (g) no remaining is ever negative (part of (a)).
//!
//! Cases: 128 by default (`PROPTEST_CASES` overrides).

mod common;

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, TimeDelta, Utc};
use common::*;
use creditdesk_ledger::balance::{balance_view, Balance};
use creditdesk_ledger::catalog::BurnOrderKey;
use creditdesk_ledger::engine::IngestResult;
use creditdesk_ledger::entry::{Attribution, Entry, EntryKind, Posting};
use creditdesk_ledger::grant::{Grant, GrantCategory, GrantSource};
use creditdesk_ledger::ids::{ActorId, EventId, GrantId};
use creditdesk_ledger::wallet::{GrantTotals, WalletState};
use creditdesk_ledger::Credits;
use proptest::prelude::*;
use proptest::sample::Index;
use rust_decimal::Decimal;

const START: &str = "2026-01-10";
const STEP_HOURS: i64 = 6;

fn step(n: i64) -> TimeDelta {
    TimeDelta::hours(STEP_HOURS * n)
}

const PRODUCTS: [&str; 5] = [CHAT, IMAGES, EMBEDDINGS, TRANSCRIPTION, TRANSLATION];
const CUSTOMERS: [&str; 2] = [ACME, BIGCO];

// ---------------------------------------------------------------------------
// Operations.

#[derive(Clone, Debug)]
struct GrantOp {
    customer: usize,
    minutes: bool,
    amount: Decimal,
    promo: bool,
    priority: u8,
    /// Bit mask over the credit type's products; `None` = unrestricted.
    restrict: Option<u8>,
    /// Start, in grid steps from now.
    effective: i64,
    jitter: i64,
    /// Lifetime in grid steps.
    lifetime: Option<i64>,
    /// (fraction, cap, days)
    rollover: Option<(Decimal, Option<Decimal>, i64)>,
}

#[derive(Clone, Debug)]
struct UseOp {
    customer: usize,
    product: usize,
    quantity: Decimal,
    /// Grid steps back from now (28 = exactly the 7-day window).
    back: i64,
    jitter: i64,
    /// Minutes ahead of now instead (5 = exactly the future skew).
    ahead_minutes: Option<i64>,
    backfill: bool,
}

#[derive(Clone, Debug)]
enum Op {
    Grant(GrantOp),
    Use(UseOp),
    Advance(i64),
    Sweep,
    Void(Index),
    Reverse(Index),
    Resend { which: Index, conflict: bool },
    Authorize { customer: usize, product: usize, quantity: Decimal },
}

fn credits_amount() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        3 => (1i64..=100).prop_map(Decimal::from),
        1 => (1i64..=100_000_000).prop_map(|n| Decimal::new(n, 6)),
    ]
}

fn quantity() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        4 => (0i64..=40).prop_map(Decimal::from),
        1 => (0i64..=40_000).prop_map(|n| Decimal::new(n, 3)),
    ]
}

fn jitter() -> impl Strategy<Value = i64> {
    prop_oneof![6 => Just(0i64), 1 => Just(-1i64), 1 => Just(1i64)]
}

fn grant_op() -> impl Strategy<Value = GrantOp> {
    let rollover = prop_oneof![
        2 => Just(None),
        1 => (
            prop::sample::select(vec![dec("0"), dec("0.25"), dec("0.5"), dec("1"), dec("0.333333")]),
            prop::option::of((1i64..=30).prop_map(Decimal::from)),
            1i64..=6,
        )
            .prop_map(Some),
    ];
    (
        (0usize..2, prop::bool::weighted(0.3), credits_amount(), any::<bool>()),
        (
            prop::sample::select(vec![1u8, 10, 50, 50, 50, 100]),
            prop::option::weighted(0.3, 1u8..=7),
            prop_oneof![3 => -28i64..=0, 1 => 1i64..=20],
            jitter(),
        ),
        (prop::option::weighted(0.7, 1i64..=40), rollover),
    )
        .prop_map(
            |((customer, minutes, amount, promo), (priority, restrict, effective, jitter), (lifetime, rollover))| {
                GrantOp {
                    customer,
                    minutes,
                    amount,
                    promo,
                    priority,
                    restrict,
                    effective,
                    jitter,
                    rollover: if lifetime.is_some() { rollover } else { None },
                    lifetime,
                }
            },
        )
}

fn use_op() -> impl Strategy<Value = UseOp> {
    (
        prop_oneof![3 => Just(0usize), 1 => Just(1usize)],
        0usize..PRODUCTS.len(),
        quantity(),
        prop_oneof![3 => Just(0i64), 4 => 0i64..=29, 1 => 27i64..=29],
        jitter(),
        prop::option::weighted(0.1, 0i64..=6),
        prop::option::weighted(0.1, 0i64..=60),
    )
        .prop_map(|(customer, product, quantity, back, jitter, ahead_minutes, backfill)| UseOp {
            customer,
            product,
            quantity,
            back: backfill.unwrap_or(back),
            jitter,
            ahead_minutes,
            backfill: backfill.is_some(),
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => grant_op().prop_map(Op::Grant),
        6 => use_op().prop_map(Op::Use),
        3 => prop_oneof![3 => 1i64..=4, 1 => 5i64..=20].prop_map(Op::Advance),
        1 => Just(Op::Sweep),
        1 => any::<Index>().prop_map(Op::Void),
        1 => any::<Index>().prop_map(Op::Reverse),
        1 => (any::<Index>(), any::<bool>()).prop_map(|(which, conflict)| Op::Resend { which, conflict }),
        1 => (0usize..2, 0usize..PRODUCTS.len(), quantity())
            .prop_map(|(customer, product, quantity)| Op::Authorize { customer, product, quantity }),
    ]
}

// ---------------------------------------------------------------------------
// Running a sequence on both ledgers.

/// What the test remembers beside the ledgers.
#[derive(Default)]
struct Model {
    /// Accepted events, in order: (spec with its explicit time, rated credits).
    events: Vec<(UsageSpec, Credits)>,
    reversed: HashSet<String>,
}

/// An operation's answer, comparable across the two ledgers.
#[derive(Debug, PartialEq)]
enum Answer {
    Granted,
    Refused(String),
    Ingested(String),
    Voided(Credits),
    Reversed(String),
    Authorized(bool, Credits, Credits),
    Nothing,
}

struct Run {
    lazy: Fx,
    eager: Fx,
    model: Model,
}

type Check = Result<(), TestCaseError>;

impl Run {
    fn new() -> Run {
        Run { lazy: Fx::new(ts(START)), eager: Fx::new(ts(START)), model: Model::default() }
    }

    fn apply(&mut self, n: usize, op: &Op) -> Check {
        // Ops that pick among existing things resolve the pick once, on lazy.
        let (a, b) = match op {
            Op::Use(u) => {
                let now = self.lazy.now();
                let t = match u.ahead_minutes {
                    Some(m) => now + TimeDelta::minutes(m),
                    None => now - step(u.back),
                } + TimeDelta::microseconds(u.jitter);
                let spec = usage(&format!("e{n}"), PRODUCTS[u.product], &u.quantity.to_string())
                    .customer(CUSTOMERS[u.customer])
                    .at(t);
                let a = ingest_and_check(&mut self.lazy, &spec, u.backfill)?;
                let b = ingest_and_check(&mut self.eager, &spec, u.backfill)?;
                if let IngestResult::Accepted { rating, .. } = &a {
                    self.model.events.push((spec, rating.credits));
                }
                (answer_of_ingest(&a), answer_of_ingest(&b))
            }
            Op::Grant(g) => {
                let spec = grant_spec(n, g, self.lazy.now());
                (grant_answer(&mut self.lazy, &spec), grant_answer(&mut self.eager, &spec))
            }
            Op::Advance(steps) => {
                self.lazy.advance(step(*steps));
                self.eager.advance(step(*steps));
                (Answer::Nothing, Answer::Nothing)
            }
            Op::Sweep => {
                sweep_and_check(&mut self.lazy)?;
                sweep_and_check(&mut self.eager)?;
                (Answer::Nothing, Answer::Nothing)
            }
            Op::Void(pick) => {
                let mut ids: Vec<GrantId> =
                    self.lazy.ledger.wallets().flat_map(|w| w.grants().iter().map(|g| g.grant.id.clone())).collect();
                if ids.is_empty() {
                    return Ok(());
                }
                ids.sort();
                let id = pick.get(&ids).clone();
                (void_and_check(&mut self.lazy, &id)?, void_and_check(&mut self.eager, &id)?)
            }
            Op::Reverse(pick) => {
                if self.model.events.is_empty() {
                    return Ok(());
                }
                let (spec, rated) = pick.get(&self.model.events).clone();
                let already = self.model.reversed.contains(&spec.id);
                let a = reverse_and_check(&mut self.lazy, &spec, rated, already)?;
                let b = reverse_and_check(&mut self.eager, &spec, rated, already)?;
                if matches!(a, Answer::Reversed(_)) {
                    self.model.reversed.insert(spec.id.clone());
                }
                (a, b)
            }
            Op::Resend { which, conflict } => {
                if self.model.events.is_empty() {
                    return Ok(());
                }
                let (mut spec, _) = pick_clone(which, &self.model.events);
                if *conflict {
                    spec.quantity += Decimal::ONE;
                }
                (
                    resend_and_check(&mut self.lazy, &spec, *conflict)?,
                    resend_and_check(&mut self.eager, &spec, *conflict)?,
                )
            }
            Op::Authorize { customer: c, product: p, quantity } => {
                let a = authorize_and_check(&self.lazy, c, p, *quantity, false)?;
                (a, authorize_and_check(&self.eager, c, p, *quantity, true)?)
            }
        };
        prop_assert_eq!(&a, &b, "lazy and eager ledgers answer {:?} differently", op);
        self.eager.sweep();
        check_ledger(&self.lazy, &self.model).map_err(|e| context(e, "lazy"))?;
        check_ledger(&self.eager, &self.model).map_err(|e| context(e, "eager"))?;
        same_balances(&self.lazy, &self.eager)
    }

    /// The end of a sequence: a day later, both fully swept, the same entries.
    fn finish(&mut self) -> Check {
        self.lazy.advance(TimeDelta::days(1));
        self.eager.advance(TimeDelta::days(1));
        check_ledger(&self.lazy, &self.model).map_err(|e| context(e, "lazy, a day later"))?;
        sweep_and_check(&mut self.lazy)?;
        sweep_and_check(&mut self.eager)?;
        check_ledger(&self.lazy, &self.model).map_err(|e| context(e, "lazy, swept"))?;
        same_balances(&self.lazy, &self.eager)?;
        let key = |e: &Entry| {
            (
                e.customer.to_string(),
                e.credit_type.to_string(),
                e.grant.as_ref().map(|g| g.to_string()),
                e.kind,
                e.booked_at,
                e.amount,
                e.event.as_ref().map(|g| g.to_string()),
                e.product.as_ref().map(|g| g.to_string()),
            )
        };
        let mut a: Vec<_> = self.lazy.ledger.entries().iter().map(key).collect();
        let mut b: Vec<_> = self.eager.ledger.entries().iter().map(key).collect();
        a.sort();
        b.sort();
        prop_assert_eq!(a, b, "the same entries whether or not the sweeper ran along the way");
        Ok(())
    }
}

fn pick_clone(which: &Index, events: &[(UsageSpec, Credits)]) -> (UsageSpec, Credits) {
    which.get(events).clone()
}

fn context(e: TestCaseError, what: &str) -> TestCaseError {
    match e {
        TestCaseError::Fail(msg) => TestCaseError::fail(format!("[{what}] {msg}")),
        other => other,
    }
}

fn grant_spec(n: usize, g: &GrantOp, now: DateTime<Utc>) -> GrantSpec {
    let ct = if g.minutes { MINUTES } else { API };
    let effective = now + step(g.effective) + TimeDelta::microseconds(g.jitter);
    let mut spec = grant(&format!("g{n}"), &g.amount.to_string())
        .customer(CUSTOMERS[g.customer])
        .credit_type(ct)
        .priority(g.priority)
        .effective(effective);
    if g.promo {
        spec = spec.promotional();
    }
    if let Some(mask) = g.restrict {
        let products: &[&str] = if g.minutes { &MINUTES_PRODUCTS } else { &API_PRODUCTS };
        let chosen: Vec<&str> =
            products.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, p)| *p).collect();
        if !chosen.is_empty() {
            spec = spec.products(&chosen);
        }
    }
    if let Some(life) = g.lifetime {
        spec = spec.expires(effective + step(life));
        if let Some((fraction, cap, days)) = g.rollover {
            let cap = cap.map(|c| c.to_string());
            spec = spec.rollover(&fraction.to_string(), cap.as_deref(), TimeDelta::days(days));
        }
    }
    spec
}

fn grant_answer(fx: &mut Fx, spec: &GrantSpec) -> Answer {
    match fx.grant(spec) {
        Ok(_) => Answer::Granted,
        Err(e) => Answer::Refused(e.to_string()),
    }
}

fn answer_of_ingest(r: &IngestResult) -> Answer {
    match r {
        // Entry sequence numbers differ between the ledgers; the rest may not.
        IngestResult::Accepted { rating, allocation, .. } => Answer::Ingested(format!("{rating:?} {allocation:?}")),
        other => Answer::Ingested(format!("{other:?}")),
    }
}

// ---------------------------------------------------------------------------
// Operation checks.

/// Ingests, then checks timing, rating and (e) the allocation order.
fn ingest_and_check(fx: &mut Fx, spec: &UsageSpec, backfill: bool) -> Result<IngestResult, TestCaseError> {
    let now = fx.now();
    let before = fx.ledger.entries().len();
    let r = if backfill { fx.backfill(spec) } else { fx.ingest(spec) };
    let t = spec.at.expect("explicit time");
    let too_old = !backfill && t < now - TimeDelta::days(7);
    let in_future = t > now + TimeDelta::minutes(5);
    match &r {
        IngestResult::Accepted { rating, allocation, .. } => {
            prop_assert!(!too_old && !in_future, "accepted an event outside the window: {:?}", spec);
            let burned: Credits = allocation.burns.iter().map(|(_, c)| *c).sum();
            prop_assert_eq!(burned + allocation.overage, rating.credits, "allocation covers the rated credits");
            check_allocation_order(fx, spec)?;
        }
        IngestResult::Rejected { reason } => {
            let code = reason.code();
            prop_assert!(
                (too_old && code == "event_too_old") || (in_future && code == "event_in_future"),
                "rejected {:?} as {}",
                spec,
                code
            );
            let listed = fx.ledger.rejected().last().expect("listed");
            prop_assert_eq!(listed.event.id.as_str(), spec.id.as_str(), "a rejected event is listed");
            prop_assert_eq!(listed.reason.code(), code);
            prop_assert_eq!(fx.ledger.entries().len(), before, "a rejected event writes nothing");
        }
        IngestResult::Duplicate { .. } => prop_assert!(false, "fresh event ids are never duplicates"),
    }
    Ok(r)
}

/// The brief's burn order, written independently of the library's comparator.
fn reference_cmp(keys: &[BurnOrderKey], a: &Grant, b: &Grant) -> Ordering {
    let mut ord = Ordering::Equal;
    for key in keys {
        ord = ord.then_with(|| match key {
            BurnOrderKey::Priority => a.priority.cmp(&b.priority),
            // Restricted (has a product list) first.
            BurnOrderKey::RestrictedFirst => a.products.is_none().cmp(&b.products.is_none()),
            // Soonest expiry first, no expiry last.
            BurnOrderKey::ExpiresAt => {
                (a.expires_at.is_none(), a.expires_at).cmp(&(b.expires_at.is_none(), b.expires_at))
            }
            BurnOrderKey::PromotionalFirst => {
                (a.category == GrantCategory::Paid).cmp(&(b.category == GrantCategory::Paid))
            }
            BurnOrderKey::EffectiveAt => a.effective_at.cmp(&b.effective_at),
        });
    }
    ord.then_with(|| a.id.cmp(&b.id))
}

/// What usage at `t` could still take from a grant: its remainder, or once
/// its expiry is booked, the expired part not yet taken back by corrections.
fn drawable(w: &WalletState, entries: &[Entry], id: &GrantId, t: DateTime<Utc>, expire_booked: bool) -> Credits {
    let g = w.grant(id).expect("grant");
    if g.voided_at.is_some() || t < g.grant.effective_at || g.grant.expires_at.is_some_and(|e| t >= e) {
        return Credits::ZERO;
    }
    let left = if expire_booked { g.totals.expired - g.totals.corrected } else { g.totals.remaining() };
    // Credits a reversal gave back after t were not in the grant at t.
    let restored_later: Credits = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Reversal && e.grant.as_ref() == Some(id) && e.booked_at > t)
        .map(|e| e.amount)
        .sum();
    (left - restored_later).max(Credits::ZERO)
}

/// (e): the event's burns follow the burn order; every eligible grant before
/// the last one touched (all of them if there is overage) is drained.
fn check_allocation_order(fx: &Fx, spec: &UsageSpec) -> Check {
    let ev = event_id(&spec.id);
    let t = spec.at.expect("explicit time");
    let mine: Vec<&Entry> = fx.ledger.entries_of_event(&ev).collect();
    let Some(first) = mine.first() else { return Ok(()) };
    let w = fx.ledger.wallet(&first.customer, &first.credit_type).expect("wallet");
    let keys = w.credit_type().burn_order.keys().to_vec();
    let burns: Vec<&Grant> = mine
        .iter()
        .filter(|e| e.kind == EntryKind::Burn)
        .map(|e| &*w.grant(e.grant.as_ref().expect("burn has a grant")).expect("known grant").grant)
        .collect();
    for pair in burns.windows(2) {
        prop_assert_eq!(
            reference_cmp(&keys, pair[0], pair[1]),
            Ordering::Less,
            "burns of {} out of burn order: {} then {}",
            spec.id,
            pair[0].id,
            pair[1].id
        );
    }
    let overage = mine.iter().any(|e| e.kind == EntryKind::Overage);
    let expire_booked: HashSet<&GrantId> = fx
        .ledger
        .entries()
        .iter()
        .filter(|e| e.kind == EntryKind::Expire && e.customer == first.customer)
        .filter_map(|e| e.grant.as_ref())
        .collect();
    let product = product(&spec.product);
    for g in w.grants() {
        let earlier = match burns.last() {
            _ if overage => true,
            Some(last) => reference_cmp(&keys, &g.grant, last) == Ordering::Less,
            None => false,
        };
        if earlier && g.grant.admits(&product) {
            let left = drawable(w, fx.ledger.entries(), &g.grant.id, t, expire_booked.contains(&g.grant.id));
            prop_assert!(
                left.is_zero(),
                "{} skipped eligible grant {} ({} left) before {:?}",
                spec.id,
                g.grant.id,
                left,
                burns.last().map(|g| &g.id)
            );
        }
    }
    Ok(())
}

fn void_and_check(fx: &mut Fx, id: &GrantId) -> Result<Answer, TestCaseError> {
    let now = fx.now();
    let w = fx.ledger.wallets().find(|w| w.grant(id).is_some()).expect("wallet of grant");
    let g = w.grant(id).expect("grant").clone();
    // The remainder after the catch-up the void runs first (it includes usage
    // booked a few minutes ahead, which a balance now leaves out).
    let mut caught_up = w.clone();
    caught_up.catch_up(&mut scratch_posting(now));
    let remainder = caught_up.grant(id).expect("grant").totals.remaining();
    let before = fx.ledger.entries().len();
    let out = fx.void(id);
    let should_fail = g.voided_at.is_some() || g.grant.is_expired_at(now);
    match out {
        Ok(v) => {
            prop_assert!(!should_fail, "voided {} although voided or expired", id);
            prop_assert_eq!(v, remainder, "a void forfeits the remainder");
            Ok(Answer::Voided(v))
        }
        Err(e) => {
            prop_assert!(should_fail, "void of {} refused: {}", id, e);
            prop_assert_eq!(e.code(), "grant_state_conflict");
            prop_assert_eq!(fx.ledger.entries().len(), before, "a refused void writes nothing");
            Ok(Answer::Refused(e.to_string()))
        }
    }
}

fn reverse_and_check(fx: &mut Fx, spec: &UsageSpec, rated: Credits, already: bool) -> Result<Answer, TestCaseError> {
    let event = spec.id.as_str();
    let not_yet = spec.at.expect("explicit time") > fx.now();
    let before = fx.ledger.entries().len();
    match fx.reverse(event) {
        Ok(r) => {
            prop_assert!(!already, "{} reversed twice", event);
            prop_assert!(rated.is_positive(), "{} booked nothing but was reversed", event);
            prop_assert!(!not_yet, "{} reversed before its event time", event);
            prop_assert_eq!(r.total(), rated, "a reversal gives back exactly the rated credits of {}", event);
            Ok(Answer::Reversed(format!("{r:?}")))
        }
        Err(e) => {
            let want = if already {
                "already_reversed"
            } else if rated.is_zero() {
                "nothing_to_reverse"
            } else if not_yet {
                "validation_failed"
            } else {
                ""
            };
            prop_assert_eq!(e.code(), want, "reversal of {} refused: {}", event, e);
            prop_assert_eq!(fx.ledger.entries().len(), before, "a refused reversal writes nothing");
            Ok(Answer::Refused(e.to_string()))
        }
    }
}

fn resend_and_check(fx: &mut Fx, spec: &UsageSpec, conflict: bool) -> Result<Answer, TestCaseError> {
    let before = (fx.ledger.entries().len(), fx.ledger.rejected().len());
    let r = fx.ingest(spec);
    match (&r, conflict) {
        (IngestResult::Duplicate { .. }, false) => {}
        (IngestResult::Rejected { reason }, true) => prop_assert_eq!(reason.code(), "idempotency_conflict"),
        _ => prop_assert!(false, "resent {:?} (conflict: {}) gave {:?}", spec, conflict, r),
    }
    // A resend writes no entry; a conflict is kept in the rejected store
    // (`docs/ledger.md`: nothing is silently dropped), a duplicate is not.
    let kept = usize::from(conflict);
    prop_assert_eq!((fx.ledger.entries().len(), fx.ledger.rejected().len()), (before.0, before.1 + kept));
    if conflict {
        let last = fx.ledger.rejected().last().map(|r| r.reason.code());
        prop_assert_eq!(last, Some("idempotency_conflict"));
    }
    Ok(answer_of_ingest(&r))
}

fn authorize_and_check(fx: &Fx, c: &usize, p: &usize, quantity: Decimal, swept: bool) -> Result<Answer, TestCaseError> {
    let before = fx.ledger.entries().len();
    let cust = customer(CUSTOMERS[*c]);
    let prod = product(PRODUCTS[*p]);
    let a = fx.ledger.authorize(&cust, &prod, quantity).expect("authorize");
    // On the swept ledger (every expiry and settlement due is written):
    // available for the product = what the entries leave in the grants that
    // are live now and admit it, counting usage booked a few minutes ahead
    // (inside the future skew) as spent. The unswept ledger must answer the
    // same (checked by the caller).
    if swept {
        let now = fx.now();
        let ct = fx.ledger.catalog().product(&prod).expect("product").credit_type.clone();
        let w = fx.ledger.wallet(&cust, &ct);
        let available: Credits = w
            .iter()
            .flat_map(|w| w.grants())
            .filter(|g| g.grant.in_term_at(now) && g.voided_at.is_none() && g.grant.admits(&prod))
            .map(|g| {
                fx.ledger.entries().iter().filter(|e| e.grant.as_ref() == Some(&g.grant.id)).map(|e| e.amount).sum()
            })
            .sum();
        prop_assert_eq!(a.available, available, "authorize: available for {}", prod);
    }
    prop_assert_eq!(a.allowed, a.available >= a.required);
    prop_assert_eq!(fx.ledger.entries().len(), before, "authorize writes nothing");
    Ok(Answer::Authorized(a.allowed, a.required, a.available))
}

// ---------------------------------------------------------------------------
// Ledger-wide checks.

/// Instants at which balances are compared: now and a few earlier ones.
fn instants(now: DateTime<Utc>) -> [DateTime<Utc>; 4] {
    [now, now - TimeDelta::microseconds(1), now - step(1), now - step(5)]
}

fn every_balance(fx: &Fx) -> Vec<Balance> {
    let now = fx.now();
    let mut out = Vec::new();
    let mut wallets: Vec<_> = fx.ledger.wallets().map(|w| (w.customer().clone(), w.credit_type().id.clone())).collect();
    wallets.sort();
    for (c, ct) in &wallets {
        for at in instants(now) {
            for as_of in [now, now - step(4)] {
                let b = fx.ledger.balance(c, ct, Some(at), Some(as_of)).expect("balance");
                out.push(b);
            }
        }
    }
    out
}

/// (f): a sweep changes no balance and a second one writes nothing; each
/// grant has at most one `expire` entry; rollovers follow the rule.
fn sweep_and_check(fx: &mut Fx) -> Check {
    let before = every_balance(fx);
    fx.sweep();
    let after = every_balance(fx);
    for (b, a) in before.iter().zip(&after) {
        prop_assert_eq!(b, a, "a sweep changed a balance");
    }
    prop_assert_eq!(fx.sweep().len(), 0, "a second sweep wrote something");
    let now = fx.now();
    for w in fx.ledger.wallets() {
        for g in w.grants() {
            let expires: Vec<&Entry> =
                fx.entries_of_grant(g.grant.id.as_str()).into_iter().filter(|e| e.kind == EntryKind::Expire).collect();
            let due = g.grant.expires_at.is_some_and(|e| e <= now) && g.voided_at.is_none();
            prop_assert_eq!(expires.len(), usize::from(due), "expire entries of {} after a sweep", g.grant.id);
            if let Some(e) = expires.first() {
                prop_assert_eq!(Some(e.booked_at), g.grant.expires_at, "expire booked at expires_at");
            }
        }
    }
    check_rollovers(fx)
}

/// Rollover: `rolled = min(cap, floor6(remainder x fraction))`; the child
/// grant has the old grant's priority, category and products, starts at the
/// old expiry and lives `expires_after`.
fn check_rollovers(fx: &Fx) -> Check {
    for w in fx.ledger.wallets() {
        for g in w.grants() {
            let (Some(policy), Some(exp)) = (g.grant.rollover, g.grant.expires_at) else { continue };
            let entries = fx.entries_of_grant(g.grant.id.as_str());
            let Some(expire) = entries.iter().find(|e| e.kind == EntryKind::Expire) else { continue };
            let rolled: Credits = entries.iter().filter(|e| e.kind == EntryKind::RolloverOut).map(|e| -e.amount).sum();
            let remainder = rolled - expire.amount;
            let mut want = remainder.get() * policy.fraction;
            want = want.trunc_with_scale(6);
            if let Some(cap) = policy.max_amount {
                want = want.min(cap.get());
            }
            prop_assert_eq!(rolled.get(), want, "rolled part of {} (remainder {})", g.grant.id, remainder);
            let child = w
                .grants()
                .iter()
                .find(|c| c.grant.source == GrantSource::Rollover && c.grant.parent.as_ref() == Some(&g.grant.id));
            match child {
                None => prop_assert!(rolled.is_zero(), "{} rolled {} into no grant", g.grant.id, rolled),
                Some(c) => {
                    let c = &c.grant;
                    prop_assert_eq!(c.id.as_str(), format!("{}~rollover", g.grant.id));
                    prop_assert_eq!(c.source, GrantSource::Rollover);
                    prop_assert_eq!(c.amount, rolled);
                    prop_assert_eq!(c.effective_at, exp);
                    prop_assert_eq!(c.expires_at, Some(exp + policy.expires_after));
                    prop_assert_eq!(
                        (c.priority, c.category, &c.products),
                        (g.grant.priority, g.grant.category, &g.grant.products)
                    );
                    prop_assert!(c.rollover.is_none(), "a rollover grant does not roll over again");
                }
            }
        }
    }
    Ok(())
}

/// The lazy and eager ledgers show the same balances.
fn same_balances(lazy: &Fx, eager: &Fx) -> Check {
    let (a, b) = (every_balance(lazy), every_balance(eager));
    prop_assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        prop_assert_eq!(x, y, "lazy and eager ledgers differ");
    }
    Ok(())
}

/// Per-grant totals folded from raw entries, checking each entry's sign.
fn fold_entries<'a>(entries: impl Iterator<Item = &'a Entry>) -> Result<BTreeMap<String, GrantTotals>, TestCaseError> {
    let mut out: BTreeMap<String, GrantTotals> = BTreeMap::new();
    for e in entries {
        let a = e.amount;
        let ok = match e.kind {
            EntryKind::Grant | EntryKind::ExpiryCorrection | EntryKind::Reversal => a.is_positive(),
            EntryKind::Burn | EntryKind::Overage | EntryKind::OverageSettled | EntryKind::RolloverOut => {
                a.is_negative()
            }
            EntryKind::Expire | EntryKind::Void => !a.is_positive(),
        };
        prop_assert!(ok, "entry {} has the wrong sign: {:?}", e.seq, e);
        let Some(g) = &e.grant else {
            prop_assert!(
                matches!(e.kind, EntryKind::Overage | EntryKind::Reversal),
                "only overage lacks a grant: {:?}",
                e
            );
            continue;
        };
        let t = out.entry(g.to_string()).or_default();
        match e.kind {
            EntryKind::Grant => t.amount += a,
            EntryKind::Burn => t.burned -= a,
            EntryKind::OverageSettled => t.settled -= a,
            EntryKind::Expire => t.expired -= a,
            EntryKind::ExpiryCorrection => t.corrected += a,
            EntryKind::RolloverOut => t.rolled -= a,
            EntryKind::Void => t.voided -= a,
            EntryKind::Reversal => t.reversed += a,
            EntryKind::Overage => prop_assert!(false, "overage on a grant: {:?}", e),
        }
    }
    Ok(out)
}

/// How much of the overage entry it points at an entry covers: a
/// settlement (-x on the paying grant) or an overage reversal (+x, no grant).
fn covers(e: &Entry) -> Credits {
    match e.kind {
        EntryKind::OverageSettled => -e.amount,
        EntryKind::Reversal if e.grant.is_none() => e.amount,
        _ => Credits::ZERO,
    }
}

fn terms(t: &GrantTotals) -> [Credits; 8] {
    [t.amount, t.burned, t.settled, t.expired, t.corrected, t.rolled, t.voided, t.reversed]
}

fn conserves(t: &GrantTotals, remaining: Credits) -> bool {
    t.amount + t.reversed + t.corrected == t.burned + t.expired + t.rolled + t.voided + t.settled + remaining
}

fn check_ledger(fx: &Fx, model: &Model) -> Check {
    let now = fx.now();
    let all = fx.ledger.entries();
    let by_seq: HashMap<u64, &Entry> = all.iter().map(|e| (e.seq, e)).collect();
    let folded = fold_entries(all.iter())?;
    for w in fx.ledger.wallets() {
        let (cust, ct) = (w.customer(), &w.credit_type().id);
        // (a) from entries and from the live wallet.
        for g in w.grants() {
            let id = g.grant.id.to_string();
            let from_entries = folded.get(&id).copied().unwrap_or_default();
            prop_assert_eq!(g.totals, from_entries, "live totals of {} = totals folded from its entries", id);
            prop_assert_eq!(g.totals.amount, g.grant.amount, "grant entry of {}", id);
            prop_assert!(terms(&g.totals).iter().all(|c| !c.is_negative()), "negative term on {}: {:?}", id, g.totals);
            let signed: Credits = all.iter().filter(|e| e.grant.as_ref() == Some(&g.grant.id)).map(|e| e.amount).sum();
            prop_assert!(!signed.is_negative(), "(g) negative remaining on {}: {}", id, signed);
            prop_assert!(conserves(&g.totals, signed), "conservation on {}: {:?}, remaining {}", id, g.totals, signed);
        }
        // (a, g) from balances, now and at earlier instants, as known now.
        for at in instants(now) {
            let bal = fx.ledger.balance(cust, ct, Some(at), None).expect("balance");
            for l in &bal.grants {
                prop_assert!(
                    terms(&l.totals).iter().all(|c| !c.is_negative()) && !l.remaining.is_negative(),
                    "negative term on {} at {}: {:?} remaining {}",
                    l.grant.id,
                    at,
                    l.totals,
                    l.remaining
                );
                prop_assert!(conserves(&l.totals, l.remaining), "conservation on {} at {}", l.grant.id, at);
            }
            prop_assert_eq!(bal.net, bal.available - bal.overage);
        }
        // (d) live = replay, and History::balance = the live wallet's balance.
        check_replay_and_history(fx, w)?;
        // Outstanding overage = overage entries less their settlements and reversals.
        let mut outstanding = Credits::ZERO;
        for o in all.iter().filter(|e| e.kind == EntryKind::Overage && &e.customer == cust && &e.credit_type == ct) {
            let covered: Credits = all.iter().filter(|e| e.related == Some(o.seq)).map(covers).sum();
            let left = -o.amount - covered;
            prop_assert!(!left.is_negative(), "overage {} over-covered by {}", o.seq, covered);
            outstanding += left;
        }
        prop_assert_eq!(w.outstanding_overage(), outstanding, "outstanding overage of {}/{}", cust, ct);
    }
    // (b) per event.
    for (spec, rated) in &model.events {
        let ev = event_id(&spec.id);
        let mine: Vec<&Entry> = fx.ledger.entries_of_event(&ev).collect();
        let used: Credits =
            mine.iter().filter(|e| matches!(e.kind, EntryKind::Burn | EntryKind::Overage)).map(|e| -e.amount).sum();
        prop_assert_eq!(used, *rated, "(b) event {}: burns + overage = rated credits", spec.id);
        if model.reversed.contains(&spec.id) {
            check_reversed_event(&ev, &mine)?;
        }
    }
    // (c) no burn or settlement from an ineligible grant.
    let voids: Vec<&Entry> = all.iter().filter(|e| e.kind == EntryKind::Void).collect();
    for e in all.iter().filter(|e| matches!(e.kind, EntryKind::Burn | EntryKind::OverageSettled)) {
        let gid = e.grant.as_ref().expect("burns and settlements name their grant");
        let w = fx.ledger.wallet(&e.customer, &e.credit_type).expect("wallet");
        let g = &w.grant(gid).expect("known grant").grant;
        let t = e.booked_at;
        prop_assert!(g.effective_at <= t, "(c) {:?} {} before {} started", e.kind, e.seq, gid);
        prop_assert!(!g.is_expired_at(t), "(c) {:?} {} after {} expired", e.kind, e.seq, gid);
        prop_assert!(g.admits(e.product.as_ref().expect("product")), "(c) {} does not admit {:?}", gid, e.product);
        prop_assert!(
            !voids.iter().any(|v| v.grant.as_ref() == Some(gid) && v.seq < e.seq),
            "(c) {:?} {} from voided {}",
            e.kind,
            e.seq,
            gid
        );
        if e.kind == EntryKind::OverageSettled {
            let o = by_seq.get(&e.related.expect("settlement names its overage")).expect("overage entry");
            prop_assert_eq!(o.kind, EntryKind::Overage);
            prop_assert!(o.booked_at <= t, "settlement {} booked before its overage", e.seq);
            prop_assert!(o.product == e.product && o.event == e.event, "settlement {} is of its overage", e.seq);
        }
    }
    Ok(())
}

/// A reversed event nets to zero: all its overage is covered, and what its
/// burns and settlements took came back (to the grant or as a refund grant).
fn check_reversed_event(ev: &EventId, mine: &[&Entry]) -> Check {
    let mut net = Credits::ZERO;
    for e in mine {
        match e.kind {
            EntryKind::Burn | EntryKind::OverageSettled => net += e.amount,
            EntryKind::Reversal if e.grant.is_some() => net += e.amount,
            EntryKind::Grant => net += e.amount,
            EntryKind::Overage => {
                let covered: Credits = mine.iter().filter(|x| x.related == Some(e.seq)).map(|x| covers(x)).sum();
                prop_assert_eq!(covered, -e.amount, "reversed event {}: overage {} fully covered", ev, e.seq);
            }
            _ => {}
        }
    }
    prop_assert!(net.is_zero(), "reversed event {} nets to {} on grants", ev, net);
    Ok(())
}

/// A posting for catch-ups the test runs on copies of wallets.
fn scratch_posting(now: DateTime<Utc>) -> Posting {
    Posting::new(now, u64::MAX / 2, Attribution::actor(ActorId::new("check").expect("id")))
}

/// (d): replaying the wallet's grants and entries gives the live wallet, and
/// the history's balance now is the balance read off the live wallet.
fn check_replay_and_history(fx: &Fx, w: &WalletState) -> Check {
    let now = fx.now();
    let (cust, ct) = (w.customer().clone(), w.credit_type().clone());
    let mine: Vec<&Entry> =
        fx.ledger.entries().iter().filter(|e| e.customer == cust && e.credit_type == ct.id).collect();
    let grants = w.grants().iter().map(|g| g.grant.clone());
    let mut replayed = WalletState::replay(cust.clone(), ct.clone(), grants, mine.iter().copied()).expect("replay");
    let mut live = w.clone();
    let (mut p1, mut p2) = (scratch_posting(now), scratch_posting(now));
    live.catch_up(&mut p1);
    replayed.catch_up(&mut p2);
    let shape = |s: &WalletState| {
        s.grants()
            .iter()
            .map(|g| (g.grant.id.to_string(), g.totals, g.voided_at, g.expiry_seq.is_some()))
            .collect::<Vec<_>>()
    };
    prop_assert_eq!(shape(&live), shape(&replayed), "live wallet = replay of its entries ({}/{})", cust, ct.id);
    prop_assert_eq!(live.outstanding_overage(), replayed.outstanding_overage());
    let items = |s: &WalletState| s.overage_items().iter().map(|o| (o.seq, o.outstanding())).collect::<Vec<_>>();
    prop_assert_eq!(items(&live), items(&replayed));
    // The same entries; the order of writes within one catch-up may differ
    // (the replay also passes the instants of expiries already booked).
    let written = |p: &Posting| {
        let mut w: Vec<_> = p.entries.iter().map(|e| (e.booked_at, e.grant.clone(), e.kind, e.amount)).collect();
        w.sort();
        w
    };
    prop_assert_eq!(written(&p1), written(&p2), "the same catch-up from the live wallet and the replay");

    // Usage a few minutes in the future is booked after now: the history
    // rightly leaves it out of a balance now, the live wallet holds it.
    if mine.iter().any(|e| e.booked_at > now && !matches!(e.kind, EntryKind::Grant | EntryKind::Void)) {
        return Ok(());
    }
    let history = fx.ledger.balance(&cust, &ct.id, None, None).expect("balance");
    let from_live = balance_view(&live, now, now, |g| live.grant(&g.id).is_some_and(|s| s.voided_at.is_some()));
    let lines = |b: &Balance| {
        b.grants.iter().map(|l| (l.grant.id.to_string(), l.status, l.remaining, l.totals)).collect::<Vec<_>>()
    };
    prop_assert_eq!(
        (history.available, history.pending, history.overage, history.net, &history.expiring),
        (from_live.available, from_live.pending, from_live.overage, from_live.net, &from_live.expiring),
        "History::balance(now, now) = balance of the live wallet"
    );
    prop_assert_eq!(lines(&history), lines(&from_live));
    Ok(())
}

// ---------------------------------------------------------------------------

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(128)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), max_shrink_iters: 2000, ..ProptestConfig::default() })]

    #[test]
    fn ledger_invariants_hold_under_random_operations(ops in prop::collection::vec(op(), 1..50)) {
        let mut run = Run::new();
        for (n, op) in ops.iter().enumerate() {
            run.apply(n, op).map_err(|e| context(e, &format!("op {n}: {op:?}")))?;
        }
        run.finish()?;
    }
}
