// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

// The Go interpreter of the shared test vectors (tests/vectors/*.vec, whose
// header is the format's spec), and the tests that run them across
// languages: Go writes and C checks, C writes and Go checks, and the two
// writers leave the same bytes.

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const vectorFile = "../../tests/vectors/basic.vec"

// vecPayload is bytes [off, off+n) of the vector message with sig s: byte
// j is (uint8)(s*31 + j).
func vecPayloadAt(sig uint64, off, n int) []byte {
	b := make([]byte, n)
	for j := range b {
		b[j] = byte(sig*31 + uint64(off+j))
	}
	return b
}

func vecPayload(sig uint64, n int) []byte { return vecPayloadAt(sig, 0, n) }

type vecLine struct {
	no  int
	tok []string
}

// vecRead returns the lines of the writer part and of the checker part.
func vecRead(file string) (write, check []vecLine, err error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	inCheck := false
	for no := 1; sc.Scan(); no++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		tok := strings.Fields(line)
		if len(tok) == 0 {
			continue
		}
		if tok[0] == "check" {
			inCheck = true
			continue
		}
		if inCheck {
			check = append(check, vecLine{no, tok})
		} else {
			write = append(write, vecLine{no, tok})
		}
	}
	return write, check, sc.Err()
}

type vecRunner struct {
	file   string
	dir    string
	region *Region
	prods  map[string]*Producer
	cons   map[string]map[int]*Consumer
	off    map[string]int // where the next commit of a channel goes on in its message
	buf    []byte
	line   vecLine
}

func (v *vecRunner) fail(format string, a ...any) error {
	return fmt.Errorf("%s:%d: %s", v.file, v.line.no, fmt.Sprintf(format, a...))
}

func (v *vecRunner) num(i int) uint64 {
	if i >= len(v.line.tok) {
		panic(v.fail("missing field %d", i))
	}
	x, err := strconv.ParseUint(v.line.tok[i], 10, 64)
	if err != nil {
		panic(v.fail("bad number %q", v.line.tok[i]))
	}
	return x
}

func (v *vecRunner) consumer(ch string, slot uint64) *Consumer {
	c := v.cons[ch][int(slot)]
	if c == nil {
		panic(v.fail("no consumer in slot %d of %s", slot, ch))
	}
	return c
}

// expectErr checks err against an optional "expect again|msgsize" tail at
// token index i.
func (v *vecRunner) expectErr(i int, err error) error {
	want := error(nil)
	if len(v.line.tok) > i {
		switch v.line.tok[i+1] {
		case "again":
			want = ErrAgain
		case "msgsize":
			want = ErrMsgSize
		default:
			return v.fail("unknown expectation %q", v.line.tok[i+1])
		}
	}
	if err != want {
		return v.fail("expected %v, got %v", want, err)
	}
	return nil
}

func parseLiveness(s string) (Liveness, bool) {
	switch s {
	case "none":
		return PeerNone, true
	case "alive":
		return PeerAlive, true
	case "dead":
		return PeerDead, true
	}
	return 0, false
}

func (v *vecRunner) kv(got map[string]string) error {
	for _, t := range v.line.tok {
		k, want, ok := strings.Cut(t, "=")
		if !ok {
			continue
		}
		g, known := got[k]
		if !known {
			return v.fail("unknown key %q", k)
		}
		if g != want {
			return v.fail("%s: expected %s, got %s", k, want, g)
		}
	}
	return nil
}

