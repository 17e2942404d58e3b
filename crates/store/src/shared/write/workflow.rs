//! The workflow writes ([`crate::workflow`]) inside the write path's
//! transaction: a money-moving action is decided against the actor's
//! limits and booked (or filed for approval) in the same transaction that
//! raises their monthly spend; an approval moves out of `pending` and
//! executes in one. Each op writes its audit row there too, refusals
//! included (a refusal wrote nothing else, so the row commits alone).

use std::collections::BTreeSet;

use creditdesk_ledger::entry::EntryKind;
use creditdesk_ledger::error::LedgerError;
use creditdesk_ledger::grant::NewGrant;
use creditdesk_ledger::ids::{EventId, GrantId};
use rust_decimal::Decimal;
use serde_json::json;

use super::{Group, Writer};
use crate::codec::ts;
use crate::db::{params, query_opt, Db, Sql, WalletKey};
use crate::error::{Result, StoreError};
use crate::shared::load::wallet_of_grant;
use crate::shared::rows::{entries_of_event, find_event};
use crate::workflow::*;

const CLAIM_BUDGET: Sql = Sql::same(
    "INSERT INTO budget_spend (actor, month, spent) VALUES (?1, ?2, '0') ON CONFLICT (actor, month) DO NOTHING",
);
const LOCK_BUDGET: Sql = Sql::each(
    "SELECT spent FROM budget_spend WHERE actor = ?1 AND month = ?2",
    "SELECT spent FROM budget_spend WHERE actor = ?1 AND month = ?2 FOR UPDATE",
);
const SET_BUDGET: Sql = Sql::same("UPDATE budget_spend SET spent = ?3 WHERE actor = ?1 AND month = ?2");
const SET_LIMITS: Sql = Sql::same(
    "INSERT INTO role_limits (role, per_action, monthly, approve_up_to, updated_at, updated_by) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (role) DO UPDATE SET per_action = excluded.per_action, \
     monthly = excluded.monthly, approve_up_to = excluded.approve_up_to, updated_at = excluded.updated_at, \
     updated_by = excluded.updated_by",
);
const INSERT_APPROVAL: Sql = Sql::same(
    "INSERT INTO approvals (id, action, customer_id, credit_type_id, credits, value, currency, exceeded, \
     limit_value, exceeded_by, approver_roles, payload, reason_code, ticket_ref, note, dispute_id, requested_by, \
     requested_role, requested_at, expires_at, status) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, 'pending')",
);
/// The transition every decision makes, once: only from `pending`.
const DECIDE: Sql = Sql::same(
    "UPDATE approvals SET status = ?2, decided_by = ?3, decided_at = ?4, decision_note = ?5 \
     WHERE id = ?1 AND status = 'pending'",
);
const FAIL: Sql = Sql::same("UPDATE approvals SET status = 'failed', decision_note = ?2 WHERE id = ?1");
const RESULT: Sql = Sql::same("UPDATE approvals SET result = ?2 WHERE id = ?1");
const EXPIRE_ONE: Sql =
    Sql::same("UPDATE approvals SET status = 'expired' WHERE id = ?1 AND status = 'pending' AND expires_at <= ?2");
const EXPIRE_ALL: Sql =
    Sql::same("UPDATE approvals SET status = 'expired' WHERE status = 'pending' AND expires_at <= ?1");
const REOPEN_EXPIRED: Sql = Sql::same(
    "UPDATE disputes SET status = 'investigating', updated_at = ?1 WHERE status = 'awaiting_approval' \
     AND approval_id IN (SELECT id FROM approvals WHERE status = 'expired')",
);
const INSERT_DISPUTE: Sql = Sql::same(
    "INSERT INTO disputes (id, customer_id, credit_type_id, events, ticket_ref, description, claimed, status, \
     assignee, opened_by, opened_at, sla_due_at, updated_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'open', ?8, ?9, ?10, ?11, ?10)",
);
const DISPUTE_STATUS: Sql = Sql::same(
    "UPDATE disputes SET status = ?2, updated_at = ?3, approval_id = COALESCE(?4, approval_id) WHERE id = ?1",
);
const DISPUTE_ASSIGN: Sql =
    Sql::same("UPDATE disputes SET assignee = ?2, status = 'investigating', updated_at = ?3 WHERE id = ?1");
