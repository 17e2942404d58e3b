//! The store's one error type.

use creditdesk_ledger::LedgerError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    /// A ledger rule refused the operation; nothing was written.
    #[error(transparent)]
    Ledger(#[from] LedgerError),

    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),

    #[error("connection pool: {0}")]
    Pool(#[from] r2d2::Error),

    #[error("postgres: {}", pg_detail(.0))]
    Postgres(#[from] postgres::Error),

    #[error("migration {version}: {source}")]
    Migration { version: u32, source: rusqlite::Error },

    #[error("postgres migration {version}: {}", pg_detail(source))]
    PgMigration { version: u32, source: postgres::Error },

    /// Stored data that does not decode: a bug or tampering, never input.
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),

    /// The `Idempotency-Key` was used before with a different request.
    #[error("idempotency key `{key}` was used with a different request")]
    IdempotencyConflict { key: String },

    /// A workflow rule (limits, approvals, disputes) refused the request;
    /// its audit row is written, nothing else.
    #[error("{}: {}", .0.code, .0.detail)]
    Refused(Box<crate::workflow::Refusal>),
    /// The writer is gone (shutting down, or it crashed).
    #[error("the store is shutting down")]
    Closed,
}

/// The server's message and SQLSTATE where there is one (the client's
/// own `Display` says only "db error").
fn pg_detail(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

impl StoreError {
    pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
        StoreError::Corrupt(what.to_string())
    }

    /// A failure (the API answers 5xx), as opposed to a refusal of the
    /// request (4xx), which wrote nothing and aborts nothing else.
    pub fn is_failure(&self) -> bool {
        !matches!(self, StoreError::Ledger(_) | StoreError::IdempotencyConflict { .. } | StoreError::Refused(_))
    }

    /// A lost race with another writer on the same database (a unique key
    /// taken meanwhile, a deadlock, a serialisation failure): the whole group
    /// is rolled back and can be retried, and then sees the winner's rows.
    pub(crate) fn is_retryable(&self) -> bool {
        use postgres::error::SqlState;
        match self {
            StoreError::Postgres(e) => matches!(
                e.code(),
                Some(c) if *c == SqlState::UNIQUE_VIOLATION
                    || *c == SqlState::T_R_DEADLOCK_DETECTED
                    || *c == SqlState::T_R_SERIALIZATION_FAILURE
            ),
            _ => false,
        }
    }

    /// The ledger rule behind the error, if the error is a refusal rather
    /// than a failure (the API answers 4xx for those, 500 for the rest).
    pub fn as_ledger(&self) -> Option<&LedgerError> {
        match self {
            StoreError::Ledger(e) => Some(e),
            _ => None,
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
