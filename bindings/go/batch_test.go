// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

// Batches (PROTOCOL.md §3.1 "Batches"): SendMany, ReserveMany and
// CommitMany publish all of a batch or none of it; what they publish is
// what as many single calls would have.

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"unsafe"
)

// batchMsg is message sig's payload of n bytes: byte j is sig*31 + j.
func batchMsg(sig uint64, n int) []byte {
	b := make([]byte, n)
	for j := range b {
		b[j] = byte(sig*31) + byte(j)
	}
	return b
}

// recvAll receives what is there (until ErrAgain) and checks it is the
// messages of sigs, in order, with batchMsg payloads of the sizes given.
func recvAll(t *testing.T, c *Consumer, sigs []uint64, sizes []int) {
	t.Helper()
	buf := make([]byte, c.MaxMsg())
	var m Meta
	for i, sig := range sigs {
		n, err := c.Recv(buf, &m)
		if err != nil {
			t.Fatalf("message %d (sig %d): %v", i, sig, err)
		}
		if m.Sig != sig || m.Lost != 0 || !bytes.Equal(buf[:n], batchMsg(sig, sizes[i])) {
			t.Fatalf("message %d: sig %d (want %d), %d bytes (want %d), lost %d", i, m.Sig, sig,
				n, sizes[i], m.Lost)
		}
	}
	if _, err := c.Recv(buf, &m); err != ErrAgain {
		t.Fatalf("after the %d messages: %v (sig %d)", len(sigs), err, m.Sig)
	}
}

// nothingPublished fails unless the producer is still at seq and the
// consumer finds nothing.
func nothingPublished(t *testing.T, what string, p *Producer, c *Consumer, seq uint64) {
	t.Helper()
	var v View
	if p.Seq() != seq {
		t.Fatalf("%s: published (seq %d, was %d)", what, p.Seq(), seq)
	}
	if err := c.Poll(&v); err != ErrAgain {
		t.Fatalf("%s: the consumer found something: %v seq %d", what, err, v.Seq)
	}
}

// Bad batches are refused whole: nothing published, nothing seen.
func TestSendManyBadInput(t *testing.T) {
	r := testRegion(t, 4<<20)
	// depth 16, 64-byte fragments, messages up to 512 bytes (8 fragments)
	must(t, r.CreateChannel("b", &ChannelOpts{Depth: 16, MTU: 64, MaxMsg: 512}))
	c, err := r.JoinConsumer("b", Reliable)
	must(t, err)
	defer c.Leave()
	p, err := r.JoinProducer("b")
	must(t, err)
	defer p.Leave()
	must(t, p.Send([]byte("x"), 0))
	var v View
	must(t, c.Poll(&v))
	seq := p.Seq()
	ok := Msg{Data: []byte("fine")}
	for _, k := range []struct {
		what string
		msgs []Msg
		want error
	}{
		{"nil", nil, ErrInval},
		{"no messages", []Msg{}, ErrInval},
		{"more messages than the depth", make([]Msg, 17), ErrInval},
		{"more fragments than the depth", []Msg{{Data: make([]byte, 512)}, ok, {Data: make([]byte, 512)}}, ErrInval},
		{"one over max_msg", []Msg{ok, {Data: make([]byte, 513)}, ok}, ErrMsgSize},
		// as in C: a message over max_msg is reported before a batch too large
		{"too many, then over max_msg", []Msg{{Data: make([]byte, 512)}, {Data: make([]byte, 512)},
			ok, {Data: make([]byte, 513)}}, ErrMsgSize},
	} {
		if err := p.SendMany(k.msgs); err != k.want {
			t.Errorf("%s: %v, want %v", k.what, err, k.want)
		}
		nothingPublished(t, k.what, p, c, seq)
	}
	if err := (*Producer)(nil).SendMany([]Msg{ok}); err != ErrInval {
		t.Errorf("nil producer: %v", err)
	}
	// A full ring's worth is not too many: 16 descriptors.
	must(t, p.SendMany([]Msg{{Data: make([]byte, 512), Sig: 1}, {Data: make([]byte, 7*64), Sig: 2}, {Sig: 3}}))
	if p.Seq() != seq+16 {
		t.Fatalf("a batch of 16 descriptors: seq %d, want %d", p.Seq(), seq+16)
	}
}

