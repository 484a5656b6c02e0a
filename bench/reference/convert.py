#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 OR MIT
"""One-off: the reference results of the four drivers (latest.json, go.json,
python.json, rpc.json, tango.json as they were at BASE) in rill_bench's one
shape (format 2), into bench/reference/latest.json.  No run is made: every
number is the old file's.  Removed once the reference is measured again."""
import json
import statistics
import subprocess
import sys

BASE = "b15233a"
ROW = dict(suite="core", name=None, kind=None, method=None, producer=None, consumer=None,
           size=None, rate_hz=None, consumers=None, channels=None, inflight=None, workers=None,
           lossy=False, msgs_per_s=None, gib_per_s=None, p50_ns=None, p99_ns=None, p999_ns=None,
           max_ns=None, errors=0, peer=False, runs=0, warmup=None, spread=None,
           msgs_per_run=None, run_msgs_per_s=None, samples=None, run_p50_ns=None, cpu_pct=None,
           run_cpu_pct=None, seconds=None, probe_ns=None, run_probe_ns=[], detail=None,
           failed=False, failure=None)


def old(name):
    return json.loads(subprocess.check_output(["git", "show", f"{BASE}:bench/reference/{name}"]))


def row(**kw):
    r = dict(ROW)
    for k in kw:
        assert k in r, k
    r.update(kw)
    return r


def spread(v):
    m = statistics.median(v)
    return round((max(v) - min(v)) / m, 4) if m else None


