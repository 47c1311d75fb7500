//! Fault injection through the handle and the `/sandbox/` admin API: injected 401/500/503,
//! rate-limit storms, dropped dealing responses, lost/delayed confirms, forced rejects.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{start, start_with, Raw, EURUSD};
use reqwest::StatusCode;
use scalper_sandbox::{SandboxConfig, StateSnapshot};
use serde_json::json;

#[tokio::test]
async fn counted_faults_fire_exactly_n_times_and_are_reported() {
    let cfg = SandboxConfig {
        faults: SandboxConfig::parse_faults("http500:2,http503:1").unwrap(),
        ..SandboxConfig::for_tests()
    };
    let sb = start_with(cfg).await;
    let mut c = Raw::new(&sb);
    let r = c
        .post(
            "/session",
            2,
            json!({"identifier": "sandbox", "password": "sandbox-pass"}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::INTERNAL_SERVER_ERROR, "system.error")
    );
    assert!(r.headers.contains_key("X-REQUEST-ID"));
    assert_eq!(
        c.get("/session/encryptionKey", 1).await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(
        c.get("/session/encryptionKey", 1).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    c.login().await;
    sb.inject_faults("token-invalid:1,rate-limit:1").unwrap();
    let r = c.get("/accounts", 1).await;
    assert_eq!(
        (r.status, r.code()),
        (
            StatusCode::FORBIDDEN,
            "error.public-api.exceeded-account-allowance"
        )
    );
    let r = c.get("/accounts", 1).await;
    assert_eq!(
        (r.status, r.code()),
        (
            StatusCode::UNAUTHORIZED,
            "error.security.client-token-invalid"
        )
    );
    assert_eq!(c.get("/accounts", 1).await.status, StatusCode::OK);
    let st = sb.state();
    assert_eq!(st.faults_fired["http500"], 2);
    assert_eq!(st.faults_fired["token-invalid"], 1);
    assert_eq!(st.faults_armed, 0);
    sb.shutdown().await;
}

#[tokio::test]
async fn dropped_deal_response_still_executes_and_confirm_resolves_it() {
    let sb = start().await;
    let mut c = Raw::new(&sb);
    c.login().await;
    sb.inject_faults("drop-deal-response:1").unwrap();
    let resp = c
        .http
        .post(format!("{}/positions/otc", c.base))
        .header("X-IG-API-KEY", common::KEY)
        .header("Version", "2")
        .header("CST", c.cst.as_deref().unwrap())
        .header("X-SECURITY-TOKEN", c.xst.as_deref().unwrap())
        .json(&json!({"epic": EURUSD, "expiry": "-", "direction": "BUY", "size": 1, "orderType": "MARKET",
            "currencyCode": "USD", "forceOpen": true, "guaranteedStop": false, "dealReference": "LOST-1"}))
        .send()
        .await;
    let lost = match resp {
        Err(_) => true,
        Ok(r) => r.bytes().await.is_err(),
    };
    assert!(lost, "the response must not arrive intact");
    assert_eq!(
        sb.state().account("SANDBOX-CFD").unwrap().positions.len(),
        1
    );
    assert_eq!(c.confirm("LOST-1").await["dealStatus"], "ACCEPTED");
    sb.shutdown().await;
}

#[tokio::test]
async fn lost_and_delayed_confirms_and_forced_rejects() {
    let sb = start().await;
    let mut c = Raw::new(&sb);
    c.login().await;
    sb.inject_faults("lose-confirm:1").unwrap();
    let r = c.open(EURUSD, "BUY", "1", json!({})).await;
    assert_eq!(
        c.get(&format!("/confirms/{r}"), 1).await.code(),
        "error.confirms.deal-not-found"
    );
    sb.inject_faults("reject:MARKET_CLOSED_WITH_EDITS").unwrap();
    let r = c.open(EURUSD, "BUY", "1", json!({})).await;
    assert_eq!(c.confirm(&r).await["reason"], "MARKET_CLOSED_WITH_EDITS");
    sb.inject_faults("confirm-delay:300ms").unwrap();
    let r = c.open(EURUSD, "BUY", "1", json!({})).await;
    assert_eq!(
        c.get(&format!("/confirms/{r}"), 1).await.status,
        StatusCode::NOT_FOUND
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let reply = c.get(&format!("/confirms/{r}"), 1).await;
        if reply.status == StatusCode::OK {
            assert_eq!(reply.body["dealStatus"], "ACCEPTED");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "confirm never appeared"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sb.shutdown().await;
}

#[tokio::test]
async fn confirms_expire_after_their_ttl() {
    let sb = start_with(SandboxConfig {
        confirm_ttl: Duration::from_millis(200),
        ..SandboxConfig::for_tests()
    })
    .await;
    let mut c = Raw::new(&sb);
    c.login().await;
    let r = c.open(EURUSD, "BUY", "1", json!({})).await;
    assert_eq!(c.confirm(&r).await["dealStatus"], "ACCEPTED");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while c.get(&format!("/confirms/{r}"), 1).await.status == StatusCode::OK {
        assert!(
            tokio::time::Instant::now() < deadline,
            "confirm never expired"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sb.shutdown().await;
}

#[tokio::test]
async fn admin_http_api() {
    let sb = start().await;
    let mut c = Raw::new(&sb);
    c.login().await;
    let admin = sb.admin_url();
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{admin}/faults"))
        .json(&json!({"spec": "bogus:1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["errorCode"]
        .as_str()
        .unwrap()
        .contains("unknown fault"));
    let r = http
        .post(format!("{admin}/faults"))
        .json(&json!({"spec": "http503:1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        c.get("/accounts", 1).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let r = http
        .post(format!("{admin}/price"))
        .json(&json!({"epic": EURUSD, "bid": 10900.0, "offer": 10900.8}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = c.get(&format!("/markets/{EURUSD}"), 3).await;
    assert_eq!(r.body["snapshot"]["offer"], json!(10900.8));
    let r = http
        .post(format!("{admin}/step"))
        .json(&json!({"epic": EURUSD, "ticks": 5}))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["quotes"], 5);
    let r = http
        .post(format!("{admin}/invalidate-tokens"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["invalidated"],
        1
    );
    assert_eq!(
        c.get("/accounts", 1).await.code(),
        "error.security.client-token-invalid"
    );
    let r = http
        .post(format!("{admin}/stream-fault"))
        .json(&json!({"kind": "loop"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let st: StateSnapshot = serde_json::from_value(
        http.get(format!("{admin}/state"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(st.logins["v2"], 1);
    sb.shutdown().await;
}

#[tokio::test]
async fn allowances_are_enforced_when_enabled() {
    let cfg = SandboxConfig {
        rate_limits: Some(scalper_sandbox::RateLimits {
            account_non_trading_per_min: 3,
            ..Default::default()
        }),
        ..SandboxConfig::for_tests()
    };
    let sb = start_with(cfg).await;
    let mut c = Raw::new(&sb);
    c.login().await;
    for _ in 0..3 {
        assert_eq!(c.get("/accounts", 1).await.status, StatusCode::OK);
    }
    let r = c.get("/accounts", 1).await;
    assert_eq!(
        (r.status, r.code()),
        (
            StatusCode::FORBIDDEN,
            "error.public-api.exceeded-account-allowance"
        )
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn timeout_fault_holds_then_answers_504_and_latency_still_serves() {
    let cfg = SandboxConfig {
        timeout_hold: Duration::from_millis(100),
        ..SandboxConfig::for_tests()
    };
    let sb = start_with(cfg).await;
    let mut c = Raw::new(&sb);
    c.login().await;
    sb.inject_faults("timeout:1,latency:5ms").unwrap();
    let r = c.get("/accounts", 1).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::GATEWAY_TIMEOUT, "system.error")
    );
    assert_eq!(c.get("/accounts", 1).await.status, StatusCode::OK);
    assert_eq!(sb.state().faults_fired["timeout"], 1);
    sb.clear_faults();
    assert_eq!(sb.state().faults_armed, 0);
    sb.shutdown().await;
}
