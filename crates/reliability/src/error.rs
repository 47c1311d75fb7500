//! [`ReliabilityError`]: why the harness could not run or finish a crash test or a soak. A
//! violated invariant is not an error: it is reported in [`crate::Invariants`] and
//! [`crate::SoakReport`].

use std::path::PathBuf;
use std::process::ExitStatus;

use scalper_journal::JournalError;
use scalper_sandbox::{FaultSpecError, SandboxError};

/// An error of the harness itself (the engine or the sandbox could not be driven).
#[derive(Debug, thiserror::Error)]
pub enum ReliabilityError {
    /// The soak's options are unusable.
    #[error("--hours must be > 0")]
    Hours,
    /// A file of the working directory could not be written, or the engine process could not
    /// be started, signalled or reaped; `context` says which.
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// Asking the OS whether the engine process is still running failed.
    #[error(transparent)]
    Wait(std::io::Error),
    /// `kill -INT` ran but failed.
    #[error("kill -INT failed: {0}")]
    Interrupt(ExitStatus),
    /// The engine exited before the harness killed it; `output` is its stdout and stderr.
    #[error("the engine exited by itself ({status}) before the kill\n{output}")]
    EngineExited { status: ExitStatus, output: String },
    /// The in-process sandbox did not start.
    #[error("starting the sandbox")]
    SandboxStart(#[source] SandboxError),
    /// The sandbox refused a new simulator speed.
    #[error("changing the sandbox's speed")]
    Speed(#[source] SandboxError),
    /// The sandbox refused a fault to inject.
    #[error(transparent)]
    Fault(#[from] FaultSpecError),
    /// The sandbox has no account the engine could trade.
    #[error("the sandbox has no account {0}")]
    NoAccount(&'static str),
    /// The engine's journal could not be opened read-only.
    #[error("opening the journal {}", path.display())]
    JournalOpen {
        path: PathBuf,
        #[source]
        source: JournalError,
    },
    /// The engine's journal could not be read.
    #[error("reading the journal")]
    JournalRead(#[source] JournalError),
}

impl ReliabilityError {
    /// An I/O error with what was being done (lowercase, like `creating the run's stdout file`).
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| Self::Io { context, source }
    }
}
