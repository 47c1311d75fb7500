//! The soak behind `scalper soak`: the engine (a `scalper run` child process) against an
//! in-process sandbox in accelerated time, under a seeded schedule of IG's failure modes, with
//! SIGKILLs and restarts; at the end the kill switch closes everything and the invariants are
//! checked.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;
use scalper_sandbox::bus::StreamFault;
use scalper_sandbox::{MarketSchedule, Sandbox, SandboxConfig, SandboxHandle};
use serde::Serialize;

use crate::error::ReliabilityError;
use crate::harness::{EngineSetup, Harness, ACCOUNT};
use crate::invariants::{check, positions_per_epic};
use crate::kill::{kill_at, KillMoment};

const HOUR_MS: i64 = 3_600_000;
/// Fixed risk (the sandbox's flat margin makes percent sizing too big for its account); no
/// daily caps, so that the engine trades through the whole soak; Ctrl-C closes everything.
const SOAK_ENGINE_TOML: &str = "[engine.risk]
risk_per_trade = { amount = 15 }
max_trades_per_day = 100000
daily_loss_limit = 100000

[engine.kill_switch]
close_positions = true
";
const MINUTE_MS: i64 = 60_000;

/// What to soak.
#[derive(Debug, Clone)]
pub struct SoakOptions {
    pub hours: f64,
    pub seed: u64,
    /// Simulated seconds per wall second.
    pub speed: f64,
    /// SIGKILL + restart cycles (at least 1).
    pub kills: u32,
    pub instruments: String,
    /// The `scalper` binary to run as the engine (see [`EngineSetup::exe`]).
    pub exe: PathBuf,
    /// Working directory (journal, logs, run outputs).
    pub dir: PathBuf,
    /// Peak RSS allowed for an engine process, in MiB.
    pub max_rss_mib: u64,
}

/// One scheduled fault.
#[derive(Debug, Clone, PartialEq)]
enum Fault {
    /// Invalidate every token (IG's session expiry mid-run).
    InvalidateTokens,
    /// IG's weekend maintenance: every token invalid, the stream dropped, a 503 storm.
    WeekendMaintenance,
    /// REST faults through the sandbox's fault grammar (`http500:2`, `timeout:1`, ...).
    Rest {
        kind: &'static str,
        spec: String,
    },
    /// Confirms delayed for a while (`confirm-delay`), reset at `until`.
    ConfirmDelay,
    ConfirmDelayEnd,
    StreamDrop,
    StreamSilence,
    StreamEnd,
    /// SIGKILL the engine at this moment and restart it.
    Kill(KillMoment),
}

impl Fault {
    fn name(&self) -> &'static str {
        match self {
            Self::InvalidateTokens => "token-invalidation",
            Self::WeekendMaintenance => "weekend-maintenance",
            Self::Rest { kind, .. } => kind,
            Self::ConfirmDelay => "confirm-delay",
            Self::ConfirmDelayEnd => "confirm-delay-end",
            Self::StreamDrop => "stream-drop",
            Self::StreamSilence => "stream-silence",
            Self::StreamEnd => "stream-end",
            Self::Kill(_) => "sigkill",
        }
    }
}

