//! `/metrics`: the run's latest status snapshot and latency histograms in the OpenMetrics text
//! format (which Prometheus scrapes), through `prometheus-client`'s registry with one
//! collector that reads the snapshot at each scrape. Money becomes `f64` only here, at the
//! edge.

use std::fmt::Error as FmtError;
use std::time::Instant;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::exemplar::Exemplar;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use rust_decimal::prelude::ToPrimitive as _;
use scalper_live::telemetry::{LatencyCounts, LATENCY_BUCKETS_US};
use scalper_live::{RunPhase, StatusSnapshot, TelemetryView};
use scalper_model::Money;

/// The content type of the exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The registry with the run's collector.
pub fn registry(view: TelemetryView) -> Registry {
    let mut r = Registry::with_prefix("scalper");
    r.register_collector(Box::new(RunCollector { view }));
    r
}

/// Renders the registry (OpenMetrics text, `# EOF` last).
pub fn render(registry: &Registry) -> Result<String, FmtError> {
    let mut out = String::with_capacity(8 * 1024);
    prometheus_client::encoding::text::encode(&mut out, registry)?;
    Ok(out)
}

#[derive(Debug)]
struct RunCollector {
    view: TelemetryView,
}

impl Collector for RunCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), FmtError> {
        let s = self.view.status();
        run(&mut enc, &s)?;
        instruments(&mut enc, &s)?;
        money(&mut enc, &s)?;
        exposure(&mut enc, &s)?;
        orders(&mut enc, &s)?;
        session(&mut enc, &s)?;
        stream(&mut enc, &s)?;
        histogram(
            &mut enc,
            "decision_seconds",
            "Time to drive one event (quote, timer, broker report) through the engine and the venue on the event loop",
            &self.view.decision_latency(),
        )?;
        histogram(
            &mut enc,
            "journal_write_seconds",
            "Time of one journal record's SQLite write on the journal writer thread",
            &self.view.journal_write_latency(),
        )?;
        alerts(&mut enc, self.view.alerts().counts())?;
        match self.view.shadow() {
            Some(sh) => shadow(&mut enc, &sh, s.pnl.currency.as_deref().unwrap_or("")),
            None => Ok(()),
        }
    }
}

/// The shadow paper comparison (`run --shadow` only): trades paired, one-sided, and P&L live
/// against paper.
fn shadow(
    enc: &mut DescriptorEncoder,
    sh: &scalper_live::ShadowSummary,
    currency: &str,
) -> Result<(), FmtError> {
    counter(
        enc,
        "shadow_pairs",
        "Live trades compared with their shadow-paper twin (both closed)",
        sh.pairs,
    )?;
    counter(
        enc,
        "shadow_live_only",
        "Live trades the shadow paper engine did not make (extra against paper)",
        sh.live_only,
    )?;
    counter(
        enc,
        "shadow_paper_only",
        "Shadow paper trades live did not make (missed by live)",
        sh.shadow_only,
    )?;
    counter(
        enc,
        "shadow_inputs_dropped",
        "Inputs the shadow could not take because it fell behind (it stops comparing after the first)",
        sh.inputs_dropped,
    )?;
    for (name, help, value) in [
        (
            "shadow_live_pnl",
            "Realised P&L of the live trades compared with the shadow, in the account currency",
            sh.pnl_live,
        ),
        (
            "shadow_paper_pnl",
            "Realised P&L of the shadow paper trades, in the account currency",
            sh.pnl_shadow,
        ),
        (
            "shadow_pnl_difference",
            "Live P&L less shadow paper P&L, in the account currency",
            sh.pnl_difference,
        ),
    ] {
        let mut m = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
        gauge_f64_in(&mut m, &[("currency", currency)], to_f64(value))?;
    }
    for (name, help, value) in [
        (
            "shadow_entry_slippage_points",
            "Mean entry slippage of live against shadow paper, points (+ is worse)",
            sh.entry_slippage_points_mean,
        ),
        (
            "shadow_exit_slippage_points",
            "Mean exit slippage of live against shadow paper, points (+ is worse)",
            sh.exit_slippage_points_mean,
        ),
    ] {
        let mut m = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
        let v = value.and_then(|d| d.to_f64()).unwrap_or(0.0);
        gauge_f64_in(&mut m, &[], v)?;
    }
    Ok(())
}

