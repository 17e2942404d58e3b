//! # creditdesk-api
//!
//! The wire contract of the Creditdesk billing API: every request, response
//! and query type that the server (`creditdesk-server`), the typed client
//! (`creditdesk-client`) and the desktop app exchange, with serde and
//! OpenAPI 3.1 (utoipa) derives, the route table ([`routes`]) and the error
//! document ([`Problem`]).
//!
//! It deliberately does not depend on `creditdesk-ledger`: the wire contract
//! must change only when this crate changes, not when the domain's internal
//! types are refactored. The server maps between the two.
//!
//! ## Conventions
//!
//! - **Decimals are JSON strings**, never numbers (a number is refused with
//!   an error that says to send a string): credits, quantities, rates,
//!   fractions, money amounts. Output is normalised (`"12.5"`, not
//!   `"12.500000"`). See [`decimal`].
//! - **Money carries its currency**: `{"amount": "12.5", "currency": "USD"}`.
//!   Credits are bare decimals of the credit type named beside them.
//! - **Times** are RFC 3339; responses are UTC (`2026-03-01T00:00:00Z`);
//!   requests may use any offset. Calendar dates (`2026-03-01`) appear only
//!   as bucket labels.
//! - **Enumerations** are snake_case strings.
//! - **Ids** are strings of 1..=128 bytes without whitespace. Body and
//!   response fields that reference another resource end in `_id`
//!   (`customer_id`); query filters are named after the resource
//!   (`?credit_type=batch`).
//! - **Requests are strict**: unknown fields (a typo such as `amout`) are
//!   refused, in bodies and in query strings, instead of silently ignored.
//!   Optional request fields may be omitted or `null`.
//! - **Responses are explicit**: optional response fields are present as
//!   `null` rather than omitted (except in [`Problem`] and
//!   [`events::EventRejection`], whose optional members are omitted as RFC
//!   9457 does), and readers tolerate missing optional fields so an older
//!   server still parses.
//! - **Lists** are [`Page`]s: `{items, next_cursor}`, cursor-paged in a
//!   documented stable order ([`page`]).
//! - **Errors** are [`Problem`] documents (`application/problem+json`) with a
//!   stable [`ProblemCode`].
//! - **Writes** accept an `Idempotency-Key` header ([`routes::headers`]).
//!
//! ## Validation
//!
//! Request types implement [`Validate`]: shape checks (sizes, ranges, id
//! syntax) that need no domain knowledge. Domain rules stay in the ledger.

pub mod admin;
pub mod approvals;
pub mod audit;
pub mod balances;
pub mod common;
pub mod customers;
pub mod decimal;
pub mod disputes;
pub mod events;
pub mod extend;
pub mod grants;
pub mod ledger;
pub mod limits;
pub mod me;
pub mod meta;
pub mod page;
pub mod problem;
pub mod reports;
pub mod routes;
pub mod series;
pub mod validate;

pub use common::{
    Bucket, BurnOrderKey, EntryKind, ExpiringAmount, GrantCategory, GrantSource, GrantStatus, Money, OverageMode, Role,
    SortOrder, UnknownVariant, WriteMode,
};
pub use page::{Page, PageParams, Paged, DEFAULT_LIMIT, MAX_LIMIT};
pub use problem::{FieldError, Problem, ProblemCode, PROBLEM_CONTENT_TYPE};
pub use validate::Validate;

