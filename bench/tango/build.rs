// SPDX-License-Identifier: Apache-2.0 OR MIT
// Links librill.a from the CMake build directory named by RILL_LIB_DIR
// (`make bench-workers` sets it), and records the versions the report prints.
use std::env;
use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=RILL_LIB_DIR");
    println!("cargo:rerun-if-changed=Cargo.lock");
    let dir = match env::var("RILL_LIB_DIR") {
        Ok(d) if !d.is_empty() => d,
        _ => {
            eprintln!("RILL_LIB_DIR is not set: point it at the CMake build directory that");
            eprintln!(
                "holds librill.a (make bench-workers does: RILL_LIB_DIR=$(abspath $(BUILD)))."
            );
            std::process::exit(1);
        }
    };
    let lib = Path::new(&dir).join("librill.a");
    if !lib.exists() {
        eprintln!("{} not found: run `make build` first", lib.display());
        std::process::exit(1);
    }
    println!("cargo:rerun-if-changed={}", lib.display());
    println!("cargo:rustc-link-search=native={dir}");
    println!("cargo:rustc-link-lib=static=rill");

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
