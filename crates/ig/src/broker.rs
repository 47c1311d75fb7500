//! `IgBroker`: the engine's [`Broker`] on top of [`IgClient`]. Maps engine commands onto the
//! safe dealing API and IG's outcomes onto [`BrokerEvent`]s; an order IG refused becomes
//! `Rejected` with IG's reason as a `RejectReason`, one never sent (an API error) `Rejected`
//! with `RejectReason::Refused`, a resolution that found nothing `RejectReason::NoDeal`, an
//! unknown outcome `OutcomeUnknown`, never a resend.

use std::future::Future;
use std::sync::Arc;

use crate::PositionStatus;
use scalper_engine::event::{
    AmendOrder, BrokerCommand, BrokerEvent, CloseCause, CloseOrder, FailureKind, OpenOrder,
};
use scalper_engine::{Broker, Clock, StopKind};
use scalper_model::{DealReference, Direction, Money, Price, Quote, RejectReason};

use crate::error::IgError;
use crate::orders::{CloseRequest, DealOutcome, OpenRequest, PositionAmend};
use crate::IgClient;

/// The live IG broker.
#[derive(Clone)]
pub struct IgBroker {
    client: IgClient,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for IgBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IgBroker")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl IgBroker {
    /// `clock` stamps the events (the runner's wall clock).
    pub fn new(client: IgClient, clock: Arc<dyn Clock>) -> Self {
        Self { client, clock }
    }

    pub fn client(&self) -> &IgClient {
        &self.client
    }
}

impl Broker for IgBroker {
    fn execute(&mut self, cmd: BrokerCommand) -> impl Future<Output = Vec<BrokerEvent>> + Send {
        let client = self.client.clone();
        let clock = self.clock.clone();
        async move {
            match cmd {
                BrokerCommand::Open(o) => open(&client, clock.as_ref(), o).await,
                BrokerCommand::Close(c) => close(&client, clock.as_ref(), c).await,
                BrokerCommand::Amend(a) => amend(&client, a).await,
                BrokerCommand::Resolve { deal_ref, .. } => {
                    let out = client.resolve_deal(&deal_ref).await;
                    match out {
                        // Confirms gone and no position: no deal exists under this reference.
                        DealOutcome::NotFound {
                            deal_reference,
                            detail,
                        } => vec![BrokerEvent::Rejected {
                            deal_ref: deal_reference,
                            reason: RejectReason::NoDeal,
                            detail: Some(detail),
                        }],
                        other => open_events(clock.as_ref(), other, None),
                    }
                }
            }
        }
    }

    fn on_quote(&mut self, _quote: &Quote) -> Vec<BrokerEvent> {
        Vec::new()
    }

    fn is_paper(&self) -> bool {
        false
    }
}

/// The events for a request IG did not act on: `Rejected` with [`RejectReason::Refused`] (the
/// error says why), plus `Failure` when the broker as a whole is unusable.
fn refused(deal_ref: DealReference, e: &IgError) -> Vec<BrokerEvent> {
    let mut events = vec![BrokerEvent::Rejected {
        deal_ref,
        reason: RejectReason::Refused(e.to_string()),
        detail: None,
    }];
    if let Some(kind) = failure_kind(e) {
        events.push(BrokerEvent::Failure {
            kind,
            detail: e.to_string(),
        });
    }
    events
}

fn failure_kind(e: &IgError) -> Option<FailureKind> {
    match e {
        IgError::AccountRefused { .. } => Some(FailureKind::Account),
        e if e.is_auth_refused() => Some(FailureKind::Authentication),
        IgError::LoginFailed { .. } | IgError::Transport { .. } | IgError::Timeout { .. } => {
            Some(FailureKind::Connectivity)
        }
        IgError::Config { .. } => Some(FailureKind::Other),
        _ => None,
    }
}

