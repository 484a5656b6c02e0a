#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 OR MIT
"""Combines the rounds of bench/windows.sh: rill_bench on Linux, on Linux
without the heavy barrier (--no-membarrier) and on Windows under Wine, one
run per row per round.  Writes the JSON and prints the table.

  windows.py --rounds-dir DIR --out FILE [--cpus A,B] [--wine VERSION] [--quick]

Throughput: the median over rounds of each configuration's msgs/s, and the
Windows/Linux ratio both as a ratio of those medians and "paired" (the
median over rounds of that round's Windows / that round's Linux: the runs
of one round ran one after the other).  Round trips: the median over
rounds of each run's p50 and p99.  Exit status 1 when a row failed or had
errors in any round.  Standard library only.
"""
import argparse
import glob
import json
import os
import re
import statistics
import sys
import time

CONFIGS = ("linux", "linux-nmb", "windows")
LABEL = {
    "linux": "Linux",
    "linux-nmb": "Linux, no membarrier (fence per publish)",
    "windows": "Windows under Wine",
}
BAR = 0.8  # issue 19: busy-poll throughput under Wine >= 0.8 x Linux


def load(rounds_dir):
    """{config: {round: json}}"""
    runs = {c: {} for c in CONFIGS}
    for f in sorted(glob.glob(os.path.join(rounds_dir, "round-*.json"))):
        m = re.match(r"round-(\d+)-(.+)\.json$", os.path.basename(f))
        if not m or m.group(2) not in runs:
            continue
        with open(f) as fh:
            runs[m.group(2)][int(m.group(1))] = json.load(fh)
    return runs


def med(v):
    v = [x for x in v if x is not None]
    return statistics.median(v) if v else None