// All or nothing on credit: short of one fragment, nothing goes, and the
// backpressure is counted once.
func TestSendManyCredit(t *testing.T) {
	r := testRegion(t, 4<<20)
	must(t, r.CreateChannel("b", &ChannelOpts{Depth: 16, MTU: 64, MaxMsg: 512}))
	c, err := r.JoinConsumer("b", Reliable)
	must(t, err)
	defer c.Leave()
	p, err := r.JoinProducer("b")
	must(t, err)
	defer p.Leave()
	sizes := make([]int, 10)
	sigs := make([]uint64, 10)
	for i := range sizes {
		sizes[i], sigs[i] = i, uint64(i)
		must(t, p.Send(batchMsg(uint64(i), i), uint64(i)))
	}
	st, err := r.Stats("b")
	must(t, err)
	bp := st.Backpressure
	// 6 descriptors left: 5 messages of one and one of two fragments
	batch := []Msg{}
	for i := 10; i < 15; i++ {
		batch = append(batch, Msg{Data: batchMsg(uint64(i), 1), Sig: uint64(i)})
	}
	batch = append(batch, Msg{Data: batchMsg(15, 100), Sig: 15})
	if err := p.SendMany(batch); err != ErrAgain {
		t.Fatalf("7 descriptors with credit for 6: %v", err)
	}
	if p.Seq() != 10 {
		t.Fatalf("a refused batch published: seq %d", p.Seq())
	}
	st, err = r.Stats("b")
	must(t, err)
	if st.Backpressure != bp+1 {
		t.Fatalf("backpressure %d after one refused batch, was %d", st.Backpressure, bp)
	}
	recvAll(t, c, sigs, sizes)
	must(t, p.SendMany(batch))
	recvAll(t, c, []uint64{10, 11, 12, 13, 14, 15}, []int{1, 1, 1, 1, 1, 100})
}

// A batch arrives whole and in order, fragments included, with its sigs,
// user ctl bits and tsorig, to a reliable and a lossy consumer; all its
// descriptors share one stamp.
func TestSendManyIntact(t *testing.T) {
	r := testRegion(t, 4<<20)
	must(t, r.CreateChannel("b", &ChannelOpts{Depth: 64, MTU: 64, MaxMsg: 1024}))
	rel, err := r.JoinConsumer("b", Reliable)
	must(t, err)
	defer rel.Leave()
	lossy, err := r.JoinConsumer("b", Lossy)
	must(t, err)
	defer lossy.Leave()
	p, err := r.JoinProducer("b")
	must(t, err)
	defer p.Leave()
	must(t, p.SetStamp(StampEvery))
	sizes := []int{0, 1, 64, 65, 300, 7, 1024, 128}
	var msgs []Msg
	frags := 0
	for i, n := range sizes {
		sig := uint64(100 + i)
		// SOM and EOM are SendMany's own: a SOM given is dropped
		ctl := CtlUser(uint16(i)) | CtlSOM
		if i == 3 {
			ctl |= CtlErr
		}
		msgs = append(msgs, Msg{Data: batchMsg(sig, n), Sig: sig, Ctl: ctl, TSOrig: uint32(1000 + i)})
		frags += max(1, (n+63)/64)
	}
	must(t, p.SendMany(msgs))
	if p.Seq() != uint64(frags) {
		t.Fatalf("seq %d after %d fragments", p.Seq(), frags)
	}
	ts := tspubOf(p, 0)
	for s := uint64(0); s < uint64(frags); s++ {
		if ts == 0 || tspubOf(p, s) != ts {
			t.Fatalf("seq %d: tspub %d, the batch's first %d", s, tspubOf(p, s), ts)
		}
	}
	for _, c := range []*Consumer{rel, lossy} {
		buf := make([]byte, 1024)
		var m Meta
		seq := uint64(0)
		for i, k := range msgs {
			n, err := c.Recv(buf, &m)
			want := k.Ctl&^CtlSOM | CtlEOM
			if len(k.Data) <= 64 {
				want |= CtlSOM
			}
			if err != nil || m.Sig != k.Sig || !bytes.Equal(buf[:n], k.Data) || m.Seq != seq ||
				m.TSOrig != k.TSOrig || m.TSPub != ts || m.Ctl != want || m.Lost != 0 {
				t.Fatalf("message %d: %v %+v, %d bytes; want seq %d, ctl %#x", i, err, m, n, seq, want)
			}
			seq += uint64(max(1, (len(k.Data)+63)/64))
		}
		if _, err := c.Recv(buf, &m); err != ErrAgain {
			t.Fatalf("after the batch: %v", err)
		}
	}
}

