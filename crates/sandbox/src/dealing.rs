//! The dealing engine: open/close/amend positions and create/amend/delete working orders with
//! IG's validation and reject reasons, P&L and margin in the account currency, confirms, history
//! and TRADE/ACCOUNT bus events. Rejections are confirms (`dealStatus: REJECTED`), not HTTP errors;
//! only malformed requests are HTTP 400/404.

use rust_decimal::Decimal;
use scalper_ig_wire::confirms::DealConfirmation;
use scalper_ig_wire::history::{Activity, ActivityAction, ActivityDetails, Transaction};
use scalper_ig_wire::reject;
use scalper_model::{AccountId, Direction, MarketStatus, Price, Quote, RejectReason, Size};
use serde_json::json;
use tokio::time::Instant;

use crate::bus::{BusEvent, TradeKind};
use crate::catalog::{self, CatalogEntry, ProductKind};
use crate::config::SandboxConfig;
use crate::error::ApiError;
use crate::faults::FaultKind;
use crate::state::{Position, State, StoredConfirm, WorkingOrder};
use scalper_ig_wire::time as ig_time;

/// The dealing engine's view of the world for one operation.
#[derive(Debug)]
pub struct World<'a> {
    pub st: &'a mut State,
    pub cfg: &'a SandboxConfig,
    pub out: &'a mut Vec<BusEvent>,
    pub now: Instant,
}

/// Largest size, level or distance the sandbox accepts (keeps decimal arithmetic far from
/// overflow whatever a client sends).
const MAX_NUMBER: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);

/// Checks that every given number is positive and sane; 400 `validation.invalid.request.<field>`.
pub fn check_numbers(fields: &[(&str, Option<Decimal>)]) -> Result<(), ApiError> {
    for (name, v) in fields {
        if let Some(v) = v {
            if *v <= Decimal::ZERO || *v > MAX_NUMBER {
                return Err(ApiError::bad_request(format!(
                    "validation.invalid.request.{name}"
                )));
            }
        }
    }
    Ok(())
}

/// Parses IG's direction.
pub fn direction(s: &str) -> Result<Direction, ApiError> {
    match s.trim().to_ascii_uppercase().as_str() {
        "BUY" => Ok(Direction::Buy),
        "SELL" => Ok(Direction::Sell),
        _ => Err(ApiError::bad_request(
            "validation.pattern.invalid.direction",
        )),
    }
}

/// Price a position of `dir` is opened at (offer for buys) or closed at (bid for buys).
pub fn open_price(q: &Quote, dir: Direction) -> Decimal {
    match dir {
        Direction::Buy => q.offer.value(),
        Direction::Sell => q.bid.value(),
    }
}

pub fn close_price(q: &Quote, dir: Direction) -> Decimal {
    open_price(q, dir.opposite())
}

/// A confirm skeleton.
pub fn confirm(reference: &str, ts: scalper_model::Timestamp) -> DealConfirmation {
    DealConfirmation {
        date: Some(ig_time::utc_s(ts) + ".000"),
        deal_reference: Some(reference.to_string()),
        affected_deals: Some(Vec::new()),
        guaranteed_stop: Some(false),
        trailing_stop: Some(false),
        ..DealConfirmation::default()
    }
}

/// `c` as a rejection, with IG's code for `reason`.
pub fn rejected(mut c: DealConfirmation, reason: &RejectReason) -> DealConfirmation {
    c.deal_status = Some("REJECTED".into());
    c.reason = Some(reject::to_ig(reason).into_owned());
    c
}

