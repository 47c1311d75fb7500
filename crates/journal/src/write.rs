//! Recording: intents (write-ahead), confirms, fills, amendments, closes and system events.
//! Every call is one IMMEDIATE transaction, committed (and with `Durability::Full`, fsynced)
//! before it returns. Trade state follows the model's lifecycle table; an impossible transition
//! writes nothing and returns `JournalError::Transition`. Two tolerances: an Intent is implicitly
//! submitted by any later event, and late duplicates (see `is_late_duplicate`) are journaled
//! without changing the state.

use rusqlite::{params, OptionalExtension, Transaction, TransactionBehavior};
use rust_decimal::Decimal;
use scalper_model::{DealEvent, DealReference, DealState, Money, Price, Timestamp};
use serde_json::json;

use crate::query::{dec_text, state_str, stop_kind_name};
use crate::{
    Amendment, Close, ConfirmOutcome, Fill, Intent, Journal, JournalError, PartialClose,
    SystemEvent, TradeId,
};
use crate::{Execution, StopKind};

const CLOSED_EXTERNALLY: &str = "closed_externally";
/// The reason of a paper trade closed at start-up because the paper run that held it ended.
pub const PAPER_ABANDONED: &str = "paper_abandoned";

pub(crate) fn opt_dec(p: Option<Price>) -> Option<String> {
    p.map(|p| dec_text(p.value()))
}

pub(crate) fn insert_event(
    tx: &Transaction<'_>,
    ts: Timestamp,
    kind: &str,
    trade: Option<TradeId>,
    detail: &serde_json::Value,
) -> Result<(), JournalError> {
    tx.prepare_cached("INSERT INTO events (ts, kind, trade_id, detail) VALUES (?1, ?2, ?3, ?4)")
        .and_then(|mut st| {
            st.execute(params![
                ts.millis(),
                kind,
                trade.map(|t| t.0),
                detail.to_string()
            ])
        })
        .map_err(JournalError::sqlite("writing an event"))?;
    Ok(())
}

