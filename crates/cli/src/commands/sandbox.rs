//! `scalper sandbox`: the IG-compatible sandbox broker on loopback until Ctrl-C. Prints its
//! REST URL and credentials. A non-loopback `--bind` is refused (exit 2) unless
//! `--allow-remote` is given too, and then warned about loudly.

use std::process::ExitCode;

use anyhow::Context as _;
use scalper_sandbox::{Credentials, Sandbox, SandboxConfig};
use secrecy::{ExposeSecret, SecretString};

use crate::args::SandboxArgs;
use crate::config::ConfigError;
use crate::exit::SUCCESS;
use crate::Context;

/// The sandbox configuration the flags describe.
pub fn sandbox_config(args: &SandboxArgs) -> Result<SandboxConfig, ConfigError> {
    if !args.is_loopback() && !args.allow_remote {
        return Err(ConfigError::Usage(format!(
            "refusing --bind {}: it is not a loopback address, so anyone who can reach this \
             machine's port {} could log in to the sandbox with its credentials and use its admin \
             API (which has no authentication). Use --bind 127.0.0.1 (the default), or add \
             --allow-remote to expose it on purpose.",
            args.bind, args.port
        )));
    }
    let mut cfg = SandboxConfig {
        bind: args.bind,
        allow_remote: args.allow_remote,
        port: args.port,
        ..SandboxConfig::default()
    };
    if let Some(seed) = args.seed {
        cfg.seed = seed;
    }
    if args.always_open {
        cfg.schedule = scalper_sandbox::MarketSchedule::AlwaysOpen;
    }
    cfg.start_time = args.start_time.or(cfg.start_time);
    cfg.holidays.clone_from(&args.holiday);
    if let Some(speed) = args.speed {
        cfg.speed = speed;
    }
    if let Some(ttl) = args.token_ttl {
        cfg.token_idle_ttl = ttl;
    }
    if let Some(ttl) = args.oauth_ttl {
        cfg.oauth_expires_in = ttl;
    }
    let default = Credentials::default();
    cfg.credentials = Credentials {
        username: args.username.clone().unwrap_or(default.username),
        password: args
            .password
            .clone()
            .map_or(default.password, SecretString::from),
        api_key: args
            .api_key
            .clone()
            .map_or(default.api_key, SecretString::from),
    };
    if let Some(account) = &args.default_account {
        cfg.default_account.clone_from(account);
    }
    if cfg.credentials.username.trim().is_empty() {
        return Err(ConfigError::Usage("--username must not be empty".into()));
    }
    if let Some(spec) = &args.faults {
        cfg.faults = SandboxConfig::parse_faults(spec)
            .map_err(|e| ConfigError::Usage(format!("--faults: {e}")))?;
    }
    Ok(cfg)
}

