//! [`LiveError`]: why a live run could not start or had to stop, typed so that callers (the
//! CLI's exit codes, a service, a language binding) can branch on the cause.

use scalper_ig::IgError;
use scalper_journal::JournalError;

/// A live run's failure. The broker and journal variants keep the typed error as their source.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// Ctrl-C, SIGTERM, SIGHUP (or a programmatic kill switch) during start-up: nothing was
    /// sent.
    #[error("interrupted (Ctrl-C, SIGTERM or SIGHUP) during start-up, {stage}: no order was sent")]
    Interrupted { stage: String },
    /// A broker call failed during start-up (login, market details, reconciliation).
    #[error("{context}")]
    Broker {
        context: String,
        #[source]
        source: IgError,
    },
    /// The journal cannot be opened, read or written.
    #[error("{context}")]
    Journal {
        context: String,
        #[source]
        source: JournalError,
    },
    /// Reconciliation found a difference only an operator can settle.
    #[error("reconciliation found a difference that needs an operator (see the report above); no trading until it is resolved")]
    NeedsOperator,
    /// The engine refused its configuration or start state.
    #[error("{context}: {detail}")]
    Engine { context: String, detail: String },
    /// The run's options contradict each other (nothing was started).
    #[error("{0}")]
    Options(String),
    /// The process cannot listen for signals.
    #[error("cannot listen for Ctrl-C, SIGTERM or SIGHUP: {0}")]
    Signals(#[source] std::io::Error),
}

impl LiveError {
    pub(crate) fn broker(context: impl Into<String>) -> impl FnOnce(IgError) -> Self {
        let context = context.into();
        move |source| Self::Broker { context, source }
    }

    pub(crate) fn journal(context: impl Into<String>) -> impl FnOnce(JournalError) -> Self {
        let context = context.into();
        move |source| Self::Journal { context, source }
    }

    /// The broker error behind this one, if any.
    pub fn ig_error(&self) -> Option<&IgError> {
        match self {
            Self::Broker { source, .. } => Some(source),
            _ => None,
        }
    }
}
