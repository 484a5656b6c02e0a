# SPDX-License-Identifier: Apache-2.0 OR MIT
"""Producers and consumers in other PID and mount namespaces: containers
that share a region directory (docs/containers.md).

Each "container" is a rill_cli_fixture (tests/cli/fixture.c) started by
`unshare --pid --fork --mount-proc --kill-child`: a PID namespace of its
own with its /proc, and a mount namespace of its own in which the shared
region directory (under /dev/shm, as a shared /dev/shm or volume would be)
is bind-mounted at a path of its own, empty everywhere else.  The tests
check that messages flow between namespaces with every byte intact, that a
producer killed in its namespace is dead everywhere, what `rill info`
says of pids from each namespace, and that `rill clean` goes by locks, not
by pids.

They need root (namespaces and mounts) and unshare; they are skipped
otherwise.  The namespaces die with their fixture: unshare kills its child
when it dies (--kill-child), the tests kill what they start, and the mount
namespaces (with their bind mounts) go with their last process.
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile

import pytest

from test_cli import (DEADLINE, FIXTURE, RILL, Peer, channel_of, consumer_of, peers, rill,  # noqa: F401 (peers: a fixture)
                      rill_json, wait_for)

# run inside a namespace, from its root: a path relative to here would not do
FIXTURE, RILL = os.path.abspath(FIXTURE), os.path.abspath(RILL)

UNSHARE = shutil.which("unshare")
NSENTER = shutil.which("nsenter")


def _why_not():
    if os.geteuid() != 0:
        return "namespaces and bind mounts need root"
    if not UNSHARE or not NSENTER:
        return "unshare and nsenter (util-linux) are not installed"
    p = subprocess.run([UNSHARE, "--pid", "--fork", "--mount-proc", "--kill-child", "true"],
                       capture_output=True, text=True, timeout=DEADLINE)
    if p.returncode != 0:
        return f"cannot make PID and mount namespaces here: {p.stderr.strip()}"
    return None


WHY_NOT = _why_not()
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")


def children(pid):
    """The pids of PID's children (host pids)."""
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(x) for x in f.read().split()]


class NsPeer(Peer):
    """A fixture in new PID and mount namespaces, where SHARED is mounted at
    MNT.  AS_INIT: the fixture is the namespace's init (pid 1); else a
    shell is, and the fixture is its child.  host_pid: the
    fixture's pid here; init_pid: its namespace's init's."""

    def __init__(self, shared, mnt, as_init=True):
        script = 'mount --bind "$1" "$2" && ' + ('exec "$3" "$2"' if as_init else '"$3" "$2"')
        self.p = subprocess.Popen([UNSHARE, "--pid", "--fork", "--mount-proc", "--kill-child",
                                   "--", "sh", "-c", script, "sh", shared, mnt, FIXTURE],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                  bufsize=1)
        self.mnt = mnt
        self.pid = self.p.pid  # unshare's
        # The fixture answers once it runs (after the exec, or as the child)
        self.ns_pid = self.do("pid")[0]
        assert (self.ns_pid == 1) == as_init
        self.init_pid = children(self.p.pid)[0]
        self.host_pid = self.init_pid if as_init else children(self.init_pid)[0]

    def ask(self, line):
        """A command whose answer is words: "ok WORD" -> WORD."""
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        ans = self.p.stdout.readline().split()
        assert len(ans) == 2 and ans[0] == "ok", f"fixture: {line} -> {ans}"
        return ans[1]

    def rill(self, *args, check=None):
        """`rill --dir MNT ARGS` run inside this fixture's namespaces."""
        p = subprocess.run([NSENTER, "--target", str(self.host_pid), "--pid", "--mount", "--",
                            RILL, "--dir", self.mnt, *args],
                           capture_output=True, text=True, timeout=DEADLINE)
        if check is not None:
            assert p.returncode == check, f"rill {' '.join(args)} in ns -> {p.returncode}\n{p.stdout}\n{p.stderr}"
        return p

    def kill_host(self, pid):
        """SIGKILL to PID (a host pid of this namespace), from here; waits
        until unshare, and so the namespace's init, is gone if PID was it."""
        os.kill(pid, signal.SIGKILL)
        if pid == self.init_pid:
            self.p.wait(timeout=DEADLINE)

    def close(self):
        if self.p.poll() is None:
            self.p.kill()  # unshare; --kill-child takes the namespace with it
            self.p.wait(timeout=DEADLINE)
        for pid in (getattr(self, "host_pid", 0), getattr(self, "init_pid", 0)):
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


