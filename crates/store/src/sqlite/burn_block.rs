//! Burn blocks (SQLite): the burns one write group books for one
//! customer, credit type and booked day, stored as one row of
//! `burn_blocks` (staged first in `burn_blocks_recent`: docs/server.md,
//! "Staged blocks") whose `burns` column is a compact binary block, and
//! `burn_block(burns)`, a table-valued SQL function that reads a block
//! back as entry rows.
//!
//! Why: live ingest writes a burn for nearly every event, for hundreds of
//! customers per write group. As rows, each burn cost a row and two
//! per-customer index entries (and before this, a second copy while it
//! was staged). As a block, a group writes one row per customer, credit
//! type and booked day (docs/bench-history.md, "A prototype of burn blocks").
//!
//! Block format, version 1 (all integers LEB128 varints, signed ones
//! zigzag-encoded):
//!
//! ```text
//! version: u8 = 1
//! count
//! count times:
//!   seq - previous seq          (signed; the first against 0)
//!   booked_at - previous booked (signed, microseconds; the first against 0)
//!   amount                      (signed, micro-credits)
//!   related_seq                 (0 = none, else 1 + zigzag(value))
//!   grant, event, product, actor, reason_code, ticket_ref, note: text,
//!     each 0 = none, 1 = a new text (length, UTF-8 bytes) that joins the
//!     block's dictionary, k >= 2 = the dictionary's text number k - 2
//! ```
//!
//! The block table holds what every burn of the block shares: customer,
//! credit type, recorded time (the group's), and the kind is `burn`.

use foldhash::HashMap;
use std::borrow::Cow;
use std::ffi::{c_int, CStr};
use std::marker::PhantomData;

use creditdesk_ledger::entry::Entry;
use rusqlite::vtab::{
    Context, Filters, IndexConstraintOp, IndexInfo, Module, VTab, VTabConfig, VTabConnection, VTabCursor,
};
use rusqlite::{ffi, Connection};

use crate::codec::{micros, ts};

const VERSION: u8 = 1;

/// One burn as read from a block; texts borrowed from it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct BlockBurn<'a> {
    pub seq: i64,
    pub booked_at: i64,
    pub amount: i64,
    pub related: Option<i64>,
    pub grant: Option<&'a str>,
    pub event: Option<&'a str>,
    pub product: Option<&'a str>,
    pub actor: &'a str,
    pub reason_code: Option<&'a str>,
    pub ticket_ref: Option<&'a str>,
    pub note: Option<&'a str>,
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Encodes blocks. One encoder serves all the blocks a group writes, so
/// that its dictionary's table is allocated once per group rather than
/// grown from nothing for each of some 200 blocks (in a profile of the
/// writer at 100,000 events/s the dictionary, allocations included, fell
/// from 1.9 % to 1.1 % of its samples).
#[derive(Default)]
pub(crate) struct Encoder<'e> {
    /// The current block's dictionary: each text's number.
    seen: HashMap<&'e str, u64>,
}

impl<'e> Encoder<'e> {
    /// Writes a text as new or as its number in the block's dictionary.
    fn put(&mut self, out: &mut Vec<u8>, text: Option<&'e str>) {
        let Some(text) = text else {
            out.push(0);
            return;
        };
        match self.seen.get(text) {
            Some(&k) => put_varint(out, k + 2),
            None => {
                self.seen.insert(text, self.seen.len() as u64);
                out.push(1);
                put_varint(out, text.len() as u64);
                out.extend_from_slice(text.as_bytes());
            }
        }
    }

