//! IG's price resolutions (`/prices/{epic}?resolution=`): the names IG accepts and the bar
//! length of each. `MONTH`, which has no fixed length, is not supported.

use std::fmt;
use std::str::FromStr;

/// A bar resolution IG serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resolution {
    Second,
    Minute,
    Minute2,
    Minute3,
    Minute5,
    Minute10,
    Minute15,
    Minute30,
    Hour,
    Hour2,
    Hour3,
    Hour4,
    Day,
    Week,
    /// A month; as a bar length, 30 days (see [`Resolution::millis`]).
    Month,
}

impl Resolution {
    /// Every resolution, shortest first.
    pub const ALL: [Self; 15] = [
        Self::Second,
        Self::Minute,
        Self::Minute2,
        Self::Minute3,
        Self::Minute5,
        Self::Minute10,
        Self::Minute15,
        Self::Minute30,
        Self::Hour,
        Self::Hour2,
        Self::Hour3,
        Self::Hour4,
        Self::Day,
        Self::Week,
        Self::Month,
    ];

    /// IG's spelling (`MINUTE_5`).
    pub const fn as_ig(self) -> &'static str {
        match self {
            Self::Second => "SECOND",
            Self::Minute => "MINUTE",
            Self::Minute2 => "MINUTE_2",
            Self::Minute3 => "MINUTE_3",
            Self::Minute5 => "MINUTE_5",
            Self::Minute10 => "MINUTE_10",
            Self::Minute15 => "MINUTE_15",
            Self::Minute30 => "MINUTE_30",
            Self::Hour => "HOUR",
            Self::Hour2 => "HOUR_2",
            Self::Hour3 => "HOUR_3",
            Self::Hour4 => "HOUR_4",
            Self::Day => "DAY",
            Self::Week => "WEEK",
            Self::Month => "MONTH",
        }
    }

    /// The bar length in milliseconds (`MONTH`: 30 days).
    pub const fn millis(self) -> i64 {
        const S: i64 = 1_000;
        const M: i64 = 60 * S;
        const H: i64 = 60 * M;
        match self {
            Self::Second => S,
            Self::Minute => M,
            Self::Minute2 => 2 * M,
            Self::Minute3 => 3 * M,
            Self::Minute5 => 5 * M,
            Self::Minute10 => 10 * M,
            Self::Minute15 => 15 * M,
            Self::Minute30 => 30 * M,
            Self::Hour => H,
            Self::Hour2 => 2 * H,
            Self::Hour3 => 3 * H,
            Self::Hour4 => 4 * H,
            Self::Day => 24 * H,
            Self::Week => 7 * 24 * H,
            // Calendar months vary; a fixed 30 days is what a bar length can say.
            Self::Month => 30 * 24 * H,
        }
    }

    /// Parses IG's exact spelling, as IG does (`minute_5` is not a resolution on the wire).
    pub fn from_ig(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_ig() == s)
    }

    /// IG's names, comma separated, for error messages.
    pub fn names() -> String {
        Self::ALL.map(Self::as_ig).join(", ")
    }
}

impl fmt::Display for Resolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_ig())
    }
}

/// A name that is not one of IG's resolutions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{given:?} is not an IG resolution (use one of {})",
    Resolution::names()
)]
pub struct UnknownResolution {
    pub given: String,
}

/// Lenient parse for people: surrounding space and any case (`minute_5`).
impl FromStr for Resolution {
    type Err = UnknownResolution;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_ig(&s.trim().to_ascii_uppercase()).ok_or_else(|| UnknownResolution {
            given: s.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_lengths() {
        assert_eq!(
            Resolution::from_ig("SECOND").map(Resolution::millis),
            Some(1_000)
        );
        assert_eq!(
            Resolution::from_ig("MINUTE_5").map(Resolution::millis),
            Some(300_000)
        );
        assert_eq!(
            Resolution::from_ig("HOUR_4").map(Resolution::millis),
            Some(14_400_000)
        );
        assert_eq!(
            Resolution::from_ig("WEEK").map(Resolution::millis),
            Some(604_800_000)
        );
        assert_eq!(Resolution::from_ig("minute"), None);
        assert_eq!(
            Resolution::from_ig("MONTH").map(Resolution::millis),
            Some(2_592_000_000)
        );
        assert_eq!(Resolution::from_ig("YEAR"), None);
        assert_eq!(" minute_2 ".parse(), Ok(Resolution::Minute2));
        let err = "fortnight".parse::<Resolution>().unwrap_err().to_string();
        assert!(
            err.contains("SECOND, MINUTE, MINUTE_2") && err.ends_with("DAY, WEEK, MONTH)"),
            "{err}"
        );
        for r in Resolution::ALL {
            assert_eq!(Resolution::from_ig(r.as_ig()), Some(r));
            assert_eq!(r.to_string().parse(), Ok(r));
        }
        assert!(Resolution::ALL
            .windows(2)
            .all(|w| w[0].millis() < w[1].millis()));
    }
}