/// The alert dispatcher's counters (zero without `[alerts]`).
fn alerts(enc: &mut DescriptorEncoder, a: scalper_live::AlertCounts) -> Result<(), FmtError> {
    counter(
        enc,
        "alerts_sent",
        "Alert deliveries a channel accepted",
        a.sent,
    )?;
    counter(
        enc,
        "alerts_failed",
        "Alert deliveries given up after their last attempt",
        a.failed,
    )?;
    counter(
        enc,
        "alerts_dropped",
        "Alerts dropped because the alert queue was full (trading is never slowed by alerts)",
        a.dropped,
    )
}

fn run(enc: &mut DescriptorEncoder, s: &StatusSnapshot) -> Result<(), FmtError> {
    let phases = [
        (RunPhase::Starting, "starting"),
        (RunPhase::Trading, "trading"),
        (RunPhase::WindingDown, "winding_down"),
        (RunPhase::Stopped, "stopped"),
    ];
    let mut m = enc.encode_descriptor(
        "run_phase",
        "1 for the run's current phase",
        None,
        MetricType::Gauge,
    )?;
    for (p, name) in phases {
        gauge_in(&mut m, &[("phase", name)], i64::from(s.phase == p))?;
    }
    gauge(
        enc,
        "halted",
        "1 when new entries are halted (kill switch, control, daily loss limit, broker failure)",
        i64::from(s.halted.is_some()),
    )?;
    gauge(
        enc,
        "open_positions",
        "Positions open or being opened or closed",
        i64::try_from(s.positions.len()).unwrap_or(i64::MAX),
    )?;
    gauge(
        enc,
        "unresolved_outcomes",
        "Trades whose opening or closing request has an unknown outcome",
        i64::from(s.unresolved),
    )?;
    counter(
        enc,
        "unknown_outcomes_resolved",
        "Unknown outcomes resolved",
        s.unknown_outcomes_resolved,
    )?;
    counter(
        enc,
        "trades_closed",
        "Round trips closed in this run",
        s.pnl.trades,
    )?;
    let mut m = enc.encode_descriptor(
        "risk_refusals",
        "Entries refused by risk, by rule",
        None,
        MetricType::Counter,
    )?;
    for (rule, n) in &s.refusals {
        counter_in(&mut m, &[("rule", rule.as_str())], *n)?;
    }
    Ok(())
}

fn instruments(enc: &mut DescriptorEncoder, s: &StatusSnapshot) -> Result<(), FmtError> {
    let mut m = enc.encode_descriptor(
        "quotes",
        "Quotes received, by instrument",
        None,
        MetricType::Counter,
    )?;
    for i in &s.instruments {
        counter_in(&mut m, &[("epic", i.epic.as_str())], i.quotes)?;
    }
    let now = Instant::now();
    let mut m = enc.encode_descriptor(
        "quote_age_seconds",
        "Time since the last quote of the instrument arrived",
        None,
        MetricType::Gauge,
    )?;
    for i in &s.instruments {
        if let Some(at) = i.last_quote_wall {
            let age = now.saturating_duration_since(at).as_secs_f64();
            gauge_f64_in(&mut m, &[("epic", i.epic.as_str())], age)?;
        }
    }
    let mut m = enc.encode_descriptor(
        "spread_points",
        "The instrument's last spread (offer minus bid), in points",
        None,
        MetricType::Gauge,
    )?;
    for i in &s.instruments {
        if let Some(sp) = i.spread_points.and_then(|d| d.to_f64()) {
            gauge_f64_in(&mut m, &[("epic", i.epic.as_str())], sp)?;
        }
    }
    Ok(())
}

