//! The IG REST API under `/gateway/deal` and the admin API under `/sandbox`: routing, the
//! per-request middleware (request id, counting, fault injection, allowances), authentication
//! (API key, CST/X-SECURITY-TOKEN, OAuth Bearer + IG-ACCOUNT-ID) and body parsing.

mod admin;
mod history;
mod markets;
mod navigation;
mod operations;
mod prices;
mod repeat_dealing;
mod sentiment;
mod session;
mod trading;
mod watchlists;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use secrecy::ExposeSecret;
use tokio::time::Instant;

use crate::config::SandboxConfig;
use crate::error::ApiError;
use crate::faults::FaultKind;
use crate::server::Inner;
use crate::state::V2Session;

pub(crate) type Shared = Arc<Inner>;

/// Builds the REST and admin routes.
pub(crate) fn router(inner: Shared) -> Router {
    let ig = Router::new()
        .route(
            "/session",
            post(session::login)
                .get(session::read)
                .put(session::switch)
                .delete(session::logout),
        )
        .route("/session/encryptionKey", get(session::encryption_key))
        .route("/session/refresh-token", post(session::refresh))
        .route("/accounts", get(trading::accounts))
        .route(
            "/accounts/preferences",
            get(operations::preferences).put(operations::set_preferences),
        )
        .route(
            "/operations/application",
            get(trading::application).put(operations::update_application),
        )
        .route(
            "/operations/application/disable",
            axum::routing::put(operations::disable_application),
        )
        .route("/markets", get(markets::markets))
        .route("/markets/{epic}", get(markets::market))
        .route("/marketnavigation", get(navigation::root))
        .route("/marketnavigation/{node}", get(navigation::node_children))
        .route("/prices/{epic}", get(markets::prices))
        .route("/prices/{epic}/{resolution}", get(prices::v1))
        .route("/prices/{epic}/{resolution}/{num}", get(prices::num_points))
        .route(
            "/prices/{epic}/{resolution}/{from}/{to}",
            get(prices::date_range),
        )
        .route(
            "/watchlists",
            get(watchlists::list).post(watchlists::create),
        )
        .route(
            "/watchlists/{id}",
            get(watchlists::read)
                .put(watchlists::add)
                .delete(watchlists::delete)
                .post(watchlists::post_delete),
        )
        .route(
            "/watchlists/{id}/{epic}",
            axum::routing::delete(watchlists::remove).post(watchlists::post_remove),
        )
        .route("/clientsentiment", get(sentiment::many))
        .route("/clientsentiment/", get(sentiment::many))
        .route("/clientsentiment/{market_id}", get(sentiment::one))
        .route(
            "/clientsentiment/related/{market_id}",
            get(sentiment::related),
        )
        .route("/positions", get(trading::positions))
        .route("/positions/{deal_id}", get(trading::position))
        .route(
            "/positions/otc",
            post(trading::open_or_close).delete(trading::close),
        )
        .route(
            "/positions/otc/{deal_id}",
            axum::routing::put(trading::amend),
        )
        .route("/confirms/{deal_reference}", get(trading::confirm))
        .route("/repeat-dealing-window", get(repeat_dealing::window))
        .route("/workingorders", get(trading::working_orders))
        .route("/workingorders/otc", post(trading::create_order))
        .route(
            "/workingorders/otc/{deal_id}",
            axum::routing::put(trading::amend_order)
                .delete(trading::delete_order)
                .post(trading::post_order_delete),
        )
        .route("/history/activity", get(history::activity))
        .route("/history/activity/", get(history::activity))
        .route("/history/activity/{period}", get(history::activity_last))
        .route(
            "/history/activity/{from}/{to}",
            get(history::activity_dates),
        )
        .route("/history/transactions", get(history::transactions_v2))
        .route("/history/transactions/", get(history::transactions_v2))
        .route(
            "/history/transactions/{kind}/{period}",
            get(history::transactions_last),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            inner.clone(),
            middleware,
        ))
        .fallback(|| async { ApiError::not_found("invalid.url") });
    Router::new()
        .nest("/gateway/deal", ig)
        .nest(
            "/sandbox",
            admin::router().layer(axum::middleware::from_fn_with_state(
                inner.clone(),
                admin::same_origin_only,
            )),
        )
        .with_state(inner)
}

