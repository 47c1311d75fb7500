//! The IG client against the in-process fake IG: login, single-flight recovery, v3 refresh,
//! bounded login retries, allowance backoff, and safe dealing when a response is lost.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{wait_until, FakeIg};
use rust_decimal_macros::dec;
use scalper_ig::{
    DealOutcome, IgClient, IgError, OpenRequest, Resolution, SessionState, SessionVersion,
};
use scalper_model::{AccountId, Direction, Epic, MarketStatus, Size};

fn epic() -> Epic {
    Epic::new("CO.D.CFI.Month2.IP").unwrap()
}

fn assert_clean(fake: &FakeIg) {
    let s = &fake.state;
    assert_eq!(
        s.missing_version.load(Ordering::SeqCst),
        0,
        "a request without Version"
    );
    assert_eq!(
        s.stale_login_headers.load(Ordering::SeqCst),
        0,
        "a login carried stale auth headers"
    );
}

#[tokio::test]
async fn v2_login_and_market_snapshot() {
    let fake = FakeIg::start().await;
    let client = IgClient::new(fake.config(SessionVersion::V2)).unwrap();
    assert_eq!(client.stats().state, SessionState::NotLoggedIn);
    let info = client.login().await.unwrap();
    assert_eq!(info.account_id.unwrap().as_str(), "ABC123");
    let m = client.market(&epic()).await.unwrap();
    assert_eq!(m.bid.unwrap().value(), dec!(8933));
    assert_eq!(m.offer.unwrap().value(), dec!(8939));
    assert_eq!(m.status, MarketStatus::Offline);
    assert_eq!(m.instrument.rules.min_deal_size.value(), dec!(0.25));
    assert_eq!(fake.state.count("POST /session v2"), 1);
    assert_eq!(fake.state.count("GET /markets/{epic} v3"), 1);
    let st = client.stats();
    assert_eq!(
        (st.state, st.logins, st.token_errors),
        (SessionState::Active, 1, 0)
    );
    assert_clean(&fake);
}

