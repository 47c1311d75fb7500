//! Dealing requests in domain terms (open, close, working order) and their typed outcome.
//! `OpenRequest::to_wire` checks IG's documented constraints before anything is sent.

use scalper_model::{
    DealId, DealReference, Direction, Epic, OrderType, Points, Price, RejectReason, Size, Timestamp,
};

use crate::error::IgError;
use crate::types::Confirmation;
use scalper_ig_wire::positions::OpenPositionRequest;

/// `timeInForce` of a position order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeInForce {
    FillOrKill,
    ExecuteAndEliminate,
}

impl TimeInForce {
    pub(crate) fn as_ig(self) -> &'static str {
        match self {
            Self::FillOrKill => "FILL_OR_KILL",
            Self::ExecuteAndEliminate => "EXECUTE_AND_ELIMINATE",
        }
    }
}

/// An order to open a position. Start from [`OpenRequest::market`] and override fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenRequest {
    pub epic: Epic,
    pub direction: Direction,
    pub size: Size,
    /// Currency from the instrument's `currencies` (e.g. `USD`).
    pub currency_code: String,
    /// `-` for CFDs, `DFB` for daily spread bets.
    pub expiry: String,
    /// `Market` or `Limit` (a limit needs `level`).
    pub order_type: OrderType,
    pub level: Option<Price>,
    pub stop_distance: Option<Points>,
    pub limit_distance: Option<Points>,
    pub stop_level: Option<Price>,
    pub limit_level: Option<Price>,
    pub guaranteed_stop: bool,
    /// A trailing stop kept by IG, moving in steps of this many points at `stop_distance`
    /// (IG: `trailingStop`, `trailingStopIncrement`; no `stopLevel`, no guaranteed stop).
    pub trailing_increment: Option<Points>,
    /// IG requires `true` when a stop or limit is attached; the client then forces it.
    pub force_open: bool,
    pub time_in_force: Option<TimeInForce>,
    /// Generated when `None`.
    pub deal_reference: Option<DealReference>,
}

impl OpenRequest {
    /// A market order with no stop or limit.
    pub fn market(
        epic: Epic,
        direction: Direction,
        size: Size,
        currency_code: impl Into<String>,
    ) -> Self {
        Self {
            epic,
            direction,
            size,
            currency_code: currency_code.into(),
            expiry: "-".to_string(),
            order_type: OrderType::Market,
            level: None,
            stop_distance: None,
            limit_distance: None,
            stop_level: None,
            limit_level: None,
            guaranteed_stop: false,
            trailing_increment: None,
            force_open: false,
            time_in_force: None,
            deal_reference: None,
        }
    }

    pub(crate) fn to_wire(
        &self,
        reference: &DealReference,
    ) -> Result<OpenPositionRequest, IgError> {
        let invalid = |detail: &str| IgError::Config {
            detail: format!("open {} {}: {detail}", self.direction, self.epic),
        };
        if self.size.value() <= rust_decimal::Decimal::ZERO {
            return Err(invalid("size must be positive"));
        }
        if self.stop_distance.is_some() && self.stop_level.is_some() {
            return Err(invalid("set only one of stop_distance and stop_level"));
        }
        if self.limit_distance.is_some() && self.limit_level.is_some() {
            return Err(invalid("set only one of limit_distance and limit_level"));
        }
        let order_type = match (self.order_type, self.level) {
            (OrderType::Market, None) => "MARKET",
            (OrderType::Market, Some(_)) => return Err(invalid("a market order takes no level")),
            (OrderType::Limit, Some(_)) => "LIMIT",
            (OrderType::Limit, None) => return Err(invalid("a limit order needs a level")),
            (OrderType::Stop, _) => {
                return Err(invalid(
                    "positions take MARKET or LIMIT orders; use a working order",
                ))
            }
        };
        if self.trailing_increment.is_some() {
            if self.guaranteed_stop {
                return Err(invalid("a trailing stop cannot be guaranteed (IG)"));
            }
            if self.stop_distance.is_none() || self.stop_level.is_some() {
                return Err(invalid(
                    "a trailing stop needs a stop distance and no stop level (IG)",
                ));
            }
        }
        if self.guaranteed_stop && self.stop_distance.is_none() && self.stop_level.is_none() {
            return Err(invalid("a guaranteed stop needs a stop distance or level"));
        }
        let has_exit = self.stop_distance.is_some()
            || self.stop_level.is_some()
            || self.limit_distance.is_some()
            || self.limit_level.is_some();
        Ok(OpenPositionRequest {
            currency_code: self.currency_code.clone(),
            deal_reference: Some(reference.as_str().to_string()),
            direction: self.direction.as_str().to_string(),
            epic: self.epic.as_str().to_string(),
            expiry: self.expiry.clone(),
            force_open: self.force_open || has_exit,
            guaranteed_stop: self.guaranteed_stop,
            level: self.level.map(Price::value),
            limit_distance: self.limit_distance.map(Points::value),
            limit_level: self.limit_level.map(Price::value),
            order_type: order_type.to_string(),
            quote_id: None,
            size: Some(self.size.value()),
            stop_distance: self.stop_distance.map(Points::value),
            stop_level: self.stop_level.map(Price::value),
            time_in_force: self.time_in_force.map(|t| t.as_ig().to_string()),
            trailing_stop: self.trailing_increment.map(|_| true),
            trailing_stop_increment: self.trailing_increment.map(Points::value),
        })
    }
}

