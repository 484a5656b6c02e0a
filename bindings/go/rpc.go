// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

// Request/response over lanes of channels, the same protocol as the C
// library's rill_rpc_* (docs/rpc.md): a service S is lanes K of two
// reliable channels, S.q.K (requests) and S.r.K (responses), each with one
// writer; the request id is the descriptor's sig, the method the ctl
// application bits; an error response has CtlErr and a 4-byte payload, the
// (int32) error code.  A Go server answers C clients and the reverse.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Limits of a service (docs/rpc.md).
const (
	RPCMaxLanes  = 31   // most lanes of a service (2 channels each: a region holds 62 objects)
	RPCNameMax   = 34   // longest service name (its channels' names, "NAME.q.30", fit in NameMax)
	RPCMethodMax = 8191 // largest method number (the 13 application bits of ctl)
)

const (
	rpcBatch = 64 // requests a worker takes from a lane per pass
	rpcNap   = 50 * time.Millisecond
	// a waiter without every lane looks again this often (another worker
	// serves one, and will not watch it after)
	rpcHandoff = time.Millisecond
	// an idle worker looks whether anyone waits on the lanes this often
	rpcIdle   = 2 * time.Millisecond
	rpcSendNs = 2 * time.Second
)

// RPCOpts are a service's options; zero fields take the defaults.
type RPCOpts struct {
	Lanes  uint32 // 0 = 4, at most RPCMaxLanes
	Depth  uint32 // of each channel; 0 = 1024
	MTU    uint32 // 0 = 1024
	MaxMsg uint64 // largest request or response; 0 = 4 * MTU
}

func laneName(svc string, dir byte, k uint32) string { return fmt.Sprintf("%s.%c.%d", svc, dir, k) }

func rpcNameOK(name string) bool { return validName(name) && len(name) <= RPCNameMax }

