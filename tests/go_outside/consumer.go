// SPDX-License-Identifier: Apache-2.0 OR MIT

// Command consumer is a user's program outside the rill repository, built
// as its own module by tests/go_outside.sh: it imports the Go binding by
// its path, joins channel CHAN of region REGION in DIR as a reliable
// consumer, prints "ready", and checks every message of the stream that a
// producer then publishes (tests/vectors/README.md, "Message streams"):
// messages 0 .. COUNT-1 of SEED, in order, none lost, every size, ctl and
// byte right, and then the producer's leaving (ErrClosed).  It prints
// "ok COUNT" and exits 0 if all arrived intact; else it exits 1 with a line
// on stderr saying what was wrong (2: usage).
//
//	consumer DIR REGION CHAN COUNT SEED
package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	rill "github.com/rill-ipc/rill/bindings/go"
)

// The stream's messages, as rill_xpeer (tests/xpeer.c) makes them.

func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// hash is h_i, from which message i's size and bytes follow.
func hash(seed, i uint64) uint64 { return mix(seed*0x100000001b3 + i) }

func size(h, mtu, maxMsg uint64) uint64 {
	class, r := h&15, h>>8
	switch {
	case class < 12:
		return r % 129
	case class < 15:
		return r % (mtu + 1)
	}
	return r % (maxMsg + 1)
}

func byteAt(h uint64, j int) byte { return byte(h>>(8*(j&7))) + byte(j>>3) }

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "consumer: "+format+"\n", a...)
	os.Exit(1)
}

func number(s string) uint64 {
	x, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		fmt.Fprintf(os.Stderr, "consumer: %q is not a number\n", s)
		os.Exit(2)
	}
	return x
}

func main() {
	if len(os.Args) != 6 {
		fmt.Fprintln(os.Stderr, "usage: consumer DIR REGION CHAN COUNT SEED")
		os.Exit(2)
	}
	dir, region, ch := os.Args[1], os.Args[2], os.Args[3]
	count, seed := number(os.Args[4]), number(os.Args[5])

	r, err := rill.OpenRegion(region, &rill.RegionOpts{Dir: dir})
	if err != nil {
		fail("open region %s in %s: %v", region, dir, err)
	}
	defer r.Close()
	st, err := r.Stats(ch)
	if err != nil {
		fail("stats of channel %s: %v", ch, err)
	}
	mtu, maxMsg := uint64(st.MTU), st.MaxMsg
	c, err := r.JoinConsumer(ch, rill.Reliable) // before the producer's first message
	if err != nil {
		fail("join %s: %v", ch, err)
	}
	defer c.Leave()
	fmt.Println("ready")

	buf := make([]byte, c.MaxMsg())
	var m rill.Meta
	for i := uint64(0); ; i++ {
		n, err := c.RecvWait(buf, &m, 10*time.Second)
		if i == count {
			if !errors.Is(err, rill.ErrClosed) {
				fail("after the %d messages: expected the producer to leave (ErrClosed), got %v (sig %d)",
					count, err, m.Sig)
			}
			break
		}
		if err != nil {
			fail("message %d of %d: %v", i, count, err)
		}
		if m.Sig != i || m.Lost != 0 {
			fail("message %d: got sig %d, %d lost before it", i, m.Sig, m.Lost)
		}
		h := hash(seed, i)
		want := size(h, mtu, maxMsg)
		if uint64(n) != want || m.Size != want {
			fail("message %d: %d bytes, want %d", i, n, want)
		}
		ctl := rill.CtlMsg // the ctl of its last fragment
		if want > mtu {
			ctl = rill.CtlEOM
		}
		if m.Ctl != ctl {
			fail("message %d: ctl %#x, want %#x", i, m.Ctl, ctl)
		}
		for j, b := range buf[:n] {
			if b != byteAt(h, j) {
				fail("message %d byte %d: 0x%02x, want 0x%02x", i, j, b, byteAt(h, j))
			}
		}
	}
	fmt.Println("ok", count)
}
