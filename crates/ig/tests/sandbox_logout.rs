//! After `logout` nothing logs in again: a background request in flight (the allowance fetch)
//! that meets a refused token ends with `LoggedOut` instead of a fresh login.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod sandbox_common;

use std::time::Duration;

use common::wait_until;
use sandbox_common::start;
use scalper_ig::{Environment, IgClient, IgConfig, IgError, SessionState};
use secrecy::SecretString;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_background_request_refused_after_logout_does_not_log_in_again() {
    let sb = start().await;
    // Every request takes 300 ms: the allowance fetch is still in the sandbox when we log out.
    sb.inject_faults("latency:300ms").unwrap();
    let mut cfg = IgConfig::new(
        Environment::Demo,
        "sandbox",
        SecretString::from("sandbox-pass"),
        SecretString::from("sandbox-api-key"),
    )
    .with_api_url(sb.rest_url())
    .for_local_tests();
    cfg.fetch_allowances = true;
    let client = IgClient::new(cfg).unwrap();
    let mut seen = sb.watch_requests();
    client.login().await.unwrap();
    let fetch_arrived = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match seen.recv().await {
                Ok(r) if r.path.ends_with("/operations/application") => return,
                Ok(_) => {}
                Err(e) => panic!("request tap closed: {e}"),
            }
        }
    })
    .await;
    assert!(fetch_arrived.is_ok(), "the allowance fetch was sent");
    // IG ends the session (as a logout does) while the fetch waits: it will get a 401.
    sb.invalidate_tokens();
    client.logout().await.unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || client.stats().token_errors >= 1).await,
        "the allowance fetch met the refused token"
    );
    // The fetch's recovery queued on the login lock before this: when this returns, it ran.
    client.logout().await.unwrap();
    let stats = client.stats();
    assert_eq!(stats.logins, 1, "no login after logout: {stats:?}");
    assert_eq!(stats.state, SessionState::LoggedOut);
    assert_eq!(sb.state().total_logins(), 1, "{:?}", sb.state().logins);

    // A request made after logout does not log in either...
    sb.clear_faults();
    let err = client.read_session().await.unwrap_err();
    assert!(matches!(err, IgError::LoggedOut), "{err}");
    // ...until the caller asks for a new session.
    client.login().await.unwrap();
    assert_eq!(client.stats().logins, 2);
    client.read_session().await.unwrap();
    sb.shutdown().await;
}
