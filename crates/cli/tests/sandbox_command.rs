//! `scalper sandbox` through the real binary: prints its URL and credentials, serves
//! `scalper test`, and stops cleanly on Ctrl-C (SIGINT).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: panics are failures
#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::Dir;

#[test]
fn sandbox_prints_url_serves_test_and_stops_on_sigint() {
    let d = Dir::new();
    let mut child = Command::new(env!("CARGO_BIN_EXE_scalper"))
        .current_dir(d.path())
        .env_clear()
        .args(["sandbox", "--port", "0", "--seed", "3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut printed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let url = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no URL printed: {printed:?}"));
        printed.push(line.clone());
        if let Some(u) = line.strip_prefix("  REST base URL:") {
            break u.trim().to_string();
        }
    };
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/gateway/deal"),
        "{url}"
    );
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(5)) {
        let done = line.starts_with("Press Ctrl-C");
        printed.push(line);
        if done {
            break;
        }
    }
    let text = printed.join("\n");
    assert!(text.contains("username:        sandbox"), "{text}");
    assert!(text.contains("password:        sandbox-pass"), "{text}");
    assert!(text.contains("API key:         sandbox-api-key"), "{text}");

    let r = d.run(
        &["test", "GBP_USD", "--json"],
        &[
            ("IG_API_URL", &url),
            ("IG_USERNAME", "sandbox"),
            ("IG_PASSWORD", "sandbox-pass"),
            ("IG_API_KEY", "sandbox-api-key"),
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["epic"], "CS.D.GBPUSD.CFD.IP");

    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "sandbox did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0), "graceful exit on Ctrl-C");
}

#[test]
fn sandbox_rejects_bad_faults_spec_with_exit_2() {
    let d = Dir::new();
    let r = d.run(&["sandbox", "--port", "0", "--faults", "bogus=1"], &[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("--faults"), "{r:?}");
}
