//! Market data for backtests, streamed from disk: quote-tick and bar CSV files, IG price
//! history JSON and the binary cache, all yielding fixed-point [`Record`]s one at a time
//! (memory does not grow with file size). Every malformed row is a [`DataError`] naming the
//! file and line.

mod csv_source;
mod header;
mod ig_json;
pub mod parse;

use std::path::{Path, PathBuf};

use rust_decimal::Decimal;
use scalper_model::{Candle, Epic, Price, Quote, Timestamp};
use serde::{Deserialize, Serialize};

pub use csv_source::CsvSource;
pub use header::{detect as detect_header, Layout};
pub use ig_json::IgJsonSource;
pub use parse::PRICE_SCALE;

use crate::cache::{self, CacheMode};
use crate::error::{DataError, DataErrorKind, Location};
use parse::to_decimal;

/// Quote ticks or bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataKind {
    Quotes,
    Bars,
}

impl DataKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Quotes => "quotes",
            Self::Bars => "bars",
        }
    }
}

/// One quote with prices in fixed point (10^-9, see [`PRICE_SCALE`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawQuote {
    pub ts: i64,
    pub bid: i64,
    pub ask: i64,
}

/// One bar of mid prices in fixed point, with the spread at the open when known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawBar {
    /// Start of the bar, epoch ms.
    pub ts: i64,
    pub period_ms: i64,
    pub open: i64,
    pub high: i64,
    pub low: i64,
    pub close: i64,
    pub spread: Option<i64>,
    pub volume: Option<i64>,
}

/// A record of a data file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    Quote(RawQuote),
    Bar(RawBar),
}

impl Record {
    /// The record's time: the quote's, or the bar's start.
    pub fn ts(&self) -> i64 {
        match self {
            Self::Quote(q) => q.ts,
            Self::Bar(b) => b.ts,
        }
    }
}

impl RawQuote {
    pub fn to_quote(&self, epic: &Epic) -> Quote {
        Quote {
            epic: epic.clone(),
            bid: Price::new(to_decimal(self.bid)),
            offer: Price::new(to_decimal(self.ask)),
            ts: Timestamp::from_millis(self.ts),
        }
    }
}

impl RawBar {
    pub fn to_candle(&self, epic: &Epic) -> Candle {
        Candle {
            epic: epic.clone(),
            start: Timestamp::from_millis(self.ts),
            period_ms: self.period_ms,
            open: Price::new(to_decimal(self.open)),
            high: Price::new(to_decimal(self.high)),
            low: Price::new(to_decimal(self.low)),
            close: Price::new(to_decimal(self.close)),
            spread: self.spread.map(to_decimal),
            volume: self.volume.map(to_decimal),
        }
    }
}

/// A stream of records from one or more files.
pub trait RecordSource: Iterator<Item = Result<Record, DataError>> + Send {
    fn kind(&self) -> DataKind;
    /// File of the last record returned.
    fn path(&self) -> &Path;
    /// Where the last record returned was.
    fn location(&self) -> Location;
    /// Bytes consumed so far and the total (for progress).
    fn progress(&self) -> (u64, u64);
    /// True when every record came from the binary cache.
    fn all_cached(&self) -> bool;

    /// Appends up to `max` records to `out` (which it does not clear): `Ok(false)` once the
    /// data has ended, `Ok(true)` when there may be more. An error comes after the records
    /// before it, which are in `out`. Sources that can read a run of records at once (the
    /// binary cache) override this; the default reads them one by one.
    fn next_batch(&mut self, out: &mut Vec<Record>, max: usize) -> Result<bool, DataError> {
        for _ in 0..max {
            match self.next() {
                Some(Ok(r)) => out.push(r),
                Some(Err(e)) => return Err(e),
                None => return Ok(false),
            }
        }
        Ok(true)
    }
}

/// How to open data files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataOptions {
    pub cache: CacheMode,
    /// Bar length in ms; default: the gap between the first two bars of each file. When
    /// set, the cache is not used.
    pub bar_period_ms: Option<i64>,
}

