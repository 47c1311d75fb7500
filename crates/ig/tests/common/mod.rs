//! An in-process fake IG REST server (axum on 127.0.0.1) serving the recorded fixtures, with
//! switches for the failures the session manager must survive, and per-endpoint request counts.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use serde_json::{json, Value};

use scalper_ig::{Environment, IgConfig, SessionVersion};

pub const USER: &str = "demo-user";
pub const PASSWORD: &str = "Pa55word-SECRET-xyz";
pub const API_KEY: &str = "APIKEY-SECRET-0123456789abcdef";

/// A recorded IG response (they live beside the wire models, in `scalper-ig-wire`).
pub fn fixture(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../ig-wire/tests/fixtures")
        .join(name);
    std::fs::read_to_string(p).expect("fixture")
}

/// Behaviour switches and observations, shared with the test.
#[derive(Default)]
pub struct FakeState {
    counts: Mutex<HashMap<String, u32>>,
    next_token: AtomicU64,
    /// Valid v2 CSTs.
    valid_cst: Mutex<HashSet<String>>,
    /// Valid v3 access tokens and when they expire.
    valid_access: Mutex<HashMap<String, Instant>>,
    valid_refresh: Mutex<HashSet<String>>,
    /// v3 `expires_in` handed out.
    pub expires_in_secs: AtomicU64,
    pub refuse_refresh: AtomicBool,
    /// Token errors answered (any kind).
    pub token_errors_sent: AtomicU32,
    /// Login requests that carried an auth header from an older session.
    pub stale_login_headers: AtomicU32,
    /// Requests without a Version header.
    pub missing_version: AtomicU32,
    /// Answer the next N metered GETs with an allowance error.
    pub allowance_failures: AtomicU32,
    /// Hold the answer to `POST /positions/otc` longer than the client waits.
    pub lose_open_response: AtomicBool,
    /// Answer `PUT /positions/otc/{id}` with a 502.
    pub fail_amend: AtomicBool,
    /// Answer `/confirms` with deal-not-found this many times first.
    pub confirm_not_found: AtomicU32,
    /// Fail logins with 503 this many times first.
    pub login_unavailable: AtomicU32,
    /// References of opened deals (from the request bodies).
    pub opened: Mutex<Vec<String>>,
    /// Answer the next N dealing POSTs with a trading-allowance error.
    pub trading_allowance_failures: AtomicU32,
    /// RSA key for encrypted-password logins (created on first use).
    rsa: Mutex<Option<rsa::RsaPrivateKey>>,
    /// Encrypted-password logins accepted.
    pub encrypted_logins: AtomicU32,
    pub last_open_body: Mutex<Option<Value>>,
}

impl FakeState {
    pub fn count(&self, key: &str) -> u32 {
        self.counts.lock().unwrap().get(key).copied().unwrap_or(0)
    }
    pub fn counts(&self) -> HashMap<String, u32> {
        self.counts.lock().unwrap().clone()
    }
    /// Invalidates every session token (as IG's weekend maintenance does).
    pub fn invalidate_tokens(&self) {
        self.valid_cst.lock().unwrap().clear();
        self.valid_access.lock().unwrap().clear();
    }
    fn token(&self, prefix: &str) -> String {
        format!(
            "{prefix}-{:04}",
            self.next_token.fetch_add(1, Ordering::SeqCst)
        )
    }
}

pub struct FakeIg {
    pub state: Arc<FakeState>,
    pub addr: SocketAddr,
}

