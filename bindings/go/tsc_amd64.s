// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "textflag.h"

// func ticks() uint64: the time-stamp counter (RDTSC), converted to
// nanoseconds by clock (clock.go).
TEXT ·ticks(SB), NOSPLIT, $0-8
	RDTSC
	SHLQ $32, DX
	ORQ  DX, AX
	MOVQ AX, ret+0(FP)
	RET

// func spinPause(): one PAUSE, the spin-wait hint (a consumer's hold-off).
TEXT ·spinPause(SB), NOSPLIT, $0-0
	PAUSE
	RET

// func prefetch(p *byte): PREFETCHT0, a hint to fetch p's cache line (no
// fault, no effect on what any load returns).
TEXT ·prefetch(SB), NOSPLIT, $0-8
	MOVQ p+0(FP), AX
	PREFETCHT0 (AX)
	RET
