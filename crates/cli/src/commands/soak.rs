//! `scalper soak`: runs [`scalper_reliability::run_soak`] with this binary as the engine and
//! prints the report. Exit 0 when every invariant holds, 1 otherwise (the working directory is kept).

use std::process::ExitCode;

use anyhow::Context as _;
use scalper_reliability::{run_soak, SoakOptions, SoakReport};

use crate::args::SoakArgs;

pub async fn run(args: &SoakArgs) -> anyhow::Result<ExitCode> {
    let exe = std::env::current_exe().context("finding the scalper binary to run as the engine")?;
    let (dir, temporary) = match &args.dir {
        Some(d) => {
            if d.join("data").join("journal.sqlite").exists() {
                anyhow::bail!(
                    "{} already holds a soak journal: choose an empty --dir (a soak starts from a new sandbox, so an old journal would not match it)",
                    d.display()
                );
            }
            (d.clone(), false)
        }
        None => (
            std::env::temp_dir().join(format!("scalper-soak-{}-{}", args.seed, std::process::id())),
            true,
        ),
    };
    let opts = SoakOptions {
        hours: args.hours,
        seed: args.seed,
        speed: args.speed,
        kills: args.kills.max(1),
        instruments: args.instruments.clone(),
        exe,
        dir: dir.clone(),
        max_rss_mib: args.max_rss_mib,
        min_positions_per_day: args.min_positions_per_day,
    };
    eprintln!(
        "soak: {} simulated hours at x{} (about {:.0} s), seed {}, {} kill(s); working directory {}",
        args.hours,
        args.speed,
        args.hours * 3600.0 / args.speed,
        args.seed,
        opts.kills,
        dir.display()
    );
    let report = run_soak(&opts).await?;
    print(&report, args.json);
    if !report.passed {
        eprintln!(
            "soak FAILED: {} violation(s), the first: {}; working directory kept: {}",
            report.violations.len(),
            report.violations.first().map_or("", String::as_str),
            report.dir
        );
    }
    if report.passed && temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `request-in-flight 1/1, at-execution 0/1, ...`: moments that came of the SIGKILLs aimed at
/// them (`none` when no SIGKILL was made).
fn moments(r: &SoakReport) -> String {
    if r.kill_moments.is_empty() {
        return "none".into();
    }
    r.kill_moments
        .iter()
        .map(|(k, n)| {
            let hit = r.kill_moments_hit.get(k).copied().unwrap_or(0);
            format!("{k} {hit}/{n}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn print(r: &SoakReport, json: bool) {
    if json {
        outln!("{}", serde_json::to_string(r).unwrap_or_default());
        return;
    }
    outln!(
        "soak {}: {:.2} simulated hours in {:.0} s (x{}), seed {}",
        if r.passed { "PASSED" } else { "FAILED" },
        r.simulated_hours,
        r.wall_seconds,
        r.speed,
        r.seed
    );
    outln!(
        "  engine runs {}  SIGKILLs {} (moments hit: {})  unplanned exits {}  panics {}",
        r.engine_runs,
        r.kills,
        moments(r),
        r.unplanned_exits,
        r.panics
    );
    outln!("  faults fired (while a position was open):");
    for (k, v) in &r.faults_fired {
        match r.faults_fired_while_open.get(k) {
            Some(open) => outln!("    {k:<28} {v} ({open})"),
            None if k.starts_with("sandbox:") => outln!("    {k:<28} {v}"),
            None => outln!("    {k:<28} {v} (0)"),
        }
    }
    for c in &r.limit_closes {
        outln!(
            "  silent limit close {} {}: IG {}  journal {} ({})  {}",
            c.deal_id,
            c.epic,
            c.ig_level,
            c.journal_level
                .map_or_else(|| "-".to_string(), |l| l.to_string()),
            c.journal_reason.as_deref().unwrap_or("-"),
            c.problem.as_deref().unwrap_or("booked during the run")
        );
    }
    outln!(
        "  positions at the broker {} ({:.0} per 24 simulated hours)  journal closed {}  rejected {}",
        r.broker_positions,
        r.positions_per_day,
        r.journal_closed,
        r.journal_rejected
    );
    outln!(
        "  positions per instrument: {}",
        r.positions_per_instrument
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    outln!(
        "  journal P&L {}  sandbox ledger {}  peak engine RSS {} MiB  max open per instrument {}",
        r.journal_pnl,
        r.ledger_pnl,
        r.peak_rss_mib,
        r.max_open_per_instrument
    );
    if r.violations.is_empty() {
        outln!("  invariants: all hold (no duplicate, none unknown to the journal, none unresolved, no paper, P&L equal)");
    } else {
        outln!("  VIOLATIONS:");
        for v in &r.violations {
            outln!("    {v}");
        }
        outln!("  working directory kept: {}", r.dir);
    }
}
