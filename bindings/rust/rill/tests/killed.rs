// SPDX-License-Identifier: Apache-2.0 OR MIT
//! Peers killed with SIGKILL, seen through the safe `rill` crate (issue
//! 22): a C or Go producer killed mid-stream (the Rust consumer reads what
//! it published, then Error::ProducerDead, and a Rust producer that joins
//! in its place carries the sequence on); a reliable consumer process
//! killed while it holds the producer back (evicted, after which the
//! producer sends again); and Channel::rejoin of a dead consumer's slot,
//! from its flushed cursor, in its own mode only.
//!
//! The killed consumer is this test binary re-run as a child (`--exact
//! child_role`, its role in `$RILL_RS_KILLED_ROLE`): it joins, prints a
//! line once joined, and blocks on its stdin until it is killed.

mod child;
mod common;
mod stream;

use child::{DEADLINE, Proc, poll_until};
use common::{TempDir, peers, region_with_channel, s, unique_name};
use rill::{
    Channel, Consumer, Error, Lossy, ModeKind, Peer as Liveness, Producer, Region, RegionOptions,
    Reliable,
};
use std::io::Read;
use std::time::Duration;
use stream::{Checker, Stream};

const WAIT: Duration = Duration::from_secs(10);
const ROLE: &str = "RILL_RS_KILLED_ROLE";

/// Receives the next message and checks it.
#[track_caller]
fn recv_checked<M: rill::Mode>(rx: &mut Consumer<M>, ck: &mut Checker, what: &str) {
    let mut buf = vec![0u8; ck.stream.max_msg as usize];
    match rx.recv_wait(&mut buf, WAIT) {
        Ok(m) => {
            if let Err(e) = ck.accept_meta(&m, &buf[..m.size as usize]) {
                panic!("{what}: {e}");
            }
        }
        Err(e) => panic!("{what}: recv after message {}: {e}", ck.next()),
    }
}

/// 3a. A C or Go producer streams into a reliable channel of 64
/// descriptors; the Rust consumer reads 300 messages and stops, so the
/// producer fills the ring and blocks for credit at a message boundary,
/// which the stream's sizes predict (its flushed seq is where message `b`,
/// the first that does not fit, starts). It is killed there. The consumer
/// reads every message it published, exact, then gets ProducerDead, and
/// both the channel's stats and the consumer say Dead. A Rust producer
/// then joins in its place: it starts at that same sequence number, the
/// producer generation counts it, and the consumer receives its messages
/// (the stream's next ones) in order with no loss, then Closed.
#[test]
fn killed_peer_producer_is_replaced() {
    for peer in peers() {
        let d = TempDir::new("kp");
        let name = unique_name("kp");
        let depth = 64u32;
        let region = region_with_channel(&d, &name, depth, 256, 4096);
        let ch = region.channel("c").unwrap();
        let seed = 53;
        let st = Stream::of(&ch, seed);
        let seq0 = ch.stats().unwrap().seq0;
        let count = 1_000_000_000; // more than it will send before it is killed
        let mut rx = ch.reliable().unwrap();
        let args = [
            s("produce"),
            d.path().to_str().unwrap().to_string(),
            name.clone(),
            s("c"),
            s(count),
            s(seed),
        ];
        let mut prod = Proc::start(format!("{} peer produce", peer.name), peer.command(&args));
        let mut ck = Checker::new(st, count, seq0, true);
        let what = format!("{} peer", peer.name);
        for _ in 0..300 {
            recv_checked(&mut rx, &mut ck, &what);
        }
        rx.flush().unwrap(); // the producer counts our cursor from here
        let cursor = ck.end_seq();
        // Message b is the first whose every fragment does not fit in the
        // credit our cursor leaves (cursor + depth).
        let (mut b, mut start_b) = (ck.next(), cursor);
        while start_b + st.frags(b) <= cursor + u64::from(depth) {
            start_b += st.frags(b);
            b += 1;
        }
        poll_until(WAIT, "the producer blocked for credit", || {
            let cs = ch.stats().unwrap();
            assert!(
                cs.seq <= start_b,
                "{what}: producer past the credit: {cs:?}"
            );
            (cs.seq == start_b).then_some(())
        });
        let before = ch.stats().unwrap();
        assert_eq!(before.producer, Liveness::Alive);
        assert!(before.producer_joined);
        prod.kill();
        let cs = ch.stats().unwrap();
        assert_eq!(cs.producer, Liveness::Dead, "{what}: the killed producer");
        assert!(cs.producer_joined, "it never left");
        // Everything it published, then the end.
        while ck.next() < b {
            recv_checked(&mut rx, &mut ck, &what);
        }
        assert_eq!(ck.end_seq(), start_b);
        let mut buf = vec![0u8; 4096];
        assert_eq!(
            rx.recv_wait(&mut buf, WAIT),
            Err(Error::ProducerDead),
            "{what}"
        );
        assert_eq!(rx.producer(), Ok(Liveness::Dead));

        // A Rust producer in its place carries the stream on.
        let mut tx = ch.producer().expect("a dead producer is replaced");
        assert_eq!(tx.seq(), start_b, "{what}: the new producer's first seq");
        let cs = ch.stats().unwrap();
        assert_eq!(cs.producer, Liveness::Alive);
        assert_eq!(cs.producer_gen, before.producer_gen + 1);
        assert_eq!(rx.producer(), Ok(Liveness::Alive));
        let more = 500;
        std::thread::scope(|sc| {
            sc.spawn(move || {
                let mut buf = vec![0u8; 4096];
                for i in b..b + more {
                    let n = st.size(i) as usize;
                    st.fill_at(i, 0, &mut buf[..n]);
                    tx.send_wait(&buf[..n], i, WAIT).unwrap();
                }
                tx.leave().unwrap();
            });
            for _ in 0..more {
                recv_checked(&mut rx, &mut ck, &format!("{what}, then rust"));
            }
        });
        assert_eq!(ck.next(), b + more);
        assert_eq!(rx.recv_wait(&mut buf, WAIT), Err(Error::Closed));
        assert_eq!(ch.stats().unwrap().producer, Liveness::None);
        eprintln!("{what}: killed at message {b} (seq {start_b}), replaced");
    }
}

