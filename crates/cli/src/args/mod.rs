//! Command-line arguments of the `scalper` binary (clap derive): global flags and the
//! subcommand tree. Parsing only; the commands live in `crate::commands`.

mod research;
mod soak;
mod trading;
mod values;

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

pub use research::{
    BacktestArgs, JournalArgs, JournalCommand, PricesArgs, ReplayArgs, ReportArgs, SweepArgs,
    SynthArgs,
};
pub use soak::SoakArgs;
pub use trading::{
    DemoArgs, HttpArgs, MarketsSearchArgs, RecordArgs, RecordFlag, RunArgs, SandboxArgs,
    StatusArgs, TestArgs,
};
pub use values::{parse_duration, parse_speed};

/// A fast, safe scalping engine for IG Markets.
#[derive(Debug, Parser)]
#[command(name = "scalper", version, about, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 success, 1 other failure, 2 configuration or usage error, \
3 authentication refused (credentials, API key, lockout), 4 broker or network unavailable after retries."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags accepted before or after any subcommand.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// More console logging (-v debug, -vv trace).
    #[arg(short, long, global = true, action = ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Less console logging (-q warnings only, -qq errors only).
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub quiet: u8,
    /// Log filter in RUST_LOG syntax (e.g. `info,scalper_ig=debug`); overrides -v/-q and RUST_LOG.
    #[arg(long, global = true, value_name = "FILTER")]
    pub log_filter: Option<String>,
    /// Directory of `scalping_engine.log` (rotated daily).
    #[arg(long, global = true, value_name = "DIR", default_value = "logs")]
    pub log_dir: PathBuf,
    /// Read IG_* variables from this file only (instead of `.env.scalper` and `.env`).
    #[arg(long, global = true, value_name = "PATH")]
    pub env_file: Option<PathBuf>,
    /// TOML configuration file (default: `scalper.toml` if present).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Overrides IG_USERNAME.
    #[arg(long, global = true, value_name = "USER")]
    pub ig_username: Option<String>,
    /// Overrides IG_DEMO (`true` or `false`).
    #[arg(long, global = true, value_name = "BOOL")]
    pub ig_demo: Option<String>,
    /// Overrides IG_ACCOUNT_ID.
    #[arg(long, global = true, value_name = "ID")]
    pub ig_account_id: Option<String>,
    /// Overrides IG_API_URL (REST base URL, e.g. a local sandbox).
    #[arg(long, global = true, value_name = "URL")]
    pub ig_api_url: Option<String>,
    /// Overrides IG_SESSION_VERSION (`2` or `3`).
    #[arg(long, global = true, value_name = "N")]
    pub ig_session_version: Option<String>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Connectivity check: log in, print the session and a market snapshot (optionally trade).
    Test(TestArgs),
    /// Run the IG-compatible sandbox broker on loopback until Ctrl-C.
    Sandbox(SandboxArgs),
    /// Trade on IG (paper or real) with the configured strategy.
    Run(RunArgs),
    /// Run the engine against an in-process sandbox; no account needed.
    Demo(DemoArgs),
    /// Record quotes without trading (IG, or the built-in sandbox with --sandbox), to the
    /// files `backtest --data` reads.
    Record(RecordArgs),
    /// Replay a journaled run over its recording with the sim broker and the run's own
    /// configuration, and compare trade by trade: same decisions? the P&L difference explained
    /// by latency, slippage, exit timing and missed or extra trades.
    Replay(ReplayArgs),
    /// Backtest a strategy on historical data.
    Backtest(BacktestArgs),
    /// Run a parameter grid in parallel and rank the results.
    Sweep(SweepArgs),
    /// Write synthetic quotes from the sandbox's market simulator.
    Synth(SynthArgs),
    /// Download IG price history to CSV.
    Prices(PricesArgs),
    /// Find IG markets and their epics.
    #[command(subcommand)]
    Markets(MarketsCommand),
    /// Inspect the trade journal.
    #[command(subcommand)]
    Journal(JournalCommand),
    /// Per-day and per-instrument performance report from the journal.
    Report(ReportArgs),
    /// What a running engine is doing (its `--http` server's /api/status), or what the journal
    /// says when no run answers.
    Status(StatusArgs),
    /// Fault soak: the engine against the sandbox in accelerated time under a seeded schedule
    /// of IG failures and SIGKILLs, then checks that nothing was lost or doubled.
    Soak(SoakArgs),
    /// Alerts (`[alerts]` in scalper.toml).
    #[command(subcommand)]
    Alerts(AlertsCommand),
}

/// `scalper alerts ...`
#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Send one test message to each configured channel and report each one's outcome.
    Test(AlertsTestArgs),
}

/// `scalper alerts test`
#[derive(Debug, Clone, Args)]
pub struct AlertsTestArgs {
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `scalper markets ...`
#[derive(Debug, Subcommand)]
pub enum MarketsCommand {
    /// Search IG's markets by name (`/markets?searchTerm=`): epic, name, type, product, status
    /// and prices, with the friendly name scalper knows it by.
    Search(MarketsSearchArgs),
}

/// `scalper config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Show every source, variable (redacted), the environment and every problem.
    Check(ConfigCheckArgs),
}

/// `scalper config check`
#[derive(Debug, Clone, Args)]
pub struct ConfigCheckArgs {
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_after_subcommand() {
        let cli = Cli::try_parse_from([
            "scalper",
            "config",
            "check",
            "--json",
            "-v",
            "--env-file",
            "x",
        ])
        .unwrap();
        assert_eq!(cli.global.verbose, 1);
        assert_eq!(
            cli.global.env_file.as_deref(),
            Some(std::path::Path::new("x"))
        );
        assert!(Cli::try_parse_from(["scalper", "-v", "-q", "config", "check"]).is_err());
    }
}
