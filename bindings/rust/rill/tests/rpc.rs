// SPDX-License-Identifier: Apache-2.0 OR MIT
//! Request/response in one process (`rill::rpc`): a Rust server with two
//! workers and Rust clients, every call of the module with good and bad
//! input, every byte checked; the statuses, a handler's panic, a server
//! stopped under its clients and from its own handler.
mod common;

use common::{TempDir, byte, check_payload, payload, unique_name};
use rill::rpc::{self, Client, Reply, Server, ServiceOptions};
use rill::{Error, Region, RegionOptions};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(10);
const MTU: usize = 256;
const MAX_MSG: usize = 1024;

fn region(dir: &TempDir) -> Region {
    Region::create(
        &unique_name("rpc"),
        &RegionOptions::new().dir(dir.path()).size(8 << 20),
    )
    .unwrap()
}

/// 4 lanes of depth 64, mtu 256, messages up to 1024 bytes (4 fragments):
/// a client's capacity is 64 / 4 = 16 calls.
fn opts() -> ServiceOptions {
    ServiceOptions::new()
        .lanes(4)
        .depth(64)
        .mtu(MTU as u32)
        .max_msg(MAX_MSG as u64)
}

/// The test service: 1 echo, 2 the sum of the request's bytes (u64, native
/// endian, as the C and Go peers), 3 status 42, 4 panics, 5 claims more
/// bytes than the buffer, 6 Status(0), 7 a rill error (Invalid), 8 a
/// response of the length the request says (u32 LE) of payload 8; others
/// NoMethod.
fn handler(method: u16, req: &[u8], resp: &mut [u8]) -> rill::Result<usize> {
    match method {
        1 => {
            let out = resp
                .get_mut(..req.len())
                .ok_or(Error::MessageSize { size: 0 })?;
            out.copy_from_slice(req);
            Ok(req.len())
        }
        2 => {
            let sum: u64 = req.iter().map(|&b| u64::from(b)).sum();
            resp[..8].copy_from_slice(&sum.to_ne_bytes());
            Ok(8)
        }
        3 => Err(Error::Status(42)),
        4 => panic!("the test handler panics {ON_PURPOSE}"),
        5 => Ok(resp.len() + 1),
        6 => Err(Error::Status(0)),
        7 => Err(Error::Invalid),
        8 => {
            let n = u32::from_le_bytes(req[..4].try_into().unwrap()) as usize;
            let out = resp.get_mut(..n).ok_or(Error::MessageSize { size: 0 })?;
            for (j, b) in out.iter_mut().enumerate() {
                *b = byte(8, j);
            }
            Ok(n)
        }
        _ => Err(Error::NoMethod),
    }
}

/// The panics these tests make on purpose say so: the panic hook keeps
/// them off stderr and prints the others as before.
const ON_PURPOSE: &str = "(on purpose)";

fn quiet_panics_on_purpose() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let text = info
                .payload()
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| info.payload().downcast_ref::<&str>().copied());
            if !text.is_some_and(|t| t.contains(ON_PURPOSE)) {
                hook(info)
            }
        }));
    });
}

fn serve(r: &Region, name: &str, workers: u32) -> Server {
    quiet_panics_on_purpose();
    Server::serve(r, name, workers, handler).unwrap()
}

fn connect(r: &Region, name: &str) -> Client {
    let mut c = Client::connect(r, name).unwrap();
    c.wait_server(T).unwrap();
    c
}

/// Polls until `want` responses came, each handed to `f`.
fn poll_all(c: &mut Client, buf: &mut [u8], want: usize, mut f: impl FnMut(Reply, &[u8])) {
    let deadline = Instant::now() + T;
    let mut got = 0;
    while got < want {
        got += c.poll(buf, want - got, &mut f).unwrap();
        assert!(Instant::now() < deadline, "{got} of {want} responses came");
        std::thread::yield_now();
    }
}

#[test]
fn threading_markers() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    send::<Server>();
    sync::<Server>();
    send::<Client>();
    send::<Reply>();
    sync::<Reply>();
    // Client is not Sync and a RequestBuf borrows its client: the
    // compile_fail examples of the rpc module's docs.
}

