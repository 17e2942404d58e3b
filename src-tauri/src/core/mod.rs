//! The app's core, free of Tauri so it can be tested without a window: the
//! active connection (embedded or remote), the cache with data age, and the
//! views the UI asks for. `commands.rs` is a thin layer of
//! `#[tauri::command]`s over [`AppCore`]. The billing API is reached only
//! through `creditdesk-client`, even in embedded mode (over 127.0.0.1).

pub mod cache;
pub mod embedded;
pub mod export;
pub mod profile;
pub mod schema;
pub mod timing;
pub mod views;
pub mod workflows;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use creditdesk_api::me::MeResponse;
use creditdesk_client::{Client, ClientError};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use tokio::sync::{Mutex, RwLock};
use utoipa::ToSchema;

use cache::Cache;
use embedded::EmbeddedState;
use profile::{Profiles, Remote};

/// Everything that can go wrong below the commands.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("not connected: {0}")]
    NotConnected(String),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("settings: {0}")]
    Settings(String),
    #[error("{field}: {rule}")]
    Input { field: String, rule: String },
    #[error("the embedded billing API: {0}")]
    Embedded(String),
    #[error("drawing the chart: {0}")]
    Chart(#[from] creditdesk_charts::ChartError),
    #[error("cancelled")]
    Cancelled,
}

impl CoreError {
    pub fn io(path: &Path, source: std::io::Error) -> CoreError {
        CoreError::Io { path: path.display().to_string(), source }
    }

    pub fn input(field: &str, rule: impl Into<String>) -> CoreError {
        CoreError::Input { field: field.into(), rule: rule.into() }
    }
}

/// An error as the UI shows it: what failed, and what to do.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AppError {
    /// Stable: the server's problem `code`, or `unreachable`, `not_connected`,
    /// `invalid_input`, `settings`, `io`, `chart`, `embedded`, `cancelled`.
    pub code: String,
    /// One sentence for a person.
    pub message: String,
    /// The HTTP status, when the server answered.
    #[serde(default)]
    pub status: Option<u16>,
    /// The field the error is about, when there is one.
    #[serde(default)]
    pub field: Option<String>,
    /// What to do about it.
    pub hint: String,
}

impl From<CoreError> for AppError {
    fn from(e: CoreError) -> AppError {
        let message = e.to_string();
        let (code, status, field, hint) = match &e {
            CoreError::NotConnected(_) => ("not_connected", None, None, "Open Settings -> Connection."),
            CoreError::Client(c) => match c.problem() {
                Some(p) => {
                    let field = p.errors.first().map(|f| f.field.clone());
                    let hint = match p.status {
                        401 => "Check the token in Settings -> Connection.",
                        403 => "Your role may not do this; ask someone who may.",
                        404 => "It may have been removed; refresh the list.",
                        409 | 422 | 400 => "Correct the field named and try again.",
                        _ => "Try again; if it persists, tell the server's operators.",
                    };
                    let code = serde_json::to_value(&p.code)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_else(|| "problem".into());
                    return AppError {
                        code,
                        message: p.detail.clone(),
                        status: Some(p.status),
                        field,
                        hint: hint.into(),
                    };
                }
                None if c.status().is_some() => {
                    ("http", c.status(), None, "The server answered unexpectedly; check the server URL.")
                }
                None => ("unreachable", None, None, "The server cannot be reached; showing the last data fetched."),
            },
            CoreError::Io { .. } => ("io", None, None, "Check the disk and the app's permissions."),
            CoreError::Settings(_) => ("settings", None, None, "Re-enter the connection in Settings."),
            CoreError::Input { field, .. } => {
                return AppError {
                    code: "invalid_input".into(),
                    message,
                    status: None,
                    field: Some(field.clone()),
                    hint: "Correct the field named.".into(),
                }
            }
            CoreError::Embedded(_) => ("embedded", None, None, "Restart the app, or connect to a server in Settings."),
            CoreError::Chart(_) => ("chart", None, None, "The table below the chart has the values."),
            CoreError::Cancelled => ("cancelled", None, None, "Start again when ready."),
        };
        AppError { code: code.into(), message, status, field, hint: hint.into() }
    }
}

/// How old what the UI shows is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DataAge {
    /// When the data was fetched from the server.
    pub as_of: DateTime<Utc>,
    /// Set when the server could not be reached and this is the last answer
    /// fetched: why the fresh fetch failed.
    #[serde(default)]
    pub stale: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionMode {
    /// The billing API in-process over the app's SQLite file, demo data.
    Embedded,
    /// A server configured in Settings -> Connection.
    Remote,
}

/// Who and where the app is signed in.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Session {
    pub mode: ConnectionMode,
    pub server_url: String,
    pub server_version: String,
    pub user: MeResponse,
    /// A banner the UI shows on every view (embedded: "Demo data (embedded)").
    #[serde(default)]
    pub banner: Option<String>,
}

