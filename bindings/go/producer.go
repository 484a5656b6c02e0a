// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

import (
	"math"
	"os"
	"sync/atomic"
	"time"
	"unsafe"
)

// Forever is a timeout without limit.
const Forever time.Duration = math.MaxInt64

const (
	hkInterval    = 1024 // publishes between producer housekeeping runs
	defaultSpin   = 20 * time.Microsecond
	defaultEvict  = time.Second
	liveSlice     = 50 * time.Millisecond // longest park between liveness checks
	noReservation = math.MaxUint64
	millisecond   = uint64(time.Millisecond)
	// longest park of a wait for a channel or consumers, whose waker may
	// use a librill (0.2) that makes no wake-up there
	noWakeSlice = uint64(time.Second)
)

// Producer is the one writer of a channel.  It is used by one goroutine at
// a time.
type Producer struct {
	// hot: touched by every publish
	meta       unsafe.Pointer // depth descriptors
	data       []byte         // the data ring
	mask       uint64
	seq        uint64 // next sequence number
	chunk      uint64 // next free chunk of the data ring
	dataChunks uint64
	crAvail    uint64 // descriptors it may publish before a refresh
	hkLeft     uint64 // publishes until housekeeping
	resChunk   uint64 // reserved buffer: chunk and capacity
	resCap     uint64 // noReservation when nothing is reserved
	resCount   uint64 // buffers reserved (ReserveMany)
	// stampMask: every descriptor whose seq&stampMask is 0 is stamped:
	// stampPeriod-1, or 0 (all of them) under StampEvery or while a
	// consumer older than 0.4 is joined.
	stampMask  uint64
	mtu        uint32
	armSeen    uint32 // arm_gen when we last woke consumers
	stampSeen  uint32 // stamp_req when we last stamped tspub
	msgs       uint64
	bytes      uint64
	bp         uint64 // backpressure
	armGen     *uint32
	fenceReq   *uint32
	stampReq   *uint32 // the wait page's, loaded per publish (§2.4)
	asym       bool    // registered for heavy barriers: plain-store publishes
	lazy       bool    // LAZY and not yet FENCING: plain-store publishes (§3.7a)
	stampEvery bool    // SetStamp(StampEvery)
	clk        clock
	// cold
	depth, maxMsg, rng     uint64
	maxConsumers           uint32
	fd                     int
	lockOff, cursorLockOff uint64
	m                      mapping
	prod                   *prodPage
	wait                   *waitPage
	cursors                unsafe.Pointer
	spin, evict            time.Duration
	evictions, wakes       uint64
	nextLiveCheck          uint64
	slots                  []prodSlot
	region, ch, dir        string
}

// prodSlot is the producer's own record of a consumer slot.
type prodSlot struct {
	fdSeen    uint32 // its fd_gen when we last signalled it
	fifoGen   uint32 // cursor gen the FIFO fd was opened for
	fifoFd    int    // write end of its FIFO, or -1
	deadGen   uint32 // gen found dead at deadSince
	deadSince uint64 // mono ns; 0 = not seen dead
	// njSeq is the seq our last credit refresh that found the slot not
	// joining (free or active) flushed; njValid is false until such a
	// refresh (none since this producer joined).  A joining slot counts
	// there, or holds all credit back while !njValid (creditRefresh).
	njSeq   uint64
	njValid bool
}

func cursorAt(base unsafe.Pointer, i uint32) *cursor {
	return (*cursor)(unsafe.Add(base, uintptr(i)*pageSize))
}

func (p *Producer) desc(seq uint64) *desc {
	return (*desc)(unsafe.Add(p.meta, uintptr(seq&p.mask)*32))
}

// flush writes position, counters and heartbeat to the producer page.
func (p *Producer) flush() {
	pp := p.prod
	atomic.StoreUint64(&pp.msgs, p.msgs)
	atomic.StoreUint64(&pp.bytes, p.bytes)
	atomic.StoreUint64(&pp.backpressure, p.bp)
	atomic.StoreUint64(&pp.evictions, p.evictions)
	atomic.StoreUint64(&pp.wakes, p.wakes)
	atomic.StoreUint64(&pp.hbNs, monoNs())
	// Sequentially consistent: a consumer joining as reliable stores
	// JOINING and then loads this seq; creditRefresh stores it and then
	// loads the consumers' states.  One of the two sees the other.
	atomic.StoreUint64(&pp.seq, p.seq)
}

// creditRefresh recomputes credits from the reliable consumers' cursors.
//
// A joining slot counts at njSeq (prodSlot), the seq flushed by our last
// refresh that found it not joining, not at the seq flushed before this
// refresh (model/join.pml, FINDING 1).  The seq_cst pair (the joiner stores
// JOINING, then loads producer.seq as s0; we store producer.seq in flush,
// then load the state) orders a joiner only against a refresh whose state
// load found the slot free or active: that load came before the joiner's
// store of JOINING, so our flush before it came before the joiner's load of
// s0, and s0 >= njSeq.  A flush made since (a refresh that already found
// the slot joining, housekeeping, Flush, a heartbeat while we wait) may
// come after the joiner's load of s0: counted there (as PROTOCOL.md's prev
// did), the joiner can be lapped, and read a torn payload.  With no such
// refresh since we joined, a joining slot holds all credit back until it
// is active (a join takes microseconds; a dead joiner is evicted,
// evictDead).
func (p *Producer) creditRefresh() {
	p.flush()
	min := p.seq
	legacy := false
	for i := uint32(0); i < p.maxConsumers; i++ {
		c := cursorAt(p.cursors, i)
		// Sequentially consistent: after the seq_cst store of producer.seq
		// in flush, the other half of the pair with a joiner's store of
		// JOINING and load of producer.seq (consumer.go, join).  An acquire
		// too: pairs with the release store of ACTIVE at join (the cursor
		// seq is seen with it) and of FREE at leave.
		st := atomic.LoadUint32(&c.state)
		ps := &p.slots[i]
		if st != curJoining {
			// Before any skip below: a slot that joins after this load
			// starts at or after p.seq, just flushed.
			ps.njSeq = p.seq
			ps.njValid = true
		}
		if st == curFree {
			continue
		}
		gen := atomic.LoadUint32(&c.gen)
		// A consumer older than 0.4 never asks for stamps and samples its
		// latency from any message: stamp them all while it is joined (a
		// joiner not yet past its stamp_gen store counts as one, briefly).
		// The loads stand for C's relaxed ones: a late answer only stamps
		// more, or fewer for up to depth publishes, as §2.4 allows.
		// An evicted slot (its consumer died) does not count.
		ev := atomic.LoadUint32(&p.prod.evicted[i])
		evicted := ev != 0 && ev == gen
		if !evicted && atomic.LoadUint32(&c.stampGen) != gen {
			legacy = true
		}
		if evicted || atomic.LoadUint32(&c.mode) != uint32(Reliable) {
			continue
		}
		var s uint64
		if st == curJoining {
			s = p.joiningAt(ps) // see above (model/join.pml, FINDING 1)
		} else {
			// Acquire: pairs with the release store of the cursor seq in the
			// consumer's flush: its reads of the payloads before s are done.
			s = atomic.LoadUint64(&c.seq)
		}
		if int64(s-min) < 0 {
			min = s
		}
	}
	p.stampMask = stampPeriod - 1
	if p.stampEvery || legacy {
		p.stampMask = 0
	}
	lim := min + p.depth
	if int64(lim-p.seq) > 0 {
		p.crAvail = lim - p.seq
	} else {
		p.crAvail = 0
	}
}

