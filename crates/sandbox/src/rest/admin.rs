//! The admin API under `/sandbox/` (no authentication; the sandbox binds loopback). It refuses
//! what a web page could send it (CSRF, DNS rebinding): a `Host` or `Origin` that is not a
//! loopback name or the sandbox's own address gets 403, a `POST` whose `Content-Type` is not
//! `application/json` gets 415.
//!
//! | method + path | body | effect |
//! |---|---|---|
//! | `GET /sandbox/state` | | JSON [`crate::StateSnapshot`] |
//! | `POST /sandbox/faults` | `{"spec": "http500:2,latency:50ms"}` | arm faults (the `--faults` grammar) |
//! | `DELETE /sandbox/faults` | | disarm every fault |
//! | `POST /sandbox/invalidate-tokens` | | invalidate every token (weekend maintenance) |
//! | `POST /sandbox/price` | `{"epic", "bid", "offer"}` | force a price; stops, limits and orders trigger |
//! | `POST /sandbox/step` | `{"epic"?, "ticks"?}` | produce the next simulated quotes now |
//! | `POST /sandbox/market-status` | `{"epic", "status"}` (`null` = schedule) | override a market's status |
//! | `POST /sandbox/dealing-rules` | `{"epic", "min_stop_distance"}` (points) | change a market's minimum stop/limit distance, as IG does during the day |
//! | `POST /sandbox/stream-fault` | `{"kind": "drop"\|"silence"\|"loop"\|"end"\|"refuse", "millis"?, "cause"?, "count"?}` | streaming fault |

use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use rust_decimal::Decimal;
use scalper_model::{MarketStatus, Price};
use serde::Deserialize;
use serde_json::json;

use super::{ok_json, parse_body, Shared};
use crate::bus::StreamFault;
use crate::error::ApiError;
use crate::faults::FaultSpec;

pub(super) fn router() -> Router<Shared> {
    Router::new()
        .route("/state", get(state))
        .route("/faults", post(faults).delete(clear_faults))
        .route("/invalidate-tokens", post(invalidate))
        .route("/price", post(price))
        .route("/step", post(step))
        .route("/market-status", post(market_status))
        .route("/dealing-rules", post(dealing_rules))
        .route("/stream-fault", post(stream_fault))
}

/// Refuses cross-site requests before any admin handler runs.
pub(super) async fn same_origin_only(
    State(inner): State<Shared>,
    req: Request,
    next: Next,
) -> Response {
    match check_request(&inner, req.method(), req.headers(), req.uri()) {
        Ok(()) => next.run(req).await,
        Err(e) => {
            tracing::warn!(method = %req.method(), path = req.uri().path(), error_code = %e.code, "admin request refused");
            e.into_response()
        }
    }
}

fn check_request(
    inner: &crate::server::Inner,
    method: &Method,
    h: &HeaderMap,
    uri: &axum::http::Uri,
) -> Result<(), ApiError> {
    let host = h
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| uri.authority().map(|a| a.as_str().to_string()));
    let allowed =
        |authority: &str| host_allowed(authority, inner.addr.ip(), inner.cfg.allow_remote);
    if !host.as_deref().is_some_and(allowed) {
        return Err(ApiError::forbidden("error.sandbox.admin.host-not-allowed"));
    }
    if let Some(origin) = h.get(header::ORIGIN) {
        let ok = origin.to_str().ok().is_some_and(|o| {
            o.strip_prefix("http://")
                .or_else(|| o.strip_prefix("https://"))
                .is_some_and(|rest| !rest.contains('/') && allowed(rest))
        });
        if !ok {
            return Err(ApiError::forbidden("error.sandbox.admin.cross-origin"));
        }
    }
    if *method == Method::POST {
        let json = h
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "error.sandbox.admin.json-required",
            ));
        }
    }
    Ok(())
}

/// Whether `authority` (`host[:port]`) names this sandbox: `localhost`, a loopback address or
/// the bound address (any address literal when remote access was allowed). A DNS name that
/// merely resolves here (DNS rebinding) is refused.
fn host_allowed(authority: &str, bound: IpAddr, allow_remote: bool) -> bool {
    let host = if let Some(rest) = authority.strip_prefix('[') {
        match rest.split_once(']') {
            Some((h, _)) => h,
            None => return false,
        }
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match host.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback() || ip == bound || allow_remote,
        Err(_) => false,
    }
}

