//! Bar-data fills for the sim broker: market orders fill at the next bar's open (± half the
//! spread when known), and stops/limits inside a bar assume the stop was hit first.

use rust_decimal::Decimal;
use scalper_model::{Candle, Direction, Price, Quote};

use super::SimBroker;
use crate::event::{BrokerEvent, CloseCause};

/// Exit of a position of `direction` with `stop`/`limit` during `bar` (mid prices; `half`
/// is half the spread). Stop first when both lie inside the range. A bar opening beyond the
/// stop fills at the open (a gap), beyond the limit at the limit level.
pub fn intrabar_exit(
    direction: Direction,
    stop: Option<Price>,
    limit: Option<Price>,
    bar: &Candle,
    half: Decimal,
) -> Option<(Price, CloseCause)> {
    // Longs exit on the bid side, shorts on the offer side.
    let shift = match direction {
        Direction::Buy => -half,
        Direction::Sell => half,
    };
    let (open, high, low) = (bar.open + shift, bar.high + shift, bar.low + shift);
    match direction {
        Direction::Buy => {
            if let Some(s) = stop.filter(|s| low <= *s) {
                return Some((if open <= s { open } else { s }, CloseCause::Stop));
            }
            limit.filter(|l| high >= *l).map(|l| (l, CloseCause::Limit))
        }
        Direction::Sell => {
            if let Some(s) = stop.filter(|s| high >= *s) {
                return Some((if open >= s { open } else { s }, CloseCause::Stop));
            }
            limit.filter(|l| low <= *l).map(|l| (l, CloseCause::Limit))
        }
    }
}

pub(super) fn on_bar(b: &mut SimBroker, bar: &Candle) -> Vec<BrokerEvent> {
    let mut out = Vec::new();
    let Some(idx) = b.market(&bar.epic) else {
        return out;
    };
    b.bar_mode = true;
    let half = bar.spread.unwrap_or_default() / Decimal::TWO;
    let open_quote = Quote {
        epic: bar.epic.clone(),
        bid: bar.open - half,
        offer: bar.open + half,
        ts: bar.start,
    };
    b.markets[idx].last = Some(open_quote.clone());
    b.markets[idx].seq += 1;
    let pending = std::mem::take(&mut b.pending);
    for p in pending {
        if super::cmd_epic(&p.cmd) == &bar.epic {
            b.fill_pending(&p.cmd, &open_quote, &mut out);
        } else {
            b.pending.push_back(p);
        }
    }
    let end = bar.start.plus_millis(bar.period_ms);
    let mut i = 0;
    while i < b.positions.len() {
        let p = &b.positions[i];
        if p.epic != bar.epic {
            i += 1;
            continue;
        }
        match intrabar_exit(p.direction, p.stop_level, p.limit_level, bar, half) {
            Some((level, cause)) => {
                let id = p.deal_id.clone();
                // Stops slip like market orders; limits fill at their level.
                let level = if cause == CloseCause::Stop {
                    let slip = b.slip(&b.markets[idx].instrument, &open_quote);
                    match p.direction {
                        Direction::Buy => level - slip,
                        Direction::Sell => level + slip,
                    }
                } else {
                    level
                };
                if let Some(ev) = b.close_position(&id, level, cause, end) {
                    out.push(ev);
                }
            }
            None => i += 1,
        }
    }
    b.markets[idx].last = Some(Quote {
        epic: bar.epic.clone(),
        bid: bar.close - half,
        offer: bar.close + half,
        ts: end,
    });
    out
}
