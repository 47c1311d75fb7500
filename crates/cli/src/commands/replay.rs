//! `scalper replay`: a journaled run replayed over its own recording with the sim broker and
//! the run's configuration, compared trade by trade (see `scalper_backtest::replay`).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use scalper_backtest::{replay_run, InstrumentReplay, LiveTrade, RecordingReader, ReplayInput};
use scalper_engine::EngineInit;
use scalper_journal::{Journal, OpenOptions, RunSetup, SkippedQuotes, SystemEvent, TradeFilter};
use scalper_model::{DealState, Timestamp};
use serde::Serialize;

use crate::args::ReplayArgs;
use crate::config::ConfigError;
use crate::exit::SUCCESS;
use crate::output::print_json;
use crate::Context;

/// A run found in the journal.
struct Run {
    /// 1-based, in start order.
    number: usize,
    started: Timestamp,
    setup: RunSetup,
    mode: String,
    /// Wall clock when trading stopped (`None`: the run did not stop cleanly).
    ended_wall_ms: Option<i64>,
    /// Wall clock when the run's one-second timer started.
    timer_started_wall_ms: Option<i64>,
    /// Quotes the run's engine never saw.
    skipped: Option<SkippedQuotes>,
    /// The next run's first trade id (this run's trades are below it).
    next_first_trade: Option<u64>,
    /// Wall clock when the next run started: a run that did not stop cleanly received
    /// nothing after it (the next run may have appended to the same recording).
    next_started_wall_ms: Option<i64>,
}

/// The whole replay, as `--json` prints it.
#[derive(Debug, Serialize)]
struct ReplayReport {
    journal: PathBuf,
    run: usize,
    mode: String,
    started: Timestamp,
    instruments: Vec<InstrumentReplay>,
    /// Every instrument's run took the replay's decisions.
    matches: bool,
    notes: Vec<String>,
}

