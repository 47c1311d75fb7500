//! The sandbox's Lightstreamer server through unmodified third-party clients:
//! `tools/compat/trading_ig_stream.py` logs in with trading_ig's `IGStreamService` (the
//! official lightstreamer-client-lib underneath) and subscribes PRICE, MARKET, TRADE, ACCOUNT
//! and CHART tick and candle items, for v2 and v3 sessions and the CFD and spread-bet users.
//! The sandbox is paused; the script steps prices through the admin API and deals over REST,
//! then checks what the stream says. Skipped (loudly) only when `python3` is missing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod compat;

use std::time::Duration;

use scalper_sandbox::{Sandbox, SandboxConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trading_ig_streams_every_item_for_v2_v3_cfd_and_spread_bet() {
    let Some(python) = compat::python3() else {
        eprintln!(
            "\n\n*** SKIPPED compat_trading_ig_stream: python3 is not installed, so the \
             sandbox's stream is NOT tested through a third-party client ***\n\n"
        );
        return;
    };
    let py = tokio::task::spawn_blocking(move || compat::venv(&python))
        .await
        .unwrap();
    let sb = Sandbox::start(SandboxConfig::for_tests()).await.unwrap();
    let stdout = compat::run_script(
        &py,
        "trading_ig_stream.py",
        &sb.rest_url(),
        Duration::from_secs(120),
    )
    .await;
    println!("{stdout}");
    for who in [
        "sandbox v2 (SANDBOX-CFD)",
        "sandbox v3 (SANDBOX-CFD)",
        "sandbox-sb v2 (SANDBOX-SB)",
        "sandbox-sb v3 (SANDBOX-SB)",
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(who) && l.ends_with(": OK")),
            "missing {who:?} in:\n{stdout}"
        );
    }
    assert!(stdout.contains("trading_ig streaming: OK"), "{stdout}");
    sb.shutdown().await;
}
