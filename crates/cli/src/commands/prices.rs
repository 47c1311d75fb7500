//! `scalper prices <INSTRUMENT> --resolution R --from T --to T --out F.csv`: IG price history
//! (`/prices/{epic}` v3) to a bar CSV, in windows appended as they arrive, so an interrupted or
//! allowance-limited download resumes where it stopped when the same command is run again.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use scalper_ig::{IgClient, PriceQuery};
use scalper_ig_wire::Resolution;
use scalper_model::{Candle, Epic, Timestamp};

use crate::args::PricesArgs;
use crate::config::ConfigError;
use crate::exit::SUCCESS;
use crate::Context;

/// Header written by `scalper_backtest::write_bars_csv`.
const HEADER: &str = "ts_ms,open,high,low,close,spread,volume";
/// Bars per request window (IG allows large pages; small windows make resuming cheap).
const WINDOW_BARS: i64 = 1000;

/// The IG resolution named on the command line (any case).
fn resolution(r: &str) -> Result<Resolution, ConfigError> {
    r.parse()
        .map_err(|e| ConfigError::Usage(format!("--resolution {e}")))
}

/// `ts`, if it is a date IG can be asked about.
fn in_range(ts: Timestamp) -> Result<Timestamp, ConfigError> {
    ts.to_datetime()
        .map(|_| ts)
        .ok_or_else(|| ConfigError::Usage(format!("time {ts} is out of range")))
}

/// The last bar start already in `out` (`None` for a new file). Refuses foreign files.
fn resume_point(out: &Path) -> anyhow::Result<Option<i64>> {
    let text = match std::fs::read_to_string(out) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", out.display())),
    };
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    if lines.next().map(str::trim) != Some(HEADER) {
        return Err(ConfigError::Usage(format!(
            "{} exists and is not a scalper bar CSV (header {HEADER}): choose another --out",
            out.display()
        ))
        .into());
    }
    match lines.next_back() {
        None => Ok(None),
        Some(l) => l
            .split(',')
            .next()
            .and_then(|t| t.trim().parse::<i64>().ok())
            .map(Some)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "{}: cannot read the last bar's time to resume",
                    out.display()
                )
            }),
    }
}

fn append(out: &Path, bars: Vec<Candle>, new_file: bool) -> anyhow::Result<()> {
    let mut buf = Vec::new();
    scalper_backtest::write_bars_csv(&mut buf, bars).context("formatting bars")?;
    let body = if new_file {
        &buf[..]
    } else {
        let skip = buf.iter().position(|b| *b == b'\n').map_or(0, |p| p + 1);
        &buf[skip..]
    };
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out)
        .with_context(|| format!("opening {}", out.display()))?;
    f.write_all(body)
        .and_then(|()| f.sync_data())
        .with_context(|| format!("writing {}", out.display()))
}

/// A bar in IG levels divided by the market's scaling factor (`s > 1`).
fn unscale(mut c: Candle, s: rust_decimal::Decimal) -> Candle {
    let div = |p: scalper_model::Price| scalper_model::Price::new((p.value() / s).normalize());
    c.open = div(c.open);
    c.high = div(c.high);
    c.low = div(c.low);
    c.close = div(c.close);
    c.spread = c.spread.map(|v| (v / s).normalize());
    c
}

