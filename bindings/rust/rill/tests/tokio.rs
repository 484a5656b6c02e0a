// SPDX-License-Identifier: Apache-2.0 OR MIT
//! rill::tokio (feature `tokio`): AsyncConsumer on a current_thread runtime
//! against producers in threads and in killed processes: every byte
//! checked, the end of the stream (Closed, ProducerDead), the runtime left
//! to other tasks while it waits, and futures dropped mid-wait.
#![cfg(all(unix, feature = "tokio"))]
mod child;
mod common;

use common::{TempDir, unique_name};
use rill::tokio::AsyncConsumer;
use rill::{ChannelOptions, Error, Producer, Region, RegionOptions, Reliable, ctl};
use std::cell::Cell;
use std::future::Future;
use std::io::Read;
use std::pin::pin;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);

// ---- the message stream of tests/xpeer.c (its header comment) -------------

fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d049bb133111eb);
    x ^ (x >> 31)
}

fn hash(seed: u64, i: u64) -> u64 {
    mix(seed.wrapping_mul(0x100000001b3).wrapping_add(i))
}

/// Message `i`'s size on a channel of this mtu and max_msg.
fn size(h: u64, mtu: u64, max_msg: u64) -> usize {
    let (class, r) = (h & 15, h >> 8);
    (match class {
        0..12 => r % 129,
        12..15 => r % (mtu + 1),
        _ => r % (max_msg + 1),
    }) as usize
}

fn byte(h: u64, j: usize) -> u8 {
    ((h >> (8 * (j & 7))) as u8).wrapping_add((j >> 3) as u8)
}

fn fill(buf: &mut Vec<u8>, h: u64, n: usize) {
    buf.clear();
    buf.extend((0..n).map(|j| byte(h, j)));
}

/// Message `i` of stream `seed`, as the C peer sends it.
fn message(seed: u64, i: u64, mtu: u64, max_msg: u64) -> Vec<u8> {
    let h = hash(seed, i);
    let mut v = Vec::new();
    fill(&mut v, h, size(h, mtu, max_msg));
    v
}

#[track_caller]
fn check(seed: u64, i: u64, mtu: u64, max_msg: u64, got: &[u8]) {
    let h = hash(seed, i);
    let n = size(h, mtu, max_msg);
    assert_eq!(got.len(), n, "message {i}: size");
    if let Some(j) = (0..n).find(|&j| got[j] != byte(h, j)) {
        panic!(
            "message {i}: byte {j} is {:#x}, not {:#x}",
            got[j],
            byte(h, j)
        );
    }
}

/// Descriptors message `i` takes.
fn frags(n: usize, mtu: u64) -> u64 {
    (n as u64).div_ceil(mtu).max(1)
}

// ---- setup -----------------------------------------------------------------

struct Setup {
    dir: TempDir,
    name: String,
    region: Region,
}

impl Setup {
    fn new(tag: &str) -> Setup {
        let dir = TempDir::new(tag);
        let name = unique_name(tag);
        let region =
            Region::create(&name, &RegionOptions::new().dir(dir.path()).size(16 << 20)).unwrap();
        Setup { dir, name, region }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A producer thread sending `count` messages of stream `seed`, then
/// leaving.
fn produce(
    mut tx: Producer,
    seed: u64,
    count: u64,
    mtu: u64,
    max_msg: u64,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        for i in 0..count {
            let h = hash(seed, i);
            fill(&mut buf, h, size(h, mtu, max_msg));
            tx.send_wait(&buf, i, WAIT)
                .unwrap_or_else(|e| panic!("send {i}: {e}"));
        }
    })
}

// ---- (1) a whole stream, every byte, then Closed --------------------------

