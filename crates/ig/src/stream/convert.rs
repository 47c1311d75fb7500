//! Turns an item's decoded field values into typed output (quotes, candles, trade updates,
//! account updates, market status). Pure: the caller supplies "now" for items without a
//! timestamp field.

use std::str::FromStr;

use rust_decimal::Decimal;
use scalper_model::{AccountId, Candle, MarketStatus, Money, Price, Quote, Timestamp};

use super::events::{AccountUpdate, StreamEvent};
use super::items::{Subscription, ACCOUNT_FIELDS, CANDLE_FIELDS, TRADE_FIELDS};
use super::trade::{parse_confirm, parse_position_update, parse_working_order_update};
use scalper_ig_wire::tlcp::{DecodeError, ItemValues};

/// One piece of output from an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Quote(Quote),
    Event(Box<StreamEvent>),
}

impl Output {
    fn event(ev: StreamEvent) -> Self {
        Self::Event(Box::new(ev))
    }
}

/// Per-subscription decoding state: field values and the last market status reported.
#[derive(Debug, Clone)]
pub struct ItemState {
    pub subscription: Subscription,
    pub values: ItemValues,
    last_status: Option<MarketStatus>,
}

impl ItemState {
    pub fn new(subscription: Subscription) -> Self {
        let n = subscription.fields().len();
        Self {
            subscription,
            values: ItemValues::new(n),
            last_status: None,
        }
    }

    fn dec(&self, i: usize) -> Option<Decimal> {
        self.values
            .get(i)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .and_then(|s| Decimal::from_str(s).ok())
    }

    fn millis(&self, i: usize) -> Option<Timestamp> {
        self.values
            .get(i)
            .and_then(|s| s.trim().parse::<i64>().ok())
            .map(Timestamp::from_millis)
    }

    fn status_change(&mut self, status: MarketStatus, at: Timestamp) -> Option<Output> {
        if self.last_status.as_ref() == Some(&status) {
            return None;
        }
        self.last_status = Some(status.clone());
        let epic = self.subscription.epic()?.clone();
        Some(Output::event(StreamEvent::MarketStatus {
            epic,
            status,
            at,
        }))
    }

    /// Applies one encoded update and returns what it means.
    pub fn apply(
        &mut self,
        encoded: &str,
        account: &AccountId,
        now: Timestamp,
    ) -> Result<Vec<Output>, DecodeError> {
        let changed = self.values.apply(encoded)?;
        Ok(self.outputs(&changed, account, now))
    }

    fn quote(
        &self,
        bid: usize,
        offer: usize,
        ts: Option<Timestamp>,
        now: Timestamp,
    ) -> Option<Output> {
        let epic = self.subscription.epic()?.clone();
        Some(Output::Quote(Quote {
            epic,
            bid: Price::new(self.dec(bid)?),
            offer: Price::new(self.dec(offer)?),
            ts: ts.unwrap_or(now),
        }))
    }

    fn outputs(&mut self, changed: &[bool], account: &AccountId, now: Timestamp) -> Vec<Output> {
        let any = |idx: &[usize]| {
            idx.iter()
                .any(|&i| changed.get(i).copied().unwrap_or(false))
        };
        let mut out = Vec::new();
        match self.subscription.clone() {
            // BIDPRICE1 ASKPRICE1 TIMESTAMP DLG_FLAG
            Subscription::Price(_) => {
                let ts = self.millis(2).unwrap_or(now);
                if any(&[0, 1, 2]) {
                    out.extend(self.quote(0, 1, Some(ts), now));
                }
                if any(&[3]) {
                    if let Some(flag) = self.values.get(3) {
                        let status = status_from_dlg_flag(flag);
                        out.extend(self.status_change(status, ts));
                    }
                }
            }
            // BID OFFER UPDATE_TIME MARKET_STATE
            Subscription::Market(_) => {
                if any(&[0, 1, 2]) {
                    out.extend(self.quote(0, 1, None, now));
                }
                if any(&[3]) {
                    if let Some(state) = self.values.get(3) {
                        let status = status_from_market_state(state);
                        out.extend(self.status_change(status, now));
                    }
                }
            }
            // BID OFR LTP LTV UTM
            Subscription::ChartTick(_) => {
                if any(&[0, 1, 4]) {
                    let ts = self.millis(4);
                    out.extend(self.quote(0, 1, ts, now));
                }
            }
            Subscription::Chart(epic, scale) => {
                debug_assert_eq!(CANDLE_FIELDS[0], "UTM");
                let mid = |b: usize, o: usize| -> Option<Price> {
                    // Checked: values beyond Decimal's range drop the candle, never panic.
                    Some(Price::new(
                        self.dec(b)?.checked_add(self.dec(o)?)? / Decimal::TWO,
                    ))
                };
                let candle = (|| {
                    Some(Candle {
                        epic,
                        start: self.millis(0)?,
                        period_ms: scale.period_ms(),
                        open: mid(1, 5)?,
                        high: mid(2, 6)?,
                        low: mid(3, 7)?,
                        close: mid(4, 8)?,
                        spread: Some(self.dec(5)?.checked_sub(self.dec(1)?)?),
                        volume: self.dec(11),
                    })
                })();
                if let Some(candle) = candle {
                    if changed.iter().any(|c| *c) {
                        let complete = self.values.get(10).map(str::trim) == Some("1");
                        out.push(Output::event(StreamEvent::Candle {
                            candle,
                            scale,
                            complete,
                        }));
                    }
                }
            }
            Subscription::Trade => {
                for (i, name) in TRADE_FIELDS.iter().enumerate() {
                    if !changed.get(i).copied().unwrap_or(false) {
                        continue;
                    }
                    let Some(json) = self.values.get(i).filter(|s| !s.trim().is_empty()) else {
                        continue;
                    };
                    let ev = match *name {
                        "CONFIRMS" => parse_confirm(json).map(StreamEvent::Confirm),
                        "OPU" => parse_position_update(json).map(StreamEvent::Position),
                        _ => parse_working_order_update(json).map(StreamEvent::WorkingOrder),
                    };
                    out.push(Output::event(ev.unwrap_or_else(|error| {
                        StreamEvent::TradeUndecodable {
                            error,
                            raw: json.chars().take(2000).collect(),
                        }
                    })));
                }
            }
            Subscription::Account => {
                if changed.iter().any(|c| *c) {
                    debug_assert_eq!(ACCOUNT_FIELDS.len(), 8);
                    let m = |i: usize| self.dec(i).map(Money::new);
                    out.push(Output::event(StreamEvent::Account {
                        account: account.clone(),
                        update: AccountUpdate {
                            pnl: m(0),
                            deposit: m(1),
                            available_cash: m(2),
                            funds: m(3),
                            margin: m(4),
                            available_to_deal: m(5),
                            equity: m(6),
                            equity_used: m(7),
                        },
                    }));
                }
            }
        }
        out
    }
}

