//! Why a broker refused a deal, in scalper's terms. A closed set of the reasons scalper branches
//! on or reports, plus [`RejectReason::Other`] for anything else a broker sends. The mapping
//! from and to IG's reason codes (`INSUFFICIENT_FUNDS`...) lives in `scalper_ig_wire::reject`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The reason a deal (open, close, amend, working order) was refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// Not enough funds or margin for the deal.
    InsufficientFunds,
    /// The market is closed.
    MarketClosed,
    /// The market is closed for dealing; only edits of existing orders are accepted.
    MarketClosedWithEdits,
    /// The market is offline (no prices).
    MarketOffline,
    /// The market accepts closing trades only.
    ClosingsOnly,
    /// The instrument is unknown to the broker.
    InstrumentNotFound,
    /// The position to close or amend does not exist (any more).
    PositionNotFound,
    /// The position cannot be closed by this request (e.g. a close in its own direction).
    PositionNotAvailableToClose,
    /// The working order to amend or delete does not exist (any more).
    OrderNotFound,
    /// The size is below the instrument's minimum deal size.
    MinimumDealSize,
    /// The size is not a multiple of the instrument's size step.
    SizeIncrement,
    /// An attached stop or limit is at an invalid level: too close to the price, too far from
    /// it, or on the wrong side.
    StopOrLimitLevel,
    /// The price moved beyond the order's level before it could be filled.
    LevelTolerance,
    /// The order's size cannot be filled (e.g. a close larger than the position).
    OrderSizeCannotBeFilled,
    /// A working order's level is on the wrong side of the market for its type.
    WrongSideOfMarket,
    /// A limit order's level is on the wrong side of the market.
    LimitOrderWrongSideOfMarket,
    /// A working order's good-till date is already past.
    GoodTillDateInThePast,
    /// A CFD order was sent to a spread-bet account.
    CfdOrderOnSpreadBetAccount,
    /// A spread-bet order was sent to a CFD account.
    SpreadBetOrderOnCfdAccount,
    /// After an unknown outcome, the broker showed no deal under the request's reference.
    NoDeal,
    /// The broker refused the request itself (an API error, not a dealing decision); the text
    /// says why.
    Refused(String),
    /// Any other reason, as the broker spelt it.
    Other(String),
}

impl RejectReason {
    /// A short stable name for counting (metrics labels): the snake_case variant name, with
    /// `refused` and `other` for the reasons that carry free text.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InsufficientFunds => "insufficient_funds",
            Self::MarketClosed => "market_closed",
            Self::MarketClosedWithEdits => "market_closed_with_edits",
            Self::MarketOffline => "market_offline",
            Self::ClosingsOnly => "closings_only",
            Self::InstrumentNotFound => "instrument_not_found",
            Self::PositionNotFound => "position_not_found",
            Self::PositionNotAvailableToClose => "position_not_available_to_close",
            Self::OrderNotFound => "order_not_found",
            Self::MinimumDealSize => "minimum_deal_size",
            Self::SizeIncrement => "size_increment",
            Self::StopOrLimitLevel => "stop_or_limit_level",
            Self::LevelTolerance => "level_tolerance",
            Self::OrderSizeCannotBeFilled => "order_size_cannot_be_filled",
            Self::WrongSideOfMarket => "wrong_side_of_market",
            Self::LimitOrderWrongSideOfMarket => "limit_order_wrong_side_of_market",
            Self::GoodTillDateInThePast => "good_till_date_in_the_past",
            Self::CfdOrderOnSpreadBetAccount => "cfd_order_on_spread_bet_account",
            Self::SpreadBetOrderOnCfdAccount => "spread_bet_order_on_cfd_account",
            Self::NoDeal => "no_deal",
            Self::Refused(_) => "refused",
            Self::Other(_) => "other",
        }
    }

    /// A reason that can only change when the market does (closed, offline, closings only):
    /// sending the same request again later may succeed.
    pub fn is_market_state(&self) -> bool {
        matches!(
            self,
            Self::MarketClosed
                | Self::MarketClosedWithEdits
                | Self::MarketOffline
                | Self::ClosingsOnly
        )
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::InsufficientFunds => "insufficient funds",
            Self::MarketClosed => "market closed",
            Self::MarketClosedWithEdits => "market closed (edits only)",
            Self::MarketOffline => "market offline",
            Self::ClosingsOnly => "market accepts closing trades only",
            Self::InstrumentNotFound => "instrument not found",
            Self::PositionNotFound => "position not found",
            Self::PositionNotAvailableToClose => "position not available to close",
            Self::OrderNotFound => "working order not found",
            Self::MinimumDealSize => "size below the minimum deal size",
            Self::SizeIncrement => "size not a multiple of the size step",
            Self::StopOrLimitLevel => "stop or limit at an invalid level",
            Self::LevelTolerance => "price moved beyond the order level",
            Self::OrderSizeCannotBeFilled => "order size cannot be filled",
            Self::WrongSideOfMarket => "order level on the wrong side of the market",
            Self::LimitOrderWrongSideOfMarket => "limit level on the wrong side of the market",
            Self::GoodTillDateInThePast => "good-till date in the past",
            Self::CfdOrderOnSpreadBetAccount => "CFD order on a spread-bet account",
            Self::SpreadBetOrderOnCfdAccount => "spread-bet order on a CFD account",
            Self::NoDeal => "no deal under this reference",
            Self::Refused(detail) => return write!(f, "request refused: {detail}"),
            Self::Other(reason) => reason,
        };
        f.write_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_serde() {
        assert_eq!(
            RejectReason::InsufficientFunds.to_string(),
            "insufficient funds"
        );
        assert_eq!(
            RejectReason::Other("NEW_IG_REASON".into()).to_string(),
            "NEW_IG_REASON"
        );
        assert_eq!(
            RejectReason::Refused("timed out".into()).to_string(),
            "request refused: timed out"
        );
        for r in [
            RejectReason::PositionNotFound,
            RejectReason::Other("X".into()),
            RejectReason::Refused("y".into()),
        ] {
            let json = serde_json::to_string(&r).unwrap_or_default();
            assert_eq!(serde_json::from_str::<RejectReason>(&json).ok(), Some(r));
        }
        assert!(RejectReason::MarketClosedWithEdits.is_market_state());
        assert!(!RejectReason::InsufficientFunds.is_market_state());
    }
}