/// 20000 messages of 0 to 4096 bytes (mtu 256: one in sixteen or so in
/// several fragments) from a thread, received with recv and recv_vec in
/// turn, inside a spawned task (so the futures are Send); then Closed.
#[test]
fn reliable_stream_then_closed() {
    const N: u64 = 20000;
    const SEED: u64 = 11;
    let (mtu, max_msg) = (256u64, 4096u64);
    let s = Setup::new("tkstream");
    let ch = s
        .region
        .create_channel(
            "c",
            &ChannelOptions::new()
                .depth(256)
                .mtu(mtu as u32)
                .max_msg(max_msg),
        )
        .unwrap();
    let rt = runtime();
    let mut rx = rt.block_on(async { AsyncConsumer::new(ch.reliable().unwrap()).unwrap() });
    let producer = produce(ch.producer().unwrap(), SEED, N, mtu, max_msg);
    let (rx, fragmented) = rt
        .block_on(rt.spawn(async move {
            let mut buf = vec![0u8; max_msg as usize];
            let mut vec = Vec::new();
            let mut fragmented = 0;
            for i in 0..N {
                let (meta, got) = if i % 2 == 0 {
                    let m = rx.recv(&mut buf).await.unwrap();
                    (m, &buf[..m.size as usize])
                } else {
                    let m = rx.recv_vec(&mut vec).await.unwrap();
                    (m, &vec[..])
                };
                assert_eq!((meta.sig, meta.lost), (i, 0), "message {i}");
                assert_eq!(meta.size as usize, got.len());
                check(SEED, i, mtu, max_msg, got);
                fragmented += u32::from(got.len() as u64 > mtu);
            }
            // The producer leaves after the last one: the end, for good.
            assert_eq!(rx.recv(&mut buf).await, Err(Error::Closed));
            assert_eq!(rx.recv_vec(&mut vec).await, Err(Error::Closed));
            (rx, fragmented)
        }))
        .unwrap();
    producer.join().unwrap();
    assert!(fragmented > 500, "only {fragmented} messages over the mtu");
    // Given back, the consumer is whole: same slot, the end still there.
    let mut c = rx.into_inner();
    assert_eq!(c.poll().unwrap().map(|v| v.len()), None);
    assert_eq!(c.arm(), Err(Error::Closed));
}

/// Reliable poll: the fragments of each message in order, where they lie
/// (SOM on the first, EOM on the last), put together and checked.
#[test]
fn reliable_poll_fragments() {
    const N: u64 = 3000;
    const SEED: u64 = 12;
    let (mtu, max_msg) = (128u64, 1024u64);
    let s = Setup::new("tkpoll");
    let ch = s
        .region
        .create_channel(
            "c",
            &ChannelOptions::new()
                .depth(64)
                .mtu(mtu as u32)
                .max_msg(max_msg),
        )
        .unwrap();
    let rt = runtime();
    rt.block_on(async {
        let mut rx = AsyncConsumer::new(ch.reliable().unwrap()).unwrap();
        let producer = produce(ch.producer().unwrap(), SEED, N, mtu, max_msg);
        let mut msg = Vec::new();
        let mut descs = 0u64;
        for i in 0..N {
            msg.clear();
            loop {
                let v = rx.poll().await.unwrap();
                descs += 1;
                assert_eq!(v.sig(), i, "every fragment carries its message's sig");
                assert_eq!(v.ctl() & ctl::SOM != 0, msg.is_empty(), "message {i}: SOM");
                msg.extend_from_slice(&v);
                if v.ctl() & ctl::EOM != 0 {
                    break;
                }
                assert_eq!(
                    v.len() as u64,
                    mtu,
                    "message {i}: a fragment before the last"
                );
            }
            check(SEED, i, mtu, max_msg, &msg);
        }
        assert!(
            descs > N + 100,
            "only {descs} descriptors: few fragmented messages"
        );
        assert_eq!(rx.poll().await.map(|v| v.len()), Err(Error::Closed));
        producer.join().unwrap();
    });
}

// ---- (2) the wait parks on the fd, the runtime runs other tasks -----------

