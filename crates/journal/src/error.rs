//! `JournalError`: every way opening, writing or reading the journal can fail, typed so that
//! callers can branch (locked is retryable; corrupt, newer schema and unwritable are fatal).

use std::path::PathBuf;

use scalper_model::{DealEvent, DealReference, DealState};

use crate::TradeId;

/// An error from the journal. Opening never overwrites or recreates a file that failed to open.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The file exists but is not a SQLite database, or SQLite reports it malformed.
    #[error("journal {path} is corrupt ({detail}); it was left untouched: restore it from a backup or move it away")]
    Corrupt { path: PathBuf, detail: String },
    /// The file is a SQLite database but not a scalper journal (foreign tables, other application id).
    #[error(
        "{path} is a SQLite database but not a scalper journal ({detail}); it was left untouched"
    )]
    NotAJournal { path: PathBuf, detail: String },
    /// Another running engine holds the journal, or another connection holds a write lock.
    #[error("journal {path} is locked: {detail}; stop the other scalper process or use another --journal path")]
    Locked { path: PathBuf, detail: String },
    /// The journal was written by a newer scalper (schema version `found` > `supported`).
    #[error("journal {path} has schema version {found}, newer than this binary supports ({supported}); upgrade scalper")]
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    /// A read-only open found an older schema that needs migrating by a writable open first.
    #[error("journal {path} has schema version {found} but {supported} is needed; open it once for writing (e.g. start the engine) to migrate")]
    SchemaTooOld {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    /// A read-only open of a journal that does not exist.
    #[error("journal {path} does not exist")]
    NotFound { path: PathBuf },
    /// The path or its directory cannot be created or written.
    #[error("journal {path} is not writable: {detail}")]
    Unwritable { path: PathBuf, detail: String },
    /// The journal was opened read-only and a write was attempted.
    #[error("journal was opened read-only")]
    ReadOnly,
    /// No trade with this deal reference.
    #[error("no trade with deal reference {0}")]
    UnknownReference(DealReference),
    /// No trade with this id.
    #[error("no trade with id {0}")]
    UnknownTrade(TradeId),
    /// An intent with this deal reference was already journaled.
    #[error("deal reference {0} is already journaled")]
    DuplicateReference(DealReference),
    /// The event makes no sense in the trade's current state; nothing was written.
    #[error("trade {deal_reference}: impossible transition {event:?} in state {state:?}; nothing was written")]
    Transition {
        deal_reference: DealReference,
        state: DealState,
        event: DealEvent,
    },
    /// A stored value could not be decoded (hand-edited or damaged row).
    #[error("journal row cannot be decoded ({context}): {detail}")]
    Decode {
        context: &'static str,
        detail: String,
    },
    /// A SQLite error not covered above.
    #[error("journal database error while {context}: {source}")]
    Sqlite {
        context: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    /// Writing an export failed.
    #[error("export failed: {0}")]
    Export(String),
}

impl JournalError {
    /// True when trying again later may succeed (another process may release the lock).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Locked { .. })
    }

    /// True when the engine must not start trading with this journal.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Self::Corrupt { .. }
                | Self::NotAJournal { .. }
                | Self::SchemaTooNew { .. }
                | Self::SchemaTooOld { .. }
                | Self::Unwritable { .. }
                | Self::NotFound { .. }
                | Self::Sqlite { .. }
                | Self::Decode { .. }
        )
    }

    pub(crate) fn sqlite(context: &'static str) -> impl FnOnce(rusqlite::Error) -> Self {
        move |source| Self::Sqlite { context, source }
    }

    pub(crate) fn decode(context: &'static str, detail: impl std::fmt::Display) -> Self {
        Self::Decode {
            context,
            detail: detail.to_string(),
        }
    }
}
