// SPDX-License-Identifier: Apache-2.0 OR MIT
//! The few calls of rill's C API (include/rill.h) that the benchmark uses,
//! declared by hand, and a channel that owns a region, its one channel and
//! the channel's two endpoints.
//!
//! The structs mirror the C ones field by field; the size assertions below
//! are the ones a change of rill.h would break.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::marker::PhantomData;
use std::path::Path;

use crate::chan::{Channel, Poll, Rx, Tx};

#[repr(C)]
pub struct RegionOpts {
    pub size: u64,
    pub dir: *const c_char,
    pub mode: u32,
    pub flags: u32,
    pub reserved: [u64; 5],
}

#[repr(C)]
pub struct ChannelOpts {
    pub depth: u32,
    pub mtu: u32,
    pub max_consumers: u32,
    pub flags: u32,
    pub max_msg: u64,
    pub reserved: [u64; 5],
}

#[repr(C)]
pub struct View {
    pub data: *const c_void,
    pub seq: u64,
    pub sig: u64,
    pub sz: u32,
    pub ctl: u16,
    pub reserved0: u16,
    pub tsorig: u32,
    pub tspub: u32,
    pub lost: u64,
    pub reserved: [u64; 2],
}

// rill.h's ABI rule: these sizes do not change; reserved fields of the
// options must be zero.
const _: () = assert!(std::mem::size_of::<RegionOpts>() == 64);
const _: () = assert!(std::mem::size_of::<ChannelOpts>() == 64);
const _: () = assert!(std::mem::size_of::<View>() == 64);

pub const EAGAIN: c_int = 1;
pub const EOVERRUN: c_int = 2;
pub const RELIABLE: c_int = 1;

#[repr(C)]
pub struct Region {
    _opaque: [u8; 0],
}
#[repr(C)]
pub struct Producer {
    _opaque: [u8; 0],
}
#[repr(C)]
pub struct Consumer {
    _opaque: [u8; 0],
}

unsafe extern "C" {
    fn rill_strerror(err: c_int) -> *const c_char;
    fn rill_region_create(
        name: *const c_char,
        opts: *const RegionOpts,
        out: *mut *mut Region,
    ) -> c_int;
    fn rill_region_close(r: *mut Region) -> c_int;
    fn rill_region_unlink(name: *const c_char, dir: *const c_char) -> c_int;
    fn rill_channel_footprint(opts: *const ChannelOpts) -> u64;
    fn rill_channel_create(r: *mut Region, name: *const c_char, opts: *const ChannelOpts) -> c_int;
    fn rill_producer_join(r: *mut Region, name: *const c_char, out: *mut *mut Producer) -> c_int;
    fn rill_producer_leave(p: *mut Producer) -> c_int;
    fn rill_send(p: *mut Producer, data: *const c_void, n: usize, sig: u64) -> c_int;
    fn rill_consumer_join(
        r: *mut Region,
        name: *const c_char,
        mode: c_int,
        out: *mut *mut Consumer,
    ) -> c_int;
    fn rill_consumer_leave(c: *mut Consumer) -> c_int;
    fn rill_consumer_flush(c: *mut Consumer) -> c_int;
    fn rill_poll(c: *mut Consumer, v: *mut View) -> c_int;
}

pub fn strerror(rc: c_int) -> String {
    // SAFETY: rill_strerror returns a static string for any code.
    unsafe {
        CStr::from_ptr(rill_strerror(rc))
            .to_string_lossy()
            .into_owned()
    }
}

fn check(what: &str, rc: c_int) -> Result<(), String> {
    if rc < 0 {
        Err(format!("{what}: {}", strerror(rc)))
    } else {
        Ok(())
    }
}

/// A region holding one channel, its producer and one reliable consumer,
/// all joined by this thread.  The region's file is unlinked as soon as both
/// endpoints are joined (they keep their mappings), so nothing is left in
/// the directory even if the program is killed.
pub struct RillChan {
    region: *mut Region,
    prod: *mut Producer,
    cons: *mut Consumer,
}

// SAFETY: the handles are used by one thread at a time (rill.h: "A producer
// handle or a consumer handle is used by one thread at a time"); the channel
// hands them to its two threads through `endpoints(&mut self)`.
unsafe impl Send for RillChan {}

