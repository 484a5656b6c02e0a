package rill

import "sync/atomic"

// publishDesc writes descriptor d for sequence number seq (PROTOCOL.md
// §3.1).  On amd64 (total store order) the hardware keeps stores in program
// order and the Go compiler keeps the order of stores to memory, so the
// "being written" mark and the fields are plain stores, as a C compiler
// emits for relaxed atomics and a release fence.  The final store of seq is
// an atomic (seq_cst) store: the release that pairs with the consumer's
// acquire load of seq in Poll, and, being an XCHG, the full barrier between
// publishing and the producer's load of arm_gen (§3.7), so a Go producer
// needs no heavy barrier from parking consumers.
func publishDesc(d *desc, seq, sig uint64, chunk, szctl, tsorig, tspub uint32) {
	d.seq = seq - 1
	d.sig = sig
	d.chunk = chunk
	d.szctl = szctl
	d.tsorig = tsorig
	d.tspub = tspub
	atomic.StoreUint64(&d.seq, seq)
}

// loadFence orders the payload reads before the check's reload of seq
// (the acquire fence of §3.3).  x86 never reorders loads with loads; the
// copy is a call, which the compiler does not move across the atomic load
// that follows.
func loadFence(*uint32) {}
