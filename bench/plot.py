#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 OR MIT
"""Plots of the benchmark results (docs/benchmark.md), with matplotlib.

    bench/plot.py [DIR]        (default: bench/results)

Reads the JSON rill_bench wrote in DIR (summary.load_all) and writes, next
to it:

  throughput.png  messages/s and GiB/s against message size
                  (log scales), one line per transport and peer
  rtt.png         round-trip p50 / p99 / p99.9 per transport
  scale.png       messages/s against consumers of one channel (reliable and
                  lossy) and against channels in one rill_wait_any
  rpc.png         requests/s and p50 against calls in flight (the rpc rows)
  tango.png       rill beside rust-tango between two threads (and rill-proc,
                  rill between two processes), messages/s per method and
                  size, and the pinned ping-pong's p50 / p99 / p99.9

A row that showed errors (wrong or lost messages) is labelled with their
count.  Without matplotlib it says how to install it and exits 0, so that
`make bench` still gives its tables and JSON.
"""
import os
import sys

from summary import load, load_all, suite  # bench/summary.py, beside this file

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("plots: skipped, matplotlib is missing "
          "(apt-get install python3-matplotlib, or make bench-deps)")
    sys.exit(0)


def machine(d):
    cpu = d.get("cpu_model") or "?"
    cores = d.get("cores") or d.get("nproc") or "?"
    return f"{cpu}, {cores} CPUs, {d.get('date', '')}"


def ticks(ax, values):
    """Ticks at the measured points, written out (not as powers of 2)."""
    vs = sorted(set(values))
    ax.set_xticks(vs)
    ax.set_xticklabels([str(v) for v in vs])
    ax.minorticks_off()


def label(name, errors):
    return f"{name} ({errors} errors)" if errors else name


