// SPDX-License-Identifier: Apache-2.0 OR MIT
//! Request/response over rill channels (`rill_rpc.h`; the repository's
//! `docs/rpc.md` is the design).
//!
//! A **service** `S` of a region is a number of **lanes**; lane `K` is two
//! reliable channels, `S.q.K` (requests, client to server) and `S.r.K`
//! (responses), each with one writer. A [`Server`] answers on worker
//! threads that share the lanes; a [`Client`] takes a lane of its own and
//! calls: one call at a time ([`Client::call`]), up to
//! [`capacity`](Client::capacity) calls in flight ([`Client::send`],
//! [`Client::recv`], [`Client::poll`]), or with the request built in the
//! ring ([`Client::reserve`]). The service's bytes are those of
//! `docs/PROTOCOL.md`, so either side may be C, C++, Go, Python or Rust.
//!
//! ```
//! use rill::rpc::{self, Client, Server, ServiceOptions};
//! use rill::{Error, Region, RegionOptions};
//! use std::time::Duration;
//! # let dir = std::env::temp_dir().join(format!("rill-rpc-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//!
//! let region = Region::create("calc", &RegionOptions::new().dir(&dir).size(4 << 20))?;
//! rpc::create_service(&region, "calc", &ServiceOptions::new().lanes(2).depth(64).mtu(256))?;
//!
//! // The server: one handler for every method, run by 2 worker threads.
//! let server = Server::serve(&region, "calc", 2, |method, req, resp| match method {
//!     1 => {
//!         // echo (a request is never larger than the response buffer:
//!         // both directions have the service's max_msg)
//!         resp[..req.len()].copy_from_slice(req);
//!         Ok(req.len())
//!     }
//!     2 => Err(Error::Status(42)), // the application's own status
//!     _ => Err(Error::NoMethod),
//! })?;
//!
//! // A client: here in the same process; another would open the region.
//! let mut client = Client::connect(&region, "calc")?;
//! client.wait_server(Duration::from_secs(5))?;
//! let mut buf = [0u8; 1024];
//! let reply = client.call(1, b"ping", &mut buf, Duration::from_secs(5))?;
//! assert_eq!(&buf[..reply.size], b"ping");
//! let e = client.call(2, b"", &mut buf, Duration::from_secs(5)).unwrap_err();
//! assert_eq!(e, Error::Status(42));
//! let e = client.call(9, b"", &mut buf, Duration::from_secs(5)).unwrap_err();
//! assert_eq!(e, Error::NoMethod);
//!
//! drop(client);
//! server.stop()?;
//! # drop(region);
//! Region::unlink("calc", Some(&dir))?;
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok::<(), rill::Error>(())
//! ```
//!
//! # Statuses
//!
//! A call that fails on the server comes back with a **status**, a 32-bit
//! code: negative for rill's codes (`-RILL_ENOMETHOD`, ...), positive for
//! the handler's own, as every binding reads and writes it. In Rust both are
//! an [`Error`]: rill's codes are their variants, a handler's own code is
//! [`Error::Status`]. So a status crosses languages unchanged: a C or Go
//! handler's 42 fails a Rust call with `Error::Status(42)`, and a Rust
//! handler's `Err(Error::Status(42))` is a C caller's `res.status == 42`.
//!
//! | the handler | the status sent | the caller's call |
//! |---|---|---|
//! | `Ok(n)`, `n <= response.len()` | none: `n` bytes | `Ok(reply)`, `reply.size == n` |
//! | `Err(Error::NoMethod)` | `-RILL_ENOMETHOD` | `Err(Error::NoMethod)` |
//! | `Err(Error::Status(c))`, `c > 0` | `c` | `Err(Error::Status(c))` |
//! | `Err(e)`, another rill error | `-e.code()` | `Err(e)` (without the errno of `Io`, the size of `MessageSize`, ...) |
//! | `Ok(n)`, `n > response.len()` | `-RILL_EMSGSIZE` | `Err(Error::MessageSize { size: 0 })` |
//! | panics | `-RILL_EIO` | `Err(Error::Io { errno: 0 })` |
//!
//! [`error_to_status`] and [`status_to_error`] are these rules.
//! [`Client::call`] returns a failed call as its `Err`, beside its own
//! errors: [`Error::NoMethod`] and [`Error::Status`] are only ever
//! statuses, [`Error::MessageSize`] with a size never is, but a handler may
//! answer with any rill code (a `?` on its own calls: a handler that is
//! itself a client answers [`Error::ServerDead`] when its server died), so
//! where that matters, send and receive to tell them apart. The
//! pipelined calls ([`Client::recv`], [`Client::poll`]) return every
//! response that came as a [`Reply`], whose [`status`](Reply::status) says
//! whether the call failed ([`Reply::result`] turns it into the `Err`),
//! and keep `Err` for what went wrong on the client's side: then the error
//! is never a status.
//!
//! # Threads
//!
//! A [`Server`] is `Send + Sync`; its handler runs on several worker
//! threads at once, so it is `Fn + Send + Sync + 'static`. A [`Client`]
//! is `Send` and not `Sync`: one thread at a time (`rill_rpc.h`), and
//! every call takes `&mut self`; a thread that calls takes a client (a
//! lane) of its own. A request being built borrows its client:
//!
//! ```compile_fail
//! fn shared<T: Sync>(_: &T) {}
//! fn f(c: &rill::rpc::Client) { shared(c) }
//! ```
//! ```compile_fail
//! fn f(c: &mut rill::rpc::Client) -> rill::Result<()> {
//!     let mut req = c.reserve(8)?;
//!     c.send(1, b"x")?;          // error: c is borrowed by req
//!     req[0] = 1;
//!     req.commit(8, 1).map(drop)
//! }
//! ```
use crate::error::{Error, Result, check};
use crate::nanos;
use crate::region::{Region, name_cstring};
use core::cell::Cell;
use core::ffi::{c_int, c_void};
use core::ptr::{self, NonNull};
use core::slice;
use core::sync::atomic::{AtomicU64, Ordering};
use rill_sys as sys;
use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::time::Duration;

