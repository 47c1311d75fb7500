//! A real second process: while it holds the journal, this one is locked out; after it is
//! killed with SIGKILL (right after an acknowledged intent), the lock is gone and the intent is
//! there, unresolved, for reconciliation.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{fast, intent, open};
use scalper_journal::{Journal, JournalError};
use scalper_model::Direction;

const CHILD_ENV: &str = "SCALPER_JOURNAL_CRASH_CHILD";

/// In the child: open the journal, write an intent, signal readiness, then wait to be killed.
#[test]
fn child_holder() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let mut j = open(&dir.join("journal.sqlite"));
    j.record_intent(&intent("CRASH-1", Direction::Buy, "1", 0))
        .unwrap();
    std::fs::write(dir.join("ready"), b"1").unwrap();
    // Parked until the parent kills this process (bounded in case the parent dies).
    let end = Instant::now() + Duration::from_secs(60);
    while Instant::now() < end {
        std::thread::park_timeout(Duration::from_millis(100));
    }
}

#[test]
fn sigkill_releases_the_lock_and_keeps_the_acknowledged_intent() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_holder", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir.path())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !dir.path().join("ready").exists() {
        assert!(Instant::now() < deadline, "child never became ready");
        assert!(child.try_wait().unwrap().is_none(), "child exited early");
        std::thread::sleep(Duration::from_millis(10));
    }
    let path = dir.path().join("journal.sqlite");
    let err = Journal::open(&path, &fast()).unwrap_err();
    assert!(matches!(err, JournalError::Locked { .. }), "{err}");

    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();

    let j = open(&path);
    let unresolved = j.unresolved_trades().unwrap();
    assert_eq!(unresolved.len(), 1);
    assert_eq!(unresolved[0].deal_reference.as_str(), "CRASH-1");
}
