// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

// Tests of what only Linux has: the consumer's fd is a FIFO (Windows: an
// event, rill_windows_test.go).

import (
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The fd: readable after a publish once armed; Arm says ready when there
// is something, closed when the producer left.
func TestFd(t *testing.T) {
	// A producer that fences (ASYM or not): Arm on a LAZY one that was not
	// asked yet naps and says ready (lazy_test.go).
	t.Setenv("RILL_LAZY_FENCE", "")
	r := testRegion(t, 1<<20)
	must(t, r.CreateChannel("c", &ChannelOpts{Depth: 8, MTU: 64}))
	c, err := r.JoinConsumer("c", Reliable)
	must(t, err)
	if _, err := c.Arm(); err != ErrInval {
		t.Fatalf("arm before Fd: %v", err)
	}
	fd, err := c.Fd()
	must(t, err)
	p, err := r.JoinProducer("c")
	must(t, err)
	ready, err := c.Arm()
	if err != nil || ready {
		t.Fatalf("arm on empty: %v %v", ready, err)
	}
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	if n, _ := unix.Poll(pfd, 0); n != 0 {
		t.Fatal("readable before a publish")
	}
	errc := make(chan error, 1)
	go func() { errc <- p.Send([]byte("x"), 5) }()
	if n, err := unix.Poll(pfd, 5000); n != 1 || err != nil {
		t.Fatalf("not readable after a publish: %d %v", n, err)
	}
	must(t, <-errc)
	if ready, err := c.Arm(); !ready || err != nil {
		t.Fatalf("arm with a message: %v %v", ready, err)
	}
	var v View
	must(t, c.Poll(&v))
	must(t, p.Leave())
	if _, err := c.Arm(); err != ErrClosed {
		t.Fatalf("arm after leave: %v", err)
	}
	c.Leave()
	must(t, UnlinkRegion("t", r.Dir()))
	if names, _ := os.ReadDir(r.Dir()); len(names) != 0 {
		t.Errorf("left behind: %v", names)
	}
}

// A consumer's FIFO name planted before it comes (another user's FIFO, a
// regular file, a symlink to a FIFO) is never adopted: Fd and WaitReady
// fail with ErrAccess and the planted thing is left alone.
func TestFifoPlanted(t *testing.T) {
	target := testTempDir(t) + "/fifo"
	must(t, unix.Mkfifo(target, 0o600))
	plants := []struct {
		name string
		make func(path string) error
	}{
		{"another user's FIFO", func(path string) error {
			if os.Geteuid() != 0 {
				return errSkip
			}
			if err := unix.Mkfifo(path, 0o666); err != nil {
				return err
			}
			return os.Lchown(path, 65534, 65534)
		}},
		{"regular file", func(path string) error { return os.WriteFile(path, nil, 0o600) }},
		{"symlink to a FIFO", func(path string) error { return os.Symlink(target, path) }},
	}
	for _, pl := range plants {
		r := testRegion(t, 1<<20)
		must(t, r.CreateChannel("c", &ChannelOpts{Depth: 8, MTU: 64}))
		path := fifoPath(r.Dir(), r.Name(), "c", 0)
		if err := pl.make(path); err == errSkip {
			t.Logf("%s: needs root, skipped", pl.name)
			continue
		} else {
			must(t, err)
		}
		var before unix.Stat_t
		must(t, unix.Lstat(path, &before))
		c, err := r.JoinConsumer("c", Lossy)
		must(t, err)
		if fd, err := c.Fd(); err != ErrAccess {
			t.Errorf("%s: Fd %d, %v, want ErrAccess", pl.name, fd, err)
		}
		if err := c.WaitReady(time.Millisecond); err != ErrAccess {
			t.Errorf("%s: WaitReady %v, want ErrAccess", pl.name, err)
		}
		var after unix.Stat_t
		must(t, unix.Lstat(path, &after))
		if after.Ino != before.Ino || after.Uid != before.Uid || after.Mode != before.Mode {
			t.Errorf("%s: the planted name was changed", pl.name)
		}
		must(t, c.Leave())
	}
	// Ours is adopted: made on first use, found again by the next consumer
	// of the slot.
	r := testRegion(t, 1<<20)
	must(t, r.CreateChannel("c", &ChannelOpts{Depth: 8, MTU: 64}))
	for i := 0; i < 2; i++ {
		c, err := r.JoinConsumer("c", Lossy)
		must(t, err)
		if _, err := c.Fd(); err != nil {
			t.Errorf("own FIFO, join %d: %v", i, err)
		}
		must(t, c.Leave())
	}
}
