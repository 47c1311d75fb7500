//! `scalper backtest` and `scalper sweep` (scalper-backtest: the live engine on history), and
//! `scalper synth` (synthetic quotes from the sandbox's market simulator).

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context as _;
use scalper_backtest::{
    parse_grid, parse_time, run_backtest_with_progress, run_sweep, run_sweep_on, write_equity_png,
    AccountConversion, BacktestOptions, CacheMode, EquityPlot, InstrumentSpec, RankMetric,
    SweepOptions,
};
use scalper_engine::EngineConfig;

use crate::args::{BacktestArgs, SweepArgs, SynthArgs};
use crate::config::ConfigError;
use crate::exit::SUCCESS;
use crate::output::print_json;
use crate::Context;

/// Options shared by `backtest` and `sweep`.
struct Common<'a> {
    data: &'a [std::path::PathBuf],
    instrument: &'a str,
    strategy: Option<&'a str>,
    set: &'a [String],
    from: Option<&'a str>,
    to: Option<&'a str>,
    latency: Option<u64>,
    no_cache: bool,
    account_currency: Option<&'a str>,
    initial_equity: Option<&'a str>,
    rate: Option<&'a str>,
}

/// `[backtest]` in the config file: the account backtests report in.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct BacktestSection {
    account_currency: Option<String>,
    initial_equity: Option<rust_decimal::Decimal>,
    rate: Option<rust_decimal::Decimal>,
}

/// The account of a run: flags first, then `[backtest]`, then GBP with 10,000.
fn account(
    c: &Common<'_>,
    ctx: &Context,
) -> anyhow::Result<(AccountConversion, rust_decimal::Decimal)> {
    let file: BacktestSection = ctx
        .toml()
        .section("backtest")
        .map_err(ConfigError::Usage)?
        .unwrap_or_default();
    let decimal = |flag: &str, v: &str| -> anyhow::Result<rust_decimal::Decimal> {
        v.trim().parse::<rust_decimal::Decimal>().map_err(|_| {
            ConfigError::Usage(format!("{flag}: {v:?} is not a decimal number")).into()
        })
    };
    let currency = c
        .account_currency
        .map(str::to_string)
        .or(file.account_currency)
        .unwrap_or_else(|| "GBP".to_string())
        .trim()
        .to_ascii_uppercase();
    if currency.len() != 3 || !currency.chars().all(|ch| ch.is_ascii_alphabetic()) {
        return Err(ConfigError::Usage(format!(
            "--account-currency: {currency:?} is not a currency code such as GBP"
        ))
        .into());
    }
    let equity = match c.initial_equity {
        Some(v) => decimal("--initial-equity", v)?,
        None => file
            .initial_equity
            .unwrap_or(rust_decimal::Decimal::from(10_000)),
    };
    if equity <= rust_decimal::Decimal::ZERO {
        return Err(ConfigError::Usage("--initial-equity: must be > 0".into()).into());
    }
    let rate = match c.rate {
        Some(v) => Some(decimal("--rate", v)?),
        None => file.rate,
    };
    if rate.is_some_and(|r| r <= rust_decimal::Decimal::ZERO) {
        return Err(ConfigError::Usage("--rate: must be > 0".into()).into());
    }
    Ok((AccountConversion { currency, rate }, equity))
}

fn options(c: &Common<'_>, ctx: &Context) -> anyhow::Result<BacktestOptions> {
    let config: Option<EngineConfig> = ctx.toml().section("engine").map_err(ConfigError::Usage)?;
    let time = |flag: &str, v: Option<&str>| -> anyhow::Result<_> {
        v.map(|t| parse_time(t).map_err(|e| ConfigError::Usage(format!("{flag}: {e}"))))
            .transpose()
            .map_err(Into::into)
    };
    let (account, initial_equity) = account(c, ctx)?;
    let mut opts = BacktestOptions {
        data: c.data.to_vec(),
        account: Some(account),
        initial_equity,
        instrument: InstrumentSpec::named(c.instrument),
        strategy: c.strategy.map(ToString::to_string),
        set: c.set.to_vec(),
        config,
        from: time("--from", c.from)?,
        to: time("--to", c.to)?,
        latency_ms: c.latency.map(|l| i64::try_from(l).unwrap_or(i64::MAX)),
        ..BacktestOptions::default()
    };
    if c.no_cache {
        opts.data_options.cache = CacheMode::Off;
    }
    Ok(opts)
}

