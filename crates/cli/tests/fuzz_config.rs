//! Fuzzing of configuration parsing: the env-file parser on arbitrary and env-file-shaped
//! text, and the whole loader (`config::load` through a `Context`) on arbitrary env files and
//! TOML files written to a temporary directory, including the `[engine]` section every
//! trading and research command reads. Never a panic, and never a secret in an error, the
//! `config check` report (text or JSON) or a Debug rendering.
//!
//! `SCALPER_FUZZ_CASES=20000 cargo test -p scalper-cli --test fuzz_config` runs longer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use scalper_cli::args::GlobalArgs;
use scalper_cli::config::dotenv;
use scalper_cli::Context;
use secrecy::ExposeSecret;

const PASSWORD: &str = "FUZZPW-9b1e77";
const API_KEY: &str = "FUZZKEY-5d0c3a";

fn cases(default: u32) -> u32 {
    std::env::var("SCALPER_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config(default: u32) -> Config {
    Config {
        cases: cases(default),
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..Config::default()
    }
}

/// The README's example `scalper.toml`, the seed of the TOML mutations.
const EXAMPLE_TOML: &str = r#"
[ig]
username = "alice"
demo = true
session_version = 2

[epics]
EUR_USD = "CS.D.EURUSD.MINI.IP"

[engine]
on_broker_failure = "halt"

[engine.strategy]
kind = "scalper"
fast_period = 8
slow_period = 21
stop_atr = 2
target_atr = 3

[engine.risk]
risk_per_trade = { percent = 0.5 }
max_open_positions = 3
max_open_per_instrument = 1
max_trades_per_day = 50
max_spread_points = 5
cooldown_after_losses = 3
cooldown_ms = 300000
stale_quote_ms = 5000
reject_cooldown_ms = 10000
daily_loss_limit = 500
session_timezone = "Europe/London"
session_start = "00:00"
trading_hours = [{ start = "08:00", end = "17:00", timezone = "Europe/London" }]

[engine.kill_switch]
close_positions = true

[engine.instruments.EUR_USD]
max_spread_points = 2
"#;

/// Loads a working directory's configuration the way every command does and renders it.
/// Panics (failing the test) if a secret shows up anywhere it must not.
fn load_dir(dir: &std::path::Path, env_file: Option<&str>) {
    let global = GlobalArgs {
        env_file: env_file.map(Into::into),
        ..GlobalArgs::default()
    };
    let ctx = Context::new(global, dir.to_path_buf(), Vec::new());
    let report = ctx.config();
    let text = report.to_text();
    let json = report.to_json().to_string();
    let debug = format!("{report:?}");
    for (what, s) in [("text", &text), ("json", &json), ("debug", &debug)] {
        for secret in [PASSWORD, API_KEY] {
            assert!(
                !s.contains(secret),
                "config report ({what}) shows a secret:\n{s}"
            );
        }
    }
    if let Err(e) = ctx.ig_config() {
        assert!(!e.to_string().contains(PASSWORD));
    }
    match scalper_cli::commands::run::engine_config(&ctx) {
        Ok(cfg) => drop(format!("{cfg:?}")),
        Err(e) => {
            let msg = format!("{e:#}");
            assert!(!msg.contains(PASSWORD) && !msg.contains(API_KEY), "{msg}");
        }
    }
    let _ = ctx.resolve_epic("EUR_USD");
}

fn env_line() -> impl Strategy<Value = String> {
    // Secret sentinels only ever go to the secret variables: a username or URL is shown by
    // `config check` on purpose.
    let secret = (
        prop_oneof![Just("IG_PASSWORD"), Just("IG_API_KEY")],
        prop_oneof![
            Just(PASSWORD.to_string()),
            Just(API_KEY.to_string()),
            Just(format!("\"{PASSWORD}")),
            Just(format!("'{API_KEY}")),
            Just(format!("\"{PASSWORD}\" trailing")),
            Just(format!("{PASSWORD}\"x")),
            Just(format!("'{API_KEY}' x")),
            Just(format!("\"{PASSWORD}\\")),
            Just(format!(" {PASSWORD}=")),
            Just(format!(":{API_KEY}==")),
        ],
    )
        .prop_map(|(k, v)| (k.to_string(), v));
    let other_key = prop_oneof![
        Just("IG_USERNAME".to_string()),
        Just("IG_PASSWORD".to_string()),
        Just("IG_API_KEY".to_string()),
        Just("IG_DEMO".to_string()),
        Just("IG_API_URL".to_string()),
        Just("IG_SESSION_VERSION".to_string()),
        Just("IG_ACCOUNT_ID".to_string()),
        Just("IG_UNKNOWN".to_string()),
        "[A-Za-z_][A-Za-z0-9_]{0,8}".prop_map(|s| s),
        "\\PC{0,8}".prop_map(|s| s),
    ];
    let other_value = prop_oneof![
        Just("\"a\\\"b\\n\\t\\$\\\\\\q\"".to_string()),
        Just("'x # y'".to_string()),
        Just("true".to_string()),
        Just("http://127.0.0.1:1/gateway/deal".to_string()),
        Just("3".to_string()),
        Just(String::new()),
        "\\PC{0,16}".prop_map(|s| s),
        "[\"'\\\\#$= a-z]{0,12}".prop_map(|s| s),
    ];
    let pair = prop_oneof![1 => secret, 2 => (other_key, other_value)];
    (
        prop_oneof![
            Just(""),
            Just("export "),
            Just("export\t"),
            Just("  "),
            Just("# ")
        ],
        pair,
        prop_oneof![Just("="), Just(" = "), Just(""), Just("==")],
        prop_oneof![Just(""), Just(" # comment"), Just("\r")],
    )
        .prop_map(|(p, (k, v), eq, tail)| format!("{p}{k}{eq}{v}{tail}"))
}

fn env_file() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        proptest::collection::vec(env_line(), 0..12),
        prop_oneof![Just("\n"), Just("\r\n")],
    )
        .prop_map(|(bom, lines, nl)| {
            let body = lines.join(nl);
            if bom {
                format!("\u{feff}{body}")
            } else {
                body
            }
        })
}

