//! scalper-live: the live runtime as a library, used by `scalper run` and `scalper demo`, tests,
//! services and language bindings alike.
//!
//! A run goes through named stages: start-up ([`startup`]: login, market details, journal
//! reconciliation, the engine's start state), trading ([`trading`]: one event loop over the IG
//! stream, the timer, Ctrl-C and the execution task's replies, each event driven through the
//! engine's one ordering driver), winding down (closing at the end when asked, waiting for
//! requests in flight) and the report. Dealing requests never block the loop: they run in the
//! [`execution`] task, with at most one opening request per instrument in flight and closes
//! ahead of entries.

pub mod clock;
pub mod closes;
pub mod console;
pub mod curve;
pub mod error;
pub mod execution;
pub mod interrupts;
pub mod journaling;
pub mod logtail;
mod publishing;
pub mod shadow;
pub mod startup;
pub mod status;
pub mod telemetry;
pub mod trading;
pub mod venue;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use scalper_engine::EngineConfig;
use scalper_ig::stream::StreamConfig;
use scalper_ig::IgClient;
use scalper_model::{Epic, Money, Timestamp};
use serde::Serialize;

pub use clock::QuoteClock;
pub use error::LiveError;
pub use execution::{Execution, Job, MAX_IN_FLIGHT};
pub use interrupts::{Interrupts, KillSwitch};
pub use journaling::JournalSink;
pub use logtail::LogTail;
pub use shadow::ShadowSummary;
pub use telemetry::{
    telemetry, AlertCounts, AlertTally, ControlAction, ControlError, ControlReply, RunPhase,
    ServiceNotify, StatusSnapshot, Telemetry, TelemetryView,
};
pub use venue::LiveVenue;

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Stop after this long (wall time); `None` runs until Ctrl-C.
    pub duration: Option<Duration>,
    /// Trade on paper from the start (fills simulated from the live quotes).
    pub paper: bool,
    /// Run a shadow paper engine beside live (same quotes, configuration and decisions,
    /// paper fills on the deciding quote) and compare each live trade with its paper twin.
    /// Meaningless with `paper` (refused).
    pub shadow: bool,
    /// Print the one-line status to stderr every second.
    pub status_line: bool,
    /// Stream settings (tests shorten the timings).
    pub stream: StreamConfig,
    /// Account equity for sizing when the broker does not report one.
    pub equity: Money,
    /// The trade journal (`None`: no journal, e.g. tests of the runner alone).
    pub journal: Option<PathBuf>,
    /// fsync every journal record (live); `false` is enough against a process crash (demo).
    pub durable_journal: bool,
    /// Where kill-switch presses come from: `None` listens for Ctrl-C (SIGINT); services and
    /// tests pass [`Interrupts::manual`] and press its [`KillSwitch`].
    pub interrupts: Option<Interrupts>,
    /// Where the run publishes its status and latencies and takes control requests (metrics
    /// and HTTP servers read the other side, [`TelemetryView`]); `None`: nothing is published
    /// and nothing is timed.
    pub telemetry: Option<Telemetry>,
    /// Service-manager notifications (ready, watchdog keep-alive from the event loop,
    /// stopping).
    pub service: Option<std::sync::Arc<dyn ServiceNotify>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            duration: None,
            paper: false,
            shadow: false,
            status_line: false,
            stream: StreamConfig::default(),
            equity: Money::new(rust_decimal::Decimal::from(10_000)),
            journal: None,
            durable_journal: true,
            interrupts: None,
            telemetry: None,
            service: None,
        }
    }
}