impl World<'_> {
    pub fn entry(&self, epic: &str) -> Option<&CatalogEntry> {
        self.st.markets.get(epic).map(|m| &m.entry)
    }

    pub fn quote(&self, epic: &str) -> Option<Quote> {
        self.st.markets.get(epic).map(|m| m.last.clone())
    }

    /// Why the market of `epic` refuses deals now (`None`: it is tradeable or unknown).
    pub fn tradeable(&self, epic: &str) -> Option<RejectReason> {
        let m = self.st.markets.get(epic)?;
        match m.status_at(self.cfg, self.st.sim_now) {
            MarketStatus::Tradeable => None,
            MarketStatus::Offline => Some(RejectReason::MarketOffline),
            MarketStatus::ClosingsOnly => Some(RejectReason::ClosingsOnly),
            _ => Some(RejectReason::MarketClosed),
        }
    }

    pub fn account_kind(&self, account: &str) -> ProductKind {
        self.st
            .accounts
            .get(account)
            .map_or(ProductKind::Cfd, |a| a.kind)
    }

    /// Unrealised P&L of a position at the current price, in account currency.
    pub fn upl(&self, p: &Position) -> Decimal {
        let (Some(q), Some(e)) = (self.quote(&p.epic), self.entry(&p.epic)) else {
            return Decimal::ZERO;
        };
        let exit = close_price(&q, p.direction);
        e.economics
            .pnl(
                p.direction,
                Size::new(p.size),
                Price::new(p.level),
                Price::new(exit),
            )
            .value()
    }

    /// Margin of a position (or prospective deal), in account currency.
    pub fn margin(&self, epic: &str, size: Decimal, level: Decimal) -> Decimal {
        let Some(e) = self.entry(epic) else {
            return Decimal::ZERO;
        };
        e.economics
            .margin_for(Size::new(size), Price::new(level))
            .value()
    }

    /// Balance, P&L, margin and available funds of an account.
    pub fn funds(&self, account: &str) -> (Decimal, Decimal, Decimal, Decimal) {
        let Some(acc) = self.st.accounts.get(account) else {
            return Default::default();
        };
        let pnl: Decimal = acc.positions.iter().map(|p| self.upl(p)).sum();
        let margin: Decimal = acc
            .positions
            .iter()
            .map(|p| self.margin(&p.epic, p.size, p.level))
            .sum();
        let available = acc.balance + pnl - margin;
        (acc.balance, pnl, margin, available)
    }

    /// The ACCOUNT item's values for `account` now. The sandbox has no limited-risk
    /// (guaranteed-stop) split of P&L and margin, so the `_LR` fields are zero and the `_NLR`
    /// ones carry the whole; nothing is ever due.
    pub fn account_fields(&self, account: &str) -> Vec<(&'static str, String)> {
        let (balance, pnl, margin, available) = self.funds(account);
        let f = |d: Decimal| d.round_dp(2).to_string();
        let zero = f(Decimal::ZERO);
        vec![
            ("PNL", f(pnl)),
            ("DEPOSIT", f(margin)),
            ("AVAILABLE_CASH", f(balance - margin)),
            ("PNL_LR", zero.clone()),
            ("PNL_NLR", f(pnl)),
            ("FUNDS", f(balance)),
            ("MARGIN", f(margin)),
            ("MARGIN_LR", zero.clone()),
            ("MARGIN_NLR", f(margin)),
            ("AVAILABLE_TO_DEAL", f(available)),
            ("EQUITY", f(balance + pnl)),
            ("EQUITY_USED", f(margin)),
            ("USED_MARGIN", f(margin)),
            ("AMOUNT_DUE", zero),
        ]
    }

    /// Publishes an ACCOUNT item update.
    pub fn publish_account(&mut self, account: &str) {
        let Ok(id) = AccountId::new(account) else {
            return;
        };
        let fields = self.account_fields(account);
        self.out.push(BusEvent::Account {
            account: id,
            fields,
        });
    }

    pub fn publish_trade(&mut self, account: &str, kind: TradeKind, json: String) {
        if let Ok(id) = AccountId::new(account) {
            self.out.push(BusEvent::Trade {
                account: id,
                kind,
                json,
            });
        }
    }

    /// Stores a confirm (unless a `lose-confirm` fault fires) and publishes TRADE CONFIRMS.
    pub fn finish(&mut self, account: &str, reference: &str, c: DealConfirmation) {
        let json = serde_json::to_string(&c).unwrap_or_default();
        tracing::info!(
            account = %account,
            deal_ref = %reference,
            status = %c.deal_status.as_deref().unwrap_or("-"),
            reason = %c.reason.as_deref().unwrap_or("-"),
            "deal confirmed"
        );
        let lose = self.st.faults.take(&FaultKind::LoseConfirm);
        if lose {
            tracing::warn!(
                deal_ref = reference,
                fault = "lose-confirm",
                "injected fault: confirm lost"
            );
        } else {
            let delay = self.st.faults.confirm_delay.unwrap_or_default();
            if !delay.is_zero() {
                tracing::warn!(
                    deal_ref = reference,
                    delay_ms = delay.as_millis() as u64,
                    fault = "confirm-delay",
                    "injected fault: confirm delayed"
                );
            }
            self.st.confirms.insert(
                reference.to_string(),
                StoredConfirm {
                    account: account.to_string(),
                    confirm: c,
                    visible_from: self.now + delay,
                    expires: self.now + delay + self.cfg.confirm_ttl,
                },
            );
        }
        self.publish_trade(account, TradeKind::Confirms, json);
        self.publish_account(account);
    }

    pub fn opu(&mut self, account: &str, p: &Position, status: &str) {
        let expiry = self.entry(&p.epic).map_or("-", |e| e.expiry);
        let json = json!({
            "dealReference": p.deal_reference, "dealId": p.deal_id, "dealIdOrigin": p.deal_id,
            "direction": p.direction.as_str(), "epic": p.epic, "expiry": expiry,
            "level": p.level, "size": p.size, "stopLevel": p.stop_level, "limitLevel": p.limit_level,
            "status": status, "dealStatus": "ACCEPTED", "currency": p.currency,
            "timestamp": ig_time::utc_s(self.st.sim_now) + ".000", "channel": "PUBLIC_WEB_API",
            "guaranteedStop": p.stop.guaranteed,
            "trailingStopDistance": p.stop.trailing.map(|t| t.0),
            "trailingStep": p.stop.trailing.map(|t| t.1),
        });
        self.publish_trade(account, TradeKind::Opu, json.to_string());
    }

    /// A triggered guaranteed stop's premium (`CRPREM`, as IG books it): premium points ×
    /// size, valued like a move of that many points, as its own ledger entry and transaction.
    pub fn charge_premium(&mut self, account: &str, p: &Position) {
        let Some(points) = p.stop.premium.filter(|x| *x > Decimal::ZERO) else {
            return;
        };
        let Some(e) = self.entry(&p.epic).cloned() else {
            return;
        };
        let cost = e
            .economics
            .pnl(
                Direction::Buy,
                Size::new(p.size),
                Price::new(p.level),
                Price::new(p.level + points),
            )
            .value()
            .round_dp(2);
        let ts = self.st.sim_now;
        if let Some(acc) = self.st.accounts.get_mut(account) {
            let sym = catalog::currency_symbol(&self.cfg.currency);
            crate::state::cap(&mut acc.transactions);
            acc.transactions.push(Transaction {
                date: Some(ig_time::local_s(ts)),
                date_utc: Some(ig_time::utc_s(ts)),
                open_date_utc: Some(ig_time::utc_s(p.created)),
                instrument_name: Some(format!("{} CRPREM {}", e.name, p.deal_id)),
                period: Some(e.expiry.to_string()),
                profit_and_loss: Some(format!("{sym}-{cost}")),
                transaction_type: Some("DEAL".into()),
                reference: Some(p.deal_id.clone()),
                open_level: None,
                close_level: None,
                size: None,
                currency: Some(sym.to_string()),
                cash_transaction: Some(true),
            });
        }
        tracing::info!(account, deal_id = %p.deal_id, %points, %cost, "guaranteed stop premium charged");
        self.st.post_ledger(
            account,
            &p.deal_id,
            &format!("CRPREM {} {}", e.name, p.deal_id),
            -cost,
        );
    }

    pub fn wou(&mut self, account: &str, o: &WorkingOrder, status: &str) {
        let expiry = self.entry(&o.epic).map_or("-", |e| e.expiry);
        let json = json!({
            "dealReference": o.deal_reference, "dealId": o.deal_id, "direction": o.direction.as_str(),
            "epic": o.epic, "expiry": expiry, "level": o.level, "size": o.size,
            "status": status, "dealStatus": "ACCEPTED", "orderType": o.order_type,
            "timeInForce": o.time_in_force,
            "goodTillDate": o.good_till.map(ig_time::local_s),
            "stopDistance": o.stop_distance, "limitDistance": o.limit_distance,
            "currency": o.currency, "timestamp": ig_time::utc_s(self.st.sim_now) + ".000",
            "channel": "PUBLIC_WEB_API", "guaranteedStop": false,
        });
        self.publish_trade(account, TradeKind::Wou, json.to_string());
    }

    /// Records an activity line.
    #[allow(clippy::too_many_arguments)]
    pub fn activity(
        &mut self,
        account: &str,
        kind: &str,
        status: &str,
        deal_id: &str,
        reference: &str,
        epic: &str,
        description: String,
        details: ActivityDetails,
        action: &str,
    ) {
        let ts = self.st.sim_now;
        let period = self.entry(epic).map(|e| e.expiry.to_string());
        let market_name = self.entry(epic).map(|e| e.name.clone());
        if let Some(acc) = self.st.accounts.get_mut(account) {
            crate::state::cap(&mut acc.activities);
            acc.activities.push(Activity {
                date: Some(ig_time::utc_s(ts)),
                epic: Some(epic.to_string()),
                period,
                deal_id: Some(deal_id.to_string()),
                channel: Some("PUBLIC_WEB_API".into()),
                activity_type: Some(kind.into()),
                status: Some(status.into()),
                description: Some(description),
                details: Some(ActivityDetails {
                    deal_reference: Some(reference.to_string()),
                    actions: Some(vec![ActivityAction {
                        action_type: Some(action.into()),
                        affected_deal_id: Some(deal_id.to_string()),
                    }]),
                    market_name,
                    currency: Some(self.cfg.currency.clone()),
                    ..details
                }),
            });
        }
    }

    /// Closes `size` of a position at `level`: realises P&L, posts the ledger and history.
    /// Returns (realised P&L in account currency, remaining size).
    pub fn realise(
        &mut self,
        account: &str,
        deal_id: &str,
        size: Decimal,
        level: Decimal,
        why: &str,
    ) -> Option<(Decimal, Decimal)> {
        let acc = self.st.accounts.get(account)?;
        let idx = acc.positions.iter().position(|p| p.deal_id == deal_id)?;
        let p = acc.positions[idx].clone();
        let e = self.entry(&p.epic)?.clone();
        let size = size.min(p.size);
        let pnl = e
            .economics
            .pnl(
                p.direction,
                Size::new(size),
                Price::new(p.level),
                Price::new(level),
            )
            .value();
        let remaining = p.size - size;
        let ts = self.st.sim_now;
        if let Some(acc) = self.st.accounts.get_mut(account) {
            if remaining.is_zero() {
                acc.positions.remove(idx);
            } else {
                acc.positions[idx].size = remaining;
            }
            let sym = catalog::currency_symbol(&self.cfg.currency);
            crate::state::cap(&mut acc.transactions);
            acc.transactions.push(Transaction {
                date: Some(ig_time::local_s(ts)),
                date_utc: Some(ig_time::utc_s(ts)),
                open_date_utc: Some(ig_time::utc_s(p.created)),
                instrument_name: Some(e.name.clone()),
                period: Some(e.expiry.to_string()),
                profit_and_loss: Some(format!("{sym}{}", pnl.round_dp(2))),
                transaction_type: Some("DEAL".into()),
                reference: Some(p.deal_id.clone()),
                open_level: Some(p.level.to_string()),
                close_level: Some(level.to_string()),
                size: Some(format!(
                    "{}{}",
                    if p.direction == Direction::Buy {
                        "+"
                    } else {
                        "-"
                    },
                    size
                )),
                currency: Some(sym.to_string()),
                cash_transaction: Some(false),
            });
        }
        self.st.post_ledger(
            account,
            &p.deal_id,
            &format!("{why} {} {}", e.name, p.deal_id),
            pnl,
        );
        let mut after = p.clone();
        after.size = remaining;
        if remaining.is_zero() {
            self.opu(account, &after, "DELETED");
        } else {
            self.opu(account, &after, "UPDATED");
        }
        Some((pnl, remaining))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::market::{MarketRt, Source};
    use crate::money_cases;
    use crate::sim::MarketSim;
    use crate::state::Account;
    use rust_decimal_macros::dec;
    use scalper_model::Timestamp;

    /// The hand-computed money table through the sandbox's ledger: a position opened at the
    /// case's entry (IG-scaled) and closed at its exit books exactly the case's P&L in the
    /// account currency, and the ledger's balance moves by it.
    #[test]
    fn ledger_books_the_hand_computed_pnl() {
        let t0 = Timestamp::from_millis(1_704_182_400_000);
        for c in money_cases::CASES {
            let cfg = SandboxConfig {
                currency: c.account.to_string(),
                ..SandboxConfig::default()
            };
            let entry = catalog::catalogue_for(c.account)
                .into_iter()
                .find(|e| e.epic.as_str() == c.epic)
                .unwrap();
            let scale = entry.scaling_factor;
            let mut st = State::new(1, t0);
            let sim = MarketSim::new(entry.sim_params(), 1, t0);
            st.markets.insert(
                c.epic.to_string(),
                MarketRt::new(entry.clone(), Source::Sim(Box::new(sim)), t0),
            );
            st.accounts.insert(
                "ACC".into(),
                Account {
                    id: "ACC".into(),
                    name: "test".into(),
                    kind: entry.kind,
                    balance: dec!(10000),
                    positions: vec![Position {
                        deal_id: "DEAL1".into(),
                        deal_reference: "REF1".into(),
                        epic: c.epic.to_string(),
                        direction: c.direction,
                        size: c.size,
                        level: c.entry * scale,
                        stop_level: None,
                        limit_level: None,
                        currency: entry.currency.to_string(),
                        created: t0,
                        stop: crate::state::StopTerms::default(),
                    }],
                    orders: Vec::new(),
                    ledger: Vec::new(),
                    activities: Vec::new(),
                    transactions: Vec::new(),
                    trailing_stops_enabled: true,
                },
            );
            let mut out = Vec::new();
            let mut w = World {
                st: &mut st,
                cfg: &cfg,
                out: &mut out,
                now: Instant::now(),
            };
            let (pnl, remaining) = w
                .realise("ACC", "DEAL1", c.size, c.exit * scale, "test")
                .unwrap();
            assert_eq!(pnl, c.pnl_account, "{}", c.name);
            assert!(remaining.is_zero(), "{}", c.name);
            let last = st.accounts["ACC"].ledger.last().cloned().unwrap();
            assert_eq!(last.amount, c.pnl_account, "{}", c.name);
            assert_eq!(last.balance, dec!(10000) + c.pnl_account, "{}", c.name);
        }
    }

    /// The 50% margin close-out: a BUY of one EUR/USD contract (about 2,844 GBP of margin)
    /// 300 points under water on a 3,000 GBP balance leaves equity near 630 GBP, below half
    /// the margin: the next quote closes it and books the loss.
    #[test]
    fn margin_close_out_at_half_the_margin() {
        let t0 = Timestamp::from_millis(1_704_182_400_000);
        let cfg = SandboxConfig::default();
        let epic = "CS.D.EURUSD.CFD.IP";
        let entry = catalog::catalogue()
            .into_iter()
            .find(|e| e.epic.as_str() == epic)
            .unwrap();
        let mut st = State::new(1, t0);
        let sim = MarketSim::new(entry.sim_params(), 1, t0);
        let rt = MarketRt::new(entry.clone(), Source::Sim(Box::new(sim)), t0);
        let q = rt.last.clone();
        let level = close_price(&q, Direction::Buy) + dec!(300);
        st.markets.insert(epic.to_string(), rt);
        let position = |deal_id: &str, level| Position {
            deal_id: deal_id.into(),
            deal_reference: "REF".into(),
            epic: epic.to_string(),
            direction: Direction::Buy,
            size: dec!(1),
            level,
            stop_level: None,
            limit_level: None,
            currency: "USD".into(),
            created: t0,
            stop: crate::state::StopTerms::default(),
        };
        for (id, balance, level) in [("LOSER", dec!(3000), level), ("FINE", dec!(100000), level)] {
            st.accounts.insert(
                id.into(),
                Account {
                    id: id.into(),
                    name: id.into(),
                    kind: ProductKind::Cfd,
                    balance,
                    positions: vec![position("DEAL", level)],
                    orders: Vec::new(),
                    ledger: Vec::new(),
                    activities: Vec::new(),
                    transactions: Vec::new(),
                    trailing_stops_enabled: true,
                },
            );
        }
        let mut out = Vec::new();
        let mut w = World {
            st: &mut st,
            cfg: &cfg,
            out: &mut out,
            now: Instant::now(),
        };
        w.on_quote(&q);
        let loser = &st.accounts["LOSER"];
        assert!(loser.positions.is_empty(), "closed out");
        // -300 points x 10 USD = -3,000 USD x 0.79 = -2,370 GBP.
        assert_eq!(loser.ledger.last().unwrap().amount, dec!(-2370.00));
        assert_eq!(
            st.accounts["FINE"].positions.len(),
            1,
            "enough equity: left open"
        );
    }
}
