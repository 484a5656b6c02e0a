// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

// ticks reads the CPU's time-stamp counter (tsc_amd64.s).
func ticks() uint64

// spinPause is one PAUSE instruction (tsc_amd64.s): a spin-wait hint.
func spinPause()

// prefetch asks for p's cache line ahead of a load (tsc_amd64.s): a hint.
//
//go:noescape
func prefetch(p *byte)
