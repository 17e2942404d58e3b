//! What both stores share: the row codecs, the write path and the queries,
//! written once against [`crate::db::Db`].

pub(crate) mod load;
pub(crate) mod read;
pub(crate) mod rows;
pub(crate) mod write;

use crate::error::{Result, StoreError};
use crate::model::Idempotent;

/// Puts the calling thread in Linux's background scheduling class
/// (`SCHED_IDLE`); elsewhere does nothing.
///
/// For work that is measured in throughput, not in one request's wait:
/// the store's writers and checkpointer (they batch their work by group
/// commit) and the server's ingest handling. Any request-serving thread
/// that wakes takes the core from such a thread at once. At nice 10 (used
/// until 2026-12-04) it did not: the scheduler let a woken request thread
/// wait for the writer's or checkpointer's time slice, up to a 4 ms tick
/// (`perf sched` under live ingest), and that wait was the balance
/// query's p99 (docs/bench-history.md). Background threads still get every idle
/// core, and share a contended one among themselves; while request
/// threads keep both cores busy, ingest waits (its clients see slower
/// acks, not errors).
pub fn run_in_background() {
    #[cfg(target_os = "linux")]
    // SAFETY: a plain system call on the calling thread (pid 0), with a
    // parameter struct that lives across the call. Lowering a thread's own
    // class needs no privilege.
    unsafe {
        let param = libc::sched_param { sched_priority: 0 };
        if libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) != 0 {
            tracing::debug!("could not move a thread to the background scheduling class");
        }
    }
}

/// Without a key there is nothing to replay.
pub(crate) fn done<T>(r: Idempotent<T>) -> Result<T> {
    match r {
        Idempotent::Done(t) => Ok(t),
        Idempotent::Replayed { .. } => Err(StoreError::corrupt("a replay without an idempotency key")),
    }
}

