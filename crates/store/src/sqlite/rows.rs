//! Writing and reading ledger rows: entries, grants, events.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use creditdesk_ledger::entry::Entry;
use creditdesk_ledger::event::UsageEvent;
use creditdesk_ledger::grant::Grant;
use creditdesk_ledger::ids::{ActorId, CreditTypeId, CustomerId, EventId, GrantId, ProductId, ReasonCode};
use creditdesk_ledger::rating::Rating;
use rusqlite::{params, Connection, OptionalExtension, Row};
use rust_decimal::Decimal;

use crate::codec::*;
use crate::error::{Result, StoreError};
use crate::model::StoredEvent;

macro_rules! entry_columns {
    () => {
        "seq, customer_id, credit_type_id, grant_id, kind, amount, booked_at, recorded_at, event_id, product_id, \
         related_seq, actor, reason_code, ticket_ref, note"
    };
}
pub(crate) const ENTRY_COLUMNS: &str = entry_columns!();
/// A literal, so the statement cache finds it without building the text.
const INSERT_ENTRY: &str = concat!(
    "INSERT INTO entries (",
    entry_columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
);

pub(crate) fn insert_entry(conn: &Connection, e: &Entry) -> Result<()> {
    conn.prepare_cached(INSERT_ENTRY)?.execute(params![
        e.seq as i64,
        e.customer.as_str(),
        e.credit_type.as_str(),
        e.grant.as_ref().map(GrantId::as_str),
        e.kind.as_str(),
        micros(e.amount),
        ts(e.booked_at),
        ts(e.recorded_at),
        e.event.as_ref().map(EventId::as_str),
        e.product.as_ref().map(ProductId::as_str),
        e.related.map(|r| r as i64),
        e.actor.as_str(),
        e.reason_code.as_ref().map(ReasonCode::as_str),
        e.ticket_ref.as_deref(),
        e.note.as_deref(),
    ])?;
    Ok(())
}

fn parse<T>(s: String, make: impl FnOnce(String) -> creditdesk_ledger::Result<T>) -> Result<T> {
    let shown = s.clone();
    make(s).map_err(|e| StoreError::corrupt(format!("{shown}: {e}")))
}

pub(crate) fn entry_from_row(r: &Row<'_>) -> Result<Entry> {
    Ok(Entry {
        seq: r.get::<_, i64>(0)? as u64,
        customer: parse(r.get(1)?, CustomerId::new)?,
        credit_type: parse(r.get(2)?, CreditTypeId::new)?,
        grant: r.get::<_, Option<String>>(3)?.map(|g| parse(g, GrantId::new)).transpose()?,
        kind: kind_from(&r.get::<_, String>(4)?)?,
        amount: credits(r.get(5)?)?,
        booked_at: time(r.get(6)?)?,
        recorded_at: time(r.get(7)?)?,
        event: r.get::<_, Option<String>>(8)?.map(|e| parse(e, EventId::new)).transpose()?,
        product: r.get::<_, Option<String>>(9)?.map(|p| parse(p, ProductId::new)).transpose()?,
        related: r.get::<_, Option<i64>>(10)?.map(|s| s as u64),
        actor: parse(r.get(11)?, ActorId::new)?,
        reason_code: r.get::<_, Option<String>>(12)?.map(|c| parse(c, ReasonCode::new)).transpose()?,
        ticket_ref: r.get::<_, Option<String>>(13)?.map(Arc::from),
        note: r.get::<_, Option<String>>(14)?.map(Arc::from),
    })
}

/// Every entry linked to a usage event (what a reversal and dispute
/// evidence need): its burns and overage, booked at the event's time, and
/// the rarer entries that name it (settlements of its overage, reversals,
/// refund grants, expiry corrections). No index on `event_id` is kept: it
/// would cost every ingested entry an extra index write.
pub(crate) fn entries_of_event(conn: &Connection, stored: &StoredEvent) -> Result<Vec<Entry>> {
    const SQL: &str = concat!(
        "SELECT ",
        entry_columns!(),
        " FROM entries WHERE customer_id = ?1 AND credit_type_id = ?2 AND booked_at = ?3 AND event_id = ?4 \
         AND kind IN ('burn', 'overage') \
         UNION ALL SELECT ",
        entry_columns!(),
        " FROM entries WHERE customer_id = ?1 AND credit_type_id = ?2 AND kind <> 'burn' AND kind <> 'overage' \
         AND event_id = ?4 ORDER BY 1"
    );
    let e = &stored.event;
    let mut stmt = conn.prepare_cached(SQL)?;
    let mut rows =
        stmt.query(params![e.customer.as_str(), stored.credit_type.as_str(), ts(e.timestamp), e.id.as_str()])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(entry_from_row(r)?);
    }
    Ok(out)
}

