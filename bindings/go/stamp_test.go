// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

// Stamps (PROTOCOL.md §2.4): which descriptors a producer stamps with
// tspub, and latency samples taken from stamped descriptors only (§2.3).
// The stamps are read from the ring itself (the producer's view of what it
// wrote) where a consumer's polls could otherwise ask for more.

import (
	"math"
	"sync/atomic"
	"testing"
	"time"
)

// stampChannel is a region with channel "s" of the given depth, a
// producer and a reliable consumer that reads nothing unless told (so it
// asks for no stamp unless told).
func stampChannel(t *testing.T, depth uint32) (*Region, *Producer, *Consumer) {
	t.Helper()
	r := testRegion(t, 8<<20)
	must(t, r.CreateChannel("s", &ChannelOpts{Depth: depth, MTU: 128, MaxMsg: 1024}))
	c, err := r.JoinConsumer("s", Reliable)
	must(t, err)
	t.Cleanup(func() { c.Leave() })
	p, err := r.JoinProducer("s")
	must(t, err)
	t.Cleanup(func() { p.Leave() })
	return r, p, c
}

// tspubOf is the tspub of the descriptor of seq in p's ring.
func tspubOf(p *Producer, seq uint64) uint32 {
	if atomic.LoadUint64(&p.desc(seq).seq) != seq {
		panic("tspubOf: the slot does not hold that seq")
	}
	return atomic.LoadUint32(&p.desc(seq).tspub)
}

// wantStamps checks which of the descriptors [from, to) carry a stamp.
func wantStamps(t *testing.T, p *Producer, from, to uint64, stamped func(seq uint64) bool) {
	t.Helper()
	for s := from; s < to; s++ {
		if got, want := tspubOf(p, s) != 0, stamped(s); got != want {
			t.Fatalf("seq %d: stamped %v, want %v (tspub %d)", s, got, want, tspubOf(p, s))
		}
	}
}

// The default, sampled: the first publish of a producer, every seq that is
// a multiple of 64, and the first publish after a consumer's heartbeat
// flush asked; nothing else.  A consumer asks at most once a millisecond.
func TestStampSampled(t *testing.T) {
	r, p, c := stampChannel(t, 1024)
	c.flushLeft = math.MaxUint64 // no periodic flush: every heartbeat here is a Flush
	msg := []byte("m")
	for i := 0; i < 5; i++ {
		must(t, p.Send(msg, uint64(i)))
	}
	wantStamps(t, p, 0, 5, func(s uint64) bool { return s == 0 })
	// A new producer stamps its first publish (seq 5): consumers may have
	// asked before it came.
	must(t, p.Leave())
	p2, err := r.JoinProducer("s")
	must(t, err)
	defer p2.Leave()
	p = p2
	for i := 5; i < 200; i++ {
		must(t, p.Send(msg, uint64(i)))
	}
	wantStamps(t, p, 5, 200, func(s uint64) bool { return s == 5 || s%stampPeriod == 0 })

	// A heartbeat flush asks (stamp_req moves once); a second one within
	// a millisecond of the ask does not ask again.
	req := atomic.LoadUint32(&p.wait.stampReq)
	must(t, c.Flush())
	if got := atomic.LoadUint32(&p.wait.stampReq); got != req+1 {
		t.Fatalf("stamp_req %d after a heartbeat flush, want %d", got, req+1)
	}
	c.stampAskedNs = monoNs() // as if it had just asked: the next flush is within the ms
	must(t, c.Flush())
	if got := atomic.LoadUint32(&p.wait.stampReq); got != req+1 {
		t.Fatalf("stamp_req %d after a second flush within a millisecond, want %d", got, req+1)
	}
	for i := 200; i < 203; i++ { // 200 is stamped, 201 and 202 not
		must(t, p.Send(msg, uint64(i)))
	}
	wantStamps(t, p, 200, 203, func(s uint64) bool { return s == 200 })

	// The views say the same: TSPub 0 is "not stamped".
	var v View
	for s := uint64(0); s < 203; s++ {
		must(t, c.Poll(&v))
		if v.Seq != s || (v.TSPub != 0) != (s == 5 || s == 200 || s%stampPeriod == 0) {
			t.Fatalf("view of seq %d: TSPub %d", v.Seq, v.TSPub)
		}
	}
	// A millisecond after its last ask, a flush asks again.
	req = atomic.LoadUint32(&p.wait.stampReq)
	c.stampAskedNs = monoNs() - stampAskNs
	must(t, c.Flush())
	if got := atomic.LoadUint32(&p.wait.stampReq); got != req+1 {
		t.Fatalf("stamp_req %d after a flush a millisecond after the last ask, want %d", got, req+1)
	}
	// A message published with no request pending is not stamped; the
	// first after a flush that asked is.
	s0 := p.Seq()
	must(t, p.Send(msg, 1)) // asked for: stamped
	must(t, p.Send(msg, 2)) // not
	c.stampAskedNs = monoNs()
	must(t, c.Flush())      // within the millisecond: asks nothing
	must(t, p.Send(msg, 3)) // not
	wantStamps(t, p, s0, s0+3, func(s uint64) bool { return s == s0 || s%stampPeriod == 0 })
	for s := s0; s < s0+3; s++ {
		must(t, c.Poll(&v))
	}
	c.stampAskedNs = 0 // long ago
	must(t, c.Flush()) // asks
	must(t, p.Send(msg, 4))
	must(t, p.Send(msg, 5))
	wantStamps(t, p, s0+3, s0+5, func(s uint64) bool { return s == s0+3 || s%stampPeriod == 0 })
}

