//! Mapping between the ledger/store types and the wire types of
//! `creditdesk-api`. The API crate deliberately does not depend on the
//! ledger, so its enums are declared twice; `enums_agree` below keeps the
//! two in step.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use creditdesk_api as api;
use creditdesk_ledger as ledger;
use creditdesk_ledger::balance::{Balance, GrantBalance, GrantStatus};
use creditdesk_ledger::catalog::{BurnOrderKey, CreditType, OverageMode, Product, RateVersion};
use creditdesk_ledger::engine::IngestResult;
use creditdesk_ledger::entry::{Entry, EntryKind};
use creditdesk_ledger::event::RejectReason;
use creditdesk_ledger::grant::{Grant, GrantCategory, GrantSource, RolloverPolicy};
use creditdesk_ledger::series::{BurnSeries, SeriesKey};
use creditdesk_ledger::wallet::GrantTotals;
use creditdesk_ledger::Credits;
use rust_decimal::Decimal;

pub use creditdesk_store::GrantMeta;

/// A customer's [`GrantMeta`]s by grant id (what the balance view does not carry).
pub type GrantMetas = HashMap<String, GrantMeta>;

/// The store's metas, keyed as [`GrantMetas`].
pub fn grant_metas(metas: HashMap<ledger::ids::GrantId, GrantMeta>) -> GrantMetas {
    metas.into_iter().map(|(id, m)| (id.to_string(), m)).collect()
}

pub fn money(m: &ledger::Money) -> api::Money {
    api::Money::new(m.amount.normalize(), m.currency.code())
}

/// Credits at a credit type's unit price.
pub fn value(c: Credits, unit_price: &ledger::Money) -> api::Money {
    money(&c.value_at(unit_price))
}

pub fn category(c: GrantCategory) -> api::GrantCategory {
    match c {
        GrantCategory::Paid => api::GrantCategory::Paid,
        GrantCategory::Promotional => api::GrantCategory::Promotional,
    }
}

pub fn category_in(c: api::GrantCategory) -> GrantCategory {
    match c {
        api::GrantCategory::Paid => GrantCategory::Paid,
        api::GrantCategory::Promotional => GrantCategory::Promotional,
    }
}

pub fn source(s: GrantSource) -> api::GrantSource {
    match s {
        GrantSource::Purchase => api::GrantSource::Purchase,
        GrantSource::Plan => api::GrantSource::Plan,
        GrantSource::Promotion => api::GrantSource::Promotion,
        GrantSource::Goodwill => api::GrantSource::Goodwill,
        GrantSource::DisputeRefund => api::GrantSource::DisputeRefund,
        GrantSource::Rollover => api::GrantSource::Rollover,
        GrantSource::AutoTopup => api::GrantSource::AutoTopup,
        GrantSource::Migration => api::GrantSource::Migration,
    }
}

pub fn source_in(s: api::GrantSource) -> GrantSource {
    match s {
        api::GrantSource::Purchase => GrantSource::Purchase,
        api::GrantSource::Plan => GrantSource::Plan,
        api::GrantSource::Promotion => GrantSource::Promotion,
        api::GrantSource::Goodwill => GrantSource::Goodwill,
        api::GrantSource::DisputeRefund => GrantSource::DisputeRefund,
        api::GrantSource::Rollover => GrantSource::Rollover,
        api::GrantSource::AutoTopup => GrantSource::AutoTopup,
        api::GrantSource::Migration => GrantSource::Migration,
    }
}

pub fn status(s: GrantStatus) -> api::GrantStatus {
    match s {
        GrantStatus::Pending => api::GrantStatus::Pending,
        GrantStatus::Active => api::GrantStatus::Active,
        GrantStatus::Expired => api::GrantStatus::Expired,
        GrantStatus::Voided => api::GrantStatus::Voided,
    }
}

pub fn kind(k: EntryKind) -> api::EntryKind {
    match k {
        EntryKind::Grant => api::EntryKind::Grant,
        EntryKind::Burn => api::EntryKind::Burn,
        EntryKind::Overage => api::EntryKind::Overage,
        EntryKind::OverageSettled => api::EntryKind::OverageSettled,
        EntryKind::Expire => api::EntryKind::Expire,
        EntryKind::ExpiryCorrection => api::EntryKind::ExpiryCorrection,
        EntryKind::RolloverOut => api::EntryKind::RolloverOut,
        EntryKind::Void => api::EntryKind::Void,
        EntryKind::Reversal => api::EntryKind::Reversal,
    }
}

