//! Fuzzing of IG's JSON wire models and the wire -> domain conversion: arbitrary bytes and
//! structurally mutated versions of the recorded fixtures go to every response type's
//! deserialiser and, when they parse, through every conversion in `scalper_ig::convert`. The only
//! acceptable outcomes are `Ok` or `Err`; a panic fails the test.
//!
//! Default case counts keep CI cheap; `SCALPER_FUZZ_CASES=100000 cargo test -p scalper-ig
//! --test fuzz_wire` runs longer. The libFuzzer targets in `fuzz/` cover the same entry points.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use rust_decimal::Decimal;
use scalper_ig::convert;
use scalper_ig::IgError;
use scalper_ig_wire::{
    accounts::AccountsResponse,
    application::Application,
    confirms::DealConfirmation,
    errors::ErrorBody,
    history::{ActivityResponse, ActivityV1Response, TransactionsResponse},
    markets::{MarketDetails, MarketsResponse},
    positions::{DealReferenceResponse, PositionsResponse},
    prices::PricesResponse,
    session::{
        EncryptionKeyResponse, LoginV2Response, LoginV3Response, SessionDetails,
        SwitchAccountResponse,
    },
    time,
    working_orders::WorkingOrdersResponse,
};
use scalper_model::{DealReference, Epic};
use serde_json::Value;

