//! [`LiveVenue`]: the live runtime's side of the engine's ordering driver. Broker commands go
//! to IG through the [`Execution`] task (never awaited on the event loop) or to the paper
//! broker (synchronous, from the live quotes); the journal sees every broker report before the
//! engine does and every opening request before it is sent (write-ahead).

use std::collections::VecDeque;

use scalper_engine::{
    Action, BrokerCommand, BrokerEvent, Clock as _, Command, Driver, Engine, EngineEvent,
    MarginWatch, SimBroker, SimConfig, Venue,
};
use scalper_model::{DealId, Epic, Instrument, Quote, RejectReason};

use crate::clock::QuoteClock;
use crate::closes::GoneClose;
use crate::execution::{Completed, Execution, Job};
use crate::journaling::JournalSink;
use crate::telemetry::OrderTally;

/// Why the event loop must stop, as decided while driving the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VenueStop {
    /// A broker failure left nothing to manage.
    NothingLeft,
}

/// Where commands go now: IG (through the execution task) or paper.
#[derive(Debug)]
enum Route {
    Ig,
    Paper(Box<SimBroker>),
}

/// The live venue: routing, journaling hooks and the execution task's handle.
#[derive(Debug)]
pub struct LiveVenue {
    route: Route,
    /// The IG execution task (kept after a switch to paper, so in-flight replies still arrive).
    exec: Option<Execution>,
    journal: Option<JournalSink>,
    clock: QuoteClock,
    instruments: Vec<Instrument>,
    paper_cfg: SimConfig,
    stop: Option<VenueStop>,
    /// IG's margin close-out on the paper account (IG applies its own to a real one).
    margin: MarginWatch,
    /// Requests sent and their outcomes, for observers.
    tally: OrderTally,
}

impl LiveVenue {
    /// Commands go to IG through `exec`.
    pub fn ig(
        exec: Execution,
        journal: Option<JournalSink>,
        clock: QuoteClock,
        instruments: Vec<Instrument>,
    ) -> Self {
        Self {
            route: Route::Ig,
            exec: Some(exec),
            journal,
            clock,
            instruments,
            paper_cfg: SimConfig::default(),
            stop: None,
            margin: MarginWatch::new(),
            tally: OrderTally::default(),
        }
    }

    /// Commands go to a paper broker filling from the live quotes.
    pub fn paper(
        paper_cfg: SimConfig,
        journal: Option<JournalSink>,
        clock: QuoteClock,
        instruments: Vec<Instrument>,
    ) -> Self {
        let sim = SimBroker::new(paper_cfg.clone(), instruments.clone());
        Self {
            route: Route::Paper(Box::new(sim)),
            exec: None,
            journal,
            clock,
            instruments,
            paper_cfg,
            stop: None,
            margin: MarginWatch::new(),
            tally: OrderTally::default(),
        }
    }

    pub fn is_paper(&self) -> bool {
        matches!(self.route, Route::Paper(_))
    }

    /// Drives a quote through the engine, then, on a paper account, IG's margin close-out as
    /// backtests apply it ([`MarginWatch`]): at most once per second of quote time, when the
    /// engine's equity (with open P&L) has fallen below 50% of its open positions' margin,
    /// everything is closed (`Command::CloseAll`, in the same step). Returns true when it
    /// closed out. Dealing with IG there is no such check: IG closes out a real account itself.
    pub fn drive_quote(
        &mut self,
        driver: &mut Driver,
        engine: &mut Engine,
        quote: Quote,
        out: &mut Vec<Action>,
    ) -> bool {
        let now = quote.ts.millis();
        driver.step(engine, self, EngineEvent::Quote(quote), out);
        if !self.is_paper() {
            return false;
        }
        let state = engine.margin_state();
        if !self.margin.due(now, state.is_some())
            || !state.is_some_and(|(equity, used)| self.margin.close_out(equity, used))
        {
            return false;
        }
        tracing::warn!(
            closeouts = self.margin.closeouts(),
            "MARGIN CLOSE-OUT (paper): equity below 50% of the open positions' margin; closing everything"
        );
        driver.step(engine, self, EngineEvent::Command(Command::CloseAll), out);
        true
    }

    /// Margin close-outs of the paper account so far.
    pub fn margin_closeouts(&self) -> u64 {
        self.margin.closeouts()
    }

    /// Set when driving the engine decided the run must end.
    pub fn stop(&self) -> Option<VenueStop> {
        self.stop
    }

    /// Dealing requests sent and their outcomes so far.
    pub fn tally(&self) -> &OrderTally {
        &self.tally
    }

    pub fn journal_mut(&mut self) -> Option<&mut JournalSink> {
        self.journal.as_mut()
    }

    /// Waits for the journal's queued writes and closes it. Nothing is journaled after this.
    pub fn close_journal(&mut self) {
        if let Some(j) = self.journal.take() {
            j.close();
        }
    }

    /// IG requests handed to the execution task and not yet answered.
    pub fn outstanding(&self) -> usize {
        self.exec.as_ref().map_or(0, Execution::outstanding)
    }

    /// The next answered IG request (pending forever when none is outstanding).
    pub async fn next_completed(&mut self) -> Completed {
        match self.exec.as_mut() {
            Some(e) => e.next().await,
            None => std::future::pending().await,
        }
    }

