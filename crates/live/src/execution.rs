//! The execution task: dealing requests run off the event loop. The loop hands each broker
//! command over (after journaling it) and goes back to quotes, timers and Ctrl-C; replies come
//! back through a bounded channel, one [`Completed`] per job, and enter the engine through the
//! same ordering driver as everything else.
//!
//! What keeps dealing safe with many requests in flight:
//! - at most one opening request in flight per instrument (later ones wait in order), and none
//!   while a close on that instrument is in flight (a reversal closes before it opens);
//! - closes (the kill switch's included) and close valuations never wait behind anything: they
//!   start at once and go first whenever the in-flight cap is reached;
//! - one resolution per deal reference at a time (a repeat is answered empty), and one stop or
//!   limit amendment per position (a newer queued amendment replaces an older one).

use std::collections::{HashMap, HashSet, VecDeque};

use scalper_engine::event::{AmendOrder, BrokerCommand, BrokerEvent};
use scalper_engine::Broker as _;
use scalper_ig::{IgBroker, IgClient};
use scalper_model::{DealId, DealReference, Epic, RejectReason, Timestamp};

use crate::closes::{GoneClose, Reconciled, ValuedClose};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

/// How many dealing requests may be in flight at once (IG's own rate limiter paces them).
pub const MAX_IN_FLIGHT: usize = 16;
/// Jobs waiting to be taken by the task (far above what an engine issues between two loop
/// turns; a full queue means the task is gone and the job is refused, never blocked on).
const JOB_QUEUE: usize = 1024;
/// Completions waiting for the loop.
const REPLY_QUEUE: usize = 256;

/// Work for the execution task.
#[derive(Debug, Clone)]
pub enum Job {
    /// A broker command the engine issued (already journaled).
    Command(BrokerCommand),
    /// A position the broker closed by itself (stop, limit, platform): value the close at the
    /// closing deal's level and cause from IG's activity history, else report the estimate.
    ValueClose(GoneClose),
    /// The in-run reconciliation: compare IG's positions with `held` (the engine's open
    /// positions) and value each one IG no longer has; list IG's positions not in `managed`.
    Reconcile {
        held: Vec<GoneClose>,
        managed: Vec<DealId>,
    },
    /// Read these markets' dealing rules and status again (`GET /markets/{epic}`).
    RefreshMarkets(Vec<Epic>),
}

/// A market's dealing rules and status as IG gives them now.
#[derive(Debug, Clone)]
pub struct MarketNow {
    pub epic: Epic,
    pub rules: scalper_model::DealingRules,
    pub status: scalper_model::MarketStatus,
    /// IG's `openingHours` pairs (empty: none).
    pub opening_hours: Vec<(String, String)>,
}

/// What one job led to (possibly nothing: a superseded amendment, a repeated resolution).
#[derive(Debug, Clone, Default)]
pub struct Completed {
    pub events: Vec<BrokerEvent>,
    /// Why the broker closed positions (from IG's history), by deal id, for the journal.
    pub close_reasons: Vec<(DealId, String)>,
    /// What a [`Job::Reconcile`] found (`None` for other jobs, or when `/positions` failed).
    pub reconciled: Option<Reconciled>,
    /// What a [`Job::RefreshMarkets`] read (markets whose read failed are left out).
    pub markets: Vec<MarketNow>,
    /// When an opening request went out, was acknowledged and confirmed (wall clock).
    pub timing: Option<Box<DealTiming>>,
}

/// The wall-clock times of one opening request (the journal's execution record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DealTiming {
    pub deal_ref: DealReference,
    pub sent_at: Timestamp,
    /// IG's answer with the deal reference (`None`: lost, refused, or paper).
    pub acked_at: Option<Timestamp>,
    /// The outcome (accepted or rejected) was known (`None`: still unknown).
    pub confirmed_at: Option<Timestamp>,
}