pub fn kind_in(k: api::EntryKind) -> EntryKind {
    match k {
        api::EntryKind::Grant => EntryKind::Grant,
        api::EntryKind::Burn => EntryKind::Burn,
        api::EntryKind::Overage => EntryKind::Overage,
        api::EntryKind::OverageSettled => EntryKind::OverageSettled,
        api::EntryKind::Expire => EntryKind::Expire,
        api::EntryKind::ExpiryCorrection => EntryKind::ExpiryCorrection,
        api::EntryKind::RolloverOut => EntryKind::RolloverOut,
        api::EntryKind::Void => EntryKind::Void,
        api::EntryKind::Reversal => EntryKind::Reversal,
    }
}

pub fn burn_key(k: BurnOrderKey) -> api::BurnOrderKey {
    match k {
        BurnOrderKey::Priority => api::BurnOrderKey::Priority,
        BurnOrderKey::RestrictedFirst => api::BurnOrderKey::RestrictedFirst,
        BurnOrderKey::ExpiresAt => api::BurnOrderKey::ExpiresAt,
        BurnOrderKey::PromotionalFirst => api::BurnOrderKey::PromotionalFirst,
        BurnOrderKey::EffectiveAt => api::BurnOrderKey::EffectiveAt,
    }
}

pub fn burn_key_in(k: api::BurnOrderKey) -> BurnOrderKey {
    match k {
        api::BurnOrderKey::Priority => BurnOrderKey::Priority,
        api::BurnOrderKey::RestrictedFirst => BurnOrderKey::RestrictedFirst,
        api::BurnOrderKey::ExpiresAt => BurnOrderKey::ExpiresAt,
        api::BurnOrderKey::PromotionalFirst => BurnOrderKey::PromotionalFirst,
        api::BurnOrderKey::EffectiveAt => BurnOrderKey::EffectiveAt,
    }
}

pub fn overage_mode(m: OverageMode) -> api::OverageMode {
    match m {
        OverageMode::CarryForward => api::OverageMode::CarryForward,
        OverageMode::Invoice => api::OverageMode::Invoice,
    }
}

pub fn overage_mode_in(m: api::OverageMode) -> OverageMode {
    match m {
        api::OverageMode::CarryForward => OverageMode::CarryForward,
        api::OverageMode::Invoice => OverageMode::Invoice,
    }
}

pub fn bucket_in(b: api::Bucket) -> ledger::series::Bucket {
    match b {
        api::Bucket::Day => ledger::series::Bucket::Day,
        api::Bucket::Week => ledger::series::Bucket::Week,
        api::Bucket::Month => ledger::series::Bucket::Month,
    }
}

pub fn rollover(p: &RolloverPolicy) -> api::grants::RolloverPolicy {
    api::grants::RolloverPolicy {
        fraction: p.fraction,
        max_amount: p.max_amount.map(Credits::get),
        // Requests carry whole days; a policy written by an import in
        // seconds is shown rounded down.
        expires_after_days: u32::try_from(p.expires_after.num_days()).unwrap_or(u32::MAX),
    }
}

pub fn grant(g: &Grant, meta: Option<GrantMeta>, voided: bool) -> api::grants::Grant {
    api::grants::Grant {
        id: g.id.to_string(),
        customer_id: g.customer.to_string(),
        credit_type_id: g.credit_type.to_string(),
        amount: g.amount.get(),
        category: category(g.category),
        source: source(g.source),
        priority: u32::from(g.priority),
        effective_at: g.effective_at,
        expires_at: g.expires_at,
        products: g.products.as_ref().map(|ps| ps.iter().map(ToString::to_string).collect()),
        contract_id: g.contract_id.as_ref().map(ToString::to_string),
        cost_basis: g.cost_basis.as_ref().map(money),
        rollover: g.rollover.as_ref().map(rollover),
        parent_id: g.parent.as_ref().map(ToString::to_string),
        reason_code: g.reason_code.to_string(),
        ticket_ref: g.ticket_ref.as_deref().map(str::to_owned),
        note: g.note.as_deref().map(str::to_owned),
        created_by: g.created_by.to_string(),
        approved_by: g.approved_by.as_ref().map(ToString::to_string),
        // Only a grant the store lost track of lacks its meta; its effective
        // time is the closest honest stand-in.
        created_at: meta.map_or(g.effective_at, |m| m.recorded_at),
        voided_at: if voided { meta.and_then(|m| m.voided_at) } else { None },
    }
}

