// SPDX-License-Identifier: Apache-2.0 OR MIT
//! The raw request/response API (rill_rpc.h) end to end: a region in a
//! private directory, a service of two lanes, a server of two workers whose
//! handler (an `extern "C"` fn) echoes method 1, answers method 2 with the
//! sum of the request's bytes (a u64, little-endian) and refuses the rest
//! with -RILL_ENOMETHOD; a client that calls both methods with requests of
//! several sizes (fragmented ones too) and checks every byte, calls an
//! unknown method, pipelines its lane's capacity of calls with
//! rill_rpc_send and receives them with rill_rpc_recv (ids and payloads
//! matched), builds requests in the ring with rill_rpc_reserve/commit, and
//! takes responses by callback with rill_rpc_poll; bad input answered with
//! its error code; then the server stops (a call after says
//! -RILL_ESRVLEFT), the client closes and the region is unlinked.
mod common;
use common::{TempDir, ok, strerror};
use core::ffi::{CStr, c_int, c_void};
use core::ptr;
use core::sync::atomic::{AtomicU64, Ordering};
use rill_sys::*;
use std::ffi::CString;
use std::time::{Duration, Instant};

const ECHO: u16 = 1;
const SUM: u16 = 2;
const UNKNOWN: u16 = 77;
const MTU: u32 = 512;
const MAX_MSG: u64 = 2048;
const TIMEOUT: u64 = 5_000_000_000; // 5 s: a call is answered well within
/// Request sizes: empty, within a fragment, around the mtu, fragmented, the largest.
const SIZES: [usize; 10] = [0, 1, 7, 63, 64, 511, 512, 513, 1500, MAX_MSG as usize];

fn byte(i: u64, j: usize) -> u8 {
    (i.wrapping_mul(131) ^ (j as u64).wrapping_mul(7) ^ (j as u64 >> 8)) as u8
}

fn request(i: u64, n: usize) -> Vec<u8> {
    (0..n).map(|j| byte(i, j)).collect()
}

fn sum(req: &[u8]) -> Vec<u8> {
    req.iter()
        .map(|&b| u64::from(b))
        .sum::<u64>()
        .to_le_bytes()
        .to_vec()
}

/// What the server answers to METHOD with REQ: Ok(the response bytes) or
/// Err(the status).
fn answer(method: u16, req: &[u8]) -> Result<Vec<u8>, i32> {
    match method {
        ECHO => Ok(req.to_vec()),
        SUM => Ok(sum(req)),
        _ => Err(-RILL_ENOMETHOD),
    }
}

/// Checks a response RES with bytes GOT against what the server answers
/// to call ID of METHOD with REQ.
#[track_caller]
fn check_response(what: &str, id: u64, method: u16, req: &[u8], res: &rill_rpc_result, got: &[u8]) {
    assert_eq!((res.id, res.method), (id, method), "{what}: id, method");
    assert_eq!(res.reserved0, 0, "{what}: reserved0");
    assert_eq!(res.reserved, [0; 3], "{what}: reserved");
    match answer(method, req) {
        Ok(want) => {
            assert_eq!(res.status, 0, "{what}: status");
            assert_eq!(res.size, want.len() as u64, "{what}: size");
            assert_eq!(got.len(), want.len(), "{what}: bytes");
            for (j, (g, w)) in got.iter().zip(&want).enumerate() {
                assert_eq!(g, w, "{what}: byte {j}");
            }
        }
        Err(status) => assert_eq!((res.status, res.size), (status, 0), "{what}: error"),
    }
}

/// The server's handler: method ECHO echoes, SUM answers the sum of the
/// request's bytes as a little-endian u64, others -RILL_ENOMETHOD.  ARG is
/// an AtomicU64 that counts the requests.  It runs on the server's worker
/// threads and must not panic (a panic cannot unwind out of an
/// `extern "C"` fn: the process would abort).
unsafe extern "C" fn handler(
    arg: *mut c_void,
    method: u16,
    req: *const c_void,
    n: usize,
    resp: *mut c_void,
    cap: usize,
    resp_n: *mut usize,
) -> c_int {
    // SAFETY: ARG is the AtomicU64 the test passed to rill_rpc_serve, alive
    // until after rill_rpc_server_stop; REQ points at N bytes (any pointer
    // when N is 0), RESP at CAP writable bytes that do not overlap them,
    // RESP_N at a size_t (rill_rpc.h, rill_rpc_handler).
    unsafe {
        (*arg.cast::<AtomicU64>()).fetch_add(1, Ordering::Relaxed);
        let req = if n == 0 {
            &[][..]
        } else {
            core::slice::from_raw_parts(req.cast::<u8>(), n)
        };
        let out = match method {
            ECHO => req.to_vec(),
            SUM => sum(req),
            _ => return -RILL_ENOMETHOD,
        };
        if out.len() > cap {
            return -RILL_EMSGSIZE;
        }
        ptr::copy_nonoverlapping(out.as_ptr(), resp.cast::<u8>(), out.len());
        *resp_n = out.len();
    }
    0
}

