//! What a run shows to observers (metrics, the status API, a service manager) and the control
//! requests it takes from them, without slowing the event loop: the loop publishes a status
//! snapshot through a `watch` channel at most every [`PUBLISH_EVERY`] (and at once after a
//! control action), latencies go into histograms of atomic counters, and control requests come
//! in over a bounded channel the loop selects on. Nothing here knows about HTTP.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use scalper_model::{Money, Timestamp};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};

use crate::curve::{EquityCurve, SharedCurve};
use crate::logtail::{LogLine, LogTail};

/// The loop publishes a new snapshot at most this often (and every second, and after a control
/// action).
pub const PUBLISH_EVERY: Duration = Duration::from_millis(250);
/// Control requests waiting for the loop; more are refused at once (the caller retries).
const CONTROL_QUEUE: usize = 16;
/// Errors kept for `last_errors`.
pub const ERRORS_KEPT: usize = 20;
/// Closed trades kept for `recent_trades`.
pub const RECENT_TRADES_KEPT: usize = 50;

/// Upper bounds of the latency histograms' buckets, in microseconds (the last bucket is
/// everything above).
pub const LATENCY_BUCKETS_US: [u64; 14] = [
    5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 100_000, 1_000_000,
];

/// A latency histogram of atomic counters: recording is a few relaxed atomic adds, from any
/// thread, without a lock.
#[derive(Debug, Default)]
pub struct LatencyHistogram {
    buckets: [AtomicU64; LATENCY_BUCKETS_US.len() + 1],
    sum_ns: AtomicU64,
    count: AtomicU64,
}

/// A copy of a [`LatencyHistogram`]: per-bucket (not cumulative) counts, matching
/// [`LATENCY_BUCKETS_US`] plus the overflow bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LatencyCounts {
    pub buckets: Vec<u64>,
    pub sum_ns: u64,
    pub count: u64,
}

impl LatencyHistogram {
    pub fn record(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let i = LATENCY_BUCKETS_US
            .iter()
            .position(|&b| us <= b)
            .unwrap_or(LATENCY_BUCKETS_US.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn counts(&self) -> LatencyCounts {
        LatencyCounts {
            buckets: self
                .buckets
                .iter()
                .map(|b| b.load(Ordering::Relaxed))
                .collect(),
            sum_ns: self.sum_ns.load(Ordering::Relaxed),
            count: self.count.load(Ordering::Relaxed),
        }
    }
}

/// Alerts sent, failed and dropped, counted by the alert dispatcher (`crates/alerts`) and read
/// by the metrics (`scalper_alerts_*_total`): a few relaxed atomic adds, off the event loop.
#[derive(Debug, Default)]
pub struct AlertTally {
    sent: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
}

/// A copy of an [`AlertTally`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlertCounts {
    /// Deliveries a channel accepted.
    pub sent: u64,
    /// Deliveries given up after their last attempt (or refused for good).
    pub failed: u64,
    /// Alerts dropped because a queue was full.
    pub dropped: u64,
}

impl AlertTally {
    pub fn sent(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
    }

    pub fn failed(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
    }

    pub fn dropped(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    pub fn counts(&self) -> AlertCounts {
        AlertCounts {
            sent: self.sent.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }
}

/// How the notes in [`StatusSnapshot::last_errors`] that observers classify begin (the alerts
/// turn them into events): one spelling, used by the run and its observers alike.
pub mod notes {
    pub const PAPER_FALLBACK: &str = "broker failed, paper trading: ";
    pub const JOURNAL_FAILED: &str = "journal write failed: ";
    pub const RECONCILIATION: &str = "reconciliation with the broker found differences: ";
    pub const IN_RUN_RECONCILIATION: &str = "in-run reconciliation found a difference with IG: ";
    pub const STREAM_REFUSED: &str = "stream session refused ";
    pub const STREAM_CREDENTIALS: &str = "stream credentials unavailable: ";
}

/// What an operator asks of a running engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlAction {
    /// Stop new entries; open positions stay, managed, with their stops.
    Halt,
    /// Stop new entries and close every position.
    Flatten,
    /// Lift a halt made by `Halt`, `Flatten` or the kill switch (not a daily-loss lock, not a
    /// broker-failure halt).
    Resume,
}

impl ControlAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Halt => "halt",
            Self::Flatten => "flatten",
            Self::Resume => "resume",
        }
    }
}

/// A control action for the event loop, with who asked (for the log and the journal) and where
/// the answer goes.
#[derive(Debug)]
pub struct ControlRequest {
    pub action: ControlAction,
    /// Who asked, e.g. `http 127.0.0.1:50312`.
    pub source: String,
    pub reply: oneshot::Sender<ControlReply>,
}

