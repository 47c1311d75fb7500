//! A demo-like run with the HTTP server on an ephemeral port: `/metrics` parses and every
//! metric family is there with sane, moving values; `/api/status` shows the positions with
//! their stop, limit and unrealised P&L; `/health` and `/health/ready` answer; the page at `/`
//! is self-contained and `/api/events` streams the status.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_cmp)] // metric values compared are small integers

mod common;

use std::str::FromStr as _;

use rust_decimal::Decimal;

const EPICS: [&str; 3] = [
    "CS.D.EURUSD.CFD.IP",
    "CS.D.GBPUSD.CFD.IP",
    "CS.D.USDJPY.CFD.IP",
];

/// Every family `/metrics` must hold, with its type.
const FAMILIES: [(&str, &str); 37] = [
    ("scalper_run_phase", "gauge"),
    ("scalper_halted", "gauge"),
    ("scalper_open_positions", "gauge"),
    ("scalper_unresolved_outcomes", "gauge"),
    ("scalper_unknown_outcomes_resolved", "counter"),
    ("scalper_trades_closed", "counter"),
    ("scalper_risk_refusals", "counter"),
    ("scalper_quotes", "counter"),
    ("scalper_quote_age_seconds", "gauge"),
    ("scalper_spread_points", "gauge"),
    ("scalper_realised_pnl", "gauge"),
    ("scalper_unrealised_pnl", "gauge"),
    ("scalper_day_realised_pnl", "gauge"),
    ("scalper_equity", "gauge"),
    ("scalper_max_drawdown", "gauge"),
    ("scalper_exposure_gross", "gauge"),
    ("scalper_exposure_by_currency", "gauge"),
    ("scalper_exposure_by_instrument", "gauge"),
    ("scalper_orders_sent", "counter"),
    ("scalper_orders_filled", "counter"),
    ("scalper_orders_rejected", "counter"),
    ("scalper_amendments_rejected", "counter"),
    ("scalper_outcomes_unknown", "counter"),
    ("scalper_positions_closed", "counter"),
    ("scalper_logins", "counter"),
    ("scalper_token_refreshes", "counter"),
    ("scalper_token_errors", "counter"),
    ("scalper_token_errors_recovered", "counter"),
    ("scalper_allowance_backoffs", "counter"),
    ("scalper_session_active", "gauge"),
    ("scalper_allowance_headroom", "gauge"),
    ("scalper_allowance_limit", "gauge"),
    ("scalper_allowance_waiting", "gauge"),
    ("scalper_stream_connected", "gauge"),
    ("scalper_stream_reconnects", "counter"),
    ("scalper_decision_seconds", "histogram"),
    ("scalper_journal_write_seconds", "histogram"),
];

