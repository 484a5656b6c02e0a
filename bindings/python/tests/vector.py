# SPDX-License-Identifier: Apache-2.0 OR MIT
"""The Python interpreter of the shared test vectors (tests/vectors/*.vec,
whose header comment is the format's specification), through the public
API of the binding only:

    python vector.py [vector] write|check FILE DIR

exits 0 (pass), 1 (a mismatch: "FILE:LINE: expected X, got Y" on stderr)
or 2 (usage).  The writer runs the lines before "check", in a region it
creates in DIR, and exits without leaving what it did not leave explicitly
(os._exit: no finaliser runs), so that the checker finds those endpoints
dead; the checker (another process) opens the region and runs the lines
after "check".  test_vector.py runs it against the C and Go peers' own
interpreters (tests/xpeer.c, bindings/go/vector_test.go).

What the binding can express: every line and every key of basic.vec.

Mapping of the lines to the binding: commit = reserve(n, timeout=0) then
commit(n, sig, ctl, tsorig); send = send(data, sig, timeout=0); recv =
recv_meta(timeout=0) ("again" is the TimedOut of a look that found
nothing); poll = poll() (None: empty; Overrun with .lost); wait =
recv_meta(timeout=5) (Closed, Dead); rejoin = consumer(chan, slot=N);
flush/leave = flush()/close(); stats = channel_stats(); slot =
consumer_stats().
"""
import os
import sys
from pathlib import Path

import rill

REPO = Path(__file__).resolve().parents[3]
BASIC = REPO / "tests" / "vectors" / "basic.vec"

LIVENESS = {rill.PEER_NONE: "none", rill.PEER_ALIVE: "alive", rill.PEER_DEAD: "dead",
            rill.PEER_UNKNOWN: "unknown"}
MODES = {rill.RELIABLE: "reliable", rill.LOSSY: "lossy", 0: "free"}
ERRORS = {"again": rill.Again, "msgsize": rill.MessageTooLarge}


class Mismatch(Exception):
    pass


def payload(sig: int, off: int, n: int) -> bytes:
    """Bytes [OFF, OFF+N) of the vector message with sig SIG: byte j is
    (uint8)(SIG * 31 + j)."""
    base = sig * 31 + off
    return bytes((base + j) & 255 for j in range(n))


def read(file):
    """(writer lines, checker lines), each a list of (line number, tokens)."""
    write, check, part = [], [], None
    part = write
    with open(file) as f:
        for no, line in enumerate(f, 1):
            tok = line.split("#", 1)[0].split()
            if not tok:
                continue
            if tok == ["check"]:
                part = check
                continue
            part.append((no, tok))
    return write, check


