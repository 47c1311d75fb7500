//! Typed stream output and the two bounded channels that carry it: a per-epic coalescing quote
//! mailbox (latest wins when the consumer lags) and a lossless, back-pressured event channel for
//! trade updates, candles, account updates and status.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use scalper_model::{AccountId, Candle, Epic, MarketStatus, Money, Quote, Timestamp};
use tokio::sync::{mpsc, Notify};

use super::items::{ChartScale, Subscription};
use super::trade::{PositionUpdate, TradeConfirm, TradeDecodeError, WorkingOrderUpdate};

/// Balance and margin from `ACCOUNT:{account}` (fields IG did not send are `None`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountUpdate {
    pub pnl: Option<Money>,
    pub deposit: Option<Money>,
    pub available_cash: Option<Money>,
    pub funds: Option<Money>,
    pub margin: Option<Money>,
    pub available_to_deal: Option<Money>,
    pub equity: Option<Money>,
    pub equity_used: Option<Money>,
}

/// Connection state changes. A [`StreamStatus::Gap`] is emitted every time the connection is
/// lost, before any reconnect: quotes may be stale until fresh ones arrive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamStatus {
    /// A session is bound and every subscription has been (re)sent. `rebound` is true when an
    /// existing session was re-attached (LOOP, dropped connection) rather than created.
    Connected {
        session_id: String,
        rebound: bool,
        keepalive_ms: u64,
    },
    /// Updates may have been lost (connection dropped, silent, LOOP, END, new session).
    Gap { at: Timestamp, reason: String },
    /// The next connection attempt starts after `delay_ms`.
    Reconnecting {
        attempt: u32,
        delay_ms: u64,
        reason: String,
    },
    /// The server refused the session (`CONERR`). Code 1 = expired CST/XST (a REST re-login
    /// is triggered), 65 = unsupported TLCP version (check `StreamConfig::protocol_version`).
    SessionRefused { code: i32, message: String },
    /// The credential source failed (no REST session, or a forced re-login failed). With
    /// `fatal` (credentials, lockout, API key) the stream will not force another re-login;
    /// fix the credentials and restart. Connection attempts continue with backoff.
    CredentialsUnavailable { message: String, fatal: bool },
    /// The client stopped (shutdown requested).
    Stopped,
}

/// Everything except quotes. Delivered losslessly, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// A `CONFIRMS` update (outcome of a dealing request).
    Confirm(TradeConfirm),
    /// An `OPU` update (open position opened/updated/deleted).
    Position(PositionUpdate),
    /// A `WOU` update (working order).
    WorkingOrder(WorkingOrderUpdate),
    /// A TRADE field that could not be decoded; the consumer should reconcile over REST.
    TradeUndecodable {
        error: TradeDecodeError,
        raw: String,
    },
    /// A candle from `CHART:{epic}:{scale}`: the forming one (`complete == false`) or the
    /// final one (`complete == true`, IG's `CONS_END=1`).
    Candle {
        candle: Candle,
        scale: ChartScale,
        complete: bool,
    },
    /// The dealing status of a market changed (PRICE `DLG_FLAG`, MARKET `MARKET_STATE`).
    MarketStatus {
        epic: Epic,
        status: MarketStatus,
        at: Timestamp,
    },
    /// Balance/margin update.
    Account {
        account: AccountId,
        update: AccountUpdate,
    },
    /// The server confirmed a subscription (`SUBOK`): updates for it flow from now on. Sent
    /// again after every new session.
    Subscribed(Subscription),
    /// The server refused a subscription (`REQERR`; IG uses code -1 for permissions, and one
    /// unknown field refuses the whole subscription). It is not retried on this session.
    SubscriptionRefused {
        subscription: Subscription,
        code: i32,
        message: String,
    },
    /// The server reported lost updates (`OV`) for a subscription.
    Overflow {
        subscription: Subscription,
        lost: u64,
    },
    Status(StreamStatus),
}

/// At most this many replaced quotes are remembered (epic and time) for
/// [`QuoteReceiver::take_replaced`]; later ones are only counted.
pub const REPLACED_KEPT: usize = 100_000;

#[derive(Debug, Default)]
struct MailboxState {
    latest: HashMap<Epic, Quote>,
    order: VecDeque<Epic>,
    coalesced: u64,
    /// The quotes replaced before being read (epic, IG time), up to [`REPLACED_KEPT`].
    replaced: Vec<(Epic, Timestamp)>,
    closed: bool,
}

#[derive(Debug, Default)]
struct Mailbox {
    state: Mutex<MailboxState>,
    notify: Notify,
}

