//! Streaming indicators in f64 (indicator output only; prices stay decimal elsewhere):
//! exponential and simple moving averages and an ATR over candles.

use std::collections::VecDeque;

/// Exponential moving average with `alpha = 2 / (n + 1)`, seeded with the first value.
#[derive(Debug, Clone)]
pub struct Ema {
    alpha: f64,
    value: Option<f64>,
    count: u64,
}

impl Ema {
    /// `period` of 0 is treated as 1 (the average follows the input).
    pub fn new(period: u32) -> Self {
        Self {
            alpha: 2.0 / (f64::from(period.max(1)) + 1.0),
            value: None,
            count: 0,
        }
    }
    /// Adds a value and returns the new average.
    pub fn update(&mut self, x: f64) -> f64 {
        self.count += 1;
        let v = match self.value {
            None => x,
            Some(prev) => prev + self.alpha * (x - prev),
        };
        self.value = Some(v);
        v
    }
    pub fn value(&self) -> Option<f64> {
        self.value
    }
    /// How many values were added.
    pub fn count(&self) -> u64 {
        self.count
    }
}

/// Simple moving average over the last `period` values.
#[derive(Debug, Clone)]
pub struct Sma {
    period: usize,
    window: VecDeque<f64>,
    sum: f64,
}

impl Sma {
    pub fn new(period: u32) -> Self {
        let period = period.max(1) as usize;
        Self {
            period,
            window: VecDeque::with_capacity(period + 1),
            sum: 0.0,
        }
    }
    /// Adds a value; returns the average once `period` values were seen.
    pub fn update(&mut self, x: f64) -> Option<f64> {
        self.window.push_back(x);
        self.sum += x;
        if self.window.len() > self.period {
            if let Some(old) = self.window.pop_front() {
                self.sum -= old;
            }
        }
        self.value()
    }
    pub fn value(&self) -> Option<f64> {
        if self.window.len() == self.period {
            // Recompute from the window to keep float drift out of long runs.
            Some(self.window.iter().sum::<f64>() / self.period as f64)
        } else {
            None
        }
    }
}

/// Average true range with Wilder's smoothing: the first value is the mean of the first
/// `period` true ranges, then `atr = (atr * (n - 1) + tr) / n`.
#[derive(Debug, Clone)]
pub struct Atr {
    period: u32,
    prev_close: Option<f64>,
    seen: u32,
    acc: f64,
    value: Option<f64>,
}

impl Atr {
    pub fn new(period: u32) -> Self {
        Self {
            period: period.max(1),
            prev_close: None,
            seen: 0,
            acc: 0.0,
            value: None,
        }
    }
    /// Adds a bar (high, low, close); returns the ATR once `period` bars were seen.
    pub fn update(&mut self, high: f64, low: f64, close: f64) -> Option<f64> {
        let tr = match self.prev_close {
            None => high - low,
            Some(pc) => (high - low).max((high - pc).abs()).max((low - pc).abs()),
        };
        self.prev_close = Some(close);
        let n = f64::from(self.period);
        if let Some(v) = self.value {
            self.value = Some((v * (n - 1.0) + tr) / n);
        } else {
            self.seen += 1;
            self.acc += tr;
            if self.seen >= self.period {
                self.value = Some(self.acc / n);
            }
        }
        self.value
    }
    pub fn value(&self) -> Option<f64> {
        self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ema_seeded_with_first_value() {
        let mut e = Ema::new(3); // alpha 0.5
        assert!((e.update(10.0) - 10.0).abs() < 1e-12);
        assert!((e.update(20.0) - 15.0).abs() < 1e-12);
        assert!((e.update(20.0) - 17.5).abs() < 1e-12);
        assert_eq!(e.count(), 3);
    }

    #[test]
    fn sma_waits_for_full_window() {
        let mut s = Sma::new(3);
        assert_eq!(s.update(1.0), None);
        assert_eq!(s.update(2.0), None);
        assert_eq!(s.update(3.0), Some(2.0));
        assert_eq!(s.update(7.0), Some(4.0));
    }

    #[test]
    fn atr_wilder() {
        let mut a = Atr::new(2);
        assert_eq!(a.update(11.0, 9.0, 10.0), None); // tr 2
        assert_eq!(a.update(12.0, 10.0, 11.0), Some(2.0)); // tr 2 -> mean 2
                                                           // tr = max(1, |14-11|, |13-11|) = 3 -> (2 + 3) / 2
        assert_eq!(a.update(14.0, 13.0, 13.5), Some(2.5));
    }
}
