//! Arguments of the research and bookkeeping commands: `backtest`, `sweep`, `synth`, `prices`,
//! `journal` and `report`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// `scalper backtest --data FILE ...`
#[derive(Debug, Clone, Args)]
pub struct BacktestArgs {
    /// Quote CSV, bar CSV or IG price JSON (repeatable).
    #[arg(long, required = true, value_name = "FILE")]
    pub data: Vec<PathBuf>,
    /// Instrument the data belongs to (epic or friendly name).
    #[arg(long, default_value = "EUR_USD")]
    pub instrument: String,
    /// Strategy: `scalper` (default), `sma-cross` or `ema-cross`.
    #[arg(long, value_name = "NAME")]
    pub strategy: Option<String>,
    /// Strategy parameter override (repeatable), e.g. --set fast=10.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// First timestamp to use (RFC 3339 or epoch ms).
    #[arg(long, value_name = "T")]
    pub from: Option<String>,
    /// Last timestamp to use (RFC 3339 or epoch ms).
    #[arg(long, value_name = "T")]
    pub to: Option<String>,
    /// Fill latency in milliseconds (0 fills on the triggering quote).
    #[arg(long, value_name = "MS")]
    pub latency: Option<u64>,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Write one row per closed trade to this CSV, as trades close (trades are not kept in
    /// memory; only --json lists them).
    #[arg(long, value_name = "OUT.csv")]
    pub trades: Option<PathBuf>,
    /// Write the equity chart as a PNG: title (strategy, instrument, period), equity in the
    /// account currency over a dated time axis, and the drawdown below it (the curve's
    /// envelope: each time bucket's low and high, at most 4,098 points).
    #[arg(long, value_name = "OUT.png")]
    pub plot: Option<PathBuf>,
    /// Add a price panel to --plot with every trade's entry (▲ buy, ▼ sell) and exit (×);
    /// keeps the trade list in memory.
    #[arg(long, requires = "plot")]
    pub plot_trades: bool,
    /// Do not read or write the binary data cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Prices in the data: `market` (1.08123) or `ig` (IG's scaled levels, 10812.3). Default:
    /// the scale recordings (`run --record`) were made in, else `market`. A file in the other
    /// scale for a built-in market is refused.
    #[arg(long, value_name = "market|ig")]
    pub price_scale: Option<String>,
    /// Account currency the run reports in (default: `[backtest] account_currency` in the
    /// config file, else GBP). P&L is converted from the instrument's currency at `--rate`.
    #[arg(long, value_name = "CODE")]
    pub account_currency: Option<String>,
    /// Starting equity in the account currency (default: `[backtest] initial_equity`, else
    /// 10000).
    #[arg(long, value_name = "AMOUNT")]
    pub initial_equity: Option<String>,
    /// Fixed conversion rate: account-currency units per unit of the instrument's currency
    /// (default: `[backtest] rate`, else the built-in fixed rates, e.g. 0.79 GBP per USD).
    #[arg(long, value_name = "RATE")]
    pub rate: Option<String>,
}

/// `scalper sweep --data F --strategy S --grid k=v1,v2 ...`
#[derive(Debug, Clone, Args)]
pub struct SweepArgs {
    /// Data file(s), as for `backtest`.
    #[arg(long, required = true, value_name = "FILE")]
    pub data: Vec<PathBuf>,
    /// Instrument (friendly name or epic) the data is for.
    #[arg(long, default_value = "EUR_USD")]
    pub instrument: String,
    /// Strategy to sweep (scalper, ema-cross, sma-cross).
    #[arg(long, value_name = "NAME")]
    pub strategy: String,
    /// Parameter grid (repeatable), e.g. --grid fast=5,10,20.
    #[arg(long, required = true, value_name = "KEY=V1,V2,...")]
    pub grid: Vec<String>,
    /// Fixed parameter override (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Parallel jobs (default: all cores).
    #[arg(long, value_name = "N", conflicts_with = "ray")]
    pub jobs: Option<usize>,
    /// Run every backtest of the sweep as a task on this Ray cluster (e.g. 127.0.0.1:6379, or
    /// `auto`), with the same report as a local sweep. Needs a Python with the scalper package
    /// and Ray (see --python); the workers read the data files by their absolute paths.
    #[arg(long, value_name = "ADDRESS")]
    pub ray: Option<String>,
    /// The Python that drives Ray for --ray (default: SCALPER_PYTHON, else python3).
    #[arg(long, value_name = "PATH", requires = "ray")]
    pub python: Option<PathBuf>,
    /// Ranking metric (e.g. pnl, sharpe, sortino, profit_factor).
    #[arg(long, value_name = "M", default_value = "pnl")]
    pub metric: String,
    /// Walk-forward folds: report out-of-sample results per fold.
    #[arg(long, value_name = "K")]
    pub walk_forward: Option<u32>,
    /// Print the ranked results as JSON.
    #[arg(long)]
    pub json: bool,
    /// Account currency the run reports in (default: `[backtest] account_currency` in the
    /// config file, else GBP). P&L is converted from the instrument's currency at `--rate`.
    #[arg(long, value_name = "CODE")]
    pub account_currency: Option<String>,
    /// Starting equity in the account currency (default: `[backtest] initial_equity`, else
    /// 10000).
    #[arg(long, value_name = "AMOUNT")]
    pub initial_equity: Option<String>,
    /// Fixed conversion rate: account-currency units per unit of the instrument's currency
    /// (default: `[backtest] rate`, else the built-in fixed rates, e.g. 0.79 GBP per USD).
    #[arg(long, value_name = "RATE")]
    pub rate: Option<String>,
}

/// `scalper synth --instrument EUR_USD --quotes N --seed S --out F.csv`
#[derive(Debug, Clone, Args)]
pub struct SynthArgs {
    /// Instrument (friendly name or epic) whose market to simulate.
    #[arg(long, default_value = "EUR_USD")]
    pub instrument: String,
    /// Number of quotes to write.
    #[arg(long, value_name = "N")]
    pub quotes: u64,
    /// Seed of the simulator: the same seed writes the same file.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Output CSV file (created; an existing file is replaced).
    #[arg(long, value_name = "F.csv")]
    pub out: PathBuf,
    /// Keep IG's scaled CFD prices (10812.3) instead of market prices (1.08123).
    #[arg(long)]
    pub ig_scaled: bool,
}

/// `scalper prices <INSTRUMENT> --resolution R --from T --to T --out F.csv`
#[derive(Debug, Clone, Args)]
pub struct PricesArgs {
    /// IG epic or friendly name.
    pub instrument: String,
    /// IG resolution (SECOND, MINUTE, MINUTE_5, HOUR, DAY, ...).
    #[arg(long, value_name = "R")]
    pub resolution: String,
    /// Start (UTC), e.g. 2026-01-05T08:00:00.
    #[arg(long, value_name = "T")]
    pub from: String,
    /// End (UTC, exclusive), e.g. 2026-01-05T12:00:00.
    #[arg(long, value_name = "T")]
    pub to: String,
    /// Output CSV file.
    #[arg(long, value_name = "F.csv")]
    pub out: PathBuf,
    /// Keep IG's scaled levels (10812.3) instead of market prices (1.08123), the unit
    /// `scalper backtest --instrument EUR_USD` expects.
    #[arg(long)]
    pub ig_scaled: bool,
}

/// `scalper journal list|show|export`
#[derive(Debug, Clone, Subcommand)]
pub enum JournalCommand {
    /// List journalled trades.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        journal: JournalArgs,
    },
    /// Show one trade and its events.
    Show {
        /// Trade id or deal reference.
        id: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        journal: JournalArgs,
    },
    /// Export the journal.
    Export {
        /// CSV output.
        #[arg(long, conflicts_with = "json")]
        csv: bool,
        /// JSON output.
        #[arg(long)]
        json: bool,
        /// Write to this file instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[command(flatten)]
        journal: JournalArgs,
    },
}

