// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

// Joins, rejoins and evictions against the producer's credits: the three
// findings of model/join.pml (model/README.md, "Findings of join.pml"),
// each played out deterministically in one goroutine.  The racy
// interleavings the model found are set up by writing the shared pages
// directly, or by calling the producer's credit step on its own, as a
// process stopped between two steps would leave them.

import (
	"sync/atomic"
	"testing"
)

const joinDepth = 8 // every test here: depth 8, MTU 64, one chunk a message

// joinPayload is the payload of sequence number s (sent with sig s): 1 to
// 60 bytes, byte j is s*31 + j.
func joinPayload(s uint64) []byte {
	b := make([]byte, 1+s%60)
	for j := range b {
		b[j] = byte(s*31 + uint64(j))
	}
	return b
}

// joinChannel makes channel "c" of a new region: depth joinDepth, MTU 64.
func joinChannel(t *testing.T) *Region {
	t.Helper()
	r := testRegion(t, 1<<20)
	must(t, r.CreateChannel("c", &ChannelOpts{Depth: joinDepth, MTU: 64, MaxConsumers: 2}))
	return r
}

// sendUntilAgain sends joinPayload(seq) with sig seq, without waiting,
// until the producer has no credit or it sent max; it runs each (if not
// nil) after every send, and returns the number sent.
func sendUntilAgain(t *testing.T, p *Producer, max uint64, each func()) uint64 {
	t.Helper()
	n := uint64(0)
	for ; n < max; n++ {
		s := p.Seq()
		err := p.Send(joinPayload(s), s)
		if err == ErrAgain {
			break
		}
		must(t, err)
		if each != nil {
			each()
		}
	}
	return n
}

// filledAndRead makes channel "c" with a reliable consumer and a producer
// (evicting at once if evict) that filled the ring, and polls the first
// read messages from it, checked.  The producer leaves when the test ends.
func filledAndRead(t *testing.T, evict bool, read uint64) (*Region, *Consumer, *Producer) {
	t.Helper()
	r := joinChannel(t)
	c, err := r.JoinConsumer("c", Reliable)
	must(t, err)
	p, err := r.JoinProducer("c")
	must(t, err)
	t.Cleanup(func() { p.Leave() })
	if evict {
		p.SetEvict(0)
	}
	if n := sendUntilAgain(t, p, 4*joinDepth, nil); n != joinDepth {
		t.Fatalf("%d sent, want %d", n, joinDepth)
	}
	for s := uint64(0); s < read; s++ {
		var v View
		must(t, c.Poll(&v))
		checkView(t, &v, s)
	}
	return r, c, p
}

// checkView fails unless v is sequence number want, with its payload.
func checkView(t *testing.T, v *View, want uint64) {
	t.Helper()
	if v.Seq != want || v.Sig != want {
		t.Fatalf("got seq %d sig %d, want %d", v.Seq, v.Sig, want)
	}
	checkPayload(t, want, v.Data)
}

func checkPayload(t *testing.T, seq uint64, got []byte) {
	t.Helper()
	want := joinPayload(seq)
	if len(got) != len(want) {
		t.Fatalf("seq %d: %d bytes, want %d", seq, len(got), len(want))
	}
	for j := range want {
		if got[j] != want[j] {
			t.Fatalf("seq %d byte %d: %d, want %d (a payload of another message)", seq, j, got[j], want[j])
		}
	}
}

// dropConsumer plays the death of c's process: its lock is released and
// its handle forgotten, its cursor page left as it is (state, seq, gen).
func dropConsumer(c *Consumer) {
	lockRelease(c.fd, c.lockOff)
	c.m.unmap()
	c.curMap.unmap()
	c.waitMap.unmap()
	closeFd(c.fd)
	c.fd = -1
	c.meta, c.data = nil, nil
}

