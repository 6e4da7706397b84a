#!/usr/bin/python3
"""clients.py - one run of tests/live/clients.js (ioredis or node-redis,
auto-pipelining) against the testbed in one prestack mode, with every reply
checked (tests/live/regcheck.py) and the GETs answered before Redis counted
two ways.

Steps: nothing attached, Redis flushed and the initial store written over
loopback in the server namespace (regcheck.initial(): ro, rw and cnt keys);
then `prestack attach --mode MODE` (coherence watcher on, as by default) and
`cache warm`, every ro key checked to be in the cache; Redis's MONITOR
(loopback, server namespace) records every command Redis runs; clients.js
runs from the client namespace; prestack's counters are read around it.

The GETs of cached keys (ro: warmed, never written) answered before Redis
are the ro GETs the client issued less those MONITOR saw Redis run; all
GETs answered the same way must equal prestack's get_hits delta (checked
here: a count that disagrees fails the run, so the share cannot come from
a miscount). MGETs are not in these counts.

Prints one JSON line: mode, lib, ops, batches, errors, wrong, stale (from
regcheck), gets, gets_ro, ro_at_redis, answered_ro, answered_share
(answered_ro / gets_ro), get_hits, answered_all (GETs issued - GETs Redis
ran), the fallback counters that moved, and `log` (the client's log, kept
for regcheck --sabotage). Exit 0 when the run was measured (its verdict is
the caller's), 1 when it could not be (attach, warm, node, MONITOR, stats).

usage: clients.py --lib ioredis|node-redis --mode off|guarded|retrans
                  --modules DIR --tmp DIR [--conns 16] [--seconds 5] [--seed N]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

import redis

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "pylib"))
sys.path.insert(0, HERE)
from prestack_lib import PS, psstats  # noqa: E402
from prestack_lib.netns import in_netns  # noqa: E402
from prestack_lib.testbed import IP_CLI, IP_SRV, NS_CLI, NS_SRV, PORT, TGT  # noqa: E402
import regcheck  # noqa: E402

RO, RW, TTL, CNT, MISS = 200, 40, 300, 8, 100

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--lib", required=True, choices=("ioredis", "node-redis"))
ap.add_argument("--mode", required=True)
ap.add_argument("--modules", required=True, help="node_modules holding ioredis and redis")
ap.add_argument("--tmp", required=True, help="where the client's log (kept) and MONITOR's output "
                                            "(removed once counted) go")
ap.add_argument("--conns", type=int, default=16)
ap.add_argument("--seconds", type=float, default=5)
ap.add_argument("--seed", type=int, default=1)
a = ap.parse_args()

MON = None      # the MONITOR client, stopped by PID on the way out


def ps(*args, check=True):
    r = subprocess.run([PS, *args, *TGT], capture_output=True, text=True, timeout=60)
    if check and r.returncode:
        raise RuntimeError(f"prestack {' '.join(args)}: exit {r.returncode}: {r.stderr.strip()[-300:]}")
    return r


def loopback():
    c = redis.Redis(host="127.0.0.1", port=PORT, single_connection_client=True, socket_timeout=10)
    c.ping()
    return c


def prefill(side):
    side.flushall()
    p = side.pipeline(transaction=False)
    for cls, n in (("ro", RO), ("rw", RW), ("cnt", CNT)):
        for i in range(n):
            p.set(f"{cls}:{i}", regcheck.initial(f"{cls}:{i}"))
    in_netns(NS_SRV, p.execute)     # a pipeline opens a connection of its own


def cached_ro():
    keys = json.loads(ps("cache", "list", "--json").stdout or "[]")
    return sum(1 for k in keys if k["key"].startswith("ro:"))


def monitor_start(path):
    global MON
    f = open(path, "w")
    # `ip netns exec` execs redis-cli: MON.pid is redis-cli's own
    MON = subprocess.Popen(["ip", "netns", "exec", NS_SRV, "redis-cli", "-h", "127.0.0.1", "-p",
                            str(PORT), "monitor"], stdout=f, stderr=subprocess.STDOUT)
    f.close()
    for _ in range(50):
        if open(path).read().startswith("OK"):
            return
        time.sleep(0.1)
    raise RuntimeError("MONITOR did not start")


def monitor_stop(path, side):
    """Every command Redis ran before now is in path: ECHO a token over
    loopback, wait until MONITOR wrote it, then stop redis-cli by PID."""
    global MON
    token = f"clients-done-{os.getpid()}-{time.monotonic_ns()}"
    side.echo(token)
    try:
        for _ in range(100):
            with open(path, "rb") as f:      # the token is in the last lines
                f.seek(max(0, os.path.getsize(path) - 4096))
                if token.encode() in f.read():
                    return
            time.sleep(0.05)
        raise RuntimeError("MONITOR never showed the closing ECHO")
    finally:
        if MON is not None:
            MON.kill()
            MON.wait()
            MON = None


LINE = re.compile(r'^\d+\.\d+ \[\d+ ([0-9.]+):\d+\] "([A-Za-z]+)"(.*)$')


def redis_gets(path):
    """GET commands Redis ran for the client namespace's address, by key
    class (MGETs apart)."""
    by_cls = {}
    for ln in open(path, errors="replace"):
        m = LINE.match(ln.strip())
        if not m or m.group(1) != IP_CLI or m.group(2).upper() != "GET":
            continue
        key = m.group(3).strip().strip('"')
        cls = key.split(":", 1)[0]
        by_cls[cls] = by_cls.get(cls, 0) + 1
    return by_cls


def client_gets(log):
    by_cls = {}
    for ln in open(log):
        f = ln.split("\t")
        if f[0] == "G":
            cls = f[4].split(":", 1)[0]
            by_cls[cls] = by_cls.get(cls, 0) + 1
    return by_cls


def main():
    os.makedirs(a.tmp, exist_ok=True)
    tag = f"{a.mode}-{a.lib}"
    log, mon = os.path.join(a.tmp, f"{tag}.log"), os.path.join(a.tmp, f"{tag}.monitor")
    ps("detach", "--force", check=False)
    side = in_netns(NS_SRV, loopback)
    prefill(side)       # before attach: no keyspace event reaches a watcher
    # per-command answering is what these clients need (opt-in: --cut)
    ps("attach", "--mode", a.mode, *(["--cut"] if a.mode in ("guarded", "retrans") else []))
    ps("cache", "warm", "--redis", f"127.0.0.1:{PORT}")
    ro_before = cached_ro()
    if ro_before != RO:
        raise RuntimeError(f"cache warm: {ro_before} of {RO} ro keys cached")
    monitor_start(mon)
    s0 = psstats.read(TGT)
    r = subprocess.run(["ip", "netns", "exec", NS_CLI, "node", os.path.join(HERE, "clients.js"),
                        "--lib", a.lib, "--modules", os.path.abspath(a.modules), "--host", IP_SRV, "--port", str(PORT),
                        "--conns", str(a.conns), "--seconds", str(a.seconds), "--seed", str(a.seed),
                        "--ro", str(RO), "--rw", str(RW), "--ttl", str(TTL), "--cnt", str(CNT),
                        "--miss", str(MISS), "--log", log],
                       capture_output=True, text=True, timeout=a.seconds + 60)
    s1 = psstats.read(TGT)
    monitor_stop(mon, side)
    if r.returncode or not s0 or not s1:
        raise RuntimeError(f"clients.js exit {r.returncode}: {(r.stderr or r.stdout).strip()[-500:]}"
                           if r.returncode else "`prestack stats --json` gave nothing")
    node = json.loads(r.stdout.strip().splitlines()[-1])
    ro_after = cached_ro()
    ps("detach", "--force", check=False)
    chk = regcheck.check(log)
    issued, at_redis = client_gets(log), redis_gets(mon)
    os.unlink(mon)      # tens of MB, and counted now
    d = {k: s1[k] - s0.get(k, 0) for k in s1 if isinstance(s1[k], int) and isinstance(s0.get(k), int)}
    gets, seen = sum(issued.values()), sum(at_redis.values())
    out = {
        "mode": a.mode, "lib": a.lib, "conns": a.conns, "seconds": node["seconds"],
        "ops": node["ops"], "batches": node["batches"],
        "errors": node["errors"] + chk["errors"], "wrong": chk["wrong"], "stale": chk["stale"],
        "reads": chk["reads"], "writes": chk["writes"],
        "gets": gets, "gets_ro": issued.get("ro", 0), "ro_at_redis": at_redis.get("ro", 0),
        "answered_ro": issued.get("ro", 0) - at_redis.get("ro", 0),
        "answered_share": round((issued.get("ro", 0) - at_redis.get("ro", 0)) / issued["ro"], 4)
        if issued.get("ro") else 0,
        "get_hits": d.get("get_hits", 0), "answered_all": gets - seen,
        "gets_by_class": issued, "at_redis_by_class": at_redis,
        "ro_cached_before": ro_before, "ro_cached_after": ro_after,
        "fills": d.get("fills", 0), "invalidations": d.get("invalidations", 0),
        "flows_untrusted": d.get("flows_untrusted", 0),
        "fallbacks": {k: v for k, v in sorted(d.items()) if k.startswith("fb_") and v},
        "examples": chk["examples"], "log": log,
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (RuntimeError, OSError, ValueError, subprocess.SubprocessError, redis.RedisError) as e:
        print(f"clients.py: {a.mode} {a.lib}: {e}", file=sys.stderr)
        sys.exit(1)
    finally:
        if MON is not None:
            MON.kill()
            MON.wait()
        subprocess.run([PS, "detach", "--force", *TGT], capture_output=True)