/// The seeded schedule: (simulated offset from the start in ms, fault), sorted.
fn schedule(rng: &mut ChaCha8Rng, total_ms: i64, kills: u32) -> Vec<(i64, Fault)> {
    let mut out: Vec<(i64, Fault)> = Vec::new();
    let mut every = |out: &mut Vec<(i64, Fault)>, lo: i64, hi: i64, make: &dyn Fn(u64) -> Fault| {
        let mut t = rng.gen_range(lo / 2..=hi / 2);
        let mut n = 0u64;
        while t < total_ms {
            out.push((t, make(n)));
            n += 1;
            t += rng.gen_range(lo..=hi);
        }
    };
    every(&mut out, HOUR_MS, 6 * HOUR_MS, &|_| Fault::InvalidateTokens);
    every(&mut out, 20 * MINUTE_MS, 90 * MINUTE_MS, &|n| match n % 3 {
        0 => Fault::Rest {
            kind: "http500",
            spec: "http500:2".into(),
        },
        1 => Fault::Rest {
            kind: "http503",
            spec: "http503:2".into(),
        },
        _ => Fault::Rest {
            kind: "timeout",
            spec: "timeout:1".into(),
        },
    });
    every(&mut out, 30 * MINUTE_MS, 2 * HOUR_MS, &|_| Fault::Rest {
        kind: "drop-deal-response",
        spec: "drop-deal-response:1".into(),
    });
    every(&mut out, HOUR_MS, 3 * HOUR_MS, &|n| {
        if n % 2 == 0 {
            Fault::ConfirmDelay
        } else {
            Fault::Rest {
                kind: "lose-confirm",
                spec: "lose-confirm:1".into(),
            }
        }
    });
    every(&mut out, HOUR_MS, 4 * HOUR_MS, &|n| match n % 3 {
        0 => Fault::StreamDrop,
        1 => Fault::StreamSilence,
        _ => Fault::StreamEnd,
    });
    every(&mut out, 2 * HOUR_MS, 6 * HOUR_MS, &|_| Fault::Rest {
        kind: "rate-limit-storm",
        spec: "rate-limit:8".into(),
    });
    // Weekend maintenance once, in the second half.
    let weekend = rng.gen_range(total_ms / 2..=total_ms * 3 / 4);
    out.push((weekend, Fault::WeekendMaintenance));
    // Confirm delays last 10 simulated minutes.
    let ends: Vec<(i64, Fault)> = out
        .iter()
        .filter(|(_, f)| *f == Fault::ConfirmDelay)
        .map(|(t, _)| (t + 10 * MINUTE_MS, Fault::ConfirmDelayEnd))
        .collect();
    out.extend(ends);
    for k in 0..kills.max(1) {
        let at = total_ms * i64::from(k + 1) / i64::from(kills.max(1) + 1);
        let moment = KillMoment::ALL[(k as usize + 1) % KillMoment::ALL.len()];
        out.push((at, Fault::Kill(moment)));
    }
    out.sort_by_key(|(t, _)| *t);
    out
}

/// The soak's figures and verdict.
#[derive(Debug, Clone, Serialize)]
pub struct SoakReport {
    pub seed: u64,
    pub simulated_hours: f64,
    pub wall_seconds: f64,
    pub speed: f64,
    /// Engine processes started (1 + kills + unplanned restarts).
    pub engine_runs: u32,
    pub kills: u32,
    /// Kill moments that came (the others were killed at their deadline).
    pub kill_moments_hit: BTreeMap<String, u32>,
    /// Faults scheduled and fired, by kind (REST faults as the sandbox counted them firing).
    pub faults_scheduled: BTreeMap<String, u64>,
    pub faults_fired: BTreeMap<String, u64>,
    /// Engine exits nobody asked for (crashes), and panics found in the outputs.
    pub unplanned_exits: u32,
    pub panics: u32,
    pub broker_positions: usize,
    pub journal_closed: usize,
    pub journal_rejected: usize,
    pub journal_pnl: Decimal,
    pub ledger_pnl: Decimal,
    pub peak_rss_mib: f64,
    pub max_open_per_instrument: usize,
    pub logins: BTreeMap<String, u64>,
    pub violations: Vec<String>,
    pub passed: bool,
    pub dir: String,
}

/// The engine's resident memory in MiB (`/proc/PID/status` VmRSS), when readable.
fn rss_mib(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn fire(sandbox: &SandboxHandle, fault: &Fault) -> Result<(), ReliabilityError> {
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
        Fault::StreamSilence => sandbox.stream_fault(StreamFault::Silence { millis: 8_000 }),
        Fault::StreamEnd => sandbox.stream_fault(StreamFault::End { cause: 41 }),
        Fault::Kill(_) => {}
    }
    Ok(())
}