pub fn totals(t: &GrantTotals) -> api::grants::GrantTotals {
    api::grants::GrantTotals {
        amount: t.amount.get(),
        burned: t.burned.get(),
        settled: t.settled.get(),
        expired: t.expired.get(),
        corrected: t.corrected.get(),
        rolled: t.rolled.get(),
        voided: t.voided.get(),
        reversed: t.reversed.get(),
    }
}

pub fn grant_balance(g: &GrantBalance, metas: &GrantMetas, unit_price: &ledger::Money) -> api::grants::GrantBalance {
    // A void is known when the grant is voided at the instant asked about,
    // or pending and already voided (it will never start).
    let voided = g.status == GrantStatus::Voided || (g.status == GrantStatus::Pending && g.totals.voided.is_positive());
    api::grants::GrantBalance {
        grant: grant(&g.grant, metas.get(g.grant.id.as_str()).copied(), voided),
        status: status(g.status),
        totals: totals(&g.totals),
        remaining: g.remaining.get(),
        remaining_value: value(g.remaining, unit_price),
    }
}

pub fn expiring(e: &ledger::balance::ExpiringAmount) -> api::ExpiringAmount {
    api::ExpiringAmount { expires_at: e.expires_at, amount: e.amount.get() }
}

pub fn balance(b: &Balance, ct: &CreditType, metas: &GrantMetas) -> api::balances::Balance {
    api::balances::Balance {
        credit_type_id: ct.id.to_string(),
        unit_label: ct.unit_label.clone(),
        unit_price: money(&ct.unit_price),
        at: b.at,
        as_of: b.as_of,
        available: b.available.get(),
        pending: b.pending.get(),
        overage: b.overage.get(),
        net: b.net.get(),
        available_value: value(b.available, &ct.unit_price),
        net_value: value(b.net, &ct.unit_price),
        expiring: b.expiring.iter().map(expiring).collect(),
        grants: b.grants.iter().map(|g| grant_balance(g, metas, &ct.unit_price)).collect(),
    }
}

pub fn entry(e: &Entry) -> api::ledger::LedgerEntry {
    api::ledger::LedgerEntry {
        seq: e.seq,
        customer_id: e.customer.to_string(),
        credit_type_id: e.credit_type.to_string(),
        grant_id: e.grant.as_ref().map(ToString::to_string),
        kind: kind(e.kind),
        amount: e.amount.get(),
        booked_at: e.booked_at,
        recorded_at: e.recorded_at,
        event_id: e.event.as_ref().map(ToString::to_string),
        product_id: e.product.as_ref().map(ToString::to_string),
        related_seq: e.related,
        actor: e.actor.to_string(),
        // Approvals arrive with the workflow issue; nothing is approved yet.
        approved_by: None,
        reason_code: e.reason_code.as_ref().map(ToString::to_string),
        ticket_ref: e.ticket_ref.as_deref().map(str::to_owned),
        note: e.note.as_deref().map(str::to_owned),
    }
}

