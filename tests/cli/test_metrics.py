# SPDX-License-Identifier: Apache-2.0 OR MIT
"""Tests of `rill monitor --listen` (docs/cli.md, issue 25): Prometheus'
text format served over HTTP at /metrics, read afresh at each scrape.

They start the endpoint against live channels of rill_cli_fixture (the
helpers of test_cli.py), scrape it with urllib and with curl, parse what
it serves with prometheus_client's parser, and check types, labels and
values against what the fixture did.  Waits are for a condition, with a
deadline.  They need a rill built with libmicrohttpd; without it, only the
test of the message that says so runs.
"""

import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from test_cli import DEADLINE, RILL, drive_quotes, peers, quotes, rill, shm, wait_for  # noqa: F401 (fixtures)

DASHBOARD = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "grafana-rill.json")
PROM_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def built_with_http():
    """Whether this rill has --listen: without libmicrohttpd it says so
    (status 1) before it looks at the address; with it, 'x' is a usage
    error."""
    p = subprocess.run([RILL, "monitor", "--listen", "x"], capture_output=True, text=True,
                       timeout=DEADLINE)
    return not (p.returncode == 1 and "libmicrohttpd" in p.stderr)


HTTP = built_with_http()
needs_http = pytest.mark.skipif(not HTTP, reason="rill was built without libmicrohttpd")


# ---- helpers ---------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, method="GET"):
    """(status, headers, body) of a request; an HTTP error is an answer too."""
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=DEADLINE) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def curl(url):
    """The page as `curl -sf` gets it (it fails on an HTTP error)."""
    return subprocess.run(["curl", "-sf", "--max-time", str(int(DEADLINE)), url],
                          capture_output=True, text=True, timeout=DEADLINE, check=True).stdout


