// SPDX-License-Identifier: Apache-2.0 OR MIT
//! [`Consumer`], reliable or lossy, and what it reads: [`View`],
//! [`LossyView`], [`Meta`].
use crate::error::{Error, Result, check, check64};
use crate::nanos;
use crate::stats::Peer;
use core::ffi::c_int;
use core::marker::PhantomData;
use core::ptr::NonNull;
use core::slice;
use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use rill_sys as sys;
use std::time::Duration;

mod sealed {
    pub trait Sealed {}
}

/// A consumer's mode, as a type: [`Reliable`] or [`Lossy`]. It decides
/// what a poll returns (a plain `&[u8]` view, or a view to check).
pub trait Mode: sealed::Sealed + Send + 'static {
    /// The mode as a value.
    const MODE: ModeKind;
    #[doc(hidden)]
    const RAW: c_int;
}

/// A consumer the producer never laps: it waits for room instead
/// (backpressure). Its views are `&[u8]` that nobody writes while they
/// live.
#[derive(Debug)]
pub enum Reliable {}
/// A consumer that never slows the producer and may be lapped: what it
/// reads may be overwritten while it reads, so its views are checked.
#[derive(Debug)]
pub enum Lossy {}

impl sealed::Sealed for Reliable {}
impl sealed::Sealed for Lossy {}
impl Mode for Reliable {
    const MODE: ModeKind = ModeKind::Reliable;
    const RAW: c_int = sys::RILL_RELIABLE;
}
impl Mode for Lossy {
    const MODE: ModeKind = ModeKind::Lossy;
    const RAW: c_int = sys::RILL_LOSSY;
}

/// A consumer's mode as a value (in [`ConsumerStats`](crate::ConsumerStats)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModeKind {
    /// See [`Reliable`].
    Reliable,
    /// See [`Lossy`].
    Lossy,
}

/// A consumer of a channel: it reads every message published after it
/// joined, in order, from shared memory.
///
/// `M` is its mode, [`Reliable`] or [`Lossy`] (from
/// [`Channel::reliable`](crate::Channel::reliable) and
/// [`Channel::lossy`](crate::Channel::lossy)). It is `Send` but not
/// `Sync`: one thread at a time (rill.h), and every read takes
/// `&mut self`. What a poll returns borrows the consumer, so it cannot be
/// kept past the next call. Dropping it leaves the channel and frees its
/// slot.
#[derive(Debug)]
pub struct Consumer<M: Mode> {
    pub(crate) raw: NonNull<sys::rill_consumer>,
    /// The view of the last poll, which a `View` points at (no copy).
    pub(crate) last: sys::rill_view,
    /// The views of the last poll_many, reused.
    views: Vec<sys::rill_view>,
    _mode: PhantomData<M>,
}

// SAFETY: a consumer handle is used by one thread at a time (rill.h) and
// holds nothing bound to the thread that joined (its lock is on a file, its
// FIFO an fd of the process), so it may move between threads. Not Sync.
unsafe impl<M: Mode> Send for Consumer<M> {}

/// A consumer of either mode, from [`Channel::rejoin_any`](crate::Channel::rejoin_any).
#[derive(Debug)]
pub enum AnyConsumer {
    /// A reliable consumer.
    Reliable(Consumer<Reliable>),
    /// A lossy consumer.
    Lossy(Consumer<Lossy>),
}

impl AnyConsumer {
    /// Its slot.
    pub fn slot(&self) -> u32 {
        match self {
            AnyConsumer::Reliable(c) => c.slot(),
            AnyConsumer::Lossy(c) => c.slot(),
        }
    }
    /// Its mode.
    pub fn mode(&self) -> ModeKind {
        match self {
            AnyConsumer::Reliable(_) => ModeKind::Reliable,
            AnyConsumer::Lossy(_) => ModeKind::Lossy,
        }
    }
}