pub fn rejection(r: &RejectReason) -> api::events::EventRejection {
    let code: api::ProblemCode = r.code().parse().unwrap_or(api::ProblemCode::ValidationFailed);
    let mut out = api::events::EventRejection {
        code,
        detail: String::new(),
        field: None,
        oldest_accepted: None,
        latest_accepted: None,
        original_received_at: None,
    };
    match r {
        RejectReason::EventTooOld { oldest_accepted } => {
            out.detail = format!("the event is older than the late window allows (oldest accepted: {oldest_accepted})");
            out.oldest_accepted = Some(*oldest_accepted);
        }
        RejectReason::EventInFuture { latest_accepted } => {
            out.detail = format!("the event time is too far in the future (latest accepted: {latest_accepted})");
            out.latest_accepted = Some(*latest_accepted);
        }
        RejectReason::IdempotencyConflict { original_received_at } => {
            out.detail = "an event with this id was received before with a different body".to_owned();
            out.original_received_at = Some(*original_received_at);
        }
        RejectReason::Invalid { field, rule } => {
            // The ledger reports a missing catalog entry against the whole
            // event; the wire names the event's field that points at it.
            let field = match field.as_str() {
                "event" if rule.starts_with("unknown product") => "product_id",
                "event" if rule.starts_with("unknown customer") => "customer_id",
                other => other,
            };
            out.detail = format!("{field}: {rule}");
            out.field = Some(field.to_owned());
        }
    }
    out
}

pub fn ingest_result(
    id: &str,
    credit_type: Option<&str>,
    r: &IngestResult,
    detail: api::events::ResultDetail,
) -> api::events::EventResult {
    use api::events::{AcceptedDetail, Allocation, BurnLine, EventResult, Rating, ResultDetail};
    match r {
        IngestResult::Accepted { rating, allocation, entries } => EventResult::Accepted {
            id: id.to_owned(),
            detail: (detail == ResultDetail::Full).then(|| AcceptedDetail {
                credit_type_id: credit_type.unwrap_or_default().to_owned(),
                rating: Rating {
                    credits: rating.credits.get(),
                    credits_per_unit: rating.credits_per_unit,
                    rate_version: rating.rate_version,
                    from_override: rating.from_override,
                },
                allocation: Allocation {
                    burns: allocation
                        .burns
                        .iter()
                        .map(|(g, c)| BurnLine { grant_id: g.to_string(), amount: c.get() })
                        .collect(),
                    overage: allocation.overage.get(),
                },
                entry_seqs: entries.clone(),
            }),
        },
        IngestResult::Duplicate { original_received_at } => {
            EventResult::Duplicate { id: id.to_owned(), original_received_at: *original_received_at }
        }
        IngestResult::Rejected { reason } => EventResult::Rejected { id: id.to_owned(), reason: rejection(reason) },
    }
}

/// A ledger burn series as the wire's columnar series, optionally per
/// credit type and restricted to one credit type.
pub fn burn_series(
    customer: &str,
    s: &BurnSeries,
    group_by: api::series::SeriesGroupBy,
    only: Option<&str>,
) -> api::series::BurnSeries {
    use api::series::{BurnBucket, SeriesColumn};
    // Target column of each source column (None: filtered out).
    let mut columns: Vec<SeriesColumn> = Vec::new();
    let mut target: Vec<Option<usize>> = Vec::with_capacity(s.columns.len());
    for key in &s.columns {
        if only.is_some_and(|ct| ct != key.credit_type.as_str()) {
            target.push(None);
            continue;
        }
        let col = column_of(key, group_by);
        let idx = match columns.iter().position(|c| *c == col) {
            Some(i) => i,
            None => {
                columns.push(col);
                columns.len() - 1
            }
        };
        target.push(Some(idx));
    }
    let fold = |values: &[Credits]| -> Vec<Decimal> {
        let mut out = vec![Decimal::ZERO; columns.len()];
        for (v, t) in values.iter().zip(&target) {
            if let Some(t) = t {
                out[*t] += v.get();
            }
        }
        out
    };
    let buckets: Vec<BurnBucket> = s
        .buckets
        .iter()
        .map(|b| {
            let burned = fold(&b.burned);
            let reversed = fold(&b.reversed);
            BurnBucket {
                date: b.date,
                start: b.start,
                end: b.end,
                partial: b.partial,
                total_burned: burned.iter().sum(),
                total_reversed: reversed.iter().sum(),
                burned,
                reversed,
            }
        })
        .collect();
    let burned = fold(&s.burned);
    let reversed = fold(&s.reversed);
    api::series::BurnSeries {
        customer_id: customer.to_owned(),
        bucket: match s.bucket {
            ledger::series::Bucket::Day => api::Bucket::Day,
            ledger::series::Bucket::Week => api::Bucket::Week,
            ledger::series::Bucket::Month => api::Bucket::Month,
        },
        tz: s.tz.name().to_owned(),
        group_by,
        from: s.from,
        to: s.to,
        columns,
        buckets,
        total_burned: burned.iter().sum(),
        total_reversed: reversed.iter().sum(),
        burned,
        reversed,
    }
}

