// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

// The Go peer: the test binary re-executed with RILL_GO_PEER=1 runs one
// command, as the C peer (tests/xpeer.c) does, so that either side of a
// cross-process test can be either language.  Commands:
//
//	vector write|check FILE DIR
//	create DIR REGION CHAN DEPTH MTU MAX_CONSUMERS MAX_MSG REGION_SIZE [huge]
//	produce DIR REGION CHAN COUNT SEED [SPIN_NS]
//	produce-many DIR REGION CHAN COUNT SEED BATCH
//	consume DIR REGION CHAN COUNT SEED reliable|lossy [SPIN_NS] [slow] [late]
//	echo DIR REGION IN OUT COUNT SPIN_NS
//	hold DIR REGION CHAN          (a reliable consumer that never reads)
//	rpc-serve DIR REGION SERVICE WORKERS   (until stdin closes)
//	rpc-call DIR REGION SERVICE COUNT
//
// As the C peer's: create makes the region (or opens it if it exists) and
// the channel in it; consume prints "ready" once joined and, with late,
// reads a line from stdin before its first receive (a lossy consumer is
// then lapped for sure), and prints "ok RECEIVED LOST" at the end;
// produce-many sends the same stream with SendMany, in batches of 1 to
// BATCH messages (the k-th batch has 1 + k % BATCH), waiting for credit up
// to 10 s; rpc-call makes COUNT pipelined echo calls, then a sum, a failing and an
// unknown method (rpcCalls), and prints "ok COUNT".
//
// Message streams are shared with the C peer (tests/vectors/README.md):
//
//	h_i    = mix(SEED * 0x100000001b3 + i)
//	size_i = class < 12 ? r % 129 : class < 15 ? r % (mtu+1) : r % (max_msg+1)
//	         with class = h_i & 15, r = h_i >> 8
//	sig_i  = i;  payload byte j = (uint8)((h_i >> (8*(j&7))) + (j>>3))

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strconv"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	if os.Getenv("RILL_GO_PEER") != "" {
		if err := peerMain(os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "go peer:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// stream is the shared deterministic message stream of a channel.
type stream struct {
	seed        uint64
	mtu, maxMsg uint64
}

func (s stream) hash(i uint64) uint64 { return mix(s.seed*0x100000001b3 + i) }

func (s stream) size(i uint64) int {
	h := s.hash(i)
	class, r := h&15, h>>8
	switch {
	case class < 12:
		return int(r % 129)
	case class < 15:
		return int(r % (s.mtu + 1))
	}
	return int(r % (s.maxMsg + 1))
}

// fill writes message i's payload into b (of its size).
func (s stream) fill(i uint64, b []byte) {
	h := s.hash(i)
	for j := range b {
		b[j] = byte(h>>(8*(j&7))) + byte(j>>3)
	}
}

func (s stream) check(i uint64, b []byte) bool { return s.checkAt(i, 0, b) }

// checkAt is check of bytes [off, off+len(b)) of message i.
func (s stream) checkAt(i uint64, off int, b []byte) bool {
	h := s.hash(i)
	for k := range b {
		j := off + k
		if b[k] != byte(h>>(8*(j&7)))+byte(j>>3) {
			return false
		}
	}
	return true
}

func streamOf(r *Region, ch string, seed uint64) (stream, error) {
	st, err := r.Stats(ch)
	if err != nil {
		return stream{}, err
	}
	return stream{seed: seed, mtu: uint64(st.MTU), maxMsg: st.MaxMsg}, nil
}

func atou(s string) uint64 {
	x, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		panic(fmt.Sprintf("bad number %q", s))
	}
	return x
}

func optArg(a []string, i int) string {
	if i < len(a) {
		return a[i]
	}
	return ""
}

// produceStream sends messages 0..count-1 of the stream and leaves.
func produceStream(r *Region, ch string, count, seed uint64, spin time.Duration) error {
	s, err := streamOf(r, ch, seed)
	if err != nil {
		return err
	}
	p, err := r.JoinProducer(ch)
	if err != nil {
		return err
	}
	p.SetSpin(spin)
	buf := make([]byte, s.maxMsg)
	for i := uint64(0); i < count; i++ {
		b := buf[:s.size(i)]
		s.fill(i, b)
		if err := p.SendWait(b, i, 10*time.Second); err != nil {
			p.Leave()
			return fmt.Errorf("send %d: %v", i, err)
		}
	}
	return p.Leave()
}