class Runner:
    def __init__(self, file, dir, writer):
        self.file, self.dir, self.writer = str(file), str(dir), writer
        self.region = None
        self.prods = {}
        self.cons = {}  # channel -> {slot: Consumer}
        self.off = {}   # channel -> where the next commit goes on in its message
        self.no, self.tok = 0, []

    # ---- helpers

    def fail(self, msg):
        raise Mismatch(f"{self.file}:{self.no}: {msg}")

    def num(self, i):
        try:
            return int(self.tok[i], 10)
        except (IndexError, ValueError):
            self.fail(f"expected a number in field {i}, got {self.tok[i:i + 1]}")

    def consumer(self, ch, slot):
        c = self.cons.get(ch, {}).get(slot)
        if c is None:
            self.fail(f"expected a consumer of this process in slot {slot} of {ch}, got none")
        return c

    def producer(self, ch):
        p = self.prods.get(ch)
        if p is None:
            self.fail(f"expected a producer of this process on {ch}, got none")
        return p

    def outcome(self, i, call):
        """Runs CALL; checks its outcome against an optional "expect
        again|msgsize" at token I.  Returns (True, result) if it succeeded."""
        want = None
        if len(self.tok) > i:
            if self.tok[i] != "expect" or len(self.tok) != i + 2 or self.tok[i + 1] not in ERRORS:
                self.fail(f"expected 'expect again|msgsize', got {' '.join(self.tok[i:])}")
            want = self.tok[i + 1]
        try:
            r = call()
        except rill.Error as e:
            if want is None or type(e) is not ERRORS[want]:
                self.fail(f"expected {want or 'ok'}, got {type(e).__name__}: {e}")
            return False, None
        if want is not None:
            self.fail(f"expected {want}, got ok")
        return True, r

    def kv(self, got):
        for t in self.tok:
            if "=" not in t:
                continue
            k, want = t.split("=", 1)
            if k not in got:
                self.fail(f"unknown key {k!r}")
            if str(got[k]) != want:
                self.fail(f"{k}: expected {want}, got {got[k]}")

    # ---- one line

    def step(self):
        t = self.tok
        op = t[0]
        if op == "region":
            if self.region is not None:
                self.fail("expected one region line, got a second one")
            self.region = rill.Region.create(t[1], size=self.num(2), dir=self.dir)
        elif op == "channel":
            self.region.create_channel(t[1], depth=self.num(2), mtu=self.num(3),
                                       max_consumers=self.num(4), max_msg=self.num(5))
        elif op in ("consumer", "rejoin"):
            if op == "consumer":
                if t[2] not in ("reliable", "lossy"):
                    self.fail(f"expected reliable|lossy, got {t[2]}")
                c = self.region.consumer(t[1], lossy=t[2] == "lossy")
            else:
                c = self.region.consumer(t[1], slot=self.num(2))
                if c.slot != self.num(2):
                    self.fail(f"slot: expected {self.num(2)}, got {c.slot}")
            if c.slot in self.cons.setdefault(t[1], {}):
                self.fail(f"expected a slot not held here, got slot {c.slot}")
            self.cons[t[1]][c.slot] = c
        elif op == "producer":
            if t[1] in self.prods:
                self.fail(f"expected no producer of this process on {t[1]}, got one")
            self.prods[t[1]] = self.region.producer(t[1])
            self.off[t[1]] = 0
        elif op == "commit":
            ch, n, sig, ctl, ts = t[1], self.num(2), self.num(3), self.num(4), self.num(5)
            p = self.producer(ch)
            ok, buf = self.outcome(6, lambda: p.reserve(n, timeout=0))
            if not ok:
                return
            if ctl & rill.CTL_SOM:
                self.off[ch] = 0
            buf[:] = payload(sig, self.off[ch], n)
            del buf
            p.commit(n, sig=sig, ctl=ctl, tsorig=ts)
            self.off[ch] += n
            if ctl & rill.CTL_EOM:
                self.off[ch] = 0
        elif op == "send":
            p, n, sig = self.producer(t[1]), self.num(2), self.num(3)
            self.outcome(4, lambda: p.send(payload(sig, 0, n), sig=sig, timeout=0))
        elif op == "recv":
            c = self.consumer(t[1], self.num(2))
            if t[3] != "expect":
                self.fail(f"expected 'expect', got {t[3]}")
            if t[4] == "again":
                try:
                    data, m = c.recv_meta(timeout=0)
                except rill.TimedOut:  # a look that found nothing (EAGAIN)
                    return
                self.fail(f"expected again, got message sig {m.sig}")
            data, m = c.recv_meta(timeout=0)
            want = (self.num(4), self.num(5), self.num(6), self.num(7), self.num(8))
            got = (len(data), m.sig, m.ctl, m.tsorig, m.lost)
            if got != want or m.size != len(data):
                self.fail(f"expected size/sig/ctl/tsorig/lost {want}, got {got} (size {m.size})")
            if data != payload(m.sig, 0, len(data)):
                self.fail(f"payload of sig {m.sig} differs")
        elif op == "poll":
            c = self.consumer(t[1], self.num(2))
            what = t[4]
            try:
                v = c.poll()
            except rill.Overrun as e:
                if what != "overrun" or e.lost != self.num(5):
                    self.fail(f"expected {' '.join(t[4:])}, got overrun {e.lost}")
                return
            if what == "empty":
                if v is not None:
                    self.fail(f"expected empty, got {v!r}")
            elif what == "msg":
                if v is None:
                    self.fail("expected a message, got empty")
                want = (self.num(5), self.num(6), self.num(7), self.num(8),
                        self.num(9))
                got = (v.seq, len(v.data), v.sig, v.ctl, v.tsorig)
                if got != want or v.size != len(v.data):
                    self.fail(f"expected seq/size/sig/ctl/tsorig {want}, got {got}")
                if v.tobytes() != payload(v.sig, self.num(10), v.size):
                    self.fail(f"payload of seq {v.seq} differs")
            elif what == "overrun":
                self.fail(f"expected overrun {self.num(5)}, got {v!r}")
            else:
                self.fail(f"unknown poll expectation {what!r}")
        elif op == "wait":
            c = self.consumer(t[1], self.num(2))
            want = {"closed": rill.Closed, "dead": rill.Dead}.get(t[4])
            if want is None:
                self.fail(f"expected closed|dead, got {t[4]}")
            try:
                data, m = c.recv_meta(timeout=5)
            except rill.Error as e:
                if type(e) is not want:
                    self.fail(f"expected {t[4]}, got {type(e).__name__}: {e}")
                return
            self.fail(f"expected {t[4]}, got message sig {m.sig}")
        elif op in ("flush", "leave"):
            if t[2] == "producer":
                p = self.producer(t[1])
                if op == "flush":
                    p.flush()
                else:
                    del self.prods[t[1]]
                    p.close()
            else:
                slot = self.num(2)
                c = self.consumer(t[1], slot)
                if op == "flush":
                    c.flush()
                else:
                    del self.cons[t[1]][slot]
                    c.close()
        elif op == "stats":
            st = self.region.channel_stats(t[1])
            self.kv({"seq": st.seq, "msgs": st.msgs, "bytes": st.bytes,
                     "backpressure": st.backpressure, "consumers": st.nconsumers,
                     "evictions": st.evictions, "producer": LIVENESS[st.producer_liveness]})
        elif op == "slot":
            cs = self.region.consumer_stats(t[1], self.num(2))
            self.kv({"mode": MODES[cs.mode], "seq": cs.seq, "msgs": cs.msgs, "bytes": cs.bytes,
                     "overrun_poll": cs.overrun_poll, "overrun_read": cs.overrun_read,
                     "lost": cs.lost, "liveness": LIVENESS[cs.liveness],
                     "evicted": int(bool(cs.evicted))})
        else:
            self.fail(f"unknown line {op!r}")

    def run(self):
        write, check = read(self.file)
        if not check:
            raise Mismatch(f"{self.file}: expected a line 'check', got none")
        lines = write
        if not self.writer:
            lines = check
            name = [tok[1] for _, tok in write if tok[0] == "region"]
            if not name:
                raise Mismatch(f"{self.file}: expected a region line before check, got none")
            self.region = rill.Region.open(name[-1], dir=self.dir)
        for self.no, self.tok in lines:
            try:
                self.step()
            except Mismatch:
                raise
            except (rill.Error, ValueError, TypeError, IndexError) as e:
                self.fail(f"{' '.join(self.tok)}: {type(e).__name__}: {e}")


