// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

// Sleeping waits on the consumer side, and the consumer's fd (PROTOCOL.md
// §3.7, §3.8).  They interoperate with the C library: a Go consumer parked
// on the futex is woken by a C producer and the reverse.

import (
	"sync/atomic"
	"time"
)

// Liveness is whether an endpoint's process is alive, as told by the lock
// it holds while it lives.
type Liveness uint32

// The liveness of an endpoint.
const (
	PeerNone    Liveness = 0 // nobody in that place (never joined, or left)
	PeerAlive   Liveness = 1 // its process holds the endpoint's lock
	PeerDead    Liveness = 2 // joined, never left, and its lock is gone
	PeerUnknown Liveness = 3 // the lock could not be queried
)

// String is "none", "alive", "dead" or "unknown".
func (l Liveness) String() string {
	switch l {
	case PeerNone:
		return "none"
	case PeerAlive:
		return "alive"
	case PeerDead:
		return "dead"
	}
	return "unknown"
}

func liveness(fd int, off uint64, joined bool) Liveness {
	if !joined {
		return PeerNone
	}
	switch lockHeld(fd, off) {
	case 1:
		return PeerAlive
	case 0:
		return PeerDead
	}
	return PeerUnknown
}

// producerGone is nil while the producer may still publish, ErrClosed if it
// left, ErrDead if it died (asked of the kernel only with checkLock).
func (c *Consumer) producerGone(checkLock bool) error {
	// Acquire: pairs with the release store of LEFT when the producer
	// leaves: a poll after this sees everything published before it.
	st := atomic.LoadUint32(&c.prod.state)
	if st == prodLeft {
		return ErrClosed
	}
	if st == prodJoined && checkLock && lockHeld(c.fd, c.prodLockOff) == 0 {
		// A producer that left cleanly stored LEFT before it dropped its
		// lock: look again, so that it is not taken for dead.
		switch atomic.LoadUint32(&c.prod.state) {
		case prodLeft:
			return ErrClosed
		case prodJoined:
			return ErrDead
		}
	}
	return nil
}

// Producer tells whether the channel's producer is alive.
func (c *Consumer) Producer() Liveness {
	if c == nil || c.meta == nil {
		return PeerUnknown
	}
	st := atomic.LoadUint32(&c.prod.state)
	return liveness(c.fd, c.prodLockOff, st == prodJoined)
}

// lazyUnfenced is true if flags (loaded with acquire) are those of a LAZY
// producer that does not fence yet (PROTOCOL.md §3.7a): a consumer about to
// sleep cannot rely on a wake-up from it, so it asks it to fence (sets
// fence_req) and sleeps at most 1 ms at a time until it sees FENCING.  It
// is called before the consumer's bump of arm_gen: the producer looks at
// fence_req only in its wake-up path, which it runs once it sees arm_gen
// move.
func (c *Consumer) lazyUnfenced(flags uint32) bool {
	if flags&(prodFLazy|prodFFencing) != prodFLazy {
		return false
	}
	// Sequentially consistent RMW, only if not set already (it is never
	// cleared: the line stays shared in the producer's cache after this).
	// It comes before our seq_cst bump of arm_gen, so the producer's
	// acquire load of arm_gen that sees the bump (or a later one) sees it
	// too, in its wake-up path; and the acquire load at its join.
	if atomic.LoadUint32(&c.wait.fenceReq) != 1 {
		atomic.SwapUint32(&c.wait.fenceReq, 1)
	}
	return true
}

// spinTry calls try until it returns something other than ErrAgain, or
// the spin budget (at most timeout) from now has passed: ErrAgain then.
func spinTry(now uint64, spin, timeout time.Duration, try func() error) error {
	if spin <= 0 {
		return ErrAgain
	}
	end := addSat(now, uint64(min(spin, timeout)))
	for i := 1; ; i++ {
		// A pause between looks, as C's spins: a producer out of credit
		// that looks without one reads the consumer's cursor line as
		// fast as it can, and the consumer it waits for writes that line.
		spinPause()
		if err := try(); err != ErrAgain {
			return err
		}
		if i&63 == 0 && monoNs() >= end {
			return ErrAgain
		}
	}
}

