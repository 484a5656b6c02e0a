// SPDX-License-Identifier: Apache-2.0 OR MIT

// Command rill-goworker is the Go side of rill_bench's measurements: the
// benchmark starts it, pinned, as
//
//	rill-goworker worker bsend|brecv|bping|bpong|version ARGS...
//
// with the commands and the output lines of the C worker (bench/worker.c,
// bench/proc.h): "ready", "result KEY VALUE ...", "samples NS ...", "info
// KEY TEXT".  It only moves and checks messages and reads the clock; the
// medians, percentiles and the report are rill_bench's.  Consumers copy
// every message out (Recv) and check every word of it.
//
// It is a module of its own (bench/go), built against the binding in
// bindings/go through the repository's go.work; make bench builds it, or by
// hand:
//
//	cd bench/go && go build -o ../../build/rill-goworker ./cmd/rill-goworker
package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"

	rill "github.com/rill-ipc/rill/bindings/go"
)

const (
	msgKey   = 0x5a5aa5a5c3c33c3c
	wordMult = 0x9e3779b97f4a7c15
	spinFor  = 30 * time.Second
)

// ---- the message format of bench/bench.h ------------------------------

// A message of n bytes (n a multiple of 8) is n/8 little-endian words: word
// 0 is its sequence number, the last word (n >= 16) seq ^ msgKey, and word k
// between is (k+1) * wordMult.  The consumer adds up every word.

// le64 and put64: one 8-byte load or store each, as the C worker's memcpy
// (a store written byte by byte would also stall the copy that reads the
// message next: a load is not forwarded from several stores).
func le64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }

func put64(b []byte, v uint64) { binary.LittleEndian.PutUint64(b, v) }

func template(n int) []byte {
	b := make([]byte, n)
	for k := 1; k+1 < n/8; k++ {
		put64(b[8*k:], uint64(k+1)*wordMult)
	}
	return b
}

func midsum(n int) uint64 {
	s := uint64(0)
	for k := 1; k+1 < n/8; k++ {
		s += uint64(k+1) * wordMult
	}
	return s
}

func stamp(b []byte, seq uint64) {
	put64(b, seq)
	if len(b) >= 16 {
		put64(b[len(b)-8:], seq^msgKey)
	}
}

// verify checks message b against *expect and returns the errors it shows.
func verify(b []byte, expect *uint64, mid uint64) uint64 {
	sum := uint64(0)
	for i := 0; i+8 <= len(b); i += 8 {
		sum += le64(b[i:])
	}
	w0 := le64(b)
	errs := uint64(0)
	want := w0 + mid
	if len(b) >= 16 {
		want += w0 ^ msgKey
	}
	if sum != want || len(b)%8 != 0 {
		errs++
	}
	if w0 != *expect {
		errs++
	}
	*expect = w0 + 1
	return errs
}

// ---- Go workers (this program re-executed) --------------------------------

func open(dir, region string) *rill.Region {
	r, err := rill.OpenRegion(region, &rill.RegionOpts{Dir: dir})
	if err != nil {
		fail("open region: %v", err)
	}
	return r
}

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "rill-goworker: "+format+"\n", a...)
	os.Exit(1)
}

func atou(s string) uint64 {
	x, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		fail("bad number %q", s)
	}
	return x
}

// send: bsend DIR REGION CHAN SIZE WARM COUNT
func workerSend(a []string) {
	r := open(a[0], a[1])
	p, err := r.JoinProducer(a[2])
	if err != nil {
		fail("join producer: %v", err)
	}
	n, total := int(atou(a[3])), atou(a[4])+atou(a[5])
	msg := template(n)
	p.SetSpin(spinFor)
	for seq := uint64(0); seq < total; seq++ {
		stamp(msg, seq)
		if err := p.Send(msg, seq); err != nil {
			if err != rill.ErrAgain {
				fail("send: %v", err)
			}
			if err := p.SendWait(msg, seq, spinFor); err != nil {
				fail("send: %v", err)
			}
		}
	}
	p.Leave()
}

