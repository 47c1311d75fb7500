//! `/watchlists` v1, per account: list, create (with epics), read (market summaries), add a
//! market, remove a market, delete. Each account starts with one system watchlist ("Popular
//! Markets": every market of its product) that can be neither edited nor deleted.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::{authenticate, is_delete, ok_json, parse_body, require_version, Authed, Shared};
use crate::dealing::World;
use crate::error::ApiError;
use crate::state::Watchlist;

/// Watchlists kept per account at most (IG's own limit is not published).
const MAX_WATCHLISTS: usize = 100;
/// Markets per watchlist at most.
const MAX_MARKETS: usize = 200;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateRequest {
    name: Option<String>,
    #[serde(default)]
    epics: Vec<String>,
}

#[derive(Deserialize)]
struct AddRequest {
    epic: Option<String>,
}

const NOT_FOUND: &str = "error.watchlists.management.watchlist-not-found";

fn success() -> Response {
    ok_json(&json!({ "status": "SUCCESS" }))
}

/// The account's watchlists, the system one created on first use.
fn lists<'a>(w: &'a mut World<'_>, account: &str) -> &'a mut Vec<Watchlist> {
    let kind = w.account_kind(account);
    let popular: Vec<String> =
        w.st.markets
            .values()
            .filter(|m| m.entry.kind == kind)
            .map(|m| m.entry.epic.as_str().to_string())
            .collect();
    w.st.watchlists
        .entry(account.to_string())
        .or_insert_with(|| {
            vec![Watchlist {
                id: "Popular Markets".into(),
                name: "Popular Markets".into(),
                system: true,
                epics: popular,
            }]
        })
}

/// `GET /watchlists` v1.
pub(super) async fn list(State(inner): State<Shared>, h: HeaderMap) -> Result<Response, ApiError> {
    let who = authenticate(&inner, &h)?;
    require_version(&h, &[1])?;
    let out: Vec<_> = inner.with(|w| {
        lists(w, &who.account)
            .iter()
            .map(|l| {
                json!({
                    "id": l.id, "name": l.name, "editable": !l.system, "deleteable": !l.system,
                    "defaultSystemWatchlist": l.system,
                })
            })
            .collect()
    });
    Ok(ok_json(&json!({ "watchlists": out })))
}

/// `POST /watchlists` v1 `{name, epics}`: unknown epics are left out
/// (`SUCCESS_NOT_ALL_INSTRUMENTS_ADDED`).
pub(super) async fn create(
    State(inner): State<Shared>,
    h: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let who = authenticate(&inner, &h)?;
    require_version(&h, &[1])?;
    let req: CreateRequest = parse_body(&body)?;
    let name = req
        .name
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("validation.null-not-allowed.request.name"))?;
    if name.chars().count() > 100 {
        return Err(ApiError::bad_request("validation.size.request.name"));
    }
    inner.with(|w| {
        let known: Vec<String> = req
            .epics
            .iter()
            .filter(|e| w.st.markets.contains_key(*e))
            .take(MAX_MARKETS)
            .cloned()
            .collect();
        let all = known.len() == req.epics.len();
        let id = format!("WL{}", w.st.token().get(..10).unwrap_or_default());
        let l = lists(w, &who.account);
        if l.iter().any(|x| x.name == name) {
            return Err(ApiError::bad_request(
                "error.watchlists.management.duplicate-name",
            ));
        }
        if l.len() >= MAX_WATCHLISTS {
            return Err(ApiError::bad_request(
                "error.watchlists.management.too-many-watchlists",
            ));
        }
        l.push(Watchlist {
            id: id.clone(),
            name,
            system: false,
            epics: known,
        });
        let status = if all {
            "SUCCESS"
        } else {
            "SUCCESS_NOT_ALL_INSTRUMENTS_ADDED"
        };
        Ok(ok_json(&json!({ "watchlistId": id, "status": status })))
    })
}

