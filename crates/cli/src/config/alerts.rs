//! `[alerts]` in `scalper.toml`: the channels and delivery settings, with the channels' secrets
//! (webhook URLs, the Telegram bot token, the SMTP password) from the process environment or
//! an env file (`SCALPER_ALERTS_*`, never TOML for tokens and passwords). Every value keeps
//! where it came from for `config check`; secrets are shown redacted and never printed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use scalper_alerts::{AlertsConfig, ChannelConfig, Delivery, EmailConfig, Redactor, WatchConfig};
use secrecy::{ExposeSecret, SecretString};

use super::var::{Source, Sourced};

pub const WEBHOOK_URL_VAR: &str = "SCALPER_ALERTS_WEBHOOK_URL";
pub const SLACK_URL_VAR: &str = "SCALPER_ALERTS_SLACK_URL";
pub const TELEGRAM_TOKEN_VAR: &str = "SCALPER_ALERTS_TELEGRAM_TOKEN";
pub const SMTP_PASSWORD_VAR: &str = "SCALPER_ALERTS_SMTP_PASSWORD";
/// The variables the alerts read (all secrets).
pub const ALERT_VARS: [&str; 4] = [
    WEBHOOK_URL_VAR,
    SLACK_URL_VAR,
    TELEGRAM_TOKEN_VAR,
    SMTP_PASSWORD_VAR,
];
/// Prefix of the alerts' variables.
pub const ALERT_VAR_PREFIX: &str = "SCALPER_ALERTS_";

const TOP_KEYS: [&str; 13] = [
    "name",
    "queue",
    "attempts",
    "backoff_ms",
    "backoff_max_ms",
    "timeout_s",
    "stream_silent_s",
    "unresolved_s",
    "daily_summary",
    "webhook",
    "slack",
    "telegram",
    "email",
];

/// One setting as `config check` shows it.
#[derive(Debug, Clone)]
pub struct AlertSetting {
    /// Dotted key: `alerts.telegram.token`.
    pub key: String,
    /// The value, redacted when secret.
    pub shown: String,
    pub source: Source,
    pub secret: bool,
}

/// `[alerts]` resolved: the configuration when usable, every setting with its source, and the
/// problems.
#[derive(Debug, Default)]
pub struct AlertsSettings {
    /// An `[alerts]` section is present.
    pub present: bool,
    /// `None` without `[alerts]` or with problems.
    pub config: Option<AlertsConfig>,
    pub settings: Vec<AlertSetting>,
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
    /// Scrubs every configured secret (the alerts' and IG's) from alert text.
    pub redactor: Redactor,
}

