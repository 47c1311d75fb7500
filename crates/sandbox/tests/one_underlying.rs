//! One underlying per market: the CFD, mini and spread-bet epics of a market are quoted from
//! one price path (each with its own scaling and spread), live, when stepped or set by the
//! admin, and in the back-filled history.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::str::FromStr;

use common::{start, Raw};
use rust_decimal::Decimal;
use scalper_model::Epic;
use serde_json::Value;

const CFD: &str = "CS.D.EURUSD.CFD.IP";
const MINI: &str = "CS.D.EURUSD.MINI.IP";
const DFB: &str = "CS.D.EURUSD.TODAY.IP";
const DAX_CFD: &str = "IX.D.DAX.IFMM.IP";
const DAX_DFB: &str = "IX.D.DAX.DAILY.IP";

fn dec(v: &Value) -> Decimal {
    Decimal::from_str(&v.to_string()).unwrap()
}

/// The mid of each epic at its quoting scale, divided by the scale's ratio to the CFD's
/// (`scalingFactor` of `/markets`): the underlying's mid as each epic sees it.
async fn mids(c: &Raw, epics: &[&str]) -> Vec<(Decimal, String)> {
    let r = c
        .get(&format!("/markets?epics={}", epics.join(",")), 2)
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    r.body["marketDetails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let s = &m["snapshot"];
            let mid = (dec(&s["bid"]) + dec(&s["offer"])) / Decimal::TWO;
            let scale = dec(&s["scalingFactor"]);
            (
                mid / scale,
                s["updateTimeUTC"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn cfd_mini_and_spread_bet_share_one_price_path() {
    let sb = start().await;
    let mut c = Raw::new(&sb);
    c.login().await;
    let (cfd, mini, dfb) = (
        Epic::new(CFD).unwrap(),
        Epic::new(MINI).unwrap(),
        Epic::new(DFB).unwrap(),
    );
    // After the warm-up, and after each of 50 ticks of the underlying, every epic of the
    // market is quoted at the same instant and the same mid (after scaling).
    for round in 0..50 {
        let quotes = sb.step(Some(&cfd), 1).unwrap();
        assert_eq!(quotes.len(), 1, "the stepped epic's quote");
        let (q, m, d) = (
            sb.quote(&cfd).unwrap(),
            sb.quote(&mini).unwrap(),
            sb.quote(&dfb).unwrap(),
        );
        assert_eq!((q.ts, q.ts), (m.ts, d.ts), "round {round}");
        assert_eq!(q.mid(), m.mid(), "round {round}");
        assert_eq!(q.mid(), d.mid(), "round {round}");
        assert!(m.offer > m.bid && d.offer > d.bid);
    }
    let seen = mids(&c, &[CFD, MINI, DFB]).await;
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
    // Stepping the spread bet steps the underlying: the CFD moves with it.
    let before = sb.quote(&cfd).unwrap();
    let stepped = sb.step(Some(&dfb), 5).unwrap();
    assert_eq!(stepped.len(), 5);
    assert!(stepped.iter().all(|q| q.epic == dfb));
    let now = sb.quote(&cfd).unwrap();
    assert!(now.ts > before.ts);
    assert_eq!(now.mid(), stepped[4].mid());
    // The admin sets the spread bet's price: the market moves as one.
    let d = sb.quote(&dfb).unwrap();
    let (bid, offer) = (d.bid.value() + Decimal::TEN, d.offer.value() + Decimal::TEN);
    sb.set_price(&dfb, bid, offer).unwrap();
    assert_eq!(sb.quote(&dfb).unwrap().bid.value(), bid);
    assert_eq!(sb.quote(&cfd).unwrap().mid(), sb.quote(&dfb).unwrap().mid());
    assert_eq!(
        sb.quote(&mini).unwrap().mid(),
        sb.quote(&dfb).unwrap().mid()
    );
    // Another market is a path of its own.
    let dax = mids(&c, &[DAX_CFD, DAX_DFB]).await;
    assert_eq!(dax[0], dax[1]);
    assert_ne!(dax[0].0, seen[0].0);
    sb.shutdown().await;
}

#[tokio::test]
async fn the_history_of_every_epic_is_the_underlyings() {
    let sb = start().await;
    let mut c = Raw::new(&sb);
    c.login().await;
    let bars = |epic: &str| {
        let c = &c;
        let path = format!("/prices/{epic}?resolution=HOUR&max=200&pageSize=0");
        async move {
            let r = c.get(&path, 3).await;
            assert!(r.status.is_success(), "{}", r.body);
            r.body["prices"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    let mid = |k: &str| (dec(&p[k]["bid"]) + dec(&p[k]["ask"])) / Decimal::TWO;
                    (
                        p["snapshotTimeUTC"].as_str().unwrap().to_string(),
                        [
                            mid("openPrice"),
                            mid("highPrice"),
                            mid("lowPrice"),
                            mid("closePrice"),
                        ],
                        p["lastTradedVolume"].clone(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let cfd = bars(CFD).await;
    assert_eq!(cfd.len(), 200);
    assert_eq!(bars(MINI).await, cfd);
    assert_eq!(bars(DFB).await, cfd);
    assert_eq!(bars(DAX_DFB).await, bars(DAX_CFD).await);
    sb.shutdown().await;
}
