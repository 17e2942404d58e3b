//! Usage events: validation, the late window and future-skew rules, and
//! idempotency (duplicates and conflicts).

use chrono::{DateTime, TimeDelta, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::amount::MAX_CREDITS;
use crate::error::{LedgerError, Result};
use crate::ids::{CustomerId, EventId, ProductId};

/// Largest `properties` object accepted, serialised (bytes).
pub const MAX_PROPERTIES_BYTES: usize = 4096;
/// Most decimal places of a usage quantity.
pub const MAX_QUANTITY_SCALE: u32 = 12;

#[derive(Clone, Debug, PartialEq)]
pub struct UsageEvent {
    /// The client's idempotency key.
    pub id: EventId,
    pub customer: CustomerId,
    pub product: ProductId,
    pub quantity: Decimal,
    /// Event time: when the usage happened.
    pub timestamp: DateTime<Utc>,
    pub properties: Map<String, Value>,
}

impl UsageEvent {
    /// Checks the event's own fields (not timing, which depends on `received_at`).
    pub fn validate(&self) -> Result<()> {
        if self.quantity < Decimal::ZERO {
            return Err(LedgerError::invalid("quantity", "must not be negative"));
        }
        if self.quantity.normalize().scale() > MAX_QUANTITY_SCALE {
            return Err(LedgerError::invalid("quantity", "must have at most 12 decimal places"));
        }
        if self.quantity > MAX_CREDITS {
            return Err(LedgerError::invalid("quantity", "must be at most 1000000000000000"));
        }
        if serialised_len(&self.properties) > MAX_PROPERTIES_BYTES {
            return Err(LedgerError::invalid("properties", "must serialise to at most 4096 bytes"));
        }
        Ok(())
    }

    /// Same id and same body: a true duplicate. Quantities compare by value
    /// (`1.0` equals `1`), properties by JSON value.
    pub fn same_body(&self, other: &UsageEvent) -> bool {
        self.customer == other.customer
            && self.product == other.product
            && self.quantity == other.quantity
            && self.timestamp == other.timestamp
            && self.properties == other.properties
    }
}

/// The length of `properties` as JSON, counted without building the text.
fn serialised_len(properties: &Map<String, Value>) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    match serde_json::to_writer(&mut count, properties) {
        Ok(()) => count.0,
        Err(_) => usize::MAX,
    }
}

/// The late window and future-skew rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IngestPolicy {
    /// Events older than `received_at - late_window` are rejected (default 7 days).
    pub late_window: TimeDelta,
    /// Events more than this far in the future are rejected (5 minutes).
    pub future_skew: TimeDelta,
}

impl Default for IngestPolicy {
    fn default() -> Self {
        IngestPolicy { late_window: TimeDelta::days(7), future_skew: TimeDelta::minutes(5) }
    }
}

/// Why an event was not booked. Rejected events are stored with this reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum RejectReason {
    EventTooOld {
        oldest_accepted: DateTime<Utc>,
    },
    EventInFuture {
        latest_accepted: DateTime<Utc>,
    },
    /// The same id was seen before with a different body; nothing stored.
    IdempotencyConflict {
        original_received_at: DateTime<Utc>,
    },
    /// A field broke a rule (`field`: `rule`), e.g. an unknown product.
    Invalid {
        field: String,
        rule: String,
    },
}

impl RejectReason {
    pub fn code(&self) -> &'static str {
        match self {
            RejectReason::EventTooOld { .. } => "event_too_old",
            RejectReason::EventInFuture { .. } => "event_in_future",
            RejectReason::IdempotencyConflict { .. } => "idempotency_conflict",
            RejectReason::Invalid { .. } => "validation_failed",
        }
    }

    pub fn from_error(err: &LedgerError) -> RejectReason {
        match err {
            LedgerError::Invalid { field, rule } => {
                RejectReason::Invalid { field: (*field).to_string(), rule: rule.clone() }
            }
            other => RejectReason::Invalid { field: "event".into(), rule: other.to_string() },
        }
    }
}

