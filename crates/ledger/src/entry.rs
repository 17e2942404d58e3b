//! Ledger entries and the posting (unit of work) that collects them.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::amount::Credits;
use crate::grant::Grant;
use crate::ids::{ActorId, CreditTypeId, CustomerId, EventId, GrantId, ProductId, ReasonCode};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// +amount: a grant's credits (booked at `effective_at`).
    Grant,
    /// -x: usage drawn from a grant (booked at event time).
    Burn,
    /// -x, no grant: usage no grant covered (booked at event time).
    Overage,
    /// -x on the paying grant: it settles that much outstanding overage
    /// (`related` = the overage entry).
    OverageSettled,
    /// -remainder at `expires_at` (may be 0: it also marks the expiry as done).
    Expire,
    /// +x at `expires_at`: a late burn took x from what had been booked as expired.
    ExpiryCorrection,
    /// -rolled at `expires_at`: the part carried into the rollover grant.
    RolloverOut,
    /// -remainder: a void forfeits what is left.
    Void,
    /// +x: a dispute outcome undoes a burn, a settlement or an overage.
    Reversal,
}

impl EntryKind {
    pub const ALL: [EntryKind; 9] = [
        EntryKind::Grant,
        EntryKind::Burn,
        EntryKind::Overage,
        EntryKind::OverageSettled,
        EntryKind::Expire,
        EntryKind::ExpiryCorrection,
        EntryKind::RolloverOut,
        EntryKind::Void,
        EntryKind::Reversal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Grant => "grant",
            EntryKind::Burn => "burn",
            EntryKind::Overage => "overage",
            EntryKind::OverageSettled => "overage_settled",
            EntryKind::Expire => "expire",
            EntryKind::ExpiryCorrection => "expiry_correction",
            EntryKind::RolloverOut => "rollover_out",
            EntryKind::Void => "void",
            EntryKind::Reversal => "reversal",
        }
    }
}

/// One append-only ledger line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// Global sequence number: the entry's identity and its recorded order.
    pub seq: u64,
    pub customer: CustomerId,
    pub credit_type: CreditTypeId,
    /// `None` only for overage and for the reversal of unsettled overage.
    pub grant: Option<GrantId>,
    pub kind: EntryKind,
    /// Signed: what the entry adds to (+) or takes from (-) the grant, or for
    /// overage, from the customer.
    pub amount: Credits,
    /// When it takes effect.
    pub booked_at: DateTime<Utc>,
    /// When it was written.
    pub recorded_at: DateTime<Utc>,
    /// The usage event behind a burn, overage, settlement or reversal.
    pub event: Option<EventId>,
    /// The product of the usage behind it (burns, overage, settlements).
    pub product: Option<ProductId>,
    /// The entry this one acts on (a settlement's overage, a reversal's burn,
    /// a correction's expire entry).
    pub related: Option<u64>,
    pub actor: ActorId,
    pub reason_code: Option<ReasonCode>,
    pub ticket_ref: Option<Arc<str>>,
    pub note: Option<Arc<str>>,
}

/// Who is acting and why: stamped on every entry a posting writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribution {
    pub actor: ActorId,
    pub reason_code: Option<ReasonCode>,
    pub ticket_ref: Option<Arc<str>>,
    pub note: Option<Arc<str>>,
}

impl Attribution {
    pub fn system() -> Attribution {
        Attribution { actor: ActorId::system(), reason_code: None, ticket_ref: None, note: None }
    }

    pub fn actor(actor: ActorId) -> Attribution {
        Attribution { actor, reason_code: None, ticket_ref: None, note: None }
    }
}

/// One unit of work: the entries a single operation writes, all recorded at
/// the same instant. The caller supplies the next sequence number and stores
/// the entries atomically (or not at all).
#[derive(Debug)]
pub struct Posting {
    pub recorded_at: DateTime<Utc>,
    pub next_seq: u64,
    pub by: Attribution,
    pub entries: Vec<Entry>,
    /// Grants the operation created (rollovers, dispute refunds, new grants):
    /// the store persists them with the entries.
    pub grants: Vec<Arc<Grant>>,
}

/// The fields of an entry that vary; the posting fills in the rest.
pub(crate) struct Line {
    pub grant: Option<GrantId>,
    pub kind: EntryKind,
    pub amount: Credits,
    pub booked_at: DateTime<Utc>,
    pub event: Option<EventId>,
    pub product: Option<ProductId>,
    pub related: Option<u64>,
    /// Background work (expiry, rollover, settlement) is attributed to the
    /// system, whoever's operation triggered it.
    pub system: bool,
}

impl Posting {
    pub fn new(recorded_at: DateTime<Utc>, next_seq: u64, by: Attribution) -> Posting {
        Posting { recorded_at, next_seq, by, entries: Vec::new(), grants: Vec::new() }
    }

    /// Appends an entry and returns its sequence number.
    pub(crate) fn write(&mut self, customer: &CustomerId, credit_type: &CreditTypeId, line: Line) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        let by = if line.system { None } else { Some(&self.by) };
        self.entries.push(Entry {
            seq,
            customer: customer.clone(),
            credit_type: credit_type.clone(),
            grant: line.grant,
            kind: line.kind,
            amount: line.amount,
            booked_at: line.booked_at,
            recorded_at: self.recorded_at,
            event: line.event,
            product: line.product,
            related: line.related,
            actor: by.map_or_else(ActorId::system, |b| b.actor.clone()),
            reason_code: by.and_then(|b| b.reason_code.clone()),
            ticket_ref: by.and_then(|b| b.ticket_ref.clone()),
            note: by.and_then(|b| b.note.clone()),
        });
        seq
    }
}
