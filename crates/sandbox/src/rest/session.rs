//! Session endpoints: login v1/v2/v3 (plain or RSA-encrypted password), lockout after repeated
//! failures, `GET /session` (+ `fetchSessionTokens`), account switch, logout, encryption key and
//! OAuth refresh.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rand::SeedableRng;
use rsa::pkcs8::EncodePublicKey;
use rsa::{Pkcs1v15Encrypt, RsaPrivateKey};
use scalper_ig_wire::session::{
    AccountInfo, EncryptionKeyResponse, LoginRequest, LoginV2Response, LoginV3Response, OAuthToken,
    RefreshTokenRequest, SessionAccount, SessionDetails, SwitchAccountRequest,
    SwitchAccountResponse,
};
use secrecy::ExposeSecret;
use tokio::sync::OnceCell;
use tokio::time::Instant;

use super::{authenticate, check_api_key, ok_json, parse_body, require_version, Shared};
use crate::catalog;
use crate::error::ApiError;
use crate::server::Inner;
use crate::state::{OAuthAccess, V2Session};

/// One RSA key per process, generated on first use (slow in debug builds).
static RSA_KEY: OnceCell<RsaPrivateKey> = OnceCell::const_new();

async fn rsa_key() -> Result<&'static RsaPrivateKey, ApiError> {
    RSA_KEY
        .get_or_try_init(|| async {
            let started = std::time::Instant::now();
            let key = tokio::task::spawn_blocking(|| {
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x0051_6e00);
                RsaPrivateKey::new(&mut rng, 1024)
            })
            .await
            .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "system.error"))?
            .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "system.error"))?;
            tracing::info!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                "RSA encryption key generated"
            );
            Ok(key)
        })
        .await
}

fn set_header(resp: &mut Response, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
}

fn count(inner: &Inner, kind: &str) {
    *inner.lock().logins.entry(kind.into()).or_default() += 1;
}

fn accounts_list(inner: &Inner, user: &str) -> Vec<SessionAccount> {
    let st = inner.lock();
    let default = st.default_account(user);
    st.accounts
        .values()
        .map(|a| SessionAccount {
            account_id: a.id.clone(),
            account_name: Some(a.name.clone()),
            preferred: Some(a.id == default),
            account_type: Some(a.kind.as_ig().into()),
        })
        .collect()
}

/// Decrypts an IG-encrypted password: base64(RSA(base64(password|timestamp))).
async fn decrypt_password(cipher_b64: &str) -> Option<String> {
    let key = rsa_key().await.ok()?;
    let cipher = B64.decode(cipher_b64.trim()).ok()?;
    let plain = key.decrypt(Pkcs1v15Encrypt, &cipher).ok()?;
    let inner = B64.decode(&plain).unwrap_or(plain);
    let text = String::from_utf8(inner).ok()?;
    Some(
        text.rsplit_once('|')
            .map_or(text.clone(), |(p, _)| p.to_string()),
    )
}

