//! Dealing requests never block the event loop: with one opening request held by the sandbox
//! for 8 s, the engine keeps deciding and dealing on the other instruments, and the kill switch
//! pressed during the hold closes them at once; the held deal is closed when its answer comes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use scalper_engine::EngineConfig;
use scalper_ig::SessionVersion;
use scalper_live::{Interrupts, RunOptions};
use scalper_model::Epic;
use scalper_sandbox::bus::{BusEvent, TradeKind};
use scalper_sandbox::{MarketSchedule, Sandbox, SandboxConfig, SandboxHandle, StateSnapshot};

const ACCOUNT: &str = "SANDBOX-CFD";
const HOLD: Duration = Duration::from_secs(8);

fn epics() -> Vec<Epic> {
    ["EURUSD", "GBPUSD", "USDJPY", "AUDUSD", "EURGBP"]
        .iter()
        .map(|c| Epic::new(format!("CS.D.{c}.CFD.IP")).unwrap())
        .collect()
}

fn busy_config() -> EngineConfig {
    let mut cfg = common::busy_ema_config(3, 5);
    cfg.risk.max_open_positions = 5;
    cfg
}

/// Epics on which the sandbox opened a position, from its TRADE stream (OPU `OPEN`).
#[derive(Clone, Default)]
struct Opened(Arc<Mutex<BTreeSet<String>>>);

impl Opened {
    fn watch(sandbox: &SandboxHandle) -> Self {
        let me = Self::default();
        let mut bus = sandbox.subscribe();
        let seen = me.clone();
        tokio::spawn(async move {
            loop {
                match bus.recv().await {
                    Ok(BusEvent::Trade {
                        kind: TradeKind::Opu,
                        json,
                        ..
                    }) => {
                        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
                        if v["status"] == "OPEN" {
                            let epic = v["epic"].as_str().unwrap().to_string();
                            seen.0.lock().unwrap().insert(epic);
                        }
                    }
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        panic!("the test fell {n} bus events behind")
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        me
    }

    fn epics(&self) -> BTreeSet<String> {
        self.0.lock().unwrap().clone()
    }
}

async fn wait_until(what: &str, until: Instant, mut cond: impl FnMut() -> bool) {
    loop {
        if cond() {
            return;
        }
        assert!(Instant::now() < until, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_deal_blocks_neither_other_instruments_nor_the_kill_switch() {
    let sandbox = Sandbox::start(SandboxConfig {
        seed: 21,
        speed: 30.0,
        schedule: MarketSchedule::AlwaysOpen,
        // Five one-contract FX positions (the held one included) need about 13,400 GBP of
        // margin at 3.33%: enough balance that the engine's margin rule lets all five deal.
        starting_balance: rust_decimal::Decimal::from(100_000),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    // The run's first dealing request (an opening one) is held for 8 s, then executed.
    sandbox
        .inject_faults(&format!("hold-deal:{}s:1", HOLD.as_secs()))
        .unwrap();
    let opened = Opened::watch(&sandbox);
    let dir = tempfile::tempdir().unwrap();
    let interrupts = Interrupts::manual();
    let kill = interrupts.kill_switch();
    let opts = RunOptions {
        duration: Some(Duration::from_secs(60)),
        journal: Some(dir.path().join("journal.sqlite")),
        durable_journal: false,
        interrupts: Some(interrupts),
        ..RunOptions::default()
    };
    let run = scalper_live::run(
        common::client_for(&sandbox, SessionVersion::V2),
        busy_config(),
        epics(),
        opts,
    );
    tokio::pin!(run);

    let observe = async {
        let fired = |s: &StateSnapshot| s.faults_fired.get("hold-deal").copied().unwrap_or(0);
        wait_until(
            "the held deal",
            Instant::now() + Duration::from_secs(20),
            || fired(&sandbox.state()) >= 1,
        )
        .await;
        // The hold started at or before now: everything below must happen before it ends.
        let hold_seen = Instant::now();
        let hold_ends = hold_seen + HOLD.saturating_sub(Duration::from_millis(500));
        wait_until(
            "deals on the four other instruments during the hold",
            hold_ends,
            || opened.epics().len() >= 4,
        )
        .await;
        let during = opened.epics();
        assert_eq!(
            during.len(),
            4,
            "the held instrument dealt early: {during:?}"
        );
        kill.press();
        let pressed = Instant::now();
        // The kill switch closes what is open at once, while the held request still waits.
        wait_until(
            "the kill switch's closes during the hold",
            hold_ends,
            || {
                sandbox
                    .state()
                    .account(ACCOUNT)
                    .is_some_and(|a| a.positions.is_empty())
            },
        )
        .await;
        let closed_after = pressed.elapsed();
        (during, closed_after)
    };
    let ((during, closed_after), report) = tokio::select! {
        r = &mut run => panic!("the run ended before the checks: {r:?}"),
        seen = observe => (seen, run.await.unwrap()),
    };
    let state = sandbox.state();
    sandbox.shutdown().await;
    eprintln!(
        "kill switch closed every open position {closed_after:?} after the press, during the hold"
    );

    // The held deal was executed when the hold ended, then closed by the kill switch: the run
    // ended on its own with nothing open at the broker or in the engine.
    let account = state.account(ACCOUNT).unwrap();
    assert!(account.positions.is_empty(), "{:?}", account.positions);
    let all = opened.epics();
    assert_eq!(all.len(), 5, "the held deal never executed: {all:?}");
    let held: Vec<_> = all.difference(&during).collect();
    assert_eq!(held.len(), 1);
    assert_eq!(report.open_positions, 0, "{report:?}");
    assert_eq!(report.exit_code, 0);
    assert_eq!(report.halted.as_deref(), Some("kill switch"), "{report:?}");
    assert!(report.duration_s < 40.0, "{report:?}");
}