/// The most lanes a service has (a region holds 62 objects, 2 per lane).
pub const MAX_LANES: u32 = sys::RILL_RPC_MAX_LANES;
/// The longest service name, in bytes (so that `S.q.30` is a channel name).
pub const NAME_MAX: usize = sys::RILL_RPC_NAME_MAX;
/// The largest method number (13 application bits of a descriptor's ctl).
pub const METHOD_MAX: u16 = sys::RILL_RPC_METHOD_MAX;

/// Options of a service ([`create_service`]): lanes, and the depth, mtu
/// and largest message of each of their channels. The defaults are
/// `rill_rpc.h`'s: 4 lanes, depth 1024, mtu 1024, messages up to 4 × mtu.
///
/// A service whose largest message fits the mtu (`max_msg <= mtu`) answers
/// in place: the handler writes its response straight into the response
/// ring.
///
/// ```
/// let o = rill::rpc::ServiceOptions::new().lanes(2).depth(256).mtu(512).max_msg(512);
/// # let _ = o;
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServiceOptions {
    lanes: u32,
    depth: u32,
    mtu: u32,
    max_msg: u64,
}

impl ServiceOptions {
    /// The defaults.
    pub fn new() -> ServiceOptions {
        ServiceOptions::default()
    }
    /// Lanes, so clients at once; 0 = 4, at most [`MAX_LANES`].
    pub fn lanes(mut self, n: u32) -> ServiceOptions {
        self.lanes = n;
        self
    }
    /// Descriptors in each channel's ring, a power of 2; 0 = 1024. A
    /// client's capacity (calls in flight) is the depth divided by the
    /// fragments of the largest response.
    pub fn depth(mut self, n: u32) -> ServiceOptions {
        self.depth = n;
        self
    }
    /// Largest fragment payload in bytes; 0 = 1024. A request built in
    /// place ([`Client::reserve`]) is at most this.
    pub fn mtu(mut self, bytes: u32) -> ServiceOptions {
        self.mtu = bytes;
        self
    }
    /// Largest request or response, sent in fragments of at most the mtu;
    /// 0 = 4 × mtu.
    pub fn max_msg(mut self, bytes: u64) -> ServiceOptions {
        self.max_msg = bytes;
        self
    }
    fn raw(&self) -> sys::rill_rpc_opts {
        sys::rill_rpc_opts {
            lanes: self.lanes,
            depth: self.depth,
            mtu: self.mtu,
            flags: 0,
            max_msg: self.max_msg,
            reserved: [0; 5],
        }
    }
}

/// Creates service `name` (1 to [`NAME_MAX`] bytes of `[A-Za-z0-9_.-]`)
/// in `region`: its lanes' channels, lane 0's response channel last, so
/// that a service found by [`wait_service`] is whole. [`Error::Exists`] if
/// any of its channels exists (nothing is made then), [`Error::NoSpace`]
/// if the region has no room, [`Error::Invalid`] for a bad name or option.
pub fn create_service(region: &Region, name: &str, opts: &ServiceOptions) -> Result<()> {
    let cname = name_cstring(name)?;
    let o = opts.raw();
    // SAFETY: live region handle, NUL-terminated name and the options
    // across the call.
    check(unsafe { sys::rill_rpc_service_create(region.as_raw(), cname.as_ptr(), &o) })?;
    Ok(())
}

/// Waits up to `timeout` (`Duration::MAX`: no limit) for service `name`
/// to be created whole in `region`, by this process or another: for a
/// server or client started before the process that creates the service.
/// [`Error::TimedOut`]; with a zero timeout, [`Error::NotFound`].
pub fn wait_service(region: &Region, name: &str, timeout: Duration) -> Result<()> {
    if name.len() > NAME_MAX || !crate::name_valid(name) {
        return Err(Error::Invalid);
    }
    // NAME.r.0 is made last (rill_rpc_service_create).
    region.wait_channel(&format!("{name}.r.0"), timeout)?;
    Ok(())
}

