//! Restricts the UI to the app's own commands: each gets an `allow-*`
//! permission, and `capabilities/default.json` grants exactly those.

const COMMANDS: &[&str] = &[
    "app_start",
    "cancel_seed",
    "session",
    "list_customers",
    "get_customer",
    "burn_chart",
    "balance_chart",
    "ledger_page",
    "balance_at",
    "explain_balance",
    "finance",
    "export_csv",
    "connection_settings",
    "test_connection",
    "save_connection",
    "use_embedded",
    "open_external",
    "me",
    "preview_grant",
    "submit_grant",
    "void_grant",
    "extend_grant",
    "preview_void",
    "credit_types",
    "products",
    "rejected_events",
    "usage_event",
    "cancel_reports",
    "role_limits",
    "set_role_limits",
    "list_approvals",
    "approve",
    "reject",
    "cancel_approval",
    "list_disputes",
    "get_dispute",
    "open_dispute",
    "assign_dispute",
    "comment_dispute",
    "resolve_dispute",
    "audit_log",
    "timing_config",
    "timing_mark",
];

fn main() {
    // The UI is compiled into the binary: it must be built first. The
    // manifest dir is read when the script runs, not baked in when it is
    // compiled: cargo reuses a compiled build script across checkouts that
    // share a target dir, and a baked-in path watches the other checkout.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let ui = std::path::Path::new(&manifest_dir).join("../ui/dist/index.html");
    println!("cargo:rerun-if-changed={}", ui.display());
    if !ui.exists() {
        panic!("ui/dist is missing: build the UI first (cd ui && npm ci && npm run build; scripts/run does both)");
    }
    tauri_build::try_build(
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri build");
}