fn money(enc: &mut DescriptorEncoder, s: &StatusSnapshot) -> Result<(), FmtError> {
    let currency = s.pnl.currency.as_deref().unwrap_or("");
    for (name, help, value) in [
        (
            "realised_pnl",
            "Realised P&L of the run, in the account currency",
            s.pnl.realised,
        ),
        (
            "unrealised_pnl",
            "Unrealised P&L of the open positions at the last quotes, in the account currency",
            s.pnl.unrealised,
        ),
        (
            "day_realised_pnl",
            "Realised P&L of the session day, in the account currency",
            s.pnl.day_realised,
        ),
        (
            "equity",
            "Starting equity plus realised P&L, in the account currency",
            s.pnl.equity,
        ),
        (
            "max_drawdown",
            "Largest fall of realised P&L from its peak, in the account currency",
            s.pnl.max_drawdown,
        ),
    ] {
        let mut m = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
        gauge_f64_in(&mut m, &[("currency", currency)], to_f64(value))?;
    }
    Ok(())
}

fn exposure(enc: &mut DescriptorEncoder, s: &StatusSnapshot) -> Result<(), FmtError> {
    let e = &s.exposure;
    let currency = s.pnl.currency.as_deref().unwrap_or("");
    let mut m = enc.encode_descriptor(
        "exposure_gross",
        "Notional of the open positions, in the account currency",
        None,
        MetricType::Gauge,
    )?;
    gauge_f64_in(&mut m, &[("currency", currency)], to_f64(e.gross))?;
    let mut m = enc.encode_descriptor(
        "exposure_by_currency",
        "Net exposure to each currency (long positive), in the account currency",
        None,
        MetricType::Gauge,
    )?;
    for (c, v) in &e.by_currency {
        gauge_f64_in(&mut m, &[("currency", c.as_str())], to_f64(*v))?;
    }
    let mut m = enc.encode_descriptor(
        "exposure_by_instrument",
        "Net notional per instrument (long positive), in the account currency",
        None,
        MetricType::Gauge,
    )?;
    for (epic, v) in &e.by_instrument {
        gauge_f64_in(&mut m, &[("epic", epic.as_str())], to_f64(*v))?;
    }
    Ok(())
}

fn orders(enc: &mut DescriptorEncoder, s: &StatusSnapshot) -> Result<(), FmtError> {
    let o = &s.orders;
    let mut m = enc.encode_descriptor(
        "orders_sent",
        "Dealing requests sent, by kind",
        None,
        MetricType::Counter,
    )?;
    for kind in ["open", "close", "amend", "resolve"] {
        let n = o.sent.get(kind).copied().unwrap_or(0);
        counter_in(&mut m, &[("kind", kind)], n)?;
    }
    counter(enc, "orders_filled", "Opening requests filled", o.filled)?;
    let mut m = enc.encode_descriptor(
        "orders_rejected",
        "Dealing requests refused, by reason",
        None,
        MetricType::Counter,
    )?;
    for (reason, n) in &o.rejected {
        counter_in(&mut m, &[("reason", *reason)], *n)?;
    }
    let mut m = enc.encode_descriptor(
        "amendments_rejected",
        "Stop/limit amendments refused, by reason",
        None,
        MetricType::Counter,
    )?;
    for (reason, n) in &o.amend_rejected {
        counter_in(&mut m, &[("reason", *reason)], *n)?;
    }
    counter(
        enc,
        "outcomes_unknown",
        "Dealing requests whose outcome became unknown",
        o.outcome_unknown,
    )?;
    let mut m = enc.encode_descriptor(
        "positions_closed",
        "Positions closed, by cause",
        None,
        MetricType::Counter,
    )?;
    for (cause, n) in &o.closed {
        counter_in(&mut m, &[("cause", cause.as_str())], *n)?;
    }
    Ok(())
}

