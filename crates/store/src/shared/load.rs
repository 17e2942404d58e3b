//! Decoding stored rows back into ledger values: the catalog, grants, and a
//! wallet's live state.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::TimeDelta;
use creditdesk_ledger::catalog::{BurnOrder, Catalog, CreditType, Product, RateCard, RateVersion};
use creditdesk_ledger::grant::{Grant, RolloverPolicy};
use creditdesk_ledger::ids::{ActorId, ContractId, CreditTypeId, CustomerId, EventId, GrantId, ProductId, ReasonCode};
use creditdesk_ledger::wallet::{GrantState, GrantTotals, OverageItem, WalletState};
use creditdesk_ledger::{Credits, Currency, Money};

use super::rows::{decimal, parse as id};
use crate::codec::*;
use crate::db::{params, query_all, query_opt, Db, Row, Sql, WalletKey};
use crate::error::{Result, StoreError};

const CREDIT_TYPES: Sql = Sql::same(
    "SELECT id, name, unit_label, unit_price, currency, burn_order, overage_mode FROM credit_types ORDER BY id",
);
const RATE_VERSIONS: Sql =
    Sql::same("SELECT product_id, customer_id, effective_from, credits_per_unit FROM rate_versions");
const PRODUCTS: Sql = Sql::same("SELECT id, name, credit_type_id FROM products ORDER BY id");

pub(crate) fn load_catalog<D: Db + ?Sized>(db: &mut D) -> Result<Catalog> {
    let mut catalog = Catalog::new();
    let types = query_all(db, &CREDIT_TYPES, &[], |r| {
        Ok((r.text(0)?, r.text(1)?, r.text(2)?, r.text(3)?, r.text(4)?, r.text(5)?, r.text(6)?))
    })?;
    for (ct_id, name, unit_label, price, currency, order, mode) in types {
        let keys: Vec<String> = serde_json::from_str(&order).map_err(StoreError::corrupt)?;
        let keys = keys.iter().map(|k| burn_key_from(k)).collect::<Result<Vec<_>>>()?;
        let currency = Currency::new(&currency).map_err(StoreError::corrupt)?;
        let ct = CreditType::new(
            id(ct_id, CreditTypeId::new)?,
            name,
            unit_label,
            Money { amount: decimal(&price)?, currency },
            BurnOrder::new(keys).map_err(StoreError::corrupt)?,
            overage_from(&mode)?,
        )
        .map_err(StoreError::corrupt)?;
        catalog.add_credit_type(ct).map_err(StoreError::corrupt)?;
    }

    // Rate versions: '' is the product's card, else a customer's override.
    let mut cards: HashMap<(String, String), Vec<RateVersion>> = HashMap::new();
    let versions = query_all(db, &RATE_VERSIONS, &[], |r| Ok((r.text(0)?, r.text(1)?, r.i64(2)?, r.text(3)?)))?;
    for (product, customer, from, cpu) in versions {
        cards
            .entry((product, customer))
            .or_default()
            .push(RateVersion { effective_from: time(from)?, credits_per_unit: decimal(&cpu)? });
    }
    let products = query_all(db, &PRODUCTS, &[], |r| Ok((r.text(0)?, r.text(1)?, r.text(2)?)))?;
    for (pid, name, ct) in products {
        let versions = cards.remove(&(pid.clone(), String::new())).unwrap_or_default();
        let rate_card = RateCard::new(versions).map_err(|e| StoreError::corrupt(format!("rate card of {pid}: {e}")))?;
        let product =
            Product { id: id(pid, ProductId::new)?, name, credit_type: id(ct, CreditTypeId::new)?, rate_card };
        catalog.add_product(product).map_err(StoreError::corrupt)?;
    }
    for ((product, customer), versions) in cards {
        let card = RateCard::new(versions).map_err(StoreError::corrupt)?;
        catalog
            .set_override(id(customer, CustomerId::new)?, &id(product, ProductId::new)?, card)
            .map_err(StoreError::corrupt)?;
    }
    Ok(catalog)
}

/// The columns `grant_from_row` reads, in order, from `grants g`.
macro_rules! grant_columns {
    () => {
        "g.id, g.customer_id, g.credit_type_id, g.amount, g.category, g.source, \
         g.priority, g.effective_at, g.expires_at, g.products, g.contract_id, g.cost_basis, g.cost_currency, \
         g.rollover_fraction, g.rollover_max, g.rollover_expires_after, g.parent_id, g.reason_code, g.ticket_ref, \
         g.note, g.created_by, g.approved_by, g.recorded_at"
    };
}
pub(crate) use grant_columns;
pub(crate) const GRANT_COLUMN_COUNT: usize = 23;

