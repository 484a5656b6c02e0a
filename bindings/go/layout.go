// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

// The bytes in shared memory, as docs/PROTOCOL.md states them.  Every struct
// here mirrors one in src/layout.h; the constant block at the end fails to
// compile if an offset or size drifts from the protocol (Go's equivalent of
// the C side's _Static_assert).
//
// Memory order.  Go's sync/atomic operations are sequentially consistent,
// stronger than every order the protocol names, so a field the protocol calls
// atomic is always accessed through sync/atomic here.  Go has no 16-bit
// atomics: the descriptor's sz and ctl (two u16 at offsets 20 and 22) are
// read and written together as one naturally aligned u32 (PROTOCOL.md §2.4
// allows this).

import (
	"math/bits"
	"unsafe"
)

const (
	layoutVersion = 2
	pageSize      = 4096 // unit of every section of the layout
	chunkSize     = 64   // data ring allocation unit
	chunkShift    = 6

	regionMagic  = 0x6e6765726c6c6972 // "rillregn" as a little-endian u64
	channelMagic = 0x6e6168636c6c6972 // "rillchan"

	objNameSize   = 40 // NameMax + NUL
	maxObjects    = 62
	objChannel    = ObjectChannel
	tableOff      = 128
	maxDepth      = 1 << 24
	maxDataChunks = 1 << 32 // a descriptor's chunk is a u32

	// A producer flushes its seq at least every maxFlushLag publishes: a
	// slot holding a sequence number further ahead of the flushed seq is
	// garbage.  A consumer's overruns since it joined skip fewer than
	// maxJumped sequence numbers in all (PROTOCOL.md §3.2).
	maxFlushLag   = 1 << 32
	maxJumped     = 1 << 62
	maxConsumers  = 256
	defaultRegion = 64 << 20

	prodNone   = 0 // producer page state: no producer yet
	prodJoined = 1
	prodLeft   = 2 // the producer left: the channel is closed
	// producer page flags (PROTOCOL.md §2.2)
	prodFAsym    = 1 // consumers run a heavy barrier before parking (§3.7)
	prodFLazy    = 2 // it fences after a publish only once asked (§3.7a)
	prodFFencing = 4 // asked (LAZY): it now fences after every publish

	curFree    = 0 // cursor state
	curJoining = 1
	curActive  = 2

	// A producer stamps tspub on every descriptor whose seq is a multiple
	// of stampPeriod, among others (PROTOCOL.md §2.4; RILL_STAMP_PERIOD).
	stampPeriodShift = 6
	stampPeriod      = 1 << stampPeriodShift
	// A consumer asks for a stamp (bumps stamp_req) at most this often
	// (RILL_STAMP_ASK_NS).
	stampAskNs = 1000000
	// An empty poll counts one in idlePolls toward a consumer's periodic
	// flush (PROTOCOL.md §3.4; RILL_IDLE_POLLS).
	idlePolls = 16
)

// NameMax is the longest region or channel name, in bytes.
const NameMax = 39

type regionHdr struct {
	magic      uint64 // 0 written last
	version    uint32 // 8
	hdrSize    uint32 // 12
	size       uint64 // 16
	createdNs  uint64 // 24
	creatorPid uint32 // 32
	creatorUid uint32 // 36
	objMax     uint32 // 40
	objCnt     uint32 // 44 stored after the entry
	allocOff   uint64 // 48
	_          [72]byte
}

type objEntry struct {
	name  [objNameSize]byte // 0
	typ   uint32            // 40
	flags uint32            // 44
	off   uint64            // 48
	size  uint64            // 56
}

type chanHdr struct {
	magic        uint64 // 0 written last
	version      uint32 // 8
	hdrSize      uint32 // 12
	size         uint64 // 16
	depth        uint32 // 24
	mtu          uint32 // 28
	maxConsumers uint32 // 32
	flags        uint32 // 36
	maxMsg       uint64 // 40
	seq0         uint64 // 48
	dataChunks   uint64 // 56
	prodOff      uint64 // 64
	cursorOff    uint64 // 72
	cursorStride uint64 // 80
	metaOff      uint64 // 88
	dataOff      uint64 // 96
	createdNs    uint64 // 104
	name         [objNameSize]byte
}

