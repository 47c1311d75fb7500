//! Shared by the take-over tests: one position opened by a first run and left at the broker,
//! taken over by a second run over the same journal, against a sandbox whose market is frozen
//! between the two so that the position is still open when the second run starts.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use scalper_engine::{AtEnd, EngineConfig, ScalperConfig, StrategyConfig};
use scalper_ig::SessionVersion;
use scalper_journal::{Journal, OpenOptions, Trade, TradeFilter};
use scalper_live::{Interrupts, KillSwitch, LiveError, RunOptions, RunReport};
use scalper_model::{DealState, Epic, Timestamp};
use scalper_sandbox::{MarketSchedule, Sandbox, SandboxConfig, SandboxHandle};
use tokio::time::Instant;

use crate::common;

pub const ACCOUNT: &str = "SANDBOX-CFD";

pub fn eurusd() -> Epic {
    Epic::new("CS.D.EURUSD.CFD.IP").unwrap()
}

pub async fn sandbox() -> SandboxHandle {
    Sandbox::start(SandboxConfig {
        schedule: MarketSchedule::AlwaysOpen,
        speed: 60.0,
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

/// The `scalper` strategy set to `strategy`, one entry a day (the second run makes none: the
/// journal says the day had it), positions left open at the end of a run.
pub fn config(strategy: ScalperConfig) -> EngineConfig {
    let mut cfg = EngineConfig {
        seed: 5,
        strategy: StrategyConfig::Scalper(strategy),
        at_end: AtEnd::Leave,
        ..EngineConfig::default()
    };
    cfg.risk.max_trades_per_day = 1;
    cfg.risk.cooldown_after_losses = 0;
    cfg.risk.reject_cooldown_ms = 0;
    cfg.risk.max_spread_points = None;
    cfg.risk.daily_loss_limit = None;
    cfg
}

/// A run on EUR/USD for `secs` over `journal`, and the kill switch that ends it early.
pub fn start_run(
    sandbox: &SandboxHandle,
    cfg: EngineConfig,
    journal: &Path,
    secs: u64,
) -> (
    tokio::task::JoinHandle<Result<RunReport, LiveError>>,
    KillSwitch,
) {
    let interrupts = Interrupts::manual();
    let switch = interrupts.kill_switch();
    let handle = tokio::spawn(scalper_live::run(
        common::client_for(sandbox, SessionVersion::V2),
        cfg,
        vec![eurusd()],
        RunOptions {
            duration: Some(Duration::from_secs(secs)),
            journal: Some(journal.to_path_buf()),
            durable_journal: false,
            interrupts: Some(interrupts),
            ..RunOptions::default()
        },
    ));
    (handle, switch)
}

pub async fn finished(handle: tokio::task::JoinHandle<Result<RunReport, LiveError>>) -> RunReport {
    tokio::time::timeout(Duration::from_secs(60), handle)
        .await
        .expect("the run ends")
        .unwrap()
        .unwrap()
}

/// Polls `cond` every 50 ms until it gives a value, failing with `what` after `within`.
pub async fn wait_for<T>(within: Duration, what: &str, mut cond: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = cond() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The journal's trades, read as `journal list` does (also while a run holds it).
pub fn trades(journal: &Path) -> Vec<Trade> {
    Journal::open(journal, &OpenOptions::read_only())
        .unwrap()
        .trades(&TradeFilter::default())
        .unwrap()
}

/// The journal's first trade closed with its P&L known, waited for up to `within`.
pub async fn closed(journal: &Path, within: Duration) -> Trade {
    wait_for(within, "a closed trade with its P&L in the journal", || {
        trades(journal)
            .into_iter()
            .find(|t| t.state == DealState::Closed && t.pnl.is_some())
    })
    .await
}

/// The journal's events of `kind`, in order.
pub fn events(journal: &Path, kind: &str) -> Vec<serde_json::Value> {
    Journal::open(journal, &OpenOptions::read_only())
        .unwrap()
        .events(
            Timestamp::from_millis(0),
            Timestamp::from_millis(i64::MAX),
            Some(kind),
        )
        .unwrap()
        .into_iter()
        .map(|e| e.detail)
        .collect()
}

/// Starts the second run and waits until it manages the position left by the first and its
/// stream is up (so a move of the market reaches it).
pub async fn take_over(
    sandbox: &SandboxHandle,
    logs: &common::Logs,
    cfg: EngineConfig,
    journal: &Path,
) -> (
    tokio::task::JoinHandle<Result<RunReport, LiveError>>,
    KillSwitch,
) {
    let connected = logs.text().matches("stream connected").count();
    let run = start_run(sandbox, cfg, journal, 40);
    wait_for(Duration::from_secs(30), "the second run's stream", || {
        let text = logs.text();
        (text.matches("stream connected").count() > connected).then_some(())
    })
    .await;
    assert!(
        logs.text().contains("open position taken over at start"),
        "{}",
        logs.text()
    );
    run
}
