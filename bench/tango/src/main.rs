// SPDX-License-Identifier: Apache-2.0 OR MIT
//! rill-tangobench: rill beside rust-tango, between two threads of one
//! process, measured by one harness (harness.rs) in the same run.
//!
//! Two methods (README.md says what each does and why):
//!   README method  the crate's own benchmark: 10,000 x 64 B and 2,048 x
//!                  1024 B through a fresh pair of unpinned threads per
//!                  sample, 100 round trips of 8 B; many samples, medians.
//!   pinned runs    producer and consumer pinned to two CPUs, ~1 s runs
//!                  interleaved between the contenders, and a pinned
//!                  ping-pong timed round trip by round trip.
//!
//! The bar: rill at least 2x rust-tango's throughput at 64 and 1024 bytes,
//! by each method.

mod chan;
mod harness;
mod json;
mod msg;
mod rill;
mod sys;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use chan::{Channel, TangoChan};
use harness::{Errors, RttRun, Run, Sample};
use json::J;
use rill::RillChan;

const BAR: f64 = 2.0;
const README_TPUT: [(usize, u64); 2] = [(64, 10_000), (1024, 2048)];
const README_TRIPS: u64 = 100;
const PING_SIZE: usize = 8;

struct Opts {
    quick: bool,
    out: PathBuf,
    samples: usize,
    warm_samples: usize,
    runs: usize,
    secs: f64,
    warm_secs: f64,
    rtt_trips: u64,
    rtt_warm: u64,
    cpus: Option<[usize; 2]>,
    /// Parts to run: "readme", "pinned", "pingpong".
    only: Vec<String>,
}

impl Opts {
    fn runs_part(&self, part: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|p| p == part)
    }
}

fn usage() -> &'static str {
    "usage: rill-tangobench [--quick] [--out PATH] [--samples N] [--runs N] [--secs S] [--cpus A,B]\n\
     \x20 --quick      smoke run (a few seconds)\n\
     \x20 --out PATH   JSON results (default bench/results/tango.json; directories are made)\n\
     \x20 --samples N  README method: samples per row (default 200, quick 10)\n\
     \x20 --runs N     pinned runs per row (default 5, quick 2)\n\
     \x20 --secs S     length of a pinned throughput run (default 1.0, quick 0.05)\n\
     \x20 --cpus A,B   CPUs of the two threads of the pinned runs (default: the first\n\
     \x20              two CPUs this process may run on)\n\
     \x20 --only LIST  only these parts: readme, pinned, pingpong (pinned ping-pong)\n"
}

fn parse_args() -> Result<Opts, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let mut o = Opts {
        quick,
        out: PathBuf::from("bench/results/tango.json"),
        samples: if quick { 10 } else { 200 },
        warm_samples: if quick { 3 } else { 50 },
        runs: if quick { 2 } else { 5 },
        secs: if quick { 0.05 } else { 1.0 },
        warm_secs: if quick { 0.02 } else { 0.2 },
        rtt_trips: if quick { 2_000 } else { 20_000 },
        rtt_warm: if quick { 1_000 } else { 20_000 },
        cpus: None,
        only: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--quick" => {}
            "--out" => o.out = PathBuf::from(val()?),
            "--samples" => o.samples = num(val()?, 1, 100_000)?,
            "--runs" => o.runs = num(val()?, 1, 100)?,
            "--secs" => {
                let v = val()?;
                o.secs = v
                    .parse()
                    .ok()
                    .filter(|s: &f64| *s > 0.0 && *s <= 60.0)
                    .ok_or(format!("--secs {v}"))?
            }
            "--cpus" => {
                let v = val()?;
                let c: Vec<usize> = v.split(',').filter_map(|x| x.trim().parse().ok()).collect();
                if c.len() != 2 || c[0] == c[1] {
                    return Err(format!("--cpus {v}: two different CPU numbers, as 0,1"));
                }
                o.cpus = Some([c[0], c[1]]);
            }
            "--only" => {
                let v = val()?;
                for p in v.split(',') {
                    if !["readme", "pinned", "pingpong"].contains(&p) {
                        return Err(format!("--only {v}: parts are readme, pinned, pingpong"));
                    }
                    o.only.push(p.to_string());
                }
            }
            "-h" | "--help" => {
                print!("{}", usage());
                std::process::exit(0);
            }
            _ => return Err(format!("unknown option {a}")),
        }
    }
    Ok(o)
}

