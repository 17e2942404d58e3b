//! What every handler shares.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use creditdesk_store::Store;
use metrics_exporter_prometheus::PrometheusHandle;

#[derive(Clone)]
pub struct AppState {
    /// SQLite or PostgreSQL; handlers do not care which.
    pub store: Store,
    pub started_at: DateTime<Utc>,
    /// Renders `/metrics`; `None` when no recorder is installed (tests
    /// running several servers in one process share the first one's).
    pub metrics: Option<Arc<PrometheusHandle>>,
    /// Recent bearer-token lookups (`auth::TokenCache`).
    pub tokens: Arc<crate::auth::TokenCache>,
    /// The ingest bodies let in at once (`http::admission`).
    pub ingest_admission: crate::http::Admission,
}

impl AppState {
    pub fn new(store: impl Into<Store>, metrics: Option<PrometheusHandle>) -> AppState {
        let store = store.into();
        AppState {
            started_at: store.now(),
            store,
            metrics: metrics.map(Arc::new),
            tokens: Arc::default(),
            ingest_admission: crate::http::Admission::default(),
        }
    }
}
