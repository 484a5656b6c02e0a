// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The standard library's errors that errors.Is matches with rill's.
var stdErrs = []struct {
	name   string
	target error
	match  []Error
}{
	{"fs.ErrNotExist", fs.ErrNotExist, []Error{ErrNoEnt, ErrNoDir}},
	{"fs.ErrExist", fs.ErrExist, []Error{ErrExist}},
	{"fs.ErrPermission", fs.ErrPermission, []Error{ErrAccess}},
	{"os.ErrDeadlineExceeded", os.ErrDeadlineExceeded, []Error{ErrTimedOut}},
}

// The only rill errors errors.Is matches with another: a Client's server
// that died or stopped is ErrDead or ErrClosed, as before 0.3.
var isAlso = map[Error]Error{ErrServerDead: ErrDead, ErrServerLeft: ErrClosed}

// Every error against every standard one, bare and wrapped; and == and
// errors.Is among rill's own errors, which Is must not blur (but for
// isAlso).
func TestErrorIsTable(t *testing.T) {
	for e := Error(1); e < errMax; e++ {
		for _, s := range stdErrs {
			want := false
			for _, m := range s.match {
				want = want || e == m
			}
			wrapped := fmt.Errorf("open md: %w", e)
			if errors.Is(e, s.target) != want || errors.Is(wrapped, s.target) != want {
				t.Errorf("errors.Is(%d %q, %s) = %v, want %v", int(e), e, s.name, !want, want)
			}
		}
		for o := Error(1); o < errMax; o++ {
			want := e == o || isAlso[e] == o
			if errors.Is(e, o) != want || errors.Is(fmt.Errorf("x: %w", e), o) != want {
				t.Errorf("errors.Is(%q, %q) = %v", e, o, !want)
			}
		}
		if errors.Is(e, errors.New(e.Error())) {
			t.Errorf("%q matches another error with its text", e)
		}
	}
}

// isStd checks that err, from a real call, is want and the standard error.
func isStd(t *testing.T, what string, err error, want Error, target error) {
	t.Helper()
	if err != want { // == still works: nothing is wrapped
		t.Errorf("%s: %v, want %v", what, err, want)
		return
	}
	if !errors.Is(err, target) || !errors.Is(fmt.Errorf("%s: %w", what, err), target) {
		t.Errorf("%s: errors.Is(%v, %v) is false", what, err, target)
	}
}

// isNamed checks that err, from a real call, is a *NotExistError that
// wraps want, is the standard error, and names each of names.
func isNamed(t *testing.T, what string, err error, want Error, names ...string) {
	t.Helper()
	var ne *NotExistError
	if !errors.As(err, &ne) || ne.Err != want {
		t.Errorf("%s: %v, want a *NotExistError of %v", what, err, want)
		return
	}
	if !errors.Is(err, want) || !errors.Is(fmt.Errorf("%s: %w", what, err), want) ||
		!errors.Is(err, fs.ErrNotExist) || !errors.Is(fmt.Errorf("%s: %w", what, err), fs.ErrNotExist) {
		t.Errorf("%s: errors.Is(%v, %v or fs.ErrNotExist) is false", what, err, want)
	}
	for _, n := range names {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("%s: %q does not name %q", what, err, n)
		}
	}
}

func TestErrorIsFromCalls(t *testing.T) {
	dir := testTempDir(t)
	o := &RegionOpts{Size: 1 << 20, Dir: dir}

	// A missing region, channel or directory is named, with where it was
	// looked for.
	_, err := OpenRegion("missing", o)
	isNamed(t, "open a missing region", err, ErrNoEnt, `region "missing"`, dir)
	_, err = OpenRegion("missing", &RegionOpts{Dir: dir + "/nodir"})
	isNamed(t, "open in a missing directory", err, ErrNoDir, dir+"/nodir", `"missing"`)
	_, err = CreateRegion("r", &RegionOpts{Dir: dir + "/nodir"})
	isNamed(t, "create in a missing directory", err, ErrNoDir, dir+"/nodir", `"r"`)
	isNamed(t, "unlink a missing region", UnlinkRegion("missing", dir), ErrNoEnt, `region "missing"`, dir)
	_, err = RegionInUse("missing", dir)
	isNamed(t, "in use, a missing region", err, ErrNoEnt, `region "missing"`, dir)

	r, err := CreateRegion("r", o)
	must(t, err)
	defer r.Close()
	_, err = CreateRegion("r", o)
	isStd(t, "create an existing region", err, ErrExist, fs.ErrExist)
	must(t, r.CreateChannel("c", &ChannelOpts{Depth: 8, MTU: 64, MaxMsg: 64}))
	isStd(t, "create an existing channel", r.CreateChannel("c", nil), ErrExist, fs.ErrExist)
	_, err = r.JoinConsumer("nochan", Reliable)
	isNamed(t, "join a missing channel", err, ErrNoEnt, `channel "nochan"`, `region "r"`, dir)
	_, err = r.JoinProducer("nochan")
	isNamed(t, "produce to a missing channel", err, ErrNoEnt, `channel "nochan"`, `region "r"`, dir)
	_, err = r.Stats("nochan")
	isNamed(t, "stats of a missing channel", err, ErrNoEnt, `channel "nochan"`, `region "r"`, dir)
	_, err = r.Connect("nosvc")
	isStd(t, "connect to a missing service", err, ErrNoEnt, fs.ErrNotExist)

	// Waits that run out of time: a consumer with nothing to read, a
	// producer whose reliable consumer does not read.
	c, err := r.JoinConsumer("c", Reliable)
	must(t, err)
	defer c.Leave()
	p, err := r.JoinProducer("c")
	must(t, err)
	defer p.Leave()
	var v View
	isStd(t, "PollWait", c.PollWait(&v, time.Millisecond), ErrTimedOut, os.ErrDeadlineExceeded)
	_, err = c.RecvWait(make([]byte, 64), &Meta{}, time.Millisecond)
	isStd(t, "RecvWait", err, ErrTimedOut, os.ErrDeadlineExceeded)
	isStd(t, "WaitReady", c.WaitReady(time.Millisecond), ErrTimedOut, os.ErrDeadlineExceeded)
	_, err = WaitAny([]*Consumer{c}, time.Millisecond)
	isStd(t, "WaitAny", err, ErrTimedOut, os.ErrDeadlineExceeded)
	for err = nil; err == nil; {
		err = p.SendWait([]byte("x"), 1, 10*time.Millisecond)
	}
	isStd(t, "SendWait on a full ring", err, ErrTimedOut, os.ErrDeadlineExceeded)

	// Permission: a directory we may not write (root may: then a file
	// system that refuses new files, sysfs, if it is there).
	if runtime.GOOS == "windows" {
		t.Log("windows: a directory's mode (its read-only attribute) does not stop new files: no ErrAccess case here")
		return
	}
	ro := testTempDir(t)
	must(t, os.Chmod(ro, 0o500))
	defer os.Chmod(ro, 0o700)
	_, err = CreateRegion("r", &RegionOpts{Size: 1 << 20, Dir: ro})
	if err == nil {
		UnlinkRegion("r", ro)
		if _, serr := os.Stat("/sys/kernel"); serr != nil {
			t.Skip("running as root, and no /sys: no call here fails with ErrAccess")
		}
		_, err = CreateRegion("r", &RegionOpts{Size: 1 << 20, Dir: "/sys"})
	}
	isStd(t, "create where we may not write", err, ErrAccess, fs.ErrPermission)
}