/// Applies the late window and future skew. Boundaries are inclusive:
/// exactly `late_window` old, or exactly `future_skew` ahead, is accepted.
pub fn check_timing(
    timestamp: DateTime<Utc>,
    received_at: DateTime<Utc>,
    policy: &IngestPolicy,
) -> std::result::Result<(), RejectReason> {
    // A window reaching past the calendar's start accepts everything.
    let oldest_accepted = received_at.checked_sub_signed(policy.late_window).unwrap_or(DateTime::<Utc>::MIN_UTC);
    if timestamp < oldest_accepted {
        return Err(RejectReason::EventTooOld { oldest_accepted });
    }
    let latest_accepted = received_at.checked_add_signed(policy.future_skew).unwrap_or(DateTime::<Utc>::MAX_UTC);
    if timestamp > latest_accepted {
        return Err(RejectReason::EventInFuture { latest_accepted });
    }
    Ok(())
}

/// What an incoming event is, given what was stored under its id before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Idempotency {
    New,
    Duplicate,
    Conflict,
}

pub fn classify(previous: Option<&UsageEvent>, incoming: &UsageEvent) -> Idempotency {
    match previous {
        None => Idempotency::New,
        Some(p) if p.same_body(incoming) => Idempotency::Duplicate,
        Some(_) => Idempotency::Conflict,
    }
}

/// A stored event's body, borrowed from the store's row: what `same_body`
/// compares, with the properties as the JSON text the store wrote. Reading
/// a row this way costs no allocations, which matters when a client
/// replays a whole batch.
#[derive(Clone, Copy, Debug)]
pub struct StoredBody<'a> {
    pub customer: &'a str,
    pub product: &'a str,
    pub quantity: Decimal,
    pub timestamp: DateTime<Utc>,
    pub properties_json: &'a str,
}

impl StoredBody<'_> {
    /// `classify` against a stored body, by the same rule as `same_body`.
    /// The properties compare as text first (the store wrote them with
    /// serde_json, so the same map usually gives the same text); only text
    /// that differs is parsed and compared by JSON value, so a reordered
    /// object is still a duplicate. Errs only on stored text that is not JSON.
    pub fn classify(&self, incoming: &UsageEvent) -> std::result::Result<Idempotency, serde_json::Error> {
        let same = self.customer == incoming.customer.as_str()
            && self.product == incoming.product.as_str()
            && self.quantity == incoming.quantity
            && self.timestamp == incoming.timestamp
            && same_properties(self.properties_json, &incoming.properties)?;
        Ok(if same { Idempotency::Duplicate } else { Idempotency::Conflict })
    }
}