const DISPUTE_CLOSE: Sql = Sql::same(
    "UPDATE disputes SET status = ?2, updated_at = ?3, resolution = ?4, resolution_reason = ?5, resolved_by = ?6, \
     resolved_at = ?3 WHERE id = ?1",
);
const INSERT_COMMENT: Sql =
    Sql::same("INSERT INTO dispute_comments (dispute_id, at, author, body) VALUES (?1, ?2, ?3, ?4)");
const LAST_COMMENT: Sql = Sql::same(
    "SELECT id, dispute_id, at, author, body FROM dispute_comments WHERE dispute_id = ?1 ORDER BY id DESC LIMIT 1",
);

/// Closes a dispute (`resolved` or `rejected`) with its outcome and reason.
fn close_dispute<D: Db + ?Sized>(
    db: &mut D,
    id: &str,
    status: DisputeStatus,
    now: chrono::DateTime<chrono::Utc>,
    outcome: &str,
    reason: &str,
    by: &str,
) -> Result<()> {
    db.execute(&DISPUTE_CLOSE, &params![id, status.as_str(), ts(now), outcome, reason, by])?;
    Ok(())
}

/// The problem code of a refusal: the rule that decided.
pub(crate) fn rule_of(e: &StoreError) -> String {
    match e {
        StoreError::Ledger(l) => l.code().to_owned(),
        StoreError::Refused(r) => r.code.clone(),
        StoreError::IdempotencyConflict { .. } => "idempotency_conflict".to_owned(),
        _ => "internal".to_owned(),
    }
}

fn money(v: Decimal, currency: &str) -> String {
    format!("{} {currency}", v.normalize())
}

/// The audit row of an op, before its outcome is known.
fn base(actor: &Actor, action: &str, target: Option<&str>, request_id: &Option<String>) -> AuditEntry {
    AuditEntry {
        id: 0,
        at: chrono::DateTime::UNIX_EPOCH,
        actor: actor.id.clone(),
        role: actor.role.clone(),
        action: action.to_owned(),
        target: target.map(str::to_owned),
        customer_id: None,
        value: None,
        outcome: String::new(),
        rule: None,
        request_id: request_id.clone(),
        detail: None,
    }
}

fn not_found(what: &'static str, id: &str) -> StoreError {
    LedgerError::NotFound { what, id: id.to_owned() }.into()
}

fn approval_roles<D: Db + ?Sized>(db: &mut D, value: Decimal) -> Result<Vec<String>> {
    Ok(role_limits(db)?
        .into_iter()
        .filter(|r| r.role != "viewer" && r.limits.may_approve(value))
        .map(|r| r.role)
        .collect())
}

fn limits_of<D: Db + ?Sized>(db: &mut D, role: &str) -> Result<Limits> {
    Ok(query_opt(db, &LIMITS_OF, &params![role], limits_from_row)?.map_or_else(Limits::zero, |r| r.limits))
}

impl Writer {
    /// The wallets a workflow op will book in (the lock phase).
    pub(super) fn plan_workflow<D: Db + ?Sized>(
        &mut self,
        db: &mut D,
        g: &mut Group,
        op: &WorkflowOp,
        keys: &mut BTreeSet<WalletKey>,
    ) -> Result<()> {
        let action = match op {
            WorkflowOp::Act(a) => Some(&a.execute),
            WorkflowOp::Decide(d) => match &d.decision {
                Decision::Approve(a) => a.as_ref(),
                _ => None,
            },
            _ => None,
        };
        match action {
            Some(MoneyAction::Grant(grant))
                if g.catalog.credit_type(&grant.credit_type).is_ok()
                    && self.known_customer(db, g, &grant.customer)? =>
            {
                keys.insert((grant.customer.clone(), grant.credit_type.clone()));
            }
            Some(MoneyAction::Reverse { events, .. }) => {
                for e in events {
                    if let Some(s) = find_event(db, e)? {
                        keys.insert((s.event.customer, s.credit_type));
                    }
                }
            }
            Some(MoneyAction::Extend { grant, .. }) => keys.extend(wallet_of_grant(db, grant)?),
            _ => {}
        }
        Ok(())
    }

