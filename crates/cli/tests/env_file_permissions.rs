//! An env file readable by group or others draws a warning from every command that reads the
//! env files, not only `config check`: on stderr and in the log file. A file with mode 600
//! draws none.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(unix)]

mod common;

use std::fmt::Write as _;
use std::sync::Arc;

use common::{Dir, Run};
use scalper_sandbox::{MarketSchedule, Sandbox, SandboxConfig};

const WARNING: &str = "readable by group or others (mode 644)";

async fn run(d: &Arc<Dir>, args: Vec<String>) -> Run {
    let d = d.clone();
    tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        d.run(&a, &[])
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_reading_env_files_warns_about_their_permissions() {
    let sb = Sandbox::start(SandboxConfig {
        schedule: MarketSchedule::AlwaysOpen,
        speed: 30.0,
        warmup: std::time::Duration::from_secs(15 * 60),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let env = format!(
        "IG_USERNAME=sandbox\nIG_PASSWORD=sandbox-pass\nIG_API_KEY=sandbox-api-key\nIG_API_URL={}\n",
        sb.rest_url()
    );
    let now = sb.state().sim_time.millis();
    let (from, to) = ((now - 5 * 60_000).to_string(), (now - 60_000).to_string());
    let mut quotes = String::from("ts_ms,bid,ask\n");
    for i in 0..200i64 {
        let bid = 1.1 + (i % 13) as f64 * 0.0001;
        writeln!(
            quotes,
            "{},{bid:.5},{:.5}",
            1_704_182_400_000 + i * 250,
            bid + 0.0001
        )
        .unwrap();
    }
    let commands: Vec<Vec<&str>> = vec![
        vec!["config", "check"],
        vec!["test", "EUR_USD"],
        vec!["run", "--paper", "--duration", "1s"],
        vec![
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
        vec!["synth", "--quotes", "100", "--out", "s.csv"],
        vec!["backtest", "--data", "q.csv", "--no-cache"],
        vec![
            "sweep",
            "--data",
            "q.csv",
            "--strategy",
            "ema-cross",
            "--grid",
            "fast=3",
            "--grid",
            "slow=8",
            "--jobs",
            "1",
        ],
        vec!["journal", "list"],
        vec!["report"],
    ];
    let mut set = tokio::task::JoinSet::new();
    for args in commands {
        let d = Arc::new(Dir::new());
        d.write_mode(".env.scalper", &env, 0o644);
        d.write("q.csv", &quotes);
        let args: Vec<String> = args.iter().map(ToString::to_string).collect();
        set.spawn(async move {
            let r = run(&d, args.clone()).await;
            (args.join(" "), r, d)
        });
    }
    let mut checked = 0;
    while let Some(res) = set.join_next().await {
        let (name, r, d) = res.unwrap();
        assert!(
            r.stderr.contains(WARNING),
            "`scalper {name}` did not warn on stderr: {r:?}"
        );
        assert!(
            d.logs().contains(WARNING),
            "`scalper {name}` did not log the warning: {}",
            d.logs()
        );
        // Not a blocking problem: the commands that need nothing else still succeed.
        if !name.starts_with("journal") && name != "report" {
            assert_eq!(r.code, 0, "`scalper {name}`: {r:?}");
        }
        checked += 1;
    }
    assert_eq!(checked, 9);

    // Mode 600: no warning.
    let d = Arc::new(Dir::new());
    d.write(".env.scalper", &env);
    let r = run(&d, vec!["test".into(), "EUR_USD".into()]).await;
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!r.all().contains("readable by group"), "{r:?}");
    assert!(!d.logs().contains("readable by group"));
    sb.shutdown().await;
}
