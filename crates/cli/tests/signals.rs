//! `systemctl stop` and `docker stop` send SIGTERM; a closed terminal sends SIGHUP. Both take the
//! Ctrl-C path: the kill switch closes what is open, the summary is printed, the exit code is 0,
//! and the journal and the broker agree that nothing is left open.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use scalper_reliability::{check, EngineSetup, Harness, ACCOUNT};
use scalper_sandbox::{MarketSchedule, Sandbox, SandboxConfig};

const ENGINE_TOML: &str = r"
[engine.risk]
risk_per_trade = { amount = 15 }
max_open_per_instrument = 1
max_trades_per_day = 100000
daily_loss_limit = 100000

[engine.kill_switch]
close_positions = true
";

async fn signal_closes_everything_and_exits_cleanly(signal: &str) {
    let sandbox = Sandbox::start(SandboxConfig {
        seed: 7,
        speed: 30.0,
        schedule: MarketSchedule::AlwaysOpen,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let start_balance = sandbox.state().account(ACCOUNT).unwrap().balance;
    let tmp = tempfile::tempdir().unwrap();
    let mut h = Harness::new(
        EngineSetup {
            exe: env!("CARGO_BIN_EXE_scalper").into(),
            dir: tmp.path().to_path_buf(),
            instruments: "EUR_USD,GBP_USD".into(),
            extra_toml: ENGINE_TOML.into(),
        },
        &sandbox,
    )
    .unwrap();
    let mut p = h.spawn(None).unwrap();
    let run = p.run;
    assert!(
        h.wait_ready(&mut p, Duration::from_secs(30)).await,
        "never ready\n{}",
        h.output_of(run)
    );
    // Wait for an open position, so the signal has something to close.
    let deadline = Instant::now() + Duration::from_secs(60);
    while sandbox
        .state()
        .account(ACCOUNT)
        .is_none_or(|a| a.positions.is_empty())
    {
        assert!(
            Instant::now() < deadline,
            "no position opened in 60 s\n{}",
            h.output_of(run)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    p.signal(signal).unwrap();
    let status = p
        .wait_exit(Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no exit after SIG{signal}\n{}", h.output_of(run)));
    let out = h.output_of(run);
    assert!(status.success(), "SIG{signal}: {status}\n{out}");
    // The harness runs with --json: the summary is one JSON line on stdout.
    assert!(
        out.contains(r#""ended":"interrupted""#) && out.contains(r#""open_positions":0"#),
        "no summary saying the run was interrupted with nothing open after SIG{signal}\n{out}"
    );
    assert!(
        sandbox
            .state()
            .account(ACCOUNT)
            .unwrap()
            .positions
            .is_empty(),
        "SIG{signal} left positions open at the broker\n{out}"
    );
    let inv = check(&sandbox.state(), &h.journal_path(), start_balance).unwrap();
    assert!(inv.open_mismatch.is_empty(), "{inv:#?}");
    assert!(inv.unresolved.is_empty(), "{inv:#?}");
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_takes_the_kill_switch_path() {
    signal_closes_everything_and_exits_cleanly("TERM").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_takes_the_kill_switch_path() {
    signal_closes_everything_and_exits_cleanly("HUP").await;
}