    /// Hands a broker-side close to the execution task for valuation at IG's recorded level
    /// and cause; returns the estimate to use at once when there is no task to take it.
    pub fn value_close(&mut self, gone: GoneClose) -> Option<BrokerEvent> {
        let Some(exec) = self.exec.as_mut() else {
            return Some(gone.estimate);
        };
        match exec.send(Job::ValueClose(gone)) {
            Err(job) => match *job {
                Job::ValueClose(g) => Some(g.estimate),
                _ => None,
            },
            Ok(()) => None,
        }
    }

    /// Hands an in-run reconciliation to the execution task; `false` when there is none to
    /// take it (paper runs have nothing to reconcile).
    pub fn reconcile(&mut self, held: Vec<GoneClose>, managed: Vec<DealId>) -> bool {
        if self.is_paper() {
            return false;
        }
        self.exec
            .as_mut()
            .is_some_and(|e| e.send(Job::Reconcile { held, managed }).is_ok())
    }

    /// Asks the execution task to read these markets' dealing rules and status again.
    pub fn refresh_markets(&mut self, epics: Vec<Epic>) -> bool {
        self.exec
            .as_mut()
            .is_some_and(|e| e.send(Job::RefreshMarkets(epics)).is_ok())
    }

    fn switch_to_paper(&mut self) {
        let sim = SimBroker::new(self.paper_cfg.clone(), self.instruments.clone());
        self.route = Route::Paper(Box::new(sim));
    }
}

impl Venue for LiveVenue {
    fn reports_before(&mut self, event: &EngineEvent, out: &mut Vec<BrokerEvent>) {
        if let Route::Paper(sim) = &mut self.route {
            sim.reports_before(event, out);
        }
    }

    fn reports_before_quote(&mut self, quote: &Quote, out: &mut Vec<BrokerEvent>) {
        if let Route::Paper(sim) = &mut self.route {
            sim.reports_before_quote(quote, out);
        }
    }

    fn observe_event(
        &mut self,
        engine: &Engine,
        event: &EngineEvent,
        queue: &mut VecDeque<EngineEvent>,
    ) {
        if let EngineEvent::Broker(ev) = event {
            self.tally.event(ev);
        }
        if let (Some(j), EngineEvent::Broker(ev)) = (self.journal.as_mut(), event) {
            if let Err(e) = j.on_broker_event(ev, engine, self.clock.now()) {
                tracing::error!(error = %e, "JOURNAL WRITE FAILED for a broker report");
                halt_for_journal(queue);
            }
        }
    }

    fn observe_action(
        &mut self,
        engine: &Engine,
        action: &Action,
        queue: &mut VecDeque<EngineEvent>,
    ) {
        if let Some(j) = self.journal.as_mut() {
            if let Err(e) = j.on_action(action, engine, self.clock.now()) {
                tracing::error!(error = %e, "JOURNAL WRITE FAILED");
                halt_for_journal(queue);
            }
        }
        match action {
            Action::PaperFallback { detail } => {
                tracing::error!(detail = %detail, "BROKER FAILED: switching to PAPER trading as configured (on_broker_failure = \"paper\"); every further trade is simulated");
                self.switch_to_paper();
            }
            Action::NothingLeftToManage { reason } => {
                tracing::error!(%reason, "broker failure and nothing left to manage: stopping");
                self.stop = Some(VenueStop::NothingLeft);
            }
            _ => {}
        }
    }

    fn write_ahead(
        &mut self,
        engine: &Engine,
        cmd: &BrokerCommand,
        queue: &mut VecDeque<EngineEvent>,
    ) -> bool {
        let Some(j) = self.journal.as_mut() else {
            return true;
        };
        match j.write_ahead(cmd, engine, self.clock.now()) {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, ?cmd, "NOT SENT: the request could not be journaled first");
                halt_for_journal(queue);
                if let BrokerCommand::Open(o) = cmd {
                    queue.push_back(EngineEvent::Broker(BrokerEvent::Rejected {
                        deal_ref: o.deal_ref.clone(),
                        reason: RejectReason::Refused("not sent: journal write failed".into()),
                        detail: None,
                    }));
                }
                false
            }
        }
    }

    fn submit(&mut self, cmd: &BrokerCommand, queue: &mut VecDeque<EngineEvent>) {
        tracing::debug!(?cmd, "broker command");
        self.tally.command(cmd);
        match &mut self.route {
            Route::Paper(sim) => Venue::submit(sim.as_mut(), cmd, queue),
            Route::Ig => {
                let sent = match self.exec.as_mut() {
                    Some(exec) => exec.send(Job::Command(cmd.clone())).map_err(|_| ()),
                    None => Err(()),
                };
                if sent.is_err() {
                    tracing::error!(?cmd, "NOT SENT: the execution task cannot take the request");
                    if let BrokerCommand::Open(o) = cmd {
                        queue.push_back(EngineEvent::Broker(BrokerEvent::Rejected {
                            deal_ref: o.deal_ref.clone(),
                            reason: RejectReason::Refused(
                                "not sent: the execution task is gone".into(),
                            ),
                            detail: None,
                        }));
                    }
                }
            }
        }
    }
}

/// A journal write failed: stop new entries (positions keep their stops).
fn halt_for_journal(queue: &mut VecDeque<EngineEvent>) {
    tracing::error!("JOURNAL WRITE FAILED: halting new entries");
    queue.push_back(EngineEvent::Command(Command::Halt {
        close_positions: Some(false),
    }));
}
