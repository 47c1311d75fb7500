//! The short soak that CI runs: `scalper soak` for two simulated hours at x150 with SIGKILLs,
//! token invalidations, weekend maintenance, 5xx and timeouts, dropped dealing responses,
//! delayed and lost confirms, stream drops, silences and END, rate-limit storms and a limit close
//! during a stream silence, on every market the sandbox serves. Every invariant must hold, and
//! the soak must have traded and faulted enough to prove them: the rates a 24-hour soak promises
//! (1,000 positions per 24 simulated hours on every instrument, every fault kind while a position
//! was open, every SIGKILL at its moment, the silent limit close booked during the run at IG's
//! level).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use serde_json::Value;

#[test]
fn a_short_soak_keeps_every_invariant_and_proves_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("soak");
    let out = Command::new(env!("CARGO_BIN_EXE_scalper"))
        .current_dir(tmp.path())
        .args([
            "-q", "soak", "--hours", "2", "--speed", "150", "--kills", "2", "--seed", "5",
            "--json", "--dir",
        ])
        .arg(&dir)
        .env_remove("IG_USERNAME")
        .env_remove("IG_PASSWORD")
        .env_remove("IG_API_KEY")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("no JSON report ({e}):\n{stdout}\n{stderr}"));
    assert_eq!(
        report["passed"],
        true,
        "violations: {}\nreport: {report}\nharness log:\n{}\n{}",
        report["violations"],
        std::fs::read_to_string(dir.join("harness.log")).unwrap_or_default(),
        engine_log_tails(&dir)
    );
    assert!(out.status.success());
    // About the two hours asked for: restarts run the market at real speed.
    let hours = report["simulated_hours"].as_f64().unwrap();
    assert!((2.0..2.5).contains(&hours), "{hours} simulated hours");
    assert_eq!(report["kills"], 2);
    assert!(report["engine_runs"].as_u64().unwrap() >= 3);
    assert_eq!(report["journal_pnl"], report["ledger_pnl"]);
    // It traded at the promised rate on every market.
    assert!(
        report["positions_per_day"].as_f64().unwrap() >= 1000.0,
        "{report}"
    );
    let per = report["positions_per_instrument"].as_object().unwrap();
    assert_eq!(per.len(), 10, "{per:?}");
    // Every SIGKILL came at its moment, and the summary says which.
    assert_eq!(
        report["kill_moments_hit"], report["kill_moments"],
        "{report}"
    );
    assert!(!report["kill_moments_hit"].as_object().unwrap().is_empty());
    // Every kind of fault fired while the broker held a position.
    let open = report["faults_fired_while_open"].as_object().unwrap();
    for kind in [
        "token-invalidation",
        "weekend-maintenance",
        "sigkill",
        "http500",
        "http503",
        "timeout",
        "drop-deal-response",
        "confirm-delay",
        "lose-confirm",
        "stream-drop",
        "stream-silence",
        "stream-end",
        "rate-limit-storm",
        "silence-limit-close",
    ] {
        assert!(
            open.get(kind).and_then(Value::as_u64).unwrap_or(0) > 0,
            "{kind} never fired while a position was open: {open:?}"
        );
    }
    // IG's limit close during the stream silence was booked by the same run, at IG's level.
    let closes = report["limit_closes"].as_array().unwrap();
    assert!(!closes.is_empty());
    for c in closes {
        assert_eq!(c["booked_during_run"], true, "{c}");
        assert_eq!(c["problem"], Value::Null, "{c}");
        let level = |k: &str| {
            c[k].as_str()
                .unwrap()
                .parse::<rust_decimal::Decimal>()
                .unwrap()
        };
        assert_eq!(level("journal_level"), level("ig_level"), "{c}");
        assert!(
            c["journal_reason"].as_str().unwrap().starts_with("limit"),
            "{c}"
        );
    }
}

/// The last lines of each engine run's stderr, so a failure in CI says what the engine did.
fn engine_log_tails(dir: &std::path::Path) -> String {
    let mut runs: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    runs.retain(|p| p.extension().is_some_and(|e| e == "err"));
    runs.sort();
    let mut out = String::new();
    for p in runs {
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        out.push_str("--- ");
        out.push_str(&p.display().to_string());
        out.push_str(" (last 25 lines)\n");
        for l in &lines[lines.len().saturating_sub(25)..] {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}
