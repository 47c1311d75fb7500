//! Backtest runs with hand-computed fills and P&L (quotes and bars), the stop-first
//! intrabar rule, commission, determinism across runs and data formats, option errors,
//! outputs and sweeps.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::many_single_char_names
)]

mod common;

use std::path::{Path, PathBuf};

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use scalper_backtest::{
    parse_grid, run_backtest, run_sweep, write_equity_png, write_trades_file, BacktestError,
    BacktestOptions, CacheMode, DataOptions, EquityPlot, RankMetric, SweepOptions, TradeRecord,
};
use scalper_engine::{BrokerCommand, BrokerEvent, CloseCause, OpenOrder, SimBroker, SimConfig};
use scalper_model::{Candle, DealReference, Direction, Money, Points, Price, Size, Timestamp};

const T0: i64 = common::synth::T0;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn opts(data: PathBuf, strategy: &str, set: &[&str]) -> BacktestOptions {
    BacktestOptions {
        data: vec![data],
        strategy: Some(strategy.to_string()),
        set: set.iter().map(|s| (*s).to_string()).collect(),
        data_options: DataOptions {
            cache: CacheMode::Off,
            bar_period_ms: None,
        },
        keep_trades: true,
        ..BacktestOptions::default()
    }
}

/// (direction, entry ms offset, entry, exit ms offset, exit, pnl)
type Expect = (Direction, i64, Decimal, i64, Decimal, Decimal);

fn check(trades: &[TradeRecord], want: &[Expect]) {
    assert_eq!(trades.len(), want.len(), "{trades:#?}");
    for (t, w) in trades.iter().zip(want) {
        assert_eq!(t.direction, w.0, "{t:?}");
        assert_eq!(t.size, Size::new(dec!(1)));
        assert_eq!(t.entry_time, Timestamp::from_millis(T0 + w.1), "{t:?}");
        assert_eq!(t.entry_price, Price::new(w.2), "{t:?}");
        assert_eq!(t.exit_time, Timestamp::from_millis(T0 + w.3), "{t:?}");
        assert_eq!(t.exit_price, Price::new(w.4), "{t:?}");
        assert_eq!(t.pnl, Money::new(w.5), "{t:?}");
    }
}

/// Mids 1.1000, 1.1010, 1.1020, 1.1000, 1.0990, 1.0980 with a 2-point spread, 1 s apart.
/// ema-cross fast=1 slow=2: the fast EMA is the mid, so the target is long when the mid
/// is above the previous slow EMA: long from q1, short from q3 (slow after q2 = 1.10156).
const QUOTES: &str = "ts_ms,bid,ask\n\
1704182400000,1.0999,1.1001\n\
1704182401000,1.1009,1.1011\n\
1704182402000,1.1019,1.1021\n\
1704182403000,1.0999,1.1001\n\
1704182404000,1.0989,1.0991\n\
1704182405000,1.0979,1.0981\n";

#[test]
fn ema_cross_fills_on_next_quote_by_hand() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "q.csv", QUOTES);
    let r = run_backtest(&opts(p, "ema-cross", &["fast=1", "slow=2"])).unwrap();
    // Buy at q2's offer, flip at q4's bid (close and sell), close at the last offer.
    // EUR/USD: point 0.0001, 10 USD per point per contract, size 1.
    check(
        &r.trades,
        &[
            (
                Direction::Buy,
                2000,
                dec!(1.1021),
                4000,
                dec!(1.0989),
                dec!(-320),
            ),
            (
                Direction::Sell,
                4000,
                dec!(1.0989),
                5000,
                dec!(1.0981),
                dec!(80),
            ),
        ],
    );
    assert_eq!(r.metrics.net_pnl, Money::new(dec!(-240)));
    assert_eq!(r.final_equity, Money::new(dec!(9760)));
    assert_eq!(r.currency, "USD");
    assert_eq!(r.records, 6);
    let text = r.to_string();
    assert!(text.contains("net P&L -240.00 USD"), "{text}");
    assert!(text.contains(&r.trades_hash), "{text}");
}

