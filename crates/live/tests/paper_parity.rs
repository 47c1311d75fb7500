//! Paper trading in the live runtime and a backtest order events through the same driver: the
//! same events give the same actions. Before the driver was shared, only the backtest told the
//! simulated market about status changes, so `run --paper` filled a close on a closed market
//! that a backtest refuses.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use scalper_engine::{
    sim, Action, Command, Driver, Engine, EngineConfig, EngineEvent, EngineInit, SimBroker,
    SimConfig, StrategyConfig,
};
use scalper_live::{LiveVenue, QuoteClock};
use scalper_model::{
    DealState, DealingRules, Epic, Instrument, MarketStatus, Points, Price, Quote, Size, Timestamp,
};

/// 2024-01-02 08:00:00 UTC.
const T0: i64 = 1_704_182_400_000;

fn epic() -> Epic {
    Epic::new("CS.D.EURUSD.CFD.IP").unwrap()
}

fn instrument() -> Instrument {
    Instrument {
        epic: epic(),
        name: "EUR/USD".into(),
        point_size: dec!(0.0001),
        value_per_point: dec!(10),
        currency: "USD".into(),
        account_currency: String::new(),
        account_rate: Decimal::ONE,
        expiry: "-".into(),
        rules: DealingRules {
            min_deal_size: Size::new(dec!(0.5)),
            size_step: dec!(0.01),
            min_stop_distance: Points::new(dec!(2)),
            max_stop_distance: Some(Points::new(dec!(500))),
            guaranteed_stop: None,
            trailing_stops: false,
            min_trailing_step: None,
        },
        kind: scalper_model::ProductKind::Cfd,
        contract_size: Some(dec!(100000)),
        margin: scalper_model::MarginRules::default(),
    }
}

fn config() -> EngineConfig {
    let mut cfg = EngineConfig {
        seed: 9,
        strategy: StrategyConfig::from_name("ema-cross").unwrap(),
        ..EngineConfig::default()
    };
    if let StrategyConfig::EmaCross(c) = &mut cfg.strategy {
        c.fast = 2;
        c.slow = 4;
        c.size = Decimal::ONE;
    }
    cfg.risk.cooldown_after_losses = 0;
    cfg
}

fn quote(i: i64) -> EngineEvent {
    // A zig-zag around 1.1000 with a 1-point spread: the 2/4 EMAs cross every few quotes.
    let step = [0, 3, 6, 9, 6, 3, 0, -3, -6, -9, -6, -3][(i % 12) as usize];
    let bid = dec!(1.1000) + Decimal::new(step, 4);
    EngineEvent::Quote(Quote {
        epic: epic(),
        bid: Price::new(bid),
        offer: Price::new(bid + dec!(0.0001)),
        ts: Timestamp::from_millis(T0 + i * 1_000),
    })
}

fn status(i: i64, status: MarketStatus) -> EngineEvent {
    EngineEvent::MarketStatus {
        epic: epic(),
        status,
        at: Timestamp::from_millis(T0 + i * 1_000 + 500),
    }
}

/// Quotes that open a position, the market closing, a close-everything command while it is
/// closed, more quotes and timers, and the market reopening.
fn events() -> Vec<EngineEvent> {
    let mut out: Vec<EngineEvent> = (0..20).map(quote).collect();
    out.push(status(20, MarketStatus::Closed));
    out.push(EngineEvent::Command(Command::CloseAll));
    for i in 21..25 {
        out.push(EngineEvent::Timer(Timestamp::from_millis(T0 + i * 1_000)));
    }
    out.push(status(25, MarketStatus::Tradeable));
    out.extend((26..40).map(quote));
    out.push(EngineEvent::Command(Command::CloseAll));
    out.extend((40..44).map(quote));
    out
}

#[test]
fn paper_in_the_live_runtime_acts_exactly_like_the_backtest() {
    let instruments = vec![instrument()];
    let init = EngineInit::default();
    let events = events();

    let mut backtest = Engine::new(config(), instruments.clone(), init.clone()).unwrap();
    let mut sim_broker = SimBroker::new(SimConfig::default(), instruments.clone());
    let mut live = Engine::new(config(), instruments.clone(), init).unwrap();
    let mut venue = LiveVenue::paper(
        SimConfig::default(),
        None,
        QuoteClock::default(),
        instruments,
    );
    let mut driver = Driver::new();

    let mut open_while_closed = None;
    for (n, ev) in events.into_iter().enumerate() {
        let mut expected: Vec<Action> = Vec::new();
        sim::step(&mut backtest, &mut sim_broker, ev.clone(), &mut expected);
        let mut got: Vec<Action> = Vec::new();
        driver.step(&mut live, &mut venue, ev.clone(), &mut got);
        assert_eq!(got, expected, "event #{n}: {ev:?}");
        if matches!(ev, EngineEvent::Command(Command::CloseAll)) && open_while_closed.is_none() {
            open_while_closed = Some(
                live.trades()
                    .iter()
                    .filter(|t| t.state == DealState::Open)
                    .count(),
            );
        }
    }
    // The close sent while the market was closed was refused in both: the position stayed open.
    assert_eq!(
        open_while_closed,
        Some(1),
        "no position was open at the closed-market close"
    );
    assert!(live.summary().trades > 1, "{:?}", live.summary());
    assert_eq!(live.summary(), backtest.summary());
}

