// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

// Hostile or broken channels (issue 18): what a consumer or producer must
// refuse, and what it must survive.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"testing"
	"time"
)

// hugeChannelRegion writes, as a sparse file, a region whose one channel
// "c" has the header of depth and mtu (2 consumer slots), every field as
// the formulas of PROTOCOL.md §2 give it, and returns the directory.
func hugeChannelRegion(t *testing.T, depth, mtu uint32) string {
	t.Helper()
	good := validRegionBytes(t)
	chOff := binary.LittleEndian.Uint64(good[tableOff+48:])
	g := chanGeom(depth, mtu, 2)
	b := good[:chOff+pageSize] // region header and table, channel header
	le := binary.LittleEndian
	total := chOff + g.size
	le.PutUint64(b[16:], total)           // region size
	le.PutUint64(b[48:], total)           // alloc_off
	le.PutUint64(b[tableOff+56:], g.size) // entry size
	h := b[chOff:]
	le.PutUint64(h[16:], g.size)
	le.PutUint32(h[24:], depth)
	le.PutUint32(h[28:], mtu)
	le.PutUint64(h[40:], uint64(min(16, depth/2))*uint64(mtu))
	le.PutUint64(h[56:], g.dataChunks)
	le.PutUint64(h[88:], g.metaOff)
	le.PutUint64(h[96:], g.dataOff)
	dir := testTempDir(t)
	must(t, os.WriteFile(dir+"/h", b, 0o600))
	must(t, os.Truncate(dir+"/h", int64(total)))
	return dir
}

// A descriptor's chunk is 32 bits: a data ring of more than 2^32 chunks
// would have payloads past chunk 2^32 read from the ring's start.  Such a
// geometry is refused at creation (footprint 0, ErrInval), and a header
// that claims one is corrupt to both endpoints.
func TestDataChunksLimit(t *testing.T) {
	// (2^22 + 2) * 1024 chunks: just over 2^32.
	over := ChannelOpts{Depth: 1 << 22, MTU: 65535}
	if n := ChannelFootprint(&over); n != 0 {
		t.Errorf("footprint of %d data chunks: %d, want 0", chanGeom(over.Depth, over.MTU, 8).dataChunks, n)
	}
	r := testRegion(t, 1<<20)
	if err := r.CreateChannel("c", &over); err != ErrInval {
		t.Errorf("create with %d data chunks: %v, want ErrInval", chanGeom(over.Depth, over.MTU, 8).dataChunks, err)
	}
	// (2^22 + 2) * 1023 chunks: just under, accepted.
	under := ChannelOpts{Depth: 1 << 22, MTU: 1023 * 64}
	if g := chanGeom(under.Depth, under.MTU, 8); g.dataChunks > 1<<32 || ChannelFootprint(&under) != g.size {
		t.Errorf("%d data chunks: footprint %d, want %d", g.dataChunks, ChannelFootprint(&under), g.size)
	}

	if runtime.GOOS == "windows" {
		t.Skip("windows: opening the region maps its whole 256 GiB sparse file, a view larger than Windows (and Wine) map")
	}
	dir := hugeChannelRegion(t, 1<<22, 65535)
	hr, err := OpenRegion("h", &RegionOpts{Dir: dir})
	must(t, err)
	defer hr.Close()
	if c, err := hr.JoinConsumer("c", Lossy); err != ErrCorrupt {
		t.Errorf("consumer of a channel of more than 2^32 chunks: %v, want ErrCorrupt", err)
		if err == nil {
			c.Leave()
		}
	}
	if p, err := hr.JoinProducer("c"); err != ErrCorrupt {
		t.Errorf("producer of a channel of more than 2^32 chunks: %v, want ErrCorrupt", err)
		if err == nil {
			p.Leave()
		}
	}
}

// plant stores seq into the slot of at, as a hostile writer of the channel
// would (through the producer's writable mapping).
func plant(p *Producer, at, seq uint64) { atomic.StoreUint64(&p.desc(at).seq, seq) }

// Two 8-byte stores make a cycle of four sequence numbers, each less than
// 2^63 ahead of the last: the consumer at q finds A in q's slot, then B in
// the next, then the channel's older descriptors, which it would deliver
// again, and q again...  A consumer must never go round: a sequence number
// no producer can have published (PROTOCOL.md §3.2) is a corrupt
// descriptor, skipped; it delivers nothing twice, and what it reports lost
// is what it skipped.
func TestOverrunCycle(t *testing.T) {
	for _, mode := range []Mode{Lossy, Reliable} {
		for _, recv := range []bool{false, true} {
			overrunCycle(t, mode, recv)
		}
	}
}

