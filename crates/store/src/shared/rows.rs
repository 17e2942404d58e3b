//! Ledger rows in and out of the database: entries, grants, events, and the
//! summaries the write path keeps (grant totals, day rollups, overage).

use std::borrow::Cow;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use creditdesk_ledger::entry::Entry;
use creditdesk_ledger::event::{StoredBody, UsageEvent};
use creditdesk_ledger::grant::Grant;
use creditdesk_ledger::ids::{ActorId, CreditTypeId, CustomerId, EventId, GrantId, ProductId, ReasonCode};
use creditdesk_ledger::rating::Rating;
use rust_decimal::Decimal;

use crate::codec::*;
use crate::db::{params, query_all, query_opt, Db, GrantStateRow, LedgerDay, OverageRow, Row, Sql, P};
use crate::error::{Result, StoreError};
use crate::model::StoredEvent;

/// An id read back from the database.
pub(crate) fn parse<T>(s: String, make: impl FnOnce(String) -> creditdesk_ledger::Result<T>) -> Result<T> {
    let shown = s.clone();
    make(s).map_err(|e| StoreError::corrupt(format!("id {shown}: {e}")))
}

pub(crate) fn decimal(s: &str) -> Result<Decimal> {
    Decimal::from_str(s).map_err(|_| StoreError::corrupt(format!("decimal {s}")))
}

macro_rules! entry_columns {
    () => {
        "seq, customer_id, credit_type_id, grant_id, kind, amount, booked_at, recorded_at, event_id, product_id, \
         related_seq, actor, reason_code, ticket_ref, note"
    };
}
pub(crate) use entry_columns;

pub(crate) const ENTRY_COLUMNS: &str = entry_columns!();

/// An insert into `entries` up to its `VALUES` (the multi-row writes add
/// their rows).
pub(crate) const INSERT_ENTRY_HEAD: &str = concat!("INSERT INTO entries (", entry_columns!(), ") VALUES ");
/// An entry's values, in [`ENTRY_COLUMNS`] order.
pub(crate) fn entry_params(e: &Entry) -> [P<'_>; 15] {
    params![
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
    ]
}

pub(crate) fn entry_from_row(r: &dyn Row) -> Result<Entry> {
    Ok(Entry {
        seq: r.i64(0)? as u64,
        customer: parse(r.text(1)?, CustomerId::new)?,
        credit_type: parse(r.text(2)?, CreditTypeId::new)?,
        grant: r.opt_text(3)?.map(|g| parse(g, GrantId::new)).transpose()?,
        kind: kind_from(&r.text(4)?)?,
        amount: credits(r.i64(5)?)?,
        booked_at: time(r.i64(6)?)?,
        recorded_at: time(r.i64(7)?)?,
        event: r.opt_text(8)?.map(|e| parse(e, EventId::new)).transpose()?,
        product: r.opt_text(9)?.map(|p| parse(p, ProductId::new)).transpose()?,
        related: r.opt_i64(10)?.map(|s| s as u64),
        actor: parse(r.text(11)?, ActorId::new)?,
        reason_code: r.opt_text(12)?.map(|c| parse(c, ReasonCode::new)).transpose()?,
        ticket_ref: r.opt_text(13)?.map(Arc::from),
        note: r.opt_text(14)?.map(Arc::from),
    })
}

macro_rules! entries_of_event {
    ($recent:expr) => {
        concat!(
            "SELECT ",
            entry_columns!(),
            " FROM entries WHERE customer_id = ?1 AND credit_type_id = ?2 AND booked_at = ?3 AND event_id = ?4 \
             AND kind IN ('burn', 'overage') \
             UNION ALL SELECT ",
            entry_columns!(),
            " FROM entries WHERE customer_id = ?1 AND credit_type_id = ?2 AND kind <> 'burn' AND kind <> 'overage' \
             AND event_id = ?4",
            $recent,
            " ORDER BY 1"
        )
    };
}
/// SQLite adds the event's burns in the blocks of its booked day.
pub(crate) const ENTRIES_OF_EVENT: Sql = Sql::each(
    entries_of_event!(concat!(
        " UNION ALL SELECT ",
        entry_columns!(),
        " FROM burn_blocks, burn_block(burns) WHERE customer_id = ?1 AND credit_type_id = ?2 \
         AND booked_day = utc_day(?3) AND booked_at = ?3 AND event_id = ?4 UNION ALL SELECT ",
        entry_columns!(),
        " FROM burn_blocks_recent, burn_block(burns) WHERE customer_id = ?1 AND credit_type_id = ?2 \
         AND booked_day = utc_day(?3) AND booked_at = ?3 AND event_id = ?4"
    )),
    entries_of_event!(""),
);