// A fragmented message and a batch share one reading: all stamped or none
// (stamped if one of them must be: here a seq that is a multiple of 64).
func TestStampShared(t *testing.T) {
	_, p, _ := stampChannel(t, 1024)
	must(t, p.Send([]byte("a"), 0)) // seq 0: stamped
	// Seqs 1..8, one message of 8 fragments, no request: none stamped.
	must(t, p.Send(make([]byte, 8*128), 1))
	wantStamps(t, p, 1, 9, func(uint64) bool { return false })
	for p.Seq() < 60 {
		must(t, p.Send([]byte("b"), 2))
	}
	// Seqs 60..67 span 64: all stamped, with one reading.
	must(t, p.Send(make([]byte, 8*128), 3))
	wantStamps(t, p, 60, 68, func(uint64) bool { return true })
	sameStamp := func(from, to uint64) {
		t.Helper()
		for s := from + 1; s < to; s++ {
			if tspubOf(p, s) != tspubOf(p, from) {
				t.Fatalf("seq %d: tspub %d, the first's (%d) %d", s, tspubOf(p, s), from, tspubOf(p, from))
			}
		}
	}
	sameStamp(60, 68)
	sendTo := func(seq uint64) {
		for p.Seq() < seq {
			must(t, p.Send([]byte("c"), 4))
		}
	}
	// Batches: seqs 120..129 span 128 (all stamped), 130..134 do not.
	sendTo(120)
	batch := make([]Msg, 10)
	for i := range batch {
		batch[i] = Msg{Data: []byte("d"), Sig: uint64(i)}
	}
	must(t, p.SendMany(batch))
	must(t, p.SendMany(batch[:5]))
	wantStamps(t, p, 120, 135, func(s uint64) bool { return s < 130 })
	sameStamp(120, 130)
	// The same with ReserveMany and CommitMany: 135..144, then 250..259.
	bufs := make([][]byte, 10)
	commit := func() {
		must(t, p.ReserveMany(bufs, 1))
		for i := range batch {
			batch[i].Data, batch[i].Ctl = bufs[i][:1], CtlMsg
		}
		must(t, p.CommitMany(batch))
	}
	commit()
	sendTo(250)
	commit()
	wantStamps(t, p, 135, 145, func(uint64) bool { return false })
	wantStamps(t, p, 250, 260, func(uint64) bool { return true })
	sameStamp(250, 260)
}

// StampEvery stamps every descriptor from the next publish on; back to
// sampled, the producer stops at its next credit refresh.  Bad modes are
// refused.
func TestStampEvery(t *testing.T) {
	_, p, c := stampChannel(t, 256)
	if err := p.SetStamp(2); err != ErrInval {
		t.Fatalf("SetStamp(2): %v", err)
	}
	if err := (*Producer)(nil).SetStamp(StampEvery); err != ErrInval {
		t.Fatalf("SetStamp on nil: %v", err)
	}
	msg := []byte("e")
	for i := 0; i < 10; i++ { // credit for 256 taken at the first
		must(t, p.Send(msg, uint64(i)))
	}
	wantStamps(t, p, 0, 10, func(s uint64) bool { return s == 0 })
	must(t, p.SetStamp(StampEvery))
	for i := 10; i < 110; i++ { // no credit refresh among them
		must(t, p.Send(msg, uint64(i)))
	}
	wantStamps(t, p, 10, 110, func(uint64) bool { return true })
	for i := 0; i < 110; i++ {
		var v View
		must(t, c.Poll(&v))
	}
	must(t, p.SetStamp(StampSampled))
	// The consumer reads as it goes, so that credit runs out (and is
	// refreshed) every so often; its heartbeat flushes ask for stamps, so
	// what is checked is that some descriptors are no longer stamped.
	var v View
	unstamped := 0
	for i := 0; i < 3*256; i++ {
		must(t, p.Send(msg, uint64(i)))
		must(t, c.Poll(&v))
		if v.TSPub == 0 {
			unstamped++
		}
	}
	if unstamped == 0 {
		t.Fatal("still stamping every descriptor three rings after StampSampled")
	}
}

