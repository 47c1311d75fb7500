//! `scalper demo`: the README's first command. Starts the sandbox in-process with short token
//! lifetimes (so refreshes visibly happen), runs the engine against it through the real REST
//! client and Lightstreamer stream for about a minute, and prints the summary. Needs no account.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use scalper_engine::{EngineConfig, RiskPerTrade};
use scalper_ig::{Environment, IgClient, IgConfig, SessionVersion};
use scalper_model::{Epic, Money};
use scalper_sandbox::{MarketSchedule, Sandbox, SandboxConfig};

use crate::args::DemoArgs;
use crate::Context;
use scalper_live::RunOptions;

/// Instruments the demo trades.
const DEMO_INSTRUMENTS: [&str; 3] = ["EUR_USD", "GBP_USD", "USD_JPY"];
/// Risk per trade in the demo, in account currency.
const DEMO_RISK_PER_TRADE: i64 = 15;
/// Where demo journals go by default: `data/demo-journal-<UTC time>.sqlite`.
const DEMO_JOURNAL_DIR: &str = "data";
/// Simulated seconds per wall second unless `--speed` says otherwise.
const DEFAULT_SPEED: f64 = 30.0;
/// v3 access-token lifetime in the demo: short, so refreshes happen during the run.
const DEMO_OAUTH_TTL: Duration = Duration::from_secs(8);

pub async fn run(args: &DemoArgs, ctx: &Context) -> anyhow::Result<ExitCode> {
    crate::commands::observe::check(&args.http)?;
    crate::commands::alerts::check(ctx)?;
    if ctx.toml().table.contains_key("engine") {
        eprintln!("note: demo ignores the [engine] section of scalper.toml (it runs the built-in strategy with the demo's fixed risk against its own sandbox); `scalper run` uses it");
    }
    let sandbox_cfg = SandboxConfig {
        seed: args.seed.unwrap_or(42),
        speed: args.speed.unwrap_or(DEFAULT_SPEED),
        schedule: MarketSchedule::AlwaysOpen,
        oauth_expires_in: DEMO_OAUTH_TTL,
        oauth_refresh_ttl: Duration::from_secs(60),
        token_idle_ttl: Duration::from_secs(30),
        ..SandboxConfig::default()
    };
    // The demo's sandbox is new every run, so it needs a journal of its own: a new file, never
    // an earlier one (which describes positions of another sandbox), and nothing is deleted.
    let journal_path = demo_journal(args.journal.as_ref())?;
    let sandbox = Sandbox::start(sandbox_cfg)
        .await
        .context("starting the built-in sandbox")?;
    let creds = sandbox.credentials().clone();
    eprintln!(
        "environment: SANDBOX (built-in IG-compatible broker at {}, no real money)",
        sandbox.rest_url()
    );
    let ig = IgConfig::new(
        Environment::Demo,
        creds.username.clone(),
        creds.password.clone(),
        creds.api_key.clone(),
    )
    .with_api_url(sandbox.rest_url())
    .with_session_version(SessionVersion::V3);
    let client = IgClient::new(ig)?;
    let epics = DEMO_INSTRUMENTS
        .iter()
        .filter_map(|n| scalper_model::market::resolve_instrument(n))
        .collect::<Vec<Epic>>();
    let mut engine_cfg = EngineConfig {
        seed: args.seed.unwrap_or(42),
        ..EngineConfig::default()
    };
    // A fixed risk per trade keeps each demo position's margin small enough for the sandbox
    // account to hold one position per instrument at once.
    engine_cfg.risk.risk_per_trade =
        RiskPerTrade::Amount(rust_decimal::Decimal::from(DEMO_RISK_PER_TRADE));
    let mut opts = RunOptions {
        duration: Some(args.duration),
        paper: false,
        shadow: args.shadow,
        status_line: !args.json,
        stream: scalper_ig::stream::StreamConfig::default(),
        equity: Money::new(rust_decimal::Decimal::from(10_000)),
        journal: Some(journal_path.clone()),
        durable_journal: false,
        interrupts: None,
        ..RunOptions::default()
    };
    let recording = crate::commands::record::start_if(&args.record, ctx, &mut opts.stream)?;
    let result = crate::commands::alerts::run_observed(
        ctx, &args.http, opts, "demo", "SANDBOX", client, engine_cfg, epics,
    )
    .await?;
    let state = sandbox.state();
    if tokio::time::timeout(Duration::from_secs(5), sandbox.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("the sandbox did not stop within 5 s; abandoning it");
    }
    let recorded = recording.map(crate::commands::record::Recording::finish);
    let report = result?;
    crate::commands::summary::print(&report, args.json, recorded.as_ref());
    if !args.json {
        let j = journal_path.display();
        outln!("journal: {j} (try `scalper journal list --journal {j}`)");
        for a in &state.accounts {
            if !a.ledger.is_empty() {
                outln!(
                    "sandbox account {}: balance {}{} ({} ledger entries, {} open positions)",
                    a.account_id,
                    a.balance,
                    report
                        .currency
                        .as_deref()
                        .map(|c| format!(" {c}"))
                        .unwrap_or_default(),
                    a.ledger.len(),
                    a.positions.len()
                );
            }
        }
    }
    Ok(ExitCode::from(report.exit_code))
}

/// The demo's journal: `flag` if it does not exist yet (refused otherwise), else a new
/// timestamped file under `data/`.
fn demo_journal(flag: Option<&std::path::PathBuf>) -> anyhow::Result<std::path::PathBuf> {
    if let Some(p) = flag {
        if p.exists() {
            return Err(crate::config::ConfigError::Usage(format!(
                "--journal {}: the file exists; each demo runs a new sandbox, so it needs a new journal (choose a path that does not exist)",
                p.display()
            ))
            .into());
        }
        return Ok(p.clone());
    }
    #[allow(clippy::disallowed_methods)] // a file name, not trading time
    let now = chrono::Utc::now();
    let stem = format!("demo-journal-{}", now.format("%Y%m%d-%H%M%S"));
    for n in 0u32..1000 {
        let name = if n == 0 {
            format!("{stem}.sqlite")
        } else {
            format!("{stem}-{n}.sqlite")
        };
        let p = std::path::Path::new(DEMO_JOURNAL_DIR).join(name);
        if !p.exists() {
            return Ok(p);
        }
    }
    anyhow::bail!("cannot find a free demo journal name in {DEMO_JOURNAL_DIR}/")
}