/// A message's metadata, from the receiving calls
/// ([`Consumer::recv`] and the like).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Meta {
    /// The sequence number of its first fragment.
    pub seq: u64,
    /// The producer's sig.
    pub sig: u64,
    /// Bytes in the whole message.
    pub size: u64,
    /// Sequence numbers skipped before it: descriptors a lossy consumer
    /// was lapped over, and the fragments of a message it dropped (cut
    /// off by an overrun, or overwritten while it was copied). So the sum
    /// over the messages received is at least
    /// [`ConsumerStats::lost`](crate::ConsumerStats::lost), which counts
    /// the first kind only.
    pub lost: u64,
    /// The ctl bits of its last fragment.
    pub ctl: u16,
    /// The application's timestamp.
    pub tsorig: u32,
    /// The publish stamp (0: not stamped).
    pub tspub: u32,
}

impl Meta {
    fn from_raw(m: &sys::rill_meta) -> Meta {
        Meta {
            seq: m.seq,
            sig: m.sig,
            size: m.sz,
            lost: m.lost,
            ctl: m.ctl,
            tsorig: m.tsorig,
            tspub: m.tspub,
        }
    }
}

/// What [`Consumer::arm`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Armed {
    /// Armed: wait until the fd is readable, then read until nothing is left.
    Wait,
    /// Something can be read now: read, do not wait.
    Ready,
}

impl<M: Mode> Consumer<M> {
    pub(crate) fn from_raw(c: *mut sys::rill_consumer) -> Consumer<M> {
        Consumer {
            raw: NonNull::new(c).expect("rill_consumer_join returned 0 and no handle"),
            // SAFETY: rill_view is plain data (integers and a pointer),
            // all-zero valid.
            last: unsafe { core::mem::zeroed() },
            views: Vec::new(),
            _mode: PhantomData,
        }
    }

    /// The same handle typed with mode `N` (the caller knows it is `N`).
    pub(crate) fn retag<N: Mode>(self) -> Consumer<N> {
        let me = core::mem::ManuallyDrop::new(self);
        Consumer {
            raw: me.raw,
            // SAFETY: views is moved out once; ManuallyDrop keeps Drop
            // (and a second drop of views) away.
            views: unsafe { core::ptr::read(&me.views) },
            last: me.last,
            _mode: PhantomData,
        }
    }

    /// This consumer as a `Consumer<N>` if `N` is its mode, else
    /// [`Error::Invalid`] (and it leaves).
    pub(crate) fn into_mode<N: Mode>(self) -> Result<Consumer<N>> {
        if M::MODE == N::MODE {
            Ok(self.retag())
        } else {
            Err(Error::Invalid)
        }
    }

    /// The raw handle, for calls of `rill-sys` this crate does not wrap.
    /// It stays owned by `self`.
    pub fn as_raw(&mut self) -> *mut sys::rill_consumer {
        self.raw.as_ptr()
    }

    /// The consumer slot it occupies (for [`Channel::rejoin`](crate::Channel::rejoin)
    /// and [`Channel::consumer_stats`](crate::Channel::consumer_stats)).
    pub fn slot(&self) -> u32 {
        // SAFETY: reads a constant field of the live handle.
        unsafe { sys::rill_consumer_slot(self.raw.as_ptr()) }
    }

    /// Copies the next whole message (fragments put together) into `buf`.
    /// `Ok(None)` if none is there yet; [`Error::MessageSize`] with the
    /// message's size if `buf` is too small (it is kept: call again with
    /// more room). A lossy consumer that was lapped skips to the next whole
    /// message and says how many it lost in [`Meta::lost`]; the bytes it
    /// returns were checked.
    #[inline]
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<Option<Meta>> {
        let mut meta = sys::rill_meta::default();
        // SAFETY: live handle, this thread only; buf writable for its
        // length; meta a valid place (written on success and EMSGSIZE).
        let rc = unsafe {
            sys::rill_recv(
                self.raw.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut meta,
            )
        };
        recv_result(rc, &meta)
    }

    /// [`recv`](Consumer::recv) that waits up to `timeout`: spinning, then
    /// parked until the producer publishes. [`Error::TimedOut`];
    /// [`Error::Closed`] / [`Error::ProducerDead`] once the producer left or
    /// died and everything was read.
    pub fn recv_wait(&mut self, buf: &mut [u8], timeout: Duration) -> Result<Meta> {
        let mut meta = sys::rill_meta::default();
        // SAFETY: as in recv.
        let rc = unsafe {
            sys::rill_recv_wait(
                self.raw.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut meta,
                nanos(timeout),
            )
        };
        recv_result(rc, &meta)?.ok_or(Error::TimedOut)
    }

