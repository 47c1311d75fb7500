//! The sandbox through an unmodified third-party IG client: `tools/compat/trading_ig_rest.py`
//! drives every endpoint trading_ig wraps (v2 and v3 sessions, the CFD and the spread-bet
//! user) against an in-process sandbox. trading_ig is installed from PyPI, pinned, into a venv
//! cached under the target directory. Skipped (loudly) only when `python3` is missing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod compat;

use std::time::Duration;

use scalper_sandbox::{Sandbox, SandboxConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trading_ig_drives_every_endpoint_for_v2_v3_cfd_and_spread_bet() {
    let Some(python) = compat::python3() else {
        eprintln!(
            "\n\n*** SKIPPED compat_trading_ig: python3 is not installed, so the sandbox is NOT \
             tested through trading_ig ***\n\n"
        );
        return;
    };
    let py = tokio::task::spawn_blocking(move || compat::venv(&python))
        .await
        .unwrap();
    let sb = Sandbox::start(SandboxConfig {
        warmup: Duration::from_secs(30 * 60),
        ..SandboxConfig::for_tests()
    })
    .await
    .unwrap();
    let stdout = compat::run_script(
        &py,
        "trading_ig_rest.py",
        &sb.rest_url(),
        Duration::from_secs(120),
    )
    .await;
    for who in [
        "sandbox v2 (SANDBOX-CFD): OK",
        "sandbox v3 (SANDBOX-CFD): OK",
        "sandbox-sb v2 (SANDBOX-SB): OK",
        "sandbox-sb v3 (SANDBOX-SB): OK",
    ] {
        assert!(stdout.contains(who), "missing {who:?} in:\n{stdout}");
    }
    let st = sb.state();
    assert!(
        st.requests_matching("/watchlists") > 0 && st.requests_matching("/marketnavigation") > 0
    );
    sb.shutdown().await;
}
