// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

// The consumer's fd on Linux (PROTOCOL.md §3.8): a FIFO, waited on in Go's
// netpoller.  waitready_windows.go is its Windows counterpart (§5).

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// Fd returns a file descriptor that becomes readable when this consumer
// should look again, for an event loop.  It is a FIFO next to the region
// (DIR/.rill-fifo@REGION@CHANNEL@SLOT), owned by the consumer: do not close
// it.  Use it as: Arm() returns false → wait until the fd is readable; then
// Poll or Recv until ErrAgain, and Arm again.  ErrAccess if that name is
// taken by anything but a FIFO the effective user owns (another user's
// FIFO, a regular file, a symlink): the consumer never adopts it.
func (c *Consumer) Fd() (int, error) {
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

// WaitReady waits in Go's netpoller, not in a futex: the goroutine parks
// without holding an OS thread, so a process can wait on many channels
// with many goroutines cheaply.  It arms the consumer's fd and returns nil
// once there may be something to read (then Poll or Recv until ErrAgain),
// ErrTimedOut, or ErrClosed / ErrDead when the producer left or died and
// everything was read.  It re-arms at least every 100 ms, which is how a
// dead producer is noticed.
func (c *Consumer) WaitReady(timeout time.Duration) error {
	if _, err := c.Fd(); err != nil {
		return err
	}
	if c.fifoFile == nil {
		// A duplicate of the FIFO's fd, owned by the *os.File (which puts
		// it in the netpoller); the consumer keeps its own.
		fd, err := syscall.Dup(c.fifoFd)
		if err != nil {
			return errnoErr(err)
		}
		syscall.CloseOnExec(fd)
		if err := syscall.SetNonblock(fd, true); err != nil {
			syscall.Close(fd)
			return errnoErr(err)
		}
		c.fifoFile = os.NewFile(uintptr(fd), c.fifo)
		if c.fifoRaw, err = c.fifoFile.SyscallConn(); err != nil {
			c.fifoFile.Close()
			c.fifoFile = nil
			return errnoErr(err)
		}
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
		slice := time.Now().Add(100 * time.Millisecond)
		if !deadline.IsZero() {
			if !time.Now().Before(deadline) {
				return ErrTimedOut
			}
			if deadline.Before(slice) {
				slice = deadline
			}
		}
		c.fifoFile.SetReadDeadline(slice)
		first := true
		// The callback says "not yet" once, so the netpoller waits until
		// the fd is readable (or the deadline); Arm drains it.
		err = c.fifoRaw.Read(func(uintptr) bool {
			done := !first
			first = false
			return done
		})
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return ErrIO
		}
	}
}