    /// [`recv`](Consumer::recv) into a `Vec`, grown to the message's size
    /// when needed (its length is set to the message's; with `Ok(None)` or
    /// an error, to 0). The bytes are written into the `Vec`'s capacity
    /// directly, never zero-filled first.
    pub fn recv_vec(&mut self, buf: &mut Vec<u8>) -> Result<Option<Meta>> {
        buf.clear();
        if buf.capacity() < 64 {
            buf.reserve(64);
        }
        loop {
            let mut meta = sys::rill_meta::default();
            // SAFETY: live handle, this thread only; the Vec's spare
            // capacity is writable for capacity() bytes (len is 0), and
            // the call writes there nothing but the message's bytes.
            let rc = unsafe {
                sys::rill_recv(
                    self.raw.as_ptr(),
                    buf.as_mut_ptr().cast(),
                    buf.capacity(),
                    &mut meta,
                )
            };
            match recv_result(rc, &meta) {
                Ok(Some(m)) => {
                    // SAFETY: the call copied the whole message, m.size
                    // bytes (<= capacity), to the start of the buffer.
                    unsafe { buf.set_len(m.size as usize) };
                    return Ok(Some(m));
                }
                Err(Error::MessageSize { size }) if size as usize > buf.capacity() => {
                    buf.try_reserve_exact(size as usize)
                        .map_err(|_| Error::NoMemory)?;
                }
                other => return other,
            }
        }
    }

