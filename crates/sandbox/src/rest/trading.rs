//! Accounts and dealing endpoints: `/accounts`, `/operations/application`, positions, confirms,
//! working orders (history: `history.rs`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use rust_decimal::Decimal;
use scalper_ig_wire::accounts::{Account, AccountBalance, AccountsResponse};
use scalper_ig_wire::application::Application;
use scalper_ig_wire::positions::{
    ClosePositionRequest, DealReferenceResponse, OpenPositionRequest, PositionEntry,
    PositionMarket, PositionsResponse,
};
use scalper_ig_wire::working_orders::{
    WorkingOrderData, WorkingOrderEntry, WorkingOrderMarket, WorkingOrdersResponse,
};
use secrecy::ExposeSecret;
use tokio::time::Instant;

use super::{authenticate, ok_json, parse_body, require_version, Shared};
use crate::dealing::World;
use crate::error::ApiError;
use crate::state::Position;
use scalper_ig_wire::time as ig_time;

fn deal_ref(r: String) -> Response {
    ok_json(&DealReferenceResponse { deal_reference: r })
}

fn is_delete(h: &HeaderMap) -> bool {
    h.get("_method")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"DELETE"))
}

/// `GET /accounts` v1.
pub(super) async fn accounts(
    State(inner): State<Shared>,
    h: HeaderMap,
) -> Result<Response, ApiError> {
    let who = authenticate(&inner, &h)?;
    require_version(&h, &[1])?;
    let accounts = inner.with(|w| {
        let default = w.st.default_account(&who.user);
        let ids: Vec<String> = w.st.accounts.keys().cloned().collect();
        ids.iter()
            .filter_map(|id| {
                let (balance, pnl, margin, available) = w.funds(id);
                let a = w.st.accounts.get(id)?;
                Some(Account {
                    account_id: a.id.clone(),
                    account_name: Some(a.name.clone()),
                    account_alias: None,
                    status: Some("ENABLED".into()),
                    account_type: Some(a.kind.as_ig().into()),
                    preferred: Some(default == a.id),
                    balance: Some(AccountBalance {
                        balance: Some(balance),
                        deposit: Some(margin),
                        profit_loss: Some(pnl),
                        available: Some(available),
                    }),
                    currency: Some(w.cfg.currency.clone()),
                    can_transfer_from: Some(true),
                    can_transfer_to: Some(true),
                })
            })
            .collect()
    });
    Ok(ok_json(&AccountsResponse { accounts }))
}

/// `GET /operations/application` v1.
pub(super) async fn application(
    State(inner): State<Shared>,
    h: HeaderMap,
) -> Result<Response, ApiError> {
    authenticate(&inner, &h)?;
    require_version(&h, &[1])?;
    Ok(ok_json(&vec![application_entry(&inner)]))
}

/// The sandbox's one application, with what `PUT /operations/application` set.
pub(super) fn application_entry(inner: &Shared) -> Application {
    // Advertise what is enforced: with rate limits off (local runs), generous allowances, so
    // that clients which pace themselves from this answer are not slowed by limits that do
    // not exist here.
    let l = inner.cfg.rate_limits.unwrap_or(crate::RateLimits {
        app_non_trading_per_min: 100_000,
        account_trading_per_min: 100_000,
        account_non_trading_per_min: 100_000,
        historical_points_per_week: 10_000_000,
    });
    let set = inner.lock().application.clone();
    Application {
        name: Some("scalper-sandbox".into()),
        api_key: Some(inner.cfg.credentials.api_key.expose_secret().to_string()),
        status: Some(set.status.unwrap_or_else(|| "ENABLED".into())),
        allowance_application_overall: Some(l.app_non_trading_per_min),
        allowance_account_trading: Some(
            set.allowance_account_trading
                .unwrap_or(l.account_trading_per_min),
        ),
        allowance_account_overall: Some(
            set.allowance_account_overall
                .unwrap_or(l.account_non_trading_per_min),
        ),
        allowance_account_historical_data: Some(l.historical_points_per_week),
        concurrent_subscriptions_limit: Some(40),
        allow_equities: Some(false),
        allow_quote_orders: Some(false),
        created_date: Some("2026-01-01T00:00:00".into()),
    }
}

