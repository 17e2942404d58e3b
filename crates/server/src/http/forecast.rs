//! Runway and breakage with the ledger's own method
//! (`creditdesk_ledger::forecast`), fed from what the store exposes.
//!
//! The ledger's `forecast()` wants a `History` and a `BurnRollup`, which
//! live inside the store. Its two halves are public, so this module
//! reproduces the first one exactly and hands the second the same inputs:
//!
//! - **Recent burn** (`recent_burn`): the trailing `[t - 14 days, t)` and
//!   `[t - 30 days, t)` totals per product, `t` = now rounded down to the
//!   15-minute slot, are read from the store's burn series over exactly those
//!   windows (the same rollup the ledger sums), then divided and rounded as
//!   the ledger does.
//! - **Projection** (`forecast::project`): the balance now is the store's
//!   (every grant with what it holds); the wallet snapshot `project` reads
//!   only for its credit type and outstanding overage items. The items are
//!   rebuilt from the newest `overage` entries covering the outstanding
//!   total (carry-forward settles oldest first, so what is still owed is
//!   the newest overage). Invoice-mode wallets never settle, so they need none.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use creditdesk_ledger::balance::Balance;
use creditdesk_ledger::catalog::{CreditType, OverageMode};
use creditdesk_ledger::entry::EntryKind;
use creditdesk_ledger::forecast::{project, Forecast, ProductRate};
use creditdesk_ledger::ids::{CreditTypeId, CustomerId};
use creditdesk_ledger::series::{slot_floor, Bucket, BurnSeries};
use creditdesk_ledger::wallet::{OverageItem, WalletState};
use creditdesk_ledger::Credits;
use creditdesk_store::LedgerFilter;
use rust_decimal::Decimal;

use super::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The trailing 14- and 30-day series a forecast's rates come from.
pub struct RecentBurn {
    pub s14: BurnSeries,
    pub s30: BurnSeries,
}

impl RecentBurn {
    pub async fn load(state: &AppState, customer: &CustomerId, now: DateTime<Utc>) -> ApiResult<RecentBurn> {
        let t = slot_floor(now);
        let series = |days: i64| {
            state.store.burn_series(customer.clone(), t - TimeDelta::days(days), t, Bucket::Month, chrono_tz::UTC)
        };
        Ok(RecentBurn { s14: series(14).await?, s30: series(30).await? })
    }

    /// Credits burned (burn + overage) in the last 30 days, per credit type.
    pub fn burned_30d(&self, ct: &CreditTypeId) -> Credits {
        self.s30.columns.iter().zip(&self.s30.burned).filter(|(k, _)| &k.credit_type == ct).map(|(_, c)| *c).sum()
    }

    /// The ledger's `recent_burn` for one credit type.
    pub fn rates(&self, ct: &CreditTypeId) -> Vec<ProductRate> {
        let total = |s: &BurnSeries, product: &creditdesk_ledger::ids::ProductId| -> Credits {
            s.column(ct, product).map_or(Credits::ZERO, |i| s.burned[i])
        };
        let mut rates: Vec<ProductRate> = self
            .s30
            .columns
            .iter()
            .zip(&self.s30.burned)
            .filter(|(k, c)| &k.credit_type == ct && !c.is_zero())
            .filter_map(|(k, _)| k.product.clone())
            .map(|product| {
                let d14 = Credits::round_half_even(total(&self.s14, &product).get() / Decimal::from(14));
                let d30 = Credits::round_half_even(total(&self.s30, &product).get() / Decimal::from(30));
                ProductRate { product, daily_burn_14d: d14, daily_burn_30d: d30, rate_used: d14.max(d30) }
            })
            .collect();
        rates.sort_by(|a, b| a.product.cmp(&b.product));
        rates
    }
}

/// Most overage entries read to rebuild outstanding overage items.
const MAX_OVERAGE_ITEMS: u32 = 1_000;

/// The snapshot `project` reads: credit type and outstanding overage items.
async fn wallet_for_projection(state: &AppState, ct: &Arc<CreditType>, balance: &Balance) -> ApiResult<WalletState> {
    let mut items: Vec<OverageItem> = Vec::new();
    if ct.overage_mode == OverageMode::CarryForward && balance.overage.is_positive() {
        let filter = LedgerFilter {
            credit_type: Some(ct.id.clone()),
            kind: Some(EntryKind::Overage),
            ..LedgerFilter::default()
        };
        let page = state.store.ledger(balance.customer.clone(), filter, None, MAX_OVERAGE_ITEMS).await?;
        let mut left = balance.overage;
        for e in page.items {
            if !left.is_positive() {
                break;
            }
            let Some(product) = e.product.clone() else { continue };
            let amount = e.amount.abs().min(left);
            left -= amount;
            items.push(OverageItem {
                seq: e.seq,
                product,
                event: e.event.clone(),
                booked_at: e.booked_at,
                amount,
                settled: Credits::ZERO,
                reversed: Credits::ZERO,
            });
        }
    }
    WalletState::restore(balance.customer.clone(), ct.clone(), Vec::new(), items).map_err(ApiError::from)
}

/// Runway and breakage of one wallet from `balance` (at now).
pub async fn forecast(
    state: &AppState,
    ct: &Arc<CreditType>,
    balance: &Balance,
    recent: &RecentBurn,
    horizon_days: u32,
) -> ApiResult<Forecast> {
    let wallet = wallet_for_projection(state, ct, balance).await?;
    Ok(project(&wallet, balance, recent.rates(&ct.id), horizon_days)?)
}

/// Whole days from `now` to `until`, rounded down.
pub fn whole_days(now: DateTime<Utc>, until: DateTime<Utc>) -> u32 {
    u32::try_from((until - now).num_days().max(0)).unwrap_or(u32::MAX)
}
