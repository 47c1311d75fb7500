//! `IgClient`: a cheap-to-clone handle (an `Arc` inside) that runs every request through the
//! session manager: single-flight login and recovery, v3 refresh before expiry, proactive v2
//! re-login by age, allowance backoff for reads, and per-budget rate limiting.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};

use reqwest::Method;
use secrecy::SecretString;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::config::IgConfig;
use crate::error::{AllowanceKind, IgError, TokenKind};
use crate::http::{self, Call, Reply};
use crate::rate::RateLimiter;
use crate::session::{AuthState, Tokens};
use crate::stats::{SessionState, SessionStats, StatsCounters};
use scalper_ig_wire::session::SessionDetails;
use scalper_model::AccountId;

/// Credentials for the Lightstreamer connection (`CST-…|XST-…` password).
#[derive(Debug, Clone)]
pub struct StreamCredentials {
    pub endpoint: String,
    pub account_id: AccountId,
    pub cst: SecretString,
    pub xst: SecretString,
}

pub(crate) struct Inner {
    pub(crate) cfg: IgConfig,
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
    pub(crate) state: RwLock<Option<AuthState>>,
    pub(crate) login_lock: Mutex<()>,
    pub(crate) generation: AtomicU64,
    pub(crate) stats: StatsCounters,
    pub(crate) limiter: RateLimiter,
    pub(crate) deal_seq: AtomicU64,
    pub(crate) deal_salt: u32,
    pub(crate) epoch: Instant,
    pub(crate) last_used_ms: AtomicU64,
    pub(crate) maintenance_started: AtomicBool,
    pub(crate) allowances_fetched: AtomicBool,
    /// A fatal login refusal (credentials, lockout, API key). While set, no request logs in
    /// again by itself: repeating a refused login risks an account lock. `force_relogin`
    /// clears it.
    pub(crate) fatal: RwLock<Option<IgError>>,
    /// Streamed confirms (see [`IgClient::use_stream_confirms`]) and how long to wait for one.
    pub(crate) stream_confirms: std::sync::OnceLock<(crate::ConfirmHub, std::time::Duration)>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IgClient")
            .field("api_url", &self.base)
            .field("version", &self.cfg.session_version)
            .finish_non_exhaustive()
    }
}

/// The IG REST client. Clone it freely: clones share one session.
#[derive(Debug, Clone)]
pub struct IgClient {
    pub(crate) inner: Arc<Inner>,
}

