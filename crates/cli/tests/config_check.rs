//! `scalper config check` and configuration precedence, through the real binary.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: panics are failures

mod common;

use common::{assert_no_secret, complete_env, Dir, API_KEY, PASSWORD};

#[test]
fn complete_configuration_exits_0_with_redacted_values() {
    let d = Dir::new();
    d.write(".env", &complete_env("alice"));
    let r = d.run(&["config", "check"], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("Result: complete"), "{r:?}");
    assert!(r.stdout.contains("alice"), "{r:?}");
    assert!(r.stdout.contains("abcd…"), "{r:?}");
    assert!(
        r.stdout
            .contains(&format!("set ({} chars)", PASSWORD.len())),
        "{r:?}"
    );
    assert!(
        r.stdout
            .contains("Environment: DEMO (https://demo-api.ig.com/gateway/deal)"),
        "{r:?}"
    );
    assert_no_secret(&r.all());

    let j = d.run(&["config", "check", "--json"], &[]).json();
    assert_eq!(j["complete"], true);
    assert_eq!(j["environment"], "DEMO");
    assert_eq!(j["variables"]["IG_API_KEY"]["value"], "abcd…");
    assert_eq!(j["variables"]["IG_USERNAME"]["source_kind"], "env_file");
    assert!(j["variables"]["IG_USERNAME"]["source"]
        .as_str()
        .unwrap()
        .ends_with(".env:1"));
    assert_eq!(j["variables"]["IG_DEMO"]["source_kind"], "default");
    assert_no_secret(&j.to_string());
}

#[test]
fn missing_variables_exit_2_naming_them_and_the_files_searched() {
    let d = Dir::new();
    d.write(".env.scalper", "IG_USERNAME=bob\n");
    let r = d.run(&["config", "check"], &[]);
    assert_eq!(r.code, 2, "{r:?}");
    let missing_line = r
        .stdout
        .lines()
        .find(|l| l.contains("Missing:"))
        .unwrap_or_else(|| panic!("{r:?}"));
    assert!(missing_line.contains("IG_PASSWORD"), "{missing_line}");
    assert!(missing_line.contains("IG_API_KEY"), "{missing_line}");
    assert!(!missing_line.contains("IG_USERNAME"), "{missing_line}");
    assert!(missing_line.contains(".env.scalper"), "{missing_line}");
    assert!(
        missing_line.contains(".env,") || missing_line.ends_with(".env."),
        "{missing_line}"
    );

    let j = d.run(&["config", "check", "--json"], &[]).json();
    assert_eq!(j["complete"], false);
    assert_eq!(
        j["missing"],
        serde_json::json!(["IG_PASSWORD", "IG_API_KEY"])
    );
    let files: Vec<_> = j["files"].as_array().unwrap().iter().collect();
    assert_eq!(files.len(), 3, "two env files and the TOML file: {files:?}");
    assert_eq!(files[0]["found"], true);
    assert_eq!(files[1]["found"], false);
}

#[test]
fn precedence_flag_over_env_over_env_scalper_over_env() {
    let d = Dir::new();
    d.write(
        ".env",
        &format!(
            "{}IG_ACCOUNT_ID=FROMDOTENV\nIG_SESSION_VERSION=3\n",
            complete_env("from-dotenv")
        ),
    );
    d.write(
        ".env.scalper",
        "IG_USERNAME=from-scalper\nIG_ACCOUNT_ID=FROMSCALPER\n",
    );
    let env = [("IG_ACCOUNT_ID", "FROMENV"), ("IG_USERNAME", "from-env")];
    let j = d
        .run(
            &["config", "check", "--json", "--ig-account-id", "FROMFLAG"],
            &env,
        )
        .json();
    let v = &j["variables"];
    assert_eq!(v["IG_ACCOUNT_ID"]["value"], "FROMFLAG");
    assert_eq!(v["IG_ACCOUNT_ID"]["source"], "flag --ig-account-id");
    assert_eq!(v["IG_USERNAME"]["value"], "from-env");
    assert_eq!(v["IG_USERNAME"]["source"], "process environment");
    assert_eq!(j["session_version"], 3, "only .env sets it");

    // Without the flag and the environment, .env.scalper beats .env, and the report says so.
    let j = d.run(&["config", "check", "--json"], &[]).json();
    assert_eq!(j["variables"]["IG_USERNAME"]["value"], "from-scalper");
    assert_eq!(j["variables"]["IG_ACCOUNT_ID"]["value"], "FROMSCALPER");
    let notes = j["notes"].to_string();
    assert!(
        notes.contains("IG_USERNAME differs between") && notes.contains(".env.scalper:1 wins"),
        "{notes}"
    );
    assert_eq!(j["complete"], true, "values from both files combine");
}