fn num(s: &str, lo: usize, hi: usize) -> Result<usize, String> {
    s.parse()
        .ok()
        .filter(|n| (lo..=hi).contains(n))
        .ok_or_else(|| format!("{s}: a number from {lo} to {hi}"))
}

// ---- statistics -------------------------------------------------------------

fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// (max - min) / median.
fn spread(v: &[f64]) -> f64 {
    let (lo, hi) = v
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &x| {
            (l.min(x), h.max(x))
        });
    (hi - lo) / median(v)
}

/// Nearest-rank quantile of sorted S.
fn quantile(s: &[u32], q: f64) -> u64 {
    if s.is_empty() {
        return 0;
    }
    let rank = (q * s.len() as f64).ceil().max(1.0) as usize;
    s[rank.min(s.len()) - 1] as u64
}

fn gib(msgs_per_s: f64, size: usize) -> f64 {
    msgs_per_s * size as f64 / (1u64 << 30) as f64
}

fn fmt_rate(x: f64) -> String {
    if !x.is_finite() {
        "-".into()
    } else if x >= 1e6 {
        format!("{:.2} M", x / 1e6)
    } else {
        format!("{:.1} k", x / 1e3)
    }
}

// ---- rows -------------------------------------------------------------------

static REGION_NO: AtomicU32 = AtomicU32::new(0);

fn rill_chan(dir: &Path, depth: u32, mtu: u32) -> Result<RillChan, String> {
    let name = format!("tb{}", REGION_NO.fetch_add(1, Ordering::Relaxed));
    RillChan::new(dir, &name, depth, mtu)
}

type Sampler = Box<dyn FnMut() -> Result<Sample, String>>;
type Runner = Box<dyn FnMut() -> Result<Run, String>>;
type RttRunner = Box<dyn FnMut() -> Result<RttRun, String>>;

fn tput_sampler<C: Channel + 'static>(ch: Result<C, String>, size: usize, n: u64) -> Sampler {
    match ch {
        Ok(mut ch) => {
            let mut next = 0;
            Box::new(move || harness::readme_throughput(&mut ch, size, n, &mut next))
        }
        Err(e) => Box::new(move || Err(e.clone())),
    }
}

fn pingpong_sampler<C: Channel + 'static>(
    chs: Result<(C, C), String>,
    size: usize,
    trips: u64,
) -> Sampler {
    match chs {
        Ok((mut a, mut b)) => {
            let mut next = 0;
            Box::new(move || harness::readme_pingpong(&mut a, &mut b, size, trips, &mut next))
        }
        Err(e) => Box::new(move || Err(e.clone())),
    }
}

/// A row of the README method.
struct ReadmeRow {
    name: &'static str,
    test: &'static str, // "throughput" or "ping-pong"
    size: usize,
    per_sample: u64, // messages, or round trips
    samples: Vec<Sample>,
    warm_errors: Errors,
    failed: Option<String>,
}

impl ReadmeRow {
    fn rates(&self, xfer: bool) -> Vec<f64> {
        self.samples
            .iter()
            .map(|s| s.ok as f64 * 1e9 / (if xfer { s.xfer_ns } else { s.iter_ns }).max(1) as f64)
            .collect()
    }
    fn msgs_per_s(&self) -> f64 {
        median(&self.rates(false))
    }
    fn xfer_msgs_per_s(&self) -> f64 {
        median(&self.rates(true))
    }
    fn iter_ns(&self) -> f64 {
        median(
            &self
                .samples
                .iter()
                .map(|s| s.iter_ns as f64)
                .collect::<Vec<_>>(),
        )
    }
    fn xfer_ns(&self) -> f64 {
        median(
            &self
                .samples
                .iter()
                .map(|s| s.xfer_ns as f64)
                .collect::<Vec<_>>(),
        )
    }
    fn errors(&self) -> Errors {
        let mut e = self.warm_errors;
        for s in &self.samples {
            e.add(&s.errors);
        }
        e
    }
}

/// Runs the samplers of one row group interleaved: round r runs every
/// contender once, in turn, the order reversed every other round.
fn run_readme(group: Vec<(ReadmeRow, Sampler)>, warm: usize, samples: usize) -> Vec<ReadmeRow> {
    let (mut rows, mut fns): (Vec<ReadmeRow>, Vec<Sampler>) = group.into_iter().unzip();
    for round in 0..warm + samples {
        let k = rows.len();
        for j in 0..k {
            let i = if round % 2 == 0 { j } else { k - 1 - j };
            if rows[i].failed.is_some() {
                continue;
            }
            match fns[i]() {
                Ok(s) if round < warm => rows[i].warm_errors.add(&s.errors),
                Ok(s) => rows[i].samples.push(s),
                Err(e) => rows[i].failed = Some(e),
            }
        }
    }
    rows
}

