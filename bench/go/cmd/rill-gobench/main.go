// SPDX-License-Identifier: Apache-2.0 OR MIT

// Command rill-gobench measures the Go binding beside the C library in one
// run: throughput of a reliable channel for every pairing of a C or Go
// producer with a C or Go consumer (C→C, C→Go, Go→C, Go→Go) at 64 and 1024
// bytes, and the busy-poll round trip of Go↔Go and C↔C ping-pong.
//
// Every measurement runs in two fresh processes pinned to two CPUs (taskset):
// the C side is the C benchmark in worker mode (rill_bench worker ..., see
// bench/worker.c), the Go side is this program re-executed as a worker.  Each run warms up, then times a
// fixed number of messages; rows report the median of the runs.  Consumers
// copy every message out (Recv) and check every word of it.
//
//	rill-gobench --cbench build/rill_bench [--quick] [--runs N] [--cpus 0,1] [--out FILE]
//
// It is a module of its own (bench/go), built against the binding in
// bindings/go through the repository's go.work; make gobench builds and
// runs it, or by hand:
//
//	cd bench/go && go build -o ../../build/rill-gobench ./cmd/rill-gobench
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	rill "github.com/rill-ipc/rill/bindings/go"
)

const (
	msgKey   = 0x5a5aa5a5c3c33c3c
	wordMult = 0x9e3779b97f4a7c15
	depth    = 4096
	mtu      = 4096 // as the C benchmark: every size fits one descriptor
	spinFor  = 30 * time.Second
)

// ---- the message format of bench/bench.h ------------------------------

// A message of n bytes (n a multiple of 8) is n/8 little-endian words: word
// 0 is its sequence number, the last word (n >= 16) seq ^ msgKey, and word k
// between is (k+1) * wordMult.  The consumer adds up every word.

func le64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

func put64(b []byte, v uint64) {
	_ = b[7]
	for i := 0; i < 8; i++ {
		b[i] = byte(v >> (8 * i))
	}
}

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
	fmt.Fprintf(os.Stderr, "rill-gobench worker: "+format+"\n", a...)
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

// recv: brecv DIR REGION CHAN SIZE WARM COUNT; prints "ns NS errors E"
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
	fmt.Printf("ns %d errors %d\n", ns, errs)
	c.Leave()
}

// ping: bping DIR REGION OUT IN SIZE WARM COUNT; prints "p50 NS p99 NS errors E"
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
	slices.Sort(samples)
	fmt.Printf("p50 %d p99 %d errors %d\n", samples[len(samples)/2], samples[len(samples)*99/100], errs)
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

// ---- the orchestrator ------------------------------------------------------

type config struct {
	cbench string
	self   string
	cpus   [2]string
	runs   int
	quick  bool
	region string
	dir    string
}

// proc is a running worker.
type proc struct {
	cmd  *exec.Cmd
	out  *bufio.Reader
	errb strings.Builder
}

func (cfg *config) start(lang string, cpu string, args ...string) (*proc, error) {
	bin := cfg.cbench
	if lang == "go" {
		bin = cfg.self
	}
	args = append([]string{"worker"}, args...)
	p := &proc{cmd: exec.Command("taskset", append([]string{"-c", cpu, bin}, args...)...)}
	p.cmd.Stderr = &p.errb
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p.out = bufio.NewReader(out)
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *proc) line() (string, error) {
	l, err := p.out.ReadString('\n')
	if err != nil {
		p.cmd.Wait()
		return "", fmt.Errorf("%s: %v: %s", p.cmd.Args[4], err, strings.TrimSpace(p.errb.String()))
	}
	return strings.TrimSpace(l), nil
}

func (p *proc) wait() (string, error) {
	rest, _ := io.ReadAll(p.out)
	if err := p.cmd.Wait(); err != nil {
		return "", fmt.Errorf("%v: %s", err, strings.TrimSpace(p.errb.String()))
	}
	return strings.TrimSpace(string(rest)), nil
}

// fields parses "k1 v1 k2 v2 ..." into a map.
func fields(s string) map[string]int64 {
	f := strings.Fields(s)
	m := map[string]int64{}
	for i := 0; i+1 < len(f); i += 2 {
		v, _ := strconv.ParseInt(f[i+1], 10, 64)
		m[f[i]] = v
	}
	return m
}

