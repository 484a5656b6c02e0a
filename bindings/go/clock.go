// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

// clock gives CLOCK_MONOTONIC nanoseconds from the tick counter, as the C
// library's rill_clock: the clock itself is read only when a millisecond's
// worth of ticks has passed since the last reading, and each reading
// re-measures the tick rate.  A stamp costs one tick read (on this kind of
// machine a vDSO clock read costs three times as much).
type clock struct {
	tkBase, nsBase uint64
	mult           uint64 // ns per tick << 32; 0 until measured
	limit          uint64 // ticks after which the clock is read again
}

func (k *clock) init() {
	k.tkBase = ticks()
	k.nsBase = monoNs()
	k.mult = 0
	k.limit = 0 // the first stamp reads the clock and measures the rate
}

func (k *clock) ns() uint64 {
	tk := ticks()
	d := tk - k.tkBase
	if d >= k.limit {
		return k.rebase(tk)
	}
	return k.nsBase + (d*k.mult)>>32
}

func (k *clock) rebase(tk uint64) uint64 {
	ns := monoNs()
	dt, dns := tk-k.tkBase, ns-k.nsBase
	if dt > 0 && dns > 0 && dns < 1<<31 {
		k.mult = (dns << 32) / dt
		lim := uint64(0)
		if k.mult != 0 {
			lim = (1000000 << 32) / k.mult // one millisecond of ticks
		}
		k.limit = max(lim, 1)
	} else {
		k.limit = 0 // odd reading (first call, long pause): measure again
	}
	k.tkBase, k.nsBase = tk, ns
	return ns
}
