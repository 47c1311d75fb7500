//! What can be subscribed on IG's stream: item names, modes, data adapters and field lists, and
//! the `control` request that adds one subscription.

use std::fmt;

use scalper_model::{AccountId, Epic};

use scalper_ig_wire::tlcp::encode_form_value;

/// Lightstreamer subscription mode (IG supports only these two).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    Merge,
    Distinct,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Merge => "MERGE",
            Self::Distinct => "DISTINCT",
        }
    }
}

/// Candle length of a `CHART:{epic}:{scale}` item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChartScale {
    Second,
    Minute,
    FiveMinutes,
    Hour,
}

impl ChartScale {
    pub fn as_ig(self) -> &'static str {
        match self {
            Self::Second => "SECOND",
            Self::Minute => "1MINUTE",
            Self::FiveMinutes => "5MINUTE",
            Self::Hour => "HOUR",
        }
    }
    pub fn from_ig(s: &str) -> Option<Self> {
        match s {
            "SECOND" => Some(Self::Second),
            "1MINUTE" => Some(Self::Minute),
            "5MINUTE" => Some(Self::FiveMinutes),
            "HOUR" => Some(Self::Hour),
            _ => None,
        }
    }
    /// Length of one candle in milliseconds.
    pub fn period_ms(self) -> i64 {
        match self {
            Self::Second => 1_000,
            Self::Minute => 60_000,
            Self::FiveMinutes => 300_000,
            Self::Hour => 3_600_000,
        }
    }
}

/// One stream subscription, independent of the session (account ids are filled in from the
/// credentials when the subscription is sent).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subscription {
    /// `PRICE:{account}:{epic}` (MERGE, adapter `Pricing`): top of book with UTC timestamp.
    Price(Epic),
    /// `MARKET:{epic}` (MERGE, legacy, decommissioned by IG in May 2026).
    Market(Epic),
    /// `CHART:{epic}:TICK` (DISTINCT): every tick.
    ChartTick(Epic),
    /// `CHART:{epic}:{scale}` (MERGE): the forming and completed candles.
    Chart(Epic, ChartScale),
    /// `TRADE:{account}` (DISTINCT): CONFIRMS, OPU and WOU.
    Trade,
    /// `ACCOUNT:{account}` (MERGE): balance and margin.
    Account,
}

pub const PRICE_FIELDS: &[&str] = &["BIDPRICE1", "ASKPRICE1", "TIMESTAMP", "DLG_FLAG"];
pub const MARKET_FIELDS: &[&str] = &["BID", "OFFER", "UPDATE_TIME", "MARKET_STATE"];
pub const TICK_FIELDS: &[&str] = &["BID", "OFR", "LTP", "LTV", "UTM"];
pub const CANDLE_FIELDS: &[&str] = &[
    "UTM",
    "BID_OPEN",
    "BID_HIGH",
    "BID_LOW",
    "BID_CLOSE",
    "OFR_OPEN",
    "OFR_HIGH",
    "OFR_LOW",
    "OFR_CLOSE",
    "LTV",
    "CONS_END",
    "CONS_TICK_COUNT",
];
pub const TRADE_FIELDS: &[&str] = &["CONFIRMS", "OPU", "WOU"];
pub const ACCOUNT_FIELDS: &[&str] = &[
    "PNL",
    "DEPOSIT",
    "AVAILABLE_CASH",
    "FUNDS",
    "MARGIN",
    "AVAILABLE_TO_DEAL",
    "EQUITY",
    "EQUITY_USED",
];

impl Subscription {
    pub fn mode(&self) -> Mode {
        match self {
            Self::ChartTick(_) | Self::Trade => Mode::Distinct,
            _ => Mode::Merge,
        }
    }

    /// The Lightstreamer item name.
    pub fn item(&self, account: &AccountId) -> String {
        match self {
            Self::Price(e) => format!("PRICE:{account}:{e}"),
            Self::Market(e) => format!("MARKET:{e}"),
            Self::ChartTick(e) => format!("CHART:{e}:TICK"),
            Self::Chart(e, s) => format!("CHART:{e}:{}", s.as_ig()),
            Self::Trade => format!("TRADE:{account}"),
            Self::Account => format!("ACCOUNT:{account}"),
        }
    }

