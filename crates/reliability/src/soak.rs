//! The soak behind `scalper soak`: the engine (a `scalper run` child process) against an
//! in-process sandbox in accelerated time, under a seeded schedule of IG's failure modes fired
//! while positions are open, with SIGKILLs and restarts; at the end the kill switch closes
//! everything, the invariants are checked, and so is that the soak traded enough to prove them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;
use scalper_sandbox::{MarketSchedule, Sandbox, SandboxConfig, SandboxHandle, StateSnapshot};
use serde::Serialize;

use crate::error::ReliabilityError;
use crate::harness::{EngineProcess, EngineSetup, Harness, ACCOUNT};
use crate::invariants::{check, positions_per_epic};
use crate::kill::{kill_at, KillMoment};
use crate::limit_close::{self, LimitCloseOutcome, PendingLimitClose};
use crate::schedule::{self, Fault, HOUR_MS, MINUTE_MS};

/// The soak's engine configuration: a scalper that trades often (short EMAs, a short hold, no
/// spread, staleness or loss pauses at this accelerated speed), fixed risk (the sandbox's flat
/// margin makes percent sizing too big for its account), no daily caps, an in-run
/// reconciliation every second, and Ctrl-C closing everything.
const SOAK_ENGINE_TOML: &str = "[engine]
reconcile_interval_ms = 1000

[engine.strategy]
kind = \"scalper\"
max_hold_ms = 30000
min_atr_points = 0.01

[engine.risk]
risk_per_trade = { amount = 15 }
max_open_positions = 20
max_trades_per_day = 100000
daily_loss_limit = 100000
cooldown_after_losses = 0
stale_quote_ms = 600000
max_spread_points = 100

[engine.kill_switch]
close_positions = true
";
/// How long a scheduled fault waits for an open position before it fires anyway (simulated).
const OPEN_WAIT_MS: i64 = 60 * MINUTE_MS;
/// How long a SIGKILL waits for its moment before killing anyway (simulated, then bounded to
/// 1..10 s of wall time).
const KILL_WINDOW_MS: f64 = 30.0 * 60_000.0;

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
    /// Positions the broker must have opened per 24 simulated hours (the soak fails below:
    /// it did not trade enough to prove its checks).
    pub min_positions_per_day: u64,
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
    /// SIGKILLs by moment, and those whose moment came (the others were killed at the end of
    /// their window).
    pub kill_moments: BTreeMap<String, u32>,
    pub kill_moments_hit: BTreeMap<String, u32>,
    /// Faults scheduled and fired, by kind (REST faults also as the sandbox counted them
    /// firing, `sandbox:<kind>`), and those fired while the broker held an open position.
    pub faults_scheduled: BTreeMap<String, u64>,
    pub faults_fired: BTreeMap<String, u64>,
    pub faults_fired_while_open: BTreeMap<String, u64>,
    /// Each silent limit close: IG's level, what the journal booked, and when.
    pub limit_closes: Vec<LimitCloseOutcome>,
    /// Engine exits nobody asked for (crashes), and panics found in the outputs.
    pub unplanned_exits: u32,
    pub panics: u32,
    pub broker_positions: usize,
    /// Positions opened per instrument (epic), and per 24 simulated hours in all.
    pub positions_per_instrument: BTreeMap<String, usize>,
    pub positions_per_day: f64,
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

/// Whether the broker holds at least one open position of the soaked account.
fn any_open(s: &StateSnapshot) -> bool {
    s.account(ACCOUNT).is_some_and(|a| !a.positions.is_empty())
}

/// What the run loop counts.
#[derive(Debug, Default)]
struct Tally {
    fired: BTreeMap<String, u64>,
    while_open: BTreeMap<String, u64>,
    moments: BTreeMap<String, u32>,
    hits: BTreeMap<String, u32>,
    kills: u32,
    unplanned: u32,
    peak_rss: f64,
    max_open: usize,
    limit_closes: Vec<LimitCloseOutcome>,
}

impl Tally {
    fn sample(&mut self, s: &StateSnapshot) {
        let most = positions_per_epic(s).values().copied().max().unwrap_or(0);
        self.max_open = self.max_open.max(most);
    }

    fn count(&mut self, fault: Fault, open: bool) {
        if fault.counted() {
            *self.fired.entry(fault.name().into()).or_default() += 1;
            if open {
                *self.while_open.entry(fault.name().into()).or_default() += 1;
            }
        }
    }
}

