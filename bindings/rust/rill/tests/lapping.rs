// SPDX-License-Identifier: Apache-2.0 OR MIT
//! Lossy consumers of the safe `rill` crate lapped on purpose (issue 22):
//! by a C or Go peer producer and by a producer thread, on a ring of 16
//! descriptors. Whatever they accept is exactly the stream's (every
//! fragment checked at its place in the stream, every byte); every loss is
//! reported, as Error::Overrun from a poll, as Error::Overrun from
//! LossyView::read of bytes overwritten after the poll, or in Meta::lost,
//! and the consumer's flushed stats count the same. A view whose bytes the
//! producer reuses between the poll and the read is built deterministically
//! and must fail its check.

mod child;
mod common;
mod stream;

use child::{DEADLINE, Proc};
use common::{TempDir, peers, region_with_channel, s, unique_name};
use rill::{Channel, Consumer, Error, Lossy};
use std::time::{Duration, Instant};
use stream::{Checker, Frag, Layout, Stream, scaled};

const WAIT: Duration = Duration::from_secs(10);
/// A tiny ring: lapped at once by any producer that does not wait.
const DEPTH: u32 = 16;
const MTU: u32 = 128;
const MAX_MSG: u64 = 512;

/// Busy for `d`: a consumer made slow (not a wait for anything).
fn spin(d: Duration) {
    let t = Instant::now();
    while t.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// What a lossy consumer reading views saw.
#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    /// Views read and checked good.
    ok: u64,
    /// Views whose read said Overrun (overwritten after the poll).
    read_overruns: u64,
    /// Polls that said Overrun, and the descriptors they skipped.
    poll_overruns: u64,
    lost: u64,
    /// The last view read good.
    last_ok: Option<u64>,
}

/// Reads views with poll_wait and LossyView::read until the producer left,
/// spinning `slow` after each: every view's seq follows the last one (or
/// the loss a poll reported), and every view read without Overrun is
/// exactly its fragment of the stream.
fn read_views(rx: &mut Consumer<Lossy>, layout: &Layout, seq0: u64, slow: Duration) -> Seen {
    let mut seen = Seen::default();
    let mut expected = seq0;
    let mut buf = vec![0u8; layout.stream.mtu as usize];
    loop {
        match rx.poll_wait(WAIT) {
            Ok(v) => {
                assert_eq!(v.seq(), expected, "views in order");
                expected += 1;
                let f = Frag {
                    seq: v.seq(),
                    sig: v.sig(),
                    ctl: v.ctl(),
                    len: v.len(),
                };
                match v.read(&mut buf) {
                    Ok(n) => {
                        assert_eq!(n, f.len);
                        if let Err(e) = layout.check_frag(f, &buf[..n]) {
                            panic!("a view read without Overrun is wrong: {e}");
                        }
                        seen.ok += 1;
                        seen.last_ok = Some(f.seq);
                    }
                    Err(Error::Overrun { .. }) => seen.read_overruns += 1,
                    Err(e) => panic!("read of seq {}: {e}", f.seq),
                }
                spin(slow);
            }
            Err(Error::Overrun { lost }) => {
                assert!(lost > 0, "an overrun that lost nothing, at seq {expected}");
                expected += lost;
                seen.poll_overruns += 1;
                seen.lost += lost;
            }
            Err(Error::Closed) => break,
            Err(e) => panic!("poll at seq {expected}: {e}"),
        }
    }
    assert_eq!(
        expected,
        layout.end(),
        "the consumer ends where the stream does"
    );
    // Nothing overwrites the last descriptor once the producer left.
    assert_eq!(
        seen.last_ok,
        Some(layout.end() - 1),
        "the last fragment read good"
    );
    seen
}

/// The flushed stats of `rx` count what it saw.
fn assert_stats(ch: &Channel<'_>, rx: &mut Consumer<Lossy>, seen: &Seen, end: u64) {
    rx.flush().unwrap();
    let cs = ch.consumer_stats(rx.slot()).unwrap();
    assert_eq!(cs.mode, Some(rill::ModeKind::Lossy));
    assert_eq!(
        (cs.seq, cs.msgs, cs.lost, cs.overrun_poll, cs.overrun_read),
        (
            end,
            seen.ok + seen.read_overruns,
            seen.lost,
            seen.poll_overruns,
            seen.read_overruns
        ),
        "stats (seq, msgs, lost, overrun_poll, overrun_read) of {seen:?}: {cs:?}"
    );
}

