//! Fuzzing of the data loaders: arbitrary and structurally plausible file contents (quote and
//! bar CSVs, IG price JSON, binary caches) are written to a temporary file, opened and
//! iterated to the end, with and without the cache. Every outcome must be `Ok` records or an
//! error naming the file; no panic in the caller's thread or in a loader's worker thread.
//!
//! `SCALPER_FUZZ_CASES=20000 cargo test -p scalper-backtest --test fuzz_loaders` runs longer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use scalper_backtest::{open_data, CacheMode, DataOptions, Record, RecordSource};
use scalper_model::Epic;

fn cases(default: u32) -> u32 {
    std::env::var("SCALPER_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config(default: u32) -> Config {
    Config {
        cases: cases(default),
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..Config::default()
    }
}

/// Panics anywhere in this process (the JSON loader parses on a worker thread, whose panic
/// the iterator would otherwise only see as a hang-up).
static PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            default(info);
        }));
    });
}

/// Opens `path` and reads it to the end; returns the records read before the end or the
/// first error. Checks the error names the file.
fn load(path: &Path, cache: CacheMode) -> Result<Vec<Record>, String> {
    count_panics();
    let before = PANICS.load(Ordering::SeqCst);
    let opts = DataOptions {
        cache,
        bar_period_ms: None,
    };
    let epic = Epic::new("CS.D.EURUSD.CFD.IP").unwrap();
    let mut out = Vec::new();
    let res = match open_data(&[path.to_path_buf()], &opts) {
        Err(e) => Err(e),
        Ok(src) => {
            let mut res = Ok(());
            for r in src {
                match r {
                    Ok(rec) => {
                        // The conversions every run applies.
                        match &rec {
                            Record::Quote(q) => drop(q.to_quote(&epic)),
                            Record::Bar(b) => drop(b.to_candle(&epic)),
                        }
                        out.push(rec);
                    }
                    Err(e) => {
                        res = Err(e);
                        break;
                    }
                }
            }
            res
        }
    };
    assert_eq!(
        PANICS.load(Ordering::SeqCst),
        before,
        "a loader thread panicked on {}",
        path.display()
    );
    let one_by_one = match res {
        Ok(()) => Ok(out),
        Err(e) => {
            let msg = e.to_string();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            assert!(msg.contains(&name), "error does not name the file: {msg}");
            Err(msg)
        }
    };
    // Batched reads (the backtest's way) give the same records and the same error, at the
    // same place, whatever the batch size.
    for size in [1, 3, 1024] {
        assert_eq!(
            load_batched(path, &opts, size),
            one_by_one,
            "batches of {size} differ on {}",
            path.display()
        );
    }
    one_by_one
}

/// Reads `path` through [`RecordSource::next_batch`] in batches of `size`.
fn load_batched(path: &Path, opts: &DataOptions, size: usize) -> Result<Vec<Record>, String> {
    let mut src = open_data(&[path.to_path_buf()], opts).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    loop {
        let before = out.len();
        let more = src.next_batch(&mut out, size).map_err(|e| e.to_string())?;
        assert!(out.len() - before <= size, "a batch overfilled");
        if !more {
            return Ok(out);
        }
    }
}

/// Loads without a cache, then twice with one (building it, then reading it back), and checks
/// the cached read gives the same records.
fn load_all_ways(dir: &Path, name: &str, bytes: &[u8]) {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    let plain = load(&p, CacheMode::Off);
    let cache_dir = dir.join("cache");
    let first = load(&p, CacheMode::Dir(cache_dir.clone()));
    let second = load(&p, CacheMode::Dir(cache_dir.clone()));
    assert_eq!(plain.is_ok(), first.is_ok(), "cache changed the outcome");
    if let (Ok(a), Ok(b)) = (&plain, &second) {
        assert_eq!(a, b, "records read back from the cache differ");
    }
    // The cache files themselves, opened directly.
    if let Ok(entries) = std::fs::read_dir(&cache_dir) {
        for e in entries.flatten() {
            let _ = load(&e.path(), CacheMode::Off);
        }
    }
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[0-9]{1,2}\\.[0-9]{1,6}".prop_map(|s| s),
        1 => Just("9223372036".to_string()),
        1 => Just("9223372036.854775807".to_string()),
        1 => Just("-9223372036.854775808".to_string()),
        1 => Just("99999999999999999999".to_string()),
        1 => Just("1.00000000050000000001".to_string()),
        1 => Just("NaN".to_string()),
        1 => Just(String::new()),
        1 => Just("1e5".to_string()),
        1 => Just("\"1.1\"".to_string()),
        1 => any::<i64>().prop_map(|i| i.to_string()),
        1 => any::<f64>().prop_map(|f| f.to_string()),
        1 => "\\PC{0,6}".prop_map(|s| s),
    ]
}

