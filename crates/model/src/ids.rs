//! Validated identifier newtypes. Each checks IG's documented pattern on construction and
//! serialises as the bare string.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

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
    // The usual case, ASCII text, counts and checks bytes (each one a character).
    let ok = if value.is_ascii() {
        (min..=max).contains(&value.len()) && value.bytes().all(|b| allowed(char::from(b)))
    } else {
        let len = value.chars().count();
        (min..=max).contains(&len) && value.chars().all(allowed)
    };
    if !ok {
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
        ///
        /// Shared, immutable text: cloning is a reference-count increment (identifiers are
        /// cloned into every quote, order and report), and equal clones compare by pointer
        /// first.
        #[derive(Debug, Clone, Eq, PartialOrd, Ord)]
        pub struct $name(Arc<str>);

        impl std::hash::Hash for $name {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                self.0.hash(state);
            }
        }

        impl PartialEq for $name {
            #[inline]
            fn eq(&self, other: &Self) -> bool {
                Arc::ptr_eq(&self.0, &other.0) || *self.0 == *other.0
            }
        }

        impl $name {
            /// Validates and wraps `value`.
            pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
                Self::from_text(&value.into())
            }

            /// Validates and copies `value` (one allocation).
            fn from_text(value: &str) -> Result<Self, IdError> {
                check($kind, value, $min, $max, $allowed, $rule)?;
                Ok(Self(Arc::from(value)))
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
                Self::from_text(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
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
        // `format!("{prefix}-{random:08x}-{seq:06}")`, written directly (one per order).
        let mut b = Text::new();
        b.push(prefix.as_bytes());
        b.push(b"-");
        let mut hex = [0u8; 8];
        for (i, h) in hex.iter_mut().enumerate() {
            *h = b"0123456789abcdef"[((random >> ((7 - i) * 4)) & 0xf) as usize];
        }
        b.push(&hex);
        b.push(b"-");
        b.push_padded(seq, 6);
        // The parts after the prefix are hex digits, dashes and decimal digits: only the
        // prefix and the length need checking (one per order, so not the full scan).
        let prefix_ok = prefix
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-');
        match b.as_str() {
            Some(s) if prefix_ok && s.len() <= 30 => Ok(Self(Arc::from(s))),
            Some(s) => Self::from_text(s),
            None => Self::new(format!("{prefix}-{random:08x}-{seq:06}")),
        }
    }
}

/// A short text built on the stack (ids are at most 30 characters; longer ones are still
/// reported by validation through the slow path).
struct Text {
    buf: [u8; 64],
    len: usize,
    overflow: bool,
}

impl Text {
    fn new() -> Self {
        Self {
            buf: [0; 64],
            len: 0,
            overflow: false,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        match self.buf.get_mut(self.len..self.len + bytes.len()) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.len += bytes.len();
            }
            None => self.overflow = true,
        }
    }

    /// `v` in decimal, zero-padded to at least `width` digits (`{v:0width$}`).
    fn push_padded(&mut self, mut v: u64, width: usize) {
        let mut digits = [b'0'; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        i = i.min(digits.len().saturating_sub(width));
        self.push(&digits[i..]);
    }

    fn as_str(&self) -> Option<&str> {
        if self.overflow {
            return None;
        }
        std::str::from_utf8(&self.buf[..self.len]).ok()
    }
}

impl DealId {
    /// `prefix` followed by `n` zero-padded to 8 digits (`format!("{prefix}{n:08}")`), as the
    /// sim broker numbers its deals.
    pub fn numbered(prefix: &str, n: u64) -> Result<Self, IdError> {
        let mut b = Text::new();
        b.push(prefix.as_bytes());
        b.push_padded(n, 8);
        // Digits are always allowed: an ASCII prefix without control characters and the
        // length are all there is to check (one per simulated fill).
        let prefix_ok = prefix
            .bytes()
            .all(|c| c.is_ascii() && !c.is_ascii_control());
        match b.as_str() {
            Some(s) if prefix_ok && s.len() <= 30 => Ok(Self(Arc::from(s))),
            Some(s) => Self::from_text(s),
            None => Self::new(format!("{prefix}{n:08}")),
        }
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
        for (random, seq) in [
            (0, 0),
            (0xf, 1_234_567),
            (u32::MAX, 999_999_999),
            (7, 999_999),
        ] {
            let r = DealReference::compose("P_x-1", random, seq).unwrap();
            assert_eq!(r.as_str(), format!("P_x-1-{random:08x}-{seq:06}"));
        }
        for n in [0, 1, 12_345_678, 123_456_789, u64::MAX] {
            let id = DealId::numbered("SIM", n).unwrap();
            assert_eq!(id.as_str(), format!("SIM{n:08}"));
        }
        // Too long: the same error as the formatted text gives.
        let long = "P".repeat(40);
        assert_eq!(
            DealReference::compose(&long, 1, 2).unwrap_err(),
            DealReference::new(format!("{long}-00000001-000002")).unwrap_err()
        );
        assert_eq!(
            DealId::numbered(&long, 7).unwrap_err(),
            DealId::new(format!("{long}00000007")).unwrap_err()
        );
        // The shortcuts (prefix check only) agree with full validation for any prefix.
        for prefix in [
            "",
            "A",
            "a_b-C",
            "has space",
            "é",
            "x.y",
            "tab\there",
            "P-P-P-P-P-P-P-P-P-P",
            "SIMULATEDDEALSPREFIX-22",
        ] {
            let full = DealReference::new(format!("{prefix}-0000000a-000003"));
            assert_eq!(DealReference::compose(prefix, 10, 3), full, "{prefix:?}");
            let full = DealId::new(format!("{prefix}{:08}", 42));
            assert_eq!(DealId::numbered(prefix, 42), full, "{prefix:?}");
        }
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, "\"SCALP-deadbeef-000042\"");
        let back: DealReference = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        assert!(serde_json::from_str::<DealReference>("\"has space\"").is_err());
    }
}
