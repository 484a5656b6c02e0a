// SPDX-License-Identifier: Apache-2.0 OR MIT
//! The measurements, generic over the channel: rill and rust-tango run
//! through the very same functions, which differ only in the Tx/Rx calls
//! they make (chan.rs, rill_chan.rs).  A pinned run's two sides are
//! functions of their own, which two threads run, or (rill only) two
//! processes (procs.rs).
//!
//! Every wait spins (std::hint::spin_loop, a pause instruction) and is
//! bounded: a side that sees no progress for SPIN_LIMIT, or sees that the
//! other side gave up, stops with an error instead of hanging.

use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::chan::{Channel, Poll, Rx, Tx};
use crate::msg::{Check, Msg};
use crate::sys;

pub const SPIN_LIMIT: Duration = Duration::from_secs(10);

/// Set when both threads share one CPU: then spinning yields.
pub static SINGLE_CPU: AtomicBool = AtomicBool::new(false);

/// A bounded spin: pause, and every 1024 pauses look at the clock and at the
/// other side's abort flag.
struct Spin {
    n: u32,
    since: Option<Instant>,
}

impl Spin {
    fn new() -> Spin {
        Spin { n: 0, since: None }
    }

    /// Progress was made: the next wait starts a new episode.
    #[inline]
    fn reset(&mut self) {
        self.n = 0;
    }

    #[inline]
    fn wait(&mut self, abort: &AtomicBool, what: &str) -> Result<(), String> {
        std::hint::spin_loop();
        self.n = self.n.wrapping_add(1);
        if self.n & 1023 == 0 || SINGLE_CPU.load(Ordering::Relaxed) {
            return self.slow(abort, what);
        }
        Ok(())
    }

    #[cold]
    fn slow(&mut self, abort: &AtomicBool, what: &str) -> Result<(), String> {
        if SINGLE_CPU.load(Ordering::Relaxed) {
            thread::yield_now();
            if self.n & 1023 != 0 {
                return Ok(());
            }
        }
        if abort.load(Ordering::Relaxed) {
            return Err("the other side gave up".into());
        }
        let now = Instant::now();
        match self.since {
            Some(t) if self.n > 1024 => {
                if now - t > SPIN_LIMIT {
                    abort.store(true, Ordering::Relaxed);
                    return Err(format!(
                        "no progress for {} s waiting {what}",
                        SPIN_LIMIT.as_secs()
                    ));
                }
            }
            _ => self.since = Some(now),
        }
        Ok(())
    }
}

/// What a consumer counted besides the messages' own check.
#[derive(Default, Clone, Copy)]
pub struct RxStats {
    pub overruns: u64,
    /// Sequence numbers the channel said it skipped at its overruns.
    pub skipped: u64,
    pub corrupt: u64,
}

/// Errors found: bad + lost messages (msg.rs) and corrupt descriptors.
/// Overruns are reported separately: each one shows as lost messages.
#[derive(Default, Clone, Copy)]
pub struct Errors {
    pub bad: u64,
    pub lost: u64,
    pub overruns: u64,
    pub skipped: u64,
    pub corrupt: u64,
}

impl Errors {
    pub fn add(&mut self, o: &Errors) {
        self.bad += o.bad;
        self.lost += o.lost;
        self.overruns += o.overruns;
        self.skipped += o.skipped;
        self.corrupt += o.corrupt;
    }
    pub fn of(chk: &Check, st: &RxStats) -> Errors {
        Errors {
            bad: chk.bad,
            lost: chk.lost,
            overruns: st.overruns,
            skipped: st.skipped,
            corrupt: st.corrupt,
        }
    }
}

#[derive(Clone, Copy)]
enum Stop {
    Count(u64),
    Time(Duration),
}

#[inline]
fn send<T: Tx>(tx: &mut T, m: &[u8], sig: u64, abort: &AtomicBool) -> Result<(), String> {
    if tx.try_send(m, sig) {
        return Ok(());
    }
    let mut spin = Spin::new();
    loop {
        spin.wait(abort, "for room in the channel")?;
        if tx.try_send(m, sig) {
            return Ok(());
        }
    }
}