// CreateService creates service name in the region: for each lane K a
// request channel NAME.q.K and a response channel NAME.r.K (docs/rpc.md),
// lane Lanes-1 first, lane 0 last and NAME.r.0 the very last, so that a
// service whose NAME.r.0 exists is whole (WaitChannel on it waits for a
// service; while it is being made, lane 0 is missing and Connect and Serve
// say ErrNoEnt).
// Errors: ErrInval (a name longer than RPCNameMax, more than RPCMaxLanes
// lanes, options no channel can have), ErrExist, ErrNoSpace, ErrIO.
func (r *Region) CreateService(name string, opts *RPCOpts) error {
	var o RPCOpts
	if opts != nil {
		o = *opts
	}
	if !rpcNameOK(name) || o.Lanes > RPCMaxLanes {
		return ErrInval
	}
	if o.Lanes == 0 {
		o.Lanes = 4
	}
	if o.Depth == 0 {
		o.Depth = 1024
	}
	if o.MTU == 0 {
		o.MTU = 1024
	}
	if o.MaxMsg == 0 {
		o.MaxMsg = 4 * uint64(o.MTU)
	}
	// two consumer slots: on a response channel, a client that reconnects
	// while its dead predecessor's slot is still held needs a second; on a
	// request channel, a lossy observer (`rill tail`) may hold one beside
	// the server's (whose slot a restarted server rejoins: joinRequests)
	co := &ChannelOpts{Depth: o.Depth, MTU: o.MTU, MaxConsumers: 2, MaxMsg: o.MaxMsg}
	if ChannelFootprint(co) == 0 {
		return ErrInval
	}
	// None of its channels may exist: nothing is made then.
	for k := uint32(0); k < o.Lanes; k++ {
		for _, d := range []byte{'q', 'r'} {
			if _, err := r.findChannel(laneName(name, d, k)); !errors.Is(err, ErrNoEnt) {
				if err == nil {
					return ErrExist
				}
				return err
			}
		}
	}
	// Lane 0 last, its response channel the very last: a service whose
	// NAME.r.0 exists is whole, and laneCount sees none of it before.
	for k := o.Lanes; k > 0; {
		k--
		for _, d := range []byte{'q', 'r'} {
			if err := r.CreateChannel(laneName(name, d, k), co); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *Region) laneCount(name string) uint32 {
	k := uint32(0)
	for ; k < RPCMaxLanes; k++ {
		if _, err := r.findChannel(laneName(name, 'q', k)); err != nil {
			break
		}
	}
	return k
}

// Handler answers one request: it returns its response and status 0, or a
// nonzero status, sent back to the caller as the call's error code:
// ErrNoMethod.Code() for a method it does not serve (the server does not
// know the methods: the handler tells), its own codes for the rest.  The
// response is best built in resp (the service's MaxMsg bytes) and returned
// as a slice of it: on a service whose messages fit one fragment (MaxMsg
// <= MTU) resp lies in the response ring, and a response that starts at a
// multiple of 64 bytes into resp (its start, or the tail where a
// FlatBuffers builder finishes) is published where it lies, with no copy.
// Any other bytes are copied.  req is read in place where it came in one
// fragment.  It runs on a worker goroutine and must not keep req or resp.
type Handler func(method uint16, req, resp []byte) (out []byte, status int32)

// Server serves a service with worker goroutines (Region.Serve).
//
// No worker owns a lane: a worker takes a lane (its flag), answers what is
// there and lets it go, so whichever worker runs serves whichever lane has
// requests, one at a time per lane (a lane's responses stay in the order of
// its requests).  A worker that finds nothing waits on every lane no one
// holds (WaitAny: it spins, then parks), unless as many wait already as the
// program may run at once (the fewer of GOMAXPROCS and the CPUs it may
// use): then it parks as an idle goroutine, out of the way of the one with
// a request, and looks whether anyone waits on the lanes after 2 ms, then
// after twice as long each time, up to 50 ms (when none does, all that run
// are in handlers, one maybe blocked in its).  A
// waiter that wakes with work while fewer run than that wakes an idle one.
// The C server (src/rpc.c) does the same.
type Server struct {
	stop    atomic.Bool
	wg      sync.WaitGroup
	lanes   []*rpcLane
	workers int
	cpus    int32         // at most this many wait on the lanes
	waiting atomic.Int32  // workers in WaitAny on the lanes
	running atomic.Int32  // workers not parked as idle
	idle    chan struct{} // a send wakes one idle worker
	done    chan struct{} // closed by Stop
}

type rpcLane struct {
	q      *Consumer
	r      *Producer
	inRing bool          // its responses fit one fragment
	held   atomic.Uint32 // 1 while a worker serves or waits on it
}

// take takes the lane: true if this worker holds it now.  (Go's atomics
// are sequentially consistent: the worker that held it before is done with
// its handles, whose state it stored before its drop.)
func (l *rpcLane) take() bool { return l.held.Load() == 0 && l.held.CompareAndSwap(0, 1) }

func (l *rpcLane) drop() { l.held.Store(0) }

type rpcWorker struct {
	s         *Server
	id        int
	req, resp []byte
	qs        []*Consumer // the lanes it waits on
	held      []*rpcLane
	timer     *time.Timer
}

func (l *rpcLane) sendErr(id uint64, method uint16, code int32) {
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], uint32(code))
	l.r.waitFor(rpcSendNs, func() error { return l.r.sendCtl(b[:], id, CtlErr|CtlUser(method)) })
}

// sliceOff is the offset of out in buf, if out lies within buf.
func sliceOff(buf, out []byte) (int, bool) {
	if len(out) == 0 {
		return 0, true
	}
	if len(buf) == 0 {
		return 0, false
	}
	off := uintptr(unsafe.Pointer(unsafe.SliceData(out))) - uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	return int(off), off <= uintptr(len(buf)) && uintptr(len(out)) <= uintptr(len(buf))-off
}