#[test]
fn refusals_are_counted_by_rule_with_the_first_of_each() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "q.csv", QUOTES);
    // Below EUR/USD's minimum deal size (0.5): both signals (q1 long, q3 short) refused.
    let r = run_backtest(&opts(p, "ema-cross", &["fast=1", "slow=2", "size=0.3"])).unwrap();
    assert_eq!((r.metrics.trades, r.refusals), (0, 2));
    let rules: Vec<&str> = r.refusals_by_rule.keys().map(String::as_str).collect();
    assert_eq!(rules, ["size_below_minimum"]);
    let stat = &r.refusals_by_rule["size_below_minimum"];
    assert_eq!(stat.count, 2);
    assert_eq!(stat.first_at, Timestamp::from_millis(T0 + 1000));
    assert!(
        stat.first.contains("below the minimum deal size 0.5"),
        "{}",
        stat.first
    );
    let text = r.to_string();
    assert!(
        text.contains("refused        2 × size_below_minimum, first at 2024-01-02T08:00:01"),
        "{text}"
    );
    // In the JSON report too.
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["refusals_by_rule"]["size_below_minimum"]["count"], 2);
}

#[test]
fn ema_cross_latency_zero_fills_on_triggering_quote_with_commission() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "q.csv", QUOTES);
    let mut o = opts(p, "ema-cross", &["fast=1", "slow=2"]);
    o.latency_ms = Some(0);
    let r = run_backtest(&o).unwrap();
    check(
        &r.trades,
        &[
            (
                Direction::Buy,
                1000,
                dec!(1.1011),
                3000,
                dec!(1.0999),
                dec!(-120),
            ),
            (
                Direction::Sell,
                3000,
                dec!(1.0999),
                5000,
                dec!(1.0981),
                dec!(180),
            ),
        ],
    );
    // 0.01% of notional (price / 0.0001 × 10 × 1), rounded to the cent per fill:
    // 110110 → 11.01, 109990 → 11.00 (10.999), 109810 → 10.98.
    o.commission_pct = dec!(0.01);
    let r = run_backtest(&o).unwrap();
    assert_eq!(r.trades[0].pnl, Money::new(dec!(-142.01)));
    assert_eq!(r.trades[0].commission, Money::new(dec!(22.01)));
    assert_eq!(r.trades[1].pnl, Money::new(dec!(158.02)));
}

/// 1-minute mid bars with a 2-point spread. sma-cross fast=1 slow=2 crosses up when the
/// close rises after a fall and down when it falls after a rise: up at bar 2, down at bar 3.
const BARS: &str = "time,open,high,low,close,spread\n\
2024-01-02T08:00:00Z,1.1000,1.1005,1.0995,1.1000,0.0002\n\
2024-01-02T08:01:00Z,1.1000,1.1000,1.0985,1.0990,0.0002\n\
2024-01-02T08:02:00Z,1.0990,1.1015,1.0990,1.1010,0.0002\n\
2024-01-02T08:03:00Z,1.1020,1.1030,1.0995,1.1000,0.0002\n\
2024-01-02T08:04:00Z,1.0990,1.0995,1.0970,1.0980,0.0002\n";

#[test]
fn sma_cross_on_bars_fills_at_next_open_by_hand() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "bars.csv", BARS);
    let r = run_backtest(&opts(p, "sma-cross", &["fast=1", "slow=2"])).unwrap();
    // Buy at bar 3's open offer (1.1020 + 0.0001); flip at bar 4's open bid (1.0990 -
    // 0.0001); the short closes at the last bar's close offer (1.0980 + 0.0001) at its end.
    check(
        &r.trades,
        &[
            (
                Direction::Buy,
                180_000,
                dec!(1.1021),
                240_000,
                dec!(1.0989),
                dec!(-320),
            ),
            (
                Direction::Sell,
                240_000,
                dec!(1.0989),
                300_000,
                dec!(1.0981),
                dec!(80),
            ),
        ],
    );
}

