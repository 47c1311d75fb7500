//! The soak's seeded fault schedule in simulated time: every kind of IG failure at its own
//! rate, each kind at least once whatever the duration, one weekend maintenance, and the
//! SIGKILLs spread evenly.

use rand::Rng as _;
use rand_chacha::ChaCha8Rng;
use scalper_sandbox::bus::StreamFault;
use scalper_sandbox::SandboxHandle;

use crate::error::ReliabilityError;
use crate::kill::KillMoment;

pub(crate) const MINUTE_MS: i64 = 60_000;
pub(crate) const HOUR_MS: i64 = 3_600_000;

/// One scheduled fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Invalidate every token (IG's session expiry mid-run).
    InvalidateTokens,
    /// IG's weekend maintenance: every token invalid, the stream dropped, a 503 storm.
    WeekendMaintenance,
    /// REST faults through the sandbox's fault grammar (`http500:2`, `timeout:1`, ...).
    Rest {
        kind: &'static str,
        spec: &'static str,
    },
    /// Confirms delayed for a while (`confirm-delay`), reset by `ConfirmDelayEnd`.
    ConfirmDelay,
    ConfirmDelayEnd,
    StreamDrop,
    StreamSilence,
    StreamEnd,
    /// The stream goes silent and, meanwhile, IG closes an open position at its limit: the
    /// run must book it from its in-run reconciliation, at IG's level.
    SilenceLimitClose,
    /// SIGKILL the engine at this moment and restart it.
    Kill(KillMoment),
}

impl Fault {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::InvalidateTokens => "token-invalidation",
            Self::WeekendMaintenance => "weekend-maintenance",
            Self::Rest { kind, .. } => kind,
            Self::ConfirmDelay => "confirm-delay",
            Self::ConfirmDelayEnd => "confirm-delay-end",
            Self::StreamDrop => "stream-drop",
            Self::StreamSilence => "stream-silence",
            Self::StreamEnd => "stream-end",
            Self::SilenceLimitClose => "silence-limit-close",
            Self::Kill(_) => "sigkill",
        }
    }

    /// Whether the fault is counted (the end of a confirm delay is part of the delay).
    pub(crate) fn counted(self) -> bool {
        self != Self::ConfirmDelayEnd
    }
}

/// A fault kind that recurs every `lo..=hi` simulated minutes.
struct Every {
    fault: Fault,
    lo_min: i64,
    hi_min: i64,
}

const fn every(fault: Fault, lo_min: i64, hi_min: i64) -> Every {
    Every {
        fault,
        lo_min,
        hi_min,
    }
}

const fn rest(kind: &'static str, spec: &'static str) -> Fault {
    Fault::Rest { kind, spec }
}

/// The recurring faults and their rates (simulated minutes between two of a kind).
const RECURRING: [Every; 12] = [
    every(Fault::InvalidateTokens, 60, 360),
    every(rest("http500", "http500:2"), 60, 270),
    every(rest("http503", "http503:2"), 60, 270),
    every(rest("timeout", "timeout:1"), 60, 270),
    every(rest("drop-deal-response", "drop-deal-response:1"), 30, 120),
    every(Fault::ConfirmDelay, 120, 360),
    every(rest("lose-confirm", "lose-confirm:1"), 120, 360),
    every(Fault::StreamDrop, 180, 720),
    every(Fault::StreamSilence, 180, 720),
    every(Fault::StreamEnd, 180, 720),
    every(rest("rate-limit-storm", "rate-limit:8"), 120, 360),
    every(Fault::SilenceLimitClose, 120, 480),
];

/// How long a confirm delay lasts, simulated.
const CONFIRM_DELAY_MS: i64 = 10 * MINUTE_MS;

/// The seeded schedule: (simulated offset from the start in ms, fault), sorted. Every
/// recurring kind comes at least once (a run shorter than its period gets one at a random
/// moment between 5% and 90% of the run), the weekend maintenance once in the second half,
/// and `kills` (at least 1) SIGKILLs at even intervals, their moments in turn.
pub(crate) fn schedule(rng: &mut ChaCha8Rng, total_ms: i64, kills: u32) -> Vec<(i64, Fault)> {
    let mut out: Vec<(i64, Fault)> = Vec::new();
    for e in &RECURRING {
        let (lo, hi) = (e.lo_min * MINUTE_MS, e.hi_min * MINUTE_MS);
        let mut t = rng.gen_range(lo / 2..=hi / 2);
        if t >= total_ms {
            t = rng.gen_range(total_ms / 20..=total_ms * 9 / 10);
        }
        while t < total_ms {
            out.push((t, e.fault));
            t += rng.gen_range(lo..=hi);
        }
    }
    let weekend = rng.gen_range(total_ms / 2..=total_ms * 3 / 4);
    out.push((weekend, Fault::WeekendMaintenance));
    let ends: Vec<(i64, Fault)> = out
        .iter()
        .filter(|(_, f)| *f == Fault::ConfirmDelay)
        .map(|(t, _)| (t + CONFIRM_DELAY_MS, Fault::ConfirmDelayEnd))
        .collect();
    out.extend(ends);
    let kills = kills.max(1);
    for k in 0..kills {
        let at = total_ms * i64::from(k + 1) / i64::from(kills + 1);
        let moment = KillMoment::ALL[(k as usize + 1) % KillMoment::ALL.len()];
        out.push((at, Fault::Kill(moment)));
    }
    out.sort_by_key(|(t, _)| *t);
    out
}