func (v *vecRunner) step() error {
	t := v.line.tok
	switch t[0] {
	case "region":
		if v.region != nil {
			return v.fail("region twice")
		}
		r, err := CreateRegion(t[1], &RegionOpts{Size: v.num(2), Dir: v.dir})
		if err != nil {
			return v.fail("create region: %v", err)
		}
		v.region = r
	case "channel":
		o := ChannelOpts{Depth: uint32(v.num(2)), MTU: uint32(v.num(3)),
			MaxConsumers: uint32(v.num(4)), MaxMsg: v.num(5)}
		if err := v.region.CreateChannel(t[1], &o); err != nil {
			return v.fail("create channel: %v", err)
		}
	case "consumer", "rejoin":
		var c *Consumer
		var err error
		if t[0] == "consumer" {
			mode := Reliable
			if t[2] == "lossy" {
				mode = Lossy
			}
			c, err = v.region.JoinConsumer(t[1], mode)
		} else {
			c, err = v.region.RejoinConsumer(t[1], int(v.num(2)))
		}
		if err != nil {
			return v.fail("%s: %v", t[0], err)
		}
		if v.cons[t[1]] == nil {
			v.cons[t[1]] = map[int]*Consumer{}
		}
		v.cons[t[1]][c.Slot()] = c
	case "producer":
		p, err := v.region.JoinProducer(t[1])
		if err != nil {
			return v.fail("producer: %v", err)
		}
		v.prods[t[1]] = p
	case "commit":
		p := v.prods[t[1]]
		n := int(v.num(2))
		buf, err := p.Reserve(n)
		if err != nil || len(t) > 6 {
			return v.expectErr(6, err)
		}
		ctl := uint16(v.num(4))
		if ctl&CtlSOM != 0 {
			v.off[t[1]] = 0
		}
		copy(buf, vecPayloadAt(v.num(3), v.off[t[1]], n))
		if err := p.CommitTS(n, v.num(3), ctl, uint32(v.num(5))); err != nil {
			return v.fail("commit: %v", err)
		}
		v.off[t[1]] += n
		if ctl&CtlEOM != 0 {
			v.off[t[1]] = 0
		}
	case "send":
		err := v.prods[t[1]].Send(vecPayload(v.num(3), int(v.num(2))), v.num(3))
		return v.expectErr(4, err)
	case "recv":
		c := v.consumer(t[1], v.num(2))
		var m Meta
		n, err := c.Recv(v.buf, &m)
		if t[4] == "again" {
			if err != ErrAgain {
				return v.fail("expected again, got %v", err)
			}
			return nil
		}
		if err != nil {
			return v.fail("recv: %v", err)
		}
		want := [5]uint64{v.num(4), v.num(5), v.num(6), v.num(7), v.num(8)}
		got := [5]uint64{uint64(n), m.Sig, uint64(m.Ctl), uint64(m.TSOrig), m.Lost}
		if got != want || m.Size != uint64(n) {
			return v.fail("expected size/sig/ctl/tsorig/lost %v, got %v", want, got)
		}
		if !bytes.Equal(v.buf[:n], vecPayload(m.Sig, n)) {
			return v.fail("payload differs")
		}
	case "poll":
		c := v.consumer(t[1], v.num(2))
		var view View
		err := c.Poll(&view)
		switch t[4] {
		case "empty":
			if err != ErrAgain {
				return v.fail("expected empty, got %v", err)
			}
		case "overrun":
			if err != ErrOverrun || view.Lost != v.num(5) {
				return v.fail("expected overrun %d, got %v (lost %d)", v.num(5), err, view.Lost)
			}
		case "msg":
			if err != nil {
				return v.fail("poll: %v", err)
			}
			want := [5]uint64{v.num(5), v.num(6), v.num(7), v.num(8), v.num(9)}
			got := [5]uint64{view.Seq, uint64(len(view.Data)), view.Sig, uint64(view.Ctl), uint64(view.TSOrig)}
			if got != want {
				return v.fail("expected seq/size/sig/ctl/tsorig %v, got %v", want, got)
			}
			if !bytes.Equal(view.Data, vecPayloadAt(view.Sig, int(v.num(10)), len(view.Data))) {
				return v.fail("payload differs")
			}
		default:
			return v.fail("unknown poll expectation")
		}
	case "wait":
		c := v.consumer(t[1], v.num(2))
		var m Meta
		_, err := c.RecvWait(v.buf, &m, 5*time.Second)
		want := ErrClosed
		if t[4] == "dead" {
			want = ErrDead
		}
		if err != want {
			return v.fail("expected %v, got %v", want, err)
		}
	case "flush", "leave":
		if t[2] == "producer" {
			p := v.prods[t[1]]
			if t[0] == "flush" {
				return p.Flush()
			}
			delete(v.prods, t[1])
			return p.Leave()
		}
		c := v.consumer(t[1], v.num(2))
		if t[0] == "flush" {
			return c.Flush()
		}
		delete(v.cons[t[1]], int(v.num(2)))
		return c.Leave()
	case "stats":
		st, err := v.region.Stats(t[1])
		if err != nil {
			return v.fail("stats: %v", err)
		}
		return v.kv(map[string]string{
			"seq": fmt.Sprint(st.Seq), "msgs": fmt.Sprint(st.Msgs), "bytes": fmt.Sprint(st.Bytes),
			"backpressure": fmt.Sprint(st.Backpressure), "consumers": fmt.Sprint(st.Consumers),
			"evictions": fmt.Sprint(st.Evictions), "producer": st.ProducerLiveness.String(),
		})
	case "slot":
		st, err := v.region.Stats(t[1])
		if err != nil {
			return v.fail("stats: %v", err)
		}
		s := st.Slots[v.num(2)]
		mode := map[Mode]string{Reliable: "reliable", Lossy: "lossy"}[s.Mode]
		return v.kv(map[string]string{
			"mode": mode, "seq": fmt.Sprint(s.Seq), "msgs": fmt.Sprint(s.Msgs),
			"bytes": fmt.Sprint(s.Bytes), "overrun_poll": fmt.Sprint(s.OverrunPoll),
			"overrun_read": fmt.Sprint(s.OverrunRead), "lost": fmt.Sprint(s.Lost),
			"liveness": s.Liveness.String(), "evicted": map[bool]string{false: "0", true: "1"}[s.Evicted],
		})
	default:
		return v.fail("unknown line %q", t[0])
	}
	return nil
}

