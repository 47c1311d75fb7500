//! Helpers for running the real `scalper` binary in a temporary directory with a clean
//! environment.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const PASSWORD: &str = "Sentinel-Pa55word-7f3a";
pub const API_KEY: &str = "abcd0123456789sentinelkey77";

/// A temporary working directory.
pub struct Dir {
    pub tmp: tempfile::TempDir,
}

/// The result of one run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON object ({e}):\n{}\n{}",
                self.stdout, self.stderr
            )
        })
    }
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Dir {
    pub fn new() -> Self {
        Self {
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// Writes a file with unix mode 600 (so no permission warning unless asked).
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        self.write_mode(name, text, 0o600)
    }

    pub fn write_mode(&self, name: &str, text: &str, mode: u32) -> PathBuf {
        let p = self.path().join(name);
        std::fs::write(&p, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        #[cfg(not(unix))]
        let _ = mode;
        p
    }

    /// Runs `scalper args...` here with only PATH and `env` in the environment.
    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_scalper"));
        cmd.current_dir(self.path()).env_clear().args(args);
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let Output {
            status,
            stdout,
            stderr,
        } = cmd.output().unwrap();
        Run {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }

    /// Contents of every file under `logs/`.
    pub fn logs(&self) -> String {
        let mut all = String::new();
        if let Ok(rd) = std::fs::read_dir(self.path().join("logs")) {
            for e in rd.flatten() {
                all.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
            }
        }
        all
    }
}

/// A complete env file with the sentinel secrets.
pub fn complete_env(username: &str) -> String {
    format!("IG_USERNAME={username}\nIG_PASSWORD='{PASSWORD}'\nexport IG_API_KEY=\"{API_KEY}\"\n")
}

/// Asserts that no sentinel secret appears in `text`.
pub fn assert_no_secret(text: &str) {
    for s in [PASSWORD, API_KEY, &API_KEY[..12], &PASSWORD[..10]] {
        assert!(
            !text.contains(s),
            "secret fragment {s:?} leaked in:\n{text}"
        );
    }
}

/// Starts `scalper demo --json --http 127.0.0.1:0 --duration 120s` in `d` (journal
/// `demo.sqlite` there), with `SCALPER_CONTROL_TOKEN` set to `control` or unset; returns the
/// child and the address it printed (`http: listening on http://ADDR`).
pub fn spawn_demo_http(d: &Dir, control: Option<&str>) -> (std::process::Child, String) {
    use std::io::{BufRead as _, BufReader};
    use std::process::Stdio;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_scalper"));
    cmd.args([
        "demo",
        "--duration",
        "120s",
        "--json",
        "--http",
        "127.0.0.1:0",
        "--journal",
    ])
    .arg(d.path().join("demo.sqlite"))
    .current_dir(d.path())
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    match control {
        Some(token) => cmd.env("SCALPER_CONTROL_TOKEN", token),
        None => cmd.env_remove("SCALPER_CONTROL_TOKEN"),
    };
    let mut child = cmd.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("http: listening on http://") {
                let addr = rest.split_whitespace().next().unwrap_or_default();
                let _ = tx.send(addr.to_string());
            }
        }
    });
    let addr = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the demo prints the address it listens on");
    (child, addr)
}

/// `scalper ARGS` in `dir` with a clean environment holding only `PATH` and the IG variables
/// of `sandbox` (its credentials and REST URL, a demo environment).
pub fn against_sandbox(
    dir: &Path,
    sandbox: &scalper_sandbox::SandboxHandle,
    args: &[&str],
) -> Command {
    use secrecy::ExposeSecret;
    let c = sandbox.credentials();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_scalper"));
    cmd.current_dir(dir)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("IG_USERNAME", &c.username)
        .env("IG_PASSWORD", c.password.expose_secret())
        .env("IG_API_KEY", c.api_key.expose_secret())
        .env("IG_API_URL", sandbox.rest_url())
        .env("IG_DEMO", "true")
        .stdin(std::process::Stdio::null());
    cmd
}
