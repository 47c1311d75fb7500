//! Risk's margin rule (issue #16): a risk-sized entry is sized down to what the available
//! margin carries; a fixed size, or a minimum deal, that the margin cannot carry is refused
//! with `insufficient_margin`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::field_reassign_with_default
)]

mod common;

use common::{epic, instrument, test_config};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use scalper_engine::{Decision, Entry, Refusal, RiskInput, RiskManager};
use scalper_model::{
    Direction, MarginRules, MarketStatus, Money, Points, Price, Quote, Size, Timestamp,
};

fn decide(available: Decimal, size: Option<Decimal>, stop: Decimal) -> Decision {
    let mut cfg = test_config().risk;
    cfg.max_spread_points = None;
    cfg.risk_per_trade = scalper_engine::RiskPerTrade::Amount(dec!(1000));
    let risk = RiskManager::new(cfg).unwrap();
    let mut inst = instrument();
    inst.rules.max_stop_distance = None;
    // EUR/USD at 3.33%: one contract at 1.1000 is 110,000 USD x 3.33% = 3,663 USD of margin.
    inst.margin = MarginRules::percent(dec!(3.33));
    let q = Quote {
        epic: epic(),
        bid: Price::new(dec!(1.0999)),
        offer: Price::new(dec!(1.1000)),
        ts: Timestamp::from_millis(0),
    };
    let status = MarketStatus::Tradeable;
    let input = RiskInput {
        now: Timestamp::from_millis(0),
        instrument: &inst,
        quote: Some(&q),
        status: &status,
        stream_gap: false,
        halted: None,
        unresolved: None,
        open_total: 0,
        open_instrument: 0,
        trades_today: 0,
        consecutive_losses: 0,
        cooldown_until: None,
        rejected_until: None,
        funds_refused: None,
        blackout: None,
        exposure: None,
        equity: Money::new(dec!(100000)),
        available_margin: Some(Money::new(available)),
        max_spread_points: None,
    };
    let entry = Entry {
        direction: Direction::Buy,
        size: size.map(Size::new),
        stop_distance: Some(Points::new(stop)),
        limit_distance: None,
        trailing_distance: None,
        max_hold_ms: None,
        reason: String::new(),
        stop_kind: scalper_engine::StopKind::Normal,
    };
    risk.check_entry(&input, &entry)
}

#[test]
fn risk_sizing_is_capped_by_margin() {
    // 1,000 risked over a 10-point stop at 10 USD a point: 10 contracts, 36,630 of margin.
    // With 10,000 available: floor(10,000 / 3,663 per contract) at a step of 0.01 = 2.73.
    match decide(dec!(10000), None, dec!(10)) {
        Decision::Approve(a) => assert_eq!(a.size, Size::new(dec!(2.73))),
        Decision::Refuse(r) => panic!("{r:?}"),
    }
    // Plenty of margin: the risk budget decides.
    match decide(dec!(1000000), None, dec!(10)) {
        Decision::Approve(a) => assert_eq!(a.size, Size::new(dec!(10))),
        Decision::Refuse(r) => panic!("{r:?}"),
    }
}

#[test]
fn entries_the_margin_cannot_carry_are_refused() {
    // A fixed size of 3 needs 10,989 USD: not shrunk, refused.
    match decide(dec!(10000), Some(dec!(3)), dec!(10)) {
        Decision::Refuse(Refusal::InsufficientMargin {
            required,
            available,
            currency,
        }) => {
            assert_eq!(currency, "USD");
            assert_eq!(required, Money::new(dec!(10989.00)));
            assert_eq!(available, Money::new(dec!(10000)));
        }
        other => panic!("{other:?}"),
    }
    // Not even the minimum deal (0.5: 1,831.50) fits in 1,000.
    let d = decide(dec!(1000), None, dec!(10));
    assert!(
        matches!(d, Decision::Refuse(ref r) if r.rule() == "insufficient_margin"),
        "{d:?}"
    );
}
