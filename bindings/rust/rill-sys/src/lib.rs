// SPDX-License-Identifier: Apache-2.0 OR MIT
//! Raw FFI bindings to rill: lock-free shared-memory channels between
//! processes on one host.
//!
//! This crate is `include/rill.h` and `include/rill_rpc.h` (request and
//! response, `docs/rpc.md`) in Rust, written by hand and nothing more: the
//! same names (`rill_send`, `rill_view`, `RILL_EAGAIN`, `rill_rpc_call`),
//! the same `#[repr(C)]` structs with their reserved fields, every function
//! in one `extern "C"` block. Every call is `unsafe` and follows the
//! contract that the header states above its C declaration; read it there
//! (`include/rill.h`, `include/rill_rpc.h`) and in `docs/api.md`. The bytes
//! in shared memory are specified in `docs/PROTOCOL.md`. The safe crate,
//! `rill` (`bindings/rust/rill`), is built on this one.
//!
//! librill is compiled from the repository's own C sources by this
//! crate's build script (with the `cc` crate) and linked statically: no
//! installed librill is needed.
//!
//! The error rule, as rill.h states it: every call returns 0 (or a count,
//! or a size) on success and a negative `RILL_E*` code on failure;
//! [`rill_strerror`] explains a code. A NULL handle or pointer where a call
//! needs one gives `-RILL_EINVAL`, never a crash.
//!
//! The types of the constants: enum values of rill.h (error codes,
//! consumer modes, liveness) are `c_int`, as C gives them and as the calls
//! take and return them; a `#define` has the type of the field or argument
//! it goes into (`u16` for the `ctl` bits, `u32` for flags and modes,
//! `u64` for timeouts, `usize` for array lengths).
#![allow(non_camel_case_types)]
#![warn(missing_docs)]

use core::ffi::{c_char, c_double, c_int, c_void};
use core::marker::{PhantomData, PhantomPinned};

// ---- version ----------------------------------------------------------------

/// This header's major version.
pub const RILL_VERSION_MAJOR: c_int = 0;
/// This header's minor version.
pub const RILL_VERSION_MINOR: c_int = 3;
/// This header's patch version.
pub const RILL_VERSION_PATCH: c_int = 0;
/// This header's version as one number: MAJOR * 10000 + MINOR * 100 + PATCH.
pub const RILL_VERSION: c_int =
    RILL_VERSION_MAJOR * 10000 + RILL_VERSION_MINOR * 100 + RILL_VERSION_PATCH;

/// True if these bindings are version MAJOR.MINOR.PATCH of rill.h or later
/// (the macro `RILL_CHECK_VERSION`).
#[allow(non_snake_case)]
pub const fn RILL_CHECK_VERSION(major: c_int, minor: c_int, patch: c_int) -> bool {
    RILL_VERSION >= major * 10000 + minor * 100 + patch
}

// ---- error codes (returned negated) -------------------------------------------

/// Success.
pub const RILL_OK: c_int = 0;
/// Nothing to read yet / no credit to publish now.
pub const RILL_EAGAIN: c_int = 1;
/// The consumer was lapped; `rill_view.lost` says how many.
pub const RILL_EOVERRUN: c_int = 2;
/// Bad argument (name, size, option, handle).
pub const RILL_EINVAL: c_int = 3;
/// Out of process memory.
pub const RILL_ENOMEM: c_int = 4;
/// No such region or channel.
pub const RILL_ENOENT: c_int = 5;
/// Region or channel already exists.
pub const RILL_EEXIST: c_int = 6;
/// Permission denied on the region file.
pub const RILL_EACCES: c_int = 7;
/// The region directory does not exist.
pub const RILL_ENODIR: c_int = 8;
/// Not enough space in the file system or region.
pub const RILL_ENOSPC: c_int = 9;
/// A live producer owns the channel / the slot is live / a lock was held too long.
pub const RILL_EBUSY: c_int = 10;
/// Every consumer slot of the channel is taken.
pub const RILL_EFULL: c_int = 11;
/// Region file has length zero.
pub const RILL_EEMPTY: c_int = 12;
/// Region file shorter than its header says.
pub const RILL_ETRUNC: c_int = 13;
/// Not a rill region or object (wrong magic).
pub const RILL_EMAGIC: c_int = 14;
/// rill layout version not supported.
pub const RILL_EVERSION: c_int = 15;
/// Header or table fields out of range.
pub const RILL_ECORRUPT: c_int = 16;
/// Message larger than the channel allows / than the buffer.
pub const RILL_EMSGSIZE: c_int = 17;
/// A wait ran out of time.
pub const RILL_ETIMEDOUT: c_int = 18;
/// An unexpected operating-system error (`rill_os_error()` gives errno).
pub const RILL_EIO: c_int = 19;
/// The producer left the channel; everything was read.
pub const RILL_ECLOSED: c_int = 20;
/// The producer died; everything it published was read.
pub const RILL_EDEAD: c_int = 21;
/// Request/response: the server died; the calls in flight are lost.
pub const RILL_ESRVDEAD: c_int = 22;
/// Request/response: the server stopped; the calls in flight are lost.
pub const RILL_ESRVLEFT: c_int = 23;
/// Request/response: the server has no such method.
pub const RILL_ENOMETHOD: c_int = 24;
/// Request/response: more server workers than the service has lanes.
pub const RILL_EWORKERS: c_int = 25;
/// No huge pages for the region (`RILL_REGION_HUGE`).
pub const RILL_ENOHUGE: c_int = 26;
/// One past the last error code.
pub const RILL_ERR_MAX_: c_int = 27;

