//! Start-up reconciliation of the journal with the broker, as a PURE function: the caller fetches
//! positions and looks up confirms (and activity) for unresolved references, then applies the
//! report with [`crate::Journal::apply_reconciliation`] and acts on the engine-side actions.
//!
//! Policy (one action per difference; the broker is the source of truth about exposure):
//! - **matched**: journal and broker agree (same deal id or deal reference, direction and size).
//!   If the journal had not yet seen the position open, it is marked open. Nothing else to do.
//! - **broker-only**: a broker position the journal does not know. It is ADOPTED: journaled as an
//!   adopted trade and put under the engine's risk management (its stop and limit kept, counted in
//!   the open-position limits). Never closed blindly: it may be the trader's own.
//! - **journal-only**: the journal holds a position (deal id known) that the broker no longer has.
//!   It is marked CLOSED EXTERNALLY with P&L pending, to be completed from the broker's history
//!   (`Journal::record_close`). Nothing is sent to the broker.
//! - **size mismatch**: same deal, different size (a partial close outside the engine). The
//!   journal takes the broker's size and the difference is flagged in the report.
//! - **direction mismatch**: same deal, opposite direction. Trading is BLOCKED until an operator
//!   resolves it; the position is left with its broker stop (closing it automatically could double
//!   the exposure if the journal is the one that is right).
//! - **unresolved**: a deal reference whose outcome was unknown (intent, submitted, unknown) and
//!   that matches no position. A confirm lookup decides: rejected -> marked rejected; accepted
//!   with a deal id no longer open -> closed externally (P&L pending); looked up and not found
//!   anywhere -> marked not executed (the request never reached the broker). Without a lookup it
//!   stays unresolved and new entries on its instrument are blocked. Nothing is ever resent.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use scalper_model::{DealId, DealReference, DealState, Direction, Epic, Price, Size};
use serde::{Deserialize, Serialize};

use crate::{Trade, TradeId};

/// A position as the broker reports it (`GET /positions` v2, or the simulator's ledger).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerPosition {
    pub deal_id: DealId,
    /// IG v2 carries it; v1 and manual positions may not.
    pub deal_reference: Option<DealReference>,
    pub epic: Epic,
    pub direction: Direction,
    pub size: Size,
    pub level: Price,
    pub stop_level: Option<Price>,
    pub limit_level: Option<Price>,
}

/// What the caller learned about one unresolved deal reference (`/confirms/{ref}`, then activity).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum ConfirmLookup {
    Accepted {
        deal_id: DealId,
        level: Option<Price>,
    },
    Rejected {
        reason: String,
    },
    /// Looked up in confirms and activity: the broker never saw this reference.
    NotFound,
}

/// The broker's side of reconciliation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerView {
    pub positions: Vec<BrokerPosition>,
    /// Lookups for the journal's unresolved references; a missing entry means "not looked up".
    pub confirms: BTreeMap<DealReference, ConfirmLookup>,
}

/// The kind of a difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReconClass {
    Matched,
    BrokerOnly,
    JournalOnly,
    SizeMismatch,
    DirectionMismatch,
    Unresolved,
}

impl fmt::Display for ReconClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Matched => "matched",
            Self::BrokerOnly => "broker-only",
            Self::JournalOnly => "journal-only",
            Self::SizeMismatch => "size-mismatch",
            Self::DirectionMismatch => "direction-mismatch",
            Self::Unresolved => "unresolved",
        })
    }
}

/// What the policy does about one difference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ReconAction {
    /// In sync.
    None,
    /// Journal: mark the trade open with the broker's deal id and level.
    MarkOpen { deal_id: DealId, level: Price },
    /// Journal: record the broker position as an adopted trade; engine: manage it under risk.
    Adopt,
    /// Journal: mark closed externally, P&L pending from the broker's history. When the
    /// journal had not seen the fill (an unresolved reference whose confirm says accepted),
    /// the confirm's deal id and level are recorded too, so the close can be valued.
    MarkClosedExternally {
        #[serde(default)]
        deal_id: Option<DealId>,
        #[serde(default)]
        level: Option<Price>,
    },
    /// Journal: take the broker's size; flagged for the operator.
    AdoptBrokerSize { size: Size },
    /// Engine: do not trade until an operator resolves it.
    BlockTrading,
    /// Journal: mark rejected with the broker's reason.
    MarkRejected { reason: String },
    /// Journal: mark rejected as never executed (no confirm, no activity, no position).
    MarkNotExecuted,
    /// Engine: no new entries on this instrument until the reference is resolved.
    BlockInstrument,
}

