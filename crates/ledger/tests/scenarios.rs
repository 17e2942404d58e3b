//! Scenario tests written as data tables, in the style of the worked examples
//! in billing vendors' documentation ("promotional credits burn before paid",
//! "a monthly allotment of 1,000 with 50% rollover capped at 300", ...).
//!
//! Each table is a list of [`Step`]s: move the clock, grant, use, void,
//! reverse, sweep, and expect balances, grant lines, entries, rejections and
//! authorizations. Every expected number was worked out by hand from
//! `../shared/brief/ledger.md` and `docs/ledger.md` (the arithmetic is in the
//! comments). The catalog is described in `tests/common/mod.rs`.
//!
//! Every table runs twice: once with the sweeper only where the table says
//! `Sweep`, once with a sweep after *every* step. Both runs must meet every
//! expectation: results may not depend on whether the sweeper ran. After
//! every step the runner also checks the per-grant conservation invariant
//! and `rated = burns + overage` for every event, and at every `Sweep` that
//! balances are the same before and after and that a second sweep writes
//! nothing.

mod common;

use chrono::TimeDelta;
use common::*;
use creditdesk_ledger::balance::{Balance, GrantStatus};
use creditdesk_ledger::engine::IngestResult;
use creditdesk_ledger::entry::{Entry, EntryKind};
use creditdesk_ledger::grant::{GrantCategory, GrantSource};
use creditdesk_ledger::Credits;

// ---------------------------------------------------------------------------
// The table language.

/// A grant row. Defaults ([`GRANT`]): customer `acme`, credit type `api`,
/// paid purchase, priority 50, effective now, no expiry, all products.
#[derive(Clone, Copy, Debug)]
struct G {
    id: &'static str,
    customer: &'static str,
    credit_type: &'static str,
    amount: &'static str,
    promo: bool,
    priority: Option<u8>,
    effective: Option<&'static str>,
    expires: Option<&'static str>,
    /// Empty: unrestricted.
    products: &'static [&'static str],
    rollover: Option<Roll>,
}

/// Rollover policy: `fraction` of the remainder, capped at `max`, for `days`.
#[derive(Clone, Copy, Debug)]
struct Roll {
    fraction: &'static str,
    max: Option<&'static str>,
    days: i64,
}

const GRANT: G = G {
    id: "",
    customer: ACME,
    credit_type: API,
    amount: "0",
    promo: false,
    priority: None,
    effective: None,
    expires: None,
    products: &[],
    rollover: None,
};

/// A usage row and what the ledger must answer. Defaults ([`USE`]):
/// customer `acme`, event time = now.
#[derive(Clone, Copy, Debug)]
struct U {
    id: &'static str,
    customer: &'static str,
    product: &'static str,
    quantity: &'static str,
    at: Option<&'static str>,
    expect: Outcome,
}

