// SPDX-License-Identifier: Apache-2.0 OR MIT
// Compiles librill from the repository's own sources (../../../src and
// ../../../include, from this crate's directory) into a static library,
// as CMakeLists.txt builds it: the same files, C11 with _GNU_SOURCE,
// hidden visibility (rill.h makes its API default), the same threads
// library.  No installed librill is needed.
//
// It also compiles abi_probe.c, the C side of tests/abi.rs (each struct's
// size, alignment and field offsets, each constant, as the C compiler sees
// them).  Cargo cannot tell a build script whether tests are being built;
// the probe is small, and a program that does not call it links none of it
// (it is an archive member of its own).
use std::env;
use std::path::{Path, PathBuf};

// The library's sources, as RILL_SOURCES in CMakeLists.txt (the platform
// layer is chosen below).  The freestanding core's own file (src/core/core.c,
// librill_core.a) is not one of them: producer.c, consumer.c and channel.c
// include the core's implementation (src/core/*.h) and inline it.
const SOURCES: &[&str] = &[
    "region.c",
    "channel.c",
    "producer.c",
    "consumer.c",
    "wait.c",
    "stats.c",
    "rpc.c",
    "error.c",
];

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let root = manifest.join("../../..");
    let src = root.join("src");
    let include = root.join("include");
    if !src.join("region.c").exists() || !include.join("rill.h").exists() {
        panic!(
            "rill's C sources are not at {} (rill-sys builds them from the repository it lives in)",
            root.display()
        );
    }

    let windows = env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("windows");
    let platform = if windows {
        "platform_win32.c"
    } else {
        "platform_linux.c"
    };

    let mut files: Vec<PathBuf> = SOURCES.iter().map(|f| src.join(f)).collect();
    files.push(src.join(platform));

    let mut lib = cc::Build::new();
    common(&mut lib, &include, &src);
    lib.files(&files).flag_if_supported("-fvisibility=hidden");
    lib.compile("rill");

    let mut probe = cc::Build::new();
    common(&mut probe, &include, &src);
    probe.file(manifest.join("abi_probe.c"));
    probe.compile("rill_abi_probe");

    if windows {
        // security descriptors (advapi32), WaitOnAddress (synchronization)
        println!("cargo:rustc-link-lib=advapi32");
        println!("cargo:rustc-link-lib=synchronization");
    } else {
        // Threads::Threads of CMakeLists.txt (part of libc on glibc 2.34+)
        println!("cargo:rustc-link-lib=pthread");
    }

    // What the C compiler reads: every source and header of src/ and of
    // src/core/ (the freestanding core's implementation, which the
    // library's sources include), the public headers, the probe.
    println!("cargo:rerun-if-changed=abi_probe.c");
    // the lists abi_probe.c includes (shared with tests/test_abi.c)
    for inc in [
        "rill_h_structs.inc",
        "rill_h_consts.inc",
        "rill_rpc_h_structs.inc",
        "rill_rpc_h_consts.inc",
    ] {
        println!(
            "cargo:rerun-if-changed={}",
            root.join("abi").join(inc).display()
        );
    }
    let core = src.join("core");
    for dir in [&src, &core, &include] {
        let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("c" | "h")))
            .collect();
        names.sort();
        for p in names {
            println!("cargo:rerun-if-changed={}", p.display());
        }
    }
    // A source added to src/ or src/core/ shows up as a change of the directory.
    println!("cargo:rerun-if-changed={}", src.display());
    println!("cargo:rerun-if-changed={}", core.display());
    // For crates that build on this one (DEP_RILL_INCLUDE): rill.h's directory.
    println!("cargo:include={}", include.display());
}

// The settings of both libraries: C11 (no GNU extensions, as
// CMAKE_C_EXTENSIONS OFF), _GNU_SOURCE, the include path, and CMake's
// warnings, reported by cargo but never made errors here (the CMake build
// is the one with -Werror).
fn common(b: &mut cc::Build, include: &Path, src: &Path) {
    b.std("c11")
        .define("_GNU_SOURCE", None)
        .include(include)
        .include(src)
        .warnings(true)
        .extra_warnings(true)
        .flag_if_supported("-Wshadow")
        .flag_if_supported("-Wno-unused-parameter")
        .flag_if_supported("-Wstrict-prototypes")
        .flag_if_supported("-Wmissing-prototypes");
}