@pytest.fixture
def box():
    """Makes "containers": box(as_init=True) -> an NsPeer on a private
    mount point of the shared directory box.shared.  Everything is
    killed and removed at the end."""
    made, tmp = [], []
    shared = tempfile.mkdtemp(prefix="rill-ct-", dir="/dev/shm")

    def make(as_init=True):
        mnt = tempfile.mkdtemp(prefix="rill-ct-mnt-")  # empty but in its namespace
        tmp.append(mnt)
        made.append(NsPeer(shared, mnt, as_init))
        return made[-1]

    make.shared = shared
    try:
        yield make
    finally:
        for p in made:
            p.close()
        for p in made:
            # the mount namespace goes with its last process
            assert p.p.wait(timeout=DEADLINE) is not None
        for d in tmp:
            os.rmdir(d)  # fails if a bind mount leaked here
        shutil.rmtree(shared, ignore_errors=True)


# ---- messages both ways --------------------------------------------------------


def test_messages_flow_both_ways(box, peers):
    """X produces on md/xy for Y and a consumer here; Y produces on md/yx
    for X: every message arrives whole, in order, in each namespace."""
    x, y = box(), box()
    here = peers(box.shared)
    assert x.mnt != y.mnt and not os.listdir(x.mnt) and not os.listdir(y.mnt)
    x.do("region md 8388608")
    x.do("channel md/xy 256 256 4 4096")  # 1000-byte messages: 4 fragments
    y.do("channel md/yx 256 64 4 512")
    assert sorted(os.listdir(box.shared)) == ["md"]
    assert x.do("producer md/xy") == [0]
    assert y.do("consumer md/xy reliable") == [0, 0]
    assert here.do("consumer md/xy reliable") == [0, 1]
    assert y.do("producer md/yx") == [0]
    assert x.do("consumer md/yx reliable") == [0, 0]
    for _ in range(20):  # in batches the ring holds; cursors flushed after each
        assert x.do("send 0 25 1000") == [25]
        assert y.do("expect 0 25 1000") == [25] and y.do("flushc 0") == []
        assert here.do("expect 0 25 1000") == [25] and here.do("flushc 0") == []
        assert y.do("send 0 50 100") == [50]
        assert x.do("expect 0 50 100") == [50] and x.do("flushc 0") == []
    # what each saw, from here
    x.do("flush")
    y.do("flush")
    here.do("flush")
    st = rill_json(box.shared, "info", "--json", "md/xy")["channel"]
    assert st["producer"]["msgs"] == 2000 and st["producer"]["bytes"] == 500 * 1000
    assert [c["msgs"] for c in st["consumers"]] == [2000, 2000]
    # a consumer asleep in Y (a futex in the shared file) is woken from X
    y.p.stdin.write("expect 0 5 1000\n")
    y.p.stdin.flush()
    wait_for(lambda: consumer_of(rill_json(box.shared, "info", "--json", "md/xy")["channel"], 0)["parked"],
             "Y's consumer to park")
    assert x.do("send 0 5 1000") == [5]
    assert y.p.stdout.readline().split() == ["ok", "5"]
    # leaving is seen across namespaces too
    x.do("leavep 0")
    y.do("leavep 0")
    assert y.ask("end 0 5000") == "closed"
    assert x.ask("end 0 5000") == "closed"


# ---- a producer killed in its namespace -------------------------------------------


@pytest.mark.parametrize("kill", ["producer", "init"])
def test_dead_producer_across_namespaces(box, peers, kill):
    """A producer SIGKILLed from here, or whose namespace's init dies (the
    kernel then kills every process of the namespace), is dead for its
    consumer in another namespace, for `rill info` here and in that
    namespace: liveness is the producer's lock, which the kernel drops
    whoever the process was."""
    x, y = box(as_init=(kill == "producer")), box()
    x.do("region md 8388608")
    x.do("channel md/q 64 128 4 1024")
    assert x.do("producer md/q") == [0]
    assert y.do("consumer md/q reliable") == [0, 0]
    assert x.do("send 0 10") == [10]
    assert y.do("expect 0 10") == [10]
    assert x.do("send 0 5") == [5]  # published, not read yet
    st = rill_json(box.shared, "info", "--json", "md/q")["channel"]
    assert st["producer"]["state"] == "alive"
    x.kill_host(x.init_pid if kill == "init" else x.host_pid)
    if kill == "init":
        assert x.p.returncode != 0
    # what it published is read, then the consumer learns it died
    assert y.do("expect 0 5") == [5]
    assert y.ask("end 0 5000") == "dead"
    st = rill_json(box.shared, "info", "--json", "md/q")["channel"]
    assert st["producer"]["state"] == "dead"
    assert consumer_of(st, 0)["state"] == "alive"
    inside = json.loads(y.rill("info", "--json", "md/q", check=0).stdout)["channel"]
    assert inside["producer"]["state"] == "dead"
    assert "producer   dead, pid " in y.rill("info", "md/q", check=0).stdout