type prodPage struct {
	seq          uint64 // 0 next sequence number, as flushed
	state        uint32 // 8
	pid          uint32 // 12
	wake         uint32 // 16 futex word consumers park on
	flags        uint32 // 20
	crWait       uint32 // 24 nonzero while the producer waits for credit
	gen          uint32 // 28
	hbNs         uint64 // 32
	_            [24]byte
	msgs         uint64 // 64
	bytes        uint64 // 72
	backpressure uint64 // 80
	evictions    uint64 // 88
	wakes        uint64 // 96
	_            [24]byte
	evicted      [maxConsumers]uint32 // 128
}

type waitPage struct {
	armGen   uint32 // 0 bumped by a consumer about to park or arm its fd
	fenceReq uint32 // 4 set to 1 (never cleared) by a consumer asking a LAZY producer to fence
	stampReq uint32 // 8 bumped by a consumer that wants a tspub stamp (since 0.4)
	_        [52]byte
	crWake   uint32 // 64 futex word of a producer waiting for credit
	_        [60]byte
}

type cursor struct {
	state       uint32 // 0
	mode        uint32 // 4
	seq         uint64 // 8
	pid         uint32 // 16
	gen         uint32 // 20
	park        uint32 // 24
	fdGen       uint32 // 28
	hbNs        uint64 // 32
	stampGen    uint32 // 40 = gen: this join samples stamped descriptors only (0.4)
	_           [20]byte
	msgs        uint64 // 64
	bytes       uint64 // 72
	overrunPoll uint64 // 80
	overrunRead uint64 // 88
	lost        uint64 // 96
	_           [24]byte
	// 128: publish-to-consume latency samples (now - tspub, ns), one taken
	// at the first stamped message (tspub != 0) consumed after each
	// heartbeat flush.
	latSum uint64 // 128 sum of the samples
	_      [56]byte
	lat    [latBuckets]uint64 // 192 samples per bucket
}

// latBuckets are a quarter of an octave each: values 0..3 have a bucket
// each; a value v >= 4 with top bit e goes in 4(e-1) + the two bits below
// the top one (PROTOCOL.md §2.3).
const latBuckets = 128

func latBucket(ns uint32) uint32 {
	if ns < 4 {
		return ns
	}
	e := uint32(31 - bits.LeadingZeros32(ns))
	return 4*(e-1) + (ns>>(e-2))&3
}

type desc struct {
	seq    uint64 // 0
	sig    uint64 // 8
	chunk  uint32 // 16
	szctl  uint32 // 20: sz (u16 at 20) and ctl (u16 at 22), as one word
	tsorig uint32 // 24
	tspub  uint32 // 28
}

