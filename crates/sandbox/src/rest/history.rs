//! Account history from the sandbox's own deals and ledger: `/history/activity` v1
//! (`/{lastPeriod}`, `/{fromDate}/{toDate}`), v2 (`from`, `to`, `maxSpanSeconds`, `pageSize`,
//! `pageNumber`) and v3 (`from`, `to`, `detailed`, `dealId`, FIQL `filter`, `pageSize`, `next`
//! paging); `/history/transactions` v1 (`/{type}/{lastPeriod}`) and v2.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::NaiveDate;
use scalper_ig_wire::history::{
    Activity, ActivityMetadata, ActivityPaging, ActivityResponse, ActivityV1, Transaction,
    TransactionsMetadata, TransactionsResponse,
};
use scalper_ig_wire::prices::PageData;
use scalper_ig_wire::time as ig_time;
use scalper_model::Timestamp;
use serde_json::{json, Value};

use super::{authenticate, ok_json, require_version, Authed, Shared};
use crate::error::ApiError;

type Span = (Option<i64>, Option<i64>);

fn activities(inner: &Shared, who: &Authed) -> Vec<Activity> {
    let st = inner.lock();
    st.accounts
        .get(&who.account)
        .map(|a| a.activities.clone())
        .unwrap_or_default()
}

fn transactions(inner: &Shared, who: &Authed) -> Vec<Transaction> {
    let st = inner.lock();
    st.accounts
        .get(&who.account)
        .map(|a| a.transactions.clone())
        .unwrap_or_default()
}

fn now(inner: &Shared) -> i64 {
    inner.lock().sim_now.millis()
}

fn stamp(date: Option<&String>) -> Option<i64> {
    date.and_then(|d| ig_time::parse_time(d))
        .map(Timestamp::millis)
}

fn in_span(date: Option<&String>, (f, t): Span) -> bool {
    let Some(ts) = stamp(date) else {
        return true;
    };
    f.is_none_or(|f| ts >= f) && t.is_none_or(|t| ts <= t)
}

fn int(q: &HashMap<String, String>, key: &str) -> Result<Option<i64>, ApiError> {
    q.get(key)
        .map(|v| {
            v.trim().parse().map_err(|_| {
                ApiError::bad_request(format!("Unable to convert value={v} to type= Integer int"))
            })
        })
        .transpose()
}

/// `from`/`to` (IG's `yyyy-MM-ddTHH:mm:ss`), else the last `maxSpanSeconds` when given.
fn span(inner: &Shared, q: &HashMap<String, String>) -> Result<Span, ApiError> {
    let p = |k: &str| {
        q.get(k)
            .map(|v| {
                ig_time::parse_time(v)
                    .map(Timestamp::millis)
                    .ok_or_else(|| ApiError::bad_request("error.malformed.date"))
            })
            .transpose()
    };
    let (f, t) = (p("from")?, p("to")?);
    if let (Some(a), Some(b)) = (f, t) {
        if a > b {
            return Err(ApiError::bad_request("error.invalid.daterange"));
        }
    }
    if f.is_none() && t.is_none() {
        if let Some(s) = int(q, "maxSpanSeconds")? {
            return Ok((
                Some(now(inner).saturating_sub(s.max(0).saturating_mul(1000))),
                None,
            ));
        }
    }
    Ok((f, t))
}

/// One page of `list` (newest first); `size` 0 disables paging. Returns the page data.
fn page<T>(list: &mut Vec<T>, size: usize, number: usize) -> PageData {
    let total = if size == 0 {
        1
    } else {
        list.len().div_ceil(size).max(1)
    };
    if size > 0 {
        let start = (number - 1).saturating_mul(size).min(list.len());
        list.drain(..start);
        list.truncate(size);
    }
    PageData {
        page_size: Some(size as u64),
        page_number: Some(number as u64),
        total_pages: Some(total as u64),
    }
}

