//! `/clientsentiment` v1: `?marketIds=a,b`, `/{marketId}` and `/related/{marketId}`. The long
//! share is deterministic per market (30-70%, from its id) and leans towards the side the
//! sandbox's own open positions hold, so it moves when clients trade.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use rust_decimal::Decimal;
use scalper_model::Direction;
use serde_json::{json, Value};

use super::navigation::{market_id, num};
use super::{authenticate, ok_json, require_version, Shared};
use crate::dealing::World;
use crate::error::ApiError;

/// The sentiment of `id` (`EURUSD`, `DAX`), `None` for a market the sandbox does not serve.
fn sentiment(w: &World<'_>, id: &str) -> Option<Value> {
    if !w.st.markets.keys().any(|e| market_id(e) == id) {
        return None;
    }
    // FNV-1a of the id: a base long share of 30-70%.
    let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let mut long = Decimal::from(30 + hash % 41);
    let (mut buy, mut sell) = (Decimal::ZERO, Decimal::ZERO);
    for p in w.st.accounts.values().flat_map(|a| &a.positions) {
        if market_id(&p.epic) == id {
            match p.direction {
                Direction::Buy => buy += p.size,
                Direction::Sell => sell += p.size,
            }
        }
    }
    if !(buy + sell).is_zero() {
        // Half the weight to the sandbox's own book.
        long = ((long + buy / (buy + sell) * Decimal::ONE_HUNDRED) / Decimal::TWO).round_dp(0);
    }
    Some(json!({
        "marketId": id,
        "longPositionPercentage": num(long),
        "shortPositionPercentage": num(Decimal::ONE_HUNDRED - long),
    }))
}

const NOT_FOUND: &str = "error.clientsentiment.market-not-found";

/// `GET /clientsentiment?marketIds=a,b` v1.
pub(super) async fn many(
    State(inner): State<Shared>,
    h: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    authenticate(&inner, &h)?;
    require_version(&h, &[1])?;
    let ids: Vec<String> = q
        .get("marketIds")
        .map(|s| {
            s.split(',')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if ids.is_empty() {
        return Err(ApiError::bad_request(
            "validation.null-not-allowed.request.marketIds",
        ));
    }
    let out: Vec<Value> = inner.with(|w| ids.iter().filter_map(|id| sentiment(w, id)).collect());
    Ok(ok_json(&json!({ "clientSentiments": out })))
}

/// `GET /clientsentiment/{marketId}` v1.
pub(super) async fn one(
    State(inner): State<Shared>,
    h: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    authenticate(&inner, &h)?;
    require_version(&h, &[1])?;
    inner
        .with(|w| sentiment(w, &id))
        .map(|v| ok_json(&v))
        .ok_or_else(|| ApiError::not_found(NOT_FOUND))
}

/// `GET /clientsentiment/related/{marketId}` v1: the other markets of its asset class.
pub(super) async fn related(
    State(inner): State<Shared>,
    h: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    authenticate(&inner, &h)?;
    require_version(&h, &[1])?;
    inner.with(|w| {
        let class =
            w.st.markets
                .values()
                .find(|m| market_id(m.entry.epic.as_str()) == id)
                .map(|m| m.entry.class)
                .ok_or_else(|| ApiError::not_found(NOT_FOUND))?;
        let mut ids: Vec<String> =
            w.st.markets
                .values()
                .filter(|m| m.entry.class == class)
                .map(|m| market_id(m.entry.epic.as_str()).to_string())
                .filter(|m| *m != id)
                .collect();
        ids.sort();
        ids.dedup();
        let out: Vec<Value> = ids.iter().filter_map(|m| sentiment(w, m)).collect();
        Ok(ok_json(&json!({ "clientSentiments": out })))
    })
}