// serveLane answers up to rpcBatch requests of lane l (held) and returns
// how many, with no copy where it can (see Handler).
func (w *rpcWorker) serveLane(l *rpcLane, fn Handler) int {
	var m Meta
	done := 0
	p := l.r
	for ; done < rpcBatch; done++ {
		req, err := l.q.RecvView(w.req, &m)
		if err == ErrAgain {
			break
		}
		if err != nil {
			continue // cannot happen with a MaxMsg buffer: skip
		}
		method := m.Ctl >> CtlUserShift
		resp := w.resp[:p.MaxMsg()]
		// A client keeps at most its capacity of calls in flight, so there
		// is room; the wait only covers a client that died with its ring
		// full (until it is evicted).  Without room, the response is
		// copied later.
		var slot []byte // the reserved space, when the answer is built in the ring
		if l.inRing {
			if b, err := p.ReserveWait(max(p.MaxMsg(), 4), rpcSendNs); err == nil {
				slot, resp = b, b[:p.MaxMsg():p.MaxMsg()]
			}
		}
		inRing := slot != nil
		out, status := fn(method, req, resp)
		if status == 0 && len(out) > p.MaxMsg() {
			status = int32(ErrMsgSize.Code())
		}
		ctl := CtlMsg | CtlUser(method)
		switch {
		case status != 0 && inRing:
			binary.NativeEndian.PutUint32(slot, uint32(status))
			p.Commit(4, m.Sig, ctl|CtlErr)
		case status != 0:
			l.sendErr(m.Sig, method, status)
		case inRing:
			if off, ok := sliceOff(resp, out); ok && off&(1<<chunkShift-1) == 0 {
				p.CommitAt(off, len(out), m.Sig, ctl)
			} else {
				p.Commit(copy(resp, out), m.Sig, ctl) // copy moves overlapping bytes right
			}
		default:
			p.waitFor(rpcSendNs, func() error { return p.sendCtl(out, m.Sig, CtlUser(method)) })
		}
	}
	return done
}

// joinRequests joins request channel name as the lane's reliable consumer,
// resuming where the lane's last server left it: it rejoins that server's
// consumer slot, whose cursor is exact after a clean stop (leaving flushes
// it) and after a crash is the dead server's last flush (after its last
// whole batch).  A fresh join would start at the client's last flushed
// position, behind what the last server answered, and answer those
// requests again; and a dead server's slot left in place would hold the
// client back until it is evicted.  The slots in order: one never used
// (ErrNoEnt) had no server; a live one (ErrBusy) is an observer's (the
// lane's live server was refused before, by the lock of its response
// channel); a lossy one is an observer's that left or died (left again:
// freed).  The first reliable one is the last server's.  None: a fresh
// join.  As join_requests in src/rpc.c.
func (r *Region) joinRequests(name string) (*Consumer, error) {
	ci, err := r.findChannel(name)
	if err != nil {
		return nil, err
	}
	for slot := 0; slot < int(ci.maxConsumers); slot++ {
		// At the slot's cursor even if the producer did not count the
		// slot meanwhile: a client has at most its capacity of calls
		// unanswered, and they fit in the ring, so it never overwrote one.
		c, err := r.rejoinAtCursor(name, slot)
		if err == ErrNoEnt || err == ErrBusy {
			continue
		}
		if err != nil {
			return nil, err
		}
		if c.lossy { // an observer's
			c.Leave()
			continue
		}
		return c, nil
	}
	return r.JoinConsumer(name, Reliable)
}

