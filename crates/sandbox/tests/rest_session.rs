//! Raw-HTTP tests of the session endpoints: status codes, headers and IG error bodies.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use common::{start, start_with, Raw};
use reqwest::{Method, StatusCode};
use rsa::pkcs8::DecodePublicKey;
use rsa::{Pkcs1v15Encrypt, RsaPublicKey};
use scalper_sandbox::SandboxConfig;
use serde_json::json;

#[tokio::test]
async fn api_key_missing_and_invalid() {
    let sb = start().await;
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/session", sb.rest_url()))
        .header("Version", "2")
        .json(&json!({"identifier": "sandbox", "password": "sandbox-pass"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.headers().contains_key("X-REQUEST-ID"));
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["errorCode"], "error.security.api-key-missing");
    let r = http
        .get(format!("{}/accounts", sb.rest_url()))
        .header("X-IG-API-KEY", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["errorCode"], "error.security.api-key-invalid");
    sb.shutdown().await;
}

#[tokio::test]
async fn v2_login_returns_tokens_and_account_details() {
    let sb = start().await;
    let mut c = Raw::new(&sb);
    let r = c.login().await;
    assert!(r.headers.contains_key("X-REQUEST-ID"));
    assert_eq!(r.body["currentAccountId"], "SANDBOX-CFD");
    assert_eq!(r.body["currencyIsoCode"], "GBP");
    assert_eq!(r.body["lightstreamerEndpoint"], sb.stream_url());
    assert_eq!(r.body["accounts"].as_array().unwrap().len(), 2);
    assert_eq!(r.body["accountInfo"]["balance"], json!(10000));
    let r = c.get("/accounts", 1).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["accounts"][1]["accountType"], "SPREADBET");
    let debug = format!("{sb:?}");
    assert!(
        !debug.contains(c.cst.as_deref().unwrap()) && !debug.contains(c.xst.as_deref().unwrap())
    );
    assert!(!debug.contains("sandbox-pass") && !debug.contains("sandbox-api-key"));
    let st = sb.state();
    assert_eq!(st.logins["v2"], 1);
    assert_eq!(st.sessions, 1);
    assert_eq!(st.requests["GET /gateway/deal/accounts"], 1);
    sb.shutdown().await;
}

