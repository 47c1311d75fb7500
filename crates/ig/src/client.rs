//! `IgClient`: a cheap-to-clone handle (an `Arc` inside) over the [`Transport`] and the
//! [`SessionManager`], and the request pipeline every endpoint goes through: budget, session,
//! send; one session recovery and resend after a refused token; backoff for reads refused by
//! an allowance or failing transiently. Dealing requests are never retried here.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use reqwest::Method;
use scalper_ig_wire::application::Application;
use scalper_ig_wire::session::SessionDetails;
use scalper_model::{AccountId, DealReference, Timestamp};
use secrecy::{ExposeSecret, SecretString};

use crate::config::IgConfig;
use crate::confirms::ConfirmHub;
use crate::convert;
use crate::error::{AllowanceKind, IgError};
use crate::session::{Session, SessionManager};
use crate::stats::{SessionState, SessionStats, StatsCounters};
use crate::transport::{Call, Reply, Transport};
use crate::types::{Allowances, SessionInfo};

/// Credentials for the Lightstreamer connection (`CST-…|XST-…` password).
#[derive(Debug, Clone)]
pub struct StreamCredentials {
    pub endpoint: String,
    pub account_id: AccountId,
    pub cst: SecretString,
    pub xst: SecretString,
}

/// What the clones of one client share.
pub(crate) struct ClientInner {
    pub(crate) cfg: IgConfig,
    transport: Arc<Transport>,
    sessions: Arc<SessionManager>,
    stats: Arc<StatsCounters>,
    deal_seq: AtomicU64,
    deal_salt: u32,
    allowances_fetched: AtomicBool,
    /// Streamed confirms (see [`IgClient::use_stream_confirms`]) and how long to wait for one.
    pub(crate) stream_confirms: OnceLock<(ConfirmHub, Duration)>,
    /// The account currency read for an account id (see [`IgClient::account_currency`]).
    account_currency: std::sync::Mutex<Option<(Option<String>, String)>>,
    /// When IG acknowledged recent dealing requests (wall clock), by deal reference, for
    /// [`IgClient::take_acked_at`]; the oldest go first beyond [`ACKS_KEPT`].
    acks: std::sync::Mutex<std::collections::VecDeque<(DealReference, Timestamp)>>,
}

/// Acknowledgement times kept for callers that have not taken theirs.
const ACKS_KEPT: usize = 256;

impl std::fmt::Debug for ClientInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IgClient")
            .field("api_url", &self.transport.shown_base())
            .field("version", &self.cfg.session_version)
            .finish_non_exhaustive()
    }
}

/// The IG REST client. Clone it freely: clones share one session.
#[derive(Debug, Clone)]
pub struct IgClient {
    pub(crate) inner: Arc<ClientInner>,
}

impl IgClient {
    /// Builds a client; nothing is sent until the first request (or [`IgClient::login`]).
    pub fn new(cfg: IgConfig) -> Result<Self, IgError> {
        let stats = Arc::new(StatsCounters::default());
        let transport = Arc::new(Transport::new(&cfg, stats.clone())?);
        if cfg.username.trim().is_empty() {
            return Err(IgError::Config {
                detail: "username (IG_USERNAME) is empty".into(),
            });
        }
        let sessions = SessionManager::new(cfg.clone(), transport.clone(), stats.clone());
        Ok(Self {
            inner: Arc::new(ClientInner {
                cfg,
                transport,
                sessions,
                stats,
                deal_seq: AtomicU64::new(0),
                deal_salt: rand::random(),
                allowances_fetched: AtomicBool::new(false),
                stream_confirms: OnceLock::new(),
                account_currency: std::sync::Mutex::new(None),
                acks: std::sync::Mutex::new(std::collections::VecDeque::new()),
            }),
        })
    }

    /// Notes that IG acknowledged the dealing request `reference` now (its answer with the
    /// deal reference came back; the confirm comes after).
    #[allow(clippy::disallowed_methods)] // a latency measurement, not trading time
    pub(crate) fn note_acked(&self, reference: &DealReference) {
        let now = Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
        let mut acks = self
            .inner
            .acks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if acks.len() == ACKS_KEPT {
            acks.pop_front();
        }
        acks.push_back((reference.clone(), now));
    }

    /// When IG acknowledged the dealing request `reference` (wall clock), once: the execution
    /// record's `acked_at`. `None` when the answer was lost or the request refused.
    pub fn take_acked_at(&self, reference: &DealReference) -> Option<Timestamp> {
        let mut acks = self
            .inner
            .acks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let at = acks.iter().position(|(r, _)| r == reference)?;
        acks.remove(at).map(|(_, t)| t)
    }

    /// Takes deal confirms from `hub` (fed from the TRADE stream), waiting up to `wait` for each
    /// before polling `/confirms` over REST. Returns false if a hub was already attached.
    pub fn use_stream_confirms(&self, hub: ConfirmHub, wait: Duration) -> bool {
        self.inner.stream_confirms.set((hub, wait)).is_ok()
    }

