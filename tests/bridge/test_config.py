# SPDX-License-Identifier: Apache-2.0 OR MIT
"""rill bridge --config: several channels in one process, one on a subject
of its own, from a file; rill monitor (text and --prometheus) and rill
info showing the bridges; and the configuration file's errors."""

import os
import re
import subprocess

from cluster import DEADLINE, HOST_A, HOST_B, wait_for
from conftest import RILL, exit_counters
from test_bridge import GEOM, assert_all_delivered, wait_interest

NAMES = ["md/c1", "md/c2"]
SUBJECTS = {"md/c1": "rill.md.c1", "md/c2": "custom.two"}


def start_conf(world, host, text, tag):
    path = os.path.join(world.work, f"bridge-{tag}.conf")
    with open(path, "w") as f:
        f.write(text)
    return world.procs.start(f"bridge-{tag}", [RILL, "--dir", world.dirs[host], "bridge",
                                                "--config", path, "--json"],
                             world.net.ns(host))


def bridge_of(world, host, name, proc):
    for b in world.bridges(host, name):
        if b.get("pid") == proc.pid:
            return b
    return None


def connected(world, host, proc):
    def ok():
        assert proc.alive(), f"{proc.name} exited:\n{proc.tail()}"
        return all((bridge_of(world, host, nm, proc) or {}).get("nats") == "connected"
                   for nm in NAMES)
    wait_for(ok, f"{proc.name} to show both channels connected")


def prometheus(world, host):
    """rill monitor --prometheus's samples: {(metric, labels): value}."""
    out = world.rill(host, "monitor", "--prometheus").stdout
    samples = {}
    for line in out.splitlines():
        m = re.match(r'^(rill_bridge_\w+)\{([^}]*)\} (\S+)$', line)
        if m:
            samples[(m.group(1), m.group(2))] = float(m.group(3))
    return samples


def test_config_file_and_monitor(world, cluster):
    """Two channels each way in one process per host, from a file (with a
    comment, a subject of its own for one channel, key = value and key
    value forms); every message delivered; rill info, rill monitor and
    --prometheus show each bridge with its counts."""
    n, seed, lo, hi = 500, 21, 0, 3000
    for nm in NAMES:
        world.channel(HOST_A, nm, **GEOM)
        world.channel(HOST_B, nm, **GEOM)
    urls = cluster.urls()
    out = start_conf(world, HOST_A, f"# host A\nserver = {urls}\nlinger = 2ms\n"
                     "out md/c1\nout md/c2 subject=custom.two   # its own subject\n", "a")
    connected(world, HOST_A, out)
    conss = [world.consume(nm, n, seed, lo, hi) for nm in NAMES]
    inn = start_conf(world, HOST_B, f"server {urls}\njson = no\n"
                     "in md/c1\nin md/c2 subject=custom.two\n", "b")
    connected(world, HOST_B, inn)
    for nm in NAMES:
        wait_interest(world, SUBJECTS[nm])
    prods = [world.produce(nm, n, seed, lo, hi) for nm in NAMES]
    for p in prods:
        world.result(p, 120)
    for c in conss:
        assert_all_delivered(world.result(c, 120), n)
    for nm in NAMES:
        b = bridge_of(world, HOST_A, nm, out)
        assert b["subject"] == SUBJECTS[nm] and b["direction"] == "out", b
        assert b["mode"] == "core" and b["alive"] is True, b
        wait_for(lambda nm=nm: bridge_of(world, HOST_B, nm, inn)["msgs"] == n,
                 f"bridge in's count of {nm}")
    # --prometheus: a sample per bridge and metric, labelled
    for host, proc, d in ((HOST_A, out, "out"), (HOST_B, inn, "in")):
        s = prometheus(world, host)
        for nm in NAMES:
            region, chan = nm.split("/")
            labels = f'region="{region}",channel="{chan}",direction="{d}",mode="core"'
            assert s.get(("rill_bridge_messages_total", labels)) == n, (labels, s)
            assert s.get(("rill_bridge_up", labels)) == 1, s
            assert s.get(("rill_bridge_nats_connected", labels)) == 1, s
            assert s.get(("rill_bridge_lost_messages_total", labels)) == 0, s
    # the text view: a row for each bridge under its channel
    text = world.rill(HOST_B, "monitor", "--once").stdout
    for nm in NAMES:
        assert re.search(re.escape(nm) + r"\n(.*\n)*?\s+bridge in core\s+alive\s+" +
                         str(inn.pid), text), text
    # SIGTERM: both leave, each channel's counters on a line
    for proc in (out, inn):
        assert proc.stop() == 0, proc.tail()
        c = exit_counters(proc.stdout())
        for nm in NAMES:
            assert c[nm]["msgs"] == n and c[nm]["bad"] == 0 and c[nm]["lost"] == 0, c
    # stopped: rill info says so
    for nm in NAMES:
        b = bridge_of(world, HOST_A, nm, out)
        assert b["alive"] is False and b["nats"] == "stopped", b


BAD = [
    ("bogus = 1\n", 2, r":1: unknown key 'bogus'"),
    ("out\n", 2, r":1: 'out' needs REGION/CHANNEL"),
    ("server = nats://127.0.0.1:1\nout md/c1 fast\n", 2, r":2: unknown word 'fast'"),
    ("jetstream = maybe\n", 2, r":1: jetstream takes yes or no"),
    ("replicas\n", 2, r":1: replicas needs a value"),
    ("linger = 5s\n", 2, r"--linger: a duration up to 1 s"),
    ("out md/c1\nout md/c1\n", 2, r"md/c1 is bridged out twice"),
    ("in md/c1 subject=a.*\n", 2, r"bad subject 'a\.\*'"),
]


def test_config_errors(world):
    """A bad file is a usage error (exit 2) naming the file and line; a
    missing one a failure (exit 1).  Nothing is started."""
    for i, (text, rc, msg) in enumerate(BAD):
        path = os.path.join(world.work, f"bad{i}.conf")
        with open(path, "w") as f:
            f.write(text)
        p = subprocess.run([RILL, "--dir", world.dirs[HOST_A], "bridge", "--config", path],
                           capture_output=True, text=True, timeout=DEADLINE)
        assert p.returncode == rc, (text, p.returncode, p.stderr)
        assert re.search(msg, p.stderr), (text, p.stderr)
    p = subprocess.run([RILL, "--dir", world.dirs[HOST_A], "bridge", "--config",
                        os.path.join(world.work, "none.conf")],
                       capture_output=True, text=True, timeout=DEADLINE)
    assert p.returncode == 1 and "cannot read" in p.stderr, p.stderr