/// One classified difference (or match).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconItem {
    pub class: ReconClass,
    pub action: ReconAction,
    pub trade_id: Option<TradeId>,
    pub deal_reference: Option<DealReference>,
    pub epic: Epic,
    /// The journal's state, direction and size, when the journal knows the trade.
    pub journal_state: Option<DealState>,
    pub journal_direction: Option<Direction>,
    pub journal_size: Option<Size>,
    /// The broker's position, when there is one.
    pub broker: Option<BrokerPosition>,
    pub note: String,
}

/// The result of [`reconcile()`]: printable (`Display`) and serialisable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconciliationReport {
    pub items: Vec<ReconItem>,
}

impl ReconciliationReport {
    pub fn count(&self, class: ReconClass) -> usize {
        self.items.iter().filter(|i| i.class == class).count()
    }
    /// True when everything matched and no action changes anything.
    pub fn is_clean(&self) -> bool {
        self.items
            .iter()
            .all(|i| i.class == ReconClass::Matched && i.action == ReconAction::None)
    }
    /// True when the engine must not trade at all (a direction mismatch).
    pub fn blocks_trading(&self) -> bool {
        self.items
            .iter()
            .any(|i| i.action == ReconAction::BlockTrading)
    }
    /// Instruments on which new entries must wait (unresolved references).
    pub fn blocked_epics(&self) -> Vec<Epic> {
        let mut v: Vec<Epic> = self
            .items
            .iter()
            .filter(|i| i.action == ReconAction::BlockInstrument)
            .map(|i| i.epic.clone())
            .collect();
        v.sort();
        v.dedup();
        v
    }
    /// Broker positions to put under risk management (adopted or still open after reconciliation).
    pub fn adopted(&self) -> impl Iterator<Item = &BrokerPosition> {
        self.items
            .iter()
            .filter(|i| i.action == ReconAction::Adopt)
            .filter_map(|i| i.broker.as_ref())
    }
}

impl fmt::Display for ReconciliationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let classes = [
            ReconClass::Matched,
            ReconClass::BrokerOnly,
            ReconClass::JournalOnly,
            ReconClass::SizeMismatch,
            ReconClass::DirectionMismatch,
            ReconClass::Unresolved,
        ];
        write!(f, "reconciliation:")?;
        for c in classes {
            write!(f, " {c} {}", self.count(c))?;
        }
        writeln!(f)?;
        for i in &self.items {
            let id = i.trade_id.map_or_else(|| "-".into(), |t| format!("#{t}"));
            let r = i.deal_reference.as_ref().map_or("-", DealReference::as_str);
            let deal = i.broker.as_ref().map_or("-", |b| b.deal_id.as_str());
            writeln!(
                f,
                "  {:<18} {:<6} ref {:<24} deal {:<16} {:<20} action {:<22} {}",
                i.class.to_string(),
                id,
                r,
                deal,
                i.epic,
                action_name(&i.action),
                i.note
            )?;
        }
        if self.blocks_trading() {
            writeln!(
                f,
                "  TRADING BLOCKED: resolve the direction mismatch(es) above"
            )?;
        }
        Ok(())
    }
}

fn action_name(a: &ReconAction) -> String {
    match a {
        ReconAction::None => "none".into(),
        ReconAction::MarkOpen { .. } => "mark-open".into(),
        ReconAction::Adopt => "adopt".into(),
        ReconAction::MarkClosedExternally { .. } => "mark-closed-externally".into(),
        ReconAction::AdoptBrokerSize { size } => format!("adopt-broker-size {size}"),
        ReconAction::BlockTrading => "block-trading".into(),
        ReconAction::MarkRejected { .. } => "mark-rejected".into(),
        ReconAction::MarkNotExecuted => "mark-not-executed".into(),
        ReconAction::BlockInstrument => "block-instrument".into(),
    }
}

fn item(
    class: ReconClass,
    action: ReconAction,
    t: &Trade,
    broker: Option<&BrokerPosition>,
    note: String,
) -> ReconItem {
    ReconItem {
        class,
        action,
        trade_id: Some(t.id),
        deal_reference: Some(t.deal_reference.clone()),
        epic: t.epic.clone(),
        journal_state: Some(t.state),
        journal_direction: Some(t.direction),
        journal_size: Some(t.size),
        broker: broker.cloned(),
        note,
    }
}

