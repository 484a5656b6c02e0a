// SPDX-License-Identifier: Apache-2.0 OR MIT

// Command rill-guest is a Go guest service for a native host: it serves a
// rill request/response service (docs/rpc.md) with N worker goroutines.
//
//	rill-guest [-w N] [-dir DIR] [-region NAME] [-service NAME] [-create | -wait D]
//
// Methods: 1 echo (the response is the request); 2 compute (the response
// is the 8-byte sum, in host byte order, of the request's bytes read as
// little-endian u64 words, the last one zero-padded).  Other methods get an
// error response (RILL_ENOMETHOD).  With -create it creates the region and
// the service if they do not exist.  With -wait D it waits up to D (a Go
// duration: 10s) for the host to create them: the region (asleep on
// inotify), then the service's last channel, NAME.r.0.  It serves until
// SIGINT or SIGTERM.  A host need not read its output: it waits for the
// guest with rill_rpc_wait_server (Go: Client.WaitServer).  The guest
// still prints a line when it serves, for people.
//
// Install it with
//
//	go install github.com/rill-ipc/rill/bindings/go/cmd/rill-guest@latest
//
// once the module is published; from a clone of rill, go install
// ./cmd/rill-guest in bindings/go.
package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	rill "github.com/rill-ipc/rill/bindings/go"
)

func handle(method uint16, req, resp []byte) ([]byte, int32) {
	switch method {
	case 1:
		if len(req) > len(resp) {
			return nil, int32(rill.ErrMsgSize.Code())
		}
		return resp[:copy(resp, req)], 0
	case 2:
		var sum uint64
		for len(req) >= 8 {
			sum += binary.LittleEndian.Uint64(req)
			req = req[8:]
		}
		var last [8]byte
		copy(last[:], req)
		sum += binary.LittleEndian.Uint64(last[:])
		binary.NativeEndian.PutUint64(resp, sum)
		return resp[:8], 0
	}
	return nil, int32(rill.ErrNoMethod.Code())
}

func main() {
	workers := flag.Int("w", 1, "worker goroutines (1 to the service's lanes)")
	dir := flag.String("dir", "", "region directory (default $RILL_DIR, else /dev/shm)")
	region := flag.String("region", "guest", "region name")
	service := flag.String("service", "guest", "service name")
	create := flag.Bool("create", false, "create the region (64 MiB) and the service (4 lanes) if missing")
	wait := flag.Duration("wait", 0, "wait this long for the host to create the region and the service")
	flag.Parse()
	// A worker parked in futex_waitv holds its P in the system call; with
	// fewer Ps than workers a woken worker may wait for the runtime to take
	// one back (up to milliseconds).  One P per worker, unless the user
	// chose GOMAXPROCS.
	if os.Getenv("GOMAXPROCS") == "" && runtime.GOMAXPROCS(0) < *workers {
		runtime.GOMAXPROCS(*workers)
	}
	fail := func(what string, err error) {
		fmt.Fprintf(os.Stderr, "rill-guest: %s: %v\n", what, err)
		os.Exit(1)
	}
	if *create && *wait != 0 {
		fail("flags", fmt.Errorf("-create and -wait: choose one"))
	}
	r, err := rill.OpenRegionWait(*region, &rill.RegionOpts{Dir: *dir}, *wait)
	if errors.Is(err, rill.ErrNoEnt) && *create {
		if r, err = rill.CreateRegion(*region, &rill.RegionOpts{Dir: *dir}); err == nil {
			err = r.CreateService(*service, nil)
		}
	}
	if err != nil {
		fail("region "+*region, err)
	}
	if *wait > 0 { // a service whose NAME.r.0 exists is whole (CreateService)
		if err := r.WaitChannel(*service+".r.0", *wait); err != nil {
			fail("service "+*service, err)
		}
	}
	srv, err := r.Serve(*service, *workers, handle)
	if err == rill.ErrWorkers {
		fail(fmt.Sprintf("serve %s with -w %d", *service, *workers),
			fmt.Errorf("%w (one worker per lane at most: give -w fewer)", err))
	}
	if err != nil {
		fail("serve "+*service, err)
	}
	fmt.Printf("rill-guest: serving %s in region %s with %d workers\n", *service, *region, *workers)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	srv.Stop()
	r.Close()
}
