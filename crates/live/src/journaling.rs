//! Journaling for the live runner: the write-ahead intent before every opening request, the
//! outcome of every dealing request, fills, closes with P&L, halts and fallbacks; and the
//! reconciliation with the broker before the first trade.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::LiveError;
use scalper_engine::event::rejection_text;
use scalper_engine::{Action, BrokerCommand, BrokerEvent, Engine, HaltReason, RestoredPosition};
use scalper_ig::{DealStatus, IgClient};
use scalper_journal::{
    Amendment, BrokerPosition, BrokerView, Close, ConfirmLookup, ConfirmOutcome, Durability, Fill,
    Intent, Journal, JournalError, OpenOptions, ReconciliationReport, SystemEvent,
};
use scalper_model::{
    DealId, DealState, Direction, Epic, Instrument, Money, OrderType, Price, Timestamp,
};

/// The runner's journal.
#[derive(Debug)]
pub struct JournalSink {
    journal: Journal,
    paper: bool,
    /// Last refusal reason per epic: a refusal is journaled when it differs from the last one,
    /// so a strategy asking every quote does not fsync every quote.
    last_refusal: HashMap<Epic, String>,
    /// Session counters already journaled (logins, refreshes, recovered token errors).
    seen_session: (u64, u64, u64),
}

impl JournalSink {
    /// Opens (or creates) the journal; a corrupt, locked, newer or unwritable journal is an
    /// error and the file is left untouched.
    pub fn open(path: &Path, durable: bool, paper: bool) -> Result<Self, LiveError> {
        let opts = OpenOptions {
            durability: if durable {
                Durability::Full
            } else {
                Durability::Normal
            },
            // The event loop writes the journal: checkpoints happen on a thread of their own.
            background_checkpoint: true,
            ..OpenOptions::default()
        };
        let journal = Journal::open(path, &opts).map_err(LiveError::journal(format!(
            "opening the trade journal {}",
            path.display()
        )))?;
        Ok(Self {
            journal,
            paper,
            last_refusal: HashMap::new(),
            seen_session: (0, 0, 0),
        })
    }

    /// The realised P&L and entries of the trading session containing `now` (the engine's
    /// session day: `risk.session_timezone` and `risk.session_start`), so the daily loss limit
    /// and the trade cap survive restarts.
    pub fn day_stats(
        &self,
        risk: &scalper_engine::RiskManager,
        now: Timestamp,
    ) -> Result<(Money, u32), LiveError> {
        const DAY: i64 = 86_400_000;
        let end = risk.next_session_start(now);
        // The last session boundary at or before `now`: walk forward from two days back (a DST
        // day is 23 or 25 hours, so fixed arithmetic would miss it).
        let mut start = risk.next_session_start(now.plus_millis(-2 * DAY));
        loop {
            let next = risk.next_session_start(start);
            if next > now || next <= start {
                break;
            }
            start = next;
        }
        let stats = self
            .journal
            .day_stats(start, end)
            .map_err(LiveError::journal(
                "reading today's totals from the journal",
            ))?;
        Ok((stats.realised_pnl - stats.fees, stats.trades_opened))
    }

    /// Compares the journal's open and unresolved trades with the broker, journals the report
    /// and applies its journal-side actions. Returns the report for printing.
    pub async fn reconcile(
        &mut self,
        client: &IgClient,
        now: Timestamp,
    ) -> Result<ReconciliationReport, LiveError> {
        let trades = self
            .journal
            .trades_to_reconcile()
            .map_err(LiveError::journal("reading open trades from the journal"))?;
        let positions = client.positions().await.map_err(LiveError::broker(
            "reading positions from the broker for reconciliation",
        ))?;
        let mut confirms = BTreeMap::new();
        for t in trades.iter().filter(|t| {
            matches!(
                t.state,
                DealState::Intent | DealState::Submitted | DealState::Unknown
            )
        }) {
            let lookup = match client.confirm(&t.deal_reference).await {
                Ok(c) => match (c.status, c.deal_id) {
                    (DealStatus::Accepted, Some(deal_id)) => Some(ConfirmLookup::Accepted {
                        deal_id,
                        level: c.level,
                    }),
                    (DealStatus::Rejected, _) => Some(ConfirmLookup::Rejected {
                        reason: c
                            .reject_reason
                            .map_or_else(|| "REJECTED".into(), |r| r.to_string()),
                    }),
                    _ => None,
                },
                Err(e) if e.is_deal_not_found() => Some(ConfirmLookup::NotFound),
                Err(_) => None,
            };
            if let Some(l) = lookup {
                confirms.insert(t.deal_reference.clone(), l);
            }
        }
        let view = BrokerView {
            positions: positions
                .into_iter()
                .map(|p| BrokerPosition {
                    deal_id: p.deal_id,
                    deal_reference: p.deal_reference,
                    epic: p.epic,
                    direction: p.direction,
                    size: p.size,
                    level: p.level,
                    stop_level: p.stop_level,
                    limit_level: p.limit_level,
                })
                .collect(),
            confirms,
        };
        let report = scalper_journal::reconcile(&trades, &view);
        self.journal
            .apply_reconciliation(now, &report)
            .map_err(LiveError::journal("journaling the reconciliation report"))?;
        Ok(report)
    }