/// Reads `[alerts]`. `env` holds the `SCALPER_ALERTS_*` values, highest priority first;
/// `ig_secrets` are added to the redactor.
pub fn resolve(
    table: &toml::Table,
    toml_path: &Path,
    env: &BTreeMap<String, Sourced<SecretString>>,
    ig_secrets: &[&SecretString],
) -> AlertsSettings {
    let mut r = Reader {
        path: toml_path.to_path_buf(),
        env,
        out: AlertsSettings::default(),
    };
    for s in ig_secrets {
        r.out.redactor.add(s);
    }
    let section = table.get("alerts");
    for (var, name) in [
        (WEBHOOK_URL_VAR, "webhook"),
        (SLACK_URL_VAR, "slack"),
        (TELEGRAM_TOKEN_VAR, "telegram"),
        (SMTP_PASSWORD_VAR, "email"),
    ] {
        let configured = section
            .and_then(toml::Value::as_table)
            .is_some_and(|t| t.contains_key(name));
        if let (false, Some(found)) = (configured, env.get(var)) {
            r.out.warnings.push(format!(
                "{var} is set ({}) but scalper.toml has no [alerts.{name}]: add the section to send alerts there",
                found.source
            ));
        }
    }
    let Some(section) = section else {
        return r.out;
    };
    r.out.present = true;
    let Some(t) = section.as_table() else {
        r.problem("`alerts` must be a table ([alerts])");
        return r.out;
    };
    for key in t.keys() {
        if !TOP_KEYS.contains(&key.as_str()) {
            r.problem(format!(
                "unknown key `alerts.{key}` (known: {})",
                TOP_KEYS.join(", ")
            ));
        }
    }
    let defaults = Delivery::default();
    let watch_defaults = WatchConfig::default();
    let source = r
        .string(t, "alerts", "name")
        .unwrap_or_else(|| "scalper".into());
    let delivery = Delivery {
        queue: r.int(t, "alerts", "queue", 64, 1, 100_000) as usize,
        attempts: r.int(t, "alerts", "attempts", i64::from(defaults.attempts), 1, 20) as u32,
        backoff: ms(r.int(t, "alerts", "backoff_ms", 1000, 1, 600_000)),
        backoff_max: ms(r.int(t, "alerts", "backoff_max_ms", 60_000, 1, 3_600_000)),
        timeout: secs(r.int(t, "alerts", "timeout_s", 10, 1, 300)),
    };
    let watch = WatchConfig {
        stream_silent: secs(r.int(t, "alerts", "stream_silent_s", 60, 1, 86_400)),
        unresolved_after: secs(r.int(t, "alerts", "unresolved_s", 30, 1, 86_400)),
        daily_summary_at: r.daily_summary(t, watch_defaults.daily_summary_at),
        tick: watch_defaults.tick,
    };
    let mut channels = Vec::new();
    for name in ["webhook", "slack", "telegram", "email"] {
        let Some(v) = t.get(name) else { continue };
        let Some(ct) = v.as_table() else {
            r.problem(format!("`alerts.{name}` must be a table ([alerts.{name}])"));
            continue;
        };
        let prefix = format!("alerts.{name}");
        let channel = match name {
            "webhook" => r
                .url_channel(ct, &prefix, WEBHOOK_URL_VAR)
                .map(|url| ChannelConfig::Webhook { url }),
            "slack" => r
                .url_channel(ct, &prefix, SLACK_URL_VAR)
                .map(|url| ChannelConfig::Slack { url }),
            "telegram" => r.telegram(ct, &prefix),
            _ => r.email(ct, &prefix),
        };
        channels.extend(channel);
    }
    if channels.is_empty() && r.out.problems.is_empty() {
        r.out.warnings.push(
            "[alerts] configures no channel: add [alerts.webhook], [alerts.slack], [alerts.telegram] or [alerts.email]".into(),
        );
    }
    if r.out.problems.is_empty() {
        let cfg = AlertsConfig {
            source,
            channels,
            delivery,
            watch,
        };
        // Build the channels once now, so a bad address or CA file is a configuration problem.
        match scalper_alerts::queue::channels(&cfg) {
            Ok(_) => r.out.config = Some(cfg),
            Err(e) => r.out.problems.push(e.to_string()),
        }
    }
    r.out
}

fn ms(v: i64) -> Duration {
    Duration::from_millis(u64::try_from(v).unwrap_or(1))
}

fn secs(v: i64) -> Duration {
    Duration::from_secs(u64::try_from(v).unwrap_or(1))
}

struct Reader<'a> {
    path: PathBuf,
    env: &'a BTreeMap<String, Sourced<SecretString>>,
    out: AlertsSettings,
}