def save(fig, out):
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def throughput(d, out):
    rows = [r for r in suite(d, "core") if r["kind"] == "throughput"]
    names = list(dict.fromkeys(r["name"] for r in rows))
    fig, (a, b) = plt.subplots(1, 2, figsize=(13, 5))
    for name in names:
        rs = sorted((r for r in rows if r["name"] == name), key=lambda r: r["size"])
        errors = sum(r["errors"] for r in rs)
        sizes = [r["size"] for r in rs]
        a.plot(sizes, [r["msgs_per_s"] for r in rs], marker="o", label=label(name, errors))
        b.plot(sizes, [r["gib_per_s"] for r in rs], marker="o", label=label(name, errors))
    for ax, what in ((a, "messages/s"), (b, "GiB/s")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ticks(ax, [r["size"] for r in rows])
        ax.set_xlabel("message size (bytes)")
        ax.set_ylabel(what)
        ax.grid(True, which="both", alpha=0.3)
    a.legend(fontsize=8)
    fig.suptitle(f"Throughput, one producer and one consumer process, pinned "
                 f"(median of {d.get('runs', '?')} runs)\n{machine(d)}", fontsize=10)
    save(fig, out)


def rtt(d, out):
    rows = [r for r in suite(d, "core") if r["kind"] == "rtt"]
    if not rows:
        return False
    fig, ax = plt.subplots(figsize=(13, 5))
    w = 0.27
    xs = range(len(rows))
    for k, (key, what) in enumerate((("p50_ns", "p50"), ("p99_ns", "p99"),
                                     ("p999_ns", "p99.9"))):
        ax.bar([x + (k - 1) * w for x in xs], [r[key] for r in rows], w, label=what)
    ax.set_xticks(list(xs))
    ax.set_xticklabels([label(r["name"], r["errors"]) for r in rows], rotation=20,
                       ha="right", fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("round trip (ns)")
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend()
    ax.set_title(f"Round trip of an {rows[0]['size']}-byte message, two pinned processes\n"
                 f"{machine(d)}", fontsize=10)
    save(fig, out)
    return True


def rpc(d, out):
    cells = suite(d, "rpc")
    keys = list(dict.fromkeys((c["name"], c["consumer"], c["workers"]) for c in cells))
    fig, (a, b) = plt.subplots(1, 2, figsize=(13, 5))
    for t, g, w in keys:
        cs = sorted((c for c in cells if (c["name"], c["consumer"], c["workers"]) == (t, g, w)),
                    key=lambda c: c["inflight"])
        name = f"{t}, {g} guest -w {w}" if t == "rill" else t
        errors = sum(c["errors"] for c in cs)
        inflight = [c["inflight"] for c in cs]
        a.plot(inflight, [c["msgs_per_s"] for c in cs], marker="o", label=label(name, errors))
        b.plot(inflight, [c["p50_ns"] for c in cs], marker="o", label=label(name, errors))
    for ax, what in ((a, "requests/s"), (b, "round trip p50 (ns)")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ticks(ax, [c["inflight"] for c in cells])
        ax.set_xlabel("calls in flight")
        ax.set_ylabel(what)
        ax.grid(True, which="both", alpha=0.3)
    a.legend(fontsize=7)
    fig.suptitle(f"Request/response, 64-byte echo, host and guest pinned\n{machine(d)}",
                 fontsize=10)
    save(fig, out)


def scale(d, out):
    rs = suite(d, "scale")
    fig, (a, b) = plt.subplots(1, 2, figsize=(13, 5))
    det = lambda r, k: (r.get("detail") or {}).get(k)  # noqa: E731
    for lossy, what in ((False, "reliable"), (True, "lossy")):
        fan = sorted((r for r in rs if r["name"] == "rill-fanout" and r["lossy"] == lossy),
                     key=lambda r: r["consumers"])
        if not fan:
            continue
        ks = [r["consumers"] for r in fan]
        errors = sum(r["errors"] for r in fan)
        a.plot(ks, [r["msgs_per_s"] for r in fan], marker="o",
               label=label(f"{what}: messages/s {'published' if lossy else '(to every consumer)'}",
                           errors))
        a.plot(ks, [det(r, "deliveries_per_s") for r in fan], marker="s", linestyle="--",
               label=f"{what}: deliveries/s, all consumers")
    a.set_xlabel("consumers of one channel")
    a.set_xticks([1, 2, 4])
    wa = sorted((r for r in rs if r["name"] == "rill-waitany"), key=lambda r: r["channels"])
    if wa:
        b.plot([r["channels"] for r in wa], [r["msgs_per_s"] for r in wa], marker="o",
               label=label("one consumer, rill_wait_any", sum(r["errors"] for r in wa)))
        b.set_xscale("log", base=2)
        ticks(b, [r["channels"] for r in wa])
    b.set_xlabel("channels waited on at once")
    for ax in (a, b):
        ax.set_ylabel("messages/s")
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"Scaling, {rs[0]['size']}-byte messages: the producer on one CPU, the "
                 f"consumers sharing the others (median of {d.get('runs', '?')} runs)\n{machine(d)}",
                 fontsize=10)
    save(fig, out)


def tango(d, out):
    rs = suite(d, "tango")
    groups = [r for r in rs if r["kind"] == "throughput"]
    cells = list(dict.fromkeys((r["method"], r["size"]) for r in groups))
    names = list(dict.fromkeys(r["name"] for r in groups))
    fig, (a, b) = plt.subplots(1, 2, figsize=(13, 5), gridspec_kw={"width_ratios": [3, 2]})
    w = 0.8 / len(names)
    for k, name in enumerate(names):
        xs, ys, errs = [], [], []
        for x, cell in enumerate(cells):
            for r in groups:
                if (r["method"], r["size"]) == cell and r["name"] == name:
                    xs.append(x + (k - (len(names) - 1) / 2) * w)
                    ys.append(r["msgs_per_s"])
                    errs.append(r["errors"])
        bars = a.bar(xs, ys, w, label=name)
        for bar, e in zip(bars, errs):
            if e:
                a.annotate(f"{e}\nerrors", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                           ha="center", va="bottom", fontsize=7)
    a.set_xticks(range(len(cells)))
    a.set_xticklabels([f"{'README method' if meth == 'readme' else 'pinned, 1 s'}\n{size} B"
                       for meth, size in cells], fontsize=8)
    a.set_ylim(0, a.get_ylim()[1] * 1.12)
    a.set_ylabel("messages/s (intact)")
    a.grid(True, axis="y", which="both", alpha=0.3)
    a.legend(fontsize=8)
    rows = [r for r in rs if r["kind"] == "rtt" and r["method"] == "pinned"]
    xs = range(len(rows))
    for k, (key, what) in enumerate((("p50_ns", "p50"), ("p99_ns", "p99"), ("p999_ns", "p99.9"))):
        b.bar([x + (k - 1) * 0.27 for x in xs], [r[key] for r in rows], 0.27, label=what)
    b.set_xticks(list(xs))
    b.set_xticklabels([label(r["name"], r["errors"]) for r in rows], fontsize=8)
    b.set_ylabel("8-byte round trip, pinned (ns)")
    b.grid(True, axis="y", alpha=0.3)
    b.legend(fontsize=8)
    fig.suptitle(f"rill beside rust-tango {d.get('software', {}).get('rust_tango', '')}, "
                 f"two threads of one process (rill-proc: two processes)\n{machine(d)}",
                 fontsize=10)
    save(fig, out)


def main():
    where = sys.argv[1] if len(sys.argv) > 1 else os.path.join("bench", "results")
    wrote = []
    d = load_all(where) if os.path.isdir(where) else None
    if d and suite(d, "core"):
        throughput(d, os.path.join(where, "throughput.png"))
        wrote.append("throughput.png")
        if rtt(d, os.path.join(where, "rtt.png")):
            wrote.append("rtt.png")
    if d and suite(d, "scale"):
        scale(d, os.path.join(where, "scale.png"))
        wrote.append("scale.png")
    if d and suite(d, "rpc"):
        rpc(d, os.path.join(where, "rpc.png"))
        wrote.append("rpc.png")
    if d and suite(d, "tango"):
        tango(d, os.path.join(where, "tango.png"))
        wrote.append("tango.png")
    if not wrote:
        print(f"plots: no results in {where} (run make bench first)")
        return 1
    print(f"plots: {', '.join(wrote)} in {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