/// The public methods of a store, the same on every backend. The store
/// type provides `send` (queue a write) and `read` (run a query on a
/// pooled connection inside a read transaction) and `inner.shared`.
macro_rules! ledger_api {
    ($store:ident) => {
        impl $store {
            pub fn options(&self) -> &$crate::model::StoreOptions {
                &self.inner.shared.options
            }

            pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
                self.inner.shared.options.clock.now()
            }

            /// The catalog as of the last change this process has seen.
            pub fn catalog(&self) -> std::sync::Arc<creditdesk_ledger::catalog::Catalog> {
                self.inner.shared.catalog()
            }

            // ---- writes ----

            pub async fn ingest(
                &self,
                events: Vec<creditdesk_ledger::event::UsageEvent>,
                mode: creditdesk_ledger::engine::IngestMode,
                actor: creditdesk_ledger::ids::ActorId,
            ) -> $crate::Result<Vec<creditdesk_ledger::engine::IngestResult>> {
                $crate::shared::done(self.ingest_idempotent(events, mode, actor, None).await?)
            }

            #[doc = concat!("[`", stringify!($store), "::ingest`] under an `Idempotency-Key`.")]
            pub async fn ingest_idempotent(
                &self,
                events: Vec<creditdesk_ledger::event::UsageEvent>,
                mode: creditdesk_ledger::engine::IngestMode,
                actor: creditdesk_ledger::ids::ActorId,
                idem: Option<$crate::Idem<Vec<creditdesk_ledger::engine::IngestResult>>>,
            ) -> $crate::Result<$crate::Idempotent<Vec<creditdesk_ledger::engine::IngestResult>>> {
                self.ingest_audited(events, mode, actor, idem, None, None).await
            }

            /// [`Self::ingest_idempotent`] with the call's audit row, written in
            /// the batch's transaction (its `at` becomes the commit group's
            /// time): an acknowledged batch is never without its row, and the
            /// row costs the writer no request of its own. With a
            /// [`WriteTiming`](crate::WriteTiming), the writer notes when it
            /// took the batch and when the batch's group committed.
            pub async fn ingest_audited(
                &self,
                events: Vec<creditdesk_ledger::event::UsageEvent>,
                mode: creditdesk_ledger::engine::IngestMode,
                actor: creditdesk_ledger::ids::ActorId,
                idem: Option<$crate::Idem<Vec<creditdesk_ledger::engine::IngestResult>>>,
                audit: Option<$crate::workflow::AuditEntry>,
                timing: Option<std::sync::Arc<$crate::WriteTiming>>,
            ) -> $crate::Result<$crate::Idempotent<Vec<creditdesk_ledger::engine::IngestResult>>> {
                // Times are stored to the microsecond: finer digits go now, so
                // an event sent again compares equal to the stored one
                // (a duplicate, not a conflict).
                let mut events = events;
                for e in &mut events {
                    e.timestamp = chrono::SubsecRound::trunc_subsecs(e.timestamp, 6);
                }
                let audit = audit.map(Box::new);
                self.send(|reply| $crate::shared::write::Command::Ingest {
                    events,
                    mode,
                    actor,
                    idem,
                    audit,
                    timing,
                    reply,
                })
                .await
            }

            pub async fn grant(
                &self,
                grant: creditdesk_ledger::grant::NewGrant,
            ) -> $crate::Result<Vec<creditdesk_ledger::entry::Entry>> {
                $crate::shared::done(self.grant_idempotent(grant, None).await?)
            }

            #[doc = concat!("[`", stringify!($store), "::grant`] under an `Idempotency-Key`.")]
            pub async fn grant_idempotent(
                &self,
                grant: creditdesk_ledger::grant::NewGrant,
                idem: Option<$crate::Idem<Vec<creditdesk_ledger::entry::Entry>>>,
            ) -> $crate::Result<$crate::Idempotent<Vec<creditdesk_ledger::entry::Entry>>> {
                self.send(|reply| $crate::shared::write::Command::Grant { grant: Box::new(grant), idem, reply }).await
            }

            pub async fn void(
                &self,
                grant: creditdesk_ledger::ids::GrantId,
                by: creditdesk_ledger::entry::Attribution,
            ) -> $crate::Result<creditdesk_ledger::Credits> {
                $crate::shared::done(self.void_idempotent(grant, by, None).await?)
            }

            #[doc = concat!("[`", stringify!($store), "::void`] under an `Idempotency-Key`.")]
            pub async fn void_idempotent(
                &self,
                grant: creditdesk_ledger::ids::GrantId,
                by: creditdesk_ledger::entry::Attribution,
                idem: Option<$crate::Idem<creditdesk_ledger::Credits>>,
            ) -> $crate::Result<$crate::Idempotent<creditdesk_ledger::Credits>> {
                self.send(|reply| $crate::shared::write::Command::Void { grant, by, idem, reply }).await
            }

            pub async fn reverse(
                &self,
                event: creditdesk_ledger::ids::EventId,
                by: creditdesk_ledger::entry::Attribution,
            ) -> $crate::Result<creditdesk_ledger::wallet::Reversal> {
                self.send(|reply| $crate::shared::write::Command::Reverse { event, by, reply }).await
            }

            /// Books every expiry, rollover and settlement now due; returns the
            /// number of entries written.
            pub async fn sweep(&self) -> $crate::Result<usize> {
                self.send(|reply| $crate::shared::write::Command::Sweep { reply }).await
            }

            pub async fn admin(&self, op: $crate::AdminOp) -> $crate::Result<()> {
                self.send(|reply| $crate::shared::write::Command::Admin { op, reply }).await
            }

            // ---- reads ----

            pub async fn balance(
                &self,
                customer: creditdesk_ledger::ids::CustomerId,
                credit_type: creditdesk_ledger::ids::CreditTypeId,
                at: Option<chrono::DateTime<chrono::Utc>>,
                as_of: Option<chrono::DateTime<chrono::Utc>>,
            ) -> $crate::Result<creditdesk_ledger::balance::Balance> {
                let now = self.now();
                let (at, as_of) = (at.unwrap_or(now), as_of.unwrap_or(now));
                let shared = self.inner.shared.clone();
                self.read(move |db| {
                    let ct = shared.fresh_catalog(db)?.credit_type(&credit_type)?.clone();
                    $crate::shared::read::balance(db, &customer, &ct, at, as_of)
                })
                .await
            }

            pub async fn burn_series(
                &self,
                customer: creditdesk_ledger::ids::CustomerId,
                from: chrono::DateTime<chrono::Utc>,
                to: chrono::DateTime<chrono::Utc>,
                bucket: creditdesk_ledger::series::Bucket,
                tz: chrono_tz::Tz,
            ) -> $crate::Result<creditdesk_ledger::series::BurnSeries> {
                self.read(move |db| $crate::shared::read::burn_series(db, &customer, from, to, bucket, tz)).await
            }

            pub async fn ledger(
                &self,
                customer: creditdesk_ledger::ids::CustomerId,
                filter: $crate::LedgerFilter,
                cursor: Option<String>,
                limit: u32,
            ) -> $crate::Result<$crate::Page<creditdesk_ledger::entry::Entry>> {
                self.read(move |db| $crate::shared::read::ledger(db, &customer, &filter, cursor.as_deref(), limit))
                    .await
            }

            pub async fn event(
                &self,
                id: creditdesk_ledger::ids::EventId,
            ) -> $crate::Result<Option<$crate::StoredEvent>> {
                self.read(move |db| $crate::shared::rows::find_event(db, &id)).await
            }

            /// Every entry linked to an accepted event (none for an unknown one).
            pub async fn entries_of_event(
                &self,
                id: creditdesk_ledger::ids::EventId,
            ) -> $crate::Result<Vec<creditdesk_ledger::entry::Entry>> {
                self.read(move |db| match $crate::shared::rows::find_event(db, &id)? {
                    Some(stored) => $crate::shared::rows::entries_of_event(db, &stored),
                    None => Ok(Vec::new()),
                })
                .await
            }

            pub async fn customers(
                &self,
                query: Option<String>,
                cursor: Option<String>,
                limit: u32,
            ) -> $crate::Result<$crate::Page<$crate::Customer>> {
                self.read(move |db| $crate::shared::read::customers(db, query.as_deref(), cursor.as_deref(), limit))
                    .await
            }

            pub async fn customer(&self, id: creditdesk_ledger::ids::CustomerId) -> $crate::Result<$crate::Customer> {
                let missing = id.to_string();
                self.read(move |db| $crate::shared::read::customer(db, &id))
                    .await?
                    .ok_or_else(|| creditdesk_ledger::LedgerError::not_found("customer", missing).into())
            }

            pub async fn rejected(
                &self,
                customer: Option<creditdesk_ledger::ids::CustomerId>,
                cursor: Option<String>,
                limit: u32,
            ) -> $crate::Result<$crate::Page<$crate::RejectedRecord>> {
                self.read(move |db| $crate::shared::read::rejected(db, customer.as_ref(), cursor.as_deref(), limit))
                    .await
            }

            /// A grant (it names its wallet) with when it was recorded and voided.
            pub async fn find_grant(
                &self,
                id: creditdesk_ledger::ids::GrantId,
            ) -> $crate::Result<Option<(creditdesk_ledger::grant::Grant, $crate::GrantMeta)>> {
                self.read(move |db| $crate::shared::read::find_grant(db, &id)).await
            }

            /// When each of a customer's grants was recorded and voided.
            pub async fn grant_metas(
                &self,
                customer: creditdesk_ledger::ids::CustomerId,
            ) -> $crate::Result<std::collections::HashMap<creditdesk_ledger::ids::GrantId, $crate::GrantMeta>> {
                self.read(move |db| $crate::shared::read::grant_metas(db, &customer)).await
            }

            /// When each credit type and product was created.
            pub async fn catalog_times(&self) -> $crate::Result<$crate::CatalogTimes> {
                self.read(|db| $crate::shared::read::catalog_times(db)).await
            }

            /// Who last changed each customer rate override and when, in
            /// (customer, product) order, optionally for one customer or product.
            pub async fn overrides(
                &self,
                customer: Option<creditdesk_ledger::ids::CustomerId>,
                product: Option<creditdesk_ledger::ids::ProductId>,
            ) -> $crate::Result<Vec<$crate::OverrideMeta>> {
                self.read(move |db| $crate::shared::read::overrides(db, customer.as_ref(), product.as_ref())).await
            }

            /// Usage per credit type and 15-minute slot of event time in
            /// `[from, to)`: events and rated credits beside the burns and
            /// overage booked for them, in (credit type, slot) order.
            pub async fn reconciliation(
                &self,
                from: chrono::DateTime<chrono::Utc>,
                to: chrono::DateTime<chrono::Utc>,
                customer: Option<creditdesk_ledger::ids::CustomerId>,
                credit_type: Option<creditdesk_ledger::ids::CreditTypeId>,
            ) -> $crate::Result<Vec<$crate::SlotUsage>> {
                self.read(move |db| {
                    $crate::shared::read::reconciliation(db, from, to, customer.as_ref(), credit_type.as_ref())
                })
                .await
            }

            pub async fn user_by_token_hash(&self, hash: String) -> $crate::Result<Option<$crate::User>> {
                self.read(move |db| $crate::shared::read::user_by_token_hash(db, &hash)).await
            }

            pub async fn users(&self) -> $crate::Result<Vec<$crate::User>> {
                self.read(|db| $crate::shared::read::users(db)).await
            }
        }
    };
}
pub(crate) use ledger_api;

#[cfg(all(test, target_os = "linux"))]
mod tests {
    /// The calling thread's scheduling policy.
    fn policy() -> i32 {
        // SAFETY: a query about the calling thread; no memory is passed.
        unsafe { libc::sched_getscheduler(0) }
    }

    #[test]
    fn a_background_thread_is_in_the_idle_class_and_only_that_thread() {
        let before = policy();
        let inside = std::thread::spawn(|| {
            super::run_in_background();
            policy()
        })
        .join()
        .unwrap();
        assert_eq!(inside, libc::SCHED_IDLE);
        assert_eq!(policy(), before, "the caller's own class is untouched");
        assert_ne!(before, libc::SCHED_IDLE);
    }
}
