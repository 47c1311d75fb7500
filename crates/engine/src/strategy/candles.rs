//! Builds fixed-period OHLC candles of mid prices from quotes, aligned to multiples of the
//! period since the epoch. A bar is emitted when the first quote of a later bar arrives.

use rust_decimal::Decimal;
use scalper_model::{Candle, Price, Quote, Timestamp};

const HALF: Decimal = Decimal::from_parts(5, 0, 0, false, 1);

/// Aggregates quotes of one instrument into candles.
#[derive(Debug, Clone)]
pub struct CandleBuilder {
    period_ms: i64,
    current: Option<Candle>,
}

impl CandleBuilder {
    /// `period_ms` below 1 is treated as 1.
    pub fn new(period_ms: i64) -> Self {
        Self {
            period_ms: period_ms.max(1),
            current: None,
        }
    }

    pub fn period_ms(&self) -> i64 {
        self.period_ms
    }

    /// Adds a quote; returns the previous candle if this quote starts a new one. Quotes older
    /// than the current bar are folded into it (the stream should not go backwards).
    pub fn update(&mut self, q: &Quote) -> Option<Candle> {
        // (bid + offer) x 0.5: exact in decimal and cheaper than a division.
        let mid = Price::new((q.bid.value() + q.offer.value()) * HALF);
        let ms = q.ts.millis();
        let start = Timestamp::from_millis(ms - ms.rem_euclid(self.period_ms));
        match &mut self.current {
            Some(c) if start <= c.start => {
                c.high = c.high.max(mid);
                c.low = c.low.min(mid);
                c.close = mid;
                None
            }
            slot => {
                let fresh = Candle {
                    epic: q.epic.clone(),
                    start,
                    period_ms: self.period_ms,
                    open: mid,
                    high: mid,
                    low: mid,
                    close: mid,
                    spread: Some(q.spread()),
                    volume: None,
                };
                slot.replace(fresh)
            }
        }
    }

    /// The bar being built, if any.
    pub fn current(&self) -> Option<&Candle> {
        self.current.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;
    use rust_decimal_macros::dec;
    use scalper_model::Epic;
    use scalper_model::Price;

    fn q(ts: i64, bid: Decimal, offer: Decimal) -> Quote {
        Quote {
            epic: Epic::new("CS.D.EURUSD.CFD.IP").unwrap(),
            bid: Price::new(bid),
            offer: Price::new(offer),
            ts: Timestamp::from_millis(ts),
        }
    }

    #[test]
    fn builds_bars_on_period_boundaries() {
        let mut b = CandleBuilder::new(1000);
        assert!(b.update(&q(1500, dec!(1.0), dec!(1.2))).is_none()); // mid 1.1
        assert!(b.update(&q(1700, dec!(1.2), dec!(1.4))).is_none()); // mid 1.3
        assert!(b.update(&q(1999, dec!(0.8), dec!(1.0))).is_none()); // mid 0.9
        let bar = b.update(&q(2000, dec!(1.0), dec!(1.0))).unwrap();
        assert_eq!(bar.start.millis(), 1000);
        assert_eq!(bar.open.value(), dec!(1.1));
        assert_eq!(bar.high.value(), dec!(1.3));
        assert_eq!(bar.low.value(), dec!(0.9));
        assert_eq!(bar.close.value(), dec!(0.9));
        assert_eq!(bar.spread, Some(dec!(0.2)));
        assert_eq!(b.current().unwrap().start.millis(), 2000);
    }
}