/// TOML values that stress the `[engine]` deserialisers and validation.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("9223372036854775807".to_string()),
        Just("-9223372036854775808".to_string()),
        Just("1e308".to_string()),
        Just("-1e308".to_string()),
        Just("nan".to_string()),
        Just("inf".to_string()),
        Just("0.0000000000000000000000000001".to_string()),
        Just("\"79228162514264337593543950335\"".to_string()),
        Just("\"\"".to_string()),
        Just("\"25:99\"".to_string()),
        Just("\"Not/AZone\"".to_string()),
        Just("{ percent = -5 }".to_string()),
        Just("{ amount = 1e300 }".to_string()),
        Just("[]".to_string()),
        Just("[{ start = \"17:00\", end = \"08:00\", timezone = \"UTC\" }]".to_string()),
        Just("{}".to_string()),
        Just("true".to_string()),
        any::<i64>().prop_map(|i| i.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:?}")),
        "\\PC{0,12}".prop_map(|s| toml::Value::String(s).to_string()),
    ]
}

/// The example with some values replaced, some lines dropped or duplicated, and possibly a
/// secret key added (which must be refused without echoing the value).
fn mutated_toml() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec((any::<usize>(), toml_value()), 0..6),
        proptest::collection::vec(any::<usize>(), 0..3),
        prop_oneof![
            4 => Just(String::new()),
            1 => Just(format!("password = \"{PASSWORD}\"\n")),
            1 => Just(format!("[ig]\napi_key = \"{API_KEY}\"\n")),
            1 => Just(format!("[engine.x]\nToken = \"{PASSWORD}\"\n")),
        ],
    )
        .prop_map(|(replacements, drops, extra)| {
            let mut lines: Vec<String> = EXAMPLE_TOML.lines().map(str::to_string).collect();
            let value_lines: Vec<usize> = lines
                .iter()
                .enumerate()
                .filter(|(_, l)| l.contains(" = "))
                .map(|(i, _)| i)
                .collect();
            for (sel, v) in replacements {
                let i = value_lines[sel % value_lines.len()];
                let key = lines[i].split(" = ").next().unwrap_or("k").to_string();
                lines[i] = format!("{key} = {v}");
            }
            for d in drops {
                let i = d % lines.len();
                lines.remove(i);
            }
            format!("{extra}{}", lines.join("\n"))
        })
}

