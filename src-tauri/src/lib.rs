//! # creditdesk (the desktop app)
//!
//! Tauri 2. [`core`] is the app without a window (connection, cache,
//! embedded server, views, charts); [`commands`] exposes it to the UI in
//! `ui/`. See `docs/desktop.md`.

pub mod commands;
pub mod core;

use std::io::IsTerminal;
use std::path::PathBuf;

use tauri::Manager;

/// The app's directories: `CREDITDESK_APP_DIR` (config and data both,
/// for tests and portable use) or the platform's config and data dirs.
fn profiles(app: &tauri::App) -> Result<core::profile::Profiles, Box<dyn std::error::Error>> {
    if let Some(dir) = std::env::var_os("CREDITDESK_APP_DIR") {
        let dir = PathBuf::from(dir);
        return Ok(core::profile::Profiles::new(dir.clone(), dir));
    }
    Ok(core::profile::Profiles::new(app.path().app_config_dir()?, app.path().app_data_dir()?))
}

/// WebKitGTK composites the page on the GPU through OpenGL. Where there is no
/// GPU (virtual machines and remote desktops, where many support teams
/// work) that is Mesa's software renderer, which cost this UI most of its
/// paint time and about 130 MiB (`BENCHMARKS.md`). The console has no
/// animation, video or WebGL to gain from it, so it paints without
/// compositing unless `CREDITDESK_GPU_COMPOSITING=1`, or WebKit's own
/// `WEBKIT_DISABLE_COMPOSITING_MODE` is set. Call before any thread starts.
pub fn choose_webkit_compositing() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_none()
        && std::env::var("CREDITDESK_GPU_COMPOSITING").as_deref() != Ok("1")
    {
        std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
    }
}

/// JavaScriptCore's optimizing tiers (DFG, and FTL above it) compile the
/// UI's hot React code again once it has run for a while; in this app they
/// held about 55 MiB of the web process's memory and bought nothing
/// measurable, because the heavy work (charts, money, paging) is in Rust.
/// The interpreter and the baseline JIT stay on. `BENCHMARKS.md` has the
/// measurements; `CREDITDESK_JS_OPTIMIZING_JIT=1`, or JavaScriptCore's own
/// `JSC_useDFGJIT`, turns them back on. WebKit's processes inherit the
/// environment, so this must run before the first webview (and any thread).
fn choose_javascript_tiers() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("JSC_useDFGJIT").is_none()
        && std::env::var("CREDITDESK_JS_OPTIMIZING_JIT").as_deref() != Ok("1")
    {
        std::env::set_var("JSC_useDFGJIT", "0");
    }
}

/// Logs to stderr, filtered by `CREDITDESK_LOG` (default `info`). The app's
/// own spans also log their duration when they end: with
/// `CREDITDESK_LOG=creditdesk_app=debug`, each view command and chart draw
/// (the embedded server's request spans already log their latency).
fn init_logging() {
    use tracing_subscriber::fmt::format::FmtSpan;
    use tracing_subscriber::prelude::*;
    let ansi = std::io::stderr().is_terminal();
    let filter = tracing_subscriber::EnvFilter::try_from_env("CREDITDESK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let events = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(ansi);
    let app_span_durations = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_span_events(FmtSpan::CLOSE)
        .with_filter(tracing_subscriber::filter::filter_fn(|m| {
            m.is_span() && m.target().starts_with("creditdesk_app")
        }));
    tracing_subscriber::registry().with(filter).with(events).with(app_span_durations).init();
}

pub fn run() {
    choose_webkit_compositing();
    choose_javascript_tiers();
    init_logging();
    // The benchmark's marks from the Rust side (no-ops in normal use): where
    // the time before the page goes, beside the empty window's same marks.
    let timing = core::timing::Timing::from_env(|k| std::env::var(k).ok());
    timing.mark_quietly("main");
    tauri::Builder::default()
        .plugin(tauri_plugin_opener::init())
        .on_page_load(|webview, payload| {
            if payload.event() == tauri::webview::PageLoadEvent::Started {
                webview.state::<core::timing::Timing>().mark_quietly("page_started");
            }
        })
        .setup(move |app| {
            timing.mark_quietly("setup");
            app.manage(timing);
            let profiles = profiles(app)?;
            app.manage(core::AppCore::new(profiles));
            // Sign in while the window loads (about 300 ms here): the UI's
            // `app_start` then finds the session ready, or waits for it.
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move { handle.state::<core::AppCore>().sign_in_at_launch().await });
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::app_start,
            commands::cancel_seed,
            commands::session,
            commands::list_customers,
            commands::get_customer,
            commands::burn_chart,
            commands::balance_chart,
            commands::ledger_page,
            commands::balance_at,
            commands::explain_balance,
            commands::finance,
            commands::export_csv,
            commands::connection_settings,
            commands::test_connection,
            commands::save_connection,
            commands::use_embedded,
            commands::open_external,
            commands::me,
            commands::preview_grant,
            commands::submit_grant,
            commands::void_grant,
            commands::extend_grant,
            commands::preview_void,
            commands::credit_types,
            commands::products,
            commands::rejected_events,
            commands::usage_event,
            commands::cancel_reports,
            commands::role_limits,
            commands::set_role_limits,
            commands::list_approvals,
            commands::approve,
            commands::reject,
            commands::cancel_approval,
            commands::list_disputes,
            commands::get_dispute,
            commands::open_dispute,
            commands::assign_dispute,
            commands::comment_dispute,
            commands::resolve_dispute,
            commands::audit_log,
            commands::timing_config,
            commands::timing_mark,
        ])
        .run(tauri::generate_context!())
        .expect("error while running the Creditdesk app");
}
