//! Time as the engine sees it. The engine itself never reads a clock: timestamps arrive in
//! events. Runners use a [`Clock`] to stamp timers and broker events: the live runner with a
//! wall clock (in the CLI, the one place allowed to read it), backtests with [`ManualClock`].

use std::sync::atomic::{AtomicI64, Ordering};

use scalper_model::Timestamp;

/// A source of the current time.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// A clock that only moves when told to (backtests, tests).
#[derive(Debug, Default)]
pub struct ManualClock {
    ms: AtomicI64,
}

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        Self {
            ms: AtomicI64::new(start.millis()),
        }
    }
    /// Sets the time; a clock never goes backwards, so earlier values are ignored.
    pub fn set(&self, t: Timestamp) {
        self.ms.fetch_max(t.millis(), Ordering::Relaxed);
    }
    pub fn advance(&self, ms: i64) {
        self.ms.fetch_add(ms.max(0), Ordering::Relaxed);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.ms.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_forward_only() {
        let c = ManualClock::new(Timestamp::from_millis(1000));
        c.advance(500);
        assert_eq!(c.now().millis(), 1500);
        c.set(Timestamp::from_millis(1200));
        assert_eq!(c.now().millis(), 1500);
        c.set(Timestamp::from_millis(2000));
        assert_eq!(c.now().millis(), 2000);
    }
}