// recv: brecv DIR REGION CHAN SIZE WARM COUNT; prints "result ns NS count N errors E"
func workerRecv(a []string) {
	r := open(a[0], a[1])
	c, err := r.JoinConsumer(a[2], rill.Reliable)
	if err != nil {
		fail("join consumer: %v", err)
	}
	c.SetSpin(spinFor)
	n, warm, count := int(atou(a[3])), atou(a[4]), atou(a[5])
	fmt.Println("ready")
	buf := make([]byte, c.MaxMsg())
	mid := midsum(n)
	var m rill.Meta
	expect, errs := uint64(0), uint64(0)
	var t0 time.Time
	for i := uint64(0); i < warm+count; i++ {
		if i == warm {
			t0 = time.Now()
		}
		k, err := c.Recv(buf, &m)
		if err == rill.ErrAgain {
			k, err = c.RecvWait(buf, &m, spinFor)
		}
		if err != nil {
			fail("recv %d: %v", i, err)
		}
		errs += verify(buf[:k], &expect, mid)
	}
	ns := time.Since(t0).Nanoseconds()
	fmt.Printf("result ns %d count %d errors %d lost 0\n", ns, count, errs)
	c.Leave()
}

// ping: bping DIR REGION OUT IN SIZE WARM COUNT; prints "result errors E"
// and every measured round trip's ns on "samples" lines
func workerPing(a []string) {
	r := open(a[0], a[1])
	c, err := r.JoinConsumer(a[3], rill.Reliable)
	if err != nil {
		fail("join consumer: %v", err)
	}
	p, err := r.JoinProducer(a[2])
	if err != nil {
		fail("join producer: %v", err)
	}
	c.SetSpin(spinFor)
	p.SetSpin(spinFor)
	n, warm, count := int(atou(a[4])), atou(a[5]), atou(a[6])
	msg, buf := template(n), make([]byte, c.MaxMsg())
	mid := midsum(n)
	var m rill.Meta
	samples := make([]int64, 0, count)
	errs := uint64(0)
	for seq := uint64(0); seq < warm+count; seq++ {
		stamp(msg, seq)
		t0 := time.Now()
		if err := p.SendWait(msg, seq, spinFor); err != nil {
			fail("ping send: %v", err)
		}
		k, err := c.RecvWait(buf, &m, spinFor)
		if err != nil {
			fail("ping recv: %v", err)
		}
		d := time.Since(t0).Nanoseconds()
		exp := seq
		errs += verify(buf[:k], &exp, mid)
		if seq >= warm {
			samples = append(samples, d)
		}
	}
	fmt.Printf("result errors %d\n", errs)
	w := bufio.NewWriter(os.Stdout)
	for i := 0; i < len(samples); i += 512 {
		w.WriteString("samples")
		for _, v := range samples[i:min(i+512, len(samples))] {
			w.WriteString(" " + strconv.FormatInt(v, 10))
		}
		w.WriteString("\n")
	}
	w.Flush()
	p.Leave()
	c.Leave()
}

// pong: bpong DIR REGION IN OUT TOTAL
func workerPong(a []string) {
	r := open(a[0], a[1])
	c, err := r.JoinConsumer(a[2], rill.Reliable)
	if err != nil {
		fail("join consumer: %v", err)
	}
	p, err := r.JoinProducer(a[3])
	if err != nil {
		fail("join producer: %v", err)
	}
	c.SetSpin(spinFor)
	p.SetSpin(spinFor)
	fmt.Println("ready")
	buf := make([]byte, c.MaxMsg())
	var m rill.Meta
	for i := uint64(0); i < atou(a[4]); i++ {
		k, err := c.RecvWait(buf, &m, spinFor)
		if err != nil {
			fail("pong recv: %v", err)
		}
		if err := p.SendWait(buf[:k], m.Sig, spinFor); err != nil {
			fail("pong send: %v", err)
		}
	}
	p.Leave()
	c.Leave()
}

func main() {
	cmds := map[string]func([]string){"bsend": workerSend, "brecv": workerRecv,
		"bping": workerPing, "bpong": workerPong,
		"version": func([]string) { fmt.Println("info go", runtime.Version()) }}
	if len(os.Args) < 3 || os.Args[1] != "worker" || cmds[os.Args[2]] == nil {
		fail("usage: rill-goworker worker bsend|brecv|bping|bpong|version ARGS... (bench/proc.h)")
	}
	cmds[os.Args[2]](os.Args[3:])
}
