//! [`IgBroker`]: the engine's [`Broker`] on IG's REST dealing API. Deal references come from the
//! engine; outcomes the client could not establish become `OutcomeUnknown` and are resolved
//! through `/confirms` and `/positions` before anything is resent.

use std::collections::HashMap;

use scalper_engine::{
    AmendOrder, Broker, BrokerCommand, BrokerEvent, CloseCause, CloseOrder, FailureKind, OpenOrder,
};
use scalper_ig::wire::positions::AmendPositionRequest;
use scalper_ig::{CloseRequest, DealOutcome, DealStatus, IgClient, IgError, OpenRequest};
use scalper_model::{DealReference, Epic, Money, Quote, Timestamp};

/// The live broker: every command is a REST dealing request through the session manager.
#[derive(Debug, Clone)]
pub struct IgBroker {
    client: IgClient,
    /// Latest quote time per epic: the engine's clock for the events this broker reports.
    now: Timestamp,
    last_quotes: HashMap<Epic, Quote>,
}

impl IgBroker {
    pub fn new(client: IgClient) -> Self {
        Self {
            client,
            now: Timestamp::from_millis(0),
            last_quotes: HashMap::new(),
        }
    }

    /// The time stamped on events: the latest quote's time (the engine never goes backwards).
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Remembers the latest quote (used to stamp events and value broker-side closes).
    pub fn note_quote(&mut self, quote: &Quote) {
        if quote.ts > self.now {
            self.now = quote.ts;
        }
        self.last_quotes.insert(quote.epic.clone(), quote.clone());
    }

    /// The latest quote of `epic`, if any.
    pub fn last_quote(&self, epic: &Epic) -> Option<&Quote> {
        self.last_quotes.get(epic)
    }

    async fn open(&self, o: OpenOrder) -> Vec<BrokerEvent> {
        let mut req = OpenRequest::market(o.epic.clone(), o.direction, o.size, o.currency.clone());
        req.expiry.clone_from(&o.expiry);
        req.stop_distance = o.stop_distance;
        req.limit_distance = o.limit_distance;
        req.deal_reference = Some(o.deal_ref.clone());
        match self.client.open_position(&req).await {
            Ok(outcome) => self.open_outcome(&o.deal_ref, outcome),
            Err(e) => vec![self.error_event(&o.deal_ref, &e)],
        }
    }

    fn open_outcome(&self, deal_ref: &DealReference, outcome: DealOutcome) -> Vec<BrokerEvent> {
        match outcome {
            DealOutcome::Accepted {
                deal_id: Some(deal_id),
                level: Some(level),
                size: Some(size),
                confirmation,
                ..
            } => vec![BrokerEvent::Accepted {
                deal_ref: deal_ref.clone(),
                deal_id,
                level,
                size,
                stop_level: confirmation.as_ref().and_then(|c| c.stop_level),
                limit_level: confirmation.as_ref().and_then(|c| c.limit_level),
                at: self.now,
            }],
            DealOutcome::Accepted { .. } => vec![BrokerEvent::OutcomeUnknown {
                deal_ref: deal_ref.clone(),
                detail: "accepted without deal id, level or size; resolving".into(),
            }],
            DealOutcome::Rejected { reason, .. } => vec![BrokerEvent::Rejected {
                deal_ref: deal_ref.clone(),
                reason,
            }],
            DealOutcome::NotFound { detail, .. } => vec![BrokerEvent::Rejected {
                deal_ref: deal_ref.clone(),
                reason: format!("no deal found for the reference: {detail}"),
            }],
            DealOutcome::Unknown { detail, .. } => vec![BrokerEvent::OutcomeUnknown {
                deal_ref: deal_ref.clone(),
                detail,
            }],
        }
    }

