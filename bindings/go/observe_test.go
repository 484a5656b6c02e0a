// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

// What operators and tools read without disturbing the endpoints, as
// tests/test_observe.c checks it of the C library: the object table and
// the regions of a directory, the layout in Stats, the latency samples
// consumers take (one per heartbeat flush, never one per message), their
// quantiles, and SeekLast, which moves a lossy consumer to the last
// messages still in the ring.

import (
	"errors"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

func TestObjects(t *testing.T) {
	r := testRegion(t, 8<<20)
	objs, err := r.Objects()
	must(t, err)
	if len(objs) != 0 || r.Info().Objects != 0 {
		t.Fatalf("objects of an empty region: %v", objs)
	}
	names := []string{"a", "quotes.v2", "x_y-z"}
	opts := []ChannelOpts{{Depth: 64, MTU: 128}, {Depth: 1024, MTU: 1024, MaxConsumers: 3}, {}}
	for i := range names {
		must(t, r.CreateChannel(names[i], &opts[i]))
	}
	objs, err = r.Objects()
	must(t, err)
	if len(objs) != 3 || r.Info().Objects != 3 {
		t.Fatalf("objects: %+v", objs)
	}
	created := r.Info().Created
	if now := time.Now(); created.After(now) || now.Sub(created) > time.Minute {
		t.Errorf("region created %v, now %v", created, now)
	}
	off := uint64(pageSize)
	for i, o := range objs {
		if o.Name != names[i] || o.Type != ObjectChannel || o.Off != off ||
			o.Size != ChannelFootprint(&opts[i]) {
			t.Errorf("object %d: %+v, want %s at %d, %d bytes", i, o, names[i], off,
				ChannelFootprint(&opts[i]))
		}
		st, err := r.Stats(names[i])
		must(t, err)
		if st.Off != o.Off || st.Size != o.Size {
			t.Errorf("%s: stats place %d+%d, table %d+%d", o.Name, st.Off, st.Size, o.Off, o.Size)
		}
		// PROTOCOL.md section 2's formulas
		mtuChunks := (uint64(st.MTU) + 63) / 64
		if st.DataChunks != (uint64(st.Depth)+2)*mtuChunks ||
			st.MetaOff != 12288+uint64(st.MaxConsumers)*4096 ||
			st.DataOff != st.MetaOff+alignUp(uint64(st.Depth)*32, 4096) ||
			st.Size != st.DataOff+alignUp(st.DataChunks*64, 4096) {
			t.Errorf("%s: layout %+v", o.Name, st)
		}
		if st.Seq0 != 0 || st.Created.Before(created) || st.ProducerGen != 0 {
			t.Errorf("%s: seq0 %d created %v (region %v) producer gen %d", o.Name,
				st.Seq0, st.Created, created, st.ProducerGen)
		}
		off += o.Size
	}
	// Each producer join counts.
	for gen := uint32(1); gen <= 2; gen++ {
		p, err := r.JoinProducer("a")
		must(t, err)
		p.Leave()
		if st, _ := r.Stats("a"); st.ProducerGen != gen {
			t.Errorf("producer gen %d after %d joins", st.ProducerGen, gen)
		}
	}
	// A second handle sees the same table.
	r2, err := OpenRegion(r.Name(), &RegionOpts{Dir: r.Dir()})
	must(t, err)
	objs2, err := r2.Objects()
	must(t, err)
	if len(objs2) != 3 || objs2[2] != objs[2] {
		t.Errorf("second handle: %+v", objs2)
	}
	r2.Close()
	if _, err := r2.Objects(); err != ErrInval {
		t.Errorf("closed region: %v", err)
	}
}

// Heartbeats as ages: none before a producer ever joined; then each
// endpoint's grows while it idles and falls back when it flushes.
func TestHeartbeatAge(t *testing.T) {
	r := testRegion(t, 1<<20)
	must(t, r.CreateChannel("c", &ChannelOpts{Depth: 64, MTU: 64}))
	st, err := r.Stats("c")
	must(t, err)
	if st.ProducerHeartbeatAge != 0 || st.Slots[0].HeartbeatAge != 0 {
		t.Errorf("ages before any join: producer %v, slot 0 %v", st.ProducerHeartbeatAge,
			st.Slots[0].HeartbeatAge)
	}
	p, err := r.JoinProducer("c")
	must(t, err)
	defer p.Leave()
	c, err := r.JoinConsumer("c", Reliable)
	must(t, err)
	defer c.Leave()
	must(t, p.Flush())
	must(t, c.Flush())
	const idle = 20 * time.Millisecond
	t0 := time.Now()
	time.Sleep(idle)
	st, err = r.Stats("c")
	must(t, err)
	slept := time.Since(t0)
	pa, ca := st.ProducerHeartbeatAge, st.Slots[c.Slot()].HeartbeatAge
	if pa < idle || pa > slept+time.Second || ca < idle || ca > slept+time.Second {
		t.Errorf("after %v idle: producer's heartbeat %v old, consumer's %v", slept, pa, ca)
	}
	must(t, p.Flush())
	must(t, c.Flush())
	st, err = r.Stats("c")
	must(t, err)
	if st.ProducerHeartbeatAge >= pa || st.Slots[c.Slot()].HeartbeatAge >= ca {
		t.Errorf("after a flush: producer's heartbeat %v old (was %v), consumer's %v (was %v)",
			st.ProducerHeartbeatAge, pa, st.Slots[c.Slot()].HeartbeatAge, ca)
	}
}

func TestListRegions(t *testing.T) {
	dir := testTempDir(t)
	for _, name := range []string{"b", "a.1"} {
		r, err := CreateRegion(name, &RegionOpts{Size: 1 << 20, Dir: dir})
		must(t, err)
		r.Close()
	}
	page, err := os.ReadFile(dir + "/b")
	must(t, err)
	// Not regions: a text file, a file shorter than a page, a region's
	// bytes under a name no region can have, a directory, a FIFO.
	must(t, os.WriteFile(dir+"/notes", make([]byte, 2*pageSize), 0o600))
	must(t, os.WriteFile(dir+"/short", page[:64], 0o600))
	must(t, os.WriteFile(dir+"/.b.tmp", page[:pageSize], 0o600))
	must(t, os.Mkdir(dir+"/sub", 0o700))
	testMakeFifo(t, dir+"/fifo")
	got, err := ListRegions(dir)
	must(t, err)
	if len(got) != 2 || got[0] != "a.1" || got[1] != "b" {
		t.Errorf("regions %q", got)
	}
	must(t, UnlinkRegion("b", dir))
	if got, _ = ListRegions(dir); len(got) != 1 || got[0] != "a.1" {
		t.Errorf("after unlink: %q", got)
	}
	if _, err := ListRegions(dir + "/nope"); err != ErrNoDir {
		t.Errorf("missing dir: %v", err)
	}
	if got, err := ListRegions(dir + "/sub"); err != nil || len(got) != 0 {
		t.Errorf("empty dir: %q %v", got, err)
	}
}

// The bucket map (PROTOCOL.md §2.3) and its bounds.
func TestLatencyBuckets(t *testing.T) {
	known := map[uint32]uint32{0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 7: 7, 8: 8, 9: 8, 10: 9,
		15: 11, 16: 12, 1000: 35, 1023: 35, 1024: 36, 3000000: 81, 0xFFFFFFFF: 123}
	for x, b := range known {
		if got := latBucket(x); got != b {
			t.Errorf("bucket(%d) = %d, want %d", x, got, b)
		}
	}
	bounds := map[int]time.Duration{-1: 0, 0: 0, 3: 3, 4: 4, 7: 7, 8: 8, 9: 10, 35: 896, 36: 1024,
		123: 7 << 29, 124: 1 << 32, 127: 1 << 32, 0xFFFFFFFF: 1 << 32}
	for i, ns := range bounds {
		if got := LatencyBucket(i); got != ns {
			t.Errorf("LatencyBucket(%d) = %d, want %d", i, got, ns)
		}
	}
	for i := uint32(0); i < 124; i++ {
		lo, hi := LatencyBucket(int(i)), LatencyBucket(int(i)+1)
		if lo >= hi || latBucket(uint32(lo)) != i || latBucket(uint32(hi-1)) != i {
			t.Errorf("bucket %d: [%d, %d)", i, lo, hi)
		}
		// a quarter of an octave: no bucket wider than a quarter of its start
		if i >= 4 && (hi-lo)*4 > lo {
			t.Errorf("bucket %d too wide: [%d, %d)", i, lo, hi)
		}
	}
	in := func(x uint32) {
		b := latBucket(x)
		if lo, hi := LatencyBucket(int(b)), LatencyBucket(int(b)+1); time.Duration(x) < lo || time.Duration(x) >= hi {
			t.Errorf("%d in bucket %d: [%d, %d)", x, b, lo, hi)
		}
	}
	for x := uint32(0); x < 4096; x++ {
		in(x)
	}
	for e := 0; e < 32; e++ {
		for _, d := range []int64{-1, 0, 1} {
			in(uint32(int64(1)<<e + d))
		}
	}
	s := uint64(1)
	for i := 0; i < 100000; i++ {
		in(uint32(rngNext(&s) >> (rngNext(&s) % 33)))
	}
}

// Quantiles and differences, on made-up histograms (the cases of
// test_latency_math in tests/test_observe.c).
func TestLatencyMath(t *testing.T) {
	var h Latency
	if h.Quantile(0.5) != 0 || (*Latency)(nil).Quantile(0.5) != 0 {
		t.Error("quantile of nothing")
	}
	// 100 samples: 90 of 1000 ns, 10 of 1 ms
	h.Buckets[latBucket(1000)] = 90
	h.Buckets[latBucket(1000000)] = 10
	h.Count = 100
	p50, p99 := h.Quantile(0.5), h.Quantile(0.99)
	if p50 < 896 || p50 >= 1024 { // 1000's bucket: [896, 1024)
		t.Errorf("p50 %d", p50)
	}
	if p99 < 917504 || p99 >= 1048576 {
		t.Errorf("p99 %d", p99)
	}
	if q := h.Quantile(0.9); q >= 1024 {
		t.Errorf("p90 %d", q)
	}
	if q := h.Quantile(0.91); q < 917504 {
		t.Errorf("p91 %d", q)
	}
	if h.Quantile(0) != h.Quantile(0.001) {
		t.Errorf("p0 %d, p0.1 %d", h.Quantile(0), h.Quantile(0.001))
	}
	if q := h.Quantile(1); q >= 1048576 {
		t.Errorf("p100 %d", q)
	}
	if h.Quantile(2) != h.Quantile(1) || h.Quantile(-1) != 0 {
		t.Errorf("q out of range: %d %d", h.Quantile(2), h.Quantile(-1))
	}
	var z Latency
	z.Buckets[0], z.Count = 5, 5 // all exactly 0
	if q := z.Quantile(0.99); q != 0 {
		t.Errorf("p99 of zeros: %d", q)
	}
	// One sample: every quantile is in its bucket.
	var one Latency
	one.Buckets[latBucket(3000000)], one.Count = 1, 1
	for _, q := range []float64{0, 0.5, 1} {
		if v := one.Quantile(q); latBucket(uint32(v)) != latBucket(3000000) {
			t.Errorf("q%v of one sample of 3 ms: %d", q, v)
		}
	}

	// Differences: the samples between two readings.
	before := h
	before.Sum = 90*1000 + 10*1000000
	after := before
	after.Buckets[latBucket(1000)] += 5
	after.Buckets[latBucket(5000)] += 1
	after.Count += 6
	after.Sum += 5*1000 + 5000
	d := after.Sub(&before)
	if d.Count != 6 || d.Sum != 10000 || d.Buckets[latBucket(1000)] != 5 ||
		d.Buckets[latBucket(5000)] != 1 || d.Buckets[latBucket(1000000)] != 0 {
		t.Errorf("difference %d samples, %d ns", d.Count, d.Sum)
	}
	if d := after.Sub(&after); d.Count != 0 || d.Sum != 0 || d.Quantile(0.5) != 0 {
		t.Errorf("difference with itself: %d samples", d.Count)
	}
	// A new join zeroed the slot in between: the later reading is all there is.
	var fresh Latency
	fresh.Buckets[latBucket(2000)], fresh.Count, fresh.Sum = 3, 3, 6000
	if d := fresh.Sub(&before); d != fresh {
		t.Errorf("after a reset: %d samples, %d ns", d.Count, d.Sum)
	}
	if d := fresh.Sub(nil); d != fresh {
		t.Errorf("from nil: %d samples", d.Count)
	}
}

// Real samples: a message left waiting for d before it is consumed gives a
// sample of at least d; messages consumed between heartbeat flushes are
// not sampled.
func TestLatencySamples(t *testing.T) {
	r := testRegion(t, 8<<20)
	const depth = 1024
	must(t, r.CreateChannel("ch", &ChannelOpts{Depth: depth, MTU: 256}))
	p, err := r.JoinProducer("ch")
	must(t, err)
	defer p.Leave()
	c, err := r.JoinConsumer("ch", Reliable)
	must(t, err)
	slot := uint32(c.Slot())
	h, err := r.Latency("ch", slot)
	must(t, err)
	if h.Count != 0 || h.Sum != 0 {
		t.Fatalf("samples before any message: %d", h.Count)
	}
	if _, err := r.Latency("ch", 8); err != ErrInval {
		t.Errorf("slot past the last: %v", err)
	}
	if _, err := r.Latency("nope", 0); !errors.Is(err, ErrNoEnt) {
		t.Errorf("no such channel: %v", err)
	}
	if _, err := r.Latency("", 0); err != ErrInval {
		t.Errorf("bad name: %v", err)
	}

	const delay = 3 * time.Millisecond // the latency measured, not a synchronisation
	buf := make([]byte, 256)
	var m Meta
	for round := uint64(1); round <= 3; round++ {
		// t0 before the send and the end after the receive: the wait
		// measured here contains the one the consumer measures.
		t0 := time.Now()
		must(t, p.Send([]byte("x"), round))
		time.Sleep(delay)
		must(t, c.Flush()) // a heartbeat flush: sample the next message
		if n, err := c.Recv(buf, &m); n != 1 || err != nil {
			t.Fatalf("recv: %d %v", n, err)
		}
		waited := time.Since(t0)
		before := h
		h, err = r.Latency("ch", slot)
		must(t, err)
		if h.Count != round {
			t.Fatalf("round %d: %d samples", round, h.Count)
		}
		// This round's sample alone (a sleep may overrun, so the earlier
		// ones may be larger than this wait).
		d := h.Sub(&before)
		if d.Count != 1 || d.Buckets[latBucket(uint32(d.Sum))] != 1 {
			t.Fatalf("round %d: %d new samples, %d ns", round, d.Count, d.Sum)
		}
		// (100 µs and 1 ms of slack for the producer's tick clock)
		if d.Sum+100000 < delay || d.Sum > waited+1000000 {
			t.Errorf("sample %d ns after a %v sleep, waited %d ns", d.Sum, delay, waited)
		}
		p100 := d.Quantile(1) // within the sample's bucket
		if p100*5 < delay*4 || p100 > waited+waited/4+1000000 {
			t.Errorf("quantile %d ns of a sample of %d ns", p100, d.Sum)
		}
		if h.Quantile(1) < p100 || h.Sum+time.Duration(round)*100000 < time.Duration(round)*delay {
			t.Errorf("all samples: max %d ns, sum %d ns after %d waits of %v",
				h.Quantile(1), h.Sum, round, delay)
		}
	}
	// 100 messages consumed with no heartbeat flush among them (the first
	// periodic flush comes after depth/8 polls at the earliest): no sample.
	for i := uint64(0); i < 100; i++ {
		must(t, p.Send([]byte("y"), i))
	}
	for i := 0; i < 100; i++ {
		if n, err := c.Recv(buf, &m); n != 1 || err != nil {
			t.Fatalf("recv %d: %d %v", i, n, err)
		}
	}
	h2, err := r.Latency("ch", slot)
	must(t, err)
	if h2.Count != 3 || h2.Sum != h.Sum {
		t.Errorf("%d samples after 100 messages between flushes", h2.Count)
	}
	// Polls count towards the periodic flush, so a busy consumer keeps
	// sampling: 20 rings' worth of messages give at least 20*4 samples, and
	// no more than one per depth/8 polls.
	n := uint64(20 * depth)
	for i := uint64(0); i < n; i++ {
		must(t, p.Send([]byte("z"), i))
		if got, err := c.Recv(buf, &m); got != 1 || err != nil {
			t.Fatalf("recv %d: %d %v", i, got, err)
		}
	}
	h, err = r.Latency("ch", slot)
	must(t, err)
	if h.Count < 3+n/(depth/4) || h.Count > 3+1+n/(depth/8) {
		t.Errorf("%d samples over %d messages", h.Count, n)
	}
	if d := h.Sub(&h2); d.Count != h.Count-3 || d.Sum != h.Sum-h2.Sum {
		t.Errorf("difference: %d samples of %d", d.Count, h.Count)
	}

	// A rejoin keeps the samples; a new join starts from none.
	c.Leave()
	c, err = r.RejoinConsumer("ch", int(slot))
	must(t, err)
	h2, err = r.Latency("ch", slot)
	must(t, err)
	if h2 != h {
		t.Errorf("after a rejoin: %d samples, %d ns; were %d, %d", h2.Count, h2.Sum, h.Count, h.Sum)
	}
	c.Leave()
	c, err = r.JoinConsumer("ch", Lossy)
	must(t, err)
	defer c.Leave()
	if c.Slot() != int(slot) {
		t.Fatalf("joined slot %d, want %d", c.Slot(), slot)
	}
	h2, err = r.Latency("ch", slot)
	must(t, err)
	if h2.Count != 0 || h2.Sum != 0 {
		t.Errorf("after a new join: %d samples, %d ns", h2.Count, h2.Sum)
	}
	if d := h2.Sub(&h); d != h2 {
		t.Errorf("difference across a new join: %d samples", d.Count)
	}
}

// seekSize is the size of message sig of the SeekLast tests (300, three
// fragments of 128, for every third); its byte j is sig*31 + j.
func seekSize(sig uint64) int {
	if sig%3 == 0 {
		return 300
	}
	return int(sig % 50)
}

func seekSend(t *testing.T, p *Producer, sig uint64, size int) {
	t.Helper()
	b := make([]byte, size)
	for j := range b {
		b[j] = byte(sig*31 + uint64(j))
	}
	must(t, p.Send(b, sig))
}

func seekRecv(t *testing.T, c *Consumer, sig uint64, size int) Meta {
	t.Helper()
	buf := make([]byte, 1024)
	var m Meta
	n, err := c.Recv(buf, &m)
	if err != nil || n != size || m.Sig != sig {
		t.Fatalf("got %d bytes of sig %d (%v), want %d of %d", n, m.Sig, err, size, sig)
	}
	for j := 0; j < n; j++ {
		if buf[j] != byte(sig*31+uint64(j)) {
			t.Fatalf("sig %d byte %d", sig, j)
		}
	}
	return m
}

func TestSeekLast(t *testing.T) {
	r := testRegion(t, 8<<20)
	const depth = 64
	must(t, r.CreateChannel("ch", &ChannelOpts{Depth: depth, MTU: 128, MaxMsg: 1024}))
	p, err := r.JoinProducer("ch")
	must(t, err)
	defer p.Leave()
	for s := uint64(0); s < 10; s++ {
		seekSend(t, p, s, seekSize(s))
	}
	rc, err := r.JoinConsumer("ch", Reliable)
	must(t, err)
	if _, err := rc.SeekLast(3); err != ErrInval {
		t.Errorf("reliable consumer: %v", err)
	}
	rc.Leave()
	if _, err := (*Consumer)(nil).SeekLast(3); err != ErrInval {
		t.Errorf("nil consumer: %v", err)
	}

	// The producer has not flushed its seq: the consumer joins at the start,
	// and seeking finds the newest end anyway.
	c, err := r.JoinConsumer("ch", Lossy)
	must(t, err)
	defer c.Leave()
	if st, _ := r.Stats("ch"); st.Seq != 0 || c.Seq() != 0 {
		t.Fatalf("flushed seq %d, consumer at %d", st.Seq, c.Seq())
	}
	if got, err := c.SeekLast(3); got != 3 || err != nil {
		t.Fatalf("seek 3: %d %v", got, err)
	}
	for s := uint64(7); s < 10; s++ {
		seekRecv(t, c, s, seekSize(s))
	}
	buf := make([]byte, 1024)
	var m Meta
	if _, err := c.Recv(buf, &m); err != ErrAgain {
		t.Fatalf("after the newest: %v", err)
	}
	// Further back than the channel goes: back to its first message.
	if got, err := c.SeekLast(100); got != 10 || err != nil || c.Seq() != 0 {
		t.Fatalf("seek 100: %d %v, at %d", got, err, c.Seq())
	}
	for s := uint64(0); s < 10; s++ {
		if m := seekRecv(t, c, s, seekSize(s)); m.Lost != 0 {
			t.Fatalf("sig %d: %d lost", s, m.Lost)
		}
	}
	// 0: only what comes next.
	if got, err := c.SeekLast(0); got != 0 || err != nil {
		t.Fatalf("seek 0: %d %v", got, err)
	}
	if _, err := c.Recv(buf, &m); err != ErrAgain {
		t.Fatalf("after seek 0: %v", err)
	}
	seekSend(t, p, 10, 5)
	seekRecv(t, c, 10, 5)

	// A message half gathered by Recv is dropped: its last fragment, once
	// published, is the tail of nothing.
	b, err := p.Reserve(8)
	must(t, err)
	copy(b, "abcdefgh")
	must(t, p.Commit(8, 99, CtlSOM))
	if _, err := c.Recv(buf, &m); err != ErrAgain {
		t.Fatalf("half a message: %v", err)
	}
	if got, err := c.SeekLast(0); got != 0 || err != nil {
		t.Fatalf("seek 0 with half a message: %d %v", got, err)
	}
	b, err = p.Reserve(8)
	must(t, err)
	copy(b, "ijklmnop")
	must(t, p.Commit(8, 99, CtlEOM))
	if _, err := c.Recv(buf, &m); err != ErrAgain {
		t.Fatalf("the tail of a dropped message: %d bytes of sig %d, %v", m.Size, m.Sig, err)
	}
	// So is a whole message left for a larger buffer.
	seekSend(t, p, 99, 300)
	if _, err := c.Recv(buf[:100], &m); err != ErrMsgSize || m.Size != 300 {
		t.Fatalf("small buffer: %v, size %d", err, m.Size)
	}
	if got, err := c.SeekLast(0); got != 0 || err != nil {
		t.Fatalf("seek 0 with a message kept: %d %v", got, err)
	}
	if _, err := c.Recv(buf, &m); err != ErrAgain {
		t.Fatalf("the message kept before the seek: %d bytes of sig %d, %v", m.Size, m.Sig, err)
	}
	// The tail counted lost, a seek starts the count anew.
	if got, err := c.SeekLast(0); got != 0 || err != nil {
		t.Fatalf("seek 0 after the tail: %d %v", got, err)
	}
	seekSend(t, p, 11, 7)
	if m := seekRecv(t, c, 11, 7); m.Lost != 0 {
		t.Errorf("lost %d before the message after the seek", m.Lost)
	}

	// After several laps only the descriptors still in the ring count: the
	// consumer gets whole messages, consecutive, up to the newest.  Then
	// again with the producer's flushed seq laps behind (as a producer that
	// flushes rarely leaves it): the slots lead the way to the newest.
	next := uint64(12)
	for _, stale := range []bool{false, true} {
		last := uint64(0)
		for end := next + 5*depth; next < end; next++ {
			last = next
			seekSend(t, p, next, seekSize(next))
		}
		if stale { // through the region's mapping: the consumer's is read-only
			atomic.StoreUint64(&prodPageOf(t, r, "ch").seq, 11)
		}
		got, err := c.SeekLast(1000)
		if err != nil || got == 0 || got >= depth {
			t.Fatalf("stale %v: went back %d (%v)", stale, got, err)
		}
		first, prev, n := uint64(0), uint64(0), uint64(0)
		for {
			sz, err := c.Recv(buf, &m)
			if err != nil {
				if err != ErrAgain {
					t.Fatalf("recv: %v", err)
				}
				break
			}
			if n == 0 {
				first = m.Sig
			} else if m.Sig != prev+1 {
				t.Fatalf("sig %d after %d", m.Sig, prev)
			}
			if sz != seekSize(m.Sig) {
				t.Fatalf("sig %d: %d bytes", m.Sig, sz)
			}
			for j := 0; j < sz; j++ {
				if buf[j] != byte(m.Sig*31+uint64(j)) {
					t.Fatalf("sig %d byte %d", m.Sig, j)
				}
			}
			prev = m.Sig
			n++
		}
		// Nothing is published meanwhile: every start found is a whole message.
		if prev != last || n != got {
			t.Errorf("stale %v: went back %d, got %d messages, %d..%d, want up to %d",
				stale, got, n, first, prev, last)
		}
	}
}

// prodPageOf is the producer page of channel name, through r's mapping.
func prodPageOf(t *testing.T, r *Region, name string) *prodPage {
	t.Helper()
	ci, err := r.findChannel(name)
	must(t, err)
	return (*prodPage)(unsafe.Add(r.m.base(), ci.off+ci.g.prodOff))
}

// setSeq0 makes channel name of r, fresh, start at sequence number seq0, as
// a producer of another implementation may (PROTOCOL.md §2.1: the header's
// seq0, the producer's seq, every slot "not yet").
func setSeq0(t *testing.T, r *Region, name string, seq0 uint64) {
	t.Helper()
	ci, err := r.findChannel(name)
	must(t, err)
	base := unsafe.Add(r.m.base(), ci.off)
	(*chanHdr)(base).seq0 = seq0
	prodPageOf(t, r, name).seq = seq0
	depth := uint64(ci.depth)
	meta := unsafe.Slice((*desc)(unsafe.Add(base, ci.g.metaOff)), depth)
	for j := range meta {
		meta[j].seq = seq0 - depth + (uint64(j)-seq0)&(depth-1)
	}
}

// SeekLast stops at the channel's first sequence number wherever it is, and
// counts across the wrap of the sequence numbers.
func TestSeekLastSeq0(t *testing.T) {
	r := testRegion(t, 8<<20)
	const depth = 64
	must(t, r.CreateChannel("ch", &ChannelOpts{Depth: depth, MTU: 128, MaxMsg: 1024}))
	seq0 := uint64(1<<64 - 2*depth) // a multiple of depth: slot seq0-1 holds seq0-1
	setSeq0(t, r, "ch", seq0)
	if st, _ := r.Stats("ch"); st.Seq0 != seq0 || st.Seq != seq0 {
		t.Fatalf("seq0 %d seq %d", st.Seq0, st.Seq)
	}
	p, err := r.JoinProducer("ch")
	must(t, err)
	defer p.Leave()
	c, err := r.JoinConsumer("ch", Lossy)
	must(t, err)
	defer c.Leave()
	if p.Seq() != seq0 || c.Seq() != seq0 {
		t.Fatalf("producer at %d, consumer at %d", p.Seq(), c.Seq())
	}
	for s := uint64(0); s < 10; s++ {
		seekSend(t, p, s, seekSize(s))
	}
	if got, err := c.SeekLast(100); got != 10 || err != nil || c.Seq() != seq0 {
		t.Fatalf("seek 100: %d %v, at %d", got, err, c.Seq())
	}
	for s := uint64(0); s < 10; s++ {
		seekRecv(t, c, s, seekSize(s))
	}
	// Past 2^64: the sequence numbers wrap to 0.
	for s := uint64(10); s < 10+3*depth; s++ {
		seekSend(t, p, s, seekSize(s))
	}
	if p.Seq() >= seq0 {
		t.Fatalf("producer at %d: no wrap", p.Seq())
	}
	got, err := c.SeekLast(5)
	if got != 5 || err != nil {
		t.Fatalf("seek 5 after the wrap: %d %v", got, err)
	}
	var sigs, want []uint64
	buf := make([]byte, 1024)
	var m Meta
	for {
		if _, err := c.Recv(buf, &m); err != nil {
			break
		}
		sigs = append(sigs, m.Sig)
	}
	for s := uint64(10 + 3*depth - 5); s < 10+3*depth; s++ {
		want = append(want, s)
	}
	if !slices.Equal(sigs, want) {
		t.Errorf("messages after the seek: %v, want %v", sigs, want)
	}
}