pub async fn run(args: &PricesArgs, ctx: &Context) -> anyhow::Result<ExitCode> {
    let epic: Epic = ctx.resolve_epic(&args.instrument)?;
    let resolution = resolution(&args.resolution)?;
    let period = resolution.millis();
    let parse = |flag: &str, v: &str| {
        scalper_backtest::parse_time(v).map_err(|e| ConfigError::Usage(format!("{flag}: {e}")))
    };
    let (from, to) = (parse("--from", &args.from)?, parse("--to", &args.to)?);
    if from >= to {
        return Err(ConfigError::Usage("--from must be before --to".into()).into());
    }
    let last = resume_point(&args.out)?;
    let mut written = last;
    let mut start = last.map_or(from.millis(), |l| (l + period).max(from.millis()));
    if let Some(l) = last {
        outln!(
            "resuming {} after {}",
            args.out.display(),
            Timestamp::from_millis(l)
        );
    }
    let client = IgClient::new(ctx.ig_config()?)?;
    // IG quotes FX CFDs in scaled levels (10812.3 for 1.08123); backtests take market prices.
    let market = client
        .market(&epic)
        .await
        .with_context(|| format!("reading the market details of {epic} (for its price scaling)"))?;
    let scale = if args.ig_scaled || market.scaling_factor <= rust_decimal::Decimal::ONE {
        None
    } else {
        Some(market.scaling_factor)
    };
    match scale {
        Some(s) => outln!(
            "{epic}: IG levels divided by its scaling factor {s} (market prices; --ig-scaled keeps IG's levels)"
        ),
        None if args.ig_scaled => outln!(
            "{epic}: IG's levels kept (scaling factor {})",
            market.scaling_factor
        ),
        None => {}
    }
    let mut total = 0usize;
    let mut allowance = None;
    while start < to.millis() {
        let end = (start + WINDOW_BARS * period).min(to.millis());
        let mut page = 1u32;
        loop {
            let q = PriceQuery {
                resolution: Some(resolution),
                from: Some(in_range(Timestamp::from_millis(start))?),
                to: Some(in_range(Timestamp::from_millis(end))?),
                page_size: Some(u32::try_from(WINDOW_BARS).unwrap_or(1000)),
                page_number: Some(page),
                ..PriceQuery::default()
            };
            let page_data = client.prices(&epic, &q).await.with_context(|| {
                format!(
                    "downloading {epic} from {}: rerun the same command to resume",
                    Timestamp::from_millis(start)
                )
            })?;
            if let Some(a) = page_data.allowance {
                tracing::info!(
                    remaining = ?a.remaining,
                    total = ?a.total,
                    resets_in_s = ?a.resets_in_secs,
                    "historical data allowance"
                );
                allowance = Some(a);
            }
            let bars: Vec<Candle> = page_data
                .candles
                .into_iter()
                .filter(|c| {
                    let t = c.start.millis();
                    t >= start && t < end && written.is_none_or(|w| t > w)
                })
                .map(|c| match scale {
                    Some(s) => unscale(c, s),
                    None => c,
                })
                .collect();
            if let Some(b) = bars.last() {
                written = Some(b.start.millis());
                total += bars.len();
                let new_file = !args.out.exists();
                append(&args.out, bars, new_file)?;
            }
            if u64::from(page) >= page_data.total_pages {
                break;
            }
            page += 1;
        }
        if allowance
            .as_ref()
            .and_then(|a| a.remaining)
            .is_some_and(|r| r <= 0)
            && end < to.millis()
        {
            let resets = allowance.as_ref().and_then(|a| a.resets_in_secs);
            anyhow::bail!(
                "IG's historical-data allowance is used up (resets in {} s); {total} bars written to {}: \
                 run the same command again after the reset to resume",
                resets.map_or_else(|| "?".to_string(), |s| s.to_string()),
                args.out.display()
            );
        }
        start = end;
    }
    if let Err(e) = client.logout().await {
        tracing::warn!(error = %e, "logout failed");
    }
    if total == 0 {
        // Nothing is written: no file is created and an existing one is left as it was.
        outln!(
            "no new {} bars of {epic} between {from} and {to} (the market was closed, or IG has no history there{}): nothing written to {}",
            args.resolution,
            if last.is_some() { ", or the file already has them" } else { "" },
            args.out.display()
        );
    } else {
        outln!(
            "{total} {} bars of {epic} written to {}",
            args.resolution,
            args.out.display()
        );
    }
    if let Some(a) = allowance {
        outln!(
            "historical-data allowance: {} of {} points left (resets in {} s)",
            a.remaining.map_or_else(|| "?".into(), |v| v.to_string()),
            a.total.map_or_else(|| "?".into(), |v| v.to_string()),
            a.resets_in_secs
                .map_or_else(|| "?".into(), |v| v.to_string()),
        );
    }
    Ok(ExitCode::from(SUCCESS))
}
