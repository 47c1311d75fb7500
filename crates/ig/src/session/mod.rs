//! IG sessions: what a login establishes ([`Session`]), how one is obtained (`login`: v2 with
//! CST / X-SECURITY-TOKEN and an optional account switch, v3 OAuth and its refresh) and the
//! [`SessionManager`] that owns the current session, the login lock, the generation counter,
//! the fatal latch and the upkeep task.

mod login;
mod manager;

use std::time::Duration;

use secrecy::SecretString;
use tokio::time::Instant;

use crate::error::IgError;
use crate::transport::Auth;
use crate::types::SessionInfo;
use scalper_model::AccountId;

pub(crate) use manager::SessionManager;

/// Session tokens. `Debug` is redacted by `SecretString`.
#[derive(Debug, Clone)]
enum Tokens {
    V2 {
        cst: SecretString,
        xst: SecretString,
    },
    V3 {
        access: SecretString,
        refresh: SecretString,
        /// Refresh proactively from this instant (before `expires_in` runs out).
        refresh_due: Instant,
        expires_at: Instant,
    },
}

/// An established session. Only the session module builds one, and only the
/// [`SessionManager`] gives it its generation (when it installs it).
#[derive(Debug, Clone)]
pub(crate) struct Session {
    tokens: Tokens,
    /// Set by the manager on install; every login, refresh and switch gets a new one. Recovery
    /// after a refused token compares it, so that one refusal leads to one login.
    generation: u64,
    /// When the session (login) was created.
    created: Instant,
    /// When the current tokens were issued (login or refresh).
    issued: Instant,
    account_id: Option<String>,
    lightstreamer_endpoint: Option<String>,
    client_id: Option<String>,
    currency: Option<String>,
}

impl Session {
    /// The headers that authenticate a request in this session.
    pub(crate) fn auth(&self) -> Auth<'_> {
        match &self.tokens {
            Tokens::V2 { cst, xst } => Auth::Tokens { cst, xst },
            Tokens::V3 { access, .. } => Auth::Bearer {
                access,
                account: self.account_id.as_deref(),
            },
        }
    }

    /// Every token of the session (to scrub from texts).
    pub(crate) fn secrets(&self) -> Vec<&SecretString> {
        match &self.tokens {
            Tokens::V2 { cst, xst } => vec![cst, xst],
            Tokens::V3 {
                access, refresh, ..
            } => vec![access, refresh],
        }
    }

    /// v2 only: the CST and X-SECURITY-TOKEN, which Lightstreamer takes as its password (a v3
    /// session has to ask IG for them).
    pub(crate) fn stream_tokens(&self) -> Option<(SecretString, SecretString)> {
        match &self.tokens {
            Tokens::V2 { cst, xst } => Some((cst.clone(), xst.clone())),
            Tokens::V3 { .. } => None,
        }
    }

    /// A v3 session whose refresh time has come.
    fn needs_refresh(&self) -> bool {
        match &self.tokens {
            Tokens::V3 { refresh_due, .. } => Instant::now() >= *refresh_due,
            Tokens::V2 { .. } => false,
        }
    }

    pub(crate) fn account_id(&self) -> Option<AccountId> {
        self.account_id
            .as_deref()
            .and_then(|a| AccountId::new(a).ok())
    }

    pub(crate) fn account_text(&self) -> Option<&str> {
        self.account_id.as_deref()
    }

    pub(crate) fn lightstreamer_endpoint(&self) -> Option<&str> {
        self.lightstreamer_endpoint.as_deref()
    }

    /// Time since the login.
    pub(crate) fn age(&self) -> Duration {
        self.created.elapsed()
    }

    /// Time since the tokens were issued (login or refresh).
    pub(crate) fn token_age(&self) -> Duration {
        self.issued.elapsed()
    }

    /// v3: time left before the access token expires.
    pub(crate) fn expires_in(&self) -> Option<Duration> {
        match &self.tokens {
            Tokens::V3 { expires_at, .. } => {
                Some(expires_at.saturating_duration_since(Instant::now()))
            }
            Tokens::V2 { .. } => None,
        }
    }

    /// What the login established, for callers.
    pub(crate) fn info(&self) -> SessionInfo {
        SessionInfo {
            account_id: self.account_id(),
            client_id: self.client_id.clone(),
            lightstreamer_endpoint: self.lightstreamer_endpoint.clone(),
            currency: self.currency.clone(),
        }
    }
}

/// Parses `expires_in` (seconds, a string on IG) into when to refresh and when it expires.
/// Refreshes at three quarters of the lifetime so a slow refresh still lands in time.
fn v3_deadlines(issued: Instant, expires_in: Option<&str>) -> Result<(Instant, Instant), IgError> {
    let secs: u64 = expires_in
        .and_then(|s| s.trim().parse::<u64>().ok())
        .filter(|s| *s > 0)
        .ok_or_else(|| {
            IgError::unexpected(
                "v3 OAuth token",
                format!("expires_in is {expires_in:?}, not a positive number of seconds"),
            )
        })?;
    let life = Duration::from_secs(secs);
    Ok((issued + life.mul_f64(0.75), issued + life))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_deadlines_read_expires_in() {
        let t = Instant::now();
        let (due, exp) = v3_deadlines(t, Some("60")).unwrap();
        assert_eq!(exp - t, Duration::from_secs(60));
        assert_eq!(due - t, Duration::from_secs(45));
        assert!(v3_deadlines(t, None).is_err());
        assert!(v3_deadlines(t, Some("soon")).is_err());
        assert!(v3_deadlines(t, Some("0")).is_err());
    }
}