#[tokio::test]
async fn token_errors_missing_invalid_and_account_token() {
    let sb = start().await;
    let mut c = Raw::new(&sb);
    let r = c.get("/positions", 2).await;
    assert_eq!(
        (r.status, r.code()),
        (
            StatusCode::UNAUTHORIZED,
            "error.security.client-token-missing"
        )
    );
    c.login().await;
    let good_xst = c.xst.clone();
    c.xst = Some("bogus".into());
    let r = c.get("/positions", 2).await;
    assert_eq!(
        (r.status, r.code()),
        (
            StatusCode::UNAUTHORIZED,
            "error.security.account-token-invalid"
        )
    );
    c.xst = good_xst;
    assert_eq!(c.get("/positions", 2).await.status, StatusCode::OK);
    assert_eq!(sb.invalidate_tokens(), 1);
    let r = c.get("/positions", 2).await;
    assert_eq!(
        (r.status, r.code()),
        (
            StatusCode::UNAUTHORIZED,
            "error.security.client-token-invalid"
        )
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn idle_token_expires() {
    let sb = start_with(SandboxConfig {
        token_idle_ttl: Duration::from_millis(300),
        ..SandboxConfig::for_tests()
    })
    .await;
    let mut c = Raw::new(&sb);
    c.login().await;
    assert_eq!(c.get("/accounts", 1).await.status, StatusCode::OK);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let r = c.get("/session", 1).await;
        if r.status == StatusCode::UNAUTHORIZED {
            assert_eq!(r.code(), "error.security.client-token-invalid");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "token never expired"
        );
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    sb.shutdown().await;
}

#[tokio::test]
async fn wrong_password_then_lockout() {
    let sb = start_with(SandboxConfig {
        lockout_after: 3,
        ..SandboxConfig::for_tests()
    })
    .await;
    let c = Raw::new(&sb);
    let bad = json!({"identifier": "sandbox", "password": "nope"});
    for _ in 0..2 {
        let r = c.post("/session", 2, bad.clone()).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, "error.security.invalid-details")
        );
    }
    let r = c.post("/session", 2, bad).await;
    assert_eq!(r.code(), "error.security.too-many-failed-attempts");
    let r = c
        .post(
            "/session",
            2,
            json!({"identifier": "sandbox", "password": "sandbox-pass"}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (
            StatusCode::UNAUTHORIZED,
            "error.security.too-many-failed-attempts"
        )
    );
    let r = c
        .post(
            "/session",
            2,
            json!({"identifier": "bad id!", "password": "x"}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (
            StatusCode::BAD_REQUEST,
            "validation.pattern.invalid.authenticationRequest.identifier"
        )
    );
    assert_eq!(sb.state().logins["failed"], 3);
    sb.shutdown().await;
}

#[tokio::test]
async fn v3_login_bearer_refresh_and_fetch_session_tokens() {
    let sb = start_with(SandboxConfig {
        oauth_expires_in: Duration::from_secs(1),
        ..SandboxConfig::for_tests()
    })
    .await;
    let mut c = Raw::new(&sb);
    let r = c
        .post(
            "/session",
            3,
            json!({"identifier": "sandbox", "password": "sandbox-pass"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.headers.contains_key("CST"));
    let tok = &r.body["oauthToken"];
    assert_eq!(tok["expires_in"], "1");
    assert_eq!(tok["token_type"], "Bearer");
    c.bearer = Some(tok["access_token"].as_str().unwrap().into());
    let refresh = tok["refresh_token"].as_str().unwrap().to_string();
    let r = c
        .call(
            Method::GET,
            "/positions",
            2,
            None,
            &[("IG-ACCOUNT-ID", "SANDBOX-SB")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = c
        .call(
            Method::GET,
            "/session?fetchSessionTokens=true",
            1,
            None,
            &[("IG-ACCOUNT-ID", "SANDBOX-CFD")],
        )
        .await;
    assert_eq!(r.body["accountId"], "SANDBOX-CFD");
    assert!(r.headers.contains_key("CST") && r.headers.contains_key("X-SECURITY-TOKEN"));
    // Wait for the access token to expire.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let r = c.get("/accounts", 1).await;
        if r.status == StatusCode::UNAUTHORIZED {
            assert_eq!(r.code(), "error.security.oauth-token-invalid");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let r = c
        .post(
            "/session/refresh-token",
            1,
            json!({"refresh_token": refresh}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.get("oauthToken").is_none(),
        "refresh answers without the wrapper"
    );
    c.bearer = Some(r.body["access_token"].as_str().unwrap().into());
    assert_eq!(c.get("/accounts", 1).await.status, StatusCode::OK);
    // A refresh token is single use.
    let r = c
        .post(
            "/session/refresh-token",
            1,
            json!({"refresh_token": refresh}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let st = sb.state();
    assert_eq!(
        (
            st.logins["v3"],
            st.logins["refresh"],
            st.logins["fetch-tokens"]
        ),
        (1, 1, 1)
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn encrypted_password_login() {
    let sb = start().await;
    let mut c = Raw::new(&sb);
    let r = c.get("/session/encryptionKey", 1).await;
    assert_eq!(r.status, StatusCode::OK);
    let der = B64
        .decode(r.body["encryptionKey"].as_str().unwrap())
        .unwrap();
    let ts = r.body["timeStamp"].as_i64().unwrap();
    let key = RsaPublicKey::from_public_key_der(&der).unwrap();
    let encrypt = |pw: &str| {
        let inner = B64.encode(format!("{pw}|{ts}"));
        B64.encode(
            key.encrypt(&mut rand::thread_rng(), Pkcs1v15Encrypt, inner.as_bytes())
                .unwrap(),
        )
    };
    let r = c.post("/session", 2, json!({"identifier": "sandbox", "password": encrypt("wrong"), "encryptedPassword": true})).await;
    assert_eq!(r.code(), "error.security.invalid-details");
    let r = c.post("/session", 2, json!({"identifier": "sandbox", "password": encrypt("sandbox-pass"), "encryptedPassword": true})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    c.cst = Some(r.headers["CST"].to_str().unwrap().into());
    c.xst = Some(r.headers["X-SECURITY-TOKEN"].to_str().unwrap().into());
    assert_eq!(c.get("/session", 1).await.status, StatusCode::OK);
    assert_eq!(sb.state().logins["v2-encrypted"], 1);
    sb.shutdown().await;
}

#[tokio::test]
async fn switch_account_issues_new_security_token_and_logout() {
    let sb = start().await;
    let mut c = Raw::new(&sb);
    c.login().await;
    let old = c.xst.clone().unwrap();
    let r = c
        .call(
            Method::PUT,
            "/session",
            1,
            Some(json!({"accountId": "SANDBOX-CFD"})),
            &[],
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (
            StatusCode::BAD_REQUEST,
            "error.switch.accountId-must-be-different"
        )
    );
    let r = c
        .call(
            Method::PUT,
            "/session",
            1,
            Some(json!({"accountId": "NOPE"})),
            &[],
        )
        .await;
    assert_eq!(r.code(), "error.switch.invalid-accountId");
    let r = c
        .call(
            Method::PUT,
            "/session",
            1,
            Some(json!({"accountId": "SANDBOX-SB", "defaultAccount": false})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let new = r.headers["X-SECURITY-TOKEN"].to_str().unwrap().to_string();
    assert_ne!(new, old);
    let r = c.get("/session", 1).await;
    assert_eq!(
        r.code(),
        "error.security.account-token-invalid",
        "the old X-SECURITY-TOKEN is stale"
    );
    c.xst = Some(new);
    assert_eq!(c.get("/session", 1).await.body["accountId"], "SANDBOX-SB");
    let r = c
        .call(Method::POST, "/session", 1, None, &[("_method", "DELETE")])
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        c.get("/session", 1).await.code(),
        "error.security.client-token-invalid"
    );
    sb.shutdown().await;
}
