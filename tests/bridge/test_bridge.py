# SPDX-License-Identifier: Apache-2.0 OR MIT
"""Tests of `rill bridge` (issue 24, docs/bridge.md): rill channels carried
between hosts over NATS, core and JetStream.

The hosts are network namespaces (cluster.py): A runs the producer and
`rill bridge out`, B `rill bridge in` and the consumer, hosts 3-5 a cluster
of three nats-servers with JetStream, T the test's own NATS client.  The
producer and the consumer are rill_bridge_check (check.c): every message's
size, bytes and sig are derived from (seed, index), so the consumer checks
every byte and counts what is missing, duplicated or out of order.  Faults
are real: kill -9 of a server or of a bridge, a cable pulled with
netns.sh.  Nothing sleeps in place of waiting for something: each wait
watches a condition (a process's output, `rill info`, a server's
monitoring port) with a deadline.

    python3 -m pytest -q tests/bridge                        # all (as root)
    python3 -m pytest -q tests/bridge -k jetstream_end_to_end # one
"""

import asyncio
import os
import socket
import subprocess
import time

import pytest

from cluster import DEADLINE, HOST_A, HOST_B, HOST_T, wait_for
from conftest import (CHECK, assert_all_delivered, default_subject, msg_id, pack, scaled,
                      stream_name, unpack)

nats = pytest.importorskip("nats", reason="nats-py not installed (tests/bridge/requirements.txt)")


# ---- the harness itself -------------------------------------------------------


def test_harness_check_program(world):
    """rill_bridge_check's stream through a plain channel from host A to
    host B (one directory: only the network is apart): everything checked;
    and it can fail: a wrong seed is corruption, a gap is missing."""
    name = "md/plain"
    world.dirs[HOST_B] = world.dirs[HOST_A]
    world.channel(HOST_A, name, depth=1024, mtu=256, max_msg=4096)
    n = scaled(200_000)
    c = world.consume(name, n, 11, 0, 3000, idle=30)
    p = world.produce(name, n, 11, 0, 3000)
    assert world.result(p, 120)["sent"] == n
    r = world.result(c, 120)
    assert_all_delivered(r, n)
    assert r["stopped"] == "all" and r["lost"] == 0
    # fragments were exercised: more descriptors than messages
    assert r["frags"] > n and r["next_seq"] == world.next_seq(HOST_A, name)

    # another seed: every message is corrupt; a gap (5..9 of 0..14 sent,
    # 10..14 too) is missing, in order
    c = world.consume(name, 15, 12, 0, 3000, idle=2)
    p = world.produce(name, 5, 13, 0, 3000)
    world.result(p, DEADLINE)
    p = world.produce(name, 5, 12, 0, 3000, start=10)
    world.result(p, DEADLINE)
    p = world.produce(name, 5, 12, 0, 3000, start=0)
    world.result(p, DEADLINE)
    r = world.result(c, DEADLINE)
    assert r["corrupt"] == 5 and r["distinct"] == 10 and r["missing"] == 5, r
    assert r["missing_first"] == [5, 6, 7, 8, 9] and r["reordered"] == 5, r
    assert r["stopped"] == "idle" and r["max_index"] == 14, r