    /// Completes the P&L of trades that closed at the broker while the engine was not running
    /// (reconciliation marks them closed externally, P&L pending): the close level comes from
    /// the broker's activity history for the deal, the P&L from the instrument, booked in
    /// cents like the engine's own closes. Returns (completed, still pending); a trade whose
    /// history says nothing stays pending and is tried again at the next start.
    pub async fn complete_external_closes(
        &mut self,
        client: &IgClient,
        instruments: &[Instrument],
        now: Timestamp,
    ) -> Result<(usize, usize), LiveError> {
        let pending = self
            .journal
            .pending_external_closes()
            .map_err(LiveError::journal(
                "reading trades closed at the broker while the engine was down",
            ))?;
        let mut loaded: Vec<Instrument> = Vec::new();
        let (mut done, mut left) = (0, 0);
        for t in pending {
            let (Some(deal_id), Some(entry)) = (t.deal_id.as_ref(), t.open_level) else {
                left += 1;
                continue;
            };
            let inst = match instruments
                .iter()
                .chain(loaded.iter())
                .find(|i| i.epic == t.epic)
            {
                Some(i) => i.clone(),
                None => match client.market(&t.epic).await {
                    Ok(m) => {
                        loaded.push(m.instrument.clone());
                        m.instrument
                    }
                    Err(e) => {
                        tracing::warn!(epic = %t.epic, error = %e, "cannot load the instrument to value an external close");
                        left += 1;
                        continue;
                    }
                },
            };
            let Some((level, at)) = broker_close(client, deal_id, t.direction).await else {
                tracing::warn!(deal_id = %deal_id, reference = %t.deal_reference,
                    "closed at the broker while the engine was down; its close is not in the activity history yet (P&L pending)");
                left += 1;
                continue;
            };
            let pnl = inst.pnl(t.direction, t.size, entry, level).round_cents();
            self.journal
                .record_close(
                    &t.deal_reference,
                    &Close {
                        ts: at.unwrap_or(now),
                        level,
                        pnl,
                        fees: Money::ZERO,
                        reason: "closed at the broker while the engine was down".into(),
                    },
                )
                .map_err(LiveError::journal(format!(
                    "journaling the external close of {}",
                    t.deal_reference
                )))?;
            tracing::info!(deal_id = %deal_id, reference = %t.deal_reference, %level, %pnl,
                "external close valued from the broker's history");
            done += 1;
        }
        Ok((done, left))
    }

    /// The journal's open positions (after reconciliation), for the engine to manage from its
    /// first event. A trade left `closing` by a crash whose position the broker still holds is
    /// reopened (its close never took effect). Positions on instruments this run does not trade
    /// are left with their broker stops and listed in the second vector.
    pub fn positions_to_manage(
        &mut self,
        instruments: &[Instrument],
        now: Timestamp,
    ) -> Result<(Vec<RestoredPosition>, Vec<String>), LiveError> {
        let mut out = Vec::new();
        let mut unmanaged = Vec::new();
        if self.paper {
            return Ok((out, unmanaged));
        }
        let open = self.journal.open_trades().map_err(LiveError::journal(
            "reading open positions from the journal",
        ))?;
        for t in open {
            if t.paper || !matches!(t.state, DealState::Open | DealState::Closing) {
                continue;
            }
            let (Some(deal_id), Some(level)) = (t.deal_id.clone(), t.open_level) else {
                // Not expected after reconciliation (it sets both); never dropped silently.
                unmanaged.push(format!(
                    "{} {} {} {} (its deal id or open level is not in the journal)",
                    t.deal_reference,
                    t.epic,
                    t.direction.as_str(),
                    t.size
                ));
                continue;
            };
            if !instruments.iter().any(|i| i.epic == t.epic) {
                unmanaged.push(format!(
                    "{} {} {} {} (an instrument this run does not trade: add it to manage the position)",
                    deal_id,
                    t.epic,
                    t.direction.as_str(),
                    t.size
                ));
                continue;
            }
            if t.state == DealState::Closing {
                self.journal
                    .record_close_rejected(
                        &t.deal_reference,
                        now,
                        "the broker still holds the position after a restart",
                    )
                    .map_err(LiveError::journal(format!(
                        "reopening {} in the journal",
                        t.deal_reference
                    )))?;
            }
            out.push(RestoredPosition {
                epic: t.epic,
                direction: t.direction,
                size: t.size,
                deal_reference: t.deal_reference,
                deal_id,
                level,
                opened_at: t.opened_at,
                stop_level: t.stop_level,
                limit_level: t.limit_level,
                adopted: t.adopted,
            });
        }
        Ok((out, unmanaged))
    }