    /// [`recv`](Consumer::recv) without the copy where it can: a reliable
    /// consumer's message in one fragment is returned where it lies in
    /// shared memory; otherwise it is copied into `buf` (and checked, for a
    /// lossy consumer) and the slice is part of `buf`.
    #[inline]
    pub fn recv_view<'a>(&'a mut self, buf: &'a mut [u8]) -> Result<Option<(Meta, &'a [u8])>> {
        let mut meta = sys::rill_meta::default();
        let mut data = core::ptr::null();
        // SAFETY: live handle, this thread only; buf writable for its
        // length; meta and data valid places.
        let rc = unsafe {
            sys::rill_recv_view(
                self.raw.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut meta,
                &mut data,
            )
        };
        match recv_result(rc, &meta)? {
            None => Ok(None),
            Some(m) => {
                let n = m.size as usize;
                let bytes = if n == 0 {
                    &[][..]
                } else {
                    // SAFETY: data points at the message's n bytes: in buf
                    // (borrowed for 'a), or, for a reliable consumer only,
                    // in the data ring, where the producer does not write
                    // them until this consumer moves on, which takes
                    // &mut self, borrowed for 'a (rill.h: valid until the
                    // next call on the consumer).
                    unsafe { slice::from_raw_parts(data.cast::<u8>(), n) }
                };
                Ok(Some((m, bytes)))
            }
        }
    }

    /// How long the waiting calls spin before they park (default 20 µs;
    /// zero parks at once).
    pub fn set_spin(&mut self, spin: Duration) -> Result<()> {
        // SAFETY: live handle, this thread only.
        check(unsafe { sys::rill_consumer_set_spin(self.raw.as_ptr(), nanos(spin)) })?;
        Ok(())
    }

    /// How long a consumer that has just caught up with a streaming
    /// producer waits before it looks again (default 2 µs; zero: never).
    pub fn set_holdoff(&mut self, holdoff: Duration) -> Result<()> {
        // SAFETY: live handle, this thread only.
        check(unsafe { sys::rill_consumer_set_holdoff(self.raw.as_ptr(), nanos(holdoff)) })?;
        Ok(())
    }

    /// Writes the cursor, counters and heartbeat to shared memory now (a
    /// reliable consumer commits its position for a rejoin this way).
    pub fn flush(&mut self) -> Result<()> {
        // SAFETY: live handle, this thread only.
        check(unsafe { sys::rill_consumer_flush(self.raw.as_ptr()) })?;
        Ok(())
    }

    /// Whether the channel's producer lives. An error is the consumer's
    /// own trouble ([`Error::Truncated`]: the region file was shrunk under
    /// it, leave).
    pub fn producer(&mut self) -> Result<Peer> {
        // SAFETY: live handle, this thread only.
        let rc = check(unsafe { sys::rill_consumer_producer(self.raw.as_ptr()) })?;
        Ok(Peer::from_raw(rc.into()))
    }

    /// Drains the wake-up fd and asks the producer to signal it at its
    /// next publish: [`Armed::Wait`] (wait for the fd), [`Armed::Ready`]
    /// (read now); [`Error::Closed`] / [`Error::ProducerDead`] when nothing
    /// is left and the producer left or died; [`Error::Invalid`] before
    /// [`fd`](Consumer::fd) was called.
    pub fn arm(&mut self) -> Result<Armed> {
        // SAFETY: live handle, this thread only.
        match check(unsafe { sys::rill_consumer_arm(self.raw.as_ptr()) })? {
            0 => Ok(Armed::Wait),
            _ => Ok(Armed::Ready),
        }
    }

    /// A file descriptor for `poll`/`epoll` (or a runtime's poller) that
    /// becomes readable when this consumer should look again: after
    /// [`arm`](Consumer::arm) returned [`Armed::Wait`]. The consumer owns
    /// it: do not close it. Made on the first call (a FIFO next to the
    /// region).
    #[cfg(unix)]
    pub fn fd(&mut self) -> Result<std::os::fd::RawFd> {
        // SAFETY: live handle, this thread only.
        check(unsafe { sys::rill_consumer_fd(self.raw.as_ptr()) })
    }

    /// Windows: an event handle signalled when this consumer should look
    /// again (see [`arm`](Consumer::arm)). The consumer owns it.
    #[cfg(windows)]
    pub fn event_handle(&mut self) -> Result<std::os::windows::io::RawHandle> {
        let mut h = core::ptr::null_mut();
        // SAFETY: live handle, this thread only; h a valid out pointer.
        check(unsafe { sys::rill_consumer_handle(self.raw.as_ptr(), &mut h) })?;
        Ok(h)
    }

    /// Leaves the channel (as dropping does), reporting an error.
    pub fn leave(self) -> Result<()> {
        let me = core::mem::ManuallyDrop::new(self);
        // SAFETY: the handle is live and released once: Drop will not run.
        let rc = unsafe { sys::rill_consumer_leave(me.raw.as_ptr()) };
        // SAFETY: views is dropped here, once (ManuallyDrop keeps Drop away).
        drop(unsafe { core::ptr::read(&me.views) });
        check(rc).map(|_| ())
    }

    /// Waits up to `timeout` until one of `consumers` (1 to 128, all used
    /// by this thread) has something to say to its next poll (a message,
    /// an overrun), and returns its index: for a thread that serves several
    /// channels. It spins for the first consumer's spin budget, then sleeps
    /// on all the channels at once. [`Error::TimedOut`]; [`Error::Invalid`]
    /// for an empty list or more than 128. It does not report producers
    /// that left or died: [`producer`](Consumer::producer) tells.
    pub fn wait_any(consumers: &mut [&mut Consumer<M>], timeout: Duration) -> Result<usize> {
        let mut raw =
            [core::ptr::null_mut::<sys::rill_consumer>(); sys::RILL_WAIT_ANY_MAX as usize];
        if consumers.is_empty() || consumers.len() > raw.len() {
            return Err(Error::Invalid);
        }
        for (r, c) in raw.iter_mut().zip(consumers.iter_mut()) {
            *r = c.raw.as_ptr();
        }
        // SAFETY: the first len entries are live handles, each borrowed
        // mutably for the call (so used by this thread only), and distinct
        // (two &mut cannot alias).
        let rc =
            unsafe { sys::rill_wait_any(raw.as_ptr(), consumers.len() as u32, nanos(timeout)) };
        check(rc).map(|i| i as usize)
    }

    /// rill_poll into `self.last`: `Ok(true)` when it holds a view.
    #[inline]
    pub(crate) fn poll_raw(&mut self) -> Result<bool> {
        // SAFETY: live handle, this thread only; last a valid place.
        let rc = unsafe { sys::rill_poll(self.raw.as_ptr(), &mut self.last) };
        view_result(rc, &self.last)
    }

    fn poll_wait_raw(&mut self, timeout: Duration) -> Result<()> {
        // SAFETY: as in poll_raw.
        let rc = unsafe { sys::rill_poll_wait(self.raw.as_ptr(), &mut self.last, nanos(timeout)) };
        if view_result(rc, &self.last)? {
            Ok(())
        } else {
            Err(Error::TimedOut)
        }
    }

    fn poll_many_raw(&mut self, max: usize) -> Result<usize> {
        if max == 0 {
            return Err(Error::Invalid);
        }
        // A call never returns more than the ring holds; past that, room
        // for views would be kept for nothing (and a huge max would not
        // fit in memory).
        let max = max.min(POLL_MANY_MAX);
        if self.views.len() < max {
            // SAFETY: rill_view is plain data, all-zero valid.
            self.views.resize(max, unsafe { core::mem::zeroed() });
        }
        // SAFETY: views has room for max; live handle, this thread only.
        let rc = unsafe { sys::rill_poll_many(self.raw.as_ptr(), self.views.as_mut_ptr(), max) };
        match rc {
            rc if rc > 0 => Ok(rc as usize),
            rc if rc == -sys::RILL_EAGAIN => Ok(0),
            rc if rc == -sys::RILL_EOVERRUN => Err(Error::Overrun {
                lost: self.views[0].lost,
            }),
            rc => Err(Error::from_code(rc.into())),
        }
    }
}

