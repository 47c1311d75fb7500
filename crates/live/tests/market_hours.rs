//! A run learns each market's hours from IG's details and the built-in week: against a sandbox
//! keeping market hours, a Friday evening run on the spread-bet account trades the market's
//! spread-bet epic (the configured friendly name resolves to the CFD one) and refuses every
//! entry in the ten minutes before FX's weekend close.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use scalper_ig::SessionVersion;
use scalper_live::{Interrupts, RunOptions};
use scalper_model::{Epic, Timestamp};
use scalper_sandbox::{MarketSchedule, Sandbox, SandboxConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spread_bet_run_trades_its_epic_and_respects_the_weekend_close() {
    let logs = common::Logs::install();

    // Friday 2027-01-08 21:52 UTC: FX closes at 22:00 UTC (17:00 New York).
    let start = Timestamp::from_millis(1_799_445_120_000);
    assert_eq!(
        start.to_datetime().unwrap().to_rfc3339(),
        "2027-01-08T21:52:00+00:00"
    );
    let sandbox = Sandbox::start(SandboxConfig {
        schedule: MarketSchedule::MarketHours,
        start_time: Some(start),
        speed: 1.0,
        warmup: Duration::from_secs(300),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let cfd = Epic::new("CS.D.EURUSD.CFD.IP").unwrap();
    let client = common::client_with(&sandbox, SessionVersion::V2, |c| {
        c.account_id = Some(scalper_model::AccountId::new("SANDBOX-SB").unwrap());
    });
    let report = scalper_live::run(
        client,
        common::busy_ema_config(5, 3),
        vec![cfd],
        RunOptions {
            duration: Some(Duration::from_secs(4)),
            interrupts: Some(Interrupts::manual()),
            ..RunOptions::default()
        },
    )
    .await
    .unwrap();
    let text = logs.text();
    assert!(
        text.contains("trading=CS.D.EURUSD.TODAY.IP"),
        "the spread-bet epic is traded:\n{text}"
    );
    assert!(
        text.contains("market hours: CS.D.EURUSD.TODAY.IP: open until 2027-01-08T22:00:00"),
        "{text}"
    );
    assert_eq!(report.trades, 0, "{report:?}");
    let closing = report
        .refusals_by_rule
        .get("market_closing")
        .unwrap_or_else(|| panic!("entries refused before the close: {report:?}"));
    assert!(closing.count >= 1, "{report:?}");
    assert!(
        closing
            .first
            .contains("market closes at 2027-01-08T22:00:00"),
        "{closing:?}"
    );
    // The sandbox saw no deal at all.
    let state = sandbox.state();
    assert!(
        !state
            .requests
            .keys()
            .any(|k| k.starts_with("POST /gateway/deal/positions")),
        "{:?}",
        state.requests
    );
    sandbox.shutdown().await;
}
