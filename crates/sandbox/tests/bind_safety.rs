//! `Sandbox::start` refuses a non-loopback bind address unless `allow_remote` is set, before
//! anything is bound. No test here listens on anything but loopback: the permitted case uses
//! an address of TEST-NET-1 (RFC 5737), which no interface has, so the guard is seen to let it
//! through to a bind that then fails.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use scalper_sandbox::{Sandbox, SandboxConfig, SandboxError};

const TEST_NET: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));

#[tokio::test]
async fn non_loopback_addresses_are_refused_by_default() {
    assert!(!SandboxConfig::default().allow_remote, "off by default");
    for addr in [
        IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        TEST_NET,
        IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)),
    ] {
        let e = Sandbox::start(SandboxConfig {
            bind: addr,
            ..SandboxConfig::for_tests()
        })
        .await
        .err()
        .unwrap_or_else(|| panic!("{addr} was accepted"));
        match &e {
            SandboxError::NonLoopbackBind { addr: a } => assert_eq!(*a, addr),
            other => panic!("{addr}: wrong error {other:?}"),
        }
        let msg = e.to_string();
        assert!(msg.contains(&addr.to_string()), "{msg}");
        assert!(msg.contains("allow_remote"), "{msg}");
    }
}

#[tokio::test]
async fn loopback_is_always_allowed() {
    for addr in [
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
    ] {
        let sb = Sandbox::start(SandboxConfig {
            bind: addr,
            ..SandboxConfig::for_tests()
        })
        .await
        .unwrap();
        assert!(sb.rest_url().starts_with(&format!("http://{addr}:")));
        sb.shutdown().await;
    }
}

#[tokio::test]
async fn allow_remote_lets_a_non_loopback_address_through_to_the_bind() {
    let e = Sandbox::start(SandboxConfig {
        bind: TEST_NET,
        allow_remote: true,
        ..SandboxConfig::for_tests()
    })
    .await
    .expect_err("no interface has a TEST-NET-1 address");
    assert!(
        matches!(e, SandboxError::Bind { .. }),
        "the guard, not the bind, refused it: {e:?}"
    );
}
