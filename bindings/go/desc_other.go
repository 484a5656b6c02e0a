// SPDX-License-Identifier: Apache-2.0 OR MIT

//go:build !amd64

package rill

import (
	"sync/atomic"
	"unsafe"
)

// asymOK is false: the producer publishes with seq_cst stores, whose last
// one is ordered before its load of arm_gen, so it needs no heavy barrier.
const asymOK = false

func publishDescAsym(d *desc, seq, sig uint64, chunk, szctl, tsorig, tspub uint32) {
	publishDesc(d, seq, sig, chunk, szctl, tsorig, tspub)
}

// publishSmall copies a payload of n <= 64 bytes from src to dst,
// publishes d and returns *armGen loaded after that (desc_amd64.go does it
// all in one assembly call).  chszctl is chunk | szctl<<32, ts is
// tsorig | tspub<<32.
func publishSmall(d *desc, dst, src *byte, n, seq, sig, chszctl, ts uint64, armGen *uint32, xchg bool) uint32 {
	if n > 0 {
		copy(unsafe.Slice(dst, n), unsafe.Slice(src, n))
	}
	publishDesc(d, seq, sig, uint32(chszctl), uint32(chszctl>>32), uint32(ts), uint32(ts>>32))
	return atomic.LoadUint32(armGen)
}

// publishDesc writes descriptor d for sequence number seq (PROTOCOL.md
// §3.1) with sequentially consistent atomics only.  The mark is followed by
// an atomic load: a seq_cst store then a seq_cst load are ordered, and every
// later access is ordered after that load, which is the release fence the
// protocol asks for between the mark and the fields (and the payloads
// written after it).  The final store of seq is the release that pairs with
// the consumer's acquire load in Poll.
func publishDesc(d *desc, seq, sig uint64, chunk, szctl, tsorig, tspub uint32) {
	atomic.StoreUint64(&d.seq, seq-1)
	atomic.LoadUint32(&d.tspub)
	atomic.StoreUint64(&d.sig, sig)
	atomic.StoreUint32(&d.chunk, chunk)
	atomic.StoreUint32(&d.szctl, szctl)
	atomic.StoreUint32(&d.tsorig, tsorig)
	atomic.StoreUint32(&d.tspub, tspub)
	atomic.StoreUint64(&d.seq, seq)
}

// loadFence orders the payload reads before the check's reload of seq (the
// acquire fence of §3.3): a seq_cst store is ordered after every earlier
// access, and the seq_cst load that follows is ordered after it.
func loadFence(w *uint32) { atomic.StoreUint32(w, 0) }
