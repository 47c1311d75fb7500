//! Runs that keep nothing per trade: the trades CSV streamed as trades close equals the CSV of
//! the kept list, results do not depend on keeping trades, the equity curve is bounded, and a
//! failed run leaves no partial trades file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use rust_decimal_macros::dec;
use scalper_backtest::{
    run_backtest, trades_hash, write_trades_file, BacktestError, BacktestOptions, BacktestReport,
    CacheMode, DataOptions, FundingOptions, MAX_CURVE_POINTS,
};

fn opts(data: &Path, strategy: &str, set: &[&str]) -> BacktestOptions {
    BacktestOptions {
        data: vec![data.to_path_buf()],
        strategy: Some(strategy.to_string()),
        set: set.iter().map(|s| (*s).to_string()).collect(),
        data_options: DataOptions {
            cache: CacheMode::Off,
            bar_period_ms: None,
        },
        ..BacktestOptions::default()
    }
}

/// Everything of a report but the trade list.
fn without_trades(r: &BacktestReport) -> BacktestReport {
    BacktestReport {
        trades: Vec::new(),
        ..r.clone()
    }
}

fn synth(dir: &Path, n: usize, seed: u64) -> PathBuf {
    let p = dir.join(format!("synth-{n}-{seed}.csv"));
    common::synth::write_csv(&p, n, seed);
    p
}

#[test]
fn streamed_trades_csv_equals_the_kept_list_csv() {
    let d = tempfile::tempdir().unwrap();
    let data = synth(d.path(), 30_000, 21);
    let runs: [(&str, &[&str]); 2] = [("ema-cross", &["fast=5", "slow=20"]), ("scalper", &[])];
    for (strategy, set) in runs {
        let mut o = opts(&data, strategy, set);
        o.latency_ms = Some(0);
        o.commission_pct = dec!(0.002);
        o.funding = Some(FundingOptions::default());

        o.keep_trades = true;
        o.trades_csv = Some(d.path().join("kept-streamed.csv"));
        let kept = run_backtest(&o).unwrap();
        assert!(kept.trades.len() > 20, "{strategy}: {}", kept.trades.len());
        let listed = d.path().join("listed.csv");
        write_trades_file(&listed, &kept.trades).unwrap();

        o.keep_trades = false;
        o.trades_csv = Some(d.path().join("streamed.csv"));
        let streamed = run_backtest(&o).unwrap();
        assert!(streamed.trades.is_empty());

        let read = |name: &str| std::fs::read(d.path().join(name)).unwrap();
        assert_eq!(read("streamed.csv"), read("listed.csv"), "{strategy}");
        assert_eq!(read("kept-streamed.csv"), read("listed.csv"), "{strategy}");
        // Keeping or writing trades changes nothing else.
        assert_eq!(without_trades(&kept), streamed, "{strategy}");
        assert_eq!(streamed.trades_hash, trades_hash(&kept.trades));
        assert_eq!(streamed.metrics.trades, kept.trades.len() as u64);
        o.trades_csv = None;
        assert_eq!(run_backtest(&o).unwrap(), streamed, "{strategy}");
    }
}

#[test]
fn equity_curve_is_bounded_with_first_and_last_points() {
    let d = tempfile::tempdir().unwrap();
    let data = synth(d.path(), 60_000, 4);
    let mut o = opts(&data, "ema-cross", &["fast=2", "slow=5"]);
    o.latency_ms = Some(0);
    // This test needs more trades than curve points: without margin, the losing run keeps
    // trading (with IG's margin it would stop once equity could no longer carry an entry).
    o.instrument.margin_percent = Some(rust_decimal::Decimal::ZERO);
    let r = run_backtest(&o).unwrap();
    assert!(
        r.metrics.trades > MAX_CURVE_POINTS as u64,
        "more trades ({}) than curve points",
        r.metrics.trades
    );
    let curve = &r.equity_curve;
    assert!(curve.len() <= MAX_CURVE_POINTS, "{}", curve.len());
    assert!(curve.len() > MAX_CURVE_POINTS / 4, "{}", curve.len());
    assert_eq!(curve[0].ts, r.first_ts.unwrap());
    assert_eq!(curve[0].equity, r.initial_equity);
    let last = curve.last().unwrap();
    assert_eq!((last.ts, last.equity), (r.last_ts.unwrap(), r.final_equity));
    assert!(curve.windows(2).all(|w| w[0].ts <= w[1].ts), "time order");
    // The curve's deepest fall from its running peak cannot exceed the drawdown measured
    // on every point, and its lowest point is the run's lowest.
    let mut peak = r.initial_equity;
    let mut worst = scalper_model::Money::ZERO;
    for p in curve {
        peak = peak.max(p.equity);
        worst = worst.max(peak - p.equity);
    }
    assert!(
        worst <= r.metrics.max_drawdown,
        "{worst} > {}",
        r.metrics.max_drawdown
    );
    assert!(worst > scalper_model::Money::ZERO);
}

#[test]
fn trades_file_errors_name_the_file_and_failed_runs_leave_none() {
    let d = tempfile::tempdir().unwrap();
    let data = synth(d.path(), 5_000, 8);
    let mut o = opts(&data, "ema-cross", &["fast=2", "slow=5"]);
    let bad = d.path().join("no-such-dir").join("t.csv");
    o.trades_csv = Some(bad.clone());
    match run_backtest(&o) {
        Err(e @ BacktestError::Output { .. }) => {
            assert!(e.to_string().contains("t.csv"), "{e}");
        }
        other => panic!("expected an output error, got {other:?}"),
    }

    // Unsorted data at the end: trades were written before the loader fails.
    let mut text = std::fs::read_to_string(&data).unwrap();
    text += &common::synth::T0.to_string();
    text += ",1.1,1.1002\n";
    let broken = d.path().join("broken.csv");
    std::fs::write(&broken, text).unwrap();
    let out = d.path().join("t.csv");
    let mut o = opts(&broken, "ema-cross", &["fast=2", "slow=5"]);
    o.trades_csv = Some(out.clone());
    let e = run_backtest(&o).unwrap_err();
    assert!(matches!(e, BacktestError::Data(_)), "{e}");
    assert!(!out.exists(), "partial trades file left behind");
}

/// The margin rules of issue #16: the same losing ema-cross run that goes far below zero
/// without margin stays above zero with IG's margin (3.33% on EUR/USD): entries the equity
/// cannot carry are refused (`insufficient_margin`) or sized down, and the close-out at 50%
/// closes what is open.
#[test]
fn margin_keeps_a_losing_run_above_zero() {
    let d = tempfile::tempdir().unwrap();
    let data = synth(d.path(), 60_000, 4);
    let mut o = opts(&data, "ema-cross", &["fast=2", "slow=5"]);
    o.latency_ms = Some(0);
    o.instrument.margin_percent = Some(rust_decimal::Decimal::ZERO);
    let free = run_backtest(&o).unwrap();
    let lowest = |r: &scalper_backtest::BacktestReport| {
        r.equity_curve.iter().map(|p| p.equity).min().unwrap()
    };
    assert!(
        lowest(&free).value() < rust_decimal::Decimal::ZERO,
        "{free}"
    );
    o.instrument.margin_percent = None;
    let margined = run_backtest(&o).unwrap();
    assert!(
        lowest(&margined).value() >= rust_decimal::Decimal::ZERO,
        "{margined}"
    );
    assert!(margined.final_equity.value() > rust_decimal::Decimal::ZERO);
    assert!(
        margined
            .refusals_by_rule
            .contains_key("insufficient_margin"),
        "{margined}"
    );
    assert!(margined.metrics.trades < free.metrics.trades);
}