struct PinnedRow {
    name: &'static str,
    size: usize,
    runs: Vec<Run>,
    failed: Option<String>,
}

impl PinnedRow {
    fn rates(&self) -> Vec<f64> {
        self.runs
            .iter()
            .map(|r| r.msgs as f64 * 1e9 / r.ns.max(1) as f64)
            .collect()
    }
    fn msgs_per_s(&self) -> f64 {
        median(&self.rates())
    }
    fn errors(&self) -> Errors {
        let mut e = Errors::default();
        for r in &self.runs {
            e.add(&r.errors);
        }
        e
    }
}

struct RttRow {
    name: &'static str,
    size: usize,
    runs: Vec<RttRun>,
    failed: Option<String>,
}

impl RttRow {
    fn sorted(&self) -> Vec<u32> {
        let mut all: Vec<u32> = self
            .runs
            .iter()
            .flat_map(|r| r.rtts.iter().copied())
            .collect();
        all.sort_unstable();
        all
    }
    fn errors(&self) -> Errors {
        let mut e = Errors::default();
        for r in &self.runs {
            e.add(&r.errors);
        }
        e
    }
}

/// Runs R runs of every contender, interleaved: run r starts with contender
/// r mod k, so that each takes every place in the order alike.
fn interleave<T>(
    runs: usize,
    fns: &mut [Box<dyn FnMut() -> Result<T, String>>],
    mut put: impl FnMut(usize, Result<T, String>),
) {
    let k = fns.len();
    for r in 0..runs {
        for j in 0..k {
            let i = (r + j) % k;
            put(i, fns[i]());
        }
    }
}

// ---- the run ----------------------------------------------------------------

struct Report {
    readme: Vec<ReadmeRow>,
    pinned: Vec<PinnedRow>,
    rtt: Vec<RttRow>,
}

