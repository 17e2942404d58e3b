//! Credits and money. Both are `rust_decimal::Decimal`; never floating point.
//!
//! Credits carry at most [`CREDIT_SCALE`] decimal places. Inputs with more are
//! refused (not rounded): rounding is a rule (rating), not an accident of
//! parsing. Magnitudes are capped at [`MAX_CREDITS`] so that sums over any
//! realistic ledger stay far inside `Decimal`'s range and plain `+`/`-` can
//! never overflow.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::error::{LedgerError, Result};

/// Decimal places of a credit amount.
pub const CREDIT_SCALE: u32 = 6;

/// Largest magnitude of a single credit amount accepted as input (10^15).
pub const MAX_CREDITS: Decimal = Decimal::from_parts(2_764_472_320, 232_830, 0, false, 0);

/// A signed amount of credits with at most six decimal places. In JSON it is
/// a string in canonical form (`"5"`, not `"5.00"`), whatever arithmetic
/// produced it, so equal amounts always serialise alike.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Credits(Decimal);

impl Serialize for Credits {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Credits {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Credits {
    pub const ZERO: Credits = Credits(Decimal::ZERO);

    /// Validates an input amount: at most six places, magnitude <= 10^15.
    pub fn parse_decimal(value: Decimal, field: &'static str) -> Result<Credits> {
        let normalized = value.normalize();
        if normalized.scale() > CREDIT_SCALE {
            return Err(LedgerError::invalid(field, "must have at most 6 decimal places"));
        }
        if normalized.abs() > MAX_CREDITS {
            return Err(LedgerError::invalid(field, "must be at most 1000000000000000 in magnitude"));
        }
        Ok(Credits(normalized))
    }

    /// Like [`Credits::parse_decimal`], and the amount must be > 0.
    pub fn positive(value: Decimal, field: &'static str) -> Result<Credits> {
        let c = Credits::parse_decimal(value, field)?;
        if c.0 <= Decimal::ZERO {
            return Err(LedgerError::invalid(field, "must be greater than 0"));
        }
        Ok(c)
    }

    /// Rounds half-even to six places: the rating rule.
    pub fn round_half_even(value: Decimal) -> Credits {
        Credits(value.round_dp_with_strategy(CREDIT_SCALE, RoundingStrategy::MidpointNearestEven).normalize())
    }

    /// Rounds toward zero to six places: the rollover rule ("rounded down").
    pub fn round_down(value: Decimal) -> Credits {
        Credits(value.round_dp_with_strategy(CREDIT_SCALE, RoundingStrategy::ToZero).normalize())
    }

    pub const fn get(self) -> Decimal {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    pub fn is_positive(self) -> bool {
        self.0 > Decimal::ZERO
    }

    pub fn is_negative(self) -> bool {
        self.0 < Decimal::ZERO
    }

    pub fn abs(self) -> Credits {
        Credits(self.0.abs())
    }

    /// Money value of these credits at `unit_price` per credit.
    pub fn value_at(self, unit_price: &Money) -> Money {
        Money { amount: self.0 * unit_price.amount, currency: unit_price.currency }
    }
}

impl fmt::Debug for Credits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}cr", self.0)
    }
}

impl fmt::Display for Credits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.normalize(), f)
    }
}

impl FromStr for Credits {
    type Err = LedgerError;
    fn from_str(s: &str) -> Result<Credits> {
        let d = Decimal::from_str_exact(s.trim())
            .map_err(|_| LedgerError::invalid("amount", "must be a decimal number such as \"12.5\""))?;
        Credits::parse_decimal(d, "amount")
    }
}

impl Add for Credits {
    type Output = Credits;
    fn add(self, rhs: Credits) -> Credits {
        Credits(self.0 + rhs.0)
    }
}
impl Sub for Credits {
    type Output = Credits;
    fn sub(self, rhs: Credits) -> Credits {
        Credits(self.0 - rhs.0)
    }
}
impl Neg for Credits {
    type Output = Credits;
    fn neg(self) -> Credits {
        // `-0` would print as "-0" in entries and JSON.
        if self.0.is_zero() {
            Credits::ZERO
        } else {
            Credits(-self.0)
        }
    }
}
impl AddAssign for Credits {
    fn add_assign(&mut self, rhs: Credits) {
        self.0 += rhs.0;
    }
}
impl SubAssign for Credits {
    fn sub_assign(&mut self, rhs: Credits) {
        self.0 -= rhs.0;
    }
}
impl Sum for Credits {
    fn sum<I: Iterator<Item = Credits>>(iter: I) -> Credits {
        iter.fold(Credits::ZERO, Add::add)
    }
}

