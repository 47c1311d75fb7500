//! `[alerts]` end to end with the real binary: `scalper alerts test` against local fake
//! webhook, Slack and Telegram endpoints (success, a failing channel, none configured),
//! `config check` showing where each alert setting came from without printing a secret, and a
//! real `scalper demo` whose webhook receives the start, a control-API halt and the stop.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Dir;

const TG_TOKEN: &str = "987654:FAKEtokenFAKEtokenFAKEtoken";

/// A request the fake received: (path, body).
type Hits = Arc<Mutex<Vec<(String, String)>>>;

/// A tiny HTTP/1.1 server on 127.0.0.1:0: paths starting with `/gone` answer 404, others 200.
/// Each connection serves one request (`Connection: close`).
fn fake_http() -> (String, Hits) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let hits: Hits = Arc::default();
    let shared = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let hits = shared.clone();
            std::thread::spawn(move || serve(stream, &hits));
        }
    });
    (addr, hits)
}

fn serve(stream: TcpStream, hits: &Hits) {
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 {
            return;
        }
        if h == "\r\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let (status, text) = if path.starts_with("/gone") {
        ("404 Not Found", "no such hook")
    } else {
        ("200 OK", "{\"ok\":true}")
    };
    hits.lock()
        .unwrap()
        .push((path, String::from_utf8_lossy(&body).into_owned()));
    let mut stream = reader.into_inner();
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
}

fn events(hits: &Hits) -> Vec<String> {
    hits.lock()
        .unwrap()
        .iter()
        .filter_map(|(_, b)| serde_json::from_str::<serde_json::Value>(b).ok())
        .filter_map(|j| j["event"].as_str().map(str::to_string))
        .collect()
}