/// The child: joins channel "c" of region `$RILL_RS_REGION` in
/// `$RILL_RS_DIR` as a reliable and a lossy consumer, reads
/// `$RILL_RS_READ` messages of stream 59 with the reliable one (checked),
/// flushes, prints "child-ready RELIABLE_SLOT LOSSY_SLOT" and blocks until
/// it is killed (or its stdin closes). Run by the other tests; as a test of
/// its own it does nothing.
#[test]
fn child_role() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    assert_eq!(role, "consumer");
    let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("child: ${k}"));
    let region = Region::open(
        &var("RILL_RS_REGION"),
        &RegionOptions::new().dir(var("RILL_RS_DIR")),
    )
    .expect("child: open region");
    let ch = region.channel("c").unwrap();
    let read: u64 = var("RILL_RS_READ").parse().unwrap();
    let seq0 = ch.stats().unwrap().seq0;
    let mut rel = ch.reliable().unwrap();
    let lossy = ch.lossy().unwrap();
    let mut ck = Checker::new(Stream::of(&ch, 59), read, seq0, true);
    for _ in 0..read {
        recv_checked(&mut rel, &mut ck, "child");
    }
    rel.flush().unwrap();
    println!("child-ready {} {}", rel.slot(), lossy.slot());
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
}

/// This test binary as a child consumer of `region` (see [`child_role`])
/// that reads `read` messages; returns it with its two slots.
fn start_child(d: &TempDir, region: &str, read: u64) -> (Proc, u32, u32) {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "child_role", "--nocapture", "--test-threads=1"])
        .env(ROLE, "consumer")
        .env("RILL_RS_DIR", d.path())
        .env("RILL_RS_REGION", region)
        .env("RILL_RS_READ", read.to_string());
    let mut p = Proc::start("child consumer", cmd);
    let line = p.line_where(DEADLINE, |l| l.contains("child-ready "));
    let f: Vec<u32> = line[line.find("child-ready ").unwrap() + 12..]
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    (p, f[0], f[1])
}

/// Message `i` of stream 59, sent without waiting.
fn send_msg(tx: &mut Producer, st: &Stream, i: u64) -> rill::Result<()> {
    tx.send(&st.message(i), i)
}

