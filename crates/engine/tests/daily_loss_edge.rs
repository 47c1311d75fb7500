//! The daily loss limit at its exact edge. The engine skips the exact decimal valuation of
//! open positions on quotes where an f64 estimate says the limit is far away; this checks
//! that the shortcut never changes a decision: a quote that takes the day's P&L (realised plus
//! open) to `-limit` or below halts trading on that very quote, one a cent short does not.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::field_reassign_with_default,
    dead_code
)]

mod common;

use common::*;
use proptest::prelude::*;
use rust_decimal::Decimal;
use scalper_engine::{EngineInit, HaltReason, RestoredPosition};
use scalper_model::{DealReference, Direction, Money};

fn position(direction: Direction, size: Decimal, level: Decimal) -> RestoredPosition {
    RestoredPosition {
        epic: epic(),
        direction,
        size: scalper_model::Size::new(size),
        deal_reference: DealReference::new("EDGE-1").unwrap(),
        deal_id: did(1),
        level: p(level),
        opened_at: Some(ts(-60_000)),
        stop_level: None,
        limit_level: None,
        adopted: false,
        trade_id: None,
        stop_kind: scalper_engine::StopKind::Normal,
        premium_points: None,
        partial_pnl: scalper_model::Money::ZERO,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("SCALPER_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
    ))]

    #[test]
    fn a_quote_reaching_the_limit_halts_on_that_quote(
        buy in any::<bool>(),
        size_tenths in 1i64..500,
        entry_points in 9_000i64..14_000,
        // An adverse move, in tenths of a point.
        adverse_tenths in 1i64..3_000,
        limit_cents in 1i64..100_000,
        // The day's P&L ends this many cents from `-limit` (0: exactly on it).
        edge_cents in -2i64..=2,
    ) {
        let direction = if buy { Direction::Buy } else { Direction::Sell };
        let size = Decimal::new(size_tenths, 1);
        let entry = Decimal::new(entry_points, 4);
        let adverse = Decimal::new(adverse_tenths, 5);
        let exit = if buy { entry - adverse } else { entry + adverse };
        let inst = instrument();
        let open_pnl = inst.pnl(direction, scalper_model::Size::new(size), p(entry), p(exit));
        let limit = Decimal::new(limit_cents, 2);
        // Realised so far: what puts day + open at `-limit + edge` on the second quote.
        let day = Money::new(-limit - open_pnl.value() + Decimal::new(edge_cents, 2));
        let total = day + open_pnl;

        let mut cfg = test_config();
        cfg.risk.daily_loss_limit = Some(limit);
        let init = EngineInit {
            positions: vec![position(direction, size, entry)],
            day_realised_pnl: day,
            ..EngineInit::default()
        };
        let mut h = Harness::build(cfg, init, false);
        // At the entry price the open P&L is zero and the day is above the limit (the open
        // loss is at least 10 cents, more than the edge).
        h.send(quote(0, entry, entry));
        prop_assert_eq!(h.engine.halted(), None);
        // Longs are valued at the bid, shorts at the offer: both at `exit`.
        h.send(quote(100, exit, exit));
        let halted = h.engine.halted() == Some(HaltReason::DailyLossLimit);
        prop_assert_eq!(
            halted,
            total <= Money::new(-limit),
            "day {} open {} limit {}",
            day,
            open_pnl,
            limit
        );
        prop_assert_eq!(halted, edge_cents <= 0);
    }
}