    /// Applies `op`, writing its audit row whatever the outcome (a failure
    /// rolls the row back with everything else).
    pub(super) fn workflow<D: Db + ?Sized>(
        &mut self,
        db: &mut D,
        g: &mut Group,
        op: &WorkflowOp,
    ) -> Result<WorkflowOut> {
        let now = g.now;
        let (mut row, result) = match op {
            WorkflowOp::Audit(rows) => {
                for r in rows {
                    insert_audit(db, r)?;
                }
                return Ok(WorkflowOut::Audited);
            }
            WorkflowOp::ExpireApprovals => {
                let n = db.execute(&EXPIRE_ALL, &params![ts(now)])?;
                db.execute(&REOPEN_EXPIRED, &params![ts(now)])?;
                return Ok(WorkflowOut::Expired(n as usize));
            }
            WorkflowOp::Act(a) => {
                let mut row = base(&a.actor, &a.action, a.dispute.as_deref(), &a.request_id);
                row.customer_id = Some(a.customer.to_string());
                row.value = Some(money(a.value, &a.currency));
                let r = self.act(db, g, a).map(WorkflowOut::Acted);
                (row, r)
            }
            WorkflowOp::Decide(d) => {
                let mut row = base(&d.actor, d.decision.name(), Some(&d.id), &d.request_id);
                // Known before the decision, so a refusal's row names them too.
                if let Some(a) = approval(db, &d.id, now, false)? {
                    row.customer_id = Some(a.customer_id);
                    row.value = Some(money(a.value, &a.currency));
                }
                let r = self.decide(db, g, d).map(|x| WorkflowOut::Decided(Box::new(x)));
                (row, r)
            }
            WorkflowOp::SetLimits { role, limits, actor, request_id } => {
                let mut row = base(actor, "limits.set", Some(role), request_id);
                let show = |v: Option<Decimal>| v.map_or_else(|| "unlimited".to_owned(), |d| d.normalize().to_string());
                row.detail = Some(format!(
                    "per_action={} monthly={} approve_up_to={}",
                    show(limits.per_action),
                    show(limits.monthly),
                    show(limits.approve_up_to)
                ));
                let stored = RoleLimits {
                    role: role.clone(),
                    limits: limits.clone(),
                    updated_at: now,
                    updated_by: actor.id.clone(),
                };
                let text = |v: Option<Decimal>| v.map(|d| d.normalize().to_string());
                let r = db
                    .execute(
                        &SET_LIMITS,
                        &params![
                            role.as_str(),
                            text(limits.per_action).as_ref(),
                            text(limits.monthly).as_ref(),
                            text(limits.approve_up_to).as_ref(),
                            ts(now),
                            actor.id.as_str()
                        ],
                    )
                    .map(|_| WorkflowOut::Limits(stored));
                (row, r)
            }
            WorkflowOp::OpenDispute { dispute, actor, request_id } => {
                let mut row = base(actor, "dispute.open", Some(&dispute.id), request_id);
                row.customer_id = Some(dispute.customer_id.clone());
                let r = self.open_dispute(db, g, dispute).map(|d| WorkflowOut::Dispute(Box::new(d)));
                (row, r)
            }
            WorkflowOp::AssignDispute { id, assignee, actor, request_id } => {
                let mut row = base(actor, "dispute.assign", Some(id), request_id);
                row.customer_id = dispute(db, id, false)?.map(|d| d.customer_id);
                row.detail = Some(format!("assignee={assignee}"));
                let r = self.active_dispute(db, id).and_then(|_| {
                    db.execute(&DISPUTE_ASSIGN, &params![id.as_str(), assignee.as_str(), ts(now)])?;
                    self.reload_dispute(db, id)
                });
                (row, r)
            }
            WorkflowOp::CommentDispute { id, body, actor, request_id } => {
                let mut row = base(actor, "dispute.comment", Some(id), request_id);
                row.customer_id = dispute(db, id, false)?.map(|d| d.customer_id);
                let r = self.comment(db, g, id, body, actor);
                (row, r)
            }
            WorkflowOp::DismissDispute { id, reason, actor, request_id } => {
                let mut row = base(actor, "dispute.resolve", Some(id), request_id);
                row.customer_id = dispute(db, id, false)?.map(|d| d.customer_id);
                row.detail = Some(format!("no_action: {reason}"));
                let r = self.active_dispute(db, id).and_then(|_| {
                    close_dispute(
                        db,
                        id.as_str(),
                        DisputeStatus::Rejected,
                        now,
                        "no_action",
                        reason.as_str(),
                        actor.id.as_str(),
                    )?;
                    self.reload_dispute(db, id)
                });
                (row, r)
            }
        };
        row.at = now;
        match &result {
            Ok(out) => {
                row.outcome = match out {
                    WorkflowOut::Acted(ActOutcome::Executed(_)) => "executed",
                    WorkflowOut::Acted(ActOutcome::Requested(a)) => {
                        row.rule = Some(format!("limit.{}", a.exceeded.as_str()));
                        row.detail = Some(format!(
                            "approval {} filed: exceeds the {} limit ({}) by {}",
                            a.id,
                            a.exceeded.as_str(),
                            money(a.limit, &a.currency),
                            money(a.exceeded_by, &a.currency)
                        ));
                        "approval_requested"
                    }
                    WorkflowOut::Decided(d) => d.approval.status.as_str(),
                    _ => "ok",
                }
                .to_owned();
                if row.rule.is_none() && matches!(op, WorkflowOp::Act(_)) {
                    row.rule = Some("limit.within".to_owned());
                }
            }
            Err(e) if !e.is_failure() => {
                row.outcome = "refused".to_owned();
                row.rule = Some(rule_of(e));
                row.detail = Some(e.to_string());
            }
            Err(_) => return result,
        }
        insert_audit(db, &row)?;
        result
    }

