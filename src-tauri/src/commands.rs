//! The `#[tauri::command]`s: each parses its arguments, calls [`AppCore`]
//! and maps errors to [`AppError`]. No logic lives here.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use creditdesk_api::common::Role;
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Emitter, Manager, State};
use utoipa::ToSchema;

use crate::core::embedded::seed_options;
use crate::core::export::{finance_csv, write_export};
use crate::core::timing::{Timing, TimingConfig};
use crate::core::views::{
    BalanceAtView, ChartSpec, ChartView, CustomerFilter, CustomerView, CustomersPage, ExplainView, FinanceView,
    LedgerFilter, LedgerPage, Progress, RejectedPage, ReportProgress,
};
use crate::core::workflows::{
    ApprovalScope, ApprovalsPage, AuditFilter, AuditPage, DisputeForm, DisputeView, DisputesPage, ExtendForm,
    ExtendSubmitted, GrantForm, GrantSubmitted, ResolveForm, RoleLimitsForm, VoidPreview,
};
use crate::core::{AppCore, AppError, ConnectionMode, CoreError, Session};
use creditdesk_api::admin::{CreditType, Product};
use creditdesk_api::approvals::{ApprovalDecided, ApprovalStatus, GrantPreview};
use creditdesk_api::disputes::{Dispute, DisputeComment, DisputeResolved, DisputeStatus, EventEvidence};
use creditdesk_api::grants::GrantVoided;
use creditdesk_api::limits::{RoleLimitsEntry, RoleLimitsList};
use creditdesk_api::me::MeResponse;

type Res<T> = Result<T, AppError>;

/// The `seed-progress` event name.
pub const SEED_PROGRESS: &str = "seed-progress";

/// Signs in: to the configured server, else to the embedded one (seeding
/// it first, with `seed-progress` events).
#[tauri::command]
pub async fn app_start(app: AppHandle, core: State<'_, AppCore>) -> Res<Session> {
    if let Some(session) = core.remote_session().await? {
        return Ok(session);
    }
    let opts = seed_options(|k| std::env::var(k).ok())?;
    let emit = app.clone();
    Ok(core
        .start_embedded(opts, move |p| {
            let _ = emit.emit(SEED_PROGRESS, p);
        })
        .await?)
}

#[tauri::command]
pub async fn cancel_seed(core: State<'_, AppCore>) -> Res<bool> {
    Ok(core.cancel_seed().await)
}

#[tauri::command]
pub async fn session(core: State<'_, AppCore>) -> Res<Option<Session>> {
    Ok(core.session().await)
}

#[tauri::command]
pub async fn list_customers(
    core: State<'_, AppCore>,
    filter: CustomerFilter,
    cursor: Option<String>,
) -> Res<CustomersPage> {
    Ok(core.customers(filter, cursor).await?)
}

#[tauri::command]
pub async fn get_customer(core: State<'_, AppCore>, id: String) -> Res<CustomerView> {
    Ok(core.customer(&id).await?)
}

#[tauri::command]
pub async fn burn_chart(
    core: State<'_, AppCore>,
    customer: String,
    credit_type: String,
    days: u32,
    spec: ChartSpec,
) -> Res<ChartView> {
    Ok(core.burn_chart(&customer, &credit_type, days, spec).await?)
}

#[tauri::command]
pub async fn balance_chart(
    core: State<'_, AppCore>,
    customer: String,
    credit_type: String,
    spec: ChartSpec,
) -> Res<ChartView> {
    Ok(core.balance_chart(&customer, &credit_type, spec).await?)
}

#[tauri::command]
pub async fn ledger_page(
    core: State<'_, AppCore>,
    customer: String,
    filter: LedgerFilter,
    cursor: Option<String>,
) -> Res<LedgerPage> {
    Ok(core.ledger(&customer, filter, cursor).await?)
}

#[tauri::command]
pub async fn balance_at(core: State<'_, AppCore>, customer: String, at: DateTime<Utc>) -> Res<BalanceAtView> {
    Ok(core.balance_at(&customer, at).await?)
}

#[tauri::command]
pub async fn explain_balance(core: State<'_, AppCore>, customer: String) -> Res<ExplainView> {
    Ok(core.explain_balance(&customer).await?)
}

/// The `report-progress` event name.
pub const REPORT_PROGRESS: &str = "report-progress";

/// Long report work reports each step as a `report-progress` event.
fn report_progress(app: &AppHandle) -> Progress {
    let app = app.clone();
    Arc::new(move |p: ReportProgress| {
        let _ = app.emit(REPORT_PROGRESS, p);
    })
}