async fn open(client: &IgClient, clock: &dyn Clock, o: OpenOrder) -> Vec<BrokerEvent> {
    let req = OpenRequest {
        stop_distance: o.stop_distance,
        limit_distance: o.limit_distance,
        expiry: o.expiry.to_string(),
        deal_reference: Some(o.deal_ref.clone()),
        // The engine manages each position by its deal id: an entry must never net (close)
        // an opposite position of ours at IG, as `forceOpen: false` would.
        force_open: true,
        guaranteed_stop: o.stop_kind == StopKind::Guaranteed,
        trailing_increment: match o.stop_kind {
            StopKind::Trailing { increment } => Some(increment),
            _ => None,
        },
        ..OpenRequest::market(o.epic.clone(), o.direction, o.size, o.currency.to_string())
    };
    match client.open_position(&req).await {
        Ok(out) => open_events(clock, out, Some(o.size)),
        Err(e) => refused(o.deal_ref, &e),
    }
}

fn open_events(
    clock: &dyn Clock,
    out: DealOutcome,
    asked: Option<scalper_model::Size>,
) -> Vec<BrokerEvent> {
    match out {
        DealOutcome::Accepted {
            deal_reference,
            deal_id: Some(deal_id),
            level: Some(level),
            size,
            confirmation,
            ..
        } => match size.or(asked) {
            Some(size) => vec![BrokerEvent::Accepted {
                deal_ref: deal_reference,
                deal_id,
                level,
                size,
                stop_level: confirmation.as_ref().and_then(|c| c.stop_level),
                limit_level: confirmation.as_ref().and_then(|c| c.limit_level),
                at: clock.now(),
            }],
            None => vec![BrokerEvent::OutcomeUnknown {
                deal_ref: deal_reference,
                detail: format!("accepted as {deal_id} but IG gave no size"),
            }],
        },
        DealOutcome::Accepted { deal_reference, .. } => vec![BrokerEvent::OutcomeUnknown {
            deal_ref: deal_reference,
            detail: "accepted but IG gave no deal id or level".to_string(),
        }],
        other => not_accepted(other),
    }
}

async fn close(client: &IgClient, clock: &dyn Clock, c: CloseOrder) -> Vec<BrokerEvent> {
    let req = CloseRequest {
        deal_id: c.deal_id.clone(),
        position_direction: c.direction.opposite(),
        size: c.size,
        time_in_force: None,
        deal_reference: Some(c.deal_ref.clone()),
    };
    let out = match client.close_position(&req).await {
        Ok(out) => out,
        Err(e) => return refused(c.deal_ref, &e),
    };
    match out {
        DealOutcome::Accepted {
            level,
            confirmation,
            deal_reference,
            ..
        } => {
            let level = match level {
                Some(l) => Some(l),
                // Resolved through /positions: no fill level in hand; take the closing deal's
                // level from the activity history, else the closing side of the market.
                None => recorded_or_market_close(client, &c).await,
            };
            // IG keeps the deal id of a position closed in part (`PARTIALLY_CLOSED`).
            let partial = confirmation.as_ref().is_some_and(|k| {
                k.position_status == Some(PositionStatus::PartiallyClosed)
                    || k.affected_deals
                        .iter()
                        .any(|(id, st)| *id == c.deal_id && *st == PositionStatus::PartiallyClosed)
            });
            match level {
                Some(level) if partial => vec![BrokerEvent::PartiallyClosed {
                    deal_id: c.deal_id,
                    deal_ref: Some(deal_reference),
                    size: c.size,
                    level,
                    pnl: confirmation.and_then(|k| k.profit).map(Money::new),
                    at: clock.now(),
                }],
                Some(level) => vec![BrokerEvent::PositionClosed {
                    deal_id: c.deal_id,
                    level,
                    pnl: confirmation.and_then(|k| k.profit).map(Money::new),
                    cause: CloseCause::Engine,
                    at: clock.now(),
                }],
                None => vec![BrokerEvent::OutcomeUnknown {
                    deal_ref: deal_reference,
                    detail: format!("position {} closed; exit level unknown", c.deal_id),
                }],
            }
        }
        // The position is already gone: its stop or limit fired (or it was closed on the
        // platform) while our close was in flight. Report it closed at the market's closing
        // side rather than retrying a close that can never succeed.
        DealOutcome::Rejected {
            deal_reference,
            reason: RejectReason::PositionNotFound,
            ..
        } => {
            let level = recorded_or_market_close(client, &c).await;
            match level {
                Some(level) => {
                    tracing::warn!(deal_id = %c.deal_id, %level, "close refused with POSITION_NOT_FOUND: the broker already closed the position");
                    vec![BrokerEvent::PositionClosed {
                        deal_id: c.deal_id,
                        level,
                        pnl: None,
                        cause: CloseCause::Manual,
                        at: clock.now(),
                    }]
                }
                None => vec![BrokerEvent::Rejected {
                    deal_ref: deal_reference,
                    reason: RejectReason::PositionNotFound,
                    detail: Some("the exit level is not known".into()),
                }],
            }
        }
        other => not_accepted(other),
    }
}

