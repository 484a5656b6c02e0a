// SPDX-License-Identifier: Apache-2.0 OR MIT
//! Request/response across processes and languages: a Rust client of the
//! C and Go peers' servers (`rpc-serve`), the peers' clients (`rpc-call`)
//! of a Rust server, and a peer server killed (`Error::ServerDead`) or
//! stopped (`Error::ServerLeft`) under a Rust client's calls.
//!
//! The peers' test service (tests/xpeer.c, the Go binding's
//! peer_test.go): method 1 echoes, 2 answers the sum of the request's
//! bytes (u64, native endian), 3 fails with status 42, the others with
//! -RILL_ENOMETHOD. `rpc-serve` says "ready" once it serves and stops when
//! its stdin closes; `rpc-call` makes COUNT pipelined echo calls, every id
//! and byte checked, then calls 2, 3 and 999, and says "ok COUNT".
mod common;

use common::{Peer, TempDir, check_payload, payload, peers, unique_name};
use rill::rpc::{self, Client, Server, ServiceOptions};
use rill::{Error, Region, RegionOptions};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdin, ChildStdout, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(10);

/// A region in `dir` with service "svc" of `opts`.
fn region_with_service(dir: &TempDir, opts: &ServiceOptions) -> (Region, String) {
    let name = unique_name("rpcx");
    let r = Region::create(&name, &RegionOptions::new().dir(dir.path()).size(8 << 20)).unwrap();
    rpc::create_service(&r, "svc", opts).unwrap();
    (r, name)
}

/// 2 lanes of depth 64, mtu 256, messages up to 1024 bytes (4 fragments).
fn opts() -> ServiceOptions {
    ServiceOptions::new()
        .lanes(2)
        .depth(64)
        .mtu(256)
        .max_msg(1024)
}

/// A peer's `rpc-serve`, killed on drop if still running.
struct Served {
    peer: &'static str,
    child: Child,
    stdin: Option<ChildStdin>,
    _stdout: BufReader<ChildStdout>,
}

