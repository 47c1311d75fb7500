//! `scalper run`: the engine trading on IG (demo or live account), or on paper with live
//! quotes. LIVE needs both `IG_DEMO=false` and `--live`; credentials are checked first, with the
//! same report as `config check` on failure.

use std::process::ExitCode;

use scalper_engine::EngineConfig;
use scalper_ig::{Environment, IgClient};
use scalper_model::{Epic, Money};

use crate::args::RunArgs;
use crate::config::ConfigError;
use crate::Context;
use scalper_live::RunOptions;

pub async fn run(args: &RunArgs, ctx: &Context) -> anyhow::Result<ExitCode> {
    crate::commands::observe::check(&args.http)?;
    if args.shadow && args.paper {
        return Err(ConfigError::Usage(scalper_live::SHADOW_WITH_PAPER.into()).into());
    }
    let cfg = ctx.ig_config()?;
    match (cfg.environment, args.live) {
        (Environment::Live, false) if !args.paper => {
            return Err(ConfigError::Usage(
                "IG_DEMO=false selects the LIVE account: add --live to trade real money, or --paper to simulate fills".into(),
            )
            .into())
        }
        (Environment::Demo, true) => {
            return Err(ConfigError::Usage(
                "--live was given but the configuration selects DEMO (IG_DEMO is unset or true); set IG_DEMO=false to trade live".into(),
            )
            .into())
        }
        _ => {}
    }
    let mut engine_cfg = engine_config(ctx)?;
    if let Some(policy) = &args.at_end {
        engine_cfg.at_end = policy.parse().map_err(ConfigError::Usage)?;
    }
    let epics = instruments(&args.instruments, ctx, &engine_cfg)?;
    eprintln!(
        "environment: {} ({})  mode: {}  at end: {}  instruments: {}",
        cfg.environment.as_str().to_uppercase(),
        cfg.api_url,
        match (args.paper, args.shadow) {
            (true, _) => "PAPER",
            (false, true) => "DEALING + SHADOW PAPER",
            (false, false) => "DEALING",
        },
        engine_cfg.at_end.as_str(),
        epics
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let environment = cfg.environment;
    let client = IgClient::new(cfg)?;
    let mut opts = RunOptions {
        duration: args.duration,
        paper: args.paper,
        shadow: args.shadow,
        status_line: !args.json,
        stream: scalper_ig::stream::StreamConfig::default(),
        equity: Money::new(rust_decimal::Decimal::from(10_000)),
        journal: Some(crate::commands::journal::journal_path(
            args.journal.as_ref(),
            ctx,
        )?),
        durable_journal: true,
        interrupts: None,
        ..RunOptions::default()
    };
    let recording = crate::commands::record::start_if(&args.record, ctx, &mut opts.stream)?;
    let result = crate::commands::alerts::run_observed(
        ctx,
        &args.http,
        opts,
        if args.paper { "paper" } else { "dealing" },
        &environment.as_str().to_uppercase(),
        client,
        engine_cfg,
        epics,
    )
    .await?;
    let recorded = recording.map(crate::commands::record::Recording::finish);
    let report = result?;
    crate::commands::summary::print(&report, args.json, recorded.as_ref());
    Ok(ExitCode::from(report.exit_code))
}

/// The `[engine]` section of the TOML file (defaults without one), with a per-run seed so deal
/// references never repeat across runs.
pub fn engine_config(ctx: &Context) -> anyhow::Result<EngineConfig> {
    let mut cfg: EngineConfig = ctx
        .toml()
        .section("engine")
        .map_err(ConfigError::Usage)?
        .unwrap_or_default();
    load_news(&mut cfg)?;
    cfg.validate()
        .map_err(|e| ConfigError::Usage(format!("[engine]: {e}")))?;
    cfg.seed = run_seed();
    Ok(cfg)
}

/// Reads `[engine.news] file` (`.ics` as iCalendar, anything else as CSV) into the events.
fn load_news(cfg: &mut EngineConfig) -> Result<(), ConfigError> {
    let Some(file) = cfg.news.file.clone() else {
        return Ok(());
    };
    let text = std::fs::read_to_string(&file).map_err(|e| {
        ConfigError::Usage(format!("[engine.news] file {file}: cannot read it: {e}"))
    })?;
    let is_ics = std::path::Path::new(&file)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("ics"));
    let parsed = if is_ics {
        scalper_engine::news::parse_ics(&text)
    } else {
        scalper_engine::news::parse_csv(&text)
    };
    cfg.news.events =
        parsed.map_err(|e| ConfigError::Usage(format!("[engine.news] file {file}: {e}")))?;
    let counted = cfg
        .news
        .events
        .iter()
        .filter(|e| e.impact >= cfg.news.min_impact)
        .count();
    tracing::info!(
        file,
        events = cfg.news.events.len(),
        at_or_above_min_impact = counted,
        before_min = cfg.news.before_min,
        after_min = cfg.news.after_min,
        flatten = cfg.news.flatten,
        "news blackouts loaded"
    );
    Ok(())
}

#[allow(clippy::disallowed_methods)] // a per-run seed for deal references, not trading time
fn run_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// `--instruments`, else the `[engine.instruments]` keys, else EUR_USD, as epics.
pub fn instruments(
    list: &[String],
    ctx: &Context,
    cfg: &EngineConfig,
) -> anyhow::Result<Vec<Epic>> {
    let names: Vec<String> = if !list.is_empty() {
        list.to_vec()
    } else if !cfg.instruments.is_empty() {
        cfg.instruments.keys().cloned().collect()
    } else {
        vec!["EUR_USD".to_string()]
    };
    let mut epics = Vec::new();
    for n in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        let e = ctx.resolve_epic(n)?;
        if !epics.contains(&e) {
            epics.push(e);
        }
    }
    if epics.is_empty() {
        return Err(ConfigError::Usage("--instruments names no instrument".into()).into());
    }
    Ok(epics)
}
