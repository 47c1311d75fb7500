//! MERGE price items are throttled as IG's server does: at most 20 updates a second (announced
//! in `CONF`), fewer when the client asks with `LS_requested_max_frequency`, the latest values
//! always delivered; DISTINCT ticks and candles are not throttled.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use scalper_ig_wire::tlcp::ItemValues;
use scalper_model::Epic;
use scalper_sandbox::SandboxConfig;
use tokio::time::Instant;

const FORM: &str = "application/x-www-form-urlencoded";
const EPIC: &str = "CS.D.EURUSD.CFD.IP";
const TICKS: usize = 300;

/// The lines of a streaming response, read until `done` says so or the deadline passes.
struct Lines {
    resp: reqwest::Response,
    buf: String,
}

impl Lines {
    async fn next(&mut self, deadline: Instant) -> String {
        loop {
            if let Some(i) = self.buf.find("\r\n") {
                let line = self.buf[..i].to_string();
                self.buf.drain(..i + 2);
                return line;
            }
            match tokio::time::timeout_at(deadline, self.resp.chunk()).await {
                Ok(Ok(Some(chunk))) => self.buf.push_str(&String::from_utf8_lossy(&chunk)),
                other => panic!("stream ended or timed out: {other:?}; {:?}", self.buf),
            }
        }
    }
}

/// Updates of one subscription: how many, when the first and last came, the values now.
struct Seen {
    values: ItemValues,
    count: usize,
    first: Option<Instant>,
    last: Option<Instant>,
}

impl Seen {
    fn new(fields: usize) -> Self {
        Self {
            values: ItemValues::new(fields),
            count: 0,
            first: None,
            last: None,
        }
    }

    fn apply(&mut self, encoded: &str) {
        self.values.apply(encoded).unwrap();
        self.count += 1;
        let now = Instant::now();
        self.first.get_or_insert(now);
        self.last = Some(now);
    }
}

/// A stream session's control requests.
struct Control {
    http: reqwest::Client,
    url: String,
}

impl Control {
    async fn send(&self, body: String) -> String {
        let r = self
            .http
            .post(&self.url)
            .header("Content-Type", FORM)
            .body(body)
            .send()
            .await
            .unwrap();
        r.text().await.unwrap()
    }
}

/// Logs in and opens an HTTP-streaming session: its lines and its control requests.
async fn open(sb: &scalper_sandbox::SandboxHandle, deadline: Instant) -> (Lines, Control) {
    let mut raw = common::Raw::new(sb);
    raw.login().await;
    let (cst, xst) = (raw.cst.clone().unwrap(), raw.xst.clone().unwrap());
    let http = reqwest::Client::new();
    let base = format!("{}/lightstreamer", sb.stream_url());
    let resp = http
        .post(format!("{base}/create_session.txt?LS_protocol=TLCP-2.4.0"))
        .header("Content-Type", FORM)
        .body(format!(
            "LS_cid=mgQkwtwdysogQz2BJ4Ji%20kOj2Bg&LS_password=CST-{cst}%7CXST-{xst}"
        ))
        .send()
        .await
        .unwrap();
    let mut lines = Lines {
        resp,
        buf: String::new(),
    };
    let conok = lines.next(deadline).await;
    assert!(conok.starts_with("CONOK,"), "{conok}");
    let session = conok.split(',').nth(1).unwrap().to_string();
    let url = format!("{base}/control.txt?LS_protocol=TLCP-2.4.0&LS_session={session}");
    (lines, Control { http, url })
}

