//! [`ConfirmHub`]: deal confirmations pushed from the Lightstreamer `TRADE` stream, which IG
//! recommends over polling `/confirms` (REST confirms cost non-trading allowance and vanish after
//! a minute). A client with a hub waits briefly for the streamed confirm of each dealing request
//! and polls REST only when it does not come.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use scalper_model::DealReference;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::types::Confirmation;

/// How long an undelivered confirm is kept (IG keeps REST confirms for about a minute).
const KEEP: Duration = Duration::from_secs(120);

/// Confirms by deal reference, delivered by the stream reader and taken by dealing calls.
#[derive(Debug, Clone, Default)]
pub struct ConfirmHub {
    inner: Arc<HubInner>,
}

#[derive(Debug, Default)]
struct HubInner {
    confirms: Mutex<HashMap<DealReference, (Instant, Confirmation)>>,
    arrived: Notify,
}

impl ConfirmHub {
    fn lock(&self) -> MutexGuard<'_, HashMap<DealReference, (Instant, Confirmation)>> {
        self.inner
            .confirms
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores a streamed confirm and wakes the callers waiting for one.
    pub fn deliver(&self, confirm: Confirmation) {
        let now = Instant::now();
        {
            let mut map = self.lock();
            map.retain(|_, (at, _)| now.duration_since(*at) < KEEP);
            map.insert(confirm.deal_reference.clone(), (now, confirm));
        }
        self.inner.arrived.notify_waiters();
    }

    /// Takes the confirm of `reference`, waiting up to `timeout` for it to arrive.
    pub async fn wait(&self, reference: &DealReference, timeout: Duration) -> Option<Confirmation> {
        let deadline = Instant::now() + timeout;
        loop {
            let arrived = self.inner.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            if let Some((_, c)) = self.lock().remove(reference) {
                return Some(c);
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                return self.lock().remove(reference).map(|(_, c)| c);
            }
        }
    }

    /// Confirms held and not yet taken.
    pub fn pending(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::DealStatus;

    fn confirm(r: &str) -> Confirmation {
        Confirmation {
            deal_reference: DealReference::new(r).unwrap(),
            deal_id: None,
            status: DealStatus::Accepted,
            reject_reason: None,
            position_status: None,
            epic: None,
            direction: None,
            level: None,
            size: None,
            stop_level: None,
            limit_level: None,
            profit: None,
            profit_currency: None,
            affected_deals: Vec::new(),
        }
    }

    #[tokio::test]
    async fn delivered_before_or_while_waiting_and_timeout() {
        let hub = ConfirmHub::default();
        let a = DealReference::new("REF-A").unwrap();
        // Delivered before anyone waits: kept until taken.
        hub.deliver(confirm("REF-A"));
        assert_eq!(
            hub.wait(&a, Duration::ZERO).await.unwrap().deal_reference,
            a
        );
        assert_eq!(hub.pending(), 0);
        // Delivered while waiting.
        let b = DealReference::new("REF-B").unwrap();
        let h2 = hub.clone();
        let waiter = tokio::spawn(async move { h2.wait(&b, Duration::from_secs(5)).await });
        tokio::task::yield_now().await;
        hub.deliver(confirm("REF-OTHER"));
        hub.deliver(confirm("REF-B"));
        let got = waiter.await.unwrap().unwrap();
        assert_eq!(got.deal_reference.as_str(), "REF-B");
        assert_eq!(hub.pending(), 1, "the other confirm stays for its owner");
        // Never delivered: None after the timeout.
        let c = DealReference::new("REF-C").unwrap();
        assert!(hub.wait(&c, Duration::from_millis(20)).await.is_none());
    }
}
