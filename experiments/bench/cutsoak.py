#!/usr/bin/python3
"""cutsoak.py - a soak of `attach --cut` under bench-pipelined's mix-p16
load, to catch a wrong value (docs/pipelines.md, "Why it is still opt-in").

The testbed comes up as pipelined.py brings it up (testbed.sh up, every
key prefilled once by pipeload --prefill over the veth, nothing attached),
prestack attaches with ATTACH (default: --mode guarded --cut), and then
--runs runs of build/pipeload with mix-p16's settings (50 connections, 2
threads, pipeline 16, GET:SET 10:1, Zipf over 10,000 keys, 64 B values),
--seconds each, a `cache warm` before each (as pipelined.py does before
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

usage: cutsoak.py [--runs N] [--seconds S] [--seed N] [--attach ARGS]
                  [--pcap DIR] [--log FILE] [--no-warm] [--prestack PATH]
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "pylib"))
from prestack_lib import psstats  # noqa: E402
from prestack_lib.livelock import live_lock  # noqa: E402
from prestack_lib.testbed import DEV_CLI, IP_SRV, NS_CLI, NS_SRV, PORT, TGT  # noqa: E402

PS = os.path.join(TOP, "build", "prestack")
LOAD = os.path.join(TOP, "build", "pipeload")
TB = os.path.join(TOP, "experiments", "testbed.sh")
KEYS, VALUE = 10000, 64
COUNTERS = ("get_hits", "cut_gets", "cut_segs", "cut_empty", "recut_segs", "ga_miss",
            "ga_partial", "ga_mss", "ga_other", "ga_full", "ga_race", "run_torn",
            "runs_queued", "runs_taken", "runs_withdrawn", "runs_lost", "ins_segs",
            "ins_pieces", "ins_bytes", "ins_retrans", "ins_gaps", "ins_trunc", "ins_broken",
            "adj_busy", "entry_moved", "emit_broken", "tx", "fills", "invalidations", "flows_untrusted",
            "fallbacks", "divergences")

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--runs", type=int, default=10)
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
PS = os.path.abspath(a.prestack)

CHILDREN = []       # Popen objects to stop by PID on the way out


def run(*cmd, check=True, timeout=120):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode:
        sys.exit(f"cutsoak: {' '.join(cmd)}: exit {r.returncode}: {(r.stderr or r.stdout).strip()[-300:]}")
    return r


def stop(p, sig=signal.SIGTERM):
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def cleanup():
    old = signal.signal(signal.SIGINT, signal.SIG_IGN), signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        for p in CHILDREN:
            stop(p, signal.SIGINT)
        run(PS, "detach", *TGT, "--force", check=False)
        run(TB, "down", check=False)
    finally:
        signal.signal(signal.SIGINT, old[0])
        signal.signal(signal.SIGTERM, old[1])


def pipeload(args, seconds, on_wrong=None):
    """build/pipeload in the client namespace against Redis over the veth:
    (its JSON, its stderr lines). on_wrong() is called at the first wrong-reply line."""
    cmd = ["ip", "netns", "exec", NS_CLI, LOAD, "--host", IP_SRV, "--port", str(PORT), *args]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    CHILDREN.append(p)
    err = []

    def read_err():
        for line in p.stderr:
            err.append(line.rstrip("\n"))
            if on_wrong and line.startswith("pipeload: wrong"):
                on_wrong()
    t = threading.Thread(target=read_err, daemon=True)
    t.start()
    try:
        out = p.stdout.read()
        p.wait(timeout=seconds + 60)
    finally:
        stop(p, signal.SIGINT)
        CHILDREN.remove(p)
    t.join(timeout=5)
    try:
        res = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        res = {"error": f"exit {p.returncode}, no JSON"}
    return res, err


def main():
    if os.geteuid():
        sys.exit("cutsoak: run as root")
    for f in (PS, LOAD):
        if not os.access(f, os.X_OK):
            sys.exit(f"cutsoak: {os.path.relpath(f, TOP)} missing: run make first")

    def on_sig(*_):
        raise KeyboardInterrupt
    signal.signal(signal.SIGINT, on_sig)
    signal.signal(signal.SIGTERM, on_sig)
    bad = 0
    tot = {"runs": 0, "gets": 0, "get_wrong": 0, "errors": 0, "get_nulls": 0}
    log = open(a.log, "a") if a.log else None
    try:
        with live_lock(f"cutsoak {a.runs} x {a.seconds:.0f} s", budget_s=a.runs * (a.seconds + 20) + 60):
            run(PS, "detach", *TGT, "--force", check=False)
            run(TB, "down", check=False)
            run(TB, "up")
            pre, _ = pipeload(["--prefill", "--keys", str(KEYS), "-d", str(VALUE), "-c", "8", "-t", "1",
                               "-P", "64"], 30)
            if pre.get("errors") or pre.get("sets") != KEYS:
                sys.exit(f"cutsoak: prefill: {pre}")
            run(PS, "attach", *TGT, *a.attach.split())
            dump = None
            if a.pcap:
                os.makedirs(a.pcap, exist_ok=True)
                dump = subprocess.Popen(["ip", "netns", "exec", NS_CLI, "tcpdump", "-i", DEV_CLI, "-s", "0",
                                         "-w", os.path.join(a.pcap, "cli.pcap"), "-C", "200", "-W", "4",
                                         "-B", "16384", "-Z", "root", "tcp", "port", str(PORT)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                CHILDREN.append(dump)
                time.sleep(1)
                if dump.poll() is not None:
                    sys.exit(f"cutsoak: tcpdump: exit {dump.returncode}: {dump.stderr.read().decode()[-300:]}")

            def on_wrong():
                if dump is not None and dump.poll() is None:
                    time.sleep(0.3)         # the frames just read, into the ring
                    dump.send_signal(signal.SIGINT)
            for i in range(1, a.runs + 1):
                if not a.no_warm:
                    run(PS, "cache", "warm", "--redis", f"127.0.0.1:{PORT}", *TGT)
                s0 = psstats.read(TGT, PS)
                res, err = pipeload(["-c", "50", "-t", "2", "-P", "16", "--ratio", "10:1", "--keys", str(KEYS),
                                     "--dist", "zipf", "-d", str(VALUE), "--seconds", str(a.seconds),
                                     "--seed", str(a.seed * 1000 + i)], a.seconds, on_wrong)
                s1 = psstats.read(TGT, PS)
                d = {k: s1[k] - s0.get(k, 0) for k in COUNTERS if isinstance(s1.get(k), int)}
                row = {"run": i, "seed": a.seed * 1000 + i, "attach": a.attach,
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
                if res.get("get_wrong") or res.get("errors") or res.get("get_nulls") or "error" in res:
                    bad += 1
    except KeyboardInterrupt:
        print("cutsoak: interrupted, cleaning up", file=sys.stderr, flush=True)
        bad += 1
    finally:
        cleanup()
        if log:
            log.close()
    print(f"# cutsoak: {tot['runs']} runs, {tot['gets']} GETs checked, {tot['get_wrong']} wrong values, "
          f"{tot['get_nulls']} nils, {tot['errors']} errors", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
