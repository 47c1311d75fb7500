//! Shadow paper (`run --shadow`): a second engine, with the run's configuration and the paper
//! venue of `run --paper` (filling on the deciding quote), fed the live loop's quotes and
//! events in the loop's order on a task of its own, and told what the live engine did; its
//! [`Book`] pairs each live trade with the shadow's and reports the difference as it happens.
//!
//! The live loop only clones what it hands over and never waits: the hand-over is a
//! `try_send` on a bounded channel, after the live step (its orders are already on their way).
//! If the shadow falls behind, the first input it cannot take ends the comparison (logged
//! once, counted in the summary) rather than slowing live trading.

mod book;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use scalper_engine::{
    Action, BrokerCommand, BrokerEvent, Clock as _, Command, Driver, Engine, EngineConfig,
    EngineEvent, EngineInit, SimConfig,
};
use scalper_journal::ShadowTrade;
use scalper_model::{Instrument, Quote};
use tokio::sync::{mpsc, oneshot};

pub use book::{Book, Decision, ShadowSummary, Side};

use crate::clock::QuoteClock;
use crate::venue::LiveVenue;
use crate::LiveError;

/// Live-loop steps the shadow may be behind before it gives up.
const QUEUE: usize = 16_384;
/// How long the end of a run waits for the shadow to catch up and report.
const FINISH_WAIT: Duration = Duration::from_secs(5);

/// The totals as the shadow task last published them (read by the metrics).
pub type SharedShadow = Arc<Mutex<Option<ShadowSummary>>>;

/// What the live engine did on one step, for the book.
#[derive(Debug)]
enum LiveNote {
    /// An opening request live sent (the decision's time is the shadow's clock, which
    /// follows the same quotes).
    Entry {
        epic: scalper_model::Epic,
        direction: scalper_model::Direction,
        deal_ref: scalper_model::DealReference,
    },
    Opened(Box<scalper_engine::OpenedTrade>),
    Closed(Box<scalper_engine::ClosedTrade>),
    Refused(scalper_model::DealReference),
}

/// What the shadow needs of an event the live loop drives (taken before driving it).
#[derive(Debug)]
pub(crate) enum Seen {
    /// An event the shadow drives too (a timer, market status, dealing rules, a command...).
    Input(EngineEvent),
    /// A broker refused live's entry.
    Refused(scalper_model::DealReference),
    /// Another broker report: live's alone.
    Broker,
}

impl Seen {
    pub(crate) fn of(event: &EngineEvent) -> Self {
        match event {
            EngineEvent::Broker(BrokerEvent::Rejected { deal_ref, .. }) => {
                Self::Refused(deal_ref.clone())
            }
            EngineEvent::Broker(_) => Self::Broker,
            e => Self::Input(e.clone()),
        }
    }
}

/// What the live loop drove through its engine.
#[derive(Debug)]
enum StepInput {
    Quote(Quote),
    Event(EngineEvent),
}

#[derive(Debug)]
enum Msg {
    /// One live step: the input the shadow drives too (none for a broker report, which only
    /// live has), then what live did on it.
    Step {
        input: Option<StepInput>,
        live: Vec<LiveNote>,
    },
    /// Live is winding down: the shadow opens nothing more either ([`Engine::close_entries`]).
    CloseEntries,
    /// The end: close what the shadow still holds at the last quotes when live flattened
    /// (`flatten`), then book and report.
    Finish {
        flatten: bool,
        reply: oneshot::Sender<ShadowSummary>,
    },
}

/// The live loop's handle on the shadow.
#[derive(Debug)]
pub(crate) struct ShadowFeed {
    tx: mpsc::Sender<Msg>,
    dropped: u64,
    /// Comparisons finished and not yet journaled (the loop takes them each second).
    results: Arc<Mutex<Vec<ShadowTrade>>>,
    published: SharedShadow,
}

impl ShadowFeed {
    /// Starts the shadow engine on a task of its own: `cfg`, `instruments` and `init` as live's
    /// (without the positions live takes over at start: those are live's alone).
    pub(crate) fn start(
        cfg: EngineConfig,
        instruments: &[Instrument],
        mut init: EngineInit,
        published: Option<SharedShadow>,
    ) -> Result<Self, LiveError> {
        init.positions.clear();
        init.paper = true;
        let engine =
            Engine::new(cfg, instruments.to_vec(), init).map_err(|e| LiveError::Engine {
                context: "building the shadow engine".into(),
                detail: e.to_string(),
            })?;
        let clock = QuoteClock::default();
        // The paper venue of `run --paper`, filling market orders on the quote they were
        // decided on: the reference live's fills are compared with.
        let venue = LiveVenue::paper(
            SimConfig {
                latency_ms: Some(0),
                deal_id_prefix: "SHADOW".into(),
                ..SimConfig::default()
            },
            None,
            clock.clone(),
            instruments.to_vec(),
        );
        let (tx, rx) = mpsc::channel(QUEUE);
        let results = Arc::new(Mutex::new(Vec::new()));
        let published = published.unwrap_or_default();
        let task = ShadowTask {
            engine,
            venue,
            driver: Driver::new(),
            clock,
            book: Book::new(instruments),
            step: 0,
            actions: Vec::with_capacity(16),
            results: results.clone(),
            published: published.clone(),
        };
        tokio::spawn(task.run(rx));
        tracing::info!("SHADOW paper: a paper engine runs beside live on the same quotes; each live trade is compared with its paper twin");
        Ok(Self {
            tx,
            dropped: 0,
            results,
            published,
        })
    }

