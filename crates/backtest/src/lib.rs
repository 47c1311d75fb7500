//! scalper-backtest: the live engine, strategies and risk rules run on history with a
//! simulated clock and the engine's sim broker. Streaming data loaders (quote/bar CSV, IG
//! price JSON) with a binary cache, deterministic runs with a trade-list hash, report metrics,
//! trades CSV and equity PNG, and parallel parameter sweeps with walk-forward folds.

pub mod cache;
pub mod data;
pub mod error;

pub use cache::CacheMode;
pub use data::{open_data, DataKind, DataOptions, RawBar, RawQuote, Record, RecordSource};
pub use error::{BacktestError, DataError, DataErrorKind, Location};
