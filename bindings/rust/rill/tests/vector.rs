// SPDX-License-Identifier: Apache-2.0 OR MIT
//! The shared test vector (tests/vectors/basic.vec) through the safe Rust
//! API (tests/vector_interp): Rust writes and Rust, C or Go checks; C or Go
//! writes and Rust checks. And the Rust runner fails, at the right line
//! with the right message, on a vector edited to disagree.
//!
//! The writer exits without leaving the endpoints it did not leave
//! explicitly, so it is a child process: this test binary again, running
//! only [`vector_peer`] with `RILL_RS_VECTOR_ROLE` set.
mod common;
mod vector_interp;

use common::{Peer, TempDir};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use vector_interp::{Phase, Runner, Vector, run_peer_ok};

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

/// basic.vec with line `line` edited (`old` replaced by `new`, which must
/// be there), as text.
fn edited(line: usize, old: &str, new: &str) -> String {
    let text = std::fs::read_to_string(basic()).expect("basic.vec");
    let mut lines: Vec<String> = text.split('\n').map(String::from).collect();
    let l = &mut lines[line - 1];
    assert!(
        l.contains(old),
        "basic.vec:{line} is '{l}', without '{old}'"
    );
    *l = l.replacen(old, new, 1);
    lines.join("\n")
}

/// Edits of basic.vec's writer part (line, old text, new text) and the
/// failure each must give, at that line.
#[rustfmt::skip]
const WRITE_EDITS: &[(usize, &str, &str, &str)] = &[
    (53, " expect msgsize", "", "expected reserve ok, got msgsize"),
    (62, " expect again", "", "expected reserve ok, got again"),
    (63, "0 1 3 0 0", "0 2 3 0 0", "expected sig 2, got 1"),
    (64, "1 2 7 11 0", "1 2 7 12 0", "expected tsorig 12, got 11"),
    (69, "33 7 131 16 0", "34 7 131 16 0", "expected size 34, got 33"),
    (92, "148 17 2 25 0", "148 17 2 25 1", "expected lost 1, got 0"),
    (99, "overrun 16", "overrun 15", "expected lost 15, got 16"),
    // bytes 64.. of sig 17 read as if they were its first ones
    (100, "17 0 26 64", "17 0 26 0", "expected payload byte 0 = 0x0f, got 0x4f"),
    (101, "17 2 27 128", "17 3 27 128", "expected ctl 3, got 2"),
    (103, "empty", "overrun 1", "expected overrun, got again"),
    (109, "send a 100 22", "send a 100 22 expect again", "expected send again, got ok"),
];

/// The same for the checker part (the writer runs unedited first).
#[rustfmt::skip]
const CHECK_EDITS: &[(usize, &str, &str, &str)] = &[
    (128, "backpressure=1", "backpressure=2", "expected backpressure=2, got backpressure=1"),
    (129, "mode=reliable", "mode=lossy", "expected mode=lossy, got mode=reliable"),
    (129, "liveness=dead", "liveness=alive", "expected liveness=alive, got liveness=dead"),
    (130, "producer=dead", "producer=none", "expected producer=none, got producer=dead"),
    (132, "30 20 3 0 0", "30 20 3 5 0", "expected tsorig 5, got 0"),
    (135, "closed", "dead", "expected dead, got closed"),
    (141, "expect again", "expect 100 504 3 0 0", "expected a message of 100 bytes, got again"),
    (144, "lost=1", "lost=0", "expected lost=0, got lost=1"),
    (144, "liveness=alive", "liveness=dead", "expected liveness=dead, got liveness=alive"),
];

/// Each edit makes the Rust runner fail at its line with its message: it
/// compares what it says it compares. (In this process: a failing run
/// needs no separate writer.)
#[test]
fn vector_rust_finds_mismatches() {
    for &(line, old, new, want) in WRITE_EDITS {
        let v = Vector::parse("basic.vec", &edited(line, old, new)).expect("parses");
        let dir = TempDir::new("vec-bad-w");
        let got = Runner::new(dir.path()).run(&v, Phase::Write);
        assert_eq!(
            got,
            Err(format!("basic.vec:{line}: {want}")),
            "edit of line {line}"
        );
    }
    for &(line, old, new, want) in CHECK_EDITS {
        let v = Vector::parse("basic.vec", &edited(line, old, new)).expect("parses");
        let dir = TempDir::new("vec-bad-c");
        run_peer_ok("write", &basic(), dir.path());
        let got = Runner::new(dir.path()).run(&v, Phase::Check);
        assert_eq!(
            got,
            Err(format!("basic.vec:{line}: {want}")),
            "edit of line {line}"
        );
    }
}

