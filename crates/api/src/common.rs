//! Types shared by many endpoints: money, the domain's enumerations, roles.
//!
//! Enumerations are snake_case strings on the wire. They mirror the ledger's
//! (`creditdesk_ledger`) but are declared here, so the wire contract changes
//! only when this crate does; the server maps between the two and a test
//! there keeps them in step.

use std::fmt;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An enumeration value was not one of the allowed names.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{value}`; expected one of: {expected}")]
pub struct UnknownVariant {
    pub what: &'static str,
    pub value: String,
    pub expected: String,
}

/// Declares a unit enum with its snake_case wire names, and derives serde,
/// `as_str`, `Display`, `FromStr` and the `ALL` list (so query strings, JSON
/// and error messages cannot disagree; `enums_are_snake_case_and_agree_everywhere`
/// checks each enum).
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident as $what:literal {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        // `rename_all` rather than a per-variant `rename = $text`: utoipa
        // cannot read a literal passed through a macro, and a test checks
        // that serde's names equal `as_str`'s.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::common::UnknownVariant;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| $crate::common::UnknownVariant {
                    what: $what,
                    value: s.to_owned(),
                    expected: $name::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", "),
                })
            }
        }
    };
}
pub(crate) use wire_enum;

/// An exact amount of money in one currency. Approval limits, unit prices,
/// cost bases and every finance figure are money; credits never are.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Money {
    /// Decimal string, e.g. `"12.5"`.
    #[serde(with = "crate::decimal")]
    #[schema(example = "12.5")]
    pub amount: Decimal,
    /// ISO 4217 code, three upper-case letters.
    #[schema(example = "USD")]
    pub currency: String,
}

impl Money {
    pub fn new(amount: Decimal, currency: impl Into<String>) -> Money {
        Money { amount, currency: currency.into() }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", crate::decimal::to_text(&self.amount), self.currency)
    }
}

wire_enum! {
    /// A user's role. What each may do and the default money limits are in
    /// the service spec ("Roles and approval limits").
    pub enum Role as "role" {
        /// Read only.
        Viewer => "viewer",
        /// Every grant needs approval.
        AccountManager => "account_manager",
        SupportAgent => "support_agent",
        SupportLead => "support_lead",
        Finance => "finance",
        /// Unlimited; manages the catalog and users.
        Admin => "admin",
    }
}

wire_enum! {
    /// Paid credits are revenue; promotional ones are not (finance reports split them).
    pub enum GrantCategory as "category" {
        Paid => "paid",
        Promotional => "promotional",
    }
}

wire_enum! {
    /// Where a grant's credits came from.
    pub enum GrantSource as "source" {
        Purchase => "purchase",
        Plan => "plan",
        Promotion => "promotion",
        Goodwill => "goodwill",
        /// Created by a dispute reversal whose grant had expired or been voided.
        DisputeRefund => "dispute_refund",
        /// Created by the ledger at a parent grant's expiry.
        Rollover => "rollover",
        AutoTopup => "auto_topup",
        Migration => "migration",
    }
}

wire_enum! {
    /// A grant's state at the instant asked about.
    pub enum GrantStatus as "grant status" {
        /// Not yet effective.
        Pending => "pending",
        /// Effective, not expired, not voided (possibly used up).
        Active => "active",
        Expired => "expired",
        Voided => "voided",
    }
}

wire_enum! {
    /// The kind of a ledger entry (sign and meaning in `docs/ledger.md`).
    pub enum EntryKind as "entry kind" {
        Grant => "grant",
        Burn => "burn",
        Overage => "overage",
        OverageSettled => "overage_settled",
        Expire => "expire",
        ExpiryCorrection => "expiry_correction",
        RolloverOut => "rollover_out",
        Void => "void",
        Reversal => "reversal",
    }
}

wire_enum! {
    /// One key of a credit type's burn order; the grant id breaks the last tie.
    pub enum BurnOrderKey as "burn order key" {
        /// `priority` ascending (1 burns first).
        Priority => "priority",
        /// Product-restricted grants before unrestricted ones.
        RestrictedFirst => "restricted_first",
        /// Earliest `expires_at` first; grants that never expire last.
        ExpiresAt => "expires_at",
        /// Promotional before paid.
        PromotionalFirst => "promotional_first",
        /// Earliest `effective_at` first.
        EffectiveAt => "effective_at",
    }
}

impl BurnOrderKey {
    /// The documented default order.
    pub const STANDARD: [BurnOrderKey; 5] = [
        BurnOrderKey::Priority,
        BurnOrderKey::RestrictedFirst,
        BurnOrderKey::ExpiresAt,
        BurnOrderKey::PromotionalFirst,
        BurnOrderKey::EffectiveAt,
    ];
}

wire_enum! {
    /// What happens to usage no grant covers.
    pub enum OverageMode as "overage mode" {
        /// Paid first by grants that become effective later (one net balance).
        CarryForward => "carry_forward",
        /// Stays outstanding for invoicing.
        Invoice => "invoice",
    }
}

wire_enum! {
    /// Calendar unit of a series or report, in the requested time zone.
    pub enum Bucket as "bucket" {
        Day => "day",
        /// ISO week, Monday to Monday.
        Week => "week",
        Month => "month",
    }
}

wire_enum! {
    /// Whether past times are allowed on a write.
    pub enum WriteMode as "mode" {
        /// Live traffic: the late window applies.
        Live => "live",
        /// Admin imports and migrations: the late window is lifted (nothing
        /// else is; the future-skew rule still applies). Admin only.
        Backfill => "backfill",
    }
}

wire_enum! {
    /// Order of a list.
    pub enum SortOrder as "order" {
        Asc => "asc",
        Desc => "desc",
    }
}

/// An instant and an amount: one step of an expiry schedule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ExpiringAmount {
    pub expires_at: DateTime<Utc>,
    /// Credits.
    #[serde(with = "crate::decimal")]
    pub amount: Decimal,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn check<T: Serialize + for<'de> Deserialize<'de> + Copy + PartialEq + fmt::Debug + FromStr + fmt::Display>(
        all: &[T],
    ) where
        <T as FromStr>::Err: fmt::Debug,
    {
        for v in all {
            let json = serde_json::to_string(v).unwrap();
            assert_eq!(json, format!("\"{v}\""), "serde and as_str agree");
            assert_eq!(serde_json::from_str::<T>(&json).unwrap(), *v);
            assert_eq!(v.to_string().parse::<T>().unwrap(), *v);
        }
    }

    #[test]
    fn enums_are_snake_case_and_agree_everywhere() {
        check(Role::ALL);
        check(GrantCategory::ALL);
        check(GrantSource::ALL);
        check(GrantStatus::ALL);
        check(EntryKind::ALL);
        check(BurnOrderKey::ALL);
        check(OverageMode::ALL);
        check(Bucket::ALL);
        check(WriteMode::ALL);
        check(crate::customers::CustomerSort::ALL);
        check(SortOrder::ALL);
        assert_eq!(EntryKind::ALL.len(), 9);
        assert_eq!(Role::AccountManager.as_str(), "account_manager");
        assert_eq!(EntryKind::OverageSettled.as_str(), "overage_settled");
    }

    #[test]
    fn unknown_variant_names_the_choices() {
        let err = "owner".parse::<Role>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown role `owner`; expected one of: viewer, account_manager, support_agent, support_lead, finance, admin"
        );
        assert!(serde_json::from_str::<Role>("\"Admin\"").is_err(), "names are case-sensitive");
    }

    #[test]
    fn money_carries_its_currency_and_refuses_numbers() {
        let m: Money = serde_json::from_str(r#"{"amount":"50.00","currency":"USD"}"#).unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"amount":"50","currency":"USD"}"#);
        assert_eq!(m.to_string(), "50 USD");
        assert!(serde_json::from_str::<Money>(r#"{"amount":50,"currency":"USD"}"#).is_err());
        assert!(serde_json::from_str::<Money>(r#"{"amount":"50"}"#).is_err(), "currency is required");
    }
}