fn run_all(o: &Opts, dir: &Path, cpus: Option<[usize; 2]>) -> Report {
    // README method: the crate's benchmark configurations (its
    // channel_comparison.rs): MCache 16384 / DCache 16384 x 128 B for
    // 10,000 x 64 B; MCache 2048 / DCache 2048 x 2048 B for 2,048 x 1024 B;
    // MCache 1024 / DCache 1024 x 64 B each way for the ping-pong.  rill's
    // channels get the same depth and an mtu of the chunk size.
    let mut readme = Vec::new();
    for &(size, n) in README_TPUT.iter().filter(|_| o.runs_part("readme")) {
        let row = |name| ReadmeRow {
            name,
            test: "throughput",
            size,
            per_sample: n,
            samples: Vec::new(),
            warm_errors: Errors::default(),
            failed: None,
        };
        let group: Vec<(ReadmeRow, Sampler)> = if size == 64 {
            vec![
                (
                    row("rill"),
                    tput_sampler(rill_chan(dir, 16384, 128), size, n),
                ),
                (
                    row("rust-tango"),
                    tput_sampler(Ok(TangoChan::<16384, 16384, 128>::new(false)), size, n),
                ),
            ]
        } else {
            vec![
                (
                    row("rill"),
                    tput_sampler(rill_chan(dir, 2048, 2048), size, n),
                ),
                (
                    row("rust-tango"),
                    tput_sampler(Ok(TangoChan::<2048, 2048, 2048>::new(false)), size, n),
                ),
            ]
        };
        readme.extend(run_readme(group, o.warm_samples, o.samples));
    }
    if o.runs_part("readme") {
        let row = |name| ReadmeRow {
            name,
            test: "ping-pong",
            size: PING_SIZE,
            per_sample: README_TRIPS,
            samples: Vec::new(),
            warm_errors: Errors::default(),
            failed: None,
        };
        let rill_pair = rill_chan(dir, 1024, 64).and_then(|a| Ok((a, rill_chan(dir, 1024, 64)?)));
        let tango_pair = Ok((
            TangoChan::<1024, 1024, 64>::new(false),
            TangoChan::<1024, 1024, 64>::new(false),
        ));
        let group: Vec<(ReadmeRow, Sampler)> = vec![
            (
                row("rill"),
                pingpong_sampler(rill_pair, PING_SIZE, README_TRIPS),
            ),
            (
                row("rust-tango"),
                pingpong_sampler(tango_pair, PING_SIZE, README_TRIPS),
            ),
        ];
        readme.extend(run_readme(group, o.warm_samples, o.samples));
    }

    // Pinned long runs: a fresh channel per run (same configurations), the
    // contenders interleaved run by run.  rust-tango runs as its README's
    // benchmarks do (no flow control: the producer may lap the consumer)
    // and with its credits (Fctl), as its README's "With Flow Control".
    let warm = Duration::from_secs_f64(o.warm_secs);
    let dur = Duration::from_secs_f64(o.secs);
    let mut pinned = Vec::new();
    for &(size, _) in README_TPUT.iter().filter(|_| o.runs_part("pinned")) {
        let names = ["rill", "rust-tango", "rust-tango+fctl"];
        let d = dir.to_path_buf();
        // The three contenders with one ring shape: depth, chunks, chunk bytes
        // (rust-tango's are type parameters, hence a macro).
        macro_rules! contenders {
            ($depth:literal, $chunks:literal, $chunk:literal) => {{
                let v: Vec<Runner> = vec![
                    Box::new(move || {
                        let mut ch = rill_chan(&d, $depth, $chunk)?;
                        harness::pinned_throughput(&mut ch, size, warm, dur, cpus)
                    }),
                    Box::new(move || {
                        let mut ch = TangoChan::<$depth, $chunks, $chunk>::new(false);
                        harness::pinned_throughput(&mut ch, size, warm, dur, cpus)
                    }),
                    Box::new(move || {
                        let mut ch = TangoChan::<$depth, $chunks, $chunk>::new(true);
                        harness::pinned_throughput(&mut ch, size, warm, dur, cpus)
                    }),
                ];
                v
            }};
        }
        let mut fns = if size == 64 {
            contenders!(16384, 16384, 128)
        } else {
            contenders!(2048, 2048, 2048)
        };
        let mut rows: Vec<PinnedRow> = names
            .iter()
            .map(|&name| PinnedRow {
                name,
                size,
                runs: Vec::new(),
                failed: None,
            })
            .collect();
        interleave(o.runs, &mut fns, |i, r| match r {
            Ok(run) => rows[i].runs.push(run),
            Err(e) => {
                rows[i].failed.get_or_insert(e);
            }
        });
        pinned.extend(rows);
    }

    let (w, t) = (o.rtt_warm, o.rtt_trips);
    let d = dir.to_path_buf();
    let mut fns: Vec<RttRunner> = vec![
        Box::new(move || {
            harness::pinned_pingpong(
                &mut rill_chan(&d, 1024, 64)?,
                &mut rill_chan(&d, 1024, 64)?,
                PING_SIZE,
                w,
                t,
                cpus,
            )
        }),
        Box::new(move || {
            harness::pinned_pingpong(
                &mut TangoChan::<1024, 1024, 64>::new(false),
                &mut TangoChan::<1024, 1024, 64>::new(false),
                PING_SIZE,
                w,
                t,
                cpus,
            )
        }),
    ];
    let mut rtt: Vec<RttRow> = ["rill", "rust-tango"]
        .iter()
        .map(|&name| RttRow {
            name,
            size: PING_SIZE,
            runs: Vec::new(),
            failed: None,
        })
        .collect();
    let rtt_runs = if o.runs_part("pingpong") {
        o.runs
    } else {
        rtt.clear();
        0
    };
    interleave(rtt_runs, &mut fns, |i, r| match r {
        Ok(run) => rtt[i].runs.push(run),
        Err(e) => {
            rtt[i].failed.get_or_insert(e);
        }
    });
    Report {
        readme,
        pinned,
        rtt,
    }
}

// ---- the bar ----------------------------------------------------------------

struct Bar {
    method: &'static str,
    size: usize,
    rill: f64,
    against: &'static str,
    tango: f64,
    ratio: f64,
    met: bool,
    note: String,
}

