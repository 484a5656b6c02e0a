// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

// Waiting for the other side: OpenRegionWait, Region.WaitChannel,
// Producer.WaitConsumers, Client.WaitServer.  Each waiter is shown asleep
// (testHookSleep runs just before it sleeps), woken by an unrelated event
// without returning (the hook runs again), and back within 500 ms of its
// event; without the wake-up it would sleep to the end of a 1 s slice.

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sleeps sets testHookSleep for the test; the channel gets a value each
// time a waiter is about to sleep.
func sleeps(t *testing.T) <-chan struct{} {
	ch := make(chan struct{}, 64)
	testHookSleep = func() { ch <- struct{}{} }
	t.Cleanup(func() { testHookSleep = nil })
	return ch
}

func asleep(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: the waiter never went to sleep", what)
	}
}

// waitResult is what a waiting goroutine returns, and when.
type waitResult struct {
	n   int
	err error
	at  time.Time
}

func promptly(t *testing.T, done <-chan waitResult, event time.Time, what string) waitResult {
	t.Helper()
	select {
	case res := <-done:
		if d := res.at.Sub(event); d > 500*time.Millisecond {
			t.Fatalf("%s: woke %v after the event", what, d)
		}
		return res
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: the wait did not return", what)
	}
	return waitResult{}
}

func notDone(t *testing.T, done <-chan waitResult, what string) {
	t.Helper()
	select {
	case res := <-done:
		t.Fatalf("%s: the wait returned (%d, %v) before its event", what, res.n, res.err)
	default:
	}
}

func TestOpenRegionWait(t *testing.T) {
	dir := testTempDir(t)
	o := &RegionOpts{Dir: dir, Size: 1 << 20}
	if _, err := OpenRegionWait("bad/name", o, time.Second); err != ErrInval {
		t.Errorf("bad name: %v", err)
	}
	if _, err := OpenRegionWait("x", &RegionOpts{Dir: dir + "/none"}, time.Second); !errors.Is(err, ErrNoDir) {
		t.Errorf("no directory: %v", err)
	}
	if _, err := OpenRegionWait("x", o, 0); !errors.Is(err, ErrNoEnt) {
		t.Errorf("timeout 0: %v", err)
	}
	must(t, os.WriteFile(dir+"/notrill", []byte("not a region at all"), 0o600))
	if _, err := OpenRegionWait("notrill", o, 10*time.Second); err != ErrMagic {
		t.Errorf("not a region: %v", err)
	}
	t0 := time.Now()
	if _, err := OpenRegionWait("never", o, 100*time.Millisecond); err != ErrTimedOut || time.Since(t0) < 100*time.Millisecond {
		t.Errorf("never made: %v after %v", err, time.Since(t0))
	}

	slept := sleeps(t)
	done := make(chan waitResult, 1)
	go func() {
		r, err := OpenRegionWait("late", o, 30*time.Second)
		if r != nil {
			r.Close()
		}
		done <- waitResult{err: err, at: time.Now()}
	}()
	asleep(t, slept, "region")
	other, err := CreateRegion("late-not", o) // wakes it; it sleeps again
	must(t, err)
	other.Close()
	asleep(t, slept, "region, after another name")
	notDone(t, done, "region")
	event := time.Now()
	r, err := CreateRegion("late", o)
	must(t, err)
	defer r.Close()
	must(t, promptly(t, done, event, "region").err)
}

// A region the C library makes wakes a Go waiter, and its channel is there.
func TestXlangOpenRegionWait(t *testing.T) {
	dir := testTempDir(t)
	slept := sleeps(t)
	done := make(chan waitResult, 1)
	var r *Region
	go func() {
		var err error
		r, err = OpenRegionWait("x", &RegionOpts{Dir: dir}, 30*time.Second)
		done <- waitResult{err: err, at: time.Now()}
	}()
	asleep(t, slept, "region")
	runCmd(t, xpeer(t), append([]string{"create", dir, "x", "c"},
		append(strings.Fields(xChanArgs), "33554432")...)...)
	must(t, promptly(t, done, time.Now(), "region made by C").err)
	defer r.Close()
	must(t, r.WaitChannel("c", 0))
}

