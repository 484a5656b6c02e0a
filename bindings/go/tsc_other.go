// SPDX-License-Identifier: Apache-2.0 OR MIT

//go:build !amd64

package rill

// ticks is CLOCK_MONOTONIC where no cheap tick counter is read.
func ticks() uint64 { return monoNs() }

// spinPause is a spin-wait hint; here a plain loop iteration.
func spinPause() {}

// prefetch is a hint to fetch p's cache line; here nothing.
func prefetch(p *byte) {}