def main():
    d = old("latest.json")
    out = {"format": 2}
    for k, v in d.items():
        if k not in ("results", "ratios", "ratios_paired", "bars"):
            out[k] = v
    out["software"], out["skipped"] = {}, {}
    rows = [row(**{**r, "suite": "core", "producer": "c", "consumer": "c"}) for r in d["results"]]
    ratios, paired = dict(d["ratios"]), dict(d["ratios_paired"])
    bars = [{"suite": "core", **b, "note": None} for b in d["bars"]]

    # go.json (rill-gobench): the lang suite, C and Go
    g = old("go.json")
    out["software"]["go"] = g["go"]
    for r in g["rows"]:
        tp = r["kind"] == "tput"
        rows.append(row(suite="lang", name="rill", kind="throughput" if tp else "rtt",
                        producer=r["producer"], consumer=r["consumer"], size=r["size"],
                        msgs_per_s=round(r["median"]) if tp else None,
                        gib_per_s=round(r["median"] * r["size"] / 2**30, 4) if tp else None,
                        p50_ns=None if tp else r["median"],
                        p99_ns=None if tp else statistics.median(r["p99_ns"]),
                        errors=r["errors"], runs=len(r["runs"]), spread=spread(r["runs"]),
                        run_msgs_per_s=[round(x) for x in r["runs"]] if tp else None,
                        run_p50_ns=None if tp else r["runs"]))
    names = {"go_consumer": ("c", "go"), "go_producer": ("go", "c"), "go_go": ("go", "go")}
    for k, v in g["ratios"].items():
        kk, size = k.rsplit("_", 1)
        if kk in names:
            p, c = names[kk]
            label = f"lang {p}->{c} {size}B / c->c {size}B msgs/s"
        else:
            label = "lang go<->go RTT p50 / c<->c RTT p50"
        ratios[label], paired[label] = v, g["ratios_paired"][k]
        if k == "go_consumer_64":
            bars.append({"suite": "lang", "name": label, "value": v, "paired": paired[label],
                         "op": ">=", "threshold": 0.5, "met": v >= 0.5, "note": None})

    # python.json (pybench.py): rill with a Python side in lang, Python's own
    # transports in python; its C -> C is the same row as go.json's
    p = old("python.json")
    out["software"].update(python=p["python"], pyzmq=p["pyzmq"], libzmq_py=p["libzmq"])
    side = {"py": "python", "c": "c"}
    for r in p["rows"]:
        if r["transport"] == "rill" and r["producer"] == r["consumer"] == "c":
            continue
        lang = r["transport"] == "rill"
        rows.append(row(suite="lang" if lang else "python", name=r["transport"],
                        kind="throughput", producer=side[r["producer"]],
                        consumer=side[r["consumer"]], size=r["size"],
                        msgs_per_s=round(r["median"]),
                        gib_per_s=round(r["median"] * r["size"] / 2**30, 4),
                        errors=r["errors"], runs=len(r["runs"]), spread=spread(r["runs"]),
                        run_msgs_per_s=[round(x) for x in r["runs"]]))
    for b, label in zip(p["bars"], ("python rill 64B / pyzmq 64B msgs/s",
                                    "python rill 64B / multiprocessing.Queue 64B msgs/s")):
        ratios[label], paired[label] = b["value"], b["paired"]
        bars.append({"suite": "python", "name": label, "value": b["value"],
                     "paired": b["paired"], "op": ">=", "threshold": b["threshold"],
                     "met": b["value"] >= b["threshold"], "note": None})

    # rpc.json (rill_rpcbench): the rpc suite, one row a cell
    q = old("rpc.json")
    for c in q["cells"]:
        rows.append(row(suite="rpc", name=c["transport"], kind="rpc", producer="c",
                        consumer=c["guest"], size=q["payload_bytes"], inflight=c["inflight"],
                        workers=c["workers"], msgs_per_s=c["req_per_s"], p50_ns=c["p50_ns"],
                        p99_ns=c["p99_ns"], p999_ns=c["p999_ns"], samples=c["samples"],
                        errors=c["errors"], runs=c["reps"], spread=spread(c["run_req_per_s"]),
                        run_msgs_per_s=c["run_req_per_s"], failed=c["failed"],
                        failure=c["failure"]))
    for b in q["bars"]:
        label = "rpc " + b["name"]
        ratios[label], paired[label] = b["value"], b["paired"]
        bars.append({"suite": "rpc", "name": label, "value": b["value"], "paired": b["paired"],
                     "op": ">=", "threshold": b["threshold"], "met": b["met"], "note": None})

    # tango.json (rill-tangobench): the tango suite; a README-method row's
    # runs are its 200 samples, as that program measured them
    t = old("tango.json")
    out["software"].update(rustc=t["software"]["rustc"], rust_tango=t["software"]["rust_tango"])

    def terr(e):
        return dict(lost=e["lost"], bad=e["bad"] + e["corrupt"], overruns=e["overruns"])
    for r in t["readme"]["rows"]:
        tp = r["test"] == "throughput"
        e = r["errors"]
        rows.append(row(suite="tango", name=r["name"], method="readme",
                        kind="throughput" if tp else "rtt", producer="rust", consumer="rust",
                        size=r["size"], msgs_per_s=round(r["msgs_per_s"]) if tp else None,
                        gib_per_s=round(r["gib_per_s"], 4) if tp else None,
                        p50_ns=None if tp else round(r["rtt_ns"]), errors=e["total"],
                        peer=r["name"] != "rill", runs=r["samples"],
                        run_msgs_per_s=r["run_msgs_per_s"] if tp else None,
                        samples=None if tp else r["samples"],
                        detail={**terr(e), "iter_ns": r["iter_ns"],
                                **({"xfer_msgs_per_s": r["xfer_msgs_per_s"]} if tp else {})},
                        failed=bool(r["failed"]), failure=r["failed"]))
    for r in t["pinned"]["rows"] + t["pinned"]["rtt_rows"]:
        tp = r["test"] == "throughput"
        e = r["errors"]
        rows.append(row(suite="tango", name=r["name"], method="pinned",
                        kind="throughput" if tp else "rtt", producer="rust", consumer="rust",
                        size=r["size"], msgs_per_s=round(r["msgs_per_s"]) if tp else None,
                        gib_per_s=round(r["gib_per_s"], 4) if tp else None,
                        p50_ns=None if tp else r["rtt_ns"]["p50"],
                        p99_ns=None if tp else r["rtt_ns"]["p99"],
                        p999_ns=None if tp else r["rtt_ns"]["p999"],
                        max_ns=None if tp else r["rtt_ns"]["max"],
                        samples=None if tp else r["samples"], errors=e["total"],
                        peer=r["name"] != "rill", runs=r["runs"],
                        spread=round(r["spread"], 4) if tp else spread(r["run_p50_ns"]),
                        run_msgs_per_s=r["run_msgs_per_s"] if tp else None,
                        run_p50_ns=None if tp else r["run_p50_ns"],
                        probe_ns=statistics.median(r["run_probe_ns"]),
                        run_probe_ns=r["run_probe_ns"], detail=terr(e),
                        failed=bool(r["failed"]), failure=r["failed"]))
    for b in t["bar"]:
        label = (f"tango readme {b['size']}B: rill / rust-tango msgs/s" if b["method"] == "readme"
                 else f"tango pinned {b['size']}B: rill / the faster rust-tango msgs/s")
        ratios[label], paired[label] = b["ratio"], None
        bars.append({"suite": "tango", "name": label, "value": b["ratio"], "paired": None,
                     "op": ">=", "threshold": b["required"], "met": b["met"],
                     "note": b["note"] or None})

    out["results"], out["ratios"], out["ratios_paired"], out["bars"] = rows, ratios, paired, bars
    with open("bench/reference/latest.json", "w") as f:  # a row a line, as rill_bench
        f.write("{\n")
        for i, (k, v) in enumerate(out.items()):
            f.write(f"  {json.dumps(k)}: ")
            if k == "results":
                f.write("[\n" + ",\n".join("    " + json.dumps(r, ensure_ascii=False) for r in v)
                        + "\n  ]")
            else:
                f.write(json.dumps(v, ensure_ascii=False, indent=4 if k in ("ratios", "ratios_paired", "bars") else None))
            f.write(",\n" if i + 1 < len(out) else "\n}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