    fn act<D: Db + ?Sized>(&mut self, db: &mut D, g: &mut Group, a: &ActRequest) -> Result<ActOutcome> {
        let now = g.now;
        if a.actor.role == "viewer" {
            return Err(Refusal::new("insufficient_permission", 403, "role viewer is read-only").into());
        }
        if !self.known_customer(db, g, &a.customer)? {
            return Err(LedgerError::invalid("customer_id", "is not a known customer").into());
        }
        if let Some(id) = &a.dispute {
            self.active_dispute(db, id)?;
        }
        match &a.execute {
            MoneyAction::Grant(grant) => {
                if wallet_of_grant(db, &grant.id)?.is_some() {
                    return Err(LedgerError::AlreadyExists { what: "grant", id: grant.id.to_string() }.into());
                }
            }
            MoneyAction::Reverse { events, .. } => {
                for e in events {
                    self.check_reversible(db, g, e)?;
                }
            }
            MoneyAction::Extend { grant, .. } => {
                self.check_extendable(db, g, grant)?;
            }
        }
        let limits = limits_of(db, &a.actor.role)?;
        let month = month_key(now);
        db.execute(&CLAIM_BUDGET, &params![a.actor.id.as_str(), month])?;
        let spent = query_opt(db, &LOCK_BUDGET, &params![a.actor.id.as_str(), month], |r| dec(&r.text(0)?))?
            .unwrap_or_default();
        match breach(&limits, a.value, spent) {
            None => {
                let executed = self.execute(db, g, &a.execute)?;
                let total = (spent + a.value).normalize().to_string();
                db.execute(&SET_BUDGET, &params![a.actor.id.as_str(), month, total.as_str()])?;
                if let Some(id) = &a.dispute {
                    close_dispute(
                        db,
                        id.as_str(),
                        DisputeStatus::Resolved,
                        now,
                        a.action.as_str(),
                        a.note.as_str(),
                        a.actor.id.as_str(),
                    )?;
                }
                Ok(ActOutcome::Executed(executed))
            }
            Some(b) => {
                let approval = Approval {
                    id: a.approval_id.clone(),
                    action: a.action.clone(),
                    customer_id: a.customer.to_string(),
                    credit_type_id: a.credit_type.to_string(),
                    credits: a.credits,
                    value: a.value,
                    currency: a.currency.clone(),
                    exceeded: b.exceeded,
                    limit: b.limit,
                    exceeded_by: b.exceeded_by,
                    approver_roles: approval_roles(db, a.value)?,
                    payload: a.payload.clone(),
                    reason_code: a.reason_code.clone(),
                    ticket_ref: a.ticket_ref.clone(),
                    note: a.note.clone(),
                    dispute_id: a.dispute.clone(),
                    requested_by: a.actor.id.clone(),
                    requested_role: a.actor.role.clone(),
                    requested_at: now,
                    expires_at: now + APPROVAL_LIFETIME,
                    status: ApprovalStatus::Pending,
                    decided_by: None,
                    decided_at: None,
                    decision_note: None,
                    result: None,
                };
                let d = |v: Decimal| v.normalize().to_string();
                let roles = serde_json::to_string(&approval.approver_roles).map_err(StoreError::corrupt)?;
                let (credits, value, limit, by) = (d(a.credits), d(a.value), d(b.limit), d(b.exceeded_by));
                db.execute(
                    &INSERT_APPROVAL,
                    &params![
                        approval.id.as_str(),
                        approval.action.as_str(),
                        approval.customer_id.as_str(),
                        approval.credit_type_id.as_str(),
                        credits.as_str(),
                        value.as_str(),
                        approval.currency.as_str(),
                        b.exceeded.as_str(),
                        limit.as_str(),
                        by.as_str(),
                        roles.as_str(),
                        approval.payload.as_str(),
                        approval.reason_code.as_str(),
                        approval.ticket_ref.as_str(),
                        approval.note.as_str(),
                        approval.dispute_id.as_deref(),
                        approval.requested_by.as_str(),
                        approval.requested_role.as_str(),
                        ts(now),
                        ts(approval.expires_at),
                    ],
                )?;
                if let Some(id) = &a.dispute {
                    db.execute(
                        &DISPUTE_STATUS,
                        &params![id.as_str(), DisputeStatus::AwaitingApproval.as_str(), ts(now), approval.id.as_str()],
                    )?;
                }
                Ok(ActOutcome::Requested(Box::new(approval)))
            }
        }
    }