#[test]
fn the_example_toml_loads_and_a_secret_in_it_is_refused_unechoed() {
    // Guards the harness: the unmutated seed must be a valid configuration.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("scalper.toml"), EXAMPLE_TOML).unwrap();
    let ctx = Context::new(GlobalArgs::default(), dir.path().to_path_buf(), Vec::new());
    assert!(
        ctx.config().problems.is_empty(),
        "{:?}",
        ctx.config().problems
    );
    scalper_cli::commands::run::engine_config(&ctx).unwrap();

    std::fs::write(
        dir.path().join("scalper.toml"),
        format!("[ig]\npassword = \"{PASSWORD}\"\n"),
    )
    .unwrap();
    let ctx = Context::new(GlobalArgs::default(), dir.path().to_path_buf(), Vec::new());
    let problems = ctx.config().problems.join("\n");
    assert!(problems.contains("ig.password"), "{problems}");
    assert!(!problems.contains(PASSWORD), "{problems}");
}

#[test]
fn malformed_lines_never_echo_the_secret_before_the_equals_sign() {
    // Found by the `env_file` libFuzzer target: the "invalid variable name" error used to quote
    // the text before `=`, which on these lines is (part of) the secret.
    for text in [
        format!("IG_PASSWORD {PASSWORD}=="),
        format!("export IG_API_KEY {API_KEY}=x"),
        format!("{PASSWORD} IG_PASSWORD=x"),
        format!("IG_USERNAME=a\nIG_PASSWORD:{PASSWORD}=\n"),
    ] {
        let e = dotenv::parse(&text).unwrap_err();
        assert!(e.to_string().contains("invalid variable name"), "{e}");
        assert!(!e.to_string().contains(PASSWORD), "{e}");
        assert!(!e.to_string().contains(API_KEY), "{e}");
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn dotenv_arbitrary_text_never_panics(text in "\\PC{0,400}") {
        let _ = dotenv::parse(&text);
    }

    #[test]
    fn dotenv_errors_never_echo_values(text in env_file()) {
        match dotenv::parse(&text) {
            Ok(entries) => {
                for e in &entries {
                    prop_assert!(e.line >= 1 && e.line <= text.lines().count().max(1));
                    let debug = format!("{e:?}");
                    prop_assert!(!debug.contains(PASSWORD) && !debug.contains(API_KEY), "{}", debug);
                    let _ = e.value.expose_secret();
                }
            }
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(!msg.contains(PASSWORD) && !msg.contains(API_KEY), "{}", msg);
            }
        }
    }
}

proptest! {
    // Each case writes files and loads them: fewer cases by default.
    #![proptest_config(config(96))]

    #[test]
    fn loading_arbitrary_files_never_panics_or_leaks(
        env in env_file(),
        env_bytes in proptest::collection::vec(any::<u8>(), 0..64),
        toml_text in mutated_toml(),
        raw_toml in "\\PC{0,120}",
        pick in 0u8..4,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        match pick {
            0 => {
                std::fs::write(p.join(".env.scalper"), &env).unwrap();
                std::fs::write(p.join("scalper.toml"), &toml_text).unwrap();
                load_dir(p, None);
            }
            1 => {
                std::fs::write(p.join(".env"), &env_bytes).unwrap();
                std::fs::write(p.join("scalper.toml"), &raw_toml).unwrap();
                load_dir(p, None);
            }
            2 => {
                std::fs::write(p.join("custom.env"), &env).unwrap();
                std::fs::write(p.join("scalper.toml"), &toml_text).unwrap();
                load_dir(p, Some("custom.env"));
            }
            _ => {
                std::fs::write(p.join(".env.scalper"), &env).unwrap();
                std::fs::write(p.join(".env"), format!("IG_PASSWORD={PASSWORD}X\n{env}")).unwrap();
                load_dir(p, None);
            }
        }
    }
}
