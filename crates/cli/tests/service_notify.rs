//! Under systemd (`Type=notify`, `WatchdogSec`): `READY=1` once the run trades, `WATCHDOG=1`
//! from the event loop's timer while it runs, `STOPPING=1` when it winds down, in that order.
//! The test plays systemd: a datagram socket named by `NOTIFY_SOCKET`, and SIGTERM once the
//! watchdog was fed three times.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Dir;

#[test]
fn ready_watchdog_and_stopping_are_sent_in_order() {
    let d = Dir::new();
    let socket_path = d.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_scalper"))
        .args(["demo", "--duration", "300s", "--json", "--journal"])
        .arg(d.path().join("demo.sqlite"))
        .current_dir(d.path())
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "3000000")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut messages: Vec<String> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut buf = [0u8; 512];
    let mut stopping = false;
    loop {
        if let Ok(n) = socket.recv(&mut buf) {
            messages.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        let fed = messages.iter().filter(|m| *m == "WATCHDOG=1\n").count();
        if fed == 3 && !stopping {
            // Three keep-alives seen: stop it as systemd would (SIGTERM).
            stopping = true;
            let killed = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status()
                .unwrap();
            assert!(killed.success());
        }
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{status:?}");
            // Whatever was sent before the exit is queued on the socket.
            while let Ok(n) = socket.recv(&mut buf) {
                messages.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the demo did not end: {messages:?}"
        );
    }
    let kinds: Vec<&str> = messages
        .iter()
        .map(|m| m.lines().next().unwrap_or_default())
        .collect();
    assert_eq!(kinds.first(), Some(&"READY=1"), "{messages:?}");
    assert_eq!(kinds.last(), Some(&"STOPPING=1"), "{messages:?}");
    let watchdogs = kinds.iter().filter(|k| **k == "WATCHDOG=1").count();
    assert!(
        watchdogs >= 3,
        "the loop feeds the watchdog every second: {messages:?}"
    );
    assert_eq!(
        watchdogs + 2,
        kinds.len(),
        "nothing else is sent: {messages:?}"
    );
}