// joiningAt is where a joining reliable slot counts (creditRefresh): at
// the seq flushed by our last refresh that found it not joining, no later
// than where the joiner starts; with none since we joined, at seq - depth:
// it holds all credit back until we see it active.
func (p *Producer) joiningAt(ps *prodSlot) uint64 {
	if ps.njValid {
		return ps.njSeq
	}
	return p.seq - p.depth
}

// evictDead, short of need credits, looks (at most once a millisecond) for
// reliable consumers that hold us back (leave fewer than need) and whose
// process is dead, and evicts those found dead for the eviction timeout.
// True if it evicted one.
func (p *Producer) evictDead(need uint64) bool {
	if p.evict == Forever {
		return false
	}
	now := monoNs()
	if now < p.nextLiveCheck {
		return false
	}
	p.nextLiveCheck = now + millisecond
	evicted := false
	for i := uint32(0); i < p.maxConsumers; i++ {
		c := cursorAt(p.cursors, i)
		ps := &p.slots[i]
		st := atomic.LoadUint32(&c.state)
		if st == curFree || atomic.LoadUint32(&c.mode) != uint32(Reliable) {
			continue
		}
		gen := atomic.LoadUint32(&c.gen)
		if gen == atomic.LoadUint32(&p.prod.evicted[i]) {
			continue
		}
		// Where creditRefresh counts it: a joining slot at joiningAt (so a
		// joiner that died holding all credit back can be evicted,
		// model/join.pml FINDING 1), an active one at its cursor.
		var s uint64
		if st == curJoining {
			s = p.joiningAt(ps)
		} else {
			s = atomic.LoadUint64(&c.seq)
		}
		if int64(s+p.depth-p.seq) >= int64(need) {
			continue // not holding us back: it leaves what a whole send needs
		}
		if lockHeld(p.fd, p.cursorLockOff+uint64(i)*pageSize) != 0 {
			ps.deadSince = 0 // alive (or cannot tell: never evict then)
			continue
		}
		if ps.deadSince == 0 || ps.deadGen != gen {
			ps.deadSince = now
			ps.deadGen = gen
		}
		if now-ps.deadSince < uint64(p.evict) {
			continue
		}
		atomic.StoreUint32(&p.prod.evicted[i], gen)
		p.evictions++
		ps.deadSince = 0
		evicted = true
	}
	return evicted
}

// creditGet is true if need descriptors may be published now; else it
// counts backpressure.
func (p *Producer) creditGet(need uint64) bool {
	p.creditRefresh()
	if p.crAvail >= need {
		return true
	}
	if p.evictDead(need) {
		p.creditRefresh()
		if p.crAvail >= need {
			return true
		}
	}
	p.bp++
	atomic.StoreUint64(&p.prod.backpressure, p.bp)
	return false
}

func (p *Producer) housekeeping() {
	p.flush()
	p.hkLeft = jitter(&p.rng, hkInterval)
}

// stamp is tspub for the next n descriptors (one message's fragments, or a
// batch): a clock reading if one of them must be stamped, else 0, "not
// stamped", and no clock read (PROTOCOL.md §2.4).  Stamped: every
// descriptor whose seq is a multiple of stampPeriod, so that a consumer
// sampling after a stall finds a stamped message in its backlog; the first
// publish after a consumer asked for a latency sample (it bumps the wait
// page's stamp_req at each heartbeat, so a slow channel's messages are
// sampled as they come); and all of them while stampMask is 0.  The load
// stands for C's relaxed one: a stamp is a reading of our own clock, valid
// whatever order the request is seen in; on amd64 it is a plain MOV of the
// line arm_gen is on, which every publish loads anyway.
func (p *Producer) stamp(n uint64) uint32 {
	r := atomic.LoadUint32(p.stampReq)
	s := p.seq
	if (s-1)&^p.stampMask == (s+n-1)&^p.stampMask && r == p.stampSeen {
		return 0 // no multiple of the period in [s, s+n-1], no request
	}
	return p.stampNow(r)
}

// stampNow reads the clock for a stamp, having seen stamp_req at r.
//
//go:noinline
func (p *Producer) stampNow(r uint32) uint32 {
	p.stampSeen = r
	if ts := uint32(p.clk.ns()); ts != 0 {
		return ts
	}
	return 1 // 0 means "not stamped"
}

