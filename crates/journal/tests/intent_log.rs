//! The intent log (write-ahead of opening requests): an intent logged but not yet in SQLite when
//! the process stopped is recovered at the next open, so reconciliation asks the broker about
//! it; a torn last line is dropped; a corrupt line refuses the open and leaves the files alone.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;

use common::{dref, intent, open};
use scalper_journal::{intent_log_path, JournalError};
use scalper_model::{DealState, Direction};

#[test]
fn an_intent_logged_but_never_recorded_is_recovered_at_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.sqlite");
    {
        let mut j = open(&path);
        // Both writes: the normal case.
        j.log_intent(&intent("REF-BOTH", Direction::Buy, "1", 0))
            .unwrap();
        j.record_intent(&intent("REF-BOTH", Direction::Buy, "1", 0))
            .unwrap();
        // The process "dies" between the log and the SQLite record.
        j.log_intent(&intent("REF-LOST", Direction::Sell, "2", 10))
            .unwrap();
    }
    let log = intent_log_path(&path);
    assert!(std::fs::metadata(&log).unwrap().len() > 0, "logged");
    let j = open(&path);
    let to_ask = j.trades_to_reconcile().unwrap();
    let lost = to_ask
        .iter()
        .find(|t| t.deal_reference == dref("REF-LOST"))
        .expect("the logged intent is in the journal after the reopen");
    assert_eq!(lost.state, DealState::Intent);
    assert_eq!(lost.direction, Direction::Sell);
    assert_eq!(
        to_ask
            .iter()
            .filter(|t| t.deal_reference == dref("REF-BOTH"))
            .count(),
        1,
        "an intent already recorded is not duplicated"
    );
    assert_eq!(
        std::fs::metadata(&log).unwrap().len(),
        0,
        "the log is emptied once SQLite holds everything"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&log).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the intent log is private");
    }
}

#[test]
fn a_torn_last_line_is_dropped_and_a_corrupt_line_refuses_the_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.sqlite");
    {
        let mut j = open(&path);
        j.log_intent(&intent("REF-OK", Direction::Buy, "1", 0))
            .unwrap();
    }
    let log = intent_log_path(&path);
    // A write cut short: no newline at the end.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(b"{\"ts\":1795687200000,\"deal_refer")
        .unwrap();
    {
        let j = open(&path);
        let refs: Vec<_> = j
            .trades_to_reconcile()
            .unwrap()
            .into_iter()
            .map(|t| t.deal_reference)
            .collect();
        assert_eq!(refs, vec![dref("REF-OK")]);
    }
    std::fs::write(&log, b"garbage line\n{}\n").unwrap();
    let err = scalper_journal::Journal::open(&path, &scalper_journal::OpenOptions::default())
        .expect_err("a corrupt intent log refuses the open");
    assert!(matches!(err, JournalError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("line 1"), "{err}");
    assert_eq!(
        std::fs::read(&log).unwrap(),
        b"garbage line\n{}\n",
        "the log is left as it was"
    );
}