/// The responses rill_rpc_poll hands to `on_done`, in order.
type Done = Vec<(rill_rpc_result, Vec<u8>)>;

/// rill_rpc_poll's callback: pushes the result and a copy of the response
/// bytes (valid only during the call) onto the Done at ARG.
unsafe extern "C" fn on_done(arg: *mut c_void, res: *const rill_rpc_result, resp: *const c_void) {
    // SAFETY: ARG is the &mut Done the test passed to rill_rpc_poll, alive
    // for the call; RES points at a filled result and RESP at its
    // res->size bytes (rill_rpc.h, rill_rpc_done_fn).
    unsafe {
        let done = &mut *arg.cast::<Done>();
        let res = *res;
        let bytes = if res.size == 0 {
            Vec::new()
        } else {
            core::slice::from_raw_parts(resp.cast::<u8>(), res.size as usize).to_vec()
        };
        done.push((res, bytes));
    }
}

#[test]
fn null_handles() {
    let mut id = 0u64;
    let mut res = rill_rpc_result::default();
    let mut buf: *mut c_void = ptr::null_mut();
    // SAFETY: NULL handles are allowed and refused with -RILL_EINVAL
    // (rill.h's error rule), or 0 for stop, close and capacity; every other
    // pointer is valid for the call.
    unsafe {
        assert_eq!(
            rill_rpc_service_create(ptr::null_mut(), c"svc".as_ptr(), ptr::null()),
            -RILL_EINVAL
        );
        assert_eq!(
            rill_rpc_serve(
                ptr::null_mut(),
                c"svc".as_ptr(),
                1,
                Some(handler),
                ptr::null_mut(),
                &mut ptr::null_mut()
            ),
            -RILL_EINVAL
        );
        assert_eq!(
            rill_rpc_connect(ptr::null_mut(), c"svc".as_ptr(), &mut ptr::null_mut()),
            -RILL_EINVAL
        );
        assert_eq!(rill_rpc_server_stop(ptr::null_mut()), 0);
        assert_eq!(rill_rpc_close(ptr::null_mut()), 0);
        assert_eq!(rill_rpc_capacity(ptr::null()), 0);
        assert_eq!(rill_rpc_wait_server(ptr::null_mut(), 0), -RILL_EINVAL);
        assert_eq!(
            rill_rpc_send(ptr::null_mut(), ECHO, ptr::null(), 0, &mut id),
            -RILL_EINVAL
        );
        assert_eq!(rill_rpc_reserve(ptr::null_mut(), 8, &mut buf), -RILL_EINVAL);
        assert_eq!(
            rill_rpc_commit(ptr::null_mut(), ECHO, ptr::null(), 0, &mut id),
            -RILL_EINVAL
        );
        assert_eq!(
            rill_rpc_recv(ptr::null_mut(), ptr::null_mut(), 0, &mut res, 0),
            -RILL_EINVAL
        );
        assert_eq!(
            rill_rpc_poll(
                ptr::null_mut(),
                ptr::null_mut(),
                0,
                1,
                Some(on_done),
                ptr::null_mut()
            ),
            -RILL_EINVAL
        );
        assert_eq!(
            rill_rpc_call(
                ptr::null_mut(),
                ECHO,
                ptr::null(),
                0,
                ptr::null_mut(),
                0,
                &mut res,
                0
            ),
            -RILL_EINVAL
        );
    }
}

