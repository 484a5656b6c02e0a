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
	Seq                      uint64 // producer's next sequence number (as flushed)
	Msgs                     uint64 // descriptors published
	Bytes                    uint64
	Backpressure             uint64 // times the producer found no credit
	ProducerJoined           bool   // a producer was joined at its last flush
	ProducerLiveness         Liveness
	ProducerPid              uint32
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
	st := &ChannelStats{Depth: ci.depth, MTU: ci.mtu, MaxConsumers: ci.maxConsumers, MaxMsg: ci.maxMsg}
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
