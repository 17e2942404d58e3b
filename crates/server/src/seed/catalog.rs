//! The demo catalog: three credit types modelled on a speech/AI product,
//! their products and how usage of each is distributed, rate cards and
//! burn orders.

use creditdesk_ledger::catalog::{BurnOrder, BurnOrderKey, OverageMode};
use rust_decimal::Decimal;

use super::SeedError;

/// The three demo credit types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ct {
    Batch,
    Custom,
    Realtime,
}

pub(super) const CTS: [Ct; 3] = [Ct::Batch, Ct::Custom, Ct::Realtime];

impl Ct {
    pub(super) fn i(self) -> usize {
        self as usize
    }

    pub(super) fn id(self) -> &'static str {
        match self {
            Ct::Batch => "batch",
            Ct::Custom => "custom",
            Ct::Realtime => "realtime",
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Ct::Batch => "Batch transcription credits",
            Ct::Custom => "Custom model credits",
            Ct::Realtime => "Real-time minutes",
        }
    }

    pub(super) fn unit_label(self) -> &'static str {
        match self {
            Ct::Realtime => "minutes",
            _ => "credits",
        }
    }

    /// Money (USD) per credit.
    pub(super) fn unit_price(self) -> Decimal {
        match self {
            Ct::Batch => Decimal::new(1, 2),
            Ct::Custom => Decimal::new(5, 2),
            Ct::Realtime => Decimal::new(2, 2),
        }
    }

    /// Real-time overage is invoiced (metered billing); the prepaid wallets
    /// net it against the next grant.
    pub(super) fn overage_mode(self) -> OverageMode {
        match self {
            Ct::Realtime => OverageMode::Invoice,
            _ => OverageMode::CarryForward,
        }
    }

    /// Custom-model credits burn soonest-expiring first, whatever their
    /// priority: training promotions are short-lived and should not be
    /// wasted behind paid credits.
    pub(super) fn burn_order(self) -> Result<BurnOrder, SeedError> {
        use BurnOrderKey::*;
        Ok(match self {
            Ct::Custom => BurnOrder::new(vec![ExpiresAt, PromotionalFirst, Priority, RestrictedFirst, EffectiveAt])?,
            _ => BurnOrder::standard(),
        })
    }

    /// Smallest grant worth making.
    pub(super) fn min_amount(self) -> i64 {
        match self {
            Ct::Batch => 500,
            Ct::Custom => 200,
            Ct::Realtime => 100,
        }
    }
}

/// A metered product and how its usage is distributed.
pub(super) struct ProductSpec {
    pub(super) id: &'static str,
    pub(super) name: &'static str,
    pub(super) ct: Ct,
    /// Credits per unit, in thousandths.
    pub(super) rate_milli: i64,
    /// Quantity per event: log-normal with this median and sigma, capped.
    pub(super) median: f64,
    pub(super) sigma: f64,
    pub(super) max: f64,
    pub(super) models: &'static [&'static str],
}

impl ProductSpec {
    pub(super) fn rate(&self) -> Decimal {
        Decimal::new(self.rate_milli, 3)
    }

    /// Mean of the (uncapped) log-normal quantity.
    pub(super) fn mean_quantity(&self) -> f64 {
        self.median * (self.sigma * self.sigma / 2.0).exp()
    }
}

pub(super) const BATCH_EN: usize = 0;
pub(super) const BATCH_MULTI: usize = 1;
pub(super) const DIARIZATION: usize = 2;
pub(super) const CUSTOM_TRAIN: usize = 3;
pub(super) const CUSTOM_INFER: usize = 4;
pub(super) const REALTIME: usize = 5;

/// Batch and real-time quantities are audio minutes; training is GPU hours.
pub(super) const PRODUCTS: [ProductSpec; 6] = [
    ProductSpec {
        id: "batch-en",
        name: "Batch transcription (English)",
        ct: Ct::Batch,
        rate_milli: 1_000,
        median: 8.0,
        sigma: 1.0,
        max: 480.0,
        models: &["general-v3", "phonecall-v2", "meeting-v2"],
    },
    ProductSpec {
        id: "batch-multi",
        name: "Batch transcription (multilingual)",
        ct: Ct::Batch,
        rate_milli: 1_500,
        median: 10.0,
        sigma: 0.9,
        max: 480.0,
        models: &["multilingual-v2"],
    },
    ProductSpec {
        id: "diarization",
        name: "Speaker diarization",
        ct: Ct::Batch,
        rate_milli: 250,
        median: 8.0,
        sigma: 1.0,
        max: 480.0,
        models: &["diarize-v1"],
    },
    ProductSpec {
        id: "custom-train",
        name: "Custom model training",
        ct: Ct::Custom,
        rate_milli: 40_000,
        median: 1.5,
        sigma: 0.6,
        max: 24.0,
        models: &["adapt-small", "adapt-large"],
    },
    ProductSpec {
        id: "custom-infer",
        name: "Custom model inference",
        ct: Ct::Custom,
        rate_milli: 500,
        median: 3.0,
        sigma: 1.0,
        max: 240.0,
        models: &["adapt-small", "adapt-large"],
    },
    ProductSpec {
        id: "realtime-stream",
        name: "Real-time streaming",
        ct: Ct::Realtime,
        rate_milli: 1_000,
        median: 6.0,
        sigma: 1.1,
        max: 480.0,
        models: &["streaming-v2", "streaming-lowlatency"],
    },
];

/// The `batch-en` rate after the mid-period price cut.
pub(super) const BATCH_EN_NEW_RATE_MILLI: i64 = 850;
