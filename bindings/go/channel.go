// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

import (
	"math"
	"sync/atomic"
	"time"
	"unsafe"
)

// ChannelOpts are a channel's options; zero fields take the defaults.  The
// data ring, (Depth+2) * ceil(MTU/64) chunks of 64 bytes, may hold at most
// 2^32 chunks (a descriptor names its payload's chunk in 32 bits).
type ChannelOpts struct {
	Depth        uint32 // descriptors in the ring, a power of 2 in [2, 2^24]; 0 = 4096
	MTU          uint32 // largest fragment payload, 1..65535 bytes; 0 = 1024
	MaxConsumers uint32 // consumer slots, 1..256; 0 = 8
	MaxMsg       uint64 // largest (fragmented) message; 0 = min(16, Depth/2) * MTU
}

// The ctl bits of a descriptor (Commit's ctl, View.Ctl, Meta.Ctl): rill's
// own in bits 0..2, the application's in bits 3..15 (CtlUser).
const (
	CtlSOM       uint16 = 1 << 0          // first fragment of a message
	CtlEOM       uint16 = 1 << 1          // last fragment of a message
	CtlErr       uint16 = 1 << 2          // the message carries an error
	CtlMsg              = CtlSOM | CtlEOM // a whole message
	CtlUserShift        = 3               // bits 3..15 are the application's
)

// CtlUser puts an application value (13 bits) in the ctl bits it owns.
func CtlUser(x uint16) uint16 { return x << CtlUserShift }

func (o *ChannelOpts) norm() (ChannelOpts, error) {
	var n ChannelOpts
	if o != nil {
		n = *o
	}
	if n.Depth == 0 {
		n.Depth = 4096
	}
	if n.MTU == 0 {
		n.MTU = 1024
	}
	if n.MaxConsumers == 0 {
		n.MaxConsumers = 8
	}
	if n.Depth < 2 || n.Depth > maxDepth || n.Depth&(n.Depth-1) != 0 ||
		n.MTU > 0xffff || n.MaxConsumers > maxConsumers {
		return n, ErrInval
	}
	// A descriptor's chunk is 32 bits: every chunk of the data ring must
	// be one it can name (data_chunks <= 2^32), else a payload past chunk
	// 2^32 would be read from the ring's start.
	if (uint64(n.Depth)+2)*chunks(uint64(n.MTU)) > maxDataChunks {
		return n, ErrInval
	}
	if n.MaxMsg == 0 {
		f := uint64(n.Depth / 2)
		if f > 16 {
			f = 16
		}
		n.MaxMsg = f * uint64(n.MTU)
	}
	// A whole message must fit in half the ring, so that Send can always take
	// the credit for all its fragments at once.
	if n.MaxMsg < uint64(n.MTU) || frags(n.MaxMsg, n.MTU) > uint64(n.Depth/2) {
		return n, ErrInval
	}
	return n, nil
}

// ChannelFootprint is the bytes a channel with these options takes in a
// region (a multiple of 4096), or 0 if the options are invalid.
func ChannelFootprint(opts *ChannelOpts) uint64 {
	o, err := opts.norm()
	if err != nil {
		return 0
	}
	return chanGeom(o.Depth, o.MTU, o.MaxConsumers).size
}

func (r *Region) objCount() uint32 {
	// Acquire: pairs with the release store of obj_cnt in CreateChannel
	// (and rill_channel_create).
	n := atomic.LoadUint32(&r.hdr().objCnt)
	if n > maxObjects {
		n = maxObjects
	}
	return n
}

// findEntry returns a private copy of the table entry of name.
func (r *Region) findEntry(name string) (objEntry, error) {
	n := r.objCount()
	for i := uint32(0); i < n; i++ {
		e := *r.entry(i)
		if en, ok := cName(&e.name); ok && en == name {
			return e, nil
		}
	}
	return objEntry{}, ErrNoEnt
}

// Channels lists the names of the channels in the region, in creation order
// (none once it is closed; those read before a fault, if its file was
// shrunk under us).
func (r *Region) Channels() (out []string) {
	if r == nil || r.fd < 0 {
		return nil
	}
	var err error
	defer faultErr(noFault(), &err)
	n := r.objCount()
	out = make([]string, 0, n)
	for i := uint32(0); i < n; i++ {
		e := *r.entry(i)
		if name, ok := cName(&e.name); ok && e.typ == objChannel {
			out = append(out, name)
		}
	}
	return out
}

