//! The hand-computed money table against the model's one P&L function.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/money_cases.rs"]
mod money_cases;

use money_cases::CASES;
use scalper_model::catalogue::by_epic;
use scalper_model::{Epic, Money, Price, PriceScale, Size};

#[test]
fn hand_computed_pnl_in_both_price_scales() {
    for c in CASES {
        let epic = Epic::new(c.epic).unwrap();
        let (spec, kind) = by_epic(&epic).unwrap();
        for scale in [PriceScale::Market, PriceScale::Ig] {
            let inst = spec.instrument(kind, scale, c.account, None).unwrap();
            let k = match scale {
                PriceScale::Market => rust_decimal::Decimal::ONE,
                PriceScale::Ig => spec.scaling_factor,
            };
            let (entry, exit) = (Price::new(c.entry * k), Price::new(c.exit * k));
            let size = Size::new(c.size);
            if kind == scalper_model::ProductKind::Cfd {
                assert_eq!(
                    inst.pnl_in_currency(c.direction, size, entry, exit),
                    Money::new(c.pnl_instrument),
                    "{} {scale:?}",
                    c.name
                );
            }
            assert_eq!(
                inst.pnl(c.direction, size, entry, exit),
                Money::new(c.pnl_account),
                "{} {scale:?}",
                c.name
            );
        }
    }
}