def test_harness_cluster(world, cluster):
    """The cluster of three: JetStream takes a stream of three replicas from
    host T; a server killed leaves a cluster that still serves it; a cable
    pulled cuts a host off and plugged back reconnects it."""
    urls = cluster.urls()

    async def roundtrip(count):
        nc = await nats.connect(urls.split(","), connect_timeout=5, allow_reconnect=True)
        js = nc.jetstream()
        await js.add_stream(name="HARNESS", subjects=["harness.>"], num_replicas=3)
        for i in range(count):
            ack = await js.publish("harness.x", str(i).encode(), timeout=10)
            assert ack.seq == i + 1
        si = await js.stream_info("HARNESS")
        await nc.close()
        return si

    si = world.nats(lambda: roundtrip(10))
    assert si.config.num_replicas == 3 and si.state.messages == 10
    assert len(si.cluster.replicas or []) == 2

    victim = cluster.servers[0]
    victim.kill()
    cluster.wait_ready()

    async def after():
        nc = await nats.connect(urls.split(","), connect_timeout=5)
        js = nc.jetstream()
        for _ in range(100):  # the stream's leader may be moving
            try:
                await js.publish("harness.x", b"more", timeout=2)
                break
            except Exception:
                await asyncio.sleep(0.1)
        si = await js.stream_info("HARNESS")
        await nc.close()
        return si
    si = world.nats(after)
    assert si.state.messages == 11

    # host A reaches a server; not with its cable out; again once it is in
    s = cluster.servers[1]

    def reach():
        with socket.create_connection((world.net.ip(s.host), 4222), timeout=1) as so:
            return so.recv(7) == b"INFO {\""
    a = world.net.thread(HOST_A)
    assert a.call(reach)
    world.net.link(HOST_A, "down")
    with pytest.raises(OSError):
        a.call(reach, timeout=3)
    world.net.link(HOST_A, "up")
    assert wait_for(lambda: _try(lambda: a.call(reach, timeout=3)), "host A to reach a server")


def _try(fn):
    try:
        return fn()
    except Exception:
        return None


# ---- helpers of the bridge tests ----------------------------------------------

GEOM = dict(depth=4096, mtu=1024, max_msg=4096)
MTU = GEOM["mtu"]


