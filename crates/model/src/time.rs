//! Timestamps as UTC epoch milliseconds: compact, ordered and deterministic.

use std::fmt;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// A UTC instant in milliseconds since the Unix epoch.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }
    pub const fn millis(self) -> i64 {
        self.0
    }
    /// The same instant as a chrono value (`None` when out of chrono's range).
    pub fn to_datetime(self) -> Option<DateTime<Utc>> {
        Utc.timestamp_millis_opt(self.0).single()
    }
    pub fn from_datetime(dt: DateTime<Utc>) -> Self {
        Self(dt.timestamp_millis())
    }
    /// Milliseconds from `earlier` to `self` (negative if `earlier` is later).
    pub const fn since(self, earlier: Timestamp) -> i64 {
        self.0 - earlier.0
    }
    #[must_use]
    pub const fn plus_millis(self, ms: i64) -> Self {
        Self(self.0 + ms)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_datetime() {
            Some(dt) => write!(f, "{}", dt.format("%Y-%m-%dT%H:%M:%S%.3fZ")),
            None => write!(f, "{}ms", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_roundtrip() {
        let t = Timestamp::from_millis(1_700_000_000_123);
        assert_eq!(t.to_string(), "2023-11-14T22:13:20.123Z");
        assert_eq!(Timestamp::from_datetime(t.to_datetime().unwrap()), t);
        assert_eq!(t.plus_millis(877).since(t), 877);
    }
}