    /// The block of `burns` (one customer, credit type, booked day and
    /// recorded time; in the order they are to be read back, by entry
    /// number).
    pub(crate) fn encode(&mut self, burns: &[&'e Entry]) -> Vec<u8> {
        self.seen.clear();
        let mut out = Vec::with_capacity(2 + burns.len() * 32);
        out.push(VERSION);
        put_varint(&mut out, burns.len() as u64);
        let (mut seq, mut booked) = (0i64, 0i64);
        for e in burns {
            let (s, b) = (e.seq as i64, ts(e.booked_at));
            put_varint(&mut out, zigzag(s.wrapping_sub(seq)));
            put_varint(&mut out, zigzag(b.wrapping_sub(booked)));
            (seq, booked) = (s, b);
            put_varint(&mut out, zigzag(micros(e.amount)));
            put_varint(&mut out, e.related.map_or(0, |r| 1 + zigzag(r as i64)));
            self.put(&mut out, e.grant.as_ref().map(|g| g.as_str()));
            self.put(&mut out, e.event.as_ref().map(|v| v.as_str()));
            self.put(&mut out, e.product.as_ref().map(|p| p.as_str()));
            self.put(&mut out, Some(e.actor.as_str()));
            self.put(&mut out, e.reason_code.as_ref().map(|r| r.as_str()));
            self.put(&mut out, e.ticket_ref.as_deref());
            self.put(&mut out, e.note.as_deref());
        }
        out
    }
}

/// Why a block could not be read (a corrupt file: the writer wrote it).
#[derive(Debug)]
pub(crate) struct BadBlock(&'static str);

impl std::fmt::Display for BadBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "burn block: {}", self.0)
    }
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
    dictionary: Vec<&'a str>,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, BadBlock> {
        let b = *self.data.get(self.at).ok_or(BadBlock("ends early"))?;
        self.at += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, BadBlock> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(BadBlock("a number is too long"))
    }

    fn signed(&mut self) -> Result<i64, BadBlock> {
        Ok(unzigzag(self.varint()?))
    }

    fn text(&mut self) -> Result<Option<&'a str>, BadBlock> {
        match self.varint()? {
            0 => Ok(None),
            1 => {
                let len = usize::try_from(self.varint()?).map_err(|_| BadBlock("a text is too long"))?;
                let end = self.at.checked_add(len).filter(|&e| e <= self.data.len()).ok_or(BadBlock("ends early"))?;
                let text =
                    std::str::from_utf8(&self.data[self.at..end]).map_err(|_| BadBlock("a text is not UTF-8"))?;
                self.at = end;
                self.dictionary.push(text);
                Ok(Some(text))
            }
            k => {
                let i = usize::try_from(k - 2).map_err(|_| BadBlock("a text number is too large"))?;
                self.dictionary.get(i).copied().map(Some).ok_or(BadBlock("a text number is unknown"))
            }
        }
    }
}

/// The burns of a block, in its order.
pub(crate) fn decode(data: &[u8]) -> Result<Vec<BlockBurn<'_>>, BadBlock> {
    let mut r = Reader { data, at: 0, dictionary: Vec::new() };
    if r.byte()? != VERSION {
        return Err(BadBlock("unknown version"));
    }
    let count = usize::try_from(r.varint()?).map_err(|_| BadBlock("too many burns"))?;
    // Each burn takes at least 11 bytes: a count beyond that is corrupt.
    if count > data.len() / 11 {
        return Err(BadBlock("more burns than bytes"));
    }
    let mut burns = Vec::with_capacity(count);
    let (mut seq, mut booked) = (0i64, 0i64);
    for _ in 0..count {
        seq = seq.wrapping_add(r.signed()?);
        booked = booked.wrapping_add(r.signed()?);
        let amount = r.signed()?;
        let related = match r.varint()? {
            0 => None,
            v => Some(unzigzag(v - 1)),
        };
        burns.push(BlockBurn {
            seq,
            booked_at: booked,
            amount,
            related,
            grant: r.text()?,
            event: r.text()?,
            product: r.text()?,
            actor: r.text()?.ok_or(BadBlock("a burn without an actor"))?,
            reason_code: r.text()?,
            ticket_ref: r.text()?,
            note: r.text()?,
        });
    }
    if r.at != data.len() {
        return Err(BadBlock("bytes after the last burn"));
    }
    Ok(burns)
}

const MODULE_NAME: &CStr = c"burn_block";
/// The columns of `burn_block(burns)`: an entry's, less those its block
/// row holds (customer, credit type, recorded time); `block` is the
/// function's argument.
const SCHEMA: &CStr = c"CREATE TABLE x(seq, grant_id, kind, amount, booked_at, event_id, product_id, related_seq, \
actor, reason_code, ticket_ref, note, block HIDDEN)";
const BLOCK_COLUMN: c_int = 12;

