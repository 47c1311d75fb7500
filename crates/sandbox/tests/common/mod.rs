//! Shared harness for the REST tests: a paused, always-open sandbox and a raw reqwest client
//! that speaks IG's headers.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use reqwest::{Method, StatusCode};
use scalper_sandbox::{Sandbox, SandboxConfig, SandboxHandle};
use serde_json::{json, Value};

pub const KEY: &str = "sandbox-api-key";
pub const EURUSD: &str = "CS.D.EURUSD.CFD.IP";

pub async fn start() -> SandboxHandle {
    start_with(SandboxConfig::for_tests()).await
}

pub async fn start_with(cfg: SandboxConfig) -> SandboxHandle {
    Sandbox::start(cfg).await.expect("sandbox starts")
}

/// A raw IG client: the API key always, tokens once logged in.
pub struct Raw {
    pub http: reqwest::Client,
    pub base: String,
    pub cst: Option<String>,
    pub xst: Option<String>,
    pub bearer: Option<String>,
    /// `IG-ACCOUNT-ID`, sent with the bearer token (v3 sessions).
    pub account: Option<String>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["errorCode"].as_str().unwrap_or("")
    }
}

impl Raw {
    pub fn new(sb: &SandboxHandle) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
            base: sb.rest_url(),
            cst: None,
            xst: None,
            bearer: None,
            account: None,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        version: u8,
        body: Option<Value>,
        extra: &[(&str, &str)],
    ) -> Reply {
        let mut req = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .header("X-IG-API-KEY", KEY)
            .header("Version", version.to_string())
            .header("Accept", "application/json; charset=UTF-8");
        if let (Some(c), Some(x)) = (&self.cst, &self.xst) {
            req = req.header("CST", c).header("X-SECURITY-TOKEN", x);
        }
        if let Some(b) = &self.bearer {
            req = req.header("Authorization", format!("Bearer {b}"));
            if let Some(a) = &self.account {
                req = req.header("IG-ACCOUNT-ID", a);
            }
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, version: u8) -> Reply {
        self.call(Method::GET, path, version, None, &[]).await
    }

    pub async fn post(&self, path: &str, version: u8, body: Value) -> Reply {
        self.call(Method::POST, path, version, Some(body), &[])
            .await
    }

    /// v2 login with the default credentials; keeps the tokens.
    pub async fn login(&mut self) -> Reply {
        let r = self
            .post(
                "/session",
                2,
                json!({"identifier": "sandbox", "password": "sandbox-pass"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        self.cst = Some(r.headers["CST"].to_str().unwrap().to_string());
        self.xst = Some(r.headers["X-SECURITY-TOKEN"].to_str().unwrap().to_string());
        r
    }

    /// Logs `user` in with session `version` (2: CST/XST; 3: bearer token and
    /// `IG-ACCOUNT-ID` of the account the login lands on); returns that account.
    pub async fn login_as(&mut self, user: &str, version: &str) -> String {
        let v: u8 = version.parse().unwrap();
        let r = self
            .post(
                "/session",
                v,
                json!({"identifier": user, "password": "sandbox-pass"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        if v == 3 {
            let token = r.body["oauthToken"]["access_token"].as_str().unwrap();
            let account = r.body["accountId"].as_str().unwrap().to_string();
            self.bearer = Some(token.to_string());
            self.account = Some(account.clone());
            account
        } else {
            self.cst = Some(r.headers["CST"].to_str().unwrap().to_string());
            self.xst = Some(r.headers["X-SECURITY-TOKEN"].to_str().unwrap().to_string());
            r.body["currentAccountId"].as_str().unwrap().to_string()
        }
    }

    /// `GET /session?fetchSessionTokens=true`: a v3 session's CST/XST (for streaming),
    /// returned without being kept.
    pub async fn fetch_session_tokens(&self) -> (String, String) {
        let r = self.get("/session?fetchSessionTokens=true", 1).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        (
            r.headers["CST"].to_str().unwrap().to_string(),
            r.headers["X-SECURITY-TOKEN"].to_str().unwrap().to_string(),
        )
    }

    /// Opens a market position; returns the deal reference.
    pub async fn open(&self, epic: &str, direction: &str, size: &str, extra: Value) -> String {
        let mut body = json!({
            "epic": epic, "expiry": "-", "direction": direction, "size": size,
            "orderType": "MARKET", "currencyCode": "USD", "forceOpen": true, "guaranteedStop": false,
        });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        let r = self.post("/positions/otc", 2, body).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        r.body["dealReference"].as_str().unwrap().to_string()
    }

    pub async fn confirm(&self, reference: &str) -> Value {
        let r = self.get(&format!("/confirms/{reference}"), 1).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        r.body
    }
}
