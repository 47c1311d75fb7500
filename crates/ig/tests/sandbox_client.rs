//! The project's IG client (`scalper_ig::IgClient`) against the sandbox: every endpoint, and the
//! session scenarios (token expiry, concurrent 401s, invalid credentials, v3 refresh, encrypted
//! login, lost dealing response resolved through /confirms), and `IgBroker`'s rejections
//! carrying IG's reason as a `RejectReason`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sandbox_common;

use std::sync::Arc;
use std::time::Duration;

use rust_decimal_macros::dec;
use sandbox_common::{start, start_with, EURUSD};
use scalper_engine::event::{BrokerCommand, BrokerEvent, OpenOrder};
use scalper_engine::{Broker, ManualClock};
use scalper_ig::{
    ActivityQuery, CloseRequest, DealOutcome, Environment, IgBroker, IgClient, IgConfig, IgError,
    OpenRequest, PositionAmend, PriceQuery, Resolution, SessionVersion, TransactionQuery,
    WorkingOrderAmend, WorkingOrderRequest,
};
use scalper_model::{
    AccountId, DealReference, Direction, Epic, OrderType, Points, Price, RejectReason, Size,
    Timestamp,
};
use scalper_sandbox::{SandboxConfig, SandboxHandle};
use secrecy::SecretString;

fn client(sb: &SandboxHandle, version: SessionVersion, password: &str) -> IgClient {
    let cfg = IgConfig::new(
        Environment::Demo,
        "sandbox",
        SecretString::from(password.to_string()),
        SecretString::from("sandbox-api-key"),
    )
    .with_api_url(sb.rest_url())
    .with_session_version(version)
    .for_local_tests();
    IgClient::new(cfg).unwrap()
}

fn epic() -> Epic {
    Epic::new(EURUSD).unwrap()
}

fn accepted(o: &DealOutcome) -> (scalper_model::DealId, Price) {
    match o {
        DealOutcome::Accepted { deal_id, level, .. } => (deal_id.clone().unwrap(), level.unwrap()),
        other => panic!("expected accepted, got {other:?}"),
    }
}