impl Reader<'_> {
    fn problem(&mut self, p: impl std::fmt::Display) {
        self.out
            .problems
            .push(format!("{}: {p}", self.path.display()));
    }

    fn toml_source(&self, key: &str) -> Source {
        Source::Toml {
            path: self.path.clone(),
            key: key.to_string(),
        }
    }

    fn show(&mut self, key: &str, shown: String, source: Source, secret: bool) {
        self.out.settings.push(AlertSetting {
            key: key.to_string(),
            shown,
            source,
            secret,
        });
    }

    fn check_keys(&mut self, t: &toml::Table, prefix: &str, known: &[&str]) {
        for key in t.keys() {
            if !known.contains(&key.as_str()) {
                self.problem(format!(
                    "unknown key `{prefix}.{key}` (known: {})",
                    known.join(", ")
                ));
            }
        }
    }

    fn string(&mut self, t: &toml::Table, prefix: &str, key: &str) -> Option<String> {
        let dotted = format!("{prefix}.{key}");
        let v = t.get(key)?;
        let text = match v {
            toml::Value::String(s) => s.trim().to_string(),
            toml::Value::Integer(i) => i.to_string(),
            _ => {
                self.problem(format!("`{dotted}` must be a string"));
                return None;
            }
        };
        if text.is_empty() || text.chars().any(char::is_control) {
            self.problem(format!(
                "`{dotted}` must be non-empty text without control characters"
            ));
            return None;
        }
        let source = self.toml_source(&dotted);
        self.show(&dotted, text.clone(), source, false);
        Some(text)
    }

    fn int(
        &mut self,
        t: &toml::Table,
        prefix: &str,
        key: &str,
        default: i64,
        min: i64,
        max: i64,
    ) -> i64 {
        let dotted = format!("{prefix}.{key}");
        match t.get(key) {
            None => {
                self.show(&dotted, default.to_string(), Source::Default, false);
                default
            }
            Some(toml::Value::Integer(i)) if (min..=max).contains(i) => {
                let source = self.toml_source(&dotted);
                self.show(&dotted, i.to_string(), source, false);
                *i
            }
            Some(v) => {
                self.problem(format!(
                    "`{dotted}` = {v} is invalid: expected a whole number from {min} to {max}"
                ));
                default
            }
        }
    }

    fn daily_summary(
        &mut self,
        t: &toml::Table,
        default: Option<chrono::NaiveTime>,
    ) -> Option<chrono::NaiveTime> {
        let dotted = "alerts.daily_summary";
        let Some(v) = t.get("daily_summary") else {
            let shown = default.map_or("off".into(), |d| d.format("%H:%M UTC").to_string());
            self.show(dotted, shown, Source::Default, false);
            return default;
        };
        let parsed = v.as_str().and_then(|s| {
            let s = s.trim();
            if s.eq_ignore_ascii_case("off") {
                Some(None)
            } else {
                chrono::NaiveTime::parse_from_str(s, "%H:%M").ok().map(Some)
            }
        });
        if let Some(at) = parsed {
            let shown = at.map_or("off".into(), |d| d.format("%H:%M UTC").to_string());
            let source = self.toml_source(dotted);
            self.show(dotted, shown, source, false);
            at
        } else {
            self.problem(format!(
                "`{dotted}` = {v} is invalid: expected a UTC time of day such as \"21:00\", or \"off\""
            ));
            default
        }
    }

    /// A secret from the environment or an env file.
    fn secret(&mut self, var: &str, key: &str) -> Option<SecretString> {
        let found = self.env.get(var)?;
        let value = found.value.clone();
        self.out.redactor.add(&value);
        let shown = format!(
            "set ({} chars, from {var})",
            value.expose_secret().chars().count()
        );
        self.show(key, shown, found.source.clone(), true);
        Some(value)
    }

    /// The URL of a webhook channel: the variable wins over `url` in the file.
    fn url_channel(&mut self, t: &toml::Table, prefix: &str, var: &str) -> Option<SecretString> {
        self.check_keys(t, prefix, &["url"]);
        let key = format!("{prefix}.url");
        let url = if let Some(u) = self.env.get(var) {
            let value = u.value.clone();
            let source = u.source.clone();
            self.show(&key, shown_url(value.expose_secret()), source, true);
            value
        } else if let Some(v) = t.get("url") {
            let Some(s) = v.as_str() else {
                self.problem(format!("`{key}` must be a string"));
                return None;
            };
            let source = self.toml_source(&key);
            self.show(&key, shown_url(s), source, true);
            SecretString::from(s.trim().to_string())
        } else {
            self.problem(format!(
                "[{prefix}] needs a URL: set {var} in the environment or an env file (chmod 600), or `url` in [{prefix}]"
            ));
            return None;
        };
        self.out.redactor.add(&url);
        match check_url(url.expose_secret()) {
            Ok(warning) => {
                self.out
                    .warnings
                    .extend(warning.map(|w| format!("{key}: {w}")));
                Some(url)
            }
            Err(why) => {
                self.problem(format!("`{key}` (or {var}) is invalid: {why}"));
                None
            }
        }
    }

    fn telegram(&mut self, t: &toml::Table, prefix: &str) -> Option<ChannelConfig> {
        self.check_keys(t, prefix, &["chat_id", "base_url"]);
        let chat_id = self.string(t, prefix, "chat_id");
        if chat_id.is_none() && !t.contains_key("chat_id") {
            self.problem(format!(
                "[{prefix}] needs `chat_id` (the chat's numeric id, e.g. -1001234567890, or @channelname)"
            ));
        }
        let base_key = format!("{prefix}.base_url");
        let base_url = match t.get("base_url") {
            None => {
                self.show(
                    &base_key,
                    scalper_alerts::TELEGRAM_API.into(),
                    Source::Default,
                    false,
                );
                scalper_alerts::TELEGRAM_API.to_string()
            }
            Some(v) => {
                let s = v
                    .as_str()
                    .unwrap_or("")
                    .trim()
                    .trim_end_matches('/')
                    .to_string();
                match check_url(&s) {
                    Ok(w) => {
                        self.out
                            .warnings
                            .extend(w.map(|w| format!("{base_key}: {w}")));
                        let source = self.toml_source(&base_key);
                        self.show(&base_key, s.clone(), source, false);
                        s
                    }
                    Err(why) => {
                        self.problem(format!("`{base_key}` = {v} is invalid: {why}"));
                        return None;
                    }
                }
            }
        };
        let token_key = format!("{prefix}.token");
        let token = self.secret(TELEGRAM_TOKEN_VAR, &token_key);
        let Some(token) = token else {
            self.problem(format!(
                "[{prefix}] needs the bot token: set {TELEGRAM_TOKEN_VAR} in the environment or an env file (chmod 600); it is never read from scalper.toml"
            ));
            return None;
        };
        let t_str = token.expose_secret();
        let shaped = t_str.split_once(':').is_some_and(|(id, rest)| {
            !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()) && !rest.is_empty()
        }) && !t_str.chars().any(|c| c.is_whitespace() || c == '/');
        if !shaped {
            self.problem(format!(
                "{TELEGRAM_TOKEN_VAR} does not look like a bot token (digits, a colon, then the secret, as @BotFather gives it)"
            ));
            return None;
        }
        Some(ChannelConfig::Telegram {
            base_url,
            token,
            chat_id: chat_id?,
        })
    }

    fn email(&mut self, t: &toml::Table, prefix: &str) -> Option<ChannelConfig> {
        self.check_keys(
            t,
            prefix,
            &["host", "port", "username", "from", "to", "ca_file"],
        );
        let host = self.string(t, prefix, "host");
        if host.is_none() && !t.contains_key("host") {
            self.problem(format!(
                "[{prefix}] needs `host` (the SMTP server, e.g. smtp.example.com)"
            ));
        }
        let port = self.int(t, prefix, "port", 587, 1, 65_535) as u16;
        let username = self.string(t, prefix, "username");
        let from = self.string(t, prefix, "from");
        if from.is_none() && !t.contains_key("from") {
            self.problem(format!("[{prefix}] needs `from` (the sender's address)"));
        }
        let to = self.recipients(t, prefix);
        let ca_file = self.string(t, prefix, "ca_file").map(PathBuf::from);
        let password = self.secret(SMTP_PASSWORD_VAR, &format!("{prefix}.password"));
        match (&username, &password) {
            (Some(_), None) => self.problem(format!(
                "[{prefix}] username is set but the password is not: set {SMTP_PASSWORD_VAR} in the environment or an env file (chmod 600)"
            )),
            (None, Some(_)) => self.problem(format!(
                "{SMTP_PASSWORD_VAR} is set but [{prefix}] has no `username` to log in with"
            )),
            _ => {}
        }
        Some(ChannelConfig::Email(EmailConfig {
            host: host?,
            port,
            username,
            password,
            from: from?,
            to: to?,
            ca_file,
        }))
    }

    fn recipients(&mut self, t: &toml::Table, prefix: &str) -> Option<Vec<String>> {
        let key = format!("{prefix}.to");
        let list: Vec<String> = match t.get("to") {
            Some(toml::Value::String(s)) => vec![s.trim().to_string()],
            Some(toml::Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(|s| s.trim().to_string()))
                .collect(),
            _ => Vec::new(),
        };
        if list.is_empty() || list.iter().any(String::is_empty) {
            self.problem(format!(
                "[{prefix}] needs `to`: an address or a list of addresses, e.g. to = [\"ops@example.com\"]"
            ));
            return None;
        }
        let source = self.toml_source(&key);
        self.show(&key, list.join(", "), source, false);
        Some(list)
    }
}

/// A URL as `config check` shows it: scheme and host, the rest hidden.
fn shown_url(raw: &str) -> String {
    match url::Url::parse(raw.trim()) {
        Ok(u) => format!(
            "{}://{}/… (set, {} chars)",
            u.scheme(),
            u.host_str().unwrap_or(""),
            raw.trim().chars().count()
        ),
        Err(_) => format!("set ({} chars)", raw.chars().count()),
    }
}

/// An http(s) URL with a host; a warning for plain http to a non-loopback host.
fn check_url(raw: &str) -> Result<Option<String>, String> {
    let u = url::Url::parse(raw.trim()).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err("must start with https:// (or http:// for a local server)".into());
    }
    let Some(host) = u.host_str() else {
        return Err("has no host".into());
    };
    let loopback = host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    Ok((u.scheme() == "http" && !loopback).then(|| {
        "plain http:// to a non-loopback host: alerts (and the URL's token) travel unencrypted"
            .into()
    }))
}

#[cfg(test)]
#[path = "alerts_tests.rs"]
mod tests;
