#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 OR MIT
"""The benchmark's tables in Markdown, from the JSON results of one run.

    bench/summary.py [DIR]        (default: bench/results)

Reads what rill_bench wrote in DIR (latest.json; a suite it lacks is taken
from another file of the same shape there, e.g. python.json of `make
pybench`), writes DIR/summary.md and prints it: the machine, every transport
and peer at every size, the round trips, the bars with their values, the
bindings beside C, request/response and rill beside rust-tango.  The tables
of docs/benchmark.md ("Results on this machine") are this file's; `make
bench` ends with it.  Needs only the standard library.
"""
import json
import os
import sys

ORDER = ["rill-copy", "rill-zerocopy", "rill-batch", "rill-zcbatch", "rill-alone", "ring-batch", "ring", "pipe", "unix", "zmq-pushpull", "zmq-pair",
         "nng-pushpull", "nng-pair", "iceoryx"]
NAMES = {
    "rill-copy": "rill, copying (`rill_send`/`rill_recv`)",
    "rill-zerocopy": "rill, zero-copy (`reserve`/`commit`/`poll`)",
    "rill-batch": "rill, batches copied in (`rill_send_many`/`rill_poll_many`)",
    "rill-zcbatch": "rill, batches in place (`reserve_many`/`commit_many`/`poll_many`)",
    "rill-alone": "rill, the producer alone (`rill_send`, no consumer)",
    "ring": "minimal fixed-slot ring",
    "ring-batch": "batched ring: slots the size of the message, indices stored per 4 KiB "
                  "(the ceiling)",
    "pipe": "pipe",
    "unix": "UNIX stream socket",
    "zmq-pushpull": "ZeroMQ PUSH/PULL, `ipc://`",
    "zmq-pair": "ZeroMQ PAIR, `ipc://`",
    "nng-pushpull": "nng push/pull, `ipc://`",
    "nng-pair": "nng pair, `ipc://`",
    "iceoryx": "iceoryx 2, zero-copy (loan/publish, take/release)",
    "cacheline": "one cache line bounced (hardware floor)",
    "rill-sleep": "rill, both sides parked (`*_wait`, spin 0)",
    "futex": "raw futex wake round trip",
}


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def suite(d, name):
    """The rows of suite NAME that did not fail."""
    return [r for r in d["results"] if r.get("suite", "core") == name and not r["failed"]]


def load_all(where):
    """latest.json, with the suites it lacks taken from the other files of
    rill_bench's shape (format 2) in WHERE, the newest first."""
    d = load(os.path.join(where, "latest.json"))
    files = sorted((os.path.join(where, f) for f in os.listdir(where)
                    if f.endswith(".json") and f != "latest.json"), key=os.path.getmtime,
                   reverse=True)
    for f in files:
        x = load(f)
        if not isinstance(x, dict) or x.get("format") != 2:
            continue
        if d is None:
            d = x
            continue
        have = {r.get("suite", "core") for r in d["results"]}
        new = {r["suite"] for r in x["results"]} - have
        d["results"] += [r for r in x["results"] if r["suite"] in new]
        d["bars"] += [b for b in x.get("bars", []) if b.get("suite") in new]
        for k in ("ratios", "ratios_paired"):
            d.setdefault(k, {}).update({n: v for n, v in x.get(k, {}).items()
                                        if n.split(" ")[0] in new})
        d.setdefault("software", {}).update(x.get("software", {}))
    return d


def scaled(x, units):
    """X in the largest of UNITS ((divisor, suffix), largest first) that
    keeps 3 significant digits from spilling into an exponent."""
    for div, unit in units:
        if x >= div * 0.9995:
            return f"{x / div:.3g}{unit}"
    return None


def rate(x):
    if x is None:
        return "-"
    return scaled(x, ((1e9, " G"), (1e6, " M"), (1e3, " k"))) or f"{x:.3g}"


def ns(x):
    if x is None:
        return "-"
    return scaled(x, ((1e9, " s"), (1e6, " ms"), (1e3, " µs"))) or f"{x:.0f} ns"


def table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return out + [""]


def num(x):
    return "-" if x is None else f"{x:.3g}"


def mark(met):
    return "-" if met is None else "✔" if met else "✘"


