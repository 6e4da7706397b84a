#!/usr/bin/python3
"""liveprof.py - where the CPU goes, live: one bench-pipelined point
(pipeload against Redis over the testbed's veth) under one prestack
configuration, sampled by perf on every CPU while it runs, with each
prestack program's own run time from bpf_stats.

The testbed comes up as pipelined.py brings it up (loadpoint.fresh),
prestack attaches with --attach (nothing with --attach none), the cache is
warmed, and pipeload runs the point for --seconds; after a second of it,
`perf record -a -g -e cpu-clock -F FREQ` samples for --profile-seconds and
kernel.bpf_stats_enabled is on for the same window. Each sample's call
chain is read innermost first: a sample inside a BPF program is charged
to (the program perf names outermost, its innermost subprogram, the
kernel function it called, or "(self)"); frames of the paravirtual
interrupt-enable path are skipped, because cpu-clock samples taken with
interrupts off land there (a bucket lock's critical section shows up as
its helper). Every other sample is charged to its task's name.

Rows (results/liveprof.csv, or --out NAME; PS_RESULTS=DIR writes there):
  kind task       share of all samples per task name (comm)
  kind bpf        share of all samples, and of the BPF samples, per
                  (program, subprogram, callee); --top of them
  kind bpf_prog   per prestack program over the window: runs, ns per run
                  (bpf_stats), and its share of the samples
  kind load       pipeload's result for the whole run (ops/s, GETs,
                  wrong values), and the share of GETs answered before Redis
Every row carries the point, the attach arguments and the sample count.
Nothing is written when a step fails (exit 1): the previous CSV stays.

Holds /tmp/prestack-live.lock; everything started is stopped by PID and
the testbed is taken down on the way out (Ctrl-C too).

usage: liveprof.py [--point NAME] [--attach ARGS|none] [--seconds S]
                   [--profile-seconds S] [--freq HZ] [--top N] [--out NAME]
                   [--prestack PATH]
"""
import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "pylib"))
from prestack_lib import cpuacct, csvio, loadpoint, psstats  # noqa: E402
from prestack_lib.livelock import live_lock  # noqa: E402
from prestack_lib.loadpoint import LOAD, POINTS, PS, Lost  # noqa: E402
from prestack_lib.testbed import TGT  # noqa: E402

RES = os.environ.get("PS_RESULTS") or os.path.join(TOP, "results")
SKIP = ("pvm_", "__raw_callee_save", "native_irq_enable", "arch_local_irq")

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--point", default="mix-p16", help="a pipeload point of bench-pipelined (loadpoint.POINTS)")
ap.add_argument("--attach", default="--mode guarded", help="prestack attach arguments, or none")
ap.add_argument("--seconds", type=float, default=10.0, help="length of the load")
ap.add_argument("--profile-seconds", type=float, default=5.0, help="length of the sampled window")
ap.add_argument("--freq", type=int, default=2000, help="perf's sampling rate per CPU (Hz)")
ap.add_argument("--top", type=int, default=40, help="bpf rows kept, the largest")
ap.add_argument("--out", default="liveprof", help="output name in the results directory")
ap.add_argument("--prestack", default=PS,
                help="the prestack binary (a build with other BPF flags: make BUILD=DIR BPF_EXTRA=...)")
a = ap.parse_args()
if a.point not in POINTS or POINTS[a.point][4] != "pipeload":
    ap.error(f"--point: one of {','.join(n for n, p in POINTS.items() if p[4] == 'pipeload')}")
if a.profile_seconds <= 0 or a.seconds < a.profile_seconds + 2 or not 1 <= a.freq <= 20000 or a.top < 1:
    ap.error("--profile-seconds > 0, --seconds >= --profile-seconds + 2, --freq 1..20000, --top >= 1")
if not a.out.replace("-", "").replace("_", "").isalnum():
    ap.error(f"--out: a plain name: {a.out}")
ATTACH = [] if a.attach == "none" else a.attach.split()
loadpoint.PS = PS = os.path.abspath(a.prestack)


def frames(lines):
    """A perf script sample's symbols, innermost first."""
    out = []
    for ln in lines:
        f = ln.split(None, 1)
        if len(f) < 2:
            continue
        sym = f[1].split("+")[0].strip()
        if sym.startswith(SKIP):
            continue
        out.append(sym)
    return out


def prog_name(sym):
    """bpf_prog_<tag>_<name> -> name"""
    parts = sym.split("_", 3)
    return parts[3] if len(parts) == 4 else sym


def classify(script):
    """(samples, Counter of task names, Counter of (prog, subprog, callee))
    from `perf script -F comm,ip,sym` output."""
    n, tasks, bpf = 0, collections.Counter(), collections.Counter()
    for st in script.split("\n\n"):
        lines = st.strip().splitlines()
        if not lines:
            continue
        n += 1
        fr = frames(lines[1:])
        at = [i for i, s in enumerate(fr) if s.startswith("bpf_prog_")]
        if not at:
            tasks[lines[0].split()[0] if lines[0].split() else "?"] += 1
            continue
        inner = at[0]
        callee = fr[inner - 1] if inner > 0 else "(self)"
        bpf[(prog_name(fr[at[-1]]), prog_name(fr[inner]), callee)] += 1
    return n, tasks, bpf


