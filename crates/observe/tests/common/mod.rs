//! Shared by the observe tests: a run against an in-process sandbox with the HTTP server on an
//! ephemeral port, a small OpenMetrics text parser, and polling with deadlines.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use rust_decimal::Decimal;
use scalper_engine::{EngineConfig, RiskPerTrade};
use scalper_ig::{Environment, IgClient, IgConfig, SessionVersion};
use scalper_live::{Interrupts, KillSwitch, RunOptions, RunReport};
use scalper_model::Epic;
use scalper_observe::{HttpConfig, Server};
use scalper_sandbox::{MarketSchedule, Sandbox, SandboxConfig, SandboxHandle};
use tokio::task::JoinHandle;

/// A run like `scalper demo`'s (the built-in strategy, three FX markets, accelerated time)
/// with telemetry and the HTTP server.
pub struct Demo {
    pub sandbox: SandboxHandle,
    pub server: Server,
    pub base: String,
    pub kill: KillSwitch,
    pub run: JoinHandle<Result<RunReport, scalper_live::LiveError>>,
    pub journal: std::path::PathBuf,
    pub http: reqwest::Client,
    dir: tempfile::TempDir,
}

pub async fn start_demo(seed: u64, token: Option<&str>) -> Demo {
    start_demo_with(seed, token, None).await
}

