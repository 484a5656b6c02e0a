// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

// The consumer's "fd" on Windows (PROTOCOL.md §5): a manual-reset event,
// Local\rill-K-f@C@i, which Arm resets and the producer's wake-up path
// sets.  waitready_linux.go is its Linux counterpart (a FIFO).

import (
	"time"

	"golang.org/x/sys/windows"
)

// Handle returns the consumer's event, which becomes signalled when this
// consumer should look again, for a loop that waits with
// WaitForMultipleObjects (the C library's rill_consumer_handle).  The
// consumer owns it: do not close it.  Use it as Fd on Linux: Arm() returns
// false → wait until the handle is signalled; then Poll or Recv until
// ErrAgain, and Arm again.  ErrAccess if the event's name is taken by
// another kind of object.
func (c *Consumer) Handle() (windows.Handle, error) {
	if c == nil || c.meta == nil {
		return 0, ErrInval
	}
	if c.fifoFd < 0 {
		fd, err := fifoReader(c.fd, c.fifo, c.mode)
		if err != nil {
			return 0, err
		}
		c.fifoFd = fd
	}
	return fdHandle(c.fifoFd), nil
}

// WaitReady arms the consumer's event and returns nil once there may be
// something to read (then Poll or Recv until ErrAgain), ErrTimedOut, or
// ErrClosed / ErrDead when the producer left or died and everything was
// read.  It re-arms at least every 100 ms, which is how a dead producer is
// noticed.  The contract is Linux's; the wait differs: Windows has no
// netpoller for an event, so the goroutine sleeps in WaitForSingleObject,
// a system call that holds an OS thread for the wait (the Go runtime hands
// the goroutine's P to another thread meanwhile).  Many goroutines waiting
// at once each hold a thread.
func (c *Consumer) WaitReady(timeout time.Duration) error {
	h, err := c.Handle()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	if timeout < 0 || timeout == Forever {
		deadline = time.Time{}
	}
	for {
		ready, err := c.Arm()
		if err != nil || ready {
			return err
		}
		slice := 100 * time.Millisecond
		if !deadline.IsZero() {
			left := time.Until(deadline)
			if left <= 0 {
				return ErrTimedOut
			}
			slice = min(slice, left)
		}
		// Set by the producer's wake-up path after it sees our arm_gen
		// bump (Arm): the event pairs with that publish, whose descriptor
		// the next poll sees.
		if _, err := windows.WaitForSingleObject(h, waitMs(slice)); err != nil {
			return ErrIO
		}
	}
}