def frags(size):
    return max(1, -(-size // MTU))


def message(seed, index, min_size, max_size):
    return subprocess.run([CHECK, "message", "--seed", str(seed), "--index", str(index),
                           "--min-size", str(min_size), "--max-size", str(max_size)],
                          capture_output=True, check=True, timeout=DEADLINE).stdout


def check_batch(h, data, epoch, seq, index, seed, lo, hi):
    """A NATS message (headers H, payload DATA) of `bridge out` is a batch
    of messages INDEX, INDEX+1, ... of the stream (SEED, LO, HI), the first
    at SEQ in the source channel made at EPOCH: every field and byte.
    Returns (the seq after it, the index after it)."""
    b = unpack(h, data)
    assert b["epoch"] == epoch and b["seq"] == seq, (b["epoch"], b["seq"], epoch, seq)
    for m in b["msgs"]:
        want = message(seed, index, lo, hi)
        assert m["sig"] == index and m["size"] == len(want), (m["sig"], m["size"], index)
        assert m["data"] == want, f"message {index}: payload differs"
        assert m["frags"] == frags(len(want)), (m, index)
        assert m["ctl"] >> 3 == 0, m  # no application bits: the producer set none
        index += 1
    return b["end"], index


def stream_headers(world, name, count):
    """The headers of the first COUNT messages of NAME's stream, in order
    (a consumer of headers only, from host T)."""
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    async def f(j):
        cfg = ConsumerConfig(headers_only=True, ack_policy=AckPolicy.NONE,
                             deliver_policy=DeliverPolicy.ALL)
        sub = await j.subscribe(default_subject(name), stream=stream_name(name), config=cfg,
                                manual_ack=True)
        out = []
        try:
            while len(out) < count:
                m = await sub.next_msg(timeout=10)
                out.append(dict(m.headers or {}))
        finally:
            await sub.unsubscribe()
        return out
    return js(world, f, timeout=120)


def js_args(mode):
    return ["-j", "--replicas", "3"] if mode == "jetstream" else []


async def _js_call(urls, fn):
    nc = await nats.connect(urls.split(","), connect_timeout=3, max_reconnect_attempts=2)
    try:
        return await fn(nc.jetstream())
    finally:
        await nc.close()


def js(world, fn, timeout=DEADLINE):
    """FN(jetstream context) run from host T against the live servers."""
    return world.nats(lambda: _js_call(world.cluster.urls(live=True), fn), timeout=timeout)


def stream_info(world, name):
    async def f(j):
        return await j.stream_info(stream_name(name))
    return js(world, f)


def wait_stream(world, name):
    return wait_for(lambda: _try(lambda: stream_info(world, name)),
                    f"stream {stream_name(name)} to exist")


def wait_interest(world, subject, servers=None):
    """Until every live server (or SERVERS) knows a subscription to SUBJECT
    itself (not a wildcard), its own client's or behind a route: a core
    subscriber is in place cluster-wide."""
    for s in servers or [x for x in world.cluster.servers if x.alive()]:
        wait_for(lambda s=s: world.cluster.has_interest(s, subject),
                 f"{s.name} to see interest in {subject}")


def start_pipeline(world, name, mode, n, seed, lo, hi, *, out_args=(), in_args=(),
                   consume_kw=None, make_b=True):
    """Channels NAME on A and B, `bridge out` on A, the consumer on B, then
    `bridge in` on B, each ready (connected; the stream made; in core mode
    the subscription seen by every server)."""
    world.channel(HOST_A, name, **GEOM)
    if make_b:
        world.channel(HOST_B, name, **GEOM)
    urls = world.cluster.urls()
    out = world.bridge("out", name, "-s", urls, *js_args(mode), *out_args)
    out.wait_connected()
    if mode == "jetstream":
        wait_stream(world, name)
    inn = None
    if not make_b:  # bridge in --create makes it
        inn = world.bridge("in", name, "-s", urls, *js_args(mode), *in_args)
        wait_for(lambda: world.exists(HOST_B, name), f"bridge in to create {name} on B")
    cons = world.consume(name, n, seed, lo, hi, **(consume_kw or {}))
    if inn is None:
        inn = world.bridge("in", name, "-s", urls, *js_args(mode), *in_args)
    inn.wait_connected()
    if mode == "core":
        wait_interest(world, default_subject(name))
    return out, inn, cons


def wait_progress(world, name, prod, at_least, watch):
    """Until channel NAME on B has had AT_LEAST descriptors published, while
    the producer on A is still sending: mid-stream.  The bridges of WATCH
    must not exit meanwhile."""
    def through():
        for b in watch:
            assert b.proc.alive(), \
                f"{b.proc.name} exited {b.proc.p.returncode} mid-stream:\n{b.proc.tail()}"
        return world.published(HOST_B, name) >= at_least
    wait_for(through, f"{at_least} descriptors through to B", timeout=60)
    assert prod.alive(), "the producer finished before the fault: the stream is too short"


def assert_core_accounted(c, n, lost):
    """Core NATS: what did not arrive is exactly what `bridge in` reported
    lost; nothing corrupt, repeated or out of order."""
    assert c["corrupt"] == 0 and c["duplicates"] == 0 and c["reordered"] == 0, c
    assert c["missing"] == lost, (c, lost)
    assert c["distinct"] + lost == n, (c, lost)
    assert c["max_index"] == n - 1, c


# ---- JetStream ------------------------------------------------------------------


def test_jetstream_end_to_end(world, cluster):
    """A million messages (divided by RILL_TEST_SCALE) of random sizes, up
    to three fragments each: producer on A -> bridge out -> a stream of
    three replicas -> bridge in -> consumer on B.  Every byte checked,
    nothing lost, repeated or reordered; the stream holds each message
    once, in batches with the documented headers and message ids."""
    name, n, seed, lo, hi = "md/e2e", scaled(1_000_000), 1, 0, 3000
    out, inn, cons = start_pipeline(world, name, "jetstream", n, seed, lo, hi,
                                    consume_kw=dict(idle=60, timeout=900))
    t0 = time.monotonic()
    prod = world.produce(name, n, seed, lo, hi, timeout=300)
    p = world.result(prod, 900, watch=(out, inn), no_loss=(inn, name))
    c = world.result(cons, 900, watch=(out, inn), no_loss=(inn, name))
    dt = time.monotonic() - t0
    print(f"{n} messages over JetStream (3 replicas) in {dt:.1f} s: {n / dt:.0f} msgs/s")
    assert p["sent"] == n
    assert_all_delivered(c, n)

    # the stream holds each message once: its batches follow on from the
    # channel's first seq to its last without a gap or an overlap, each
    # with its Nats-Msg-Id
    si = stream_info(world, name)
    assert si.config.num_replicas == 3, si.config
    assert default_subject(name) in si.config.subjects, si.config
    layout = world.info(HOST_A, name)["channel"]["layout"]
    epoch, seq, total = layout["created_ns"], layout["seq0"], 0
    for h in stream_headers(world, name, si.state.messages):
        b = unpack(h, None)
        assert b["epoch"] == epoch and b["seq"] == seq, (b, seq)
        assert h.get("Nats-Msg-Id") == msg_id(name, epoch, b["seq"], b["end"]), h
        seq, total = b["end"], total + b["count"]
    assert total == n and seq == p["next_seq"], (total, seq, p)
    print(f"{n} messages in {si.state.messages} NATS messages")
    # the first and the last batch, every byte

    async def first_and_last(j):
        return [await j.get_msg(stream_name(name), seq=s) for s in (1, si.state.last_seq)]
    first, last = js(world, first_and_last)
    check_batch(first.headers, first.data, epoch, layout["seq0"], 0, seed, lo, hi)
    b = unpack(last.headers, last.data)
    assert check_batch(last.headers, last.data, epoch, b["seq"], n - b["count"], seed, lo,
                       hi) == (p["next_seq"], n)

    cin, cout = inn.stop()[name], out.stop()[name]
    # nothing went into B's channel after what the consumer read
    assert world.next_seq(HOST_B, name) == c["next_seq"]
    assert cout["msgs"] == n and cin["msgs"] == n, (cout, cin)
    assert cin["lost"] == 0 and cin["bad"] == 0 and cin["dups"] == 0, cin
    assert cout["mode"] == cin["mode"] == "jetstream", (cout, cin)


@pytest.mark.parametrize("side", ["out", "in"])
def test_jetstream_server_killed(world, cluster, side):
    """kill -9 of the server that `bridge SIDE` is connected to, mid-stream:
    it reconnects to another, and nothing is lost, repeated or reordered."""
    name, seed, lo, hi = f"md/kill-server-{side}", 2, 0, 3000
    n = scaled(40_000, 5000)
    # small batches, so that many are in flight when the server goes
    out, inn, cons = start_pipeline(world, name, "jetstream", n, seed, lo, hi,
                                    out_args=["--batch", "16"])
    b, host = (out, HOST_A) if side == "out" else (inn, HOST_B)
    prod = world.produce(name, n, seed, lo, hi, rate=n / 8)
    wait_progress(world, name, prod, n // 4, (out, inn))
    victim = wait_for(lambda: cluster.server_of(host), f"the server of bridge {side}")
    victim.kill()
    wait_for(lambda: (s := cluster.server_of(host)) and s is not victim,
             f"bridge {side} to reconnect to another server")
    world.result(prod, 300, watch=(out, inn), no_loss=(inn, name))
    c = world.result(cons, 300, watch=(out, inn), no_loss=(inn, name))
    assert_all_delivered(c, n)
    counters = {"in": inn.stop()[name], "out": out.stop()[name]}
    assert counters[side]["reconnects"] >= 1, counters
    # nothing went into B's channel after what the consumer read (its
    # producer, bridge in, flushed its position when it left)
    assert world.next_seq(HOST_B, name) == c["next_seq"]


# ---- bridges killed --------------------------------------------------------------


@pytest.mark.parametrize("mode,side", [("jetstream", "out"), ("jetstream", "in"),
                                       ("core", "out"), ("core", "in")])
def test_bridge_killed(world, cluster, mode, side):
    """kill -9 of `bridge SIDE` mid-stream, then the same command again.
    JetStream: nothing lost or repeated (the producer waits for the dead
    bridge out up to 20 s, --evict: it rejoins and resumes where it had
    committed).  Core: what the consumer misses is exactly what `bridge in`
    reports lost (messages within the mtu: sequence numbers = messages)."""
    name, seed = f"md/kill-{side}", 3
    lo, hi = (0, 3000) if mode == "jetstream" else (0, MTU)
    n = scaled(40_000, 5000)
    out, inn, cons = start_pipeline(world, name, mode, n, seed, lo, hi,
                                    consume_kw=dict(until_last=mode == "core"))
    b = out if side == "out" else inn
    prod = world.produce(name, n, seed, lo, hi, rate=n / 8,
                         evict=20 if mode == "jetstream" else None)
    wait_progress(world, name, prod, n // 4, (out, inn))
    b.kill()
    b.start()
    b.wait_connected()
    if mode == "core" and side == "in":
        wait_interest(world, default_subject(name))
    c, cin, cout = finish_stream(world, name, mode, n, prod, cons, out, inn)
    if mode == "jetstream":
        assert cin["lost"] == 0 and cin["bad"] == 0, cin
    else:
        assert c["stopped"] == "last", c
        assert_core_accounted(c, n, cin["lost"])
    assert world.next_seq(HOST_B, name) == c["next_seq"]


def finish_stream(world, name, mode, n, prod, cons, out, inn):
    """The producer's and consumer's results (JetStream: no loss reported
    meanwhile, everything delivered), then both bridges stopped: (the
    consumer's result, bridge in's counters, bridge out's)."""
    no_loss = (inn, name) if mode == "jetstream" else None
    world.result(prod, 300, watch=(out, inn), no_loss=no_loss)
    c = world.result(cons, 300, watch=(out, inn), no_loss=no_loss)
    if mode == "jetstream":
        assert_all_delivered(c, n)
    return c, inn.stop()[name], out.stop()[name]


# ---- a pulled cable -----------------------------------------------------------------


@pytest.mark.parametrize("mode,host", [("jetstream", HOST_A), ("core", HOST_A),
                                       ("jetstream", HOST_B)],
                         ids=["jetstream-A", "core-A", "jetstream-B"])
def test_link_cut(world, cluster, mode, host):
    """Host A's (or B's) cable pulled mid-stream until every server has
    dropped its connection, then plugged back: the stream resumes.
    JetStream: everything delivered; core: delivered + reported lost = sent."""
    side = "out" if host == HOST_A else "in"
    name, seed = f"md/cut-{side}", 4
    lo, hi = (0, 3000) if mode == "jetstream" else (0, MTU)
    n = scaled(40_000, 5000)
    out, inn, cons = start_pipeline(world, name, mode, n, seed, lo, hi,
                                    consume_kw=dict(until_last=mode == "core", idle=60))
    b = out if side == "out" else inn
    prod = world.produce(name, n, seed, lo, hi, rate=n / 8, timeout=300)
    wait_progress(world, name, prod, n // 4, (out, inn))
    world.net.link(host, "down")
    wait_for(lambda: cluster.server_of(host) is None,
             f"the servers to drop the connection of bridge {side}")
    world.net.link(host, "up")
    wait_for(lambda: cluster.server_of(host), f"bridge {side} to reconnect", timeout=60)
    c, cin, cout = finish_stream(world, name, mode, n, prod, cons, out, inn)
    assert (cout if side == "out" else cin)["reconnects"] >= 1, (cout, cin)
    if mode == "core":
        assert_core_accounted(c, n, cin["lost"])
    assert world.next_seq(HOST_B, name) == c["next_seq"]


# ---- bad input, no server ---------------------------------------------------------


@pytest.mark.parametrize("mode", ["core", "jetstream"])
def test_bad_input(world, cluster, mode):
    """NATS messages on the subject that `bridge in` cannot take (docs/bridge.md,
    the wire): no headers, Rill-Msgs missing, a field that is not a
    number, a count that disagrees with Rill-Msgs, sizes that do not add up
    to the payload, a message over the channel's largest.  Each is counted
    as bad once and skipped (acknowledged, in JetStream: not delivered
    again), nothing of it reaches the channel, and none moves the stream
    on: the good message after them, which claims the same sequence
    number, is taken, neither lost nor a duplicate; a good batch of two
    before them is put whole."""
    name, seed, size = "md/bad", 5, 100
    subject = "rill-test.bad" if mode == "core" else default_subject(name)
    world.channel(HOST_A, name, **GEOM)
    world.channel(HOST_B, name, **GEOM)
    urls = cluster.urls()
    if mode == "jetstream":  # its stream, made by a bridge out with nothing to send
        world.bridge("out", name, "-s", urls, *js_args(mode)).wait_connected()
        wait_stream(world, name)
        subject = default_subject(name)
        wait_interest(world, subject)  # the stream's, seen by every server
        extra = []
    else:
        extra = ["--subject", subject]
    cons = world.consume(name, 3, seed, size, size, idle=30)
    inn = world.bridge("in", name, "-s", urls, *js_args(mode), *extra)
    inn.wait_connected()
    if mode == "core":
        wait_interest(world, subject)

    epoch = 7
    good = [message(seed, i, size, size) for i in range(3)]
    ok_h, ok_d = pack(epoch, 2, [(2, good[2])], MTU)

    def damaged(**kw):
        return {**ok_h, **kw}
    bad = [  # each claims to be message 2, at seq 2
        (None, good[2]),                                          # no headers
        ({"Rill": ok_h["Rill"]}, good[2]),                        # Rill-Msgs missing
        (damaged(**{"Rill-Msgs": "1 2 0 0 0 one"}), good[2]),     # not a number
        (damaged(**{"Rill": f"{epoch} 2 two 0"}), good[2]),       # not a number
        (damaged(**{"Rill": f"{epoch} 2 2 0"}), good[2]),         # COUNT: 2 messages, 1 told
        (damaged(**{"Rill": f"{epoch} 2 1"}), good[2]),           # LOST missing
        (ok_h, good[2] + b"x"),                                   # sizes != the payload
        pack(epoch, 2, [(2, b"\x01" * (GEOM["max_msg"] + 1))], MTU),  # over the largest
    ]
    # a batch of two good ones, the bad ones, then the third
    sends = [pack(epoch, 0, [(0, good[0]), (1, good[1])], MTU), *bad, (ok_h, ok_d)]

    async def publish():
        nc = await nats.connect(urls.split(","), connect_timeout=5)
        try:
            for h, data in sends:
                if mode == "jetstream":
                    await nc.jetstream().publish(subject, data, headers=h, timeout=10)
                else:
                    await nc.publish(subject, data, headers=h)
            await nc.flush()
        finally:
            await nc.close()
    world.nats(publish)
    c = world.result(cons, 60, watch=(inn,))
    assert_all_delivered(c, 3)
    # the bad ones were counted (counters reach rill info within a flush)
    wait_for(lambda: (e := inn.entry(name)) and e["bad"] >= len(bad),
             "bridge in to count the bad messages")
    if mode == "jetstream":  # each acked: nothing pending, nothing delivered again
        async def consumers(j):
            return await j.consumers_info(stream_name(name))
        wait_for(lambda: all(ci.num_ack_pending == 0 and ci.num_pending == 0
                             for ci in js(world, consumers)),
                 "bridge in to ack every message")
        assert all(ci.num_redelivered == 0 for ci in js(world, consumers))
    cin = inn.stop()[name]
    assert cin["bad"] == len(bad), cin
    assert cin["msgs"] == 3 and cin["lost"] == 0 and cin["dups"] == 0, cin
    assert world.next_seq(HOST_B, name) == c["next_seq"] == 3


def test_unreachable_server(world):
    """`bridge out` against an address where no server listens: it says so on
    stderr, naming the server, keeps trying, and starts carrying messages
    once a server appears there."""
    name, seed, lo, hi = "md/late", 6, 0, 3000
    world.channel(HOST_A, name, **GEOM)
    world.channel(HOST_B, name, **GEOM)
    addr = f"{world.net.ip(HOST_T)}:4999"
    out = world.bridge("out", name, "-s", f"nats://{addr}")
    def named():
        assert out.proc.alive(), f"bridge out exited:\n{out.proc.tail()}"
        return addr in out.proc.stderr()
    wait_for(named, f"bridge out to name {addr} on stderr")
    with pytest.raises(AssertionError, match="still running"):
        out.proc.wait(2)  # it keeps trying
    e = out.entry(name)
    assert e and e["nats"] != "connected", e
    srv = world.server(HOST_T, port=4999)
    out.wait_connected()
    n = scaled(20_000, 2000)
    cons = world.consume(name, n, seed, lo, hi)
    inn = world.bridge("in", name, "-s", f"nats://{addr}")
    inn.wait_connected()
    wait_for(lambda: world.cluster.has_interest(srv, default_subject(name)),
             "the server to see bridge in's subscription")
    prod = world.produce(name, n, seed, lo, hi, rate=5000)
    world.result(prod, 120, watch=(out, inn))
    c = world.result(cons, 120, watch=(out, inn))
    assert_all_delivered(c, n)


# ---- core NATS --------------------------------------------------------------------


@pytest.mark.parametrize("lossy", [False, True], ids=["reliable", "lossy"])
def test_core_end_to_end(world, cluster, lossy):
    """Core NATS at full speed, messages within the mtu: what the consumer
    misses is exactly what `bridge in` reports lost, and nothing arrives
    corrupt, twice or out of order.  Reliable: bridge in makes B's channel
    (--create).  Lossy: bridge
    out never slows the producer; its own overruns show up as gaps that
    bridge in reports."""
    name, seed, lo, hi = "md/core", 7, 0, MTU
    n = scaled(200_000, 10_000)
    if lossy:
        out_args, in_args, make_b = ["--lossy"], [], True
    else:
        out_args = []
        in_args = ["--create", "--size", str(64 << 20), "--depth", str(GEOM["depth"]),
                   "--mtu", str(MTU), "--max-msg", str(GEOM["max_msg"])]
        make_b = False
    out, inn, cons = start_pipeline(world, name, "core", n, seed, lo, hi, out_args=out_args,
                                    in_args=in_args, make_b=make_b,
                                    consume_kw=dict(until_last=True))
    if not lossy:
        ch = world.info(HOST_B, name)["channel"]
        assert (ch["depth"], ch["mtu"], ch["max_msg"]) == (GEOM["depth"], MTU, GEOM["max_msg"])
    prod = world.produce(name, n, seed, lo, hi)
    world.result(prod, 300, watch=(out, inn))
    c = world.result(cons, 300, watch=(out, inn))
    cin, cout = inn.stop()[name], out.stop()[name]
    print(f"core, {'lossy' if lossy else 'reliable'} bridge out: {n} sent, "
          f"{c['distinct']} delivered, {cin['lost']} lost (out: {cout['lost']})")
    assert_core_accounted(c, n, cin["lost"])
    assert cout["mode"] == "core" and cin["mode"] == "core"
    if lossy:
        assert cin["lost"] >= cout["lost"], (cin, cout)
    else:
        assert cout["lost"] == 0, cout
        assert cout["msgs"] == n, cout


def test_headers_and_subjects(world, cluster):
    """One bridge out and one bridge in carry two channels, each on its
    default subject rill.REGION.CHANNEL.  A subscriber on host T sees
    every message once, in batches as docs/bridge.md describes them (the
    source channel's epoch, the sequence numbers following on from batch
    to batch, each message's fragments, sig, ctl and size) with the exact
    payload; rill info lists both bridges on each channel."""
    names, seed, lo, hi = ["md/h1", "md/h2"], 8, 0, 3000
    n = 300
    WATCHED = "rill.md.>"
    for nm in names:
        world.channel(HOST_A, nm, **GEOM)
        world.channel(HOST_B, nm, **GEOM)
    urls = cluster.urls()
    seen = {nm: [] for nm in names}
    t = world.net.thread(HOST_T)
    sub = {}

    async def subscribe():
        sub["nc"] = await nats.connect(urls.split(","), connect_timeout=5)

        async def cb(m):
            for nm in names:
                if m.subject == default_subject(nm):
                    seen[nm].append((dict(m.headers or {}), m.data))
        sub["sub"] = await sub["nc"].subscribe(WATCHED, cb=cb, pending_msgs_limit=100_000)
        await sub["nc"].flush()
    t.run(subscribe())
    try:
        out = world.bridge("out", names, "-s", urls)
        out.wait_connected(names[0])
        conss = [world.consume(nm, n, seed, lo, hi) for nm in names]
        inn = world.bridge("in", names, "-s", urls)
        # every server routes to both: bridge in's subscriptions (to each
        # subject itself) and T's (the wildcard)
        wait_interest(world, WATCHED)
        for nm in names:
            inn.wait_connected(nm)
            wait_interest(world, default_subject(nm))
        prods = [world.produce(nm, n, seed, lo, hi) for nm in names]
        for p in prods:
            world.result(p, 120, watch=(out, inn))
        for cp in conss:
            assert_all_delivered(world.result(cp, 120, watch=(out, inn)), n)
        def counted(nm):
            return sum(unpack(h, None)["count"] for h, _ in seen[nm])
        wait_for(lambda: all(counted(nm) >= n for nm in names), "host T to see every message")
        for nm in names:
            e_out, e_in = out.entry(nm), inn.entry(nm)
            assert e_out["direction"] == "out" and e_in["direction"] == "in"
            for e in (e_out, e_in):
                assert e["mode"] == "core" and e["subject"] == default_subject(nm), e
                assert e["alive"] is True and e["nats"] == "connected", e
        for nm in names:
            layout = world.info(HOST_A, nm)["channel"]["layout"]
            seq, index = layout["seq0"], 0
            for h, data in seen[nm]:
                seq, index = check_batch(h, data, layout["created_ns"], seq, index, seed, lo, hi)
            assert index == n, (nm, index)
        c_out, c_in = out.stop(), inn.stop()
        for nm in names:
            assert c_out[nm]["msgs"] == n and c_in[nm]["msgs"] == n, (c_out, c_in)
            assert c_in[nm]["lost"] == 0 and c_in[nm]["bad"] == 0, c_in
    finally:
        async def close():
            await sub["nc"].close()
        if "nc" in sub:
            t.run(close())


def test_lossy_lapped_before_first_batch(world, cluster):
    """A lossy bridge out lapped before its first batch (stopped while the
    producer went round the ring): bridge in has no earlier seq to show
    the gap, so the batch's LOST tells it, and what the consumer misses is
    still exactly what bridge in reports lost."""
    import signal
    name, seed, lo, hi = "md/lap", 11, 0, MTU
    n = 5 * GEOM["depth"]
    world.channel(HOST_A, name, **GEOM)
    world.channel(HOST_B, name, **GEOM)
    urls = world.cluster.urls()
    out = world.bridge("out", name, "-s", urls, "--lossy")
    out.wait_connected()
    cons = world.consume(name, n, seed, lo, hi, until_last=True)
    inn = world.bridge("in", name, "-s", urls)
    inn.wait_connected()
    wait_interest(world, default_subject(name))
    os.kill(out.pid, signal.SIGSTOP)
    try:
        world.result(world.produce(name, n, seed, lo, hi), 120)
    finally:
        os.kill(out.pid, signal.SIGCONT)
    c = world.result(cons, 120, watch=(out, inn))
    cin, cout = inn.stop()[name], out.stop()[name]
    assert cout["lost"] > 0, cout  # it was lapped
    assert_core_accounted(c, n, cin["lost"])
