//! The support workflows as the app shows them (`docs/workflows.md`): the
//! grant dialog's live preview and submission, voids, approval requests,
//! disputes and the audit log. The server decides everything (limits,
//! self-approval, who may void); these functions turn the UI's form text
//! into API requests (amounts are parsed here, never in TypeScript), call
//! `creditdesk-client` and hand back what the server said.
//!
//! Reads go through [`AppCore::fetch`] (cache, data age); writes never do:
//! a write that could not reach the server must fail, not show old data.

use chrono::{DateTime, Utc};
use creditdesk_api::approvals::{
    Approval, ApprovalDecided, ApprovalListQuery, ApprovalStatus, ApproveRequest, CancelRequest, GrantPreview,
    RejectRequest,
};
use creditdesk_api::audit::{AuditQuery, AuditRecord};
use creditdesk_api::balances::BalanceQuery;
use creditdesk_api::disputes::{
    AssignDisputeRequest, CommentRequest, Dispute, DisputeComment, DisputeDetail, DisputeEvidence, DisputeListQuery,
    DisputeOutcome, DisputeResolved, DisputeStatus, OpenDisputeRequest, ResolveDisputeRequest,
};
use creditdesk_api::extend::{ExpiryExtended, ExtendExpiryRequest};
use creditdesk_api::grants::{ApprovalPending, CreateGrantRequest, GrantCreated, GrantVoided, VoidGrantRequest};
use creditdesk_api::limits::{RoleLimitsEntry, RoleLimitsList, SetRoleLimitsRequest};
use creditdesk_api::me::MeResponse;
use creditdesk_api::{GrantCategory, GrantSource, Money, Role};
use creditdesk_client::{ExtendOutcome, GrantOutcome};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{opt_text, some_text, AppCore, CoreError, DataAge};

/// The grant dialog's fields as typed. `amount` is the text of the input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GrantForm {
    pub customer_id: String,
    pub credit_type_id: String,
    pub amount: String,
    pub category: GrantCategory,
    pub source: GrantSource,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// The priority as typed; empty for the server's default (50).
    #[serde(default)]
    pub priority: String,
    /// Products the grant is restricted to; none for every product of
    /// its credit type.
    #[serde(default)]
    pub products: Vec<String>,
    pub reason_code: String,
    pub ticket_ref: String,
    pub note: String,
}

/// A typed amount without its grouping commas, or `None` when empty.
fn decimal_text(text: &str) -> Option<String> {
    let t = text.trim().replace(',', "");
    (!t.is_empty()).then_some(t)
}

/// `text` as credits: a plain decimal, > 0, at most 6 places.
pub fn parse_credits(field: &str, text: &str) -> Result<Decimal, CoreError> {
    let t = decimal_text(text).ok_or_else(|| CoreError::input(field, "is required"))?;
    let d: Decimal = t.parse().map_err(|_| CoreError::input(field, "must be a decimal number, e.g. 250 or 12.5"))?;
    if d <= Decimal::ZERO || d.scale() > 6 {
        return Err(CoreError::input(field, "must be greater than 0 with at most 6 decimal places"));
    }
    Ok(d.normalize())
}

/// `text` as a burn priority: empty for the server's default, else a whole
/// number 1..=100 (the API's range; lower burns first).
fn parse_priority(text: &str) -> Result<Option<u32>, CoreError> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    match t.parse::<u32>() {
        Ok(p) if (1..=100).contains(&p) => Ok(Some(p)),
        _ => Err(CoreError::input("priority", "must be a whole number from 1 to 100 (lower burns first)")),
    }
}

