// SPDX-License-Identifier: Apache-2.0 OR MIT
//! The messages: every one carries its sequence number and is checked in
//! full by the consumer.  The format is rill_bench's (bench/bench.h), so the
//! work per message is the same as in `make bench`: a message of N bytes
//! (N a multiple of 8) is N/8 little-endian words; word 0 is the sequence
//! number, the last word (N >= 16) is the sequence number XOR KEY, and the
//! words between are constants.  The consumer adds up every word and checks
//! the sum and word 0 (against the descriptor's sig: see Check).

pub const KEY: u64 = 0x5a5a_a5a5_c3c3_3c3c;

fn middle_word(k: usize) -> u64 {
    (k as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// The producer's message buffer: the constant middle words are written
/// once, the first and last word per message.
pub struct Msg {
    words: Vec<u64>,
}

impl Msg {
    pub fn new(size: usize) -> Msg {
        assert!(
            size >= 8 && size % 8 == 0,
            "message size {size}: a multiple of 8, at least 8"
        );
        let n = size / 8;
        let words = (0..n)
            .map(|k| {
                if k == 0 || k + 1 == n {
                    0
                } else {
                    middle_word(k).to_le()
                }
            })
            .collect();
        Msg { words }
    }

    /// Writes message SEQ's first and last word and returns its bytes.
    #[inline]
    pub fn stamp(&mut self, seq: u64) -> &[u8] {
        let n = self.words.len();
        self.words[0] = seq.to_le();
        if n >= 2 {
            self.words[n - 1] = (seq ^ KEY).to_le();
        }
        // SAFETY: a [u64] viewed as its bytes.
        unsafe { std::slice::from_raw_parts(self.words.as_ptr().cast::<u8>(), n * 8) }
    }
}

/// The consumer's check of every message, in order.  The producer also
/// puts the message's sequence number in the descriptor's sig, which the
/// channel validates with the descriptor; so the order is read from the sig,
/// and the payload is checked against it.  A payload overwritten while it
/// was read then counts as one bad message, not as a jump in the sequence.
pub struct Check {
    /// Sequence number of the next message expected.
    pub expect: u64,
    size: usize,
    midsum: u64,
    /// Messages that arrived intact and in order.
    pub ok: u64,
    /// Payloads that are not the message their descriptor names (damaged,
    /// overwritten, wrong size), and stale or repeated descriptors.
    pub bad: u64,
    /// Messages that never arrived (gaps in the sequence numbers).
    pub lost: u64,
}

impl Check {
    pub fn new(size: usize, first: u64) -> Check {
        let n = size / 8;
        let midsum = (1..n.saturating_sub(1)).fold(0u64, |s, k| s.wrapping_add(middle_word(k)));
        Check {
            expect: first,
            size,
            midsum,
            ok: 0,
            bad: 0,
            lost: 0,
        }
    }

    /// Checks the message of descriptor sig SIG: its place in the sequence
    /// (a later one than expected: the gap is lost), then all of its
    /// payload B.
    #[inline]
    pub fn verify(&mut self, sig: u64, b: &[u8]) {
        let d = sig.wrapping_sub(self.expect) as i64;
        if d == 0 {
            self.expect += 1;
        } else if d > 0 && d < (1 << 32) {
            self.lost += d as u64;
            self.expect = sig + 1;
        } else {
            self.bad += 1; // stale, repeated, or a garbage sig
            return;
        }
        if b.len() != self.size || b.len() < 8 {
            self.bad += 1;
            return;
        }
        let mut sum = 0u64;
        for w in b.chunks_exact(8) {
            sum = sum.wrapping_add(u64::from_le_bytes(w.try_into().unwrap()));
        }
        let w0 = u64::from_le_bytes(b[..8].try_into().unwrap());
        let last = if b.len() >= 16 { w0 ^ KEY } else { 0 };
        if w0 == sig && sum == w0.wrapping_add(last).wrapping_add(self.midsum) {
            self.ok += 1;
        } else {
            self.bad += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        for size in [8, 16, 64, 1024] {
            let mut m = Msg::new(size);
            let mut c = Check::new(size, 5);
            c.verify(5, m.stamp(5));
            c.verify(6, m.stamp(6));
            assert_eq!((c.ok, c.bad, c.lost), (2, 0, 0));
            c.verify(9, m.stamp(9)); // 7 and 8 lost
            assert_eq!((c.ok, c.lost, c.expect), (3, 2, 10));
            c.verify(4, m.stamp(4)); // stale
            assert_eq!((c.bad, c.expect), (1, 10));
            // the payload of a later message under descriptor 10
            c.verify(10, m.stamp(10 + 4096));
            assert_eq!((c.ok, c.bad, c.lost, c.expect), (3, 2, 2, 11));
            if size >= 16 {
                // (an 8-byte message is its sequence number: nothing else to damage)
                let mut b = m.stamp(11).to_vec();
                b[size - 1] ^= 1;
                c.verify(11, &b);
                assert_eq!((c.bad, c.expect), (3, 12));
                c.verify(12, m.stamp(12));
                assert_eq!((c.ok, c.bad, c.lost), (4, 3, 2));
            }
        }
    }
}