func TestWaitChannel(t *testing.T) {
	r := testRegion(t, 4<<20)
	co := &ChannelOpts{Depth: 64, MTU: 64, MaxConsumers: 2}
	must(t, r.CreateChannel("here", co))
	if err := r.WaitChannel("bad/name", time.Second); err != ErrInval {
		t.Errorf("bad name: %v", err)
	}
	must(t, r.WaitChannel("here", 0))
	must(t, r.WaitChannel("here", Forever))
	if err := r.WaitChannel("late", 0); err != ErrTimedOut {
		t.Errorf("timeout 0: %v", err)
	}
	t0 := time.Now()
	if err := r.WaitChannel("late", 100*time.Millisecond); err != ErrTimedOut || time.Since(t0) < 100*time.Millisecond {
		t.Errorf("never made: %v after %v", err, time.Since(t0))
	}

	// The waiter has its own handle, as another process would.
	r2, err := OpenRegion(r.Name(), &RegionOpts{Dir: r.Dir()})
	must(t, err)
	defer r2.Close()
	slept := sleeps(t)
	done := make(chan waitResult, 1)
	go func() {
		err := r2.WaitChannel("late", 30*time.Second)
		if err == nil {
			var c *Consumer
			if c, err = r2.JoinConsumer("late", Reliable); err == nil {
				c.Leave()
			}
		}
		done <- waitResult{err: err, at: time.Now()}
	}()
	asleep(t, slept, "channel")
	must(t, r.CreateChannel("late-not", co)) // wakes it; it sleeps again
	asleep(t, slept, "channel, after another channel")
	notDone(t, done, "channel")
	event := time.Now()
	must(t, r.CreateChannel("late", co))
	must(t, promptly(t, done, event, "channel").err)

	// A full table without it: it can never appear.
	for i := 3; i < maxObjects; i++ {
		must(t, r.CreateChannel("fill"+strconv.Itoa(i), co))
	}
	if err := r.WaitChannel("one-more", 10*time.Second); !errors.Is(err, ErrNoEnt) {
		t.Errorf("full table: %v", err)
	}
}

func TestWaitConsumers(t *testing.T) {
	r := testRegion(t, 4<<20)
	must(t, r.CreateChannel("ch", &ChannelOpts{Depth: 64, MTU: 64, MaxConsumers: 4}))
	p, err := r.JoinProducer("ch")
	must(t, err)
	defer p.Leave()
	if _, err := p.WaitConsumers(5, 0); err != ErrInval {
		t.Errorf("5 of 4 slots: %v", err)
	}
	if n, err := p.WaitConsumers(0, 0); n != 0 || err != nil {
		t.Errorf("none wanted: %d %v", n, err)
	}
	if _, err := p.WaitConsumers(1, 0); err != ErrTimedOut {
		t.Errorf("timeout 0: %v", err)
	}
	// A consumer that died leaves its slot active: it does not count.
	hold := startHold(t, r, "ch")
	hold.Process.Kill()
	hold.Wait()
	if st, _ := r.Stats("ch"); st.Consumers != 1 {
		t.Fatalf("the dead consumer's slot: %+v", st)
	}
	t0 := time.Now()
	if _, err := p.WaitConsumers(1, 100*time.Millisecond); err != ErrTimedOut || time.Since(t0) < 100*time.Millisecond {
		t.Errorf("a dead consumer counted: %v after %v", err, time.Since(t0))
	}

	slept := sleeps(t)
	done := make(chan waitResult, 1)
	go func() {
		n, err := p.WaitConsumers(2, 30*time.Second)
		done <- waitResult{n, err, time.Now()}
	}()
	asleep(t, slept, "consumers")
	a, err := r.JoinConsumer("ch", Reliable)
	must(t, err)
	defer a.Leave()
	asleep(t, slept, "consumers, after the first join") // woke, counted one, sleeps again
	notDone(t, done, "consumers")
	event := time.Now()
	b, err := r.JoinConsumer("ch", Lossy)
	must(t, err)
	defer b.Leave()
	res := promptly(t, done, event, "consumers")
	if res.err != nil || res.n != 2 {
		t.Fatalf("consumers: %d %v", res.n, res.err)
	}
}

// A C consumer's join wakes a Go producer waiting for it.
func TestXlangWaitConsumers(t *testing.T) {
	xpeer(t) // skips before anything joins
	r := testRegion(t, 32<<20)
	must(t, r.CreateChannel("c", &ChannelOpts{Depth: 1024, MTU: 256, MaxMsg: 4096}))
	p, err := r.JoinProducer("c")
	must(t, err)
	slept := sleeps(t)
	done := make(chan waitResult, 1)
	go func() {
		n, err := p.WaitConsumers(1, 30*time.Second)
		done <- waitResult{n, err, time.Now()}
	}()
	asleep(t, slept, "consumers")
	c := startC(t, "consume", r.Dir(), "t", "c", "0", "13", "reliable") // joins, then waits for the close
	c.ready(t)
	res := promptly(t, done, time.Now(), "consumer joined from C")
	if res.err != nil || res.n != 1 {
		t.Fatalf("consumers: %d %v", res.n, res.err)
	}
	p.Leave()
	c.wait(t)
}
