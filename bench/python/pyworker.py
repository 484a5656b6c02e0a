#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 OR MIT
"""The Python side of rill_bench's measurements (bench/proc.h).

    pyworker.py worker bsend DIR REGION CHAN SIZE WARM COUNT
    pyworker.py worker brecv DIR REGION CHAN SIZE WARM COUNT
    pyworker.py worker pair KIND DIR SIZE WARM COUNT CPU0 CPU1
    pyworker.py worker version

bsend and brecv are the C worker's commands (bench/worker.c), one message
per call (Producer.send, Consumer.recv), so that a Python side can face a C,
Go or Python one.  pair runs both sides of what a Python user has, each a
multiprocessing process of the spawn kind pinned to its CPU:

  rill-batch  send_many / recv_many of 64 messages, over a channel in DIR
  zmq         pyzmq PUSH/PULL over ipc:// in DIR
  mpqueue     multiprocessing.Queue
  shmlock     a ring in multiprocessing.shared_memory, a multiprocessing.Lock
              around every access (what a Python user writes by hand)

The consumer receives WARM messages, then times COUNT more: "result ns NS
count N errors E".  Every message is the benchmark's (bench/bench.h: word 0
the sequence number, the last word that number xor a key, constant words
between) and every byte of it is checked.  No statistics here: rill_bench
takes the medians.

Needs the rill package (pip install ./bindings/python) and pyzmq; `make
bench` makes a venv with both (bench/python/requirements.txt) and the
launcher BUILD/rill-pyworker.
"""
import multiprocessing as mp
import os
import platform
import sys
import time
import struct

KEY = 0x5A5AA5A5C3C33C3C
M64 = 0xFFFFFFFFFFFFFFFF
BATCH = 64
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
        c = region.consumer(where.get("chan", "c"))
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
        p = region.producer(where.get("chan", "c"))
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


# ---- the commands ---------------------------------------------------------------

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


def pair(kind, tmp, size, warm, count, cpu0, cpu1):
    """Both sides of KIND, each in a process of its own; the consumer's result."""
    ctx = mp.get_context("spawn")
    where, cleanup = {}, []
    if kind == "rill-batch":
        import rill
        where = {"dir": tmp, "region": f"pair-{os.getpid()}"}
        r = rill.Region.create(where["region"], size=32 << 20, dir=tmp)
        r.create_channel("c", depth=4096, mtu=1024, max_msg=1024)
        r.close()
        cleanup.append(lambda: rill.Region.unlink(where["region"], dir=tmp))
    elif kind == "zmq":
        where = {"ipc": f"ipc://{tmp}/zmq-{os.getpid()}.ipc"}
        cleanup.append(lambda: os.path.exists(where["ipc"][6:]) and os.unlink(where["ipc"][6:]))
    elif kind == "mpqueue":
        where = {"queue": ctx.Queue()}
    elif kind == "shmlock":
        from multiprocessing import shared_memory
        shm = shared_memory.SharedMemory(create=True, size=SHM_HDR + SHM_SLOTS * size)
        shm.buf[:SHM_HDR] = bytes(SHM_HDR)
        where = {"shm": shm.name, "lock": ctx.Lock()}
        cleanup.append(lambda: (shm.close(), shm.unlink()))
    else:
        raise Failed(f"unknown kind {kind}")
    ctl, pctl = ctx.Queue(), ctx.Queue()  # the consumer's, the producer's
    procs = []
    try:
        cp = ctx.Process(target=py_consumer, args=(kind, where, size, warm, count, cpu1, ctl))
        cp.start()
        procs.append(cp)
        ctl_get(ctl, "consumer")
        pp = ctx.Process(target=py_producer, args=(kind, where, size, warm + count, cpu0, pctl))
        pp.start()
        procs.append(pp)
        ctl_get(pctl, "producer")
        _, ns, errs, timed = ctl_get(ctl, "consumer")
        return ns, timed, errs
    finally:
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.kill()
                p.join()
        for c in cleanup:
            c()


def bsend(d, region, chan, size, warm, count):
    send, h = sender("rill", {"dir": d, "region": region, "chan": chan}, size)
    make, _ = codec(size)
    for seq in range(warm + count):
        send(make(seq), seq)
    close(h)


def brecv(d, region, chan, size, warm, count):
    recv, h = receiver("rill", {"dir": d, "region": region, "chan": chan}, size)
    _, check = codec(size)
    print("ready", flush=True)
    errs, t0 = 0, 0
    for seq in range(warm + count):
        if seq == warm:
            t0 = time.perf_counter_ns()
        errs += check(recv(), seq)
    ns = time.perf_counter_ns() - t0
    close(h)
    print(f"result ns {ns} count {count} errors {errs} lost 0", flush=True)


def version():
    import zmq
    print(f"info python {platform.python_version()}")
    print(f"info pyzmq {zmq.__version__}")
    print(f"info libzmq_py {zmq.zmq_version()}")


def main(argv):
    if len(argv) < 2 or argv[0] != "worker":
        print("usage: pyworker.py worker bsend|brecv|pair|version ARGS... (bench/proc.h)",
              file=sys.stderr)
        return 2
    cmd, a = argv[1], argv[2:]
    try:
        if cmd == "bsend" and len(a) == 6:
            bsend(a[0], a[1], a[2], *map(int, a[3:]))
        elif cmd == "brecv" and len(a) == 6:
            brecv(a[0], a[1], a[2], *map(int, a[3:]))
        elif cmd == "pair" and len(a) == 7:
            ns, n, errs = pair(a[0], a[1], *map(int, a[2:]))
            print(f"result ns {ns} count {n} errors {errs}", flush=True)
        elif cmd == "version" and not a:
            version()
        else:
            print(f"pyworker: unknown command or wrong arguments: {' '.join(argv)}",
                  file=sys.stderr)
            return 2
    except Failed as e:
        print(f"pyworker: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