/// 3b and 3c. A reliable consumer in another process (this binary as a
/// child) holds the producer back: the ring fills, send says Again and
/// send_wait TimedOut. Killed with SIGKILL, its slot is Dead but still
/// holds the producer, until the producer evicts it (set_evict): then it
/// sends again, the eviction is counted and the slot marked evicted. The
/// dead slots cannot be rejoined in the other mode (Invalid, and the slot
/// is left as it was); rejoined reliable, the evicted slot reports the
/// messages it lost as one Overrun up to the producer's seq, then holds the
/// producer back again and receives every message after; the lossy slot,
/// lapped meanwhile, rejoined lossy reports its loss and reads the newest.
#[test]
fn killed_consumer_is_evicted_and_rejoined() {
    let d = TempDir::new("kc");
    let name = unique_name("kc");
    let depth = 16u64;
    let region = region_with_channel(&d, &name, depth as u32, 128, 128); // one fragment each
    let ch = region.channel("c").unwrap();
    let st = Stream::of(&ch, 59);
    let seq0 = ch.stats().unwrap().seq0;
    let mut tx = ch.producer().unwrap();
    let (mut kid, rel_slot, lossy_slot) = start_child(&d, &name, 0);
    assert_eq!(tx.wait_consumers(2, WAIT).unwrap(), 2);
    let slot = |i: u32| ch.consumer_stats(i).unwrap();
    assert_eq!(slot(rel_slot).liveness, Liveness::Alive);
    assert_eq!(slot(rel_slot).mode, Some(ModeKind::Reliable));
    assert_eq!(slot(lossy_slot).mode, Some(ModeKind::Lossy));

    // Fill the ring: the child reads nothing.
    let mut i = 0;
    loop {
        match send_msg(&mut tx, &st, i) {
            Ok(()) => i += 1,
            Err(Error::Again) => break,
            Err(e) => panic!("send {i}: {e}"),
        }
        assert!(
            i <= depth,
            "the reliable child did not hold the producer back"
        );
    }
    assert_eq!(i, depth, "a full ring is depth messages of one fragment");
    let m = st.message(i);
    assert_eq!(
        tx.send_wait(&m, i, Duration::from_millis(20)),
        Err(Error::TimedOut)
    );
    assert!(ch.stats().unwrap().backpressure > 0);

    kid.kill();
    let dead = slot(rel_slot);
    assert_eq!(dead.liveness, Liveness::Dead, "{dead:?}");
    assert!(!dead.evicted);
    assert_eq!(slot(lossy_slot).liveness, Liveness::Dead);
    // Dead, but it holds the producer until evicted (by default 1 s after
    // the producer first finds it dead, which this wait does).
    assert_eq!(
        tx.send_wait(&m, i, Duration::from_millis(20)),
        Err(Error::TimedOut)
    );
    assert_eq!(ch.stats().unwrap().evictions, 0);
    tx.set_evict(Duration::from_millis(20)).unwrap();
    tx.send_wait(&m, i, WAIT)
        .expect("the dead consumer is evicted");
    i += 1;
    tx.flush().unwrap();
    assert_eq!(ch.stats().unwrap().evictions, 1);
    let ev = slot(rel_slot);
    assert!(ev.evicted && ev.liveness == Liveness::Dead, "{ev:?}");
    // Nothing holds it back now.
    for _ in 0..3 * depth {
        send_msg(&mut tx, &st, i).unwrap();
        i += 1;
    }
    tx.flush().unwrap();

    // 3c. Another mode: refused, and the slot is left as it was.
    assert_eq!(ch.rejoin::<Lossy>(rel_slot).err(), Some(Error::Invalid));
    assert_eq!(
        ch.rejoin::<Reliable>(lossy_slot).err(),
        Some(Error::Invalid)
    );
    assert_eq!(slot(rel_slot).liveness, Liveness::Dead);
    assert_eq!(slot(lossy_slot).liveness, Liveness::Dead);

    // Reliable and evicted: it resumes at the producer's flushed seq and
    // counts what it passed over as lost at once (docs/PROTOCOL.md 3.4
    // Rejoin), then nothing until the next message.
    let mut rx = ch
        .rejoin::<Reliable>(rel_slot)
        .expect("rejoin the reliable slot");
    assert_eq!(rx.slot(), rel_slot);
    let rs = slot(rel_slot);
    assert_eq!(rs.liveness, Liveness::Alive);
    assert_eq!(
        (rs.seq, rs.lost, rs.overrun_poll),
        (tx.seq(), tx.seq() - seq0, 1)
    );
    assert_eq!(rx.producer(), Ok(Liveness::Alive));
    assert!(rx.poll().unwrap().is_none());
    // It holds the producer back again (once the producer's credit, which
    // it may have computed without it, runs out), and gets every message.
    let first = i;
    loop {
        match send_msg(&mut tx, &st, i) {
            Ok(()) => i += 1,
            Err(Error::Again) => break,
            Err(e) => panic!("send {i}: {e}"),
        }
        assert!(
            i - first <= 2 * depth,
            "the rejoined consumer does not hold the producer"
        );
    }
    // Its first message reports the rejoin's gap in meta.lost; the
    // checker (reliable: lost 0) takes the rest.
    let mut buf = vec![0u8; st.max_msg as usize];
    let m = rx
        .recv_wait(&mut buf, WAIT)
        .expect("the first message after the rejoin");
    assert_eq!((m.seq, m.sig, m.lost), (seq0 + first, first, first));
    assert_eq!(buf[..m.size as usize], st.message(first)[..]);
    let mut ck = Checker::resume(st, i, first + 1, seq0 + first + 1, true);
    while !ck.done() {
        recv_checked(&mut rx, &mut ck, "rejoined reliable consumer");
    }
    rx.flush().unwrap(); // the credit it gives is its flushed cursor
    send_msg(&mut tx, &st, i).expect("room again once it read");
    i += 1;

    // Lossy, lapped: it reports the loss and reads on.
    let mut lx = ch
        .rejoin::<Lossy>(lossy_slot)
        .expect("rejoin the lossy slot");
    assert_eq!(lx.slot(), lossy_slot);
    let mut lk = Checker::new(st, i, seq0, false);
    recv_checked(&mut lx, &mut lk, "rejoined lossy consumer");
    assert!(lk.lost > 0, "the lossy slot was lapped");
    while !lk.done() {
        recv_checked(&mut lx, &mut lk, "rejoined lossy consumer");
    }
    lx.flush().unwrap();
    assert!(slot(lossy_slot).overrun_poll >= 1);

    tx.leave().unwrap();
    let mut ck = Checker::resume(st, i, i - 1, seq0 + i - 1, true);
    recv_checked(&mut rx, &mut ck, "rejoined reliable consumer");
    assert_eq!(rx.recv_wait(&mut [0u8; 128], WAIT), Err(Error::Closed));
    assert_eq!(ch.stats().unwrap().evictions, 1);
}

