// SPDX-License-Identifier: Apache-2.0 OR MIT
//! What the integration tests share: a private region directory, unique
//! region names, and the peer programs of the cross-process tests (the C
//! peer `rill_xpeer`, tests/xpeer.c, and the Go peer, the Go binding's test
//! binary run with `RILL_GO_PEER=1`; both take the commands listed at the
//! top of tests/xpeer.c). `make test` sets `RILL_XPEER`, `RILL_GOPEER` and
//! `RILL_REQUIRE_XPEER`.
#![allow(dead_code)] // each test file uses part of it

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// A fresh region directory under /tmp (short: FIFO paths must fit),
/// removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "rill-rs-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A region name unique in this process.
pub fn unique_name(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{tag}{}", N.fetch_add(1, Ordering::Relaxed))
}

/// A peer program, C or Go.
#[derive(Debug, Clone)]
pub struct Peer {
    pub name: &'static str,
    exe: PathBuf,
    go: bool,
}

impl Peer {
    /// The command line for peer command `args`.
    pub fn command<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Command {
        let mut c = Command::new(&self.exe);
        if self.go {
            c.env("RILL_GO_PEER", "1");
        }
        c.args(args);
        c
    }

    /// Runs one command to its end, its output captured.
    pub fn run<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Output {
        self.command(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{} peer {}: {e}", self.name, self.exe.display()))
    }

    /// Runs one command and panics with its stderr unless it exits 0.
    #[track_caller]
    pub fn run_ok<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Output {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{} peer {:?} failed ({}): {}",
            self.name,
            args.iter()
                .map(|a| a.as_ref().to_string_lossy().into_owned())
                .collect::<Vec<_>>(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Starts one command (stdout and stderr piped).
    pub fn spawn<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Child {
        self.command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{} peer {}: {e}", self.name, self.exe.display()))
    }
}

/// `$VAR`, a peer program's path. Missing: the test fails when
/// `$RILL_REQUIRE_XPEER` is set (make test), else it is skipped (None).
fn peer_path(var: &str, what: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(p) => {
            let p = PathBuf::from(p);
            assert!(p.is_file(), "{var}={} is not a file", p.display());
            Some(p)
        }
        None if std::env::var_os("RILL_REQUIRE_XPEER").is_some() => {
            panic!("{var} ({what}) is not set")
        }
        None => {
            eprintln!("skipped: {var} ({what}) is not set (make test sets it)");
            None
        }
    }
}

/// The C peer, `rill_xpeer`.
pub fn c_peer() -> Option<Peer> {
    peer_path("RILL_XPEER", "the C peer, build/rill_xpeer").map(|exe| Peer {
        name: "c",
        exe,
        go: false,
    })
}

/// The Go peer. A build without Go sets `$RILL_SKIP_GOPEER` (the reason)
/// instead of `$RILL_GOPEER`: skipped, with that reason.
pub fn go_peer() -> Option<Peer> {
    if let Some(why) = std::env::var_os("RILL_SKIP_GOPEER") {
        eprintln!("skipped: no Go peer: {}", why.to_string_lossy());
        return None;
    }
    peer_path("RILL_GOPEER", "the Go peer, build/rill-gopeer").map(|exe| Peer {
        name: "go",
        exe,
        go: true,
    })
}

/// Every peer there is: C, then Go.
pub fn peers() -> Vec<Peer> {
    c_peer().into_iter().chain(go_peer()).collect()
}

/// Byte j of test payload `seed`: every position and every payload differs.
pub fn byte(seed: u64, j: usize) -> u8 {
    let h = seed
        .wrapping_add(0x9e37_79b9_7f4a_7c15)
        .wrapping_mul(0xbf58_476d_1ce4_e5b9);
    ((h >> (8 * (j & 7))) as u8).wrapping_add((j >> 3) as u8)
}

/// Test payload `seed`, `n` bytes.
pub fn payload(seed: u64, n: usize) -> Vec<u8> {
    (0..n).map(|j| byte(seed, j)).collect()
}

/// Panics unless `got` is test payload `seed` of `n` bytes.
#[track_caller]
pub fn check_payload(seed: u64, got: &[u8], n: usize) {
    assert_eq!(got.len(), n, "payload {seed}: size");
    for (j, b) in got.iter().enumerate() {
        assert_eq!(*b, byte(seed, j), "payload {seed}: byte {j}");
    }
}

/// A peer command's argument.
pub fn s(x: impl ToString) -> String {
    x.to_string()
}

/// Region `name` of 4 MiB in `d` with channel "c" of these sizes and 4
/// consumer slots.
pub fn region_with_channel(
    d: &TempDir,
    name: &str,
    depth: u32,
    mtu: u32,
    max_msg: u64,
) -> rill::Region {
    let r = rill::Region::create(
        name,
        &rill::RegionOptions::new().dir(d.path()).size(4 << 20),
    )
    .unwrap();
    r.create_channel(
        "c",
        &rill::ChannelOptions::new()
            .depth(depth)
            .mtu(mtu)
            .max_consumers(4)
            .max_msg(max_msg),
    )
    .unwrap();
    r
}