/// While the consumer awaits an empty channel, another task of the same
/// current_thread runtime runs (yielding 100 times: a waiter that spun by
/// waking itself would be polled each time), and only then has the
/// producer thread send. A wait that blocked the thread would keep the
/// task from running: the producer then sends a different message after
/// 10 s, which fails the test instead of hanging it.
#[test]
fn waiting_leaves_the_runtime_to_other_tasks() {
    let s = Setup::new("tkpark");
    let ch = s
        .region
        .create_channel("c", &ChannelOptions::new().depth(64))
        .unwrap();
    let mut tx = ch.producer().unwrap();
    let (go, go_rx) = std::sync::mpsc::channel::<()>();
    let producer = std::thread::spawn(move || {
        let msg: &[u8] = match go_rx.recv_timeout(WAIT) {
            Ok(()) => b"after the other task",
            Err(_) => b"timed out: the other task never ran",
        };
        tx.send_wait(msg, 1, WAIT).unwrap();
        tx
    });
    let rt = runtime();
    rt.block_on(async {
        let mut rx = AsyncConsumer::new(ch.reliable().unwrap()).unwrap();
        let ran = Arc::new(AtomicU32::new(0));
        let task = tokio::spawn({
            let ran = ran.clone();
            async move {
                for _ in 0..100 {
                    tokio::task::yield_now().await;
                }
                ran.fetch_add(1, Ordering::SeqCst);
                go.send(()).unwrap();
            }
        });
        let polls = Cell::new(0u32);
        let mut buf = [0u8; 64];
        let start = Instant::now();
        let meta = {
            let mut recv = pin!(rx.recv(&mut buf));
            std::future::poll_fn(|cx| {
                polls.set(polls.get() + 1);
                recv.as_mut().poll(cx)
            })
            .await
            .unwrap()
        };
        let took = start.elapsed();
        assert_eq!(
            std::str::from_utf8(&buf[..meta.size as usize]).unwrap(),
            "after the other task"
        );
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        task.await.unwrap();
        // Polled once to start, then once per readiness of the fd (one,
        // maybe one stale) and per re-arm (every 100 ms): not per yield of
        // the other task.
        let bound = 3 + 2 * (took.as_millis() / 100) as u32;
        assert!(
            polls.get() <= bound,
            "the receive was polled {} times in {took:?}",
            polls.get()
        );
    });
    drop(producer.join().unwrap());
}

// ---- cancellation ----------------------------------------------------------

/// Futures dropped while they wait lose nothing: a timeout on an empty
/// channel, then a stream in bursts (the producer waits for the consumer
/// between bursts, so receives do wait) read by recv and poll inside a
/// select! whose other branch keeps winning.
#[test]
fn dropped_futures_lose_nothing() {
    const N: u64 = 4000;
    const BURST: u64 = 200;
    const SEED: u64 = 13;
    let (mtu, max_msg) = (256u64, 256u64); // whole messages only: poll sees each once
    let s = Setup::new("tkcancel");
    let ch = s
        .region
        .create_channel(
            "c",
            &ChannelOptions::new()
                .depth(256)
                .mtu(mtu as u32)
                .max_msg(max_msg),
        )
        .unwrap();
    let mut tx = ch.producer().unwrap();
    let (next, next_rx) = std::sync::mpsc::channel::<()>();
    let rt = runtime();
    rt.block_on(async {
        let mut rx = AsyncConsumer::new(ch.reliable().unwrap()).unwrap();
        let mut buf = vec![0u8; max_msg as usize];
        let r = tokio::time::timeout(Duration::from_millis(20), rx.recv(&mut buf)).await;
        assert!(r.is_err(), "a message out of nowhere: {r:?}");
        let producer = std::thread::spawn(move || {
            let mut buf = Vec::new();
            for i in 0..N {
                if i % BURST == 0 && i > 0 {
                    next_rx.recv_timeout(WAIT).expect("the consumer went quiet");
                }
                let h = hash(SEED, i);
                fill(&mut buf, h, size(h, mtu, max_msg));
                tx.send_wait(&buf, i, WAIT).unwrap();
            }
        });
        let mut cancelled = 0u32;
        let (mut i, mut released) = (0, 0);
        while i < N {
            // Odd bursts by poll, even ones by recv.
            if (i / BURST) % 2 == 1 {
                tokio::select! {
                    r = rx.poll() => {
                        let v = r.unwrap();
                        assert_eq!((v.sig(), v.is_whole()), (i, true));
                        check(SEED, i, mtu, max_msg, &v);
                        i += 1;
                    }
                    () = tokio::task::yield_now() => cancelled += 1,
                }
            } else {
                tokio::select! {
                    r = rx.recv(&mut buf) => {
                        let m = r.unwrap();
                        assert_eq!(m.sig, i);
                        check(SEED, i, mtu, max_msg, &buf[..m.size as usize]);
                        i += 1;
                    }
                    () = tokio::task::yield_now() => cancelled += 1,
                }
            }
            if i % BURST == 0 && i > released && i < N {
                released = i; // the burst is read: the next one
                next.send(()).unwrap();
            }
        }
        producer.join().unwrap();
        assert!(cancelled > 0, "no receive was ever dropped while it waited");
        assert_eq!(rx.recv(&mut buf).await, Err(Error::Closed));
        eprintln!("{cancelled} receives dropped mid-wait, nothing lost");
    });
}

