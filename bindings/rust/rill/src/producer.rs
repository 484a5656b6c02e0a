// SPDX-License-Identifier: Apache-2.0 OR MIT
//! [`Producer`]: the one writer of a channel.
use crate::error::{Error, Result, check};
use crate::{ctl, nanos};
use core::ffi::c_void;
use core::marker::PhantomData;
use core::ptr::{self, NonNull};
use core::slice;
use rill_sys as sys;
use std::time::Duration;

/// The producer of a channel: it copies messages in ([`send`](Producer::send))
/// or has them written in place ([`reserve`](Producer::reserve)), and
/// publishes them to every consumer.
///
/// One producer per channel at a time. It is `Send` (move it to the thread
/// that publishes) but not `Sync`: rill.h's rule is one thread at a time
/// per endpoint, and every publishing call takes `&mut self`. Dropping it
/// leaves the channel: waiting consumers get [`Error::Closed`] once they
/// have read everything. A producer whose process dies is seen dead by its
/// consumers ([`Error::ProducerDead`]) and may be replaced by a new one.
#[derive(Debug)]
pub struct Producer {
    raw: NonNull<sys::rill_producer>,
    /// The buffers of the last reserve_many, reused.
    bufs: Vec<*mut c_void>,
}

// SAFETY: a producer handle is used by one thread at a time (rill.h); it
// holds no thread-bound state (its lock is on a file, not a thread), so it
// may move to another thread. Not Sync: methods taking &self would let two
// threads use it at once, which the C contract does not allow for all of
// them.
unsafe impl Send for Producer {}

/// A message for [`Producer::send_many`]: its bytes, sig, application ctl
/// bits and timestamp. The same layout as C's `rill_msg` (a slice of them
/// goes to librill as it is).
///
/// ```
/// let batch = [rill::OutMsg::new(b"one", 1), rill::OutMsg::new(b"two", 2).tsorig(99)];
/// assert_eq!(batch[1].len(), 3);
/// ```
#[repr(transparent)]
#[derive(Debug, Clone, Copy)]
pub struct OutMsg<'a> {
    raw: sys::rill_msg,
    _data: PhantomData<&'a [u8]>,
}

// SAFETY: an OutMsg is a &'a [u8] (its data pointer borrows one, only
// read) with plain integers: it may go to and be shared by other threads
// as the slice may.
unsafe impl Send for OutMsg<'_> {}
// SAFETY: as above.
unsafe impl Sync for OutMsg<'_> {}
// SAFETY: a Commit's data pointer is always NULL (commit_many ignores
// it); the rest are integers.
unsafe impl Send for Commit {}
// SAFETY: as above.
unsafe impl Sync for Commit {}

impl<'a> OutMsg<'a> {
    /// `data` as one message with `sig`.
    pub fn new(data: &'a [u8], sig: u64) -> OutMsg<'a> {
        OutMsg {
            raw: sys::rill_msg {
                data: if data.is_empty() {
                    ptr::null()
                } else {
                    data.as_ptr().cast()
                },
                sz: data.len(),
                sig,
                ctl: 0,
                reserved0: 0,
                tsorig: 0,
            },
            _data: PhantomData,
        }
    }
    /// With `ctl`'s [`ctl::ERR`] and application bits (see [`ctl::user`]);
    /// SOM and EOM are set by the send.
    pub fn ctl(mut self, ctl: u16) -> OutMsg<'a> {
        self.raw.ctl = ctl;
        self
    }
    /// With the application timestamp `ts` (the consumer's `tsorig`).
    pub fn tsorig(mut self, ts: u32) -> OutMsg<'a> {
        self.raw.tsorig = ts;
        self
    }
    /// The message's size.
    pub fn len(&self) -> usize {
        self.raw.sz
    }
    /// True for a message of no bytes.
    pub fn is_empty(&self) -> bool {
        self.raw.sz == 0
    }
}

/// One descriptor of a [`Reserved`] batch: how many of its buffer's bytes
/// to publish, with which sig, ctl and timestamp. C's `rill_msg` layout.
#[repr(transparent)]
#[derive(Debug, Clone, Copy)]
pub struct Commit {
    raw: sys::rill_msg,
}

