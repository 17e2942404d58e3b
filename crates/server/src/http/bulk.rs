//! Where usage ingest runs: one thread of its own, in the background
//! scheduling class, off the runtime that serves everything else.
//!
//! A batch takes milliseconds of CPU to parse, validate and render. On the
//! main runtime's workers that ran back to back with support agents'
//! balance lookups, and a lookup waited for a core behind it (`perf
//! sched` under live ingest: one worker held its core for 4.7 ms while
//! another, woken with a lookup, waited 2.6 ms). Here the work is in the
//! background class with the store's writer
//! ([`creditdesk_store::run_in_background`]), so a woken request thread
//! takes the core from it at once. One thread, not a pool: two workers
//! woke each other to share tasks, and the writer's CPU per event rose by
//! 3-6 %; one thread parses about 400,000 events/s, above the duplicate
//! replay target (docs/bench-history.md, 2026-12-04).
//!
//! A batch that asks for its results' status alone (`result_detail:
//! status`) is only parsed here: it waits for the store on the HTTP
//! worker and its small answer is rendered there, which saves the hop
//! back through this thread, a background thread's wake-up that waits for
//! a core (docs/server.md, "Answers with status alone").

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::Handle;

use super::error::ApiError;

/// Started on first use; its thread runs for the process's life. `None`
/// if it could not start: bulk work then runs where it is called from.
fn runtime() -> Option<&'static Handle> {
    static BULK: OnceLock<Option<Handle>> = OnceLock::new();
    BULK.get_or_init(|| {
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "cannot start the bulk runtime; ingest runs on the main one");
                return None;
            }
        };
        let handle = runtime.handle().clone();
        let started = std::thread::Builder::new().name("creditdesk-bulk".into()).spawn(move || {
            creditdesk_store::run_in_background();
            runtime.block_on(std::future::pending::<()>());
        });
        match started {
            Ok(_) => Some(handle),
            Err(e) => {
                tracing::warn!(error = %e, "cannot start the bulk thread; ingest runs on the main runtime");
                None
            }
        }
    })
    .as_ref()
}

/// Runs `work` to completion on the bulk runtime.
pub async fn run<T: Send + 'static>(
    work: impl Future<Output = Result<T, ApiError>> + Send + 'static,
) -> Result<T, ApiError> {
    match runtime() {
        Some(bulk) => bulk.spawn(work).await.map_err(|e| ApiError::internal(format!("bulk task: {e}")))?,
        None => work.await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where the work ran: its thread's name and (Linux) scheduling policy.
    async fn where_it_ran() -> Result<(Option<String>, i32), ApiError> {
        let name = std::thread::current().name().map(str::to_owned);
        #[cfg(target_os = "linux")]
        // SAFETY: a query about the calling thread; no memory is passed.
        let policy = unsafe { libc::sched_getscheduler(0) };
        #[cfg(not(target_os = "linux"))]
        let policy = 0;
        Ok((name, policy))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bulk_work_runs_on_its_own_background_thread_and_keeps_its_errors() {
        let (name, policy) = run(where_it_ran()).await.unwrap();
        assert_eq!(name.as_deref(), Some("creditdesk-bulk"));
        #[cfg(target_os = "linux")]
        assert_eq!(policy, libc::SCHED_IDLE);
        let (here, _) = where_it_ran().await.unwrap();
        assert_ne!(here.as_deref(), Some("creditdesk-bulk"));

        let refused = run(async { Err::<(), _>(ApiError::field("events", "must not be empty")) }).await.unwrap_err();
        assert_eq!(refused.to_string(), ApiError::field("events", "must not be empty").to_string());
    }
}
