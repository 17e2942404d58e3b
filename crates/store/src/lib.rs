//! # creditdesk-store
//!
//! Persistence for Creditdesk: the schema and its migrations, the write
//! path that runs `creditdesk-ledger`'s rules inside database transactions,
//! and the queries behind the billing API. See `docs/server.md`.
//!
//! Two backends with the same public methods: [`SqliteStore`] (embedded,
//! one writer with group commit) and [`PgStore`] (several writer threads
//! and several server processes on one database, correct by row locks).
//! [`Store`] is either. The write path and the queries are written once
//! (`shared`), against the small `db::Db` seam both backends implement.

pub mod codec;
mod db;
pub mod error;
pub mod model;
pub mod pg;
mod shared;
pub mod sqlite;
mod store;
pub mod workflow;

pub use error::{Result, StoreError};
pub use model::{
    CatalogTimes, Customer, GrantMeta, IdempotencyKey, Idempotent, LedgerFilter, OverrideMeta, Page, RejectedRecord,
    SlotUsage, StoreOptions, StoredEvent, User,
};
pub use pg::PgStore;
pub use shared::run_in_background;
pub use shared::write::{AdminOp, Idem, Render, WriteTiming};
pub use sqlite::SqliteStore;
pub use store::Store;
