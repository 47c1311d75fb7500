//! IG's deal reject reasons (the `reason` of a `REJECTED` confirmation) and their mapping to
//! and from [`RejectReason`]. Codes scalper has no variant for become
//! [`RejectReason::Other`] with IG's spelling, so nothing IG sends is lost.

use std::borrow::Cow;

use scalper_model::RejectReason;

/// The `reason` of an accepted deal.
pub const SUCCESS: &str = "SUCCESS";

/// `(IG code, reason)` for every reason scalper names. One row per variant, so the mapping is
/// the same both ways.
fn table() -> [(&'static str, RejectReason); 19] {
    use RejectReason as R;
    [
        ("INSUFFICIENT_FUNDS", R::InsufficientFunds),
        ("MARKET_CLOSED", R::MarketClosed),
        ("MARKET_CLOSED_WITH_EDITS", R::MarketClosedWithEdits),
        ("MARKET_OFFLINE", R::MarketOffline),
        (
            "CLOSING_ONLY_TRADES_ACCEPTED_ON_THIS_MARKET",
            R::ClosingsOnly,
        ),
        ("INSTRUMENT_NOT_FOUND", R::InstrumentNotFound),
        ("POSITION_NOT_FOUND", R::PositionNotFound),
        (
            "POSITION_NOT_AVAILABLE_TO_CLOSE",
            R::PositionNotAvailableToClose,
        ),
        ("ORDER_NOT_FOUND", R::OrderNotFound),
        ("MINIMUM_ORDER_SIZE_ERROR", R::MinimumDealSize),
        ("SIZE_INCREMENT", R::SizeIncrement),
        ("ATTACHED_ORDER_LEVEL_ERROR", R::StopOrLimitLevel),
        ("LEVEL_TOLERANCE_ERROR", R::LevelTolerance),
        ("ORDER_SIZE_CANNOT_BE_FILLED", R::OrderSizeCannotBeFilled),
        ("WRONG_SIDE_OF_MARKET", R::WrongSideOfMarket),
        (
            "LIMIT_ORDER_WRONG_SIDE_OF_MARKET",
            R::LimitOrderWrongSideOfMarket,
        ),
        ("GOOD_TILL_DATE_IN_THE_PAST", R::GoodTillDateInThePast),
        (
            "REJECT_CFD_ORDER_ON_SPREADBET_ACCOUNT",
            R::CfdOrderOnSpreadBetAccount,
        ),
        (
            "REJECT_SPREADBET_ORDER_ON_CFD_ACCOUNT",
            R::SpreadBetOrderOnCfdAccount,
        ),
    ]
}

/// The reason for IG's code (surrounding space ignored; unknown codes kept as `Other`).
pub fn from_ig(code: &str) -> RejectReason {
    let code = code.trim();
    table()
        .into_iter()
        .find_map(|(c, r)| (c == code).then_some(r))
        .unwrap_or_else(|| RejectReason::Other(code.to_string()))
}

/// IG's code for `reason`. Reasons IG has no code for (`NoDeal`, `Refused`) are `UNKNOWN`.
pub fn to_ig(reason: &RejectReason) -> Cow<'_, str> {
    match reason {
        RejectReason::Other(code) => Cow::Borrowed(code),
        RejectReason::NoDeal | RejectReason::Refused(_) => Cow::Borrowed("UNKNOWN"),
        named => table()
            .into_iter()
            .find_map(|(c, r)| (&r == named).then_some(Cow::Borrowed(c)))
            .unwrap_or(Cow::Borrowed("UNKNOWN")),
    }
}

/// The reject reason of a confirmation's `reason` field: `None` for `SUCCESS` or no reason.
pub fn of_confirmation(reason: Option<&str>) -> Option<RejectReason> {
    reason
        .map(str::trim)
        .filter(|r| !r.is_empty() && *r != SUCCESS)
        .map(from_ig)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_reason_round_trips() {
        for (code, reason) in table() {
            assert_eq!(from_ig(code), reason, "{code}");
            assert_eq!(to_ig(&reason), code, "{reason:?}");
        }
        let codes: std::collections::HashSet<_> = table().map(|(c, _)| c).into();
        assert_eq!(codes.len(), table().len(), "a code is listed twice");
    }

    #[test]
    fn unknown_codes_are_kept() {
        let r = from_ig(" TRAILING_STOP_NOT_ALLOWED ");
        assert_eq!(r, RejectReason::Other("TRAILING_STOP_NOT_ALLOWED".into()));
        assert_eq!(to_ig(&r), "TRAILING_STOP_NOT_ALLOWED");
        assert_eq!(to_ig(&RejectReason::NoDeal), "UNKNOWN");
        assert_eq!(of_confirmation(Some("SUCCESS")), None);
        assert_eq!(of_confirmation(None), None);
        assert_eq!(
            of_confirmation(Some("MARKET_CLOSED")),
            Some(RejectReason::MarketClosed)
        );
    }
}
