//! Sandbox streaming items: parsing IG item names and schemas, and computing IG field values
//! from bus events (PRICE, MARKET, CHART ticks and candles, TRADE, ACCOUNT).

use rust_decimal::Decimal;
use scalper_model::{Epic, MarketStatus, Price, Timestamp};

use crate::bus::TradeKind;

/// A field value: `None` is null.
pub use scalper_ig_wire::tlcp::Value;

/// Candle scale of a CHART item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Tick,
    Period(i64),
}

/// One subscribable item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Price { epic: Epic },
    Market { epic: Epic },
    Chart { epic: Epic, scale: Scale },
    Trade,
    Account,
}

const PRICE_FIELDS: &[&str] = &[
    "MID_OPEN",
    "HIGH",
    "LOW",
    "BIDQUOTEID",
    "ASKQUOTEID",
    "BIDPRICE1",
    "ASKPRICE1",
    "BIDPRICE2",
    "ASKPRICE2",
    "BIDPRICE3",
    "ASKPRICE3",
    "BIDPRICE4",
    "ASKPRICE4",
    "BIDPRICE5",
    "ASKPRICE5",
    "BIDSIZE1",
    "ASKSIZE1",
    "TIMESTAMP",
    "DLG_FLAG",
    "NET_CHG",
    "NET_CHG_PCT",
    "DELAY",
    "CURRENCY0",
];
const MARKET_FIELDS: &[&str] = &[
    "BID",
    "OFFER",
    "HIGH",
    "LOW",
    "MID_OPEN",
    "CHANGE",
    "CHANGE_PCT",
    "UPDATE_TIME",
    "MARKET_DELAY",
    "MARKET_STATE",
    "STRIKE_PRICE",
    "ODDS",
];
const TICK_FIELDS: &[&str] = &[
    "BID",
    "OFR",
    "LTP",
    "LTV",
    "TTV",
    "UTM",
    "DAY_OPEN_MID",
    "DAY_NET_CHG_MID",
    "DAY_PERC_CHG_MID",
    "DAY_HIGH",
    "DAY_LOW",
];
const CANDLE_FIELDS: &[&str] = &[
    "LTV",
    "TTV",
    "UTM",
    "DAY_OPEN_MID",
    "DAY_NET_CHG_MID",
    "DAY_PERC_CHG_MID",
    "DAY_HIGH",
    "DAY_LOW",
    "OFR_OPEN",
    "OFR_HIGH",
    "OFR_LOW",
    "OFR_CLOSE",
    "BID_OPEN",
    "BID_HIGH",
    "BID_LOW",
    "BID_CLOSE",
    "LTP_OPEN",
    "LTP_HIGH",
    "LTP_LOW",
    "LTP_CLOSE",
    "CONS_END",
    "CONS_TICK_COUNT",
];
const TRADE_FIELDS: &[&str] = &["CONFIRMS", "OPU", "WOU"];
const ACCOUNT_FIELDS: &[&str] = &[
    "PNL",
    "DEPOSIT",
    "AVAILABLE_CASH",
    "PNL_LR",
    "PNL_NLR",
    "FUNDS",
    "MARGIN",
    "MARGIN_LR",
    "MARGIN_NLR",
    "AVAILABLE_TO_DEAL",
    "EQUITY",
    "EQUITY_USED",
    "USED_MARGIN",
    "AMOUNT_DUE",
];

/// Why a subscription is refused (sent as `REQERR,<id>,-1,<message>` like IG's adapter).
pub type Refusal = String;

