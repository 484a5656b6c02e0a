# SPDX-License-Identifier: Apache-2.0 OR MIT
"""Hosts, a NATS cluster and processes for the bridge's tests.

Everything runs on this machine, in network namespaces made by netns.sh:
host I is the namespace PREFIX-I at SUBNET.I, all of them behind one
switch.  The tests use six hosts:

    1  A   the producer and `rill bridge out`
    2  B   `rill bridge in` and the consumer
    3-5    one nats-server each: a cluster of three with JetStream
    6  T   the test's own NATS client (bad input, stream checks)

so that A's cable can be pulled between it and every server.  The
namespaces share the file system: A and B each get a region directory of
their own under /dev/shm.

Every process is started through `setpriv --pdeathsig KILL ip netns exec
NS ...`: it dies with the test (even a test killed with SIGKILL), and its
pid is the program's own (ip execs it), so kill -9 reaches the program.
A run that was killed before it removed its namespaces and directories
leaves them named after its pid; the next run removes those of dead pids
(sweep_stale()).

The test process itself talks to the namespaces through NsThread: a
thread that enters a namespace (setns) and runs an asyncio loop there, for
the servers' monitoring port and for nats-py.
"""

import asyncio
import concurrent.futures
import ctypes
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
NETNS_SH = os.path.join(HERE, "netns.sh")
DEADLINE = 30.0  # seconds any wait for another process may take, unless told
CLIENT_PORT, CLUSTER_PORT, MONITOR_PORT = 4222, 6222, 8222
HOST_A, HOST_B, HOST_T = 1, 2, 6
NATS_SERVER = os.environ.get("NATS_SERVER") or shutil.which("nats-server") or "/usr/sbin/nats-server"
SERVER_HOSTS = (3, 4, 5)
PREFIX_RE = re.compile(r"^rbt(\d+)t\d+$")
TMP_RE = re.compile(r"^rill-bridge-(\d+)-")


def wait_for(pred, what, timeout=DEADLINE, interval=0.05):
    """Calls PRED until it returns something true, and returns that; fails
    the test after TIMEOUT seconds, naming WHAT."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= end:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def sweep_stale():
    """Removes the namespaces and directories that runs killed before their
    clean-up left behind (their pid is in the name, and is dead)."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    prefixes = set()
    for line in out.splitlines():
        name = line.split()[0] if line.split() else ""
        m = PREFIX_RE.match(name.rsplit("-", 1)[0])
        if m and not pid_alive(int(m.group(1))):
            prefixes.add(name.rsplit("-", 1)[0])
    for p in prefixes:
        subprocess.run(["sh", NETNS_SH, "down", p], capture_output=True)
    for base in ("/dev/shm", "/tmp"):
        try:
            names = os.listdir(base)
        except OSError:
            continue
        for n in names:
            m = TMP_RE.match(n)
            if m and not pid_alive(int(m.group(1))):
                shutil.rmtree(os.path.join(base, n), ignore_errors=True)


# ---- processes -------------------------------------------------------------


class Proc:
    """A process started in a namespace, its stdout and stderr in files."""

    def __init__(self, name, argv, ns, logdir, env=None):
        self.name = name
        self.argv = argv
        self.out_path = os.path.join(logdir, f"{name}.out")
        self.err_path = os.path.join(logdir, f"{name}.err")
        cmd = ["setpriv", "--pdeathsig", "KILL", "ip", "netns", "exec", ns, *argv]
        with open(self.out_path, "ab") as out, open(self.err_path, "ab") as err:
            self.p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                      env=env)
        self.pid = self.p.pid

    def alive(self):
        return self.p.poll() is None

    def stdout(self):
        with open(self.out_path, errors="replace") as f:
            return f.read()

    def stderr(self):
        with open(self.err_path, errors="replace") as f:
            return f.read()

    def kill(self):
        """kill -9, and reaps it."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGKILL)
        self.p.wait(timeout=DEADLINE)

    def stop(self, timeout=DEADLINE):
        """SIGTERM; returns the exit status (fails if it does not exit)."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.name} did not exit within {timeout:g} s of SIGTERM")

    def wait(self, timeout):
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.name} still running after {timeout:g} s:\n"
                                 f"{self.tail()}") from None

    def tail(self, n=2000):
        return (f"--- {self.name} stdout\n{self.stdout()[-n:]}\n"
                f"--- {self.name} stderr\n{self.stderr()[-n:]}")


