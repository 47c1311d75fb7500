//! Shared harness for the client-against-sandbox tests: a paused, always-open sandbox.

#![allow(dead_code, clippy::expect_used)]

use scalper_sandbox::{Sandbox, SandboxConfig, SandboxHandle};

pub const EURUSD: &str = "CS.D.EURUSD.CFD.IP";

pub async fn start() -> SandboxHandle {
    start_with(SandboxConfig::for_tests()).await
}

pub async fn start_with(cfg: SandboxConfig) -> SandboxHandle {
    Sandbox::start(cfg).await.expect("sandbox starts")
}