/// The state after the loop acted on a [`ControlRequest`].
#[derive(Debug, Clone, Serialize)]
pub struct ControlReply {
    pub action: ControlAction,
    /// The halt in force after the action (`None`: trading).
    pub halted: Option<String>,
    /// Positions still open or being closed.
    pub open_positions: u32,
}

/// Why a control request did not reach the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("the engine is not trading (starting up or stopped)")]
    NotRunning,
    #[error("too many control requests waiting; try again")]
    Busy,
}

/// Service-manager notifications (systemd's `sd_notify`). The loop calls `alive` from its own
/// one-second timer, so a stuck loop stops feeding a watchdog.
pub trait ServiceNotify: Send + Sync + std::fmt::Debug {
    /// Start-up is over and the loop is trading.
    fn ready(&self);
    /// The event loop went round (watchdog keep-alive).
    fn alive(&self);
    /// The run is winding down.
    fn stopping(&self);
}

/// The run's side: what the loop publishes into (goes into `RunOptions::telemetry`).
#[derive(Debug, Clone)]
pub struct Telemetry {
    status: Arc<watch::Sender<Arc<StatusSnapshot>>>,
    pub(crate) decision: Arc<LatencyHistogram>,
    pub(crate) journal_write: Arc<LatencyHistogram>,
    pub(crate) curve: SharedCurve,
    control: Arc<Mutex<Option<mpsc::Receiver<ControlRequest>>>>,
    /// The shadow's totals (`RunOptions::shadow`), published by the shadow task.
    pub(crate) shadow: crate::shadow::SharedShadow,
}

/// The observers' side: the latest snapshot, the histograms, and a way to send control
/// requests.
#[derive(Debug, Clone)]
pub struct TelemetryView {
    status: watch::Receiver<Arc<StatusSnapshot>>,
    decision: Arc<LatencyHistogram>,
    journal_write: Arc<LatencyHistogram>,
    curve: SharedCurve,
    log: Option<LogTail>,
    control: mpsc::Sender<ControlRequest>,
    alerts: Arc<AlertTally>,
    shadow: crate::shadow::SharedShadow,
}

/// A connected pair: the run publishes into the [`Telemetry`], observers read the
/// [`TelemetryView`].
pub fn telemetry() -> (Telemetry, TelemetryView) {
    let (status_tx, status_rx) = watch::channel(Arc::new(StatusSnapshot::default()));
    let (control_tx, control_rx) = mpsc::channel(CONTROL_QUEUE);
    let decision = Arc::new(LatencyHistogram::default());
    let journal_write = Arc::new(LatencyHistogram::default());
    let curve = SharedCurve::default();
    let shadow = crate::shadow::SharedShadow::default();
    (
        Telemetry {
            status: Arc::new(status_tx),
            decision: decision.clone(),
            journal_write: journal_write.clone(),
            curve: curve.clone(),
            control: Arc::new(Mutex::new(Some(control_rx))),
            shadow: shadow.clone(),
        },
        TelemetryView {
            status: status_rx,
            decision,
            journal_write,
            curve,
            log: None,
            control: control_tx,
            alerts: Arc::new(AlertTally::default()),
            shadow,
        },
    )
}

impl Telemetry {
    pub(crate) fn publish(&self, snapshot: StatusSnapshot) {
        self.status.send_replace(Arc::new(snapshot));
    }

    /// Changes the published phase only (start-up and wind-down, outside the loop).
    pub(crate) fn set_phase(&self, phase: RunPhase) {
        self.status.send_modify(|s| {
            if s.phase != phase {
                let mut next = StatusSnapshot::clone(s);
                next.phase = phase;
                next.heartbeat = Some(Instant::now());
                *s = Arc::new(next);
            }
        });
    }

    /// The control requests, for the one event loop that takes them (`None` after that).
    pub(crate) fn take_control(&self) -> Option<mpsc::Receiver<ControlRequest>> {
        self.control.lock().ok().and_then(|mut c| c.take())
    }
}

impl TelemetryView {
    /// Shows the records `tail` keeps (a layer of the process's `tracing` subscriber, see
    /// [`LogTail::layer`]) as the run's last log lines; the tail starts keeping them now.
    #[must_use]
    pub fn with_log(mut self, tail: LogTail) -> Self {
        tail.enable();
        self.log = Some(tail);
        self
    }

    /// The last log records, oldest first (empty without [`TelemetryView::with_log`]).
    pub fn log_lines(&self) -> Vec<LogLine> {
        self.log.as_ref().map(LogTail::lines).unwrap_or_default()
    }

    /// The latest log record's sequence number (0: none).
    pub fn log_seq(&self) -> u64 {
        self.log.as_ref().map_or(0, LogTail::last_seq)
    }

    /// Today's equity curve (the session day's realised plus unrealised P&L).
    pub fn equity_curve(&self) -> EquityCurve {
        self.curve.read()
    }

