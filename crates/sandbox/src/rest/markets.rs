//! Market data: `/markets/{epic}` v1-v3, `/markets?epics=` v1/v2 (and `?searchTerm=` v1) and
//! `/prices/{epic}` v3 candles from the simulator's history with allowance metadata.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use rust_decimal::Decimal;
use scalper_ig_wire::markets::{
    DealingRulesDetails, InstrumentCurrency, InstrumentDetails, MarketDetails, MarketSnapshot,
    MarketTime, MarketsResponse, OpeningHours, UnitValue,
};
use scalper_ig_wire::prices::{
    BidAsk, PageData, PriceAllowance, PriceMetadata, PricePoint, PricesResponse,
};
use scalper_model::Timestamp;

use super::{authenticate, ok_json, require_version, Shared};
use crate::backfill;
use crate::catalog;
use crate::dealing::World;
use crate::error::ApiError;
use scalper_ig_wire::time as ig_time;
use scalper_ig_wire::Resolution;

#[allow(clippy::unnecessary_wraps)] // every wire field is an Option
fn uv(unit: &str, value: Decimal) -> Option<UnitValue> {
    Some(UnitValue {
        unit: Some(unit.into()),
        value: Some(value),
    })
}

/// The v3 market details of one epic.
pub(crate) fn details(w: &World<'_>, epic: &str) -> Option<MarketDetails> {
    let m = w.st.markets.get(epic)?;
    let e = &m.entry;
    let (net, pct) = m.day_change();
    let symbol = catalog::currency_symbol(e.currency);
    // IG gives a market's daily windows in the account's zone (London here); weekends and
    // holidays show in its status, not in these. A market trading around the clock on its
    // trading days (FX) has none; the always-open schedule says all day, every day.
    let hours: Option<Vec<MarketTime>> = match w.cfg.schedule {
        crate::config::MarketSchedule::AlwaysOpen => Some(vec![("00:00".into(), "23:59".into())]),
        crate::config::MarketSchedule::MarketHours => {
            let daily = e
                .hours
                .ig_daily_times(w.st.sim_now, chrono_tz::Europe::London);
            (daily != [("00:00".to_string(), "23:59".to_string())]).then_some(daily)
        }
    }
    .map(|pairs| {
        pairs
            .into_iter()
            .map(|(open, close)| MarketTime {
                open_time: Some(open),
                close_time: Some(close),
            })
            .collect()
    });
    Some(MarketDetails {
        instrument: Some(InstrumentDetails {
            epic: e.epic.as_str().into(),
            expiry: Some(e.expiry.into()),
            name: Some(e.name.clone()),
            force_open_allowed: Some(true),
            stops_limits_allowed: Some(true),
            lot_size: Some(Decimal::ONE),
            unit: Some(
                if e.kind == catalog::ProductKind::Cfd {
                    "CONTRACTS"
                } else {
                    "AMOUNT"
                }
                .into(),
            ),
            instrument_type: Some(e.instrument_type().into()),
            controlled_risk_allowed: Some(true),
            streaming_prices_available: Some(true),
            market_id: Some(e.epic.as_str().split('.').nth(2).unwrap_or_default().into()),
            currencies: Some(vec![InstrumentCurrency {
                code: e.currency.into(),
                symbol: Some(symbol.into()),
                base_exchange_rate: Some(Decimal::ONE),
                exchange_rate: Some(e.economics.account_rate),
                is_default: Some(true),
            }]),
            margin_factor: Some(e.margin_factor_pct),
            margin_factor_unit: Some("PERCENTAGE".into()),
            slippage_factor: uv("pct", Decimal::new(50, 0)),
            limited_risk_premium: match e.economics.rules.guaranteed_stop.map(|g| g.premium) {
                Some(scalper_model::StopPremium::Percent(p)) => uv("PERCENTAGE", p),
                Some(scalper_model::StopPremium::Points(p)) => uv("POINTS", p),
                None => None,
            },
            opening_hours: hours.map(|times| OpeningHours {
                market_times: Some(times),
            }),
            news_code: Some(format!("{}=", e.base)),
            chart_code: Some(format!("{}{}", e.base, e.quote)),
            country: None,
            value_of_one_pip: Some(e.value_per_point.normalize().to_string()),
            one_pip_means: Some(e.one_pip_means()),
            contract_size: Some(e.contract_size.normalize().to_string()),
            special_info: Some(vec!["DEFAULT KNOCK OUT LEVEL DISTANCE".into()]),
            ..InstrumentDetails::default()
        }),
        dealing_rules: Some(DealingRulesDetails {
            min_step_distance: uv(
                "POINTS",
                e.economics
                    .rules
                    .min_trailing_step
                    .map_or(Decimal::new(1, 1), scalper_model::Points::value),
            ),
            min_deal_size: uv("POINTS", e.min_deal_size),
            min_controlled_risk_stop_distance: uv(
                "POINTS",
                e.economics
                    .rules
                    .guaranteed_stop
                    .map_or(e.min_stop_distance * Decimal::TWO, |g| {
                        g.min_distance.value()
                    }),
            ),
            min_normal_stop_or_limit_distance: uv("POINTS", e.min_stop_distance),
            max_stop_or_limit_distance: uv("POINTS", e.max_stop_distance),
            controlled_risk_spacing: uv("POINTS", Decimal::new(10, 0)),
            market_order_preference: Some("AVAILABLE_DEFAULT_ON".into()),
            trailing_stops_preference: Some("AVAILABLE".into()),
        }),
        snapshot: Some(MarketSnapshot {
            market_status: Some(m.status_at(w.cfg, w.st.sim_now).as_ig().into()),
            net_change: Some(net),
            percentage_change: Some(pct),
            update_time: Some(ig_time::time_of_day(m.last.ts)),
            delay_time: Some(Decimal::ZERO),
            bid: Some(m.last.bid.value()),
            offer: Some(m.last.offer.value()),
            high: Some(m.high.round_dp(e.decimals)),
            low: Some(m.low.round_dp(e.decimals)),
            binary_odds: None,
            decimal_places_factor: Some(e.decimals),
            scaling_factor: Some(e.scaling_factor),
            controlled_risk_extra_spread: Some(Decimal::ONE),
        }),
    })
}

