//! `IgError`: one typed error for everything the IG client does, classified from IG's
//! `errorCode` body (not only the HTTP status). No variant ever carries a secret.

use std::fmt;

use scalper_ig_wire::errors::{self, AllowanceCode, ErrorBody, ErrorClass, TokenCode};

/// Which session token IG refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// `error.security.client-token-invalid` (CST).
    Client,
    /// `error.security.client-token-missing`.
    ClientMissing,
    /// `error.security.account-token-invalid` (X-SECURITY-TOKEN).
    Account,
    /// `error.security.account-token-missing`.
    AccountMissing,
    /// `error.security.oauth-token-invalid` (v3 access token).
    OAuth,
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Client => "client-token-invalid",
            Self::ClientMissing => "client-token-missing",
            Self::Account => "account-token-invalid",
            Self::AccountMissing => "account-token-missing",
            Self::OAuth => "oauth-token-invalid",
        })
    }
}

/// Which allowance IG says was exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AllowanceKind {
    /// Per-application non-trading requests (`exceeded-api-key-allowance`).
    ApiKey,
    /// Per-account non-trading requests (`exceeded-account-allowance`).
    Account,
    /// Per-account trading requests (`exceeded-account-trading-allowance`).
    AccountTrading,
    /// Weekly historical price points (`exceeded-account-historical-data-allowance`).
    HistoricalData,
}

impl fmt::Display for AllowanceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ApiKey => "api-key (non-trading, per application)",
            Self::Account => "account (non-trading)",
            Self::AccountTrading => "account trading",
            Self::HistoricalData => "historical data (weekly)",
        })
    }
}

impl From<TokenCode> for TokenKind {
    fn from(t: TokenCode) -> Self {
        match t {
            TokenCode::ClientInvalid => Self::Client,
            TokenCode::ClientMissing => Self::ClientMissing,
            TokenCode::AccountInvalid => Self::Account,
            TokenCode::AccountMissing => Self::AccountMissing,
            TokenCode::OAuthInvalid => Self::OAuth,
        }
    }
}

impl From<AllowanceCode> for AllowanceKind {
    fn from(a: AllowanceCode) -> Self {
        match a {
            AllowanceCode::ApiKey => Self::ApiKey,
            AllowanceCode::Account => Self::Account,
            AllowanceCode::AccountTrading => Self::AccountTrading,
            AllowanceCode::HistoricalData => Self::HistoricalData,
        }
    }
}

