//! The HTTP routes: metrics, liveness and readiness, the status JSON, today's equity curve, and
//! (with a token) the control actions, each handed to the event loop and logged with its
//! source; a source that keeps failing authentication is refused for a while (429).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use prometheus_client::registry::Registry;
use scalper_live::{ControlAction, ControlError, RunPhase, StatusSnapshot, TelemetryView};
use serde_json::json;

use crate::control::{Throttle, Token};

/// A trading loop that has not published for this long is reported stalled by `/health`
/// (it publishes every second at least).
pub const STALE_AFTER: Duration = Duration::from_secs(10);
/// How long a control request waits for the loop's answer.
const CONTROL_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug)]
struct App {
    view: TelemetryView,
    registry: Registry,
    token: Option<Token>,
    throttle: Throttle,
}

type Shared = State<Arc<App>>;

/// The routes; the control routes exist only with a token.
pub fn router(view: TelemetryView, token: Option<Token>) -> Router {
    let control = token.is_some();
    let app = Arc::new(App {
        registry: crate::metrics::registry(view.clone()),
        view,
        token,
        throttle: Throttle::default(),
    });
    let mut r = Router::new()
        .route("/metrics", get(metrics))
        .route("/health", get(health))
        .route("/health/live", get(health))
        .route("/health/ready", get(ready))
        .route("/api/status", get(status))
        .route("/api/equity", get(equity))
        .route("/", get(crate::page::index))
        .route("/api/events", get(events));
    if control {
        r = r
            .route("/api/halt", post(halt))
            .route("/api/flatten", post(flatten))
            .route("/api/resume", post(resume));
    }
    r.with_state(app)
}

async fn events(State(app): Shared) -> Response {
    crate::page::events(&app.view).into_response()
}

async fn metrics(State(app): Shared) -> Response {
    match crate::metrics::render(&app.registry) {
        Ok(body) => ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], body).into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot encode the metrics",
        )
            .into_response(),
    }
}

