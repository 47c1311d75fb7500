//! Client-side rate limiting: separate per-minute budgets for trading and non-trading requests
//! (sliding one-minute window), replaceable once `/operations/application` answers.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::types::Allowances;

/// Which budget a request draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// Create/amend/close positions and working orders.
    Trading,
    /// Every other authenticated request.
    NonTrading,
    /// Login, refresh, logout: not throttled (IG does not count them the same way).
    Unmetered,
}

#[derive(Debug)]
struct Window {
    limit: u32,
    sent: VecDeque<Instant>,
}

impl Window {
    fn new(limit: u32) -> Self {
        Self {
            limit: limit.max(1),
            sent: VecDeque::new(),
        }
    }
    /// Records a send now if allowed, else returns how long to wait.
    fn try_take(&mut self, now: Instant) -> Option<Duration> {
        let minute = Duration::from_secs(60);
        while self
            .sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= minute)
        {
            self.sent.pop_front();
        }
        if self.sent.len() < self.limit as usize {
            self.sent.push_back(now);
            return None;
        }
        let oldest = self.sent.front().copied().unwrap_or(now);
        Some((oldest + minute).saturating_duration_since(now))
    }
}

/// Two sliding-window budgets.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    enabled: bool,
    trading: Mutex<Window>,
    non_trading: Mutex<Window>,
}

impl RateLimiter {
    pub(crate) fn new(enabled: bool, a: Allowances) -> Self {
        Self {
            enabled,
            trading: Mutex::new(Window::new(a.trading_per_minute)),
            // The per-account budget is the binding one; keep 2 in reserve for session upkeep.
            non_trading: Mutex::new(Window::new(a.non_trading_per_minute.saturating_sub(2))),
        }
    }

    pub(crate) async fn set_allowances(&self, a: Allowances) {
        self.trading.lock().await.limit = a.trading_per_minute.max(1);
        self.non_trading.lock().await.limit = a.non_trading_per_minute.saturating_sub(2).max(1);
    }

    /// Waits until the budget allows one more request.
    pub(crate) async fn acquire(&self, budget: Budget) {
        if !self.enabled {
            return;
        }
        let window = match budget {
            Budget::Trading => &self.trading,
            Budget::NonTrading => &self.non_trading,
            Budget::Unmetered => return,
        };
        loop {
            let wait = window.lock().await.try_take(Instant::now());
            match wait {
                None => return,
                Some(d) => {
                    tracing::debug!(
                        ?budget,
                        wait_ms = d.as_millis() as u64,
                        "rate limit: waiting"
                    );
                    tokio::time::sleep(d).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_allows_limit_then_waits_until_oldest_expires() {
        let t0 = Instant::now();
        let mut w = Window::new(2);
        assert!(w.try_take(t0).is_none());
        assert!(w.try_take(t0 + Duration::from_secs(10)).is_none());
        let wait = w.try_take(t0 + Duration::from_secs(20)).unwrap();
        assert_eq!(wait, Duration::from_secs(40));
        assert!(w.try_take(t0 + Duration::from_secs(60)).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn budgets_are_separate() {
        let a = Allowances {
            trading_per_minute: 1,
            non_trading_per_minute: 3,
            ..Allowances::default()
        };
        let r = RateLimiter::new(true, a);
        r.acquire(Budget::Trading).await;
        let start = Instant::now();
        r.acquire(Budget::NonTrading).await;
        assert_eq!(
            Instant::now(),
            start,
            "non-trading not blocked by trading use"
        );
        r.acquire(Budget::Trading).await;
        assert!(Instant::now() >= start + Duration::from_secs(60));
    }
}
