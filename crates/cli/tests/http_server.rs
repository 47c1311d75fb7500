//! `--http`: a real `scalper demo --http 127.0.0.1:0` serves /metrics and /api/status while it
//! trades (the address it chose is printed), and a non-loopback address is refused with exit
//! code 2 before anything starts unless `--http-allow-remote` is given.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read as _, Write as _};
use std::process::Command;
use std::time::{Duration, Instant};

use common::Dir;

#[test]
fn a_non_loopback_http_address_is_refused_without_allow_remote() {
    let d = Dir::new();
    for cmd in ["demo", "run"] {
        for addr in ["0.0.0.0:9464", "[::]:9464", "192.0.2.1:9464"] {
            let r = d.run(&[cmd, "--http", addr], &[]);
            assert_eq!(r.code, 2, "{cmd} {addr}: {r:?}");
            assert!(r.stderr.contains("not a loopback address"), "{r:?}");
            assert!(r.stderr.contains("--http-allow-remote"), "{r:?}");
            assert!(!r.stderr.contains("http: listening"), "{r:?}");
            assert!(
                !r.stderr.contains("environment: SANDBOX"),
                "nothing started: {r:?}"
            );
        }
    }
}

/// `GET path` over HTTP/1.1: (status, body).
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let code = head.split(' ').nth(1).unwrap().parse().unwrap();
    (code, body.to_string())
}

#[test]
fn demo_serves_metrics_and_status_while_it_trades() {
    let d = Dir::new();
    let journal = d.path().join("demo.sqlite");
    let (child, addr) = common::spawn_demo_http(&d, None);
    assert!(
        addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"),
        "{addr}"
    );

    // Wait (with a deadline) for a closed trade.
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        let (code, body) = get(&addr, "/api/status");
        assert_eq!(code, 200, "{body}");
        let s: serde_json::Value = serde_json::from_str(&body).unwrap();
        if s["pnl"]["trades"].as_u64().unwrap_or(0) >= 1 {
            break s;
        }
        assert!(Instant::now() < deadline, "no trade in time: {s:#}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status["phase"], "trading");
    assert_eq!(status["pnl"]["currency"], "GBP");
    assert_eq!(status["instruments"].as_array().unwrap().len(), 3);
    let (code, metrics) = get(&addr, "/metrics");
    assert_eq!(code, 200);
    assert!(metrics.ends_with("# EOF\n"), "{metrics}");
    let quotes: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("scalper_quotes_total{"))
        .map(|l| l.rsplit_once(' ').unwrap().1.parse::<f64>().unwrap())
        .sum();
    assert!(quotes > 0.0, "{metrics}");
    assert!(
        metrics.contains("scalper_trades_closed_total "),
        "{metrics}"
    );
    let (code, _) = get(&addr, "/health");
    assert_eq!(code, 200);
    // No token in the environment: no control endpoint.
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        s,
        "POST /api/halt HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 404"), "{text}");

    // SIGTERM: the kill switch closes everything and the demo exits 0 with its summary.
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["ended"], "interrupted", "{summary}");
    assert!(
        std::net::TcpStream::connect(&addr).is_err(),
        "the server stopped with the run"
    );
    // No run answers: `scalper status` reads the journal instead.
    let journal_arg = journal.to_str().unwrap();
    let r = d.run(
        &[
            "status",
            "--url",
            &format!("http://{addr}"),
            "--journal",
            journal_arg,
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("no run answers"), "{r:?}");
    assert!(r.stdout.contains("0 open trade(s)"), "{r:?}");
    assert!(r.stdout.contains("latest trades:"), "{r:?}");
}