// Compile-time layout checks: "-(x - y)" is a constant that overflows
// uintptr, a compile error, unless x == y.
const (
	_ = -(unsafe.Sizeof(regionHdr{}) - 128)
	_ = -(unsafe.Offsetof(regionHdr{}.version) - 8)
	_ = -(unsafe.Offsetof(regionHdr{}.hdrSize) - 12)
	_ = -(unsafe.Offsetof(regionHdr{}.size) - 16)
	_ = -(unsafe.Offsetof(regionHdr{}.createdNs) - 24)
	_ = -(unsafe.Offsetof(regionHdr{}.creatorPid) - 32)
	_ = -(unsafe.Offsetof(regionHdr{}.creatorUid) - 36)
	_ = -(unsafe.Offsetof(regionHdr{}.objMax) - 40)
	_ = -(unsafe.Offsetof(regionHdr{}.objCnt) - 44)
	_ = -(unsafe.Offsetof(regionHdr{}.allocOff) - 48)
	_ = -(unsafe.Sizeof(objEntry{}) - 64)
	_ = -(unsafe.Offsetof(objEntry{}.typ) - 40)
	_ = -(unsafe.Offsetof(objEntry{}.off) - 48)
	_ = -(unsafe.Offsetof(objEntry{}.size) - 56)
	_ = -(tableOff + maxObjects*unsafe.Sizeof(objEntry{}) - pageSize)

	_ = -(unsafe.Sizeof(chanHdr{}) - 152)
	_ = -(unsafe.Offsetof(chanHdr{}.depth) - 24)
	_ = -(unsafe.Offsetof(chanHdr{}.mtu) - 28)
	_ = -(unsafe.Offsetof(chanHdr{}.maxConsumers) - 32)
	_ = -(unsafe.Offsetof(chanHdr{}.maxMsg) - 40)
	_ = -(unsafe.Offsetof(chanHdr{}.seq0) - 48)
	_ = -(unsafe.Offsetof(chanHdr{}.dataChunks) - 56)
	_ = -(unsafe.Offsetof(chanHdr{}.prodOff) - 64)
	_ = -(unsafe.Offsetof(chanHdr{}.cursorOff) - 72)
	_ = -(unsafe.Offsetof(chanHdr{}.cursorStride) - 80)
	_ = -(unsafe.Offsetof(chanHdr{}.metaOff) - 88)
	_ = -(unsafe.Offsetof(chanHdr{}.dataOff) - 96)
	_ = -(unsafe.Offsetof(chanHdr{}.createdNs) - 104)
	_ = -(unsafe.Offsetof(chanHdr{}.name) - 112)

	_ = -(unsafe.Sizeof(prodPage{}) - 1152)
	_ = -(unsafe.Offsetof(prodPage{}.state) - 8)
	_ = -(unsafe.Offsetof(prodPage{}.pid) - 12)
	_ = -(unsafe.Offsetof(prodPage{}.wake) - 16)
	_ = -(unsafe.Offsetof(prodPage{}.flags) - 20)
	_ = -(unsafe.Offsetof(prodPage{}.crWait) - 24)
	_ = -(unsafe.Offsetof(prodPage{}.gen) - 28)
	_ = -(unsafe.Offsetof(prodPage{}.hbNs) - 32)
	_ = -(unsafe.Offsetof(prodPage{}.msgs) - 64)
	_ = -(unsafe.Offsetof(prodPage{}.bytes) - 72)
	_ = -(unsafe.Offsetof(prodPage{}.backpressure) - 80)
	_ = -(unsafe.Offsetof(prodPage{}.evictions) - 88)
	_ = -(unsafe.Offsetof(prodPage{}.wakes) - 96)
	_ = -(unsafe.Offsetof(prodPage{}.evicted) - 128)

	_ = -(unsafe.Sizeof(waitPage{}) - 128)
	_ = -(unsafe.Offsetof(waitPage{}.fenceReq) - 4)
	_ = -(unsafe.Offsetof(waitPage{}.stampReq) - 8)
	_ = -(unsafe.Offsetof(waitPage{}.crWake) - 64)
	_ = -(uintptr(prodFAsym) - 1)
	_ = -(uintptr(prodFLazy) - 2)
	_ = -(uintptr(prodFFencing) - 4)

	_ = -(unsafe.Sizeof(cursor{}) - 1216)
	_ = -(unsafe.Offsetof(cursor{}.latSum) - 128)
	_ = -(unsafe.Offsetof(cursor{}.lat) - 192)
	_ = -(uintptr(LatencyBuckets) - latBuckets)
	_ = -(unsafe.Offsetof(cursor{}.mode) - 4)
	_ = -(unsafe.Offsetof(cursor{}.seq) - 8)
	_ = -(unsafe.Offsetof(cursor{}.pid) - 16)
	_ = -(unsafe.Offsetof(cursor{}.gen) - 20)
	_ = -(unsafe.Offsetof(cursor{}.park) - 24)
	_ = -(unsafe.Offsetof(cursor{}.fdGen) - 28)
	_ = -(unsafe.Offsetof(cursor{}.hbNs) - 32)
	_ = -(unsafe.Offsetof(cursor{}.stampGen) - 40)
	_ = -(uintptr(stampPeriod) - 64)
	_ = -(unsafe.Offsetof(cursor{}.msgs) - 64)
	_ = -(unsafe.Offsetof(cursor{}.bytes) - 72)
	_ = -(unsafe.Offsetof(cursor{}.overrunPoll) - 80)
	_ = -(unsafe.Offsetof(cursor{}.overrunRead) - 88)
	_ = -(unsafe.Offsetof(cursor{}.lost) - 96)

	_ = -(unsafe.Sizeof(desc{}) - 32)
	_ = -(unsafe.Offsetof(desc{}.sig) - 8)
	_ = -(unsafe.Offsetof(desc{}.chunk) - 16)
	_ = -(unsafe.Offsetof(desc{}.szctl) - 20)
	_ = -(unsafe.Offsetof(desc{}.tsorig) - 24)
	_ = -(unsafe.Offsetof(desc{}.tspub) - 28)
)

