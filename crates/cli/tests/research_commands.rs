//! `scalper synth`, `backtest` and `sweep` through the real binary.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: panics are failures

mod common;

use common::Dir;

#[test]
fn synth_then_backtest_is_deterministic_and_writes_outputs() {
    let d = Dir::new();
    let r = d.run(
        &[
            "synth",
            "--instrument",
            "EUR_USD",
            "--quotes",
            "3000",
            "--seed",
            "9",
            "--out",
            "q.csv",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let text = std::fs::read_to_string(d.path().join("q.csv")).unwrap();
    assert_eq!(text.lines().count(), 3001, "header + quotes");
    assert!(text.starts_with("ts_ms,bid,ask\n"));
    let first: Vec<&str> = text.lines().nth(1).unwrap().split(',').collect();
    let bid: f64 = first[1].parse().unwrap();
    assert!(
        (0.5..2.0).contains(&bid),
        "EUR/USD as a market price: {bid}"
    );

    // Same seed, same file.
    let r = d.run(
        &[
            "synth", "--quotes", "3000", "--seed", "9", "--out", "q2.csv",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        text,
        std::fs::read_to_string(d.path().join("q2.csv")).unwrap()
    );

    let args = [
        "backtest",
        "--data",
        "q.csv",
        "--strategy",
        "ema-cross",
        "--set",
        "fast=5",
        "--set",
        "slow=20",
        "--set",
        "size=1",
        "--json",
        "--no-cache",
    ];
    let a = d.run(&args, &[]);
    assert_eq!(a.code, 0, "{a:?}");
    let b = d.run(&args, &[]);
    let (a, b) = (a.json(), b.json());
    assert!(
        a["trades_hash"].as_str().is_some_and(|h| h.len() == 64),
        "{a}"
    );
    assert_eq!(a["trades_hash"], b["trades_hash"], "identical runs");
    assert!(
        a.get("equity_curve").is_none(),
        "the curve stays out of the JSON"
    );

    let r = d.run(
        &[
            "backtest",
            "--data",
            "q.csv",
            "--strategy",
            "ema-cross",
            "--set",
            "fast=5",
            "--set",
            "slow=20",
            "--trades",
            "t.csv",
            "--plot",
            "e.png",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("sha256"), "{r:?}");
    assert!(std::fs::read_to_string(d.path().join("t.csv"))
        .unwrap()
        .starts_with("id,direction,size,entry_time"));
    assert_eq!(png_size(&d.path().join("e.png")), (1400, 800));
    let rows = std::fs::read_to_string(d.path().join("t.csv")).unwrap();
    let row: Vec<&str> = rows.lines().nth(1).expect("a trade").split(',').collect();
    assert_eq!(row[7], "GBP", "the account currency: {row:?}");
    assert!(
        row[8]
            .split_once('.')
            .is_some_and(|(_, cents)| cents.len() == 2),
        "P&L with the currency's two decimals: {row:?}"
    );

    // Entries and exits on price: a taller chart with a third panel.
    let mut with_trades = vec![
        "backtest",
        "--data",
        "q.csv",
        "--strategy",
        "ema-cross",
        "--set",
        "fast=5",
        "--set",
        "slow=20",
        "--plot",
        "t.png",
        "--plot-trades",
    ];
    let r = d.run(&with_trades, &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(png_size(&d.path().join("t.png")), (1400, 1000));
    // `--plot-trades` needs `--plot`: a usage error.
    with_trades.retain(|a| *a != "--plot" && *a != "t.png");
    assert_eq!(d.run(&with_trades, &[]).code, 2);

    let r = d.run(
        &[
            "sweep",
            "--data",
            "q.csv",
            "--strategy",
            "ema-cross",
            "--grid",
            "fast=3,5",
            "--grid",
            "slow=20",
            "--jobs",
            "1",
            "--json",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["rows"].as_array().unwrap().len(), 2, "{r:?}");
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(path: &std::path::Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[1..4], b"PNG");
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

#[test]
fn bad_data_and_bad_options_have_distinct_exit_codes() {
    let d = Dir::new();
    d.write("bad.csv", "ts_ms,bid,ask\n1000,1.1,1.2\n2000,1.3,1.2\n");
    let r = d.run(&["backtest", "--data", "bad.csv", "--no-cache"], &[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("bad.csv") && r.stderr.contains('3'),
        "names file and line: {r:?}"
    );

    d.write("ok.csv", "ts_ms,bid,ask\n1000,1.1,1.2\n2000,1.1,1.2\n");
    let r = d.run(&["backtest", "--data", "ok.csv", "--set", "novalue"], &[]);
    assert_eq!(r.code, 2, "{r:?}");
    let r = d.run(&["backtest", "--data", "ok.csv", "--from", "someday"], &[]);
    assert_eq!(r.code, 2, "{r:?}");
    let r = d.run(
        &[
            "synth",
            "--instrument",
            "NOPE",
            "--quotes",
            "1",
            "--out",
            "x.csv",
        ],
        &[],
    );
    assert_eq!(r.code, 2, "{r:?}");
}

#[test]
fn trades_csv_is_streamed_and_matches_the_json_list() {
    let d = Dir::new();
    let r = d.run(
        &["synth", "--quotes", "4000", "--seed", "3", "--out", "q.csv"],
        &[],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "backtest",
            "--data",
            "q.csv",
            "--strategy",
            "ema-cross",
            "--set",
            "fast=3",
            "--set",
            "slow=8",
            "--latency",
            "0",
        ];
        args.extend_from_slice(extra);
        d.run(&args, &[])
    };
    let text = run(&["--trades", "text.csv"]);
    assert_eq!(text.code, 0, "{text:?}");
    assert!(text.stdout.contains("trades written to"), "{text:?}");
    let json = run(&["--trades", "json.csv", "--json"]);
    assert_eq!(json.code, 0, "{json:?}");
    let read = |name: &str| std::fs::read_to_string(d.path().join(name)).unwrap();
    let csv = read("text.csv");
    assert_eq!(csv, read("json.csv"), "same rows with and without --json");
    let report = json.json();
    let trades = report["trades"].as_array().unwrap();
    assert!(trades.len() > 10, "{report}");
    assert_eq!(
        csv.lines().count(),
        trades.len() + 1,
        "header + one row per trade"
    );
    assert_eq!(report["metrics"]["trades"], trades.len());
    let row: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(row[0], trades[0]["id"].to_string());
    assert_eq!(row[7], trades[0]["currency"].as_str().unwrap());
    assert_eq!(row[8], trades[0]["pnl"].as_str().unwrap());
    assert!(
        text.stdout
            .contains(report["trades_hash"].as_str().unwrap()),
        "same hash in text mode: {text:?}"
    );

    let bad = run(&["--trades", "missing-dir/t.csv"]);
    assert_eq!(bad.code, 1, "{bad:?}");
    assert!(bad.stderr.contains("missing-dir/t.csv"), "{bad:?}");
}
