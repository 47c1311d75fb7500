//! IG REST JSON: any bytes as every response type, and every wire -> domain conversion on
//! what parses. Seeds: crates/ig-wire/tests/fixtures/*.json.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scalper_ig::convert;
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
use scalper_ig::IgError;
use scalper_model::{DealReference, Epic};

fn de<T: serde::de::DeserializeOwned>(b: &[u8]) -> Option<T> {
    serde_json::from_slice(b).ok()
}

fuzz_target!(|data: &[u8]| {
    let _ = IgError::from_response(400, data, None);
    if let Some(m) = de::<MarketDetails>(data) {
        let _ = convert::market(&m, Some("GBP"));
    }
    if let Some(p) = de::<PositionsResponse>(data) {
        for e in &p.positions {
            let _ = convert::position(e);
        }
    }
    if let Some(c) = de::<DealConfirmation>(data) {
        if let Ok(r) = DealReference::new("SCALP-fuzz-1") {
            let _ = convert::confirmation(&c, &r);
        }
    }
    if let Some(a) = de::<Application>(data) {
        let _ = convert::allowances(&a);
    }
    if let Some(p) = de::<PricesResponse>(data) {
        if let Ok(epic) = Epic::new("CS.D.EURUSD.CFD.IP") {
            let _ = convert::candles(&p, &epic, 60_000);
        }
    }
    let _ = de::<MarketsResponse>(data);
    let _ = de::<AccountsResponse>(data);
    let _ = de::<ErrorBody>(data);
    let _ = de::<ActivityResponse>(data);
    let _ = de::<ActivityV1Response>(data);
    let _ = de::<TransactionsResponse>(data);
    let _ = de::<DealReferenceResponse>(data);
    let _ = de::<LoginV2Response>(data);
    let _ = de::<LoginV3Response>(data);
    let _ = de::<SessionDetails>(data);
    let _ = de::<SwitchAccountResponse>(data);
    let _ = de::<EncryptionKeyResponse>(data);
    let _ = de::<WorkingOrdersResponse>(data);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = convert::leading_decimal(s);
        let _ = time::parse_utc(s);
        let _ = convert::point_size(Some(s), None);
    }
});