class Endpoint:
    """`rill monitor --listen 127.0.0.1:PORT ARGS`, answering."""

    def __init__(self, d, *args):
        for _ in range(3):  # a free port may be taken before rill binds it
            self.port = free_port()
            self.addr = f"127.0.0.1:{self.port}"
            self.url = f"http://{self.addr}/metrics"
            self.p = subprocess.Popen([RILL, "--dir", d, "monitor", "--listen", self.addr, *args],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            if self.wait_answering():
                return
            err = self.p.stderr.read()
            if "Address already in use" not in err:
                break
        pytest.fail(f"rill monitor --listen exited {self.p.returncode}: {err}")

    def wait_answering(self):
        """True once it answers; False if it ended first."""
        answered = []

        def up():
            if self.p.poll() is not None:
                return True
            try:
                answered.append(get(self.url)[0])
            except (urllib.error.URLError, ConnectionError):
                return False
            return True
        wait_for(up, f"rill monitor --listen {self.addr} answering")
        return bool(answered)

    def scrape(self):
        status, headers, body = get(self.url)
        assert status == 200 and headers["Content-Type"] == PROM_TYPE, (status, dict(headers))
        return body

    def stop(self, sig=signal.SIGTERM):
        self.p.send_signal(sig)
        return self.p.wait(timeout=DEADLINE)

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(timeout=DEADLINE)


@pytest.fixture
def endpoint():
    made = []

    def make(d, *args):
        made.append(Endpoint(d, *args))
        return made[-1]

    yield make
    for e in made:
        e.close()


def families(text):
    return {f.name: f for f in text_string_to_metric_families(text)}


def value(fams, name, **labels):
    """The one sample NAME with LABELS (and maybe more)."""
    found = [s.value for f in fams.values() for s in f.samples
             if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(found) == 1, (name, labels, found)
    return found[0]


def served_names(text):
    """Every sample name the text's families may have, from the # TYPE
    lines: a family with no samples yet (no bridge) counts too."""
    names = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M):
        names |= {name + s for s in ("_bucket", "_sum", "_count")} if kind == "histogram" else {name}
    return names


TYPES = {
    "rill_channel_depth": "gauge", "rill_channel_mtu_bytes": "gauge",
    "rill_channel_consumers": "gauge", "rill_channel_credits_free": "gauge",
    "rill_producer_up": "gauge", "rill_producer_heartbeat_age_seconds": "gauge",
    "rill_producer_sequence": "gauge", "rill_producer_messages": "counter",
    "rill_producer_bytes": "counter", "rill_producer_backpressure": "counter",
    "rill_producer_evictions": "counter", "rill_consumer_up": "gauge",
    "rill_consumer_heartbeat_age_seconds": "gauge", "rill_consumer_evicted": "gauge",
    "rill_consumer_lag_messages": "gauge", "rill_consumer_messages": "counter",
    "rill_consumer_bytes": "counter", "rill_consumer_overruns": "counter",
    "rill_consumer_lost_messages": "counter", "rill_consumer_latency_seconds": "histogram",
    "rill_bridge_up": "gauge", "rill_bridge_nats_connected": "gauge",
    "rill_bridge_messages": "counter", "rill_bridge_bytes": "counter",
    "rill_bridge_lag_messages": "gauge", "rill_bridge_lost_messages": "counter",
    "rill_bridge_bad_messages": "counter", "rill_bridge_duplicates": "counter",
    "rill_bridge_reconnects": "counter", "rill_bridge_errors": "counter",
}


def check_families(fams):
    """Every family typed and described; counters end in _total; every
    sample labelled with its channel, and its endpoint: consumers by slot
    and mode."""
    assert {n: f.type for n, f in fams.items()} == TYPES
    for f in fams.values():
        assert f.documentation, f.name
        for s in f.samples:
            assert s.labels["region"] and s.labels["channel"], s
            if f.type == "counter":
                assert s.name == f.name + "_total", s
            if f.name.startswith("rill_consumer_"):
                assert re.fullmatch(r"\d+", s.labels["slot"]) and s.labels["mode"] in ("reliable", "lossy"), s
            elif f.name.startswith("rill_producer_") or f.name.startswith("rill_channel_"):
                assert "slot" not in s.labels, s


def check_histograms(fams):
    """Buckets cumulative (non-decreasing with le), +Inf == _count, for
    every consumer's histogram; returns {slot: count}."""
    h = fams["rill_consumer_latency_seconds"]
    series = {}
    for s in h.samples:
        key = (s.labels["region"], s.labels["channel"], s.labels["slot"])
        series.setdefault(key, {"buckets": []})
        if s.name.endswith("_bucket"):
            series[key]["buckets"].append((float(s.labels["le"]), s.value))
        else:
            series[key][s.name.rsplit("_", 1)[1]] = s.value
    counts = {}
    for key, sr in series.items():
        b = sorted(sr["buckets"])
        les = [le for le, _ in b]
        assert len(set(les)) == len(les) == 27 and les[0] == 64e-9 and les[-1] == float("inf"), key
        assert all(x[1] <= y[1] for x, y in zip(b, b[1:])), (key, b)
        assert b[-1][1] == sr["count"], key
        assert sr["sum"] >= 0 and (sr["count"] or not sr["sum"]), key
        counts[key] = sr["count"]
    return counts


# ---- the endpoint -----------------------------------------------------------


@needs_http
def test_endpoint(shm, peers, endpoint):
    """Types, labels and values as the fixture left them; a second scrape
    (with curl) shows what it did since."""
    peer = peers(shm)
    drive_quotes(peer)
    e = endpoint(shm)
    text = e.scrape()
    fams = families(text)
    check_families(fams)
    qs = dict(region="md", channel="quotes")
    rel = dict(qs, slot="0", mode="reliable")
    lossy = dict(qs, slot="1", mode="lossy")
    assert value(fams, "rill_channel_depth", **qs) == 64
    assert value(fams, "rill_channel_depth", region="md", channel="trades") == 256
    assert value(fams, "rill_channel_consumers", state="alive", **qs) == 2
    assert value(fams, "rill_channel_consumers", state="dead", **qs) == 0
    assert value(fams, "rill_channel_consumers", state="alive", region="md", channel="trades") == 0
    assert value(fams, "rill_channel_credits_free", **qs) == 0   # the reliable one lags by depth
    assert value(fams, "rill_channel_credits_free", region="md", channel="trades") == 256
    assert value(fams, "rill_producer_up", **qs) == 1
    assert value(fams, "rill_producer_up", region="md", channel="trades") == 0
    assert 0 <= value(fams, "rill_producer_heartbeat_age_seconds", **qs) < DEADLINE
    assert not [s for s in fams["rill_producer_heartbeat_age_seconds"].samples
                if s.labels["channel"] == "trades"]  # nobody ever joined it
    assert value(fams, "rill_producer_messages_total", **qs) == 94
    assert value(fams, "rill_producer_bytes_total", **qs) == sum(len(f"msg {i}") for i in range(94))
    assert value(fams, "rill_producer_backpressure_total", **qs) >= 1
    assert value(fams, "rill_consumer_up", **rel) == value(fams, "rill_consumer_up", **lossy) == 1
    assert value(fams, "rill_consumer_evicted", **rel) == 0
    assert 0 <= value(fams, "rill_consumer_heartbeat_age_seconds", **rel) < DEADLINE
    assert value(fams, "rill_consumer_messages_total", **rel) == 30
    assert value(fams, "rill_consumer_lag_messages", **rel) == 64
    assert value(fams, "rill_consumer_overruns_total", kind="poll", **lossy) == 1
    assert value(fams, "rill_consumer_overruns_total", kind="read", **lossy) == 0
    assert value(fams, "rill_consumer_lost_messages_total", **lossy) == 64
    counts = check_histograms(fams)
    assert counts[("md", "quotes", "0")] == 1 and counts[("md", "quotes", "1")] == 0
    assert 0 < value(fams, "rill_consumer_latency_seconds_sum", **rel) < 3

    # the reliable consumer catches up, 10 more: the next scrape has them
    assert peer.do("recv 0 64") == [64]
    peer.do("flush")
    assert peer.do("send 0 10") == [10]
    peer.do("flush")
    fams2 = families(curl(e.url))
    check_families(fams2)
    assert value(fams2, "rill_producer_messages_total", **qs) == 104
    assert value(fams2, "rill_consumer_messages_total", **rel) == 94
    assert value(fams2, "rill_consumer_lag_messages", **rel) == 10
    assert value(fams2, "rill_channel_credits_free", **qs) == 54
    counts2 = check_histograms(fams2)
    assert counts2[("md", "quotes", "0")] >= counts[("md", "quotes", "0")]
    assert e.stop() == 0


@needs_http
def test_endpoint_is_prometheus_output(shm, peers, endpoint):
    """--prometheus and the endpoint print the same series with the same
    values (the channels idle; only ages move)."""
    peer = peers(shm)
    drive_quotes(peer)
    e = endpoint(shm)
    served = e.scrape()
    printed = rill(shm, "monitor", "--prometheus", check=0).stdout

    def samples(text):
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for f in text_string_to_metric_families(text) for s in f.samples
                if "heartbeat_age" not in s.name}
    assert samples(served) == samples(printed)
    assert served_names(served) == served_names(printed)
    strip = re.compile(r"^rill_\w+_heartbeat_age_seconds\{.*$\n", re.M)
    assert strip.sub("", served) == strip.sub("", printed)


