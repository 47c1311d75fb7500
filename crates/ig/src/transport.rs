//! The transport: one HTTP exchange with IG (headers: API key, `Version`, auth, `_method`), a
//! tracing span per request carrying IG's `X-REQUEST-ID`, classification of error answers into
//! `IgError`, and the request budgets. Every answer is read as a stream up to
//! `IgConfig::max_body_bytes`, and every error text built from it is scrubbed of secrets. It
//! knows nothing of sessions: whoever holds the tokens passes them as [`Auth`] headers.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use tracing::Instrument;

use crate::config::IgConfig;
use crate::error::IgError;
use crate::rate::{Budget, Headroom, Priority, RateLimiter};
use crate::scrub::{self, Scrubber};
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
    /// `base` without `user:password@`, for logs and `Debug`.
    shown_base: String,
    api_key: SecretString,
    timeout: Duration,
    max_body: usize,
    limiter: RateLimiter,
    stats: Arc<StatsCounters>,
    scrub: Arc<Scrubber>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("base", &self.shown_base)
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// Checks the URL and builds the HTTP client (nothing is sent).
    pub(crate) fn new(cfg: &IgConfig, stats: Arc<StatsCounters>) -> Result<Self, IgError> {
        let base = cfg.api_url.trim().trim_end_matches('/').to_string();
        let shown_base = scrub::redact_url(&base);
        let parsed = url::Url::parse(&base).map_err(|e| IgError::Config {
            detail: format!("api_url {shown_base:?} is not a URL: {e}"),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(IgError::Config {
                detail: format!(
                    "api_url {shown_base:?} must start with https:// (or http:// for a local sandbox)"
                ),
            });
        }
        let mut secrets = vec![cfg.password.clone(), cfg.api_key.clone()];
        if let Some(p) = scrub::url_password(&base) {
            secrets.push(SecretString::from(p));
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
            shown_base,
            api_key: cfg.api_key.clone(),
            timeout: cfg.request_timeout,
            max_body: cfg.max_body_bytes.max(1),
            limiter: RateLimiter::new(cfg.rate_limit, cfg.allowances),
            stats,
            scrub: Arc::new(Scrubber::new(secrets)),
        })
    }

    /// The REST base URL without credentials (for messages).
    pub(crate) fn shown_base(&self) -> &str {
        &self.shown_base
    }

    /// Adds session tokens to the secrets scrubbed from error texts and logs.
    pub(crate) fn remember_tokens(&self, tokens: &[&SecretString]) {
        self.scrub.remember(tokens);
    }

    /// Waits until the call's budget gives it a slot (by its priority).
    pub(crate) async fn acquire(&self, call: &Call) {
        self.limiter
            .acquire(call.budget, call.priority, call.context)
            .await;
    }

    /// Replaces the default budgets (once `/operations/application` answered).
    pub(crate) fn set_allowances(&self, a: Allowances) {
        self.limiter.set_allowances(a);
    }

    /// The room left in the trading and non-trading budgets.
    pub(crate) fn headroom(&self) -> Headroom {
        self.limiter.headroom()
    }

    /// Sends `call` once with the API key and `auth` (if any), counted.
    pub(crate) async fn send(&self, call: &Call, auth: Option<Auth<'_>>) -> Result<Reply, IgError> {
        self.stats.requests.inc();
        let ctx = SendCtx {
            http: &self.http,
            base: &self.base,
            api_key: &self.api_key,
            timeout: self.timeout,
            max_body: self.max_body,
            scrub: &self.scrub,
        };
        send(&ctx, call, auth).await
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
    /// Who goes first when the budget is short.
    pub priority: Priority,
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
            priority: Priority::Read,
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

    /// A dealing request: the trading budget, as an entry unless [`Call::priority`] says
    /// otherwise.
    pub(crate) fn dealing(mut self) -> Self {
        self.budget = Budget::Trading;
        self.priority = Priority::Entry;
        self.retry_allowance = false;
        self
    }

    pub(crate) fn priority(mut self, priority: Priority) -> Self {
        self.priority = priority;
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
    /// Scrubs secrets from the texts of decode errors.
    scrub: Arc<Scrubber>,
}

impl Reply {
    pub(crate) fn json<T: serde::de::DeserializeOwned>(&self, context: &str) -> Result<T, IgError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            let body = self.scrub.bytes(&self.body);
            IgError::decode(context, &e, body.as_bytes()).map_text(&|t| self.scrub.text(t))
        })
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

/// What one exchange needs from the [`Transport`].
struct SendCtx<'a> {
    http: &'a reqwest::Client,
    base: &'a str,
    api_key: &'a SecretString,
    timeout: Duration,
    max_body: usize,
    scrub: &'a Arc<Scrubber>,
}

/// `call.context (METHOD /path)`, naming the endpoint in errors.
fn endpoint(call: &Call) -> String {
    format!("{} ({} {})", call.context, call.method, call.path)
}

/// Reads the body as a stream, refusing it as soon as it would exceed `limit` bytes (a
/// `Content-Length` above the limit is refused before reading anything).
async fn read_capped(
    mut resp: reqwest::Response,
    limit: usize,
    call: &Call,
) -> Result<Bytes, IgError> {
    let too_large = || {
        tracing::warn!(endpoint = %endpoint(call), limit, "IG's answer exceeds the body limit; refused");
        IgError::BodyTooLarge {
            context: endpoint(call),
            limit,
        }
    };
    let declared = resp.content_length();
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let initial = declared.map_or(0, |n| usize::try_from(n).unwrap_or(limit));
    let mut buf = BytesMut::with_capacity(initial.min(limit).min(1 << 20));
    while let Some(chunk) = resp.chunk().await.map_err(|e| map_transport(call, e))? {
        if buf.len().saturating_add(chunk.len()) > limit {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

async fn send(ctx: &SendCtx<'_>, call: &Call, auth: Option<Auth<'_>>) -> Result<Reply, IgError> {
    let scrub = ctx.scrub;
    send_unscrubbed(ctx, call, auth)
        .await
        .map_err(|e| e.map_text(&|t| scrub.text(t)))
}

async fn send_unscrubbed(
    ctx: &SendCtx<'_>,
    call: &Call,
    auth: Option<Auth<'_>>,
) -> Result<Reply, IgError> {
    let SendCtx {
        http,
        base,
        api_key,
        timeout,
        max_body,
        scrub,
    } = *ctx;
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
        let resp = req.send().await.map_err(|e| map_transport(call, e))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let request_id = headers
            .get("X-REQUEST-ID")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if let Some(id) = &request_id {
            tracing::Span::current().record("request_id", id.as_str());
        }
        let body = read_capped(resp, max_body, call).await?;
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        if (200..300).contains(&status) {
            tracing::debug!(
                status,
                elapsed_ms,
                request_id = request_id.as_deref().unwrap_or("-"),
                "IG answered"
            );
            return Ok(Reply {
                headers,
                body,
                scrub: scrub.clone(),
            });
        }
        let err =
            IgError::from_response(status, &body, request_id.clone()).map_text(&|t| scrub.text(t));
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

/// A reqwest failure as an `IgError`, without the URL (it may carry `user:password@`; the
/// context names the endpoint instead).
fn map_transport(call: &Call, e: reqwest::Error) -> IgError {
    let context = endpoint(call);
    if e.is_timeout() {
        tracing::warn!(%context, "IG request timed out");
        IgError::Timeout { context }
    } else {
        let detail = transport_detail(&e.without_url());
        tracing::warn!(%context, %detail, "IG request failed");
        IgError::Transport { context, detail }
    }
}
