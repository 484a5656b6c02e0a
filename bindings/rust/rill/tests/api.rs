// SPDX-License-Identifier: Apache-2.0 OR MIT
//! The safe API in one process: every call of the crate with good and bad
//! input, the threading markers, and what the types refuse at compile time
//! (the `compile_fail` examples in the crate's docs).
mod common;

use common::{TempDir, check_payload, payload, unique_name};
use rill::{
    ChannelOptions, Commit, Error, Lossy, ModeKind, OutMsg, Peer, Region, RegionOptions, Reliable,
    ctl,
};
use std::time::Duration;

fn region(dir: &TempDir) -> (Region, String) {
    let name = unique_name("api");
    let r = Region::create(&name, &RegionOptions::new().dir(dir.path()).size(8 << 20)).unwrap();
    (r, name)
}

#[test]
fn threading_markers() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    send::<Region>();
    sync::<Region>();
    send::<rill::Producer>();
    send::<rill::Consumer<Reliable>>();
    send::<rill::Consumer<Lossy>>();
    send::<Error>();
    sync::<Error>();
    send::<OutMsg<'static>>();
    sync::<OutMsg<'static>>();
    send::<Commit>();
    sync::<Commit>();
    // The negative half (Producer and Consumer are not Sync, views are not
    // Send) is checked by compile_fail examples in the crate's docs.
}

#[test]
fn region_lifecycle_and_errors() {
    let dir = TempDir::new("api");
    let (r, name) = region(&dir);
    let opts = RegionOptions::new().dir(dir.path());
    assert_eq!(Region::create(&name, &opts).unwrap_err(), Error::Exists);
    assert_eq!(Region::open("nosuch", &opts).unwrap_err(), Error::NotFound);
    assert_eq!(
        Region::create("bad/name", &opts).unwrap_err(),
        Error::Invalid
    );
    assert_eq!(Region::create("nul\0", &opts).unwrap_err(), Error::Invalid);
    let missing = RegionOptions::new().dir(dir.path().join("absent"));
    assert_eq!(
        Region::create("x", &missing).unwrap_err(),
        Error::NoDirectory
    );
    assert_eq!(
        Region::open_wait("late", &opts, Duration::from_millis(20)).unwrap_err(),
        Error::TimedOut
    );
    let info = r.info().unwrap();
    assert_eq!(info.size, 8 << 20);
    assert_eq!(info.creator_pid, std::process::id());
    assert!(Region::list(Some(dir.path())).unwrap().contains(&name));
    assert!(Region::in_use(&name, Some(dir.path())).unwrap());

    // a second handle, read-only, sees the same channels
    r.create_channel("a", &ChannelOptions::new().depth(64))
        .unwrap();
    r.create_channel("b", &ChannelOptions::new().depth(64))
        .unwrap();
    let ro = Region::open(&name, &opts.clone().read_only()).unwrap();
    assert_eq!(ro.channels().unwrap(), ["a", "b"]);
    assert!(
        ro.channel("a").unwrap().producer().is_err(),
        "a read-only region cannot be joined"
    );
    drop(ro);
    drop(r);
    assert!(!Region::in_use(&name, Some(dir.path())).unwrap());
    Region::unlink(&name, Some(dir.path())).unwrap();
    assert_eq!(
        Region::unlink(&name, Some(dir.path())).unwrap_err(),
        Error::NotFound
    );
}

