//! Market data: top-of-book quotes and OHLC candles.

use serde::{Deserialize, Serialize};

use crate::{Epic, Price, Timestamp};
use rust_decimal::Decimal;

/// One top-of-book price update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    pub epic: Epic,
    pub bid: Price,
    pub offer: Price,
    pub ts: Timestamp,
}

impl Quote {
    /// `(bid + offer) / 2`.
    pub fn mid(&self) -> Price {
        Price::new((self.bid.value() + self.offer.value()) / Decimal::TWO)
    }
    /// `offer - bid` as a raw price difference.
    pub fn spread(&self) -> Decimal {
        self.offer - self.bid
    }
}

/// An OHLC bar of mid (or single-sided) prices, optionally with the spread at the open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candle {
    pub epic: Epic,
    /// Start of the bar.
    pub start: Timestamp,
    /// Length of the bar in milliseconds.
    pub period_ms: i64,
    pub open: Price,
    pub high: Price,
    pub low: Price,
    pub close: Price,
    /// Spread (offer - bid) when known.
    pub spread: Option<Decimal>,
    pub volume: Option<Decimal>,
}
