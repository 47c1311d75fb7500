//! The crash harness: `scalper run` as a child process against an in-process sandbox, killed
//! with SIGKILL and restarted on the same journal, and the end-of-run invariants checked
//! against the sandbox's books. Used by the crash test and by `scalper soak`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rust_decimal::Decimal;
use scalper_journal::{Journal, TradeFilter};
use scalper_model::DealState;
use scalper_sandbox::{SandboxHandle, StateSnapshot};
use secrecy::ExposeSecret as _;
use serde::Serialize;

/// The sandbox account the engine trades (the sandbox's default account).
pub const ACCOUNT: &str = "SANDBOX-CFD";

/// How the engine runs under the harness.
#[derive(Debug, Clone)]
pub struct EngineSetup {
    /// The `scalper` binary (the test's `CARGO_BIN_EXE_scalper`, or `current_exe()`).
    pub exe: PathBuf,
    /// Working directory: `scalper.toml`, `data/journal.sqlite`, `logs/` and the runs' output.
    pub dir: PathBuf,
    /// `--instruments` value.
    pub instruments: String,
    /// Extra TOML appended to the generated `scalper.toml` (`[engine...]` sections).
    pub extra_toml: String,
}

/// A running engine process.
#[derive(Debug)]
pub struct EngineProcess {
    child: Child,
    /// The run's number (its output is in `run-N.out` / `run-N.err`).
    pub run: u32,
    pub started: Instant,
}

/// A harness around one sandbox and one engine working directory.
#[derive(Debug)]
pub struct Harness {
    setup: EngineSetup,
    env: Vec<(String, String)>,
    runs: u32,
}

