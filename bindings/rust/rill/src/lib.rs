// SPDX-License-Identifier: Apache-2.0 OR MIT
//! rill: lock-free shared-memory channels between processes on one host.
//!
//! A **region** is a file of shared memory (in `/dev/shm` by default)
//! holding **channels**. A channel has one [`Producer`] and up to its
//! `max_consumers` [`Consumer`]s, each in its own process or thread. The
//! producer writes each message once into the channel's data ring and
//! publishes a descriptor; every consumer reads it there, without a copy.
//!
//! - A [`Reliable`] consumer is never lapped: the producer waits for it
//!   (backpressure). Its [`View`]s are plain `&[u8]` that borrow the
//!   consumer, so they cannot outlive the next poll.
//! - A [`Lossy`] consumer never slows the producer and may be lapped: it
//!   learns how many messages it lost ([`Error::Overrun`]), and its
//!   [`LossyView`]s must be checked before their bytes are trusted
//!   ([`LossyView::read`] copies and checks).
//! - A peer that dies is noticed ([`Error::ProducerDead`],
//!   [`Peer::Dead`]); a producer that rejoins carries on, a consumer can
//!   [rejoin](Channel::rejoin) its slot.
//! - [`rpc`] is request/response over a pair of channels per lane: a
//!   [`Server`](rpc::Server) whose handler runs on worker threads, and
//!   [`Client`](rpc::Client)s that call, one at a time or pipelined.
//! - With the `tokio` feature (Unix), `tokio::AsyncConsumer` awaits
//!   messages on a tokio runtime, woken through the consumer's fd.
//!
//! The bytes in shared memory are specified in the repository's
//! `docs/PROTOCOL.md`, so the other end may be C, C++, Go or Python.
//! librill is compiled from source by `rill-sys`; nothing needs installing.
//!
//! ```
//! use rill::{ChannelOptions, Region, RegionOptions};
//! use std::time::Duration;
//! # let dir = std::env::temp_dir().join(format!("rill-crate-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//!
//! // One process creates the region and a channel...
//! let region = Region::create("quotes", &RegionOptions::new().dir(&dir).size(8 << 20))?;
//! let ch = region.create_channel("ticks", &ChannelOptions::new().depth(1024))?;
//!
//! // ...consumers join (here, a thread of the same process)...
//! let mut rx = ch.reliable()?;
//! let reader = std::thread::spawn(move || -> rill::Result<u64> {
//!     let mut sum = 0;
//!     loop {
//!         match rx.poll_wait(Duration::from_secs(5)) {
//!             Ok(msg) => sum += u64::from_le_bytes(msg[..8].try_into().unwrap()),
//!             Err(e) if e.is_end() => return Ok(sum), // the producer left
//!             Err(e) => return Err(e),
//!         }
//!     }
//! });
//!
//! // ...and the producer publishes.
//! let mut tx = ch.producer()?;
//! for i in 0..1000u64 {
//!     tx.send_wait(&i.to_le_bytes(), i, Duration::from_secs(5))?;
//! }
//! drop(tx); // leaves: the reader sees Closed after the last message
//! assert_eq!(reader.join().unwrap()?, 999 * 1000 / 2);
//! # drop(region);
//! Region::unlink("quotes", Some(&dir))?;
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok::<(), rill::Error>(())
//! ```
//!
//! Threading follows `rill.h`: a [`Region`] is `Send + Sync`; an endpoint
//! ([`Producer`], [`Consumer`]) is `Send` and used by one thread at a
//! time.
//!
//! # What the types refuse
//!
//! Misuse that safe Rust can express does not compile, or is an `Err`.
//! An endpoint is not `Sync`, so two threads cannot use it at once:
//!
//! ```compile_fail
//! fn shared<T: Sync>(_: &T) {}
//! fn f(tx: &rill::Producer) { shared(tx) }
//! ```
//! ```compile_fail
//! fn shared<T: Sync>(_: &T) {}
//! fn f(rx: &rill::Consumer<rill::Reliable>) { shared(rx) }
//! ```
//!
//! A view borrows its consumer: it cannot be kept past the next poll, or
//! past the consumer's end, and cannot go to another thread:
//!
//! ```compile_fail
//! fn f(mut rx: rill::Consumer<rill::Reliable>) -> rill::Result<()> {
//!     let v = rx.poll()?.unwrap();
//!     drop(rx);                    // error: rx is borrowed by v
//!     println!("{}", v.len());
//!     Ok(())
//! }
//! ```
//! ```compile_fail
//! fn f(rx: &mut rill::Consumer<rill::Reliable>) -> rill::Result<()> {
//!     fn send<T: Send>(_: T) {}
//!     let v = rx.poll()?.unwrap();
//!     send(v);                     // error: View is not Send
//!     Ok(())
//! }
//! ```
//!
//! A lossy view has no `&[u8]`: its bytes are read through a checked copy
//! ([`LossyView::read`]), or through the `unsafe`
//! [`LossyView::bytes_unchecked`]:
//!
//! ```compile_fail
//! fn f(rx: &mut rill::Consumer<rill::Lossy>) -> rill::Result<()> {
//!     let v = rx.poll()?.unwrap();
//!     let bytes: &[u8] = &v;       // error: LossyView is not a slice
//!     Ok(())
//! }
//! ```
//!
//! A reservation borrows its producer until it is committed or dropped:
//!
//! ```compile_fail
//! fn f(tx: &mut rill::Producer) -> rill::Result<()> {
//!     let a = tx.reserve(8)?;
//!     tx.send(b"x", 1)?;           // error: tx is borrowed by a
//!     a.commit(8, 2)
//! }
//! ```
//!
//! At run time: a second producer on a channel is [`Error::Busy`]; a
//! consumer beyond the channel's slots [`Error::Full`]; a closed handle
//! cannot be named (dropping it consumes it); a bad name, size or option
//! is [`Error::Invalid`]. No call panics on bad input, prints or exits.
//!
//! # Trust
//!
//! Memory safety holds whatever a peer writes into the region: every
//! descriptor is bounds-checked before its payload is touched, and a lossy
//! consumer reads only through checked copies. What the `&[u8]` of a
//! reliable [`View`] (and a reservation's `&mut [u8]`) also relies on is
//! that the processes with write access to the region follow the protocol:
//! a producer does not overwrite what a reliable consumer has not passed.
//! A region is as trusted as the file mode that guards it (0600 by
//! default); where a peer with write access cannot be trusted, consume
//! lossy and copy ([`LossyView::read`]).
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod consumer;
mod error;
mod producer;
mod region;
pub mod rpc;

