//! Crash recovery: `scalper run` is SIGKILLed at many moments of a sandbox run — at random, while
//! a dealing request is in flight, the instant the broker executes a deal whose response is
//! lost, right after a close request — and restarted on the same journal each time. At the end
//! the kill switch closes everything and the journal must match the sandbox's books exactly:
//! no duplicate position, every sandbox position known to the journal, nothing unresolved,
//! journal P&L equal to the ledger to the cent.
//!
//! `SCALPER_CRASH_CYCLES=N` runs more kill/restart cycles (default 12), `SCALPER_CRASH_SEED`
//! another seed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use rand::{Rng as _, SeedableRng as _};
use scalper_reliability::{
    check, kill_at, positions_per_epic, EngineSetup, Harness, KillMoment, ACCOUNT,
};
use scalper_sandbox::{MarketSchedule, Sandbox, SandboxConfig};

/// Fixed risk (the sandbox's flat margin makes percent sizing too big for its account), and a
/// quick strategy so that every short life of the engine trades.
const ENGINE_TOML: &str = r"
[engine.risk]
risk_per_trade = { amount = 15 }
max_open_per_instrument = 1
max_trades_per_day = 100000
daily_loss_limit = 100000

[engine.kill_switch]
close_positions = true
";

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_loses_nothing_and_doubles_nothing() {
    let seed = env_num("SCALPER_CRASH_SEED", 20_261_127);
    let cycles = env_num("SCALPER_CRASH_CYCLES", 12);
    let sandbox = Sandbox::start(SandboxConfig {
        seed,
        speed: 30.0,
        schedule: MarketSchedule::AlwaysOpen,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let start_balance = sandbox.state().account(ACCOUNT).unwrap().balance;
    let tmp = tempfile::tempdir().unwrap();
    let mut h = Harness::new(
        EngineSetup {
            exe: env!("CARGO_BIN_EXE_scalper").into(),
            dir: tmp.path().to_path_buf(),
            instruments: "EUR_USD,GBP_USD".into(),
            extra_toml: ENGINE_TOML.into(),
        },
        &sandbox,
    )
    .unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut hits: BTreeMap<&str, u32> = BTreeMap::new();
    let mut max_open = 0usize;
    for cycle in 0..cycles {
        if cycle % 2 == 1 {
            h.set_session_version("3");
        } else {
            h.set_session_version("2");
        }
        let moment = KillMoment::ALL[(cycle % 4) as usize];
        let delay = Duration::from_millis(rng.gen_range(300..3_000));
        let mut p = h.spawn(None).unwrap();
        let hit = kill_at(
            &h,
            &sandbox,
            &mut p,
            moment,
            delay,
            Duration::from_secs(20),
            |s| {
                let most = positions_per_epic(s).values().copied().max().unwrap_or(0);
                max_open = max_open.max(most);
            },
        )
        .await
        .unwrap_or_else(|e| panic!("cycle {cycle}: {:#}", anyhow::Error::from(e)));
        if hit {
            *hits.entry(moment.name()).or_default() += 1;
        }
        assert!(
            max_open <= 1,
            "cycle {cycle}: {max_open} positions open on one instrument\n{}",
            h.output_of(p.run)
        );
    }
    // Every kind of moment was hit at least once (the random one always is).
    for m in KillMoment::ALL {
        assert!(
            hits.get(m.name()).copied().unwrap_or(0) > 0 || cycles < 4,
            "the moment {} was never reached: {hits:?}",
            m.name()
        );
    }

    // A last, clean run: it reconciles, takes over what is open, then Ctrl-C closes everything.
    let mut last = h.spawn(None).unwrap();
    let run = last.run;
    let ready = h.wait_ready(&mut last, Duration::from_secs(30)).await;
    assert!(ready, "the last run never got ready\n{}", h.output_of(run));
    last.interrupt().unwrap();
    let status = last
        .wait_exit(Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("the engine did not stop on Ctrl-C\n{}", h.output_of(run)));
    assert!(
        status.success(),
        "the last run failed: {status}\n{}",
        h.output_of(run)
    );

    let state = sandbox.state();
    let inv = check(&state, &h.journal_path(), start_balance).unwrap();
    let violations = inv.violations(1);
    assert!(
        violations.is_empty(),
        "invariants violated: {violations:#?}\n{inv:#?}\nharness log:\n{}\n{}",
        std::fs::read_to_string(tmp.path().join("harness.log")).unwrap_or_default(),
        h.output_of(run)
    );
    assert!(
        inv.broker_positions >= 3,
        "too few positions to prove anything: {inv:?}"
    );
    assert!(
        state.account(ACCOUNT).unwrap().positions.is_empty(),
        "Ctrl-C with close_positions must leave nothing open"
    );
    // Session events are journaled too: one login per engine start at least, and every
    // start's reconciliation.
    let journal = scalper_journal::Journal::open(
        h.journal_path(),
        &scalper_journal::OpenOptions::read_only(),
    )
    .unwrap();
    let all = journal
        .events(
            scalper_model::Timestamp::from_millis(i64::MIN),
            scalper_model::Timestamp::from_millis(i64::MAX),
            None,
        )
        .unwrap();
    let count = |kind: &str| all.iter().filter(|e| e.kind == kind).count();
    // A kill during start-up (a random moment can fall before the journal opens on a loaded
    // machine) leaves no start behind; every run that started journaled its login.
    assert!(
        count("login") >= count("engine_start"),
        "logins journaled: {} for {} engine starts ({run} runs)",
        count("login"),
        count("engine_start")
    );
    assert!(
        count("engine_start") * 2 >= run as usize,
        "engine starts journaled: {} for {run} runs",
        count("engine_start")
    );
    drop(journal);

    // Recovery time: process start to ready-to-trade (login, markets, reconciliation), per run.
    let mut ready: Vec<u64> = (1..=run)
        .filter_map(|n| {
            let err = std::fs::read_to_string(tmp.path().join(format!("run-{n}.err"))).ok()?;
            let rest = err.split("ready to trade after ").nth(1)?;
            rest.split(' ').next()?.parse().ok()
        })
        .collect();
    ready.sort_unstable();
    assert!(!ready.is_empty(), "no run reported being ready");
    eprintln!(
        "recovery after a kill (start to ready, ms): min {} median {} max {} over {} runs",
        ready[0],
        ready[ready.len() / 2],
        ready[ready.len() - 1],
        ready.len()
    );
    eprintln!(
        "crash test: {cycles} kills ({hits:?}), {} broker positions, {} journal closed, journal P&L {} == ledger {}",
        inv.broker_positions, inv.journal_closed, inv.journal_pnl, inv.ledger_pnl
    );
    sandbox.shutdown().await;
}