pub fn run(args: &ReplayArgs, ctx: &Context) -> anyhow::Result<ExitCode> {
    let journal_path = super::journal::journal_path(args.journal.as_ref(), ctx)?;
    if !journal_path.exists() {
        return Err(ConfigError::Usage(format!(
            "journal {}: no such file (give the run's journal with --journal; a demo's is data/demo-journal-<time>.sqlite)",
            journal_path.display()
        ))
        .into());
    }
    let journal = Journal::open(&journal_path, &OpenOptions::read_only())
        .with_context(|| format!("opening the journal {}", journal_path.display()))?;
    let data = match &args.data {
        Some(d) => d.clone(),
        None => super::record::config(None, ctx)?.dir,
    };
    let runs = runs(&journal)?;
    let run = pick(&runs, args.run, &journal_path)?;
    let mut notes = Vec::new();
    if run.setup.positions_taken_over > 0 {
        notes.push(format!(
            "the run took over {} position(s) opened earlier: they are not replayed",
            run.setup.positions_taken_over
        ));
    }
    let end_ms = match (run.ended_wall_ms, run.next_started_wall_ms) {
        (Some(end), _) => end,
        (None, Some(next)) => {
            notes.push(format!(
                "the run did not stop cleanly (killed?): the quotes recorded from its start until run {} started ({}) are replayed",
                run.number + 1,
                Timestamp::from_millis(next)
            ));
            next - 1
        }
        (None, None) => {
            notes.push("the run did not stop cleanly (killed?): every quote recorded after its start is replayed".into());
            i64::MAX
        }
    };
    let config = scalper_engine::EngineConfig::from_toml(&run.setup.config)
        .context("reading the run's engine configuration from the journal")?;
    let trades = journal.trades(&TradeFilter::default())?;
    // The quotes the engine never saw (replaced by a newer one while it was busy): left out.
    let mut skipped: HashMap<(&str, i64), u32> = HashMap::new();
    if let Some(sk) = &run.skipped {
        for (epic, ts) in &sk.quotes {
            *skipped.entry((epic.as_str(), ts.millis())).or_default() += 1;
        }
        let kept = sk.quotes.len() as u64;
        if sk.total > kept {
            notes.push(format!(
                "the engine skipped {} quotes while busy; the journal names the first {kept}, so the replay sees {} quotes the run did not",
                sk.total,
                sk.total - kept
            ));
        }
    }
    let mut left_out = 0u64;
    let mut quotes = Vec::new();
    for (k, instrument) in run.setup.instruments.iter().enumerate() {
        let epic = instrument.epic.as_str();
        let files = recording_files(&data, epic)?;
        if files.is_empty() {
            return Err(ConfigError::Usage(format!(
                "{}: no recording of {epic} (record the run with `scalper run --record {}`, or give the directory it recorded into with --data)",
                data.display(),
                data.display()
            ))
            .into());
        }
        let before = quotes.len();
        for mut r in files {
            let f = r.path().to_path_buf();
            let all = r
                .read_all()
                .with_context(|| format!("reading the recording {}", f.display()))?;
            if let Some(loss) = r.loss() {
                notes.push(format!(
                    "{}: {} byte(s) at its end were not a whole block (a killed run); the quotes before them are replayed",
                    f.display(),
                    loss.bytes
                ));
            }
            for q in all {
                if q.received_ms < run.setup.started_wall_ms || q.received_ms > end_ms {
                    continue;
                }
                if let Some(n) = skipped.get_mut(&(epic, q.quote.ts)).filter(|n| **n > 0) {
                    *n -= 1;
                    left_out += 1;
                    continue;
                }
                quotes.push((k, q));
            }
        }
        if quotes.len() == before {
            return Err(ConfigError::Usage(format!(
                "{}: the recording of {epic} holds no quote received during run {} ({} to {}): was the run recorded (`--record`)?",
                data.display(),
                run.number,
                Timestamp::from_millis(run.setup.started_wall_ms),
                run.ended_wall_ms.map_or_else(|| "its end".to_string(), |m| Timestamp::from_millis(m).to_string()),
            ))
            .into());
        }
    }
    if left_out > 0 {
        notes.push(format!(
            "{left_out} recorded quote(s) left out: the run's engine never saw them (a newer quote replaced each while it was busy)"
        ));
    }
    let live: Vec<(usize, LiveTrade)> = trades
        .iter()
        .filter(|t| {
            let id = u64::try_from(t.id.0).unwrap_or(0);
            id >= run.setup.first_trade_id
                && run.next_first_trade.is_none_or(|n| id < n)
                && !t.adopted
                && t.state == DealState::Closed
        })
        .filter_map(|t| {
            let k = run
                .setup
                .instruments
                .iter()
                .position(|i| i.epic == t.epic)?;
            Some((
                k,
                LiveTrade {
                    id: t.id.0,
                    direction: t.direction,
                    size: t.size,
                    signal_at: t.execution.signal_at,
                    opened_at: t.opened_at?,
                    entry_level: t.open_level?,
                    exit_signal_at: t.execution.exit_signal_at,
                    closed_at: t.closed_at,
                    exit_level: t.close_level,
                    pnl: t.net_pnl(),
                    latency_ms: t.execution.latency_ms(),
                    reason: t.reason.clone().unwrap_or_default(),
                },
            ))
        })
        .collect();
    let init = EngineInit {
        equity: run.setup.equity,
        day_realised_pnl: run.setup.day_realised_pnl,
        day_trades: run.setup.day_trades,
        day: run.setup.day.as_deref().and_then(|d| d.parse().ok()),
        paper: run.setup.paper,
        ..EngineInit::default()
    };
    let out = replay_run(&ReplayInput {
        flatten_at_end: config.at_end == scalper_engine::AtEnd::Flatten,
        config,
        instruments: run.setup.instruments.clone(),
        init,
        quotes,
        timer_started_wall_ms: run.timer_started_wall_ms,
        ended_wall_ms: run.ended_wall_ms,
        live,
    })
    .context("replaying the run")?;
    let report = ReplayReport {
        journal: journal_path.clone(),
        run: run.number,
        mode: run.mode.clone(),
        started: run.started,
        matches: out.iter().all(InstrumentReplay::matches),
        instruments: out,
        notes,
    };
    if let Some(path) = &args.plot {
        for r in &report.instruments {
            let file = plot_path(path, &r.epic, report.instruments.len());
            scalper_backtest::write_replay_png(&file, r, (1200, 700))
                .with_context(|| format!("writing the chart {}", file.display()))?;
            eprintln!("chart: {}", file.display());
        }
    }
    if args.json {
        print_json(&serde_json::to_value(&report).context("serializing the replay")?);
    } else {
        out!("{}", text(&report, args.trades));
    }
    Ok(ExitCode::from(SUCCESS))
}

/// One chart per instrument: `FILE` for one, `FILE-<EPIC>.png` for several.
fn plot_path(path: &Path, epic: &str, n: usize) -> PathBuf {
    if n <= 1 {
        return path.to_path_buf();
    }
    let stem = path
        .file_stem()
        .map_or_else(|| "replay".into(), |s| s.to_string_lossy().to_string());
    path.with_file_name(format!("{stem}-{epic}.png"))
}

