//! Safe dealing. Every open and working-order request carries a client-generated
//! `dealReference`. A token error means IG did not act: the session is recovered and the same
//! request resent once (in the request pipeline). A timeout, transport error, 5xx or 405 means
//! the outcome is unknown: it is resolved through `/confirms/{dealReference}` (bounded polling)
//! and then `/positions` — the request is NEVER sent again. Allowance errors are never retried.

use reqwest::Method;
use scalper_model::{DealId, DealReference, Direction, Epic, OrderType, Points, Price, Size};

use crate::client::IgClient;
use crate::endpoints::seg;
use crate::error::IgError;
use crate::http::Call;
use crate::types::{Confirmation, DealStatus};
use crate::wire::positions::{
    AmendPositionRequest, ClosePositionRequest, DealReferenceResponse, OpenPositionRequest,
};
use crate::wire::working_orders::{AmendWorkingOrderRequest, CreateWorkingOrderRequest};

/// `timeInForce` of a position order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeInForce {
    FillOrKill,
    ExecuteAndEliminate,
}

impl TimeInForce {
    fn as_ig(self) -> &'static str {
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
            force_open: false,
            time_in_force: None,
            deal_reference: None,
        }
    }

    fn to_wire(&self, reference: &DealReference) -> Result<OpenPositionRequest, IgError> {
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
            trailing_stop: None,
            trailing_stop_increment: None,
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
    /// `None` = good till cancelled; else IG's `goodTillDate` (`yyyy/mm/dd hh:mm:ss` UTC).
    pub good_till_date: Option<String>,
    pub deal_reference: Option<DealReference>,
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
        reason: String,
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

/// How to check `/positions` when `/confirms` stays silent.
#[derive(Debug, Clone)]
enum PositionCheck {
    /// An open: a position carrying our reference means accepted.
    OpenedWith(DealReference),
    /// A close: the deal id gone means accepted.
    Gone(DealId),
    None,
}

/// The answer was lost or the server failed: IG may or may not have acted.
fn outcome_unknown(e: &IgError) -> bool {
    match e {
        IgError::Transport { .. } | IgError::Timeout { .. } | IgError::Decode { .. } => true,
        IgError::Api { status, .. } => *status >= 500 || *status == 405,
        _ => false,
    }
}

/// Worth polling `/confirms` again.
fn confirm_pending(e: &IgError) -> bool {
    match e {
        IgError::Api {
            status, error_code, ..
        } => {
            *status == 404
                || *status == 405
                || *status >= 500
                || error_code
                    .as_deref()
                    .is_some_and(|c| c.contains("deal-not-found"))
        }
        _ => e.is_retryable(),
    }
}

impl IgClient {
    fn reference_or_new(&self, r: Option<&DealReference>) -> Result<DealReference, IgError> {
        match r {
            Some(r) => Ok(r.clone()),
            None => self.next_deal_reference(),
        }
    }

    /// Opens a position (`POST /positions/otc` v2) and resolves its outcome.
    pub async fn open_position(&self, req: &OpenRequest) -> Result<DealOutcome, IgError> {
        let reference = self.reference_or_new(req.deal_reference.as_ref())?;
        let body = req.to_wire(&reference)?;
        tracing::info!(deal_ref = %reference, epic = %req.epic, direction = %req.direction, size = %req.size, "opening position");
        let call = Call::get("/positions/otc", 2, "open position")
            .dealing()
            .with_json(Method::POST, &body)?;
        self.deal(
            call,
            reference.clone(),
            PositionCheck::OpenedWith(reference),
            true,
        )
        .await
    }

    /// Closes a position at market (`POST /positions/otc` + `_method: DELETE`, v1).
    pub async fn close_position(&self, req: &CloseRequest) -> Result<DealOutcome, IgError> {
        let reference = self.reference_or_new(req.deal_reference.as_ref())?;
        let body = ClosePositionRequest {
            deal_id: Some(req.deal_id.as_str().to_string()),
            direction: req.position_direction.opposite().as_str().to_string(),
            size: Some(req.size.value()),
            order_type: "MARKET".to_string(),
            time_in_force: req.time_in_force.map(|t| t.as_ig().to_string()),
            deal_reference: self
                .config()
                .close_sends_deal_reference
                .then(|| reference.as_str().to_string()),
            ..ClosePositionRequest::default()
        };
        tracing::info!(deal_ref = %reference, deal_id = %req.deal_id, size = %req.size, "closing position");
        let mut call = Call::get("/positions/otc", 1, "close position")
            .dealing()
            .with_json(Method::DELETE, &body)?;
        call.delete_override = true;
        self.deal(
            call,
            reference,
            PositionCheck::Gone(req.deal_id.clone()),
            true,
        )
        .await
    }

    /// Amends a position's stop/limit (`PUT /positions/otc/{dealId}` v2).
    pub async fn amend_position(
        &self,
        deal_id: &DealId,
        body: &AmendPositionRequest,
    ) -> Result<DealOutcome, IgError> {
        let reference = self.next_deal_reference()?;
        let call = Call::get(
            format!("/positions/otc/{}", seg(deal_id.as_str())),
            2,
            "amend position",
        )
        .dealing()
        .with_json(Method::PUT, body)?;
        self.deal(call, reference, PositionCheck::None, false).await
    }

    /// Creates a working order (`POST /workingorders/otc` v2).
    pub async fn create_working_order(
        &self,
        req: &WorkingOrderRequest,
    ) -> Result<DealOutcome, IgError> {
        let reference = self.reference_or_new(req.deal_reference.as_ref())?;
        let order_type = match req.order_type {
            OrderType::Limit => "LIMIT",
            OrderType::Stop => "STOP",
            OrderType::Market => {
                return Err(IgError::Config {
                    detail: "a working order is LIMIT or STOP".into(),
                })
            }
        };
        let body = CreateWorkingOrderRequest {
            currency_code: req.currency_code.clone(),
            deal_reference: Some(reference.as_str().to_string()),
            direction: req.direction.as_str().to_string(),
            epic: req.epic.as_str().to_string(),
            expiry: req.expiry.clone(),
            force_open: Some(true),
            good_till_date: req.good_till_date.clone(),
            guaranteed_stop: req.guaranteed_stop,
            level: Some(req.level.value()),
            limit_distance: req.limit_distance.map(Points::value),
            limit_level: None,
            size: Some(req.size.value()),
            stop_distance: req.stop_distance.map(Points::value),
            stop_level: None,
            time_in_force: if req.good_till_date.is_some() {
                "GOOD_TILL_DATE"
            } else {
                "GOOD_TILL_CANCELLED"
            }
            .to_string(),
            order_type: order_type.to_string(),
        };
        let call = Call::get("/workingorders/otc", 2, "create working order")
            .dealing()
            .with_json(Method::POST, &body)?;
        self.deal(call, reference, PositionCheck::None, true).await
    }

    /// Amends a working order (`PUT /workingorders/otc/{dealId}` v2).
    pub async fn amend_working_order(
        &self,
        deal_id: &DealId,
        body: &AmendWorkingOrderRequest,
    ) -> Result<DealOutcome, IgError> {
        let reference = self.next_deal_reference()?;
        let call = Call::get(
            format!("/workingorders/otc/{}", seg(deal_id.as_str())),
            2,
            "amend working order",
        )
        .dealing()
        .with_json(Method::PUT, body)?;
        self.deal(call, reference, PositionCheck::None, false).await
    }

    /// Deletes a working order (`POST /workingorders/otc/{dealId}` + `_method: DELETE`, v2).
    pub async fn delete_working_order(&self, deal_id: &DealId) -> Result<DealOutcome, IgError> {
        let reference = self.next_deal_reference()?;
        let mut call = Call::get(
            format!("/workingorders/otc/{}", seg(deal_id.as_str())),
            2,
            "delete working order",
        )
        .dealing();
        call.method = Method::DELETE;
        call.delete_override = true;
        self.deal(call, reference, PositionCheck::None, false).await
    }

    /// Establishes the outcome of an earlier request by its reference, without resending it:
    /// `/confirms` (bounded polling), then a position carrying the reference.
    pub async fn resolve_deal(&self, reference: &DealReference) -> DealOutcome {
        self.resolve(
            reference.clone(),
            PositionCheck::OpenedWith(reference.clone()),
            Resolution::Confirmed,
        )
        .await
    }

    /// Sends a dealing request once (the pipeline may resend once after a token error, which
    /// IG guarantees it did not act on) and resolves the outcome.
    async fn deal(
        &self,
        call: Call,
        ours: DealReference,
        check: PositionCheck,
        ref_sent: bool,
    ) -> Result<DealOutcome, IgError> {
        match self.inner.call(&call).await {
            Ok(reply) => {
                let ack: Result<DealReferenceResponse, _> = reply.json(call.context);
                let reference = if let Ok(Ok(r)) = ack.map(|a| DealReference::new(a.deal_reference))
                {
                    r
                } else {
                    tracing::warn!(deal_ref = %ours, "IG's acknowledgement unreadable; resolving with our reference");
                    ours
                };
                Ok(self.resolve(reference, check, Resolution::Confirmed).await)
            }
            Err(e) if outcome_unknown(&e) && !ref_sent => {
                // IG chooses the reference of amends and deletes, so /confirms cannot be asked.
                tracing::warn!(deal_ref = %ours, error = %e, "dealing outcome unknown; NOT resending");
                Ok(DealOutcome::Unknown {
                    deal_reference: ours,
                    detail: format!("answer lost ({e}); IG's reference for it is unknown"),
                })
            }
            Err(e) if outcome_unknown(&e) => {
                tracing::warn!(deal_ref = %ours, error = %e, "dealing outcome unknown; resolving through /confirms, NOT resending");
                Ok(self
                    .resolve(ours, check, Resolution::ConfirmedAfterLostResponse)
                    .await)
            }
            Err(e) => {
                tracing::warn!(deal_ref = %ours, error = %e, "IG refused the dealing request (not acted on)");
                Err(e)
            }
        }
    }

    /// Polls `/confirms/{reference}` until it answers or `confirm_timeout` passes, then checks
    /// `/positions`. Never resends the dealing request.
    async fn resolve(
        &self,
        reference: DealReference,
        check: PositionCheck,
        how: Resolution,
    ) -> DealOutcome {
        let cfg = self.config();
        let deadline = tokio::time::Instant::now() + cfg.confirm_timeout;
        let mut last;
        loop {
            match self.confirm(&reference).await {
                Ok(c) => return outcome_from(reference, c, how),
                Err(e) if confirm_pending(&e) => last = e.to_string(),
                Err(e) => {
                    last = e.to_string();
                    break;
                }
            }
            if tokio::time::Instant::now() + cfg.confirm_poll_interval >= deadline {
                break;
            }
            tokio::time::sleep(cfg.confirm_poll_interval).await;
        }
        tracing::warn!(deal_ref = %reference, last = %last, "no confirmation; checking /positions");
        match (&check, self.positions().await) {
            (PositionCheck::OpenedWith(r), Ok(list)) => {
                if let Some(p) = list.iter().find(|p| p.deal_reference.as_ref() == Some(r)) {
                    return DealOutcome::Accepted {
                        deal_reference: reference,
                        deal_id: Some(p.deal_id.clone()),
                        level: Some(p.level),
                        size: Some(p.size),
                        confirmation: None,
                        resolved_by: Resolution::Positions,
                    };
                }
                DealOutcome::NotFound {
                    deal_reference: reference,
                    detail: format!("no confirmation ({last}) and no position with this reference"),
                }
            }
            (PositionCheck::Gone(id), Ok(list)) => {
                if list.iter().any(|p| &p.deal_id == id) {
                    DealOutcome::Unknown {
                        deal_reference: reference,
                        detail: format!("no confirmation ({last}); position {id} is still open"),
                    }
                } else {
                    DealOutcome::Accepted {
                        deal_reference: reference,
                        deal_id: Some(id.clone()),
                        level: None,
                        size: None,
                        confirmation: None,
                        resolved_by: Resolution::Positions,
                    }
                }
            }
            (_, Err(e)) => DealOutcome::Unknown {
                deal_reference: reference,
                detail: format!("no confirmation ({last}); positions unavailable: {e}"),
            },
            (PositionCheck::None, Ok(_)) => DealOutcome::Unknown {
                deal_reference: reference,
                detail: format!("no confirmation ({last})"),
            },
        }
    }
}

fn outcome_from(reference: DealReference, c: Confirmation, how: Resolution) -> DealOutcome {
    match &c.status {
        DealStatus::Accepted => DealOutcome::Accepted {
            deal_reference: reference,
            deal_id: c.deal_id.clone(),
            level: c.level,
            size: c.size,
            confirmation: Some(c),
            resolved_by: how,
        },
        DealStatus::Rejected => DealOutcome::Rejected {
            deal_reference: reference,
            reason: c.reason.clone().unwrap_or_else(|| "UNKNOWN".to_string()),
            confirmation: c,
        },
        DealStatus::Other(s) => DealOutcome::Unknown {
            deal_reference: reference,
            detail: format!("dealStatus {s}"),
        },
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

    #[test]
    fn unknown_outcome_classification() {
        let api = |status| IgError::Api {
            status,
            error_code: None,
            request_id: None,
        };
        assert!(outcome_unknown(&IgError::Timeout {
            context: "x".into()
        }));
        assert!(outcome_unknown(&api(502)));
        assert!(outcome_unknown(&api(405)));
        assert!(!outcome_unknown(&api(400)));
        assert!(!outcome_unknown(&IgError::AllowanceExceeded {
            kind: crate::AllowanceKind::AccountTrading
        }));
    }
}
