//! Safe dealing. Every open and working-order request carries a client-generated
//! `dealReference`. A token error means IG did not act: the session is recovered and the same
//! request resent once (in the request pipeline). A timeout, transport error, 5xx or 405 means
//! the outcome is unknown: it is resolved through `/confirms/{dealReference}` (bounded polling)
//! and then `/positions` — the request is NEVER sent again. Allowance errors are never retried.

use reqwest::Method;
use scalper_model::{DealId, DealReference, OrderType, Points, Price, RejectReason, Timestamp};

use crate::client::IgClient;
use crate::endpoints::seg;
use crate::error::IgError;
use crate::orders::{
    CloseRequest, DealOutcome, OpenRequest, PositionAmend, Resolution, WorkingOrderAmend,
    WorkingOrderRequest,
};
use crate::rate::Priority;
use crate::transport::Call;
use crate::types::{Confirmation, DealStatus};
use scalper_ig_wire::positions::{
    AmendPositionRequest, ClosePositionRequest, DealReferenceResponse,
};
use scalper_ig_wire::time::local_s;
use scalper_ig_wire::working_orders::{AmendWorkingOrderRequest, CreateWorkingOrderRequest};

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
        _ if e.is_deal_not_found() => true,
        IgError::Api { status, .. } => *status == 404 || *status == 405 || *status >= 500,
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
            .priority(Priority::Protect)
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

    /// Sets a position's stop and limit levels (`PUT /positions/otc/{dealId}` v2).
    pub async fn amend_position(
        &self,
        deal_id: &DealId,
        amend: &PositionAmend,
    ) -> Result<DealOutcome, IgError> {
        let reference = self.next_deal_reference()?;
        let body = AmendPositionRequest {
            stop_level: amend.stop_level.map(Price::value),
            limit_level: amend.limit_level.map(Price::value),
            ..AmendPositionRequest::default()
        };
        let call = Call::get(
            format!("/positions/otc/{}", seg(deal_id.as_str())),
            2,
            "amend position",
        )
        .dealing()
        .priority(Priority::Amend)
        .with_json(Method::PUT, &body)?;
        self.deal(call, reference, PositionCheck::None, false).await
    }

    /// Creates a working order (`POST /workingorders/otc` v2).
    pub async fn create_working_order(
        &self,
        req: &WorkingOrderRequest,
    ) -> Result<DealOutcome, IgError> {
        let reference = self.reference_or_new(req.deal_reference.as_ref())?;
        let order_type = working_order_type(req.order_type)?;
        let body = CreateWorkingOrderRequest {
            currency_code: req.currency_code.clone(),
            deal_reference: Some(reference.as_str().to_string()),
            direction: req.direction.as_str().to_string(),
            epic: req.epic.as_str().to_string(),
            expiry: req.expiry.clone(),
            force_open: Some(true),
            good_till_date: req.good_till_date.map(local_s),
            guaranteed_stop: req.guaranteed_stop,
            level: Some(req.level.value()),
            limit_distance: req.limit_distance.map(Points::value),
            limit_level: None,
            size: Some(req.size.value()),
            stop_distance: req.stop_distance.map(Points::value),
            stop_level: None,
            time_in_force: time_in_force(req.good_till_date.as_ref()).to_string(),
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
        amend: &WorkingOrderAmend,
    ) -> Result<DealOutcome, IgError> {
        let reference = self.next_deal_reference()?;
        let body = AmendWorkingOrderRequest {
            time_in_force: Some(time_in_force(amend.good_till_date.as_ref()).to_string()),
            good_till_date: amend.good_till_date.map(local_s),
            stop_distance: amend.stop_distance.map(Points::value),
            limit_distance: amend.limit_distance.map(Points::value),
            order_type: Some(working_order_type(amend.order_type)?.to_string()),
            level: Some(amend.level.value()),
            ..AmendWorkingOrderRequest::default()
        };
        let call = Call::get(
            format!("/workingorders/otc/{}", seg(deal_id.as_str())),
            2,
            "amend working order",
        )
        .dealing()
        .priority(Priority::Amend)
        .with_json(Method::PUT, &body)?;
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
        .dealing()
        .priority(Priority::Protect);
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
                self.note_acked(&ours);
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

    /// No confirm and no open position carries `reference`: IG either never executed it, or
    /// opened a position that is already closed (its stop or limit fired before the outcome
    /// was known). The activity history tells which; the engine then finds the position gone
    /// and books IG's close.
    async fn opened_and_gone(&self, reference: DealReference, last: String) -> DealOutcome {
        match self.opened_by_reference(&reference, None).await {
            Ok(Some(a)) => {
                tracing::warn!(deal_ref = %reference, deal_id = ?a.deal_id,
                    "no confirmation and no open position, but IG's history shows the deal: it was opened and is already closed");
                DealOutcome::Accepted {
                    deal_reference: reference,
                    deal_id: a.deal_id,
                    level: a.level,
                    size: a.size,
                    confirmation: None,
                    resolved_by: Resolution::Activity,
                }
            }
            Ok(None) => DealOutcome::NotFound {
                deal_reference: reference,
                detail: format!(
                    "no confirmation ({last}), no position and no activity with this reference"
                ),
            },
            Err(e) => DealOutcome::Unknown {
                deal_reference: reference,
                detail: format!(
                    "no confirmation ({last}) and no position; activity history unavailable: {e}"
                ),
            },
        }
    }

    /// Polls `/confirms/{reference}` until it answers or `confirm_timeout` passes, then checks
    /// `/positions`, then the activity history. Never resends the dealing request.
    async fn resolve(
        &self,
        reference: DealReference,
        check: PositionCheck,
        how: Resolution,
    ) -> DealOutcome {
        if let Some((hub, wait)) = self.inner.stream_confirms.get() {
            if let Some(c) = hub.wait(&reference, *wait).await {
                tracing::debug!(deal_ref = %reference, "confirm from the stream");
                return outcome_from(reference, c, how);
            }
            tracing::info!(deal_ref = %reference, "no streamed confirm; polling /confirms");
        }
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
        match (&check, self.positions_with(Priority::Protect).await) {
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
                self.opened_and_gone(reference, last).await
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

/// IG's `type` of a working order.
fn working_order_type(t: OrderType) -> Result<&'static str, IgError> {
    match t {
        OrderType::Limit => Ok("LIMIT"),
        OrderType::Stop => Ok("STOP"),
        OrderType::Market => Err(IgError::Config {
            detail: "a working order is LIMIT or STOP".into(),
        }),
    }
}

/// IG's `timeInForce` of a working order.
fn time_in_force(good_till: Option<&Timestamp>) -> &'static str {
    if good_till.is_some() {
        "GOOD_TILL_DATE"
    } else {
        "GOOD_TILL_CANCELLED"
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
            reason: c
                .reject_reason
                .clone()
                .unwrap_or_else(|| RejectReason::Other("UNKNOWN".to_string())),
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
