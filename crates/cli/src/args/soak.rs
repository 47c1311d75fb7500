//! `scalper soak` arguments.

use std::path::PathBuf;

use clap::Args;

use super::values::parse_speed;

/// The soak's default instruments: every market the sandbox serves (five FX pairs, four
/// indices and gold).
pub const DEFAULT_INSTRUMENTS: &str =
    "EUR_USD,GBP_USD,USD_JPY,AUD_USD,EUR_GBP,GER40,US500,WALL_ST,FTSE100,GOLD";

/// `scalper soak [--hours H] [--seed N] [--speed X] [--kills K] [--json]`
#[derive(Debug, Clone, Args)]
pub struct SoakArgs {
    /// Simulated hours to run.
    #[arg(long, default_value_t = 24.0, value_parser = parse_speed)]
    pub hours: f64,
    /// Seed of the market and of the fault schedule.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Simulated seconds per wall second (24 h at 300 take 4.8 minutes).
    #[arg(long, default_value_t = 300.0, value_parser = parse_speed)]
    pub speed: f64,
    /// SIGKILL-and-restart cycles spread over the run (at least 1).
    #[arg(long, default_value_t = 3)]
    pub kills: u32,
    /// Instruments the engine trades.
    #[arg(long, default_value = DEFAULT_INSTRUMENTS)]
    pub instruments: String,
    /// Positions the broker must open per 24 simulated hours; fewer fail the soak (it did not
    /// trade enough to prove its checks).
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub min_positions_per_day: u64,
    /// Working directory for the journal, logs and run outputs (default: a new temporary
    /// directory, removed when the soak passes).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Peak resident memory allowed for the engine, in MiB.
    #[arg(long, default_value_t = 256)]
    pub max_rss_mib: u64,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
}
