//! The last log records for observers (the status page's "last log lines"): a `tracing` layer
//! that keeps the latest [`LOG_LINES_KEPT`] records at INFO and above in a small ring, once a
//! [`crate::TelemetryView`] is attached to it (before that it keeps nothing). Fields whose name
//! says they hold a secret are replaced by `[redacted]`; every other field is already free of
//! secrets (the IG client scrubs server text before it logs it).

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use scalper_model::Timestamp;
use serde::Serialize;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Layer};

/// Log records kept.
pub const LOG_LINES_KEPT: usize = 50;
/// A record's text is cut after this many bytes.
const LINE_MAX: usize = 600;
/// Field names whose values are never shown (lower case; a name containing one matches).
const SECRET_FIELDS: [&str; 7] = [
    "password",
    "api_key",
    "apikey",
    "secret",
    "authorization",
    "cst",
    "security_token",
];

/// One log record.
#[derive(Debug, Clone, Serialize)]
pub struct LogLine {
    /// Increases by one per record kept (the page redraws when it moves).
    pub seq: u64,
    /// Wall-clock time of the record.
    pub at: Timestamp,
    pub level: &'static str,
    /// The module that logged it (`scalper_live::trading`).
    pub target: String,
    /// The message then the fields, `key=value`.
    pub message: String,
}

#[derive(Debug, Default)]
struct Ring {
    on: AtomicBool,
    seq: AtomicU64,
    lines: Mutex<VecDeque<LogLine>>,
}

/// The ring of recent records, shared by the layer that fills it and the observers that read
/// it. Clones share the ring.
#[derive(Debug, Clone, Default)]
pub struct LogTail {
    ring: Arc<Ring>,
}

impl LogTail {
    pub fn new() -> Self {
        Self::default()
    }

    /// The `tracing` layer that feeds this tail: INFO and above only (its own filter, so it
    /// turns no DEBUG or TRACE call site on).
    pub fn layer<S>(&self) -> impl Layer<S> + Send + Sync + 'static
    where
        S: Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        TailLayer { tail: self.clone() }.with_filter(LevelFilter::INFO)
    }

    /// Starts keeping records (an observer is attached).
    pub(crate) fn enable(&self) {
        self.ring.on.store(true, Ordering::Relaxed);
    }

    /// The kept records, oldest first.
    pub fn lines(&self) -> Vec<LogLine> {
        self.ring
            .lines
            .lock()
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The sequence number of the latest record (0: none yet).
    pub fn last_seq(&self) -> u64 {
        self.ring.seq.load(Ordering::Relaxed)
    }

    fn push(&self, level: &'static str, target: &str, message: String) {
        let Ok(mut lines) = self.ring.lines.lock() else {
            return;
        };
        let seq = self.ring.seq.fetch_add(1, Ordering::Relaxed) + 1;
        if lines.len() == LOG_LINES_KEPT {
            lines.pop_front();
        }
        lines.push_back(LogLine {
            seq,
            at: wall_now(),
            level,
            target: target.to_string(),
            message,
        });
    }
}

#[allow(clippy::disallowed_methods)] // a log record carries the wall-clock time, like the log file
fn wall_now() -> Timestamp {
    Timestamp::from_datetime(chrono::Utc::now())
}

struct TailLayer {
    tail: LogTail,
}

impl<S: Subscriber> Layer<S> for TailLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if !self.tail.ring.on.load(Ordering::Relaxed) {
            return;
        }
        let meta = event.metadata();
        let level = match *meta.level() {
            Level::ERROR => "ERROR",
            Level::WARN => "WARN",
            Level::INFO => "INFO",
            _ => return,
        };
        let mut text = Text::default();
        event.record(&mut text);
        self.tail.push(level, meta.target(), text.finish());
    }
}

/// The message and fields of one record as text.
#[derive(Default)]
struct Text {
    message: String,
    fields: String,
}

impl Text {
    fn finish(self) -> String {
        let mut s = self.message;
        if !self.fields.is_empty() {
            if !s.is_empty() {
                s.push(' ');
            }
            s.push_str(self.fields.trim_start());
        }
        if s.len() > LINE_MAX {
            let mut cut = LINE_MAX;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            s.truncate(cut);
            s.push('…');
        }
        s
    }

    fn field(&mut self, field: &Field, value: &dyn std::fmt::Display) {
        let name = field.name();
        if name == "message" {
            let _ = write!(self.message, "{value}");
        } else if is_secret(name) {
            let _ = write!(self.fields, " {name}=[redacted]");
        } else {
            let _ = write!(self.fields, " {name}={value}");
        }
    }
}

fn is_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_FIELDS.iter().any(|s| name.contains(s))
}

impl Visit for Text {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.field(field, &value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.field(field, &format_args!("{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    #[test]
    fn keeps_the_last_records_at_info_and_above_with_secrets_redacted() {
        let tail = LogTail::new();
        let subscriber = tracing_subscriber::registry().with(tail.layer());
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("before an observer: not kept");
            tail.enable();
            tracing::debug!("debug: not kept");
            tracing::info!(epic = "CS.D.EURUSD.CFD.IP", size = 1.5, "order submitted");
            tracing::warn!(
                password = "hunter2",
                api_key = "k-123",
                user = "bob",
                "login refused"
            );
            for i in 0..LOG_LINES_KEPT {
                tracing::error!(i, "many");
            }
        });
        let lines = tail.lines();
        assert_eq!(lines.len(), LOG_LINES_KEPT);
        assert_eq!(tail.last_seq(), 2 + LOG_LINES_KEPT as u64);
        assert_eq!(lines[LOG_LINES_KEPT - 1].message, "many i=49");
        assert_eq!(lines[0].message, "many i=0");
        assert_eq!(lines[0].level, "ERROR");
        // Replay the two earlier ones through a larger window.
        let tail = LogTail::new();
        tail.enable();
        let subscriber = tracing_subscriber::registry().with(tail.layer());
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(epic = "CS.D.EURUSD.CFD.IP", size = 1.5, "order submitted");
            tracing::warn!(
                password = "hunter2",
                api_key = "k-123",
                user = "bob",
                "login refused"
            );
        });
        let lines = tail.lines();
        assert_eq!(lines[0].level, "INFO");
        assert_eq!(
            lines[0].message,
            "order submitted epic=CS.D.EURUSD.CFD.IP size=1.5"
        );
        assert!(lines[0].target.contains("logtail"), "{:?}", lines[0]);
        assert_eq!(
            lines[1].message,
            "login refused password=[redacted] api_key=[redacted] user=bob"
        );
        assert!(!format!("{lines:?}").contains("hunter2"));
    }

    #[test]
    fn a_long_record_is_cut() {
        let tail = LogTail::new();
        tail.enable();
        let subscriber = tracing_subscriber::registry().with(tail.layer());
        let long = "é".repeat(LINE_MAX);
        tracing::subscriber::with_default(subscriber, || tracing::info!("{long}"));
        let line = &tail.lines()[0].message;
        assert!(line.len() <= LINE_MAX + '…'.len_utf8(), "{}", line.len());
        assert!(line.ends_with('…'));
    }
}