// writeDesc writes the descriptor of sequence number p.seq; the payload is
// already in the data ring.  Batches use it, and publishEnd finishes their
// publish.  With full, the store of seq is also a full barrier
// (publishDesc): a producer that fences (neither ASYM nor LAZY) asks for
// it at the batch's last descriptor only, since the wake-up check comes
// only after that (PROTOCOL.md §3.1 "Batches"), and the seq stores before
// it are release stores in program order (desc_amd64.go; seq_cst
// elsewhere, desc_other.go).
func (p *Producer) writeDesc(chunk, sz, sig uint64, ctl uint16, tsorig, tspub uint32, full bool) {
	seq := p.seq
	if full {
		publishDesc(p.desc(seq), seq, sig, uint32(chunk), packSzCtl(uint32(sz), ctl), tsorig, tspub)
	} else {
		publishDescAsym(p.desc(seq), seq, sig, uint32(chunk), packSzCtl(uint32(sz), ctl), tsorig, tspub)
	}
	p.seq = seq + 1
}

// publishEnd runs after n descriptors of bytes payload bytes: credits,
// counters, housekeeping and the wake-up check, once for them all.
func (p *Producer) publishEnd(n, bytes uint64) {
	p.crAvail -= n
	p.msgs += n
	p.bytes += bytes
	if p.hkLeft > n {
		p.hkLeft -= n
	} else {
		p.housekeeping()
	}
	// Has a consumer parked or armed its fd since we last looked?  The
	// word changes only then, so this load hits our cache.  A parking
	// consumer either sees the descriptors or we see its bump (PROTOCOL.md
	// §3.7): with asym, its heavy barrier orders our seq stores before this
	// load; without, the last seq store is itself a full barrier
	// (desc_*.go), after the others in program order.  LAZY and not
	// FENCING, neither holds: the consumer does not rely on this wake-up
	// (it sleeps at most 1 ms), but it may still come early.  Acquire:
	// pairs with the consumer's seq_cst bump of arm_gen, after its stores
	// of park, fd_gen and (asking a LAZY producer to fence, §3.7a)
	// fence_req, which the wake-up path reads.
	if g := atomic.LoadUint32(p.armGen); g != p.armSeen {
		p.wakeConsumers(g, false)
	}
}

// publish writes one descriptor and finishes its publish: writeDesc and
// publishEnd(1, sz) in one function, for the cost of a small message
// (sendCtl has a copy of it, inlined by hand).
func (p *Producer) publish(chunk, sz, sig uint64, ctl uint16, tsorig, tspub uint32) {
	seq := p.seq
	if p.asym || p.lazy {
		publishDescAsym(p.desc(seq), seq, sig, uint32(chunk), packSzCtl(uint32(sz), ctl), tsorig, tspub)
	} else {
		publishDesc(p.desc(seq), seq, sig, uint32(chunk), packSzCtl(uint32(sz), ctl), tsorig, tspub)
	}
	p.seq = seq + 1
	p.crAvail--
	p.msgs++
	p.bytes += sz
	p.hkLeft--
	if p.hkLeft == 0 {
		p.housekeeping()
	}
	// The wake-up check, as in publishEnd (see there).
	if g := atomic.LoadUint32(p.armGen); g != p.armSeen {
		p.wakeConsumers(g, false)
	}
}

// startFencing answers a consumer's fence_req (PROTOCOL.md §3.7a): it sets
// FENCING; the caller then runs the wake-up path forced, and from now on
// every publish ends with a full barrier (publishDesc).
func (p *Producer) startFencing() {
	p.lazy = false
	// A sequentially consistent RMW (LOCK CMPXCHG): a full barrier, after
	// which every descriptor we published is visible.  It is also the
	// release that pairs with the acquire load of flags in a consumer about
	// to park or arm: one that sees FENCING sees those descriptors.  We are
	// the page's only writer, so the CAS fails only on a torn neighbour:
	// never; the loop is for form.
	for {
		f := atomic.LoadUint32(&p.prod.flags)
		if atomic.CompareAndSwapUint32(&p.prod.flags, f, f|prodFFencing) {
			break
		}
	}
}

// place is where a payload of need chunks goes: the next free chunk, or
// the ring's start if it would cross the end.
func (p *Producer) place(need uint64) uint64 {
	if p.chunk+need > p.dataChunks {
		return 0
	}
	return p.chunk
}

// Reserve reserves n bytes (n <= the channel's MTU) in the data ring and
// returns them.  Write the payload there, then Commit.  A second Reserve
// without a Commit returns the same space, resized.  Errors: ErrAgain when
// a reliable consumer has not freed room yet (counted as backpressure),
// ErrMsgSize.
func (p *Producer) Reserve(n int) ([]byte, error) {
	if p == nil || p.meta == nil {
		return nil, ErrInval
	}
	if n < 0 || uint64(n) > uint64(p.mtu) {
		return nil, ErrMsgSize
	}
	if p.crAvail == 0 && !p.creditGet(1) {
		return nil, ErrAgain
	}
	ch := p.place(chunks(uint64(n)))
	p.resChunk = ch
	p.resCap = uint64(n)
	p.resCount = 1
	off := ch << chunkShift
	return p.data[off : off+uint64(n) : off+uint64(n)], nil
}

// Commit publishes the reserved buffer as a descriptor of n bytes (n <= the
// reserved size) with sig and ctl (CtlMsg for a whole message; CtlSOM and
// CtlEOM mark the fragments of a longer one).  tsorig is 0; tspub is
// stamped as SetStamp says.  ErrInval if nothing was reserved or n is too
// large.
func (p *Producer) Commit(n int, sig uint64, ctl uint16) error {
	return p.CommitTS(n, sig, ctl, 0)
}

// CommitTS is Commit with an application timestamp in tsorig, which
// consumers find in View.TSOrig and Meta.TSOrig.  rill does not read it; by
// convention it is a stamp like TSPub (the low 32 bits of a CLOCK_MONOTONIC
// reading in ns), for instance of when the data arrived from outside.
func (p *Producer) CommitTS(n int, sig uint64, ctl uint16, tsorig uint32) error {
	return p.commitAt(0, n, sig, ctl, tsorig)
}

// CommitAt publishes the n bytes at offset off of the reserved buffer, off
// a multiple of 64, for a payload built backwards from the buffer's end
// (FlatBuffers): the bytes before off are skipped, not sent.  ErrInval if
// nothing was reserved or off and n do not fit in the reservation.
func (p *Producer) CommitAt(off, n int, sig uint64, ctl uint16) error {
	if p == nil || off < 0 || off&(1<<chunkShift-1) != 0 {
		return ErrInval
	}
	return p.commitAt(uint64(off)>>chunkShift, n, sig, ctl, 0)
}