/// Closing (part of) a position at market.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseRequest {
    pub deal_id: DealId,
    /// The position's direction (the close is sent in the opposite direction).
    pub position_direction: Direction,
    pub size: Size,
    pub time_in_force: Option<TimeInForce>,
    /// Generated when `None` (sent only if `IgConfig::close_sends_deal_reference`).
    pub deal_reference: Option<DealReference>,
}

/// A working order (LIMIT or STOP entry order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingOrderRequest {
    pub epic: Epic,
    pub direction: Direction,
    pub size: Size,
    pub level: Price,
    /// `Limit` or `Stop`.
    pub order_type: OrderType,
    pub currency_code: String,
    pub expiry: String,
    pub stop_distance: Option<Points>,
    pub limit_distance: Option<Points>,
    pub guaranteed_stop: bool,
    /// `None`: good till cancelled.
    pub good_till_date: Option<Timestamp>,
    pub deal_reference: Option<DealReference>,
}

/// New stop and limit levels of an open position (`PUT /positions/otc/{dealId}`). IG sets
/// both: `None` removes that level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PositionAmend {
    pub stop_level: Option<Price>,
    pub limit_level: Option<Price>,
}

/// A working order's new terms (`PUT /workingorders/otc/{dealId}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingOrderAmend {
    pub level: Price,
    /// `Limit` or `Stop`.
    pub order_type: OrderType,
    /// `None`: good till cancelled.
    pub good_till_date: Option<Timestamp>,
    pub stop_distance: Option<Points>,
    pub limit_distance: Option<Points>,
}

/// How an outcome was established.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// IG acknowledged and `/confirms` answered.
    Confirmed,
    /// The answer to the request was lost; `/confirms` answered.
    ConfirmedAfterLostResponse,
    /// `/confirms` never answered; `/positions` showed the result.
    Positions,
    /// Neither `/confirms` nor `/positions` knew it; the activity history showed the deal
    /// (opened, and already closed).
    Activity,
}

/// The outcome of a dealing request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DealOutcome {
    Accepted {
        deal_reference: DealReference,
        deal_id: Option<DealId>,
        level: Option<Price>,
        size: Option<Size>,
        confirmation: Option<Confirmation>,
        resolved_by: Resolution,
    },
    Rejected {
        deal_reference: DealReference,
        reason: RejectReason,
        confirmation: Confirmation,
    },
    /// `/confirms` never answered and no open position carries the reference: IG most likely
    /// did not act (but a deal opened and already closed within the confirm window would look
    /// the same). The request was not resent.
    NotFound {
        deal_reference: DealReference,
        detail: String,
    },
    /// Neither `/confirms` nor `/positions` could establish the outcome. The request was not
    /// resent; reconcile (positions, TRADE stream) before doing anything else on this market.
    Unknown {
        deal_reference: DealReference,
        detail: String,
    },
}

impl DealOutcome {
    pub fn deal_reference(&self) -> &DealReference {
        match self {
            Self::Accepted { deal_reference, .. }
            | Self::Rejected { deal_reference, .. }
            | Self::NotFound { deal_reference, .. }
            | Self::Unknown { deal_reference, .. } => deal_reference,
        }
    }
    pub fn is_accepted(&self) -> bool {
        matches!(self, Self::Accepted { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn req() -> OpenRequest {
        OpenRequest::market(
            Epic::new("CS.D.EURUSD.CFD.IP").unwrap(),
            Direction::Buy,
            Size::new(dec!(1)),
            "USD",
        )
    }

    #[test]
    fn open_request_validation_and_force_open() {
        let r = DealReference::new("REF-1").unwrap();
        let w = req().to_wire(&r).unwrap();
        assert_eq!((w.order_type.as_str(), w.force_open), ("MARKET", false));
        assert_eq!(w.deal_reference.as_deref(), Some("REF-1"));
        let with_stop = OpenRequest {
            stop_distance: Some(Points::new(dec!(5))),
            ..req()
        };
        assert!(with_stop.to_wire(&r).unwrap().force_open);
        let bad = [
            OpenRequest {
                size: Size::ZERO,
                ..req()
            },
            OpenRequest {
                level: Some(Price::new(dec!(1.1))),
                ..req()
            },
            OpenRequest {
                order_type: OrderType::Limit,
                ..req()
            },
            OpenRequest {
                order_type: OrderType::Stop,
                ..req()
            },
            OpenRequest {
                stop_distance: Some(Points::new(dec!(5))),
                stop_level: Some(Price::new(dec!(1))),
                ..req()
            },
        ];
        for b in bad {
            assert!(b.to_wire(&r).is_err(), "{b:?}");
        }
    }
}