// ---- (3) lossy -------------------------------------------------------------

/// A lossy AsyncConsumer: poll's LossyView read through the checked copy;
/// then a lapped one, which is told how many it lost (poll's Overrun,
/// recv_vec's Meta::lost) and reads the rest.
#[test]
fn lossy_poll_reads_checked_copies() {
    const SEED: u64 = 14;
    let (mtu, max_msg) = (256u64, 256u64);
    let s = Setup::new("tklossy");
    let opts = ChannelOptions::new()
        .depth(4096)
        .mtu(mtu as u32)
        .max_msg(max_msg);
    let ch = s.region.create_channel("c", &opts).unwrap();
    let rt = runtime();
    rt.block_on(async {
        // The ring holds them all: nothing may be lost.
        const N: u64 = 2000;
        let mut rx = AsyncConsumer::new(ch.lossy().unwrap()).unwrap();
        let producer = produce(ch.producer().unwrap(), SEED, N, mtu, max_msg);
        let mut buf = vec![0u8; max_msg as usize];
        for i in 0..N {
            let v = rx.poll().await.unwrap();
            assert_eq!((v.sig(), v.is_whole()), (i, true));
            let n = v.read(&mut buf).unwrap();
            assert_eq!(n, v.len());
            check(SEED, i, mtu, max_msg, &buf[..n]);
        }
        assert_eq!(rx.poll().await.map(|v| v.len()), Err(Error::Closed));
        producer.join().unwrap();
    });

    // Lapped: 300 messages into a ring of 64 before anyone reads.
    const M: u64 = 300;
    let ch = s.region.create_channel("lapped", &opts.depth(64)).unwrap();
    rt.block_on(async {
        let mut by_poll = AsyncConsumer::new(ch.lossy().unwrap()).unwrap();
        let mut by_recv = AsyncConsumer::new(ch.lossy().unwrap()).unwrap();
        let mut tx = ch.producer().unwrap();
        for i in 0..M {
            tx.send(&message(SEED, i, mtu, max_msg), i).unwrap();
        }
        drop(tx);
        let (mut got, mut lost, mut next) = (0, 0, 0);
        let mut buf = vec![0u8; max_msg as usize];
        loop {
            match by_poll.poll().await {
                Ok(v) => {
                    assert!(v.sig() >= next, "message {} after {next}", v.sig());
                    lost += v.sig() - next;
                    let n = v.read(&mut buf).unwrap(); // the producer is gone
                    check(SEED, v.sig(), mtu, max_msg, &buf[..n]);
                    next = v.sig() + 1;
                    got += 1;
                }
                Err(Error::Overrun { lost: k }) => assert!(k > 0),
                Err(e) => {
                    assert_eq!(e, Error::Closed);
                    break;
                }
            }
        }
        assert_eq!((next, got + lost), (M, M));
        assert!(lost >= M - 64 && got > 0, "got {got}, lost {lost}");
        let (mut got, mut lost) = (0, 0);
        let mut vec = Vec::new();
        loop {
            match by_recv.recv_vec(&mut vec).await {
                Ok(m) => {
                    check(SEED, m.sig, mtu, max_msg, &vec);
                    lost += m.lost;
                    got += 1;
                }
                Err(e) => {
                    assert_eq!(e, Error::Closed);
                    break;
                }
            }
        }
        assert_eq!(got + lost, M);
        assert!(lost >= M - 64 && got > 0, "got {got}, lost {lost}");
    });
}