async fn state(State(inner): State<Shared>) -> Response {
    ok_json(&inner.snapshot())
}

#[derive(Deserialize)]
struct FaultsBody {
    spec: String,
}

async fn faults(State(inner): State<Shared>, body: Bytes) -> Result<Response, ApiError> {
    let b: FaultsBody = parse_body(&body)?;
    let spec = FaultSpec::parse(&b.spec).map_err(|e| ApiError::bad_request(e.to_string()))?;
    inner.inject(spec);
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn clear_faults(State(inner): State<Shared>) -> Response {
    inner.lock().faults.clear();
    tracing::info!("admin: faults cleared");
    StatusCode::NO_CONTENT.into_response()
}

async fn invalidate(State(inner): State<Shared>) -> Response {
    let n = inner.invalidate_tokens();
    ok_json(&json!({ "invalidated": n }))
}

#[derive(Deserialize)]
struct PriceBody {
    epic: String,
    bid: Decimal,
    offer: Decimal,
}

async fn price(State(inner): State<Shared>, body: Bytes) -> Result<Response, ApiError> {
    let b: PriceBody = parse_body(&body)?;
    let q = inner.set_price(&b.epic, Price::new(b.bid), Price::new(b.offer))?;
    Ok(ok_json(&q))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct StepBody {
    epic: Option<String>,
    ticks: Option<u32>,
}

async fn step(State(inner): State<Shared>, body: Bytes) -> Result<Response, ApiError> {
    let b: StepBody = if body.is_empty() {
        StepBody::default()
    } else {
        parse_body(&body)?
    };
    let quotes = inner.step(b.epic.as_deref(), b.ticks.unwrap_or(1).min(100_000))?;
    Ok(ok_json(
        &json!({ "quotes": quotes.len(), "last": quotes.last() }),
    ))
}

#[derive(Deserialize)]
struct StatusBody {
    epic: String,
    status: Option<String>,
}

async fn market_status(State(inner): State<Shared>, body: Bytes) -> Result<Response, ApiError> {
    let b: StatusBody = parse_body(&body)?;
    inner.set_market_status(&b.epic, b.status.as_deref().map(MarketStatus::from_ig))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
struct RulesBody {
    epic: String,
    min_stop_distance: Decimal,
}

async fn dealing_rules(State(inner): State<Shared>, body: Bytes) -> Result<Response, ApiError> {
    let b: RulesBody = parse_body(&body)?;
    inner.set_min_stop_distance(&b.epic, b.min_stop_distance)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
struct StreamFaultBody {
    kind: String,
    millis: Option<u64>,
    cause: Option<u32>,
    count: Option<u32>,
}

async fn stream_fault(State(inner): State<Shared>, body: Bytes) -> Result<Response, ApiError> {
    let b: StreamFaultBody = parse_body(&body)?;
    let f = match b.kind.as_str() {
        "drop" => StreamFault::DropConnections,
        "silence" => StreamFault::Silence {
            millis: b.millis.unwrap_or(10_000),
        },
        "loop" => StreamFault::ForceLoop,
        "end" => StreamFault::End {
            cause: b.cause.unwrap_or(48),
        },
        "refuse" => StreamFault::RefuseSubscriptions {
            count: b.count.unwrap_or(1),
        },
        _ => {
            return Err(ApiError::bad_request(
                "invalid.request.kind: use drop, silence, loop, end or refuse",
            ))
        }
    };
    inner.stream_fault(f);
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::host_allowed;
    use std::net::{IpAddr, Ipv4Addr};

    #[test]
    fn only_loopback_names_and_the_bound_address_are_allowed() {
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let lan = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 5));
        for (authority, bound, remote, want) in [
            ("127.0.0.1:8080", lo, false, true),
            ("localhost:8080", lo, false, true),
            ("LOCALHOST", lo, false, true),
            ("[::1]:8080", lo, false, true),
            ("evil.example:8080", lo, false, false),
            ("localhost.evil.example", lo, false, false),
            ("192.168.1.5:8080", lo, false, false),
            ("192.168.1.5:8080", lan, true, true),
            ("10.0.0.1:8080", lan, true, true),
            ("evil.example", lan, true, false),
            ("[::1", lo, false, false),
        ] {
            assert_eq!(host_allowed(authority, bound, remote), want, "{authority}");
        }
    }
}