// ReserveMany and CommitMany: bad calls publish nothing and keep the
// reservation; a commit of fewer than reserved, of smaller sizes, works;
// the buffers are where single reserves would put them, across the end
// of the data ring.
func TestReserveCommitMany(t *testing.T) {
	r := testRegion(t, 4<<20)
	// depth 8, 128-byte MTU: a data ring of (8 + 2) * 2 = 20 chunks
	must(t, r.CreateChannel("b", &ChannelOpts{Depth: 8, MTU: 128}))
	c, err := r.JoinConsumer("b", Reliable)
	must(t, err)
	defer c.Leave()
	p, err := r.JoinProducer("b")
	must(t, err)
	defer p.Leave()
	if p.dataChunks != 20 {
		t.Fatalf("data ring of %d chunks, the test expects 20", p.dataChunks)
	}
	bufs := make([][]byte, 9)
	for _, k := range []struct {
		what string
		bufs [][]byte
		n    int
		want error
	}{
		{"no buffers", nil, 10, ErrInval},
		{"more than the depth", bufs[:9], 10, ErrInval},
		{"over the MTU", bufs[:2], 129, ErrMsgSize},
		{"negative", bufs[:2], -1, ErrMsgSize},
	} {
		if err := p.ReserveMany(k.bufs, k.n); err != k.want {
			t.Errorf("ReserveMany %s: %v, want %v", k.what, err, k.want)
		}
	}
	if err := (*Producer)(nil).ReserveMany(bufs[:1], 1); err != ErrInval {
		t.Errorf("ReserveMany on nil: %v", err)
	}
	if err := p.CommitMany([]Msg{{Ctl: CtlMsg}}); err != ErrInval {
		t.Errorf("CommitMany with nothing reserved: %v", err)
	}
	nothingPublished(t, "bad reserves", p, c, 0)

	// 7 messages of 2 chunks: the next free chunk is 14.
	for i := 0; i < 7; i++ {
		must(t, p.Send(batchMsg(uint64(i), 128), uint64(i)))
	}
	recvAll(t, c, []uint64{0, 1, 2, 3, 4, 5, 6}, []int{128, 128, 128, 128, 128, 128, 128})
	bufs = bufs[:4]
	must(t, p.ReserveMany(bufs, 128))
	// Chunks 14, 16, 18, then the ring's start: 0.
	for i, ch := range []uint64{14, 16, 18, 0} {
		if len(bufs[i]) != 128 || cap(bufs[i]) != 128 || &bufs[i][0] != &p.data[ch*64] {
			t.Fatalf("buffer %d at offset %d (len %d, cap %d), want chunk %d", i,
				uintptr(unsafe.Pointer(&bufs[i][0]))-uintptr(unsafe.Pointer(&p.data[0])),
				len(bufs[i]), cap(bufs[i]), ch)
		}
	}
	sizes := []int{1, 128, 0, 77}
	msgs := make([]Msg, 4)
	for i, n := range sizes {
		sig := uint64(10 + i)
		copy(bufs[i], batchMsg(sig, n))
		msgs[i] = Msg{Data: bufs[i][:n], Sig: sig, Ctl: CtlMsg, TSOrig: uint32(i + 1)}
	}
	msgs[2].Data = nil // an empty one may be nil
	for _, k := range []struct {
		what string
		msgs []Msg
	}{
		{"no messages", msgs[:0]},
		{"more than reserved", append(append([]Msg{}, msgs...), msgs[0])},
		// a slice past the buffer's capacity (still inside the ring)
		{"longer than reserved", []Msg{{Data: unsafe.Slice(&bufs[0][0], 129), Ctl: CtlMsg}}},
		{"not at its buffer", []Msg{msgs[0], {Data: bufs[0][:1], Ctl: CtlMsg}}},
		{"inside its buffer", []Msg{{Data: bufs[0][64:65], Ctl: CtlMsg}}},
		{"a copy", []Msg{{Data: batchMsg(10, 1), Ctl: CtlMsg}}},
	} {
		if err := p.CommitMany(k.msgs); err != ErrInval {
			t.Errorf("CommitMany %s: %v, want ErrInval", k.what, err)
		}
		nothingPublished(t, "CommitMany "+k.what, p, c, 7)
	}
	// The reservation survived; commit three of the four.
	must(t, p.CommitMany(msgs[:3]))
	if p.Seq() != 10 {
		t.Fatalf("seq %d after committing 3", p.Seq())
	}
	if err := p.CommitMany(msgs[3:]); err != ErrInval {
		t.Errorf("a second CommitMany of the same reservation: %v", err)
	}
	var v View
	for i := 0; i < 3; i++ {
		must(t, c.Poll(&v))
		if v.Sig != msgs[i].Sig || v.Ctl != CtlMsg || v.TSOrig != msgs[i].TSOrig ||
			!bytes.Equal(v.Data, batchMsg(v.Sig, sizes[i])) {
			t.Fatalf("view %d: %+v", i, v)
		}
	}
	// The next payload goes after the last one committed (chunk 18, 0
	// bytes): chunk 18, where a single reserve would have put it.
	b, err := p.Reserve(128)
	must(t, err)
	if &b[0] != &p.data[18*64] {
		t.Fatalf("the reserve after the batch is at offset %d, want chunk 18",
			uintptr(unsafe.Pointer(&b[0]))-uintptr(unsafe.Pointer(&p.data[0])))
	}
	// A commit of one buffer of a ReserveMany publishes the first.
	must(t, p.ReserveMany(bufs[:2], 5))
	copy(bufs[0], batchMsg(20, 5))
	must(t, p.Commit(5, 20, CtlMsg))
	if err := p.CommitMany([]Msg{{Ctl: CtlMsg}}); err != ErrInval {
		t.Errorf("CommitMany after Commit took the reservation: %v", err)
	}
	recvAll(t, c, []uint64{20}, []int{5})
	// The consumer flushed its cursor at seq 11 (its last poll found
	// nothing); 3 more messages leave credit for 5 descriptors.
	for i := 0; i < 3; i++ {
		must(t, p.Send(batchMsg(uint64(30+i), 3), uint64(30+i)))
	}
	if err := p.ReserveMany(bufs[:6], 1); err != ErrAgain {
		t.Fatalf("ReserveMany of 6 with credit for 5: %v", err)
	}
	must(t, p.ReserveMany(bufs[:5], 1))
}

