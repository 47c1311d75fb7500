//! Recordings (`cache::recording`, `recorder`): what is written comes back with its receive
//! times, a torn end is dropped (never an error for the blocks before it), a restarted
//! recorder appends after a repair, files rotate at UTC midnight, the limits delete the
//! oldest days, and a backtest over a recording equals one over the same quotes from CSV.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use rust_decimal::Decimal;
use scalper_backtest::recorder::{day_file, day_of};
use scalper_backtest::{
    open_data, run_backtest, BacktestOptions, CacheMode, DataOptions, InstrumentSpec, RawQuote,
    Record, RecordedPrices, RecordedQuote, Recorder, RecorderConfig, RecordingInfo,
    RecordingReader, RecordingWriter,
};
use scalper_model::{Epic, Price, Quote, Timestamp};

const EURUSD: &str = "CS.D.EURUSD.CFD.IP";
const DAY_MS: i64 = 86_400_000;

fn epic() -> Epic {
    Epic::new(EURUSD).unwrap()
}

fn info(day: i64) -> RecordingInfo {
    RecordingInfo {
        epic: EURUSD.into(),
        day,
        created_ms: 0,
        prices: RecordedPrices::Market,
    }
}

/// The synthetic walk as recorded quotes at the 10^-9 scale, received 5-40 ms after IG's time.
fn recorded(n: usize, seed: u64) -> Vec<RecordedQuote> {
    common::synth::quotes(n, seed)
        .enumerate()
        .map(|(i, (ts, b, a))| RecordedQuote {
            quote: RawQuote {
                ts,
                bid: b * 10_000,
                ask: a * 10_000,
            },
            received_ms: ts + 5 + i64::try_from(i * 7 % 35).unwrap(),
        })
        .collect()
}

fn model_quote(r: &RecordedQuote) -> Quote {
    Quote {
        epic: epic(),
        bid: Price::new(Decimal::new(r.quote.bid, 9)),
        offer: Price::new(Decimal::new(r.quote.ask, 9)),
        ts: Timestamp::from_millis(r.quote.ts),
    }
}

/// Writes `frames` as one file, returning the file's size after each frame.
fn write_frames(path: &Path, frames: &[&[RecordedQuote]]) -> Vec<u64> {
    let (mut w, _) = RecordingWriter::open(path, &info(0)).unwrap();
    let mut ends = vec![w.len()];
    for f in frames {
        let q: Vec<RawQuote> = f.iter().map(|r| r.quote).collect();
        let t: Vec<i64> = f.iter().map(|r| r.received_ms).collect();
        w.append(&q, &t).unwrap();
        ends.push(w.len());
    }
    ends
}

/// What the backtest's loader reads from `paths`, or its error.
fn backtest_read(paths: &[PathBuf]) -> Result<Vec<RawQuote>, String> {
    let opts = DataOptions {
        cache: CacheMode::Off,
        bar_period_ms: None,
    };
    let src = open_data(paths, &opts).map_err(|e| e.to_string())?;
    src.map(|r| match r {
        Ok(Record::Quote(q)) => Ok(q),
        Ok(Record::Bar(_)) => Err("a bar".into()),
        Err(e) => Err(e.to_string()),
    })
    .collect()
}

