// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

import (
	"math"
	"sync/atomic"
	"time"
	"unsafe"
)

// ConsumerStats are one consumer slot's counters, as of its last flush.
type ConsumerStats struct {
	Slot        uint32   // the slot's index, [0, MaxConsumers)
	Mode        Mode     // Reliable or Lossy; 0: the slot is free (the fields below are zero)
	Seq         uint64   // next sequence number it will read (as flushed)
	Lag         uint64   // producer seq - consumer seq (0 if ahead)
	Msgs        uint64   // descriptors consumed
	Bytes       uint64   // payload bytes consumed
	OverrunPoll uint64   // overruns seen by polls
	OverrunRead uint64   // Check failures
	Lost        uint64   // sequence numbers skipped
	Liveness    Liveness // whether its process is alive
	Evicted     bool     // the producer no longer waits for it
	Parked      bool     // parked in a wait (a futex sleep)
	Pid         uint32   // informative (from its own PID namespace)
	// HeartbeatAge is how long ago, when Stats read it, the consumer last
	// ran its housekeeping (it does while it polls and while it waits): its
	// CLOCK_MONOTONIC stamp's age; 0 if the stamp is not behind this
	// process's clock (another time namespace, or a flush while Stats ran).
	HeartbeatAge time.Duration
}

// ChannelStats is a snapshot of a channel's metrics and liveness.
type ChannelStats struct {
	Depth, MTU, MaxConsumers uint32    // the channel's options (ChannelOpts), defaults applied
	Consumers                uint32    // active consumer slots
	MaxMsg                   uint64    // the largest message, in bytes (ChannelOpts.MaxMsg)
	Off, Size                uint64    // layout (PROTOCOL.md §2): the channel's place in the region
	MetaOff, DataOff         uint64    // its rings' offsets from the channel's start
	DataChunks               uint64    // chunks of 64 bytes in the data ring
	Seq0                     uint64    // first sequence number
	Created                  time.Time // when the channel was created (CLOCK_REALTIME)
	Seq                      uint64    // producer's next sequence number (as flushed)
	Msgs                     uint64    // descriptors published
	Bytes                    uint64    // payload bytes published
	Backpressure             uint64    // times the producer found no credit
	ProducerJoined           bool      // a producer was joined at its last flush
	ProducerLiveness         Liveness  // whether the producer's process is alive
	ProducerPid              uint32    // informative (from its own PID namespace)
	ProducerGen              uint32    // producer joins so far
	// ProducerHeartbeatAge is how long ago, when Stats read it, the
	// producer last flushed its counters and heartbeat (every so many
	// messages, when out of credit, on Flush): its CLOCK_MONOTONIC stamp's
	// age; 0 if no producer ever joined, or if the stamp is not behind this
	// process's clock (another time namespace, or a flush while Stats
	// ran).
	ProducerHeartbeatAge time.Duration
	Evictions            uint64          // dead reliable consumers evicted
	Wakes                uint64          // times the producer ran its wake-up path
	Slots                []ConsumerStats // one per slot, [0, MaxConsumers)
}

// age is how long ago the CLOCK_MONOTONIC stamp ns was taken, as of now; 0
// for no stamp, or one ahead of now.
func age(now, ns uint64) time.Duration {
	if ns == 0 || ns >= now {
		return 0
	}
	return time.Duration(now - ns)
}

// wallTime is the CLOCK_REALTIME stamp ns as a time.Time (the zero Time for
// no stamp).
func wallTime(ns uint64) time.Time {
	if ns == 0 || ns > math.MaxInt64 {
		return time.Time{}
	}
	return time.Unix(0, int64(ns))
}

// Stats reads the counters of channel name from shared memory without
// disturbing the endpoints (the same numbers as rill_channel_stats_get).
// Errors: ErrInval, ErrNoEnt, ErrMagic, ErrVersion, ErrCorrupt, ErrTrunc
// (the file was shrunk under us).
func (r *Region) Stats(name string) (_ *ChannelStats, err error) {
	defer faultErr(noFault(), &err)
	ci, err := r.findChannel(name)
	if err != nil {
		return nil, err
	}
	base := unsafe.Add(r.m.base(), ci.off)
	pp := (*prodPage)(unsafe.Add(base, ci.g.prodOff))
	st := &ChannelStats{Depth: ci.depth, MTU: ci.mtu, MaxConsumers: ci.maxConsumers, MaxMsg: ci.maxMsg,
		Off: ci.off, Size: ci.size, MetaOff: ci.g.metaOff, DataOff: ci.g.dataOff,
		DataChunks: ci.g.dataChunks, Seq0: ci.seq0, Created: wallTime(ci.createdNs)}
	now := monoNs()
	st.Seq = atomic.LoadUint64(&pp.seq)
	st.Msgs = atomic.LoadUint64(&pp.msgs)
	st.Bytes = atomic.LoadUint64(&pp.bytes)
	st.Backpressure = atomic.LoadUint64(&pp.backpressure)
	st.ProducerJoined = atomic.LoadUint32(&pp.state) == prodJoined
	st.ProducerLiveness = liveness(r.fd, ci.off+ci.g.prodOff, st.ProducerJoined)
	st.ProducerPid = atomic.LoadUint32(&pp.pid)
	st.ProducerHeartbeatAge = age(now, atomic.LoadUint64(&pp.hbNs))
	st.Evictions = atomic.LoadUint64(&pp.evictions)
	st.Wakes = atomic.LoadUint64(&pp.wakes)
	st.ProducerGen = atomic.LoadUint32(&pp.gen)
	st.Slots = make([]ConsumerStats, ci.maxConsumers)
	for i := uint32(0); i < ci.maxConsumers; i++ {
		k := cursorAt(unsafe.Add(base, ci.g.cursorOff), i)
		cs := &st.Slots[i]
		cs.Slot = i
		if atomic.LoadUint32(&k.state) != curActive {
			continue
		}
		cs.Liveness = liveness(r.fd, ci.off+ci.g.cursorOff+uint64(i)*pageSize, true)
		gen := atomic.LoadUint32(&k.gen)
		cs.Evicted = gen != 0 && gen == atomic.LoadUint32(&pp.evicted[i])
		cs.Parked = atomic.LoadUint32(&k.park) != 0
		cs.Pid = atomic.LoadUint32(&k.pid)
		cs.HeartbeatAge = age(now, atomic.LoadUint64(&k.hbNs))
		st.Consumers++
		cs.Mode = Mode(atomic.LoadUint32(&k.mode))
		cs.Seq = atomic.LoadUint64(&k.seq)
		if int64(st.Seq-cs.Seq) > 0 {
			cs.Lag = st.Seq - cs.Seq
		}
		cs.Msgs = atomic.LoadUint64(&k.msgs)
		cs.Bytes = atomic.LoadUint64(&k.bytes)
		cs.OverrunPoll = atomic.LoadUint64(&k.overrunPoll)
		cs.OverrunRead = atomic.LoadUint64(&k.overrunRead)
		cs.Lost = atomic.LoadUint64(&k.lost)
	}
	return st, nil
}