    /// Refuses before anything is booked what a reversal would refuse
    /// halfway through a list of events.
    fn check_reversible<D: Db + ?Sized>(&mut self, db: &mut D, g: &mut Group, event: &EventId) -> Result<()> {
        let stored = find_event(db, event)?.ok_or_else(|| not_found("event", event.as_str()))?;
        self.flush_rows(db, g)?;
        let linked = entries_of_event(db, &stored)?;
        let mine: Vec<_> = linked.iter().filter(|e| e.event.as_ref() == Some(event)).collect();
        if mine.iter().any(|e| matches!(e.kind, EntryKind::Reversal | EntryKind::Grant)) {
            return Err(LedgerError::AlreadyReversed { event: event.to_string() }.into());
        }
        let usage: Vec<_> = mine.iter().filter(|e| matches!(e.kind, EntryKind::Burn | EntryKind::Overage)).collect();
        if usage.is_empty() {
            return Err(LedgerError::NothingToReverse { event: event.to_string() }.into());
        }
        if usage.iter().any(|e| e.booked_at > g.now) {
            return Err(LedgerError::invalid(
                "events",
                "has not happened yet; it can be reversed from its event time on",
            )
            .into());
        }
        Ok(())
    }

    fn execute<D: Db + ?Sized>(&mut self, db: &mut D, g: &mut Group, action: &MoneyAction) -> Result<Executed> {
        match action {
            MoneyAction::Grant(grant) => Ok(Executed { entries: self.grant(db, g, grant)?, reversals: Vec::new() }),
            MoneyAction::Reverse { events, by } => {
                for e in events {
                    self.check_reversible(db, g, e)?;
                }
                let mut reversals = Vec::with_capacity(events.len());
                for (i, e) in events.iter().enumerate() {
                    match self.reverse(db, g, e, by) {
                        Ok(r) => reversals.push((e.clone(), r)),
                        // The first is refused before anything is booked;
                        // a later one would leave half a resolution.
                        Err(err) if i == 0 || err.is_failure() => return Err(err),
                        Err(err) => {
                            return Err(StoreError::corrupt(format!("reversal refused after its check: {err}")))
                        }
                    }
                }
                Ok(Executed { entries: Vec::new(), reversals })
            }
            MoneyAction::Extend { grant, new, by } => {
                let key = self.check_extendable(db, g, grant)?;
                let from = g.entries.len();
                let moved = self.void(db, g, grant, by)?;
                if moved.is_zero() {
                    // Settlement took the rest since the check: nothing to
                    // book again, and the void must not stand alone.
                    return Err(StoreError::corrupt(format!("grant {grant} emptied while being extended")));
                }
                let new = NewGrant { amount: moved.get(), ..(**new).clone() };
                match self.grant(db, g, &new) {
                    Ok(_) => {}
                    Err(e) if e.is_failure() => return Err(e),
                    Err(e) => {
                        return Err(StoreError::corrupt(format!("extension of {grant} refused after its void: {e}")))
                    }
                }
                let entries = g.entries[from..]
                    .iter()
                    .filter(|e| (e.customer.clone(), e.credit_type.clone()) == key)
                    .cloned()
                    .collect();
                Ok(Executed { entries, reversals: Vec::new() })
            }
        }
    }

