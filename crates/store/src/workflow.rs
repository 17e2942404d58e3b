//! Support workflows (`docs/workflows.md`): role limits, money-moving
//! actions decided against them, approval requests, disputes and the audit
//! log, stored beside the ledger and written in the same transactions.
//!
//! The decisions that must hold across servers are made inside the write
//! path's transaction, where the database serialises them:
//!
//! - an actor's monthly budget is a row (`budget_spend`) read under its
//!   lock and raised in the transaction that books the action, so two
//!   requests can never both fit into the same remainder;
//! - an approval executes in the transaction that moves its row from
//!   `pending` (read `FOR UPDATE` on PostgreSQL, conditional `UPDATE`
//!   everywhere): a second approver, on any server, finds it decided.
//!
//! Every decision, allowed or refused, writes its audit row in the same
//! transaction as its effect.

use std::str::FromStr;

use chrono::{DateTime, Datelike, TimeDelta, Utc};
use creditdesk_ledger::entry::{Attribution, Entry};
use creditdesk_ledger::grant::NewGrant;
use creditdesk_ledger::ids::{CreditTypeId, CustomerId, EventId, GrantId};
use creditdesk_ledger::wallet::Reversal;
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use crate::codec::{opt_time, time, ts};
use crate::db::{params, query_all, query_opt, Db, Row, Sql};
use crate::error::{Result, StoreError};
use crate::model::Page;

/// Unapproved requests expire this long after they were filed.
pub const APPROVAL_LIFETIME: TimeDelta = TimeDelta::days(7);

/// The roles, least to most trusted (the order approver lists use).
pub const ROLES: [&str; 6] = ["viewer", "account_manager", "support_agent", "support_lead", "finance", "admin"];

/// A role's money limits in the deployment's currency; `None` = unlimited.
/// Zero means "never alone" (and, for `approve_up_to`, "may not approve").
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    pub per_action: Option<Decimal>,
    pub monthly: Option<Decimal>,
    pub approve_up_to: Option<Decimal>,
}

impl Limits {
    /// A role without a row acts alone on nothing and approves nothing.
    pub fn zero() -> Limits {
        let z = Some(Decimal::ZERO);
        Limits { per_action: z, monthly: z, approve_up_to: z }
    }

    /// Whether this role may approve a request worth `value`.
    pub fn may_approve(&self, value: Decimal) -> bool {
        self.approve_up_to.is_none_or(|l| !l.is_zero() && value <= l)
    }
}

/// A role's limits as stored, with who set them last.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleLimits {
    pub role: String,
    pub limits: Limits,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

/// Which limit an action exceeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exceeded {
    PerAction,
    Monthly,
}

impl Exceeded {
    pub fn as_str(self) -> &'static str {
        match self {
            Exceeded::PerAction => "per_action",
            Exceeded::Monthly => "monthly",
        }
    }

    fn parse(s: &str) -> Result<Exceeded> {
        match s {
            "per_action" => Ok(Exceeded::PerAction),
            "monthly" => Ok(Exceeded::Monthly),
            _ => Err(StoreError::corrupt(format!("exceeded limit {s}"))),
        }
    }
}

/// Why an action cannot execute alone: the limit, its amount (for
/// `monthly`: what was left of the budget) and by how much it is exceeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Breach {
    pub exceeded: Exceeded,
    pub limit: Decimal,
    pub exceeded_by: Decimal,
}

/// The rule: an action worth `value` executes alone iff it fits the
/// per-action limit and what is left of the monthly budget (`spent` so
/// far this month). A zero limit fits nothing, not even a zero value.
pub fn breach(limits: &Limits, value: Decimal, spent: Decimal) -> Option<Breach> {
    if let Some(l) = limits.per_action {
        if l.is_zero() || value > l {
            return Some(Breach { exceeded: Exceeded::PerAction, limit: l, exceeded_by: value - l });
        }
    }
    if let Some(m) = limits.monthly {
        let left = (m - spent).max(Decimal::ZERO);
        if m.is_zero() || value > left {
            return Some(Breach { exceeded: Exceeded::Monthly, limit: left, exceeded_by: value - left });
        }
    }
    None
}

/// The budget month of an instant: `yyyymm`, UTC.
pub fn month_key(t: DateTime<Utc>) -> i64 {
    i64::from(t.year()) * 100 + i64::from(t.month())
}

/// The authenticated user behind a decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub id: String,
    pub role: String,
}