/// The status that answers a call with error `e`: `c` for
/// [`Error::Status(c)`](Error::Status) with `c > 0`, the negated code for
/// every other error, and -`RILL_EIO` for anything that would read as
/// success (0) or as another error than it is (a `Status` of 0 or below,
/// an `Other(0)`). What a [`Server`]'s handler's `Err` is sent as.
///
/// ```
/// use rill::{Error, rpc::error_to_status};
/// assert_eq!(error_to_status(&Error::Status(-5)), -rill::sys::RILL_EIO);
/// assert_eq!(error_to_status(&Error::from_code(0)), -rill::sys::RILL_EIO);
/// ```
///
/// ```
/// use rill::{Error, rpc::error_to_status};
/// assert_eq!(error_to_status(&Error::Status(42)), 42);
/// assert_eq!(error_to_status(&Error::NoMethod), -rill::sys::RILL_ENOMETHOD);
/// ```
pub fn error_to_status(e: &Error) -> i32 {
    match *e {
        Error::Status(c) if c > 0 => c,
        Error::Status(_) => -sys::RILL_EIO,
        // rill's codes are positive; saturating_abs keeps an odd Other(c)
        // negative on the wire, where it reads as rill's, not a handler's
        ref e => match e.code().saturating_abs() {
            0 => -sys::RILL_EIO,
            c => -c,
        },
    }
}

/// The error of a call's status: `None` for 0 (success); a positive
/// status is the handler's own, [`Error::Status`]; a negative one is
/// rill's code, its variant ([`Error::Other`] for one this crate does not
/// know). `-RILL_EIO` is [`Error::Io`] with `errno` 0: the server's errno
/// does not travel.
///
/// ```
/// use rill::{Error, rpc::status_to_error};
/// assert_eq!(status_to_error(0), None);
/// assert_eq!(status_to_error(42), Some(Error::Status(42)));
/// assert_eq!(status_to_error(-rill::sys::RILL_ENOMETHOD), Some(Error::NoMethod));
/// ```
pub fn status_to_error(status: i32) -> Option<Error> {
    match status {
        0 => None,
        s if s > 0 => Some(Error::Status(s)),
        // not Error::from_code: it would read this thread's rill_os_error()
        s if s == -sys::RILL_EIO => Some(Error::Io { errno: 0 }),
        s => Some(Error::from_code(s.into())),
    }
}

/// A response that came: the call's id and method, the response's size,
/// and the call's status.
///
/// From [`Client::call`] (whose failed calls are `Err`) its status is 0;
/// from [`Client::recv`] and [`Client::poll`] it may be a failed call's:
/// then [`error`](Reply::error) says why, and the size is 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Reply {
    /// The call's id, as [`Client::send`] or [`RequestBuf::commit`]
    /// returned it.
    pub id: u64,
    /// The call's method.
    pub method: u16,
    /// The response's bytes (0 for a failed call).
    pub size: usize,
    /// 0, or the status of a failed call: negative for rill's codes,
    /// positive for the handler's own ([`status_to_error`]).
    pub status: i32,
}

impl Reply {
    fn from_raw(r: &sys::rill_rpc_result) -> Reply {
        Reply {
            id: r.id,
            method: r.method,
            size: r.size as usize,
            status: r.status,
        }
    }

    /// The error the call failed with, `None` if it did not.
    pub fn error(&self) -> Option<Error> {
        status_to_error(self.status)
    }

    /// The response's size, or the error the call failed with: as
    /// [`Client::call`] would have returned it.
    pub fn result(&self) -> Result<usize> {
        match self.error() {
            None => Ok(self.size),
            Some(e) => Err(e),
        }
    }
}

// ---- server ---------------------------------------------------------------------

/// What the C server's workers share: the handler and a count of its
/// panics. Leaked by serve, freed by [`Running::stop_and_free`] after
/// rill_rpc_server_stop.
struct Shared<F> {
    panics: AtomicU64,
    f: F,
}

thread_local! {
    /// The server whose handler this thread is in (its Shared's address),
    /// null outside handlers: a server stopped from its own handler must
    /// not join its own worker.
    static SERVING: Cell<*const c_void> = const { Cell::new(ptr::null()) };
}

/// `cap` bytes at `p`, the response space a worker hands its handler, as
/// `&mut [u8]`: in the response ring (a file mapping, initialised) or the
/// worker's buffer, which librill zeroes when the worker starts
/// (rill_rpc.h: the bytes at RESP are always initialised), so safe code
/// may read them before it writes.
///
/// # Safety
/// `p` is non-null and valid for reads and writes of `cap` bytes for `'a`,
/// and nothing else accesses them meanwhile.
unsafe fn response_buf<'a>(p: *mut u8, cap: usize) -> &'a mut [u8] {
    // SAFETY: valid and unaliased for 'a (the caller's contract), every
    // byte initialised (rill_rpc.h's promise, above).
    unsafe { slice::from_raw_parts_mut(p, cap) }
}

/// Drops a panic's payload, whose own drop may panic: that payload is
/// forgotten rather than let unwind into C.
fn drop_payload(p: Box<dyn Any + Send>) {
    if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(p))) {
        core::mem::forget(again);
    }
}