// produceStreamMany sends messages 0..count-1 of the stream with SendMany,
// in batches of 1 to batch messages (the k-th has 1 + k % batch; batch
// times the fragments of a max_msg message must fit the ring), waiting for
// credit up to 10 s per batch, and leaves.
func produceStreamMany(r *Region, ch string, count, seed, batch uint64, spin time.Duration) error {
	s, err := streamOf(r, ch, seed)
	if err != nil {
		return err
	}
	p, err := r.JoinProducer(ch)
	if err != nil {
		return err
	}
	p.SetSpin(spin)
	buf := make([]byte, batch*s.maxMsg)
	msgs := make([]Msg, 0, batch)
	for i, k := uint64(0), uint64(0); i < count; k++ {
		msgs = msgs[:0]
		for j := uint64(0); j < 1+k%batch && i < count; i, j = i+1, j+1 {
			b := buf[j*s.maxMsg : j*s.maxMsg+uint64(s.size(i))]
			s.fill(i, b)
			msgs = append(msgs, Msg{Data: b, Sig: i})
		}
		if err := p.waitFor(10*time.Second, func() error { return p.SendMany(msgs) }); err != nil {
			p.Leave()
			return fmt.Errorf("batch of %d messages from %d: %v", len(msgs), msgs[0].Sig, err)
		}
	}
	return p.Leave()
}

// consumeStreamBursts is a reliable consumeStream that reads with PollMany
// (up to maxViews views a call) and checks every fragment where it lies,
// after the call returned: the views of a call stay valid until the next.
// ready is called once joined.
func consumeStreamBursts(r *Region, ch string, count, seed uint64, maxViews int, ready func()) error {
	s, err := streamOf(r, ch, seed)
	if err != nil {
		return err
	}
	c, err := r.JoinConsumer(ch, Reliable)
	if err != nil {
		return err
	}
	defer c.Leave()
	ready()
	views := make([]View, maxViews)
	next, seq := uint64(0), uint64(0) // the message expected, the seq expected
	off := 0                          // bytes of message next seen so far
	bursts, got := 0, 0
	for next < count {
		var n int
		err := c.waitFor(10*time.Second, func() (e error) { n, e = c.PollMany(views); return })
		if err != nil {
			return fmt.Errorf("PollMany after %d messages: %v", next, err)
		}
		if n < 1 || n > maxViews {
			return fmt.Errorf("PollMany returned %d views of %d", n, maxViews)
		}
		bursts++
		got += n
		for _, v := range views[:n] {
			size := s.size(next)
			som, eom := v.Ctl&CtlSOM != 0, v.Ctl&CtlEOM != 0
			if v.Seq != seq || v.Sig != next || v.Lost != 0 || som != (off == 0) ||
				eom != (off+len(v.Data) == size) || off+len(v.Data) > size ||
				!s.checkAt(next, off, v.Data) {
				return fmt.Errorf("message %d at byte %d: view seq %d (want %d) sig %d ctl %#x, %d bytes, or wrong bytes",
					next, off, v.Seq, seq, v.Sig, v.Ctl, len(v.Data))
			}
			seq++
			off += len(v.Data)
			if eom {
				next++
				off = 0
			}
		}
	}
	var v View
	if err := c.PollWait(&v, 10*time.Second); err != ErrClosed {
		return fmt.Errorf("after the last message: expected ErrClosed, got %v", err)
	}
	if got > bursts && bursts > 0 {
		return nil // some call took more than one view
	}
	return fmt.Errorf("%d views in %d calls: never a burst", got, bursts)
}