/// What a money-moving action books when it executes.
#[derive(Clone, Debug)]
pub enum MoneyAction {
    /// A manual or goodwill grant.
    Grant(Box<NewGrant>),
    /// Reversal of these events (each at most once, all or none).
    Reverse { events: Vec<EventId>, by: Attribution },
    /// An expiry extension: voids `grant`'s remainder and grants it again
    /// as `new` (whose `amount` becomes that remainder).
    Extend { grant: GrantId, new: Box<NewGrant>, by: Attribution },
}

/// A money-moving action to decide: execute now if within the actor's
/// limits, else file `approval_id` as an approval request.
#[derive(Clone, Debug)]
pub struct ActRequest {
    pub actor: Actor,
    /// `grant`, `goodwill_grant`, `reverse_usage`, `extend_expiry`.
    pub action: String,
    pub execute: MoneyAction,
    pub customer: CustomerId,
    pub credit_type: CreditTypeId,
    pub credits: Decimal,
    pub value: Decimal,
    pub currency: String,
    /// What the server needs to rebuild `execute` on approval (JSON).
    pub payload: String,
    pub reason_code: String,
    pub ticket_ref: String,
    pub note: String,
    pub dispute: Option<String>,
    pub approval_id: String,
    pub request_id: Option<String>,
}

/// What an executed action booked.
#[derive(Clone, Debug, Default)]
pub struct Executed {
    /// Entries of grants (reversal entries are listed by the ledger).
    pub entries: Vec<Entry>,
    pub reversals: Vec<(EventId, Reversal)>,
}