// Serve serves service name of the region with workers goroutines (1 to
// the number of lanes), which share the lanes (see Server).  A waiting
// worker parks in a futex_waitv system call, which holds its P, so no more
// wait than the program has Ps; idle ones park as goroutines.  It resumes
// each lane where the lane's last server left it (it rejoins that server's
// request slot): what that server answered before it stopped is not
// answered again, what clients sent while no server ran is, and after a
// crash at most the batch then in progress is answered again.
// Errors: ErrInval (workers < 1, a bad name), ErrNoEnt (no such service),
// ErrWorkers (more workers than the service has lanes: more would never
// help), ErrBusy (another server holds a lane).
func (r *Region) Serve(name string, workers int, fn Handler) (*Server, error) {
	if !rpcNameOK(name) || fn == nil {
		return nil, ErrInval
	}
	lanes := r.laneCount(name)
	if lanes == 0 {
		return nil, ErrNoEnt
	}
	if workers < 1 {
		return nil, ErrInval
	}
	if workers > int(lanes) {
		return nil, ErrWorkers // more workers than lanes never help
	}
	cpus := min(runtime.GOMAXPROCS(0), runtime.NumCPU())
	s := &Server{workers: workers, cpus: int32(max(cpus, 1)), idle: make(chan struct{}),
		done: make(chan struct{})}
	var reqMax, respMax int
	for k := uint32(0); k < lanes; k++ {
		// The response channel's producer first: its lock says ErrBusy
		// while another server lives, before any request slot is touched.
		p, err := r.JoinProducer(laneName(name, 'r', k))
		if err != nil {
			s.leave()
			return nil, err
		}
		c, err := r.joinRequests(laneName(name, 'q', k))
		if err != nil {
			p.Leave()
			s.leave()
			return nil, err
		}
		s.lanes = append(s.lanes, &rpcLane{q: c, r: p, inRing: p.MaxMsg() <= p.MTU() && p.MTU() >= 4})
		reqMax, respMax = max(reqMax, c.MaxMsg()), max(respMax, p.MaxMsg())
	}
	s.running.Store(int32(workers))
	for i := 0; i < workers; i++ {
		w := &rpcWorker{s: s, id: i, req: make([]byte, reqMax), resp: make([]byte, respMax),
			qs: make([]*Consumer, 0, len(s.lanes)), held: make([]*rpcLane, 0, len(s.lanes))}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			n := len(s.lanes)
			for !s.stop.Load() {
				busy := 0
				for j := 0; j < n; j++ {
					l := s.lanes[(w.id+j)%n]
					if l.take() {
						done := w.serveLane(l, fn)
						// The lane's position, for the next server should
						// this one die (joinRequests): the requests of this
						// batch are answered, so a successor answers again
						// at most the batch in progress.  A batch that
						// drained the lane had its position written by the
						// poll that found it empty (an empty poll flushes
						// the cursor); one that stopped at rpcBatch with
						// requests still waiting is flushed here: one flush
						// per 64 requests, none at one call in flight.
						if done == rpcBatch {
							l.q.Flush()
						}
						busy += done
						l.drop()
					}
				}
				if busy == 0 {
					w.wait()
				}
			}
		}()
	}
	return s, nil
}

// wait waits on the lanes no one holds, or parks as idle when enough
// workers wait (see Server).
func (w *rpcWorker) wait() {
	s := w.s
	w.qs, w.held = w.qs[:0], w.held[:0]
	if s.waiting.Add(1) <= s.cpus {
		for _, l := range s.lanes {
			if l.take() {
				w.qs, w.held = append(w.qs, l.q), append(w.held, l)
			}
		}
	}
	if len(w.qs) > 0 {
		timeout := rpcNap
		if len(w.qs) < len(s.lanes) {
			timeout = rpcHandoff
		}
		i, _ := WaitAny(w.qs, timeout)
		for _, l := range w.held {
			l.drop()
		}
		// Nothing came, and another worker waits on the other lanes: leave
		// these to it (it takes them within rpcHandoff) rather than both
		// looking again every rpcHandoff while the server is idle.
		yield := i < 0 && len(w.qs) < len(s.lanes) && s.waiting.Load() > 1
		s.waiting.Add(-1)
		if i >= 0 && s.running.Load() < min(s.cpus, int32(s.workers)) {
			select { // work: an idle worker may take a share on a free CPU
			case s.idle <- struct{}{}:
			default:
			}
		}
		if !yield {
			return
		}
	} else {
		s.waiting.Add(-1)
	}
	w.parkIdle()
}

// parkIdle parks as an idle goroutine until woken or stopped.  It looks
// whether a worker waits on the lanes after rpcIdle, then after twice as
// long each time one does, up to rpcNap, and goes back to them when none
// does.
func (w *rpcWorker) parkIdle() {
	s := w.s
	s.running.Add(-1)
	defer s.running.Add(1)
	nap := rpcIdle
	if w.timer == nil {
		w.timer = time.NewTimer(nap)
	} else {
		w.timer.Reset(nap)
	}
	for {
		select {
		case <-s.idle:
		case <-s.done:
		case <-w.timer.C:
			if s.waiting.Load() > 0 && !s.stop.Load() {
				nap = min(2*nap, rpcNap)
				w.timer.Reset(nap)
				continue
			}
			return
		}
		if !w.timer.Stop() {
			select {
			case <-w.timer.C:
			default:
			}
		}
		return
	}
}

func (s *Server) leave() {
	for _, l := range s.lanes {
		l.q.Leave()
		l.r.Leave()
	}
}

