// SPDX-License-Identifier: Apache-2.0 OR MIT
//! rill-tangoworker: rill beside rust-tango between two threads of this
//! process, and rill alone between two processes, one measurement per
//! start, for rill_bench (its tango suite).
//! It speaks rill_bench's worker protocol (bench/proc.h): it prints raw
//! numbers on "result" and "samples" lines and computes no statistics.
//!
//!   worker readme-tput NAME SIZE N WARM SAMPLES CPU0 CPU1 DIR
//!       the crate's README method: WARM + SAMPLES samples of N messages
//!       through a fresh pair of unpinned threads, over one channel; a
//!       "result warm 0|1 iter_ns .. xfer_ns .. ok .." line each
//!   worker readme-pingpong NAME TRIPS WARM SAMPLES CPU0 CPU1 DIR
//!       the same for TRIPS round trips of 8 B per sample
//!   worker pinned-tput NAME SIZE WARM_MS RUN_MS CPU0 CPU1 DIR
//!       producer on CPU0, consumer on CPU1, a cache-line probe, WARM_MS of
//!       messages, then RUN_MS timed: "result msgs .. ns .. probe_ns .."
//!       NAME rill-proc: the same with the producer and the consumer in two
//!       processes of their own, this program started again as
//!   worker proc-side producer|consumer SIZE WARM_MS RUN_MS CPU0 CPU1 DIR
//!       REGION PARENT
//!       one side of a rill-proc run (procs.rs); it writes no lines
//!   worker pingpong NAME WARM TRIPS CPU0 CPU1 DIR
//!       pinned ping-pong of 8 B: "result probe_ns ..", every round trip's
//!       ns on "samples" lines
//!   worker version
//!
//! NAME is rill, rust-tango or rust-tango+fctl (and rill-proc for
//! pinned-tput); SIZE 64 or 1024 (the
//! crate's benchmark shapes); CPU -1: not pinned.  Every result line also
//! carries the errors: bad, lost, corrupt, overruns.  README.md says what
//! each method does and why.

mod chan;
mod harness;
mod msg;
mod procs;
mod rill_chan;
mod sys;

use std::io::Write;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chan::{Channel, TangoChan};
use harness::{Errors, Run};
use rill_chan::RillChan;

const PING_SIZE: usize = 8;

fn errs(e: &Errors) -> String {
    format!(
        "bad {} lost {} corrupt {} overruns {}",
        e.bad, e.lost, e.corrupt, e.overruns
    )
}

fn num<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.parse().map_err(|_| format!("bad number {s:?}"))
}

fn rill_chan(dir: &Path, depth: u32, mtu: u32) -> Result<RillChan, String> {
    static NO: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let name = format!(
        "tango-{}-{}",
        std::process::id(),
        NO.fetch_add(1, Ordering::Relaxed)
    );
    RillChan::new(dir, &name, depth, mtu)
}

/// The channels of the crate's benchmark for messages of SIZE (64 B,
/// 1024 B, or the ping-pong's 8 B): MCache depth, DCache chunks, chunk
/// size; rill's channel has the depth and an mtu of the chunk size.
fn shape(size: usize) -> (u32, u32, u32) {
    match size {
        64 => (16384, 16384, 128),
        1024 => (2048, 2048, 2048),
        _ => (1024, 1024, 64),
    }
}

/// Calls $f with the channel of contender $name for the shape of $size,
/// and $extra.
macro_rules! with_chan {
    ($name:expr, $size:expr, $dir:expr, $f:ident ( $($extra:expr),* )) => {{
        let (d, c, s) = shape($size);
        let fctl = $name == "rust-tango+fctl";
        match ($name, d) {
            ("rill", _) => $f(&mut || rill_chan($dir, d, s), $($extra),*),
            (_, 16384) => $f(&mut || Ok(TangoChan::<16384, 16384, 128>::new(fctl)), $($extra),*),
            (_, 2048) => $f(&mut || Ok(TangoChan::<2048, 2048, 2048>::new(fctl)), $($extra),*),
            _ => { let _ = c; $f(&mut || Ok(TangoChan::<1024, 1024, 64>::new(fctl)), $($extra),*) }
        }
    }};
}

type Make<'a, C> = &'a mut dyn FnMut() -> Result<C, String>;

/// The README method's samples: WARM, then SAMPLES, each printed.
fn readme_samples(
    warm: usize,
    samples: usize,
    mut one: impl FnMut(&mut u64) -> Result<harness::Sample, String>,
) -> Result<(), String> {
    let mut next = 0;
    for i in 0..warm + samples {
        let s = one(&mut next)?;
        println!(
            "result warm {} iter_ns {} xfer_ns {} ok {} {}",
            (i < warm) as u8,
            s.iter_ns,
            s.xfer_ns,
            s.ok,
            errs(&s.errors)
        );
    }
    Ok(())
}

fn readme_tput<C: Channel>(
    make: Make<C>,
    size: usize,
    n: u64,
    warm: usize,
    samples: usize,
) -> Result<(), String> {
    let mut ch = make()?;
    readme_samples(warm, samples, |next| {
        harness::readme_throughput(&mut ch, size, n, next)
    })
}

fn readme_pingpong<C: Channel>(
    make: Make<C>,
    trips: u64,
    warm: usize,
    samples: usize,
) -> Result<(), String> {
    let (mut a, mut b) = (make()?, make()?);
    readme_samples(warm, samples, |next| {
        harness::readme_pingpong(&mut a, &mut b, PING_SIZE, trips, next)
    })
}