class Procs:
    """Every process a test starts, killed at its end whatever happened."""

    def __init__(self, logdir):
        self.logdir = logdir
        self.all = []
        self.counts = {}

    def start(self, name, argv, ns, env=None):
        k = self.counts.get(name, 0)
        self.counts[name] = k + 1
        p = Proc(name if k == 0 else f"{name}.{k}", argv, ns, self.logdir, env)
        self.all.append(p)
        return p

    def cleanup(self):
        for p in self.all:
            if p.alive():
                try:
                    p.p.send_signal(signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for p in self.all:
            try:
                p.p.wait(timeout=DEADLINE)
            except subprocess.TimeoutExpired:
                pass


# ---- talking from inside a namespace --------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


class NsThread:
    """A thread inside network namespace NS running an asyncio loop: what
    it connects to, it reaches from that namespace."""

    def __init__(self, ns):
        self.ns = ns
        self.loop = None
        self.error = None
        started = threading.Event()

        def main():
            try:
                fd = os.open(f"/var/run/netns/{ns}", os.O_RDONLY)
                try:
                    if _libc.setns(fd, CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), f"setns into {ns}")
                finally:
                    os.close(fd)
                self.loop = asyncio.new_event_loop()
            except BaseException as e:  # reported to the caller below
                self.error = e
                started.set()
                return
            started.set()
            self.loop.run_forever()
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

        self.thread = threading.Thread(target=main, name=f"netns {ns}", daemon=True)
        self.thread.start()
        started.wait(DEADLINE)
        if self.error:
            raise self.error

    def run(self, coro, timeout=DEADLINE):
        """Runs coroutine CORO in the namespace; its result."""
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return fut.result(timeout)
        except concurrent.futures.TimeoutError:
            if fut.done():
                raise  # CORO's own
            fut.cancel()
            raise AssertionError(f"timed out after {timeout:g} s in namespace {self.ns}") from None

    def call(self, fn, *args, timeout=DEADLINE):
        """Runs FN(ARGS) (blocking) in the namespace; its result."""
        async def wrap():
            return fn(*args)
        return self.run(wrap(), timeout)

    def close(self):
        if self.loop and self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(DEADLINE)


def subject_matches(pattern, subject):
    """NATS subject matching: '*' is one token, '>' the rest."""
    p, t = pattern.split("."), subject.split(".")
    for i, tok in enumerate(p):
        if tok == ">":
            return len(t) > i
        if i >= len(t) or (tok != "*" and tok != t[i]):
            return False
    return len(p) == len(t)