/// A refusal is `Rejected`; an outcome neither confirms nor positions could establish is
/// `OutcomeUnknown` (never a resend).
fn not_accepted(out: DealOutcome) -> Vec<BrokerEvent> {
    match out {
        DealOutcome::Rejected {
            deal_reference,
            reason,
            ..
        } => vec![BrokerEvent::Rejected {
            deal_ref: deal_reference,
            reason,
            detail: None,
        }],
        DealOutcome::Unknown {
            deal_reference,
            detail,
        }
        | DealOutcome::NotFound {
            deal_reference,
            detail,
        } => vec![BrokerEvent::OutcomeUnknown {
            deal_ref: deal_reference,
            detail,
        }],
        // Callers handle acceptance themselves; one reaching here lacked what they need.
        DealOutcome::Accepted { deal_reference, .. } => vec![BrokerEvent::OutcomeUnknown {
            deal_ref: deal_reference,
            detail: "accepted without the details needed to track the position".into(),
        }],
    }
}

async fn amend(client: &IgClient, a: AmendOrder) -> Vec<BrokerEvent> {
    let amend = PositionAmend {
        stop_level: a.stop_level,
        limit_level: a.limit_level,
    };
    let out = client.amend_position(&a.deal_id, &amend).await;
    match out {
        Ok(DealOutcome::Accepted { .. }) => vec![BrokerEvent::Amended {
            deal_id: a.deal_id,
            stop_level: a.stop_level,
            limit_level: a.limit_level,
        }],
        Ok(DealOutcome::Rejected { reason, .. }) => vec![BrokerEvent::AmendRejected {
            deal_id: a.deal_id,
            reason,
            detail: None,
        }],
        Ok(DealOutcome::Unknown { detail, .. } | DealOutcome::NotFound { detail, .. }) => {
            match client.position(&a.deal_id).await {
                // Read back what IG holds now.
                Ok(p) => vec![BrokerEvent::Amended {
                    deal_id: a.deal_id,
                    stop_level: p.stop_level,
                    limit_level: p.limit_level,
                }],
                Err(e) => vec![BrokerEvent::AmendRejected {
                    deal_id: a.deal_id,
                    reason: RejectReason::Refused(format!(
                        "outcome unknown ({detail}); position unreadable: {e}"
                    )),
                    detail: None,
                }],
            }
        }
        Err(e) => {
            let mut ev = vec![BrokerEvent::AmendRejected {
                deal_id: a.deal_id,
                reason: RejectReason::Refused(e.to_string()),
                detail: None,
            }];
            if let Some(kind) = failure_kind(&e) {
                ev.push(BrokerEvent::Failure {
                    kind,
                    detail: e.to_string(),
                });
            }
            ev
        }
    }
}

/// The level at which the broker closed the position of close order `c` without our order
/// (its stop or limit, or the platform): the closing deal in the activity history when it is
/// there, else the closing side of the current market (an estimate, logged as such).
async fn recorded_or_market_close(client: &IgClient, c: &CloseOrder) -> Option<Price> {
    match client.close_level(&c.deal_id, c.direction).await {
        Ok(Some(close)) => return Some(close.level),
        Ok(None) => {
            tracing::warn!(deal_id = %c.deal_id, "the close is not in the activity history; valuing it at the market");
        }
        Err(e) => {
            tracing::warn!(deal_id = %c.deal_id, error = %e, "cannot read the activity history; valuing the close at the market");
        }
    }
    client
        .market(&c.epic)
        .await
        .ok()
        .and_then(|m| match c.direction {
            Direction::Sell => m.bid,
            Direction::Buy => m.offer,
        })
}
