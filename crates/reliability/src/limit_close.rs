//! The soak's silent-limit check: the stream goes silent and, meanwhile, IG closes an open
//! position at its limit (the OPU `DELETED` is never sent). The run that was trading must book
//! that close itself, during the run (its in-run reconciliation, not the next start), at the
//! level IG recorded in its activity history and with IG's cause (limit).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use scalper_journal::{Journal, OpenOptions};
use scalper_model::{DealId, DealState, Direction, Epic, Price};
use scalper_sandbox::bus::StreamFault;
use scalper_sandbox::SandboxHandle;
use serde::Serialize;

use crate::harness::ACCOUNT;

/// How long the stream stays silent (wall time): shorter than the engine's keep-alive watch
/// (the soak's 1 s keep-alive plus 3 s), so only the in-run reconciliation (every second) can
/// find the close.
const SILENCE_MS: u64 = 2_000;
/// How long the run has to book IG's close.
const BOOKING_LIMIT: Duration = Duration::from_secs(30);

/// What became of one silent limit close.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LimitCloseOutcome {
    pub deal_id: String,
    pub epic: String,
    /// The close level in IG's activity (channel `SYSTEM`).
    pub ig_level: Decimal,
    /// The close level and reason the journal booked.
    pub journal_level: Option<Decimal>,
    pub journal_reason: Option<String>,
    /// Booked by the run that was trading when IG closed the position.
    pub booked_during_run: bool,
    /// Why the check failed (`None`: booked during the run at IG's level, cause limit).
    pub problem: Option<String>,
}

/// A limit close IG made while the stream was silent, waiting for the run to book it.
#[derive(Debug)]
pub(crate) struct PendingLimitClose {
    deal_id: String,
    epic: String,
    ig_level: Decimal,
    /// The engine run that must book it.
    run: u32,
    journal_path: PathBuf,
    journal: Option<Journal>,
    deadline: Instant,
}

/// Silences the stream and moves the price of the oldest open position with a limit that the
/// run has journaled as open, with that limit, onto its limit, so IG closes it. `None` when there is no such
/// position, or IG did not close it at its limit (the engine closed it first): the caller
/// tries again later.
pub(crate) fn inject(
    sandbox: &SandboxHandle,
    run: u32,
    journal_path: &Path,
) -> Option<PendingLimitClose> {
    let journal = open_journal(journal_path)?;
    // Open in the journal with IG's limit: the run knows the position and where its limit is.
    let known_open = |deal_id: &str, limit: Option<Decimal>| {
        DealId::new(deal_id.to_string())
            .ok()
            .and_then(|id| journal.trade_by_deal_id(&id).ok().flatten())
            .is_some_and(|t| t.state == DealState::Open && t.limit_level.map(Price::value) == limit)
    };
    let state = sandbox.state();
    let p = state
        .account(ACCOUNT)?
        .positions
        .iter()
        .filter(|p| p.limit_level.is_some() && known_open(&p.deal_id, p.limit_level))
        .min_by_key(|p| p.created)?
        .clone();
    let limit = p.limit_level?;
    let epic = Epic::new(p.epic.clone()).ok()?;
    let q = sandbox.quote(&epic)?;
    let spread = q.offer.value() - q.bid.value();
    let (bid, offer) = match p.direction {
        // A long position is closed at the bid, a short one at the offer.
        Direction::Buy => (limit, limit + spread),
        Direction::Sell => (limit - spread, limit),
    };
    sandbox.stream_fault(StreamFault::Silence { millis: SILENCE_MS });
    sandbox.set_price(&epic, bid, offer).ok()?;
    // IG's own close of this position at its limit (not a stop that fired just before).
    let ig_level = sandbox
        .deal_activities(ACCOUNT, &p.deal_id)
        .iter()
        .rev()
        .find(|a| a.channel.as_deref() == Some("SYSTEM"))
        .and_then(|a| a.details.as_ref()?.level)
        .filter(|l| *l == limit)?;
    Some(PendingLimitClose {
        deal_id: p.deal_id,
        epic: p.epic,
        ig_level,
        run,
        journal_path: journal_path.to_path_buf(),
        journal: Some(journal),
        deadline: Instant::now() + BOOKING_LIMIT,
    })
}

/// The run's journal, read-only beside the running engine (`None` until it exists).
fn open_journal(path: &Path) -> Option<Journal> {
    let opts = OpenOptions {
        integrity_check: false,
        ..OpenOptions::read_only()
    };
    Journal::open(path, &opts).ok()
}

impl PendingLimitClose {
    /// The deal IG closed.
    pub(crate) fn deal_id(&self) -> &str {
        &self.deal_id
    }

    /// Looks the deal up in the journal (read-only, beside the running engine). `None` while
    /// the run `current_run` may still book it; the outcome once it did, or once it cannot any
    /// more (a restart came first, or the time is up).
    pub(crate) fn poll(&mut self, current_run: u32) -> Option<LimitCloseOutcome> {
        let booked = match self.booked() {
            Ok(b) => b,
            Err(problem) => return Some(self.outcome(None, Some(problem))),
        };
        match booked {
            Some((level, reason)) => {
                let problem = if level != Some(self.ig_level) {
                    Some(format!(
                        "booked at {} but IG closed it at {}",
                        level.map_or_else(|| "no level".into(), |l| l.to_string()),
                        self.ig_level
                    ))
                } else if !reason.as_deref().unwrap_or("").starts_with("limit") {
                    Some(format!(
                        "booked with reason {:?}, not IG's limit",
                        reason.as_deref().unwrap_or("")
                    ))
                } else {
                    None
                };
                let mut o = self.outcome(Some((level, reason)), problem);
                o.booked_during_run = current_run == self.run;
                if !o.booked_during_run {
                    o.problem = Some("booked only after the run was restarted".into());
                }
                Some(o)
            }
            None if current_run != self.run => Some(self.outcome(
                None,
                Some(format!(
                    "run {} ended before it booked IG's close (booked at a later start, if at all)",
                    self.run
                )),
            )),
            None if Instant::now() >= self.deadline => Some(self.outcome(
                None,
                Some(format!(
                    "not booked within {} s of IG's close (the run still shows it open)",
                    BOOKING_LIMIT.as_secs()
                )),
            )),
            None => None,
        }
    }

    /// The journal's close level and reason of the deal once it is closed there.
    #[allow(clippy::type_complexity)]
    fn booked(&mut self) -> Result<Option<(Option<Decimal>, Option<String>)>, String> {
        if self.journal.is_none() {
            self.journal = open_journal(&self.journal_path);
        }
        let Some(j) = &self.journal else {
            return Ok(None);
        };
        let id = DealId::new(self.deal_id.clone()).map_err(|e| e.to_string())?;
        let trade = j
            .trade_by_deal_id(&id)
            .map_err(|e| format!("reading the journal: {e}"))?;
        Ok(trade
            .filter(|t| t.state == DealState::Closed)
            .map(|t| (t.close_level.map(Price::value), t.reason)))
    }

    fn outcome(
        &self,
        booked: Option<(Option<Decimal>, Option<String>)>,
        problem: Option<String>,
    ) -> LimitCloseOutcome {
        let (journal_level, journal_reason) = booked.unwrap_or((None, None));
        LimitCloseOutcome {
            deal_id: self.deal_id.clone(),
            epic: self.epic.clone(),
            ig_level: self.ig_level,
            journal_level,
            journal_reason,
            booked_during_run: false,
            problem,
        }
    }
}
