//! Every recorded IG fixture parses into its wire model and survives a serialize/deserialize
//! round trip. (Their conversion into domain types is tested in `scalper-ig`.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use rust_decimal_macros::dec;
use scalper_ig_wire::{
    accounts::AccountsResponse,
    application::Application,
    history::ActivityV1Response,
    markets::MarketDetails,
    positions::PositionsResponse,
    prices::PricesResponse,
    session::{LoginV2Response, SessionDetails, SwitchAccountResponse},
    time,
    working_orders::WorkingOrdersResponse,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

fn fixture(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn parse<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(name: &str) -> T {
    let v: T = serde_json::from_str(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let again: T = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
    assert_eq!(again, v, "{name} round trip");
    v
}

#[test]
fn every_fixture_file_is_covered() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let covered = [
        "accounts.json",
        "accounts_balances.json",
        "activities_v1.json",
        "application.json",
        "historic_prices.json",
        "historic_prices_dates.json",
        "historic_prices_num_points.json",
        "historic_prices_v1.json",
        "historic_prices_v2.json",
        "markets_epic.json",
        "positions_v1.json",
        "positions_v2.json",
        "session.json",
        "switch.json",
        "workingorders_v1.json",
        "workingorders_v2.json",
    ];
    assert_eq!(
        names,
        covered.to_vec(),
        "a fixture was added without a parsing test"
    );
}

#[test]
fn login_and_session_fixtures() {
    let login: LoginV2Response = parse("accounts.json");
    assert_eq!(login.current_account_id.as_deref(), Some("ABC123"));
    assert_eq!(login.accounts.as_ref().map(Vec::len), Some(2));
    assert_eq!(login.account_info.unwrap().balance, Some(dec!(1000)));
    let s: SessionDetails = parse("session.json");
    assert_eq!(s.account_id.as_deref(), Some("ABC123"));
    assert_eq!(
        s.lightstreamer_endpoint.as_deref(),
        Some("https://demo-apd.marketdatasystems.com")
    );
    let sw: SwitchAccountResponse = parse("switch.json");
    assert_eq!(sw.dealing_enabled, Some(true));
    let acc: AccountsResponse = parse("accounts_balances.json");
    assert_eq!(acc.accounts.len(), 2);
    assert!(acc.accounts[1].balance.is_none());
}

#[test]
fn application_fixture_hides_the_api_key() {
    let apps: Vec<Application> = parse("application.json");
    assert_eq!(apps[0].allowance_account_trading, Some(100));
    assert_eq!(apps[0].allowance_account_overall, Some(30));
    assert_eq!(apps[0].allowance_application_overall, Some(60));
    assert!(
        !format!("{:?}", apps[0]).contains("123456789abcdef"),
        "api key in Debug"
    );
}

#[test]
fn market_fixture() {
    let m: MarketDetails = parse("markets_epic.json");
    let i = m.instrument.as_ref().unwrap();
    assert_eq!(i.epic, "CO.D.CFI.Month2.IP");
    assert_eq!(i.expiry.as_deref(), Some("DEC-24"));
    let rules = m.dealing_rules.as_ref().unwrap();
    assert_eq!(
        rules.min_deal_size.as_ref().unwrap().value,
        Some(dec!(0.25))
    );
    let snap = m.snapshot.as_ref().unwrap();
    assert_eq!(snap.market_status.as_deref(), Some("OFFLINE"));
    assert_eq!(snap.bid, Some(dec!(8933)));
}

#[test]
fn positions_fixtures() {
    for (name, v2) in [("positions_v1.json", false), ("positions_v2.json", true)] {
        let p: PositionsResponse = parse(name);
        assert_eq!(p.positions.len(), 2, "{name}");
        let first = &p.positions[0].position;
        assert_eq!(first.deal_id, "ABCDE12345");
        assert_eq!(first.direction.as_deref(), Some("BUY"));
        // v1 spells size and level `dealSize` and `openLevel`.
        assert_eq!(first.size.or(first.deal_size), Some(dec!(10)), "{name}");
        assert_eq!(
            first.level.or(first.open_level),
            Some(dec!(17000)),
            "{name}"
        );
        assert_eq!(first.size.is_some(), v2, "{name}");
    }
    let p: PositionsResponse = parse("positions_v2.json");
    assert_eq!(
        p.positions[0].position.deal_reference.as_deref(),
        Some("ABCDE12345X")
    );
}

#[test]
fn working_orders_fixtures() {
    let v2: WorkingOrdersResponse = parse("workingorders_v2.json");
    let d = &v2.working_orders[0].working_order_data;
    assert_eq!(
        (d.order_size, d.order_level),
        (Some(dec!(0.05)), Some(dec!(2000)))
    );
    assert_eq!(d.order_type.as_deref(), Some("STOP"));
    let v1: WorkingOrdersResponse = parse("workingorders_v1.json");
    assert_eq!(
        v1.working_orders[0].working_order_data.size,
        Some(dec!(0.05))
    );
}

#[test]
fn price_fixtures_all_versions() {
    for name in [
        "historic_prices.json",
        "historic_prices_dates.json",
        "historic_prices_num_points.json",
        "historic_prices_v1.json",
        "historic_prices_v2.json",
    ] {
        let p: PricesResponse = parse(name);
        assert!(!p.prices.is_empty(), "{name}");
        assert!(
            p.metadata
                .as_ref()
                .and_then(|m| m.allowance.as_ref())
                .is_some()
                || p.allowance.is_some(),
            "{name}: allowance"
        );
    }
    let p: PricesResponse = parse("historic_prices.json");
    let first = &p.prices[0];
    let open = first.open_price.as_ref().unwrap();
    assert_eq!((open.bid, open.ask), (Some(dec!(1926.4)), Some(dec!(1927))));
    let start = time::parse_utc(first.snapshot_time_utc.as_deref().unwrap()).unwrap();
    assert_eq!(start.to_string(), "2020-10-12T20:50:00.000Z");
}

#[test]
fn activities_v1_fixture() {
    let a: ActivityV1Response = parse("activities_v1.json");
    assert!(!a.activities.is_empty());
    assert_eq!(a.activities[0].size.as_deref(), Some("+0.60"));
}
