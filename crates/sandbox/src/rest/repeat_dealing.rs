//! `GET /repeat-dealing-window` v1: the sizes of the account's recent deals that IG counts
//! towards the price tier of its next deal, one window per instrument, direction and currency
//! (IG's labs guide on price tiers). Each deal stays in its window for [`WINDOW`] of simulated
//! time. IG's reference page for the endpoint is not in the public record we could read, so
//! the envelope (`repeatDealingWindows`, `epic`, `direction`, `currency`) is the sandbox's
//! choice; `entries[{size, expiry}]` is the shape of the streamed CONFIRMS'
//! `repeatDealingWindow` (`shared/ig-api.md` §2.2), `expiry` in epoch milliseconds.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use rust_decimal::Decimal;
use scalper_ig_wire::time as ig_time;
use serde_json::{json, Value};

use super::navigation::num;
use super::{authenticate, ok_json, require_version, Shared};
use crate::error::ApiError;

/// How long a deal counts towards the next one's tier (IG's guide illustrates 30 time units).
pub(crate) const WINDOW_MS: i64 = 30_000;

/// `GET /repeat-dealing-window` v1, optionally `?epic=`.
pub(super) async fn window(
    State(inner): State<Shared>,
    h: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let who = authenticate(&inner, &h)?;
    require_version(&h, &[1])?;
    let only = q.get("epic").map(String::as_str);
    let windows = inner.with(|w| {
        let now = w.st.sim_now.millis();
        let Some(acc) = w.st.accounts.get(&who.account) else {
            return Vec::new();
        };
        // (epic, direction, currency) -> entries, oldest first.
        let mut by_key: BTreeMap<(String, String, String), Vec<Value>> = BTreeMap::new();
        for a in acc.activities.iter().filter(|a| {
            a.activity_type.as_deref() == Some("POSITION") && a.status.as_deref() == Some("ACCEPTED")
        }) {
            let (Some(epic), Some(d)) = (a.epic.as_deref(), a.details.as_ref()) else {
                continue;
            };
            let Some(at) = a.date.as_deref().and_then(ig_time::parse_utc) else {
                continue;
            };
            let expiry = at.millis() + WINDOW_MS;
            if expiry <= now || only.is_some_and(|e| e != epic) {
                continue;
            }
            let (Some(direction), Some(size)) = (d.direction.clone(), d.size) else {
                continue;
            };
            let currency = w
                .st
                .markets
                .get(epic)
                .map_or_else(String::new, |m| m.entry.currency.to_string());
            by_key
                .entry((epic.to_string(), direction, currency))
                .or_default()
                .push(json!({"size": num(size.max(Decimal::ZERO)), "expiry": expiry}));
        }
        by_key
            .into_iter()
            .map(|((epic, direction, currency), mut entries)| {
                entries.sort_by_key(|e| e["expiry"].as_i64());
                json!({"epic": epic, "direction": direction, "currency": currency, "entries": entries})
            })
            .collect::<Vec<_>>()
    });
    Ok(ok_json(&json!({ "repeatDealingWindows": windows })))
}
