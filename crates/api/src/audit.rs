//! `GET /v1/audit`: every mutating call and every refusal, newest first.
//! The table is append-only in the database (triggers refuse UPDATE and
//! DELETE), so what this lists is what happened.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::common::Money;
use crate::page::{impl_paged, Paged};
use crate::problem::FieldError;
use crate::validate::{Errors, Validate};

/// One decision: who, in which role, did what to what, worth how much,
/// what came of it and the rule that decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditRecord {
    /// Increasing with time; also the cursor.
    pub id: String,
    pub at: DateTime<Utc>,
    /// User id.
    pub actor: String,
    pub role: String,
    /// `grant`, `reverse_usage`, `goodwill_grant`, `approval.approve`,
    /// `dispute.open`, `limits.set`, or `METHOD /route` for other calls.
    pub action: String,
    /// The object acted on (approval, dispute, grant id, or the path).
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub customer_id: Option<String>,
    /// The money the action was worth, where it moves money.
    #[serde(default)]
    pub value: Option<Money>,
    /// `executed`, `approval_requested`, `approved`, `rejected`,
    /// `cancelled`, `failed`, `refused`, `ok`.
    pub outcome: String,
    /// The rule that decided: a problem code (`self_approval_forbidden`,
    /// `insufficient_permission`) or a limit (`limit.per_action`,
    /// `limit.monthly`, `limit.within`).
    #[serde(default)]
    pub rule: Option<String>,
    #[serde(default)]
    pub request_id: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
}

/// `GET /v1/audit` filters. Order: newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// User id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Customer id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// Exact action name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// From this instant (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    /// Before this instant (exclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}
impl_paged!(AuditQuery);

impl Validate for AuditQuery {
    fn validate(&self) -> Vec<FieldError> {
        let mut e = Errors::new();
        e.opt_id("actor", self.actor.as_deref());
        e.opt_id("customer", self.customer.as_deref());
        // Control characters (a NUL above all, which PostgreSQL refuses in text) are no action's.
        e.opt_text("action", self.action.as_deref(), 128, false);
        e.window(self.from, self.to);
        e.extend(self.paging_errors());
        e.into_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_action_filter_is_plain_text() {
        let q = |action: &str| AuditQuery { action: Some(action.into()), ..Default::default() };
        assert!(q("approval.approve").validate().is_empty());
        let nul = q("approval\0").validate();
        assert_eq!(nul.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["action"], "a NUL reaches no database");
    }
}