/// Sends messages BASE, BASE+1, ... until STOP.  With Stop::Time, it looks
/// at the clock every 256 messages and, once the time is up, announces in
/// END the sequence number where it will stop, 256 messages later (so the
/// consumer knows it before the last message comes).  Returns when it
/// started.
fn produce<T: Tx>(
    tx: &mut T,
    msg: &mut Msg,
    base: u64,
    stop: Stop,
    end: &AtomicU64,
    abort: &AtomicBool,
) -> Result<Instant, String> {
    let t0 = Instant::now();
    let mut limit = u64::MAX;
    if let Stop::Count(n) = stop {
        limit = n;
        end.store(base + n, Ordering::Release);
    }
    let mut i = 0u64;
    while i < limit {
        send(tx, msg.stamp(base + i), base + i, abort)?;
        i += 1;
        if let Stop::Time(d) = stop {
            if i & 255 == 0 && limit == u64::MAX && t0.elapsed() >= d {
                limit = i + 256;
                end.store(base + limit, Ordering::Release);
            }
        }
    }
    Ok(t0)
}

/// Receives and checks messages until the one before the sequence number
/// END announces.  Returns when it checked the last one.
fn consume<R: Rx>(
    rx: &mut R,
    chk: &mut Check,
    st: &mut RxStats,
    end: &AtomicU64,
    abort: &AtomicBool,
) -> Result<Instant, String> {
    let mut last = end.load(Ordering::Acquire);
    let mut n = 0u32;
    let mut spin = Spin::new();
    loop {
        match rx.poll(|sig, b| chk.verify(sig, b)) {
            Poll::Msg => {
                n = n.wrapping_add(1);
                if n & 63 == 0 {
                    last = end.load(Ordering::Acquire);
                }
                if chk.expect >= last {
                    return Ok(Instant::now());
                }
                spin.reset();
            }
            Poll::Empty => {
                last = end.load(Ordering::Acquire);
                if chk.expect >= last {
                    return Ok(Instant::now());
                }
                spin.wait(abort, "for a message")?;
            }
            Poll::Overrun(n) => {
                st.overruns += 1;
                st.skipped += n;
            }
            Poll::Corrupt => {
                st.corrupt += 1;
                spin.wait(abort, "past corrupt descriptors")?;
            }
        }
    }
}

/// Waits for one message and checks it.
#[inline]
fn recv_one<R: Rx>(
    rx: &mut R,
    chk: &mut Check,
    st: &mut RxStats,
    abort: &AtomicBool,
) -> Result<(), String> {
    let mut spin = Spin::new();
    loop {
        match rx.poll(|sig, b| chk.verify(sig, b)) {
            Poll::Msg => return Ok(()),
            Poll::Empty => spin.wait(abort, "for a reply")?,
            Poll::Overrun(n) => {
                st.overruns += 1;
                st.skipped += n;
            }
            Poll::Corrupt => {
                st.corrupt += 1;
                spin.wait(abort, "past corrupt descriptors")?;
            }
        }
    }
}

fn joined<T>(r: thread::Result<Result<T, String>>, who: &str) -> Result<T, String> {
    match r {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{who}: {e}")),
        Err(p) => {
            let s = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panicked".into());
            Err(format!("{who}: {s}"))
        }
    }
}

/// The results of two sides; when both failed, both errors (the one that
/// failed first made the other one give up, which each error says).
pub fn both<A, B>(a: Result<A, String>, b: Result<B, String>) -> Result<(A, B), String> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => Err(e),
        (Err(e), Err(f)) => Err(format!("{e}; {f}")),
    }
}

/// One sample of the README method.
pub struct Sample {
    /// From spawning the two threads to having joined both: what the
    /// README's criterion iteration times, less building the rings.
    pub iter_ns: u64,
    /// From the first publish to the last message checked (throughput), or
    /// the pinger's loop of round trips (ping-pong).
    pub xfer_ns: u64,
    /// Messages that arrived intact.
    pub ok: u64,
    pub errors: Errors,
}