fn session(enc: &mut DescriptorEncoder, s: &StatusSnapshot) -> Result<(), FmtError> {
    let v = &s.session;
    counter(enc, "logins", "Successful IG logins", v.logins)?;
    counter(enc, "token_refreshes", "IG token refreshes", v.refreshes)?;
    counter(
        enc,
        "token_errors",
        "Token-invalid answers seen",
        v.token_errors,
    )?;
    counter(
        enc,
        "token_errors_recovered",
        "Token-invalid answers after which the session was recovered and the request resent",
        v.token_errors_recovered,
    )?;
    counter(
        enc,
        "allowance_backoffs",
        "Reads retried after an allowance-exceeded answer",
        v.allowance_backoffs,
    )?;
    counter(enc, "ig_requests", "HTTP requests sent to IG", v.requests)?;
    if let Some(age) = v.token_age_s {
        gauge(
            enc,
            "token_age_seconds",
            "Age of the IG session's tokens",
            i64::try_from(age).unwrap_or(i64::MAX),
        )?;
    }
    let a = v.allowance;
    let mut m = enc.encode_descriptor(
        "allowance_headroom",
        "IG requests that could be sent now, by budget (per minute)",
        None,
        MetricType::Gauge,
    )?;
    gauge_in(&mut m, &[("budget", "trading")], i64::from(a.trading))?;
    gauge_in(
        &mut m,
        &[("budget", "non_trading")],
        i64::from(a.non_trading),
    )?;
    let mut m = enc.encode_descriptor(
        "allowance_limit",
        "IG's request budget per minute, by budget",
        None,
        MetricType::Gauge,
    )?;
    gauge_in(&mut m, &[("budget", "trading")], i64::from(a.trading_limit))?;
    gauge_in(
        &mut m,
        &[("budget", "non_trading")],
        i64::from(a.non_trading_limit),
    )?;
    gauge(
        enc,
        "allowance_waiting",
        "IG requests waiting for a budget",
        i64::from(a.waiting),
    )?;
    gauge(
        enc,
        "session_active",
        "1 while the IG session holds tokens believed valid",
        i64::from(v.state == "active"),
    )
}

fn stream(enc: &mut DescriptorEncoder, s: &StatusSnapshot) -> Result<(), FmtError> {
    gauge(
        enc,
        "stream_connected",
        "1 while the price stream is connected",
        i64::from(s.stream.state == "connected"),
    )?;
    counter(
        enc,
        "stream_reconnects",
        "Price stream gaps and reconnections",
        s.stream.reconnects,
    )
}

fn histogram(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    c: &LatencyCounts,
) -> Result<(), FmtError> {
    let mut buckets: Vec<(f64, u64)> = LATENCY_BUCKETS_US
        .iter()
        .map(|us| *us as f64 / 1e6)
        .chain(std::iter::once(f64::INFINITY))
        .zip(c.buckets.iter().copied())
        .collect();
    buckets.truncate(LATENCY_BUCKETS_US.len() + 1);
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Histogram)?;
    m.encode_histogram::<NoLabelSet>(c.sum_ns as f64 / 1e9, c.count, &buckets, None)
}

fn to_f64(m: Money) -> f64 {
    m.value().to_f64().unwrap_or(f64::NAN)
}

fn counter(enc: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> Result<(), FmtError> {
    let c = ConstCounter::new(v);
    let m = enc.encode_descriptor(name, help, None, c.metric_type())?;
    c.encode(m)
}

fn gauge(enc: &mut DescriptorEncoder, name: &str, help: &str, v: i64) -> Result<(), FmtError> {
    let g = ConstGauge::new(v);
    let m = enc.encode_descriptor(name, help, None, g.metric_type())?;
    g.encode(m)
}

type Labels<'a> = [(&'a str, &'a str)];

fn counter_in(
    m: &mut prometheus_client::encoding::MetricEncoder<'_>,
    labels: &Labels<'_>,
    v: u64,
) -> Result<(), FmtError> {
    let labels = labels.to_vec();
    m.encode_family(&labels)?
        .encode_counter::<NoLabelSet, u64, u64>(&v, None::<&Exemplar<NoLabelSet, u64>>)
}

fn gauge_in(
    m: &mut prometheus_client::encoding::MetricEncoder<'_>,
    labels: &Labels<'_>,
    v: i64,
) -> Result<(), FmtError> {
    let labels = labels.to_vec();
    m.encode_family(&labels)?.encode_gauge(&v)
}

fn gauge_f64_in(
    m: &mut prometheus_client::encoding::MetricEncoder<'_>,
    labels: &Labels<'_>,
    v: f64,
) -> Result<(), FmtError> {
    let labels = labels.to_vec();
    m.encode_family(&labels)?.encode_gauge(&v)
}
