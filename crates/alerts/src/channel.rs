//! The channels: one delivery attempt of one [`Alert`] each, with an error that says whether
//! another attempt could help and what to check, and carries no secret.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use crate::config::ChannelConfig;
use crate::email::Mailer;
use crate::event::{truncate, Alert};
use crate::redact::Redactor;

/// A failed delivery attempt. The message is scrubbed of secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DeliveryError {
    pub message: String,
    /// Another attempt may succeed (network, timeout, 5xx, 429); `false` for refusals that
    /// need the configuration fixed.
    pub retryable: bool,
}

impl DeliveryError {
    pub(crate) fn new(message: String, retryable: bool) -> Self {
        Self { message, retryable }
    }
}

/// A ready channel.
#[derive(Debug)]
pub enum Channel {
    Webhook {
        url: SecretString,
    },
    Slack {
        url: SecretString,
    },
    Telegram {
        base_url: String,
        token: SecretString,
        chat_id: String,
    },
    Email(Box<Mailer>),
}

/// Why a channel could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("{channel}: {message}")]
pub struct SetupError {
    pub channel: &'static str,
    pub message: String,
}

impl Channel {
    pub fn build(cfg: &ChannelConfig, timeout: Duration) -> Result<Self, SetupError> {
        Ok(match cfg {
            ChannelConfig::Webhook { url } => Self::Webhook { url: url.clone() },
            ChannelConfig::Slack { url } => Self::Slack { url: url.clone() },
            ChannelConfig::Telegram {
                base_url,
                token,
                chat_id,
            } => Self::Telegram {
                base_url: base_url.trim_end_matches('/').to_string(),
                token: token.clone(),
                chat_id: chat_id.clone(),
            },
            ChannelConfig::Email(e) => {
                Self::Email(Box::new(Mailer::new(e, timeout).map_err(|message| {
                    SetupError {
                        channel: "email",
                        message,
                    }
                })?))
            }
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Webhook { .. } => "webhook",
            Self::Slack { .. } => "slack",
            Self::Telegram { .. } => "telegram",
            Self::Email(_) => "email",
        }
    }

    /// One attempt.
    pub async fn deliver(
        &self,
        http: &reqwest::Client,
        alert: &Alert,
        redactor: &Redactor,
    ) -> Result<(), DeliveryError> {
        match self {
            Self::Webhook { url } => {
                let body = serde_json::to_value(alert).unwrap_or_else(|_| json!({}));
                post(http, url.expose_secret(), &body, redactor, webhook_hint).await
            }
            Self::Slack { url } => {
                let body = json!({ "text": alert.message() });
                post(http, url.expose_secret(), &body, redactor, slack_hint).await
            }
            Self::Telegram {
                base_url,
                token,
                chat_id,
            } => {
                let url = format!("{base_url}/bot{}/sendMessage", token.expose_secret());
                let body = json!({
                    "chat_id": chat_id,
                    "text": alert.message(),
                    "disable_web_page_preview": true,
                });
                post(http, &url, &body, redactor, telegram_hint).await
            }
            Self::Email(m) => m.send(alert, redactor).await,
        }
    }
}

/// POSTs `body` as JSON; any 2xx is delivered.
async fn post(
    http: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
    redactor: &Redactor,
    hint: fn(u16) -> &'static str,
) -> Result<(), DeliveryError> {
    let resp = http.post(url).json(body).send().await.map_err(|e| {
        // reqwest's message names the URL, which may hold the token: drop it, then scrub.
        let e = e.without_url();
        let what = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "cannot connect"
        } else {
            "request failed"
        };
        DeliveryError::new(
            redactor.scrub(&format!("{what}: {}", error_chain(&e))),
            true,
        )
    })?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let text = resp.text().await.unwrap_or_default();
    let code = status.as_u16();
    let retryable = status.is_server_error() || code == 429 || code == 408;
    let mut message = format!("HTTP {status}");
    let detail = answer_detail(&text);
    if !detail.is_empty() {
        message.push_str(": ");
        message.push_str(&detail);
    }
    let hint = hint(code);
    if !hint.is_empty() {
        message.push_str(" (");
        message.push_str(hint);
        message.push(')');
    }
    Err(DeliveryError::new(redactor.scrub(&message), retryable))
}

/// The interesting part of an error answer: Telegram's `description`, else the text, short.
fn answer_detail(text: &str) -> String {
    let from_json = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| {
            ["description", "error", "message"]
                .iter()
                .find_map(|k| v.get(k).and_then(|d| d.as_str()).map(str::to_string))
        });
    let detail = from_json.unwrap_or_else(|| text.split_whitespace().collect::<Vec<_>>().join(" "));
    truncate(&detail, 200)
}

/// An error and its sources, each once, joined with `: ` (defined in `scalper-model`).
pub use scalper_model::error_chain;

fn webhook_hint(code: u16) -> &'static str {
    match code {
        401 | 403 => "the webhook refused the request: check SCALPER_ALERTS_WEBHOOK_URL (or [alerts.webhook] url) and its token",
        404 => "no webhook at that URL: check SCALPER_ALERTS_WEBHOOK_URL (or [alerts.webhook] url)",
        _ => "",
    }
}

fn slack_hint(code: u16) -> &'static str {
    match code {
        400 | 401 | 403 | 404 | 410 => "check SCALPER_ALERTS_SLACK_URL (or [alerts.slack] url): the incoming webhook may be revoked or mistyped",
        _ => "",
    }
}

fn telegram_hint(code: u16) -> &'static str {
    match code {
        401 | 404 => "Telegram refused the bot token: check SCALPER_ALERTS_TELEGRAM_TOKEN (from @BotFather)",
        400 => "check [alerts.telegram] chat_id, and that the bot was added to (or started in) that chat",
        403 => "the bot may not write to that chat: add it to the chat (or start it) and check [alerts.telegram] chat_id",
        _ => "",
    }
}