func (c *Consumer) waitFor(timeout time.Duration, try func() error) error {
	if c == nil || c.meta == nil {
		return ErrInval
	}
	err := try()
	if err != ErrAgain || timeout <= 0 {
		return err
	}
	now := monoNs()
	deadline := addSat(now, uint64(timeout))
	if err = spinTry(now, c.spin, timeout, try); err != ErrAgain {
		return err
	}
	// The producer's lock is asked about only after a nap ran out: parking
	// itself costs no such syscall.
	checkLock := false
	nextLive := addSat(now, uint64(liveSlice))
	for {
		// Acquire: pairs with the release bumps of wake in the producer's
		// wake-up path and join.  Read before the producer's state and
		// flags: a producer that leaves stores LEFT and then bumps wake
		// (forced, §3.6), so either producerGone sees LEFT or the park
		// finds wake moved.  Read after the state check, a leave in
		// between would go unnoticed until the slice ran out (found by
		// model/park.pml, bug_state_before_wake).
		w := atomic.LoadUint32(&c.prod.wake)
		gone := c.producerGone(checkLock)
		checkLock = false
		if gone != nil {
			if err = try(); err != ErrAgain {
				return err
			}
			return gone
		}
		now = monoNs()
		if now >= deadline {
			return ErrTimedOut
		}
		slice := min(deadline-now, uint64(liveSlice))
		// Acquire: pairs with the producer's RMW that sets FENCING (§3.7a):
		// seeing it, we see every descriptor published before it.
		flags := atomic.LoadUint32(&c.prod.flags)
		atomic.StoreUint32(&c.cur.park, 1)
		// A LAZY producer that does not fence yet is asked to (fence_req
		// set before the bump, §3.7a); no wake-up to rely on: nap.
		lazy := c.lazyUnfenced(flags)
		// Sequentially consistent: the producer's acquire load of arm_gen
		// sees park (and fence_req) with the bump.  Then, for a producer
		// that relies on it, the heavy barrier: its last seq store is
		// visible to the poll below, or its next load of arm_gen sees our
		// bump and it wakes us.  (Without ASYM the bump is our full
		// barrier: Go's atomics are seq_cst.)
		atomic.AddUint32(&c.wait.armGen, 1)
		if lazy {
			slice = min(slice, millisecond)
		} else if flags&prodFAsym != 0 && heavyBarrier() != nil {
			slice = min(slice, millisecond) // cannot be sure: nap briefly
		}
		if err = try(); err != ErrAgain {
			atomic.StoreUint32(&c.cur.park, 0)
			return err
		}
		perr := park(&c.prod.wake, w, time.Duration(slice))
		atomic.StoreUint32(&c.cur.park, 0)
		if perr != nil && perr != ErrTimedOut {
			return perr
		}
		if err = try(); err != ErrAgain {
			return err
		}
		if now = monoNs(); now >= nextLive { // a dead producer wakes nobody: ask
			checkLock = true
			nextLive = addSat(now, uint64(liveSlice))
			c.flushCursor(true) // heartbeat while we wait
		}
	}
}

// PollWait is Poll that waits up to timeout: it spins for the spin budget,
// then parks on a futex in shared memory (the producer makes the wake-up
// syscall only when a consumer has parked).  Besides what Poll returns:
// ErrTimedOut; ErrClosed when the producer left and everything was read;
// ErrDead when the producer died and everything it published was read
// (noticed within 50 ms).  A timeout of 0 polls once.
func (c *Consumer) PollWait(v *View, timeout time.Duration) error {
	return c.waitFor(timeout, func() error { return c.Poll(v) })
}

// RecvWait is Recv that waits up to timeout, as PollWait.
func (c *Consumer) RecvWait(buf []byte, m *Meta, timeout time.Duration) (int, error) {
	var n int
	err := c.waitFor(timeout, func() (e error) { n, e = c.Recv(buf, m); return })
	return n, err
}

// ready is true if the next poll has something to say: a descriptor at or
// past our sequence number, or a kept message.
func (c *Consumer) ready() bool {
	if c.pend {
		return true
	}
	// Acquire: pairs with the release store of seq in publishDesc.
	s := atomic.LoadUint64(&c.desc(c.seq).seq)
	return int64(s-c.seq) >= 0
}

// Arm drains the fd and asks the producer to signal it at its next publish.
// It returns false when armed (wait for the fd), true if something can be
// read now (do not wait), or ErrClosed / ErrDead (nothing left to read and
// the producer left or died); ErrInval if Fd (Handle on Windows) was not
// called.  The
// producer's death does not make the fd readable: arm at least every so
// often to notice it.
//
// On a producer that publishes without a fence until a consumer asks
// (LAZY, the default on Windows: PROTOCOL.md §3.7a) and has not been asked
// yet, Arm asks it, sleeps at most 1 ms and returns true: the fd would not
// be signalled for sure.  Poll, and arm again.
func (c *Consumer) Arm() (bool, error) {
	ready, _, err := c.arm()
	return ready, err
}

