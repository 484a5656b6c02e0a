# SPDX-License-Identifier: Apache-2.0 OR MIT
"""The bridge tests' world: hosts, a NATS cluster, region directories, and
the programs that run there (rill bridge, rill_bridge_check), made fresh
for each test and removed after it, whatever happened.

ctest runs them with the build's programs in RILL_CLI and
RILL_BRIDGE_CHECK, and nats-server in NATS_SERVER; RILL_TEST_SCALE=N
divides the message counts by N.  They need root (ip netns), nats-server,
ip and setpriv, and skip without them, saying why; a run in which every
test skipped exits 77, which ctest reports as a skip.
"""

import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import (DEADLINE, HOST_A, HOST_B, HOST_T, NATS_SERVER, Cluster, Net,  # noqa: E402
                     NatsServer, Procs, sweep_stale, wait_for)

RILL = os.path.abspath(os.environ.get("RILL_CLI", "build/rill"))
CHECK = os.path.abspath(os.environ.get("RILL_BRIDGE_CHECK", "build/rill_bridge_check"))
try:
    SCALE = max(1, int(os.environ.get("RILL_TEST_SCALE") or 1))
except ValueError:
    SCALE = 1


def scaled(n, least=1000):
    """N divided by RILL_TEST_SCALE, at least LEAST."""
    return max(least, n // SCALE)


# ---- what the bridge shows (docs/bridge.md): in one place -----------------
# `rill info REGION/CHANNEL --json` lists a channel's bridges under
# "channel" -> "bridges", each an object with direction ("out"/"in"), pid,
# alive, mode ("core"/"jetstream"), subject, nats ("connecting",
# "connected", "reconnecting", "closed"; "stopped" when not alive), server,
# msgs, bytes, lost, bad, dups, reconnects, ...  `rill bridge --json`
# prints at exit one object per channel on stdout, with its "region" and
# "channel" and the same counters.


def bridges_of(info_doc):
    """The bridges of a channel, from its `rill info --json` document."""
    return info_doc["channel"].get("bridges") or []


def exit_counters(stdout):
    """`rill bridge --json`'s objects at exit (one per channel, on a line
    or spread over several): {"REGION/CHANNEL": counters}."""
    out = {}
    dec = json.JSONDecoder()
    i = 0
    while True:
        i = stdout.find("{", i)
        if i < 0:
            return out
        d, i = dec.raw_decode(stdout, i)
        name = d.get("channel") or d.get("src") or d.get("name")
        if "region" in d and name and "/" not in name:
            name = f"{d['region']}/{name}"
        out[name] = d


def assert_all_delivered(c, n):
    """A consumer's (rill_bridge_check consume) result: every message of
    0..N-1 exactly once, in order, every byte right."""
    assert c["corrupt"] == 0, c
    assert c["missing"] == 0, c
    assert c["duplicates"] == 0, c
    assert c["reordered"] == 0, c
    assert c["distinct"] == n and c["received"] == n, c
    assert c["max_index"] == n - 1, c


# ---- the messages on the wire (docs/bridge.md): in one place ---------------
# A NATS message of `bridge out` carries a batch of one or more messages:
# its payload their bytes one after the other, header "Rill: EPOCH SEQ
# COUNT LOST" (EPOCH: the source channel's created_ns; LOST: seqs a lossy
# bridge out lost right before the batch; SEQ: the first message's
# first descriptor), header "Rill-Msgs": six numbers a message, "FRAGS SIG
# CTL TSORIG TSPUB SIZE", and in JetStream "Nats-Msg-Id:
# REGION/CHANNEL/EPOCH/SEQ-END" (END: the seq after its last descriptor).
MSG_FIELDS = ("frags", "sig", "ctl", "tsorig", "tspub", "size")


def unpack(headers, data):
    """A bridged NATS message: {"epoch", "seq", "count", "end", "msgs": [{
    "seq", "frags", "sig", "ctl", "tsorig", "tspub", "size", "data"}]}.
    Fails the test if it is not well formed.  DATA None: headers only."""
    h = headers or {}
    try:
        epoch, seq, count, lost = (int(x) for x in h["Rill"].split(" "))
        nums = [int(x) for x in h["Rill-Msgs"].split(" ")]
    except (KeyError, ValueError) as e:
        raise AssertionError(f"not a bridged message's headers: {h} ({e!r})") from None
    assert count >= 1 and len(nums) == 6 * count, f"Rill {h['Rill']!r}, {len(nums)} numbers"
    msgs, off, at = [], 0, seq
    for i in range(count):
        m = dict(zip(MSG_FIELDS, nums[6 * i:6 * i + 6]))
        m["seq"], m["data"] = at, data[off:off + m["size"]] if data is not None else None
        off += m["size"]
        at += m["frags"]
        msgs.append(m)
    if data is not None:
        assert off == len(data), f"sizes add up to {off}, the payload has {len(data)} bytes"
    return dict(epoch=epoch, seq=seq, count=count, lost=lost, end=at, msgs=msgs)


def pack(epoch, seq, msgs, mtu):
    """(headers, payload) of a batch as `bridge out` makes it: MSGS a list
    of (sig, bytes), each spanning its fragments of MTU bytes."""
    meta = []
    for sig, data in msgs:
        frags = max(1, -(-len(data) // mtu))
        meta += [frags, sig, 0, 0, 0, len(data)]
    h = {"Rill": f"{epoch} {seq} {len(msgs)} 0", "Rill-Msgs": " ".join(map(str, meta))}
    return h, b"".join(d for _, d in msgs)


def msg_id(name, epoch, seq, end):
    """The Nats-Msg-Id of the batch [SEQ, END) of NAME (REGION/CHANNEL)."""
    return f"{name}/{epoch}/{seq}-{end}"


def stream_name(name):
    """The JetStream stream `rill bridge -j` makes for REGION/CHANNEL."""
    return "RILL_" + re.sub(r"[.\-/]", "_", name)


def default_subject(name):
    return "rill." + name.replace("/", ".")


# ---- the world ---------------------------------------------------------------

_worlds = itertools.count()


class Bridge:
    """`rill bridge DIRECTION CHANNELS... ARGS --json` on host HOST."""

    def __init__(self, world, direction, host, channels, args):
        self.world, self.direction, self.host = world, direction, host
        self.channels = list(channels)
        self.argv = [RILL, "--dir", world.dirs[host], "bridge", direction, *self.channels,
                     *args, "--json"]
        self.start()

    def start(self):
        self.proc = self.world.procs.start(f"bridge-{self.direction}", self.argv,
                                           self.world.net.ns(self.host))
        return self

    @property
    def pid(self):
        return self.proc.pid

    def kill(self):
        self.proc.kill()

    def stop(self):
        """SIGTERM: it must exit 0; returns its --json counters by channel."""
        rc = self.proc.stop()
        assert rc == 0, f"{self.proc.name} exited {rc} on SIGTERM\n{self.proc.tail()}"
        c = exit_counters(self.proc.stdout())
        for ch in self.channels:
            assert ch in c, f"{self.proc.name}: no counters for {ch} at exit:\n{self.proc.tail()}"
        return c

    def entry(self, channel):
        """This process's entry in `rill info CHANNEL --json` (or None)."""
        for b in self.world.bridges(self.host, channel):
            if b.get("pid") == self.pid and b.get("direction") == self.direction:
                return b
        return None

    def wait_connected(self, channel=None, timeout=DEADLINE):
        channel = channel or self.channels[0]

        def ok():
            assert self.proc.alive(), f"{self.proc.name} exited:\n{self.proc.tail()}"
            e = self.entry(channel)
            return e if e and e.get("nats") == "connected" else None
        return wait_for(ok, f"{self.proc.name} to show connected in rill info {channel}",
                        timeout)


class World:
    """Six hosts (cluster.py), a cluster of three on hosts 3-5, a region
    directory for A and one for B, and every process started."""

    def __init__(self):
        pid = os.getpid()
        k = next(_worlds)
        self.work = tempfile.mkdtemp(prefix=f"rill-bridge-{pid}-", dir="/tmp")
        self.shm = tempfile.mkdtemp(prefix=f"rill-bridge-{pid}-", dir="/dev/shm")
        self.dirs = {HOST_A: os.path.join(self.shm, "a"), HOST_B: os.path.join(self.shm, "b")}
        for d in self.dirs.values():
            os.mkdir(d)
        self.procs = Procs(self.work)
        self.net = None
        try:
            self.net = Net(f"rbt{pid}t{k}", 6, f"10.{200 + k % 50}.{pid % 250 + 1}")
        except BaseException:
            self.close()
            raise
        self.cluster = Cluster(self.net, self.procs, self.work)
        self.extra_servers = []

    def close(self):
        self.procs.cleanup()
        if self.net:
            self.net.down()
        shutil.rmtree(self.work, ignore_errors=True)
        shutil.rmtree(self.shm, ignore_errors=True)

    def logs(self):
        return "\n".join(p.tail(4000) for p in self.procs.all)

    # ---- the command line and the channels

    def rill(self, host, *args, check=0):
        p = subprocess.run([RILL, "--dir", self.dirs[host], *args], capture_output=True,
                           text=True, timeout=DEADLINE)
        if check is not None:
            assert p.returncode == check, \
                f"rill {' '.join(args)} -> {p.returncode}\n{p.stdout}\n{p.stderr}"
        return p

    def info(self, host, name):
        return json.loads(self.rill(host, "info", name, "--json").stdout)

    def exists(self, host, name):
        return self.rill(host, "info", name, "--json", check=None).returncode == 0

    def bridges(self, host, name):
        return bridges_of(self.info(host, name))

    def channel(self, host, name, depth=4096, mtu=1024, max_msg=4096, size="64M"):
        region = name.split("/")[0]
        if not self.exists(host, region):
            self.rill(host, "create", region, "--size", size)
        self.rill(host, "create", name, "--depth", str(depth), "--mtu", str(mtu),
                  "--max-msg", str(max_msg))

    def published(self, host, name):
        """Descriptors the channel's producer published (as last flushed)."""
        return self.info(host, name)["channel"]["producer"]["msgs"]

    def next_seq(self, host, name):
        return self.info(host, name)["channel"]["producer"]["seq"]

    def live_consumers(self, host, name):
        return [c for c in self.info(host, name)["channel"]["consumers"]
                if c.get("state") == "alive"]

    # ---- the programs

    def bridge(self, direction, channels, *args, host=None):
        if isinstance(channels, str):
            channels = [channels]
        host = host or (HOST_A if direction == "out" else HOST_B)
        return Bridge(self, direction, host, channels, [str(a) for a in args])

    def produce(self, name, count, seed, min_size, max_size, *, rate=None, start=0,
                wait_consumers=1, evict=None, timeout=120, host=HOST_A):
        argv = [CHECK, "--dir", self.dirs[host], "produce", name, "--count", str(count),
                "--seed", str(seed), "--min-size", str(min_size), "--max-size", str(max_size),
                "--start", str(start), "--wait-consumers", str(wait_consumers),
                "--timeout", str(timeout)]
        if rate:
            argv += ["--rate", str(rate)]
        if evict is not None:
            argv += ["--evict", str(evict)]
        return self.procs.start("produce", argv, self.net.ns(host))

    def consume(self, name, count, seed, min_size, max_size, *, idle=30, timeout=300,
                until_last=False, host=HOST_B, wait_joined=True):
        """rill_bridge_check consume on HOST, joined when this returns."""
        argv = [CHECK, "--dir", self.dirs[host], "consume", name, "--count", str(count),
                "--seed", str(seed), "--min-size", str(min_size), "--max-size", str(max_size),
                "--idle", str(idle), "--timeout", str(timeout)]
        if until_last:
            argv.append("--until-last")
        p = self.procs.start("consume", argv, self.net.ns(host))
        if wait_joined:
            def joined():
                assert p.alive(), f"consume exited:\n{p.tail()}"
                return any(c.get("pid") == p.pid for c in self.live_consumers(host, name))
            wait_for(joined, f"the consumer of {name} to join")
        return p

    def result(self, proc, timeout, watch=(), no_loss=None):
        """The JSON line of a rill_bridge_check that must exit 0 within
        TIMEOUT seconds; fails at once if a bridge of WATCH exits first, or
        (NO_LOSS: a Bridge in, and its channel) reports a message lost."""
        end = time.monotonic() + timeout
        look = 0.0
        while proc.p.poll() is None:
            for b in watch:
                assert b.proc.alive(), \
                    f"{b.proc.name} exited {b.proc.p.returncode} mid-stream:\n{b.proc.tail()}"
            if no_loss and time.monotonic() >= look:
                look = time.monotonic() + 1.0
                e = no_loss[0].entry(no_loss[1])
                assert not (e and e["lost"]), f"bridge in reports lost messages: {e}"
            if time.monotonic() >= end:
                raise AssertionError(f"{proc.name} still running after {timeout:g} s:\n"
                                     f"{proc.tail()}")
            try:
                proc.p.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                pass
        rc = proc.p.returncode
        assert rc == 0, f"{proc.name} exited {rc}\n{proc.tail()}"
        lines = [x for x in proc.stdout().splitlines() if x.startswith("{")]
        assert lines, f"{proc.name} printed no JSON\n{proc.tail()}"
        return json.loads(lines[-1])

    def server(self, host, **kw):
        """A nats-server of its own on HOST (no cluster, no JetStream unless
        asked), started."""
        s = NatsServer(self.net, self.procs, host, self.work, jetstream=kw.pop("jetstream", False),
                       **kw)
        self.extra_servers.append(s)
        return s.start()

    def nats(self, coro_fn, host=HOST_T, timeout=DEADLINE):
        """Runs CORO_FN() (a coroutine function: nats-py work) on host HOST."""
        return self.net.thread(host).run(coro_fn(), timeout)


# ---- pytest ------------------------------------------------------------------


def why_skip():
    if not sys.platform.startswith("linux"):
        return "the bridge tests use Linux network namespaces"
    if os.geteuid() != 0:
        return "needs root: the hosts are network namespaces (ip netns)"
    if not os.access(NATS_SERVER, os.X_OK):
        return f"nats-server not found ({NATS_SERVER}): apt-get install nats-server"
    for tool, pkg in (("ip", "iproute2"), ("setpriv", "util-linux")):
        if not shutil.which(tool):
            return f"{tool} not found: apt-get install {pkg}"
    return None


def _terminate(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config):
    # SIGTERM (a test runner giving up) cleans up as Ctrl-C does
    signal.signal(signal.SIGTERM, _terminate)


def pytest_collection_modifyitems(config, items):
    reason = why_skip()
    if reason:
        for item in items:
            item.add_marker(pytest.mark.skip(reason=reason))


def pytest_sessionstart(session):
    if not why_skip():
        sweep_stale()


def pytest_sessionfinish(session, exitstatus):
    # every test skipped (no root, no nats-server): 77, ctest's skip
    tr = session.config.pluginmanager.get_plugin("terminalreporter")
    if tr is None or exitstatus != 0:
        return
    st = tr.stats
    if st.get("skipped") and not any(st.get(k) for k in ("passed", "failed", "error")):
        session.exitstatus = 77


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep


@pytest.fixture
def world(request):
    """A fresh World; its processes' output is printed if the test failed."""
    w = World()
    try:
        yield w
    finally:
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            print(w.logs())
        w.close()


@pytest.fixture
def cluster(world):
    """The world's cluster of three, started and ready."""
    world.cluster.start()
    t0 = time.monotonic()
    world.cluster.wait_ready()
    print(f"cluster ready in {time.monotonic() - t0:.2f} s")
    return world.cluster