impl Journal {
    pub(crate) fn begin(&mut self) -> Result<Transaction<'_>, JournalError> {
        if self.read_only {
            return Err(JournalError::ReadOnly);
        }
        self.conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| store_err(&self.path, e))
    }

    /// Write-ahead: journals an approved intent BEFORE its request is sent. Returns its id.
    pub fn record_intent(&mut self, intent: &Intent) -> Result<TradeId, JournalError> {
        let tx = self.begin()?;
        let res = tx.prepare_cached(
            "INSERT INTO trades (deal_reference, epic, direction, size, order_type, order_level,
                stop_level, limit_level, paper, strategy, state, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        ).and_then(|mut st| st.execute(
            params![
                intent.deal_reference.as_str(),
                intent.epic.as_str(),
                intent.direction.as_str(),
                dec_text(intent.size.value()),
                order_type_str(intent.order_type),
                opt_dec(intent.level),
                opt_dec(intent.stop_level),
                opt_dec(intent.limit_level),
                intent.paper,
                intent.strategy,
                state_str(DealState::Intent),
                intent.ts.millis(),
            ],
        ));
        match res {
            Ok(_) => {}
            Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) => {
                return Err(JournalError::DuplicateReference(
                    intent.deal_reference.clone(),
                ))
            }
            Err(e) => return Err(JournalError::sqlite("writing an intent")(e)),
        }
        let id = TradeId(tx.last_insert_rowid());
        let detail = serde_json::to_value(intent).map_err(|e| JournalError::decode("intent", e))?;
        insert_event(&tx, intent.ts, "intent", Some(id), &detail)?;
        tx.commit().map_err(JournalError::sqlite("committing"))?;
        Ok(id)
    }

    /// The opening request went out (optional: a confirm on an intent implies it).
    pub fn record_submitted(
        &mut self,
        reference: &DealReference,
        ts: Timestamp,
    ) -> Result<DealState, JournalError> {
        self.transition(
            reference,
            ts,
            &[DealEvent::Submit],
            "submitted",
            &json!({}),
            |_, _| Ok(0),
        )
    }

    /// The broker's confirm (or an unknown outcome) for an opening request.
    pub fn record_confirm(
        &mut self,
        reference: &DealReference,
        ts: Timestamp,
        outcome: &ConfirmOutcome,
    ) -> Result<DealState, JournalError> {
        let detail =
            serde_json::to_value(outcome).map_err(|e| JournalError::decode("confirm", e))?;
        match outcome {
            ConfirmOutcome::Accepted { deal_id, level } => {
                let (deal_id, level) = (deal_id.as_str().to_string(), opt_dec(*level));
                self.transition(
                    reference,
                    ts,
                    &[DealEvent::Accept],
                    "confirm_accepted",
                    &detail,
                    |tx, id| {
                        tx.execute(
                            "UPDATE trades SET deal_id = ?2, open_level = COALESCE(?3, open_level),
                            opened_at = COALESCE(opened_at, ?4) WHERE id = ?1",
                            params![id.0, deal_id, level, ts.millis()],
                        )
                    },
                )
            }
            ConfirmOutcome::Rejected { reason } => {
                let reason = reason.clone();
                self.transition(
                    reference,
                    ts,
                    &[DealEvent::Reject],
                    "confirm_rejected",
                    &detail,
                    |tx, id| {
                        tx.execute(
                            "UPDATE trades SET reason = ?2 WHERE id = ?1",
                            params![id.0, reason],
                        )
                    },
                )
            }
            ConfirmOutcome::Unknown { .. } => self.transition(
                reference,
                ts,
                &[DealEvent::OutcomeUnknown],
                "outcome_unknown",
                &detail,
                |_, _| Ok(0),
            ),
        }
    }

    /// The position was seen open (position list, OPU, paper fill).
    pub fn record_fill(
        &mut self,
        reference: &DealReference,
        fill: &Fill,
    ) -> Result<DealState, JournalError> {
        let detail = serde_json::to_value(fill).map_err(|e| JournalError::decode("fill", e))?;
        let f = fill.clone();
        self.transition(
            reference,
            fill.ts,
            &[DealEvent::PositionSeen],
            "fill",
            &detail,
            |tx, id| {
                tx.execute(
                    "UPDATE trades SET deal_id = ?2, open_level = ?3, size = ?4,
                    opened_at = COALESCE(opened_at, ?5), stop_level = COALESCE(?6, stop_level),
                    limit_level = COALESCE(?7, limit_level) WHERE id = ?1",
                    params![
                        id.0,
                        f.deal_id.as_str(),
                        dec_text(f.level.value()),
                        dec_text(f.size.value()),
                        f.ts.millis(),
                        opt_dec(f.stop_level),
                        opt_dec(f.limit_level),
                    ],
                )
            },
        )
    }

    /// A stop and/or limit was amended. Allowed in any state that may hold a position.
    pub fn record_amendment(
        &mut self,
        reference: &DealReference,
        amendment: &Amendment,
    ) -> Result<(), JournalError> {
        let tx = self.begin()?;
        let id = holding(&tx, reference)?;
        tx.execute(
            "UPDATE trades SET stop_level = COALESCE(?2, stop_level),
                limit_level = COALESCE(?3, limit_level) WHERE id = ?1",
            params![
                id.0,
                opt_dec(amendment.stop_level),
                opt_dec(amendment.limit_level)
            ],
        )
        .map_err(JournalError::sqlite("writing an amendment"))?;
        let detail =
            serde_json::to_value(amendment).map_err(|e| JournalError::decode("amendment", e))?;
        insert_event(&tx, amendment.ts, "amendment", Some(id), &detail)?;
        tx.commit().map_err(JournalError::sqlite("committing"))
    }

    /// Adds to a trade's execution record (see [`Execution`]): the fields given are set, the
    /// others keep what they hold. Any state: the exit's spread comes with the close.
    pub fn record_execution(
        &mut self,
        reference: &DealReference,
        ts: Timestamp,
        execution: &Execution,
    ) -> Result<(), JournalError> {
        let tx = self.begin()?;
        let (id, _) = load_state(&tx, reference)?;
        let e = execution;
        let ms = |t: Option<Timestamp>| t.map(Timestamp::millis);
        let text = |d: Option<Decimal>| d.map(dec_text);
        tx.execute(
            "UPDATE trades SET signal_at = COALESCE(?2, signal_at),
                signal_bid = COALESCE(?3, signal_bid), signal_ask = COALESCE(?4, signal_ask),
                entry_spread = COALESCE(?5, entry_spread), sent_at = COALESCE(?6, sent_at),
                acked_at = COALESCE(?7, acked_at), confirmed_at = COALESCE(?8, confirmed_at),
                slippage_points = COALESCE(?9, slippage_points),
                slippage = COALESCE(?10, slippage), exit_spread = COALESCE(?11, exit_spread),
                exit_slippage_points = COALESCE(?12, exit_slippage_points),
                exit_signal_at = COALESCE(?13, exit_signal_at)
             WHERE id = ?1",
            params![
                id.0,
                ms(e.signal_at),
                opt_dec(e.signal_bid),
                opt_dec(e.signal_ask),
                text(e.entry_spread),
                ms(e.sent_at),
                ms(e.acked_at),
                ms(e.confirmed_at),
                text(e.slippage_points),
                text(e.slippage.map(Money::value)),
                text(e.exit_spread),
                text(e.exit_slippage_points),
                ms(e.exit_signal_at),
            ],
        )
        .map_err(JournalError::sqlite("writing an execution record"))?;
        let detail =
            serde_json::to_value(e).map_err(|err| JournalError::decode("execution", err))?;
        insert_event(&tx, ts, "execution", Some(id), &detail)?;
        tx.commit().map_err(JournalError::sqlite("committing"))
    }

    /// The kind of stop the broker keeps for the trade (see [`StopKind`]), known at the fill,
    /// so a restarted engine manages the position as the one that opened it. Any state.
    pub fn record_stop_kind(
        &mut self,
        reference: &DealReference,
        ts: Timestamp,
        kind: &StopKind,
    ) -> Result<(), JournalError> {
        let tx = self.begin()?;
        let (id, _) = load_state(&tx, reference)?;
        let (premium, increment) = match *kind {
            StopKind::Normal => (None, None),
            StopKind::Guaranteed { premium_points } => (premium_points, None),
            StopKind::Trailing { increment } => (None, Some(increment)),
        };
        tx.execute(
            "UPDATE trades SET stop_kind = ?2, stop_premium_points = ?3, trailing_increment = ?4
             WHERE id = ?1",
            params![
                id.0,
                stop_kind_name(*kind),
                premium.map(dec_text),
                increment.map(dec_text)
            ],
        )
        .map_err(JournalError::sqlite("writing a stop kind"))?;
        let detail =
            serde_json::to_value(kind).map_err(|e| JournalError::decode("stop kind", e))?;
        insert_event(&tx, ts, "stop_kind", Some(id), &detail)?;
        tx.commit().map_err(JournalError::sqlite("committing"))
    }

    /// Part of the position closed: the trade's size becomes what is left, and the part is
    /// kept as a `partial_close` event (its P&L is in the trade's P&L when it closes).
    pub fn record_partial_close(
        &mut self,
        reference: &DealReference,
        part: &PartialClose,
    ) -> Result<(), JournalError> {
        let tx = self.begin()?;
        let id = holding(&tx, reference)?;
        tx.execute(
            "UPDATE trades SET size = ?2 WHERE id = ?1",
            params![id.0, dec_text(part.remaining.value())],
        )
        .map_err(JournalError::sqlite("writing a partial close"))?;
        let detail =
            serde_json::to_value(part).map_err(|e| JournalError::decode("partial close", e))?;
        insert_event(&tx, part.ts, "partial_close", Some(id), &detail)?;
        tx.commit().map_err(JournalError::sqlite("committing"))
    }

    /// A close request went out.
    pub fn record_close_submitted(
        &mut self,
        reference: &DealReference,
        ts: Timestamp,
    ) -> Result<DealState, JournalError> {
        self.transition(
            reference,
            ts,
            &[DealEvent::SubmitClose],
            "close_submitted",
            &json!({}),
            |_, _| Ok(0),
        )
    }

    /// The close request was refused; the position is still open.
    pub fn record_close_rejected(
        &mut self,
        reference: &DealReference,
        ts: Timestamp,
        reason: &str,
    ) -> Result<DealState, JournalError> {
        self.transition(
            reference,
            ts,
            &[DealEvent::CloseRejected],
            "close_rejected",
            &json!({ "reason": reason }),
            |_, _| Ok(0),
        )
    }

    /// The position is closed with exact P&L. Also completes a trade that reconciliation marked
    /// closed externally with P&L pending (the caller found the P&L in the broker's history).
    pub fn record_close(
        &mut self,
        reference: &DealReference,
        close: &Close,
    ) -> Result<DealState, JournalError> {
        let detail = serde_json::to_value(close).map_err(|e| JournalError::decode("close", e))?;
        let c = close.clone();
        let update = move |tx: &Transaction<'_>, id: TradeId| {
            tx.execute(
                "UPDATE trades SET close_level = ?2, pnl = ?3, fees = ?4, closed_at = ?5,
                    reason = ?6 WHERE id = ?1",
                params![
                    id.0,
                    dec_text(c.level.value()),
                    dec_text(c.pnl.value()),
                    dec_text(c.fees.value()),
                    c.ts.millis(),
                    c.reason
                ],
            )
        };
        // Completing a pending external close is not a state transition.
        let tx = self.begin()?;
        let (id, state) = load_state(&tx, reference)?;
        let pending: bool = tx
            .query_row(
                "SELECT pnl IS NULL AND reason IS ?2 FROM trades WHERE id = ?1",
                params![id.0, CLOSED_EXTERNALLY],
                |r| r.get(0),
            )
            .map_err(JournalError::sqlite("reading a trade"))?;
        if state == DealState::Closed && pending {
            update(&tx, id).map_err(JournalError::sqlite("writing a close"))?;
            insert_event(&tx, close.ts, "close_pnl_resolved", Some(id), &detail)?;
            tx.commit().map_err(JournalError::sqlite("committing"))?;
            return Ok(state);
        }
        drop(tx);
        self.transition(
            reference,
            close.ts,
            &[DealEvent::Closed],
            "closed",
            &detail,
            update,
        )
    }

    /// Journals an event that belongs to no single trade (risk refusal, kill switch, session...).
    /// Closes every paper trade a paper run left open (its simulated broker is gone, so there
    /// is no exit price): state `closed`, no P&L, reason `paper_abandoned`. Returns them.
    /// Called at start-up, so paper positions are never matched against the real broker.
    pub fn abandon_paper_trades(
        &mut self,
        ts: Timestamp,
    ) -> Result<Vec<crate::Trade>, JournalError> {
        let left = self.open_paper_trades()?;
        if left.is_empty() {
            return Ok(left);
        }
        let tx = self.begin()?;
        for t in &left {
            tx.execute(
                "UPDATE trades SET state = 'closed', reason = ?2, closed_at = ?3 WHERE id = ?1",
                params![t.id.0, PAPER_ABANDONED, ts.millis()],
            )
            .map_err(JournalError::sqlite("closing an abandoned paper trade"))?;
            insert_event(
                &tx,
                ts,
                PAPER_ABANDONED,
                Some(t.id),
                &json!({ "state_before": state_str(t.state) }),
            )?;
        }
        tx.commit().map_err(JournalError::sqlite("committing"))?;
        Ok(left)
    }

    pub fn record_event(&mut self, ts: Timestamp, event: &SystemEvent) -> Result<(), JournalError> {
        let detail = serde_json::to_value(event).map_err(|e| JournalError::decode("event", e))?;
        let tx = self.begin()?;
        insert_event(&tx, ts, event.kind(), None, &detail)?;
        tx.commit().map_err(JournalError::sqlite("committing"))
    }

    /// Applies `events` in order to the trade's state (an Intent is implicitly submitted first
    /// when the event proves the request went out), runs `update` and journals the event.
    fn transition<F>(
        &mut self,
        reference: &DealReference,
        ts: Timestamp,
        events: &[DealEvent],
        kind: &str,
        detail: &serde_json::Value,
        update: F,
    ) -> Result<DealState, JournalError>
    where
        F: FnOnce(&Transaction<'_>, TradeId) -> rusqlite::Result<usize>,
    {
        let tx = self.begin()?;
        let (id, mut state) = load_state(&tx, reference)?;
        for &event in events {
            if state == DealState::Intent
                && event != DealEvent::Submit
                && event != DealEvent::Reject
            {
                state = DealState::Submitted;
            }
            if is_late_duplicate(state, event) {
                continue;
            }
            state = state.apply(event).map_err(|e| JournalError::Transition {
                deal_reference: reference.clone(),
                state: e.state,
                event: e.event,
            })?;
        }
        tx.prepare_cached("UPDATE trades SET state = ?2 WHERE id = ?1")
            .and_then(|mut st| st.execute(params![id.0, state_str(state)]))
            .map_err(JournalError::sqlite("updating a trade"))?;
        update(&tx, id).map_err(JournalError::sqlite("updating a trade"))?;
        insert_event(&tx, ts, kind, Some(id), detail)?;
        tx.commit().map_err(JournalError::sqlite("committing"))?;
        Ok(state)
    }
}

