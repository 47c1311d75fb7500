//! Client-side allowance planning: separate per-minute budgets for trading and non-trading
//! requests (sliding one-minute windows, replaceable once `/operations/application` answers),
//! shared out by priority.
//!
//! When a budget is short, waiting requests are served by [`Priority`] (then in arrival order):
//! closes and outcome checks first, then stop/limit amendments, then entries, then reads. Each
//! budget also keeps a reserve that only [`Priority::Protect`] requests may use, so a close
//! finds room at once even when entries have used up everything else: a storm of entries can
//! never delay a close.

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
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

/// Who goes first when a budget is short (most urgent first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Closes (the kill switch's included), deleting working orders, and the reads that
    /// establish a deal's outcome: may use the budget's reserve.
    Protect,
    /// Stop and limit amendments.
    Amend,
    /// Opening positions and creating working orders.
    Entry,
    /// Everything else.
    Read,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Protect => "protect",
            Priority::Amend => "amend",
            Priority::Entry => "entry",
            Priority::Read => "read",
        }
    }
}

/// The room left in both budgets right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Headroom {
    /// Trading requests that could be sent now (reserve included).
    pub trading: u32,
    pub trading_limit: u32,
    /// Non-trading requests that could be sent now (reserve included).
    pub non_trading: u32,
    pub non_trading_limit: u32,
    /// Requests waiting for either budget.
    pub waiting: u32,
}

const MINUTE: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct Window {
    limit: u32,
    sent: VecDeque<Instant>,
    /// Requests waiting, by (priority, arrival).
    waiting: BTreeSet<(Priority, u64)>,
    next_seq: u64,
}

impl Window {
    fn new(limit: u32) -> Self {
        Self {
            limit: limit.max(1),
            sent: VecDeque::new(),
            waiting: BTreeSet::new(),
            next_seq: 0,
        }
    }

    /// Slots only [`Priority::Protect`] may take: a tenth of the budget, at least one, none
    /// for budgets under four a minute.
    fn reserve(&self) -> usize {
        if self.limit < 4 {
            0
        } else {
            (self.limit as usize / 10).max(1)
        }
    }

    fn prune(&mut self, now: Instant) {
        while self
            .sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= MINUTE)
        {
            self.sent.pop_front();
        }
    }

    fn free(&mut self, now: Instant) -> usize {
        self.prune(now);
        (self.limit as usize).saturating_sub(self.sent.len())
    }

    /// Takes a slot for `key` now, or says how long until one may free up (`None`: someone
    /// more urgent is waiting, so wait for them to go first).
    fn try_take(&mut self, now: Instant, key: (Priority, u64)) -> Result<(), Option<Duration>> {
        self.prune(now);
        if self.waiting.first().is_some_and(|first| *first < key) {
            return Err(None);
        }
        let usable = if key.0 == Priority::Protect {
            self.limit as usize
        } else {
            (self.limit as usize).saturating_sub(self.reserve())
        };
        if self.sent.len() < usable {
            self.sent.push_back(now);
            return Ok(());
        }
        // The slot frees when enough of the oldest sends leave the window.
        let index = self.sent.len() - usable;
        let frees_at = self.sent.get(index).copied().unwrap_or(now) + MINUTE;
        Err(Some(frees_at.saturating_duration_since(now)))
    }
}

/// Two sliding-window budgets shared out by priority.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    enabled: bool,
    trading: Mutex<Window>,
    non_trading: Mutex<Window>,
    /// Wakes waiters when a waiter goes (sent or given up) so the next may try.
    changed: Notify,
}

/// Removes a waiter from its window when it is served or its future is dropped.
struct Waiting<'a> {
    window: &'a Mutex<Window>,
    key: (Priority, u64),
    changed: &'a Notify,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        lock(self.window).waiting.remove(&self.key);
        self.changed.notify_waiters();
    }
}

/// The window's state is plain data, valid after any panic: a poisoned lock is used as is.
fn lock(w: &Mutex<Window>) -> std::sync::MutexGuard<'_, Window> {
    w.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The non-trading budget keeps 2 a minute for session upkeep.
fn non_trading_limit(a: Allowances) -> u32 {
    a.non_trading_per_minute.saturating_sub(2).max(1)
}

impl RateLimiter {
    pub(crate) fn new(enabled: bool, a: Allowances) -> Self {
        Self {
            enabled,
            trading: Mutex::new(Window::new(a.trading_per_minute)),
            non_trading: Mutex::new(Window::new(non_trading_limit(a))),
            changed: Notify::new(),
        }
    }

    pub(crate) fn set_allowances(&self, a: Allowances) {
        lock(&self.trading).limit = a.trading_per_minute.max(1);
        lock(&self.non_trading).limit = non_trading_limit(a);
        self.changed.notify_waiters();
    }

    /// The room left in each budget now.
    pub(crate) fn headroom(&self) -> Headroom {
        let now = Instant::now();
        let mut t = lock(&self.trading);
        let mut n = lock(&self.non_trading);
        let count = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
        Headroom {
            trading: count(t.free(now)),
            trading_limit: t.limit,
            non_trading: count(n.free(now)),
            non_trading_limit: n.limit,
            waiting: count(t.waiting.len() + n.waiting.len()),
        }
    }

