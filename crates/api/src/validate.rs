//! Shape checks that need no database and no domain knowledge: sizes,
//! ranges, id syntax, currency code syntax, required text present.
//!
//! They let the client refuse an obviously bad request before sending it and
//! let the server answer `validation_failed` with every field error at once.
//! Domain rules (amount > 0 with at most 6 places, expiry after effect,
//! products of the right credit type, ...) stay in `creditdesk-ledger`, the
//! single place that decides them; the server runs both and merges the errors.

use chrono::{DateTime, Utc};

use crate::problem::FieldError;

/// Longest id (bytes), as in the ledger.
pub const MAX_ID_LEN: usize = 128;
/// Longest name (bytes).
pub const MAX_NAME_LEN: usize = 200;
/// Longest ticket reference (bytes).
pub const MAX_TICKET_REF_LEN: usize = 200;
/// Longest note (bytes).
pub const MAX_NOTE_LEN: usize = 2_000;

/// A request that can check its own shape. Returns every violation (empty = fine).
pub trait Validate {
    fn validate(&self) -> Vec<FieldError>;
}

/// Collects field errors with path prefixes (`events[3].` ...).
#[derive(Debug, Default)]
pub struct Errors {
    errors: Vec<FieldError>,
}

impl Errors {
    pub fn new() -> Errors {
        Errors::default()
    }

    /// A time window: `to` must be after `from` when both are given.
    pub fn window(&mut self, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) {
        if let (Some(from), Some(to)) = (from, to) {
            if from >= to {
                self.push("to", "must be after from");
            }
        }
    }

    pub fn push(&mut self, field: impl Into<String>, rule: impl Into<String>) {
        self.errors.push(FieldError::new(field, rule));
    }

    pub fn extend(&mut self, errors: impl IntoIterator<Item = FieldError>) {
        self.errors.extend(errors);
    }

    /// Adds `errors` with `prefix` put before each field (`rollover` + `.` + `fraction`).
    pub fn nested(&mut self, prefix: &str, errors: Vec<FieldError>) {
        for e in errors {
            self.errors.push(FieldError::new(format!("{prefix}.{}", e.field), e.rule));
        }
    }

    /// An id: 1..=128 bytes, no whitespace or control characters.
    pub fn id(&mut self, field: &str, value: &str) {
        if let Some(rule) = id_rule(value) {
            self.push(field, rule);
        }
    }

    pub fn opt_id(&mut self, field: &str, value: Option<&str>) {
        if let Some(v) = value {
            self.id(field, v);
        }
    }

    /// Required text: not blank, at most `max` bytes, no control characters
    /// (newlines allowed when `multiline`).
    pub fn text(&mut self, field: &str, value: &str, max: usize, multiline: bool) {
        if value.trim().is_empty() {
            self.push(field, "must not be blank");
        } else {
            self.opt_text(field, Some(value), max, multiline);
        }
    }

    /// Optional text: when present, at most `max` bytes, no control characters.
    pub fn opt_text(&mut self, field: &str, value: Option<&str>, max: usize, multiline: bool) {
        let Some(value) = value else { return };
        if value.len() > max {
            self.push(field, format!("must be at most {max} bytes"));
        } else if value.chars().any(|c| c.is_control() && !(multiline && c == '\n')) {
            self.push(field, "must not contain control characters");
        }
    }

    /// An ISO 4217-shaped code: three upper-case ASCII letters. (Whether the
    /// code exists, and whether it is the deployment's currency, the server decides.)
    pub fn currency(&mut self, field: &str, code: &str) {
        if !(code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())) {
            self.push(field, "must be an ISO 4217 code such as \"USD\"");
        }
    }

    pub fn range_u32(&mut self, field: &str, value: Option<u32>, range: std::ops::RangeInclusive<u32>) {
        if let Some(v) = value {
            if !range.contains(&v) {
                self.push(field, format!("must be between {} and {}", range.start(), range.end()));
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn into_vec(self) -> Vec<FieldError> {
        self.errors
    }
}

/// Why `value` is not a valid id, if it is not.
pub fn id_rule(value: &str) -> Option<String> {
    if value.is_empty() {
        Some("must not be empty".into())
    } else if value.len() > MAX_ID_LEN {
        Some(format!("must be at most {MAX_ID_LEN} bytes"))
    } else if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        Some("must not contain whitespace or control characters".into())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_needs_to_after_from_when_both_are_given() {
        let t = |h: u32| chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 1, 1, h, 0, 0).unwrap();
        let check = |from, to| {
            let mut e = Errors::new();
            e.window(from, to);
            e.into_vec()
        };
        assert_eq!(check(Some(t(1)), Some(t(2))), []);
        assert_eq!(check(None, Some(t(2))), []);
        assert_eq!(check(Some(t(1)), None), []);
        for (from, to) in [(t(2), t(2)), (t(3), t(2))] {
            assert_eq!(check(Some(from), Some(to)), [FieldError::new("to", "must be after from")]);
        }
    }

    #[test]
    fn collects_every_error_with_paths() {
        let mut e = Errors::new();
        e.id("customer_id", "");
        e.id("product_id", "has space");
        e.id("grant_id", &"x".repeat(129));
        e.id("ok", "c_1");
        e.text("reason_code", "  ", 100, false);
        e.opt_text("note", Some("line\nbreak"), 100, true);
        e.opt_text("ticket_ref", Some("tab\there"), 100, false);
        e.currency("unit_price.currency", "usd");
        e.range_u32("horizon_days", Some(0), 1..=3660);
        e.nested("rollover", vec![FieldError::new("fraction", "must be between 0 and 1")]);
        let fields: Vec<String> = e.into_vec().into_iter().map(|f| f.field).collect();
        assert_eq!(
            fields,
            [
                "customer_id",
                "product_id",
                "grant_id",
                "reason_code",
                "ticket_ref",
                "unit_price.currency",
                "horizon_days",
                "rollover.fraction"
            ]
        );
    }
}