def core(d):
    rs = suite(d, "core")
    if not rs:
        return []
    tp = [r for r in rs if r["kind"] == "throughput"]
    sizes = sorted({r["size"] for r in tp})
    names = [n for n in ORDER if any(r["name"] == n for r in tp)]
    names += [n for n in dict.fromkeys(r["name"] for r in tp) if n not in names]
    peers = ", ".join(f"{k} {v}" for k, v in sorted(d.get("peers", {}).items()))
    out = [f"`rill_bench` ({d['date']}, {d['cores']} CPUs, {d['cpu_model']}; peers: "
           f"{peers or 'none installed'}). Two pinned processes (CPUs "
           f"{', '.join(map(str, d.get('cpus', [])))}), medians of {d['runs']} interleaved "
           f"runs; every payload checked.", ""]
    rows = []
    for n in names:
        by = {r["size"]: r for r in tp if r["name"] == n}
        errs = sum(r["errors"] for r in by.values())
        rows.append([NAMES.get(n, n)] + [rate(by[s]["msgs_per_s"]) if s in by else "-"
                                        for s in sizes] + [errs])
    out += table(["messages/s"] + [f"{s} B" for s in sizes] + ["errors"], rows)
    ratios, paired = d.get("ratios", {}), d.get("ratios_paired", {})
    ceil = [(m, s) for m in ("rill-copy", "rill-zerocopy", "rill-batch", "rill-zcbatch", "ring")
            for s in (64, 1024)
            if ratios.get(f"{m} {s}B / ring-batch {s}B msgs/s") is not None]
    if ceil:
        out += table(["against the batched ring (the ceiling)", "size", "of medians", "paired"],
                     [[NAMES.get(m, m), f"{s} B", num(ratios[f"{m} {s}B / ring-batch {s}B msgs/s"]),
                       num(paired.get(f"{m} {s}B / ring-batch {s}B msgs/s"))] for m, s in ceil])
    rtt = [r for r in rs if r["kind"] == "rtt"]
    if rtt:
        out += table([f"{rtt[0]['size']}-byte round trip", "p50", "p99", "p99.9", "errors"],
                     [[NAMES.get(r["name"], r["name"]), ns(r["p50_ns"]), ns(r["p99_ns"]),
                       ns(r["p999_ns"]), r["errors"]] for r in rtt])
    lat = [r for r in rs if r["kind"] == "latency"]
    if lat:
        out += table(["one-way latency, paced", "p50", "p99", "p99.9", "consumer CPU"],
                     [[f"{r['rate_hz']:,} messages/s", ns(r["p50_ns"]), ns(r["p99_ns"]),
                       ns(r["p999_ns"]), f"{r['cpu_pct']:.3g} %"] for r in lat])
    out += bars(d, "core")
    return out


def bars(d, name):
    bs = [b for b in d.get("bars", []) if b.get("suite", "core") == name]
    if not bs:
        return []
    return table(["bar", "of medians", "paired", "required", ""],
                 [[b["name"] + (f" ({b['note']})" if b.get("note") else ""), num(b["value"]),
                   num(b["paired"]), f"{b['op']} {b['threshold']}", mark(b["met"])]
                  for b in bs])


def errs(r):
    """A row's error count, with what the detail says of it."""
    if not r["errors"]:
        return "0"
    det = r.get("detail") or {}
    parts = [f"{k} {det[k]:.0f}" for k in ("lost", "bad") if det.get(k)]
    return f"{r['errors']}" + (f" ({', '.join(parts)})" if parts else "")


def tango(d):
    rs = suite(d, "tango")
    if not rs:
        return []
    sw = d.get("software", {})
    out = [f"rill beside rust-tango {sw.get('rust_tango', '?')} ({sw.get('rustc', '?')}): two "
           f"threads of one process (`rill-proc`: rill between two processes, which rust-tango "
           f"cannot do); throughput counts messages that arrived intact.", ""]
    what = {"readme": "README method, unpinned", "pinned": "pinned, 1 s runs"}
    out += table(["method", "size", "contender", "messages/s", "errors"],
                 [[what[r["method"]], f"{r['size']} B", r["name"], rate(r["msgs_per_s"]),
                   errs(r)] for r in rs if r["kind"] == "throughput"])
    readme = {r["name"]: r for r in rs if r["kind"] == "rtt" and r["method"] == "readme"}
    out += table(["8-byte round trip", "p50 (pinned)", "p99", "p99.9",
                  "README method, per trip"],
                 [[r["name"], ns(r["p50_ns"]), ns(r["p99_ns"]), ns(r["p999_ns"]),
                   ns(readme[r["name"]]["p50_ns"]) if r["name"] in readme else "-"]
                  for r in rs if r["kind"] == "rtt" and r["method"] == "pinned"])
    return out + bars(d, "tango")


