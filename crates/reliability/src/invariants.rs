//! The end-of-run invariants: the engine's journal compared with the sandbox's books deal by
//! deal (nothing unknown, doubled or unresolved; P&L equal to the ledger to the cent).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use rust_decimal::Decimal;
use scalper_journal::{Journal, TradeFilter};
use scalper_model::DealState;
use scalper_sandbox::StateSnapshot;
use serde::Serialize;

use crate::error::ReliabilityError;
use crate::harness::ACCOUNT;

/// Open positions per epic at the sandbox.
pub fn positions_per_epic(s: &StateSnapshot) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    if let Some(a) = s.account(ACCOUNT) {
        for p in &a.positions {
            *out.entry(p.epic.clone()).or_default() += 1;
        }
    }
    out
}

/// What the end-of-run check found. Every list must be empty and the two P&L figures equal.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Invariants {
    /// Positions the sandbox opened (closed ones from its ledger, plus open ones).
    pub broker_positions: usize,
    /// Journal trades with a deal id.
    pub journal_positions: usize,
    /// Journal trades with a deal id (positions the broker opened), per epic.
    pub positions_per_instrument: BTreeMap<String, usize>,
    pub journal_closed: usize,
    pub journal_rejected: usize,
    /// Sandbox positions (deal ids) the journal does not know.
    pub unknown_to_journal: Vec<String>,
    /// Deal ids journaled under more than one trade, and sandbox deal references seen twice.
    pub duplicates: Vec<String>,
    /// Journal trades whose outcome is still unknown (intent, submitted, unknown).
    pub unresolved: Vec<String>,
    /// Journal trades closed at the broker whose P&L is still pending.
    pub pnl_pending: Vec<String>,
    /// Journal trades open while the broker has no such position, or the reverse.
    pub open_mismatch: Vec<String>,
    /// Positions adopted by reconciliation (the engine is the only trader here: must be 0).
    pub adopted: usize,
    /// Trades marked paper (no paper fallback is configured: must be 0).
    pub paper: usize,
    /// Deals whose journaled P&L differs from the sandbox ledger's line for them.
    pub pnl_mismatches: Vec<String>,
    /// Sum of the journal's realised P&L net of fees.
    pub journal_pnl: Decimal,
    /// The sandbox account's balance change (its ledger).
    pub ledger_pnl: Decimal,
    /// Largest number of open positions on one instrument seen while sampling.
    pub max_open_per_instrument: usize,
}

impl Invariants {
    /// Every violated invariant, in words (empty when all hold).
    pub fn violations(&self, max_per_instrument: usize) -> Vec<String> {
        let mut v = Vec::new();
        let list = |name: &str, items: &[String], v: &mut Vec<String>| {
            if !items.is_empty() {
                v.push(format!("{name}: {}", items.join(", ")));
            }
        };
        list("unknown to the journal", &self.unknown_to_journal, &mut v);
        list("duplicates", &self.duplicates, &mut v);
        list("unresolved", &self.unresolved, &mut v);
        list("P&L pending", &self.pnl_pending, &mut v);
        list("open-position mismatch", &self.open_mismatch, &mut v);
        list("P&L per deal", &self.pnl_mismatches, &mut v);
        if self.adopted > 0 {
            v.push(format!("{} adopted position(s)", self.adopted));
        }
        if self.paper > 0 {
            v.push(format!(
                "{} paper trade(s) without a paper fallback",
                self.paper
            ));
        }
        if self.journal_pnl != self.ledger_pnl {
            v.push(format!(
                "journal P&L {} != sandbox ledger {}",
                self.journal_pnl, self.ledger_pnl
            ));
        }
        if self.max_open_per_instrument > max_per_instrument {
            v.push(format!(
                "{} positions open on one instrument (limit {max_per_instrument})",
                self.max_open_per_instrument
            ));
        }
        v
    }
}