fn wait_for(what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn alerts_test_reports_each_channel_and_fails_on_a_failing_one() {
    let (addr, hits) = fake_http();
    let d = Dir::new();
    d.write(
        "scalper.toml",
        &format!(
            "[alerts]\nname = \"cli-test\"\n\
             [alerts.webhook]\nurl = \"http://{addr}/hook\"\n\
             [alerts.telegram]\nchat_id = \"-100200\"\nbase_url = \"http://{addr}\"\n"
        ),
    );
    d.write(".env", &format!("SCALPER_ALERTS_SLACK_URL=http://{addr}/gone/T0/B0/x\nSCALPER_ALERTS_TELEGRAM_TOKEN={TG_TOKEN}\n"));
    // Slack is configured by its section; its URL comes from the env file.
    let toml = std::fs::read_to_string(d.path().join("scalper.toml")).unwrap();
    d.write("scalper.toml", &format!("{toml}[alerts.slack]\n"));
    let r = d.run(&["alerts", "test"], &[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("webhook   ok"), "{r:?}");
    assert!(r.stdout.contains("telegram  ok"), "{r:?}");
    assert!(r.stdout.contains("slack     FAILED: HTTP 404"), "{r:?}");
    assert!(
        r.stdout.contains("SCALPER_ALERTS_SLACK_URL"),
        "the fix is named: {r:?}"
    );
    assert!(r.stdout.contains("1 of 3 channel(s) failed"), "{r:?}");
    assert!(!r.all().contains("FAKEtoken"), "no token printed: {r:?}");
    let hits = hits.lock().unwrap().clone();
    assert_eq!(hits.len(), 3, "one message per channel: {hits:?}");
    let tg = hits
        .iter()
        .find(|(p, _)| p.starts_with("/bot"))
        .expect("telegram was called");
    assert_eq!(tg.0, format!("/bot{TG_TOKEN}/sendMessage"));
    let body: serde_json::Value = serde_json::from_str(&tg.1).unwrap();
    assert_eq!(body["chat_id"], "-100200");
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .contains("[cli-test] test alert"),
        "{body}"
    );
    let hook: serde_json::Value =
        serde_json::from_str(&hits.iter().find(|(p, _)| p == "/hook").unwrap().1).unwrap();
    assert_eq!(hook["event"], "test");

    // JSON, all channels reachable: exit 0.
    d.write(
        "scalper.toml",
        &format!("[alerts]\n[alerts.webhook]\nurl = \"http://{addr}/hook\"\n"),
    );
    let r = d.run(&["alerts", "test", "--json"], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    let j = r.json();
    assert_eq!(j["ok"], true);
    assert_eq!(j["channels"][0]["channel"], "webhook");
    assert_eq!(j["channels"][0]["ok"], true);
}

#[test]
fn alerts_test_without_channels_says_how_to_add_one() {
    let d = Dir::new();
    let r = d.run(&["alerts", "test"], &[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("no alert channel is configured"), "{r:?}");
    assert!(r.stderr.contains("[alerts.webhook]"), "{r:?}");
    // A secret in the file is refused, naming the variable to use instead.
    d.write(
        "scalper.toml",
        "[alerts.telegram]\nchat_id = \"1\"\ntoken = \"123:abc\"\n",
    );
    let r = d.run(&["alerts", "test"], &[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("`alerts.telegram.token` holds a secret"),
        "{r:?}"
    );
    assert!(r.stderr.contains("SCALPER_ALERTS_TELEGRAM_TOKEN"), "{r:?}");
    // A channel without its secret: the variable is named.
    d.write("scalper.toml", "[alerts.telegram]\nchat_id = \"1\"\n");
    let r = d.run(&["alerts", "test"], &[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("set SCALPER_ALERTS_TELEGRAM_TOKEN"),
        "{r:?}"
    );
}

#[test]
fn config_check_shows_each_alert_setting_and_its_source_without_secrets() {
    let d = Dir::new();
    d.write(
        "scalper.toml",
        "[alerts]\nstream_silent_s = 45\n[alerts.telegram]\nchat_id = \"-1\"\n\
         [alerts.email]\nhost = \"smtp.example.com\"\nusername = \"bot\"\nfrom = \"bot@example.com\"\nto = \"ops@example.com\"\n",
    );
    d.write(
        ".env",
        &format!("IG_USERNAME=u\nSCALPER_ALERTS_TELEGRAM_TOKEN={TG_TOKEN}\n"),
    );
    let r = d.run(
        &["config", "check"],
        &[("SCALPER_ALERTS_SMTP_PASSWORD", "smtp-Sentinel-pw-42")],
    );
    assert!(!r.all().contains("FAKEtoken"), "{r:?}");
    assert!(!r.all().contains("smtp-Sentinel-pw-42"), "{r:?}");
    assert!(
        r.stdout.contains("channels:           telegram, email"),
        "{r:?}"
    );
    let token_line = r
        .stdout
        .lines()
        .find(|l| l.contains("alerts.telegram.token"))
        .unwrap();
    assert!(token_line.contains(".env:2"), "{token_line}");
    let pw_line = r
        .stdout
        .lines()
        .find(|l| l.contains("alerts.email.password"))
        .unwrap();
    assert!(pw_line.contains("process environment"), "{pw_line}");
    assert!(r
        .stdout
        .lines()
        .any(|l| l.contains("alerts.stream_silent_s")
            && l.contains("45")
            && l.contains("(alerts.stream_silent_s)")));

    let r = d.run(
        &["config", "check", "--json"],
        &[("SCALPER_ALERTS_SMTP_PASSWORD", "smtp-Sentinel-pw-42")],
    );
    assert!(!r.all().contains("smtp-Sentinel-pw-42"), "{r:?}");
    let j = r.json();
    let a = &j["alerts"];
    assert_eq!(a["channels"], serde_json::json!(["telegram", "email"]));
    assert_eq!(a["settings"]["alerts.telegram.token"]["secret"], true);
    assert_eq!(
        a["settings"]["alerts.telegram.token"]["source_kind"],
        "env_file"
    );
    assert_eq!(a["settings"]["alerts.email.port"]["value"], "587");
    assert_eq!(a["settings"]["alerts.email.port"]["source_kind"], "default");

    // A problem in [alerts] makes the check fail with the key named.
    d.write("scalper.toml", "[alerts]\nqueue = -3\n");
    let r = d.run(&["config", "check"], &[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stdout.contains("`alerts.queue` = -3 is invalid"), "{r:?}");
}

/// POST with an optional bearer token: the status code.
fn post(addr: &str, path: &str, token: &str) -> u16 {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text.split(' ').nth(1).unwrap().parse().unwrap()
}

fn get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text.split_once("\r\n\r\n").unwrap().1.to_string()
}

#[test]
fn a_demo_run_alerts_its_start_a_control_halt_and_its_stop() {
    let (hook_addr, hits) = fake_http();
    let d = Dir::new();
    d.write(
        "scalper.toml",
        &format!(
            "[alerts]\nname = \"demo-e2e\"\n[alerts.webhook]\nurl = \"http://{hook_addr}/hook\"\n"
        ),
    );
    let control = "e2e-control-token-1234";
    let (child, addr) = common::spawn_demo_http(&d, Some(control));
    wait_for("the start alert", 60, || {
        events(&hits).contains(&"start".to_string())
    });
    // Halt through the control API once the loop trades.
    wait_for("the loop to take control requests", 60, || {
        post(&addr, "/api/halt", control) == 200
    });
    wait_for("the halt alert", 30, || {
        events(&hits).contains(&"halt".to_string())
    });
    let metrics = get(&addr, "/metrics");
    assert!(
        metrics.contains("scalper_alerts_dropped_total 0"),
        "{metrics}"
    );
    assert!(metrics.contains("scalper_alerts_sent_total "), "{metrics}");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let evs = events(&hits);
    assert_eq!(evs.first().map(String::as_str), Some("start"), "{evs:?}");
    assert_eq!(evs.last().map(String::as_str), Some("stop"), "{evs:?}");
    let halt = evs.iter().position(|e| e == "halt").unwrap();
    assert!(halt > 0 && halt < evs.len() - 1, "{evs:?}");
    let all = hits.lock().unwrap().clone();
    let stop: serde_json::Value = serde_json::from_str(&all.last().unwrap().1).unwrap();
    assert_eq!(stop["source"], "demo-e2e");
    assert_eq!(stop["title"], "stopped: interrupted");
    assert!(
        stop["text"].as_str().unwrap().contains("trade(s), P&L"),
        "{stop}"
    );
    let halt_body: serde_json::Value = serde_json::from_str(&all[halt].1).unwrap();
    assert_eq!(halt_body["title"], "new entries halted: kill switch");
    assert!(
        !all.iter().any(|(_, b)| b.contains(control)),
        "the control token is in no alert"
    );
}

#[test]
fn a_refused_login_is_alerted_without_the_password() {
    use scalper_sandbox::{MarketSchedule, Sandbox, SandboxConfig};
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sandbox = rt
        .block_on(Sandbox::start(SandboxConfig {
            schedule: MarketSchedule::AlwaysOpen,
            ..SandboxConfig::default()
        }))
        .unwrap();
    let (hook_addr, hits) = fake_http();
    let d = Dir::new();
    d.write(
        "scalper.toml",
        &format!("[alerts.webhook]\nurl = \"http://{hook_addr}/hook\"\n"),
    );
    let url = sandbox.rest_url();
    let wrong = "Not-The-Passw0rd-991";
    let r = d.run(
        &["run", "--duration", "5s", "--json"],
        &[
            ("IG_USERNAME", "sandbox"),
            ("IG_PASSWORD", wrong),
            ("IG_API_KEY", "sandbox-api-key"),
            ("IG_API_URL", url.as_str()),
        ],
    );
    assert_eq!(r.code, 3, "{r:?}");
    // The run waits for its alerts before it exits.
    assert_eq!(events(&hits), ["start", "login_refused", "stop"]);
    let all = hits.lock().unwrap().clone();
    let refused: serde_json::Value = serde_json::from_str(&all[1].1).unwrap();
    assert_eq!(refused["severity"], "critical");
    assert_eq!(refused["title"], "login refused by IG");
    assert!(all
        .iter()
        .all(|(_, b)| !b.contains(wrong) && !b.contains("sandbox-api-key")));
    rt.block_on(sandbox.shutdown());
}