/// Every entry linked to a usage event (what a reversal and dispute
/// evidence need): its burns and overage, booked at the event's time, and
/// the rarer entries that name it (settlements of its overage, reversals,
/// refund grants, expiry corrections). No index on `event_id` is kept: it
/// would cost every ingested entry an extra index write.
pub(crate) fn entries_of_event<D: Db + ?Sized>(db: &mut D, stored: &StoredEvent) -> Result<Vec<Entry>> {
    let e = &stored.event;
    query_all(
        db,
        &ENTRIES_OF_EVENT,
        &params![e.customer.as_str(), stored.credit_type.as_str(), ts(e.timestamp), e.id.as_str()],
        entry_from_row,
    )
}

const INSERT_GRANT: Sql = Sql::same(
    "INSERT INTO grants (id, customer_id, credit_type_id, amount, category, source, priority, effective_at, \
     expires_at, products, contract_id, cost_basis, cost_currency, rollover_fraction, rollover_max, \
     rollover_expires_after, parent_id, reason_code, ticket_ref, note, created_by, approved_by, recorded_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)",
);
const INSERT_GRANT_STATE: Sql = Sql::same(
    "INSERT INTO grant_state (grant_id, burned, settled, expired, corrected, rolled, voided, reversed) \
     VALUES (?1, 0, 0, 0, 0, 0, 0, 0)",
);

pub(crate) fn insert_grant<D: Db + ?Sized>(db: &mut D, g: &Grant, recorded_at: DateTime<Utc>) -> Result<()> {
    let products = g
        .products
        .as_ref()
        .map(|p| serde_json::to_string(&p.iter().map(ProductId::as_str).collect::<Vec<_>>()))
        .transpose()
        .map_err(StoreError::corrupt)?;
    let cost_amount = g.cost_basis.map(|m| m.amount.to_string());
    let cost_currency = g.cost_basis.map(|m| m.currency.code().to_string());
    let fraction = g.rollover.map(|r| r.fraction.to_string());
    db.execute(
        &INSERT_GRANT,
        &params![
            g.id.as_str(),
            g.customer.as_str(),
            g.credit_type.as_str(),
            micros(g.amount),
            category_str(g.category),
            source_str(g.source),
            i64::from(g.priority),
            ts(g.effective_at),
            g.expires_at.map(ts),
            products.as_ref(),
            g.contract_id.as_ref().map(|c| c.as_str()),
            cost_amount.as_ref(),
            cost_currency.as_ref(),
            fraction.as_ref(),
            g.rollover.and_then(|r| r.max_amount).map(micros),
            g.rollover.map(|r| seconds(r.expires_after)),
            g.parent.as_ref().map(GrantId::as_str),
            g.reason_code.as_str(),
            g.ticket_ref.as_deref(),
            g.note.as_deref(),
            g.created_by.as_str(),
            g.approved_by.as_ref().map(ActorId::as_str),
            ts(recorded_at),
        ],
    )?;
    db.execute(&INSERT_GRANT_STATE, &params![g.id.as_str()])?;
    Ok(())
}

macro_rules! insert_event_head {
    () => {
        "INSERT INTO events (id, customer_id, product_id, credit_type_id, quantity, timestamp, properties, \
         received_at, credits, credits_per_unit, rate_version, from_override) VALUES "
    };
}
/// An insert into `events` up to its `VALUES` (the multi-row writes add
/// their rows).
pub(crate) const INSERT_EVENT_HEAD: &str = insert_event_head!();

/// An event's values that are text rendered from other types (quantity,
/// properties, credits per unit): made first, so the parameters can borrow
/// them. Both backends store these texts.
pub(crate) struct EventText {
    pub(crate) quantity: String,
    pub(crate) properties: Cow<'static, str>,
    pub(crate) credits_per_unit: String,
}

impl EventText {
    pub(crate) fn of(s: &StoredEvent) -> Result<EventText> {
        // Most events carry no properties: their text is always `{}`, and
        // rendering it cost the writer thread an allocation per event.
        let properties = if s.event.properties.is_empty() {
            Cow::Borrowed(EMPTY_PROPERTIES)
        } else {
            Cow::Owned(serde_json::to_string(&s.event.properties).map_err(StoreError::corrupt)?)
        };
        Ok(EventText {
            quantity: s.event.quantity.to_string(),
            properties,
            credits_per_unit: s.rating.credits_per_unit.to_string(),
        })
    }
}

/// What `serde_json` renders for an empty map.
const EMPTY_PROPERTIES: &str = "{}";

/// An event's values, in the column order of `INSERT_EVENT`.
pub(crate) fn event_params<'a>(s: &'a StoredEvent, t: &'a EventText) -> [P<'a>; 12] {
    let e = &s.event;
    params![
        e.id.as_str(),
        e.customer.as_str(),
        e.product.as_str(),
        s.credit_type.as_str(),
        &t.quantity,
        ts(e.timestamp),
        t.properties.as_ref(),
        ts(s.received_at),
        micros(s.rating.credits),
        &t.credits_per_unit,
        ts(s.rating.rate_version),
        s.rating.from_override,
    ]
}

