#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 OR MIT
"""The Python binding beside C and beside what Python users have.

    pybench.py --cbench BUILD/rill_bench --out FILE [--quick] [--rounds N]

Throughput of one producer and one consumer process at 64 B and 1 KiB:

  rill       Python -> Python, one message per call (send / recv)
  rill-batch Python -> Python, send_many / recv_many of 64 messages
  rill       Python -> C, C -> Python, and C -> C (rill_bench's workers)
  zmq        pyzmq PUSH/PULL over ipc://
  mpqueue    multiprocessing.Queue
  shmlock    a ring in multiprocessing.shared_memory, a multiprocessing.Lock
             around every access (what a Python user writes by hand)

Every measurement runs in two fresh processes pinned to two CPUs (the
consumer on the second, the producer on the first); the consumer receives
WARM messages, then times COUNT more.  Every message is the benchmark's
message (bench/bench.h: word 0 the sequence number, the last word that
number xor a key, constant words between) and every byte of every message
is checked, on both sides of every row alike, C or Python.  Rows are
interleaved round by round, so that a disturbance of the shared machine
hits all of them; medians over the rounds, and the bars' ratios both of
medians and paired round by round.

Bars (64 B, Python -> Python, one message per call): rill >= 3x pyzmq
PUSH/PULL and >= 10x multiprocessing.Queue.

Needs: the rill package (pip install ./bindings/python) and pyzmq; `make
pybench` makes a venv with both (bench/python/requirements.txt).
"""
import argparse
import json
import multiprocessing as mp
import os
import platform
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time

KEY = 0x5A5AA5A5C3C33C3C
M64 = 0xFFFFFFFFFFFFFFFF
BATCH = 64
SIZES = (64, 1024)
# messages per measurement (warm-up is a tenth more), chosen so that each
# takes about half a second here; --quick divides them by ten
COUNTS = {"rill": 2_000_000, "rill-batch": 2_000_000, "zmq": 500_000, "mpqueue": 200_000,
          "shmlock": 300_000}
BARS = (("rill ≥ 3× pyzmq PUSH/PULL", "zmq", 3.0),
        ("rill ≥ 10× multiprocessing.Queue", "mpqueue", 10.0))
WAIT_S = 120


# ---- the message (bench/bench.h) --------------------------------------------