// vectorRun runs the writer ("write") or checker ("check") part of file in
// dir.  Endpoints not left explicitly are not left: the caller exits.
func vectorRun(file, dir, phase string) (err error) {
	write, check, err := vecRead(file)
	if err != nil {
		return err
	}
	v := &vecRunner{file: file, dir: dir, prods: map[string]*Producer{}, off: map[string]int{},
		cons: map[string]map[int]*Consumer{}, buf: make([]byte, 65536)}
	lines := write
	if phase == "check" {
		lines = check
		name := ""
		for _, l := range write {
			if l.tok[0] == "region" {
				name = l.tok[1]
			}
		}
		if v.region, err = OpenRegion(name, &RegionOpts{Dir: dir}); err != nil {
			return fmt.Errorf("%s: open region %s: %v", file, name, err)
		}
	}
	defer func() {
		if p := recover(); p != nil {
			e, ok := p.(error)
			if !ok {
				panic(p)
			}
			err = e
		}
	}()
	for _, l := range lines {
		v.line = l
		if err := v.step(); err != nil {
			return err
		}
	}
	return nil
}

// ---- the masked byte comparison ----------------------------------------

// vecMask zeroes the fields two writers legitimately differ in: times, pids,
// the producer's ASYM flag and the wait page's stamp_req (PROTOCOL.md §4).
func vecMask(b []byte) {
	zero := func(off, n uint64) {
		for i := off; i < off+n && i < uint64(len(b)); i++ {
			b[i] = 0
		}
	}
	u32 := func(off uint64) uint32 {
		return uint32(b[off]) | uint32(b[off+1])<<8 | uint32(b[off+2])<<16 | uint32(b[off+3])<<24
	}
	u64 := func(off uint64) uint64 { return uint64(u32(off)) | uint64(u32(off+4))<<32 }
	zero(24, 8) // region created_ns
	zero(32, 4) // creator_pid
	cnt := u32(44)
	for i := uint64(0); i < uint64(cnt) && i < maxObjects; i++ {
		e := tableOff + i*64
		off := u64(e + 48)
		g := chanGeom(u32(off+24), u32(off+28), u32(off+32))
		zero(off+104, 8) // channel created_ns
		pp := off + g.prodOff
		zero(pp+12, 4) // producer pid
		zero(pp+20, 4) // flags (ASYM)
		zero(pp+32, 8) // hb_ns
		// stamp_req: bumped at heartbeat flushes, whose countdown is random
		zero(off+g.waitOff+8, 4)
		for s := uint64(0); s < uint64(u32(off+32)); s++ {
			k := off + g.cursorOff + s*pageSize
			zero(k+16, 4)     // pid
			zero(k+32, 8)     // hb_ns
			zero(k+128, 8)    // lat_sum
			zero(k+192, 1024) // lat (samples)
		}
		for d := uint64(0); d < uint64(u32(off+24)); d++ {
			zero(off+g.metaOff+d*32+28, 4) // tspub (and whether it is 0)
		}
	}
}

// ---- running peers -------------------------------------------------------

// xpeer is the C peer program (build/rill_xpeer), from $RILL_XPEER.
func xpeer(t *testing.T) string {
	p := os.Getenv("RILL_XPEER")
	if p == "" {
		if os.Getenv("RILL_REQUIRE_XPEER") != "" {
			t.Fatal("RILL_XPEER is not set")
		}
		t.Skip("RILL_XPEER (path of the C peer, build/rill_xpeer) is not set")
	}
	return p
}

func runCmd(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// goPeer runs this test binary as a peer process (see TestMain).
func goPeer(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "RILL_GO_PEER=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go peer %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func readMasked(t *testing.T, path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	vecMask(b)
	return b
}

func TestVectorGoGo(t *testing.T) {
	dir := testTempDir(t)
	goPeer(t, "vector", "write", vectorFile, dir)
	goPeer(t, "vector", "check", vectorFile, dir)
}

func TestVectorGoWritesCReads(t *testing.T) {
	x := xpeer(t)
	dir := testTempDir(t)
	goPeer(t, "vector", "write", vectorFile, dir)
	runCmd(t, x, "vector", "check", vectorFile, dir)
}

func TestVectorCWritesGoReads(t *testing.T) {
	x := xpeer(t)
	dir := testTempDir(t)
	runCmd(t, x, "vector", "write", vectorFile, dir)
	goPeer(t, "vector", "check", vectorFile, dir)
}

// Two writers, one per language, leave the same bytes but for the masked
// fields.
func TestVectorSameBytes(t *testing.T) {
	x := xpeer(t)
	cdir, godir := testTempDir(t), testTempDir(t)
	runCmd(t, x, "vector", "write", vectorFile, cdir)
	goPeer(t, "vector", "write", vectorFile, godir)
	cb, gb := readMasked(t, cdir+"/vec"), readMasked(t, godir+"/vec")
	if len(cb) != len(gb) {
		t.Fatalf("region sizes differ: C %d, Go %d", len(cb), len(gb))
	}
	for i := range cb {
		if cb[i] != gb[i] {
			t.Fatalf("first difference at byte %d (%#x): C %#02x, Go %#02x", i, i, cb[i], gb[i])
		}
	}
	if bytes.Count(cb, []byte{0}) == len(cb) {
		t.Fatal("the region is all zero")
	}
}