// A joined consumer older than 0.4 (its stamp_gen is not its gen) samples
// any descriptor: the producer stamps them all from its next credit
// refresh on, and stops once that consumer is gone.
func TestStampOldConsumer(t *testing.T) {
	r, p, c := stampChannel(t, 256)
	old, err := r.JoinConsumer("s", Lossy) // lossy: it never holds credit
	must(t, err)
	k := old.cur
	gen := atomic.LoadUint32(&k.gen)
	if atomic.LoadUint32(&k.stampGen) != gen {
		t.Fatalf("a new join left stamp_gen %d, gen %d", atomic.LoadUint32(&k.stampGen), gen)
	}
	msg := []byte("o")
	var v View
	// send then read n messages through the reliable consumer; return the
	// seqs of the unstamped ones among the last tail.
	run := func(n, tail int) (unstamped int) {
		for i := 0; i < n; i++ {
			s := p.Seq()
			must(t, p.Send(msg, uint64(i)))
			must(t, c.Poll(&v))
			if v.Seq != s {
				t.Fatalf("read seq %d, want %d", v.Seq, s)
			}
			if i >= n-tail && v.TSPub == 0 {
				unstamped++
			}
		}
		return unstamped
	}
	if run(300, 256) == 0 {
		t.Fatal("sampled with a 0.4 consumer: every descriptor stamped")
	}
	atomic.StoreUint32(&k.stampGen, gen-1) // as an older consumer leaves it
	// Credit refreshes come at least once per depth (256) publishes.
	if u := run(2*256, 256); u != 0 {
		t.Fatalf("with an older consumer joined: %d of the last 256 not stamped", u)
	}
	must(t, old.Leave())
	if run(2*256, 256) == 0 {
		t.Fatal("the older consumer left: still stamping every descriptor")
	}
}

// A clock reading of 0 is stored as 1: 0 means "not stamped".
func TestStampZeroReading(t *testing.T) {
	_, p, _ := stampChannel(t, 64)
	// A clock whose every reading is 2^32 ns: low 32 bits 0.
	p.clk = clock{tkBase: ticks(), nsBase: 1 << 32, mult: 0, limit: math.MaxUint64}
	must(t, p.SetStamp(StampEvery))
	must(t, p.Send([]byte("z"), 0))
	if ts := tspubOf(p, 0); ts != 1 {
		t.Fatalf("a reading of 0 stored as %d, want 1", ts)
	}
}

// A latency sample is taken at the first stamped message after a
// heartbeat flush: an unstamped one is passed over (the sample stays due),
// and the stamped one, held back 3 ms, gives a sample of at least 3 ms.
// Both with Recv (its fast path) and with PollMany (a burst's later view).
func TestStampHeldBack(t *testing.T) {
	for _, burst := range []bool{false, true} {
		r, p, c := stampChannel(t, 1024)
		slot := uint32(c.Slot())
		buf := make([]byte, 1024)
		var m Meta
		views := make([]View, 4)
		must(t, p.Send([]byte("first"), 0)) // stamped (seq 0), not sampled
		if _, err := c.Recv(buf, &m); err != nil {
			t.Fatal(err)
		}
		must(t, p.Send([]byte("unstamped"), 1)) // no request pending
		must(t, c.Flush())                      // a sample is due: asks for a stamp
		if !burst {
			if _, err := c.Recv(buf, &m); err != nil || m.Sig != 1 || m.TSPub != 0 {
				t.Fatalf("recv of the unstamped message: %v sig %d tspub %d", err, m.Sig, m.TSPub)
			}
			if h, _ := r.Latency("s", slot); h.Count != 0 {
				t.Fatalf("a sample from an unstamped message: %d", h.Count)
			}
		}
		const delay = 3 * time.Millisecond // the latency measured, not a synchronisation
		t0 := time.Now()
		must(t, p.Send([]byte("stamped"), 2))
		time.Sleep(delay)
		if burst {
			// views[0] the unstamped message (by the burst's Poll), views[1]
			// the stamped one (a later poll of the burst)
			n, err := c.PollMany(views)
			if err != nil || n != 2 || views[0].Sig != 1 || views[0].TSPub != 0 ||
				views[1].Sig != 2 || views[1].TSPub == 0 {
				t.Fatalf("burst: %d %v %+v", n, err, views[:2])
			}
		} else if _, err := c.Recv(buf, &m); err != nil || m.Sig != 2 || m.TSPub == 0 {
			t.Fatalf("recv of the stamped message: %v sig %d tspub %d", err, m.Sig, m.TSPub)
		}
		waited := time.Since(t0)
		h, err := r.Latency("s", slot)
		must(t, err)
		// (100 µs and 1 ms of slack for the producer's tick clock, as in
		// TestLatencySamples)
		if h.Count != 1 || h.Sum+100000 < delay || h.Sum > waited+time.Millisecond {
			t.Fatalf("burst %v: %d samples, %v, after holding the message %v (waited %v)",
				burst, h.Count, h.Sum, delay, waited)
		}
		c.Leave()
		p.Leave()
	}
}
