//! Delivery off the trading path: [`Alerts::notify`] renders an event once and offers it to
//! each channel's bounded queue without waiting (a full queue drops it and counts the drop);
//! one task per channel delivers in order, retrying with exponential backoff up to the bound.

use std::sync::Arc;
use std::time::Duration;

use scalper_live::AlertTally;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::channel::{Channel, DeliveryError, SetupError};
use crate::config::{AlertsConfig, Delivery};
use crate::event::{Alert, Event};
use crate::redact::Redactor;

/// The sending side: cheap to clone, never blocks.
#[derive(Debug, Clone)]
pub struct Alerts {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    source: String,
    redactor: Redactor,
    queues: Vec<(&'static str, mpsc::Sender<Arc<Alert>>)>,
    tally: Arc<AlertTally>,
}

/// The delivery tasks, to wait for at the end of a run.
#[derive(Debug)]
pub struct Dispatcher {
    workers: Vec<(&'static str, JoinHandle<()>)>,
}

/// Builds the channels (an HTTP client and the SMTP transports).
pub fn channels(cfg: &AlertsConfig) -> Result<(reqwest::Client, Vec<Channel>), SetupError> {
    let http = reqwest::Client::builder()
        .timeout(cfg.delivery.timeout)
        .connect_timeout(cfg.delivery.timeout)
        .user_agent(concat!("scalper/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| SetupError {
            channel: "http",
            message: format!("cannot build the HTTP client: {e}"),
        })?;
    let list = cfg
        .channels
        .iter()
        .map(|c| Channel::build(c, cfg.delivery.timeout))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((http, list))
}

impl Alerts {
    /// Starts one delivery task per channel (needs a tokio runtime). `tally` counts sent,
    /// failed and dropped alerts (the metrics read it); `redactor` scrubs every alert.
    pub fn start(
        cfg: &AlertsConfig,
        tally: Arc<AlertTally>,
        redactor: Redactor,
    ) -> Result<(Self, Dispatcher), SetupError> {
        let (http, list) = channels(cfg)?;
        let mut queues = Vec::new();
        let mut workers = Vec::new();
        for channel in list {
            let name = channel.name();
            let (tx, rx) = mpsc::channel(cfg.delivery.queue.max(1));
            let worker = Worker {
                channel,
                http: http.clone(),
                delivery: cfg.delivery,
                tally: tally.clone(),
                redactor: redactor.clone(),
            };
            workers.push((name, tokio::spawn(worker.run(rx))));
            queues.push((name, tx));
        }
        Ok((
            Self {
                inner: Arc::new(Inner {
                    source: cfg.source.clone(),
                    redactor,
                    queues,
                    tally,
                }),
            },
            Dispatcher { workers },
        ))
    }

    /// Queues `event` for every channel; returns at once. A full queue drops the alert for
    /// that channel and counts it.
    pub fn notify(&self, event: &Event) {
        let alert = Arc::new(Alert::render(
            event,
            &self.inner.source,
            &self.inner.redactor,
        ));
        tracing::info!(event = alert.event, severity = alert.severity.as_str(), title = %alert.title, "alert");
        for (name, q) in &self.inner.queues {
            if q.try_send(alert.clone()).is_err() {
                self.inner.tally.dropped();
                tracing::warn!(
                    channel = name,
                    event = alert.event,
                    "alert dropped: the channel's queue is full"
                );
            }
        }
    }

    /// The counters this dispatcher counts into.
    pub fn tally(&self) -> &Arc<AlertTally> {
        &self.inner.tally
    }
}

impl Dispatcher {
    /// Waits (at most `limit`) for the queued alerts to be delivered once every [`Alerts`]
    /// handle is dropped; what is left after that is abandoned. Returns the channels that did
    /// not finish in time.
    pub async fn finish(self, limit: Duration) -> Vec<&'static str> {
        let deadline = tokio::time::Instant::now() + limit;
        let mut late = Vec::new();
        for (name, mut h) in self.workers {
            if tokio::time::timeout_at(deadline, &mut h).await.is_err() {
                h.abort();
                late.push(name);
            }
        }
        if !late.is_empty() {
            tracing::warn!(channels = ?late, "alerts still queued at the end were abandoned");
        }
        late
    }
}

/// One channel's delivery task.
struct Worker {
    channel: Channel,
    http: reqwest::Client,
    delivery: Delivery,
    tally: Arc<AlertTally>,
    redactor: Redactor,
}

impl Worker {
    async fn run(self, mut rx: mpsc::Receiver<Arc<Alert>>) {
        while let Some(alert) = rx.recv().await {
            match self.deliver(&alert).await {
                Ok(attempts) => {
                    self.tally.sent();
                    tracing::debug!(
                        channel = self.channel.name(),
                        event = alert.event,
                        attempts,
                        "alert delivered"
                    );
                }
                Err((attempts, e)) => {
                    self.tally.failed();
                    tracing::warn!(channel = self.channel.name(), event = alert.event, attempts, error = %e, "alert not delivered");
                }
            }
        }
    }

    /// Attempts until delivered, refused for good, or out of attempts.
    async fn deliver(&self, alert: &Alert) -> Result<u32, (u32, DeliveryError)> {
        let attempts = self.delivery.attempts.max(1);
        let mut n = 1;
        loop {
            match self
                .channel
                .deliver(&self.http, alert, &self.redactor)
                .await
            {
                Ok(()) => return Ok(n),
                Err(e) if !e.retryable || n >= attempts => return Err((n, e)),
                Err(e) => {
                    let wait = self.delivery.backoff_after(n);
                    tracing::debug!(channel = self.channel.name(), attempt = n, error = %e, wait_ms = wait.as_millis() as u64, "alert attempt failed; retrying");
                    tokio::time::sleep(wait).await;
                    n += 1;
                }
            }
        }
    }
}

/// `scalper alerts test`: one attempt per channel, in order, with its outcome.
pub async fn test_channels(
    cfg: &AlertsConfig,
    redactor: &Redactor,
) -> Result<Vec<(&'static str, Result<(), DeliveryError>)>, SetupError> {
    let (http, list) = channels(cfg)?;
    let alert = Alert::render(&Event::Test, &cfg.source, redactor);
    let mut out = Vec::new();
    for c in &list {
        out.push((c.name(), c.deliver(&http, &alert, redactor).await));
    }
    Ok(out)
}