// ---- regions ------------------------------------------------------------------

/// An open region (opaque handle).
#[repr(C)]
pub struct rill_region {
    _private: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

/// Options of `rill_region_create()` and `rill_region_open()`; zero means "default".
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rill_region_opts {
    /// Create: total bytes; 0 = 64 MiB.
    pub size: u64,
    /// NULL = `$RILL_DIR`, else "/dev/shm".
    pub dir: *const c_char,
    /// Create: file mode; 0 = 0600.
    pub mode: u32,
    /// `RILL_REGION_*` flags.
    pub flags: u32,
    /// Must be 0.
    pub reserved: [u64; 5],
}

/// `rill_region_opts.flags` of `rill_region_open()`: open to look only.
pub const RILL_REGION_READONLY: u32 = 0x1;
/// `rill_region_opts.flags` of `rill_region_create()`: back the region with huge pages, or fail.
pub const RILL_REGION_HUGE: u32 = 0x2;

/// Longest region or channel name (bytes).
pub const RILL_NAME_MAX: usize = 39;

/// A timeout with no limit (nanoseconds).
pub const RILL_FOREVER: u64 = u64::MAX;

/// Called by `rill_clean()` and `rill_region_clean()` for each region found unused.
pub type rill_clean_fn =
    Option<unsafe extern "C" fn(name: *const c_char, removed: c_int, err: c_int, arg: *mut c_void)>;

/// Options of `rill_clean()`; zero means "default".
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rill_clean_opts {
    /// NULL = `$RILL_DIR`, else /dev/shm.
    pub dir: *const c_char,
    /// Grace period: 0 = 60 s (`RILL_CLEAN_ANY_AGE`: none).
    pub min_age_ns: u64,
    /// `RILL_CLEAN_*` flags.
    pub flags: u32,
    /// Must be 0.
    pub reserved0: u32,
    /// Must be 0.
    pub reserved: [u64; 5],
}

/// `rill_clean_opts.flags`: report what would go; remove nothing.
pub const RILL_CLEAN_DRY_RUN: u32 = 1;
/// `rill_clean_opts.flags`: no grace period (min_age_ns must be 0).
pub const RILL_CLEAN_ANY_AGE: u32 = 2;

/// Called by `rill_region_list()` for each region; nonzero stops the listing.
pub type rill_list_fn =
    Option<unsafe extern "C" fn(name: *const c_char, arg: *mut c_void) -> c_int>;

/// A region's header, as `rill_region_info_get()` reads it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rill_region_info {
    /// Total bytes.
    pub size: u64,
    /// Bytes allocated to objects (header included).
    pub used: u64,
    /// CLOCK_REALTIME at creation.
    pub created_ns: u64,
    /// The creator's pid, as it wrote it.
    pub creator_pid: u32,
    /// The creator's uid, as it wrote it.
    pub creator_uid: u32,
    /// Objects in the table.
    pub nobjects: u32,
    /// The file's owner, now (0.3 and later).
    pub owner_uid: u32,
    /// The pages backing the file (0.4; librill 0.3 leaves it 0).
    pub page_size: u64,
    /// Written 0 by this version.
    pub reserved: [u64; 2],
}

/// `rill_object_info.type` of a channel.
pub const RILL_OBJECT_CHANNEL: u32 = 1;

/// An object of a region's table, as `rill_region_object_get()` reads it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rill_object_info {
    /// Its name, NUL-terminated.
    pub name: [c_char; RILL_NAME_MAX + 1],
    /// `RILL_OBJECT_CHANNEL`.
    pub r#type: u32,
    /// Written 0 by this version.
    pub reserved0: u32,
    /// From the start of the region, bytes.
    pub off: u64,
    /// Bytes.
    pub size: u64,
    /// Written 0 by this version.
    pub reserved: [u64; 4],
}