fn bars(rep: &Report) -> Vec<Bar> {
    let mut out = Vec::new();
    for &(size, _) in &README_TPUT {
        let find = |name| {
            rep.readme
                .iter()
                .find(|r| r.name == name && r.size == size && r.test == "throughput")
        };
        if let (Some(r), Some(t)) = (find("rill"), find("rust-tango")) {
            let (a, b) = (r.msgs_per_s(), t.msgs_per_s());
            let (xa, xb) = (r.xfer_msgs_per_s(), t.xfer_msgs_per_s());
            out.push(Bar {
                method: "readme",
                size,
                rill: a,
                against: "rust-tango",
                tango: b,
                ratio: a / b,
                met: r.failed.is_none() && a / b >= BAR,
                note: format!("by the transfer clock: {:.2}x", xa / xb),
            });
        }
        let find = |name| rep.pinned.iter().find(|r| r.name == name && r.size == size);
        if let (Some(r), Some(t), Some(f)) =
            (find("rill"), find("rust-tango"), find("rust-tango+fctl"))
        {
            let a = r.msgs_per_s();
            let (b, c) = (t.msgs_per_s(), f.msgs_per_s());
            // Against the faster of the two ways of running rust-tango.
            let (against, d) = if c.is_nan() || b >= c {
                ("rust-tango", b)
            } else {
                ("rust-tango+fctl", c)
            };
            out.push(Bar {
                method: "pinned",
                size,
                rill: a,
                against,
                tango: d,
                ratio: a / d,
                met: r.failed.is_none() && a / d >= BAR,
                note: format!("{:.2}x rust-tango, {:.2}x rust-tango+fctl", a / b, a / c),
            });
        }
    }
    out
}

// ---- output -----------------------------------------------------------------

fn err_cell(e: &Errors) -> String {
    if e.overruns > 0 || e.total() > 0 {
        format!(
            "{} (lost {}, bad {}, overruns {})",
            e.total(),
            e.lost,
            e.bad + e.corrupt,
            e.overruns
        )
    } else {
        "0".into()
    }
}

fn print_report(o: &Opts, rep: &Report, bars: &[Bar], cpus: Option<[usize; 2]>) {
    if !rep.readme.is_empty() {
        println!(
            "\n== README method: unpinned, a fresh pair of threads per sample; {} samples after {} warm-up, medians",
            o.samples, o.warm_samples
        );
        println!(
            "{:<11} {:>5} {:>7} {:>11} {:>8} {:>10} {:>13} {:>8}  errors",
            "name", "size", "msgs", "msgs/s", "GiB/s", "iter µs", "xfer msgs/s", "GiB/s"
        );
        for r in rep.readme.iter().filter(|r| r.test == "throughput") {
            if let Some(f) = &r.failed {
                println!(
                    "{:<11} {:>5} {:>7}  FAILED: {f}",
                    r.name, r.size, r.per_sample
                );
                continue;
            }
            let (m, x) = (r.msgs_per_s(), r.xfer_msgs_per_s());
            println!(
                "{:<11} {:>5} {:>7} {:>11} {:>8.2} {:>10.1} {:>13} {:>8.2}  {}",
                r.name,
                r.size,
                r.per_sample,
                fmt_rate(m),
                gib(m, r.size),
                r.iter_ns() / 1e3,
                fmt_rate(x),
                gib(x, r.size),
                err_cell(&r.errors())
            );
        }
        println!(
            "{:<11} {:>5} {:>7} {:>11} {:>13} {:>10}  errors",
            "name", "size", "trips", "iter µs", "xfer µs", "ns/trip"
        );
        for r in rep.readme.iter().filter(|r| r.test == "ping-pong") {
            if let Some(f) = &r.failed {
                println!(
                    "{:<11} {:>5} {:>7}  FAILED: {f}",
                    r.name, r.size, r.per_sample
                );
                continue;
            }
            println!(
                "{:<11} {:>5} {:>7} {:>11.1} {:>13.1} {:>10.0}  {}",
                r.name,
                r.size,
                r.per_sample,
                r.iter_ns() / 1e3,
                r.xfer_ns() / 1e3,
                r.xfer_ns() / r.per_sample as f64,
                err_cell(&r.errors())
            );
        }
        println!(
            "  msgs/s: messages / (spawn the two threads .. both joined), as the README's criterion"
        );
        println!(
            "  iteration (less building the rings); xfer: first publish .. last message checked."
        );
    }
    if !rep.pinned.is_empty() {
        let pin = match cpus {
            Some(c) => format!("CPUs {} and {}", c[0], c[1]),
            None => "UNPINNED (fewer than two CPUs: busy-polling numbers mean little)".into(),
        };
        println!(
            "\n== pinned long runs: {pin}; {} runs of {:.2} s after {:.2} s warm-up per row, interleaved, medians",
            o.runs, o.secs, o.warm_secs
        );
        println!(
            "{:<16} {:>5} {:>11} {:>8} {:>7} {:>8}  errors",
            "name", "size", "msgs/s", "GiB/s", "spread", "line ns"
        );
        for r in &rep.pinned {
            if let Some(f) = &r.failed {
                println!("{:<16} {:>5}  FAILED: {f}", r.name, r.size);
                if r.runs.is_empty() {
                    continue;
                }
            }
            let m = r.msgs_per_s();
            let line = median(&r.runs.iter().map(|x| x.probe_ns as f64).collect::<Vec<_>>());
            println!(
                "{:<16} {:>5} {:>11} {:>8.2} {:>6.0}% {:>8.0}  {}",
                r.name,
                r.size,
                fmt_rate(m),
                gib(m, r.size),
                spread(&r.rates()) * 100.0,
                line,
                err_cell(&r.errors())
            );
        }
        println!(
            "  msgs/s: messages that arrived intact / (first publish .. last message checked);"
        );
        println!(
            "  line: median round trip of one cache line between the two threads before each run."
        );
    }
    if !rep.rtt.is_empty() {
        println!(
            "\n== pinned ping-pong, {} B: {} runs of {} round trips after {} warm-up, pooled (ns)",
            PING_SIZE, o.runs, o.rtt_trips, o.rtt_warm
        );
        println!(
            "{:<11} {:>8} {:>8} {:>8} {:>9} {:>9} {:>8}  errors",
            "name", "p50", "p99", "p99.9", "max", "samples", "line ns"
        );
        for r in &rep.rtt {
            if let Some(f) = &r.failed {
                println!("{:<11}  FAILED: {f}", r.name);
                if r.runs.is_empty() {
                    continue;
                }
            }
            let s = r.sorted();
            let line = median(&r.runs.iter().map(|x| x.probe_ns as f64).collect::<Vec<_>>());
            println!(
                "{:<11} {:>8} {:>8} {:>8} {:>9} {:>9} {:>8.0}  {}",
                r.name,
                quantile(&s, 0.5),
                quantile(&s, 0.99),
                quantile(&s, 0.999),
                s.last().copied().unwrap_or(0),
                s.len(),
                line,
                err_cell(&r.errors())
            );
        }
    }
    if !bars.is_empty() {
        println!(
            "\n== bar: rill >= {BAR}x rust-tango's throughput (msgs/s), same method, same run"
        );
        for b in bars {
            println!(
                "{:<7} {:>5} B: rill {} / {} {} = {:.2}x  {}  ({})",
                b.method,
                b.size,
                fmt_rate(b.rill),
                b.against,
                fmt_rate(b.tango),
                b.ratio,
                if b.met { "met" } else { "NOT met" },
                b.note
            );
        }
    }
}