// LatencyBuckets is the number of buckets of a Latency histogram.
const LatencyBuckets = 128

// Latency is a consumer's publish-to-consume latency samples, as its cursor
// page holds them (PROTOCOL.md §2.3).  The consumer takes one sample at the
// first message it consumes after each heartbeat flush (every depth/8 to
// depth/4 polls, on Flush and while it waits): CLOCK_MONOTONIC now minus
// the descriptor's TSPub.  Bucket i holds the samples in
// [LatencyBucket(i), LatencyBucket(i+1)), a quarter of an octave wide.
// Samples are taken modulo 2^32 ns like the stamps, so they are good up to
// 2.1 s.
type Latency struct {
	Count   uint64                 // samples (the sum of the buckets)
	Sum     time.Duration          // sum of the samples
	Buckets [LatencyBuckets]uint64 // samples per bucket (see LatencyBucket)
}

// Latency reads consumer slot slot's samples since it joined (a rejoin
// keeps them) without disturbing it; the same numbers as rill_latency_get.
// The difference of two readings (Sub) is the samples taken between them.
// Errors: those of Stats, ErrInval (no such slot).
func (r *Region) Latency(channel string, slot uint32) (_ Latency, err error) {
	defer faultErr(noFault(), &err)
	var h Latency
	ci, err := r.findChannel(channel)
	if err != nil {
		return h, err
	}
	if slot >= ci.maxConsumers {
		return h, ErrInval
	}
	k := cursorAt(unsafe.Add(r.m.base(), ci.off+ci.g.cursorOff), slot)
	// Counters written by their consumer alone; a snapshot taken while it
	// writes may be off by the sample in flight.
	h.Sum = time.Duration(atomic.LoadUint64(&k.latSum))
	for i := range h.Buckets {
		h.Buckets[i] = atomic.LoadUint64(&k.lat[i])
		h.Count += h.Buckets[i]
	}
	return h, nil
}

// LatencyBucket is the lower bound of bucket i of a Latency histogram, as
// rill_latency_bucket_ns (i <= 0: 0; i >= 124: 2^32 ns, the end of the last
// bucket).
func LatencyBucket(i int) time.Duration {
	if i < 4 {
		return time.Duration(max(i, 0))
	}
	if i >= 124 {
		return 1 << 32 // past the last bucket
	}
	return time.Duration(4+i%4) << (i/4 - 1)
}

// Quantile is the q quantile (0 <= q <= 1) of the samples in h,
// interpolated within its bucket (within 19% of the truth), as
// rill_latency_quantile; 0 if h is empty.
func (h *Latency) Quantile(q float64) time.Duration {
	if h == nil || h.Count == 0 || !(q >= 0) {
		return 0
	}
	if q > 1 {
		q = 1
	}
	// The rank-th smallest sample (1-based), found in its bucket and placed
	// linearly between the bucket's bounds.
	rank := q * float64(h.Count)
	if rank < 1 {
		rank = 1
	}
	var below uint64
	for i := 0; i < LatencyBuckets; i++ {
		n := h.Buckets[i]
		if n == 0 || float64(below+n) < rank {
			below += n
			continue
		}
		lo, hi := LatencyBucket(i), LatencyBucket(i+1)
		if hi <= lo { // a bucket past the last one the samples use
			return lo
		}
		f := (rank - float64(below)) / float64(n) // in (0, 1]
		return lo + time.Duration(f*float64(hi-lo-1)+0.5)
	}
	return LatencyBucket(LatencyBuckets)
}

// Sub is the samples taken between two readings of the same slot, before
// and then h: their difference, bucket by bucket.  If a bucket or the sum
// went down (the slot was joined anew in between, which zeroes them), or
// before is nil, it returns h itself.
func (h *Latency) Sub(before *Latency) Latency {
	if before == nil || h.Sum < before.Sum {
		return *h
	}
	d := Latency{Sum: h.Sum - before.Sum}
	for i := range h.Buckets {
		if h.Buckets[i] < before.Buckets[i] {
			return *h
		}
		d.Buckets[i] = h.Buckets[i] - before.Buckets[i]
		d.Count += d.Buckets[i]
	}
	return d
}