// ---- channels -------------------------------------------------------------------

/// Options of `rill_channel_create()`; zero means "default".
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rill_channel_opts {
    /// Descriptors in the ring, power of 2; 0 = 4096.
    pub depth: u32,
    /// Largest fragment payload, bytes; 0 = 1024.
    pub mtu: u32,
    /// Consumer slots; 0 = 8.
    pub max_consumers: u32,
    /// None defined yet: must be 0.
    pub flags: u32,
    /// Largest message (fragmented); 0 = 16 * mtu.
    pub max_msg: u64,
    /// Must be 0.
    pub reserved: [u64; 5],
}

// ---- ctl bits of a descriptor ------------------------------------------------------

/// First fragment of a message.
pub const RILL_CTL_SOM: u16 = 0x0001;
/// Last fragment of a message.
pub const RILL_CTL_EOM: u16 = 0x0002;
/// The message carries an error.
pub const RILL_CTL_ERR: u16 = 0x0004;
/// A whole message (SOM | EOM).
pub const RILL_CTL_MSG: u16 = RILL_CTL_SOM | RILL_CTL_EOM;
/// Bits 3..15 of ctl are free for the application.
pub const RILL_CTL_USER_SHIFT: u32 = 3;

/// Application bits X in a ctl (the macro `RILL_CTL_USER`).
#[allow(non_snake_case)]
pub const fn RILL_CTL_USER(x: u16) -> u16 {
    x << RILL_CTL_USER_SHIFT
}

// ---- producer ---------------------------------------------------------------------

/// A channel's producer (opaque handle).
#[repr(C)]
pub struct rill_producer {
    _private: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

/// One message of a batch (`rill_send_many()`, `rill_commit_many()`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rill_msg {
    /// `rill_send_many`: the bytes (NULL if sz is 0); `rill_commit_many`: ignored.
    pub data: *const c_void,
    /// Bytes.
    pub sz: usize,
    /// The application's tag (a filter, a request id).
    pub sig: u64,
    /// ctl bits (see rill.h for which each call takes).
    pub ctl: u16,
    /// Must be 0.
    pub reserved0: u16,
    /// The application's timestamp.
    pub tsorig: u32,
}

/// `rill_producer_set_stamp()`: stamp the descriptors a latency sample needs (default).
pub const RILL_STAMP_SAMPLED: u32 = 0;
/// `rill_producer_set_stamp()`: stamp every descriptor.
pub const RILL_STAMP_EVERY: u32 = 1;

// ---- consumer ---------------------------------------------------------------------

/// A channel's consumer (opaque handle).
#[repr(C)]
pub struct rill_consumer {
    _private: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

/// Consumer mode: the producer never laps it (backpressure instead).
pub const RILL_RELIABLE: c_int = 1;
/// Consumer mode: never slows the producer; may see overruns.
pub const RILL_LOSSY: c_int = 2;

/// What a poll sees; `data` points into shared memory.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rill_view {
    /// The payload, in shared memory, valid until the next call on the consumer.
    pub data: *const c_void,
    /// Sequence number.
    pub seq: u64,
    /// The application's tag.
    pub sig: u64,
    /// Payload bytes.
    pub sz: u32,
    /// ctl bits (`RILL_CTL_*`).
    pub ctl: u16,
    /// Not written by this version: unspecified.
    pub reserved0: u16,
    /// The application's timestamp.
    pub tsorig: u32,
    /// Publish stamp; 0: not stamped.
    pub tspub: u32,
    /// With `-RILL_EOVERRUN`: sequence numbers skipped.
    pub lost: u64,
    /// Not written by this version: unspecified.
    pub reserved: [u64; 2],
}

/// What `rill_recv()` says of the message it copied.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rill_meta {
    /// Sequence number of the first fragment.
    pub seq: u64,
    /// The application's tag.
    pub sig: u64,
    /// Bytes in the whole message.
    pub sz: u64,
    /// Sequence numbers skipped before this one.
    pub lost: u64,
    /// ctl of the last fragment.
    pub ctl: u16,
    /// Not written by this version: unspecified.
    pub reserved0: u16,
    /// The application's timestamp.
    pub tsorig: u32,
    /// Publish stamp; 0: not stamped.
    pub tspub: u32,
    /// Not written by this version: unspecified.
    pub reserved: [u32; 5],
}

/// Most consumers `rill_wait_any()` takes.
pub const RILL_WAIT_ANY_MAX: u32 = 128;

// ---- metrics and liveness ---------------------------------------------------------

