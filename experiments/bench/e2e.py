#!/usr/bin/python3
"""e2e.py - redis-benchmark GET against Redis alone and prestack in each
mode, side by side in one run, on the netns testbed.

Workloads: GET only, and a 90/10 GET/SET mix (two redis-benchmark processes
side by side, clients and requests 9:1: redis-benchmark runs one command
type per process; throughput is their sum, latency the GET group's).
Configurations: redis (nothing attached), off, naive, guarded. Repetitions
are interleaved (rep 1 of every configuration, then rep 2, ...; the order of
configurations rotates), never back to back. Per run: throughput, p50, p99
(redis-benchmark --csv), CPU seconds of the softirq column of /proc/stat and
of the redis-server process (utime + stime), prestack's get_hits. One CSV
row per run in results/bench-e2e.csv (appended), with machine, kernel,
commit and offloads; results/bench-e2e-summary.csv has medians and
min/max and the ratio to Redis alone of the same repetition.

usage: e2e.py [--quick] [--reps N] [--requests N]
"""
import argparse
import csv
import datetime
import io
import os
import platform
import statistics
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "pylib"))
from prestack_lib.testbed import IP_SRV, NS_CLI, NS_SRV, PORT, TGT  # noqa: E402

PS = os.path.join(TOP, "build", "prestack")
TB = os.path.join(TOP, "experiments", "testbed.sh")
RES = os.environ.get("PS_RESULTS") or os.path.join(TOP, "results")
HZ = os.sysconf("SC_CLK_TCK")

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--quick", action="store_true", help="one minute: 64 B, 50 clients, no pipelining")
ap.add_argument("--reps", type=int, default=3)
ap.add_argument("--requests", type=int, default=100000)
a = ap.parse_args()
if a.reps < 1 or a.requests < 1000:
    ap.error("--reps >= 1, --requests >= 1000")

if a.quick:
    SIZES, CLIENTS, PIPES, REPS, N = [64], [50], [1], 1, 20000
else:
    SIZES, CLIENTS, PIPES, REPS, N = [16, 64, 256, 1024], [1, 10, 50, 200], [1, 16], a.reps, a.requests
WORKLOADS = ["get", "mix"]
CONFIGS = ["redis", "off", "naive", "guarded"]
KEYSPACE = 1000


def run(*cmd, check=True, **kw):
    return subprocess.run(cmd, check=check, capture_output=True, text=True, **kw)


def cli(*cmd, **kw):
    return run("ip", "netns", "exec", NS_CLI, *cmd, **kw)


def srv(*cmd, **kw):
    return run("ip", "netns", "exec", NS_SRV, *cmd, **kw)


def redis_pid():
    return int(open("/run/prestack-testbed/redis.pid").read().strip())


def cpu_now(pid):
    f = open("/proc/stat").readline().split()
    softirq = int(f[7]) / HZ
    st = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    redis = (int(st[11]) + int(st[12])) / HZ
    return softirq, redis


def stats():
    import json
    r = run(PS, "stats", *TGT, "--json", check=False)
    return json.loads(r.stdout) if r.returncode == 0 else {}


def attached():
    return run(PS, "status", *TGT, "--json", check=False).stdout.strip() not in ("", "[]")


def set_config(cfg):
    if cfg == "redis":
        if attached():
            run(PS, "detach", *TGT, "--force")
        return
    if not attached():
        run(PS, "attach", *TGT, "--mode", cfg)
    else:
        run(PS, "mode", cfg, *TGT, "--force")
    run(PS, "cache", "warm", "--redis", f"127.0.0.1:{PORT}", *TGT)


def populate(size):
    srv("redis-cli", "-h", "127.0.0.1", "flushall")
    # every key:000000000000..key:000000000999 with a value of `size` bytes
    v = "x" * size
    cmds = "".join(f"SET key:{i:012d} {v}\n" for i in range(KEYSPACE))
    srv("redis-cli", "-h", "127.0.0.1", input=cmds)


def rb_cmd(test, size, clients, pipe, n):
    return ["ip", "netns", "exec", NS_CLI, "timeout", "600", "redis-benchmark",
            "-h", IP_SRV, "-p", str(PORT), "-t", test, "-n", str(n), "-c", str(clients),
            "-P", str(pipe), "-d", str(size), "-r", str(KEYSPACE), "--csv"]


def parse(out):
    rows = list(csv.reader(io.StringIO(out)))
    if len(rows) < 2:
        return None
    d = dict(zip(rows[0], rows[1]))
    return {"rps": float(d["rps"]), "p50_ms": float(d["p50_latency_ms"]),
            "p99_ms": float(d["p99_latency_ms"])}


