//! Backtest data loading: any bytes as a tick/bar CSV file, opened and iterated to the end
//! (records or an error naming the file, never a panic).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use scalper_backtest::{open_data, CacheMode, DataOptions};

fn path() -> &'static PathBuf {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let p = dir.path().join("ticks.csv");
        (dir, p)
    })
    .1
}

fuzz_target!(|data: &[u8]| {
    let p = path();
    if std::fs::write(p, data).is_err() {
        return;
    }
    let opts = DataOptions {
        cache: CacheMode::Off,
        bar_period_ms: None,
    };
    if let Ok(src) = open_data(&[p.clone()], &opts) {
        for r in src {
            if r.is_err() {
                break;
            }
        }
    }
});
