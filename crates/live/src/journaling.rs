//! Journaling for the live runner: the write-ahead intent before every opening request, the
//! outcome of every dealing request, fills, closes with P&L, halts and fallbacks; and the
//! reconciliation with the broker before the first trade.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use crate::telemetry::LatencyHistogram;
use crate::LiveError;
use scalper_engine::event::rejection_text;
use scalper_engine::{
    Action, BrokerCommand, BrokerEvent, Engine, HaltReason, RestoredPosition,
    StopKind as EngineStopKind,
};
use scalper_ig::{DealStatus, IgClient};
use scalper_journal::{
    Amendment, BrokerPosition, BrokerView, Close, ConfirmLookup, ConfirmOutcome, Durability,
    Execution, Fill, Intent, IntentWriter, Journal, JournalError, OpenOptions, PartialClose,
    ReconciliationReport, StopKind, SystemEvent,
};
use scalper_model::{
    DealId, DealReference, DealState, Direction, Epic, Instrument, Money, OrderType, Points, Price,
    Timestamp,
};

/// The runner's journal. At start-up it is used directly (reads, reconciliation); for trading
/// [`JournalSink::start_writer`] hands it to a thread of its own, so no SQLite transaction ever
/// runs on the event loop: the loop builds each record and queues it (in order), and a failed
/// write comes back through [`JournalSink::next_failure`]. Only the write-ahead of an opening
/// request stays on the loop, as one append to the intent log.
#[derive(Debug)]
pub struct JournalSink {
    /// The journal while used directly (start-up); `None` once the writer thread owns it.
    direct: Option<Journal>,
    writer: Option<Writer>,
    intents: IntentWriter,
    paper: bool,
    /// Last refusal reason per epic: a refusal is journaled when it differs from the last one,
    /// so a strategy asking every quote does not fsync every quote.
    last_refusal: HashMap<Epic, String>,
    /// Session counters already journaled (logins, refreshes, recovered token errors).
    seen_session: (u64, u64, u64),
    /// Why the broker closed a position, from IG's history, until the engine books the close.
    close_reasons: HashMap<DealId, String>,
    /// The level an entry (by its reference) and an engine-sent close (by the trade's
    /// reference) were expected at: the deciding quote's side, for the execution record.
    /// (Boxed: the run's future stays small.)
    expected: Box<Expected>,
}