impl Commit {
    /// `len` bytes of the buffer as a whole message with `sig`.
    pub fn new(len: usize, sig: u64) -> Commit {
        Commit {
            raw: sys::rill_msg {
                data: ptr::null(),
                sz: len,
                sig,
                ctl: ctl::MSG,
                reserved0: 0,
                tsorig: 0,
            },
        }
    }
    /// With these ctl bits in place of [`ctl::MSG`] (SOM/EOM of fragments,
    /// [`ctl::ERR`], application bits).
    pub fn ctl(mut self, ctl: u16) -> Commit {
        self.raw.ctl = ctl;
        self
    }
    /// With the application timestamp `ts`.
    pub fn tsorig(mut self, ts: u32) -> Commit {
        self.raw.tsorig = ts;
        self
    }
}

impl Producer {
    pub(crate) fn from_raw(p: *mut sys::rill_producer) -> Producer {
        Producer {
            raw: NonNull::new(p).expect("rill_producer_join returned 0 and no handle"),
            bufs: Vec::new(),
        }
    }

    /// The raw handle, for calls of `rill-sys` this crate does not wrap.
    /// It stays owned by `self`.
    pub fn as_raw(&mut self) -> *mut sys::rill_producer {
        self.raw.as_ptr()
    }

    /// Copies `data` (up to the channel's `max_msg`) and publishes it as one
    /// message, in fragments of at most the mtu. All or nothing:
    /// [`Error::Again`] when a reliable consumer has not left room for
    /// every fragment yet (nothing is published);
    /// [`Error::MessageSize`] when it is too large.
    #[inline]
    pub fn send(&mut self, data: &[u8], sig: u64) -> Result<()> {
        // SAFETY: live handle used by this thread only (&mut self); data
        // is readable for data.len() bytes during the call.
        check(unsafe { sys::rill_send(self.raw.as_ptr(), data.as_ptr().cast(), data.len(), sig) })?;
        Ok(())
    }

    /// [`send`](Producer::send) that waits up to `timeout` for room
    /// (spinning, then parked until a consumer advances, leaves or is
    /// evicted): [`Error::TimedOut`] in place of [`Error::Again`].
    /// `Duration::MAX` waits without limit.
    pub fn send_wait(&mut self, data: &[u8], sig: u64, timeout: Duration) -> Result<()> {
        // SAFETY: as in send.
        check(unsafe {
            sys::rill_send_wait(
                self.raw.as_ptr(),
                data.as_ptr().cast(),
                data.len(),
                sig,
                nanos(timeout),
            )
        })?;
        Ok(())
    }

    /// Copies and publishes a batch of messages, all or nothing
    /// ([`Error::Again`] if the room for every fragment is not there;
    /// [`Error::Invalid`] for an empty batch or one with more fragments
    /// than the ring holds).
    pub fn send_many(&mut self, msgs: &[OutMsg<'_>]) -> Result<()> {
        // SAFETY: OutMsg is repr(transparent) over rill_msg, so the slice
        // is count valid rill_msgs whose data pointers borrow live slices
        // (or are NULL with sz 0); live handle, this thread only.
        check(unsafe { sys::rill_send_many(self.raw.as_ptr(), msgs.as_ptr().cast(), msgs.len()) })?;
        Ok(())
    }

    /// Reserves `n` bytes (up to the mtu) in the data ring for one
    /// descriptor, to be written in place and then
    /// [committed](Reservation::commit). [`Error::Again`] when there is no
    /// room yet, [`Error::MessageSize`] over the mtu. Dropping the
    /// reservation publishes nothing.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("rill-reserve-doc-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # let region = rill::Region::create("r", &rill::RegionOptions::new().dir(&dir).size(1 << 20))?;
    /// # let ch = region.create_channel("c", &rill::ChannelOptions::new().depth(64))?;
    /// # let mut rx = ch.reliable()?;
    /// # let mut tx = ch.producer()?;
    /// let mut buf = tx.reserve(16)?;
    /// buf[..5].copy_from_slice(b"hello");
    /// buf.commit(5, 42)?;
    /// assert_eq!(&rx.poll()?.unwrap()[..], b"hello");
    /// # drop(rx); drop(tx);
    /// # rill::Region::unlink("r", Some(&dir))?; std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), rill::Error>(())
    /// ```
    #[inline]
    pub fn reserve(&mut self, n: usize) -> Result<Reservation<'_>> {
        let mut buf = ptr::null_mut();
        // SAFETY: live handle, this thread only; buf a valid out pointer.
        check(unsafe { sys::rill_reserve(self.raw.as_ptr(), n, &mut buf) })?;
        Ok(Reservation {
            p: self,
            buf: buf.cast(),
            n,
        })
    }

