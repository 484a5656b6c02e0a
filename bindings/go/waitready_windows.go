// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

// The consumer's "fd" on Windows (PROTOCOL.md §5): a manual-reset event,
// Local\rill-K-f@C@i, which Arm resets and the producer's wake-up path
// sets.  waitready_linux.go is its Linux counterpart (a FIFO);
// waitready.go has what they share (WaitReady).

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
	fd, err := c.wakeupFd()
	if err != nil {
		return 0, err
	}
	return fdHandle(fd), nil
}

// waitReadyOpen opens the event for WaitReady.
func (c *Consumer) waitReadyOpen() error {
	_, err := c.Handle()
	return err
}

// waitReadySleep sleeps in WaitForSingleObject until the event is
// signalled or d has passed: a system call that holds the OS thread.
func (c *Consumer) waitReadySleep(d time.Duration) error {
	// Set by the producer's wake-up path after it sees our arm_gen bump
	// (Arm): the event pairs with that publish, whose descriptor the next
	// poll sees.
	if _, err := windows.WaitForSingleObject(fdHandle(c.fifoFd), waitMs(d)); err != nil {
		return ErrIO
	}
	return nil
}
