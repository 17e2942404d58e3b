//! The support workflows' routes: role limits, the grant preview,
//! approvals, disputes and the audit log. Writes carry an
//! `Idempotency-Key` (fresh unless the caller passes one), so a retry after
//! a timeout replays the server's first answer instead of deciding twice.

use creditdesk_api::approvals::{
    Approval, ApprovalDecided, ApprovalListQuery, ApproveRequest, CancelRequest, GrantPreview, RejectRequest,
};
use creditdesk_api::audit::{AuditQuery, AuditRecord};
use creditdesk_api::disputes::{
    AssignDisputeRequest, CommentRequest, Dispute, DisputeComment, DisputeDetail, DisputeEvidence, DisputeListQuery,
    DisputeResolved, EventEvidence, OpenDisputeRequest, ResolveDisputeRequest,
};
use creditdesk_api::grants::CreateGrantRequest;
use creditdesk_api::limits::{RoleLimitsEntry, RoleLimitsList, SetRoleLimitsRequest};
use creditdesk_api::routes;
use creditdesk_api::{Page, Role};

use super::{Client, Idempotent};
use crate::error::ClientError;

impl Client {
    // ---- limits ----

    /// `GET /v1/admin/roles`: every role's limits.
    pub async fn role_limits(&self) -> Result<RoleLimitsList, ClientError> {
        self.get(routes::ADMIN_ROLES, &[], &()).await
    }

    /// `POST /v1/admin/roles/{role}/limits` (admin).
    pub async fn set_role_limits(
        &self,
        role: Role,
        request: &SetRoleLimitsRequest,
    ) -> Result<Idempotent<RoleLimitsEntry>, ClientError> {
        self.post_idempotent(routes::ADMIN_ROLE_LIMITS, &[role.as_str()], request, None).await
    }

    /// `POST /v1/grants/preview`: what the grant would do now; writes nothing.
    pub async fn preview_grant(&self, request: &CreateGrantRequest) -> Result<GrantPreview, ClientError> {
        self.post(routes::GRANT_PREVIEW, &[], request).await
    }

    // ---- approvals ----

    /// `GET /v1/approvals`.
    pub async fn approvals(&self, query: &ApprovalListQuery) -> Result<Page<Approval>, ClientError> {
        self.get(routes::APPROVALS, &[], query).await
    }

    /// `GET /v1/approvals/{id}`.
    pub async fn approval(&self, id: &str) -> Result<Approval, ClientError> {
        self.get(routes::APPROVAL, &[id], &()).await
    }

    /// `POST /v1/approvals/{id}/approve`: executes the request (once).
    pub async fn approve(
        &self,
        id: &str,
        request: &ApproveRequest,
        key: Option<&str>,
    ) -> Result<Idempotent<ApprovalDecided>, ClientError> {
        self.post_idempotent(routes::APPROVAL_APPROVE, &[id], request, key).await
    }

    /// `POST /v1/approvals/{id}/reject` (reason required).
    pub async fn reject(
        &self,
        id: &str,
        request: &RejectRequest,
        key: Option<&str>,
    ) -> Result<Idempotent<ApprovalDecided>, ClientError> {
        self.post_idempotent(routes::APPROVAL_REJECT, &[id], request, key).await
    }

    /// `POST /v1/approvals/{id}/cancel` (the requester).
    pub async fn cancel_approval(
        &self,
        id: &str,
        request: &CancelRequest,
        key: Option<&str>,
    ) -> Result<Idempotent<ApprovalDecided>, ClientError> {
        self.post_idempotent(routes::APPROVAL_CANCEL, &[id], request, key).await
    }

    // ---- disputes ----

    /// `GET /v1/disputes`.
    pub async fn disputes(&self, query: &DisputeListQuery) -> Result<Page<Dispute>, ClientError> {
        self.get(routes::DISPUTES, &[], query).await
    }

    /// `POST /v1/disputes`.
    pub async fn open_dispute(
        &self,
        request: &OpenDisputeRequest,
        key: Option<&str>,
    ) -> Result<Idempotent<Dispute>, ClientError> {
        self.post_idempotent(routes::DISPUTES, &[], request, key).await
    }

    /// `GET /v1/disputes/{id}` with its comments.
    pub async fn dispute(&self, id: &str) -> Result<DisputeDetail, ClientError> {
        self.get(routes::DISPUTE, &[id], &()).await
    }

    /// `GET /v1/disputes/{id}/evidence`.
    pub async fn dispute_evidence(&self, id: &str) -> Result<DisputeEvidence, ClientError> {
        self.get(routes::DISPUTE_EVIDENCE, &[id], &()).await
    }

    /// `GET /v1/events/{id}`: an accepted usage event, its rating and entries.
    pub async fn usage_event(&self, id: &str) -> Result<EventEvidence, ClientError> {
        self.get(routes::EVENT, &[id], &()).await
    }

    /// `POST /v1/disputes/{id}/assign`.
    pub async fn assign_dispute(
        &self,
        id: &str,
        request: &AssignDisputeRequest,
        key: Option<&str>,
    ) -> Result<Idempotent<Dispute>, ClientError> {
        self.post_idempotent(routes::DISPUTE_ASSIGN, &[id], request, key).await
    }

    /// `POST /v1/disputes/{id}/comments`.
    pub async fn comment_dispute(
        &self,
        id: &str,
        request: &CommentRequest,
        key: Option<&str>,
    ) -> Result<Idempotent<DisputeComment>, ClientError> {
        self.post_idempotent(routes::DISPUTE_COMMENTS, &[id], request, key).await
    }

    /// `POST /v1/disputes/{id}/resolve`: `dispute.status` says what happened
    /// (`resolved`, `rejected` for no_action, or `awaiting_approval` with
    /// `approval` set).
    pub async fn resolve_dispute(
        &self,
        id: &str,
        request: &ResolveDisputeRequest,
        key: Option<&str>,
    ) -> Result<Idempotent<DisputeResolved>, ClientError> {
        self.post_idempotent(routes::DISPUTE_RESOLVE, &[id], request, key).await
    }

    // ---- audit ----

    /// `GET /v1/audit` (support_lead, finance, admin).
    pub async fn audit(&self, query: &AuditQuery) -> Result<Page<AuditRecord>, ClientError> {
        self.get(routes::AUDIT, &[], query).await
    }
}