def bench(size, clients, pipe, n, workload):
    if workload == "get":
        r = subprocess.run(rb_cmd("get", size, clients, pipe, n), capture_output=True, text=True)
        return parse(r.stdout) if r.returncode == 0 else None
    # 90/10: a GET group and a SET group side by side, clients and requests
    # 9:1 (redis-benchmark runs one command type per process)
    gc, sc = max(1, clients * 9 // 10), max(1, clients // 10)
    gp = subprocess.Popen(rb_cmd("get", size, gc, pipe, n * 9 // 10), stdout=subprocess.PIPE, text=True)
    sp = subprocess.Popen(rb_cmd("set", size, sc, pipe, n // 10), stdout=subprocess.PIPE, text=True)
    g, _ = gp.communicate()
    s_, _ = sp.communicate()
    g, s_ = parse(g), parse(s_)
    if gp.returncode or sp.returncode or not g or not s_:
        return None
    return {"rps": g["rps"] + s_["rps"], "p50_ms": g["p50_ms"], "p99_ms": g["p99_ms"]}


def main():
    if os.geteuid():
        sys.exit("e2e: run as root")
    os.makedirs(RES, exist_ok=True)
    meta = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "kernel": platform.release(),
            "cpu": open("/proc/cpuinfo").read().split("model name")[1].split(":")[1].split("\n")[0].strip(),
            "commit": run("git", "-C", TOP, "rev-parse", "--short", "HEAD", check=False).stdout.strip() or "none",
            "offloads": "tso,gso,gro,tx,rx,sg off both ends"}
    rows = []
    try:
        run(TB, "down", check=False)
        run(TB, "up")
        for size in SIZES:
            populate(size)
            for rep in range(REPS):
                order = CONFIGS[rep % len(CONFIGS):] + CONFIGS[:rep % len(CONFIGS)]
                for cfg in order:
                    set_config(cfg)
                    for workload, clients, pipe in [(w, c, p) for w in WORKLOADS for c in CLIENTS
                                                    for p in PIPES
                                                    if w == "get" or (c == 50 and p == 1)]:
                            n = N * (4 if pipe > 1 else 1)
                            pid = redis_pid()
                            s0, c0, h0 = *cpu_now(pid), stats().get("get_hits", 0)
                            t0 = time.monotonic()
                            r = bench(size, clients, pipe, n, workload)
                            secs = time.monotonic() - t0
                            s1, c1 = cpu_now(pid)
                            hits = stats().get("get_hits", 0) - h0 if cfg != "redis" else 0
                            row = {**meta, "config": cfg, "rep": rep + 1, "workload": workload,
                                   "value_size": size,
                                   "clients": clients, "pipeline": pipe, "requests": n,
                                   "rps": r["rps"] if r else "", "p50_ms": r["p50_ms"] if r else "",
                                   "p99_ms": r["p99_ms"] if r else "",
                                   "seconds": round(secs, 3),
                                   "softirq_cpu_s": round(s1 - s0, 3), "redis_cpu_s": round(c1 - c0, 3),
                                   "server_cpu_us_per_req": round((s1 - s0 + c1 - c0) * 1e6 / n, 3),
                                   "redis_cpu_us_per_req": round((c1 - c0) * 1e6 / n, 3),
                                   "get_hits": hits, "error": "" if r else "benchmark failed"}
                            rows.append(row)
                            print(f"{cfg:8} {workload:3} d={size:<5} c={clients:<4} P={pipe:<3} rep {rep + 1}: "
                                  f"{row['rps'] or 'FAILED'} req/s p99 {row['p99_ms']} ms "
                                  f"cpu {row['server_cpu_us_per_req']} us/req hits {hits}", flush=True)
    finally:
        if attached():
            run(PS, "detach", *TGT, "--force", check=False)
        run(TB, "down", check=False)

    path = os.path.join(RES, "bench-e2e.csv")
    new = not os.path.exists(path)
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        if new:
            w.writeheader()
        w.writerows(rows)
    summarize(rows)
    return 1 if any(r["error"] for r in rows) else 0


def summarize(rows):
    """Medians with min/max per configuration and the ratio to Redis alone,
    the ratio taken within each repetition."""
    out = []
    keys = sorted({(r["workload"], r["value_size"], r["clients"], r["pipeline"]) for r in rows})
    for wl, size, clients, pipe in keys:
        same = [r for r in rows if (r["workload"], r["value_size"], r["clients"], r["pipeline"]) ==
                (wl, size, clients, pipe) and r["rps"] != ""]
        for cfg in CONFIGS:
            mine = [r for r in same if r["config"] == cfg]
            if not mine:
                continue
            ratios = []
            for r in mine:
                base = [b for b in same if b["config"] == "redis" and b["rep"] == r["rep"]]
                if base:
                    ratios.append(r["rps"] / base[0]["rps"])
            rps = [r["rps"] for r in mine]
            out.append({"date": mine[0]["date"], "commit": mine[0]["commit"], "kernel": mine[0]["kernel"],
                        "config": cfg, "workload": wl, "value_size": size, "clients": clients,
                        "pipeline": pipe,
                        "reps": len(mine), "rps_median": statistics.median(rps),
                        "rps_min": min(rps), "rps_max": max(rps),
                        "p50_ms_median": statistics.median(r["p50_ms"] for r in mine),
                        "p99_ms_median": statistics.median(r["p99_ms"] for r in mine),
                        "server_cpu_us_per_req_median": statistics.median(r["server_cpu_us_per_req"] for r in mine),
                        "redis_cpu_us_per_req_median": statistics.median(r["redis_cpu_us_per_req"] for r in mine),
                        "speedup_vs_redis_median": round(statistics.median(ratios), 3) if ratios else ""})
    with open(os.path.join(RES, "bench-e2e-summary.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(out[0].keys()))
        w.writeheader()
        w.writerows(out)
    print(f"wrote {RES}/bench-e2e.csv (appended) and {RES}/bench-e2e-summary.csv")


if __name__ == "__main__":
    sys.exit(main())
