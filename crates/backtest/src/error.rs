//! Typed errors: [`DataError`] for anything wrong with a data or cache file (always naming the
//! file and the line or entry), and [`BacktestError`] for a run as a whole.

use std::fmt;
use std::path::PathBuf;

use scalper_engine::{ConfigError, EngineError};

/// Where in a file a data problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// The file as a whole (cannot open, empty, unknown format).
    File,
    /// A 1-based line of a text file (the header is line 1).
    Line(u64),
    /// A 0-based entry of IG's `prices` array in a JSON file.
    Entry(u64),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File => Ok(()),
            Self::Line(n) => write!(f, ":{n}"),
            Self::Entry(n) => write!(f, ": prices[{n}]"),
        }
    }
}

/// What is wrong with the data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataErrorKind {
    #[error("cannot read: {0}")]
    Io(String),
    #[error("the file is empty (no header and no data)")]
    Empty,
    #[error("no data rows after the header")]
    NoRows,
    #[error("unrecognised header {found:?}: expected a time column (ts_ms, timestamp, time, date or a pandas index) and either bid and ask (quotes) or open, high, low, close (bars; mid or bid/ask)")]
    BadHeader { found: String },
    #[error("missing value in column `{column}`")]
    MissingValue { column: String },
    #[error("cannot parse {value:?} in column `{column}` as a number")]
    BadNumber { column: String, value: String },
    #[error("cannot parse timestamp {value:?} (use epoch ms/s or ISO-8601 such as 2024-01-02T08:00:00.123Z)")]
    BadTimestamp { value: String },
    #[error("timestamp {this} is before the previous one ({prev}): rows must be sorted by time")]
    Unsorted { prev: String, this: String },
    #[error("duplicate timestamp {ts}")]
    Duplicate { ts: String },
    #[error("bid {bid} is above ask {ask}")]
    BidAboveAsk { bid: String, ask: String },
    #[error("inconsistent bar: {detail}")]
    BadBar { detail: String },
    #[error("{0}")]
    Json(String),
    #[error("file holds {found} but earlier files hold {expected}: do not mix quotes and bars")]
    MixedKinds { found: String, expected: String },
    #[error("unknown data format (expected .csv, .json or a scalper cache file)")]
    UnknownFormat,
    #[error("bad cache file: {0}")]
    Cache(String),
    /// A `--data` directory without data files; the text says what it holds instead.
    #[error("a directory with no data files (.sbc, .csv, .json){0}")]
    EmptyDir(String),
}

/// A data problem with the file and line (or entry) it is on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{location}: {kind}", path.display())]
pub struct DataError {
    pub path: PathBuf,
    pub location: Location,
    pub kind: DataErrorKind,
}

impl DataError {
    pub fn new(path: impl Into<PathBuf>, location: Location, kind: DataErrorKind) -> Self {
        Self {
            path: path.into(),
            location,
            kind,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, e: &std::io::Error) -> Self {
        Self::new(path, Location::File, DataErrorKind::Io(e.to_string()))
    }

    /// The 1-based line, when the problem is on one.
    pub fn line(&self) -> Option<u64> {
        match self.location {
            Location::Line(n) => Some(n),
            _ => None,
        }
    }
}

/// A backtest or sweep could not run (or finish).
#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("no data files given")]
    NoData,
    #[error("unknown instrument {0:?}: use a friendly name such as EUR_USD or an IG epic")]
    UnknownInstrument(String),
    #[error("invalid option `{name}`: {message}")]
    InvalidOption { name: String, message: String },
    #[error("bad parameter `{key}`: {message}")]
    Parameter { key: String, message: String },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("cannot write {}: {message}", path.display())]
    Output { path: PathBuf, message: String },
    #[error("no data between --from and --to")]
    EmptyRange,
    /// A grid point run by another executor (a Ray worker) failed there.
    #[error("{0}")]
    Remote(String),
}

impl BacktestError {
    /// The caller asked for something impossible (no data, an unknown instrument, a bad
    /// option, parameter or engine configuration), as opposed to bad data or a failed run.
    /// The CLI exits 2 (usage) for these.
    pub fn is_usage_error(&self) -> bool {
        matches!(
            self,
            Self::NoData
                | Self::UnknownInstrument(_)
                | Self::InvalidOption { .. }
                | Self::Parameter { .. }
                | Self::Config(_)
        )
    }

    pub(crate) fn option(name: &str, message: impl Into<String>) -> Self {
        Self::InvalidOption {
            name: name.to_string(),
            message: message.into(),
        }
    }

    pub(crate) fn output(path: &std::path::Path, e: impl fmt::Display) -> Self {
        Self::Output {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    }
}
