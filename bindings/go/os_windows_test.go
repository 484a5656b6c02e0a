// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

// What the portable tests ask of the OS, on Windows (os_linux_test.go: on
// Linux).

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/windows"
)

// testFileMode is the mode a file's DACL stands for (PROTOCOL.md §5) and
// its length.
func testFileMode(t *testing.T, path string) (uint32, int64) {
	t.Helper()
	fd, size, err := fileOpen(path, false)
	must(t, err)
	defer closeFd(fd)
	mode, err := fileMode(fd)
	must(t, err)
	return mode, int64(size)
}

// testModeOf is the mode a region created with mode m has: the DACL keeps
// only "group or other may read" and "may write".
func testModeOf(m uint32) uint32 {
	mode := uint32(0o600)
	if m&0o044 != 0 {
		mode |= 0o044
	}
	if m&0o022 != 0 {
		mode |= 0o022
	}
	return mode
}

// testMakeFifo: Windows has no FIFOs in a directory; an empty file stands
// for the thing that is not a region.
func testMakeFifo(t *testing.T, path string) {
	t.Helper()
	must(t, os.WriteFile(path, nil, 0o600))
}

const (
	lockByte0 = iota // the region handles' byte (§3.9), exclusive
	lockTable        // the table's lock, byte 2^63
)

// testHoldLock holds a lock of region file path from another handle until
// release is called.
func testHoldLock(t *testing.T, path string, which int) (release func()) {
	t.Helper()
	p, err := windows.UTF16PtrFromString(path)
	must(t, err)
	h, err := windows.CreateFile(p, windows.GENERIC_READ|windows.GENERIC_WRITE,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE, nil,
		windows.OPEN_EXISTING, windows.FILE_ATTRIBUTE_NORMAL, 0)
	must(t, err)
	var ov windows.Overlapped
	if which == lockTable {
		ov.OffsetHigh = 1 << 31
	}
	must(t, windows.LockFileEx(h, windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ov))
	return func() { windows.CloseHandle(h) }
}

// consumerWaitObject makes the consumer's event (Handle).
func consumerWaitObject(c *Consumer) error {
	_, err := c.Handle()
	return err
}

// testTempDir is tb.TempDir, removed with os.Remove: Go's RemoveAll
// (hence TempDir's cleanup) deletes with FileDispositionInformationEx,
// which Wine 8.0 refuses ("Invalid function") without the fallback Go
// takes for old Windows.
func testTempDir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.MkdirTemp("", "rill-test")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		var paths []string
		filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
			paths = append(paths, p)
			return nil
		})
		slices.Reverse(paths) // files before their directories
		for _, p := range paths {
			if err := os.Remove(p); err != nil {
				files.Lock()
				for fd, f := range files.m {
					if f.kind == kindFile {
						tb.Logf("still open: fd %d %s", fd, f.path)
					}
				}
				files.Unlock()
				tb.Errorf("TempDir cleanup: %v", err)
			}
		}
	})
	return dir
}

// inMapping reports whether b lies in a view of a region file of dir (a
// ring), from the binding's own record of its views.
func inMapping(t *testing.T, b []byte, dir string) bool {
	t.Helper()
	_, tag := viewOf(unsafe.Pointer(unsafe.SliceData(b)))
	if tag == nil {
		return false
	}
	files.Lock()
	defer files.Unlock()
	for _, f := range files.m {
		if f.tag == tag && strings.HasPrefix(f.path, dir) {
			return true
		}
	}
	return false
}