    /// Refuses what an extension would refuse halfway: the grant must be
    /// live now (effective, not expired, not voided) with credits left.
    fn check_extendable<D: Db + ?Sized>(&mut self, db: &mut D, g: &mut Group, grant: &GrantId) -> Result<WalletKey> {
        let key = wallet_of_grant(db, grant)?.ok_or_else(|| not_found("grant", grant.as_str()))?;
        let now = g.now;
        let (wallet, _) = self.take(db, g, &key, creditdesk_ledger::entry::Attribution::system())?;
        let s = wallet.grant(grant).ok_or_else(|| not_found("grant", grant.as_str()))?;
        let refuse =
            |rule: &'static str| -> StoreError { LedgerError::GrantState { grant: grant.to_string(), rule }.into() };
        if s.voided_at.is_some() {
            return Err(refuse("is voided; nothing is left to extend"));
        }
        if s.grant.is_expired_at(now) {
            return Err(refuse("has expired; nothing is left to extend"));
        }
        if s.grant.effective_at > now {
            return Err(refuse("is not effective yet; change it when it is"));
        }
        if s.totals.remaining().is_zero() {
            return Err(refuse("has nothing left to extend"));
        }
        Ok(key)
    }

    fn decide<D: Db + ?Sized>(&mut self, db: &mut D, g: &mut Group, d: &DecideRequest) -> Result<Decided> {
        let now = g.now;
        let a = approval(db, &d.id, now, true)?.ok_or_else(|| not_found("approval", &d.id))?;
        if a.status == ApprovalStatus::Expired {
            // Past its expiry but not yet swept: sweep it now.
            if db.execute(&EXPIRE_ONE, &params![d.id.as_str(), ts(now)])? == 1 {
                db.execute(&REOPEN_EXPIRED, &params![ts(now)])?;
            }
            return Err(Refusal::new(
                "approval_expired",
                409,
                format!("approval {} expired at {}; file the action again", a.id, a.expires_at.to_rfc3339()),
            )
            .with("approval_status", "expired")
            .into());
        }
        if a.status != ApprovalStatus::Pending {
            return Err(Refusal::new(
                "approval_not_pending",
                409,
                format!("approval {} is already {}; a request is decided once", a.id, a.status.as_str()),
            )
            .with("approval_status", a.status.as_str())
            .into());
        }
        if matches!(d.decision, Decision::Approve(None)) {
            return Err(StoreError::corrupt(format!("approval {} is pending but came without its action", a.id)));
        }
        let (status, note) = match &d.decision {
            Decision::Cancel { reason } => {
                if d.actor.id != a.requested_by {
                    return Err(Refusal::new(
                        "not_requester",
                        403,
                        format!("only the requester ({}) may cancel approval {}", a.requested_by, a.id),
                    )
                    .into());
                }
                (ApprovalStatus::Cancelled, reason.clone())
            }
            Decision::Approve(_) | Decision::Reject { .. } => {
                if d.actor.id == a.requested_by {
                    return Err(Refusal::new(
                        "self_approval_forbidden",
                        403,
                        format!(
                            "approval {} was requested by you; another user must decide it (cancel it instead)",
                            a.id
                        ),
                    )
                    .into());
                }
                let limits = limits_of(db, &d.actor.role)?;
                if d.actor.role == "viewer" || !limits.may_approve(a.value) {
                    let up_to = limits.approve_up_to.map_or_else(|| "unlimited".to_owned(), |v| money(v, &a.currency));
                    return Err(Refusal::new(
                        "approve_limit_exceeded",
                        403,
                        format!(
                            "role {} may approve up to {up_to}; approval {} is worth {}",
                            d.actor.role,
                            a.id,
                            money(a.value, &a.currency)
                        ),
                    )
                    .with("approve_up_to", up_to)
                    .with("value", money(a.value, &a.currency))
                    .with("approver_roles", a.approver_roles.clone())
                    .into());
                }
                match &d.decision {
                    Decision::Reject { reason } => (ApprovalStatus::Rejected, Some(reason.clone())),
                    _ => (ApprovalStatus::Approved, None),
                }
            }
        };
        let moved = db.execute(
            &DECIDE,
            &params![d.id.as_str(), status.as_str(), d.actor.id.as_str(), ts(now), note.as_deref()],
        )?;
        if moved != 1 {
            return Err(
                Refusal::new("approval_not_pending", 409, format!("approval {} was decided meanwhile", a.id)).into()
            );
        }
        let mut executed = None;
        if let Decision::Approve(Some(action)) = &d.decision {
            match self.execute(db, g, action) {
                Ok(ex) => {
                    let result = json!({
                        "entries": ex.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
                        "reversed_events": ex.reversals.iter().map(|(e, _)| e.as_str()).collect::<Vec<_>>(),
                    });
                    db.execute(&RESULT, &params![d.id.as_str(), result.to_string().as_str()])?;
                    if let Some(id) = &a.dispute_id {
                        close_dispute(
                            db,
                            id.as_str(),
                            DisputeStatus::Resolved,
                            now,
                            a.action.as_str(),
                            a.note.as_str(),
                            d.actor.id.as_str(),
                        )?;
                    }
                    executed = Some(ex);
                }
                Err(e) if !e.is_failure() => {
                    db.execute(&FAIL, &params![d.id.as_str(), e.to_string().as_str()])?;
                    self.reopen_dispute(db, &a, now)?;
                    return Err(e);
                }
                Err(e) => return Err(e),
            }
        } else {
            self.reopen_dispute(db, &a, now)?;
        }
        let approval = approval_after(db, &d.id, now)?;
        Ok(Decided { approval, executed })
    }

