// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

import "sync/atomic"

// asymOK: a producer here may rely on the consumers' heavy barriers
// (PROTOCOL.md §3.7) and publish with plain stores only.
const asymOK = true

// publishDesc writes descriptor d for sequence number seq (PROTOCOL.md
// §3.1).  On amd64 (total store order) the hardware keeps stores in program
// order and the Go compiler keeps the order of stores to memory, so the
// "being written" mark and the fields are plain stores, as a C compiler
// emits for relaxed atomics and a release fence.  The final store of seq is
// an atomic (seq_cst) store: the release that pairs with the consumer's
// acquire load of seq in Poll, and, being an XCHG, the full barrier between
// publishing and the producer's load of arm_gen (§3.7): what a producer
// that could not register for heavy barriers needs.
func publishDesc(d *desc, seq, sig uint64, chunk, szctl, tsorig, tspub uint32) {
	writeDesc(d, seq, sig, chunk, szctl, tsorig, tspub)
	atomic.StoreUint64(&d.seq, seq)
}

// writeDesc stores the "being written" mark and the fields, in this order.
func writeDesc(d *desc, seq, sig uint64, chunk, szctl, tsorig, tspub uint32) {
	d.seq = seq - 1
	// Keep the mark: without a load of the word between it and the final
	// store of seq, the compiler drops it as a dead store (that final store
	// shadows it), and a lapped consumer could take the new fields for the
	// old message.  An atomic load is a plain MOV here and a memory
	// operation the compiler keeps in order.
	atomic.LoadUint64(&d.seq)
	d.sig = sig
	d.chunk = chunk
	d.szctl = szctl
	d.tsorig = tsorig
	d.tspub = tspub
}

// publishDescAsym is publishDesc for a producer registered for heavy
// barriers (it sets ASYM): the final store of seq is a plain store too,
// which on amd64 is a release store (the one that pairs with the
// consumer's acquire load of seq in Poll); the store-load order against a
// parking consumer comes from that consumer's heavy barrier.
func publishDescAsym(d *desc, seq, sig uint64, chunk, szctl, tsorig, tspub uint32) {
	writeDesc(d, seq, sig, chunk, szctl, tsorig, tspub)
	d.seq = seq
}

// loadFence orders the payload reads before the check's reload of seq
// (the acquire fence of §3.3).  x86 never reorders loads with loads; the
// copy is a call, which the compiler does not move across the atomic load
// that follows.
func loadFence(*uint32) {}
