//! The hand-computed money table of issue #16 through the backtest (a full run on quotes) and
//! the paper broker (the sim broker fed the same quotes directly): both must book exactly the
//! amounts written out in `money_cases.rs`. The sandbox ledger checks the same table in
//! `scalper-sandbox` (`dealing::tests`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::many_single_char_names
)]

#[path = "../../model/tests/common/money_cases.rs"]
mod money_cases;

use money_cases::{MoneyCase, CASES};
use rust_decimal::Decimal;
use scalper_backtest::{
    run_backtest, AccountConversion, BacktestOptions, CacheMode, DataOptions, InstrumentSpec,
};
use scalper_engine::{BrokerCommand, BrokerEvent, CloseOrder, OpenOrder, SimBroker, SimConfig};
use scalper_model::{DealReference, Direction, Epic, Money, Price, Quote, Size, Timestamp};

const T0: i64 = 1_704_182_400_000;

/// Quotes that make ema-cross (fast=1, slow=2) enter `c.direction` at q2 at `c.entry` and
/// leave at q4 at `c.exit`: the signal at q1 fills at q2's offer (bid for a sell); the
/// opposite signal at q3 closes at q4's bid (offer).
fn quotes(c: &MoneyCase) -> Vec<(Decimal, Decimal)> {
    let s = c.point; // one point of spread
    let d = c.point * Decimal::from(5);
    let sign = c.direction.sign();
    let mid = |m: Decimal| (m - s / Decimal::TWO, m + s / Decimal::TWO);
    let (e, x) = (c.entry, c.exit);
    let q2 = match c.direction {
        Direction::Buy => (e - s, e),
        Direction::Sell => (e, e + s),
    };
    let q4 = match c.direction {
        Direction::Buy => (x, x + s),
        Direction::Sell => (x - s, x),
    };
    vec![
        mid(e - sign * d * Decimal::TWO),
        mid(e - sign * d),
        q2,
        mid(e - sign * d * Decimal::TEN),
        q4,
        q4,
    ]
}

fn backtest_pnl(c: &MoneyCase, dir: &std::path::Path) -> Money {
    let rows: Vec<String> = (T0..)
        .step_by(1000)
        .zip(quotes(c))
        .map(|(ts, (b, a))| format!("{ts},{b},{a}\n"))
        .collect();
    let csv = format!("ts_ms,bid,ask\n{}", rows.concat());
    let path = dir.join(format!("{}.csv", c.epic));
    std::fs::write(&path, csv).unwrap();
    let opts = BacktestOptions {
        data: vec![path],
        instrument: InstrumentSpec::named(c.epic),
        account: Some(AccountConversion {
            currency: c.account.to_string(),
            rate: None,
        }),
        strategy: Some("ema-cross".into()),
        set: vec!["fast=1".into(), "slow=2".into(), format!("size={}", c.size)],
        data_options: DataOptions {
            cache: CacheMode::Off,
            bar_period_ms: None,
        },
        keep_trades: true,
        // Enough for the margin of every case (USD/JPY on a JPY account needs ~503,000 JPY).
        initial_equity: Decimal::from(10_000_000),
        ..BacktestOptions::default()
    };
    let r = run_backtest(&opts).unwrap();
    assert_eq!(r.currency, c.account, "{}", c.name);
    let t = r
        .trades
        .first()
        .unwrap_or_else(|| panic!("{}: no trade", c.name));
    assert_eq!(t.direction, c.direction, "{}", c.name);
    assert_eq!(t.size, Size::new(c.size), "{}", c.name);
    assert_eq!(t.entry_price, Price::new(c.entry.normalize()), "{}", c.name);
    assert_eq!(t.exit_price, Price::new(c.exit.normalize()), "{}", c.name);
    // Every trade carries the account currency, its amounts written with that currency's
    // decimals (`-1100` JPY, `-5.83` GBP, `0.00`).
    assert_eq!(t.currency, c.account, "{}", c.name);
    let dp = scalper_model::economics::currency_decimals(c.account);
    for (what, m) in [
        ("pnl", t.pnl),
        ("commission", t.commission),
        ("funding", t.funding),
    ] {
        assert_eq!(m.value().scale(), dp, "{}: {what} {}", c.name, m.value());
    }
    let json = serde_json::to_value(t).unwrap();
    assert_eq!(json["currency"], c.account, "{}", c.name);
    assert_eq!(
        json["pnl"],
        format!("{:.*}", dp as usize, c.pnl_account),
        "{}",
        c.name
    );
    t.pnl
}

