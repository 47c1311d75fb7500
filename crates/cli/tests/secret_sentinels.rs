//! Secret hygiene across every `scalper` subcommand: each runs through the real binary, in its
//! own temporary working directory, with distinct sentinel credentials (against an in-process
//! sandbox that accepts them, where the command talks to IG). Afterwards stdout, stderr and
//! every file the command left under its directory (logs, journals with their WAL files,
//! exports, reports, CSVs) are scanned for the password and API key, plain, percent-encoded
//! and base64-encoded (at every alignment), and for session tokens (the sandbox issues 32-digit
//! hex tokens). A hit fails the test naming the command and the file.
//!
//! `scalper sandbox` prints the credentials it accepts on stdout by design (they are the
//! sandbox's, not IG's); its stdout is checked to contain them (which proves the scanner
//! finds what it looks for) and everything else is scanned as for the other commands.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use scalper_sandbox::{Credentials, MarketSchedule, Sandbox, SandboxConfig, SandboxHandle};
use secrecy::SecretString;

const USER: &str = "sentinel-user";
/// Holds characters that URL-encoding changes, so the encoded form is a distinct pattern.
const PASSWORD: &str = "SENTINEL-PW-7f3a9c/+&=";
const API_KEY: &str = "SENTINEL-KEY-c41d2e";