#[tauri::command]
pub async fn finance(app: AppHandle, core: State<'_, AppCore>, days: u32, spec: ChartSpec) -> Res<FinanceView> {
    Ok(core.finance(days, spec, report_progress(&app)).await?)
}

/// Stops the finance reports and CSV exports under way (each answers `cancelled`).
#[tauri::command]
pub async fn cancel_reports(core: State<'_, AppCore>) -> Res<()> {
    core.cancel_reports();
    Ok(())
}

/// Where an export went.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ExportDone {
    pub path: String,
    pub rows: usize,
}

/// Writes a finance table as CSV into the Downloads folder (the app's data
/// folder if there is none).
#[tauri::command]
pub async fn export_csv(
    app: AppHandle,
    core: State<'_, AppCore>,
    kind: String,
    days: u32,
    spec: ChartSpec,
) -> Res<ExportDone> {
    let view = core.finance(days, spec, report_progress(&app)).await?;
    let (text, rows) = finance_csv(&view, &kind)?;
    let dir = std::env::var_os("CREDITDESK_EXPORT_DIR")
        .map(std::path::PathBuf::from)
        .or_else(|| app.path().download_dir().ok())
        .unwrap_or_else(|| core.profiles().data_dir().join("exports"));
    let path = write_export(&dir, &kind, &text)?;
    Ok(ExportDone { path: path.display().to_string(), rows })
}

/// Settings -> Connection as stored (never the token itself).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ConnectionSettings {
    pub mode: ConnectionMode,
    #[serde(default)]
    pub server_url: Option<String>,
    pub has_token: bool,
}

#[tauri::command]
pub async fn connection_settings(core: State<'_, AppCore>) -> Res<ConnectionSettings> {
    let remote = core.profiles().remote()?;
    Ok(ConnectionSettings {
        mode: if remote.is_some() { ConnectionMode::Remote } else { ConnectionMode::Embedded },
        has_token: remote.as_ref().is_some_and(|r| !r.token.is_empty()),
        server_url: remote.map(|r| r.server_url),
    })
}

/// What "Test connection" found.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ConnectionTest {
    pub server_version: String,
    pub user_name: String,
    pub role: Role,
}

#[tauri::command]
pub async fn test_connection(server_url: String, token: String) -> Res<ConnectionTest> {
    let (_, server_version, me) = AppCore::probe(&server_url, &token).await?;
    Ok(ConnectionTest { server_version, user_name: me.name, role: me.role })
}

#[tauri::command]
pub async fn save_connection(core: State<'_, AppCore>, server_url: String, token: String) -> Res<Session> {
    Ok(core.save_remote(&server_url, &token).await?)
}

/// Forgets the remote server and goes back to the embedded one.
#[tauri::command]
pub async fn use_embedded(app: AppHandle, core: State<'_, AppCore>) -> Res<Session> {
    core.forget_remote().await?;
    app_start(app.clone(), core).await
}

/// Opens an https link in the system browser (never inside the app).
#[tauri::command]
pub fn open_external(app: AppHandle, url: String) -> Res<()> {
    if !url.starts_with("https://") {
        return Err(CoreError::input("url", "must be an https:// link").into());
    }
    use tauri_plugin_opener::OpenerExt;
    app.opener().open_url(url, None::<&str>).map_err(|e| AppError::from(CoreError::Settings(e.to_string())))
}

// ---- workflows (docs/workflows.md): the server decides, the app shows ----

#[tauri::command]
pub async fn me(core: State<'_, AppCore>) -> Res<MeResponse> {
    Ok(core.me().await?)
}

#[tauri::command]
pub async fn preview_grant(core: State<'_, AppCore>, form: GrantForm) -> Res<GrantPreview> {
    Ok(core.preview_grant(&form).await?)
}

#[tauri::command]
pub async fn submit_grant(core: State<'_, AppCore>, form: GrantForm) -> Res<GrantSubmitted> {
    Ok(core.submit_grant(&form).await?)
}

#[tauri::command]
pub async fn void_grant(
    core: State<'_, AppCore>,
    grant: String,
    reason_code: String,
    ticket_ref: String,
    note: String,
) -> Res<GrantVoided> {
    Ok(core.void_grant(&grant, &reason_code, &ticket_ref, &note).await?)
}

