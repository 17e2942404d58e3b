//! [`Db`] on a PostgreSQL connection (the sync `postgres` client, run on
//! the store's own threads). Every statement is a round trip, so the bulk
//! operations of the write path are one statement per batch: arrays of
//! column values sent as parameters and `unnest`ed server-side.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::sync::OnceLock;

use bytes::BytesMut;
use creditdesk_ledger::entry::Entry;
use creditdesk_ledger::ids::{CreditTypeId, CustomerId, EventId, GrantId, ProductId, ReasonCode};
use postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use postgres::{Client, Statement};

use super::{
    bad_column, pg_placeholders, BurnDay, Db, Dialect, Each, GrantStateRow, LedgerDay, OverageRow, RejectedRow,
    RestorationRow, Row, Sql, WalletKey, WalletRow, P,
};
use crate::codec::{micros, quarters_from_blob, quarters_to_blob, ts};
use crate::error::{Result, StoreError};
use crate::model::StoredEvent;
use crate::shared::rows;

type Sendable<'a> = &'a (dyn ToSql + Sync);

impl ToSql for P<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> std::result::Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match *self {
            P::Null => Ok(IsNull::Yes),
            P::I64(v) => match *ty {
                Type::INT8 => v.to_sql(ty, out),
                Type::INT4 => i32::try_from(v)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(v)?.to_sql(ty, out),
                _ => Err(format!("an integer cannot be sent as {ty}").into()),
            },
            P::Text(s) => s.to_sql(ty, out),
            P::Blob(b) => b.to_sql(ty, out),
            P::Bool(b) => match *ty {
                Type::BOOL => b.to_sql(ty, out),
                Type::INT8 => i64::from(b).to_sql(ty, out),
                Type::INT4 => i32::from(b).to_sql(ty, out),
                _ => Err(format!("a boolean cannot be sent as {ty}").into()),
            },
        }
    }

    /// Checked per value in `to_sql`: the enum carries its own type.
    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

impl Row for postgres::Row {
    fn i64(&self, i: usize) -> Result<i64> {
        self.opt_i64(i)?.ok_or_else(|| bad_column(i, "NULL where a number is required"))
    }

    fn opt_i64(&self, i: usize) -> Result<Option<i64>> {
        let ty = self.columns().get(i).ok_or_else(|| bad_column(i, "no such column"))?.type_();
        Ok(match *ty {
            Type::INT8 => self.try_get::<_, Option<i64>>(i)?,
            Type::INT4 => self.try_get::<_, Option<i32>>(i)?.map(i64::from),
            Type::INT2 => self.try_get::<_, Option<i16>>(i)?.map(i64::from),
            _ => return Err(bad_column(i, format!("{ty} is not an integer"))),
        })
    }

    fn text(&self, i: usize) -> Result<String> {
        Ok(self.try_get(i)?)
    }

    fn opt_text(&self, i: usize) -> Result<Option<String>> {
        Ok(self.try_get(i)?)
    }

    fn str(&self, i: usize) -> Result<&str> {
        Ok(self.try_get(i)?)
    }

    fn blob(&self, i: usize) -> Result<&[u8]> {
        Ok(self.try_get(i)?)
    }

    fn bool(&self, i: usize) -> Result<bool> {
        let ty = self.columns().get(i).ok_or_else(|| bad_column(i, "no such column"))?.type_();
        if *ty == Type::BOOL {
            Ok(self.try_get(i)?)
        } else {
            Ok(self.i64(i)? != 0)
        }
    }
}

/// A client and its prepared statements (prepared once per connection:
/// parsing and planning stay off the hot path).
pub(crate) struct PgConn {
    pub(crate) client: Client,
    stmts: HashMap<String, Statement>,
}

/// Most statements a connection keeps prepared (listings with filters are
/// built at run time; a handful of shapes in practice).
const STATEMENT_CACHE: usize = 256;

impl PgConn {
    pub(crate) fn connect(config: &postgres::Config) -> Result<PgConn> {
        let client = config.connect(postgres::NoTls)?;
        Ok(PgConn { client, stmts: HashMap::new() })
    }

