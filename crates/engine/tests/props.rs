//! Property tests for the P&L and position arithmetic: realised P&L, win/loss counts, drawdown
//! and equity agree with an independent computation for any trade sequence; risk sizing never
//! risks more than the budget and respects IG's size rules; a round trip at one quote costs
//! exactly the spread.

#![allow(
    clippy::unwrap_used,
    clippy::many_single_char_names,
    clippy::field_reassign_with_default,
    clippy::needless_pass_by_value,
    clippy::cast_possible_wrap
)]

mod common;

use common::*;
use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use scalper_engine::{
    Action, BrokerCommand, CloseCause, Decision, EngineInit, Entry, Intent, RiskInput, RiskManager,
    RiskPerTrade, SimBroker, SimConfig,
};
use scalper_model::{Direction, MarketStatus, Money, Points, Quote};

fn price_strategy() -> impl Strategy<Value = Decimal> {
    (10_000i64..13_000).prop_map(|p| Decimal::new(p, 4))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn summary_matches_independent_bookkeeping(
        trades in prop::collection::vec((any::<bool>(), price_strategy(), price_strategy(), 1u32..=40), 1..25)
    ) {
        let mut cfg = test_config();
        cfg.risk.max_trades_per_day = 10_000;
        cfg.risk.cooldown_after_losses = 0;
        cfg.risk.daily_loss_limit = None;
        cfg.risk.max_spread_points = None;
        let mut h = Harness::build(cfg, EngineInit::default(), false);
        let inst = instrument();
        let (mut sum, mut peak, mut max_dd) = (Money::ZERO, Money::ZERO, Money::ZERO);
        let (mut wins, mut losses) = (0u64, 0u64);
        for (i, (long, entry, exit, sz)) in trades.iter().enumerate() {
            let dir = if *long { Direction::Buy } else { Direction::Sell };
            let sz = Decimal::new(i64::from(*sz), 1) + dec!(0.5); // 0.6 .. 4.5
            let t = i as i64 * 1000;
            let n = i as u64 + 1;
            let fixed = Intent::Enter(Entry {
                direction: dir,
                size: Some(size(sz)),
                stop_distance: None,
                limit_distance: None,
                trailing_distance: None,
                max_hold_ms: None,
                reason: "prop".into(),
                stop_kind: scalper_engine::StopKind::Normal,
            });
            let a = h.quote_with(t, *entry, *entry, vec![fixed]);
            prop_assert!(matches!(a.as_slice(), [Action::Broker(BrokerCommand::Open(_))]), "{:?}", a);
            h.send(accepted(n, n as u32, *entry, sz, t + 1));
            let a = h.send(closed(n as u32, *exit, CloseCause::Manual, t + 2));
            let Action::TradeClosed(c) = &a[0] else { panic!("{a:?}") };
            let expected = inst.pnl(dir, size(sz), p(*entry), p(*exit));
            prop_assert_eq!(c.pnl, expected);
            // Long and short P&L are mirror images.
            prop_assert_eq!(inst.pnl(dir.opposite(), size(sz), p(*entry), p(*exit)), -expected);
            sum += expected;
            if sum > peak { peak = sum; }
            if peak - sum > max_dd { max_dd = peak - sum; }
            if expected > Money::ZERO { wins += 1 } else if expected < Money::ZERO { losses += 1 }
        }
        let s = h.engine.summary();
        prop_assert_eq!(s.trades, trades.len() as u64);
        prop_assert_eq!(s.pnl, sum);
        prop_assert_eq!(s.max_drawdown, max_dd);
        prop_assert!(s.max_drawdown >= Money::ZERO);
        prop_assert_eq!((s.wins, s.losses), (wins, losses));
        prop_assert_eq!(s.equity, Money::new(dec!(10000)) + sum);
        prop_assert_eq!(s.open_positions, 0);
    }

    #[test]
    fn sizing_never_exceeds_the_budget(
        stop in 1i64..3000, budget in 1i64..100_000, equity in 1_000i64..1_000_000, percent in any::<bool>()
    ) {
        let mut cfg = test_config().risk;
        cfg.risk_per_trade = if percent {
            RiskPerTrade::Percent(Decimal::new(budget % 500 + 1, 2))
        } else {
            RiskPerTrade::Amount(Decimal::new(budget, 1))
        };
        cfg.max_spread_points = None;
        let risk = RiskManager::new(cfg.clone()).unwrap();
        let mut inst = instrument();
        inst.rules.max_stop_distance = None;
        let q = Quote { epic: epic(), bid: p(dec!(1.1)), offer: p(dec!(1.1001)), ts: ts(0) };
        let status = MarketStatus::Tradeable;
        let input = RiskInput {
            now: ts(0), instrument: &inst, quote: Some(&q), status: &status, stream_gap: false,
            halted: None, unresolved: None, open_total: 0, open_instrument: 0, trades_today: 0,
            consecutive_losses: 0, cooldown_until: None, rejected_until: None, funds_refused: None, blackout: None, exposure: None, equity: Money::new(Decimal::from(equity)), available_margin: None,
            max_spread_points: None,
        };
        let entry = Entry {
            direction: Direction::Buy, size: None, stop_distance: Some(Points::new(Decimal::new(stop, 1))),
            limit_distance: None, trailing_distance: None, max_hold_ms: None, reason: String::new(),
            stop_kind: scalper_engine::StopKind::Normal,
        };
        let budget_money = match cfg.risk_per_trade {
            RiskPerTrade::Percent(pc) => Decimal::from(equity) * pc / dec!(100),
            RiskPerTrade::Amount(a) => a,
        };
        match risk.check_entry(&input, &entry) {
            Decision::Approve(a) => {
                let stop = a.stop_distance.unwrap();
                prop_assert!(stop >= inst.rules.min_stop_distance);
                prop_assert!(a.size >= inst.rules.min_deal_size);
                prop_assert!((a.size.value() / inst.rules.size_step).fract().is_zero());
                let at_risk = stop.money(a.size, inst.value_per_point);
                prop_assert!(at_risk.value() <= budget_money, "{} > {}", at_risk, budget_money);
                // One more step would exceed the budget.
                let bigger = scalper_model::Size::new(a.size.value() + inst.rules.size_step);
                prop_assert!(stop.money(bigger, inst.value_per_point).value() > budget_money);
            }
            Decision::Refuse(r) => {
                let stop = Points::new(Decimal::new(stop, 1)).max(inst.rules.min_stop_distance);
                let min_cost = stop.money(inst.rules.min_deal_size, inst.value_per_point);
                prop_assert!(min_cost.value() > budget_money, "refused {:?} though {} fits {}", r, min_cost, budget_money);
            }
        }
    }

    #[test]
    fn a_round_trip_on_one_quote_costs_the_spread(
        mid in 10_000i64..13_000, spread in 0i64..20, sz in 5i64..500, long in any::<bool>()
    ) {
        let mut b = SimBroker::new(SimConfig { latency_ms: Some(0), ..SimConfig::default() }, vec![instrument()]);
        let bid = Decimal::new(mid, 4);
        let offer = bid + Decimal::new(spread, 5);
        b.on_quote(&Quote { epic: epic(), bid: p(bid), offer: p(offer), ts: ts(0) });
        let dir = if long { Direction::Buy } else { Direction::Sell };
        let sz = size(Decimal::new(sz, 2).max(dec!(0.5)));
        let ev = b.submit(BrokerCommand::Open(scalper_engine::OpenOrder {
            deal_ref: r(1), epic: epic(), direction: dir, size: sz, stop_distance: None,
            limit_distance: None, currency: "USD".into(), expiry: "-".into(),
            stop_kind: scalper_engine::StopKind::Normal,
        }));
        let scalper_engine::BrokerEvent::Accepted { deal_id, .. } = &ev[0] else { panic!("{ev:?}") };
        let ev = b.submit(BrokerCommand::Close(scalper_engine::CloseOrder {
            deal_ref: r(2), deal_id: deal_id.clone(), epic: epic(), direction: dir.opposite(), size: sz, expiry: "-".into(),
        }));
        let scalper_engine::BrokerEvent::PositionClosed { pnl: Some(pnl), .. } = &ev[0] else { panic!("{ev:?}") };
        let inst = instrument();
        prop_assert_eq!(*pnl, -inst.to_points(offer - bid).money(sz, inst.value_per_point));
    }
}