pub async fn run(args: &SandboxArgs, _ctx: &Context) -> anyhow::Result<ExitCode> {
    let cfg = sandbox_config(args)?;
    if !args.is_loopback() {
        // Only reachable with --allow-remote (sandbox_config refuses otherwise).
        let msg = format!(
            "--allow-remote: the sandbox is bound to {} and reachable from the network: anyone who \
             can reach this port can log in with the credentials below and drive its admin API. \
             Use --bind 127.0.0.1 unless you mean it.",
            args.bind
        );
        eprintln!("\n!!! WARNING !!! {msg}\n");
        tracing::warn!(bind = %args.bind, "sandbox bound to a non-loopback address");
    }
    let handle = Sandbox::start(cfg)
        .await
        .with_context(|| format!("starting the sandbox on {}:{}", args.bind, args.port))?;
    let creds = handle.credentials();
    let (cfd, sb) = handle.account_ids();
    outln!("scalper sandbox: an IG-compatible broker (simulated markets, no real money)");
    outln!("  REST base URL:   {}", handle.rest_url());
    outln!("  streaming URL:   {}", handle.stream_url());
    outln!("  admin API:       {}", handle.admin_url());
    outln!("  username:        {}", creds.username);
    outln!("  password:        {}", creds.password.expose_secret());
    outln!("  API key:         {}", creds.api_key.expose_secret());
    outln!("  accounts:        {cfd} (CFD), {sb} (spread bet)");
    outln!(
        "  default account: {} for {}",
        handle.config().default_account,
        creds.username
    );
    if let Some(u) = &handle.config().spread_bet_user {
        outln!("  spread-bet user: {u} (same password; lands on {sb})");
    }
    let speed = handle.config().speed;
    if speed > 0.0 {
        outln!("  market speed:    {speed} simulated second(s) per second");
    } else {
        outln!(
            "  market speed:    paused (--speed 0): quotes move only through POST {0}/step and {0}/price",
            handle.admin_url()
        );
    }
    outln!("Point scalper at it with:");
    outln!("  export IG_API_URL={}", handle.rest_url());
    outln!(
        "  export IG_USERNAME={} IG_PASSWORD={} IG_API_KEY={}",
        creds.username,
        creds.password.expose_secret(),
        creds.api_key.expose_secret()
    );
    outln!("Press Ctrl-C to stop.");
    tracing::info!(url = %handle.rest_url(), "sandbox running");
    handle
        .run_until_ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    Ok(ExitCode::from(SUCCESS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::Cli;
    use clap::Parser;

    fn args(extra: &[&str]) -> SandboxArgs {
        let mut v = vec!["scalper", "sandbox"];
        v.extend_from_slice(extra);
        match Cli::try_parse_from(v).unwrap().command {
            crate::args::Command::Sandbox(a) => a,
            _ => unreachable!(),
        }
    }

    #[test]
    fn flags_map_onto_the_sandbox_config() {
        let a = args(&[
            "--port",
            "0",
            "--seed",
            "7",
            "--speed",
            "10",
            "--token-ttl",
            "30s",
            "--oauth-ttl",
            "5s",
            "--username",
            "u",
            "--password",
            "p",
        ]);
        assert!(a.is_loopback());
        let c = sandbox_config(&a).unwrap();
        assert_eq!((c.port, c.seed), (0, 7));
        assert!((c.speed - 10.0).abs() < f64::EPSILON);
        assert_eq!(c.token_idle_ttl, std::time::Duration::from_secs(30));
        assert_eq!(c.oauth_expires_in, std::time::Duration::from_secs(5));
        assert_eq!(c.credentials.username, "u");
        assert_eq!(c.credentials.password.expose_secret(), "p");
        assert_eq!(c.credentials.api_key.expose_secret(), "sandbox-api-key");
        assert!(!args(&["--bind", "0.0.0.0"]).is_loopback());
        assert!(!c.allow_remote);
        assert_eq!(c.default_account, "SANDBOX-CFD");
        let sb = sandbox_config(&args(&["--default-account", "spread-bet"])).unwrap();
        assert_eq!(sb.default_account, "SANDBOX-SB");
        let bad = Cli::try_parse_from(["scalper", "sandbox", "--default-account", "isa"]);
        assert!(bad.is_err_and(|e| e.to_string().contains("spread-bet")));
    }

    #[test]
    fn non_loopback_bind_needs_allow_remote() {
        for bind in ["0.0.0.0", "::", "192.0.2.1"] {
            let e = sandbox_config(&args(&["--bind", bind])).unwrap_err();
            assert!(matches!(e, ConfigError::Usage(_)), "{e}");
            let msg = e.to_string();
            assert!(
                msg.contains(bind) && msg.contains("--allow-remote") && msg.contains("loopback"),
                "{msg}"
            );
            let c = sandbox_config(&args(&["--bind", bind, "--allow-remote"])).unwrap();
            assert!(c.allow_remote);
            assert_eq!(c.bind.to_string(), bind);
        }
        for bind in ["127.0.0.1", "::1", "127.0.0.5"] {
            let c = sandbox_config(&args(&["--bind", bind])).unwrap();
            assert!(!c.allow_remote, "{bind}");
        }
    }

    #[test]
    fn bad_fault_spec_is_a_usage_error() {
        let e = sandbox_config(&args(&["--faults", "no-such-fault=3"])).unwrap_err();
        assert!(e.to_string().starts_with("--faults:"), "{e}");
    }
}
