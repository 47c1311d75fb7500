//! [`SessionManager`]: the one owner of the IG session. Its rules are in its types:
//!
//! - Only a holder of the login lock ([`Locked`]) can log in, refresh, switch or install a
//!   session, so logins are single-flight: concurrent callers wait for the lock and then use
//!   the session its holder installed.
//! - [`Locked::renew`] is the only path to a login or refresh request, and it checks the fatal
//!   latch first: after a refusal that retrying could make worse (credentials, lockout, API
//!   key), nothing logs in again by itself until [`SessionManager::force_relogin`].
//! - Recovery after a refused token takes the [`Session`] the refused request used: if another
//!   caller already replaced it (a newer generation), there is nothing to do.
//! - The upkeep task (v3 refresh before expiry, v2 re-login by age, re-validation when idle)
//!   holds a weak reference and ends with the last client handle.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, Weak};
use std::time::Duration;

use reqwest::Method;
use scalper_model::AccountId;
use tokio::sync::{Mutex, MutexGuard};
use tokio::time::Instant;

use super::login::Login;
use super::{Session, Tokens};
use crate::config::IgConfig;
use crate::error::{IgError, TokenKind};
use crate::stats::{SessionState, StatsCounters};
use crate::transport::{Call, Transport};

/// Owns the current session, the login lock, the generation counter, the fatal latch, the
/// idle clock and the upkeep task.
pub(crate) struct SessionManager {
    cfg: IgConfig,
    transport: Arc<Transport>,
    stats: Arc<StatsCounters>,
    current: RwLock<Option<Session>>,
    login_lock: Mutex<()>,
    generation: AtomicU64,
    /// A fatal login refusal. While set, nothing logs in or refreshes by itself: repeating a
    /// refused login risks an account lock. Only [`SessionManager::force_relogin`] clears it.
    /// A session that still works is used until IG refuses it.
    fatal: RwLock<Option<IgError>>,
    epoch: Instant,
    last_used_ms: AtomicU64,
    upkeep_started: AtomicBool,
    /// Set by [`SessionManager::logout`]: nothing logs in again (a background task or a
    /// request in flight that meets a refused token) until [`SessionManager::allow_login`] or
    /// [`SessionManager::force_relogin`].
    logged_out: AtomicBool,
    me: Weak<Self>,
}

impl std::fmt::Debug for SessionManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionManager")
            .field("version", &self.cfg.session_version)
            .field("generation", &self.generation.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

/// The login lock, held. Every operation that changes the session is a method of this guard.
struct Locked<'a> {
    m: &'a SessionManager,
    _guard: MutexGuard<'a, ()>,
}

impl SessionManager {
    pub(crate) fn new(
        cfg: IgConfig,
        transport: Arc<Transport>,
        stats: Arc<StatsCounters>,
    ) -> Arc<Self> {
        Arc::new_cyclic(|me| Self {
            cfg,
            transport,
            stats,
            current: RwLock::new(None),
            login_lock: Mutex::new(()),
            generation: AtomicU64::new(0),
            fatal: RwLock::new(None),
            epoch: Instant::now(),
            last_used_ms: AtomicU64::new(0),
            upkeep_started: AtomicBool::new(false),
            logged_out: AtomicBool::new(false),
            me: me.clone(),
        })
    }

