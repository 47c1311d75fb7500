//! `--shadow` as a user runs it: refused with `--paper` (nothing live to compare), and a demo
//! with it prints the shadow section and journals the comparison for `report --execution`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: panics are failures

mod common;

use common::Dir;

#[test]
fn shadow_with_paper_is_refused_before_anything_starts() {
    let d = Dir::new();
    let r = d.run(&["run", "--shadow", "--paper", "--duration", "1s"], &[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("--shadow compares live dealing with paper")
            && r.stderr.contains("drop --paper"),
        "{r:?}"
    );
    assert!(!r.stderr.contains("ready to trade"), "{r:?}");
}

#[test]
fn demo_with_shadow_prints_and_journals_live_against_paper() {
    let d = Dir::new();
    let journal = d.path().join("demo.sqlite");
    let j = journal.to_str().unwrap();
    let r = d.run(
        &["demo", "--shadow", "--duration", "6s", "--journal", j],
        &[],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("== shadow paper"), "{r:?}");
    assert!(r.stdout.contains("pairs "), "{r:?}");
    assert!(r.stdout.contains("P&L live "), "{r:?}");
    assert!(r.stdout.contains("mean slippage vs paper"), "{r:?}");
    assert!(d.logs().contains("shadow: live vs paper"), "{}", d.logs());

    let rep = d.run(&["report", "--execution", "--journal", j], &[]);
    assert_eq!(rep.code, 0, "{rep:?}");
    assert!(rep.stdout.contains("live vs shadow paper"), "{rep:?}");
    assert!(rep.stdout.contains("CS.D.EURUSD"), "{rep:?}");
    let rep = d.run(&["report", "--execution", "--json", "--journal", j], &[]);
    assert_eq!(rep.code, 0, "{rep:?}");
    let rows = rep.json()["shadow"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        rows.last().map(|t| t["key"].clone()),
        Some("total".into()),
        "{rep:?}"
    );

    // `--json`: the summary's shadow section.
    let r = d.run(&["demo", "--shadow", "--duration", "3s", "--json"], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    let summary = r.json();
    let shadow = &summary["shadow"];
    for key in [
        "pairs",
        "live_only",
        "shadow_only",
        "pnl_live",
        "pnl_shadow",
        "pnl_difference",
        "entry_slippage_points_mean",
        "exit_slippage_points_mean",
    ] {
        assert!(shadow.get(key).is_some(), "no {key} in {summary}");
    }
    assert_eq!(
        summary["pnl"], shadow["pnl_live"],
        "every live trade of a demo is compared: {summary}"
    );
}