fn timestamp() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (1_704_182_400_000i64..1_704_182_500_000).prop_map(|t| t.to_string()),
        1 => any::<i64>().prop_map(|t| t.to_string()),
        1 => "[0-9]{1,25}".prop_map(|s| s),
        1 => "[0-9]{1,12}\\.[0-9]{0,12}".prop_map(|s| s),
        1 => "[0-9]{4}[-/:][0-9]{2}[-/:][0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,9})?)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?".prop_map(|s| s),
        1 => Just("2024-02-30T25:61:61Z".to_string()),
        1 => Just("9999-12-31T23:59:59.999+14:00".to_string()),
        1 => Just("0000-01-01".to_string()),
        1 => "\\PC{0,12}".prop_map(|s| s),
    ]
}

const HEADERS: [&str; 8] = [
    "ts_ms,bid,ask",
    "Time,Offer,Bid",
    "timestamp,open,high,low,close,volume",
    ",Open,High,Low,Close,Spread",
    "date,open_bid,high_bid,low_bid,close_bid,open_ask,high_ask,low_ask,close_ask,volume",
    "time,bid,ask,extra",
    "\u{feff}\"ts\",\"bid\",\"ask\"",
    "nonsense,columns",
];

fn csv_text() -> impl Strategy<Value = String> {
    (
        0..HEADERS.len(),
        proptest::collection::vec(
            (
                timestamp(),
                proptest::collection::vec(number(), 0..11),
                prop_oneof![Just(","), Just(";"), Just(",\""), Just(",,")],
            ),
            0..12,
        ),
        prop_oneof![Just("\n"), Just("\r\n"), Just("\n\n")],
    )
        .prop_map(|(h, rows, nl)| {
            let mut s = HEADERS[h].to_string();
            for (ts, vals, sep) in rows {
                s.push_str(nl);
                s.push_str(&ts);
                for v in vals {
                    s.push_str(sep);
                    s.push_str(&v);
                }
            }
            s
        })
}

fn json_number() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (1.0f64..2.0).prop_map(|f| format!("{f}")),
        1 => Just("9.3e9".to_string()),
        1 => Just("-9.3e9".to_string()),
        1 => Just("9223372036.854775807".to_string()),
        1 => Just("1e308".to_string()),
        1 => Just("null".to_string()),
        1 => Just("\"1.1\"".to_string()),
        1 => any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| format!("{f}")),
    ]
}

fn ig_json() -> impl Strategy<Value = Vec<u8>> {
    let side = || {
        (json_number(), json_number())
            .prop_map(|(b, a)| format!("{{\"bid\":{b},\"ask\":{a},\"lastTraded\":null}}"))
    };
    let point = (
        timestamp(),
        side(),
        side(),
        side(),
        side(),
        json_number(),
        any::<bool>(),
    )
        .prop_map(|(t, o, h, l, c, v, utc)| {
            let key = if utc {
                "snapshotTimeUTC"
            } else {
                "snapshotTime"
            };
            format!(
                "{{\"{key}\":\"{t}\",\"openPrice\":{o},\"highPrice\":{h},\"lowPrice\":{l},\
                 \"closePrice\":{c},\"lastTradedVolume\":{v}}}"
            )
        });
    (proptest::collection::vec(point, 0..8), any::<usize>()).prop_map(|(points, cut)| {
        let text = format!(
            "{{\"instrumentType\":\"CURRENCIES\",\"prices\":[{}],\"metadata\":{{}}}}",
            points.join(",")
        );
        // Sometimes a truncated body, as an interrupted download leaves it (at any byte, even
        // inside a UTF-8 sequence).
        let mut bytes = text.into_bytes();
        if cut % 4 == 0 {
            bytes.truncate(cut / 4 % (bytes.len() + 1));
        }
        bytes
    })
}

fn ig_fixture(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../ig-wire/tests/fixtures")
        .join(name);
    std::fs::read_to_string(p).unwrap()
}