    /// The latest snapshot.
    pub fn status(&self) -> Arc<StatusSnapshot> {
        self.status.borrow().clone()
    }

    /// A receiver that wakes on every new snapshot (for server-sent events).
    pub fn subscribe(&self) -> watch::Receiver<Arc<StatusSnapshot>> {
        self.status.clone()
    }

    /// Time to drive one event through the engine and the venue, on the loop.
    pub fn decision_latency(&self) -> LatencyCounts {
        self.decision.counts()
    }

    /// Time of each journal record's SQLite write, on the journal writer thread.
    pub fn journal_write_latency(&self) -> LatencyCounts {
        self.journal_write.counts()
    }

    /// The alert dispatcher's counters (it counts into them; the metrics read them).
    pub fn alerts(&self) -> Arc<AlertTally> {
        self.alerts.clone()
    }

    /// The shadow paper comparison's totals so far (`None`: the run has no shadow).
    pub fn shadow(&self) -> Option<crate::ShadowSummary> {
        self.shadow.lock().ok().and_then(|s| s.clone())
    }

    /// Hands `action` to the event loop and waits for what it did.
    pub async fn control(
        &self,
        action: ControlAction,
        source: String,
    ) -> Result<ControlReply, ControlError> {
        let (reply, rx) = oneshot::channel();
        self.control
            .try_send(ControlRequest {
                action,
                source,
                reply,
            })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => ControlError::Busy,
                mpsc::error::TrySendError::Closed(_) => ControlError::NotRunning,
            })?;
        rx.await.map_err(|_| ControlError::NotRunning)
    }
}

/// Where the run is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunPhase {
    /// Login, market details, reconciliation.
    #[default]
    Starting,
    Trading,
    /// Closing at the end, waiting for requests in flight.
    WindingDown,
    Stopped,
}

/// The run as the event loop last published it: everything `/api/status` and `/metrics` show.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StatusSnapshot {
    pub phase: RunPhase,
    /// The loop's clock (latest quote time moved on by wall time).
    pub at: Option<Timestamp>,
    pub uptime_s: f64,
    pub paper: bool,
    /// The halt in force (`kill switch`, `daily loss limit`, `broker failure`).
    pub halted: Option<String>,
    pub session: SessionView,
    pub stream: StreamView,
    pub instruments: Vec<InstrumentView>,
    pub positions: Vec<PositionView>,
    pub pnl: PnlView,
    pub orders: OrderTally,
    /// Entries refused by risk, by rule.
    pub refusals: BTreeMap<String, u64>,
    /// Trades whose opening or closing request has an unknown outcome.
    pub unresolved: u32,
    pub unknown_outcomes_resolved: u64,
    /// The latest closed trades, newest last.
    pub recent_trades: VecDeque<ClosedTradeView>,
    /// The open positions' notional in the account currency.
    pub exposure: ExposureView,
    /// The latest warnings and errors, newest last.
    pub last_errors: VecDeque<ErrorNote>,
    /// When the loop published this (liveness); not serialised.
    #[serde(skip)]
    pub heartbeat: Option<Instant>,
}

/// The IG session.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SessionView {
    pub state: String,
    pub version: String,
    pub account_id: Option<String>,
    pub token_age_s: Option<u64>,
    pub logins: u64,
    pub refreshes: u64,
    pub token_errors: u64,
    pub token_errors_recovered: u64,
    pub allowance_backoffs: u64,
    pub requests: u64,
    /// IG's request budgets: what could be sent now, the limits, and requests waiting.
    pub allowance: AllowanceView,
}

/// The room left in IG's trading and non-trading request budgets (per minute).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct AllowanceView {
    pub trading: u32,
    pub trading_limit: u32,
    pub non_trading: u32,
    pub non_trading_limit: u32,
    pub waiting: u32,
}

/// The price stream.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StreamView {
    /// `connecting`, `connected`, `gap`, `reconnecting`, `refused`, `credentials_unavailable`,
    /// `stopped`.
    pub state: String,
    pub reconnects: u64,
    pub quotes: u64,
}

/// One traded instrument.
#[derive(Debug, Clone, Serialize)]
pub struct InstrumentView {
    pub epic: String,
    pub quotes: u64,
    pub bid: Option<String>,
    pub offer: Option<String>,
    /// Offer minus bid, in the instrument's points.
    pub spread_points: Option<rust_decimal::Decimal>,
    pub last_quote_at: Option<Timestamp>,
    /// When the loop last received a quote for it (for the quote's age); not serialised.
    #[serde(skip)]
    pub last_quote_wall: Option<Instant>,
}

