//! `GET /healthz` (public) and `GET /v1/version`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Liveness. `/healthz` answers 200 with `ok` while the server accepts
/// requests, and 503 (`unavailable`) while it drains for shutdown or cannot
/// reach its database, so a load balancer stops routing to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    Ok,
    Draining,
    Unavailable,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: HealthStatus,
}

/// What is running.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VersionInfo {
    /// `creditdesk-server`.
    pub name: String,
    /// The crate version, e.g. `0.1.0`.
    pub version: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_and_version_shapes() {
        assert_eq!(serde_json::to_string(&Health { status: HealthStatus::Ok }).unwrap(), r#"{"status":"ok"}"#);
        let v: VersionInfo = serde_json::from_str(r#"{"name":"creditdesk-server","version":"0.1.0"}"#).unwrap();
        assert_eq!(v.version, "0.1.0");
    }
}
