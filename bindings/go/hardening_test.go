// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

// Hostile or broken channels (issue 18): what a consumer or producer must
// refuse, and what it must survive.

import (
	"encoding/binary"
	"os"
	"testing"
)

// hugeChannelRegion writes, as a sparse file, a region whose one channel
// "c" has the header of depth and mtu (2 consumer slots), every field as
// the formulas of PROTOCOL.md §2 give it, and returns the directory.
func hugeChannelRegion(t *testing.T, depth, mtu uint32) string {
	t.Helper()
	good := validRegionBytes(t)
	chOff := binary.LittleEndian.Uint64(good[tableOff+48:])
	g := chanGeom(depth, mtu, 2)
	b := good[:chOff+pageSize] // region header and table, channel header
	le := binary.LittleEndian
	total := chOff + g.size
	le.PutUint64(b[16:], total)           // region size
	le.PutUint64(b[48:], total)           // alloc_off
	le.PutUint64(b[tableOff+56:], g.size) // entry size
	h := b[chOff:]
	le.PutUint64(h[16:], g.size)
	le.PutUint32(h[24:], depth)
	le.PutUint32(h[28:], mtu)
	le.PutUint64(h[40:], uint64(min(16, depth/2))*uint64(mtu))
	le.PutUint64(h[56:], g.dataChunks)
	le.PutUint64(h[88:], g.metaOff)
	le.PutUint64(h[96:], g.dataOff)
	dir := t.TempDir()
	must(t, os.WriteFile(dir+"/h", b, 0o600))
	must(t, os.Truncate(dir+"/h", int64(total)))
	return dir
}

// A descriptor's chunk is 32 bits: a data ring of more than 2^32 chunks
// would have payloads past chunk 2^32 read from the ring's start.  Such a
// geometry is refused at creation (footprint 0, ErrInval), and a header
// that claims one is corrupt to both endpoints.
func TestDataChunksLimit(t *testing.T) {
	// (2^22 + 2) * 1024 chunks: just over 2^32.
	over := ChannelOpts{Depth: 1 << 22, MTU: 65535}
	if n := ChannelFootprint(&over); n != 0 {
		t.Errorf("footprint of %d data chunks: %d, want 0", chanGeom(over.Depth, over.MTU, 8).dataChunks, n)
	}
	r := testRegion(t, 1<<20)
	if err := r.CreateChannel("c", &over); err != ErrInval {
		t.Errorf("create with %d data chunks: %v, want ErrInval", chanGeom(over.Depth, over.MTU, 8).dataChunks, err)
	}
	// (2^22 + 2) * 1023 chunks: just under, accepted.
	under := ChannelOpts{Depth: 1 << 22, MTU: 1023 * 64}
	if g := chanGeom(under.Depth, under.MTU, 8); g.dataChunks > 1<<32 || ChannelFootprint(&under) != g.size {
		t.Errorf("%d data chunks: footprint %d, want %d", g.dataChunks, ChannelFootprint(&under), g.size)
	}

	dir := hugeChannelRegion(t, 1<<22, 65535)
	hr, err := OpenRegion("h", &RegionOpts{Dir: dir})
	must(t, err)
	defer hr.Close()
	if c, err := hr.JoinConsumer("c", Lossy); err != ErrCorrupt {
		t.Errorf("consumer of a channel of more than 2^32 chunks: %v, want ErrCorrupt", err)
		if err == nil {
			c.Leave()
		}
	}
	if p, err := hr.JoinProducer("c"); err != ErrCorrupt {
		t.Errorf("producer of a channel of more than 2^32 chunks: %v, want ErrCorrupt", err)
		if err == nil {
			p.Leave()
		}
	}
}
