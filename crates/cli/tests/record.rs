//! Quote recording end to end: `scalper run --record DIR` against the sandbox is SIGKILLed
//! once its recording holds at least two blocks; the recording must open, give its quotes in
//! time order up to its last whole block, and be backtest data as it is. A second run on the
//! same day appends to the same files. `scalper record` records without trading and refuses a
//! directory it cannot use.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use scalper_backtest::RecordingReader;
use scalper_sandbox::{MarketSchedule, Sandbox, SandboxConfig};

const EURUSD: &str = "CS.D.EURUSD.CFD.IP";

const ENGINE_TOML: &str = r"
[journal]
path = 'data/journal.sqlite'

[engine.risk]
risk_per_trade = { amount = 15 }
max_open_per_instrument = 1
";

/// The day files of one instrument under `rec`, in name (day) order.
fn day_files(rec: &Path, epic: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(rec.join(epic))
        .map(|d| {
            d.map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "sbc"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Whole blocks and quotes in `rec`'s files of `epic`.
fn blocks(rec: &Path, epic: &str) -> (usize, usize) {
    let mut frames = 0;
    let mut quotes = 0;
    for f in day_files(rec, epic) {
        if let Ok(r) = RecordingReader::open(&f) {
            for frame in r {
                frames += 1;
                quotes += frame.unwrap().len();
            }
        }
    }
    (frames, quotes)
}

fn scalper(dir: &Path, sandbox: &scalper_sandbox::SandboxHandle, args: &[&str]) -> Command {
    let mut cmd = common::against_sandbox(dir, sandbox, args);
    cmd.env("RUST_LOG", "info");
    cmd
}

fn backtest(dir: &Path, data: &Path) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_scalper"))
        .current_dir(dir)
        .env_clear()
        // No --price-scale: the recording's header says its prices are IG-scaled.
        .args(["backtest", "--no-cache", "--json"])
        .args(["--instrument", EURUSD, "--data"])
        .arg(data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "backtest over the recording failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every quote of `epic`'s recording in time order: (IG time, receive time).
fn read_all(rec: &Path, epic: &str) -> Vec<(i64, i64)> {
    let mut all = Vec::new();
    for f in day_files(rec, epic) {
        let mut r = RecordingReader::open(&f).unwrap();
        all.extend(
            r.read_all()
                .unwrap()
                .iter()
                .map(|q| (q.quote.ts, q.received_ms)),
        );
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_while_recording_leaves_a_readable_recording_that_backtests() {
    let sandbox = Sandbox::start(SandboxConfig {
        seed: 20,
        speed: 30.0,
        schedule: MarketSchedule::AlwaysOpen,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("scalper.toml"), ENGINE_TOML).unwrap();
    let rec = dir.join("rec");
    let err = std::fs::File::create(dir.join("run1.err")).unwrap();
    let mut child = scalper(
        dir,
        &sandbox,
        &["run", "--record", "rec", "--instruments", "EUR_USD,GBP_USD"],
    )
    .stdout(Stdio::null())
    .stderr(err)
    .spawn()
    .unwrap();
    // The sandbox quotes every ~100 ms and a block is written at least every second.
    let deadline = Instant::now() + Duration::from_secs(90);
    while blocks(&rec, EURUSD).0 < 2 {
        assert!(
            Instant::now() < deadline,
            "no two blocks recorded in 90 s\n{}",
            std::fs::read_to_string(dir.join("run1.err")).unwrap_or_default()
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended early\n{}",
            std::fs::read_to_string(dir.join("run1.err")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let first = read_all(&rec, EURUSD);
    assert!(first.len() >= 2, "{first:?}");
    assert!(
        first.windows(2).all(|w| w[0].0 < w[1].0),
        "quotes out of time order"
    );
    assert!(
        first.iter().all(|&(ts, at)| ts > 0 && at > 0),
        "a quote without its times"
    );
    let report = backtest(dir, &rec.join(EURUSD));
    assert_eq!(
        report["records"].as_u64(),
        Some(first.len() as u64),
        "{report}"
    );

    // A second run on the same day appends to the same file after the first run's quotes.
    let out = scalper(
        dir,
        &sandbox,
        &[
            "run",
            "--record",
            "rec",
            "--instruments",
            "EUR_USD",
            "--duration",
            "3s",
            "--json",
        ],
    )
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let recorded = summary["recording"]["instruments"][EURUSD]["quotes"]
        .as_u64()
        .unwrap();
    assert!(recorded > 0, "{summary}");
    let both = read_all(&rec, EURUSD);
    assert_eq!(
        &both[..first.len()],
        &first[..],
        "the first run's quotes changed"
    );
    assert!(both.len() as u64 >= first.len() as u64 + recorded);
    assert!(both.windows(2).all(|w| w[0].0 < w[1].0));
    let report = backtest(dir, &rec.join(EURUSD));
    assert_eq!(report["records"].as_u64(), Some(both.len() as u64));

    // The killed run replays over its own quotes, not the second run's appended after them.
    let out = scalper(
        dir,
        &sandbox,
        &["replay", "--data", "rec", "--run", "1", "--json"],
    )
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let replay: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let eur = replay["instruments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["epic"] == EURUSD)
        .unwrap();
    let replayed = eur["quotes"].as_u64().unwrap();
    assert!(
        replayed > 0 && replayed <= first.len() as u64,
        "{replayed} quotes replayed, the killed run recorded {}",
        first.len()
    );
    assert!(
        eur["last_quote"].as_i64().unwrap() <= first[first.len() - 1].0,
        "the killed run's replay took the second run's quotes: {replay}"
    );
    assert!(
        replay["notes"].to_string().contains("until run 2 started"),
        "{replay}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_records_without_trading_and_refuses_a_bad_directory() {
    let d = common::Dir::new();
    let r = d.run(
        &[
            "record",
            "rec",
            "--sandbox",
            "--speed",
            "30",
            "--duration",
            "3s",
            "--instruments",
            "EUR_USD",
            "--json",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let v = r.json();
    let quotes = v["instruments"][EURUSD]["quotes"].as_u64().unwrap();
    assert!(quotes > 0, "{v}");
    assert_eq!(v["ended"], "duration");
    assert_eq!(read_all(&d.path().join("rec"), EURUSD).len() as u64, quotes);
    assert!(
        !d.path().join("data/journal.sqlite").exists(),
        "record traded?"
    );

    d.write("afile", "not a directory");
    let r = d.run(&["record", "afile", "--sandbox", "--duration", "1s"], &[]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr.contains("afile") && r.stderr.contains("is a file, not a directory"),
        "{}",
        r.stderr
    );
}