/// The most descriptors one poll_many takes (the deepest ring rill makes,
/// 2^24, would need 1 GiB of views; a batch of 64 Ki is plenty).
const POLL_MANY_MAX: usize = 1 << 16;

/// The result of a rill_recv-like call that wrote `meta` (on success, and
/// its size on EMSGSIZE; `meta` starts zeroed, so its reserved fields,
/// which the call does not write, are initialised too).
fn recv_result(rc: i64, meta: &sys::rill_meta) -> Result<Option<Meta>> {
    if rc >= 0 {
        return Ok(Some(Meta::from_raw(meta)));
    }
    match rc as c_int {
        rc if rc == -sys::RILL_EAGAIN => Ok(None),
        rc if rc == -sys::RILL_EMSGSIZE => Err(Error::MessageSize { size: meta.sz }),
        _ => check64(rc).map(|_| None),
    }
}

/// The result of a rill_poll-like call that wrote `v`: `Ok(true)` with a
/// view in `v`, `Ok(false)` for nothing yet.
#[inline]
fn view_result(rc: c_int, v: &sys::rill_view) -> Result<bool> {
    match rc {
        0 => Ok(true),
        rc if rc == -sys::RILL_EAGAIN => Ok(false),
        rc if rc == -sys::RILL_EOVERRUN => Err(Error::Overrun { lost: v.lost }),
        rc => Err(Error::from_code(rc.into())),
    }
}

impl Consumer<Reliable> {
    /// Looks at the next descriptor: `Ok(None)` if nothing is published
    /// yet. The view is the payload where it lies in shared memory (no
    /// copy), valid until the next call on this consumer, which the borrow
    /// checker enforces. A message longer than the mtu comes as several
    /// fragments ([`View::ctl`] has SOM on the first, EOM on the last);
    /// [`recv`](Consumer::recv) puts them together.
    ///
    /// ```compile_fail
    /// # fn f(rx: &mut rill::Consumer<rill::Reliable>) -> rill::Result<()> {
    /// let first = rx.poll()?.unwrap();
    /// let second = rx.poll()?;   // error: rx is still borrowed by `first`
    /// println!("{}", first.len());
    /// # Ok(()) }
    /// ```
    #[inline]
    pub fn poll(&mut self) -> Result<Option<View<'_>>> {
        Ok(if self.poll_raw()? {
            Some(View::new(&self.last))
        } else {
            None
        })
    }

    /// [`poll`](Consumer::poll) that waits up to `timeout`: spinning for
    /// the spin budget, then parked until the producer publishes
    /// ([`Error::TimedOut`]; [`Error::Closed`] / [`Error::ProducerDead`]
    /// when the producer left or died and everything was read).
    pub fn poll_wait(&mut self, timeout: Duration) -> Result<View<'_>> {
        self.poll_wait_raw(timeout)?;
        Ok(View::new(&self.last))
    }

    /// Takes up to `max` descriptors that are ready (at most 65536), in
    /// order, in one call (cheaper per message than polling each): an empty
    /// batch if none is. [`Error::Invalid`] for `max` 0.
    pub fn poll_many(&mut self, max: usize) -> Result<Views<'_>> {
        let n = self.poll_many_raw(max)?;
        Ok(Views {
            views: &self.views[..n],
        })
    }
}

