//! The transport: one HTTP exchange with IG (headers: API key, `Version`, auth, `_method`), a
//! tracing span per request carrying IG's `X-REQUEST-ID`, classification of error answers into
//! `IgError`, and the request budgets. It knows nothing of sessions: whoever holds the tokens
//! passes them as [`Auth`] headers.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use tracing::Instrument;

use crate::config::IgConfig;
use crate::error::IgError;
use crate::rate::{Budget, RateLimiter};
use crate::stats::StatsCounters;
use crate::types::Allowances;

/// Session headers for one request, borrowed from the session that authenticates it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Auth<'a> {
    /// v1/v2: `CST` and `X-SECURITY-TOKEN`.
    Tokens {
        cst: &'a SecretString,
        xst: &'a SecretString,
    },
    /// v3: `Authorization: Bearer` and, when known, `IG-ACCOUNT-ID`.
    Bearer {
        access: &'a SecretString,
        account: Option<&'a str>,
    },
}

/// The HTTP client, IG's base URL and API key, and the request budgets.
pub(crate) struct Transport {
    http: reqwest::Client,
    base: String,
    api_key: SecretString,
    timeout: Duration,
    limiter: RateLimiter,
    stats: Arc<StatsCounters>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// Checks the URL and builds the HTTP client (nothing is sent).
    pub(crate) fn new(cfg: &IgConfig, stats: Arc<StatsCounters>) -> Result<Self, IgError> {
        let base = cfg.api_url.trim().trim_end_matches('/').to_string();
        let parsed = url::Url::parse(&base).map_err(|e| IgError::Config {
            detail: format!("api_url {base:?} is not a URL: {e}"),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(IgError::Config {
                detail: format!(
                    "api_url {base:?} must start with https:// (or http:// for a local sandbox)"
                ),
            });
        }
        let http = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout)
            .timeout(cfg.request_timeout)
            .pool_idle_timeout(Duration::from_secs(50))
            .user_agent(concat!("scalper/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| IgError::Config {
                detail: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(Self {
            http,
            base,
            api_key: cfg.api_key.clone(),
            timeout: cfg.request_timeout,
            limiter: RateLimiter::new(cfg.rate_limit, cfg.allowances),
            stats,
        })
    }

    /// The REST base URL.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// Waits until `budget` allows one more request.
    pub(crate) async fn acquire(&self, budget: Budget) {
        self.limiter.acquire(budget).await;
    }

    /// Replaces the default budgets (once `/operations/application` answered).
    pub(crate) async fn set_allowances(&self, a: Allowances) {
        self.limiter.set_allowances(a).await;
    }

    /// Sends `call` once with the API key and `auth` (if any), counted.
    pub(crate) async fn send(&self, call: &Call, auth: Option<Auth<'_>>) -> Result<Reply, IgError> {
        self.stats.requests.inc();
        send(
            &self.http,
            &self.base,
            &self.api_key,
            self.timeout,
            call,
            auth,
        )
        .await
    }
}

/// A request to IG, described independently of the session that will authenticate it.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub method: Method,
    /// Path below the base URL, starting with `/`.
    pub path: String,
    pub version: u8,
    pub query: Vec<(&'static str, String)>,
    /// JSON body.
    pub body: Option<Bytes>,
    pub budget: Budget,
    /// Send as POST with `_method: DELETE`.
    pub delete_override: bool,
    /// Needs session authentication headers.
    pub auth: bool,
    /// May be retried after an allowance-exceeded answer (reads only, never orders).
    pub retry_allowance: bool,
    /// What this is, for logs and errors (`"market details"`).
    pub context: &'static str,
}

impl Call {
    pub(crate) fn get(path: impl Into<String>, version: u8, context: &'static str) -> Self {
        Self {
            method: Method::GET,
            path: path.into(),
            version,
            query: Vec::new(),
            body: None,
            budget: Budget::NonTrading,
            delete_override: false,
            auth: true,
            retry_allowance: true,
            context,
        }
    }

    pub(crate) fn with_json<T: serde::Serialize>(
        mut self,
        method: Method,
        body: &T,
    ) -> Result<Self, IgError> {
        let bytes = serde_json::to_vec(body).map_err(|e| IgError::Unexpected {
            context: self.context.to_string(),
            detail: format!("cannot encode request: {e}"),
        })?;
        self.method = method;
        self.body = Some(Bytes::from(bytes));
        Ok(self)
    }

    pub(crate) fn dealing(mut self) -> Self {
        self.budget = Budget::Trading;
        self.retry_allowance = false;
        self
    }

    pub(crate) fn unauthenticated(mut self) -> Self {
        self.auth = false;
        self.budget = Budget::Unmetered;
        self.retry_allowance = false;
        self
    }

    pub(crate) fn query(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.query.push((key, value.into()));
        self
    }
}

/// A successful (2xx) answer.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub(crate) fn json<T: serde::de::DeserializeOwned>(&self, context: &str) -> Result<T, IgError> {
        serde_json::from_slice(&self.body).map_err(|e| IgError::decode(context, &e, &self.body))
    }