#[test]
fn channel_errors() {
    let dir = TempDir::new("api");
    let (r, _) = region(&dir);
    assert_eq!(
        r.create_channel("c", &ChannelOptions::new().depth(100))
            .unwrap_err(),
        Error::Invalid,
        "depth must be a power of 2"
    );
    let big = ChannelOptions::new().depth(1 << 20).mtu(4096);
    assert_eq!(r.create_channel("c", &big).unwrap_err(), Error::NoSpace);
    assert!(big.footprint() > 8 << 20);
    let ch = r
        .create_channel("c", &ChannelOptions::new().depth(16).max_consumers(1))
        .unwrap();
    assert_eq!(ch.name(), "c");
    assert_eq!(
        r.create_channel("c", &ChannelOptions::new()).unwrap_err(),
        Error::Exists
    );
    assert_eq!(r.channel("nosuch").unwrap_err(), Error::NotFound);
    assert_eq!(
        r.wait_channel("nosuch", Duration::from_millis(10))
            .unwrap_err(),
        Error::TimedOut
    );
    let _p = ch.producer().unwrap();
    assert_eq!(
        ch.producer().unwrap_err(),
        Error::Busy,
        "one producer at a time"
    );
    let _c = ch.reliable().unwrap();
    assert_eq!(ch.lossy().unwrap_err(), Error::Full, "one consumer slot");
}

#[test]
fn send_poll_recv_every_byte() {
    let dir = TempDir::new("api");
    let (r, _) = region(&dir);
    let opts = ChannelOptions::new().depth(64).mtu(256).max_msg(2000);
    let ch = r.create_channel("c", &opts).unwrap();
    let mut rx = ch.reliable().unwrap();
    let mut tx = ch.producer().unwrap();
    let st = ch.stats().unwrap();
    assert_eq!((st.depth, st.mtu, st.max_msg), (64, 256, 2000));
    assert!(rx.poll().unwrap().is_none(), "nothing published yet");

    // whole messages through poll (views in place)
    for sig in 0..40u64 {
        tx.send(&payload(sig, (sig * 6) as usize), sig).unwrap();
    }
    for sig in 0..40u64 {
        let v = rx.poll().unwrap().expect("published");
        assert_eq!(v.sig(), sig);
        assert!(v.is_whole());
        check_payload(sig, &v, (sig * 6) as usize);
    }
    assert!(rx.poll().unwrap().is_none());

    // fragmented messages through recv, recv_vec and recv_view
    let mut buf = vec![0u8; 2000];
    let mut v = Vec::new();
    for round in 0..3 {
        for sig in 100..110u64 {
            tx.send(&payload(sig, 1990 - sig as usize), sig).unwrap();
            let n = 1990 - sig as usize;
            let m = match round {
                0 => {
                    let m = rx.recv(&mut buf).unwrap().unwrap();
                    check_payload(sig, &buf[..m.size as usize], n);
                    m
                }
                1 => {
                    let m = rx.recv_vec(&mut v).unwrap().unwrap();
                    check_payload(sig, &v, n);
                    m
                }
                _ => {
                    let (m, bytes) = rx.recv_view(&mut buf).unwrap().unwrap();
                    check_payload(sig, bytes, n);
                    m
                }
            };
            assert_eq!((m.sig, m.size, m.lost), (sig, n as u64, 0));
            assert_eq!(m.ctl & ctl::MSG, ctl::EOM, "the last fragment's ctl");
        }
    }

    // recv_vec reuses its capacity: a big message, then a small one
    let mut v = Vec::new();
    tx.send(&payload(50, 1900), 50).unwrap();
    tx.send(&payload(51, 3), 51).unwrap();
    assert_eq!(rx.recv_vec(&mut v).unwrap().unwrap().size, 1900);
    check_payload(50, &v, 1900);
    let cap = v.capacity();
    assert_eq!(rx.recv_vec(&mut v).unwrap().unwrap().size, 3);
    check_payload(51, &v, 3);
    assert_eq!(v.capacity(), cap);
    assert_eq!(rx.recv_vec(&mut v).unwrap(), None);
    assert!(v.is_empty());

    // a buffer too small keeps the message
    tx.send(&payload(7, 600), 7).unwrap();
    let mut small = [0u8; 100];
    assert_eq!(
        rx.recv(&mut small).unwrap_err(),
        Error::MessageSize { size: 600 }
    );
    let m = rx.recv(&mut buf).unwrap().unwrap();
    check_payload(7, &buf[..m.size as usize], 600);

    // too large for the channel
    assert_eq!(
        tx.send(&[0u8; 2001], 1).unwrap_err(),
        Error::MessageSize { size: 0 }
    );
    assert_eq!(tx.reserve(257).err(), Some(Error::MessageSize { size: 0 }));

    // a reliable consumer a ring behind holds the producer back
    let mut sent = 0u64;
    while tx.send(&payload(sent, 8), sent).is_ok() {
        sent += 1;
    }
    // at most a ring of 64 descriptors (fewer when the data ring is what
    // runs out first)
    assert!(sent > 32 && sent <= 64, "sent {sent}");
    assert_eq!(tx.send(b"x", 0).unwrap_err(), Error::Again);
    assert_eq!(
        tx.send_wait(b"x", 0, Duration::from_millis(5)).unwrap_err(),
        Error::TimedOut
    );
    for sig in 0..sent {
        let m = rx.recv(&mut buf).unwrap().unwrap();
        check_payload(sig, &buf[..m.size as usize], 8);
    }
    tx.flush().unwrap();
    assert!(ch.stats().unwrap().backpressure >= 2);
}

