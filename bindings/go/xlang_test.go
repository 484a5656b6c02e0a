// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

// Cross-process tests between Go and C, in both directions, with the C
// peer program (tests/xpeer.c, $RILL_XPEER): streams of random sizes with
// fragments, every byte checked; lossy consumers lapped on purpose; and
// ping-pong with no spin, so that every message is a futex wake-up across
// the languages.

import (
	"bufio"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// cPeer is a running C peer process.
type cPeer struct {
	cmd  *exec.Cmd
	out  *bufio.Reader
	in   io.WriteCloser
	errb strings.Builder
	name string
	args []string
}

func startC(t *testing.T, args ...string) *cPeer {
	t.Helper()
	p := &cPeer{cmd: exec.Command(xpeer(t), args...), name: args[0], args: args}
	p.cmd.Stderr = &p.errb
	out, err := p.cmd.StdoutPipe()
	must(t, err)
	p.in, err = p.cmd.StdinPipe()
	must(t, err)
	p.out = bufio.NewReader(out)
	must(t, p.cmd.Start())
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	return p
}

// ready waits for the peer's "ready" line: it has joined.
func (p *cPeer) ready(t *testing.T) {
	t.Helper()
	line, err := p.out.ReadString('\n')
	// A Windows C peer's stdout is in text mode: its lines end in "\r\n".
	if err != nil || strings.TrimSuffix(line, "\r\n") != "ready" && line != "ready\n" {
		p.cmd.Wait()
		t.Fatalf("C %s: %q %v\n%s", p.name, line, err, p.errb.String())
	}
}

// go_ tells a "late" consumer to start reading.
func (p *cPeer) go_(t *testing.T) {
	t.Helper()
	if _, err := io.WriteString(p.in, "go\n"); err != nil {
		t.Fatalf("C %s: %v", p.name, err)
	}
}

// wait waits for the peer to exit 0 and returns the rest of its output.
func (p *cPeer) wait(t *testing.T) string {
	t.Helper()
	rest, _ := io.ReadAll(p.out)
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("C %s: %v\n%s%s", p.name, err, rest, p.errb.String())
	}
	return string(rest)
}

const xChanArgs = "1024 256 8 4096" // depth, mtu, consumers, max_msg

// xRegion: the C peer creates region x with channel c (C creates, Go opens).
func xRegion(t *testing.T) *Region {
	dir := testTempDir(t)
	runCmd(t, xpeer(t), append([]string{"create", dir, "x", "c"},
		append(strings.Fields(xChanArgs), "33554432")...)...)
	r, err := OpenRegion("x", &RegionOpts{Dir: dir})
	must(t, err)
	t.Cleanup(func() { r.Close() })
	return r
}

// C producer → Go consumers (reliable and lossy), in a region C made.
func TestXlangCToGo(t *testing.T) {
	r := xRegion(t)
	n := scale(1000000)
	ready := make(chan struct{}, 2)
	errs := make(chan error, 2)
	for _, mode := range []Mode{Reliable, Lossy} {
		go func(mode Mode) {
			_, _, err := consumeStream(r, "c", n, 11, mode, defaultSpin, false, nil, func() { ready <- struct{}{} })
			errs <- err
		}(mode)
	}
	<-ready
	<-ready
	runCmd(t, xpeer(t), "produce", r.Dir(), "x", "c", fmt.Sprint(n), "11")
	must(t, <-errs)
	must(t, <-errs)
	st, _ := r.Stats("c")
	if st.Msgs < n || st.ProducerLiveness != PeerNone {
		t.Errorf("stats after the C producer left: %+v", st)
	}
}

// Go producer → C consumers (reliable; lossy and slow; lossy and late,
// lapped for sure), in a region Go made.
func TestXlangGoToC(t *testing.T) {
	r := testRegion(t, 32<<20)
	must(t, r.CreateChannel("c", &ChannelOpts{Depth: 1024, MTU: 256, MaxMsg: 4096}))
	n := scale(1000000)
	rel := startC(t, "consume", r.Dir(), "t", "c", fmt.Sprint(n), "13", "reliable")
	rel.ready(t)
	slow := startC(t, "consume", r.Dir(), "t", "c", fmt.Sprint(n), "13", "lossy", "slow")
	slow.ready(t)
	late := startC(t, "consume", r.Dir(), "t", "c", fmt.Sprint(n), "13", "lossy", "late")
	late.ready(t)
	must(t, produceStream(r, "c", n, 13, defaultSpin))
	late.go_(t)
	rel.wait(t)
	for _, c := range []*cPeer{slow, late} {
		var got, lost uint64
		out := c.wait(t)
		if _, err := fmt.Sscanf(out, "ok %d %d", &got, &lost); err != nil || got == 0 {
			t.Fatalf("C lossy consumer: %q", out)
		}
		if c == late && lost == 0 {
			t.Fatalf("the late C lossy consumer was not lapped: %q", out)
		}
		t.Logf("C lossy consumer (%s): %d accepted, %d lost", c.args[len(c.args)-1], got, lost)
	}
}

