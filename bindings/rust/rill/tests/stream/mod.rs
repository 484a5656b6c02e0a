// SPDX-License-Identifier: Apache-2.0 OR MIT
//! The message streams of the cross-process tests, as the header comment of
//! tests/xpeer.c defines them (the same in the C peer, the Go peer and the
//! Python tests' stream.py), and the checks of what a consumer receives.
//!
//! All arithmetic is on u64 and wraps:
//!
//! ```text
//! mix(x): x += 0x9e3779b97f4a7c15; x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
//!         x = (x ^ (x >> 27)) * 0x94d049bb133111eb; return x ^ (x >> 31)
//! h_i    = mix(SEED * 0x100000001b3 + i)
//! class  = h_i & 15;  r = h_i >> 8
//! size_i = class < 12 ? r % 129 : class < 15 ? r % (mtu + 1) : r % (max_msg + 1)
//! sig_i  = i
//! payload byte j of message i = (u8)((h_i >> (8 * (j & 7))) + (j >> 3))
//! ```
//!
//! A message of more than `mtu` bytes goes in fragments of `mtu` bytes (the
//! last one shorter), each with the message's sig, SOM on the first, EOM on
//! the last; a message of 0 bytes is one descriptor. Sequence numbers are
//! consecutive from the channel's `seq0`, so the sequence number of every
//! fragment of every message follows from the sizes before it.
#![allow(dead_code)] // each test file uses part of it

use rill::{Meta, ctl};

pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// `h_i` of stream `seed`.
pub fn hash(seed: u64, i: u64) -> u64 {
    mix(seed.wrapping_mul(0x0000_0100_0000_01b3).wrapping_add(i))
}

/// Byte `j` of the message whose hash is `h`.
pub fn byte(h: u64, j: u64) -> u8 {
    ((h >> (8 * (j & 7))).wrapping_add(j >> 3)) as u8
}

/// Descriptors a message of `n` bytes takes (0 bytes: one).
pub fn frags(n: u64, mtu: u64) -> u64 {
    if n == 0 { 1 } else { n.div_ceil(mtu) }
}

/// `n` divided by `$RILL_TEST_SCALE` (as the C and Go long tests do), at
/// least `min`.
pub fn scaled(n: u64, min: u64) -> u64 {
    let scale = std::env::var("RILL_TEST_SCALE")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|&s| s > 0)
        .unwrap_or(1);
    (n / scale).max(min)
}

/// Stream `seed` on a channel of this `mtu` and `max_msg`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stream {
    pub seed: u64,
    pub mtu: u64,
    pub max_msg: u64,
}

impl Stream {
    pub fn new(seed: u64, mtu: u64, max_msg: u64) -> Stream {
        Stream { seed, mtu, max_msg }
    }

    /// Stream `seed` on channel `ch` (its mtu and max_msg from its stats,
    /// as the peers take them).
    pub fn of(ch: &rill::Channel<'_>, seed: u64) -> Stream {
        let st = ch.stats().expect("channel stats");
        Stream::new(seed, st.mtu.into(), st.max_msg)
    }

    pub fn hash(&self, i: u64) -> u64 {
        hash(self.seed, i)
    }

    /// `size_i`.
    pub fn size(&self, i: u64) -> u64 {
        let h = self.hash(i);
        let (class, r) = (h & 15, h >> 8);
        if class < 12 {
            r % 129
        } else if class < 15 {
            r % (self.mtu + 1)
        } else {
            r % (self.max_msg + 1)
        }
    }

    /// Descriptors message `i` takes.
    pub fn frags(&self, i: u64) -> u64 {
        frags(self.size(i), self.mtu)
    }

    /// Writes bytes `[off, off + buf.len())` of message `i` into `buf`.
    pub fn fill_at(&self, i: u64, off: u64, buf: &mut [u8]) {
        let h = self.hash(i);
        for (k, b) in buf.iter_mut().enumerate() {
            *b = byte(h, off + k as u64);
        }
    }

