//! Validated identifier newtypes. Each checks IG's documented pattern on construction and
//! serialises as the bare string.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// An identifier failed validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} {value:?}: {rule}")]
pub struct IdError {
    pub kind: &'static str,
    pub value: String,
    pub rule: &'static str,
}

fn check(
    kind: &'static str,
    value: &str,
    min: usize,
    max: usize,
    allowed: fn(char) -> bool,
    rule: &'static str,
) -> Result<(), IdError> {
    let len = value.chars().count();
    if len < min || len > max || !value.chars().all(allowed) {
        return Err(IdError {
            kind,
            value: value.chars().take(64).collect(),
            rule,
        });
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $min:literal, $max:literal, $allowed:expr, $rule:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps `value`.
            pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                check($kind, &value, $min, $max, $allowed, $rule)?;
                Ok(Self(value))
            }

            /// The bare string.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

id_type!(
    /// An IG market identifier such as `CS.D.EURUSD.CFD.IP`.
    Epic, "epic", 6, 30, |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '_',
    "6-30 characters of A-Z a-z 0-9 . _"
);
id_type!(
    /// IG's identifier of a deal (position or working order).
    DealId, "deal id", 1, 30, |c: char| !c.is_control(),
    "1-30 printable characters"
);
id_type!(
    /// A client-chosen (or IG-generated) reference for a dealing request.
    DealReference, "deal reference", 1, 30, |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-',
    "1-30 characters of A-Z a-z 0-9 _ -"
);
id_type!(
    /// An IG account identifier.
    AccountId, "account id", 1, 30, |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_',
    "1-30 characters of A-Z a-z 0-9 - _"
);

impl DealReference {
    /// Builds a reference from a short prefix and a numeric sequence and random part, e.g.
    /// `SCALP-1a2b3c-000042`. Callers supply the randomness so that this crate stays pure.
    pub fn compose(prefix: &str, random: u32, seq: u64) -> Result<Self, IdError> {
        Self::new(format!("{prefix}-{random:08x}-{seq:06}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epic_validation() {
        assert!(Epic::new("CS.D.EURUSD.CFD.IP").is_ok());
        assert!(Epic::new("ABC").is_err());
        assert!(Epic::new("CS.D.EUR USD.CFD").is_err());
        let e = Epic::new("x".repeat(31)).unwrap_err();
        assert!(e.to_string().contains("epic"));
    }

    #[test]
    fn deal_reference_compose_and_serde() {
        let r = DealReference::compose("SCALP", 0xdead_beef, 42).unwrap();
        assert_eq!(r.as_str(), "SCALP-deadbeef-000042");
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, "\"SCALP-deadbeef-000042\"");
        let back: DealReference = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        assert!(serde_json::from_str::<DealReference>("\"has space\"").is_err());
    }
}
