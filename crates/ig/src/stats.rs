//! Observable session statistics: state, token age and counters, for the CLI and metrics.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::Duration;

use crate::config::SessionVersion;

/// A monotonically increasing counter.
#[derive(Debug, Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    pub(crate) fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Where the session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionState {
    /// No login yet.
    NotLoggedIn,
    /// A login or refresh is in progress.
    Authenticating,
    /// Tokens are held and believed valid.
    Active,
    /// The last login failed; the next request tries again (unless the error was fatal).
    Failed,
    /// `logout` was called.
    LoggedOut,
}

impl SessionState {
    pub(crate) fn to_u8(self) -> u8 {
        match self {
            Self::NotLoggedIn => 0,
            Self::Authenticating => 1,
            Self::Active => 2,
            Self::Failed => 3,
            Self::LoggedOut => 4,
        }
    }
    pub(crate) fn from_u8(v: u8) -> Self {
        match v {
            1 => Self::Authenticating,
            2 => Self::Active,
            3 => Self::Failed,
            4 => Self::LoggedOut,
            _ => Self::NotLoggedIn,
        }
    }
    /// Lower-case name (`active`, `failed`...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotLoggedIn => "not_logged_in",
            Self::Authenticating => "authenticating",
            Self::Active => "active",
            Self::Failed => "failed",
            Self::LoggedOut => "logged_out",
        }
    }
}

/// Shared counters inside the client.
#[derive(Debug, Default)]
pub(crate) struct StatsCounters {
    pub state: AtomicU8,
    pub login_attempts: Counter,
    pub logins: Counter,
    pub refreshes: Counter,
    pub token_errors: Counter,
    pub token_errors_recovered: Counter,
    pub allowance_backoffs: Counter,
    pub requests: Counter,
}

impl StatsCounters {
    pub(crate) fn set_state(&self, s: SessionState) {
        self.state.store(s.to_u8(), Ordering::Relaxed);
    }
}

/// A snapshot of the session's health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionStats {
    pub state: SessionState,
    pub session_version: SessionVersion,
    pub account_id: Option<String>,
    /// Age of the current session (since its login).
    pub session_age: Option<Duration>,
    /// Age of the current tokens (since login or the last refresh).
    pub token_age: Option<Duration>,
    /// v3: time left before the access token expires.
    pub token_expires_in: Option<Duration>,
    /// Login requests sent (including failed ones).
    pub login_attempts: u64,
    /// Successful logins.
    pub logins: u64,
    /// Successful v3 token refreshes.
    pub refreshes: u64,
    /// Token-invalid answers seen.
    pub token_errors: u64,
    /// Token-invalid answers after which the session was recovered and the request resent.
    pub token_errors_recovered: u64,
    /// Reads retried after an allowance-exceeded answer.
    pub allowance_backoffs: u64,
    /// HTTP requests sent.
    pub requests: u64,
}
