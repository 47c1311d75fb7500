//! `scalper sandbox --bind`: a non-loopback address is refused with exit 2 and a message
//! saying why and how to proceed, unless `--allow-remote` is given, which draws a loud
//! warning. Nothing here listens beyond loopback: the permitted case uses a TEST-NET-1
//! address (RFC 5737) that no interface has, so the bind itself then fails.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Dir;

#[test]
fn non_loopback_bind_is_refused_without_allow_remote() {
    let d = Dir::new();
    for bind in ["0.0.0.0", "::", "192.0.2.1"] {
        let r = d.run(&["sandbox", "--bind", bind, "--port", "0"], &[]);
        assert_eq!(r.code, 2, "{bind}: {r:?}");
        assert!(
            r.stderr.contains(&format!("refusing --bind {bind}")),
            "{r:?}"
        );
        assert!(r.stderr.contains("not a loopback address"), "{r:?}");
        assert!(r.stderr.contains("--allow-remote"), "{r:?}");
        assert!(!r.stdout.contains("REST base URL"), "it started: {r:?}");
    }
    assert!(
        d.logs().contains("refusing --bind"),
        "the refusal is logged too"
    );
}

#[test]
fn allow_remote_passes_the_check_with_a_loud_warning() {
    let d = Dir::new();
    let r = d.run(
        &[
            "sandbox",
            "--bind",
            "192.0.2.1",
            "--port",
            "0",
            "--allow-remote",
        ],
        &[],
    );
    assert!(r.stderr.contains("!!! WARNING !!!"), "{r:?}");
    assert!(r.stderr.contains("reachable from the network"), "{r:?}");
    // Past the guard, the operating system refuses the address: exit 1, not the usage error.
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("cannot bind 192.0.2.1"), "{r:?}");
}