fn column_of(key: &SeriesKey, group_by: api::series::SeriesGroupBy) -> api::series::SeriesColumn {
    api::series::SeriesColumn {
        credit_type_id: key.credit_type.to_string(),
        product_id: match group_by {
            api::series::SeriesGroupBy::Product => key.product.as_ref().map(ToString::to_string),
            api::series::SeriesGroupBy::CreditType => None,
        },
    }
}

pub fn rate_version(v: &RateVersion) -> api::admin::RateVersion {
    api::admin::RateVersion { effective_from: v.effective_from, credits_per_unit: v.credits_per_unit.normalize() }
}

pub fn rate_version_in(v: &api::admin::RateVersion) -> RateVersion {
    RateVersion { effective_from: v.effective_from, credits_per_unit: v.credits_per_unit }
}

pub fn credit_type(ct: &CreditType, created_at: DateTime<Utc>) -> api::admin::CreditType {
    api::admin::CreditType {
        id: ct.id.to_string(),
        name: ct.name.clone(),
        unit_label: ct.unit_label.clone(),
        unit_price: money(&ct.unit_price),
        burn_order: ct.burn_order.keys().iter().copied().map(burn_key).collect(),
        overage_mode: overage_mode(ct.overage_mode),
        created_at,
    }
}

pub fn product(p: &Product, created_at: DateTime<Utc>) -> api::admin::Product {
    api::admin::Product {
        id: p.id.to_string(),
        name: p.name.clone(),
        credit_type_id: p.credit_type.to_string(),
        rate_card: p.rate_card.versions().iter().map(rate_version).collect(),
        created_at,
    }
}

pub fn customer(c: &creditdesk_store::Customer) -> api::admin::Customer {
    api::admin::Customer {
        id: c.id.to_string(),
        name: c.name.clone(),
        external_ref: c.external_ref.clone(),
        created_at: c.created_at,
    }
}

pub fn user(u: &creditdesk_store::User) -> Option<api::admin::User> {
    Some(api::admin::User {
        id: u.id.clone(),
        name: u.name.clone(),
        role: u.role.parse().ok()?,
        created_at: u.created_at,
        revoked_at: u.revoked_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The API crate re-declares the ledger's enums; every value must map
    /// to the value with the same wire name, both ways.
    #[test]
    fn enums_agree() {
        let wire = |v: &dyn erased::Wire| v.wire();
        for k in EntryKind::ALL {
            assert_eq!(kind(k).as_str(), k.as_str());
            assert_eq!(kind_in(kind(k)), k);
        }
        assert_eq!(api::EntryKind::ALL.len(), EntryKind::ALL.len());
        for c in [GrantCategory::Paid, GrantCategory::Promotional] {
            assert_eq!(category(c).as_str(), wire(&c));
            assert_eq!(category_in(category(c)), c);
        }
        for s in api::GrantSource::ALL {
            assert_eq!(source(source_in(*s)), *s);
            assert_eq!(wire(&source_in(*s)), s.as_str());
        }
        for k in api::BurnOrderKey::ALL {
            assert_eq!(burn_key(burn_key_in(*k)), *k);
            assert_eq!(wire(&burn_key_in(*k)), k.as_str());
        }
        for m in api::OverageMode::ALL {
            assert_eq!(overage_mode(overage_mode_in(*m)), *m);
            assert_eq!(wire(&overage_mode_in(*m)), m.as_str());
        }
        for s in [GrantStatus::Pending, GrantStatus::Active, GrantStatus::Expired, GrantStatus::Voided] {
            assert_eq!(status(s).as_str(), wire(&s));
        }
    }

    /// The serde name of a ledger enum value.
    mod erased {
        pub trait Wire {
            fn wire(&self) -> String;
        }
        impl<T: serde::Serialize> Wire for T {
            fn wire(&self) -> String {
                serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
            }
        }
    }
}
