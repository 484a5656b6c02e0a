// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

// Observers survive files they do not control, as tests/test_truncate.c,
// test_readonly.c and test_lockwait.c check it of the C library: a region
// file shrunk under a mapping makes the calls that only look return
// ErrTrunc instead of crashing the process; a ReadOnly handle looks
// without the right to write and cannot join; a lock held for good on the
// file makes OpenRegion and CreateChannel give up after a second.

import (
	"errors"
	"os"
	"runtime"
	"testing"
	"time"
)

func TestObserversSurviveTruncation(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("windows: a file with a view mapped cannot be shrunk (SetEndOfFile fails), so observers never meet one")
	}
	dir := testTempDir(t)
	const size = 1 << 20
	r, err := CreateRegion("t", &RegionOpts{Size: size, Dir: dir})
	must(t, err)
	defer r.Close()
	must(t, r.CreateChannel("c", &ChannelOpts{Depth: 64, MTU: 128, MaxConsumers: 2}))
	ro, err := OpenRegion("t", &RegionOpts{Dir: dir, ReadOnly: true})
	must(t, err)
	defer ro.Close()
	path := dir + "/t"
	// Shrunk to its first page: every channel page is gone under both
	// handles' mappings.  (Before: the process died of SIGBUS.)
	must(t, os.Truncate(path, 4096))
	for _, h := range []*Region{r, ro} {
		if _, err := h.Stats("c"); !errors.Is(err, ErrTrunc) {
			t.Fatalf("Stats of a shrunk file: %v", err)
		}
		if _, err := h.Latency("c", 0); !errors.Is(err, ErrTrunc) {
			t.Fatalf("Latency of a shrunk file: %v", err)
		}
	}
	// Shrunk to nothing: even the header is gone.
	must(t, os.Truncate(path, 0))
	for _, h := range []*Region{r, ro} {
		if info := h.Info(); info != (RegionInfo{}) {
			t.Fatalf("Info of an empty file: %+v", info)
		}
		if _, err := h.Objects(); !errors.Is(err, ErrTrunc) {
			t.Fatalf("Objects of an empty file: %v", err)
		}
		if chans := h.Channels(); len(chans) != 0 {
			t.Fatalf("Channels of an empty file: %v", chans)
		}
	}
	if names, err := ListRegions(dir); err != nil || len(names) != 0 {
		t.Fatalf("ListRegions: %v %v", names, err)
	}
	if _, err := OpenRegion("t", &RegionOpts{Dir: dir, ReadOnly: true}); !errors.Is(err, ErrEmpty) {
		t.Fatalf("OpenRegion of an empty file: %v", err)
	}
	must(t, os.Truncate(path, size)) // zeros: what r.Close touches is there
}

func TestReadOnlyRegion(t *testing.T) {
	dir := testTempDir(t)
	r, err := CreateRegion("t", &RegionOpts{Size: 1 << 20, Dir: dir, Mode: 0o644})
	must(t, err)
	defer r.Close()
	must(t, r.CreateChannel("c", &ChannelOpts{Depth: 64, MTU: 128, MaxConsumers: 2}))
	p, err := r.JoinProducer("c")
	must(t, err)
	defer p.Leave()
	must(t, p.Send([]byte("hello"), 1))
	must(t, p.Flush())

	ro, err := OpenRegion("t", &RegionOpts{Dir: dir, ReadOnly: true})
	must(t, err)
	defer ro.Close()
	st, err := ro.Stats("c")
	must(t, err)
	if st.Msgs != 1 || st.ProducerLiveness != PeerAlive {
		t.Fatalf("stats through a read-only handle: %+v", st)
	}
	if info := ro.Info(); info.OwnerUid != processUid() || info.Objects != 1 {
		t.Fatalf("info: %+v", info)
	}
	if _, err := ro.JoinProducer("c"); !errors.Is(err, ErrAccess) {
		t.Fatalf("JoinProducer through a read-only handle: %v", err)
	}
	if _, err := ro.JoinConsumer("c", Lossy); !errors.Is(err, ErrAccess) {
		t.Fatalf("JoinConsumer through a read-only handle: %v", err)
	}
	if err := ro.CreateChannel("d", nil); !errors.Is(err, ErrAccess) {
		t.Fatalf("CreateChannel through a read-only handle: %v", err)
	}
	if used, err := RegionInUse("t", dir); err != nil || !used {
		t.Fatalf("RegionInUse: %v %v", used, err)
	}
}

// bounded runs f and checks that it returns want after about a second.
func bounded(t *testing.T, what string, want error, f func() error) {
	t.Helper()
	t0 := time.Now()
	err := f()
	dt := time.Since(t0)
	if !errors.Is(err, want) || dt < 900*time.Millisecond || dt > 5*time.Second {
		t.Fatalf("%s: %v after %v, want %v after about 1 s", what, err, dt, want)
	}
}

func TestLockWaitsAreBounded(t *testing.T) {
	dir := testTempDir(t)
	r, err := CreateRegion("t", &RegionOpts{Size: 1 << 20, Dir: dir})
	must(t, err)
	must(t, r.Close())
	// Another handle holding an exclusive lock on byte 0 for good (locks
	// of another description conflict within a process too).  Before: the
	// opens blocked for ever.
	release := testHoldLock(t, dir+"/t", lockByte0)
	bounded(t, "OpenRegion", ErrBusy, func() error {
		_, err := OpenRegion("t", &RegionOpts{Dir: dir})
		return err
	})
	bounded(t, "OpenRegion read-only", ErrBusy, func() error {
		_, err := OpenRegion("t", &RegionOpts{Dir: dir, ReadOnly: true})
		return err
	})
	release() // drops the lock
	r, err = OpenRegion("t", &RegionOpts{Dir: dir})
	must(t, err)
	defer r.Close()
	// The table's lock (flock; byte 2^63 on Windows), held for good.
	release = testHoldLock(t, dir+"/t", lockTable)
	bounded(t, "CreateChannel", ErrBusy, func() error { return r.CreateChannel("c", &ChannelOpts{Depth: 64, MTU: 64}) })
	release()
	must(t, r.CreateChannel("c", &ChannelOpts{Depth: 64, MTU: 64}))
}
