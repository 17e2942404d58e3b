//! Unit tests of each wallet rule at the `WalletState` level. Engine-level
//! scenarios and properties live in `crates/ledger/tests/`.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use super::*;
use crate::amount::{Currency, Money};
use crate::catalog::{BurnOrder, BurnOrderKey, CreditType, OverageMode};
use crate::entry::{Attribution, EntryKind, Posting};
use crate::event::UsageEvent;
use crate::grant::{GrantCategory, GrantSource, RolloverPolicy};
use crate::ids::{ActorId, CreditTypeId, CustomerId, EventId, GrantId, ProductId, ReasonCode};

fn t(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, day, hour, 0, 0).unwrap()
}

fn credits(d: Decimal) -> Credits {
    Credits::parse_decimal(d, "test").unwrap()
}

fn credit_type(mode: OverageMode, order: BurnOrder) -> Arc<CreditType> {
    Arc::new(
        CreditType::new(
            CreditTypeId::new("ct").unwrap(),
            "Credits",
            "credits",
            Money { amount: dec!(0.01), currency: Currency::USD },
            order,
            mode,
        )
        .unwrap(),
    )
}

fn wallet(mode: OverageMode) -> WalletState {
    WalletState::new(CustomerId::new("c").unwrap(), credit_type(mode, BurnOrder::standard()))
}

fn grant(id: &str, amount: Decimal, effective: DateTime<Utc>, expires: Option<DateTime<Utc>>) -> Grant {
    Grant {
        id: GrantId::new(id).unwrap(),
        customer: CustomerId::new("c").unwrap(),
        credit_type: CreditTypeId::new("ct").unwrap(),
        amount: credits(amount),
        category: GrantCategory::Paid,
        source: GrantSource::Purchase,
        priority: 50,
        effective_at: effective,
        expires_at: expires,
        products: None,
        contract_id: None,
        cost_basis: None,
        rollover: None,
        parent: None,
        reason_code: ReasonCode::new("test").unwrap(),
        ticket_ref: None,
        note: None,
        created_by: ActorId::new("tester").unwrap(),
        approved_by: None,
    }
}

fn posting(at: DateTime<Utc>) -> Posting {
    Posting::new(at, 1, Attribution::actor(ActorId::new("tester").unwrap()))
}

fn event(id: &str, product: &str, at: DateTime<Utc>) -> UsageEvent {
    UsageEvent {
        id: EventId::new(id).unwrap(),
        customer: CustomerId::new("c").unwrap(),
        product: ProductId::new(product).unwrap(),
        quantity: Decimal::ONE,
        timestamp: at,
        properties: Default::default(),
    }
}

fn add(w: &mut WalletState, g: Grant, now: DateTime<Utc>) -> Posting {
    let mut p = posting(now);
    w.add_grant(g, &mut p).unwrap();
    p
}

fn burn(
    w: &mut WalletState,
    id: &str,
    product: &str,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
    c: Decimal,
) -> (Allocation, Posting) {
    let mut p = posting(now);
    let a = w.burn(&event(id, product, at), credits(c), &mut p);
    (a, p)
}

fn remaining(w: &WalletState, id: &str) -> Decimal {
    w.grant(&GrantId::new(id).unwrap()).unwrap().totals.remaining().get()
}

fn kinds(p: &Posting) -> Vec<(EntryKind, Decimal)> {
    p.entries.iter().map(|e| (e.kind, e.amount.get())).collect()
}

#[test]
fn standard_burn_order_applies_keys_in_turn() {
    let mut w = wallet(OverageMode::CarryForward);
    let mut paid_late = grant("a_paid_late", dec!(10), t(1, 0), Some(t(20, 0)));
    paid_late.priority = 50;
    let mut promo_late = grant("b_promo_late", dec!(10), t(1, 0), Some(t(20, 0)));
    promo_late.category = GrantCategory::Promotional;
    let soon = grant("c_soon", dec!(10), t(1, 0), Some(t(10, 0)));
    let mut restricted = grant("d_restricted", dec!(10), t(1, 0), None);
    restricted.products = Some(Arc::from(vec![ProductId::new("p").unwrap()]));
    let mut urgent = grant("e_priority", dec!(10), t(1, 0), None);
    urgent.priority = 10;
    for g in [paid_late, promo_late, soon, restricted, urgent] {
        add(&mut w, g, t(1, 0));
    }
    let order: Vec<&str> = w.grants_in_burn_order().map(|g| g.grant.id.as_str()).collect();
    // priority, then restricted, then soonest expiry, then promotional before paid.
    assert_eq!(order, ["e_priority", "d_restricted", "c_soon", "b_promo_late", "a_paid_late"]);

    let (a, _) = burn(&mut w, "e1", "p", t(2, 0), t(2, 0), dec!(25));
    let touched: Vec<(&str, Decimal)> = a.burns.iter().map(|(g, c)| (g.as_str(), c.get())).collect();
    assert_eq!(touched, [("e_priority", dec!(10)), ("d_restricted", dec!(10)), ("c_soon", dec!(5))]);
    assert!(a.overage.is_zero());
}