/// `GET /markets/{epic}` v1-v3 (v3 shape) and v4 (v3 plus IG's v4 fields, [`v4`]).
pub(super) async fn market(
    State(inner): State<Shared>,
    h: HeaderMap,
    Path(epic): Path<String>,
) -> Result<Response, ApiError> {
    authenticate(&inner, &h)?;
    let version = require_version(&h, &[1, 2, 3, 4])?;
    let found = inner.with(|w| {
        details(w, &epic).map(|d| {
            let ts = w.st.markets.get(epic.as_str()).map(|m| m.last.ts);
            (d, ts)
        })
    });
    let (d, ts) = found.ok_or_else(|| ApiError::not_found("error.public-api.epic-not-found"))?;
    if version < 4 {
        return Ok(ok_json(&d));
    }
    let mut v = serde_json::to_value(&d).map_err(|_| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "system.error",
        )
    })?;
    v4(&mut v, ts.map_or(0, |t| t.millis().div_euclid(1000)));
    Ok(ok_json(&v))
}

/// IG's v4 additions to the v3 market details (`shared/ig-api.md` §1.7): the snapshot's
/// `updateTimestampUTC` (seconds since 1970), a `priceLadder` (the sandbox has one tier: its
/// top of book) and `currencyLadders` (none: no size tiers), and the instrument's
/// `limitAllowed` and `stopAllowed`.
fn v4(details: &mut serde_json::Value, updated_s: i64) {
    if let Some(snap) = details.get_mut("snapshot").and_then(|s| s.as_object_mut()) {
        let rung = serde_json::json!({"bid": snap.get("bid"), "ask": snap.get("offer")});
        snap.insert("updateTimestampUTC".into(), updated_s.into());
        snap.insert("priceLadder".into(), serde_json::json!([rung]));
        snap.insert("currencyLadders".into(), serde_json::json!([]));
    }
    if let Some(i) = details
        .get_mut("instrument")
        .and_then(|i| i.as_object_mut())
    {
        i.insert("limitAllowed".into(), true.into());
        i.insert("stopAllowed".into(), true.into());
    }
}