/// The handler of rill_rpc_serve for a `Shared<F>` at `arg`: calls F
/// and never unwinds (a panic answers `-RILL_EIO`).
unsafe extern "C" fn handle<F>(
    arg: *mut c_void,
    method: u16,
    req: *const c_void,
    n: usize,
    resp: *mut c_void,
    cap: usize,
    resp_n: *mut usize,
) -> c_int
where
    F: Fn(u16, &[u8], &mut [u8]) -> Result<usize> + Send + Sync + 'static,
{
    // SAFETY: arg is the Shared<F> that Server::serve leaked for this
    // server; it is freed only after rill_rpc_server_stop returned, which
    // joins every worker, so it outlives this call. Only shared
    // references are made to it, and F is Sync.
    let shared = unsafe { &*arg.cast::<Shared<F>>() };
    let req: &[u8] = if n == 0 || req.is_null() {
        &[]
    } else {
        // SAFETY: the worker hands N bytes of request, in the request ring
        // (a reliable consumer's, not overwritten until it moves on) or in
        // its own buffer, valid until the handler returns (rill_rpc.h).
        unsafe { slice::from_raw_parts(req.cast::<u8>(), n) }
    };
    let resp: &mut [u8] = if cap == 0 || resp.is_null() {
        &mut []
    } else {
        // SAFETY: CAP bytes at RESP are the handler's to write until it
        // returns: reserved space of the response ring, or the worker's
        // own buffer; the request lies elsewhere.
        unsafe { response_buf(resp.cast::<u8>(), cap) }
    };
    let outer = SERVING.try_with(|s| s.replace(arg)).ok();
    let r = catch_unwind(AssertUnwindSafe(|| (shared.f)(method, req, resp)));
    if let Some(outer) = outer {
        let _ = SERVING.try_with(|s| s.set(outer));
    }
    match r {
        Ok(Ok(len)) if len <= cap => {
            // SAFETY: resp_n is the worker's valid out pointer.
            unsafe { *resp_n = len };
            0
        }
        Ok(Ok(_)) => -sys::RILL_EMSGSIZE,
        Ok(Err(e)) => error_to_status(&e),
        Err(payload) => {
            shared.panics.fetch_add(1, Ordering::Relaxed);
            drop_payload(payload);
            -sys::RILL_EIO
        }
    }
}

/// A server's C handle and its handler's box, to stop and free together.
struct Running {
    raw: NonNull<sys::rill_rpc_server>,
    shared: NonNull<c_void>,
    /// Drops the `Box<Shared<F>>` at `shared`.
    free: unsafe fn(*mut c_void),
}

// SAFETY: stopping a server (joining its workers) may be done from any
// thread but its workers (stop_and_free sees to that), and the handler it
// frees is Send.
unsafe impl Send for Running {}

unsafe fn free_shared<F>(p: *mut c_void) {
    // SAFETY: p came from Box::into_raw(Box<Shared<F>>) in serve, and is
    // freed once, after the workers that used it were joined.
    drop(unsafe { Box::from_raw(p.cast::<Shared<F>>()) });
}

impl Running {
    /// Stops the workers, then frees the handler: never the other way.
    fn stop_and_free(self) -> Result<()> {
        // SAFETY: the handle is live and stopped once; this thread is not
        // one of its workers (stop_or_hand_off), so the join ends.
        let rc = unsafe { sys::rill_rpc_server_stop(self.raw.as_ptr()) };
        // SAFETY: every worker is joined: nothing uses the handler now.
        unsafe { (self.free)(self.shared.as_ptr()) };
        check(rc).map(|_| ())
    }

    /// [`stop_and_free`](Running::stop_and_free), or, from inside one of
    /// this server's handlers (a worker, which the stop would join:
    /// itself), the same on a new thread, so that the worker can return.
    fn stop_or_hand_off(self) -> Result<()> {
        let me = self.shared.as_ptr().cast_const();
        if !SERVING.try_with(|s| s.get() == me).unwrap_or(false) {
            return self.stop_and_free();
        }
        let spawned = std::thread::Builder::new()
            .name("rill-rpc-stop".into())
            .spawn(move || {
                let _ = self.stop_and_free();
            });
        // Without a thread the server runs on and its handler is leaked:
        // freeing what a worker is using is not an option.
        spawned.map(drop).map_err(|_| Error::NoMemory)
    }
}

/// A running server of a service: worker threads that answer the calls of
/// every lane with one handler.
///
/// The handler is called as `handler(method, request, response)` on a
/// worker thread (several at once with several workers). It writes its
/// response into `response` (the service's `max_msg` bytes, zeroed or
/// holding an earlier response) and returns its length, or fails the call
/// with an [`Error`] sent back as its status: [`Error::NoMethod`] for a
/// method it does not serve (the library does not know the methods),
/// [`Error::Status`] for the application's own positive codes, any other
/// rill error as its code (see [the module's table](self#statuses)). A
/// handler that panics answers `-RILL_EIO` ([`Error::Io`] to a Rust
/// caller) and the server goes on serving; [`panics`](Server::panics)
/// counts them. The request's bytes may lie in shared memory where the
/// client wrote them: check what you parse.
///
/// Dropping the server stops it, as [`stop`](Server::stop) does: its
/// workers finish the call they are in (each within 50 ms of the stop),
/// then leave the channels; the handler is dropped after that. Clients
/// with calls in flight get [`Error::ServerLeft`]; a server whose process
/// dies leaves them [`Error::ServerDead`].
///
/// `Server` is `Send` and `Sync`: it may be stopped from any thread, and
/// through `&Server` nothing is reached but the atomic panic count and
/// the handle's address.
pub struct Server {
    running: Option<Running>,
    /// The panic count in the handler's box (alive while `running` is).
    panics: NonNull<AtomicU64>,
}

