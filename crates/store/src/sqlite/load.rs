//! Decoding stored rows back into ledger values: the catalog, grants, and a
//! wallet's live state.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use chrono::TimeDelta;
use creditdesk_ledger::catalog::{BurnOrder, Catalog, CreditType, Product, RateCard, RateVersion};
use creditdesk_ledger::grant::{Grant, RolloverPolicy};
use creditdesk_ledger::ids::{ActorId, ContractId, CreditTypeId, CustomerId, EventId, GrantId, ProductId, ReasonCode};
use creditdesk_ledger::wallet::{GrantState, GrantTotals, OverageItem, WalletState};
use creditdesk_ledger::{Credits, Currency, Money};
use rusqlite::{params, Connection, OptionalExtension, Row};
use rust_decimal::Decimal;

use crate::codec::*;
use crate::error::{Result, StoreError};

fn decimal(s: &str) -> Result<Decimal> {
    Decimal::from_str(s).map_err(|_| StoreError::corrupt(format!("decimal {s}")))
}

fn id<T>(s: String, make: impl FnOnce(String) -> creditdesk_ledger::Result<T>) -> Result<T> {
    let shown = s.clone();
    make(s).map_err(|e| StoreError::corrupt(format!("id {shown}: {e}")))
}

pub(crate) fn load_catalog(conn: &Connection) -> Result<Catalog> {
    let mut catalog = Catalog::new();
    let mut stmt = conn.prepare(
        "SELECT id, name, unit_label, unit_price, currency, burn_order, overage_mode FROM credit_types ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, String>(5)?,
            r.get::<_, String>(6)?,
        ))
    })?;
    for row in rows {
        let (ct_id, name, unit_label, price, currency, order, mode): (
            String,
            String,
            String,
            String,
            String,
            String,
            String,
        ) = row?;
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
    let mut stmt =
        conn.prepare("SELECT product_id, customer_id, effective_from, credits_per_unit FROM rate_versions")?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, String>(3)?))
    })?;
    for row in rows {
        let (product, customer, from, cpu) = row?;
        cards
            .entry((product, customer))
            .or_default()
            .push(RateVersion { effective_from: time(from)?, credits_per_unit: decimal(&cpu)? });
    }
    let mut stmt = conn.prepare("SELECT id, name, credit_type_id FROM products ORDER BY id")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))?;
    for row in rows {
        let (pid, name, ct) = row?;
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
pub(crate) const GRANT_COLUMNS: &str = "g.id, g.customer_id, g.credit_type_id, g.amount, g.category, g.source, \
     g.priority, g.effective_at, g.expires_at, g.products, g.contract_id, g.cost_basis, g.cost_currency, \
     g.rollover_fraction, g.rollover_max, g.rollover_expires_after, g.parent_id, g.reason_code, g.ticket_ref, \
     g.note, g.created_by, g.approved_by, g.recorded_at";
pub(crate) const GRANT_COLUMN_COUNT: usize = 23;

pub(crate) fn grant_from_row(r: &Row<'_>) -> Result<Grant> {
    let products: Option<String> = r.get(9)?;
    let products = match products {
        None => None,
        Some(json) => {
            let list: Vec<String> = serde_json::from_str(&json).map_err(StoreError::corrupt)?;
            Some(Arc::from(list.into_iter().map(|p| id(p, ProductId::new)).collect::<Result<Vec<_>>>()?))
        }
    };
    let cost_basis = match (r.get::<_, Option<String>>(11)?, r.get::<_, Option<String>>(12)?) {
        (Some(amount), Some(cur)) => {
            Some(Money { amount: decimal(&amount)?, currency: Currency::new(&cur).map_err(StoreError::corrupt)? })
        }
        _ => None,
    };
    let rollover = match r.get::<_, Option<String>>(13)? {
        None => None,
        Some(fraction) => {
            let max = r.get::<_, Option<i64>>(14)?.map(credits).transpose()?;
            let after = TimeDelta::seconds(r.get::<_, Option<i64>>(15)?.unwrap_or(0));
            Some(RolloverPolicy::new(decimal(&fraction)?, max.map(Credits::get), after).map_err(StoreError::corrupt)?)
        }
    };
    Ok(Grant {
        id: id(r.get(0)?, GrantId::new)?,
        customer: id(r.get(1)?, CustomerId::new)?,
        credit_type: id(r.get(2)?, CreditTypeId::new)?,
        amount: credits(r.get(3)?)?,
        category: category_from(&r.get::<_, String>(4)?)?,
        source: source_from(&r.get::<_, String>(5)?)?,
        priority: u8::try_from(r.get::<_, i64>(6)?).map_err(StoreError::corrupt)?,
        effective_at: time(r.get(7)?)?,
        expires_at: opt_time(r.get(8)?)?,
        products,
        contract_id: r.get::<_, Option<String>>(10)?.map(|c| id(c, ContractId::new)).transpose()?,
        cost_basis,
        rollover,
        parent: r.get::<_, Option<String>>(16)?.map(|p| id(p, GrantId::new)).transpose()?,
        reason_code: id(r.get(17)?, ReasonCode::new)?,
        ticket_ref: r.get::<_, Option<String>>(18)?.map(Arc::from),
        note: r.get::<_, Option<String>>(19)?.map(Arc::from),
        created_by: id(r.get(20)?, ActorId::new)?,
        approved_by: r.get::<_, Option<String>>(21)?.map(|a| id(a, ActorId::new)).transpose()?,
    })
}

/// A wallet's live state: every grant with its running totals, the credits
/// reversals gave back, and the overage still outstanding.
pub(crate) fn load_wallet(conn: &Connection, customer: &CustomerId, ct: &Arc<CreditType>) -> Result<WalletState> {
    let sql = format!(
        "SELECT {GRANT_COLUMNS}, s.burned, s.settled, s.expired, s.corrected, s.rolled, s.voided, s.reversed, \
         s.voided_at, s.expiry_seq FROM grants g JOIN grant_state s ON s.grant_id = g.id \
         WHERE g.customer_id = ?1 AND g.credit_type_id = ?2"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params![customer.as_str(), ct.id.as_str()])?;
    let mut grants = Vec::new();
    let mut index = HashMap::new();
    while let Some(r) = rows.next()? {
        let grant = grant_from_row(r)?;
        let n = GRANT_COLUMN_COUNT;
        let totals = GrantTotals {
            amount: grant.amount,
            burned: credits(r.get(n)?)?,
            settled: credits(r.get(n + 1)?)?,
            expired: credits(r.get(n + 2)?)?,
            corrected: credits(r.get(n + 3)?)?,
            rolled: credits(r.get(n + 4)?)?,
            voided: credits(r.get(n + 5)?)?,
            reversed: credits(r.get(n + 6)?)?,
        };
        index.insert(grant.id.clone(), grants.len());
        grants.push(GrantState {
            grant: Arc::new(grant),
            totals,
            voided_at: opt_time(r.get(n + 7)?)?,
            expiry_seq: r.get::<_, Option<i64>>(n + 8)?.map(|s| s as u64),
            restored: Vec::new(),
        });
    }
    let mut stmt = conn.prepare_cached(
        "SELECT r.grant_id, r.booked_at, r.amount FROM restorations r JOIN grants g ON g.id = r.grant_id \
         WHERE g.customer_id = ?1 AND g.credit_type_id = ?2 ORDER BY r.seq",
    )?;
    let mut rows = stmt.query(params![customer.as_str(), ct.id.as_str()])?;
    while let Some(r) = rows.next()? {
        let grant: String = r.get(0)?;
        let gi = *index.get(grant.as_str()).ok_or_else(|| StoreError::corrupt(format!("restoration of {grant}")))?;
        grants[gi].restored.push((time(r.get(1)?)?, credits(r.get(2)?)?));
    }
    let overages = load_open_overage(conn, customer, &ct.id)?;
    Ok(WalletState::restore(customer.clone(), ct.clone(), grants, overages)?)
}

fn load_open_overage(conn: &Connection, customer: &CustomerId, ct: &CreditTypeId) -> Result<Vec<OverageItem>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, product_id, event_id, booked_at, amount, settled, reversed FROM overage_items \
         WHERE customer_id = ?1 AND credit_type_id = ?2 AND amount > settled + reversed",
    )?;
    let mut rows = stmt.query(params![customer.as_str(), ct.as_str()])?;
    let mut items = Vec::new();
    while let Some(r) = rows.next()? {
        items.push(OverageItem {
            seq: r.get::<_, i64>(0)? as u64,
            product: id(r.get(1)?, ProductId::new)?,
            event: r.get::<_, Option<String>>(2)?.map(|e| id(e, EventId::new)).transpose()?,
            booked_at: time(r.get(3)?)?,
            amount: credits(r.get(4)?)?,
            settled: credits(r.get(5)?)?,
            reversed: credits(r.get(6)?)?,
        });
    }
    Ok(items)
}

/// The grant's wallet, if the grant exists.
pub(crate) fn wallet_of_grant(conn: &Connection, grant: &GrantId) -> Result<Option<(CustomerId, CreditTypeId)>> {
    conn.prepare_cached("SELECT customer_id, credit_type_id FROM grants WHERE id = ?1")?
        .query_row([grant.as_str()], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .optional()?
        .map(|(c, ct)| Ok((id(c, CustomerId::new)?, id(ct, CreditTypeId::new)?)))
        .transpose()
}