// commitAt publishes n bytes skip chunks into the reservation.  The message
// still takes no more than the reserved chunks, so the ring's sizing rule
// holds (PROTOCOL.md 2.5).
func (p *Producer) commitAt(skip uint64, n int, sig uint64, ctl uint16, tsorig uint32) error {
	if p == nil || p.meta == nil || p.resCap == noReservation || n < 0 || skip > p.resCap>>chunkShift ||
		uint64(n) > p.resCap-skip<<chunkShift {
		return ErrInval
	}
	ch := p.resChunk + skip
	p.publish(ch, uint64(n), sig, ctl, tsorig, p.stamp(1))
	p.chunk = ch + chunks(uint64(n))
	p.resCap = noReservation
	return nil
}

func (p *Producer) sendFrag(src []byte, sig uint64, ctl uint16, ts uint32) {
	n := uint64(len(src))
	need := chunks(n)
	ch := p.place(need)
	copy(p.data[ch<<chunkShift:], src)
	p.publish(ch, n, sig, ctl, 0, ts)
	p.chunk = ch + need
}

// Send copies data (at most the channel's max message size) and publishes
// it as one message, split in fragments of at most MTU bytes when larger.
// All or nothing: ErrAgain without publishing anything if the credit for
// every fragment is not there.  Errors: ErrAgain, ErrMsgSize.
func (p *Producer) Send(data []byte, sig uint64) error { return p.sendCtl(data, sig, 0) }

// smallCopy: payloads up to this size go to publishSmall with the publish.
const smallCopy = 64

// sendCtl is Send with the bits uctl (application and ERR bits; SOM and EOM
// are ignored) on every fragment, as the C library's rill__send_ctl.
func (p *Producer) sendCtl(data []byte, sig uint64, uctl uint16) error {
	if p == nil || p.meta == nil {
		return ErrInval
	}
	p.resCap = noReservation // a send drops any pending reservation
	uctl &^= CtlMsg
	n := uint64(len(data))
	if n <= uint64(p.mtu) {
		if p.crAvail == 0 && !p.creditGet(1) {
			return ErrAgain
		}
		// stamp(1), inlined by hand (too large for the compiler to): the
		// usual answer is 0, with no clock read.
		ts := uint32(0)
		if r := atomic.LoadUint32(p.stampReq); r != p.stampSeen || p.seq&p.stampMask == 0 {
			ts = p.stampNow(r)
		}
		// sendFrag and publish, inlined by hand too: a Go call spills
		// every live register (no callee-saved ones), about a tenth of a
		// small Send.  Keep this in step with publish.
		need := chunks(n)
		ch := p.place(need)
		seq := p.seq
		szctl := packSzCtl(uint32(n), CtlMsg|uctl)
		// The producer's own state first: what a call spills and reloads
		// afterwards is then only the wake-up check.
		p.seq = seq + 1
		p.chunk = ch + need
		p.crAvail--
		p.msgs++
		p.bytes += n
		var g uint32
		if n <= smallCopy { // the copy, the publish and arm_gen's load in one call
			// place keeps ch+need within the ring: dst is inside it.
			dst := (*byte)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(p.data)), ch<<chunkShift))
			g = publishSmall(p.desc(seq), dst, unsafe.SliceData(data), n, seq, sig,
				ch|uint64(szctl)<<32, uint64(ts)<<32, p.armGen, !p.asym && !p.lazy)
		} else {
			copy(p.data[ch<<chunkShift:], data)
			if p.asym || p.lazy {
				publishDescAsym(p.desc(seq), seq, sig, uint32(ch), szctl, 0, ts)
			} else {
				publishDesc(p.desc(seq), seq, sig, uint32(ch), szctl, 0, ts)
			}
			// Acquire: pairs with the consumer's seq_cst bump of arm_gen
			// (see publishEnd).
			g = atomic.LoadUint32(p.armGen)
		}
		p.hkLeft--
		if p.hkLeft == 0 {
			p.housekeeping()
		}
		// The wake-up check, as in publishEnd (see there).
		if g != p.armSeen {
			p.wakeConsumers(g, false)
		}
		return nil
	}
	if n > p.maxMsg {
		return ErrMsgSize
	}
	nfrag := frags(n, p.mtu)
	if p.crAvail < nfrag && !p.creditGet(nfrag) {
		return ErrAgain
	}
	ctl := CtlSOM | uctl
	ts := p.stamp(nfrag) // one reading, if any, for all the fragments
	mtu := int(p.mtu)
	for len(data) > mtu {
		p.sendFrag(data[:mtu], sig, ctl, ts)
		data = data[mtu:]
		ctl = uctl
	}
	p.sendFrag(data, sig, ctl|CtlEOM, ts)
	return nil
}

// ---- batches (PROTOCOL.md §3.1 "Batches") ----------------------------------

// Msg is one message of a batch: SendMany and CommitMany.
type Msg struct {
	// Data: SendMany's message, copied (any size up to MaxMsg).  CommitMany:
	// the buffer ReserveMany gave at the same index, cut to the payload's
	// length (bufs[i][:n]; nil for an empty one).
	Data []byte
	Sig  uint64 // the application's tag, as Send's sig
	// Ctl: for SendMany, CtlErr and the application's bits (CtlSOM and
	// CtlEOM are its own); for CommitMany, as Commit's ctl, stored as given
	// (CtlMsg for a whole message: a 0 there is a middle fragment, which
	// Recv drops as a message whose start is gone).
	Ctl    uint16
	TSOrig uint32 // the application's timestamp, as CommitTS's tsorig
}