#[test]
fn stop_is_assumed_hit_first_inside_a_bar() {
    let inst = scalper_backtest::InstrumentSpec::named("EUR_USD")
        .resolve()
        .unwrap();
    let epic = inst.epic.clone();
    let bar = |i: i64, o: Decimal, h: Decimal, l: Decimal, c: Decimal| Candle {
        epic: epic.clone(),
        start: Timestamp::from_millis(T0 + i * 60_000),
        period_ms: 60_000,
        open: Price::new(o),
        high: Price::new(h),
        low: Price::new(l),
        close: Price::new(c),
        spread: Some(Decimal::ZERO),
        volume: None,
    };
    let mut b = SimBroker::new(SimConfig::default(), vec![inst.clone()]);
    b.on_bar(&bar(0, dec!(1.1), dec!(1.1), dec!(1.1), dec!(1.1)));
    let ev = b.submit(BrokerCommand::Open(OpenOrder {
        deal_ref: DealReference::new("REF1").unwrap(),
        epic: epic.clone(),
        direction: Direction::Buy,
        size: Size::new(dec!(1)),
        stop_distance: Some(Points::new(dec!(10))),
        limit_distance: Some(Points::new(dec!(10))),
        currency: "USD".into(),
        expiry: "-".into(),
        stop_kind: scalper_engine::StopKind::Normal,
    }));
    assert!(ev.is_empty(), "bar orders wait for the next open: {ev:?}");
    // Next bar opens at 1.1000 (fill; stop 1.0990, limit 1.1010) and trades through both.
    let ev = b.on_bar(&bar(1, dec!(1.1), dec!(1.1020), dec!(1.0980), dec!(1.1015)));
    let closed: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            BrokerEvent::PositionClosed {
                level, cause, pnl, ..
            } => Some((*level, *cause, *pnl)),
            _ => None,
        })
        .collect();
    assert_eq!(
        closed,
        vec![(
            Price::new(dec!(1.0990)),
            CloseCause::Stop,
            Some(Money::new(dec!(-100)))
        )]
    );
}

#[test]
fn identical_results_across_runs_and_between_csv_and_cache() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("synth.csv");
    common::synth::write_csv(&p, 20_000, 11);
    let mut o = opts(p, "scalper", &[]);
    o.data_options.cache = CacheMode::Dir(d.path().join("cache"));
    let a = run_backtest(&o).unwrap();
    let b = run_backtest(&o).unwrap();
    assert!(!a.from_cache);
    assert!(b.from_cache);
    assert!(
        !a.trades.is_empty(),
        "the scalper should trade on 20k quotes"
    );
    assert_eq!(a.trades, b.trades);
    assert_eq!(a.trades_hash, b.trades_hash);
    assert_eq!(a.metrics, b.metrics);
    let mut ema = opts(
        d.path().join("synth.csv"),
        "ema-cross",
        &["fast=10", "slow=30"],
    );
    ema.latency_ms = Some(0);
    let x = run_backtest(&ema).unwrap();
    let y = run_backtest(&ema).unwrap();
    assert!(x.trades.len() > 10);
    assert_eq!(x.trades_hash, y.trades_hash);
    assert_ne!(x.trades_hash, a.trades_hash);
}

#[test]
fn option_errors_are_clear() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "q.csv", QUOTES);
    let err = |set: &[&str], strategy: &str| {
        run_backtest(&opts(p.clone(), strategy, set))
            .unwrap_err()
            .to_string()
    };
    assert!(err(&["fats=3"], "ema-cross").contains("fats"));
    assert!(err(&["fast=abc"], "ema-cross").contains("fast"));
    assert!(err(&["fast"], "ema-cross").contains("key=value"));
    assert!(err(&[], "nope").contains("unknown strategy"));
    assert!(err(&["risk.max_open_positions=0"], "ema-cross").contains("max_open_positions"));
    let mut o = opts(p.clone(), "ema-cross", &[]);
    o.instrument.name = "NOPE".into();
    assert!(matches!(
        run_backtest(&o),
        Err(BacktestError::UnknownInstrument(_))
    ));
    let mut o = opts(p, "ema-cross", &[]);
    o.from = Some(Timestamp::from_millis(T0 + 3_600_000));
    assert!(matches!(run_backtest(&o), Err(BacktestError::EmptyRange)));
}