    async fn close(&self, c: CloseOrder) -> Vec<BrokerEvent> {
        let req = CloseRequest {
            deal_id: c.deal_id.clone(),
            position_direction: c.direction.opposite(),
            size: c.size,
            time_in_force: None,
            deal_reference: Some(c.deal_ref.clone()),
        };
        match self.client.close_position(&req).await {
            Ok(DealOutcome::Accepted {
                level,
                confirmation,
                ..
            }) => {
                let level = level
                    .or_else(|| confirmation.as_ref().and_then(|c| c.level))
                    .or_else(|| self.closing_level(&c));
                match level {
                    Some(level) => vec![BrokerEvent::PositionClosed {
                        deal_id: c.deal_id,
                        level,
                        pnl: confirmation.as_ref().and_then(|c| c.profit).map(Money::new),
                        cause: CloseCause::Engine,
                        at: self.now,
                    }],
                    None => vec![BrokerEvent::OutcomeUnknown {
                        deal_ref: c.deal_ref,
                        detail: "close accepted without a level".into(),
                    }],
                }
            }
            // The position is already gone (its stop or limit fired, or it was closed on the
            // platform, while our close was in flight): report it closed at the market.
            Ok(DealOutcome::Rejected { reason, .. }) if reason == "POSITION_NOT_FOUND" => {
                match self.closing_level(&c) {
                    Some(level) => {
                        tracing::warn!(deal_id = %c.deal_id, %level, "close refused with POSITION_NOT_FOUND: the position was closed by the broker; valuing it at the last quote");
                        vec![BrokerEvent::PositionClosed {
                            deal_id: c.deal_id,
                            level,
                            pnl: None,
                            cause: CloseCause::Manual,
                            at: self.now,
                        }]
                    }
                    None => vec![BrokerEvent::Rejected {
                        deal_ref: c.deal_ref,
                        reason,
                    }],
                }
            }
            Ok(DealOutcome::Rejected { reason, .. }) => vec![BrokerEvent::Rejected {
                deal_ref: c.deal_ref,
                reason,
            }],
            Ok(DealOutcome::NotFound { detail, .. } | DealOutcome::Unknown { detail, .. }) => {
                vec![BrokerEvent::OutcomeUnknown {
                    deal_ref: c.deal_ref,
                    detail,
                }]
            }
            Err(e) => vec![self.error_event(&c.deal_ref, &e)],
        }
    }

    /// The last quote's side a close in `c.direction` deals on (offer to buy, bid to sell).
    fn closing_level(&self, c: &CloseOrder) -> Option<scalper_model::Price> {
        self.last_quote(&c.epic).map(|q| match c.direction {
            scalper_model::Direction::Buy => q.offer,
            scalper_model::Direction::Sell => q.bid,
        })
    }

    async fn amend(&self, a: AmendOrder) -> Vec<BrokerEvent> {
        let body = AmendPositionRequest {
            stop_level: a.stop_level.map(scalper_model::Price::value),
            limit_level: a.limit_level.map(scalper_model::Price::value),
            ..AmendPositionRequest::default()
        };
        match self.client.amend_position(&a.deal_id, &body).await {
            Ok(DealOutcome::Accepted { .. }) => vec![BrokerEvent::Amended {
                deal_id: a.deal_id,
                stop_level: a.stop_level,
                limit_level: a.limit_level,
            }],
            Ok(DealOutcome::Rejected { reason, .. }) => vec![BrokerEvent::AmendRejected {
                deal_id: a.deal_id,
                reason,
            }],
            Ok(DealOutcome::NotFound { detail, .. } | DealOutcome::Unknown { detail, .. }) => {
                vec![BrokerEvent::AmendRejected {
                    deal_id: a.deal_id,
                    reason: format!("outcome unknown: {detail}"),
                }]
            }
            Err(e) if e.is_auth_refused() => vec![failure(&e)],
            Err(e) => vec![BrokerEvent::AmendRejected {
                deal_id: a.deal_id,
                reason: e.to_string(),
            }],
        }
    }