#[test]
fn reserve_commit_and_batches() {
    let dir = TempDir::new("api");
    let (r, _) = region(&dir);
    let ch = r
        .create_channel("c", &ChannelOptions::new().depth(64).mtu(512))
        .unwrap();
    let mut rx = ch.reliable().unwrap();
    let mut tx = ch.producer().unwrap();

    // reserve / commit, with ctl bits and a timestamp
    let mut b = tx.reserve(100).unwrap();
    assert_eq!(b.len(), 100);
    b.copy_from_slice(&payload(1, 100));
    b.commit_with(100, 1, ctl::MSG | ctl::user(9), 77).unwrap();
    // commit of more than was reserved
    let b = tx.reserve(10).unwrap();
    assert_eq!(b.commit(11, 2).unwrap_err(), Error::Invalid);
    // dropped without commit: nothing published
    let _ = tx.reserve(10).unwrap();
    // commit_at: a payload built backwards from the end
    let mut b = tx.reserve(512).unwrap();
    b[128..128 + 300].copy_from_slice(&payload(3, 300));
    b.commit_at(128, 300, 3).unwrap();
    let b = tx.reserve(512).unwrap();
    assert_eq!(
        b.commit_at(100, 10, 4).unwrap_err(),
        Error::Invalid,
        "not a multiple of 64"
    );
    let b = tx.reserve(512).unwrap();
    assert_eq!(
        b.commit_at(448, 65, 4).unwrap_err(),
        Error::Invalid,
        "past the end"
    );

    let v = rx.poll().unwrap().unwrap();
    assert_eq!((v.sig(), v.tsorig(), ctl::user_of(v.ctl())), (1, 77, 9));
    check_payload(1, &v, 100);
    let v = rx.poll().unwrap().unwrap();
    assert_eq!(v.sig(), 3);
    check_payload(3, &v, 300);
    assert!(rx.poll().unwrap().is_none(), "nothing else was published");

    // send_many, read back with poll_many
    let data: Vec<Vec<u8>> = (10..30u64).map(|s| payload(s, s as usize * 3)).collect();
    let msgs: Vec<OutMsg> = data
        .iter()
        .zip(10u64..)
        .map(|(d, s)| OutMsg::new(d, s).tsorig(s as u32))
        .collect();
    tx.send_many(&msgs).unwrap();
    assert_eq!(tx.send_many(&[]).unwrap_err(), Error::Invalid);
    let mut next = 10u64;
    while next < 30 {
        let views = rx.poll_many(8).unwrap();
        assert!(!views.is_empty() && views.len() <= 8);
        for v in views.iter() {
            assert_eq!((v.sig(), v.tsorig()), (next, next as u32));
            check_payload(next, &v, next as usize * 3);
            next += 1;
        }
    }
    assert!(rx.poll_many(8).unwrap().is_empty());
    assert_eq!(rx.poll_many(0).unwrap_err(), Error::Invalid);
    // a huge max is capped, not allocated (nor a panic)
    assert!(rx.poll_many(usize::MAX).unwrap().is_empty());

    // reserve_many / commit of part of them
    let mut batch = tx.reserve_many(5, 64).unwrap();
    assert_eq!(batch.count(), 5);
    for i in 0..5 {
        batch.buf(i).copy_from_slice(&payload(40 + i as u64, 64));
    }
    let commits: Vec<Commit> = (0..4u64)
        .map(|i| Commit::new(64 - i as usize, 40 + i))
        .collect();
    batch.commit(&commits).unwrap();
    for i in 0..4u64 {
        let v = rx.poll().unwrap().unwrap();
        assert_eq!(v.sig(), 40 + i);
        check_payload(40 + i, &v, 64 - i as usize);
    }
    assert!(rx.poll().unwrap().is_none());
    let batch = tx.reserve_many(2, 64).unwrap();
    assert_eq!(
        batch.commit(&[Commit::new(65, 1)]).unwrap_err(),
        Error::Invalid,
        "over the reserved size"
    );
    assert_eq!(tx.reserve_many(0, 64).err(), Some(Error::Invalid));
    assert_eq!(tx.reserve_many(usize::MAX, 64).err(), Some(Error::Invalid));
    assert_eq!(
        tx.reserve_many(65, 64).err(),
        Some(Error::Invalid),
        "over the depth"
    );
}