// SAFETY: Running is Send (above); panics points at an atomic in the
// handler's box, which is Send + Sync.
unsafe impl Send for Server {}
// SAFETY: the methods taking &self read the atomic panic count or the raw
// handle's address; stopping takes self (or &mut self in Drop), so two
// threads never stop it at once.
unsafe impl Sync for Server {}

impl core::fmt::Debug for Server {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Server")
            .field("raw", &self.as_raw())
            .field("panics", &self.panics())
            .finish()
    }
}

impl Server {
    /// Serves service `name` of `region` with `workers` threads (1 to the
    /// service's lanes) calling `handler` (see [`Server`]).
    /// [`Error::NotFound`] if there is no such service (or it is being
    /// created: see [`wait_service`]), [`Error::TooManyWorkers`] for more
    /// workers than lanes, [`Error::Invalid`] for 0 or a bad name,
    /// [`Error::Busy`] if another server serves the service.
    ///
    /// The server does not borrow the region: its workers keep their own
    /// mapping.
    pub fn serve<F>(region: &Region, name: &str, workers: u32, handler: F) -> Result<Server>
    where
        F: Fn(u16, &[u8], &mut [u8]) -> Result<usize> + Send + Sync + 'static,
    {
        let cname = name_cstring(name)?;
        let shared = Box::into_raw(Box::new(Shared {
            panics: AtomicU64::new(0),
            f: handler,
        }));
        let mut out = ptr::null_mut();
        // SAFETY: live region handle, NUL-terminated name, out a valid
        // place; handle::<F> is the handler for arg = shared, a live
        // Shared<F> that is freed only after the server is stopped.
        let rc = unsafe {
            sys::rill_rpc_serve(
                region.as_raw(),
                cname.as_ptr(),
                workers,
                Some(handle::<F>),
                shared.cast(),
                &mut out,
            )
        };
        let raw = match check(rc) {
            Ok(_) => NonNull::new(out).expect("rill_rpc_serve returned 0 and no handle"),
            Err(e) => {
                // SAFETY: a failed rill_rpc_serve has joined any worker it
                // started: the box is no longer used, and freed once.
                unsafe { free_shared::<F>(shared.cast()) };
                return Err(e);
            }
        };
        Ok(Server {
            running: Some(Running {
                raw,
                // SAFETY: from Box::into_raw, never null.
                shared: unsafe { NonNull::new_unchecked(shared.cast()) },
                free: free_shared::<F>,
            }),
            // SAFETY: a field of the live box, never null.
            panics: unsafe { NonNull::new_unchecked(ptr::addr_of_mut!((*shared).panics)) },
        })
    }

    /// How many calls the handler panicked in (each answered `-RILL_EIO`).
    pub fn panics(&self) -> u64 {
        // SAFETY: the box lives while self does (it is freed by stop or
        // drop, which take self); an atomic may be read from any thread.
        unsafe { self.panics.as_ref() }.load(Ordering::Relaxed)
    }

    /// The raw handle, for calls of `rill-sys` this crate does not wrap.
    /// It stays owned by `self`.
    pub fn as_raw(&self) -> *mut sys::rill_rpc_server {
        self.running
            .as_ref()
            .map_or(ptr::null_mut(), |r| r.raw.as_ptr())
    }

