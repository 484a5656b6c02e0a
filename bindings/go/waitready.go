// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

// The consumer's wake-up object for an event loop, and WaitReady, the same
// on every OS.  What differs is what the object is and how a goroutine
// sleeps on it (waitReadyOpen, waitReadySleep): a FIFO in Go's netpoller on
// Linux (waitready_linux.go, PROTOCOL.md §3.8), an event in
// WaitForSingleObject on Windows (waitready_windows.go, §5).

import "time"

// wakeupFd opens the consumer's wake-up object on first use (the FIFO
// DIR/.rill-fifo@REGION@CHANNEL@SLOT on Linux, the event
// Local\rill-K-f@C@i on Windows) and returns its fd.
func (c *Consumer) wakeupFd() (int, error) {
	if c == nil || c.meta == nil {
		return -1, ErrInval
	}
	if c.fifoFd < 0 {
		fd, err := fifoReader(c.fd, c.fifo, c.mode)
		if err != nil {
			return -1, err
		}
		c.fifoFd = fd
	}
	return c.fifoFd, nil
}

// WaitReady arms the consumer's wake-up object (Fd on Linux, Handle on
// Windows) and returns nil once there may be something to read (then Poll
// or Recv until ErrAgain), ErrTimedOut, or ErrClosed / ErrDead when the
// producer left or died and everything was read.  It re-arms at least
// every 100 ms, which is how a dead producer is noticed.
//
// On Linux it waits in Go's netpoller, not in a futex: the goroutine parks
// without holding an OS thread, so a process can wait on many channels
// with many goroutines cheaply.  Windows has no netpoller for an event, so
// there the goroutine sleeps in WaitForSingleObject, a system call that
// holds an OS thread for the wait (the Go runtime hands the goroutine's P
// to another thread meanwhile): many goroutines waiting at once each hold
// a thread.
func (c *Consumer) WaitReady(timeout time.Duration) error {
	if err := c.waitReadyOpen(); err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	if timeout < 0 || timeout == Forever {
		deadline = time.Time{}
	}
	for {
		ready, lazy, err := c.arm()
		if err != nil || ready && !lazy {
			return err
		}
		if lazy { // it napped on wake (§3.7a): nil only if there is something
			if c.ready() {
				return nil
			}
			if !deadline.IsZero() && !time.Now().Before(deadline) {
				return ErrTimedOut
			}
			continue
		}
		slice := 100 * time.Millisecond
		if !deadline.IsZero() {
			left := time.Until(deadline)
			if left <= 0 {
				return ErrTimedOut
			}
			slice = min(slice, left)
		}
		if err := c.waitReadySleep(slice); err != nil {
			return err
		}
	}
}