#[test]
fn lossy_views_are_checked() {
    let dir = TempDir::new("api");
    let (r, _) = region(&dir);
    let ch = r
        .create_channel("c", &ChannelOptions::new().depth(16).mtu(128))
        .unwrap();
    let mut rx = ch.lossy().unwrap();
    let mut tx = ch.producer().unwrap();
    tx.send(&payload(1, 100), 1).unwrap();
    let mut buf = [0u8; 128];
    {
        let v = rx.poll().unwrap().unwrap();
        assert_eq!(v.read(&mut buf).unwrap(), 100);
        check_payload(1, &buf[..100], 100);
        assert_eq!(
            v.read(&mut buf[..50]).unwrap_err(),
            Error::MessageSize { size: 100 }
        );
        check_payload(1, &v.to_vec().unwrap(), 100);
    }
    // a producer that never waits for a lossy consumer laps it
    for s in 0..40u64 {
        tx.send(&payload(s, 64), s).unwrap();
    }
    match rx.poll() {
        Err(Error::Overrun { lost }) => assert!(lost >= 16, "lost {lost}"),
        other => panic!("expected an overrun, got {other:?}"),
    }
    // what it reads after resynchronising is right
    let v = rx.poll().unwrap().unwrap();
    let s = v.sig();
    assert!(s >= 24, "the oldest message still in the ring, got {s}");
    let n = v.read(&mut buf).unwrap();
    check_payload(s, &buf[..n], 64);
    // seek_last goes back over what is still there
    assert_eq!(rx.seek_last(3).unwrap(), 3);
    let sigs: Vec<u64> = std::iter::from_fn(|| rx.poll().unwrap().map(|v| v.sig())).collect();
    assert_eq!(sigs, [37, 38, 39]);
}

#[test]
fn waits_end_with_the_producer() {
    let dir = TempDir::new("api");
    let (r, _) = region(&dir);
    let ch = r
        .create_channel("c", &ChannelOptions::new().depth(64))
        .unwrap();
    let mut rx = ch.reliable().unwrap();
    assert_eq!(rx.producer(), Ok(Peer::None));
    assert_eq!(
        rx.poll_wait(Duration::from_millis(5)).unwrap_err(),
        Error::TimedOut
    );
    let mut tx = ch.producer().unwrap();
    assert_eq!(rx.producer(), Ok(Peer::Alive));
    assert_eq!(tx.wait_consumers(1, Duration::from_secs(5)).unwrap(), 1);
    assert_eq!(
        tx.wait_consumers(2, Duration::ZERO).unwrap_err(),
        Error::TimedOut
    );
    assert_eq!(
        tx.wait_consumers(9, Duration::ZERO).unwrap_err(),
        Error::Invalid
    );
    let seq = tx.seq();
    tx.send(b"last", 5).unwrap();
    assert_eq!(tx.seq(), seq + 1);
    tx.leave().unwrap();
    let v = rx.poll_wait(Duration::from_secs(5)).unwrap();
    assert_eq!(&v[..], b"last");
    let e = rx.poll_wait(Duration::from_secs(5)).unwrap_err();
    assert_eq!(e, Error::Closed);
    assert!(e.is_end());
    let mut buf = [0u8; 8];
    assert_eq!(
        rx.recv_wait(&mut buf, Duration::from_secs(5)).unwrap_err(),
        Error::Closed
    );
}