    /// Waits until `budget` gives a slot to a request of `priority`.
    pub(crate) async fn acquire(&self, budget: Budget, priority: Priority, what: &str) {
        if !self.enabled {
            return;
        }
        let window = match budget {
            Budget::Trading => &self.trading,
            Budget::NonTrading => &self.non_trading,
            Budget::Unmetered => return,
        };
        let key = {
            let mut w = lock(window);
            let key = (priority, w.next_seq);
            w.next_seq += 1;
            // The fast path: nobody waiting and room now.
            if w.try_take(Instant::now(), key).is_ok() {
                return;
            }
            w.waiting.insert(key);
            key
        };
        let _waiting = Waiting {
            window,
            key,
            changed: &self.changed,
        };
        let started = Instant::now();
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let outcome = lock(window).try_take(Instant::now(), key);
            match outcome {
                Ok(()) => break,
                Err(Some(wait)) => {
                    tracing::debug!(
                        ?budget,
                        priority = priority.as_str(),
                        what,
                        wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                        "allowance: waiting for room"
                    );
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = &mut changed => {}
                    }
                }
                Err(None) => changed.await,
            }
        }
        let h = self.headroom();
        tracing::info!(
            ?budget,
            priority = priority.as_str(),
            what,
            waited_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            trading_left = h.trading,
            non_trading_left = h.non_trading,
            waiting = h.waiting.saturating_sub(1),
            "allowance: sent after waiting for room"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn limiter(trading: u32, non_trading: u32) -> Arc<RateLimiter> {
        Arc::new(RateLimiter::new(
            true,
            Allowances {
                trading_per_minute: trading,
                non_trading_per_minute: non_trading,
                ..Allowances::default()
            },
        ))
    }

    #[test]
    fn window_allows_limit_then_waits_until_oldest_expires() {
        let t0 = Instant::now();
        let mut w = Window::new(2);
        assert!(w.try_take(t0, (Priority::Entry, 0)).is_ok());
        assert!(w
            .try_take(t0 + Duration::from_secs(10), (Priority::Entry, 1))
            .is_ok());
        let wait = w
            .try_take(t0 + Duration::from_secs(20), (Priority::Entry, 2))
            .unwrap_err();
        assert_eq!(wait, Some(Duration::from_secs(40)));
        assert!(w
            .try_take(t0 + Duration::from_secs(60), (Priority::Entry, 3))
            .is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn budgets_are_separate() {
        let r = limiter(1, 5);
        r.acquire(Budget::Trading, Priority::Entry, "t").await;
        let start = Instant::now();
        r.acquire(Budget::NonTrading, Priority::Read, "n").await;
        assert_eq!(
            Instant::now(),
            start,
            "non-trading not blocked by trading use"
        );
        r.acquire(Budget::Trading, Priority::Entry, "t").await;
        assert!(Instant::now() >= start + Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn entries_cannot_use_the_reserve_and_a_close_goes_at_once() {
        let r = limiter(20, 60);
        for _ in 0..18 {
            r.acquire(Budget::Trading, Priority::Entry, "entry").await;
        }
        assert_eq!(r.headroom().trading, 2, "two slots left: the reserve");
        let start = Instant::now();
        let entry = tokio::spawn({
            let r = r.clone();
            async move {
                r.acquire(Budget::Trading, Priority::Entry, "entry").await;
                Instant::now()
            }
        });
        tokio::task::yield_now().await;
        r.acquire(Budget::Trading, Priority::Protect, "close").await;
        assert_eq!(Instant::now(), start, "the close used the reserve at once");
        let entry_at = entry.await.unwrap();
        assert!(
            entry_at >= start + MINUTE,
            "the entry waited for the window, not for the reserve"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn when_the_budget_is_spent_closes_go_before_amendments_before_entries() {
        let r = limiter(3, 60);
        for _ in 0..3 {
            r.acquire(Budget::Trading, Priority::Protect, "fill").await;
        }
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        // Entries arrive first, then an amendment, then a close.
        for (p, name) in [
            (Priority::Entry, "entry 1"),
            (Priority::Entry, "entry 2"),
            (Priority::Amend, "amend"),
            (Priority::Protect, "close"),
        ] {
            let (r, order) = (r.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                r.acquire(Budget::Trading, p, name).await;
                order.lock().unwrap().push(name);
            }));
            tokio::task::yield_now().await;
        }
        assert_eq!(r.headroom().waiting, 4);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(
            *order.lock().unwrap(),
            vec!["close", "amend", "entry 1", "entry 2"],
            "served by priority, then by arrival"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_that_gives_up_does_not_block_the_others() {
        let r = limiter(1, 60);
        r.acquire(Budget::Trading, Priority::Entry, "fill").await;
        let close = tokio::spawn({
            let r = r.clone();
            async move { r.acquire(Budget::Trading, Priority::Protect, "close").await }
        });
        tokio::task::yield_now().await;
        close.abort();
        let _ = close.await;
        assert_eq!(r.headroom().waiting, 0, "the dropped waiter left the queue");
        let start = Instant::now();
        tokio::time::timeout(
            MINUTE * 2,
            r.acquire(Budget::Trading, Priority::Entry, "entry"),
        )
        .await
        .expect("the entry is served when the window frees, not blocked by the gone close");
        assert!(Instant::now() >= start + Duration::from_secs(59));
        assert_eq!(r.headroom().waiting, 0);
    }
}