#[test]
fn two_clients_on_two_threads_every_byte() {
    let dir = TempDir::new("rpc");
    let r = region(&dir);
    rpc::create_service(&r, "svc", &opts()).unwrap();
    let server = serve(&r, "svc", 2);
    std::thread::scope(|s| {
        for t in 0..2u64 {
            let r = &r;
            s.spawn(move || {
                let mut c = connect(r, "svc");
                assert_eq!(c.capacity(), 16);
                let mut buf = vec![0u8; MAX_MSG];
                let mut last = None;
                // every size from 0 to 4 fragments, twice
                for i in 0..2 * (MAX_MSG + 1) {
                    let n = i % (MAX_MSG + 1);
                    let seed = t << 32 | i as u64;
                    let req = payload(seed, n);
                    let reply = c.call(1, &req, &mut buf, T).unwrap();
                    assert_eq!((reply.method, reply.size, reply.status), (1, n, 0));
                    if let Some(id) = last {
                        assert_eq!(reply.id, id + 1, "ids count up");
                    }
                    last = Some(reply.id);
                    check_payload(seed, &buf[..n], n);
                    if i % 97 == 0 {
                        let reply = c.call(2, &req, &mut buf, T).unwrap();
                        let sum: u64 = req.iter().map(|&b| u64::from(b)).sum();
                        assert_eq!(reply.size, 8);
                        assert_eq!(u64::from_ne_bytes(buf[..8].try_into().unwrap()), sum);
                        last = Some(reply.id);
                    }
                }
            });
        }
    });
    assert_eq!(server.panics(), 0);
    server.stop().unwrap();
}

#[test]
fn pipelined_up_to_capacity() {
    let dir = TempDir::new("rpc");
    let r = region(&dir);
    rpc::create_service(&r, "svc", &opts()).unwrap();
    let _server = serve(&r, "svc", 2);
    let mut c = connect(&r, "svc");
    let cap = c.capacity() as usize;
    let mut buf = vec![0u8; MAX_MSG];
    assert_eq!(
        c.recv(&mut buf, T).unwrap_err(),
        Error::Again,
        "none in flight"
    );
    for round in 0..20u64 {
        let size = |k: u64| ((round * 131 + k * 67) % (MAX_MSG as u64 + 1)) as usize;
        let mut ids = Vec::new();
        loop {
            let k = ids.len() as u64;
            match c.send(1, &payload(round << 16 | k, size(k))) {
                Ok(id) => ids.push(id),
                Err(Error::Again) => break,
                Err(e) => panic!("send {k}: {e}"),
            }
        }
        assert_eq!(ids.len(), cap, "capacity calls in flight, then Again");
        for w in ids.windows(2) {
            assert_eq!(w[1], w[0] + 1);
        }
        for (k, id) in ids.iter().enumerate() {
            let k = k as u64;
            let reply = c.recv(&mut buf, T).unwrap();
            assert_eq!((reply.id, reply.method, reply.status), (*id, 1, 0));
            assert_eq!(reply.result(), Ok(size(k)));
            check_payload(round << 16 | k, &buf[..reply.size], size(k));
        }
        assert_eq!(c.recv(&mut buf, T).unwrap_err(), Error::Again);
    }

    // a receive too small keeps the response and says its size
    let id = c.send(1, &payload(5, 700)).unwrap();
    let mut small = [0u8; 100];
    assert_eq!(
        c.recv(&mut small, T).unwrap_err(),
        Error::MessageSize { size: 700 }
    );
    let reply = c.recv(&mut buf, T).unwrap();
    assert_eq!((reply.id, reply.size), (id, 700));
    check_payload(5, &buf[..700], 700);

    // a call with another in flight is refused; the response stays
    let id = c.send(1, b"first").unwrap();
    assert_eq!(c.call(1, b"second", &mut buf, T).unwrap_err(), Error::Busy);
    let reply = c.recv(&mut buf, T).unwrap();
    assert_eq!((reply.id, &buf[..reply.size]), (id, &b"first"[..]));

    // a call whose response does not fit is still in flight
    assert_eq!(
        c.call(1, &payload(6, 300), &mut small, T).unwrap_err(),
        Error::MessageSize { size: 300 }
    );
    assert_eq!(c.send(1, b"x").map(|_| ()), Ok(()), "room for more");
    let reply = c.recv(&mut buf, T).unwrap();
    check_payload(6, &buf[..reply.size], 300);
    let reply = c.recv(&mut buf, T).unwrap();
    assert_eq!(&buf[..reply.size], b"x");
}