impl GrantForm {
    /// The API request (live mode).
    pub fn request(&self) -> Result<CreateGrantRequest, CoreError> {
        Ok(CreateGrantRequest {
            id: None,
            customer_id: self.customer_id.trim().to_owned(),
            credit_type_id: self.credit_type_id.trim().to_owned(),
            amount: parse_credits("amount", &self.amount)?,
            category: self.category,
            source: self.source,
            priority: parse_priority(&self.priority)?,
            effective_at: None,
            expires_at: self.expires_at,
            products: (!self.products.is_empty()).then(|| self.products.clone()),
            contract_id: None,
            cost_basis: None,
            rollover: None,
            reason_code: self.reason_code.trim().to_owned(),
            ticket_ref: opt_text(&self.ticket_ref),
            note: opt_text(&self.note),
            mode: None,
        })
    }
}

/// What submitting the grant dialog did: `201` with the grant, or `202`
/// with the approval request filed instead.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GrantSubmitted {
    pub status: u16,
    #[serde(default)]
    pub created: Option<GrantCreated>,
    #[serde(default)]
    pub pending: Option<ApprovalPending>,
}

/// The void dialog's preview, from the balance now: what voiding the grant
/// forfeits and what the wallet holds after. Voids need no approval; the
/// server checks the role (finance, admin) when it is submitted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VoidPreview {
    pub grant_id: String,
    pub credit_type_id: String,
    pub unit_label: String,
    /// Credits forfeited (the grant's remainder now).
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String)]
    pub forfeited: Decimal,
    pub forfeited_value: Money,
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String)]
    pub available_before: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String)]
    pub available_after: Decimal,
    pub available_after_value: Money,
}

/// The extend-expiry dialog's fields. Ticket and note are required: an
/// extension moves money and the audit log says why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ExtendForm {
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    pub reason_code: String,
    pub ticket_ref: String,
    pub note: String,
}

impl ExtendForm {
    pub fn request(&self) -> Result<ExtendExpiryRequest, CoreError> {
        let expires_at = self.expires_at.ok_or_else(|| CoreError::input("expires_at", "is required"))?;
        Ok(ExtendExpiryRequest {
            expires_at,
            reason_code: self.reason_code.trim().to_owned(),
            ticket_ref: self.ticket_ref.trim().to_owned(),
            note: self.note.trim().to_owned(),
        })
    }
}

/// What submitting the extend dialog did: `201` with the new grant that
/// holds the remainder, or `202` with the approval request filed instead.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ExtendSubmitted {
    pub status: u16,
    #[serde(default)]
    pub extended: Option<ExpiryExtended>,
    #[serde(default)]
    pub pending: Option<ApprovalPending>,
}

/// The role-limits form's fields as typed, in the deployment's currency.
/// Empty text means unlimited; `0` means never alone (for `approve_up_to`:
/// may not approve).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RoleLimitsForm {
    pub per_action: String,
    pub monthly: String,
    pub approve_up_to: String,
}

impl RoleLimitsForm {
    pub fn request(&self) -> Result<SetRoleLimitsRequest, CoreError> {
        Ok(SetRoleLimitsRequest {
            per_action: parse_limit("per_action", &self.per_action)?,
            monthly: parse_limit("monthly", &self.monthly)?,
            approve_up_to: parse_limit("approve_up_to", &self.approve_up_to)?,
        })
    }
}

/// A money limit as typed: empty is unlimited, else a plain decimal >= 0.
fn parse_limit(field: &str, text: &str) -> Result<Option<Decimal>, CoreError> {
    let Some(t) = decimal_text(text) else { return Ok(None) };
    let d: Decimal =
        t.parse().map_err(|_| CoreError::input(field, "must be an amount, e.g. 500, or empty for unlimited"))?;
    if d < Decimal::ZERO || d.scale() > 6 {
        return Err(CoreError::input(field, "must not be negative, with at most 6 decimal places"));
    }
    Ok(Some(d.normalize()))
}

/// Which approval requests the Approvals view lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalScope {
    All,
    /// The caller's own requests.
    Mine,
    /// One customer's (`customer` required).
    Customer,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApprovalsPage {
    pub items: Vec<Approval>,
    #[serde(default)]
    pub next_cursor: Option<String>,
    pub age: DataAge,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DisputesPage {
    pub items: Vec<Dispute>,
    #[serde(default)]
    pub next_cursor: Option<String>,
    pub age: DataAge,
}

/// A dispute with its comments and the evidence for each event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DisputeView {
    pub detail: DisputeDetail,
    pub evidence: DisputeEvidence,
    pub age: DataAge,
}