/// The format of a data file, from its extension (and content for `.csv`).
fn is_json(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

/// Opens one data file: from its valid cache when there is one, else by parsing it (and
/// writing the cache on the way when caching is on).
pub fn open_file(path: &Path, opts: &DataOptions) -> Result<Box<dyn RecordSource>, DataError> {
    Ok(match open_source(path, opts)? {
        Source::Cache(c) => Box::new(c),
        Source::Other(s) => s,
    })
}

/// One opened file: the binary cache (read without dynamic dispatch: it is the fast path),
/// or any other source.
enum Source {
    Cache(cache::CacheReader),
    Other(Box<dyn RecordSource>),
}

impl Source {
    fn get(&self) -> &dyn RecordSource {
        match self {
            Self::Cache(c) => c,
            Self::Other(s) => s.as_ref(),
        }
    }

    #[allow(clippy::inline_always)] // measured: the cache path is half the instructions inlined
    #[inline(always)]
    fn next_record(&mut self) -> Option<Result<Record, DataError>> {
        match self {
            Self::Cache(c) => c.next(),
            Self::Other(s) => s.next(),
        }
    }
}

fn open_source(path: &Path, opts: &DataOptions) -> Result<Source, DataError> {
    if cache::is_cache_file(path) {
        return Ok(Source::Cache(cache::CacheReader::open(path, None)?));
    }
    let meta = std::fs::metadata(path).map_err(|e| DataError::io(path, &e))?;
    // A forced bar period bypasses the cache (cached bars carry the inferred period).
    let cache_path = opts
        .cache
        .path_for(path)
        .filter(|_| opts.bar_period_ms.is_none());
    if let Some(cp) = &cache_path {
        if let Ok(r) = cache::CacheReader::open(cp, Some((path, &meta))) {
            return Ok(Source::Cache(r));
        }
    }
    let src: Box<dyn RecordSource> = if is_json(path) {
        Box::new(IgJsonSource::open(path, opts.bar_period_ms)?)
    } else {
        Box::new(CsvSource::open(path, opts.bar_period_ms)?)
    };
    match cache_path {
        Some(cp) => match cache::CachingSource::new(src, &cp, &meta) {
            Ok(s) => Ok(Source::Other(Box::new(s))),
            Err((src, e)) => {
                tracing::warn!(cache = %cp.display(), error = %e, "cannot write data cache; running without it");
                Ok(Source::Other(src))
            }
        },
        None => Ok(Source::Other(src)),
    }
}

/// Opens several files read one after the other; they must hold the same kind of data and
/// be in time order across files.
pub fn open_data(paths: &[PathBuf], opts: &DataOptions) -> Result<MultiSource, DataError> {
    let Some(first) = paths.first() else {
        return Err(DataError::new(
            PathBuf::new(),
            Location::File,
            DataErrorKind::Empty,
        ));
    };
    let current = open_source(first, opts)?;
    Ok(MultiSource {
        kind: current.get().kind(),
        current,
        rest: paths[1..].to_vec(),
        opts: opts.clone(),
        last_ts: None,
        done_bytes: 0,
        all_cached: true,
    })
}

/// Several files in sequence (see [`open_data`]).
pub struct MultiSource {
    kind: DataKind,
    current: Source,
    rest: Vec<PathBuf>,
    opts: DataOptions,
    last_ts: Option<i64>,
    done_bytes: u64,
    all_cached: bool,
}

impl std::fmt::Debug for MultiSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultiSource")
            .field("kind", &self.kind)
            .field("path", &self.current.get().path())
            .finish_non_exhaustive()
    }
}

impl Iterator for MultiSource {
    type Item = Result<Record, DataError>;

    // Inlined into the backtest loop with the cache reader: one record is a few loads, and
    // the record is then built in place instead of being copied through two return slots.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.current.next_record() {
                Some(Ok(r)) => {
                    let ts = r.ts();
                    if let Some(prev) = self.last_ts.filter(|p| ts <= *p) {
                        return Some(Err(self.order_error(prev, ts)));
                    }
                    self.last_ts = Some(ts);
                    return Some(Ok(r));
                }
                Some(Err(e)) => return Some(Err(e)),
                None => {
                    if let NextFile::Return(end) = self.next_file() {
                        return end;
                    }
                }
            }
        }
    }
}

impl MultiSource {
    #[cold]
    #[inline(never)]
    fn order_error(&self, prev: i64, ts: i64) -> DataError {
        let src = self.current.get();
        DataError::new(src.path(), src.location(), order_error(prev, ts))
    }

    /// The current file is done: opens the next one.
    #[cold]
    #[inline(never)]
    fn next_file(&mut self) -> NextFile {
        self.all_cached &= self.current.get().all_cached();
        if self.rest.is_empty() {
            return NextFile::Return(None);
        }
        let path = self.rest.remove(0);
        self.done_bytes += self.current.get().progress().1;
        match open_source(&path, &self.opts) {
            Ok(next) if next.get().kind() != self.kind => {
                NextFile::Return(Some(Err(DataError::new(
                    path,
                    Location::File,
                    DataErrorKind::MixedKinds {
                        found: next.get().kind().as_str().to_string(),
                        expected: self.kind.as_str().to_string(),
                    },
                ))))
            }
            Ok(next) => {
                self.current = next;
                NextFile::ReadOn
            }
            Err(e) => NextFile::Return(Some(Err(e))),
        }
    }
}

/// What [`MultiSource::next_file`] found.
enum NextFile {
    /// Return this from `next` (the end, or an error).
    Return(Option<Result<Record, DataError>>),
    /// The next file is open: read on.
    ReadOn,
}

