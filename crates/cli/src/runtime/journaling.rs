//! Journaling for the live runner: the write-ahead intent before every opening request, the
//! outcome of every dealing request, fills, closes with P&L, halts and fallbacks; and the
//! reconciliation with the broker before the first trade.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::Context as _;
use scalper_engine::{Action, BrokerCommand, BrokerEvent, Engine, HaltReason};
use scalper_ig::{DealStatus, IgClient};
use scalper_journal::{
    BrokerPosition, BrokerView, Close, ConfirmLookup, ConfirmOutcome, Durability, Fill, Intent,
    Journal, OpenOptions, ReconciliationReport, SystemEvent,
};
use scalper_model::{DealState, Epic, Money, OrderType, Timestamp};

/// The runner's journal.
#[derive(Debug)]
pub struct JournalSink {
    journal: Journal,
    paper: bool,
    /// Last refusal reason per epic: a refusal is journaled when it differs from the last one,
    /// so a strategy asking every quote does not fsync every quote.
    last_refusal: HashMap<Epic, String>,
}

impl JournalSink {
    /// Opens (or creates) the journal; a corrupt, locked, newer or unwritable journal is an
    /// error and the file is left untouched.
    pub fn open(path: &Path, durable: bool, paper: bool) -> anyhow::Result<Self> {
        let opts = OpenOptions {
            durability: if durable {
                Durability::Full
            } else {
                Durability::Normal
            },
            ..OpenOptions::default()
        };
        let journal = Journal::open(path, &opts)
            .with_context(|| format!("opening the trade journal {}", path.display()))?;
        Ok(Self {
            journal,
            paper,
            last_refusal: HashMap::new(),
        })
    }

    /// The realised P&L and entries of the trading session containing `now` (the engine's
    /// session day: `risk.session_timezone` and `risk.session_start`), so the daily loss limit
    /// and the trade cap survive restarts.
    pub fn day_stats(
        &self,
        risk: &scalper_engine::RiskManager,
        now: Timestamp,
    ) -> anyhow::Result<(Money, u32)> {
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
            .context("reading today's totals from the journal")?;
        Ok((stats.realised_pnl - stats.fees, stats.trades_opened))
    }

    /// Compares the journal's open and unresolved trades with the broker, journals the report
    /// and applies its journal-side actions. Returns the report for printing.
    pub async fn reconcile(
        &mut self,
        client: &IgClient,
        now: Timestamp,
    ) -> anyhow::Result<ReconciliationReport> {
        let trades = self
            .journal
            .trades_to_reconcile()
            .context("reading open trades from the journal")?;
        let positions = client
            .positions()
            .await
            .context("reading positions from the broker for reconciliation")?;
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
                        reason: c.reason.unwrap_or_else(|| "REJECTED".into()),
                    }),
                    _ => None,
                },
                Err(e) if e.error_code().is_some_and(|c| c.contains("deal-not-found")) => {
                    Some(ConfirmLookup::NotFound)
                }
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
            .context("journaling the reconciliation report")?;
        Ok(report)
    }

    /// Journals what must be durable BEFORE a command is sent. An error means the command must
    /// not be sent.
    pub fn before_command(
        &mut self,
        cmd: &BrokerCommand,
        engine: &Engine,
        now: Timestamp,
    ) -> anyhow::Result<()> {
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
                    .with_context(|| format!("journaling the intent {}", o.deal_ref))?;
            }
            BrokerCommand::Close(c) => {
                if let Some(t) = engine
                    .trades()
                    .iter()
                    .find(|t| t.deal_id.as_ref() == Some(&c.deal_id))
                {
                    self.journal
                        .record_close_submitted(&t.open_ref, now)
                        .with_context(|| format!("journaling the close of {}", t.open_ref))?;
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
    ) -> anyhow::Result<()> {
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
            BrokerEvent::Rejected { deal_ref, reason } => {
                if opening(deal_ref) {
                    self.journal.record_confirm(
                        deal_ref,
                        now,
                        &ConfirmOutcome::Rejected {
                            reason: reason.clone(),
                        },
                    )?;
                } else if let Some(t) = engine
                    .trades()
                    .iter()
                    .find(|t| t.close_ref.as_ref() == Some(deal_ref))
                {
                    self.journal
                        .record_close_rejected(&t.open_ref, now, reason)?;
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
    pub fn on_action(&mut self, action: &Action, now: Timestamp) -> anyhow::Result<()> {
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
                    other => SystemEvent::BrokerFallback {
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

    /// Journals a system event (errors are logged, not fatal: these are not dealing records).
    pub fn event(&mut self, now: Timestamp, event: &SystemEvent) {
        if let Err(e) = self.journal.record_event(now, event) {
            tracing::error!(error = %e, "cannot journal a system event");
        }
    }
}
