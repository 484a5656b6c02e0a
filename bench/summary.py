#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 OR MIT
"""The benchmark's tables in Markdown, from the JSON results of one run.

    bench/summary.py [DIR]        (default: bench/results)

Reads what `make bench` wrote in DIR (latest.json from rill_bench, and
tango.json, go.json, python.json and rpc.json where they are there) and writes
DIR/summary.md: the machine, the command, every transport and peer at every
size, the round trips, the bars with their values, and rill beside
rust-tango, the Go binding and request/response.  The tables of
docs/benchmark.md ("Results on this machine") are this file's; `make bench` writes it after the
plots.  Needs only the standard library.
"""
import json
import os
import sys

ORDER = ["rill-copy", "rill-zerocopy", "rill-batch", "rill-zcbatch", "rill-alone", "ring-batch", "ring", "pipe", "unix", "zmq-pushpull", "zmq-pair",
         "nng-pushpull", "nng-pair", "iceoryx"]
NAMES = {
    "rill-copy": "rill, copying (`rill_send`/`rill_recv`)",
    "rill-zerocopy": "rill, zero-copy (`reserve`/`commit`/`poll`)",
    "rill-batch": "rill, batches copied (`rill_send_many`/`rill_poll_many`, payload copied out)",
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
    return "✔" if met else "✘"


def core(d):
    rs = [r for r in d["results"] if not r["failed"]]
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
    if d.get("bars"):
        out += table(["bar", "of medians", "paired", "required", ""],
                     [[b["name"], num(b["value"]), num(b["paired"]),
                       f"{b['op']} {b['threshold']}", mark(b["met"])] for b in d["bars"]])
    return out


def errs(e):
    if not e["total"]:
        return "0"
    parts = [f"{k} {e[k]}" for k in ("lost", "bad", "corrupt") if e.get(k)]
    return f"{e['total']} ({', '.join(parts)})"


def tango(t):
    m = t["machine"]
    out = [f"`rill-tangobench` ({t['date']}, {m['online_cpus']} CPUs, {m['cpu_model']}; "
           f"rust-tango {t['software']['rust_tango']}, {t['software']['rustc']}). Two threads "
           f"of one process; throughput counts messages that arrived intact.", ""]
    rows = []
    for meth, what in (("readme", "README method, unpinned"), ("pinned", "pinned, 1 s runs")):
        for r in t[meth]["rows"]:
            if r["test"] != "throughput" or r["failed"]:
                continue
            rows.append([what, f"{r['size']} B", r["name"], rate(r["msgs_per_s"]),
                         errs(r["errors"])])
    out += table(["method", "size", "contender", "messages/s", "errors"], rows)
    pp = [r for r in t["pinned"]["rtt_rows"] if not r["failed"]]
    pp_readme = {r["name"]: r for r in t["readme"]["rows"] if r["test"] == "ping-pong"}
    out += table(["8-byte round trip", "p50 (pinned)", "p99", "p99.9",
                  "README method, per trip"],
                 [[r["name"], ns(r["rtt_ns"]["p50"]), ns(r["rtt_ns"]["p99"]),
                   ns(r["rtt_ns"]["p999"]),
                   ns(pp_readme[r["name"]]["rtt_ns"]) if r["name"] in pp_readme else "-"]
                  for r in pp])
    out += table(["bar: rill ≥ 2× rust-tango", "rill", "rust-tango", "ratio", "", "note"],
                 [[f"{b['method']}, {b['size']} B", rate(b["rill_msgs_per_s"]),
                   rate(b["against_msgs_per_s"]), f"{b['ratio']:.2f}×", mark(b["met"]),
                   b.get("note", "")] for b in t["bar"]])
    return out


def gobind(g):
    out = [f"Go binding beside C ({g['when']}, {g['go']}, {g['runs']} runs, pinned).", ""]
    tp = [r for r in g["rows"] if r["kind"] == "tput"]
    pairs = list(dict.fromkeys((r["producer"], r["consumer"]) for r in tp))
    sizes = sorted({r["size"] for r in tp})
    rows = []
    for s in sizes:
        by = {(r["producer"], r["consumer"]): r for r in tp if r["size"] == s}
        rows.append([f"{s} B"] + [rate(by[p]["median"]) if p in by else "-" for p in pairs])
    out += table(["messages/s"] + [f"{p} → {c}".replace("c", "C").replace("go", "Go")
                                   for p, c in pairs], rows)
    rtt = [r for r in g["rows"] if r["kind"] == "rtt"]
    out += table(["64-byte busy round trip", "p50"],
                 [[f"{r['producer']} ↔ {r['consumer']}".replace("c", "C").replace("go", "Go"),
                   ns(r["median"])] for r in rtt])
    return out


def pybind(p):
    out = [f"Python binding beside C and Python's own ({p['when']}, Python {p['python']}, "
           f"pyzmq {p['pyzmq']}, medians of {p['rounds']} rounds, pinned, every byte checked).",
           ""]
    names = {"rill": "rill", "rill-batch": f"rill, `send_many`/`recv_many` of {p['batch']}",
             "zmq": "pyzmq PUSH/PULL, `ipc://`", "mpqueue": "`multiprocessing.Queue`",
             "shmlock": "`multiprocessing.shared_memory` ring + `Lock`"}
    side = {"py": "Python", "c": "C"}
    sizes = sorted({r["size"] for r in p["rows"]})
    keys = list(dict.fromkeys((r["transport"], r["producer"], r["consumer"]) for r in p["rows"]))
    rows = []
    for k in keys:
        by = {r["size"]: r for r in p["rows"] if (r["transport"], r["producer"], r["consumer"]) == k}
        rows.append([names.get(k[0], k[0]), f"{side[k[1]]} → {side[k[2]]}"]
                    + [rate(by[s]["median"]) if s in by else "-" for s in sizes])
    out += table(["messages/s", "producer → consumer"] + [f"{s} B" for s in sizes], rows)
    out += table(["bar", "value", "paired", "required", ""],
                 [[b["name"], f"{b['value']:.2f}×", f"{b['paired']:.2f}×", f"≥ {b['threshold']}×",
                   mark(b["met"])] for b in p["bars"]])
    return out


def rpc(p):
    out = [f"Request/response (`rill_rpcbench`, {p['date']}, 64-byte echo, medians of "
           f"{p['reps']} repetitions of {p['run_s']} s).", ""]
    cells = [c for c in p["cells"] if not c.get("failed")]
    inflight = sorted({c["inflight"] for c in cells})
    keys = list(dict.fromkeys((c["transport"], c["guest"], c["workers"]) for c in cells))
    rows = []
    for k in keys:
        by = {c["inflight"]: c for c in cells
              if (c["transport"], c["guest"], c["workers"]) == k}
        name = f"rill, {'Go' if k[1] == 'go' else 'C'} guest, `-w {k[2]}`" \
            if k[0] == "rill" else {"unix": "UNIX socket",
                                    "zeromq": "ZeroMQ DEALER/ROUTER"}.get(k[0], k[0])
        rows.append([name] + [f"{rate(by[i]['req_per_s'])} ({ns(by[i]['p50_ns'])})"
                              if i in by else "-" for i in inflight])
    out += table(["requests/s (p50 round trip)"] + [f"{i} in flight" for i in inflight], rows)
    if p.get("bars"):
        out += table(["bar", "value", "paired", "required", ""],
                     [[b["name"], num(b["value"]), num(b["paired"]),
                       f"≥ {b['threshold']}", mark(b["met"])] for b in p["bars"]])
    return out


def main():
    where = sys.argv[1] if len(sys.argv) > 1 else os.path.join("bench", "results")
    d = load(os.path.join(where, "latest.json"))
    if not d:
        print(f"summary: no results in {where} (run make bench first)")
        return 1
    out = ["# Benchmark results", "",
           "Written by `bench/summary.py` from the JSON beside it; the command is `make bench`.",
           ""]
    out += core(d)
    for name, f in (("tango.json", tango), ("go.json", gobind), ("python.json", pybind),
                    ("rpc.json", rpc)):
        x = load(os.path.join(where, name))
        if x:
            out += f(x)
    with open(os.path.join(where, "summary.md"), "w") as f:
        f.write("\n".join(out))
    print(f"summary: summary.md in {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
