//! IG changes a market's dealing rules during the day: a status change on the stream makes the
//! run read the market's details again, and the engine takes the new minimum stop distance for
//! its next order (the engine side is in `scalper-engine`'s scenario tests).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use rust_decimal_macros::dec;
use scalper_ig::SessionVersion;
use scalper_live::{Interrupts, RunOptions};
use scalper_model::{Epic, MarketStatus};
use scalper_sandbox::{Sandbox, SandboxConfig};

async fn wait_for(what: &str, deadline: Instant, mut done: impl FnMut() -> bool) {
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_market_status_change_reads_the_dealing_rules_again() {
    let logs = common::Logs::install();

    let sandbox = Sandbox::start(SandboxConfig::for_tests()).await.unwrap();
    let epic = Epic::new("CS.D.EURUSD.CFD.IP").unwrap();
    sandbox
        .set_price(&epic, dec!(1.1000), dec!(1.1001))
        .unwrap();
    let details_reads = || {
        sandbox
            .state()
            .requests
            .iter()
            .filter(|(k, _)| k.starts_with("GET /gateway/deal/markets/"))
            .map(|(_, n)| *n)
            .sum::<u64>()
    };
    let interrupts = Interrupts::manual();
    let kill = interrupts.kill_switch();
    let run = tokio::spawn(scalper_live::run(
        common::client_for(&sandbox, SessionVersion::V2),
        common::busy_ema_config(3, 30),
        vec![epic.clone()],
        RunOptions {
            duration: Some(Duration::from_secs(30)),
            interrupts: Some(interrupts),
            ..RunOptions::default()
        },
    ));
    let deadline = Instant::now() + Duration::from_secs(20);
    wait_for("the stream", deadline, || {
        logs.text().contains("stream connected")
    })
    .await;
    let at_start = details_reads();
    assert_eq!(at_start, 1, "start-up reads the market once");

    // IG widens the minimum stop distance and the market's status changes.
    sandbox.set_min_stop_distance(&epic, dec!(12)).unwrap();
    sandbox
        .set_market_status(&epic, Some(MarketStatus::EditsOnly))
        .unwrap();
    wait_for("the refreshed rules", deadline, || {
        logs.text()
            .contains("dealing rules changed: minimum stop distance 2 -> 12 points")
    })
    .await;
    assert_eq!(
        details_reads(),
        at_start + 1,
        "one more read, for that market"
    );
    assert!(logs
        .text()
        .contains("market status TRADEABLE -> EDITS_ONLY"));

    kill.press();
    kill.press();
    let report = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("the run ends")
        .unwrap()
        .unwrap();
    assert_eq!(report.ended, "interrupted", "{report:?}");
    sandbox.shutdown().await;
}
