//! Killing the engine at a chosen moment: at random, while a dealing request is in flight,
//! the instant the sandbox executes a deal whose response is lost, or while a close is in
//! flight.

use std::time::{Duration, Instant};

use scalper_sandbox::bus::{BusEvent, TradeKind};
use scalper_sandbox::{SandboxHandle, StateSnapshot};
use serde::Serialize;

use crate::error::ReliabilityError;
use crate::harness::{EngineProcess, Harness};

/// When to SIGKILL the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KillMoment {
    /// After a random delay.
    Random,
    /// While a dealing request is on its way (the sandbox holds it for 400 ms first).
    RequestInFlight,
    /// The instant the sandbox executes a deal whose response is lost: before the engine
    /// has journaled the confirm.
    AtExecution,
    /// Right after a close request reached the sandbox.
    WhileClosing,
}

impl KillMoment {
    pub const ALL: [KillMoment; 4] = [
        KillMoment::Random,
        KillMoment::RequestInFlight,
        KillMoment::AtExecution,
        KillMoment::WhileClosing,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Random => "random",
            Self::RequestInFlight => "request-in-flight",
            Self::AtExecution => "at-execution",
            Self::WhileClosing => "while-closing",
        }
    }
}

/// Dealing requests the sandbox has received so far (opens and closes).
pub fn dealing_requests(s: &StateSnapshot) -> u64 {
    s.requests
        .iter()
        .filter(|(k, _)| k.contains("/positions/otc"))
        .map(|(_, v)| *v)
        .sum()
}

/// Close requests the sandbox has received so far.
fn close_requests(s: &StateSnapshot) -> u64 {
    s.requests
        .iter()
        .filter(|(k, _)| k.starts_with("DELETE") && k.contains("/positions/otc"))
        .map(|(_, v)| *v)
        .sum()
}

/// Waits for `moment` (at most `limit`; `random` is the delay for [`KillMoment::Random`]),
/// calling `sample` on every sandbox state seen meanwhile, then SIGKILLs the engine. Returns
/// whether the moment came (false: killed at the deadline instead). An engine that exits by
/// itself before is an error carrying its output.
pub async fn kill_at(
    harness: &Harness,
    sandbox: &SandboxHandle,
    proc: &mut EngineProcess,
    moment: KillMoment,
    random: Duration,
    limit: Duration,
    mut sample: impl FnMut(&StateSnapshot),
) -> Result<bool, ReliabilityError> {
    let start = sandbox.state();
    let mut bus = sandbox.subscribe();
    match moment {
        KillMoment::RequestInFlight => sandbox.inject_faults("latency:400ms")?,
        KillMoment::AtExecution => sandbox.inject_faults("drop-deal-response:1")?,
        KillMoment::Random | KillMoment::WhileClosing => {}
    }
    let deadline = Instant::now()
        + match moment {
            KillMoment::Random => random,
            _ => limit,
        };
    let mut hit = moment == KillMoment::Random;
    loop {
        if let Some(status) = proc.try_wait()? {
            sandbox.clear_faults();
            return Err(ReliabilityError::EngineExited {
                status,
                output: harness.output_of(proc.run),
            });
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        if moment == KillMoment::AtExecution {
            // React to the execution itself, not to a poll of the state.
            let wait = (deadline - now).min(Duration::from_millis(20));
            if let Ok(Ok(BusEvent::Trade {
                kind: TradeKind::Confirms,
                ..
            })) = tokio::time::timeout(wait, bus.recv()).await
            {
                hit = true;
                break;
            }
        } else {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let s = sandbox.state();
        sample(&s);
        let came = match moment {
            KillMoment::RequestInFlight => dealing_requests(&s) > dealing_requests(&start),
            KillMoment::WhileClosing => close_requests(&s) > close_requests(&start),
            KillMoment::Random | KillMoment::AtExecution => false,
        };
        if came {
            hit = true;
            break;
        }
    }
    proc.kill()?;
    sandbox.clear_faults();
    if moment == KillMoment::RequestInFlight && hit {
        // The held request is executed (or dropped with its connection) when the 400 ms pass:
        // wait for its confirm, so the next start sees the broker as it will stay.
        let until = Instant::now() + Duration::from_millis(1_500);
        while let Ok(Ok(ev)) =
            tokio::time::timeout(until.saturating_duration_since(Instant::now()), bus.recv()).await
        {
            if let BusEvent::Trade {
                kind: TradeKind::Confirms,
                ..
            } = ev
            {
                break;
            }
        }
    }
    sample(&sandbox.state());
    harness.note(&format!(
        "run {}: SIGKILL {} after {} ms (moment {})",
        proc.run,
        moment.name(),
        proc.started.elapsed().as_millis(),
        if hit { "hit" } else { "not reached" }
    ));
    Ok(hit)
}