#[tokio::test]
async fn merge_price_items_are_throttled_and_end_on_the_latest_values() {
    let sb = common::start_with(SandboxConfig::for_tests()).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let (mut lines, ctl) = open(&sb, deadline).await;
    let control = |body: String| ctl.send(body);
    let subs = [
        // (id, mode, item, schema, requested max frequency)
        (
            1,
            "MERGE",
            format!("PRICE:SANDBOX-CFD:{EPIC}"),
            "BIDPRICE1 TIMESTAMP",
            "",
        ),
        (2, "DISTINCT", format!("CHART:{EPIC}:TICK"), "BID UTM", ""),
        (
            3,
            "MERGE",
            format!("MARKET:{EPIC}"),
            "BID OFFER",
            "&LS_requested_max_frequency=2",
        ),
        (
            4,
            "MERGE",
            format!("CHART:{EPIC}:SECOND"),
            "UTM CONS_TICK_COUNT",
            "",
        ),
    ];
    for (id, mode, item, schema, freq) in &subs {
        let adapter = if item.starts_with("PRICE") {
            "&LS_data_adapter=Pricing"
        } else {
            ""
        };
        let ok = control(format!(
            "LS_reqId={id}&LS_op=add&LS_subId={id}&LS_mode={mode}&LS_group={item}\
             &LS_schema={}&LS_snapshot=false{adapter}{freq}",
            schema.replace(' ', "%20")
        ))
        .await;
        assert!(ok.starts_with(&format!("REQOK,{id}")), "{ok}");
    }
    let refused = control(format!(
        "LS_reqId=5&LS_op=add&LS_subId=5&LS_mode=MERGE&LS_group=MARKET:{EPIC}\
         &LS_schema=BID&LS_requested_max_frequency=fast"
    ))
    .await;
    assert!(refused.starts_with("REQERR,5"), "{refused}");
    // SUBOK for each, and CONF with the frequency for the throttled price items only.
    let mut confs = Vec::new();
    let mut subok = 0;
    while subok < subs.len() || confs.len() < 2 {
        let line = lines.next(deadline).await;
        if line.starts_with("SUBOK,") {
            subok += 1;
        } else if line.starts_with("CONF,") {
            confs.push(line);
        }
    }
    confs.sort();
    assert_eq!(confs, ["CONF,1,20.0,filtered", "CONF,3,2.0,filtered"]);

    let quotes = sb
        .step(Some(&Epic::new(EPIC).unwrap()), TICKS as u32)
        .unwrap();
    let last = quotes.last().unwrap();
    let (mut price, mut ticks, mut market, mut seconds) =
        (Seen::new(2), Seen::new(2), Seen::new(2), Seen::new(2));
    let last_ts = last.ts.millis().to_string();
    let done = |price: &Seen, ticks: &Seen, market: &Seen| {
        ticks.count == TICKS
            && price.values.get(1) == Some(last_ts.as_str())
            && market.values.get(0) == Some(last.bid.value().normalize().to_string().as_str())
            && market.values.get(1) == Some(last.offer.value().normalize().to_string().as_str())
    };
    while !done(&price, &ticks, &market) {
        let line = lines.next(deadline).await;
        let mut parts = line.splitn(4, ',');
        if parts.next() != Some("U") {
            continue;
        }
        let sub = parts.next().unwrap();
        let values = parts.nth(1).unwrap();
        match sub {
            "1" => price.apply(values),
            "2" => ticks.apply(values),
            "3" => market.apply(values),
            "4" => seconds.apply(values),
            _ => {}
        }
    }
    // Every tick, and every candle update (its completion included), but the price items no
    // more often than announced (one more for rounding at each end).
    assert_eq!(ticks.count, TICKS);
    assert!(seconds.count >= TICKS, "{} candle updates", seconds.count);
    let span = |s: &Seen| {
        s.last
            .unwrap()
            .duration_since(s.first.unwrap())
            .as_secs_f64()
    };
    assert!(
        (price.count as f64) <= 2.0 + span(&price) * 20.0,
        "{} PRICE updates in {:.3}s",
        price.count,
        span(&price)
    );
    assert!(price.count < TICKS / 10, "{} PRICE updates", price.count);
    assert!(
        (market.count as f64) <= 2.0 + span(&market) * 2.0,
        "{} MARKET updates in {:.3}s",
        market.count,
        span(&market)
    );
    assert!(
        market.count >= 2 && span(&market) >= 0.45,
        "the latest waited its turn"
    );
    sb.shutdown().await;
}

/// Without the server's cap (`stream_max_frequency: None`, the tick-to-order benchmark's
/// set-up) every quote goes out at once, and a client's own request still throttles.
#[tokio::test]
async fn without_the_cap_every_quote_goes_out_unless_the_client_asks_for_fewer() {
    let sb = common::start_with(SandboxConfig {
        stream_max_frequency: None,
        ..SandboxConfig::for_tests()
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let (mut lines, ctl) = open(&sb, deadline).await;
    for (id, item, schema, freq) in [
        (
            1,
            format!("PRICE:SANDBOX-CFD:{EPIC}"),
            "BIDPRICE1%20TIMESTAMP",
            "&LS_data_adapter=Pricing",
        ),
        (
            2,
            format!("MARKET:{EPIC}"),
            "BID%20OFFER",
            "&LS_requested_max_frequency=2",
        ),
    ] {
        let ok = ctl
            .send(format!(
                "LS_reqId={id}&LS_op=add&LS_subId={id}&LS_mode=MERGE&LS_group={item}\
                 &LS_schema={schema}&LS_snapshot=false{freq}"
            ))
            .await;
        assert!(ok.starts_with(&format!("REQOK,{id}")), "{ok}");
    }
    let mut confs = Vec::new();
    let mut subok = 0;
    while subok < 2 || confs.is_empty() {
        let line = lines.next(deadline).await;
        if line.starts_with("SUBOK,") {
            subok += 1;
        } else if line.starts_with("CONF,") {
            confs.push(line);
        }
    }
    assert_eq!(
        confs,
        ["CONF,2,2.0,filtered"],
        "no CONF for the uncapped item"
    );

    let quotes = sb
        .step(Some(&Epic::new(EPIC).unwrap()), TICKS as u32)
        .unwrap();
    let last_ts = quotes.last().unwrap().ts.millis().to_string();
    let (mut price, mut market) = (Seen::new(2), Seen::new(2));
    while price.values.get(1) != Some(last_ts.as_str()) {
        let line = lines.next(deadline).await;
        let mut parts = line.splitn(4, ',');
        if parts.next() != Some("U") {
            continue;
        }
        let sub = parts.next().unwrap();
        let values = parts.nth(1).unwrap();
        match sub {
            "1" => price.apply(values),
            "2" => market.apply(values),
            _ => {}
        }
    }
    assert_eq!(price.count, TICKS, "every quote, none merged");
    assert!(market.count < TICKS / 10, "{} MARKET updates", market.count);
    sb.shutdown().await;
}
