//! The background sweeper: books expiries, rollovers and overage
//! settlement that time has made due. Balances are right without it (every
//! query catches up virtually); it keeps the ledger's entries current and
//! is safe to run on several servers at once (expiry entries are written
//! once per grant, under the wallet's lock).

use std::time::Duration;

use tokio::sync::watch;

use crate::state::AppState;

/// Runs until `shutdown` flips to true.
pub async fn run(state: AppState, every: Duration, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let started = std::time::Instant::now();
        match state.store.sweep().await {
            Ok(written) => {
                metrics::counter!("creditdesk_sweeper_entries_total").increment(written as u64);
                metrics::gauge!("creditdesk_sweeper_last_run_seconds").set(started.elapsed().as_secs_f64());
                metrics::gauge!("creditdesk_sweeper_last_success_timestamp_seconds")
                    .set(state.store.now().timestamp() as f64);
            }
            Err(e) => {
                metrics::counter!("creditdesk_sweeper_failures_total").increment(1);
                tracing::error!(error = %e, "sweep failed");
            }
        }
        // Approval requests past their 7 days (reads already show them as
        // expired; this frees their disputes for another resolution).
        let expire = creditdesk_store::workflow::WorkflowOp::ExpireApprovals;
        if let Err(e) = state.store.workflow(expire, None).await {
            tracing::error!(error = %e, "expiring approval requests failed");
        }
    }
}
