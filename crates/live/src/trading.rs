//! The trading stage: one event loop over Ctrl-C, the deadline, the execution task's replies,
//! the stream's events and quotes, and a one-second timer. Every event goes through the
//! engine's ordering driver with the [`LiveVenue`]; nothing on the loop waits for a dealing
//! request.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use scalper_engine::{
    Action, AtEnd, BrokerEvent, Clock as _, CloseCause, Command, Driver, Engine, EngineConfig,
    EngineEvent, LogLevel, SimConfig,
};
use scalper_ig::stream::{StreamClient, StreamEvent, StreamReceivers, StreamStatus, Subscription};
use scalper_ig::{ConfirmHub, IgBroker, IgClient};
use scalper_model::{DealState, Epic, Quote, Timestamp};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::clock::QuoteClock;
use crate::execution::Execution;
use crate::interrupts::Interrupts;
use crate::journaling::JournalFailures;
use crate::publishing::{LoopView, Publisher};
use crate::shadow::{Seen, ShadowFeed};
use crate::startup::Started;
use crate::status::StatusLine;
use crate::telemetry::{
    notes, ControlAction, ControlReply, ControlRequest, RunPhase, ServiceNotify,
};
use crate::venue::{LiveVenue, VenueStop};
use crate::{LiveError, RunOptions, Stop};

/// How long a dealing call waits for its streamed confirm before polling `/confirms`.
const STREAM_CONFIRM_WAIT: Duration = Duration::from_secs(2);
/// The shortest time between two reads of one market's details after status changes.
const MARKET_REFRESH_MIN: Duration = Duration::from_secs(10);
/// How long the end of a run waits for closes and requests in flight.
const WIND_DOWN: Duration = Duration::from_secs(15);

/// Counters the report needs from the loop.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoopCounters {
    pub quotes: u64,
    pub reconnects: u64,
    /// Paper margin close-outs (equity below 50% of the margin used).
    pub margin_closeouts: u64,
}

/// What the end of a run leaves for its report.
#[derive(Debug, Clone)]
pub struct Finished {
    pub counters: LoopCounters,
    /// The positions still held after the wind-down (each also logged at WARN).
    pub positions_left: Vec<crate::PositionLeft>,
    /// The shadow paper comparison's totals (`RunOptions::shadow`).
    pub shadow: Option<crate::ShadowSummary>,
}

/// The stream's receivers while trading.
struct Streams {
    client: StreamClient,
    rx: StreamReceivers,
    events: mpsc::Receiver<StreamEvent>,
    forwarder: JoinHandle<()>,
}

