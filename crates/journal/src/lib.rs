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
mod export;
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
pub use export::{write_trades_csv, write_trades_json};
pub use reconcile::{
    reconcile, BrokerPosition, BrokerView, ConfirmLookup, ReconAction, ReconClass, ReconItem,
    ReconciliationReport,
};
pub use report::{build_report, Report, ReportRow};
pub use schema::SCHEMA_VERSION;
pub use store::{lock_path, Durability, OpenOptions, DEFAULT_PATH};
pub use types::{
    Amendment, Close, ConfirmOutcome, DayStats, EventRecord, Fill, Intent, SystemEvent, Trade,
    TradeDetail, TradeFilter, TradeId,
};

/// An open journal. Writable journals hold the engine lock until dropped.
pub struct Journal {
    conn: Connection,
    /// Declared before the lock: stopped (after its last checkpoint) before the lock is freed.
    _checkpoint: Option<checkpoint::Checkpointer>,
    _lock: Option<Connection>,
    path: PathBuf,
    read_only: bool,
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
        Ok(Journal {
            conn: opened.conn,
            _checkpoint: checkpoint,
            _lock: opened.lock,
            path: path.to_path_buf(),
            read_only: options.read_only,
        })
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