/// "Dispute..." on selected ledger rows: the rows' events (burn entries
/// name their event; one event burning several grants is listed once).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DisputeForm {
    pub customer_id: String,
    pub events: Vec<String>,
    pub ticket_ref: String,
    pub description: String,
    /// Credits the customer claims back, as typed (optional).
    #[serde(default)]
    pub claimed_amount: Option<String>,
    #[serde(default)]
    pub sla_hours: Option<u32>,
}

impl DisputeForm {
    pub fn request(&self) -> Result<OpenDisputeRequest, CoreError> {
        let mut events: Vec<String> = Vec::with_capacity(self.events.len());
        for e in &self.events {
            if !events.contains(e) {
                events.push(e.clone());
            }
        }
        let claimed_amount = match self.claimed_amount.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(t) => Some(parse_credits("claimed_amount", t)?),
        };
        Ok(OpenDisputeRequest {
            id: None,
            customer_id: self.customer_id.trim().to_owned(),
            events,
            ticket_ref: self.ticket_ref.trim().to_owned(),
            description: self.description.trim().to_owned(),
            claimed_amount,
            assignee: None,
            sla_hours: self.sla_hours,
        })
    }
}

/// The resolve form: `goodwill_amount` as typed, for `goodwill_grant` only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ResolveForm {
    pub outcome: DisputeOutcome,
    pub reason: String,
    #[serde(default)]
    pub reason_code: Option<String>,
    #[serde(default)]
    pub goodwill_amount: Option<String>,
}

impl ResolveForm {
    pub fn request(&self) -> Result<ResolveDisputeRequest, CoreError> {
        let goodwill_amount = match (self.outcome, self.goodwill_amount.as_deref()) {
            (DisputeOutcome::GoodwillGrant, Some(t)) => Some(parse_credits("goodwill_amount", t)?),
            (DisputeOutcome::GoodwillGrant, None) => return Err(CoreError::input("goodwill_amount", "is required")),
            _ => None,
        };
        Ok(ResolveDisputeRequest {
            outcome: self.outcome,
            reason: self.reason.trim().to_owned(),
            reason_code: self.reason_code.as_deref().and_then(opt_text),
            goodwill_amount,
            goodwill_expires_at: None,
        })
    }
}

/// The Audit view's filters (empty text = no filter).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditFilter {
    #[serde(default)]
    pub actor: Option<String>,
    #[serde(default)]
    pub customer: Option<String>,
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub from: Option<DateTime<Utc>>,
    #[serde(default)]
    pub to: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditRecord>,
    #[serde(default)]
    pub next_cursor: Option<String>,
    pub age: DataAge,
}

impl AppCore {
    /// `GET /v1/me`: role, limits and the budget left this month.
    pub async fn me(&self) -> Result<MeResponse, CoreError> {
        Ok(self.client().await?.me().await?)
    }

    /// What the grant would do now (nothing is written).
    pub async fn preview_grant(&self, form: &GrantForm) -> Result<GrantPreview, CoreError> {
        let request = form.request()?;
        Ok(self.client().await?.preview_grant(&request).await?)
    }

    pub async fn submit_grant(&self, form: &GrantForm) -> Result<GrantSubmitted, CoreError> {
        let request = form.request()?;
        let out = self.client().await?.create_grant(&request).await?;
        Ok(match out.value {
            GrantOutcome::Executed(c) => GrantSubmitted { status: 201, created: Some(*c), pending: None },
            GrantOutcome::PendingApproval(p) => GrantSubmitted { status: 202, created: None, pending: Some(*p) },
        })
    }

