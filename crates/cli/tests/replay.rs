//! `scalper replay` end to end: `scalper run --record` against the sandbox in real time, then
//! the run replayed over its own recording. Without faults the replay takes the run's
//! decisions trade for trade (the same decision hash, the same P&L); with the sandbox's
//! `latency:` and `slippage:` faults the P&L difference is explained, to the cent, by latency,
//! slippage and what followed from them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;
use std::str::FromStr;

use rust_decimal::Decimal;
use scalper_sandbox::{FaultSpec, MarketSchedule, Sandbox, SandboxConfig};

/// A strategy that trades every few seconds at the sandbox's real-time pace.
const ENGINE_TOML: &str = r#"
[journal]
path = 'journal.sqlite'

[engine.strategy]
kind = "scalper"
fast_period = 3
slow_period = 8
atr_period = 5
entry_threshold_atr = 0.05
min_atr_points = 0
max_hold_ms = 3000

[engine.risk]
risk_per_trade = { amount = 15 }
max_open_per_instrument = 1
cooldown_after_losses = 0
max_trades_per_day = 100000
"#;

fn scalper(dir: &Path, sandbox: &scalper_sandbox::SandboxHandle, args: &[&str]) -> Command {
    common::against_sandbox(dir, sandbox, args)
}

fn dec(v: &serde_json::Value) -> Decimal {
    Decimal::from_str(v.as_str().unwrap_or_else(|| panic!("not a decimal: {v}"))).unwrap()
}

/// Runs `scalper run --record` for `secs` against a real-time sandbox with `faults`, then
/// `scalper replay --json`; returns the replay of EUR/USD.
async fn run_and_replay(seed: u64, faults: &str, secs: u64) -> serde_json::Value {
    let sandbox = Sandbox::start(SandboxConfig {
        seed,
        speed: 1.0,
        schedule: MarketSchedule::AlwaysOpen,
        faults: FaultSpec::parse(faults).unwrap(),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    std::fs::write(dir.join("scalper.toml"), ENGINE_TOML).unwrap();
    let duration = format!("{secs}s");
    let mut run = scalper(
        &dir,
        &sandbox,
        &["-q", "run", "--record", "rec", "--duration", &duration],
    );
    let out = tokio::task::spawn_blocking(move || run.output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "the run failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut replay = scalper(&dir, &sandbox, &["replay", "--data", "rec", "--json"]);
    let out = tokio::task::spawn_blocking(move || replay.output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "the replay failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The text form and the chart work on the same run.
    let mut text = scalper(
        &dir,
        &sandbox,
        &["replay", "--data", "rec", "--plot", "r.png"],
    );
    let shown = tokio::task::spawn_blocking(move || text.output().unwrap())
        .await
        .unwrap();
    assert!(shown.status.success());
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains("explained by"), "{shown}");
    assert!(std::fs::metadata(dir.join("r.png")).unwrap().len() > 1000);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let inst = report["instruments"][0].clone();
    assert_eq!(inst["epic"], "CS.D.EURUSD.CFD.IP", "{report}");
    // Whatever the faults, the parts add up to the whole.
    let a = &inst["attribution"];
    let parts: Decimal = [
        "latency",
        "slippage",
        "exit_timing",
        "missed",
        "extra",
        "other",
    ]
    .iter()
    .map(|k| dec(&a[*k]))
    .sum();
    assert_eq!(
        parts,
        dec(&inst["live_pnl"]) - dec(&inst["replay_pnl"]),
        "the attribution does not add up: {inst}"
    );
    inst
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_faults_the_replay_takes_the_runs_decisions_trade_for_trade() {
    let inst = run_and_replay(31, "", 40).await;
    let live = inst["live_trades"].as_u64().unwrap();
    assert!(live >= 2, "too few trades to compare ({live}): {inst}");
    assert_eq!(inst["live_hash"], inst["replay_hash"], "{inst:#}");
    assert_eq!(inst["pairs"].as_array().unwrap().len() as u64, live);
    assert_eq!(inst["missed"].as_array().unwrap().len(), 0);
    assert_eq!(inst["extra"].as_array().unwrap().len(), 0);
    // No fault, no slippage: a fill away from the deciding quote is the market moving before
    // the broker dealt (its newest price reaches the throttled stream a moment later), which
    // is latency; nothing else differs but rounding to the cent.
    let a = &inst["attribution"];
    for k in ["slippage", "exit_timing", "missed", "extra"] {
        assert_eq!(dec(&a[k]), Decimal::ZERO, "{k}: {inst:#}");
    }
    assert!(
        dec(&a["other"]).abs() <= Decimal::new(1, 2) * Decimal::from(live),
        "{inst:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_and_slippage_faults_are_found_and_valued() {
    let inst = run_and_replay(32, "latency:1s,slippage:0.5", 40).await;
    let pairs = inst["pairs"].as_array().unwrap();
    assert!(!pairs.is_empty(), "no trade to compare: {inst:#}");
    // Every market fill was half a point worse than the sandbox's own price: most entries
    // show exactly that (an entry whose confirm crossed a new quote may show it as latency).
    let exact = pairs
        .iter()
        .filter(|p| dec(&p["entry"]["slippage_points"]) == Decimal::new(5, 1))
        .count();
    assert!(
        exact * 2 >= pairs.len(),
        "{exact} of {}: {inst:#}",
        pairs.len()
    );
    assert!(
        dec(&inst["attribution"]["slippage"]) < Decimal::ZERO,
        "{inst:#}"
    );
    // A second between decision and fill: the price moved under some of them.
    assert!(
        pairs
            .iter()
            .any(|p| dec(&p["entry"]["latency_points"]) != Decimal::ZERO),
        "no entry moved in a second: {inst:#}"
    );
    assert!(
        inst["mean_latency_ms"].as_f64().unwrap() >= 1000.0,
        "{inst:#}"
    );
}