impl Item {
    /// Parses an item name for the session's `account`; `adapter` is `LS_data_adapter`.
    pub fn parse(name: &str, account: &str, adapter: Option<&str>) -> Result<Self, Refusal> {
        let parts: Vec<&str> = name.split(':').collect();
        let epic = |s: &str| Epic::new(s).map_err(|e| format!("Invalid item {name}: {e}"));
        let own = |acc: &str| {
            if acc == account {
                Ok(())
            } else {
                Err(format!("Insufficient permissions for item {name}"))
            }
        };
        let item = match parts.as_slice() {
            ["PRICE", acc, e] => {
                own(acc)?;
                if adapter != Some("Pricing") {
                    return Err(format!("Item {name} needs data adapter Pricing"));
                }
                Item::Price { epic: epic(e)? }
            }
            ["MARKET" | "L1", e] => Item::Market { epic: epic(e)? },
            ["CHART", e, scale] => {
                let scale = match *scale {
                    "TICK" => Scale::Tick,
                    "SECOND" => Scale::Period(1_000),
                    "1MINUTE" => Scale::Period(60_000),
                    "5MINUTE" => Scale::Period(300_000),
                    "HOUR" => Scale::Period(3_600_000),
                    _ => return Err(format!("Invalid chart scale in {name}")),
                };
                Item::Chart {
                    epic: epic(e)?,
                    scale,
                }
            }
            ["TRADE", acc] => {
                own(acc)?;
                Item::Trade
            }
            ["ACCOUNT", acc] => {
                own(acc)?;
                Item::Account
            }
            _ => return Err(format!("Invalid item {name}")),
        };
        if adapter.is_some_and(|a| a != "Pricing" && a != "DEFAULT") {
            return Err(format!("Unknown data adapter for {name}"));
        }
        Ok(item)
    }

    fn known_fields(&self) -> &'static [&'static str] {
        match self {
            Self::Price { .. } => PRICE_FIELDS,
            Self::Market { .. } => MARKET_FIELDS,
            Self::Chart {
                scale: Scale::Tick, ..
            } => TICK_FIELDS,
            Self::Chart { .. } => CANDLE_FIELDS,
            Self::Trade => TRADE_FIELDS,
            Self::Account => ACCOUNT_FIELDS,
        }
    }

    /// Checks a schema: one unknown field refuses the whole subscription (as IG does).
    pub fn check_schema(&self, fields: &[String]) -> Result<(), Refusal> {
        if fields.is_empty() {
            return Err("Empty field schema".into());
        }
        match fields
            .iter()
            .find(|f| !self.known_fields().contains(&f.as_str()))
        {
            Some(bad) => Err(format!("Invalid field {bad}")),
            None => Ok(()),
        }
    }

    pub fn epic(&self) -> Option<&Epic> {
        match self {
            Self::Price { epic } | Self::Market { epic } | Self::Chart { epic, .. } => Some(epic),
            Self::Trade | Self::Account => None,
        }
    }
}

/// Day statistics and the forming candle of one item, fed by price events.
#[derive(Debug, Clone, Default)]
pub struct PriceState {
    /// The market's decimal places, once known: day statistics are rounded to them as REST
    /// rounds its snapshot's.
    decimals: Option<u32>,
    open_mid: Option<Decimal>,
    high: Option<Decimal>,
    low: Option<Decimal>,
    candle: Option<CandleState>,
    /// The market reports tick volume (`LTV`): not FX, which IG leaves without volume.
    volume: bool,
}

#[derive(Debug, Clone)]
struct CandleState {
    start: i64,
    bid: [Decimal; 4],
    ofr: [Decimal; 4],
    ticks: u64,
}

/// A price event as the items see it.
#[derive(Debug, Clone)]
pub struct Tick<'a> {
    pub bid: Price,
    pub offer: Price,
    pub ts: Timestamp,
    pub status: &'a MarketStatus,
}

#[allow(clippy::unnecessary_wraps)] // reads as a field value at every call site
fn s(d: Decimal) -> Value {
    Some(d.normalize().to_string())
}

fn dlg_flag(status: &MarketStatus) -> &'static str {
    match status {
        MarketStatus::Tradeable => "DEAL",
        MarketStatus::Closed | MarketStatus::Other(_) => "CLOSED",
        MarketStatus::EditsOnly => "EDIT",
        MarketStatus::OnAuction => "AUCTION",
        MarketStatus::OnAuctionNoEdits => "AUCTIONNOEDIT",
        MarketStatus::Suspended | MarketStatus::Offline => "SUSPEND",
        MarketStatus::ClosingsOnly => "CLOSINGSONLY",
        MarketStatus::DealNoEdit => "DEALNOEDIT",
    }
}