    pub async fn void_grant(
        &self,
        grant: &str,
        reason_code: &str,
        ticket_ref: &str,
        note: &str,
    ) -> Result<GrantVoided, CoreError> {
        let request = VoidGrantRequest {
            reason_code: reason_code.trim().to_owned(),
            ticket_ref: opt_text(ticket_ref),
            note: opt_text(note),
        };
        Ok(self.client().await?.void_grant(grant, &request).await?.value)
    }

    /// What voiding `grant` would do now (reads the balance; writes nothing).
    pub async fn preview_void(&self, customer: &str, grant: &str) -> Result<VoidPreview, CoreError> {
        let balances = self.client().await?.balances(customer, &BalanceQuery::default()).await?;
        let (wallet, g) = balances
            .balances
            .iter()
            .find_map(|w| Some((w, w.grants.iter().find(|g| g.grant.id == grant)?)))
            .ok_or_else(|| CoreError::input("grant", "is not one of this customer's grants"))?;
        let after = (wallet.available - g.remaining).normalize();
        let price = &wallet.unit_price;
        Ok(VoidPreview {
            grant_id: grant.to_owned(),
            credit_type_id: wallet.credit_type_id.clone(),
            unit_label: wallet.unit_label.clone(),
            forfeited: g.remaining,
            forfeited_value: g.remaining_value.clone(),
            available_before: wallet.available,
            available_after: after,
            available_after_value: Money::new((after * price.amount).normalize(), price.currency.clone()),
        })
    }

    /// Moves a live grant's remainder to a new grant with a later expiry,
    /// or files the request for approval when it is over the caller's limits.
    pub async fn extend_grant(&self, grant: &str, form: &ExtendForm) -> Result<ExtendSubmitted, CoreError> {
        let request = form.request()?;
        Ok(match self.client().await?.extend_expiry(grant, &request).await?.value {
            ExtendOutcome::Executed(e) => ExtendSubmitted { status: 201, extended: Some(*e), pending: None },
            ExtendOutcome::PendingApproval(p) => ExtendSubmitted { status: 202, extended: None, pending: Some(*p) },
        })
    }

    /// Every role's limits (any role may read them).
    pub async fn role_limits(&self) -> Result<RoleLimitsList, CoreError> {
        Ok(self.client().await?.role_limits().await?)
    }

    /// Replaces a role's limits (admin only; the server refuses others).
    pub async fn set_role_limits(&self, role: Role, form: &RoleLimitsForm) -> Result<RoleLimitsEntry, CoreError> {
        let request = form.request()?;
        Ok(self.client().await?.set_role_limits(role, &request).await?.value)
    }

    pub async fn approvals(
        &self,
        scope: ApprovalScope,
        customer: Option<String>,
        status: Option<ApprovalStatus>,
        cursor: Option<String>,
    ) -> Result<ApprovalsPage, CoreError> {
        let customer = some_text(customer);
        if scope == ApprovalScope::Customer && customer.is_none() {
            return Err(CoreError::input("customer", "is required to list one customer's requests"));
        }
        let query = ApprovalListQuery {
            status,
            mine: (scope == ApprovalScope::Mine).then_some(true),
            customer: if scope == ApprovalScope::Customer { customer } else { None },
            dispute: None,
            limit: Some(50),
            cursor,
        };
        let key = format!("approvals?{}", serde_json::to_string(&query).unwrap_or_default());
        let (page, age) = self.fetch(&key, |c| async move { Ok(c.approvals(&query).await?) }).await?;
        Ok(ApprovalsPage { items: page.items, next_cursor: page.next_cursor, age })
    }

    pub async fn approve(&self, id: &str, note: Option<String>) -> Result<ApprovalDecided, CoreError> {
        let request = ApproveRequest { note: some_text(note) };
        Ok(self.client().await?.approve(id, &request, None).await?.value)
    }

