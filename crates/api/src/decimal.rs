//! Decimals on the wire: JSON strings only, in plain notation.
//!
//! Credits and money are exact decimals. A JSON number would pass through
//! binary floating point in most JSON stacks (JavaScript, many SQL drivers),
//! silently turning `0.1` into `0.1000000000000000055...`, so numbers are
//! refused on input with an error that says what to send instead. Strings are
//! held to a strict grammar, `-?DIGITS[.DIGITS]`: no exponent, no `+`, no
//! digit separators, no surrounding spaces, so every client and both storage
//! backends read the same value from the same text.
//!
//! On output the value is normalised (`"12.500000"` becomes `"12.5"`): the
//! SQLite store keeps micro-credits and the PostgreSQL store an exact numeric,
//! and the same amount must print the same way from either.
//!
//! Use with `#[serde(with = "creditdesk_api::decimal")]` (or the `option` and
//! `vec` submodules). It is `rust_decimal::serde::str` with two refinements:
//! the stricter input grammar and error text above, and normalised output.

use std::fmt;

use rust_decimal::Decimal;
use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};

/// Longest decimal text accepted (a `Decimal` has at most 29 significant digits).
pub const MAX_DECIMAL_TEXT: usize = 64;

/// Why a decimal string was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecimalTextError {
    #[error(
        "must be a decimal number in plain notation such as \"12.5\" (no exponent, sign `+`, spaces or separators)"
    )]
    Syntax,
    #[error("is too long (at most {MAX_DECIMAL_TEXT} characters)")]
    TooLong,
    #[error("has more significant digits than can be represented exactly")]
    Precision,
}

/// Parses the strict wire grammar `-?DIGITS[.DIGITS]` exactly (never rounds).
pub fn parse(text: &str) -> Result<Decimal, DecimalTextError> {
    if text.len() > MAX_DECIMAL_TEXT {
        return Err(DecimalTextError::TooLong);
    }
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (int, frac) = match unsigned.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (unsigned, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || frac.is_some_and(|f| !digits(f)) {
        return Err(DecimalTextError::Syntax);
    }
    Decimal::from_str_exact(text).map_err(|_| DecimalTextError::Precision)
}

/// The wire text of a decimal: normalised, plain notation, `-0` printed as `0`.
pub fn to_text(value: &Decimal) -> String {
    let n = value.normalize();
    if n.is_zero() {
        "0".to_owned()
    } else {
        n.to_string()
    }
}

struct DecimalVisitor;

impl<'de> Visitor<'de> for DecimalVisitor {
    type Value = Decimal;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a decimal as a JSON string such as \"12.5\" (JSON numbers are refused: they lose precision)")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
        parse(v).map_err(|e| E::custom(format!("invalid decimal {v:?}: {e}")))
    }
}

pub fn serialize<S: Serializer>(value: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&to_text(value))
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    // `deserialize_str` makes self-describing formats report a number as an
    // "invalid type" against `expecting` instead of coercing it.
    d.deserialize_str(DecimalVisitor)
}

/// `Option<Decimal>`: `null` or absent is `None`; a number is still refused.
pub mod option {
    use super::*;
    use serde::Deserialize;

    pub fn serialize<S: Serializer>(value: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => super::serialize(v, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        #[derive(Deserialize)]
        struct Wrapped(#[serde(with = "super")] Decimal);
        Ok(Option::<Wrapped>::deserialize(d)?.map(|w| w.0))
    }
}

/// `Vec<Decimal>`: an array of decimal strings (columnar series).
pub mod vec {
    use super::*;
    use serde::ser::SerializeSeq;
    use serde::Deserialize;

    pub fn serialize<S: Serializer>(values: &[Decimal], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(values.len()))?;
        for v in values {
            seq.serialize_element(&to_text(v))?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Decimal>, D::Error> {
        #[derive(Deserialize)]
        struct Wrapped(#[serde(with = "super")] Decimal);
        Ok(Vec::<Wrapped>::deserialize(d)?.into_iter().map(|w| w.0).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};
    use std::str::FromStr;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Amount {
        #[serde(with = "crate::decimal")]
        amount: Decimal,
        #[serde(with = "crate::decimal::option", default)]
        cap: Option<Decimal>,
        #[serde(with = "crate::decimal::vec", default)]
        series: Vec<Decimal>,
    }

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn strings_round_trip_normalised() {
        let a: Amount = serde_json::from_str(r#"{"amount":"12.500","cap":null,"series":["1.0","-0.000"]}"#).unwrap();
        assert_eq!(a.amount, d("12.5"));
        assert_eq!(a.cap, None);
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            r#"{"amount":"12.5","cap":null,"series":["1","0"]}"#,
            "normalised, and -0 prints as 0"
        );
    }

    #[test]
    fn numbers_are_refused_with_a_clear_error() {
        for body in [r#"{"amount":12.5}"#, r#"{"amount":"1","cap":3}"#, r#"{"amount":"1","series":[1]}"#] {
            let err = serde_json::from_str::<Amount>(body).unwrap_err().to_string();
            assert!(err.contains("JSON numbers are refused"), "{body}: {err}");
        }
    }

    #[test]
    fn strict_grammar() {
        for ok in ["0", "-1", "12.5", "0.000001", "1000000000000000"] {
            assert!(parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-", "+1", " 1", "1 ", ".5", "1.", "1e3", "1_000", "NaN", "0x10", "1,5", "--1"] {
            assert_eq!(parse(bad), Err(DecimalTextError::Syntax), "{bad:?}");
        }
        assert_eq!(parse(&"9".repeat(65)), Err(DecimalTextError::TooLong));
        assert_eq!(parse(&format!("0.{}", "1".repeat(40))), Err(DecimalTextError::Precision), "never rounds");
        let err = serde_json::from_str::<Amount>(r#"{"amount":"1e3"}"#).unwrap_err().to_string();
        assert!(err.contains("invalid decimal \"1e3\""), "{err}");
    }
}
