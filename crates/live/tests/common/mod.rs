//! Shared by the live runtime's tests and benchmark: an IG client for a sandbox, and a strategy
//! that deals on every EMA 2/n cross.
#![allow(dead_code, clippy::unwrap_used)]

use rust_decimal::Decimal;
use scalper_engine::{EngineConfig, StrategyConfig};
use scalper_ig::{Environment, IgClient, IgConfig, SessionVersion};
use scalper_sandbox::SandboxHandle;

/// The sandbox's default credentials and URL, with `adjust` applied to the configuration.
pub fn client_with(
    sandbox: &SandboxHandle,
    version: SessionVersion,
    adjust: impl FnOnce(&mut IgConfig),
) -> IgClient {
    let c = sandbox.credentials();
    let mut cfg = IgConfig::new(
        Environment::Demo,
        c.username.clone(),
        c.password.clone(),
        c.api_key.clone(),
    )
    .with_api_url(sandbox.rest_url())
    .with_session_version(version);
    adjust(&mut cfg);
    IgClient::new(cfg).unwrap()
}

pub fn client_for(sandbox: &SandboxHandle, version: SessionVersion) -> IgClient {
    client_with(sandbox, version, |_| {})
}

/// EMA 2/`slow` crosses, one contract, no limits that would stop it dealing often.
pub fn busy_ema_config(seed: u64, slow: u32) -> EngineConfig {
    let mut cfg = EngineConfig {
        seed,
        strategy: StrategyConfig::from_name("ema-cross").unwrap(),
        ..EngineConfig::default()
    };
    if let StrategyConfig::EmaCross(c) = &mut cfg.strategy {
        c.fast = 2;
        c.slow = slow;
        c.size = Decimal::ONE;
    }
    cfg.risk.max_trades_per_day = 1_000_000;
    cfg.risk.cooldown_after_losses = 0;
    cfg.risk.reject_cooldown_ms = 0;
    cfg.risk.max_spread_points = None;
    cfg.risk.daily_loss_limit = None;
    cfg
}

/// Every log line of the test process, for conditions to wait on: install with
/// [`Logs::install`] once per test binary.
#[derive(Clone, Default)]
pub struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Logs {
    /// A new buffer, installed as the process's tracing subscriber (INFO and above).
    pub fn install() -> Self {
        let logs = Self::default();
        let sink = logs.clone();
        tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .init();
        logs
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
