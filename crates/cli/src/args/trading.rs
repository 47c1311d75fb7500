//! Arguments of the commands that talk to a broker: `test`, `sandbox`, `run` and `demo`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::Args;

use super::values::{parse_duration, parse_sandbox_speed, parse_speed};

/// `scalper test <INSTRUMENT> [--json] [--trade] [--live]`
#[derive(Debug, Clone, Args)]
pub struct TestArgs {
    /// IG epic (`CS.D.EURUSD.CFD.IP`) or friendly name (`EUR_USD`, `GBP_USD`, ...).
    pub instrument: String,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Also open and close a minimum-size position, with confirmations.
    #[arg(long)]
    pub trade: bool,
    /// Allow --trade on a LIVE account (IG_DEMO=false).
    #[arg(long)]
    pub live: bool,
}

/// `scalper markets search <TEXT> [--json]`
#[derive(Debug, Clone, Args)]
pub struct MarketsSearchArgs {
    /// What to look for: a name (`EUR/USD`, `Germany 40`, `gold`) or part of an epic.
    pub text: String,
    /// Print one JSON array instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// `scalper sandbox ...`
#[derive(Debug, Clone, Args)]
pub struct SandboxArgs {
    /// Address to listen on. Anything but loopback exposes a fake broker to the network and is
    /// refused unless --allow-remote is given too.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Permit a non-loopback --bind (anyone who can reach the port can log in).
    #[arg(long)]
    pub allow_remote: bool,
    /// Port to listen on (0 picks a free port).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Seed of the market simulator.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Simulated-time acceleration factor (default 1: real time). 0 pauses the market: quotes
    /// move only through the admin API (`POST /sandbox/step`, `POST /sandbox/price`).
    #[arg(long, value_parser = parse_sandbox_speed)]
    pub speed: Option<f64>,
    /// Idle lifetime of v2 session tokens (e.g. 6h, 30s).
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub token_ttl: Option<Duration>,
    /// Lifetime of v3 OAuth access tokens (`expires_in`).
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub oauth_ttl: Option<Duration>,
    /// Username the sandbox accepts (default `sandbox`).
    #[arg(long, value_name = "U")]
    pub username: Option<String>,
    /// Password the sandbox accepts (default `sandbox-pass`).
    #[arg(long, value_name = "P")]
    pub password: Option<String>,
    /// API key the sandbox accepts (default `sandbox-api-key`).
    #[arg(long, value_name = "K")]
    pub api_key: Option<String>,
    /// The account --username's login lands on: `cfd` (SANDBOX-CFD, the default) or
    /// `spread-bet` (SANDBOX-SB). The second login `sandbox-sb` always lands on SANDBOX-SB.
    #[arg(long, value_name = "ACCOUNT", value_parser = parse_account)]
    pub default_account: Option<String>,
    /// Fault-injection specification (see the README).
    #[arg(long, value_name = "SPEC")]
    pub faults: Option<String>,
    /// Keep every market TRADEABLE whatever the (simulated) time, instead of each market's
    /// own hours (FX Sunday-Friday, Germany 40 01:15-22:00 Frankfurt, ...).
    #[arg(long)]
    pub always_open: bool,
    /// Start the simulated clock here (RFC 3339 such as 2026-12-24T12:55:00Z, a date, or epoch
    /// ms; UTC without an offset) instead of now.
    #[arg(long, value_name = "TIME", value_parser = parse_start_time)]
    pub start_time: Option<scalper_model::Timestamp>,
    /// A closed day or early close: DATE[@HH:MM][=MARKET,...] (e.g. 2026-12-25, or
    /// 2026-12-24@13:00=GER40,FTSE100; times in each market's own zone). Repeatable.
    #[arg(long, value_name = "SPEC", value_parser = parse_holiday)]
    pub holiday: Vec<scalper_sandbox::MarketHoliday>,
}

fn parse_start_time(s: &str) -> Result<scalper_model::Timestamp, String> {
    scalper_backtest::parse_time(s).map_err(|_| {
        format!("{s:?} is not a time: use RFC 3339 (2026-12-24T12:55:00Z), a date or epoch ms")
    })
}

fn parse_account(s: &str) -> Result<String, String> {
    match s.to_ascii_lowercase().as_str() {
        "cfd" | "sandbox-cfd" => Ok(scalper_sandbox::config::CFD_ACCOUNT.into()),
        "spread-bet" | "spreadbet" | "sb" | "sandbox-sb" => {
            Ok(scalper_sandbox::config::SPREAD_BET_ACCOUNT.into())
        }
        _ => Err(format!(
            "{s:?} is not an account: use cfd (SANDBOX-CFD) or spread-bet (SANDBOX-SB)"
        )),
    }
}

fn parse_holiday(s: &str) -> Result<scalper_sandbox::MarketHoliday, String> {
    scalper_sandbox::MarketHoliday::parse(s)
}

impl SandboxArgs {
    /// Whether `--bind` leaves the machine.
    pub fn is_loopback(&self) -> bool {
        self.bind.is_loopback()
    }
}

/// `--http ADDR [--http-allow-remote]`: the observability server of `run` and `demo`.
#[derive(Debug, Clone, Args)]
pub struct HttpArgs {
    /// Serve /metrics (Prometheus), /health, /health/ready and /api/status on this address,
    /// e.g. 127.0.0.1:9464 (port 0 picks a free one; the address is printed). With
    /// SCALPER_CONTROL_TOKEN set, also POST /api/halt, /api/flatten and /api/resume.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,
    /// Permit a non-loopback --http address (anyone who can reach it sees the run).
    #[arg(long, requires = "http")]
    pub http_allow_remote: bool,
}

/// `scalper status [--url URL] [--journal PATH] [--json]`
#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// The running engine's --http address.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:9464")]
    pub url: String,
    /// The journal to read when no run answers (default: `[journal] path` in scalper.toml,
    /// else data/journal.sqlite).
    #[arg(long, value_name = "PATH")]
    pub journal: Option<std::path::PathBuf>,
    /// Print the JSON status instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `scalper run [--paper | --shadow] [--live] [--instruments LIST] [--duration D] [--json]`
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Trade on paper (simulated fills on live IG quotes).
    #[arg(long, conflicts_with = "live")]
    pub paper: bool,
    /// Run a paper engine beside live on the same quotes and configuration, and report each
    /// live trade against its paper twin (entry/exit difference in points, P&L difference).
    /// Never sends an order and never slows live trading. Not with --paper.
    #[arg(long)]
    pub shadow: bool,
    /// Required (with IG_DEMO=false) to trade a LIVE account.
    #[arg(long)]
    pub live: bool,
    /// Comma-separated instruments (epics or friendly names), e.g. EUR_USD,GBP_USD.
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub instruments: Vec<String>,
    /// Stop after this long (default: until Ctrl-C, SIGTERM or SIGHUP).
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// What to do with open positions when the run ends by --duration: close them all
    /// (flatten) or leave them with their broker stops and limits, each listed at WARN and in
    /// the summary (leave). Default: `[engine] at_end` in scalper.toml, else flatten.
    #[arg(long, value_name = "POLICY", value_parser = ["flatten", "leave"])]
    pub at_end: Option<String>,
    /// The trade journal (default: `[journal] path` in scalper.toml, else data/journal.sqlite).
    #[arg(long, value_name = "PATH")]
    pub journal: Option<std::path::PathBuf>,
    /// Print the summary as one JSON object.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub record: RecordFlag,
}