// Stop stops the workers (each within 50 ms) and leaves the channels.
func (s *Server) Stop() error {
	s.stop.Store(true)
	close(s.done)
	s.wg.Wait()
	s.leave()
	return nil
}

// RPCResult describes a completed call.
type RPCResult struct {
	ID     uint64 // the call's id, as Send and Commit returned it
	Method uint16 // the call's method
	Status int32  // 0, or the error code of an error response
	Size   uint64 // response bytes (0 for an error)
}

// Client is a connection to a service (Region.Connect): one lane, used by
// one goroutine at a time.
type Client struct {
	p          *Producer
	c          *Consumer
	next, head uint64 // ids: next call, oldest in flight
	cap        uint32
	maxMsg     uint64
	scratch    []byte // to drop a stale response larger than the caller's buffer
}

// Connect takes the first free lane of service name.  Errors: ErrInval,
// ErrNoEnt, ErrFull (every lane is taken).
func (r *Region) Connect(name string) (*Client, error) {
	if !rpcNameOK(name) {
		return nil, ErrInval
	}
	lanes := r.laneCount(name)
	if lanes == 0 {
		return nil, ErrNoEnt
	}
	for k := uint32(0); k < lanes; k++ {
		p, err := r.JoinProducer(laneName(name, 'q', k)) // the lane's lock
		if err == ErrBusy {
			continue
		}
		if err != nil {
			return nil, err
		}
		c, err := r.JoinConsumer(laneName(name, 'r', k), Reliable)
		if err != nil {
			p.Leave()
			return nil, err
		}
		// Responses never fill the ring: at most depth / (fragments of the
		// largest response) calls in flight.
		cl := &Client{p: p, c: c, maxMsg: uint64(c.MaxMsg()),
			cap: uint32(c.depth / frags(uint64(c.MaxMsg()), c.mtu))}
		// ids start at random: a response an earlier client left in the
		// lane never matches one of ours
		cl.next = randomSeed()
		cl.head = cl.next
		return cl, nil
	}
	return nil, ErrFull
}

// Close leaves the lane.
func (c *Client) Close() error {
	c.p.Leave()
	c.c.Leave()
	return nil
}

// WaitServer waits up to timeout (Forever: no limit; 0 or less: looks
// once) until a server serves the client's lane: a live server worker has
// joined its request channel, so a call sent now will be answered.  For a
// host that starts its guest itself (rather than reading a "ready" line
// from it).  nil or ErrTimedOut.  As rill_rpc_wait_server.
func (c *Client) WaitServer(timeout time.Duration) error {
	_, err := c.p.WaitConsumers(1, timeout) // the request channel's consumers are the server's workers
	return err
}

// Capacity is how many calls the client may have in flight.
func (c *Client) Capacity() int { return int(c.cap) }

// Send sends a request and returns its id without waiting for its response
// (it may wait, at most 2 s, for room in the request ring while the server
// catches up).  ErrAgain when Capacity calls are in flight (receive some) or
// the ring stayed full, ErrMsgSize, ErrInval.
func (c *Client) Send(method uint16, req []byte) (uint64, error) {
	if method > RPCMethodMax {
		return 0, ErrInval
	}
	if c.next-c.head >= uint64(c.cap) {
		return 0, ErrAgain
	}
	if uint64(len(req)) > c.maxMsg {
		return 0, ErrMsgSize
	}
	err := c.p.waitFor(rpcSendNs, func() error { return c.p.sendCtl(req, c.next, CtlUser(method)) })
	if err == ErrTimedOut {
		return 0, ErrAgain
	}
	if err != nil {
		return 0, err
	}
	id := c.next
	c.next++
	return id, nil
}

// Reserve is the first step of a send without a copy: it returns n bytes
// (n <= the service's MTU) of the request ring, where the caller builds the
// request, then sends it with Commit.  ErrAgain (Capacity calls in flight,
// or no room in the ring within 2 s), ErrMsgSize.
func (c *Client) Reserve(n int) ([]byte, error) {
	if c.next-c.head >= uint64(c.cap) {
		return nil, ErrAgain
	}
	b, err := c.p.ReserveWait(n, rpcSendNs)
	if err == ErrTimedOut {
		err = ErrAgain
	}
	return b, err
}