#[derive(Clone, Debug)]
pub enum ActOutcome {
    Executed(Executed),
    Requested(Box<Approval>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApprovalStatus {
    Pending,
    Approved,
    Rejected,
    Cancelled,
    Expired,
    /// Approved, but the ledger refused the action (e.g. the event was
    /// reversed meanwhile through another request): nothing was booked.
    Failed,
}

impl ApprovalStatus {
    pub const ALL: [ApprovalStatus; 6] = [
        ApprovalStatus::Pending,
        ApprovalStatus::Approved,
        ApprovalStatus::Rejected,
        ApprovalStatus::Cancelled,
        ApprovalStatus::Expired,
        ApprovalStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Approved => "approved",
            ApprovalStatus::Rejected => "rejected",
            ApprovalStatus::Cancelled => "cancelled",
            ApprovalStatus::Expired => "expired",
            ApprovalStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<ApprovalStatus> {
        ApprovalStatus::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// An approval request. `status` is as of the read: a pending request past
/// `expires_at` reads as expired whether or not it was swept yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Approval {
    pub id: String,
    pub action: String,
    pub customer_id: String,
    pub credit_type_id: String,
    pub credits: Decimal,
    pub value: Decimal,
    pub currency: String,
    pub exceeded: Exceeded,
    pub limit: Decimal,
    pub exceeded_by: Decimal,
    pub approver_roles: Vec<String>,
    pub payload: String,
    pub reason_code: String,
    pub ticket_ref: String,
    pub note: String,
    pub dispute_id: Option<String>,
    pub requested_by: String,
    pub requested_role: String,
    pub requested_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub status: ApprovalStatus,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_note: Option<String>,
    /// What the execution booked (JSON), once approved.
    pub result: Option<String>,
}

/// What to do with a pending request.
#[derive(Clone, Debug)]
pub enum Decision {
    /// Execute `MoneyAction` (rebuilt by the server from the payload, with
    /// the approver recorded) if the approver may. `None` when the server
    /// found the request already decided: the store then says how.
    Approve(Option<MoneyAction>),
    Reject {
        reason: String,
    },
    Cancel {
        reason: Option<String>,
    },
}

impl Decision {
    pub fn name(&self) -> &'static str {
        match self {
            Decision::Approve(_) => "approval.approve",
            Decision::Reject { .. } => "approval.reject",
            Decision::Cancel { .. } => "approval.cancel",
        }
    }
}

#[derive(Clone, Debug)]
pub struct DecideRequest {
    pub id: String,
    pub actor: Actor,
    pub decision: Decision,
    pub request_id: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Decided {
    pub approval: Approval,
    pub executed: Option<Executed>,
}

/// Listing filters; `None` = any.
#[derive(Clone, Debug, Default)]
pub struct ApprovalFilter {
    pub status: Option<ApprovalStatus>,
    pub requested_by: Option<String>,
    pub customer: Option<String>,
    pub dispute: Option<String>,
}

/// One audit row: who did what to what, worth how much, and what decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// Assigned by the database (0 before).
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub role: String,
    pub action: String,
    pub target: Option<String>,
    pub customer_id: Option<String>,
    /// Money, `"<amount> <currency>"`.
    pub value: Option<String>,
    /// `executed`, `approval_requested`, `approved`, `rejected`,
    /// `cancelled`, `refused`, `failed`, `ok`.
    pub outcome: String,
    /// The rule that decided (a problem code or a limit).
    pub rule: Option<String>,
    pub request_id: Option<String>,
    pub detail: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub customer: Option<String>,
    pub action: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DisputeStatus {
    Open,
    Investigating,
    AwaitingApproval,
    Resolved,
    Rejected,
}

impl DisputeStatus {
    pub const ALL: [DisputeStatus; 5] = [
        DisputeStatus::Open,
        DisputeStatus::Investigating,
        DisputeStatus::AwaitingApproval,
        DisputeStatus::Resolved,
        DisputeStatus::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DisputeStatus::Open => "open",
            DisputeStatus::Investigating => "investigating",
            DisputeStatus::AwaitingApproval => "awaiting_approval",
            DisputeStatus::Resolved => "resolved",
            DisputeStatus::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<DisputeStatus> {
        DisputeStatus::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// Whether the dispute can still be worked on (assigned, resolved).
    pub fn is_active(self) -> bool {
        matches!(self, DisputeStatus::Open | DisputeStatus::Investigating)
    }

    /// Whether the dispute is settled (resolved or rejected); one awaiting
    /// approval of its resolution is not.
    pub fn is_closed(self) -> bool {
        matches!(self, DisputeStatus::Resolved | DisputeStatus::Rejected)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dispute {
    pub id: String,
    pub customer_id: String,
    pub credit_type_id: String,
    pub events: Vec<String>,
    pub ticket_ref: String,
    pub description: String,
    pub claimed: Option<Decimal>,
    pub status: DisputeStatus,
    pub assignee: Option<String>,
    pub opened_by: String,
    pub opened_at: DateTime<Utc>,
    pub sla_due_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub resolution: Option<String>,
    pub resolution_reason: Option<String>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub approval_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisputeComment {
    pub id: i64,
    pub dispute_id: String,
    pub at: DateTime<Utc>,
    pub author: String,
    pub body: String,
}

#[derive(Clone, Debug, Default)]
pub struct DisputeFilter {
    pub status: Option<DisputeStatus>,
    pub assignee: Option<String>,
    pub customer: Option<String>,
    /// Only active disputes past their SLA (true) or not past it (false).
    pub overdue: Option<bool>,
}

/// A workflow write, applied in the write path's transaction.
#[derive(Clone, Debug)]
pub enum WorkflowOp {
    Act(Box<ActRequest>),
    Decide(Box<DecideRequest>),
    SetLimits {
        role: String,
        limits: Limits,
        actor: Actor,
        request_id: Option<String>,
    },
    /// Rows for decisions taken outside a workflow transaction (the HTTP
    /// layer's refusals, other mutating calls).
    Audit(Vec<AuditEntry>),
    OpenDispute {
        dispute: Box<Dispute>,
        actor: Actor,
        request_id: Option<String>,
    },
    AssignDispute {
        id: String,
        assignee: String,
        actor: Actor,
        request_id: Option<String>,
    },
    CommentDispute {
        id: String,
        body: String,
        actor: Actor,
        request_id: Option<String>,
    },
    /// `no_action`: the dispute is closed as `rejected` with the reason.
    DismissDispute {
        id: String,
        reason: String,
        actor: Actor,
        request_id: Option<String>,
    },
    /// Marks pending requests past their expiry as expired.
    ExpireApprovals,
}

/// A workflow write's result.
#[derive(Clone, Debug)]
pub enum WorkflowOut {
    Acted(ActOutcome),
    Decided(Box<Decided>),
    Limits(RoleLimits),
    Audited,
    Dispute(Box<Dispute>),
    Comment(DisputeComment),
    Expired(usize),
}

/// A workflow rule refused the request; its audit row is written.
#[derive(Clone, Debug, PartialEq)]
pub struct Refusal {
    /// The problem code (names the rule).
    pub code: String,
    pub status: u16,
    pub detail: String,
    pub extensions: Map<String, Value>,
}

impl Refusal {
    pub fn new(code: &str, status: u16, detail: impl Into<String>) -> Refusal {
        Refusal { code: code.to_owned(), status, detail: detail.into(), extensions: Map::new() }
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Refusal {
        self.extensions.insert(key.to_owned(), value.into());
        self
    }
}

impl From<Refusal> for StoreError {
    fn from(r: Refusal) -> StoreError {
        StoreError::Refused(Box::new(r))
    }
}

// ---- rows ----

pub(crate) fn dec(s: &str) -> Result<Decimal> {
    Decimal::from_str(s).map_err(|_| StoreError::corrupt(format!("decimal {s}")))
}

fn opt_dec(s: Option<String>) -> Result<Option<Decimal>> {
    s.as_deref().map(dec).transpose()
}

pub(crate) const LIMITS_OF: Sql = Sql::same(
    "SELECT role, per_action, monthly, approve_up_to, updated_at, updated_by FROM role_limits WHERE role = ?1",
);
const ALL_LIMITS: Sql =
    Sql::same("SELECT role, per_action, monthly, approve_up_to, updated_at, updated_by FROM role_limits");

pub(crate) fn limits_from_row(r: &dyn Row) -> Result<RoleLimits> {
    Ok(RoleLimits {
        role: r.text(0)?,
        limits: Limits {
            per_action: opt_dec(r.opt_text(1)?)?,
            monthly: opt_dec(r.opt_text(2)?)?,
            approve_up_to: opt_dec(r.opt_text(3)?)?,
        },
        updated_at: time(r.i64(4)?)?,
        updated_by: r.text(5)?,
    })
}

/// Every role's limits, in [`ROLES`] order (a role without a row has none
/// to act alone: zeros).
pub(crate) fn role_limits<D: Db + ?Sized>(db: &mut D) -> Result<Vec<RoleLimits>> {
    let mut all = query_all(db, &ALL_LIMITS, &[], limits_from_row)?;
    all.sort_by_key(|r| ROLES.iter().position(|x| *x == r.role).unwrap_or(ROLES.len()));
    Ok(all)
}

pub(crate) const SPENT: Sql = Sql::same("SELECT spent FROM budget_spend WHERE actor = ?1 AND month = ?2");

/// What `actor` spent alone in the month of `now`.
pub(crate) fn spent<D: Db + ?Sized>(db: &mut D, actor: &str, now: DateTime<Utc>) -> Result<Decimal> {
    Ok(query_opt(db, &SPENT, &params![actor, month_key(now)], |r| dec(&r.text(0)?))?.unwrap_or_default())
}

pub(crate) const APPROVAL_COLUMNS: &str = "id, action, customer_id, credit_type_id, credits, value, currency, \
     exceeded, limit_value, exceeded_by, approver_roles, payload, reason_code, ticket_ref, note, dispute_id, \
     requested_by, requested_role, requested_at, expires_at, status, decided_by, decided_at, decision_note, result";

pub(crate) fn approval_from_row(r: &dyn Row, now: DateTime<Utc>) -> Result<Approval> {
    let status = r.text(20)?;
    let mut status = ApprovalStatus::parse(&status).ok_or_else(|| StoreError::corrupt(format!("status {status}")))?;
    let expires_at = time(r.i64(19)?)?;
    if status == ApprovalStatus::Pending && expires_at <= now {
        status = ApprovalStatus::Expired;
    }
    Ok(Approval {
        id: r.text(0)?,
        action: r.text(1)?,
        customer_id: r.text(2)?,
        credit_type_id: r.text(3)?,
        credits: dec(&r.text(4)?)?,
        value: dec(&r.text(5)?)?,
        currency: r.text(6)?,
        exceeded: Exceeded::parse(&r.text(7)?)?,
        limit: dec(&r.text(8)?)?,
        exceeded_by: dec(&r.text(9)?)?,
        approver_roles: serde_json::from_str(&r.text(10)?).map_err(StoreError::corrupt)?,
        payload: r.text(11)?,
        reason_code: r.text(12)?,
        ticket_ref: r.text(13)?,
        note: r.text(14)?,
        dispute_id: r.opt_text(15)?,
        requested_by: r.text(16)?,
        requested_role: r.text(17)?,
        requested_at: time(r.i64(18)?)?,
        expires_at,
        status,
        decided_by: r.opt_text(21)?,
        decided_at: opt_time(r.opt_i64(22)?)?,
        decision_note: r.opt_text(23)?,
        result: r.opt_text(24)?,
    })
}

/// The approval `id` (`lock`: `FOR UPDATE` on PostgreSQL).
pub(crate) fn approval<D: Db + ?Sized>(
    db: &mut D,
    id: &str,
    now: DateTime<Utc>,
    lock: bool,
) -> Result<Option<Approval>> {
    let mut sql = format!("SELECT {APPROVAL_COLUMNS} FROM approvals WHERE id = ?1");
    if lock && db.dialect() == crate::db::Dialect::Postgres {
        sql.push_str(" FOR UPDATE");
    }
    let mut out = None;
    db.query_text(&sql, &params![id], &mut |r| {
        out = Some(approval_from_row(r, now)?);
        Ok(())
    })?;
    Ok(out)
}

fn bad_cursor() -> StoreError {
    StoreError::Ledger(creditdesk_ledger::LedgerError::invalid("cursor", "is not a cursor this API issued"))
}

/// `(time, id)` cursors of the newest-first listings.
fn time_cursor(cursor: Option<&str>) -> Result<(i64, String)> {
    match cursor {
        None => Ok((i64::MAX, String::new())),
        Some(c) => {
            let (t, id) = c.split_once(':').ok_or_else(bad_cursor)?;
            Ok((t.parse().map_err(|_| bad_cursor())?, id.to_owned()))
        }
    }
}

/// Keeps `limit` items; the cursor of the last one if more followed.
fn page<T>(mut items: Vec<T>, limit: u32, cursor: impl Fn(&T) -> String) -> Page<T> {
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next_cursor = if more { items.last().map(cursor) } else { None };
    Page { items, next_cursor }
}

/// Pending means pending and not yet past its expiry; expired includes
/// pending rows past it (not yet swept).
pub(crate) fn approvals<D: Db + ?Sized>(
    db: &mut D,
    f: &ApprovalFilter,
    cursor: Option<&str>,
    limit: u32,
    now: DateTime<Utc>,
) -> Result<Page<Approval>> {
    let (t, id) = time_cursor(cursor)?;
    let mut sql = format!(
        "SELECT {APPROVAL_COLUMNS} FROM approvals WHERE (requested_at < ?1 OR (requested_at = ?1 AND id < ?2)) \
         AND (CAST(?3 AS TEXT) IS NULL OR requested_by = ?3) AND (CAST(?4 AS TEXT) IS NULL OR customer_id = ?4) \
         AND (CAST(?5 AS TEXT) IS NULL OR dispute_id = ?5)"
    );
    match f.status {
        None => {}
        Some(ApprovalStatus::Pending) => sql.push_str(" AND status = 'pending' AND expires_at > ?6"),
        Some(ApprovalStatus::Expired) => {
            sql.push_str(" AND (status = 'expired' OR (status = 'pending' AND expires_at <= ?6))")
        }
        Some(s) => sql.push_str(&format!(" AND status = '{}' AND CAST(?6 AS BIGINT) IS NOT NULL", s.as_str())),
    }
    if f.status.is_none() {
        sql.push_str(" AND CAST(?6 AS BIGINT) IS NOT NULL");
    }
    sql.push_str(" ORDER BY requested_at DESC, id DESC LIMIT ?7");
    let mut items = Vec::new();
    db.query_text(
        &sql,
        &params![
            t,
            id.as_str(),
            f.requested_by.as_deref(),
            f.customer.as_deref(),
            f.dispute.as_deref(),
            ts(now),
            i64::from(limit) + 1
        ],
        &mut |r| {
            items.push(approval_from_row(r, now)?);
            Ok(())
        },
    )?;
    Ok(page(items, limit, |a| format!("{}:{}", ts(a.requested_at), a.id)))
}

const AUDIT_COLUMNS: &str =
    "id, at, actor, role, action, target, customer_id, value, outcome, rule, request_id, detail";

const INSERT_AUDIT: Sql = Sql::same(
    "INSERT INTO audit_log (at, actor, role, action, target, customer_id, value, outcome, rule, request_id, detail) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
);

pub(crate) fn insert_audit<D: Db + ?Sized>(db: &mut D, a: &AuditEntry) -> Result<()> {
    db.execute(
        &INSERT_AUDIT,
        &params![
            ts(a.at),
            a.actor.as_str(),
            a.role.as_str(),
            a.action.as_str(),
            a.target.as_deref(),
            a.customer_id.as_deref(),
            a.value.as_deref(),
            a.outcome.as_str(),
            a.rule.as_deref(),
            a.request_id.as_deref(),
            a.detail.as_deref(),
        ],
    )?;
    Ok(())
}

/// Newest first, by id.
pub(crate) fn audit<D: Db + ?Sized>(
    db: &mut D,
    f: &AuditFilter,
    cursor: Option<&str>,
    limit: u32,
) -> Result<Page<AuditEntry>> {
    let before: i64 = match cursor {
        None => i64::MAX,
        Some(c) => c.parse().map_err(|_| bad_cursor())?,
    };
    let sql = format!(
        "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE id < ?1 \
         AND (CAST(?2 AS TEXT) IS NULL OR actor = ?2) AND (CAST(?3 AS TEXT) IS NULL OR customer_id = ?3) \
         AND (CAST(?4 AS TEXT) IS NULL OR action = ?4) AND at >= ?5 AND at < ?6 ORDER BY id DESC LIMIT ?7"
    );
    let mut items = Vec::new();
    db.query_text(
        &sql,
        &params![
            before,
            f.actor.as_deref(),
            f.customer.as_deref(),
            f.action.as_deref(),
            f.from.map_or(i64::MIN, ts),
            f.to.map_or(i64::MAX, ts),
            i64::from(limit) + 1
        ],
        &mut |r| {
            items.push(AuditEntry {
                id: r.i64(0)?,
                at: time(r.i64(1)?)?,
                actor: r.text(2)?,
                role: r.text(3)?,
                action: r.text(4)?,
                target: r.opt_text(5)?,
                customer_id: r.opt_text(6)?,
                value: r.opt_text(7)?,
                outcome: r.text(8)?,
                rule: r.opt_text(9)?,
                request_id: r.opt_text(10)?,
                detail: r.opt_text(11)?,
            });
            Ok(())
        },
    )?;
    Ok(page(items, limit, |a| a.id.to_string()))
}

pub(crate) const DISPUTE_COLUMNS: &str = "id, customer_id, credit_type_id, events, ticket_ref, description, claimed, \
     status, assignee, opened_by, opened_at, sla_due_at, updated_at, resolution, resolution_reason, resolved_by, \
     resolved_at, approval_id";

pub(crate) fn dispute_from_row(r: &dyn Row) -> Result<Dispute> {
    let status = r.text(7)?;
    Ok(Dispute {
        id: r.text(0)?,
        customer_id: r.text(1)?,
        credit_type_id: r.text(2)?,
        events: serde_json::from_str(&r.text(3)?).map_err(StoreError::corrupt)?,
        ticket_ref: r.text(4)?,
        description: r.text(5)?,
        claimed: opt_dec(r.opt_text(6)?)?,
        status: DisputeStatus::parse(&status).ok_or_else(|| StoreError::corrupt(format!("status {status}")))?,
        assignee: r.opt_text(8)?,
        opened_by: r.text(9)?,
        opened_at: time(r.i64(10)?)?,
        sla_due_at: time(r.i64(11)?)?,
        updated_at: time(r.i64(12)?)?,
        resolution: r.opt_text(13)?,
        resolution_reason: r.opt_text(14)?,
        resolved_by: r.opt_text(15)?,
        resolved_at: opt_time(r.opt_i64(16)?)?,
        approval_id: r.opt_text(17)?,
    })
}

pub(crate) fn dispute<D: Db + ?Sized>(db: &mut D, id: &str, lock: bool) -> Result<Option<Dispute>> {
    let mut sql = format!("SELECT {DISPUTE_COLUMNS} FROM disputes WHERE id = ?1");
    if lock && db.dialect() == crate::db::Dialect::Postgres {
        sql.push_str(" FOR UPDATE");
    }
    let mut out = None;
    db.query_text(&sql, &params![id], &mut |r| {
        out = Some(dispute_from_row(r)?);
        Ok(())
    })?;
    Ok(out)
}

/// Newest first.
pub(crate) fn disputes<D: Db + ?Sized>(
    db: &mut D,
    f: &DisputeFilter,
    cursor: Option<&str>,
    limit: u32,
    now: DateTime<Utc>,
) -> Result<Page<Dispute>> {
    let (t, id) = time_cursor(cursor)?;
    let mut sql = format!(
        "SELECT {DISPUTE_COLUMNS} FROM disputes WHERE (opened_at < ?1 OR (opened_at = ?1 AND id < ?2)) \
         AND (CAST(?3 AS TEXT) IS NULL OR status = ?3) AND (CAST(?4 AS TEXT) IS NULL OR assignee = ?4) \
         AND (CAST(?5 AS TEXT) IS NULL OR customer_id = ?5)"
    );
    match f.overdue {
        Some(true) => sql.push_str(" AND status IN ('open', 'investigating') AND sla_due_at <= ?6"),
        Some(false) => sql.push_str(" AND NOT (status IN ('open', 'investigating') AND sla_due_at <= ?6)"),
        None => sql.push_str(" AND CAST(?6 AS BIGINT) IS NOT NULL"),
    }
    sql.push_str(" ORDER BY opened_at DESC, id DESC LIMIT ?7");
    let mut items = Vec::new();
    db.query_text(
        &sql,
        &params![
            t,
            id.as_str(),
            f.status.map(DisputeStatus::as_str),
            f.assignee.as_deref(),
            f.customer.as_deref(),
            ts(now),
            i64::from(limit) + 1
        ],
        &mut |r| {
            items.push(dispute_from_row(r)?);
            Ok(())
        },
    )?;
    Ok(page(items, limit, |d| format!("{}:{}", ts(d.opened_at), d.id)))
}

/// How many of the customer's disputes are not closed
/// ([`DisputeStatus::is_closed`]): one count, for the customer summary.
pub(crate) fn open_disputes<D: Db + ?Sized>(db: &mut D, customer: &str) -> Result<u32> {
    let open: Vec<String> =
        DisputeStatus::ALL.into_iter().filter(|s| !s.is_closed()).map(|s| format!("'{}'", s.as_str())).collect();
    let sql = format!("SELECT COUNT(*) FROM disputes WHERE customer_id = ?1 AND status IN ({})", open.join(", "));
    let mut count = 0i64;
    db.query_text(&sql, &params![customer], &mut |r| {
        count = r.i64(0)?;
        Ok(())
    })?;
    u32::try_from(count).map_err(|_| StoreError::corrupt(format!("{count} open disputes")))
}

const COMMENTS: Sql =
    Sql::same("SELECT id, dispute_id, at, author, body FROM dispute_comments WHERE dispute_id = ?1 ORDER BY id");

pub(crate) fn comment_from_row(r: &dyn Row) -> Result<DisputeComment> {
    Ok(DisputeComment {
        id: r.i64(0)?,
        dispute_id: r.text(1)?,
        at: time(r.i64(2)?)?,
        author: r.text(3)?,
        body: r.text(4)?,
    })
}

pub(crate) fn comments<D: Db + ?Sized>(db: &mut D, id: &str) -> Result<Vec<DisputeComment>> {
    query_all(db, &COMMENTS, &params![id], comment_from_row)
}

/// Reads of the workflow tables, the same on every backend.
macro_rules! workflow_api {
    ($store:ident) => {
        impl $store {
            /// Applies a workflow write in the write path (see [`crate::workflow`]).
            pub async fn workflow(
                &self,
                op: $crate::workflow::WorkflowOp,
                idem: Option<$crate::Idem<$crate::workflow::WorkflowOut>>,
            ) -> $crate::Result<$crate::Idempotent<$crate::workflow::WorkflowOut>> {
                self.send(|reply| $crate::shared::write::Command::Workflow { op: Box::new(op), idem, reply }).await
            }

            /// The wallet (customer, credit type) of a grant.
            pub async fn grant_wallet(
                &self,
                id: creditdesk_ledger::ids::GrantId,
            ) -> $crate::Result<Option<(creditdesk_ledger::ids::CustomerId, creditdesk_ledger::ids::CreditTypeId)>>
            {
                self.read(move |db| $crate::shared::load::wallet_of_grant(db, &id)).await
            }

            pub async fn role_limits(&self) -> $crate::Result<Vec<$crate::workflow::RoleLimits>> {
                self.read(|db| $crate::workflow::role_limits(db)).await
            }

            /// What `actor` executed alone this month (money).
            pub async fn spent_this_month(&self, actor: String) -> $crate::Result<rust_decimal::Decimal> {
                let now = self.now();
                self.read(move |db| $crate::workflow::spent(db, &actor, now)).await
            }

            pub async fn approval(&self, id: String) -> $crate::Result<Option<$crate::workflow::Approval>> {
                let now = self.now();
                self.read(move |db| $crate::workflow::approval(db, &id, now, false)).await
            }

            pub async fn approvals(
                &self,
                filter: $crate::workflow::ApprovalFilter,
                cursor: Option<String>,
                limit: u32,
            ) -> $crate::Result<$crate::Page<$crate::workflow::Approval>> {
                let now = self.now();
                self.read(move |db| $crate::workflow::approvals(db, &filter, cursor.as_deref(), limit, now)).await
            }

            pub async fn audit(
                &self,
                filter: $crate::workflow::AuditFilter,
                cursor: Option<String>,
                limit: u32,
            ) -> $crate::Result<$crate::Page<$crate::workflow::AuditEntry>> {
                self.read(move |db| $crate::workflow::audit(db, &filter, cursor.as_deref(), limit)).await
            }

            pub async fn dispute(
                &self,
                id: String,
            ) -> $crate::Result<Option<($crate::workflow::Dispute, Vec<$crate::workflow::DisputeComment>)>> {
                self.read(move |db| match $crate::workflow::dispute(db, &id, false)? {
                    Some(d) => Ok(Some((d, $crate::workflow::comments(db, &id)?))),
                    None => Ok(None),
                })
                .await
            }

            pub async fn open_disputes(&self, customer: String) -> $crate::Result<u32> {
                self.read(move |db| $crate::workflow::open_disputes(db, &customer)).await
            }

            pub async fn disputes(
                &self,
                filter: $crate::workflow::DisputeFilter,
                cursor: Option<String>,
                limit: u32,
            ) -> $crate::Result<$crate::Page<$crate::workflow::Dispute>> {
                let now = self.now();
                self.read(move |db| $crate::workflow::disputes(db, &filter, cursor.as_deref(), limit, now)).await
            }
        }
    };
}
pub(crate) use workflow_api;

/// The same call on whichever backend the store is.
macro_rules! each {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            crate::Store::Sqlite($s) => $e,
            crate::Store::Postgres($s) => $e,
        }
    };
}

impl crate::Store {
    pub async fn workflow(
        &self,
        op: WorkflowOp,
        idem: Option<crate::Idem<WorkflowOut>>,
    ) -> Result<crate::Idempotent<WorkflowOut>> {
        each!(self, s => s.workflow(op, idem).await)
    }

    pub async fn grant_wallet(&self, id: GrantId) -> Result<Option<(CustomerId, CreditTypeId)>> {
        each!(self, s => s.grant_wallet(id).await)
    }

    pub async fn role_limits(&self) -> Result<Vec<RoleLimits>> {
        each!(self, s => s.role_limits().await)
    }

    pub async fn spent_this_month(&self, actor: String) -> Result<Decimal> {
        each!(self, s => s.spent_this_month(actor).await)
    }

    pub async fn approval(&self, id: String) -> Result<Option<Approval>> {
        each!(self, s => s.approval(id).await)
    }

    pub async fn approvals(
        &self,
        filter: ApprovalFilter,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Page<Approval>> {
        each!(self, s => s.approvals(filter, cursor, limit).await)
    }

    pub async fn audit(&self, filter: AuditFilter, cursor: Option<String>, limit: u32) -> Result<Page<AuditEntry>> {
        each!(self, s => s.audit(filter, cursor, limit).await)
    }

    pub async fn dispute(&self, id: String) -> Result<Option<(Dispute, Vec<DisputeComment>)>> {
        each!(self, s => s.dispute(id).await)
    }

    /// The customer's disputes not closed (open, investigating, awaiting approval).
    pub async fn open_disputes(&self, customer: String) -> Result<u32> {
        each!(self, s => s.open_disputes(customer).await)
    }

    pub async fn disputes(&self, filter: DisputeFilter, cursor: Option<String>, limit: u32) -> Result<Page<Dispute>> {
        each!(self, s => s.disputes(filter, cursor, limit).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(p: Option<i64>, m: Option<i64>) -> Limits {
        Limits { per_action: p.map(Decimal::from), monthly: m.map(Decimal::from), approve_up_to: None }
    }

    #[test]
    fn the_limit_rule() {
        let agent = limits(Some(50), Some(500));
        assert_eq!(breach(&agent, Decimal::from(50), Decimal::from(450)), None);
        let b = breach(&agent, Decimal::from(80), Decimal::ZERO).unwrap();
        assert_eq!((b.exceeded, b.limit, b.exceeded_by), (Exceeded::PerAction, Decimal::from(50), Decimal::from(30)));
        let b = breach(&agent, Decimal::from(50), Decimal::from(480)).unwrap();
        assert_eq!((b.exceeded, b.limit, b.exceeded_by), (Exceeded::Monthly, Decimal::from(20), Decimal::from(30)));
        let manager = limits(Some(0), Some(0));
        assert_eq!(breach(&manager, Decimal::ZERO, Decimal::ZERO).unwrap().exceeded, Exceeded::PerAction);
        assert_eq!(breach(&limits(None, None), Decimal::from(1_000_000), Decimal::from(9)), None);
        let lead = Limits { approve_up_to: Some(Decimal::from(500)), ..Limits::default() };
        assert!(lead.may_approve(Decimal::from(500)) && !lead.may_approve(Decimal::new(50001, 2)));
        assert!(!Limits { approve_up_to: Some(Decimal::ZERO), ..Limits::default() }.may_approve(Decimal::ZERO));
    }

    #[test]
    fn months() {
        let t = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 12, 31, 23, 59, 59).unwrap();
        assert_eq!(month_key(t), 202612);
    }
}
