//! Errors: [`ApiError`] is an IG error answer (HTTP status + `{"errorCode": ...}`);
//! [`SandboxError`] is why the sandbox could not start.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use scalper_ig_wire::errors::ErrorBody;

/// An IG-shaped error response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
        }
    }
    pub fn bad_request(code: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code)
    }
    pub fn unauthorized(code: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code)
    }
    pub fn forbidden(code: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code)
    }
    pub fn not_found(code: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error_code: Some(self.code),
        };
        (self.status, axum::Json(body)).into_response()
    }
}

/// Why [`crate::Sandbox::start`] failed.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Replay(#[from] crate::market::ReplayError),
    #[error("invalid sandbox configuration: {0}")]
    Config(String),
    /// A non-loopback bind address without `allow_remote`: refused before anything is bound.
    #[error(
        "refusing to bind the sandbox to non-loopback address {addr}: anyone who can reach it could \
         log in with the sandbox's credentials; bind 127.0.0.1 (or ::1), or set allow_remote to \
         expose it on purpose"
    )]
    NonLoopbackBind { addr: std::net::IpAddr },
}
