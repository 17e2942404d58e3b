// Typed calls to the app's Rust commands. Every type comes from
// src/gen/schema.ts, generated from the Rust types (scripts/gen-types);
// nothing here is written by hand except the command names.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type { components } from "./gen/schema";
import { markOnce } from "./lib/marks";

export type S = components["schemas"];
export type AppError = S["AppError"];
export type ChartSpec = S["ChartSpec"];

/** Turns whatever a command threw into an AppError. */
export function toAppError(e: unknown): AppError {
  if (e && typeof e === "object" && "code" in e && "message" in e) return e as AppError;
  return { code: "internal", message: String(e), hint: "Restart the app if it persists." };
}

// The first call of each command marks `sent:<cmd>` and `answered:<cmd>`
// (the app benchmark's cold-start breakdown).
async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  markOnce(`sent:${cmd}`);
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw toAppError(e);
  } finally {
    markOnce(`answered:${cmd}`);
  }
}

export const api = {
  appStart: () => call<S["Session"]>("app_start"),
  cancelSeed: () => call<boolean>("cancel_seed"),
  cancelReports: () => call<null>("cancel_reports"),
  session: () => call<S["Session"] | null>("session"),
  customers: (filter: S["CustomerFilter"], cursor: string | null) =>
    call<S["CustomersPage"]>("list_customers", { filter, cursor }),
  customer: (id: string) => call<S["CustomerView"]>("get_customer", { id }),
  burnChart: (customer: string, creditType: string, days: number, spec: ChartSpec) =>
    call<S["ChartView"]>("burn_chart", { customer, creditType, days, spec }),
  balanceChart: (customer: string, creditType: string, spec: ChartSpec) =>
    call<S["ChartView"]>("balance_chart", { customer, creditType, spec }),
  ledger: (customer: string, filter: S["LedgerFilter"], cursor: string | null) =>
    call<S["LedgerPage"]>("ledger_page", { customer, filter, cursor }),
  balanceAt: (customer: string, at: string) => call<S["BalanceAtView"]>("balance_at", { customer, at }),
  explain: (customer: string) => call<S["ExplainView"]>("explain_balance", { customer }),
  finance: (days: number, spec: ChartSpec) => call<S["FinanceView"]>("finance", { days, spec }),
  exportCsv: (kind: string, days: number, spec: ChartSpec) =>
    call<S["ExportDone"]>("export_csv", { kind, days, spec }),
  connectionSettings: () => call<S["ConnectionSettings"]>("connection_settings"),
  testConnection: (serverUrl: string, token: string) =>
    call<S["ConnectionTest"]>("test_connection", { serverUrl, token }),
  saveConnection: (serverUrl: string, token: string) =>
    call<S["Session"]>("save_connection", { serverUrl, token }),
  useEmbedded: () => call<S["Session"]>("use_embedded"),
  openExternal: (url: string) => call<null>("open_external", { url }),
  me: () => call<S["MeResponse"]>("me"),
  previewGrant: (form: S["GrantForm"]) => call<S["GrantPreview"]>("preview_grant", { form }),
  submitGrant: (form: S["GrantForm"]) => call<S["GrantSubmitted"]>("submit_grant", { form }),
  creditTypes: () => call<S["CreditType"][]>("credit_types"),
  products: () => call<S["Product"][]>("products"),
  usageEvent: (event: string) => call<S["EventEvidence"]>("usage_event", { event }),
  rejectedEvents: (customer: string, cursor: string | null) =>
    call<S["RejectedPage"]>("rejected_events", { customer, cursor }),
  previewVoid: (customer: string, grant: string) => call<S["VoidPreview"]>("preview_void", { customer, grant }),
  extendGrant: (grant: string, form: S["ExtendForm"]) => call<S["ExtendSubmitted"]>("extend_grant", { grant, form }),
  roleLimits: () => call<S["RoleLimitsList"]>("role_limits"),
  setRoleLimits: (role: S["Role"], form: S["RoleLimitsForm"]) =>
    call<S["RoleLimitsEntry"]>("set_role_limits", { role, form }),
  voidGrant: (grant: string, reasonCode: string, ticketRef: string, note: string) =>
    call<S["GrantVoided"]>("void_grant", { grant, reasonCode, ticketRef, note }),
  approvals: (
    scope: S["ApprovalScope"],
    customer: string | null,
    status: S["ApprovalStatus"] | null,
    cursor: string | null,
  ) => call<S["ApprovalsPage"]>("list_approvals", { scope, customer, status, cursor }),
  approve: (id: string, note: string | null) => call<S["ApprovalDecided"]>("approve", { id, note }),
  reject: (id: string, reason: string) => call<S["ApprovalDecided"]>("reject", { id, reason }),
  cancelApproval: (id: string, reason: string | null) =>
    call<S["ApprovalDecided"]>("cancel_approval", { id, reason }),
  disputes: (status: S["DisputeStatus"] | null, customer: string | null, overdue: boolean | null, cursor: string | null) =>
    call<S["DisputesPage"]>("list_disputes", { status, customer, overdue, cursor }),
  dispute: (id: string) => call<S["DisputeView"]>("get_dispute", { id }),
  openDispute: (form: S["DisputeForm"]) => call<S["Dispute"]>("open_dispute", { form }),
  assignDispute: (id: string, assignee: string) => call<S["Dispute"]>("assign_dispute", { id, assignee }),
  commentDispute: (id: string, body: string) => call<S["DisputeComment"]>("comment_dispute", { id, body }),
  resolveDispute: (id: string, form: S["ResolveForm"]) => call<S["DisputeResolved"]>("resolve_dispute", { id, form }),
  audit: (filter: S["AuditFilter"], cursor: string | null) => call<S["AuditPage"]>("audit_log", { filter, cursor }),
  timingConfig: () => call<S["TimingConfig"]>("timing_config"),
  timingMark: (name: string, detail: string) => call<null>("timing_mark", { name, detail }),
};

export function onReportProgress(f: (p: S["ReportProgress"]) => void): Promise<UnlistenFn> {
  return listen<S["ReportProgress"]>("report-progress", (e) => f(e.payload));
}

export function onSeedProgress(f: (p: S["SeedProgressEvent"]) => void): Promise<UnlistenFn> {
  return listen<S["SeedProgressEvent"]>("seed-progress", (e) => f(e.payload));
}