fn same_properties(stored_json: &str, incoming: &Map<String, Value>) -> std::result::Result<bool, serde_json::Error> {
    let same_text = if incoming.is_empty() {
        stored_json == "{}"
    } else {
        serde_json::to_string(incoming).is_ok_and(|text| text == stored_json)
    };
    if same_text {
        return Ok(true);
    }
    let stored: Map<String, Value> = serde_json::from_str(stored_json)?;
    Ok(stored == *incoming)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rust_decimal_macros::dec;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap()
    }

    fn event(q: Decimal) -> UsageEvent {
        UsageEvent {
            id: EventId::new("e1").unwrap(),
            customer: CustomerId::new("c1").unwrap(),
            product: ProductId::new("p1").unwrap(),
            quantity: q,
            timestamp: t0(),
            properties: Map::new(),
        }
    }

    #[test]
    fn late_window_and_future_skew_boundaries() {
        let p = IngestPolicy::default();
        let now = t0();
        assert!(check_timing(now - TimeDelta::days(7), now, &p).is_ok());
        let too_old = check_timing(now - TimeDelta::days(7) - TimeDelta::microseconds(1), now, &p).unwrap_err();
        assert_eq!(too_old.code(), "event_too_old");
        assert!(check_timing(now + TimeDelta::minutes(5), now, &p).is_ok());
        let future = check_timing(now + TimeDelta::minutes(5) + TimeDelta::seconds(1), now, &p).unwrap_err();
        assert_eq!(future.code(), "event_in_future");
    }

    #[test]
    fn huge_windows_do_not_overflow() {
        let p = IngestPolicy { late_window: TimeDelta::MAX, future_skew: TimeDelta::MAX };
        assert!(check_timing(DateTime::<Utc>::MIN_UTC, t0(), &p).is_ok());
        assert!(check_timing(DateTime::<Utc>::MAX_UTC, t0(), &p).is_ok());
    }

    #[test]
    fn duplicates_and_conflicts() {
        let a = event(dec!(1.0));
        let b = event(dec!(1));
        assert_eq!(classify(None, &a), Idempotency::New);
        assert_eq!(classify(Some(&a), &b), Idempotency::Duplicate, "1.0 and 1 are the same quantity");
        assert_eq!(classify(Some(&a), &event(dec!(2))), Idempotency::Conflict);
    }

    fn stored(e: &UsageEvent, properties_json: &str) -> Idempotency {
        let body = StoredBody {
            customer: e.customer.as_str(),
            product: e.product.as_str(),
            quantity: e.quantity,
            timestamp: e.timestamp,
            properties_json,
        };
        body.classify(&event(dec!(1))).unwrap()
    }

    #[test]
    fn a_stored_body_classifies_like_the_event_it_was() {
        let e = event(dec!(1));
        let plain = serde_json::to_string(&e.properties).unwrap();
        assert_eq!(stored(&e, &plain), Idempotency::Duplicate);
        assert_eq!(stored(&event(dec!(1.000)), &plain), Idempotency::Duplicate, "1.000 and 1 are the same quantity");
        assert_eq!(stored(&event(dec!(2)), &plain), Idempotency::Conflict);
        let mut other = event(dec!(1));
        other.customer = CustomerId::new("c2").unwrap();
        assert_eq!(stored(&other, &plain), Idempotency::Conflict);
        other = event(dec!(1));
        other.product = ProductId::new("p2").unwrap();
        assert_eq!(stored(&other, &plain), Idempotency::Conflict);
        other = event(dec!(1));
        other.timestamp += TimeDelta::microseconds(1);
        assert_eq!(stored(&other, &plain), Idempotency::Conflict);
        // Stored properties against an incoming event with none.
        assert_eq!(stored(&e, r#"{"a":1}"#), Idempotency::Conflict);
        // Same value, other text.
        assert_eq!(stored(&e, "{ }"), Idempotency::Duplicate);
        let mut p = event(dec!(1));
        p.properties = serde_json::json!({"a": 1, "b": [1.5, "x"]}).as_object().unwrap().clone();
        let body = |json| StoredBody {
            customer: "c1",
            product: "p1",
            quantity: dec!(1),
            timestamp: t0(),
            properties_json: json,
        };
        assert_eq!(body(r#"{"a":1,"b":[1.5,"x"]}"#).classify(&p).unwrap(), Idempotency::Duplicate);
        assert_eq!(body(r#"{"b":[1.5,"x"],"a":1}"#).classify(&p).unwrap(), Idempotency::Duplicate);
        assert_eq!(body(r#"{"a":1,"b":[1.5,"y"]}"#).classify(&p).unwrap(), Idempotency::Conflict);
        assert_eq!(
            body(r#"{"a":1.0,"b":[1.5,"x"]}"#).classify(&p).unwrap(),
            Idempotency::Conflict,
            "as same_body: 1.0 is not 1"
        );
        assert_eq!(body(r#"{"a":1}"#).classify(&p).unwrap(), Idempotency::Conflict);
        assert!(body("not json").classify(&p).is_err());
    }

    #[test]
    fn event_field_rules() {
        assert!(event(dec!(-1)).validate().is_err());
        assert!(event(dec!(0)).validate().is_ok(), "zero usage is valid and books nothing");
        let mut big = event(dec!(1));
        big.properties.insert("blob".into(), Value::String("x".repeat(5000)));
        assert_eq!(big.validate().unwrap_err().to_string(), "properties: must serialise to at most 4096 bytes");
        // The limit itself: {"blob":"x..."} is 11 bytes around the text.
        let mut at_limit = event(dec!(1));
        at_limit.properties.insert("blob".into(), Value::String("x".repeat(4096 - 11)));
        assert_eq!(serde_json::to_vec(&at_limit.properties).unwrap().len(), 4096);
        assert!(at_limit.validate().is_ok());
        at_limit.properties.insert("blob".into(), Value::String("x".repeat(4096 - 10)));
        assert!(at_limit.validate().is_err());
    }
}
