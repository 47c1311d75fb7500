//! With background checkpoints, the writer never checkpoints (its writes only append to the
//! WAL) and a thread moves the WAL into the database file; nothing is lost across a reopen.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{fast, intent};
use scalper_journal::{Durability, Journal, OpenOptions};
use scalper_model::Direction;

fn db_size(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

#[test]
fn the_wal_reaches_the_database_file_from_the_background_thread() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    let opts = OpenOptions {
        background_checkpoint: true,
        durability: Durability::Normal,
        ..fast()
    };
    let mut j = Journal::open(&path, &opts).unwrap();
    let before = db_size(&path);
    for n in 0..400 {
        j.record_intent(&intent(&format!("CP-{n}"), Direction::Buy, "1", n))
            .unwrap();
    }
    // The database file grows only by checkpoints, which the writer no longer runs.
    let deadline = Instant::now() + Duration::from_secs(10);
    while db_size(&path) <= before {
        assert!(
            Instant::now() < deadline,
            "no checkpoint within 10 s: the database file is still {before} bytes"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(j);
    let j = Journal::open(&path, &fast()).unwrap();
    assert_eq!(j.trades_to_reconcile().unwrap().len(), 400);
}
