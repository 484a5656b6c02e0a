// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"
)

// scale divides the message counts of the long tests ($RILL_TEST_SCALE,
// as the C tests; the race detector slows Go code down).
func scale(n uint64) uint64 {
	if s, err := strconv.Atoi(os.Getenv("RILL_TEST_SCALE")); err == nil && s > 1 {
		n /= uint64(s)
	}
	return max(n, 1000)
}

func testRegion(t *testing.T, size uint64) *Region {
	t.Helper()
	r, err := CreateRegion("t", &RegionOpts{Size: size, Dir: testTempDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestRegionCreateOpen(t *testing.T) {
	dir := testTempDir(t)
	o := &RegionOpts{Size: 1 << 20, Dir: dir, Mode: 0o640}
	for _, bad := range []string{"", ".x", "a/b", "a b", "toolong-toolong-toolong-toolong-toolong1"} {
		if _, err := CreateRegion(bad, o); err != ErrInval {
			t.Errorf("name %q: %v", bad, err)
		}
	}
	if _, err := CreateRegion("x", &RegionOpts{Size: 4096, Dir: dir}); err != ErrInval {
		t.Errorf("one page: %v", err)
	}
	if _, err := CreateRegion("x", &RegionOpts{Dir: dir, Mode: 0o10000}); err != ErrInval {
		t.Errorf("mode: %v", err)
	}
	if _, err := CreateRegion("x", &RegionOpts{Dir: dir + "/nope"}); !errors.Is(err, ErrNoDir) {
		t.Errorf("no dir: %v", err)
	}
	if _, err := OpenRegion("x", &RegionOpts{Dir: dir}); !errors.Is(err, ErrNoEnt) {
		t.Errorf("open missing: %v", err)
	}
	r, err := CreateRegion("x", o)
	must(t, err)
	defer r.Close()
	if _, err := CreateRegion("x", o); err != ErrExist {
		t.Errorf("twice: %v", err)
	}
	if mode, size := testFileMode(t, dir+"/x"); mode != testModeOf(0o640) || size != 1<<20 {
		t.Errorf("mode %o size %d", mode, size)
	}
	info := r.Info()
	if info.Size != 1<<20 || info.Used != 4096 || info.Objects != 0 || info.CreatorPid != uint32(os.Getpid()) {
		t.Errorf("info %+v", info)
	}
	r2, err := OpenRegion("x", &RegionOpts{Dir: dir})
	must(t, err)
	must(t, r.CreateChannel("c", &ChannelOpts{Depth: 64, MTU: 128}))
	if got := r2.Channels(); len(got) != 1 || got[0] != "c" {
		t.Errorf("channels seen by the second handle: %v", got)
	}
	r2.Close()
	if names, _ := os.ReadDir(dir); len(names) != 1 {
		t.Errorf("temporary files left: %v", names)
	}
}

func TestChannelOptions(t *testing.T) {
	r := testRegion(t, 1<<20)
	bad := []ChannelOpts{{Depth: 3}, {Depth: 1}, {Depth: 1 << 25}, {MTU: 70000},
		{MaxConsumers: 257}, {Depth: 8, MTU: 64, MaxMsg: 64*4 + 1}, {MTU: 64, MaxMsg: 63}}
	for _, o := range bad {
		if ChannelFootprint(&o) != 0 {
			t.Errorf("footprint of %+v", o)
		}
		if err := r.CreateChannel("c", &o); err != ErrInval {
			t.Errorf("%+v: %v", o, err)
		}
	}
	// The formula of PROTOCOL.md §2: depth 4096, mtu 1024, 8 consumers.
	want := uint64(12288 + 8*4096 + 4096*32 + alignUp(4098*16*64, 4096))
	if got := ChannelFootprint(nil); got != want {
		t.Errorf("default footprint %d, want %d", got, want)
	}
	if err := r.CreateChannel("big", nil); err != ErrNoSpace {
		t.Errorf("too big for the region: %v", err)
	}
	must(t, r.CreateChannel("c", &ChannelOpts{Depth: 8, MTU: 64}))
	if err := r.CreateChannel("c", &ChannelOpts{Depth: 8, MTU: 64}); err != ErrExist {
		t.Errorf("twice: %v", err)
	}
	if _, err := r.JoinProducer("nope"); !errors.Is(err, ErrNoEnt) {
		t.Errorf("join missing: %v", err)
	}
	if _, err := r.JoinConsumer("c", 3); err != ErrInval {
		t.Errorf("bad mode: %v", err)
	}
}

// writeRegion makes a valid region with one channel and returns its bytes.
func validRegionBytes(t testing.TB) []byte {
	dir := testTempDir(t)
	r, err := CreateRegion("v", &RegionOpts{Size: 256 << 10, Dir: dir})
	must(t, err)
	must(t, r.CreateChannel("c", &ChannelOpts{Depth: 16, MTU: 64, MaxConsumers: 2}))
	r.Close()
	b, err := os.ReadFile(dir + "/v")
	must(t, err)
	return b
}

// openBytes writes b as a region file and tries to open it and join its
// channel; it must fail cleanly, never panic.
func openBytes(t *testing.T, b []byte) (openErr, joinErr error) {
	dir := testTempDir(t)
	must(t, os.WriteFile(dir+"/h", b, 0o600))
	r, err := OpenRegion("h", &RegionOpts{Dir: dir})
	if err != nil {
		return err, nil
	}
	defer r.Close()
	c, err := r.JoinConsumer("c", Lossy)
	if err == nil {
		var v View
		for i := 0; i < 64; i++ {
			c.Poll(&v)
		}
		c.Leave()
	}
	return nil, err
}

func TestHostileRegions(t *testing.T) {
	good := validRegionBytes(t)
	put32 := func(b []byte, off int, v uint32) []byte {
		c := bytes.Clone(b)
		binary.LittleEndian.PutUint32(c[off:], v)
		return c
	}
	put64 := func(b []byte, off int, v uint64) []byte {
		c := bytes.Clone(b)
		binary.LittleEndian.PutUint64(c[off:], v)
		return c
	}
	chOff := int(binary.LittleEndian.Uint64(good[tableOff+48:]))
	cases := []struct {
		name       string
		b          []byte
		open, join error
	}{
		{"empty", nil, ErrEmpty, nil},
		{"short", []byte{1, 2, 3}, ErrMagic, nil},
		{"magic", put64(good, 0, 42), ErrMagic, nil},
		{"truncated", good[:8192], ErrTrunc, nil},
		{"version", put32(good, 8, 1), ErrVersion, nil},
		{"hdr_size", put32(good, 12, 8192), ErrCorrupt, nil},
		{"obj_cnt", put32(good, 44, 63), ErrCorrupt, nil},
		{"alloc_off", put64(good, 48, 4097), ErrCorrupt, nil},
		{"entry off", put64(good, tableOff+48, 0), ErrCorrupt, nil},
		{"entry type", put32(good, tableOff+40, 2), ErrCorrupt, nil},
		{"channel magic", put64(good, chOff, 1), nil, ErrMagic},
		{"channel version", put32(good, chOff+8, 9), nil, ErrVersion},
		{"channel depth", put32(good, chOff+24, 12), nil, ErrCorrupt},
		{"channel mtu", put32(good, chOff+28, 65), nil, ErrCorrupt},
		{"channel meta_off", put64(good, chOff+88, 0), nil, ErrCorrupt},
		{"good", good, nil, nil},
	}
	for _, c := range cases {
		o, j := openBytes(t, c.b)
		if o != c.open || j != c.join {
			t.Errorf("%s: open %v join %v, want %v %v", c.name, o, j, c.open, c.join)
		}
	}
}

// FuzzRegion: whatever the bytes of a region file, opening it, joining its
// channel, polling, sending and receiving return errors and never crash.
// The seeds here and in testdata/fuzz/FuzzRegion (hostile fields of the
// region, the channel header, the producer page, a cursor and the
// descriptors) run in every go test; go test -run XXX -fuzz FuzzRegion
// -fuzztime 60s explores for a minute.
func FuzzRegion(f *testing.F) {
	good := validRegionBytes(f) // f.TempDir: removed when the fuzz target ends
	f.Add(uint16(0), uint64(0))
	f.Add(uint16(44), uint64(1))
	f.Add(uint16(tableOff+56), uint64(1<<40))
	f.Fuzz(func(t *testing.T, at uint16, val uint64) {
		b := bytes.Clone(good)
		off := int(at) % (len(b) - 8)
		binary.LittleEndian.PutUint64(b[off:], val)
		openBytes(t, b)
		useBytes(t, b)
	})
}

// useBytes writes b as a region file and, if it opens, runs its channel:
// a producer sends (a fragmented message too), a reliable and a lossy
// consumer receive.  Whatever fails must fail with an error, never a
// panic, and no call may loop.
func useBytes(t *testing.T, b []byte) {
	dir := testTempDir(t)
	must(t, os.WriteFile(dir+"/h", b, 0o600))
	r, err := OpenRegion("h", &RegionOpts{Dir: dir})
	if err != nil {
		return
	}
	defer r.Close()
	rc, _ := r.JoinConsumer("c", Reliable)
	lc, _ := r.JoinConsumer("c", Lossy)
	p, _ := r.JoinProducer("c")
	msg := make([]byte, 200)
	for i := range 4 {
		p.Send(msg[:i*60], uint64(i))
	}
	buf := make([]byte, 64)
	var m Meta
	var v View
	for range 8 {
		rc.Recv(buf, &m)
		lc.Recv(buf, &m)
		lc.Poll(&v)
	}
	p.Leave()
	rc.Leave()
	lc.Leave()
}

func TestSingleProducerAndFull(t *testing.T) {
	r := testRegion(t, 1<<20)
	must(t, r.CreateChannel("c", &ChannelOpts{Depth: 16, MTU: 64, MaxConsumers: 2}))
	p, err := r.JoinProducer("c")
	must(t, err)
	if _, err := r.JoinProducer("c"); err != ErrBusy {
		t.Errorf("second producer: %v", err)
	}
	a, err := r.JoinConsumer("c", Reliable)
	must(t, err)
	b, err := r.JoinConsumer("c", Lossy)
	must(t, err)
	if _, err := r.JoinConsumer("c", Lossy); err != ErrFull {
		t.Errorf("third consumer: %v", err)
	}
	if _, err := r.RejoinConsumer("c", 0); err != ErrBusy {
		t.Errorf("rejoin of a live slot: %v", err)
	}
	if _, err := r.RejoinConsumer("c", 2); err != ErrInval {
		t.Errorf("rejoin of no slot: %v", err)
	}
	must(t, b.Leave())
	must(t, p.Leave())
	p, err = r.JoinProducer("c")
	must(t, err)
	must(t, p.Leave())
	must(t, a.Leave())
}

// Credits: a reliable consumer that does not read holds the producer back;
// Send is all or nothing.
func TestBackpressure(t *testing.T) {
	r := testRegion(t, 1<<20)
	must(t, r.CreateChannel("c", &ChannelOpts{Depth: 8, MTU: 64}))
	c, err := r.JoinConsumer("c", Reliable)
	must(t, err)
	p, err := r.JoinProducer("c")
	must(t, err)
	for i := 0; i < 6; i++ {
		must(t, p.Send([]byte{byte(i)}, uint64(i)))
	}
	if err := p.Send(make([]byte, 64*3), 9); err != ErrAgain {
		t.Fatalf("three fragments with credit for two: %v", err)
	}
	if p.Seq() != 6 {
		t.Fatalf("a refused send published something: seq %d", p.Seq())
	}
	if err := p.SendWait(make([]byte, 64*3), 9, time.Millisecond); err != ErrTimedOut {
		t.Fatalf("SendWait: %v", err)
	}
	buf := make([]byte, 256)
	var m Meta
	for i := 0; i < 6; i++ {
		if n, err := c.Recv(buf, &m); err != nil || n != 1 || buf[0] != byte(i) {
			t.Fatalf("recv %d: %d %v", i, n, err)
		}
	}
	if _, err := c.Recv(buf, &m); err != ErrAgain {
		t.Fatal(err)
	}
	must(t, p.Send(make([]byte, 64*3), 9))
	if _, err := c.Recv(buf[:100], &m); err != ErrMsgSize || m.Size != 192 {
		t.Fatalf("small buffer: %v %d", err, m.Size)
	}
	if n, err := c.Recv(buf, &m); err != nil || n != 192 || m.Sig != 9 {
		t.Fatalf("kept message: %d %v", n, err)
	}
	st, err := r.Stats("c")
	must(t, err)
	if st.Backpressure < 2 || st.ProducerLiveness != PeerAlive || st.Consumers != 1 ||
		st.Slots[0].Liveness != PeerAlive || st.Slots[0].Mode != Reliable {
		t.Errorf("stats %+v", st)
	}
	p.Leave()
	c.Leave()
}

// One producer goroutine, a reliable and a lossy consumer goroutine, random
// sizes with fragments; every byte checked.
func TestStreamInProcess(t *testing.T) {
	r := testRegion(t, 16<<20)
	must(t, r.CreateChannel("c", &ChannelOpts{Depth: 1024, MTU: 256, MaxMsg: 4096}))
	n := scale(1000000)
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	ready := make(chan struct{}, 2)
	for _, mode := range []Mode{Reliable, Lossy} {
		wg.Add(1)
		go func(mode Mode) {
			defer wg.Done()
			_, _, err := consumeStream(r, "c", n, 7, mode, defaultSpin, false, nil, func() { ready <- struct{}{} })
			errs <- err
		}(mode)
	}
	<-ready
	<-ready
	must(t, produceStream(r, "c", n, 7, defaultSpin))
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
}

// lossyPair runs two lossy consumers of a stream: one slow (lapped now and
// then while it reads, which exercises Check) and one that starts reading
// only after the producer is done (lapped for sure).  produce sends the
// stream.  It returns the late one's accepted and lost counts.
func lossyPair(t *testing.T, r *Region, n, seed uint64, produce func()) (got, lost uint64) {
	t.Helper()
	ready := make(chan struct{}, 2)
	gate := make(chan struct{})
	errs := make(chan error, 2)
	var slowGot, slowLost uint64
	go func() {
		var err error
		slowGot, slowLost, err = consumeStream(r, "c", n, seed, Lossy, defaultSpin, true, nil,
			func() { ready <- struct{}{} })
		errs <- err
	}()
	go func() {
		var err error
		got, lost, err = consumeStream(r, "c", n, seed, Lossy, defaultSpin, false, gate,
			func() { ready <- struct{}{} })
		errs <- err
	}()
	<-ready
	<-ready
	produce()
	close(gate)
	must(t, <-errs)
	must(t, <-errs)
	t.Logf("slow lossy consumer: %d accepted, %d lost; late one: %d accepted, %d lost",
		slowGot, slowLost, got, lost)
	if got == 0 || lost == 0 {
		t.Fatalf("the late lossy consumer was not lapped: %d accepted, %d lost", got, lost)
	}
	return got, lost
}

// Lossy consumers lapped on purpose take no wrong payload.
func TestLossyLapped(t *testing.T) {
	r := testRegion(t, 4<<20)
	must(t, r.CreateChannel("c", &ChannelOpts{Depth: 64, MTU: 256, MaxMsg: 2048}))
	n := scale(300000)
	lossyPair(t, r, n, 3, func() { must(t, produceStream(r, "c", n, 3, defaultSpin)) })
}

// Park and wake within Go: ping-pong with no spin, so every message is a
// futex wake-up.
func TestParkedPingPong(t *testing.T) {
	r := testRegion(t, 4<<20)
	must(t, r.CreateChannel("ping", &ChannelOpts{Depth: 64, MTU: 256}))
	must(t, r.CreateChannel("pong", &ChannelOpts{Depth: 64, MTU: 256}))
	n := scale(20000) / 4
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- echoLoop(r, "ping", "pong", n, 0, func() { close(ready) }) }()
	<-ready
	rtt, err := pingLoop(r, "ping", "pong", n, 0, 64)
	must(t, err)
	must(t, <-done)
	if uint64(len(rtt)) != n {
		t.Fatal(len(rtt))
	}
	st, _ := r.Stats("ping")
	if st.Wakes < 2 { // the first publish runs the wake-up path once anyway
		t.Error("no wake-up ran: nobody parked")
	}
}

func TestClosedAndTimeout(t *testing.T) {
	r := testRegion(t, 1<<20)
	must(t, r.CreateChannel("c", &ChannelOpts{Depth: 8, MTU: 64}))
	c, err := r.JoinConsumer("c", Reliable)
	must(t, err)
	c.SetSpin(0)
	var v View
	t0 := time.Now()
	if err := c.PollWait(&v, 20*time.Millisecond); err != ErrTimedOut || time.Since(t0) < 20*time.Millisecond {
		t.Fatalf("wait without producer: %v after %v", err, time.Since(t0))
	}
	p, err := r.JoinProducer("c")
	must(t, err)
	must(t, p.Send([]byte("last"), 1))
	must(t, p.Leave())
	if err := c.PollWait(&v, time.Second); err != nil || string(v.Data) != "last" {
		t.Fatalf("message before close: %v", err)
	}
	if err := c.PollWait(&v, time.Second); err != ErrClosed {
		t.Fatalf("after close: %v", err)
	}
	c.Leave()
}

// A peer process is killed: its reliable slot is evicted and the producer
// goes on; the slot can be rejoined; a region without live users is
// cleaned, one with users is not.
func TestDeadPeers(t *testing.T) {
	r := testRegion(t, 1<<20)
	must(t, r.CreateChannel("c", &ChannelOpts{Depth: 8, MTU: 64}))
	cmd := startHold(t, r, "c")
	p, err := r.JoinProducer("c")
	must(t, err)
	p.SetEvict(50 * time.Millisecond)
	for i := 0; i < 8; i++ {
		must(t, p.Send([]byte{1}, 0))
	}
	if err := p.Send([]byte{1}, 0); err != ErrAgain {
		st, _ := r.Stats("c")
		t.Fatalf("the live reliable consumer must hold the producer: %v %+v", err, st.Slots[0])
	}
	cmd.Process.Kill()
	cmd.Wait()
	st, _ := r.Stats("c")
	if st.Slots[0].Liveness != PeerDead {
		t.Fatalf("killed consumer: %v", st.Slots[0].Liveness)
	}
	if err := p.SendWait([]byte{2}, 0, 5*time.Second); err != nil {
		t.Fatalf("no eviction: %v", err)
	}
	p.Flush()
	st, _ = r.Stats("c")
	if st.Evictions != 1 || !st.Slots[0].Evicted {
		t.Fatalf("evictions %d evicted %v", st.Evictions, st.Slots[0].Evicted)
	}
	c, err := r.RejoinConsumer("c", 0)
	must(t, err)
	var v View
	// Evicted, it resumes at the producer's flushed seq (9), not at its
	// cursor (0) nor at the older message its slot still holds (8): the
	// producer's credits, computed while it was evicted, could lap it there
	// while it reads (PROTOCOL.md §3.2; model/join.pml, FINDING 3).  It
	// reports the 9 it passed over as lost when it rejoins, like an
	// overrun, not at its first poll.
	if c.Seq() != p.Seq() || c.Seq() != 9 {
		t.Fatalf("rejoined evicted slot at %d, producer at %d", c.Seq(), p.Seq())
	}
	if err := c.Poll(&v); err != ErrAgain {
		t.Fatalf("after the rejoin: %v", err)
	}
	if st, _ := r.Stats("c"); st.Slots[0].Lost != 9 || st.Slots[0].OverrunPoll != 1 || st.Slots[0].Evicted {
		t.Fatalf("rejoined slot: lost %d overrun_poll %d evicted %v", st.Slots[0].Lost,
			st.Slots[0].OverrunPoll, st.Slots[0].Evicted)
	}
	c.Leave()
	p.Leave()
	if used, err := RegionInUse("t", r.Dir()); !used || err != nil {
		t.Fatalf("in use while open: %v %v", used, err)
	}
	r.Close()
	if used, err := RegionInUse("t", r.Dir()); used || err != nil {
		t.Fatalf("in use after close: %v %v", used, err)
	}
	var names []string
	n, err := CleanRegions(r.Dir(), false, func(name string, removed bool, err error) {
		if removed {
			names = append(names, name)
		}
	})
	if n != 1 || err != nil || len(names) != 1 || names[0] != "t" {
		t.Fatalf("clean: %d %v %v", n, err, names)
	}
	if _, err := OpenRegion("t", &RegionOpts{Dir: r.Dir()}); !errors.Is(err, ErrNoEnt) {
		t.Fatalf("cleaned region opens: %v", err)
	}
}

// startHold runs a Go peer holding a reliable consumer on channel ch (it
// reads nothing); kill it to make a dead consumer.
func startHold(t *testing.T, r *Region, ch string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "hold", r.Dir(), r.Name(), ch)
	cmd.Env = append(os.Environ(), "RILL_GO_PEER=1")
	out, err := cmd.StdoutPipe()
	must(t, err)
	in, err := cmd.StdinPipe() // held open: the peer waits on it
	must(t, err)
	t.Cleanup(func() { in.Close() })
	must(t, cmd.Start())
	line := make([]byte, 6)
	if _, err := out.Read(line); err != nil || string(line) != "ready\n" {
		t.Fatalf("peer: %q %v", line, err)
	}
	return cmd
}

// A dead consumer that leaves some credit, but less than a fragmented send
// needs, is evicted too.
func TestEvictFragmented(t *testing.T) {
	r := testRegion(t, 1<<20)
	must(t, r.CreateChannel("c", &ChannelOpts{Depth: 8, MTU: 64, MaxMsg: 256}))
	hold := startHold(t, r, "c")
	hold.Process.Kill()
	hold.Wait()
	p, err := r.JoinProducer("c")
	must(t, err)
	p.SetEvict(20 * time.Millisecond)
	for i := 0; i < 6; i++ {
		must(t, p.Send([]byte{1}, 0))
	}
	if err := p.SendWait(make([]byte, 256), 1, 5*time.Second); err != nil {
		t.Fatalf("four fragments with two credits and a dead consumer: %v", err)
	}
	p.Flush()
	if st, _ := r.Stats("c"); st.Evictions != 1 {
		t.Fatalf("evictions %d", st.Evictions)
	}
	p.Leave()
}

// WaitReady parks goroutines in the netpoller: many consumers wait at once,
// each is woken by the producer's publish, and all see the close.
func TestWaitReady(t *testing.T) {
	r := testRegion(t, 4<<20)
	must(t, r.CreateChannel("c", &ChannelOpts{Depth: 64, MTU: 64, MaxConsumers: 8}))
	p, err := r.JoinProducer("c")
	must(t, err)
	const waiters, msgs = 8, 200
	errs := make(chan error, waiters)
	joined := make(chan struct{}, waiters)
	for w := 0; w < waiters; w++ {
		go func() {
			c, err := r.JoinConsumer("c", Reliable)
			if err != nil {
				errs <- err
				return
			}
			// Left before the result is sent: the test joins one more
			// consumer once it has every result, and needs a free slot.
			defer func() { c.Leave(); errs <- err }()
			joined <- struct{}{}
			var v View
			next := uint64(0)
			for {
				if err = c.WaitReady(5 * time.Second); err != nil {
					if err == ErrClosed && next == msgs {
						err = nil
					}
					return
				}
				for c.Poll(&v) == nil {
					if v.Sig != next {
						err = errors.New("out of order")
						return
					}
					next++
				}
			}
		}()
	}
	for w := 0; w < waiters; w++ {
		<-joined
	}
	for i := uint64(0); i < msgs; i++ {
		must(t, p.SendWait([]byte{byte(i)}, i, 5*time.Second))
		if i%16 == 0 {
			time.Sleep(time.Millisecond) // pacing only: waiters park between bursts
		}
	}
	must(t, p.Leave())
	for w := 0; w < waiters; w++ {
		must(t, <-errs)
	}
	c, err := r.JoinConsumer("c", Lossy)
	must(t, err)
	if err := c.WaitReady(20 * time.Millisecond); err != ErrClosed {
		t.Fatalf("after close: %v", err)
	}
	c.Leave()
}

// WaitAny: arguments, a timeout, then the lost wake-up race on three
// channels at once: each message (on a channel chosen at random) wakes the
// wait on the right channel, with no spinning.
func TestWaitAny(t *testing.T) {
	r := testRegion(t, 8<<20)
	const nch = 3
	cs := make([]*Consumer, nch)
	ps := make([]*Producer, nch)
	for k := range cs {
		name := fmt.Sprint("any", k)
		must(t, r.CreateChannel(name, &ChannelOpts{Depth: 256, MTU: 64}))
		var err error
		cs[k], err = r.JoinConsumer(name, Reliable)
		must(t, err)
		cs[k].SetSpin(0)
		ps[k], err = r.JoinProducer(name)
		must(t, err)
	}
	t.Cleanup(func() { // before the directory goes (Windows removes no open file)
		for k := range cs {
			cs[k].Leave()
			ps[k].Leave()
		}
	})
	must(t, r.CreateChannel("ack", &ChannelOpts{Depth: 256, MTU: 64}))
	if _, err := WaitAny(nil, 0); err != ErrInval {
		t.Fatalf("no consumers: %v", err)
	}
	if _, err := WaitAny(cs, 0); err != ErrTimedOut {
		t.Fatalf("look once: %v", err)
	}
	t0 := time.Now()
	if _, err := WaitAny(cs, 20*time.Millisecond); err != ErrTimedOut || time.Since(t0) < 20*time.Millisecond {
		t.Fatalf("timeout: %v after %v", err, time.Since(t0))
	}
	ack, err := r.JoinConsumer("ack", Reliable)
	must(t, err)
	ackp, err := r.JoinProducer("ack")
	must(t, err)
	t.Cleanup(func() { ack.Leave(); ackp.Leave() })
	n := scale(100000) / 5
	pick := func(seed uint64) func() int {
		s := seed
		return func() int { return int(rngNext(&s) % nch) }
	}
	done := make(chan error, 1)
	go func() { // the producers: message i on a random channel, after the ack of i-1
		next := pick(99)
		buf := make([]byte, 8)
		var m Meta
		for i := uint64(0); i < n; i++ {
			if err := ps[next()].Send([]byte{byte(i)}, i); err != nil {
				done <- err
				return
			}
			if _, err := ack.RecvWait(buf, &m, 2*time.Second); err != nil || m.Sig != i {
				done <- fmt.Errorf("ack %d: %v", i, err)
				return
			}
		}
		done <- nil
	}()
	next := pick(99)
	slow := 0 // a lost wake-up costs a whole 50 ms nap
	var v View
	for i := uint64(0); i < n; i++ {
		want := next()
		w0 := time.Now()
		k, err := WaitAny(cs, 2*time.Second)
		if time.Since(w0) >= 40*time.Millisecond {
			slow++
		}
		if err != nil || k != want || slow > 3 {
			t.Fatalf("message %d: WaitAny %d %v, want %d (%d slow waits: lost wake-ups?)", i, k, err, want, slow)
		}
		if err := cs[k].Poll(&v); err != nil || v.Sig != i {
			t.Fatalf("message %d: %v sig %d", i, err, v.Sig)
		}
		must(t, ackp.Send([]byte{1}, i))
	}
	must(t, <-done)
	wakes := uint64(0)
	for k := range cs {
		st, _ := r.Stats(fmt.Sprint("any", k))
		wakes += st.Wakes
	}
	if wakes <= nch {
		t.Errorf("only %d wake-ups: WaitAny never parked", wakes)
	}
}