/// `--record [DIR]` of `run` and `demo`.
#[derive(Debug, Clone, Args)]
pub struct RecordFlag {
    /// Record every quote received to DIR/<EPIC>/<YYYY-MM-DD>.sbc (backtest data; default DIR:
    /// `[record] dir` in scalper.toml, else data/recordings). Never slows trading.
    #[arg(long, value_name = "DIR", num_args = 0..=1)]
    pub record: Option<Option<std::path::PathBuf>>,
}

/// `scalper record [DIR] [--instruments LIST] [--sandbox] [--duration D] [--json]`
#[derive(Debug, Clone, Args)]
pub struct RecordArgs {
    /// Where to record (default: `[record] dir` in scalper.toml, else data/recordings).
    pub dir: Option<std::path::PathBuf>,
    /// Comma-separated instruments (epics or friendly names); default as for `run`.
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub instruments: Vec<String>,
    /// Record the built-in sandbox's simulated market (no account needed) instead of IG.
    #[arg(long)]
    pub sandbox: bool,
    /// Seed of the sandbox market (with --sandbox).
    #[arg(long, requires = "sandbox")]
    pub seed: Option<u64>,
    /// Simulated-time acceleration of the sandbox market (with --sandbox).
    #[arg(long, requires = "sandbox", value_parser = parse_speed)]
    pub speed: Option<f64>,
    /// Stop after this long (default: until Ctrl-C, SIGTERM or SIGHUP).
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Print what was recorded as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `scalper demo [--duration D] [--speed X] [--seed N] [--shadow] [--json]`
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Wall-clock length of the demo.
    #[arg(long, value_name = "D", value_parser = parse_duration, default_value = "60s")]
    pub duration: Duration,
    /// Simulated-time acceleration factor of the sandbox market.
    #[arg(long, value_parser = parse_speed)]
    pub speed: Option<f64>,
    /// Seed of the sandbox market simulator.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Run a paper engine beside the demo's engine and report each trade against its paper
    /// twin (see `run --shadow`).
    #[arg(long)]
    pub shadow: bool,
    /// A new journal for this demo (it must not exist: each demo's sandbox is new). Default:
    /// data/demo-journal-<UTC time>.sqlite; earlier demos' journals are kept.
    #[arg(long, value_name = "PATH")]
    pub journal: Option<std::path::PathBuf>,
    /// Print the summary as one JSON object.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub record: RecordFlag,
}