/// Registers `burn_block` on a connection (every connection of the store:
/// the writer's and the readers').
pub(crate) fn register(conn: &Connection) -> rusqlite::Result<()> {
    const MODULE: Module<BurnBlockTab> = Module::eponymous_only_module();
    conn.create_module(MODULE_NAME, &MODULE, None)
}

#[repr(C)]
struct BurnBlockTab {
    base: ffi::sqlite3_vtab,
}

unsafe impl<'vtab> VTab<'vtab> for BurnBlockTab {
    type Aux = ();
    type Cursor = BurnBlockCursor<'vtab>;

    fn connect(
        db: &mut VTabConnection,
        _aux: Option<&()>,
        _module_name: &[u8],
        _database_name: &[u8],
        _table_name: &[u8],
        _args: &[&[u8]],
    ) -> rusqlite::Result<(Cow<'static, CStr>, Self)> {
        db.config(VTabConfig::Innocuous)?;
        Ok((Cow::Borrowed(SCHEMA), BurnBlockTab { base: ffi::sqlite3_vtab::default() }))
    }

    /// Usable only with its argument: `burn_block(burns)`.
    fn best_index(&self, info: &mut IndexInfo) -> rusqlite::Result<bool> {
        let mut argument = None;
        for (i, c) in info.constraints().enumerate() {
            if c.column() == BLOCK_COLUMN {
                if !c.is_usable() || c.operator() != IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_EQ {
                    return Ok(false);
                }
                argument = Some(i);
            }
        }
        let Some(i) = argument else { return Ok(false) };
        let mut usage = info.constraint_usage(i);
        usage.set_argv_index(1);
        usage.set_omit(true);
        info.set_estimated_cost(10.0);
        info.set_estimated_rows(10);
        Ok(true)
    }

    fn open(&mut self) -> rusqlite::Result<BurnBlockCursor<'_>> {
        Ok(BurnBlockCursor {
            base: ffi::sqlite3_vtab_cursor::default(),
            block: Vec::new(),
            burns: Vec::new(),
            at: 0,
            phantom: PhantomData,
        })
    }
}

/// A burn's fields as offsets into the cursor's copy of the block.
struct Row {
    seq: i64,
    booked_at: i64,
    amount: i64,
    related: Option<i64>,
    texts: [Option<(usize, usize)>; 7],
}

#[repr(C)]
struct BurnBlockCursor<'vtab> {
    base: ffi::sqlite3_vtab_cursor,
    block: Vec<u8>,
    burns: Vec<Row>,
    at: usize,
    phantom: PhantomData<&'vtab BurnBlockTab>,
}

impl BurnBlockCursor<'_> {
    fn text(&self, span: Option<(usize, usize)>) -> Option<&str> {
        // Spans were cut from UTF-8 texts of this block by `decode`.
        span.and_then(|(from, to)| std::str::from_utf8(&self.block[from..to]).ok())
    }
}