#[test]
fn reserve_and_commit_in_place() {
    let dir = TempDir::new("rpc");
    let r = region(&dir);
    rpc::create_service(&r, "svc", &opts()).unwrap();
    let _server = serve(&r, "svc", 2);
    let mut c = connect(&r, "svc");
    let mut buf = vec![0u8; MAX_MSG];
    for n in 0..=MTU {
        let mut req = c.reserve(n).unwrap();
        assert_eq!(req.len(), n);
        req.copy_from_slice(&payload(n as u64, n));
        let id = req.commit(n, 1).unwrap();
        let reply = c.recv(&mut buf, T).unwrap();
        assert_eq!((reply.id, reply.method), (id, 1));
        check_payload(n as u64, &buf[..reply.size], n);
    }

    // part of the buffer: its head, or from a multiple of 64 bytes in
    let mut req = c.reserve(MTU).unwrap();
    req[..10].copy_from_slice(b"0123456789");
    let id = req.commit(4, 1).unwrap();
    let reply = c.recv(&mut buf, T).unwrap();
    assert_eq!((reply.id, &buf[..reply.size]), (id, &b"0123"[..]));
    let mut req = c.reserve(MTU).unwrap();
    let tail = payload(77, MTU - 128);
    req[128..].copy_from_slice(&tail);
    let id = req.commit_at(128, MTU - 128, 1).unwrap();
    let reply = c.recv(&mut buf, T).unwrap();
    assert_eq!(reply.id, id);
    check_payload(77, &buf[..reply.size], MTU - 128);
    let mut req = c.reserve(MTU).unwrap();
    req[..3].copy_from_slice(&[1, 2, 3]);
    let id = req.commit(3, 2).unwrap();
    let reply = c.recv(&mut buf, T).unwrap();
    assert_eq!(reply.id, id);
    assert_eq!(u64::from_ne_bytes(buf[..8].try_into().unwrap()), 6);

    // what commit refuses, and sends nothing for
    assert_eq!(c.reserve(64).unwrap().commit(65, 1), Err(Error::Invalid));
    assert_eq!(
        c.reserve(MTU).unwrap().commit_at(10, 5, 1),
        Err(Error::Invalid)
    );
    assert_eq!(
        c.reserve(MTU).unwrap().commit_at(192, 65, 1),
        Err(Error::Invalid)
    );
    assert_eq!(
        c.reserve(MTU).unwrap().commit_at(usize::MAX - 63, 100, 1),
        Err(Error::Invalid)
    );
    assert_eq!(
        c.reserve(8).unwrap().commit(8, rpc::METHOD_MAX + 1),
        Err(Error::Invalid)
    );
    {
        let mut dropped = c.reserve(8).unwrap();
        dropped.copy_from_slice(b"dropped!");
    }
    assert_eq!(
        c.recv(&mut buf, T).unwrap_err(),
        Error::Again,
        "nothing was sent"
    );
    assert_eq!(
        c.reserve(MTU + 1).err(),
        Some(Error::MessageSize { size: 0 })
    );

    // no room for more calls than the capacity
    let cap = c.capacity() as usize;
    for k in 0..cap {
        c.send(1, &payload(k as u64, 8)).unwrap();
    }
    assert_eq!(c.reserve(8).err(), Some(Error::Again));
    for k in 0..cap {
        let reply = c.recv(&mut buf, T).unwrap();
        check_payload(k as u64, &buf[..reply.size], 8);
    }
    let mut req = c.reserve(8).unwrap();
    req.copy_from_slice(b"in place");
    req.commit(8, 1).unwrap();
    let reply = c.recv(&mut buf, T).unwrap();
    assert_eq!(&buf[..reply.size], b"in place");
}

