//! Applying a reconciliation report to the journal: the report itself is journaled and the
//! journal-side actions are written in ONE transaction. Reconciliation may move a trade directly
//! to the state the broker proves, outside the normal lifecycle table (the broker is the truth).

use rusqlite::params;
use scalper_model::{DealId, DealReference, Timestamp};

use crate::query::{dec_text, state_str};
use crate::reconcile::{ReconAction, ReconItem};
use crate::write::{closed_externally, insert_event, opt_dec};
use crate::{Journal, JournalError, ReconciliationReport, TradeId};
use scalper_model::DealState;

/// What applying a report changed in the journal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppliedReconciliation {
    /// Trades created for adopted broker positions.
    pub adopted: Vec<TradeId>,
    /// Trades whose state or size changed.
    pub updated: Vec<TradeId>,
}

/// A deal reference for an adopted position that has none: `ADOPT-<deal id>` cut to 30 characters
/// of the allowed alphabet.
fn adopted_reference(item: &ReconItem, deal_id: &str) -> Result<DealReference, JournalError> {
    if let Some(r) = &item.deal_reference {
        return Ok(r.clone());
    }
    let clean: String = deal_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    let s: String = format!("ADOPT-{clean}").chars().take(30).collect();
    DealReference::new(s).map_err(|e| JournalError::decode("adopted deal reference", e))
}

impl Journal {
    /// Journals `report` (kind `reconciliation`) and applies its journal-side actions: mark open,
    /// adopt, closed externally (P&L pending), broker size, rejected / not executed. Engine-side
    /// actions (`BlockTrading`, `BlockInstrument`, managing adopted positions) are the caller's.
    pub fn apply_reconciliation(
        &mut self,
        ts: Timestamp,
        report: &ReconciliationReport,
    ) -> Result<AppliedReconciliation, JournalError> {
        let detail = serde_json::to_value(report).map_err(|e| JournalError::decode("report", e))?;
        let tx = self.begin()?;
        let mut out = AppliedReconciliation::default();
        let set_state = |id: TradeId, state: DealState| {
            tx.execute(
                "UPDATE trades SET state = ?2 WHERE id = ?1",
                params![id.0, state_str(state)],
            )
        };
        for item in &report.items {
            let err = JournalError::sqlite("applying reconciliation");
            let ev = serde_json::to_value(item).map_err(|e| JournalError::decode("item", e))?;
            match (&item.action, item.trade_id) {
                (ReconAction::MarkOpen { deal_id, level }, Some(id)) => {
                    set_state(id, DealState::Open).map_err(err)?;
                    tx.execute(
                        "UPDATE trades SET deal_id = ?2, open_level = COALESCE(open_level, ?3),
                            opened_at = COALESCE(opened_at, ?4) WHERE id = ?1",
                        params![id.0, deal_id.as_str(), dec_text(level.value()), ts.millis()],
                    )
                    .map_err(JournalError::sqlite("applying reconciliation"))?;
                    out.updated.push(id);
                }
                (ReconAction::MarkClosedExternally { deal_id, level }, Some(id)) => {
                    set_state(id, DealState::Closed).map_err(err)?;
                    tx.execute(
                        "UPDATE trades SET closed_at = ?2, reason = ?3, pnl = NULL,
                            deal_id = COALESCE(deal_id, ?4), open_level = COALESCE(open_level, ?5)
                            WHERE id = ?1",
                        params![
                            id.0,
                            ts.millis(),
                            closed_externally(),
                            deal_id.as_ref().map(DealId::as_str),
                            opt_dec(*level)
                        ],
                    )
                    .map_err(JournalError::sqlite("applying reconciliation"))?;
                    out.updated.push(id);
                }
                (ReconAction::AdoptBrokerSize { size }, Some(id)) => {
                    tx.execute(
                        "UPDATE trades SET size = ?2 WHERE id = ?1",
                        params![id.0, dec_text(size.value())],
                    )
                    .map_err(err)?;
                    if let Some(b) = &item.broker {
                        set_state(id, DealState::Open)
                            .map_err(JournalError::sqlite("applying reconciliation"))?;
                        tx.execute(
                            "UPDATE trades SET deal_id = ?2 WHERE id = ?1",
                            params![id.0, b.deal_id.as_str()],
                        )
                        .map_err(JournalError::sqlite("applying reconciliation"))?;
                    }
                    out.updated.push(id);
                }
                (ReconAction::MarkRejected { reason }, Some(id)) => {
                    set_state(id, DealState::Rejected).map_err(err)?;
                    tx.execute(
                        "UPDATE trades SET reason = ?2 WHERE id = ?1",
                        params![id.0, reason],
                    )
                    .map_err(JournalError::sqlite("applying reconciliation"))?;
                    out.updated.push(id);
                }
                (ReconAction::MarkNotExecuted, Some(id)) => {
                    set_state(id, DealState::Rejected).map_err(err)?;
                    tx.execute(
                        "UPDATE trades SET reason = 'not_executed' WHERE id = ?1",
                        params![id.0],
                    )
                    .map_err(JournalError::sqlite("applying reconciliation"))?;
                    out.updated.push(id);
                }
                (ReconAction::Adopt, _) => {
                    let Some(b) = &item.broker else { continue };
                    let mut reference = adopted_reference(item, b.deal_id.as_str())?;
                    let taken: bool = tx
                        .query_row(
                            "SELECT count(*) > 0 FROM trades WHERE deal_reference = ?1",
                            [reference.as_str()],
                            |r| r.get(0),
                        )
                        .map_err(JournalError::sqlite("applying reconciliation"))?;
                    if taken {
                        let item = ReconItem {
                            deal_reference: None,
                            ..item.clone()
                        };
                        reference = adopted_reference(&item, b.deal_id.as_str())?;
                    }
                    tx.execute(
                        "INSERT INTO trades (deal_reference, epic, direction, size, order_type,
                            stop_level, limit_level, paper, adopted, state, deal_id, open_level,
                            created_at, opened_at)
                         VALUES (?1, ?2, ?3, ?4, 'MARKET', ?5, ?6, 0, 1, 'open', ?7, ?8, ?9, ?9)",
                        params![
                            reference.as_str(),
                            b.epic.as_str(),
                            b.direction.as_str(),
                            dec_text(b.size.value()),
                            opt_dec(b.stop_level),
                            opt_dec(b.limit_level),
                            b.deal_id.as_str(),
                            dec_text(b.level.value()),
                            ts.millis()
                        ],
                    )
                    .map_err(JournalError::sqlite("adopting a position"))?;
                    let id = TradeId(tx.last_insert_rowid());
                    insert_event(&tx, ts, "adopted", Some(id), &ev)?;
                    out.adopted.push(id);
                    continue;
                }
                _ => {}
            }
            if let Some(id) = item.trade_id {
                if item.action != ReconAction::None {
                    insert_event(&tx, ts, "reconciled", Some(id), &ev)?;
                }
            }
        }
        insert_event(&tx, ts, "reconciliation", None, &detail)?;
        tx.commit().map_err(JournalError::sqlite("committing"))?;
        Ok(out)
    }
}