// consumeStream receives a stream and checks every byte.  Reliable: every
// message 0..count-1 in order, then ErrClosed.  Lossy: what it accepts is
// exact and in order, the last message among it; it stops at ErrClosed.
// ready is called once joined; then, if gate is not nil, it waits for gate
// to close before its first receive (a lossy consumer is then lapped for
// sure by a producer that sends more than the ring holds).  slow spins 2 µs
// after each message.
func consumeStream(r *Region, ch string, count, seed uint64, mode Mode, spin time.Duration,
	slow bool, gate <-chan struct{}, ready func()) (got, lost uint64, err error) {
	s, err := streamOf(r, ch, seed)
	if err != nil {
		return 0, 0, err
	}
	c, err := r.JoinConsumer(ch, mode)
	if err != nil {
		return 0, 0, err
	}
	defer c.Leave()
	c.SetSpin(spin)
	ready()
	if gate != nil {
		<-gate
	}
	buf := make([]byte, s.maxMsg)
	var m Meta
	next := uint64(0)
	seqOf := uint64(0) // sequence number of message next's first fragment
	for mode == Lossy || next < count {
		n, err := c.RecvWait(buf, &m, 10*time.Second)
		if err == ErrClosed && mode == Lossy {
			break
		}
		if err != nil {
			return got, lost, fmt.Errorf("recv after %d messages: %v", got, err)
		}
		if mode == Reliable && (m.Sig != next || m.Lost != 0) {
			return got, lost, fmt.Errorf("expected message %d, got %d (lost %d)", next, m.Sig, m.Lost)
		}
		if m.Sig < next || m.Sig >= count {
			return got, lost, fmt.Errorf("message %d out of order (next %d)", m.Sig, next)
		}
		if n != s.size(m.Sig) || !s.check(m.Sig, buf[:n]) {
			return got, lost, fmt.Errorf("message %d: wrong size %d or payload", m.Sig, n)
		}
		// The message's sequence number follows from the sizes before it:
		// a descriptor taken for another sequence number's shows here.
		for ; next < m.Sig; next++ {
			seqOf += frags(uint64(s.size(next)), uint32(s.mtu))
		}
		if m.Seq != seqOf {
			return got, lost, fmt.Errorf("message %d: sequence number %d, want %d", m.Sig, m.Seq, seqOf)
		}
		seqOf += frags(uint64(n), uint32(s.mtu))
		next = m.Sig + 1
		got++
		lost += m.Lost
		if slow {
			for t0 := time.Now(); time.Since(t0) < 2*time.Microsecond; {
			}
		}
	}
	if mode == Lossy && count > 0 && next != count {
		// Nothing overwrites the last message once the producer left.
		return got, lost, fmt.Errorf("the last message (%d) was not received", count-1)
	}
	if mode == Reliable {
		if _, err := c.RecvWait(buf, &m, 10*time.Second); err != ErrClosed {
			return got, lost, fmt.Errorf("after the last message: expected ErrClosed, got %v", err)
		}
	}
	return got, lost, nil
}

// echoLoop answers count messages on in with the same bytes on out.
func echoLoop(r *Region, in, out string, count uint64, spin time.Duration, ready func()) error {
	c, err := r.JoinConsumer(in, Reliable)
	if err != nil {
		return err
	}
	defer c.Leave()
	p, err := r.JoinProducer(out)
	if err != nil {
		return err
	}
	defer p.Leave()
	c.SetSpin(spin)
	p.SetSpin(spin)
	ready()
	buf := make([]byte, c.MaxMsg())
	var m Meta
	for i := uint64(0); i < count; i++ {
		n, err := c.RecvWait(buf, &m, 10*time.Second)
		if err != nil {
			return fmt.Errorf("echo recv %d: %v", i, err)
		}
		if err := p.SendWait(buf[:n], m.Sig, 10*time.Second); err != nil {
			return fmt.Errorf("echo send %d: %v", i, err)
		}
	}
	return nil
}

