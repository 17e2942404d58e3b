//! Embedded mode: with no server configured, the app seeds the demo dataset
//! into a SQLite file in its data directory (once; progress reported,
//! cancellable), serves the billing API in-process on 127.0.0.1 and signs
//! in as the demo admin. The demo size comes from `CREDITDESK_DEMO_CUSTOMERS`
//! and `CREDITDESK_DEMO_DAYS` (default: the full 200 customers x 365 days,
//! about a million events, ~35 s on first launch).

use std::sync::Arc;

use chrono::Utc;
use creditdesk_server::embedded::{self as server, Embedded};
use creditdesk_server::seed::{self, SeedError, SeedOptions, SeedProgress};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use utoipa::ToSchema;

use super::{AppCore, ConnectionMode, CoreError, Session};

/// The banner embedded mode shows on every view.
pub const BANNER: &str = "Demo data (embedded)";

#[derive(Default)]
pub struct EmbeddedState {
    server: Option<Embedded>,
    /// Set while a seed runs: notifying it cancels the seed.
    cancel: Option<Arc<Notify>>,
}

/// The `seed-progress` event's payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SeedProgressEvent {
    /// `checking`, `catalog`, `usage`, `finishing`, `done`.
    pub phase: String,
    /// 0..=100 over the whole seed.
    pub percent: u8,
    /// Simulated days done, of `days`.
    pub day: u32,
    pub days: u32,
    /// Usage events ingested so far.
    pub events: u64,
}

impl From<SeedProgress> for SeedProgressEvent {
    fn from(p: SeedProgress) -> Self {
        SeedProgressEvent {
            phase: p.phase.as_str().into(),
            percent: p.percent,
            day: p.day,
            days: p.days,
            events: p.events,
        }
    }
}

/// The demo size: `CREDITDESK_DEMO_CUSTOMERS` and `CREDITDESK_DEMO_DAYS`
/// (read through `var`), each defaulting to the full dataset.
pub fn seed_options(var: impl Fn(&str) -> Option<String>) -> Result<SeedOptions, CoreError> {
    let mut opts = SeedOptions::default();
    for (name, slot) in [("CREDITDESK_DEMO_CUSTOMERS", &mut opts.customers), ("CREDITDESK_DEMO_DAYS", &mut opts.days)] {
        if let Some(v) = var(name) {
            *slot = v.trim().parse().map_err(|_| CoreError::input(name, "must be a whole number"))?;
        }
    }
    Ok(opts)
}

impl AppCore {
    /// Seeds (if needed), starts the embedded server and signs in to it.
    /// Reuses the server if it already runs.
    pub async fn start_embedded(
        &self,
        opts: SeedOptions,
        progress: impl Fn(SeedProgressEvent) + Send + Sync + 'static,
    ) -> Result<Session, CoreError> {
        let db = self.profiles.embedded_db();
        let cancel = {
            let mut state = self.embedded.lock().await;
            if let Some(server) = &state.server {
                let url = server.base_url();
                drop(state);
                return self.sign_in_embedded(url).await;
            }
            if state.cancel.is_some() {
                return Err(CoreError::Embedded("already starting".into()));
            }
            let cancel = Arc::new(Notify::new());
            state.cancel = Some(cancel.clone());
            cancel
        };
        let seeded = self.seed_embedded(&db, opts, &cancel, Arc::new(progress)).await;
        self.embedded.lock().await.cancel = None;
        seeded?;
        let server = server::start(&db).await.map_err(|e| CoreError::Embedded(e.to_string()))?;
        let url = server.base_url();
        self.embedded.lock().await.server = Some(server);
        self.sign_in_embedded(url).await
    }

    /// Cancels a running first seed (the half-seeded file is deleted).
    /// `false` if no seed was running.
    pub async fn cancel_seed(&self) -> bool {
        match &self.embedded.lock().await.cancel {
            Some(c) => {
                c.notify_one();
                true
            }
            None => false,
        }
    }