// batchFrags counts the fragments of a batch's messages: ErrMsgSize if one
// is over MaxMsg, ErrInval if there are more than the ring's depth (the
// batch could never go).  The count stops growing past the depth, so it
// cannot overflow.  A message of one fragment is counted without frags'
// division, which would cost more than the rest of its check.
func (p *Producer) batchFrags(msgs []Msg) (uint64, error) {
	total, mtu := uint64(0), uint64(p.mtu)
	for i := range msgs {
		n := uint64(len(msgs[i].Data))
		if n <= mtu {
			total++
			continue
		}
		if n > p.maxMsg {
			return 0, ErrMsgSize
		}
		if total <= p.depth {
			total += frags(n, p.mtu)
		}
	}
	if total > p.depth {
		return 0, ErrInval
	}
	return total, nil
}

// SendMany copies and publishes msgs, each split in fragments of at most
// MTU bytes as Send splits it, with one credit check, one wake-up check
// and at most one clock read for the whole batch: consecutive descriptors,
// exactly as that many Sends would write them (a consumer may see any
// prefix of the batch before the rest).  All or nothing: ErrAgain, with
// nothing published, if the credit for every fragment of the batch is not
// there (counted as backpressure once); ErrMsgSize if a message is over
// MaxMsg; ErrInval for no messages, more messages or fragments than the
// ring's depth (a batch that could never be published), or a nil producer.
// As rill_send_many.
func (p *Producer) SendMany(msgs []Msg) error {
	if p == nil || p.meta == nil || len(msgs) == 0 || uint64(len(msgs)) > p.depth {
		return ErrInval
	}
	p.resCap = noReservation // a send drops any pending reservation
	nfrag, err := p.batchFrags(msgs)
	if err != nil {
		return err
	}
	if p.crAvail < nfrag && !p.creditGet(nfrag) {
		return ErrAgain
	}
	ts := p.stamp(nfrag) // one reading, if any, for the batch
	fence := !p.asym && !p.lazy
	mtu := uint64(p.mtu)
	bytes := uint64(0)
	last := len(msgs) - 1
	for i := range msgs {
		m := &msgs[i]
		data := m.Data
		bytes += uint64(len(data))
		uctl := m.Ctl &^ CtlMsg
		ctl := CtlSOM | uctl
		for uint64(len(data)) > mtu {
			need := chunks(mtu)
			ch := p.place(need)
			copy(p.data[ch<<chunkShift:], data[:mtu])
			p.writeDesc(ch, mtu, m.Sig, ctl, m.TSOrig, ts, false)
			p.chunk = ch + need
			data = data[mtu:]
			ctl = uctl
		}
		// The last fragment, by hand: writeDesc is not inlined, and this
		// is every descriptor of a batch of small messages.
		n := uint64(len(data))
		need := chunks(n)
		ch := p.place(need)
		copy(p.data[ch<<chunkShift:], data)
		seq, d, w := p.seq, p.desc(p.seq), packSzCtl(uint32(n), ctl|CtlEOM)
		if fence && i == last {
			publishDesc(d, seq, m.Sig, uint32(ch), w, m.TSOrig, ts)
		} else {
			publishDescAsym(d, seq, m.Sig, uint32(ch), w, m.TSOrig, ts)
		}
		p.seq = seq + 1
		p.chunk = ch + need
	}
	p.publishEnd(nfrag, bytes)
	return nil
}

// ReserveMany reserves len(bufs) buffers of n bytes (n <= MTU) in the data
// ring and points bufs[i] at them (the caller's slice: no allocation).
// Write the payloads, then CommitMany (or Commit, which publishes the
// first alone).  They are laid out as len(bufs) Reserves and Commits of n
// bytes would place them.  A later Reserve, ReserveMany or Send replaces
// the reservation.  Errors: ErrAgain (no credit for len(bufs)
// descriptors, counted as backpressure), ErrMsgSize (n over the MTU, or
// negative), ErrInval (no buffers, more than the ring's depth, or a nil
// producer).  As rill_reserve_many.
func (p *Producer) ReserveMany(bufs [][]byte, n int) error {
	if p == nil || p.meta == nil || len(bufs) == 0 || uint64(len(bufs)) > p.depth {
		return ErrInval
	}
	if n < 0 || uint64(n) > uint64(p.mtu) {
		return ErrMsgSize
	}
	count := uint64(len(bufs))
	if p.crAvail < count && !p.creditGet(count) {
		return ErrAgain
	}
	// Laid out as count reserves of n bytes would be, so the ring's sizing
	// rule holds for each (PROTOCOL.md §2.5); the first is the reservation
	// Commit would publish.
	need, ch, sz := chunks(uint64(n)), p.chunk, uint64(n)
	for i := range bufs {
		if ch+need > p.dataChunks {
			ch = 0
		}
		if i == 0 {
			p.resChunk = ch
		}
		off := ch << chunkShift
		bufs[i] = p.data[off : off+sz : off+sz]
		ch += need
	}
	// Mark the batch's slots "being written" first (PROTOCOL.md §3.1,
	// "Batches"): the caller writes every payload before any of these
	// descriptors is published, so the payload of the k-th may overlap
	// that of the message still in the slot of the (k-1)-th, and a lossy
	// consumer reading that message must fail its check: it finds the
	// mark.  The mark is seq - 1, the last sequence number published:
	// ahead of every message the slots hold, behind every one of the
	// batch.  The stores are seq_cst (Go's only kind), so they are seen
	// before the caller's payload writes, as C's release fence orders them.
	for i := uint64(0); i < count; i++ {
		atomic.StoreUint64(&p.desc(p.seq+i).seq, p.seq-1)
	}
	p.resCap = sz
	p.resCount = count
	return nil
}

