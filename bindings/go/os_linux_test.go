// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

// What the portable tests ask of the OS, on Linux (os_windows_test.go: on
// Windows).

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// testFileMode is a file's permission bits and length.
func testFileMode(t *testing.T, path string) (uint32, int64) {
	t.Helper()
	var st unix.Stat_t
	must(t, unix.Stat(path, &st))
	return st.Mode & 0o7777, st.Size
}

// testModeOf is the mode a region created with mode m has.
func testModeOf(m uint32) uint32 { return m }

// testMakeFifo makes a FIFO at path: not a region.
func testMakeFifo(t *testing.T, path string) {
	t.Helper()
	must(t, unix.Mkfifo(path, 0o600))
}

const (
	lockByte0 = iota // the region handles' byte (§3.9), exclusive
	lockTable        // the table's lock (flock)
)

// testHoldLock holds a lock of region file path from another open file
// description until release is called.
func testHoldLock(t *testing.T, path string, which int) (release func()) {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	must(t, err)
	switch which {
	case lockByte0:
		fl := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: 0, Len: 1}
		must(t, unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &fl))
	case lockTable:
		must(t, unix.Flock(fd, unix.LOCK_EX))
	}
	return func() { unix.Close(fd) }
}

// consumerWaitObject makes the consumer's fd (Fd).
func consumerWaitObject(c *Consumer) error {
	_, err := c.Fd()
	return err
}

// testTempDir is tb.TempDir.
func testTempDir(tb testing.TB) string {
	tb.Helper()
	return tb.TempDir()
}

// inMapping reports whether b lies in a mapping of a file of dir (a ring),
// from /proc/self/maps.
func inMapping(t *testing.T, b []byte, dir string) bool {
	t.Helper()
	maps, err := os.ReadFile("/proc/self/maps")
	must(t, err)
	p := uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
	for _, line := range strings.Split(string(maps), "\n") {
		var lo, hi uint64
		if _, err := fmt.Sscanf(line, "%x-%x", &lo, &hi); err != nil || p < lo || p >= hi {
			continue
		}
		return strings.Contains(line, dir)
	}
	return false
}