def middle(n):
    """The constant words 1 .. n/8 - 2 of an N-byte message."""
    return b"".join(struct.pack("<Q", ((k + 1) * 0x9E3779B97F4A7C15) & M64)
                    for k in range(1, n // 8 - 1))


def codec(n):
    """(pack(seq) -> message, check(message, seq) -> errors) for N bytes."""
    s = struct.Struct(f"<Q{n - 16}sQ")
    mid, pack, unpack = middle(n), s.pack, s.unpack

    def make(seq):
        return pack(seq, mid, seq ^ KEY)

    def check(m, seq):
        if len(m) != n:
            return 1
        a, b, z = unpack(m)
        return a != seq or z != seq ^ KEY or b != mid
    return make, check


# ---- the Python sides --------------------------------------------------------

def pin(cpu):
    os.sched_setaffinity(0, {cpu})


def receiver(kind, where, size):
    """A function returning the next message (or a list of them, batch)."""
    if kind in ("rill", "rill-batch"):
        import rill
        region = rill.Region.open(where["region"], dir=where["dir"])
        c = region.consumer("c")
        c.set_spin(WAIT_S)  # busy-poll, as the C workers do
        if kind == "rill":
            return c.recv, c
        return (lambda: c.recv_many(BATCH)), c
    if kind == "zmq":
        import zmq
        s = zmq.Context.instance().socket(zmq.PULL)
        s.bind(where["ipc"])
        return s.recv, s
    if kind == "mpqueue":
        return where["queue"].get, None
    if kind == "shmlock":
        return shm_receiver(where, size)
    raise ValueError(kind)


def sender(kind, where, size):
    """A function sending (message, seq), or (list, first seq) in batch."""
    if kind in ("rill", "rill-batch"):
        import rill
        region = rill.Region.open(where["region"], dir=where["dir"])
        p = region.producer("c")
        p.set_spin(WAIT_S)
        return (p.send if kind == "rill" else p.send_many), p
    if kind == "zmq":
        import zmq
        s = zmq.Context.instance().socket(zmq.PUSH)
        s.connect(where["ipc"])
        send = s.send
        return (lambda m, seq: send(m)), s
    if kind == "mpqueue":
        put = where["queue"].put
        return (lambda m, seq: put(m)), None
    if kind == "shmlock":
        return shm_sender(where, size)
    raise ValueError(kind)


SHM_SLOTS = 1024
SHM_HDR = 128  # head at 0, tail at 64, then the slots
Q = struct.Struct("<Q")


def shm_receiver(where, size):
    from multiprocessing import shared_memory
    shm = shared_memory.SharedMemory(name=where["shm"])
    buf, lock, tail = shm.buf, where["lock"], 0

    def recv():
        nonlocal tail
        while True:
            with lock:
                if Q.unpack_from(buf, 0)[0] > tail:
                    off = SHM_HDR + (tail % SHM_SLOTS) * size
                    m = bytes(buf[off:off + size])
                    tail += 1
                    Q.pack_into(buf, 64, tail)
                    return m
    return recv, shm


def shm_sender(where, size):
    from multiprocessing import shared_memory
    shm = shared_memory.SharedMemory(name=where["shm"])
    buf, lock, head = shm.buf, where["lock"], 0

    def send(m, seq):
        nonlocal head
        while True:
            with lock:
                if head - Q.unpack_from(buf, 64)[0] < SHM_SLOTS:
                    off = SHM_HDR + (head % SHM_SLOTS) * size
                    buf[off:off + size] = m
                    head += 1
                    Q.pack_into(buf, 0, head)
                    return
    return send, shm


def close(h):
    if h is None:
        return
    if hasattr(h, "buf"):  # SharedMemory: drop our exports first
        h.close()
    elif type(h).__module__.startswith("zmq"):
        h.close(linger=-1)  # everything sent is delivered
    else:
        h.close()


def py_consumer(kind, where, size, warm, count, cpu, ctl):
    try:
        pin(cpu)
        recv, h = receiver(kind, where, size)
        _, check = codec(size)
        errs, seq, t0, s0 = 0, 0, 0, 0
        ctl.put(("ready",))
        total = warm + count
        if kind == "rill-batch":  # timed from the first batch after the warm-up
            while seq < total:
                if seq >= warm and not t0:
                    t0, s0 = time.perf_counter_ns(), seq
                for m in recv():
                    errs += check(m, seq)
                    seq += 1
        else:
            while seq < total:
                if seq == warm:
                    t0, s0 = time.perf_counter_ns(), seq
                errs += check(recv(), seq)
                seq += 1
        ns = time.perf_counter_ns() - t0
        close(h)
        ctl.put(("done", ns, errs + (seq != total), seq - s0))
    except BaseException as e:  # noqa: B902 - reported to the parent
        ctl.put(("error", f"{kind} consumer: {type(e).__name__}: {e}"))


def py_producer(kind, where, size, total, cpu, ctl):
    try:
        pin(cpu)
        send, h = sender(kind, where, size)
        make, _ = codec(size)
        if kind == "rill-batch":
            for base in range(0, total, BATCH):
                send([make(s) for s in range(base, min(base + BATCH, total))], base)
        else:
            for seq in range(total):
                send(make(seq), seq)
        close(h)
        ctl.put(("sent",))
    except BaseException as e:  # noqa: B902
        ctl.put(("error", f"{kind} producer: {type(e).__name__}: {e}"))


# ---- one measurement ----------------------------------------------------------

class Failed(Exception):
    pass


def ctl_get(q, what):
    try:
        m = q.get(timeout=WAIT_S)
    except Exception:
        raise Failed(f"no answer from the {what} in {WAIT_S} s") from None
    if m[0] == "error":
        raise Failed(m[1])
    return m


def measure(ctx, args, tmp, kind, prod, cons, size, count, n):
    """Messages per second of one run, and the errors the consumer saw."""
    warm = count // 10
    total = warm + count
    where, cleanup = {}, []
    if kind in ("rill", "rill-batch"):
        import rill
        where = {"dir": tmp, "region": f"b{n}"}
        r = rill.Region.create(where["region"], size=32 << 20, dir=tmp)
        r.create_channel("c", depth=4096, mtu=1024, max_msg=1024)
        r.close()
        cleanup.append(lambda: rill.Region.unlink(where["region"], dir=tmp))
    elif kind == "zmq":
        where = {"ipc": f"ipc://{tmp}/z{n}.ipc"}
    elif kind == "mpqueue":
        where = {"queue": ctx.Queue()}
    elif kind == "shmlock":
        from multiprocessing import shared_memory
        shm = shared_memory.SharedMemory(create=True, size=SHM_HDR + SHM_SLOTS * size)
        shm.buf[:SHM_HDR] = bytes(SHM_HDR)
        where = {"shm": shm.name, "lock": ctx.Lock()}
        cleanup.append(lambda: (shm.close(), shm.unlink()))
    ctl, pctl = ctx.Queue(), ctx.Queue()  # the consumer's, the producer's
    procs = []
    try:
        if cons == "c":
            cp = subprocess.Popen(["taskset", "-c", "1", args.cbench, "worker", "brecv", tmp,
                                   where["region"], "c", str(size), str(warm), str(count)],
                                  stdout=subprocess.PIPE, text=True)
            procs.append(cp)
            if cp.stdout.readline().strip() != "ready":
                raise Failed("the C consumer did not start")
        else:
            cp = ctx.Process(target=py_consumer, args=(kind, where, size, warm, count, 1, ctl))
            cp.start()
            procs.append(cp)
            ctl_get(ctl, "consumer")
        if prod == "c":
            pp = subprocess.Popen(["taskset", "-c", "0", args.cbench, "worker", "bsend", tmp,
                                   where["region"], "c", str(size), str(warm), str(count)])
        else:
            pp = ctx.Process(target=py_producer, args=(kind, where, size, total, 0, pctl))
            pp.start()
        procs.append(pp)
        if cons == "c":
            out, _ = cp.communicate(timeout=WAIT_S)
            f = out.split()
            if cp.returncode != 0 or len(f) != 4:
                raise Failed(f"the C consumer failed: {out.strip()}")
            ns, errs, timed = int(f[1]), int(f[3]), count
        if prod == "c":
            if pp.wait(WAIT_S) != 0:
                raise Failed("the C producer failed")
        else:
            ctl_get(pctl, "producer")
        if cons != "c":
            _, ns, errs, timed = ctl_get(ctl, "consumer")
        return timed / ns * 1e9, errs
    finally:
        for p in procs:
            if isinstance(p, subprocess.Popen):
                if p.poll() is None:
                    p.kill()
                p.wait()
            else:
                p.join(10)
                if p.is_alive():
                    p.kill()
                    p.join()
        for c in cleanup:
            c()


# ---- the run --------------------------------------------------------------------

ROWS = [  # (kind, producer, consumer)
    ("rill", "py", "py"), ("rill-batch", "py", "py"), ("rill", "py", "c"), ("rill", "c", "py"),
    ("rill", "c", "c"), ("zmq", "py", "py"), ("mpqueue", "py", "py"), ("shmlock", "py", "py"),
]
NAMES = {"rill": "rill", "rill-batch": f"rill, send_many/recv_many of {BATCH}",
         "zmq": "pyzmq PUSH/PULL, ipc://", "mpqueue": "multiprocessing.Queue",
         "shmlock": "multiprocessing.shared_memory + Lock"}
SIDE = {"py": "Python", "c": "C"}


def rate(x):
    return f"{x / 1e6:.2f} M" if x >= 1e6 else f"{x / 1e3:.0f} k"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cbench", required=True, help="rill_bench (its worker mode is the C side)")
    ap.add_argument("--out", required=True, help="where the JSON results go")
    ap.add_argument("--quick", action="store_true", help="one round, a tenth of the messages")
    ap.add_argument("--rounds", type=int, default=0, help="rounds (default 5; --quick: 1)")
    args = ap.parse_args()
    rounds = args.rounds or (1 if args.quick else 5)
    scale = 10 if args.quick else 1
    if len(os.sched_getaffinity(0)) < 2 or not {0, 1} <= os.sched_getaffinity(0):
        print("pybench: CPUs 0 and 1 are needed to pin the two sides", file=sys.stderr)
        return 1
    if not shutil.which("taskset"):
        print("pybench: taskset (util-linux) is needed to pin the C side", file=sys.stderr)
        return 1
    import rill
    import zmq
    ctx = mp.get_context("spawn")
    tmp = tempfile.mkdtemp(prefix="rill-pybench-", dir="/dev/shm" if os.path.isdir("/dev/shm")
                           else None)
    cells = {(k, p, c, s): [] for k, p, c in ROWS for s in SIZES}
    errors = {key: 0 for key in cells}
    n = 0
    try:
        for rnd in range(rounds):
            for key in cells:
                kind, p, c, size = key
                n += 1
                x, e = measure(ctx, args, tmp, kind, p, c, size, COUNTS[kind] // scale, n)
                cells[key].append(x)
                errors[key] += e
            print(f"pybench: round {rnd + 1}/{rounds} done", flush=True)
    except Failed as e:
        print(f"pybench: {e}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    rows = []
    print(f"\nPython {platform.python_version()} beside C, pyzmq {zmq.__version__} "
          f"(libzmq {zmq.zmq_version()}): messages/s, medians of {rounds} rounds, pinned")
    print(f"{'transport':44} {'producer → consumer':20} {'64 B':>10} {'1 KiB':>10}")
    for kind, p, c in ROWS:
        med = {s: statistics.median(cells[(kind, p, c, s)]) for s in SIZES}
        print(f"{NAMES[kind]:44} {SIDE[p] + ' → ' + SIDE[c]:20} "
              + " ".join(f"{rate(med[s]):>10}" for s in SIZES))
        for s in SIZES:
            rows.append({"transport": kind, "producer": p, "consumer": c, "size": s,
                         "runs": cells[(kind, p, c, s)], "median": med[s],
                         "errors": errors[(kind, p, c, s)]})
    bad = [r for r in rows if r["errors"]]
    base = cells[("rill", "py", "py", 64)]
    bars = []
    for name, other, threshold in BARS:
        o = cells[(other, "py", "py", 64)]
        value = statistics.median(base) / statistics.median(o)
        paired = statistics.median(a / b for a, b in zip(base, o))
        bars.append({"name": name + " (64 B, Python → Python)", "value": value, "paired": paired,
                     "threshold": threshold, "met": min(value, paired) >= threshold})
        print(f"bar: {name}: {value:.2f}× (paired {paired:.2f}×), "
              f"{'met' if bars[-1]['met'] else 'NOT met'}")
    out = {"when": time.strftime("%Y-%m-%d %H:%M:%S"), "python": platform.python_version(),
           "rill": rill.version(), "pyzmq": zmq.__version__, "libzmq": zmq.zmq_version(),
           "cpus_online": os.cpu_count(), "pinned": ["0", "1"], "quick": args.quick,
           "rounds": rounds, "batch": BATCH, "rows": rows, "bars": bars}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    if bad:
        for r in bad:
            print(f"pybench: {r['errors']} payload errors in {r['transport']} "
                  f"{r['producer']} → {r['consumer']} at {r['size']} B", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
