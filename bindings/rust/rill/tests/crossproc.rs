// SPDX-License-Identifier: Apache-2.0 OR MIT
//! Streams between the safe `rill` crate and the C and Go peers (issue 22):
//! the stream of tests/xpeer.c (random sizes, fragments, every byte and
//! every sequence number checked) in both directions, through the copying
//! calls (recv_wait, send_wait) and the zero-copy ones (poll views put
//! together by hand, reserve/commit). A peer's region or channel is laid
//! out by one language and used by the other: the consumer tests have the
//! peer create it (its `create` command), the producer tests create it in
//! Rust.

mod child;
mod common;
mod stream;

use child::{DEADLINE, Proc, poll_until};
use common::{Peer, TempDir, peers, s, unique_name};
use rill::{Channel, Consumer, Error, Peer as Liveness, Region, RegionOptions, Reliable, ctl};
use std::time::Duration;
use stream::{Checker, Frag, Got, Layout, Stream, scaled};

/// Every wait of a test: the peers give up on theirs after 10 s too.
const WAIT: Duration = Duration::from_secs(10);
/// The channels: 64 descriptors, so that a reliable consumer holds the
/// producer back all the time; messages up to 16 fragments.
const DEPTH: u32 = 64;
const MTU: u32 = 256;
const MAX_MSG: u64 = 4096;

fn dir_arg(d: &TempDir) -> String {
    d.path().to_str().expect("a UTF-8 temp dir").to_string()
}

fn start(peer: &Peer, args: &[String]) -> Proc {
    Proc::start(
        format!("{} peer {}", peer.name, args[0]),
        peer.command(args),
    )
}

/// A region made by Rust, with the test channel "c".
fn rust_region(d: &TempDir, name: &str) -> Region {
    let region = Region::create(name, &RegionOptions::new().dir(d.path()).size(8 << 20))
        .expect("create region");
    region
        .create_channel(
            "c",
            &rill::ChannelOptions::new()
                .depth(DEPTH)
                .mtu(MTU)
                .max_consumers(4)
                .max_msg(MAX_MSG),
        )
        .expect("create channel");
    region
}

/// A region made by the peer (its `create` command), opened by Rust.
fn peer_region(peer: &Peer, d: &TempDir, name: &str) -> Region {
    peer.run_ok(&[
        s("create"),
        dir_arg(d),
        s(name),
        s("c"),
        s(DEPTH),
        s(MTU),
        s(4),
        s(MAX_MSG),
        s(8 << 20),
    ]);
    let region = Region::open(name, &RegionOptions::new().dir(d.path())).expect("open region");
    let st = region.channel("c").unwrap().stats().unwrap();
    assert_eq!(
        (st.depth, st.mtu, st.max_consumers, st.max_msg),
        (DEPTH, MTU, 4, MAX_MSG),
        "{} peer's channel",
        peer.name
    );
    region
}