/// Errors of the IG client.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum IgError {
    /// A session token was refused; the session manager recovers from this by itself.
    #[error("IG refused the session token ({kind}); a new session is needed")]
    TokenInvalid { kind: TokenKind },

    /// `error.security.invalid-details`. Never retried: IG locks accounts after repeated failures.
    #[error("IG refused the username or password (error.security.invalid-details): check IG_USERNAME / IG_PASSWORD and that they belong to the selected environment (demo and live have separate credentials)")]
    InvalidCredentials,

    /// `error.security.too-many-failed-attempts`. Never retried.
    #[error("IG reports too many failed login attempts (error.security.too-many-failed-attempts): the account may be locked; wait and check the credentials on IG's web platform before trying again")]
    TooManyFailedAttempts,

    /// The account cannot log in (suspended, not activated, KYC or agreements pending...).
    #[error(
        "IG refused access to the account ({code}): log in to IG's web platform to resolve it"
    )]
    AccountRefused { code: String },

    /// The API key is invalid, disabled, revoked or restricted. Never retried.
    #[error("IG refused the API key ({code}): check IG_API_KEY and that it belongs to the selected environment (demo and live keys differ)")]
    ApiKey { code: String },

    /// An allowance (rate limit) was exceeded.
    #[error("IG allowance exceeded: {kind}")]
    AllowanceExceeded { kind: AllowanceKind },

    /// Any other error answer from IG.
    #[error("IG answered HTTP {status} {}{}", error_code.as_deref().unwrap_or("(no errorCode)"), request_id.as_deref().map(|r| format!(" (request id {r})")).unwrap_or_default())]
    Api {
        status: u16,
        error_code: Option<String>,
        request_id: Option<String>,
    },

    /// The request did not complete (connection refused or reset, TLS, DNS...).
    #[error("network error during {context}: {detail}")]
    Transport { context: String, detail: String },

    /// No answer within the configured timeout.
    #[error("timed out during {context}")]
    Timeout { context: String },

    /// IG's answer could not be parsed.
    #[error(
        "could not decode IG's answer to {context}: {detail}; body starts with: {body_snippet}"
    )]
    Decode {
        context: String,
        detail: String,
        body_snippet: String,
    },

    /// IG's answer parsed but made no sense for the domain (missing field, bad id...).
    #[error("unexpected IG data in {context}: {detail}")]
    Unexpected { context: String, detail: String },

    /// The client was configured wrongly (bad URL, bad header value...).
    #[error("IG client configuration error: {detail}")]
    Config { detail: String },

    /// The answer was larger than `IgConfig::max_body_bytes`; reading stopped at the limit.
    #[error("IG's answer to {context} is larger than {limit} bytes and was refused (a broken or hostile server?); the limit is IgConfig::max_body_bytes")]
    BodyTooLarge { context: String, limit: usize },

    /// The REST base URL answered the login with 404 (no IG error code, or IG's `invalid.url`):
    /// it does not point at IG's REST API, usually a wrong or missing path. Never retried.
    #[error("IG_API_URL {url} is not IG's REST API: the login (POST {url}/session) answered HTTP 404 Not Found.{} IG's REST API is at https://demo-api.ig.com/gateway/deal (demo) or https://api.ig.com/gateway/deal (live); `scalper sandbox` prints the sandbox's (http://127.0.0.1:PORT/gateway/deal)", suggestion.as_deref().map(|s| format!(" Did you mean {s}?")).unwrap_or_default())]
    WrongUrl {
        /// The configured URL, without `user:password@`.
        url: String,
        /// The URL most likely meant (same host, IG's path), when it differs from `url`.
        suggestion: Option<String>,
    },

    /// The login succeeded but gave no account to trade on.
    #[error("IG's login answer gives no usable account: {detail}")]
    NoAccount { detail: String },

    /// The client logged out; only an explicit `login` or `force_relogin` logs in again.
    #[error("the IG client has logged out; call login() to start a new session")]
    LoggedOut,

    /// Logins kept failing with retryable errors. `url` is the REST base URL tried, so that a
    /// wrong one (IG's demo where a sandbox was meant) shows.
    #[error("could not log in to IG at {url} after {attempts} attempts: {last}")]
    LoginFailed {
        url: String,
        attempts: u32,
        last: Box<IgError>,
    },
}

/// Process exit-code hint for an error, as the README documents.
pub const EXIT_AUTH_REFUSED: i32 = 3;
/// Broker or network unavailable after retries.
pub const EXIT_UNAVAILABLE: i32 = 4;
/// Any other failure.
pub const EXIT_OTHER: i32 = 1;

impl IgError {
    /// Classifies an IG error answer from its status, body and `X-REQUEST-ID`.
    pub fn from_response(status: u16, body: &[u8], request_id: Option<String>) -> Self {
        match ErrorBody::code_of(body) {
            Some(code) => Self::from_code(status, code, request_id),
            None => Self::Api {
                status,
                error_code: None,
                request_id,
            },
        }
    }

    /// Classifies an `errorCode` with IG's table (`scalper_ig_wire::errors::classify`).
    pub fn from_code(status: u16, code: String, request_id: Option<String>) -> Self {
        match errors::classify(&code) {
            ErrorClass::Token(t) => Self::TokenInvalid {
                kind: TokenKind::from(t),
            },
            ErrorClass::InvalidCredentials => Self::InvalidCredentials,
            ErrorClass::TooManyFailedAttempts => Self::TooManyFailedAttempts,
            ErrorClass::Allowance(a) => Self::AllowanceExceeded {
                kind: AllowanceKind::from(a),
            },
            ErrorClass::ApiKeyRefused => Self::ApiKey { code },
            ErrorClass::AccountRefused => Self::AccountRefused { code },
            ErrorClass::DealNotFound | ErrorClass::SameAccount | ErrorClass::Other => Self::Api {
                status,
                error_code: Some(code),
                request_id,
            },
        }
    }