/// PRICE `DLG_FLAG` (space-padded) to a market status.
pub fn status_from_dlg_flag(flag: &str) -> MarketStatus {
    match flag.trim() {
        "DEAL" => MarketStatus::Tradeable,
        "CLOSED" => MarketStatus::Closed,
        "EDIT" => MarketStatus::EditsOnly,
        "CLOSINGSONLY" => MarketStatus::ClosingsOnly,
        "DEALNOEDIT" => MarketStatus::DealNoEdit,
        "AUCTION" => MarketStatus::OnAuction,
        "AUCTIONNOEDIT" => MarketStatus::OnAuctionNoEdits,
        "SUSPEND" => MarketStatus::Suspended,
        other => MarketStatus::Other(other.to_string()),
    }
}

/// MARKET `MARKET_STATE` to a market status.
pub fn status_from_market_state(state: &str) -> MarketStatus {
    match state.trim() {
        "EDIT" => MarketStatus::EditsOnly,
        "AUCTION" => MarketStatus::OnAuction,
        "AUCTION_NO_EDIT" => MarketStatus::OnAuctionNoEdits,
        other => MarketStatus::from_ig(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::items::ChartScale;
    use crate::DealStatus;
    use scalper_model::Epic;

    fn acc() -> AccountId {
        AccountId::new("ABC123").unwrap()
    }
    fn epic() -> Epic {
        Epic::new("CS.D.EURUSD.CFD.IP").unwrap()
    }
    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }
    fn ev(o: &Output) -> &StreamEvent {
        match o {
            Output::Event(e) => e,
            Output::Quote(q) => panic!("expected an event, got {q:?}"),
        }
    }
    const NOW: Timestamp = Timestamp::from_millis(42);

    #[test]
    fn price_updates_make_quotes_and_status_changes() {
        let mut st = ItemState::new(Subscription::Price(epic()));
        let out = st
            .apply("1.08123|1.08131|1700000000123|DEAL%20", &acc(), NOW)
            .unwrap();
        assert_eq!(
            out,
            vec![
                Output::Quote(Quote {
                    epic: epic(),
                    bid: Price::new(d("1.08123")),
                    offer: Price::new(d("1.08131")),
                    ts: Timestamp::from_millis(1_700_000_000_123),
                }),
                Output::event(StreamEvent::MarketStatus {
                    epic: epic(),
                    status: MarketStatus::Tradeable,
                    at: Timestamp::from_millis(1_700_000_000_123),
                }),
            ]
        );
        // Only the bid and timestamp change: a quote with the old offer, no status event.
        let out = st.apply("1.08124||1700000000200|", &acc(), NOW).unwrap();
        assert_eq!(
            out,
            vec![Output::Quote(Quote {
                epic: epic(),
                bid: Price::new(d("1.08124")),
                offer: Price::new(d("1.08131")),
                ts: Timestamp::from_millis(1_700_000_000_200),
            })]
        );
        // Only the flag changes.
        let out = st.apply("^3|CLOSED%20%20", &acc(), NOW).unwrap();
        assert_eq!(
            out,
            vec![Output::event(StreamEvent::MarketStatus {
                epic: epic(),
                status: MarketStatus::Closed,
                at: Timestamp::from_millis(1_700_000_000_200),
            })]
        );
        // A null offer yields no quote (never a half quote).
        assert_eq!(
            st.apply("1.1|#|1700000000300|", &acc(), NOW).unwrap(),
            vec![]
        );
    }

    #[test]
    fn tick_and_market_quotes() {
        let mut st = ItemState::new(Subscription::ChartTick(epic()));
        let out = st.apply("1.1|1.2|#|#|1700000000000", &acc(), NOW).unwrap();
        assert!(matches!(&out[..], [Output::Quote(q)] if q.ts.millis() == 1_700_000_000_000));
        let mut st = ItemState::new(Subscription::Market(epic()));
        let out = st.apply("1.1|1.2|10:00:00|TRADEABLE", &acc(), NOW).unwrap();
        assert!(matches!(&out[0], Output::Quote(q) if q.ts == NOW));
        assert!(matches!(
            ev(&out[1]),
            StreamEvent::MarketStatus {
                status: MarketStatus::Tradeable,
                ..
            }
        ));
    }

    #[test]
    fn chart_candle() {
        let mut st = ItemState::new(Subscription::Chart(epic(), ChartScale::Minute));
        let out = st
            .apply(
                "1700000040000|1.0|1.2|0.9|1.1|1.2|1.4|1.1|1.3|#|0|17",
                &acc(),
                NOW,
            )
            .unwrap();
        let StreamEvent::Candle {
            candle,
            complete,
            scale,
        } = ev(&out[0])
        else {
            panic!("{out:?}")
        };
        assert!(!complete);
        assert_eq!(*scale, ChartScale::Minute);
        assert_eq!(candle.open, Price::new(d("1.1")));
        assert_eq!(candle.high, Price::new(d("1.3")));
        assert_eq!(candle.close, Price::new(d("1.2")));
        assert_eq!(candle.spread, Some(d("0.2")));
        assert_eq!(candle.period_ms, 60_000);
        assert_eq!(candle.volume, Some(d("17")));
        let out = st.apply("^10|1|", &acc(), NOW).unwrap();
        assert!(matches!(
            ev(&out[0]),
            StreamEvent::Candle { complete: true, .. }
        ));
    }

    #[test]
    fn trade_fields_only_emit_when_sent() {
        let mut st = ItemState::new(Subscription::Trade);
        let confirm = "%7B%22dealReference%22%3A%22R1%22%2C%22dealStatus%22%3A%22ACCEPTED%22%7D";
        let out = st.apply(&format!("{confirm}|#|#"), &acc(), NOW).unwrap();
        assert_eq!(out.len(), 1);
        assert!(
            matches!(ev(&out[0]), StreamEvent::Confirm(c) if c.deal_status == DealStatus::Accepted)
        );
        // The next event only carries an OPU; the old CONFIRMS is "unchanged" and not re-emitted.
        let out = st
            .apply(
                "|%7B%22dealId%22%3A%22DI1%22%2C%22status%22%3A%22OPEN%22%7D|",
                &acc(),
                NOW,
            )
            .unwrap();
        assert_eq!(out.len(), 1);
        assert!(matches!(ev(&out[0]), StreamEvent::Position(p) if p.deal_id.as_str() == "DI1"));
        // Garbage JSON surfaces, it is not dropped.
        let out = st.apply("#|#|oops", &acc(), NOW).unwrap();
        assert_eq!(out.len(), 1);
        assert!(matches!(ev(&out[0]), StreamEvent::TradeUndecodable { raw, .. } if raw == "oops"));
    }

    #[test]
    fn account_update() {
        let mut st = ItemState::new(Subscription::Account);
        let out = st
            .apply("12.5|1000|900|#|100|850|1012.5|10", &acc(), NOW)
            .unwrap();
        let StreamEvent::Account { update, .. } = ev(&out[0]) else {
            panic!("{out:?}")
        };
        assert_eq!(update.pnl, Some(Money::new(d("12.5"))));
        assert_eq!(update.funds, None);
        assert_eq!(update.available_to_deal, Some(Money::new(d("850"))));
    }

    #[test]
    fn flags() {
        assert_eq!(
            status_from_dlg_flag("DEALNOEDIT "),
            MarketStatus::DealNoEdit
        );
        assert_eq!(
            status_from_dlg_flag("AUCTIONNOEDIT"),
            MarketStatus::OnAuctionNoEdits
        );
        assert_eq!(
            status_from_dlg_flag("CALL "),
            MarketStatus::Other("CALL".into())
        );
        assert_eq!(status_from_market_state("EDIT"), MarketStatus::EditsOnly);
        assert_eq!(status_from_market_state("OFFLINE"), MarketStatus::Offline);
    }
}