/// IG pads `DLG_FLAG` values with a space (except the 13-character `AUCTIONNOEDIT`).
fn padded_flag(status: &MarketStatus) -> String {
    let f = dlg_flag(status);
    if f.len() < 13 {
        format!("{f} ")
    } else {
        f.to_string()
    }
}

fn market_state(status: &MarketStatus) -> String {
    match status {
        MarketStatus::EditsOnly => "EDIT".into(),
        MarketStatus::OnAuction => "AUCTION".into(),
        MarketStatus::OnAuctionNoEdits => "AUCTION_NO_EDIT".into(),
        other => other.as_ig().to_string(),
    }
}

impl PriceState {
    /// Starts the day statistics from the market's (a new subscription's snapshot), so that
    /// `MID_OPEN`, `HIGH`, `LOW` and the changes agree with REST's market snapshot.
    pub fn seed_day(&mut self, decimals: u32, open_mid: Decimal, high: Decimal, low: Decimal) {
        self.decimals = Some(decimals);
        self.open_mid = Some(open_mid);
        self.high = Some(high);
        self.low = Some(low);
    }

    /// Whether the item's market reports tick volume (`LTV`: one a tick, a candle's tick
    /// count, as `/prices` gives `lastTradedVolume`).
    pub fn set_volume(&mut self, volume: bool) {
        self.volume = volume;
    }

    /// Starts the forming candle from the market's bar (a CHART item's snapshot), less its
    /// last tick, which the snapshot row then adds.
    pub fn seed_candle(&mut self, seed: &super::CandleSeed) {
        self.candle = Some(CandleState {
            start: seed.start,
            bid: seed.bid,
            ofr: seed.ofr,
            ticks: seed.ticks.saturating_sub(1),
        });
    }

    /// Updates the state with a tick and returns the value rows to send: usually one, two when
    /// a candle completes (the final row with `CONS_END=1`, then the new candle).
    pub fn on_tick(&mut self, item: &Item, fields: &[String], t: &Tick<'_>) -> Vec<Vec<Value>> {
        let mid = (t.bid.value() + t.offer.value()) / Decimal::TWO;
        let open = *self.open_mid.get_or_insert(mid);
        let high = self.high.map_or(mid, |h| h.max(mid));
        let low = self.low.map_or(mid, |l| l.min(mid));
        self.high = Some(high);
        self.low = Some(low);
        let round = |d: Decimal| self.decimals.map_or(d, |dp| d.round_dp(dp));
        let chg = round(mid - open);
        let pct = if open.is_zero() {
            Decimal::ZERO
        } else {
            (chg / open * Decimal::ONE_HUNDRED).round_dp(2)
        };
        let (open, high, low) = (round(open), round(high), round(low));
        let mut rows = Vec::new();
        if let Item::Chart {
            scale: Scale::Period(period),
            ..
        } = item
        {
            let start = t.ts.millis() - t.ts.millis().rem_euclid(*period);
            let (b, o) = (t.bid.value(), t.offer.value());
            match &mut self.candle {
                Some(c) if c.start == start => {
                    c.bid = [c.bid[0], c.bid[1].max(b), c.bid[2].min(b), b];
                    c.ofr = [c.ofr[0], c.ofr[1].max(o), c.ofr[2].min(o), o];
                    c.ticks += 1;
                }
                slot => {
                    if let Some(done) = slot.take() {
                        rows.push(Self::candle_row(
                            fields,
                            &done,
                            (true, self.volume),
                            (open, chg, pct, high, low),
                        ));
                    }
                    self.candle = Some(CandleState {
                        start,
                        bid: [b; 4],
                        ofr: [o; 4],
                        ticks: 1,
                    });
                }
            }
            if let Some(c) = &self.candle {
                rows.push(Self::candle_row(
                    fields,
                    c,
                    (false, self.volume),
                    (open, chg, pct, high, low),
                ));
            }
            return rows;
        }
        let row = fields
            .iter()
            .map(|f| match (item, f.as_str()) {
                (Item::Price { .. }, "BIDPRICE1") | (_, "BID") => s(t.bid.value()),
                (Item::Price { .. }, "ASKPRICE1") | (_, "OFFER" | "OFR") => s(t.offer.value()),
                (_, "TIMESTAMP" | "UTM") => Some(t.ts.millis().to_string()),
                (_, "DLG_FLAG") => Some(padded_flag(t.status)),
                (_, "MARKET_STATE") => Some(market_state(t.status)),
                (_, "MID_OPEN" | "DAY_OPEN_MID") => s(open),
                (_, "HIGH" | "DAY_HIGH") => s(high),
                (_, "LOW" | "DAY_LOW") => s(low),
                (_, "NET_CHG" | "CHANGE" | "DAY_NET_CHG_MID") => s(chg),
                (_, "NET_CHG_PCT" | "CHANGE_PCT" | "DAY_PERC_CHG_MID") => s(pct),
                (_, "DELAY" | "MARKET_DELAY") => Some("0".into()),
                (_, "UPDATE_TIME") => t.ts.to_datetime().map(|d| d.format("%H:%M:%S").to_string()),
                (_, "BIDQUOTEID" | "ASKQUOTEID") => Some(format!("Q{}", t.ts.millis())),
                (Item::Chart { .. }, "LTV") if self.volume => Some("1".into()),
                _ => None,
            })
            .collect();
        rows.push(row);
        rows
    }

