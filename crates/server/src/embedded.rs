//! The desktop app's embedded mode: the billing API served in-process on
//! 127.0.0.1 (a random port) over a SQLite file, for someone who has no
//! server configured (`docs/desktop.md`). Same router, store and sweeper as
//! `creditdesk-server serve`; only the address and lifetime differ, so the
//! app talks to it through `creditdesk-client` like to any remote server.
//!
//! Seeding is [`crate::seed::demo_seed`] with [`store_options`]; call it
//! before [`start`] (the seeder opens the file on its own clock).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use creditdesk_api::Role;
use creditdesk_ledger::clock::SystemClock;
use creditdesk_store::{AdminOp, SqliteStore, StoreError, StoreOptions, User};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::{auth, http, sweeper, AppState};

/// How often the embedded sweeper books what time has made due.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error("opening {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: StoreError,
    },
    #[error("binding 127.0.0.1: {0}")]
    Bind(#[from] std::io::Error),
    #[error("creating the desktop user: {0}")]
    User(#[source] StoreError),
}

/// The options the embedded store (and the demo seed before it) runs with:
/// the system clock and the store's defaults.
pub fn store_options() -> StoreOptions {
    StoreOptions { clock: Arc::new(SystemClock), ..StoreOptions::default() }
}

/// A running embedded server. Dropping it without [`Embedded::stop`] leaves
/// the tasks running until the runtime ends (the app's lifetime).
pub struct Embedded {
    addr: SocketAddr,
    state: AppState,
    stop: watch::Sender<bool>,
    server: JoinHandle<()>,
    sweeper: JoinHandle<()>,
}

/// Opens (creating and migrating if needed) the SQLite database at `db`
/// and serves the API on 127.0.0.1 at a port the OS picks.
pub async fn start(db: &Path) -> Result<Embedded, EmbeddedError> {
    let store = SqliteStore::open(db, store_options())
        .map_err(|source| EmbeddedError::Open { path: db.display().to_string(), source })?;
    let state = AppState::new(store, None);
    let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
    let addr = listener.local_addr()?;
    let (stop, stop_rx) = watch::channel(false);
    let sweeper = tokio::spawn(sweeper::run(state.clone(), SWEEP_EVERY, stop_rx.clone()));
    let router = http::router(state.clone());
    let mut shutdown = stop_rx;
    let server = tokio::spawn(async move {
        let stopped = async move {
            let _ = shutdown.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(http::without_nagle(listener), router).with_graceful_shutdown(stopped).await {
            tracing::error!(error = %e, "embedded billing API stopped");
        }
    });
    tracing::info!(%addr, db = %db.display(), "embedded billing API listening");
    Ok(Embedded { addr, state, stop, server, sweeper })
}

impl Embedded {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`: the client's base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Creates an admin user named `name` and returns its token (only its
    /// hash is stored). For when the demo admin's token (known only to the
    /// run that seeded) was lost; user names are unique, so pick a new one.
    pub async fn add_admin(&self, name: &str) -> Result<String, EmbeddedError> {
        let token = auth::new_token();
        let user = User {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_owned(),
            role: Role::Admin.as_str().to_owned(),
            created_at: self.state.store.now(),
            revoked_at: None,
        };
        let op = AdminOp::User { user, token_hash: auth::hash_token(&token) };
        self.state.store.admin(op).await.map_err(EmbeddedError::User)?;
        Ok(token)
    }

    /// Stops accepting, finishes in-flight requests, stops the sweeper.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.server.await;
        let _ = self.sweeper.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real embedded server answers over HTTP on 127.0.0.1 with a token it minted.
    #[tokio::test]
    async fn serves_on_loopback_with_a_minted_admin() {
        let dir = tempfile::tempdir().unwrap();
        let server = start(&dir.path().join("app.db")).await.unwrap();
        assert!(server.addr().ip().is_loopback());
        let token = server.add_admin("desktop-test").await.unwrap();
        let client = creditdesk_client::Client::new(server.base_url(), token).unwrap();
        let me = client.me().await.unwrap();
        assert_eq!((me.name.as_str(), me.role), ("desktop-test", Role::Admin));
        assert!(server.add_admin("desktop-test").await.is_err(), "names are unique");
        server.stop().await;
        assert!(client.health().await.is_err(), "stopped means no longer listening");
    }
}
