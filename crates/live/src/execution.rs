//! The execution task: dealing requests run off the event loop. The loop hands each broker
//! command over (after journaling it) and goes back to quotes, timers and Ctrl-C; replies come
//! back through a bounded channel, one [`Completed`] per job, and enter the engine through the
//! same ordering driver as everything else.
//!
//! What keeps dealing safe with many requests in flight:
//! - at most one opening request in flight per instrument (later ones wait in order);
//! - closes (the kill switch's included) and close valuations never wait behind anything: they
//!   start at once and go first whenever the in-flight cap is reached;
//! - one resolution per deal reference at a time (a repeat is answered empty), and one stop or
//!   limit amendment per position (a newer queued amendment replaces an older one).

use std::collections::{HashMap, HashSet, VecDeque};

use scalper_engine::event::{AmendOrder, BrokerCommand, BrokerEvent};
use scalper_engine::Broker as _;
use scalper_ig::{IgBroker, IgClient};
use scalper_model::{DealId, DealReference, Direction, Epic};
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
    /// closing deal's level from the activity history, else report `estimate` as it is.
    ValueClose {
        estimate: BrokerEvent,
        direction: Direction,
    },
}

/// What one job led to (possibly nothing: a superseded amendment, a repeated resolution).
#[derive(Debug, Clone, Default)]
pub struct Completed {
    pub events: Vec<BrokerEvent>,
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
#[derive(Debug, Clone)]
enum Lane {
    Open(Epic),
    Amend(DealId),
    Resolve(DealReference),
    Free,
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
    /// Closes and close valuations.
    urgent: VecDeque<Job>,
    /// Amendments and resolutions.
    normal: VecDeque<Job>,
    /// Opening requests.
    entries: VecDeque<Job>,
    running: JoinSet<Vec<BrokerEvent>>,
    lanes: HashMap<tokio::task::Id, Running>,
    busy_epics: HashSet<Epic>,
    busy_deals: HashSet<DealId>,
    busy_refs: HashSet<DealReference>,
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
            urgent: VecDeque::new(),
            normal: VecDeque::new(),
            entries: VecDeque::new(),
            running: JoinSet::new(),
            lanes: HashMap::new(),
            busy_epics: HashSet::new(),
            busy_deals: HashSet::new(),
            busy_refs: HashSet::new(),
        }
    }

    async fn run(mut self) {
        let mut open = true;
        loop {
            self.dispatch();
            if !open && self.running.is_empty() && self.is_idle() {
                return;
            }
            tokio::select! {
                biased;
                job = self.jobs.recv(), if open => match job {
                    Some(job) => {
                        if let Some(skip) = self.enqueue(job) {
                            if self.done.send(skip).await.is_err() {
                                return;
                            }
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

    fn is_idle(&self) -> bool {
        self.urgent.is_empty() && self.normal.is_empty() && self.entries.is_empty()
    }

    /// Queues a job by priority. Returns an empty completion for a job that needs no request
    /// (a repeated resolution, or the older of two queued amendments of one position).
    fn enqueue(&mut self, job: Job) -> Option<Completed> {
        match &job {
            Job::Command(BrokerCommand::Open(_)) => self.entries.push_back(job),
            Job::Command(BrokerCommand::Close(_)) | Job::ValueClose { .. } => {
                self.urgent.push_back(job);
            }
            Job::Command(BrokerCommand::Resolve { deal_ref, .. }) => {
                let queued = self.normal.iter().any(|j| {
                    matches!(j, Job::Command(BrokerCommand::Resolve { deal_ref: r, .. }) if r == deal_ref)
                });
                if queued || self.busy_refs.contains(deal_ref) {
                    tracing::debug!(deal_ref = %deal_ref, "resolution already under way");
                    return Some(Completed::default());
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
                    return Some(Completed::default());
                }
                self.normal.push_back(job);
            }
        }
        None
    }

    /// Starts what can start, most urgent first, up to [`MAX_IN_FLIGHT`].
    fn dispatch(&mut self) {
        while self.running.len() < MAX_IN_FLIGHT {
            let Some(job) = self.take_startable() else {
                break;
            };
            self.start(job);
        }
    }

    fn take_startable(&mut self) -> Option<Job> {
        if let Some(j) = self.urgent.pop_front() {
            return Some(j);
        }
        if let Some(i) = self.normal.iter().position(|j| self.lane_free(j)) {
            return self.normal.remove(i);
        }
        let i = self.entries.iter().position(|j| self.lane_free(j))?;
        self.entries.remove(i)
    }

    fn lane_free(&self, job: &Job) -> bool {
        match job {
            Job::Command(BrokerCommand::Open(o)) => !self.busy_epics.contains(&o.epic),
            Job::Command(BrokerCommand::Amend(a)) => !self.busy_deals.contains(&a.deal_id),
            Job::Command(BrokerCommand::Resolve { deal_ref, .. }) => {
                !self.busy_refs.contains(deal_ref)
            }
            _ => true,
        }
    }

    fn start(&mut self, job: Job) {
        let (lane, on_panic) = match &job {
            Job::Command(BrokerCommand::Open(o)) => {
                self.busy_epics.insert(o.epic.clone());
                (Lane::Open(o.epic.clone()), unknown(&o.deal_ref))
            }
            Job::Command(BrokerCommand::Amend(a)) => {
                self.busy_deals.insert(a.deal_id.clone());
                (
                    Lane::Amend(a.deal_id.clone()),
                    vec![BrokerEvent::AmendRejected {
                        deal_id: a.deal_id.clone(),
                        reason: "the amendment's request task failed".into(),
                    }],
                )
            }
            Job::Command(BrokerCommand::Resolve { deal_ref, .. }) => {
                self.busy_refs.insert(deal_ref.clone());
                (Lane::Resolve(deal_ref.clone()), Vec::new())
            }
            Job::Command(BrokerCommand::Close(c)) => (Lane::Free, unknown(&c.deal_ref)),
            Job::ValueClose { estimate, .. } => (Lane::Free, vec![estimate.clone()]),
        };
        let mut broker = self.broker.clone();
        let client = self.client.clone();
        let handle = self.running.spawn(async move {
            match job {
                Job::Command(cmd) => broker.execute(cmd).await,
                Job::ValueClose {
                    estimate,
                    direction,
                } => vec![crate::closes::value_close(&client, estimate, direction).await],
            }
        });
        self.lanes.insert(handle.id(), Running { lane, on_panic });
    }

    fn finish(
        &mut self,
        res: Result<(tokio::task::Id, Vec<BrokerEvent>), tokio::task::JoinError>,
    ) -> Completed {
        let (id, events) = match res {
            Ok((id, events)) => (id, Some(events)),
            Err(e) => {
                tracing::error!(error = %e, "a dealing request task failed; its outcome is treated as unknown");
                (e.id(), None)
            }
        };
        let Some(running) = self.lanes.remove(&id) else {
            return Completed {
                events: events.unwrap_or_default(),
            };
        };
        match running.lane {
            Lane::Open(epic) => {
                self.busy_epics.remove(&epic);
            }
            Lane::Amend(deal_id) => {
                self.busy_deals.remove(&deal_id);
            }
            Lane::Resolve(r) => {
                self.busy_refs.remove(&r);
            }
            Lane::Free => {}
        }
        Completed {
            events: events.unwrap_or(running.on_panic),
        }
    }
}

fn unknown(deal_ref: &DealReference) -> Vec<BrokerEvent> {
    vec![BrokerEvent::OutcomeUnknown {
        deal_ref: deal_ref.clone(),
        detail: "the request task failed before the outcome was known".into(),
    }]
}