func overrunCycle(t *testing.T, mode Mode, recv bool) {
	what := fmt.Sprintf("mode %d, recv %v", mode, recv)
	r := testRegion(t, 1<<20)
	must(t, r.CreateChannel("c", &ChannelOpts{Depth: 8, MTU: 64}))
	c, err := r.JoinConsumer("c", mode)
	must(t, err)
	defer c.Leave()
	p, err := r.JoinProducer("c")
	must(t, err)
	defer p.Leave()
	for i := uint64(0); i < 6; i++ {
		must(t, p.Send([]byte{byte(i)}, i))
	}
	var v View
	for i := uint64(0); i < 4; i++ {
		must(t, c.Poll(&v))
	}
	const step = 0x5800000000000000 // 1.375 * 2^62, a multiple of the depth
	q := c.Seq()
	a := q + step
	plant(p, q, a)
	plant(p, a+1, a+1+step)
	delivered := map[uint64]bool{0: true, 1: true, 2: true, 3: true}
	buf := make([]byte, 64)
	var m Meta
	lost := uint64(0)
	for i := 0; i < 64; i++ {
		before := c.Seq()
		if recv {
			_, err = c.Recv(buf, &m)
			v.Seq, v.Lost = m.Seq, m.Lost
		} else {
			err = c.Poll(&v)
		}
		switch err {
		case nil:
			if delivered[v.Seq] {
				t.Fatalf("%s: call %d delivered %d again", what, i, v.Seq)
			}
			delivered[v.Seq] = true
			if recv {
				lost += v.Lost
			}
		case ErrOverrun:
			lost += v.Lost
		case ErrCorrupt, ErrAgain:
		default:
			t.Fatalf("%s: call %d: %v", what, i, err)
		}
		if d := int64(c.Seq() - before); d < 0 || d > 8 {
			t.Fatalf("%s: call %d: consumer went from %d to %#x", what, i, before, c.Seq())
		}
		if lost > 8 {
			t.Fatalf("%s: call %d: %#x reported lost", what, i, lost)
		}
	}
	// A was skipped as corrupt; B, in the next slot, reads as behind
	// (more than 2^63 ahead): nothing yet, until the slot is rewritten.
	if c.Seq() != q+1 {
		t.Errorf("%s: consumer at %#x, want %d", what, c.Seq(), q+1)
	}
	plant(p, q+1, q+1) // message 5 back in its slot
	for i := uint64(6); i < 8; i++ {
		must(t, p.Send([]byte{byte(i)}, i))
	}
	for i := q + 1; i < 8; i++ {
		n, err := c.Recv(buf, &m)
		wantLost := uint64(0)
		if recv && i == q+1 {
			wantLost = 1 // Recv counts the corrupt descriptor it skipped
		}
		if err != nil || n != 1 || buf[0] != byte(i) || m.Seq != i || m.Lost != wantLost {
			t.Errorf("%s: recv %d: %d %v %+v", what, i, n, err, m)
		}
	}
}

// A hostile writer plants sequence numbers of every distance into the
// slots while the producer publishes and a lossy consumer polls: the
// consumer's position only moves forward (by one, or to what an overrun
// found, reporting exactly that gap lost), its jumps stay below 2^62 in
// all, and it never gets further ahead of the producer than a flush can lag.
func TestOverrunHostile(t *testing.T) {
	for _, mode := range []Mode{Lossy, Reliable} {
		r := testRegion(t, 1<<20)
		const depth = 16
		must(t, r.CreateChannel("c", &ChannelOpts{Depth: depth, MTU: 64}))
		c, err := r.JoinConsumer("c", mode)
		must(t, err)
		p, err := r.JoinProducer("c")
		must(t, err)
		rng := uint64(7)
		start := c.Seq()
		jumped := uint64(0)
		var v View
		polls := int(scale(200000))
		for i := 0; i < polls; i++ {
			if i%4 == 0 {
				p.Send([]byte{1}, 0) // ErrAgain when a reliable consumer is behind
			}
			if i%3 == 0 { // plant: somewhere ahead of the consumer, up to 2^63
				x := rngNext(&rng)
				at := c.Seq() + x%depth
				plant(p, at, at+(x>>1)%(1<<63)&^(depth-1))
			}
			before := c.Seq()
			err := c.Poll(&v)
			after := c.Seq()
			moved := after - before
			switch {
			case err == nil || err == ErrCorrupt:
				if moved != 1 {
					t.Fatalf("mode %d, poll %d: %v moved %d", mode, i, err, moved)
				}
			case err == ErrOverrun:
				if int64(moved) <= 0 || v.Lost != moved {
					t.Fatalf("mode %d, poll %d: lost %#x, moved %#x", mode, i, v.Lost, moved)
				}
				jumped += moved
			case err == ErrAgain:
				if moved != 0 {
					t.Fatalf("mode %d, poll %d: nothing, moved %d", mode, i, moved)
				}
			default:
				t.Fatalf("mode %d, poll %d: %v", mode, i, err)
			}
			if jumped >= maxJumped || int64(after-atomic.LoadUint64(&p.prod.seq)) > maxFlushLag+int64(i)+1 {
				t.Fatalf("mode %d, poll %d: consumer at %#x (jumped %#x), producer at %#x",
					mode, i, after, jumped, p.Seq())
			}
		}
		if c.Seq() == start {
			t.Errorf("mode %d: the consumer never moved", mode)
		}
		must(t, p.Leave())
		must(t, c.Leave())
	}
}