/// README method, throughput: a fresh pair of threads, unpinned, sends N
/// messages of SIZE bytes through CH; the consumer checks every one.
/// NEXT is the sequence number of the next message on this channel.
pub fn readme_throughput<C: Channel>(
    ch: &mut C,
    size: usize,
    n: u64,
    next: &mut u64,
) -> Result<Sample, String> {
    let base = *next;
    *next += n;
    let end = AtomicU64::new(u64::MAX);
    let abort = AtomicBool::new(false);
    let (mut tx, mut rx) = ch.endpoints();
    let mut msg = Msg::new(size);
    let mut chk = Check::new(size, base);
    let mut st = RxStats::default();
    let t0 = Instant::now();
    let (p, c) = thread::scope(|s| {
        let hp = s.spawn(|| {
            let r = produce(&mut tx, &mut msg, base, Stop::Count(n), &end, &abort);
            if r.is_err() {
                abort.store(true, Ordering::Relaxed);
            }
            r
        });
        let hc = s.spawn(|| {
            let r = consume(&mut rx, &mut chk, &mut st, &end, &abort);
            rx.finish();
            if r.is_err() {
                abort.store(true, Ordering::Relaxed);
            }
            r
        });
        (hp.join(), hc.join())
    });
    let t1 = Instant::now();
    let start = joined(p, "producer")?;
    let stop = joined(c, "consumer")?;
    Ok(Sample {
        iter_ns: (t1 - t0).as_nanos() as u64,
        xfer_ns: stop.saturating_duration_since(start).as_nanos() as u64,
        ok: chk.ok,
        errors: Errors::of(&chk, &st),
    })
}

/// Round trips: the pinger sends message s on one channel and waits for
/// reply s on the other; the ponger waits for s, checks it and replies.  With
/// TIMED, each round trip is timed (Instant::now() before the send and after
/// the checked reply) into RTTS.  Returns the pinger's start and end.
#[allow(clippy::too_many_arguments)]
fn ping<T: Tx, R: Rx, const TIMED: bool>(
    tx: &mut T,
    rx: &mut R,
    msg: &mut Msg,
    chk: &mut Check,
    st: &mut RxStats,
    base: u64,
    trips: u64,
    rtts: &mut Vec<u32>,
    abort: &AtomicBool,
) -> Result<(Instant, Instant), String> {
    let t0 = Instant::now();
    for i in 0..trips {
        let ts = if TIMED { Some(Instant::now()) } else { None };
        send(tx, msg.stamp(base + i), base + i, abort)?;
        recv_one(rx, chk, st, abort)?;
        if let Some(ts) = ts {
            rtts.push(ts.elapsed().as_nanos().min(u32::MAX as u128) as u32);
        }
    }
    Ok((t0, Instant::now()))
}

#[allow(clippy::too_many_arguments)]
fn pong<T: Tx, R: Rx>(
    rx: &mut R,
    tx: &mut T,
    msg: &mut Msg,
    chk: &mut Check,
    st: &mut RxStats,
    base: u64,
    trips: u64,
    abort: &AtomicBool,
) -> Result<(), String> {
    for i in 0..trips {
        recv_one(rx, chk, st, abort)?;
        send(tx, msg.stamp(base + i), base + i, abort)?;
    }
    Ok(())
}

/// README method, ping-pong: a fresh pair of threads, unpinned, makes TRIPS
/// round trips of SIZE-byte messages over PING and PONG.  xfer_ns is the
/// pinger's loop.
pub fn readme_pingpong<C: Channel>(
    ping_ch: &mut C,
    pong_ch: &mut C,
    size: usize,
    trips: u64,
    next: &mut u64,
) -> Result<Sample, String> {
    let base = *next;
    *next += trips;
    let abort = AtomicBool::new(false);
    let (mut ptx, mut prx) = ping_ch.endpoints();
    let (mut qtx, mut qrx) = pong_ch.endpoints();
    let (mut m0, mut m1) = (Msg::new(size), Msg::new(size));
    let (mut c0, mut c1) = (Check::new(size, base), Check::new(size, base));
    let (mut s0, mut s1) = (RxStats::default(), RxStats::default());
    let mut none = Vec::new();
    let t0 = Instant::now();
    let (a, b) = thread::scope(|s| {
        let ha = s.spawn(|| {
            let r = ping::<_, _, false>(
                &mut ptx, &mut qrx, &mut m0, &mut c0, &mut s0, base, trips, &mut none, &abort,
            );
            if r.is_err() {
                abort.store(true, Ordering::Relaxed);
            }
            r
        });
        let hb = s.spawn(|| {
            let r = pong(
                &mut prx, &mut qtx, &mut m1, &mut c1, &mut s1, base, trips, &abort,
            );
            if r.is_err() {
                abort.store(true, Ordering::Relaxed);
            }
            r
        });
        (ha.join(), hb.join())
    });
    let t1 = Instant::now();
    let (start, stop) = joined(a, "pinger")?;
    joined(b, "ponger")?;
    let mut errors = Errors::of(&c0, &s0);
    errors.add(&Errors::of(&c1, &s1));
    Ok(Sample {
        iter_ns: (t1 - t0).as_nanos() as u64,
        xfer_ns: (stop - start).as_nanos() as u64,
        ok: c0.ok,
        errors,
    })
}

