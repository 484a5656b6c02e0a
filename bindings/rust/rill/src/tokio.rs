// SPDX-License-Identifier: Apache-2.0 OR MIT
//! A consumer for tokio: [`AsyncConsumer`] awaits messages instead of
//! spinning or parking its thread (feature `tokio`, Unix only).
//!
//! It waits on the consumer's wake-up fd ([`Consumer::fd`], a FIFO next
//! to the region) registered with tokio's reactor, as `rill.h` says to use
//! it: look for a message; if there is none, [`arm`](Consumer::arm); if
//! armed, wait until the fd is readable, then look again. The producer
//! writes to the FIFO only when an armed consumer waits, so a busy channel
//! costs no system call, and a task that awaits a quiet channel costs no
//! CPU and leaves its thread to the runtime's other tasks.
//!
//! The death of the producer does not make the fd readable (`rill.h`):
//! each wait is bounded to 100 ms, after which the consumer arms again,
//! and arming is what reports [`Error::ProducerDead`]. So a dead producer
//! ends the stream about 100 ms after the last message it published was
//! read, at worst.
//!
//! The runtime needs its IO and time drivers (`enable_all()`, as
//! `#[tokio::main]` builds it); like every tokio resource, an
//! [`AsyncConsumer`] is made inside the runtime that awaits it.
//!
//! ```
//! use rill::tokio::AsyncConsumer;
//! use rill::{ChannelOptions, Region, RegionOptions};
//! use std::time::Duration;
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> rill::Result<()> {
//! # let dir = std::env::temp_dir().join(format!("rill-tokio-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//!     let region = Region::create("quotes", &RegionOptions::new().dir(&dir).size(4 << 20))?;
//!     let ch = region.create_channel("ticks", &ChannelOptions::new().depth(256))?;
//!     let mut rx = AsyncConsumer::new(ch.reliable()?)?;
//!
//!     // A producer in another thread (or process) publishes, then leaves.
//!     let mut tx = ch.producer()?;
//!     let producer = std::thread::spawn(move || -> rill::Result<()> {
//!         for i in 0..1000u64 {
//!             tx.send_wait(&i.to_le_bytes(), i, Duration::from_secs(5))?;
//!         }
//!         Ok(()) // tx dropped: the producer leaves
//!     });
//!
//!     let mut buf = [0u8; 64];
//!     let mut sum = 0;
//!     loop {
//!         match rx.recv(&mut buf).await {
//!             Ok(meta) => sum += u64::from_le_bytes(buf[..meta.size as usize].try_into().unwrap()),
//!             Err(e) if e.is_end() => break, // Closed: it left, everything was read
//!             Err(e) => return Err(e),
//!         }
//!     }
//!     producer.join().unwrap()?;
//!     assert_eq!(sum, 999 * 1000 / 2);
//! # drop(rx); drop(ch); drop(region);
//! # Region::unlink("quotes", Some(&dir))?;
//! # std::fs::remove_dir_all(&dir).unwrap();
//!     Ok(())
//! }
//! ```
//!
//! # Cancel safety
//!
//! Every `async` method of [`AsyncConsumer`] is cancel safe: a future
//! dropped before it completes (a branch of `tokio::select!` that lost, a
//! `tokio::time::timeout` that ran out) has taken no message, and the next
//! call returns the message it would have returned. A message is taken
//! only in the synchronous step that completes the future; the fragments of
//! a message being put together stay in the consumer until a later call
//! completes it. So `tokio::time::timeout(d, rx.recv(&mut buf))` is a
//! receive with a timeout.
//!
//! # Producers that fence on request
//!
//! A producer that joined `LAZY` (`docs/PROTOCOL.md` §3.7a; on Linux only
//! with `RILL_LAZY_FENCE=1`, for tests) cannot promise the wake-up until it
//! next publishes: until then each arm sleeps up to 1 ms in the calling
//! thread and says "look again". The consumer then yields to the runtime
//! between such rounds, but each of them holds the thread for that
//! millisecond.
use crate::consumer::{Armed, Consumer, Lossy, LossyView, Meta, Mode, Reliable, View};
use crate::error::{Error, Result};
use ::tokio::io::Interest;
use ::tokio::io::unix::AsyncFd;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::Duration;

/// How long a wait on the fd lasts before the consumer arms again: the
/// bound on the time a dead producer goes unnoticed.
const REARM: Duration = Duration::from_millis(100);

/// The fd registered with tokio: a duplicate of the consumer's FIFO fd
/// (the same open FIFO, so the same readiness), closed by this wrapper
/// only. The consumer keeps and closes its own fd. Not that fd itself:
/// tokio requires a registered fd to stay open until it is deregistered,
/// and [`AsyncConsumer::get_mut`] lets safe code swap the consumer out
/// and drop it, closing its fd; the duplicate stays open whatever becomes
/// of the consumer.
#[derive(Debug)]
struct WakeFd(OwnedFd);

impl AsRawFd for WakeFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// A [`Consumer`] whose receiving calls are `async`: they return when a
/// message is there, and until then leave the thread to the runtime's
/// other tasks (see the [module documentation](self)).
///
/// `M` is the consumer's mode: [`Reliable`] (its
/// [`poll`](AsyncConsumer::<Reliable>::poll) returns a [`View`]) or
/// [`Lossy`] (a [`LossyView`]). Every call takes `&mut self`, one at a
/// time, as the consumer's own calls do; every `async` method is cancel
/// safe. [`Error::Closed`] and [`Error::ProducerDead`] end the stream
/// ([`Error::is_end`]): the producer left or died, and everything it
/// published was read.
///
/// ```
/// # use rill::{ChannelOptions, Region, RegionOptions};
/// # use std::time::Duration;
/// # let dir = std::env::temp_dir().join(format!("rill-tokio-doc2-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// # let region = Region::create("r", &RegionOptions::new().dir(&dir).size(1 << 20))?;
/// # let ch = region.create_channel("c", &ChannelOptions::new().depth(64))?;
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// let mut tx = ch.producer()?;
/// rt.block_on(async {
///     let mut rx = rill::tokio::AsyncConsumer::new(ch.reliable()?)?;
///     tx.send(b"hello", 7)?;
///     let view = rx.poll().await?;          // a View: the bytes in shared memory
///     assert_eq!((&view[..], view.sig()), (&b"hello"[..], 7));
///     // Nothing more: a receive with a timeout (cancel safe, nothing lost).
///     let r = tokio::time::timeout(Duration::from_millis(10), rx.poll()).await;
///     assert!(r.is_err());
///     Ok::<(), rill::Error>(())
/// })?;
/// # drop(tx); drop(ch); drop(region);
/// # rill::Region::unlink("r", Some(&dir))?; std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), rill::Error>(())
/// ```
#[derive(Debug)]
pub struct AsyncConsumer<M: Mode> {
    fd: AsyncFd<WakeFd>,
    inner: Consumer<M>,
}

impl<M: Mode> AsyncConsumer<M> {
    /// Registers `consumer`'s wake-up fd with the current runtime's
    /// reactor (making the fd if [`Consumer::fd`] was not called yet).
    ///
    /// Errors: those of [`Consumer::fd`] ([`Error::PermissionDenied`] for
    /// a FIFO path taken by another user, [`Error::Io`]), and
    /// [`Error::Io`] if the fd cannot be duplicated or registered. The
    /// consumer is dropped then (it leaves its channel).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, or in one without the IO driver, like
    /// every tokio IO resource. Its calls also need the time driver.
    pub fn new(mut consumer: Consumer<M>) -> Result<AsyncConsumer<M>> {
        let raw = consumer.fd()?;
        // SAFETY: raw is the consumer's open FIFO fd, which stays open
        // while the consumer lives, and the consumer outlives this borrow
        // (it is used only to duplicate the fd, on the next line).
        let borrowed = unsafe { BorrowedFd::borrow_raw(raw) };
        let dup = borrowed.try_clone_to_owned().map_err(io_error)?;
        // SAFETY: the fd registered is our duplicate, owned by the WakeFd
        // that the AsyncFd owns: it stays open, and is the same fd, until
        // the AsyncFd is dropped or gives the WakeFd back (as_raw_fd of an
        // OwnedFd never changes). Nothing else closes it: the consumer
        // closes only its own fd, whatever is done with it (even replaced
        // through get_mut).
        let fd = unsafe { AsyncFd::register_with_interest(WakeFd(dup), Interest::READABLE) }
            .map_err(|e| io_error(e.into_parts().1))?;
        Ok(AsyncConsumer {
            fd,
            inner: consumer,
        })
    }

    /// The consumer, for its synchronous calls (stats, flush, ...).
    pub fn get_ref(&self) -> &Consumer<M> {
        &self.inner
    }

    /// The consumer, for its synchronous calls. Reading through it
    /// directly is allowed (the next `async` call carries on from there).
    /// Do not put another consumer in its place: this one's fd stays
    /// registered, so the wake-ups would be another consumer's (safe, but
    /// the new one would be woken only by the 100 ms re-arm, or fail with
    /// [`Error::Invalid`] if its fd was never made).
    pub fn get_mut(&mut self) -> &mut Consumer<M> {
        &mut self.inner
    }

    /// The consumer, its fd taken off the reactor.
    pub fn into_inner(self) -> Consumer<M> {
        let AsyncConsumer { fd, inner } = self;
        drop(fd); // deregisters and closes the duplicate, not the consumer's fd
        inner
    }

    /// Copies the next whole message (fragments put together) into `buf`,
    /// waiting for one: as [`Consumer::recv`], which says what a lossy
    /// consumer reports of what it lost. [`Error::MessageSize`] with the
    /// message's size if `buf` is too small (the message is kept: call
    /// again with more room). Cancel safe.
    pub async fn recv(&mut self, buf: &mut [u8]) -> Result<Meta> {
        ::tokio::task::coop::consume_budget().await;
        let mut idle = false;
        loop {
            if let Some(meta) = self.inner.recv(buf)? {
                return Ok(meta);
            }
            self.wait(&mut idle).await?;
        }
    }

    /// [`recv`](AsyncConsumer::recv) into a `Vec`, grown to the message's
    /// size when needed (its length is set to the message's), as
    /// [`Consumer::recv_vec`]. Cancel safe.
    pub async fn recv_vec(&mut self, buf: &mut Vec<u8>) -> Result<Meta> {
        ::tokio::task::coop::consume_budget().await;
        let mut idle = false;
        loop {
            if let Some(meta) = self.inner.recv_vec(buf)? {
                return Ok(meta);
            }
            self.wait(&mut idle).await?;
        }
    }

    /// After a look that found nothing: arms, and if armed waits until
    /// the fd is readable or [`REARM`] has passed, whichever comes first.
    /// Returns when it is time to look again; the end of the stream
    /// (or any error of the arm) as an error.
    ///
    /// `idle` is true when the arm before the last look said "ready" and
    /// the look found nothing: an arm that says so again yields to the
    /// runtime before the next look (a `LAZY` producer's arm says "ready"
    /// after a nap, until it publishes).
    async fn wait(&mut self, idle: &mut bool) -> Result<()> {
        match self.inner.arm()? {
            Armed::Ready => {
                if core::mem::replace(idle, true) {
                    ::tokio::task::yield_now().await;
                }
            }
            Armed::Wait => {
                *idle = false;
                match ::tokio::time::timeout(REARM, self.fd.readable()).await {
                    // The producer wrote to the FIFO: the next arm drains
                    // it, and the readiness seen here is cleared (a write
                    // that comes after the drain sets it again).
                    Ok(Ok(mut ready)) => ready.clear_ready(),
                    Ok(Err(e)) => return Err(io_error(e)),
                    // Time to arm again, which tells a dead producer.
                    Err(_elapsed) => {}
                }
            }
        }
        Ok(())
    }
}

impl AsyncConsumer<Reliable> {
    /// Waits for the next descriptor and returns it where it lies in
    /// shared memory, as [`Consumer::<Reliable>::poll`](Consumer::poll)
    /// does (a message longer than the mtu comes as several fragments;
    /// [`recv`](AsyncConsumer::recv) puts them together). The view
    /// borrows `self`, so it cannot be kept past the next call. Cancel
    /// safe.
    pub async fn poll(&mut self) -> Result<View<'_>> {
        ::tokio::task::coop::consume_budget().await;
        let mut idle = false;
        loop {
            // The poll writes the descriptor into the consumer and says
            // whether there is one, borrowing nothing, so the loop may go
            // on using self when there is none; only then is the view made,
            // borrowing the consumer as Consumer::poll's does. (Returning
            // Consumer::poll's view from inside the loop is refused by the
            // borrow checker, NLL problem case #3.)
            if self.inner.poll_raw()? {
                return Ok(View::new(&self.inner.last));
            }
            self.wait(&mut idle).await?;
        }
    }
}

impl AsyncConsumer<Lossy> {
    /// Waits for the next descriptor, as
    /// [`Consumer::<Lossy>::poll`](Consumer::poll) looks for one: its bytes
    /// may be overwritten while they are read, so
    /// [`LossyView::read`] copies and checks them. [`Error::Overrun`] with
    /// how many were lost if the producer lapped this consumer (the next
    /// call returns the oldest message still there). Cancel safe.
    pub async fn poll(&mut self) -> Result<LossyView<'_>> {
        ::tokio::task::coop::consume_budget().await;
        let mut idle = false;
        loop {
            // As in AsyncConsumer::<Reliable>::poll.
            if self.inner.poll_raw()? {
                return Ok(LossyView::new(&self.inner.last, self.inner.raw));
            }
            self.wait(&mut idle).await?;
        }
    }
}

/// A tokio IO error as rill's.
fn io_error(e: std::io::Error) -> Error {
    Error::Io {
        errno: e.raw_os_error().unwrap_or(0),
    }
}
