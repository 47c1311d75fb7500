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
    let (mut child, url, rx, mut printed) = spawn_sandbox(&d, &["--seed", "3"]);
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/gateway/deal"),
        "{url}"
    );
    let text = banner(&rx, &mut printed);
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

/// Starts `scalper sandbox` with `args`: the child, its REST URL, the rest of its stdout and
/// the lines printed up to the URL.
/// The rest of the start-up banner, up to its `Press Ctrl-C` line, after what was `printed`.
fn banner(rx: &mpsc::Receiver<String>, printed: &mut Vec<String>) -> String {
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(5)) {
        let done = line.starts_with("Press Ctrl-C");
        printed.push(line);
        if done {
            break;
        }
    }
    printed.join("\n")
}

fn spawn_sandbox(
    d: &Dir,
    args: &[&str],
) -> (
    std::process::Child,
    String,
    mpsc::Receiver<String>,
    Vec<String>,
) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_scalper"))
        .current_dir(d.path())
        .env_clear()
        .args(["sandbox", "--port", "0"])
        .args(args)
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
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut printed = Vec::new();
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
    (child, url, rx, printed)
}

/// `--start-time` sets the simulated clock and each market keeps its own hours; `--holiday`
/// closes the markets it names.
#[test]
fn sandbox_start_time_and_holidays_set_each_markets_status() {
    let d = Dir::new();
    // Wednesday 2027-01-06 22:30 UTC: FX open, Germany 40 closed for the night; a holiday
    // closes FTSE 100 early that day, so it is closed too; gold is in its daily break.
    let (mut child, url, _, _) = spawn_sandbox(
        &d,
        &[
            "--start-time",
            "2027-01-06T22:30:00Z",
            "--holiday",
            "2027-01-06@12:00=FTSE100",
        ],
    );
    let env = [
        ("IG_API_URL", url.as_str()),
        ("IG_USERNAME", "sandbox"),
        ("IG_PASSWORD", "sandbox-pass"),
        ("IG_API_KEY", "sandbox-api-key"),
    ];
    let status = |name: &str| {
        let r = d.run(&["test", name, "--json"], &env);
        assert_eq!(r.code, 0, "{r:?}");
        r.json()["market_status"].as_str().unwrap().to_string()
    };
    assert_eq!(status("EUR_USD"), "TRADEABLE");
    assert_eq!(status("GER40"), "CLOSED");
    assert_eq!(status("GOLD"), "CLOSED");
    child.kill().unwrap();
    child.wait().unwrap();

    // With --always-open every market trades at that hour.
    let (mut child, url, _, _) = spawn_sandbox(
        &d,
        &["--start-time", "2027-01-06T22:30:00Z", "--always-open"],
    );
    let r = d.run(
        &["test", "GER40", "--json"],
        &[
            ("IG_API_URL", url.as_str()),
            ("IG_USERNAME", "sandbox"),
            ("IG_PASSWORD", "sandbox-pass"),
            ("IG_API_KEY", "sandbox-api-key"),
        ],
    );
    assert_eq!(r.json()["market_status"], "TRADEABLE", "{r:?}");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn sandbox_rejects_bad_start_time_and_holiday_with_exit_2() {
    let d = Dir::new();
    let r = d.run(&["sandbox", "--port", "0", "--start-time", "friday"], &[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("RFC 3339"), "{r:?}");
    let r = d.run(
        &["sandbox", "--port", "0", "--holiday", "2026-12-24=NOPE"],
        &[],
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("NOPE"), "{r:?}");
    let r = d.run(&["sandbox", "--port", "0", "--holiday", "24/12/2026"], &[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("YYYY-MM-DD"), "{r:?}");
}

/// `--speed 0` (the README's compatibility set-up) starts a paused market and says how to
/// move it; a negative speed is refused with exit 2.
#[test]
fn sandbox_speed_0_starts_a_paused_market() {
    let d = Dir::new();
    let (mut child, _url, rx, mut printed) = spawn_sandbox(&d, &["--speed", "0"]);
    let text = banner(&rx, &mut printed);
    assert!(
        text.contains("market speed:    paused (--speed 0)") && text.contains("/sandbox/step"),
        "{text}"
    );
    child.kill().unwrap();
    child.wait().unwrap();

    let r = d.run(&["sandbox", "--port", "0", "--speed=-1"], &[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("not a positive number or 0"),
        "{}",
        r.stderr
    );
}
