//! `IgConfig`: everything the client needs, with IG-appropriate defaults. The cli fills it from
//! flags, the environment and env files; tests shorten the timings.

use std::time::Duration;

use scalper_model::AccountId;
use secrecy::SecretString;

use crate::types::Allowances;

/// IG environment. Demo and live have separate hosts, keys and credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Environment {
    Demo,
    Live,
}

impl Environment {
    /// IG's REST base URL for this environment.
    pub fn default_api_url(self) -> &'static str {
        match self {
            Self::Demo => "https://demo-api.ig.com/gateway/deal",
            Self::Live => "https://api.ig.com/gateway/deal",
        }
    }
    /// `DEMO` or `LIVE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Demo => "DEMO",
            Self::Live => "LIVE",
        }
    }
}

/// The REST base URL a user most likely meant when `url` (shown without credentials) is not
/// IG's REST API: IG's own hosts at their `/gateway/deal`, any other host (a sandbox) at
/// `/gateway/deal` on the same scheme, host and port. `None` when that is `url` itself or
/// `url` is not a URL.
pub(crate) fn suggested_api_url(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let host = parsed.host_str()?;
    let suggestion = if host == "ig.com" || host.ends_with(".ig.com") {
        let env = if host.starts_with("demo") {
            Environment::Demo
        } else {
            Environment::Live
        };
        env.default_api_url().to_string()
    } else {
        let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
        format!("{}://{host}{port}/gateway/deal", parsed.scheme())
    };
    (suggestion != url.trim_end_matches('/')).then_some(suggestion)
}

impl std::fmt::Display for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Session API version: v2 (CST / X-SECURITY-TOKEN) or v3 (OAuth bearer + IG-ACCOUNT-ID).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SessionVersion {
    #[default]
    V2,
    V3,
}

impl SessionVersion {
    /// `2` or `3`.
    pub fn number(self) -> u8 {
        match self {
            Self::V2 => 2,
            Self::V3 => 3,
        }
    }
}

/// Bounded exponential backoff with jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts including the first.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Add up to 50% random jitter to each delay.
    pub jitter: bool,
}

impl RetryPolicy {
    /// Delay before attempt `attempt + 1` (attempt counts from 1).
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
        let d = exp.min(self.max_delay);
        if self.jitter && !d.is_zero() {
            let extra = rand::random::<f64>() * 0.5;
            d + d.mul_f64(extra)
        } else {
            d
        }
    }
}

/// Configuration of an [`crate::IgClient`]. `Debug` shows no secret (nor the password of a
/// `user:password@` URL).
#[derive(Clone)]
pub struct IgConfig {
    pub environment: Environment,
    /// REST base URL, e.g. `https://demo-api.ig.com/gateway/deal` or a local sandbox.
    pub api_url: String,
    pub api_key: SecretString,
    pub username: String,
    pub password: SecretString,
    pub session_version: SessionVersion,
    /// Switch to (v2) or address (v3 `IG-ACCOUNT-ID`) this account after login.
    pub account_id: Option<AccountId>,
    /// Send the password RSA-encrypted (v2 only; `GET /session/encryptionKey` first).
    pub encrypt_password: bool,
    pub connect_timeout: Duration,
    /// Timeout of one HTTP request (a dealing request that times out has an unknown outcome).
    pub request_timeout: Duration,
    /// v2: log in again proactively when the session is older than this (default 5 h).
    pub max_session_age: Duration,
    /// v2: validate the session with `GET /session` after this long without requests.
    pub idle_revalidate_after: Duration,
    /// How often the background task checks session age and v3 expiry.
    pub maintenance_interval: Duration,
    /// Login retries for retryable failures (never for refused credentials or API key), for
    /// the first login of a client: a wrong URL or a dead network is reported within seconds.
    pub login_retry: RetryPolicy,
    /// The same for logging in again once a session had been established (token errors,
    /// expiry): longer, so a run rides out a maintenance window of IG answering 503 instead of
    /// giving up after a few seconds. Refused credentials still end it at once.
    pub relogin_retry: RetryPolicy,
    /// Backoff for reads answered with an allowance-exceeded error (orders are never retried).
    pub allowance_retry: RetryPolicy,
    /// Backoff between attempts of a read that failed transiently (5xx, timeout, connection).
    pub read_retry: RetryPolicy,
    /// How long to poll `/confirms/{dealReference}` when a dealing outcome is unknown, before
    /// checking `/positions`. The engine waits meanwhile, so it is kept short: IG publishes a
    /// confirm within moments of executing, and a reference still unknown after this is
    /// checked again by the engine's periodic resolution (it is never resent).
    pub confirm_timeout: Duration,
    pub confirm_poll_interval: Duration,
    /// Client-side rate limiting with separate trading and non-trading budgets.
    pub rate_limit: bool,
    /// Budgets before `/operations/application` answers (IG's FAQ defaults).
    pub allowances: Allowances,
    /// Read the real allowances from `/operations/application` after the first login.
    pub fetch_allowances: bool,
    /// Prefix of generated deal references (letters, digits, `-`, `_`; keep it short).
    pub deal_reference_prefix: String,
    /// Send the client's `dealReference` in close requests too (IG documents it only for
    /// opens and working orders; a close is also resolved through `/positions`).
    pub close_sends_deal_reference: bool,
    /// Largest response body read (default 8 MB); a larger answer is refused with
    /// [`crate::IgError::BodyTooLarge`] without buffering more than this.
    pub max_body_bytes: usize,
}