def scale(d):
    rs = suite(d, "scale")
    if not rs:
        return []
    out = [f"Scaling ({rs[0]['size']}-byte messages, medians of {d['runs']} runs, every payload "
           f"checked): the producer has one CPU to itself and the consumers share the others "
           f"(on 2 CPUs, all of them the second), each spinning 20 µs, then parking.", ""]
    fan = {(r["consumers"], r["lossy"]): r for r in rs if r["name"] == "rill-fanout"}
    ks = sorted({k for k, _ in fan})
    if fan:
        def cells(lossy, f):
            return [f(fan[(k, lossy)]) if (k, lossy) in fan else "-" for k in ks]
        det = lambda r, k: (r.get("detail") or {}).get(k)  # noqa: E731
        out += table(["consumers of one channel"] + [str(k) for k in ks], [
            ["reliable: messages/s, each to every consumer"] + cells(False, lambda r: rate(r["msgs_per_s"])),
            ["reliable: deliveries/s (all consumers)"] + cells(False, lambda r: rate(det(r, "deliveries_per_s"))),
            ["lossy: messages/s published"] + cells(True, lambda r: rate(r["msgs_per_s"])),
            ["lossy: deliveries/s (all consumers)"] + cells(True, lambda r: rate(det(r, "deliveries_per_s"))),
            ["lossy: share each consumer got"] + cells(True, lambda r: f"{det(r, 'delivered_pct'):.3g} %"
                                                       if det(r, "delivered_pct") is not None else "-"),
            ["errors"] + [sum(fan[(k, lo)]["errors"] for lo in (False, True) if (k, lo) in fan)
                          for k in ks]])
    wa = sorted((r for r in rs if r["name"] == "rill-waitany"), key=lambda r: r["channels"])
    if wa:
        out += table(["channels in one `rill_wait_any`"] + [str(r["channels"]) for r in wa], [
            ["messages/s received"] + [rate(r["msgs_per_s"]) for r in wa],
            ["messages per return of rill_wait_any"] + [num((r.get("detail") or {}).get("msgs_per_wait"))
                                                        for r in wa],
            ["errors"] + [r["errors"] for r in wa]])
    return out


LANG = {"c": "C", "go": "Go", "python": "Python"}


def lang(d):
    rs = suite(d, "lang")
    if not rs:
        return []
    sw = {k: v for k, v in d.get("software", {}).items() if k in ("go", "python")}
    out = [f"The bindings beside C ({', '.join(f'{k} {v}' for k, v in sw.items()) or 'C only'}): "
           f"a reliable channel between a producer and a consumer process, each in one "
           f"language, pinned; medians of {d['runs']} runs, every payload checked.", ""]
    tp = [r for r in rs if r["kind"] == "throughput"]
    langs = [x for x in LANG if any(x in (r["producer"], r["consumer"]) for r in tp)]
    for size in sorted({r["size"] for r in tp}):
        by = {(r["producer"], r["consumer"]): r for r in tp if r["size"] == size}
        out += table([f"{size} B, messages/s: producer ↓ consumer →"]
                     + [LANG[c] for c in langs],
                     [[LANG[p]] + [rate(by[(p, c)]["msgs_per_s"]) if (p, c) in by else "-"
                                   for c in langs] for p in langs])
    rtt = [r for r in rs if r["kind"] == "rtt"]
    if rtt:
        out += table([f"{rtt[0]['size']}-byte busy round trip", "p50", "p99", "p99.9"],
                     [[f"{LANG[r['producer']]} ↔ {LANG[r['consumer']]}", ns(r["p50_ns"]),
                       ns(r["p99_ns"]), ns(r["p999_ns"])] for r in rtt])
    out += bars(d, "lang")
    return out


def pybind(d):
    rs = suite(d, "python")
    if not rs:
        return []
    names = {"rill": "rill", "rill-batch": "rill, `send_many`/`recv_many` of 64",
             "zmq": "pyzmq PUSH/PULL, `ipc://`", "mpqueue": "`multiprocessing.Queue`",
             "shmlock": "`multiprocessing.shared_memory` ring + `Lock`"}
    sw = d.get("software", {})
    out = [f"Python binding beside C and Python's own (Python {sw.get('python', '?')}, "
           f"pyzmq {sw.get('pyzmq', '?')}, medians of {d['runs']} runs, pinned, every byte "
           f"checked).", ""]
    rill = [r for r in suite(d, "lang") if r["kind"] == "throughput"
            and ("python" in (r["producer"], r["consumer"]) or r["producer"] == r["consumer"] == "c")]
    rill.sort(key=lambda r: (r["producer"] != "python", r["consumer"] != "python"))
    sizes = sorted({r["size"] for r in rs + rill})
    keys = list(dict.fromkeys((r["name"], r["producer"], r["consumer"]) for r in rill + rs))
    rows = []
    for k in keys:
        by = {r["size"]: r for r in rill + rs if (r["name"], r["producer"], r["consumer"]) == k}
        rows.append([names.get(k[0], k[0]), f"{LANG[k[1]]} → {LANG[k[2]]}"]
                    + [rate(by[s]["msgs_per_s"]) if s in by else "-" for s in sizes])
    out += table(["messages/s", "producer → consumer"] + [f"{s} B" for s in sizes], rows)
    out += bars(d, "python")
    return out


