//! # creditdesk-ledger
//!
//! The rules of Creditdesk's append-only credit ledger, as pure functions and
//! in-memory state: no IO, no async, no database. The billing API and the
//! desktop app stand on it. The exact semantics are in `docs/ledger.md`.
//!
//! Map of the crate:
//! - [`amount`]: `Credits` and `Money` (exact decimals, never floats);
//! - [`catalog`]: credit types (burn order, overage mode), products, rate cards;
//! - [`rating`]: quantity -> credits at the rate in force at event time;
//! - [`grant`], [`event`], [`entry`]: the things the ledger holds;
//! - [`wallet`]: one customer's credits of one type: allocation, expiry,
//!   rollover, overage settlement, voids, reversals;
//! - [`balance`]: balances at an instant as known at a recorded time;
//! - [`history`]: the index that answers those queries without rescanning;
//! - [`series`], [`forecast`]: burn series, balance history, runway, breakage;
//! - [`engine`]: an in-memory ledger that ties it together (idempotency,
//!   late window, rejected events), the reference the stores are tested against;
//! - [`clock`]: injectable time.

pub mod amount;
pub mod balance;
pub mod catalog;
pub mod clock;
pub mod engine;
pub mod entry;
pub mod error;
pub mod event;
pub mod forecast;
pub mod grant;
pub mod history;
pub mod ids;
pub mod rating;
pub mod series;
pub mod wallet;

pub use amount::{Credits, Currency, Money};
pub use error::{LedgerError, Result};
