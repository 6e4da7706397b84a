#!/usr/bin/python3
"""xdpfloor.py - prestack's XDP program against an empty one, live, under
the same load: the mean run time per packet (bpf_stats) of each, while
redis-benchmark GETs cached 64-byte keys one request at a time.

Each repetition runs every configuration once, in a shuffled order, on
the testbed brought up once (loadpoint.fresh: every key key:000000000000..
set, 64 B values):
  floor     build/client_pass.bpf.o (XDP_PASS, nothing else) in native
            mode on the server's veth: the program's own floor. Redis
            answers every GET.
  guarded   `prestack attach` with its defaults (what a user deploys), the
            cache warmed: every GET is a hit (the share is reported).
  other names: --mode NAME (off, naive, retrans), warmed too.
For each: kernel.bpf_stats_enabled on, `redis-benchmark -t get -P 1 -c C
-n N -r 10000 -d 64` in the client namespace, and the XDP program's
run_cnt and run_time_ns deltas (bpftool): ns per packet = time / runs
(every client segment: GETs and their ACKs alike).

results/bench-xdpfloor.csv (a row per repetition and configuration) and
bench-xdpfloor-summary.csv: per configuration the median ns per packet,
and the ratio to the floor taken within each repetition, its median and
95% interval (medci). A run lost (redis-benchmark failed, no program
found) keeps results/ as it was and writes what was measured under
build/partial/; exit 1. PS_RESULTS=DIR writes there instead.

usage: xdpfloor.py [--reps N] [--requests N] [--clients C]
                   [--configs floor,guarded,...] [--seed N] [--out NAME]
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "pylib"))
from prestack_lib import cpuacct, csvio, loadpoint, psstats  # noqa: E402
from prestack_lib import rbench as rbench_parse  # noqa: E402
from prestack_lib.livelock import live_lock  # noqa: E402
from prestack_lib.loadpoint import KEYS, LOAD, PS, VALUE, Lost  # noqa: E402
from prestack_lib.medci import ci_columns  # noqa: E402
from prestack_lib.provenance import provenance  # noqa: E402
from prestack_lib.testbed import DEV_SRV, IP_SRV, NS_CLI, NS_SRV, PORT, TGT  # noqa: E402

RES = os.environ.get("PS_RESULTS") or os.path.join(TOP, "results")
PASS_OBJ = os.path.join(TOP, "build", "client_pass.bpf.o")
MODES = ("off", "naive", "guarded", "retrans")

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--reps", type=int, default=10)
ap.add_argument("--requests", type=int, default=300000, help="redis-benchmark -n per run")
ap.add_argument("--clients", type=int, default=50, help="redis-benchmark -c")
ap.add_argument("--configs", default="floor,guarded", help="floor and prestack modes (off, naive, guarded, retrans)")
ap.add_argument("--seed", type=int, default=1, help="the order of the configurations")
ap.add_argument("--out", default="bench-xdpfloor", help="output name prefix in the results directory")
a = ap.parse_args()
CFGS = [c for c in a.configs.split(",") if c]
if a.reps < 1 or a.requests < 1000 or not 1 <= a.clients <= 1000:
    ap.error("--reps >= 1, --requests >= 1000, --clients 1..1000")
if "floor" not in CFGS or len(set(CFGS)) != len(CFGS) or any(c not in ("floor", *MODES) for c in CFGS):
    ap.error(f"--configs: floor and modes of {','.join(MODES)}, each once: {a.configs}")
if not a.out.replace("-", "").replace("_", "").isalnum():
    ap.error(f"--out: a plain name: {a.out}")


def xdp_prog_id():
    """The id of the XDP program on the server's veth, or 0."""
    r = loadpoint.run("ip", "-n", NS_SRV, "-j", "link", "show", DEV_SRV, check=False)
    try:
        return int(json.loads(r.stdout)[0]["xdp"]["prog"]["id"])
    except (ValueError, KeyError, IndexError, TypeError):
        return 0


def floor_off():
    loadpoint.run("ip", "-n", NS_SRV, "link", "set", "dev", DEV_SRV, "xdpdrv", "off", check=False)


def setup(cfg):
    if cfg == "floor":
        loadpoint.run("ip", "-n", NS_SRV, "link", "set", "dev", DEV_SRV, "xdpdrv", "obj", PASS_OBJ,
                      "sec", "xdp")
    else:
        loadpoint.attach(["--mode", cfg])
        loadpoint.warm()
    pid = xdp_prog_id()
    if not pid:
        raise Lost(f"{cfg}: no XDP program on {DEV_SRV}")
    return pid


def teardown_cfg(cfg):
    if cfg == "floor":
        floor_off()
    else:
        loadpoint.detach()


