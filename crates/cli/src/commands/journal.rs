//! `scalper journal list|show|export` and `scalper report`, read-only from the SQLite journal
//! (safe while an engine is running).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use scalper_journal::{Journal, OpenOptions, TradeFilter, TradeId};
use scalper_model::{DealReference, Timestamp};

use crate::args::{JournalCommand, ReportArgs};
use crate::config::ConfigError;
use crate::exit::SUCCESS;
use crate::output::print_json;
use crate::Context;

/// `--journal`, else `[journal] path` in the config file, else `data/journal.sqlite`.
pub fn journal_path(flag: Option<&PathBuf>, ctx: &Context) -> Result<PathBuf, ConfigError> {
    #[derive(serde::Deserialize)]
    struct Section {
        path: Option<PathBuf>,
    }
    if let Some(p) = flag {
        return Ok(p.clone());
    }
    let section: Option<Section> = ctx.toml().section("journal").map_err(ConfigError::Usage)?;
    Ok(section
        .and_then(|s| s.path)
        .unwrap_or_else(|| PathBuf::from(scalper_journal::DEFAULT_PATH)))
}

fn open(flag: Option<&PathBuf>, ctx: &Context) -> anyhow::Result<Journal> {
    let path = journal_path(flag, ctx)?;
    Journal::open(&path, &OpenOptions::read_only())
        .with_context(|| format!("opening the journal {}", path.display()))
}

fn time(flag: &str, v: Option<&String>, default: i64) -> Result<Timestamp, ConfigError> {
    match v {
        None => Ok(Timestamp::from_millis(default)),
        Some(t) => {
            scalper_backtest::parse_time(t).map_err(|e| ConfigError::Usage(format!("{flag}: {e}")))
        }
    }
}

pub fn run(cmd: &JournalCommand, ctx: &Context) -> anyhow::Result<ExitCode> {
    match cmd {
        JournalCommand::List { json, journal } => {
            let j = open(journal.journal.as_ref(), ctx)?;
            let trades = j.trades(&TradeFilter::default())?;
            if *json {
                print_json(&serde_json::to_value(&trades).context("serializing trades")?);
            } else if trades.is_empty() {
                outln!("no trades in {}", j.path().display());
            } else {
                for t in &trades {
                    outln!("{t}");
                }
                if let Some(c) = j.account_currency()? {
                    outln!("amounts (pnl, fees) in {c}, the account's currency");
                }
            }
        }
        JournalCommand::Show { id, json, journal } => {
            let j = open(journal.journal.as_ref(), ctx)?;
            let trade_id = if let Ok(n) = id.trim().parse::<i64>() {
                Some(TradeId(n))
            } else {
                let r = DealReference::new(id.trim()).map_err(|e| {
                    ConfigError::Usage(format!(
                        "{id:?} is neither a trade id nor a deal reference: {e}"
                    ))
                })?;
                j.trade_by_reference(&r)?.map(|t| t.id)
            };
            let detail = match trade_id {
                Some(t) => j.detail(t)?,
                None => None,
            };
            let Some(detail) = detail else {
                anyhow::bail!("no trade {id} in {}", j.path().display());
            };
            if *json {
                print_json(&serde_json::to_value(&detail).context("serializing the trade")?);
            } else {
                out!("{detail}");
            }
        }
        JournalCommand::Export {
            csv: _,
            json,
            out,
            journal,
        } => {
            let j = open(journal.journal.as_ref(), ctx)?;
            let trades = j.trades(&TradeFilter::default())?;
            let mut sink: Box<dyn Write> = match out {
                Some(p) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(p)
                        .with_context(|| format!("creating {}", p.display()))?,
                )),
                None => Box::new(std::io::stdout().lock()),
            };
            if *json {
                scalper_journal::write_trades_json(&trades, &mut sink)?;
            } else {
                scalper_journal::write_trades_csv(&trades, &mut sink)?;
            }
            sink.flush().context("writing the export")?;
        }
    }
    Ok(ExitCode::from(SUCCESS))
}

pub fn report(args: &ReportArgs, ctx: &Context) -> anyhow::Result<ExitCode> {
    let from = time("--from", args.from.as_ref(), 0)?;
    let to = time("--to", args.to.as_ref(), scalper_journal::FAR_FUTURE_MS)?;
    let j = open(args.journal.as_ref(), ctx)?;
    if args.execution {
        let report = j.execution_report(from, to)?;
        if args.json {
            print_json(&serde_json::to_value(&report).context("serializing the report")?);
        } else {
            out!("{report}");
        }
        return Ok(ExitCode::from(SUCCESS));
    }
    let report = j.report(from, to)?;
    if args.json {
        print_json(&serde_json::to_value(&report).context("serializing the report")?);
    } else {
        out!("{report}");
    }
    Ok(ExitCode::from(SUCCESS))
}