    async fn seed_embedded(
        &self,
        db: &std::path::Path,
        opts: SeedOptions,
        cancel: &Notify,
        progress: Arc<dyn Fn(SeedProgressEvent) + Send + Sync>,
    ) -> Result<(), CoreError> {
        std::fs::create_dir_all(self.profiles.data_dir()).map_err(|e| CoreError::io(self.profiles.data_dir(), e))?;
        // An interrupted earlier seed cannot be resumed: start it over.
        for attempt in 0..2 {
            let p = progress.clone();
            let run = seed::demo_seed(db, server::store_options(), opts, move |x| p(x.into()));
            let result = tokio::select! {
                r = run => r,
                _ = cancel.notified() => {
                    remove_db(db);
                    return Err(CoreError::Cancelled);
                }
            };
            match result {
                Ok(report) => {
                    if let Some(token) = report.admin_token() {
                        self.profiles.save_embedded_token(token)?;
                    }
                    return Ok(());
                }
                Err(SeedError::Incomplete) if attempt == 0 => remove_db(db),
                Err(e) => return Err(CoreError::Embedded(e.to_string())),
            }
        }
        Err(CoreError::Embedded("the demo seed did not complete".into()))
    }

    /// Signs in with the saved demo token; if it is missing or refused (the
    /// file was lost), mints a new admin user and keeps its token.
    async fn sign_in_embedded(&self, url: String) -> Result<Session, CoreError> {
        let saved = self.profiles.embedded_token()?;
        let probed = match &saved {
            Some(token) => Self::probe(&url, token).await.ok(),
            None => None,
        };
        let (client, server_version, user) = match probed {
            Some(ok) => ok,
            None => {
                let name = format!("desktop-{}", Utc::now().format("%Y%m%d%H%M%S%3f"));
                let token = {
                    let state = self.embedded.lock().await;
                    let server = state.server.as_ref().ok_or_else(|| CoreError::Embedded("not running".into()))?;
                    server.add_admin(&name).await.map_err(|e| CoreError::Embedded(e.to_string()))?
                };
                self.profiles.save_embedded_token(&token)?;
                Self::probe(&url, &token).await?
            }
        };
        let session = Session {
            mode: ConnectionMode::Embedded,
            server_url: url,
            server_version,
            user,
            banner: Some(BANNER.into()),
        };
        self.activate(client, session.clone()).await;
        Ok(session)
    }
}

