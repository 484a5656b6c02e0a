// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

import (
	"sync/atomic"
	"unsafe"
)

// ConsumerStats are one consumer slot's counters, as of its last flush.
type ConsumerStats struct {
	Slot        uint32
	Mode        Mode   // 0: the slot is free
	Seq         uint64 // next sequence number it will read (as flushed)
	Lag         uint64 // producer seq - consumer seq (0 if ahead)
	Msgs        uint64 // descriptors consumed
	Bytes       uint64
	OverrunPoll uint64 // overruns seen by polls
	OverrunRead uint64 // Check failures
	Lost        uint64 // sequence numbers skipped
	Liveness    Liveness
	Evicted     bool   // the producer no longer waits for it
	Parked      bool   // parked in a wait (a futex sleep)
	Pid         uint32 // informative (from its own PID namespace)
	HeartbeatNs uint64 // CLOCK_MONOTONIC of its last housekeeping
}

// ChannelStats is a snapshot of a channel's metrics and liveness.
type ChannelStats struct {
	Depth, MTU, MaxConsumers uint32
	Consumers                uint32 // active consumer slots
	MaxMsg                   uint64
	Off, Size                uint64 // layout (PROTOCOL.md §2): the channel's place in the region
	MetaOff, DataOff         uint64 // its rings' offsets from the channel's start
	DataChunks               uint64 // chunks of 64 bytes in the data ring
	Seq0                     uint64 // first sequence number
	CreatedNs                uint64 // CLOCK_REALTIME at creation
	Seq                      uint64 // producer's next sequence number (as flushed)
	Msgs                     uint64 // descriptors published
	Bytes                    uint64
	Backpressure             uint64 // times the producer found no credit
	ProducerJoined           bool   // a producer was joined at its last flush
	ProducerLiveness         Liveness
	ProducerPid              uint32
	ProducerGen              uint32 // producer joins so far
	ProducerHeartbeatNs      uint64
	Evictions                uint64          // dead reliable consumers evicted
	Wakes                    uint64          // times the producer ran its wake-up path
	Slots                    []ConsumerStats // one per slot, [0, MaxConsumers)
}

// Stats reads the counters of channel name from shared memory without
// disturbing the endpoints (the same numbers as rill_channel_stats_get).
func (r *Region) Stats(name string) (*ChannelStats, error) {
	ci, err := r.findChannel(name)
	if err != nil {
		return nil, err
	}
	base := unsafe.Add(r.m.base(), ci.off)
	pp := (*prodPage)(unsafe.Add(base, ci.g.prodOff))
	st := &ChannelStats{Depth: ci.depth, MTU: ci.mtu, MaxConsumers: ci.maxConsumers, MaxMsg: ci.maxMsg,
		Off: ci.off, Size: ci.size, MetaOff: ci.g.metaOff, DataOff: ci.g.dataOff,
		DataChunks: ci.g.dataChunks, Seq0: ci.seq0, CreatedNs: ci.createdNs}
	st.Seq = atomic.LoadUint64(&pp.seq)
	st.Msgs = atomic.LoadUint64(&pp.msgs)
	st.Bytes = atomic.LoadUint64(&pp.bytes)
	st.Backpressure = atomic.LoadUint64(&pp.backpressure)
	st.ProducerJoined = atomic.LoadUint32(&pp.state) == prodJoined
	st.ProducerLiveness = liveness(r.fd, ci.off+ci.g.prodOff, st.ProducerJoined)
	st.ProducerPid = atomic.LoadUint32(&pp.pid)
	st.ProducerHeartbeatNs = atomic.LoadUint64(&pp.hbNs)
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
		cs.HeartbeatNs = atomic.LoadUint64(&k.hbNs)
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
// [LatencyBucketNs(i), LatencyBucketNs(i+1)), a quarter of an octave wide.
// Samples are taken modulo 2^32 ns like the stamps, so they are good up to
// 2.1 s.
type Latency struct {
	Count   uint64 // samples (the sum of the buckets)
	SumNs   uint64 // sum of the samples
	Buckets [LatencyBuckets]uint64
}

// Latency reads consumer slot slot's samples since it joined (a rejoin
// keeps them) without disturbing it; the same numbers as rill_latency_get.
// The difference of two readings (Sub) is the samples taken between them.
// Errors: those of Stats, ErrInval (no such slot).
func (r *Region) Latency(channel string, slot uint32) (Latency, error) {
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
	h.SumNs = atomic.LoadUint64(&k.latSum)
	for i := range h.Buckets {
		h.Buckets[i] = atomic.LoadUint64(&k.lat[i])
		h.Count += h.Buckets[i]
	}
	return h, nil
}

// LatencyBucketNs is the lower bound of bucket i in ns (i >= 124: 2^32, the
// end of the last bucket), as rill_latency_bucket_ns.
func LatencyBucketNs(i uint32) uint64 {
	if i < 4 {
		return uint64(i)
	}
	if i >= 124 {
		return 1 << 32 // past the last bucket
	}
	return uint64(4+i%4) << (i/4 - 1)
}

// Quantile is the q quantile (0 <= q <= 1) of the samples in h, in ns,
// interpolated within its bucket (within 19% of the truth), as
// rill_latency_quantile; 0 if h is empty.
func (h *Latency) Quantile(q float64) uint64 {
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
	for i := uint32(0); i < LatencyBuckets; i++ {
		n := h.Buckets[i]
		if n == 0 || float64(below+n) < rank {
			below += n
			continue
		}
		lo, hi := LatencyBucketNs(i), LatencyBucketNs(i+1)
		if hi <= lo { // a bucket past the last one the samples use
			return lo
		}
		f := (rank - float64(below)) / float64(n) // in (0, 1]
		return lo + uint64(f*float64(hi-lo-1)+0.5)
	}
	return LatencyBucketNs(LatencyBuckets)
}

// Sub is the samples taken between two readings of the same slot, before
// and then h: their difference, bucket by bucket.  If a bucket or the sum
// went down (the slot was joined anew in between, which zeroes them), or
// before is nil, it returns h itself.
func (h *Latency) Sub(before *Latency) Latency {
	if before == nil || h.SumNs < before.SumNs {
		return *h
	}
	d := Latency{SumNs: h.SumNs - before.SumNs}
	for i := range h.Buckets {
		if h.Buckets[i] < before.Buckets[i] {
			return *h
		}
		d.Buckets[i] = h.Buckets[i] - before.Buckets[i]
		d.Count += d.Buckets[i]
	}
	return d
}