// FINDING 1: a joiner that stored JOINING and loaded s0 = producer.seq,
// then stopped there, is never lapped: not by a refresh after one that
// already found it joining, nor after a flush that loads no state (Flush).
// Counted at the seq flushed before the refresh, it was.
func TestJoiningNotLapped(t *testing.T) {
	r := joinChannel(t)
	p, err := r.JoinProducer("c")
	must(t, err)
	defer p.Leave()
	// The first send's refresh finds slot 0 free (at 0); then a flush that
	// loads no state moves producer.seq to 3.
	for s := uint64(0); s < 3; s++ {
		must(t, p.Send(joinPayload(s), s))
	}
	must(t, p.Flush())
	// The joiner: a real join (slot 0, gen bumped, mode reliable, its lock
	// held: never evicted), put back to JOINING as it was after its load
	// of s0: state 1, seq s0.
	c, err := r.JoinConsumer("c", Reliable)
	must(t, err)
	defer c.Leave()
	s0 := c.Seq()
	if s0 != 3 || c.Slot() != 0 {
		t.Fatalf("joined slot %d at %d, want slot 0 at 3", c.Slot(), s0)
	}
	k := c.cur
	atomic.StoreUint32(&k.state, curJoining)
	atomic.StoreUint64(&k.seq, s0)
	when := ""
	lapped := func() {
		t.Helper()
		if got := atomic.LoadUint64(&p.desc(s0).seq); int64(p.Seq()-(s0+joinDepth)) > 0 || got != s0 {
			t.Fatalf("%s: the producer published %d, its slot of %d holds %d: "+
				"it lapped the joiner at %d (depth %d)", when, p.Seq()-1, s0, got, s0, joinDepth)
		}
	}
	// Sends until no credit, again (a refresh after one that found the
	// slot joining), then after a Flush (producer.seq moved, no state
	// loaded).
	for _, when = range []string{"first refresh", "a second refresh", "a refresh after Flush"} {
		if when == "a refresh after Flush" {
			must(t, p.Flush())
		}
		sendUntilAgain(t, p, 4*joinDepth, lapped)
		lapped()
	}
	// The join completes: every message from s0 on, whole.
	atomic.StoreUint32(&k.state, curActive)
	end := p.Seq()
	for s := s0; s < end; s++ {
		var v View
		if err := c.Poll(&v); err != nil {
			t.Fatalf("poll %d: %v", s, err)
		}
		checkView(t, &v, s)
	}
	must(t, c.Flush())
	if n := sendUntilAgain(t, p, 4*joinDepth, nil); n != joinDepth {
		t.Fatalf("%d sent once the joiner is active and read everything, want %d", n, joinDepth)
	}
}

// A producer that joins while a slot is JOINING has seen no refresh that
// found it otherwise: the slot holds all credit back until it is active.
// A joiner that died there holds the producer back until it is evicted.
func TestJoiningBeforeProducer(t *testing.T) {
	r := joinChannel(t)
	c, err := r.JoinConsumer("c", Reliable)
	must(t, err)
	atomic.StoreUint32(&c.cur.state, curJoining)
	p, err := r.JoinProducer("c")
	must(t, err)
	defer p.Leave()
	if err := p.Send(joinPayload(0), 0); err != ErrAgain {
		t.Fatalf("a send while the only reliable slot joins: %v", err)
	}
	atomic.StoreUint32(&c.cur.state, curActive)
	if n := sendUntilAgain(t, p, 4*joinDepth, nil); n != joinDepth {
		t.Fatalf("%d sent once it is active, want %d", n, joinDepth)
	}
	for s := uint64(0); s < joinDepth; s++ {
		var v View
		must(t, c.Poll(&v))
		checkView(t, &v, s)
	}
	must(t, c.Leave())
	// A new joiner stops at JOINING (at s0 = 8) and dies there.
	c, err = r.JoinConsumer("c", Reliable)
	must(t, err)
	atomic.StoreUint32(&c.cur.state, curJoining)
	gen := atomic.LoadUint32(&c.cur.gen)
	dropConsumer(c)
	p.SetEvict(0)
	p.nextLiveCheck = 0 // the eviction check runs at most once a millisecond: now
	if n := sendUntilAgain(t, p, 2*joinDepth, nil); n != 2*joinDepth {
		t.Fatalf("%d sent past a dead joiner, want %d", n, 2*joinDepth)
	}
	// Stats shows active slots only: the eviction is on the producer page.
	st, _ := r.Stats("c")
	if ev := atomic.LoadUint32(&prodPageOf(t, r, "c").evicted[0]); st.Evictions != 1 || ev != gen {
		t.Fatalf("the dead joiner (gen %d): %d evictions, evicted[0] %d", gen, st.Evictions, ev)
	}
}