    /// A dispute whose request ended without executing is worked on again.
    fn reopen_dispute<D: Db + ?Sized>(
        &self,
        db: &mut D,
        a: &Approval,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        if let Some(id) = &a.dispute_id {
            db.execute(
                &DISPUTE_STATUS,
                &params![id.as_str(), DisputeStatus::Investigating.as_str(), ts(now), None::<&str>],
            )?;
        }
        Ok(())
    }

    fn active_dispute<D: Db + ?Sized>(&self, db: &mut D, id: &str) -> Result<Dispute> {
        let d = dispute(db, id, true)?.ok_or_else(|| not_found("dispute", id))?;
        if !d.status.is_active() {
            return Err(Refusal::new(
                "dispute_state_conflict",
                409,
                format!(
                    "dispute {id} is {}; only open or investigating disputes can be assigned or resolved",
                    d.status.as_str()
                ),
            )
            .with("dispute_status", d.status.as_str())
            .into());
        }
        Ok(d)
    }

    fn reload_dispute<D: Db + ?Sized>(&self, db: &mut D, id: &str) -> Result<WorkflowOut> {
        let d = dispute(db, id, false)?.ok_or_else(|| StoreError::corrupt(format!("dispute {id} vanished")))?;
        Ok(WorkflowOut::Dispute(Box::new(d)))
    }

