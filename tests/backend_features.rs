//! jsonwebtoken 10+ panics at the first signature check when no crypto backend (or both)
//! is enabled. jwt-tower turns "none" into a build error with a clear message and makes
//! "both" work (aws-lc-rs wins). These tests build jwt-tower with each combination.

use std::process::Command;

fn cargo_check(features: &[&str]) -> (bool, String) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    // Beside the outer build (which may have been moved, e.g. by `.ci/run` to a bigger
    // disk), in a directory of its own so that the two builds do not wait on each other.
    let outer = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target").to_owned());
    let target = format!("{outer}/backend-features");
    let mut command = Command::new(cargo);
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "check",
            "--quiet",
            "-p",
            "jwt-tower",
            "--lib",
            "--no-default-features",
        ])
        .env("CARGO_TARGET_DIR", &target);
    if !features.is_empty() {
        command.args(["--features", &features.join(",")]);
    }
    let output = command.output().expect("cargo runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn no_backend_is_a_build_error_naming_the_features() {
    let (ok, stderr) = cargo_check(&[]);
    assert!(!ok, "jwt-tower must not build without a crypto backend");
    assert!(
        stderr.contains("jwt-tower needs a crypto backend")
            && stderr.contains("aws_lc_rs")
            && stderr.contains("rust_crypto"),
        "{stderr}"
    );
}

#[test]
fn each_backend_alone_and_both_together_build() {
    for features in [
        &["aws_lc_rs"][..],
        &["rust_crypto"],
        &["aws_lc_rs", "rust_crypto"],
    ] {
        let (ok, stderr) = cargo_check(features);
        assert!(ok, "{features:?}: {stderr}");
    }
}