/// The wall clock, for latencies (the run's own clock follows the quotes' times).
#[allow(clippy::disallowed_methods)] // latency measurements, not trading time
pub(crate) fn wall_now() -> Timestamp {
    Timestamp::from_millis(chrono::Utc::now().timestamp_millis())
}

impl Completed {
    fn events(events: Vec<BrokerEvent>) -> Self {
        Self {
            events,
            ..Self::default()
        }
    }

    fn valued(closes: Vec<ValuedClose>) -> Self {
        let mut out = Self::default();
        for v in closes {
            if let BrokerEvent::PositionClosed { deal_id, .. } = &v.event {
                out.close_reasons.push((deal_id.clone(), v.reason));
            }
            out.events.push(v.event);
        }
        out
    }
}

/// The event loop's side of the execution task.
#[derive(Debug)]
pub struct Execution {
    jobs: mpsc::Sender<Job>,
    done: mpsc::Receiver<Completed>,
    outstanding: usize,
    task: JoinHandle<()>,
}

impl Execution {
    /// Starts the task on the current tokio runtime.
    pub fn start(broker: IgBroker) -> Self {
        let (jobs, jobs_rx) = mpsc::channel(JOB_QUEUE);
        let (done_tx, done) = mpsc::channel(REPLY_QUEUE);
        let client = broker.client().clone();
        let task = tokio::spawn(Task::new(broker, client, jobs_rx, done_tx).run());
        Self {
            jobs,
            done,
            outstanding: 0,
            task,
        }
    }

    /// Hands a job over without waiting. `Err` gives the job back when the task cannot take it.
    pub fn send(&mut self, job: Job) -> Result<(), Box<Job>> {
        match self.jobs.try_send(job) {
            Ok(()) => {
                self.outstanding += 1;
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(j) | mpsc::error::TrySendError::Closed(j)) => {
                Err(Box::new(j))
            }
        }
    }

    /// The next completed job; pending forever while nothing is outstanding.
    pub async fn next(&mut self) -> Completed {
        if self.outstanding == 0 {
            std::future::pending::<()>().await;
        }
        if let Some(c) = self.done.recv().await {
            self.outstanding -= 1;
            return c;
        }
        // The task is gone: nothing more will come.
        self.outstanding = 0;
        tracing::error!("the execution task stopped with requests outstanding");
        Completed::default()
    }

    /// Jobs handed over and not yet completed.
    pub fn outstanding(&self) -> usize {
        self.outstanding
    }
}

impl Drop for Execution {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Which lane a running job holds.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Lane {
    Open(Epic),
    Close(Epic),
    Amend(DealId),
    Resolve(DealReference),
    Free,
}

/// The execution task's rules, without I/O: queues by priority and the lanes that keep
/// requests on one instrument, position or reference apart.
#[derive(Debug, Default)]
struct Scheduler {
    /// Closes and close valuations.
    urgent: VecDeque<Job>,
    /// Amendments and resolutions.
    normal: VecDeque<Job>,
    /// Opening requests.
    entries: VecDeque<Job>,
    running: usize,
    opening: HashSet<Epic>,
    /// Closes in flight per instrument.
    closing: HashMap<Epic, u32>,
    amending: HashSet<DealId>,
    resolving: HashSet<DealReference>,
}

impl Scheduler {
    fn is_idle(&self) -> bool {
        self.running == 0
            && self.urgent.is_empty()
            && self.normal.is_empty()
            && self.entries.is_empty()
    }

