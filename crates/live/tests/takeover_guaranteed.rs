//! A guaranteed stop survives a restart: a first run opens a guaranteed-stop position and
//! leaves it at the broker, a second run takes it over from the journal, the market gaps
//! through the stop, and the journal's P&L (the premium IG charged included) equals the
//! sandbox's ledger.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod takeover;

use std::path::Path;
use std::time::Duration;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use scalper_engine::{EngineConfig, ScalperConfig, StopType};
use scalper_journal::StopKind;
use scalper_model::{Money, Price};
use scalper_sandbox::state::Position;
use scalper_sandbox::SandboxHandle;
use takeover::{eurusd, ACCOUNT};

/// The tests run one at a time: the take-over test waits for its run's log lines, which the
/// other's run would also write into the one process-wide log.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn guaranteed() -> EngineConfig {
    takeover::config(ScalperConfig {
        size: Some(dec!(1)),
        // Inside the 10-point guaranteed minimum: risk widens it to 10.
        stop_points: Some(dec!(4)),
        target_atr: 0.0,
        stop_type: StopType::Guaranteed,
        max_hold_ms: 3_600_000,
        ..ScalperConfig::default()
    })
}

/// A first run that opens one guaranteed-stop position and ends leaving it at the broker, the
/// market frozen so that nothing closes it; the position as the sandbox holds it.
async fn leave_a_guaranteed_position(sandbox: &SandboxHandle, journal: &Path) -> Position {
    let (first, _) = takeover::start_run(sandbox, guaranteed(), journal, 15);
    // The first entry; then the market stops so that nothing closes it before the restart.
    let position = takeover::wait_for(Duration::from_secs(14), "a guaranteed entry", || {
        let state = sandbox.state();
        let p = state
            .account(ACCOUNT)?
            .positions
            .iter()
            .find(|p| p.stop.guaranteed)
            .cloned()?;
        sandbox.set_speed(0.0).unwrap();
        Some(p)
    })
    .await;
    let report = takeover::finished(first).await;
    assert_eq!(report.positions_left.len(), 1, "{report:?}");
    let left = sandbox.state().account(ACCOUNT).unwrap().positions.clone();
    assert_eq!(left.len(), 1, "still open at the broker: {left:?}");
    let before = takeover::trades(journal);
    assert_eq!(before.len(), 1);
    assert!(
        matches!(
            before[0].stop_kind,
            StopKind::Guaranteed {
                premium_points: Some(_)
            }
        ),
        "{:?}",
        before[0].stop_kind
    );

    // Journaled with the intent, then with the premium fixed at the fill.
    let kinds = takeover::events(journal, "stop_kind");
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    assert_eq!(kinds[0]["kind"], "guaranteed");
    assert!(kinds[0]["premium_points"].is_null(), "{kinds:?}");
    assert!(kinds[1]["premium_points"].is_string(), "{kinds:?}");
    position
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guaranteed_stop_taken_over_after_a_restart_still_costs_its_premium() {
    let _one = ONE_AT_A_TIME.lock().await;
    let logs = common::Logs::install();
    let sandbox = takeover::sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.sqlite");
    let position = leave_a_guaranteed_position(&sandbox, &journal).await;

    let (second, switch) = takeover::take_over(&sandbox, &logs, guaranteed(), &journal).await;
    // The market gaps 40 points through the stop: IG fills it at its level, for the premium.
    let stop = position.stop_level.expect("a guaranteed stop");
    let through = stop - position.direction.sign() * dec!(40);
    sandbox
        .set_price(&eurusd(), through, through + dec!(1))
        .unwrap();
    let closed = takeover::closed(&journal, Duration::from_secs(20)).await;
    switch.press();
    let report = takeover::finished(second).await;
    let account = sandbox.state().account(ACCOUNT).unwrap().clone();
    let premiums: Vec<Decimal> = account
        .ledger
        .iter()
        .filter(|l| l.description.starts_with("CRPREM"))
        .map(|l| l.amount)
        .collect();
    eprintln!(
        "taken over: {closed}, premiums {premiums:?}, run P&L {}",
        report.pnl
    );
    assert!(account.positions.is_empty(), "{:?}", account.positions);
    assert_eq!(
        premiums.len(),
        1,
        "IG charged the premium: {:?}",
        account.ledger
    );
    assert!(
        closed
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("premium")),
        "{:?}",
        closed.reason
    );
    let trades = takeover::trades(&journal);
    assert_eq!(trades.len(), 1, "the second run made no entry");
    let ledger: Decimal = account.ledger.iter().map(|l| l.amount).sum();
    assert_eq!(
        closed.pnl,
        Some(Money::new(ledger)),
        "journal P&L (the premium included) = the sandbox's ledger"
    );
    assert_eq!(report.pnl, Money::new(ledger));
    sandbox.shutdown().await;
}

/// The same stop triggered while no run is up: the next run values the close from IG's
/// history at start-up, premium included, so the journal still equals the broker's ledger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guaranteed_stop_triggered_while_the_engine_was_down_still_costs_its_premium() {
    let _one = ONE_AT_A_TIME.lock().await;
    let sandbox = takeover::sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.sqlite");
    let position = leave_a_guaranteed_position(&sandbox, &journal).await;
    let stop = position.stop_level.expect("a guaranteed stop");
    let through = stop - position.direction.sign() * dec!(40);
    sandbox
        .set_price(&eurusd(), through, through + dec!(1))
        .unwrap();
    let account = sandbox.state().account(ACCOUNT).unwrap().clone();
    assert!(
        account.positions.is_empty(),
        "IG filled the stop: {:?}",
        account.positions
    );
    let premiums = account
        .ledger
        .iter()
        .filter(|l| l.description.starts_with("CRPREM"))
        .count();
    assert_eq!(premiums, 1, "{:?}", account.ledger);

    let (second, switch) = takeover::start_run(&sandbox, guaranteed(), &journal, 40);
    let closed = takeover::closed(&journal, Duration::from_secs(30)).await;
    switch.press();
    takeover::finished(second).await;
    eprintln!("closed while down: {closed}");
    let reason = closed.reason.as_deref().unwrap_or_default();
    assert!(
        reason.contains("while the engine was down") && reason.contains("premium"),
        "{reason}"
    );
    assert_eq!(
        closed.close_level,
        Some(Price::new(stop)),
        "filled at its level"
    );
    let ledger: Decimal = account.ledger.iter().map(|l| l.amount).sum();
    assert_eq!(
        closed.pnl,
        Some(Money::new(ledger)),
        "journal P&L (the premium included) = the sandbox's ledger"
    );
    sandbox.shutdown().await;
}
