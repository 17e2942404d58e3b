//! Rating: turning a usage quantity into credits.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::amount::{Credits, MAX_CREDITS};
use crate::catalog::RateCard;
use crate::error::{LedgerError, Result};

/// How an event was rated: the evidence support needs in a dispute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Rating {
    pub credits: Credits,
    #[serde(with = "rust_decimal::serde::str")]
    pub credits_per_unit: Decimal,
    /// `effective_from` of the rate-card version used.
    pub rate_version: DateTime<Utc>,
    /// Whether the customer's own rate card was used.
    pub from_override: bool,
}

/// Rates `quantity` units at event time `t`.
///
/// The customer's override card is consulted first; if it has no version in
/// force at `t` (an override that starts mid-contract), the product's card is
/// used. The product is rounded half-even to six places.
pub fn rate(quantity: Decimal, t: DateTime<Utc>, card: &RateCard, override_card: Option<&RateCard>) -> Result<Rating> {
    let (version, from_override) = match override_card.and_then(|c| c.version_at(t)) {
        Some(v) => (v, true),
        None => (
            card.version_at(t).ok_or_else(|| {
                LedgerError::invalid("timestamp", "no rate-card version is in force at the event time")
            })?,
            false,
        ),
    };
    let raw = quantity
        .checked_mul(version.credits_per_unit)
        .filter(|c| *c <= MAX_CREDITS)
        .ok_or_else(|| LedgerError::invalid("quantity", "rates to more than 1000000000000000 credits"))?;
    Ok(Rating {
        credits: Credits::round_half_even(raw),
        credits_per_unit: version.credits_per_unit,
        rate_version: version.effective_from,
        from_override,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::RateVersion;
    use chrono::TimeZone;
    use rust_decimal_macros::dec;

    fn day(d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, d, 0, 0, 0).unwrap()
    }

    fn card() -> RateCard {
        RateCard::new(vec![
            RateVersion { effective_from: day(1), credits_per_unit: dec!(0.5) },
            RateVersion { effective_from: day(10), credits_per_unit: dec!(0.4) },
        ])
        .unwrap()
    }

    #[test]
    fn uses_the_version_in_force_at_event_time() {
        assert_eq!(rate(dec!(10), day(9), &card(), None).unwrap().credits.get(), dec!(5));
        // The boundary instant belongs to the new version.
        let r = rate(dec!(10), day(10), &card(), None).unwrap();
        assert_eq!((r.credits.get(), r.rate_version), (dec!(4), day(10)));
        assert!(rate(dec!(1), day(1) - chrono::TimeDelta::seconds(1), &card(), None).is_err());
    }

    #[test]
    fn override_first_then_product_card() {
        let ov = RateCard::flat(day(5), dec!(0.1)).unwrap();
        let r = rate(dec!(10), day(6), &card(), Some(&ov)).unwrap();
        assert_eq!((r.credits.get(), r.from_override), (dec!(1), true));
        let r = rate(dec!(10), day(4), &card(), Some(&ov)).unwrap();
        assert_eq!((r.credits.get(), r.from_override), (dec!(5), false));
    }

    #[test]
    fn rounds_half_even_to_six_places() {
        let c = RateCard::flat(day(1), dec!(0.000001)).unwrap();
        assert_eq!(rate(dec!(2.5), day(2), &c, None).unwrap().credits.get(), dec!(0.000002));
        assert_eq!(rate(dec!(3.5), day(2), &c, None).unwrap().credits.get(), dec!(0.000004));
    }

    #[test]
    fn rate_card_validation() {
        assert!(RateCard::new(vec![]).is_err());
        let dup = vec![
            RateVersion { effective_from: day(1), credits_per_unit: dec!(1) },
            RateVersion { effective_from: day(1), credits_per_unit: dec!(2) },
        ];
        assert!(RateCard::new(dup).is_err());
        assert!(RateCard::flat(day(1), dec!(-1)).is_err());
    }
}
