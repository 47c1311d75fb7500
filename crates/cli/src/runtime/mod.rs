//! The live runner shared by `scalper run` and `scalper demo`: IG REST session and stream in,
//! one bounded event queue into the deterministic [`Engine`], broker commands out (IG or paper),
//! a one-line status on the console and a summary at the end.

mod brokers;
mod clock;
mod interrupts;
mod journaling;
mod status;
pub mod summary;

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use scalper_engine::Clock as _;
use scalper_engine::{
    Action, BrokerCommand, BrokerEvent, CloseCause, Command, Engine, EngineConfig, EngineEvent,
    EngineInit, EngineSummary, LogLevel, SimBroker, SimConfig,
};
use scalper_ig::stream::{
    PositionUpdate, StreamClient, StreamConfig, StreamEvent, StreamStatus, Subscription,
    UpdateStatus,
};
use scalper_ig::{ConfirmHub, IgBroker, IgClient};
use scalper_model::{DealState, Direction, Epic, Instrument, Money, Quote, Timestamp};
use serde::Serialize;

pub use brokers::ActiveBroker;
pub use clock::QuoteClock;
pub use interrupts::Interrupts;
pub use journaling::JournalSink;

/// How long a dealing call waits for its streamed confirm before polling `/confirms`.
const STREAM_CONFIRM_WAIT: Duration = Duration::from_secs(2);

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Stop after this long (wall time); `None` runs until Ctrl-C.
    pub duration: Option<Duration>,
    /// Trade on paper from the start (fills simulated from the live quotes).
    pub paper: bool,
    /// Print the one-line status to stderr every second.
    pub status_line: bool,
    /// Close every position when the run ends (demo); otherwise positions keep their stops.
    pub close_at_end: bool,
    /// Stream settings (tests shorten the timings).
    pub stream: StreamConfig,
    /// Account equity for sizing when the broker does not report one.
    pub equity: Money,
    /// The trade journal (`None`: no journal, e.g. tests of the runner alone).
    pub journal: Option<PathBuf>,
    /// fsync every journal record (live); `false` is enough against a process crash (demo).
    pub durable_journal: bool,
}

/// What a run did: the engine's totals plus the session and stream counters.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub trades: u64,
    pub wins: u64,
    pub losses: u64,
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
    pub quotes: u64,
    pub halted: Option<String>,
    /// Change of the broker's account balance over the run (the broker's own realised P&L, in
    /// account currency), when the broker reports balances. `pnl` above is the engine's view,
    /// in each instrument's currency.
    pub broker_balance_change: Option<Money>,
    pub duration_s: f64,
    /// Non-zero when the run ended because nothing was left to manage after a broker failure.
    #[serde(skip)]
    pub exit_code: u8,
}

/// Why the loop stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Deadline,
    Interrupted,
    NothingLeft,
    StreamClosed,
}

