// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

// The consumer's fd on Linux (PROTOCOL.md §3.8): a FIFO, waited on in Go's
// netpoller.  waitready_windows.go is its Windows counterpart (§5);
// waitready.go has what they share (WaitReady).

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
	return c.wakeupFd()
}

// waitReadyOpen opens the FIFO for WaitReady and puts a duplicate of it in
// the netpoller.
func (c *Consumer) waitReadyOpen() error {
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
	return nil
}

// waitReadySleep parks the goroutine in the netpoller until the FIFO is
// readable or d has passed.
func (c *Consumer) waitReadySleep(d time.Duration) error {
	c.fifoFile.SetReadDeadline(time.Now().Add(d))
	first := true
	// The callback says "not yet" once, so the netpoller waits until the
	// fd is readable (or the deadline); Arm drains it.
	err := c.fifoRaw.Read(func(uintptr) bool {
		done := !first
		first = false
		return done
	})
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		return ErrIO
	}
	return nil
}