    /// Journals what must be durable BEFORE a command is sent. An error means the command must
    /// not be sent.
    pub fn before_command(
        &mut self,
        cmd: &BrokerCommand,
        engine: &Engine,
        now: Timestamp,
    ) -> Result<(), LiveError> {
        match cmd {
            BrokerCommand::Open(o) => {
                let trade = engine.trades().iter().find(|t| t.open_ref == o.deal_ref);
                self.journal
                    .record_intent(&Intent {
                        ts: now,
                        deal_reference: o.deal_ref.clone(),
                        epic: o.epic.clone(),
                        direction: o.direction,
                        size: o.size,
                        order_type: OrderType::Market,
                        level: None,
                        stop_level: trade.and_then(|t| t.stop_level),
                        limit_level: trade.and_then(|t| t.limit_level),
                        paper: self.paper || trade.is_some_and(|t| t.paper),
                        strategy: engine.market(&o.epic).map(|m| m.strategy.to_string()),
                    })
                    .map_err(LiveError::journal(format!(
                        "journaling the intent {}",
                        o.deal_ref
                    )))?;
            }
            BrokerCommand::Close(c) => {
                if let Some(t) = engine
                    .trades()
                    .iter()
                    .find(|t| t.deal_id.as_ref() == Some(&c.deal_id))
                {
                    self.journal
                        .record_close_submitted(&t.open_ref, now)
                        .map_err(LiveError::journal(format!(
                            "journaling the close of {}",
                            t.open_ref
                        )))?;
                }
            }
            BrokerCommand::Amend(_) | BrokerCommand::Resolve { .. } => {}
        }
        Ok(())
    }

