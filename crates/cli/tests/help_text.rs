//! `--help` is usable: every option of every command has a help line, and the global options are
//! under their own heading.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_scalper"))
        .args(args)
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?} --help failed");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_option_of_every_command_has_a_help_line() {
    let commands: &[&[&str]] = &[
        &[],
        &["config", "check"],
        &["test"],
        &["sandbox"],
        &["run"],
        &["demo"],
        &["backtest"],
        &["sweep"],
        &["synth"],
        &["prices"],
        &["journal", "list"],
        &["journal", "show"],
        &["journal", "export"],
        &["report"],
        &["soak"],
        &["status"],
    ];
    let mut bare = Vec::new();
    for c in commands {
        let text = help(c);
        assert!(text.contains("Global options:"), "{c:?}:\n{text}");
        for line in text.lines() {
            let t = line.trim_start();
            // An option line: "-x, --name <V>   help" or "--name <V>   help".
            if !(t.starts_with("--") || (t.starts_with('-') && t.get(2..4) == Some(", "))) {
                continue;
            }
            let spec_end = t.find("  ").unwrap_or(t.len());
            if t[spec_end..].trim().is_empty() {
                bare.push(format!("{}: {}", c.join(" "), t.trim()));
            }
        }
    }
    assert!(
        bare.is_empty(),
        "options without a help line:\n{}",
        bare.join("\n")
    );
}