fn errors_json(e: &Errors) -> J {
    J::obj()
        .set("total", e.total())
        .set("lost", e.lost)
        .set("bad", e.bad)
        .set("corrupt", e.corrupt)
        .set("overruns", e.overruns)
        .set("overrun_skipped", e.skipped)
}

fn report_json(
    o: &Opts,
    rep: &Report,
    bars: &[Bar],
    cpus: Option<[usize; 2]>,
    m: &sys::Machine,
    ok: bool,
) -> J {
    let readme_rows: Vec<J> = rep
        .readme
        .iter()
        .map(|r| {
            let mut j = J::obj()
                .set("name", r.name)
                .set("test", r.test)
                .set("size", r.size);
            if r.test == "throughput" {
                let (mm, x) = (r.msgs_per_s(), r.xfer_msgs_per_s());
                j = j
                    .set("msgs_per_sample", r.per_sample)
                    .set("msgs_per_s", mm)
                    .set("gib_per_s", gib(mm, r.size))
                    .set("iter_ns", r.iter_ns())
                    .set("xfer_msgs_per_s", x)
                    .set("xfer_gib_per_s", gib(x, r.size))
                    .set(
                        "run_msgs_per_s",
                        r.rates(false)
                            .iter()
                            .map(|v| v.round())
                            .collect::<Vec<f64>>(),
                    );
            } else {
                j = j
                    .set("trips_per_sample", r.per_sample)
                    .set("iter_ns", r.iter_ns())
                    .set("xfer_ns", r.xfer_ns())
                    .set("rtt_ns", r.xfer_ns() / r.per_sample as f64)
                    .set(
                        "run_iter_ns",
                        r.samples.iter().map(|s| s.iter_ns).collect::<Vec<u64>>(),
                    );
            }
            j.set("samples", r.samples.len())
                .set("errors", errors_json(&r.errors()))
                .set("failed", r.failed.clone())
        })
        .collect();
    let pinned_rows: Vec<J> = rep
        .pinned
        .iter()
        .map(|r| {
            let mm = r.msgs_per_s();
            J::obj()
                .set("name", r.name)
                .set("test", "throughput")
                .set("size", r.size)
                .set("msgs_per_s", mm)
                .set("gib_per_s", gib(mm, r.size))
                .set("spread", spread(&r.rates()))
                .set("runs", r.runs.len())
                .set(
                    "run_msgs_per_s",
                    r.rates().iter().map(|v| v.round()).collect::<Vec<f64>>(),
                )
                .set(
                    "run_msgs",
                    r.runs.iter().map(|x| x.msgs).collect::<Vec<u64>>(),
                )
                .set("run_ns", r.runs.iter().map(|x| x.ns).collect::<Vec<u64>>())
                .set(
                    "run_probe_ns",
                    r.runs.iter().map(|x| x.probe_ns).collect::<Vec<u64>>(),
                )
                .set("errors", errors_json(&r.errors()))
                .set("failed", r.failed.clone())
        })
        .collect();
    let rtt_rows: Vec<J> = rep
        .rtt
        .iter()
        .map(|r| {
            let s = r.sorted();
            J::obj()
                .set("name", r.name)
                .set("test", "ping-pong")
                .set("size", r.size)
                .set(
                    "rtt_ns",
                    J::obj()
                        .set("p50", quantile(&s, 0.5))
                        .set("p99", quantile(&s, 0.99))
                        .set("p999", quantile(&s, 0.999))
                        .set("max", s.last().map(|&x| x as u64)),
                )
                .set("samples", s.len())
                .set("runs", r.runs.len())
                .set(
                    "run_p50_ns",
                    r.runs
                        .iter()
                        .map(|x| {
                            let mut v = x.rtts.clone();
                            v.sort_unstable();
                            quantile(&v, 0.5)
                        })
                        .collect::<Vec<u64>>(),
                )
                .set(
                    "run_probe_ns",
                    r.runs.iter().map(|x| x.probe_ns).collect::<Vec<u64>>(),
                )
                .set("errors", errors_json(&r.errors()))
                .set("failed", r.failed.clone())
        })
        .collect();
    let bar_rows: Vec<J> = bars
        .iter()
        .map(|b| {
            J::obj()
                .set("method", b.method)
                .set("size", b.size)
                .set("rill_msgs_per_s", b.rill)
                .set("against", b.against)
                .set("against_msgs_per_s", b.tango)
                .set("ratio", b.ratio)
                .set("required", BAR)
                .set("met", b.met)
                .set("note", b.note.clone())
        })
        .collect();
    J::obj()
        .set("tool", "rill-tangobench")
        .set("date", sys::utc_now())
        .set("quick", o.quick)
        .set("ok", ok)
        .set(
            "machine",
            J::obj()
                .set("cpu_model", m.cpu_model.clone())
                .set("online_cpus", m.online_cpus)
                .set("allowed_cpus", m.allowed_cpus.clone())
                .set("kernel", m.kernel.clone())
                .set("hypervisor", m.hypervisor),
        )
        .set(
            "software",
            J::obj()
                .set("rustc", env!("TANGOBENCH_RUSTC_VERSION"))
                .set("rust_tango", env!("TANGOBENCH_RUST_TANGO_VERSION"))
                .set("rill", "librill.a of this tree (CMake, -O2), linked statically, called through FFI"),
        )
        .set(
            "contenders",
            J::obj()
                .set(
                    "rill",
                    "one channel in a region, producer and a reliable consumer joined by two threads of this \
                     process; rill_send (copies the message in) / rill_poll (reads it in place)",
                )
                .set(
                    "rust-tango",
                    "Producer::new / Consumer::new (no flow control), as the crate's benchmarks; publish \
                     (copies the message in) / poll + DcacheView::as_slice (reads it in place)",
                )
                .set("rust-tango+fctl", "the same with Fctl credits (with_flow_control), as its README shows"),
        )
        .set(
            "readme",
            J::obj()
                .set(
                    "method",
                    "the crate's benchmark (benches/channel_comparison.rs): 10,000 x 64 B, 2,048 x 1024 B, 100 \
                     round trips of 8 B; per sample a fresh pair of unpinned threads (std::thread::scope), \
                     timed from spawning them to joining both (msgs_per_s, iter_ns) and from the first publish \
                     to the last message checked (xfer); channels built once per row, outside the clock; \
                     samples interleaved between contenders; medians",
                )
                .set("warmup_samples", o.warm_samples)
                .set("samples", o.samples)
                .set("rows", J::Arr(readme_rows)),
        )
        .set(
            "pinned",
            J::obj()
                .set(
                    "method",
                    "producer and consumer threads pinned to two CPUs; per run a fresh channel, a cache-line \
                     probe, a warm-up, then a timed run; msgs_per_s = messages that arrived intact / (first \
                     publish .. last message checked); runs interleaved; medians.  Ping-pong: each round \
                     trip timed, runs pooled, nearest-rank quantiles",
                )
                .set("cpus", cpus.map(|c| vec![c[0], c[1]]))
                .set("runs", o.runs)
                .set("run_secs", o.secs)
                .set("warmup_secs", o.warm_secs)
                .set("rtt_trips_per_run", o.rtt_trips)
                .set("rtt_warmup_trips", o.rtt_warm)
                .set("rows", J::Arr(pinned_rows))
                .set("rtt_rows", J::Arr(rtt_rows)),
        )
        .set("bar", J::Arr(bar_rows))
}