/// An activity in the v1/v2 display shape.
fn v1_line(a: &Activity, currency: &str) -> ActivityV1 {
    let ts = stamp(a.date.as_ref()).and_then(|t| Timestamp::from_millis(t).to_datetime());
    let d = a.details.as_ref();
    let num = |v: Option<rust_decimal::Decimal>| Some(v.map_or("-".into(), |x| x.to_string()));
    ActivityV1 {
        epic: a.epic.clone(),
        deal_id: a.deal_id.clone(),
        activity_history_id: a.deal_id.clone(),
        date: ts.map(|t| t.format("%d/%m/%y").to_string()),
        time: ts.map(|t| t.format("%H:%M").to_string()),
        activity: Some(
            match a.activity_type.as_deref() {
                Some("WORKING_ORDER") => "Order",
                Some("EDIT_STOP_AND_LIMIT") => "Amend",
                Some("SYSTEM") => "System",
                _ => "Deal",
            }
            .into(),
        ),
        market_name: d.and_then(|d| d.market_name.clone()),
        period: a.period.clone(),
        result: a.description.clone(),
        channel: Some("Public API".into()),
        currency: Some(crate::catalog::currency_symbol(currency).into()),
        size: d.and_then(|d| {
            let s = d.size?;
            Some(if d.direction.as_deref() == Some("SELL") {
                format!("-{s}")
            } else {
                format!("+{s}")
            })
        }),
        level: num(d.and_then(|d| d.level)),
        stop: num(d.and_then(|d| d.stop_level)),
        stop_type: Some("-".into()),
        limit: num(d.and_then(|d| d.limit_level)),
        action_status: Some(
            match a.status.as_deref() {
                Some("ACCEPTED") => "ACCEPT",
                Some("REJECTED") => "REJECT",
                _ => "UNKNOWN",
            }
            .into(),
        ),
    }
}

fn v1_answer(inner: &Shared, who: &Authed, span: Span) -> Response {
    let mut list = activities(inner, who);
    list.retain(|a| in_span(a.date.as_ref(), span));
    list.reverse();
    let lines: Vec<ActivityV1> = list
        .iter()
        .map(|a| v1_line(a, &inner.cfg.currency))
        .collect();
    ok_json(&json!({ "activities": lines }))
}

/// `GET /history/activity/{lastPeriod}` v1 (milliseconds).
pub(super) async fn activity_last(
    State(inner): State<Shared>,
    h: HeaderMap,
    Path(period): Path<String>,
) -> Result<Response, ApiError> {
    let who = authenticate(&inner, &h)?;
    require_version(&h, &[1])?;
    let ms: i64 = period.trim().parse().map_err(|_| {
        ApiError::bad_request(format!(
            "Unable to convert value={period} to type= Long long"
        ))
    })?;
    let from = now(&inner).saturating_sub(ms.max(0));
    Ok(v1_answer(&inner, &who, (Some(from), None)))
}

/// `GET /history/activity/{fromDate}/{toDate}` v1 (`dd-MM-yyyy`, the end day included).
pub(super) async fn activity_dates(
    State(inner): State<Shared>,
    h: HeaderMap,
    Path((from, to)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let who = authenticate(&inner, &h)?;
    require_version(&h, &[1])?;
    let day = |s: &str| {
        NaiveDate::parse_from_str(s.trim(), "%d-%m-%Y")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| d.and_utc().timestamp_millis())
            .ok_or_else(|| ApiError::bad_request("error.malformed.date"))
    };
    let (f, t) = (day(&from)?, day(&to)? + 86_400_000 - 1);
    if f > t {
        return Err(ApiError::bad_request("error.invalid.daterange"));
    }
    Ok(v1_answer(&inner, &who, (Some(f), Some(t))))
}

/// `GET /history/activity` v2 and v3.
pub(super) async fn activity(
    State(inner): State<Shared>,
    h: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let who = authenticate(&inner, &h)?;
    let v = require_version(&h, &[2, 3])?;
    let span = span(&inner, &q)?;
    let mut list = activities(&inner, &who);
    list.retain(|a| in_span(a.date.as_ref(), span));
    list.reverse();
    if v == 2 {
        let size = usize::try_from(int(&q, "pageSize")?.unwrap_or(20).max(0)).unwrap_or(0);
        let number = usize::try_from(int(&q, "pageNumber")?.unwrap_or(1).max(1)).unwrap_or(1);
        let page_data = page(&mut list, size, number);
        let lines: Vec<Value> = list
            .iter()
            .map(|a| {
                let mut l =
                    serde_json::to_value(v1_line(a, &inner.cfg.currency)).unwrap_or_default();
                if let Some(o) = l.as_object_mut() {
                    o.insert("dateUtc".into(), json!(a.date));
                }
                l
            })
            .collect();
        let n = lines.len();
        return Ok(ok_json(&json!({
            "activities": lines,
            "metadata": { "pageData": page_data, "size": n },
        })));
    }
    v3(&q, list, span)
}