/// Whether a scheduled fault went off or waits for a better moment.
enum Fired {
    Yes,
    Later,
}

/// One soak in progress: the sandbox, the engine run, the schedule's state and the counts.
struct Soak<'a> {
    opts: &'a SoakOptions,
    sandbox: &'a SandboxHandle,
    h: Harness,
    engine: EngineProcess,
    rng: ChaCha8Rng,
    tally: Tally,
    pending: Option<PendingLimitClose>,
}

impl Soak<'_> {
    /// Samples the sandbox and the engine; restarts an engine that exited by itself.
    async fn watch(&mut self, s: &StateSnapshot) -> Result<(), ReliabilityError> {
        self.tally.sample(s);
        if let Some(r) = rss_mib(self.engine.id()) {
            self.tally.peak_rss = self.tally.peak_rss.max(r);
        }
        if self.engine.try_wait()?.is_some() {
            self.tally.unplanned += 1;
            self.h
                .note(&format!("run {} exited by itself", self.engine.run));
            eprintln!(
                "soak: the engine (run {}) exited by itself; restarting",
                self.engine.run
            );
            self.start_engine().await?;
        }
        self.poll_limit_close();
        Ok(())
    }

    fn poll_limit_close(&mut self) {
        let run = self.engine.run;
        if let Some(outcome) = self.pending.as_mut().and_then(|p| p.poll(run)) {
            self.h.note(&format!(
                "silent limit close of {}: {}",
                outcome.deal_id,
                outcome
                    .problem
                    .as_deref()
                    .unwrap_or("booked during the run at IG's level")
            ));
            self.tally.limit_closes.push(outcome);
            self.pending = None;
        }
    }

    /// Fires `fault`, due `late_ms` ago, once the broker holds an open position (or once it
    /// has waited [`OPEN_WAIT_MS`] for one).
    async fn fire(
        &mut self,
        fault: Fault,
        late_ms: i64,
        s: &StateSnapshot,
    ) -> Result<Fired, ReliabilityError> {
        let open = any_open(s);
        let patient = fault.counted() && late_ms < OPEN_WAIT_MS;
        if !open && patient {
            return Ok(Fired::Later);
        }
        match fault {
            Fault::Kill(moment) => {
                if self.pending.is_some() {
                    // The run must book the silent limit close before it may be killed.
                    return Ok(Fired::Later);
                }
                self.kill(moment).await?;
            }
            Fault::SilenceLimitClose => {
                if self.pending.is_some() {
                    return Ok(Fired::Later);
                }
                let journal = self.h.journal_path();
                match limit_close::inject(self.sandbox, self.engine.run, &journal) {
                    Some(p) => {
                        self.h
                            .note(&format!("IG closed {} at its limit", p.deal_id()));
                        self.pending = Some(p);
                    }
                    None if patient => return Ok(Fired::Later),
                    None => {
                        self.h
                            .note("silent limit close skipped: no position with a limit");
                        return Ok(Fired::Yes);
                    }
                }
            }
            other => schedule::fire(self.sandbox, other)?,
        }
        self.tally.count(fault, open);
        Ok(Fired::Yes)
    }

    /// SIGKILLs the engine at `moment` (waiting at most the kill window for it) and restarts it.
    async fn kill(&mut self, moment: KillMoment) -> Result<(), ReliabilityError> {
        let window =
            Duration::from_secs_f64((KILL_WINDOW_MS / 1000.0 / self.opts.speed).clamp(1.0, 10.0));
        let random = window.mul_f64(self.rng.gen_range(0.0..1.0));
        let tally = &mut self.tally;
        let hit = kill_at(
            &self.h,
            self.sandbox,
            &mut self.engine,
            moment,
            random,
            window,
            |s| tally.sample(s),
        )
        .await?;
        self.tally.kills += 1;
        *self.tally.moments.entry(moment.name().into()).or_default() += 1;
        if hit {
            *self.tally.hits.entry(moment.name().into()).or_default() += 1;
        }
        self.start_engine().await
    }

    async fn start_engine(&mut self) -> Result<(), ReliabilityError> {
        self.engine = start_run(&mut self.h, self.sandbox, self.opts.speed).await?;
        Ok(())
    }
}