    /// Live's run is winding down and opens nothing more: neither does the shadow (else it
    /// could count a trade live was never allowed to make).
    pub(crate) fn close_entries(&mut self) {
        if self.dropped == 0 && self.tx.try_send(Msg::CloseEntries).is_err() {
            self.dropped = 1;
        }
    }

    /// After live drove `quote`: hands it and what live did (`actions`) to the shadow.
    pub(crate) fn quote(&mut self, quote: Quote, actions: &[Action]) {
        self.send(Some(StepInput::Quote(quote)), actions, None);
    }

    /// After live drove an event (`seen`, taken before): broker reports are live's alone
    /// (only what live did on them goes over); everything else the shadow drives too.
    pub(crate) fn event(&mut self, seen: Seen, actions: &[Action]) {
        match seen {
            Seen::Input(e) => self.send(Some(StepInput::Event(e)), actions, None),
            Seen::Refused(r) => self.send(None, actions, Some(r)),
            Seen::Broker => self.send(None, actions, None),
        }
    }

    fn send(
        &mut self,
        input: Option<StepInput>,
        actions: &[Action],
        refused: Option<scalper_model::DealReference>,
    ) {
        if self.dropped > 0 {
            self.dropped += 1;
            return;
        }
        let mut live: Vec<LiveNote> = actions.iter().filter_map(note).collect();
        live.extend(refused.map(LiveNote::Refused));
        if input.is_none() && live.is_empty() {
            return;
        }
        if self.tx.try_send(Msg::Step { input, live }).is_err() {
            self.dropped = 1;
            tracing::warn!(
                queue = QUEUE,
                "SHADOW fell behind the live loop: the comparison stops here (live trading is not affected)"
            );
        }
    }

    /// Comparisons finished since the last call, for the journal.
    pub(crate) fn take_results(&self) -> Vec<ShadowTrade> {
        self.results
            .lock()
            .map(|mut r| std::mem::take(&mut *r))
            .unwrap_or_default()
    }

    /// Ends the shadow: with `flatten` (live closed everything at the end) the shadow closes
    /// what it still holds at the last quotes (it goes on deciding while live waits for its
    /// closes); what is still open on either side is counted as unfinished. Returns the totals
    /// and the comparisons not yet taken.
    pub(crate) async fn finish(self, flatten: bool) -> (ShadowSummary, Vec<ShadowTrade>) {
        let (reply, rx) = oneshot::channel();
        let msg = Msg::Finish { flatten, reply };
        let sent = tokio::time::timeout(FINISH_WAIT, self.tx.send(msg)).await;
        let summary = match sent {
            Ok(Ok(())) => tokio::time::timeout(FINISH_WAIT, rx)
                .await
                .ok()
                .and_then(Result::ok),
            _ => None,
        };
        let mut summary = summary.unwrap_or_else(|| {
            tracing::warn!(
                "the shadow did not report at the end; its last published totals are used"
            );
            self.published
                .lock()
                .ok()
                .and_then(|s| s.clone())
                .unwrap_or_default()
        });
        summary.inputs_dropped = self.dropped;
        if let Ok(mut p) = self.published.lock() {
            *p = Some(summary.clone());
        }
        let rest = self.take_results();
        (summary, rest)
    }
}

/// What the live engine did that the book needs.
fn note(a: &Action) -> Option<LiveNote> {
    match a {
        Action::Broker(BrokerCommand::Open(o)) => Some(LiveNote::Entry {
            epic: o.epic.clone(),
            direction: o.direction,
            deal_ref: o.deal_ref.clone(),
        }),
        Action::TradeOpened(t) => Some(LiveNote::Opened(Box::new(t.clone()))),
        Action::TradeClosed(t) => Some(LiveNote::Closed(Box::new(t.clone()))),
        _ => None,
    }
}

/// The shadow engine and its paper venue, on their own task.
struct ShadowTask {
    engine: Engine,
    venue: LiveVenue,
    driver: Driver,
    clock: QuoteClock,
    book: Book,
    /// Inputs driven so far (the pairing key: live and shadow decide on the same input).
    step: u64,
    actions: Vec<Action>,
    results: Arc<Mutex<Vec<ShadowTrade>>>,
    published: SharedShadow,
}

