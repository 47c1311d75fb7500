//! IG's own order features through the whole stack: the `scalper` strategy set to let IG trail
//! its stops, to take part of the profit early, and (in a second run) to use guaranteed stops,
//! trading the sandbox over its REST API and stream. What the sandbox did is checked against
//! the journal: the partial closes it booked, the stop moves it streamed, no amendment sent by
//! the engine, and P&L (guaranteed-stop premiums included) equal to the sandbox's ledger.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use scalper_engine::{EngineConfig, ScalperConfig, StopType, StrategyConfig, TrailingBy};
use scalper_ig::SessionVersion;
use scalper_journal::{Journal, OpenOptions, TradeFilter};
use scalper_live::{Interrupts, RunOptions, RunReport};
use scalper_model::{Epic, Money, Timestamp};
use scalper_sandbox::{MarketSchedule, Sandbox, SandboxConfig, SandboxHandle};

fn config(strategy: ScalperConfig) -> EngineConfig {
    let mut cfg = EngineConfig {
        seed: 5,
        strategy: StrategyConfig::Scalper(strategy),
        ..EngineConfig::default()
    };
    cfg.risk.max_trades_per_day = 1_000_000;
    cfg.risk.cooldown_after_losses = 0;
    cfg.risk.reject_cooldown_ms = 0;
    cfg.risk.max_spread_points = None;
    cfg.risk.daily_loss_limit = None;
    cfg
}

fn start_run(
    sandbox: &SandboxHandle,
    cfg: EngineConfig,
    journal: &std::path::Path,
    secs: u64,
) -> tokio::task::JoinHandle<Result<RunReport, scalper_live::LiveError>> {
    let epics = vec![
        Epic::new("CS.D.EURUSD.CFD.IP").unwrap(),
        Epic::new("CS.D.GBPUSD.CFD.IP").unwrap(),
    ];
    tokio::spawn(scalper_live::run(
        common::client_for(sandbox, SessionVersion::V2),
        cfg,
        epics,
        RunOptions {
            duration: Some(Duration::from_secs(secs)),
            journal: Some(journal.to_path_buf()),
            durable_journal: false,
            interrupts: Some(Interrupts::manual()),
            ..RunOptions::default()
        },
    ))
}

