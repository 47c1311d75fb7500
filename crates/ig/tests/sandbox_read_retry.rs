//! Transient failures of reads (5xx, gateway timeouts) are retried by the client with backoff;
//! dealing requests never are (their outcome is resolved, not resent).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use rust_decimal_macros::dec;
use scalper_ig::{DealOutcome, Environment, IgClient, IgConfig, OpenRequest, SessionVersion};
use scalper_model::{Direction, Epic, Size};
use scalper_sandbox::{Sandbox, SandboxConfig, SandboxHandle};

fn client(sb: &SandboxHandle) -> IgClient {
    let c = sb.credentials();
    let cfg = IgConfig::new(
        Environment::Demo,
        c.username.clone(),
        c.password.clone(),
        c.api_key.clone(),
    )
    .with_api_url(sb.rest_url())
    .with_session_version(SessionVersion::V2)
    .for_local_tests();
    IgClient::new(cfg).unwrap()
}

fn requests(sb: &SandboxHandle, key: &str) -> u64 {
    sb.state().requests.get(key).copied().unwrap_or(0)
}

#[tokio::test]
async fn a_read_that_meets_server_errors_is_retried_and_succeeds() {
    let sb = Sandbox::start(SandboxConfig {
        timeout_hold: Duration::from_millis(50),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let c = client(&sb);
    c.login().await.unwrap();
    sb.inject_faults("http503:1,http500:1").unwrap();
    let positions = c.positions().await.unwrap();
    assert!(positions.is_empty());
    assert_eq!(
        requests(&sb, "GET /gateway/deal/positions"),
        3,
        "two failures, then success"
    );

    sb.inject_faults("timeout:1").unwrap();
    c.positions().await.unwrap();
    assert_eq!(requests(&sb, "GET /gateway/deal/positions"), 5);

    // Bounded: a read that keeps failing gives up with the server's error.
    sb.inject_faults("http503:10").unwrap();
    let err = c.positions().await.unwrap_err();
    assert!(err.to_string().contains("503"), "{err}");
    assert_eq!(
        requests(&sb, "GET /gateway/deal/positions"),
        8,
        "3 attempts (local test policy)"
    );
    sb.clear_faults();
    sb.shutdown().await;
}

#[tokio::test]
async fn a_dealing_request_that_meets_a_server_error_is_not_resent() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let c = client(&sb);
    c.login().await.unwrap();
    sb.inject_faults("http500:1").unwrap();
    let req = OpenRequest::market(
        Epic::new("CS.D.EURUSD.CFD.IP").unwrap(),
        Direction::Buy,
        Size::new(dec!(1)),
        "USD",
    );
    let out = c.open_position(&req).await;
    assert_eq!(
        requests(&sb, "POST /gateway/deal/positions/otc"),
        1,
        "an order is sent once: {out:?}"
    );
    assert!(
        !matches!(out, Ok(DealOutcome::Accepted { .. })),
        "the 500 answered before execution: nothing was opened ({out:?})"
    );
    assert!(sb
        .state()
        .account("SANDBOX-CFD")
        .unwrap()
        .positions
        .is_empty());
    sb.shutdown().await;
}