// pingLoop sends count messages of size bytes on out and waits for each
// echo on in; it returns the round trips.
func pingLoop(r *Region, out, in string, count uint64, spin time.Duration, size int) ([]time.Duration, error) {
	c, err := r.JoinConsumer(in, Reliable)
	if err != nil {
		return nil, err
	}
	defer c.Leave()
	p, err := r.JoinProducer(out)
	if err != nil {
		return nil, err
	}
	defer p.Leave()
	c.SetSpin(spin)
	p.SetSpin(spin)
	s := stream{seed: 1}
	msg, buf := make([]byte, size), make([]byte, c.MaxMsg())
	var m Meta
	rtt := make([]time.Duration, 0, count)
	for i := uint64(0); i < count; i++ {
		s.fill(i, msg)
		t0 := time.Now()
		if err := p.SendWait(msg, i, 10*time.Second); err != nil {
			return nil, fmt.Errorf("ping send %d: %v", i, err)
		}
		n, err := c.RecvWait(buf, &m, 10*time.Second)
		if err != nil {
			return nil, fmt.Errorf("ping recv %d: %v", i, err)
		}
		rtt = append(rtt, time.Since(t0))
		if m.Sig != i || !bytes.Equal(buf[:n], msg) {
			return nil, fmt.Errorf("echo %d: wrong sig %d or bytes", i, m.Sig)
		}
	}
	return rtt, nil
}

func sayReady() { fmt.Println("ready") }

func peerMain(a []string) error {
	if len(a) < 1 {
		return fmt.Errorf("no command")
	}
	if a[0] == "vector" {
		return vectorRun(a[2], a[3], a[1])
	}
	if a[0] == "create" {
		return createChannel(a[1:])
	}
	r, err := OpenRegion(a[2], &RegionOpts{Dir: a[1]})
	if err != nil {
		return err
	}
	defer r.Close()
	switch a[0] {
	case "produce":
		return produceStream(r, a[3], atou(a[4]), atou(a[5]), time.Duration(atouOr(optArg(a, 6), 20000)))
	case "produce-many":
		return produceStreamMany(r, a[3], atou(a[4]), atou(a[5]), atou(a[6]), defaultSpin)
	case "consume":
		mode := Reliable
		if a[6] == "lossy" {
			mode = Lossy
		}
		// [SPIN_NS] [slow] [late], in any order, as the C peer takes them
		spin, slow, late := uint64(20000), false, false
		for _, o := range a[7:] {
			switch o {
			case "slow":
				slow = true
			case "late":
				late = true
			default:
				spin = atou(o)
			}
		}
		var gate chan struct{}
		if late { // start reading only when a line comes on stdin
			gate = make(chan struct{})
			go func() {
				bufio.NewReader(os.Stdin).ReadString('\n') // a line, or EOF
				close(gate)
			}()
		}
		got, lost, err := consumeStream(r, a[3], atou(a[4]), atou(a[5]), mode,
			time.Duration(spin), slow, gate, sayReady)
		if err == nil {
			fmt.Printf("ok %d %d\n", got, lost)
		}
		return err
	case "rpc-serve": // serves the test service until stdin closes (or killed)
		srv, err := r.Serve(a[3], int(atou(a[4])), rpcTestHandler)
		if err != nil {
			return err
		}
		sayReady()
		io.Copy(io.Discard, os.Stdin)
		return srv.Stop()
	case "hold": // a reliable consumer that reads nothing until killed
		c, err := r.JoinConsumer(a[3], Reliable)
		if err != nil {
			return err
		}
		sayReady()
		os.Stdin.Read(make([]byte, 1))
		return c.Leave()
	case "echo":
		return echoLoop(r, a[3], a[4], atou(a[5]), time.Duration(atou(a[6])), sayReady)
	case "rpc-call": // the sizes of the service's request channel, as the C peer
		st, err := r.Stats(a[3] + ".q.0")
		if err != nil {
			return err
		}
		c, err := r.Connect(a[3])
		if err != nil {
			return fmt.Errorf("connect: %v", err)
		}
		defer c.Close()
		// the server may still be starting: wait for it rather than for a line
		if err := c.WaitServer(10 * time.Second); err != nil {
			return fmt.Errorf("no server: %v", err)
		}
		count := atou(a[4])
		if err := rpcCalls(c, count, uint64(st.MTU), st.MaxMsg); err != nil {
			return err
		}
		fmt.Printf("ok %d\n", count)
		return nil
	}
	return fmt.Errorf("unknown command %q", a[0])
}