/// The journal's runs with a replay set-up, in start order.
fn runs(journal: &Journal) -> anyhow::Result<Vec<Run>> {
    let events = journal.events(
        Timestamp::from_millis(0),
        Timestamp::from_millis(scalper_journal::FAR_FUTURE_MS),
        None,
    )?;
    let mut runs: Vec<Run> = Vec::new();
    let mut without_setup = 0;
    for e in events
        .iter()
        .filter(|e| e.kind == "engine_start" || e.kind == "engine_stop")
    {
        let Ok(event) = serde_json::from_value::<SystemEvent>(e.detail.clone()) else {
            continue;
        };
        match event {
            SystemEvent::EngineStart { mode, setup, .. } => match setup {
                Some(setup) => {
                    if let Some(prev) = runs.last_mut() {
                        prev.next_first_trade.get_or_insert(setup.first_trade_id);
                        prev.next_started_wall_ms
                            .get_or_insert(setup.started_wall_ms);
                    }
                    runs.push(Run {
                        number: runs.len() + 1,
                        started: e.ts,
                        setup: *setup,
                        mode,
                        ended_wall_ms: None,
                        timer_started_wall_ms: None,
                        skipped: None,
                        next_first_trade: None,
                        next_started_wall_ms: None,
                    });
                }
                None => without_setup += 1,
            },
            SystemEvent::EngineStop {
                ended_wall_ms,
                timer_started_wall_ms,
                skipped_quotes,
                ..
            } => {
                if let Some(r) = runs.last_mut().filter(|r| r.ended_wall_ms.is_none()) {
                    r.ended_wall_ms = ended_wall_ms;
                    r.timer_started_wall_ms = timer_started_wall_ms;
                    r.skipped = skipped_quotes;
                }
            }
            _ => {}
        }
    }
    if runs.is_empty() {
        let why = if without_setup > 0 {
            format!("its {without_setup} run(s) were journaled by an older scalper, which did not keep the run's configuration")
        } else {
            "it holds no run".to_string()
        };
        return Err(ConfigError::Usage(format!("nothing to replay in this journal: {why}")).into());
    }
    Ok(runs)
}

/// `--run N`: 1 is the first, -1 the last.
fn pick<'a>(runs: &'a [Run], n: i64, path: &Path) -> Result<&'a Run, ConfigError> {
    let len = i64::try_from(runs.len()).unwrap_or(i64::MAX);
    let idx = if n < 0 { len + n } else { n - 1 };
    usize::try_from(idx)
        .ok()
        .and_then(|i| runs.get(i))
        .filter(|_| n != 0)
        .ok_or_else(|| {
            ConfigError::Usage(format!(
                "--run {n}: {} holds {} run(s): give 1..{} (or -1 for the last)",
                path.display(),
                runs.len(),
                runs.len()
            ))
        })
}