fn cases(default: u32) -> u32 {
    std::env::var("SCALPER_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config(default: u32) -> Config {
    Config {
        cases: cases(default),
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..Config::default()
    }
}

const FIXTURES: [&str; 16] = [
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

/// A deal confirmation as IG sends it (no recorded fixture exists for `/confirms`).
const CONFIRM: &str = r#"{"date":"2024-01-02T08:00:00.123","status":"OPEN","reason":"SUCCESS",
"dealStatus":"ACCEPTED","epic":"CS.D.EURUSD.CFD.IP","expiry":"-","dealReference":"SCALP-abc-1",
"dealId":"DIAAAAA1","affectedDeals":[{"dealId":"DIAAAAA1","status":"OPENED"}],"level":1.08123,
"size":1,"direction":"BUY","stopLevel":1.07,"limitLevel":1.09,"stopDistance":null,
"limitDistance":null,"guaranteedStop":false,"trailingStop":false,"profit":12.5,"profitCurrency":"GBP"}"#;

fn fixtures() -> Vec<Value> {
    // The recorded fixtures live beside the wire models they exercise.
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ig-wire/tests/fixtures");
    let mut v: Vec<Value> = FIXTURES
        .iter()
        .map(|n| {
            let text = std::fs::read_to_string(dir.join(n)).unwrap();
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{n}: {e}"))
        })
        .collect();
    v.push(serde_json::from_str(CONFIRM).unwrap());
    v
}

/// Successful conversions, to check that the harness reaches them.
#[derive(Debug, Default)]
struct Reached {
    market: usize,
    positions: usize,
    confirmation: usize,
    candles: usize,
}

/// Deserialises `bytes` as every response type and runs every conversion on what parses.
fn exercise(bytes: &[u8]) -> Reached {
    fn de<T: serde::de::DeserializeOwned>(b: &[u8]) -> Option<T> {
        serde_json::from_slice(b).ok()
    }
    let epic = Epic::new("CS.D.EURUSD.CFD.IP").unwrap();
    let reference = DealReference::new("SCALP-fuzz-1").unwrap();
    let mut reached = Reached::default();
    let _ = IgError::from_response(400, bytes, None);
    if let Some(m) = de::<MarketDetails>(bytes) {
        reached.market += usize::from(convert::market(&m, Some("GBP")).is_ok());
    }
    let _ = de::<MarketsResponse>(bytes);
    if let Some(p) = de::<PositionsResponse>(bytes) {
        for e in &p.positions {
            reached.positions += usize::from(convert::position(e).is_ok());
        }
    }
    if let Some(c) = de::<DealConfirmation>(bytes) {
        reached.confirmation += usize::from(convert::confirmation(&c, &reference).is_ok());
    }
    if let Some(a) = de::<Application>(bytes) {
        let _ = convert::allowances(&a);
    }
    if let Some(p) = de::<PricesResponse>(bytes) {
        reached.candles += convert::candles(&p, &epic, 60_000).len();
        for point in &p.prices {
            if let Some(t) = point.snapshot_time_utc.as_deref() {
                let _ = time::parse_utc(t);
            }
        }
    }
    let _ = de::<AccountsResponse>(bytes);
    let _ = de::<ErrorBody>(bytes);
    let _ = de::<ActivityResponse>(bytes);
    let _ = de::<ActivityV1Response>(bytes);
    let _ = de::<TransactionsResponse>(bytes);
    let _ = de::<DealReferenceResponse>(bytes);
    let _ = de::<LoginV2Response>(bytes);
    let _ = de::<LoginV3Response>(bytes);
    let _ = de::<SessionDetails>(bytes);
    let _ = de::<SwitchAccountResponse>(bytes);
    let _ = de::<EncryptionKeyResponse>(bytes);
    let _ = de::<WorkingOrdersResponse>(bytes);
    reached
}

/// Leaf values chosen to break arithmetic and parsing: decimal extremes, float extremes,
/// numeric strings, wrong types, deep nesting.
fn nasty_leaf() -> impl Strategy<Value = Value> {
    let fixed = prop_oneof![
        Just(Value::Null),
        Just(Value::Bool(true)),
        Just(serde_json::json!(0)),
        Just(serde_json::json!(-1)),
        Just(serde_json::json!(u64::MAX)),
        Just(serde_json::json!(i64::MIN)),
        Just(serde_json::json!(1e300)),
        Just(serde_json::json!(-1e300)),
        Just(serde_json::json!(7.9e28)),
        Just(serde_json::json!(5e-324)),
        Just(serde_json::json!("79228162514264337593543950335")),
        Just(serde_json::json!("-79228162514264337593543950335")),
        Just(serde_json::json!("0.0000000000000000000000000001")),
        Just(serde_json::json!("1e28")),
        Just(serde_json::json!("1e-28")),
        Just(serde_json::json!("-")),
        Just(serde_json::json!("")),
        Just(serde_json::json!("NaN")),
        Just(serde_json::json!("0.0001 USD/EUR")),
        Just(serde_json::json!("PERCENTAGE")),
        Just(serde_json::json!("POINTS")),
        Just(serde_json::json!("BUY")),
        Just(serde_json::json!("SELL")),
        Just(serde_json::json!("2024-01-02T08:00:00")),
        Just(serde_json::json!("+262143-12-31T23:59:59")),
        Just(serde_json::json!([])),
        Just(serde_json::json!({})),
        Just(serde_json::json!([[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]])),
    ];
    let any_num = prop_oneof![
        any::<i64>().prop_map(|i| serde_json::json!(i)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| serde_json::json!(f)),
        (any::<i128>(), 0u32..=28).prop_map(|(m, s)| {
            let m = m % 79_228_162_514_264_337_593_543_950_335_i128;
            Value::String(Decimal::from_i128_with_scale(m, s).to_string())
        }),
    ];
    let any_str = "\\PC{0,24}".prop_map(Value::String);
    prop_oneof![4 => fixed, 4 => any_num, 1 => any_str]
}

#[derive(Debug, Clone)]
enum Mutation {
    Replace(Value),
    Remove,
    DuplicateInArray(usize),
    SwapChildren,
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        6 => nasty_leaf().prop_map(Mutation::Replace),
        2 => Just(Mutation::Remove),
        1 => (1usize..50).prop_map(Mutation::DuplicateInArray),
        1 => Just(Mutation::SwapChildren),
        1 => (0usize..4).prop_map(Mutation::Truncate),
    ]
}