// ---- (4) producer death ----------------------------------------------------

const CHILD: &str = "RILL_TOKIO_TEST_CHILD";
const READY: &str = "rill-child-producer-ready";

/// Not a test: the producer process of `producer_killed_while_waiting`,
/// which runs this test binary with `$RILL_TOKIO_TEST_CHILD` set to
/// "DIR REGION CHANNEL COUNT SEED". It publishes COUNT messages, says
/// [`READY`] on stdout, and waits (for SIGKILL; or it leaves when its stdin
/// closes, if the parent died first). Without the variable it does
/// nothing.
#[test]
fn child_producer() {
    let Ok(spec) = std::env::var(CHILD) else {
        return;
    };
    let a: Vec<&str> = spec.split(' ').collect();
    let (dir, region, chan) = (a[0], a[1], a[2]);
    let (count, seed): (u64, u64) = (a[3].parse().unwrap(), a[4].parse().unwrap());
    let r = Region::open(region, &RegionOptions::new().dir(dir)).unwrap();
    let ch = r.channel(chan).unwrap();
    let st = ch.stats().unwrap();
    let mut tx = ch.producer().unwrap();
    for i in 0..count {
        let m = message(seed, i, st.mtu.into(), st.max_msg);
        tx.send_wait(&m, i, WAIT).unwrap();
    }
    println!("{READY}");
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
}

/// The consumer has read everything and waits on the fd when its producer
/// (another process) is killed: the fd never becomes readable, and only
/// the re-arm every 100 ms tells it. Err(ProducerDead) must come within a
/// few seconds (the wait would otherwise last forever).
#[test]
fn producer_killed_while_waiting() {
    const COUNT: u64 = 300;
    const SEED: u64 = 15;
    let (mtu, max_msg) = (256u64, 2048u64);
    let s = Setup::new("tkdead");
    let ch = s
        .region
        .create_channel(
            "c",
            // room for all COUNT (about 450 descriptors): the child never
            // waits for us before it says "ready"
            &ChannelOptions::new()
                .depth(4096)
                .mtu(mtu as u32)
                .max_msg(max_msg),
        )
        .unwrap();
    let rt = runtime();
    let mut rx = rt.block_on(async { AsyncConsumer::new(ch.reliable().unwrap()).unwrap() });
    let spec = format!("{} {} c {COUNT} {SEED}", s.dir.path().display(), s.name);
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "child_producer",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD, spec);
    let mut child = child::Proc::start("child producer", cmd);
    // Its "ready" comes after the test harness's own lines (and on the
    // same line as "test child_producer ... ").
    child.line_where(WAIT, |l| l.ends_with(READY));
    rt.block_on(async {
        let mut buf = vec![0u8; max_msg as usize];
        for i in 0..COUNT {
            let m = rx.recv(&mut buf).await.unwrap();
            assert_eq!(m.sig, i);
            check(SEED, i, mtu, max_msg, &buf[..m.size as usize]);
        }
        let mut recv = pin!(rx.recv(&mut buf));
        // Everything read: the receive arms and waits on the fd.
        std::future::poll_fn(|cx| {
            assert!(
                recv.as_mut().poll(cx).is_pending(),
                "a message after the last"
            );
            Poll::Ready(())
        })
        .await;
        child.kill(); // SIGKILL, reaped: its lock on the region is gone
        let start = Instant::now();
        let r = tokio::time::timeout(Duration::from_secs(5), recv).await;
        assert_eq!(r, Ok(Err(Error::ProducerDead)));
        eprintln!("producer's death noticed after {:?}", start.elapsed());
    });
    assert_eq!(
        rt.block_on(rx.recv(&mut [0u8; 8])),
        Err(Error::ProducerDead)
    );
}