/// IG's 50% margin close-out on a paper account, exactly as a backtest applies it: a 1-lot
/// EUR/USD long on a 4,000 USD account (margin 3.33% of 110,000 = 3,663 USD) meets a
/// 250-point gap down (-2,500 USD: equity 1,500, below half the margin, 1,831.50); the paper
/// venue closes everything in the same second as the backtest, and both book the same trades.
#[test]
fn paper_closes_out_at_half_the_margin_like_the_backtest() {
    use std::fmt::Write as _;

    use scalper_backtest::{
        run_backtest, AccountConversion, BacktestOptions, CacheMode, DataOptions, InstrumentSpec,
    };

    let account = AccountConversion {
        currency: "USD".into(),
        rate: None,
    };
    let spec = InstrumentSpec::named("EUR_USD");
    let inst = spec.resolve_for(Some(&account)).unwrap();
    assert!(!inst.margin.is_none());
    // Flat, then rising (the first signal is a long, held while the market rises), then the
    // gap and a flat market.
    let mut quotes: Vec<(i64, Decimal)> = (0..12)
        .map(|i| {
            let step = (i - 3).max(0) * 3;
            (T0 + i * 1_000, dec!(1.1000) + Decimal::new(step, 4))
        })
        .collect();
    quotes.extend((12..30).map(|i| (T0 + i * 1_000, dec!(1.0750))));
    let mut cfg = config();
    cfg.risk.max_spread_points = None;
    let init = EngineInit {
        equity: scalper_model::Money::new(dec!(4000)),
        ..EngineInit::default()
    };

    // The backtest, from a CSV of the same quotes.
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("ts_ms,bid,ask\n");
    for (ts, bid) in &quotes {
        writeln!(csv, "{ts},{bid},{}", bid + dec!(0.0001)).unwrap();
    }
    let path = dir.path().join("gap.csv");
    std::fs::write(&path, csv).unwrap();
    let report = run_backtest(&BacktestOptions {
        data: vec![path],
        instrument: spec,
        account: Some(account),
        config: Some(cfg.clone()),
        initial_equity: dec!(4000),
        timer_ms: None,
        data_options: DataOptions {
            cache: CacheMode::Off,
            bar_period_ms: None,
        },
        keep_trades: true,
        ..BacktestOptions::default()
    })
    .unwrap();
    assert_eq!(report.margin_closeouts, 1, "{report:#?}");

    // Paper in the live runtime: the same quotes through the live venue.
    let mut live = Engine::new(cfg, vec![inst.clone()], init).unwrap();
    let mut venue = LiveVenue::paper(
        SimConfig::default(),
        None,
        QuoteClock::default(),
        vec![inst],
    );
    let mut driver = Driver::new();
    let mut closed_out_at = Vec::new();
    for (ts, bid) in &quotes {
        let q = Quote {
            epic: epic(),
            bid: Price::new(*bid),
            offer: Price::new(bid + dec!(0.0001)),
            ts: Timestamp::from_millis(*ts),
        };
        let mut out = Vec::new();
        if venue.drive_quote(&mut driver, &mut live, q, &mut out) {
            closed_out_at.push(*ts);
        }
    }
    assert_eq!(venue.margin_closeouts(), 1);
    assert_eq!(closed_out_at.len(), 1, "one close-out: {closed_out_at:?}");
    // Everything was closed, at a loss near the gap, and the account never went below zero.
    let s = live.summary();
    assert_eq!(s.open_positions, 0, "{s:?}");
    assert!(
        s.pnl.value() < dec!(-2000) && s.pnl.value() > dec!(-4000),
        "{s:?}"
    );
    // The same trades and P&L as the backtest.
    assert_eq!(
        s.trades, report.metrics.trades,
        "{s:?} vs {:?}",
        report.metrics
    );
    assert_eq!(
        s.pnl, report.metrics.net_pnl,
        "{s:?} vs {:?}",
        report.metrics
    );
    let last = report.trades.last().unwrap();
    assert_eq!(
        last.exit_time.millis(),
        closed_out_at[0] + 1_000,
        "closed at the quote after the close-out: {last:?}"
    );
}
