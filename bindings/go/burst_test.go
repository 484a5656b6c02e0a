// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

// PollMany (PROTOCOL.md §3.4 "burst"): an ordinary poll, then polls of the
// next descriptors that stop, without moving, at the first one not ready,
// lapped or corrupt; the cursor is written at most once, at the start, so
// every view stays valid until the next call.

import (
	"bytes"
	"sync/atomic"
	"testing"
	"time"
)

func burstChannel(t *testing.T, depth uint32, mode Mode) (*Region, *Producer, *Consumer) {
	t.Helper()
	r := testRegion(t, 4<<20)
	must(t, r.CreateChannel("p", &ChannelOpts{Depth: depth, MTU: 64}))
	c, err := r.JoinConsumer("p", mode)
	must(t, err)
	t.Cleanup(func() { c.Leave() })
	p, err := r.JoinProducer("p")
	must(t, err)
	t.Cleanup(func() { p.Leave() })
	return r, p, c
}

// wantViews checks that views are the messages of seqs [from, from+n),
// sent by sendSeqs.
func wantViews(t *testing.T, views []View, n int, err error, from uint64, want int) {
	t.Helper()
	if err != nil || n != want {
		t.Fatalf("PollMany: %d %v, want %d views", n, err, want)
	}
	for i, v := range views[:n] {
		s := from + uint64(i)
		if v.Seq != s || v.Sig != s || v.Lost != 0 || v.Ctl != CtlMsg || !bytes.Equal(v.Data, batchMsg(s, int(s%50))) {
			t.Fatalf("view %d: seq %d sig %d ctl %#x lost %d, %d bytes; want seq %d", i, v.Seq, v.Sig,
				v.Ctl, v.Lost, len(v.Data), s)
		}
	}
}

// sendSeqs sends the messages of seqs [p.Seq(), to): message s is
// batchMsg(s, s % 50) with sig s.
func sendSeqs(t *testing.T, p *Producer, to uint64) {
	t.Helper()
	for s := p.Seq(); s < to; s++ {
		must(t, p.Send(batchMsg(s, int(s%50)), s))
	}
}

// Bursts take what is ready, up to the views given, and count it.
func TestPollManyCounts(t *testing.T) {
	r, p, c := burstChannel(t, 64, Reliable)
	views := make([]View, 100)
	if n, err := c.PollMany(nil); n != 0 || err != ErrInval {
		t.Errorf("no views: %d %v", n, err)
	}
	if n, err := (*Consumer)(nil).PollMany(views); n != 0 || err != ErrInval {
		t.Errorf("nil consumer: %d %v", n, err)
	}
	if n, err := c.PollMany(views); n != 0 || err != ErrAgain {
		t.Fatalf("nothing published: %d %v", n, err)
	}
	sendSeqs(t, p, 10)
	n, err := c.PollMany(views[:4])
	wantViews(t, views, n, err, 0, 4)
	n, err = c.PollMany(views)
	wantViews(t, views, n, err, 4, 6)
	if n, err := c.PollMany(views); n != 0 || err != ErrAgain {
		t.Fatalf("all read: %d %v", n, err)
	}
	// The counters of 10 messages, in the cursor since the last call
	// found nothing (an idle flush).
	st, err := r.Stats("p")
	must(t, err)
	bytes := uint64(0)
	for s := uint64(0); s < 10; s++ {
		bytes += s % 50
	}
	if k := st.Slots[c.Slot()]; k.Msgs != 10 || k.Bytes != bytes || k.Seq != 10 {
		t.Fatalf("consumer stats after 10 messages of %d bytes: %+v", bytes, k)
	}
	// A burst longer than the polls left to the next flush does not flush:
	// the countdown stops at 0, and the next call flushes first.
	sendSeqs(t, p, 40)
	c.flushLeft = 3
	hb := atomic.LoadUint64(&c.cur.hbNs)
	n, err = c.PollMany(views)
	wantViews(t, views, n, err, 10, 30)
	if c.flushLeft != 0 || atomic.LoadUint64(&c.cur.seq) != 10 {
		t.Fatalf("after a burst of 30 with 3 polls to the flush: countdown %d, cursor %d",
			c.flushLeft, atomic.LoadUint64(&c.cur.seq))
	}
	sendSeqs(t, p, 41)
	n, err = c.PollMany(views)
	wantViews(t, views, n, err, 40, 1)
	if atomic.LoadUint64(&c.cur.seq) != 40 || atomic.LoadUint64(&c.cur.hbNs) <= hb {
		t.Fatalf("the next call's flush: cursor %d (want 40), heartbeat %d (was %d)",
			atomic.LoadUint64(&c.cur.seq), atomic.LoadUint64(&c.cur.hbNs), hb)
	}
}