fn identifier_ok(id: &str) -> bool {
    (1..=30).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// `POST /session` v1/v2/v3 (or logout with `_method: DELETE`).
pub(super) async fn login(
    State(inner): State<Shared>,
    h: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if h.get("_method")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"DELETE"))
    {
        return logout(State(inner), h).await;
    }
    check_api_key(&inner, &h)?;
    let v = require_version(&h, &[1, 2, 3])?;
    let req: LoginRequest = parse_body(&body)?;
    if !identifier_ok(&req.identifier) {
        return Err(ApiError::bad_request(
            "validation.pattern.invalid.authenticationRequest.identifier",
        ));
    }
    if req.password.is_empty() {
        return Err(ApiError::bad_request(
            "validation.null-not-allowed.authenticationRequest.password",
        ));
    }
    let now = Instant::now();
    if inner.lock().locked_until.is_some_and(|t| t > now) {
        count(&inner, "locked");
        tracing::warn!("login refused: too many failed attempts");
        return Err(ApiError::unauthorized(
            "error.security.too-many-failed-attempts",
        ));
    }
    let encrypted = v < 3 && req.encrypted_password == Some(true);
    let password = if encrypted {
        decrypt_password(&req.password).await
    } else {
        Some(req.password.clone())
    };
    let creds = &inner.cfg.credentials;
    let good = inner.cfg.user_default_account(&req.identifier).is_some()
        && password.as_deref() == Some(creds.password.expose_secret());
    if !good {
        let mut st = inner.lock();
        st.failed_logins += 1;
        *st.logins.entry("failed".into()).or_default() += 1;
        if st.failed_logins >= inner.cfg.lockout_after {
            st.locked_until = Some(now + inner.cfg.lockout_duration);
            tracing::warn!(failures = st.failed_logins, "login locked out");
            return Err(ApiError::unauthorized(
                "error.security.too-many-failed-attempts",
            ));
        }
        tracing::info!(
            failures = st.failed_logins,
            "login refused: invalid details"
        );
        return Err(ApiError::unauthorized("error.security.invalid-details"));
    }
    inner.lock().failed_logins = 0;
    let user = req.identifier.clone();
    let accounts = accounts_list(&inner, &user);
    if v >= 3 {
        return Ok(login_v3(&inner, &user, now));
    }
    let (cst, xst, account) = {
        let mut st = inner.lock();
        let cst = st.token();
        let xst = st.token();
        let account = st.default_account(&user);
        st.prune_sessions(&inner.cfg, now);
        st.sessions.insert(
            cst.clone(),
            V2Session {
                xst: xst.clone(),
                user: user.clone(),
                account: account.clone(),
                created: now,
                last_used: now,
            },
        );
        let kind = match (v, encrypted) {
            (_, true) => "v2-encrypted",
            (1, false) => "v1",
            _ => "v2",
        };
        *st.logins.entry(kind.into()).or_default() += 1;
        (cst, xst, account)
    };
    let (balance, pnl, margin, available) = inner.with(|w| w.funds(&account));
    let trailing = trailing_enabled(&inner, &account);
    let kind = accounts
        .iter()
        .find(|a| a.account_id == account)
        .and_then(|a| a.account_type.clone());
    let body = LoginV2Response {
        account_type: kind,
        account_info: Some(AccountInfo {
            balance: Some(balance),
            deposit: Some(margin),
            profit_loss: Some(pnl),
            available: Some(available),
        }),
        currency_iso_code: Some(inner.cfg.currency.clone()),
        currency_symbol: Some(catalog::currency_symbol(&inner.cfg.currency).into()),
        current_account_id: Some(account),
        lightstreamer_endpoint: Some(inner.stream_url.clone()),
        accounts: Some(accounts),
        client_id: Some("100000001".into()),
        timezone_offset: Some(rust_decimal::Decimal::ZERO),
        has_active_demo_accounts: Some(true),
        has_active_live_accounts: Some(false),
        trailing_stops_enabled: Some(trailing),
        rerouting_environment: None,
        dealing_enabled: Some(true),
    };
    let mut resp = ok_json(&body);
    set_header(&mut resp, "CST", &cst);
    set_header(&mut resp, "X-SECURITY-TOKEN", &xst);
    tracing::info!(version = v, encrypted, "login accepted");
    Ok(resp)
}

fn new_oauth(inner: &Inner, user: &str, now: Instant) -> OAuthToken {
    let mut st = inner.lock();
    let access = st.token();
    let refresh = st.token();
    st.prune_sessions(&inner.cfg, now);
    st.oauth.insert(
        access.clone(),
        OAuthAccess {
            expires: now + inner.cfg.oauth_expires_in,
            user: user.to_string(),
        },
    );
    st.refresh.insert(
        refresh.clone(),
        (now + inner.cfg.oauth_refresh_ttl, user.to_string()),
    );
    OAuthToken {
        access_token: access,
        refresh_token: refresh,
        scope: Some("profile".into()),
        token_type: Some("Bearer".into()),
        expires_in: Some(inner.cfg.oauth_expires_in.as_secs().max(1).to_string()),
    }
}

fn login_v3(inner: &Inner, user: &str, now: Instant) -> Response {
    let token = new_oauth(inner, user, now);
    count(inner, "v3");
    let (account, kind) = {
        let st = inner.lock();
        let account = st.default_account(user);
        let kind = st
            .accounts
            .get(&account)
            .map(|a| a.kind.as_ig().to_string());
        (account, kind)
    };
    tracing::info!(version = 3, "login accepted");
    ok_json(&LoginV3Response {
        account_id: Some(account),
        client_id: Some("100000001".into()),
        timezone_offset: Some(rust_decimal::Decimal::ZERO),
        lightstreamer_endpoint: Some(inner.stream_url.clone()),
        oauth_token: Some(token),
        account_type: kind,
    })
}

/// `POST /session/refresh-token` v1.
pub(super) async fn refresh(
    State(inner): State<Shared>,
    h: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    check_api_key(&inner, &h)?;
    require_version(&h, &[1])?;
    let req: RefreshTokenRequest = parse_body(&body)?;
    let now = Instant::now();
    let user = {
        let mut st = inner.lock();
        st.refresh
            .remove(&req.refresh_token)
            .filter(|(exp, _)| *exp > now)
            .map(|(_, user)| user)
    };
    let Some(user) = user else {
        tracing::info!("refresh refused: refresh token invalid or expired");
        return Err(ApiError::unauthorized("error.security.oauth-token-invalid"));
    };
    count(&inner, "refresh");
    Ok(ok_json(&new_oauth(&inner, &user, now)))
}