// A producer validates the channel header as a consumer does: a hostile
// writer that raises max_msg (or bends any other field) before a producer
// joins does not get that producer to send larger messages than the
// creator allowed.
func TestProducerValidatesHeader(t *testing.T) {
	good := validRegionBytes(t) // depth 16, mtu 64, 2 consumers
	chOff := int(binary.LittleEndian.Uint64(good[tableOff+48:]))
	put := func(off, size int, v uint64) []byte {
		b := bytes.Clone(good)
		if size == 4 {
			binary.LittleEndian.PutUint32(b[chOff+off:], uint32(v))
		} else {
			binary.LittleEndian.PutUint64(b[chOff+off:], v)
		}
		return b
	}
	cases := []struct {
		name string
		b    []byte
	}{
		{"max_msg over depth/2 fragments", put(40, 8, 64*8+1)},
		{"max_msg huge", put(40, 8, 1<<40)},
		{"max_msg under mtu", put(40, 8, 63)},
		{"data_chunks", put(56, 8, (16+2)*1+1)},
		{"size", put(16, 8, 1<<30)},
		{"depth", put(24, 4, 32)},
		{"mtu", put(28, 4, 128)},
		{"max_consumers", put(32, 4, 257)},
		{"flags", put(36, 4, 1)},
		{"cursor_stride", put(80, 8, 8192)},
		{"data_off", put(96, 8, 0)},
	}
	for _, tc := range cases {
		dir := testTempDir(t)
		must(t, os.WriteFile(dir+"/h", tc.b, 0o600))
		r, err := OpenRegion("h", &RegionOpts{Dir: dir})
		must(t, err)
		if p, err := r.JoinProducer("c"); err != ErrCorrupt {
			t.Errorf("%s: producer joined: %v", tc.name, err)
			if err == nil {
				p.Leave()
			}
		}
		if c, err := r.JoinConsumer("c", Lossy); err != ErrCorrupt {
			t.Errorf("%s: consumer joined: %v", tc.name, err)
			if err == nil {
				c.Leave()
			}
		}
		r.Close()
	}
	// The header as created: max_msg within depth/2 fragments, which both
	// endpoints keep.
	dir := testTempDir(t)
	must(t, os.WriteFile(dir+"/h", put(40, 8, 64*8), 0o600))
	r, err := OpenRegion("h", &RegionOpts{Dir: dir})
	must(t, err)
	defer r.Close()
	p, err := r.JoinProducer("c")
	must(t, err)
	defer p.Leave()
	if p.MaxMsg() != 64*8 {
		t.Errorf("max_msg %d", p.MaxMsg())
	}
	if err := p.Send(make([]byte, 64*8+1), 1); err != ErrMsgSize {
		t.Errorf("send past max_msg: %v", err)
	}
}

// nilSafe runs f and fails the test if it panics (faults on unmapped
// memory included) or returns something other than want.
func nilSafe(t *testing.T, name string, want error, f func() error) {
	t.Helper()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if x := recover(); x != nil {
			t.Errorf("%s: panic: %v", name, x)
		}
	}()
	if err := f(); err != want {
		t.Errorf("%s: %v, want %v", name, err, want)
	}
}