/// What a run did: the engine's totals plus the session and stream counters.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub trades: u64,
    pub wins: u64,
    pub losses: u64,
    /// Trades closed at exactly zero P&L: `wins + losses + breakeven = trades`.
    pub breakeven: u64,
    pub pnl: Money,
    pub max_drawdown: Money,
    pub open_positions: u32,
    pub logins: u64,
    pub refreshes: u64,
    pub token_errors_recovered: u64,
    pub stream_reconnects: u64,
    pub unknown_outcomes_resolved: u64,
    pub paper_fallback: bool,
    pub paper: bool,
    pub refusals: u64,
    /// Paper margin close-outs: every position closed because equity fell below 50% of the
    /// margin in use (IG's close-out level). Always 0 on a real account (IG closes those).
    pub margin_closeouts: u64,
    /// The refusals by rule (`size_below_minimum`, `halted`, ...), with the first of each.
    pub refusals_by_rule: std::collections::BTreeMap<String, RefusalCount>,
    pub quotes: u64,
    pub halted: Option<String>,
    /// Change of the broker's account balance over the run (the broker's own realised P&L, in
    /// account currency), when the broker reports balances. `pnl` above is the engine's view,
    /// in each instrument's currency.
    pub broker_balance_change: Option<Money>,
    pub duration_s: f64,
    /// Why the run ended: `duration`, `interrupted` (Ctrl-C, SIGTERM, SIGHUP or the kill
    /// switch), `broker failure` or `price stream stopped`.
    pub ended: String,
    /// Seconds from the end of trading to the end of the run (closing positions at the end,
    /// waiting for requests in flight, stopping the stream): why a run can take longer than its
    /// `--duration`.
    pub wind_down_s: f64,
    /// Positions still open when the run ended (`at_end = "leave"`, or closes that did not
    /// complete), each with its broker stop and limit.
    pub positions_left: Vec<PositionLeft>,
    /// The account's currency (as IG reports it), in which P&L and balances are booked.
    pub currency: Option<String>,
    /// The shadow paper comparison (`RunOptions::shadow`): pairs, one-sided trades, P&L live
    /// against paper and the mean slippage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shadow: Option<ShadowSummary>,
    /// Non-zero when the run ended because nothing was left to manage after a broker failure,
    /// or because the price stream stopped.
    #[serde(skip)]
    pub exit_code: u8,
}

/// How often a risk rule refused an entry, and its first refusal.
#[derive(Debug, Clone, Serialize)]
pub struct RefusalCount {
    pub count: u64,
    pub first_at: Timestamp,
    /// The first refusal, as the log says it.
    pub first: String,
}

/// A position left open at the end of a run.
#[derive(Debug, Clone, Serialize)]
pub struct PositionLeft {
    pub trade_id: u64,
    pub deal_id: Option<String>,
    pub epic: String,
    pub direction: &'static str,
    pub size: String,
    pub entry_level: Option<String>,
    pub stop_level: Option<String>,
    pub limit_level: Option<String>,
    pub paper: bool,
}

/// Why the event loop stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// `RunOptions::duration` has passed.
    Deadline,
    /// Ctrl-C (or the kill switch) and nothing left open, or a second press.
    Interrupted,
    /// A broker failure left nothing to manage.
    NothingLeft,
    /// The price stream ended.
    StreamClosed,
}

/// Why `--shadow` and `--paper` cannot go together.
pub const SHADOW_WITH_PAPER: &str = "--shadow compares live dealing with paper on the same quotes; with --paper there is nothing live to compare: drop --paper (to see live vs paper) or --shadow (to trade on paper only)";