/// `GET /session` v1 (with `fetchSessionTokens=true` the CST/XST headers).
pub(super) async fn read(
    State(inner): State<Shared>,
    h: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let who = authenticate(&inner, &h)?;
    require_version(&h, &[1])?;
    let body = SessionDetails {
        client_id: Some("100000001".into()),
        account_id: Some(who.account.clone()),
        timezone_offset: Some(rust_decimal::Decimal::ZERO),
        locale: Some("en_GB".into()),
        currency: Some(inner.cfg.currency.clone()),
        lightstreamer_endpoint: Some(inner.stream_url.clone()),
    };
    let mut resp = ok_json(&body);
    if q.get("fetchSessionTokens")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        let now = Instant::now();
        #[allow(clippy::single_match_else)]
        let (cst, xst) = match &who.cst {
            Some(cst) => {
                let st = inner.lock();
                (
                    cst.clone(),
                    st.sessions
                        .get(cst)
                        .map(|s| s.xst.clone())
                        .unwrap_or_default(),
                )
            }
            None => {
                let mut st = inner.lock();
                let cst = st.token();
                let xst = st.token();
                st.prune_sessions(&inner.cfg, now);
                st.sessions.insert(
                    cst.clone(),
                    V2Session {
                        xst: xst.clone(),
                        user: who.user.clone(),
                        account: who.account.clone(),
                        created: now,
                        last_used: now,
                    },
                );
                *st.logins.entry("fetch-tokens".into()).or_default() += 1;
                (cst, xst)
            }
        };
        set_header(&mut resp, "CST", &cst);
        set_header(&mut resp, "X-SECURITY-TOKEN", &xst);
    }
    Ok(resp)
}

/// `PUT /session` v1: switch account (new X-SECURITY-TOKEN).
pub(super) async fn switch(
    State(inner): State<Shared>,
    h: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let who = authenticate(&inner, &h)?;
    require_version(&h, &[1])?;
    let req: SwitchAccountRequest = parse_body(&body)?;
    let Some(cst) = who.cst else {
        return Err(ApiError::bad_request("error.switch.invalid-accountId"));
    };
    let xst = {
        let mut st = inner.lock();
        if !st.accounts.contains_key(&req.account_id) {
            return Err(ApiError::bad_request("error.switch.invalid-accountId"));
        }
        if req.account_id == who.account {
            return Err(ApiError::bad_request(
                "error.switch.accountId-must-be-different",
            ));
        }
        if req.default_account == Some(true) {
            st.preferred
                .insert(who.user.clone(), req.account_id.clone());
        }
        let xst = st.token();
        if let Some(s) = st.sessions.get_mut(&cst) {
            s.xst.clone_from(&xst);
            s.account.clone_from(&req.account_id);
        }
        *st.logins.entry("switch".into()).or_default() += 1;
        xst
    };
    tracing::info!(account = %req.account_id, "account switched");
    let mut resp = ok_json(&SwitchAccountResponse {
        trailing_stops_enabled: Some(trailing_enabled(&inner, &req.account_id)),
        dealing_enabled: Some(true),
        has_active_demo_accounts: Some(true),
        has_active_live_accounts: Some(false),
    });
    set_header(&mut resp, "CST", &cst);
    set_header(&mut resp, "X-SECURITY-TOKEN", &xst);
    Ok(resp)
}

/// `DELETE /session` v1 (logout).
pub(super) async fn logout(
    State(inner): State<Shared>,
    h: HeaderMap,
) -> Result<Response, ApiError> {
    let who = authenticate(&inner, &h)?;
    require_version(&h, &[1])?;
    let mut st = inner.lock();
    if let Some(cst) = &who.cst {
        st.sessions.remove(cst);
    }
    if let Some(a) = &who.access {
        st.oauth.remove(a);
    }
    tracing::info!(account = %who.account, "logged out");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /session/encryptionKey` v1.
pub(super) async fn encryption_key(
    State(inner): State<Shared>,
    h: HeaderMap,
) -> Result<Response, ApiError> {
    check_api_key(&inner, &h)?;
    require_version(&h, &[1])?;
    let key = rsa_key().await?;
    let der = key
        .to_public_key()
        .to_public_key_der()
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "system.error"))?;
    let ts = inner.lock().encryption_ts;
    Ok(ok_json(&EncryptionKeyResponse {
        encryption_key: B64.encode(der.as_bytes()),
        time_stamp: Some(ts),
    }))
}

/// The account's `trailingStopsEnabled` preference (`PUT /accounts/preferences`).
fn trailing_enabled(inner: &Shared, account: &str) -> bool {
    inner
        .lock()
        .accounts
        .get(account)
        .is_some_and(|a| a.trailing_stops_enabled)
}
