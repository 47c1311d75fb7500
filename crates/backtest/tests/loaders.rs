//! Data loaders: accepted formats (quote CSV with ms or ISO times, pandas and bid/ask bar
//! CSVs, IG price JSON fixtures), the binary cache, and every malformed-data error naming
//! its file and line.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::many_single_char_names
)]

mod common;

use std::path::{Path, PathBuf};

use scalper_backtest::data::open_file;
use scalper_backtest::parse::to_decimal;
use scalper_backtest::{
    open_data, CacheMode, DataErrorKind, DataKind, DataOptions, Location, RawBar, RawQuote, Record,
};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn no_cache() -> DataOptions {
    DataOptions {
        cache: CacheMode::Off,
        bar_period_ms: None,
    }
}

fn read_all(p: &Path) -> Result<Vec<Record>, scalper_backtest::DataError> {
    open_data(&[p.to_path_buf()], &no_cache())?.collect()
}

fn fx(s: &str) -> i64 {
    scalper_backtest::parse::parse_fixed(s.as_bytes()).unwrap()
}

#[test]
fn quote_csv_with_ms_and_iso_times_and_aliases() {
    let d = tempfile::tempdir().unwrap();
    let a = write(
        d.path(),
        "a.csv",
        "ts_ms,bid,ask\n1704182400000,1.1,1.1002\n1704182400100,1.1001,1.1003\n",
    );
    let b = write(
        d.path(),
        "b.csv",
        "Time,Offer,Bid\n2024-01-02T08:00:00Z,1.1002,1.1\n\n2024-01-02 08:00:00.100,1.1003,1.1001\n",
    );
    let want = vec![
        Record::Quote(RawQuote {
            ts: common::synth::T0,
            bid: fx("1.1"),
            ask: fx("1.1002"),
        }),
        Record::Quote(RawQuote {
            ts: common::synth::T0 + 100,
            bid: fx("1.1001"),
            ask: fx("1.1003"),
        }),
    ];
    assert_eq!(read_all(&a).unwrap(), want);
    assert_eq!(read_all(&b).unwrap(), want);
}

#[test]
fn bar_csvs_pandas_mid_and_bid_ask() {
    let d = tempfile::tempdir().unwrap();
    let pandas = write(
        d.path(),
        "p.csv",
        ",open,high,low,close,volume\n2024-01-02 08:00:00,1.1,1.2,1.0,1.15,10\n2024-01-02 08:01:00,1.15,1.16,1.14,1.14,\n",
    );
    let bars = read_all(&pandas).unwrap();
    assert_eq!(
        bars[0],
        Record::Bar(RawBar {
            ts: common::synth::T0,
            period_ms: 60_000,
            open: fx("1.1"),
            high: fx("1.2"),
            low: fx("1.0"),
            close: fx("1.15"),
            spread: None,
            volume: Some(fx("10")),
        })
    );
    let Record::Bar(b1) = bars[1] else { panic!() };
    assert_eq!((b1.period_ms, b1.volume), (60_000, None));

    let ba = write(
        d.path(),
        "ba.csv",
        "timestamp,bid_open,bid_high,bid_low,bid_close,ask_open,ask_high,ask_low,ask_close\n\
         1704182400000,1.0999,1.1009,1.0989,1.1004,1.1001,1.1011,1.0991,1.1006\n",
    );
    let bars = read_all(&ba).unwrap();
    let Record::Bar(b) = bars[0] else { panic!() };
    assert_eq!(to_decimal(b.open).normalize().to_string(), "1.1");
    assert_eq!(to_decimal(b.close).normalize().to_string(), "1.1005");
    assert_eq!(
        to_decimal(b.spread.unwrap()).normalize().to_string(),
        "0.0002"
    );
    // A single bar gets a one-minute period.
    assert_eq!(b.period_ms, 60_000);
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../ig-wire/tests/fixtures")
        .join(name)
}

