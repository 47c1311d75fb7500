//! Background WAL checkpoints: with [`OpenOptions::background_checkpoint`], the writing
//! connection never checkpoints (SQLite's automatic checkpoint would stop the engine's event
//! loop for the checkpoint's fsyncs every thousand pages); a thread with its own connection
//! copies the WAL back into the database every second instead (`PASSIVE`: it never blocks the
//! writer), and once more when the journal closes.
//!
//! [`OpenOptions::background_checkpoint`]: crate::OpenOptions::background_checkpoint

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::error::JournalError;

/// How often the thread checkpoints.
const INTERVAL: Duration = Duration::from_secs(1);

/// The checkpoint thread; stopped (after a last checkpoint) when dropped.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Opens a second connection to `path` (already a WAL journal) and starts the thread.
    pub(crate) fn start(path: &Path, busy_timeout: Duration) -> Result<Self, JournalError> {
        let conn = Connection::open(path)
            .map_err(JournalError::sqlite("opening the checkpoint connection"))?;
        conn.busy_timeout(busy_timeout)
            .map_err(JournalError::sqlite("setting the checkpoint busy timeout"))?;
        let (stop, rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("journal-checkpoint".into())
            .spawn(move || loop {
                let last = !matches!(rx.recv_timeout(INTERVAL), Err(RecvTimeoutError::Timeout));
                if let Err(e) = checkpoint(&conn) {
                    tracing::warn!(error = %e, "journal checkpoint failed; the WAL keeps the records");
                }
                if last {
                    return;
                }
            })
            .map_err(|e| JournalError::Unwritable {
                path: path.to_path_buf(),
                detail: format!("cannot start the checkpoint thread: {e}"),
            })?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

fn checkpoint(conn: &Connection) -> rusqlite::Result<()> {
    // (busy, frames in the WAL, frames copied): a busy result just waits for the next turn.
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        r.get::<_, i64>(0).map(|_| ())
    })
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
