//! scalper-alerts: tells an operator what a headless run does. Channels (JSON webhook,
//! Slack-compatible webhook, Telegram Bot API, e-mail over SMTP with STARTTLS), a bounded queue
//! per channel drained by its own task with retries and backoff (trading never waits for an
//! alert; a full queue drops and counts), secrets scrubbed from every alert, and a watcher that
//! derives events from the run's status snapshots so the event loop does nothing for alerts.
//!
//! The CLI builds an [`AlertsConfig`] from `[alerts]`, starts [`Alerts`], spawns the
//! [`watch::spawn`] watcher on the run's `TelemetryView`, and sends the start, stop, refused
//! login and broker-failure events itself.

pub mod channel;
pub mod config;
pub mod email;
pub mod event;
pub mod queue;
pub mod redact;
pub mod watch;

pub use channel::{Channel, DeliveryError, SetupError};
pub use config::{AlertsConfig, ChannelConfig, Delivery, EmailConfig, WatchConfig, TELEGRAM_API};
pub use event::{Alert, Event, Severity};
pub use queue::{test_channels, Alerts, Dispatcher};
pub use redact::{Redactor, REDACTED};
pub use watch::{Watch, Watcher};
