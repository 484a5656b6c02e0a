// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

// Fencing on request (PROTOCOL.md §3.7a): a LAZY producer publishes without
// a fence until a consumer about to sleep sets fence_req; then it sets
// FENCING and fences after every publish.  LAZY is the default on Windows;
// on Linux RILL_LAZY_FENCE=1 asks for it, read at each producer join.

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// lazyEnv makes the producers that join from now on (in this test) LAZY.
func lazyEnv(t *testing.T) {
	t.Helper()
	t.Setenv("RILL_LAZY_FENCE", "1")
}

func prodFlags(p *Producer) uint32 { return atomic.LoadUint32(&p.prod.flags) }

// waitUntil spins (yielding) until cond holds, at most 5 s: the
// synchronisation on a word another goroutine stores.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 5 s", what)
		}
		runtime.Gosched()
	}
}

// goTest runs f in a goroutine whose end the test's cleanup waits for,
// before the endpoints' own cleanups (registered earlier) run: a test that
// fails while f still uses an endpoint must not unmap it under f.
func goTest(t *testing.T, f func()) {
	done := make(chan struct{})
	t.Cleanup(func() { <-done })
	go func() {
		defer close(done)
		f()
	}()
}

// lazyChannel is a region of size bytes with channel "c" (depth
// descriptors of 64 bytes), a reliable consumer of it, and a LAZY producer
// joined after the consumer.
func lazyChannel(t *testing.T, size uint64, depth uint32) (*Region, *Consumer, *Producer) {
	t.Helper()
	lazyEnv(t)
	r := testRegion(t, size)
	must(t, r.CreateChannel("c", &ChannelOpts{Depth: depth, MTU: 64}))
	c, err := r.JoinConsumer("c", Reliable)
	must(t, err)
	t.Cleanup(func() { c.Leave() })
	p, err := r.JoinProducer("c")
	must(t, err)
	return r, c, p
}

// A consumer that parks first on a LAZY producer asks it to fence; the
// producer's next publish sets FENCING and wakes it at once; a producer
// that joins later fences from its join.
func TestLazyParkFirst(t *testing.T) {
	r, c, p := lazyChannel(t, 1<<20, 8)
	c.SetSpin(0)
	var err error
	if f := prodFlags(p); f != prodFLazy {
		t.Fatalf("flags at join %#x, want LAZY only", f)
	}
	if atomic.LoadUint32(&c.wait.fenceReq) != 0 {
		t.Fatal("fence_req set before anyone slept")
	}
	type result struct {
		n   int
		m   Meta
		err error
		at  time.Time
	}
	got := make(chan result, 1)
	goTest(t, func() {
		var res result
		res.n, res.err = c.RecvWait(make([]byte, 64), &res.m, 5*time.Second)
		res.at = time.Now()
		got <- res
	})
	// The consumer found nothing and is about to sleep: it asked.
	waitUntil(t, "fence_req", func() bool { return atomic.LoadUint32(&c.wait.fenceReq) == 1 })
	if f := prodFlags(p); f&prodFFencing != 0 {
		t.Fatalf("FENCING %#x before a publish", f)
	}
	t0 := time.Now()
	must(t, p.Send([]byte("hello"), 42))
	if f := prodFlags(p); f != prodFLazy|prodFFencing {
		t.Fatalf("flags after the publish %#x, want LAZY|FENCING", f)
	}
	res := <-got
	if res.err != nil || res.n != 5 || res.m.Sig != 42 {
		t.Fatalf("receive: %d %v sig %d", res.n, res.err, res.m.Sig)
	}
	if d := res.at.Sub(t0); d > 100*time.Millisecond {
		t.Fatalf("received %v after the publish", d)
	}
	must(t, p.Leave())
	// fence_req is never cleared: the next producer fences from its join.
	p, err = r.JoinProducer("c")
	must(t, err)
	if f := prodFlags(p); f != prodFLazy|prodFFencing {
		t.Fatalf("flags at a join after a request %#x, want LAZY|FENCING", f)
	}
	must(t, p.Leave())
}