#[derive(Clone, Copy, Debug)]
enum Outcome {
    /// Accepted: these burns (grant, credits) in this order, then overage.
    Burns(&'static [(&'static str, &'static str)], &'static str),
    /// Rejected with this code; nothing written.
    Rejected(&'static str),
    /// A duplicate; nothing written.
    Duplicate,
}

const USE: U = U { id: "", customer: ACME, product: "", quantity: "0", at: None, expect: Outcome::Rejected("unset") };

/// A balance expectation. Defaults ([`BAL`]): `acme`/`api`, at now as known
/// now, every number 0, expiring schedule not checked.
#[derive(Clone, Copy, Debug)]
struct Bal {
    customer: &'static str,
    credit_type: &'static str,
    at: Option<&'static str>,
    as_of: Option<&'static str>,
    available: &'static str,
    pending: &'static str,
    overage: &'static str,
    net: &'static str,
    /// (expires_at, amount), soonest first.
    expiring: Option<&'static [(&'static str, &'static str)]>,
}

const BAL: Bal = Bal {
    customer: ACME,
    credit_type: API,
    at: None,
    as_of: None,
    available: "0",
    pending: "0",
    overage: "0",
    net: "0",
    expiring: None,
};

/// One grant's line of a balance. Defaults ([`LINE`]): `acme`/`api`, now as
/// known now, status `active`, every term 0.
#[derive(Clone, Copy, Debug)]
struct Line {
    id: &'static str,
    customer: &'static str,
    credit_type: &'static str,
    at: Option<&'static str>,
    as_of: Option<&'static str>,
    status: &'static str,
    amount: &'static str,
    burned: &'static str,
    settled: &'static str,
    expired: &'static str,
    corrected: &'static str,
    rolled: &'static str,
    voided: &'static str,
    reversed: &'static str,
    remaining: &'static str,
    /// Checked when given: the grant's own fields.
    effective: Option<&'static str>,
    expires: Option<&'static str>,
    source: Option<GrantSource>,
}

const LINE: Line = Line {
    id: "",
    customer: ACME,
    credit_type: API,
    at: None,
    as_of: None,
    status: "active",
    amount: "0",
    burned: "0",
    settled: "0",
    expired: "0",
    corrected: "0",
    rolled: "0",
    voided: "0",
    reversed: "0",
    remaining: "0",
    effective: None,
    expires: None,
    source: None,
};

#[derive(Clone, Copy, Debug)]
enum Step {
    /// Move the clock to this instant.
    At(&'static str),
    Grant(G),
    /// Live usage (late window applies).
    Use(U),
    /// Admin backfill (late window lifted).
    Backfill(U),
    /// Void a grant; it forfeits this remainder.
    Void(&'static str, &'static str),
    /// Voiding fails with this error code.
    VoidFails(&'static str, &'static str),
    /// Reverse an event: credits back to live grants, `dispute_refund`
    /// grants (named by the original grant), overage cancelled.
    Reverse {
        event: &'static str,
        restored: &'static [(&'static str, &'static str)],
        refunds: &'static [(&'static str, &'static str)],
        overage_cancelled: &'static str,
    },
    ReverseFails(&'static str, &'static str),
    /// Run the background sweeper.
    Sweep,
    Expect(Bal),
    ExpectLine(Line),
    /// Every entry on a grant: (kind, signed amount, booked_at), any order.
    Entries(&'static str, &'static [(&'static str, &'static str, &'static str)]),
    /// `ledger.rejected()`, in order: (event id, reason code).
    Rejected(&'static [(&'static str, &'static str)]),
    /// `authorize(acme, product, quantity)`: allowed, credits required, available.
    Authorize {
        product: &'static str,
        quantity: &'static str,
        allowed: bool,
        required: &'static str,
        available: &'static str,
    },
}

use Step::*;

// ---------------------------------------------------------------------------
// The runner.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sweeper {
    OnlyWhenTold,
    AfterEveryStep,
}

fn run(steps: &[Step]) {
    for mode in [Sweeper::OnlyWhenTold, Sweeper::AfterEveryStep] {
        let mut fx = Fx::new(ts("2026-01-01"));
        for (i, step) in steps.iter().enumerate() {
            let ctx = format!("[{mode:?}] step {i}: {step:?}");
            apply(&mut fx, step, &ctx);
            if mode == Sweeper::AfterEveryStep {
                fx.sweep();
            }
            check_invariants(&fx, &ctx);
        }
    }
}

fn opt_ts(s: Option<&str>) -> Option<chrono::DateTime<chrono::Utc>> {
    s.map(ts)
}

fn kind(s: &str) -> EntryKind {
    *EntryKind::ALL.iter().find(|k| k.as_str() == s).unwrap_or_else(|| panic!("unknown entry kind {s:?}"))
}

fn status_str(s: GrantStatus) -> &'static str {
    match s {
        GrantStatus::Pending => "pending",
        GrantStatus::Active => "active",
        GrantStatus::Expired => "expired",
        GrantStatus::Voided => "voided",
    }
}

fn named(pairs: &[(&str, &str)]) -> Vec<(String, Credits)> {
    pairs.iter().map(|(g, a)| (g.to_string(), cr(a))).collect()
}

fn apply(fx: &mut Fx, step: &Step, ctx: &str) {
    match *step {
        At(t) => fx.set_now(ts(t)),
        Grant(g) => {
            let mut spec = grant(g.id, g.amount).customer(g.customer).credit_type(g.credit_type);
            if g.promo {
                spec = spec.promotional();
            }
            if let Some(p) = g.priority {
                spec = spec.priority(p);
            }
            if let Some(t) = g.effective {
                spec = spec.effective(ts(t));
            }
            if let Some(t) = g.expires {
                spec = spec.expires(ts(t));
            }
            if !g.products.is_empty() {
                spec = spec.products(g.products);
            }
            if let Some(r) = g.rollover {
                spec = spec.rollover(r.fraction, r.max, TimeDelta::days(r.days));
            }
            fx.grant(&spec).unwrap_or_else(|e| panic!("{ctx}: grant refused: {e}"));
        }
        Use(u) | Backfill(u) => {
            let spec = {
                let s = usage(u.id, u.product, u.quantity).customer(u.customer);
                match u.at {
                    Some(t) => s.at(ts(t)),
                    None => s,
                }
            };
            let before = fx.ledger.entries().len();
            let result = match step {
                Backfill(_) => fx.backfill(&spec),
                _ => fx.ingest(&spec),
            };
            match (u.expect, result) {
                (Outcome::Burns(burns, overage), IngestResult::Accepted { rating, allocation, .. }) => {
                    let got: Vec<(String, Credits)> =
                        allocation.burns.iter().map(|(g, c)| (g.to_string(), *c)).collect();
                    assert_eq!(got, named(burns), "{ctx}: burns");
                    assert_eq!(allocation.overage, cr(overage), "{ctx}: overage");
                    let total: Credits = got.iter().map(|(_, c)| *c).sum::<Credits>() + allocation.overage;
                    assert_eq!(total, rating.credits, "{ctx}: burns + overage = rated credits");
                }
                (Outcome::Rejected(code), IngestResult::Rejected { reason }) => {
                    assert_eq!(reason.code(), code, "{ctx}");
                    assert_eq!(fx.ledger.entries().len(), before, "{ctx}: a rejected event writes nothing");
                }
                (Outcome::Duplicate, IngestResult::Duplicate { .. }) => {
                    assert_eq!(fx.ledger.entries().len(), before, "{ctx}: a duplicate writes nothing");
                }
                (want, got) => panic!("{ctx}: expected {want:?}, got {got:?}"),
            }
        }
        Void(g, forfeits) => {
            let id = fx.find_grant(g).unwrap_or_else(|| panic!("{ctx}: no grant {g}"));
            let got = fx.void(&id).unwrap_or_else(|e| panic!("{ctx}: void refused: {e}"));
            assert_eq!(got, cr(forfeits), "{ctx}: forfeited remainder");
        }
        VoidFails(g, code) => {
            let id = fx.find_grant(g).unwrap_or_else(|| panic!("{ctx}: no grant {g}"));
            let before = fx.ledger.entries().len();
            let err = fx.void(&id).expect_err(ctx);
            assert_eq!(err.code(), code, "{ctx}: {err}");
            assert_eq!(fx.ledger.entries().len(), before, "{ctx}: a refused void writes nothing");
        }
        Reverse { event, restored, refunds, overage_cancelled } => {
            let r = fx.reverse(event).unwrap_or_else(|e| panic!("{ctx}: reversal refused: {e}"));
            let got: Vec<(String, Credits)> = r.restored.iter().map(|(g, c)| (g.to_string(), *c)).collect();
            assert_eq!(got, named(restored), "{ctx}: restored to live grants");
            // Refund grants are named by the grant they replace.
            let got: Vec<(String, Credits)> = r
                .refund_grants
                .iter()
                .map(|(id, c)| {
                    let w = fx.ledger.wallets().find_map(|w| w.grant(id)).expect("refund grant exists");
                    assert_eq!(w.grant.source, GrantSource::DisputeRefund, "{ctx}");
                    (w.grant.parent.as_ref().expect("refund has a parent").to_string(), *c)
                })
                .collect();
            assert_eq!(got, named(refunds), "{ctx}: dispute_refund grants");
            assert_eq!(r.overage_cancelled, cr(overage_cancelled), "{ctx}: overage cancelled");
        }
        ReverseFails(event, code) => {
            let before = fx.ledger.entries().len();
            let err = fx.reverse(event).expect_err(ctx);
            assert_eq!(err.code(), code, "{ctx}: {err}");
            assert_eq!(fx.ledger.entries().len(), before, "{ctx}: a refused reversal writes nothing");
        }
        Sweep => sweep_and_check(fx, ctx),
        Expect(b) => {
            let got = fx.balance_at(b.customer, b.credit_type, opt_ts(b.at), opt_ts(b.as_of));
            let want = (cr(b.available), cr(b.pending), cr(b.overage), cr(b.net));
            assert_eq!(
                (got.available, got.pending, got.overage, got.net),
                want,
                "{ctx}: (available, pending, overage, net)"
            );
            if let Some(exp) = b.expiring {
                let got: Vec<_> = got.expiring.iter().map(|e| (e.expires_at, e.amount)).collect();
                let want: Vec<_> = exp.iter().map(|(t, a)| (ts(t), cr(a))).collect();
                assert_eq!(got, want, "{ctx}: expiring schedule");
            }
        }
        ExpectLine(l) => {
            let bal = fx.balance_at(l.customer, l.credit_type, opt_ts(l.at), opt_ts(l.as_of));
            let line = Fx::grant_line(&bal, l.id).unwrap_or_else(|| panic!("{ctx}: no line for {}", l.id));
            let t = &line.totals;
            assert_eq!(status_str(line.status), l.status, "{ctx}: status");
            let got =
                [t.amount, t.burned, t.settled, t.expired, t.corrected, t.rolled, t.voided, t.reversed, line.remaining];
            let want =
                [l.amount, l.burned, l.settled, l.expired, l.corrected, l.rolled, l.voided, l.reversed, l.remaining]
                    .map(cr);
            assert_eq!(
                got, want,
                "{ctx}: [amount, burned, settled, expired, corrected, rolled, voided, reversed, remaining]"
            );
            if let Some(e) = l.effective {
                assert_eq!(line.grant.effective_at, ts(e), "{ctx}: effective_at");
            }
            if let Some(e) = l.expires {
                assert_eq!(line.grant.expires_at, Some(ts(e)), "{ctx}: expires_at");
            }
            if let Some(s) = l.source {
                assert_eq!(line.grant.source, s, "{ctx}: source");
            }
        }
        Entries(g, want) => {
            let key = |k: EntryKind, a: Credits, t| (t, k, a);
            let mut got: Vec<_> = fx.entries_of_grant(g).iter().map(|e| key(e.kind, e.amount, e.booked_at)).collect();
            let mut want: Vec<_> = want.iter().map(|(k, a, t)| key(kind(k), cr(a), ts(t))).collect();
            got.sort();
            want.sort();
            assert_eq!(got, want, "{ctx}: entries on {g} as (booked_at, kind, amount)");
        }
        Rejected(want) => {
            let got: Vec<(String, &str)> =
                fx.ledger.rejected().iter().map(|r| (r.event.id.to_string(), r.reason.code())).collect();
            let want: Vec<(String, &str)> = want.iter().map(|(e, c)| (e.to_string(), *c)).collect();
            assert_eq!(got, want, "{ctx}: rejected events");
        }
        Authorize { product: p, quantity, allowed, required, available } => {
            let before = fx.ledger.entries().len();
            let a = fx.ledger.authorize(&customer(ACME), &product(p), dec(quantity)).expect(ctx);
            assert_eq!((a.allowed, a.required, a.available), (allowed, cr(required), cr(available)), "{ctx}");
            assert_eq!(fx.ledger.entries().len(), before, "{ctx}: authorize reserves and writes nothing");
        }
    }
}

/// Every balance the ledger knows, now and at a few earlier instants (as
/// known now and as known a day ago).
fn all_balances(fx: &Fx) -> Vec<Balance> {
    let now = fx.now();
    let instants = [now, now - TimeDelta::days(1), now - TimeDelta::days(10), now - TimeDelta::microseconds(1)];
    let mut out = Vec::new();
    for w in fx.ledger.wallets() {
        for at in instants {
            for as_of in [now, now - TimeDelta::days(1)] {
                out.push(fx.ledger.balance(w.customer(), &w.credit_type().id, Some(at), Some(as_of)).expect("balance"));
            }
        }
    }
    out.sort_by(|a, b| (&a.customer, &a.credit_type, a.at, a.as_of).cmp(&(&b.customer, &b.credit_type, b.at, b.as_of)));
    out
}

/// A credit amount as text, zero always as `0` (a `-0` and a `0` are the
/// same number; their text is compared elsewhere).
fn num(c: Credits) -> String {
    if c.is_zero() {
        "0".to_string()
    } else {
        c.to_string()
    }
}

/// One line per balance and per grant line: readable when two differ.
fn summary(balances: &[Balance]) -> Vec<String> {
    let mut out = Vec::new();
    for b in balances {
        let head = format!("{}/{} at {} as of {}", b.customer, b.credit_type, b.at, b.as_of);
        out.push(format!(
            "{head}: available {} pending {} overage {} net {} expiring {:?}",
            num(b.available),
            num(b.pending),
            num(b.overage),
            num(b.net),
            b.expiring
        ));
        for g in &b.grants {
            let t = &g.totals;
            let terms = [t.amount, t.burned, t.settled, t.expired, t.corrected, t.rolled, t.voided, t.reversed];
            let terms: Vec<String> = terms.iter().map(|c| num(*c)).collect();
            out.push(format!("{head}: {} {:?} remaining {} terms {terms:?}", g.grant.id, g.status, num(g.remaining)));
        }
    }
    out
}

fn sweep_and_check(fx: &mut Fx, ctx: &str) {
    let before: Vec<Balance> = all_balances(fx);
    fx.sweep();
    let after: Vec<Balance> = all_balances(fx);
    let (b, a) = (summary(&before), summary(&after));
    for (x, y) in b.iter().zip(&a) {
        assert_eq!(x, y, "{ctx}: balances before and after a sweep");
    }
    assert_eq!(b.len(), a.len(), "{ctx}: grant lines before and after a sweep:\n{b:#?}\n{a:#?}");
    assert_eq!(before, after, "{ctx}: balances before and after a sweep");
    assert_eq!(fx.sweep(), Vec::<Entry>::new(), "{ctx}: a second sweep writes nothing");
}

/// After every step: conservation per grant (every term >= 0), and per event
/// rated credits = its burns + overage.
fn check_invariants(fx: &Fx, ctx: &str) {
    for w in fx.ledger.wallets() {
        let bal = fx.ledger.balance(w.customer(), &w.credit_type().id, None, None).expect("balance");
        for line in &bal.grants {
            let t = &line.totals;
            let terms = [t.amount, t.burned, t.settled, t.expired, t.corrected, t.rolled, t.voided, t.reversed];
            assert!(terms.iter().all(|c| !c.is_negative()), "{ctx}: negative term on {}: {t:?}", line.grant.id);
            assert!(!line.remaining.is_negative(), "{ctx}: negative remaining on {}", line.grant.id);
            assert_eq!(
                t.amount + t.reversed + t.corrected,
                t.burned + t.expired + t.rolled + t.voided + t.settled + line.remaining,
                "{ctx}: conservation on {}",
                line.grant.id
            );
            assert_eq!(t.amount, line.grant.amount, "{ctx}: amount on {}", line.grant.id);
        }
    }
    let mut events: Vec<_> = fx.ledger.entries().iter().filter_map(|e| e.event.clone()).collect();
    events.sort();
    events.dedup();
    for ev in events {
        let Some(accepted) = fx.ledger.event(&ev) else { continue };
        let used: Credits = fx
            .ledger
            .entries_of_event(&ev)
            .filter(|e| matches!(e.kind, EntryKind::Burn | EntryKind::Overage))
            .map(|e| -e.amount)
            .sum();
        assert_eq!(used, accepted.rating.credits, "{ctx}: event {ev}: burns + overage = rated credits");
    }
}

// ---------------------------------------------------------------------------
// Burn order.

/// Orb/Metronome: "promotional credits are drawn down before paid credits".
/// Both grants: priority 50, unrestricted, never expire, so the category key
/// decides. 40 images = 80 credits: 50 from the promotion, 30 from paid.
#[test]
fn promotional_credits_burn_before_paid() {
    run(&[
        At("2026-01-01"),
        Grant(G { id: "paid_jan", amount: "100", ..GRANT }),
        Grant(G { id: "promo_welcome", amount: "50", promo: true, ..GRANT }),
        At("2026-01-05"),
        Use(U {
            id: "e1",
            product: IMAGES,
            quantity: "40",
            expect: Outcome::Burns(&[("promo_welcome", "50"), ("paid_jan", "30")], "0"),
            ..USE
        }),
        Expect(Bal { available: "70", net: "70", ..BAL }),
        ExpectLine(Line { id: "promo_welcome", amount: "50", burned: "50", ..LINE }),
        ExpectLine(Line { id: "paid_jan", amount: "100", burned: "30", remaining: "70", ..LINE }),
    ]);
}

/// Expiry is the third key, category the fourth: paid credits expiring on
/// Feb 1 burn before promotional credits that never expire.
#[test]
fn credits_expiring_soonest_burn_first_even_if_paid() {
    run(&[
        Grant(G { id: "promo_forever", amount: "100", promo: true, ..GRANT }),
        Grant(G { id: "paid_expiring", amount: "100", expires: Some("2026-02-01"), ..GRANT }),
        Use(U {
            id: "e1",
            product: IMAGES,
            quantity: "60",
            expect: Outcome::Burns(&[("paid_expiring", "100"), ("promo_forever", "20")], "0"),
            ..USE
        }),
        Expect(Bal { available: "80", net: "80", expiring: Some(&[]), ..BAL }),
    ]);
}

/// Priority is the first key: a priority-10 paid grant (unrestricted, never
/// expiring) burns before a default-priority promotional grant that is
/// restricted to the product and expires soon.
#[test]
fn priority_beats_every_other_key() {
    run(&[
        Grant(G { id: "prepaid", amount: "30", priority: Some(10), ..GRANT }),
        Grant(G {
            id: "img_promo",
            amount: "30",
            promo: true,
            expires: Some("2026-01-10"),
            products: &[IMAGES],
            ..GRANT
        }),
        // 20 images = 40 credits: 30 from prepaid, 10 from img_promo.
        Use(U {
            id: "e1",
            product: IMAGES,
            quantity: "20",
            expect: Outcome::Burns(&[("prepaid", "30"), ("img_promo", "10")], "0"),
            ..USE
        }),
        Expect(Bal { available: "20", net: "20", expiring: Some(&[("2026-01-10", "20")]), ..BAL }),
    ]);
}

/// Metronome: "a credit restricted to a product is applied first to that
/// product's usage". The image pack is never touched by chat.
#[test]
fn a_restricted_grant_is_used_first_for_its_product() {
    run(&[
        Grant(G { id: "general", amount: "100", ..GRANT }),
        Grant(G { id: "image_pack", amount: "40", products: &[IMAGES], ..GRANT }),
        // 10 images = 20 credits, all from the pack.
        Use(U {
            id: "img1",
            product: IMAGES,
            quantity: "10",
            expect: Outcome::Burns(&[("image_pack", "20")], "0"),
            ..USE
        }),
        // 30 chat units at 1 credit (before the Jan 15 price cut): general only.
        Use(U { id: "chat1", product: CHAT, quantity: "30", expect: Outcome::Burns(&[("general", "30")], "0"), ..USE }),
        // 15 images = 30 credits: the pack's last 20, then 10 from general.
        Use(U {
            id: "img2",
            product: IMAGES,
            quantity: "15",
            expect: Outcome::Burns(&[("image_pack", "20"), ("general", "10")], "0"),
            ..USE
        }),
        Expect(Bal { available: "60", net: "60", ..BAL }),
        ExpectLine(Line { id: "image_pack", amount: "40", burned: "40", ..LINE }),
        ExpectLine(Line { id: "general", amount: "100", burned: "40", remaining: "60", ..LINE }),
        // Chat can use the 60 left in general; images too.
        Authorize { product: CHAT, quantity: "60", allowed: true, required: "60", available: "60" },
        Authorize { product: CHAT, quantity: "60.000001", allowed: false, required: "60.000001", available: "60" },
    ]);
}

/// Equal priority, restriction, expiry and category: earlier `effective_at`
/// first, then grant id ascending.
#[test]
fn equal_priorities_tie_broken_by_effective_time_then_id() {
    run(&[
        Grant(G { id: "blk_c", amount: "10", ..GRANT }),
        At("2026-01-02"),
        Grant(G { id: "blk_b", amount: "10", ..GRANT }),
        Grant(G { id: "blk_a", amount: "10", ..GRANT }),
        // 12.5 images = 25 credits: blk_c (effective Jan 1), then blk_a, blk_b (Jan 2, by id).
        Use(U {
            id: "e1",
            product: IMAGES,
            quantity: "12.5",
            expect: Outcome::Burns(&[("blk_c", "10"), ("blk_a", "10"), ("blk_b", "5")], "0"),
            ..USE
        }),
        Expect(Bal { available: "5", net: "5", ..BAL }),
    ]);
}

/// A credit type may reorder and drop keys: `minutes` burns by expiry first,
/// then promotional, then priority. A priority-1 grant that never expires
/// burns *after* a priority-90 grant expiring Feb 1; on `api` (standard
/// order) the same pair burns the other way round.
#[test]
fn a_credit_type_may_reorder_burn_keys() {
    run(&[
        Grant(G { id: "m_prio1", credit_type: MINUTES, amount: "60", priority: Some(1), ..GRANT }),
        Grant(G {
            id: "m_expiring",
            credit_type: MINUTES,
            amount: "60",
            priority: Some(90),
            expires: Some("2026-02-01"),
            ..GRANT
        }),
        Grant(G { id: "a_prio1", amount: "60", priority: Some(1), ..GRANT }),
        Grant(G { id: "a_expiring", amount: "60", priority: Some(90), expires: Some("2026-02-01"), ..GRANT }),
        Use(U {
            id: "m1",
            product: TRANSCRIPTION,
            quantity: "70",
            expect: Outcome::Burns(&[("m_expiring", "60"), ("m_prio1", "10")], "0"),
            ..USE
        }),
        Use(U {
            id: "a1",
            product: IMAGES,
            quantity: "35",
            expect: Outcome::Burns(&[("a_prio1", "60"), ("a_expiring", "10")], "0"),
            ..USE
        }),
        Expect(Bal { credit_type: MINUTES, available: "50", net: "50", ..BAL }),
    ]);
}

// ---------------------------------------------------------------------------
// Rating.

/// The rate in force at the *event* time: chat costs 1 credit per unit until
/// 2026-01-15 00:00 and 0.5 from then on, also for late events; `bigco` has a
/// custom embeddings rate (0.0004 instead of 0.001); half-even to 6 places.
#[test]
fn rating_uses_the_rate_in_force_at_event_time_and_customer_overrides() {
    run(&[
        At("2026-01-14 23:59:59.999999"),
        Grant(G { id: "g", amount: "1000", effective: Some("2026-01-01"), ..GRANT }),
        Grant(G { id: "b", customer: BIGCO, amount: "10", effective: Some("2026-01-01"), ..GRANT }),
        Use(U {
            id: "before_cut",
            product: CHAT,
            quantity: "100",
            expect: Outcome::Burns(&[("g", "100")], "0"),
            ..USE
        }),
        At(CHAT_PRICE_CUT),
        Use(U { id: "after_cut", product: CHAT, quantity: "100", expect: Outcome::Burns(&[("g", "50")], "0"), ..USE }),
        At("2026-01-16"),
        // Arrives after the cut, happened before it: old price.
        Use(U {
            id: "late_before_cut",
            product: CHAT,
            quantity: "10",
            at: Some("2026-01-14 12:00"),
            expect: Outcome::Burns(&[("g", "10")], "0"),
            ..USE
        }),
        // 1000 x 0.001 = 1; for bigco 1000 x 0.0004 = 0.4.
        Use(U {
            id: "emb_acme",
            product: EMBEDDINGS,
            quantity: "1000",
            expect: Outcome::Burns(&[("g", "1")], "0"),
            ..USE
        }),
        Use(U {
            id: "emb_bigco",
            customer: BIGCO,
            product: EMBEDDINGS,
            quantity: "1000",
            expect: Outcome::Burns(&[("b", "0.4")], "0"),
            ..USE
        }),
        // Half-even: 0.0025 x 0.001 = 0.0000025 -> 0.000002; 0.0035 x 0.001 -> 0.000004.
        Use(U {
            id: "tiny1",
            product: EMBEDDINGS,
            quantity: "0.0025",
            expect: Outcome::Burns(&[("g", "0.000002")], "0"),
            ..USE
        }),
        Use(U {
            id: "tiny2",
            product: EMBEDDINGS,
            quantity: "0.0035",
            expect: Outcome::Burns(&[("g", "0.000004")], "0"),
            ..USE
        }),
        // Zero usage is recorded and burns nothing.
        Use(U { id: "zero", product: CHAT, quantity: "0", expect: Outcome::Burns(&[], "0"), ..USE }),
        // 1000 - 100 - 50 - 10 - 1 - 0.000002 - 0.000004
        Expect(Bal { available: "838.999994", net: "838.999994", ..BAL }),
        Expect(Bal { customer: BIGCO, available: "9.6", net: "9.6", ..BAL }),
    ]);
}

// ---------------------------------------------------------------------------
// Expiry.

/// Expiry is exclusive: usage at `expires_at - 1µs` burns the grant, usage at
/// `expires_at` does not (it becomes overage). The `expire` entry takes the
/// remainder at `expires_at`.
#[test]
fn the_exact_expiry_instant() {
    run(&[
        Grant(G { id: "jan", amount: "100", expires: Some("2026-02-01"), ..GRANT }),
        At("2026-01-31 23:59:59.999999"),
        Use(U {
            id: "last_micro",
            product: IMAGES,
            quantity: "5",
            expect: Outcome::Burns(&[("jan", "10")], "0"),
            ..USE
        }),
        Expect(Bal { available: "90", net: "90", expiring: Some(&[("2026-02-01", "90")]), ..BAL }),
        At("2026-02-01"),
        Use(U { id: "at_expiry", product: IMAGES, quantity: "5", expect: Outcome::Burns(&[], "10"), ..USE }),
        Expect(Bal { available: "0", overage: "10", net: "-10", expiring: Some(&[]), ..BAL }),
        Expect(Bal { at: Some("2026-01-31 23:59:59.999999"), available: "90", net: "90", ..BAL }),
        ExpectLine(Line { id: "jan", status: "expired", amount: "100", burned: "10", expired: "90", ..LINE }),
        ExpectLine(Line {
            id: "jan",
            at: Some("2026-01-31 23:59:59.999999"),
            amount: "100",
            burned: "10",
            remaining: "90",
            ..LINE
        }),
        Entries(
            "jan",
            &[
                ("grant", "100", "2026-01-01"),
                ("burn", "-10", "2026-01-31 23:59:59.999999"),
                ("expire", "-90", "2026-02-01"),
            ],
        ),
        Authorize { product: IMAGES, quantity: "1", allowed: false, required: "2", available: "0" },
    ]);
}

/// An `expire` entry is written at every expiry, even when nothing is left.
#[test]
fn a_used_up_grant_still_gets_a_zero_expire_entry() {
    run(&[
        Grant(G { id: "small", amount: "10", expires: Some("2026-01-10"), ..GRANT }),
        Use(U { id: "e1", product: IMAGES, quantity: "5", expect: Outcome::Burns(&[("small", "10")], "0"), ..USE }),
        At("2026-01-11"),
        Sweep,
        Entries(
            "small",
            &[("grant", "10", "2026-01-01"), ("burn", "-10", "2026-01-01"), ("expire", "0", "2026-01-10")],
        ),
        ExpectLine(Line { id: "small", status: "expired", amount: "10", burned: "10", ..LINE }),
    ]);
}

/// The balance is right whether or not the sweeper has written the expiry,
/// at now and at earlier instants, and sweeping changes no number.
#[test]
fn balance_is_the_same_before_and_after_the_sweeper_runs() {
    run(&[
        Grant(G {
            id: "g",
            amount: "100",
            expires: Some("2026-01-20"),
            rollover: Some(Roll { fraction: "1", max: None, days: 10 }),
            ..GRANT
        }),
        Grant(G { id: "h", amount: "50", expires: Some("2026-01-25"), ..GRANT }),
        At("2026-01-10"),
        // 10 images = 20 credits from g (expires first).
        Use(U { id: "e1", product: IMAGES, quantity: "10", expect: Outcome::Burns(&[("g", "20")], "0"), ..USE }),
        At("2026-01-26"),
        // g: 80 left rolls over in full into g~rollover (Jan 20 .. Jan 30); h expired.
        Expect(Bal { available: "80", net: "80", expiring: Some(&[("2026-01-30", "80")]), ..BAL }),
        Expect(Bal { at: Some("2026-01-22"), available: "130", net: "130", ..BAL }),
        Sweep,
        Expect(Bal { available: "80", net: "80", expiring: Some(&[("2026-01-30", "80")]), ..BAL }),
        Expect(Bal { at: Some("2026-01-22"), available: "130", net: "130", ..BAL }),
        Entries(
            "g",
            &[
                ("grant", "100", "2026-01-01"),
                ("burn", "-20", "2026-01-10"),
                ("rollover_out", "-80", "2026-01-20"),
                ("expire", "0", "2026-01-20"),
            ],
        ),
        Entries("h", &[("grant", "50", "2026-01-01"), ("expire", "-50", "2026-01-25")]),
        ExpectLine(Line {
            id: "g~rollover",
            amount: "80",
            remaining: "80",
            effective: Some("2026-01-20"),
            expires: Some("2026-01-30"),
            source: Some(GrantSource::Rollover),
            ..LINE
        }),
    ]);
}

// ---------------------------------------------------------------------------
// Future grants and overage.

/// A grant effective in the future is pending, then available; usage before
/// it starts cannot burn it but goes into overage, which the grant pays first
/// when it starts (`carry_forward`), booked at its `effective_at`.
#[test]
fn future_grant_is_pending_then_settles_overage_when_it_starts() {
    run(&[
        At("2026-01-10"),
        Grant(G { id: "feb_topup", amount: "500", effective: Some("2026-02-01"), ..GRANT }),
        Expect(Bal { pending: "500", ..BAL }),
        Use(U { id: "e1", product: IMAGES, quantity: "10", expect: Outcome::Burns(&[], "20"), ..USE }),
        Expect(Bal { pending: "500", overage: "20", net: "-20", ..BAL }),
        ExpectLine(Line { id: "feb_topup", status: "pending", amount: "500", remaining: "500", ..LINE }),
        At("2026-01-31 23:59:59.999999"),
        Expect(Bal { pending: "500", overage: "20", net: "-20", ..BAL }),
        At("2026-02-01"),
        Expect(Bal { available: "480", net: "480", ..BAL }),
        Sweep,
        Entries("feb_topup", &[("grant", "500", "2026-02-01"), ("overage_settled", "-20", "2026-02-01")]),
        ExpectLine(Line { id: "feb_topup", amount: "500", settled: "20", remaining: "480", ..LINE }),
        // The past is unchanged: on Jan 31 the customer owed 20.
        Expect(Bal { at: Some("2026-01-31"), pending: "500", overage: "20", net: "-20", ..BAL }),
    ]);
}

/// Stripe/Orb "negative balance": 120 credits used with 100 granted leaves
/// 20 of overage (net -20); the next top-up pays it first.
#[test]
fn carry_forward_overage_is_settled_by_the_next_grant() {
    run(&[
        Grant(G { id: "starter", amount: "100", ..GRANT }),
        At("2026-01-05"),
        Use(U {
            id: "e1",
            product: IMAGES,
            quantity: "60",
            expect: Outcome::Burns(&[("starter", "100")], "20"),
            ..USE
        }),
        Expect(Bal { overage: "20", net: "-20", ..BAL }),
        At("2026-01-06"),
        Grant(G { id: "topup", amount: "1000", ..GRANT }),
        Expect(Bal { available: "980", net: "980", ..BAL }),
        Entries("topup", &[("grant", "1000", "2026-01-06"), ("overage_settled", "-20", "2026-01-06")]),
        // As known on Jan 5 (before the top-up was recorded) the customer was at -20.
        Expect(Bal { as_of: Some("2026-01-05 12:00"), overage: "20", net: "-20", ..BAL }),
    ]);
}

/// Settlement respects product restrictions: chat overage is not paid by an
/// image-only pack, only by an unrestricted grant.
#[test]
fn carry_forward_settlement_respects_product_restrictions() {
    run(&[
        Use(U { id: "chat1", product: CHAT, quantity: "20", expect: Outcome::Burns(&[], "20"), ..USE }),
        At("2026-01-02"),
        Grant(G { id: "image_pack", amount: "50", products: &[IMAGES], ..GRANT }),
        Expect(Bal { available: "50", overage: "20", net: "30", ..BAL }),
        At("2026-01-03"),
        Grant(G { id: "general", amount: "100", ..GRANT }),
        Expect(Bal { available: "130", net: "130", ..BAL }),
        ExpectLine(Line { id: "image_pack", amount: "50", remaining: "50", ..LINE }),
        ExpectLine(Line { id: "general", amount: "100", settled: "20", remaining: "80", ..LINE }),
    ]);
}

/// `invoice` overage stays outstanding for billing; new grants do not pay it.
#[test]
fn invoice_overage_is_not_settled_by_grants() {
    run(&[
        At("2026-01-05"),
        Use(U { id: "m1", product: TRANSCRIPTION, quantity: "30", expect: Outcome::Burns(&[], "30"), ..USE }),
        Grant(G { id: "m_plan", credit_type: MINUTES, amount: "100", ..GRANT }),
        At("2026-01-06"),
        Sweep,
        Expect(Bal { credit_type: MINUTES, available: "100", overage: "30", net: "70", ..BAL }),
        Entries("m_plan", &[("grant", "100", "2026-01-05")]),
        // 20 translation units x 1.5 = 30 minutes, from the plan.
        Use(U {
            id: "m2",
            product: TRANSLATION,
            quantity: "20",
            expect: Outcome::Burns(&[("m_plan", "30")], "0"),
            ..USE
        }),
        Expect(Bal { credit_type: MINUTES, available: "70", overage: "30", net: "40", ..BAL }),
    ]);
}

// ---------------------------------------------------------------------------
// Late events.

/// A late event inside the window burns by its event time; the grant that
/// was eligible then has already expired, so the burn takes from the expired
/// remainder and an `expiry_correction` (booked at the expiry) reduces what
/// was recorded as expired.
#[test]
fn late_event_after_expiry_draws_on_the_expired_remainder() {
    run(&[
        Grant(G { id: "jan", amount: "100", expires: Some("2026-02-01"), ..GRANT }),
        At("2026-01-28"),
        Use(U { id: "e1", product: IMAGES, quantity: "30", expect: Outcome::Burns(&[("jan", "60")], "0"), ..USE }),
        At("2026-02-01"),
        Sweep,
        Entries(
            "jan",
            &[("grant", "100", "2026-01-01"), ("burn", "-60", "2026-01-28"), ("expire", "-40", "2026-02-01")],
        ),
        At("2026-02-03"),
        // 12.5 images = 25 credits, happened Jan 30.
        Use(U {
            id: "late",
            product: IMAGES,
            quantity: "12.5",
            at: Some("2026-01-30"),
            expect: Outcome::Burns(&[("jan", "25")], "0"),
            ..USE
        }),
        Entries(
            "jan",
            &[
                ("grant", "100", "2026-01-01"),
                ("burn", "-60", "2026-01-28"),
                ("expire", "-40", "2026-02-01"),
                ("burn", "-25", "2026-01-30"),
                ("expiry_correction", "25", "2026-02-01"),
            ],
        ),
        ExpectLine(Line {
            id: "jan",
            status: "expired",
            amount: "100",
            burned: "85",
            expired: "40",
            corrected: "25",
            ..LINE
        }),
        // On Jan 31: 15 left as known now; 40 as known on Feb 2.
        Expect(Bal { at: Some("2026-01-31"), available: "15", net: "15", ..BAL }),
        Expect(Bal { at: Some("2026-01-31"), as_of: Some("2026-02-02"), available: "40", net: "40", ..BAL }),
        // Another 20 credits on Jan 31: only 15 are left of the expired remainder.
        Use(U {
            id: "late2",
            product: IMAGES,
            quantity: "10",
            at: Some("2026-01-31"),
            expect: Outcome::Burns(&[("jan", "15")], "5"),
            ..USE
        }),
        Expect(Bal { overage: "5", net: "-5", ..BAL }),
        Expect(Bal { at: Some("2026-01-31 12:00"), overage: "5", net: "-5", ..BAL }),
    ]);
}

/// The usage at `expires_at - 1µs` arriving after the expiry was booked
/// (no sweeper needed: the ingest catches up first) still burns, via a
/// correction.
#[test]
fn usage_one_microsecond_before_expiry_arriving_late_still_burns() {
    run(&[
        Grant(G { id: "jan", amount: "100", expires: Some("2026-02-01"), ..GRANT }),
        At("2026-02-01 00:00:01"),
        Use(U {
            id: "last_micro",
            product: IMAGES,
            quantity: "5",
            at: Some("2026-01-31 23:59:59.999999"),
            expect: Outcome::Burns(&[("jan", "10")], "0"),
            ..USE
        }),
        Use(U {
            id: "at_expiry",
            product: IMAGES,
            quantity: "5",
            at: Some("2026-02-01"),
            expect: Outcome::Burns(&[], "10"),
            ..USE
        }),
        ExpectLine(Line {
            id: "jan",
            status: "expired",
            amount: "100",
            burned: "10",
            expired: "100",
            corrected: "10",
            ..LINE
        }),
        Expect(Bal { overage: "10", net: "-10", ..BAL }),
    ]);
}

/// A late event never takes back the part of a remainder that rolled over.
/// Its overage (carry_forward) is paid by the rollover grant when that grant
/// starts (the later of the two times).
#[test]
fn late_event_after_rollover_does_not_take_back_the_rolled_part() {
    run(&[
        Grant(G {
            id: "plan_jan",
            amount: "100",
            expires: Some("2026-02-01"),
            rollover: Some(Roll { fraction: "0.5", max: None, days: 30 }),
            ..GRANT
        }),
        At("2026-01-20"),
        Use(U { id: "e1", product: IMAGES, quantity: "30", expect: Outcome::Burns(&[("plan_jan", "60")], "0"), ..USE }),
        At("2026-02-02"),
        // 40 left on Feb 1: 20 rolled, 20 expired.
        Expect(Bal { available: "20", net: "20", ..BAL }),
        // 30 credits on Jan 31: 20 from the expired part, 10 overage.
        Use(U {
            id: "late",
            product: IMAGES,
            quantity: "15",
            at: Some("2026-01-31"),
            expect: Outcome::Burns(&[("plan_jan", "20")], "10"),
            ..USE
        }),
        ExpectLine(Line {
            id: "plan_jan",
            status: "expired",
            amount: "100",
            burned: "80",
            expired: "20",
            corrected: "20",
            rolled: "20",
            ..LINE
        }),
        ExpectLine(Line { id: "plan_jan~rollover", amount: "20", settled: "10", remaining: "10", ..LINE }),
        Entries("plan_jan~rollover", &[("grant", "20", "2026-02-01"), ("overage_settled", "-10", "2026-02-01")]),
        Expect(Bal { available: "10", net: "10", ..BAL }),
    ]);
}

// ---------------------------------------------------------------------------
// Rollover.

/// Metronome-style plan: "a monthly allotment of 1,000 credits; 50% of what
/// is unused rolls over, capped at 300, for 14 days".
/// Jan: 200 used, 800 left, 50% = 400, capped at 300: 300 roll, 500 expire.
/// Feb: the rollover (expires Feb 15) burns before February's allotment
/// (expires Mar 1). 500 used: 300 + 200. Mar 1: 800 left -> 300 roll again.
#[test]
fn monthly_allotment_with_rollover_capped_at_300() {
    const POLICY: Option<Roll> = Some(Roll { fraction: "0.5", max: Some("300"), days: 14 });
    run(&[
        Grant(G { id: "plan_jan", amount: "1000", expires: Some("2026-02-01"), rollover: POLICY, ..GRANT }),
        At("2026-01-20"),
        Use(U {
            id: "jan_use",
            product: IMAGES,
            quantity: "100",
            expect: Outcome::Burns(&[("plan_jan", "200")], "0"),
            ..USE
        }),
        At("2026-02-01"),
        Grant(G { id: "plan_feb", amount: "1000", expires: Some("2026-03-01"), rollover: POLICY, ..GRANT }),
        Expect(Bal {
            available: "1300",
            net: "1300",
            expiring: Some(&[("2026-02-15", "300"), ("2026-03-01", "1000")]),
            ..BAL
        }),
        ExpectLine(Line {
            id: "plan_jan",
            status: "expired",
            amount: "1000",
            burned: "200",
            rolled: "300",
            expired: "500",
            ..LINE
        }),
        ExpectLine(Line {
            id: "plan_jan~rollover",
            amount: "300",
            remaining: "300",
            effective: Some("2026-02-01"),
            expires: Some("2026-02-15"),
            source: Some(GrantSource::Rollover),
            ..LINE
        }),
        At("2026-02-10"),
        Use(U {
            id: "feb_use",
            product: IMAGES,
            quantity: "250",
            expect: Outcome::Burns(&[("plan_jan~rollover", "300"), ("plan_feb", "200")], "0"),
            ..USE
        }),
        At("2026-03-01"),
        Sweep,
        Expect(Bal { available: "300", net: "300", ..BAL }),
        ExpectLine(Line {
            id: "plan_feb",
            status: "expired",
            amount: "1000",
            burned: "200",
            rolled: "300",
            expired: "500",
            ..LINE
        }),
        ExpectLine(Line { id: "plan_jan~rollover", status: "expired", amount: "300", burned: "300", ..LINE }),
        // The rollover grant does not roll over again.
        Entries(
            "plan_jan~rollover",
            &[("grant", "300", "2026-02-01"), ("burn", "-300", "2026-02-10"), ("expire", "0", "2026-02-15")],
        ),
    ]);
}

/// Rolled credits are rounded *down* to 6 places: 10.000007 x 0.5 =
/// 5.0000035 -> 5.000003 rolled (half-even would give 5.000004), 5.000004
/// expires. A fully used grant rolls nothing and gets no rollover grant.
#[test]
fn rollover_rounds_down_and_rolls_nothing_from_nothing() {
    run(&[
        Grant(G {
            id: "odd",
            amount: "10.000007",
            expires: Some("2026-01-10"),
            rollover: Some(Roll { fraction: "0.5", max: None, days: 5 }),
            ..GRANT
        }),
        Grant(G {
            id: "spent",
            amount: "2",
            priority: Some(1),
            expires: Some("2026-01-10"),
            rollover: Some(Roll { fraction: "1", max: None, days: 5 }),
            ..GRANT
        }),
        Use(U { id: "e1", product: IMAGES, quantity: "1", expect: Outcome::Burns(&[("spent", "2")], "0"), ..USE }),
        At("2026-01-10"),
        Sweep,
        Entries(
            "odd",
            &[
                ("grant", "10.000007", "2026-01-01"),
                ("rollover_out", "-5.000003", "2026-01-10"),
                ("expire", "-5.000004", "2026-01-10"),
            ],
        ),
        Entries("spent", &[("grant", "2", "2026-01-01"), ("burn", "-2", "2026-01-01"), ("expire", "0", "2026-01-10")]),
        Expect(Bal { available: "5.000003", net: "5.000003", ..BAL }),
    ]);
}

// ---------------------------------------------------------------------------
// Voids and reversals.

/// Voids are not retroactive: earlier burns stand, the remainder is
/// forfeited, and the grant is never eligible again, not even for a late
/// event from before the void.
#[test]
fn void_then_late_event_never_burns_the_voided_grant() {
    run(&[
        Grant(G { id: "annual", amount: "100", ..GRANT }),
        Grant(G { id: "backup", amount: "50", priority: Some(60), ..GRANT }),
        At("2026-01-05"),
        Use(U { id: "e1", product: IMAGES, quantity: "15", expect: Outcome::Burns(&[("annual", "30")], "0"), ..USE }),
        At("2026-01-10"),
        Void("annual", "70"),
        Use(U {
            id: "late",
            product: IMAGES,
            quantity: "10",
            at: Some("2026-01-08"),
            expect: Outcome::Burns(&[("backup", "20")], "0"),
            ..USE
        }),
        ExpectLine(Line { id: "annual", status: "voided", amount: "100", burned: "30", voided: "70", ..LINE }),
        Expect(Bal { available: "30", net: "30", ..BAL }),
        // As known on Jan 9: annual's 70 and backup's 50.
        Expect(Bal { at: Some("2026-01-09"), as_of: Some("2026-01-09"), available: "120", net: "120", ..BAL }),
        VoidFails("annual", "grant_state_conflict"),
    ]);
}

/// A grant voided before it starts is not pending; an expired grant cannot
/// be voided.
#[test]
fn voiding_a_future_grant_and_an_expired_one() {
    run(&[
        Grant(G { id: "march", amount: "500", effective: Some("2026-03-01"), ..GRANT }),
        Grant(G { id: "short", amount: "10", expires: Some("2026-01-05"), ..GRANT }),
        Expect(Bal { available: "10", pending: "500", net: "10", ..BAL }),
        At("2026-01-02"),
        Void("march", "500"),
        Expect(Bal { available: "10", net: "10", ..BAL }),
        Expect(Bal { at: Some("2026-03-02"), ..BAL }),
        At("2026-01-05"),
        VoidFails("short", "grant_state_conflict"),
    ]);
}

/// Dispute won after the grant expired: the burned credits come back as a
/// `dispute_refund` grant (30 days); a second reversal is refused; reversing
/// usage of a live grant restores that grant.
#[test]
fn reversal_after_expiry_creates_a_dispute_refund_grant() {
    run(&[
        Grant(G { id: "jan", amount: "100", expires: Some("2026-02-01"), ..GRANT }),
        Grant(G { id: "forever", amount: "50", priority: Some(60), ..GRANT }),
        At("2026-01-20"),
        Use(U { id: "e1", product: IMAGES, quantity: "15", expect: Outcome::Burns(&[("jan", "30")], "0"), ..USE }),
        At("2026-01-21"),
        Use(U { id: "e2", product: IMAGES, quantity: "10", expect: Outcome::Burns(&[("jan", "20")], "0"), ..USE }),
        At("2026-02-05"),
        Reverse { event: "e1", restored: &[], refunds: &[("jan", "30")], overage_cancelled: "0" },
        ExpectLine(Line {
            id: "e1~refund0",
            amount: "30",
            remaining: "30",
            effective: Some("2026-02-05"),
            expires: Some("2026-03-07"),
            source: Some(GrantSource::DisputeRefund),
            ..LINE
        }),
        // jan stays expired with its 50 expired; forever 50 + refund 30.
        ExpectLine(Line { id: "jan", status: "expired", amount: "100", burned: "50", expired: "50", ..LINE }),
        Expect(Bal { available: "80", net: "80", ..BAL }),
        ReverseFails("e1", "already_reversed"),
        // The refund inherits jan's priority 50 and expires first: it burns before forever.
        Use(U {
            id: "e3",
            product: IMAGES,
            quantity: "5",
            expect: Outcome::Burns(&[("e1~refund0", "10")], "0"),
            ..USE
        }),
        Reverse { event: "e3", restored: &[("e1~refund0", "10")], refunds: &[], overage_cancelled: "0" },
        ExpectLine(Line { id: "e1~refund0", amount: "30", burned: "10", reversed: "10", remaining: "30", ..LINE }),
        Expect(Bal { available: "80", net: "80", ..BAL }),
    ]);
}

/// Reversing an event undoes its overage too: burns go back to the grant,
/// the unsettled overage is cancelled.
#[test]
fn reversal_cancels_the_overage_part() {
    run(&[
        Grant(G { id: "small", amount: "10", ..GRANT }),
        At("2026-01-03"),
        Use(U { id: "big", product: IMAGES, quantity: "15", expect: Outcome::Burns(&[("small", "10")], "20"), ..USE }),
        Expect(Bal { overage: "20", net: "-20", ..BAL }),
        At("2026-01-04"),
        Reverse { event: "big", restored: &[("small", "10")], refunds: &[], overage_cancelled: "20" },
        Expect(Bal { available: "10", net: "10", ..BAL }),
        ReverseFails("big", "already_reversed"),
        Use(U { id: "nothing", product: CHAT, quantity: "0", expect: Outcome::Burns(&[], "0"), ..USE }),
        ReverseFails("nothing", "nothing_to_reverse"),
    ]);
}

/// A reversal catches up first: overage that a grant (effective in between)
/// has already paid by the time of the reversal goes back to that grant; it
/// is not also cancelled as outstanding overage. The same numbers whether or
/// not the sweeper wrote the settlement before the reversal.
#[test]
fn reversal_of_overage_settled_since_the_last_write() {
    run(&[
        At("2026-01-10"),
        Use(U { id: "early", product: IMAGES, quantity: "10", expect: Outcome::Burns(&[], "20"), ..USE }),
        Grant(G { id: "topup", amount: "100", effective: Some("2026-01-20"), ..GRANT }),
        At("2026-01-21"),
        // topup paid the 20 on Jan 20; the reversal gives them back to it.
        Reverse { event: "early", restored: &[("topup", "20")], refunds: &[], overage_cancelled: "0" },
        ExpectLine(Line { id: "topup", amount: "100", settled: "20", reversed: "20", remaining: "100", ..LINE }),
        Expect(Bal { available: "100", net: "100", ..BAL }),
    ]);
}

// ---------------------------------------------------------------------------
// Ingest rules.

/// Same id and body: a duplicate (`5.0` and `5` are the same quantity),
/// nothing written; same id, different body: `idempotency_conflict`, nothing
/// booked, and the attempt kept in the rejected store (`docs/ledger.md`).
#[test]
fn duplicates_and_idempotency_conflicts() {
    run(&[
        Grant(G { id: "g", amount: "100", ..GRANT }),
        Use(U { id: "e1", product: IMAGES, quantity: "5", expect: Outcome::Burns(&[("g", "10")], "0"), ..USE }),
        Use(U { id: "e1", product: IMAGES, quantity: "5", expect: Outcome::Duplicate, ..USE }),
        Use(U { id: "e1", product: IMAGES, quantity: "5.0", expect: Outcome::Duplicate, ..USE }),
        Use(U { id: "e1", product: IMAGES, quantity: "6", expect: Outcome::Rejected("idempotency_conflict"), ..USE }),
        Use(U { id: "e1", product: CHAT, quantity: "5", expect: Outcome::Rejected("idempotency_conflict"), ..USE }),
        At("2026-01-02"),
        // Same body resent later (so `at` is explicit): still a duplicate.
        Use(U { id: "e1", product: IMAGES, quantity: "5", at: Some("2026-01-01"), expect: Outcome::Duplicate, ..USE }),
        Expect(Bal { available: "90", net: "90", ..BAL }),
        Rejected(&[("e1", "idempotency_conflict"), ("e1", "idempotency_conflict")]),
    ]);
}

/// The late window (7 days) and future skew (5 minutes) are inclusive at the
/// boundary; rejected events are stored with their reason; a backfill lifts
/// the late window (not the future skew) and burns by event time.
#[test]
fn too_old_and_future_events_are_rejected_and_listed_backfill_bypasses_the_window() {
    run(&[
        At("2026-01-20 12:00"),
        Grant(G { id: "g", amount: "1000", effective: Some("2026-01-01"), ..GRANT }),
        Use(U {
            id: "edge_old",
            product: IMAGES,
            quantity: "1",
            at: Some("2026-01-13 12:00"),
            expect: Outcome::Burns(&[("g", "2")], "0"),
            ..USE
        }),
        Use(U {
            id: "too_old",
            product: IMAGES,
            quantity: "1",
            at: Some("2026-01-13 11:59:59.999999"),
            expect: Outcome::Rejected("event_too_old"),
            ..USE
        }),
        Use(U {
            id: "edge_future",
            product: IMAGES,
            quantity: "1",
            at: Some("2026-01-20 12:05"),
            expect: Outcome::Burns(&[("g", "2")], "0"),
            ..USE
        }),
        Use(U {
            id: "too_future",
            product: IMAGES,
            quantity: "1",
            at: Some("2026-01-20 12:05:00.000001"),
            expect: Outcome::Rejected("event_in_future"),
            ..USE
        }),
        Backfill(U {
            id: "import",
            product: IMAGES,
            quantity: "1",
            at: Some("2026-01-02"),
            expect: Outcome::Burns(&[("g", "2")], "0"),
            ..USE
        }),
        // December, before g started: no grant was eligible, so overage,
        // which g pays (carry_forward) as of its start on Jan 1.
        Backfill(U {
            id: "import_dec",
            product: IMAGES,
            quantity: "1",
            at: Some("2025-12-15"),
            expect: Outcome::Burns(&[], "2"),
            ..USE
        }),
        Backfill(U {
            id: "import_future",
            product: IMAGES,
            quantity: "1",
            at: Some("2026-01-20 12:06"),
            expect: Outcome::Rejected("event_in_future"),
            ..USE
        }),
        Rejected(&[
            ("too_old", "event_too_old"),
            ("too_future", "event_in_future"),
            ("import_future", "event_in_future"),
        ]),
        // Now (12:00): 1000 - 2 - 2 (backfill) - 2 (the December overage,
        // settled by g on Jan 1); the usage at 12:05 has not happened yet.
        Expect(Bal { available: "994", net: "994", ..BAL }),
        Expect(Bal { at: Some("2026-01-20 12:05"), available: "992", net: "992", ..BAL }),
        Entries(
            "g",
            &[
                ("grant", "1000", "2026-01-01"),
                ("burn", "-2", "2026-01-13 12:00"),
                ("burn", "-2", "2026-01-20 12:05"),
                ("burn", "-2", "2026-01-02"),
                ("overage_settled", "-2", "2026-01-01"),
            ],
        ),
    ]);
}

/// "As known at": a balance at an earlier instant, as known at an earlier
/// recorded time, does not include what was learnt later (a late event).
#[test]
fn balance_as_known_at_an_earlier_time_differs_from_todays_knowledge() {
    run(&[
        At("2026-01-10"),
        Grant(G { id: "g", amount: "100", ..GRANT }),
        At("2026-01-12"),
        Use(U { id: "e1", product: IMAGES, quantity: "15", expect: Outcome::Burns(&[("g", "30")], "0"), ..USE }),
        At("2026-01-15"),
        Use(U {
            id: "late",
            product: IMAGES,
            quantity: "10",
            at: Some("2026-01-11"),
            expect: Outcome::Burns(&[("g", "20")], "0"),
            ..USE
        }),
        // Jan 11 23:00 as known on Jan 14: the late event was unknown.
        Expect(Bal { at: Some("2026-01-11 23:00"), as_of: Some("2026-01-14"), available: "100", net: "100", ..BAL }),
        // The same instant as known today.
        Expect(Bal { at: Some("2026-01-11 23:00"), available: "80", net: "80", ..BAL }),
        Expect(Bal { at: Some("2026-01-12"), as_of: Some("2026-01-12"), available: "70", net: "70", ..BAL }),
        Expect(Bal { available: "50", net: "50", ..BAL }),
        // Before the grant was recorded, nothing was known.
        Expect(Bal { at: Some("2026-01-11 23:00"), as_of: Some("2026-01-09"), ..BAL }),
    ]);
}

/// `authorize` answers from `available` now (for the product), reserves
/// nothing, and does not count a grant whose expiry has passed but was not
/// swept yet.
#[test]
fn authorize_checks_available_now_without_reserving() {
    run(&[
        Grant(G { id: "g", amount: "100", expires: Some("2026-01-20"), ..GRANT }),
        Grant(G { id: "img", amount: "50", products: &[IMAGES], ..GRANT }),
        At("2026-01-10"),
        // chat: 1 credit per unit before Jan 15; images pack does not count.
        Authorize { product: CHAT, quantity: "100", allowed: true, required: "100", available: "100" },
        Authorize { product: CHAT, quantity: "101", allowed: false, required: "101", available: "100" },
        // images: both grants, 150 credits = 75 units.
        Authorize { product: IMAGES, quantity: "75", allowed: true, required: "150", available: "150" },
        Authorize { product: IMAGES, quantity: "75.5", allowed: false, required: "151", available: "150" },
        At("2026-01-20"),
        Authorize { product: CHAT, quantity: "1", allowed: false, required: "0.5", available: "0" },
        Authorize { product: IMAGES, quantity: "25", allowed: true, required: "50", available: "50" },
        Expect(Bal { available: "50", net: "50", ..BAL }),
    ]);
}

/// Customers and credit types are separate wallets.
#[test]
fn wallets_are_separate_per_customer_and_credit_type() {
    run(&[
        Grant(G { id: "acme_api", amount: "10", ..GRANT }),
        Grant(G { id: "acme_min", credit_type: MINUTES, amount: "10", ..GRANT }),
        Grant(G { id: "bigco_api", customer: BIGCO, amount: "10", ..GRANT }),
        Use(U {
            id: "e1",
            product: TRANSCRIPTION,
            quantity: "4",
            expect: Outcome::Burns(&[("acme_min", "4")], "0"),
            ..USE
        }),
        Use(U {
            id: "e2",
            customer: BIGCO,
            product: IMAGES,
            quantity: "1",
            expect: Outcome::Burns(&[("bigco_api", "2")], "0"),
            ..USE
        }),
        Expect(Bal { available: "10", net: "10", ..BAL }),
        Expect(Bal { credit_type: MINUTES, available: "6", net: "6", ..BAL }),
        Expect(Bal { customer: BIGCO, available: "8", net: "8", ..BAL }),
        Expect(Bal { customer: BIGCO, credit_type: MINUTES, ..BAL }),
    ]);
}

// ---------------------------------------------------------------------------
// Plain tests for edges that are not balance tables.

/// A backfill lifts the late window entirely: an event a year old is booked.
#[test]
fn backfill_of_a_very_old_event_is_accepted() {
    let mut fx = Fx::new(ts("2026-06-01"));
    fx.grant(&grant("g", "10").effective(ts("2025-01-01"))).unwrap();
    let r = fx.backfill(&usage("old", IMAGES, "1").at(ts("2025-02-01")));
    assert!(matches!(r, IngestResult::Accepted { .. }), "{r:?}");
    assert_eq!(fx.balance(ACME, API).available, cr("8"));
}

/// Every entry a grant, a burn and a void write is attributed: the grant and
/// void to the person, the burn to the ingesting service, expiry to the system.
#[test]
fn entries_are_attributed() {
    let mut fx = Fx::new(ts("2026-01-01"));
    fx.grant(&grant("g", "10").expires(ts("2026-01-05")).category(GrantCategory::Paid)).unwrap();
    fx.grant(&grant("h", "10").by("user:am", Some("user:finance")).because("goodwill", Some("TCK-7"), Some("outage")))
        .unwrap();
    let _ = fx.ingest(&usage("e1", IMAGES, "1"));
    fx.void(&grant_id("h")).unwrap();
    fx.set_now(ts("2026-01-06"));
    fx.sweep();
    let actor_of = |k: EntryKind| {
        fx.ledger.entries().iter().filter(|e| e.kind == k).map(|e| e.actor.to_string()).collect::<Vec<_>>()
    };
    assert_eq!(actor_of(EntryKind::Grant), ["user:ops", "user:am"]);
    let h = fx.ledger.entries().iter().find(|e| e.kind == EntryKind::Grant && e.grant == Some(grant_id("h"))).unwrap();
    assert_eq!(
        (h.reason_code.as_ref().map(|r| r.to_string()), h.ticket_ref.as_deref(), h.note.as_deref()),
        (Some("goodwill".to_string()), Some("TCK-7"), Some("outage"))
    );
    let hg = fx.ledger.wallet(&customer(ACME), &credit_type(API)).unwrap().grant(&grant_id("h")).unwrap();
    assert_eq!(hg.grant.approved_by.as_ref().map(|a| a.to_string()).as_deref(), Some("user:finance"));
    assert_eq!(actor_of(EntryKind::Burn), ["svc:metering"]);
    assert_eq!(actor_of(EntryKind::Void), ["user:support"]);
    assert_eq!(actor_of(EntryKind::Expire), ["system:ledger"]);
    let void = fx.ledger.entries().iter().find(|e| e.kind == EntryKind::Void).unwrap();
    assert_eq!(void.reason_code.as_ref().map(|r| r.to_string()).as_deref(), Some("grant_voided"));
}

// ---------------------------------------------------------------------------
// Regressions: bugs this suite found and that were fixed in `wallet/` and
// `engine.rs` (with `reversal_of_overage_settled_since_the_last_write` and
// `backfill_of_a_very_old_event_is_accepted` above).

/// A reversal that gives credits back to a live grant while the customer is
/// in overage pays that overage from them, booked when the credits came back
/// (the reversal), not at the overage's time: before the reversal the grant
/// was empty and the customer owed 5.
#[test]
fn overage_paid_by_reversed_credits_is_booked_at_the_reversal() {
    run(&[
        Grant(G { id: "g", amount: "30", ..GRANT }),
        Use(U { id: "e0", product: IMAGES, quantity: "10", expect: Outcome::Burns(&[("g", "20")], "0"), ..USE }),
        At("2026-01-02"),
        Use(U { id: "e1", product: IMAGES, quantity: "7.5", expect: Outcome::Burns(&[("g", "10")], "5"), ..USE }),
        At("2026-01-03"),
        Reverse { event: "e0", restored: &[("g", "20")], refunds: &[], overage_cancelled: "0" },
        Expect(Bal { available: "15", net: "15", ..BAL }),
        Entries(
            "g",
            &[
                ("grant", "30", "2026-01-01"),
                ("burn", "-20", "2026-01-01"),
                ("burn", "-10", "2026-01-02"),
                ("reversal", "20", "2026-01-03"),
                ("overage_settled", "-5", "2026-01-03"),
            ],
        ),
        Expect(Bal { at: Some("2026-01-02 12:00"), overage: "5", net: "-5", ..BAL }),
        ExpectLine(Line { id: "g", at: Some("2026-01-02 12:00"), amount: "30", burned: "30", ..LINE }),
    ]);
}

/// Overage of usage a minute in the future cannot be settled before its
/// time; once that time has come, the next catch-up (any write, a sweep, an
/// authorization) settles it, booked at the usage's time.
#[test]
fn overage_of_future_usage_is_settled_once_its_time_comes() {
    run(&[
        At("2026-01-01 12:00"),
        Use(U {
            id: "soon",
            product: IMAGES,
            quantity: "1",
            at: Some("2026-01-01 12:01"),
            expect: Outcome::Burns(&[], "2"),
            ..USE
        }),
        // Recorded after the usage, backdated to midnight: it pays that
        // overage (carry_forward), but not before the usage's time, 12:01.
        Grant(G { id: "g", amount: "10", effective: Some("2026-01-01"), ..GRANT }),
        Expect(Bal { available: "10", net: "10", ..BAL }),
        At("2026-01-01 12:02"),
        Authorize { product: IMAGES, quantity: "4", allowed: true, required: "8", available: "8" },
        Authorize { product: IMAGES, quantity: "4.5", allowed: false, required: "9", available: "8" },
        Expect(Bal { available: "8", net: "8", ..BAL }),
        Sweep,
        Entries("g", &[("grant", "10", "2026-01-01"), ("overage_settled", "-2", "2026-01-01 12:01")]),
    ]);
}

/// Usage may be up to 5 minutes in the future. Reversing it before its event
/// time would book the reversal before the usage it undoes (and left the
/// balance unreadable until then), so it is refused until the event time.
#[test]
fn an_event_cannot_be_reversed_before_its_event_time() {
    run(&[
        At("2026-01-01 12:00"),
        Use(U {
            id: "soon",
            product: IMAGES,
            quantity: "10",
            at: Some("2026-01-01 12:03"),
            expect: Outcome::Burns(&[], "20"),
            ..USE
        }),
        ReverseFails("soon", "validation_failed"),
        Expect(Bal { ..BAL }),
        Expect(Bal { at: Some("2026-01-01 12:03"), overage: "20", net: "-20", ..BAL }),
        At("2026-01-01 12:03"),
        Reverse { event: "soon", restored: &[], refunds: &[], overage_cancelled: "20" },
        Expect(Bal { ..BAL }),
    ]);
}

/// An `expire` or `void` of nothing writes `0`, not `-0` (the negation of
/// a zero remainder), in the entry and in the balance totals an auditor reads.
#[test]
fn a_zero_expire_or_void_is_written_as_0_not_minus_0() {
    let mut fx = Fx::new(ts("2026-01-01"));
    fx.grant(&grant("short", "2").expires(ts("2026-01-02"))).unwrap();
    fx.grant(&grant("spare", "2")).unwrap();
    let _ = fx.ingest(&usage("e1", IMAGES, "2"));
    fx.void(&grant_id("spare")).unwrap();
    fx.set_now(ts("2026-01-03"));
    let before_sweep = serde_json::to_value(fx.balance(ACME, API)).unwrap();
    fx.sweep();
    let zeros: Vec<String> = fx
        .ledger
        .entries()
        .iter()
        .filter(|e| matches!(e.kind, EntryKind::Expire | EntryKind::Void))
        .map(|e| serde_json::to_string(&e.amount).unwrap())
        .collect();
    assert_eq!(zeros, ["\"0\"", "\"0\""]);
    let after_sweep = serde_json::to_value(fx.balance(ACME, API)).unwrap();
    assert_eq!(before_sweep, after_sweep);
    for line in after_sweep["grants"].as_array().unwrap() {
        assert_eq!(line["totals"]["expired"], "0");
        assert_eq!(line["totals"]["voided"], "0");
    }
}

// ---------------------------------------------------------------------------
// Regressions: each was a bug found by these suites (the minimal failing
// case), fixed in the library.

/// A rollover grant does not exist before its parent's expiry: at an
/// earlier instant the credits are still in the parent. Once the sweeper
/// has recorded the rollover grant, a balance at an earlier instant counts
/// them twice (in the parent's `available` and in `pending`); before the
/// sweep it does not. Expected: pending 0 before and after.
#[test]
fn rollover_grant_is_not_pending_before_its_parent_expires() {
    let mut fx = Fx::new(ts("2026-01-01"));
    fx.grant(&grant("g", "100").expires(ts("2026-01-20")).rollover("1", None, TimeDelta::days(10))).unwrap();
    fx.set_now(ts("2026-01-21"));
    let before = fx.balance_at(ACME, API, Some(ts("2026-01-15")), None);
    assert_eq!((before.available, before.pending), (cr("100"), cr("0")));
    fx.sweep();
    let after = fx.balance_at(ACME, API, Some(ts("2026-01-15")), None);
    assert_eq!((after.available, after.pending), (cr("100"), cr("0")), "the 100 are in g on Jan 15, once");
}

/// A late event on Jan 31 takes 20 from a grant's expired part and leaves
/// 10 of overage that the rollover grant pays on Feb 1 (the entries say
/// so). At Jan 31 12:00 the grant held 20 (100 - 60 - 20) and 10 was owed.
/// The virtual catch-up of a past instant instead pays the 10 from the
/// grant's 20, which the ledger had set aside to roll over: a settlement
/// that never happened.
#[test]
fn past_balance_does_not_settle_overage_the_ledger_did_not_settle() {
    let mut fx = Fx::new(ts("2026-01-01"));
    fx.grant(&grant("plan_jan", "100").expires(ts("2026-02-01")).rollover("0.5", None, TimeDelta::days(30))).unwrap();
    fx.set_now(ts("2026-01-20"));
    let _ = fx.ingest(&usage("e1", IMAGES, "30"));
    fx.set_now(ts("2026-02-02"));
    let _ = fx.ingest(&usage("late", IMAGES, "15").at(ts("2026-01-31")));
    let b = fx.balance_at(ACME, API, Some(ts("2026-01-31 12:00")), None);
    assert_eq!((b.available, b.overage, b.net), (cr("20"), cr("10"), cr("10")));
}

/// The same kind of phantom at the present instant: usage a minute ahead
/// (arrived first) took the grant's only credit; usage now found nothing and
/// is overage (the live ledger says so, and so will every balance from
/// 12:01 on). The balance *now* leaves the usage ahead out, finds the credit
/// still in the grant and pays the overage with it, virtually.
/// Expected now: available 1, overage 1, net 0 (the credit is in the grant
/// until 12:01), or at least the overage the ledger shows as outstanding.
#[test]
fn balance_now_does_not_settle_overage_with_credits_spent_by_usage_booked_ahead() {
    let mut fx = Fx::new(ts("2026-01-01 12:00"));
    fx.grant(&grant("g", "1").effective(ts("2026-01-01"))).unwrap();
    let _ = fx.ingest(&usage("ahead", CHAT, "1").at(ts("2026-01-01 12:01")));
    let _ = fx.ingest(&usage("now", CHAT, "1"));
    let w = fx.ledger.wallet(&customer(ACME), &credit_type(API)).unwrap();
    assert_eq!(w.outstanding_overage(), cr("1"), "the live ledger: the usage now is unpaid overage");
    let b = fx.balance(ACME, API);
    assert_eq!((b.available, b.overage, b.net), (cr("1"), cr("1"), cr("0")));
}

/// Credits a reversal gives back to a live grant are there from the
/// reversal on (it is booked now, not retroactively). A late event from
/// before the reversal cannot spend them: on Jan 1 12:00 the grant was
/// empty. Today the late burn takes the restored credit, booked on Jan 1
/// 12:00, and the grant's remainder is -1 from then until the reversal.
/// Expected: the late usage is overage, paid by the restored credit as of
/// the reversal (Jan 2).
#[test]
fn late_usage_cannot_spend_credits_a_later_reversal_gave_back() {
    run(&[
        Grant(G { id: "g", amount: "1", ..GRANT }),
        Use(U { id: "e1", product: CHAT, quantity: "1", expect: Outcome::Burns(&[("g", "1")], "0"), ..USE }),
        At("2026-01-02"),
        Reverse { event: "e1", restored: &[("g", "1")], refunds: &[], overage_cancelled: "0" },
        Use(U {
            id: "late",
            product: CHAT,
            quantity: "1",
            at: Some("2026-01-01 12:00"),
            expect: Outcome::Burns(&[], "1"),
            ..USE
        }),
        ExpectLine(Line { id: "g", at: Some("2026-01-01 18:00"), amount: "1", burned: "1", ..LINE }),
        Expect(Bal { at: Some("2026-01-01 18:00"), overage: "1", net: "-1", ..BAL }),
        Entries(
            "g",
            &[
                ("grant", "1", "2026-01-01"),
                ("burn", "-1", "2026-01-01"),
                ("reversal", "1", "2026-01-02"),
                ("overage_settled", "-1", "2026-01-02"),
            ],
        ),
        Expect(Bal { ..BAL }),
    ]);
}