mod stats;
#[cfg(all(unix, feature = "tokio"))]
pub mod tokio;

pub use consumer::{
    AnyConsumer, Armed, Consumer, Lossy, LossyView, LossyViews, Meta, Mode, ModeKind, Reliable,
    View, Views,
};
pub use error::{Error, Result};
pub use producer::{Commit, OutMsg, Producer, Reservation, Reserved};
pub use region::{Channel, ChannelOptions, Region, RegionInfo, RegionOptions};
/// The raw FFI this crate is built on.
pub use rill_sys as sys;
pub use stats::{ChannelStats, ConsumerStats, Latency, Peer};

use std::ffi::CString;
use std::path::Path;
use std::time::Duration;

/// The longest region or channel name, in bytes.
pub const NAME_MAX: usize = rill_sys::RILL_NAME_MAX;

/// The ctl bits of a descriptor.
pub mod ctl {
    /// The first fragment of a message.
    pub const SOM: u16 = rill_sys::RILL_CTL_SOM;
    /// The last fragment of a message.
    pub const EOM: u16 = rill_sys::RILL_CTL_EOM;
    /// The message carries an error.
    pub const ERR: u16 = rill_sys::RILL_CTL_ERR;
    /// A whole message: SOM and EOM.
    pub const MSG: u16 = rill_sys::RILL_CTL_MSG;
    /// Bits 3 to 15 are the application's: `x` (0 to 8191) placed there;
    /// a larger `x` loses its bits above the 13th (`user(8192)` is 0).
    ///
    /// ```
    /// assert_eq!(rill::ctl::user(5), 5 << 3);
    /// assert_eq!(rill::ctl::user_of(rill::ctl::user(5) | rill::ctl::MSG), 5);
    /// ```
    pub const fn user(x: u16) -> u16 {
        x << rill_sys::RILL_CTL_USER_SHIFT
    }
    /// The application bits of `ctl`, as [`user`] placed them.
    pub const fn user_of(ctl: u16) -> u16 {
        ctl >> rill_sys::RILL_CTL_USER_SHIFT
    }
}

/// The version of the librill linked in, `(major, minor, patch)`.
///
/// ```
/// assert_eq!(rill::version(), (0, 3, 0));
/// ```
pub fn version() -> (u32, u32, u32) {
    // SAFETY: takes nothing, returns a number.
    let v = unsafe { rill_sys::rill_version() } as u32;
    (v / 10000, v / 100 % 100, v % 100)
}

/// True if `name` is a valid region or channel name: 1 to [`NAME_MAX`]
/// bytes of `[A-Za-z0-9_.-]`, not starting with `.`.
///
/// ```
/// assert!(rill::name_valid("md.ticks-1"));
/// assert!(!rill::name_valid("a/b"));
/// ```
pub fn name_valid(name: &str) -> bool {
    let Ok(c) = CString::new(name) else {
        return false;
    };
    // SAFETY: c is NUL-terminated and lives across the call.
    unsafe { rill_sys::rill_name_valid(c.as_ptr()) == 1 }
}

/// Installs rill's SIGBUS guard, so that a peer that shrinks a region file
/// under this process makes its calls fail instead of killing it (see
/// `rill_sigbus_guard()` in rill.h). Call it before other threads start.
#[cfg(unix)]
pub fn sigbus_guard() -> Result<()> {
    // SAFETY: installs a signal handler; the caller is told when to call it.
    error::check(unsafe { rill_sys::rill_sigbus_guard() }).map(|_| ())
}

/// A timeout in rill's nanoseconds: saturating, so `Duration::MAX` (and
/// anything over 584 years) is `RILL_FOREVER`, no limit.
#[inline]
pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(rill_sys::RILL_FOREVER)
}

/// A path as C wants it (no NUL inside, else [`Error::Invalid`]).
pub(crate) fn path_cstring(p: &Path) -> Result<CString> {
    #[cfg(unix)]
    let bytes = {
        use std::os::unix::ffi::OsStrExt;
        p.as_os_str().as_bytes().to_vec()
    };
    #[cfg(not(unix))]
    let bytes = p.to_str().ok_or(Error::Invalid)?.as_bytes().to_vec();
    CString::new(bytes).map_err(|_| Error::Invalid)
}
