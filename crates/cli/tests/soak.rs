//! The short soak that CI runs: `scalper soak` for two simulated hours at x300 with SIGKILLs,
//! token invalidations, weekend maintenance, 5xx and timeouts, dropped dealing responses,
//! delayed and lost confirms, stream drops and a rate-limit storm. Every invariant must hold.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[test]
fn a_short_soak_keeps_every_invariant() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("soak");
    let out = Command::new(env!("CARGO_BIN_EXE_scalper"))
        .current_dir(tmp.path())
        .args([
            "-q", "soak", "--hours", "2", "--speed", "300", "--kills", "2", "--seed", "5",
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
    let report: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("no JSON report ({e}):\n{stdout}\n{stderr}"));
    assert_eq!(
        report["passed"],
        true,
        "violations: {}\nharness log:\n{}\n{}",
        report["violations"],
        std::fs::read_to_string(dir.join("harness.log")).unwrap_or_default(),
        engine_log_tails(&dir)
    );
    assert!(out.status.success());
    assert!(report["simulated_hours"].as_f64().unwrap() >= 2.0);
    assert_eq!(report["kills"], 2);
    assert!(report["engine_runs"].as_u64().unwrap() >= 3);
    assert!(
        report["broker_positions"].as_u64().unwrap() > 0,
        "it traded"
    );
    assert_eq!(report["journal_pnl"], report["ledger_pnl"]);
    // The schedule fired every kind of fault the soak promises.
    let fired = report["faults_fired"].as_object().unwrap();
    for kind in [
        "token-invalidation",
        "weekend-maintenance",
        "sigkill",
        "stream-drop",
    ] {
        assert!(
            fired
                .get(kind)
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0)
                > 0,
            "{kind} never fired: {fired:?}"
        );
    }
    assert!(
        fired
            .keys()
            .any(|k| k.starts_with("sandbox:http5") || k == "sandbox:timeout"),
        "no server error fired: {fired:?}"
    );
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