    /// Stops the server (as dropping it does) and reports an error: the
    /// workers finish the calls they are in and leave, then the handler is
    /// dropped. Called from the server's own handler, it cannot wait for
    /// the worker it runs on: it hands the stop to a new thread and
    /// returns at once ([`Error::NoMemory`] if no thread could be made:
    /// the server then runs on, and its handler is never dropped).
    pub fn stop(mut self) -> Result<()> {
        match self.running.take() {
            Some(r) => r.stop_or_hand_off(),
            None => Ok(()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(r) = self.running.take() {
            let _ = r.stop_or_hand_off();
        }
    }
}

// ---- client ---------------------------------------------------------------------

/// A client of a service: it holds one lane, and calls.
///
/// One thread at a time (`rill_rpc.h`): `Send`, not `Sync`, every call
/// takes `&mut self`. A thread that calls at the same time as another
/// connects a client of its own; a service has as many lanes as clients
/// at once ([`Error::Full`] beyond). Dropping the client frees its lane;
/// responses to its calls still in flight are dropped.
///
/// After [`Error::ServerDead`] or [`Error::ServerLeft`] the client may keep
/// its lane while a new server starts: that server goes on from where its
/// predecessor left the lane, so requests its predecessor answered are not
/// run again, and those it had not answered, or that were sent while no
/// server ran, are answered (after a crash, at most the batch that was in
/// progress is run again).
///
/// The client does not borrow the region: it keeps its own mapping.
#[derive(Debug)]
pub struct Client {
    raw: NonNull<sys::rill_rpc_client>,
}

// SAFETY: a client is used by one thread at a time (rill_rpc.h) and holds
// nothing bound to the thread that connected (its lane's lock is on a
// file), so it may move between threads. Not Sync.
unsafe impl Send for Client {}

/// The reply of a receive: `EMSGSIZE` with the size needed.
fn received(rc: c_int, res: &sys::rill_rpc_result) -> Result<Reply> {
    if rc == -sys::RILL_EMSGSIZE {
        return Err(Error::MessageSize { size: res.size });
    }
    check(rc)?;
    Ok(Reply::from_raw(res))
}

impl Client {
    /// Connects to service `name` of `region`: takes its first free lane
    /// ([`Error::Full`] if every lane is taken, [`Error::NotFound`] if
    /// there is no such service). The server need not be running yet:
    /// [`wait_server`](Client::wait_server) waits for it.
    pub fn connect(region: &Region, name: &str) -> Result<Client> {
        let cname = name_cstring(name)?;
        let mut out = ptr::null_mut();
        // SAFETY: live region handle, NUL-terminated name, out a valid place.
        check(unsafe { sys::rill_rpc_connect(region.as_raw(), cname.as_ptr(), &mut out) })?;
        Ok(Client {
            raw: NonNull::new(out).expect("rill_rpc_connect returned 0 and no handle"),
        })
    }

    /// The raw handle, for calls of `rill-sys` this crate does not wrap.
    /// It stays owned by `self`.
    pub fn as_raw(&mut self) -> *mut sys::rill_rpc_client {
        self.raw.as_ptr()
    }

    /// Waits up to `timeout` (`Duration::MAX`: no limit; zero: looks once)
    /// until a live server worker serves this client's lane, so that a
    /// call sent now is answered: for a process that starts its server
    /// itself rather than reading a "ready" line from it.
    /// [`Error::TimedOut`].
    pub fn wait_server(&mut self, timeout: Duration) -> Result<()> {
        // SAFETY: live handle, this thread only.
        check(unsafe { sys::rill_rpc_wait_server(self.raw.as_ptr(), nanos(timeout)) })?;
        Ok(())
    }

    /// How many calls the client may have in flight at once (the lane's
    /// room for responses); one more is [`Error::Again`].
    pub fn capacity(&self) -> u32 {
        // SAFETY: reads a constant field of the live handle.
        unsafe { sys::rill_rpc_capacity(self.raw.as_ptr()) }
    }

    /// One call of `method` (0 to [`METHOD_MAX`]) with request `req`,
    /// waiting up to `timeout` for its response, which is copied into
    /// `resp`: `Ok` with its size. No other call may be in flight
    /// ([`Error::Busy`]).
    ///
    /// A call that failed on the server is `Err` with its status
    /// ([`Error::NoMethod`], [`Error::Status`], ...: see
    /// [the module's table](self#statuses)). The client's own errors:
    /// [`Error::TimedOut`] (the call is forgotten: its response is dropped
    /// if it comes), [`Error::ServerDead`] / [`Error::ServerLeft`] (connect
    /// again), [`Error::MessageSize`] with the response's size when `resp`
    /// is too small (the call is still in flight: [`recv`](Client::recv) it
    /// with that much room; a failed call's status takes 4 bytes, so give
    /// `resp` at least 4), or for a request over the service's `max_msg`
    /// (size 0), [`Error::Invalid`] for a method over [`METHOD_MAX`],
    /// [`Error::Again`] when the server took no request for 2 s.
    pub fn call(
        &mut self,
        method: u16,
        req: &[u8],
        resp: &mut [u8],
        timeout: Duration,
    ) -> Result<Reply> {
        let mut res = sys::rill_rpc_result::default();
        // SAFETY: live handle, this thread only; req readable and resp
        // writable for their lengths; res a valid place.
        let rc = unsafe {
            sys::rill_rpc_call(
                self.raw.as_ptr(),
                method,
                req.as_ptr().cast(),
                req.len(),
                resp.as_mut_ptr().cast(),
                resp.len(),
                &mut res,
                nanos(timeout),
            )
        };
        let reply = received(rc, &res)?;
        reply.result().map(|_| reply)
    }

    /// [`call`](Client::call) whose response goes into a `Vec` of its
    /// size (received again with room when it is larger than 1 KiB).
    pub fn call_vec(&mut self, method: u16, req: &[u8], timeout: Duration) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; 1024];
        let reply = match self.call(method, req, &mut buf, timeout) {
            // the response is too large for buf: still in flight, and
            // here already; a failed call's status (4 bytes) never is
            Err(Error::MessageSize { size }) if size as usize > buf.len() => {
                buf.resize(size as usize, 0);
                let reply = self.recv(&mut buf, timeout)?;
                reply.result()?;
                reply
            }
            other => other?,
        };
        buf.truncate(reply.size);
        Ok(buf)
    }

