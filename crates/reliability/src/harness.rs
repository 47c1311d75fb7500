//! The crash harness: `scalper run` as a child process against an in-process sandbox, started
//! from the binary the caller names, killed with SIGKILL and restarted on the same journal.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use scalper_sandbox::{SandboxHandle, StateSnapshot};
use secrecy::ExposeSecret as _;

use crate::error::ReliabilityError;

/// The sandbox account the engine trades (the sandbox's default account).
pub const ACCOUNT: &str = "SANDBOX-CFD";

/// How the engine runs under the harness.
#[derive(Debug, Clone)]
pub struct EngineSetup {
    /// The `scalper` binary to run as the engine: the harness never guesses it (a test passes
    /// `env!("CARGO_BIN_EXE_scalper")`, the `scalper soak` command `std::env::current_exe()`).
    pub exe: PathBuf,
    /// Working directory: `scalper.toml`, `data/journal.sqlite`, `logs/` and the runs' output.
    pub dir: PathBuf,
    /// `--instruments` value.
    pub instruments: String,
    /// Extra TOML appended to the generated `scalper.toml` (`[engine...]` sections).
    pub extra_toml: String,
}

/// A running engine process.
#[derive(Debug)]
pub struct EngineProcess {
    child: Child,
    /// The run's number (its output is in `run-N.out` / `run-N.err`).
    pub run: u32,
    pub started: Instant,
}

/// A harness around one sandbox and one engine working directory.
#[derive(Debug)]
pub struct Harness {
    setup: EngineSetup,
    env: Vec<(String, String)>,
    runs: u32,
}

impl Harness {
    /// Writes `scalper.toml` into the working directory and prepares the child environment
    /// (the sandbox's URL and credentials; nothing is inherited from the caller's IG_* vars).
    pub fn new(setup: EngineSetup, sandbox: &SandboxHandle) -> Result<Self, ReliabilityError> {
        std::fs::create_dir_all(&setup.dir).map_err(ReliabilityError::io(format!(
            "creating {}",
            setup.dir.display()
        )))?;
        let toml = format!(
            "[journal]\npath = \"data/journal.sqlite\"\n\n{}\n",
            setup.extra_toml
        );
        std::fs::write(setup.dir.join("scalper.toml"), toml)
            .map_err(ReliabilityError::io("writing scalper.toml"))?;
        let c = sandbox.credentials();
        let env = vec![
            ("IG_USERNAME".into(), c.username.clone()),
            ("IG_PASSWORD".into(), c.password.expose_secret().to_string()),
            ("IG_API_KEY".into(), c.api_key.expose_secret().to_string()),
            ("IG_API_URL".into(), sandbox.rest_url()),
            ("IG_DEMO".into(), "true".into()),
            ("IG_SESSION_VERSION".into(), "2".into()),
        ];
        Ok(Self {
            setup,
            env,
            runs: 0,
        })
    }

    pub fn journal_path(&self) -> PathBuf {
        self.setup.dir.join("data").join("journal.sqlite")
    }

    pub fn dir(&self) -> &Path {
        &self.setup.dir
    }

    /// Uses a v3 (OAuth) session instead of v2 for the next runs.
    pub fn set_session_version(&mut self, version: &str) {
        for (k, v) in &mut self.env {
            if k == "IG_SESSION_VERSION" {
                *v = version.to_string();
            }
        }
    }

    /// Starts `scalper run` (for `duration`, or until killed or interrupted).
    pub fn spawn(&mut self, duration: Option<Duration>) -> Result<EngineProcess, ReliabilityError> {
        self.runs += 1;
        let run = self.runs;
        let out = File::create(self.setup.dir.join(format!("run-{run}.out")))
            .map_err(ReliabilityError::io("creating the run's stdout file"))?;
        let err = File::create(self.setup.dir.join(format!("run-{run}.err")))
            .map_err(ReliabilityError::io("creating the run's stderr file"))?;
        let mut cmd = Command::new(&self.setup.exe);
        cmd.current_dir(&self.setup.dir)
            .args(["run", "--json", "--instruments", &self.setup.instruments])
            .env_clear()
            .envs(
                std::env::vars_os()
                    .filter(|(k, _)| k == "PATH" || k == "HOME" || k == "LANG" || k == "TZ"),
            )
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        if let Some(d) = duration {
            cmd.args(["--duration", &format!("{}ms", d.as_millis())]);
        }
        let child = cmd.spawn().map_err(ReliabilityError::io(format!(
            "starting {}",
            self.setup.exe.display()
        )))?;
        Ok(EngineProcess {
            child,
            run,
            started: Instant::now(),
        })
    }

    /// The output of run `n` (stdout then stderr), for failure messages.
    pub fn output_of(&self, n: u32) -> String {
        let read = |ext: &str| {
            std::fs::read_to_string(self.setup.dir.join(format!("run-{n}.{ext}")))
                .unwrap_or_default()
        };
        format!(
            "--- run {n} stdout\n{}--- run {n} stderr\n{}",
            read("out"),
            read("err")
        )
    }

    /// Waits until run `proc` says it is ready to trade (logged in, reconciled), up to `limit`.
    pub async fn wait_ready(&self, proc: &mut EngineProcess, limit: Duration) -> bool {
        let file = self.setup.dir.join(format!("run-{}.err", proc.run));
        let deadline = Instant::now() + limit;
        loop {
            if std::fs::read_to_string(&file)
                .unwrap_or_default()
                .contains("ready to trade after")
            {
                return true;
            }
            if Instant::now() >= deadline || matches!(proc.try_wait(), Ok(Some(_))) {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Appends a line to `harness.log` in the working directory (what was done when).
    pub fn note(&self, line: &str) {
        use std::io::Write as _;
        if let Ok(mut f) = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.setup.dir.join("harness.log"))
        {
            let _ = writeln!(f, "{line}");
        }
    }
}

impl EngineProcess {
    /// SIGKILL: no destructor, no flush, no goodbye. Waits for the process to be gone.
    pub fn kill(&mut self) -> Result<(), ReliabilityError> {
        // `Child::kill` sends SIGKILL on Unix.
        if self.try_wait()?.is_none() {
            self.child
                .kill()
                .map_err(ReliabilityError::io("killing the engine"))?;
        }
        self.child
            .wait()
            .map_err(ReliabilityError::io("reaping the engine"))?;
        Ok(())
    }

    /// SIGINT (Ctrl-C): the engine's kill switch.
    pub fn interrupt(&self) -> Result<(), ReliabilityError> {
        self.signal("INT")
    }

    /// Sends signal `name` (`INT`, `TERM`, `HUP`, ...) with `kill -<name>`.
    pub fn signal(&self, name: &str) -> Result<(), ReliabilityError> {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .map_err(ReliabilityError::io(format!("running kill -{name}")))?;
        if !status.success() {
            return Err(ReliabilityError::Interrupt(status));
        }
        Ok(())
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The exit status if the process has exited, without waiting.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>, ReliabilityError> {
        self.child.try_wait().map_err(ReliabilityError::Wait)
    }

    /// Waits for the process to exit on its own, up to `limit`.
    pub async fn wait_exit(
        &mut self,
        limit: Duration,
    ) -> Result<Option<ExitStatus>, ReliabilityError> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(s) = self.try_wait()? {
                return Ok(Some(s));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for EngineProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Polls the sandbox until `cond` holds or `limit` passes; returns whether it held.
pub async fn wait_until(
    sandbox: &SandboxHandle,
    limit: Duration,
    mut cond: impl FnMut(&StateSnapshot) -> bool,
) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond(&sandbox.state()) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