#[test]
fn env_file_flag_is_the_only_file_read() {
    let d = Dir::new();
    d.write(".env.scalper", &complete_env("ignored"));
    let custom = d.write("custom.env", "IG_USERNAME=custom\n");
    let r = d.run(
        &["config", "check", "--env-file", custom.to_str().unwrap()],
        &[],
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stdout.contains("custom.env"), "{r:?}");
    assert!(!r.stdout.contains(".env.scalper"), "{r:?}");
    assert!(r.stdout.contains("IG_PASSWORD, IG_API_KEY"), "{r:?}");

    let r = d.run(&["config", "check", "--env-file", "nope.env"], &[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stdout.contains("--env-file") && r.stdout.contains("nope.env: file not found"),
        "{r:?}"
    );
}

#[test]
fn invalid_and_conflicting_values_exit_2_naming_variable_and_source() {
    let cases: [(&str, &[&str]); 5] = [
        (
            "IG_DEMO=maybe\n",
            &["IG_DEMO=\"maybe\"", ".env:4", "true or false"],
        ),
        (
            "IG_SESSION_VERSION=4\n",
            &["IG_SESSION_VERSION=\"4\"", ".env:4", "2 or 3"],
        ),
        (
            "IG_API_URL=not a url\n",
            &["IG_API_URL", ".env:4", "not a URL"],
        ),
        ("IG_ACCOUNT_ID=bad id!\n", &["IG_ACCOUNT_ID", ".env:4"]),
        (
            "IG_DEMO=false\nIG_API_URL=https://demo-api.ig.com/gateway/deal\n",
            &["IG_API_URL", "DEMO host", "IG_DEMO=false", ".env:4"],
        ),
    ];
    for (extra, needles) in cases {
        let d = Dir::new();
        d.write(".env", &format!("{}{extra}", complete_env("u")));
        let r = d.run(&["config", "check"], &[]);
        assert_eq!(r.code, 2, "{extra}: {r:?}");
        let problems = r
            .stdout
            .split("Problems:")
            .nth(1)
            .unwrap_or_else(|| panic!("{r:?}"));
        for n in needles {
            assert!(problems.contains(n), "{extra}: missing {n:?} in {problems}");
        }
    }

    // LIVE host while IG_DEMO is unset (demo).
    let d = Dir::new();
    d.write(".env", &complete_env("u"));
    let r = d.run(
        &[
            "config",
            "check",
            "--ig-api-url",
            "https://api.ig.com/gateway/deal",
        ],
        &[],
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stdout.contains("LIVE host") && r.stdout.contains("IG_DEMO is unset"),
        "{r:?}"
    );

    // ... and consistent LIVE settings are fine, and printed as LIVE.
    let r = d.run(&["config", "check"], &[("IG_DEMO", "false")]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("Environment: LIVE (https://api.ig.com/gateway/deal)"),
        "{r:?}"
    );
}

#[test]
fn bad_env_file_line_is_reported_with_file_and_line_without_its_value() {
    let d = Dir::new();
    d.write(
        ".env",
        &format!("{}IG_PASSWORD {PASSWORD}\n", complete_env("u")),
    );
    let r = d.run(&["config", "check"], &[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stdout.contains(".env:4: expected KEY=VALUE"), "{r:?}");
    assert_no_secret(&r.all());
}

#[cfg(unix)]
#[test]
fn group_readable_env_file_draws_a_warning() {
    let d = Dir::new();
    d.write_mode(".env", &complete_env("u"), 0o644);
    let r = d.run(&["config", "check"], &[]);
    assert_eq!(r.code, 0, "a warning is not a failure: {r:?}");
    assert!(
        r.stdout.contains("readable by group or others (mode 644)")
            && r.stdout.contains("chmod 600"),
        "{r:?}"
    );
    d.write_mode(".env", &complete_env("u"), 0o600);
    let r = d.run(&["config", "check"], &[]);
    assert!(!r.stdout.contains("readable by group"), "{r:?}");
}

#[test]
fn toml_supplies_non_secrets_and_refuses_secrets() {
    let d = Dir::new();
    d.write(".env", &complete_env("u"));
    d.write(
        "scalper.toml",
        "[ig]\ndemo = false\napi_url = \"https://api.ig.com/gateway/deal\"\nsession_version = 3\n",
    );
    let j = d.run(&["config", "check", "--json"], &[]).json();
    assert_eq!(j["complete"], true, "{j}");
    assert_eq!(j["environment"], "LIVE");
    assert_eq!(j["session_version"], 3);
    assert_eq!(j["variables"]["IG_DEMO"]["source_kind"], "config_file");
    // The environment beats the TOML file.
    let j = d
        .run(
            &["config", "check", "--json"],
            &[("IG_SESSION_VERSION", "2")],
        )
        .json();
    assert_eq!(j["session_version"], 2);

    d.write(
        "scalper.toml",
        &format!("[ig]\npassword = \"{PASSWORD}\"\n"),
    );
    let r = d.run(&["config", "check"], &[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stdout.contains("`ig.password`") && r.stdout.contains("never read from TOML"),
        "{r:?}"
    );
    assert_no_secret(&r.all());

    let r = d.run(&["config", "check", "--config", "missing.toml"], &[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stdout.contains("missing.toml: file not found"), "{r:?}");
}

#[test]
fn secrets_never_appear_in_any_output_or_log() {
    let d = Dir::new();
    d.write(".env", &complete_env("u"));
    d.write(
        ".env.scalper",
        &format!("IG_PASSWORD=other-{PASSWORD}\nIG_API_KEY={API_KEY}x\n"),
    );
    for args in [
        vec!["-vv", "config", "check"],
        vec!["-vv", "config", "check", "--json"],
        vec![
            "-vv",
            "test",
            "EUR_USD",
            "--ig-api-url",
            "http://127.0.0.1:9/gateway/deal",
            "--trade",
            "--ig-demo",
            "false",
        ],
    ] {
        let r = d.run(&args, &[("IG_PASSWORD", PASSWORD)]);
        assert_no_secret(&r.all());
    }
    assert_no_secret(&d.logs());
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let d = Dir::new();
    for args in [
        vec!["no-such-command"],
        vec!["test"],
        vec!["config", "check", "--bogus"],
        vec!["-v", "-q", "config", "check"],
        vec!["sandbox", "--port", "99999"],
        vec!["demo", "--duration", "soon"],
    ] {
        let r = d.run(&args, &[]);
        assert_eq!(r.code, 2, "{args:?}: {r:?}");
    }
    let r = d.run(&["--help"], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("config") && r.stdout.contains("Exit codes"),
        "{r:?}"
    );
    let r = d.run(&["--log-filter", "[[[", "config", "check"], &[]);
    assert_eq!(r.code, 2, "{r:?}");
}

#[test]
fn errors_go_to_the_log_file_in_log_dir_and_once_to_the_console() {
    let d = Dir::new();
    let r = d.run(&["--log-dir", "my/logs", "test", "NOPE"], &[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(r.stderr.matches("unknown instrument").count(), 1, "{r:?}");
    let log = std::fs::read_to_string(d.path().join("my/logs/scalping_engine.log")).unwrap();
    assert!(
        log.contains("unknown instrument") && log.contains("exit_code=2"),
        "{log}"
    );
    assert!(
        !d.path().join("logs").exists(),
        "the default directory is not used"
    );
}

#[test]
fn a_misspelled_engine_key_fails_config_check_as_it_would_fail_run() {
    let d = Dir::new();
    d.write(".env", &complete_env("alice"));
    d.write("scalper.toml", "[engine.risk]\nmax_trades_per_dya = 5\n");
    let r = d.run(&["config", "check"], &[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stdout.contains("max_trades_per_dya"), "{r:?}");
    let j = d.run(&["config", "check", "--json"], &[]).json();
    assert_eq!(j["complete"], false);
    assert!(
        j["problems"].to_string().contains("max_trades_per_dya"),
        "{j}"
    );
    // The same file is refused by `run` with the same exit code, before any login.
    let r = d.run(&["run", "--duration", "1s"], &[]);
    assert_eq!(r.code, 2, "{r:?}");
}

#[test]
fn a_schedule_is_checked_with_the_rest_of_the_engine() {
    let d = Dir::new();
    d.write(".env", &complete_env("alice"));
    d.write(
        "scalper.toml",
        "[[engine.schedule]]\nname = \"weekend\"\nat = \"21:50\"\ndays = [\"Fri\"]\ninstruments = [\"EUR_USD\"]\n",
    );
    let r = d.run(&["config", "check"], &[]);
    assert_eq!(r.code, 0, "a valid schedule passes: {r:?}");
    d.write(
        "scalper.toml",
        "[[engine.schedule]]\nat = \"21:50\"\ntimezone = \"Europe/Londn\"\n",
    );
    let r = d.run(&["config", "check"], &[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stdout.contains("Europe/Londn"), "{r:?}");
    d.write(
        "scalper.toml",
        "[[engine.schedule]]\nat = \"21:50\"\ninstruments = [\"EURO_DOLLAR\"]\n",
    );
    let r = d.run(&["config", "check"], &[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stdout.contains("EURO_DOLLAR"), "{r:?}");
}

#[test]
fn the_calendar_is_checked_with_the_rest_of_the_engine() {
    let d = Dir::new();
    d.write(".env", &complete_env("alice"));
    d.write(
        "scalper.toml",
        "[engine.calendar]\nflatten_before = \"every_close\"\nholidays = [{ date = \"2026-12-24\", early_close = \"13:00\", instruments = [\"GER40\"] }]\n",
    );
    let r = d.run(&["config", "check"], &[]);
    assert_eq!(r.code, 0, "a valid calendar passes: {r:?}");
    for (toml, names) in [
        (
            "[engine.calendar]\nholidays = [{ date = \"2026-12-24\", instruments = [\"DAXX\"] }]\n",
            "DAXX",
        ),
        (
            "[engine.calendar]\nholidays = [{ date = \"24/12/2026\" }]\n",
            "24/12/2026",
        ),
        (
            "[engine.calendar]\nig_timezone = \"Europe/Londn\"\n",
            "Europe/Londn",
        ),
        (
            "[engine.calendar]\nflatten_before = \"sometimes\"\n",
            "sometimes",
        ),
    ] {
        d.write("scalper.toml", toml);
        let r = d.run(&["config", "check"], &[]);
        assert_eq!(r.code, 2, "{toml}: {r:?}");
        assert!(
            r.stdout.contains(names) || r.stderr.contains(names),
            "{toml}: {r:?}"
        );
    }
}

#[test]
fn a_news_file_is_read_and_its_bad_lines_are_named() {
    let d = Dir::new();
    d.write(".env", &complete_env("alice"));
    d.write(
        "scalper.toml",
        "[engine.news]\nfile = \"news.csv\"\nbefore_min = 15\n",
    );
    let r = d.run(&["config", "check"], &[]);
    assert_eq!(r.code, 2, "a missing news file is an error: {r:?}");
    assert!(r.stdout.contains("news.csv"), "{r:?}");
    d.write(
        "news.csv",
        "time,scope,impact,title\n2026-12-04T13:30:00Z,USD,high,NFP\n",
    );
    let r = d.run(&["config", "check"], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    d.write(
        "news.csv",
        "time,scope,impact,title\n2026-12-04T13:30:00Z,USD,huge,NFP\n",
    );
    let r = d.run(&["config", "check"], &[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stdout.contains("line 2") && r.stdout.contains("huge"),
        "{r:?}"
    );
}