#[test]
fn threads_and_a_waiting_producer() {
    let dir = TempDir::new("api");
    let (r, _) = region(&dir);
    let ch = r
        .create_channel("c", &ChannelOptions::new().depth(32).mtu(64).max_msg(1000))
        .unwrap();
    let mut rx = ch.reliable().unwrap();
    let mut tx = ch.producer().unwrap();
    const N: u64 = 20_000;
    let t = std::thread::spawn(move || {
        for sig in 0..N {
            tx.send_wait(
                &payload(sig, (sig % 1000) as usize),
                sig,
                Duration::from_secs(10),
            )
            .unwrap();
        }
    });
    let mut buf = vec![0u8; 1000];
    for sig in 0..N {
        let m = rx.recv_wait(&mut buf, Duration::from_secs(10)).unwrap();
        assert_eq!(m.sig, sig);
        check_payload(sig, &buf[..m.size as usize], (sig % 1000) as usize);
    }
    t.join().unwrap();
    assert_eq!(
        rx.recv_wait(&mut buf, Duration::from_secs(5)).unwrap_err(),
        Error::Closed
    );
}

#[test]
fn stats_latency_and_rejoin() {
    let dir = TempDir::new("api");
    let (r, _) = region(&dir);
    let ch = r
        .create_channel("c", &ChannelOptions::new().depth(64))
        .unwrap();
    let mut rx = ch.reliable().unwrap();
    let mut lx = ch.lossy().unwrap();
    let mut tx = ch.producer().unwrap();
    tx.set_spin(Duration::from_micros(5)).unwrap();
    tx.set_evict(Duration::from_millis(100)).unwrap();
    tx.set_stamp_every(true).unwrap();
    rx.set_spin(Duration::ZERO).unwrap();
    rx.set_holdoff(Duration::ZERO).unwrap();
    for s in 0..10u64 {
        tx.send(&payload(s, 32), s).unwrap();
    }
    for _ in 0..10 {
        let v = rx.poll().unwrap().unwrap();
        assert_ne!(v.tspub(), 0, "stamped");
    }
    rx.flush().unwrap();
    lx.flush().unwrap();
    tx.flush().unwrap();
    let st = ch.stats().unwrap();
    assert_eq!((st.msgs, st.bytes, st.consumers), (10, 320, 2));
    assert_eq!(st.producer, Peer::Alive);
    assert_eq!(st.producer_pid, std::process::id());
    assert!(st.producer_joined);
    let cs = ch.consumer_stats(rx.slot()).unwrap();
    assert_eq!(
        (cs.mode, cs.msgs, cs.lag),
        (Some(ModeKind::Reliable), 10, 0)
    );
    assert_eq!(cs.liveness, Peer::Alive);
    let ls = ch.consumer_stats(lx.slot()).unwrap();
    assert_eq!((ls.mode, ls.msgs, ls.lag), (Some(ModeKind::Lossy), 0, 10));
    assert_eq!(ch.consumer_stats(99).unwrap_err(), Error::Invalid);
    let h = ch.latency(rx.slot()).unwrap();
    assert_eq!(h.buckets().iter().sum::<u64>(), h.count());
    assert!(rill::Latency::bucket_floor(1) > rill::Latency::bucket_floor(0));
    assert!(h.quantile(0.5) <= h.quantile(0.99));

    // rejoin: a slot's mode must be the type's
    let slot = rx.slot();
    rx.leave().unwrap();
    assert_eq!(
        ch.consumer_stats(slot).unwrap().mode,
        None,
        "left: the slot is free"
    );
    assert_eq!(
        ch.rejoin::<Lossy>(slot).unwrap_err(),
        Error::Invalid,
        "it was reliable"
    );
    assert_eq!(ch.consumer_stats(slot).unwrap().mode, None, "still free");
    let mut rx = ch.rejoin::<Reliable>(slot).unwrap();
    assert_eq!(rx.slot(), slot);
    assert_eq!(
        ch.rejoin::<Reliable>(slot).unwrap_err(),
        Error::Busy,
        "it lives"
    );
    assert_eq!(
        ch.rejoin::<Reliable>(lx.slot()).unwrap_err(),
        Error::Invalid,
        "a live lossy slot"
    );
    tx.send(b"after", 11).unwrap();
    assert_eq!(rx.poll().unwrap().unwrap().sig(), 11, "from its cursor");
    let lslot = lx.slot();
    drop(lx);
    let any = ch.rejoin_any(lslot).unwrap();
    assert_eq!((any.slot(), any.mode()), (lslot, ModeKind::Lossy));
}