    /// Journals a broker report (before the engine sees it).
    pub fn on_broker_event(
        &mut self,
        ev: &BrokerEvent,
        engine: &Engine,
        now: Timestamp,
    ) -> Result<(), JournalError> {
        let opening = |r: &scalper_model::DealReference| {
            engine.trades().iter().any(|t| {
                &t.open_ref == r && !matches!(t.state, DealState::Open | DealState::Closing)
            })
        };
        match ev {
            BrokerEvent::Accepted {
                deal_ref,
                deal_id,
                level,
                ..
            } if opening(deal_ref) => {
                self.journal.record_confirm(
                    deal_ref,
                    now,
                    &ConfirmOutcome::Accepted {
                        deal_id: deal_id.clone(),
                        level: Some(*level),
                    },
                )?;
            }
            BrokerEvent::Rejected {
                deal_ref,
                reason,
                detail,
            } => {
                // The journal keeps the reason as readable text, as reconciliation does.
                let reason = rejection_text(reason, detail.as_deref());
                if opening(deal_ref) {
                    self.journal.record_confirm(
                        deal_ref,
                        now,
                        &ConfirmOutcome::Rejected { reason },
                    )?;
                } else if let Some(t) = engine
                    .trades()
                    .iter()
                    .find(|t| t.close_ref.as_ref() == Some(deal_ref))
                {
                    self.journal
                        .record_close_rejected(&t.open_ref, now, &reason)?;
                }
            }
            BrokerEvent::OutcomeUnknown { deal_ref, detail } if opening(deal_ref) => {
                self.journal.record_confirm(
                    deal_ref,
                    now,
                    &ConfirmOutcome::Unknown {
                        detail: detail.clone(),
                    },
                )?;
            }
            BrokerEvent::Amended {
                deal_id,
                stop_level,
                limit_level,
            } => {
                if let Some(t) = engine
                    .trades()
                    .iter()
                    .find(|t| t.deal_id.as_ref() == Some(deal_id))
                {
                    self.journal.record_amendment(
                        &t.open_ref,
                        &Amendment {
                            ts: now,
                            stop_level: *stop_level,
                            limit_level: *limit_level,
                        },
                    )?;
                }
            }
            BrokerEvent::Failure { kind, detail } => {
                self.journal.record_event(
                    now,
                    &SystemEvent::BrokerFallback {
                        policy: format!("broker failure ({kind:?})"),
                        reason: detail.clone(),
                    },
                )?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Journals an engine action that is not a broker command.
    pub fn on_action(
        &mut self,
        action: &Action,
        engine: &Engine,
        now: Timestamp,
    ) -> Result<(), JournalError> {
        match action {
            Action::TradeOpened(t) => {
                self.journal.record_fill(
                    &t.deal_ref,
                    &Fill {
                        ts: t.at,
                        deal_id: t.deal_id.clone(),
                        level: t.level,
                        size: t.size,
                    },
                )?;
            }
            Action::TradeClosed(c) => {
                self.journal.record_close(
                    &c.deal_ref,
                    &Close {
                        ts: c.exit_time,
                        level: c.exit_price,
                        pnl: c.pnl,
                        fees: Money::ZERO,
                        reason: format!("{:?}: {}", c.cause, c.reason).to_lowercase(),
                    },
                )?;
            }
            Action::Refused {
                epic,
                direction,
                reason,
            } => {
                let text = reason.to_string();
                if self.last_refusal.get(epic) != Some(&text) {
                    self.last_refusal.insert(epic.clone(), text.clone());
                    self.journal.record_event(
                        now,
                        &SystemEvent::RiskRefusal {
                            epic: epic.clone(),
                            direction: *direction,
                            size: None,
                            reason: text,
                        },
                    )?;
                }
            }
            Action::Halted { reason } => {
                let event = match reason {
                    HaltReason::KillSwitch => SystemEvent::KillSwitch {
                        reason: "kill switch".into(),
                        close_positions: true,
                    },
                    HaltReason::DailyLossLimit => SystemEvent::DailyLossLimit {
                        realised: engine.summary().day_pnl,
                        limit: engine
                            .risk()
                            .config()
                            .daily_loss_limit
                            .map_or(Money::ZERO, Money::new),
                    },
                    other @ HaltReason::BrokerFailure => SystemEvent::BrokerFallback {
                        policy: "halt".into(),
                        reason: other.to_string(),
                    },
                };
                self.journal.record_event(now, &event)?;
            }
            Action::PaperFallback { detail } => {
                self.journal.record_event(
                    now,
                    &SystemEvent::BrokerFallback {
                        policy: "paper".into(),
                        reason: detail.clone(),
                    },
                )?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Journals what changed in the IG session since the last call (logins, token refreshes,
    /// recovered token errors), from the client's counters.
    pub fn session_events(&mut self, stats: &scalper_ig::SessionStats, now: Timestamp) {
        let (logins, refreshes, recovered) =
            (stats.logins, stats.refreshes, stats.token_errors_recovered);
        for _ in self.seen_session.0..logins {
            self.event(now, &SystemEvent::Login { account: None });
        }
        for _ in self.seen_session.1..refreshes {
            self.event(now, &SystemEvent::Refresh);
        }
        for _ in self.seen_session.2..recovered {
            self.event(
                now,
                &SystemEvent::TokenErrorRecovered {
                    detail: "token invalid: session recovered, request resent once".into(),
                },
            );
        }
        self.seen_session = (
            logins.max(self.seen_session.0),
            refreshes.max(self.seen_session.1),
            recovered.max(self.seen_session.2),
        );
    }

    /// Journals a stream status change that matters afterwards: gaps and reconnections.
    pub fn stream_status(
        &mut self,
        status: &scalper_ig::stream::StreamStatus,
        gap_ms: i64,
        now: Timestamp,
    ) {
        use scalper_ig::stream::StreamStatus;
        match status {
            StreamStatus::Gap { .. } => self.event(now, &SystemEvent::StreamGap { gap_ms }),
            StreamStatus::Reconnecting { attempt, .. } => {
                self.event(now, &SystemEvent::StreamReconnect { attempt: *attempt });
            }
            _ => {}
        }
    }

    /// Journals a system event (errors are logged, not fatal: these are not dealing records).
    pub fn event(&mut self, now: Timestamp, event: &SystemEvent) {
        if let Err(e) = self.journal.record_event(now, event) {
            tracing::error!(error = %e, "cannot journal a system event");
        }
    }
}

/// The level (and time, when known) of the deal that closed position `deal_id`, from the
/// broker's activity history (`/history/activity?dealId=`): the activity in the closing
/// direction. `None` when the history cannot be read or does not show it.
pub async fn broker_close(
    client: &IgClient,
    deal_id: &DealId,
    direction: Direction,
) -> Option<(Price, Option<Timestamp>)> {
    match client.close_level(deal_id, direction.opposite()).await {
        Ok(found) => found.map(|c| (c.level, c.at)),
        Err(e) => {
            tracing::warn!(deal_id = %deal_id, error = %e, "cannot read the activity history");
            None
        }
    }
}
