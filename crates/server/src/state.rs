//! What every handler shares.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use creditdesk_store::SqliteStore;
use metrics_exporter_prometheus::PrometheusHandle;

#[derive(Clone)]
pub struct AppState {
    pub store: SqliteStore,
    pub started_at: DateTime<Utc>,
    /// Renders `/metrics`; `None` when no recorder is installed (tests
    /// running several servers in one process share the first one's).
    pub metrics: Option<Arc<PrometheusHandle>>,
}

impl AppState {
    pub fn new(store: SqliteStore, metrics: Option<PrometheusHandle>) -> AppState {
        AppState { started_at: store.now(), store, metrics: metrics.map(Arc::new) }
    }
}