impl FakeIg {
    pub async fn start() -> Self {
        let state = Arc::new(FakeState::default());
        state.expires_in_secs.store(60, Ordering::SeqCst);
        let s = state.clone();
        let app = axum::Router::new().fallback(move |m: Method, u: Uri, h: HeaderMap, b: Bytes| {
            let s = s.clone();
            async move { handle(&s, m, u, h, b).await }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { state, addr }
    }

    pub fn url(&self) -> String {
        format!("http://{}/gateway/deal", self.addr)
    }

    pub fn config(&self, version: SessionVersion) -> IgConfig {
        IgConfig::new(
            Environment::Demo,
            USER,
            SecretString::from(PASSWORD),
            SecretString::from(API_KEY),
        )
        .with_api_url(self.url())
        .with_session_version(version)
        .for_local_tests()
    }
}

fn error(status: StatusCode, code: &str) -> Response {
    (
        status,
        [("X-REQUEST-ID", "fake-req-err")],
        json!({ "errorCode": code }).to_string(),
    )
        .into_response()
}

fn ok_json(body: String) -> Response {
    (
        StatusCode::OK,
        [
            ("X-REQUEST-ID", "fake-req-ok"),
            ("Content-Type", "application/json"),
        ],
        body,
    )
        .into_response()
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

async fn handle(
    s: &Arc<FakeState>,
    method: Method,
    uri: Uri,
    h: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri
        .path()
        .strip_prefix("/gateway/deal")
        .unwrap_or(uri.path())
        .to_string();
    let method = if method == Method::POST && header(&h, "_method") == Some("DELETE") {
        Method::DELETE
    } else {
        method
    };
    let Some(version) = header(&h, "Version").map(str::to_string) else {
        s.missing_version.fetch_add(1, Ordering::SeqCst);
        return error(StatusCode::BAD_REQUEST, "missing.version");
    };
    let route = route_name(&path);
    *s.counts
        .lock()
        .unwrap()
        .entry(format!("{method} {route} v{version}"))
        .or_default() += 1;
    if header(&h, "X-IG-API-KEY") != Some(API_KEY) {
        return error(StatusCode::FORBIDDEN, "error.security.api-key-invalid");
    }
    let query = uri.query().unwrap_or("");
    let json_body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);

    // Unauthenticated session endpoints.
    match (method.clone(), route.as_str()) {
        (Method::GET, "/session/encryptionKey") => {
            use base64::Engine as _;
            use rsa::pkcs8::EncodePublicKey;
            let mut guard = s.rsa.lock().unwrap();
            let key = guard.get_or_insert_with(|| {
                rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 512).unwrap()
            });
            let der = key.to_public_key().to_public_key_der().unwrap();
            let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_bytes());
            return ok_json(
                json!({ "encryptionKey": b64, "timeStamp": 1_700_000_000_000_i64 }).to_string(),
            );
        }
        (Method::POST, "/session") => return login(s, &h, &version, &json_body),
        (Method::POST, "/session/refresh-token") => {
            let rt = json_body["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if s.refuse_refresh.load(Ordering::SeqCst)
                || !s.valid_refresh.lock().unwrap().remove(&rt)
            {
                return error(
                    StatusCode::UNAUTHORIZED,
                    "error.security.invalid-refresh-token",
                );
            }
            return ok_json(oauth_token(s).to_string());
        }
        _ => {}
    }

    // Everything else needs a valid session.
    if let Some(cst) = header(&h, "CST") {
        if !s.valid_cst.lock().unwrap().contains(cst) {
            s.token_errors_sent.fetch_add(1, Ordering::SeqCst);
            return error(
                StatusCode::UNAUTHORIZED,
                "error.security.client-token-invalid",
            );
        }
    } else if let Some(auth) = header(&h, "Authorization") {
        let tok = auth.strip_prefix("Bearer ").unwrap_or_default();
        let valid = s
            .valid_access
            .lock()
            .unwrap()
            .get(tok)
            .is_some_and(|exp| Instant::now() < *exp);
        if !valid || header(&h, "IG-ACCOUNT-ID").is_none() {
            s.token_errors_sent.fetch_add(1, Ordering::SeqCst);
            return error(
                StatusCode::UNAUTHORIZED,
                "error.security.oauth-token-invalid",
            );
        }
    } else {
        return error(
            StatusCode::UNAUTHORIZED,
            "error.security.client-token-missing",
        );
    }

    match (method, route.as_str()) {
        (Method::GET, "/session") => {
            let mut resp = ok_json(fixture("session.json"));
            if query.contains("fetchSessionTokens=true") {
                let cst = s.token("CST");
                s.valid_cst.lock().unwrap().insert(cst.clone());
                resp.headers_mut().insert("CST", cst.parse().unwrap());
                resp.headers_mut()
                    .insert("X-SECURITY-TOKEN", s.token("XST").parse().unwrap());
            }
            resp
        }
        (Method::PUT, "/session") => {
            let cst = s.token("CST");
            s.valid_cst.lock().unwrap().insert(cst.clone());
            let mut resp = ok_json(fixture("switch.json"));
            resp.headers_mut().insert("CST", cst.parse().unwrap());
            resp.headers_mut()
                .insert("X-SECURITY-TOKEN", s.token("XST").parse().unwrap());
            resp
        }
        (Method::DELETE, "/session") => StatusCode::NO_CONTENT.into_response(),
        (Method::GET, _) if allowance_hit(s) => error(
            StatusCode::FORBIDDEN,
            "error.public-api.exceeded-account-allowance",
        ),
        (Method::GET, "/markets/{epic}") => ok_json(fixture("markets_epic.json")),
        (Method::GET, "/accounts") => ok_json(fixture("accounts_balances.json")),
        (Method::GET, "/operations/application") => ok_json(fixture("application.json")),
        (Method::GET, "/workingorders") => ok_json(fixture("workingorders_v2.json")),
        (Method::GET, "/prices/{epic}") => ok_json(fixture("historic_prices.json")),
        // No activity: a deal that neither confirmed nor opened did not happen.
        (Method::GET, "/history/activity") => ok_json(
            json!({ "activities": [], "metadata": { "paging": { "size": 0, "next": null } } })
                .to_string(),
        ),
        (Method::GET, "/positions") => {
            let mut v: Value = serde_json::from_str(&fixture("positions_v2.json")).unwrap();
            for r in s.opened.lock().unwrap().iter() {
                let mut entry = v["positions"][0].clone();
                entry["position"]["dealReference"] = json!(r);
                entry["position"]["dealId"] = json!(format!("DEAL-{r}"));
                v["positions"].as_array_mut().unwrap().push(entry);
            }
            ok_json(v.to_string())
        }
        (Method::POST, "/positions/otc")
            if s.trading_allowance_failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok() =>
        {
            error(
                StatusCode::FORBIDDEN,
                "error.public-api.exceeded-account-trading-allowance",
            )
        }
        (Method::POST, "/positions/otc") => {
            let r = json_body["dealReference"]
                .as_str()
                .unwrap_or("IGREF")
                .to_string();
            s.opened.lock().unwrap().push(r.clone());
            *s.last_open_body.lock().unwrap() = Some(json_body.clone());
            if s.lose_open_response.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            ok_json(json!({ "dealReference": r }).to_string())
        }
        (Method::DELETE, "/positions/otc") => {
            let r = json_body["dealReference"]
                .as_str()
                .unwrap_or("IGCLOSE")
                .to_string();
            ok_json(json!({ "dealReference": r }).to_string())
        }
        (Method::PUT, "/positions/otc/{id}") if s.fail_amend.load(Ordering::SeqCst) => {
            error(StatusCode::BAD_GATEWAY, "system.error")
        }
        (Method::PUT, "/positions/otc/{id}") => {
            ok_json(json!({ "dealReference": "IGAMEND1" }).to_string())
        }
        (Method::GET, "/confirms/{ref}") => {
            if s.confirm_not_found.load(Ordering::SeqCst) > 0 {
                s.confirm_not_found.fetch_sub(1, Ordering::SeqCst);
                return error(StatusCode::NOT_FOUND, "error.confirms.deal-not-found");
            }
            let r = path.rsplit('/').next().unwrap_or_default();
            ok_json(
                json!({
                    "date": "2026-11-26T20:00:00", "dealId": format!("DEAL-{r}"), "dealReference": r,
                    "dealStatus": "ACCEPTED", "reason": "SUCCESS", "status": "OPEN",
                    "direction": "BUY", "epic": "CS.D.EURUSD.CFD.IP", "expiry": "-",
                    "level": 1.08123, "size": 1, "affectedDeals": [{"dealId": format!("DEAL-{r}"), "status": "OPENED"}],
                    "someFutureField": {"x": 1}
                })
                .to_string(),
            )
        }
        _ => error(StatusCode::NOT_FOUND, "invalid.url"),
    }
}

fn allowance_hit(s: &FakeState) -> bool {
    s.allowance_failures
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

fn route_name(path: &str) -> String {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["markets", _] => "/markets/{epic}".into(),
        ["prices", _] => "/prices/{epic}".into(),
        ["confirms", _] => "/confirms/{ref}".into(),
        ["positions", "otc"] => "/positions/otc".into(),
        ["positions", "otc", _] => "/positions/otc/{id}".into(),
        ["positions", id] if *id != "otc" => "/positions/{id}".into(),
        ["workingorders", "otc", _] => "/workingorders/otc/{id}".into(),
        _ => path.to_string(),
    }
}

fn oauth_token(s: &FakeState) -> Value {
    let access = s.token("ACCESS");
    let refresh = s.token("REFRESH");
    let secs = s.expires_in_secs.load(Ordering::SeqCst);
    s.valid_access
        .lock()
        .unwrap()
        .insert(access.clone(), Instant::now() + Duration::from_secs(secs));
    s.valid_refresh.lock().unwrap().insert(refresh.clone());
    json!({ "access_token": access, "refresh_token": refresh, "scope": "profile",
            "token_type": "Bearer", "expires_in": secs.to_string() })
}

fn login(s: &Arc<FakeState>, h: &HeaderMap, version: &str, body: &Value) -> Response {
    if h.contains_key("CST")
        || h.contains_key("X-SECURITY-TOKEN")
        || h.contains_key("Authorization")
    {
        s.stale_login_headers.fetch_add(1, Ordering::SeqCst);
    }
    if s.login_unavailable
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return error(StatusCode::SERVICE_UNAVAILABLE, "system.error");
    }
    let mut password = body["password"].as_str().unwrap_or_default().to_string();
    if body["encryptedPassword"] == true {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let key = s.rsa.lock().unwrap().clone();
        let plain = key
            .and_then(|k| {
                k.decrypt(rsa::Pkcs1v15Encrypt, &b64.decode(&password).ok()?)
                    .ok()
            })
            .and_then(|p| b64.decode(p).ok())
            .map(|p| String::from_utf8_lossy(&p).into_owned())
            .unwrap_or_default();
        password = plain
            .strip_suffix("|1700000000000")
            .unwrap_or_default()
            .to_string();
        s.encrypted_logins.fetch_add(1, Ordering::SeqCst);
    }
    if body["identifier"] != USER || password != PASSWORD {
        return error(StatusCode::UNAUTHORIZED, "error.security.invalid-details");
    }
    if version == "3" {
        return ok_json(
            json!({ "accountId": "ABC123", "clientId": "100112233", "timezoneOffset": 0,
                    "lightstreamerEndpoint": "https://demo-apd.marketdatasystems.com",
                    "oauthToken": oauth_token(s) })
            .to_string(),
        );
    }
    let cst = s.token("CST");
    s.valid_cst.lock().unwrap().insert(cst.clone());
    let mut resp = ok_json(fixture("accounts.json"));
    resp.headers_mut().insert("CST", cst.parse().unwrap());
    resp.headers_mut()
        .insert("X-SECURITY-TOKEN", s.token("XST").parse().unwrap());
    resp
}

/// Polls `cond` until it holds or `timeout` passes.
pub async fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
