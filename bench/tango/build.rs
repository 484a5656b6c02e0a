// SPDX-License-Identifier: Apache-2.0 OR MIT
// Records the versions the report prints: the rust-tango that Cargo.lock
// resolved, and rustc's.  (librill is compiled by rill-sys's build script.)
use std::env;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=Cargo.lock");

    // The rust-tango version Cargo.lock resolved (the report names it).
    let lock = std::fs::read_to_string("Cargo.lock").unwrap_or_default();
    let mut tango = "unknown".to_string();
    let mut in_tango = false;
    for line in lock.lines() {
        if line.starts_with("[[package]]") {
            in_tango = false;
        } else if line.trim() == "name = \"rust-tango\"" {
            in_tango = true;
        } else if in_tango && line.starts_with("version = ") {
            tango = line["version = ".len()..].trim_matches('"').to_string();
        }
    }
    println!("cargo:rustc-env=TANGOBENCH_RUST_TANGO_VERSION={tango}");

    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let ver = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=TANGOBENCH_RUSTC_VERSION={ver}");
}