fn compare(t: &Trade, p: &BrokerPosition) -> ReconItem {
    if t.direction != p.direction {
        let note = format!(
            "journal {} {}, broker {} {}",
            t.direction, t.size, p.direction, p.size
        );
        return item(
            ReconClass::DirectionMismatch,
            ReconAction::BlockTrading,
            t,
            Some(p),
            note,
        );
    }
    if t.size != p.size {
        let note = format!("journal size {}, broker size {}", t.size, p.size);
        let action = ReconAction::AdoptBrokerSize { size: p.size };
        return item(ReconClass::SizeMismatch, action, t, Some(p), note);
    }
    if t.state == DealState::Open && t.deal_id.as_ref() == Some(&p.deal_id) {
        return item(
            ReconClass::Matched,
            ReconAction::None,
            t,
            Some(p),
            String::new(),
        );
    }
    let action = ReconAction::MarkOpen {
        deal_id: p.deal_id.clone(),
        level: p.level,
    };
    let note = format!("journal state {:?}, position is open", t.state).to_lowercase();
    item(ReconClass::Matched, action, t, Some(p), note)
}

/// Classifies every journal trade that may hold a position or is unresolved (`journal`, e.g.
/// [`crate::Journal::trades_to_reconcile`]) against the broker's view. Pure: no I/O.
pub fn reconcile(journal: &[Trade], broker: &BrokerView) -> ReconciliationReport {
    let mut used: HashSet<usize> = HashSet::new();
    let mut items = Vec::new();
    let find = |pred: &dyn Fn(&BrokerPosition) -> bool, used: &HashSet<usize>| {
        broker
            .positions
            .iter()
            .enumerate()
            .find(|(i, p)| !used.contains(i) && pred(p))
            .map(|(i, _)| i)
    };
    for t in journal {
        if t.state.is_terminal() {
            continue;
        }
        let lookup = broker.confirms.get(&t.deal_reference);
        let confirmed_id = match lookup {
            Some(ConfirmLookup::Accepted { deal_id, .. }) => Some(deal_id),
            _ => None,
        };
        let pos = t
            .deal_id
            .as_ref()
            .and_then(|id| find(&|p| &p.deal_id == id, &used))
            .or_else(|| {
                find(
                    &|p| p.deal_reference.as_ref() == Some(&t.deal_reference),
                    &used,
                )
            })
            .or_else(|| confirmed_id.and_then(|id| find(&|p| &p.deal_id == id, &used)));
        if let Some(i) = pos {
            used.insert(i);
            items.push(compare(t, &broker.positions[i]));
            continue;
        }
        let unresolved = matches!(
            t.state,
            DealState::Intent | DealState::Submitted | DealState::Unknown
        );
        if !unresolved {
            let note = format!("journal {:?} but no broker position", t.state).to_lowercase();
            items.push(item(
                ReconClass::JournalOnly,
                ReconAction::MarkClosedExternally {
                    deal_id: None,
                    level: None,
                },
                t,
                None,
                note,
            ));
            continue;
        }
        let (action, note) = match lookup {
            Some(ConfirmLookup::Rejected { reason }) => (
                ReconAction::MarkRejected {
                    reason: reason.clone(),
                },
                format!("confirm rejected: {reason}"),
            ),
            Some(ConfirmLookup::Accepted { deal_id, level }) => (
                ReconAction::MarkClosedExternally {
                    deal_id: Some(deal_id.clone()),
                    level: *level,
                },
                format!("accepted as {deal_id} but no longer open"),
            ),
            Some(ConfirmLookup::NotFound) => (
                ReconAction::MarkNotExecuted,
                "no position, confirm or activity: never executed".to_string(),
            ),
            None => (
                ReconAction::BlockInstrument,
                "outcome unknown and not looked up: entries blocked".to_string(),
            ),
        };
        items.push(item(ReconClass::Unresolved, action, t, None, note));
    }
    for (i, p) in broker.positions.iter().enumerate() {
        if used.contains(&i) {
            continue;
        }
        items.push(ReconItem {
            class: ReconClass::BrokerOnly,
            action: ReconAction::Adopt,
            trade_id: None,
            deal_reference: p.deal_reference.clone(),
            epic: p.epic.clone(),
            journal_state: None,
            journal_direction: None,
            journal_size: None,
            broker: Some(p.clone()),
            note: format!(
                "{} {} at {} unknown to the journal",
                p.direction, p.size, p.level
            ),
        });
    }
    ReconciliationReport { items }
}
