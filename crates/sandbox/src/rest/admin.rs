//! The admin API under `/sandbox/` (no authentication; the sandbox binds loopback):
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
//! | `POST /sandbox/stream-fault` | `{"kind": "drop"\|"silence"\|"loop"\|"end"\|"refuse", "millis"?, "cause"?, "count"?}` | streaming fault |

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
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
        .route("/stream-fault", post(stream_fault))
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
