// SPDX-License-Identifier: Apache-2.0 OR MIT
//! Metrics and liveness: [`ChannelStats`], [`ConsumerStats`], [`Latency`], [`Peer`].
use crate::consumer::ModeKind;
use rill_sys as sys;
use std::time::Duration;

/// Whether an endpoint's process lives, from the lock it holds while it
/// lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Peer {
    /// Nobody in that place (never joined, or left).
    None,
    /// Its process holds the endpoint's lock.
    Alive,
    /// Joined, never left, and its lock is gone: the process died.
    Dead,
    /// The lock could not be queried.
    Unknown,
}

impl Peer {
    pub(crate) fn from_raw(v: i64) -> Peer {
        match v {
            x if x == i64::from(sys::RILL_PEER_NONE) => Peer::None,
            x if x == i64::from(sys::RILL_PEER_ALIVE) => Peer::Alive,
            x if x == i64::from(sys::RILL_PEER_DEAD) => Peer::Dead,
            _ => Peer::Unknown,
        }
    }
}

/// A channel's layout and its producer's counters, as the producer last
/// flushed them ([`Channel::stats`](crate::Channel::stats)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChannelStats {
    /// Descriptors in the ring.
    pub depth: u32,
    /// Largest fragment payload, bytes.
    pub mtu: u32,
    /// Consumer slots.
    pub max_consumers: u32,
    /// Consumer slots in use.
    pub consumers: u32,
    /// Largest message, bytes.
    pub max_msg: u64,
    /// The channel's offset in the region, bytes.
    pub off: u64,
    /// The channel's size in the region, bytes.
    pub size: u64,
    /// The descriptor ring's offset from the channel's start.
    pub meta_off: u64,
    /// The data ring's offset from the channel's start.
    pub data_off: u64,
    /// 64-byte chunks in the data ring.
    pub data_chunks: u64,
    /// The first sequence number.
    pub seq0: u64,
    /// `CLOCK_REALTIME` at creation, ns.
    pub created_ns: u64,
    /// The producer's next sequence number.
    pub seq: u64,
    /// Descriptors published.
    pub msgs: u64,
    /// Bytes published.
    pub bytes: u64,
    /// Times the producer found no credit.
    pub backpressure: u64,
    /// A producer was joined at the last flush.
    pub producer_joined: bool,
    /// Whether the producer's process lives.
    pub producer: Peer,
    /// The producer's process id (informative).
    pub producer_pid: u32,
    /// Producer joins so far.
    pub producer_gen: u32,
    /// `CLOCK_MONOTONIC` of the producer's last flush, ns.
    pub producer_heartbeat_ns: u64,
    /// Dead reliable consumers evicted.
    pub evictions: u64,
    /// Times the producer woke parked consumers.
    pub wakes: u64,
}

impl ChannelStats {
    pub(crate) fn from_raw(s: &sys::rill_channel_stats) -> ChannelStats {
        ChannelStats {
            depth: s.depth,
            mtu: s.mtu,
            max_consumers: s.max_consumers,
            consumers: s.nconsumers,
            max_msg: s.max_msg,
            off: s.off,
            size: s.size,
            meta_off: s.meta_off,
            data_off: s.data_off,
            data_chunks: s.data_chunks,
            seq0: s.seq0,
            created_ns: s.created_ns,
            seq: s.seq,
            msgs: s.msgs,
            bytes: s.bytes,
            backpressure: s.backpressure,
            producer_joined: s.producer_joined != 0,
            producer: Peer::from_raw(s.producer_liveness.into()),
            producer_pid: s.producer_pid,
            producer_gen: s.producer_gen,
            producer_heartbeat_ns: s.producer_heartbeat_ns,
            evictions: s.evictions,
            wakes: s.wakes,
        }
    }
}

