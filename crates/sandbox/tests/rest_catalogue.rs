//! Raw-HTTP tests of the endpoints third-party IG clients call besides dealing: markets in
//! every version, navigation, search, per-user default accounts, preferences, prices v1/v2,
//! history v1/v2/v3, watchlists, client sentiment and `/operations/application`, with IG's
//! error codes for unknown epics, wrong versions and bad input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{start, Raw, EURUSD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const EURUSD_SB: &str = "CS.D.EURUSD.TODAY.IP";

fn len(v: &Value) -> usize {
    v.as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn markets_in_every_version_and_wrong_versions_are_unknown_urls() {
    let sb = start().await;
    let mut c = Raw::new(&sb);
    c.login().await;
    for v in 1..=3 {
        let r = c.get(&format!("/markets/{EURUSD}"), v).await;
        assert_eq!(r.status, StatusCode::OK, "v{v}");
        assert_eq!(r.body["instrument"]["epic"], EURUSD);
        assert!(r.body["dealingRules"]["minDealSize"]["value"].is_number());
    }
    // v4: the v3 details with IG's v4 additions.
    let r = c.get(&format!("/markets/{EURUSD}"), 4).await;
    assert_eq!(r.status, StatusCode::OK);
    let snap = &r.body["snapshot"];
    assert_eq!(snap["priceLadder"][0]["bid"], snap["bid"]);
    assert_eq!(snap["priceLadder"][0]["ask"], snap["offer"]);
    assert!(snap["updateTimestampUTC"].as_i64().unwrap() > 1_700_000_000);
    assert_eq!(r.body["instrument"]["limitAllowed"], true);
    assert_eq!(r.body["instrument"]["stopAllowed"], true);
    let r = c.get("/markets/CS.D.NOPE.CFD.IP", 4).await;
    assert_eq!(r.code(), "error.public-api.epic-not-found");
    for v in [5, 9] {
        let r = c.get(&format!("/markets/{EURUSD}"), v).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::NOT_FOUND, "invalid.url"),
            "v{v}"
        );
    }
    // The standard FX CFD and the mini CFD, as IG names and sizes them.
    for (epic, name, contract, pip) in [
        (EURUSD, "EUR/USD", "100000", "10"),
        ("CS.D.EURUSD.MINI.IP", "EUR/USD Mini", "10000", "1"),
    ] {
        let i = &c.get(&format!("/markets/{epic}"), 3).await.body["instrument"];
        assert_eq!(i["name"], name);
        assert_eq!(i["type"], "CURRENCIES");
        assert_eq!(i["unit"], "CONTRACTS");
        assert_eq!(
            (i["contractSize"].as_str(), i["lotSize"].as_f64()),
            (Some(contract), Some(1.0))
        );
        assert_eq!(i["valueOfOnePip"], pip);
        assert_eq!(i["onePipMeans"], "0.0001 USD/EUR");
    }
    let r = c.get(&format!("/markets/{EURUSD}"), 0).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = c.get("/markets/CS.D.NOPE.CFD.IP", 2).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::NOT_FOUND, "error.public-api.epic-not-found")
    );
    // Several epics: v1, v2, v2 snapshot only.
    let list = format!("/markets?epics={EURUSD},{EURUSD_SB}");
    for v in [1, 2] {
        let r = c.get(&list, v).await;
        assert_eq!(len(&r.body["marketDetails"]), 2, "v{v}");
    }
    let r = c.get(&format!("{list}&filter=SNAPSHOT_ONLY"), 2).await;
    let m = &r.body["marketDetails"][1];
    assert!(m["dealingRules"].is_null() && m["snapshot"]["bid"].is_number());
    assert_eq!(m["instrument"]["epic"], EURUSD_SB);
    assert_eq!(m["instrument"]["expiry"], "DFB");
    assert!(m["instrument"]["currencies"].is_null());
    let r = c.get(&format!("{list}&filter=SOME"), 2).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "invalid.request.filter")
    );
    let r = c.get("/markets?epics=", 2).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let many: Vec<String> = (0..51).map(|i| format!("CS.D.X{i}.CFD.IP")).collect();
    let r = c
        .get(&format!("/markets?epics={}", many.join(",")), 2)
        .await;
    assert_eq!(r.code(), "error.public-api.too-many-epics");
    let r = c.get(&list, 3).await;
    assert_eq!(r.code(), "invalid.url");
    // Search: summaries with numbers, not strings.
    let r = c.get("/markets?searchTerm=germany", 1).await;
    let found = r.body["markets"].as_array().unwrap();
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found
        .iter()
        .all(|m| m["bid"].is_number() && m["instrumentType"] == "INDICES"));
    sb.shutdown().await;
}

