// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

// Unit tests of the Windows system layer (sys_windows.go).

import (
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/windows"
)

// A consumer adopts its slot's existing event when it is ours, and refuses
// one another user owns (planted to steal or fake the wake-ups) with
// ErrAccess, as a FIFO another uid owns on Linux (PROTOCOL.md §3.8).
func TestEventOwner(t *testing.T) {
	r := testRegion(t, 1<<20)
	must(t, r.CreateChannel("c", &ChannelOpts{Depth: 8, MTU: 64}))
	ours, err := r.JoinConsumer("c", Reliable)
	must(t, err)
	t.Cleanup(func() { ours.Leave() })
	// Ours already (an earlier consumer's, still open): adopted.
	fd, err := fifoReader(ours.fd, ours.fifo, ours.mode)
	must(t, err)
	defer closeFd(fd)
	if _, err := ours.Handle(); err != nil {
		t.Fatalf("our own event, existing: %v", err)
	}

	c, err := r.JoinConsumer("c", Reliable)
	must(t, err)
	t.Cleanup(func() { c.Leave() })
	name, err := eventName(c.fd, c.fifo)
	must(t, err)
	// Owned by the Administrators group (RID 544), open to everyone: the
	// process may name it owner only where its token holds that group as
	// an owner (elevated, or Wine); else there is nothing to test here.
	sd, err := windows.SecurityDescriptorFromString("O:BAD:P(A;;GA;;;WD)")
	must(t, err)
	sa := &windows.SecurityAttributes{SecurityDescriptor: sd}
	sa.Length = uint32(unsafe.Sizeof(*sa))
	h, err := windows.CreateEvent(sa, 1, 0, name)
	if h == 0 {
		t.Skipf("cannot make an event owned by Administrators: %v", err)
	}
	defer func() {
		if h != 0 {
			windows.CloseHandle(h)
		}
	}()
	if uid, err := objectOwner(h); err != nil || uid == processUid() {
		t.Skipf("the planted event's owner: %d %v (ours: %d)", uid, err, processUid())
	}
	if _, err := c.Handle(); err != ErrAccess {
		t.Fatalf("another user's event: %v, want ErrAccess", err)
	}
	windows.CloseHandle(h)
	h = 0
	if _, err := c.Handle(); err != nil {
		t.Fatalf("once the planted event is gone: %v", err)
	}
}

// pathPtr: the directory part made absolute (a bare drive's root kept as
// its root, "C:name" in C:'s current directory), the name appended as it
// is, behind \\?\ (PROTOCOL.md §5).
func TestPathPtr(t *testing.T) {
	// A current directory that is not its drive's root, so that C:'s
	// current directory and C:'s root differ.
	dir := testTempDir(t)
	old, err := os.Getwd()
	must(t, err)
	must(t, os.Chdir(dir))
	t.Cleanup(func() { os.Chdir(old) })
	cwd, err := filepath.Abs(".")
	must(t, err)
	drive := filepath.VolumeName(cwd) // "C:", the current drive
	if !isDrive(drive) || len(cwd) <= 3 {
		t.Skipf("current directory %q: not below a drive's root", cwd)
	}
	for _, tc := range []struct{ in, want string }{
		{drive + `\name`, `\\?\` + drive + `\name`},
		{drive + `/name`, `\\?\` + drive + `\name`},
		{drive + `\NUL`, `\\?\` + drive + `\NUL`},
		{drive + `name`, `\\?\` + cwd + `\name`},
		{drive + `sub\name`, `\\?\` + cwd + `\sub\name`},
		{drive + `\a\b.`, `\\?\` + drive + `\a\b.`},
		{`\name`, `\\?\` + drive + `\name`},
		{`name`, `\\?\` + cwd + `\name`},
		{`con`, `\\?\` + cwd + `\con`},
		{`sub/aux.x`, `\\?\` + cwd + `\sub\aux.x`},
		{`\\server\share\name`, `\\?\UNC\server\share\name`},
		{`\\?\` + drive + `\x\name`, `\\?\` + drive + `\x\name`},
	} {
		p, err := pathPtr(tc.in)
		if err != nil {
			t.Errorf("pathPtr(%q): %v", tc.in, err)
			continue
		}
		if got := windows.UTF16PtrToString(p); got != tc.want {
			t.Errorf("pathPtr(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