impl ShadowTask {
    async fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        while let Some(msg) = rx.recv().await {
            match msg {
                Msg::Step { input, live } => {
                    let on_input = input.is_some();
                    if let Some(i) = input {
                        self.drive(i);
                    }
                    for n in live {
                        self.live(n, on_input);
                    }
                    self.publish();
                }
                Msg::CloseEntries => self.engine.close_entries(),
                Msg::Finish { flatten, reply } => {
                    if flatten {
                        self.drive(StepInput::Event(EngineEvent::Command(Command::CloseAll)));
                    }
                    for t in self.book.finish() {
                        self.report(t);
                    }
                    self.publish();
                    let _ = reply.send(self.book.summary());
                    return;
                }
            }
        }
    }

    fn drive(&mut self, input: StepInput) {
        self.step += 1;
        self.book.count_input(matches!(input, StepInput::Quote(_)));
        match input {
            StepInput::Quote(q) => {
                self.clock.observe(q.ts);
                self.venue
                    .drive_quote(&mut self.driver, &mut self.engine, q, &mut self.actions);
            }
            StepInput::Event(e) => {
                self.driver
                    .step(&mut self.engine, &mut self.venue, e, &mut self.actions);
            }
        }
        let now = self.clock.now();
        let actions = std::mem::take(&mut self.actions);
        for a in &actions {
            match a {
                Action::Broker(BrokerCommand::Open(o)) => self.book.shadow_entry(
                    self.step,
                    &Decision {
                        epic: o.epic.clone(),
                        direction: o.direction,
                        deal_ref: o.deal_ref.clone(),
                        at: now,
                    },
                ),
                Action::TradeOpened(t) => self.book.opened(Side::Shadow, t, now),
                Action::TradeClosed(t) => {
                    if let Some(r) = self.book.closed(Side::Shadow, t) {
                        self.report(r);
                    }
                }
                _ => {}
            }
        }
        self.actions = actions;
        self.actions.clear();
    }

    fn live(&mut self, note: LiveNote, on_input: bool) {
        let done = match note {
            LiveNote::Entry {
                epic,
                direction,
                deal_ref,
            } => {
                let d = Decision {
                    epic,
                    direction,
                    deal_ref,
                    at: self.clock.now(),
                };
                self.book.live_entry(self.step, on_input, &d);
                None
            }
            LiveNote::Opened(t) => {
                // The shadow's clock follows the same quotes: live's clock at this step.
                self.book.opened(Side::Live, &t, self.clock.now());
                None
            }
            LiveNote::Closed(t) => self.book.closed(Side::Live, &t),
            LiveNote::Refused(r) => self.book.failed(Side::Live, &r),
        };
        if let Some(r) = done {
            self.report(r);
        }
    }

    fn publish(&self) {
        if let Ok(mut p) = self.published.lock() {
            *p = Some(self.book.summary());
        }
    }

    /// Logs a finished comparison (one INFO line) and queues it for the journal.
    fn report(&self, t: ShadowTrade) {
        let leg = |l: Option<&scalper_journal::ShadowLeg>,
                   f: fn(&scalper_journal::ShadowLeg) -> String| {
            l.map_or_else(|| "-".to_string(), f)
        };
        tracing::info!(
            epic = %t.epic,
            direction = %t.direction,
            outcome = t.outcome.as_str(),
            live_trade = %leg(t.live.as_ref(), |l| l.trade_id.to_string()),
            live_entry = %leg(t.live.as_ref(), |l| l.entry.to_string()),
            paper_entry = %leg(t.shadow.as_ref(), |l| l.entry.to_string()),
            live_exit = %leg(t.live.as_ref(), |l| l.exit.to_string()),
            paper_exit = %leg(t.shadow.as_ref(), |l| l.exit.to_string()),
            entry_diff_points = %t.entry_slippage_points.map_or_else(|| "-".into(), |p| p.to_string()),
            exit_diff_points = %t.exit_slippage_points.map_or_else(|| "-".into(), |p| p.to_string()),
            live_pnl = %leg(t.live.as_ref(), |l| l.pnl.round_cents().to_string()),
            paper_pnl = %leg(t.shadow.as_ref(), |l| l.pnl.round_cents().to_string()),
            pnl_diff = %t.pnl_difference.map_or_else(|| "-".into(), |m| m.round_cents().to_string()),
            entry_delay_ms = %t.entry_delay_ms.map_or_else(|| "-".into(), |m| m.to_string()),
            "shadow: live vs paper"
        );
        if let Ok(mut r) = self.results.lock() {
            r.push(t);
        }
    }
}