pub fn backtest(args: &BacktestArgs, ctx: &Context) -> anyhow::Result<ExitCode> {
    let mut opts = options(
        &Common {
            data: &args.data,
            instrument: &args.instrument,
            strategy: args.strategy.as_deref(),
            set: &args.set,
            from: args.from.as_deref(),
            to: args.to.as_deref(),
            latency: args.latency,
            no_cache: args.no_cache,
            account_currency: args.account_currency.as_deref(),
            initial_equity: args.initial_equity.as_deref(),
            rate: args.rate.as_deref(),
        },
        ctx,
    )?;
    opts.instrument.price_scale = match &args.price_scale {
        Some(s) => s
            .parse()
            .map_err(|e| ConfigError::Usage(format!("--price-scale: {e}")))?,
        // A recording says in which prices it was made.
        None => scalper_backtest::recorded_price_scale(&args.data).unwrap_or_default(),
    };
    // Only the JSON report lists the trades; `--trades` streams them to the file as they close.
    opts.keep_trades = args.json || args.plot_trades;
    opts.keep_prices = args.plot_trades;
    opts.trades_csv.clone_from(&args.trades);
    let bar = (!args.json && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {percent:>3}% {msg} ({elapsed} / eta {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let report = run_backtest_with_progress(&opts, &mut |p| {
        if let Some(b) = &bar {
            b.set_length(p.bytes_total);
            b.set_position(p.bytes_done);
            b.set_message(format!("{} records", p.records));
        }
    });
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let report = report?;
    if let Some(path) = &args.plot {
        let size = if args.plot_trades {
            (1400, 1000)
        } else {
            (1400, 800)
        };
        write_equity_png(path, &EquityPlot::of_report(&report, size))?;
    }
    if args.json {
        let mut v = serde_json::to_value(&report).context("serializing the report")?;
        if let Some(obj) = v.as_object_mut() {
            obj.remove("equity_curve");
            obj.remove("price_curve");
        }
        print_json(&v);
    } else {
        out!("{report}");
        if let Some(p) = &args.trades {
            outln!("trades written to {}", p.display());
        }
        if let Some(p) = &args.plot {
            outln!("equity curve written to {}", p.display());
        }
    }
    Ok(ExitCode::from(SUCCESS))
}

pub fn sweep(args: &SweepArgs, ctx: &Context) -> anyhow::Result<ExitCode> {
    let base = options(
        &Common {
            data: &args.data,
            instrument: &args.instrument,
            strategy: Some(&args.strategy),
            set: &args.set,
            from: None,
            to: None,
            latency: None,
            no_cache: false,
            account_currency: args.account_currency.as_deref(),
            initial_equity: args.initial_equity.as_deref(),
            rate: args.rate.as_deref(),
        },
        ctx,
    )?;
    let grid = args
        .grid
        .iter()
        .map(|g| parse_grid(g))
        .collect::<Result<Vec<_>, _>>()?;
    let metric: RankMetric = args.metric.parse()?;
    let opts = SweepOptions {
        base,
        grid,
        jobs: args.jobs,
        metric,
        walk_forward: args.walk_forward,
    };
    let report = match &args.ray {
        None => run_sweep(&opts)?,
        Some(address) => {
            super::ray::check_strategy(&args.strategy)?;
            let python = super::ray::python(args.python.as_deref());
            let runner = super::ray::RayRunner::connect(&python, address, &args.strategy)?;
            let report = run_sweep_on(&opts, &runner)?;
            if let Some(e) = runner.fatal() {
                anyhow::bail!("the sweep on Ray failed: {e}");
            }
            report
        }
    };
    if args.json {
        print_json(&serde_json::to_value(&report).context("serializing the sweep")?);
    } else {
        out!("{report}");
    }
    Ok(ExitCode::from(SUCCESS))
}

/// Start of synthetic data: Monday 2026-01-05 00:00 UTC (fixed, so output depends only on
/// the seed).
const SYNTH_START_MS: i64 = 1_767_571_200_000;

pub fn synth(args: &SynthArgs, ctx: &Context) -> anyhow::Result<ExitCode> {
    let epic = ctx.resolve_epic(&args.instrument)?;
    let entry = scalper_sandbox::catalog::catalogue()
        .into_iter()
        .find(|e| e.epic == epic)
        .ok_or_else(|| {
            ConfigError::Usage(format!(
                "the sandbox simulator has no market {epic}: use one of {}",
                scalper_sandbox::catalog::catalogue()
                    .iter()
                    .map(|e| e.epic.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
    let mut sim = scalper_sandbox::MarketSim::new(
        entry.sim_params(),
        args.seed,
        scalper_model::Timestamp::from_millis(SYNTH_START_MS),
    );
    let file = std::fs::File::create(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    // IG quotes FX CFDs in scaled points (10812.3); backtests use market prices (1.08123).
    let scale = if args.ig_scaled || entry.scaling_factor.is_zero() {
        rust_decimal::Decimal::ONE
    } else {
        entry.scaling_factor
    };
    let quotes = (0..args.quotes).map(|_| {
        let mut q = sim.next_quote();
        q.bid = scalper_model::Price::new((q.bid.value() / scale).normalize());
        q.offer = scalper_model::Price::new((q.offer.value() / scale).normalize());
        q
    });
    scalper_backtest::write_quotes_csv(file, quotes)
        .with_context(|| format!("writing {}", args.out.display()))?;
    outln!(
        "wrote {} quotes of {epic} (seed {}) to {}",
        args.quotes,
        args.seed,
        args.out.display()
    );
    Ok(ExitCode::from(SUCCESS))
}