fn position_entry(w: &World<'_>, p: &Position, ver: u8) -> PositionEntry {
    let m = w.st.markets.get(&p.epic);
    let e = m.map(|m| &m.entry);
    PositionEntry {
        position: scalper_ig_wire::positions::Position {
            contract_size: e.map(|e| e.contract_size),
            created_date: Some(ig_time::local_ms(p.created)),
            created_date_utc: (ver >= 2).then(|| ig_time::utc_s(p.created)),
            deal_id: p.deal_id.clone(),
            deal_reference: (ver >= 2).then(|| p.deal_reference.clone()),
            size: (ver >= 2).then_some(p.size),
            deal_size: (ver < 2).then_some(p.size),
            direction: Some(p.direction.as_str().into()),
            limit_level: p.limit_level,
            level: (ver >= 2).then_some(p.level),
            open_level: (ver < 2).then_some(p.level),
            currency: Some(p.currency.clone()),
            controlled_risk: Some(p.stop.guaranteed),
            stop_level: p.stop_level,
            trailing_step: p.stop.trailing.map(|t| t.1),
            trailing_stop_distance: p.stop.trailing.map(|t| t.0),
            limited_risk_premium: p.stop.premium,
        },
        market: PositionMarket {
            instrument_name: e.map(|e| e.name.clone()),
            expiry: e.map(|e| e.expiry.to_string()),
            epic: p.epic.clone(),
            instrument_type: Some(e.map_or("CURRENCIES", |e| e.instrument_type()).into()),
            lot_size: Some(Decimal::ONE),
            high: m.map(|m| m.high.round_dp(1)),
            low: m.map(|m| m.low.round_dp(1)),
            percentage_change: Some(Decimal::ZERO),
            net_change: Some(Decimal::ZERO),
            bid: m.map(|m| m.last.bid.value()),
            offer: m.map(|m| m.last.offer.value()),
            update_time: m.map(|m| ig_time::time_of_day(m.last.ts)),
            update_time_utc: m.map(|m| ig_time::time_of_day(m.last.ts)),
            delay_time: Some(Decimal::ZERO),
            streaming_prices_available: Some(true),
            market_status: m.map(|m| m.status_at(w.cfg, w.st.sim_now).as_ig().to_string()),
            scaling_factor: e.map(|e| e.scaling_factor),
        },
    }
}

/// `GET /positions` v1/v2.
pub(super) async fn positions(
    State(inner): State<Shared>,
    h: HeaderMap,
) -> Result<Response, ApiError> {
    let who = authenticate(&inner, &h)?;
    let v = require_version(&h, &[1, 2])?;
    let positions = inner.with(|w| {
        let list =
            w.st.accounts
                .get(&who.account)
                .map(|a| a.positions.clone())
                .unwrap_or_default();
        list.iter().map(|p| position_entry(w, p, v)).collect()
    });
    Ok(ok_json(&PositionsResponse { positions }))
}

/// `GET /positions/{dealId}` v2.
pub(super) async fn position(
    State(inner): State<Shared>,
    h: HeaderMap,
    Path(deal_id): Path<String>,
) -> Result<Response, ApiError> {
    let who = authenticate(&inner, &h)?;
    let v = require_version(&h, &[1, 2])?;
    inner.with(|w| {
        let p =
            w.st.accounts
                .get(&who.account)
                .and_then(|a| a.positions.iter().find(|p| p.deal_id == deal_id).cloned());
        p.map(|p| ok_json(&position_entry(w, &p, v)))
            .ok_or_else(|| ApiError::not_found("error.position.notfound"))
    })
}

/// `POST /positions/otc` v2 open, or v1 close with `_method: DELETE`.
pub(super) async fn open_or_close(
    State(inner): State<Shared>,
    h: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if is_delete(&h) {
        return close(State(inner), h, body).await;
    }
    let who = authenticate(&inner, &h)?;
    require_version(&h, &[1, 2])?;
    let req: OpenPositionRequest = parse_body(&body)?;
    inner
        .with(|w| w.open_position(&who.account, &req))
        .map(deal_ref)
}

/// `DELETE /positions/otc` v1.
pub(super) async fn close(
    State(inner): State<Shared>,
    h: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let who = authenticate(&inner, &h)?;
    require_version(&h, &[1])?;
    let req: ClosePositionRequest = parse_body(&body)?;
    inner
        .with(|w| w.close_position(&who.account, &req))
        .map(deal_ref)
}