// CommitMany publishes the first len(msgs) buffers of the last
// ReserveMany, the i-th as a descriptor of len(msgs[i].Data) bytes with
// msgs[i].Sig, Ctl and TSOrig; msgs[i].Data must be that buffer (or nil
// when empty).  One wake-up check and at most one clock read for the
// batch.  ErrInval, with nothing published, if nothing is reserved, for no
// messages or more than the buffers reserved, a Data longer than the
// reserved size or not at its buffer, or a nil producer.  As
// rill_commit_many (whose rill_msg.data is ignored: here it must match).
func (p *Producer) CommitMany(msgs []Msg) error {
	if p == nil || p.meta == nil || len(msgs) == 0 || p.resCap == noReservation ||
		uint64(len(msgs)) > p.resCount {
		return ErrInval
	}
	// Check the whole batch before publishing any of it.
	need, ch := chunks(p.resCap), p.resChunk
	for i := range msgs {
		if ch+need > p.dataChunks {
			ch = 0 // as ReserveMany placed it
		}
		d := msgs[i].Data
		if uint64(len(d)) > p.resCap || len(d) > 0 && &d[0] != &p.data[ch<<chunkShift] {
			return ErrInval
		}
		ch += need
	}
	count := uint64(len(msgs))
	ts := p.stamp(count)
	ch = p.resChunk
	bytes := uint64(0)
	last, fence := len(msgs)-1, !p.asym && !p.lazy
	for i := range msgs {
		if ch+need > p.dataChunks {
			ch = 0
		}
		m := &msgs[i]
		sz := uint64(len(m.Data))
		p.writeDesc(ch, sz, m.Sig, m.Ctl, m.TSOrig, ts, fence && i == last)
		bytes += sz
		p.chunk = ch + chunks(sz)
		ch += need
	}
	p.resCap = noReservation
	p.publishEnd(count, bytes)
	return nil
}

// Flush writes the producer's counters, position and heartbeat to shared
// memory now (otherwise done every so many messages and when out of
// credit).
func (p *Producer) Flush() error {
	if p == nil || p.meta == nil {
		return ErrInval
	}
	p.flush()
	return nil
}

// Seq is the sequence number the next descriptor will get (after a
// restart, the one after the last descriptor committed before); 0 for a
// nil producer.
func (p *Producer) Seq() uint64 {
	if p == nil {
		return 0
	}
	return p.seq
}

// MTU is the largest payload of one descriptor: of a Reserve, and of each
// fragment Send cuts (0 for a nil producer).
func (p *Producer) MTU() int {
	if p == nil {
		return 0
	}
	return int(p.mtu)
}

// MaxMsg is the largest message Send accepts (0 for a nil producer).
func (p *Producer) MaxMsg() int {
	if p == nil {
		return 0
	}
	return int(p.maxMsg)
}

// SetSpin sets how long the waiting calls busy-spin before they park
// (default 20 µs; 0 parks at once).
func (p *Producer) SetSpin(d time.Duration) {
	if p == nil {
		return
	}
	if d < 0 {
		d = 0
	}
	p.spin = d
}

// StampMode says which descriptors a producer stamps with their publish
// time (View.TSPub, Meta.TSPub): SetStamp.
type StampMode uint32

// The stamp modes, as RILL_STAMP_SAMPLED and RILL_STAMP_EVERY.
const (
	// StampSampled (the default) stamps the descriptors the consumers'
	// latency samples need (each asks at its heartbeat), and every one while
	// a consumer older than 0.4 is joined; the rest carry TSPub 0, "not
	// stamped", and cost no clock read.
	StampSampled StampMode = 0
	// StampEvery stamps every descriptor, as producers before 0.4 did, for
	// an application that reads TSPub itself.
	StampEvery StampMode = 1
)

// SetStamp sets which descriptors carry a publish stamp in tspub
// (PROTOCOL.md §2.4): StampSampled or StampEvery.  ErrInval for another
// mode or a nil producer (or one that left).  As rill_producer_set_stamp.
func (p *Producer) SetStamp(mode StampMode) error {
	if p == nil || p.meta == nil || mode > StampEvery {
		return ErrInval
	}
	p.stampEvery = mode == StampEvery
	// Every descriptor at once; back to sampled at the next credit refresh
	// if no consumer older than 0.4 needs them all.
	if p.stampEvery {
		p.stampMask = 0
	}
	return nil
}

// SetEvict sets how long a reliable consumer whose process died may hold
// the producer back before it is evicted (default 1 s; Forever: never).
func (p *Producer) SetEvict(d time.Duration) {
	if p == nil {
		return
	}
	if d < 0 {
		d = 0
	}
	p.evict = d
}

// resume finds where a producer that joins a channel used before goes on
// (PROTOCOL.md §3.6): after a crash the flushed seq may lag what was
// published, so it walks forward over descriptors holding their own seq.
func (p *Producer) resume() {
	s := atomic.LoadUint64(&p.prod.seq)
	for i := uint64(0); i < p.depth; i++ {
		if atomic.LoadUint64(&p.desc(s).seq) != s {
			break
		}
		s++
	}
	p.seq = s
	p.chunk = 0
	d := p.desc(s - 1)
	if atomic.LoadUint64(&d.seq) == s-1 {
		sz, _ := unpackSzCtl(atomic.LoadUint32(&d.szctl))
		next := uint64(atomic.LoadUint32(&d.chunk)) + chunks(uint64(sz))
		if next <= p.dataChunks {
			p.chunk = next
		}
	}
}