#[tauri::command]
pub async fn preview_void(core: State<'_, AppCore>, customer: String, grant: String) -> Res<VoidPreview> {
    Ok(core.preview_void(&customer, &grant).await?)
}

#[tauri::command]
pub async fn credit_types(core: State<'_, AppCore>) -> Res<Vec<CreditType>> {
    Ok(core.credit_types().await?)
}

#[tauri::command]
pub async fn rejected_events(core: State<'_, AppCore>, customer: String, cursor: Option<String>) -> Res<RejectedPage> {
    Ok(core.rejected_events(&customer, cursor).await?)
}

#[tauri::command]
pub async fn usage_event(core: State<'_, AppCore>, event: String) -> Res<EventEvidence> {
    Ok(core.usage_event(&event).await?)
}

#[tauri::command]
pub async fn products(core: State<'_, AppCore>) -> Res<Vec<Product>> {
    Ok(core.products().await?)
}

#[tauri::command]
pub async fn extend_grant(core: State<'_, AppCore>, grant: String, form: ExtendForm) -> Res<ExtendSubmitted> {
    Ok(core.extend_grant(&grant, &form).await?)
}

#[tauri::command]
pub async fn role_limits(core: State<'_, AppCore>) -> Res<RoleLimitsList> {
    Ok(core.role_limits().await?)
}

#[tauri::command]
pub async fn set_role_limits(core: State<'_, AppCore>, role: Role, form: RoleLimitsForm) -> Res<RoleLimitsEntry> {
    Ok(core.set_role_limits(role, &form).await?)
}

#[tauri::command]
pub async fn list_approvals(
    core: State<'_, AppCore>,
    scope: ApprovalScope,
    customer: Option<String>,
    status: Option<ApprovalStatus>,
    cursor: Option<String>,
) -> Res<ApprovalsPage> {
    Ok(core.approvals(scope, customer, status, cursor).await?)
}

#[tauri::command]
pub async fn approve(core: State<'_, AppCore>, id: String, note: Option<String>) -> Res<ApprovalDecided> {
    Ok(core.approve(&id, note).await?)
}

#[tauri::command]
pub async fn reject(core: State<'_, AppCore>, id: String, reason: String) -> Res<ApprovalDecided> {
    Ok(core.reject(&id, &reason).await?)
}

#[tauri::command]
pub async fn cancel_approval(core: State<'_, AppCore>, id: String, reason: Option<String>) -> Res<ApprovalDecided> {
    Ok(core.cancel_approval(&id, reason).await?)
}

#[tauri::command]
pub async fn list_disputes(
    core: State<'_, AppCore>,
    status: Option<DisputeStatus>,
    customer: Option<String>,
    overdue: Option<bool>,
    cursor: Option<String>,
) -> Res<DisputesPage> {
    Ok(core.disputes(status, customer, overdue, cursor).await?)
}

#[tauri::command]
pub async fn get_dispute(core: State<'_, AppCore>, id: String) -> Res<DisputeView> {
    Ok(core.dispute(&id).await?)
}

#[tauri::command]
pub async fn open_dispute(core: State<'_, AppCore>, form: DisputeForm) -> Res<Dispute> {
    Ok(core.open_dispute(&form).await?)
}

#[tauri::command]
pub async fn assign_dispute(core: State<'_, AppCore>, id: String, assignee: String) -> Res<Dispute> {
    Ok(core.assign_dispute(&id, &assignee).await?)
}

#[tauri::command]
pub async fn comment_dispute(core: State<'_, AppCore>, id: String, body: String) -> Res<DisputeComment> {
    Ok(core.comment_dispute(&id, &body).await?)
}

#[tauri::command]
pub async fn resolve_dispute(core: State<'_, AppCore>, id: String, form: ResolveForm) -> Res<DisputeResolved> {
    Ok(core.resolve_dispute(&id, &form).await?)
}

#[tauri::command]
pub async fn audit_log(core: State<'_, AppCore>, filter: AuditFilter, cursor: Option<String>) -> Res<AuditPage> {
    Ok(core.audit(filter, cursor).await?)
}

/// The benchmark's instructions (`enabled: false` outside `scripts/bench-app`).
#[tauri::command]
pub fn timing_config(timing: State<'_, Timing>) -> TimingConfig {
    timing.config().clone()
}

/// Records a benchmark timing mark (a no-op outside `scripts/bench-app`).
#[tauri::command]
pub fn timing_mark(timing: State<'_, Timing>, name: String, detail: String) -> Res<()> {
    Ok(timing.mark(&name, &detail)?)
}
