//! Opening: creation, reopening, and every bad-file case (corrupt, malformed, locked, newer
//! schema, unwritable, foreign) gives a typed error and leaves the file byte-for-byte untouched.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;

use common::{fast, intent, open};
use scalper_journal::{lock_path, Journal, JournalError, OpenOptions, SCHEMA_VERSION};
use scalper_model::Direction;

#[test]
fn creates_parent_dir_and_reopens_with_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data/nested/journal.sqlite");
    {
        let mut j = open(&path);
        assert_eq!(j.schema_version().unwrap(), SCHEMA_VERSION);
        j.record_intent(&intent("R1", Direction::Buy, "1", 0))
            .unwrap();
    }
    let j = open(&path);
    assert_eq!(j.unresolved_trades().unwrap().len(), 1);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let applied: i64 = conn
        .query_row("SELECT count(*) FROM schema_migrations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(applied, SCHEMA_VERSION);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn garbage_file_is_corrupt_and_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 251) as u8).collect();
    fs::write(&path, &garbage).unwrap();
    let err = Journal::open(&path, &fast()).unwrap_err();
    assert!(matches!(err, JournalError::Corrupt { .. }), "{err}");
    assert!(err.is_fatal() && !err.is_retryable());
    assert!(err.to_string().contains("untouched"), "{err}");
    assert!(fs::read(&path).unwrap() == garbage, "file modified");
}

#[test]
fn malformed_database_is_corrupt_and_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    drop(open(&path));
    // Keep SQLite's header but smash the rest of the first page and the schema.
    let mut bytes = fs::read(&path).unwrap();
    assert!(bytes.len() >= 4096, "checkpointed database expected");
    for b in bytes.iter_mut().skip(100).take(3000) {
        *b = 0xA5;
    }
    fs::write(&path, &bytes).unwrap();
    let err = Journal::open(&path, &fast()).unwrap_err();
    assert!(matches!(err, JournalError::Corrupt { .. }), "{err}");
    assert!(fs::read(&path).unwrap() == bytes, "file modified");
}

#[test]
fn second_engine_is_locked_out_until_the_first_closes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    let first = open(&path);
    let err = Journal::open(&path, &fast()).unwrap_err();
    assert!(matches!(err, JournalError::Locked { .. }), "{err}");
    assert!(err.is_retryable());
    assert!(err.to_string().contains("another scalper engine"), "{err}");
    // Readers are still welcome while the engine runs.
    let reader = Journal::open(&path, &OpenOptions::read_only()).unwrap();
    assert!(reader.open_trades().unwrap().is_empty());
    drop(first);
    assert!(lock_path(&path).exists());
    open(&path);
}

#[test]
fn foreign_exclusive_transaction_gives_locked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    drop(open(&path));
    let other = rusqlite::Connection::open(&path).unwrap();
    other
        .execute_batch(
            "BEGIN EXCLUSIVE; INSERT INTO events (ts, kind, detail) VALUES (1, 'x', '{}');",
        )
        .unwrap();
    let err = Journal::open(&path, &fast()).unwrap_err();
    assert!(matches!(err, JournalError::Locked { .. }), "{err}");
    other.execute_batch("ROLLBACK").unwrap();
    open(&path);
}

#[test]
fn newer_schema_is_refused_and_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    drop(open(&path));
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.pragma_update(None, "user_version", 99).unwrap();
        c.pragma_update(None, "journal_mode", "DELETE").unwrap();
    }
    let before = fs::read(&path).unwrap();
    let err = Journal::open(&path, &fast()).unwrap_err();
    match &err {
        JournalError::SchemaTooNew {
            found, supported, ..
        } => {
            assert_eq!((*found, *supported), (99, SCHEMA_VERSION));
        }
        other => panic!("expected SchemaTooNew, got {other}"),
    }
    assert!(err.is_fatal());
    let err = Journal::open(&path, &OpenOptions::read_only()).unwrap_err();
    assert!(matches!(err, JournalError::SchemaTooNew { .. }), "{err}");
    assert!(fs::read(&path).unwrap() == before, "file modified");
}

#[test]
fn path_under_a_regular_file_is_unwritable() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file.txt");
    fs::write(&file, b"not a directory").unwrap();
    let err = Journal::open(file.join("journal.sqlite"), &fast()).unwrap_err();
    assert!(matches!(err, JournalError::Unwritable { .. }), "{err}");
    let err = Journal::open(file.join("sub/journal.sqlite"), &fast()).unwrap_err();
    assert!(matches!(err, JournalError::Unwritable { .. }), "{err}");
    assert!(
        fs::read(&file).unwrap() == b"not a directory",
        "file modified"
    );
}

#[test]
fn directory_path_is_unwritable() {
    let dir = tempfile::tempdir().unwrap();
    let err = Journal::open(dir.path(), &fast()).unwrap_err();
    assert!(matches!(err, JournalError::Unwritable { .. }), "{err}");
}

#[test]
fn foreign_sqlite_database_is_not_a_journal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.sqlite");
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch("CREATE TABLE customers (id INTEGER); INSERT INTO customers VALUES (7);")
            .unwrap();
    }
    let before = fs::read(&path).unwrap();
    let err = Journal::open(&path, &fast()).unwrap_err();
    assert!(matches!(err, JournalError::NotAJournal { .. }), "{err}");
    assert!(fs::read(&path).unwrap() == before, "file modified");
}

#[test]
fn read_only_open_of_missing_file_is_not_found_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing/journal.sqlite");
    let err = Journal::open(&path, &OpenOptions::read_only()).unwrap_err();
    assert!(matches!(err, JournalError::NotFound { .. }), "{err}");
    assert!(!path.parent().unwrap().exists());
}

#[test]
fn read_only_journal_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    drop(open(&path));
    let mut j = Journal::open(&path, &OpenOptions::read_only()).unwrap();
    let err = j
        .record_intent(&intent("R1", Direction::Buy, "1", 0))
        .unwrap_err();
    assert!(matches!(err, JournalError::ReadOnly), "{err}");
}

#[test]
fn reader_sees_what_the_running_engine_committed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    let mut engine = open(&path);
    let reader = Journal::open(&path, &OpenOptions::read_only()).unwrap();
    engine
        .record_intent(&intent("R1", Direction::Buy, "1", 0))
        .unwrap();
    let seen = reader.unresolved_trades().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].deal_reference.as_str(), "R1");
}

#[test]
fn an_empty_file_is_refused_never_made_into_a_new_journal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    std::fs::write(&path, b"").unwrap();
    let err = scalper_journal::Journal::open(&path, &scalper_journal::OpenOptions::default())
        .expect_err("an empty file is not a journal");
    assert!(
        matches!(err, scalper_journal::JournalError::Corrupt { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("empty"), "{err}");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0, "left untouched");
    assert!(!dir.path().join("journal.sqlite-wal").exists());
}

#[cfg(unix)]
#[test]
fn a_new_journal_its_wal_shm_lock_and_directory_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new").join("journal.sqlite");
    let mut j =
        scalper_journal::Journal::open(&path, &scalper_journal::OpenOptions::default()).unwrap();
    j.record_event(
        scalper_model::Timestamp::from_millis(0),
        &scalper_journal::SystemEvent::Refresh,
    )
    .unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir.path().join("new")), 0o700);
    for suffix in ["", "-wal", "-shm", ".lock", ".intents"] {
        let p = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
        assert_eq!(mode(&p), 0o600, "{}", p.display());
    }
}