#[tokio::test]
async fn token_error_mid_session_causes_one_login_and_the_call_succeeds() {
    let fake = FakeIg::start().await;
    let client = IgClient::new(fake.config(SessionVersion::V2)).unwrap();
    client.market(&epic()).await.unwrap();
    fake.state.invalidate_tokens();
    let m = client.market(&epic()).await.unwrap();
    assert!(m.bid.is_some());
    assert_eq!(fake.state.count("POST /session v2"), 2);
    assert_eq!(
        fake.state.count("GET /markets/{epic} v3"),
        3,
        "one failed, one resent"
    );
    let st = client.stats();
    assert_eq!(
        (st.logins, st.token_errors, st.token_errors_recovered),
        (2, 1, 1)
    );
    assert_clean(&fake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_token_errors_cause_exactly_one_login() {
    let fake = FakeIg::start().await;
    let client = IgClient::new(fake.config(SessionVersion::V2)).unwrap();
    client.login().await.unwrap();
    fake.state.invalidate_tokens();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move { c.market(&epic()).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(
        fake.state.count("POST /session v2"),
        2,
        "initial login + exactly one re-login"
    );
    assert!(fake.state.token_errors_sent.load(Ordering::SeqCst) >= 1);
    assert_eq!(client.stats().logins, 2);
    assert_clean(&fake);
}

#[tokio::test]
async fn invalid_credentials_cause_exactly_one_login_attempt_and_exit_code_3() {
    let fake = FakeIg::start().await;
    let mut cfg = fake.config(SessionVersion::V2);
    cfg.password = secrecy::SecretString::from("wrong-password");
    let client = IgClient::new(cfg).unwrap();
    let err = client.market(&epic()).await.unwrap_err();
    assert!(matches!(err, IgError::InvalidCredentials), "{err:?}");
    assert_eq!(err.exit_code(), 3);
    assert!(err.is_fatal() && !err.is_retryable());
    assert_eq!(fake.state.count("POST /session v2"), 1);
    assert_eq!(fake.state.count("GET /markets/{epic} v3"), 0);
    assert_eq!(client.stats().state, SessionState::Failed);
}

#[tokio::test]
async fn bad_api_key_is_fatal_and_not_retried() {
    let fake = FakeIg::start().await;
    let mut cfg = fake.config(SessionVersion::V2);
    cfg.api_key = secrecy::SecretString::from("some-other-key");
    let client = IgClient::new(cfg).unwrap();
    let err = client.login().await.unwrap_err();
    assert!(matches!(err, IgError::ApiKey { .. }), "{err:?}");
    assert_eq!(err.exit_code(), 3);
    assert_eq!(fake.state.count("POST /session v2"), 1);
}

#[tokio::test]
async fn unavailable_login_retries_bounded_then_exit_code_4() {
    let fake = FakeIg::start().await;
    fake.state.login_unavailable.store(2, Ordering::SeqCst);
    let client = IgClient::new(fake.config(SessionVersion::V2)).unwrap();
    client.login().await.unwrap();
    assert_eq!(fake.state.count("POST /session v2"), 3);

    let fake = FakeIg::start().await;
    fake.state.login_unavailable.store(10, Ordering::SeqCst);
    let mut cfg = fake.config(SessionVersion::V2);
    let url = cfg.api_url.clone();
    // Credentials in the URL are redacted from the message; the URL tried is named.
    cfg.api_url = url.replacen("://", "://user:url-secret@", 1);
    let client = IgClient::new(cfg).unwrap();
    let err = client.login().await.unwrap_err();
    assert!(
        matches!(err, IgError::LoginFailed { attempts: 3, .. }),
        "{err:?}"
    );
    assert_eq!(err.exit_code(), 4);
    let text = err.to_string();
    let host = url.split("://").nth(1).unwrap();
    assert!(text.contains(host), "names the URL tried: {text}");
    assert!(!text.contains("url-secret"), "{text}");
    assert_eq!(
        fake.state.count("POST /session v2"),
        3,
        "at most 3 attempts"
    );
}

#[tokio::test]
async fn v3_session_with_two_second_expiry_never_sees_a_token_error() {
    let fake = FakeIg::start().await;
    fake.state.expires_in_secs.store(2, Ordering::SeqCst);
    let client = IgClient::new(fake.config(SessionVersion::V3)).unwrap();
    client.login().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while client.stats().refreshes < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no refresh within 10 s"
        );
        client.market(&epic()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    client.market(&epic()).await.unwrap();
    assert_eq!(fake.state.token_errors_sent.load(Ordering::SeqCst), 0);
    let st = client.stats();
    assert_eq!((st.logins, st.token_errors), (1, 0));
    assert!(fake.state.count("POST /session/refresh-token v1") >= 2);
    assert!(st.token_expires_in.is_some());
    assert_clean(&fake);
}

#[tokio::test]
async fn v3_refused_refresh_token_leads_to_a_fresh_login() {
    let fake = FakeIg::start().await;
    fake.state.expires_in_secs.store(1, Ordering::SeqCst);
    fake.state.refuse_refresh.store(true, Ordering::SeqCst);
    let client = IgClient::new(fake.config(SessionVersion::V3)).unwrap();
    client.login().await.unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || client.stats().logins >= 2).await,
        "no fresh login after the refused refresh"
    );
    assert!(fake.state.count("POST /session/refresh-token v1") >= 1);
    client.market(&epic()).await.unwrap();
    assert_eq!(client.stats().refreshes, 0);
    assert_clean(&fake);
}

#[tokio::test]
async fn v3_oauth_token_invalid_is_recovered_by_refresh() {
    let fake = FakeIg::start().await;
    let client = IgClient::new(fake.config(SessionVersion::V3)).unwrap();
    client.market(&epic()).await.unwrap();
    fake.state.invalidate_tokens();
    client.market(&epic()).await.unwrap();
    let st = client.stats();
    assert_eq!(
        (st.logins, st.refreshes, st.token_errors_recovered),
        (1, 1, 1)
    );
    assert_eq!(fake.state.count("POST /session v3"), 1);
}

#[tokio::test]
async fn allowance_error_backs_off_and_succeeds() {
    let fake = FakeIg::start().await;
    fake.state.allowance_failures.store(2, Ordering::SeqCst);
    let client = IgClient::new(fake.config(SessionVersion::V2)).unwrap();
    client.market(&epic()).await.unwrap();
    assert_eq!(fake.state.count("GET /markets/{epic} v3"), 3);
    assert_eq!(client.stats().allowance_backoffs, 2);

    fake.state.allowance_failures.store(10, Ordering::SeqCst);
    let err = client.market(&epic()).await.unwrap_err();
    assert!(matches!(err, IgError::AllowanceExceeded { .. }), "{err:?}");
    assert_eq!(
        fake.state.count("GET /markets/{epic} v3"),
        6,
        "bounded: 3 attempts"
    );
}

fn open() -> OpenRequest {
    OpenRequest::market(
        Epic::new("CS.D.EURUSD.CFD.IP").unwrap(),
        Direction::Buy,
        Size::new(dec!(1)),
        "USD",
    )
}

#[tokio::test]
async fn open_position_is_confirmed_with_a_client_reference() {
    let fake = FakeIg::start().await;
    let client = IgClient::new(fake.config(SessionVersion::V2)).unwrap();
    let out = client.open_position(&open()).await.unwrap();
    let DealOutcome::Accepted {
        deal_id,
        level,
        resolved_by,
        deal_reference,
        ..
    } = out
    else {
        panic!("{out:?}")
    };
    assert_eq!(resolved_by, Resolution::Confirmed);
    assert!(deal_reference.as_str().starts_with("SCALP-"));
    assert_eq!(deal_id.unwrap().as_str(), format!("DEAL-{deal_reference}"));
    assert_eq!(level.unwrap().value(), dec!(1.08123));
    let body = fake.state.last_open_body.lock().unwrap().clone().unwrap();
    assert_eq!(body["dealReference"], deal_reference.as_str());
    assert_eq!(body["size"], 1);
    assert_eq!(body["orderType"], "MARKET");
}

#[tokio::test]
async fn lost_dealing_response_is_resolved_through_confirms_without_a_second_post() {
    let fake = FakeIg::start().await;
    fake.state.lose_open_response.store(true, Ordering::SeqCst);
    fake.state.confirm_not_found.store(2, Ordering::SeqCst);
    let mut cfg = fake.config(SessionVersion::V2);
    cfg.request_timeout = Duration::from_millis(300);
    let client = IgClient::new(cfg).unwrap();
    client.login().await.unwrap();
    let out = client.open_position(&open()).await.unwrap();
    assert!(
        matches!(
            out,
            DealOutcome::Accepted {
                resolved_by: Resolution::ConfirmedAfterLostResponse,
                ..
            }
        ),
        "{out:?}"
    );
    assert_eq!(
        fake.state.count("POST /positions/otc v2"),
        1,
        "never resent"
    );
    assert_eq!(fake.state.count("GET /confirms/{ref} v1"), 3);
}

#[tokio::test]
async fn lost_response_and_no_confirm_is_resolved_through_positions() {
    let fake = FakeIg::start().await;
    fake.state.lose_open_response.store(true, Ordering::SeqCst);
    fake.state.confirm_not_found.store(1000, Ordering::SeqCst);
    let mut cfg = fake.config(SessionVersion::V2);
    cfg.request_timeout = Duration::from_millis(300);
    cfg.confirm_timeout = Duration::from_millis(300);
    let client = IgClient::new(cfg).unwrap();
    let out = client.open_position(&open()).await.unwrap();
    let DealOutcome::Accepted {
        resolved_by,
        deal_id,
        deal_reference,
        ..
    } = out
    else {
        panic!("{out:?}")
    };
    assert_eq!(resolved_by, Resolution::Positions);
    assert_eq!(deal_id.unwrap().as_str(), format!("DEAL-{deal_reference}"));
    assert_eq!(fake.state.count("POST /positions/otc v2"), 1);
    assert_eq!(fake.state.count("GET /positions v2"), 1);
}

#[tokio::test]
async fn token_error_on_a_dealing_request_is_recovered_and_resent_once() {
    let fake = FakeIg::start().await;
    let client = IgClient::new(fake.config(SessionVersion::V2)).unwrap();
    client.login().await.unwrap();
    fake.state.invalidate_tokens();
    let out = client.open_position(&open()).await.unwrap();
    assert!(out.is_accepted(), "{out:?}");
    assert_eq!(
        fake.state.count("POST /positions/otc v2"),
        2,
        "refused once, resent once"
    );
    assert_eq!(fake.state.opened.lock().unwrap().len(), 1, "IG acted once");
    assert_eq!(fake.state.count("POST /session v2"), 2);
}

#[tokio::test]
async fn stream_credentials_v2_and_v3() {
    let fake = FakeIg::start().await;
    let client = IgClient::new(fake.config(SessionVersion::V2)).unwrap();
    let c = client.stream_credentials().await.unwrap();
    assert_eq!(c.endpoint, "https://demo-apd.marketdatasystems.com");
    assert_eq!(c.account_id.as_str(), "ABC123");
    assert_eq!(fake.state.count("GET /session v1"), 0);

    let client = IgClient::new(fake.config(SessionVersion::V3)).unwrap();
    let c = client.stream_credentials().await.unwrap();
    assert_eq!(c.account_id.as_str(), "ABC123");
    assert_eq!(fake.state.count("GET /session v1"), 1, "fetchSessionTokens");
    assert!(
        !format!("{c:?}").contains("CST-"),
        "tokens redacted in Debug"
    );
}

#[tokio::test]
async fn account_switch_after_login_uses_reissued_tokens() {
    let fake = FakeIg::start().await;
    let cfg = fake
        .config(SessionVersion::V2)
        .with_account_id(Some(AccountId::new("XYZ987").unwrap()));
    let client = IgClient::new(cfg).unwrap();
    client.login().await.unwrap();
    assert_eq!(fake.state.count("PUT /session v1"), 1);
    assert_eq!(client.stats().account_id.as_deref(), Some("XYZ987"));
    client.positions().await.unwrap();
    assert_eq!(fake.state.token_errors_sent.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn force_relogin_logout_and_reads() {
    let fake = FakeIg::start().await;
    let client = IgClient::new(fake.config(SessionVersion::V2)).unwrap();
    client.login().await.unwrap();
    client.force_relogin().await.unwrap();
    assert_eq!(client.stats().logins, 2);
    assert_eq!(client.accounts().await.unwrap().len(), 2);
    assert_eq!(client.working_orders().await.unwrap().len(), 1);
    assert_eq!(
        client
            .allowances()
            .await
            .unwrap()
            .map(|a| a.trading_per_minute),
        Some(100)
    );
    let prices = client
        .prices(&epic(), &scalper_ig::PriceQuery::default())
        .await
        .unwrap();
    assert!(!prices.candles.is_empty());
    assert_eq!(client.positions().await.unwrap().len(), 2);
    client.logout().await.unwrap();
    assert_eq!(
        fake.state.count("DELETE /session v1"),
        1,
        "POST + _method: DELETE"
    );
    assert_eq!(client.stats().state, SessionState::LoggedOut);
    assert_clean(&fake);
}

#[tokio::test]
async fn refused_login_is_latched_until_force_relogin() {
    let fake = FakeIg::start().await;
    let mut cfg = fake.config(SessionVersion::V2);
    cfg.password = secrecy::SecretString::from("wrong-password");
    let client = IgClient::new(cfg).unwrap();
    for _ in 0..3 {
        let err = client.market(&epic()).await.unwrap_err();
        assert!(matches!(err, IgError::InvalidCredentials), "{err:?}");
    }
    assert_eq!(
        fake.state.count("POST /session v2"),
        1,
        "no repeated refused logins"
    );
    assert!(client.force_relogin().await.is_err());
    assert_eq!(
        fake.state.count("POST /session v2"),
        2,
        "an explicit retry is allowed"
    );
}

#[tokio::test]
async fn encrypted_password_login() {
    let fake = FakeIg::start().await;
    let mut cfg = fake.config(SessionVersion::V2);
    cfg.encrypt_password = true;
    let client = IgClient::new(cfg).unwrap();
    client.login().await.unwrap();
    assert_eq!(fake.state.count("GET /session/encryptionKey v1"), 1);
    assert_eq!(fake.state.encrypted_logins.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn trading_allowance_error_is_never_retried_for_orders() {
    let fake = FakeIg::start().await;
    fake.state
        .trading_allowance_failures
        .store(1, Ordering::SeqCst);
    let client = IgClient::new(fake.config(SessionVersion::V2)).unwrap();
    let err = client.open_position(&open()).await.unwrap_err();
    assert!(
        matches!(
            err,
            IgError::AllowanceExceeded {
                kind: scalper_ig::AllowanceKind::AccountTrading
            }
        ),
        "{err:?}"
    );
    assert_eq!(fake.state.count("POST /positions/otc v2"), 1);
    assert_eq!(
        fake.state.count("GET /confirms/{ref} v1"),
        0,
        "IG did not act: nothing to resolve"
    );
}

#[tokio::test]
async fn v2_session_is_renewed_proactively_at_max_age_and_revalidated_when_idle() {
    let fake = FakeIg::start().await;
    let mut cfg = fake.config(SessionVersion::V2);
    cfg.max_session_age = Duration::from_millis(300);
    let client = IgClient::new(cfg).unwrap();
    client.login().await.unwrap();
    assert!(wait_until(Duration::from_secs(5), || client.stats().logins >= 2).await);
    client.market(&epic()).await.unwrap();
    assert_eq!(client.stats().token_errors, 0);

    let fake = FakeIg::start().await;
    let mut cfg = fake.config(SessionVersion::V2);
    cfg.idle_revalidate_after = Duration::from_millis(200);
    let client = IgClient::new(cfg).unwrap();
    client.login().await.unwrap();
    let state = fake.state.clone();
    assert!(
        wait_until(Duration::from_secs(5), || state.count("GET /session v1")
            >= 1)
        .await
    );
    assert_eq!(client.stats().logins, 1);
}

#[tokio::test]
async fn amend_with_unknown_outcome_is_not_resent() {
    let fake = FakeIg::start().await;
    fake.state.fail_amend.store(true, Ordering::SeqCst);
    let client = IgClient::new(fake.config(SessionVersion::V2)).unwrap();
    let body = scalper_ig::PositionAmend {
        stop_level: Some(scalper_model::Price::new(dec!(1.07))),
        limit_level: None,
    };
    let id = scalper_model::DealId::new("DEAL-1").unwrap();
    let out = client.amend_position(&id, &body).await.unwrap();
    assert!(matches!(out, DealOutcome::Unknown { .. }), "{out:?}");
    assert_eq!(
        fake.state.count("PUT /positions/otc/{id} v2"),
        1,
        "never resent"
    );
    assert_eq!(
        fake.state.count("GET /confirms/{ref} v1"),
        0,
        "IG chose the reference"
    );
}