/// The engine, its venue and driver, and the loop's state.
pub struct Session {
    client: IgClient,
    engine: Engine,
    venue: LiveVenue,
    driver: Driver,
    actions: Vec<Action>,
    clock: QuoteClock,
    last_quotes: HashMap<Epic, Quote>,
    counters: LoopCounters,
    at_end: AtEnd,
    reconcile_every: Duration,
    /// How often every market's dealing rules and status are read again.
    refresh_every: Duration,
    /// When each market was last asked for again (a status change asks at most every 10 s).
    refreshed: HashMap<Epic, Instant>,
    reported_unknown: std::collections::HashSet<String>,
    refusals: std::collections::BTreeMap<String, crate::RefusalCount>,
    streams: Option<Streams>,
    journal_failures: JournalFailures,
    /// Status snapshots and latencies for observers (`RunOptions::telemetry`).
    publisher: Option<Publisher>,
    /// Operators' control requests (`RunOptions::telemetry`).
    control: Option<mpsc::Receiver<ControlRequest>>,
    service: Option<Arc<dyn ServiceNotify>>,
    /// Wall clock (epoch ms) when the event loop's one-second timer started: a replay sends
    /// its timer events at the same instants.
    timer_started_wall_ms: Option<i64>,
    /// The shadow paper engine's feed (`RunOptions::shadow`).
    shadow: Option<ShadowFeed>,
    /// Positions IG showed smaller, whose part closed is being valued from IG's history.
    reducing_at_broker: std::collections::HashSet<scalper_model::DealId>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("venue", &self.venue)
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Builds the engine from start-up's state and the venue (IG through the execution task,
    /// or paper).
    pub fn new(
        client: IgClient,
        engine_cfg: EngineConfig,
        mut start: Started,
        opts: &RunOptions,
    ) -> Result<Self, LiveError> {
        let clock = QuoteClock::default();
        let at_end = engine_cfg.at_end;
        let reconcile_ms = engine_cfg.reconcile_interval_ms;
        let refresh_ms = engine_cfg.market_refresh_ms;
        // From here on no SQLite transaction runs on the event loop.
        let journal_failures = match start.journal.as_mut() {
            Some(j) => j.start_writer(opts.telemetry.as_ref().map(|t| t.journal_write.clone()))?,
            None => JournalFailures::default(),
        };
        let publisher = opts.telemetry.clone().map(|t| {
            let mut p = Publisher::new(
                t,
                &start.instruments,
                start.currency.clone(),
                std::mem::take(&mut start.day_curve),
            );
            for note in std::mem::take(&mut start.notes) {
                p.note(note);
            }
            p
        });
        let control = opts
            .telemetry
            .as_ref()
            .and_then(crate::Telemetry::take_control);
        let shadow = if opts.shadow {
            if opts.paper {
                return Err(LiveError::Options(crate::SHADOW_WITH_PAPER.into()));
            }
            Some(ShadowFeed::start(
                engine_cfg.clone(),
                &start.instruments,
                start.init.clone(),
                opts.telemetry.as_ref().map(|t| t.shadow.clone()),
            )?)
        } else {
            None
        };
        let engine =
            Engine::new(engine_cfg, start.instruments.clone(), start.init).map_err(|e| {
                LiveError::Engine {
                    context: "building the engine".into(),
                    detail: e.to_string(),
                }
            })?;
        let hours = std::mem::take(&mut start.hours);
        let venue = if opts.paper {
            tracing::warn!("PAPER trading: fills are simulated from live quotes");
            LiveVenue::paper(
                SimConfig::default(),
                start.journal,
                clock.clone(),
                start.instruments,
            )
        } else {
            let broker = IgBroker::new(client.clone(), Arc::new(clock.clone()));
            LiveVenue::ig(
                Execution::start(broker),
                start.journal,
                clock.clone(),
                start.instruments,
            )
        };
        let mut session = Self {
            client,
            engine,
            venue,
            driver: Driver::new(),
            actions: Vec::with_capacity(16),
            clock,
            last_quotes: HashMap::new(),
            counters: LoopCounters::default(),
            at_end,
            reported_unknown: std::collections::HashSet::new(),
            refusals: std::collections::BTreeMap::new(),
            reconcile_every: Duration::from_millis(
                u64::try_from(reconcile_ms).unwrap_or(60_000).max(1000),
            ),
            refresh_every: Duration::from_millis(
                u64::try_from(refresh_ms).unwrap_or(300_000).max(10_000),
            ),
            refreshed: HashMap::new(),
            streams: None,
            journal_failures,
            publisher,
            control,
            service: opts.service.clone(),
            timer_started_wall_ms: None,
            shadow,
            reducing_at_broker: std::collections::HashSet::new(),
        };
        let at = crate::wall_clock_now();
        for (epic, times) in hours {
            session.feed(EngineEvent::TradingHours { epic, times, at });
        }
        Ok(session)
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The positions the engine still holds (or is still opening or closing).
    fn positions_left(&self) -> Vec<crate::PositionLeft> {
        self.engine
            .trades()
            .iter()
            .map(|t| crate::PositionLeft {
                trade_id: t.trade_id,
                deal_id: t.deal_id.as_ref().map(ToString::to_string),
                epic: t.epic.to_string(),
                direction: t.direction.as_str(),
                size: t.size.to_string(),
                entry_level: t.entry_level.map(|p| p.to_string()),
                stop_level: t.stop_level.map(|p| p.to_string()),
                limit_level: t.limit_level.map(|p| p.to_string()),
                paper: t.paper,
            })
            .collect()
    }

    /// Drives a quote through the engine (and, paper, IG's margin close-out: see
    /// [`LiveVenue::drive_quote`]) and logs what it did.
    fn feed_quote(&mut self, q: Quote) {
        let timed = self.publisher.as_ref().map(|_| Instant::now());
        let copy = self.shadow.as_ref().map(|_| q.clone());
        self.venue
            .drive_quote(&mut self.driver, &mut self.engine, q, &mut self.actions);
        // After the step: live's orders are already with the execution task.
        if let (Some(s), Some(q)) = (self.shadow.as_mut(), copy) {
            s.quote(q, &self.actions);
        }
        self.take_actions(timed);
    }

    /// Drives one event through the engine and logs what it did.
    fn feed(&mut self, event: EngineEvent) {
        let timed = self.publisher.as_ref().map(|_| Instant::now());
        let seen = self.shadow.as_ref().map(|_| Seen::of(&event));
        self.driver
            .step(&mut self.engine, &mut self.venue, event, &mut self.actions);
        if let (Some(s), Some(seen)) = (self.shadow.as_mut(), seen) {
            s.event(seen, &self.actions);
        }
        self.take_actions(timed);
    }

    /// Publishes the last step's decision time and actions (when observed), counts refusals
    /// and logs the actions.
    fn take_actions(&mut self, timed: Option<Instant>) {
        if let (Some(p), Some(t)) = (self.publisher.as_mut(), timed) {
            p.decision(t.elapsed());
            let now = self.clock.now();
            for a in &self.actions {
                p.action(a, now);
            }
        }
        for a in self.actions.drain(..) {
            if let Action::Refused { reason, .. } = &a {
                let now = self.clock.now();
                self.refusals
                    .entry(reason.rule().to_string())
                    .and_modify(|r| r.count += 1)
                    .or_insert_with(|| crate::RefusalCount {
                        count: 1,
                        first_at: now,
                        first: reason.to_string(),
                    });
            }
            log_action(&a);
        }
    }

    /// Entries refused by risk, by rule, with the first of each.
    pub fn refusals_by_rule(&self) -> std::collections::BTreeMap<String, crate::RefusalCount> {
        self.refusals.clone()
    }

    /// Starts the stream and trades until a stop condition.
    pub async fn trade(
        &mut self,
        epics: &[Epic],
        opts: &RunOptions,
        intr: &mut Interrupts,
        started: Instant,
    ) -> Stop {
        self.clock.seed(crate::wall_clock_now());
        let mut streams = self.start_stream(epics, opts);
        let stop = self.event_loop(&mut streams, opts, intr, started).await;
        self.streams = Some(streams);
        stop
    }

    fn start_stream(&self, epics: &[Epic], opts: &RunOptions) -> Streams {
        let mut subs: Vec<Subscription> = epics.iter().cloned().map(Subscription::Price).collect();
        subs.push(Subscription::Trade);
        if !self.venue.is_paper() {
            // Funds, margin and what the account can still deal: the margin rule's live input.
            subs.push(Subscription::Account);
        }
        let (client, mut rx) =
            StreamClient::start(opts.stream.clone(), Arc::new(self.client.clone()), subs);
        // Deal confirms come from the TRADE stream first (REST `/confirms` is the fallback): a
        // task hands them to the dealing calls in flight as they arrive.
        let hub = ConfirmHub::default();
        self.client
            .use_stream_confirms(hub.clone(), STREAM_CONFIRM_WAIT);
        let (events_tx, events) = mpsc::channel::<StreamEvent>(4096);
        let mut stream_events = std::mem::replace(&mut rx.events, mpsc::channel(1).1);
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
        Streams {
            client,
            rx,
            events,
            forwarder,
        }
    }

    async fn event_loop(
        &mut self,
        streams: &mut Streams,
        opts: &RunOptions,
        intr: &mut Interrupts,
        started: Instant,
    ) -> Stop {
        let deadline = opts.duration.map(|d| started + d);
        let mut ticker = tokio::time::interval(Duration::from_secs(1));
        self.timer_started_wall_ms = Some(crate::wall_clock_now().millis());
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut status = StatusLine::new(opts.status_line);
        let mut last_quote_ts = Timestamp::from_millis(0);
        let mut last_quote_wall = Instant::now();
        let mut interrupted = false;
        let reconcile_every = self.reconcile_every;
        let mut next_reconcile = Instant::now() + reconcile_every;
        let mut next_refresh = Instant::now() + self.refresh_every;
        let mut reconciled_after = 0u64;
        let stop = loop {
            let sleep_until = deadline.map_or_else(
                || tokio::time::Instant::now() + Duration::from_secs(3600),
                tokio::time::Instant::from_std,
            );
            tokio::select! {
                biased;
                n = intr.next() => {
                    if n >= 2 || interrupted {
                        // A second press ends the run at once (positions keep their broker stops).
                        tracing::warn!("second interrupt: stopping now; open positions keep their stops");
                        break Stop::Interrupted;
                    }
                    interrupted = true;
                    tracing::warn!("kill switch: no new entries; open positions are closed before the run ends (press again to stop at once)");
                    self.feed(EngineEvent::Command(Command::Halt { close_positions: None }));
                }
                () = tokio::time::sleep_until(sleep_until), if deadline.is_some() => break Stop::Deadline,
                req = next_control(&mut self.control) => self.on_control(req),
                failure = self.journal_failures.next() => {
                    tracing::error!(failure = %failure, "JOURNAL WRITE FAILED: halting new entries (positions keep their stops)");
                    let now = self.clock.now();
                    if let Some(p) = self.publisher.as_mut() {
                        p.error(now, format!("{}{failure}", notes::JOURNAL_FAILED));
                    }
                    self.feed(EngineEvent::Command(Command::Halt { close_positions: Some(false) }));
                }
                done = self.venue.next_completed() => self.on_completed(done),
                ev = streams.events.recv() => {
                    let Some(ev) = ev else { break Stop::StreamClosed };
                    if let StreamEvent::Status(StreamStatus::Connected { .. }) = &ev {
                        if self.counters.reconnects > reconciled_after {
                            // Whatever the broker did during the gap, the stream did not say.
                            reconciled_after = self.counters.reconnects;
                            self.reconcile("stream reconnected");
                            next_reconcile = Instant::now() + reconcile_every;
                        }
                    }
                    self.on_stream_event(&ev, last_quote_wall);
                }
                q = streams.rx.quotes.recv() => {
                    let Some(q) = q else { break Stop::StreamClosed };
                    self.counters.quotes += 1;
                    status.quote();
                    if let Some(p) = self.publisher.as_mut() {
                        p.quote(&q);
                    }
                    last_quote_ts = last_quote_ts.max(q.ts);
                    self.clock.observe(q.ts);
                    match self.last_quotes.get_mut(&q.epic) {
                        Some(slot) => slot.clone_from(&q),
                        None => {
                            self.last_quotes.insert(q.epic.clone(), q.clone());
                        }
                    }
                    last_quote_wall = Instant::now();
                    self.feed_quote(q);
                }
                _ = ticker.tick() => {
                    if Instant::now() >= next_reconcile {
                        self.reconcile("interval");
                        next_reconcile = Instant::now() + reconcile_every;
                    }
                    if Instant::now() >= next_refresh {
                        let all = self.engine.epics().cloned().collect();
                        self.refresh_markets(all);
                        next_refresh = Instant::now() + self.refresh_every;
                    }
                    let elapsed = i64::try_from(last_quote_wall.elapsed().as_millis()).unwrap_or(i64::MAX);
                    if last_quote_ts.millis() > 0 {
                        self.feed(EngineEvent::Timer(last_quote_ts.plus_millis(elapsed)));
                    }
                    let stats = self.client.stats();
                    let now = self.clock.now();
                    if let Some(j) = self.venue.journal_mut() {
                        j.session_events(&stats, now);
                    }
                    self.journal_shadow();
                    status.print(&self.engine.summary(), &stats, self.venue.is_paper());
                    if let Some(s) = &self.service {
                        s.alive();
                    }
                    self.publish(RunPhase::Trading, true);
                }
            }
            self.publish(RunPhase::Trading, false);
            if self.venue.stop() == Some(VenueStop::NothingLeft) {
                break Stop::NothingLeft;
            }
            if interrupted && self.engine.trades().is_empty() && self.venue.outstanding() == 0 {
                break Stop::Interrupted;
            }
        };
        status.finish();
        stop
    }

    /// Publishes a status snapshot when one is due (or `force`d).
    fn publish(&mut self, phase: RunPhase, force: bool) {
        let Some(p) = self.publisher.as_mut() else {
            return;
        };
        if !force && !p.due() {
            return;
        }
        let stats = self.client.stats();
        let view = LoopView {
            engine: &self.engine,
            stats: &stats,
            headroom: self.client.allowance_headroom(),
            orders: self.venue.tally(),
            refusals: &self.refusals,
            quotes: self.counters.quotes,
            reconnects: self.counters.reconnects,
            paper: self.venue.is_paper(),
            now: self.clock.now(),
        };
        p.publish(phase, &view);
    }

    /// The run is over: the last snapshot says so.
    pub fn publish_final(&mut self) {
        self.publish(RunPhase::Stopped, true);
    }

    /// An operator's control action: logged and journaled with its source, driven through
    /// the engine, answered with the state after it.
    fn on_control(&mut self, req: ControlRequest) {
        let ControlRequest {
            action,
            source,
            reply,
        } = req;
        tracing::warn!(action = action.as_str(), source = %source, "control action");
        let command = match action {
            ControlAction::Halt => Command::Halt {
                close_positions: Some(false),
            },
            ControlAction::Flatten => Command::Halt {
                close_positions: Some(true),
            },
            ControlAction::Resume => Command::Resume,
        };
        self.feed(EngineEvent::Command(command));
        let halted = self.engine.halted().map(|h| h.to_string());
        let now = self.clock.now();
        if let Some(j) = self.venue.journal_mut() {
            j.event(
                now,
                &scalper_journal::SystemEvent::Control {
                    action: action.as_str().into(),
                    source,
                    halted_after: halted.clone(),
                },
            );
        }
        self.publish(RunPhase::Trading, true);
        // The caller may have given up waiting; the action stands either way.
        let _ = reply.send(ControlReply {
            action,
            halted,
            open_positions: self.engine.open_positions(),
        });
    }

    /// A job of the execution task is done: IG's close reasons go to the journal, then the
    /// events to the engine. A close valued from IG's history is booked only while the engine
    /// still holds the position open (it may have been booked meanwhile by another report).
    fn on_completed(&mut self, done: crate::execution::Completed) {
        let valued: Vec<_> = done.close_reasons.iter().map(|(d, _)| d.clone()).collect();
        if let Some(j) = self.venue.journal_mut() {
            for (deal_id, reason) in done.close_reasons {
                j.note_close_reason(deal_id, reason);
            }
            if let Some(t) = done.timing {
                // The record is for the trader's reports; trading does not depend on it.
                if let Err(e) = j.on_timing(*t, self.clock.now()) {
                    tracing::warn!(error = %e, "the execution timing was not journaled");
                }
            }
        }
        let mut booked = 0u32;
        let from_reconciliation = done.reconciled.is_some();
        for mut ev in done.events {
            if let BrokerEvent::PartiallyClosed { deal_id, .. } = &ev {
                self.reducing_at_broker.remove(deal_id);
            }
            if let BrokerEvent::PositionClosed {
                deal_id,
                level,
                cause,
                ..
            } = &mut ev
            {
                if !valued.contains(deal_id) && *cause == CloseCause::Manual {
                    // Our close found the position already gone (POSITION_NOT_FOUND) and was
                    // valued at IG's recorded level: IG's stop or limit fired first.
                    self.name_race_cause(deal_id, *level, cause);
                }
                if valued.contains(deal_id) {
                    let open =
                        self.engine.trades().iter().any(|t| {
                            t.deal_id.as_ref() == Some(deal_id) && t.state == DealState::Open
                        });
                    if !open {
                        tracing::debug!(deal_id = %deal_id, "a broker-side close already booked");
                        continue;
                    }
                    booked += 1;
                    if from_reconciliation {
                        tracing::warn!(deal_id = %deal_id, %level, cause = %cause, "closed at the broker without the stream saying so: booked at IG's level");
                    } else {
                        tracing::info!(deal_id = %deal_id, %level, cause = %cause, "closed at the broker: booked at IG's level");
                    }
                }
            }
            self.feed(EngineEvent::Broker(ev));
        }
        for m in done.markets {
            let at = self.clock.now();
            self.feed(EngineEvent::DealingRules {
                epic: m.epic.clone(),
                rules: m.rules,
                at,
            });
            self.feed(EngineEvent::TradingHours {
                epic: m.epic.clone(),
                times: m.opening_hours,
                at,
            });
            self.feed(EngineEvent::MarketStatus {
                epic: m.epic,
                status: m.status,
                at,
            });
        }
        if let Some(mut r) = done.reconciled {
            // Each unmanaged position is reported once per run, not at every reconciliation.
            r.unknown
                .retain(|u| self.reported_unknown.insert(u.clone()));
            if booked > 0 || !r.unknown.is_empty() {
                for u in &r.unknown {
                    tracing::warn!(position = %u, "in-run reconciliation: IG holds a position this run does not manage (it keeps its broker stop)");
                }
                tracing::warn!(
                    closes_booked = booked,
                    unknown = r.unknown.len(),
                    broker_positions = r.broker_positions,
                    "in-run reconciliation found a difference with IG and booked it"
                );
                let now = self.clock.now();
                if let Some(p) = self.publisher.as_mut() {
                    p.error(
                        now,
                        format!(
                            "{}{booked} close(s) booked, {} position(s) IG holds that this run does not manage",
                            notes::IN_RUN_RECONCILIATION,
                            r.unknown.len()
                        ),
                    );
                }
                if let Some(j) = self.venue.journal_mut() {
                    j.event(
                        now,
                        &scalper_journal::SystemEvent::InRunReconciliation {
                            trigger: "interval or stream reconnection".into(),
                            closes_booked: booked,
                            unknown_at_broker: r.unknown,
                        },
                    );
                }
            } else {
                tracing::debug!(
                    broker_positions = r.broker_positions,
                    "in-run reconciliation: IG and the engine agree"
                );
            }
        }
    }

    /// The cause of a close our own close request found already done at IG, from IG's close
    /// level against the position's stop and limit; journaled with its reason.
    fn name_race_cause(
        &mut self,
        deal_id: &scalper_model::DealId,
        level: scalper_model::Price,
        cause: &mut CloseCause,
    ) {
        let Some(t) = self
            .engine
            .trades()
            .iter()
            .find(|t| t.deal_id.as_ref() == Some(deal_id))
        else {
            return;
        };
        let (c, what) =
            match crate::closes::level_cause(t.direction, level, t.stop_level, t.limit_level) {
                Some(CloseCause::Stop) => (CloseCause::Stop, "stop"),
                Some(CloseCause::Limit) => (CloseCause::Limit, "limit"),
                _ => return,
            };
        *cause = c;
        let reason = format!(
            "{what}: IG closed it at {level} before our close request arrived (the request found no position)"
        );
        if let Some(j) = self.venue.journal_mut() {
            j.note_close_reason(deal_id.clone(), reason);
        }
    }

    /// Asks the execution task to read `epics`' dealing rules and status again.
    fn refresh_markets(&mut self, epics: Vec<Epic>) {
        let now = Instant::now();
        for e in &epics {
            self.refreshed.insert(e.clone(), now);
        }
        if self.venue.refresh_markets(epics) {
            tracing::debug!("market details asked again");
        }
    }

    /// Asks the execution task to compare IG's positions with the engine's open ones.
    fn reconcile(&mut self, trigger: &str) {
        let now = self.clock.now();
        let quotes = &self.last_quotes;
        let held: Vec<_> = self
            .engine
            .trades()
            .iter()
            .filter(|t| t.state == DealState::Open)
            .filter_map(|t| crate::closes::gone_trade(t, |e| quotes.get(e).cloned(), now, None))
            .collect();
        // Every deal the engine knows, in any state: a position it is opening is not "unknown".
        let managed = self
            .engine
            .trades()
            .iter()
            .filter_map(|t| t.deal_id.clone())
            .collect();
        if self.venue.reconcile(held, managed) {
            tracing::debug!(trigger, "in-run reconciliation asked");
        }
    }

    /// A stream event: journal gaps and reconnections, give the engine what it needs, and hand
    /// a broker-side close to the execution task for valuation.
    fn on_stream_event(&mut self, ev: &StreamEvent, last_quote_wall: Instant) {
        if let StreamEvent::Status(StreamStatus::Gap { .. }) = ev {
            self.counters.reconnects += 1;
        }
        let now = self.clock.now();
        if let Some(p) = self.publisher.as_mut() {
            note_stream_event(p, ev, now);
        }
        if let (StreamEvent::Status(st), Some(j)) = (ev, self.venue.journal_mut()) {
            let gap_ms = i64::try_from(last_quote_wall.elapsed().as_millis()).unwrap_or(i64::MAX);
            j.stream_status(st, gap_ms, now);
        }
        log_stream_event(ev);
        if let Some(e) = ev.engine_event() {
            if let EngineEvent::MarketStatus { epic, status, .. } = &e {
                // A status change may come with new dealing rules: read them (at most every 10 s).
                let changed = self.engine.market(epic).is_some_and(|m| m.status != status);
                let recent = self
                    .refreshed
                    .get(epic)
                    .is_some_and(|t| t.elapsed() < MARKET_REFRESH_MIN);
                if changed && !recent {
                    self.refresh_markets(vec![epic.clone()]);
                }
            }
            self.feed(e);
        }
        if let StreamEvent::Account { update, .. } = ev {
            if let Some(available_to_deal) = update.available_to_deal {
                self.feed(EngineEvent::AccountFunds { available_to_deal });
            }
        }
        if let StreamEvent::Position(p) = ev {
            if self.venue.is_paper() {
                return;
            }
            if let Some(e) = broker_stop_move(&self.engine, p) {
                self.feed(EngineEvent::Broker(e));
                return;
            }
            if !self.reducing_at_broker.contains(&p.deal_id) {
                let quotes = &self.last_quotes;
                let part = crate::closes::broker_side_reduce(
                    &self.engine,
                    |e| quotes.get(e).cloned(),
                    now,
                    p,
                );
                if let Some(part) = part {
                    tracing::info!(deal_id = %p.deal_id, size = ?p.size, "position reduced at the broker: booking the part closed");
                    match self.venue.value_close(part) {
                        Some(e) => self.feed(EngineEvent::Broker(e)),
                        // One valuation at a time: a later update repeats the smaller size.
                        None => {
                            self.reducing_at_broker.insert(p.deal_id.clone());
                        }
                    }
                    return;
                }
            }
            let quotes = &self.last_quotes;
            let found =
                crate::closes::broker_side_close(&self.engine, |e| quotes.get(e).cloned(), now, p);
            if let Some(gone) = found {
                if let Some(e) = self.venue.value_close(gone) {
                    self.feed(EngineEvent::Broker(e));
                }
            }
        }
    }

    /// Winds the run down: closes everything when asked (demo), waits (bounded) for closes and
    /// for requests in flight, stops the stream and journals the stop.
    pub async fn finish(&mut self, stop: Stop, wall_start: Timestamp) -> Finished {
        let trading_ended_wall_ms = crate::wall_clock_now().millis();
        // The wind-down still feeds quotes (paper fills, engine exits) but opens nothing: a
        // position opened now would outlive the run that was told to end.
        self.engine.close_entries();
        if let Some(s) = self.shadow.as_mut() {
            s.close_entries();
        }
        // A second interrupt means "stop now": nothing more is sent.
        let close = self.at_end == AtEnd::Flatten
            && matches!(stop, Stop::Deadline | Stop::StreamClosed)
            && !self.engine.trades().is_empty();
        if close {
            tracing::info!(
                open = self.engine.trades().len(),
                "at end: flattening (closing every position)"
            );
            self.feed(EngineEvent::Command(Command::CloseAll));
        }
        self.wait_for_outcomes(close).await;
        let positions_left = self.positions_left();
        for p in &positions_left {
            tracing::warn!(
                trade_id = p.trade_id,
                deal_id = %p.deal_id.as_deref().unwrap_or("-"),
                epic = %p.epic,
                direction = %p.direction,
                size = %p.size,
                entry = %p.entry_level.as_deref().unwrap_or("-"),
                stop = %p.stop_level.as_deref().unwrap_or("none"),
                limit = %p.limit_level.as_deref().unwrap_or("none"),
                "POSITION LEFT OPEN at the end of the run (it keeps its broker stop and limit)"
            );
        }
        if stop == Stop::StreamClosed {
            tracing::error!("the price stream stopped");
        }
        let mut skipped = None;
        if let Some(s) = self.streams.take() {
            let (quotes, total) = s.rx.quotes.take_replaced();
            skipped = (total > 0).then_some(scalper_journal::SkippedQuotes { total, quotes });
            s.forwarder.abort();
            if tokio::time::timeout(Duration::from_secs(5), s.client.shutdown())
                .await
                .is_err()
            {
                tracing::warn!("the stream did not stop within 5 s; abandoning it");
            }
        }
        // The shadow closes what it holds whenever live's end policy flattens (live may have
        // held nothing while the shadow did).
        let flattened =
            self.at_end == AtEnd::Flatten && matches!(stop, Stop::Deadline | Stop::StreamClosed);
        let shadow = self.finish_shadow(flattened).await;
        let now = self.clock.now().max(wall_start);
        if let Some(j) = self.venue.journal_mut() {
            j.event(
                now,
                &scalper_journal::SystemEvent::EngineStop {
                    reason: format!("{stop:?}"),
                    ended_wall_ms: Some(trading_ended_wall_ms),
                    timer_started_wall_ms: self.timer_started_wall_ms,
                    skipped_quotes: skipped,
                },
            );
        }
        self.venue.close_journal();
        for failure in self.journal_failures.drain() {
            tracing::error!(failure = %failure, "JOURNAL WRITE FAILED at the end of the run");
        }
        self.counters.margin_closeouts = self.venue.margin_closeouts();
        Finished {
            counters: self.counters,
            positions_left,
            shadow,
        }
    }

    /// Journals the shadow comparisons finished since the last call (each second).
    fn journal_shadow(&mut self) {
        let Some(s) = self.shadow.as_ref() else {
            return;
        };
        let results = s.take_results();
        let now = self.clock.now();
        if let Some(j) = self.venue.journal_mut() {
            for t in results {
                j.event(now, &scalper_journal::SystemEvent::ShadowTrade(Box::new(t)));
            }
        }
    }

    /// Ends the shadow after live's wind-down (closing what it holds when live flattened) and
    /// journals its last comparisons.
    async fn finish_shadow(&mut self, flattened: bool) -> Option<crate::ShadowSummary> {
        self.journal_shadow();
        let (summary, rest) = self.shadow.take()?.finish(flattened).await;
        let now = self.clock.now();
        if let Some(j) = self.venue.journal_mut() {
            for t in rest {
                j.event(now, &scalper_journal::SystemEvent::ShadowTrade(Box::new(t)));
            }
        }
        tracing::info!(
            pairs = summary.pairs,
            live_only = summary.live_only,
            shadow_only = summary.shadow_only,
            unfinished = summary.unfinished,
            pnl_live = %summary.pnl_live.round_cents(),
            pnl_paper = %summary.pnl_shadow.round_cents(),
            pnl_diff = %summary.pnl_difference.round_cents(),
            "shadow: live vs paper over the run"
        );
        Some(summary)
    }

    /// Until every position is closed (when `closing`) and no request is in flight, or
    /// [`WIND_DOWN`] has passed. Quotes keep flowing for paper fills.
    async fn wait_for_outcomes(&mut self, closing: bool) {
        let until = tokio::time::Instant::now() + WIND_DOWN;
        let Some(mut streams) = self.streams.take() else {
            return;
        };
        let mut quotes_open = true;
        while (closing && !self.engine.trades().is_empty()) || self.venue.outstanding() > 0 {
            tokio::select! {
                done = self.venue.next_completed() => self.on_completed(done),
                q = streams.rx.quotes.recv(), if quotes_open => match q {
                    Some(q) => self.feed_quote(q),
                    None => quotes_open = false,
                },
                () = tokio::time::sleep_until(until) => {
                    if self.venue.outstanding() > 0 {
                        tracing::warn!(outstanding = self.venue.outstanding(),
                            "requests still in flight at the end; their outcome is resolved at the next start");
                    }
                    break;
                }
            }
        }
        self.streams = Some(streams);
    }
}

/// The next control request (pending forever without a control channel, or once it closed).
async fn next_control(control: &mut Option<mpsc::Receiver<ControlRequest>>) -> ControlRequest {
    if let Some(rx) = control.as_mut() {
        if let Some(req) = rx.recv().await {
            return req;
        }
        *control = None;
    }
    std::future::pending().await
}

/// The stream's state and its refusals, for observers.
fn note_stream_event(p: &mut Publisher, ev: &StreamEvent, now: Timestamp) {
    match ev {
        StreamEvent::Status(st) => {
            p.stream_status(st);
            match st {
                StreamStatus::Gap { reason, .. } => p.error(now, format!("stream gap: {reason}")),
                StreamStatus::SessionRefused { code, message } => {
                    p.error(now, format!("{}({code}): {message}", notes::STREAM_REFUSED));
                }
                StreamStatus::CredentialsUnavailable { message, .. } => {
                    p.error(now, format!("{}{message}", notes::STREAM_CREDENTIALS));
                }
                _ => {}
            }
        }
        StreamEvent::SubscriptionRefused {
            subscription,
            code,
            message,
        } => p.error(
            now,
            format!("subscription {subscription:?} refused ({code}): {message}"),
        ),
        _ => {}
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

/// An `OPU` update that moved the stop of one of our open positions while no amendment of
/// ours is in flight (IG's own trailing stop stepping, or a change on the platform): the engine
/// takes the broker's levels.
fn broker_stop_move(
    engine: &scalper_engine::Engine,
    p: &scalper_ig::stream::trade::PositionUpdate,
) -> Option<scalper_engine::BrokerEvent> {
    if p.status != scalper_ig::stream::trade::UpdateStatus::Updated {
        return None;
    }
    let t = engine.trades().iter().find(|t| {
        t.deal_id.as_ref() == Some(&p.deal_id) && t.state == scalper_model::DealState::Open
    })?;
    if t.prev_stop_level.is_some() || p.stop_level.is_none() || p.stop_level == t.stop_level {
        return None;
    }
    if p.size.is_some_and(|s| s != t.size) {
        return None;
    }
    Some(scalper_engine::BrokerEvent::Amended {
        deal_id: p.deal_id.clone(),
        stop_level: p.stop_level,
        limit_level: p.limit_level.or(t.limit_level),
    })
}

fn log_action(action: &Action) {
    match action {
        Action::Refused {
            epic,
            direction,
            reason,
        } => {
            tracing::info!(epic = %epic, direction = %direction.map_or("-", |d| d.as_str()), reason = %reason, "entry refused by risk");
        }
        Action::TradeOpened(t) => tracing::info!(
            trade_id = t.trade_id,
            deal_id = %t.deal_id,
            epic = %t.epic,
            direction = %t.direction,
            size = %t.size,
            level = %t.level,
            stop = %t.stop_level.map_or_else(|| "none".into(), |p| p.to_string()),
            limit = %t.limit_level.map_or_else(|| "none".into(), |p| p.to_string()),
            paper = t.paper,
            "trade opened"
        ),
        Action::TradeClosed(t) => tracing::info!(
            trade_id = t.trade_id,
            deal_id = %t.deal_id,
            epic = %t.epic,
            direction = %t.direction,
            size = %t.size,
            entry = %t.entry_price,
            exit = %t.exit_price,
            pnl = %t.pnl,
            cause = %t.cause,
            reason = %t.reason,
            paper = t.paper,
            "trade closed"
        ),
        Action::TradeReduced(t) => tracing::info!(
            trade_id = t.trade_id,
            deal_id = %t.deal_id,
            epic = %t.epic,
            direction = %t.direction,
            closed = %t.closed_size,
            remaining = %t.remaining,
            level = %t.level,
            pnl = %t.pnl,
            reason = %t.reason,
            "trade partly closed"
        ),
        Action::Log {
            level,
            epic,
            message,
        } => {
            // A message about no one instrument carries no `epic` field.
            match (level, epic) {
                (LogLevel::Error, Some(e)) => tracing::error!(epic = %e, "{message}"),
                (LogLevel::Warn, Some(e)) => tracing::warn!(epic = %e, "{message}"),
                (LogLevel::Info, Some(e)) => tracing::info!(epic = %e, "{message}"),
                (LogLevel::Error, None) => tracing::error!("{message}"),
                (LogLevel::Warn, None) => tracing::warn!("{message}"),
                (LogLevel::Info, None) => tracing::info!("{message}"),
            }
        }
        Action::Halted { reason } => tracing::warn!(reason = %reason, "new entries halted"),
        Action::Resumed { reason } => tracing::info!(reason = %reason, "trading resumed"),
        Action::Broker(_) | Action::PaperFallback { .. } | Action::NothingLeftToManage { .. } => {}
    }
}