fn raw(v: &[RecordedQuote]) -> Vec<RawQuote> {
    v.iter().map(|r| r.quote).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any quotes and receive times (gaps of days, clocks going back) in any frame sizes:
    /// the replay's reader gives back both, the backtest's loader the quotes.
    #[test]
    fn frames_give_back_quotes_and_receive_times(
        seed in any::<u64>(),
        n in 1usize..3_000,
        cut in 1usize..5_000,
        lag in prop_oneof![Just(0i64), -5_000i64..5_000, Just(40 * DAY_MS)],
    ) {
        let mut q = recorded(n, seed);
        for (i, r) in q.iter_mut().enumerate() {
            // Every 97th quote arrives `lag` late (or early): wide receive columns too.
            if i % 97 == 3 {
                r.received_ms += lag;
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.sbc");
        let frames: Vec<&[RecordedQuote]> = q.chunks(cut.min(4096)).collect();
        write_frames(&path, &frames);
        let mut reader = RecordingReader::open(&path).unwrap();
        prop_assert_eq!(reader.read_all().unwrap(), q.clone());
        prop_assert!(reader.loss().is_none());
        prop_assert_eq!(backtest_read(&[path]).unwrap(), raw(&q));
    }
}

#[test]
fn a_torn_last_block_is_dropped_at_every_byte_and_the_rest_is_read() {
    let q = recorded(600, 3);
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole.sbc");
    let frames: Vec<&[RecordedQuote]> = vec![&q[..250], &q[250..500], &q[500..]];
    let ends = write_frames(&whole, &frames);
    let bytes = std::fs::read(&whole).unwrap();
    let (before, last_end) = (ends[2], ends[3]);
    let cut_path = dir.path().join("cut.sbc");
    for cut in before..last_end {
        std::fs::write(&cut_path, &bytes[..cut as usize]).unwrap();
        let mut r = RecordingReader::open(&cut_path).unwrap();
        assert_eq!(r.read_all().unwrap(), q[..500], "cut at {cut}");
        let loss = r.loss().cloned();
        if cut == before {
            assert_eq!(loss, None, "cut at a block boundary loses nothing");
        } else {
            let loss = loss.unwrap_or_else(|| panic!("cut at {cut}: no loss reported"));
            assert_eq!((loss.offset, loss.bytes), (before, cut - before));
        }
        assert_eq!(
            backtest_read(std::slice::from_ref(&cut_path)).unwrap(),
            raw(&q[..500]),
            "backtest, cut at {cut}"
        );
    }
    // A damaged byte in the last block (its checksum no longer matches): dropped the same way.
    let mut flipped = bytes.clone();
    flipped[(before + 40) as usize] ^= 0x10;
    std::fs::write(&cut_path, &flipped).unwrap();
    let mut r = RecordingReader::open(&cut_path).unwrap();
    assert_eq!(r.read_all().unwrap(), q[..500]);
    assert_eq!(r.loss().map(|l| l.reason), Some("checksum mismatch"));
    // Shorter than its header: an error naming the file, not a panic.
    std::fs::write(&cut_path, &bytes[..50]).unwrap();
    let e = RecordingReader::open(&cut_path).unwrap_err().to_string();
    assert!(e.contains("shorter than its header"), "{e}");
    assert!(backtest_read(&[cut_path]).is_err());
}

fn recorder(dir: &Path) -> Recorder {
    Recorder::open(RecorderConfig::new(dir, RecordedPrices::Market)).unwrap()
}

#[test]
fn a_restarted_recorder_repairs_the_torn_end_and_appends() {
    let q = recorded(3_000, 11);
    let dir = tempfile::tempdir().unwrap();
    let mut first = recorder(dir.path());
    for r in &q[..1_000] {
        first.push(&model_quote(r), r.received_ms).unwrap();
    }
    first.flush().unwrap();
    for r in &q[1_000..1_500] {
        first.push(&model_quote(r), r.received_ms).unwrap();
    }
    // Killed: the waiting quotes never reach the file, and half a block is left behind.
    drop(first);
    let file = day_file(dir.path(), EURUSD, day_of(q[0].quote.ts));
    let mut torn = std::fs::read(&file).unwrap();
    torn.extend_from_slice(b"RBLK\x40\x00\x00\x00garbage");
    std::fs::write(&file, &torn).unwrap();

    let mut second = recorder(dir.path());
    // The stream's snapshot repeats the last quote the first run wrote: skipped.
    second
        .push(&model_quote(&q[999]), q[999].received_ms)
        .unwrap();
    for r in &q[1_500..] {
        second.push(&model_quote(r), r.received_ms).unwrap();
    }
    second.flush().unwrap();
    let s = second.summary();
    assert_eq!(s.repaired.len(), 1, "{:?}", s.repaired);
    assert_eq!(s.instruments[EURUSD].not_after_previous, 1);
    assert_eq!(s.instruments[EURUSD].quotes, 1_500);

    let expected: Vec<RecordedQuote> = q[..1_000].iter().chain(&q[1_500..]).copied().collect();
    let mut r = RecordingReader::open(&file).unwrap();
    assert_eq!(r.read_all().unwrap(), expected);
    assert!(r.loss().is_none());
    assert_eq!(backtest_read(&[file]).unwrap(), raw(&expected));
}

#[test]
fn files_rotate_at_utc_midnight_of_igs_time() {
    let dir = tempfile::tempdir().unwrap();
    let midnight = 20_000 * DAY_MS; // 2024-10-04T00:00:00Z
    let q: Vec<RecordedQuote> = [-300i64, -100, -1, 0, 1, 250]
        .iter()
        .map(|&dt| RecordedQuote {
            quote: RawQuote {
                ts: midnight + dt,
                bid: 1_100_000_000,
                ask: 1_100_100_000,
            },
            // Received after midnight even for the last quotes of the old day: IG's time decides.
            received_ms: midnight + 500 + dt,
        })
        .collect();
    let mut rec = recorder(dir.path());
    for r in &q {
        rec.push(&model_quote(r), r.received_ms).unwrap();
    }
    rec.flush().unwrap();
    let d1 = dir.path().join(EURUSD).join("2024-10-03.sbc");
    let d2 = dir.path().join(EURUSD).join("2024-10-04.sbc");
    assert_eq!(
        rec.summary().instruments[EURUSD].files,
        vec![d1.clone(), d2.clone()]
    );
    let mut r1 = RecordingReader::open(&d1).unwrap();
    assert_eq!(r1.read_all().unwrap(), q[..3]);
    assert_eq!(r1.info().day, 19_999);
    let mut r2 = RecordingReader::open(&d2).unwrap();
    assert_eq!(r2.read_all().unwrap(), q[3..]);
    // The instrument's directory is the backtest's data: its days in order.
    assert_eq!(backtest_read(&[dir.path().join(EURUSD)]).unwrap(), raw(&q));
}

/// One quote a day for `days` days from `first`, each in its own day file.
fn record_days(rec: &mut Recorder, first: i64, days: i64) {
    for d in first..first + days {
        let ts = d * DAY_MS + 3_600_000;
        let r = RecordedQuote {
            quote: RawQuote {
                ts,
                bid: 1_100_000_000,
                ask: 1_100_100_000,
            },
            received_ms: ts,
        };
        rec.push(&model_quote(&r), ts).unwrap();
        rec.flush().unwrap();
    }
}

fn days_on_disk(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join(EURUSD))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| Path::new(n).extension().is_some_and(|x| x == "sbc"))
        .collect();
    v.sort();
    v
}