/// 3c. A reliable consumer process reads 5 of 20 messages, flushes its
/// cursor and is killed; nothing evicts it (the producer never ran short).
/// Rejoined reliable, its slot resumes from the flushed cursor: messages 5
/// to 19, exact and in order, then it holds the producer back as before
/// (a stream of 300 more through a ring of 64). Its lossy slot, never read
/// and not lapped, resumes from where it joined: all 20 messages.
#[test]
fn rejoined_consumer_resumes_from_flushed_cursor() {
    let d = TempDir::new("kr");
    let name = unique_name("kr");
    let region = region_with_channel(&d, &name, 64, 128, 128);
    let ch: Channel<'_> = region.channel("c").unwrap();
    let st = Stream::of(&ch, 59);
    let seq0 = ch.stats().unwrap().seq0;
    let mut tx = ch.producer().unwrap();
    tx.set_evict(Duration::MAX).unwrap();
    let (read, sent) = (5u64, 20u64);
    let cmd_child = std::thread::scope(|sc| {
        let h = sc.spawn(|| start_child(&d, &name, read));
        assert_eq!(tx.wait_consumers(2, WAIT).unwrap(), 2);
        for i in 0..sent {
            send_msg(&mut tx, &st, i).unwrap();
        }
        h.join().unwrap()
    });
    let (mut kid, rel_slot, lossy_slot) = cmd_child;
    assert_eq!(
        ch.consumer_stats(rel_slot).unwrap().seq,
        seq0 + read,
        "flushed cursor"
    );
    kid.kill();
    let dead = ch.consumer_stats(rel_slot).unwrap();
    assert_eq!(
        (dead.liveness, dead.evicted, dead.seq),
        (Liveness::Dead, false, seq0 + read)
    );
    assert_eq!(dead.msgs, read);

    assert_eq!(ch.rejoin::<Lossy>(rel_slot).err(), Some(Error::Invalid));
    let mut rx = ch.rejoin::<Reliable>(rel_slot).unwrap();
    let mut ck = Checker::resume(st, sent + 300, read, seq0 + read, true);
    while ck.next() < sent {
        recv_checked(&mut rx, &mut ck, "rejoined at its flushed cursor");
    }
    assert!(rx.recv(&mut [0u8; 128]).unwrap().is_none());

    let mut lx = ch.rejoin::<Lossy>(lossy_slot).unwrap();
    let mut lk = Checker::new(st, sent, seq0, false);
    while !lk.done() {
        recv_checked(&mut lx, &mut lk, "rejoined lossy");
    }
    assert_eq!((lk.received, lk.lost), (sent, 0));
    drop(lx);

    assert_eq!(ch.stats().unwrap().backpressure, 0);
    std::thread::scope(|sc| {
        sc.spawn(|| {
            for i in sent..sent + 300 {
                tx.send_wait(&st.message(i), i, WAIT).unwrap();
            }
        });
        // Read only once the producer found no credit: the rejoined slot's
        // cursor holds it back.
        poll_until(
            DEADLINE,
            "the producer waits for the rejoined consumer",
            || (ch.stats().unwrap().backpressure > 0).then_some(()),
        );
        while !ck.done() {
            recv_checked(&mut rx, &mut ck, "rejoined, streaming");
        }
    });
    tx.flush().unwrap();
    assert_eq!(ch.stats().unwrap().evictions, 0);
    let rs = ch.consumer_stats(rel_slot).unwrap();
    assert_eq!((rs.lost, rs.overrun_poll), (0, 0));
    drop(tx);
    assert_eq!(rx.recv_wait(&mut [0u8; 128], WAIT), Err(Error::Closed));
}
