// SPDX-License-Identifier: Apache-2.0 OR MIT
//! The shared test vector (tests/vectors/basic.vec) through the safe Rust
//! API (tests/vector_interp): Rust writes and Rust, C or Go checks; C or Go
//! writes and Rust checks.
//!
//! The writer exits without leaving the endpoints it did not leave
//! explicitly, so it is a child process: this test binary again, running
//! only [`vector_peer`] with `RILL_RS_VECTOR_ROLE` set.
mod common;
mod vector_interp;

use common::{Peer, TempDir};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use vector_interp::run_peer_ok;

/// The child's entry point: does nothing unless `RILL_RS_VECTOR_ROLE` is
/// set (by [`vector_interp::run_peer`]); then it runs that part of the
/// vector and exits the process.
#[test]
fn vector_peer() {
    if let Ok(role) = std::env::var(vector_interp::ROLE_VAR) {
        vector_interp::peer_main(&role);
    }
}

/// The repository's tests/vectors/basic.vec.
fn basic() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../tests/vectors/basic.vec");
    p.canonicalize()
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Runs `peer`'s `vector ROLE FILE DIR`, which must succeed.
fn peer_ok(peer: &Peer, role: &str, file: &Path, dir: &Path) {
    peer.run_ok(&[
        OsStr::new("vector"),
        OsStr::new(role),
        file.as_os_str(),
        dir.as_os_str(),
    ]);
}

#[test]
fn vector_rust_writes_rust_checks() {
    let dir = TempDir::new("vec-rr");
    run_peer_ok("write", &basic(), dir.path());
    run_peer_ok("check", &basic(), dir.path());
}

#[test]
fn vector_rust_writes_c_checks() {
    let Some(c) = common::c_peer() else { return };
    let dir = TempDir::new("vec-rc");
    run_peer_ok("write", &basic(), dir.path());
    peer_ok(&c, "check", &basic(), dir.path());
}

#[test]
fn vector_c_writes_rust_checks() {
    let Some(c) = common::c_peer() else { return };
    let dir = TempDir::new("vec-cr");
    peer_ok(&c, "write", &basic(), dir.path());
    run_peer_ok("check", &basic(), dir.path());
}

#[test]
fn vector_rust_writes_go_checks() {
    let Some(go) = common::go_peer() else { return };
    let dir = TempDir::new("vec-rg");
    run_peer_ok("write", &basic(), dir.path());
    peer_ok(&go, "check", &basic(), dir.path());
}

#[test]
fn vector_go_writes_rust_checks() {
    let Some(go) = common::go_peer() else { return };
    let dir = TempDir::new("vec-gr");
    peer_ok(&go, "write", &basic(), dir.path());
    run_peer_ok("check", &basic(), dir.path());
}