pub(crate) struct Active {
    client: Client,
    session: Session,
}

/// The app's state: one per process.
pub struct AppCore {
    profiles: Profiles,
    active: RwLock<Option<Active>>,
    cache: Cache,
    embedded: Mutex<EmbeddedState>,
    /// Held while signing in to the configured server, so a second caller
    /// waits for the first sign-in instead of starting its own.
    signing_in: Mutex<()>,
    launch_failure: std::sync::Mutex<Option<CoreError>>,
    /// Wakes every report being gathered (finance, CSV exports): "Cancel".
    reports_cancel: Arc<tokio::sync::Notify>,
}

impl AppCore {
    pub fn new(profiles: Profiles) -> AppCore {
        AppCore {
            profiles,
            active: RwLock::new(None),
            cache: Cache::default(),
            embedded: Mutex::default(),
            signing_in: Mutex::default(),
            launch_failure: std::sync::Mutex::default(),
            reports_cancel: Arc::default(),
        }
    }

    pub fn profiles(&self) -> &Profiles {
        &self.profiles
    }

    /// The current session, if signed in.
    pub async fn session(&self) -> Option<Session> {
        self.active.read().await.as_ref().map(|a| a.session.clone())
    }

    /// Signs in to `server_url` with `token`: checks the server (version)
    /// and the token (`/v1/me`) before anything is kept.
    pub async fn probe(server_url: &str, token: &str) -> Result<(Client, String, MeResponse), CoreError> {
        if token.trim().is_empty() {
            return Err(CoreError::input("token", "is required"));
        }
        let client = Client::builder(server_url.trim())
            .token(token.trim())
            .retry(creditdesk_client::RetryPolicy { max_attempts: 1, ..Default::default() })
            .build()
            .map_err(|e| CoreError::input("server_url", e.to_string()))?;
        let (version, me) = tokio::try_join!(client.version(), client.me())?;
        Ok((client, version.version, me))
    }

    pub(crate) async fn activate(&self, client: Client, session: Session) {
        self.cache.clear();
        *self.active.write().await = Some(Active { client, session });
    }

    /// Connects to the configured remote server. `Ok(None)` when none is
    /// configured (embedded mode is the caller's next step).
    pub async fn connect_remote(&self) -> Result<Option<Session>, CoreError> {
        let Some(remote) = self.profiles.remote()? else { return Ok(None) };
        let (client, server_version, user) = Self::probe(&remote.server_url, &remote.token).await?;
        let session = Session {
            mode: ConnectionMode::Remote,
            server_url: client.base_url().to_string(),
            server_version,
            user,
            banner: None,
        };
        self.activate(client, session.clone()).await;
        Ok(Some(session))
    }

    /// Signs in to the configured server, if any, while the window loads, so
    /// the UI's first [`AppCore::remote_session`] finds the session ready.
    /// A failure is kept for that call to report (not tried twice in a row).
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn sign_in_at_launch(&self) {
        let _one_at_a_time = self.signing_in.lock().await;
        if let Err(e) = self.signed_in_or_connect().await {
            *self.launch_failure.lock().expect("launch failure lock") = Some(e);
        }
    }

    /// The configured server's session: the one already signed in, else a
    /// new sign-in. `Ok(None)` when no server is configured.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn remote_session(&self) -> Result<Option<Session>, CoreError> {
        let _one_at_a_time = self.signing_in.lock().await;
        if let Some(e) = self.launch_failure.lock().expect("launch failure lock").take() {
            return Err(e);
        }
        self.signed_in_or_connect().await
    }

    async fn signed_in_or_connect(&self) -> Result<Option<Session>, CoreError> {
        if let Some(session) = self.session().await.filter(|s| s.mode == ConnectionMode::Remote) {
            return Ok(Some(session));
        }
        self.connect_remote().await
    }

    /// Saves a remote profile (after checking it works) and switches to it.
    pub async fn save_remote(&self, server_url: &str, token: &str) -> Result<Session, CoreError> {
        Self::probe(server_url, token).await?;
        self.profiles.save_remote(&Remote { server_url: server_url.trim().into(), token: token.trim().into() })?;
        self.connect_remote().await?.ok_or_else(|| CoreError::Settings("the profile was not saved".into()))
    }

    /// Forgets the remote profile; the caller starts embedded mode next.
    pub async fn forget_remote(&self) -> Result<(), CoreError> {
        self.profiles.clear_remote()?;
        *self.active.write().await = None;
        self.cache.clear();
        Ok(())
    }

    async fn client(&self) -> Result<Client, CoreError> {
        if let Some(a) = self.active.read().await.as_ref() {
            return Ok(a.client.clone());
        }
        // Asked for while a sign-in runs (the UI asks for the customer it is
        // about to reopen as soon as its script loads): wait for that sign-in.
        let _signed_in = self.signing_in.lock().await;
        match self.active.read().await.as_ref() {
            Some(a) => Ok(a.client.clone()),
            None => Err(CoreError::NotConnected("no server yet (the embedded one may still be starting)".into())),
        }
    }

    /// Runs `fetch` against the server and caches the answer under `key`.
    /// If the server cannot be reached, returns the last answer for `key`
    /// marked stale; other errors (the server said no) pass through.
    pub async fn fetch<T, F, Fut>(&self, key: &str, fetch: F) -> Result<(T, DataAge), CoreError>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce(Client) -> Fut,
        Fut: Future<Output = Result<T, CoreError>>,
    {
        let client = self.client().await?;
        match fetch(client).await {
            Ok(value) => {
                let now = Utc::now();
                self.cache.put(key, now, &value);
                Ok((value, DataAge { as_of: now, stale: None }))
            }
            Err(CoreError::Client(e)) if e.status().is_none() && e.problem().is_none() => {
                match self.cache.get::<T>(key) {
                    Some((at, value)) => Ok((value, DataAge { as_of: at, stale: Some(e.to_string()) })),
                    None => Err(CoreError::Client(e)),
                }
            }
            Err(e) => Err(e),
        }
    }
}