fn with_list<R>(
    inner: &Shared,
    who: &Authed,
    id: &str,
    f: impl FnOnce(&mut World<'_>, usize) -> Result<R, ApiError>,
) -> Result<R, ApiError> {
    inner.with(|w| {
        let idx = lists(w, &who.account)
            .iter()
            .position(|l| l.id == id)
            .ok_or_else(|| ApiError::not_found(NOT_FOUND))?;
        f(w, idx)
    })
}

/// `GET /watchlists/{id}` v1: the markets.
pub(super) async fn read(
    State(inner): State<Shared>,
    h: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let who = authenticate(&inner, &h)?;
    require_version(&h, &[1])?;
    with_list(&inner, &who, &id, |w, i| {
        let epics = lists(w, &who.account)[i].epics.clone();
        let markets = super::navigation::summaries(w, &epics);
        Ok(ok_json(&json!({ "markets": markets })))
    })
}

/// `PUT /watchlists/{id}` v1 `{epic}`: adds a market.
pub(super) async fn add(
    State(inner): State<Shared>,
    h: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let who = authenticate(&inner, &h)?;
    require_version(&h, &[1])?;
    let req: AddRequest = parse_body(&body)?;
    let epic = req
        .epic
        .ok_or_else(|| ApiError::bad_request("validation.null-not-allowed.request.epic"))?;
    with_list(&inner, &who, &id, |w, i| {
        if !w.st.markets.contains_key(&epic) {
            return Err(ApiError::not_found("error.public-api.epic-not-found"));
        }
        let l = &mut lists(w, &who.account)[i];
        if l.system {
            return Err(ApiError::forbidden(
                "error.watchlists.management.cannot-edit-system-watchlist",
            ));
        }
        if !l.epics.contains(&epic) {
            if l.epics.len() >= MAX_MARKETS {
                return Err(ApiError::bad_request(
                    "error.watchlists.management.too-many-markets",
                ));
            }
            l.epics.push(epic);
        }
        Ok(success())
    })
}

/// `DELETE /watchlists/{id}` v1 (or `POST` with `_method: DELETE`).
pub(super) async fn delete(
    State(inner): State<Shared>,
    h: HeaderMap,
    Path(id): Path<String>,
    _body: Bytes,
) -> Result<Response, ApiError> {
    let who = authenticate(&inner, &h)?;
    require_version(&h, &[1])?;
    with_list(&inner, &who, &id, |w, i| {
        let l = lists(w, &who.account);
        if l[i].system {
            return Err(ApiError::forbidden(
                "error.watchlists.management.cannot-delete-system-watchlist",
            ));
        }
        l.remove(i);
        Ok(success())
    })
}

/// `POST /watchlists/{id}` with `_method: DELETE`. The body (trading_ig sends `{}`) is read
/// so that the keep-alive connection stays usable.
pub(super) async fn post_delete(
    State(inner): State<Shared>,
    h: HeaderMap,
    Path(id): Path<String>,
    _body: Bytes,
) -> Result<Response, ApiError> {
    if !is_delete(&h) {
        return Err(ApiError::not_found("invalid.url"));
    }
    delete(State(inner), h, Path(id), Bytes::new()).await
}

/// `DELETE /watchlists/{id}/{epic}` v1 (or `POST` with `_method: DELETE`): removes a market.
pub(super) async fn remove(
    State(inner): State<Shared>,
    h: HeaderMap,
    Path((id, epic)): Path<(String, String)>,
    _body: Bytes,
) -> Result<Response, ApiError> {
    let who = authenticate(&inner, &h)?;
    require_version(&h, &[1])?;
    with_list(&inner, &who, &id, |w, i| {
        let l = &mut lists(w, &who.account)[i];
        if l.system {
            return Err(ApiError::forbidden(
                "error.watchlists.management.cannot-edit-system-watchlist",
            ));
        }
        let before = l.epics.len();
        l.epics.retain(|e| *e != epic);
        if l.epics.len() == before {
            return Err(ApiError::not_found("error.public-api.epic-not-found"));
        }
        Ok(success())
    })
}

/// `POST /watchlists/{id}/{epic}` with `_method: DELETE`.
pub(super) async fn post_remove(
    State(inner): State<Shared>,
    h: HeaderMap,
    Path(p): Path<(String, String)>,
    _body: Bytes,
) -> Result<Response, ApiError> {
    if !is_delete(&h) {
        return Err(ApiError::not_found("invalid.url"));
    }
    remove(State(inner), h, Path(p), Bytes::new()).await
}
