// SPDX-License-Identifier: Apache-2.0 OR MIT
//! The raw API end to end, in one thread: a region in a private
//! directory, a channel, a reliable consumer joined before the producer,
//! 1000 messages of varying sizes (some fragmented) with distinct bytes
//! and sigs, read back half with rill_recv and half with rill_poll (its
//! fragments put together), every byte and sig checked; calls given bad
//! input return their error codes; then leave, close and unlink.  The
//! producer sends in bursts that fit the ring and the consumer drains each
//! burst: nothing waits on time.
mod common;
use common::{TempDir, ok, strerror};
use core::ffi::{CStr, c_char, c_int, c_void};
use core::ptr;
use rill_sys::*;
use std::ffi::CString;

const MSGS: u64 = 1000;
const BURST: u64 = 50;
const MTU: u32 = 1024;

fn payload_len(i: u64) -> usize {
    // 0 to 3 fragments: sizes 0, 1, ..., around the mtu and past it
    ((i * 397) % (3 * MTU as u64 + 100)) as usize
}

fn byte(i: u64, j: usize) -> u8 {
    (i.wrapping_mul(131) ^ (j as u64).wrapping_mul(7) ^ (j as u64 >> 8)) as u8
}

fn sig(i: u64) -> u64 {
    i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5151
}

fn check_message(i: u64, got: &[u8], got_sig: u64) {
    assert_eq!(got.len(), payload_len(i), "message {i}: size");
    assert_eq!(got_sig, sig(i), "message {i}: sig");
    for (j, b) in got.iter().enumerate() {
        assert_eq!(*b, byte(i, j), "message {i}: byte {j}");
    }
}

#[test]
fn version_and_errors() {
    // SAFETY: these calls take no pointer (rill_strerror's result is a
    // static string, read through strerror()).
    unsafe {
        assert_eq!(rill_version(), RILL_VERSION);
        let v = CStr::from_ptr(rill_version_string()).to_str().unwrap();
        assert_eq!(
            v,
            format!("{RILL_VERSION_MAJOR}.{RILL_VERSION_MINOR}.{RILL_VERSION_PATCH}")
        );
    }
    for code in 0..RILL_ERR_MAX_ {
        assert!(!strerror((-code).into()).is_empty());
    }
    // SAFETY: names are NUL-terminated literals; NULL handles are allowed
    // and refused with -RILL_EINVAL (rill.h's error rule), or 0 for leave
    // and close.
    unsafe {
        assert_eq!(rill_name_valid(c"quotes".as_ptr()), 1);
        assert_eq!(rill_name_valid(c".hidden".as_ptr()), 0);
        assert_eq!(rill_send(ptr::null_mut(), ptr::null(), 0, 0), -RILL_EINVAL);
        assert_eq!(rill_poll(ptr::null_mut(), ptr::null_mut()), -RILL_EINVAL);
        assert_eq!(rill_producer_leave(ptr::null_mut()), 0);
        assert_eq!(rill_consumer_leave(ptr::null_mut()), 0);
        assert_eq!(rill_region_close(ptr::null_mut()), 0);
        assert_eq!(rill_producer_seq(ptr::null()), 0);
        assert_eq!(rill_channel_footprint(ptr::null()) % 4096, 0);
        let bad = rill_channel_opts {
            depth: 3,
            ..Default::default()
        };
        assert_eq!(rill_channel_footprint(&bad), 0);
    }
}