#[test]
fn the_limits_delete_the_oldest_days_and_never_the_open_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = RecorderConfig::new(dir.path(), RecordedPrices::Market);
    cfg.keep_days = 3;
    let mut rec = Recorder::open(cfg).unwrap();
    record_days(&mut rec, 20_000, 6);
    assert_eq!(
        days_on_disk(dir.path()),
        ["2024-10-07.sbc", "2024-10-08.sbc", "2024-10-09.sbc"]
    );
    assert_eq!(rec.summary().deleted_files, 3);

    // A size cap of about two day files: the oldest go first, today's file stays even when it
    // alone is over the cap.
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = RecorderConfig::new(dir.path(), RecordedPrices::Market);
    cfg.keep_days = 0;
    // Header, frame header, block header and one 6-byte quote, receive column of one.
    let one_day = 96 + 12 + 32 + 6 + 16 + 4;
    cfg.max_bytes = 2 * one_day + 10;
    let mut rec = Recorder::open(cfg).unwrap();
    record_days(&mut rec, 20_000, 5);
    assert_eq!(
        days_on_disk(dir.path()),
        ["2024-10-07.sbc", "2024-10-08.sbc"]
    );
    let mut cfg = RecorderConfig::new(dir.path(), RecordedPrices::Market);
    cfg.max_bytes = 1;
    let mut rec = Recorder::open(cfg).unwrap();
    assert_eq!(days_on_disk(dir.path()), Vec::<String>::new());
    record_days(&mut rec, 20_010, 1);
    assert_eq!(days_on_disk(dir.path()), ["2024-10-14.sbc"]);
}