    /// Like [`Reply::json`] for bodies that carry tokens: a decode error shows no body.
    pub(crate) fn json_secret<T: serde::de::DeserializeOwned>(
        &self,
        context: &str,
    ) -> Result<T, IgError> {
        serde_json::from_slice(&self.body).map_err(|e| IgError::Decode {
            context: context.to_string(),
            detail: format!(
                "{:?} error at line {} column {}",
                e.classify(),
                e.line(),
                e.column()
            ),
            body_snippet: "[not shown: the body may contain session tokens]".to_string(),
        })
    }

    pub(crate) fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .filter(|s| !s.is_empty())
    }
}

fn header_value(context: &str, value: &str) -> Result<HeaderValue, IgError> {
    let mut v = HeaderValue::from_str(value).map_err(|_| IgError::Config {
        detail: format!("{context} contains characters not allowed in an HTTP header"),
    })?;
    v.set_sensitive(true);
    Ok(v)
}

/// Error text of a reqwest error with its causes, without secrets (URLs carry none).
fn transport_detail(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(cause) = src {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        src = cause.source();
    }
    s
}

async fn send(
    http: &reqwest::Client,
    base: &str,
    api_key: &SecretString,
    timeout: Duration,
    call: &Call,
    auth: Option<Auth<'_>>,
) -> Result<Reply, IgError> {
    let span = tracing::info_span!(
        "ig_request",
        method = %call.method,
        path = %call.path,
        version = call.version,
        request_id = tracing::field::Empty,
    );
    async move {
        let method = if call.delete_override {
            Method::POST
        } else {
            call.method.clone()
        };
        let mut req = http
            .request(method, format!("{base}{}", call.path))
            .timeout(timeout)
            .header(
                "X-IG-API-KEY",
                header_value("IG_API_KEY", api_key.expose_secret())?,
            )
            .header("Version", call.version.to_string())
            .header("Accept", "application/json; charset=UTF-8");
        if !call.query.is_empty() {
            req = req.query(&call.query);
        }
        if call.delete_override {
            req = req.header("_method", "DELETE");
        }
        if let Some(body) = &call.body {
            req = req
                .header("Content-Type", "application/json; charset=UTF-8")
                .body(body.clone());
        }
        match auth {
            None => {}
            Some(Auth::Tokens { cst, xst }) => {
                req = req
                    .header("CST", header_value("CST token", cst.expose_secret())?)
                    .header(
                        "X-SECURITY-TOKEN",
                        header_value("security token", xst.expose_secret())?,
                    );
            }
            Some(Auth::Bearer { access, account }) => {
                let bearer = format!("Bearer {}", access.expose_secret());
                req = req.header("Authorization", header_value("access token", &bearer)?);
                if let Some(acc) = account {
                    req = req.header("IG-ACCOUNT-ID", header_value("account id", acc)?);
                }
            }
        }
        let started = tokio::time::Instant::now();
        let resp = req.send().await.map_err(|e| map_transport(call, &e))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let request_id = headers
            .get("X-REQUEST-ID")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if let Some(id) = &request_id {
            tracing::Span::current().record("request_id", id.as_str());
        }
        let body = resp.bytes().await.map_err(|e| map_transport(call, &e))?;
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        if (200..300).contains(&status) {
            tracing::debug!(
                status,
                elapsed_ms,
                request_id = request_id.as_deref().unwrap_or("-"),
                "IG answered"
            );
            return Ok(Reply { headers, body });
        }
        let err = IgError::from_response(status, &body, request_id.clone());
        tracing::warn!(
            status,
            elapsed_ms,
            request_id = request_id.as_deref().unwrap_or("-"),
            error_code = err.error_code().as_deref().unwrap_or("-"),
            context = call.context,
            "IG refused the request"
        );
        Err(err)
    }
    .instrument(span)
    .await
}

fn map_transport(call: &Call, e: &reqwest::Error) -> IgError {
    let context = format!("{} ({} {})", call.context, call.method, call.path);
    if e.is_timeout() {
        tracing::warn!(%context, "IG request timed out");
        IgError::Timeout { context }
    } else {
        let detail = transport_detail(e);
        tracing::warn!(%context, %detail, "IG request failed");
        IgError::Transport { context, detail }
    }
}