// fresh makes a new region with the channels of one run.
func (cfg *config) fresh(chans ...string) error {
	rill.UnlinkRegion(cfg.region, cfg.dir)
	r, err := rill.CreateRegion(cfg.region, &rill.RegionOpts{Dir: cfg.dir, Size: 80 << 20})
	if err != nil {
		return err
	}
	defer r.Close()
	for _, ch := range chans {
		if err := r.CreateChannel(ch, &rill.ChannelOpts{Depth: depth, MTU: mtu, MaxMsg: mtu}); err != nil {
			return err
		}
	}
	return nil
}

type row struct {
	Kind     string    `json:"kind"` // "tput" or "rtt"
	Producer string    `json:"producer"`
	Consumer string    `json:"consumer"`
	Size     int       `json:"size"`
	Runs     []float64 `json:"runs"` // tput: messages/s; rtt: p50 ns
	P99      []float64 `json:"p99_ns,omitempty"`
	Median   float64   `json:"median"` // of Runs
	Errors   uint64    `json:"errors"`
}

// spread is (max - min) / median of the runs, in percent.
func spread(v []float64) float64 {
	m := medianOf(v)
	if m == 0 {
		return 0
	}
	return (slices.Max(v) - slices.Min(v)) / m * 100
}

func medianOf(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (cfg *config) tput(prod, cons string, size int) (float64, uint64, error) {
	if err := cfg.fresh("c"); err != nil {
		return 0, 0, err
	}
	warm, count := uint64(2000000), uint64(8000000)
	if size > 256 {
		warm, count = 500000, 2000000
	}
	if cfg.quick {
		warm, count = warm/20, count/20
	}
	args := []string{cfg.dir, cfg.region, "c", fmt.Sprint(size), fmt.Sprint(warm), fmt.Sprint(count)}
	rp, err := cfg.start(cons, cfg.cpus[1], append([]string{"brecv"}, args...)...)
	if err != nil {
		return 0, 0, err
	}
	if l, err := rp.line(); err != nil || l != "ready" {
		return 0, 0, fmt.Errorf("consumer: %q %v", l, err)
	}
	sp, err := cfg.start(prod, cfg.cpus[0], append([]string{"bsend"}, args...)...)
	if err != nil {
		return 0, 0, err
	}
	out, err := rp.wait()
	if err != nil {
		sp.cmd.Process.Kill()
		sp.cmd.Wait()
		return 0, 0, fmt.Errorf("consumer: %v", err)
	}
	if _, err := sp.wait(); err != nil {
		return 0, 0, fmt.Errorf("producer: %v", err)
	}
	f := fields(out)
	if f["ns"] <= 0 {
		return 0, 0, fmt.Errorf("consumer said %q", out)
	}
	return float64(count) / (float64(f["ns"]) / 1e9), uint64(f["errors"]), nil
}

func (cfg *config) rtt(lang string, size int) (float64, float64, uint64, error) {
	if err := cfg.fresh("ping", "pong"); err != nil {
		return 0, 0, 0, err
	}
	warm, count := uint64(20000), uint64(200000)
	if cfg.quick {
		warm, count = 2000, 20000
	}
	pong, err := cfg.start(lang, cfg.cpus[1], "bpong", cfg.dir, cfg.region, "ping", "pong", fmt.Sprint(warm+count))
	if err != nil {
		return 0, 0, 0, err
	}
	if l, err := pong.line(); err != nil || l != "ready" {
		return 0, 0, 0, fmt.Errorf("pong: %q %v", l, err)
	}
	ping, err := cfg.start(lang, cfg.cpus[0], "bping", cfg.dir, cfg.region, "ping", "pong",
		fmt.Sprint(size), fmt.Sprint(warm), fmt.Sprint(count))
	if err != nil {
		return 0, 0, 0, err
	}
	out, err := ping.wait()
	if err != nil {
		pong.cmd.Process.Kill()
		pong.cmd.Wait()
		return 0, 0, 0, fmt.Errorf("ping: %v", err)
	}
	if _, err := pong.wait(); err != nil {
		return 0, 0, 0, fmt.Errorf("pong: %v", err)
	}
	f := fields(out)
	return float64(f["p50"]), float64(f["p99"]), uint64(f["errors"]), nil
}

func main() {
	if len(os.Args) > 2 && os.Args[1] == "worker" {
		cmds := map[string]func([]string){"bsend": workerSend, "brecv": workerRecv,
			"bping": workerPing, "bpong": workerPong}
		f := cmds[os.Args[2]]
		if f == nil {
			fail("unknown worker command %q", os.Args[2])
		}
		f(os.Args[3:])
		return
	}
	var cfg config
	cpus := flag.String("cpus", "0,1", "CPUs of the producer (pinger) and the consumer (ponger)")
	out := flag.String("out", "", "write the results as JSON to this file")
	flag.StringVar(&cfg.cbench, "cbench", "", "path of the C benchmark (build/rill_bench)")
	flag.IntVar(&cfg.runs, "runs", 5, "measured runs per row, each in fresh processes")
	flag.BoolVar(&cfg.quick, "quick", false, "one short run per row (a smoke test)")
	flag.Parse()
	if cfg.cbench == "" {
		fmt.Fprintln(os.Stderr, "rill-gobench: --cbench PATH (the C benchmark, build/rill_bench) is required")
		os.Exit(2)
	}
	if cfg.quick {
		cfg.runs = 1
	}
	c := strings.Split(*cpus, ",")
	if len(c) != 2 {
		fmt.Fprintln(os.Stderr, "rill-gobench: --cpus A,B")
		os.Exit(2)
	}
	cfg.cpus = [2]string{c[0], c[1]}
	var err error
	if cfg.self, err = os.Executable(); err != nil {
		fmt.Fprintln(os.Stderr, "rill-gobench:", err)
		os.Exit(1)
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		fmt.Fprintln(os.Stderr, "rill-gobench: taskset (util-linux) is needed to pin the processes")
		os.Exit(1)
	}
	cfg.dir, err = os.MkdirTemp("/dev/shm", "rill-gobench-")
	if err != nil {
		cfg.dir, err = os.MkdirTemp("", "rill-gobench-")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "rill-gobench:", err)
		os.Exit(1)
	}
	defer os.RemoveAll(cfg.dir)
	cfg.region = "gobench"

	fmt.Printf("rill Go binding beside C: %d run(s) per row, CPUs %s and %s, %s, %d CPUs online\n",
		cfg.runs, cfg.cpus[0], cfg.cpus[1], runtime.Version(), runtime.NumCPU())
	var rows []*row
	failed := false
	// The runs of one size are interleaved across the pairings (run 1 of
	// each, then run 2 of each, ...), as rill_bench does, so that a change
	// of the machine's state hits every row alike; ratios are also given
	// paired run by run.
	pairs := [][2]string{{"c", "c"}, {"c", "go"}, {"go", "c"}, {"go", "go"}}
	for _, size := range []int{64, 1024} {
		rs := make([]*row, len(pairs))
		for k, pc := range pairs {
			rs[k] = &row{Kind: "tput", Producer: pc[0], Consumer: pc[1], Size: size}
		}
		for i := 0; i < cfg.runs; i++ {
			for k, pc := range pairs {
				rate, errs, err := cfg.tput(pc[0], pc[1], size)
				if err != nil {
					fmt.Fprintf(os.Stderr, "tput %s->%s %d B: %v\n", pc[0], pc[1], size, err)
					failed = true
					continue
				}
				rs[k].Runs = append(rs[k].Runs, rate)
				rs[k].Errors += errs
			}
		}
		for _, rw := range rs {
			if len(rw.Runs) == 0 {
				continue
			}
			rw.Median = medianOf(rw.Runs)
			rows = append(rows, rw)
			fmt.Printf("tput %-2s -> %-2s %5d B  %8.2f M msg/s  %8.1f MB/s  spread %3.0f%%  errors %d\n",
				rw.Producer, rw.Consumer, size, rw.Median/1e6, rw.Median*float64(size)/1e6,
				spread(rw.Runs), rw.Errors)
		}
	}
	rtts := []*row{{Kind: "rtt", Producer: "c", Consumer: "c", Size: 64},
		{Kind: "rtt", Producer: "go", Consumer: "go", Size: 64}}
	for i := 0; i < cfg.runs; i++ {
		for _, rw := range rtts {
			p50, p99, errs, err := cfg.rtt(rw.Producer, 64)
			if err != nil {
				fmt.Fprintf(os.Stderr, "rtt %s: %v\n", rw.Producer, err)
				failed = true
				continue
			}
			rw.Runs = append(rw.Runs, p50)
			rw.P99 = append(rw.P99, p99)
			rw.Errors += errs
		}
	}
	for _, rw := range rtts {
		if len(rw.Runs) > 0 {
			rw.Median = medianOf(rw.Runs)
			rows = append(rows, rw)
			fmt.Printf("rtt  %-2s <-> %-2s   64 B  p50 %6.0f ns  p99 %6.0f ns  (medians of runs)  errors %d\n",
				rw.Producer, rw.Consumer, rw.Median, medianOf(rw.P99), rw.Errors)
		}
	}
	find := func(kind, p, c string, size int) *row {
		for _, r := range rows {
			if r.Kind == kind && r.Producer == p && r.Consumer == c && r.Size == size {
				return r
			}
		}
		return nil
	}
	// ratio of two rows: of their medians, and the median of run-by-run
	// ratios (paired); 0 where a row is missing.
	ratio := func(a, b *row) (float64, float64) {
		if a == nil || b == nil || b.Median == 0 {
			return 0, 0
		}
		var pr []float64
		for i := 0; i < len(a.Runs) && i < len(b.Runs); i++ {
			pr = append(pr, a.Runs[i]/b.Runs[i])
		}
		if len(pr) == 0 {
			return a.Median / b.Median, 0
		}
		return a.Median / b.Median, medianOf(pr)
	}
	ratios, paired := map[string]float64{}, map[string]float64{}
	for _, q := range []struct {
		label      string
		kind, p, c string
		size       int
	}{
		{"go_consumer_64", "tput", "c", "go", 64}, {"go_producer_64", "tput", "go", "c", 64},
		{"go_go_64", "tput", "go", "go", 64}, {"go_consumer_1024", "tput", "c", "go", 1024},
		{"go_producer_1024", "tput", "go", "c", 1024}, {"go_go_1024", "tput", "go", "go", 1024},
		{"go_rtt_64", "rtt", "go", "go", 64},
	} {
		base := find(q.kind, "c", "c", q.size)
		ratios[q.label], paired[q.label] = ratio(find(q.kind, q.p, q.c, q.size), base)
	}
	fmt.Println("ratios to C->C of the same run (of medians / paired):")
	fmt.Printf("  64 B:   Go consumer %.2f / %.2f (bar >= 0.5), Go producer %.2f / %.2f, Go->Go %.2f / %.2f\n",
		ratios["go_consumer_64"], paired["go_consumer_64"], ratios["go_producer_64"], paired["go_producer_64"],
		ratios["go_go_64"], paired["go_go_64"])
	fmt.Printf("  1024 B: Go consumer %.2f / %.2f, Go producer %.2f / %.2f, Go->Go %.2f / %.2f\n",
		ratios["go_consumer_1024"], paired["go_consumer_1024"], ratios["go_producer_1024"],
		paired["go_producer_1024"], ratios["go_go_1024"], paired["go_go_1024"])
	fmt.Printf("  round trip p50 Go<->Go / C<->C: %.2f / %.2f\n", ratios["go_rtt_64"], paired["go_rtt_64"])
	var errs uint64
	for _, r := range rows {
		errs += r.Errors
	}
	if *out != "" {
		res := map[string]any{"when": time.Now().UTC().Format(time.RFC3339), "go": runtime.Version(),
			"cpus_online": runtime.NumCPU(), "pinned": cfg.cpus, "runs": cfg.runs, "quick": cfg.quick,
			"rows": rows, "ratios": ratios, "ratios_paired": paired}
		b, _ := json.MarshalIndent(res, "", "  ")
		os.MkdirAll(filepath.Dir(*out), 0o755)
		if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "rill-gobench:", err)
			failed = true
		} else {
			fmt.Println("results:", *out)
		}
	}
	if failed || errs > 0 {
		fmt.Fprintf(os.Stderr, "rill-gobench: failed (%d message errors)\n", errs)
		os.Exit(1)
	}
}
