//! The public streaming client: configuration, [`StreamClient::start`], runtime
//! subscribe/unsubscribe, shutdown, and the receivers for its output.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::creds::StreamCredentialSource;
use super::events::{event_channel, quote_channel, QuoteReceiver, QuoteTap, StreamEvent};
use super::items::Subscription;
use super::runner::Runner;

/// Stream client settings. `Default` suits IG; tests shorten the timings.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    /// TLCP version, e.g. `TLCP-2.4.0` (known good on IG; IG refused 2.5.0 with `CONERR,65` in
    /// 2023-2025).
    pub protocol_version: String,
    /// Keep-alive to ask for (`LS_keepalive_millis`); `None` accepts the server's.
    pub requested_keepalive: Option<Duration>,
    /// Extra silence tolerated beyond the server's keep-alive before the stream is declared
    /// dead and reconnected.
    pub silence_grace: Duration,
    /// First reconnect delay; doubles per failed attempt up to `max_backoff`.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Timeout for opening the WebSocket and for the CONOK answer.
    pub connect_timeout: Duration,
    /// Send `bind_session` on the WebSocket right after `CONOK` (what the Go IG client does).
    pub bind_after_create: bool,
    /// Capacity of the lossless event channel.
    pub event_capacity: usize,
    /// Minimum time between two forced REST re-logins triggered by `CONERR,1`.
    pub min_relogin_interval: Duration,
    /// Shown every quote as it arrives, before quotes coalesce (a quote recorder).
    pub quote_tap: Option<Arc<dyn QuoteTap>>,
}

impl Default for StreamConfig {
    fn default() -> Self {
        Self {
            protocol_version: "TLCP-2.4.0".into(),
            requested_keepalive: None,
            silence_grace: Duration::from_secs(3),
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            bind_after_create: false,
            event_capacity: 4096,
            min_relogin_interval: Duration::from_secs(60),
            quote_tap: None,
        }
    }
}

/// The client has stopped; no more requests are accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the stream client has stopped")]
pub struct StreamStopped;

#[derive(Debug)]
pub(crate) enum Command {
    Subscribe(Subscription),
    Unsubscribe(Subscription),
    Shutdown(oneshot::Sender<()>),
}

/// Output of a running client.
#[derive(Debug)]
pub struct StreamReceivers {
    /// Quotes from PRICE, MARKET and CHART:TICK items, coalesced per epic.
    pub quotes: QuoteReceiver,
    /// Every other event, lossless and in order (status, trade updates, candles, account).
    pub events: mpsc::Receiver<StreamEvent>,
}

/// A running stream supervisor. Dropping it stops the client.
#[derive(Debug)]
pub struct StreamClient {
    cmds: mpsc::Sender<Command>,
    task: Option<JoinHandle<()>>,
}

impl StreamClient {
    /// Starts the supervisor task (needs a tokio runtime): it logs in with `credentials`,
    /// subscribes `subscriptions`, and keeps the stream alive until [`Self::shutdown`].
    pub fn start<C: StreamCredentialSource>(
        config: StreamConfig,
        credentials: Arc<C>,
        subscriptions: impl IntoIterator<Item = Subscription>,
    ) -> (Self, StreamReceivers) {
        let (quote_tx, quotes) = quote_channel(config.quote_tap.clone());
        let (event_tx, events) = event_channel(config.event_capacity);
        let (cmds, cmd_rx) = mpsc::channel(64);
        let runner = Runner::new(
            config,
            credentials,
            subscriptions.into_iter().collect(),
            quote_tx,
            event_tx,
            cmd_rx,
        );
        let task = tokio::spawn(runner.run());
        (
            Self {
                cmds,
                task: Some(task),
            },
            StreamReceivers { quotes, events },
        )
    }

    /// Adds a subscription (sent now if connected, and after every new session).
    pub async fn subscribe(&self, subscription: Subscription) -> Result<(), StreamStopped> {
        self.cmds
            .send(Command::Subscribe(subscription))
            .await
            .map_err(|_| StreamStopped)
    }

    /// Removes a subscription.
    pub async fn unsubscribe(&self, subscription: Subscription) -> Result<(), StreamStopped> {
        self.cmds
            .send(Command::Unsubscribe(subscription))
            .await
            .map_err(|_| StreamStopped)
    }

    /// Destroys the session, closes the connection and waits (at most ~2 s) for the task to
    /// end. Events already queued stay readable; the receivers then end.
    pub async fn shutdown(mut self) {
        let (tx, rx) = oneshot::channel();
        let polite = async {
            if self.cmds.send(Command::Shutdown(tx)).await.is_ok() {
                let _ = rx.await;
            }
        };
        // The task may be blocked on a full event channel nobody reads: don't wait forever.
        let _ = tokio::time::timeout(Duration::from_secs(2), polite).await;
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for StreamClient {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