    fn stmt(&mut self, sql: &str) -> Result<Statement> {
        if let Some(s) = self.stmts.get(sql) {
            return Ok(s.clone());
        }
        let prepared = self.client.prepare(&pg_placeholders(sql))?;
        if self.stmts.len() >= STATEMENT_CACHE {
            self.stmts.clear();
        }
        self.stmts.insert(sql.to_string(), prepared.clone());
        Ok(prepared)
    }

    fn run(&mut self, sql: &str, params: &[P<'_>], each: Each<'_>) -> Result<()> {
        let stmt = self.stmt(sql)?;
        let refs: Vec<Sendable<'_>> = params.iter().map(|p| p as Sendable<'_>).collect();
        for row in self.client.query(&stmt, &refs)? {
            each(&row)?;
        }
        Ok(())
    }

    fn exec_raw(&mut self, sql: &str, params: &[Sendable<'_>]) -> Result<u64> {
        let stmt = self.stmt(sql)?;
        Ok(self.client.execute(&stmt, params)?)
    }

    fn query_raw(&mut self, sql: &str, params: &[Sendable<'_>]) -> Result<Vec<postgres::Row>> {
        let stmt = self.stmt(sql)?;
        Ok(self.client.query(&stmt, params)?)
    }
}

/// A PostgreSQL connection as a [`Db`].
pub(crate) struct PgDb<'c> {
    conn: &'c mut PgConn,
}

impl<'c> PgDb<'c> {
    pub(crate) fn new(conn: &'c mut PgConn) -> PgDb<'c> {
        PgDb { conn }
    }
}

fn opt<'a, T: AsRef<str> + 'a>(v: Option<&'a T>) -> Option<&'a str> {
    v.map(AsRef::as_ref)
}

impl Db for PgDb<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute(&mut self, sql: &Sql, params: &[P<'_>]) -> Result<u64> {
        let refs: Vec<Sendable<'_>> = params.iter().map(|p| p as Sendable<'_>).collect();
        self.conn.exec_raw(sql.pg, &refs)
    }

    fn query(&mut self, sql: &Sql, params: &[P<'_>], each: Each<'_>) -> Result<()> {
        self.conn.run(sql.pg, params, each)
    }

    fn query_text(&mut self, sql: &str, params: &[P<'_>], each: Each<'_>) -> Result<()> {
        self.conn.run(sql, params, each)
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        Ok(self.conn.client.batch_execute(sql)?)
    }

    fn next_seq_block(&mut self) -> Result<u64> {
        let rows = self.conn.query_raw("SELECT nextval('seq_blocks')", &[])?;
        let block = rows.first().ok_or_else(|| StoreError::corrupt("nextval returned nothing"))?.i64(0)?;
        u64::try_from(block).map_err(|_| StoreError::corrupt(format!("sequence block {block}")))
    }

    /// Creates missing wallet rows, then locks them all, both in one sorted
    /// order, so two writers locking overlapping sets cannot deadlock.
    fn lock_wallets(&mut self, keys: &[WalletKey]) -> Result<Option<HashMap<WalletKey, WalletRow>>> {
        if keys.is_empty() {
            return Ok(Some(HashMap::new()));
        }
        let cs: Vec<&str> = keys.iter().map(|k| k.0.as_str()).collect();
        let ts_: Vec<&str> = keys.iter().map(|k| k.1.as_str()).collect();
        self.conn.exec_raw(
            "INSERT INTO wallets (customer_id, credit_type_id, version, caught_up_at) \
             SELECT c, t, 0, 0 FROM unnest(?1::text[], ?2::text[]) AS k(c, t) ORDER BY c, t \
             ON CONFLICT (customer_id, credit_type_id) DO NOTHING",
            &[&cs, &ts_],
        )?;
        let rows = self.conn.query_raw(
            "SELECT customer_id, credit_type_id, version, last_seq FROM wallets \
             WHERE (customer_id, credit_type_id) IN (SELECT c, t FROM unnest(?1::text[], ?2::text[]) AS k(c, t)) \
             ORDER BY customer_id, credit_type_id FOR UPDATE OF wallets",
            &[&cs, &ts_],
        )?;
        let mut out = HashMap::with_capacity(rows.len());
        for r in &rows {
            let key = (rows::parse(r.text(0)?, CustomerId::new)?, rows::parse(r.text(1)?, CreditTypeId::new)?);
            out.insert(key, WalletRow { version: r.i64(2)?, last_seq: r.i64(3)? });
        }
        Ok(Some(out))
    }

    fn catalog_version(&mut self) -> Result<Option<i64>> {
        let rows = self.conn.query_raw("SELECT version FROM catalog_version WHERE id = 1", &[])?;
        Ok(Some(rows.first().ok_or_else(|| StoreError::corrupt("no catalog_version row"))?.i64(0)?))
    }

    fn bump_catalog_version(&mut self) -> Result<()> {
        self.conn.exec_raw("UPDATE catalog_version SET version = version + 1 WHERE id = 1", &[])?;
        Ok(())
    }

    fn find_event_bodies(&mut self, ids: &[&EventId], each: Each<'_>) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        static SQL: OnceLock<String> = OnceLock::new();
        let sql =
            SQL.get_or_init(|| format!("SELECT id, {} FROM events WHERE id = ANY(?1::text[])", rows::BODY_COLUMNS));
        let list: Vec<&str> = ids.iter().map(|i| i.as_str()).collect();
        for r in &self.conn.query_raw(sql, &[&list])? {
            each(r)?;
        }
        Ok(())
    }

    fn insert_events(&mut self, events: &[StoredEvent]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let n = events.len();
        let (mut id, mut cust, mut prod, mut ct, mut qty, mut at, mut props) =
            (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
        let (mut recv, mut cred, mut cpu, mut ver, mut ov) = (vec![], vec![], vec![], vec![], vec![]);
        for v in [&mut id, &mut cust, &mut prod, &mut ct] {
            v.reserve(n);
        }
        let texts = events.iter().map(rows::EventText::of).collect::<Result<Vec<_>>>()?;
        for (s, t) in events.iter().zip(&texts) {
            let e = &s.event;
            id.push(e.id.as_str());
            cust.push(e.customer.as_str());
            prod.push(e.product.as_str());
            ct.push(s.credit_type.as_str());
            qty.push(t.quantity.as_str());
            at.push(ts(e.timestamp));
            props.push(t.properties.as_ref());
            recv.push(ts(s.received_at));
            cred.push(micros(s.rating.credits));
            cpu.push(t.credits_per_unit.as_str());
            ver.push(ts(s.rating.rate_version));
            ov.push(s.rating.from_override);
        }
        self.conn.exec_raw(
            "INSERT INTO events (id, customer_id, product_id, credit_type_id, quantity, timestamp, properties, \
             received_at, credits, credits_per_unit, rate_version, from_override) \
             SELECT * FROM unnest(?1::text[], ?2::text[], ?3::text[], ?4::text[], ?5::text[], ?6::bigint[], \
             ?7::text[], ?8::bigint[], ?9::bigint[], ?10::text[], ?11::bigint[], ?12::bool[])",
            &[&id, &cust, &prod, &ct, &qty, &at, &props, &recv, &cred, &cpu, &ver, &ov],
        )?;
        Ok(())
    }

    fn insert_rejected(&mut self, rows_: &[RejectedRow]) -> Result<()> {
        if rows_.is_empty() {
            return Ok(());
        }
        let col = |f: fn(&RejectedRow) -> &str| rows_.iter().map(f).collect::<Vec<&str>>();
        let (e, c, p) = (col(|r| &r.event), col(|r| &r.customer), col(|r| &r.product));
        let (body, code, detail) = (col(|r| &r.body), col(|r| &r.code), col(|r| &r.detail));
        let at: Vec<i64> = rows_.iter().map(|r| r.received_at).collect();
        self.conn.exec_raw(
            "INSERT INTO rejected_events (event_id, customer_id, product_id, body, received_at, code, detail) \
             SELECT * FROM unnest(?1::text[], ?2::text[], ?3::text[], ?4::text[], ?5::bigint[], ?6::text[], \
             ?7::text[])",
            &[&e, &c, &p, &body, &at, &code, &detail],
        )?;
        Ok(())
    }

    fn insert_entries(&mut self, entries: &[Entry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let n = entries.len();
        let mut seq = Vec::with_capacity(n);
        let mut cust = Vec::with_capacity(n);
        let mut ct = Vec::with_capacity(n);
        let mut grant = Vec::with_capacity(n);
        let mut kind = Vec::with_capacity(n);
        let mut amount = Vec::with_capacity(n);
        let mut booked = Vec::with_capacity(n);
        let mut recorded = Vec::with_capacity(n);
        let mut event = Vec::with_capacity(n);
        let mut product = Vec::with_capacity(n);
        let mut related = Vec::with_capacity(n);
        let mut actor = Vec::with_capacity(n);
        let mut reason = Vec::with_capacity(n);
        let mut ticket = Vec::with_capacity(n);
        let mut note = Vec::with_capacity(n);
        for e in entries {
            seq.push(e.seq as i64);
            cust.push(e.customer.as_str());
            ct.push(e.credit_type.as_str());
            grant.push(e.grant.as_ref().map(GrantId::as_str));
            kind.push(e.kind.as_str());
            amount.push(micros(e.amount));
            booked.push(ts(e.booked_at));
            recorded.push(ts(e.recorded_at));
            event.push(e.event.as_ref().map(EventId::as_str));
            product.push(e.product.as_ref().map(ProductId::as_str));
            related.push(e.related.map(|r| r as i64));
            actor.push(e.actor.as_str());
            reason.push(e.reason_code.as_ref().map(ReasonCode::as_str));
            ticket.push(e.ticket_ref.as_deref());
            note.push(e.note.as_deref());
        }
        self.conn.exec_raw(
            concat!(
                "INSERT INTO entries (",
                rows::entry_columns!(),
                ") SELECT * FROM unnest(?1::bigint[], ?2::text[], ?3::text[], ?4::text[], ?5::text[], ?6::bigint[], \
                 ?7::bigint[], ?8::bigint[], ?9::text[], ?10::text[], ?11::bigint[], ?12::text[], ?13::text[], \
                 ?14::text[], ?15::text[])"
            ),
            &[
                &seq, &cust, &ct, &grant, &kind, &amount, &booked, &recorded, &event, &product, &related, &actor,
                &reason, &ticket, &note,
            ],
        )?;
        Ok(())
    }

    fn update_grant_states(&mut self, states: &[GrantStateRow]) -> Result<()> {
        if states.is_empty() {
            return Ok(());
        }
        let id: Vec<&str> = states.iter().map(|s| s.grant.as_str()).collect();
        let col = |f: fn(&GrantStateRow) -> i64| states.iter().map(f).collect::<Vec<i64>>();
        let (burned, settled, expired, corrected) =
            (col(|s| s.burned), col(|s| s.settled), col(|s| s.expired), col(|s| s.corrected));
        let (rolled, voided, reversed) = (col(|s| s.rolled), col(|s| s.voided), col(|s| s.reversed));
        let voided_at: Vec<Option<i64>> = states.iter().map(|s| s.voided_at).collect();
        let expiry_seq: Vec<Option<i64>> = states.iter().map(|s| s.expiry_seq).collect();
        self.conn.exec_raw(
            "UPDATE grant_state s SET burned = u.burned, settled = u.settled, expired = u.expired, \
             corrected = u.corrected, rolled = u.rolled, voided = u.voided, reversed = u.reversed, \
             voided_at = u.voided_at, expiry_seq = u.expiry_seq \
             FROM unnest(?1::text[], ?2::bigint[], ?3::bigint[], ?4::bigint[], ?5::bigint[], ?6::bigint[], \
             ?7::bigint[], ?8::bigint[], ?9::bigint[], ?10::bigint[]) \
             AS u(grant_id, burned, settled, expired, corrected, rolled, voided, reversed, voided_at, expiry_seq) \
             WHERE s.grant_id = u.grant_id",
            &[&id, &burned, &settled, &expired, &corrected, &rolled, &voided, &reversed, &voided_at, &expiry_seq],
        )?;
        Ok(())
    }

    fn add_ledger_days(&mut self, days: &[LedgerDay]) -> Result<()> {
        if days.is_empty() {
            return Ok(());
        }
        let c: Vec<&str> = days.iter().map(|d| d.customer.as_str()).collect();
        let t: Vec<&str> = days.iter().map(|d| d.credit_type.as_str()).collect();
        let b: Vec<i64> = days.iter().map(|d| d.booked_day).collect();
        let r: Vec<i64> = days.iter().map(|d| d.recorded_day).collect();
        let g: Vec<&str> = days.iter().map(|d| d.grant.as_str()).collect();
        let k: Vec<&str> = days.iter().map(|d| d.kind).collect();
        let a: Vec<i64> = days.iter().map(|d| d.amount).collect();
        self.conn.exec_raw(
            "INSERT INTO ledger_days (customer_id, credit_type_id, booked_day, recorded_day, grant_id, kind, amount) \
             SELECT * FROM unnest(?1::text[], ?2::text[], ?3::bigint[], ?4::bigint[], ?5::text[], ?6::text[], \
             ?7::bigint[]) \
             ON CONFLICT (customer_id, credit_type_id, booked_day, recorded_day, grant_id, kind) \
             DO UPDATE SET amount = ledger_days.amount + excluded.amount",
            &[&c, &t, &b, &r, &g, &k, &a],
        )?;
        Ok(())
    }

    /// Reads the rows the batch adds to, adds, and writes them back: the
    /// rows belong to wallets this transaction has locked.
    fn add_burn_days(&mut self, days: &[BurnDay]) -> Result<()> {
        if days.is_empty() {
            return Ok(());
        }
        let c: Vec<&str> = days.iter().map(|d| d.customer.as_str()).collect();
        let t: Vec<&str> = days.iter().map(|d| d.credit_type.as_str()).collect();
        let p: Vec<&str> = days.iter().map(|d| d.product.as_str()).collect();
        let day: Vec<i64> = days.iter().map(|d| d.day).collect();
        let old = self.conn.query_raw(
            "SELECT b.customer_id, b.credit_type_id, b.product_id, b.day, b.burned, b.reversed FROM burn_days b \
             JOIN unnest(?1::text[], ?2::text[], ?3::text[], ?4::bigint[]) AS k(c, t, p, d) \
             ON b.customer_id = k.c AND b.credit_type_id = k.t AND b.product_id = k.p AND b.day = k.d",
            &[&c, &t, &p, &day],
        )?;
        type Key = (String, String, String, i64);
        let mut existing: HashMap<Key, ([i64; 96], [i64; 96])> = HashMap::new();
        for r in &old {
            let key = (r.text(0)?, r.text(1)?, r.text(2)?, r.i64(3)?);
            existing.insert(key, (quarters_from_blob(r.blob(4)?)?, quarters_from_blob(r.blob(5)?)?));
        }
        let mut burned = Vec::with_capacity(days.len());
        let mut reversed = Vec::with_capacity(days.len());
        for d in days {
            let key = (d.customer.clone(), d.credit_type.clone(), d.product.clone(), d.day);
            let (mut b, mut r) = existing.remove(&key).unwrap_or(([0; 96], [0; 96]));
            for (q, amount) in d.burned.iter() {
                b[q] += amount;
            }
            for (q, amount) in d.reversed.iter() {
                r[q] += amount;
            }
            burned.push(quarters_to_blob(&b));
            reversed.push(quarters_to_blob(&r));
        }
        self.conn.exec_raw(
            "INSERT INTO burn_days (customer_id, credit_type_id, product_id, day, burned, reversed) \
             SELECT * FROM unnest(?1::text[], ?2::text[], ?3::text[], ?4::bigint[], ?5::bytea[], ?6::bytea[]) \
             ON CONFLICT (customer_id, credit_type_id, product_id, day) \
             DO UPDATE SET burned = excluded.burned, reversed = excluded.reversed",
            &[&c, &t, &p, &day, &burned, &reversed],
        )?;
        Ok(())
    }

    fn insert_overage_items(&mut self, items: &[OverageRow]) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let seq: Vec<i64> = items.iter().map(|o| o.seq).collect();
        let c: Vec<&str> = items.iter().map(|o| o.customer.as_str()).collect();
        let t: Vec<&str> = items.iter().map(|o| o.credit_type.as_str()).collect();
        let p: Vec<&str> = items.iter().map(|o| o.product.as_str()).collect();
        let e: Vec<Option<&str>> = items.iter().map(|o| opt(o.event.as_ref())).collect();
        let b: Vec<i64> = items.iter().map(|o| o.booked_at).collect();
        let a: Vec<i64> = items.iter().map(|o| o.amount).collect();
        let s: Vec<i64> = items.iter().map(|o| o.settled).collect();
        let r: Vec<i64> = items.iter().map(|o| o.reversed).collect();
        self.conn.exec_raw(
            "INSERT INTO overage_items (seq, customer_id, credit_type_id, product_id, event_id, booked_at, amount, \
             settled, reversed) SELECT * FROM unnest(?1::bigint[], ?2::text[], ?3::text[], ?4::text[], ?5::text[], \
             ?6::bigint[], ?7::bigint[], ?8::bigint[], ?9::bigint[])",
            &[&seq, &c, &t, &p, &e, &b, &a, &s, &r],
        )?;
        Ok(())
    }

    fn add_overage_deltas(&mut self, deltas: &[(i64, i64, i64)]) -> Result<()> {
        if deltas.is_empty() {
            return Ok(());
        }
        let seq: Vec<i64> = deltas.iter().map(|d| d.0).collect();
        let s: Vec<i64> = deltas.iter().map(|d| d.1).collect();
        let r: Vec<i64> = deltas.iter().map(|d| d.2).collect();
        self.conn.exec_raw(
            "UPDATE overage_items o SET settled = o.settled + d.s, reversed = o.reversed + d.r \
             FROM unnest(?1::bigint[], ?2::bigint[], ?3::bigint[]) AS d(seq, s, r) WHERE o.seq = d.seq",
            &[&seq, &s, &r],
        )?;
        Ok(())
    }

    fn insert_restorations(&mut self, rows_: &[RestorationRow]) -> Result<()> {
        if rows_.is_empty() {
            return Ok(());
        }
        let g: Vec<&str> = rows_.iter().map(|r| r.grant.as_str()).collect();
        let s: Vec<i64> = rows_.iter().map(|r| r.seq).collect();
        let b: Vec<i64> = rows_.iter().map(|r| r.booked_at).collect();
        let a: Vec<i64> = rows_.iter().map(|r| r.amount).collect();
        self.conn.exec_raw(
            "INSERT INTO restorations (grant_id, seq, booked_at, amount) \
             SELECT * FROM unnest(?1::text[], ?2::bigint[], ?3::bigint[], ?4::bigint[])",
            &[&g, &s, &b, &a],
        )?;
        Ok(())
    }

    fn touch_wallets(&mut self, keys: &[WalletKey], now: i64, last_seq: i64) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let c: Vec<&str> = keys.iter().map(|k| k.0.as_str()).collect();
        let t: Vec<&str> = keys.iter().map(|k| k.1.as_str()).collect();
        self.conn.exec_raw(
            "UPDATE wallets w SET version = w.version + 1, caught_up_at = GREATEST(w.caught_up_at, ?3), last_seq = GREATEST(w.last_seq, ?4) \
             FROM unnest(?1::text[], ?2::text[]) AS k(c, t) WHERE w.customer_id = k.c AND w.credit_type_id = k.t",
            &[&c, &t, &now, &last_seq],
        )?;
        Ok(())
    }
}

/// r2d2's view of a PostgreSQL connection, for the read pool.
pub(crate) struct PgManager {
    pub(crate) config: postgres::Config,
}

impl r2d2::ManageConnection for PgManager {
    type Connection = PgConn;
    type Error = StoreError;

    fn connect(&self) -> Result<PgConn> {
        PgConn::connect(&self.config)
    }

    fn is_valid(&self, conn: &mut PgConn) -> Result<()> {
        Ok(conn.client.batch_execute("")?)
    }

    fn has_broken(&self, conn: &mut PgConn) -> bool {
        conn.client.is_closed()
    }
}