#[test]
fn custom_burn_order_and_id_tiebreak() {
    let order = BurnOrder::new(vec![BurnOrderKey::EffectiveAt]).unwrap();
    let mut w = WalletState::new(CustomerId::new("c").unwrap(), credit_type(OverageMode::CarryForward, order));
    let mut low = grant("z_first_effective", dec!(5), t(1, 0), None);
    low.priority = 90;
    add(&mut w, low, t(3, 0));
    add(&mut w, grant("b_same_time", dec!(5), t(2, 0), None), t(3, 0));
    add(&mut w, grant("a_same_time", dec!(5), t(2, 0), None), t(3, 0));
    let order: Vec<&str> = w.grants_in_burn_order().map(|g| g.grant.id.as_str()).collect();
    assert_eq!(order, ["z_first_effective", "a_same_time", "b_same_time"]);
    assert!(BurnOrder::new(vec![BurnOrderKey::Priority, BurnOrderKey::Priority]).is_err());
}

#[test]
fn expiry_is_exclusive_at_the_instant() {
    let mut w = wallet(OverageMode::Invoice);
    let exp = t(10, 0);
    add(&mut w, grant("g", dec!(10), t(1, 0), Some(exp)), t(1, 0));
    let just_before = exp - TimeDelta::microseconds(1);
    let (a, _) = burn(&mut w, "e1", "p", just_before, just_before, dec!(1));
    assert_eq!(a.burns.len(), 1);
    let (a, p) = burn(&mut w, "e2", "p", exp, exp, dec!(1));
    assert!(a.burns.is_empty(), "at expires_at the grant is already expired");
    assert_eq!(a.overage.get(), dec!(1));
    // The catch-up before the burn wrote the expiry of the remaining 9.
    assert_eq!(kinds(&p), [(EntryKind::Expire, dec!(-9)), (EntryKind::Overage, dec!(-1))]);
}

#[test]
fn future_grant_is_not_eligible_until_effective() {
    let mut w = wallet(OverageMode::Invoice);
    add(&mut w, grant("g", dec!(10), t(5, 0), None), t(1, 0));
    let (a, _) = burn(&mut w, "e1", "p", t(4, 23), t(4, 23), dec!(1));
    assert_eq!(a.overage.get(), dec!(1), "invoice mode: the later grant does not settle it");
    let (a, _) = burn(&mut w, "e2", "p", t(5, 0), t(5, 0), dec!(1));
    assert_eq!(a.burns.len(), 1);
    assert_eq!(w.outstanding_overage().get(), dec!(1));
}

#[test]
fn carry_forward_overage_is_settled_at_the_later_time_respecting_products() {
    let mut w = wallet(OverageMode::CarryForward);
    let (a, _) = burn(&mut w, "e1", "p", t(1, 0), t(1, 0), dec!(7));
    assert_eq!(a.overage.get(), dec!(7));
    // A grant restricted to another product cannot pay it.
    let mut other = grant("other", dec!(100), t(2, 0), None);
    other.products = Some(Arc::from(vec![ProductId::new("q").unwrap()]));
    add(&mut w, other, t(2, 0));
    assert_eq!(w.outstanding_overage().get(), dec!(7));
    // A future-dated grant pays once time reaches its effective_at.
    add(&mut w, grant("later", dec!(5), t(4, 0), None), t(3, 0));
    assert_eq!(w.outstanding_overage().get(), dec!(7));
    let mut p = posting(t(4, 0));
    w.catch_up(&mut p);
    let settled = &p.entries[0];
    assert_eq!((settled.kind, settled.amount.get(), settled.booked_at), (EntryKind::OverageSettled, dec!(-5), t(4, 0)));
    assert_eq!(settled.related, Some(1), "linked to the overage entry");
    assert_eq!(w.outstanding_overage().get(), dec!(2));
    assert_eq!(remaining(&w, "later"), dec!(0));
    // Catch-up is idempotent.
    let mut again = posting(t(4, 0));
    w.catch_up(&mut again);
    assert!(again.entries.is_empty());
}