impl RillChan {
    /// Channel of DEPTH descriptors and payloads of at most MTU bytes, in a
    /// fresh region NAME of directory DIR.
    pub fn new(dir: &Path, name: &str, depth: u32, mtu: u32) -> Result<RillChan, String> {
        let cdir = CString::new(dir.as_os_str().as_encoded_bytes()).map_err(|e| e.to_string())?;
        let cname = CString::new(name).map_err(|e| e.to_string())?;
        let chname = c"c";
        let copts = ChannelOpts {
            depth,
            mtu,
            max_consumers: 1,
            flags: 0,
            max_msg: 0,
            reserved: [0; 5],
        };
        // SAFETY: plain calls with valid pointers; every handle made here is
        // released by Drop (or below on failure).
        unsafe {
            let fp = rill_channel_footprint(&copts);
            if fp == 0 {
                return Err(format!("rill: bad channel options depth {depth} mtu {mtu}"));
            }
            let ropts = RegionOpts {
                size: fp + (1 << 20),
                dir: cdir.as_ptr(),
                mode: 0o600,
                flags: 0,
                reserved: [0; 5],
            };
            let mut region = std::ptr::null_mut();
            check(
                "rill_region_create",
                rill_region_create(cname.as_ptr(), &ropts, &mut region),
            )?;
            let mut ch = RillChan {
                region,
                prod: std::ptr::null_mut(),
                cons: std::ptr::null_mut(),
            };
            let res = (|| {
                check(
                    "rill_channel_create",
                    rill_channel_create(region, chname.as_ptr(), &copts),
                )?;
                check(
                    "rill_producer_join",
                    rill_producer_join(region, chname.as_ptr(), &mut ch.prod),
                )?;
                check(
                    "rill_consumer_join",
                    rill_consumer_join(region, chname.as_ptr(), RELIABLE, &mut ch.cons),
                )
            })();
            rill_region_unlink(cname.as_ptr(), cdir.as_ptr());
            res.map(|_| ch)
        }
    }
}

impl Drop for RillChan {
    fn drop(&mut self) {
        // SAFETY: each handle is null or joined/created by new(); all accept NULL.
        unsafe {
            rill_consumer_leave(self.cons);
            rill_producer_leave(self.prod);
            rill_region_close(self.region);
        }
    }
}

pub struct RillTx<'a> {
    p: *mut Producer,
    _chan: PhantomData<&'a mut RillChan>,
}
pub struct RillRx<'a> {
    c: *mut Consumer,
    _chan: PhantomData<&'a mut RillChan>,
}
// SAFETY: each endpoint is moved to, and used by, one thread.
unsafe impl Send for RillTx<'_> {}
unsafe impl Send for RillRx<'_> {}

impl Channel for RillChan {
    type Tx<'a> = RillTx<'a>;
    type Rx<'a> = RillRx<'a>;
    fn endpoints(&mut self) -> (RillTx<'_>, RillRx<'_>) {
        (
            RillTx {
                p: self.prod,
                _chan: PhantomData,
            },
            RillRx {
                c: self.cons,
                _chan: PhantomData,
            },
        )
    }
}

impl Tx for RillTx<'_> {
    /// rill_send: copies MSG into the data ring and publishes it (as
    /// rust-tango's publish() does); false when the reliable consumer has
    /// not freed room yet.
    #[inline]
    fn try_send(&mut self, msg: &[u8], sig: u64) -> bool {
        // SAFETY: the producer handle is live while the channel is borrowed.
        let rc = unsafe { rill_send(self.p, msg.as_ptr().cast(), msg.len(), sig) };
        if rc == 0 {
            return true;
        }
        if rc == -EAGAIN {
            return false;
        }
        panic!("rill_send: {}", strerror(rc));
    }
}

impl Rx for RillRx<'_> {
    /// rill_poll: the payload is read where it lies in shared memory.
    /// rill_consumer_flush: a reliable consumer tells the producer how far
    /// it got every so many messages and when it finds nothing to read; one
    /// that stops right after a message has not yet.
    fn finish(&mut self) {
        // SAFETY: the consumer handle is live while the channel is borrowed.
        unsafe { rill_consumer_flush(self.c) };
    }

    #[inline]
    fn poll<F: FnOnce(u64, &[u8])>(&mut self, f: F) -> Poll {
        let mut v = std::mem::MaybeUninit::<View>::uninit();
        // SAFETY: the consumer handle is live while the channel is borrowed;
        // rill_poll fills the view when it returns 0 or -RILL_EOVERRUN, and
        // the view's data (sz bytes, bounds-checked by rill) stays valid
        // until the next call on this consumer.
        unsafe {
            let rc = rill_poll(self.c, v.as_mut_ptr());
            if rc == 0 {
                let v = v.assume_init_ref();
                f(
                    v.sig,
                    std::slice::from_raw_parts(v.data.cast::<u8>(), v.sz as usize),
                );
                Poll::Msg
            } else if rc == -EAGAIN {
                Poll::Empty
            } else if rc == -EOVERRUN {
                Poll::Overrun((*v.as_ptr()).lost)
            } else {
                Poll::Corrupt
            }
        }
    }
}