pub(crate) fn insert_grant(conn: &Connection, g: &Grant, recorded_at: DateTime<Utc>) -> Result<()> {
    let products = g
        .products
        .as_ref()
        .map(|p| serde_json::to_string(&p.iter().map(ProductId::as_str).collect::<Vec<_>>()))
        .transpose()
        .map_err(StoreError::corrupt)?;
    conn.prepare_cached(
        "INSERT INTO grants (id, customer_id, credit_type_id, amount, category, source, priority, effective_at, \
         expires_at, products, contract_id, cost_basis, cost_currency, rollover_fraction, rollover_max, \
         rollover_expires_after, parent_id, reason_code, ticket_ref, note, created_by, approved_by, recorded_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)",
    )?
    .execute(params![
        g.id.as_str(),
        g.customer.as_str(),
        g.credit_type.as_str(),
        micros(g.amount),
        category_str(g.category),
        source_str(g.source),
        i64::from(g.priority),
        ts(g.effective_at),
        g.expires_at.map(ts),
        products,
        g.contract_id.as_ref().map(|c| c.as_str()),
        g.cost_basis.map(|m| m.amount.to_string()),
        g.cost_basis.map(|m| m.currency.code().to_string()),
        g.rollover.map(|r| r.fraction.to_string()),
        g.rollover.and_then(|r| r.max_amount).map(micros),
        g.rollover.map(|r| seconds(r.expires_after)),
        g.parent.as_ref().map(GrantId::as_str),
        g.reason_code.as_str(),
        g.ticket_ref.as_deref(),
        g.note.as_deref(),
        g.created_by.as_str(),
        g.approved_by.as_ref().map(ActorId::as_str),
        ts(recorded_at),
    ])?;
    conn.prepare_cached(
        "INSERT INTO grant_state (grant_id, burned, settled, expired, corrected, rolled, voided, reversed) \
         VALUES (?1, 0, 0, 0, 0, 0, 0, 0)",
    )?
    .execute([g.id.as_str()])?;
    Ok(())
}

pub(crate) fn insert_event(conn: &Connection, s: &StoredEvent) -> Result<()> {
    let e = &s.event;
    let properties = serde_json::to_string(&e.properties).map_err(StoreError::corrupt)?;
    conn.prepare_cached(
        "INSERT INTO events (id, customer_id, product_id, credit_type_id, quantity, timestamp, properties, \
         received_at, credits, credits_per_unit, rate_version, from_override) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        e.id.as_str(),
        e.customer.as_str(),
        e.product.as_str(),
        s.credit_type.as_str(),
        e.quantity.to_string(),
        ts(e.timestamp),
        properties,
        ts(s.received_at),
        micros(s.rating.credits),
        s.rating.credits_per_unit.to_string(),
        ts(s.rating.rate_version),
        s.rating.from_override,
    ])?;
    Ok(())
}

pub(crate) fn find_event(conn: &Connection, id: &EventId) -> Result<Option<StoredEvent>> {
    let row = conn
        .prepare_cached(
            "SELECT customer_id, product_id, credit_type_id, quantity, timestamp, properties, received_at, credits, \
             credits_per_unit, rate_version, from_override FROM events WHERE id = ?1",
        )?
        .query_row([id.as_str()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, i64>(7)?,
                r.get::<_, String>(8)?,
                r.get::<_, i64>(9)?,
                r.get::<_, bool>(10)?,
            ))
        })
        .optional()?;
    let Some((customer, product, ct, quantity, timestamp, properties, received_at, credits_, cpu, version, ov)) = row
    else {
        return Ok(None);
    };
    let decimal = |s: &str| s.parse::<Decimal>().map_err(|_| StoreError::corrupt(format!("decimal {s}")));
    Ok(Some(StoredEvent {
        event: UsageEvent {
            id: id.clone(),
            customer: parse(customer, CustomerId::new)?,
            product: parse(product, ProductId::new)?,
            quantity: decimal(&quantity)?,
            timestamp: time(timestamp)?,
            properties: serde_json::from_str(&properties).map_err(StoreError::corrupt)?,
        },
        credit_type: parse(ct, CreditTypeId::new)?,
        received_at: time(received_at)?,
        rating: Rating {
            credits: credits(credits_)?,
            credits_per_unit: decimal(&cpu)?,
            rate_version: time(version)?,
            from_override: ov,
        },
    }))
}