def prog_ids():
    r = loadpoint.run(PS, "status", *TGT, "--json", check=False)
    try:
        st = json.loads(r.stdout)[0]
    except (ValueError, IndexError, KeyError, TypeError):
        return set()
    return {v for k, v in st.items() if k.endswith("prog_id") and v}


def profile(tmp):
    """Load, perf window and bpf_stats: (rows, load result)."""
    pt = POINTS[a.point]
    loadpoint.fresh()
    if ATTACH:
        loadpoint.attach(ATTACH)
        loadpoint.warm()
    ids = prog_ids() if ATTACH else set()
    s0 = psstats.read(TGT, PS) if ATTACH else {}
    data = os.path.join(tmp, "perf.data")
    res = {}

    def load():
        res["r"] = loadpoint.pipeload(loadpoint.point_args(a.point, a.seconds, 1), a.seconds)

    t = threading.Thread(target=load, daemon=True)
    t.start()
    time.sleep(1.0)
    with cpuacct.bpf_stats():
        p0 = cpuacct.prog_stats(ids)
        perf = loadpoint.spawn(["perf", "record", "-a", "-g", "-e", "cpu-clock", "-F", str(a.freq),
                                "-o", data, "--", "sleep", str(a.profile_seconds)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        perf.wait(timeout=a.profile_seconds + 60)
        p1 = cpuacct.prog_stats(ids)
    err = perf.stderr.read()
    loadpoint.stop(perf)
    if perf.returncode:
        raise Lost(f"perf record: exit {perf.returncode}: {err.strip()[-300:]}")
    t.join(timeout=a.seconds + 90)
    if "r" not in res:
        raise Lost("pipeload gave no result")
    r, _ = res["r"]
    s1 = psstats.read(TGT, PS) if ATTACH else {}
    script = subprocess.run(["perf", "script", "-i", data, "-F", "comm,ip,sym"], capture_output=True,
                            text=True, timeout=600)
    if script.returncode:
        raise Lost(f"perf script: exit {script.returncode}: {script.stderr.strip()[-300:]}")
    n, tasks, bpf = classify(script.stdout)
    if n == 0:
        raise Lost("perf recorded no samples")
    nb = sum(bpf.values())
    base = {"point": a.point, "pipeline": pt[0], "ratio": pt[1], "keyspace": pt[3],
            "attach_args": " ".join(ATTACH) or "none", "samples": n, "freq_hz": a.freq,
            "profile_s": a.profile_seconds}
    rows = []
    for comm, c in tasks.most_common():
        rows.append({**base, "kind": "task", "name": comm, "count": c, "share": round(c / n, 5)})
    by_prog = collections.Counter()
    for (prog, _, _), c in bpf.items():
        by_prog[prog] += c
    for (prog, sub, callee), c in bpf.most_common(a.top):
        rows.append({**base, "kind": "bpf", "prog": prog, "subprog": sub, "callee": callee, "count": c,
                     "share": round(c / n, 5), "share_of_bpf": round(c / nb, 5)})
    for i, p in sorted(p1.items()):
        if i not in p0:
            continue
        runs = p["run_cnt"] - p0[i]["run_cnt"]
        ns = p["run_time_ns"] - p0[i]["run_time_ns"]
        rows.append({**base, "kind": "bpf_prog", "prog": p["name"], "prog_type": p["type"], "runs": runs,
                     "ns_per_run": round(ns / runs, 1) if runs else "",
                     "count": by_prog.get(p["name"], 0), "share": round(by_prog.get(p["name"], 0) / n, 5)})
    hits = (s1.get("get_hits", 0) - s0.get("get_hits", 0)) if ATTACH else 0
    rows.append({**base, "kind": "load", "ops_per_s": r.get("ops_per_s"), "gets": r.get("gets"),
                 "get_wrong": r.get("get_wrong"), "errors": r.get("errors"),
                 "answered_share": round(hits / r["gets"], 4) if r.get("gets") else ""})
    if r.get("get_wrong") or r.get("errors"):
        raise Lost(f"pipeload: {r.get('get_wrong')} wrong values, {r.get('errors')} errors")
    return rows, r


def main():
    if not shutil.which("perf"):
        sys.exit("liveprof: perf not found (Debian: linux-perf)")
    loadpoint.preflight("liveprof", PS, LOAD)
    tmp = tempfile.mkdtemp(prefix="liveprof.")
    try:
        with live_lock(f"liveprof {a.point}", budget_s=a.seconds + 180):
            rows, r = profile(tmp)
    except Lost as e:
        print(f"liveprof: {e}; {RES} left as it was", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("liveprof: interrupted, cleaning up", file=sys.stderr)
        return 130
    finally:
        loadpoint.teardown()
        shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(RES, exist_ok=True)
    path = os.path.join(RES, f"{a.out}.csv")
    csvio.save(path, rows)
    print(f"wrote {path}: {a.point}, attach {' '.join(ATTACH) or 'none'}, "
          f"{r.get('ops_per_s', 0):.0f} ops/s")
    for row in rows:
        if row["kind"] in ("task", "bpf_prog") and row["share"] >= 0.01:
            what = row.get("name") or f"BPF {row['prog']} ({row.get('ns_per_run', '-')} ns/run)"
            print(f"  {100 * row['share']:5.1f}%  {what}")
    for row in [x for x in rows if x["kind"] == "bpf"][:12]:
        print(f"  {100 * row['share']:5.1f}%  {row['prog']} / {row['subprog']} -> {row['callee']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
