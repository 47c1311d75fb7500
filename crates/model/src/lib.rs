//! Pure domain types for scalper: identifiers, decimal money and prices, instruments and their
//! dealing rules, quotes and candles, and the deal lifecycle. No I/O, no async, no clock reads.

pub mod catalogue;
pub mod deal;
pub mod economics;
pub mod hours;
pub mod ids;
pub mod market;
pub mod num;
pub mod quote;
pub mod reject;
pub mod time;

pub use deal::{DealEvent, DealState, TransitionError};
pub use economics::{
    Amount, EconomicsError, MarginBand, MarginRules, MarketTerms, PriceScale, ProductKind,
};
pub use ids::{AccountId, DealId, DealReference, Epic, IdError};
pub use market::{
    DealingRules, Direction, GuaranteedStopRules, Instrument, MarketStatus, OrderType, StopPremium,
};
pub use num::{normalized, Money, Points, Price, Size};
pub use quote::{Candle, Quote};
pub use reject::RejectReason;
pub use time::Timestamp;

/// An error and its sources, each once, joined with `: ` (how logs, alerts and the Python
/// package show a failure: `logging in: IG refused the username or password (...)`).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let t = inner.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        source = inner.source();
    }
    s
}