    /// [`reserve`](Producer::reserve) that waits up to `timeout` for room:
    /// [`Error::TimedOut`] in place of [`Error::Again`].
    pub fn reserve_wait(&mut self, n: usize, timeout: Duration) -> Result<Reservation<'_>> {
        let mut buf = ptr::null_mut();
        // SAFETY: as in reserve.
        check(unsafe { sys::rill_reserve_wait(self.raw.as_ptr(), n, &mut buf, nanos(timeout)) })?;
        Ok(Reservation {
            p: self,
            buf: buf.cast(),
            n,
        })
    }

    /// Reserves `count` buffers of `n` bytes each (`n` up to the mtu), to
    /// be written and then published together by [`Reserved::commit`].
    /// [`Error::Again`] without room for all of them.
    pub fn reserve_many(&mut self, count: usize, n: usize) -> Result<Reserved<'_>> {
        // No ring is deeper than 2^24: more buffers could never be
        // reserved (and a huge count would not fit in memory).
        if count == 0 || count > 1 << 24 {
            return Err(Error::Invalid);
        }
        self.bufs.clear();
        self.bufs.resize(count, ptr::null_mut());
        // SAFETY: bufs has room for count pointers; live handle, this
        // thread only. count 0 is refused by the call (EINVAL).
        check(unsafe {
            sys::rill_reserve_many(self.raw.as_ptr(), count, n, self.bufs.as_mut_ptr())
        })?;
        Ok(Reserved { p: self, n })
    }

    /// Waits up to `timeout` until at least `n` consumers are joined and
    /// alive, so that the next message reaches them all. Returns how many
    /// are ([`Error::TimedOut`], [`Error::Invalid`] for more than the
    /// channel's slots).
    pub fn wait_consumers(&mut self, n: u32, timeout: Duration) -> Result<u32> {
        // SAFETY: live handle, this thread only.
        let rc = check(unsafe {
            sys::rill_producer_wait_consumers(self.raw.as_ptr(), n, nanos(timeout))
        })?;
        Ok(rc as u32)
    }

    /// How long the waiting calls spin before they park (default 20 µs;
    /// zero parks at once).
    pub fn set_spin(&mut self, spin: Duration) -> Result<()> {
        // SAFETY: live handle, this thread only.
        check(unsafe { sys::rill_producer_set_spin(self.raw.as_ptr(), nanos(spin)) })?;
        Ok(())
    }

    /// How long a reliable consumer found dead keeps holding the producer
    /// back before it is evicted (default 1 s; `Duration::MAX`: never).
    pub fn set_evict(&mut self, after: Duration) -> Result<()> {
        // SAFETY: live handle, this thread only.
        check(unsafe { sys::rill_producer_set_evict(self.raw.as_ptr(), nanos(after)) })?;
        Ok(())
    }

    /// Stamp every descriptor's `tspub` (`true`), or only those the
    /// consumers' latency samples need (`false`, the default: cheaper).
    pub fn set_stamp_every(&mut self, every: bool) -> Result<()> {
        let mode = if every {
            sys::RILL_STAMP_EVERY
        } else {
            sys::RILL_STAMP_SAMPLED
        };
        // SAFETY: live handle, this thread only.
        check(unsafe { sys::rill_producer_set_stamp(self.raw.as_ptr(), mode) })?;
        Ok(())
    }

    /// The sequence number the next descriptor gets.
    pub fn seq(&self) -> u64 {
        // SAFETY: reads the handle's own position; no other thread uses the
        // handle (the type is not Sync).
        unsafe { sys::rill_producer_seq(self.raw.as_ptr()) }
    }

    /// Writes the counters, position and heartbeat to shared memory now
    /// (otherwise done every so many messages and when out of room).
    pub fn flush(&mut self) -> Result<()> {
        // SAFETY: live handle, this thread only.
        check(unsafe { sys::rill_producer_flush(self.raw.as_ptr()) })?;
        Ok(())
    }

    /// Leaves the channel (as dropping does), reporting an error.
    pub fn leave(self) -> Result<()> {
        let me = core::mem::ManuallyDrop::new(self);
        // SAFETY: the handle is live and released once: Drop will not run.
        let rc = unsafe { sys::rill_producer_leave(me.raw.as_ptr()) };
        // SAFETY: bufs is dropped here, once (ManuallyDrop keeps Drop away).
        drop(unsafe { ptr::read(&me.bufs) });
        check(rc).map(|_| ())
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        // SAFETY: the handle is live and released once.
        unsafe { sys::rill_producer_leave(self.raw.as_ptr()) };
    }
}