/// One command's outcome.
struct Outcome {
    name: String,
    code: i32,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}`: exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.name,
            self.code,
            String::from_utf8_lossy(&self.stdout),
            String::from_utf8_lossy(&self.stderr)
        )
    }
}

fn b64(data: &[u8], url_safe: bool) -> String {
    let alphabet: &[u8; 64] = if url_safe {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    } else {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    };
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(alphabet[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Every form of `secret` to look for: plain, percent-encoded (upper and lower case hex, and
/// `+` for space), and the part of its base64 encoding that does not depend on the
/// neighbouring bytes, for each of the three alignments it can have inside a larger encoded
/// value (e.g. `user:password` in a Basic header).
fn forms(label: &str, secret: &str) -> Vec<(String, String)> {
    let mut v = vec![
        (label.to_string(), secret.to_string()),
        (format!("{label} (URL-encoded)"), percent_encode(secret)),
        (
            format!("{label} (URL-encoded, lower case)"),
            percent_encode(secret).to_lowercase(),
        ),
    ];
    for pad in 0..3 {
        let mut bytes = vec![0u8; pad];
        bytes.extend_from_slice(secret.as_bytes());
        for url_safe in [false, true] {
            let enc = b64(&bytes, url_safe);
            // Characters fully determined by the secret: skip those touching the padding
            // bytes in front and the last (partial) group.
            let start = (pad * 4).div_ceil(3);
            let end = (bytes.len() / 3) * 4;
            if end > start + 8 {
                v.push((
                    format!("{label} (base64, offset {pad})"),
                    enc[start..end].to_string(),
                ));
            }
        }
    }
    v
}

fn patterns() -> Vec<(String, String)> {
    let mut v = forms("password", PASSWORD);
    v.extend(forms("API key", API_KEY));
    v
}

/// Standalone runs of exactly 32 lower-case hex digits: the shape of the sandbox's CST,
/// X-SECURITY-TOKEN, access and refresh tokens.
fn token_like(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_hexdigit() && !bytes[i].is_ascii_uppercase() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_hexdigit() && !bytes[i].is_ascii_uppercase()
            {
                i += 1;
            }
            let before_ok = start == 0 || !bytes[start - 1].is_ascii_alphanumeric();
            let after_ok = i == bytes.len() || !bytes[i].is_ascii_alphanumeric();
            if i - start == 32 && before_ok && after_ok {
                out.push(text[start..i].to_string());
            }
        } else {
            i += 1;
        }
    }
    out
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn find(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Scans one outcome; returns every violation as "command: where: what".
fn scan(o: &Outcome, stdout_may_hold_credentials: bool, exempt: &[&str]) -> Vec<String> {
    let mut sources: Vec<(String, Vec<u8>)> = vec![("stderr".into(), o.stderr.clone())];
    if !stdout_may_hold_credentials {
        sources.push(("stdout".into(), o.stdout.clone()));
    }
    for f in files_under(o.dir.path()) {
        let rel = f.strip_prefix(o.dir.path()).unwrap().display().to_string();
        if exempt.contains(&rel.as_str()) {
            continue;
        }
        sources.push((rel, std::fs::read(&f).unwrap()));
    }
    let mut bad = Vec::new();
    for (where_, bytes) in &sources {
        for (what, pattern) in patterns() {
            if find(bytes, pattern.as_bytes()) {
                bad.push(format!("`{}`: {where_}: contains the {what}", o.name));
            }
        }
        for t in token_like(&String::from_utf8_lossy(bytes)) {
            bad.push(format!(
                "`{}`: {where_}: contains a token-like value {t}",
                o.name
            ));
        }
    }
    bad
}

fn command(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_scalper"));
    cmd.current_dir(dir).env_clear().args(args);
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Runs `scalper args...` in a fresh directory (prepared by `setup`) off the async runtime.
async fn run(
    name: &str,
    args: Vec<String>,
    env: Vec<(String, String)>,
    setup: impl FnOnce(&Path) + Send + 'static,
) -> Outcome {
    let name = name.to_string();
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        setup(dir.path());
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let e: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let out = command(dir.path(), &a, &e).output().unwrap();
        Outcome {
            name,
            code: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr: out.stderr,
            dir,
        }
    })
    .await
    .unwrap()
}

/// `scalper sandbox` with sentinel credentials: started, read until it has printed everything
/// (deadline, no fixed sleep), then killed.
fn run_sandbox_command() -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let mut child = command(
        dir.path(),
        &[
            "sandbox",
            "--port",
            "0",
            "--username",
            USER,
            "--password",
            PASSWORD,
            "--api-key",
            API_KEY,
        ],
        &[],
    )
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
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = rx.recv_timeout(left) else {
            let _ = child.kill();
            panic!("`scalper sandbox` did not finish printing: {printed:?}");
        };
        let done = line.starts_with("Press Ctrl-C");
        printed.push(line);
        if done {
            break;
        }
    }
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let mut stdout = printed.join("\n").into_bytes();
    stdout.extend_from_slice(&out.stdout);
    Outcome {
        name: "sandbox".into(),
        code: 0,
        stdout,
        stderr: out.stderr,
        dir,
    }
}

async fn sandbox() -> SandboxHandle {
    Sandbox::start(SandboxConfig {
        credentials: Credentials {
            username: USER.into(),
            password: SecretString::from(PASSWORD),
            api_key: SecretString::from(API_KEY),
        },
        speed: 30.0,
        schedule: MarketSchedule::AlwaysOpen,
        warmup: Duration::from_secs(15 * 60),
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(ToString::to_string).collect()
}

fn write_600(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

const QUOTES_CSV: &str = "ts_ms,bid,ask\n";

fn quotes(dir: &Path) {
    let mut text = QUOTES_CSV.to_string();
    for i in 0..400i64 {
        let bid = 1.1 + f64::from(i32::try_from(i % 37).unwrap()) * 0.0001;
        writeln!(
            text,
            "{},{bid:.5},{:.5}",
            1_704_182_400_000 + i * 250,
            bid + 0.0001
        )
        .unwrap();
    }
    std::fs::write(dir.join("q.csv"), text).unwrap();
}

/// A command to run: name, arguments, environment, expected exit code.
type Job<'a> = (&'static str, Vec<&'a str>, Vec<(String, String)>, i32);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_subcommand_leaks_credentials_or_tokens() {
    let started = Instant::now();
    let sb = sandbox().await;
    let url = sb.rest_url();
    let ig_env = |version: &str| -> Vec<(String, String)> {
        vec![
            ("IG_USERNAME".into(), USER.into()),
            ("IG_PASSWORD".into(), PASSWORD.into()),
            ("IG_API_KEY".into(), API_KEY.into()),
            ("IG_API_URL".into(), url.clone()),
            ("IG_SESSION_VERSION".into(), version.into()),
        ]
    };
    let sim_now = sb.state().sim_time.millis();
    let from = (sim_now - 10 * 60_000).to_string();
    let to = (sim_now - 60_000).to_string();
    let env_file = format!(
        "IG_USERNAME={USER}\nIG_PASSWORD='{PASSWORD}'\nIG_API_KEY=\"{API_KEY}\"\nIG_API_URL={url}\n"
    );

    // Everything that does not need another command's output, all at once.
    let mut set = tokio::task::JoinSet::new();
    let jobs: Vec<Job> = vec![
        ("--help", vec!["--help"], ig_env("2"), 0),
        ("config check", vec!["-vv", "config", "check"], vec![], 0),
        (
            "config check --json",
            vec!["config", "check", "--json"],
            ig_env("2"),
            0,
        ),
        (
            "test (v2)",
            vec!["-vv", "test", "EUR_USD", "--json"],
            ig_env("2"),
            0,
        ),
        (
            "test (v3)",
            vec!["-vv", "test", "EUR_USD", "--json"],
            ig_env("3"),
            0,
        ),
        (
            "test --trade",
            vec!["-vv", "test", "EUR_USD", "--trade"],
            ig_env("2"),
            0,
        ),
        (
            "run --paper",
            vec!["-v", "run", "--paper", "--duration", "3s", "--json"],
            ig_env("2"),
            0,
        ),
        (
            "run (dealing, v3)",
            vec!["-v", "run", "--duration", "3s", "--json"],
            ig_env("3"),
            0,
        ),
        (
            "demo",
            vec!["demo", "--duration", "3s", "--speed", "30", "--json"],
            ig_env("2"),
            0,
        ),
        (
            "prices",
            vec![
                "-vv",
                "prices",
                "EUR_USD",
                "--resolution",
                "MINUTE",
                "--from",
                &from,
                "--to",
                &to,
                "--out",
                "p.csv",
            ],
            ig_env("2"),
            0,
        ),
        (
            "synth",
            vec!["synth", "--quotes", "500", "--seed", "3", "--out", "s.csv"],
            ig_env("2"),
            0,
        ),
        (
            "backtest",
            vec![
                "backtest",
                "--data",
                "q.csv",
                "--strategy",
                "ema-cross",
                "--set",
                "fast=3",
                "--set",
                "slow=8",
                "--trades",
                "trades.csv",
                "--json",
            ],
            ig_env("2"),
            0,
        ),
        (
            "sweep",
            vec![
                "sweep",
                "--data",
                "q.csv",
                "--strategy",
                "ema-cross",
                "--grid",
                "fast=3,5",
                "--grid",
                "slow=8,13",
                "--jobs",
                "1",
            ],
            ig_env("2"),
            0,
        ),
    ];
    for (name, args, env, want) in jobs {
        let args = strings(&args);
        let env_file = env_file.clone();
        let with_env_file = name == "config check";
        let needs_quotes = matches!(name, "backtest" | "sweep");
        set.spawn(async move {
            let o = run(name, args, env, move |d| {
                if with_env_file {
                    write_600(&d.join(".env.scalper"), &env_file);
                }
                if needs_quotes {
                    quotes(d);
                }
            })
            .await;
            (o, want)
        });
    }
    let sandbox_cmd = tokio::task::spawn_blocking(run_sandbox_command);

    let mut outcomes = Vec::new();
    while let Some(r) = set.join_next().await {
        outcomes.push(r.unwrap());
    }
    // The journal commands read the journal the dealing run wrote.
    let journal_dir = outcomes
        .iter()
        .find(|(o, _)| o.name == "run (dealing, v3)")
        .map(|(o, _)| o.dir.path().join("data"))
        .unwrap();
    assert!(
        journal_dir.join("journal.sqlite").exists(),
        "the dealing run wrote no journal"
    );
    let journal_jobs: Vec<(&str, Vec<&str>)> = vec![
        ("journal list", vec!["journal", "list", "--json"]),
        ("journal show", vec!["journal", "show", "1"]),
        (
            "journal export --csv",
            vec!["journal", "export", "--csv", "--out", "export.csv"],
        ),
        (
            "journal export --json",
            vec!["journal", "export", "--json", "--out", "export.json"],
        ),
        ("report", vec!["report", "--json"]),
    ];
    let journal_dir = Arc::new(journal_dir);
    for (name, args) in journal_jobs {
        let src = journal_dir.clone();
        let o = run(name, strings(&args), ig_env("2"), move |d| {
            copy_dir(&src, &d.join("data"));
        })
        .await;
        // `journal show 1` may find no trade if the run opened none: 0 or a clean "not found".
        let want = if name == "journal show" { o.code } else { 0 };
        outcomes.push((o, want));
    }

    let mut violations = Vec::new();
    for (o, want) in &outcomes {
        assert_eq!(o.code, *want, "{o:?}");
        let files = files_under(o.dir.path());
        let bytes: u64 = files
            .iter()
            .map(|f| f.metadata().map_or(0, |m| m.len()))
            .sum();
        eprintln!(
            "scanned `{}`: exit {}, {} B stdout, {} B stderr, {} files ({bytes} B)",
            o.name,
            o.code,
            o.stdout.len(),
            o.stderr.len(),
            files.len()
        );
        let exempt: &[&str] = if o.name == "config check" {
            &[".env.scalper"]
        } else {
            &[]
        };
        violations.extend(scan(o, false, exempt));
    }
    let sandbox_out = sandbox_cmd.await.unwrap();
    let stdout = String::from_utf8_lossy(&sandbox_out.stdout);
    // Self-check of the scanner: `scalper sandbox` prints its credentials, and the scan of its
    // stdout (were it not exempt) finds them.
    assert!(stdout.contains(PASSWORD), "{sandbox_out:?}");
    let probe = Outcome {
        name: "probe".into(),
        code: 0,
        stdout: sandbox_out.stdout.clone(),
        stderr: Vec::new(),
        dir: tempfile::tempdir().unwrap(),
    };
    assert!(
        scan(&probe, false, &[]).len() >= 2,
        "the scanner misses plain secrets"
    );
    violations.extend(scan(&sandbox_out, true, &[]));

    // The runs logged in for real (so their logs had tokens to leak).
    let state = sb.state();
    assert!(
        state.logins.values().sum::<u64>() >= 5,
        "too few logins: {state:?}"
    );
    assert!(
        violations.is_empty(),
        "secrets leaked:\n{}",
        violations.join("\n")
    );
    // Every command left a log file to scan (except --help, which exits before logging).
    for (o, _) in &outcomes {
        if o.name != "--help" {
            assert!(
                files_under(o.dir.path())
                    .iter()
                    .any(|f| f.to_string_lossy().contains("scalping_engine.log")),
                "`{}` wrote no log file",
                o.name
            );
        }
    }
    sb.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(90),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn encodings_match_known_values() {
    // The scanner's encoders against reference values, so a broken encoder cannot hide a leak.
    assert_eq!(b64(b"Man", false), "TWFu");
    assert_eq!(b64(b"Ma", false), "TWE");
    assert_eq!(b64(b"\xfb\xff", true), "-_8");
    assert_eq!(percent_encode("a/+&= b"), "a%2F%2B%26%3D%20b");
    let basic = b64(format!("{USER}:{PASSWORD}").as_bytes(), false);
    assert!(
        forms("password", PASSWORD)
            .iter()
            .any(|(_, p)| p.len() > 8 && basic.contains(p.as_str())),
        "a Basic header holding the password is found"
    );
    assert_eq!(
        token_like("cst=0123456789abcdef0123456789abcdef; x"),
        vec!["0123456789abcdef0123456789abcdef".to_string()]
    );
    assert!(token_like("0123456789abcdef0123456789abcdef0").is_empty());
}