/// A consumer slot's counters and liveness, as its consumer last flushed
/// them ([`Channel::consumer_stats`](crate::Channel::consumer_stats)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerStats {
    /// The slot.
    pub slot: u32,
    /// The slot's mode; `None` when the slot is free.
    pub mode: Option<ModeKind>,
    /// The next sequence number it will read.
    pub seq: u64,
    /// Producer seq − consumer seq (0 if ahead).
    pub lag: u64,
    /// Descriptors consumed.
    pub msgs: u64,
    /// Bytes consumed.
    pub bytes: u64,
    /// Overruns seen by poll.
    pub overrun_poll: u64,
    /// Checks that failed (bytes overwritten while read).
    pub overrun_read: u64,
    /// Sequence numbers skipped.
    pub lost: u64,
    /// Whether its process lives.
    pub liveness: Peer,
    /// The producer no longer waits for it (it died).
    pub evicted: bool,
    /// Parked in a wait.
    pub parked: bool,
    /// Its process id (informative, from its own PID namespace).
    pub pid: u32,
    /// `CLOCK_MONOTONIC` of its last housekeeping, ns.
    pub heartbeat_ns: u64,
}

impl ConsumerStats {
    pub(crate) fn from_raw(s: &sys::rill_consumer_stats) -> ConsumerStats {
        let mode = match s.mode as i32 {
            sys::RILL_RELIABLE => Some(ModeKind::Reliable),
            sys::RILL_LOSSY => Some(ModeKind::Lossy),
            _ => None,
        };
        ConsumerStats {
            slot: s.slot,
            mode,
            seq: s.seq,
            lag: s.lag,
            msgs: s.msgs,
            bytes: s.bytes,
            overrun_poll: s.overrun_poll,
            overrun_read: s.overrun_read,
            lost: s.lost,
            liveness: Peer::from_raw(s.liveness.into()),
            evicted: s.evicted != 0,
            parked: s.parked != 0,
            pid: s.pid,
            heartbeat_ns: s.heartbeat_ns,
        }
    }
}

/// Publish-to-consume latency samples of a consumer slot, in
/// [`Latency::BUCKETS`] logarithmic buckets
/// ([`Channel::latency`](crate::Channel::latency)).
#[derive(Clone)]
pub struct Latency {
    raw: Box<sys::rill_latency>,
}

impl core::fmt::Debug for Latency {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Latency")
            .field("count", &self.count())
            .field("p50", &self.quantile(0.5))
            .field("p99", &self.quantile(0.99))
            .finish()
    }
}

impl Latency {
    /// Buckets in a histogram.
    pub const BUCKETS: usize = sys::RILL_LATENCY_BUCKETS;

    pub(crate) fn from_raw(h: &sys::rill_latency) -> Latency {
        Latency { raw: Box::new(*h) }
    }
    /// Samples (the sum of the buckets).
    pub fn count(&self) -> u64 {
        self.raw.count
    }
    /// The mean, or `None` without samples.
    pub fn mean(&self) -> Option<Duration> {
        (self.raw.count > 0).then(|| Duration::from_nanos(self.raw.sum_ns / self.raw.count))
    }
    /// The samples in each bucket.
    pub fn buckets(&self) -> &[u64; sys::RILL_LATENCY_BUCKETS] {
        &self.raw.buckets
    }
    /// The lower bound of bucket `i`.
    pub fn bucket_floor(i: usize) -> Duration {
        let i = u32::try_from(i).unwrap_or(u32::MAX);
        // SAFETY: a pure function of its argument.
        Duration::from_nanos(unsafe { sys::rill_latency_bucket_ns(i) })
    }
    /// The `q` quantile (0 ≤ q ≤ 1), interpolated within its bucket
    /// (zero without samples).
    pub fn quantile(&self, q: f64) -> Duration {
        // SAFETY: raw is a valid rill_latency for the call.
        Duration::from_nanos(unsafe { sys::rill_latency_quantile(&*self.raw, q) })
    }
}
