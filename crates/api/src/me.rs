//! `GET /v1/me`: who the token belongs to, the role's money limits and what
//! is left of this month's budget. The desktop app uses it to decide which
//! actions to offer and to warn before an action would need approval; the
//! server still decides every action itself.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::common::{Money, Role};

/// A role's money limits, in the deployment's currency (credits x the credit
/// type's unit price, so limits compare across credit types).
///
/// `null` means unlimited. Zero means "never alone": an account manager's
/// `per_action` is zero (every grant needs approval); a role that may not
/// approve has `approve_up_to` zero. A viewer has zeros everywhere and is
/// read-only whatever its limits say.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RoleLimits {
    /// Most one money-moving action may be worth to execute without approval.
    #[serde(default)]
    pub per_action: Option<Money>,
    /// Most the actor's money-moving actions may be worth per calendar month (UTC).
    #[serde(default)]
    pub monthly: Option<Money>,
    /// Most another user's request may be worth for this role to approve it.
    #[serde(default)]
    pub approve_up_to: Option<Money>,
}

/// Who may do what: for each kind of call that not every role may make,
/// the roles the server allows (`crates/server/src/http/policy.rs`; every
/// role reads). The desktop app offers an action only to the roles listed
/// here; the server still checks every call itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Policy {
    /// Grant credits and extend expiries (through the role's limits).
    pub grant: Vec<Role>,
    /// Approve, reject or cancel approval requests.
    pub decide: Vec<Role>,
    /// Open, assign, comment on and resolve disputes.
    pub dispute: Vec<Role>,
    /// Void a grant's remainder.
    pub void: Vec<Role>,
    /// Read the audit log.
    pub audit: Vec<Role>,
    /// Administer the catalog, customers, users and role limits.
    pub admin: Vec<Role>,
    /// Ingest usage events, and write in backfill mode.
    pub ingest: Vec<Role>,
}

/// The caller, as the server sees the bearer token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MeResponse {
    pub user_id: String,
    pub name: String,
    pub role: Role,
    pub limits: RoleLimits,
    /// `limits.monthly` less what the caller's executed money-moving actions
    /// this month were worth; `null` when the monthly limit is unlimited.
    #[serde(default)]
    pub remaining_monthly_budget: Option<Money>,
    /// Start (inclusive) and end (exclusive) of the budget month.
    pub budget_period_start: DateTime<Utc>,
    pub budget_period_end: DateTime<Utc>,
    /// The deployment's currency: every limit and money value is in it.
    pub currency: String,
    /// Which roles may make which calls (the same for every caller).
    pub policy: Policy,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rust_decimal::Decimal;

    #[test]
    fn me_round_trips_with_null_meaning_unlimited() {
        let usd = |n: i64| Some(Money::new(Decimal::from(n), "USD"));
        let me = MeResponse {
            user_id: "u_1".into(),
            name: "alice".into(),
            role: Role::SupportAgent,
            limits: RoleLimits { per_action: usd(50), monthly: usd(500), approve_up_to: usd(0) },
            remaining_monthly_budget: usd(450),
            budget_period_start: Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap(),
            budget_period_end: Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap(),
            currency: "USD".into(),
            policy: Policy {
                grant: vec![Role::SupportAgent, Role::Admin],
                decide: vec![Role::Admin],
                dispute: vec![Role::SupportAgent],
                void: vec![Role::Finance, Role::Admin],
                audit: vec![],
                admin: vec![Role::Admin],
                ingest: vec![Role::Admin],
            },
        };
        let v = serde_json::to_value(&me).unwrap();
        assert_eq!(v["policy"]["void"], serde_json::json!(["finance", "admin"]));
        assert_eq!(v["limits"]["per_action"]["amount"], "50");
        assert_eq!(v["budget_period_start"], "2026-03-01T00:00:00Z");
        assert_eq!(serde_json::from_value::<MeResponse>(v).unwrap(), me);
        let admin: RoleLimits =
            serde_json::from_str(r#"{"per_action":null,"monthly":null,"approve_up_to":null}"#).unwrap();
        assert_eq!(admin, RoleLimits { per_action: None, monthly: None, approve_up_to: None });
    }
}