/// An ISO 4217 currency code, three upper-case ASCII letters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

impl Currency {
    pub const USD: Currency = Currency(*b"USD");
    pub const EUR: Currency = Currency(*b"EUR");

    pub fn new(code: &str) -> Result<Currency> {
        match iso_currency::Currency::from_code(code) {
            Some(_) => {
                let b = code.as_bytes();
                Ok(Currency([b[0], b[1], b[2]]))
            }
            None => Err(LedgerError::invalid("currency", "must be an ISO 4217 code such as \"USD\"")),
        }
    }

    pub fn code(&self) -> &str {
        // Constructed only from ASCII letters.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}
impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}
impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}
impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Currency::new(&s).map_err(serde::de::Error::custom)
    }
}

/// An exact amount of money in one currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    pub currency: Currency,
}

impl Money {
    /// A non-negative money amount (prices, cost bases), at most 6 places.
    pub fn non_negative(amount: Decimal, currency: Currency, field: &'static str) -> Result<Money> {
        if amount < Decimal::ZERO {
            return Err(LedgerError::invalid(field, "must not be negative"));
        }
        if amount.normalize().scale() > CREDIT_SCALE {
            return Err(LedgerError::invalid(field, "must have at most 6 decimal places"));
        }
        if amount > MAX_CREDITS {
            return Err(LedgerError::invalid(field, "must be at most 1000000000000000"));
        }
        Ok(Money { amount: amount.normalize(), currency })
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount.normalize(), self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn max_credits_is_ten_to_the_fifteenth() {
        assert_eq!(MAX_CREDITS, dec!(1_000_000_000_000_000));
    }

    #[test]
    fn refuses_more_than_six_places_and_keeps_trailing_zero_inputs() {
        assert!(Credits::parse_decimal(dec!(1.0000001), "amount").is_err());
        assert_eq!(Credits::parse_decimal(dec!(1.5000000), "amount").unwrap().get(), dec!(1.5));
        let err = Credits::positive(dec!(0), "amount").unwrap_err();
        assert_eq!(err.to_string(), "amount: must be greater than 0");
        assert!(Credits::positive(dec!(-1), "amount").is_err());
        assert!(Credits::parse_decimal(dec!(1000000000000000.5), "amount").is_err());
    }

    #[test]
    fn rounding_rules() {
        assert_eq!(Credits::round_half_even(dec!(0.0000025)).get(), dec!(0.000002));
        assert_eq!(Credits::round_half_even(dec!(0.0000035)).get(), dec!(0.000004));
        assert_eq!(Credits::round_down(dec!(0.9999999)).get(), dec!(0.999999));
    }

    #[test]
    fn negating_zero_gives_plain_zero() {
        assert_eq!((-Credits::ZERO).to_string(), "0");
        assert_eq!(serde_json::to_string(&-Credits::ZERO).unwrap(), "\"0\"");
    }

    #[test]
    fn credits_serialize_canonically() {
        let five = Credits::parse_decimal(dec!(7.50), "a").unwrap() - Credits::parse_decimal(dec!(2.5), "a").unwrap();
        assert_eq!(five.get().scale(), 1, "arithmetic keeps a scale");
        assert_eq!(serde_json::to_string(&five).unwrap(), "\"5\"");
    }

    #[test]
    fn credits_serialize_as_strings() {
        let c: Credits = "12.500".parse().unwrap();
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"12.5\"");
        assert!(serde_json::from_str::<Credits>("12.5").is_err(), "numbers are refused, strings only");
    }

    #[test]
    fn currency_is_iso_4217() {
        assert_eq!(Currency::new("EUR").unwrap(), Currency::EUR);
        assert!(Currency::new("XYZ1").is_err());
        assert!(Currency::new("usd").is_err());
    }
}