/// `PUT /positions/otc/{dealId}` v2.
pub(super) async fn amend(
    State(inner): State<Shared>,
    h: HeaderMap,
    Path(deal_id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let who = authenticate(&inner, &h)?;
    require_version(&h, &[1, 2])?;
    let req = parse_body(&body)?;
    inner
        .with(|w| w.amend_position(&who.account, &deal_id, &req))
        .map(deal_ref)
}

/// `GET /confirms/{dealReference}` v1.
pub(super) async fn confirm(
    State(inner): State<Shared>,
    h: HeaderMap,
    Path(reference): Path<String>,
) -> Result<Response, ApiError> {
    let who = authenticate(&inner, &h)?;
    require_version(&h, &[1])?;
    let now = Instant::now();
    let st = inner.lock();
    match st.confirms.get(&reference) {
        Some(c) if c.account == who.account && c.visible_from <= now && c.expires > now => {
            Ok(ok_json(&c.confirm))
        }
        _ => Err(ApiError::not_found("error.confirms.deal-not-found")),
    }
}

/// `GET /workingorders` v2.
pub(super) async fn working_orders(
    State(inner): State<Shared>,
    h: HeaderMap,
) -> Result<Response, ApiError> {
    let who = authenticate(&inner, &h)?;
    require_version(&h, &[1, 2])?;
    let list = inner.with(|w| {
        let orders =
            w.st.accounts
                .get(&who.account)
                .map(|a| a.orders.clone())
                .unwrap_or_default();
        orders
            .iter()
            .map(|o| {
                let m = w.st.markets.get(&o.epic);
                WorkingOrderEntry {
                    working_order_data: WorkingOrderData {
                        deal_id: o.deal_id.clone(),
                        direction: Some(o.direction.as_str().into()),
                        epic: Some(o.epic.clone()),
                        order_size: Some(o.size),
                        order_level: Some(o.level),
                        time_in_force: Some(o.time_in_force.clone()),
                        created_date: Some(ig_time::local_ms(o.created)),
                        created_date_utc: Some(ig_time::utc_s(o.created)),
                        good_till_date: o.good_till.map(ig_time::local_s),
                        good_till_date_iso: o.good_till.map(ig_time::utc_s),
                        guaranteed_stop: Some(false),
                        order_type: Some(o.order_type.clone()),
                        stop_distance: o.stop_distance,
                        limit_distance: o.limit_distance,
                        currency_code: Some(o.currency.clone()),
                        dma: Some(false),
                        ..WorkingOrderData::default()
                    },
                    market_data: WorkingOrderMarket {
                        instrument_name: m.map(|m| m.entry.name.clone()),
                        expiry: m.map(|m| m.entry.expiry.to_string()),
                        market_status: m
                            .map(|m| m.status_at(w.cfg, w.st.sim_now).as_ig().to_string()),
                        epic: Some(o.epic.clone()),
                        instrument_type: Some(
                            m.map_or("CURRENCIES", |m| m.entry.instrument_type()).into(),
                        ),
                        lot_size: Some(Decimal::ONE),
                        bid: m.map(|m| m.last.bid.value()),
                        offer: m.map(|m| m.last.offer.value()),
                        update_time: m.map(|m| ig_time::time_of_day(m.last.ts)),
                        delay_time: Some(Decimal::ZERO),
                        streaming_prices_available: Some(true),
                        scaling_factor: m.map(|m| m.entry.scaling_factor),
                        ..WorkingOrderMarket::default()
                    },
                }
            })
            .collect()
    });
    Ok(ok_json(&WorkingOrdersResponse {
        working_orders: list,
    }))
}

/// `POST /workingorders/otc` v2.
pub(super) async fn create_order(
    State(inner): State<Shared>,
    h: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let who = authenticate(&inner, &h)?;
    require_version(&h, &[1, 2])?;
    let req = parse_body(&body)?;
    inner
        .with(|w| w.create_working_order(&who.account, &req))
        .map(deal_ref)
}

/// `PUT /workingorders/otc/{dealId}` v2.
pub(super) async fn amend_order(
    State(inner): State<Shared>,
    h: HeaderMap,
    Path(deal_id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let who = authenticate(&inner, &h)?;
    require_version(&h, &[1, 2])?;
    let req = parse_body(&body)?;
    inner
        .with(|w| w.amend_working_order(&who.account, &deal_id, &req))
        .map(deal_ref)
}

/// `DELETE /workingorders/otc/{dealId}` v2.
pub(super) async fn delete_order(
    State(inner): State<Shared>,
    h: HeaderMap,
    Path(deal_id): Path<String>,
) -> Result<Response, ApiError> {
    let who = authenticate(&inner, &h)?;
    require_version(&h, &[1, 2])?;
    Ok(deal_ref(
        inner.with(|w| w.delete_working_order(&who.account, &deal_id)),
    ))
}

/// `POST /workingorders/otc/{dealId}` with `_method: DELETE`.
pub(super) async fn post_order_delete(
    State(inner): State<Shared>,
    h: HeaderMap,
    Path(deal_id): Path<String>,
    // Read (trading_ig sends `{}`) so that the keep-alive connection stays usable.
    _body: Bytes,
) -> Result<Response, ApiError> {
    if !is_delete(&h) {
        return Err(ApiError::new(
            axum::http::StatusCode::METHOD_NOT_ALLOWED,
            "invalid.url",
        ));
    }
    delete_order(State(inner), h, Path(deal_id)).await
}
