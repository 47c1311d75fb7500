//! The sandbox through an unmodified third-party IG client: `tools/compat/trading_ig_rest.py`
//! drives every endpoint trading_ig wraps (v2 and v3 sessions, the CFD and the spread-bet
//! user) against an in-process sandbox. trading_ig is installed from PyPI, pinned, into a venv
//! cached under the target directory. Skipped (loudly) only when `python3` is missing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use scalper_sandbox::{Sandbox, SandboxConfig};

const TRADING_IG: &str = "trading_ig==0.0.24";

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    )
}

fn python3() -> Option<PathBuf> {
    let ok = Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then(|| PathBuf::from("python3"))
}

/// The venv's python with trading_ig installed (created on first use, then reused).
fn venv(python: &Path) -> PathBuf {
    let dir = target_dir().join("compat-venv");
    let py = dir.join("bin").join("python");
    let marker = dir.join(format!(".installed-{TRADING_IG}"));
    if py.exists() && marker.exists() {
        return py;
    }
    let st = Command::new(python)
        .args(["-m", "venv", "--clear"])
        .arg(&dir)
        .status()
        .expect("python3 -m venv runs");
    assert!(
        st.success(),
        "python3 -m venv failed: install python3-venv (.ci/run does)"
    );
    let st = Command::new(&py)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            TRADING_IG,
        ])
        .status()
        .expect("pip runs");
    assert!(st.success(), "pip install {TRADING_IG} failed");
    std::fs::write(&marker, b"").unwrap();
    py
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trading_ig_drives_every_endpoint_for_v2_v3_cfd_and_spread_bet() {
    let Some(python) = python3() else {
        eprintln!(
            "\n\n*** SKIPPED compat_trading_ig: python3 is not installed, so the sandbox is NOT \
             tested through trading_ig ***\n\n"
        );
        return;
    };
    let py = tokio::task::spawn_blocking(move || venv(&python))
        .await
        .unwrap();
    let sb = Sandbox::start(SandboxConfig {
        warmup: Duration::from_secs(30 * 60),
        ..SandboxConfig::for_tests()
    })
    .await
    .unwrap();
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/compat/trading_ig_rest.py");
    let child = tokio::process::Command::new(&py)
        .arg(&script)
        .arg(sb.rest_url())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the compat script starts");
    let out = tokio::time::timeout(Duration::from_secs(120), async {
        child.wait_with_output().await
    })
    .await
    .expect("the compat script finishes within 120 s")
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "trading_ig compat script failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    for who in [
        "sandbox v2 (SANDBOX-CFD): OK",
        "sandbox v3 (SANDBOX-CFD): OK",
        "sandbox-sb v2 (SANDBOX-SB): OK",
        "sandbox-sb v3 (SANDBOX-SB): OK",
    ] {
        assert!(stdout.contains(who), "missing {who:?} in:\n{stdout}");
    }
    let st = sb.state();
    assert!(
        st.requests_matching("/watchlists") > 0 && st.requests_matching("/marketnavigation") > 0
    );
    sb.shutdown().await;
}
