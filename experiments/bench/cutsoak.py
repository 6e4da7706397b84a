#!/usr/bin/python3
"""cutsoak.py - a soak of `attach --cut` under bench-pipelined's mix-p16
load, to catch a wrong value (docs/pipelines.md, "Why it is still opt-in").

The testbed comes up as pipelined.py brings it up (loadpoint.fresh:
testbed.sh up, every key prefilled once by pipeload --prefill over the
veth, nothing attached), prestack attaches with ATTACH (default: --mode
guarded --cut), and then --runs runs of build/pipeload with the settings
of --point (default mix-p16: 50 connections, 2 threads, pipeline 16,
GET:SET 10:1, Zipf over 10,000 keys, 64 B values; any pipeload point of
bench-pipelined, loadpoint.POINTS), --seconds each, a `cache warm` before each (as pipelined.py does before
each point) and a new seed per run. After each run: pipeload's JSON, its
wrong-reply lines (pipeload.c: connection, reply number, stream offsets,
the key, what came back and whose value it is), and the deltas of
prestack's counters for cutting and inserting (ga_*, run_torn, runs_*,
ins_*, adj_busy, ...), one JSON line per run on stdout and in --log.

--pcap DIR: a tcpdump ring (-C 200 MB x -W 4) on the client's veth, in the
client namespace, around the runs; it is stopped at the first wrong reply
pipeload reports (so the ring ends with it) and at the end.

The whole soak holds /tmp/prestack-live.lock (or runs under it when an
ancestor holds it); everything started is stopped by PID, prestack
detached and the testbed taken down on the way out (Ctrl-C too). Exit 0
when no run had a wrong value, nil of a prefilled key or an error; 1
otherwise.

usage: cutsoak.py [--runs N] [--point NAME] [--seconds S] [--seed N] [--attach ARGS]
                  [--pcap DIR] [--log FILE] [--no-warm] [--prestack PATH]
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "pylib"))
from prestack_lib import loadpoint, psstats  # noqa: E402
from prestack_lib.livelock import live_lock  # noqa: E402
from prestack_lib.loadpoint import LOAD, POINTS, Lost  # noqa: E402
from prestack_lib.testbed import DEV_CLI, NS_CLI, PORT, TGT  # noqa: E402

COUNTERS = ("get_hits", "cut_gets", "cut_segs", "cut_empty", "recut_segs", "ga_miss",
            "ga_partial", "ga_mss", "ga_other", "ga_full", "ga_race", "run_torn",
            "runs_queued", "runs_taken", "runs_withdrawn", "runs_lost", "ins_segs",
            "ins_pieces", "ins_bytes", "ins_retrans", "ins_gaps", "ins_trunc", "ins_broken",
            "adj_busy", "entry_moved", "emit_broken", "tx", "fills", "invalidations", "flows_untrusted",
            "fallbacks", "divergences")

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--runs", type=int, default=10)
ap.add_argument("--point", default="mix-p16", help="the bench-pipelined point (pipeload's)")
ap.add_argument("--seconds", type=float, default=60.0)
ap.add_argument("--seed", type=int, default=1, help="run i uses seed SEED*1000+i")
ap.add_argument("--attach", default="--mode guarded --cut", help="prestack attach arguments")
ap.add_argument("--pcap", help="a tcpdump ring on the client's veth into this directory")
ap.add_argument("--log", help="append each run's JSON line here too")
ap.add_argument("--no-warm", action="store_true", help="no `cache warm` before each run")
ap.add_argument("--prestack", default=os.path.join(TOP, "build", "prestack"),
                help="the prestack binary (a build with other BPF flags: make BUILD=DIR BPF_EXTRA=...)")
a = ap.parse_args()
if a.runs < 1 or a.seconds <= 0:
    ap.error("--runs >= 1 and --seconds > 0")
if a.point not in POINTS or POINTS[a.point][4] != "pipeload":
    ap.error(f"--point: one of {','.join(n for n, p in POINTS.items() if p[4] == 'pipeload')}")
loadpoint.PS = PS = os.path.abspath(a.prestack)
PREFILLED = POINTS[a.point][3] == "prefilled"


def main():
    loadpoint.preflight("cutsoak", PS, LOAD)
    bad = 0
    tot = {"runs": 0, "gets": 0, "get_wrong": 0, "errors": 0, "get_nulls": 0}
    log = open(a.log, "a") if a.log else None
    try:
        with live_lock(f"cutsoak {a.runs} x {a.seconds:.0f} s", budget_s=a.runs * (a.seconds + 20) + 60):
            loadpoint.fresh()
            loadpoint.attach(a.attach.split())
            dump = None
            if a.pcap:
                os.makedirs(a.pcap, exist_ok=True)
                dump = loadpoint.spawn(["ip", "netns", "exec", NS_CLI, "tcpdump", "-i", DEV_CLI, "-s", "0",
                                        "-w", os.path.join(a.pcap, "cli.pcap"), "-C", "200", "-W", "4",
                                        "-B", "16384", "-Z", "root", "tcp", "port", str(PORT)],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                time.sleep(1)
                if dump.poll() is not None:
                    sys.exit(f"cutsoak: tcpdump: exit {dump.returncode}: {dump.stderr.read().decode()[-300:]}")

            def on_wrong():
                if dump is not None and dump.poll() is None:
                    time.sleep(0.3)         # the frames just read, into the ring
                    dump.send_signal(signal.SIGINT)
            for i in range(1, a.runs + 1):
                if not a.no_warm:
                    loadpoint.warm()
                s0 = psstats.read(TGT, PS)
                try:
                    res, err = loadpoint.pipeload(loadpoint.point_args(a.point, a.seconds, a.seed * 1000 + i),
                                                  a.seconds, on_wrong)
                except Lost as e:
                    res, err = {"error": str(e)}, []
                s1 = psstats.read(TGT, PS)
                d = {k: s1[k] - s0.get(k, 0) for k in COUNTERS if isinstance(s1.get(k), int)}
                row = {"run": i, "point": a.point, "seed": a.seed * 1000 + i, "attach": a.attach,
                       **{k: res.get(k) for k in ("ops", "seconds", "ops_per_s", "gets", "sets", "get_hits_nonnull",
                                                  "get_nulls", "get_wrong", "errors", "conns_failed", "error")
                          if k in res},
                       "counters": d, "diag": [ln for ln in err if ln.startswith("pipeload: ")][:40]}
                line = json.dumps(row, sort_keys=False)
                print(line, flush=True)
                if log:
                    log.write(line + "\n")
                    log.flush()
                tot["runs"] += 1
                for k in ("gets", "get_wrong", "errors", "get_nulls"):
                    tot[k] += res.get(k) or 0
                if (res.get("get_wrong") or res.get("errors") or (PREFILLED and res.get("get_nulls"))
                        or "error" in res):
                    bad += 1
    except Lost as e:
        print(f"cutsoak: {e}", file=sys.stderr, flush=True)
        bad += 1
    except KeyboardInterrupt:
        print("cutsoak: interrupted, cleaning up", file=sys.stderr, flush=True)
        bad += 1
    finally:
        loadpoint.teardown()
        if log:
            log.close()
    print(f"# cutsoak: {tot['runs']} runs, {tot['gets']} GETs checked, {tot['get_wrong']} wrong values, "
          f"{tot['get_nulls']} nils{'' if PREFILLED else ' (keys never set)'}, {tot['errors']} errors",
          flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