/// Logs in, loads the instruments, and runs the engine until the deadline, Ctrl-C, or a broker
/// failure leaves nothing to manage.
pub async fn run(
    client: IgClient,
    engine_cfg: EngineConfig,
    epics: Vec<Epic>,
    opts: RunOptions,
) -> anyhow::Result<RunReport> {
    let started = Instant::now();
    let mut intr = Interrupts::install().context("listening for Ctrl-C")?;
    let info = intr
        .or_interrupt("logging in", async {
            client.login().await.map_err(anyhow::Error::new)
        })
        .await?;
    tracing::info!(
        account = ?info.account_id.as_ref().map(ToString::to_string),
        "logged in"
    );
    let mut instruments: Vec<Instrument> = Vec::with_capacity(epics.len());
    for epic in &epics {
        let market = intr
            .or_interrupt("loading market details", async {
                client
                    .market(epic)
                    .await
                    .with_context(|| format!("loading market details of {epic}"))
            })
            .await?;
        tracing::info!(epic = %epic, status = %market.status, min_size = %market.instrument.rules.min_deal_size,
            min_stop = %market.instrument.rules.min_stop_distance, "market loaded");
        instruments.push(market.instrument);
    }
    let wall_now = wall_clock_now();
    let clock = QuoteClock::default();
    clock.observe(wall_now);
    let mut journal = match &opts.journal {
        Some(path) => Some(JournalSink::open(path, opts.durable_journal, opts.paper)?),
        None => None,
    };
    let account = info.account_id.as_ref().map(ToString::to_string);
    let start_balance = intr
        .or_interrupt("reading the balance", async {
            Ok(account_equity(&client, account.clone()).await)
        })
        .await?;
    let equity = start_balance.unwrap_or(opts.equity);
    tracing::info!(%equity, "equity for sizing");
    let mut init = EngineInit {
        equity,
        paper: opts.paper,
        ..EngineInit::default()
    };
    if let Some(j) = journal.as_mut() {
        let report = intr
            .or_interrupt(
                "reconciling with the broker",
                j.reconcile(&client, wall_now),
            )
            .await?;
        if report.is_clean() {
            tracing::info!("reconciliation with the broker: journal and broker agree");
        } else {
            eprintln!("reconciliation with the broker:\n{report}");
            tracing::warn!(report = %report, "reconciliation found differences");
        }
        if report.blocks_trading() {
            anyhow::bail!(
                "reconciliation found a difference that needs an operator (see the report above); no trading until it is resolved"
            );
        }
        let risk = scalper_engine::RiskManager::new(engine_cfg.risk.clone())
            .context("checking the [engine.risk] settings")?;
        let (pnl, trades) = j.day_stats(&risk, wall_now)?;
        init.day_realised_pnl = pnl;
        init.day_trades = trades;
        init.day = Some(risk.session_day(wall_now));
        let (valued, pending) = intr
            .or_interrupt(
                "valuing external closes",
                j.complete_external_closes(&client, &instruments, wall_now),
            )
            .await?;
        if valued + pending > 0 {
            eprintln!("closed at the broker while scalper was not running: {valued} valued from the broker's history, {pending} still pending");
        }
        if valued > 0 {
            // The day's totals include the P&L just read from the broker.
            let (pnl, trades) = j.day_stats(&risk, wall_now)?;
            init.day_realised_pnl = pnl;
            init.day_trades = trades;
        }
        let (positions, unmanaged) = j.positions_to_manage(&instruments, wall_now)?;
        for p in &positions {
            tracing::info!(deal_id = %p.deal_id, epic = %p.epic, direction = %p.direction.as_str(), size = %p.size,
                adopted = p.adopted, "open position taken over at start");
        }
        if !positions.is_empty() {
            eprintln!(
                "managing {} position(s) open at the broker: {}",
                positions.len(),
                positions
                    .iter()
                    .map(|p| format!(
                        "{} {} {} {}{}",
                        p.deal_id,
                        p.epic,
                        p.direction.as_str(),
                        p.size,
                        if p.adopted { " (adopted)" } else { "" }
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        for u in &unmanaged {
            eprintln!("warning: not managed by this run, left with its broker stop: {u}");
            tracing::warn!(position = %u, "open position not managed by this run; it keeps its broker stop");
        }
        init.positions = positions;
        j.event(
            wall_now,
            &scalper_journal::SystemEvent::EngineStart {
                mode: if opts.paper { "paper" } else { "live" }.into(),
            },
        );
        j.session_events(&client.stats(), wall_now);
    }
    let restored = init.positions.len();
    let mut engine = Engine::new(engine_cfg.clone(), instruments.clone(), init)
        .context("building the engine")?;
    let ready_ms = started.elapsed().as_millis();
    tracing::info!(
        ready_ms,
        positions = restored,
        "ready to trade: logged in, markets loaded, journal reconciled"
    );
    eprintln!("ready to trade after {ready_ms} ms (login, markets, reconciliation; {restored} open position(s) taken over)");
    let mut last_quotes: HashMap<Epic, Quote> = HashMap::new();
    let paper_broker = || SimBroker::new(SimConfig::default(), instruments.clone());
    let mut broker = if opts.paper {
        tracing::warn!("PAPER trading: fills are simulated from live quotes");
        ActiveBroker::Paper(Box::new(paper_broker()))
    } else {
        ActiveBroker::Ig(IgBroker::new(client.clone(), Arc::new(clock.clone())))
    };

    let mut subs: Vec<Subscription> = epics.iter().cloned().map(Subscription::Price).collect();
    subs.push(Subscription::Trade);
    let (stream, mut rx) = StreamClient::start(opts.stream.clone(), Arc::new(client.clone()), subs);
    // Deal confirms come from the TRADE stream first (REST `/confirms` is the fallback). A task
    // reads the stream's events so that confirms arrive while the loop below waits for a deal.
    let hub = ConfirmHub::default();
    client.use_stream_confirms(hub.clone(), STREAM_CONFIRM_WAIT);
    let (events_tx, mut events) = tokio::sync::mpsc::channel::<StreamEvent>(4096);
    let mut stream_events = std::mem::replace(&mut rx.events, tokio::sync::mpsc::channel(1).1);
    let forwarder = tokio::spawn(async move {
        while let Some(ev) = stream_events.recv().await {
            if let StreamEvent::Confirm(c) = &ev {
                if let Some(c) = c.to_confirmation() {
                    hub.deliver(c);
                }
            }
            if events_tx.send(ev).await.is_err() {
                break;
            }
        }
    });

    let deadline = opts.duration.map(|d| started + d);
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut status = status::StatusLine::new(opts.status_line);
    let mut last_quote_ts = Timestamp::from_millis(0);
    let mut last_quote_wall = Instant::now();
    let mut quotes = 0u64;
    let mut reconnects = 0u64;
    let mut interrupted = false;

    // Reused every iteration (drained to empty each time): no allocation per quote.
    let mut queue: VecDeque<EngineEvent> = VecDeque::with_capacity(16);
    let stop = loop {
        let sleep_until = deadline.map_or_else(
            || tokio::time::Instant::now() + Duration::from_secs(3600),
            tokio::time::Instant::from_std,
        );
        tokio::select! {
            biased;
            n = intr.next() => {
                if n >= 2 || interrupted {
                    // A second Ctrl-C ends the run at once (positions keep their broker stops).
                    tracing::warn!("second Ctrl-C: stopping now; open positions keep their stops");
                    break Stop::Interrupted;
                }
                interrupted = true;
                tracing::warn!("kill switch: Ctrl-C received, no new entries");
                queue.push_back(EngineEvent::Command(Command::Halt { close_positions: None }));
            }
            () = tokio::time::sleep_until(sleep_until), if deadline.is_some() => break Stop::Deadline,
            ev = events.recv() => {
                let Some(ev) = ev else { break Stop::StreamClosed };
                if let StreamEvent::Status(StreamStatus::Gap { .. }) = &ev {
                    reconnects += 1;
                }
                if let (StreamEvent::Status(st), Some(j)) = (&ev, journal.as_mut()) {
                    let gap_ms = i64::try_from(last_quote_wall.elapsed().as_millis()).unwrap_or(i64::MAX);
                    j.stream_status(st, gap_ms, clock.now());
                }
                log_stream_event(&ev);
                if let Some(e) = ev.engine_event() {
                    queue.push_back(e);
                }
                if let StreamEvent::Position(p) = &ev {
                    if let Some(mut e) = broker_side_close(&engine, &broker, &last_quotes, &clock, p) {
                        exact_close_level(&client, &engine, &mut e).await;
                        queue.push_back(EngineEvent::Broker(e));
                    }
                }
            }
            q = rx.quotes.recv() => {
                let Some(q) = q else { break Stop::StreamClosed };
                quotes += 1;
                status.quote();
                last_quote_ts = last_quote_ts.max(q.ts);
                clock.observe(q.ts);
                match last_quotes.get_mut(&q.epic) {
                    Some(slot) => slot.clone_from(&q),
                    None => {
                        last_quotes.insert(q.epic.clone(), q.clone());
                    }
                }
                last_quote_wall = Instant::now();
                for e in broker.on_quote(&q) {
                    queue.push_back(EngineEvent::Broker(e));
                }
                queue.push_back(EngineEvent::Quote(q));
            }
            _ = ticker.tick() => {
                let elapsed = i64::try_from(last_quote_wall.elapsed().as_millis()).unwrap_or(i64::MAX);
                if last_quote_ts.millis() > 0 {
                    queue.push_back(EngineEvent::Timer(last_quote_ts.plus_millis(elapsed)));
                }
                let stats = client.stats();
                if let Some(j) = journal.as_mut() {
                    j.session_events(&stats, clock.now());
                }
                status.print(&engine.summary(), &stats, &broker);
            }
        }
        if let Some(stop) = drain(
            &mut engine,
            &mut broker,
            &mut queue,
            &paper_broker,
            &mut journal,
            &clock,
        )
        .await
        {
            break stop;
        }
        if interrupted && engine.summary().open_positions == 0 && engine.trades().is_empty() {
            break Stop::Interrupted;
        }
    };
    status.finish();

    let mut exit_code = 0u8;
    if stop == Stop::NothingLeft {
        exit_code = 4;
    }
    if matches!(stop, Stop::Deadline | Stop::Interrupted) && opts.close_at_end {
        close_everything(
            &mut engine,
            &mut broker,
            &mut rx,
            &paper_broker,
            &mut journal,
            &clock,
        )
        .await;
    }
    if stop == Stop::StreamClosed {
        tracing::error!("the price stream stopped");
        exit_code = 4;
    }
    forwarder.abort();
    if tokio::time::timeout(Duration::from_secs(5), stream.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("the stream did not stop within 5 s; abandoning it");
    }
    if let Some(j) = journal.as_mut() {
        j.event(
            clock.now().max(wall_now),
            &scalper_journal::SystemEvent::EngineStop {
                reason: format!("{stop:?}"),
            },
        );
    }
    let broker_balance_change = match (start_balance, account_equity(&client, account).await) {
        (Some(start), Some(end)) => Some(end - start),
        _ => None,
    };
    let stats = client.stats();
    let s: EngineSummary = engine.summary();
    Ok(RunReport {
        trades: s.trades,
        wins: s.wins,
        losses: s.losses,
        pnl: s.pnl,
        max_drawdown: s.max_drawdown,
        open_positions: s.open_positions,
        logins: stats.logins,
        refreshes: stats.refreshes,
        token_errors_recovered: stats.token_errors_recovered,
        stream_reconnects: reconnects,
        unknown_outcomes_resolved: s.unknown_outcomes_resolved,
        paper_fallback: s.paper_fallback,
        paper: opts.paper || s.paper_fallback,
        refusals: s.refusals,
        quotes,
        halted: s.halted.map(|h| h.to_string()),
        broker_balance_change,
        duration_s: started.elapsed().as_secs_f64(),
        exit_code,
    })
}

/// Processes queued events until the queue is empty, executing broker commands as they come.
/// Every opening request is journaled before it is sent; a journal failure halts new entries
/// (the command is not sent) rather than trading without a record.
async fn drain(
    engine: &mut Engine,
    broker: &mut ActiveBroker,
    queue: &mut VecDeque<EngineEvent>,
    paper_broker: &impl Fn() -> SimBroker,
    journal: &mut Option<JournalSink>,
    clock: &QuoteClock,
) -> Option<Stop> {
    let mut stop = None;
    while let Some(event) = queue.pop_front() {
        if let (Some(j), EngineEvent::Broker(ev)) = (journal.as_mut(), &event) {
            if let Err(e) = j.on_broker_event(ev, engine, clock.now()) {
                journal_failed(&e, queue);
            }
        }
        for action in engine.process(event) {
            if let Some(j) = journal.as_mut() {
                if let Err(e) = j.on_action(&action, engine, clock.now()) {
                    journal_failed(&e, queue);
                }
            }
            match action {
                Action::Broker(cmd) => {
                    if let Some(j) = journal.as_mut() {
                        if let Err(e) = j.before_command(&cmd, engine, clock.now()) {
                            tracing::error!(error = %format!("{e:#}"), ?cmd, "NOT SENT: the request could not be journaled first");
                            journal_failed(&e, queue);
                            if let BrokerCommand::Open(o) = &cmd {
                                queue.push_back(EngineEvent::Broker(BrokerEvent::Rejected {
                                    deal_ref: o.deal_ref.clone(),
                                    reason: "not sent: journal write failed".into(),
                                }));
                            }
                            continue;
                        }
                    }
                    tracing::debug!(?cmd, "broker command");
                    for e in broker.execute(cmd).await {
                        queue.push_back(EngineEvent::Broker(e));
                    }
                }
                Action::PaperFallback { detail } => {
                    tracing::error!(detail = %detail, "BROKER FAILED: switching to PAPER trading as configured (on_broker_failure = \"paper\"); every further trade is simulated");
                    *broker = ActiveBroker::Paper(Box::new(paper_broker()));
                }
                Action::NothingLeftToManage { reason } => {
                    tracing::error!(%reason, "broker failure and nothing left to manage: stopping");
                    stop = Some(Stop::NothingLeft);
                }
                other => log_action(&other),
            }
        }
    }
    stop
}

/// A journal write failed: stop new entries (positions keep their stops).
fn journal_failed(e: &anyhow::Error, queue: &mut VecDeque<EngineEvent>) {
    tracing::error!(error = %format!("{e:#}"), "JOURNAL WRITE FAILED: halting new entries");
    queue.push_back(EngineEvent::Command(Command::Halt {
        close_positions: Some(false),
    }));
}

/// The account's balance (`GET /accounts`), when IG reports one for the session's account.
async fn account_equity(client: &IgClient, account: Option<String>) -> Option<Money> {
    let accounts = match client.accounts().await {
        Ok(a) => a.accounts,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the account balance; sizing from the configured equity");
            return None;
        }
    };
    let acc = accounts
        .iter()
        .find(|a| Some(&a.account_id) == account.as_ref())
        .or_else(|| accounts.iter().find(|a| a.preferred == Some(true)))?;
    acc.balance.as_ref()?.balance.map(Money::new)
}

#[allow(clippy::disallowed_methods)] // journal timestamps before the first quote arrives
fn wall_clock_now() -> Timestamp {
    Timestamp::from_datetime(chrono::Utc::now())
}

/// Asks the engine to close everything, then waits (bounded) for the closes to be confirmed.
async fn close_everything(
    engine: &mut Engine,
    broker: &mut ActiveBroker,
    rx: &mut scalper_ig::stream::StreamReceivers,
    paper_broker: &impl Fn() -> SimBroker,
    journal: &mut Option<JournalSink>,
    clock: &QuoteClock,
) {
    let mut queue = VecDeque::from([EngineEvent::Command(Command::CloseAll)]);
    drain(engine, broker, &mut queue, paper_broker, journal, clock).await;
    let until = tokio::time::Instant::now() + Duration::from_secs(15);
    while !engine.trades().is_empty() {
        let q = tokio::select! {
            q = rx.quotes.recv() => q,
            () = tokio::time::sleep_until(until) => None,
        };
        let Some(q) = q else { break };
        for e in broker.on_quote(&q) {
            queue.push_back(EngineEvent::Broker(e));
        }
        queue.push_back(EngineEvent::Quote(q));
        drain(engine, broker, &mut queue, paper_broker, journal, clock).await;
    }
    if !engine.trades().is_empty() {
        tracing::warn!(
            open = engine.trades().len(),
            "positions still open at the end; they keep their stops"
        );
    }
}

/// An OPU `DELETED` for a position the engine holds open (not one it is closing itself): the
/// broker closed it (stop, limit or manually). The exit level is the triggered level when the
/// last quote crossed it, else the last quote's closing side.
fn broker_side_close(
    engine: &Engine,
    broker: &ActiveBroker,
    last_quotes: &HashMap<Epic, Quote>,
    clock: &QuoteClock,
    p: &PositionUpdate,
) -> Option<BrokerEvent> {
    if p.status != UpdateStatus::Deleted || broker.is_paper() {
        return None;
    }
    let trade = engine
        .trades()
        .iter()
        .find(|t| t.deal_id.as_ref() == Some(&p.deal_id) && t.state == DealState::Open)?;
    let quote: Option<&Quote> = last_quotes.get(&trade.epic);
    let exit_side = quote.map(|q| match trade.direction {
        Direction::Buy => q.bid,
        Direction::Sell => q.offer,
    });
    // IG fills a triggered stop or limit at the market: value the close at the last quote's
    // closing side, and name the cause by which level that quote crossed.
    let (cause, level) = match (trade.direction, exit_side) {
        (Direction::Buy, Some(px)) if trade.stop_level.is_some_and(|s| px <= s) => {
            (CloseCause::Stop, px)
        }
        (Direction::Sell, Some(px)) if trade.stop_level.is_some_and(|s| px >= s) => {
            (CloseCause::Stop, px)
        }
        (Direction::Buy, Some(px)) if trade.limit_level.is_some_and(|l| px >= l) => {
            (CloseCause::Limit, px)
        }
        (Direction::Sell, Some(px)) if trade.limit_level.is_some_and(|l| px <= l) => {
            (CloseCause::Limit, px)
        }
        (_, Some(px)) => (CloseCause::Manual, px),
        (_, None) => (CloseCause::Manual, p.level.or(trade.entry_level)?),
    };
    Some(BrokerEvent::PositionClosed {
        deal_id: p.deal_id.clone(),
        level,
        pnl: None,
        cause,
        at: scalper_engine::Clock::now(clock),
    })
}

/// Replaces the estimated exit level of a broker-side close with the level IG recorded for
/// the closing deal (`/history/activity?dealId=`), so the engine's P&L is the broker's. Keeps
/// the estimate when the history does not say.
async fn exact_close_level(client: &IgClient, engine: &Engine, ev: &mut BrokerEvent) {
    let BrokerEvent::PositionClosed { deal_id, level, .. } = ev else {
        return;
    };
    let Some(trade) = engine
        .trades()
        .iter()
        .find(|t| t.deal_id.as_ref() == Some(deal_id))
    else {
        return;
    };
    if let Some((exact, _)) = journaling::broker_close(client, deal_id, trade.direction).await {
        *level = exact;
    } else {
        tracing::warn!(deal_id = %deal_id, "the close level is not in the activity history; using the last quote");
    }
}

fn log_stream_event(ev: &StreamEvent) {
    match ev {
        StreamEvent::Status(StreamStatus::Gap { reason, .. }) => {
            tracing::warn!(reason = %reason, "stream gap: quotes may be stale until fresh ones arrive");
        }
        StreamEvent::Status(StreamStatus::Connected { rebound, .. }) => {
            tracing::info!(rebound, "stream connected");
        }
        StreamEvent::Status(StreamStatus::SessionRefused { code, message }) => {
            tracing::warn!(code, message = %message, "stream session refused");
        }
        StreamEvent::SubscriptionRefused {
            subscription,
            code,
            message,
        } => {
            tracing::error!(?subscription, code, message = %message, "subscription refused");
        }
        StreamEvent::Confirm(c) => {
            tracing::debug!(deal_ref = ?c.deal_reference.as_ref().map(ToString::to_string), status = ?c.deal_status, "stream confirm");
        }
        StreamEvent::Position(p) => {
            tracing::debug!(deal_id = %p.deal_id, status = ?p.status, "stream position update");
        }
        _ => {}
    }
}

fn log_action(action: &Action) {
    match action {
        Action::Refused {
            epic,
            direction,
            reason,
        } => {
            tracing::info!(epic = %epic, ?direction, reason = ?reason, "entry refused by risk");
        }
        Action::TradeOpened(t) => tracing::info!(trade = ?t, "trade opened"),
        Action::TradeClosed(t) => tracing::info!(trade = ?t, "trade closed"),
        Action::Log {
            level,
            epic,
            message,
        } => {
            let epic = epic.as_ref().map(ToString::to_string).unwrap_or_default();
            match level {
                LogLevel::Error => tracing::error!(epic = %epic, "{message}"),
                LogLevel::Warn => tracing::warn!(epic = %epic, "{message}"),
                LogLevel::Info => tracing::info!(epic = %epic, "{message}"),
            }
        }
        Action::Halted { reason } => tracing::warn!(reason = %reason, "new entries halted"),
        Action::Resumed { reason } => tracing::info!(reason = %reason, "trading resumed"),
        Action::Broker(_) | Action::PaperFallback { .. } | Action::NothingLeftToManage { .. } => {}
    }
}