    /// The configuration this client was built with.
    pub fn config(&self) -> &IgConfig {
        &self.inner.cfg
    }

    /// Logs in now (if not already logged in) and returns what the session established.
    /// After [`IgClient::logout`] this is the way to a new session: nothing else logs in.
    pub async fn login(&self) -> Result<SessionInfo, IgError> {
        self.inner.sessions.allow_login();
        Ok(self.inner.session().await?.info())
    }

    /// Logs in again now, single-flight: concurrent callers share one login. Also the way to
    /// try again after a fatal refusal (e.g. once the credentials were fixed).
    pub async fn force_relogin(&self) -> Result<(), IgError> {
        self.inner.sessions.force_relogin().await
    }

    /// The room left in IG's trading and non-trading allowances, as this client counts them.
    pub fn allowance_headroom(&self) -> crate::rate::Headroom {
        self.inner.transport.headroom()
    }

    /// A snapshot of session state and counters.
    pub fn stats(&self) -> SessionStats {
        let i = &self.inner;
        let s = i.sessions.current();
        SessionStats {
            state: SessionState::from_u8(i.stats.state.load(Ordering::Relaxed)),
            session_version: i.cfg.session_version,
            account_id: s
                .as_ref()
                .and_then(|s| s.account_text().map(str::to_string)),
            session_age: s.as_ref().map(Session::age),
            token_age: s.as_ref().map(Session::token_age),
            token_expires_in: s.as_ref().and_then(Session::expires_in),
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
        let session = self.inner.session().await?;
        let (cst, xst, endpoint) = if let Some((cst, xst)) = session.stream_tokens() {
            let endpoint = session.lightstreamer_endpoint().map(str::to_string);
            (cst, xst, endpoint)
        } else {
            let (cst, xst, endpoint) = self.fetch_session_tokens().await?;
            let endpoint =
                endpoint.or_else(|| session.lightstreamer_endpoint().map(str::to_string));
            (cst, xst, endpoint)
        };
        let endpoint = endpoint.ok_or_else(|| {
            IgError::unexpected("stream credentials", "IG gave no lightstreamerEndpoint")
        })?;
        let account_id = match session.account_text() {
            Some(a) => a.to_string(),
            None => self
                .read_session()
                .await?
                .account_id
                .map(|a| a.as_str().to_string())
                .ok_or_else(|| IgError::unexpected("session", "IG gave no accountId"))?,
        };
        Ok(StreamCredentials {
            endpoint,
            account_id: AccountId::new(account_id)
                .map_err(|e| IgError::unexpected("session", e))?,
            cst,
            xst,
        })
    }

    /// `GET /session?fetchSessionTokens=true` v1: CST and X-SECURITY-TOKEN for a v3 session
    /// (Lightstreamer does not take OAuth tokens), and the stream endpoint if IG names one.
    async fn fetch_session_tokens(
        &self,
    ) -> Result<(SecretString, SecretString, Option<String>), IgError> {
        let call = Call::get("/session", 1, "session tokens").query("fetchSessionTokens", "true");
        let reply = self.inner.call(&call).await?;
        let details: SessionDetails = reply.json("session tokens")?;
        let header = |name: &str| {
            reply.header(name).map(SecretString::from).ok_or_else(|| {
                IgError::unexpected("session tokens", format!("no {name} header in IG's answer"))
            })
        };
        let (cst, xst) = (header("CST")?, header("X-SECURITY-TOKEN")?);
        self.inner.transport.remember_tokens(&[&cst, &xst]);
        Ok((cst, xst, details.lightstreamer_endpoint))
    }

    /// `GET /session` v1: the current session's details (also validates the tokens).
    pub async fn read_session(&self) -> Result<SessionInfo, IgError> {
        let details: SessionDetails = self
            .inner
            .call(&Call::get("/session", 1, "read session"))
            .await?
            .json("read session")?;
        Ok(convert::session_info(&details))
    }

    /// Switches account: `PUT /session` v1 for v2 sessions (taking the re-issued tokens from
    /// the response headers), the `IG-ACCOUNT-ID` of later requests for v3.
    pub async fn switch_account(
        &self,
        account: &AccountId,
        default_account: Option<bool>,
    ) -> Result<(), IgError> {
        self.inner
            .sessions
            .switch_account(account, default_account)
            .await
    }

    /// `DELETE /session` (POST + `_method: DELETE`, v1). A token error means "already out".
    /// Afterwards nothing logs in again by itself (a background task or a request in flight
    /// gets [`IgError::LoggedOut`]) until [`IgClient::login`] or [`IgClient::force_relogin`].
    pub async fn logout(&self) -> Result<(), IgError> {
        self.inner.sessions.logout().await
    }

    /// Next client-generated deal reference (`PREFIX-salt-seq`).
    pub fn next_deal_reference(&self) -> Result<DealReference, IgError> {
        let seq = self.inner.deal_seq.fetch_add(1, Ordering::Relaxed) + 1;
        DealReference::compose(
            &self.inner.cfg.deal_reference_prefix,
            self.inner.deal_salt,
            seq,
        )
        .map_err(|e| IgError::Config {
            detail: format!("deal_reference_prefix: {e}"),
        })
    }

    /// The allowances IG grants this client's API key (`GET /operations/application` v1);
    /// `None` when IG lists several applications and none with this key.
    pub async fn allowances(&self) -> Result<Option<Allowances>, IgError> {
        self.inner.allowances().await
    }
}

impl ClientInner {
    /// What the current session established (logging in if needed).
    pub(crate) async fn session_info(self: &Arc<Self>) -> Result<SessionInfo, IgError> {
        Ok(self.session().await?.info())
    }

