//! IG's margin close-out as simulated brokers apply it (backtests and paper runs alike): when
//! equity with open P&L falls below [`CLOSE_OUT_PERCENT`] of the margin of the open positions,
//! everything is closed at market. Checked at most once per second of event time.

use scalper_model::Money;

pub use scalper_model::economics::{below_close_out, CLOSE_OUT_PERCENT};

/// Follows the close-out rule through a run: one check per second of event time, one
/// close-out at a time (until no position is left), and a count of close-outs.
#[derive(Debug, Clone)]
pub struct MarginWatch {
    checked_sec: i64,
    closing_out: bool,
    closeouts: u64,
}

impl Default for MarginWatch {
    fn default() -> Self {
        Self {
            checked_sec: i64::MIN,
            closing_out: false,
            closeouts: 0,
        }
    }
}

impl MarginWatch {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether to value the account at `now_ms` (epoch ms): positions are open, no
    /// close-out is under way and this second has not been checked yet. With nothing open a
    /// finished close-out is over.
    pub fn due(&mut self, now_ms: i64, any_open: bool) -> bool {
        if !any_open {
            self.closing_out = false;
            return false;
        }
        let sec = now_ms.div_euclid(1000);
        if self.closing_out || sec == self.checked_sec {
            return false;
        }
        self.checked_sec = sec;
        true
    }

    /// The check itself, after [`Self::due`]: true when everything must be closed now.
    pub fn close_out(&mut self, equity: Money, used: Money) -> bool {
        if below_close_out(equity, used) {
            self.closing_out = true;
            self.closeouts += 1;
            return true;
        }
        false
    }

    /// Close-outs so far.
    pub fn closeouts(&self) -> u64 {
        self.closeouts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn fifty_percent_of_margin_once_per_second_one_at_a_time() {
        let m = |v| Money::new(v);
        let mut w = MarginWatch::new();
        assert!(w.due(1_000, true));
        assert!(!w.close_out(m(dec!(60)), m(dec!(100))));
        assert!(!w.due(1_999, true), "same second");
        assert!(w.due(2_000, true));
        assert!(w.close_out(m(dec!(40)), m(dec!(100))));
        assert!(!w.due(3_000, true), "a close-out is under way");
        assert!(!w.due(3_500, false), "everything closed");
        assert!(w.due(4_000, true));
        assert_eq!(w.closeouts(), 1);
    }
}