/// The recording files of `epic` under `data`: `data/<EPIC>/*.sbc` (the recorder's layout),
/// else `data` itself when it is that instrument's directory or one of its files.
fn recording_files(data: &Path, epic: &str) -> anyhow::Result<Vec<RecordingReader>> {
    if !data.exists() {
        return Err(ConfigError::Usage(format!(
            "{}: no such recording directory (give the directory `run --record` wrote with --data)",
            data.display()
        ))
        .into());
    }
    let dir = if data.join(epic).is_dir() {
        data.join(epic)
    } else {
        data.to_path_buf()
    };
    let mut files: Vec<PathBuf> = if dir.is_file() {
        vec![dir]
    } else {
        std::fs::read_dir(&dir)
            .with_context(|| format!("listing {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "sbc"))
            .collect()
    };
    files.sort();
    // Each file opened once (its header); only this instrument's (a directory may hold
    // another's). A file that is not a recording is an error, not skipped in silence.
    let mut readers = Vec::with_capacity(files.len());
    for f in files {
        let r = RecordingReader::open(&f).map_err(|e| {
            ConfigError::Usage(format!(
                "{e}: --data must hold the recordings of `run --record` (DIR/<EPIC>/<day>.sbc)"
            ))
        })?;
        if r.info().epic == epic {
            readers.push(r);
        }
    }
    Ok(readers)
}

fn text(report: &ReplayReport, all_trades: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "replay of run {} ({}, started {}) from {}",
        report.run,
        report.mode,
        report.started,
        report.journal.display()
    );
    for i in &report.instruments {
        let a = &i.attribution;
        let c = &i.currency;
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{} ({}) · {} · {} quotes ({} .. {})",
            i.name,
            i.epic,
            i.strategy,
            i.quotes,
            i.first_quote.map_or_else(|| "-".into(), |t| t.to_string()),
            i.last_quote.map_or_else(|| "-".into(), |t| t.to_string()),
        );
        let _ = writeln!(
            out,
            "trades     live {:>5}   replay {:>5}   matched {:>5}   missed {:>3}   extra {:>3}",
            i.live_trades,
            i.replay_trades,
            i.pairs.len(),
            i.missed.len(),
            i.extra.len()
        );
        let same = i.pairs.iter().filter(|p| p.same_decisions()).count();
        let _ = writeln!(
            out,
            "decisions  {} ({} of {} pairs entered and exited on the same quotes)",
            if i.matches() {
                "the same, trade for trade"
            } else {
                "differ"
            },
            same,
            i.pairs.len()
        );
        let _ = writeln!(out, "hash       live   {}", i.live_hash);
        let _ = writeln!(out, "           replay {}", i.replay_hash);
        let _ = writeln!(
            out,
            "P&L        live {} {c}   replay {} {c}   difference {} {c}",
            i.live_pnl,
            i.replay_pnl,
            i.live_pnl - i.replay_pnl
        );
        let _ = writeln!(out, "explained by (live less replay, {c}):");
        let (lat_pts, slip_pts) = i.pairs.iter().fold(
            (0.into(), 0.into()),
            |(l, sl): (rust_decimal::Decimal, rust_decimal::Decimal), p| {
                let exit = p.exit.as_ref();
                (
                    l + p.entry.latency_points + exit.map_or(0.into(), |e| e.latency_points),
                    sl + p.entry.slippage_points + exit.map_or(0.into(), |e| e.slippage_points),
                )
            },
        );
        let _ = writeln!(
            out,
            "  latency      {:>12}   ({} points lost while orders travelled{})",
            a.latency.to_string(),
            lat_pts.normalize(),
            i.mean_latency_ms.map_or_else(String::new, |m| format!(
                "; entries confirmed after {m:.0} ms on average"
            ))
        );
        let _ = writeln!(
            out,
            "  slippage     {:>12}   ({} points worse than the broker's own price)",
            a.slippage.to_string(),
            slip_pts.normalize()
        );
        let _ = writeln!(
            out,
            "  exit timing  {:>12}   (exits decided on other quotes)",
            a.exit_timing.to_string()
        );
        let _ = writeln!(
            out,
            "  missed       {:>12}   ({} trade(s) only the replay made)",
            a.missed.to_string(),
            i.missed.len()
        );
        let _ = writeln!(
            out,
            "  extra        {:>12}   ({} trade(s) only the run made)",
            a.extra.to_string(),
            i.extra.len()
        );
        let _ = writeln!(
            out,
            "  other        {:>12}   (sizes, fees, rounding)",
            a.other.to_string()
        );
        let shown: Vec<_> = i
            .pairs
            .iter()
            .filter(|p| {
                all_trades
                    || !p.same_decisions()
                    || p.pnl_difference.value() != rust_decimal::Decimal::ZERO
            })
            .collect();
        if !shown.is_empty() || !i.missed.is_empty() || !i.extra.is_empty() {
            let _ = writeln!(out);
            let _ = writeln!(
                out,
                "{:>6} {:<4} {:>24} {:>12} {:>12} {:>9} {:>9} {:>12}",
                "trade",
                "dir",
                "entry decided",
                "live in",
                "replay in",
                "lat pts",
                "slip pts",
                "P&L diff"
            );
            for p in &shown {
                let _ = writeln!(
                    out,
                    "{:>6} {:<4} {:>24} {:>12} {:>12} {:>9} {:>9} {:>12}{}",
                    p.live.id,
                    p.live.direction.as_str(),
                    p.replay.entry_time.to_string(),
                    p.live.entry_level.to_string(),
                    p.replay.entry_price.to_string(),
                    p.entry.latency_points.normalize().to_string(),
                    p.entry.slippage_points.normalize().to_string(),
                    p.pnl_difference.to_string(),
                    match (&p.exit, &p.exit_note) {
                        (Some(_), _) => String::new(),
                        (None, Some(why)) => format!("  exit on another quote: {why}"),
                        (None, None) => "  exit on another quote".into(),
                    }
                );
            }
            for t in &i.missed {
                let _ = writeln!(out,
                    "{:>6} {:<4} {:>24} {:>12} {:>12} {:>9} {:>9} {:>12}  missed: only the replay took it",
                    "-",
                    t.direction.as_str(),
                    t.entry_time.to_string(),
                    "-",
                    t.entry_price.to_string(),
                    "",
                    "",
                    (rust_decimal::Decimal::ZERO - t.pnl.value()).to_string()
                );
            }
            for x in &i.extra {
                let t = &x.trade;
                let _ = writeln!(out,
                    "{:>6} {:<4} {:>24} {:>12} {:>12} {:>9} {:>9} {:>12}  extra: only the run took it{}",
                    t.id,
                    t.direction.as_str(),
                    t.decided_at().to_string(),
                    t.entry_level.to_string(),
                    "-",
                    "",
                    "",
                    t.pnl.map_or_else(|| "-".into(), |p| p.to_string()),
                    x.replay_refused
                        .as_ref()
                        .map_or_else(String::new, |why| format!(" (the replay refused it: {why})"))
                );
            }
        }
    }
    for n in &report.notes {
        let _ = writeln!(out, "note: {n}");
    }
    out
}
