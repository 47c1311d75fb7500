//! Every recorded IG fixture parses into its wire model, converts into domain types where
//! that applies, and survives a serialize/deserialize round trip.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use rust_decimal_macros::dec;
use scalper_ig::wire::{
    accounts::AccountsResponse,
    application::Application,
    history::ActivityV1Response,
    markets::MarketDetails,
    positions::PositionsResponse,
    prices::PricesResponse,
    session::{LoginV2Response, SessionDetails, SwitchAccountResponse},
    working_orders::WorkingOrdersResponse,
};
use scalper_model::{Direction, Epic, MarketStatus};
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
fn application_fixture_gives_allowances() {
    let apps: Vec<Application> = parse("application.json");
    let a = apps[0].allowances();
    assert_eq!((a.trading_per_minute, a.non_trading_per_minute), (100, 30));
    assert_eq!(a.application_per_minute, 60);
    assert!(
        !format!("{:?}", apps[0]).contains("123456789abcdef"),
        "api key in Debug"
    );
}

#[test]
fn market_fixture_converts_to_instrument() {
    let m: MarketDetails = parse("markets_epic.json");
    let market = m.to_market().unwrap();
    let i = &market.instrument;
    assert_eq!(i.epic.as_str(), "CO.D.CFI.Month2.IP");
    assert_eq!(i.expiry, "DEC-24");
    assert_eq!(i.currency, "GBP");
    assert_eq!(i.point_size, dec!(1));
    assert_eq!(i.rules.min_deal_size.value(), dec!(0.25));
    assert_eq!(i.rules.size_step, dec!(0.01));
    assert_eq!(i.rules.min_stop_distance.value(), dec!(10));
    // 75% of mid 8936 in 1-point units.
    assert_eq!(i.rules.max_stop_distance.unwrap().value(), dec!(6702));
    assert_eq!(market.status, MarketStatus::Offline);
    assert_eq!(market.bid.unwrap().value(), dec!(8933));
    assert_eq!(market.spread_points(), Some(dec!(6)));
    assert_eq!(market.scaling_factor, dec!(1));
    // An FX CFD quoted in scaled points: 10000 level units per unit of the market price.
    let mut fx: MarketDetails = parse("markets_epic.json");
    fx.snapshot.as_mut().unwrap().scaling_factor = Some(dec!(10000));
    assert_eq!(fx.to_market().unwrap().scaling_factor, dec!(10000));
    // Zero or negative is no scaling, not a division by zero later.
    fx.snapshot.as_mut().unwrap().scaling_factor = Some(dec!(0));
    assert_eq!(fx.to_market().unwrap().scaling_factor, dec!(1));
}

#[test]
fn market_with_unknown_status_and_missing_rules() {
    let mut m: MarketDetails = parse("markets_epic.json");
    m.snapshot.as_mut().unwrap().market_status = Some("BRAND_NEW".into());
    assert_eq!(
        m.to_market().unwrap().status,
        MarketStatus::Other("BRAND_NEW".into())
    );
    m.dealing_rules = None;
    let err = m.to_market().unwrap_err().to_string();
    assert!(err.contains("minDealSize"), "{err}");
}

#[test]
fn positions_fixtures_convert() {
    for name in ["positions_v1.json", "positions_v2.json"] {
        let p: PositionsResponse = parse(name);
        assert_eq!(p.positions.len(), 2, "{name}");
        let first = p.positions[0].to_position().unwrap();
        assert_eq!(first.deal_id.as_str(), "ABCDE12345");
        assert_eq!(first.direction, Direction::Buy);
        assert_eq!(first.size.value(), dec!(10));
        assert_eq!(first.level.value(), dec!(17000));
    }
    let p: PositionsResponse = parse("positions_v2.json");
    assert_eq!(
        p.positions[0]
            .to_position()
            .unwrap()
            .deal_reference
            .unwrap()
            .as_str(),
        "ABCDE12345X"
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
    let epic = Epic::new("CS.D.CFDGOLD.CFDGC.IP").unwrap();
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
    let candles = p.to_candles(&epic, 60_000);
    assert_eq!(candles.len(), p.prices.len());
    assert_eq!(candles[0].open.value(), dec!(1926.7));
    assert_eq!(candles[0].spread, Some(dec!(0.6)));
    assert_eq!(candles[0].start.to_string(), "2020-10-12T20:50:00.000Z");
}

#[test]
fn activities_v1_fixture() {
    let a: ActivityV1Response = parse("activities_v1.json");
    assert!(!a.activities.is_empty());
    assert_eq!(a.activities[0].size.as_deref(), Some("+0.60"));
}
