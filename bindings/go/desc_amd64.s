// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "textflag.h"

// The publish of PROTOCOL.md §3.1 on amd64, in assembly so that no compiler
// can drop, merge or reorder its stores (desc_amd64.go).  Under total store
// order the hardware keeps them in program order: the "being written" mark,
// then the fields, then seq.  The mark's store needs no fence after it
// (x86 never reorders stores with stores), which is the release fence the
// protocol asks for; the final store of seq is a release store that pairs
// with the consumer's acquire load of seq in Poll (consumer.go).

// The mark, then the fields, of publishDesc and publishDescAsym: DI holds
// the descriptor and AX its seq after it.
#define DESC_MARK_AND_FIELDS \
	MOVQ d+0(FP), DI; \
	MOVQ seq+8(FP), AX; \
	LEAQ -1(AX), DX; \
	MOVQ DX, 0(DI); \
	MOVQ sig+16(FP), DX; \
	MOVQ DX, 8(DI); \
	MOVL chunk+24(FP), DX; \
	MOVL DX, 16(DI); \
	MOVL szctl+28(FP), DX; \
	MOVL DX, 20(DI); \
	MOVL tsorig+32(FP), DX; \
	MOVL DX, 24(DI); \
	MOVL tspub+36(FP), DX; \
	MOVL DX, 28(DI)

// func publishDesc(d *desc, seq, sig uint64, chunk, szctl, tsorig, tspub uint32)
// ends with XCHGQ: the release store of seq and a full barrier, which
// orders it before the producer's load of arm_gen (§3.7) for a producer
// that does not rely on the consumers' heavy barriers.
TEXT ·publishDesc(SB), NOSPLIT, $0-40
	DESC_MARK_AND_FIELDS    // seq - 1 ("being written"), then the fields
	XCHGQ AX, 0(DI)         // seq: release, and a full barrier
	RET

// func publishDescAsym(d *desc, seq, sig uint64, chunk, szctl, tsorig, tspub uint32)
// ends with a plain MOVQ, a release store under TSO; the store-load order
// against a parking consumer comes from that consumer's heavy barrier.
TEXT ·publishDescAsym(SB), NOSPLIT, $0-40
	DESC_MARK_AND_FIELDS    // seq - 1 ("being written"), then the fields
	MOVQ AX, 0(DI)          // seq: release (TSO)
	RET

// func loadFence(w *uint32)
// The acquire fence of §3.3 between a lossy consumer's payload reads and
// its reload of seq.  x86 never reorders loads with loads; what is left is
// the compiler, and it cannot move memory accesses across a call into
// assembly it knows nothing about.
TEXT ·loadFence(SB), NOSPLIT, $0-8
	RET