/// Liveness: the process answers, and a trading loop published recently.
async fn health(State(app): Shared) -> Response {
    let s = app.view.status();
    let age = heartbeat_age(&s);
    let stalled = s.phase == RunPhase::Trading && age.is_some_and(|a| a > STALE_AFTER);
    let code = if stalled {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let body = json!({
        "status": if stalled { "stalled" } else { "ok" },
        "phase": s.phase,
        "heartbeat_age_ms": age.map(|a| a.as_millis() as u64),
    });
    (code, Json(body)).into_response()
}

/// Readiness: trading, stream connected, session active, not halted; otherwise 503 with the
/// reasons.
async fn ready(State(app): Shared) -> Response {
    let s = app.view.status();
    let reasons = not_ready(&s);
    let code = if reasons.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({ "ready": reasons.is_empty(), "reasons": reasons, "phase": s.phase });
    (code, Json(body)).into_response()
}

/// Why the run is not ready to trade (empty: ready).
pub fn not_ready(s: &StatusSnapshot) -> Vec<String> {
    let mut reasons = Vec::new();
    if s.phase != RunPhase::Trading {
        reasons.push(format!(
            "run {}",
            serde_json::to_value(s.phase)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        ));
        return reasons;
    }
    if heartbeat_age(s).is_some_and(|a| a > STALE_AFTER) {
        reasons.push("event loop stalled".into());
    }
    if s.stream.state != "connected" {
        reasons.push(format!("stream {}", s.stream.state));
    }
    if s.session.state != "active" {
        reasons.push(format!("session {}", s.session.state));
    }
    if let Some(h) = &s.halted {
        reasons.push(format!("halted: {h}"));
    }
    if s.unresolved > 0 {
        reasons.push(format!("{} unresolved outcome(s)", s.unresolved));
    }
    reasons
}

/// The snapshot as JSON, with each instrument's quote age and the loop's heartbeat age.
async fn status(State(app): Shared) -> Response {
    let s = app.view.status();
    let mut body = status_json(&s);
    if let Some(obj) = body.as_object_mut() {
        obj.insert("log".into(), json!(app.view.log_lines()));
    }
    (StatusCode::OK, Json(body)).into_response()
}

/// Today's equity curve: `{"currency", "day", "points": [[ms, "pnl"], ...]}`.
async fn equity(State(app): Shared) -> Response {
    let curve = app.view.equity_curve();
    let currency = app.view.status().pnl.currency.clone();
    let body = json!({ "currency": currency, "day": curve.day, "points": curve.points });
    (StatusCode::OK, Json(body)).into_response()
}

/// `/api/status`'s body, without the log lines (the caller adds them when it wants them).
pub fn status_json(s: &StatusSnapshot) -> serde_json::Value {
    let mut v = serde_json::to_value(s).unwrap_or_else(|_| json!({}));
    let now = Instant::now();
    if let Some(list) = v.get_mut("instruments").and_then(|i| i.as_array_mut()) {
        for (item, i) in list.iter_mut().zip(&s.instruments) {
            if let Some(obj) = item.as_object_mut() {
                let age = i
                    .last_quote_wall
                    .map(|t| now.saturating_duration_since(t).as_millis() as u64);
                obj.insert("quote_age_ms".into(), json!(age));
            }
        }
    }
    if let Some(obj) = v.as_object_mut() {
        obj.insert(
            "heartbeat_age_ms".into(),
            json!(heartbeat_age(s).map(|a| a.as_millis() as u64)),
        );
        obj.insert("ready_reasons".into(), json!(not_ready(s)));
    }
    v
}

fn heartbeat_age(s: &StatusSnapshot) -> Option<Duration> {
    s.heartbeat
        .map(|t| Instant::now().saturating_duration_since(t))
}

async fn halt(app: Shared, from: ConnectInfo<SocketAddr>, headers: HeaderMap) -> Response {
    act(app, from, &headers, ControlAction::Halt).await
}

async fn flatten(app: Shared, from: ConnectInfo<SocketAddr>, headers: HeaderMap) -> Response {
    act(app, from, &headers, ControlAction::Flatten).await
}

async fn resume(app: Shared, from: ConnectInfo<SocketAddr>, headers: HeaderMap) -> Response {
    act(app, from, &headers, ControlAction::Resume).await
}

/// Checks the token, then hands the action to the loop and answers with the state after it.
async fn act(
    State(app): Shared,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    headers: &HeaderMap,
    action: ControlAction,
) -> Response {
    if let Err(wait) = app.throttle.check(from.ip(), Instant::now()) {
        tracing::warn!(action = action.as_str(), source = %from, retry_after_s = wait.as_secs(), "control request refused: too many failed attempts from this source");
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, wait.as_secs().max(1).to_string())],
            Json(json!({"error": "too many failed attempts; try again later"})),
        )
            .into_response();
    }
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(axum::http::HeaderValue::as_bytes);
    let authorised = app.token.as_ref().is_some_and(|t| t.accepts(authorization));
    if !authorised {
        app.throttle.failed(from.ip(), Instant::now());
        tracing::warn!(action = action.as_str(), source = %from, with_credentials = authorization.is_some(), "control request refused: missing or wrong token");
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            Json(json!({"error": "missing or wrong bearer token"})),
        )
            .into_response();
    }
    if app.view.status().phase != RunPhase::Trading {
        return error(StatusCode::SERVICE_UNAVAILABLE, ControlError::NotRunning);
    }
    let source = format!("http {from}");
    tracing::info!(action = action.as_str(), source = %source, "control request accepted; handing it to the event loop");
    match tokio::time::timeout(CONTROL_WAIT, app.view.control(action, source)).await {
        Ok(Ok(reply)) => (StatusCode::OK, Json(reply)).into_response(),
        Ok(Err(e @ ControlError::Busy)) => error(StatusCode::TOO_MANY_REQUESTS, e),
        Ok(Err(e @ ControlError::NotRunning)) => error(StatusCode::SERVICE_UNAVAILABLE, e),
        Err(_) => (
            StatusCode::GATEWAY_TIMEOUT,
            Json(json!({"error": "the event loop did not answer in time; the action may still be taken"})),
        )
            .into_response(),
    }
}

fn error(code: StatusCode, e: ControlError) -> Response {
    (code, Json(json!({"error": e.to_string()}))).into_response()
}