#[tokio::test]
async fn client_drives_every_endpoint() {
    let sb = start().await;
    let c = client(&sb, SessionVersion::V2, "sandbox-pass");
    let info = c.login().await.unwrap();
    assert_eq!(info.account_id.unwrap().as_str(), "SANDBOX-CFD");
    let accounts = c.accounts().await.unwrap();
    assert_eq!(accounts.len(), 2);
    assert!(accounts
        .iter()
        .any(|a| a.preferred && a.balance.and_then(|b| b.balance).is_some()));
    assert!(c
        .allowances()
        .await
        .unwrap()
        .is_some_and(|a| a.trading_per_minute > 0));
    let m = c.market(&epic()).await.unwrap();
    // P&L in the live account's currency (the sandbox's CFD account is in GBP), at the
    // sandbox's exchange rate for USD.
    assert_eq!(c.account_currency().await.as_deref(), Some("GBP"));
    assert_eq!(m.instrument.account_currency, "GBP");
    assert_eq!(m.instrument.currency, "USD");
    assert_eq!(m.instrument.account_rate, dec!(0.79));
    assert_eq!(m.instrument.point_size, dec!(1));
    assert_eq!(m.instrument.value_per_point, dec!(10));
    assert_eq!(m.instrument.rules.min_deal_size, Size::new(dec!(0.5)));
    assert!(m.status.is_tradeable());
    let both = c
        .markets(&[epic(), Epic::new("CS.D.USDJPY.CFD.IP").unwrap()])
        .await
        .unwrap();
    assert_eq!(both.len(), 2);
    let prices = c
        .prices(
            &epic(),
            &PriceQuery {
                resolution: Some(scalper_ig_wire::Resolution::Minute),
                max: Some(5),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(prices.candles.len(), 5);
    assert!(prices.allowance.is_some_and(|a| a.remaining.is_some()));
    sb.set_price(&epic(), dec!(10800.0), dec!(10800.6)).unwrap();
    let mut open = OpenRequest::market(epic(), Direction::Buy, Size::new(dec!(1)), "USD");
    open.force_open = true;
    open.stop_distance = Some(Points::new(dec!(20)));
    let out = c.open_position(&open).await.unwrap();
    let (deal_id, level) = accepted(&out);
    assert_eq!(level, Price::new(dec!(10800.6)));
    assert_eq!(c.positions().await.unwrap().len(), 1);
    let pos = c.position(&deal_id).await.unwrap();
    assert_eq!(pos.stop_level, Some(Price::new(dec!(10780.6))));
    let amend = PositionAmend {
        stop_level: Some(Price::new(dec!(10790))),
        limit_level: Some(Price::new(dec!(10850))),
    };
    assert!(c
        .amend_position(&deal_id, &amend)
        .await
        .unwrap()
        .is_accepted());
    assert_eq!(
        c.position(&deal_id).await.unwrap().limit_level,
        Some(Price::new(dec!(10850)))
    );
    let wo = WorkingOrderRequest {
        epic: epic(),
        direction: Direction::Sell,
        size: Size::new(dec!(1)),
        level: Price::new(dec!(10900)),
        order_type: OrderType::Limit,
        currency_code: "USD".into(),
        expiry: "-".into(),
        stop_distance: None,
        limit_distance: None,
        guaranteed_stop: false,
        good_till_date: None,
        deal_reference: None,
    };
    let (order_id, _) = match c.create_working_order(&wo).await.unwrap() {
        DealOutcome::Accepted { deal_id, level, .. } => (deal_id.unwrap(), level),
        other => panic!("{other:?}"),
    };
    let orders = c.working_orders().await.unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].order_type, Some(OrderType::Limit));
    assert_eq!(orders[0].level, Some(Price::new(dec!(10900))));
    let amend = WorkingOrderAmend {
        level: Price::new(dec!(10950)),
        order_type: OrderType::Limit,
        good_till_date: None,
        stop_distance: None,
        limit_distance: None,
    };
    assert!(c
        .amend_working_order(&order_id, &amend)
        .await
        .unwrap()
        .is_accepted());
    assert!(c
        .delete_working_order(&order_id)
        .await
        .unwrap()
        .is_accepted());
    assert!(c.working_orders().await.unwrap().is_empty());
    let close = CloseRequest {
        deal_id: deal_id.clone(),
        position_direction: Direction::Buy,
        size: Size::new(dec!(1)),
        time_in_force: None,
        deal_reference: None,
    };
    assert!(c.close_position(&close).await.unwrap().is_accepted());
    assert!(c.positions().await.unwrap().is_empty());
    let activity = c.activity(&ActivityQuery::default()).await.unwrap();
    assert!(!activity.is_empty());
    assert!(activity.iter().all(|a| a.at.is_some()));
    let closed = c.close_level(&deal_id, Direction::Sell).await.unwrap();
    assert!(
        closed.as_ref().is_some_and(|l| l.at.is_some()),
        "{closed:?}"
    );
    let transactions = c.transactions(&TransactionQuery::default()).await.unwrap();
    assert_eq!(transactions.len(), 1);
    assert!(
        transactions[0].profit_and_loss.is_some(),
        "{transactions:?}"
    );
    let details = c.read_session().await.unwrap();
    assert_eq!(
        details.account_id.as_ref().map(AccountId::as_str),
        Some("SANDBOX-CFD")
    );
    c.switch_account(&AccountId::new("SANDBOX-SB").unwrap(), None)
        .await
        .unwrap();
    assert_eq!(
        c.read_session()
            .await
            .unwrap()
            .account_id
            .as_ref()
            .map(AccountId::as_str),
        Some("SANDBOX-SB")
    );
    c.logout().await.unwrap();
    assert_eq!(sb.state().sessions, 0);
    sb.shutdown().await;
}