@needs_http
def test_endpoint_follows_regions(shm, peers, endpoint):
    """Each scrape reads the regions again: channels made after the
    endpoint started appear, and a killed process's endpoints are dead."""
    e = endpoint(shm)
    fams = families(e.scrape())
    assert set(fams) == set(TYPES) and not any(f.samples for f in fams.values())
    peer = peers(shm)
    quotes(peer)
    qs = dict(region="md", channel="quotes")
    fams = families(e.scrape())
    assert value(fams, "rill_producer_up", **qs) == 1
    assert value(fams, "rill_channel_consumers", state="alive", **qs) == 2
    peer.kill()
    fams = families(curl(e.url))
    assert value(fams, "rill_producer_up", **qs) == 0
    assert value(fams, "rill_consumer_up", slot="0", mode="reliable", **qs) == 0
    assert value(fams, "rill_channel_consumers", state="alive", **qs) == 0
    assert value(fams, "rill_channel_consumers", state="dead", **qs) == 2
    shutil.rmtree(shm)
    os.mkdir(shm)
    fams = families(e.scrape())
    assert not any(f.samples for f in fams.values())  # the region went


@needs_http
def test_endpoint_selection(shm, peers, endpoint):
    """REGION/CHANNEL arguments select as monitor's do, and must exist at
    the start."""
    peer = peers(shm)
    quotes(peer)
    fams = families(endpoint(shm, "md/quotes").scrape())
    assert {s.labels["channel"] for f in fams.values() for s in f.samples} == {"quotes"}
    p = rill(shm, "monitor", "--listen", f"127.0.0.1:{free_port()}", "md/nosuch", check=1)
    assert "md/nosuch" in p.stderr
    p = rill(shm, "monitor", "--listen", f"127.0.0.1:{free_port()}", "nosuch", check=1)
    assert "nosuch" in p.stderr