/// Odd but real: a confirm that arrives after the stream already showed the position (or its
/// close), or a position update seen while our close is in flight. Journaled, state unchanged.
fn is_late_duplicate(state: DealState, event: DealEvent) -> bool {
    matches!(
        (state, event),
        (
            DealState::Open | DealState::Closing | DealState::Closed,
            DealEvent::Accept
        ) | (DealState::Closing, DealEvent::PositionSeen)
    )
}

/// The trade of `reference`, which must be in a state that may hold a position (an amendment
/// or a partial close of anything else is an impossible transition).
fn holding(tx: &Transaction<'_>, reference: &DealReference) -> Result<TradeId, JournalError> {
    let (id, state) = load_state(tx, reference)?;
    if state.may_hold_position() {
        Ok(id)
    } else {
        Err(JournalError::Transition {
            deal_reference: reference.clone(),
            state,
            event: DealEvent::PositionSeen,
        })
    }
}

pub(crate) fn load_state(
    tx: &Transaction<'_>,
    reference: &DealReference,
) -> Result<(TradeId, DealState), JournalError> {
    let row: Option<(i64, String)> = tx
        .prepare_cached("SELECT id, state FROM trades WHERE deal_reference = ?1")
        .and_then(|mut st| {
            st.query_row([reference.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(JournalError::sqlite("reading a trade"))?;
    let (id, state) = row.ok_or_else(|| JournalError::UnknownReference(reference.clone()))?;
    Ok((TradeId(id), crate::query::parse_state(&state)?))
}

pub(crate) fn order_type_str(t: scalper_model::OrderType) -> &'static str {
    match t {
        scalper_model::OrderType::Market => "MARKET",
        scalper_model::OrderType::Limit => "LIMIT",
        scalper_model::OrderType::Stop => "STOP",
    }
}

pub(crate) const fn closed_externally() -> &'static str {
    CLOSED_EXTERNALLY
}

fn store_err(path: &std::path::Path, e: rusqlite::Error) -> JournalError {
    crate::store::open_error(path, "starting a write", e)
}