#[test]
fn poll_calls_back_for_each_response() {
    let dir = TempDir::new("rpc");
    let r = region(&dir);
    rpc::create_service(&r, "svc", &opts()).unwrap();
    let _server = serve(&r, "svc", 2);
    let mut c = connect(&r, "svc");
    let cap = c.capacity() as usize;
    let mut buf = vec![0u8; MAX_MSG];
    for round in 0..10u64 {
        // sizes in one fragment and in several, and a failed call
        let size = |k: usize| (k * 61 + round as usize * 17) % (MAX_MSG + 1);
        let mut ids = Vec::new();
        for k in 0..cap {
            let method = if k == 5 { 3 } else { 1 };
            ids.push(
                c.send(method, &payload(round << 16 | k as u64, size(k)))
                    .unwrap(),
            );
        }
        let mut seen = 0;
        poll_all(&mut c, &mut buf, cap, |reply, bytes| {
            let k = seen;
            seen += 1;
            assert_eq!(reply.id, ids[k]);
            if k == 5 {
                assert_eq!((reply.method, reply.status, reply.size), (3, 42, 0));
                assert_eq!(reply.error(), Some(Error::Status(42)));
                assert!(bytes.is_empty());
            } else {
                assert_eq!((reply.method, reply.status), (1, 0));
                check_payload(round << 16 | k as u64, bytes, size(k));
            }
        });
        assert_eq!(seen, cap);
    }

    // at most max per poll
    for k in 0..6u64 {
        c.send(1, &payload(k, 10)).unwrap();
    }
    let mut seen = 0u64;
    let deadline = Instant::now() + T;
    while seen < 6 {
        let n = c
            .poll(&mut buf, 2, |_, bytes| {
                check_payload(seen, bytes, 10);
                seen += 1;
            })
            .unwrap();
        assert!(n <= 2, "{n} responses for a max of 2");
        assert!(Instant::now() < deadline);
    }

    // a response in fragments needs room in buf; it stays to be received
    c.send(1, &payload(9, 900)).unwrap();
    let mut err = None;
    let deadline = Instant::now() + T;
    while err.is_none() {
        match c.poll(&mut [], 1, |_, _| panic!("no room, no callback")) {
            Ok(0) => assert!(Instant::now() < deadline),
            Ok(n) => panic!("{n} responses without room"),
            Err(e) => err = Some(e),
        }
    }
    assert!(matches!(err, Some(Error::MessageSize { .. })), "{err:?}");
    let reply = c.recv(&mut buf, T).unwrap();
    check_payload(9, &buf[..reply.size], 900);
    assert_eq!(c.poll(&mut buf, 10, |_, _| ()), Ok(0), "none in flight");
}

#[test]
fn a_panic_in_the_poll_callback_is_carried_out_and_loses_nothing() {
    let dir = TempDir::new("rpc");
    let r = region(&dir);
    rpc::create_service(&r, "svc", &opts()).unwrap();
    let _server = serve(&r, "svc", 1);
    let mut c = connect(&r, "svc");
    let mut buf = vec![0u8; MAX_MSG];
    let ids: Vec<u64> = (0..3u64)
        .map(|k| c.send(1, &payload(k, 20)).unwrap())
        .collect();
    let mut calls = 0;
    let deadline = Instant::now() + T;
    let caught = loop {
        let r = catch_unwind(AssertUnwindSafe(|| {
            c.poll(&mut buf, 3, |reply, _| {
                calls += 1;
                panic!("callback panics on {} {ON_PURPOSE}", reply.id)
            })
        }));
        match r {
            Ok(Ok(0)) => assert!(Instant::now() < deadline, "no response came"),
            Ok(other) => panic!("poll returned {other:?} though its callback panicked"),
            Err(p) => break p,
        }
    };
    assert_eq!(calls, 1, "no callback after the panic");
    let text = caught.downcast_ref::<String>().unwrap();
    assert_eq!(*text, format!("callback panics on {} {ON_PURPOSE}", ids[0]));
    // the two others are still there
    for (k, id) in ids.iter().enumerate().skip(1) {
        let reply = c.recv(&mut buf, T).unwrap();
        assert_eq!(reply.id, *id);
        check_payload(k as u64, &buf[..reply.size], 20);
    }
}