impl RecordSource for MultiSource {
    fn kind(&self) -> DataKind {
        self.kind
    }
    fn path(&self) -> &Path {
        self.current.get().path()
    }
    fn location(&self) -> Location {
        self.current.get().location()
    }
    fn progress(&self) -> (u64, u64) {
        let (done, total) = self.current.get().progress();
        (self.done_bytes + done, self.done_bytes + total)
    }
    fn all_cached(&self) -> bool {
        self.all_cached && self.current.get().all_cached()
    }

    /// Runs of cached records are decoded straight into `out`, checking the time order on
    /// the way; other sources go record by record through [`Iterator::next`].
    fn next_batch(&mut self, out: &mut Vec<Record>, max: usize) -> Result<bool, DataError> {
        let mut room = max;
        while room > 0 {
            let Source::Cache(c) = &mut self.current else {
                match self.next() {
                    Some(Ok(r)) => out.push(r),
                    Some(Err(e)) => return Err(e),
                    None => return Ok(false),
                }
                room -= 1;
                continue;
            };
            let before = out.len();
            let read = c.read_batch(out, room, &mut self.last_ts);
            room -= out.len() - before;
            match read {
                cache::BatchEnd::Room => {}
                cache::BatchEnd::Error(e) => return Err(e),
                cache::BatchEnd::Unordered { prev, ts } => {
                    return Err(self.order_error(prev, ts));
                }
                cache::BatchEnd::Ended => match self.next_file() {
                    NextFile::Return(None) => return Ok(false),
                    NextFile::Return(Some(Err(e))) => return Err(e),
                    NextFile::Return(Some(Ok(r))) => {
                        out.push(r);
                        room -= 1;
                    }
                    NextFile::ReadOn => {}
                },
            }
        }
        Ok(true)
    }
}

/// The error for a timestamp that does not increase.
pub(crate) fn order_error(prev: i64, ts: i64) -> DataErrorKind {
    let show = |t: i64| Timestamp::from_millis(t).to_string();
    if ts == prev {
        DataErrorKind::Duplicate { ts: show(ts) }
    } else {
        DataErrorKind::Unsorted {
            prev: show(prev),
            this: show(ts),
        }
    }
}

/// Gives bars their period: a fixed one, or the gap between the first two bars (the first
/// bar waits for the second).
#[derive(Debug, Clone)]
pub(crate) struct PeriodInfer {
    period: Option<i64>,
    held: Option<RawBar>,
}

impl PeriodInfer {
    pub(crate) fn new(period: Option<i64>) -> Self {
        Self { period, held: None }
    }

    /// Adds a bar (its `period_ms` is ignored); returns up to two bars ready to emit.
    pub(crate) fn push(&mut self, mut bar: RawBar) -> [Option<RawBar>; 2] {
        match (self.period, self.held.take()) {
            (Some(p), _) => {
                bar.period_ms = p;
                [Some(bar), None]
            }
            (None, None) => {
                self.held = Some(bar);
                [None, None]
            }
            (None, Some(mut first)) => {
                let p = (bar.ts - first.ts).max(1);
                self.period = Some(p);
                first.period_ms = p;
                bar.period_ms = p;
                [Some(first), Some(bar)]
            }
        }
    }

    /// End of data: a lone first bar gets a one-minute period.
    pub(crate) fn finish(&mut self) -> Option<RawBar> {
        self.held.take().map(|mut b| {
            b.period_ms = self.period.unwrap_or(60_000);
            b
        })
    }
}

/// Checks one bar's prices; `Err` describes the inconsistency.
pub(crate) fn check_bar(b: &RawBar) -> Result<(), DataErrorKind> {
    let d = |v: i64| to_decimal(v).normalize().to_string();
    if b.high < b.low {
        return Err(DataErrorKind::BadBar {
            detail: format!("high {} below low {}", d(b.high), d(b.low)),
        });
    }
    for (name, v) in [("open", b.open), ("close", b.close)] {
        if v > b.high || v < b.low {
            return Err(DataErrorKind::BadBar {
                detail: format!(
                    "{name} {} outside low..high {}..{}",
                    d(v),
                    d(b.low),
                    d(b.high)
                ),
            });
        }
    }
    if b.spread.is_some_and(|s| s < 0) {
        return Err(DataErrorKind::BadBar {
            detail: "negative spread (bid above ask)".to_string(),
        });
    }
    Ok(())
}

/// Mid of two fixed-point prices, rounded half-even at 10^-9.
pub(crate) fn mid(bid: i64, ask: i64) -> i64 {
    let s = i128::from(bid) + i128::from(ask);
    let half = s.div_euclid(2);
    let v = if s.rem_euclid(2) == 1 && half % 2 != 0 {
        half + 1
    } else {
        half
    };
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A fixed-point value for messages.
pub(crate) fn show(v: i64) -> String {
    to_decimal(v).normalize().to_string()
}

/// A decimal as fixed point (for callers building records from decimals).
pub fn fixed(d: Decimal) -> Option<i64> {
    parse::from_decimal(d)
}