// Batches across languages: a C producer's rill_send_many batches read by
// Go consumers (reliable, lossy, and reliable in PollMany bursts), and a Go
// peer's SendMany batches read by C consumers (reliable, lossy and slow).
// Batches of up to 13 messages of up to 16 fragments fit the 1024 ring.
func TestXlangBatches(t *testing.T) {
	t.Run("CToGo", func(t *testing.T) {
		r := xRegion(t)
		n := scale(300000)
		ready := make(chan struct{}, 3)
		errs := make(chan error, 3)
		for _, mode := range []Mode{Reliable, Lossy} {
			go func(mode Mode) {
				_, _, err := consumeStream(r, "c", n, 19, mode, defaultSpin, false, nil, func() { ready <- struct{}{} })
				errs <- err
			}(mode)
		}
		go func() { errs <- consumeStreamBursts(r, "c", n, 19, 16, func() { ready <- struct{}{} }) }()
		for i := 0; i < 3; i++ {
			<-ready
		}
		runCmd(t, xpeer(t), "produce-many", r.Dir(), "x", "c", fmt.Sprint(n), "19", "13")
		for i := 0; i < 3; i++ {
			must(t, <-errs)
		}
		st, _ := r.Stats("c")
		if st.Msgs < n {
			t.Errorf("stats after the C batch producer left: %+v", st)
		}
	})
	t.Run("GoToC", func(t *testing.T) {
		r := testRegion(t, 32<<20)
		must(t, r.CreateChannel("c", &ChannelOpts{Depth: 1024, MTU: 256, MaxMsg: 4096}))
		n := scale(300000)
		rel := startC(t, "consume", r.Dir(), "t", "c", fmt.Sprint(n), "23", "reliable")
		rel.ready(t)
		slow := startC(t, "consume", r.Dir(), "t", "c", fmt.Sprint(n), "23", "lossy", "slow")
		slow.ready(t)
		goPeer(t, "produce-many", r.Dir(), "t", "c", fmt.Sprint(n), "23", "13")
		rel.wait(t)
		out := slow.wait(t)
		var got, lost uint64
		if _, err := fmt.Sscanf(out, "ok %d %d", &got, &lost); err != nil || got == 0 {
			t.Fatalf("C lossy consumer: %q", out)
		}
		t.Logf("C lossy consumer (slow): %d accepted, %d lost", got, lost)
	})
}

// C producer → Go lossy consumers, slow and late: lapped, never wrong.
func TestXlangGoLossyLapped(t *testing.T) {
	r := xRegion(t)
	n := scale(1000000)
	lossyPair(t, r, n, 17, func() {
		runCmd(t, xpeer(t), "produce", r.Dir(), "x", "c", fmt.Sprint(n), "17")
	})
}

func pingRegion(t *testing.T) *Region {
	r := testRegion(t, 8<<20)
	must(t, r.CreateChannel("ping", &ChannelOpts{Depth: 64, MTU: 256}))
	must(t, r.CreateChannel("pong", &ChannelOpts{Depth: 64, MTU: 256}))
	return r
}

// Go pings, C echoes; neither spins, so each message parks the other side
// on the futex and the publisher of the other language wakes it.
func TestXlangParkedGoPingCEcho(t *testing.T) {
	r := pingRegion(t)
	n := scale(20000) / 4
	echo := startC(t, "echo", r.Dir(), "t", "ping", "pong", fmt.Sprint(n), "0")
	echo.ready(t)
	rtt, err := pingLoop(r, "ping", "pong", n, 0, 100)
	must(t, err)
	echo.wait(t)
	st, _ := r.Stats("ping")
	if st.Wakes < 2 { // the first publish runs the wake-up path once anyway
		t.Error("the Go producer never woke the parked C consumer")
	}
	t.Logf("%d parked round trips, median %v", len(rtt), median(rtt))
}

// C pings, Go echoes.
func TestXlangParkedCPingGoEcho(t *testing.T) {
	xpeer(t) // skips before anything joins
	r := pingRegion(t)
	n := scale(20000) / 4
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- echoLoop(r, "ping", "pong", n, 0, func() { close(ready) }) }()
	<-ready
	out := runCmd(t, xpeer(t), "ping", r.Dir(), "t", "ping", "pong", fmt.Sprint(n), "0", "100")
	must(t, <-done)
	st, _ := r.Stats("pong")
	if st.Wakes < 2 { // the first publish runs the wake-up path once anyway
		t.Error("the Go producer never woke the parked C consumer")
	}
	t.Logf("C ping: %s", strings.TrimSpace(out))
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
