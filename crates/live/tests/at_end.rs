//! How a `--duration` run ends: `flatten` closes every position (adopted ones too), `leave`
//! leaves them at the broker and lists each one with the journal's trade number, its stop and
//! its limit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use rust_decimal_macros::dec;
use scalper_engine::AtEnd;
use scalper_ig::{OpenRequest, SessionVersion};
use scalper_journal::{Journal, OpenOptions, TradeFilter};
use scalper_live::{Interrupts, RunOptions, RunReport};
use scalper_model::{Direction, Epic, Price, Size};
use scalper_sandbox::{Sandbox, SandboxConfig, SandboxHandle};

fn eurusd() -> Epic {
    Epic::new("CS.D.EURUSD.CFD.IP").unwrap()
}

/// A position opened outside the run (adopted at start-up), then a 2 s run ending with `at_end`.
async fn run_with(at_end: AtEnd) -> (SandboxHandle, RunReport, tempfile::TempDir) {
    let sandbox = Sandbox::start(SandboxConfig {
        start_time: None,
        ..SandboxConfig::for_tests()
    })
    .await
    .unwrap();
    // The sandbox quotes EUR/USD scaled as IG does (1.10000 is 11000.0).
    sandbox
        .set_price(&eurusd(), dec!(11000.0), dec!(11000.8))
        .unwrap();
    let outside = common::client_for(&sandbox, SessionVersion::V2);
    let mut req = OpenRequest::market(eurusd(), Direction::Buy, Size::new(dec!(1)), "USD");
    req.stop_level = Some(Price::new(dec!(10950.0)));
    req.limit_level = Some(Price::new(dec!(11050.0)));
    let outcome = outside.open_position(&req).await.unwrap();
    assert!(
        matches!(outcome, scalper_ig::DealOutcome::Accepted { .. }),
        "{outcome:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::busy_ema_config(3, 30);
    cfg.at_end = at_end;
    let report = scalper_live::run(
        common::client_for(&sandbox, SessionVersion::V2),
        cfg,
        vec![eurusd()],
        RunOptions {
            duration: Some(Duration::from_secs(2)),
            journal: Some(dir.path().join("journal.sqlite")),
            durable_journal: false,
            interrupts: Some(Interrupts::manual()),
            ..RunOptions::default()
        },
    )
    .await
    .unwrap();
    (sandbox, report, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leave_lists_what_stays_open_with_its_journal_number_stop_and_limit() {
    let (sandbox, report, dir) = Box::pin(run_with(AtEnd::Leave)).await;
    assert_eq!(report.ended, "duration");
    assert_eq!(report.positions_left.len(), 1, "{report:?}");
    let left = &report.positions_left[0];
    assert_eq!(left.stop_level.as_deref(), Some("10950"));
    assert_eq!(left.limit_level.as_deref(), Some("11050"));
    let account = sandbox.account_ids().0;
    assert_eq!(
        sandbox.state().account(account).unwrap().positions.len(),
        1,
        "left at the broker"
    );
    // One number everywhere: the report's trade number is the journal's id for that deal.
    let j = Journal::open(
        dir.path().join("journal.sqlite"),
        &OpenOptions {
            read_only: true,
            ..OpenOptions::default()
        },
    )
    .unwrap();
    let trades = j.trades(&TradeFilter::default()).unwrap();
    let t = trades
        .iter()
        .find(|t| t.deal_id.as_ref().map(ToString::to_string) == left.deal_id)
        .expect("the journal has the deal");
    assert_eq!(u64::try_from(t.id.0).unwrap(), left.trade_id);
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flatten_closes_everything_before_the_run_ends() {
    let (sandbox, report, _dir) = Box::pin(run_with(AtEnd::Flatten)).await;
    assert_eq!(report.ended, "duration");
    // The summary adds up: every closed trade is a win, a loss or breakeven, and every
    // refusal is counted under its rule.
    assert!(
        report.trades >= 1,
        "the adopted position was closed: {report:?}"
    );
    assert_eq!(
        report.wins + report.losses + report.breakeven,
        report.trades
    );
    assert_eq!(
        report
            .refusals_by_rule
            .values()
            .map(|r| r.count)
            .sum::<u64>(),
        report.refusals
    );
    assert!(report.positions_left.is_empty(), "{report:?}");
    assert_eq!(report.open_positions, 0);
    let account = sandbox.account_ids().0;
    assert!(sandbox
        .state()
        .account(account)
        .unwrap()
        .positions
        .is_empty());
    sandbox.shutdown().await;
}