/// Typed text, trimmed; `None` when nothing is left (an empty optional
/// field reaches the API as absent).
pub(crate) fn opt_text(s: &str) -> Option<String> {
    Some(s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// [`opt_text`] of an optional field.
pub(crate) fn some_text(s: Option<String>) -> Option<String> {
    s.as_deref().and_then(opt_text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use creditdesk_api::admin::CreateUserRequest;
    use creditdesk_api::common::Role;
    use creditdesk_server::seed::SeedOptions;

    /// A real server (an embedded one, served over 127.0.0.1) and a second
    /// app configured for it as a remote server with `token`.
    async fn server_and_app(dir: &Path) -> (AppCore, String, String, AppCore) {
        let server = AppCore::new(Profiles::new(dir.join("sc"), dir.join("sd")));
        let opts = SeedOptions { customers: 1, days: 2, seed: 3 };
        let url = server.start_embedded(opts, |_| {}).await.unwrap().server_url;
        let user = CreateUserRequest { name: "launch-viewer".into(), role: Role::Viewer };
        let token = server.client().await.unwrap().create_user(&user).await.unwrap().token;
        let app = AppCore::new(Profiles::new(dir.join("ac"), dir.join("ad")));
        (server, url, token, app)
    }

    #[tokio::test]
    async fn the_sign_in_at_launch_is_the_session_app_start_gets() {
        let dir = tempfile::tempdir().unwrap();
        let (_server, url, token, app) = server_and_app(dir.path()).await;
        app.profiles.save_remote(&Remote { server_url: url, token }).unwrap();
        app.sign_in_at_launch().await;
        let launched = app.session().await.expect("signed in at launch");
        assert_eq!((launched.mode, launched.user.name.as_str()), (ConnectionMode::Remote, "launch-viewer"));
        let session = app.remote_session().await.unwrap().unwrap();
        assert_eq!(session.user.user_id, launched.user.user_id);
    }

    /// A failed sign-in at launch is what the UI's first start reports (it
    /// is not tried again at once); the next start tries again.
    #[tokio::test]
    async fn a_failed_sign_in_at_launch_is_reported_once_then_retried() {
        let dir = tempfile::tempdir().unwrap();
        let (_server, url, token, app) = server_and_app(dir.path()).await;
        app.profiles.save_remote(&Remote { server_url: url.clone(), token: "cd_wrong".into() }).unwrap();
        app.sign_in_at_launch().await;
        assert!(app.session().await.is_none());
        app.profiles.save_remote(&Remote { server_url: url, token }).unwrap();
        let e = AppError::from(app.remote_session().await.unwrap_err());
        assert_eq!(e.status, Some(401), "{e:?}");
        let session = app.remote_session().await.unwrap().unwrap();
        assert_eq!(session.user.name, "launch-viewer");
    }

    /// A view asked for while the launch sign-in runs waits for it, and is
    /// answered with that session.
    #[tokio::test]
    async fn a_view_asked_for_during_the_launch_sign_in_waits_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let (_server, url, token, app) = server_and_app(dir.path()).await;
        app.profiles.save_remote(&Remote { server_url: url, token }).unwrap();
        // A sign-in under way (as at launch), which ends after the view is asked for.
        let signing_in = app.signing_in.lock().await;
        let (customers, ()) = tokio::join!(app.customers(Default::default(), None), async {
            app.connect_remote().await.unwrap();
            drop(signing_in);
        });
        assert_eq!(customers.unwrap().items.len(), 1);
    }

    #[tokio::test]
    async fn no_configured_server_is_no_remote_session() {
        let dir = tempfile::tempdir().unwrap();
        let app = AppCore::new(Profiles::new(dir.path().join("c"), dir.path().join("d")));
        app.sign_in_at_launch().await;
        assert!(app.remote_session().await.unwrap().is_none());
    }
}
