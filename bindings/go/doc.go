// SPDX-License-Identifier: Apache-2.0 OR MIT

// Package rill moves messages between processes on one host through shared
// memory.  It is a pure-Go implementation of the rill protocol
// (docs/PROTOCOL.md in the rill repository): a Go process and a C process
// that use librill share one channel, in either direction, at full speed.
// There is no cgo: shared memory is mapped with mmap and accessed with
// sync/atomic, and waiting uses the same futex words, locks and FIFOs as the
// C library.  It runs on Linux.
//
// The module's path ends in /go but the package is named rill:
//
//	import rill "github.com/rill-ipc/rill/bindings/go"
//
// A region is a named file (in $RILL_DIR, else /dev/shm) holding channels.
// A channel has one producer and any number of consumers, each reliable
// (the producer never laps it: it waits for credit instead) or lossy (it
// never slows the producer and is told how many messages it lost when
// lapped).  Messages larger than the channel's MTU are sent as fragments and
// put back together by Recv.
//
//	r, err := rill.CreateRegion("md", &rill.RegionOpts{Size: 64 << 20})
//	err = r.CreateChannel("quotes", &rill.ChannelOpts{Depth: 4096, MTU: 1024})
//	c, err := r.JoinConsumer("quotes", rill.Reliable) // join before the first message
//	p, err := r.JoinProducer("quotes")
//	err = p.Send([]byte("hello"), 42)                  // ErrAgain: no credit yet
//	n, err := c.RecvWait(buf, &meta, time.Second)     // meta.Sig == 42
//
// SendMany, ReserveMany and CommitMany publish a batch of messages with one
// credit check, one wake-up check and at most one clock read, all or
// nothing; PollMany takes a burst of descriptors whose views stay valid
// until the consumer's next call.
//
// Errors are values of type Error, whose numbers are the C library's
// RILL_E* codes; they compare with ==, and errors.Is also matches them with
// fs.ErrNotExist, fs.ErrExist, fs.ErrPermission and os.ErrDeadlineExceeded.
// Calls that would block return ErrAgain; their *Wait forms spin briefly,
// then sleep on a futex in shared memory, and return ErrTimedOut, ErrClosed
// (the producer left) or ErrDead (it died).  Timeouts, spin budgets and
// other spans of time are time.Durations (Forever: no limit).
//
// A Producer or a Consumer is used by one goroutine at a time; a Region may
// be shared.  Nothing panics on a nil handle: a nil (or closed) Region, a
// nil Producer or Consumer or one that left, a nil *View or *Meta make the
// calls return ErrInval (accessors return zero values), where the C
// library's calls would be given NULL.  A View's Data points into shared memory: it is valid until the
// next call on its consumer, and for a lossy consumer only if Check says so
// after the data was read.
package rill
