//! Identifiers. Cheap to clone (`Arc<str>`), validated on construction, and
//! distinct types so a product id cannot be passed where a grant id belongs.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{LedgerError, Result};

/// Longest identifier accepted (bytes).
pub const MAX_ID_LEN: usize = 128;

fn check_id(field: &'static str, s: &str) -> Result<()> {
    if s.is_empty() {
        return Err(LedgerError::invalid(field, "must not be empty"));
    }
    if s.len() > MAX_ID_LEN {
        return Err(LedgerError::invalid(field, format!("must be at most {MAX_ID_LEN} bytes")));
    }
    if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(LedgerError::invalid(field, "must not contain whitespace or control characters"));
    }
    Ok(())
}

/// Separates a parent id from the tag of an id the ledger derives from it
/// (rollover and refund grants). New grants from clients may not use it
/// (`Grant::validate`), so derived ids never collide with theirs.
pub const DERIVED_ID_MARK: char = '~';

/// `{parent}~{tag}`, or `{tag}~{seq}` when that would be too long. Both forms
/// are unique: a parent rolls over once, and `seq` is the entry that caused it.
pub(crate) fn derived_grant_id(parent: &impl fmt::Display, tag: &str, seq: u64) -> GrantId {
    let long = format!("{parent}{DERIVED_ID_MARK}{tag}");
    if long.len() <= MAX_ID_LEN {
        GrantId(Arc::from(long))
    } else {
        GrantId(Arc::from(format!("{tag}{DERIVED_ID_MARK}{seq}")))
    }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Validates and wraps an identifier.
            pub fn new(s: impl AsRef<str>) -> Result<Self> {
                let s = s.as_ref();
                check_id($field, s)?;
                Ok(Self(Arc::from(s)))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        /// Maps keyed by id can be searched with a plain `&str`.
        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&*self.0, f)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

id_type!(/// A customer (account) id.
    CustomerId, "customer_id");
id_type!(/// A credit type (wallet kind) id.
    CreditTypeId, "credit_type_id");
id_type!(/// A product id.
    ProductId, "product_id");
id_type!(/// A grant (credit block) id.
    GrantId, "grant_id");
id_type!(/// A usage event id: the client's idempotency key.
    EventId, "event_id");
id_type!(/// A contract id.
    ContractId, "contract_id");
id_type!(/// Who did something: a user id, or `system:<job>` for background work.
    ActorId, "actor");
id_type!(/// Why a manual action was taken, e.g. `goodwill`, `service_outage`.
    ReasonCode, "reason_code");

impl ActorId {
    /// The actor of expiry, rollover and settlement entries.
    pub fn system() -> ActorId {
        ActorId(Arc::from("system:ledger"))
    }
}

impl ReasonCode {
    pub(crate) fn rollover() -> ReasonCode {
        ReasonCode(Arc::from("rollover"))
    }

    pub(crate) fn dispute_refund() -> ReasonCode {
        ReasonCode(Arc::from("dispute_refund"))
    }
}

/// Free text (ticket references, notes): trimmed, bounded, no control characters
/// other than newlines in notes.
pub(crate) fn check_text(field: &'static str, s: &str, max: usize) -> Result<Arc<str>> {
    if s.len() > max {
        return Err(LedgerError::invalid(field, format!("must be at most {max} bytes")));
    }
    if s.chars().any(|c| c.is_control() && c != '\n') {
        return Err(LedgerError::invalid(field, "must not contain control characters"));
    }
    Ok(Arc::from(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_validated_and_name_their_field() {
        assert!(GrantId::new("g_1").is_ok());
        assert_eq!(GrantId::new("").unwrap_err().to_string(), "grant_id: must not be empty");
        assert!(ProductId::new("has space").is_err());
        assert!(EventId::new("x".repeat(129)).is_err());
        assert!(serde_json::from_str::<CustomerId>("\"\"").is_err());
    }
}