    /// Queues a job by priority. Returns `false` for a job that needs no request (a repeated
    /// resolution, or an amendment replacing a queued one of the same position): its
    /// completion is empty.
    fn enqueue(&mut self, job: Job) -> bool {
        match &job {
            Job::Command(BrokerCommand::Open(_)) => self.entries.push_back(job),
            Job::Command(BrokerCommand::Close(_)) | Job::ValueClose(_) | Job::Reconcile { .. } => {
                self.urgent.push_back(job);
            }
            Job::RefreshMarkets(_) => self.normal.push_back(job),
            Job::Command(BrokerCommand::Resolve { deal_ref, .. }) => {
                let queued = self.normal.iter().any(|j| {
                    matches!(j, Job::Command(BrokerCommand::Resolve { deal_ref: r, .. }) if r == deal_ref)
                });
                if queued || self.resolving.contains(deal_ref) {
                    tracing::debug!(deal_ref = %deal_ref, "resolution already under way");
                    return false;
                }
                self.normal.push_back(job);
            }
            Job::Command(BrokerCommand::Amend(a)) => {
                let older = self.normal.iter_mut().find(|j| {
                    matches!(j, Job::Command(BrokerCommand::Amend(AmendOrder { deal_id, .. })) if *deal_id == a.deal_id)
                });
                if let Some(older) = older {
                    tracing::debug!(deal_id = %a.deal_id, "a newer amendment replaces a queued one");
                    *older = job;
                    return false;
                }
                self.normal.push_back(job);
            }
        }
        true
    }

    /// The next job that may start now, most urgent first, taking its lane; `None` at the
    /// in-flight cap or when every queued job waits for a lane.
    fn next(&mut self) -> Option<(Job, Lane)> {
        if self.running >= MAX_IN_FLIGHT {
            return None;
        }
        let job = if let Some(j) = self.urgent.pop_front() {
            j
        } else if let Some(i) = self.normal.iter().position(|j| self.lane_free(j)) {
            self.normal.remove(i)?
        } else {
            let i = self.entries.iter().position(|j| self.lane_free(j))?;
            self.entries.remove(i)?
        };
        let lane = match &job {
            Job::Command(BrokerCommand::Open(o)) => {
                self.opening.insert(o.epic.clone());
                Lane::Open(o.epic.clone())
            }
            Job::Command(BrokerCommand::Close(c)) => {
                *self.closing.entry(c.epic.clone()).or_default() += 1;
                Lane::Close(c.epic.clone())
            }
            Job::Command(BrokerCommand::Amend(a)) => {
                self.amending.insert(a.deal_id.clone());
                Lane::Amend(a.deal_id.clone())
            }
            Job::Command(BrokerCommand::Resolve { deal_ref, .. }) => {
                self.resolving.insert(deal_ref.clone());
                Lane::Resolve(deal_ref.clone())
            }
            Job::ValueClose(_) | Job::Reconcile { .. } | Job::RefreshMarkets(_) => Lane::Free,
        };
        self.running += 1;
        Some((job, lane))
    }

    fn lane_free(&self, job: &Job) -> bool {
        match job {
            Job::Command(BrokerCommand::Open(o)) => {
                !self.opening.contains(&o.epic) && !self.closing.contains_key(&o.epic)
            }
            Job::Command(BrokerCommand::Amend(a)) => !self.amending.contains(&a.deal_id),
            Job::Command(BrokerCommand::Resolve { deal_ref, .. }) => {
                !self.resolving.contains(deal_ref)
            }
            _ => true,
        }
    }

    /// A job holding `lane` finished.
    fn release(&mut self, lane: &Lane) {
        self.running = self.running.saturating_sub(1);
        match lane {
            Lane::Open(epic) => {
                self.opening.remove(epic);
            }
            Lane::Close(epic) => {
                if let Some(n) = self.closing.get_mut(epic) {
                    *n -= 1;
                    if *n == 0 {
                        self.closing.remove(epic);
                    }
                }
            }
            Lane::Amend(deal_id) => {
                self.amending.remove(deal_id);
            }
            Lane::Resolve(r) => {
                self.resolving.remove(r);
            }
            Lane::Free => {}
        }
    }
}

struct Running {
    lane: Lane,
    /// What the engine learns if the request task dies (a bug): an unknown outcome, never a
    /// silent loss.
    on_panic: Vec<BrokerEvent>,
}

struct Task {
    broker: IgBroker,
    client: IgClient,
    jobs: mpsc::Receiver<Job>,
    done: mpsc::Sender<Completed>,
    sched: Scheduler,
    running: JoinSet<Completed>,
    lanes: HashMap<tokio::task::Id, Running>,
}

impl Task {
    fn new(
        broker: IgBroker,
        client: IgClient,
        jobs: mpsc::Receiver<Job>,
        done: mpsc::Sender<Completed>,
    ) -> Self {
        Self {
            broker,
            client,
            jobs,
            done,
            sched: Scheduler::default(),
            running: JoinSet::new(),
            lanes: HashMap::new(),
        }
    }