#[test]
fn events_and_actions_round_trip_through_json() {
    use scalper_engine::{Command, EngineEvent, HaltReason, LogLevel, Refusal};
    let events = vec![
        quote(0, dec!(1.1), dec!(1.1001)),
        timer(5),
        accepted(1, 1, dec!(1.1), dec!(1), 5),
        closed(1, dec!(1.2), CloseCause::Stop, 6),
        EngineEvent::Command(Command::Halt {
            close_positions: Some(true),
        }),
        EngineEvent::StreamGap {
            epic: None,
            at: ts(1),
        },
        EngineEvent::MarketStatus {
            epic: epic(),
            status: MarketStatus::Other("NEW".into()),
            at: ts(2),
        },
    ];
    for e in events {
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(
            serde_json::from_str::<EngineEvent>(&json).unwrap(),
            e,
            "{json}"
        );
    }
    let actions = vec![
        Action::Broker(BrokerCommand::Resolve {
            deal_ref: r(1),
            epic: epic(),
        }),
        Action::Refused {
            epic: epic(),
            direction: Some(Direction::Buy),
            reason: Refusal::StaleQuote {
                age_ms: 6,
                max_ms: 5,
            },
        },
        Action::Log {
            level: LogLevel::Error,
            epic: None,
            message: "x".into(),
        },
        Action::Halted {
            reason: HaltReason::KillSwitch,
        },
        Action::NothingLeftToManage {
            reason: HaltReason::BrokerFailure,
        },
    ];
    for a in actions {
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<Action>(&json).unwrap(), a, "{json}");
    }
    let json = serde_json::to_string(&Action::Broker(BrokerCommand::Resolve {
        deal_ref: r(1),
        epic: epic(),
    }))
    .unwrap();
    assert!(
        json.starts_with(r#"{"action":"broker","type":"resolve""#),
        "{json}"
    );
}