    pub async fn reject(&self, id: &str, reason: &str) -> Result<ApprovalDecided, CoreError> {
        if reason.trim().is_empty() {
            return Err(CoreError::input("reason", "is required to reject a request"));
        }
        let request = RejectRequest { reason: reason.trim().to_owned() };
        Ok(self.client().await?.reject(id, &request, None).await?.value)
    }

    pub async fn cancel_approval(&self, id: &str, reason: Option<String>) -> Result<ApprovalDecided, CoreError> {
        let request = CancelRequest { reason: some_text(reason) };
        Ok(self.client().await?.cancel_approval(id, &request, None).await?.value)
    }

    pub async fn disputes(
        &self,
        status: Option<DisputeStatus>,
        customer: Option<String>,
        overdue: Option<bool>,
        cursor: Option<String>,
    ) -> Result<DisputesPage, CoreError> {
        let query = DisputeListQuery {
            status,
            assignee: None,
            customer: some_text(customer),
            overdue,
            limit: Some(50),
            cursor,
        };
        let key = format!("disputes?{}", serde_json::to_string(&query).unwrap_or_default());
        let (page, age) = self.fetch(&key, |c| async move { Ok(c.disputes(&query).await?) }).await?;
        Ok(DisputesPage { items: page.items, next_cursor: page.next_cursor, age })
    }

    pub async fn dispute(&self, id: &str) -> Result<DisputeView, CoreError> {
        let id = id.to_owned();
        let key = format!("dispute/{id}");
        let ((detail, evidence), age) = self
            .fetch(&key, |c| async move {
                let detail = c.dispute(&id).await?;
                let evidence = c.dispute_evidence(&id).await?;
                Ok((detail, evidence))
            })
            .await?;
        Ok(DisputeView { detail, evidence, age })
    }

    pub async fn open_dispute(&self, form: &DisputeForm) -> Result<Dispute, CoreError> {
        let request = form.request()?;
        Ok(self.client().await?.open_dispute(&request, None).await?.value)
    }

    pub async fn assign_dispute(&self, id: &str, assignee: &str) -> Result<Dispute, CoreError> {
        let request = AssignDisputeRequest { assignee: assignee.trim().to_owned() };
        Ok(self.client().await?.assign_dispute(id, &request, None).await?.value)
    }

    pub async fn comment_dispute(&self, id: &str, body: &str) -> Result<DisputeComment, CoreError> {
        let request = CommentRequest { body: body.trim().to_owned() };
        Ok(self.client().await?.comment_dispute(id, &request, None).await?.value)
    }

    pub async fn resolve_dispute(&self, id: &str, form: &ResolveForm) -> Result<DisputeResolved, CoreError> {
        let request = form.request()?;
        Ok(self.client().await?.resolve_dispute(id, &request, None).await?.value)
    }