fn v3(
    q: &HashMap<String, String>,
    mut list: Vec<Activity>,
    span: Span,
) -> Result<Response, ApiError> {
    let page_size: usize = match q.get("pageSize") {
        None => 50,
        Some(v) => match v.trim().parse() {
            Ok(size) if (10..=500).contains(&size) => size,
            _ => return Err(ApiError::bad_request("error.request.invalid.page-size")),
        },
    };
    if let Some(d) = q.get("dealId") {
        list.retain(|a| a.deal_id.as_ref() == Some(d));
    }
    if let Some(f) = q.get("filter") {
        let f = Fiql::parse(f).ok_or_else(|| ApiError::bad_request("invalid.request.filter"))?;
        list.retain(|a| f.matches(a));
    }
    if q.get("detailed")
        .is_none_or(|d| !d.eq_ignore_ascii_case("true"))
    {
        for a in &mut list {
            a.details = None;
        }
    }
    let next = cut_page(&mut list, page_size).map(|to| next_link(q, to, page_size, span));
    let size = list.len() as u64;
    Ok(ok_json(&ActivityResponse {
        activities: list,
        metadata: Some(ActivityMetadata {
            paging: Some(ActivityPaging {
                size: Some(size),
                next,
            }),
        }),
    }))
}

/// Cuts `list` (newest first) to one page and returns the `to` (inclusive, in ms) of the next
/// page, if any. `to` has one-second precision, so a page never ends inside a second that
/// goes on beyond it: the page stops before that second, or, when the whole page falls in
/// one second, takes all of that second (more than `page_size`) so that none is lost.
fn cut_page(list: &mut Vec<Activity>, page_size: usize) -> Option<i64> {
    if list.len() <= page_size {
        return None;
    }
    let second = |a: &Activity| stamp(a.date.as_ref()).unwrap_or(i64::MIN);
    let boundary = second(&list[page_size]);
    let newer = list[..page_size]
        .iter()
        .take_while(|a| second(a) > boundary)
        .count();
    if newer > 0 {
        list.truncate(newer);
        return Some(boundary);
    }
    let same = list.iter().take_while(|a| second(a) == boundary).count();
    let older = list.len() > same;
    list.truncate(same);
    older.then_some(boundary - 1000)
}

/// The `next` link of a v3 page: the same query with `to` moved back.
fn next_link(q: &HashMap<String, String>, to: i64, page_size: usize, span: Span) -> String {
    let to = ig_time::utc_s(Timestamp::from_millis(to));
    let mut n = format!("/history/activity?version=3&to={to}&pageSize={page_size}");
    if let Some(f) = span.0 {
        n.push_str("&from=");
        n.push_str(&ig_time::utc_s(Timestamp::from_millis(f)));
    }
    for key in ["detailed", "dealId", "filter"] {
        if let Some(v) = q.get(key) {
            let _ = write!(n, "&{key}={}", query_escape(v));
        }
    }
    n
}