    async fn run(mut self) {
        let mut open = true;
        loop {
            while let Some((job, lane)) = self.sched.next() {
                self.start(job, lane);
            }
            if !open && self.sched.is_idle() {
                return;
            }
            tokio::select! {
                biased;
                job = self.jobs.recv(), if open => match job {
                    Some(job) => {
                        if !self.sched.enqueue(job)
                            && self.done.send(Completed::default()).await.is_err()
                        {
                            return;
                        }
                    }
                    None => open = false,
                },
                Some(res) = self.running.join_next_with_id(), if !self.running.is_empty() => {
                    let completed = self.finish(res);
                    if self.done.send(completed).await.is_err() {
                        return;
                    }
                }
            }
        }
    }

    fn start(&mut self, job: Job, lane: Lane) {
        let on_panic = match &job {
            Job::Command(BrokerCommand::Open(o)) => unknown(&o.deal_ref),
            Job::Command(BrokerCommand::Close(c)) => unknown(&c.deal_ref),
            Job::Command(BrokerCommand::Amend(a)) => vec![BrokerEvent::AmendRejected {
                deal_id: a.deal_id.clone(),
                reason: RejectReason::Refused("the amendment's request task failed".into()),
                detail: None,
            }],
            Job::Command(BrokerCommand::Resolve { .. })
            | Job::Reconcile { .. }
            | Job::RefreshMarkets(_) => Vec::new(),
            Job::ValueClose(g) => vec![g.estimate.clone()],
        };
        let mut broker = self.broker.clone();
        let client = self.client.clone();
        let handle = self.running.spawn(async move {
            match job {
                Job::Command(cmd) => {
                    let (opening, reference) = match &cmd {
                        BrokerCommand::Open(o) => (true, Some(o.deal_ref.clone())),
                        BrokerCommand::Close(c) => (false, Some(c.deal_ref.clone())),
                        BrokerCommand::Amend(_) | BrokerCommand::Resolve { .. } => (false, None),
                    };
                    let sent_at = wall_now();
                    let events = broker.execute(cmd).await;
                    let acked_at = reference.as_ref().and_then(|r| client.take_acked_at(r));
                    let timing = reference.filter(|_| opening).map(|deal_ref| {
                        let known = events.iter().any(|e| {
                            matches!(e, BrokerEvent::Accepted { deal_ref: r, .. }
                                | BrokerEvent::Rejected { deal_ref: r, .. } if *r == deal_ref)
                        });
                        Box::new(DealTiming {
                            deal_ref,
                            sent_at,
                            acked_at,
                            confirmed_at: known.then(wall_now),
                        })
                    });
                    Completed {
                        timing,
                        ..Completed::events(events)
                    }
                }
                Job::ValueClose(g) => {
                    Completed::valued(vec![crate::closes::value_close(&client, g).await])
                }
                Job::RefreshMarkets(epics) => Completed {
                    markets: refresh_markets(&client, &epics).await,
                    ..Completed::default()
                },
                Job::Reconcile { held, managed } => {
                    match crate::closes::reconcile(&client, held, managed).await {
                        Some(mut r) => {
                            let mut out = Completed::valued(std::mem::take(&mut r.closed));
                            out.reconciled = Some(r);
                            out
                        }
                        None => Completed::default(),
                    }
                }
            }
        });
        self.lanes.insert(handle.id(), Running { lane, on_panic });
    }

