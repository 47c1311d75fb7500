//! The example binary runs its SDK strategy and the built-in `ema-cross` on the same
//! synthetic benchmark file (`synth`, as `cargo bench -p scalper-backtest` writes it): the
//! trade lists hash the same, and a sweep over the custom strategy's parameters works.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

fn scalper(dir: &Path, args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_ema-cross-rs"))
        .current_dir(dir)
        .args(["--log-dir", "logs", "-q"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

fn backtest(dir: &Path, strategy: &str, set: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "backtest",
        "--data",
        "q.csv",
        "--instrument",
        "EUR_USD",
        "--strategy",
        strategy,
        "--json",
    ];
    for s in set {
        args.extend(["--set", s]);
    }
    scalper(dir, &args)
}

#[test]
fn sdk_strategy_gives_the_builtin_trade_hash() {
    let dir = tempfile::tempdir().unwrap();
    let synth = [
        "synth",
        "--instrument",
        "EUR_USD",
        "--quotes",
        "200000",
        "--seed",
        "7",
        "--out",
        "q.csv",
    ];
    scalper(dir.path(), &synth);
    for set in [&[][..], &["fast=5", "slow=20", "size=2"][..]] {
        let builtin = backtest(dir.path(), "ema-cross", set);
        let custom = backtest(dir.path(), "ema-cross-rs", set);
        let trades = builtin["metrics"]["trades"].as_u64().unwrap();
        assert!(trades > 100, "{trades} trades");
        assert_eq!(custom["metrics"]["trades"].as_u64(), Some(trades));
        assert_eq!(custom["trades_hash"], builtin["trades_hash"], "{set:?}");
        assert_eq!(custom["strategy"], "ema-cross-rs");
    }
    // An invalid parameter is refused with the strategy's own message.
    let out = Command::new(env!("CARGO_BIN_EXE_ema-cross-rs"))
        .current_dir(dir.path())
        .args(["--log-dir", "logs", "-q", "backtest", "--data", "q.csv"])
        .args(["--strategy", "ema-cross-rs", "--set", "fast=40"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("below slow"));
    // A sweep over the custom strategy's parameters.
    let sweep = scalper(
        dir.path(),
        &[
            "sweep",
            "--data",
            "q.csv",
            "--strategy",
            "ema-cross-rs",
            "--grid",
            "fast=5,10",
            "--grid",
            "slow=30",
            "--jobs",
            "2",
            "--json",
        ],
    );
    assert_eq!(sweep["rows"].as_array().map(Vec::len), Some(2), "{sweep}");
    // Ray workers run the Python package, which does not have this binary's strategy: refused
    // before anything starts, saying what to do instead.
    let out = Command::new(env!("CARGO_BIN_EXE_ema-cross-rs"))
        .current_dir(dir.path())
        .args(["--log-dir", "logs", "-q", "sweep", "--data", "q.csv"])
        .args(["--strategy", "ema-cross-rs", "--grid", "fast=5,10"])
        .args(["--ray", "127.0.0.1:1", "--python", "/nonexistent/python"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("registered in this binary only") && err.contains("without --ray"),
        "{err}"
    );
}