/// Runs the soak. Progress lines go to stderr; the report is returned.
pub async fn run_soak(opts: &SoakOptions) -> Result<SoakReport, ReliabilityError> {
    if !(opts.hours > 0.0 && opts.hours.is_finite()) {
        return Err(ReliabilityError::Hours);
    }
    let wall_started = Instant::now();
    let sandbox = Sandbox::start(SandboxConfig {
        seed: opts.seed,
        speed: opts.speed,
        schedule: MarketSchedule::AlwaysOpen,
        timeout_hold: Duration::from_secs(3),
        ..SandboxConfig::default()
    })
    .await
    .map_err(ReliabilityError::SandboxStart)?;
    let start_balance = sandbox
        .state()
        .account(ACCOUNT)
        .map(|a| a.balance)
        .ok_or(ReliabilityError::NoAccount(ACCOUNT))?;
    let mut h = Harness::new(
        EngineSetup {
            exe: opts.exe.clone(),
            dir: opts.dir.clone(),
            instruments: opts.instruments.clone(),
            extra_toml: SOAK_ENGINE_TOML.into(),
        },
        &sandbox,
    )?;
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let total_ms = (opts.hours * HOUR_MS as f64) as i64;
    let plan = schedule(&mut rng, total_ms, opts.kills);
    let mut scheduled: BTreeMap<String, u64> = BTreeMap::new();
    for (_, f) in &plan {
        if *f != Fault::ConfirmDelayEnd {
            *scheduled.entry(f.name().to_string()).or_default() += 1;
        }
    }
    let sim_start = sandbox.state().sim_time;
    let mut fired: BTreeMap<String, u64> = BTreeMap::new();
    let mut hits: BTreeMap<String, u32> = BTreeMap::new();
    let mut next = 0usize;
    let mut kills = 0u32;
    let mut unplanned = 0u32;
    let mut peak_rss = 0f64;
    let mut max_open = 0usize;
    let mut engine = h.spawn(None)?;
    let mut last_progress = Instant::now();
    loop {
        let state = sandbox.state();
        let elapsed = state.sim_time.since(sim_start);
        max_open = max_open.max(
            positions_per_epic(&state)
                .values()
                .copied()
                .max()
                .unwrap_or(0),
        );
        if let Some(r) = rss_mib(engine.id()) {
            peak_rss = peak_rss.max(r);
        }
        if engine.try_wait()?.is_some() {
            unplanned += 1;
            h.note(&format!("run {} exited by itself", engine.run));
            eprintln!(
                "soak: the engine (run {}) exited by itself; restarting",
                engine.run
            );
            engine = h.spawn(None)?;
        }
        // One fault per pass at most: after a long kill the overdue ones are spread out.
        if next < plan.len() && plan[next].0 <= elapsed {
            let (at, fault) = &plan[next];
            next += 1;
            h.note(&format!(
                "sim +{:.2} h: {}",
                *at as f64 / HOUR_MS as f64,
                fault.name()
            ));
            if let Fault::Kill(moment) = fault {
                let delay = Duration::from_millis(rng.gen_range(0..500));
                let hit = kill_at(
                    &h,
                    &sandbox,
                    &mut engine,
                    *moment,
                    delay,
                    Duration::from_secs(10),
                    |s| {
                        max_open = max_open
                            .max(positions_per_epic(s).values().copied().max().unwrap_or(0));
                    },
                )
                .await?;
                kills += 1;
                if hit {
                    *hits.entry(moment.name().to_string()).or_default() += 1;
                }
                engine = h.spawn(None)?;
            } else {
                fire(&sandbox, fault)?;
            }
            if *fault != Fault::ConfirmDelayEnd {
                *fired.entry(fault.name().to_string()).or_default() += 1;
            }
        }
        if elapsed >= total_ms {
            break;
        }
        if last_progress.elapsed() >= Duration::from_secs(10) {
            last_progress = Instant::now();
            eprintln!(
                "soak: simulated {:.1} h of {:.1} h, {} engine runs, peak RSS {:.1} MiB",
                elapsed as f64 / HOUR_MS as f64,
                opts.hours,
                engine.run,
                peak_rss
            );
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    sandbox.clear_faults();
    // The end: once the current run is up, Ctrl-C (kill switch, close everything); then the
    // books must agree.
    let ready = h.wait_ready(&mut engine, Duration::from_secs(60)).await;
    engine.interrupt()?;
    let stopped = engine.wait_exit(Duration::from_secs(60)).await?;
    let last_run = engine.run;
    if stopped.is_none() {
        engine.kill()?;
    }
    let state = sandbox.state();
    let inv = check(&state, &h.journal_path(), start_balance)?;
    let mut violations = inv.violations(1);
    if !ready {
        violations.push(format!(
            "the last run (run {last_run}) was not ready to trade within 60 s of the end"
        ));
    }
    if stopped.is_none() {
        violations.push("the engine did not stop within 60 s of Ctrl-C".into());
    } else if stopped.is_some_and(|s| !s.success()) {
        violations.push(format!(
            "the last run exited with {}",
            stopped.map_or_else(String::new, |s| s.to_string())
        ));
    }
    if !state
        .account(ACCOUNT)
        .is_some_and(|a| a.positions.is_empty())
    {
        violations.push("positions left open after the kill switch".into());
    }
    let mut panics = 0u32;
    for n in 1..=last_run {
        if h.output_of(n).contains("panicked") {
            panics += 1;
            violations.push(format!("run {n} panicked (see run-{n}.err)"));
        }
    }
    if max_open > 1 {
        violations.push(format!(
            "{max_open} positions were open on one instrument at once (limit 1)"
        ));
    }
    if unplanned > 0 {
        violations.push(format!("{unplanned} unplanned engine exit(s)"));
    }
    if peak_rss > opts.max_rss_mib as f64 {
        violations.push(format!(
            "engine peak RSS {peak_rss:.1} MiB above the {} MiB bound",
            opts.max_rss_mib
        ));
    }
    for (k, v) in &state.faults_fired {
        fired.insert(format!("sandbox:{k}"), *v);
    }
    let report = SoakReport {
        seed: opts.seed,
        simulated_hours: state.sim_time.since(sim_start) as f64 / HOUR_MS as f64,
        wall_seconds: wall_started.elapsed().as_secs_f64(),
        speed: opts.speed,
        engine_runs: last_run,
        kills,
        kill_moments_hit: hits,
        faults_scheduled: scheduled,
        faults_fired: fired,
        unplanned_exits: unplanned,
        panics,
        broker_positions: inv.broker_positions,
        journal_closed: inv.journal_closed,
        journal_rejected: inv.journal_rejected,
        journal_pnl: inv.journal_pnl,
        ledger_pnl: inv.ledger_pnl,
        peak_rss_mib: (peak_rss * 10.0).round() / 10.0,
        max_open_per_instrument: max_open,
        logins: state.logins.clone(),
        passed: violations.is_empty(),
        violations,
        dir: opts.dir.display().to_string(),
    };
    sandbox.shutdown().await;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_is_sorted_seeded_and_holds_every_kill() {
        let plan = |seed| schedule(&mut ChaCha8Rng::seed_from_u64(seed), 24 * HOUR_MS, 3);
        let a = plan(1);
        assert_eq!(a, plan(1), "same seed, same schedule");
        assert_ne!(a, plan(2));
        assert!(a.windows(2).all(|w| w[0].0 <= w[1].0), "sorted by time");
        assert!(a
            .iter()
            .all(|(t, _)| (0..=24 * HOUR_MS + 10 * MINUTE_MS).contains(t)));
        let kills = a
            .iter()
            .filter(|(_, f)| matches!(f, Fault::Kill(_)))
            .count();
        assert_eq!(kills, 3);
        let weekends = a
            .iter()
            .filter(|(_, f)| *f == Fault::WeekendMaintenance)
            .count();
        assert_eq!(weekends, 1);
        let delays = |f: &Fault| a.iter().filter(|(_, g)| g == f).count();
        assert_eq!(
            delays(&Fault::ConfirmDelay),
            delays(&Fault::ConfirmDelayEnd)
        );
    }

    #[test]
    fn at_least_one_kill_is_scheduled() {
        let plan = schedule(&mut ChaCha8Rng::seed_from_u64(7), HOUR_MS, 0);
        let kills: Vec<_> = plan
            .iter()
            .filter(|(_, f)| matches!(f, Fault::Kill(_)))
            .collect();
        assert_eq!(kills.len(), 1);
        assert_eq!(kills[0].0, HOUR_MS / 2);
    }
}