#[test]
fn statuses_cross_as_errors() {
    let dir = TempDir::new("rpc");
    let r = region(&dir);
    rpc::create_service(&r, "svc", &opts()).unwrap();
    let server = serve(&r, "svc", 2);
    let mut c = connect(&r, "svc");
    let mut buf = vec![0u8; MAX_MSG];
    let mut call = |m: u16| c.call(m, b"abc", &mut buf, T).map(|r| r.size);
    assert_eq!(call(1), Ok(3));
    assert_eq!(call(3), Err(Error::Status(42)), "the handler's own code");
    assert_eq!(call(999), Err(Error::NoMethod));
    assert_eq!(call(0), Err(Error::NoMethod));
    assert_eq!(call(rpc::METHOD_MAX), Err(Error::NoMethod));
    assert_eq!(call(rpc::METHOD_MAX + 1), Err(Error::Invalid), "not sent");
    assert_eq!(call(5), Err(Error::MessageSize { size: 0 }), "too long");
    assert_eq!(
        call(6),
        Err(Error::Io { errno: 0 }),
        "Status(0) is no success"
    );
    assert_eq!(call(7), Err(Error::Invalid), "a rill error as its code");
    assert_eq!(server.panics(), 0);

    // a handler that panics answers EIO, and the server serves on
    assert_eq!(call(4), Err(Error::Io { errno: 0 }));
    assert_eq!(server.panics(), 1);
    for _ in 0..20 {
        assert_eq!(call(1), Ok(3));
        assert_eq!(call(4), Err(Error::Io { errno: 0 }));
    }
    assert_eq!(server.panics(), 21);
    assert_eq!(call(1), Ok(3));

    // pipelined, a failed call is a reply with its status
    let id = c.send(3, b"").unwrap();
    let reply = c.recv(&mut buf, T).unwrap();
    assert_eq!((reply.id, reply.method, reply.size), (id, 3, 0));
    assert_eq!(reply.status, 42);
    assert_eq!(reply.error(), Some(Error::Status(42)));
    assert_eq!(reply.result(), Err(Error::Status(42)));
    let id = c.send(31, b"").unwrap();
    let reply = c.recv(&mut buf, T).unwrap();
    assert_eq!((reply.id, reply.status), (id, -rill::sys::RILL_ENOMETHOD));
    assert_eq!(reply.result(), Err(Error::NoMethod));

    // a failed call's status takes 4 bytes of the caller's buffer
    assert_eq!(
        c.call(3, b"", &mut [0u8; 3], T).unwrap_err(),
        Error::MessageSize { size: 4 }
    );
    assert_eq!(c.recv(&mut buf, T).unwrap().status, 42);
    assert_eq!(c.call(1, b"", &mut [], T).unwrap().size, 0);
}

#[test]
fn status_and_error_conversions() {
    // every rill code as a status and back
    for code in 1..rill::sys::RILL_ERR_MAX_ {
        let e = match Error::from_code(-i64::from(code)) {
            Error::Io { .. } => Error::Io { errno: 0 },
            e => e,
        };
        assert_eq!(rpc::error_to_status(&e), -code, "{e:?}");
        assert_eq!(rpc::status_to_error(-code), Some(e), "{e:?}");
        assert!(!matches!(e, Error::Status(_)));
    }
    // the handler's own codes, unchanged
    for c in [1, 42, 1000, i32::MAX] {
        let e = Error::Status(c);
        assert_eq!(rpc::error_to_status(&e), c);
        assert_eq!(rpc::status_to_error(c), Some(e));
        assert_eq!(e.code(), c);
        assert_eq!(e.to_string(), format!("status {c} of the server"));
        assert_ne!(Error::from_code(c.into()), e, "a return code is rill's");
        assert_ne!(Error::from_code(-i64::from(c)), e);
        let io: std::io::Error = e.into();
        assert_eq!(io.kind(), std::io::ErrorKind::Other);
    }
    assert_eq!(rpc::status_to_error(0), None);
    assert_eq!(
        rpc::error_to_status(&Error::Status(0)),
        -rill::sys::RILL_EIO
    );
    // a negative code rill does not know is rill's, not the handler's
    assert_eq!(rpc::status_to_error(-1000), Some(Error::Other(1000)));
    assert_eq!(rpc::error_to_status(&Error::Other(1000)), -1000);
    assert_eq!(rpc::error_to_status(&Error::Other(-7)), -7);
    assert_eq!(
        rpc::error_to_status(&Error::MessageSize { size: 9 }),
        -rill::sys::RILL_EMSGSIZE
    );
    assert_eq!(
        rpc::status_to_error(-rill::sys::RILL_EIO),
        Some(Error::Io { errno: 0 })
    );
    assert_eq!(Error::from_code(-1000), Error::Other(1000));
}