# ---- the masked byte comparison (tests/vectors/README.md, "Same bytes") -----

PAGE, TABLE, ENTRY, MAX_OBJECTS, DESC = 4096, 128, 64, 62, 32


def mask(b: bytes) -> bytearray:
    """A copy of region file B with the fields two writers legitimately
    differ in zeroed: times, pids, latency samples, the producer's ASYM
    flag and the wait page's stamp_req (the table of
    tests/vectors/README.md; docs/PROTOCOL.md §4)."""
    b = bytearray(b)

    def u32(off):
        return int.from_bytes(b[off:off + 4], "little")

    def zero(off, n):
        b[off:off + n] = bytes(len(b[off:off + n]))

    zero(24, 8)  # region created_ns
    zero(32, 4)  # creator_pid
    for i in range(min(u32(44), MAX_OBJECTS)):
        off = int.from_bytes(b[TABLE + i * ENTRY + 48:TABLE + i * ENTRY + 56], "little")
        depth, maxcons = u32(off + 24), u32(off + 32)
        zero(off + 104, 8)  # channel created_ns
        prod = off + PAGE
        zero(prod + 12, 4)  # producer pid
        zero(prod + 20, 4)  # flags (ASYM)
        zero(prod + 32, 8)  # hb_ns
        # wait page stamp_req: bumped at heartbeats, whose countdown is random
        zero(off + 2 * PAGE + 8, 4)
        cursors = off + 3 * PAGE
        for s in range(maxcons):
            k = cursors + s * PAGE
            zero(k + 16, 4)      # pid
            zero(k + 32, 8)      # hb_ns
            zero(k + 128, 8)     # lat_sum
            zero(k + 192, 1024)  # lat (samples)
        meta = cursors + maxcons * PAGE
        for d in range(depth):
            zero(meta + d * DESC + 28, 4)  # tspub
    return b


def main(argv):
    args = argv[1:]
    if args[:1] == ["vector"]:  # the peers' spelling: vector write|check FILE DIR
        args = args[1:]
    if len(args) != 3 or args[0] not in ("write", "check"):
        print("usage: vector.py [vector] write|check FILE DIR", file=sys.stderr)
        return 2
    global RUNNER
    RUNNER = Runner(args[1], args[2], args[0] == "write")  # its endpoints outlive main()
    try:
        RUNNER.run()
    except Mismatch as e:
        print(e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    rc = main(sys.argv)
    sys.stdout.flush()
    sys.stderr.flush()
    # Exit with every endpoint not left explicitly still joined (no
    # finaliser runs): the kernel drops their locks, the checker finds them
    # dead.
    os._exit(rc)
