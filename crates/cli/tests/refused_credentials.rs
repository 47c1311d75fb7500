//! `scalper run` with refused credentials: exit 3, and nothing is opened.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use scalper_sandbox::{MarketSchedule, Sandbox, SandboxConfig};

#[test]
fn wrong_credentials_exit_3_and_open_nothing() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sandbox = rt
        .block_on(Sandbox::start(SandboxConfig {
            schedule: MarketSchedule::AlwaysOpen,
            ..SandboxConfig::default()
        }))
        .unwrap();
    let dir = common::Dir::new();
    let url = sandbox.rest_url();
    for paper in [false, true] {
        let mut args = vec!["run", "--duration", "5s", "--json"];
        if paper {
            args.push("--paper");
        }
        let run = dir.run(
            &args,
            &[
                ("IG_USERNAME", "sandbox"),
                ("IG_PASSWORD", "not-the-password"),
                ("IG_API_KEY", "sandbox-api-key"),
                ("IG_API_URL", url.as_str()),
            ],
        );
        assert_eq!(run.code, 3, "paper={paper}: {run:?}");
    }
    let state = sandbox.state();
    assert_eq!(
        state.requests_matching("POST /gateway/deal/session"),
        2,
        "{state:?}"
    );
    assert_eq!(state.requests_matching("/positions/otc"), 0, "{state:?}");
    assert!(state.accounts.iter().all(|a| a.positions.is_empty()));
    rt.block_on(sandbox.shutdown());
}