// drainRejoined reads every message published to the rejoined consumer c,
// which must start at start, last having been the slot's cursor (the gap
// reported lost): by Poll, which must never be lapped, or by Recv, whose
// first Meta.Lost reports the gap.  Then its stats account for the gap.
func drainRejoined(t *testing.T, r *Region, p *Producer, c *Consumer, last, start uint64, byRecv bool) {
	t.Helper()
	end := p.Seq()
	buf := make([]byte, 64)
	for s := start; s < end; s++ {
		if byRecv {
			var m Meta
			n, err := c.Recv(buf, &m)
			want := uint64(0)
			if s == start {
				want = start - last
			}
			if err != nil || m.Seq != s || m.Lost != want {
				t.Fatalf("receive: %v, seq %d lost %d; want seq %d lost %d (the cursor was %d, "+
					"the producer's flushed seq %d)", err, m.Seq, m.Lost, s, want, last, start)
			}
			checkPayload(t, s, buf[:n])
			continue
		}
		var v View
		at := c.Seq()
		if err := c.Poll(&v); err != nil {
			t.Fatalf("poll at %d (want %d): %v (lost %d): a reliable consumer, not evicted since "+
				"it rejoined, was lapped", at, s, err, v.Lost)
		}
		checkView(t, &v, s)
	}
	var v View
	if err := c.Poll(&v); err != ErrAgain {
		t.Fatalf("after the last message: %v", err)
	}
	must(t, c.Flush())
	st, err := r.Stats("c")
	must(t, err)
	if s := st.Slots[c.Slot()]; s.Lost != start-last || s.OverrunPoll != 1 || s.Seq != end {
		t.Fatalf("slot stats: lost %d overrun_poll %d seq %d; want %d, 1, %d",
			s.Lost, s.OverrunPoll, s.Seq, start-last, end)
	}
}

// FINDING 2: a consumer that left rejoins its slot (through JOINING)
// behind credits the producer computed without it.  It resumes at the
// producer's flushed seq, reports what it passed over as lost, and is
// never lapped.
func TestRejoinAfterLeaveNotLapped(t *testing.T) {
	for _, byRecv := range []bool{false, true} {
		t.Run(map[bool]string{false: "Poll", true: "Recv"}[byRecv], func(t *testing.T) {
			const last = 3
			r, c, p := filledAndRead(t, false, last)
			must(t, c.Leave()) // its cursor: 3
			// A refresh without the slot (at 8: credits up to 15), then
			// fewer than depth publishes with them: slot 3 still holds 3.
			for range 2 {
				s := p.Seq()
				must(t, p.Send(joinPayload(s), s))
			}
			flushed := atomic.LoadUint64(&prodPageOf(t, r, "c").seq)
			if held := atomic.LoadUint64(&p.desc(last).seq); flushed != joinDepth || held != last {
				t.Fatalf("set-up: producer flushed %d, slot of %d holds %d", flushed, last, held)
			}
			c, err := r.RejoinConsumer("c", 0)
			must(t, err)
			defer c.Leave()
			// The producer uses the credits it holds, then refreshes with
			// the slot.
			sendUntilAgain(t, p, 4*joinDepth, nil)
			drainRejoined(t, r, p, c, last, flushed, byRecv)
		})
	}
}

// FINDING 3: a consumer dies while active; the producer evicts its slot and
// refreshes without it; a new consumer rejoins the slot in place before
// the producer publishes with those credits.  It resumes at the producer's
// flushed seq, reports what it passed over as lost, and is never lapped.
func TestRejoinEvictedNotLapped(t *testing.T) {
	for _, byRecv := range []bool{false, true} {
		t.Run(map[bool]string{false: "Poll", true: "Recv"}[byRecv], func(t *testing.T) {
			const last = 2
			r, c, p := filledAndRead(t, true, last)
			must(t, c.Flush()) // its cursor: 2
			dropConsumer(c)    // dies while active
			// The producer, short of a ring's worth of credit (a message
			// of depth fragments), evicts the dead slot and refreshes
			// without it: credits up to 15.  It stops there, before it
			// publishes (creditGet is that step of every send).
			p.nextLiveCheck = 0 // the eviction check runs at most once a millisecond: now
			if !p.creditGet(joinDepth) {
				t.Fatal("no credit after the eviction")
			}
			if st, _ := r.Stats("c"); st.Evictions != 1 || !st.Slots[0].Evicted {
				t.Fatalf("set-up: %d evictions, evicted %v", st.Evictions, st.Slots[0].Evicted)
			}
			flushed := atomic.LoadUint64(&prodPageOf(t, r, "c").seq)
			if held := atomic.LoadUint64(&p.desc(last).seq); flushed != joinDepth || held != last {
				t.Fatalf("set-up: producer flushed %d, slot of %d holds %d", flushed, last, held)
			}
			c, err := r.RejoinConsumer("c", 0) // in place: the slot is active
			must(t, err)
			defer c.Leave()
			// The producer publishes with the credits it computed without
			// the slot, then refreshes and counts it (its new gen).
			sendUntilAgain(t, p, 4*joinDepth, nil)
			drainRejoined(t, r, p, c, last, flushed, byRecv)
			if st, _ := r.Stats("c"); st.Slots[0].Evicted {
				t.Fatal("the rejoined slot still counts as evicted")
			}
		})
	}
}