/// Lapped by a C or Go producer (`produce`) on a ring of 16 descriptors.
/// A reliable Rust consumer, which checks every message, sets its pace, so
/// that it streams for a while; one lossy consumer reads views meanwhile,
/// slowly (20 µs after each), and must be lapped again and again (poll
/// overruns; read overruns counted if any); a second one reads with recv
/// only after the producer left, lapped for sure: it accepts only exact
/// messages, each one's Meta::lost exactly what it skipped, and its first
/// poll skipped exactly to what the ring held.
#[test]
fn lossy_lapped_by_peer_producer() {
    for peer in peers() {
        let d = TempDir::new("lp");
        let name = unique_name("lp");
        let region = region_with_channel(&d, &name, DEPTH, MTU, MAX_MSG);
        let ch = region.channel("c").unwrap();
        let seed = 41;
        let count = scaled(20000, 2000);
        let st = Stream::of(&ch, seed);
        let seq0 = ch.stats().unwrap().seq0;
        let layout = Layout::new(st, count, seq0);
        let mut pace = ch.reliable().unwrap();
        let mut slow = ch.lossy().unwrap();
        let mut late = ch.lossy().unwrap();
        let args = [
            s("produce"),
            d.path().to_str().unwrap().to_string(),
            name.clone(),
            s("c"),
            s(count),
            s(seed),
        ];
        let prod = Proc::start(format!("{} peer produce", peer.name), peer.command(&args));
        let seen = std::thread::scope(|sc| {
            sc.spawn(|| {
                let mut ck = Checker::new(st, count, seq0, true);
                let mut buf = vec![0u8; MAX_MSG as usize];
                while !ck.done() {
                    let m = pace.recv_wait(&mut buf, WAIT).unwrap();
                    if let Err(e) = ck.accept_meta(&m, &buf[..m.size as usize]) {
                        panic!("{} peer: reliable consumer: {e}", peer.name);
                    }
                }
                assert_eq!(pace.recv_wait(&mut buf, WAIT), Err(Error::Closed));
            });
            read_views(&mut slow, &layout, seq0, Duration::from_micros(20))
        });
        prod.wait_ok(DEADLINE);
        assert!(
            seen.poll_overruns > 0,
            "{} peer: the slow consumer was never lapped: {seen:?}",
            peer.name
        );
        assert_stats(&ch, &mut slow, &seen, layout.end());

        // The late one: the producer is done, the ring holds the last
        // DEPTH descriptors; its first poll finds in its slot the last
        // sequence number that went there.
        let end = layout.end();
        let found = seq0 + (end - 1 - seq0) / u64::from(DEPTH) * u64::from(DEPTH);
        let mut ck = Checker::new(st, count, seq0, false);
        let mut buf = vec![0u8; MAX_MSG as usize];
        loop {
            match late.recv_wait(&mut buf, WAIT) {
                Ok(m) => {
                    if let Err(e) = ck.accept_meta(&m, &buf[..m.size as usize]) {
                        panic!("{} peer: late consumer: {e}", peer.name);
                    }
                }
                Err(Error::Closed) => break,
                Err(e) => panic!("{} peer: late consumer: {e}", peer.name),
            }
        }
        assert!(ck.done() && ck.received > 0 && ck.received < count);
        assert!(
            ck.lost >= found - seq0,
            "{} peer: Meta::lost {} in all",
            peer.name,
            ck.lost
        );
        late.flush().unwrap();
        let cs = ch.consumer_stats(late.slot()).unwrap();
        assert_eq!(
            (cs.seq, cs.lost, cs.overrun_poll, cs.overrun_read),
            (end, found - seq0, 1, 0),
            "{} peer: late consumer stats {cs:?}",
            peer.name
        );
        assert_eq!(cs.msgs + cs.lost, end - seq0);
        eprintln!(
            "{} peer: slow consumer {seen:?}; late consumer accepted {} of {count}, lost {} descriptors",
            peer.name, ck.received, ck.lost
        );
    }
}

/// Lapped by a producer thread of this process (the safe crate on both
/// ends): the consumer starts only once the producer has sent more than
/// the ring holds (so its first poll is an overrun), then reads views
/// slowly while the producer goes on; what it accepts is exact and its
/// stats count what it saw.
#[test]
fn lossy_lapped_by_thread_producer() {
    let d = TempDir::new("lt");
    let name = unique_name("lt");
    let region = region_with_channel(&d, &name, DEPTH, MTU, MAX_MSG);
    let ch = region.channel("c").unwrap();
    let count = scaled(20000, 2000);
    let st = Stream::of(&ch, 43);
    let seq0 = ch.stats().unwrap().seq0;
    let layout = Layout::new(st, count, seq0);
    let mut rx = ch.lossy().unwrap();
    let mut tx = ch.producer().unwrap();
    let (lapped_tx, lapped) = std::sync::mpsc::channel();
    let seen = std::thread::scope(|sc| {
        sc.spawn(move || {
            let mut buf = vec![0u8; MAX_MSG as usize];
            for i in 0..count {
                let n = st.size(i) as usize;
                st.fill_at(i, 0, &mut buf[..n]);
                // No reliable consumer: never held back.
                tx.send(&buf[..n], i).unwrap();
                if i == 4 * u64::from(DEPTH) {
                    lapped_tx.send(()).unwrap();
                }
            }
            tx.leave().unwrap();
        });
        lapped.recv().unwrap();
        let lost = match rx.poll() {
            Err(Error::Overrun { lost }) => lost,
            other => panic!("first poll after a lap: {other:?}"),
        };
        assert!(lost >= u64::from(DEPTH), "lost {lost}");
        // That overrun moved the consumer to seq0 + lost: read on from there.
        let mut seen = read_views(&mut rx, &layout, seq0 + lost, Duration::from_micros(5));
        seen.poll_overruns += 1;
        seen.lost += lost;
        seen
    });
    assert_stats(&ch, &mut rx, &seen, layout.end());
    eprintln!("thread producer: {seen:?}");
}