// nilCalls calls every method of p and c (nil, or after Leave) and of r
// (nil, or closed): ErrInval, or a zero value, never a panic.
func nilCalls(t *testing.T, what string, r *Region, p *Producer, c *Consumer) {
	var v View
	var m Meta
	buf := make([]byte, 64)
	calls := []struct {
		name string
		f    func() error
	}{
		{"Region.CreateChannel", func() error { return r.CreateChannel("x", nil) }},
		{"Region.JoinProducer", func() error { _, err := r.JoinProducer("c"); return err }},
		{"Region.JoinConsumer", func() error { _, err := r.JoinConsumer("c", Lossy); return err }},
		{"Region.RejoinConsumer", func() error { _, err := r.RejoinConsumer("c", 0); return err }},
		{"Region.Objects", func() error { _, err := r.Objects(); return err }},
		{"Region.Channels", func() error {
			if r.Channels() != nil || r.Info() != (RegionInfo{}) {
				return ErrIO
			}
			return ErrInval
		}},
		{"Producer.Reserve", func() error { _, err := p.Reserve(1); return err }},
		{"Producer.ReserveWait", func() error { _, err := p.ReserveWait(1, time.Millisecond); return err }},
		{"Producer.Commit", func() error { return p.Commit(0, 0, CtlMsg) }},
		{"Producer.CommitTS", func() error { return p.CommitTS(0, 0, CtlMsg, 1) }},
		{"Producer.CommitAt", func() error { return p.CommitAt(0, 0, 0, CtlMsg) }},
		{"Producer.Send", func() error { return p.Send(buf, 1) }},
		{"Producer.SendWait", func() error { return p.SendWait(buf, 1, time.Millisecond) }},
		{"Producer.SendMany", func() error { return p.SendMany([]Msg{{Data: buf}}) }},
		{"Producer.ReserveMany", func() error { return p.ReserveMany(make([][]byte, 2), 1) }},
		{"Producer.CommitMany", func() error { return p.CommitMany([]Msg{{Ctl: CtlMsg}}) }},
		{"Producer.SetStamp", func() error { return p.SetStamp(StampEvery) }},
		{"Producer.Flush", func() error { return p.Flush() }},
		{"Producer.Leave", func() error { return p.Leave() }}, // nil: nothing to do
		{"Consumer.Poll", func() error { return c.Poll(&v) }},
		{"Consumer.PollWait", func() error { return c.PollWait(&v, time.Millisecond) }},
		{"Consumer.PollMany", func() error { _, err := c.PollMany(make([]View, 2)); return err }},
		{"Consumer.Check", func() error { return c.Check(&v) }},
		{"Consumer.Recv", func() error { _, err := c.Recv(buf, &m); return err }},
		{"Consumer.RecvView", func() error { _, err := c.RecvView(buf, &m); return err }},
		{"Consumer.RecvWait", func() error { _, err := c.RecvWait(buf, &m, time.Millisecond); return err }},
		{"Consumer.SeekLast", func() error { _, err := c.SeekLast(1); return err }},
		{"Consumer.Flush", func() error { return c.Flush() }},
		{"Consumer.Fd", func() error { return consumerWaitObject(c) }},
		{"Consumer.Arm", func() error { _, err := c.Arm(); return err }},
		{"Consumer.WaitReady", func() error { return c.WaitReady(time.Millisecond) }},
		{"WaitAny", func() error { _, err := WaitAny([]*Consumer{c}, time.Millisecond); return err }},
		{"Consumer.Leave", func() error { return c.Leave() }},
		{"Producer.SetSpin and co", func() error {
			p.SetSpin(0)
			p.SetEvict(0)
			c.SetSpin(0)
			if c.Producer() != PeerUnknown {
				return ErrIO
			}
			_, _, _, _ = p.MTU(), p.MaxMsg(), c.MaxMsg(), c.Slot()
			_, _, _, _ = p.Seq(), c.Seq(), r.Name(), r.Dir()
			return ErrInval
		}},
	}
	for _, k := range calls {
		want := ErrInval
		if k.name == "Producer.Leave" || k.name == "Consumer.Leave" {
			want = Error(0)
		}
		wantErr := error(want)
		if want == 0 {
			wantErr = nil
		}
		nilSafe(t, what+": "+k.name, wantErr, k.f)
	}
}

// Nil handles and nil arguments return ErrInval and never panic, where the
// C library's calls would be given NULL; so do endpoints that left and a
// closed region (their memory is unmapped: a call must not touch it).
func TestNilHandles(t *testing.T) {
	nilCalls(t, "nil", nil, nil, nil)

	r := testRegion(t, 1<<20)
	must(t, r.CreateChannel("c", &ChannelOpts{Depth: 8, MTU: 64}))
	p, err := r.JoinProducer("c")
	must(t, err)
	c, err := r.JoinConsumer("c", Lossy)
	must(t, err)
	must(t, p.Send([]byte{1}, 1))
	nilSafe(t, "Poll(nil)", ErrInval, func() error { return c.Poll(nil) })
	nilSafe(t, "Check(nil)", ErrInval, func() error { return c.Check(nil) })
	nilSafe(t, "Recv(buf, nil)", ErrInval, func() error { _, err := c.Recv(make([]byte, 8), nil); return err })
	nilSafe(t, "RecvView(buf, nil)", ErrInval, func() error { _, err := c.RecvView(nil, nil); return err })
	nilSafe(t, "WaitAny(nil)", ErrInval, func() error { _, err := WaitAny([]*Consumer{c, nil}, 0); return err })
	var m Meta
	nilSafe(t, "Recv(nil, m)", ErrMsgSize, func() error { _, err := c.Recv(nil, &m); return err })
	must(t, p.Leave())
	must(t, c.Leave())
	must(t, r.Close())
	nilCalls(t, "left", r, p, c)
}

var errSkip = errors.New("skip")