fn remove_db(db: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(std::path::PathBuf::from(p));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::profile::Profiles;
    use crate::core::views::CustomerFilter;
    use creditdesk_api::common::SortOrder;
    use creditdesk_api::customers::CustomerSort;

    fn small() -> SeedOptions {
        SeedOptions { customers: 3, days: 20, seed: 7 }
    }

    #[test]
    fn seed_size_from_the_environment() {
        let env = |k: &str| (k == "CREDITDESK_DEMO_CUSTOMERS").then(|| "5".to_string());
        let o = seed_options(env).unwrap();
        assert_eq!((o.customers, o.days), (5, 365));
        let bad = seed_options(|_| Some("many".into())).unwrap_err().to_string();
        assert!(bad.contains("CREDITDESK_DEMO_CUSTOMERS") && bad.contains("whole number"), "{bad}");
    }

    /// The ledger's filters reach the API: a product's entries only, booked
    /// within the days asked for (both included); a reversed range is an
    /// input error naming `to`.
    #[tokio::test]
    async fn the_ledger_filters_by_product_and_days() {
        use crate::core::views::LedgerFilter;
        use chrono::Days;
        let dir = tempfile::tempdir().unwrap();
        let core = AppCore::new(Profiles::new(dir.path().join("c"), dir.path().join("d")));
        core.start_embedded(small(), |_| {}).await.unwrap();
        let customer = "cus_0001";
        let all = core.ledger(customer, LedgerFilter::default(), None).await.unwrap();
        let (product, day) = all
            .items
            .iter()
            .find_map(|r| Some((r.entry.product_id.clone()?, r.entry.booked_at.date_naive())))
            .expect("a usage entry in the seeded ledger");
        let day_before = day.checked_sub_days(Days::new(1)).unwrap();
        let filter = LedgerFilter {
            product: Some(format!(" {product} ")),
            from: Some(day_before),
            to: Some(day),
            ..Default::default()
        };
        let page = core.ledger(customer, filter, None).await.unwrap();
        assert!(!page.items.is_empty(), "{product} on {day}");
        for r in &page.items {
            assert_eq!(r.entry.product_id.as_deref(), Some(product.as_str()));
            let booked = r.entry.booked_at.date_naive();
            assert!(booked >= day_before && booked <= day, "{booked} outside {day_before}..={day}");
        }
        let reversed = LedgerFilter { from: Some(day), to: Some(day_before), ..Default::default() };
        let e = core.ledger(customer, reversed, None).await.unwrap_err();
        assert!(matches!(&e, CoreError::Input { field, .. } if field == "to"), "{e}");
    }

    /// The first start seeds, reports progress and signs in as the demo
    /// admin; the Customers view's sort and filter reach the API, and the
    /// grant dialog gets the whole catalog of credit types; a second
    /// app process reuses the file and the saved token.
    #[tokio::test]
    async fn seeds_once_serves_and_signs_in() {
        let dir = tempfile::tempdir().unwrap();
        let profiles = Profiles::new(dir.path().join("c"), dir.path().join("d"));
        let core = AppCore::new(profiles.clone());
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let s = seen.clone();
        let session = core.start_embedded(small(), move |p| s.lock().unwrap().push(p.percent)).await.unwrap();
        assert_eq!(session.mode, ConnectionMode::Embedded);
        assert_eq!(session.banner.as_deref(), Some(BANNER));
        assert_eq!(session.user.name, seed::ADMIN_USER);
        assert!(session.server_url.starts_with("http://127.0.0.1:"));
        assert_eq!(seen.lock().unwrap().last(), Some(&100));
        let page = core.customers(Default::default(), None).await.unwrap();
        assert_eq!(page.items.len(), 3);
        let by_name =
            CustomerFilter { sort: Some(CustomerSort::Name), order: Some(SortOrder::Desc), ..Default::default() };
        let names: Vec<String> =
            core.customers(by_name, None).await.unwrap().items.into_iter().map(|c| c.name).collect();
        let mut descending = names.clone();
        descending.sort_by(|a, b| b.cmp(a));
        assert_eq!((names.len(), &names), (3, &descending));
        let soon = chrono::Utc::now() + chrono::Duration::days(30);
        let expiring_soon: Vec<&str> = page
            .items
            .iter()
            .filter(|c| c.wallets.iter().any(|w| w.next_expiry.as_ref().is_some_and(|e| e.expires_at <= soon)))
            .map(|c| c.id.as_str())
            .collect();
        let catalog: Vec<String> = core.credit_types().await.unwrap().into_iter().map(|c| c.id).collect();
        assert!(catalog.len() >= 3, "the demo's credit types: {catalog:?}");
        let first_page = core.client().await.unwrap().credit_types(&Default::default()).await.unwrap();
        assert_eq!(catalog, first_page.items.into_iter().map(|c| c.id).collect::<Vec<_>>());
        let filter = CustomerFilter { expiring_within_days: Some(30), ..Default::default() };
        let filtered = core.customers(filter, None).await.unwrap().items;
        assert_eq!(filtered.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), expiring_soon);

        let again = AppCore::new(profiles);
        let session = again.start_embedded(small(), |_| {}).await.unwrap();
        assert_eq!(session.user.name, seed::ADMIN_USER, "the saved demo token still works");
    }

    #[tokio::test]
    async fn a_lost_token_mints_a_new_admin() {
        let dir = tempfile::tempdir().unwrap();
        let profiles = Profiles::new(dir.path().join("c"), dir.path().join("d"));
        AppCore::new(profiles.clone()).start_embedded(small(), |_| {}).await.unwrap();
        std::fs::remove_file(dir.path().join("d/embedded-token")).unwrap();
        let session = AppCore::new(profiles).start_embedded(small(), |_| {}).await.unwrap();
        assert!(session.user.name.starts_with("desktop-"), "{}", session.user.name);
    }

    #[tokio::test]
    async fn cancelling_the_seed_deletes_the_half_seeded_file() {
        let dir = tempfile::tempdir().unwrap();
        let profiles = Profiles::new(dir.path().join("c"), dir.path().join("d"));
        let core = Arc::new(AppCore::new(profiles.clone()));
        let c = core.clone();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let big = SeedOptions { customers: 50, days: 200, seed: 1 };
        let run = tokio::spawn(async move { c.start_embedded(big, move |p| drop(tx.send(p.phase))).await });
        while let Some(phase) = rx.recv().await {
            if phase == "usage" {
                break;
            }
        }
        assert!(core.cancel_seed().await);
        let err = run.await.unwrap().unwrap_err();
        assert!(matches!(err, CoreError::Cancelled), "{err}");
        assert!(!profiles.embedded_db().exists());
        assert!(!core.cancel_seed().await, "nothing left to cancel");
    }
}
