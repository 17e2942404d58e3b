//! # creditdesk-server
//!
//! The billing API: HTTP (axum) over `creditdesk-store`. Handlers are thin:
//! parse, call the store, map the answer (`http/`). See `docs/server.md`.
//!
//! - [`config`]: TOML file + `CREDITDESK_*` environment + flags;
//! - [`auth`]: bearer tokens (stored hashed);
//! - [`state`]: what handlers share;
//! - [`http`]: routes, extractors, errors as RFC 9457 problems, OpenAPI;
//! - [`sweeper`]: the background expiry/rollover/settlement job;
//! - [`seed`]: the deterministic demo dataset;
//! - [`embedded`]: the API served in-process for the desktop app.

pub mod auth;
pub mod config;
pub mod embedded;
pub mod http;
pub mod seed;
pub mod state;
pub mod sweeper;

pub use state::AppState;