unsafe impl VTabCursor for BurnBlockCursor<'_> {
    fn filter(&mut self, _idx_num: c_int, _idx_str: Option<&str>, args: &Filters<'_>) -> rusqlite::Result<()> {
        self.block = args.get::<Option<Vec<u8>>>(0)?.unwrap_or_default();
        self.at = 0;
        self.burns.clear();
        if self.block.is_empty() {
            return Ok(());
        }
        let base = self.block.as_ptr() as usize;
        let span = |t: Option<&str>| t.map(|t| (t.as_ptr() as usize - base, t.as_ptr() as usize - base + t.len()));
        let burns = decode(&self.block).map_err(|e| rusqlite::Error::ModuleError(e.to_string()))?;
        self.burns = burns
            .iter()
            .map(|b| Row {
                seq: b.seq,
                booked_at: b.booked_at,
                amount: b.amount,
                related: b.related,
                texts: [b.grant, b.event, b.product, Some(b.actor), b.reason_code, b.ticket_ref, b.note].map(span),
            })
            .collect();
        Ok(())
    }

    fn next(&mut self) -> rusqlite::Result<()> {
        self.at += 1;
        Ok(())
    }

    fn eof(&self) -> bool {
        self.at >= self.burns.len()
    }

    fn column(&self, ctx: &mut Context, i: c_int) -> rusqlite::Result<()> {
        let b = &self.burns[self.at];
        match i {
            0 => ctx.set_result(&b.seq),
            1 => ctx.set_result(&self.text(b.texts[0])),
            2 => ctx.set_result(&"burn"),
            3 => ctx.set_result(&b.amount),
            4 => ctx.set_result(&b.booked_at),
            5 => ctx.set_result(&self.text(b.texts[1])),
            6 => ctx.set_result(&self.text(b.texts[2])),
            7 => ctx.set_result(&b.related),
            8 => ctx.set_result(&self.text(b.texts[3])),
            9 => ctx.set_result(&self.text(b.texts[4])),
            10 => ctx.set_result(&self.text(b.texts[5])),
            11 => ctx.set_result(&self.text(b.texts[6])),
            _ => ctx.set_result(&self.block),
        }
    }

    fn rowid(&self) -> rusqlite::Result<i64> {
        Ok(self.at as i64)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{DateTime, Utc};
    use creditdesk_ledger::entry::EntryKind;
    use creditdesk_ledger::ids::{ActorId, CreditTypeId, CustomerId, EventId, GrantId, ProductId, ReasonCode};
    use proptest::prelude::*;

    use super::*;
    use crate::codec::{credits, time};

    fn burn(
        seq: u64,
        booked: i64,
        amount: i64,
        grant: Option<&str>,
        event: Option<&str>,
        product: Option<&str>,
    ) -> Entry {
        Entry {
            seq,
            customer: CustomerId::new("acme").unwrap(),
            credit_type: CreditTypeId::new("api").unwrap(),
            grant: grant.map(|g| GrantId::new(g).unwrap()),
            kind: EntryKind::Burn,
            amount: credits(amount).unwrap(),
            booked_at: time(booked).unwrap(),
            recorded_at: DateTime::<Utc>::UNIX_EPOCH,
            event: event.map(|e| EventId::new(e).unwrap()),
            product: product.map(|p| ProductId::new(p).unwrap()),
            related: None,
            actor: ActorId::new("ingest").unwrap(),
            reason_code: None,
            ticket_ref: None,
            note: None,
        }
    }

    /// A block on a fresh encoder.
    fn encode(burns: &[&Entry]) -> Vec<u8> {
        Encoder::default().encode(burns)
    }

    fn read_back(e: &Entry) -> BlockBurn<'_> {
        BlockBurn {
            seq: e.seq as i64,
            booked_at: ts(e.booked_at),
            amount: micros(e.amount),
            related: e.related.map(|r| r as i64),
            grant: e.grant.as_ref().map(|g| g.as_str()),
            event: e.event.as_ref().map(|v| v.as_str()),
            product: e.product.as_ref().map(|p| p.as_str()),
            actor: e.actor.as_str(),
            reason_code: e.reason_code.as_ref().map(|r| r.as_str()),
            ticket_ref: e.ticket_ref.as_deref(),
            note: e.note.as_deref(),
        }
    }

    proptest! {
        /// Whatever burns a block holds come back as they went in, in order.
        #[test]
        fn a_block_reads_back_the_burns_written_into_it(
            burns in proptest::collection::vec(
                (0u64..1 << 40, -(1i64 << 50)..1i64 << 50, -(1i64 << 50)..1i64 << 50, 0usize..4, 0usize..6,
                 proptest::option::of(0u64..1 << 40), any::<bool>()),
                0..40)
        ) {
            let grants = ["g1", "g2", "gr_0123456789abcdef", "g3"];
            let entries: Vec<Entry> = burns
                .iter()
                .map(|&(seq, booked, amount, g, ev, related, noted)| {
                    let mut e = burn(seq, booked, amount, Some(grants[g]), Some(&format!("ev{ev}")), (g % 2 == 0).then_some("chat"));
                    e.related = related;
                    if noted {
                        e.reason_code = Some(ReasonCode::new("goodwill").unwrap());
                        e.ticket_ref = Some(Arc::from("T-1"));
                        e.note = Some(Arc::from("ünïcode note"));
                        e.grant = None;
                    }
                    e
                })
                .collect();
            let refs: Vec<&Entry> = entries.iter().collect();
            let block = encode(&refs);
            let back = decode(&block).unwrap();
            prop_assert_eq!(back, entries.iter().map(read_back).collect::<Vec<_>>());
            // An encoder that wrote other blocks first (as the writer's does
            // for a group's blocks) starts each block's dictionary afresh.
            let mut shared = Encoder::default();
            let earlier: Vec<&Entry> = refs.iter().rev().copied().collect();
            shared.encode(&earlier);
            shared.encode(&refs[refs.len() / 2..]);
            prop_assert_eq!(shared.encode(&refs), block);
        }

        /// A damaged block is refused, never read wrongly into a panic.
        #[test]
        fn a_damaged_block_is_an_error_not_a_panic(cut in 0usize..200, flip in 0usize..200, bits in 1u8..=255) {
            let entries: Vec<Entry> =
                (0..6).map(|i| burn(100 + i, 1_000 * i as i64, -5, Some("g1"), Some(&format!("e{i}")), Some("chat"))).collect();
            let refs: Vec<&Entry> = entries.iter().collect();
            let mut block = encode(&refs);
            let whole = block.len();
            if flip < whole {
                block[flip] ^= bits;
            }
            block.truncate(cut.min(whole));
            let read = decode(&block);
            // Cut short and otherwise intact: always refused.
            if flip >= whole && cut < whole {
                prop_assert!(read.is_err(), "{} of {} bytes read as a block", cut, whole);
            }
        }
    }

    /// Repeated texts are written once: a burn of a block costs its event
    /// id and about 16 bytes more (here 9 for the id, 14 for the rest).
    #[test]
    fn repeated_texts_are_written_once() {
        let entries: Vec<Entry> = (0..100)
            .map(|i| {
                burn(
                    1_000 + i,
                    1_700_000_000_000_000 + 1_000 * i as i64,
                    -1_500_000,
                    Some("gr_plan"),
                    Some(&format!("l{i:06}")),
                    Some("transcribe"),
                )
            })
            .collect();
        let refs: Vec<&Entry> = entries.iter().collect();
        let block = encode(&refs);
        // The header, the first burn (its texts new, its numbers absolute), 99 more.
        assert_eq!(block.len(), 2 + 56 + 99 * 23);
    }

    /// `burn_block(burns)` reads a block as entry rows, joined to its row
    /// for the customer, credit type and recorded time.
    #[test]
    fn burn_block_reads_a_block_in_sql() {
        let conn = Connection::open_in_memory().unwrap();
        register(&conn).unwrap();
        let entries = [burn(7, 10, -3, Some("g1"), Some("e1"), Some("chat")), burn(9, 5, -4, None, Some("e2"), None)];
        let refs: Vec<&Entry> = entries.iter().collect();
        conn.execute_batch("CREATE TABLE b (customer_id TEXT, recorded_at INTEGER, burns BLOB)").unwrap();
        conn.execute("INSERT INTO b VALUES ('acme', 42, ?1)", [encode(&refs)]).unwrap();
        // seq, customer, grant, kind, amount, booked, event, product, recorded
        type Read = (i64, String, Option<String>, String, i64, i64, Option<String>, Option<String>, i64);
        let rows: Vec<Read> = conn
            .prepare(
                "SELECT seq, customer_id, grant_id, kind, amount, booked_at, event_id, product_id, recorded_at \
                 FROM b, burn_block(burns) WHERE amount < -3 OR seq = 7 ORDER BY seq",
            )
            .unwrap()
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?))
            })
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(
            rows,
            vec![
                (
                    7,
                    "acme".into(),
                    Some("g1".into()),
                    "burn".into(),
                    -3,
                    10,
                    Some("e1".into()),
                    Some("chat".into()),
                    42
                ),
                (9, "acme".into(), None, "burn".into(), -4, 5, Some("e2".into()), None, 42),
            ]
        );
        let refused = conn.query_row("SELECT count(*) FROM burn_block", [], |r| r.get::<_, i64>(0));
        assert!(refused.is_err(), "burn_block needs its argument");
        let bad = conn.query_row("SELECT count(*) FROM burn_block(x'02')", [], |r| r.get::<_, i64>(0));
        assert!(bad.unwrap_err().to_string().contains("unknown version"));
    }
}