#[test]
fn call_vec_grows_to_the_response() {
    let dir = TempDir::new("rpc");
    let r = region(&dir);
    let big = ServiceOptions::new()
        .lanes(1)
        .depth(64)
        .mtu(512)
        .max_msg(4096);
    rpc::create_service(&r, "big", &big).unwrap();
    let _server = serve(&r, "big", 1);
    let mut c = connect(&r, "big");
    for n in [0usize, 1, 1023, 1024, 1025, 3000, 4096] {
        let got = c.call_vec(8, &(n as u32).to_le_bytes(), T).unwrap();
        check_payload(8, &got, n);
    }
    assert_eq!(
        c.call_vec(8, &4097u32.to_le_bytes(), T),
        Err(Error::MessageSize { size: 0 }),
        "the handler's status"
    );
    assert_eq!(c.call_vec(3, b"", T), Err(Error::Status(42)));
    assert_eq!(
        c.call_vec(1, &[0u8; 4097], T),
        Err(Error::MessageSize { size: 0 }),
        "a request over max_msg"
    );
    assert_eq!(c.call_vec(1, b"after", T).unwrap(), b"after");
}

#[test]
fn service_and_connection_errors() {
    let dir = TempDir::new("rpc");
    let r = region(&dir);
    assert_eq!(Client::connect(&r, "svc").unwrap_err(), Error::NotFound);
    assert_eq!(
        Server::serve(&r, "svc", 1, handler).unwrap_err(),
        Error::NotFound
    );
    assert_eq!(
        rpc::wait_service(&r, "svc", Duration::ZERO),
        Err(Error::NotFound)
    );
    assert_eq!(
        rpc::wait_service(&r, "svc", Duration::from_millis(20)),
        Err(Error::TimedOut)
    );
    // created by another thread while this one waits
    std::thread::scope(|s| {
        let waiter = s.spawn(|| rpc::wait_service(&r, "svc", T));
        rpc::create_service(&r, "svc", &opts()).unwrap();
        assert_eq!(waiter.join().unwrap(), Ok(()));
    });
    assert_eq!(rpc::create_service(&r, "svc", &opts()), Err(Error::Exists));
    let long = "s".repeat(rpc::NAME_MAX + 1);
    assert_eq!(rpc::create_service(&r, &long, &opts()), Err(Error::Invalid));
    assert_eq!(rpc::wait_service(&r, &long, T), Err(Error::Invalid));
    assert_eq!(
        rpc::create_service(&r, "bad/name", &opts()),
        Err(Error::Invalid)
    );
    assert_eq!(
        rpc::create_service(&r, "nul\0", &opts()),
        Err(Error::Invalid)
    );
    assert_eq!(
        rpc::create_service(&r, "many", &opts().lanes(rpc::MAX_LANES + 1)),
        Err(Error::Invalid)
    );
    assert_eq!(
        rpc::create_service(&r, "huge", &opts().lanes(2).depth(1 << 20)),
        Err(Error::NoSpace)
    );
    rpc::create_service(&r, &"s".repeat(rpc::NAME_MAX), &opts().lanes(1)).unwrap();

    // workers: 1 to the lanes
    assert_eq!(
        Server::serve(&r, "svc", 0, handler).unwrap_err(),
        Error::Invalid
    );
    assert_eq!(
        Server::serve(&r, "svc", 5, handler).unwrap_err(),
        Error::TooManyWorkers
    );
    // a client waits for a server that is not there
    let mut early = Client::connect(&r, "svc").unwrap();
    assert_eq!(
        early.wait_server(Duration::from_millis(20)),
        Err(Error::TimedOut)
    );
    assert_eq!(early.wait_server(Duration::ZERO), Err(Error::TimedOut));
    let server = serve(&r, "svc", 4);
    early.wait_server(T).unwrap();
    assert_eq!(
        Server::serve(&r, "svc", 1, handler).unwrap_err(),
        Error::Busy,
        "one server at a time"
    );
    // a lane per client
    let mut clients: Vec<Client> = (0..3).map(|_| connect(&r, "svc")).collect();
    assert_eq!(Client::connect(&r, "svc").unwrap_err(), Error::Full);
    for (k, c) in clients.iter_mut().chain([&mut early]).enumerate() {
        let mut buf = [0u8; 16];
        let reply = c.call(1, &[k as u8; 16], &mut buf, T).unwrap();
        assert_eq!((reply.size, buf), (16, [k as u8; 16]));
    }
    clients.pop().unwrap().close().unwrap();
    let mut again = connect(&r, "svc");
    assert_eq!(again.call(1, b"", &mut [0u8; 4], T).unwrap().size, 0);
    // too large to send
    assert_eq!(
        again.send(1, &[0u8; MAX_MSG + 1]),
        Err(Error::MessageSize { size: 0 })
    );
    assert_eq!(again.send(rpc::METHOD_MAX + 1, b""), Err(Error::Invalid));
    assert!(!server.as_raw().is_null());
    assert!(!again.as_raw().is_null());
    assert!(format!("{server:?}").contains("panics: 0"));
    server.stop().unwrap();
}