// arm is Arm; lazy is true when it returned ready without looking because
// the producer does not fence yet (§3.7a).
func (c *Consumer) arm() (ready, lazy bool, err error) {
	if c == nil || c.meta == nil || c.fifoFd < 0 {
		return false, false, ErrInval
	}
	fifoDrain(c.fifoFd)
	if c.seq != c.seqFlushed {
		c.flushCursor(false) // credit for the producer
	}
	if c.ready() {
		return true, false, nil
	}
	// Acquire: pairs with the release bumps of wake (read before flags).
	w := atomic.LoadUint32(&c.prod.wake)
	// Acquire: pairs with the producer's RMW that sets FENCING (§3.7a).
	flags := atomic.LoadUint32(&c.prod.flags)
	// A LAZY producer that does not fence yet is asked to (§3.7a): fence_req
	// is set before the bump of arm_gen below, so the producer that sees
	// the bump sees the request, sets FENCING and runs its wake-up path
	// forced, which signals our fd and bumps wake.
	unfenced := c.lazyUnfenced(flags)
	k := c.cur
	atomic.StoreUint32(&k.fdGen, atomic.LoadUint32(&k.fdGen)+1)
	// As in waitFor: the producer's acquire load of arm_gen sees fd_gen
	// (and fence_req) with this seq_cst bump, and after the heavy barrier
	// either we see its publish or it sees our bump.
	atomic.AddUint32(&c.wait.armGen, 1)
	if unfenced {
		// The fd might not be signalled (the producer's publish runs no
		// fence and may miss our bump): sleep at most 1 ms on wake, which
		// the producer's forced wake-up path bumps when it starts fencing,
		// then say "ready" (unless the producer is gone and all is read).
		park(&c.prod.wake, w, time.Millisecond)
		if r, e := c.readyOrGone(); r || e != nil {
			return r, false, e
		}
		return true, true, nil
	}
	if flags&prodFAsym != 0 {
		if err := heavyBarrier(); err != nil {
			return false, false, err
		}
	}
	r, e := c.readyOrGone()
	return r, false, e
}

// readyOrGone is what an arm reports after its last look: true if the
// next poll has something to say; else ErrClosed or ErrDead if the
// producer left or died (asked of its lock) and everything was read; else
// neither (armed).
func (c *Consumer) readyOrGone() (bool, error) {
	if c.ready() {
		return true, nil
	}
	if gone := c.producerGone(true); gone != nil {
		if c.ready() {
			return true, nil
		}
		return false, gone
	}
	return false, nil
}

// WaitAnyMax is the most consumers WaitAny watches at once.
const WaitAnyMax = 128

// WaitAny waits until one of the consumers (all used by this goroutine) has
// something to read, for a goroutine that serves several channels.  It
// spins for the first consumer's spin budget, then parks on all the
// channels at once (futex_waitv, Linux 5.16 and later; short naps before),
// as the C library's rill_wait_any.  It returns the index of a consumer
// whose next poll has something to say, or ErrTimedOut (ErrInval for no
// consumers or more than WaitAnyMax).  It does not report producers that
// left or died: Consumer.Producer tells.  A timeout of 0 looks once.
func WaitAny(cs []*Consumer, timeout time.Duration) (int, error) {
	if len(cs) == 0 || len(cs) > WaitAnyMax {
		return -1, ErrInval
	}
	for _, c := range cs {
		if c == nil || c.meta == nil {
			return -1, ErrInval
		}
	}
	anyReady := func() int {
		for i, c := range cs {
			if c.ready() {
				return i
			}
		}
		return -1
	}
	if i := anyReady(); i >= 0 {
		return i, nil
	}
	if timeout <= 0 {
		return -1, ErrTimedOut
	}
	now := monoNs()
	deadline := addSat(now, uint64(timeout))
	found := -1
	spinTry(now, cs[0].spin, timeout, func() error {
		if found = anyReady(); found >= 0 {
			return nil
		}
		return ErrAgain
	})
	if found >= 0 {
		return found, nil
	}
	addrs, expect := make([]*uint32, len(cs)), make([]uint32, len(cs))
	nextHb := addSat(now, uint64(liveSlice))
	for {
		if now = monoNs(); now >= deadline {
			return -1, ErrTimedOut
		}
		slice := min(deadline-now, uint64(liveSlice))
		// The parking protocol of waitFor on every consumer, with one heavy
		// barrier for all of them.
		// A LAZY producer that does not fence yet is asked to (§3.7a), and
		// we nap at most 1 ms: it may not wake us.
		asym, lazy := false, false
		for i, c := range cs {
			if c.seq != c.seqFlushed {
				c.flushCursor(false) // our position is the producer's credit
			}
			// Acquire, wake then flags, as in waitFor.
			expect[i] = atomic.LoadUint32(&c.prod.wake)
			addrs[i] = &c.prod.wake
			flags := atomic.LoadUint32(&c.prod.flags)
			asym = asym || flags&prodFAsym != 0
			atomic.StoreUint32(&c.cur.park, 1)
			// fence_req before the seq_cst bump of arm_gen, whose acquire
			// load by the producer then sees it (§3.7a).
			if c.lazyUnfenced(flags) {
				lazy = true
			}
			atomic.AddUint32(&c.wait.armGen, 1)
		}
		if lazy {
			slice = min(slice, millisecond)
		}
		if asym && heavyBarrier() != nil {
			slice = min(slice, millisecond)
		}
		if found = anyReady(); found < 0 {
			if parkAny(addrs, expect, time.Duration(slice)) == ErrIO { // no vectored wait
				park(addrs[0], expect[0], time.Duration(min(slice, millisecond)))
			}
			found = anyReady()
		}
		for _, c := range cs {
			atomic.StoreUint32(&c.cur.park, 0)
		}
		if found >= 0 {
			return found, nil
		}
		if now = monoNs(); now >= nextHb { // heartbeats while we wait
			nextHb = addSat(now, uint64(liveSlice))
			for _, c := range cs {
				c.flushCursor(true)
			}
		}
	}
}