    /// Worth retrying later (network, timeout, 5xx, allowance other than historical data).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Transport { .. } | Self::Timeout { .. } | Self::TokenInvalid { .. } => true,
            Self::AllowanceExceeded { kind } => *kind != AllowanceKind::HistoricalData,
            Self::Api { status, .. } => *status >= 500,
            Self::LoginFailed { last, .. } => last.is_retryable(),
            _ => false,
        }
    }

    /// Retrying can only make things worse (lockout risk) or cannot help without a human.
    pub fn is_fatal(&self) -> bool {
        match self {
            Self::InvalidCredentials
            | Self::TooManyFailedAttempts
            | Self::AccountRefused { .. }
            | Self::ApiKey { .. }
            | Self::NoAccount { .. }
            | Self::WrongUrl { .. }
            | Self::Config { .. } => true,
            Self::LoginFailed { last, .. } => last.is_fatal(),
            _ => false,
        }
    }

    /// Authentication refused by IG (credentials, API key, lockout, account state).
    pub fn is_auth_refused(&self) -> bool {
        match self {
            Self::InvalidCredentials
            | Self::TooManyFailedAttempts
            | Self::AccountRefused { .. }
            | Self::ApiKey { .. } => true,
            Self::LoginFailed { last, .. } => last.is_auth_refused(),
            _ => false,
        }
    }

    /// Suggested process exit code: 3 authentication refused, 4 broker or network
    /// unavailable, 1 anything else.
    pub fn exit_code(&self) -> i32 {
        if self.is_auth_refused() {
            EXIT_AUTH_REFUSED
        } else if self.is_retryable() {
            EXIT_UNAVAILABLE
        } else {
            EXIT_OTHER
        }
    }

    /// `/confirms` has no confirmation (yet, or any longer) for the deal reference.
    pub fn is_deal_not_found(&self) -> bool {
        matches!(self, Self::Api { error_code: Some(code), .. } if errors::classify(code) == ErrorClass::DealNotFound)
    }

    /// IG's `errorCode`, if the error came from one.
    pub fn error_code(&self) -> Option<String> {
        match self {
            Self::TokenInvalid { kind } => Some(format!("error.security.{kind}")),
            Self::InvalidCredentials => Some(errors::code::INVALID_DETAILS.into()),
            Self::TooManyFailedAttempts => Some(errors::code::TOO_MANY_FAILED_ATTEMPTS.into()),
            Self::AccountRefused { code } | Self::ApiKey { code } => Some(code.clone()),
            Self::Api { error_code, .. } => error_code.clone(),
            Self::LoginFailed { last, .. } => last.error_code(),
            _ => None,
        }
    }

    /// The same error with `f` applied to every text it carries (see `crate::scrub`).
    pub(crate) fn map_text(self, f: &impl Fn(&str) -> String) -> Self {
        match self {
            Self::AccountRefused { code } => Self::AccountRefused { code: f(&code) },
            Self::ApiKey { code } => Self::ApiKey { code: f(&code) },
            Self::Api {
                status,
                error_code,
                request_id,
            } => Self::Api {
                status,
                error_code: error_code.as_deref().map(f),
                request_id: request_id.as_deref().map(f),
            },
            Self::Transport { context, detail } => Self::Transport {
                context: f(&context),
                detail: f(&detail),
            },
            Self::Timeout { context } => Self::Timeout {
                context: f(&context),
            },
            Self::Decode {
                context,
                detail,
                body_snippet,
            } => Self::Decode {
                context: f(&context),
                detail: f(&detail),
                body_snippet: f(&body_snippet),
            },
            Self::Unexpected { context, detail } => Self::Unexpected {
                context: f(&context),
                detail: f(&detail),
            },
            Self::Config { detail } => Self::Config { detail: f(&detail) },
            Self::BodyTooLarge { context, limit } => Self::BodyTooLarge {
                context: f(&context),
                limit,
            },
            Self::NoAccount { detail } => Self::NoAccount { detail: f(&detail) },
            Self::WrongUrl { url, suggestion } => Self::WrongUrl {
                url: f(&url),
                suggestion: suggestion.as_deref().map(f),
            },
            Self::LoginFailed {
                url,
                attempts,
                last,
            } => Self::LoginFailed {
                url: f(&url),
                attempts,
                last: Box::new(last.map_text(f)),
            },
            e @ (Self::TokenInvalid { .. }
            | Self::InvalidCredentials
            | Self::TooManyFailedAttempts
            | Self::AllowanceExceeded { .. }
            | Self::LoggedOut) => e,
        }
    }

    pub(crate) fn decode(context: &str, err: &serde_json::Error, body: &[u8]) -> Self {
        Self::Decode {
            context: context.to_string(),
            detail: err.to_string(),
            body_snippet: snippet(body),
        }
    }

    pub(crate) fn unexpected(context: &str, detail: impl fmt::Display) -> Self {
        Self::Unexpected {
            context: context.to_string(),
            detail: detail.to_string(),
        }
    }
}