def bench():
    cmd = ["ip", "netns", "exec", NS_CLI, "redis-benchmark", "-h", IP_SRV, "-p", str(PORT), "-t", "get",
           "-P", "1", "-c", str(a.clients), "-n", str(a.requests), "-r", str(KEYS), "-d", str(VALUE), "--csv"]
    p = loadpoint.spawn(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=a.requests / 1000 + 60)
    except subprocess.TimeoutExpired:
        raise Lost(f"redis-benchmark -n {a.requests}: no result")
    finally:
        loadpoint.stop(p)
    if p.returncode:
        raise Lost(f"redis-benchmark: exit {p.returncode}: {(err or out).strip()[-300:]}")
    try:
        return rbench_parse.parse_csv(out)[0]
    except rbench_parse.ParseError as e:
        raise Lost(f"redis-benchmark: {e}")


def measure(m, rep, order, cfg):
    pid = setup(cfg)
    try:
        h0 = psstats.read(TGT, PS).get("get_hits", 0) if cfg != "floor" else 0
        with cpuacct.bpf_stats():
            p0 = cpuacct.prog_stats({pid})
            r = bench()
            p1 = cpuacct.prog_stats({pid})
        h1 = psstats.read(TGT, PS).get("get_hits", 0) if cfg != "floor" else 0
    finally:
        teardown_cfg(cfg)
    if pid not in p0 or pid not in p1:
        raise Lost(f"{cfg}: bpftool lists no program {pid}")
    runs = p1[pid]["run_cnt"] - p0[pid]["run_cnt"]
    ns = p1[pid]["run_time_ns"] - p0[pid]["run_time_ns"]
    if runs <= 0:
        raise Lost(f"{cfg}: the program ran 0 times")
    row = {**m, "rep": rep, "order": order, "config": cfg, "prog": p1[pid]["name"],
           "requests": a.requests, "clients": a.clients, "value_size": VALUE, "keys": KEYS,
           "runs": runs, "run_time_ns": ns, "ns_per_packet": round(ns / runs, 1),
           "packets_per_request": round(runs / a.requests, 3), "req_per_s": r["rps"],
           "answered_share": round((h1 - h0) / a.requests, 4) if cfg != "floor" else ""}
    print(f"rep {rep} {cfg:8}: {row['ns_per_packet']:>8} ns/packet over {runs} packets, "
          f"{r['rps']:.0f} req/s, answered {row['answered_share'] or '-'}", flush=True)
    return row


def summarize(rows):
    out = []
    floor = {r["rep"]: r["ns_per_packet"] for r in rows if r["config"] == "floor"}
    for cfg in CFGS:
        mine = [r for r in rows if r["config"] == cfg]
        if not mine:
            continue
        ratio = [r["ns_per_packet"] / floor[r["rep"]] for r in mine if floor.get(r["rep"])]
        ns = [r["ns_per_packet"] for r in mine]
        out.append({"config": cfg, "reps": len(mine), "requests": a.requests, "clients": a.clients,
                    "ns_per_packet_median": round(statistics.median(ns), 1),
                    **ci_columns("ns_per_packet", ns),
                    "vs_floor_median": round(statistics.median(ratio), 3) if ratio else "",
                    **ci_columns("vs_floor", ratio),
                    "answered_share_median": (round(statistics.median(r["answered_share"] for r in mine), 4)
                                              if cfg != "floor" else "")})
    return out


def main():
    loadpoint.preflight("xdpfloor", PS, LOAD, PASS_OBJ)
    m = provenance()
    rows, lost = [], None
    try:
        with live_lock(f"xdpfloor {a.reps} reps", budget_s=a.reps * len(CFGS) * (a.requests / 20000 + 20) + 120):
            loadpoint.fresh()
            for rep in range(1, a.reps + 1):
                cfgs = list(CFGS)
                random.Random(a.seed * 1000 + rep).shuffle(cfgs)
                for order, cfg in enumerate(cfgs, 1):
                    rows.append(measure(m, rep, order, cfg))
    except Lost as e:
        lost = str(e)
    except KeyboardInterrupt:
        lost = "interrupted"
    finally:
        floor_off()
        loadpoint.teardown()
    whole = lost is None and len(rows) == a.reps * len(CFGS)
    where = RES if whole else csvio.PARTIAL_DIR
    if rows:
        os.makedirs(where, exist_ok=True)
        csvio.save(os.path.join(where, f"{a.out}.csv"), rows, stamp=False)
        csvio.save(os.path.join(where, f"{a.out}-summary.csv"), [{**m, **s} for s in summarize(rows)],
                   stamp=False)
    if not whole:
        print(f"xdpfloor: {lost or 'runs missing'}; {RES} left as it was"
              f"{', the runs measured are in ' + where if rows else ''}", file=sys.stderr)
        return 130 if lost == "interrupted" else 1
    print(f"wrote {where}/{a.out}.csv and {a.out}-summary.csv")
    for s in summarize(rows):
        print(f"  {s['config']:8} {s['ns_per_packet_median']:>8} ns/packet  x{s['vs_floor_median']} the floor"
              f"  answered {s['answered_share_median'] or '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