async fn sandbox() -> SandboxHandle {
    Sandbox::start(SandboxConfig {
        schedule: MarketSchedule::AlwaysOpen,
        speed: 60.0,
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

fn journal_total(path: &std::path::Path) -> (Money, usize, Vec<serde_json::Value>, usize) {
    let j = Journal::open(
        path,
        &OpenOptions {
            read_only: true,
            ..OpenOptions::default()
        },
    )
    .unwrap();
    let trades = j.trades(&TradeFilter::default()).unwrap();
    for t in &trades {
        eprintln!("{t}");
    }
    let total = trades
        .iter()
        .filter_map(|t| t.pnl)
        .fold(Money::ZERO, |a, b| a + b);
    let all = |kind| {
        j.events(
            Timestamp::from_millis(0),
            Timestamp::from_millis(i64::MAX),
            Some(kind),
        )
        .unwrap()
    };
    let partials = all("partial_close")
        .into_iter()
        .map(|e| e.detail)
        .collect::<Vec<_>>();
    (total, trades.len(), partials, all("amendment").len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ig_trails_the_stops_and_part_of_each_position_is_taken_early() {
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.sqlite");
    let strategy = ScalperConfig {
        size: Some(dec!(2)),
        stop_points: Some(dec!(6)),
        target_points: Some(dec!(12)),
        trailing: TrailingBy::Broker,
        trailing_points: Some(dec!(4)),
        trailing_step_points: Some(dec!(1)),
        partial_close_points: Some(dec!(1)),
        partial_close_fraction: dec!(0.5),
        max_hold_ms: 120_000,
        ..ScalperConfig::default()
    };
    let handle = start_run(&sandbox, config(strategy), &journal, 20);
    // The random walk may not carry a position a point on within the run: each time a full
    // position is open, the market moves three points its way (twice at most), so that a part
    // is taken and IG's trailing stop follows.
    let mut pushed: Vec<String> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(18);
    while pushed.len() < 2 && tokio::time::Instant::now() < deadline && !handle.is_finished() {
        let state = sandbox.state();
        let open = state
            .account("SANDBOX-CFD")
            .unwrap()
            .positions
            .iter()
            .find(|p| p.size == dec!(2) && !pushed.contains(&p.deal_id))
            .cloned();
        if let Some(p) = open {
            let epic = Epic::new(p.epic.clone()).unwrap();
            let sign = p.direction.sign();
            // A BUY is valued at the bid, a SELL at the offer; the spread is a point.
            let (bid, offer) = if sign > Decimal::ZERO {
                (p.level + dec!(3), p.level + dec!(4))
            } else {
                (p.level - dec!(4), p.level - dec!(3))
            };
            sandbox.set_price(&epic, bid, offer).unwrap();
            pushed.push(p.deal_id);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let report = tokio::time::timeout(Duration::from_secs(80), handle)
        .await
        .expect("the run ends")
        .unwrap()
        .unwrap();
    let state = sandbox.state();
    let (total, trades, partials, amendments) = journal_total(&journal);
    eprintln!(
        "broker trailing: {} trades, {} partial closes, {} stop moves, P&L {}",
        report.trades,
        partials.len(),
        amendments,
        report.pnl
    );
    assert!(
        !pushed.is_empty(),
        "a position was open to move the market for"
    );
    assert!(report.trades >= 2, "{report:?}");
    assert!(report.positions_left.is_empty(), "{report:?}");
    assert!(
        !partials.is_empty(),
        "some positions went a point on and were halved"
    );
    for p in &partials {
        assert_eq!(p["size"], "1", "{p}");
        assert_eq!(p["remaining"], "1", "{p}");
    }
    assert!(amendments > 0, "IG's trailing moves reached the journal");
    assert_eq!(
        state.requests_matching("PUT /positions/otc"),
        0,
        "the engine amends nothing: IG trails the stops ({:?})",
        state.requests
    );
    let account = state.account("SANDBOX-CFD").unwrap();
    assert!(account.positions.is_empty(), "{:?}", account.positions);
    let ledger: Decimal = account.ledger.iter().map(|l| l.amount).sum();
    assert_eq!(trades as u64, report.trades);
    assert_eq!(
        total,
        Money::new(ledger),
        "journal P&L = the sandbox's ledger"
    );
    assert_eq!(report.pnl, total);
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_through_guaranteed_stops_costs_the_premium_in_the_journal_as_in_the_sandbox() {
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.sqlite");
    let strategy = ScalperConfig {
        size: Some(dec!(1)),
        // Inside the 10-point guaranteed minimum: risk widens it to 10.
        stop_points: Some(dec!(4)),
        target_atr: 0.0,
        stop_type: StopType::Guaranteed,
        max_hold_ms: 600_000,
        ..ScalperConfig::default()
    };
    let handle = start_run(&sandbox, config(strategy), &journal, 20);
    // Each time a guaranteed position is open, the market gaps 40 points through its stop.
    let mut gaps = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(18);
    while gaps < 3 && tokio::time::Instant::now() < deadline {
        let state = sandbox.state();
        let open = state
            .account("SANDBOX-CFD")
            .unwrap()
            .positions
            .iter()
            .find(|p| p.stop.guaranteed)
            .cloned();
        if let (Some(p), false) = (open, handle.is_finished()) {
            let stop = p.stop_level.expect("a guaranteed stop");
            assert_eq!(
                (p.level - stop).abs(),
                dec!(10),
                "widened to the minimum: {p:?}"
            );
            let epic = Epic::new(p.epic.clone()).unwrap();
            let through = stop - p.direction.sign() * dec!(40);
            sandbox
                .set_price(&epic, through, through + dec!(1))
                .unwrap();
            gaps += 1;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let report = tokio::time::timeout(Duration::from_secs(80), handle)
        .await
        .expect("the run ends")
        .unwrap()
        .unwrap();
    let state = sandbox.state();
    let (total, _, _, _) = journal_total(&journal);
    let account = state.account("SANDBOX-CFD").unwrap();
    let premiums: Vec<Decimal> = account
        .ledger
        .iter()
        .filter(|l| l.description.starts_with("CRPREM"))
        .map(|l| l.amount)
        .collect();
    eprintln!(
        "guaranteed: {} trades, {gaps} gaps, premiums {:?}, P&L {}",
        report.trades, premiums, report.pnl
    );
    assert!(gaps > 0, "a guaranteed position was open to gap through");
    // Every guaranteed stop IG triggered costs its premium: the gaps the test made and any
    // the market reached by itself.
    let triggered = Journal::open(
        &journal,
        &OpenOptions {
            read_only: true,
            ..OpenOptions::default()
        },
    )
    .unwrap()
    .trades(&TradeFilter::default())
    .unwrap()
    .iter()
    .filter(|t| t.reason.as_deref().is_some_and(|r| r.starts_with("stop")))
    .count();
    assert!(triggered >= gaps, "{triggered} stops for {gaps} gaps");
    assert_eq!(premiums.len(), triggered, "one premium per triggered stop");
    assert!(premiums.iter().all(|p| *p < Decimal::ZERO));
    let ledger: Decimal = account.ledger.iter().map(|l| l.amount).sum();
    assert_eq!(
        total,
        Money::new(ledger),
        "journal P&L (premiums included) = the sandbox's ledger"
    );
    assert_eq!(report.pnl, total);
    sandbox.shutdown().await;
}