@needs_http
def test_endpoint_http(shm, endpoint):
    """/metrics alone, GET and HEAD alone."""
    rill(shm, "create", "md", "--size", "1M", check=0)
    e = endpoint(shm)
    base = f"http://{e.addr}"
    for path in ("/", "/metric", "/metrics/", "/metricsx", "/favicon.ico"):
        assert get(base + path)[0] == 404, path
    p = subprocess.run(["curl", "-sf", base + "/"], capture_output=True, timeout=DEADLINE)
    assert p.returncode == 22  # curl -f: an HTTP error
    status, headers, body = get(e.url, "HEAD")
    assert status == 200 and body == "" and int(headers["Content-Length"]) > 0
    assert headers["Content-Type"] == PROM_TYPE
    assert int(headers["Content-Length"]) == len(e.scrape().encode())
    for method in ("POST", "PUT", "DELETE"):
        status, headers, _ = get(e.url, method)
        assert status == 405 and headers["Allow"] == "GET, HEAD", method
    assert e.p.poll() is None


@needs_http
def test_endpoint_signals(shm, endpoint):
    """SIGTERM and SIGINT end it with status 0, the port closed."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        e = endpoint(shm)
        e.scrape()
        assert e.stop(sig) == 0
        assert e.p.stderr.read() == ""
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(e.url, timeout=DEADLINE)


def first_line(p):
    """P's first line on stdout, with a deadline."""
    r, _, _ = select.select([p.stdout], [], [], DEADLINE)
    assert r, "no line from rill monitor --listen"
    return p.stdout.readline()


@needs_http
@pytest.mark.parametrize("addr,shown", [("127.0.0.1:0", r"127\.0\.0\.1"), ("localhost:0", r"127\.0\.0\.1"),
                                        ("[::1]:0", r"\[::1\]"), (":0", r"\[::\]|0\.0\.0\.0")])
def test_endpoint_addresses(shm, addr, shown):
    """Port 0: the system picks one, and rill says which; IPv6 too."""
    if "::" in addr or addr == ":0":
        try:
            with socket.socket(socket.AF_INET6) as s:
                s.bind(("::1", 0))
        except OSError:
            pytest.skip("no IPv6 here")
    p = subprocess.Popen([RILL, "--dir", shm, "monitor", "--listen", addr],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = first_line(p)
        m = re.fullmatch(rf"rill monitor: serving (http://(?:{shown}):(\d+)/metrics)\n", line)
        assert m, line
        url = m.group(1)
        if addr == ":0":  # every interface: loopback answers
            url = f"http://127.0.0.1:{m.group(2)}/metrics"
        assert int(m.group(2)) > 0
        status, _, body = get(url)
        assert status == 200 and "# TYPE rill_channel_depth gauge" in body
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=DEADLINE) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