impl Consumer<Lossy> {
    /// Looks at the next descriptor: `Ok(None)` if nothing is published
    /// yet; [`Error::Overrun`] with how many were lost if the producer
    /// lapped this consumer (the next poll returns the oldest message still
    /// there). The view's bytes may be overwritten while they are read:
    /// [`LossyView::read`] copies and checks them.
    #[inline]
    pub fn poll(&mut self) -> Result<Option<LossyView<'_>>> {
        let c = self.raw;
        Ok(if self.poll_raw()? {
            Some(LossyView::new(&self.last, c))
        } else {
            None
        })
    }

    /// [`poll`](Consumer::poll) that waits up to `timeout` (see
    /// [`Consumer::<Reliable>::poll_wait`](Consumer::poll_wait)).
    pub fn poll_wait(&mut self, timeout: Duration) -> Result<LossyView<'_>> {
        let c = self.raw;
        self.poll_wait_raw(timeout)?;
        Ok(LossyView::new(&self.last, c))
    }

    /// Takes up to `max` descriptors that are ready (at most 65536), in
    /// order, in one call. Each view is checked on its own.
    pub fn poll_many(&mut self, max: usize) -> Result<LossyViews<'_>> {
        let n = self.poll_many_raw(max)?;
        Ok(LossyViews {
            views: &self.views[..n],
            c: self.raw,
        })
    }

    /// Moves to the last `n` messages still in the ring, as `tail` shows
    /// the end of a file (0: only what comes next). Returns how many
    /// messages it went back over (at most `n`).
    pub fn seek_last(&mut self, n: u64) -> Result<u64> {
        // SAFETY: live handle, this thread only.
        check64(unsafe { sys::rill_consumer_seek_last(self.raw.as_ptr(), n) })
    }
}

impl<M: Mode> Drop for Consumer<M> {
    fn drop(&mut self) {
        // SAFETY: the handle is live and released once.
        unsafe { sys::rill_consumer_leave(self.raw.as_ptr()) };
    }
}

/// A message (or a fragment of one) as a reliable consumer sees it: its
/// bytes in shared memory (`Deref<Target = [u8]>`), no copy. Nobody writes
/// them while the view lives: the producer waits for this consumer to move
/// on, which needs `&mut` of the consumer the view borrows.
#[derive(Clone, Copy)]
pub struct View<'c> {
    /// The descriptor, where the poll wrote it in the consumer.
    raw: &'c sys::rill_view,
}

impl View<'_> {
    pub(crate) fn new(raw: &sys::rill_view) -> View<'_> {
        View { raw }
    }
}

/// The descriptor fields every view has.
macro_rules! view_fields {
    ($t:ident) => {
        impl $t<'_> {
            /// The sequence number.
            pub fn seq(&self) -> u64 {
                self.raw.seq
            }
            /// The producer's sig.
            pub fn sig(&self) -> u64 {
                self.raw.sig
            }
            /// The ctl bits ([`ctl`](crate::ctl)).
            pub fn ctl(&self) -> u16 {
                self.raw.ctl
            }
            /// True if this descriptor is a whole message (SOM and EOM).
            pub fn is_whole(&self) -> bool {
                self.raw.ctl & crate::ctl::MSG == crate::ctl::MSG
            }
            /// The application's timestamp.
            pub fn tsorig(&self) -> u32 {
                self.raw.tsorig
            }
            /// The publish stamp (0: not stamped).
            pub fn tspub(&self) -> u32 {
                self.raw.tspub
            }
            /// The payload's size in bytes.
            pub fn len(&self) -> usize {
                self.raw.sz as usize
            }
            /// True for a payload of no bytes.
            pub fn is_empty(&self) -> bool {
                self.raw.sz == 0
            }
        }
        impl core::fmt::Debug for $t<'_> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_struct(stringify!($t))
                    .field("seq", &self.raw.seq)
                    .field("sig", &self.raw.sig)
                    .field("len", &self.raw.sz)
                    .field("ctl", &self.raw.ctl)
                    .finish()
            }
        }
    };
}
view_fields!(View);
view_fields!(LossyView);

