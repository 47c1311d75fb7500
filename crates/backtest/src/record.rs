//! The records every data source yields: quote ticks and bars with prices in fixed point
//! (10^-9, see [`PRICE_SCALE`](crate::parse::PRICE_SCALE)), their [`DataKind`] and the [`RecordSource`] trait. Shared by
//! the loaders (`data`) and the binary cache (`cache`), which depend on it and not on each
//! other's types.

use std::path::Path;

use scalper_model::{Candle, Epic, Price, Quote, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Location};
use crate::parse::to_decimal;

/// Quote ticks or bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataKind {
    Quotes,
    Bars,
}

impl DataKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Quotes => "quotes",
            Self::Bars => "bars",
        }
    }
}

/// One quote with prices in fixed point (10^-9, see [`PRICE_SCALE`](crate::parse::PRICE_SCALE)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawQuote {
    pub ts: i64,
    pub bid: i64,
    pub ask: i64,
}

/// One bar of mid prices in fixed point, with the spread at the open when known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawBar {
    /// Start of the bar, epoch ms.
    pub ts: i64,
    pub period_ms: i64,
    pub open: i64,
    pub high: i64,
    pub low: i64,
    pub close: i64,
    pub spread: Option<i64>,
    pub volume: Option<i64>,
}

/// A record of a data file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    Quote(RawQuote),
    Bar(RawBar),
}

impl Record {
    /// The record's time: the quote's, or the bar's start.
    pub fn ts(&self) -> i64 {
        match self {
            Self::Quote(q) => q.ts,
            Self::Bar(b) => b.ts,
        }
    }
}

impl RawQuote {
    pub fn to_quote(&self, epic: &Epic) -> Quote {
        Quote {
            epic: epic.clone(),
            bid: Price::new(to_decimal(self.bid)),
            offer: Price::new(to_decimal(self.ask)),
            ts: Timestamp::from_millis(self.ts),
        }
    }
}

impl RawBar {
    pub fn to_candle(&self, epic: &Epic) -> Candle {
        Candle {
            epic: epic.clone(),
            start: Timestamp::from_millis(self.ts),
            period_ms: self.period_ms,
            open: Price::new(to_decimal(self.open)),
            high: Price::new(to_decimal(self.high)),
            low: Price::new(to_decimal(self.low)),
            close: Price::new(to_decimal(self.close)),
            spread: self.spread.map(to_decimal),
            volume: self.volume.map(to_decimal),
        }
    }
}

/// A stream of records from one or more files.
pub trait RecordSource: Iterator<Item = Result<Record, DataError>> + Send {
    fn kind(&self) -> DataKind;
    /// File of the last record returned.
    fn path(&self) -> &Path;
    /// Where the last record returned was.
    fn location(&self) -> Location;
    /// Bytes consumed so far and the total (for progress).
    fn progress(&self) -> (u64, u64);
    /// True when every record came from the binary cache.
    fn all_cached(&self) -> bool;

    /// Appends up to `max` records to `out` (which it does not clear): `Ok(false)` once the
    /// data has ended, `Ok(true)` when there may be more. An error comes after the records
    /// before it, which are in `out`. Sources that can read a run of records at once (the
    /// binary cache) override this; the default reads them one by one.
    fn next_batch(&mut self, out: &mut Vec<Record>, max: usize) -> Result<bool, DataError> {
        for _ in 0..max {
            match self.next() {
                Some(Ok(r)) => out.push(r),
                Some(Err(e)) => return Err(e),
                None => return Ok(false),
            }
        }
        Ok(true)
    }
}

/// Mid of two fixed-point prices, rounded half-even at 10^-9.
pub(crate) fn mid(bid: i64, ask: i64) -> i64 {
    let s = i128::from(bid) + i128::from(ask);
    let half = s.div_euclid(2);
    let v = if s.rem_euclid(2) == 1 && half % 2 != 0 {
        half + 1
    } else {
        half
    };
    i64::try_from(v).unwrap_or(i64::MAX)
}