/// Every kind the schedule holds (by name), for the "fired while positions were open" check.
pub(crate) fn kinds(plan: &[(i64, Fault)]) -> std::collections::BTreeSet<&'static str> {
    plan.iter()
        .filter(|(_, f)| f.counted())
        .map(|(_, f)| f.name())
        .collect()
}

/// How long a stream silence lasts (wall time: the engine's keep-alive watch is wall time):
/// longer than the soak's 1 s keep-alive plus the client's 3 s grace, so the engine notices.
pub(crate) const SILENCE_MS: u64 = 9_000;

/// Fires a fault that needs nothing but the sandbox (not a kill, not a limit close).
pub(crate) fn fire(sandbox: &SandboxHandle, fault: Fault) -> Result<(), ReliabilityError> {
    match fault {
        Fault::InvalidateTokens => {
            sandbox.invalidate_tokens();
        }
        Fault::WeekendMaintenance => {
            sandbox.invalidate_tokens();
            sandbox.stream_fault(StreamFault::DropConnections);
            sandbox.inject_faults("http503:3")?;
        }
        Fault::Rest { spec, .. } => sandbox.inject_faults(spec)?,
        Fault::ConfirmDelay => sandbox.inject_faults("confirm-delay:3s")?,
        Fault::ConfirmDelayEnd => sandbox.inject_faults("confirm-delay:0ms")?,
        Fault::StreamDrop => sandbox.stream_fault(StreamFault::DropConnections),
        Fault::StreamSilence => sandbox.stream_fault(StreamFault::Silence { millis: SILENCE_MS }),
        Fault::StreamEnd => sandbox.stream_fault(StreamFault::End { cause: 41 }),
        Fault::SilenceLimitClose | Fault::Kill(_) => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng as _;

    fn plan(seed: u64, hours: i64, kills: u32) -> Vec<(i64, Fault)> {
        schedule(&mut ChaCha8Rng::seed_from_u64(seed), hours * HOUR_MS, kills)
    }

    #[test]
    fn the_schedule_is_sorted_seeded_and_holds_every_kill() {
        let a = plan(1, 24, 3);
        assert_eq!(a, plan(1, 24, 3), "same seed, same schedule");
        assert_ne!(a, plan(2, 24, 3));
        assert!(a.windows(2).all(|w| w[0].0 <= w[1].0), "sorted by time");
        assert!(a
            .iter()
            .all(|(t, _)| (0..=24 * HOUR_MS + CONFIRM_DELAY_MS).contains(t)));
        let count = |f: Fault| a.iter().filter(|(_, g)| *g == f).count();
        let kills = a
            .iter()
            .filter(|(_, f)| matches!(f, Fault::Kill(_)))
            .count();
        assert_eq!(kills, 3);
        assert_eq!(count(Fault::WeekendMaintenance), 1);
        assert_eq!(count(Fault::ConfirmDelay), count(Fault::ConfirmDelayEnd));
    }

    #[test]
    fn every_kind_comes_at_least_once_even_in_a_short_run() {
        let all: Vec<&str> = RECURRING
            .iter()
            .map(|e| e.fault.name())
            .chain(["weekend-maintenance", "sigkill"])
            .collect();
        for (seed, hours) in [(1, 1), (5, 2), (9, 24)] {
            let p = plan(seed, hours, 3);
            let k = kinds(&p);
            for name in &all {
                assert!(k.contains(name), "{name} missing at {hours} h: {p:?}");
            }
            assert!(p.iter().all(|(t, f)| !f.counted() || *t < hours * HOUR_MS));
        }
        // A day holds many of the frequent kinds.
        let day = plan(3, 24, 3);
        let drops = day
            .iter()
            .filter(|(_, f)| f.name() == "drop-deal-response")
            .count();
        assert!(drops >= 10, "{drops}");
    }

    #[test]
    fn at_least_one_kill_is_scheduled() {
        let p = plan(7, 1, 0);
        let kills: Vec<_> = p
            .iter()
            .filter(|(_, f)| matches!(f, Fault::Kill(_)))
            .collect();
        assert_eq!(kills.len(), 1);
        assert_eq!(kills[0].0, HOUR_MS / 2);
    }
}