#[test]
fn errors_as_values() {
    for code in 1..sys_err_max() {
        let e = Error::from_code(-i64::from(code));
        assert_eq!(e.code(), code, "{e:?}");
        assert!(!e.to_string().is_empty());
        assert!(!matches!(e, Error::Other(_)), "code {code} has a variant");
    }
    assert_eq!(Error::from_code(-1000), Error::Other(1000));
    let io: std::io::Error = Error::NotFound.into();
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    let io: std::io::Error = Error::Io { errno: 24 }.into();
    assert_eq!(io.raw_os_error(), Some(24));
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(Error::Busy);
    assert!(boxed.to_string().contains("producer"));
}

fn sys_err_max() -> i32 {
    rill::sys::RILL_ERR_MAX_
}

#[test]
fn names_and_version() {
    assert!(rill::name_valid("abc.DEF_1-2"));
    assert!(!rill::name_valid(""));
    assert!(!rill::name_valid("a/b"));
    assert!(!rill::name_valid("nul\0"));
    assert!(!rill::name_valid(&"x".repeat(rill::NAME_MAX + 1)));
    assert!(rill::name_valid(&"x".repeat(rill::NAME_MAX)));
    let (ma, mi, pa) = rill::version();
    assert_eq!(
        (ma as i32, mi as i32, pa as i32),
        (
            rill::sys::RILL_VERSION_MAJOR,
            rill::sys::RILL_VERSION_MINOR,
            rill::sys::RILL_VERSION_PATCH
        )
    );
}

#[test]
fn wait_any_finds_the_channel_with_news() {
    let dir = TempDir::new("api");
    let (r, _) = region(&dir);
    let a = r
        .create_channel("a", &ChannelOptions::new().depth(16))
        .unwrap();
    let b = r
        .create_channel("b", &ChannelOptions::new().depth(16))
        .unwrap();
    let (mut ra, mut rb) = (a.reliable().unwrap(), b.reliable().unwrap());
    let (_ta, mut tb) = (a.producer().unwrap(), b.producer().unwrap());
    let t = Duration::from_millis(20);
    assert_eq!(
        rill::Consumer::wait_any(&mut [&mut ra, &mut rb], t).unwrap_err(),
        Error::TimedOut
    );
    tb.send(b"b", 2).unwrap();
    assert_eq!(
        rill::Consumer::wait_any(&mut [&mut ra, &mut rb], t).unwrap(),
        1
    );
    assert_eq!(rb.poll().unwrap().unwrap().sig(), 2);
    assert_eq!(
        rill::Consumer::<Reliable>::wait_any(&mut [], t).unwrap_err(),
        Error::Invalid
    );
}