    /// The current session, as it is (no login, no refresh).
    pub(crate) fn current(&self) -> Option<Session> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    async fn lock(&self) -> Locked<'_> {
        Locked {
            m: self,
            _guard: self.login_lock.lock().await,
        }
    }

    /// A usable session: the current one, or one from a (single-flight) login or v3 refresh.
    pub(crate) async fn session(&self) -> Result<Session, IgError> {
        if let Some(s) = self.current().filter(|s| !s.needs_refresh()) {
            return Ok(s);
        }
        self.lock().await.ensure().await
    }

    /// IG refused the token of `refused` (the session a request used). Recovers once for
    /// every request that used it: a v3 refresh (then a login if that fails) for an OAuth
    /// token, a fresh login otherwise. Nothing to do if the session was already replaced.
    pub(crate) async fn recover(&self, refused: &Session, kind: TokenKind) -> Result<(), IgError> {
        let locked = self.lock().await;
        if self.generation() != refused.generation {
            return Ok(());
        }
        let reason = format!("token invalid ({kind})");
        let refresh_from = (kind == TokenKind::OAuth).then_some(refused);
        locked.renew(refresh_from, &reason).await.map(drop)
    }

    /// Logs in again now, single-flight: callers that asked at the same time share one login.
    /// Also the way to try again after a fatal refusal (e.g. once the credentials were fixed):
    /// it clears the latch.
    pub(crate) async fn force_relogin(&self) -> Result<(), IgError> {
        let seen = self.generation();
        let locked = self.lock().await;
        *self.fatal.write().unwrap_or_else(PoisonError::into_inner) = None;
        self.logged_out.store(false, Ordering::SeqCst);
        if self.generation() != seen {
            return Ok(());
        }
        locked.renew(None, "forced").await.map(drop)
    }

    /// Switches account: `PUT /session` for v2 (taking the re-issued tokens), the
    /// `IG-ACCOUNT-ID` of later requests for v3.
    pub(crate) async fn switch_account(
        &self,
        account: &AccountId,
        default_account: Option<bool>,
    ) -> Result<(), IgError> {
        let locked = self.lock().await;
        let s = locked.ensure().await?;
        let next = locked
            .login()
            .switch(s, account.as_str(), default_account)
            .await?;
        locked.install(next);
        Ok(())
    }

    /// `DELETE /session` (POST + `_method: DELETE`, v1) and forgets the session. A token
    /// error means IG already ended it.
    pub(crate) async fn logout(&self) -> Result<(), IgError> {
        let locked = self.lock().await;
        self.logged_out.store(true, Ordering::SeqCst);
        let Some(s) = self.current() else {
            return Ok(());
        };
        let mut call = Call::get("/session", 1, "logout").unauthenticated();
        call.method = Method::DELETE;
        call.delete_override = true;
        let result = self.transport.send(&call, Some(s.auth())).await;
        locked.clear();
        match result {
            Ok(_) | Err(IgError::TokenInvalid { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Lets the next request log in again after a logout (an explicit `login`).
    pub(crate) fn allow_login(&self) {
        self.logged_out.store(false, Ordering::SeqCst);
    }

    /// Notes that a request succeeded (the idle clock of the upkeep).
    pub(crate) fn touch(&self) {
        let ms = self.epoch.elapsed().as_millis() as u64;
        self.last_used_ms.store(ms, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        let now = self.epoch.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last_used_ms.load(Ordering::Relaxed)))
    }

    /// Starts the upkeep task once (after the first login).
    fn start_upkeep(&self) {
        if self.upkeep_started.swap(true, Ordering::SeqCst) {
            return;
        }
        let weak = self.me.clone();
        let interval = self.cfg.maintenance_interval;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(m) = weak.upgrade() else { return };
                m.upkeep().await;
            }
        });
    }

    /// One round of upkeep: refresh a v3 token that is due, log a v2 session in again at its
    /// maximum age, re-validate one that sat idle.
    async fn upkeep(&self) {
        let Some(s) = self.current() else { return };
        match &s.tokens {
            Tokens::V3 { .. } => {
                if s.needs_refresh() {
                    if let Err(e) = self.session().await {
                        tracing::warn!(error = %e, "proactive v3 refresh failed");
                    }
                }
            }
            Tokens::V2 { .. } => {
                if s.age() >= self.cfg.max_session_age {
                    tracing::info!(
                        age_s = s.age().as_secs(),
                        "IG session reached its maximum age; logging in again"
                    );
                    if let Err(e) = self.relogin_unless_replaced(&s, "session age").await {
                        tracing::warn!(error = %e, "proactive re-login failed");
                    }
                } else if self.idle_for() >= self.cfg.idle_revalidate_after {
                    tracing::info!("IG session idle; re-validating it");
                    if let Err(e) = self.validate().await {
                        tracing::warn!(error = %e, "session re-validation failed");
                    }
                }
            }
        }
    }

    /// A fresh login, unless `old` was replaced meanwhile.
    async fn relogin_unless_replaced(&self, old: &Session, reason: &str) -> Result<(), IgError> {
        let locked = self.lock().await;
        if self.generation() != old.generation {
            return Ok(());
        }
        locked.renew(None, reason).await.map(drop)
    }

    /// `GET /session` v1 with the current session; a refused token is recovered.
    async fn validate(&self) -> Result<(), IgError> {
        let s = self.session().await?;
        let call = Call::get("/session", 1, "validate session");
        self.transport.acquire(&call).await;
        match self.transport.send(&call, Some(s.auth())).await {
            Ok(_) => {
                self.touch();
                Ok(())
            }
            Err(IgError::TokenInvalid { kind }) => {
                self.stats.token_errors.inc();
                self.recover(&s, kind).await?;
                self.stats.token_errors_recovered.inc();
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

impl Locked<'_> {
    fn login(&self) -> Login<'_> {
        Login {
            transport: &self.m.transport,
            cfg: &self.m.cfg,
        }
    }

    /// With the lock held: the current session if usable, else a refreshed or new one.
    async fn ensure(&self) -> Result<Session, IgError> {
        match self.m.current() {
            Some(s) if !s.needs_refresh() => Ok(s),
            Some(s) => self.renew(Some(&s), "access token due for refresh").await,
            None => self.renew(None, "no session").await,
        }
    }

    /// The only way to a login or refresh request. Refused while the fatal latch is set.
    /// With `refresh_from` (a v3 session) the refresh token is tried first; a refused refresh
    /// falls back to a login. A fatal login refusal sets the latch.
    async fn renew(
        &self,
        refresh_from: Option<&Session>,
        reason: &str,
    ) -> Result<Session, IgError> {
        if let Some(e) = self
            .m
            .fatal
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        {
            return Err(e);
        }
        if self.m.logged_out.load(Ordering::SeqCst) {
            tracing::info!(reason, "not logging in again: the client logged out");
            return Err(IgError::LoggedOut);
        }
        if let Some(s) = refresh_from.filter(|s| matches!(s.tokens, Tokens::V3 { .. })) {
            match self.login().refresh(s).await {
                Ok(next) => {
                    self.m.stats.refreshes.inc();
                    return Ok(self.install(next));
                }
                Err(e) => {
                    tracing::warn!(error = %e, reason, "IG refused the refresh token; logging in again");
                }
            }
        }
        self.m.stats.set_state(SessionState::Authenticating);
        match self.login_with_retry(reason).await {
            Ok(s) => {
                let s = self.install(s);
                self.m.start_upkeep();
                Ok(s)
            }
            Err(e) => {
                self.m.stats.set_state(SessionState::Failed);
                if e.is_fatal() {
                    *self.m.fatal.write().unwrap_or_else(PoisonError::into_inner) = Some(e.clone());
                }
                Err(e)
            }
        }
    }

    /// Logs in with retries: at most `login_retry.max_attempts` attempts (`relogin_retry` once
    /// a login has succeeded before), exponential backoff with jitter, and no retry at all for
    /// fatal refusals.
    async fn login_with_retry(&self, reason: &str) -> Result<Session, IgError> {
        let stats = &self.m.stats;
        let policy = if stats.logins.get() > 0 {
            self.m.cfg.relogin_retry
        } else {
            self.m.cfg.login_retry
        };
        let max = policy.max_attempts.max(1);
        let mut attempt = 1;
        loop {
            stats.login_attempts.inc();
            tracing::info!(
                attempt,
                max,
                reason,
                version = self.m.cfg.session_version.number(),
                "IG login"
            );
            match self.login().login().await {
                Ok(s) => {
                    stats.logins.inc();
                    tracing::info!(
                        attempt,
                        account = %s.account_text().unwrap_or("-"),
                        "IG login succeeded"
                    );
                    return Ok(s);
                }
                Err(e) if e.is_fatal() || !e.is_retryable() => {
                    tracing::error!(attempt, max, error = %e, "IG login refused; not retrying");
                    return Err(e);
                }
                Err(e) if attempt >= max => {
                    tracing::error!(attempt, max, error = %e, "IG login failed; giving up");
                    return Err(IgError::LoginFailed {
                        url: crate::scrub::redact_url(&self.m.cfg.api_url),
                        attempts: attempt,
                        last: Box::new(e),
                    });
                }
                Err(e) => {
                    let delay = policy.delay(attempt);
                    tracing::warn!(attempt, max, error = %e, delay_ms = delay.as_millis() as u64, "IG login failed; retrying");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
            }
        }
    }

    /// Makes `s` the current session under a new generation.
    fn install(&self, mut s: Session) -> Session {
        s.generation = self.m.generation.fetch_add(1, Ordering::SeqCst) + 1;
        self.m.transport.remember_tokens(&s.secrets());
        *self
            .m
            .current
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(s.clone());
        self.m.stats.set_state(SessionState::Active);
        s
    }

    /// Forgets the session (logout) under a new generation, so that a recovery in flight for
    /// the old one finds nothing to recover.
    fn clear(&self) {
        self.m.generation.fetch_add(1, Ordering::SeqCst);
        *self
            .m
            .current
            .write()
            .unwrap_or_else(PoisonError::into_inner) = None;
        self.m.stats.set_state(SessionState::LoggedOut);
    }
}