/// A 64-byte line of its own.
#[repr(align(128))]
struct Line(AtomicU64);

const PROBE_TRIPS: u64 = 2001;

/// The hardware floor of the moment: the two threads bounce one cache line
/// PROBE_TRIPS times; the pinger returns the median round trip (ns).
fn probe(line: &Line, pinger: bool, abort: &AtomicBool) -> Result<u64, String> {
    let mut t = Vec::with_capacity(PROBE_TRIPS as usize);
    let mut spin = Spin::new();
    for i in 0..PROBE_TRIPS {
        if pinger {
            let ts = Instant::now();
            line.0.store(2 * i + 1, Ordering::Release);
            while line.0.load(Ordering::Acquire) != 2 * i + 2 {
                spin.wait(abort, "for the cache line")?;
            }
            t.push(ts.elapsed().as_nanos() as u64);
        } else {
            while line.0.load(Ordering::Acquire) != 2 * i + 1 {
                spin.wait(abort, "for the cache line")?;
            }
            line.0.store(2 * i + 2, Ordering::Release);
        }
        spin.reset();
    }
    t.sort_unstable();
    Ok(t.get(t.len() / 2).copied().unwrap_or(0))
}

fn pin_to(cpus: Option<[usize; 2]>, side: usize) -> Result<(), String> {
    match cpus {
        Some(c) => sys::pin(c[side]),
        None => Ok(()),
    }
}

/// One pinned run.
pub struct Run {
    /// Measured messages that arrived intact, and the time from the first
    /// publish to the last message checked.
    pub msgs: u64,
    pub ns: u64,
    /// Errors over the warm-up and the measured part.
    pub errors: Errors,
    /// Median cache-line round trip between the two threads before the run.
    pub probe_ns: u64,
}

/// What the two sides of a pinned run share besides the channel: where the
/// warm-up and the measured part end (the producer announces it), the
/// abort flag, and the probe's cache line.  On the stack between two
/// threads; in a shared mapping between two processes (procs.rs), where it
/// starts zeroed and `init` sets it up.
#[repr(C)]
pub struct Shared {
    ends: [AtomicU64; 2],
    abort: AtomicBool,
    line: Line,
}

impl Shared {
    pub fn new() -> Shared {
        let s = Shared {
            ends: [AtomicU64::new(0), AtomicU64::new(0)],
            abort: AtomicBool::new(false),
            line: Line(AtomicU64::new(0)),
        };
        s.init();
        s
    }

    /// No end announced yet, no abort, the probe's line at its start.
    pub fn init(&self) {
        for e in &self.ends {
            e.store(u64::MAX, Ordering::Relaxed);
        }
        self.abort.store(false, Ordering::Relaxed);
        self.line.0.store(0, Ordering::Relaxed);
    }

    /// A side failed: the other one stops at its next look.
    pub fn abort(&self) {
        self.abort.store(true, Ordering::Relaxed);
    }

    /// The abort flag.
    pub fn flag(&self) -> &AtomicBool {
        &self.abort
    }

    fn fail(&self, failed: bool) {
        if failed {
            self.abort();
        }
    }
}

/// Where the two sides of a pinned run wait for each other: a
/// std::sync::Barrier between threads, a SpinBarrier between processes.
pub trait Meet: Sync {
    /// Returns once the other side has come too, or (a SpinBarrier) the
    /// abort flag is set or it waited SPIN_LIMIT (it then sets the flag).
    fn meet(&self, abort: &AtomicBool);
}

