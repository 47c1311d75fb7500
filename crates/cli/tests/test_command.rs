//! `scalper test` through the real binary against an in-process sandbox on 127.0.0.1.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: panics are failures

mod common;

use common::{assert_no_secret, Dir, Run, API_KEY, PASSWORD};
use scalper_sandbox::{Credentials, Sandbox, SandboxConfig, SandboxHandle};
use secrecy::SecretString;

const USER: &str = "sentinel-user";

async fn sandbox() -> SandboxHandle {
    Sandbox::start(SandboxConfig {
        credentials: Credentials {
            username: USER.into(),
            password: SecretString::from(PASSWORD),
            api_key: SecretString::from(API_KEY),
        },
        ..SandboxConfig::for_tests()
    })
    .await
    .unwrap()
}

/// Runs the binary off the async runtime (the sandbox keeps serving meanwhile).
async fn run(d: &std::sync::Arc<Dir>, args: &[&str], env: Vec<(String, String)>) -> Run {
    let d = d.clone();
    let args: Vec<String> = args.iter().map(ToString::to_string).collect();
    tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let e: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        d.run(&a, &e)
    })
    .await
    .unwrap()
}

fn env(url: &str, password: &str) -> Vec<(String, String)> {
    vec![
        ("IG_API_URL".into(), url.into()),
        ("IG_USERNAME".into(), USER.into()),
        ("IG_PASSWORD".into(), password.into()),
        ("IG_API_KEY".into(), API_KEY.into()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_json_reports_session_and_market_and_leaks_no_secret() {
    let sb = sandbox().await;
    let d = std::sync::Arc::new(Dir::new());
    let r = run(
        &d,
        &["-vv", "test", "EUR_USD", "--json"],
        env(&sb.rest_url(), PASSWORD),
    )
    .await;
    assert_eq!(r.code, 0, "{r:?}");
    let j = r.json();
    assert_eq!(j["environment"], "DEMO");
    assert_eq!(j["api_url"], sb.rest_url());
    assert_eq!(j["account_id"], "SANDBOX-CFD");
    assert_eq!(j["session_version"], 2);
    assert_eq!(j["epic"], "CS.D.EURUSD.CFD.IP");
    assert_eq!(j["market_status"], "TRADEABLE");
    assert_eq!(j["logins"], 1);
    assert_eq!(j["refreshes"], 0);
    let bid: f64 = j["bid"].as_str().unwrap().parse().unwrap();
    let offer: f64 = j["offer"].as_str().unwrap().parse().unwrap();
    assert!(bid > 0.0 && offer > bid, "{j}");
    assert!(
        j["min_deal_size"].is_string() && j["min_stop_distance"].is_string(),
        "{j}"
    );

    // Text mode, with a round-trip trade.
    let r = run(
        &d,
        &["-vv", "test", "EUR_USD", "--trade"],
        env(&sb.rest_url(), PASSWORD),
    )
    .await;
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("Environment:       DEMO"), "{r:?}");
    assert!(r.stdout.contains("Trade open         ACCEPTED"), "{r:?}");
    assert!(r.stdout.contains("Trade close        ACCEPTED"), "{r:?}");
    let state = sb.state();
    let opens = state.requests_matching("POST /gateway/deal/positions/otc");
    let closes = state.requests_matching("DELETE /gateway/deal/positions/otc");
    assert_eq!((opens, closes), (1, 1), "{:?}", state.requests);
    assert!(
        state.accounts.iter().all(|a| a.positions.is_empty()),
        "the test position is closed"
    );

    // Even a trace-everything filter must not put the API key or password in any output.
    let mut e = env(&sb.rest_url(), PASSWORD);
    e.push(("RUST_LOG".into(), "trace".into()));
    let r = run(&d, &["test", "EUR_USD"], e).await;
    assert_eq!(r.code, 0, "{r:?}");
    assert_no_secret(&r.all());

    assert_no_secret(&d.logs());
    assert!(
        d.logs().contains("connectivity test"),
        "the log file is written"
    );
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_exits_3_after_exactly_one_login_attempt() {
    let sb = sandbox().await;
    let d = std::sync::Arc::new(Dir::new());
    let wrong = "Wrong-Sentinel-Password-99";
    let r = run(&d, &["-v", "test", "EUR_USD"], env(&sb.rest_url(), wrong)).await;
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("invalid-details"), "{r:?}");
    let state = sb.state();
    assert_eq!(
        state.requests_matching("POST /gateway/deal/session"),
        1,
        "{:?}",
        state.requests
    );
    assert!(!r.all().contains(wrong) && !d.logs().contains(wrong));
    assert_no_secret(&r.all());
    sb.shutdown().await;
}

/// `IG_API_URL` without IG's path (or with a wrong one): `test` and `run` say which URL is
/// wrong and which one to use, exit 2 (configuration) and send no order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_api_url_path_is_named_with_the_right_form() {
    let sb = sandbox().await;
    let d = std::sync::Arc::new(Dir::new());
    let root = format!("http://{}", sb.addr());
    for (url, command) in [
        (format!("{root}/wrong"), &["test", "EUR_USD"][..]),
        (root.clone(), &["test", "EUR_USD", "--json"][..]),
        (format!("{root}/wrong"), &["run", "--duration", "5s"][..]),
    ] {
        let r = run(&d, command, env(&url, PASSWORD)).await;
        assert_eq!(r.code, 2, "{url} {command:?}: {r:?}");
        let msg = format!("IG_API_URL {url} is not IG's REST API");
        assert!(r.stderr.contains(&msg), "{r:?}");
        assert!(
            r.stderr
                .contains(&format!("Did you mean {}?", sb.rest_url())),
            "{r:?}"
        );
        assert!(
            r.stderr.contains("https://demo-api.ig.com/gateway/deal"),
            "{r:?}"
        );
        assert_no_secret(&r.all());
        assert_no_secret(&d.logs());
    }
    assert_eq!(sb.state().requests_matching("/positions/otc"), 0);
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trade_on_live_needs_live_flag_and_nothing_is_sent() {
    let sb = sandbox().await;
    let d = std::sync::Arc::new(Dir::new());
    let mut e = env(&sb.rest_url(), PASSWORD);
    e.push(("IG_DEMO".into(), "false".into()));
    let r = run(&d, &["test", "EUR_USD", "--trade"], e).await;
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("--live"), "{r:?}");
    assert_eq!(sb.state().requests.values().sum::<u64>(), 0);
    sb.shutdown().await;
}

#[test]
fn unknown_instrument_and_missing_credentials_exit_2() {
    let d = Dir::new();
    let r = d.run(&["test", "NOPE"], &[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("unknown instrument") && r.stderr.contains("EUR_USD"),
        "{r:?}"
    );
    let r = d.run(&["test", "EUR_USD"], &[("IG_USERNAME", "x")]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("Missing: IG_PASSWORD, IG_API_KEY"),
        "{r:?}"
    );
}

#[test]
fn unreachable_broker_exits_4() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let d = Dir::new();
    let url = format!("http://127.0.0.1:{port}/gateway/deal");
    let r = d.run(
        &["test", "EUR_USD"],
        &[
            ("IG_API_URL", &url),
            ("IG_USERNAME", USER),
            ("IG_PASSWORD", PASSWORD),
            ("IG_API_KEY", API_KEY),
        ],
    );
    assert_eq!(r.code, 4, "{r:?}");
    assert_no_secret(&r.all());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prices_downloads_bars_and_resumes_without_duplicates() {
    let sb = sandbox().await;
    let d = std::sync::Arc::new(Dir::new());
    let base = [
        "prices",
        "EUR_USD",
        "--resolution",
        "SECOND",
        "--from",
        "2025-12-31T23:56:00Z",
    ];
    let mut first = base.to_vec();
    first.extend(["--to", "2025-12-31T23:58:00Z", "--out", "p.csv"]);
    let r = run(&d, &first, env(&sb.rest_url(), PASSWORD)).await;
    assert_eq!(r.code, 0, "{r:?}");
    let read = || std::fs::read_to_string(d.path().join("p.csv")).unwrap();
    let n1 = read().lines().count() - 1;
    assert!(n1 > 10, "{}", read());

    let mut second = base.to_vec();
    second.extend(["--to", "2026-01-01T00:00:00Z", "--out", "p.csv"]);
    let r = run(&d, &second, env(&sb.rest_url(), PASSWORD)).await;
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("resuming"), "{r:?}");
    let text = read();
    assert_eq!(
        text.lines().filter(|l| l.starts_with("ts_ms")).count(),
        1,
        "one header"
    );
    let ts: Vec<i64> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert!(ts.len() > n1, "the second run appended bars");
    assert!(
        ts.windows(2).all(|w| w[0] < w[1]),
        "strictly increasing, no duplicates"
    );
    assert!(*ts.last().unwrap() < 1_767_225_600_000, "before --to");
    assert_no_secret(&r.all());

    // Market prices (1.08123), the unit `backtest --instrument EUR_USD` expects; IG's scaled
    // levels (10812.3) only when asked for.
    let closes = |text: &str| -> Vec<f64> {
        text.lines()
            .skip(1)
            .map(|l| l.split(',').nth(4).unwrap().parse().unwrap())
            .collect()
    };
    assert!(
        closes(&text).iter().all(|c| (0.5..2.0).contains(c)),
        "{text}"
    );
    let mut scaled = base.to_vec();
    scaled.extend([
        "--to",
        "2025-12-31T23:57:00Z",
        "--out",
        "scaled.csv",
        "--ig-scaled",
    ]);
    let r = run(&d, &scaled, env(&sb.rest_url(), PASSWORD)).await;
    assert_eq!(r.code, 0, "{r:?}");
    let text = std::fs::read_to_string(d.path().join("scaled.csv")).unwrap();
    assert!(
        closes(&text)
            .iter()
            .all(|c| (5_000.0..20_000.0).contains(c)),
        "{text}"
    );
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prices_with_no_bars_says_so_and_writes_nothing() {
    let sb = sandbox().await;
    let d = std::sync::Arc::new(Dir::new());
    // Months before the sandbox's history begins.
    let args = [
        "prices",
        "EUR_USD",
        "--resolution",
        "MINUTE",
        "--from",
        "2025-06-01T00:00:00Z",
        "--to",
        "2025-06-01T01:00:00Z",
        "--out",
        "none.csv",
    ];
    let r = run(&d, &args, env(&sb.rest_url(), PASSWORD)).await;
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("nothing written to none.csv"), "{r:?}");
    assert!(!r.stdout.contains("0 MINUTE bars"), "{r:?}");
    assert!(!d.path().join("none.csv").exists(), "no file for no bars");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markets_search_lists_epics_with_their_product_and_scalper_name() {
    let sb = sandbox().await;
    let d = std::sync::Arc::new(Dir::new());
    let r = run(
        &d,
        &["markets", "search", "EUR/USD", "--json"],
        env(&sb.rest_url(), PASSWORD),
    )
    .await;
    assert_eq!(r.code, 0, "{r:?}");
    let rows = r.json();
    let rows = rows.as_array().unwrap();
    let cfd = rows
        .iter()
        .find(|m| m["epic"] == "CS.D.EURUSD.CFD.IP")
        .expect("the CFD epic");
    assert_eq!(cfd["product"], "CFD");
    assert_eq!(cfd["friendly_name"], "EUR_USD");
    assert!(
        rows.iter()
            .any(|m| m["product"] == "spread bet" && m["friendly_name"] == "EUR_USD"),
        "the spread-bet form is listed too: {rows:?}"
    );
    let mini = rows
        .iter()
        .find(|m| m["epic"] == "CS.D.EURUSD.MINI.IP")
        .expect("the mini CFD epic");
    assert_eq!(
        (&mini["product"], &mini["friendly_name"]),
        (&serde_json::json!("CFD"), &serde_json::Value::Null),
        "EUR_USD resolves to the CFD epic, so the mini is not labelled with it"
    );
    let r = run(
        &d,
        &["markets", "search", "no such market"],
        env(&sb.rest_url(), PASSWORD),
    )
    .await;
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("no market matches"), "{r:?}");
    let r = run(
        &d,
        &["markets", "search", " "],
        env(&sb.rest_url(), PASSWORD),
    )
    .await;
    assert_eq!(r.code, 2, "{r:?}");
    assert_no_secret(&r.all());
}
