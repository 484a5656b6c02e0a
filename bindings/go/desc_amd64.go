// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

// asymOK: a producer here may rely on the consumers' heavy barriers
// (PROTOCOL.md §3.7) and publish with plain stores only.
const asymOK = true

// The publish and the check's fence are in assembly (desc_amd64.s): Go
// promises nothing about the order, or the survival, of plain stores to
// shared memory (the compiler may drop the "being written" mark as a dead
// store, shadowed by the final store of seq), and sync/atomic stores are
// XCHGs, a full barrier each.  Under total store order plain MOVs in the
// order written are what the protocol asks for, and the compiler cannot
// rewrite assembly.

// publishDesc writes descriptor d for sequence number seq (PROTOCOL.md
// §3.1): the mark seq-1, the fields, then seq with a release store that is
// also a full barrier (XCHG), the order a producer that could not register
// for heavy barriers needs between publishing and its load of arm_gen
// (§3.7).  The release pairs with the consumer's acquire load of seq in
// Poll.
//
//go:noescape
func publishDesc(d *desc, seq, sig uint64, chunk, szctl, tsorig, tspub uint32)

// publishDescAsym is publishDesc for a producer registered for heavy
// barriers (it sets ASYM): the final store of seq is a plain MOV, a release
// store on amd64 (pairing with the consumer's acquire load of seq in Poll);
// the store-load order against a parking consumer comes from that
// consumer's heavy barrier.
//
//go:noescape
func publishDescAsym(d *desc, seq, sig uint64, chunk, szctl, tsorig, tspub uint32)

// publishSmall copies a payload of n <= 64 bytes from src to dst, publishes
// d as publishDesc does (xchg) or as publishDescAsym does, and returns
// *armGen loaded after the publish: one call for a small Send instead of
// runtime.memmove's and this one's.  chszctl is chunk | szctl<<32, ts is
// tsorig | tspub<<32 (the descriptor's bytes 16-31, little-endian).
//
//go:noescape
func publishSmall(d *desc, dst, src *byte, n, seq, sig, chszctl, ts uint64, armGen *uint32, xchg bool) (gen uint32)

// loadFence orders the payload reads before the check's reload of seq (the
// acquire fence of §3.3; it pairs with the release order of the mark's
// store before the fields and payload in publishDesc).  The hardware never
// reorders loads with loads; this empty assembly call stops the compiler
// from moving the copy's loads past the reload.
//
//go:noescape
func loadFence(w *uint32)
