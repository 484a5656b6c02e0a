// SPDX-License-Identifier: Apache-2.0 OR MIT
//! rill between two processes, which rust-tango cannot do (its rings are
//! Rust values of one process): the pinned long run of harness.rs with its
//! producer and its consumer each in a process of its own.
//!
//! The worker that rill_bench started (`pinned-tput rill-proc ...`) creates
//! the region and its channel (the shapes of the threads' rows) and a
//! control block, a small file beside the region mapped by all three
//! processes, then starts this program twice again (`proc-side producer|
//! consumer ...`) and waits for both.  Each side opens the region and joins
//! the channel; once both have, the consumer unlinks the two files (the
//! mappings stay), and each runs its side of the run exactly as the
//! threads do (harness::pinned_producer, pinned_consumer: the same
//! pinning, probe, warm-up, messages and checks), meeting the other at a
//! barrier in the control block instead of a std::sync::Barrier.  Each
//! writes what it measured into the control block, from which the worker
//! prints rill_bench's `result` line, as for the threads.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rill::{Region, RegionOptions};

use crate::harness::{self, Errors, Meet, Run, RxStats, Shared, SpinBarrier};
use crate::msg::Check;
use crate::rill_chan::{self, CHANNEL};
use crate::sys::{self, Mapping};

/// What the three processes share: all zero when the file is made, then
/// `Shared::init`.
#[repr(C)]
struct Ctl {
    sh: Shared,
    /// Both sides have joined the channel.
    joined: SpinBarrier,
    /// The barrier of the run's steps (harness::Meet).
    steps: SpinBarrier,
    /// What the sides measured, written before they exit 0: the first
    /// publish and the last message checked (CLOCK_MONOTONIC ns), the
    /// probe's median, the intact measured messages, the errors.
    start_ns: AtomicU64,
    stop_ns: AtomicU64,
    probe_ns: AtomicU64,
    msgs: AtomicU64,
    bad: AtomicU64,
    lost: AtomicU64,
    corrupt: AtomicU64,
    overruns: AtomicU64,
}

const CTL_BYTES: usize = 4096;
const _: () = assert!(std::mem::size_of::<Ctl>() <= CTL_BYTES);
const _: () = assert!(std::mem::align_of::<Ctl>() <= CTL_BYTES);

fn ctl(m: &Mapping) -> &Ctl {
    assert!(m.len() >= std::mem::size_of::<Ctl>());
    // SAFETY: the mapping is page-aligned (mmap), long enough for a Ctl
    // (asserted), and lives as long as the reference.  A Ctl is atomics only, for which all
    // zero bytes (the new file) are a valid value, and every process
    // touches them only through atomic operations.
    unsafe { &*m.as_ptr().cast::<Ctl>() }
}

fn ctl_path(dir: &Path, region: &str) -> PathBuf {
    dir.join(format!("{region}.ctl"))
}

/// Removes the region and the control block from the directory (once the
/// sides have mapped them, or after a failure).
fn unlink(dir: &Path, region: &str) {
    let _ = Region::unlink(region, Some(dir));
    let _ = std::fs::remove_file(ctl_path(dir, region));
}

/// Unlinks the two files when the run ends, however it ends.
struct Files<'a> {
    dir: &'a Path,
    region: &'a str,
}

impl Drop for Files<'_> {
    fn drop(&mut self) {
        unlink(self.dir, self.region);
    }
}

/// The worker's part: sets up the run, starts the producer's and the
/// consumer's processes, waits for them and returns what they measured.
/// DEPTH and MTU are the channel's; CPUS as for the threads.
pub fn pinned_throughput(
    dir: &Path,
    (depth, mtu): (u32, u32),
    size: usize,
    warm: Duration,
    dur: Duration,
    cpus: Option<[usize; 2]>,
) -> Result<Run, String> {
    let region = format!("tango-{}-proc", std::process::id());
    let _files = Files {
        dir,
        region: &region,
    };
    drop(rill_chan::create(dir, &region, depth, mtu)?);
    let map = Mapping::create(&ctl_path(dir, &region), CTL_BYTES)?;
    let c = ctl(&map);
    c.sh.init();

    let exe = std::env::current_exe().map_err(|e| format!("this program's path: {e}"))?;
    let (c0, c1) = match cpus {
        Some([a, b]) => (a as i64, b as i64),
        None => (-1, -1),
    };
    let args = |role: &str| -> Vec<String> {
        vec![
            "worker".into(),
            "proc-side".into(),
            role.into(),
            size.to_string(),
            warm.as_millis().to_string(),
            dur.as_millis().to_string(),
            c0.to_string(),
            c1.to_string(),
            dir.to_string_lossy().into_owned(),
            region.clone(),
            std::process::id().to_string(),
        ]
    };
    let spawn = |role: &str| {
        Command::new(&exe)
            .args(args(role))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting the {role} process: {e}"))
    };
    let prod = spawn("producer")?;
    let cons = match spawn("consumer") {
        Ok(p) => p,
        Err(e) => {
            c.sh.abort();
            let _ = wait(prod, "producer");
            return Err(e);
        }
    };
    // A side that fails sets the abort flag itself; one that could not
    // (it died) is seen here, and the other one told.
    let p = wait(prod, "producer");
    if p.is_err() {
        c.sh.abort();
    }
    harness::both(p, wait(cons, "consumer"))?;
    let ld = |a: &AtomicU64| a.load(Ordering::Acquire);
    Ok(Run {
        msgs: ld(&c.msgs),
        ns: ld(&c.stop_ns).saturating_sub(ld(&c.start_ns)),
        errors: Errors {
            bad: ld(&c.bad),
            lost: ld(&c.lost),
            overruns: ld(&c.overruns),
            skipped: 0,
            corrupt: ld(&c.corrupt),
        },
        probe_ns: ld(&c.probe_ns),
    })
}