#[test]
fn send_and_receive() {
    let dir = TempDir::new("smoke");
    let cdir = CString::new(dir.0.to_str().unwrap()).unwrap();
    let region = c"rillsys";
    let chan = c"smoke";
    let opts = rill_region_opts {
        size: 8 << 20,
        dir: cdir.as_ptr(),
        ..Default::default()
    };
    let copts = rill_channel_opts {
        depth: 1024,
        mtu: MTU,
        ..Default::default()
    };
    let mut r: *mut rill_region = ptr::null_mut();
    let mut p: *mut rill_producer = ptr::null_mut();
    let mut c: *mut rill_consumer = ptr::null_mut();

    // SAFETY (this block and those below): every name is a NUL-terminated
    // literal or CString alive for the call; OPTS and COPTS are valid
    // structs whose reserved fields are zero (Default); R, P and C are the
    // handles these calls returned, used by this thread alone and not
    // after their leave/close.
    unsafe {
        ok(rill_region_create(region.as_ptr(), &opts, &mut r));
        assert_eq!(
            rill_region_create(region.as_ptr(), &opts, &mut ptr::null_mut()),
            -RILL_EEXIST
        );
        assert_eq!(
            rill_region_create(c"bad/name".as_ptr(), &opts, &mut ptr::null_mut()),
            -RILL_EINVAL
        );
        let bad_opts = rill_region_opts {
            reserved: [0, 0, 1, 0, 0],
            ..opts
        };
        assert_eq!(
            rill_region_create(c"other".as_ptr(), &bad_opts, &mut ptr::null_mut()),
            -RILL_EINVAL
        );
        ok(rill_channel_create(r, chan.as_ptr(), &copts));
        assert_eq!(rill_channel_create(r, chan.as_ptr(), &copts), -RILL_EEXIST);
        assert_eq!(
            rill_consumer_join(r, c"nosuch".as_ptr(), RILL_RELIABLE, &mut ptr::null_mut()),
            -RILL_ENOENT
        );
        ok(rill_consumer_join(r, chan.as_ptr(), RILL_RELIABLE, &mut c));
        ok(rill_producer_join(r, chan.as_ptr(), &mut p));
        assert_eq!(
            rill_producer_join(r, chan.as_ptr(), &mut ptr::null_mut()),
            -RILL_EBUSY
        );
    }

    let mut st = rill_channel_stats::default();
    // SAFETY: as above; ST is a valid rill_channel_stats to fill.
    unsafe { ok(rill_channel_stats_get(r, chan.as_ptr(), &mut st)) };
    assert_eq!((st.depth, st.mtu, st.nconsumers), (1024, MTU, 1));
    assert_eq!(st.max_msg, 16 * MTU as u64);

    // Bad input and an empty channel.
    let big = vec![0u8; st.max_msg as usize + 1];
    let mut v = rill_view::default();
    let mut meta = rill_meta::default();
    // SAFETY: as above; BIG, V and META are valid for their sizes.
    unsafe {
        assert_eq!(
            rill_send(p, big.as_ptr().cast(), big.len(), 1),
            -RILL_EMSGSIZE
        );
        assert_eq!(rill_send(p, ptr::null(), 10, 1), -RILL_EINVAL);
        let mut buf: *mut c_void = ptr::null_mut();
        assert_eq!(rill_reserve(p, MTU as usize + 1, &mut buf), -RILL_EMSGSIZE);
        assert_eq!(rill_commit(p, 1, 0, RILL_CTL_MSG), -RILL_EINVAL); // nothing reserved
        assert_eq!(rill_poll(c, &mut v), -RILL_EAGAIN);
        assert_eq!(
            rill_recv(c, ptr::null_mut(), 0, &mut meta),
            -RILL_EAGAIN as i64
        );
        assert_eq!(rill_poll_wait(c, &mut v, 0), -RILL_EAGAIN);
    }

    let mut out = vec![0u8; st.max_msg as usize];
    let mut frags = 0u64;
    let mut next = 0u64; // next message to receive
    for burst in 0..MSGS / BURST {
        for i in burst * BURST..(burst + 1) * BURST {
            let data: Vec<u8> = (0..payload_len(i)).map(|j| byte(i, j)).collect();
            frags += (data.len() as u64).div_ceil(MTU as u64).max(1);
            // SAFETY: as above; DATA is valid for its length.
            unsafe { ok(rill_send(p, data.as_ptr().cast(), data.len(), sig(i))) };
        }
        while next < (burst + 1) * BURST {
            let i = next;
            if burst % 2 == 0 {
                // rill_recv: whole messages, copied; the first of each
                // burst first into a buffer too small by one byte
                if i % BURST == 0 && payload_len(i) > 0 {
                    let short = payload_len(i) - 1;
                    // SAFETY: as above; OUT holds at least SHORT bytes.
                    let rc = unsafe { rill_recv(c, out.as_mut_ptr().cast(), short, &mut meta) };
                    assert_eq!(rc, -RILL_EMSGSIZE as i64, "message {i}: short buffer");
                    assert_eq!(meta.sz, payload_len(i) as u64);
                }
                // SAFETY: as above; OUT holds OUT.len() bytes.
                let n = unsafe { rill_recv(c, out.as_mut_ptr().cast(), out.len(), &mut meta) };
                assert!(n >= 0, "message {i}: rill_recv: {n} ({})", strerror(n));
                assert_eq!(meta.lost, 0);
                assert_eq!(meta.ctl & RILL_CTL_EOM, RILL_CTL_EOM);
                check_message(i, &out[..n as usize], meta.sig);
            } else {
                // rill_poll: fragments, in shared memory, put together
                let mut msg = Vec::new();
                loop {
                    // SAFETY: as above; V is a valid rill_view.
                    let rc = unsafe { rill_poll(c, &mut v) };
                    assert_eq!(
                        rc,
                        0,
                        "message {i}: rill_poll: {rc} ({})",
                        strerror(rc.into())
                    );
                    assert_eq!(v.sig, sig(i), "message {i}: fragment sig");
                    assert_eq!(
                        v.ctl & RILL_CTL_SOM != 0,
                        msg.is_empty(),
                        "message {i}: SOM"
                    );
                    if v.sz > 0 {
                        // SAFETY: a reliable consumer's view points at
                        // V.sz bytes of the data ring, valid until the next
                        // call on C (rill.h, rill_view).
                        let s = unsafe {
                            core::slice::from_raw_parts(v.data.cast::<u8>(), v.sz as usize)
                        };
                        msg.extend_from_slice(s);
                    }
                    if v.ctl & RILL_CTL_EOM != 0 {
                        break;
                    }
                }
                check_message(i, &msg, v.sig);
            }
            next += 1;
        }
        // SAFETY: as above.
        unsafe {
            assert_eq!(
                rill_poll(c, &mut v),
                -RILL_EAGAIN,
                "burst {burst}: more than was sent"
            );
        }
    }
    assert_eq!(next, MSGS);

    // SAFETY: as above; ST and CS are valid structs to fill.
    unsafe {
        ok(rill_producer_flush(p));
        ok(rill_consumer_flush(c));
        assert_eq!(rill_producer_seq(p) - st.seq0, frags);
        ok(rill_channel_stats_get(r, chan.as_ptr(), &mut st));
        assert_eq!(st.msgs, frags);
        assert_eq!(st.producer_liveness, RILL_PEER_ALIVE as u32);
        let mut cs = rill_consumer_stats::default();
        ok(rill_consumer_stats_get(
            r,
            chan.as_ptr(),
            rill_consumer_slot(c),
            &mut cs,
        ));
        assert_eq!((cs.mode, cs.msgs, cs.lag), (RILL_RELIABLE as u32, frags, 0));
        assert_eq!(rill_consumer_producer(c), RILL_PEER_ALIVE);
        let mut info = rill_region_info::default();
        ok(rill_region_info_get(r, &mut info));
        assert_eq!((info.size, info.nobjects), (8 << 20, 1));
        let mut obj = rill_object_info::default();
        ok(rill_region_object_get(r, 0, &mut obj));
        let name = CStr::from_ptr(obj.name.as_ptr());
        assert_eq!((name, obj.r#type), (chan, RILL_OBJECT_CHANNEL));
        assert_eq!(rill_region_object_get(r, 1, &mut obj), -RILL_ENOENT);

        // the producer leaves: a waiting consumer that has read everything
        // is told the channel closed
        ok(rill_producer_leave(p));
        assert_eq!(rill_poll_wait(c, &mut v, RILL_FOREVER), -RILL_ECLOSED);
        ok(rill_consumer_leave(c));
        ok(rill_region_close(r));

        // listed, then unlinked
        let mut names: Vec<String> = Vec::new();
        let found = rill_region_list(
            cdir.as_ptr(),
            Some(list_one),
            (&mut names as *mut Vec<String>).cast(),
        );
        assert_eq!(found, 1);
        assert_eq!(names, ["rillsys"]);
        assert_eq!(rill_region_in_use(region.as_ptr(), cdir.as_ptr()), 0);
        ok(rill_region_unlink(region.as_ptr(), cdir.as_ptr()));
        assert_eq!(
            rill_region_unlink(region.as_ptr(), cdir.as_ptr()),
            -RILL_ENOENT
        );
        assert_eq!(
            rill_region_open(region.as_ptr(), &opts, &mut r),
            -RILL_ENOENT
        );
    }
}

/// rill_region_list's callback: pushes NAME onto the Vec<String> at ARG.
unsafe extern "C" fn list_one(name: *const c_char, arg: *mut c_void) -> c_int {
    // SAFETY: rill_region_list passes a NUL-terminated name, and ARG is the
    // &mut Vec<String> the test passed it, alive for the call.
    unsafe {
        let names = &mut *arg.cast::<Vec<String>>();
        names.push(CStr::from_ptr(name).to_string_lossy().into_owned());
    }
    0
}
