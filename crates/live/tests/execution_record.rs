//! The journal's execution record of each trade, from a run against the sandbox with 40 ms
//! added to every REST request: the quote the strategy decided on, when the request went
//! out, was acknowledged and confirmed (at least the injected latency apart), the slippage of
//! the fill against the deciding quote in points and money, and the spreads at entry and exit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use rust_decimal::Decimal;

use scalper_ig::SessionVersion;
use scalper_journal::{Journal, OpenOptions, TradeFilter};
use scalper_live::{Interrupts, RunOptions};
use scalper_model::{DealState, Direction, Epic, Timestamp};
use scalper_sandbox::{FaultSpec, MarketSchedule, Sandbox, SandboxConfig};

const LATENCY_MS: i64 = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_trade_keeps_its_signal_latencies_slippage_and_spreads() {
    let sandbox = Sandbox::start(SandboxConfig {
        schedule: MarketSchedule::AlwaysOpen,
        speed: 60.0,
        faults: FaultSpec::parse(&format!("latency:{LATENCY_MS}ms")).unwrap(),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.sqlite");
    let epic = Epic::new("CS.D.EURUSD.CFD.IP").unwrap();
    let run = scalper_live::run(
        common::client_for(&sandbox, SessionVersion::V2),
        common::busy_ema_config(11, 4),
        vec![epic.clone()],
        RunOptions {
            duration: Some(Duration::from_secs(12)),
            journal: Some(journal.clone()),
            durable_journal: false,
            interrupts: Some(Interrupts::manual()),
            ..RunOptions::default()
        },
    );
    let report = tokio::time::timeout(Duration::from_secs(90), run)
        .await
        .expect("the run ends")
        .unwrap();
    assert!(report.trades >= 2, "{report:?}");

    let j = Journal::open(
        &journal,
        &OpenOptions {
            read_only: true,
            ..OpenOptions::default()
        },
    )
    .unwrap();
    let closed: Vec<_> = j
        .trades(&TradeFilter::default())
        .unwrap()
        .into_iter()
        .filter(|t| t.state == DealState::Closed && !t.adopted)
        .collect();
    assert!(closed.len() >= 2, "{closed:?}");
    let mut closes_sent = 0;
    for t in &closed {
        let e = &t.execution;
        let (bid, ask) = (e.signal_bid.unwrap(), e.signal_ask.unwrap());
        assert!(ask > bid, "{t}: {e:?}");
        assert!(e.signal_at.is_some(), "{e:?}");
        let spread = e.entry_spread.unwrap();
        assert!(spread > Decimal::ZERO, "{e:?}");
        // Points per unit of price, as the journal converted (the market's point size).
        let per_price = spread / (ask - bid);
        let (sent, acked, confirmed) = (
            e.sent_at.unwrap().millis(),
            e.acked_at.unwrap().millis(),
            e.confirmed_at.unwrap().millis(),
        );
        // The POST itself waited the injected latency; the confirm came after the answer.
        assert!(acked - sent >= LATENCY_MS, "{t}: {e:?}");
        assert!(confirmed >= acked, "{t}: {e:?}");
        assert!(e.latency_ms().unwrap() >= LATENCY_MS);
        // Slippage: the fill against the deciding quote's side, signed against us.
        let open = t.open_level.unwrap();
        let expected = match t.direction {
            Direction::Buy => ask,
            Direction::Sell => bid,
        };
        let sign = match t.direction {
            Direction::Buy => Decimal::ONE,
            Direction::Sell => -Decimal::ONE,
        };
        let points = (open - expected) * sign * per_price;
        assert_eq!(
            e.slippage_points.map(|p| p.round_dp(6)),
            Some(points.round_dp(6)),
            "{t}: {e:?}"
        );
        let money = e.slippage.unwrap().value();
        assert_eq!(
            money.is_sign_positive() && !money.is_zero(),
            points > Decimal::ZERO,
            "{t}: {e:?}"
        );
        assert!(e.exit_spread.is_some_and(|s| s > Decimal::ZERO), "{e:?}");
        closes_sent += usize::from(e.exit_slippage_points.is_some());
    }
    // The EMA cross closes by flipping: the engine sent those closes, each with its slippage.
    assert!(closes_sent >= 1, "{closed:?}");
    // `report --execution` sums the same records.
    let report = j
        .execution_report(Timestamp::from_millis(0), Timestamp::from_millis(i64::MAX))
        .unwrap();
    eprintln!("{report}");
    assert_eq!(report.total.trades as usize, closed.len());
    assert_eq!(report.without_record, 0);
    let total: Decimal = closed
        .iter()
        .map(|t| t.execution.slippage.unwrap().value())
        .sum();
    assert_eq!(report.total.slippage.value(), total);
    assert!(report.total.ack_ms_mean.unwrap() >= LATENCY_MS);
    assert!(report.total.confirm_ms_p90.unwrap() >= report.total.ack_ms_mean.unwrap());
    assert_eq!(report.instruments.len(), 1);
    sandbox.shutdown().await;
}