#[test]
fn ig_price_json_fixtures() {
    let p = fixture("historic_prices.json");
    assert!(p.exists(), "fixture {} missing", p.display());
    let bars = read_all(&p).unwrap();
    assert_eq!(bars.len(), 10);
    let Record::Bar(b) = bars[0] else { panic!() };
    // 2020-10-12T20:50:00Z; open bid 1926.4 ask 1927.0; minute bars.
    assert_eq!(b.ts, 1_602_535_800_000);
    assert_eq!(b.period_ms, 60_000);
    assert_eq!(to_decimal(b.open).normalize().to_string(), "1926.7");
    assert_eq!(to_decimal(b.spread.unwrap()).normalize().to_string(), "0.6");
    assert_eq!(b.volume, Some(fx("60")));
    for name in [
        "historic_prices_dates.json",
        "historic_prices_num_points.json",
        "historic_prices_v1.json",
        "historic_prices_v2.json",
    ] {
        let bars = read_all(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!bars.is_empty(), "{name}");
    }
}

#[test]
fn cache_is_built_reused_and_rebuilt_when_stale() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("q.csv");
    common::synth::write_csv(&p, 1000, 3);
    let opts = DataOptions {
        cache: CacheMode::Dir(d.path().join("cache")),
        bar_period_ms: None,
    };
    let first = open_file(&p, &opts).unwrap();
    assert!(!first.all_cached());
    let a: Vec<Record> = first.collect::<Result<_, _>>().unwrap();
    let second = open_file(&p, &opts).unwrap();
    assert!(second.all_cached());
    assert_eq!(second.kind(), DataKind::Quotes);
    let b: Vec<Record> = second.collect::<Result<_, _>>().unwrap();
    assert_eq!(a, b);
    // Change the source (size differs): the cache is stale and rebuilt.
    common::synth::write_csv(&p, 999, 3);
    let third = open_file(&p, &opts).unwrap();
    assert!(!third.all_cached());
    assert_eq!(third.count(), 999);
    assert!(open_file(&p, &opts).unwrap().all_cached());
    // Same size and modification time but different content: still detected.
    let mtime = std::fs::metadata(&p).unwrap().modified().unwrap();
    let text = std::fs::read_to_string(&p).unwrap();
    let changed = text.replacen("ts_ms,bid,ask\n17", "ts_ms,bid,ask\n18", 1);
    assert_eq!(changed.len(), text.len());
    std::fs::write(&p, changed).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&p)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    assert!(!open_file(&p, &opts).unwrap().all_cached());
    // A source with an error never leaves a cache behind.
    let bad = write(d.path(), "bad.csv", "ts,bid,ask\n1,1,2\n2,x,2\n");
    let _ = open_file(&bad, &opts).unwrap().count();
    assert!(!open_file(&bad, &opts).unwrap().all_cached());
}

#[test]
fn caches_hold_every_kind_of_block_and_older_formats_are_rebuilt() {
    use std::fmt::Write as _;
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("mixed.csv");
    // 10,000 quotes (three blocks): five-decimal prices, then from the 5,000th a gap of over
    // a minute between quotes, then from the 9,000th prices with nine decimals that jump by
    // more than the compact forms hold.
    let mut text = String::from("ts_ms,bid,ask\n");
    let mut ts = 1_704_182_400_000i64;
    for i in 0..10_000i64 {
        ts += if (5_000..9_000).contains(&i) {
            70_001
        } else {
            100 + i % 7
        };
        let (bid, ask) = if i < 9_000 {
            let b = 110_000 + (i * 37) % 400;
            (format!("1.{b:06}"), format!("1.{:06}", b + 12))
        } else {
            let b = 1_000_000_000 + (i % 2) * 3_000_000_000 + i;
            let bid = format!("{}.{:09}", 100 + b / 1_000_000_000, b % 1_000_000_000);
            (bid, "110.5".to_string())
        };
        writeln!(text, "{ts},{bid},{ask}").unwrap();
    }
    std::fs::write(&p, text).unwrap();
    let cache_dir = d.path().join("cache");
    let opts = DataOptions {
        cache: CacheMode::Dir(cache_dir.clone()),
        bar_period_ms: None,
    };
    let plain = DataOptions {
        cache: CacheMode::Off,
        bar_period_ms: None,
    };
    let parsed: Vec<Record> = open_file(&p, &plain)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(parsed.len(), 10_000);
    let _ = open_file(&p, &opts).unwrap().count();
    let cached = open_file(&p, &opts).unwrap();
    assert!(cached.all_cached());
    let back: Vec<Record> = cached.collect::<Result<_, _>>().unwrap();
    assert_eq!(back, parsed, "records read back from the cache differ");
    let cache_file = std::fs::read_dir(&cache_dir)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    // The three blocks take the three forms (header 96 bytes, block headers 32): six bytes
    // a quote, twelve (the gaps), and 24 (the jumps).
    let bytes = std::fs::read(&cache_file).unwrap();
    let second = 96 + 32 + 4096 * 6;
    let third = second + 32 + 4096 * 12;
    assert_eq!(
        [bytes[96 + 4], bytes[second + 4], bytes[third + 4]],
        [1, 2, 0]
    );
    assert_eq!(bytes.len(), third + 32 + (10_000 - 8192) * 24);
    // A cache of an older format beside its source is ignored and rebuilt...
    let mut bytes = bytes;
    bytes[7] = b'2';
    std::fs::write(&cache_file, &bytes).unwrap();
    assert!(!open_file(&p, &opts).unwrap().all_cached());
    let _ = open_file(&p, &opts).unwrap().count();
    assert!(open_file(&p, &opts).unwrap().all_cached());
    // ... and named as such when given on its own.
    let old = d.path().join("old.sbc");
    std::fs::write(&old, &bytes).unwrap();
    let e = match open_file(&old, &plain) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("an older cache format was read"),
    };
    assert!(
        e.contains("another scalper version") && e.contains("old.sbc"),
        "{e}"
    );
}

