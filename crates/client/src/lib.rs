//! # creditdesk-client
//!
//! A typed async client for the Creditdesk billing API, used by the desktop
//! app, by integrations that ingest usage, and by the server's end-to-end
//! tests. Requests and responses are the `creditdesk-api` types, so a
//! contract change breaks the build rather than a customer's balance.
//!
//! ```no_run
//! # async fn demo() -> Result<(), creditdesk_client::ClientError> {
//! use creditdesk_client::{Client, ProblemCode};
//! use creditdesk_api::ledger::LedgerQuery;
//! use creditdesk_api::Paged;
//!
//! let client = Client::new("https://billing.example.com", "cdk_...")?;
//! let me = client.me().await?;
//! println!("{} ({})", me.name, me.role);
//!
//! // Walk every page of a customer's ledger.
//! let mut query = LedgerQuery::default();
//! loop {
//!     let page = client.ledger("acme", &query).await?;
//!     for entry in &page.items {
//!         println!("{} {} {}", entry.seq, entry.kind, entry.amount);
//!     }
//!     match page.next_cursor {
//!         Some(cursor) => query.set_cursor(Some(cursor)),
//!         None => break,
//!     }
//! }
//!
//! // Branch on the server's stable problem codes.
//! match client.customer("nobody").await {
//!     Err(e) if e.is(&ProblemCode::NotFound) => println!("no such customer"),
//!     other => { other?; }
//! }
//! # Ok(()) }
//! ```
//!
//! ## Routes
//!
//! All under the base URL; every route but `/healthz` needs the bearer
//! token. The templates are `creditdesk_api::routes` constants, shared with
//! the server's router.
//!
//! | method | route | client method | retried |
//! |---|---|---|---|
//! | GET | `/healthz` | [`Client::health`] | yes |
//! | GET | `/v1/version` | [`Client::version`] | yes |
//! | GET | `/openapi.json` | [`Client::openapi`] | yes |
//! | GET | `/metrics` | [`Client::metrics`] | yes |
//! | GET | `/v1/me` | [`Client::me`] | yes |
//! | GET | `/v1/customers` | [`Client::customers`] | yes |
//! | GET | `/v1/customers/{id}` | [`Client::customer`] | yes |
//! | GET | `/v1/customers/{id}/balances` | [`Client::balances`] | yes |
//! | GET | `/v1/customers/{id}/grants` | [`Client::grants`] | yes |
//! | GET | `/v1/customers/{id}/ledger` | [`Client::ledger`] | yes |
//! | GET | `/v1/customers/{id}/burn` | [`Client::burn`] | yes |
//! | GET | `/v1/customers/{id}/forecast` | [`Client::forecast`] | yes |
//! | GET | `/v1/customers/{id}/expirations` | [`Client::expirations`] | yes |
//! | GET | `/v1/reports/expirations` | [`Client::report_expirations`] | yes |
//! | GET | `/v1/reports/breakage` | [`Client::report_breakage`] | yes |
//! | GET | `/v1/reports/reconciliation` | [`Client::report_reconciliation`] | yes |
//! | POST | `/v1/events` | [`Client::ingest`], [`Client::ingest_with_key`] | with key |
//! | GET | `/v1/events/rejected` | [`Client::rejected_events`] | yes |
//! | POST | `/v1/authorize` | [`Client::authorize`] | yes (read-only) |
//! | POST | `/v1/grants` | [`Client::create_grant`], [`Client::create_grant_with_key`] | with key |
//! | POST | `/v1/grants/{id}/void` | [`Client::void_grant`], [`Client::void_grant_with_key`] | with key |
//! | POST | `/v1/grants/{id}/extend` | [`Client::extend_expiry`], [`Client::extend_expiry_with_key`] | with key |
//! | GET, POST | `/v1/admin/credit-types` | [`Client::credit_types`], [`Client::create_credit_type`] | yes, with key |
//! | GET | `/v1/admin/credit-types/{id}` | [`Client::credit_type`] | yes |
//! | GET, POST | `/v1/admin/products` | [`Client::products`], [`Client::create_product`] | yes, with key |
//! | GET | `/v1/admin/products/{id}` | [`Client::product`] | yes |
//! | POST | `/v1/admin/products/{id}/rates` | [`Client::add_rate_version`] | with key |
//! | GET, POST | `/v1/admin/overrides` | [`Client::overrides`], [`Client::set_override`] | yes, with key |
//! | POST | `/v1/admin/customers` | [`Client::create_customer`] | with key |
//! | GET, POST | `/v1/admin/users` | [`Client::users`], [`Client::create_user`] | yes, **never** |
//! | POST | `/v1/admin/users/{id}/revoke` | [`Client::revoke_user`] | with key |
//! | GET | `/v1/admin/roles` | [`Client::role_limits`] | yes |
//! | POST | `/v1/admin/roles/{role}/limits` | [`Client::set_role_limits`] | with key |
//! | POST | `/v1/grants/preview` | [`Client::preview_grant`] | yes (read-only) |
//! | GET | `/v1/approvals`, `/v1/approvals/{id}` | [`Client::approvals`], [`Client::approval`] | yes |
//! | POST | `/v1/approvals/{id}/approve`, `.../reject`, `.../cancel` | [`Client::approve`], [`Client::reject`], [`Client::cancel_approval`] | with key |
//! | GET, POST | `/v1/disputes` | [`Client::disputes`], [`Client::open_dispute`] | yes, with key |
//! | GET | `/v1/disputes/{id}`, `.../evidence` | [`Client::dispute`], [`Client::dispute_evidence`] | yes |
//! | POST | `/v1/disputes/{id}/assign`, `.../comments`, `.../resolve` | [`Client::assign_dispute`], [`Client::comment_dispute`], [`Client::resolve_dispute`] | with key |
//! | GET | `/v1/audit` | [`Client::audit`] | yes |
//!
//! ## Timeouts and retries
//!
//! A connect timeout (default 5 s) and a per-attempt timeout (default 30 s)
//! apply to every attempt. A call is retried only when repeating it cannot
//! write twice: GETs, the read-only authorize, and POSTs the client sends
//! with an `Idempotency-Key` (it generates one per logical call and reuses
//! it on every attempt; `*_with_key` methods take the caller's own key to
//! resume after a restart). Retried: connection failures, timeouts, broken
//! connections, and 429/502/503/504 (honouring `Retry-After` up to a cap),
//! at most [`RetryPolicy::max_attempts`] attempts in all, with exponential
//! backoff and jitter. See [`retry`].
//!
//! ## Errors
//!
//! Every method returns [`ClientError`]. When the server answered with a
//! problem document, [`ClientError::code`], [`ClientError::field_errors`] and
//! [`ClientError::request_id`] expose it; other variants carry the method
//! and path and the underlying cause.
//!
//! ## Replays
//!
//! Ingest, grant, extend and void return [`Idempotent`], whose `replayed` is the
//! server's `Idempotent-Replayed: true`: the answer is the stored one from
//! an earlier call with the same key, and nothing new was written.

pub mod client;
pub mod error;
pub mod retry;

pub use client::{
    Client, ClientBuilder, ExtendOutcome, GrantOutcome, Idempotent, Outcome, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT,
};
pub use creditdesk_api::{Problem, ProblemCode};
pub use error::{ClientError, TransportKind};
pub use retry::RetryPolicy;