// Ping-pong where each side parks (no spin), on fresh LAZY producers: the
// first rounds of each pair race the consumers' requests with the
// publishes, the rest run fenced.  A lost wake-up costs a whole 50 ms park
// slice, so only waits of 45 ms or more count as slow; a loaded machine
// (2 cores, or Wine) delays a few waits that far without losing anything,
// so up to 1% of the waits (at least 3) may be slow.
func TestLazyPingPong(t *testing.T) {
	lazyEnv(t)
	const pairsPerRegion = maxObjects / 2
	const slowWait = 45 * time.Millisecond
	epochs, rounds := 60, 40
	if testing.Short() {
		epochs = 10
	}
	maxSlow := max(3, 2*epochs*rounds/100) // two waits per round
	slow, fenced := 0, 0
	var r *Region
	for e := 0; e < epochs; e++ {
		if e%pairsPerRegion == 0 {
			r = testRegion(t, 4<<20)
		}
		ab, ba := fmt.Sprint("ab", e), fmt.Sprint("ba", e)
		opts := &ChannelOpts{Depth: 64, MTU: 64, MaxConsumers: 1}
		must(t, r.CreateChannel(ab, opts))
		must(t, r.CreateChannel(ba, opts))
		ready := make(chan struct{})
		done := make(chan error, 1)
		bSlow := 0
		goTest(t, func() { // B: echoes what comes on ab back on ba
			c, err := r.JoinConsumer(ab, Reliable)
			if err != nil {
				done <- err
				return
			}
			defer c.Leave()
			c.SetSpin(0)
			p, err := r.JoinProducer(ba)
			if err != nil {
				done <- err
				return
			}
			defer p.Leave()
			close(ready)
			buf := make([]byte, 64)
			var m Meta
			for i := 0; i < rounds; i++ {
				w0 := time.Now()
				if _, err := c.RecvWait(buf, &m, 5*time.Second); err != nil || m.Sig != uint64(i) {
					done <- fmt.Errorf("B round %d: %v sig %d", i, err, m.Sig)
					return
				}
				if time.Since(w0) >= slowWait {
					bSlow++
				}
				if err := p.Send(buf[:1], m.Sig); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		})
		c, err := r.JoinConsumer(ba, Reliable)
		must(t, err)
		t.Cleanup(func() { c.Leave() }) // on failure (Leave twice is nothing)
		c.SetSpin(0)
		p, err := r.JoinProducer(ab)
		must(t, err)
		t.Cleanup(func() { p.Leave() })
		<-ready
		buf := make([]byte, 64)
		var m Meta
		for i := 0; i < rounds; i++ {
			must(t, p.Send(buf[:1], uint64(i)))
			w0 := time.Now()
			if _, err := c.RecvWait(buf, &m, 5*time.Second); err != nil || m.Sig != uint64(i) {
				t.Fatalf("epoch %d, A round %d: %v sig %d", e, i, err, m.Sig)
			}
			if time.Since(w0) >= slowWait {
				slow++
			}
		}
		must(t, <-done)
		slow += bSlow
		if prodFlags(p)&prodFFencing != 0 {
			fenced++
		}
		if slow > maxSlow {
			t.Fatalf("epoch %d: %d waits of %v or more (at most %d of %d): lost wake-ups?",
				e, slow, slowWait, maxSlow, 2*epochs*rounds)
		}
		must(t, p.Leave())
		c.Leave()
	}
	t.Logf("%d epochs of %d rounds: %d waits of %v or more; %d producers asked to fence",
		epochs, rounds, slow, slowWait, fenced)
	if fenced == 0 {
		t.Error("no consumer ever asked its producer to fence: nobody parked?")
	}
}

// Consumers that never sleep (Poll, and waits with a timeout of 0) never
// ask: the producer publishes without fencing to the end.
func TestLazyBusyPoll(t *testing.T) {
	_, c, p := lazyChannel(t, 4<<20, 64)
	n := scale(100000) / 10
	done := make(chan error, 1)
	goTest(t, func() {
		var v View
		buf := make([]byte, 64)
		var m Meta
		for i := uint64(0); i < n; {
			var err error
			if i%2 == 0 {
				err = c.Poll(&v)
				if err == nil && v.Sig != i {
					err = fmt.Errorf("message %d: sig %d", i, v.Sig)
				}
			} else {
				_, err = c.RecvWait(buf, &m, 0) // a timeout of 0 looks once
				if err == nil && m.Sig != i {
					err = fmt.Errorf("message %d: sig %d", i, m.Sig)
				}
			}
			switch err {
			case nil:
				i++
			case ErrAgain, ErrTimedOut:
				runtime.Gosched()
			default:
				done <- err
				return
			}
		}
		done <- nil
	})
	for i := uint64(0); i < n; i++ {
		must(t, p.SendWait([]byte{byte(i)}, i, 5*time.Second))
	}
	must(t, <-done)
	if f := prodFlags(p); f != prodFLazy {
		t.Errorf("flags after %d messages to a busy-polling consumer %#x, want LAZY only", n, f)
	}
	if atomic.LoadUint32(&c.wait.fenceReq) != 0 {
		t.Error("a busy-polling consumer set fence_req")
	}
	must(t, p.Leave())
}

// Arming on a LAZY producer that does not fence yet asks it, naps and says
// "ready"; WaitReady keeps waiting until there is something.  Once the
// producer fences, arming arms.
func TestLazyArm(t *testing.T) {
	_, c, p := lazyChannel(t, 1<<20, 8)
	if err := c.WaitReady(5 * time.Millisecond); err != ErrTimedOut {
		t.Fatalf("WaitReady on an empty channel: %v", err)
	}
	if atomic.LoadUint32(&c.wait.fenceReq) != 1 {
		t.Fatal("arming did not set fence_req")
	}
	t0 := time.Now()
	if ready, err := c.Arm(); !ready || err != nil {
		t.Fatalf("Arm on a producer that does not fence yet: %v %v, want ready", ready, err)
	}
	if d := time.Since(t0); d > 100*time.Millisecond {
		t.Fatalf("Arm napped %v", d)
	}
	must(t, p.Send([]byte("a"), 1))
	if prodFlags(p)&prodFFencing == 0 {
		t.Fatal("no FENCING after a publish")
	}
	if ready, err := c.Arm(); !ready || err != nil {
		t.Fatalf("Arm with a message: %v %v", ready, err)
	}
	var v View
	must(t, c.Poll(&v))
	if ready, err := c.Arm(); ready || err != nil {
		t.Fatalf("Arm on an empty channel, producer fencing: %v %v, want armed", ready, err)
	}
	got := make(chan error, 1)
	var at time.Time
	goTest(t, func() {
		err := c.WaitReady(5 * time.Second)
		at = time.Now()
		got <- err
	})
	t0 = time.Now()
	must(t, p.Send([]byte("b"), 2))
	must(t, <-got)
	if d := at.Sub(t0); d > 100*time.Millisecond {
		t.Fatalf("WaitReady returned %v after the publish", d)
	}
	must(t, c.Poll(&v))
	must(t, p.Leave())
	if err := c.WaitReady(time.Second); err != ErrClosed {
		t.Fatalf("WaitReady after leave: %v", err)
	}
}
