#!/usr/bin/python3
"""poststack_cost.py - what the post-stack programs cost per request, live:
kernel.bpf_stats_enabled=1, a short redis-benchmark GET load against the
testbed in poststack mode, and each program's run_time_ns / run_cnt from
the kernel (bpftool prog show) before and after. Three phases:

  hit    every GET cached (answered by sk_skb, replies shorter than the
         request so the copied_seq rule lets all of them through)
  miss   every GET of a key Redis does not have (passed to Redis)
  redis  the same GETs with nothing in the post-stack path (mode off at
         attach: sockops puts no socket in the sockhash): no program runs;
         its throughput is the reference

One row per phase and program in results/bench-poststack-cost.csv (date,
kernel, CPU, commit), plus redis-benchmark's requests/s and the counters
that moved. Run as root; the testbed is brought up and down here.

usage: poststack_cost.py [--requests N] [--clients N] [--out CSV]
"""
import argparse
import csv
import json
import os
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "pylib"))
from prestack_lib import csvio, psstats  # noqa: E402
from prestack_lib.provenance import provenance  # noqa: E402
from prestack_lib.testbed import IP_SRV, NS_CLI, NS_SRV, PORT, TGT  # noqa: E402

PS = os.path.join(TOP, "build", "prestack")
TB = os.path.join(TOP, "experiments", "testbed.sh")
PIN = f"/sys/fs/bpf/prestack/{NS_SRV}/{TGT[3]}"
PROGS = ["prog_post_verdict", "prog_post_msg", "prog_post_sockops"]
KEYS = 1000
# 3-byte values: "$3\r\nabc\r\n" (9 B) replaces "GET key:000000000123" (37 B)
VALUE = 3


def run(*cmd, check=True):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if check and r.returncode:
        raise RuntimeError(f"{' '.join(cmd)} -> {r.returncode}: {r.stdout}")
    return r.stdout


def srv_redis(*args):
    return run("ip", "netns", "exec", NS_SRV, "redis-cli", "-p", str(PORT), *args)


def prog_stats():
    """{pin name: (run_cnt, run_time_ns)} of the pinned post-stack programs"""
    out = {}
    for p in PROGS:
        j = json.loads(run("bpftool", "prog", "show", "pinned", os.path.join(PIN, p), "--json"))
        out[p] = (j.get("run_cnt", 0), j.get("run_time_ns", 0))
    return out


def counters():
    c = psstats.parse(run(PS, "stats", *TGT, "--json"))
    if not c:
        raise RuntimeError("prestack stats --json: no counters")
    return c


def benchmark(n, clients):
    """redis-benchmark GET over the veth: requests per second"""
    out = run("ip", "netns", "exec", NS_CLI, "redis-benchmark", "-h", IP_SRV, "-p", str(PORT),
              "-t", "get", "-n", str(n), "-c", str(clients), "-r", str(KEYS), "-d", str(VALUE),
              "-q", "--csv")
    # "test","rps",...  then  "GET","12345.67",...
    rows = list(csv.reader(out.strip().splitlines()))
    return float(rows[-1][1])


def phase(name, mode, n, clients, seed_keys):
    run(PS, "detach", *TGT, "--force", check=False)
    run(PS, "attach", *TGT, "--mode", mode)
    srv_redis("flushall")
    if seed_keys:
        # the key space redis-benchmark draws from: key:000000000000 ...
        cmds = "".join(f"SET key:{i:012d} abc\n" for i in range(KEYS))
        subprocess.run(["ip", "netns", "exec", NS_SRV, "redis-cli", "-p", str(PORT)],
                       input=cmds, text=True, stdout=subprocess.DEVNULL, check=True)
        run(PS, "cache", "warm", "--redis", f"127.0.0.1:{PORT}", *TGT)
    p0, c0 = prog_stats(), counters()
    rps = benchmark(n, clients)
    p1, c1 = prog_stats(), counters()
    moved = {k: c1[k] - c0[k] for k in c1
             if k.startswith("post_") and isinstance(c1[k], int) and c1[k] != c0[k]}
    rows = []
    for p in PROGS:
        cnt = p1[p][0] - p0[p][0]
        ns = p1[p][1] - p0[p][1]
        rows.append({"phase": name, "mode": mode, "prog": p, "requests": n, "clients": clients,
                     "rps": round(rps), "run_cnt": cnt, "run_time_ns": ns,
                     "ns_per_run": round(ns / cnt, 1) if cnt else "",
                     "ns_per_request": round(ns / n, 1),
                     "counters": " ".join(f"{k}={v}" for k, v in sorted(moved.items()))})
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=50000)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--out", default=os.path.join(TOP, "results", "bench-poststack-cost.csv"))
    a = ap.parse_args()
    if os.geteuid():
        sys.exit("poststack_cost: run as root")
    meta = provenance()
    stats_was = open("/proc/sys/kernel/bpf_stats_enabled").read().strip()
    rows = []
    try:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write("1")
        run(TB, "down", check=False)
        run(TB, "up")
        rows += phase("hit", "poststack", a.requests, a.clients, True)
        rows += phase("miss", "poststack", a.requests, a.clients, False)
        rows += phase("redis", "off", a.requests, a.clients, True)
    finally:
        run(PS, "detach", *TGT, "--force", check=False)
        run(TB, "down", check=False)
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write(stats_was)
    # every phase or nothing: an error above has left --out as it was
    csvio.save(a.out, [{**meta, **r} for r in rows])
    for r in rows:
        print(f"{r['phase']:6} {r['prog']:18} {r['rps']:>8} req/s  run_cnt {r['run_cnt']:>7}  "
              f"{r['ns_per_run']!s:>8} ns/run  {r['ns_per_request']:>7} ns/request  {r['counters']}")
    print(f"wrote {os.path.relpath(a.out, TOP)}")


if __name__ == "__main__":
    main()