impl std::fmt::Debug for IgConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IgConfig")
            .field("environment", &self.environment)
            .field("api_url", &crate::scrub::redact_url(&self.api_url))
            .field("api_key", &self.api_key)
            .field("username", &self.username)
            .field("password", &self.password)
            .field("session_version", &self.session_version)
            .field("account_id", &self.account_id)
            .field("encrypt_password", &self.encrypt_password)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("rate_limit", &self.rate_limit)
            .field("fetch_allowances", &self.fetch_allowances)
            .finish_non_exhaustive()
    }
}

impl IgConfig {
    /// A configuration with IG's URL for `environment` and production defaults.
    pub fn new(
        environment: Environment,
        username: impl Into<String>,
        password: SecretString,
        api_key: SecretString,
    ) -> Self {
        Self {
            environment,
            api_url: environment.default_api_url().to_string(),
            api_key,
            username: username.into(),
            password,
            session_version: SessionVersion::V2,
            account_id: None,
            encrypt_password: false,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            max_session_age: Duration::from_secs(5 * 3600),
            idle_revalidate_after: Duration::from_secs(3600),
            maintenance_interval: Duration::from_secs(30),
            login_retry: RetryPolicy {
                max_attempts: 3,
                base_delay: Duration::from_secs(1),
                max_delay: Duration::from_secs(20),
                jitter: true,
            },
            // 1, 2, 4, 8, 16, 30, 30 s (plus jitter): about 1.5 to 2 minutes in all.
            relogin_retry: RetryPolicy {
                max_attempts: 8,
                base_delay: Duration::from_secs(1),
                max_delay: Duration::from_secs(30),
                jitter: true,
            },
            allowance_retry: RetryPolicy {
                max_attempts: 4,
                base_delay: Duration::from_secs(2),
                max_delay: Duration::from_secs(30),
                jitter: true,
            },
            read_retry: RetryPolicy {
                max_attempts: 4,
                base_delay: Duration::from_millis(250),
                max_delay: Duration::from_secs(5),
                jitter: true,
            },
            confirm_timeout: Duration::from_secs(8),
            confirm_poll_interval: Duration::from_millis(500),
            rate_limit: true,
            allowances: Allowances::default(),
            fetch_allowances: true,
            deal_reference_prefix: "SCALP".to_string(),
            close_sends_deal_reference: true,
            max_body_bytes: 8 * 1024 * 1024,
        }
    }

    /// Overrides the REST base URL (e.g. a local sandbox).
    #[must_use]
    pub fn with_api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = url.into();
        self
    }

    #[must_use]
    pub fn with_session_version(mut self, v: SessionVersion) -> Self {
        self.session_version = v;
        self
    }

    #[must_use]
    pub fn with_account_id(mut self, account: Option<AccountId>) -> Self {
        self.account_id = account;
        self
    }

    /// Short timings for tests against a local fake: no jitter, millisecond backoffs, no
    /// rate limiting, a 2-second confirm window.
    #[must_use]
    pub fn for_local_tests(mut self) -> Self {
        let quick = RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(100),
            jitter: false,
        };
        self.login_retry = quick;
        self.relogin_retry = RetryPolicy {
            max_attempts: 6,
            ..quick
        };
        self.allowance_retry = quick;
        self.read_retry = quick;
        self.connect_timeout = Duration::from_secs(2);
        self.request_timeout = Duration::from_secs(2);
        self.confirm_timeout = Duration::from_secs(2);
        self.confirm_poll_interval = Duration::from_millis(50);
        self.maintenance_interval = Duration::from_millis(100);
        self.rate_limit = false;
        self.fetch_allowances = false;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_url_gets_the_url_meant() {
        let cases = [
            (
                "http://127.0.0.1:8080/wrong",
                Some("http://127.0.0.1:8080/gateway/deal"),
            ),
            (
                "http://127.0.0.1:8080",
                Some("http://127.0.0.1:8080/gateway/deal"),
            ),
            (
                "http://[::1]:9000/gateway",
                Some("http://[::1]:9000/gateway/deal"),
            ),
            (
                "https://demo-api.ig.com",
                Some("https://demo-api.ig.com/gateway/deal"),
            ),
            (
                "https://api.ig.com/deal",
                Some("https://api.ig.com/gateway/deal"),
            ),
            (
                "https://[redacted]@localhost:1/x",
                Some("https://localhost:1/gateway/deal"),
            ),
            ("http://127.0.0.1:8080/gateway/deal", None),
            ("http://127.0.0.1:8080/gateway/deal/", None),
            ("not a url", None),
        ];
        for (url, want) in cases {
            assert_eq!(suggested_api_url(url).as_deref(), want, "{url}");
        }
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
            jitter: false,
        };
        assert_eq!(p.delay(1), Duration::from_millis(100));
        assert_eq!(p.delay(2), Duration::from_millis(200));
        assert_eq!(p.delay(3), Duration::from_millis(300));
        let j = RetryPolicy { jitter: true, ..p };
        for _ in 0..20 {
            let d = j.delay(1);
            assert!(d >= Duration::from_millis(100) && d <= Duration::from_millis(150));
        }
    }

    #[test]
    fn debug_redacts_secrets() {
        let c = IgConfig::new(
            Environment::Demo,
            "user",
            SecretString::from("hunter2-password"),
            SecretString::from("APIKEY-0123456789"),
        );
        let d = format!("{c:?}");
        assert!(!d.contains("hunter2") && !d.contains("APIKEY-0123"), "{d}");
        let d = format!(
            "{:?}",
            c.clone().with_api_url("https://me:url-secret@host/x")
        );
        assert!(!d.contains("url-secret") && d.contains("host/x"), "{d}");
        assert_eq!(c.api_url, "https://demo-api.ig.com/gateway/deal");
    }
}
