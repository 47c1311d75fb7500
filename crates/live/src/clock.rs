//! [`QuoteClock`]: the runner's notion of "now" for broker events: the latest quote time, moved
//! on by wall time elapsed since that quote. It follows the sandbox's accelerated simulated time
//! as well as IG's real time, and never goes backwards.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use scalper_engine::Clock;
use scalper_model::Timestamp;

/// Latest quote time plus wall time since it arrived.
#[derive(Debug, Clone, Default)]
pub struct QuoteClock {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    last_ts: AtomicI64,
    at: Mutex<Option<Instant>>,
    /// The time is a provisional start (the wall clock), replaced by the first quote's time
    /// even when that is earlier: a sandbox simulating a past week is followed, not outrun.
    provisional: AtomicBool,
}

impl QuoteClock {
    /// Starts the clock at `ts` until the first quote says what time it is.
    pub fn seed(&self, ts: Timestamp) {
        self.inner.last_ts.store(ts.millis(), Ordering::SeqCst);
        *self.inner.at.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
        self.inner.provisional.store(true, Ordering::SeqCst);
    }

    /// Records a quote's time (older times are ignored, but for the first after a seed).
    pub fn observe(&self, ts: Timestamp) {
        if self.inner.provisional.swap(false, Ordering::SeqCst) {
            self.inner.last_ts.store(ts.millis(), Ordering::SeqCst);
            *self.inner.at.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
            return;
        }
        let prev = self.inner.last_ts.fetch_max(ts.millis(), Ordering::SeqCst);
        if ts.millis() >= prev {
            *self.inner.at.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
        }
    }

    /// True once a quote was seen.
    pub fn started(&self) -> bool {
        self.inner.last_ts.load(Ordering::SeqCst) > 0
    }
}

impl Clock for QuoteClock {
    fn now(&self) -> Timestamp {
        let last = self.inner.last_ts.load(Ordering::SeqCst);
        let since = self
            .inner
            .at
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .map_or(0, |at| {
                i64::try_from(at.elapsed().as_millis()).unwrap_or(i64::MAX)
            });
        Timestamp::from_millis(last.saturating_add(since))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_quotes_and_never_goes_back() {
        let c = QuoteClock::default();
        assert!(!c.started());
        c.observe(Timestamp::from_millis(1_000));
        let a = c.now();
        assert!(a.millis() >= 1_000);
        c.observe(Timestamp::from_millis(500));
        assert!(c.now() >= a);
        c.observe(Timestamp::from_millis(5_000));
        assert!(c.now().millis() >= 5_000);
    }

    #[test]
    fn a_seed_gives_way_to_the_first_quote_even_an_earlier_one() {
        let c = QuoteClock::default();
        c.seed(Timestamp::from_millis(1_000_000));
        assert!(c.now().millis() >= 1_000_000);
        c.observe(Timestamp::from_millis(2_000));
        let t = c.now().millis();
        assert!((2_000..1_000_000).contains(&t), "{t}");
        c.observe(Timestamp::from_millis(1_000));
        assert!(c.now().millis() >= 2_000, "then never back");
    }
}
