//! How much ingest is let in at once: request bodies are admitted by their
//! size against a fixed budget before they are read, so when clients send
//! faster than the writer commits, the excess waits in the connections
//! (the kernel's socket buffers and the clients) instead of in this
//! process's memory as parsed batches queued for the writer.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::header::CONTENT_LENGTH;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::ApiError;
use super::extract::MAX_BODY_BYTES;

/// Ingest body bytes in flight (read, parsed or waiting for the writer)
/// at most. Half the largest body: about 170 of the bench's 200-event
/// batches (24 KB each, 35,000 events, more than the writer's largest
/// group of 20,000), so a server that keeps up never makes a batch wait
/// here. Measured with 256 clients sending 1,000-event batches as fast as
/// acked (2026-12-04, docs/bench-history.md): peak RSS 240 MB against 314 MB with
/// no budget (263 MB with 16 MiB), ingest the same.
pub const INGEST_BYTES_IN_FLIGHT: usize = MAX_BODY_BYTES / 2;

/// The budget, shared by every ingest request of one server.
#[derive(Clone)]
pub struct Admission {
    budget: Arc<Semaphore>,
    bytes: usize,
}

impl Default for Admission {
    fn default() -> Admission {
        Admission::with_budget(INGEST_BYTES_IN_FLIGHT)
    }
}

impl Admission {
    pub fn with_budget(bytes: usize) -> Admission {
        let bytes = bytes.clamp(1, Semaphore::MAX_PERMITS);
        Admission { budget: Arc::new(Semaphore::new(bytes)), bytes }
    }

    /// Waits until a body of `declared` bytes ([`declared_length`]) fits
    /// the budget; the permit returns its bytes when dropped. An
    /// undeclared length counts as the largest body allowed (the body limit
    /// refuses a longer one); no body counts for more than the whole
    /// budget, so any body is admitted once the others are done.
    pub async fn admit(&self, declared: Option<usize>) -> Result<OwnedSemaphorePermit, ApiError> {
        let size = declared.unwrap_or(MAX_BODY_BYTES).clamp(1, self.bytes);
        // `size` <= `bytes` <= Semaphore::MAX_PERMITS < u32::MAX.
        let size = u32::try_from(size).map_err(|_| ApiError::internal("ingest admission: size"))?;
        match self.budget.clone().try_acquire_many_owned(size) {
            Ok(permit) => Ok(permit),
            Err(_) => {
                metrics::counter!("creditdesk_ingest_admission_waits_total").increment(1);
                self.budget
                    .clone()
                    .acquire_many_owned(size)
                    .await
                    .map_err(|_| ApiError::internal("ingest admission closed"))
            }
        }
    }
}

/// A request's declared body length (`Content-Length`), read before the
/// body (and before any wait: a borrowed request cannot be held across one).
pub fn declared_length(request: &Request) -> Option<usize> {
    request.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::body::Body;

    use super::*;

    fn request(content_length: Option<usize>) -> Request {
        let mut b = axum::http::Request::builder().method("POST").uri("/v1/events");
        if let Some(n) = content_length {
            b = b.header(CONTENT_LENGTH, n);
        }
        b.body(Body::empty()).unwrap()
    }

    async fn admitted_soon(a: &Admission, r: &Request) -> Option<OwnedSemaphorePermit> {
        tokio::time::timeout(Duration::from_millis(50), a.admit(declared_length(r))).await.ok().map(Result::unwrap)
    }

    #[tokio::test]
    async fn a_body_waits_while_the_bytes_in_flight_are_taken_and_enters_when_they_are_returned() {
        let a = Admission::with_budget(1_000);
        let first = admitted_soon(&a, &request(Some(600))).await.expect("fits");
        let second = request(Some(600));
        assert!(admitted_soon(&a, &second).await.is_none(), "600 + 600 > 1,000: waits");
        assert!(admitted_soon(&a, &request(Some(400))).await.is_some(), "600 + 400 fits");
        drop(first);
        assert!(admitted_soon(&a, &second).await.is_some());
    }

    #[tokio::test]
    async fn a_body_larger_than_the_budget_or_undeclared_enters_alone() {
        let a = Admission::with_budget(1_000);
        let big = admitted_soon(&a, &request(Some(5_000))).await.expect("alone, it enters");
        assert!(admitted_soon(&a, &request(Some(1))).await.is_none(), "the budget is taken whole");
        drop(big);
        let undeclared = admitted_soon(&a, &request(None)).await.expect("alone, it enters");
        assert!(admitted_soon(&a, &request(Some(1))).await.is_none(), "counted as the largest body");
        drop(undeclared);
    }
}
