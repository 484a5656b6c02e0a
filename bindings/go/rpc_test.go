package rill

import (
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

func rpcRegion(t *testing.T) *Region {
	r := testRegion(t, 64<<20)
	must(t, r.CreateService("svc", &RPCOpts{Lanes: 4, Depth: 256, MTU: 512, MaxMsg: 2048}))
	return r
}

func TestRPCArgs(t *testing.T) {
	r := rpcRegion(t)
	if err := r.CreateService("a-service-name-of-thirty-five-bytes", nil); err != ErrInval {
		t.Errorf("long name: %v", err)
	}
	if err := r.CreateService("x", &RPCOpts{Lanes: 32}); err != ErrInval {
		t.Errorf("32 lanes: %v", err)
	}
	if _, err := r.Connect("none"); err != ErrNoEnt {
		t.Errorf("no service: %v", err)
	}
	if _, err := r.Serve("svc", 5, rpcTestHandler); err != ErrInval {
		t.Errorf("5 workers for 4 lanes: %v", err)
	}
	var cs []*Client
	for i := 0; i < 4; i++ {
		c, err := r.Connect("svc")
		must(t, err)
		cs = append(cs, c)
	}
	if _, err := r.Connect("svc"); err != ErrFull {
		t.Errorf("fifth client: %v", err)
	}
	if cs[0].Capacity() != 256/4 {
		t.Errorf("capacity %d", cs[0].Capacity())
	}
	for _, c := range cs {
		c.Close()
	}
}

// Go clients on four goroutines against a Go server of two workers.
func TestRPCGo(t *testing.T) {
	r := rpcRegion(t)
	srv, err := r.Serve("svc", 2, rpcTestHandler)
	must(t, err)
	defer srv.Stop()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := r.Connect("svc")
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			errs <- rpcCalls(c, scale(20000), 512, 2048)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
	c, err := r.Connect("svc")
	must(t, err)
	defer c.Close()
	var res RPCResult
	if err := c.Call(1, nil, nil, &res, 10*time.Millisecond); err != nil {
		t.Fatalf("empty echo: %v", err)
	}
}

// startGoGuest runs the Go peer serving the test service; closing the
// returned stdin stops it.
func startGoGuest(t *testing.T, r *Region, workers int) (*exec.Cmd, func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "rpc-serve", r.Dir(), r.Name(), "svc", fmt.Sprint(workers))
	cmd.Env = append(os.Environ(), "RILL_GO_PEER=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	must(t, err)
	in, err := cmd.StdinPipe()
	must(t, err)
	must(t, cmd.Start())
	line := make([]byte, 6)
	if _, err := out.Read(line); err != nil || string(line) != "ready\n" {
		t.Fatalf("guest: %q %v", line, err)
	}
	return cmd, func() { in.Close() }
}

// A C host calling a Go guest in another process, and the Go guest killed
// with calls in flight: they fail with ErrDead, nothing hangs.
func TestRPCCHostGoGuest(t *testing.T) {
	r := rpcRegion(t)
	guest, stop := startGoGuest(t, r, 2)
	out := runCmd(t, xpeer(t), "rpc-call", r.Dir(), r.Name(), "svc", fmt.Sprint(scale(100000)))
	t.Logf("C host: %s", out)
	c, err := r.Connect("svc")
	must(t, err)
	guest.Process.Kill()
	guest.Wait()
	stop()
	for i := 0; i < 3; i++ { // calls nobody will answer
		if _, err := c.Send(1, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 2048)
	var res RPCResult
	t0 := time.Now()
	for err = nil; err == nil; err = c.RecvWait(buf, &res, 5*time.Second) {
	}
	if err != ErrDead || time.Since(t0) > 2*time.Second {
		t.Fatalf("after the guest died: %v after %v", err, time.Since(t0))
	}
	c.Close()
}

// A Go host calling a C guest.
func TestRPCGoHostCGuest(t *testing.T) {
	r := rpcRegion(t)
	guest := startC(t, "rpc-serve", r.Dir(), r.Name(), "svc", "2")
	guest.ready(t)
	c, err := r.Connect("svc")
	must(t, err)
	must(t, rpcCalls(c, scale(100000), 512, 2048))
	c.Close()
	guest.in.Close()
	guest.wait(t)
}