    fn open_dispute<D: Db + ?Sized>(&mut self, db: &mut D, g: &mut Group, d: &Dispute) -> Result<Dispute> {
        let customer = creditdesk_ledger::ids::CustomerId::new(&d.customer_id)?;
        if !self.known_customer(db, g, &customer)? {
            return Err(LedgerError::invalid("customer_id", "is not a known customer").into());
        }
        if dispute(db, &d.id, false)?.is_some() {
            return Err(LedgerError::AlreadyExists { what: "dispute", id: d.id.clone() }.into());
        }
        let events = serde_json::to_string(&d.events).map_err(StoreError::corrupt)?;
        let claimed = d.claimed.map(|c| c.normalize().to_string());
        db.execute(
            &INSERT_DISPUTE,
            &params![
                d.id.as_str(),
                d.customer_id.as_str(),
                d.credit_type_id.as_str(),
                events.as_str(),
                d.ticket_ref.as_str(),
                d.description.as_str(),
                claimed.as_ref(),
                d.assignee.as_deref(),
                d.opened_by.as_str(),
                ts(g.now),
                ts(d.sla_due_at),
            ],
        )?;
        dispute(db, &d.id, false)?.ok_or_else(|| StoreError::corrupt("dispute not written"))
    }

    fn comment<D: Db + ?Sized>(
        &self,
        db: &mut D,
        g: &Group,
        id: &str,
        body: &str,
        actor: &Actor,
    ) -> Result<WorkflowOut> {
        let d = dispute(db, id, true)?.ok_or_else(|| not_found("dispute", id))?;
        db.execute(&INSERT_COMMENT, &params![id, ts(g.now), actor.id.as_str(), body])?;
        if d.status == DisputeStatus::Open {
            db.execute(&DISPUTE_STATUS, &params![id, DisputeStatus::Investigating.as_str(), ts(g.now), None::<&str>])?;
        }
        let c = query_opt(db, &LAST_COMMENT, &params![id], comment_from_row)?
            .ok_or_else(|| StoreError::corrupt("comment not written"))?;
        Ok(WorkflowOut::Comment(c))
    }
}

fn approval_after<D: Db + ?Sized>(db: &mut D, id: &str, now: chrono::DateTime<chrono::Utc>) -> Result<Approval> {
    approval(db, id, now, false)?.ok_or_else(|| StoreError::corrupt(format!("approval {id} vanished")))
}
