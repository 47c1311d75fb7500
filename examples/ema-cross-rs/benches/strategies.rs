//! Quotes per second of the built-in `ema-cross` and of `ema-cross-rs` (the same strategy
//! through the public API, `scalper-sdk`), on `cargo bench -p scalper-backtest`'s benchmark
//! file (its synthetic random walk, seed 42; `SCALPER_BENCH_QUOTES`, default 10 million),
//! from the binary cache, single-threaded, best of 3; checks that both give the same trades.
//! The file's path is printed: `python python/bench/ema_cross.py --data PATH` measures the
//! Python strategy on it. Prints numbers; asserts nothing about time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../../crates/backtest/tests/common/synth.rs"]
mod synth;

use std::time::Instant;

use scalper_backtest::{run_backtest, BacktestOptions};

fn main() {
    let n: usize = std::env::var("SCALPER_BENCH_QUOTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    scalper_sdk::register(scalper_example_ema_cross_rs::ema_cross_rs()).unwrap();
    let csv =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("bench-quotes-{n}.csv"));
    if !csv.exists() {
        synth::write_csv(&csv, n, 42);
    }
    println!("data: {} ({n} quotes)", csv.display());
    let opts = |strategy: &str| BacktestOptions {
        data: vec![csv.clone()],
        strategy: Some(strategy.to_string()),
        set: vec!["fast=10".into(), "slow=30".into()],
        latency_ms: Some(0),
        ..BacktestOptions::default()
    };
    // Builds the cache.
    run_backtest(&opts("ema-cross")).unwrap();
    let mut hashes = Vec::new();
    for strategy in ["ema-cross", "ema-cross-rs"] {
        let mut best = f64::MAX;
        let mut report = None;
        for _ in 0..3 {
            let t = Instant::now();
            let r = run_backtest(&opts(strategy)).unwrap();
            best = best.min(t.elapsed().as_secs_f64());
            report = Some(r);
        }
        let r = report.unwrap();
        println!(
            "{strategy:<14} {:>7.3} s {:>8.2} M quotes/s   {} trades   hash {}",
            best,
            n as f64 / best / 1e6,
            r.metrics.trades,
            &r.trades_hash[..16]
        );
        hashes.push(r.trades_hash);
    }
    assert_eq!(
        hashes[0], hashes[1],
        "the SDK strategy must trade as the built-in"
    );
}
