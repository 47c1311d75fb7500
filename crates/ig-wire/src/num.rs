//! Serde helpers for IG numbers: read a JSON number or a numeric string into a `Decimal`
//! (exactly, via the shortest decimal text of the number), write a JSON number as IG does.

use std::str::FromStr;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};

struct DecimalVisitor;

impl Visitor<'_> for DecimalVisitor {
    type Value = Option<Decimal>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a number, a numeric string or null")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(Decimal::from(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(Decimal::from(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        if !v.is_finite() {
            return Err(E::custom("non-finite number"));
        }
        // `f64` Display is the shortest text that reads back as the same f64, which for IG's
        // short decimal literals (1.08123, 17000.0) is the literal itself.
        let text = v.to_string();
        Decimal::from_str(&text)
            .or_else(|_| Decimal::from_scientific(&text))
            .map(Some)
            .map_err(|e| E::custom(format!("number {text} out of decimal range: {e}")))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let t = v.trim();
        if t.is_empty() || t == "-" {
            return Ok(None);
        }
        let t = t.strip_prefix('+').unwrap_or(t);
        Decimal::from_str(t)
            .or_else(|_| Decimal::from_scientific(t))
            .map(Some)
            .map_err(|_| {
                E::custom(format!(
                    "not a number: {:?}",
                    v.chars().take(40).collect::<String>()
                ))
            })
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

fn to_json_number<S: Serializer>(d: Decimal, s: S) -> Result<S::Ok, S::Error> {
    let n = d.normalize();
    if n.scale() == 0 {
        if let Some(i) = n.to_i64() {
            return s.serialize_i64(i);
        }
    }
    match n.to_f64() {
        Some(f) => s.serialize_f64(f),
        None => Err(serde::ser::Error::custom(
            "decimal not representable as a JSON number",
        )),
    }
}

/// `Option<Decimal>` fields: null, absent, number or numeric string in; number or null out.
pub mod opt {
    use super::{to_json_number, Decimal, DecimalVisitor, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(d) => to_json_number(*d, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        d.deserialize_any(DecimalVisitor)
    }
}

/// `Option<String>` fields that IG sometimes sends as numbers (`expires_in`, `contractSize`).
pub mod str_or_num {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        S(String),
        I(i64),
        U(u64),
        F(f64),
        B(bool),
    }

    pub fn serialize<S: Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
        v.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(Option::<Raw>::deserialize(d)?.map(|r| match r {
            Raw::S(s) => s,
            Raw::I(i) => i.to_string(),
            Raw::U(u) => u.to_string(),
            Raw::F(f) => f.to_string(),
            Raw::B(b) => b.to_string(),
        }))
    }
}

/// Booleans IG accepts as JSON `true`/`false` or the strings `"true"`/`"false"` (trading_ig
/// sends `"forceOpen": "false"`); written as JSON booleans. Use with `bool` or, through
/// [`opt_flag`], `Option<bool>`.
pub mod flag {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    pub(super) enum Raw {
        B(bool),
        S(String),
    }

    pub(super) fn read<E: Error>(r: Raw) -> Result<bool, E> {
        match r {
            Raw::B(b) => Ok(b),
            Raw::S(s) if s.eq_ignore_ascii_case("true") => Ok(true),
            Raw::S(s) if s.eq_ignore_ascii_case("false") => Ok(false),
            Raw::S(s) => Err(E::custom(format!("not a boolean: {s:?}"))),
        }
    }

    #[allow(clippy::trivially_copy_pass_by_ref)] // serde's `with` signature
    pub fn serialize<S: Serializer>(v: &bool, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bool(*v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        read(Raw::deserialize(d)?)
    }
}

/// `Option<bool>` with [`flag`]'s spellings (null or absent is `None`).
pub mod opt_flag {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[allow(clippy::ref_option)] // serde's `with` signature
    pub fn serialize<S: Serializer>(v: &Option<bool>, s: S) -> Result<S::Ok, S::Error> {
        v.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        Option::<super::flag::Raw>::deserialize(d)?
            .map(super::flag::read)
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Serialize};
    use std::str::FromStr;

    #[derive(Debug, Serialize, Deserialize, PartialEq, Default)]
    struct T {
        #[serde(default, with = "super::opt")]
        v: Option<Decimal>,
        #[serde(default, with = "super::str_or_num")]
        s: Option<String>,
    }

    #[test]
    fn reads_numbers_strings_and_null_exactly() {
        let cases = [
            (r#"{"v":1.08123}"#, Some("1.08123")),
            (r#"{"v":17000.0}"#, Some("17000")),
            (r#"{"v":"0.5"}"#, Some("0.5")),
            (r#"{"v":"+0.60"}"#, Some("0.60")),
            (r#"{"v":null}"#, None),
            ("{}", None),
            (r#"{"v":"-"}"#, None),
            (r#"{"v":-12}"#, Some("-12")),
        ];
        for (json, want) in cases {
            let t: T = serde_json::from_str(json).unwrap();
            assert_eq!(t.v, want.map(|w| Decimal::from_str(w).unwrap()), "{json}");
        }
        assert!(serde_json::from_str::<T>(r#"{"v":"abc"}"#).is_err());
    }

    #[test]
    fn writes_json_numbers_and_round_trips() {
        let t = T {
            v: Some(Decimal::from_str("1.08123").unwrap()),
            s: Some("60".into()),
        };
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, r#"{"v":1.08123,"s":"60"}"#);
        assert_eq!(serde_json::from_str::<T>(&json).unwrap(), t);
        let t: T = serde_json::from_str(r#"{"s":60}"#).unwrap();
        assert_eq!(t.s.as_deref(), Some("60"));
    }

    proptest::proptest! {
        /// Prices and sizes with up to 14 significant digits survive JSON exactly.
        #[test]
        fn decimal_json_round_trip_is_exact(m in -99_999_999_999_999i64..99_999_999_999_999, scale in 0u32..=8) {
            let d = Decimal::new(m, scale);
            let t = T { v: Some(d), s: None };
            let back: T = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
            proptest::prop_assert_eq!(back.v, Some(d));
        }
    }
}
