//! The status page in a real browser: Debian's `chromium`, headless, opens `/` of a trading
//! run (the demo's setup: in-process sandbox, built-in strategy, three FX markets) and, through
//! the DevTools protocol, reads what the page's own JavaScript drew: the positions table with
//! stop, limit and unrealised P&L, today's P&L and its equity curve, the last log lines; then
//! checks that all of it keeps updating.
//!
//! Chromium is looked for at `$CHROMIUM`, else `/usr/bin/chromium`. Without it the test fails
//! when `CI` is set (`.ci/run` installs it) and is skipped with a notice otherwise.
//! `SCALPER_PAGE_SCREENSHOTS=DIR` also saves `page.png` (1280x900) and `page-phone.png`
//! (390x844, a phone's viewport) there.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

const EPICS: [&str; 3] = [
    "CS.D.EURUSD.CFD.IP",
    "CS.D.GBPUSD.CFD.IP",
    "CS.D.USDJPY.CFD.IP",
];

/// What the page shows, read from its DOM.
const PROBE: &str = r##"(() => {
  const $ = (id) => document.getElementById(id);
  const u = $("updated");
  if (!u) return JSON.stringify({ updates: 0, at: 0, phase: "loading", positions: [], log_lines: [] });
  return JSON.stringify({
    updates: Number(u.dataset.updates || 0),
    at: Number(u.dataset.at || 0),
    phase: $("phase").textContent,
    day_total: $("day-total").textContent,
    unrealised: $("unrealised").textContent,
    positions: [...document.querySelectorAll("#positions tbody tr")]
      .filter((r) => r.cells.length > 1)
      .map((r) => [...r.cells].map((c) => c.textContent)),
    chart_paths: document.querySelectorAll("#chart path").length,
    log_lines: [...document.querySelectorAll("#log div:not(.empty)")].map((d) => d.textContent),
    width: document.documentElement.scrollWidth,
  });
})()"##;

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    path.is_file().then_some(path)
}

/// A headless chromium with the DevTools protocol on a free port; killed when dropped.
struct Browser {
    child: Child,
    _profile: tempfile::TempDir,
    port: u16,
}