    pub fn fields(&self) -> &'static [&'static str] {
        match self {
            Self::Price(_) => PRICE_FIELDS,
            Self::Market(_) => MARKET_FIELDS,
            Self::ChartTick(_) => TICK_FIELDS,
            Self::Chart(..) => CANDLE_FIELDS,
            Self::Trade => TRADE_FIELDS,
            Self::Account => ACCOUNT_FIELDS,
        }
    }

    pub fn data_adapter(&self) -> Option<&'static str> {
        match self {
            Self::Price(_) => Some("Pricing"),
            _ => None,
        }
    }

    /// The epic this subscription is about, if any.
    pub fn epic(&self) -> Option<&Epic> {
        match self {
            Self::Price(e) | Self::Market(e) | Self::ChartTick(e) | Self::Chart(e, _) => Some(e),
            Self::Trade | Self::Account => None,
        }
    }

    /// The form body of the `control` request adding this subscription.
    pub fn add_request(&self, req_id: u64, sub_id: u64, account: &AccountId) -> String {
        let mut body = format!(
            "LS_reqId={req_id}&LS_op=add&LS_subId={sub_id}&LS_mode={}&LS_group={}&LS_schema={}",
            self.mode().as_str(),
            encode_form_value(&self.item(account)),
            encode_form_value(&self.fields().join(" ")),
        );
        if let Some(adapter) = self.data_adapter() {
            body.push_str("&LS_data_adapter=");
            body.push_str(adapter);
        }
        // MERGE snapshots give the current price at once. DISTINCT snapshots would replay old
        // events (confirms, ticks) as if new, so they are not requested.
        body.push_str(match self.mode() {
            Mode::Merge => "&LS_snapshot=true",
            Mode::Distinct => "&LS_snapshot=false",
        });
        body
    }
}

impl fmt::Display for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Price(e) => write!(f, "PRICE:{{account}}:{e}"),
            Self::Trade => f.write_str("TRADE:{account}"),
            Self::Account => f.write_str("ACCOUNT:{account}"),
            other => {
                // Items without an account read the same as their item name.
                let placeholder = AccountId::new("X").map_err(|_| fmt::Error)?;
                f.write_str(&other.item(&placeholder))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_and_requests() {
        let acc = AccountId::new("ABC123").unwrap();
        let epic = Epic::new("CS.D.EURUSD.CFD.IP").unwrap();
        let p = Subscription::Price(epic.clone());
        assert_eq!(p.item(&acc), "PRICE:ABC123:CS.D.EURUSD.CFD.IP");
        assert_eq!(
            p.add_request(3, 1, &acc),
            "LS_reqId=3&LS_op=add&LS_subId=1&LS_mode=MERGE&LS_group=PRICE%3AABC123%3ACS.D.EURUSD.CFD.IP\
             &LS_schema=BIDPRICE1%20ASKPRICE1%20TIMESTAMP%20DLG_FLAG&LS_data_adapter=Pricing&LS_snapshot=true"
        );
        assert_eq!(
            Subscription::Chart(epic.clone(), ChartScale::Minute).item(&acc),
            "CHART:CS.D.EURUSD.CFD.IP:1MINUTE"
        );
        assert_eq!(Subscription::ChartTick(epic.clone()).mode(), Mode::Distinct);
        assert_eq!(Subscription::Trade.item(&acc), "TRADE:ABC123");
        assert_eq!(Subscription::Trade.mode(), Mode::Distinct);
        assert_eq!(Subscription::Account.mode(), Mode::Merge);
        assert_eq!(
            Subscription::Trade.add_request(1, 2, &acc),
            "LS_reqId=1&LS_op=add&LS_subId=2&LS_mode=DISTINCT&LS_group=TRADE%3AABC123\
             &LS_schema=CONFIRMS%20OPU%20WOU&LS_snapshot=false"
        );
        assert_eq!(
            Subscription::Market(epic).to_string(),
            "MARKET:CS.D.EURUSD.CFD.IP"
        );
    }
}