/// Every schema of the contract, as OpenAPI components. The server merges
/// this into the document it generates from its handlers
/// (`ApiComponents::openapi()`), so a type used only inside another still
/// appears, and a test here checks every schema renders.
#[derive(utoipa::OpenApi)]
#[openapi(components(schemas(
    Problem,
    FieldError,
    Money,
    Role,
    GrantCategory,
    GrantSource,
    GrantStatus,
    EntryKind,
    BurnOrderKey,
    OverageMode,
    Bucket,
    WriteMode,
    SortOrder,
    ExpiringAmount,
    me::MeResponse,
    me::Policy,
    me::RoleLimits,
    customers::CustomerSort,
    customers::CustomerSummary,
    customers::WalletSummary,
    Page<customers::CustomerSummary>,
    balances::BalancesResponse,
    balances::Balance,
    balances::ExpirationsResponse,
    balances::ScheduledExpiry,
    balances::CreditTypeAmount,
    grants::Grant,
    grants::GrantTotals,
    grants::GrantBalance,
    Page<grants::GrantBalance>,
    grants::RolloverPolicy,
    grants::CreateGrantRequest,
    grants::GrantCreated,
    grants::ApprovalPending,
    grants::LimitKind,
    grants::VoidGrantRequest,
    grants::GrantVoided,
    ledger::LedgerEntry,
    Page<ledger::LedgerEntry>,
    series::SeriesGroupBy,
    series::SeriesColumn,
    series::BurnSeries,
    series::BurnBucket,
    series::BalancePoint,
    series::BalanceHistory,
    series::ProductRate,
    series::ProjectedExpiry,
    series::ProjectedPoint,
    series::ForecastResponse,
    reports::ExpirationGroupBy,
    reports::ExpirationReport,
    reports::ExpirationReportRow,
    reports::BreakageGroupBy,
    reports::BreakageReport,
    reports::BreakageRow,
    reports::ReconciliationReport,
    reports::ReconciliationRow,
    events::IngestRequest,
    events::ResultDetail,
    events::EventIn,
    events::IngestResponse,
    events::EventStatus,
    events::EventResult,
    events::AcceptedDetail,
    events::Rating,
    events::Allocation,
    events::BurnLine,
    events::EventRejection,
    events::RejectedEvent,
    Page<events::RejectedEvent>,
    events::AuthorizeRequest,
    events::AuthorizeResponse,
    admin::CreateCreditTypeRequest,
    admin::CreditType,
    Page<admin::CreditType>,
    admin::RateVersion,
    admin::CreateProductRequest,
    admin::Product,
    Page<admin::Product>,
    admin::SetOverrideRequest,
    admin::RateOverride,
    Page<admin::RateOverride>,
    admin::CreateCustomerRequest,
    admin::Customer,
    admin::CreateUserRequest,
    admin::User,
    Page<admin::User>,
    admin::CreatedUser,
    meta::Health,
    meta::HealthStatus,
    meta::VersionInfo,
    limits::RoleLimitsEntry,
    limits::RoleLimitsList,
    limits::SetRoleLimitsRequest,
    approvals::ApprovalStatus,
    approvals::Approval,
    Page<approvals::Approval>,
    approvals::ApproveRequest,
    approvals::RejectRequest,
    approvals::CancelRequest,
    approvals::ApprovalDecided,
    approvals::GrantPreview,
    disputes::DisputeStatus,
    disputes::DisputeOutcome,
    disputes::OpenDisputeRequest,
    disputes::Dispute,
    Page<disputes::Dispute>,
    disputes::DisputeComment,
    disputes::DisputeDetail,
    disputes::AssignDisputeRequest,
    disputes::CommentRequest,
    disputes::ResolveDisputeRequest,
    disputes::DisputeResolved,
    disputes::EventEvidence,
    disputes::DisputeEvidence,
    audit::AuditRecord,
    extend::ExtendExpiryRequest,
    extend::ExpiryExtended,
    Page<audit::AuditRecord>,
)))]
pub struct ApiComponents;

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::OpenApi;

    #[test]
    fn every_schema_renders_with_decimals_as_strings() {
        let doc = serde_json::to_value(ApiComponents::openapi()).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        assert!(schemas.len() >= 80, "{}", schemas.len());
        let money = &schemas["Money"]["properties"];
        assert_eq!(money["amount"]["type"], "string", "{money}");
        let entry = &schemas["LedgerEntry"]["properties"];
        assert_eq!(entry["amount"]["type"], "string");
        assert_eq!(entry["booked_at"]["format"], "date-time");
        let bucket = &schemas["BurnBucket"]["properties"];
        assert_eq!(bucket["burned"]["items"]["type"], "string", "{bucket}");
        assert_eq!(bucket["date"]["format"], "date");
        // The flattened extension map makes Problem an `allOf` (object & fixed members).
        let problem = schemas["Problem"]["allOf"].as_array().unwrap();
        let fixed = problem.iter().find(|s| s.get("properties").is_some()).unwrap();
        assert_eq!(fixed["properties"]["type"]["type"], "string");
        assert_eq!(fixed["required"], serde_json::json!(["type", "title", "status", "detail", "code"]));
        assert_eq!(schemas["Role"]["enum"][1], "account_manager", "{}", schemas["Role"]);
        let text = doc.to_string();
        assert!(!text.contains("\"number\""), "no schema may use JSON numbers for amounts");
    }
}