# ---- rill clean goes by locks ------------------------------------------------------


def test_clean_keeps_what_another_namespace_uses(box):
    """A region made and used by a container's init (pid 1 there, its
    creator_pid and producer pid) is kept by `rill clean` here and in a
    sibling namespace while it is used, past any grace period; once its
    users are gone it is removed, although pid 1 lives here too: that
    pid was another namespace's."""
    x, y = box(), box()
    x.do("region md 8388608")
    x.do("channel md/q 64 128 4 1024")
    assert x.do("producer md/q") == [0]
    assert x.do("send 0 3") == [3]
    info = rill_json(box.shared, "info", "--json", "md")
    assert info["creator_pid"] == 1 and channel_of(info, "q")["producer"]["pid"] == 1
    assert rill(box.shared, "clean", "--min-age", "0", check=0).stdout == \
        f"nothing to clean in {box.shared}\n"
    assert y.rill("clean", "--min-age", "0", check=0).stdout == f"nothing to clean in {y.mnt}\n"
    assert rill_json(box.shared, "ls", "--json")["regions"][0]["status"] == "alive"
    assert json.loads(y.rill("ls", "--json", check=0).stdout)["regions"][0]["status"] == "alive"
    x.kill_host(x.host_pid)  # the container stops
    assert x.p.wait(timeout=DEADLINE) != 0
    assert rill_json(box.shared, "ls", "--json")["regions"][0]["status"] == "dead"
    assert rill(box.shared, "clean", "--min-age", "0", check=0).stdout == "removed md\n"
    assert os.listdir(box.shared) == []


# ---- pids seen from each namespace ---------------------------------------------------


def test_pids_across_namespaces(box, peers):
    """The pid in shared memory is the endpoint's own getpid(), in its PID
    namespace.  `rill info` finds the process that holds the endpoint's
    lock among those it can see: here, the containers' inits are shown by
    their pid here; inside a container, an endpoint of another is said to
    be in another PID namespace, and one of its own by its pid."""
    x, y = box(), box()
    here = peers(box.shared)
    x.do("region md 8388608")
    x.do("channel md/q 64 128 4 1024")
    assert x.do("producer md/q") == [0]
    assert y.do("consumer md/q reliable") == [0, 0]
    assert here.do("consumer md/q lossy") == [0, 1]
    # from here
    st = rill_json(box.shared, "info", "--json", "md/q")["channel"]
    p, c0, c1 = st["producer"], consumer_of(st, 0), consumer_of(st, 1)
    assert (p["pid"], p["pid_here"], p["pid_namespace"]) == (1, x.host_pid, "inner")
    assert (c0["pid"], c0["pid_here"], c0["pid_namespace"]) == (1, y.host_pid, "inner")
    assert (c1["pid"], c1["pid_here"], c1["pid_namespace"]) == (here.pid, here.pid, "this")
    out = rill(box.shared, "info", "md/q", check=0).stdout
    assert f"producer   alive, pid {x.host_pid} (pid 1 in its PID namespace), 1 join" in out
    assert f"  slot 0: pid {y.host_pid} (pid 1 in its PID namespace)\n" in out
    assert "  slot 1: " not in out
    rows = {int(r.split()[0]): r.split() for r in out.splitlines() if r.strip().split()[:1] in (["0"], ["1"])}
    assert rows[0][3] == str(y.host_pid) and rows[1][3] == str(here.pid)
    # from inside Y: X and here are other namespaces; Y's own pid is 1
    st = json.loads(y.rill("info", "--json", "md/q", check=0).stdout)["channel"]
    p, c0, c1 = st["producer"], consumer_of(st, 0), consumer_of(st, 1)
    assert (p["pid"], p["pid_here"], p["pid_namespace"]) == (1, None, "other")
    assert (c0["pid"], c0["pid_here"], c0["pid_namespace"]) == (1, 1, "this")
    assert (c1["pid"], c1["pid_here"], c1["pid_namespace"]) == (here.pid, None, "other")
    out = y.rill("info", "md/q", check=0).stdout
    assert "producer   alive, pid 1 (in another PID namespace), 1 join" in out
    assert f"  slot 1: pid {here.pid} (in another PID namespace)\n" in out
    assert "  slot 0: " not in out
    # dead endpoints: the pid recorded, nothing looked up
    x.kill_host(x.host_pid)
    assert x.p.wait(timeout=DEADLINE) != 0
    p = rill_json(box.shared, "info", "--json", "md/q")["channel"]["producer"]
    assert (p["state"], p["pid"], p["pid_here"], p["pid_namespace"]) == ("dead", 1, None, None)
    assert "producer   dead, pid 1, 1 join" in rill(box.shared, "info", "md/q", check=0).stdout