    pub async fn audit(&self, filter: AuditFilter, cursor: Option<String>) -> Result<AuditPage, CoreError> {
        let query = AuditQuery {
            actor: some_text(filter.actor),
            customer: some_text(filter.customer),
            action: some_text(filter.action),
            from: filter.from,
            to: filter.to,
            limit: Some(50),
            cursor,
        };
        let key = format!("audit?{}", serde_json::to_string(&query).unwrap_or_default());
        let (page, age) = self.fetch(&key, |c| async move { Ok(c.audit(&query).await?) }).await?;
        Ok(AuditPage { items: page.items, next_cursor: page.next_cursor, age })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::profile::Profiles;
    use crate::core::views::LedgerFilter;
    use crate::core::AppError;
    use creditdesk_api::admin::CreateUserRequest;
    use creditdesk_api::common::{EntryKind, Role};
    use creditdesk_server::seed::SeedOptions;

    #[test]
    fn credits_are_parsed_in_rust_with_the_field_named() {
        assert_eq!(parse_credits("amount", " 1,250.50 ").unwrap(), Decimal::new(125050, 2));
        for bad in ["", "abc", "0", "-3", "1.1234567"] {
            let e = parse_credits("amount", bad).unwrap_err();
            assert!(matches!(&e, CoreError::Input { field, .. } if field == "amount"), "{bad}: {e}");
        }
        let form = DisputeForm {
            customer_id: "c1".into(),
            events: vec!["e1".into(), "e2".into(), "e1".into()],
            ticket_ref: "T-1".into(),
            description: "double charge".into(),
            claimed_amount: Some(" ".into()),
            sla_hours: None,
        };
        let r = form.request().unwrap();
        assert_eq!(r.events, ["e1", "e2"], "an event burning two grants is listed once");
        assert_eq!(r.claimed_amount, None);
    }

    async fn signed_in(dir: &std::path::Path, url: &str, token: &str) -> AppCore {
        let core = AppCore::new(Profiles::new(dir.join("c"), dir.join("d")));
        core.save_remote(url, token).await.unwrap();
        core
    }

    /// Against a real embedded server: an agent's small grant executes, a
    /// large one becomes a request the agent may not approve but an admin
    /// may; a dispute on two usage events resolves with a reversal that
    /// gives the credits back; the audit log has the decisions.
    #[tokio::test]
    async fn grant_approve_dispute_and_audit_through_the_client() {
        let dir = tempfile::tempdir().unwrap();
        let admin = AppCore::new(Profiles::new(dir.path().join("ac"), dir.path().join("ad")));
        let opts = SeedOptions { customers: 2, days: 20, seed: 11 };
        let session = admin.start_embedded(opts, |_| {}).await.unwrap();
        let url = session.server_url.clone();
        let client = admin.client().await.unwrap();
        let agent_user = CreateUserRequest { name: "wf-agent".into(), role: Role::SupportAgent };
        let created = client.create_user(&agent_user).await.unwrap();
        let agent = signed_in(&dir.path().join("agent"), &url, &created.token).await;

        let customer = admin.customers(Default::default(), None).await.unwrap().items[0].id.clone();
        let view = admin.customer(&customer).await.unwrap();
        let ct = view.balances.balances[0].credit_type_id.clone();
        let available = |v: &crate::core::views::CustomerView| {
            v.balances.balances.iter().find(|b| b.credit_type_id == ct).unwrap().available
        };
        let form = |amount: &str| GrantForm {
            customer_id: customer.clone(),
            credit_type_id: ct.clone(),
            amount: amount.into(),
            category: GrantCategory::Promotional,
            source: GrantSource::Goodwill,
            expires_at: None,
            priority: String::new(),
            products: Vec::new(),
            reason_code: "goodwill".into(),
            ticket_ref: "T-100".into(),
            note: "test".into(),
        };

        let small = agent.preview_grant(&form("1")).await.unwrap();
        assert!(small.executes_now, "{small:?}");
        let done = agent.submit_grant(&form("1")).await.unwrap();
        assert_eq!(done.status, 201);
        let before = available(&view);
        let after = available(&admin.customer(&customer).await.unwrap());
        assert_eq!(after - before, Decimal::ONE);
        assert_eq!(done.created.unwrap().grant.grant.priority, 50, "the server's default");

        // Priority and products as the dialog sends them: a product of the
        // wallet's credit type, from the catalog the dialog lists.
        let product = agent.products().await.unwrap().into_iter().find(|p| p.credit_type_id == ct).unwrap().id;
        let narrow = GrantForm { priority: " 7 ".into(), products: vec![product.clone()], ..form("1") };
        let grant = agent.submit_grant(&narrow).await.unwrap().created.unwrap().grant.grant;
        assert_eq!((grant.priority, grant.products), (7, Some(vec![product])));
        for bad in ["0", "101", "1.5", "high"] {
            let e = agent.submit_grant(&GrantForm { priority: bad.into(), ..form("1") }).await.unwrap_err();
            assert!(matches!(&e, CoreError::Input { field, .. } if field == "priority"), "{bad}: {e}");
        }
        let after = available(&admin.customer(&customer).await.unwrap());

        let big = agent.preview_grant(&form("1000000")).await.unwrap();
        assert!(!big.executes_now && big.exceeded.is_some() && !big.approver_roles.is_empty(), "{big:?}");
        let filed = agent.submit_grant(&form("1000000")).await.unwrap();
        assert_eq!(filed.status, 202);
        let id = filed.pending.unwrap().approval_id;
        let mine = agent.approvals(ApprovalScope::Mine, None, Some(ApprovalStatus::Pending), None).await.unwrap();
        assert!(mine.items.iter().any(|a| a.id == id));
        let refused = AppError::from(agent.approve(&id, None).await.unwrap_err());
        assert_eq!(refused.status, Some(403), "{refused:?}");
        let decided = admin.approve(&id, Some("ok".into())).await.unwrap();
        assert_eq!(decided.approval.status, ApprovalStatus::Approved);
        let approved = available(&admin.customer(&customer).await.unwrap());
        assert_eq!(approved - after, Decimal::from(1_000_000));

        let burns = admin
            .ledger(
                &customer,
                LedgerFilter { credit_type: Some(ct.clone()), kind: Some(EntryKind::Burn), ..LedgerFilter::default() },
                None,
            )
            .await
            .unwrap();
        let mut events: Vec<String> = Vec::new();
        for row in &burns.items {
            if let Some(e) = &row.entry.event_id {
                if !events.contains(e) && events.len() < 2 {
                    events.push(e.clone());
                }
            }
        }
        assert_eq!(events.len(), 2);
        let dispute = agent
            .open_dispute(&DisputeForm {
                customer_id: customer.clone(),
                events: events.clone(),
                ticket_ref: "T-200".into(),
                description: "charged twice".into(),
                claimed_amount: None,
                sla_hours: None,
            })
            .await
            .unwrap();
        let shown = admin.dispute(&dispute.id).await.unwrap();
        assert_eq!(shown.evidence.events.len(), 2);
        admin.comment_dispute(&dispute.id, "looking").await.unwrap();
        let resolve = ResolveForm {
            outcome: DisputeOutcome::ReverseUsage,
            reason: "duplicate".into(),
            reason_code: Some("billing_error".into()),
            goodwill_amount: None,
        };
        let resolved = admin.resolve_dispute(&dispute.id, &resolve).await.unwrap();
        assert_eq!(resolved.dispute.status, DisputeStatus::Resolved);
        assert_eq!(resolved.reversed_events.len(), 2);
        let reversed = available(&admin.customer(&customer).await.unwrap());
        assert_eq!(reversed - approved, shown.evidence.total_credits);

        let audit =
            admin.audit(AuditFilter { action: Some("grant".into()), ..Default::default() }, None).await.unwrap();
        assert!(audit.items.iter().any(|r| r.outcome == "approval_requested"), "{:?}", audit.items);
        let denied = AppError::from(agent.audit(AuditFilter::default(), None).await.unwrap_err());
        assert_eq!(denied.status, Some(403));
    }

    /// Against a real embedded server: an admin sets the support agent's
    /// limits (read back from the API); the admin extends a live grant's
    /// expiry (its remainder moves to a new grant, the balance unchanged);
    /// the void preview of the new grant says what voiding it would leave;
    /// the agent's extension of that grant, now over its limit, is filed
    /// for approval. Bad form text is refused naming the field; the agent
    /// may not change limits.
    #[tokio::test]
    async fn extend_expiry_and_role_limits_through_the_client() {
        use creditdesk_api::grants::LimitKind;
        use creditdesk_api::GrantStatus;
        let dir = tempfile::tempdir().unwrap();
        let admin = AppCore::new(Profiles::new(dir.path().join("ac"), dir.path().join("ad")));
        let session = admin.start_embedded(SeedOptions { customers: 2, days: 20, seed: 12 }, |_| {}).await.unwrap();
        let client = admin.client().await.unwrap();
        let agent_user = CreateUserRequest { name: "limits-agent".into(), role: Role::SupportAgent };
        let created = client.create_user(&agent_user).await.unwrap();
        let agent = signed_in(&dir.path().join("agent"), &session.server_url, &created.token).await;

        let never_alone = RoleLimitsForm { per_action: "0".into(), monthly: String::new(), approve_up_to: "0".into() };
        let set = admin.set_role_limits(Role::SupportAgent, &never_alone).await.unwrap();
        assert_eq!(set.limits.per_action.as_ref().map(|m| m.amount), Some(Decimal::ZERO));
        assert_eq!(set.limits.monthly, None, "empty text is unlimited");
        let listed = admin.role_limits().await.unwrap();
        let row = listed.roles.iter().find(|r| r.role == Role::SupportAgent).unwrap();
        assert_eq!((&row.limits, row.updated_by.as_str()), (&set.limits, session.user.user_id.as_str()));
        let refused =
            AppError::from(agent.set_role_limits(Role::SupportAgent, &RoleLimitsForm::default()).await.unwrap_err());
        assert_eq!(refused.status, Some(403), "{refused:?}");
        let bad = RoleLimitsForm { monthly: "-5".into(), ..RoleLimitsForm::default() };
        let e = admin.set_role_limits(Role::Finance, &bad).await.unwrap_err();
        assert!(matches!(&e, CoreError::Input { field, .. } if field == "monthly"), "{e}");

        let customer = admin.customers(Default::default(), None).await.unwrap().items[0].id.clone();
        let before = admin.customer(&customer).await.unwrap();
        let (wallet, grant) = before
            .balances
            .balances
            .iter()
            .find_map(|b| {
                let g = b.grants.iter().find(|g| {
                    g.status == GrantStatus::Active && g.grant.expires_at.is_some() && g.remaining > Decimal::ZERO
                })?;
                Some((b.credit_type_id.clone(), g.clone()))
            })
            .expect("a live grant that expires");
        let later = grant.grant.expires_at.unwrap() + chrono::Duration::days(30);
        let form = |expires_at| ExtendForm {
            expires_at,
            reason_code: "goodwill".into(),
            ticket_ref: "T-300".into(),
            note: "customer asked for more time".into(),
        };
        let e = admin.extend_grant(&grant.grant.id, &form(None)).await.unwrap_err();
        assert!(matches!(&e, CoreError::Input { field, .. } if field == "expires_at"), "{e}");
        let done = admin.extend_grant(&grant.grant.id, &form(Some(later))).await.unwrap();
        let extended = done.extended.expect("executed within the admin's limits");
        assert_eq!((done.status, extended.credits, extended.expires_at), (201, grant.remaining, later));
        let after = admin.customer(&customer).await.unwrap();
        let balance = |v: &crate::core::views::CustomerView| {
            v.balances.balances.iter().find(|b| b.credit_type_id == wallet).unwrap().clone()
        };
        assert_eq!(balance(&after).available, balance(&before).available, "an extension moves credits, adds none");
        let moved = balance(&after).grants.into_iter().find(|g| g.grant.id == extended.new_grant_id).unwrap();
        assert_eq!((moved.remaining, moved.grant.expires_at), (grant.remaining, Some(later)));

        let void = admin.preview_void(&customer, &extended.new_grant_id).await.unwrap();
        let now = balance(&after).available;
        assert_eq!(
            (void.forfeited, void.available_before, void.available_after),
            (grant.remaining, now, (now - grant.remaining).normalize())
        );
        let e = admin.preview_void(&customer, "no-such-grant").await.unwrap_err();
        assert!(matches!(&e, CoreError::Input { field, .. } if field == "grant"), "{e}");

        let even_later = later + chrono::Duration::days(30);
        let filed = agent.extend_grant(&extended.new_grant_id, &form(Some(even_later))).await.unwrap();
        let pending = filed.pending.expect("over the agent's per-action limit of 0");
        assert_eq!(
            (filed.status, pending.action.as_str(), pending.exceeded),
            (202, "extend_expiry", LimitKind::PerAction)
        );
    }
}