/// A handler's captured state, which says when it is dropped.
struct DropFlag(Arc<AtomicBool>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn a_stopped_server_leaves_its_clients_and_a_new_one_serves() {
    let dir = TempDir::new("rpc");
    let r = region(&dir);
    rpc::create_service(&r, "svc", &opts()).unwrap();
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = DropFlag(dropped.clone());
    let server = Server::serve(&r, "svc", 2, move |m, req, resp| {
        let _ = &flag;
        handler(m, req, resp)
    })
    .unwrap();
    let mut c = connect(&r, "svc");
    let mut buf = vec![0u8; MAX_MSG];
    assert_eq!(c.call(1, b"up", &mut buf, T).unwrap().size, 2);
    assert!(!dropped.load(Ordering::SeqCst));
    server.stop().unwrap();
    assert!(
        dropped.load(Ordering::SeqCst),
        "the handler is dropped once the server stopped"
    );
    // a call sent now is in flight with nobody to answer it
    let late = c.send(1, b"late").unwrap();
    // looking without waiting does not see the server's end (rill_rpc.c:
    // a look is no wait, and only a wait asks about the producer)
    assert_eq!(c.poll(&mut buf, 10, |_, _| panic!("no response")), Ok(0));
    assert_eq!(c.recv(&mut buf, Duration::ZERO).unwrap_err(), Error::Again);
    assert_eq!(c.recv(&mut buf, T).unwrap_err(), Error::ServerLeft);
    assert_eq!(c.recv(&mut buf, T).unwrap_err(), Error::ServerLeft);

    // a new server serves the same service from where the last one left
    // each lane: the client that stayed gets the answer of the call it
    // sent while no server ran (and "up" is not run again: 2 calls)
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let server = Server::serve(&r, "svc", 1, move |m, req, resp| {
        counted.fetch_add(1, Ordering::SeqCst);
        handler(m, req, resp)
    })
    .unwrap();
    let reply = c.recv(&mut buf, T).unwrap();
    assert_eq!((reply.id, reply.size), (late, 4));
    assert_eq!(&buf[..4], b"late");
    assert_eq!(c.call(1, b"again", &mut buf, T).unwrap().size, 5);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // so does a new client; dropping a server stops it too
    let mut c2 = connect(&r, "svc");
    assert_eq!(c2.call(1, b"new", &mut buf, T).unwrap().size, 3);
    drop(server);
    assert_eq!(
        c.call(1, b"gone", &mut buf, T).unwrap_err(),
        Error::ServerLeft
    );
    assert_eq!(
        c2.call(1, b"gone", &mut buf, T).unwrap_err(),
        Error::ServerLeft
    );
}

#[test]
fn a_server_stopped_from_its_own_handler() {
    let dir = TempDir::new("rpc");
    let r = region(&dir);
    rpc::create_service(&r, "svc", &opts()).unwrap();
    let slot: Arc<Mutex<Option<Server>>> = Arc::new(Mutex::new(None));
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = DropFlag(dropped.clone());
    let inner = slot.clone();
    let server = Server::serve(&r, "svc", 2, move |m, req, resp| {
        let _ = &flag;
        if m == 9 {
            // stop (drop) this very server, on one of its workers
            let s = inner.lock().unwrap().take().ok_or(Error::Status(1))?;
            if req == b"stop" {
                s.stop()?;
            } else {
                drop(s);
            }
            return Ok(0);
        }
        handler(m, req, resp)
    })
    .unwrap();
    *slot.lock().unwrap() = Some(server);
    let mut c = connect(&r, "svc");
    let mut buf = vec![0u8; MAX_MSG];
    assert_eq!(c.call(1, b"up", &mut buf, T).unwrap().size, 2);
    assert_eq!(c.call(9, b"stop", &mut buf, T).unwrap().size, 0);
    // the stop goes on on a thread of its own: calls end with ServerLeft
    let deadline = Instant::now() + T;
    loop {
        match c.call(1, b"x", &mut buf, T) {
            Ok(_) => assert!(Instant::now() < deadline, "still served"),
            Err(Error::ServerLeft) => break,
            Err(e) => panic!("{e}"),
        }
    }
    // ... and then drops the handler (and with it the slot's Arc)
    while !dropped.load(Ordering::SeqCst) || Arc::strong_count(&slot) > 1 {
        assert!(Instant::now() < deadline, "the handler was not dropped");
        std::thread::yield_now();
    }
    // the client keeps its lane while the next server starts: that server
    // goes on from where this one left the lane, so the "stop" it
    // answered is not handed to the next one again (which would take it
    // down under the calls below)

    // the same by dropping it
    let slot2: Arc<Mutex<Option<Server>>> = Arc::new(Mutex::new(None));
    let inner = slot2.clone();
    let server = Server::serve(&r, "svc", 1, move |m, req, resp| {
        if m == 9 {
            drop(inner.lock().unwrap().take());
            return Ok(0);
        }
        handler(m, req, resp)
    })
    .unwrap();
    *slot2.lock().unwrap() = Some(server);
    let mut c = connect(&r, "svc");
    assert_eq!(c.call(9, b"drop", &mut buf, T).unwrap().size, 0);
    loop {
        match c.call(1, b"x", &mut buf, T) {
            Ok(_) => assert!(Instant::now() < deadline, "still served"),
            Err(Error::ServerLeft) => break,
            Err(e) => panic!("{e}"),
        }
    }
    while Arc::strong_count(&slot2) > 1 {
        assert!(Instant::now() < deadline, "the handler was not dropped");
        std::thread::yield_now();
    }
}

#[test]
fn responses_in_place_on_a_service_within_the_mtu() {
    // max_msg <= mtu: the workers hand the handler space in the response
    // ring, not their own buffer; every byte of it may be read
    let dir = TempDir::new("rpc");
    let r = region(&dir);
    let o = ServiceOptions::new()
        .lanes(2)
        .depth(32)
        .mtu(512)
        .max_msg(512);
    rpc::create_service(&r, "zc", &o).unwrap();
    let server = Server::serve(&r, "zc", 2, |m, req, resp| {
        assert_eq!(resp.len(), 512);
        std::hint::black_box(resp.iter().map(|&b| u64::from(b)).sum::<u64>());
        handler(m, req, resp)
    })
    .unwrap();
    let mut c = connect(&r, "zc");
    let mut buf = [0u8; 512];
    for i in 0..300u64 {
        let n = (i as usize * 37) % 513;
        let reply = c.call(1, &payload(i, n), &mut buf, T).unwrap();
        check_payload(i, &buf[..reply.size], n);
        let reply = c.call(2, &payload(i, n), &mut buf, T).unwrap();
        let sum: u64 = payload(i, n).iter().map(|&b| u64::from(b)).sum();
        assert_eq!((reply.size, &buf[..8]), (8, &sum.to_ne_bytes()[..]));
    }
    assert_eq!(server.panics(), 0);
}