#[test]
fn rollover_with_cap_creates_a_child_grant() {
    let mut w = wallet(OverageMode::CarryForward);
    let mut g = grant("plan-jan", dec!(1000), t(1, 0), Some(t(31, 0)));
    g.rollover = Some(RolloverPolicy::new(dec!(0.5), Some(dec!(300)), TimeDelta::days(30)).unwrap());
    g.category = GrantCategory::Promotional;
    add(&mut w, g, t(1, 0));
    burn(&mut w, "e1", "p", t(2, 0), t(2, 0), dec!(200));
    let mut p = posting(t(31, 0));
    w.catch_up(&mut p);
    // remainder 800 x 0.5 = 400, capped at 300; the other 500 expires.
    assert_eq!(
        kinds(&p),
        [(EntryKind::RolloverOut, dec!(-300)), (EntryKind::Grant, dec!(300)), (EntryKind::Expire, dec!(-500))]
    );
    let child = w.grant(&GrantId::new("plan-jan~rollover").unwrap()).unwrap();
    assert_eq!(child.grant.source, GrantSource::Rollover);
    assert_eq!(child.grant.category, GrantCategory::Promotional);
    assert_eq!(child.grant.effective_at, t(31, 0));
    assert_eq!(child.grant.expires_at, Some(t(31, 0) + TimeDelta::days(30)));
    assert_eq!(child.grant.parent.as_ref().map(GrantId::as_str), Some("plan-jan"));
    assert_eq!(p.grants.len(), 1, "the posting carries the new grant for the store");
}

#[test]
fn late_event_after_expiry_draws_on_expired_part_but_not_the_rolled_part() {
    let mut w = wallet(OverageMode::Invoice);
    let mut g = grant("g", dec!(100), t(1, 0), Some(t(10, 0)));
    g.rollover = Some(RolloverPolicy::new(dec!(0.5), None, TimeDelta::days(30)).unwrap());
    add(&mut w, g, t(1, 0));
    let mut p = posting(t(10, 0));
    w.catch_up(&mut p); // rolled 50, expired 50
    let (a, p) = burn(&mut w, "late", "p", t(9, 0), t(11, 0), dec!(70));
    // The late burn at t(9) can take the 50 expired, not the 50 rolled; the
    // rollover grant (effective t(10)) was not yet effective at t(9).
    assert_eq!(a.burns, vec![(GrantId::new("g").unwrap(), credits(dec!(50)))]);
    assert_eq!(a.overage.get(), dec!(20));
    let correction = p.entries.iter().find(|e| e.kind == EntryKind::ExpiryCorrection).unwrap();
    assert_eq!((correction.amount.get(), correction.booked_at), (dec!(50), t(10, 0)));
    let totals = w.grant(&GrantId::new("g").unwrap()).unwrap().totals;
    assert_eq!((totals.burned.get(), totals.expired.get(), totals.corrected.get()), (dec!(50), dec!(50), dec!(50)));
    assert_eq!(totals.remaining().get(), dec!(0));
}

#[test]
fn void_is_not_retroactive_and_bars_late_events() {
    let mut w = wallet(OverageMode::Invoice);
    add(&mut w, grant("g", dec!(10), t(1, 0), None), t(1, 0));
    burn(&mut w, "e1", "p", t(2, 0), t(2, 0), dec!(4));
    let mut p = posting(t(3, 0));
    assert_eq!(w.void(&GrantId::new("g").unwrap(), &mut p).unwrap().get(), dec!(6));
    assert_eq!(kinds(&p), [(EntryKind::Void, dec!(-6))]);
    let (a, _) = burn(&mut w, "late", "p", t(2, 12), t(3, 12), dec!(1));
    assert!(a.burns.is_empty(), "a voided grant is never eligible again");
    let mut p = posting(t(4, 0));
    let err = w.void(&GrantId::new("g").unwrap(), &mut p).unwrap_err();
    assert_eq!(err.to_string(), "grant `g`: is already voided");
    assert!(p.entries.is_empty(), "a refused void writes nothing");
}