/// Liveness: nobody in that place (never joined, or left).
pub const RILL_PEER_NONE: c_int = 0;
/// Liveness: its process holds the endpoint's lock.
pub const RILL_PEER_ALIVE: c_int = 1;
/// Liveness: joined, never left, and its lock is gone.
pub const RILL_PEER_DEAD: c_int = 2;
/// Liveness: the lock could not be queried.
pub const RILL_PEER_UNKNOWN: c_int = 3;

/// A channel's layout and its producer's counters (`rill_channel_stats_get()`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rill_channel_stats {
    /// Descriptors in the ring.
    pub depth: u32,
    /// Largest fragment payload.
    pub mtu: u32,
    /// Consumer slots.
    pub max_consumers: u32,
    /// Consumer slots in use.
    pub nconsumers: u32,
    /// Largest message.
    pub max_msg: u64,
    /// The channel's offset in the region.
    pub off: u64,
    /// The channel's bytes.
    pub size: u64,
    /// The meta ring's offset from the channel's start.
    pub meta_off: u64,
    /// The data ring's offset from the channel's start.
    pub data_off: u64,
    /// 64-byte chunks of the data ring.
    pub data_chunks: u64,
    /// First sequence number.
    pub seq0: u64,
    /// CLOCK_REALTIME at creation.
    pub created_ns: u64,
    /// Producer's next sequence number (as flushed).
    pub seq: u64,
    /// Descriptors published.
    pub msgs: u64,
    /// Bytes published.
    pub bytes: u64,
    /// Times the producer found no credit.
    pub backpressure: u64,
    /// 1 if a producer was joined at last flush.
    pub producer_joined: u32,
    /// `RILL_PEER_*`.
    pub producer_liveness: u32,
    /// The producer's pid.
    pub producer_pid: u32,
    /// Producer joins so far.
    pub producer_gen: u32,
    /// CLOCK_MONOTONIC of the producer's last flush.
    pub producer_heartbeat_ns: u64,
    /// Dead reliable consumers evicted.
    pub evictions: u64,
    /// Times the producer woke parked consumers.
    pub wakes: u64,
    /// Written 0 by this version.
    pub reserved: [u64; 13],
}

/// A consumer slot's state and counters (`rill_consumer_stats_get()`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rill_consumer_stats {
    /// The slot.
    pub slot: u32,
    /// `RILL_RELIABLE`, `RILL_LOSSY`; 0 = slot free.
    pub mode: u32,
    /// Next sequence number it will read (as flushed).
    pub seq: u64,
    /// Producer seq - consumer seq (0 if ahead).
    pub lag: u64,
    /// Descriptors consumed.
    pub msgs: u64,
    /// Bytes consumed.
    pub bytes: u64,
    /// Overruns seen by poll.
    pub overrun_poll: u64,
    /// `rill_check()` failures.
    pub overrun_read: u64,
    /// Sequence numbers skipped.
    pub lost: u64,
    /// `RILL_PEER_*`.
    pub liveness: u32,
    /// 1: the producer no longer waits for it.
    pub evicted: u32,
    /// 1: parked in a wait (a futex sleep).
    pub parked: u32,
    /// Its pid (informative).
    pub pid: u32,
    /// CLOCK_MONOTONIC of its last housekeeping.
    pub heartbeat_ns: u64,
    /// Written 0 by this version.
    pub reserved: [u64; 5],
}

/// Buckets of the latency histogram.
pub const RILL_LATENCY_BUCKETS: usize = 128;

/// A consumer's publish-to-consume latency histogram (`rill_latency_get()`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rill_latency {
    /// Samples (the sum of the buckets).
    pub count: u64,
    /// Sum of the samples.
    pub sum_ns: u64,
    /// Quarter-octave buckets (`rill_latency_bucket_ns()`).
    pub buckets: [u64; RILL_LATENCY_BUCKETS],
}

// ---- request/response (rill_rpc.h) ------------------------------------------------

// A service is LANES lanes; lane K is two reliable channels, S.q.K
// (requests) and S.r.K (responses).  The request id is the descriptor's
// sig, the method its ctl application bits (docs/rpc.md).

/// Most lanes a service has (62 objects in a region, 2 per lane).
pub const RILL_RPC_MAX_LANES: u32 = 31;
/// Longest service name (bytes): "S.q.30" fits in `RILL_NAME_MAX`.
pub const RILL_RPC_NAME_MAX: usize = 34;
/// Largest method number (13 application bits of ctl).
pub const RILL_RPC_METHOD_MAX: u16 = 8191;

