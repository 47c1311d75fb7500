//! The intent log: the write-ahead of opening requests in a small append-only file beside the
//! journal (`<journal>.intents`), one JSON line per intent.
//!
//! An opening request may leave only once its intent is durable. Writing it into SQLite costs a
//! transaction over several B-trees (about 200 µs on the live event loop, more under load); one
//! `write` of one line costs a few microseconds and gives the same guarantee: the kernel has it
//! when the call returns (the process may then die), and with [`Durability::Full`] it is also
//! `fdatasync`ed, as SQLite's `synchronous=FULL` would. The SQLite record follows once the
//! request is out ([`Journal::record_intent`]).
//!
//! When the journal opens for writing, every logged intent SQLite does not hold yet (the
//! process died between the two writes) is recorded as an intent, so reconciliation resolves it
//! with the broker like any other; then the log is emptied. A torn last line (the process died
//! inside the `write`) was never acknowledged, so its request was never sent: it is dropped with
//! a warning. Any other unreadable line is corruption and refuses the open.
//!
//! [`Durability::Full`]: crate::Durability::Full
//! [`Journal::record_intent`]: crate::Journal::record_intent

use std::fs::{File, OpenOptions as FsOpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::{Intent, JournalError};

/// The intent log's path for the journal at `journal`.
pub fn intent_log_path(journal: &Path) -> PathBuf {
    let mut s = journal.as_os_str().to_owned();
    s.push(".intents");
    PathBuf::from(s)
}

/// The open intent log.
#[derive(Debug)]
pub(crate) struct IntentLog {
    file: File,
    path: PathBuf,
    sync: bool,
    line: Vec<u8>,
}

impl IntentLog {
    /// Opens (creating, private to the user) the log beside `journal`.
    pub(crate) fn open(journal: &Path, sync: bool) -> Result<Self, JournalError> {
        let path = intent_log_path(journal);
        let mut opts = FsOpenOptions::new();
        opts.read(true).append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let file = opts.open(&path).map_err(|e| JournalError::Unwritable {
            path: path.clone(),
            detail: format!("cannot open the intent log: {e}"),
        })?;
        Ok(Self {
            file,
            path,
            sync,
            line: Vec::with_capacity(512),
        })
    }

    fn io_error(&self, what: &str, e: &std::io::Error) -> JournalError {
        JournalError::Unwritable {
            path: self.path.clone(),
            detail: format!("{what}: {e}"),
        }
    }

    /// Appends one intent with a single `write` (and `fdatasync` when durable).
    pub(crate) fn append(&mut self, intent: &Intent) -> Result<(), JournalError> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, intent)
            .map_err(|e| JournalError::decode("intent", e))?;
        self.line.push(b'\n');
        self.file
            .write_all(&self.line)
            .map_err(|e| self.io_error("writing the intent log", &e))?;
        if self.sync {
            self.file
                .sync_data()
                .map_err(|e| self.io_error("syncing the intent log", &e))?;
        }
        Ok(())
    }

    /// Every intent in the log, oldest first. A torn last line is dropped (with a warning);
    /// any other unreadable line is an error naming the file and line.
    pub(crate) fn read_all(&mut self) -> Result<Vec<Intent>, JournalError> {
        let mut bytes = Vec::new();
        let mut file = &self.file;
        std::io::Seek::rewind(&mut file)
            .map_err(|e| self.io_error("reading the intent log", &e))?;
        file.read_to_end(&mut bytes)
            .map_err(|e| self.io_error("reading the intent log", &e))?;
        parse(&bytes, &self.path)
    }

    /// Empties the log (every intent in it is in SQLite).
    pub(crate) fn clear(&mut self) -> Result<(), JournalError> {
        self.file
            .set_len(0)
            .map_err(|e| self.io_error("emptying the intent log", &e))?;
        if self.sync {
            self.file
                .sync_all()
                .map_err(|e| self.io_error("syncing the intent log", &e))?;
        }
        Ok(())
    }
}

/// A handle on the intent log for another thread than the journal's (the live event loop,
/// while a writer thread owns the [`Journal`](crate::Journal)). Appends are serialised.
#[derive(Debug, Clone)]
pub struct IntentWriter(pub(crate) Arc<Mutex<IntentLog>>);

impl IntentWriter {
    /// Appends `intent` (see [`Journal::log_intent`](crate::Journal::log_intent)).
    pub fn append(&self, intent: &Intent) -> Result<(), JournalError> {
        // A panic while holding the lock cannot leave a half-written line behind the mutex: the
        // line is one `write`. Keep logging after it.
        let mut log = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        log.append(intent)
    }
}

fn parse(bytes: &[u8], path: &Path) -> Result<Vec<Intent>, JournalError> {
    let mut out = Vec::new();
    let complete = bytes.last().is_none_or(|b| *b == b'\n');
    let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    // `split` yields an empty piece after the final newline.
    let n = lines.len();
    for (i, line) in lines.into_iter().enumerate() {
        if line.is_empty() {
            continue;
        }
        let last = i + 1 == n;
        match serde_json::from_slice::<Intent>(line) {
            Ok(intent) => out.push(intent),
            Err(_) if last && !complete => {
                tracing::warn!(path = %path.display(), "the intent log ends in a torn line (the process stopped while writing it; its request was never sent): dropped");
            }
            Err(e) => {
                return Err(JournalError::Corrupt {
                    path: path.to_path_buf(),
                    detail: format!(
                        "intent log line {}: {e}; move the file aside only after checking the broker for the deal references in it",
                        i + 1
                    ),
                })
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use scalper_model::{DealReference, Direction, Epic, OrderType, Size, Timestamp};

    fn intent(r: &str) -> Intent {
        Intent {
            ts: Timestamp::from_millis(1_795_687_200_000),
            deal_reference: DealReference::new(r).expect("reference"),
            epic: Epic::new("CS.D.EURUSD.CFD.IP").expect("epic"),
            direction: Direction::Buy,
            size: Size::new(rust_decimal::Decimal::ONE),
            order_type: OrderType::Market,
            level: None,
            stop_level: None,
            limit_level: None,
            paper: false,
            strategy: Some("ema-cross".into()),
        }
    }

    fn line(i: &Intent) -> Vec<u8> {
        let mut v = serde_json::to_vec(i).expect("json");
        v.push(b'\n');
        v
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_the_rest_kept() {
        let mut bytes = line(&intent("REF-A"));
        bytes.extend_from_slice(&line(&intent("REF-B"))[..20]);
        let got = parse(&bytes, Path::new("x.intents")).expect("parsed");
        assert_eq!(got, vec![intent("REF-A")]);
    }

    #[test]
    fn an_unreadable_complete_line_is_corruption_naming_the_line() {
        let mut bytes = line(&intent("REF-A"));
        bytes.extend_from_slice(b"{not json}\n");
        bytes.extend_from_slice(&line(&intent("REF-C")));
        let err = parse(&bytes, Path::new("x.intents")).expect_err("corrupt");
        let text = err.to_string();
        assert!(text.contains("line 2"), "{text}");
        assert!(text.contains("x.intents"), "{text}");
    }

    #[test]
    fn empty_and_complete_logs_parse() {
        assert!(parse(b"", Path::new("x")).expect("empty").is_empty());
        let mut bytes = line(&intent("REF-A"));
        bytes.extend_from_slice(&line(&intent("REF-B")));
        assert_eq!(parse(&bytes, Path::new("x")).expect("two").len(), 2);
    }
}