#[test]
fn malformed_data_errors_name_file_and_line() {
    type Check = fn(&DataErrorKind) -> bool;
    let d = tempfile::tempdir().unwrap();
    let table: &[(&str, &str, Location, Check)] = &[
        ("empty.csv", "", Location::File, |k| {
            matches!(k, DataErrorKind::Empty)
        }),
        ("header_only.csv", "ts,bid,ask\n", Location::File, |k| {
            matches!(k, DataErrorKind::NoRows)
        }),
        (
            "bad_header.csv",
            "when,buy,sell\n1,2,3\n",
            Location::Line(1),
            |k| matches!(k, DataErrorKind::BadHeader { .. }),
        ),
        (
            "unsorted.csv",
            "ts,bid,ask\n2000,1,2\n1000,1,2\n",
            Location::Line(3),
            |k| matches!(k, DataErrorKind::Unsorted { .. }),
        ),
        (
            "dup.csv",
            "ts,bid,ask\n1000,1,2\n1000,1,2\n",
            Location::Line(3),
            |k| matches!(k, DataErrorKind::Duplicate { .. }),
        ),
        (
            "crossed.csv",
            "ts,bid,ask\n1000,1,2\n2000,2.5,2\n",
            Location::Line(3),
            |k| matches!(k, DataErrorKind::BidAboveAsk { .. }),
        ),
        (
            "missing.csv",
            "ts,bid,ask\n1000,1,2\n2000,,2\n",
            Location::Line(3),
            |k| matches!(k, DataErrorKind::MissingValue { column } if column == "bid"),
        ),
        (
            "short_row.csv",
            "ts,bid,ask\n1000,1\n",
            Location::Line(2),
            |k| matches!(k, DataErrorKind::MissingValue { column } if column == "ask"),
        ),
        (
            "nan.csv",
            "ts,bid,ask\n1000,NaN,2\n",
            Location::Line(2),
            |k| matches!(k, DataErrorKind::MissingValue { .. }),
        ),
        (
            "number.csv",
            "ts,bid,ask\n1000,1.2.3,2\n",
            Location::Line(2),
            |k| matches!(k, DataErrorKind::BadNumber { value, .. } if value == "1.2.3"),
        ),
        (
            "time.csv",
            "ts,bid,ask\nnoon,1,2\n",
            Location::Line(2),
            |k| matches!(k, DataErrorKind::BadTimestamp { .. }),
        ),
        (
            "bar.csv",
            "time,open,high,low,close\n1000,1,1.5,0.5,1\n61000,1,0.9,0.5,1\n",
            Location::Line(3),
            |k| matches!(k, DataErrorKind::BadBar { .. }),
        ),
        ("empty.json", "", Location::File, |k| {
            matches!(k, DataErrorKind::Empty)
        }),
        (
            "bad.json",
            "{\"prices\": [\n{\"snapshotTimeUTC\": 5}]}",
            Location::Line(2),
            |k| matches!(k, DataErrorKind::Json(_)),
        ),
        (
            "crossed.json",
            r#"{"prices":[{"snapshotTimeUTC":"2024-01-02T08:00:00","openPrice":{"bid":2,"ask":1},"highPrice":{"bid":2,"ask":2},"lowPrice":{"bid":1,"ask":1},"closePrice":{"bid":1,"ask":1}}]}"#,
            Location::Entry(0),
            |k| matches!(k, DataErrorKind::BidAboveAsk { .. }),
        ),
        (
            "missing.json",
            r#"{"prices":[{"snapshotTimeUTC":"2024-01-02T08:00:00","openPrice":{"bid":1,"ask":null},"highPrice":{"bid":2,"ask":2},"lowPrice":{"bid":1,"ask":1},"closePrice":{"bid":1,"ask":1}}]}"#,
            Location::Entry(0),
            |k| matches!(k, DataErrorKind::MissingValue { column } if column == "openPrice.ask"),
        ),
    ];
    for (name, text, loc, check) in table {
        let p = write(d.path(), name, text);
        let err = read_all(&p).expect_err(name);
        assert_eq!(err.path, p, "{name}");
        assert_eq!(err.location, *loc, "{name}: {err}");
        assert!(check(&err.kind), "{name}: {err}");
        let msg = err.to_string();
        assert!(msg.contains(name), "{msg}");
    }
}