    /// The currency remembered for `account`, if any.
    pub(crate) fn known_currency(&self, account: Option<&str>) -> Option<String> {
        let kept = self
            .account_currency
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        kept.as_ref()
            .filter(|(a, _)| a.as_deref() == account)
            .map(|(_, c)| c.clone())
    }

    /// Remembers `account`'s currency (replacing another account's).
    pub(crate) fn remember_currency(&self, account: Option<String>, currency: String) {
        *self
            .account_currency
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((account, currency));
    }
    /// A usable session; after the first one, reads the real allowances once (in the
    /// background) when configured to.
    async fn session(self: &Arc<Self>) -> Result<Session, IgError> {
        let s = self.sessions.session().await?;
        self.fetch_allowances_once();
        Ok(s)
    }

    /// Starts reading the real allowances, the first time only. (A plain function: the task
    /// sends requests through this pipeline, and an `async fn` that spawned it would contain
    /// its own future.)
    fn fetch_allowances_once(self: &Arc<Self>) {
        if self.cfg.fetch_allowances && !self.allowances_fetched.swap(true, Ordering::SeqCst) {
            let weak: Weak<Self> = Arc::downgrade(self);
            tokio::spawn(async move {
                if let Some(inner) = weak.upgrade() {
                    inner.apply_allowances().await;
                }
            });
        }
    }

    /// The full pipeline: budget, session, send; on a token error recover once and resend the
    /// same request (IG did not act on it); on an allowance error, or a transient failure of a
    /// read (5xx, timeout, connection error), back off and retry it (reads only, never orders).
    pub(crate) async fn call(self: &Arc<Self>, call: &Call) -> Result<Reply, IgError> {
        self.transport.acquire(call).await;
        let mut token_retried = false;
        let mut allowance_attempt = 1;
        let mut transient_attempt = 1;
        loop {
            let session = if call.auth {
                Some(self.session().await?)
            } else {
                None
            };
            match self
                .transport
                .send(call, session.as_ref().map(Session::auth))
                .await
            {
                Ok(reply) => {
                    self.sessions.touch();
                    if token_retried {
                        self.stats.token_errors_recovered.inc();
                    }
                    return Ok(reply);
                }
                Err(IgError::TokenInvalid { kind }) if !token_retried => {
                    self.stats.token_errors.inc();
                    let Some(refused) = &session else {
                        return Err(IgError::TokenInvalid { kind });
                    };
                    token_retried = true;
                    tracing::warn!(%kind, context = call.context, "IG token invalid; recovering the session and resending once");
                    self.sessions.recover(refused, kind).await?;
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
                        && call.method == Method::GET
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

    /// The allowances of our API key from `/operations/application`.
    async fn allowances(self: &Arc<Self>) -> Result<Option<Allowances>, IgError> {
        let call = Call::get("/operations/application", 1, "application allowances");
        let apps: Vec<Application> = self.call(&call).await?.json("application allowances")?;
        let key = self.cfg.api_key.expose_secret();
        let chosen = apps
            .iter()
            .find(|a| a.api_key.as_deref() == Some(key))
            .or_else(|| if apps.len() == 1 { apps.first() } else { None });
        Ok(chosen.map(convert::allowances))
    }

    /// Replaces the default budgets with IG's values for our API key.
    async fn apply_allowances(self: &Arc<Self>) {
        match self.allowances().await {
            Ok(Some(a)) => {
                tracing::info!(
                    trading_per_minute = a.trading_per_minute,
                    non_trading_per_minute = a.non_trading_per_minute,
                    "IG allowances read"
                );
                self.transport.set_allowances(a);
            }
            Ok(None) => {}
            Err(IgError::LoggedOut) => {
                tracing::debug!("allowances not read: the client logged out");
            }
            Err(e) => tracing::warn!(error = %e, "could not read IG allowances; keeping defaults"),
        }
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
