//! Backtest throughput on a synthetic quote file (default 10 million quotes; set
//! `SCALPER_BENCH_QUOTES` to change): quotes per second single-threaded for `ema-cross`
//! (fast 10, slow 30) and the scalper, from CSV and from the binary cache, plus the loaders
//! alone, and peak memory (VmHWM) at two file sizes to show it stays
//! flat (each phase in its own process). Prints numbers; asserts nothing about time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/synth.rs"]
mod synth;

use std::path::{Path, PathBuf};
use std::time::Instant;

use scalper_backtest::{
    open_data, run_backtest, BacktestOptions, CacheMode, DataOptions, RecordSource,
};

fn vm_hwm_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn opts(path: &Path, cache: CacheMode, strategy: &str, set: &[&str]) -> BacktestOptions {
    BacktestOptions {
        data: vec![path.to_path_buf()],
        strategy: Some(strategy.to_string()),
        set: set.iter().map(|s| (*s).to_string()).collect(),
        latency_ms: Some(0),
        data_options: DataOptions {
            cache,
            bar_period_ms: None,
        },
        ..BacktestOptions::default()
    }
}

fn phase(name: &str, n: usize, f: impl FnOnce() -> String) {
    let t = Instant::now();
    let extra = f();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{name:<34} {:>7.2} s {:>8.2} M quotes/s   peak RSS {:>7} KiB   {extra}",
        secs,
        n as f64 / secs / 1e6,
        vm_hwm_kb(),
    );
}

fn scan(paths: &[PathBuf], cache: CacheMode) -> String {
    let mut src = open_data(
        paths,
        &DataOptions {
            cache,
            bar_period_ms: None,
        },
    )
    .unwrap();
    // In batches, as a backtest reads.
    let mut batch = Vec::with_capacity(1024);
    let mut n = 0u64;
    loop {
        batch.clear();
        let more = src.next_batch(&mut batch, 1024).unwrap();
        n += batch.len() as u64;
        if !more {
            break;
        }
    }
    format!("{n} records, from cache: {}", src.all_cached())
}

fn run(o: &BacktestOptions) -> String {
    let r = run_backtest(o).unwrap();
    format!(
        "{} trades, net {} {}, from cache: {}, hash {}",
        r.metrics.trades,
        r.metrics.net_pnl,
        r.currency,
        r.from_cache,
        &r.trades_hash[..12]
    )
}

/// Runs one phase in this process (child mode): `SCALPER_BENCH_PHASE=name`,
/// `SCALPER_BENCH_FILE`, `SCALPER_BENCH_CACHE`, `SCALPER_BENCH_N`.
fn child(name: &str) {
    let csv = PathBuf::from(std::env::var("SCALPER_BENCH_FILE").unwrap());
    let cache = CacheMode::Dir(PathBuf::from(std::env::var("SCALPER_BENCH_CACHE").unwrap()));
    let n: usize = std::env::var("SCALPER_BENCH_N").unwrap().parse().unwrap();
    let paths = [csv.clone()];
    let ema = ["fast=10", "slow=30"];
    match name {
        "load CSV only" => phase(name, n, || scan(&paths, CacheMode::Off)),
        "load CSV + build cache" => phase(name, n, || scan(&paths, cache.clone())),
        "load cache only" => phase(name, n, || scan(&paths, cache.clone())),
        "ema-cross 10/30 from CSV" => phase(name, n, || {
            run(&opts(&csv, CacheMode::Off, "ema-cross", &ema))
        }),
        "ema-cross 10/30 from cache" => phase(name, n, || {
            run(&opts(&csv, cache.clone(), "ema-cross", &ema))
        }),
        "scalper from CSV" => phase(name, n, || run(&opts(&csv, CacheMode::Off, "scalper", &[]))),
        "scalper from cache" => phase(name, n, || run(&opts(&csv, cache.clone(), "scalper", &[]))),
        other => panic!("unknown phase {other}"),
    }
}

const PHASES: [&str; 7] = [
    "load CSV only",
    "load CSV + build cache",
    "load cache only",
    "ema-cross 10/30 from CSV",
    "ema-cross 10/30 from cache",
    "scalper from CSV",
    "scalper from cache",
];

fn main() {
    // `cargo bench` passes `--bench`; arguments are ignored. Each phase runs in a fresh
    // child process so its peak RSS (VmHWM) is its own.
    if let Ok(name) = std::env::var("SCALPER_BENCH_PHASE") {
        child(&name);
        return;
    }
    let n: usize = std::env::var("SCALPER_BENCH_QUOTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let only = std::env::var("SCALPER_BENCH_ONLY").ok();
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("cache");
    let exe = std::env::current_exe().unwrap();
    for size in [n / 10, n] {
        let csv = dir.path().join(format!("synth-{size}.csv"));
        let t = Instant::now();
        synth::write_csv(&csv, size, 42);
        let bytes = std::fs::metadata(&csv).unwrap().len();
        println!(
            "\n== {size} quotes ({:.0} MB CSV, written in {:.1} s) ==",
            bytes as f64 / 1e6,
            t.elapsed().as_secs_f64()
        );
        for p in PHASES {
            if only
                .as_deref()
                .is_some_and(|o| !p.contains(o) && !p.starts_with("load CSV +"))
            {
                continue;
            }
            let status = std::process::Command::new(&exe)
                .env("SCALPER_BENCH_PHASE", p)
                .env("SCALPER_BENCH_FILE", &csv)
                .env("SCALPER_BENCH_CACHE", &cache_dir)
                .env("SCALPER_BENCH_N", size.to_string())
                .status()
                .unwrap();
            assert!(status.success(), "phase {p} failed");
        }
        std::fs::remove_file(&csv).ok();
    }
}