// JoinProducer joins channel name as its producer.  Only one producer may be
// joined at a time: a second join, from any process, fails with ErrBusy
// while the first is alive.  A producer that joins a channel used before
// resumes its sequence.  Errors: ErrInval, ErrNoEnt (a *NotExistError
// naming the channel, region and directory), ErrBusy, ErrMagic,
// ErrVersion, ErrCorrupt, ErrIO.
func (r *Region) JoinProducer(name string) (*Producer, error) {
	if r != nil && r.readOnly {
		return nil, ErrAccess // an observer's handle
	}
	ci, err := r.findChannel(name)
	if err != nil {
		return nil, err
	}
	fd, err := fileReopen(r.fd)
	if err != nil {
		return nil, err
	}
	p := &Producer{fd: fd, lockOff: ci.off + ci.g.prodOff}
	if err := lockTry(fd, p.lockOff); err != nil {
		closeFd(fd)
		return nil, err
	}
	if p.m, err = mapFile(fd, ci.off, ci.size, true); err != nil {
		lockRelease(fd, p.lockOff)
		closeFd(fd)
		return nil, err
	}
	base := p.m.base()
	p.prod = (*prodPage)(unsafe.Add(base, ci.g.prodOff))
	p.wait = (*waitPage)(unsafe.Add(base, ci.g.waitOff))
	p.armGen = &p.wait.armGen
	p.fenceReq = &p.wait.fenceReq
	p.stampReq = &p.wait.stampReq
	// The first publish is stamped: consumers may have asked before we came.
	p.stampSeen = atomic.LoadUint32(p.stampReq) - 1
	p.cursors = unsafe.Add(base, ci.g.cursorOff)
	p.cursorLockOff = ci.off + ci.g.cursorOff
	p.slots = make([]prodSlot, ci.maxConsumers)
	for i := range p.slots {
		p.slots[i].fifoFd = -1
	}
	p.region, p.ch, p.dir = r.name, name, r.dir
	p.spin, p.evict = defaultSpin, defaultEvict
	p.meta = unsafe.Add(base, ci.g.metaOff)
	p.data = p.m.b[ci.g.dataOff : ci.g.dataOff+ci.g.dataChunks*chunkSize]
	p.mask = uint64(ci.depth - 1)
	p.depth = uint64(ci.depth)
	p.mtu = ci.mtu
	p.maxMsg = ci.maxMsg
	p.maxConsumers = ci.maxConsumers
	p.dataChunks = ci.g.dataChunks
	p.resCap = noReservation
	p.stampMask = stampPeriod - 1 // until the first credit refresh, which comes first
	p.rng = randomSeed()
	pp := p.prod
	p.msgs = atomic.LoadUint64(&pp.msgs)
	p.bytes = atomic.LoadUint64(&pp.bytes)
	p.bp = atomic.LoadUint64(&pp.backpressure)
	p.evictions = atomic.LoadUint64(&pp.evictions)
	p.wakes = atomic.LoadUint64(&pp.wakes)
	// LAZY where there is no heavy barrier (Windows), or when the tests ask
	// for it (RILL_LAZY_FENCE=1, read at each join so that a test can set
	// it): fence after a publish only once a consumer asks (PROTOCOL.md
	// §3.7a).  Elsewhere ASYM if we can register, else fence every publish
	// (a Linux consumer before 0.4 does not know LAZY).
	p.lazy = lazyFence || os.Getenv("RILL_LAZY_FENCE") == "1"
	p.asym = !p.lazy && asymOK && heavyBarrierRegister() == nil
	p.resume()
	p.clk.init()
	p.crAvail = 0 // the first publish computes credits
	p.hkLeft = jitter(&p.rng, hkInterval)
	atomic.StoreUint32(&pp.pid, uint32(os.Getpid()))
	// ASYM: parking consumers run a heavy barrier for us (else our publish
	// ends with a full barrier, desc_*.go).  LAZY: we fence once asked;
	// asked already (fence_req is never cleared) if a consumer asked an
	// earlier producer: FENCING from the first publish.
	flags := uint32(0)
	switch {
	case p.asym:
		flags = prodFAsym
	case p.lazy:
		flags = prodFLazy
		// Acquire (seq_cst): pairs with the consumer's seq_cst RMW of
		// fence_req.
		if atomic.LoadUint32(p.fenceReq) != 0 {
			flags |= prodFFencing
			p.lazy = false
		}
	}
	atomic.StoreUint32(&pp.flags, flags)
	atomic.StoreUint32(&pp.crWait, 0)
	atomic.AddUint32(&pp.gen, 1)
	atomic.StoreUint32(&pp.state, prodJoined)
	p.flush()
	// The first publish looks at every slot: consumers may have parked or
	// armed before we came.
	p.armSeen = atomic.LoadUint32(p.armGen) - 1
	// Consumers parked under an earlier producer look again (at our flags
	// and state): the bump is a release that pairs with their acquire load
	// of wake, which comes before their load of flags.
	atomic.AddUint32(&pp.wake, 1)
	unpark(&pp.wake)
	return p, nil
}

// Leave flushes counters and position, marks the channel closed (waiting
// consumers return ErrClosed once they have read everything) and releases
// it.  The producer must not be used afterwards.
func (p *Producer) Leave() error {
	if p == nil || p.fd < 0 {
		return nil
	}
	p.flush()
	// Release (seq_cst): pairs with the acquire load of state in a waiting
	// consumer, which then polls once more and sees everything published.
	atomic.StoreUint32(&p.prod.state, prodLeft)
	p.wakeConsumers(atomic.LoadUint32(p.armGen), true)
	for i := range p.slots {
		closeFd(p.slots[i].fifoFd)
	}
	p.m.unmap()
	lockRelease(p.fd, p.lockOff)
	closeFd(p.fd)
	p.fd = -1
	p.meta, p.data = nil, nil // every call from now on returns ErrInval
	return nil
}

// ---- waking consumers ----------------------------------------------------

func (p *Producer) fifoSignal(i, gen uint32) {
	ps := &p.slots[i]
	if ps.fifoFd < 0 || ps.fifoGen != gen { // a new join: reopen
		closeFd(ps.fifoFd)
		ps.fifoFd = -1
		ps.fifoGen = gen
		fd, err := fifoWriter(p.fd, fifoPath(p.dir, p.region, p.ch, i))
		if err != nil {
			return // nobody reads it: nothing to signal
		}
		ps.fifoFd = fd
	}
	fifoSignal(ps.fifoFd)
}