fn write_json(path: &Path, j: &J) -> Result<(), String> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| format!("mkdir {}: {e}", parent.display()))?;
    }
    let mut s = String::new();
    j.write(&mut s, 0);
    s.push('\n');
    std::fs::write(path, s).map_err(|e| format!("write {}: {e}", path.display()))
}

fn main() {
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("rill-tangobench: {e}\n{}", usage());
            std::process::exit(2);
        }
    };
    // rust-tango builds its rings by value (MCache::new() is an array of
    // 16,384 x 128 bytes) before they are boxed: give the thread that
    // builds them room, as the crate's README does with RUST_MIN_STACK.
    let h = std::thread::Builder::new()
        .stack_size(512 << 20)
        .spawn(move || real_main(o))
        .expect("spawn");
    std::process::exit(h.join().unwrap_or(1));
}

fn real_main(o: Opts) -> i32 {
    let m = sys::machine();
    let cpus = match o.cpus {
        Some(c) => Some(c),
        None if m.allowed_cpus.len() >= 2 => Some([m.allowed_cpus[0], m.allowed_cpus[1]]),
        None => None,
    };
    if m.allowed_cpus.len() < 2 {
        harness::SINGLE_CPU.store(true, Ordering::Relaxed);
    }
    println!(
        "rill-tangobench: rill beside rust-tango {} between two threads of one process{}",
        env!("TANGOBENCH_RUST_TANGO_VERSION"),
        if o.quick {
            " (--quick: a smoke run, not a measurement)"
        } else {
            ""
        }
    );
    println!(
        "machine: {}, {} CPUs ({} allowed){}, Linux {}; {}",
        m.cpu_model,
        m.online_cpus,
        m.allowed_cpus.len(),
        if m.hypervisor {
            ", virtual machine"
        } else {
            ""
        },
        m.kernel,
        env!("TANGOBENCH_RUSTC_VERSION")
    );
    println!(
        "rill: rill_send / rill_poll (reliable consumer); rust-tango: publish / poll + as_slice"
    );
    let dir = match sys::private_dir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("rill-tangobench: {e}");
            return 1;
        }
    };
    let t0 = Instant::now();
    let rep = run_all(&o, &dir, cpus);
    sys::remove_dir(&dir);
    let bars = bars(&rep);
    print_report(&o, &rep, &bars, cpus);

    // Failure: a row that did not run, or rill delivering a wrong or lost
    // message.  rust-tango's errors are results (it may be lapped), shown
    // beside its speed.
    let mut ok = true;
    let mut why = Vec::new();
    for r in &rep.readme {
        if r.failed.is_some() || (r.name == "rill" && r.errors().total() + r.errors().overruns > 0)
        {
            ok = false;
            why.push(format!("{} {} {} B", r.name, r.test, r.size));
        }
    }
    for (name, size, failed, e) in rep
        .pinned
        .iter()
        .map(|r| (r.name, r.size, r.failed.is_some(), r.errors()))
        .chain(
            rep.rtt
                .iter()
                .map(|r| (r.name, r.size, r.failed.is_some(), r.errors())),
        )
    {
        if failed || (name == "rill" && e.total() + e.overruns > 0) {
            ok = false;
            why.push(format!("pinned {name} {size} B"));
        }
    }
    let j = report_json(&o, &rep, &bars, cpus, &m, ok);
    let mut rc = 0;
    match write_json(&o.out, &j) {
        Ok(()) => println!(
            "\nJSON: {}  ({:.0} s)",
            o.out.display(),
            t0.elapsed().as_secs_f64()
        ),
        Err(e) => {
            eprintln!("rill-tangobench: {e}");
            rc = 1;
        }
    }
    if !ok {
        eprintln!("rill-tangobench: failed or wrong: {}", why.join(", "));
        rc = 1;
    }
    rc
}
