// SPDX-License-Identifier: Apache-2.0 OR MIT

// Command fbguest is the Go guest of the FlatBuffers example
// (examples/flatbuffers/README.md): it serves method 1, Compute, of a rill
// request/response service, reading each calc.Request where it lies in
// the request ring and building its calc.Response in the response ring,
// so that neither side copies a payload.
//
//	fbguest [-w N] [-wait D] [-eof] -dir DIR -region NAME -service NAME
//
// It waits up to D (10s by default) for the region and the service to
// appear, serves until SIGTERM or SIGINT (with -eof, also until its
// standard input ends: how a Windows host, which has no SIGTERM to send,
// stops it), then says how many answers it built in place.  The host waits for it with rill_rpc_wait_server, not
// by reading its output (it still prints "fbguest: serving", for people).
// A method other than Compute gets RILL_ENOMETHOD.
package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	flatbuffers "github.com/google/flatbuffers/go"

	rill "github.com/rill-ipc/rill/bindings/go"
	"github.com/rill-ipc/rill/examples/flatbuffers/guest/calc"
)

const methodCompute = 1

// Answers finished where the server publishes them with no copy (on a
// 64-byte boundary of resp), and others.
var inPlace, copied atomic.Uint64

// Builders are reused across calls; each call points one at the space the
// response ring reserved for its answer.
var builders = sync.Pool{New: func() any { return flatbuffers.NewBuilder(0) }}

// compute answers one request.  A malformed buffer makes the generated
// accessors index out of range: that panic becomes an error response.
func compute(req, resp []byte) (out []byte, status int32) {
	defer func() {
		if recover() != nil {
			out, status = nil, int32(rill.ErrInval.Code())
		}
	}()
	if len(req) < flatbuffers.SizeUOffsetT {
		return nil, int32(rill.ErrInval.Code())
	}
	r := calc.GetRootAsRequest(req, 0) // in place: no copy, no parse
	n := r.ValuesLength()
	result := 0.0
	switch r.Op() {
	case calc.OpSum, calc.OpMean:
		for i := 0; i < n; i++ {
			result += r.Values(i)
		}
		if r.Op() == calc.OpMean && n > 0 {
			result /= float64(n)
		}
	case calc.OpMax:
		result = math.Inf(-1)
		for i := 0; i < n; i++ {
			result = math.Max(result, r.Values(i))
		}
	default:
		return nil, int32(rill.ErrInval.Code())
	}

	b := builders.Get().(*flatbuffers.Builder)
	defer func() {
		b.Bytes = nil // the ring's space is not ours to keep
		builders.Put(b)
	}()
	// Build backwards from the end of resp (a multiple of 64 bytes long, so
	// that a finished buffer padded to 64 starts on a chunk boundary).
	room := len(resp) &^ 63
	b.Bytes = resp[:room:room]
	b.Reset()
	label := b.CreateByteString(r.Label())
	calc.ResponseStart(b)
	calc.ResponseAddResult(b, result)
	calc.ResponseAddCount(b, uint32(n))
	calc.ResponseAddLabel(b, label)
	root := calc.ResponseEnd(b)
	b.Prep(64, flatbuffers.SizeUOffsetT) // pad: the finished buffer is whole chunks
	b.Finish(root)
	out = b.FinishedBytes()
	off := uintptr(unsafe.Pointer(unsafe.SliceData(out))) - uintptr(unsafe.Pointer(unsafe.SliceData(resp)))
	if off < uintptr(room) && off%64 == 0 {
		inPlace.Add(1)
	} else {
		copied.Add(1) // it outgrew resp: the server copies it
	}
	return out, 0
}

func main() {
	workers := flag.Int("w", 1, "worker goroutines (1 to the service's lanes)")
	dir := flag.String("dir", "", "region directory (default $RILL_DIR, else /dev/shm)")
	region := flag.String("region", "fbdemo", "region name")
	service := flag.String("service", "calc", "service name")
	wait := flag.Duration("wait", 10*time.Second, "how long to wait for the region and the service")
	eof := flag.Bool("eof", false, "also stop when standard input ends")
	flag.Parse()
	// A worker parked in futex_waitv holds its P in the system call; with
	// fewer Ps than workers a woken worker may wait for the runtime to take
	// one back (up to milliseconds).  One P per worker, unless the user
	// chose GOMAXPROCS.
	if os.Getenv("GOMAXPROCS") == "" && runtime.GOMAXPROCS(0) < *workers {
		runtime.GOMAXPROCS(*workers)
	}
	// The region, then the service's last channel: a service whose
	// NAME.r.0 exists is whole (CreateService makes it last).
	r, err := rill.OpenRegionWait(*region, &rill.RegionOpts{Dir: *dir}, *wait)
	if err == nil {
		if err = r.WaitChannel(*service+".r.0", *wait); err != nil {
			r.Close()
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "fbguest: region %s, service %s: %v\n", *region, *service, err)
		os.Exit(1)
	}
	srv, err := r.Serve(*service, *workers, func(method uint16, req, resp []byte) ([]byte, int32) {
		if method != methodCompute {
			return nil, int32(rill.ErrNoMethod.Code())
		}
		return compute(req, resp)
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "fbguest: serve %s: %v\n", *service, err)
		os.Exit(1)
	}
	fmt.Printf("fbguest: serving %s in region %s with %d workers\n", *service, *region, *workers)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	if *eof {
		go func() {
			io.Copy(io.Discard, os.Stdin)
			select {
			case sig <- syscall.SIGTERM:
			default: // a signal is there already
			}
		}()
	}
	<-sig
	srv.Stop()
	r.Close()
	fmt.Printf("fbguest: %d answers built in place, %d copied\n", inPlace.Load(), copied.Load())
}