/// JSON pointers of every node.
fn paths(v: &Value, at: &str, out: &mut Vec<String>) {
    out.push(at.to_string());
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                let key = k.replace('~', "~0").replace('/', "~1");
                paths(c, &format!("{at}/{key}"), out);
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                paths(c, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn apply(doc: &mut Value, selector: usize, m: &Mutation) {
    let mut all = Vec::new();
    paths(doc, "", &mut all);
    let target = &all[selector % all.len()];
    match m {
        Mutation::Replace(v) => {
            if let Some(slot) = doc.pointer_mut(target) {
                *slot = v.clone();
            }
        }
        Mutation::Remove => {
            let (parent, key) = target.rsplit_once('/').unwrap_or(("", ""));
            match doc.pointer_mut(parent) {
                Some(Value::Object(o)) => {
                    o.remove(&key.replace("~1", "/").replace("~0", "~"));
                }
                Some(Value::Array(a)) => {
                    if let Ok(i) = key.parse::<usize>() {
                        if i < a.len() {
                            a.remove(i);
                        }
                    }
                }
                _ => {}
            }
        }
        Mutation::DuplicateInArray(n) => {
            if let Some(Value::Array(a)) = doc.pointer_mut(target) {
                if let Some(first) = a.first().cloned() {
                    a.extend(std::iter::repeat_n(first, *n));
                }
            }
        }
        Mutation::SwapChildren => {
            if let Some(Value::Array(a)) = doc.pointer_mut(target) {
                a.reverse();
            }
        }
        Mutation::Truncate(n) => {
            if let Some(Value::Array(a)) = doc.pointer_mut(target) {
                a.truncate(*n);
            }
        }
    }
}

#[test]
fn every_fixture_reaches_a_conversion() {
    // Guards the harness: if the seeds stopped converting, the mutation fuzzing below would
    // only ever exercise error paths.
    let mut total = Reached::default();
    for doc in fixtures() {
        let r = exercise(&serde_json::to_vec(&doc).unwrap());
        total.market += r.market;
        total.positions += r.positions;
        total.confirmation += r.confirmation;
        total.candles += r.candles;
    }
    assert!(
        total.market >= 1 && total.positions >= 2 && total.confirmation >= 1 && total.candles >= 10,
        "{total:?}"
    );
}

#[test]
fn decimal_overflow_in_market_conversion_is_an_error_or_ok() {
    // Prices at the edge of Decimal's range: the mid price and percentage distances overflow
    // unless computed with checked arithmetic.
    let max = "79228162514264337593543950335";
    let json = format!(
        r#"{{"instrument":{{"epic":"CS.D.EURUSD.CFD.IP","onePipMeans":"{max}","valueOfOnePip":"{max}",
        "contractSize":"{max}"}},"snapshot":{{"bid":"{max}","offer":"{max}","scalingFactor":"{max}"}},
        "dealingRules":{{"minDealSize":{{"unit":"POINTS","value":"0.0000000000000000000000000001"}},
        "minNormalStopOrLimitDistance":{{"unit":"PERCENTAGE","value":"{max}"}},
        "maxStopOrLimitDistance":{{"unit":"PERCENTAGE","value":"{max}"}}}}}}"#
    );
    let m: MarketDetails = serde_json::from_str(&json).unwrap();
    let _ = convert::market(&m, Some("GBP"));
    let prices = format!(
        r#"{{"prices":[{{"snapshotTimeUTC":"2024-01-02T08:00:00",
        "openPrice":{{"bid":"{max}","ask":"-{max}"}},"highPrice":{{"bid":"{max}","ask":"{max}"}},
        "lowPrice":{{"bid":"{max}","ask":"{max}"}},"closePrice":{{"bid":"{max}","ask":"{max}"}}}}]}}"#
    );
    let p: PricesResponse = serde_json::from_str(&prices).unwrap();
    let _ = convert::candles(&p, &Epic::new("CS.D.EURUSD.CFD.IP").unwrap(), 60_000);
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        exercise(&bytes);
    }

    #[test]
    fn arbitrary_json_text_never_panics(text in "[\\[\\]{}\",:0-9.eE+\\-a-zA-Z ]{0,200}") {
        exercise(text.as_bytes());
    }

    #[test]
    fn mutated_fixtures_never_panic(
        which in 0usize..FIXTURES.len() + 1,
        muts in proptest::collection::vec((any::<usize>(), mutation()), 1..6),
    ) {
        let mut doc = fixtures().swap_remove(which);
        for (sel, m) in &muts {
            apply(&mut doc, *sel, m);
        }
        let bytes = serde_json::to_vec(&doc).unwrap();
        exercise(&bytes);
        // A byte-level cut of the mutated document too: truncated bodies happen on the wire.
        let cut = muts[0].0 % (bytes.len() + 1);
        exercise(&bytes[..cut]);
    }

    #[test]
    fn conversion_helpers_never_panic(s in "\\PC{0,40}", scaling in any::<i128>(), scale in 0u32..=28) {
        let _ = convert::direction(&s);
        let _ = convert::leading_decimal(&s);
        let _ = time::parse_utc(&s);
        let d = Decimal::from_i128_with_scale(scaling % 79_228_162_514_264_337_593_543_950_335_i128, scale);
        let _ = convert::point_size(Some(&s), Some(d));
        let _ = convert::point_size(Some("79228162514264337593543950335"), Some(d));
    }
}