#[test]
fn void_of_a_pending_grant_books_at_its_effective_time() {
    let mut w = wallet(OverageMode::Invoice);
    add(&mut w, grant("g", dec!(10), t(5, 0), None), t(1, 0));
    let mut p = posting(t(2, 0));
    w.void(&GrantId::new("g").unwrap(), &mut p).unwrap();
    assert_eq!(p.entries[0].booked_at, t(5, 0));
}

#[test]
fn reversal_restores_live_grants_and_refunds_expired_ones_once() {
    let mut w = wallet(OverageMode::Invoice);
    add(&mut w, grant("short", dec!(5), t(1, 0), Some(t(3, 0))), t(1, 0));
    add(&mut w, grant("long", dec!(50), t(1, 0), None), t(1, 0));
    let (_, burned) = burn(&mut w, "e1", "p", t(2, 0), t(2, 0), dec!(8));
    let event = EventId::new("e1").unwrap();
    let mut p = posting(t(4, 0));
    let r = w.reverse(&event, &burned.entries, TimeDelta::days(30), &mut p).unwrap();
    assert_eq!(r.restored, vec![(GrantId::new("long").unwrap(), credits(dec!(3)))]);
    assert_eq!(r.refund_grants.len(), 1);
    let (refund_id, amount) = &r.refund_grants[0];
    assert_eq!(amount.get(), dec!(5));
    let refund = w.grant(refund_id).unwrap();
    assert_eq!(refund.grant.source, GrantSource::DisputeRefund);
    assert_eq!(refund.grant.expires_at, Some(t(4, 0) + TimeDelta::days(30)));
    assert_eq!(remaining(&w, "long"), dec!(50));

    let mut all = burned.entries.clone();
    all.extend(p.entries.clone());
    let mut again = posting(t(5, 0));
    let err = w.reverse(&event, &all, TimeDelta::days(30), &mut again).unwrap_err();
    assert_eq!(err, LedgerError::AlreadyReversed { event: "e1".into() });
    assert!(again.entries.is_empty());
}

#[test]
fn reversal_of_overage_cancels_the_unsettled_part() {
    let mut w = wallet(OverageMode::CarryForward);
    add(&mut w, grant("g", dec!(2), t(1, 0), None), t(1, 0));
    let (a, burned) = burn(&mut w, "e1", "p", t(2, 0), t(2, 0), dec!(5));
    assert_eq!(a.overage.get(), dec!(3));
    // A new grant settles 1 of the 3.
    let settled = add(&mut w, grant("topup", dec!(1), t(3, 0), None), t(3, 0));
    assert_eq!(w.outstanding_overage().get(), dec!(2));
    let mut linked = burned.entries.clone();
    linked.extend(settled.entries.iter().filter(|e| e.event.is_some()).cloned());
    let mut p = posting(t(4, 0));
    let r = w.reverse(&EventId::new("e1").unwrap(), &linked, TimeDelta::days(30), &mut p).unwrap();
    assert_eq!(r.overage_cancelled.get(), dec!(2));
    assert_eq!(r.total().get(), dec!(5), "everything the event cost comes back");
    assert!(w.outstanding_overage().is_zero());
    assert_eq!(remaining(&w, "g"), dec!(2));
    assert_eq!(remaining(&w, "topup"), dec!(1));
}

#[test]
fn replay_equals_the_incremental_state() {
    let mut w = wallet(OverageMode::CarryForward);
    let mut entries = Vec::new();
    let mut grants = Vec::new();
    let mut g = grant("g", dec!(10), t(1, 0), Some(t(5, 0)));
    g.rollover = Some(RolloverPolicy::new(dec!(1), None, TimeDelta::days(3)).unwrap());
    for p in [add(&mut w, g, t(1, 0)), burn(&mut w, "e1", "p", t(2, 0), t(2, 0), dec!(12)).1] {
        entries.extend(p.entries);
        grants.extend(p.grants);
    }
    let mut p = posting(t(6, 0));
    w.catch_up(&mut p);
    entries.extend(p.entries);
    grants.extend(p.grants);
    let replayed = WalletState::replay(w.customer().clone(), w.credit_type().clone(), grants, &entries).unwrap();
    let totals = |s: &WalletState| s.grants().iter().map(|g| (g.grant.id.clone(), g.totals)).collect::<Vec<_>>();
    assert_eq!(totals(&replayed), totals(&w));
    assert_eq!(replayed.outstanding_overage(), w.outstanding_overage());
}