    fn finish(
        &mut self,
        res: Result<(tokio::task::Id, Completed), tokio::task::JoinError>,
    ) -> Completed {
        let (id, done) = match res {
            Ok((id, done)) => (id, Some(done)),
            Err(e) => {
                tracing::error!(error = %e, "a dealing request task failed; its outcome is treated as unknown");
                (e.id(), None)
            }
        };
        let Some(running) = self.lanes.remove(&id) else {
            return done.unwrap_or_default();
        };
        self.sched.release(&running.lane);
        done.unwrap_or_else(|| Completed::events(running.on_panic))
    }
}

/// Reads each market's details; one that fails is logged and left out (the last rules stay).
async fn refresh_markets(client: &IgClient, epics: &[Epic]) -> Vec<MarketNow> {
    let mut out = Vec::with_capacity(epics.len());
    for epic in epics {
        match client.market(epic).await {
            Ok(m) => out.push(MarketNow {
                epic: epic.clone(),
                rules: m.instrument.rules,
                status: m.status,
                opening_hours: m.opening_hours,
            }),
            Err(e) => {
                tracing::warn!(epic = %epic, error = %e, "cannot read the market's dealing rules again; keeping the last ones");
            }
        }
    }
    out
}

fn unknown(deal_ref: &DealReference) -> Vec<BrokerEvent> {
    vec![BrokerEvent::OutcomeUnknown {
        deal_ref: deal_ref.clone(),
        detail: "the request task failed before the outcome was known".into(),
    }]
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rust_decimal::Decimal;
    use scalper_engine::event::{CloseOrder, OpenOrder};
    use scalper_model::{Direction, Price, Size};

    use super::*;

    fn epic(n: &str) -> Epic {
        Epic::new(format!("CS.D.{n}.CFD.IP")).unwrap()
    }

    fn r(n: u32) -> DealReference {
        DealReference::new(format!("T-{n}")).unwrap()
    }

    fn open(n: u32, e: &str) -> Job {
        Job::Command(BrokerCommand::Open(OpenOrder {
            deal_ref: r(n),
            epic: epic(e),
            direction: Direction::Buy,
            size: Size::new(Decimal::ONE),
            stop_distance: None,
            limit_distance: None,
            currency: Arc::from("USD"),
            expiry: Arc::from("-"),
            stop_kind: scalper_engine::StopKind::Normal,
        }))
    }

    fn close(n: u32, e: &str) -> Job {
        Job::Command(BrokerCommand::Close(CloseOrder {
            deal_ref: r(n),
            deal_id: DealId::new(format!("D{n}")).unwrap(),
            epic: epic(e),
            direction: Direction::Sell,
            size: Size::new(Decimal::ONE),
            expiry: Arc::from("-"),
        }))
    }

    fn amend(deal: u32, stop: i64) -> Job {
        Job::Command(BrokerCommand::Amend(AmendOrder {
            deal_id: DealId::new(format!("D{deal}")).unwrap(),
            epic: epic("EURUSD"),
            stop_level: Some(Price::new(Decimal::new(stop, 4))),
            limit_level: None,
        }))
    }

    fn resolve(n: u32) -> Job {
        Job::Command(BrokerCommand::Resolve {
            deal_ref: r(n),
            epic: epic("EURUSD"),
        })
    }

    fn name(job: &Job) -> String {
        match job {
            Job::Command(BrokerCommand::Open(o)) => format!("open {}", o.deal_ref),
            Job::Command(BrokerCommand::Close(c)) => format!("close {}", c.deal_ref),
            Job::Command(BrokerCommand::Amend(a)) => format!("amend {:?}", a.stop_level),
            Job::Command(BrokerCommand::Resolve { deal_ref, .. }) => format!("resolve {deal_ref}"),
            Job::ValueClose(_) => "value".into(),
            Job::Reconcile { .. } => "reconcile".into(),
            Job::RefreshMarkets(_) => "refresh".into(),
        }
    }

    /// Starts everything startable; returns the names and lanes in order.
    fn drain(s: &mut Scheduler) -> (Vec<String>, Vec<Lane>) {
        let mut names = Vec::new();
        let mut lanes = Vec::new();
        while let Some((job, lane)) = s.next() {
            names.push(name(&job));
            lanes.push(lane);
        }
        (names, lanes)
    }

    #[test]
    fn one_opening_request_per_instrument_others_go_on() {
        let mut s = Scheduler::default();
        for j in [open(1, "EURUSD"), open(2, "EURUSD"), open(3, "GBPUSD")] {
            assert!(s.enqueue(j));
        }
        let (names, lanes) = drain(&mut s);
        assert_eq!(names, ["open T-1", "open T-3"]);
        s.release(&lanes[0]);
        assert_eq!(drain(&mut s).0, ["open T-2"]);
    }

    #[test]
    fn closes_go_first_and_a_reversal_closes_before_it_opens() {
        let mut s = Scheduler::default();
        assert!(s.enqueue(open(1, "GBPUSD")));
        assert!(s.enqueue(close(2, "EURUSD")));
        assert!(s.enqueue(open(3, "EURUSD")));
        let (names, lanes) = drain(&mut s);
        // The close first; the EUR/USD entry waits for it, the GBP/USD one does not.
        assert_eq!(names, ["close T-2", "open T-1"]);
        s.release(&lanes[0]);
        assert_eq!(drain(&mut s).0, ["open T-3"]);
    }

    #[test]
    fn at_the_cap_closes_start_before_queued_entries() {
        let mut s = Scheduler::default();
        let names = [
            "EURUSD", "GBPUSD", "USDJPY", "AUDUSD", "EURGBP", "USDCHF", "USDCAD", "NZDUSD",
            "EURJPY", "GBPJPY", "EURCHF", "AUDJPY", "CADJPY", "CHFJPY", "EURAUD", "GBPAUD",
            "GBPCHF",
        ];
        for (i, e) in names.iter().enumerate() {
            assert!(s.enqueue(open(i as u32, e)));
        }
        let (started, lanes) = drain(&mut s);
        assert_eq!(started.len(), MAX_IN_FLIGHT);
        assert!(s.enqueue(close(99, "EURUSD")));
        assert!(s.next().is_none(), "nothing starts above the cap");
        s.release(&lanes[3]);
        // The close takes the free slot ahead of the entry queued before it.
        assert_eq!(drain(&mut s).0, ["close T-99"]);
    }

    #[test]
    fn a_resolution_runs_once_and_a_newer_amendment_replaces_a_queued_one() {
        let mut s = Scheduler::default();
        assert!(s.enqueue(resolve(1)));
        assert!(!s.enqueue(resolve(1)), "queued twice");
        assert!(s.enqueue(amend(7, 11_000)));
        let (names, lanes) = drain(&mut s);
        assert_eq!(names, ["resolve T-1", "amend Some(Price(1.1000))"]);
        assert!(!s.enqueue(resolve(1)), "already in flight");
        assert!(
            s.enqueue(amend(7, 11_001)),
            "the first amendment is in flight, not queued"
        );
        assert!(!s.enqueue(amend(7, 11_002)), "replaces the queued one");
        assert!(
            drain(&mut s).0.is_empty(),
            "one amendment per position in flight"
        );
        s.release(&lanes[1]);
        assert_eq!(drain(&mut s).0, ["amend Some(Price(1.1002))"]);
        s.release(&lanes[0]);
        assert!(
            s.enqueue(resolve(1)),
            "resolving again once the first answered"
        );
    }
}