    /// Message `i`, whole.
    pub fn message(&self, i: u64) -> Vec<u8> {
        let mut v = vec![0u8; self.size(i) as usize];
        self.fill_at(i, 0, &mut v);
        v
    }

    /// `Err` naming the first byte of `bytes` that is not byte `off + k` of
    /// message `i`.
    pub fn check_at(&self, i: u64, off: u64, bytes: &[u8]) -> Result<(), String> {
        let h = self.hash(i);
        match bytes
            .iter()
            .enumerate()
            .find(|&(k, &b)| b != byte(h, off + k as u64))
        {
            None => Ok(()),
            Some((k, &b)) => Err(format!(
                "message {i} byte {}: got {b:#04x}, want {:#04x}",
                off + k as u64,
                byte(h, off + k as u64)
            )),
        }
    }

    /// The ctl a receive reports for message `i` (its last fragment's).
    pub fn recv_ctl(&self, i: u64) -> u16 {
        if self.size(i) <= self.mtu {
            ctl::MSG
        } else {
            ctl::EOM
        }
    }
}

/// A message as a receiving call reports it (the fields of [`Meta`] the
/// checks use, so that a message put together from views can be checked
/// the same way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Got {
    pub seq: u64,
    pub sig: u64,
    pub size: u64,
    pub lost: u64,
    pub ctl: u16,
}

impl From<&Meta> for Got {
    fn from(m: &Meta) -> Got {
        Got {
            seq: m.seq,
            sig: m.sig,
            size: m.size,
            lost: m.lost,
            ctl: m.ctl,
        }
    }
}

/// Checks the whole messages of a stream of `count` messages as one
/// consumer receives them. Reliable: every message in order, none lost.
/// Lossy: what it accepts is exact and in order, and each message's `lost`
/// is exactly the descriptors between the end of the message accepted
/// before it (or the consumer's start) and its own first one.
#[derive(Debug)]
pub struct Checker {
    pub stream: Stream,
    pub count: u64,
    pub reliable: bool,
    /// The next message that may come (all of those before it are done).
    next: u64,
    /// The sequence number of message `next`'s first fragment.
    next_seq: u64,
    /// The sequence number after the last message accepted: where the
    /// consumer stood.
    end_seq: u64,
    pub received: u64,
    pub lost: u64,
}

impl Checker {
    /// A consumer that joined at `seq0`, before the stream's first message.
    pub fn new(stream: Stream, count: u64, seq0: u64, reliable: bool) -> Checker {
        Checker {
            stream,
            count,
            reliable,
            next: 0,
            next_seq: seq0,
            end_seq: seq0,
            received: 0,
            lost: 0,
        }
    }

    /// A consumer that stands at message `first`, whose first fragment is
    /// at `seq` (one that rejoins where another left off).
    pub fn resume(stream: Stream, count: u64, first: u64, seq: u64, reliable: bool) -> Checker {
        Checker {
            next: first,
            ..Checker::new(stream, count, seq, reliable)
        }
    }

    /// Checks one message; `Err` says what is wrong.
    pub fn accept(&mut self, got: Got, data: &[u8]) -> Result<(), String> {
        let s = &self.stream;
        let i = got.sig;
        if self.reliable && i != self.next {
            return Err(format!("expected message {}, got sig {i}", self.next));
        }
        if i < self.next || i >= self.count {
            return Err(format!(
                "got sig {i} after message {} (of {})",
                self.next.wrapping_sub(1),
                self.count
            ));
        }
        // Skipped messages: their descriptors are before this one's.
        while self.next < i {
            self.next_seq += s.frags(self.next);
            self.next += 1;
        }
        if got.seq != self.next_seq {
            return Err(format!(
                "message {i}: seq {}, want {}",
                got.seq, self.next_seq
            ));
        }
        let want_lost = got.seq - self.end_seq;
        if got.lost != want_lost || (self.reliable && got.lost != 0) {
            return Err(format!(
                "message {i}: lost {}, want {want_lost} (the descriptors since seq {})",
                got.lost, self.end_seq
            ));
        }
        let size = s.size(i);
        if got.size != size || data.len() as u64 != size {
            return Err(format!(
                "message {i}: {} bytes ({} in meta), want {size}",
                data.len(),
                got.size
            ));
        }
        if got.ctl != s.recv_ctl(i) {
            return Err(format!(
                "message {i}: ctl {:#x}, want {:#x}",
                got.ctl,
                s.recv_ctl(i)
            ));
        }
        s.check_at(i, 0, data)?;
        self.next_seq += s.frags(i);
        self.end_seq = self.next_seq;
        self.next = i + 1;
        self.received += 1;
        self.lost += got.lost;
        Ok(())
    }