    async fn resolve(&self, deal_ref: DealReference, epic: &Epic) -> Vec<BrokerEvent> {
        match self.client.confirm(&deal_ref).await {
            Ok(c) => match c.status {
                DealStatus::Accepted => match (c.deal_id, c.level, c.size) {
                    (Some(deal_id), Some(level), Some(size)) => vec![BrokerEvent::Accepted {
                        deal_ref,
                        deal_id,
                        level,
                        size,
                        stop_level: c.stop_level,
                        limit_level: c.limit_level,
                        at: self.now,
                    }],
                    _ => self.resolve_by_positions(deal_ref, epic).await,
                },
                DealStatus::Rejected => vec![BrokerEvent::Rejected {
                    deal_ref,
                    reason: c.reason.unwrap_or_else(|| "REJECTED".into()),
                }],
                DealStatus::Other(_) => Vec::new(),
            },
            Err(e) if e.is_auth_refused() => vec![failure(&e)],
            Err(_) => self.resolve_by_positions(deal_ref, epic).await,
        }
    }

    async fn resolve_by_positions(&self, deal_ref: DealReference, epic: &Epic) -> Vec<BrokerEvent> {
        match self.client.positions().await {
            Ok(list) => {
                if let Some(p) = list
                    .into_iter()
                    .find(|p| p.deal_reference.as_ref() == Some(&deal_ref) && &p.epic == epic)
                {
                    vec![BrokerEvent::Accepted {
                        deal_ref,
                        deal_id: p.deal_id,
                        level: p.level,
                        size: p.size,
                        stop_level: p.stop_level,
                        limit_level: p.limit_level,
                        at: self.now,
                    }]
                } else {
                    // Neither a confirm nor a position: IG did not open anything under this
                    // reference (a deal opened and closed within the confirm window would look
                    // the same; the journal's reconciliation reports such cases).
                    vec![BrokerEvent::Rejected {
                        deal_ref,
                        reason: "resolution: no confirm and no position with this reference".into(),
                    }]
                }
            }
            Err(e) if e.is_auth_refused() => vec![failure(&e)],
            // Still unknown: the engine retries the resolution later.
            Err(_) => Vec::new(),
        }
    }

    fn error_event(&self, deal_ref: &DealReference, e: &IgError) -> BrokerEvent {
        if e.is_auth_refused() || e.is_fatal() {
            return failure(e);
        }
        // The client resolves unknown outcomes itself and returns `DealOutcome::Unknown`; an
        // error here means the request was refused before IG acted (validation, allowance) or
        // the session could not be recovered.
        if matches!(e, IgError::Transport { .. } | IgError::Timeout { .. }) {
            return BrokerEvent::OutcomeUnknown {
                deal_ref: deal_ref.clone(),
                detail: e.to_string(),
            };
        }
        BrokerEvent::Rejected {
            deal_ref: deal_ref.clone(),
            reason: e.to_string(),
        }
    }
}

fn failure(e: &IgError) -> BrokerEvent {
    let kind = if e.is_auth_refused() {
        FailureKind::Authentication
    } else if e.is_retryable() {
        FailureKind::Connectivity
    } else {
        FailureKind::Other
    };
    BrokerEvent::Failure {
        kind,
        detail: e.to_string(),
    }
}

impl Broker for IgBroker {
    fn execute(
        &mut self,
        cmd: BrokerCommand,
    ) -> impl std::future::Future<Output = Vec<BrokerEvent>> + Send {
        let this = self.clone();
        async move {
            match cmd {
                BrokerCommand::Open(o) => this.open(o).await,
                BrokerCommand::Close(c) => this.close(c).await,
                BrokerCommand::Amend(a) => this.amend(a).await,
                BrokerCommand::Resolve { deal_ref, epic } => this.resolve(deal_ref, &epic).await,
            }
        }
    }

    fn on_quote(&mut self, quote: &Quote) -> Vec<BrokerEvent> {
        self.note_quote(quote);
        Vec::new()
    }

    fn is_paper(&self) -> bool {
        false
    }
}