#[test]
fn trades_csv_and_equity_png() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "q.csv", QUOTES);
    let r = run_backtest(&opts(p, "ema-cross", &["fast=1", "slow=2"])).unwrap();
    let csv = d.path().join("trades.csv");
    write_trades_file(&csv, &r.trades).unwrap();
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "id,direction,size,entry_time,entry_price,exit_time,exit_price,currency,pnl,commission,funding,cause,reason"
    );
    // Amounts in the account currency, with its two decimals.
    assert!(lines.next().unwrap().starts_with(
        "1,BUY,1,2024-01-02T08:00:02.000Z,1.1021,2024-01-02T08:00:04.000Z,1.0989,USD,-320.00,0.00,0.00,"
    ));
    let png = d.path().join("eq.png");
    write_equity_png(&png, &EquityPlot::of_report(&r, (320, 240))).unwrap();
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[1..4], b"PNG");
}

#[test]
fn sweep_ranks_grid_and_walks_forward() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("synth.csv");
    common::synth::write_csv(&p, 6_000, 5);
    let mut base = opts(p, "ema-cross", &[]);
    base.data_options.cache = CacheMode::Dir(d.path().join("cache"));
    let s = SweepOptions {
        base,
        grid: vec![
            parse_grid("fast=5,10").unwrap(),
            parse_grid("slow=20,40").unwrap(),
        ],
        jobs: Some(2),
        metric: RankMetric::NetPnl,
        walk_forward: Some(2),
    };
    let r = run_sweep(&s).unwrap();
    assert_eq!(r.rows.len(), 4);
    let scores: Vec<f64> = r
        .rows
        .iter()
        .map(|row| RankMetric::NetPnl.score(row.metrics.as_ref().unwrap()))
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    assert_eq!(r.folds.len(), 2);
    assert!(r.folds[0].test_from == r.folds[0].train_to);
    assert!(r.folds.iter().all(|f| f.out_of_sample.is_some()));
    let table = r.to_string();
    assert!(
        table.contains("ranked by net-pnl") && table.contains("walk-forward"),
        "{table}"
    );
    // Same sweep again: same ranking and hashes (parallelism does not change results).
    let again = run_sweep(&s).unwrap();
    assert_eq!(r.rows, again.rows);
}

#[test]
fn overnight_funding_is_charged_at_the_cutoff() {
    let d = tempfile::tempdir().unwrap();
    // Tuesday 2024-01-02 around 22:00 London (= UTC in winter).
    let p = write(
        d.path(),
        "q.csv",
        "ts_ms,bid,ask\n\
         1704232797000,1.0999,1.1001\n\
         1704232798000,1.1009,1.1011\n\
         1704232799000,1.1019,1.1021\n\
         1704232801000,1.1029,1.1031\n",
    );
    let mut o = opts(p, "ema-cross", &["fast=1", "slow=2"]);
    o.funding = Some(scalper_backtest::FundingOptions::default());
    let mut calls = Vec::new();
    let r = scalper_backtest::run_backtest_with_progress(&o, &mut |p| calls.push(p)).unwrap();
    assert_eq!(r.trades.len(), 1);
    // Long 1 from 1.1021, closed at the last bid 1.1029: +8 points = 80. Funding at 22:00
    // on the last mid 1.1020: 110200 notional × 2.5% / 365 = 7.548 → -7.55.
    assert_eq!(r.trades[0].funding, Money::new(dec!(-7.55)));
    assert_eq!(r.trades[0].pnl, Money::new(dec!(72.45)));
    assert_eq!(r.metrics.funding, Money::new(dec!(-7.55)));
    // Progress is reported at the end at least.
    assert_eq!(calls.last().map(|p| p.records), Some(4));
}

#[test]
fn account_currency_conversion() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "q.csv", QUOTES);
    let mut o = opts(p, "ema-cross", &["fast=1", "slow=2"]);
    o.account = Some(scalper_backtest::AccountConversion {
        currency: "GBP".into(),
        rate: Some(dec!(0.8)),
    });
    let r = run_backtest(&o).unwrap();
    assert_eq!(r.currency, "GBP");
    assert_eq!(r.trades[0].pnl, Money::new(dec!(-256)));
    assert_eq!(r.trades[1].pnl, Money::new(dec!(64)));
    assert_eq!(
        scalper_backtest::parse_time("2024-01-02T08:00:00Z").unwrap(),
        Timestamp::from_millis(T0)
    );
    assert!(scalper_backtest::parse_time("soon").is_err());
}

