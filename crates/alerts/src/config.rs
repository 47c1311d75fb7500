//! The alerts' settings, already validated (the CLI reads `[alerts]` and the secrets and builds
//! these): the channels, how delivery is bounded and retried, and what the watcher looks for.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

/// Telegram's Bot API.
pub const TELEGRAM_API: &str = "https://api.telegram.org";

/// Everything the alerts need.
#[derive(Debug, Clone)]
pub struct AlertsConfig {
    /// Shown in every alert (`[alerts] name`), e.g. the host's name.
    pub source: String,
    pub channels: Vec<ChannelConfig>,
    pub delivery: Delivery,
    pub watch: WatchConfig,
}

/// One place alerts go.
#[derive(Debug, Clone)]
pub enum ChannelConfig {
    /// POST of the alert as a JSON object (`event`, `severity`, `source`, `title`, `text`, `at`).
    Webhook { url: SecretString },
    /// POST of `{"text": …}` (Slack's incoming webhooks, Mattermost, Discord's `/slack` path).
    Slack { url: SecretString },
    /// Telegram Bot API: `POST {base_url}/bot{token}/sendMessage`.
    Telegram {
        base_url: String,
        token: SecretString,
        chat_id: String,
    },
    /// E-mail over SMTP with STARTTLS (required).
    Email(EmailConfig),
}

impl ChannelConfig {
    /// `webhook`, `slack`, `telegram` or `email`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Webhook { .. } => "webhook",
            Self::Slack { .. } => "slack",
            Self::Telegram { .. } => "telegram",
            Self::Email(_) => "email",
        }
    }
}

/// SMTP settings.
#[derive(Debug, Clone)]
pub struct EmailConfig {
    pub host: String,
    /// 587 (submission with STARTTLS) by default.
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    pub from: String,
    pub to: Vec<String>,
    /// Extra trusted root certificates (PEM), for a server with a private CA.
    pub ca_file: Option<PathBuf>,
}

/// How alerts are delivered: never on the trading path, bounded everywhere.
#[derive(Debug, Clone, Copy)]
pub struct Delivery {
    /// Alerts waiting per channel; more are dropped (and counted).
    pub queue: usize,
    /// Attempts per alert and channel (the first included).
    pub attempts: u32,
    /// Wait before the second attempt; doubled each time up to `backoff_max`.
    pub backoff: Duration,
    pub backoff_max: Duration,
    /// One attempt's time limit (connect, TLS, request and answer).
    pub timeout: Duration,
}

impl Default for Delivery {
    fn default() -> Self {
        Self {
            queue: 64,
            attempts: 5,
            backoff: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
        }
    }
}

impl Delivery {
    /// The wait after failed attempt `n` (1-based).
    pub fn backoff_after(&self, n: u32) -> Duration {
        let factor = 2u32.saturating_pow(n.saturating_sub(1).min(16));
        self.backoff.saturating_mul(factor).min(self.backoff_max)
    }
}

/// What the watcher of the run's status looks for.
#[derive(Debug, Clone, Copy)]
pub struct WatchConfig {
    /// Alert when no quote came for this long while trading.
    pub stream_silent: Duration,
    /// Alert when an outcome has been unknown this long.
    pub unresolved_after: Duration,
    /// Send the daily summary when the run's clock passes this UTC time of day (`None`: only
    /// the stop alert has the day's figures).
    pub daily_summary_at: Option<chrono::NaiveTime>,
    /// How often the watcher looks even without a new snapshot.
    pub tick: Duration,
}

impl Default for WatchConfig {
    fn default() -> Self {
        Self {
            stream_silent: Duration::from_secs(60),
            unresolved_after: Duration::from_secs(30),
            daily_summary_at: chrono::NaiveTime::from_hms_opt(21, 0, 0),
            tick: Duration::from_secs(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_bound() {
        let d = Delivery {
            backoff: Duration::from_millis(100),
            backoff_max: Duration::from_millis(500),
            ..Delivery::default()
        };
        let waits: Vec<u128> = (1..=5).map(|n| d.backoff_after(n).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 500, 500]);
    }
}