def rpc(d):
    cells = suite(d, "rpc")
    if not cells:
        return []
    out = [f"Request/response (64-byte echo, the median of {max(c['runs'] for c in cells)} "
           f"runs per cell and its percentiles; host and server pinned).", ""]
    inflight = sorted({c["inflight"] for c in cells})
    keys = list(dict.fromkeys((c["name"], c["consumer"], c["workers"]) for c in cells))
    rows = []
    for k in keys:
        by = {c["inflight"]: c for c in cells if (c["name"], c["consumer"], c["workers"]) == k}
        name = f"rill, {LANG[k[1]]} guest, `-w {k[2]}`" \
            if k[0] == "rill" else {"unix": "UNIX socket",
                                    "zeromq": "ZeroMQ DEALER/ROUTER"}.get(k[0], k[0])
        rows.append([name] + [f"{rate(by[i]['msgs_per_s'])} ({ns(by[i]['p50_ns'])})"
                              if i in by else "-" for i in inflight])
    out += table(["requests/s (p50 round trip)"] + [f"{i} in flight" for i in inflight], rows)
    return out + bars(d, "rpc")


BRIDGE = {
    "nats-direct": "NATS, direct clients (nats.c publisher → nats-server → subscriber)",
    "nats-asap": "NATS, direct clients, the publisher writing each message at once (`SendAsap`)",
    "bridge-core": "rill → `rill bridge out` → NATS → `rill bridge in` → rill, core NATS",
    "bridge-jetstream": "the same through JetStream (`-j`, one server, replicas 1)",
    "zmq-tcp": "ZeroMQ PUSH/PULL, `tcp://`",
}


def bridge(d):
    rs = suite(d, "bridge")
    if not rs:
        return []
    sw = d.get("software", {})
    out = [f"The NATS bridge (issue 24): two hosts that are network namespaces of this machine, "
           f"the sender's on one CPU, the receiver's and nats-server on the other "
           f"(nats-server {sw.get('nats_server', '?')}, nats.c {sw.get('nats_c', '?')}); medians of "
           f"{d['runs']} runs, every payload checked; core NATS delivers at most once, so what it "
           f"lost is shown apart from the errors.", ""]
    names = [n for n in BRIDGE if any(r["name"] == n for r in rs)]
    names += [n for n in dict.fromkeys(r["name"] for r in rs) if n not in names]
    tp = [r for r in rs if r["kind"] == "throughput"]
    sizes = sorted({r["size"] for r in rs})
    det = lambda r, k: (r.get("detail") or {}).get(k) or 0  # noqa: E731
    if tp:
        rows = []
        for n in names:
            by = {r["size"]: r for r in tp if r["name"] == n}
            if by:
                rows.append([BRIDGE.get(n, n)] + [rate(by[z]["msgs_per_s"]) if z in by else "-"
                                                  for z in sizes]
                            + [f"{sum(det(r, 'lost') for r in by.values()):.0f}",
                               sum(r["errors"] for r in by.values())])
        out += table(["messages/s"] + [f"{z} B" for z in sizes] + ["lost", "errors"], rows)
    lat = [r for r in rs if r["kind"] == "latency"]
    if lat:
        hz = lat[0]["rate_hz"]
        rows = []
        for n in names:
            by = {r["size"]: r for r in lat if r["name"] == n}
            if by:
                rows.append([BRIDGE.get(n, n)] + [f"{ns(by[z]['p50_ns'])} / {ns(by[z]['p99_ns'])}"
                                                  if z in by else "-" for z in sizes]
                            + [sum(r["errors"] for r in by.values())])
        out += table([f"one-way latency, {hz:,} messages/s, p50 / p99"]
                     + [f"{z} B" for z in sizes] + ["errors"], rows)
    return out + bars(d, "bridge")


def main():
    where = sys.argv[1] if len(sys.argv) > 1 else os.path.join("bench", "results")
    d = load_all(where) if os.path.isdir(where) else None
    if not d:
        print(f"summary: no results in {where} (run make bench first)")
        return 1
    out = ["# Benchmark results", "",
           "Written by `bench/summary.py` from the JSON beside it; the command is `make bench`.",
           ""]
    out += core(d) + scale(d) + lang(d) + pybind(d) + rpc(d) + tango(d) + bridge(d)
    skipped = d.get("skipped") or {}
    if skipped:
        out += ["Left out of this run:", ""] + [f"- {k}: {v}" for k, v in skipped.items()] + [""]
    text = "\n".join(out)
    with open(os.path.join(where, "summary.md"), "w") as f:
        f.write(text)
    print(text)
    print(f"summary: summary.md in {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