func atouOr(s string, d uint64) uint64 {
	if s == "" {
		return d
	}
	return atou(s)
}

// createChannel: create DIR REGION CHAN DEPTH MTU MAX_CONSUMERS MAX_MSG
// REGION_SIZE [huge].  The region is made (huge: RegionOpts.Huge), or
// opened if it exists.
func createChannel(a []string) error {
	if len(a) != 8 && (len(a) != 9 || a[8] != "huge") {
		return fmt.Errorf("usage: create DIR REGION CHAN DEPTH MTU MAX_CONSUMERS MAX_MSG REGION_SIZE [huge]")
	}
	ro := &RegionOpts{Dir: a[0], Size: atou(a[7]), Huge: len(a) == 9}
	r, err := CreateRegion(a[1], ro)
	if err == ErrExist {
		r, err = OpenRegion(a[1], ro)
	}
	if err != nil {
		return fmt.Errorf("region %s in %s: %v", a[1], a[0], err)
	}
	defer r.Close()
	co := &ChannelOpts{Depth: uint32(atou(a[3])), MTU: uint32(atou(a[4])),
		MaxConsumers: uint32(atou(a[5])), MaxMsg: atou(a[6])}
	if err := r.CreateChannel(a[2], co); err != nil {
		return fmt.Errorf("channel %s: %v", a[2], err)
	}
	return nil
}

// keep the testing import used when only TestMain is compiled
var _ = testing.Short

// rpcTestHandler is the test service, the same as the C peer's: 1 echo,
// 2 the sum of the request's bytes (u64), 3 fails with status 42, others
// fail with ErrNoMethod.
func rpcTestHandler(method uint16, req, resp []byte) ([]byte, int32) {
	switch method {
	case 1:
		if len(req) > len(resp) {
			return nil, int32(ErrMsgSize.Code())
		}
		return resp[:copy(resp, req)], 0
	case 2:
		sum := uint64(0)
		for _, b := range req {
			sum += uint64(b)
		}
		binary.NativeEndian.PutUint64(resp, sum)
		return resp[:8], 0
	case 3:
		return nil, 42
	}
	return nil, int32(ErrNoMethod.Code())
}

// rpcCalls makes count pipelined echo calls of stream messages (seed 5),
// checking every id and byte, then a sum, a failing and an unknown method:
// what the C peer's rpc-call does.
func rpcCalls(c *Client, count uint64, mtu, maxMsg uint64) error {
	s := stream{seed: 5, mtu: mtu, maxMsg: maxMsg}
	req, out := make([]byte, maxMsg), make([]byte, maxMsg)
	var sent, done, first uint64
	var res RPCResult
	for done < count {
		for sent < count && sent-done < uint64(c.Capacity()) {
			b := req[:s.size(sent)]
			s.fill(sent, b)
			id, err := c.Send(1, b)
			if err == ErrAgain {
				break
			}
			if err != nil {
				return fmt.Errorf("send %d: %v", sent, err)
			}
			if sent == 0 {
				first = id
			}
			sent++
		}
		if err := c.RecvWait(out, &res, 10*time.Second); err != nil {
			return fmt.Errorf("receive %d: %v", done, err)
		}
		n := s.size(done)
		if res.ID != first+done || res.Status != 0 || res.Method != 1 || res.Size != uint64(n) ||
			!s.check(done, out[:n]) {
			return fmt.Errorf("call %d: wrong response %+v", done, res)
		}
		done++
	}
	if err := c.Call(2, []byte{1, 2, 3}, out, &res, 10*time.Second); err != nil ||
		res.Status != 0 || binary.NativeEndian.Uint64(out) != 6 {
		return fmt.Errorf("sum: %v %+v", err, res)
	}
	if err := c.Call(3, []byte{1}, out, &res, 10*time.Second); err != nil || res.Status != 42 {
		return fmt.Errorf("method 3: %v %+v", err, res)
	}
	if err := c.Call(999, []byte{1}, out, &res, 10*time.Second); err != nil ||
		res.Status != int32(ErrNoMethod.Code()) {
		return fmt.Errorf("method 999: %v %+v", err, res)
	}
	return nil
}