/// Logs in, loads the instruments, reconciles the journal, and runs the engine until the
/// deadline, Ctrl-C, or a broker failure leaves nothing to manage.
pub async fn run(
    client: IgClient,
    engine_cfg: EngineConfig,
    epics: Vec<Epic>,
    mut opts: RunOptions,
) -> Result<RunReport, LiveError> {
    let started = Instant::now();
    if opts.shadow && opts.paper {
        return Err(LiveError::Options(SHADOW_WITH_PAPER.into()));
    }
    let mut intr = match opts.interrupts.take() {
        Some(i) => i,
        None => Interrupts::install()?,
    };
    let wall_now = wall_clock_now();
    let start = startup::start(&client, &engine_cfg, &epics, &opts, &mut intr, wall_now).await?;
    let start_balance = start.start_balance;
    let account = start.account.clone();
    let epics = start.epics.clone();
    // Boxed: the session (engine, venue, driver) would make the run's future very large.
    let mut session = Box::new(trading::Session::new(
        client.clone(),
        engine_cfg,
        start,
        &opts,
    )?);
    let ready_ms = started.elapsed().as_millis();
    let restored = session.engine().trades().len();
    tracing::info!(
        ready_ms,
        positions = restored,
        "ready to trade: logged in, markets loaded, journal reconciled"
    );
    eprintln!("ready to trade after {ready_ms} ms (login, markets, reconciliation; {restored} open position(s) taken over)");
    if let Some(s) = &opts.service {
        s.ready();
    }
    let stop = session.trade(&epics, &opts, &mut intr, started).await;
    if let Some(s) = &opts.service {
        s.stopping();
    }
    if let Some(t) = &opts.telemetry {
        t.set_phase(RunPhase::WindingDown);
    }
    let wind_down = Instant::now();
    let trading::Finished {
        counters,
        positions_left,
        shadow,
    } = session.finish(stop, wall_now).await;
    let wind_down_s = wind_down.elapsed().as_secs_f64();
    let (end_balance, currency) = account_balance(&client, account.as_deref()).await;
    let broker_balance_change = match (start_balance, end_balance) {
        (Some(start), Some(end)) => Some(end - start),
        _ => None,
    };
    session.publish_final();
    let stats = client.stats();
    let s = session.engine().summary();
    Ok(RunReport {
        trades: s.trades,
        wins: s.wins,
        losses: s.losses,
        breakeven: s.trades.saturating_sub(s.wins + s.losses),
        pnl: s.pnl,
        max_drawdown: s.max_drawdown,
        open_positions: s.open_positions,
        logins: stats.logins,
        refreshes: stats.refreshes,
        token_errors_recovered: stats.token_errors_recovered,
        stream_reconnects: counters.reconnects,
        unknown_outcomes_resolved: s.unknown_outcomes_resolved,
        paper_fallback: s.paper_fallback,
        paper: opts.paper || s.paper_fallback,
        refusals: s.refusals,
        margin_closeouts: counters.margin_closeouts,
        refusals_by_rule: session.refusals_by_rule(),
        quotes: counters.quotes,
        halted: s.halted.map(|h| h.to_string()),
        broker_balance_change,
        duration_s: started.elapsed().as_secs_f64(),
        ended: match stop {
            Stop::Deadline => "duration",
            Stop::Interrupted => "interrupted",
            Stop::NothingLeft => "broker failure, nothing left to manage",
            Stop::StreamClosed => "price stream stopped",
        }
        .into(),
        wind_down_s,
        positions_left,
        currency,
        shadow,
        exit_code: match stop {
            Stop::NothingLeft | Stop::StreamClosed => 4,
            Stop::Deadline | Stop::Interrupted => 0,
        },
    })
}

/// The account's balance and currency (`GET /accounts`), when IG reports them.
pub(crate) async fn account_balance(
    client: &IgClient,
    account: Option<&str>,
) -> (Option<Money>, Option<String>) {
    let accounts = match client.accounts().await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the account balance; sizing from the configured equity");
            return (None, None);
        }
    };
    let Some(acc) = accounts
        .iter()
        .find(|a| Some(a.account_id.as_str()) == account)
        .or_else(|| accounts.iter().find(|a| a.preferred))
    else {
        return (None, None);
    };
    (
        acc.balance.as_ref().and_then(|b| b.balance),
        acc.currency.clone(),
    )
}

#[allow(clippy::disallowed_methods)] // journal timestamps before the first quote arrives
pub(crate) fn wall_clock_now() -> Timestamp {
    Timestamp::from_datetime(chrono::Utc::now())
}