    fn candle_row(
        fields: &[String],
        c: &CandleState,
        (complete, volume): (bool, bool),
        day: (Decimal, Decimal, Decimal, Decimal, Decimal),
    ) -> Vec<Value> {
        let (open, chg, pct, high, low) = day;
        let idx = |name: &str| {
            ["OPEN", "HIGH", "LOW", "CLOSE"]
                .iter()
                .position(|n| *n == name)
        };
        fields
            .iter()
            .map(|f| match f.as_str() {
                "UTM" => Some(c.start.to_string()),
                "CONS_END" => Some(if complete { "1" } else { "0" }.into()),
                "CONS_TICK_COUNT" => Some(c.ticks.to_string()),
                "LTV" if volume => Some(c.ticks.to_string()),
                "DAY_OPEN_MID" => s(open),
                "DAY_NET_CHG_MID" => s(chg),
                "DAY_PERC_CHG_MID" => s(pct),
                "DAY_HIGH" => s(high),
                "DAY_LOW" => s(low),
                other => match other.split_once('_') {
                    Some(("BID", k)) => idx(k).map(|i| c.bid[i]).and_then(s),
                    Some(("OFR", k)) => idx(k).map(|i| c.ofr[i]).and_then(s),
                    _ => None,
                },
            })
            .collect()
    }
}

/// The values of a TRADE update: the kind's field carries the JSON, the others are null.
pub fn trade_row(fields: &[String], kind: TradeKind, json: &str) -> Vec<Value> {
    let name = match kind {
        TradeKind::Confirms => "CONFIRMS",
        TradeKind::Opu => "OPU",
        TradeKind::Wou => "WOU",
    };
    fields
        .iter()
        .map(|f| (f == name).then(|| json.to_string()))
        .collect()
}

