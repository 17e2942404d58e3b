//! The one error type of the ledger crate. Every variant names what was wrong
//! (`field`) and the rule it broke, so the API layer can map it to a stable
//! problem code without parsing messages.

use thiserror::Error;

/// A rule of the ledger refused an input. Nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LedgerError {
    /// A field's value breaks a validation rule (`rule` is a short, stable phrase).
    #[error("{field}: {rule}")]
    Invalid { field: &'static str, rule: String },

    #[error("unknown {what} `{id}`")]
    NotFound { what: &'static str, id: String },

    #[error("{what} `{id}` already exists")]
    AlreadyExists { what: &'static str, id: String },

    #[error("grant `{grant}`: {rule}")]
    GrantState { grant: String, rule: &'static str },

    #[error("event `{event}` was already reversed")]
    AlreadyReversed { event: String },

    #[error("event `{event}` has no burns or overage to reverse")]
    NothingToReverse { event: String },
}

impl LedgerError {
    pub fn invalid(field: &'static str, rule: impl Into<String>) -> Self {
        LedgerError::Invalid { field, rule: rule.into() }
    }

    pub fn not_found(what: &'static str, id: impl ToString) -> Self {
        LedgerError::NotFound { what, id: id.to_string() }
    }

    /// A stable machine code, used verbatim by the API's problem documents.
    pub fn code(&self) -> &'static str {
        match self {
            LedgerError::Invalid { .. } => "validation_failed",
            LedgerError::NotFound { .. } => "not_found",
            LedgerError::AlreadyExists { .. } => "already_exists",
            LedgerError::GrantState { .. } => "grant_state_conflict",
            LedgerError::AlreadyReversed { .. } => "already_reversed",
            LedgerError::NothingToReverse { .. } => "nothing_to_reverse",
        }
    }
}

pub type Result<T, E = LedgerError> = std::result::Result<T, E>;
