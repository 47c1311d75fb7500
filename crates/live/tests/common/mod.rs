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