/// An event from the columns `FIND_EVENT` selects, starting at column `at`.
pub(crate) fn event_from_row(r: &dyn Row, at: usize, id: EventId) -> Result<StoredEvent> {
    Ok(StoredEvent {
        event: UsageEvent {
            id,
            customer: parse(r.text(at)?, CustomerId::new)?,
            product: parse(r.text(at + 1)?, ProductId::new)?,
            quantity: decimal(&r.text(at + 3)?)?,
            timestamp: time(r.i64(at + 4)?)?,
            properties: serde_json::from_str(&r.text(at + 5)?).map_err(StoreError::corrupt)?,
        },
        credit_type: parse(r.text(at + 2)?, CreditTypeId::new)?,
        received_at: time(r.i64(at + 6)?)?,
        rating: Rating {
            credits: credits(r.i64(at + 7)?)?,
            credits_per_unit: decimal(&r.text(at + 8)?)?,
            rate_version: time(r.i64(at + 9)?)?,
            from_override: r.bool(at + 10)?,
        },
    })
}

/// The columns `body_from_row` reads, after the id.
pub(crate) const BODY_COLUMNS: &str = "customer_id, product_id, quantity, timestamp, properties, received_at";

/// A stored event's body from [`BODY_COLUMNS`], starting at column `at`,
/// borrowed from the row, and when it was received.
pub(crate) fn body_from_row(r: &dyn Row, at: usize) -> Result<(StoredBody<'_>, DateTime<Utc>)> {
    let body = StoredBody {
        customer: r.str(at)?,
        product: r.str(at + 1)?,
        quantity: decimal(r.str(at + 2)?)?,
        timestamp: time(r.i64(at + 3)?)?,
        properties_json: r.str(at + 4)?,
    };
    Ok((body, time(r.i64(at + 5)?)?))
}

const FIND_EVENT: Sql = Sql::same(
    "SELECT customer_id, product_id, credit_type_id, quantity, timestamp, properties, received_at, credits, \
     credits_per_unit, rate_version, from_override FROM events WHERE id = ?1",
);

pub(crate) fn find_event<D: Db + ?Sized>(db: &mut D, id: &EventId) -> Result<Option<StoredEvent>> {
    query_opt(db, &FIND_EVENT, &params![id.as_str()], |r| event_from_row(r, 0, id.clone()))
}

/// A grant's running totals: the grant, then `grant_state`'s columns in order.
pub(crate) fn grant_state_params(s: &GrantStateRow) -> [P<'_>; 10] {
    params![
        s.grant.as_str(),
        s.burned,
        s.settled,
        s.expired,
        s.corrected,
        s.rolled,
        s.voided,
        s.reversed,
        s.voided_at,
        s.expiry_seq,
    ]
}

/// A `ledger_days` cell's key and the amount to add, in column order.
pub(crate) fn ledger_day_params(d: &LedgerDay) -> [P<'_>; 7] {
    params![
        d.customer.as_str(),
        d.credit_type.as_str(),
        d.booked_day,
        d.recorded_day,
        d.grant.as_str(),
        d.kind,
        d.amount
    ]
}

pub(crate) const INSERT_OVERAGE: Sql = Sql::same(
    "INSERT INTO overage_items (seq, customer_id, credit_type_id, product_id, event_id, booked_at, amount, settled, \
     reversed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
);

pub(crate) fn overage_params(o: &OverageRow) -> [P<'_>; 9] {
    params![
        o.seq,
        o.customer.as_str(),
        o.credit_type.as_str(),
        o.product.as_str(),
        o.event.as_ref(),
        o.booked_at,
        o.amount,
        o.settled,
        o.reversed
    ]
}

pub(crate) const ADD_OVERAGE_DELTA: Sql =
    Sql::same("UPDATE overage_items SET settled = settled + ?2, reversed = reversed + ?3 WHERE seq = ?1");

pub(crate) const INSERT_RESTORATION: Sql =
    Sql::same("INSERT INTO restorations (grant_id, seq, booked_at, amount) VALUES (?1, ?2, ?3, ?4)");

pub(crate) const INSERT_REJECTED: Sql = Sql::same(
    "INSERT INTO rejected_events (event_id, customer_id, product_id, body, received_at, code, detail) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
);

#[cfg(test)]
mod tests {
    use super::*;

    /// An event stored without properties must read back, and compare with
    /// a replay of itself, exactly as one whose properties were rendered.
    #[test]
    fn empty_properties_are_stored_as_serde_json_renders_them() {
        let rendered = serde_json::to_string(&serde_json::Map::new()).unwrap();
        assert_eq!(EMPTY_PROPERTIES, rendered);
    }
}