// geom is the whole channel layout, derived from its options.
type geom struct {
	prodOff, waitOff, cursorOff, metaOff, dataOff, dataChunks, size uint64
}

func alignUp(x, a uint64) uint64 { return (x + a - 1) &^ (a - 1) }

// chunks is how many 64-byte chunks a payload of n bytes takes.
func chunks(n uint64) uint64 { return (n + chunkSize - 1) >> chunkShift }

// frags is how many fragments an n-byte message takes (a 0-byte message is
// one fragment); it cannot overflow.
func frags(n uint64, mtu uint32) uint64 {
	if n == 0 {
		return 1
	}
	return (n-1)/uint64(mtu) + 1
}

func chanGeom(depth, mtu, maxCons uint32) geom {
	var g geom
	g.prodOff = pageSize
	g.waitOff = 2 * pageSize
	g.cursorOff = 3 * pageSize
	g.metaOff = g.cursorOff + uint64(maxCons)*pageSize
	g.dataOff = g.metaOff + alignUp(uint64(depth)*uint64(unsafe.Sizeof(desc{})), pageSize)
	g.dataChunks = (uint64(depth) + 2) * chunks(uint64(mtu))
	g.size = g.dataOff + alignUp(g.dataChunks*chunkSize, pageSize)
	return g
}

// szctl packing: sz is the u16 at offset 20, ctl the one at 22, in the
// host's byte order.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

func packSzCtl(sz uint32, ctl uint16) uint32 {
	if littleEndian {
		return sz | uint32(ctl)<<16
	}
	return sz<<16 | uint32(ctl)
}

func unpackSzCtl(w uint32) (sz uint32, ctl uint16) {
	if littleEndian {
		return w & 0xffff, uint16(w >> 16)
	}
	return w >> 16, uint16(w)
}

// mix is splitmix64's finaliser (the C side's rill__rng_next).
func rngNext(s *uint64) uint64 {
	*s += 0x9e3779b97f4a7c15
	x := *s
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// jitter is a random interval in [n/2, n], at least 1: housekeeping never
// runs in lock step between endpoints.
func jitter(s *uint64, n uint64) uint64 {
	lo := n / 2
	if lo == 0 {
		lo = 1
	}
	return lo + rngNext(s)%(n-lo+1)
}

func validName(name string) bool {
	if len(name) == 0 || len(name) > NameMax || name[0] == '.' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// cName is the NUL-terminated name in a 40-byte field, ok false if there is
// no NUL.
func cName(b *[objNameSize]byte) (string, bool) {
	for i, c := range b {
		if c == 0 {
			return string(b[:i]), true
		}
	}
	return "", false
}