impl Meet for Barrier {
    fn meet(&self, _abort: &AtomicBool) {
        self.wait();
    }
}

/// A barrier of two in memory that two processes share (all zero at the
/// start): it spins for a while, then sleeps 50 us at a time between looks.
#[repr(C)]
pub struct SpinBarrier {
    arrived: AtomicU32,
    round: AtomicU32,
}

impl Meet for SpinBarrier {
    fn meet(&self, abort: &AtomicBool) {
        let round = self.round.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) == 1 {
            self.arrived.store(0, Ordering::Relaxed);
            self.round.store(round.wrapping_add(1), Ordering::Release);
            return;
        }
        let t0 = Instant::now();
        let mut n = 0u32;
        while self.round.load(Ordering::Acquire) == round {
            if abort.load(Ordering::Relaxed) {
                return;
            }
            n = n.wrapping_add(1);
            if n < 100_000 && !SINGLE_CPU.load(Ordering::Relaxed) {
                std::hint::spin_loop();
            } else if t0.elapsed() > SPIN_LIMIT {
                abort.store(true, Ordering::Relaxed);
                return;
            } else {
                thread::sleep(Duration::from_micros(50));
            }
        }
    }
}

/// The producer's side of a pinned run: pinned to CPU (if any), it meets
/// the consumer at B, bounces the probe's line with it, sends WARM of
/// messages (checked, not timed), meets it again, then sends DUR of
/// messages.  Returns when it started the measured ones and the probe's
/// median round trip.
pub fn pinned_producer<T: Tx, B: Meet>(
    tx: &mut T,
    size: usize,
    warm: Duration,
    dur: Duration,
    cpu: Option<usize>,
    sh: &Shared,
    b: &B,
) -> Result<(Instant, u64), String> {
    // Each side runs the same steps and meets the other at every barrier
    // between them, also after a failure (the steps after it are skipped,
    // and the other side sees the abort flag), so that no one waits at a
    // barrier forever.
    let r = cpu.map_or(Ok(()), sys::pin);
    sh.fail(r.is_err());
    b.meet(&sh.abort);
    let pr = r.and_then(|_| probe(&sh.line, true, &sh.abort));
    sh.fail(pr.is_err());
    let mut msg = Msg::new(size);
    let r = pr
        .clone()
        .and_then(|_| produce(tx, &mut msg, 0, Stop::Time(warm), &sh.ends[0], &sh.abort));
    sh.fail(r.is_err());
    b.meet(&sh.abort);
    let next = sh.ends[0].load(Ordering::Acquire);
    let r = r.and_then(|_| produce(tx, &mut msg, next, Stop::Time(dur), &sh.ends[1], &sh.abort));
    sh.fail(r.is_err());
    Ok((r?, pr?))
}

/// The consumer's side of a pinned run, step for step with the producer's:
/// it checks every message into CHK and ST.  Returns when it checked the
/// last measured message, and how many of those arrived intact.
pub fn pinned_consumer<R: Rx, B: Meet>(
    rx: &mut R,
    chk: &mut Check,
    st: &mut RxStats,
    cpu: Option<usize>,
    sh: &Shared,
    b: &B,
) -> Result<(Instant, u64), String> {
    let r = cpu.map_or(Ok(()), sys::pin);
    sh.fail(r.is_err());
    b.meet(&sh.abort);
    let pr = r.and_then(|_| probe(&sh.line, false, &sh.abort));
    sh.fail(pr.is_err());
    let r = pr.and_then(|_| consume(rx, chk, st, &sh.ends[0], &sh.abort));
    sh.fail(r.is_err());
    b.meet(&sh.abort);
    let before = chk.ok;
    let r = r.and_then(|_| consume(rx, chk, st, &sh.ends[1], &sh.abort));
    sh.fail(r.is_err());
    Ok((r?, chk.ok - before))
}