#[test]
fn multiple_files_must_be_ordered_and_of_one_kind() {
    let d = tempfile::tempdir().unwrap();
    let a = write(d.path(), "a.csv", "ts,bid,ask\n1000,1,2\n2000,1,2\n");
    let b = write(d.path(), "b.csv", "ts,bid,ask\n1500,1,2\n");
    let bars = write(d.path(), "c.csv", "ts,open,high,low,close\n3000,1,1,1,1\n");
    let all = |paths: &[PathBuf]| -> Result<Vec<Record>, _> {
        open_data(paths, &no_cache()).unwrap().collect()
    };
    let e = all(&[a.clone(), b.clone()]).unwrap_err();
    assert_eq!((e.path.clone(), e.location), (b, Location::Line(2)));
    let e = all(&[a, bars.clone()]).unwrap_err();
    assert_eq!(e.path, bars);
    assert!(matches!(e.kind, DataErrorKind::MixedKinds { .. }));
}

#[test]
fn quote_and_bar_writers_round_trip_through_the_loaders() {
    use scalper_backtest::{write_bars_csv, write_quotes_csv};
    let d = tempfile::tempdir().unwrap();
    let epic = scalper_model::Epic::new("CS.D.EURUSD.CFD.IP").unwrap();
    let quotes: Vec<RawQuote> = common::synth::quotes(50, 9)
        .map(|(ts, b, a)| RawQuote {
            ts,
            bid: b * 10_000,
            ask: a * 10_000,
        })
        .collect();
    let qp = d.path().join("q.csv");
    write_quotes_csv(
        std::fs::File::create(&qp).unwrap(),
        quotes.iter().map(|q| q.to_quote(&epic)),
    )
    .unwrap();
    let back: Vec<Record> = read_all(&qp).unwrap();
    assert_eq!(
        back,
        quotes.into_iter().map(Record::Quote).collect::<Vec<_>>()
    );

    let bars: Vec<RawBar> = (0..3)
        .map(|i| RawBar {
            ts: common::synth::T0 + i * 60_000,
            period_ms: 60_000,
            open: fx("1.1"),
            high: fx("1.2"),
            low: fx("1.05"),
            close: fx("1.15"),
            spread: if i == 1 { None } else { Some(fx("0.0002")) },
            volume: if i == 2 { None } else { Some(fx("12")) },
        })
        .collect();
    let bp = d.path().join("b.csv");
    write_bars_csv(
        std::fs::File::create(&bp).unwrap(),
        bars.iter().map(|b| b.to_candle(&epic)),
    )
    .unwrap();
    let back: Vec<Record> = read_all(&bp).unwrap();
    assert_eq!(back, bars.into_iter().map(Record::Bar).collect::<Vec<_>>());
}