#[test]
fn a_bad_directory_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain");
    std::fs::write(&file, b"x").unwrap();
    let e = Recorder::open(RecorderConfig::new(&file, RecordedPrices::Market))
        .unwrap_err()
        .to_string();
    assert!(e.contains("is a file, not a directory"), "{e}");
}

#[test]
fn an_io_error_stops_the_recording_and_the_tap_keeps_returning_at_once() {
    let dir = tempfile::tempdir().unwrap();
    // The instrument's directory cannot be made: a file is in its place.
    std::fs::write(dir.path().join(EURUSD), b"in the way").unwrap();
    let (tap, handle) =
        scalper_backtest::recorder::spawn(RecorderConfig::new(dir.path(), RecordedPrices::Market))
            .unwrap();
    let q = recorded(10, 1);
    tap.offer(&model_quote(&q[0]), q[0].received_ms);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while tap.stopped().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the recording did not stop"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    for r in &q[1..] {
        tap.offer(&model_quote(r), r.received_ms);
    }
    let s = handle.finish();
    assert!(s.stopped.is_some(), "{s:?}");
    assert_eq!(s.quotes(), 0);
}

#[test]
fn a_backtest_over_a_recording_equals_one_over_the_same_quotes_from_csv() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("q.csv");
    common::synth::write_csv(&csv, 20_000, 7);
    let mut rec = recorder(&dir.path().join("rec"));
    for r in recorded(20_000, 7) {
        rec.push(&model_quote(&r), r.received_ms).unwrap();
    }
    rec.flush().unwrap();
    let run = |data: PathBuf| {
        run_backtest(&BacktestOptions {
            data: vec![data],
            instrument: InstrumentSpec::named("EUR_USD"),
            strategy: Some("ema-cross".into()),
            set: vec!["fast=20".into(), "slow=60".into(), "size=1".into()],
            data_options: DataOptions {
                cache: CacheMode::Off,
                bar_period_ms: None,
            },
            ..BacktestOptions::default()
        })
        .unwrap()
    };
    let from_csv = run(csv);
    let from_recording = run(dir.path().join("rec").join(EURUSD));
    assert!(from_csv.metrics.trades > 10, "{}", from_csv.metrics.trades);
    assert_eq!(from_recording.trades_hash, from_csv.trades_hash);
    assert_eq!(from_recording.metrics.net_pnl, from_csv.metrics.net_pnl);
}

#[test]
fn an_instrument_another_live_process_records_is_refused_and_a_dead_ones_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let inst = dir.path().join(EURUSD);
    std::fs::create_dir_all(&inst).unwrap();
    let q = recorded(3, 2);
    // Process 1 (init) is always alive.
    std::fs::write(inst.join(".recording.lock"), "1\n").unwrap();
    let mut rec = recorder(dir.path());
    let e = rec
        .push(&model_quote(&q[0]), q[0].received_ms)
        .unwrap_err()
        .to_string();
    assert!(e.contains("another scalper (pid 1)"), "{e}");
    // A pid no process has (above the kernel's limit): a killed run's lock.
    std::fs::write(inst.join(".recording.lock"), "4294967295\n").unwrap();
    let mut rec = recorder(dir.path());
    rec.push(&model_quote(&q[0]), q[0].received_ms).unwrap();
    rec.flush().unwrap();
    assert_eq!(rec.summary().quotes(), 1);
    drop(rec);
    assert!(!inst.join(".recording.lock").exists(), "the lock stays");
}