fn pinned_tput<C: Channel>(
    make: Make<C>,
    size: usize,
    warm: Duration,
    dur: Duration,
    cpus: Option<[usize; 2]>,
) -> Result<(), String> {
    print_run(&harness::pinned_throughput(
        &mut make()?,
        size,
        warm,
        dur,
        cpus,
    )?);
    Ok(())
}

fn print_run(r: &Run) {
    println!(
        "result msgs {} ns {} probe_ns {} {}",
        r.msgs,
        r.ns,
        r.probe_ns,
        errs(&r.errors)
    );
}

/// CPU0 and CPU1 as given (-1: not pinned); when the two sides cannot each
/// have a CPU of their own, their spinning yields.
fn cpus_of(c0: &str, c1: &str) -> Result<Option<[usize; 2]>, String> {
    let (c0, c1) = (num::<i64>(c0)?, num::<i64>(c1)?);
    let cpus = (c0 >= 0 && c1 >= 0).then_some([c0 as usize, c1 as usize]);
    if cpus.is_none() || c0 == c1 {
        harness::SINGLE_CPU.store(true, Ordering::Relaxed);
    }
    Ok(cpus)
}

fn pingpong<C: Channel>(
    make: Make<C>,
    warm: u64,
    trips: u64,
    cpus: Option<[usize; 2]>,
) -> Result<(), String> {
    let (mut a, mut b) = (make()?, make()?);
    let r = harness::pinned_pingpong(&mut a, &mut b, PING_SIZE, warm, trips, cpus)?;
    println!("result probe_ns {} {}", r.probe_ns, errs(&r.errors));
    let out = std::io::stdout();
    let mut out = out.lock();
    for chunk in r.rtts.chunks(512) {
        let line: Vec<String> = chunk.iter().map(|v| v.to_string()).collect();
        writeln!(out, "samples {}", line.join(" ")).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn run(a: &[String]) -> Result<(), String> {
    let cmd = a.first().map(String::as_str).unwrap_or("");
    if cmd == "version" {
        println!("info rustc {}", env!("TANGOBENCH_RUSTC_VERSION"));
        println!("info rust_tango {}", env!("TANGOBENCH_RUST_TANGO_VERSION"));
        return Ok(());
    }
    let ms = |s: &str| num::<u64>(s).map(Duration::from_millis);
    if cmd == "proc-side" {
        if a.len() != 10 {
            return Err(format!("{cmd}: {} arguments, 9 wanted", a.len() - 1));
        }
        let cpus = cpus_of(&a[5], &a[6])?;
        let (size, w, d) = (num(&a[2])?, ms(&a[3])?, ms(&a[4])?);
        return procs::side(
            &a[1],
            size,
            w,
            d,
            cpus,
            Path::new(&a[7]),
            &a[8],
            num(&a[9])?,
        );
    }
    let nargs = match cmd {
        "readme-tput" => 9,
        "readme-pingpong" | "pinned-tput" => 8,
        "pingpong" => 7,
        _ => return Err(format!("unknown command {cmd:?}")),
    };
    if a.len() != nargs {
        return Err(format!(
            "{cmd}: {} arguments, {} wanted",
            a.len() - 1,
            nargs - 1
        ));
    }
    let name = a[1].as_str();
    match name {
        "rill" | "rust-tango" | "rust-tango+fctl" => {}
        "rill-proc" if cmd == "pinned-tput" => {}
        "rill-proc" => return Err(format!("rill-proc: pinned-tput only, not {cmd}")),
        _ => return Err(format!("unknown contender {name:?}")),
    }
    // the last three: CPU0 CPU1 DIR
    let cpus = cpus_of(&a[nargs - 3], &a[nargs - 2])?;
    let dir = Path::new(&a[nargs - 1]);
    match cmd {
        "readme-tput" => {
            let size: usize = num(&a[2])?;
            let (n, w, s) = (num(&a[3])?, num(&a[4])?, num(&a[5])?);
            with_chan!(name, size, dir, readme_tput(size, n, w, s))
        }
        "readme-pingpong" => {
            let (t, w, s) = (num(&a[2])?, num(&a[3])?, num(&a[4])?);
            with_chan!(name, PING_SIZE, dir, readme_pingpong(t, w, s))
        }
        "pinned-tput" => {
            let size: usize = num(&a[2])?;
            let (w, d) = (ms(&a[3])?, ms(&a[4])?);
            if name == "rill-proc" {
                let (depth, _, mtu) = shape(size);
                let r = procs::pinned_throughput(dir, (depth, mtu), size, w, d, cpus)?;
                print_run(&r);
                return Ok(());
            }
            with_chan!(name, size, dir, pinned_tput(size, w, d, cpus))
        }
        _ => {
            let (w, t) = (num(&a[2])?, num(&a[3])?);
            with_chan!(name, PING_SIZE, dir, pingpong(w, t, cpus))
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) != Some("worker") {
        eprintln!("usage: rill-tangoworker worker COMMAND ARGS... (see src/main.rs)");
        std::process::exit(2);
    }
    // rust-tango builds its rings by value (MCache::new() is an array of
    // 16,384 x 128 bytes) before they are boxed: give the thread that
    // builds them room, as the crate's README does with RUST_MIN_STACK.
    let h = std::thread::Builder::new()
        .stack_size(512 << 20)
        .spawn(move || run(&args[1..]))
        .expect("spawn");
    match h.join() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            eprintln!("rill-tangoworker: {e}");
            std::process::exit(1);
        }
        Err(_) => {
            eprintln!("rill-tangoworker: panicked");
            std::process::exit(1);
        }
    }
}
