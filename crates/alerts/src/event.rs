//! What an alert says: the events a run reports ([`Event`]) and their rendering into one
//! [`Alert`] (title, text, severity), scrubbed of secrets once, before any channel sees it.

use std::fmt::Write as _;

use scalper_model::economics::Amount;
use scalper_model::Money;
use serde::Serialize;

use crate::redact::Redactor;

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

/// Something a run reports to its operator.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The run is starting (before login).
    Started {
        /// `dealing`, `paper` or `demo`.
        mode: String,
        /// `DEMO`, `LIVE` or `SANDBOX`.
        environment: String,
        instruments: Vec<String>,
    },
    /// The run ended (normally or not).
    Stopped {
        /// Why: `duration`, `interrupted`, `broker failure, …`, or the error that ended it.
        ended: String,
        trades: u64,
        pnl: Money,
        currency: Option<String>,
        open_positions: u32,
        paper_fallback: bool,
    },
    /// New entries halted (kill switch, signal or control request).
    Halted { reason: String },
    /// A halt made by the operator was lifted.
    Resumed,
    /// The daily loss limit locked trading for the rest of the session day.
    DailyLossLock {
        day_pnl: Money,
        currency: Option<String>,
    },
    /// The broker failed (dealing halted, or the run ended on a broker error).
    BrokerFailure { detail: String },
    /// The broker failed and the run went on on paper.
    PaperFallback { detail: String },
    /// IG refused the login (credentials, API key, account).
    LoginRefused { detail: String },
    /// Trades whose outcome has been unknown for a while.
    Unresolved { trades: u32, for_s: u64 },
    /// Reconciliation with the broker found a difference.
    Reconciliation { detail: String },
    /// No quote for a while.
    StreamSilent { for_s: u64, state: String },
    /// Quotes flow again after a [`Event::StreamSilent`].
    StreamResumed { after_s: u64 },
    /// A journal write failed (new entries halted).
    JournalFailure { detail: String },
    /// The day's trades and P&L.
    DailySummary {
        day: String,
        trades: u32,
        pnl: Money,
        currency: Option<String>,
        open_positions: usize,
    },
    /// `scalper alerts test`.
    Test,
}

impl Event {
    /// A stable name (JSON `event` field).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Started { .. } => "start",
            Self::Stopped { .. } => "stop",
            Self::Halted { .. } => "halt",
            Self::Resumed => "resume",
            Self::DailyLossLock { .. } => "daily_loss_lock",
            Self::BrokerFailure { .. } => "broker_failure",
            Self::PaperFallback { .. } => "paper_fallback",
            Self::LoginRefused { .. } => "login_refused",
            Self::Unresolved { .. } => "outcome_unresolved",
            Self::Reconciliation { .. } => "reconciliation_difference",
            Self::StreamSilent { .. } => "stream_silent",
            Self::StreamResumed { .. } => "stream_resumed",
            Self::JournalFailure { .. } => "journal_failure",
            Self::DailySummary { .. } => "daily_summary",
            Self::Test => "test",
        }
    }

    pub fn severity(&self) -> Severity {
        match self {
            Self::Started { .. }
            | Self::Resumed
            | Self::StreamResumed { .. }
            | Self::DailySummary { .. }
            | Self::Test => Severity::Info,
            Self::Stopped { ended, .. } if ended == "duration" || ended == "interrupted" => {
                Severity::Info
            }
            Self::Halted { .. }
            | Self::DailyLossLock { .. }
            | Self::Unresolved { .. }
            | Self::Reconciliation { .. }
            | Self::StreamSilent { .. } => Severity::Warning,
            Self::Stopped { .. }
            | Self::BrokerFailure { .. }
            | Self::PaperFallback { .. }
            | Self::LoginRefused { .. }
            | Self::JournalFailure { .. } => Severity::Critical,
        }
    }

    fn title(&self) -> String {
        match self {
            Self::Started { mode, .. } => format!("started ({mode})"),
            Self::Stopped { ended, .. } => format!("stopped: {ended}"),
            Self::Halted { reason } => format!("new entries halted: {reason}"),
            Self::Resumed => "trading resumed".into(),
            Self::DailyLossLock { .. } => "daily loss limit reached: locked for the day".into(),
            Self::BrokerFailure { .. } => "broker failure".into(),
            Self::PaperFallback { .. } => "broker failed: now trading on PAPER".into(),
            Self::LoginRefused { .. } => "login refused by IG".into(),
            Self::Unresolved { trades, for_s } => {
                format!("{trades} outcome(s) unresolved for {for_s} s")
            }
            Self::Reconciliation { .. } => "reconciliation found a difference with IG".into(),
            Self::StreamSilent { for_s, .. } => format!("no quote for {for_s} s"),
            Self::StreamResumed { .. } => "quotes flow again".into(),
            Self::JournalFailure { .. } => "journal write failed: new entries halted".into(),
            Self::DailySummary { day, .. } => format!("daily summary {day}"),
            Self::Test => "test alert".into(),
        }
    }

    fn body(&self) -> String {
        let amount =
            |m: &Money, c: &Option<String>| Amount::new(*m, c.as_deref().unwrap_or("")).to_string();
        match self {
            Self::Started {
                environment,
                instruments,
                ..
            } => format!(
                "environment {environment}, instruments {}",
                instruments.join(", ")
            ),
            Self::Stopped {
                trades,
                pnl,
                currency,
                open_positions,
                paper_fallback,
                ..
            } => {
                let mut s = format!(
                    "{trades} trade(s), P&L {}, {open_positions} position(s) left open",
                    amount(pnl, currency)
                );
                if *paper_fallback {
                    s.push_str("; the broker failed during the run and it went on on paper");
                }
                s
            }
            Self::Halted { .. } => {
                "open positions stay, managed, with their stops; resume with POST /api/resume or restart".into()
            }
            Self::Resumed => "new entries allowed again".into(),
            Self::DailyLossLock { day_pnl, currency } => format!(
                "the day's realised P&L is {}; no new entries until the next session day",
                amount(day_pnl, currency)
            ),
            Self::BrokerFailure { detail }
            | Self::PaperFallback { detail }
            | Self::LoginRefused { detail }
            | Self::Reconciliation { detail }
            | Self::JournalFailure { detail } => detail.clone(),
            Self::Unresolved { .. } => {
                "entries on those instruments are blocked until IG confirms the outcome".into()
            }
            Self::StreamSilent { state, .. } => format!("price stream state: {state}"),
            Self::StreamResumed { after_s } => format!("after {after_s} s without quotes"),
            Self::DailySummary {
                trades,
                pnl,
                currency,
                open_positions,
                ..
            } => format!(
                "{trades} trade(s), realised P&L {}, {open_positions} position(s) open",
                amount(pnl, currency)
            ),
            Self::Test => "scalper can reach this channel".into(),
        }
    }
}