/// The C peer produces without end, held back by this consumer
/// (reliable), and is killed with messages still in the ring: they are all
/// read, every byte checked, and only then Err(ProducerDead).
#[test]
fn c_producer_killed_mid_stream() {
    let Some(peer) = common::c_peer() else {
        return;
    };
    const SEED: u64 = 16;
    let (mtu, max_msg, depth) = (256u64, 1024u64, 64u32);
    let s = Setup::new("tkcdead");
    let ch = s
        .region
        .create_channel(
            "c",
            &ChannelOptions::new()
                .depth(depth)
                .mtu(mtu as u32)
                .max_msg(max_msg)
                .max_consumers(1),
        )
        .unwrap();
    let rt = runtime();
    let mut rx = rt.block_on(async { AsyncConsumer::new(ch.reliable().unwrap()).unwrap() });
    let dir = s.dir.path().display().to_string();
    let seed = SEED.to_string();
    let mut child = peer.spawn(&["produce", &dir, &s.name, "c", "100000000", &seed]);
    let mut buf = vec![0u8; max_msg as usize];
    let mut i = 0u64;
    let mut next_seq = 0u64;
    rt.block_on(async {
        // Some of the stream, then no more reads: the producer fills the
        // ring and waits for room.
        while i < 100 {
            let m = tokio::time::timeout(WAIT, rx.recv(&mut buf))
                .await
                .expect("the C producer sent nothing")
                .unwrap();
            assert_eq!(m.sig, i);
            check(SEED, i, mtu, max_msg, &buf[..m.size as usize]);
            next_seq = m.seq + frags(m.size as usize, mtu);
            i += 1;
        }
        // Tell the producer how far this consumer got (a consumer flushes
        // its cursor only every so often, or when it arms).
        rx.get_mut().flush().unwrap();
    });
    // Wait until it published past what was read (its seq, as it flushes
    // it while it waits for room).
    let deadline = Instant::now() + WAIT;
    while ch.stats().unwrap().seq <= next_seq {
        assert!(
            Instant::now() < deadline,
            "the C producer published nothing more"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "the C producer ended on its own: {status}"
    );
    let after = i;
    rt.block_on(async {
        let end = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match rx.recv(&mut buf).await {
                    Ok(m) => {
                        assert_eq!(m.sig, i);
                        check(SEED, i, mtu, max_msg, &buf[..m.size as usize]);
                        i += 1;
                    }
                    Err(e) => return e,
                }
            }
        })
        .await
        .expect("no end within 5 s of the producer's death");
        assert_eq!(end, Error::ProducerDead);
    });
    assert!(i > after, "nothing was left to read after the kill");
    eprintln!(
        "read {} messages left in the ring after the kill",
        i - after
    );
}

/// The types: an AsyncConsumer and its futures are Send (a task of a
/// multi-threaded runtime may own them).
#[test]
fn threading_markers() {
    fn send<T: Send>(_: &T) {}
    fn send_type<T: Send>() {}
    send_type::<AsyncConsumer<Reliable>>();
    send_type::<AsyncConsumer<rill::Lossy>>();
    let s = Setup::new("tksend");
    let ch = s
        .region
        .create_channel("c", &ChannelOptions::new().depth(64))
        .unwrap();
    runtime().block_on(async {
        let mut rx = AsyncConsumer::new(ch.reliable().unwrap()).unwrap();
        let mut buf = [0u8; 8];
        send(&rx.recv(&mut buf));
        send(&rx.recv_vec(&mut Vec::new()));
        send(&rx.poll());
        let mut lossy = AsyncConsumer::new(ch.lossy().unwrap()).unwrap();
        send(&lossy.poll());
        assert_eq!(rx.get_ref().slot(), rx.get_mut().slot());
    });
}