#[derive(Debug, Default)]
struct Expected {
    entry: HashMap<DealReference, Price>,
    /// The level and the deciding quote's time.
    exit: HashMap<DealReference, (Price, Timestamp)>,
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
        let intents = journal.intent_writer().ok_or_else(|| LiveError::Journal {
            context: format!("opening the trade journal {}", path.display()),
            source: JournalError::ReadOnly,
        })?;
        Ok(Self {
            direct: Some(journal),
            writer: None,
            intents,
            paper,
            last_refusal: HashMap::new(),
            seen_session: (0, 0, 0),
            close_reasons: HashMap::new(),
            expected: Box::default(),
        })
    }

    /// The number the next trade gets in the journal, so the engine uses the same.
    pub fn next_trade_id(&self) -> Result<u64, LiveError> {
        let id = self
            .direct_ref()?
            .next_trade_id()
            .map_err(LiveError::journal("reading the journal's next trade id"))?;
        Ok(u64::try_from(id).unwrap_or(1))
    }

    /// The realised P&L and entries of the trading session containing `now` (the engine's
    /// session day: `risk.session_timezone` and `risk.session_start`), so the daily loss limit
    /// and the trade cap survive restarts.
    pub fn day_stats(
        &self,
        risk: &scalper_engine::RiskManager,
        now: Timestamp,
    ) -> Result<(Money, u32), LiveError> {
        let (start, end) = session_bounds(risk, now);
        let stats = self
            .direct_ref()?
            .day_stats(start, end)
            .map_err(LiveError::journal(
                "reading today's totals from the journal",
            ))?;
        Ok((stats.realised_pnl - stats.fees, stats.trades_opened))
    }

    /// Today's realised equity curve from the journal: the session's start at zero, then the
    /// running realised P&L (less fees) after each trade closed and each partial close made
    /// since, in time order; empty when nothing was realised today (the curve then starts with
    /// the run).
    pub fn day_curve(
        &self,
        risk: &scalper_engine::RiskManager,
        now: Timestamp,
    ) -> Result<Vec<(Timestamp, Money)>, LiveError> {
        let (start, end) = session_bounds(risk, now);
        let closes = self
            .direct_ref()?
            .closes_between(start, end)
            .map_err(LiveError::journal(
                "reading today's closes from the journal",
            ))?;
        if closes.is_empty() {
            return Ok(Vec::new());
        }
        let mut total = Money::ZERO;
        let mut curve = Vec::with_capacity(closes.len() + 1);
        curve.push((start, Money::ZERO));
        for (at, pnl) in closes {
            total += pnl;
            curve.push((at, total));
        }
        Ok(curve)
    }

    /// Closes the paper trades an earlier paper run left open (no exit price): they never met
    /// the broker, so they are never reconciled with it. Each is logged at WARN.
    pub fn abandon_paper_trades(&mut self, now: Timestamp) -> Result<usize, LiveError> {
        let left = self
            .direct()?
            .abandon_paper_trades(now)
            .map_err(LiveError::journal(
                "closing paper trades an earlier paper run left open",
            ))?;
        for t in &left {
            tracing::warn!(trade = t.id.0, reference = %t.deal_reference, epic = %t.epic,
                direction = %t.direction, size = %t.size,
                "a paper position from an earlier paper run was left open; closed in the journal as paper_abandoned (no exit price, no P&L)");
        }
        Ok(left.len())
    }

    /// Compares the journal's open and unresolved trades with the broker, journals the report
    /// and applies its journal-side actions. Returns the report for printing.
    pub async fn reconcile(
        &mut self,
        client: &IgClient,
        now: Timestamp,
    ) -> Result<ReconciliationReport, LiveError> {
        let trades = self
            .direct()?
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
                Err(e) if e.is_deal_not_found() => {
                    opened_by_reference(client, &t.deal_reference, t.created_at).await
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
        self.direct()?
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
            .direct()?
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
            // The trade's P&L is the whole trade's: its partial closes and the rest.
            let partial = self.partial_pnl(&t)?;
            let mut pnl = inst.pnl(t.direction, t.size, entry, level).round_cents();
            let mut reason = String::from("closed at the broker while the engine was down");
            // A guaranteed stop IG triggered meanwhile cost its premium (IG books it as a
            // transaction of its own), as it would have with the engine running.
            if let (
                StopKind::Guaranteed { premium_points },
                Some(scalper_engine::CloseCause::Stop),
            ) = (
                t.stop_kind,
                crate::closes::level_cause(t.direction, level, t.stop_level, None),
            ) {
                let points = premium_points.or_else(|| {
                    inst.rules
                        .guaranteed_stop
                        .map(|g| g.premium.points_at(entry, inst.point_size).value())
                });
                if let Some(points) = points {
                    let premium = inst
                        .pnl(
                            Direction::Buy,
                            t.size,
                            entry,
                            entry + points * inst.point_size,
                        )
                        .round_cents();
                    pnl -= premium;
                    reason = format!(
                        "{reason}; guaranteed stop triggered: premium {} points ({})",
                        points.normalize(),
                        scalper_model::economics::Amount::new(premium, inst.account_currency())
                    );
                }
            }
            let pnl = pnl + partial;
            self.direct()?
                .record_close(
                    &t.deal_reference,
                    &Close {
                        ts: at.unwrap_or(now),
                        level,
                        pnl,
                        fees: Money::ZERO,
                        reason,
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
        let open = self.direct()?.open_trades().map_err(LiveError::journal(
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
                self.direct()?
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
            let partial_pnl = self.partial_pnl(&t)?;
            let (stop_kind, premium_points) = engine_stop_kind(t.stop_kind);
            out.push(RestoredPosition {
                stop_kind,
                premium_points,
                partial_pnl,
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
                trade_id: u64::try_from(t.id.0).ok(),
            });
        }
        Ok((out, unmanaged))
    }

    /// The write-ahead of a command, BEFORE it is sent; an error means it must not be sent.
    /// An opening request's intent is appended to the journal's intent log on the spot (one
    /// `write`, see `Journal::log_intent`); its SQLite record, and a close's `closing` state,
    /// are queued for the writer. (A close needs no write-ahead: a close the journal missed is a
    /// position the broker no longer holds, which reconciliation finds and values.)
    pub fn write_ahead(
        &mut self,
        cmd: &BrokerCommand,
        engine: &Engine,
        now: Timestamp,
    ) -> Result<(), LiveError> {
        match cmd {
            BrokerCommand::Open(o) => {
                let trade = engine.trades().iter().find(|t| t.open_ref == o.deal_ref);
                let intent = Intent {
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
                };
                let context = format!("journaling the intent {}", o.deal_ref);
                self.intents
                    .append(&intent)
                    .map_err(LiveError::journal(context.clone()))?;
                let engine_id = trade.map(|t| t.trade_id);
                // The broker's kind of stop from the start, so a crash before the fill keeps it
                // (a guaranteed stop's premium comes with the fill).
                let stop_kind = trade
                    .map(|t| journal_stop_kind(t.stop_kind, None))
                    .filter(|k| *k != StopKind::Normal);
                let signal = engine.market(&o.epic).and_then(|m| {
                    let q = m.last_quote?;
                    Some(Execution {
                        signal_at: Some(q.ts),
                        signal_bid: Some(q.bid),
                        signal_ask: Some(q.offer),
                        entry_spread: Some(m.instrument.to_points(q.offer - q.bid).value()),
                        ..Execution::default()
                    })
                });
                if let Some(level) = signal.as_ref().and_then(|s| match o.direction {
                    Direction::Buy => s.signal_ask,
                    Direction::Sell => s.signal_bid,
                }) {
                    self.expected.entry.insert(o.deal_ref.clone(), level);
                }
                self.write(context, move |j| {
                    let id = j.record_intent(&intent)?;
                    if engine_id.is_some_and(|n| i64::try_from(n).ok() != Some(id.0)) {
                        tracing::warn!(journal_id = id.0, engine_id = ?engine_id, reference = %intent.deal_reference,
                            "the journal numbered this trade differently from the engine (an intent was lost?)");
                    }
                    if let Some(k) = stop_kind {
                        j.record_stop_kind(&intent.deal_reference, now, &k)?;
                    }
                    match signal {
                        Some(s) => j.record_execution(&intent.deal_reference, now, &s),
                        None => Ok(()),
                    }
                })?;
            }
            BrokerCommand::Close(c) => {
                if let Some(t) = engine.trades().iter().find(|t| {
                    t.deal_id.as_ref() == Some(&c.deal_id)
                        // A partial close leaves the trade open: journaled when it fills.
                        && t.reducing.as_ref().is_none_or(|(r, _, _)| *r != c.deal_ref)
                }) {
                    let reference = t.open_ref.clone();
                    // Closing a buy sells at the bid; closing a sell buys at the offer.
                    if let Some(q) = engine.market(&t.epic).and_then(|m| m.last_quote) {
                        let level = match t.direction {
                            Direction::Buy => q.bid,
                            Direction::Sell => q.offer,
                        };
                        self.expected.exit.insert(reference.clone(), (level, q.ts));
                    }
                    self.write(format!("journaling the close of {reference}"), move |j| {
                        j.record_close_submitted(&reference, now).map(drop)
                    })?;
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
    ) -> Result<(), LiveError> {
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
                let (r, outcome) = (
                    deal_ref.clone(),
                    ConfirmOutcome::Accepted {
                        deal_id: deal_id.clone(),
                        level: Some(*level),
                    },
                );
                self.write(format!("journaling the confirm of {r}"), move |j| {
                    j.record_confirm(&r, now, &outcome).map(drop)
                })?;
            }
            BrokerEvent::Rejected {
                deal_ref,
                reason,
                detail,
            } => {
                // The journal keeps the reason as readable text, as reconciliation does.
                let reason = rejection_text(reason, detail.as_deref());
                if opening(deal_ref) {
                    self.expected.entry.remove(deal_ref);
                    let (r, outcome) = (deal_ref.clone(), ConfirmOutcome::Rejected { reason });
                    self.write(format!("journaling the rejection of {r}"), move |j| {
                        j.record_confirm(&r, now, &outcome).map(drop)
                    })?;
                } else if let Some(t) = engine
                    .trades()
                    .iter()
                    .find(|t| t.close_ref.as_ref() == Some(deal_ref))
                {
                    let (r, reason) = (t.open_ref.clone(), reason.clone());
                    // A later close is compared with the quote it is sent on, not this one's.
                    self.expected.exit.remove(&r);
                    self.write(format!("journaling the refused close of {r}"), move |j| {
                        j.record_close_rejected(&r, now, &reason).map(drop)
                    })?;
                }
            }
            BrokerEvent::OutcomeUnknown { deal_ref, detail } if opening(deal_ref) => {
                let (r, outcome) = (
                    deal_ref.clone(),
                    ConfirmOutcome::Unknown {
                        detail: detail.clone(),
                    },
                );
                self.write(format!("journaling the unknown outcome of {r}"), move |j| {
                    j.record_confirm(&r, now, &outcome).map(drop)
                })?;
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
                    let r = t.open_ref.clone();
                    let amendment = Amendment {
                        ts: now,
                        stop_level: *stop_level,
                        limit_level: *limit_level,
                    };
                    self.write(format!("journaling the amendment of {r}"), move |j| {
                        j.record_amendment(&r, &amendment).map(drop)
                    })?;
                }
            }
            BrokerEvent::Failure { kind, detail } => {
                self.record_event(
                    now,
                    SystemEvent::BrokerFallback {
                        policy: format!("broker failure ({kind:?})"),
                        reason: detail.clone(),
                    },
                )?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Journals when an opening request went out, was acknowledged and confirmed.
    pub fn on_timing(
        &mut self,
        t: crate::execution::DealTiming,
        now: Timestamp,
    ) -> Result<(), LiveError> {
        let exec = Execution {
            sent_at: Some(t.sent_at),
            acked_at: t.acked_at,
            confirmed_at: t.confirmed_at,
            ..Execution::default()
        };
        let r = t.deal_ref;
        self.write(format!("journaling the timing of {r}"), move |j| {
            j.record_execution(&r, now, &exec)
        })
    }

    /// Journals an engine action that is not a broker command.
    pub fn on_action(
        &mut self,
        action: &Action,
        engine: &Engine,
        now: Timestamp,
    ) -> Result<(), LiveError> {
        match action {
            Action::TradeOpened(t) => {
                let (r, fill) = (
                    t.deal_ref.clone(),
                    Fill {
                        ts: t.at,
                        deal_id: t.deal_id.clone(),
                        level: t.level,
                        size: t.size,
                        stop_level: t.stop_level,
                        limit_level: t.limit_level,
                    },
                );
                let slippage = self
                    .expected
                    .entry
                    .remove(&t.deal_ref)
                    .and_then(|expected| {
                        let m = engine.market(&t.epic)?;
                        let worse = (t.level - expected) * t.direction.sign();
                        Some(Execution {
                            slippage_points: Some(m.instrument.to_points(worse).value()),
                            slippage: Some(m.instrument.pnl(
                                t.direction,
                                t.size,
                                expected,
                                t.level,
                            )),
                            ..Execution::default()
                        })
                    });
                // A guaranteed stop's premium, fixed at the fill, for a restart (the kind was
                // journaled with the intent).
                let stop_kind = engine
                    .trades()
                    .iter()
                    .find(|e| e.open_ref == t.deal_ref)
                    .map(|e| journal_stop_kind(e.stop_kind, e.premium_points))
                    .filter(|k| matches!(k, StopKind::Guaranteed { .. }));
                let at = t.at;
                self.write(format!("journaling the fill of {r}"), move |j| {
                    j.record_fill(&r, &fill)?;
                    if let Some(k) = stop_kind {
                        j.record_stop_kind(&r, at, &k)?;
                    }
                    match slippage {
                        Some(s) => j.record_execution(&r, now, &s),
                        None => Ok(()),
                    }
                })?;
            }
            Action::TradeClosed(c) => {
                let broker_reason = self.close_reasons.remove(&c.deal_id);
                let reason = match (c.reason.is_empty(), broker_reason) {
                    (false, _) => format!("{:?}: {}", c.cause, c.reason).to_lowercase(),
                    (true, Some(r)) => r,
                    (true, None) => format!("{:?}", c.cause).to_lowercase(),
                };
                let (r, close) = (
                    c.deal_ref.clone(),
                    Close {
                        ts: c.exit_time,
                        level: c.exit_price,
                        pnl: c.pnl,
                        fees: Money::ZERO,
                        reason,
                    },
                );
                let expected = self.expected.exit.remove(&c.deal_ref);
                let exit = engine.market(&c.epic).and_then(|m| {
                    let q = m.last_quote?;
                    let points = |d| m.instrument.to_points(d).value();
                    Some(Execution {
                        exit_spread: Some(points(q.offer - q.bid)),
                        exit_slippage_points: expected
                            .map(|(e, _)| points((e - c.exit_price) * c.direction.sign())),
                        exit_signal_at: expected.map(|(_, at)| at),
                        ..Execution::default()
                    })
                });
                self.write(format!("journaling the close of {r}"), move |j| {
                    j.record_close(&r, &close)?;
                    match exit {
                        Some(e) => j.record_execution(&r, now, &e),
                        None => Ok(()),
                    }
                })?;
            }
            Action::TradeReduced(p) => {
                let Some(r) = engine
                    .trades()
                    .iter()
                    .find(|t| t.trade_id == p.trade_id)
                    .map(|t| t.open_ref.clone())
                else {
                    return Ok(());
                };
                let part = PartialClose {
                    ts: p.at,
                    close_reference: p.deal_ref.clone(),
                    level: p.level,
                    size: p.closed_size,
                    remaining: p.remaining,
                    pnl: p.pnl,
                    reason: p.reason.clone(),
                };
                self.write(format!("journaling the partial close of {r}"), move |j| {
                    j.record_partial_close(&r, &part)
                })?;
            }
            Action::Refused {
                epic,
                direction,
                reason,
            } => {
                let text = reason.to_string();
                if self.last_refusal.get(epic) != Some(&text) {
                    self.last_refusal.insert(epic.clone(), text.clone());
                    self.record_event(
                        now,
                        SystemEvent::RiskRefusal {
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
                self.record_event(now, event)?;
            }
            Action::PaperFallback { detail } => {
                self.record_event(
                    now,
                    SystemEvent::BrokerFallback {
                        policy: "paper".into(),
                        reason: detail.clone(),
                    },
                )?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Why the broker closed `deal_id` (IG's channel, level and description), journaled with
    /// the close when the engine books it.
    pub fn note_close_reason(&mut self, deal_id: DealId, reason: String) {
        self.close_reasons.insert(deal_id, reason);
    }

    fn record_event(&mut self, now: Timestamp, event: SystemEvent) -> Result<(), LiveError> {
        self.write("journaling a system event", move |j| {
            j.record_event(now, &event).map(drop)
        })
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
        if let Err(e) = self.record_event(now, event.clone()) {
            tracing::error!(error = %e, "cannot journal a system event");
        }
    }

    /// The journal for start-up's reads and writes (before [`JournalSink::start_writer`]).
    fn direct(&mut self) -> Result<&mut Journal, LiveError> {
        self.direct.as_mut().ok_or_else(writer_owns_it)
    }

    fn direct_ref(&self) -> Result<&Journal, LiveError> {
        self.direct.as_ref().ok_or_else(writer_owns_it)
    }

    /// The P&L of the trade's partial closes (start-up, before the writer owns the journal).
    fn partial_pnl(&self, t: &scalper_journal::Trade) -> Result<Money, LiveError> {
        self.direct_ref()?
            .partial_pnl(t.id)
            .map_err(LiveError::journal(format!(
                "reading the partial closes of {}",
                t.deal_reference
            )))
    }

    /// Runs `job` on the journal: at once before [`JournalSink::start_writer`], queued (in
    /// order) on the writer thread after it, in which case a failure is reported through
    /// [`JournalSink::next_failure`].
    fn write<F>(&mut self, context: impl Into<String>, job: F) -> Result<(), LiveError>
    where
        F: FnOnce(&mut Journal) -> Result<(), JournalError> + Send + 'static,
    {
        if let Some(j) = self.direct.as_mut() {
            return job(j).map_err(LiveError::journal(context));
        }
        match self.writer.as_ref() {
            Some(w) => w.send(context.into(), Box::new(job)),
            None => Err(writer_owns_it()),
        }
    }

    /// Hands the journal to a writer thread: from now on no journal write runs on the caller's
    /// thread (the intent log's append excepted). The writes it cannot make come back through
    /// the returned [`JournalFailures`].
    /// `latency`, when given, gets the time of each record's SQLite write.
    pub fn start_writer(
        &mut self,
        latency: Option<Arc<LatencyHistogram>>,
    ) -> Result<JournalFailures, LiveError> {
        match self.direct.take() {
            Some(journal) => {
                let (writer, failures) = Writer::start(journal, latency)?;
                self.writer = Some(writer);
                Ok(JournalFailures(Some(failures)))
            }
            None => Ok(JournalFailures(None)),
        }
    }

    /// Waits until every queued write is done, then closes the journal (its last checkpoint
    /// included).
    pub fn close(mut self) {
        if let Some(mut w) = self.writer.take() {
            w.stop();
        }
    }
}

/// Journal writes the writer thread could not make, for the event loop.
#[derive(Debug, Default)]
pub struct JournalFailures(Option<tokio::sync::mpsc::UnboundedReceiver<String>>);

impl JournalFailures {
    /// The next failure (pending forever while none comes, or without a writer).
    pub async fn next(&mut self) -> String {
        if let Some(rx) = self.0.as_mut() {
            if let Some(f) = rx.recv().await {
                return f;
            }
            self.0 = None;
        }
        std::future::pending().await
    }

    /// The failures already reported and not yet taken.
    pub fn drain(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(rx) = self.0.as_mut() {
            while let Ok(f) = rx.try_recv() {
                out.push(f);
            }
        }
        out
    }
}

fn writer_owns_it() -> LiveError {
    LiveError::Journal {
        context: "the journal belongs to its writer thread now".into(),
        source: JournalError::ReadOnly,
    }
}

/// How long the writer lets the event loop and the execution task have the CPU after a record
/// arrives, before its SQLite transaction (records arriving meanwhile are written together).
const GIVE_WAY: std::time::Duration = std::time::Duration::from_millis(1);

/// A journal write for the writer thread.
type Job = Box<dyn FnOnce(&mut Journal) -> Result<(), JournalError> + Send>;

/// The writer thread: owns the journal, runs the queued writes in order, reports failures.
#[derive(Debug)]
struct Writer {
    jobs: Option<std::sync::mpsc::Sender<(String, Job)>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Writer {
    fn start(
        mut journal: Journal,
        latency: Option<Arc<LatencyHistogram>>,
    ) -> Result<(Self, tokio::sync::mpsc::UnboundedReceiver<String>), LiveError> {
        let (jobs, rx) = std::sync::mpsc::channel::<(String, Job)>();
        let (fail_tx, failures) = tokio::sync::mpsc::unbounded_channel();
        let path = journal.path().to_path_buf();
        let thread = std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || {
                let mut failed = false;
                let mut run = |(context, job): (String, Job), journal: &mut Journal| {
                    let started = latency.as_ref().map(|_| std::time::Instant::now());
                    let result = job(journal);
                    if let (Some(h), Some(t)) = (latency.as_ref(), started) {
                        h.record(t.elapsed());
                    }
                    if let Err(e) = result {
                        failed = true;
                        let _ = fail_tx.send(format!("{context}: {e}"));
                    }
                };
                while let Ok(first) = rx.recv() {
                    // Give way to the request that usually follows a record (an intent is
                    // already durable in the intent log): on a machine with few cores the
                    // SQLite transaction would otherwise compete with the send for the CPU.
                    std::thread::sleep(GIVE_WAY);
                    run(first, &mut journal);
                    while let Ok(next) = rx.try_recv() {
                        run(next, &mut journal);
                    }
                }
                // Every write made: the intents are all in SQLite, the log can go. (After a
                // failure it stays, and the next open recovers what SQLite lacks.)
                if !failed {
                    if let Err(e) = journal.clear_intent_log() {
                        tracing::warn!(error = %e, "cannot empty the intent log; the next start does");
                    }
                }
                // Dropping the journal here runs its last checkpoint and frees the lock.
            })
            .map_err(|e| LiveError::Journal {
                context: format!("starting the journal writer for {}", path.display()),
                source: JournalError::Unwritable {
                    path,
                    detail: e.to_string(),
                },
            })?;
        Ok((
            Self {
                jobs: Some(jobs),
                thread: Some(thread),
            },
            failures,
        ))
    }

    fn send(&self, context: String, job: Job) -> Result<(), LiveError> {
        let gone = |context: String| LiveError::Journal {
            context: format!("{context}: the journal writer thread has stopped"),
            source: JournalError::ReadOnly,
        };
        match self.jobs.as_ref() {
            Some(tx) => tx.send((context, job)).map_err(|e| gone(e.0 .0)),
            None => Err(gone(context)),
        }
    }

    /// Lets the queue drain and joins the thread.
    fn stop(&mut self) {
        drop(self.jobs.take());
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                tracing::error!("the journal writer thread panicked; the intent log holds every opening request");
            }
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The level (and time, when known) of the deal that closed position `deal_id`, from the
/// broker's activity history (`/history/activity?dealId=`): the activity in the closing
/// direction. `None` when the history cannot be read or does not show it.
/// What the activity history says of a reference `/confirms` does not know (it keeps confirms
/// for about a minute, and may lose one): the deal IG opened for it (`Accepted`, the position
/// may be closed already) or none (`NotFound`: never executed). `None` when the history cannot
/// be read (the trade stays unresolved).
async fn opened_by_reference(
    client: &IgClient,
    reference: &scalper_model::DealReference,
    created: Timestamp,
) -> Option<ConfirmLookup> {
    // A minute of slack for the broker's clock against ours.
    match client
        .opened_by_reference(reference, Some(created.plus_millis(-60_000)))
        .await
    {
        Ok(Some(a)) => a.deal_id.map(|deal_id| ConfirmLookup::Accepted {
            deal_id,
            level: a.level,
        }),
        Ok(None) => Some(ConfirmLookup::NotFound),
        Err(e) => {
            tracing::warn!(reference = %reference, error = %e, "cannot read the activity history");
            None
        }
    }
}

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

/// The journal's record of the engine's kind of stop (and the premium fixed at the fill).
fn journal_stop_kind(kind: EngineStopKind, premium: Option<Points>) -> StopKind {
    match kind {
        EngineStopKind::Normal => StopKind::Normal,
        EngineStopKind::Guaranteed => StopKind::Guaranteed {
            premium_points: premium.map(Points::value),
        },
        EngineStopKind::Trailing { increment } => StopKind::Trailing {
            increment: increment.value(),
        },
    }
}

/// The engine's kind of stop and guaranteed premium from the journal's record.
fn engine_stop_kind(kind: StopKind) -> (EngineStopKind, Option<Points>) {
    match kind {
        StopKind::Normal => (EngineStopKind::Normal, None),
        StopKind::Guaranteed { premium_points } => {
            (EngineStopKind::Guaranteed, premium_points.map(Points::new))
        }
        StopKind::Trailing { increment } => (
            EngineStopKind::Trailing {
                increment: Points::new(increment),
            },
            None,
        ),
    }
}

/// The trading session containing `now` (the engine's session day: `risk.session_timezone`
/// and `risk.session_start`), as `[start, end)`.
fn session_bounds(risk: &scalper_engine::RiskManager, now: Timestamp) -> (Timestamp, Timestamp) {
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
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use scalper_journal::{intent_log_path, TradeFilter};
    use scalper_model::{DealReference, Size};

    fn intent(r: &str) -> Intent {
        Intent {
            ts: Timestamp::from_millis(1_795_687_200_000),
            deal_reference: DealReference::new(r).expect("reference"),
            epic: Epic::new("CS.D.EURUSD.CFD.IP").expect("epic"),
            direction: Direction::Buy,
            size: Size::new(rust_decimal::Decimal::ONE),
            order_type: OrderType::Market,
            level: None,
            stop_level: None,
            limit_level: None,
            paper: false,
            strategy: None,
        }
    }

    #[tokio::test]
    async fn the_writer_thread_writes_in_order_and_reports_what_it_could_not_write() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("journal.sqlite");
        let mut sink = JournalSink::open(&path, false, false).expect("open");
        let mut failures = sink.start_writer(None).expect("writer");
        // Start-up's direct access is over.
        assert!(sink.direct().is_err());
        let i = intent("REF-W1");
        let r = i.deal_reference.clone();
        sink.write("journaling the intent REF-W1", move |j| {
            j.record_intent(&i).map(drop)
        })
        .expect("queued");
        sink.write("journaling the confirm of REF-W1", move |j| {
            j.record_confirm(
                &r,
                Timestamp::from_millis(1_795_687_200_010),
                &ConfirmOutcome::Rejected {
                    reason: "MARKET_CLOSED".into(),
                },
            )
            .map(drop)
        })
        .expect("queued");
        // A write the journal refuses: a confirm for a reference it never saw.
        let unknown = DealReference::new("REF-NEVER").expect("reference");
        sink.write("journaling the confirm of REF-NEVER", move |j| {
            j.record_confirm(
                &unknown,
                Timestamp::from_millis(1_795_687_200_020),
                &ConfirmOutcome::Unknown {
                    detail: "timeout".into(),
                },
            )
            .map(drop)
        })
        .expect("queued");
        let failure = tokio::time::timeout(std::time::Duration::from_secs(10), failures.next())
            .await
            .expect("the failure is reported");
        assert!(
            failure.starts_with("journaling the confirm of REF-NEVER"),
            "{failure}"
        );
        sink.close();
        assert!(failures.drain().is_empty());
        let j = Journal::open(&path, &OpenOptions::default()).expect("reopen");
        let trades = j.trades(&TradeFilter::default()).expect("trades");
        assert_eq!(trades.len(), 1);
        assert_eq!(
            trades[0].state,
            DealState::Rejected,
            "intent then confirm, in order"
        );
        assert_eq!(
            std::fs::metadata(intent_log_path(&path))
                .expect("log")
                .len(),
            0
        );
    }
}