/// One rendered alert, as every channel sends it.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    pub event: &'static str,
    pub severity: Severity,
    /// Who sent it (`[alerts] name`, default `scalper`).
    pub source: String,
    pub title: String,
    pub text: String,
    /// Wall-clock time of the alert (RFC 3339, UTC).
    pub at: String,
}

impl Alert {
    /// Renders `event`; everything built from outside text goes through `redactor`.
    pub fn render(event: &Event, source: &str, redactor: &Redactor) -> Self {
        #[allow(clippy::disallowed_methods)] // an alert's wall-clock time, not trading time
        let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        Self {
            event: event.kind(),
            severity: event.severity(),
            source: redactor.scrub(source),
            title: redactor.scrub(&event.title()),
            text: truncate(&redactor.scrub(&event.body()), 1500),
            at,
        }
    }

    /// One line of text: `[scalper] WARNING new entries halted: kill switch — …`.
    pub fn line(&self) -> String {
        let mut s = format!("[{}] ", self.source);
        if self.severity != Severity::Info {
            let _ = write!(s, "{} ", self.severity.as_str().to_uppercase());
        }
        s.push_str(&self.title);
        s
    }

    /// Title line and text, for chat and mail.
    pub fn message(&self) -> String {
        format!("{}\n{}", self.line(), self.text)
    }
}

/// At most `max` characters, with `…` when cut.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;
    use secrecy::SecretString;

    #[test]
    fn an_alert_built_from_an_error_carries_no_secret() {
        let mut r = Redactor::new();
        r.add(&SecretString::from("p4ssw0rd-smtp".to_string()));
        let ev = Event::BrokerFailure {
            detail: "login to https://demo-api.ig.com/gateway/deal/session?apiKey=AK47XYZ failed: \
                     password=p4ssw0rd-smtp token 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
                .into(),
        };
        let a = Alert::render(&ev, "scalper", &r);
        let all = serde_json::to_string(&a).unwrap();
        for secret in [
            "p4ssw0rd-smtp",
            "AK47XYZ",
            "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
            "123456789",
        ] {
            assert!(!all.contains(secret), "{secret} leaked: {all}");
        }
        assert!(a.text.contains("demo-api.ig.com"), "{}", a.text);
        assert!(a.text.contains("[redacted]"), "{}", a.text);
    }

    #[test]
    fn money_shows_in_the_account_currency() {
        let ev = Event::DailySummary {
            day: "2026-01-05".into(),
            trades: 7,
            pnl: Money::new(Decimal::new(-123_456, 2)),
            currency: Some("GBP".into()),
            open_positions: 1,
        };
        let a = Alert::render(&ev, "scalper", &Redactor::new());
        assert_eq!(a.title, "daily summary 2026-01-05");
        assert_eq!(
            a.text,
            "7 trade(s), realised P&L -1,234.56 GBP, 1 position(s) open"
        );
        assert_eq!(a.event, "daily_summary");
    }
}
