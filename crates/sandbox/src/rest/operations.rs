//! `/accounts/preferences` v1 (GET, PUT: trailing stops enabled, per account) and
//! `PUT /operations/application` v1 (+ `/disable`): the status and allowances set are kept and
//! `GET /operations/application` shows them. The sandbox's enforced limits stay as configured,
//! and a disabled key goes on working, so that a test cannot lock itself out.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{authenticate, ok_json, parse_body, require_version, Shared};
use crate::error::ApiError;

/// `GET /accounts/preferences` v1.
pub(super) async fn preferences(
    State(inner): State<Shared>,
    h: HeaderMap,
) -> Result<Response, ApiError> {
    let who = authenticate(&inner, &h)?;
    require_version(&h, &[1])?;
    let on = inner
        .lock()
        .accounts
        .get(&who.account)
        .is_some_and(|a| a.trailing_stops_enabled);
    Ok(ok_json(&json!({ "trailingStopsEnabled": on })))
}

/// A boolean IG accepts as JSON `true` or the string `"true"` (trading_ig sends the string).
fn flag(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// `PUT /accounts/preferences` v1 `{trailingStopsEnabled}`.
pub(super) async fn set_preferences(
    State(inner): State<Shared>,
    h: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let who = authenticate(&inner, &h)?;
    require_version(&h, &[1])?;
    let v: Value = parse_body(&body)?;
    let on = match v.get("trailingStopsEnabled") {
        None | Some(Value::Null) => {
            return Err(ApiError::bad_request(
                "validation.null-not-allowed.request.trailingStopsEnabled",
            ))
        }
        Some(x) => {
            flag(x).ok_or_else(|| ApiError::bad_request("invalid.request.trailingStopsEnabled"))?
        }
    };
    if let Some(a) = inner.lock().accounts.get_mut(&who.account) {
        a.trailing_stops_enabled = on;
    }
    Ok(ok_json(&json!({ "status": "SUCCESS" })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateApplication {
    api_key: Option<String>,
    status: Option<String>,
    allowance_account_overall: Option<u32>,
    allowance_account_trading: Option<u32>,
}

/// `PUT /operations/application` v1: echoes the application with the requested status and
/// allowances (`ENABLED`, `DISABLED` or `REVOKED`).
pub(super) async fn update_application(
    State(inner): State<Shared>,
    h: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    authenticate(&inner, &h)?;
    require_version(&h, &[1])?;
    let req: UpdateApplication = parse_body(&body)?;
    let key = super::api_key(&inner);
    if req.api_key.as_deref().is_some_and(|k| k != key) {
        return Err(ApiError::bad_request(
            "error.public-api.failure.invalid.api-key",
        ));
    }
    let status = req.status.unwrap_or_else(|| "ENABLED".into());
    if !matches!(status.as_str(), "ENABLED" | "DISABLED" | "REVOKED") {
        return Err(ApiError::bad_request("invalid.request.status"));
    }
    {
        let mut st = inner.lock();
        let app = &mut st.application;
        app.status = Some(status);
        if req.allowance_account_overall.is_some() {
            app.allowance_account_overall = req.allowance_account_overall;
        }
        if req.allowance_account_trading.is_some() {
            app.allowance_account_trading = req.allowance_account_trading;
        }
    }
    Ok(ok_json(&super::trading::application_entry(&inner)))
}

/// `PUT /operations/application/disable` v1: answers as IG does (the key disabled); the
/// sandbox goes on accepting it, so a test cannot lock itself out.
pub(super) async fn disable_application(
    State(inner): State<Shared>,
    h: HeaderMap,
    _body: Bytes,
) -> Result<Response, ApiError> {
    authenticate(&inner, &h)?;
    require_version(&h, &[1])?;
    inner.lock().application.status = Some("DISABLED".into());
    Ok(ok_json(&super::trading::application_entry(&inner)))
}
