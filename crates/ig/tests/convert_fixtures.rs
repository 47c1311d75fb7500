//! The recorded IG fixtures (in `scalper-ig-wire`) convert into domain types: instruments and
//! dealing rules, positions, allowances and candles.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use rust_decimal_macros::dec;
use scalper_ig::convert;
use scalper_ig_wire::{
    application::Application, markets::MarketDetails, positions::PositionsResponse,
    prices::PricesResponse,
};
use scalper_model::{Direction, Epic, MarketStatus, Price, Size};
use serde::de::DeserializeOwned;

fn parse<T: DeserializeOwned>(name: &str) -> T {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../ig-wire/tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn application_fixture_gives_allowances() {
    let apps: Vec<Application> = parse("application.json");
    let a = convert::allowances(&apps[0]);
    assert_eq!((a.trading_per_minute, a.non_trading_per_minute), (100, 30));
    assert_eq!(a.application_per_minute, 60);
}

#[test]
fn market_fixture_converts_to_instrument() {
    let m: MarketDetails = parse("markets_epic.json");
    let market = convert::market(&m, Some("GBP")).unwrap();
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
    assert_eq!(
        convert::market(&fx, Some("GBP")).unwrap().scaling_factor,
        dec!(10000)
    );
    // Zero or negative is no scaling, not a division by zero later.
    fx.snapshot.as_mut().unwrap().scaling_factor = Some(dec!(0));
    assert_eq!(
        convert::market(&fx, Some("GBP")).unwrap().scaling_factor,
        dec!(1)
    );
}

/// The live account's currency labels and converts the market's P&L: IG's fixture (a GBP
/// account, the market dealt in GBP by default, EUR at 0.81) on the GBP account is 1:1; made
/// EUR by default it converts at IG's 0.81; without IG's rate the built-in fixed rate is used,
/// never an assumed 1.
#[test]
fn market_pnl_is_in_the_live_account_currency() {
    let m: MarketDetails = parse("markets_epic.json");
    let gbp = convert::market(&m, Some("GBP")).unwrap().instrument;
    assert_eq!(
        (gbp.currency.as_str(), gbp.account_currency()),
        ("GBP", "GBP")
    );
    assert_eq!(gbp.account_rate, dec!(1));
    let unknown = convert::market(&m, None).unwrap().instrument;
    assert_eq!(unknown.account_currency, "");

    let mut eur = m.clone();
    for c in eur
        .instrument
        .as_mut()
        .unwrap()
        .currencies
        .as_mut()
        .unwrap()
    {
        c.is_default = Some(c.code == "EUR");
    }
    let i = convert::market(&eur, Some("GBP")).unwrap().instrument;
    assert_eq!((i.currency.as_str(), i.account_currency()), ("EUR", "GBP"));
    assert_eq!(i.account_rate, dec!(0.81));
    // A 10-point move of one contract: 10 points x value of a point, at 0.81 GBP per EUR.
    let entry = Price::new(dec!(8936));
    let exit = Price::new(dec!(8946));
    let per_point = i.value_per_point;
    assert_eq!(
        i.pnl(Direction::Buy, Size::new(dec!(1)), entry, exit)
            .value(),
        (dec!(10) * per_point * dec!(0.81)).round_dp(2)
    );
    // No exchangeRate from IG: the built-in EUR->GBP rate (0.85), not 1.
    for c in eur
        .instrument
        .as_mut()
        .unwrap()
        .currencies
        .as_mut()
        .unwrap()
    {
        c.exchange_rate = None;
    }
    let i = convert::market(&eur, Some("GBP")).unwrap().instrument;
    assert_eq!(i.account_rate, dec!(0.85));
    // An EUR account dealing in EUR needs no rate at all.
    let i = convert::market(&eur, Some("EUR")).unwrap().instrument;
    assert_eq!((i.account_currency(), i.account_rate), ("EUR", dec!(1)));
}

#[test]
fn market_with_unknown_status_and_missing_rules() {
    let mut m: MarketDetails = parse("markets_epic.json");
    m.snapshot.as_mut().unwrap().market_status = Some("BRAND_NEW".into());
    assert_eq!(
        convert::market(&m, Some("GBP")).unwrap().status,
        MarketStatus::Other("BRAND_NEW".into())
    );
    m.dealing_rules = None;
    let err = convert::market(&m, Some("GBP")).unwrap_err().to_string();
    assert!(err.contains("minDealSize"), "{err}");
}

#[test]
fn positions_fixtures_convert() {
    for name in ["positions_v1.json", "positions_v2.json"] {
        let p: PositionsResponse = parse(name);
        assert_eq!(p.positions.len(), 2, "{name}");
        let first = convert::position(&p.positions[0]).unwrap();
        assert_eq!(first.deal_id.as_str(), "ABCDE12345");
        assert_eq!(first.direction, Direction::Buy);
        assert_eq!(first.size.value(), dec!(10));
        assert_eq!(first.level.value(), dec!(17000));
        assert!(first.created.is_some(), "{name}: created date");
    }
    let p: PositionsResponse = parse("positions_v2.json");
    assert_eq!(
        convert::position(&p.positions[0])
            .unwrap()
            .deal_reference
            .unwrap()
            .as_str(),
        "ABCDE12345X"
    );
}

#[test]
fn price_fixture_converts_to_candles() {
    let epic = Epic::new("CS.D.CFDGOLD.CFDGC.IP").unwrap();
    let p: PricesResponse = parse("historic_prices.json");
    let candles = convert::candles(&p, &epic, 60_000);
    assert_eq!(candles.len(), p.prices.len());
    assert_eq!(candles[0].open.value(), dec!(1926.7));
    assert_eq!(candles[0].spread, Some(dec!(0.6)));
    assert_eq!(candles[0].start.to_string(), "2020-10-12T20:50:00.000Z");
}