impl core::ops::Deref for View<'_> {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        if self.raw.sz == 0 {
            return &[];
        }
        // SAFETY: rill_poll pointed data at sz bytes inside the channel's
        // data ring (it checks the descriptor's bounds, whatever the
        // producer wrote); the mapping lives as long as the consumer,
        // which the view borrows; the producer of a reliable consumer does
        // not write those bytes until the consumer moves on (rill.h: valid
        // until the next call), and that needs &mut Consumer.
        unsafe { slice::from_raw_parts(self.raw.data.cast::<u8>(), self.raw.sz as usize) }
    }
}

impl AsRef<[u8]> for View<'_> {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

/// A batch of views from [`Consumer::<Reliable>::poll_many`](Consumer::poll_many).
#[derive(Debug, Clone, Copy)]
pub struct Views<'c> {
    views: &'c [sys::rill_view],
}

impl<'c> Views<'c> {
    /// How many views.
    pub fn len(&self) -> usize {
        self.views.len()
    }
    /// True if nothing was ready.
    pub fn is_empty(&self) -> bool {
        self.views.is_empty()
    }
    /// View `i`, if `i < len()`.
    pub fn get(&self, i: usize) -> Option<View<'c>> {
        self.views.get(i).map(View::new)
    }
    /// The views in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = View<'c>> + 'c {
        self.views.iter().map(View::new)
    }
}

/// A message (or fragment) as a lossy consumer sees it. The producer may
/// overwrite its bytes at any moment, so there is no `&[u8]` of them: copy
/// them out with [`read`](LossyView::read) or [`to_vec`](LossyView::to_vec),
/// which check afterwards that they were not overwritten
/// ([`Error::Overrun`] if they may have been). The unchecked look is
/// [`bytes_unchecked`](LossyView::bytes_unchecked), which is `unsafe`.
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("rill-lossy-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// # let region = rill::Region::create("r", &rill::RegionOptions::new().dir(&dir).size(1 << 20))?;
/// # let ch = region.create_channel("c", &rill::ChannelOptions::new().depth(64))?;
/// let mut rx = ch.lossy()?;
/// let mut tx = ch.producer()?;
/// tx.send(b"price 101.5", 1)?;
/// let view = rx.poll()?.expect("published");
/// let mut buf = [0u8; 64];
/// let n = view.read(&mut buf)?;     // Err(Overrun) if it was overwritten meanwhile
/// assert_eq!(&buf[..n], b"price 101.5");
/// # drop(rx); drop(tx);
/// # rill::Region::unlink("r", Some(&dir))?; std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), rill::Error>(())
/// ```
pub struct LossyView<'c> {
    /// The descriptor, where the poll wrote it in the consumer.
    raw: &'c sys::rill_view,
    c: NonNull<sys::rill_consumer>,
}