/// A pinned long run between two threads: producer on CPUS[0], consumer on
/// CPUS[1] (unpinned if None); a cache-line probe, WARM of messages
/// (checked, not timed), then DUR of messages, timed.
pub fn pinned_throughput<C: Channel>(
    ch: &mut C,
    size: usize,
    warm: Duration,
    dur: Duration,
    cpus: Option<[usize; 2]>,
) -> Result<Run, String> {
    let sh = Shared::new();
    let barrier = Barrier::new(2);
    let (mut tx, mut rx) = ch.endpoints();
    let mut chk = Check::new(size, 0);
    let mut st = RxStats::default();
    let (p, c) = thread::scope(|s| {
        let hp = s.spawn(|| {
            let cpu = cpus.map(|c| c[0]);
            pinned_producer(&mut tx, size, warm, dur, cpu, &sh, &barrier)
        });
        let hc = s.spawn(|| {
            let cpu = cpus.map(|c| c[1]);
            pinned_consumer(&mut rx, &mut chk, &mut st, cpu, &sh, &barrier)
        });
        (hp.join(), hc.join())
    });
    let ((start, probe_ns), (stop, msgs)) = both(joined(p, "producer"), joined(c, "consumer"))?;
    Ok(Run {
        msgs,
        ns: stop.saturating_duration_since(start).as_nanos() as u64,
        errors: Errors::of(&chk, &st),
        probe_ns,
    })
}

/// One pinned ping-pong run.
pub struct RttRun {
    pub rtts: Vec<u32>,
    pub errors: Errors,
    pub probe_ns: u64,
}

/// Pinned ping-pong: pinger on CPUS[0], ponger on CPUS[1]; a cache-line
/// probe, WARM untimed round trips, then TRIPS timed ones.
pub fn pinned_pingpong<C: Channel>(
    ping_ch: &mut C,
    pong_ch: &mut C,
    size: usize,
    warm: u64,
    trips: u64,
    cpus: Option<[usize; 2]>,
) -> Result<RttRun, String> {
    let abort = AtomicBool::new(false);
    let barrier = Barrier::new(2);
    let line = Line(AtomicU64::new(0));
    let (mut ptx, mut prx) = ping_ch.endpoints();
    let (mut qtx, mut qrx) = pong_ch.endpoints();
    let (mut c0, mut c1) = (Check::new(size, 0), Check::new(size, 0));
    let (mut s0, mut s1) = (RxStats::default(), RxStats::default());
    let fail = |failed: bool| {
        if failed {
            abort.store(true, Ordering::Relaxed);
        }
    };
    let (a, b) = thread::scope(|s| {
        let ha = s.spawn(|| -> Result<(Vec<u32>, u64), String> {
            let r = pin_to(cpus, 0);
            fail(r.is_err());
            barrier.wait();
            r?;
            let pr = probe(&line, true, &abort);
            fail(pr.is_err());
            let pr = pr?;
            let mut msg = Msg::new(size);
            let mut rtts = Vec::with_capacity(trips as usize);
            let mut none = Vec::new();
            let r = ping::<_, _, false>(
                &mut ptx, &mut qrx, &mut msg, &mut c0, &mut s0, 0, warm, &mut none, &abort,
            );
            fail(r.is_err());
            r?;
            let r = ping::<_, _, true>(
                &mut ptx, &mut qrx, &mut msg, &mut c0, &mut s0, warm, trips, &mut rtts, &abort,
            );
            fail(r.is_err());
            r?;
            Ok((rtts, pr))
        });
        let hb = s.spawn(|| -> Result<(), String> {
            let r = pin_to(cpus, 1);
            fail(r.is_err());
            barrier.wait();
            r?;
            let pr = probe(&line, false, &abort);
            fail(pr.is_err());
            pr?;
            let mut msg = Msg::new(size);
            let r = pong(
                &mut prx,
                &mut qtx,
                &mut msg,
                &mut c1,
                &mut s1,
                0,
                warm + trips,
                &abort,
            );
            fail(r.is_err());
            r
        });
        (ha.join(), hb.join())
    });
    let (rtts, probe_ns) = joined(a, "pinger")?;
    joined(b, "ponger")?;
    let mut errors = Errors::of(&c0, &s0);
    errors.add(&Errors::of(&c1, &s1));
    Ok(RttRun {
        rtts,
        errors,
        probe_ns,
    })
}
