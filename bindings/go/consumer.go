// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

import (
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// Mode is how a consumer relates to the producer.
type Mode uint32

// The consumer modes.
const (
	Reliable Mode = 1 // the producer never laps it: backpressure instead
	Lossy    Mode = 2 // never slows the producer; may see overruns
)

// View is what a poll sees: one descriptor and its payload.  Data points
// into shared memory and stays valid until the next call on the consumer
// (for a lossy consumer, only as long as Check says so).
//
// TSOrig and TSPub are stamps, not durations: the low 32 bits of a
// CLOCK_MONOTONIC reading in ns, so the difference of two of them, a
// uint32 subtraction, is good up to 4.2 s.
type View struct {
	Data   []byte // the payload, in shared memory
	Seq    uint64 // the descriptor's sequence number
	Sig    uint64 // the application's tag (Send's sig)
	Ctl    uint16 // CtlSOM, CtlEOM, CtlErr and the application's bits (CtlUser)
	TSOrig uint32 // the application's stamp (CommitTS's tsorig), else 0
	TSPub  uint32 // stamp taken when the producer published it; 0: not stamped (SetStamp)
	Lost   uint64 // with ErrOverrun: sequence numbers skipped
}

// Meta describes a message that Recv, RecvView or RecvWait returned.  TSOrig and TSPub are stamps,
// as in View.
type Meta struct {
	Seq    uint64 // sequence number of the first fragment
	Sig    uint64 // the application's tag (Send's sig)
	Size   uint64 // bytes in the whole message
	Lost   uint64 // sequence numbers skipped before this one
	Ctl    uint16 // ctl of the last fragment
	TSOrig uint32 // tsorig of the first fragment
	TSPub  uint32 // tspub of the last fragment: when the message was complete (0: not stamped)
}

// Consumer reads a channel.  It is used by one goroutine at a time.
type Consumer struct {
	// hot
	meta                                        unsafe.Pointer
	data                                        []byte // the data ring
	mask                                        uint64
	seq                                         uint64 // next sequence number to read
	dataBytes                                   uint64
	mtu                                         uint32
	lossy                                       bool
	latDue                                      bool   // take a latency sample at the next stamped message
	fenceWord                                   uint32 // written by loadFence on weakly ordered machines
	flushLeft                                   uint64 // polls until the cursor is written
	idleLeft                                    uint32 // empty polls until one counts in flushLeft
	streak                                      uint64 // messages taken since the last empty poll
	nextOff                                     uint64 // where the next payload likely starts (prefetched)
	seqFlushed                                  uint64
	msgs, bytes, overrunPoll, overrunRead, lost uint64
	// reassembly for Recv
	asmBuf   []byte
	asmLen   uint64 // bytes gathered so far
	asmFrags uint64 // fragments gathered (0: none in progress)
	lostAcc  uint64 // sequence numbers skipped since the last message
	pend     bool   // a whole message waits in asmBuf (ErrMsgSize)
	pendMeta Meta
	// cold
	depth, maxMsg, rng, flushEvery uint64
	stampAskedNs                   uint64 // mono ns of our last bump of stamp_req
	holdoffNs                      uint64 // SetHoldoff
	clk                            clock  // for latency samples (the producer's kind)
	seq0                           uint64 // the channel's first sequence number
	jumped                         uint64 // sequence numbers skipped by overruns since the join
	slot                           uint32
	fd                             int
	lockOff, prodLockOff           uint64
	m, curMap, waitMap             mapping
	cur                            *cursor
	prod                           *prodPage
	wait                           *waitPage
	spin                           time.Duration
	fifoFd                         int
	fifoFile                       *os.File        // WaitReady's duplicate of fifoFd
	fifoRaw                        syscall.RawConn // ... in the netpoller
	mode                           uint32          // file mode of the region, for the FIFO
	fifo                           string
}

func (c *Consumer) desc(seq uint64) *desc {
	return (*desc)(unsafe.Add(c.meta, uintptr(seq&c.mask)*32))
}

// creditWake wakes a producer parked for credit after our cursor moved.
// It stores cr_wait, runs a heavy barrier, then loads our seq; we stored
// seq (seq_cst) and now load cr_wait (seq_cst): one of us sees the other.
func (c *Consumer) creditWake() {
	if atomic.LoadUint32(&c.prod.crWait) != 0 {
		// Release: pairs with the acquire load of cr_wake in the
		// producer's wait, taken before it parks on the word.
		atomic.AddUint32(&c.wait.crWake, 1)
		unpark(&c.wait.crWake)
	}
}

// flushCursor writes the cursor (and the heartbeat if hb) to shared memory
// and wakes a producer waiting for credit.
func (c *Consumer) flushCursor(hb bool) {
	k := c.cur
	if hb {
		now := monoNs()
		atomic.StoreUint64(&k.hbNs, now)
		// A latency sample at the next stamped message.  Ask the producer
		// to stamp one (PROTOCOL.md §2.3, §2.4), at most once a
		// millisecond: the bump costs the producer a cache miss on its next
		// publish, and a consumer spinning on a busy channel heartbeats
		// every few microseconds, where the stamps every 64 sequence
		// numbers serve.  The RMW is seq_cst (Go's only kind); the protocol
		// needs relaxed, as C's: a stamp is valid whenever the producer
		// sees the request.
		if now-c.stampAskedNs >= stampAskNs {
			atomic.AddUint32(&c.wait.stampReq, 1)
			c.stampAskedNs = now
		}
		c.latDue = true
	}
	atomic.StoreUint64(&k.msgs, c.msgs)
	atomic.StoreUint64(&k.bytes, c.bytes)
	atomic.StoreUint64(&k.overrunPoll, c.overrunPoll)
	atomic.StoreUint64(&k.overrunRead, c.overrunRead)
	atomic.StoreUint64(&k.lost, c.lost)
	// While Recv holds part of a message (or a whole one it could not hand
	// over), the cursor stays at its first fragment: a consumer that dies
	// and rejoins gets the whole message again, never half of it.
	s := c.seq
	if c.asmFrags != 0 || c.pend {
		s = c.pendMeta.Seq
	}
	// Release (seq_cst): pairs with the acquire load of the cursor seq in
	// the producer's credit refresh: our reads of every payload before s
	// happen before the producer reuses those chunks.
	atomic.StoreUint64(&k.seq, s)
	c.seqFlushed = c.seq
	if !c.lossy {
		c.creditWake() // lossy cursors give no credit
	}
}

// latSample records the publish-to-consume latency of a message just
// consumed, one with tspub != 0 (0 is "not stamped", PROTOCOL.md §2.4): one
// clock read per heartbeat flush, never per message.  The
// difference is taken modulo 2^32 like the stamps; one past 2^31 means the
// producer's stamp ran ahead of our clock and counts as 0.  Our cursor page
// has one writer, us.
func (c *Consumer) latSample(tspub uint32) {
	c.latDue = false
	// The tick-counter clock the producer stamps with: a third of the
	// cost of a system clock reading, on the path of the message sampled.
	d := uint32(c.clk.ns()) - tspub
	if int32(d) < 0 {
		d = 0
	}
	k := c.cur
	b := &k.lat[latBucket(d)]
	atomic.StoreUint64(b, atomic.LoadUint64(b)+1)
	atomic.StoreUint64(&k.latSum, atomic.LoadUint64(&k.latSum)+uint64(d))
}

// loadDesc reads a descriptor's fields (between the two loads of its seq).
func loadDesc(d *desc) (sig, chunk uint64, sz uint32, ctl uint16, tsorig, tspub uint32) {
	sig = atomic.LoadUint64(&d.sig)
	chunk = uint64(atomic.LoadUint32(&d.chunk))
	sz, ctl = unpackSzCtl(atomic.LoadUint32(&d.szctl))
	return sig, chunk, sz, ctl, atomic.LoadUint32(&d.tsorig), atomic.LoadUint32(&d.tspub)
}

// overrun: the slot of c.seq holds found, not c.seq.  The consumer
// resyncs forward to found only if a producer could have published it
// (PROTOCOL.md §3.2): no further ahead of the producer's flushed seq than a
// flush can lag (maxFlushLag), and not so far that its jumps since it
// joined would add up to maxJumped (a cycle of planted sequence numbers,
// each ahead of the last, would otherwise bring it round 2^64 to messages
// it already delivered).  Anything else is a garbage descriptor, skipped:
// every call moves the consumer forward, so it can neither loop nor stall.
func (c *Consumer) overrun(found uint64, v *View) error {
	lost := found - c.seq
	// Acquire (seq_cst): pairs with the seq_cst store of the producer's
	// seq in its flush.
	head := atomic.LoadUint64(&c.prod.seq)
	if int64(lost) <= 0 || // slots only move forward
		int64(found-head) > maxFlushLag || lost > maxJumped-c.jumped {
		c.seq++
		return ErrCorrupt
	}
	// A reliable consumer is lapped only after the producer evicted it (or
	// by a broken one): the producer may still hold credits computed
	// without it, good up to the seq it flushed then plus depth.  Resynced
	// behind head, it could be lapped again while it reads a payload it
	// never checks; at head (or later) it cannot.
	if !c.lossy && int64(head-found) > 0 {
		found = head
		lost = found - c.seq
	}
	c.jumped += lost
	c.seq = found
	c.overrunPoll++
	c.lost += lost
	v.Lost = lost
	return ErrOverrun
}

// Poll looks at the next descriptor.  nil with v filled and the consumer
// moved past it; ErrAgain if nothing is published yet; ErrOverrun with
// v.Lost set if the consumer was lapped (it resynchronises to the newest
// message in the slot, which the next poll returns).  Fragments are
// returned one by one.  ErrCorrupt if the descriptor points outside the
// data ring, exceeds the MTU or holds a sequence number behind ours (a
// broken producer), or a sequence number so far ahead that no producer
// can have published it (PROTOCOL.md §3.2): it is skipped, its payload
// never read.
func (c *Consumer) Poll(v *View) error {
	if c == nil || c.meta == nil || v == nil {
		return ErrInval
	}
	// The periodic flush carries the heartbeat.  It comes at the start of
	// a poll, before the look: the poll that counted it down has returned
	// its message first (PROTOCOL.md §3.4).
	if c.flushLeft == 0 {
		c.flushCursor(true)
		c.flushLeft = jitter(&c.rng, c.flushEvery)
	}
	d := c.desc(c.seq)
	// Acquire: pairs with the release store of seq in publishDesc.
	s1 := atomic.LoadUint64(&d.seq)
	if c.streak == 0 { // after a wait: the payload's line beside the descriptor's (see prefetchNext)
		c.prefetchNext()
	}
	if s1 != c.seq && c.streak >= streamStreak && c.holdoff(d) {
		s1 = c.seq // published while we waited
	}
	if diff := int64(s1 - c.seq); diff != 0 {
		c.streak = 0
		if diff > 0 {
			c.flushLeft--
			return c.overrun(s1, v)
		}
		// Nothing yet.  Idle is the time to tell the producer how far we
		// got.  An empty poll counts one in idlePolls: a consumer spinning
		// on an idle channel heartbeats every few tens of microseconds,
		// not every few round trips of a busy one.
		if c.seq != c.seqFlushed {
			c.flushCursor(false)
		}
		if c.idleLeft--; c.idleLeft == 0 {
			c.idleLeft = idlePolls
			c.flushLeft--
		}
		return ErrAgain
	}
	c.flushLeft--
	c.streak++
	sig, chunk, sz, ctl, tsorig, tspub := loadDesc(d)
	// The field loads are seq_cst, so they happen before the second load of
	// seq (the acquire fence of §3.2).  Equal seqs: the fields belong to s1.
	if s2 := atomic.LoadUint64(&d.seq); s2 != s1 {
		return c.overrun(s2, v)
	}
	c.seq++
	// Trust nothing: the payload must lie inside the data ring.
	off := chunk << chunkShift
	if sz > c.mtu || off+uint64(sz) > c.dataBytes {
		return ErrCorrupt
	}
	c.setNextOff(off, sz)
	if c.latDue && tspub != 0 {
		c.latSample(tspub)
	}
	v.Data = c.data[off : off+uint64(sz) : off+uint64(sz)]
	v.Seq = s1
	v.Sig = sig
	v.Ctl = ctl
	v.TSOrig = tsorig
	v.TSPub = tspub
	v.Lost = 0
	c.msgs++
	c.bytes += uint64(sz)
	return nil
}

// PollMany takes up to len(views) descriptors that are ready, in order,
// into views[0:n] (PROTOCOL.md §3.4 "burst"): a Poll, then polls of the
// next sequence numbers while their descriptors are whole and in place,
// writing the cursor at most once, in the first Poll.  Every view stays
// valid until the next call on this consumer: the cursor does not pass
// them before then (a lossy consumer's only as long as Check says so, each
// checked on its own).  It returns n >= 1, or 0 and what Poll returns for
// the first descriptor (ErrAgain, ErrOverrun with views[0].Lost,
// ErrCorrupt).  A burst ends before a descriptor that is not ready yet,
// lapped or corrupt: the next call reports it.  ErrInval for no views or a
// nil consumer.  As rill_poll_many.
func (c *Consumer) PollMany(views []View) (int, error) {
	if len(views) == 0 {
		return 0, ErrInval
	}
	// The first descriptor is an ordinary poll: it flushes the cursor when
	// due (releasing the views of the last call) and reports what it finds.
	if err := c.Poll(&views[0]); err != nil {
		return 0, err
	}
	// The rest are taken only while they are whole and in order, without a
	// flush: the cursor stays behind every view handed out, so a reliable
	// consumer's payloads stay put until the next call.
	k, bytes := 1, uint64(0)
	for ; k < len(views); k++ {
		d := c.desc(c.seq)
		// Acquire: pairs with the release store of seq in publishDesc.
		s1 := atomic.LoadUint64(&d.seq)
		if s1 != c.seq {
			break
		}
		sig, chunk, sz, ctl, tsorig, tspub := loadDesc(d)
		// As in Poll: the field loads are seq_cst, so they happen before
		// the second load of seq; equal seqs mean the fields belong to s1.
		if atomic.LoadUint64(&d.seq) != s1 {
			break
		}
		off := chunk << chunkShift
		if sz > c.mtu || off+uint64(sz) > c.dataBytes {
			break // the next call reports it
		}
		c.seq++
		if c.latDue && tspub != 0 {
			c.latSample(tspub)
		}
		v := &views[k]
		v.Data = c.data[off : off+uint64(sz) : off+uint64(sz)]
		v.Seq = s1
		v.Sig = sig
		v.Ctl = ctl
		v.TSOrig = tsorig
		v.TSPub = tspub
		v.Lost = 0
		bytes += uint64(sz)
	}
	more := uint64(k - 1)
	if more > 0 {
		last := &views[k-1]
		c.setNextOff(uint64(uintptr(unsafe.Pointer(unsafe.SliceData(last.Data)))-
			uintptr(unsafe.Pointer(unsafe.SliceData(c.data)))), uint32(len(last.Data)))
	}
	c.msgs += more
	c.bytes += bytes
	c.streak += more
	// The polls of the burst count toward the next flush, which the next
	// call makes at its start (never one in this call: see above), so the
	// countdown stops at 0.
	if c.flushLeft > more {
		c.flushLeft -= more
	} else {
		c.flushLeft = 0
	}
	return k, nil
}

func (c *Consumer) checkSeq(seq uint64) error {
	loadFence(&c.fenceWord)
	if atomic.LoadUint64(&c.desc(seq).seq) == seq {
		return nil
	}
	c.overrunRead++
	return ErrOverrun
}

// Check, after reading v.Data: nil if the payload was not overwritten
// meanwhile, ErrOverrun if it may have been (discard what was read).
// Reliable consumers need not call it.
func (c *Consumer) Check(v *View) error {
	if c == nil || c.meta == nil || v == nil {
		return ErrInval
	}
	return c.checkSeq(v.Seq)
}

// copyFrag copies a fragment's payload; false if the copy is not good.
func (c *Consumer) copyFrag(dst, src []byte, seq uint64) bool {
	copy(dst, src)
	return !c.lossy || c.checkSeq(seq) == nil
}

func (c *Consumer) asmDrop() {
	c.lostAcc += c.asmFrags
	c.asmFrags = 0
	c.asmLen = 0
}

// recvWhole is Recv's fast path: the next descriptor is a whole message
// that fits buf and no periodic flush is due (a latency sample may be).  It returns false, having
// consumed nothing, whenever that is not so (the general path takes over),
// and also after a lossy consumer's copy failed its check (the descriptor
// is consumed and counted lost, as the general path does).
func (c *Consumer) recvWhole(buf []byte, m *Meta) (int, bool) {
	if c.pend || c.asmFrags != 0 || c.flushLeft == 0 {
		return 0, false
	}
	s := c.seq
	d := c.desc(s)
	// Acquire: pairs with the release store of seq in publishDesc.
	s1 := atomic.LoadUint64(&d.seq)
	if c.streak == 0 {
		c.prefetchNext()
	}
	if s1 != s {
		return 0, false
	}
	sig, chunk, sz, ctl, tsorig, tspub := loadDesc(d)
	// As in Poll: equal seqs mean the fields belong to s.
	off := chunk << chunkShift
	if atomic.LoadUint64(&d.seq) != s || ctl&CtlMsg != CtlMsg || sz > c.mtu ||
		off+uint64(sz) > c.dataBytes || int(sz) > len(buf) {
		return 0, false
	}
	c.flushLeft--
	c.streak++
	c.seq = s + 1
	c.setNextOff(off, sz)
	c.msgs++
	c.bytes += uint64(sz)
	// A sample may stay due over many unstamped messages (PROTOCOL.md
	// §2.4): taken here, as Poll takes it, they keep the fast path.
	if c.latDue && tspub != 0 {
		c.latSample(tspub)
	}
	copy(buf, c.data[off:off+uint64(sz)])
	if c.lossy && c.checkSeq(s) != nil {
		c.lostAcc++
		return 0, false
	}
	*m = Meta{Seq: s, Sig: sig, Size: uint64(sz), Lost: c.lostAcc, Ctl: ctl, TSOrig: tsorig, TSPub: tspub}
	c.lostAcc = 0
	return int(sz), true
}

// Recv copies the next whole message (fragments reassembled) into buf and
// returns its size.  ErrAgain if no whole message is there yet (fragments
// read so far are kept); ErrMsgSize with m.Size set if buf is too small
// (the message is kept: call again with a larger buffer).  Overruns are not
// returned: a lossy consumer skips to the next whole message and adds the
// skipped count to m.Lost; so are corrupt descriptors.  Each call looks at
// no more than two laps of the ring.
func (c *Consumer) Recv(buf []byte, m *Meta) (int, error) {
	if c == nil || c.meta == nil || m == nil {
		return 0, ErrInval
	}
	if n, ok := c.recvWhole(buf, m); ok {
		return n, nil
	}
	d, err := c.recv(buf, m, false)
	return len(d), err
}

// RecvView is Recv without the copy where it can: a reliable consumer's
// whole message in one fragment is left in shared memory and returned
// there (valid until the next call on this consumer, like Poll's view);
// otherwise the message is copied into buf, as by Recv, and returned as
// buf[:n].  Errors as Recv.
func (c *Consumer) RecvView(buf []byte, m *Meta) ([]byte, error) {
	if c == nil || c.meta == nil || m == nil {
		return nil, ErrInval
	}
	return c.recv(buf, m, !c.lossy)
}

// recv is Recv's general path; with inPlace, a whole message in one
// fragment is returned where it lies.
func (c *Consumer) recv(buf []byte, m *Meta, inPlace bool) ([]byte, error) {
	if c.pend { // a message too large for the last buffer
		*m = c.pendMeta
		if c.asmLen > uint64(len(buf)) {
			return nil, ErrMsgSize
		}
		n := copy(buf, c.asmBuf[:c.asmLen])
		c.pend = false
		c.asmLen = 0
		return buf[:n], nil
	}
	var v View
	for budget := 2*c.depth + 2; budget > 0; budget-- {
		if err := c.Poll(&v); err != nil {
			if err == ErrAgain {
				return nil, err
			}
			// lapped (v.Lost skipped) or a garbage descriptor (skipped):
			// any message being gathered is cut
			if err == ErrOverrun {
				c.lostAcc += v.Lost
			} else {
				c.lostAcc++
			}
			c.asmDrop()
			continue
		}
		som, eom := v.Ctl&CtlSOM != 0, v.Ctl&CtlEOM != 0
		if som && c.asmFrags != 0 {
			c.asmDrop() // the previous message was cut
		}
		if !som && c.asmFrags == 0 {
			c.lostAcc++ // its start is gone
			continue
		}
		sz := uint64(len(v.Data))
		if inPlace && som && eom { // the producer does not reuse it before we move on
			*m = Meta{Seq: v.Seq, Sig: v.Sig, Size: sz, Lost: c.lostAcc, Ctl: v.Ctl,
				TSOrig: v.TSOrig, TSPub: v.TSPub}
			c.lostAcc = 0
			return v.Data, nil
		}
		if som && eom && sz <= uint64(len(buf)) { // a whole message that fits
			if !c.copyFrag(buf, v.Data, v.Seq) {
				c.lostAcc++
				continue
			}
			*m = Meta{Seq: v.Seq, Sig: v.Sig, Size: sz, Lost: c.lostAcc, Ctl: v.Ctl,
				TSOrig: v.TSOrig, TSPub: v.TSPub}
			c.lostAcc = 0
			return buf[:sz], nil
		}
		if c.asmLen+sz > c.maxMsg {
			c.lostAcc++
			c.asmDrop()
			continue
		}
		if c.asmBuf == nil {
			c.asmBuf = make([]byte, c.maxMsg)
		}
		if !c.copyFrag(c.asmBuf[c.asmLen:], v.Data, v.Seq) {
			c.lostAcc++
			c.asmDrop()
			continue
		}
		if som {
			c.pendMeta.Seq, c.pendMeta.Sig, c.pendMeta.TSOrig = v.Seq, v.Sig, v.TSOrig
		}
		c.asmLen += sz
		c.asmFrags++
		if !eom {
			continue
		}
		*m = Meta{Seq: c.pendMeta.Seq, Sig: c.pendMeta.Sig, Size: c.asmLen, Lost: c.lostAcc,
			Ctl: v.Ctl, TSOrig: c.pendMeta.TSOrig, TSPub: v.TSPub}
		c.lostAcc = 0
		c.asmFrags = 0
		if c.asmLen > uint64(len(buf)) {
			c.pend = true
			c.pendMeta = *m
			return nil, ErrMsgSize
		}
		n := copy(buf, c.asmBuf[:c.asmLen])
		c.asmLen = 0
		return buf[:n], nil
	}
	return nil, ErrAgain
}

// slotHolds is true if the slot of s holds s, with its ctl (read between
// two loads of seq, as Poll reads).
func (c *Consumer) slotHolds(s uint64) (uint16, bool) {
	d := c.desc(s)
	// Acquire: pairs with the release store of seq in publishDesc.
	if atomic.LoadUint64(&d.seq) != s {
		return 0, false
	}
	_, ctl := unpackSzCtl(atomic.LoadUint32(&d.szctl))
	// The ctl load is seq_cst, so it happens before the second load of seq
	// (the acquire fence of §3.2).
	return ctl, atomic.LoadUint64(&d.seq) == s
}

// SeekLast moves a lossy consumer to the last n messages still in the
// ring: to the newest descriptor published, then back over n starts of
// messages (SOM), no further than descriptors that were overwritten or the
// channel's first.  Its next polls return those messages, then the new
// ones, as `tail` shows the end of a file (n = 0: only what comes next).
// Any message Recv was gathering is dropped.  It returns how many messages
// it went back over (<= n), or ErrInval for a reliable consumer (it cannot
// go back: the producer may have reused that room).
func (c *Consumer) SeekLast(n uint64) (uint64, error) {
	if c == nil || c.meta == nil || !c.lossy {
		return 0, ErrInval
	}
	// The newest end: from the producer's flushed seq (or ours, if ahead),
	// forward over what was published since; a slot that holds a later
	// sequence number (the flushed seq is a lap or more behind) is jumped
	// to.  Bounded: a producer that keeps publishing does not hold us.
	head := atomic.LoadUint64(&c.prod.seq)
	if int64(c.seq-head) > 0 {
		head = c.seq
	}
	for i := uint64(0); i < 2*c.depth; i++ {
		// Acquire: pairs with the release store of seq in publishDesc.
		x := atomic.LoadUint64(&c.desc(head).seq)
		if x == head {
			head++
		} else if int64(x-head) > 0 {
			head = x
		} else {
			break
		}
	}
	// Back over n starts of messages, while the descriptors are still there
	// and no further than the channel's first sequence number.
	s, found := head, uint64(0)
	for i := uint64(0); found < n && i < c.depth; i++ {
		t := s - 1
		if int64(t-c.seq0) < 0 {
			break
		}
		ctl, ok := c.slotHolds(t)
		if !ok {
			break
		}
		s = t
		if ctl&CtlSOM != 0 {
			found++
		}
	}
	c.seq = s
	c.asmFrags, c.asmLen = 0, 0 // nothing half-gathered carries over
	c.pend = false
	c.lostAcc = 0
	return found, nil
}

// Flush writes the consumer's cursor, counters and heartbeat to shared
// memory now.  This is also how a reliable consumer commits its position
// for RejoinConsumer.
func (c *Consumer) Flush() error {
	if c == nil || c.meta == nil {
		return ErrInval
	}
	c.flushCursor(true)
	return nil
}

// holdoff: a consumer that has just caught up with a streaming producer (a
// streak of streamStreak messages or more, then nothing) waits holdoffNs
// before it looks again (SetHoldoff): looking at once reads the cache line
// the producer is writing, and every look costs the producer that line.
// True if the slot it waits for was published meanwhile (it looks at the
// end only).
func (c *Consumer) holdoff(d *desc) bool {
	c.streak = 0
	if c.holdoffNs == 0 {
		return false
	}
	end := monoNs() + c.holdoffNs
	for monoNs() < end {
		spinPause()
	}
	// Acquire: pairs with the release store of seq in publishDesc.
	return atomic.LoadUint64(&d.seq) == c.seq
}

// A consumer that caught up after a streak of streamStreak messages waits a
// hold-off before it looks again, by default defaultHoldoff ns (as C's
// RILL_STREAM_STREAK and RILL_HOLDOFF_DEFAULT_NS: local tuning, not part of
// the protocol, PROTOCOL.md §3.2 "What a consumer may do locally").
const (
	streamStreak   = 64
	defaultHoldoff = 2000
)

// prefetchNext asks for the line where the next payload likely starts, as
// the C consumer does (src/core/consumer.h): a consumer that waits for the
// descriptor before it asks for the payload pays two cache-line transfers
// in a row.  Called after a wait only: a streaming consumer's payloads are
// read in order, which the hardware prefetches, and the line would only be
// taken from a producer writing it.  A hint: a wrong guess costs a useless
// fetch inside the data ring.
func (c *Consumer) prefetchNext() {
	if c.nextOff < uint64(len(c.data)) {
		prefetch(&c.data[c.nextOff])
	}
}

// setNextOff records where the payload after one of sz bytes at off starts
// if the producer places the next right after it (chunk 0 past the end).
func (c *Consumer) setNextOff(off uint64, sz uint32) {
	n := off + (uint64(sz)+chunkSize-1)&^(chunkSize-1)
	if n >= c.dataBytes {
		n = 0
	}
	c.nextOff = n
}

// SetHoldoff sets how long a consumer that has just caught up with a
// streaming producer waits before it looks again (default 2µs, 0: never).
// After a streak of 64 or more messages, the first Poll, PollMany or Recv
// that finds nothing waits up to d, looks once more and returns: looking
// at once would read the cache line the producer is writing, and every
// such look costs the producer that line.  A message published meanwhile
// is returned at the end of the wait; one that comes after a gap, or in a
// sparse stream, is seen at once.  d above a second is a second.  As
// rill_consumer_set_holdoff.
func (c *Consumer) SetHoldoff(d time.Duration) {
	if c == nil {
		return
	}
	c.holdoffNs = uint64(min(max(d, 0), time.Second))
}

// SetSpin sets how long the waiting calls busy-spin before they park
// (default 20 µs; 0 parks at once).
func (c *Consumer) SetSpin(d time.Duration) {
	if c == nil {
		return
	}
	if d < 0 {
		d = 0
	}
	c.spin = d
}

// Slot is the consumer slot this consumer occupies (for RejoinConsumer);
// -1 for a nil consumer.
func (c *Consumer) Slot() int {
	if c == nil {
		return -1
	}
	return int(c.slot)
}

// Seq is the sequence number of the next descriptor the consumer reads (0
// for a nil consumer).
func (c *Consumer) Seq() uint64 {
	if c == nil {
		return 0
	}
	return c.seq
}

// MaxMsg is the largest message of the channel: a Recv buffer of this size
// always fits (0 for a nil consumer).
func (c *Consumer) MaxMsg() int {
	if c == nil {
		return 0
	}
	return int(c.maxMsg)
}

// JoinConsumer joins channel name as a consumer in mode.  It starts at the
// producer's last flushed position, so a consumer that joins before the
// first message sees every message.  It maps the channel read-only except
// for its own cursor page and the wait page.  Errors: ErrInval, ErrNoEnt (a
// *NotExistError naming the channel, region and directory),
// ErrFull, ErrMagic, ErrVersion, ErrCorrupt, ErrIO.
func (r *Region) JoinConsumer(name string, mode Mode) (*Consumer, error) {
	if mode != Reliable && mode != Lossy {
		return nil, ErrInval
	}
	return r.join(name, mode, -1, false)
}

// RejoinConsumer rejoins consumer slot slot of channel name, in the mode it
// had, from the position it last flushed: for a consumer restarted after a
// crash (one that died delivers again what it read after its last flush).
// Where the producer did not count the slot meanwhile (its consumer left,
// or died and was evicted), a reliable consumer resumes no earlier than
// the producer's flushed position, which the producer's credits cannot
// reach: the
// sequence numbers it passes over count as lost, like an overrun (the
// slot's Lost and OverrunPoll, and the next Recv's Meta.Lost).  If the
// producer lapped the slot otherwise, the first poll reports the loss as
// an overrun.  Errors: ErrInval (no such slot), ErrNoEnt (slot never
// used), ErrBusy (its consumer is alive), and those of JoinConsumer.
func (r *Region) RejoinConsumer(name string, slot int) (*Consumer, error) {
	if slot < 0 {
		return nil, ErrInval
	}
	return r.join(name, 0, slot, false)
}

// rejoinAtCursor is RejoinConsumer resuming at the slot's cursor whether
// or not the producer counted the slot meanwhile: for a caller whose own
// flow control keeps the producer from reusing what is past that cursor
// (a request lane: a client has at most its capacity of calls unanswered,
// which fit in the ring, so it never overwrites one; joinRequests).
func (r *Region) rejoinAtCursor(name string, slot int) (*Consumer, error) {
	if slot < 0 {
		return nil, ErrInval
	}
	return r.join(name, 0, slot, true)
}

func (r *Region) join(name string, mode Mode, want int, atCursor bool) (_ *Consumer, err error) {
	if r != nil && r.readOnly {
		return nil, ErrAccess // an observer's handle
	}
	ci, err := r.findChannel(name)
	if err != nil {
		return nil, err
	}
	if want >= int(ci.maxConsumers) {
		return nil, ErrInval
	}
	c := &Consumer{fd: -1, fifoFd: -1}
	if c.fd, err = fileReopen(r.fd); err != nil {
		return nil, err
	}
	locked := false
	defer func() {
		if err != nil {
			c.m.unmap()
			c.curMap.unmap()
			c.waitMap.unmap()
			if locked {
				lockRelease(c.fd, c.lockOff)
			}
			closeFd(c.fd)
		}
	}()
	if c.mode, err = fileMode(c.fd); err != nil {
		return
	}
	base := unsafe.Add(r.m.base(), ci.off)
	curAt := func(i uint32) *cursor { return cursorAt(unsafe.Add(base, ci.g.cursorOff), i) }
	lockSlot := func(i uint32) error {
		c.lockOff = ci.off + ci.g.cursorOff + uint64(i)*pageSize
		return lockTry(c.fd, c.lockOff)
	}
	var slot uint32
	if want >= 0 {
		slot = uint32(want)
		if err = lockSlot(slot); err != nil {
			return
		}
		locked = true
		k := curAt(slot)
		if atomic.LoadUint32(&k.gen) == 0 {
			return nil, ErrNoEnt
		}
		m := atomic.LoadUint32(&k.mode)
		if m != uint32(Reliable) && m != uint32(Lossy) {
			return nil, ErrCorrupt
		}
		mode = Mode(m)
	} else {
		// Claim a slot: its lock is ours for as long as we live.  Free slots
		// first, so that a dead consumer's slot waits for it to rejoin.
		found := false
		for pass := 0; pass < 2 && !found; pass++ {
			for slot = 0; slot < ci.maxConsumers; slot++ {
				if pass == 0 && atomic.LoadUint32(&curAt(slot).state) != curFree {
					continue
				}
				e := lockSlot(slot)
				if e == nil {
					found = true
					break
				}
				if e != ErrBusy {
					return nil, e
				}
			}
		}
		if !found {
			return nil, ErrFull
		}
		locked = true
	}
	// The producer's parts read-only; our cursor page and the wait page
	// read-write.
	if c.m, err = mapFile(c.fd, ci.off, ci.size, false); err != nil {
		return
	}
	if c.curMap, err = mapFile(c.fd, c.lockOff, pageSize, true); err != nil {
		return
	}
	if c.waitMap, err = mapFile(c.fd, ci.off+ci.g.waitOff, pageSize, true); err != nil {
		return
	}
	mb := c.m.base()
	c.cur = (*cursor)(c.curMap.base())
	c.wait = (*waitPage)(c.waitMap.base())
	c.fifo = fifoPath(r.dir, r.name, name, slot)
	c.slot = slot
	c.prod = (*prodPage)(unsafe.Add(mb, ci.g.prodOff))
	c.prodLockOff = ci.off + ci.g.prodOff
	c.meta = unsafe.Add(mb, ci.g.metaOff)
	c.dataBytes = ci.g.dataChunks << chunkShift
	c.data = c.m.b[ci.g.dataOff : ci.g.dataOff+c.dataBytes]
	c.mask = uint64(ci.depth - 1)
	c.depth = uint64(ci.depth)
	c.seq0 = ci.seq0
	c.mtu = ci.mtu
	c.maxMsg = ci.maxMsg
	c.lossy = mode == Lossy
	c.rng = randomSeed()
	c.flushEvery = max(uint64(ci.depth/4), 1)
	c.flushLeft = jitter(&c.rng, c.flushEvery)
	c.idleLeft = idlePolls
	c.clk.init()
	c.holdoffNs = defaultHoldoff
	c.spin = defaultSpin

	k := c.cur
	last := atomic.LoadUint64(&k.seq)
	if want < 0 {
		atomic.StoreUint64(&k.msgs, 0)
		atomic.StoreUint64(&k.bytes, 0)
		atomic.StoreUint64(&k.overrunPoll, 0)
		atomic.StoreUint64(&k.overrunRead, 0)
		atomic.StoreUint64(&k.lost, 0)
		atomic.StoreUint64(&k.latSum, 0)
		for i := range k.lat {
			atomic.StoreUint64(&k.lat[i], 0)
		}
	} else {
		c.msgs = atomic.LoadUint64(&k.msgs)
		c.bytes = atomic.LoadUint64(&k.bytes)
		c.overrunPoll = atomic.LoadUint64(&k.overrunPoll)
		c.overrunRead = atomic.LoadUint64(&k.overrunRead)
		c.lost = atomic.LoadUint64(&k.lost)
	}
	atomic.StoreUint32(&k.pid, uint32(os.Getpid()))
	atomic.StoreUint32(&k.mode, uint32(mode))
	atomic.StoreUint32(&k.park, 0)
	oldGen := atomic.LoadUint32(&k.gen)
	gen := oldGen + 1
	if gen == 0 {
		gen = 1
	}
	atomic.StoreUint32(&k.gen, gen)
	// This join samples latency from stamped messages only (0.4): the
	// producer need not stamp the others (its creditRefresh).  With gen,
	// before the state store below that publishes both (a producer that
	// sees a slot taken over in place, with no state store, may count it
	// as an older consumer until its next credit refresh: harmless).
	atomic.StoreUint32(&k.stampGen, gen)
	prodSeq := atomic.LoadUint64(&c.prod.seq)
	if want >= 0 {
		// A rejoin resumes where it last flushed.  That may be ahead of the
		// producer's flushed seq, but not ahead of what it published: the
		// slot before it must hold that sequence number or a later one.
		before := atomic.LoadUint64(&c.desc(last - 1).seq)
		if int64(prodSeq-last) >= 0 || int64(before-(last-1)) >= 0 {
			c.seq = last
		} else {
			c.seq = prodSeq
		}
	}
	if want >= 0 && atomic.LoadUint32(&k.state) == curActive {
		// The slot of a consumer that died: the producer has counted its
		// cursor all along, so we take over in place; unless it evicted
		// the slot (model/join.pml, FINDING 3).  Then the credits of its
		// refreshes that skipped the slot, up to their flush + depth - 1,
		// may reach the payload at last before our first poll sees a lap.
		// A full barrier between our store of gen and the loads below: Go's
		// atomics are sequentially consistent, so the atomic.Store of gen
		// followed by atomic.Loads is one (XCHG on amd64; STLR then LDAR on
		// arm64; C needs atomic_thread_fence(seq_cst) there).  A refresh
		// that still found the old gen evicted loaded it before our store,
		// so its flush of producer.seq, and the store of evicted[i] before
		// that flush, come before our loads: we see evicted[i] == the old
		// gen, and a producer.seq at least every such flush.  Every
		// refresh after our store sees the new gen and counts our cursor.
		// Seq_cst (C: relaxed, after the fence): the producer's store of
		// evicted[i] (evictDead) is made visible by the seq_cst store of
		// producer.seq in the refresh that follows it (creditGet), which
		// comes before that refresh's load of our gen.
		// A lossy consumer checks what it reads, and needs none of this.
		if !c.lossy && !atCursor && atomic.LoadUint32(&c.prod.evicted[slot]) == oldGen {
			// Acquire (seq_cst): pairs with the seq_cst store of
			// producer.seq in the producer's flush.
			c.resumeNoEarlier(atomic.LoadUint64(&c.prod.seq))
		}
		if c.seq != last {
			// Release: pairs with the acquire load of the cursor seq in
			// the producer's credit refresh (the counters are seen with
			// it).
			atomic.StoreUint64(&k.seq, c.seq)
		}
	} else {
		// Sequentially consistent with the producer's flush (see there):
		// our store of JOINING, then the load of producer.seq, against its
		// store of producer.seq, then its load of our state.
		atomic.StoreUint32(&k.state, curJoining)
		s := atomic.LoadUint64(&c.prod.seq)
		if want < 0 {
			c.seq = s
		} else {
			// A rejoin through JOINING: the slot was not counted (its
			// consumer left, or died before ACTIVE), so the producer may
			// hold credits up to its flush + depth - 1 computed without
			// it, and the resume point may be behind them
			// (model/join.pml, FINDING 2).  Every refresh that skipped the
			// slot loaded its state before our store of JOINING, so
			// flushed at most s; one that finds it JOINING counts it no
			// later than that (creditRefresh): from s we are never lapped.
			// A lossy consumer checks what it reads, and needs none of this.
			if !c.lossy && !atCursor {
				c.resumeNoEarlier(s)
			}
		}
		atomic.StoreUint64(&k.seq, c.seq)
		// Release: pairs with the acquire load of the state in the
		// producer's credit refresh; the seq above is seen with ACTIVE.
		atomic.StoreUint32(&k.state, curActive)
	}
	atomic.StoreUint64(&k.hbNs, monoNs())
	c.seqFlushed = c.seq
	// Release (seq_cst): pairs with the acquire load of cr_wake in
	// WaitConsumers, taken before it counts the active slots: it sees our
	// ACTIVE, or the word moved and it wakes.
	atomic.AddUint32(&c.wait.crWake, 1)
	unpark(&c.wait.crWake)
	return c, nil
}

// resumeNoEarlier moves a rejoining consumer forward to s if it is ahead
// of where it would resume (wrap-safe), and reports the sequence numbers
// passed over as lost, like an overrun: in the cursor's lost and
// overrun_poll (stored now, with the cursor seq the join stores next; the
// flushes write them again), and in the next copying receive's Meta.Lost
// (model/join.pml, FINDINGS 2 and 3).
func (c *Consumer) resumeNoEarlier(s uint64) {
	gap := s - c.seq
	if int64(gap) <= 0 {
		return
	}
	c.seq = s
	c.lost += gap
	c.lostAcc += gap
	c.overrunPoll++
	// Relaxed in C: the release store of the cursor seq (or of ACTIVE)
	// that follows in join publishes them.
	atomic.StoreUint64(&c.cur.lost, c.lost)
	atomic.StoreUint64(&c.cur.overrunPoll, c.overrunPoll)
}

// Leave flushes the cursor and frees the slot.  The consumer must not be
// used afterwards.
func (c *Consumer) Leave() error {
	if c == nil || c.fd < 0 {
		return nil
	}
	c.flushCursor(true)
	atomic.StoreUint32(&c.cur.park, 0)
	// Release: pairs with the state load in the producer's credit refresh;
	// it stops counting this slot.
	atomic.StoreUint32(&c.cur.state, curFree)
	if !c.lossy {
		c.creditWake() // our slot no longer holds it back
	}
	closeFd(c.fifoFd)
	c.fifoFd = -1
	if c.fifoFile != nil {
		c.fifoFile.Close()
	}
	c.m.unmap()
	c.curMap.unmap()
	c.waitMap.unmap()
	lockRelease(c.fd, c.lockOff)
	closeFd(c.fd)
	c.fd = -1
	c.data = nil
	c.meta = nil // every call from now on returns ErrInval
	return nil
}