impl Mailbox {
    fn lock(&self) -> MutexGuard<'_, MailboxState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Receives quotes: at most one pending quote per epic (older ones are replaced when the
/// consumer lags), epics in the order their first pending quote arrived.
#[derive(Debug)]
pub struct QuoteReceiver {
    mailbox: Arc<Mailbox>,
}

/// Sees every quote the stream receives, as it arrives and before quotes coalesce: the one
/// place every quote passes (a recorder hooks in here). Called on the stream's task, so it
/// must return at once (hand the quote on, never wait).
pub trait QuoteTap: Send + Sync + std::fmt::Debug {
    fn on_quote(&self, quote: &Quote);
}

/// The producer side of [`QuoteReceiver`]; closes the mailbox when dropped.
#[derive(Debug)]
pub(crate) struct QuoteSender {
    mailbox: Arc<Mailbox>,
    tap: Option<Arc<dyn QuoteTap>>,
}

/// A new quote mailbox, every quote shown to `tap` first.
pub(crate) fn quote_channel(tap: Option<Arc<dyn QuoteTap>>) -> (QuoteSender, QuoteReceiver) {
    let mailbox = Arc::new(Mailbox::default());
    (
        QuoteSender {
            mailbox: mailbox.clone(),
            tap,
        },
        QuoteReceiver { mailbox },
    )
}

impl QuoteSender {
    pub(crate) fn send(&self, quote: Quote) {
        if let Some(tap) = &self.tap {
            tap.on_quote(&quote);
        }
        {
            let mut st = self.mailbox.lock();
            let epic = quote.epic.clone();
            if let Some(old) = st.latest.insert(epic.clone(), quote) {
                st.coalesced += 1;
                if st.replaced.len() < REPLACED_KEPT {
                    st.replaced.push((old.epic, old.ts));
                }
            } else {
                st.order.push_back(epic);
            }
        }
        self.mailbox.notify.notify_one();
    }
}

impl Drop for QuoteSender {
    fn drop(&mut self) {
        self.mailbox.lock().closed = true;
        self.mailbox.notify.notify_one();
    }
}

impl QuoteReceiver {
    /// The next quote; `None` once the client has stopped and every pending quote was read.
    pub async fn recv(&mut self) -> Option<Quote> {
        loop {
            {
                let mut st = self.mailbox.lock();
                if let Some(q) = pop(&mut st) {
                    return Some(q);
                }
                if st.closed {
                    return None;
                }
            }
            self.mailbox.notify.notified().await;
        }
    }

    /// A pending quote without waiting.
    pub fn try_recv(&mut self) -> Option<Quote> {
        pop(&mut self.mailbox.lock())
    }

    /// How many quotes were replaced by a newer one before being read.
    pub fn coalesced(&self) -> u64 {
        self.mailbox.lock().coalesced
    }

    /// The quotes replaced before being read so far (epic and IG time, in the order they were
    /// replaced, at most [`REPLACED_KEPT`]), and how many were replaced in all: the quotes the
    /// consumer never saw. Taken: the next call returns the later ones.
    pub fn take_replaced(&self) -> (Vec<(Epic, Timestamp)>, u64) {
        let mut st = self.mailbox.lock();
        (std::mem::take(&mut st.replaced), st.coalesced)
    }
}

fn pop(st: &mut MailboxState) -> Option<Quote> {
    while let Some(epic) = st.order.pop_front() {
        if let Some(q) = st.latest.remove(&epic) {
            return Some(q);
        }
    }
    None
}

/// The lossless event channel (bounded: the stream reader waits when it is full).
pub(crate) fn event_channel(
    capacity: usize,
) -> (mpsc::Sender<StreamEvent>, mpsc::Receiver<StreamEvent>) {
    mpsc::channel(capacity.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use scalper_model::Price;

    fn q(epic: &str, bid: i64) -> Quote {
        Quote {
            epic: Epic::new(epic).unwrap(),
            bid: Price::new(bid.into()),
            offer: Price::new((bid + 1).into()),
            ts: Timestamp::from_millis(bid),
        }
    }

    #[tokio::test]
    async fn quotes_coalesce_per_epic_latest_wins() {
        let (tx, mut rx) = quote_channel(None);
        tx.send(q("AAAAAA", 1));
        tx.send(q("BBBBBB", 10));
        tx.send(q("AAAAAA", 2));
        tx.send(q("AAAAAA", 3));
        assert_eq!(rx.recv().await.unwrap(), q("AAAAAA", 3));
        assert_eq!(rx.recv().await.unwrap(), q("BBBBBB", 10));
        assert_eq!(rx.try_recv(), None);
        assert_eq!(rx.coalesced(), 2);
        let (replaced, total) = rx.take_replaced();
        assert_eq!(total, 2);
        assert_eq!(
            replaced,
            vec![
                (Epic::new("AAAAAA").unwrap(), Timestamp::from_millis(1)),
                (Epic::new("AAAAAA").unwrap(), Timestamp::from_millis(2))
            ]
        );
        tx.send(q("BBBBBB", 11));
        drop(tx);
        assert_eq!(rx.recv().await.unwrap(), q("BBBBBB", 11));
        assert_eq!(rx.recv().await, None);
    }

    #[tokio::test]
    async fn recv_wakes_on_send_from_other_task() {
        let (tx, mut rx) = quote_channel(None);
        let h = tokio::spawn(async move { rx.recv().await });
        tokio::task::yield_now().await;
        tx.send(q("AAAAAA", 5));
        assert_eq!(h.await.unwrap(), Some(q("AAAAAA", 5)));
    }
}
