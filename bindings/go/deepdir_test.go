// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

import (
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"
)

// A directory too deep for a consumer's FIFO path is refused when the
// region is created or opened, not at a later join (issue 18, as in C's
// test_hardening).
func TestDeepDirectory(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("windows: the bound is Linux's PATH_MAX for FIFO paths; Windows names a consumer's event, not a path")
	}
	dir := testTempDir(t)
	want := 4096 - 80 // room for a region's own path, not for its FIFOs
	for len(dir)+201 < want {
		dir += "/" + strings.Repeat("d", 200)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	dir += "/" + strings.Repeat("e", want-len(dir)-1)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("r", NameMax)
	opts := &RegionOpts{Size: 1 << 20, Dir: dir}
	if _, err := CreateRegion(long, opts); !errors.Is(err, ErrInval) {
		t.Fatalf("CreateRegion in a deep directory: %v, want ErrInval", err)
	}
	if _, err := OpenRegion(long, opts); !errors.Is(err, ErrInval) {
		t.Fatalf("OpenRegion in a deep directory: %v, want ErrInval", err)
	}
	r, err := CreateRegion("r", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ch := strings.Repeat("c", NameMax)
	if err := r.CreateChannel(ch, &ChannelOpts{Depth: 16, MTU: 64}); err != nil {
		t.Fatal(err)
	}
	c, err := r.JoinConsumer(ch, Reliable)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Leave()
	if err := consumerWaitObject(c); err != nil {
		t.Fatalf("Fd in a directory that fits: %v", err)
	}
}