/// Options of `rill_rpc_service_create()`; zero means "default".
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rill_rpc_opts {
    /// Lanes; 0 = 4, at most `RILL_RPC_MAX_LANES`.
    pub lanes: u32,
    /// Descriptors in each channel's ring; 0 = 1024.
    pub depth: u32,
    /// Largest fragment payload, bytes; 0 = 1024.
    pub mtu: u32,
    /// None defined yet: must be 0.
    pub flags: u32,
    /// Largest request or response; 0 = 4 * mtu.
    pub max_msg: u64,
    /// Must be 0.
    pub reserved: [u64; 5],
}

/// A handler of `rill_rpc_serve()`: answers one request, on a worker thread.
pub type rill_rpc_handler = Option<
    unsafe extern "C" fn(
        arg: *mut c_void,
        method: u16,
        req: *const c_void,
        n: usize,
        resp: *mut c_void,
        cap: usize,
        resp_n: *mut usize,
    ) -> c_int,
>;

/// A service's server and its worker threads (opaque handle).
#[repr(C)]
pub struct rill_rpc_server {
    _private: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

/// A client of a service, on one lane (opaque handle).
#[repr(C)]
pub struct rill_rpc_client {
    _private: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

/// What a response says of its call (`rill_rpc_recv()`, `rill_rpc_poll()`, `rill_rpc_call()`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rill_rpc_result {
    /// The call's id.
    pub id: u64,
    /// The call's method.
    pub method: u16,
    /// Written 0 by this version.
    pub reserved0: u16,
    /// 0, or the error code of an error response.
    pub status: i32,
    /// Response bytes (0 for an error).
    pub size: u64,
    /// Written 0 by this version.
    pub reserved: [u64; 3],
}

/// Called by `rill_rpc_poll()` for each response, with its bytes (valid during the call).
pub type rill_rpc_done_fn = Option<
    unsafe extern "C" fn(arg: *mut c_void, res: *const rill_rpc_result, resp: *const c_void),
>;

// Zero is the default of every option and a valid value of every field
// (integers, NULL pointers): `Default` is the all-zero struct, as `{0}` in C.
macro_rules! zero_default {
    ($($t:ty),*) => {$(
        impl Default for $t {
            fn default() -> Self {
                // SAFETY: every field is an integer, an array of integers or a
                // raw pointer, for which all-zero bytes are a valid value.
                unsafe { core::mem::zeroed() }
            }
        }
    )*};
}
zero_default!(
    rill_region_opts,
    rill_clean_opts,
    rill_region_info,
    rill_object_info,
    rill_channel_opts,
    rill_msg,
    rill_view,
    rill_meta,
    rill_channel_stats,
    rill_consumer_stats,
    rill_latency,
    rill_rpc_opts,
    rill_rpc_result
);

// ---- the calls --------------------------------------------------------------------

// The order and the names are rill.h's, then rill_rpc.h's; each call's
// contract is the comment above its C declaration.
unsafe extern "C" {
    /// The version of the librill the program runs with, as `RILL_VERSION` counts.
    pub fn rill_version() -> c_int;
    /// The same version as text, "MAJOR.MINOR.PATCH": a static string.
    pub fn rill_version_string() -> *const c_char;
    /// The errno value of the last OS failure behind an error code returned to this thread.
    pub fn rill_os_error() -> c_int;
    /// Text for a code, positive or negative; never NULL.
    pub fn rill_strerror(err: c_int) -> *const c_char;

    /// 1 if NAME is a valid region or channel name, else 0.
    pub fn rill_name_valid(name: *const c_char) -> c_int;
    /// Creates region NAME and returns a handle in *OUT.
    pub fn rill_region_create(
        name: *const c_char,
        opts: *const rill_region_opts,
        out: *mut *mut rill_region,
    ) -> c_int;
    /// Opens an existing region, validating it.
    pub fn rill_region_open(
        name: *const c_char,
        opts: *const rill_region_opts,
        out: *mut *mut rill_region,
    ) -> c_int;
    /// `rill_region_open()` that waits up to TIMEOUT_NS for the region to appear.
    pub fn rill_region_open_wait(
        name: *const c_char,
        opts: *const rill_region_opts,
        timeout_ns: u64,
        out: *mut *mut rill_region,
    ) -> c_int;
    /// Guards this process against peers that shrink a region file under it (a SIGBUS handler).
    pub fn rill_sigbus_guard() -> c_int;
    /// Unmaps and frees the handle; accepts NULL.
    pub fn rill_region_close(r: *mut rill_region) -> c_int;
    /// Removes region NAME from DIR, and its consumers' FIFOs.
    pub fn rill_region_unlink(name: *const c_char, dir: *const c_char) -> c_int;
    /// 1 if some live process uses region NAME, 0 if none, or an error.
    pub fn rill_region_in_use(name: *const c_char, dir: *const c_char) -> c_int;
    /// Removes the regions nobody uses (and dead creators' temporary files).
    pub fn rill_clean(opts: *const rill_clean_opts, fn_: rill_clean_fn, arg: *mut c_void) -> c_int;
    /// `rill_clean()` of DIR with the default grace period.
    pub fn rill_region_clean(
        dir: *const c_char,
        dry_run: c_int,
        fn_: rill_clean_fn,
        arg: *mut c_void,
    ) -> c_int;
    /// Calls FN for each rill region in DIR.
    pub fn rill_region_list(dir: *const c_char, fn_: rill_list_fn, arg: *mut c_void) -> c_int;
    /// Fills *INFO from the region's header.
    pub fn rill_region_info_get(r: *mut rill_region, info: *mut rill_region_info) -> c_int;
    /// Fills *O with object I of the region's table.
    pub fn rill_region_object_get(r: *mut rill_region, i: u32, o: *mut rill_object_info) -> c_int;

    /// Bytes a channel with these options takes in a region, or 0 if they are invalid.
    pub fn rill_channel_footprint(opts: *const rill_channel_opts) -> u64;
    /// Creates channel NAME in region R.
    pub fn rill_channel_create(
        r: *mut rill_region,
        name: *const c_char,
        opts: *const rill_channel_opts,
    ) -> c_int;
    /// Waits up to TIMEOUT_NS until channel NAME exists in R.
    pub fn rill_channel_wait(r: *mut rill_region, name: *const c_char, timeout_ns: u64) -> c_int;

    /// Joins channel NAME as its producer.
    pub fn rill_producer_join(
        r: *mut rill_region,
        name: *const c_char,
        out: *mut *mut rill_producer,
    ) -> c_int;
    /// Flushes, marks the channel closed and releases it; accepts NULL.
    pub fn rill_producer_leave(p: *mut rill_producer) -> c_int;
    /// Busy-spin budget of the producer's waiting calls before they park.
    pub fn rill_producer_set_spin(p: *mut rill_producer, ns: u64) -> c_int;
    /// Time after which a dead reliable consumer stops holding the producer back.
    pub fn rill_producer_set_evict(p: *mut rill_producer, ns: u64) -> c_int;
    /// Reserves N bytes (N <= mtu) in the data ring and points *BUF at them.
    pub fn rill_reserve(p: *mut rill_producer, n: usize, buf: *mut *mut c_void) -> c_int;
    /// Publishes the reserved buffer as a descriptor of N bytes.
    pub fn rill_commit(p: *mut rill_producer, n: usize, sig: u64, ctl: u16) -> c_int;
    /// `rill_commit()` of the N bytes at AT in the reserved buffer.
    pub fn rill_commit_at(
        p: *mut rill_producer,
        at: *const c_void,
        n: usize,
        sig: u64,
        ctl: u16,
    ) -> c_int;
    /// `rill_commit()` with an application timestamp in tsorig.
    pub fn rill_commit_ts(
        p: *mut rill_producer,
        n: usize,
        sig: u64,
        ctl: u16,
        tsorig: u32,
    ) -> c_int;
    /// Copies N bytes (N <= max_msg) and publishes them as one message.
    pub fn rill_send(p: *mut rill_producer, data: *const c_void, n: usize, sig: u64) -> c_int;
    /// Copies and publishes COUNT messages, all or nothing.
    pub fn rill_send_many(p: *mut rill_producer, m: *const rill_msg, count: usize) -> c_int;
    /// Reserves COUNT buffers of N bytes and points BUFS[0..COUNT] at them.
    pub fn rill_reserve_many(
        p: *mut rill_producer,
        count: usize,
        n: usize,
        bufs: *mut *mut c_void,
    ) -> c_int;
    /// Publishes the first COUNT buffers of `rill_reserve_many()`.
    pub fn rill_commit_many(p: *mut rill_producer, m: *const rill_msg, count: usize) -> c_int;
    /// Which descriptors carry a publish stamp (`RILL_STAMP_*`).
    pub fn rill_producer_set_stamp(p: *mut rill_producer, mode: u32) -> c_int;
    /// `rill_reserve()` that waits for credit up to TIMEOUT_NS.
    pub fn rill_reserve_wait(
        p: *mut rill_producer,
        n: usize,
        buf: *mut *mut c_void,
        timeout_ns: u64,
    ) -> c_int;
    /// `rill_send()` that waits for credit up to TIMEOUT_NS.
    pub fn rill_send_wait(
        p: *mut rill_producer,
        data: *const c_void,
        n: usize,
        sig: u64,
        timeout_ns: u64,
    ) -> c_int;
    /// Waits up to TIMEOUT_NS until at least N live consumers are joined.
    pub fn rill_producer_wait_consumers(p: *mut rill_producer, n: u32, timeout_ns: u64) -> c_int;
    /// The sequence number the next descriptor will get.
    pub fn rill_producer_seq(p: *const rill_producer) -> u64;
    /// Writes the producer's counters, position and heartbeat to shared memory now.
    pub fn rill_producer_flush(p: *mut rill_producer) -> c_int;

    /// Joins channel NAME as a consumer in MODE (`RILL_RELIABLE`, `RILL_LOSSY`).
    pub fn rill_consumer_join(
        r: *mut rill_region,
        name: *const c_char,
        mode: c_int,
        out: *mut *mut rill_consumer,
    ) -> c_int;
    /// Rejoins consumer slot SLOT from the position it last flushed.
    pub fn rill_consumer_rejoin(
        r: *mut rill_region,
        name: *const c_char,
        slot: u32,
        out: *mut *mut rill_consumer,
    ) -> c_int;
    /// The slot this consumer occupies.
    pub fn rill_consumer_slot(c: *const rill_consumer) -> u32;
    /// Flushes the cursor and frees the slot; accepts NULL.
    pub fn rill_consumer_leave(c: *mut rill_consumer) -> c_int;
    /// Busy-spin budget of the consumer's waiting calls before they park.
    pub fn rill_consumer_set_spin(c: *mut rill_consumer, ns: u64) -> c_int;
    /// How long a consumer that has just caught up waits before it looks again.
    pub fn rill_consumer_set_holdoff(c: *mut rill_consumer, ns: u64) -> c_int;
    /// Commits by hand (MANUAL 1) or at every flush (0): the cursor goes no
    /// further than rill_consumer_commit() has moved it.
    pub fn rill_consumer_set_commit(c: *mut rill_consumer, manual: c_int) -> c_int;
    /// Commits position SEQ: every sequence number before it is done with.
    pub fn rill_consumer_commit(c: *mut rill_consumer, seq: u64) -> c_int;
    /// The next sequence number this consumer will read.
    pub fn rill_consumer_seq(c: *const rill_consumer) -> u64;
    /// Looks at the next descriptor.
    pub fn rill_poll(c: *mut rill_consumer, v: *mut rill_view) -> c_int;
    /// After reading v->data: 0 if the payload was not overwritten meanwhile.
    pub fn rill_check(c: *mut rill_consumer, v: *const rill_view) -> c_int;
    /// Takes up to MAX ready descriptors into V[0..].
    pub fn rill_poll_many(c: *mut rill_consumer, v: *mut rill_view, max: usize) -> c_int;
    /// Copies the next whole message into BUF; returns its size.
    pub fn rill_recv(
        c: *mut rill_consumer,
        buf: *mut c_void,
        cap: usize,
        meta: *mut rill_meta,
    ) -> i64;
    /// `rill_recv()` without the copy where it can (*DATA points at the message).
    pub fn rill_recv_view(
        c: *mut rill_consumer,
        buf: *mut c_void,
        cap: usize,
        meta: *mut rill_meta,
        data: *mut *const c_void,
    ) -> i64;
    /// Polls until a descriptor arrives or TIMEOUT_NS pass (busy spin).
    pub fn rill_poll_spin(c: *mut rill_consumer, v: *mut rill_view, timeout_ns: u64) -> c_int;
    /// `rill_poll()` that spins, then parks, up to TIMEOUT_NS.
    pub fn rill_poll_wait(c: *mut rill_consumer, v: *mut rill_view, timeout_ns: u64) -> c_int;
    /// `rill_recv()` that spins, then parks, up to TIMEOUT_NS.
    pub fn rill_recv_wait(
        c: *mut rill_consumer,
        buf: *mut c_void,
        cap: usize,
        meta: *mut rill_meta,
        timeout_ns: u64,
    ) -> i64;
    /// A file descriptor for poll/epoll that becomes readable when this consumer should look.
    #[cfg(unix)]
    pub fn rill_consumer_fd(c: *mut rill_consumer) -> c_int;
    /// Windows: an event HANDLE signalled when this consumer should look again.
    #[cfg(windows)]
    pub fn rill_consumer_handle(c: *mut rill_consumer, handle: *mut *mut c_void) -> c_int;
    /// Drains the fd and asks the producer to signal it at its next publish.
    pub fn rill_consumer_arm(c: *mut rill_consumer) -> c_int;
    /// Waits until one of the N consumers in CS has something to read.
    pub fn rill_wait_any(cs: *const *mut rill_consumer, n: u32, timeout_ns: u64) -> c_int;
    /// Moves a lossy consumer to the last N messages still in the ring.
    pub fn rill_consumer_seek_last(c: *mut rill_consumer, n: u64) -> i64;
    /// Writes the consumer's cursor, counters and heartbeat to shared memory now.
    pub fn rill_consumer_flush(c: *mut rill_consumer) -> c_int;
    /// Whether the channel's producer is alive: `RILL_PEER_*`.
    pub fn rill_consumer_producer(c: *mut rill_consumer) -> c_int;

    /// Reads the layout of channel NAME and its producer's counters.
    pub fn rill_channel_stats_get(
        r: *mut rill_region,
        name: *const c_char,
        st: *mut rill_channel_stats,
    ) -> c_int;
    /// Reads consumer slot SLOT of channel NAME.
    pub fn rill_consumer_stats_get(
        r: *mut rill_region,
        name: *const c_char,
        slot: u32,
        cs: *mut rill_consumer_stats,
    ) -> c_int;
    /// Reads consumer slot SLOT's latency samples since it joined.
    pub fn rill_latency_get(
        r: *mut rill_region,
        name: *const c_char,
        slot: u32,
        h: *mut rill_latency,
    ) -> c_int;
    /// Lower bound of latency bucket I in ns.
    pub fn rill_latency_bucket_ns(i: u32) -> u64;
    /// The Q quantile (0 <= Q <= 1) of the samples in H, in ns.
    pub fn rill_latency_quantile(h: *const rill_latency, q: c_double) -> u64;

    // rill_rpc.h: request/response
    /// Creates service NAME's channels in R (lane 0's response channel last).
    pub fn rill_rpc_service_create(
        r: *mut rill_region,
        name: *const c_char,
        opts: *const rill_rpc_opts,
    ) -> c_int;
    /// Serves service NAME of R with WORKERS threads (1..lanes) that call FN.
    pub fn rill_rpc_serve(
        r: *mut rill_region,
        name: *const c_char,
        workers: u32,
        fn_: rill_rpc_handler,
        arg: *mut c_void,
        out: *mut *mut rill_rpc_server,
    ) -> c_int;
    /// Stops the workers (each within 50 ms), leaves the channels, frees; accepts NULL.
    pub fn rill_rpc_server_stop(s: *mut rill_rpc_server) -> c_int;
    /// Connects to service NAME: takes the first free lane.
    pub fn rill_rpc_connect(
        r: *mut rill_region,
        name: *const c_char,
        out: *mut *mut rill_rpc_client,
    ) -> c_int;
    /// Leaves the lane and frees the client; accepts NULL.
    pub fn rill_rpc_close(c: *mut rill_rpc_client) -> c_int;
    /// Waits up to TIMEOUT_NS until a live server worker serves the client's lane.
    pub fn rill_rpc_wait_server(c: *mut rill_rpc_client, timeout_ns: u64) -> c_int;
    /// Calls in flight the client allows (the lane's capacity for responses).
    pub fn rill_rpc_capacity(c: *const rill_rpc_client) -> u32;
    /// Sends a request and returns its id in *ID without waiting for its response.
    pub fn rill_rpc_send(
        c: *mut rill_rpc_client,
        method: u16,
        req: *const c_void,
        n: usize,
        id: *mut u64,
    ) -> c_int;
    /// Points *BUF at N bytes (N <= mtu) of the request ring, for `rill_rpc_commit()`.
    pub fn rill_rpc_reserve(c: *mut rill_rpc_client, n: usize, buf: *mut *mut c_void) -> c_int;
    /// Sends the N bytes at AT of the reserved buffer as a call of METHOD; its id in *ID.
    pub fn rill_rpc_commit(
        c: *mut rill_rpc_client,
        method: u16,
        at: *const c_void,
        n: usize,
        id: *mut u64,
    ) -> c_int;
    /// Receives the next response of a call in flight into RESP, waiting up to TIMEOUT_NS.
    pub fn rill_rpc_recv(
        c: *mut rill_rpc_client,
        resp: *mut c_void,
        cap: usize,
        res: *mut rill_rpc_result,
        timeout_ns: u64,
    ) -> c_int;
    /// Calls FN for each of up to MAX responses that have come, without waiting.
    pub fn rill_rpc_poll(
        c: *mut rill_rpc_client,
        buf: *mut c_void,
        cap: usize,
        max: u32,
        fn_: rill_rpc_done_fn,
        arg: *mut c_void,
    ) -> c_int;
    /// One call: sends it and waits up to TIMEOUT_NS for its response.
    pub fn rill_rpc_call(
        c: *mut rill_rpc_client,
        method: u16,
        req: *const c_void,
        n: usize,
        resp: *mut c_void,
        cap: usize,
        res: *mut rill_rpc_result,
        timeout_ns: u64,
    ) -> c_int;
}