/// Compares the journal (read-only; no engine may be running) with the sandbox's books.
/// `start_balance` is the account balance before the first run.
pub fn check(
    state: &StateSnapshot,
    journal_path: &Path,
    start_balance: Decimal,
) -> Result<Invariants, ReliabilityError> {
    let account = state
        .account(ACCOUNT)
        .ok_or(ReliabilityError::NoAccount(ACCOUNT))?;
    let journal = Journal::open(journal_path, &scalper_journal::OpenOptions::read_only()).map_err(
        |source| ReliabilityError::JournalOpen {
            path: journal_path.to_path_buf(),
            source,
        },
    )?;
    let trades = journal
        .trades(&TradeFilter::default())
        .map_err(ReliabilityError::JournalRead)?;

    let mut inv = Invariants::default();
    let mut broker: BTreeSet<String> = account.ledger.iter().map(|l| l.deal_id.clone()).collect();
    let open_at_broker: BTreeSet<String> = account
        .positions
        .iter()
        .map(|p| p.deal_id.clone())
        .collect();
    broker.extend(open_at_broker.iter().cloned());
    inv.broker_positions = broker.len();
    let mut refs: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &account.positions {
        *refs.entry(p.deal_reference.as_str()).or_default() += 1;
    }
    for (r, n) in refs {
        if n > 1 {
            inv.duplicates
                .push(format!("deal reference {r} holds {n} positions"));
        }
    }
    inv.max_open_per_instrument = positions_per_epic(state)
        .values()
        .copied()
        .max()
        .unwrap_or(0);

    let mut by_deal: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for t in &trades {
        let name = format!("#{} {}", t.id.0, t.deal_reference);
        if t.adopted {
            inv.adopted += 1;
        }
        if t.paper {
            inv.paper += 1;
        }
        if matches!(
            t.state,
            DealState::Intent | DealState::Submitted | DealState::Unknown
        ) {
            inv.unresolved.push(name.clone());
        }
        match t.state {
            DealState::Closed => {
                inv.journal_closed += 1;
                match t.net_pnl() {
                    Some(p) => inv.journal_pnl += p.value(),
                    None => inv.pnl_pending.push(name.clone()),
                }
            }
            DealState::Rejected => inv.journal_rejected += 1,
            _ => {}
        }
        if let Some(id) = &t.deal_id {
            *inv.positions_per_instrument
                .entry(t.epic.to_string())
                .or_default() += 1;
            by_deal
                .entry(id.to_string())
                .or_default()
                .push(name.clone());
            let open_here = matches!(
                t.state,
                DealState::Open | DealState::Closing | DealState::Accepted
            );
            if open_here != open_at_broker.contains(id.as_str()) {
                inv.open_mismatch.push(format!(
                    "{name} ({id}) is {} in the journal, {} at the broker",
                    if open_here { "open" } else { "not open" },
                    if open_at_broker.contains(id.as_str()) {
                        "open"
                    } else {
                        "not open"
                    }
                ));
            }
        }
    }
    inv.journal_positions = by_deal.len();
    for (id, names) in &by_deal {
        if names.len() > 1 {
            inv.duplicates
                .push(format!("deal {id} journaled as {}", names.join(" and ")));
        }
    }
    inv.unknown_to_journal = broker
        .iter()
        .filter(|id| !by_deal.contains_key(id.as_str()))
        .cloned()
        .collect();
    inv.ledger_pnl = account.balance - start_balance;
    let mut ledger: BTreeMap<&str, Decimal> = BTreeMap::new();
    for l in &account.ledger {
        *ledger.entry(l.deal_id.as_str()).or_default() += l.amount;
    }
    for t in &trades {
        let (Some(id), Some(pnl)) = (&t.deal_id, t.net_pnl()) else {
            continue;
        };
        let booked = ledger.get(id.as_str()).copied().unwrap_or_default();
        if booked != pnl.value() {
            inv.pnl_mismatches.push(format!(
                "#{} {} {id} {} {} @ {} -> {}: journal {} ledger {booked} ({})",
                t.id.0,
                t.deal_reference,
                t.direction.as_str(),
                t.size,
                t.open_level.map_or_else(|| "?".into(), |l| l.to_string()),
                t.close_level.map_or_else(|| "?".into(), |l| l.to_string()),
                pnl,
                t.reason.as_deref().unwrap_or("-")
            ));
        }
    }
    Ok(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_books_have_no_violation() {
        let inv = Invariants {
            broker_positions: 3,
            journal_positions: 3,
            journal_closed: 3,
            max_open_per_instrument: 1,
            ..Invariants::default()
        };
        assert!(inv.violations(1).is_empty());
    }

    #[test]
    fn every_violation_is_named() {
        let inv = Invariants {
            unknown_to_journal: vec!["D1".into()],
            duplicates: vec!["deal D2 journaled as #1 and #2".into()],
            unresolved: vec!["#3 R3".into()],
            pnl_pending: vec!["#4 R4".into()],
            open_mismatch: vec!["#5 R5".into()],
            pnl_mismatches: vec!["#6 R6".into()],
            adopted: 1,
            paper: 2,
            journal_pnl: Decimal::new(150, 2),
            ledger_pnl: Decimal::new(-150, 2),
            max_open_per_instrument: 2,
            ..Invariants::default()
        };
        let v = inv.violations(1);
        assert_eq!(
            v,
            [
                "unknown to the journal: D1",
                "duplicates: deal D2 journaled as #1 and #2",
                "unresolved: #3 R3",
                "P&L pending: #4 R4",
                "open-position mismatch: #5 R5",
                "P&L per deal: #6 R6",
                "1 adopted position(s)",
                "2 paper trade(s) without a paper fallback",
                "journal P&L 1.50 != sandbox ledger -1.50",
                "2 positions open on one instrument (limit 1)",
            ]
        );
        assert_eq!(
            inv.violations(2).len(),
            v.len() - 1,
            "a limit of two allows two"
        );
    }
}