    /// Sends a call of `method` with request `req` without waiting for its
    /// response, and returns its id: receive its response with
    /// [`recv`](Client::recv) or [`poll`](Client::poll). Responses come in
    /// the order of the calls. [`Error::Again`] when
    /// [`capacity`](Client::capacity) calls are in flight (receive some),
    /// or when the server took no request for 2 s; [`Error::MessageSize`]
    /// over the service's `max_msg`; [`Error::Invalid`] for a method over
    /// [`METHOD_MAX`].
    pub fn send(&mut self, method: u16, req: &[u8]) -> Result<u64> {
        let mut id = 0;
        // SAFETY: live handle, this thread only; req readable for its
        // length; id a valid place.
        check(unsafe {
            sys::rill_rpc_send(
                self.raw.as_ptr(),
                method,
                req.as_ptr().cast(),
                req.len(),
                &mut id,
            )
        })?;
        Ok(id)
    }

    /// Reserves `n` bytes (at most the service's mtu) of the request ring,
    /// to build a request in place and [`commit`](RequestBuf::commit) it:
    /// zero copy. [`Error::Again`] when [`capacity`](Client::capacity)
    /// calls are in flight or the ring has had no room for 2 s,
    /// [`Error::MessageSize`] over the mtu. Dropping the buffer sends
    /// nothing.
    ///
    /// ```
    /// # use rill::rpc::{self, Client, Server, ServiceOptions};
    /// # use std::time::Duration;
    /// # let dir = std::env::temp_dir().join(format!("rill-rpc-reserve-doc-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # let region = rill::Region::create("r", &rill::RegionOptions::new().dir(&dir).size(1 << 20))?;
    /// # rpc::create_service(&region, "s", &ServiceOptions::new().lanes(1).depth(16).mtu(256))?;
    /// # let server = Server::serve(&region, "s", 1, |_, req, resp| {
    /// #     resp[..req.len()].copy_from_slice(req);
    /// #     Ok(req.len())
    /// # })?;
    /// # let mut client = Client::connect(&region, "s")?;
    /// # client.wait_server(Duration::from_secs(5))?;
    /// let mut req = client.reserve(128)?;
    /// req[..5].copy_from_slice(b"hello");
    /// let id = req.commit(5, 1)?;
    /// let mut buf = [0u8; 1024];
    /// let reply = client.recv(&mut buf, Duration::from_secs(5))?;
    /// assert_eq!((reply.id, &buf[..reply.result()?]), (id, &b"hello"[..]));
    /// # drop(client); drop(server);
    /// # rill::Region::unlink("r", Some(&dir))?; std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), rill::Error>(())
    /// ```
    pub fn reserve(&mut self, n: usize) -> Result<RequestBuf<'_>> {
        let mut buf = ptr::null_mut();
        // SAFETY: live handle, this thread only; buf a valid out pointer.
        check(unsafe { sys::rill_rpc_reserve(self.raw.as_ptr(), n, &mut buf) })?;
        Ok(RequestBuf {
            buf: NonNull::new(buf.cast()).expect("rill_rpc_reserve returned 0 and no buffer"),
            n,
            c: self,
        })
    }

    /// Receives the next response of a call in flight into `resp`, waiting
    /// up to `timeout`. `Ok` for every response that came, a failed call's
    /// included: its [`Reply::status`] (or [`Reply::result`]) says. `Err`
    /// for the client's own errors, never a call's status:
    /// [`Error::Again`] (no call in flight; with a zero timeout, also none
    /// come yet: a look is no wait, and sees no server's end),
    /// [`Error::TimedOut`],
    /// [`Error::MessageSize`] with the response's size when `resp` is too
    /// small (nothing is received: call again with that much room),
    /// [`Error::ServerDead`] / [`Error::ServerLeft`]: the server died or
    /// stopped, and no call in flight is answered until a server serves
    /// the lane again (which answers them: the client may keep its lane).
    pub fn recv(&mut self, resp: &mut [u8], timeout: Duration) -> Result<Reply> {
        let mut res = sys::rill_rpc_result::default();
        // SAFETY: live handle, this thread only; resp writable for its
        // length; res a valid place.
        let rc = unsafe {
            sys::rill_rpc_recv(
                self.raw.as_ptr(),
                resp.as_mut_ptr().cast(),
                resp.len(),
                &mut res,
                nanos(timeout),
            )
        };
        received(rc, &res)
    }

    /// Completion by callback: receives, without waiting, up to `max`
    /// responses that have come, calling `f(reply, bytes)` for each, and
    /// returns how many. Zero copy: a response in one fragment is read
    /// where it lies in the response ring; one in several is gathered into
    /// `buf`, which should hold the service's largest response (an empty
    /// `buf` will do when every response fits the mtu; a response that
    /// does not fit is [`Error::MessageSize`] and stays to be received
    /// with more room). A failed call's reply has its status and no bytes.
    /// The errors are [`recv`](Client::recv)'s, once no response came
    /// before them; but as it does not wait, it does not see a server that
    /// died or stopped (`Ok(0)`): a [`recv`](Client::recv) with a timeout
    /// does.
    ///
    /// `bytes` are valid during the callback only. A panic in `f` is
    /// carried out of `poll` (after the C call returned); the responses
    /// after the one it panicked on are left to be received.
    pub fn poll<F>(&mut self, buf: &mut [u8], max: usize, mut f: F) -> Result<usize>
    where
        F: FnMut(Reply, &[u8]),
    {
        struct Ctx<'f, F> {
            f: &'f mut F,
            panic: Option<Box<dyn Any + Send>>,
        }
        unsafe extern "C" fn done<F: FnMut(Reply, &[u8])>(
            arg: *mut c_void,
            res: *const sys::rill_rpc_result,
            data: *const c_void,
        ) {
            // SAFETY: arg is the Ctx<F> of the poll below, alive and not
            // otherwise used during its rill_rpc_poll call.
            let ctx = unsafe { &mut *arg.cast::<Ctx<'_, F>>() };
            // SAFETY: res is valid during the callback (rill_rpc.h).
            let reply = Reply::from_raw(unsafe { &*res });
            let bytes: &[u8] = if reply.size == 0 || data.is_null() {
                &[]
            } else {
                // SAFETY: data points at the response's size bytes, in the
                // response ring (a reliable consumer's: not overwritten
                // until it moves on, after this callback) or in buf, valid
                // during the callback; the slice does not outlive it (F
                // takes it for any lifetime, so cannot keep it).
                unsafe { slice::from_raw_parts(data.cast::<u8>(), reply.size) }
            };
            if ctx.panic.is_none() {
                if let Err(p) = catch_unwind(AssertUnwindSafe(|| (ctx.f)(reply, bytes))) {
                    ctx.panic = Some(p);
                }
            }
        }
        let mut ctx = Ctx {
            f: &mut f,
            panic: None,
        };
        let mut n = 0;
        // One response per C call: after a panic nothing more is taken.
        while n < max {
            // SAFETY: live handle, this thread only; buf writable for its
            // length; done::<F> is the callback for arg = &mut ctx, which
            // lives across the call and does not unwind.
            let rc = unsafe {
                sys::rill_rpc_poll(
                    self.raw.as_ptr(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    1,
                    Some(done::<F>),
                    (&mut ctx as *mut Ctx<'_, F>).cast(),
                )
            };
            if let Some(p) = ctx.panic.take() {
                resume_unwind(p);
            }
            match rc {
                0 => break,
                rc if rc > 0 => n += 1,
                _ if n > 0 => break, // said again by the next receive
                rc => return Err(Error::from_code(rc.into())),
            }
        }
        Ok(n)
    }

    /// Closes the client (as dropping it does), reporting an error.
    pub fn close(self) -> Result<()> {
        let me = core::mem::ManuallyDrop::new(self);
        // SAFETY: the handle is live and closed once: Drop will not run.
        check(unsafe { sys::rill_rpc_close(me.raw.as_ptr()) }).map(|_| ())
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // SAFETY: the handle is live and closed once.
        unsafe { sys::rill_rpc_close(self.raw.as_ptr()) };
    }
}

/// A request being built in the request ring ([`Client::reserve`]):
/// `&mut [u8]` of the size asked for. Write it, then
/// [`commit`](RequestBuf::commit) it; dropping it sends nothing. It
/// borrows its client, so no other call comes between.
///
/// The bytes hold whatever an earlier request left there.
pub struct RequestBuf<'c> {
    c: &'c mut Client,
    buf: NonNull<u8>,
    n: usize,
}