/// Percent-encodes a query value (everything but RFC 3986's unreserved characters).
fn query_escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A FIQL filter over activity fields (`epic`, `dealId`, `type`, `status`, `channel`,
/// `dealReference`): `==`/`!=` terms joined by `;` (and) and `,` (or; `;` binds tighter).
struct Fiql(Vec<Vec<(String, bool, String)>>);

impl Fiql {
    fn parse(s: &str) -> Option<Self> {
        let mut any = Vec::new();
        for alt in s.split(',') {
            let mut all = Vec::new();
            for term in alt.split(';') {
                let (field, eq, value) = if let Some((f, v)) = term.split_once("!=") {
                    (f, false, v)
                } else {
                    let (f, v) = term.split_once("==")?;
                    (f, true, v)
                };
                let field = field.trim();
                if !matches!(
                    field,
                    "epic" | "dealId" | "type" | "status" | "channel" | "dealReference"
                ) {
                    return None;
                }
                all.push((field.to_string(), eq, value.trim().to_string()));
            }
            any.push(all);
        }
        Some(Self(any))
    }

    fn matches(&self, a: &Activity) -> bool {
        self.0.iter().any(|all| {
            all.iter().all(|(field, eq, value)| {
                let got = match field.as_str() {
                    "epic" => a.epic.as_deref(),
                    "dealId" => a.deal_id.as_deref(),
                    "type" => a.activity_type.as_deref(),
                    "status" => a.status.as_deref(),
                    "channel" => a.channel.as_deref(),
                    _ => a.details.as_ref().and_then(|d| d.deal_reference.as_deref()),
                };
                (got == Some(value.as_str())) == *eq
            })
        })
    }
}

fn of_type(t: &Transaction, kind: &str) -> Result<bool, ApiError> {
    let tt = t.transaction_type.as_deref().unwrap_or("");
    Ok(match kind.to_ascii_uppercase().as_str() {
        "ALL" => true,
        "ALL_DEAL" => tt == "DEAL",
        "DEPOSIT" => tt == "DEPO",
        "WITHDRAWAL" => tt == "WITH",
        _ => return Err(ApiError::bad_request("invalid.request.type")),
    })
}

/// `GET /history/transactions/{type}/{lastPeriod}` v1 (`ALL`, `ALL_DEAL`, `DEPOSIT`,
/// `WITHDRAWAL`; milliseconds).
pub(super) async fn transactions_last(
    State(inner): State<Shared>,
    h: HeaderMap,
    Path((kind, period)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let who = authenticate(&inner, &h)?;
    require_version(&h, &[1])?;
    let ms: i64 = period.trim().parse().map_err(|_| {
        ApiError::bad_request(format!(
            "Unable to convert value={period} to type= Long long"
        ))
    })?;
    let from = now(&inner).saturating_sub(ms.max(0));
    let mut list = transactions(&inner, &who);
    let mut keep = Vec::with_capacity(list.len());
    for t in list.drain(..) {
        if of_type(&t, &kind)? && in_span(t.date_utc.as_ref(), (Some(from), None)) {
            keep.push(Transaction {
                date_utc: None,
                open_date_utc: None,
                ..t
            });
        }
    }
    keep.reverse();
    Ok(ok_json(&json!({ "transactions": keep })))
}

/// `GET /history/transactions` v2 (`type`, `from`, `to`, `maxSpanSeconds`, `pageSize`,
/// `pageNumber`).
pub(super) async fn transactions_v2(
    State(inner): State<Shared>,
    h: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let who = authenticate(&inner, &h)?;
    require_version(&h, &[2])?;
    let span = span(&inner, &q)?;
    let kind = q.get("type").map_or("ALL", String::as_str);
    let size = usize::try_from(int(&q, "pageSize")?.unwrap_or(20).max(0)).unwrap_or(0);
    let number = usize::try_from(int(&q, "pageNumber")?.unwrap_or(1).max(1)).unwrap_or(1);
    let mut list = Vec::new();
    for t in transactions(&inner, &who) {
        if of_type(&t, kind)? && in_span(t.date_utc.as_ref(), span) {
            list.push(t);
        }
    }
    list.reverse();
    let page_data = page(&mut list, size, number);
    let size = list.len() as u64;
    Ok(ok_json(&TransactionsResponse {
        transactions: list,
        metadata: Some(TransactionsMetadata {
            size: Some(size),
            page_data: Some(page_data),
        }),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fiql_and_or() {
        let a = Activity {
            epic: Some("CS.D.EURUSD.CFD.IP".into()),
            activity_type: Some("POSITION".into()),
            ..Activity::default()
        };
        let f = |s: &str| Fiql::parse(s).unwrap().matches(&a);
        assert!(f("epic==CS.D.EURUSD.CFD.IP"));
        assert!(!f("epic!=CS.D.EURUSD.CFD.IP"));
        assert!(f("type==POSITION;epic==CS.D.EURUSD.CFD.IP"));
        assert!(!f("type==WORKING_ORDER;epic==CS.D.EURUSD.CFD.IP"));
        assert!(f("type==WORKING_ORDER,epic==CS.D.EURUSD.CFD.IP"));
        assert!(Fiql::parse("nope==1").is_none());
        assert!(Fiql::parse("epic").is_none());
    }

    #[test]
    fn paging_is_bounded() {
        let mut v: Vec<u32> = (0..25).collect();
        let p = page(&mut v, 10, 3);
        assert_eq!(v, (20..25).collect::<Vec<_>>());
        assert_eq!(p.total_pages, Some(3));
        let mut v: Vec<u32> = (0..5).collect();
        page(&mut v, 10, usize::MAX);
        assert!(v.is_empty());
    }
}
