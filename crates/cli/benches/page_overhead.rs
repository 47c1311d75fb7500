//! What `--http` and alerts cost a demo: runs the real `scalper demo` (same seed, same
//! duration) without `--http`, with it, and with it and `[alerts]` sending to a local webhook;
//! with `--http` the status page is open the whole time (a client following `/api/events`, as
//! the page does, after reading `/api/equity`) and `/metrics` and `/api/status` are scraped
//! every second. Prints each run's CPU time (user + system, read from
//! `/proc/<pid>/stat` once the process has exited and before it is reaped), its trades, and with `--http` the engine's decision latency (the `scalper_decision_seconds`
//! histogram of the last scrape); then the mean CPU time of each mode and their difference.
//!
//! `cargo bench -p scalper-cli --bench page_overhead` (`PAGE_BENCH_RUNS`, default 3 of each,
//! alternating; `PAGE_BENCH_SECS`, default 30). Linux only (reads `/proc`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Clock ticks per second of `/proc/<pid>/stat` (USER_HZ, 100 on Linux).
const TICKS: f64 = 100.0;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `GET path` over HTTP/1.1: the body.
fn get(addr: &str, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}

/// Follows `/api/events` until the server closes it; returns the events seen.
fn follow_events(addr: &str) -> u64 {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return 0;
    };
    if write!(
        s,
        "GET /api/events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .is_err()
    {
        return 0;
    }
    BufReader::new(s)
        .lines()
        .map_while(Result::ok)
        .filter(|l| l.starts_with("event: status"))
        .count() as u64
}

/// utime + stime of an exited (not yet reaped) process, in seconds.
fn cpu_of_zombie(pid: u32) -> (f64, f64) {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
        // Fields after the command name (which is in parentheses and may hold spaces).
        let rest = &stat[stat.rfind(')').expect("(comm)") + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        if f[0] == "Z" {
            let utime: f64 = f[11].parse().unwrap();
            let stime: f64 = f[12].parse().unwrap();
            return (utime / TICKS, stime / TICKS);
        }
        assert!(Instant::now() < deadline, "the demo did not end");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The mean and the bucket holding the 50th and 99th percentile of a histogram in the
/// OpenMetrics text.
fn decision_latency(metrics: &str) -> Option<(f64, f64, f64)> {
    let value = |line: &str| {
        line.rsplit_once(' ')
            .and_then(|(_, v)| v.parse::<f64>().ok())
    };
    let mut sum = None;
    let mut count = None;
    let mut buckets = Vec::new();
    for l in metrics.lines() {
        if l.starts_with("scalper_decision_seconds_sum ") {
            sum = value(l);
        } else if l.starts_with("scalper_decision_seconds_count ") {
            count = value(l);
        } else if let Some(rest) = l.strip_prefix("scalper_decision_seconds_bucket{le=\"") {
            let le = rest.split('"').next()?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            buckets.push((le, value(l)?));
        }
    }
    let (sum, count) = (sum?, count?);
    let q = |p: f64| {
        buckets
            .iter()
            .find(|(_, c)| *c >= p * count)
            .map_or(f64::NAN, |(le, _)| *le)
    };
    Some((sum / count, q(0.5), q(0.99)))
}

struct RunResult {
    user: f64,
    system: f64,
    trades: u64,
    decision: Option<(f64, f64, f64)>,
    events: u64,
}

/// The three ways the bench runs a demo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Off,
    Http,
    HttpAlerts,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Self::Off => "no --http",
            Self::Http => "--http, page open",
            Self::HttpAlerts => "--http + alerts",
        }
    }
}