def http_json(url, timeout=5.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


# ---- hosts -------------------------------------------------------------------


class Net:
    """N hosts in namespaces PREFIX-1 .. PREFIX-N at SUBNET.1 .. SUBNET.N."""

    def __init__(self, prefix, n, subnet):
        self.prefix, self.n, self.subnet = prefix, n, subnet
        self.threads = {}
        r = subprocess.run(["sh", NETNS_SH, "up", prefix, str(n), subnet],
                           capture_output=True, text=True, timeout=DEADLINE)
        if r.returncode != 0:
            self.down()
            raise AssertionError(f"netns.sh up {prefix} failed: {r.stderr}")

    def ns(self, i):
        return f"{self.prefix}-{i}"

    def ip(self, i):
        return f"{self.subnet}.{i}"

    def link(self, i, state):
        subprocess.run(["sh", NETNS_SH, "link", self.prefix, str(i), state], check=True,
                       capture_output=True, timeout=DEADLINE)

    def thread(self, i):
        """The NsThread of host I (made on first use)."""
        if i not in self.threads:
            self.threads[i] = NsThread(self.ns(i))
        return self.threads[i]

    def down(self):
        for t in self.threads.values():
            t.close()
        self.threads.clear()
        subprocess.run(["sh", NETNS_SH, "down", self.prefix], capture_output=True,
                       timeout=DEADLINE)


# ---- NATS ----------------------------------------------------------------------


class NatsServer:
    """nats-server on host HOST of NET, its store and log in WORKDIR.
    EXTRA: more lines for its configuration file (authorization, tls, ...)."""

    def __init__(self, net, procs, host, workdir, peers=(), jetstream=True,
                 port=CLIENT_PORT, name=None, extra=()):
        self.net, self.procs, self.host = net, procs, host
        self.port = port
        self.name = name or f"n{host}"
        self.dir = os.path.join(workdir, self.name)
        os.makedirs(self.dir, exist_ok=True)
        self.conf = os.path.join(self.dir, "server.conf")
        lines = [
            f"server_name: {self.name}",
            f"listen: 0.0.0.0:{port}",
            f"http: 0.0.0.0:{MONITOR_PORT}",
            # a client that vanishes (a pulled cable) is dropped within
            # seconds, not the default 2 minutes x 2 pings
            'ping_interval: "1s"',
            "ping_max: 3",
            'write_deadline: "2s"',
        ]
        if jetstream:
            lines.append("jetstream {")
            lines.append(f'  store_dir: "{os.path.join(self.dir, "js")}"')
            lines.append("  max_memory_store: 256MB")
            lines.append("  max_file_store: 16GB")
            lines.append("}")
        if peers:
            routes = ", ".join(f'"nats://{net.ip(h)}:{CLUSTER_PORT}"' for h in peers)
            lines += ["cluster {", "  name: rill-test", f"  listen: 0.0.0.0:{CLUSTER_PORT}",
                      f"  routes: [{routes}]", "}"]
        lines += list(extra)
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = None

    @property
    def url(self):
        return f"nats://{self.net.ip(self.host)}:{self.port}"

    def start(self):
        self.proc = self.procs.start(self.name, [NATS_SERVER, "-c", self.conf],
                                     self.net.ns(self.host))
        return self

    def alive(self):
        return self.proc is not None and self.proc.alive()

    def kill(self):
        self.proc.kill()

    def monitor(self, path, timeout=5.0):
        """GET PATH of its monitoring port (JSON), from its own host."""
        url = f"http://127.0.0.1:{MONITOR_PORT}{path}"
        return self.net.thread(self.host).call(http_json, url, timeout, timeout=timeout + 5)

    def try_monitor(self, path):
        try:
            return self.monitor(path, timeout=2.0)
        except Exception:
            return None

    def clients_from(self, host):
        """The client connections that come from host HOST (/connz)."""
        c = self.try_monitor("/connz?subs=1&limit=1024")
        if not c:
            return []
        return [x for x in c.get("connections", []) if x.get("ip") == self.net.ip(host)]

    def wait_up(self, timeout=DEADLINE):
        wait_for(lambda: self.try_monitor("/varz"), f"{self.name} to answer on its monitoring port",
                 timeout)


class Cluster:
    """Three nats-servers with JetStream, each on its own host, routed to the
    two others."""

    def __init__(self, net, procs, workdir, hosts=SERVER_HOSTS):
        self.net = net
        self.servers = [NatsServer(net, procs, h, workdir, [x for x in hosts if x != h])
                        for h in hosts]

    def start(self):
        for s in self.servers:
            s.start()
        return self

    def urls(self, first=None, live=False):
        """Every server's URL (LIVE: of those running), FIRST's (a
        NatsServer) first, comma-separated."""
        order = sorted(self.servers, key=lambda s: s is not first)
        return ",".join(s.url for s in order if s.alive() or not live)

    def ready(self, s):
        """Server S has its routes to every other live server, knows the
        JetStream meta leader, and says it is healthy."""
        live = [x for x in self.servers if x.alive()]
        r = s.try_monitor("/routez")
        if not r or r.get("num_routes", 0) < len(live) - 1:
            return False
        j = s.try_monitor("/jsz")
        if not j or not (j.get("meta_cluster") or {}).get("leader"):
            return False
        h = s.try_monitor("/healthz")
        return bool(h) and h.get("status") == "ok"

    def wait_ready(self, timeout=60.0):
        for s in self.servers:
            if s.alive():
                wait_for(lambda s=s: self.ready(s), f"{s.name} to be ready (routes, JetStream)",
                         timeout)

    def server_of(self, host):
        """The live server that has a client connection from HOST, or None
        (the first if several)."""
        for s in self.servers:
            if s.alive() and s.clients_from(host):
                return s
        return None

    def has_interest(self, s, subject, exact=True):
        """Server S would route a message on SUBJECT to a subscriber: one of
        its own clients' (/subsz) or one behind a route (/routez).  EXACT:
        a subscription to SUBJECT itself, not a wildcard that matches it
        (to tell one subscriber from another)."""
        def hit(pattern):
            return pattern == subject if exact else subject_matches(pattern, subject)
        literal = not any(c in subject for c in "*>")  # test= takes literal subjects only
        r = s.try_monitor("/subsz?subs=1&limit=4096" + (f"&test={subject}" if literal else ""))
        if any(hit(x.get("subject", "")) for x in (r or {}).get("subscriptions_list") or []):
            return True
        r = s.try_monitor("/routez?subs=1")
        for route in (r or {}).get("routes") or []:
            if any(hit(p) for p in route.get("subscriptions_list") or []):
                return True
        return False

    def tail_logs(self, n=3000):
        out = []
        for s in self.servers:
            if s.proc:
                out.append(s.proc.tail(n))
        return "\n".join(out)
