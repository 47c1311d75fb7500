//! `scalper demo` as a user runs it, twice in one directory: each run keeps its own journal,
//! nothing from the first is touched by the second, trading history and logs are private, and
//! the journal's amounts say their currency.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: panics are failures

mod common;

use std::path::{Path, PathBuf};

use common::Dir;

fn journals(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir.join("data"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "sqlite"))
        .collect();
    v.sort();
    v
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn two_demos_in_one_directory_keep_two_private_journals() {
    let d = Dir::new();
    let demo = ["demo", "--duration", "2s", "--json"];
    let first = d.run(&demo, &[]);
    assert_eq!(first.code, 0, "{first:?}");
    let after_first = journals(d.path());
    assert_eq!(after_first.len(), 1, "{after_first:?}");
    let bytes_before = std::fs::read(&after_first[0]).unwrap();

    let second = d.run(&demo, &[]);
    assert_eq!(second.code, 0, "{second:?}");
    let after_second = journals(d.path());
    assert_eq!(
        after_second.len(),
        2,
        "the second demo writes a journal of its own: {after_second:?}"
    );
    assert!(after_second.contains(&after_first[0]));
    assert_eq!(
        std::fs::read(&after_first[0]).unwrap(),
        bytes_before,
        "the first demo's journal is untouched by the second"
    );

    // Reusing a journal for a new sandbox is refused, and the file is left as it was.
    let path = after_first[0].to_str().unwrap();
    let again = d.run(&["demo", "--duration", "1s", "--journal", path], &[]);
    assert_eq!(again.code, 2, "{again:?}");
    assert!(again.stderr.contains("the file exists"), "{again:?}");
    assert_eq!(std::fs::read(&after_first[0]).unwrap(), bytes_before);

    // Each journal reports in the account's currency, and says so.
    for j in &after_second {
        let r = d.run(&["report", "--journal", j.to_str().unwrap()], &[]);
        assert_eq!(r.code, 0, "{r:?}");
        assert!(
            r.stdout
                .starts_with("report: all closed trades (amounts in GBP)"),
            "{r:?}"
        );
        let r = d.run(&["report", "--json", "--journal", j.to_str().unwrap()], &[]);
        assert_eq!(r.json()["currency"], "GBP", "{r:?}");
    }

    #[cfg(unix)]
    {
        assert_eq!(mode(&d.path().join("data")), 0o700, "journal directory");
        assert_eq!(mode(&d.path().join("logs")), 0o700, "log directory");
        for j in &after_second {
            assert_eq!(mode(j), 0o600, "{}", j.display());
        }
        let log = d.path().join("logs/scalping_engine.log");
        assert_eq!(mode(&log), 0o600, "log file");
        assert!(
            std::fs::read_to_string(&log)
                .unwrap()
                .contains("ready to trade"),
            "both runs log to the one file"
        );
    }
}