fn paper_pnl(c: &MoneyCase) -> Money {
    let inst = InstrumentSpec::named(c.epic)
        .resolve_for(Some(&AccountConversion {
            currency: c.account.to_string(),
            rate: None,
        }))
        .unwrap();
    let epic = Epic::new(c.epic).unwrap();
    let mut b = SimBroker::new(
        SimConfig {
            latency_ms: Some(0),
            ..SimConfig::default()
        },
        vec![inst],
    );
    let q = |(bid, offer): (Decimal, Decimal), ms: i64| Quote {
        epic: epic.clone(),
        bid: Price::new(bid),
        offer: Price::new(offer),
        ts: Timestamp::from_millis(T0 + ms),
    };
    let qs = quotes(c);
    b.on_quote(&q(qs[2], 0));
    let opened = b.submit(BrokerCommand::Open(OpenOrder {
        deal_ref: DealReference::new("MONEY-1").unwrap(),
        epic: epic.clone(),
        direction: c.direction,
        size: Size::new(c.size),
        stop_distance: None,
        limit_distance: None,
        currency: c.account.into(),
        expiry: "-".into(),
        stop_kind: scalper_engine::StopKind::Normal,
    }));
    let Some(BrokerEvent::Accepted { deal_id, level, .. }) = opened.first() else {
        panic!("{}: not opened: {opened:?}", c.name);
    };
    assert_eq!(*level, Price::new(c.entry), "{}", c.name);
    b.on_quote(&q(qs[4], 1000));
    let closed = b.submit(BrokerCommand::Close(CloseOrder {
        deal_ref: DealReference::new("MONEY-2").unwrap(),
        deal_id: deal_id.clone(),
        epic: epic.clone(),
        direction: c.direction.opposite(),
        size: Size::new(c.size),
        expiry: "-".into(),
    }));
    match closed.first() {
        Some(BrokerEvent::PositionClosed {
            pnl: Some(pnl),
            level,
            ..
        }) => {
            assert_eq!(*level, Price::new(c.exit), "{}", c.name);
            *pnl
        }
        other => panic!("{}: not closed: {other:?}", c.name),
    }
}

/// An IG-scaled EUR/USD file (10812.3) given as market prices is refused, naming the flag;
/// with `price_scale = ig` it runs, and books the same money as market prices.
#[test]
fn ig_scaled_data_is_refused_unless_declared() {
    let dir = tempfile::tempdir().unwrap();
    let c = &CASES[0];
    let scaled = MoneyCase {
        entry: c.entry * Decimal::from(10_000),
        exit: c.exit * Decimal::from(10_000),
        point: Decimal::ONE,
        ..*c
    };
    let rows: Vec<String> = (T0..)
        .step_by(1000)
        .zip(quotes(&scaled))
        .map(|(ts, (b, a))| format!("{ts},{b},{a}\n"))
        .collect();
    let path = dir.path().join("scaled.csv");
    std::fs::write(&path, format!("ts_ms,bid,ask\n{}", rows.concat())).unwrap();
    let mut opts = BacktestOptions {
        data: vec![path],
        instrument: InstrumentSpec::named(c.epic),
        account: Some(AccountConversion {
            currency: c.account.to_string(),
            rate: None,
        }),
        strategy: Some("ema-cross".into()),
        set: vec!["fast=1".into(), "slow=2".into(), format!("size={}", c.size)],
        data_options: DataOptions {
            cache: CacheMode::Off,
            bar_period_ms: None,
        },
        keep_trades: true,
        ..BacktestOptions::default()
    };
    let err = run_backtest(&opts).unwrap_err().to_string();
    assert!(err.contains("--price-scale ig"), "{err}");
    opts.instrument.price_scale = scalper_model::PriceScale::Ig;
    let r = run_backtest(&opts).unwrap();
    assert_eq!(r.trades[0].pnl, Money::new(c.pnl_account));
}

#[test]
fn backtest_and_paper_book_the_hand_computed_pnl() {
    let dir = tempfile::tempdir().unwrap();
    for c in CASES {
        let want = Money::new(c.pnl_account);
        assert_eq!(backtest_pnl(c, dir.path()), want, "backtest: {}", c.name);
        assert_eq!(paper_pnl(c), want, "paper: {}", c.name);
    }
}