/// The formula agrees with the Python tests' stream.py (values printed by
/// it); the peers' agreement is what the other tests check.
#[test]
fn stream_formula_matches_python() {
    let s = Stream::new(11, 256, 4096);
    for (seed, i, h, size) in [
        (11, 0, 0xb7d1_fdb8_0536_c624, 99),
        (11, 1, 0xc3bd_7b3d_fbd9_a644, 5),
        (23, 7, 0xe918_d7ab_a1af_8b2d, 121),
        (0, 0, 0xe220_a839_7b1d_cdaf, 3373),
        (u64::MAX, 5, 0xba2e_0b5b_3a4d_5c86, 117),
    ] {
        assert_eq!(stream::hash(seed, i), h, "h_{i} of seed {seed}");
        assert_eq!(
            Stream::new(seed, 256, 4096).size(i),
            size,
            "size_{i} of seed {seed}"
        );
    }
    let m = s.message(3);
    assert_eq!(m.len(), 45);
    assert_eq!(
        m[..20],
        [
            0xa9, 0xd3, 0xbb, 0x3b, 0xf4, 0x08, 0x2b, 0xeb, 0xaa, 0xd4, 0xbc, 0x3c, 0xf5, 0x09,
            0x2c, 0xec, 0xab, 0xd5, 0xbd, 0x3d
        ]
    );
    // FNV-1a 64 of messages 0..200 of stream 11, end to end, and their bytes.
    let (mut fnv, mut total) = (0xcbf2_9ce4_8422_2325u64, 0);
    for i in 0..200 {
        for b in s.message(i) {
            fnv = (fnv ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
            total += 1;
        }
    }
    assert_eq!((fnv, total), (0x6352_4dbd_4355_a07a, 45685));
    assert_eq!(
        (
            stream::frags(0, 256),
            stream::frags(256, 256),
            stream::frags(257, 256)
        ),
        (1, 1, 2)
    );
}

/// Receives a stream with recv_wait until the producer left, checking it.
/// Reliable: exactly `count` messages, then Closed.
fn recv_stream<M: rill::Mode>(rx: &mut Consumer<M>, mut ck: Checker) -> Checker {
    let mut buf = vec![0u8; ck.stream.max_msg as usize];
    loop {
        if ck.reliable && ck.done() {
            match rx.recv_wait(&mut buf, WAIT) {
                Err(Error::Closed) => return ck,
                other => panic!("after the last message: {other:?}, want Closed"),
            }
        }
        match rx.recv_wait(&mut buf, WAIT) {
            Ok(m) => {
                let n = m.size as usize;
                if let Err(e) = ck.accept_meta(&m, &buf[..n]) {
                    panic!(
                        "{} consumer: {e}",
                        if ck.reliable { "reliable" } else { "lossy" }
                    );
                }
            }
            Err(Error::Closed) if !ck.reliable => return ck,
            Err(e) => panic!(
                "recv after {} messages (next {}): {e}",
                ck.received,
                ck.next()
            ),
        }
    }
}

/// 1a. A peer producer (`produce`) sends the stream into a channel the peer
/// created; a reliable and a lossy Rust consumer, joined before it starts,
/// check every message with recv_wait: the reliable one, reading only once
/// the producer found no credit (held back by its cursor), gets all of them
/// in order, then Closed; the lossy one only exact messages, in order, each
/// one's `lost` exactly the descriptors it skipped, the last one among
/// them. The consumers' flushed stats agree with what they saw.
#[test]
fn rust_consumers_of_peer_stream() {
    for peer in peers() {
        let d = TempDir::new("xc");
        let name = unique_name("xc");
        let region = peer_region(&peer, &d, &name);
        let ch = region.channel("c").unwrap();
        let seed = 11;
        let count = scaled(50_000, 2000);
        let st = Stream::of(&ch, seed);
        let seq0 = ch.stats().unwrap().seq0;
        let mut rel = ch.reliable().unwrap();
        let mut lossy = ch.lossy().unwrap();
        let prod = start(
            &peer,
            &[
                s("produce"),
                dir_arg(&d),
                name.clone(),
                s("c"),
                s(count),
                s(seed),
            ],
        );
        let (rel_ck, lossy_ck) = std::thread::scope(|sc| {
            let r = sc.spawn(|| {
                // Read only once the producer found no credit: it was held back.
                poll_until(
                    DEADLINE,
                    "the producer waits for the reliable consumer",
                    || (ch.stats().unwrap().backpressure > 0).then_some(()),
                );
                recv_stream(&mut rel, Checker::new(st, count, seq0, true))
            });
            let l = sc.spawn(|| recv_stream(&mut lossy, Checker::new(st, count, seq0, false)));
            (r.join().unwrap(), l.join().unwrap())
        });
        prod.wait_ok(DEADLINE);
        let layout = Layout::new(st, count, seq0);
        let descs = layout.end() - seq0;
        assert_eq!(
            (rel_ck.received, rel_ck.lost),
            (count, 0),
            "{} peer",
            peer.name
        );
        // Nothing overwrites the last message once the producer left.
        assert!(
            lossy_ck.done(),
            "{} peer: lossy: the last message was not received",
            peer.name
        );
        assert!(lossy_ck.received > 0 && lossy_ck.end_seq() == layout.end());

        let cs = ch.stats().unwrap();
        assert_eq!(
            (cs.seq, cs.msgs),
            (layout.end(), descs),
            "{} peer: producer stats",
            peer.name
        );
        assert_eq!(cs.producer, Liveness::None, "the producer left");
        assert!(!cs.producer_joined);
        assert!(descs > count, "some messages were fragmented");
        rel.flush().unwrap();
        let rs = ch.consumer_stats(rel.slot()).unwrap();
        assert_eq!(rs.mode, Some(rill::ModeKind::Reliable));
        assert_eq!(
            (rs.seq, rs.msgs, rs.lost, rs.lag),
            (layout.end(), descs, 0, 0)
        );
        assert_eq!((rs.overrun_poll, rs.overrun_read), (0, 0));
        assert_eq!(rs.liveness, Liveness::Alive);
        lossy.flush().unwrap();
        let ls = ch.consumer_stats(lossy.slot()).unwrap();
        assert_eq!(ls.mode, Some(rill::ModeKind::Lossy));
        // Every descriptor was either skipped by an overrun (the cursor's
        // lost) or returned by a poll (msgs), some of them then dropped by
        // the reassembly or the check: those count in Meta::lost too.
        assert_eq!(
            ls.seq,
            layout.end(),
            "{} peer: lossy stats {ls:?}",
            peer.name
        );
        assert_eq!(
            ls.msgs + ls.lost,
            descs,
            "{} peer: lossy stats {ls:?}",
            peer.name
        );
        assert!(
            ls.lost <= lossy_ck.lost,
            "{} peer: lossy stats {ls:?}",
            peer.name
        );
        assert_eq!(
            ls.overrun_poll + ls.overrun_read > 0,
            lossy_ck.lost > 0,
            "overruns without loss or loss without overruns: {ls:?}"
        );
        eprintln!(
            "{} peer → rust: {count} messages ({descs} descriptors); lossy accepted {}, lost {} descriptors ({} poll, {} read overruns)",
            peer.name, lossy_ck.received, lossy_ck.lost, ls.overrun_poll, ls.overrun_read
        );
        // A wait sees the end (recv alone says "nothing yet").
        assert_eq!(rel.recv(&mut [0u8; 8]).unwrap(), None);
        assert_eq!(
            rel.recv_wait(&mut [0u8; 8], WAIT).unwrap_err(),
            Error::Closed
        );
    }
}

/// Joins the peer's `consume` processes: the reliable one exits 0 only if
/// it got every message exactly; the late lossy one prints "ok RECEIVED
/// LOST" after checking every byte it accepted.
fn finish_consumers(peer: &Peer, rel: Proc, late: Option<Proc>, count: u64) {
    let out = rel.wait_ok(DEADLINE);
    if peer.name == "go" {
        // The Go peer says "ok" of reliable runs too.
        assert_eq!(
            out.last().map(String::as_str),
            Some(&*format!("ok {count} 0"))
        );
    }
    if let Some(mut late) = late {
        late.send_line("go");
        let out = late.wait_ok(DEADLINE);
        let last = out.last().cloned().unwrap_or_default();
        let f: Vec<&str> = last.split_whitespace().collect();
        let (got, lost): (u64, u64) = match f[..] {
            ["ok", g, l] => (g.parse().unwrap(), l.parse().unwrap()),
            _ => panic!("{} peer lossy consumer: {out:?}", peer.name),
        };
        // It read only after the whole stream was sent: lapped for sure.
        assert!(
            got > 0 && lost > 0 && got < count,
            "{} peer late lossy consumer: {last}",
            peer.name
        );
    }
}

/// 1b. A Rust producer sends the stream into a channel made in Rust, once
/// Producer::wait_consumers saw the peer's two consumers joined: a reliable
/// one (exits 0 only if every message, byte, sig and ctl was right, then
/// Closed) and a lossy one told to start reading only after the producer
/// left ("late": lapped for sure; every byte it accepts checked). The
/// reliable one is late too: it starts reading only once `send` found no
/// credit (Again, within the ring's depth: the peer's cursor holds the
/// producer back), and then the rest goes with send_wait.
#[test]
fn rust_producer_checked_by_peer() {
    for peer in peers() {
        let d = TempDir::new("xp");
        let name = unique_name("xp");
        let region = rust_region(&d, &name);
        let ch = region.channel("c").unwrap();
        let seed = 23;
        let count = scaled(50_000, 2000);
        let st = Stream::of(&ch, seed);
        let consume = |mode: &str, extra: &[&str]| {
            let mut a = vec![
                s("consume"),
                dir_arg(&d),
                name.clone(),
                s("c"),
                s(count),
                s(seed),
                s(mode),
            ];
            a.extend(extra.iter().map(s));
            start(&peer, &a)
        };
        let mut tx = ch.producer().unwrap();
        let mut rel = consume("reliable", &["late"]);
        let late = consume("lossy", &["0", "late"]);
        assert!(
            tx.wait_consumers(2, WAIT)
                .expect("the peer's consumers join")
                >= 2
        );
        let mut buf = vec![0u8; MAX_MSG as usize];
        // Until the reliable peer reads, the ring's depth is all there is.
        let (mut first, mut frags) = (0, 0);
        loop {
            let n = st.size(first) as usize;
            st.fill_at(first, 0, &mut buf[..n]);
            match tx.send(&buf[..n], first) {
                Ok(()) => {
                    frags += st.frags(first);
                    first += 1;
                }
                Err(Error::Again) => break,
                Err(e) => panic!("send {first} ({n} bytes): {e}"),
            }
            assert!(
                frags <= DEPTH as u64,
                "{} descriptors published to a reliable consumer that read none (depth {DEPTH})",
                frags
            );
        }
        assert!(first > 0 && first < count, "sent {first} before Again");
        assert!(ch.stats().unwrap().backpressure > 0);
        rel.send_line("go");
        for i in first..count {
            let n = st.size(i) as usize;
            st.fill_at(i, 0, &mut buf[..n]);
            tx.send_wait(&buf[..n], i, WAIT)
                .unwrap_or_else(|e| panic!("send {i} ({n} bytes): {e}"));
        }
        assert_eq!(
            tx.seq(),
            Layout::new(st, count, ch.stats().unwrap().seq0).end()
        );
        tx.leave().unwrap();
        finish_consumers(&peer, rel, Some(late), count);
        assert_eq!(ch.stats().unwrap().producer, Liveness::None);
    }
}

/// 1c. Zero copy, consumer side: a reliable Rust consumer takes the peer's
/// stream as poll_wait views of single fragments where they lie in shared
/// memory, checks each one in place (its seq, sig, SOM/EOM and bytes at its
/// offset in its message) and puts the messages together by hand; every
/// message put together is checked whole, then Closed.
#[test]
fn zero_copy_views_put_together() {
    for peer in peers() {
        let d = TempDir::new("zv");
        let name = unique_name("zv");
        let region = rust_region(&d, &name);
        let ch = region.channel("c").unwrap();
        let seed = 31;
        let count = scaled(50_000, 2000);
        let st = Stream::of(&ch, seed);
        let seq0 = ch.stats().unwrap().seq0;
        let layout = Layout::new(st, count, seq0);
        let mut rx: Consumer<Reliable> = ch.reliable().unwrap();
        let prod = start(
            &peer,
            &[
                s("produce"),
                dir_arg(&d),
                name.clone(),
                s("c"),
                s(count),
                s(seed),
            ],
        );
        let mut ck = Checker::new(st, count, seq0, true);
        let mut msg: Vec<u8> = Vec::with_capacity(MAX_MSG as usize);
        let mut first_seq = None;
        let mut seq = seq0;
        let mut multi = 0u64;
        while !ck.done() {
            let v = rx
                .poll_wait(WAIT)
                .unwrap_or_else(|e| panic!("{} peer: poll after seq {seq}: {e}", peer.name));
            let f = Frag {
                seq: v.seq(),
                sig: v.sig(),
                ctl: v.ctl(),
                len: v.len(),
            };
            assert_eq!(f.seq, seq, "{} peer: views in order", peer.name);
            // In place: the bytes of the view, no copy.
            let off = layout
                .check_frag(f, &v)
                .unwrap_or_else(|e| panic!("{} peer: {e}", peer.name));
            if f.ctl & ctl::SOM != 0 {
                assert!(
                    first_seq.is_none(),
                    "SOM in the middle of a message at seq {seq}"
                );
                first_seq = Some(f.seq);
                msg.clear();
            }
            assert_eq!(off, msg.len() as u64);
            msg.extend_from_slice(&v);
            if f.ctl & ctl::EOM != 0 {
                let got = Got {
                    seq: first_seq.take().expect("EOM without SOM"),
                    sig: f.sig,
                    size: msg.len() as u64,
                    lost: 0,
                    ctl: f.ctl,
                };
                multi += u64::from(got.seq != f.seq);
                ck.accept(got, &msg)
                    .unwrap_or_else(|e| panic!("{} peer: {e}", peer.name));
            }
            seq += 1;
        }
        assert_eq!(rx.poll_wait(WAIT).unwrap_err(), Error::Closed);
        prod.wait_ok(DEADLINE);
        assert_eq!(seq, layout.end());
        assert!(multi > 0, "no message came in several fragments");
    }
}

/// Publishes message `i` of `st` with reserve_wait/commit: written in
/// place in the data ring; a message over the mtu as fragments committed
/// with SOM and EOM by hand.
fn publish_in_place(tx: &mut rill::Producer, st: &Stream, i: u64) {
    let size = st.size(i);
    if size <= st.mtu {
        let n = size as usize;
        let mut r = tx
            .reserve_wait(n, WAIT)
            .unwrap_or_else(|e| panic!("reserve {i}: {e}"));
        assert_eq!(r.len(), n);
        st.fill_at(i, 0, &mut r[..n]);
        r.commit(n, i).unwrap();
        return;
    }
    let mut off = 0;
    while off < size {
        let n = (size - off).min(st.mtu) as usize;
        let mut c = 0;
        if off == 0 {
            c |= ctl::SOM;
        }
        if off + n as u64 == size {
            c |= ctl::EOM;
        }
        let mut r = tx
            .reserve_wait(n, WAIT)
            .unwrap_or_else(|e| panic!("reserve {i}@{off}: {e}"));
        st.fill_at(i, off, &mut r[..n]);
        r.commit_with(n, i, c, 0).unwrap();
        off += n as u64;
    }
}

/// 1c. Zero copy, producer side: a Rust producer writes every message in
/// place (reserve/commit; fragments of the messages over the mtu committed
/// with SOM/EOM by hand) and the peer's reliable consumer exits 0 only if
/// each one, put together by its rill_recv, is exactly the stream's.
#[test]
fn zero_copy_reserve_commit_checked_by_peer() {
    for peer in peers() {
        let d = TempDir::new("zr");
        let name = unique_name("zr");
        let region = rust_region(&d, &name);
        let ch: Channel<'_> = region.channel("c").unwrap();
        let seed = 37;
        let count = scaled(50_000, 2000);
        let st = Stream::of(&ch, seed);
        let mut tx = ch.producer().unwrap();
        let rel = start(
            &peer,
            &[
                s("consume"),
                dir_arg(&d),
                name.clone(),
                s("c"),
                s(count),
                s(seed),
                s("reliable"),
            ],
        );
        assert_eq!(
            tx.wait_consumers(1, WAIT)
                .expect("the peer's consumer joins"),
            1
        );
        for i in 0..count {
            publish_in_place(&mut tx, &st, i);
        }
        tx.leave().unwrap();
        finish_consumers(&peer, rel, None, count);
    }
}

/// The checks themselves can fail: a wrong byte, a message out of order,
/// a wrong sequence number, a loss not reported, a sig seen twice.
#[test]
fn checker_rejects_wrong_messages() {
    let st = Stream::new(5, 64, 256);
    let mut ck = Checker::new(st, 10, 0, true);
    let m0 = st.message(0);
    let got = |i: u64, seq: u64| Got {
        seq,
        sig: i,
        size: st.size(i),
        lost: 0,
        ctl: st.recv_ctl(i),
    };
    let mut bad = m0.clone();
    if let Some(b) = bad.last_mut() {
        *b ^= 1;
        assert!(ck.accept(got(0, 0), &bad).is_err(), "a flipped byte");
    }
    assert!(
        ck.accept(got(1, 0), &st.message(1)).is_err(),
        "message 1 first"
    );
    assert!(ck.accept(got(0, 1), &m0).is_err(), "a wrong seq");
    ck.accept(got(0, 0), &m0).unwrap();
    let mut lossy = Checker::new(st, 10, 0, false);
    let seq2 = st.frags(0) + st.frags(1);
    assert!(
        lossy.accept(got(2, seq2), &st.message(2)).is_err(),
        "lost 0 after a gap"
    );
    lossy
        .accept(
            Got {
                lost: seq2,
                ..got(2, seq2)
            },
            &st.message(2),
        )
        .unwrap();
    assert!(
        lossy
            .accept(got(2, seq2 + st.frags(2)), &st.message(2))
            .is_err(),
        "sig again"
    );
}