impl Served {
    /// Starts `rpc-serve` and reads its "ready" line.
    fn start(peer: &Peer, dir: &TempDir, region: &str, workers: u32) -> Served {
        let dir = dir.path().to_str().unwrap();
        let workers = workers.to_string();
        let mut child = peer
            .command(&["rpc-serve", dir, region, "svc", &workers])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{} peer: {e}", peer.name));
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        if line != "ready\n" {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{} peer rpc-serve said {line:?} ({}): {}",
                peer.name,
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Served {
            peer: peer.name,
            stdin: child.stdin.take(),
            child,
            _stdout: stdout,
        }
    }

    /// Closes its stdin, so that it stops its server, and waits for it to
    /// exit, successfully.
    fn stop(mut self) {
        drop(self.stdin.take());
        let status = self.child.wait().unwrap();
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        assert!(
            status.success(),
            "{} peer rpc-serve: {status}: {err}",
            self.peer
        );
    }

    /// SIGKILL, and waits for it to be gone.
    fn kill(mut self) -> ExitStatus {
        self.child.kill().unwrap();
        self.child.wait().unwrap()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Echo calls of every size up to the service's largest, one at a time,
/// pipelined up to the capacity, built in place and completed by poll,
/// every id and byte checked; then the sum, the failing and an unknown
/// method.
fn exercise(c: &mut Client, seed: u64, mtu: usize, max_msg: usize) {
    let mut buf = vec![0u8; max_msg];
    for n in 0..=max_msg {
        let s = seed << 32 | n as u64;
        let reply = c.call(1, &payload(s, n), &mut buf, T).unwrap();
        assert_eq!((reply.method, reply.size, reply.status), (1, n, 0));
        check_payload(s, &buf[..n], n);
    }
    let cap = c.capacity() as usize;
    let size = |k: usize| (k * 89 + 7) % (max_msg + 1);
    for round in 0..8u64 {
        let s = |k: usize| seed << 32 | round << 16 | k as u64;
        let mut ids = Vec::new();
        loop {
            match c.send(1, &payload(s(ids.len()), size(ids.len()))) {
                Ok(id) => ids.push(id),
                Err(Error::Again) => break,
                Err(e) => panic!("send: {e}"),
            }
        }
        assert_eq!(ids.len(), cap);
        for (k, id) in ids.iter().enumerate() {
            let reply = c.recv(&mut buf, T).unwrap();
            assert_eq!((reply.id, reply.status), (*id, 0));
            check_payload(s(k), &buf[..reply.size], size(k));
        }
    }
    for n in [0, 1, 64, mtu / 2, mtu] {
        let mut req = c.reserve(mtu).unwrap();
        req[..n].copy_from_slice(&payload(seed + 1, n));
        let id = req.commit(n, 1).unwrap();
        let reply = c.recv(&mut buf, T).unwrap();
        assert_eq!(reply.id, id);
        check_payload(seed + 1, &buf[..reply.size], n);
    }
    let mut ids = Vec::new();
    for k in 0..cap {
        let method = if k == 3 { 3 } else { 1 };
        ids.push(
            c.send(method, &payload(seed + 2 + k as u64, size(k)))
                .unwrap(),
        );
    }
    let mut seen = 0;
    let deadline = Instant::now() + T;
    while seen < cap {
        c.poll(&mut buf, cap, |reply, bytes| {
            assert_eq!(reply.id, ids[seen]);
            if seen == 3 {
                assert_eq!((reply.status, bytes.len()), (42, 0));
            } else {
                check_payload(seed + 2 + seen as u64, bytes, size(seen));
            }
            seen += 1;
        })
        .unwrap();
        assert!(Instant::now() < deadline, "{seen} of {cap} responses came");
    }
    let reply = c.call(2, &[1, 2, 3], &mut buf, T).unwrap();
    assert_eq!(reply.size, 8);
    assert_eq!(u64::from_ne_bytes(buf[..8].try_into().unwrap()), 6);
    let req = payload(seed + 3, max_msg);
    let sum: u64 = req.iter().map(|&b| u64::from(b)).sum();
    c.call(2, &req, &mut buf, T).unwrap();
    assert_eq!(u64::from_ne_bytes(buf[..8].try_into().unwrap()), sum);
    assert_eq!(c.call(3, b"x", &mut buf, T), Err(Error::Status(42)));
    assert_eq!(c.call(999, b"x", &mut buf, T), Err(Error::NoMethod));
    assert_eq!(c.call_vec(1, b"last", T).unwrap(), b"last");
}

#[test]
fn rust_clients_of_peer_servers() {
    for peer in peers() {
        let dir = TempDir::new("rpcx");
        let (r, name) = region_with_service(&dir, &opts());
        let served = Served::start(&peer, &dir, &name, 2);
        // two clients on two threads, a lane each
        std::thread::scope(|s| {
            for t in 0..2 {
                let r = &r;
                s.spawn(move || {
                    let mut c = Client::connect(r, "svc").unwrap();
                    c.wait_server(T).unwrap();
                    exercise(&mut c, t, 256, 1024);
                });
            }
        });
        served.stop();
    }
}

#[test]
fn rust_client_of_peer_servers_answering_in_place() {
    // max_msg <= mtu: the peers' workers answer in the response ring
    for peer in peers() {
        let dir = TempDir::new("rpcx");
        let o = ServiceOptions::new()
            .lanes(1)
            .depth(64)
            .mtu(512)
            .max_msg(512);
        let (r, name) = region_with_service(&dir, &o);
        let served = Served::start(&peer, &dir, &name, 1);
        let mut c = Client::connect(&r, "svc").unwrap();
        exercise(&mut c, 7, 512, 512);
        drop(c);
        served.stop();
    }
}

/// The peers' test service, in Rust.
fn xpeer_handler(method: u16, req: &[u8], resp: &mut [u8]) -> rill::Result<usize> {
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
        _ => Err(Error::NoMethod),
    }
}

#[test]
fn peer_clients_of_a_rust_server() {
    let all = peers();
    if all.is_empty() {
        return;
    }
    // in fragments, and within the mtu (the handler writes in the ring)
    for o in [opts().lanes(4), opts().lanes(4).mtu(1024)] {
        let dir = TempDir::new("rpcx");
        let (r, name) = region_with_service(&dir, &o);
        let server = Server::serve(&r, "svc", 2, xpeer_handler).unwrap();
        // every peer at once, a lane each
        let d = dir.path().to_str().unwrap();
        let running: Vec<_> = all
            .iter()
            .map(|p| (p, p.spawn(&["rpc-call", d, &name, "svc", "3000"])))
            .collect();
        for (p, child) in running {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{} peer rpc-call ({}): {}",
                p.name,
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                "ok 3000\n",
                "{}",
                p.name
            );
        }
        assert_eq!(server.panics(), 0);
        server.stop().unwrap();
    }
}

/// Receives until an error: the responses that come first are the calls'
/// echoes, in order; returns how many came, and the error.
fn drain(c: &mut Client, ids: &[u64], seed: u64) -> (usize, Error) {
    let mut buf = vec![0u8; 1024];
    for (k, id) in ids.iter().enumerate() {
        match c.recv(&mut buf, T) {
            Ok(reply) => {
                assert_eq!((reply.id, reply.status), (*id, 0));
                check_payload(seed + k as u64, &buf[..reply.size], 100 + k);
            }
            Err(e) => return (k, e),
        }
    }
    panic!("every call was answered")
}

#[test]
fn a_killed_peer_server_ends_the_calls_with_server_dead() {
    for peer in peers() {
        let dir = TempDir::new("rpcx");
        let (r, name) = region_with_service(&dir, &opts());
        let served = Served::start(&peer, &dir, &name, 1);
        let mut c = Client::connect(&r, "svc").unwrap();
        let mut buf = vec![0u8; 1024];
        assert_eq!(c.call(1, b"alive", &mut buf, T).unwrap().size, 5);
        // calls in flight as it dies (some may be answered first), and one
        // sent after
        let mut ids: Vec<u64> = (0..8)
            .map(|k| c.send(1, &payload(100 + k, 100 + k as usize)).unwrap())
            .collect();
        let status = served.kill();
        assert!(!status.success(), "{}: {status}", peer.name);
        ids.push(c.send(1, &payload(108, 108)).unwrap());
        let (answered, e) = drain(&mut c, &ids, 100);
        assert_eq!(
            e,
            Error::ServerDead,
            "{}: after {answered} answers",
            peer.name
        );
        assert!(answered < ids.len());
        assert_eq!(c.recv(&mut buf, T), Err(Error::ServerDead), "{}", peer.name);
        // a new client's call sees the same
        let mut c2 = Client::connect(&r, "svc").unwrap();
        assert_eq!(
            c2.call(1, b"x", &mut buf, T),
            Err(Error::ServerDead),
            "{}",
            peer.name
        );
        drop((c, c2));

        // a server that restarts serves the clients that connect again
        let served = Served::start(&peer, &dir, &name, 2);
        let mut c = Client::connect(&r, "svc").unwrap();
        c.wait_server(T).unwrap();
        assert_eq!(
            c.call(1, b"again", &mut buf, T).unwrap().size,
            5,
            "{}",
            peer.name
        );
        assert_eq!(&buf[..5], b"again");
        drop(c);
        served.stop();
    }
}

#[test]
fn a_stopped_peer_server_ends_the_calls_with_server_left() {
    for peer in peers() {
        let dir = TempDir::new("rpcx");
        let (r, name) = region_with_service(&dir, &opts());
        let served = Served::start(&peer, &dir, &name, 2);
        let mut c = Client::connect(&r, "svc").unwrap();
        let mut buf = vec![0u8; 1024];
        assert_eq!(c.call(1, b"alive", &mut buf, T).unwrap().size, 5);
        let mut ids: Vec<u64> = (0..8)
            .map(|k| c.send(1, &payload(100 + k, 100 + k as usize)).unwrap())
            .collect();
        served.stop();
        ids.push(c.send(1, &payload(108, 108)).unwrap());
        let (answered, e) = drain(&mut c, &ids, 100);
        assert_eq!(
            e,
            Error::ServerLeft,
            "{}: after {answered} answers",
            peer.name
        );
        assert_eq!(c.recv(&mut buf, T), Err(Error::ServerLeft), "{}", peer.name);
    }
}