fn dec(v: &serde_json::Value) -> Decimal {
    Decimal::from_str(
        v.as_str()
            .unwrap_or_else(|| panic!("a decimal string: {v}")),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_status_and_health_of_a_trading_run() {
    let demo = common::start_demo(42, None).await;

    // Trading, a round trip done and a position open (with its stop and limit).
    let status = demo
        .wait_status("a closed trade and an open position", 90, |s| {
            s["phase"] == "trading"
                && s["pnl"]["trades"].as_u64().unwrap_or(0) >= 1
                && s["positions"]
                    .as_array()
                    .is_some_and(|p| p.iter().any(|p| !p["unrealised_pnl"].is_null()))
        })
        .await;

    // /api/status: positions with stop, limit and unrealised P&L that add up.
    let positions = status["positions"].as_array().unwrap();
    let mut total = Decimal::ZERO;
    for p in positions {
        assert!(EPICS.contains(&p["epic"].as_str().unwrap()), "{p}");
        assert!(
            ["BUY", "SELL"].contains(&p["direction"].as_str().unwrap()),
            "{p}"
        );
        if p["state"] == "open" {
            let entry = dec(&p["entry_level"]);
            let stop = dec(&p["stop_level"]);
            let limit = dec(&p["limit_level"]);
            // The stop is on the losing side of the entry, the limit on the winning side.
            if p["direction"] == "BUY" {
                assert!(stop < entry && entry < limit, "{p}");
            } else {
                assert!(limit < entry && entry < stop, "{p}");
            }
            assert!(p["deal_id"].is_string(), "{p}");
        }
        if !p["unrealised_pnl"].is_null() {
            total += dec(&p["unrealised_pnl"]);
        }
    }
    assert_eq!(dec(&status["pnl"]["unrealised"]), total, "{status:#}");
    let realised = dec(&status["pnl"]["realised"]);
    let recent: Decimal = status["recent_trades"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| dec(&t["pnl"]))
        .sum();
    assert_eq!(
        realised, recent,
        "every closed trade is in recent_trades so far"
    );
    assert_eq!(status["pnl"]["currency"], "GBP", "{status:#}");
    assert_eq!(
        dec(&status["pnl"]["day_total"]),
        dec(&status["pnl"]["day_realised"]) + dec(&status["pnl"]["unrealised"]),
        "{status:#}"
    );
    // Exposure: the open positions' notional, net per instrument (one position each at most)
    // and per currency.
    let exposure = &status["exposure"];
    let gross = dec(&exposure["gross"]);
    assert!(gross > Decimal::ZERO, "{exposure}");
    let by_instrument = exposure["by_instrument"].as_object().unwrap();
    assert!(
        by_instrument.keys().all(|k| EPICS.contains(&k.as_str())),
        "{exposure}"
    );
    let abs: Decimal = by_instrument.values().map(|v| dec(v).abs()).sum();
    assert_eq!(abs, gross, "{exposure}");
    assert!(
        exposure["by_currency"]["USD"].is_string(),
        "every FX pair here has USD: {exposure}"
    );
    // Today's equity curve: in time order, its last point today's P&L so far.
    let (code, body) = demo.get("/api/equity").await;
    assert_eq!(code, 200, "{body}");
    let curve: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(curve["currency"], "GBP");
    assert!(curve["day"].is_string(), "{curve}");
    let points = curve["points"].as_array().unwrap();
    assert!(points.len() >= 2, "{curve}");
    let times: Vec<u64> = points.iter().map(|p| p[0].as_u64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
    for p in points {
        dec(&p[1]);
    }
    assert_eq!(status["session"]["state"], "active");
    assert_eq!(status["stream"]["state"], "connected");
    assert!(status["halted"].is_null());
    assert_eq!(status["ready_reasons"], serde_json::json!([]));
    for (i, epic) in status["instruments"].as_array().unwrap().iter().zip(EPICS) {
        assert_eq!(i["epic"], epic);
        assert!(i["quotes"].as_u64().unwrap() > 0, "{i}");
        assert!(dec(&i["spread_points"]) > Decimal::ZERO, "{i}");
        assert!(i["quote_age_ms"].is_u64(), "{i}");
    }

    // /metrics: every family, sane values.
    let m1 = demo.metrics().await;
    for (name, ty) in FAMILIES {
        assert_eq!(
            m1.types.get(name).map(String::as_str),
            Some(ty),
            "family {name}"
        );
    }
    for epic in EPICS {
        let l = format!("epic=\"{epic}\"");
        assert!(m1.value("scalper_quotes_total", &l) > 0.0, "{epic}");
        let age = m1.value("scalper_quote_age_seconds", &l);
        assert!(age.is_finite() && age >= 0.0, "{epic}: {age}");
        assert!(m1.value("scalper_spread_points", &l) > 0.0, "{epic}");
    }
    assert_eq!(m1.value("scalper_run_phase", "phase=\"trading\""), 1.0);
    assert_eq!(m1.value("scalper_run_phase", "phase=\"starting\""), 0.0);
    assert_eq!(m1.value("scalper_halted", ""), 0.0);
    assert_eq!(m1.value("scalper_stream_connected", ""), 1.0);
    assert_eq!(m1.value("scalper_session_active", ""), 1.0);
    assert!(m1.value("scalper_logins_total", "") >= 1.0);
    for budget in ["trading", "non_trading"] {
        let l = format!("budget=\"{budget}\"");
        let (room, limit) = (
            m1.value("scalper_allowance_headroom", &l),
            m1.value("scalper_allowance_limit", &l),
        );
        assert!(limit > 0.0 && room <= limit, "{budget}: {room} of {limit}");
    }
    assert!(m1.value("scalper_orders_sent_total", "kind=\"open\"") >= 2.0);
    assert!(m1.value("scalper_orders_filled_total", "") >= 2.0);
    assert!(m1.value("scalper_trades_closed_total", "") >= 1.0);
    assert!(m1.sum("scalper_positions_closed_total") >= 1.0);
    assert!(m1.value("scalper_equity", "currency=\"GBP\"") > 0.0);
    assert!(m1.value("scalper_max_drawdown", "currency=\"GBP\"") >= 0.0);
    assert!(m1.value("scalper_exposure_gross", "currency=\"GBP\"") >= 0.0);
    for h in ["scalper_decision_seconds", "scalper_journal_write_seconds"] {
        let count = m1.value(&format!("{h}_count"), "");
        assert!(count > 0.0, "{h} observed nothing");
        assert_eq!(
            m1.value(&format!("{h}_bucket"), "le=\"+Inf\""),
            count,
            "{h}"
        );
        let sum = m1.value(&format!("{h}_sum"), "");
        assert!(sum > 0.0 && sum.is_finite(), "{h}: {sum}");
    }
    // Counters move: more quotes and more decisions later.
    let q1 = m1.sum("scalper_quotes_total");
    let d1 = m1.value("scalper_decision_seconds_count", "");
    let m2 = demo
        .wait_metrics("more quotes", 30, |m| m.sum("scalper_quotes_total") > q1)
        .await;
    assert!(m2.value("scalper_decision_seconds_count", "") > d1);

    // Health: live and ready while trading.
    let (code, body) = demo.get("/health").await;
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"status\":\"ok\""), "{body}");
    let (code, body) = demo.get("/health/ready").await;
    assert_eq!(code, 200, "{body}");
    // The live page: served from the binary, nothing fetched from elsewhere, fed by SSE.
    let (code, page) = demo.get("/").await;
    assert_eq!(code, 200);
    assert!(page.contains("new EventSource(\"api/events\")"), "{page}");
    // The SVG namespace is a name, not a resource; nothing else may point outside.
    let outside = page.replace("\"http://www.w3.org/2000/svg\"", "");
    assert!(
        !outside.contains("http://") && !outside.contains("https://") && !outside.contains("//cdn"),
        "no external resource"
    );
    let mut events = demo
        .http
        .get(format!("{}/api/events", demo.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        events.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let mut text = String::new();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), events.chunk())
            .await
            .expect("a status event every second at least")
            .unwrap()
            .expect("the stream stays open");
        text.push_str(&String::from_utf8_lossy(&chunk));
        while let Some((event, rest)) = text.split_once("\n\n") {
            if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) {
                let s: serde_json::Value = serde_json::from_str(data).unwrap();
                seen.push(s["stream"]["quotes"].as_u64().unwrap());
            }
            text = rest.to_string();
        }
    }
    assert!(seen[1] >= seen[0], "{seen:?}");
    drop(events);

    // No control routes without a token.
    let (code, _) = demo.post("/api/halt", Some("Bearer anything")).await;
    assert_eq!(code, 404, "no control endpoint exists without a token");

    let (report, _dir) = demo.stop().await;
    assert!(report.trades >= 1, "{report:?}");
}

#[tokio::test]
async fn a_non_loopback_address_is_refused_unless_allowed() {
    let (_t, view) = scalper_live::telemetry();
    let cfg = |addr: &str, allow_remote| scalper_observe::HttpConfig {
        addr: addr.parse().unwrap(),
        allow_remote,
        control_token: None,
    };
    let err = scalper_observe::Server::start(cfg("0.0.0.0:0", false), view.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(err, scalper_observe::ObserveError::NonLoopback { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("--http-allow-remote"), "{err}");
    let ok = scalper_observe::Server::start(cfg("0.0.0.0:0", true), view.clone())
        .await
        .unwrap();
    ok.shutdown().await;
    let ok = scalper_observe::Server::start(cfg("[::1]:0", false), view.clone()).await;
    // IPv6 loopback is loopback (where the machine has it).
    if let Ok(s) = ok {
        s.shutdown().await;
    }
    // An empty control token is refused rather than leaving the endpoints open.
    let err = scalper_observe::Server::start(
        scalper_observe::HttpConfig {
            control_token: Some(secrecy::SecretString::from("")),
            ..cfg("127.0.0.1:0", false)
        },
        view,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, scalper_observe::ObserveError::EmptyToken),
        "{err}"
    );
}
