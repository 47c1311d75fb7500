//! scalper-backtest: the live engine, strategies and risk rules run on history with a
//! simulated clock and the engine's sim broker. Streaming data loaders (quote/bar CSV, IG
//! price JSON) with a binary cache, deterministic runs with a trade-list hash, report metrics,
//! trades CSV and an equity chart (PNG), and parallel parameter sweeps with walk-forward folds. Memory is
//! flat in the data's size: metrics, hash and a bounded equity curve are built as trades
//! close, and trades are kept (`keep_trades`) or streamed to a CSV (`trades_csv`) only when
//! asked.
//!
//! ```no_run
//! use scalper_backtest::{run_backtest, BacktestOptions, InstrumentSpec};
//!
//! let report = run_backtest(&BacktestOptions {
//!     data: vec!["eurusd.csv".into()],
//!     instrument: InstrumentSpec::named("EUR_USD"),
//!     strategy: Some("ema-cross".into()),
//!     set: vec!["fast=10".into(), "slow=30".into()],
//!     trades_csv: Some("trades.csv".into()), // written as trades close
//!     ..BacktestOptions::default()
//! })?;
//! println!("{report}"); // summary with the trade-list hash
//! # Ok::<(), scalper_backtest::BacktestError>(())
//! ```

pub mod cache;
pub mod curve;
pub mod data;
pub mod error;
pub mod funding;
pub mod hash;
pub mod metrics;
pub mod options;
pub mod output;
pub mod parse;
pub mod plot;
pub mod record;
pub mod recorder;
pub mod replay;
pub mod runner;
pub mod summary;
pub mod sweep;

pub use cache::recording::{
    Loss, RecordedPrices, RecordedQuote, RecordingInfo, RecordingReader, RecordingWriter,
};
pub use cache::CacheMode;
pub use curve::{CurveEnvelope, CurvePoint, PricePoint, MAX_CURVE_POINTS};
pub use data::{open_data, DataOptions};
pub use error::{BacktestError, DataError, DataErrorKind, Location};
pub use funding::FundingOptions;
pub use hash::{trades_hash, TradesHasher};
pub use metrics::{EquityPoint, Metrics, MetricsAccumulator, MetricsOptions, TradeRecord};
pub use options::{
    load_engine_config, parse_set, parse_time, recorded_price_scale, research_config,
    AccountConversion, BacktestOptions, InstrumentSpec,
};
pub use output::{
    write_bars_csv, write_quotes_csv, write_trades_csv, write_trades_file, TradesCsv, TradesFile,
};
pub use plot::{write_equity_png, write_replay_png, EquityPlot};
pub use record::{DataKind, RawBar, RawQuote, Record, RecordSource};
pub use recorder::{RecordError, RecordSummary, Recorder, RecorderConfig, RecorderHandle, Tap};
pub use replay::{
    replay_run, Attribution, Extra, InstrumentReplay, Leg, LiveTrade, Pair, ReplayInput,
};
pub use runner::{
    run_backtest, run_backtest_with_progress, run_on_source, BacktestReport, Progress, RefusalStat,
};
pub use sweep::{
    expand_grid, parse_grid, run_sweep, run_sweep_on, FoldReport, GridAxis, LocalRunner,
    PointOutcome, PointRunner, RankMetric, RemoteOutcome, SweepOptions, SweepReport, SweepRow,
};