#[test]
fn ig_price_json_runs_and_can_be_dropped_early() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../ig-wire/tests/fixtures/historic_prices.json");
    assert!(p.exists(), "fixture {} missing", p.display());
    let mut o = opts(p.clone(), "sma-cross", &["fast=2", "slow=3"]);
    o.instrument = scalper_backtest::InstrumentSpec {
        name: "CS.D.USCGC.TODAY.IP".into(),
        point_size: Some(dec!(0.1)),
        value_per_point: Some(dec!(1)),
        currency: Some("USD".into()),
        ..Default::default()
    };
    let r = run_backtest(&o).unwrap();
    assert_eq!(r.records, 10);
    assert_eq!(r.data_kind, scalper_backtest::DataKind::Bars);
    let again = run_backtest(&o).unwrap();
    assert_eq!(r.trades_hash, again.trades_hash);
    // Reading one bar and dropping the source stops the parser thread (no hang).
    let mut src = scalper_backtest::open_data(&[p], &o.data_options).unwrap();
    assert!(src.next().unwrap().is_ok());
    drop(src);
}

#[test]
fn set_values_are_validated_together_in_any_order() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "q.csv", QUOTES);
    for set in [["fast=50", "slow=200"], ["slow=200", "fast=50"]] {
        let r = run_backtest(&opts(p.clone(), "ema-cross", &set)).unwrap();
        assert_eq!(r.strategy_config["fast"], 50, "{set:?}");
        assert_eq!(r.strategy_config["slow"], 200, "{set:?}");
    }
    let err = run_backtest(&opts(p, "ema-cross", &["fast=50", "slow=20"])).unwrap_err();
    assert!(err.to_string().contains("fast must be below slow"), "{err}");
}

/// An IG price file says what kind of market it holds (`instrumentType`): a Spot Gold history
/// (COMMODITIES) given for the default EUR/USD, or for an index, is refused with the names of
/// the markets it can be, before any record is read; for GOLD it runs.
#[test]
fn ig_price_file_of_another_kind_of_market_is_refused() {
    let gold = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../ig-wire/tests/fixtures/historic_prices.json");
    let mut o = opts(gold.clone(), "sma-cross", &["fast=2", "slow=3"]);
    for name in ["EUR_USD", "GER40"] {
        o.instrument = scalper_backtest::InstrumentSpec::named(name);
        let err = run_backtest(&o).unwrap_err();
        assert!(err.is_usage_error(), "{err}");
        let text = err.to_string();
        assert!(text.contains("instrumentType COMMODITIES"), "{text}");
        assert!(text.contains("historic_prices.json"), "{text}");
        assert!(
            text.contains("--instrument") && text.contains("GOLD"),
            "{text}"
        );
    }
    o.instrument = scalper_backtest::InstrumentSpec::named("GOLD");
    let r = run_backtest(&o).unwrap();
    assert_eq!(r.records, 10);
    // A file that declares nothing is not refused for it.
    let d = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(&gold).unwrap();
    let silent = write(
        d.path(),
        "silent.json",
        &text.replace("\"instrumentType\": \"COMMODITIES\",", ""),
    );
    let mut o = opts(silent, "sma-cross", &["fast=2", "slow=3"]);
    o.instrument = scalper_backtest::InstrumentSpec::named("GOLD");
    assert_eq!(run_backtest(&o).unwrap().records, 10);
}

