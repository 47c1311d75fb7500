//! TLS verification is never disabled: no source or manifest under `crates/` may call
//! reqwest's `danger_accept_invalid_*` builder methods (certificates or host names), or reach
//! for rustls' "dangerous" configuration or a custom certificate verifier.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

/// The forbidden names, assembled so that this file does not match itself.
fn forbidden() -> Vec<String> {
    vec![
        ["danger_accept_", "invalid_certs"].concat(),
        ["danger_accept_", "invalid_hostnames"].concat(),
        [".danger", "ous()"].concat(),
        ["ServerCert", "Verifier"].concat(),
    ]
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs" || x == "toml") {
            out.push(p);
        }
    }
}

#[test]
fn no_source_disables_certificate_or_hostname_verification() {
    let crates = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    sources(&crates, &mut files);
    assert!(
        files.len() > 50,
        "scanned too few files ({}): wrong directory?",
        files.len()
    );
    assert!(
        files.iter().any(|f| f.ends_with("ig/src/transport.rs")),
        "the IG client's HTTP setup was not scanned"
    );
    let mut hits = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        for (n, line) in text.lines().enumerate() {
            for bad in forbidden() {
                if line.contains(&bad) {
                    hits.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        hits.is_empty(),
        "TLS verification must never be disabled for IG hosts:\n{}",
        hits.join("\n")
    );
}
