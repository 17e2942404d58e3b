//! The types the UI sees, as one OpenAPI 3.1 document: the billing API's
//! (`creditdesk_server::http::api_doc`, from the Rust wire types) plus the
//! app's own command results. `ui/src/gen/openapi.json` is this document;
//! `openapi-typescript` turns it into `ui/src/gen/schema.ts`. Nothing is
//! copied by hand: `scripts/gen-types` regenerates both, and the test below
//! fails when the checked-in JSON is stale.

use utoipa::OpenApi;

use super::embedded::SeedProgressEvent;
use super::timing::TimingConfig;
use super::views::{
    BalanceAtView, BalanceExplanation, ChartSpec, ChartView, CustomerFilter, CustomerView, CustomersPage, ExplainView,
    FinanceView, LedgerFilter, LedgerPage, LedgerRow, RejectedPage, ReportProgress, TableColumn, ThemeName,
    WaterfallStep,
};
use super::workflows::{
    ApprovalScope, ApprovalsPage, AuditFilter, AuditPage, DisputeForm, DisputeView, DisputesPage, ExtendForm,
    ExtendSubmitted, GrantForm, GrantSubmitted, ResolveForm, RoleLimitsForm, VoidPreview,
};
use super::{AppError, ConnectionMode, DataAge, Session};
use crate::commands::{ConnectionSettings, ConnectionTest, ExportDone};

#[derive(OpenApi)]
#[openapi(components(schemas(
    AppError,
    DataAge,
    ConnectionMode,
    Session,
    SeedProgressEvent,
    ThemeName,
    ChartSpec,
    TableColumn,
    ChartView,
    CustomerFilter,
    CustomersPage,
    CustomerView,
    LedgerRow,
    LedgerFilter,
    LedgerPage,
    RejectedPage,
    ReportProgress,
    BalanceAtView,
    WaterfallStep,
    BalanceExplanation,
    ExplainView,
    FinanceView,
    ConnectionSettings,
    ConnectionTest,
    ExportDone,
    GrantForm,
    GrantSubmitted,
    ExtendForm,
    ExtendSubmitted,
    RoleLimitsForm,
    VoidPreview,
    ApprovalScope,
    ApprovalsPage,
    DisputesPage,
    DisputeView,
    DisputeForm,
    ResolveForm,
    AuditFilter,
    AuditPage,
    TimingConfig,
)))]
struct AppComponents;

/// The billing API's document with the app's command types added.
pub fn app_doc() -> utoipa::openapi::OpenApi {
    let mut doc = creditdesk_server::http::api_doc();
    doc.merge(AppComponents::openapi());
    doc
}

/// The document as checked in: pretty JSON with a final newline. Operation
/// ids the API reuses on two routes (`expirations`) get the route's path
/// appended on the second, so generated TypeScript has one name each.
pub fn app_doc_json() -> String {
    let mut doc = serde_json::to_value(app_doc()).expect("the document serialises");
    let mut seen = std::collections::HashSet::new();
    if let Some(paths) = doc["paths"].as_object_mut() {
        for (path, item) in paths.iter_mut() {
            for op in item.as_object_mut().into_iter().flat_map(|m| m.values_mut()) {
                let Some(id) = op.get("operationId").and_then(|v| v.as_str()).map(str::to_owned) else { continue };
                if !seen.insert(id.clone()) {
                    let suffix: String =
                        path.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
                    op["operationId"] = format!("{id}{}", suffix.trim_end_matches('_')).into();
                }
            }
        }
    }
    let mut text = serde_json::to_string_pretty(&doc).expect("the document serialises");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ui/src/gen/openapi.json` is what the Rust types say. With
    /// `CREDITDESK_WRITE_TYPES=1` the test rewrites it instead.
    #[test]
    fn checked_in_openapi_is_current() {
        // Read at run time: a test binary reused from another checkout
        // sharing the target dir must check (and write) this checkout's file.
        let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR");
        let path = std::path::Path::new(&manifest_dir).join("../ui/src/gen/openapi.json");
        let fresh = app_doc_json();
        if std::env::var_os("CREDITDESK_WRITE_TYPES").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &fresh).unwrap();
            return;
        }
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(current == fresh, "{} is stale: run scripts/gen-types", path.display());
    }

    #[test]
    fn app_types_join_the_api_schemas() {
        let doc = serde_json::to_value(app_doc()).unwrap();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for name in ["CustomerView", "ChartView", "Session", "CustomerSummary", "Problem"] {
            assert!(schemas.contains_key(name), "{name} missing");
        }
        assert_eq!(schemas["WaterfallStep"]["properties"]["amount"]["type"], "string", "decimals are strings");
    }
}