impl Browser {
    fn start(bin: &PathBuf, url: &str) -> Self {
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(bin)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--remote-debugging-port=0",
                "--window-size=1280,900",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("DevTools listening on ws://127.0.0.1:") {
                    let port = rest.split('/').next().unwrap_or("").parse::<u16>();
                    let _ = tx.send(port);
                }
            }
        });
        let port = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("chromium prints its DevTools address")
            .expect("a port number");
        Self {
            child,
            _profile: profile,
            port,
        }
    }

    /// The DevTools WebSocket of the page showing `url`.
    async fn page(&self, url: &str) -> Page {
        let http = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let ws = loop {
            let list: Value = http
                .get(format!("http://127.0.0.1:{}/json/list", self.port))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let found = list.as_array().and_then(|l| {
                l.iter().find(|t| {
                    t["type"] == "page" && t["url"].as_str().is_some_and(|u| u.starts_with(url))
                })
            });
            if let Some(t) = found {
                break t["webSocketDebuggerUrl"].as_str().unwrap().to_string();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no page for {url}: {list:#}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let (socket, _) = tokio_tungstenite::connect_async(ws.as_str()).await.unwrap();
        Page { socket, next_id: 0 }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Page {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next_id: u64,
}

impl Page {
    /// Sends one DevTools command and returns its result (events in between are skipped).
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let msg = json!({"id": id, "method": method, "params": params}).to_string();
        self.socket.send(Message::text(msg)).await.unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                let msg = self
                    .socket
                    .next()
                    .await
                    .expect("the socket stays open")
                    .unwrap();
                let Message::Text(text) = msg else { continue };
                let v: Value = serde_json::from_str(text.as_str()).unwrap();
                if v["id"].as_u64() == Some(id) {
                    return v;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no answer to {method}"));
        assert!(answer.get("error").is_none(), "{method}: {answer}");
        answer["result"].clone()
    }

    /// What the page shows now.
    async fn probe(&mut self) -> Value {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({"expression": PROBE, "returnByValue": true}),
            )
            .await;
        let text = r["result"]["value"]
            .as_str()
            .unwrap_or_else(|| panic!("the probe returns a string: {r}"));
        serde_json::from_str(text).unwrap()
    }

    /// Polls the page until `cond` holds (`secs` deadline).
    async fn wait(&mut self, what: &str, secs: u64, cond: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let v = self.probe().await;
            if cond(&v) {
                return v;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for the page to show {what}; it shows {v:#}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn screenshot(&mut self, path: &std::path::Path, width: u32, height: u32, mobile: bool) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
        )
        .await;
        // Let the page lay out and redraw its chart at the new size (two more updates).
        let seen = self.probe().await["updates"].as_u64().unwrap();
        self.wait("two updates at the new size", 10, |v| {
            v["updates"].as_u64().unwrap() >= seen + 2
        })
        .await;
        let shot = self
            .call("Page.captureScreenshot", json!({"format": "png"}))
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        std::fs::write(path, png).unwrap();
        eprintln!("screenshot: {}", path.display());
    }
}

/// A money cell: a decimal amount then the account currency.
fn is_money(text: &str) -> bool {
    text.strip_suffix(" GBP")
        .is_some_and(|n| n.parse::<f64>().is_ok_and(f64::is_finite))
}

fn is_level(text: &str) -> bool {
    text.parse::<f64>().is_ok_and(|v| v > 0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_shows_positions_and_pnl_and_keeps_updating() {
    let Some(bin) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium not found at $CHROMIUM or /usr/bin/chromium: the status page's browser \
             test needs it (apt-get install chromium; .ci/run installs it when missing)"
        );
        eprintln!(
            "NOTICE: skipping the status page's browser test: no chromium at $CHROMIUM or \
             /usr/bin/chromium (apt-get install chromium)"
        );
        return;
    };
    let tail = scalper_live::LogTail::new();
    let _ = tracing_subscriber::registry().with(tail.layer()).try_init();
    let demo = common::start_demo_with(42, None, Some(tail)).await;
    demo.wait_status("trading with an open position", 90, |s| {
        s["phase"] == "trading"
            && s["positions"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| !p["unrealised_pnl"].is_null()))
    })
    .await;

    let url = format!("{}/", demo.base);
    let browser = Browser::start(&bin, &url);
    let mut page = browser.page(&url).await;

    // The page's JavaScript drew an open position with its stop, limit and unrealised P&L,
    // today's P&L, the equity curve and log lines.
    let first = page
        .wait("a position with its P&L, the curve and the log", 90, |v| {
            v["phase"] == "trading"
                && is_money(v["day_total"].as_str().unwrap_or(""))
                && v["chart_paths"].as_u64().unwrap_or(0) >= 2
                && !v["log_lines"].as_array().unwrap().is_empty()
                && v["positions"].as_array().unwrap().iter().any(|p| {
                    p[7].as_str().is_some_and(is_money) && p[3].as_str().is_some_and(is_level)
                })
        })
        .await;
    for p in first["positions"].as_array().unwrap() {
        assert!(EPICS.contains(&p[1].as_str().unwrap()), "{p}");
        assert!(["BUY", "SELL"].contains(&p[2].as_str().unwrap()), "{p}");
        if p[8] == "open" {
            for col in [4, 5, 6] {
                assert!(
                    is_level(p[col].as_str().unwrap()),
                    "entry, stop, limit: {p}"
                );
            }
        }
    }
    let log = first["log_lines"].as_array().unwrap();
    assert!(
        log.iter().any(|l| l.as_str().unwrap().contains("INFO")),
        "{log:?}"
    );

    // It keeps updating: more status events, a later run clock, and the P&L it shows moves
    // with the prices.
    let later = page
        .wait("the P&L moving with later updates", 90, |v| {
            v["updates"].as_u64() >= first["updates"].as_u64().map(|u| u + 4)
                && v["at"].as_u64() > first["at"].as_u64()
                && (v["day_total"] != first["day_total"] || v["positions"] != first["positions"])
        })
        .await;
    assert!(is_money(later["day_total"].as_str().unwrap()), "{later:#}");
    assert!(is_money(later["unrealised"].as_str().unwrap()), "{later:#}");
    assert!(
        later["width"].as_u64().unwrap() <= 1280,
        "nothing wider than the window: {later:#}"
    );

    // On a phone's viewport nothing but the tables' own scroll boxes is wider than the screen.
    page.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": true}),
    )
    .await;
    let phone = page
        .wait("an update at phone size", 30, |v| {
            v["updates"].as_u64() > later["updates"].as_u64()
        })
        .await;
    assert!(
        phone["width"].as_u64().unwrap() <= 390,
        "the page fits a 390 px screen: {phone:#}"
    );

    if let Some(dir) = std::env::var_os("SCALPER_PAGE_SCREENSHOTS") {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        page.screenshot(&dir.join("page.png"), 1280, 900, false)
            .await;
        page.screenshot(&dir.join("page-phone.png"), 390, 844, true)
            .await;
    }

    drop(page);
    drop(browser);
    let (report, _dir) = demo.stop().await;
    assert_eq!(report.open_positions, 0, "{report:?}");
}
