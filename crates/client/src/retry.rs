//! When to retry, as pure functions (the client's loop only sleeps and resends).
//!
//! A call is retried only if repeating it cannot do anything twice: GETs and
//! `POST /v1/authorize` (no side effects), and writes the client sends with an
//! `Idempotency-Key` (the server replays the first answer). Creating a user
//! is never retried (see [`creditdesk_api::routes::Retry::Never`]).
//!
//! Retried failures: no response at all (connect error, timeout, connection
//! reset) and the statuses that mean "not now" rather than "no": 429, 502,
//! 503, 504. Everything else (4xx, 500) is an answer and is returned as is:
//! a 500 is a bug that retrying would only repeat.

use std::time::Duration;

use chrono::{DateTime, Utc};
use creditdesk_api::routes::Retry;

/// How many times and how patiently to retry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, including the first (1 = never retry).
    pub max_attempts: u32,
    /// Backoff before the first retry; doubles each retry.
    pub initial_backoff: Duration,
    /// Cap on one backoff.
    pub max_backoff: Duration,
    /// A `Retry-After` longer than this is not waited for: the call fails at
    /// once with the server's answer (which carries the delay), instead of
    /// blocking the caller for minutes.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retries.
    pub fn never() -> RetryPolicy {
        RetryPolicy { max_attempts: 1, ..RetryPolicy::default() }
    }
}

/// How an attempt failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The server answered with this status (and maybe a `Retry-After`).
    Status { status: u16, retry_after: Option<Duration> },
    /// No connection could be made (refused, DNS, TLS handshake).
    Connect,
    /// The attempt timed out (connect or overall).
    Timeout,
    /// The connection broke while sending or receiving.
    Broken,
}

/// What to do after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Retry { after: Duration },
    Stop,
}

/// Whether a status is worth retrying (given the call is idempotent).
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// Decides after attempt number `attempt` (1-based) failed with `failure`.
/// `jitter_permille` (0..=1000) spreads backoffs of many clients apart.
pub fn decide(policy: &RetryPolicy, retry: Retry, attempt: u32, failure: Failure, jitter_permille: u32) -> Decision {
    if retry == Retry::Never || attempt >= policy.max_attempts {
        return Decision::Stop;
    }
    match failure {
        Failure::Status { status, retry_after } => {
            if !is_retryable_status(status) {
                return Decision::Stop;
            }
            match retry_after {
                Some(wait) if wait > policy.max_retry_after => Decision::Stop,
                Some(wait) => Decision::Retry { after: wait },
                None => Decision::Retry { after: backoff(policy, attempt, jitter_permille) },
            }
        }
        Failure::Connect | Failure::Timeout | Failure::Broken => {
            Decision::Retry { after: backoff(policy, attempt, jitter_permille) }
        }
    }
}

/// Exponential backoff with "equal jitter": the delay for retry `attempt`
/// is `d/2 + (d/2 x jitter)` where `d = initial x 2^(attempt-1)`, capped at
/// `max_backoff`. Half is guaranteed (the server gets a real pause), half is
/// random (clients that failed together do not retry together).
pub fn backoff(policy: &RetryPolicy, attempt: u32, jitter_permille: u32) -> Duration {
    let exp = attempt.saturating_sub(1).min(20);
    let full = policy.initial_backoff.saturating_mul(1u32 << exp).min(policy.max_backoff);
    let half = full / 2;
    half + half.saturating_mul(jitter_permille.min(1000)) / 1000
}

/// Parses `Retry-After`: delay-seconds or an HTTP date (RFC 9110 §10.2.3).
/// A date in the past means "now". Unparsable values are ignored (`None`).
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// A jitter value in 0..=1000 from the standard library's per-process
/// random hashing keys (no RNG dependency; quality is irrelevant here).
pub fn jitter_permille() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x9e37_79b9_7f4a_7c15);
    u32::try_from(h.finish() % 1001).unwrap_or(500)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            max_retry_after: Duration::from_secs(10),
        }
    }

    fn status(s: u16) -> Failure {
        Failure::Status { status: s, retry_after: None }
    }

    #[test]
    fn only_idempotent_calls_are_retried() {
        let p = policy();
        for f in [Failure::Connect, Failure::Timeout, Failure::Broken, status(503)] {
            assert!(matches!(decide(&p, Retry::Safe, 1, f, 0), Decision::Retry { .. }), "{f:?}");
            assert!(matches!(decide(&p, Retry::WithIdempotencyKey, 1, f, 0), Decision::Retry { .. }), "{f:?}");
            assert_eq!(decide(&p, Retry::Never, 1, f, 0), Decision::Stop, "{f:?}");
        }
    }

    #[test]
    fn only_not_now_statuses_are_retried() {
        let p = policy();
        for s in [429, 502, 503, 504] {
            assert!(matches!(decide(&p, Retry::Safe, 1, status(s), 0), Decision::Retry { .. }), "{s}");
        }
        for s in [400, 401, 403, 404, 409, 422, 500, 501] {
            assert_eq!(decide(&p, Retry::Safe, 1, status(s), 0), Decision::Stop, "{s}");
        }
    }

    #[test]
    fn stops_at_max_attempts() {
        let p = policy();
        assert!(matches!(decide(&p, Retry::Safe, 3, Failure::Connect, 0), Decision::Retry { .. }));
        assert_eq!(decide(&p, Retry::Safe, 4, Failure::Connect, 0), Decision::Stop);
        assert_eq!(decide(&RetryPolicy::never(), Retry::Safe, 1, Failure::Connect, 0), Decision::Stop);
    }

    #[test]
    fn retry_after_is_respected_up_to_the_cap() {
        let p = policy();
        let f = |secs| Failure::Status { status: 429, retry_after: Some(Duration::from_secs(secs)) };
        assert_eq!(decide(&p, Retry::Safe, 1, f(7), 999), Decision::Retry { after: Duration::from_secs(7) });
        assert_eq!(decide(&p, Retry::Safe, 1, f(11), 0), Decision::Stop, "too long to block the caller");
    }

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let p = policy();
        assert_eq!(backoff(&p, 1, 0), Duration::from_millis(50));
        assert_eq!(backoff(&p, 1, 1000), Duration::from_millis(100));
        assert_eq!(backoff(&p, 2, 500), Duration::from_millis(150));
        assert_eq!(backoff(&p, 3, 1000), Duration::from_millis(400));
        assert_eq!(backoff(&p, 10, 1000), Duration::from_millis(1000), "capped");
        assert_eq!(backoff(&p, u32::MAX, 1000), Duration::from_millis(1000), "no overflow");
        assert!(jitter_permille() <= 1000);
    }

    #[test]
    fn retry_after_forms() {
        let now = Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap();
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("Tue, 10 Mar 2026 12:00:30 GMT", now), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("Tue, 10 Mar 2026 11:00:00 GMT", now), Some(Duration::ZERO), "past = now");
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }
}
