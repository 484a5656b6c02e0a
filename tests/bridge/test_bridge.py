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
from conftest import CHECK, SCALE, default_subject, scaled, stream_name

import nats  # nats-py (tests/bridge/requirements.txt)


def assert_all_delivered(c, n):
    """A consumer's result: every message of 0..N-1 exactly once, in order,
    every byte right."""
    assert c["corrupt"] == 0, c
    assert c["missing"] == 0, c
    assert c["duplicates"] == 0, c
    assert c["reordered"] == 0, c
    assert c["distinct"] == n and c["received"] == n, c
    assert c["max_index"] == n - 1, c


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
