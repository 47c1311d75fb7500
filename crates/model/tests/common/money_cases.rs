//! The hand-computed money table of issue #16, shared (by `#[path]`) by the model's test, the
//! backtest and paper (sim broker) test and the sandbox ledger test: each path must book
//! exactly these amounts. Prices are market prices (the sandbox multiplies them by IG's
//! scaling factor: EUR/USD 1.08120 is its 10812.0). Rates are the built-in fixed rates
//! (`DEFAULT_GBP_RATES`: 0.79 GBP per USD, 0.85 per EUR, 0.0053 per JPY).

#![allow(dead_code)]

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use scalper_model::Direction;

/// One trade and the P&L every path must book.
pub struct MoneyCase {
    pub name: &'static str,
    /// Epic (CFD or spread bet) of a built-in market.
    pub epic: &'static str,
    pub account: &'static str,
    pub direction: Direction,
    pub size: Decimal,
    pub entry: Decimal,
    pub exit: Decimal,
    /// One point in market prices (for building quotes around entry and exit).
    pub point: Decimal,
    /// P&L in the instrument's currency, exact.
    pub pnl_instrument: Decimal,
    /// P&L in the account currency, rounded to its minor unit.
    pub pnl_account: Decimal,
}

pub const CASES: &[MoneyCase] = &[
    // EUR/USD CFD on a GBP account. BUY 1 at 1.08120, sold at 1.08370:
    // (1.08370 - 1.08120) / 0.0001 = +25 points; a contract is 100,000 EUR, so a point is
    // 100,000 x 0.0001 = 10 USD: 25 x 10 x 1 = +250 USD; x 0.79 GBP/USD = +197.50 GBP.
    MoneyCase {
        name: "EUR/USD CFD, GBP account",
        epic: "CS.D.EURUSD.CFD.IP",
        account: "GBP",
        direction: Direction::Buy,
        size: dec!(1),
        entry: dec!(1.08120),
        exit: dec!(1.08370),
        point: dec!(0.0001),
        pnl_instrument: dec!(250),
        pnl_account: dec!(197.50),
    },
    // USD/JPY CFD (the trade), GBP account. BUY 1 at 151.107, sold at 151.096:
    // (151.096 - 151.107) / 0.01 = -1.1 points; a point is 100,000 USD x 0.01 = 1,000 JPY:
    // -1.1 x 1,000 x 1 = -1,100 JPY; x 0.0053 GBP/JPY = -5.83 GBP.
    MoneyCase {
        name: "USD/JPY CFD, GBP account",
        epic: "CS.D.USDJPY.CFD.IP",
        account: "GBP",
        direction: Direction::Buy,
        size: dec!(1),
        entry: dec!(151.107),
        exit: dec!(151.096),
        point: dec!(0.01),
        pnl_instrument: dec!(-1100),
        pnl_account: dec!(-5.83),
    },
    // USD/JPY CFD on a JPY account: the same -1,100 JPY, booked in whole yen.
    MoneyCase {
        name: "USD/JPY CFD, JPY account",
        epic: "CS.D.USDJPY.CFD.IP",
        account: "JPY",
        direction: Direction::Buy,
        size: dec!(1),
        entry: dec!(151.107),
        exit: dec!(151.096),
        point: dec!(0.01),
        pnl_instrument: dec!(-1100),
        pnl_account: dec!(-1100),
    },
    // EUR/GBP CFD, GBP account. SELL 2 at 0.85100, bought back at 0.85030:
    // (0.85030 - 0.85100) x -1 / 0.0001 = +7 points; a point is 100,000 x 0.0001 = 10 GBP:
    // 7 x 10 x 2 = +140 GBP (already the account currency).
    MoneyCase {
        name: "EUR/GBP CFD, GBP account",
        epic: "CS.D.EURGBP.CFD.IP",
        account: "GBP",
        direction: Direction::Sell,
        size: dec!(2),
        entry: dec!(0.85100),
        exit: dec!(0.85030),
        point: dec!(0.0001),
        pnl_instrument: dec!(140),
        pnl_account: dec!(140.00),
    },
    // Germany 40 CFD (EUR 1 per point), GBP account. BUY 2 at 18500.0, sold at 18462.5:
    // 18462.5 - 18500.0 = -37.5 points x 1 EUR x 2 = -75 EUR; x 0.85 GBP/EUR = -63.75 GBP.
    MoneyCase {
        name: "Germany 40 CFD, GBP account",
        epic: "IX.D.DAX.IFMM.IP",
        account: "GBP",
        direction: Direction::Buy,
        size: dec!(2),
        entry: dec!(18500.0),
        exit: dec!(18462.5),
        point: dec!(1),
        pnl_instrument: dec!(-75),
        pnl_account: dec!(-63.75),
    },
    // Spot Gold CFD (100 oz, a point is 1 USD an ounce = 100 USD per contract), GBP account.
    // BUY 0.5 at 2350.0, sold at 2353.7: +3.7 points x 100 USD x 0.5 = +185 USD;
    // x 0.79 GBP/USD = +146.15 GBP.
    MoneyCase {
        name: "Spot Gold CFD, GBP account",
        epic: "CS.D.CFDGOLD.CFDGC.IP",
        account: "GBP",
        direction: Direction::Buy,
        size: dec!(0.5),
        entry: dec!(2350.0),
        exit: dec!(2353.7),
        point: dec!(1),
        pnl_instrument: dec!(185),
        pnl_account: dec!(146.15),
    },
    // GBP/USD spread bet at 2 GBP per point, GBP account. SELL 2 at 1.27050, bought back at
    // 1.26925: (1.26925 - 1.27050) x -1 / 0.0001 = +12.5 points x 2 GBP = +25.00 GBP.
    MoneyCase {
        name: "GBP/USD spread bet (GBP per point)",
        epic: "CS.D.GBPUSD.TODAY.IP",
        account: "GBP",
        direction: Direction::Sell,
        size: dec!(2),
        entry: dec!(1.27050),
        exit: dec!(1.26925),
        point: dec!(0.0001),
        pnl_instrument: dec!(25),
        pnl_account: dec!(25.00),
    },
];
