//! A partly closed position survives a restart: a first run takes part of a position's profit
//! and leaves the rest at the broker, a second run takes it over; the part is in the second
//! run's realised P&L for the day from its start, and when the rest closes the trade's P&L is
//! the part plus the rest, equal to the sandbox's ledger.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod takeover;

use std::str::FromStr;
use std::time::Duration;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use scalper_engine::ScalperConfig;
use scalper_model::Money;
use takeover::{eurusd, ACCOUNT};

fn money(v: &serde_json::Value) -> Money {
    Money::new(Decimal::from_str(v.as_str().expect("a decimal string")).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_close_before_a_restart_stays_in_the_day_and_in_the_trade() {
    let logs = common::Logs::install();
    let sandbox = takeover::sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.sqlite");
    let cfg = takeover::config(ScalperConfig {
        size: Some(dec!(2)),
        stop_points: Some(dec!(6)),
        target_points: Some(dec!(12)),
        partial_close_points: Some(dec!(1)),
        partial_close_fraction: dec!(0.5),
        max_hold_ms: 3_600_000,
        ..ScalperConfig::default()
    });
    let (first, _) = takeover::start_run(&sandbox, cfg.clone(), &journal, 15);
    // The entry; the market moves three points its way, so that half of it is taken.
    let full = takeover::wait_for(Duration::from_secs(14), "an entry", || {
        let state = sandbox.state();
        state
            .account(ACCOUNT)?
            .positions
            .iter()
            .find(|p| p.size == dec!(2))
            .cloned()
    })
    .await;
    let sign = full.direction.sign();
    let (bid, offer) = if sign > Decimal::ZERO {
        (full.level + dec!(3), full.level + dec!(4))
    } else {
        (full.level - dec!(4), full.level - dec!(3))
    };
    sandbox.set_price(&eurusd(), bid, offer).unwrap();
    // Half closed: the market stops so that nothing closes the rest before the restart.
    takeover::wait_for(Duration::from_secs(10), "the partial close", || {
        let state = sandbox.state();
        let p = state
            .account(ACCOUNT)?
            .positions
            .iter()
            .find(|p| p.deal_id == full.deal_id)?
            .clone();
        (p.size == dec!(1)).then(|| sandbox.set_speed(0.0).unwrap())
    })
    .await;
    let report = takeover::finished(first).await;
    assert_eq!(report.positions_left.len(), 1, "{report:?}");
    let partials = takeover::events(&journal, "partial_close");
    assert_eq!(partials.len(), 1, "{partials:?}");
    let part = money(&partials[0]["pnl"]);
    let open = sandbox.state().account(ACCOUNT).unwrap().positions.clone();
    assert_eq!(open.len(), 1, "the rest is open at the broker: {open:?}");

    let (second, switch) = takeover::take_over(&sandbox, &logs, cfg, &journal).await;
    // The second run starts its day with the part already realised.
    let starts = takeover::events(&journal, "engine_start");
    assert_eq!(starts.len(), 2);
    assert_eq!(
        money(&starts[1]["setup"]["day_realised_pnl"]),
        part,
        "{}",
        starts[1]
    );
    // The market falls through the rest's stop.
    let stop = open[0].stop_level.expect("a stop");
    let through = stop - sign * dec!(20);
    sandbox
        .set_price(&eurusd(), through, through + dec!(1))
        .unwrap();
    let closed = takeover::closed(&journal, Duration::from_secs(20)).await;
    switch.press();
    let report = takeover::finished(second).await;
    let account = sandbox.state().account(ACCOUNT).unwrap().clone();
    eprintln!(
        "taken over: {closed}, part {part}, run P&L {}, ledger {:?}",
        report.pnl, account.ledger
    );
    assert!(account.positions.is_empty(), "{:?}", account.positions);
    assert_eq!(takeover::trades(&journal).len(), 1, "no other entry");
    let ledger: Decimal = account.ledger.iter().map(|l| l.amount).sum();
    let pnl = closed.pnl.expect("its P&L");
    assert_eq!(
        pnl,
        Money::new(ledger),
        "the trade's P&L (the part and the rest) = the sandbox's ledger"
    );
    assert_eq!(report.pnl, pnl - part, "the second run realised the rest");
    sandbox.shutdown().await;
}