/// A view polled, then its slot reused by the producer before the read:
/// check, read and to_vec say Overrun (each counted in overrun_read),
/// never the bytes; the same view read one message earlier is good. Then a
/// poll that finds its slot lapped reports exactly the descriptors it
/// skips; recv reports them in Meta::lost; the views of a poll_many batch
/// overwritten after the call fail their checks too.
#[test]
fn lossy_view_overwritten_between_poll_and_read() {
    let d = TempDir::new("lv");
    let name = unique_name("lv");
    let depth = u64::from(DEPTH);
    // Messages of one fragment: the stream's sizes are at most 128 then.
    let region = region_with_channel(&d, &name, DEPTH, 128, 128);
    let ch = region.channel("c").unwrap();
    let st = Stream::new(47, 128, 128);
    let seq0 = ch.stats().unwrap().seq0;
    let mut rx = ch.lossy().unwrap();
    let mut tx = ch.producer().unwrap();
    let mut next = 0u64; // the next message (and sig) to send; seq = seq0 + sig
    fn send_n(tx: &mut rill::Producer, st: &Stream, next: &mut u64, n: u64) {
        for _ in 0..n {
            tx.send(&st.message(*next), *next).unwrap();
            *next += 1;
        }
    }
    macro_rules! send {
        ($n:expr) => {
            send_n(&mut tx, &st, &mut next, $n)
        };
    }
    let mut buf = [0u8; 128];

    send!(1);
    let v = rx.poll().unwrap().expect("published");
    assert_eq!((v.seq(), v.sig()), (seq0, 0));
    // Its slot is reused by the DEPTH-th message after it, not before.
    send!(depth - 1);
    v.check().unwrap();
    let n = v.read(&mut buf).unwrap();
    st.check_at(0, 0, &buf[..n]).unwrap();
    assert_eq!(v.to_vec().unwrap(), st.message(0));
    send!(1);
    assert_eq!(v.check(), Err(Error::Overrun { lost: 0 }));
    assert_eq!(v.read(&mut buf), Err(Error::Overrun { lost: 0 }));
    assert_eq!(v.to_vec(), Err(Error::Overrun { lost: 0 }));

    // The consumer stands at seq0 + 1, whose slot now holds seq0 + 1 (the
    // ring holds seq0 + 1 ..= seq0 + DEPTH): lap it once more.
    send!(depth);
    match rx.poll() {
        Err(Error::Overrun { lost }) => assert_eq!(lost, depth),
        other => panic!("poll of a lapped slot: {other:?}"),
    }
    let v = rx.poll().unwrap().expect("the descriptor found there");
    assert_eq!((v.seq(), v.sig()), (seq0 + 1 + depth, 1 + depth));
    assert_eq!(v.to_vec().unwrap(), st.message(1 + depth));

    // recv: the consumer is at seq0 + depth + 2; 40 more messages put the
    // ring at next - DEPTH .. next; its slot holds the last seq that went
    // there, and the descriptors before it are lost.
    send!(40);
    let at = seq0 + depth + 2;
    let found = at + (seq0 + next - 1 - at) / depth * depth;
    let mut big = [0u8; 128];
    let m = rx.recv(&mut big).unwrap().expect("a message");
    assert_eq!((m.seq, m.sig, m.lost), (found, found - seq0, found - at));
    st.check_at(m.sig, 0, &big[..m.size as usize]).unwrap();
    assert_eq!(m.size, st.size(m.sig));
    while rx.recv(&mut big).unwrap().is_some() {}

    // poll_many: a batch of 4 views, then the producer laps them all.
    send!(4);
    {
        let views = rx.poll_many(8).unwrap();
        assert_eq!(views.len(), 4);
        for v in views.iter() {
            assert_eq!(v.to_vec().unwrap(), st.message(v.sig()));
        }
        send!(depth);
        for v in views.iter() {
            assert_eq!(v.check(), Err(Error::Overrun { lost: 0 }));
        }
    }
    rx.flush().unwrap();
    let cs = ch.consumer_stats(rx.slot()).unwrap();
    // read-overruns: check, read and to_vec of the first view, and the 4
    // checks of the batch; poll-overruns: the lapped poll and recv's.
    assert_eq!((cs.overrun_read, cs.overrun_poll), (3 + 4, 2), "{cs:?}");
    assert_eq!(cs.lost, depth + (found - at), "{cs:?}");
    let stats = ch.stats().unwrap();
    assert_eq!(stats.consumers, 1);
    drop(tx);
    // What is left in the ring is read (good) and then the end.
    loop {
        match rx.recv(&mut big) {
            Ok(Some(_)) | Err(Error::Overrun { .. }) => {}
            Ok(None) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(rx.recv_wait(&mut big, WAIT), Err(Error::Closed));
}
