//! Part of a position closed on IG's platform (not by the engine) while a run manages it: the
//! stream shows the position smaller under the same deal id, and the run books the part as
//! its own partial closes are booked (journal `partial_close`, the trade's new size), at the
//! level IG recorded; the trade's P&L then equals the sandbox's ledger.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod takeover;

use std::str::FromStr;
use std::time::Duration;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use scalper_engine::ScalperConfig;
use scalper_ig::{CloseRequest, SessionVersion};
use scalper_model::{DealId, DealState, Money, Size};
use takeover::ACCOUNT;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_close_on_the_platform_is_booked_as_a_partial_close() {
    let sandbox = takeover::sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.sqlite");
    let cfg = takeover::config(ScalperConfig {
        size: Some(dec!(2)),
        stop_points: Some(dec!(10)),
        target_atr: 0.0,
        max_hold_ms: 3_600_000,
        ..ScalperConfig::default()
    });
    let (run, switch) = takeover::start_run(&sandbox, cfg, &journal, 40);
    // The entry, once the journal has it; then the market stops, so that only the trader
    // closes anything.
    let position = takeover::wait_for(Duration::from_secs(30), "an entry", || {
        let state = sandbox.state();
        let p = state
            .account(ACCOUNT)?
            .positions
            .iter()
            .find(|p| p.size == dec!(2))
            .cloned()?;
        sandbox.set_speed(0.0).unwrap();
        Some(p)
    })
    .await;
    takeover::wait_for(Duration::from_secs(10), "the fill in the journal", || {
        takeover::trades(&journal)
            .into_iter()
            .find(|t| t.state == DealState::Open)
    })
    .await;
    // The trader closes half of it on the platform.
    let trader = common::client_for(&sandbox, SessionVersion::V2);
    let outcome = trader
        .close_position(&CloseRequest {
            deal_id: DealId::new(position.deal_id.clone()).unwrap(),
            position_direction: position.direction,
            size: Size::new(dec!(1)),
            time_in_force: None,
            deal_reference: None,
        })
        .await
        .unwrap();
    assert!(
        matches!(outcome, scalper_ig::DealOutcome::Accepted { .. }),
        "{outcome:?}"
    );
    let part = takeover::wait_for(Duration::from_secs(20), "the partial close", || {
        takeover::events(&journal, "partial_close").pop()
    })
    .await;
    let ledger = sandbox.state().account(ACCOUNT).unwrap().ledger.clone();
    assert_eq!(ledger.len(), 1, "{ledger:?}");
    assert_eq!(part["size"], "1", "{part}");
    assert_eq!(part["remaining"], "1", "{part}");
    assert_eq!(
        Decimal::from_str(part["pnl"].as_str().unwrap()).unwrap(),
        ledger[0].amount,
        "the part at IG's level: {part}"
    );
    let open = takeover::trades(&journal);
    assert_eq!(open[0].size, Size::new(dec!(1)), "the trade's new size");
    // The kill switch closes the rest and ends the run.
    switch.press();
    let report = takeover::finished(run).await;
    let account = sandbox.state().account(ACCOUNT).unwrap().clone();
    assert!(account.positions.is_empty(), "{:?}", account.positions);
    let trades = takeover::trades(&journal);
    assert_eq!(trades.len(), 1);
    let total: Decimal = account.ledger.iter().map(|l| l.amount).sum();
    assert_eq!(
        trades[0].pnl,
        Some(Money::new(total)),
        "the trade's P&L (the part and the rest) = the sandbox's ledger: {:?}",
        account.ledger
    );
    assert_eq!(report.pnl, Money::new(total));
    sandbox.shutdown().await;
}