impl Harness {
    /// Writes `scalper.toml` into the working directory and prepares the child environment
    /// (the sandbox's URL and credentials; nothing is inherited from the caller's IG_* vars).
    pub fn new(setup: EngineSetup, sandbox: &SandboxHandle) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&setup.dir)
            .with_context(|| format!("creating {}", setup.dir.display()))?;
        let toml = format!(
            "[journal]\npath = \"data/journal.sqlite\"\n\n{}\n",
            setup.extra_toml
        );
        std::fs::write(setup.dir.join("scalper.toml"), toml).context("writing scalper.toml")?;
        let c = sandbox.credentials();
        let env = vec![
            ("IG_USERNAME".into(), c.username.clone()),
            ("IG_PASSWORD".into(), c.password.expose_secret().to_string()),
            ("IG_API_KEY".into(), c.api_key.expose_secret().to_string()),
            ("IG_API_URL".into(), sandbox.rest_url()),
            ("IG_DEMO".into(), "true".into()),
            ("IG_SESSION_VERSION".into(), "2".into()),
        ];
        Ok(Self {
            setup,
            env,
            runs: 0,
        })
    }

    pub fn journal_path(&self) -> PathBuf {
        self.setup.dir.join("data").join("journal.sqlite")
    }

    pub fn dir(&self) -> &Path {
        &self.setup.dir
    }

    /// Uses a v3 (OAuth) session instead of v2 for the next runs.
    pub fn set_session_version(&mut self, version: &str) {
        for (k, v) in &mut self.env {
            if k == "IG_SESSION_VERSION" {
                *v = version.to_string();
            }
        }
    }

    /// Starts `scalper run` (for `duration`, or until killed or interrupted).
    pub fn spawn(&mut self, duration: Option<Duration>) -> anyhow::Result<EngineProcess> {
        self.runs += 1;
        let run = self.runs;
        let out = File::create(self.setup.dir.join(format!("run-{run}.out")))
            .context("creating the run's stdout file")?;
        let err = File::create(self.setup.dir.join(format!("run-{run}.err")))
            .context("creating the run's stderr file")?;
        let mut cmd = Command::new(&self.setup.exe);
        cmd.current_dir(&self.setup.dir)
            .args(["run", "--json", "--instruments", &self.setup.instruments])
            .env_clear()
            .envs(
                std::env::vars_os()
                    .filter(|(k, _)| k == "PATH" || k == "HOME" || k == "LANG" || k == "TZ"),
            )
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        if let Some(d) = duration {
            cmd.args(["--duration", &format!("{}ms", d.as_millis())]);
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", self.setup.exe.display()))?;
        Ok(EngineProcess {
            child,
            run,
            started: Instant::now(),
        })
    }

    /// The output of run `n` (stdout then stderr), for failure messages.
    pub fn output_of(&self, n: u32) -> String {
        let read = |ext: &str| {
            std::fs::read_to_string(self.setup.dir.join(format!("run-{n}.{ext}")))
                .unwrap_or_default()
        };
        format!(
            "--- run {n} stdout\n{}--- run {n} stderr\n{}",
            read("out"),
            read("err")
        )
    }

    /// Waits until run `proc` says it is ready to trade (logged in, reconciled), up to `limit`.
    pub async fn wait_ready(&self, proc: &mut EngineProcess, limit: Duration) -> bool {
        let file = self.setup.dir.join(format!("run-{}.err", proc.run));
        let deadline = Instant::now() + limit;
        loop {
            if std::fs::read_to_string(&file)
                .unwrap_or_default()
                .contains("ready to trade after")
            {
                return true;
            }
            if Instant::now() >= deadline || matches!(proc.try_wait(), Ok(Some(_))) {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Appends a line to `harness.log` in the working directory (what was done when).
    pub fn note(&self, line: &str) {
        use std::io::Write as _;
        if let Ok(mut f) = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.setup.dir.join("harness.log"))
        {
            let _ = writeln!(f, "{line}");
        }
    }
}

impl EngineProcess {
    /// SIGKILL: no destructor, no flush, no goodbye. Waits for the process to be gone.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        // `Child::kill` sends SIGKILL on Unix.
        if self.child.try_wait()?.is_none() {
            self.child.kill().context("killing the engine")?;
        }
        self.child.wait().context("reaping the engine")?;
        Ok(())
    }

    /// SIGINT (Ctrl-C): the engine's kill switch.
    pub fn interrupt(&self) -> anyhow::Result<()> {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .context("running kill -INT")?;
        anyhow::ensure!(status.success(), "kill -INT failed: {status}");
        Ok(())
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    pub fn try_wait(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        Ok(self.child.try_wait()?)
    }

    /// Waits for the process to exit on its own, up to `limit`.
    pub async fn wait_exit(&mut self, limit: Duration) -> anyhow::Result<Option<ExitStatus>> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(s) = self.child.try_wait()? {
                return Ok(Some(s));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for EngineProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Polls the sandbox until `cond` holds or `limit` passes; returns whether it held.
pub async fn wait_until(
    sandbox: &SandboxHandle,
    limit: Duration,
    mut cond: impl FnMut(&StateSnapshot) -> bool,
) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond(&sandbox.state()) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
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

/// Open positions per epic at the sandbox.
pub fn positions_per_epic(s: &StateSnapshot) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    if let Some(a) = s.account(ACCOUNT) {
        for p in &a.positions {
            *out.entry(p.epic.clone()).or_default() += 1;
        }
    }
    out
}

/// What the end-of-run check found. Every list must be empty and the two P&L figures equal.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Invariants {
    /// Positions the sandbox opened (closed ones from its ledger, plus open ones).
    pub broker_positions: usize,
    /// Journal trades with a deal id.
    pub journal_positions: usize,
    pub journal_closed: usize,
    pub journal_rejected: usize,
    /// Sandbox positions (deal ids) the journal does not know.
    pub unknown_to_journal: Vec<String>,
    /// Deal ids journaled under more than one trade, and sandbox deal references seen twice.
    pub duplicates: Vec<String>,
    /// Journal trades whose outcome is still unknown (intent, submitted, unknown).
    pub unresolved: Vec<String>,
    /// Journal trades closed at the broker whose P&L is still pending.
    pub pnl_pending: Vec<String>,
    /// Journal trades open while the broker has no such position, or the reverse.
    pub open_mismatch: Vec<String>,
    /// Positions adopted by reconciliation (the engine is the only trader here: must be 0).
    pub adopted: usize,
    /// Trades marked paper (no paper fallback is configured: must be 0).
    pub paper: usize,
    /// Deals whose journaled P&L differs from the sandbox ledger's line for them.
    pub pnl_mismatches: Vec<String>,
    /// Sum of the journal's realised P&L net of fees.
    pub journal_pnl: Decimal,
    /// The sandbox account's balance change (its ledger).
    pub ledger_pnl: Decimal,
    /// Largest number of open positions on one instrument seen while sampling.
    pub max_open_per_instrument: usize,
}

impl Invariants {
    /// Every violated invariant, in words (empty when all hold).
    pub fn violations(&self, max_per_instrument: usize) -> Vec<String> {
        let mut v = Vec::new();
        let list = |name: &str, items: &[String], v: &mut Vec<String>| {
            if !items.is_empty() {
                v.push(format!("{name}: {}", items.join(", ")));
            }
        };
        list("unknown to the journal", &self.unknown_to_journal, &mut v);
        list("duplicates", &self.duplicates, &mut v);
        list("unresolved", &self.unresolved, &mut v);
        list("P&L pending", &self.pnl_pending, &mut v);
        list("open-position mismatch", &self.open_mismatch, &mut v);
        list("P&L per deal", &self.pnl_mismatches, &mut v);
        if self.adopted > 0 {
            v.push(format!("{} adopted position(s)", self.adopted));
        }
        if self.paper > 0 {
            v.push(format!(
                "{} paper trade(s) without a paper fallback",
                self.paper
            ));
        }
        if self.journal_pnl != self.ledger_pnl {
            v.push(format!(
                "journal P&L {} != sandbox ledger {}",
                self.journal_pnl, self.ledger_pnl
            ));
        }
        if self.max_open_per_instrument > max_per_instrument {
            v.push(format!(
                "{} positions open on one instrument (limit {max_per_instrument})",
                self.max_open_per_instrument
            ));
        }
        v
    }
}

/// Compares the journal (read-only; no engine may be running) with the sandbox's books.
/// `start_balance` is the account balance before the first run.
pub fn check(
    state: &StateSnapshot,
    journal_path: &Path,
    start_balance: Decimal,
) -> anyhow::Result<Invariants> {
    let account = state
        .account(ACCOUNT)
        .with_context(|| format!("the sandbox has no account {ACCOUNT}"))?;
    let journal = Journal::open(journal_path, &scalper_journal::OpenOptions::read_only())
        .with_context(|| format!("opening the journal {}", journal_path.display()))?;
    let trades = journal
        .trades(&TradeFilter::default())
        .context("reading the journal")?;

    let mut inv = Invariants::default();
    let mut broker: BTreeSet<String> = account.ledger.iter().map(|l| l.deal_id.clone()).collect();
    let open_at_broker: BTreeSet<String> = account
        .positions
        .iter()
        .map(|p| p.deal_id.clone())
        .collect();
    broker.extend(open_at_broker.iter().cloned());
    inv.broker_positions = broker.len();
    let mut refs: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &account.positions {
        *refs.entry(p.deal_reference.as_str()).or_default() += 1;
    }
    for (r, n) in refs {
        if n > 1 {
            inv.duplicates
                .push(format!("deal reference {r} holds {n} positions"));
        }
    }
    inv.max_open_per_instrument = positions_per_epic(state)
        .values()
        .copied()
        .max()
        .unwrap_or(0);

    let mut by_deal: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for t in &trades {
        let name = format!("#{} {}", t.id.0, t.deal_reference);
        if t.adopted {
            inv.adopted += 1;
        }
        if t.paper {
            inv.paper += 1;
        }
        if matches!(
            t.state,
            DealState::Intent | DealState::Submitted | DealState::Unknown
        ) {
            inv.unresolved.push(name.clone());
        }
        match t.state {
            DealState::Closed => {
                inv.journal_closed += 1;
                match t.net_pnl() {
                    Some(p) => inv.journal_pnl += p.value(),
                    None => inv.pnl_pending.push(name.clone()),
                }
            }
            DealState::Rejected => inv.journal_rejected += 1,
            _ => {}
        }
        if let Some(id) = &t.deal_id {
            by_deal
                .entry(id.to_string())
                .or_default()
                .push(name.clone());
            let open_here = matches!(
                t.state,
                DealState::Open | DealState::Closing | DealState::Accepted
            );
            if open_here != open_at_broker.contains(id.as_str()) {
                inv.open_mismatch.push(format!(
                    "{name} ({id}) is {} in the journal, {} at the broker",
                    if open_here { "open" } else { "not open" },
                    if open_at_broker.contains(id.as_str()) {
                        "open"
                    } else {
                        "not open"
                    }
                ));
            }
        }
    }
    inv.journal_positions = by_deal.len();
    for (id, names) in &by_deal {
        if names.len() > 1 {
            inv.duplicates
                .push(format!("deal {id} journaled as {}", names.join(" and ")));
        }
    }
    inv.unknown_to_journal = broker
        .iter()
        .filter(|id| !by_deal.contains_key(id.as_str()))
        .cloned()
        .collect();
    inv.ledger_pnl = account.balance - start_balance;
    let mut ledger: BTreeMap<&str, Decimal> = BTreeMap::new();
    for l in &account.ledger {
        *ledger.entry(l.deal_id.as_str()).or_default() += l.amount;
    }
    for t in &trades {
        let (Some(id), Some(pnl)) = (&t.deal_id, t.net_pnl()) else {
            continue;
        };
        let booked = ledger.get(id.as_str()).copied().unwrap_or_default();
        if booked != pnl.value() {
            inv.pnl_mismatches.push(format!(
                "#{} {} {id} {} {} @ {} -> {}: journal {} ledger {booked} ({})",
                t.id.0,
                t.deal_reference,
                t.direction.as_str(),
                t.size,
                t.open_level.map_or_else(|| "?".into(), |l| l.to_string()),
                t.close_level.map_or_else(|| "?".into(), |l| l.to_string()),
                pnl,
                t.reason.as_deref().unwrap_or("-")
            ));
        }
    }
    Ok(inv)
}

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
) -> anyhow::Result<bool> {
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
            anyhow::bail!(
                "the engine exited by itself ({status}) before the kill\n{}",
                harness.output_of(proc.run)
            );
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        if moment == KillMoment::AtExecution {
            // React to the execution itself, not to a poll of the state.
            let wait = (deadline - now).min(Duration::from_millis(20));
            if let Ok(Ok(scalper_sandbox::bus::BusEvent::Trade {
                kind: scalper_sandbox::bus::TradeKind::Confirms,
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
            if let scalper_sandbox::bus::BusEvent::Trade {
                kind: scalper_sandbox::bus::TradeKind::Confirms,
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