#[tokio::test]
async fn expired_tokens_and_concurrent_401s_cause_one_relogin() {
    let sb = start().await;
    let c = Arc::new(client(&sb, SessionVersion::V2, "sandbox-pass"));
    c.login().await.unwrap();
    sb.invalidate_tokens();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move { c.accounts().await.map(|_| ()) }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let st = sb.state();
    assert_eq!(
        st.total_logins(),
        2,
        "initial login + exactly one re-login: {:?}",
        st.logins
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn invalid_credentials_are_not_retried() {
    let sb = start().await;
    let c = client(&sb, SessionVersion::V2, "wrong-pass");
    let e = c.login().await.unwrap_err();
    let invalid = matches!(&e, IgError::InvalidCredentials)
        || matches!(&e, IgError::LoginFailed { last, .. } if matches!(**last, IgError::InvalidCredentials));
    assert!(invalid, "{e:?}");
    assert_eq!(
        sb.state().logins["failed"],
        1,
        "no retry loop on invalid-details"
    );
    sb.shutdown().await;
}

/// A REST base URL with a wrong or missing path answers the login with 404: the error names
/// the URL and the one meant (the sandbox's `/gateway/deal`), once, without retrying.
#[tokio::test]
async fn a_wrong_url_path_names_the_url_and_the_right_form() {
    let sb = start().await;
    let root = format!("http://{}", sb.addr());
    for (url, version) in [
        (format!("{root}/wrong"), SessionVersion::V2),
        (root.clone(), SessionVersion::V2),
        (format!("{root}/gateway"), SessionVersion::V3),
    ] {
        let cfg = IgConfig::new(
            Environment::Demo,
            "sandbox",
            SecretString::from("sandbox-pass"),
            SecretString::from("sandbox-api-key"),
        )
        .with_api_url(url.clone())
        .with_session_version(version)
        .for_local_tests();
        let e = IgClient::new(cfg).unwrap().login().await.unwrap_err();
        match &e {
            IgError::WrongUrl {
                url: shown,
                suggestion,
            } => {
                assert_eq!(shown, &url);
                assert_eq!(suggestion.as_deref(), Some(sb.rest_url().as_str()));
            }
            other => panic!("{url}: {other:?}"),
        }
        assert!(e.is_fatal(), "never retried: {e:?}");
        let text = e.to_string();
        for part in [
            format!("IG_API_URL {url} is not IG's REST API"),
            format!("POST {url}/session"),
            "404".into(),
            format!("Did you mean {}?", sb.rest_url()),
            "https://demo-api.ig.com/gateway/deal".into(),
            "https://api.ig.com/gateway/deal".into(),
        ] {
            assert!(text.contains(&part), "{part:?} missing from: {text}");
        }
        assert!(!text.contains("sandbox-pass") && !text.contains("sandbox-api-key"));
    }
    assert_eq!(sb.state().total_logins(), 0);
    // The right URL logs in.
    client(&sb, SessionVersion::V2, "sandbox-pass")
        .login()
        .await
        .unwrap();
    sb.shutdown().await;
}

#[tokio::test]
async fn v3_refreshes_expired_access_token_and_fetches_stream_tokens() {
    let sb = start_with(SandboxConfig {
        oauth_expires_in: Duration::from_secs(1),
        ..SandboxConfig::for_tests()
    })
    .await;
    let c = client(&sb, SessionVersion::V3, "sandbox-pass");
    c.login().await.unwrap();
    let creds = c.stream_credentials().await.unwrap();
    assert_eq!(creds.account_id.as_str(), "SANDBOX-CFD");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        c.accounts().await.unwrap();
        let st = sb.state();
        if st.logins.get("refresh").copied().unwrap_or(0) >= 1 {
            assert_eq!(st.logins["v3"], 1, "refresh, not re-login");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never refreshed: {:?}",
            st.logins
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(sb.state().logins["fetch-tokens"] >= 1);
    sb.shutdown().await;
}

#[tokio::test]
async fn encrypted_password_login_through_the_client() {
    let sb = start().await;
    let cfg = IgConfig::new(
        Environment::Demo,
        "sandbox",
        SecretString::from("sandbox-pass"),
        SecretString::from("sandbox-api-key"),
    )
    .with_api_url(sb.rest_url())
    .for_local_tests();
    let cfg = IgConfig {
        encrypt_password: true,
        ..cfg
    };
    let c = IgClient::new(cfg).unwrap();
    c.login().await.unwrap();
    assert_eq!(sb.state().logins["v2-encrypted"], 1);
    sb.shutdown().await;
}

#[tokio::test]
async fn lost_dealing_response_is_resolved_by_confirms_without_resending() {
    let sb = start().await;
    let c = client(&sb, SessionVersion::V2, "sandbox-pass");
    c.login().await.unwrap();
    sb.inject_faults("drop-deal-response:1").unwrap();
    let out = c
        .open_position(&OpenRequest::market(
            epic(),
            Direction::Sell,
            Size::new(dec!(1)),
            "USD",
        ))
        .await
        .unwrap();
    match out {
        DealOutcome::Accepted { resolved_by, .. } => {
            assert_eq!(resolved_by, Resolution::ConfirmedAfterLostResponse);
        }
        other => panic!("{other:?}"),
    }
    let st = sb.state();
    assert_eq!(
        st.requests["POST /gateway/deal/positions/otc"], 1,
        "never resent"
    );
    assert_eq!(st.account("SANDBOX-CFD").unwrap().positions.len(), 1);
    sb.shutdown().await;
}

#[tokio::test]
async fn a_relogin_rides_out_a_503_burst_that_ends_a_first_login() {
    // Four 503s in a row: more than a first login tries (3), fewer than a re-login (6).
    let sb = start().await;
    let fresh = client(&sb, SessionVersion::V2, "sandbox-pass");
    sb.inject_faults("http503:4").unwrap();
    let err = fresh.login().await.unwrap_err();
    assert!(
        matches!(err, IgError::LoginFailed { attempts: 3, .. }),
        "{err}"
    );
    sb.shutdown().await;

    let sb = start().await;
    let running = client(&sb, SessionVersion::V2, "sandbox-pass");
    running.login().await.unwrap();
    sb.inject_faults("http503:4").unwrap();
    running.force_relogin().await.unwrap();
    let state = sb.state();
    assert_eq!(state.faults_fired.get("http503").copied(), Some(4));
    assert!(running.stats().logins >= 2, "{:?}", running.stats());
    // And the session works.
    running.positions().await.unwrap();
    sb.shutdown().await;
}

/// An IG rejection reaches the engine as the `RejectReason` its code maps to, whether the
/// sandbox decides it (size below the minimum) or a fault injects it (IG's code).
#[tokio::test]
async fn broker_rejections_carry_the_mapped_reason() {
    let sb = start().await;
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(1_000)));
    let mut b = IgBroker::new(client(&sb, SessionVersion::V2, "sandbox-pass"), clock);
    b.client().login().await.unwrap();
    let open = |r: &str, size| {
        BrokerCommand::Open(OpenOrder {
            deal_ref: DealReference::new(r).unwrap(),
            epic: epic(),
            direction: Direction::Buy,
            size: Size::new(size),
            stop_distance: None,
            limit_distance: None,
            currency: "USD".into(),
            expiry: "-".into(),
            stop_kind: scalper_engine::StopKind::Normal,
        })
    };
    let reason = |ev: Vec<BrokerEvent>| match &ev[..] {
        [BrokerEvent::Rejected { reason, .. }] => reason.clone(),
        other => panic!("expected one rejection, got {other:?}"),
    };
    assert_eq!(
        reason(b.execute(open("REJ-1", dec!(0.01))).await),
        RejectReason::MinimumDealSize
    );
    for (code, expected) in [
        ("INSUFFICIENT_FUNDS", RejectReason::InsufficientFunds),
        (
            "MARKET_CLOSED_WITH_EDITS",
            RejectReason::MarketClosedWithEdits,
        ),
        (
            "TRAILING_STOP_NOT_ALLOWED",
            RejectReason::Other("TRAILING_STOP_NOT_ALLOWED".into()),
        ),
    ] {
        sb.inject_faults(&format!("reject:{code}:1")).unwrap();
        assert_eq!(
            reason(b.execute(open(&format!("REJ-{code}"), dec!(1))).await),
            expected,
            "{code}"
        );
    }
    assert!(sb
        .state()
        .account("SANDBOX-CFD")
        .unwrap()
        .positions
        .is_empty());
    sb.shutdown().await;
}