/// `GET /markets?epics=a,b` v2 (or `?searchTerm=` v1).
pub(super) async fn markets(
    State(inner): State<Shared>,
    h: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    authenticate(&inner, &h)?;
    let v = require_version(&h, &[1, 2])?;
    if let Some(found) = super::navigation::search(&inner, &q) {
        return Ok(found);
    }
    let list: Vec<String> = q
        .get("epics")
        .map(|s| {
            s.split(',')
                .map(|e| e.trim().to_string())
                .filter(|e| !e.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if list.is_empty() {
        return Err(ApiError::bad_request("validation.null-not-allowed.epics"));
    }
    if list.len() > 50 {
        return Err(ApiError::bad_request("error.public-api.too-many-epics"));
    }
    // v2's `filter=SNAPSHOT_ONLY` leaves out the dealing rules and all but the instrument's
    // identity (v1 has no filter).
    let snapshot_only = match (v, q.get("filter").map(String::as_str)) {
        (_, None | Some("ALL")) | (1, _) => false,
        (_, Some("SNAPSHOT_ONLY")) => true,
        (_, Some(_)) => return Err(ApiError::bad_request("invalid.request.filter")),
    };
    let mut market_details: Vec<MarketDetails> =
        inner.with(|w| list.iter().filter_map(|e| details(w, e)).collect());
    if snapshot_only {
        for d in &mut market_details {
            d.dealing_rules = None;
            d.instrument = d.instrument.take().map(|i| InstrumentDetails {
                epic: i.epic,
                expiry: i.expiry,
                name: i.name,
                instrument_type: i.instrument_type,
                lot_size: i.lot_size,
                margin_factor: i.margin_factor,
                margin_factor_unit: i.margin_factor_unit,
                streaming_prices_available: i.streaming_prices_available,
                ..InstrumentDetails::default()
            });
        }
    }
    Ok(ok_json(&MarketsResponse { market_details }))
}

fn parse_u64(q: &HashMap<String, String>, key: &str, default: u64) -> Result<u64, ApiError> {
    match q.get(key) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| {
            ApiError::bad_request(format!("Unable to convert value={v} to type= Integer int"))
        }),
    }
}

/// `GET /prices/{epic}` v3.
pub(super) async fn prices(
    State(inner): State<Shared>,
    h: HeaderMap,
    Path(epic): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    authenticate(&inner, &h)?;
    require_version(&h, &[3])?;
    let res = q.get("resolution").map_or("MINUTE", String::as_str);
    let period = Resolution::from_ig(res)
        .map(Resolution::millis)
        .ok_or_else(|| {
            ApiError::bad_request(format!("Unable to convert value={res} to type= Resolution"))
        })?;
    let parse = |k: &str| -> Result<Option<Timestamp>, ApiError> {
        q.get(k)
            .map(|v| {
                ig_time::parse_time(v).ok_or_else(|| ApiError::bad_request("error.malformed.date"))
            })
            .transpose()
    };
    let (from, to) = (parse("from")?, parse("to")?);
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            return Err(ApiError::bad_request("error.invalid.daterange"));
        }
    }
    let max = parse_u64(&q, "max", 10)? as usize;
    let page_size = parse_u64(&q, "pageSize", 20)? as usize;
    let page_number = parse_u64(&q, "pageNumber", 1)?.max(1) as usize;
    let total_allowance = inner
        .cfg
        .rate_limits
        .map_or(10_000, |r| r.historical_points_per_week);
    inner.with(|w| {
        let mkt =
            w.st.markets
                .get(&epic)
                .ok_or_else(|| ApiError::bad_request("error.unsupported.epic"))?;
        let seed = w.cfg.seed;
        let selected = match (from, to) {
            (Some(f), t) => backfill::range(
                w.cfg,
                mkt,
                seed,
                period,
                f.millis(),
                t.map(Timestamp::millis),
            ),
            // Only `to`: the `max` bars up to it.
            (None, Some(t)) => {
                // A little over `max` periods: calendar months are up to 31 days.
                let span = i64::try_from(max)
                    .unwrap_or(i64::MAX)
                    .saturating_mul(period)
                    .saturating_add(period.saturating_mul(2));
                let mut bars = backfill::range(
                    w.cfg,
                    mkt,
                    seed,
                    period,
                    t.millis().saturating_sub(span),
                    Some(t.millis()),
                );
                let skip = bars.len().saturating_sub(max);
                bars.drain(..skip);
                bars
            }
            (None, None) => backfill::last(w.cfg, mkt, seed, period, max),
        };
        let total_pages = if page_size == 0 {
            1
        } else {
            selected.len().div_ceil(page_size).max(1)
        };
        let page: Vec<_> = if page_size == 0 {
            selected
        } else {
            selected
                .into_iter()
                .skip((page_number - 1).saturating_mul(page_size))
                .take(page_size)
                .collect()
        };
        let n = page.len() as u32;
        if w.cfg.rate_limits.is_some() && w.st.historical_used.saturating_add(n) > total_allowance {
            return Err(ApiError::forbidden(
                "error.public-api.exceeded-account-historical-data-allowance",
            ));
        }
        w.st.historical_used = w.st.historical_used.saturating_add(n);
        let ba = |p: (Decimal, Decimal)| {
            Some(BidAsk {
                bid: Some(p.0),
                ask: Some(p.1),
                last_traded: None,
            })
        };
        let prices = page
            .iter()
            .map(|b| {
                let ts = Timestamp::from_millis(b.start);
                PricePoint {
                    snapshot_time: Some(ig_time::local_s(ts)),
                    snapshot_time_utc: Some(ig_time::utc_s(ts)),
                    open_price: ba(b.open),
                    close_price: ba(b.close),
                    high_price: ba(b.high),
                    low_price: ba(b.low),
                    last_traded_volume: Some(Decimal::from(b.ticks)),
                }
            })
            .collect::<Vec<_>>();
        let size = prices.len() as u64;
        Ok(ok_json(&PricesResponse {
            prices,
            instrument_type: Some(mkt.entry.instrument_type().into()),
            metadata: Some(PriceMetadata {
                allowance: Some(PriceAllowance {
                    remaining_allowance: Some(i64::from(
                        total_allowance.saturating_sub(w.st.historical_used),
                    )),
                    total_allowance: Some(i64::from(total_allowance)),
                    allowance_expiry: Some(604_800),
                }),
                size: Some(size),
                page_data: Some(PageData {
                    page_size: Some(page_size as u64),
                    page_number: Some(page_number as u64),
                    total_pages: Some(total_pages as u64),
                }),
            }),
            allowance: None,
        }))
    })
}