/// Each grid point's parameters are checked together before anything runs: a grid with
/// invalid combinations (fast not below slow) is refused naming them, and no data is even
/// read (no cache is built); the axes' order does not matter.
#[test]
fn sweep_refuses_invalid_grid_points_before_running() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("synth.csv");
    common::synth::write_csv(&p, 3_000, 5);
    let cache = d.path().join("cache");
    let mut base = opts(p, "ema-cross", &["size=1"]);
    base.data_options.cache = CacheMode::Dir(cache.clone());
    let sweep = |grid: &[&str]| {
        run_sweep(&SweepOptions {
            base: base.clone(),
            grid: grid.iter().map(|g| parse_grid(g).unwrap()).collect(),
            jobs: Some(1),
            metric: RankMetric::NetPnl,
            walk_forward: None,
        })
    };
    let err = sweep(&["fast=10,50", "slow=20,40"]).unwrap_err();
    let text = err.to_string();
    assert!(err.is_usage_error(), "{text}");
    assert!(text.contains("2 of 4 grid points"), "{text}");
    assert!(text.contains("fast=50 slow=20: "), "{text}");
    assert!(text.contains("fast=50 slow=40: "), "{text}");
    assert!(!text.contains("fast=10 slow=20"), "{text}");
    assert!(!cache.exists(), "nothing was read or run");
    // Valid in either axis order.
    let r = sweep(&["slow=200,100", "fast=50,20"]).unwrap();
    assert_eq!(r.rows.len(), 4);
    assert!(r.rows.iter().all(|row| row.error.is_none()), "{:?}", r.rows);
}

/// Quotes of one built-in market given for another (USD/JPY at 151 for Germany 40, whose
/// typical level is 18,500 and which has no other price scale) are refused before any trade,
/// saying the file looks like another market's; the right instrument runs.
#[test]
fn another_markets_prices_are_refused() {
    use std::fmt::Write as _;
    let d = tempfile::tempdir().unwrap();
    let mut csv = String::from("ts_ms,bid,ask\n");
    for i in 0..50 {
        // A zig-zag around 151.100: the EMAs cross every few quotes.
        let bid = 100 + 10 * (i % 8 - 4i64).abs();
        let (ts, ask) = (T0 + i * 1000, bid + 7);
        writeln!(csv, "{ts},151.{bid:03},151.{ask:03}").unwrap();
    }
    let p = write(d.path(), "usdjpy.csv", &csv);
    let mut o = opts(p, "ema-cross", &["fast=2", "slow=5", "size=1"]);
    o.instrument = scalper_backtest::InstrumentSpec::named("GER40");
    let err = run_backtest(&o).unwrap_err();
    let text = err.to_string();
    assert!(err.is_usage_error(), "{text}");
    assert!(text.contains("first price 151.1435"), "{text}");
    assert!(text.contains("another market"), "{text}");
    o.instrument = scalper_backtest::InstrumentSpec::named("USD_JPY");
    // A yen account (no account currency given) with room for the margin (~503,000 JPY).
    o.initial_equity = dec!(10_000_000);
    assert!(run_backtest(&o).unwrap().metrics.trades > 0);
}

/// Germany 40 quotes (18,500) given as USD/JPY: within ten times of USD/JPY's IG-scaled level
/// (15,120), so the scale check alone would say "use --price-scale ig"; they are refused as
/// Germany 40's instead, naming the instrument to give, in both scales.
#[test]
fn index_prices_given_for_a_currency_pair_name_the_index() {
    use std::fmt::Write as _;
    let d = tempfile::tempdir().unwrap();
    let mut csv = String::from("ts_ms,bid,ask\n");
    for i in 0..50 {
        let bid = 18_500 + 3 * (i % 8 - 4i64).abs();
        writeln!(csv, "{},{bid}.0,{bid}.8", T0 + i * 1000).unwrap();
    }
    let p = write(d.path(), "ger40.csv", &csv);
    for scale in [
        scalper_model::PriceScale::Market,
        scalper_model::PriceScale::Ig,
    ] {
        let mut o = opts(p.clone(), "ema-cross", &["fast=2", "slow=5", "size=1"]);
        o.instrument = scalper_backtest::InstrumentSpec::named("USD_JPY");
        o.instrument.price_scale = scale;
        let text = run_backtest(&o).unwrap_err().to_string();
        assert!(text.contains("looks like Germany 40's"), "{text}");
        assert!(text.contains("--instrument GER40"), "{text}");
        assert!(!text.contains("--price-scale"), "{text}");
    }
    let mut o = opts(p, "ema-cross", &["fast=2", "slow=5", "size=1"]);
    o.instrument = scalper_backtest::InstrumentSpec::named("GER40");
    assert!(run_backtest(&o).is_ok());
}