#[test]
fn serve_and_call() {
    let dir = TempDir::new("rpc");
    let cdir = CString::new(dir.0.to_str().unwrap()).unwrap();
    let region = c"rillsysrpc";
    let svc = c"svc";
    let opts = rill_region_opts {
        size: 16 << 20,
        dir: cdir.as_ptr(),
        ..Default::default()
    };
    let sopts = rill_rpc_opts {
        lanes: 2,
        depth: 256,
        mtu: MTU,
        max_msg: MAX_MSG,
        ..Default::default()
    };
    // Counts the requests the handler saw; outlives the server (stopped
    // below, before the end of this function).
    let calls = AtomicU64::new(0);
    let calls_arg = (&calls as *const AtomicU64).cast_mut().cast::<c_void>();
    let mut answered = 0u64; // requests the server has answered, by the test's count
    let mut r: *mut rill_region = ptr::null_mut();
    let srv: *mut rill_rpc_server;
    let mut c: *mut rill_rpc_client = ptr::null_mut();

    // SAFETY (this block and those below): every name is a NUL-terminated
    // literal or CString alive for the call; OPTS and SOPTS are valid
    // structs whose reserved fields are zero (Default); R, SRV and C are
    // the handles these calls returned, used by this thread alone (the
    // server's workers use their own) and not after their close/stop;
    // CALLS_ARG points at CALLS, which outlives the server; every buffer
    // passed is valid for the size passed with it.
    unsafe {
        ok(rill_region_create(region.as_ptr(), &opts, &mut r));

        // bad services
        let long = CString::new("s".repeat(RILL_RPC_NAME_MAX + 1)).unwrap();
        assert_eq!(
            rill_rpc_service_create(r, long.as_ptr(), &sopts),
            -RILL_EINVAL
        );
        let too_many = rill_rpc_opts {
            lanes: RILL_RPC_MAX_LANES + 1,
            ..sopts
        };
        assert_eq!(
            rill_rpc_service_create(r, svc.as_ptr(), &too_many),
            -RILL_EINVAL
        );
        let bad_opts = rill_rpc_opts {
            reserved: [0, 0, 0, 1, 0],
            ..sopts
        };
        assert_eq!(
            rill_rpc_service_create(r, svc.as_ptr(), &bad_opts),
            -RILL_EINVAL
        );
        ok(rill_rpc_service_create(r, svc.as_ptr(), &sopts));
        assert_eq!(
            rill_rpc_service_create(r, svc.as_ptr(), &sopts),
            -RILL_EEXIST
        );

        // bad servers, then the server: two workers for two lanes
        let serve = |name: &CStr, workers: u32, f: rill_rpc_handler| {
            let mut s: *mut rill_rpc_server = ptr::null_mut();
            let rc = rill_rpc_serve(r, name.as_ptr(), workers, f, calls_arg, &mut s);
            (rc, s)
        };
        assert_eq!(serve(c"nosuch", 1, Some(handler)).0, -RILL_ENOENT);
        assert_eq!(serve(svc, 0, Some(handler)).0, -RILL_EINVAL);
        assert_eq!(serve(svc, 1, None).0, -RILL_EINVAL);
        assert_eq!(serve(svc, 3, Some(handler)).0, -RILL_EWORKERS);
        let (rc, s) = serve(svc, 2, Some(handler));
        ok(rc);
        srv = s;
        assert_eq!(serve(svc, 1, Some(handler)).0, -RILL_EBUSY);

        // clients: one per lane, the third finds none free
        assert_eq!(
            rill_rpc_connect(r, c"nosuch".as_ptr(), &mut ptr::null_mut()),
            -RILL_ENOENT
        );
        ok(rill_rpc_connect(r, svc.as_ptr(), &mut c));
        let mut c2: *mut rill_rpc_client = ptr::null_mut();
        ok(rill_rpc_connect(r, svc.as_ptr(), &mut c2));
        assert_eq!(
            rill_rpc_connect(r, svc.as_ptr(), &mut ptr::null_mut()),
            -RILL_EFULL
        );
        ok(rill_rpc_close(c2));
        ok(rill_rpc_wait_server(c, TIMEOUT));
    }

    // SAFETY: as above.
    let cap = unsafe { rill_rpc_capacity(c) };
    // responses never fill the ring: depth / fragments of the largest
    assert_eq!(
        cap as u64,
        sopts.depth as u64 / MAX_MSG.div_ceil(MTU as u64)
    );

    let mut resp = vec![0u8; MAX_MSG as usize];
    let mut res = rill_rpc_result::default();
    let mut id = 0u64;

    // rill_rpc_call: both methods, every size, every byte; an unknown method
    let mut i = 0u64;
    let mut prev_id = None;
    for method in [ECHO, SUM, UNKNOWN] {
        for n in SIZES {
            i += 1;
            let req = request(i, n);
            res = rill_rpc_result {
                reserved0: 0xa5a5,
                reserved: [!0; 3],
                ..Default::default()
            };
            // SAFETY: as above.
            let rc = unsafe {
                rill_rpc_call(
                    c,
                    method,
                    req.as_ptr().cast(),
                    req.len(),
                    resp.as_mut_ptr().cast(),
                    resp.len(),
                    &mut res,
                    TIMEOUT,
                )
            };
            ok(rc);
            answered += 1;
            let what = format!("call {i}: method {method}, {n} bytes");
            if let Some(prev) = prev_id {
                assert_eq!(res.id, prev + 1, "{what}: ids follow one another");
            }
            prev_id = Some(res.id);
            check_response(
                &what,
                res.id,
                method,
                &req,
                &res,
                &resp[..res.size as usize],
            );
        }
    }

    // SAFETY: as above.
    unsafe {
        // bad calls
        let big = vec![0u8; MAX_MSG as usize + 1];
        assert_eq!(
            rill_rpc_send(c, ECHO, big.as_ptr().cast(), big.len(), &mut id),
            -RILL_EMSGSIZE
        );
        assert_eq!(
            rill_rpc_send(c, ECHO, ptr::null(), 10, &mut id),
            -RILL_EINVAL
        );
        for m in [RILL_RPC_METHOD_MAX + 1, u16::MAX] {
            assert_eq!(rill_rpc_send(c, m, ptr::null(), 0, &mut id), -RILL_EINVAL);
            let rc = rill_rpc_call(
                c,
                m,
                ptr::null(),
                0,
                resp.as_mut_ptr().cast(),
                resp.len(),
                &mut res,
                TIMEOUT,
            );
            assert_eq!(rc, -RILL_EINVAL);
        }
        // nothing in flight
        assert_eq!(
            rill_rpc_recv(c, resp.as_mut_ptr().cast(), resp.len(), &mut res, 0),
            -RILL_EAGAIN
        );
        // a response larger than the buffer: the call stays in flight
        // (size said), another call is refused, a recv with room takes it
        let req = request(1000, 100);
        let rc = rill_rpc_call(
            c,
            ECHO,
            req.as_ptr().cast(),
            req.len(),
            resp.as_mut_ptr().cast(),
            10,
            &mut res,
            TIMEOUT,
        );
        assert_eq!(rc, -RILL_EMSGSIZE);
        assert_eq!(res.size, 100);
        let rc = rill_rpc_call(
            c,
            ECHO,
            ptr::null(),
            0,
            resp.as_mut_ptr().cast(),
            resp.len(),
            &mut res,
            TIMEOUT,
        );
        assert_eq!(rc, -RILL_EBUSY);
        ok(rill_rpc_recv(
            c,
            resp.as_mut_ptr().cast(),
            resp.len(),
            &mut res,
            TIMEOUT,
        ));
        answered += 1;
        check_response(
            "too large",
            res.id,
            ECHO,
            &req,
            &res,
            &resp[..res.size as usize],
        );
    }

    // pipelined: the lane's capacity of calls sent, one more refused, then
    // every response received in order
    let mut sent = Vec::new(); // (id, method, request)
    for k in 0..cap as u64 {
        let method = [ECHO, SUM, UNKNOWN][(k % 3) as usize];
        let req = request(2000 + k, SIZES[(k as usize) % SIZES.len()]);
        // SAFETY: as above.
        ok(unsafe { rill_rpc_send(c, method, req.as_ptr().cast(), req.len(), &mut id) });
        if let Some(&(prev, _, _)) = sent.last() {
            assert_eq!(id, prev + 1, "ids follow one another");
        }
        sent.push((id, method, req));
    }
    // SAFETY: as above.
    unsafe {
        assert_eq!(
            rill_rpc_send(c, ECHO, ptr::null(), 0, &mut id),
            -RILL_EAGAIN
        );
        let mut b: *mut c_void = ptr::null_mut();
        assert_eq!(rill_rpc_reserve(c, 8, &mut b), -RILL_EAGAIN);
    }
    for (k, (id, method, req)) in sent.iter().enumerate() {
        // SAFETY: as above.
        ok(unsafe { rill_rpc_recv(c, resp.as_mut_ptr().cast(), resp.len(), &mut res, TIMEOUT) });
        answered += 1;
        let what = format!("pipelined {k}");
        check_response(&what, *id, *method, req, &res, &resp[..res.size as usize]);
    }

    // zero copy: requests built in the ring, sent from their start or from
    // a point 64 bytes in (built backwards from the end)
    // SAFETY: as above; BUF points at N writable bytes of the request
    // ring until the commit.
    unsafe {
        let mut buf: *mut c_void = ptr::null_mut();
        assert_eq!(
            rill_rpc_reserve(c, MTU as usize + 1, &mut buf),
            -RILL_EMSGSIZE
        );
        assert_eq!(
            rill_rpc_commit(c, SUM, ptr::null(), 0, &mut id),
            -RILL_EINVAL,
            "nothing reserved"
        );
        for (k, (n, skip)) in [(MTU as usize, 0), (200, 0), (MTU as usize, 64), (256, 128)]
            .into_iter()
            .enumerate()
        {
            ok(rill_rpc_reserve(c, n, &mut buf));
            assert!(!buf.is_null());
            let req = request(3000 + k as u64, n);
            ptr::copy_nonoverlapping(req.as_ptr(), buf.cast::<u8>(), n);
            let at = buf.cast::<u8>().add(skip).cast::<c_void>();
            assert_eq!(
                rill_rpc_commit(c, RILL_RPC_METHOD_MAX + 1, at, n - skip, &mut id),
                -RILL_EINVAL
            );
            for method in [SUM, ECHO] {
                if method == ECHO {
                    // the commit sent the reservation: build it again
                    ok(rill_rpc_reserve(c, n, &mut buf));
                    ptr::copy_nonoverlapping(req.as_ptr(), buf.cast::<u8>(), n);
                }
                let at = buf.cast::<u8>().add(skip).cast::<c_void>();
                ok(rill_rpc_commit(c, method, at, n - skip, &mut id));
                ok(rill_rpc_recv(
                    c,
                    resp.as_mut_ptr().cast(),
                    resp.len(),
                    &mut res,
                    TIMEOUT,
                ));
                answered += 1;
                let what = format!("reserved {k}: {n} bytes from {skip}, method {method}");
                check_response(
                    &what,
                    id,
                    method,
                    &req[skip..],
                    &res,
                    &resp[..res.size as usize],
                );
            }
        }
    }

    // completion by callback: a batch sent, then polled (without waiting)
    // until every response has come, each handed to on_done
    let mut sent = Vec::new();
    for k in 0..12u64 {
        let method = [ECHO, SUM, UNKNOWN][(k % 3) as usize];
        let req = request(4000 + k, SIZES[(k as usize * 7) % SIZES.len()]);
        // SAFETY: as above.
        ok(unsafe { rill_rpc_send(c, method, req.as_ptr().cast(), req.len(), &mut id) });
        sent.push((id, method, req));
    }
    let mut done: Done = Vec::new();
    // SAFETY: as above.
    unsafe {
        assert_eq!(
            rill_rpc_poll(
                c,
                resp.as_mut_ptr().cast(),
                resp.len(),
                4,
                None,
                ptr::null_mut()
            ),
            -RILL_EINVAL
        );
    }
    let deadline = Instant::now() + Duration::from_nanos(TIMEOUT);
    while done.len() < sent.len() {
        assert!(
            Instant::now() < deadline,
            "rill_rpc_poll: {} of {} responses",
            done.len(),
            sent.len()
        );
        let before = done.len();
        // SAFETY: as above; DONE is the Done on_done expects, alive for the
        // call.
        let n = unsafe {
            rill_rpc_poll(
                c,
                resp.as_mut_ptr().cast(),
                resp.len(),
                5,
                Some(on_done),
                (&mut done as *mut Done).cast(),
            )
        };
        assert!(n >= 0, "rill_rpc_poll: {n} ({})", strerror(n.into()));
        assert!(n <= 5, "rill_rpc_poll: {n} responses, max 5");
        assert_eq!(done.len() - before, n as usize, "callbacks as counted");
        if n == 0 {
            std::thread::sleep(Duration::from_micros(100));
        }
    }
    for (k, ((id, method, req), (res, got))) in sent.iter().zip(&done).enumerate() {
        answered += 1;
        check_response(&format!("polled {k}"), *id, *method, req, res, got);
    }

    assert_eq!(calls.load(Ordering::Relaxed), answered, "requests handled");

    // SAFETY: as above.
    unsafe {
        // the server stops: a call after is told so, not left waiting
        ok(rill_rpc_server_stop(srv));
        let rc = rill_rpc_call(
            c,
            ECHO,
            ptr::null(),
            0,
            resp.as_mut_ptr().cast(),
            resp.len(),
            &mut res,
            TIMEOUT,
        );
        assert_eq!(rc, -RILL_ESRVLEFT, "{}", strerror(rc.into()));
        ok(rill_rpc_close(c));
        ok(rill_region_close(r));
        ok(rill_region_unlink(region.as_ptr(), cdir.as_ptr()));
        assert_eq!(
            rill_region_unlink(region.as_ptr(), cdir.as_ptr()),
            -RILL_ENOENT
        );
    }
    assert_eq!(calls.load(Ordering::Relaxed), answered);
}