@needs_http
def test_listen_port_in_use(shm, endpoint):
    """A port in use fails at the start (1), naming the address."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        addr = f"127.0.0.1:{s.getsockname()[1]}"
        p = rill(shm, "monitor", "--listen", addr, check=1)
        assert addr in p.stderr and "in use" in p.stderr, p.stderr
    e = endpoint(shm)  # another rill's
    p = rill(shm, "monitor", "--listen", e.addr, check=1)
    assert e.addr in p.stderr and "in use" in p.stderr, p.stderr
    assert e.p.poll() is None


@needs_http
def test_listen_usage(shm):
    """A malformed ADDR, or --listen with what prints or reads on its own
    clock, is a usage error (2)."""
    for addr in ("9464", "", ":", "127.0.0.1", "127.0.0.1:", ":65536", ":-1", ":http", "::1:9464",
                 "[::1:9464", "[::1]9464", "[]:9464", "host.example:9464", "1.2.3.4.5:80",
                 "256.0.0.1:80", "127.0.0.1:80:80"):
        p = rill(shm, "monitor", "--listen", addr, check=2)
        assert "--listen" in p.stderr and "Try 'rill monitor --help'" in p.stderr, (addr, p.stderr)
    port = f"127.0.0.1:{free_port()}"
    for extra in (["--once"], ["--json"], ["--prometheus"], ["-n", "3"], ["-i", "2"], ["-d", "1"]):
        p = rill(shm, "monitor", "--listen", port, *extra, check=2)
        assert "--listen goes alone" in p.stderr, extra
    assert "--listen ADDR" in rill(shm, "monitor", "--help", check=0).stdout


@pytest.mark.skipif(HTTP, reason="rill was built with libmicrohttpd")
def test_listen_not_built(shm):
    """Without libmicrohttpd, --listen fails and names the package."""
    p = rill(shm, "monitor", "--listen", "127.0.0.1:9464", check=1)
    assert "libmicrohttpd-dev" in p.stderr


# ---- the Grafana dashboard ----------------------------------------------------


def dashboard_queries(dash):
    """Every PromQL expression of the dashboard: its panels' targets and
    its variables' queries."""
    exprs = []
    for panel in dash["panels"]:
        exprs += [t["expr"] for t in panel.get("targets", [])]
    for var in dash["templating"]["list"]:
        if var["type"] == "query":
            q = var["query"]
            exprs.append(q["query"] if isinstance(q, dict) else q)
    return exprs


def test_grafana_dashboard(shm, peers, endpoint):
    """docs/grafana-rill.json is a dashboard whose queries use only names
    the endpoint serves, rate() only counters, histogram_quantile() the
    latency's buckets by le."""
    with open(DASHBOARD) as f:
        dash = json.load(f)
    assert isinstance(dash["schemaVersion"], int) and dash["title"] and dash["uid"]
    ids = [p["id"] for p in dash["panels"]]
    assert len(set(ids)) == len(ids)
    for p in dash["panels"]:
        assert p["type"] and p["title"] and {"h", "w", "x", "y"} <= set(p["gridPos"]), p
        for t in p.get("targets", []):
            assert t["refId"] and t["expr"], p["title"]
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert {"region", "channel"} <= set(variables)
    assert variables["region"]["multi"] and variables["channel"]["multi"]
    exprs = dashboard_queries(dash)
    panel_exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    # per region/channel: every panel's query is filtered by the variables
    for x in panel_exprs:
        assert 'region=~"$region"' in x and 'channel=~"$channel"' in x, x

    if HTTP:
        rill(shm, "create", "md", "--size", "1M", check=0)
        text = endpoint(shm).scrape()
    else:
        text = rill(shm, "monitor", "--prometheus", check=0).stdout
    served = served_names(text)
    # what rate() may take: counters, and a histogram's series (each a counter)
    counters = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M):
        if kind == "counter":
            counters.add(name)
        elif kind == "histogram":
            counters |= {name + s for s in ("_bucket", "_sum", "_count")}
    used = set()
    for x in exprs:
        names = set(re.findall(r"\brill_[a-z0-9_]+", x))
        assert names, x
        used |= names
        assert names <= served, (x, names - served)
        for name in re.findall(r"\b(?:rate|irate|increase)\(\s*(rill_[a-z0-9_]+)", x):
            assert name in counters, (x, name)
    quantiles = [x for x in exprs if "histogram_quantile" in x]
    assert quantiles
    for x in quantiles:
        assert "rill_consumer_latency_seconds_bucket" in x and re.search(r"by \([^)]*\ble\b", x), x
    # the panels the issue asks for
    for name in ("rill_producer_messages_total", "rill_consumer_lag_messages",
                 "rill_consumer_lost_messages_total", "rill_consumer_overruns_total"):
        assert name in used, name
