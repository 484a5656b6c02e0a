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

// func publishSmall(d *desc, dst, src *byte, n, seq, sig, chszctl, ts uint64, armGen *uint32, xchg bool) (gen uint32)
// A whole message of n <= 64 bytes in one call: its payload copied from src
// to dst (the data ring), then publishDesc's stores (publishDescAsym's
// without xchg), then the load of arm_gen that follows every publish
// (PROTOCOL.md §3.7), returned.  Go would copy through runtime.memmove, a
// second call; here the copy is two overlapping loads and stores of the
// widest size that fits.  The payload's stores come before the mark's in
// program order, which TSO keeps.  chszctl holds chunk (low half) and
// szctl, ts tsorig (low half) and tspub: the descriptor's bytes 16-31 as
// two little-endian words.
TEXT ·publishSmall(SB), NOSPLIT, $0-84
	MOVQ dst+8(FP), R8
	MOVQ src+16(FP), SI
	MOVQ n+24(FP), CX
	CMPQ CX, $32
	JB   lt32
	MOVOU (SI), X0
	MOVOU 16(SI), X1
	MOVOU -32(SI)(CX*1), X2
	MOVOU -16(SI)(CX*1), X3
	MOVOU X0, (R8)
	MOVOU X1, 16(R8)
	MOVOU X2, -32(R8)(CX*1)
	MOVOU X3, -16(R8)(CX*1)
	JMP  desc
lt32:
	CMPQ CX, $16
	JB   lt16
	MOVOU (SI), X0
	MOVOU -16(SI)(CX*1), X1
	MOVOU X0, (R8)
	MOVOU X1, -16(R8)(CX*1)
	JMP  desc
lt16:
	CMPQ CX, $8
	JB   lt8
	MOVQ (SI), AX
	MOVQ -8(SI)(CX*1), BX
	MOVQ AX, (R8)
	MOVQ BX, -8(R8)(CX*1)
	JMP  desc
lt8:
	CMPQ CX, $4
	JB   lt4
	MOVL (SI), AX
	MOVL -4(SI)(CX*1), BX
	MOVL AX, (R8)
	MOVL BX, -4(R8)(CX*1)
	JMP  desc
lt4:
	TESTQ CX, CX
	JZ   desc
	MOVQ CX, DX
	SHRQ $1, DX
	MOVBLZX (SI), AX
	MOVBLZX (SI)(DX*1), R9
	MOVBLZX -1(SI)(CX*1), BX
	MOVB AX, (R8)
	MOVB R9, (R8)(DX*1)
	MOVB BX, -1(R8)(CX*1)
desc:
	MOVQ d+0(FP), DI
	MOVQ seq+32(FP), AX
	LEAQ -1(AX), DX
	MOVQ DX, 0(DI)          // seq - 1 ("being written")
	MOVQ sig+40(FP), DX
	MOVQ DX, 8(DI)
	MOVQ chszctl+48(FP), DX
	MOVQ DX, 16(DI)         // chunk, sz and ctl
	MOVQ ts+56(FP), DX
	MOVQ DX, 24(DI)         // tsorig, tspub
	MOVQ armGen+64(FP), BX
	CMPB xchg+72(FP), $0
	JNE  full
	MOVQ AX, 0(DI)          // seq: release (TSO)
	MOVL 0(BX), AX          // arm_gen (acquire under TSO)
	MOVL AX, gen+80(FP)
	RET
full:
	XCHGQ AX, 0(DI)         // seq: release, and a full barrier
	MOVL 0(BX), AX          // arm_gen, after the barrier
	MOVL AX, gen+80(FP)
	RET