    /// [`accept`](Checker::accept) of a receive's [`Meta`].
    pub fn accept_meta(&mut self, m: &Meta, data: &[u8]) -> Result<(), String> {
        self.accept(Got::from(m), data)
    }

    /// The next message expected (reliable), or the lowest that may come.
    pub fn next(&self) -> u64 {
        self.next
    }

    /// The sequence number after the last message accepted.
    pub fn end_seq(&self) -> u64 {
        self.end_seq
    }

    /// True once the last message of the stream was accepted.
    pub fn done(&self) -> bool {
        self.next == self.count
    }
}

/// Where every fragment of the first `count` messages lies: message `i`
/// starts at sequence number `starts[i]` (from `seq0`). For checking views
/// (fragments) one by one, even in the middle of a message whose start a
/// lapped consumer never saw.
#[derive(Debug)]
pub struct Layout {
    pub stream: Stream,
    starts: Vec<u64>,
}

/// A view as a poll returns it.
#[derive(Debug, Clone, Copy)]
pub struct Frag {
    pub seq: u64,
    pub sig: u64,
    pub ctl: u16,
    pub len: usize,
}

impl Layout {
    pub fn new(stream: Stream, count: u64, seq0: u64) -> Layout {
        let mut starts = Vec::with_capacity(count as usize + 1);
        let mut s = seq0;
        for i in 0..count {
            starts.push(s);
            s += stream.frags(i);
        }
        starts.push(s);
        Layout { stream, starts }
    }

    /// The sequence number of message `i`'s first fragment (`i == count`:
    /// the one after the last message).
    pub fn start(&self, i: u64) -> u64 {
        self.starts[i as usize]
    }

    /// The sequence number after the stream.
    pub fn end(&self) -> u64 {
        *self.starts.last().unwrap()
    }

    /// Checks one fragment, its bytes `bytes`, against its place in the
    /// stream: its sig says which message, its seq which fragment of it,
    /// which says its size, its SOM/EOM bits and its bytes. Returns the
    /// fragment's offset in its message.
    pub fn check_frag(&self, f: Frag, bytes: &[u8]) -> Result<u64, String> {
        let s = &self.stream;
        let i = f.sig;
        if i as usize + 1 >= self.starts.len() {
            return Err(format!("seq {}: sig {i}, beyond the stream", f.seq));
        }
        let (start, end) = (self.start(i), self.start(i + 1));
        if f.seq < start || f.seq >= end {
            return Err(format!(
                "seq {}: sig {i}, whose fragments are seq {start}..{end}",
                f.seq
            ));
        }
        let k = f.seq - start;
        let size = s.size(i);
        let off = k * s.mtu;
        let len = (size - off).min(s.mtu);
        let mut want_ctl = 0;
        if k == 0 {
            want_ctl |= ctl::SOM;
        }
        if f.seq + 1 == end {
            want_ctl |= ctl::EOM;
        }
        if f.ctl != want_ctl || f.len as u64 != len || bytes.len() != f.len {
            return Err(format!(
                "seq {} (message {i} fragment {k}): ctl {:#x}, {} bytes; want ctl {want_ctl:#x}, {len} bytes",
                f.seq, f.ctl, f.len
            ));
        }
        s.check_at(i, off, bytes).map(|()| off)
    }
}
