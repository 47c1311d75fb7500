//! Market data for backtests, streamed from disk: quote-tick and bar CSV files, IG price
//! history JSON and the binary cache, all yielding fixed-point [`Record`]s one at a time
//! (memory does not grow with file size). Every malformed row is a [`DataError`] naming the
//! file and line. The records themselves are in [`crate::record`], shared with the cache.

mod common;
mod csv_source;
mod header;
mod ig_json;

use std::path::{Path, PathBuf};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use csv_source::CsvSource;
pub use header::{detect as detect_header, Layout};
pub use ig_json::{instrument_type, IgJsonSource};

use crate::cache::{self, CacheMode};
use crate::error::{DataError, DataErrorKind, Location};
use crate::parse;
use crate::record::{DataKind, Record, RecordSource};
use common::order_error;

/// How to open data files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataOptions {
    pub cache: CacheMode,
    /// Bar length in ms; default: the gap between the first two bars of each file. When
    /// set, the cache is not used.
    pub bar_period_ms: Option<i64>,
}

/// The format of a data file, from its extension (and content for `.csv`).
pub(crate) fn is_json(path: &Path) -> bool {
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
/// Directories among `paths` stand for the data files directly in them (`.sbc`, `.csv`,
/// `.json`), in name order: a recording directory `DIR/<EPIC>` gives its days in time order.
/// A directory holding only instrument directories (a recording's top) is refused, naming
/// them: a backtest is of one instrument.
pub fn expand_data_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>, DataError> {
    let mut out = Vec::with_capacity(paths.len());
    for p in paths {
        if !p.is_dir() {
            out.push(p.clone());
            continue;
        }
        let io = |e: &std::io::Error| DataError::io(p, e);
        let mut files = Vec::new();
        let mut subdirs = Vec::new();
        for entry in std::fs::read_dir(p).map_err(|e| io(&e))? {
            let path = entry.map_err(|e| io(&e))?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with('.') {
                continue;
            }
            if path.is_dir() {
                subdirs.push(name.to_string());
            } else if path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                ["sbc", "csv", "json"]
                    .iter()
                    .any(|k| e.eq_ignore_ascii_case(k))
            }) {
                files.push(path);
            }
        }
        if files.is_empty() {
            subdirs.sort();
            let hint = if subdirs.is_empty() {
                String::new()
            } else {
                format!(
                    "; it holds the directories {}: give the one of the instrument, e.g. {}",
                    subdirs.join(", "),
                    p.join(&subdirs[0]).display()
                )
            };
            return Err(DataError::new(
                p,
                Location::File,
                DataErrorKind::EmptyDir(hint),
            ));
        }
        files.sort();
        out.extend(files);
    }
    Ok(out)
}

pub fn open_data(paths: &[PathBuf], opts: &DataOptions) -> Result<MultiSource, DataError> {
    let paths = &expand_data_paths(paths)?[..];
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

/// A decimal as fixed point (for callers building records from decimals).
pub fn fixed(d: Decimal) -> Option<i64> {
    parse::from_decimal(d)
}

/// Builds (or validates) the cache of every file, so parallel runs all read caches.
/// Returns how many caches were (re)built.
pub fn prepare_caches(paths: &[PathBuf], opts: &DataOptions) -> Result<usize, DataError> {
    let mut built = 0;
    for p in &expand_data_paths(paths)? {
        let mut src = open_file(p, opts)?;
        if src.all_cached() {
            continue;
        }
        for r in &mut src {
            r?;
        }
        built += 1;
    }
    Ok(built)
}