/// The journal's location.
#[derive(Debug, Clone, Args)]
pub struct JournalArgs {
    /// Journal database (default: `[journal] path` in the config file, else
    /// `data/journal.sqlite`).
    #[arg(long, value_name = "PATH")]
    pub journal: Option<PathBuf>,
}

/// `scalper report [--from --to] [--json]`
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// From this close time (UTC, e.g. 2026-01-05T08:00:00; default: the beginning).
    #[arg(long, value_name = "T")]
    pub from: Option<String>,
    /// Up to this close time (UTC, exclusive; default: no end).
    #[arg(long, value_name = "T")]
    pub to: Option<String>,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Report how trades were executed instead: slippage against the quote decided on, latency
    /// (sent, acknowledged, confirmed) and spreads, by instrument and by hour of day.
    #[arg(long)]
    pub execution: bool,
    /// Journal database (default: `[journal] path` in the config file, else
    /// `data/journal.sqlite`).
    #[arg(long, value_name = "PATH")]
    pub journal: Option<PathBuf>,
}

/// `scalper replay [--journal PATH] [--data DIR] [--run N] [--trades] [--plot FILE] [--json]`
#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// The run's journal (default: `[journal] path` in the config file, else
    /// `data/journal.sqlite`; a demo's is data/demo-journal-<time>.sqlite).
    #[arg(long, value_name = "PATH")]
    pub journal: Option<PathBuf>,
    /// The run's recording: the directory `--record` wrote (default: `[record] dir`, else
    /// data/recordings), an instrument's directory in it, or a day file.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Which run of the journal: 1 is the first, -1 (default) the last.
    #[arg(long, value_name = "N", default_value_t = -1, allow_hyphen_values = true)]
    pub run: i64,
    /// List every matched trade, not only those that differ.
    #[arg(long)]
    pub trades: bool,
    /// Write a chart (PNG) of the realised P&L, live against replay.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Print the replay as one JSON object.
    #[arg(long)]
    pub json: bool,
}
