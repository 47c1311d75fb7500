//! `run --shadow` against the sandbox: with nothing in the way, live fills on the quote it
//! decided on, as the shadow's paper does, so every live trade has a paper twin and every
//! difference is exactly zero; with the sandbox's `latency:` fault, live's fills come later
//! than its decisions and the shadow shows the delay and the difference it makes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use scalper_engine::EngineConfig;
use scalper_ig::SessionVersion;
use scalper_journal::{Journal, OpenOptions, ShadowOutcome, ShadowTrade, SystemEvent};
use scalper_live::{Interrupts, RunOptions, ShadowSummary, TelemetryView};
use scalper_model::{Epic, Money, Timestamp};
use scalper_sandbox::{MarketSchedule, Sandbox, SandboxConfig};

fn eurusd() -> Epic {
    Epic::new("CS.D.EURUSD.CFD.IP").unwrap()
}

fn config() -> EngineConfig {
    let mut cfg = common::busy_ema_config(5, 4);
    // The stepped market's quotes are minutes of wall time apart from the loop's timer.
    cfg.risk.stale_quote_ms = i64::MAX / 4;
    cfg
}

async fn wait_for(what: &str, within: Duration, mut cond: impl FnMut() -> bool) {
    let until = Instant::now() + within;
    while !cond() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn shadow_now(view: &TelemetryView) -> ShadowSummary {
    view.shadow().unwrap_or_default()
}

/// The `shadow_trade` events of a journal.
fn journaled(path: &std::path::Path) -> Vec<ShadowTrade> {
    let j = Journal::open(path, &OpenOptions::read_only()).unwrap();
    j.events(
        Timestamp::from_millis(0),
        Timestamp::from_millis(i64::MAX / 2),
        Some("shadow_trade"),
    )
    .unwrap()
    .into_iter()
    .filter_map(
        |e| match serde_json::from_value::<SystemEvent>(e.detail).ok()? {
            SystemEvent::ShadowTrade(t) => Some(*t),
            _ => None,
        },
    )
    .collect()
}

/// The sandbox's market is stepped one quote at a time, each once live and the shadow have
/// both dealt on it: live's market orders fill at the quote decided on, and so does paper.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_faults_every_live_trade_has_a_paper_twin_and_no_difference() {
    let sandbox = Sandbox::start(SandboxConfig::for_tests()).await.unwrap();
    let epic = eurusd();
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.sqlite");
    let (telemetry, view) = scalper_live::telemetry();
    let interrupts = Interrupts::manual();
    let kill = interrupts.kill_switch();
    let opts = RunOptions {
        duration: Some(Duration::from_secs(120)),
        shadow: true,
        journal: Some(journal.clone()),
        durable_journal: false,
        interrupts: Some(interrupts),
        telemetry: Some(telemetry),
        ..RunOptions::default()
    };
    let run = scalper_live::run(
        common::client_for(&sandbox, SessionVersion::V2),
        config(),
        vec![epic.clone()],
        opts,
    );
    tokio::pin!(run);
    let drive = async {
        // The subscription's snapshot is the first quote: counted before stepping begins.
        wait_for(
            "the stream's snapshot quote",
            Duration::from_secs(20),
            || shadow_now(&view).quotes >= 1,
        )
        .await;
        let start = shadow_now(&view).quotes;
        for n in 1..=300u64 {
            sandbox.step(Some(&epic), 1).unwrap();
            wait_for(
                "live and the shadow to deal on the quote",
                Duration::from_secs(10),
                || {
                    let s = shadow_now(&view);
                    s.quotes >= start + n && s.awaiting_live == 0
                },
            )
            .await;
        }
        // Stop: no new entries, everything closed on both sides (the command goes to both).
        kill.press();
        for _ in 0..20 {
            sandbox.step(Some(&epic), 1).unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let report = tokio::select! {
        r = &mut run => r,
        () = drive => run.await,
    }
    .unwrap();
    sandbox.shutdown().await;

    let s = report.shadow.clone().expect("a shadow section");
    assert!(report.trades >= 5, "too few trades to compare: {report:?}");
    assert_eq!(s.pairs, report.trades, "{s:?} {report:?}");
    assert_eq!(
        (s.live_only, s.shadow_only, s.unfinished),
        (0, 0, 0),
        "{s:?}"
    );
    assert_eq!(s.inputs_dropped, 0);
    assert_eq!(s.pnl_live, report.pnl, "{s:?}");
    assert_eq!(s.pnl_difference, Money::ZERO, "{s:?}");
    assert_eq!(s.entry_slippage_points_mean, Some(Decimal::ZERO), "{s:?}");
    assert_eq!(s.exit_slippage_points_mean, Some(Decimal::ZERO), "{s:?}");
    // The metrics say the same.
    let metrics =
        scalper_observe::metrics::render(&scalper_observe::metrics::registry(view.clone()))
            .unwrap();
    for line in [
        format!("scalper_shadow_pairs_total {}", s.pairs),
        "scalper_shadow_live_only_total 0".to_string(),
        "scalper_shadow_paper_only_total 0".to_string(),
        "scalper_shadow_pnl_difference{currency=".to_string(),
    ] {
        assert!(metrics.contains(&line), "{line} not in\n{metrics}");
    }
    // The journal keeps each pair, with its zero differences.
    let pairs = journaled(&journal);
    assert_eq!(pairs.len() as u64, s.pairs);
    for p in &pairs {
        assert_eq!(p.outcome, ShadowOutcome::Paired, "{p:?}");
        assert!(p.same_quote, "{p:?}");
        assert_eq!(p.entry_slippage_points, Some(Decimal::ZERO), "{p:?}");
        assert_eq!(p.exit_slippage_points, Some(Decimal::ZERO), "{p:?}");
        assert_eq!(p.pnl_difference, Some(Money::ZERO), "{p:?}");
    }
}

/// Every REST request 150 ms late on a moving market: live's fills come at least 150 ms after
/// their decisions, at other prices than paper's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_latency_the_shadow_shows_the_delay_and_the_difference() {
    let sandbox = Sandbox::start(SandboxConfig {
        seed: 17,
        speed: 30.0,
        schedule: MarketSchedule::AlwaysOpen,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.sqlite");
    let (telemetry, view) = scalper_live::telemetry();
    let opts = RunOptions {
        duration: Some(Duration::from_secs(15)),
        shadow: true,
        journal: Some(journal.clone()),
        durable_journal: false,
        interrupts: Some(Interrupts::manual()),
        telemetry: Some(telemetry),
        ..RunOptions::default()
    };
    let client = common::client_for(&sandbox, SessionVersion::V2);
    let run = scalper_live::run(client, config(), vec![eurusd()], opts);
    tokio::pin!(run);
    // Latency from the first quote on (start-up's own requests are not what is measured).
    let arm = async {
        wait_for("the shadow's first quote", Duration::from_secs(20), || {
            shadow_now(&view).quotes > 0
        })
        .await;
        sandbox.inject_faults("latency:150ms").unwrap();
        std::future::pending::<()>().await;
    };
    let report = tokio::select! {
        r = &mut run => r,
        () = arm => unreachable!(),
    }
    .unwrap();
    sandbox.shutdown().await;

    let s = report.shadow.clone().expect("a shadow section");
    assert!(s.pairs > 0, "no pair: {s:?} {report:?}");
    assert!(
        s.entry_delay_ms_mean.is_some_and(|ms| ms >= 150),
        "live's fills should come at least 150 ms after the decision: {s:?}"
    );
    let pairs = journaled(&journal);
    assert!(
        pairs
            .iter()
            .any(|p| p.entry_slippage_points.is_some_and(|d| !d.is_zero())
                || p.exit_slippage_points.is_some_and(|d| !d.is_zero())),
        "no pair with a difference: {pairs:?}"
    );
    assert_ne!(s.pnl_difference, Money::ZERO, "{s:?}");
}