/// Room reserved by [`Producer::reserve`]: `&mut [u8]` of the size asked
/// for, in the channel's data ring. Write the payload, then
/// [`commit`](Reservation::commit) it; dropping it publishes nothing.
///
/// The bytes hold whatever an earlier message left there.
#[derive(Debug)]
pub struct Reservation<'p> {
    p: &'p mut Producer,
    buf: *mut u8,
    n: usize,
}

impl Reservation<'_> {
    /// Publishes the first `len` bytes as a whole message with `sig`
    /// ([`Error::Invalid`] if `len` is more than was reserved).
    #[inline]
    pub fn commit(self, len: usize, sig: u64) -> Result<()> {
        self.commit_with(len, sig, ctl::MSG, 0)
    }

    /// Publishes the first `len` bytes as one descriptor with these ctl
    /// bits (SOM/EOM for the fragments of a longer message,
    /// [`ctl::ERR`], application bits) and application timestamp.
    #[inline]
    pub fn commit_with(self, len: usize, sig: u64, ctl: u16, tsorig: u32) -> Result<()> {
        if len > self.n {
            return Err(Error::Invalid);
        }
        // SAFETY: the reservation is the producer's current one (it holds
        // &mut Producer, so no other call came between); live handle.
        let rc = unsafe {
            if tsorig == 0 {
                sys::rill_commit(self.p.raw.as_ptr(), len, sig, ctl)
            } else {
                sys::rill_commit_ts(self.p.raw.as_ptr(), len, sig, ctl, tsorig)
            }
        };
        check(rc).map(|_| ())
    }

    /// Publishes the `len` bytes at `offset` (a multiple of 64) as a whole
    /// message: for a payload built backwards from the buffer's end
    /// (FlatBuffers). The bytes before `offset` are not sent.
    /// [`Error::Invalid`] if `offset` is not a multiple of 64 or the bytes
    /// are not all within the reservation.
    pub fn commit_at(self, offset: usize, len: usize, sig: u64) -> Result<()> {
        if offset % 64 != 0 || offset.checked_add(len).is_none_or(|end| end > self.n) {
            return Err(Error::Invalid);
        }
        // SAFETY: offset + len lies within the reserved bytes (checked), so
        // the pointer stays in the reservation; the reservation is the
        // producer's current one; live handle.
        let rc = unsafe {
            sys::rill_commit_at(
                self.p.raw.as_ptr(),
                self.buf.add(offset).cast(),
                len,
                sig,
                ctl::MSG,
            )
        };
        check(rc).map(|_| ())
    }
}

impl core::ops::Deref for Reservation<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: rill_reserve pointed buf at n bytes of the data ring that
        // only this producer writes and no consumer is told about until the
        // commit; they stay reserved while self lives (it holds &mut
        // Producer, so no other reserve can move them). The mapping is
        // readable and writable, and every byte is initialised (the file
        // starts zeroed).
        unsafe { slice::from_raw_parts(self.buf, self.n) }
    }
}

impl core::ops::DerefMut for Reservation<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in deref; &mut self makes this the only reference.
        unsafe { slice::from_raw_parts_mut(self.buf, self.n) }
    }
}

/// Buffers reserved by [`Producer::reserve_many`]: write each
/// ([`buf`](Reserved::buf)), then [`commit`](Reserved::commit) some or all
/// of them at once. Dropping it publishes nothing.
#[derive(Debug)]
pub struct Reserved<'p> {
    p: &'p mut Producer,
    n: usize,
}

impl Reserved<'_> {
    /// How many buffers were reserved.
    pub fn count(&self) -> usize {
        self.p.bufs.len()
    }

    /// Buffer `i` (panics if `i >= count()`), `n` bytes.
    pub fn buf(&mut self, i: usize) -> &mut [u8] {
        let p = self.p.bufs[i];
        // SAFETY: rill_reserve_many pointed bufs[i] at n bytes of the data
        // ring, disjoint from the other buffers, reserved while self holds
        // &mut Producer; &mut self makes this the only reference to them.
        unsafe { slice::from_raw_parts_mut(p.cast::<u8>(), self.n) }
    }

    /// Publishes the first `msgs.len()` buffers, the i-th as `msgs[i]`
    /// says. [`Error::Invalid`] (nothing published) for an empty list, more
    /// than were reserved, or a size over `n`.
    pub fn commit(self, msgs: &[Commit]) -> Result<()> {
        // SAFETY: Commit is repr(transparent) over rill_msg; the
        // reservation is the producer's current one; live handle.
        check(unsafe {
            sys::rill_commit_many(self.p.raw.as_ptr(), msgs.as_ptr().cast(), msgs.len())
        })?;
        Ok(())
    }
}
