//! CSV header recognition: finds the time column (including a pandas index column) and
//! decides between quote ticks (bid/ask) and bars (mid OHLC or bid/ask OHLC), matching names
//! case-insensitively and ignoring punctuation (`Open Bid` = `open_bid` = `openbid`).

/// Column positions of a quote-tick file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuoteColumns {
    pub ts: usize,
    pub bid: usize,
    pub ask: usize,
}

/// Open, high, low, close column positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ohlc {
    pub open: usize,
    pub high: usize,
    pub low: usize,
    pub close: usize,
}

/// Prices of a bar file: mid (or single-sided) OHLC with an optional spread column, or bid
/// and ask OHLC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarPrices {
    Mid { ohlc: Ohlc, spread: Option<usize> },
    BidAsk { bid: Ohlc, ask: Ohlc },
}

/// Column positions of a bar file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarColumns {
    pub ts: usize,
    pub prices: BarPrices,
    pub volume: Option<usize>,
}

/// What a header describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Quotes(QuoteColumns),
    Bars(BarColumns),
}

const TIME: &[&str] = &[
    "tsms",
    "timestampms",
    "timems",
    "snapshottimeutc",
    "timestamp",
    "ts",
    "datetime",
    "time",
    "date",
    "gmttime",
    "utc",
    "localtime",
    "snapshottime",
];
const PANDAS_INDEX: &[&str] = &["", "unnamed0", "index"];
const BID: &[&str] = &["bid"];
const ASK: &[&str] = &["ask", "offer", "ofr"];
const QUOTE_BID: &[&str] = &["bid", "bidprice", "bestbid"];
const QUOTE_ASK: &[&str] = &["ask", "offer", "ofr", "askprice", "offerprice", "bestask"];
const VOLUME: &[&str] = &["volume", "vol", "v", "lasttradedvolume", "tickvolume"];
const FIELDS: [(&str, &str); 4] = [("open", "o"), ("high", "h"), ("low", "l"), ("close", "c")];

/// Lowercase alphanumerics of a header cell (BOM, quotes, spaces and `_` dropped).
pub fn normalise(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn find(names: &[String], aliases: &[&str]) -> Option<usize> {
    aliases
        .iter()
        .find_map(|a| names.iter().position(|n| n == a))
}

fn side_ohlc(names: &[String], sides: &[&str]) -> Option<Ohlc> {
    let mut idx = [0usize; 4];
    for (i, (field, _)) in FIELDS.iter().enumerate() {
        let cands: Vec<String> = sides
            .iter()
            .flat_map(|s| [format!("{s}{field}"), format!("{field}{s}")])
            .collect();
        idx[i] = names.iter().position(|n| cands.contains(n))?;
    }
    Some(Ohlc {
        open: idx[0],
        high: idx[1],
        low: idx[2],
        close: idx[3],
    })
}

fn mid_ohlc(names: &[String]) -> Option<Ohlc> {
    let mut idx = [0usize; 4];
    for (i, (field, short)) in FIELDS.iter().enumerate() {
        let cands = [
            (*field).to_string(),
            (*short).to_string(),
            format!("mid{field}"),
            format!("{field}mid"),
        ];
        idx[i] = names.iter().position(|n| cands.contains(n))?;
    }
    Some(Ohlc {
        open: idx[0],
        high: idx[1],
        low: idx[2],
        close: idx[3],
    })
}

/// Recognises a header row; `None` when it is neither a quote nor a bar layout.
pub fn detect(header: &[String]) -> Option<Layout> {
    let names: Vec<String> = header.iter().map(|h| normalise(h)).collect();
    let ts = find(&names, TIME).or_else(|| {
        names
            .first()
            .filter(|n| PANDAS_INDEX.contains(&n.as_str()))
            .map(|_| 0)
    })?;
    let volume = find(&names, VOLUME);
    if let (Some(bid), Some(ask)) = (side_ohlc(&names, BID), side_ohlc(&names, ASK)) {
        return Some(Layout::Bars(BarColumns {
            ts,
            prices: BarPrices::BidAsk { bid, ask },
            volume,
        }));
    }
    if let Some(ohlc) = mid_ohlc(&names) {
        return Some(Layout::Bars(BarColumns {
            ts,
            prices: BarPrices::Mid {
                ohlc,
                spread: find(&names, &["spread"]),
            },
            volume,
        }));
    }
    let bid = find(&names, QUOTE_BID)?;
    let ask = find(&names, QUOTE_ASK)?;
    Some(Layout::Quotes(QuoteColumns { ts, bid, ask }))
}

/// The name of column `i` as written in the header (for error messages).
pub fn column_name(header: &[String], i: usize) -> String {
    match header.get(i).map(|s| s.trim()) {
        Some("") | None => format!("#{}", i + 1),
        Some(s) => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<String> {
        s.split(',').map(str::to_string).collect()
    }

    #[test]
    fn recognises_layouts() {
        assert_eq!(
            detect(&h("ts_ms,bid,ask")),
            Some(Layout::Quotes(QuoteColumns {
                ts: 0,
                bid: 1,
                ask: 2
            }))
        );
        assert_eq!(
            detect(&h("\u{feff}Timestamp,Offer,BID")),
            Some(Layout::Quotes(QuoteColumns {
                ts: 0,
                bid: 2,
                ask: 1
            }))
        );
        let Some(Layout::Bars(b)) = detect(&h(",open,high,low,close,volume")) else {
            panic!("pandas index bars")
        };
        assert_eq!(b.ts, 0);
        assert_eq!(b.volume, Some(5));
        let Some(Layout::Bars(b)) = detect(&h(
            "Date,Open Bid,High Bid,Low Bid,Close Bid,Open Ask,High Ask,Low Ask,Close Ask",
        )) else {
            panic!("bid/ask bars")
        };
        assert!(matches!(b.prices, BarPrices::BidAsk { .. }));
        let Some(Layout::Bars(b)) = detect(&h("time,o,h,l,c,spread")) else {
            panic!("short names")
        };
        assert_eq!(
            b.prices,
            BarPrices::Mid {
                ohlc: Ohlc {
                    open: 1,
                    high: 2,
                    low: 3,
                    close: 4
                },
                spread: Some(5)
            }
        );
        assert_eq!(detect(&h("foo,bid,ask")), None);
        assert_eq!(detect(&h("ts,bid")), None);
        assert_eq!(detect(&h("ts,open,high,close")), None);
    }
}