// Commit sends the n bytes at offset off of the reserved buffer as a call
// of method and returns its id; off is 0, or a multiple of 64 for a request
// built backwards from the end of the buffer (a FlatBuffers builder's
// FinishedBytes).  ErrAgain, ErrInval (nothing reserved, off or n out of
// bounds, method out of range).  A Send in between drops the reservation.
func (c *Client) Commit(method uint16, off, n int) (uint64, error) {
	if method > RPCMethodMax {
		return 0, ErrInval
	}
	if c.next-c.head >= uint64(c.cap) {
		return 0, ErrAgain
	}
	if err := c.p.CommitAt(off, n, c.next, CtlMsg|CtlUser(method)); err != nil {
		return 0, err
	}
	id := c.next
	c.next++
	return id, nil
}

// Recv receives the next response of a call in flight into resp, without
// waiting.  ErrAgain (nothing in flight, or nothing yet), ErrMsgSize
// (res.Size set: call again with more room), or ErrServerDead /
// ErrServerLeft: the server died or stopped and every call in flight is
// lost (errors.Is matches them to ErrDead / ErrClosed, what they were
// before 0.3).
func (c *Client) Recv(resp []byte, res *RPCResult) error {
	return c.RecvWait(resp, res, 0)
}

// RecvWait is Recv that waits up to timeout (ErrTimedOut).
func (c *Client) RecvWait(resp []byte, res *RPCResult, timeout time.Duration) error {
	_, err := c.recv(resp, res, timeout, false)
	return err
}

// RecvView is RecvWait without the copy where it can: a response in one
// fragment is returned where it lies in the ring (valid until the next
// call on this client); one in fragments is gathered into resp.  It
// returns the response's bytes (for an error response, none).
func (c *Client) RecvView(resp []byte, res *RPCResult, timeout time.Duration) ([]byte, error) {
	return c.recv(resp, res, timeout, true)
}

func (c *Client) recv(resp []byte, res *RPCResult, timeout time.Duration, inPlace bool) ([]byte, error) {
	for {
		if c.next == c.head {
			return nil, ErrAgain
		}
		var m Meta
		var data []byte
		err := c.c.waitFor(timeout, func() (e error) {
			if inPlace {
				data, e = c.c.RecvView(resp, &m)
			} else {
				var n int
				n, e = c.c.Recv(resp, &m)
				data = resp[:n]
			}
			return
		})
		// responses come in the order of the calls (one worker per lane);
		// others were left by an earlier client of the lane
		stale := int64(m.Sig-c.head) < 0 || int64(m.Sig-c.next) >= 0
		if err == ErrMsgSize && stale {
			if c.scratch == nil {
				c.scratch = make([]byte, c.maxMsg)
			}
			c.c.Recv(c.scratch, &m) // drop it
			continue
		}
		if err == ErrMsgSize {
			res.Size = m.Size
			return nil, err
		}
		// The response channel's producer is the server: name it.
		switch err {
		case nil:
		case ErrDead:
			return nil, ErrServerDead
		case ErrClosed:
			return nil, ErrServerLeft
		default:
			return nil, err
		}
		if stale {
			continue
		}
		c.head = m.Sig + 1
		*res = RPCResult{ID: m.Sig, Method: m.Ctl >> CtlUserShift, Size: uint64(len(data))}
		if m.Ctl&CtlErr != 0 {
			res.Status = int32(ErrIO.Code())
			if len(data) == 4 {
				res.Status = int32(binary.NativeEndian.Uint32(data))
			}
			res.Size = 0
			data = nil
		}
		return data, nil
	}
}

// Call makes one call and waits up to timeout for its response (no other
// call may be in flight: ErrBusy).  A call that timed out is forgotten: its
// response is dropped if it comes.
func (c *Client) Call(method uint16, req, resp []byte, res *RPCResult, timeout time.Duration) error {
	if c.next != c.head {
		return ErrBusy
	}
	if _, err := c.Send(method, req); err != nil {
		return err
	}
	err := c.RecvWait(resp, res, timeout)
	if err == ErrTimedOut {
		c.head = c.next // forget it
	}
	return err
}
