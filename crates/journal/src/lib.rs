//! scalper-journal: the durable trade journal (SQLite, WAL, write-ahead of every order),
//! queries that let risk limits survive restarts, broker reconciliation and trade reports.
//!
//! Durability: WAL with `synchronous=FULL` by default (see [`Durability`]). One engine at a time
//! holds a journal (an OS lock released even on SIGKILL); readers may open it read-only meanwhile.
//!
//! Engine flow: `Journal::open` -> `trades_to_reconcile` -> (caller fetches positions and looks
//! up confirms) -> [`reconcile()`] -> `apply_reconciliation` -> `day_stats` for the risk limits ->
//! per order `record_intent` BEFORE sending, then `record_confirm` / `record_fill` /
//! `record_amendment` / `record_close_submitted` / `record_close`; `record_event` for the rest.

mod apply;
mod checkpoint;
mod error;
mod execution_report;
mod export;
mod intent_log;
mod query;
pub mod reconcile;
pub mod report;
mod schema;
mod store;
mod types;
mod write;

use std::path::{Path, PathBuf};

use rusqlite::Connection;

pub use apply::AppliedReconciliation;
pub use error::JournalError;
pub use execution_report::{
    build_execution_report, build_shadow_rows, ExecutionReport, ExecutionRow, ShadowRow,
};
pub use export::{write_trades_csv, write_trades_json};
pub use intent_log::{intent_log_path, IntentWriter};
pub use reconcile::{
    reconcile, BrokerPosition, BrokerView, ConfirmLookup, ReconAction, ReconClass, ReconItem,
    ReconciliationReport,
};
pub use report::{build_report, Report, ReportRow, FAR_FUTURE_MS};
pub use schema::SCHEMA_VERSION;
pub use store::{lock_path, Durability, OpenOptions, DEFAULT_PATH};
pub use types::{
    Amendment, Close, ConfirmOutcome, DayStats, EventRecord, Execution, Fill, Intent, PartialClose,
    RunSetup, ShadowLeg, ShadowOutcome, ShadowTrade, SkippedQuotes, StopKind, SystemEvent, Trade,
    TradeDetail, TradeFilter, TradeId,
};

/// An open journal. Writable journals hold the engine lock until dropped.
pub struct Journal {
    conn: Connection,
    /// The write-ahead log of opening requests (writable journals only).
    intents: Option<IntentWriter>,
    /// Declared before the lock: stopped (after its last checkpoint) before the lock is freed.
    _checkpoint: Option<checkpoint::Checkpointer>,
    _lock: Option<Connection>,
    path: PathBuf,
    read_only: bool,
    /// The file's schema version (older than [`SCHEMA_VERSION`] only when read-only).
    schema: i64,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.path)
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

impl Journal {
    /// Opens (creating if needed, unless read-only) the journal at `path`, checks it and applies
    /// pending migrations. Never overwrites or recreates a file that fails a check.
    pub fn open(path: impl AsRef<Path>, options: &OpenOptions) -> Result<Journal, JournalError> {
        let path = path.as_ref();
        let opened = store::open(path, options)?;
        let checkpoint = if options.background_checkpoint && !options.read_only {
            Some(checkpoint::Checkpointer::start(path, options.busy_timeout)?)
        } else {
            None
        };
        let intents = if options.read_only {
            None
        } else {
            Some(IntentWriter(std::sync::Arc::new(std::sync::Mutex::new(
                intent_log::IntentLog::open(path, options.durability == Durability::Full)?,
            ))))
        };
        let mut journal = Journal {
            conn: opened.conn,
            intents,
            _checkpoint: checkpoint,
            _lock: opened.lock,
            path: path.to_path_buf(),
            read_only: options.read_only,
            schema: opened.version,
        };
        journal.replay_intent_log()?;
        Ok(journal)
    }

    /// Write-ahead of an opening request, fast enough for the event loop: appends the intent to
    /// the intent log (see `intent_log.rs`). The request may be sent once this returns `Ok`;
    /// [`Journal::record_intent`] must follow (after the send is fine). A read-only journal
    /// refuses.
    pub fn log_intent(&mut self, intent: &Intent) -> Result<(), JournalError> {
        match self.intents.as_ref() {
            Some(log) => log.append(intent),
            None => Err(JournalError::ReadOnly),
        }
    }

    /// Empties the intent log: call only when every intent it holds is recorded in SQLite
    /// (a writer that made all its writes, at a clean stop).
    pub fn clear_intent_log(&mut self) -> Result<(), JournalError> {
        match self.intents.as_ref() {
            Some(log) => log
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clear(),
            None => Ok(()),
        }
    }

    /// A handle that appends to this journal's intent log from another thread (`None` when
    /// read-only).
    pub fn intent_writer(&self) -> Option<IntentWriter> {
        self.intents.clone()
    }

    /// Records every logged intent SQLite does not hold yet (the process stopped between the
    /// two writes), then empties the log. Returns how many were recovered.
    fn replay_intent_log(&mut self) -> Result<usize, JournalError> {
        let Some(log) = self.intents.clone() else {
            return Ok(0);
        };
        let logged = log
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .read_all()?;
        let mut recovered = 0;
        for intent in &logged {
            match self.record_intent(intent) {
                Ok(_) => {
                    recovered += 1;
                    tracing::warn!(reference = %intent.deal_reference, epic = %intent.epic,
                        "intent recovered from the intent log (the engine stopped before journaling it): reconciliation asks the broker what became of it");
                }
                Err(JournalError::DuplicateReference(_)) => {}
                Err(e) => return Err(e),
            }
        }
        log.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear()?;
        Ok(recovered)
    }

    /// Opens the default journal (`data/journal.sqlite`) with default options.
    pub fn open_default() -> Result<Journal, JournalError> {
        Self::open(DEFAULT_PATH, &OpenOptions::default())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version stored in the file.
    pub fn schema_version(&self) -> Result<i64, JournalError> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(JournalError::sqlite("reading the schema version"))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn journal_can_move_to_a_writer_thread() {
        fn assert_send<T: Send>() {}
        assert_send::<super::Journal>();
    }
}