impl RequestBuf<'_> {
    /// Sends the first `len` bytes as a call of `method` and returns its
    /// id. [`Error::Invalid`] if `len` is more than was reserved or the
    /// method over [`METHOD_MAX`].
    pub fn commit(self, len: usize, method: u16) -> Result<u64> {
        self.commit_at(0, len, method)
    }

    /// Sends the `len` bytes at `offset` (a multiple of 64) as a call of
    /// `method` and returns its id: for a request built backwards from the
    /// buffer's end (FlatBuffers). The bytes before `offset` are not sent.
    /// [`Error::Invalid`] if `offset` is not a multiple of 64, the bytes
    /// are not all within the buffer, or the method is over
    /// [`METHOD_MAX`].
    pub fn commit_at(self, offset: usize, len: usize, method: u16) -> Result<u64> {
        if offset % 64 != 0 || offset.checked_add(len).is_none_or(|end| end > self.n) {
            return Err(Error::Invalid);
        }
        let mut id = 0;
        // SAFETY: offset + len lies within the n reserved bytes (checked),
        // so the pointer stays in the reservation, which is the client's
        // current one (self holds &mut Client); live handle; id a valid
        // place.
        check(unsafe {
            sys::rill_rpc_commit(
                self.c.raw.as_ptr(),
                method,
                self.buf.as_ptr().add(offset).cast(),
                len,
                &mut id,
            )
        })?;
        Ok(id)
    }
}

impl core::ops::Deref for RequestBuf<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: rill_rpc_reserve pointed buf at n bytes of the request
        // ring that only this client writes and the server is not told of
        // until the commit; they stay reserved while self lives (it holds
        // &mut Client). The mapping is readable and writable, and every
        // byte is initialised (the file starts zeroed).
        unsafe { slice::from_raw_parts(self.buf.as_ptr(), self.n) }
    }
}

impl core::ops::DerefMut for RequestBuf<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in deref; &mut self makes this the only reference.
        unsafe { slice::from_raw_parts_mut(self.buf.as_ptr(), self.n) }
    }
}

impl core::fmt::Debug for RequestBuf<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RequestBuf").field("len", &self.n).finish()
    }
}
