//! The whole stack at FX's weekend close: a sandbox keeping market hours, its clock running a
//! minute per second from Friday 21:40 UTC (FX closes 22:00 UTC, 17:00 New York, in January),
//! and a run set to leave positions open at its end. Positions are opened, the calendar closes
//! them at 21:55, and the sandbox's books hold nothing at the close: no position, and no deal
//! opened after the flatten.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use scalper_engine::AtEnd;
use scalper_ig::SessionVersion;
use scalper_live::{Interrupts, RunOptions};
use scalper_model::{Epic, Timestamp};
use scalper_sandbox::{MarketSchedule, Sandbox, SandboxConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_are_flat_at_the_weekend_close() {
    // Friday 2027-01-08 21:40 UTC.
    let start = Timestamp::from_millis(1_799_444_400_000);
    assert_eq!(
        start.to_datetime().unwrap().to_rfc3339(),
        "2027-01-08T21:40:00+00:00"
    );
    let flatten = Timestamp::from_millis(start.millis() + 15 * 60_000);
    let sandbox = Sandbox::start(SandboxConfig {
        schedule: MarketSchedule::MarketHours,
        start_time: Some(start),
        speed: 60.0,
        warmup: Duration::from_secs(300),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let epic = Epic::new("CS.D.EURUSD.CFD.IP").unwrap();
    let mut cfg = common::busy_ema_config(9, 4);
    cfg.at_end = AtEnd::Leave;
    let run = tokio::spawn(scalper_live::run(
        common::client_for(&sandbox, SessionVersion::V2),
        cfg,
        vec![epic],
        RunOptions {
            // 22 s of wall time is 22 simulated minutes: past the 22:00 close.
            duration: Some(Duration::from_secs(22)),
            interrupts: Some(Interrupts::manual()),
            ..RunOptions::default()
        },
    ));
    let report = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the run ends")
        .unwrap()
        .unwrap();
    let state = sandbox.state();
    eprintln!(
        "weekend close: {} trades, refusals {:?}, sandbox at {}",
        report.trades,
        report
            .refusals_by_rule
            .iter()
            .map(|(k, v)| (k.clone(), v.count))
            .collect::<Vec<_>>(),
        state.sim_time
    );
    assert!(
        state.sim_time.millis() >= start.millis() + 20 * 60_000,
        "the run lasted past the close: {}",
        state.sim_time
    );
    assert!(
        report.trades > 0,
        "positions were opened and closed: {report:?}"
    );
    assert!(report.positions_left.is_empty(), "{report:?}");
    let account = state.account("SANDBOX-CFD").unwrap();
    assert!(
        account.positions.is_empty(),
        "flat at the close: {:?}",
        account.positions
    );
    // Every position the sandbox opened was opened before the flatten and closed by it at
    // the latest (a few simulated seconds for the close to fill).
    for p in &account.ledger {
        assert!(
            p.ts.millis() <= flatten.millis() + 20_000,
            "ledger entry after the flatten at {flatten}: {p:?}"
        );
    }
    let refused = report
        .refusals_by_rule
        .get("market_closed")
        .map_or(0, |r| r.count)
        + report
            .refusals_by_rule
            .get("market_closing")
            .map_or(0, |r| r.count);
    assert!(refused > 0, "entries refused around the close: {report:?}");
    sandbox.shutdown().await;
}