/// [`start_demo`] with the run's last log lines taken from `log` (a layer of the test's
/// subscriber).
pub async fn start_demo_with(
    seed: u64,
    token: Option<&str>,
    log: Option<scalper_live::LogTail>,
) -> Demo {
    let sandbox = Sandbox::start(SandboxConfig {
        seed,
        speed: 30.0,
        schedule: MarketSchedule::AlwaysOpen,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let c = sandbox.credentials();
    let client = IgClient::new(
        IgConfig::new(
            Environment::Demo,
            c.username.clone(),
            c.password.clone(),
            c.api_key.clone(),
        )
        .with_api_url(sandbox.rest_url())
        .with_session_version(SessionVersion::V3),
    )
    .unwrap();
    let (telemetry, view) = scalper_live::telemetry();
    let view = match log {
        Some(tail) => view.with_log(tail),
        None => view,
    };
    let server = Server::start(
        HttpConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            allow_remote: false,
            control_token: token.map(secrecy::SecretString::from),
        },
        view,
    )
    .await
    .unwrap();
    let base = format!("http://{}", server.local_addr());
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.sqlite");
    let interrupts = Interrupts::manual();
    let kill = interrupts.kill_switch();
    let mut cfg = EngineConfig {
        seed,
        ..EngineConfig::default()
    };
    cfg.risk.risk_per_trade = RiskPerTrade::Amount(Decimal::from(15));
    cfg.risk.cooldown_after_losses = 0;
    let epics = [
        "CS.D.EURUSD.CFD.IP",
        "CS.D.GBPUSD.CFD.IP",
        "CS.D.USDJPY.CFD.IP",
    ]
    .iter()
    .map(|e| Epic::new(*e).unwrap())
    .collect();
    let opts = RunOptions {
        journal: Some(journal.clone()),
        durable_journal: false,
        interrupts: Some(interrupts),
        telemetry: Some(telemetry),
        ..RunOptions::default()
    };
    let run = tokio::spawn(scalper_live::run(client, cfg, epics, opts));
    Demo {
        sandbox,
        server,
        base,
        kill,
        run,
        journal,
        http: reqwest::Client::new(),
        dir,
    }
}

impl Demo {
    pub async fn get(&self, path: &str) -> (u16, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    pub async fn status(&self) -> serde_json::Value {
        let (code, body) = self.get("/api/status").await;
        assert_eq!(code, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    pub async fn metrics(&self) -> Metrics {
        let (code, body) = self.get("/metrics").await;
        assert_eq!(code, 200, "{body}");
        Metrics::parse(&body)
    }

    pub async fn post(&self, path: &str, auth: Option<&str>) -> (u16, serde_json::Value) {
        let mut req = self.http.post(format!("{}{path}", self.base));
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let r = req.send().await.unwrap();
        let code = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            code,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    }

    /// `POST path` from the source address `from` (another loopback address, for the
    /// per-source throttle): (status, JSON body, Retry-After).
    pub async fn post_from(
        &self,
        from: std::net::IpAddr,
        path: &str,
        auth: Option<&str>,
    ) -> (u16, serde_json::Value, Option<String>) {
        let client = reqwest::Client::builder()
            .local_address(from)
            .build()
            .unwrap();
        let mut req = client.post(format!("{}{path}", self.base));
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let r = req.send().await.unwrap();
        let code = r.status().as_u16();
        let retry_after = r
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        let text = r.text().await.unwrap();
        (
            code,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
            retry_after,
        )
    }

    /// Polls the status until `cond` holds (`secs` deadline).
    pub async fn wait_status(
        &self,
        what: &str,
        secs: u64,
        cond: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.status().await;
            if cond(&s) {
                return s;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}; last status: {s:#}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls the metrics until `cond` holds (`secs` deadline).
    pub async fn wait_metrics(
        &self,
        what: &str,
        secs: u64,
        cond: impl Fn(&Metrics) -> bool,
    ) -> Metrics {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let m = self.metrics().await;
            if cond(&m) {
                return m;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}; last metrics: {m:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Presses the kill switch (close everything, end the run) and waits for the report; the
    /// directory of the journal comes back with it.
    pub async fn stop(self) -> (RunReport, tempfile::TempDir) {
        self.kill.press();
        let report = tokio::time::timeout(Duration::from_secs(60), self.run)
            .await
            .expect("the run ends after the kill switch")
            .unwrap()
            .unwrap();
        self.server.shutdown().await;
        self.sandbox.shutdown().await;
        (report, self.dir)
    }
}

/// A parsed OpenMetrics text exposition: families with their type, samples by name and labels.
#[derive(Debug, Default)]
pub struct Metrics {
    pub types: BTreeMap<String, String>,
    pub samples: BTreeMap<(String, String), f64>,
}

impl Metrics {
    /// Parses every line; panics (the test fails) on a line that is not a comment, a sample
    /// or `# EOF`, or when `# EOF` is not last.
    pub fn parse(text: &str) -> Self {
        let mut m = Metrics::default();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines.last(),
            Some(&"# EOF"),
            "the exposition ends with # EOF"
        );
        for line in &lines[..lines.len() - 1] {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, ty) = rest.split_once(' ').expect("# TYPE name type");
                m.types.insert(name.to_string(), ty.to_string());
                continue;
            }
            if line.starts_with("# HELP ") || line.starts_with("# UNIT ") {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect("sample: series value");
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v
                    .parse()
                    .unwrap_or_else(|_| panic!("bad value in {line:?}")),
            };
            let (name, labels) = match series.split_once('{') {
                Some((n, l)) => (n, l.strip_suffix('}').expect("labels end with }")),
                None => (series, ""),
            };
            assert!(
                name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "bad metric name in {line:?}"
            );
            m.samples
                .insert((name.to_string(), labels.to_string()), value);
        }
        m
    }

    /// The value of `name` with exactly these labels (`epic="X"` style, comma-separated).
    pub fn get(&self, name: &str, labels: &str) -> Option<f64> {
        self.samples
            .get(&(name.to_string(), labels.to_string()))
            .copied()
    }

    pub fn value(&self, name: &str, labels: &str) -> f64 {
        self.get(name, labels)
            .unwrap_or_else(|| panic!("no sample {name}{{{labels}}} in {:#?}", self.samples.keys()))
    }

    /// The sum of every sample of `name` (any labels).
    pub fn sum(&self, name: &str) -> f64 {
        self.samples
            .iter()
            .filter(|((n, _), _)| n == name)
            .map(|(_, v)| v)
            .sum()
    }
}
