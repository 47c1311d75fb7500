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
    if report.passed && temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
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
        r.kill_moments_hit
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", "),
        r.unplanned_exits,
        r.panics
    );
    outln!("  faults fired:");
    for (k, v) in &r.faults_fired {
        outln!("    {k:<28} {v}");
    }
    outln!(
        "  positions at the broker {}  journal closed {}  rejected {}",
        r.broker_positions,
        r.journal_closed,
        r.journal_rejected
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