/// First 200 characters of a body, lossily decoded, for error messages.
pub(crate) fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut s: String = text.chars().take(200).collect();
    if text.chars().count() > 200 {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(status: u16, code: &str) -> IgError {
        let body = format!("{{\"errorCode\":\"{code}\"}}");
        IgError::from_response(status, body.as_bytes(), Some("req-1".into()))
    }

    #[test]
    fn classifies_error_codes_table() {
        struct Case {
            status: u16,
            code: &'static str,
            retryable: bool,
            fatal: bool,
            exit: i32,
        }
        let cases = [
            Case {
                status: 401,
                code: "error.security.client-token-invalid",
                retryable: true,
                fatal: false,
                exit: 4,
            },
            Case {
                status: 403,
                code: "error.security.oauth-token-invalid",
                retryable: true,
                fatal: false,
                exit: 4,
            },
            Case {
                status: 401,
                code: "error.security.invalid-details",
                retryable: false,
                fatal: true,
                exit: 3,
            },
            Case {
                status: 401,
                code: "error.security.too-many-failed-attempts",
                retryable: false,
                fatal: true,
                exit: 3,
            },
            Case {
                status: 403,
                code: "error.security.api-key-invalid",
                retryable: false,
                fatal: true,
                exit: 3,
            },
            Case {
                status: 400,
                code: "error.security.api-key-missing",
                retryable: false,
                fatal: true,
                exit: 3,
            },
            Case {
                status: 401,
                code: "error.security.account-suspended",
                retryable: false,
                fatal: true,
                exit: 3,
            },
            Case {
                status: 403,
                code: "error.public-api.exceeded-account-allowance",
                retryable: true,
                fatal: false,
                exit: 4,
            },
            Case {
                status: 403,
                code: "error.public-api.exceeded-account-historical-data-allowance",
                retryable: false,
                fatal: false,
                exit: 1,
            },
            Case {
                status: 500,
                code: "system.error",
                retryable: true,
                fatal: false,
                exit: 4,
            },
            Case {
                status: 404,
                code: "error.public-api.epic-not-found",
                retryable: false,
                fatal: false,
                exit: 1,
            },
            Case {
                status: 400,
                code: "Unable to parse datetime=2020/09/01T00:00:00",
                retryable: false,
                fatal: false,
                exit: 1,
            },
        ];
        for c in cases {
            let e = classify(c.status, c.code);
            assert_eq!(e.is_retryable(), c.retryable, "{}", c.code);
            assert_eq!(e.is_fatal(), c.fatal, "{}", c.code);
            assert_eq!(e.exit_code(), c.exit, "{}", c.code);
        }
    }

    #[test]
    fn typed_variants_and_request_id() {
        assert!(matches!(
            classify(401, "error.security.account-token-invalid"),
            IgError::TokenInvalid {
                kind: TokenKind::Account
            }
        ));
        assert!(matches!(
            classify(403, "error.public-api.exceeded-account-trading-allowance"),
            IgError::AllowanceExceeded {
                kind: AllowanceKind::AccountTrading
            }
        ));
        let e = classify(404, "error.confirms.deal-not-found");
        assert!(e.to_string().contains("req-1"), "{e}");
        assert_eq!(
            e.error_code().as_deref(),
            Some("error.confirms.deal-not-found")
        );
        let e = IgError::from_response(502, b"<html>bad gateway</html>", None);
        assert!(matches!(
            e,
            IgError::Api {
                status: 502,
                error_code: None,
                ..
            }
        ));
    }
}