// The shared stream, sent in batches, reaches a reliable and a lossy Go
// consumer intact and in order, and a reliable one that reads it in bursts
// (PollMany).
func TestSendManyStream(t *testing.T) {
	r := testRegion(t, 16<<20)
	must(t, r.CreateChannel("c", &ChannelOpts{Depth: 1024, MTU: 256, MaxMsg: 4096}))
	n := scale(300000)
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	ready := make(chan struct{}, 3)
	for _, k := range []string{"reliable", "lossy", "bursts"} {
		wg.Add(1)
		go func(k string) {
			defer wg.Done()
			var err error
			switch k {
			case "bursts":
				err = consumeStreamBursts(r, "c", n, 8, 16, func() { ready <- struct{}{} })
			default:
				mode := Reliable
				if k == "lossy" {
					mode = Lossy
				}
				_, _, err = consumeStream(r, "c", n, 8, mode, defaultSpin, false, nil,
					func() { ready <- struct{}{} })
			}
			if err != nil {
				err = fmt.Errorf("%s: %v", k, err)
			}
			errs <- err
		}(k)
	}
	for i := 0; i < 3; i++ {
		<-ready
	}
	must(t, produceStreamMany(r, "c", n, 8, 13, defaultSpin))
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
}

// Buffers reserved ahead are written before the descriptors before them
// are published: the third of a batch of three overlaps the payload of the
// message 8 back, still in the ring, which a lossy consumer holds.  Its
// check must fail once the caller writes there (PROTOCOL.md §3.1, the
// marks of a batch written ahead).
func TestReserveManyAhead(t *testing.T) {
	r := testRegion(t, 4<<20)
	// depth 8, mtu 64: 10 chunks, message x at chunk x mod 10
	must(t, r.CreateChannel("a", &ChannelOpts{Depth: 8, MTU: 64}))
	c, err := r.JoinConsumer("a", Lossy)
	must(t, err)
	defer c.Leave()
	p, err := r.JoinProducer("a")
	must(t, err)
	defer p.Leave()
	if p.Seq() != 0 {
		t.Fatalf("a new channel starts at %d", p.Seq())
	}
	for i := uint64(0); i < 16; i++ {
		must(t, p.Send(batchMsg(i, 64), i))
	}
	var v View
	if err := c.Poll(&v); err != ErrOverrun {
		t.Fatalf("lapped poll: %v", err)
	}
	must(t, c.Poll(&v))
	if v.Sig != 8 || !bytes.Equal(v.Data, batchMsg(8, 64)) {
		t.Fatalf("message 8: sig %d", v.Sig)
	}
	bufs := make([][]byte, 3)
	must(t, p.ReserveMany(bufs, 64))
	for i := range bufs[2] {
		bufs[2][i] = 0xa5 // the chunk of message 8
	}
	if bytes.Equal(v.Data, batchMsg(8, 64)) {
		t.Fatal("the third buffer is not message 8's chunk")
	}
	if err := c.Check(&v); err != ErrOverrun {
		t.Fatalf("check of an overwritten message 8: %v", err)
	}
}