pub(crate) fn grant_from_row(r: &dyn Row) -> Result<Grant> {
    let products = match r.opt_text(9)? {
        None => None,
        Some(json) => {
            let list: Vec<String> = serde_json::from_str(&json).map_err(StoreError::corrupt)?;
            Some(Arc::from(list.into_iter().map(|p| id(p, ProductId::new)).collect::<Result<Vec<_>>>()?))
        }
    };
    let cost_basis = match (r.opt_text(11)?, r.opt_text(12)?) {
        (Some(amount), Some(cur)) => {
            Some(Money { amount: decimal(&amount)?, currency: Currency::new(&cur).map_err(StoreError::corrupt)? })
        }
        _ => None,
    };
    let rollover = match r.opt_text(13)? {
        None => None,
        Some(fraction) => {
            let max = r.opt_i64(14)?.map(credits).transpose()?;
            let after = TimeDelta::seconds(r.opt_i64(15)?.unwrap_or(0));
            Some(RolloverPolicy::new(decimal(&fraction)?, max.map(Credits::get), after).map_err(StoreError::corrupt)?)
        }
    };
    Ok(Grant {
        id: id(r.text(0)?, GrantId::new)?,
        customer: id(r.text(1)?, CustomerId::new)?,
        credit_type: id(r.text(2)?, CreditTypeId::new)?,
        amount: credits(r.i64(3)?)?,
        category: category_from(&r.text(4)?)?,
        source: source_from(&r.text(5)?)?,
        priority: u8::try_from(r.i64(6)?).map_err(StoreError::corrupt)?,
        effective_at: time(r.i64(7)?)?,
        expires_at: opt_time(r.opt_i64(8)?)?,
        products,
        contract_id: r.opt_text(10)?.map(|c| id(c, ContractId::new)).transpose()?,
        cost_basis,
        rollover,
        parent: r.opt_text(16)?.map(|p| id(p, GrantId::new)).transpose()?,
        reason_code: id(r.text(17)?, ReasonCode::new)?,
        ticket_ref: r.opt_text(18)?.map(Arc::from),
        note: r.opt_text(19)?.map(Arc::from),
        created_by: id(r.text(20)?, ActorId::new)?,
        approved_by: r.opt_text(21)?.map(|a| id(a, ActorId::new)).transpose()?,
    })
}

const WALLET_GRANTS: Sql = Sql::same(concat!(
    "SELECT ",
    grant_columns!(),
    ", s.burned, s.settled, s.expired, s.corrected, s.rolled, s.voided, s.reversed, \
     s.voided_at, s.expiry_seq FROM grants g JOIN grant_state s ON s.grant_id = g.id \
     WHERE g.customer_id = ?1 AND g.credit_type_id = ?2"
));
const WALLET_RESTORATIONS: Sql = Sql::same(
    "SELECT r.grant_id, r.booked_at, r.amount FROM restorations r JOIN grants g ON g.id = r.grant_id \
     WHERE g.customer_id = ?1 AND g.credit_type_id = ?2 ORDER BY r.seq",
);
const OPEN_OVERAGE: Sql = Sql::same(
    "SELECT seq, product_id, event_id, booked_at, amount, settled, reversed FROM overage_items \
     WHERE customer_id = ?1 AND credit_type_id = ?2 AND amount > settled + reversed",
);

/// A wallet's live state: every grant with its running totals, the credits
/// reversals gave back, and the overage still outstanding.
pub(crate) fn load_wallet<D: Db + ?Sized>(
    db: &mut D,
    customer: &CustomerId,
    ct: &Arc<CreditType>,
) -> Result<WalletState> {
    let key = params![customer.as_str(), ct.id.as_str()];
    let mut grants = query_all(db, &WALLET_GRANTS, &key, |r| {
        let grant = grant_from_row(r)?;
        let n = GRANT_COLUMN_COUNT;
        let totals = GrantTotals {
            amount: grant.amount,
            burned: credits(r.i64(n)?)?,
            settled: credits(r.i64(n + 1)?)?,
            expired: credits(r.i64(n + 2)?)?,
            corrected: credits(r.i64(n + 3)?)?,
            rolled: credits(r.i64(n + 4)?)?,
            voided: credits(r.i64(n + 5)?)?,
            reversed: credits(r.i64(n + 6)?)?,
        };
        Ok(GrantState {
            grant: Arc::new(grant),
            totals,
            voided_at: opt_time(r.opt_i64(n + 7)?)?,
            expiry_seq: r.opt_i64(n + 8)?.map(|s| s as u64),
            restored: Vec::new(),
        })
    })?;
    let index: HashMap<GrantId, usize> = grants.iter().enumerate().map(|(i, g)| (g.grant.id.clone(), i)).collect();
    let restored = query_all(db, &WALLET_RESTORATIONS, &key, |r| Ok((r.text(0)?, r.i64(1)?, r.i64(2)?)))?;
    for (grant, booked, amount) in restored {
        let gi = *index.get(grant.as_str()).ok_or_else(|| StoreError::corrupt(format!("restoration of {grant}")))?;
        grants[gi].restored.push((time(booked)?, credits(amount)?));
    }
    let overages = query_all(db, &OPEN_OVERAGE, &key, |r| {
        Ok(OverageItem {
            seq: r.i64(0)? as u64,
            product: id(r.text(1)?, ProductId::new)?,
            event: r.opt_text(2)?.map(|e| id(e, EventId::new)).transpose()?,
            booked_at: time(r.i64(3)?)?,
            amount: credits(r.i64(4)?)?,
            settled: credits(r.i64(5)?)?,
            reversed: credits(r.i64(6)?)?,
        })
    })?;
    Ok(WalletState::restore(customer.clone(), ct.clone(), grants, overages)?)
}

const WALLET_OF_GRANT: Sql = Sql::same("SELECT customer_id, credit_type_id FROM grants WHERE id = ?1");

/// The grant's wallet, if the grant exists.
pub(crate) fn wallet_of_grant<D: Db + ?Sized>(db: &mut D, grant: &GrantId) -> Result<Option<WalletKey>> {
    query_opt(db, &WALLET_OF_GRANT, &params![grant.as_str()], |r| {
        Ok((id(r.text(0)?, CustomerId::new)?, id(r.text(1)?, CreditTypeId::new)?))
    })
}