/// A valid cache file built from a small quote or bar CSV.
fn valid_cache(dir: &Path, bars: bool) -> Vec<u8> {
    let p = dir.join(if bars {
        "seed-bars.csv"
    } else {
        "seed-quotes.csv"
    });
    let text = if bars {
        "timestamp,open,high,low,close\n1704182400000,1.1,1.2,1.0,1.15\n1704182460000,1.15,1.3,1.1,1.2\n"
    } else {
        "ts_ms,bid,ask\n1704182400000,1.1,1.1002\n1704182400100,1.1001,1.1003\n"
    };
    std::fs::write(&p, text).unwrap();
    let cache_dir = dir.join("seed-cache");
    load(&p, CacheMode::Dir(cache_dir.clone())).unwrap();
    let entry = std::fs::read_dir(&cache_dir)
        .unwrap()
        .flatten()
        .find(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(p.file_name().unwrap().to_str().unwrap())
        })
        .expect("a cache file was written");
    std::fs::read(entry.path()).unwrap()
}

#[test]
fn recorded_ig_fixtures_load_and_extreme_bid_ask_spreads_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["historic_prices.json", "historic_prices_v2.json"] {
        let p = dir.path().join(name);
        std::fs::write(&p, ig_fixture(name)).unwrap();
        let recs = load(&p, CacheMode::Off).unwrap();
        assert!(!recs.is_empty(), "{name}");
    }
    // A bid/ask spread wider than the fixed-point range: an error, not an overflow.
    let p = dir.path().join("wide.json");
    std::fs::write(
        &p,
        r#"{"prices":[{"snapshotTimeUTC":"2024-01-02T08:00:00","openPrice":{"bid":-9.2e9,"ask":9.2e9},
        "highPrice":{"bid":-9.2e9,"ask":9.2e9},"lowPrice":{"bid":-9.2e9,"ask":9.2e9},
        "closePrice":{"bid":-9.2e9,"ask":9.2e9}}]}"#,
    )
    .unwrap();
    let e = load(&p, CacheMode::Off).unwrap_err();
    assert!(e.contains("spread out of range"), "{e}");
    let p = dir.path().join("wide.csv");
    std::fs::write(
        &p,
        "date,open_bid,high_bid,low_bid,close_bid,open_ask,high_ask,low_ask,close_ask\n\
         1704182400000,-9200000000,-9200000000,-9200000000,-9200000000,9200000000,9200000000,9200000000,9200000000\n",
    )
    .unwrap();
    let e = load(&p, CacheMode::Off).unwrap_err();
    assert!(e.contains("spread out of range"), "{e}");
}

#[test]
fn a_cache_declaring_a_huge_record_count_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = valid_cache(dir.path(), false);
    // Record count (header bytes 32..40) near u64::MAX: the size check must not overflow.
    bytes[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
    let p = dir.path().join("huge.sbc");
    std::fs::write(&p, &bytes).unwrap();
    let e = load(&p, CacheMode::Off).unwrap_err();
    assert!(e.contains("truncated or padded"), "{e}");
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..400),
        ext in prop_oneof![Just("csv"), Just("json"), Just("sbc"), Just("txt")],
    ) {
        let dir = tempfile::tempdir().unwrap();
        load_all_ways(dir.path(), &format!("data.{ext}"), &bytes);
    }

    #[test]
    fn csv_shaped_files_never_panic(text in csv_text()) {
        let dir = tempfile::tempdir().unwrap();
        load_all_ways(dir.path(), "data.csv", text.as_bytes());
    }

    #[test]
    fn ig_json_shaped_files_never_panic(bytes in ig_json()) {
        let dir = tempfile::tempdir().unwrap();
        load_all_ways(dir.path(), "data.json", &bytes);
    }

    #[test]
    fn mutated_ig_fixtures_never_panic(
        which in prop_oneof![Just("historic_prices.json"), Just("historic_prices_v2.json"), Just("historic_prices_v1.json")],
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
    ) {
        let mut bytes = ig_fixture(which).into_bytes();
        for (at, b) in edits {
            let i = at % bytes.len();
            bytes[i] = b;
        }
        let dir = tempfile::tempdir().unwrap();
        load_all_ways(dir.path(), "data.json", &bytes);
    }

    #[test]
    fn mutated_caches_never_panic(
        bars in any::<bool>(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
        field in prop_oneof![Just(16usize), Just(24), Just(32), Just(40), Just(48)],
        value in any::<u64>(),
        truncate in any::<usize>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = valid_cache(dir.path(), bars);
        bytes[field..field + 8].copy_from_slice(&value.to_le_bytes());
        for (at, b) in edits {
            let i = at % bytes.len();
            bytes[i] = b;
        }
        if truncate % 3 == 0 {
            bytes.truncate(truncate % (bytes.len() + 1));
        }
        let p = dir.path().join("data.sbc");
        std::fs::write(&p, &bytes).unwrap();
        let _ = load(&p, CacheMode::Off);
    }
}