// CreateChannel creates channel name in the region.  Errors: ErrInval,
// ErrExist, ErrNoSpace (no room, or the object table is full), ErrAccess
// (the region was opened ReadOnly), ErrBusy (another process held the
// table's lock for more than a second), ErrIO.
func (r *Region) CreateChannel(name string, opts *ChannelOpts) error {
	if r == nil || r.fd < 0 || !validName(name) {
		return ErrInval
	}
	if r.readOnly {
		return ErrAccess
	}
	o, err := opts.norm()
	if err != nil {
		return err
	}
	g := chanGeom(o.Depth, o.MTU, o.MaxConsumers)
	if err := fileLock(r.fd); err != nil {
		return err
	}
	defer fileUnlock(r.fd)
	h := r.hdr()
	n := r.objCount()
	off := h.allocOff
	if _, err := r.findEntry(name); err == nil {
		return ErrExist
	}
	if n >= maxObjects || off%pageSize != 0 || off > r.size || g.size > r.size-off {
		return ErrNoSpace
	}
	base := unsafe.Add(r.m.base(), off)
	ch := (*chanHdr)(base)
	ch.version = layoutVersion
	ch.hdrSize = pageSize
	ch.size = g.size
	ch.depth = o.Depth
	ch.mtu = o.MTU
	ch.maxConsumers = o.MaxConsumers
	ch.flags = 0
	ch.maxMsg = o.MaxMsg
	ch.seq0 = 0
	ch.dataChunks = g.dataChunks
	ch.prodOff = g.prodOff
	ch.cursorOff = g.cursorOff
	ch.cursorStride = pageSize
	ch.metaOff = g.metaOff
	ch.dataOff = g.dataOff
	ch.createdNs = realNs()
	ch.name = [objNameSize]byte{}
	copy(ch.name[:], name)

	pp := (*prodPage)(unsafe.Add(base, g.prodOff))
	atomic.StoreUint64(&pp.seq, ch.seq0)
	// Slot i starts as "sequence i - depth": behind, so nothing is there.
	meta := unsafe.Slice((*desc)(unsafe.Add(base, g.metaOff)), o.Depth)
	for i := range meta {
		atomic.StoreUint64(&meta[i].seq, ch.seq0+uint64(i)-uint64(o.Depth))
	}
	// Release (seq_cst): pairs with the acquire load of the channel magic
	// in findChannel; everything above is visible to a joiner.
	atomic.StoreUint64(&ch.magic, channelMagic)

	e := r.entry(n)
	*e = objEntry{}
	copy(e.name[:], name)
	e.typ = objChannel
	e.off = off
	e.size = g.size
	h.allocOff = off + g.size
	// Release (seq_cst): pairs with the acquire load of obj_cnt in
	// objCount, and in WaitChannel before it parks on the word.
	atomic.StoreUint32(&h.objCnt, n+1)
	unpark(&h.objCnt) // WaitChannel sleeps on it
	return nil
}

// WaitChannel waits up to timeout (Forever: no limit; 0 or less: looks
// once) until channel name exists in the region, for a process that may
// start before the one that creates it.  It sleeps on a futex on the
// region's object count, which CreateChannel wakes (a creator using
// librill 0.2 does not: then it is seen within a second).  nil once the
// channel is in the table (join it next), ErrTimedOut, ErrNoEnt (a
// *NotExistError) if the table is full without it (it cannot appear),
// ErrInval.  As
// rill_channel_wait.
func (r *Region) WaitChannel(name string, timeout time.Duration) error {
	if r == nil || r.fd < 0 || !validName(name) {
		return ErrInval
	}
	h := r.hdr()
	deadline := uint64(math.MaxUint64)
	if timeout != Forever {
		deadline = addSat(monoNs(), uint64(max(timeout, 0)))
	}
	for {
		// Acquire: pairs with the release store of obj_cnt in
		// CreateChannel.  Loaded before the look: a channel added after it
		// changes the word, and the park returns at once.
		n := atomic.LoadUint32(&h.objCnt)
		if _, err := r.findEntry(name); err == nil {
			return nil
		}
		if n >= maxObjects {
			return notExist(ErrNoEnt, r.dir, r.name, name) // the table is full
		}
		now := monoNs()
		if now >= deadline {
			return ErrTimedOut
		}
		// Woken by CreateChannel; the slices bound the wait for a creator
		// that does not wake (librill 0.2).
		if testHookSleep != nil {
			testHookSleep()
		}
		if err := park(&h.objCnt, n, time.Duration(min(deadline-now, noWakeSlice))); err != nil && err != ErrTimedOut {
			return err
		}
	}
}

// chanInfo is a channel as found in a region: validated private copies of
// its header fields.
type chanInfo struct {
	off, size                uint64
	depth, mtu, maxConsumers uint32
	maxMsg, seq0             uint64
	createdNs                uint64
	g                        geom
}

// findChannel finds channel name and validates its header against the
// region (PROTOCOL.md §2.1).
func (r *Region) findChannel(name string) (chanInfo, error) {
	var ci chanInfo
	if r == nil || r.fd < 0 || !validName(name) {
		return ci, ErrInval
	}
	e, err := r.findEntry(name)
	if err != nil {
		return ci, notExist(err, r.dir, r.name, name)
	}
	rsize := r.hdr().size
	if rsize > r.size {
		rsize = r.size
	}
	if e.typ != objChannel || e.off < pageSize || e.off%pageSize != 0 ||
		e.size < 2*pageSize || e.off > rsize || e.size > rsize-e.off {
		return ci, ErrCorrupt
	}
	ch := (*chanHdr)(unsafe.Add(r.m.base(), e.off))
	// Acquire: pairs with the release store of magic at channel creation.
	if atomic.LoadUint64(&ch.magic) != channelMagic {
		return ci, ErrMagic
	}
	if ch.version != layoutVersion {
		return ci, ErrVersion
	}
	c := *ch // validate a private copy
	if c.depth == 0 || c.mtu == 0 || c.maxConsumers == 0 || c.maxMsg == 0 || c.flags != 0 {
		return ci, ErrCorrupt
	}
	o := ChannelOpts{Depth: c.depth, MTU: c.mtu, MaxConsumers: c.maxConsumers, MaxMsg: c.maxMsg}
	if _, err := o.norm(); err != nil {
		return ci, ErrCorrupt
	}
	g := chanGeom(c.depth, c.mtu, c.maxConsumers)
	if cn, ok := cName(&c.name); !ok || cn != name ||
		c.hdrSize != pageSize || c.size != g.size || c.size > e.size ||
		c.prodOff != g.prodOff || c.cursorOff != g.cursorOff || c.cursorStride != pageSize ||
		c.metaOff != g.metaOff || c.dataOff != g.dataOff || c.dataChunks != g.dataChunks {
		return ci, ErrCorrupt
	}
	ci = chanInfo{off: e.off, size: c.size, depth: c.depth, mtu: c.mtu,
		maxConsumers: c.maxConsumers, maxMsg: c.maxMsg, seq0: c.seq0, createdNs: c.createdNs, g: g}
	return ci, nil
}