impl LossyView<'_> {
    pub(crate) fn new(raw: &sys::rill_view, c: NonNull<sys::rill_consumer>) -> LossyView<'_> {
        LossyView { raw, c }
    }

    /// `Ok` if the bytes were not overwritten since the poll, else
    /// [`Error::Overrun`] (with `lost` 0): anything read from them must be
    /// thrown away. Each failed check counts once in the slot's
    /// [`overrun_read`](crate::ConsumerStats::overrun_read), so call it
    /// once per read ([`read`](LossyView::read) and
    /// [`to_vec`](LossyView::to_vec) call it themselves).
    #[inline]
    pub fn check(&self) -> Result<()> {
        // SAFETY: the consumer is live and used by this thread only: the
        // view borrows it mutably (through the batch, for poll_many), and
        // is neither Send nor Sync (it holds a raw pointer).
        let rc = unsafe { sys::rill_check(self.c.as_ptr(), self.raw) };
        match rc {
            0 => Ok(()),
            rc if rc == -sys::RILL_EOVERRUN => Err(Error::Overrun { lost: 0 }),
            rc => Err(Error::from_code(rc.into())),
        }
    }

    /// Copies the bytes into the start of `dst` and checks them: the
    /// number of bytes, or [`Error::Overrun`] (discard what was copied),
    /// or [`Error::MessageSize`] if `dst` is shorter than [`len`](LossyView::len).
    #[inline]
    pub fn read(&self, dst: &mut [u8]) -> Result<usize> {
        let n = self.raw.sz as usize;
        let Some(dst) = dst.get_mut(..n) else {
            return Err(Error::MessageSize { size: n as u64 });
        };
        if n > 0 {
            // SAFETY: data points at n bytes inside the channel's mapping
            // (bounds checked by rill_poll), alive while the consumer is.
            unsafe { copy_racy(self.raw.data.cast::<u8>(), dst) };
        }
        self.check().map(|()| n)
    }

    /// The bytes, copied and checked, in a new `Vec`.
    pub fn to_vec(&self) -> Result<Vec<u8>> {
        let mut v = vec![0u8; self.raw.sz as usize];
        self.read(&mut v)?;
        Ok(v)
    }

    /// The bytes where they lie, unchecked.
    ///
    /// # Safety
    /// The producer may write these bytes while the slice lives, which
    /// Rust's rules for `&[u8]` do not allow. Use it only where such a
    /// race cannot happen (the producer is known to be stopped, or too far
    /// behind to reach them), and call [`check`](LossyView::check) after
    /// reading before trusting anything read.
    pub unsafe fn bytes_unchecked(&self) -> &[u8] {
        if self.raw.sz == 0 {
            return &[];
        }
        // SAFETY: in bounds and mapped (as in read); the absence of a
        // concurrent write is the caller's promise.
        unsafe { slice::from_raw_parts(self.raw.data.cast::<u8>(), self.raw.sz as usize) }
    }
}

/// A batch of views from [`Consumer::<Lossy>::poll_many`](Consumer::poll_many).
#[derive(Debug)]
pub struct LossyViews<'c> {
    views: &'c [sys::rill_view],
    c: NonNull<sys::rill_consumer>,
}

impl<'c> LossyViews<'c> {
    /// How many views.
    pub fn len(&self) -> usize {
        self.views.len()
    }
    /// True if nothing was ready.
    pub fn is_empty(&self) -> bool {
        self.views.is_empty()
    }
    /// View `i`, if `i < len()`.
    pub fn get(&self, i: usize) -> Option<LossyView<'_>> {
        self.views.get(i).map(|v| LossyView::new(v, self.c))
    }
    /// The views in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = LossyView<'_>> + '_ {
        self.views.iter().map(|v| LossyView::new(v, self.c))
    }
}

/// Copies `dst.len()` bytes from `src`, which another process may be
/// writing meanwhile: with relaxed atomic loads (plain loads on the
/// hardware), so the race is not undefined behaviour in Rust's model, only
/// a torn value, which the check after the copy catches (rill_check's
/// acquire fence orders these loads before its second look at the
/// descriptor). The data ring is mapped read-only: the loads are of the
/// pointer's size at most, which std promises work on read-only memory
/// (a wider atomic load may be a compare-exchange on some targets).
///
/// # Safety
/// `src` must be valid for reads of `dst.len()` bytes, in memory that is
/// only ever accessed with atomic or foreign (C) accesses by this process.
#[inline]
unsafe fn copy_racy(src: *const u8, dst: &mut [u8]) {
    const W: usize = core::mem::size_of::<usize>();
    let n = dst.len();
    let mut i = 0;
    while i < n && (src as usize + i) % W != 0 {
        // SAFETY: i < n, so src + i is in bounds; AtomicU8 has u8's size
        // and alignment.
        dst[i] = unsafe { AtomicU8::from_ptr(src.add(i).cast_mut()) }.load(Ordering::Relaxed);
        i += 1;
    }
    while i + W <= n {
        // SAFETY: i + W <= n, so the W bytes are in bounds; src + i is
        // W-aligned (the loop above), as AtomicUsize needs.
        let w = unsafe { AtomicUsize::from_ptr(src.add(i).cast::<usize>().cast_mut()) }
            .load(Ordering::Relaxed);
        dst[i..i + W].copy_from_slice(&w.to_ne_bytes());
        i += W;
    }
    while i < n {
        // SAFETY: as in the first loop.
        dst[i] = unsafe { AtomicU8::from_ptr(src.add(i).cast_mut()) }.load(Ordering::Relaxed);
        i += 1;
    }
}