/// A webhook that answers every POST 200 and counts them.
fn fake_webhook() -> (String, Arc<std::sync::atomic::AtomicU64>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let count = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                loop {
                    let mut length = 0usize;
                    let mut line = String::new();
                    let mut any = false;
                    while reader.read_line(&mut line).unwrap_or(0) > 0 {
                        any = true;
                        let l = line.trim_end().to_ascii_lowercase();
                        if l.is_empty() {
                            break;
                        }
                        if let Some(v) = l.strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                        line.clear();
                    }
                    if !any {
                        return;
                    }
                    let mut body = vec![0u8; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    seen.fetch_add(1, Ordering::Relaxed);
                    if conn
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (format!("http://{addr}/hook"), count)
}

fn run_demo(mode: Mode, secs: u64, seed: u64, webhook: &str) -> RunResult {
    let http = mode != Mode::Off;
    let dir = tempfile::tempdir().unwrap();
    if mode == Mode::HttpAlerts {
        std::fs::write(
            dir.path().join("scalper.toml"),
            format!("[alerts]\nname = \"bench\"\n\n[alerts.webhook]\nurl = \"{webhook}\"\n"),
        )
        .unwrap();
    }
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_scalper"));
    cmd.args(["demo", "--json", "--seed", &seed.to_string()])
        .args(["--duration", &format!("{secs}s")])
        .arg("--journal")
        .arg(dir.path().join("demo.sqlite"))
        .current_dir(dir.path())
        .env_remove("SCALPER_CONTROL_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if http {
        cmd.args(["--http", "127.0.0.1:0"]);
    }
    let mut child = cmd.spawn().unwrap();
    let pid = child.id();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("http: listening on http://") {
                let addr = rest.split_whitespace().next().unwrap_or("").to_string();
                let _ = tx.send(addr);
            }
        }
    });
    let stop = Arc::new(AtomicBool::new(false));
    let mut observers = Vec::new();
    if http {
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the demo prints its address");
        let a = addr.clone();
        observers.push(std::thread::spawn(move || {
            let _ = get(&a, "/");
            let _ = get(&a, "/api/equity");
            (follow_events(&a), None)
        }));
        let stop2 = stop.clone();
        observers.push(std::thread::spawn(move || {
            let mut last = None;
            while !stop2.load(Ordering::Relaxed) {
                if let Some(m) = get(&addr, "/metrics") {
                    last = decision_latency(&m).or(last);
                }
                let _ = get(&addr, "/api/status");
                std::thread::sleep(Duration::from_secs(1));
            }
            (0, last)
        }));
    }
    let mut stdout = child.stdout.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let (user, system) = cpu_of_zombie(pid);
    let status = child.wait().unwrap();
    assert!(status.success(), "the demo failed: {status}");
    stop.store(true, Ordering::Relaxed);
    let mut events = 0;
    let mut decision = None;
    for o in observers {
        let (e, d) = o.join().unwrap();
        events += e;
        decision = decision.or(d);
    }
    let summary: serde_json::Value = serde_json::from_str(&out.join().unwrap()).unwrap();
    RunResult {
        user,
        system,
        trades: summary["trades"].as_u64().unwrap_or(0),
        decision,
        events,
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let runs = env_num("PAGE_BENCH_RUNS", 3);
    let secs = env_num("PAGE_BENCH_SECS", 30);
    let (webhook, alerts_received) = fake_webhook();
    let mut cpu = [Vec::new(), Vec::new(), Vec::new()];
    for i in 0..runs {
        for (k, m) in [Mode::Off, Mode::Http, Mode::HttpAlerts]
            .into_iter()
            .enumerate()
        {
            let r = run_demo(m, secs, 42 + i, &webhook);
            let mode = m.label();
            let decision = r.decision.map_or(String::new(), |(mean, p50, p99)| {
                format!(
                    "  decision mean {:.1} µs, p50 <= {:.0} µs, p99 <= {:.0} µs",
                    mean * 1e6,
                    p50 * 1e6,
                    p99 * 1e6
                )
            });
            println!(
                "run {i} {mode:<18} cpu {:>6.2} s (user {:.2}, sys {:.2})  trades {:>3}  page events {:>4}{decision}",
                r.user + r.system,
                r.user,
                r.system,
                r.trades,
                r.events,
            );
            cpu[k].push(r.user + r.system);
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (off, on, alerts) = (mean(&cpu[0]), mean(&cpu[1]), mean(&cpu[2]));
    println!(
        "mean cpu over {runs} runs of {secs} s: {off:.2} s without --http, {on:.2} s with (page open, scraped every second): {:+.1}%; {alerts:.2} s with --http and alerts ({} alerts delivered): {:+.1}%",
        (on - off) / off * 100.0,
        alerts_received.load(Ordering::Relaxed),
        (alerts - off) / off * 100.0
    );
}