/// The values of an ACCOUNT update; `None` for fields the event does not carry means
/// "unchanged" (`prev` keeps the last value).
pub fn account_row(
    fields: &[String],
    data: &[(&'static str, String)],
    prev: &[Value],
) -> Vec<Value> {
    fields
        .iter()
        .enumerate()
        .map(|(i, f)| match data.iter().find(|(k, _)| k == f) {
            Some((_, v)) => Some(v.clone()),
            None => prev.get(i).cloned().flatten(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::unnecessary_wraps)]
    fn v(s: &str) -> Value {
        Some(s.to_string())
    }

    #[test]
    fn items_parse_with_permissions() {
        assert!(Item::parse("PRICE:ABC:CS.D.EURUSD.CFD.IP", "ABC", Some("Pricing")).is_ok());
        assert!(Item::parse("PRICE:ABC:CS.D.EURUSD.CFD.IP", "ABC", None)
            .unwrap_err()
            .contains("Pricing"));
        assert!(
            Item::parse("PRICE:XYZ:CS.D.EURUSD.CFD.IP", "ABC", Some("Pricing"))
                .unwrap_err()
                .contains("Insufficient permissions")
        );
        assert_eq!(Item::parse("TRADE:ABC", "ABC", None), Ok(Item::Trade));
        assert!(Item::parse("CHART:CS.D.EURUSD.CFD.IP:2MINUTE", "ABC", None).is_err());
        let item = Item::parse("MARKET:CS.D.EURUSD.CFD.IP", "ABC", None).unwrap();
        assert!(item.check_schema(&["BID".into(), "NOPE".into()]).is_err());
        assert!(item.check_schema(&["BID".into(), "OFFER".into()]).is_ok());
    }

    #[test]
    fn candles_complete_on_period_change() {
        let item = Item::Chart {
            epic: Epic::new("CS.D.EURUSD.CFD.IP").unwrap(),
            scale: Scale::Period(1_000),
        };
        let fields: Vec<String> = [
            "UTM",
            "BID_OPEN",
            "BID_HIGH",
            "BID_CLOSE",
            "OFR_CLOSE",
            "CONS_END",
            "CONS_TICK_COUNT",
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        let mut st = PriceState::default();
        let status = MarketStatus::Tradeable;
        let tick = |b: i64, ms: i64| Tick {
            bid: Price::new(b.into()),
            offer: Price::new((b + 1).into()),
            ts: Timestamp::from_millis(ms),
            status: &status,
        };
        assert_eq!(st.on_tick(&item, &fields, &tick(10, 5_100)).len(), 1);
        let rows = st.on_tick(&item, &fields, &tick(12, 5_900));
        assert_eq!(
            rows[0],
            vec![
                v("5000"),
                v("10"),
                v("12"),
                v("12"),
                v("13"),
                v("0"),
                v("2")
            ]
        );
        let rows = st.on_tick(&item, &fields, &tick(11, 6_000));
        assert_eq!(rows.len(), 2);
        // Volume fields: null for FX (as IG leaves them), tick volume elsewhere; never a
        // last traded price (OTC).
        let vol: Vec<String> = ["LTV", "TTV", "LTP_CLOSE", "CONS_TICK_COUNT"]
            .iter()
            .map(ToString::to_string)
            .collect();
        let mut fx = PriceState::default();
        fx.on_tick(&item, &vol, &tick(10, 7_100));
        assert_eq!(
            fx.on_tick(&item, &vol, &tick(11, 7_200))[0],
            vec![None, None, None, v("2")]
        );
        let mut dax = PriceState::default();
        dax.set_volume(true);
        dax.on_tick(&item, &vol, &tick(10, 7_100));
        assert_eq!(
            dax.on_tick(&item, &vol, &tick(11, 7_200))[0],
            vec![v("2"), None, None, v("2")]
        );
        let ticks = Item::Chart {
            epic: Epic::new("IX.D.DAX.IFMM.IP").unwrap(),
            scale: Scale::Tick,
        };
        let tfields: Vec<String> = ["LTP", "LTV", "TTV"]
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            dax.on_tick(&ticks, &tfields, &tick(12, 7_300))[0],
            vec![None, v("1"), None]
        );
        assert_eq!(
            fx.on_tick(&ticks, &tfields, &tick(12, 7_300))[0],
            vec![None, None, None]
        );
        assert_eq!(rows[0][5], v("1"));
        assert_eq!(
            rows[1],
            vec![
                v("6000"),
                v("11"),
                v("11"),
                v("11"),
                v("12"),
                v("0"),
                v("1")
            ]
        );
    }
}
