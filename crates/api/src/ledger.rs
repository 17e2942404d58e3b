//! `GET /v1/customers/{id}/ledger`: the append-only entries, each linked to
//! what caused it (event, grant, related entry) and who (actor, reason).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::common::{EntryKind, SortOrder};
use crate::page::{impl_paged, Paged};
use crate::problem::FieldError;
use crate::validate::{Errors, Validate};

/// Filters of the ledger view. Every filter is optional; they combine with AND.
///
/// Order: by `seq` (the recorded order), newest first unless `order=asc`.
/// The cursor is tied to the order and filters it was issued for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LedgerQuery {
    /// Entry kinds, comma-separated (`burn,overage`); empty = all kinds.
    #[serde(default, with = "crate::page::comma_list", skip_serializing_if = "Vec::is_empty")]
    #[param(value_type = Option<String>, example = "burn,overage")]
    pub kind: Vec<EntryKind>,
    /// Credit type id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_type: Option<String>,
    /// Product id (entries of usage of that product).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// Grant id (entries on that grant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<String>,
    /// Usage event id (the entries it caused, and their reversals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// Entries booked at or after this instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    /// Entries booked strictly before this instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime<Utc>>,
    /// `desc` (default: newest first) or `asc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<SortOrder>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}
impl_paged!(LedgerQuery);

impl Validate for LedgerQuery {
    fn validate(&self) -> Vec<FieldError> {
        let mut e = Errors::new();
        e.opt_id("credit_type", self.credit_type.as_deref());
        e.opt_id("product", self.product.as_deref());
        e.opt_id("grant", self.grant.as_deref());
        e.opt_id("event", self.event.as_deref());
        e.window(self.from, self.to);
        e.extend(self.paging_errors());
        e.into_vec()
    }
}

/// One ledger line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LedgerEntry {
    /// Global sequence number: the entry's identity and its recorded order.
    pub seq: u64,
    pub customer_id: String,
    pub credit_type_id: String,
    /// The grant it acts on; `null` for overage and for cancelled overage.
    #[serde(default)]
    pub grant_id: Option<String>,
    pub kind: EntryKind,
    /// Signed credits: what the entry adds to (+) or takes from (-) the grant
    /// (for overage, from the customer).
    #[serde(with = "crate::decimal")]
    #[schema(example = "-12.5")]
    pub amount: Decimal,
    /// When it takes effect (event time for usage).
    pub booked_at: DateTime<Utc>,
    /// When it was written.
    pub recorded_at: DateTime<Utc>,
    /// The usage event behind a burn, overage, settlement or reversal.
    #[serde(default)]
    pub event_id: Option<String>,
    /// The product of the usage behind it.
    #[serde(default)]
    pub product_id: Option<String>,
    /// The entry this one acts on (a settlement's overage, a reversal's burn,
    /// a correction's expire entry).
    #[serde(default)]
    pub related_seq: Option<u64>,
    /// Who wrote it: a user id, or `system:<job>` for expiry, rollover and settlement.
    pub actor: String,
    /// Who approved it, for actions that needed approval.
    #[serde(default)]
    pub approved_by: Option<String>,
    #[serde(default)]
    pub reason_code: Option<String>,
    #[serde(default)]
    pub ticket_ref: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn kind_filter_is_a_comma_list() {
        let q: LedgerQuery =
            serde_urlencoded::from_str("kind=burn,overage,burn&credit_type=ct&from=2026-03-01T00:00:00Z&order=asc")
                .unwrap();
        assert_eq!(q.kind, [EntryKind::Burn, EntryKind::Overage], "deduplicated, in order");
        assert_eq!(q.from, Some(Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()));
        assert_eq!(q.order, Some(SortOrder::Asc));
        let text = serde_urlencoded::to_string(&q).unwrap();
        assert_eq!(serde_urlencoded::from_str::<LedgerQuery>(&text).unwrap(), q, "{text}");
        let err = serde_urlencoded::from_str::<LedgerQuery>("kind=burns").unwrap_err().to_string();
        assert!(err.contains("unknown entry kind `burns`"), "{err}");
        assert!(serde_urlencoded::from_str::<LedgerQuery>("").unwrap().kind.is_empty());
    }

    #[test]
    fn reversed_window_is_refused() {
        let t = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
        let q = LedgerQuery { from: Some(t), to: Some(t), ..Default::default() };
        assert_eq!(q.validate(), [FieldError::new("to", "must be after from")]);
    }

    #[test]
    fn entry_round_trips_with_nulls_present() {
        let e = LedgerEntry {
            seq: 7,
            customer_id: "c1".into(),
            credit_type_id: "ct".into(),
            grant_id: None,
            kind: EntryKind::Overage,
            amount: Decimal::new(-125, 1),
            booked_at: Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap(),
            recorded_at: Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 1).unwrap(),
            event_id: Some("e1".into()),
            product_id: Some("p1".into()),
            related_seq: None,
            actor: "u_ingest".into(),
            approved_by: None,
            reason_code: None,
            ticket_ref: None,
            note: None,
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["amount"], "-12.5");
        assert_eq!(v["kind"], "overage");
        assert!(v["grant_id"].is_null(), "absent links are explicit nulls in responses");
        assert_eq!(serde_json::from_value::<LedgerEntry>(v).unwrap(), e);
    }
}