// A burst stops before a descriptor being written, and before a corrupt
// one; the next call reports what it found there.
func TestPollManyStops(t *testing.T) {
	_, p, c := burstChannel(t, 64, Reliable)
	views := make([]View, 16)
	sendSeqs(t, p, 6)
	d := p.desc(3)
	atomic.StoreUint64(&d.seq, 2) // seq 3 "being written"
	n, err := c.PollMany(views)
	wantViews(t, views, n, err, 0, 3)
	if n, err := c.PollMany(views); n != 0 || err != ErrAgain || c.Seq() != 3 {
		t.Fatalf("at a descriptor being written: %d %v, seq %d", n, err, c.Seq())
	}
	atomic.StoreUint64(&d.seq, 3) // written
	n, err = c.PollMany(views)
	wantViews(t, views, n, err, 3, 3)

	// seq 8 points past the MTU: a burst from 6 takes 6 and 7, the next
	// call reports 8 as corrupt (moving past it), then 9 and on come.
	sendSeqs(t, p, 11)
	d = p.desc(8)
	atomic.StoreUint32(&d.szctl, packSzCtl(65, CtlMsg))
	n, err = c.PollMany(views)
	wantViews(t, views, n, err, 6, 2)
	if n, err := c.PollMany(views); n != 0 || err != ErrCorrupt {
		t.Fatalf("at the corrupt descriptor: %d %v", n, err)
	}
	n, err = c.PollMany(views)
	wantViews(t, views, n, err, 9, 2)
}

// A lossy consumer: lapped at a burst's first poll, the call reports the
// overrun; views overwritten after the call fail Check; a burst stops
// before a descriptor that lapped it (planted: the producer writes in
// order, so only a race makes one in the middle) and the next call reports
// it.
func TestPollManyLapped(t *testing.T) {
	_, p, c := burstChannel(t, 16, Lossy)
	views := make([]View, 16)
	sendSeqs(t, p, 4)
	n, err := c.PollMany(views[:1])
	wantViews(t, views, n, err, 0, 1)
	// seqs 4..19: the slots of 1, 2 and 3 now hold 17, 18 and 19.
	sendSeqs(t, p, 20)
	if n, err := c.PollMany(views); n != 0 || err != ErrOverrun || views[0].Lost != 16 {
		t.Fatalf("lapped: %d %v, lost %d", n, err, views[0].Lost)
	}
	n, err = c.PollMany(views)
	wantViews(t, views, n, err, 17, 3)
	for i := range views[:n] {
		must(t, c.Check(&views[i]))
	}

	sendSeqs(t, p, 24)
	n, err = c.PollMany(views[:4])
	wantViews(t, views, n, err, 20, 4)
	sendSeqs(t, p, 40) // the slots of 20..23 hold 36..39
	for i := range views[:4] {
		if err := c.Check(&views[i]); err != ErrOverrun {
			t.Fatalf("Check of overwritten view %d (seq %d): %v", i, views[i].Seq, err)
		}
	}
	n, err = c.PollMany(views)
	wantViews(t, views, n, err, 24, 16)

	sendSeqs(t, p, 46)
	atomic.StoreUint64(&p.desc(43).seq, 43+16) // the slot of 43, lapped
	n, err = c.PollMany(views)
	wantViews(t, views, n, err, 40, 3)
	if n, err := c.PollMany(views); n != 0 || err != ErrOverrun || views[0].Lost != 16 {
		t.Fatalf("lapped in the middle of a burst: %d %v, lost %d", n, err, views[0].Lost)
	}
}

// The views of a reliable consumer's burst stay valid until its next
// call: the cursor is not written past them, so the producer cannot reuse
// their room before then.
func TestPollManyViewsValid(t *testing.T) {
	_, p, c := burstChannel(t, 8, Reliable)
	views := make([]View, 8)
	sendSeqs(t, p, 8) // the whole ring
	n, err := c.PollMany(views)
	wantViews(t, views, n, err, 0, 8)
	if err := p.Send([]byte("overwrite"), 99); err != ErrAgain {
		t.Fatalf("a send over the views of the last burst: %v", err)
	}
	wantViews(t, views, n, nil, 0, 8) // still there
	// The next call (nothing to read) writes the cursor: room again.
	if n, err := c.PollMany(views); n != 0 || err != ErrAgain {
		t.Fatalf("%d %v", n, err)
	}
	sendSeqs(t, p, 16)
	n, err = c.PollMany(views)
	wantViews(t, views, n, err, 8, 8)
}

// A consumer that caught up after a streak of 64 or more waits its
// hold-off before the empty poll returns (Poll and PollMany alike).
func TestHoldoff(t *testing.T) {
	_, p, c := burstChannel(t, 256, Reliable)
	const hold = 50 * time.Millisecond // to be seen on any machine
	c.SetHoldoff(hold)
	views := make([]View, 64)
	for round := 0; round < 2; round++ {
		for i := 0; i < 100; i++ {
			must(t, p.Send(make([]byte, 64), uint64(i)))
		}
		for got := 0; got < 100; {
			if round == 0 {
				must(t, c.Poll(&views[0]))
				got++
			} else {
				n, err := c.PollMany(views)
				must(t, err)
				got += n
			}
		}
		t0 := monoNs() // the hold-off's clock (Go's own on Windows is coarser)
		var err error
		if round == 0 {
			err = c.Poll(&views[0])
		} else {
			_, err = c.PollMany(views)
		}
		if err != ErrAgain {
			t.Fatalf("round %d: empty poll: %v", round, err)
		}
		if waited := time.Duration(monoNs() - t0); waited < hold {
			t.Fatalf("round %d: the empty poll after a streak of 100 returned after %v", round, waited)
		}
	}
}
