//! Shared harness for the third-party client tests: a venv under the target directory with
//! the pinned, unmodified clients from PyPI, and a runner for the scripts in `tools/compat/`.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The packages the venv holds. trading_ig 0.0.24 pins lightstreamer-client-lib 1.0.3 itself
/// ("to match IG install"); it is named here too so a change of either is a change of the venv.
pub const PACKAGES: &[&str] = &["trading_ig==0.0.24", "lightstreamer-client-lib==1.0.3"];

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    )
}

/// `python3`, or `None` (the caller then skips loudly).
pub fn python3() -> Option<PathBuf> {
    let ok = Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then(|| PathBuf::from("python3"))
}

/// The venv's python with [`PACKAGES`] installed (created on first use, then reused). Test
/// binaries that use it must not run at once the first time (`cargo test` runs them one after
/// another).
pub fn venv(python: &Path) -> PathBuf {
    let dir = target_dir().join("compat-venv");
    let py = dir.join("bin").join("python");
    let marker = dir.join(format!(".installed-{}", PACKAGES.join("+")));
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
        ])
        .args(PACKAGES)
        .status()
        .expect("pip runs");
    assert!(st.success(), "pip install {PACKAGES:?} failed");
    std::fs::write(&marker, b"").unwrap();
    py
}

/// Runs `tools/compat/<script> <rest_url>` with the venv's python; returns its stdout, or
/// panics with both outputs when it fails or outlives `timeout`.
pub async fn run_script(py: &Path, script: &str, rest_url: &str, timeout: Duration) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tools/compat")
        .join(script);
    let child = tokio::process::Command::new(py)
        .arg(&path)
        .arg(rest_url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the compat script starts");
    let out = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{script} finishes within {timeout:?}"))
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{script} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    stdout
}