/// Waits for side ROLE's process; its failure, with the last line it
/// wrote on stderr.
fn wait(mut child: Child, role: &str) -> Result<(), String> {
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let st = child
        .wait()
        .map_err(|e| format!("waiting for the {role} process: {e}"))?;
    if st.success() {
        return Ok(());
    }
    let last = err.lines().rev().find(|l| !l.trim().is_empty());
    Err(match last {
        Some(l) => format!(
            "the {role} process: {}",
            l.trim().trim_start_matches("rill-tangoworker: ")
        ),
        None => format!("the {role} process: {st}"),
    })
}

/// One side's process: `proc-side ROLE SIZE WARM_MS RUN_MS CPU0 CPU1 DIR
/// REGION PARENT`.  The producer runs on CPU0, the consumer on CPU1.
#[allow(clippy::too_many_arguments)]
pub fn side(
    role: &str,
    size: usize,
    warm: Duration,
    dur: Duration,
    cpus: Option<[usize; 2]>,
    dir: &Path,
    region: &str,
    parent: u32,
) -> Result<(), String> {
    sys::die_with_parent(parent)?;
    let map = Mapping::open(&ctl_path(dir, region), CTL_BYTES)?;
    let c = ctl(&map);
    let guard = AbortOnPanic(&c.sh);
    let r = run_side(c, role, size, warm, dur, cpus, dir, region);
    drop(guard);
    if r.is_err() {
        c.sh.abort();
    }
    r.map_err(|e| format!("{role}: {e}"))
}

/// Sets the abort flag if the side panics (a send that failed otherwise
/// than for credit), so that the other side stops at once rather than
/// after SPIN_LIMIT.
struct AbortOnPanic<'a>(&'a Shared);

impl Drop for AbortOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.abort();
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn run_side(
    c: &Ctl,
    role: &str,
    size: usize,
    warm: Duration,
    dur: Duration,
    cpus: Option<[usize; 2]>,
    dir: &Path,
    region: &str,
) -> Result<(), String> {
    let set = |a: &AtomicU64, v: u64| a.store(v, Ordering::Release);
    match role {
        "producer" => {
            let mut tx = join(dir, region, |ch| ch.producer())?;
            c.joined.meet(c.sh.flag());
            let cpu = cpus.map(|c| c[0]);
            let (t0, probe) =
                harness::pinned_producer(&mut tx, size, warm, dur, cpu, &c.sh, &c.steps)?;
            set(&c.start_ns, sys::monotonic_ns(t0));
            set(&c.probe_ns, probe);
        }
        "consumer" => {
            let mut rx = join(dir, region, |ch| ch.reliable())?;
            c.joined.meet(c.sh.flag());
            // Both have joined and mapped the control block: nothing needs
            // the files any more.
            unlink(dir, region);
            let cpu = cpus.map(|c| c[1]);
            let mut chk = Check::new(size, 0);
            let mut st = RxStats::default();
            let (t1, msgs) =
                harness::pinned_consumer(&mut rx, &mut chk, &mut st, cpu, &c.sh, &c.steps)?;
            set(&c.stop_ns, sys::monotonic_ns(t1));
            set(&c.msgs, msgs);
            let e = Errors::of(&chk, &st);
            set(&c.bad, e.bad);
            set(&c.lost, e.lost);
            set(&c.corrupt, e.corrupt);
            set(&c.overruns, e.overruns);
        }
        _ => return Err(format!("unknown side {role:?}")),
    }
    Ok(())
}

/// Opens REGION of DIR and joins its channel by F; the region is closed
/// again (the endpoint keeps its own mapping).
fn join<T>(
    dir: &Path,
    region: &str,
    f: impl FnOnce(&rill::Channel<'_>) -> rill::Result<T>,
) -> Result<T, String> {
    let r = Region::open(region, &RegionOptions::new().dir(dir))
        .map_err(|e| format!("rill region {region}: {e}"))?;
    let ch = r
        .channel(CHANNEL)
        .map_err(|e| format!("rill channel: {e}"))?;
    f(&ch).map_err(|e| format!("rill join: {e}"))
}