/// The method as counted: one of HTTP's standard methods, or `OTHER` for anything else (a
/// client inventing methods must not grow the counters).
fn method_bucket(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

fn is_dealing(method: &Method, path: &str) -> bool {
    (path.contains("/positions/otc") || path.contains("/workingorders/otc"))
        && matches!(*method, Method::POST | Method::PUT | Method::DELETE)
}

fn is_login(method: &Method, path: &str) -> bool {
    path.ends_with("/session/encryptionKey")
        || path.ends_with("/session/refresh-token")
        || (path.ends_with("/session") && *method == Method::POST)
}

/// Request id, counting, allowances and fault injection around every IG request.
async fn middleware(State(inner): State<Shared>, req: Request, next: Next) -> Response {
    let id = inner.req_seq.fetch_add(1, Ordering::Relaxed) + 1;
    let request_id = format!("sandbox-{id:08}");
    let method = req.method().clone();
    let override_delete = req
        .headers()
        .get("_method")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"DELETE"));
    let shown = if override_delete {
        Method::DELETE
    } else {
        method.clone()
    };
    // The route template only (`/markets/{epic}`), never the raw path: counters stay bounded.
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "(unmatched)".to_string(), |p| p.as_str().to_string());
    let authed = req.headers().contains_key("CST") || req.headers().contains_key("authorization");
    let bearer = req.headers().contains_key("authorization");
    if inner.requests.receiver_count() > 0 {
        let _ = inner.requests.send(crate::server::RequestSeen {
            method: shown.to_string(),
            path: path.clone(),
            at: std::time::Instant::now(),
        });
    }
    let dealing = is_dealing(&method, &path);
    let login = is_login(&shown, &path);
    let (fault, latency, hold) = {
        let mut st = inner.lock();
        *st.requests
            .entry(format!("{} {path}", method_bucket(&shown)))
            .or_default() += 1;
        let latency = st.faults.latency;
        let fault = if st.faults.take(&FaultKind::Timeout) {
            Some(FaultKind::Timeout)
        } else if st.faults.take(&FaultKind::Http500) {
            Some(FaultKind::Http500)
        } else if st.faults.take(&FaultKind::Http503) {
            Some(FaultKind::Http503)
        } else if st.faults.take(&FaultKind::RateLimit) {
            Some(FaultKind::RateLimit)
        } else if authed && !login && st.faults.take(&FaultKind::TokenInvalid) {
            Some(FaultKind::TokenInvalid)
        } else {
            None
        };
        let limited = rate_limited(&inner.cfg, &mut st, dealing, login);
        let deal_hold = if dealing && fault.is_none() && limited.is_none() {
            st.faults.take_hold()
        } else {
            None
        };
        (
            fault.map(Ok).or(limited.map(Err)),
            latency
                .map(|l| l + deal_hold.unwrap_or_default())
                .or(deal_hold),
            inner.cfg.timeout_hold,
        )
    };
    if let Some(l) = latency {
        tracing::info!(
            latency_ms = l.as_millis() as u64,
            fault = "latency",
            method = %shown,
            path,
            "injected latency (hold-deal included)"
        );
        tokio::time::sleep(l).await;
    }
    let mut resp = match fault {
        Some(Ok(kind)) => {
            tracing::warn!(request_id, method = %shown, path, fault = %crate::faults::kind_name(&kind), "injected fault");
            match kind {
                FaultKind::Timeout => {
                    tokio::time::sleep(hold).await;
                    ApiError::new(StatusCode::GATEWAY_TIMEOUT, "system.error").into_response()
                }
                FaultKind::Http500 => {
                    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "system.error").into_response()
                }
                FaultKind::Http503 => {
                    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "error.service.unavailable")
                        .into_response()
                }
                FaultKind::RateLimit => {
                    ApiError::forbidden("error.public-api.exceeded-account-allowance")
                        .into_response()
                }
                _ if bearer => {
                    ApiError::unauthorized("error.security.oauth-token-invalid").into_response()
                }
                _ => ApiError::unauthorized("error.security.client-token-invalid").into_response(),
            }
        }
        Some(Err(e)) => {
            tracing::warn!(request_id, method = %shown, path, error_code = %e.code, "allowance exceeded");
            e.into_response()
        }
        None => {
            let resp = next.run(req).await;
            if dealing
                && resp.status().is_success()
                && inner.lock().faults.take(&FaultKind::DropDealResponse)
            {
                tracing::warn!(request_id, method = %shown, path, fault = "drop-deal-response", "injected fault: deal executed, response dropped");
                let (parts, _) = resp.into_parts();
                let body = Body::from_stream(futures_util::stream::once(async {
                    Err::<Bytes, std::io::Error>(std::io::Error::other(
                        "response dropped by fault injection",
                    ))
                }));
                Response::from_parts(parts, body)
            } else {
                resp
            }
        }
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("X-REQUEST-ID", v);
    }
    tracing::debug!(request_id, method = %shown, path, status = resp.status().as_u16(), "request served");
    resp
}