def rows_of(runs):
    """{(name, kind, size): {config: {round: row}}}"""
    out = {}
    for c, by_round in runs.items():
        for r, doc in by_round.items():
            for row in doc["results"]:
                key = (row["name"], row["kind"], row["size"])
                out.setdefault(key, {}).setdefault(c, {})[r] = row
    return out


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds-dir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--cpus", default="0,1")
    ap.add_argument("--wine", default="unknown")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()

    runs = load(a.rounds_dir)
    rows = rows_of(runs)
    bad = []
    for key, per in rows.items():
        for c, by_round in per.items():
            for r, row in by_round.items():
                if row["failed"] or row["errors"]:
                    bad.append("%s %s %s round %d (%s): %s" % (
                        key[0], key[1], key[2], r, c,
                        row["failure"] or "%d errors" % row["errors"]))

    tput, rtt = [], []
    for (name, kind, size), per in sorted(rows.items()):
        entry = {"name": name, "kind": kind, "size": size}
        if kind == "throughput":
            for c in CONFIGS:
                vals = {r: row["msgs_per_s"] for r, row in per.get(c, {}).items()}
                entry[c] = {"msgs_per_s": med(vals.values()),
                            "rounds": [vals[r] for r in sorted(vals)]}
            lin, win = per.get("linux", {}), per.get("windows", {})
            paired = [ratio(win[r]["msgs_per_s"], lin[r]["msgs_per_s"])
                      for r in win if r in lin]
            entry["windows_over_linux"] = ratio(entry["windows"]["msgs_per_s"],
                                                entry["linux"]["msgs_per_s"])
            entry["windows_over_linux_paired"] = med(paired)
            # the fence's cost, and Wine's beside a Linux build that fences too
            entry["nmb_over_linux"] = ratio(entry["linux-nmb"]["msgs_per_s"],
                                            entry["linux"]["msgs_per_s"])
            entry["windows_over_nmb"] = ratio(entry["windows"]["msgs_per_s"],
                                              entry["linux-nmb"]["msgs_per_s"])
            tput.append(entry)
        else:
            for c in CONFIGS:
                by = per.get(c, {})
                if not by:
                    continue
                entry[c] = {"p50_ns": med(row["p50_ns"] for row in by.values()),
                            "p99_ns": med(row["p99_ns"] for row in by.values()),
                            "run_p50_ns": [by[r]["p50_ns"] for r in sorted(by)],
                            "run_p99_ns": [by[r]["p99_ns"] for r in sorted(by)]}
            rtt.append(entry)

    rill_tput = [e for e in tput if e["name"].startswith("rill-")]
    worst = min((e["windows_over_linux"] for e in rill_tput
                 if e["windows_over_linux"] is not None), default=None)
    worst_p = min((e["windows_over_linux_paired"] for e in rill_tput
                   if e["windows_over_linux_paired"] is not None), default=None)
    any_doc = next((d for c in CONFIGS for d in runs[c].values()), {})
    doc = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpu_model": any_doc.get("cpu_model"),
        "cores": any_doc.get("cores"),
        "cpus": [int(x) for x in a.cpus.split(",")],
        "quick": a.quick,
        "wine": a.wine,
        "rounds": max((len(runs[c]) for c in CONFIGS), default=0),
        "configs": LABEL,
        "throughput": tput,
        "rtt": rtt,
        "bar": {"name": "rill busy-poll throughput, Windows under Wine / Linux "
                        "(worst of rill-copy, rill-zerocopy at 64 B and 1 KiB)",
                "value": worst, "paired": worst_p, "op": ">=", "threshold": BAR,
                "met": None if worst is None else worst >= BAR},
        "problems": bad,
    }
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out + ".tmp", "w") as fh:
        json.dump(doc, fh, indent=2)
        fh.write("\n")
    os.replace(a.out + ".tmp", a.out)

    print("\nbusy-poll throughput, M msgs/s (median of %d rounds)%s"
          % (doc["rounds"], ", QUICK: smoke numbers only" if a.quick else ""))
    print("%-14s %5s %9s %9s %9s %8s %8s %8s %8s" % (
        "name", "size", "Linux", "Lnomemb", "Wine", "Win/Lin", "paired",
        "nomb/L", "Win/nomb"))
    for e in tput:
        m = lambda c: None if e[c]["msgs_per_s"] is None else e[c]["msgs_per_s"] / 1e6
        print("%-14s %5d %9s %9s %9s %8s %8s %8s %8s" % (
            e["name"], e["size"], fmt(m("linux"), ".2f"), fmt(m("linux-nmb"), ".2f"),
            fmt(m("windows"), ".2f"), fmt(e["windows_over_linux"], ".3f"),
            fmt(e["windows_over_linux_paired"], ".3f"),
            fmt(e["nmb_over_linux"], ".3f"), fmt(e["windows_over_nmb"], ".3f")))
    print("\nround trips, ns (median over rounds of each run's p50 / p99)")
    print("%-14s %-22s %-22s %-22s" % ("name", "Linux p50/p99",
                                      "Lnomemb p50/p99", "Wine p50/p99"))
    for e in rtt:
        cell = lambda c: ("-" if c not in e else "%s / %s" % (
            fmt(e[c]["p50_ns"], ".0f"), fmt(e[c]["p99_ns"], ".0f")))
        print("%-14s %-22s %-22s %-22s" % (e["name"], cell("linux"),
                                          cell("linux-nmb"), cell("windows")))
    b = doc["bar"]
    print("\nbar: %s >= %.1f: %s (paired %s): %s" % (
        "rill busy-poll throughput Wine/Linux, worst row", BAR, fmt(b["value"], ".3f"),
        fmt(b["paired"], ".3f"),
        "n/a" if b["met"] is None else "met" if b["met"] else "NOT met"))
    print("Lnomemb: the Linux build with membarrier refused (a fence after every "
          "publish; a Windows\nproducer fences only once a consumer that sleeps "
          "asks, PROTOCOL.md 3.7a): nomb/L is that\nfence's cost, Win/nomb Wine "
          "beside it.")
    if bad:
        print("\nproblems:\n  " + "\n  ".join(bad))
    print("results written to %s" % a.out)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
