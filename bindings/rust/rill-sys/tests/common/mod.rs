// SPDX-License-Identifier: Apache-2.0 OR MIT
//! What the raw tests share: a region directory, error text, `ok`.
#![allow(dead_code)] // each test file uses part of it

use core::ffi::{CStr, c_int};
use rill_sys::rill_strerror;
use std::path::PathBuf;

/// The text of a rill error code.
pub fn strerror(rc: i64) -> String {
    // SAFETY: rill_strerror takes any code and returns a static string,
    // never NULL (rill.h).
    unsafe { CStr::from_ptr(rill_strerror(rc as c_int)) }
        .to_string_lossy()
        .into_owned()
}

/// Panics unless a rill call returned 0.
#[track_caller]
pub fn ok(rc: c_int) {
    assert_eq!(rc, 0, "rill call failed: {rc} ({})", strerror(rc.into()));
}

/// A fresh directory for the region, removed at the end.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let p = base.join(format!("rill-sys-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
