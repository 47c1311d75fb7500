//! What a new quote sets off: stops and limits of open positions, LIMIT/STOP working orders
//! reaching their level, and good-till-date orders expiring.

use scalper_ig_wire::history::ActivityDetails;
use scalper_model::economics::below_close_out;
use scalper_model::{Direction, Money, Quote};

use crate::dealing::{close_price, open_price, World};
use crate::state::Position;

impl World<'_> {
    /// Applies every trigger for `q.epic` at quote `q`.
    pub fn on_quote(&mut self, q: &Quote) {
        let epic = q.epic.as_str().to_string();
        if self.tradeable(&epic).is_some() {
            return;
        }
        let accounts: Vec<String> = self.st.accounts.keys().cloned().collect();
        for account in accounts {
            self.position_triggers(&account, &epic, q);
            self.order_triggers(&account, &epic, q);
            // Open P&L moves with the price: keep the ACCOUNT item current.
            let exposed = self
                .st
                .accounts
                .get(&account)
                .is_some_and(|a| a.positions.iter().any(|p| p.epic == epic));
            if exposed {
                self.margin_close_out(&account);
                self.publish_account(&account);
            }
        }
    }

    /// IG's margin close-out: when equity (balance and open P&L) falls below 50% of the
    /// margin of the open positions, every position of the account is closed at market.
    fn margin_close_out(&mut self, account: &str) {
        let (balance, pnl, margin, _) = self.funds(account);
        if !below_close_out(Money::new(balance + pnl), Money::new(margin)) {
            return;
        }
        let positions = self
            .st
            .accounts
            .get(account)
            .map(|a| a.positions.clone())
            .unwrap_or_default();
        tracing::warn!(account, %balance, %pnl, %margin, "margin close-out: equity below 50% of margin");
        for p in positions {
            let Some(q) = self.quote(&p.epic) else {
                continue;
            };
            let exit = close_price(&q, p.direction);
            self.realise(account, &p.deal_id, p.size, exit, "MARGIN_CALL");
        }
    }

    /// IG's trailing stops: a stop more than its distance plus one step behind the price
    /// moves toward it by whole steps; each move is an `OPU` with status `UPDATED`.
    fn trail_stops(&mut self, account: &str, epic: &str, q: &Quote) {
        let Some(acc) = self.st.accounts.get_mut(account) else {
            return;
        };
        let mut moved = Vec::new();
        for p in acc.positions.iter_mut().filter(|p| p.epic == epic) {
            let (Some((dist, step)), Some(stop)) = (p.stop.trailing, p.stop_level) else {
                continue;
            };
            if step <= rust_decimal::Decimal::ZERO {
                continue;
            }
            let mark = close_price(q, p.direction);
            let sign = p.direction.sign();
            let gap = (mark - stop) * sign - dist;
            if gap < step {
                continue;
            }
            let steps = (gap / step).floor();
            p.stop_level = Some(stop + sign * steps * step);
            moved.push(p.clone());
        }
        for p in moved {
            tracing::debug!(account, deal_id = %p.deal_id, stop = ?p.stop_level, "trailing stop moved");
            self.opu(account, &p, "UPDATED");
        }
    }

    fn position_triggers(&mut self, account: &str, epic: &str, q: &Quote) {
        self.trail_stops(account, epic, q);
        let hits: Vec<(Position, &'static str)> = self
            .st
            .accounts
            .get(account)
            .map(|a| {
                a.positions
                    .iter()
                    .filter(|p| p.epic == epic)
                    .filter_map(|p| {
                        let mark = close_price(q, p.direction);
                        let sign = p.direction.sign();
                        if p.stop_level.is_some_and(|s| mark * sign <= s * sign) {
                            Some((p.clone(), "STOP"))
                        } else if p.limit_level.is_some_and(|l| mark * sign >= l * sign) {
                            Some((p.clone(), "LIMIT"))
                        } else {
                            None
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        for (p, what) in hits {
            // A guaranteed stop fills at its own level, however far the price gapped.
            let level = match (what, p.stop.guaranteed, p.stop_level) {
                ("STOP", true, Some(s)) => s,
                _ => close_price(q, p.direction),
            };
            let reference = self.st.deal_reference();
            tracing::info!(account = %account, deal_id = %p.deal_id, %level, trigger = %what, "position closed by {what}");
            if let Some((pnl, _)) = self.realise(account, &p.deal_id, p.size, level, what) {
                let details = ActivityDetails {
                    size: Some(p.size),
                    direction: Some(p.direction.opposite().as_str().into()),
                    level: Some(level),
                    stop_level: p.stop_level,
                    limit_level: p.limit_level,
                    ..Default::default()
                };
                let action = if what == "STOP" {
                    "STOP_LIMIT_AMENDED"
                } else {
                    "LIMIT_ORDER_FILLED"
                };
                self.activity(
                    account,
                    "POSITION",
                    "ACCEPTED",
                    &p.deal_id,
                    &reference,
                    &p.epic,
                    format!(
                        "Position closed by {}: {} (P&L {pnl})",
                        what.to_lowercase(),
                        p.deal_id
                    ),
                    details,
                    if what == "STOP" {
                        "POSITION_CLOSED"
                    } else {
                        action
                    },
                );
                if what == "STOP" && p.stop.guaranteed {
                    self.charge_premium(account, &p);
                }
                // IG itself closed it: its activity's channel is SYSTEM, as on IG.
                if let Some(a) = self
                    .st
                    .accounts
                    .get_mut(account)
                    .and_then(|acc| acc.activities.last_mut())
                {
                    a.channel = Some("SYSTEM".into());
                }
                self.publish_account(account);
            }
        }
    }

    fn order_triggers(&mut self, account: &str, epic: &str, q: &Quote) {
        let now = self.st.sim_now;
        let Some(acc) = self.st.accounts.get_mut(account) else {
            return;
        };
        let mut fired = Vec::new();
        let mut expired = Vec::new();
        acc.orders.retain(|o| {
            if o.epic != epic {
                return true;
            }
            if o.good_till.is_some_and(|t| t <= now) {
                expired.push(o.clone());
                return false;
            }
            let px = open_price(q, o.direction);
            let hit = match (o.order_type.as_str(), o.direction) {
                ("LIMIT", Direction::Buy) | ("STOP", Direction::Sell) => px <= o.level,
                ("LIMIT", Direction::Sell) | ("STOP", Direction::Buy) => px >= o.level,
                _ => false,
            };
            if hit {
                fired.push(o.clone());
            }
            !hit
        });
        for o in expired {
            tracing::info!(account, deal_id = %o.deal_id, "working order expired");
            self.wou(account, &o, "DELETED");
        }
        for o in fired {
            let fill = open_price(q, o.direction);
            let sign = o.direction.sign();
            let p = Position {
                deal_id: o.deal_id.clone(),
                deal_reference: o.deal_reference.clone(),
                epic: o.epic.clone(),
                direction: o.direction,
                size: o.size,
                level: fill,
                stop_level: o.stop_distance.map(|d| fill - d * sign),
                limit_level: o.limit_distance.map(|d| fill + d * sign),
                currency: o.currency.clone(),
                created: now,
                stop: crate::state::StopTerms::default(),
            };
            tracing::info!(account, deal_id = %o.deal_id, %fill, "working order filled");
            if let Some(a) = self.st.accounts.get_mut(account) {
                a.positions.push(p.clone());
            }
            self.wou(account, &o, "DELETED");
            self.opu(account, &p, "OPEN");
            let details = ActivityDetails {
                size: Some(o.size),
                direction: Some(o.direction.as_str().into()),
                level: Some(fill),
                stop_level: p.stop_level,
                limit_level: p.limit_level,
                ..Default::default()
            };
            self.activity(
                account,
                "POSITION",
                "ACCEPTED",
                &o.deal_id,
                &o.deal_reference,
                &o.epic,
                format!("Working order filled: {}", o.deal_id),
                details,
                "POSITION_OPENED",
            );
            self.publish_account(account);
        }
    }
}
