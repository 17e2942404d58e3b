//! # creditdesk-store
//!
//! Persistence for Creditdesk: the schema and its migrations, the write
//! path that runs `creditdesk-ledger`'s rules inside database transactions,
//! and the queries behind the billing API. See `docs/server.md`.

pub mod codec;
pub mod error;
pub mod model;
pub mod sqlite;

pub use error::{Result, StoreError};
pub use model::{
    Customer, IdempotencyKey, Idempotent, LedgerFilter, Page, RejectedRecord, StoreOptions, StoredEvent, User,
};
pub use sqlite::{AdminOp, Idem, SqliteStore};