/// A navigation summary says what `/markets/{epic}` says, and a search for its name finds it
/// with the same name.
async fn summary_agrees_with_details_and_search(c: &Raw, m: &Value) {
    let epic = m["epic"].as_str().unwrap();
    let d = c.get(&format!("/markets/{epic}"), 3).await.body;
    let i = &d["instrument"];
    assert_eq!(m["instrumentName"], i["name"], "{epic}");
    assert_eq!(m["instrumentType"], i["type"], "{epic}");
    assert_eq!(m["expiry"], i["expiry"], "{epic}");
    assert_eq!(m["lotSize"], i["lotSize"], "{epic}");
    assert_eq!(m["scalingFactor"], d["snapshot"]["scalingFactor"], "{epic}");
    let name = m["instrumentName"].as_str().unwrap();
    let found = c
        .get(
            &format!("/markets?searchTerm={}", name.replace(' ', "%20")),
            1,
        )
        .await
        .body;
    let hit = found["markets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["epic"] == epic)
        .unwrap_or_else(|| panic!("search for {name:?} misses {epic}: {found}"));
    assert_eq!(hit["instrumentName"], name);
    assert_eq!(hit["expiry"], m["expiry"]);
}

#[tokio::test]
async fn navigation_tree_leads_to_every_market() {
    let sb = start().await;
    let mut c = Raw::new(&sb);
    c.login().await;
    let root = c.get("/marketnavigation", 1).await;
    let names: Vec<&str> = root.body["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["name"].as_str())
        .collect();
    assert_eq!(names, ["Forex", "Indices", "Commodities Metals Energies"]);
    let mut epics = Vec::new();
    for n in root.body["nodes"].as_array().unwrap() {
        let sub = c
            .get(
                &format!("/marketnavigation/{}", n["id"].as_str().unwrap()),
                1,
            )
            .await;
        assert_eq!(len(&sub.body["markets"]), 0);
        for s in sub.body["nodes"].as_array().unwrap() {
            let leaf = c
                .get(
                    &format!("/marketnavigation/{}", s["id"].as_str().unwrap()),
                    1,
                )
                .await;
            for m in leaf.body["markets"].as_array().unwrap() {
                epics.push(m["epic"].as_str().unwrap().to_string());
                summary_agrees_with_details_and_search(&c, m).await;
            }
        }
    }
    // Five FX pairs as CFD, mini CFD and spread bet; four indices and gold as CFD and bet.
    assert_eq!(epics.len(), 25, "{epics:?}");
    for pair in ["EURUSD", "GBPUSD", "USDJPY", "AUDUSD", "EURGBP"] {
        for form in ["CFD", "MINI", "TODAY"] {
            let epic = format!("CS.D.{pair}.{form}.IP");
            assert!(epics.contains(&epic), "{epic} not in {epics:?}");
        }
    }
    let r = c.get("/marketnavigation/nope", 1).await;
    assert_eq!(
        (r.status, r.code()),
        (
            StatusCode::NOT_FOUND,
            "error.public-api.failure.node-not-found"
        )
    );
    assert_eq!(c.get("/marketnavigation", 2).await.code(), "invalid.url");
    sb.shutdown().await;
}

#[tokio::test]
async fn each_user_lands_on_its_default_account() {
    let sb = start().await;
    let mut c = Raw::new(&sb);
    let r = c
        .post(
            "/session",
            2,
            json!({"identifier": "sandbox-sb", "password": "sandbox-pass"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["currentAccountId"], "SANDBOX-SB");
    assert_eq!(r.body["accountType"], "SPREADBET");
    c.cst = Some(r.headers["CST"].to_str().unwrap().into());
    c.xst = Some(r.headers["X-SECURITY-TOKEN"].to_str().unwrap().into());
    let accounts = c.get("/accounts", 1).await;
    let preferred: Vec<&Value> = accounts.body["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["preferred"] == true)
        .collect();
    assert_eq!(preferred.len(), 1);
    assert_eq!(preferred[0]["accountId"], "SANDBOX-SB");
    // v3: the spread-bet user's token without IG-ACCOUNT-ID reaches the spread-bet account.
    let mut v3 = Raw::new(&sb);
    let r = v3
        .post(
            "/session",
            3,
            json!({"identifier": "sandbox-sb", "password": "sandbox-pass"}),
        )
        .await;
    assert_eq!(r.body["accountId"], "SANDBOX-SB");
    assert_eq!(r.body["accountType"], "SPREADBET");
    v3.bearer = Some(
        r.body["oauthToken"]["access_token"]
            .as_str()
            .unwrap()
            .into(),
    );
    assert_eq!(v3.get("/session", 1).await.body["accountId"], "SANDBOX-SB");
    // The CFD user still lands on the CFD account.
    let mut cfd = Raw::new(&sb);
    assert_eq!(cfd.login().await.body["currentAccountId"], "SANDBOX-CFD");
    // Switching with defaultAccount changes that user's default only.
    let r = cfd
        .call(
            Method::PUT,
            "/session",
            1,
            Some(json!({"accountId": "SANDBOX-SB", "defaultAccount": true})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let mut again = Raw::new(&sb);
    assert_eq!(again.login().await.body["currentAccountId"], "SANDBOX-SB");
    let r = c
        .post(
            "/session",
            2,
            json!({"identifier": "nobody", "password": "sandbox-pass"}),
        )
        .await;
    assert_eq!(r.code(), "error.security.invalid-details");
    // Preferences, per account: trailing stops on until the account turns them off.
    assert_eq!(
        c.get("/accounts/preferences", 1).await.body["trailingStopsEnabled"],
        true
    );
    let r = c
        .call(
            Method::PUT,
            "/accounts/preferences",
            1,
            Some(json!({"trailingStopsEnabled": "false"})),
            &[],
        )
        .await;
    assert_eq!(r.body["status"], "SUCCESS");
    assert_eq!(
        c.get("/accounts/preferences", 1).await.body["trailingStopsEnabled"],
        false
    );

    let r = c
        .call(
            Method::PUT,
            "/accounts/preferences",
            1,
            Some(json!({})),
            &[],
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (
            StatusCode::BAD_REQUEST,
            "validation.null-not-allowed.request.trailingStopsEnabled"
        )
    );
    let r = c
        .call(
            Method::PUT,
            "/accounts/preferences",
            1,
            Some(json!({"trailingStopsEnabled": 3})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Operations.
    let r = c.call(Method::PUT, "/operations/application", 1, Some(json!({"apiKey": "sandbox-api-key", "status": "ENABLED", "allowanceAccountOverall": 30, "allowanceAccountTrading": 100})), &[]).await;
    assert_eq!(
        (
            r.body["status"].as_str(),
            r.body["allowanceAccountOverall"].as_u64()
        ),
        (Some("ENABLED"), Some(30))
    );
    let r = c
        .call(
            Method::PUT,
            "/operations/application",
            1,
            Some(json!({"status": "BROKEN"})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // What was set is kept: GET shows it.
    let apps = c.get("/operations/application", 1).await;
    assert_eq!(apps.body[0]["allowanceAccountOverall"], 30);
    assert_eq!(apps.body[0]["allowanceAccountTrading"], 100);
    let r = c
        .call(Method::PUT, "/operations/application/disable", 1, None, &[])
        .await;
    assert_eq!(r.body["status"], "DISABLED");
    let apps = c.get("/operations/application", 1).await;
    assert_eq!(apps.body[0]["status"], "DISABLED");
    assert_eq!(apps.body[0]["allowanceAccountOverall"], 30);
    assert_eq!(
        c.get("/accounts", 1).await.status,
        StatusCode::OK,
        "the sandbox keeps its key"
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn prices_in_v1_v2_and_v3_shapes() {
    let sb = start().await;
    let mut c = Raw::new(&sb);
    c.login().await;
    let v3 = c
        .get(&format!("/prices/{EURUSD}?resolution=MINUTE&max=3"), 3)
        .await;
    let last = v3.body["prices"][2]["snapshotTimeUTC"]
        .as_str()
        .unwrap()
        .to_string();
    let n = c.get(&format!("/prices/{EURUSD}/MINUTE/3"), 2).await;
    assert_eq!(n.status, StatusCode::OK);
    assert_eq!(len(&n.body["prices"]), 3);
    assert!(n.body["metadata"].is_null() && n.body["allowance"]["totalAllowance"].is_number());
    assert_eq!(
        n.body["prices"][2]["closePrice"],
        v3.body["prices"][2]["closePrice"]
    );
    assert!(n.body["prices"][0]["snapshotTime"]
        .as_str()
        .unwrap()
        .contains('/'));
    // v2 by dates: yyyy-MM-dd HH:mm:ss in the path.
    let end_t = chrono::NaiveDateTime::parse_from_str(&last, "%Y-%m-%dT%H:%M:%S").unwrap();
    let start_t = end_t - chrono::Duration::minutes(2);
    let (start, end) = (
        start_t.format("%Y-%m-%d %H:%M:%S"),
        end_t.format("%Y-%m-%d %H:%M:%S"),
    );
    let r = c
        .get(&format!("/prices/{EURUSD}/MINUTE/{start}/{end}"), 2)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{start} {end} {:?}", r.body);
    assert_eq!(len(&r.body["prices"]), 3);
    // v1: yyyy:MM:dd-HH:mm:ss in the query, and in the answer.
    let v1_end = last.replace('-', ":").replace('T', "-");
    let r = c
        .get(
            &format!("/prices/{EURUSD}/MINUTE?startdate=2025:12:31-00:00:00&enddate={v1_end}"),
            1,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(len(&r.body["prices"]) >= 3);
    assert!(r.body["prices"][0]["snapshotTime"]
        .as_str()
        .unwrap()
        .contains('-'));
    // Every resolution, far beyond the simulator's own bars: a back-filled history that ends
    // where the simulation starts, the same in every version.
    for res in ["SECOND", "MINUTE_15", "HOUR_4", "DAY", "WEEK", "MONTH"] {
        let v3 = c
            .get(
                &format!("/prices/{EURUSD}?resolution={res}&max=30&pageSize=0"),
                3,
            )
            .await;
        assert_eq!(len(&v3.body["prices"]), 30, "{res}");
        let v2 = c.get(&format!("/prices/{EURUSD}/{res}/30"), 2).await;
        assert_eq!(
            v2.body["prices"][0]["openPrice"], v3.body["prices"][0]["openPrice"],
            "{res}"
        );
        for p in v3.body["prices"].as_array().unwrap() {
            assert!(p["lowPrice"]["bid"].as_f64() <= p["highPrice"]["bid"].as_f64());
            assert!(p["lastTradedVolume"].as_u64().unwrap() >= 1);
        }
    }
    let days = c
        .get(
            &format!(
                "/prices/{EURUSD}?resolution=DAY&from=2025-12-01T00:00:00&to=2025-12-10T00:00:00"
            ),
            3,
        )
        .await;
    assert_eq!(len(&days.body["prices"]), 10);
    assert_eq!(
        days.body["prices"][0]["snapshotTimeUTC"],
        "2025-12-01T00:00:00"
    );
    assert_eq!(days.body["metadata"]["pageData"]["totalPages"], 1);
    assert_eq!(
        c.get(
            &format!(
                "/prices/{EURUSD}?resolution=DAY&from=2025-12-01T00:00:00&to=2025-12-10T00:00:00"
            ),
            3
        )
        .await
        .body["prices"],
        days.body["prices"],
        "deterministic"
    );
    // Extreme numbers are answered, not a panic.
    let r = c
        .get(
            &format!("/prices/{EURUSD}?pageNumber=999999999999999999&max=99999999999"),
            3,
        )
        .await;
    assert_eq!((r.status, len(&r.body["prices"])), (StatusCode::OK, 0));
    let r = c
        .get(&format!("/prices/{EURUSD}/SECOND/99999999999999"), 2)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = c
        .get(
            &format!("/prices/{EURUSD}/DAY/0001-01-01 00:00:00/9999-12-31 00:00:00"),
            2,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // Errors.
    let bad = [
        (
            format!("/prices/{EURUSD}/MINUTE/abc"),
            2,
            "Unable to convert value=abc to type= Integer int",
        ),
        (
            format!("/prices/{EURUSD}/FORTNIGHT/3"),
            2,
            "Unable to convert value=FORTNIGHT to type= Resolution",
        ),
        (
            format!("/prices/{EURUSD}/MINUTE/2026-01-02 00:00:00/2026-01-01 00:00:00"),
            2,
            "error.invalid.daterange",
        ),
        (
            format!("/prices/{EURUSD}/MINUTE/yesterday/today"),
            2,
            "error.malformed.date",
        ),
        (
            "/prices/CS.D.NOPE.CFD.IP/MINUTE/3".to_string(),
            2,
            "error.unsupported.epic",
        ),
        (
            format!("/prices/{EURUSD}/MINUTE?startdate=2026:01:01-00:00:00"),
            1,
            "error.invalid.daterange",
        ),
    ];
    for (path, v, code) in bad {
        let r = c.get(&path, v).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, code),
            "{path}"
        );
    }
    assert_eq!(
        c.get(&format!("/prices/{EURUSD}/MINUTE/3"), 3).await.code(),
        "invalid.url"
    );
    assert_eq!(
        c.get(&format!("/prices/{EURUSD}"), 2).await.code(),
        "invalid.url"
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn history_from_the_sandboxs_own_deals() {
    let sb = start().await;
    let mut c = Raw::new(&sb);
    c.login().await;
    let r = c.open(EURUSD, "BUY", "1", json!({})).await;
    let deal = c.confirm(&r).await["dealId"].as_str().unwrap().to_string();
    let r = c
        .call(
            Method::POST,
            "/positions/otc",
            1,
            Some(json!({"dealId": deal, "direction": "SELL", "size": "1", "orderType": "MARKET"})),
            &[("_method", "DELETE")],
        )
        .await;
    c.confirm(r.body["dealReference"].as_str().unwrap()).await;
    // v3: details only when asked; dealId and FIQL filters; page size bounds.
    let r = c.get(&format!("/history/activity?dealId={deal}"), 3).await;
    let acts = r.body["activities"].as_array().unwrap();
    assert!(acts.len() >= 2 && acts.iter().all(|a| a["details"].is_null()));
    assert!(r.body["metadata"]["paging"]["next"].is_null());
    let r = c
        .get(&format!("/history/activity?dealId={deal}&detailed=true"), 3)
        .await;
    assert!(r.body["activities"][0]["details"]["dealReference"].is_string());
    let r = c
        .get(
            "/history/activity/?filter=type==POSITION;status==ACCEPTED",
            3,
        )
        .await;
    assert!(len(&r.body["activities"]) >= 2);
    let r = c
        .get("/history/activity?filter=type==WORKING_ORDER", 3)
        .await;
    assert_eq!(len(&r.body["activities"]), 0);
    let r = c.get("/history/activity?filter=colour==red", 3).await;
    assert_eq!(r.code(), "invalid.request.filter");
    let r = c.get("/history/activity?pageSize=5", 3).await;
    assert_eq!(r.code(), "error.request.invalid.page-size");
    // v2 and v1.
    let v2 = c
        .get("/history/activity?maxSpanSeconds=3600&pageSize=1", 2)
        .await;
    assert_eq!(len(&v2.body["activities"]), 1);
    assert!(
        v2.body["metadata"]["pageData"]["totalPages"]
            .as_u64()
            .unwrap()
            >= 2
    );
    assert!(v2.body["activities"][0]["dateUtc"].is_string());
    let r = c
        .get(
            "/history/activity?maxSpanSeconds=9223372036854775807&pageNumber=9223372036854775807",
            2,
        )
        .await;
    assert_eq!((r.status, len(&r.body["activities"])), (StatusCode::OK, 0));
    assert_eq!(
        c.get("/history/activity/9223372036854775807", 1)
            .await
            .status,
        StatusCode::OK
    );
    let v1 = c.get("/history/activity/3600000", 1).await;
    let lines = v1.body["activities"].as_array().unwrap();
    assert!(lines.len() >= 2);
    assert_eq!(lines[0]["actionStatus"], "ACCEPT");
    let r = c.get("/history/activity/01-01-2026/01-01-2026", 1).await;
    assert_eq!(
        len(&r.body["activities"]),
        lines.len(),
        "the sandbox starts on 2026-01-01"
    );
    assert_eq!(
        len(&c
            .get("/history/activity/02-01-2026/03-01-2026", 1)
            .await
            .body["activities"]),
        0
    );
    assert_eq!(
        c.get("/history/activity/2026-01-01/x", 1).await.code(),
        "error.malformed.date"
    );
    assert_eq!(
        c.get("/history/activity/soon", 1).await.status,
        StatusCode::BAD_REQUEST
    );
    // Transactions v1 and v2.
    let t1 = c.get("/history/transactions/ALL_DEAL/3600000", 1).await;
    assert_eq!(len(&t1.body["transactions"]), 1);
    assert_eq!(
        len(&c.get("/history/transactions/DEPOSIT/3600000", 1).await.body["transactions"]),
        0
    );
    assert_eq!(
        c.get("/history/transactions/GIFTS/3600000", 1).await.code(),
        "invalid.request.type"
    );
    let t2 = c
        .get("/history/transactions?type=ALL&maxSpanSeconds=60", 2)
        .await;
    assert_eq!(len(&t2.body["transactions"]), 1);
    assert_eq!(
        c.get("/history/transactions?pageSize=x", 2).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        c.get("/history/transactions", 1).await.code(),
        "invalid.url"
    );
    sb.shutdown().await;
}

/// Opens and closes `pairs` positions at the current simulated second (two activities each).
async fn deals_now(c: &Raw, pairs: usize) {
    for _ in 0..pairs {
        let r = c.open(EURUSD, "BUY", "1", json!({})).await;
        let deal = c.confirm(&r).await["dealId"].as_str().unwrap().to_string();
        let r = c
            .call(
                Method::POST,
                "/positions/otc",
                1,
                Some(json!({"dealId": deal, "direction": "SELL", "size": "1", "orderType": "MARKET"})),
                &[("_method", "DELETE")],
            )
            .await;
        c.confirm(r.body["dealReference"].as_str().unwrap()).await;
    }
}

/// Follows v3 `next` links from `first`; returns each page's activity count.
async fn v3_pages(c: &Raw, first: &str) -> Vec<usize> {
    let mut pages = Vec::new();
    let mut url = Some(first.to_string());
    while let Some(u) = url.take() {
        let r = c.get(&u, 3).await;
        assert_eq!(r.status, StatusCode::OK, "{u}: {:?}", r.body);
        let acts = r.body["activities"].as_array().unwrap();
        assert!(
            acts.iter().all(|a| a["details"].is_object()),
            "{u}: detailed kept"
        );
        pages.push(acts.len());
        url = r.body["metadata"]["paging"]["next"]
            .as_str()
            .map(str::to_string);
        assert!(pages.len() < 10, "paging does not end: {pages:?}");
    }
    pages
}

#[tokio::test]
async fn v3_paging_keeps_activities_that_share_a_second() {
    let sb = start().await;
    let mut c = Raw::new(&sb);
    c.login().await;
    let step = |secs: i64| {
        let now = sb.state().sim_time.millis();
        sb.jump(scalper_model::Timestamp::from_millis(now + secs * 1000))
            .unwrap();
    };
    deals_now(&c, 6).await; // 12 activities in second A
    step(5);
    deals_now(&c, 6).await; // 12 in second B
    step(5);
    deals_now(&c, 4).await; // 8 in second C
    let first = "/history/activity?detailed=true&pageSize=10";
    // C (8, stops before B), all of B (12 > 10: one second is never split), all of A.
    assert_eq!(v3_pages(&c, first).await, [8, 12, 12]);
    let filtered = "/history/activity?detailed=true&pageSize=10&filter=status%3D%3DACCEPTED";
    assert_eq!(v3_pages(&c, filtered).await, [8, 12, 12]);
    sb.shutdown().await;
}

#[tokio::test]
async fn watchlists_crud_and_sentiment() {
    let sb = start().await;
    let mut c = Raw::new(&sb);
    c.login().await;
    let r = c.get("/watchlists", 1).await;
    assert_eq!(r.body["watchlists"][0]["defaultSystemWatchlist"], true);
    let r = c
        .post(
            "/watchlists",
            1,
            json!({"name": "mine", "epics": [EURUSD, "CS.D.NOPE.CFD.IP"]}),
        )
        .await;
    assert_eq!(r.body["status"], "SUCCESS_NOT_ALL_INSTRUMENTS_ADDED");
    let id = r.body["watchlistId"].as_str().unwrap().to_string();
    let r = c.post("/watchlists", 1, json!({"name": "mine"})).await;
    assert_eq!(r.code(), "error.watchlists.management.duplicate-name");
    assert_eq!(
        c.post("/watchlists", 1, json!({"epics": []})).await.code(),
        "validation.null-not-allowed.request.name"
    );
    let r = c
        .call(
            Method::PUT,
            &format!("/watchlists/{id}"),
            1,
            Some(json!({"epic": "IX.D.FTSE.DAILY.IP"})),
            &[],
        )
        .await;
    assert_eq!(r.body["status"], "SUCCESS");
    let r = c
        .call(
            Method::PUT,
            &format!("/watchlists/{id}"),
            1,
            Some(json!({"epic": "NOPE"})),
            &[],
        )
        .await;
    assert_eq!(r.code(), "error.public-api.epic-not-found");
    let r = c.get(&format!("/watchlists/{id}"), 1).await;
    let epics: Vec<&str> = r.body["markets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["epic"].as_str())
        .collect();
    assert_eq!(epics, [EURUSD, "IX.D.FTSE.DAILY.IP"]);
    let r = c
        .call(
            Method::POST,
            &format!("/watchlists/{id}/{EURUSD}"),
            1,
            Some(json!({})),
            &[("_method", "DELETE")],
        )
        .await;
    assert_eq!(r.body["status"], "SUCCESS");
    let r = c
        .call(
            Method::DELETE,
            "/watchlists/Popular%20Markets",
            1,
            None,
            &[],
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (
            StatusCode::FORBIDDEN,
            "error.watchlists.management.cannot-delete-system-watchlist"
        )
    );
    let r = c
        .call(Method::DELETE, &format!("/watchlists/{id}"), 1, None, &[])
        .await;
    assert_eq!(r.body["status"], "SUCCESS");
    let r = c.get(&format!("/watchlists/{id}"), 1).await;
    assert_eq!(
        (r.status, r.code()),
        (
            StatusCode::NOT_FOUND,
            "error.watchlists.management.watchlist-not-found"
        )
    );
    // Sentiment: deterministic, sums to 100, moves with the sandbox's own book.
    let before = c.get("/clientsentiment/EURUSD", 1).await.body;
    let long = before["longPositionPercentage"].as_u64().unwrap();
    assert_eq!(
        long + before["shortPositionPercentage"].as_u64().unwrap(),
        100
    );
    assert_eq!(c.get("/clientsentiment/EURUSD", 1).await.body, before);
    c.open(EURUSD, "BUY", "1", json!({})).await;
    let after = c.get("/clientsentiment/EURUSD", 1).await.body;
    assert!(after["longPositionPercentage"].as_u64().unwrap() > long || long == 100);
    let r = c.get("/clientsentiment?marketIds=EURUSD,DAX,NOPE", 1).await;
    assert_eq!(len(&r.body["clientSentiments"]), 2);
    let r = c.get("/clientsentiment/related/DAX", 1).await;
    let ids: Vec<&str> = r.body["clientSentiments"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["marketId"].as_str())
        .collect();
    assert_eq!(ids, ["DOW", "FTSE", "SPTRD"]);
    assert_eq!(
        c.get("/clientsentiment/NOPE", 1).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.get("/clientsentiment", 1).await.status,
        StatusCode::BAD_REQUEST
    );
    sb.shutdown().await;
}
