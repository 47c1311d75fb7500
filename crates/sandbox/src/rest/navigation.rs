//! Market lists: the market summary IG shows in searches, navigation and watchlists,
//! `/marketnavigation` (a fixed tree: asset class, then product) and `/markets?searchTerm=`.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use rust_decimal::Decimal;
use scalper_ig_wire::time as ig_time;
use scalper_model::catalogue::AssetClass;
use serde_json::{json, Value};

use super::{authenticate, ok_json, require_version, Shared};
use crate::catalog::ProductKind;
use crate::dealing::World;
use crate::error::ApiError;
use crate::market::MarketRt;

/// A decimal as a JSON number (what IG sends; `json!` would write a string).
pub(crate) fn num(d: Decimal) -> Value {
    d.normalize()
        .to_string()
        .parse::<serde_json::Number>()
        .map_or(Value::Null, Value::Number)
}

/// IG's market summary (`MarketData` of searches, navigation and watchlists).
pub(crate) fn summary(w: &World<'_>, m: &MarketRt) -> Value {
    let e = &m.entry;
    let (net, pct) = m.day_change();
    json!({
        "epic": e.epic.as_str(),
        "instrumentName": e.name,
        "instrumentType": e.instrument_type(),
        "expiry": e.expiry,
        "lotSize": 1,
        "high": num(m.high.round_dp(e.decimals)),
        "low": num(m.low.round_dp(e.decimals)),
        "bid": num(m.last.bid.value()),
        "offer": num(m.last.offer.value()),
        "netChange": num(net),
        "percentageChange": num(pct),
        "updateTime": ig_time::time_of_day(m.last.ts),
        "updateTimeUTC": ig_time::time_of_day(m.last.ts),
        "delayTime": 0,
        "marketStatus": m.status_at(w.cfg, w.st.sim_now).as_ig(),
        "scalingFactor": num(e.scaling_factor),
        "streamingPricesAvailable": true,
        "otcTradeable": true,
    })
}

/// A node of the navigation tree: its id, name, and either children or a market filter.
struct Node {
    id: &'static str,
    name: &'static str,
    class: AssetClass,
    kind: Option<ProductKind>,
}

const CLASSES: [(&str, &str, AssetClass); 3] = [
    ("100", "Forex", AssetClass::Fx),
    ("200", "Indices", AssetClass::Index),
    ("300", "Commodities Metals Energies", AssetClass::Commodity),
];

fn node(id: &str) -> Option<Node> {
    let (class_id, product) = (id.get(..3)?, id.get(3..)?);
    let &(cid, name, class) = CLASSES.iter().find(|(c, _, _)| *c == class_id)?;
    let kind = match product {
        "" => None,
        "1" => Some(ProductKind::Cfd),
        "2" => Some(ProductKind::SpreadBet),
        _ => return None,
    };
    Some(Node {
        id: cid,
        name,
        class,
        kind,
    })
}

/// `GET /marketnavigation` v1: the top-level nodes.
pub(super) async fn root(State(inner): State<Shared>, h: HeaderMap) -> Result<Response, ApiError> {
    authenticate(&inner, &h)?;
    require_version(&h, &[1])?;
    let nodes: Vec<Value> = CLASSES
        .iter()
        .map(|(id, name, _)| json!({"id": id, "name": name}))
        .collect();
    Ok(ok_json(&json!({ "nodes": nodes, "markets": [] })))
}

/// `GET /marketnavigation/{nodeId}` v1: a class node lists its products (CFD, spread bet), a
/// product node its markets. An unknown node is 404 `error.public-api.failure.node-not-found`.
pub(super) async fn node_children(
    State(inner): State<Shared>,
    h: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    authenticate(&inner, &h)?;
    require_version(&h, &[1])?;
    let n =
        node(&id).ok_or_else(|| ApiError::not_found("error.public-api.failure.node-not-found"))?;
    let Some(kind) = n.kind else {
        let nodes = [
            json!({"id": format!("{}1", n.id), "name": format!("{} (CFD)", n.name)}),
            json!({"id": format!("{}2", n.id), "name": format!("{} (spread bet)", n.name)}),
        ];
        return Ok(ok_json(&json!({ "nodes": nodes, "markets": [] })));
    };
    let markets: Vec<Value> = inner.with(|w| {
        w.st.markets
            .values()
            .filter(|m| m.entry.class == n.class && m.entry.kind == kind)
            .map(|m| summary(w, m))
            .collect()
    });
    Ok(ok_json(&json!({ "nodes": [], "markets": markets })))
}

/// `GET /markets?searchTerm=` v1: markets whose name or epic contains the term (case and
/// `/` ignored).
pub(super) fn search(inner: &Shared, q: &HashMap<String, String>) -> Option<Response> {
    let term = q.get("searchTerm")?;
    let term = term.to_ascii_uppercase().replace('/', "");
    let found: Vec<Value> = inner.with(|w| {
        w.st.markets
            .values()
            .filter(|m| {
                m.entry
                    .name
                    .to_ascii_uppercase()
                    .replace('/', "")
                    .contains(&term)
                    || m.entry.epic.as_str().contains(&term)
            })
            .map(|m| summary(w, m))
            .collect()
    });
    Some(ok_json(&json!({ "markets": found })))
}

/// The markets of `epics` that exist, as summaries.
pub(crate) fn summaries(w: &World<'_>, epics: &[String]) -> Vec<Value> {
    epics
        .iter()
        .filter_map(|e| w.st.markets.get(e))
        .map(|m| summary(w, m))
        .collect()
}

/// Markets sharing `market_id` (`EURUSD`, `DAX`): the CFD and spread-bet epics of one market.
pub(crate) fn market_id(epic: &str) -> &str {
    epic.split('.').nth(2).unwrap_or(epic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn navigation_nodes_resolve() {
        assert!(node("100").is_some_and(|n| n.kind.is_none()));
        assert!(node("2001").is_some_and(|n| n.kind == Some(ProductKind::Cfd)));
        assert!(node("3002").is_some_and(|n| n.kind == Some(ProductKind::SpreadBet)));
        for bad in ["", "1", "999", "1003", "10012", "ünï", "éé"] {
            assert!(node(bad).is_none(), "{bad}");
        }
        assert_eq!(market_id("CS.D.EURUSD.CFD.IP"), "EURUSD");
        assert_eq!(market_id("odd"), "odd");
    }
}