/// An open (or opening, or closing) position.
#[derive(Debug, Clone, Serialize)]
pub struct PositionView {
    pub trade_id: u64,
    pub deal_id: Option<String>,
    pub epic: String,
    pub direction: &'static str,
    pub size: String,
    pub state: String,
    pub entry_level: Option<String>,
    pub stop_level: Option<String>,
    pub limit_level: Option<String>,
    pub opened_at: Option<Timestamp>,
    /// In the account currency, at the last quote; `None` until filled and quoted.
    pub unrealised_pnl: Option<Money>,
    pub paper: bool,
    pub adopted: bool,
}

/// P&L in the account currency.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PnlView {
    pub currency: Option<String>,
    /// Realised over the run.
    pub realised: Money,
    pub unrealised: Money,
    /// Realised over the session day (restarts included, from the journal).
    pub day_realised: Money,
    /// Entries over the session day.
    pub day_trades: u32,
    /// The session day's realised plus the open positions' unrealised P&L (the latest point
    /// of today's equity curve).
    pub day_total: Money,
    pub equity: Money,
    pub max_drawdown: Money,
    pub trades: u64,
    pub wins: u64,
    pub losses: u64,
}

/// The open (and opening) positions' notional at their entry level, in the account currency.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExposureView {
    /// The sum of every position's notional.
    pub gross: Money,
    /// Net per currency: a long EUR/USD is long EUR and short USD (long positive).
    pub by_currency: BTreeMap<String, Money>,
    /// Net per instrument (long positive, short negative).
    pub by_instrument: BTreeMap<String, Money>,
}

/// A closed round trip.
#[derive(Debug, Clone, Serialize)]
pub struct ClosedTradeView {
    pub trade_id: u64,
    pub epic: String,
    pub direction: &'static str,
    pub size: String,
    pub entry: String,
    pub exit: String,
    pub pnl: Money,
    pub closed_at: Timestamp,
    pub cause: String,
}

/// A warning or error the run met.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorNote {
    pub at: Option<Timestamp>,
    pub message: String,
}

/// Dealing requests sent and their outcomes, counted by the venue.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OrderTally {
    /// Requests sent, by kind (`open`, `close`, `amend`, `resolve`).
    pub sent: BTreeMap<&'static str, u64>,
    /// Opening requests filled.
    pub filled: u64,
    /// Requests refused, by reason (`RejectReason::code`).
    pub rejected: BTreeMap<&'static str, u64>,
    /// Amendments refused, by reason.
    pub amend_rejected: BTreeMap<&'static str, u64>,
    /// Requests whose outcome became unknown.
    pub outcome_unknown: u64,
    /// Positions closed, by cause (`engine`, `stop`, `limit`, ...).
    pub closed: BTreeMap<String, u64>,
}

impl OrderTally {
    pub(crate) fn command(&mut self, cmd: &scalper_engine::BrokerCommand) {
        use scalper_engine::BrokerCommand;
        let kind = match cmd {
            BrokerCommand::Open(_) => "open",
            BrokerCommand::Close(_) => "close",
            BrokerCommand::Amend(_) => "amend",
            BrokerCommand::Resolve { .. } => "resolve",
        };
        *self.sent.entry(kind).or_default() += 1;
    }

    pub(crate) fn event(&mut self, ev: &scalper_engine::BrokerEvent) {
        use scalper_engine::BrokerEvent;
        match ev {
            BrokerEvent::Accepted { .. } => self.filled += 1,
            BrokerEvent::Rejected { reason, .. } => {
                *self.rejected.entry(reason.code()).or_default() += 1;
            }
            BrokerEvent::AmendRejected { reason, .. } => {
                *self.amend_rejected.entry(reason.code()).or_default() += 1;
            }
            BrokerEvent::OutcomeUnknown { .. } => self.outcome_unknown += 1,
            BrokerEvent::PositionClosed { cause, .. } => {
                *self
                    .closed
                    .entry(format!("{cause:?}").to_lowercase())
                    .or_default() += 1;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_latency_lands_in_the_first_bucket_that_holds_it() {
        let h = LatencyHistogram::default();
        h.record(Duration::from_micros(3));
        h.record(Duration::from_micros(10));
        h.record(Duration::from_micros(11));
        h.record(Duration::from_secs(5));
        let c = h.counts();
        assert_eq!(c.count, 4);
        assert_eq!(c.buckets[0], 1, "3 us <= 5 us");
        assert_eq!(c.buckets[1], 1, "10 us <= 10 us");
        assert_eq!(c.buckets[2], 1, "11 us <= 25 us");
        assert_eq!(c.buckets[LATENCY_BUCKETS_US.len()], 1, "5 s overflows");
        assert_eq!(c.sum_ns, 5_000_024_000);
    }

    #[tokio::test]
    async fn control_without_a_loop_is_refused_not_hung() {
        let (t, view) = telemetry();
        drop(t);
        let r = view.control(ControlAction::Halt, "test".into()).await;
        assert_eq!(r.unwrap_err(), ControlError::NotRunning);
    }
}
