//! `/prices` v1 (`/{epic}/{resolution}?startdate=&enddate=`) and v2 (`/{epic}/{resolution}/
//! {numPoints}` and `/{epic}/{resolution}/{startDate}/{endDate}`): the same bars as v3 (the
//! back-filled history, then the simulator's own) in the older shapes, with the allowance at
//! the top.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::NaiveDateTime;
use rust_decimal::Decimal;
use scalper_ig_wire::prices::{BidAsk, PriceAllowance, PricePoint, PricesResponse};
use scalper_ig_wire::time as ig_time;
use scalper_ig_wire::Resolution;
use scalper_model::Timestamp;

use super::{authenticate, ok_json, require_version, Shared};
use crate::backfill;
use crate::error::ApiError;
use crate::market::Bar;

/// v1's date spelling, in queries and answers.
const V1_DATE: &str = "%Y:%m:%d-%H:%M:%S";

/// Which bars a request asks for.
enum Select {
    Last(usize),
    Range(Timestamp, Timestamp),
}

fn resolution(res: &str) -> Result<i64, ApiError> {
    Resolution::from_ig(res)
        .map(Resolution::millis)
        .ok_or_else(|| {
            ApiError::bad_request(format!("Unable to convert value={res} to type= Resolution"))
        })
}

/// Parses a date in one of IG's path/query spellings (`fmt`), 400 `error.malformed.date`
/// otherwise.
fn date(s: &str, fmt: &str) -> Result<Timestamp, ApiError> {
    NaiveDateTime::parse_from_str(s.trim(), fmt)
        .map(|n| Timestamp::from_datetime(n.and_utc()))
        .map_err(|_| ApiError::bad_request("error.malformed.date"))
}

fn range(from: Timestamp, to: Timestamp) -> Result<Select, ApiError> {
    if from > to {
        return Err(ApiError::bad_request("error.invalid.daterange"));
    }
    Ok(Select::Range(from, to))
}

/// Answers with the selected bars, charging them to the historical allowance.
fn answer(
    inner: &Shared,
    epic: &str,
    period: i64,
    sel: &Select,
    v1: bool,
) -> Result<Response, ApiError> {
    let total = inner
        .cfg
        .rate_limits
        .map_or(10_000, |r| r.historical_points_per_week);
    inner.with(|w| {
        let m =
            w.st.markets
                .get(epic)
                .ok_or_else(|| ApiError::bad_request("error.unsupported.epic"))?;
        let seed = w.cfg.seed;
        let picked: Vec<Bar> = match *sel {
            Select::Last(n) => backfill::last(w.cfg, m, seed, period, n),
            Select::Range(f, t) => {
                backfill::range(w.cfg, m, seed, period, f.millis(), Some(t.millis()))
            }
        };
        let n = u32::try_from(picked.len()).unwrap_or(u32::MAX);
        if w.cfg.rate_limits.is_some() && w.st.historical_used.saturating_add(n) > total {
            return Err(ApiError::forbidden(
                "error.public-api.exceeded-account-historical-data-allowance",
            ));
        }
        w.st.historical_used = w.st.historical_used.saturating_add(n);
        let prices = picked.iter().map(|b| point(b, v1)).collect();
        Ok(ok_json(&PricesResponse {
            prices,
            instrument_type: Some(m.entry.instrument_type().into()),
            metadata: None,
            allowance: Some(PriceAllowance {
                remaining_allowance: Some(i64::from(total.saturating_sub(w.st.historical_used))),
                total_allowance: Some(i64::from(total)),
                allowance_expiry: Some(604_800),
            }),
        }))
    })
}

fn point(b: &Bar, v1: bool) -> PricePoint {
    let ts = Timestamp::from_millis(b.start);
    let ba = |p: (Decimal, Decimal)| {
        Some(BidAsk {
            bid: Some(p.0),
            ask: Some(p.1),
            last_traded: None,
        })
    };
    let snapshot = if v1 {
        ts.to_datetime()
            .map(|d| d.format(V1_DATE).to_string())
            .unwrap_or_default()
    } else {
        ig_time::local_s(ts)
    };
    PricePoint {
        snapshot_time: Some(snapshot),
        snapshot_time_utc: None,
        open_price: ba(b.open),
        close_price: ba(b.close),
        high_price: ba(b.high),
        low_price: ba(b.low),
        last_traded_volume: Some(Decimal::from(b.ticks)),
    }
}

/// `GET /prices/{epic}/{resolution}` v1 (`startdate`, `enddate` as `yyyy:MM:dd-HH:mm:ss`;
/// without them the last 10 bars).
pub(super) async fn v1(
    State(inner): State<Shared>,
    h: HeaderMap,
    Path((epic, res)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    authenticate(&inner, &h)?;
    require_version(&h, &[1])?;
    let period = resolution(&res)?;
    let sel = match (q.get("startdate"), q.get("enddate")) {
        (Some(f), Some(t)) => range(date(f, V1_DATE)?, date(t, V1_DATE)?)?,
        (None, None) => Select::Last(10),
        _ => return Err(ApiError::bad_request("error.invalid.daterange")),
    };
    answer(&inner, &epic, period, &sel, true)
}

/// `GET /prices/{epic}/{resolution}/{numPoints}` v2 (v1 has it too).
pub(super) async fn num_points(
    State(inner): State<Shared>,
    h: HeaderMap,
    Path((epic, res, n)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    authenticate(&inner, &h)?;
    let v = require_version(&h, &[1, 2])?;
    let period = resolution(&res)?;
    let n: usize = n.trim().parse().map_err(|_| {
        ApiError::bad_request(format!("Unable to convert value={n} to type= Integer int"))
    })?;
    answer(&inner, &epic, period, &Select::Last(n), v == 1)
}

/// `GET /prices/{epic}/{resolution}/{startDate}/{endDate}` v2 (`yyyy-MM-dd HH:mm:ss`; v1 with
/// `yyyy:MM:dd-HH:mm:ss`).
pub(super) async fn date_range(
    State(inner): State<Shared>,
    h: HeaderMap,
    Path((epic, res, from, to)): Path<(String, String, String, String)>,
) -> Result<Response, ApiError> {
    authenticate(&inner, &h)?;
    let v = require_version(&h, &[1, 2])?;
    let period = resolution(&res)?;
    let fmt = if v == 1 { V1_DATE } else { "%Y-%m-%d %H:%M:%S" };
    let sel = range(date(&from, fmt)?, date(&to, fmt)?)?;
    answer(&inner, &epic, period, &sel, v == 1)
}