/// The peer process fails as rill_xpeer does: exit 1, the one line on
/// stderr naming the file and line.
#[test]
fn vector_rust_peer_fails_with_the_line() {
    let dir = TempDir::new("vec-bad-p");
    let file = dir.path().join("bad.vec");
    std::fs::write(&file, edited(132, "30 20 3 0 0", "30 20 3 5 0")).unwrap();
    let rdir = dir.path().join("r");
    std::fs::create_dir(&rdir).unwrap();
    run_peer_ok("write", &file, &rdir);
    let out = vector_interp::run_peer("check", &file, &rdir);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let want = format!("{}:132: expected tsorig 5, got 0", file.display());
    assert_eq!(err.lines().last(), Some(want.as_str()), "{err}");
}

/// A mistake anywhere in the file fails before anything runs, at its line:
/// unknown verbs and keys, bad numbers, token counts, the check line.
#[test]
fn vector_parse_errors() {
    let head = "region r 65536\nchannel a 8 64 2 0\n";
    #[rustfmt::skip]
    let cases: &[(&str, usize, &str)] = &[
        ("frob a\ncheck\n", 3, "expected a known verb, got 'frob'"),
        ("check\nslot a 0 backpressure=1\n", 4, "expected a slot key, got 'backpressure'"),
        ("check\nstats a evicted=0\n", 4, "expected a stats key, got 'evicted'"),
        ("check\nstats a seq\n", 4, "expected key=value, got 'seq'"),
        ("check\nstats a producer=gone\n", 4, "expected producer=none|alive|dead, got 'gone'"),
        ("recv a 0 expect 1 2 3\ncheck\n", 3, "expected 9 tokens for 'recv', got 7"),
        ("send a +1 2\ncheck\n", 3, "expected SIZE (a decimal number), got '+1'"),
        ("commit a 65537 1 3 0\ncheck\n", 3, "expected SIZE <= 65536, got 65537"),
        ("poll a 0 expect nothing\ncheck\n", 3, "expected expect msg|overrun|empty, got 'expect nothing'"),
        ("wait a 256 expect closed\ncheck\n", 3, "expected a consumer slot <= 255, got 256"),
        ("send a 1 2 expect full\ncheck\n", 3, "expected again or msgsize, got 'full'"),
        ("consumer a eager\ncheck\n", 3, "expected reliable or lossy, got 'eager'"),
        ("check\ncheck\n", 4, "expected one check line, got a second one"),
        ("leave a 0\n", 0, "expected a line 'check', got none"),
    ];
    for &(tail, line, want) in cases {
        let got = Vector::parse("t.vec", &format!("{head}{tail}")).map(|_| ());
        assert_eq!(got, Err(format!("t.vec:{line}: {want}")), "{tail:?}");
    }
    // the checker needs the region line before check; the writer no line
    // after it
    let dir = TempDir::new("vec-parse");
    let v = Vector::parse("t.vec", "check\nstats a seq=0\n").unwrap();
    let got = Runner::new(dir.path()).run(&v, Phase::Check);
    assert_eq!(
        got,
        Err("t.vec:1: expected a region line before check, got none".into())
    );
}

/// A Rust writer and a C writer leave the same region file but for the
/// masked fields (tests/vectors/README.md, "Same bytes"): the safe API's
/// calls write what C's do, and nothing more.
#[test]
fn vector_rust_and_c_writers_leave_the_same_bytes() {
    let Some(c) = common::c_peer() else { return };
    let (rdir, cdir) = (TempDir::new("vec-sb-r"), TempDir::new("vec-sb-c"));
    run_peer_ok("write", &basic(), rdir.path());
    peer_ok(&c, "write", &basic(), cdir.path());
    let raw_r = std::fs::read(rdir.path().join("vec")).unwrap();
    let raw_c = std::fs::read(cdir.path().join("vec")).unwrap();
    let (r, c) = (vector_interp::mask(&raw_r), vector_interp::mask(&raw_c));
    assert_eq!((r.len(), c.len()), (1 << 20, 1 << 20));
    if let Some(i) = (0..r.len()).find(|&i| r[i] != c[i]) {
        panic!(
            "first difference at byte {i:#x}: Rust {:#04x}, C {:#04x}",
            r[i], c[i]
        );
    }
    // not vacuous: the ring holds the last message left for the checker
    // (sig 22, 100 bytes: 64 + 36), and the mask hid something
    let sig22: Vec<u8> = (0..100).map(|j| vector_interp::pattern(22, j)).collect();
    let holds = |part: &[u8]| r.windows(part.len()).any(|w| w == part);
    assert!(holds(&sig22[..64]) && holds(&sig22[64..]));
    assert!(raw_r[24..32] != [0; 8] && raw_r != raw_c);
}