impl IgClient {
    /// Builds a client; nothing is sent until the first request (or [`IgClient::login`]).
    pub fn new(cfg: IgConfig) -> Result<Self, IgError> {
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
        if cfg.username.trim().is_empty() {
            return Err(IgError::Config {
                detail: "username (IG_USERNAME) is empty".into(),
            });
        }
        let http = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout)
            .timeout(cfg.request_timeout)
            .pool_idle_timeout(std::time::Duration::from_secs(50))
            .user_agent(concat!("scalper/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| IgError::Config {
                detail: format!("cannot build the HTTP client: {e}"),
            })?;
        let limiter = RateLimiter::new(cfg.rate_limit, cfg.allowances);
        Ok(Self {
            inner: Arc::new(Inner {
                base,
                http,
                state: RwLock::new(None),
                login_lock: Mutex::new(()),
                generation: AtomicU64::new(0),
                stats: StatsCounters::default(),
                limiter,
                deal_seq: AtomicU64::new(0),
                deal_salt: rand::random(),
                epoch: Instant::now(),
                last_used_ms: AtomicU64::new(0),
                maintenance_started: AtomicBool::new(false),
                allowances_fetched: AtomicBool::new(false),
                fatal: RwLock::new(None),
                stream_confirms: std::sync::OnceLock::new(),
                cfg,
            }),
        })
    }

    /// The configuration this client was built with.
    /// Takes deal confirms from `hub` (fed from the TRADE stream), waiting up to `wait` for each
    /// before polling `/confirms` over REST. Returns false if a hub was already attached.
    pub fn use_stream_confirms(&self, hub: crate::ConfirmHub, wait: std::time::Duration) -> bool {
        self.inner.stream_confirms.set((hub, wait)).is_ok()
    }

    pub fn config(&self) -> &IgConfig {
        &self.inner.cfg
    }

    /// Logs in now (if not already logged in) and returns what the session established.
    pub async fn login(&self) -> Result<crate::SessionInfo, IgError> {
        let s = self.inner.ensure_session().await?;
        Ok(session_info(&s))
    }

    /// Logs in again now, single-flight: concurrent callers share one login. Also the way to
    /// try again after a fatal refusal (e.g. once the credentials were fixed).
    pub async fn force_relogin(&self) -> Result<(), IgError> {
        *self
            .inner
            .fatal
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        let gen = self.inner.current_generation();
        self.inner.relogin_if_generation(gen, "forced").await
    }

    /// A snapshot of session state and counters.
    pub fn stats(&self) -> SessionStats {
        let i = &self.inner;
        let s = i.snapshot();
        SessionStats {
            state: SessionState::from_u8(i.stats.state.load(Ordering::Relaxed)),
            session_version: i.cfg.session_version,
            account_id: s.as_ref().and_then(|s| s.account_id.clone()),
            session_age: s.as_ref().map(|s| s.created.elapsed()),
            token_age: s.as_ref().map(|s| s.issued.elapsed()),
            token_expires_in: s.as_ref().and_then(|s| match &s.tokens {
                Tokens::V3 { expires_at, .. } => {
                    Some(expires_at.saturating_duration_since(Instant::now()))
                }
                Tokens::V2 { .. } => None,
            }),
            login_attempts: i.stats.login_attempts.get(),
            logins: i.stats.logins.get(),
            refreshes: i.stats.refreshes.get(),
            token_errors: i.stats.token_errors.get(),
            token_errors_recovered: i.stats.token_errors_recovered.get(),
            allowance_backoffs: i.stats.allowance_backoffs.get(),
            requests: i.stats.requests.get(),
        }
    }

    /// Tokens and endpoint for Lightstreamer. v2 uses the session's CST / X-SECURITY-TOKEN;
    /// v3 fetches them with `GET /session?fetchSessionTokens=true`.
    pub async fn stream_credentials(&self) -> Result<StreamCredentials, IgError> {
        let state = self.inner.ensure_session().await?;
        let (cst, xst, endpoint) = match &state.tokens {
            Tokens::V2 { cst, xst } => (
                cst.clone(),
                xst.clone(),
                state.lightstreamer_endpoint.clone(),
            ),
            Tokens::V3 { .. } => {
                let call =
                    Call::get("/session", 1, "session tokens").query("fetchSessionTokens", "true");
                let reply = self.inner.call(&call).await?;
                let details: SessionDetails = reply.json("session tokens")?;
                let cst = reply.header("CST").ok_or_else(|| {
                    IgError::unexpected("session tokens", "no CST header in IG's answer")
                })?;
                let xst = reply.header("X-SECURITY-TOKEN").ok_or_else(|| {
                    IgError::unexpected(
                        "session tokens",
                        "no X-SECURITY-TOKEN header in IG's answer",
                    )
                })?;
                (
                    SecretString::from(cst),
                    SecretString::from(xst),
                    details
                        .lightstreamer_endpoint
                        .or(state.lightstreamer_endpoint.clone()),
                )
            }
        };
        let endpoint = endpoint.ok_or_else(|| {
            IgError::unexpected("stream credentials", "IG gave no lightstreamerEndpoint")
        })?;
        let account = self.current_account(&state).await?;
        Ok(StreamCredentials {
            endpoint,
            account_id: account,
            cst,
            xst,
        })
    }

    async fn current_account(&self, state: &AuthState) -> Result<AccountId, IgError> {
        let raw = match &state.account_id {
            Some(a) => a.clone(),
            None => self
                .read_session()
                .await?
                .account_id
                .ok_or_else(|| IgError::unexpected("session", "IG gave no accountId"))?,
        };
        AccountId::new(raw).map_err(|e| IgError::unexpected("session", e))
    }

    /// `GET /session` v1: the current session's details (also validates the tokens).
    pub async fn read_session(&self) -> Result<SessionDetails, IgError> {
        self.inner
            .call(&Call::get("/session", 1, "read session"))
            .await?
            .json("read session")
    }

    /// `PUT /session` v1 (v2 sessions): switches account, taking the re-issued tokens from
    /// the response headers.
    pub async fn switch_account(
        &self,
        account: &AccountId,
        default_account: Option<bool>,
    ) -> Result<(), IgError> {
        let i = &self.inner;
        let _guard = i.login_lock.lock().await;
        let state = i.ensure_session_locked().await?;
        let next = match &state.tokens {
            Tokens::V2 { .. } => {
                i.switch_tokens(state, account.as_str(), default_account)
                    .await?
            }
            Tokens::V3 { .. } => {
                // v3 addresses the account per request through IG-ACCOUNT-ID.
                let mut s = state;
                s.account_id = Some(account.as_str().to_string());
                s
            }
        };
        i.install(next);
        Ok(())
    }

    /// `DELETE /session` (POST + `_method: DELETE`, v1). A token error means "already out".
    pub async fn logout(&self) -> Result<(), IgError> {
        let i = &self.inner;
        let _guard = i.login_lock.lock().await;
        let Some(state) = i.snapshot() else {
            return Ok(());
        };
        let mut call = Call::get("/session", 1, "logout").unauthenticated();
        call.method = Method::DELETE;
        call.delete_override = true;
        let result = i.send_once(&call, Some(&state)).await;
        *i.state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        i.stats.set_state(SessionState::LoggedOut);
        match result {
            Ok(_) | Err(IgError::TokenInvalid { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Next client-generated deal reference (`PREFIX-salt-seq`).
    pub fn next_deal_reference(&self) -> Result<scalper_model::DealReference, IgError> {
        let seq = self.inner.deal_seq.fetch_add(1, Ordering::Relaxed) + 1;
        scalper_model::DealReference::compose(
            &self.inner.cfg.deal_reference_prefix,
            self.inner.deal_salt,
            seq,
        )
        .map_err(|e| IgError::Config {
            detail: format!("deal_reference_prefix: {e}"),
        })
    }
}

pub(crate) fn session_info(s: &AuthState) -> crate::SessionInfo {
    crate::SessionInfo {
        account_id: s.account_id.as_deref().and_then(|a| AccountId::new(a).ok()),
        client_id: s.client_id.clone(),
        lightstreamer_endpoint: s.lightstreamer_endpoint.clone(),
        currency: s.currency.clone(),
    }
}

impl Inner {
    pub(crate) fn snapshot(&self) -> Option<AuthState> {
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn current_generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Installs a new session state under a new generation.
    pub(crate) fn install(&self, mut s: AuthState) -> AuthState {
        s.generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        *self
            .state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(s.clone());
        self.stats.set_state(SessionState::Active);
        s
    }

    /// One request with the given auth, counted.
    pub(crate) async fn send_once(
        &self,
        call: &Call,
        auth: Option<&AuthState>,
    ) -> Result<Reply, IgError> {
        self.stats.requests.inc();
        http::send(
            &self.http,
            &self.base,
            &self.cfg.api_key,
            self.cfg.request_timeout,
            call,
            auth,
        )
        .await
    }

    /// Returns a usable session, logging in (single-flight) or refreshing (v3) if needed.
    pub(crate) async fn ensure_session(self: &Arc<Self>) -> Result<AuthState, IgError> {
        if let Some(s) = self.snapshot() {
            if !needs_refresh(&s) {
                return Ok(s);
            }
        }
        let _guard = self.login_lock.lock().await;
        self.ensure_session_locked().await
    }

    /// `ensure_session` with `login_lock` held.
    pub(crate) async fn ensure_session_locked(self: &Arc<Self>) -> Result<AuthState, IgError> {
        if let Some(e) = self
            .fatal
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
        {
            return Err(e);
        }
        match self.snapshot() {
            Some(s) if !needs_refresh(&s) => Ok(s),
            Some(s) => {
                self.refresh_or_login(&s, "access token due for refresh")
                    .await
            }
            None => self.fresh_login("no session").await,
        }
    }

    /// With `login_lock` held: a fresh login (no stale headers), installed and returned.
    async fn fresh_login(self: &Arc<Self>, reason: &str) -> Result<AuthState, IgError> {
        self.stats.set_state(SessionState::Authenticating);
        match self.login_with_retry(reason).await {
            Ok(s) => {
                let s = self.install(s);
                self.after_login();
                Ok(s)
            }
            Err(e) => {
                self.stats.set_state(SessionState::Failed);
                if e.is_fatal() {
                    *self
                        .fatal
                        .write()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(e.clone());
                }
                Err(e)
            }
        }
    }

    /// With `login_lock` held: v3 refresh, falling back to a fresh login if refused.
    async fn refresh_or_login(
        self: &Arc<Self>,
        s: &AuthState,
        reason: &str,
    ) -> Result<AuthState, IgError> {
        if matches!(s.tokens, Tokens::V3 { .. }) {
            match self.refresh_v3(s).await {
                Ok(next) => return Ok(self.install(next)),
                Err(e) => {
                    tracing::warn!(error = %e, reason, "IG refused the refresh token; logging in again");
                }
            }
        }
        self.fresh_login(reason).await
    }

    /// Single-flight recovery: only the first caller that saw generation `gen` fails acts;
    /// the others wait on the lock and then use the session it installed.
    pub(crate) async fn recover(
        self: &Arc<Self>,
        gen: u64,
        kind: TokenKind,
    ) -> Result<(), IgError> {
        let _guard = self.login_lock.lock().await;
        if self.current_generation() != gen {
            return Ok(());
        }
        if let Some(e) = self
            .fatal
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
        {
            return Err(e);
        }
        let reason = format!("token invalid ({kind})");
        match self.snapshot() {
            Some(s) if kind == TokenKind::OAuth => {
                self.refresh_or_login(&s, &reason).await.map(drop)
            }
            _ => self.fresh_login(&reason).await.map(drop),
        }
    }

    pub(crate) async fn relogin_if_generation(
        self: &Arc<Self>,
        gen: u64,
        reason: &str,
    ) -> Result<(), IgError> {
        let _guard = self.login_lock.lock().await;
        if let Some(e) = self
            .fatal
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
        {
            return Err(e);
        }
        if self.current_generation() != gen {
            return Ok(());
        }
        self.fresh_login(reason).await.map(drop)
    }

    fn touch(&self) {
        let ms = self.epoch.elapsed().as_millis() as u64;
        self.last_used_ms.store(ms, Ordering::Relaxed);
    }

    /// The full pipeline: budget, session, send; on a token error recover once and resend the
    /// same request; on an allowance error, or a transient failure of a read (5xx, timeout,
    /// connection error), back off and retry it (reads only, never orders).
    pub(crate) async fn call(self: &Arc<Self>, call: &Call) -> Result<Reply, IgError> {
        self.limiter.acquire(call.budget).await;
        let mut token_retried = false;
        let mut allowance_attempt = 1;
        let mut transient_attempt = 1;
        loop {
            let auth = if call.auth {
                Some(self.ensure_session().await?)
            } else {
                None
            };
            match self.send_once(call, auth.as_ref()).await {
                Ok(reply) => {
                    self.touch();
                    if token_retried {
                        self.stats.token_errors_recovered.inc();
                    }
                    return Ok(reply);
                }
                Err(IgError::TokenInvalid { kind }) if auth.is_some() && !token_retried => {
                    self.stats.token_errors.inc();
                    token_retried = true;
                    let gen = auth.as_ref().map_or(0, |a| a.generation);
                    tracing::warn!(%kind, context = call.context, "IG token invalid; recovering the session and resending once");
                    self.recover(gen, kind).await?;
                }
                Err(IgError::AllowanceExceeded { kind })
                    if call.retry_allowance
                        && kind != AllowanceKind::HistoricalData
                        && allowance_attempt < self.cfg.allowance_retry.max_attempts =>
                {
                    self.stats.allowance_backoffs.inc();
                    let delay = self.cfg.allowance_retry.delay(allowance_attempt);
                    tracing::warn!(%kind, attempt = allowance_attempt, delay_ms = delay.as_millis() as u64, context = call.context, "IG allowance exceeded; backing off");
                    tokio::time::sleep(delay).await;
                    allowance_attempt += 1;
                }
                Err(e)
                    if call.retry_allowance
                        && call.method == reqwest::Method::GET
                        && is_transient(&e)
                        && transient_attempt < self.cfg.read_retry.max_attempts =>
                {
                    let delay = self.cfg.read_retry.delay(transient_attempt);
                    tracing::warn!(error = %e, attempt = transient_attempt, delay_ms = delay.as_millis() as u64, context = call.context, "IG read failed; retrying");
                    tokio::time::sleep(delay).await;
                    transient_attempt += 1;
                }
                Err(e) => {
                    if matches!(e, IgError::TokenInvalid { .. }) {
                        self.stats.token_errors.inc();
                    }
                    return Err(e);
                }
            }
        }
    }

    /// After a successful login: start session upkeep and read the real allowances once.
    fn after_login(self: &Arc<Self>) {
        if !self.maintenance_started.swap(true, Ordering::SeqCst) {
            crate::maintenance::spawn(Arc::downgrade(self));
        }
        if self.cfg.fetch_allowances && !self.allowances_fetched.swap(true, Ordering::SeqCst) {
            let weak: Weak<Self> = Arc::downgrade(self);
            tokio::spawn(async move {
                if let Some(inner) = weak.upgrade() {
                    inner.fetch_allowances().await;
                }
            });
        }
    }

    pub(crate) fn idle_for(&self) -> std::time::Duration {
        let now = self.epoch.elapsed().as_millis() as u64;
        std::time::Duration::from_millis(
            now.saturating_sub(self.last_used_ms.load(Ordering::Relaxed)),
        )
    }
}

/// A failure that a later identical read may not meet: a server error, a timeout, a broken
/// connection.
fn is_transient(e: &IgError) -> bool {
    match e {
        IgError::Transport { .. } | IgError::Timeout { .. } => true,
        IgError::Api { status, .. } => *status >= 500,
        _ => false,
    }
}

/// A v3 session whose refresh time has come.
pub(crate) fn needs_refresh(s: &AuthState) -> bool {
    match &s.tokens {
        Tokens::V3 { refresh_due, .. } => Instant::now() >= *refresh_due,
        Tokens::V2 { .. } => false,
    }
}