// wakeConsumers is the wake-up path (PROTOCOL.md §3.7): it runs when
// arm_gen moved, or with force when the producer leaves.  A LAZY producer
// looks at fence_req here, not after every publish (§3.7a).
func (p *Producer) wakeConsumers(gen uint32, force bool) {
	pp := p.prod
	// LAZY, not FENCING yet: has a consumer about to sleep asked us to
	// fence (PROTOCOL.md §3.7a)?  It stores fence_req (seq_cst RMW) before
	// its seq_cst bump of arm_gen, and our acquire load of arm_gen that saw
	// the bump pairs with that bump: we see fence_req too.  A bump our
	// unfenced publish missed is seen at a later publish, and until then
	// the consumer that asked sleeps at most 1 ms at a time.  Answered
	// forced, as at leave: a consumer that asked sleeps on wake without
	// relying on us; wake it and every armed fd now rather than at its next
	// nap.
	if p.lazy && atomic.LoadUint32(p.fenceReq) != 0 {
		p.startFencing()
		force = true
	}
	p.armSeen = gen
	p.wakes++
	atomic.StoreUint64(&pp.wakes, p.wakes)
	// Release: pairs with the acquire load of wake in a parking consumer;
	// the futex compares this word, so a consumer that read the old value
	// and parks after our bump returns at once.
	atomic.AddUint32(&pp.wake, 1)
	parked := force
	for i := uint32(0); i < p.maxConsumers; i++ {
		k := cursorAt(p.cursors, i)
		// Acquire: pairs with the release store of ACTIVE at join.
		if atomic.LoadUint32(&k.state) == curFree {
			continue
		}
		if atomic.LoadUint32(&k.park) != 0 {
			parked = true
		}
		fg := atomic.LoadUint32(&k.fdGen)
		ps := &p.slots[i]
		if fg == ps.fdSeen && !(force && fg != 0) {
			continue
		}
		ps.fdSeen = fg
		p.fifoSignal(i, atomic.LoadUint32(&k.gen))
	}
	if parked {
		unpark(&pp.wake)
	}
}

// ---- waiting for credit ----------------------------------------------------

func addSat(a, b uint64) uint64 {
	if a+b < a {
		return math.MaxUint64
	}
	return a + b
}

func (p *Producer) waitFor(timeout time.Duration, try func() error) error {
	if p == nil || p.meta == nil {
		return ErrInval
	}
	err := try()
	if err != ErrAgain || timeout <= 0 {
		return err
	}
	pp := p.prod
	bp := p.bp // the whole wait counts once
	defer func() {
		p.bp = bp
		atomic.StoreUint64(&pp.backpressure, bp)
	}()
	now := monoNs()
	deadline := addSat(now, uint64(timeout))
	if err = spinTry(now, p.spin, timeout, try); err != ErrAgain {
		return err
	}
	for {
		now = monoNs()
		if now >= deadline {
			return ErrTimedOut
		}
		// Short naps: the retry looks for dead consumers to evict.
		slice := min(deadline-now, 10*millisecond)
		// Acquire: pairs with the release bump of cr_wake by a consumer.
		w := atomic.LoadUint32(&p.wait.crWake)
		// Sequentially consistent, then a heavy barrier: a consumer that
		// flushes its cursor after this sees cr_wait, or we see its cursor
		// in the retry (consumers without asymmetric barriers fence).
		atomic.StoreUint32(&pp.crWait, 1)
		if heavyBarrier() != nil {
			slice = min(slice, millisecond)
		}
		if err = try(); err != ErrAgain {
			atomic.StoreUint32(&pp.crWait, 0)
			return err
		}
		perr := park(&p.wait.crWake, w, time.Duration(slice))
		atomic.StoreUint32(&pp.crWait, 0)
		if perr != nil && perr != ErrTimedOut {
			return perr
		}
		if err = try(); err != ErrAgain {
			return err
		}
		p.flush() // heartbeat while we wait
	}
}

// SendWait is Send that waits for credit up to timeout (spinning for the
// spin budget, then parked on a futex until a reliable consumer advances,
// leaves, or is evicted as dead).  ErrTimedOut instead of ErrAgain (a
// timeout of 0 tries once and may return ErrAgain).
func (p *Producer) SendWait(data []byte, sig uint64, timeout time.Duration) error {
	return p.waitFor(timeout, func() error { return p.Send(data, sig) })
}

// ReserveWait is Reserve that waits for credit up to timeout, as SendWait.
func (p *Producer) ReserveWait(n int, timeout time.Duration) ([]byte, error) {
	var buf []byte
	err := p.waitFor(timeout, func() (e error) { buf, e = p.Reserve(n); return })
	return buf, err
}

// liveConsumers counts the consumers alive on the channel: active slots
// whose lock is held (the slot of a consumer that died stays active until
// it is rejoined).
func (p *Producer) liveConsumers() int {
	n := 0
	for i := uint32(0); i < p.maxConsumers; i++ {
		// Acquire: pairs with the release store of ACTIVE at join.
		if atomic.LoadUint32(&cursorAt(p.cursors, i).state) != curActive {
			continue
		}
		if lockHeld(p.fd, p.cursorLockOff+uint64(i)*pageSize) != 0 { // held, or cannot tell
			n++
		}
	}
	return n
}

// WaitConsumers waits up to timeout (Forever: no limit; 0 or less: looks
// once) until at least n consumers are joined to the channel and alive (a
// slot whose consumer died does not count), so that what the producer
// publishes next reaches them all.  It sleeps on the futex word a producer
// out of credit parks on (the wait page's cr_wake), which every join bumps
// and wakes; a consumer using librill 0.2 does not: it is seen within a
// second.  It returns the number of live consumers (>= n), or ErrTimedOut,
// or ErrInval (n above the channel's consumer slots).  As
// rill_producer_wait_consumers.
func (p *Producer) WaitConsumers(n int, timeout time.Duration) (int, error) {
	if p == nil || p.fd < 0 || n < 0 || n > int(p.maxConsumers) {
		return 0, ErrInval
	}
	deadline := uint64(math.MaxUint64)
	if timeout != Forever {
		deadline = addSat(monoNs(), uint64(max(timeout, 0)))
	}
	for {
		// Acquire: pairs with the release bump of cr_wake a consumer makes
		// after storing ACTIVE at join.  Loaded before the count: a join
		// the count misses changes the word, and the park returns.
		w := atomic.LoadUint32(&p.wait.crWake)
		if have := p.liveConsumers(); have >= n {
			return have, nil
		}
		now := monoNs()
		if now >= deadline {
			return 0, ErrTimedOut
		}
		if testHookSleep != nil {
			testHookSleep()
		}
		// The slices bound the wait for a consumer that joins without
		// waking (librill 0.2), and keep the heartbeat going.
		err := park(&p.wait.crWake, w, time.Duration(min(deadline-now, noWakeSlice)))
		if err == ErrTimedOut {
			p.flush() // heartbeat while we wait
		} else if err != nil {
			return 0, err
		}
	}
}