/// IG's allowances, when enabled: fixed one-minute windows.
fn rate_limited(
    cfg: &SandboxConfig,
    st: &mut crate::state::State,
    dealing: bool,
    login: bool,
) -> Option<ApiError> {
    let limits = cfg.rate_limits?;
    if login {
        return None;
    }
    let now = Instant::now();
    let w = &mut st.rates;
    if w.window_start
        .is_none_or(|s| now.duration_since(s).as_secs() >= 60)
    {
        w.window_start = Some(now);
        w.counts.clear();
    }
    let (key, limit, code) = if dealing {
        (
            "trading",
            limits.account_trading_per_min,
            "error.public-api.exceeded-account-trading-allowance",
        )
    } else {
        (
            "account",
            limits.account_non_trading_per_min,
            "error.public-api.exceeded-account-allowance",
        )
    };
    let n = w.counts.entry(key.into()).or_default();
    *n += 1;
    if *n > limit {
        return Some(ApiError::forbidden(code));
    }
    if !dealing {
        let app = w.counts.entry("app".into()).or_default();
        *app += 1;
        if *app > limits.app_non_trading_per_min {
            return Some(ApiError::forbidden(
                "error.public-api.exceeded-api-key-allowance",
            ));
        }
    }
    None
}

/// The `Version` header, when `allowed` serves it: IG routes by path and version, so a version
/// an endpoint does not have is an unknown URL (404 `invalid.url`).
pub(crate) fn require_version(h: &HeaderMap, allowed: &[u8]) -> Result<u8, ApiError> {
    let raw = h
        .get("version")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    let v = match raw {
        None | Some("") => 1,
        Some(s) => s.parse().map_err(|_| ApiError::not_found("invalid.url"))?,
    };
    if allowed.contains(&v) {
        Ok(v)
    } else {
        Err(ApiError::not_found("invalid.url"))
    }
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

/// Whether a `POST` is a `DELETE` (IG's `_method: DELETE` header).
pub(crate) fn is_delete(h: &HeaderMap) -> bool {
    h.get("_method")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"DELETE"))
}

/// The sandbox's API key.
pub(crate) fn api_key(inner: &Inner) -> String {
    inner.cfg.credentials.api_key.expose_secret().to_string()
}

