// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

import (
	"bytes"
	"os"
	"testing"
)

// Names Windows keeps for devices (NUL, con, COM1, aux.x in any directory)
// and a trailing dot are valid rill names: each is a plain file in the
// region directory on every system, never the device (PROTOCOL.md §5).
func TestDeviceNamesArePlainFiles(t *testing.T) {
	dir := testTempDir(t)
	opts := &RegionOpts{Size: 1 << 16, Dir: dir}
	for _, name := range []string{"NUL", "con", "aux.x", "COM1", "lpt1", "dot."} {
		r, err := CreateRegion(name, opts)
		if err != nil {
			t.Fatalf("create %q: %v", name, err)
		}
		ents, err := os.ReadDir(dir)
		if err != nil || len(ents) != 1 || ents[0].Name() != name {
			t.Fatalf("create %q: directory holds %v (%v), want the one file", name, ents, err)
		}
		r.Close()
		if r, err = OpenRegion(name, opts); err != nil {
			t.Fatalf("open %q: %v", name, err)
		}
		r.Close()
		if err := UnlinkRegion(name, dir); err != nil {
			t.Fatalf("unlink %q: %v", name, err)
		}
	}
}

// A region unlinked while open keeps working for whoever has it: new
// endpoints join it and messages flow (the Windows endpoints' handles are
// duplicates of the region's, which need no name).
func TestJoinAfterUnlink(t *testing.T) {
	dir := testTempDir(t)
	r, err := CreateRegion("gone", &RegionOpts{Size: 1 << 20, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.CreateChannel("ch", &ChannelOpts{Depth: 64, MTU: 256}); err != nil {
		t.Fatal(err)
	}
	if err := UnlinkRegion("gone", dir); err != nil {
		t.Fatal(err)
	}
	c, err := r.JoinConsumer("ch", Reliable)
	if err != nil {
		t.Fatalf("consumer join after unlink: %v", err)
	}
	defer c.Leave()
	p, err := r.JoinProducer("ch")
	if err != nil {
		t.Fatalf("producer join after unlink: %v", err)
	}
	defer p.Leave()
	msg := []byte("still here")
	if err := p.Send(msg, 7); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 256)
	var m Meta
	n, err := c.Recv(buf, &m)
	if err != nil || !bytes.Equal(buf[:n], msg) || m.Sig != 7 {
		t.Fatalf("recv: %q sig %d, %v", buf[:n], m.Sig, err)
	}
}
