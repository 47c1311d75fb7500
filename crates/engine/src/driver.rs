//! The one event-ordering contract between the engine and a venue, used by backtests
//! ([`crate::sim::step`]) and by the live runtime alike, so that paper, sandbox, live and
//! backtest runs order their events the same way by construction.
//!
//! For each event:
//! 1. the venue reports what the event causes at the venue first ([`Venue::reports_before`]:
//!    paper fills and stop/limit triggers of a quote or bar, a market status change applied to
//!    a simulated market), and the engine processes those reports;
//! 2. the engine processes the event itself;
//! 3. every event those lead to (synchronous venues' replies, hooks' events) is processed in
//!    order until nothing is left.
//!
//! Before the engine sees an event the venue observes it ([`Venue::observe_event`]: the live
//! journal records broker reports there); every action the engine returns is observed in order
//! ([`Venue::observe_action`]) and every broker command passes the write-ahead hook
//! ([`Venue::write_ahead`]) before it is submitted ([`Venue::submit`]). A synchronous venue
//! (the sim broker) answers a command at once; an asynchronous one (the live execution task)
//! answers later with new events.

use std::collections::VecDeque;

use scalper_model::Quote;

use crate::action::Action;
use crate::engine::Engine;
use crate::event::{BrokerCommand, BrokerEvent, EngineEvent};

/// Where the engine's commands go, and the hooks around them.
pub trait Venue {
    /// Reports `event` causes at the venue, before the engine sees it (appended to `out`).
    fn reports_before(&mut self, event: &EngineEvent, out: &mut Vec<BrokerEvent>);

    /// [`Venue::reports_before`] for a quote the caller keeps.
    fn reports_before_quote(&mut self, quote: &Quote, out: &mut Vec<BrokerEvent>);

    /// Sees `event` just before the engine processes it.
    /// Events pushed to `queue` are processed after the ones already waiting.
    #[inline]
    fn observe_event(
        &mut self,
        _engine: &Engine,
        _event: &EngineEvent,
        _queue: &mut VecDeque<EngineEvent>,
    ) {
    }

    /// Sees each action the engine returned, in order, before later commands are submitted.
    /// Events pushed to `queue` are processed after the ones already waiting.
    #[inline]
    fn observe_action(
        &mut self,
        _engine: &Engine,
        _action: &Action,
        _queue: &mut VecDeque<EngineEvent>,
    ) {
    }

    /// The write-ahead hook: runs before `cmd` is submitted; `false` means it must not be sent
    /// (the hook queues whatever the engine must learn instead, e.g. a rejection).
    #[inline]
    fn write_ahead(
        &mut self,
        _engine: &Engine,
        _cmd: &BrokerCommand,
        _queue: &mut VecDeque<EngineEvent>,
    ) -> bool {
        true
    }

    /// Sends `cmd`. A synchronous venue queues its reports as `EngineEvent::Broker` at once.
    fn submit(&mut self, cmd: &BrokerCommand, queue: &mut VecDeque<EngineEvent>);
}

/// Reusable buffers of the driver (one per run: no allocation per event).
#[derive(Debug, Default, Clone)]
pub struct Driver {
    queue: VecDeque<EngineEvent>,
    first: Vec<BrokerEvent>,
}

impl Driver {
    pub fn new() -> Self {
        Self::default()
    }

    /// Drives `event` through `venue` and `engine` (see the module doc), appending every
    /// engine action to `out`.
    pub fn step<V: Venue>(
        &mut self,
        engine: &mut Engine,
        venue: &mut V,
        event: EngineEvent,
        out: &mut Vec<Action>,
    ) {
        let mut first = std::mem::take(&mut self.first);
        first.clear();
        venue.reports_before(&event, &mut first);
        self.drive(
            engine,
            venue,
            &mut first,
            out,
            |engine, venue, out, queue| {
                venue.observe_event(engine, &event, queue);
                engine.process_into(event, out);
            },
        );
        self.first = first;
    }

    /// [`Driver::step`] for a quote the caller keeps: the same actions in the same order as
    /// `step(.., EngineEvent::Quote(q.clone()), ..)`, without copying the quote. The venue's
    /// `observe_event` does not see the quote itself (only the reports it causes).
    #[inline]
    pub fn step_quote<V: Venue>(
        &mut self,
        engine: &mut Engine,
        venue: &mut V,
        quote: &Quote,
        out: &mut Vec<Action>,
    ) {
        let mut first = std::mem::take(&mut self.first);
        first.clear();
        venue.reports_before_quote(quote, &mut first);
        self.drive(
            engine,
            venue,
            &mut first,
            out,
            |engine, _venue, out, _queue| {
                engine.process_quote_into(quote, out);
            },
        );
        self.first = first;
    }

    /// The venue's reports in `first`, then the event (`deliver`), then whatever they lead to.
    #[inline]
    fn drive<V: Venue>(
        &mut self,
        engine: &mut Engine,
        venue: &mut V,
        first: &mut Vec<BrokerEvent>,
        out: &mut Vec<Action>,
        deliver: impl FnOnce(&mut Engine, &mut V, &mut Vec<Action>, &mut VecDeque<EngineEvent>),
    ) {
        let mut queue = std::mem::take(&mut self.queue);
        queue.clear();
        if first.is_empty() {
            // The common case: nothing from the venue, and usually nothing for it.
            let start = out.len();
            deliver(engine, venue, out, &mut queue);
            if start == out.len() && queue.is_empty() {
                self.queue = queue;
                return;
            }
            after_actions(engine, venue, &out[start..], &mut queue);
        } else {
            let n = first.len();
            queue.extend(first.drain(..).map(EngineEvent::Broker));
            for _ in 0..n {
                if let Some(ev) = queue.pop_front() {
                    run_one(engine, venue, ev, out, &mut queue);
                }
            }
            let start = out.len();
            deliver(engine, venue, out, &mut queue);
            after_actions(engine, venue, &out[start..], &mut queue);
        }
        while let Some(ev) = queue.pop_front() {
            run_one(engine, venue, ev, out, &mut queue);
        }
        self.queue = queue;
    }
}

#[inline]
fn run_one<V: Venue>(
    engine: &mut Engine,
    venue: &mut V,
    event: EngineEvent,
    out: &mut Vec<Action>,
    queue: &mut VecDeque<EngineEvent>,
) {
    venue.observe_event(engine, &event, queue);
    let start = out.len();
    engine.process_into(event, out);
    after_actions(engine, venue, &out[start..], queue);
}

/// Observes each action in order; each broker command passes the write-ahead hook, then goes
/// to the venue.
#[inline]
fn after_actions<V: Venue>(
    engine: &Engine,
    venue: &mut V,
    actions: &[Action],
    queue: &mut VecDeque<EngineEvent>,
) {
    for a in actions {
        venue.observe_action(engine, a, queue);
        if let Action::Broker(cmd) = a {
            if venue.write_ahead(engine, cmd, queue) {
                venue.submit(cmd, queue);
            }
        }
    }
}