/// Starts the next engine run with the market at real speed until it is ready to trade (a
/// restart costs the simulated seconds it would in reality, not an accelerated hour), then
/// runs the market at `speed` again.
async fn start_run(
    h: &mut Harness,
    sandbox: &SandboxHandle,
    speed: f64,
) -> Result<EngineProcess, ReliabilityError> {
    sandbox.set_speed(1.0).map_err(ReliabilityError::Speed)?;
    let mut engine = h.spawn(None)?;
    if !h.wait_ready(&mut engine, Duration::from_secs(60)).await {
        h.note(&format!(
            "run {} was not ready to trade within 60 s",
            engine.run
        ));
    }
    sandbox.set_speed(speed).map_err(ReliabilityError::Speed)?;
    Ok(engine)
}

/// Runs the soak. Progress lines go to stderr; the report is returned.
pub async fn run_soak(opts: &SoakOptions) -> Result<SoakReport, ReliabilityError> {
    if !(opts.hours > 0.0 && opts.hours.is_finite()) {
        return Err(ReliabilityError::Hours);
    }
    let wall_started = Instant::now();
    let sandbox = Sandbox::start(SandboxConfig {
        seed: opts.seed,
        speed: 1.0,
        schedule: MarketSchedule::AlwaysOpen,
        // Margin for a position on every instrument at once: the soak proves the books, not
        // a strategy's returns.
        starting_balance: Decimal::from(1_000_000),
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
    let plan = schedule::schedule(&mut rng, total_ms, opts.kills);
    let sim_start = sandbox.state().sim_time;
    let engine = start_run(&mut h, &sandbox, opts.speed).await?;
    let mut soak = Soak {
        opts,
        sandbox: &sandbox,
        h,
        engine,
        rng,
        tally: Tally::default(),
        pending: None,
    };
    drive(&mut soak, &plan, sim_start, total_ms).await?;
    let report = finish(soak, &plan, sim_start, start_balance, wall_started).await?;
    sandbox.shutdown().await;
    Ok(report)
}

/// The schedule, pass by pass (one fault per pass at most), until `total_ms` simulated.
async fn drive(
    soak: &mut Soak<'_>,
    plan: &[(i64, Fault)],
    sim_start: scalper_model::Timestamp,
    total_ms: i64,
) -> Result<(), ReliabilityError> {
    let mut next = 0usize;
    let mut last_progress = Instant::now();
    loop {
        let state = soak.sandbox.state();
        let elapsed = state.sim_time.since(sim_start);
        soak.watch(&state).await?;
        if let Some(&(at, fault)) = plan.get(next).filter(|(at, _)| *at <= elapsed) {
            if let Fired::Yes = soak.fire(fault, elapsed - at, &state).await? {
                next += 1;
                soak.h.note(&format!(
                    "sim +{:.2} h (due +{:.2} h): {}",
                    elapsed as f64 / HOUR_MS as f64,
                    at as f64 / HOUR_MS as f64,
                    fault.name()
                ));
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
                soak.opts.hours,
                soak.engine.run,
                soak.tally.peak_rss
            );
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // A silent limit close still waiting for its booking gets its time.
    while soak.pending.is_some() {
        let state = soak.sandbox.state();
        soak.watch(&state).await?;
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Ok(())
}

/// The end: once the current run is up, Ctrl-C (kill switch, close everything); then the books
/// must agree and the soak must have traded and faulted enough to prove it.
async fn finish(
    soak: Soak<'_>,
    plan: &[(i64, Fault)],
    sim_start: scalper_model::Timestamp,
    start_balance: Decimal,
    wall_started: Instant,
) -> Result<SoakReport, ReliabilityError> {
    let Soak {
        opts,
        sandbox,
        h,
        mut engine,
        tally,
        ..
    } = soak;
    sandbox.clear_faults();
    // The wind-down at real speed, as a restart.
    sandbox.set_speed(1.0).map_err(ReliabilityError::Speed)?;
    let ready = h.wait_ready(&mut engine, Duration::from_secs(60)).await;
    engine.interrupt()?;
    let stopped = engine.wait_exit(Duration::from_secs(60)).await?;
    let last_run = engine.run;
    if stopped.is_none() {
        engine.kill()?;
    }
    let state = sandbox.state();
    let inv = check(&state, &h.journal_path(), start_balance)?;
    let simulated_hours = state.sim_time.since(sim_start) as f64 / HOUR_MS as f64;
    let mut violations = inv.violations(1);
    if !ready {
        violations.push(format!(
            "the last run (run {last_run}) was not ready to trade within 60 s of the end"
        ));
    }
    match stopped {
        None => violations.push("the engine did not stop within 60 s of Ctrl-C".into()),
        Some(s) if !s.success() => violations.push(format!("the last run exited with {s}")),
        Some(_) => {}
    }
    if any_open(&state) {
        violations.push("positions left open after the kill switch".into());
    }
    let mut panics = 0u32;
    for n in 1..=last_run {
        if h.output_of(n).contains("panicked") {
            panics += 1;
            violations.push(format!("run {n} panicked (see run-{n}.err)"));
        }
    }
    if tally.max_open > 1 {
        violations.push(format!(
            "{} positions were open on one instrument at once (limit 1)",
            tally.max_open
        ));
    }
    if tally.unplanned > 0 {
        violations.push(format!("{} unplanned engine exit(s)", tally.unplanned));
    }
    if tally.peak_rss > opts.max_rss_mib as f64 {
        violations.push(format!(
            "engine peak RSS {:.1} MiB above the {} MiB bound",
            tally.peak_rss, opts.max_rss_mib
        ));
    }
    let positions_per_day = inv.broker_positions as f64 * 24.0 / simulated_hours.max(1e-9);
    let proof = Proof {
        opts,
        plan,
        tally: &tally,
        positions_per_instrument: &inv.positions_per_instrument,
        broker_positions: inv.broker_positions,
        simulated_hours,
        positions_per_day,
    };
    violations.extend(proof.violations());
    let mut scheduled: BTreeMap<String, u64> = BTreeMap::new();
    for (_, f) in plan.iter().filter(|(_, f)| f.counted()) {
        *scheduled.entry(f.name().to_string()).or_default() += 1;
    }
    let mut fired = tally.fired.clone();
    for (k, v) in &state.faults_fired {
        fired.insert(format!("sandbox:{k}"), *v);
    }
    Ok(SoakReport {
        seed: opts.seed,
        simulated_hours,
        wall_seconds: wall_started.elapsed().as_secs_f64(),
        speed: opts.speed,
        engine_runs: last_run,
        kills: tally.kills,
        kill_moments: tally.moments.clone(),
        kill_moments_hit: tally.hits.clone(),
        faults_scheduled: scheduled,
        faults_fired: fired,
        faults_fired_while_open: tally.while_open.clone(),
        limit_closes: tally.limit_closes.clone(),
        unplanned_exits: tally.unplanned,
        panics,
        broker_positions: inv.broker_positions,
        positions_per_instrument: inv.positions_per_instrument.clone(),
        positions_per_day: (positions_per_day * 10.0).round() / 10.0,
        journal_closed: inv.journal_closed,
        journal_rejected: inv.journal_rejected,
        journal_pnl: inv.journal_pnl,
        ledger_pnl: inv.ledger_pnl,
        peak_rss_mib: (tally.peak_rss * 10.0).round() / 10.0,
        max_open_per_instrument: tally.max_open,
        logins: state.logins.clone(),
        passed: violations.is_empty(),
        violations,
        dir: opts.dir.display().to_string(),
    })
}

/// Whether the soak did enough to prove its invariants: trades at the promised rate on every
/// instrument, every scheduled fault kind fired while a position was open, every SIGKILL at its
/// moment, and every silent limit close booked during the run at IG's level.
struct Proof<'a> {
    opts: &'a SoakOptions,
    plan: &'a [(i64, Fault)],
    tally: &'a Tally,
    positions_per_instrument: &'a BTreeMap<String, usize>,
    broker_positions: usize,
    simulated_hours: f64,
    positions_per_day: f64,
}

impl Proof<'_> {
    fn violations(&self) -> Vec<String> {
        let mut v = Vec::new();
        if self.positions_per_day < self.opts.min_positions_per_day as f64 {
            v.push(format!(
                "too little trading to prove the checks: {} positions in {:.2} simulated hours is {:.0} per 24 h, below {}",
                self.broker_positions,
                self.simulated_hours,
                self.positions_per_day,
                self.opts.min_positions_per_day
            ));
        }
        let traded = self
            .opts
            .instruments
            .split(',')
            .filter(|i| !i.trim().is_empty())
            .count();
        if self.positions_per_instrument.len() < traded {
            v.push(format!(
                "positions on only {} of the {traded} instruments ({})",
                self.positions_per_instrument.len(),
                self.opts.instruments
            ));
        }
        for kind in schedule::kinds(self.plan) {
            if self.tally.while_open.get(kind).copied().unwrap_or(0) == 0 {
                v.push(format!(
                    "fault {kind} never fired while a position was open (fired {} time(s))",
                    self.tally.fired.get(kind).copied().unwrap_or(0)
                ));
            }
        }
        for (moment, n) in &self.tally.moments {
            let hit = self.tally.hits.get(moment).copied().unwrap_or(0);
            if hit < *n {
                v.push(format!(
                    "SIGKILL moment {moment} came {hit} of {n} time(s) (killed at the end of its window otherwise)"
                ));
            }
        }
        for o in &self.tally.limit_closes {
            if let Some(p) = &o.problem {
                v.push(format!(
                    "silent limit close of {} ({}, IG's level {}): {p}",
                    o.deal_id, o.epic, o.ig_level
                ));
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> SoakOptions {
        SoakOptions {
            hours: 2.0,
            seed: 1,
            speed: 300.0,
            kills: 1,
            instruments: "EUR_USD,GER40".into(),
            exe: PathBuf::from("scalper"),
            dir: PathBuf::from("soak"),
            max_rss_mib: 256,
            min_positions_per_day: 1000,
        }
    }

    fn plan() -> Vec<(i64, Fault)> {
        vec![
            (10, Fault::StreamDrop),
            (20, Fault::Kill(KillMoment::AtExecution)),
        ]
    }

    fn tally(open: &[(&str, u64)], hits: u32) -> Tally {
        let mut t = Tally::default();
        for (k, n) in open {
            t.fired.insert((*k).into(), *n);
            t.while_open.insert((*k).into(), *n);
        }
        t.moments.insert("at-execution".into(), 1);
        if hits > 0 {
            t.hits.insert("at-execution".into(), hits);
        }
        t
    }

    fn proof_violations(t: &Tally, per_instrument: &[(&str, usize)], hours: f64) -> Vec<String> {
        let o = opts();
        let p = plan();
        let per: BTreeMap<String, usize> = per_instrument
            .iter()
            .map(|(k, v)| ((*k).to_string(), *v))
            .collect();
        let total: usize = per.values().sum();
        Proof {
            opts: &o,
            plan: &p,
            tally: t,
            positions_per_instrument: &per,
            broker_positions: total,
            simulated_hours: hours,
            positions_per_day: total as f64 * 24.0 / hours,
        }
        .violations()
    }

    #[test]
    fn a_soak_that_traded_and_faulted_enough_proves_its_checks() {
        let t = tally(&[("stream-drop", 2), ("sigkill", 1)], 1);
        let v = proof_violations(
            &t,
            &[("CS.D.EURUSD.CFD.IP", 50), ("IX.D.DAX.IFMM.IP", 40)],
            2.0,
        );
        assert!(v.is_empty(), "{v:?}");
    }

    #[test]
    fn every_shortfall_is_a_named_violation() {
        let mut t = tally(&[("sigkill", 1)], 0);
        t.fired.insert("stream-drop".into(), 1);
        t.limit_closes.push(LimitCloseOutcome {
            deal_id: "DIAAAA1".into(),
            epic: "CS.D.EURUSD.CFD.IP".into(),
            ig_level: Decimal::new(10_825, 1),
            journal_level: None,
            journal_reason: None,
            booked_during_run: false,
            problem: Some("booked only after the run was restarted".into()),
        });
        let v = proof_violations(&t, &[("CS.D.EURUSD.CFD.IP", 50)], 2.0);
        assert_eq!(
            v,
            [
                "too little trading to prove the checks: 50 positions in 2.00 simulated hours is 600 per 24 h, below 1000",
                "positions on only 1 of the 2 instruments (EUR_USD,GER40)",
                "fault stream-drop never fired while a position was open (fired 1 time(s))",
                "SIGKILL moment at-execution came 0 of 1 time(s) (killed at the end of its window otherwise)",
                "silent limit close of DIAAAA1 (CS.D.EURUSD.CFD.IP, IG's level 1082.5): booked only after the run was restarted",
            ]
        );
    }
}