/// Checks `X-IG-API-KEY`.
pub(crate) fn check_api_key(inner: &Inner, h: &HeaderMap) -> Result<(), ApiError> {
    match header(h, "x-ig-api-key") {
        None | Some("") => Err(ApiError::bad_request("error.security.api-key-missing")),
        Some(k) if k == inner.cfg.credentials.api_key.expose_secret() => Ok(()),
        Some(_) => Err(ApiError::forbidden("error.security.api-key-invalid")),
    }
}

/// Whether a v2 session is within its idle lifetime and maximum age.
pub(crate) fn session_alive(cfg: &SandboxConfig, s: &V2Session, now: Instant) -> bool {
    now.duration_since(s.last_used) < cfg.token_idle_ttl
        && now.duration_since(s.created) < cfg.token_max_age
}

/// Who a request is from.
#[derive(Debug, Clone)]
pub(crate) struct Authed {
    /// The login name.
    pub user: String,
    pub account: String,
    /// The CST for v2 sessions, `None` for OAuth.
    pub cst: Option<String>,
    pub access: Option<String>,
}

/// Authenticates a request (API key, then Bearer or CST + X-SECURITY-TOKEN).
pub(crate) fn authenticate(inner: &Inner, h: &HeaderMap) -> Result<Authed, ApiError> {
    check_api_key(inner, h)?;
    let now = Instant::now();
    let mut st = inner.lock();
    if let Some(auth) = header(h, "authorization") {
        let token = auth
            .strip_prefix("Bearer ")
            .or_else(|| auth.strip_prefix("bearer "))
            .ok_or_else(|| ApiError::unauthorized("error.security.oauth-token-invalid"))?
            .trim();
        let user = match st.oauth.get(token) {
            Some(t) if t.expires > now => t.user.clone(),
            _ => {
                st.oauth.remove(token);
                return Err(ApiError::unauthorized("error.security.oauth-token-invalid"));
            }
        };
        let account = match header(h, "ig-account-id") {
            Some(a) if st.accounts.contains_key(a) => a.to_string(),
            Some(_) => {
                return Err(ApiError::unauthorized(
                    "error.security.account-access-denied",
                ))
            }
            None => st.default_account(&user),
        };
        return Ok(Authed {
            user,
            account,
            cst: None,
            access: Some(token.to_string()),
        });
    }
    let cst = match header(h, "cst") {
        None | Some("") => {
            return Err(ApiError::unauthorized(
                "error.security.client-token-missing",
            ))
        }
        Some(c) => c.to_string(),
    };
    let xst = match header(h, "x-security-token") {
        None | Some("") => {
            return Err(ApiError::unauthorized(
                "error.security.account-token-missing",
            ))
        }
        Some(x) => x.to_string(),
    };
    let alive = st
        .sessions
        .get(&cst)
        .map(|s| session_alive(&inner.cfg, s, now));
    match alive {
        None => Err(ApiError::unauthorized(
            "error.security.client-token-invalid",
        )),
        Some(false) => {
            st.sessions.remove(&cst);
            Err(ApiError::unauthorized(
                "error.security.client-token-invalid",
            ))
        }
        Some(true) => {
            let Some(s) = st.sessions.get_mut(&cst) else {
                return Err(ApiError::unauthorized(
                    "error.security.client-token-invalid",
                ));
            };
            if s.xst != xst {
                return Err(ApiError::unauthorized(
                    "error.security.account-token-invalid",
                ));
            }
            s.last_used = now;
            Ok(Authed {
                user: s.user.clone(),
                account: s.account.clone(),
                cst: Some(cst),
                access: None,
            })
        }
    }
}

/// Parses a JSON body into an IG wire struct (400 `invalid.input` otherwise).
pub(crate) fn parse_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request("invalid.input"));
    }
    serde_json::from_slice(body).map_err(|e| {
        tracing::debug!(error = %e, "unparseable request body");
        ApiError::bad_request("invalid.input")
    })
}

/// A JSON 200 answer.
pub(crate) fn ok_json<T: serde::Serialize>(v: &T) -> Response {
    axum::Json(v).into_response()
}
