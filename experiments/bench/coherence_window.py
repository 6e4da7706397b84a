#!/usr/bin/python3
"""coherence_window.py - how long after a change XDP does not see can a GET
through XDP still be answered with what was before? Default prestack
(`attach` puts the side path on every other interface and starts the
coherence watcher), on the netns testbed, in each mode given.

Scenarios, each a distribution over --rounds rounds:

  loopback  the key's old value cached at XDP (a GET that fills, one
            answered at XDP, checked on the counters); a SET of a new value
            over loopback inside the server namespace; as soon as its reply
            is back, GETs through XDP back to back until one returns the
            new value. The round's window: the send time of the last GET
            answered with the old value, from the write's completion (0
            when the first GET already saw the new value).
  iface2    the same, the SET through a second veth into the server
            namespace (testbed.env DEV_SIDE, 198.18.2.0/24) that prestack
            is not attached to.
  expiry    a key SET with PX (40 ms) through XDP, cached (a fill, an
            answer), then GETs through XDP around its expiry: the window
            is how long after the expiry (the SET's reply + PX + 1 ms,
            Redis's millisecond) the last GET returning the value was sent.
            --threads keys at a time.
  unix      (not by default) as loopback, the SET by a client on Redis's Unix
            socket: no packet shows it, the watcher takes every keyspace
            event then (asynchronously).
  script    (not by default) as expiry, the key SET with PX by a script that
            does not name it (EVAL ... 0 key): its TTL is not known, its
            expiry comes by the watcher's expired event, after Redis has
            expired it (its active cycle: nobody reads it in Redis).
  eviction  Redis with maxmemory (3 MB) and allkeys-random: keys SET through XDP
            and cached; Redis evicts them as it fills; on each eviction
            event (our own subscription) of a cached key, GETs through XDP
            until nil: the window is how long after the event reached us
            the value was still answered.

CSVs (results/ or $PS_RESULTS): coherence-window.csv, the windows of each
(scenario, mode) as a histogram (window_lo_us, window_hi_us, rounds; the
cells of this run replace theirs, the others stay);
coherence-window-summary.csv, a row per (scenario, mode) appended: rounds,
cached_rounds (the old value was cached at XDP before the change),
rounds_with_stale_reads, p50/p99/p99.9/max window. Each scenario holds
/tmp/prestack-live.lock (or runs under a lock held above it).

usage: coherence_window.py [--rounds N] [--modes guarded,retrans]
                           [--scenarios loopback,iface2,expiry,eviction]
"""
import argparse
import bisect
import os
import subprocess
import sys
import threading
import time

import redis

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "pylib"))
from prestack_lib import csvio  # noqa: E402
from prestack_lib.provenance import provenance  # noqa: E402
from prestack_lib import PS, TOP  # noqa: E402
from prestack_lib.testbed import (NS_CLI, NS_SRV, DEV_SRV, IP_SRV, PORT, TGT, DEV_SIDE,  # noqa: E402
                                  DEV_SIDE_PEER, IP_SIDE_SRV, IP_SIDE_CLI)
from prestack_lib.bpfmap import Counters  # noqa: E402
from prestack_lib.netns import in_netns  # noqa: E402
from prestack_lib.livelock import live_lock  # noqa: E402

RES = os.environ.get("PS_RESULTS") or os.path.join(TOP, "results")
TB = os.path.join(TOP, "experiments", "testbed.sh")
PIN = f"/sys/fs/bpf/prestack/{NS_SRV}/{DEV_SRV}"
SCENARIOS = ("loopback", "iface2", "expiry", "eviction")
# the classes left to the watcher's events, not in the default run
MORE = ("unix", "script")
UNIX_SOCK = "/run/prestack-testbed/redis.sock"
PX_MS = 40
# histogram edges (us): 0 alone, then decades in 1-2-5 steps
EDGES = [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000,
         100000, 200000, 500000, 1000000, 5000000]

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--rounds", type=int, default=100000)
ap.add_argument("--modes", default="guarded,retrans")
ap.add_argument("--scenarios", default=",".join(SCENARIOS))
ap.add_argument("--threads", type=int, default=32, help="expiry: keys in flight at once")
ap.add_argument("--out", default=os.path.join(RES, "coherence-window.csv"))
a = ap.parse_args()
MODES = [m for m in a.modes.split(",") if m]
SCEN = [s for s in a.scenarios.split(",") if s]
if a.rounds < 10 or any(s not in SCENARIOS + MORE for s in SCEN):
    ap.error(f"--rounds >= 10; --scenarios from {','.join(SCENARIOS + MORE)}")


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else 0.0


def sh(*cmd, check=True):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if check and r.returncode:
        raise RuntimeError(f"{' '.join(cmd)}: {(r.stderr or r.stdout).strip()[:300]}")
    return r


def conn(ns, host):
    c = in_netns(ns, lambda: redis.Redis(host=host, port=PORT, single_connection_client=True,
                                         socket_timeout=10))
    in_netns(ns, c.ping)   # connects there
    return c


def srv_cli(*args):
    return sh("ip", "netns", "exec", NS_SRV, "redis-cli", "-h", "127.0.0.1", "-p", str(PORT), *args)


def second_path(up):
    """The veth DEV_SIDE (server) <-> DEV_SIDE_PEER (client), Redis also
    bound to its address; or gone."""
    if not up:
        sh("ip", "-n", NS_SRV, "link", "del", DEV_SIDE, check=False)
        return
    sh("ip", "link", "add", DEV_SIDE, "netns", NS_SRV, "type", "veth", "peer", "name",
       DEV_SIDE_PEER, "netns", NS_CLI)
    sh("ip", "-n", NS_SRV, "addr", "add", f"{IP_SIDE_SRV}/24", "dev", DEV_SIDE)
    sh("ip", "-n", NS_CLI, "addr", "add", f"{IP_SIDE_CLI}/24", "dev", DEV_SIDE_PEER)
    sh("ip", "-n", NS_SRV, "link", "set", DEV_SIDE, "up")
    sh("ip", "-n", NS_CLI, "link", "set", DEV_SIDE_PEER, "up")
    srv_cli("config", "set", "bind", f"{IP_SRV} 127.0.0.1 {IP_SIDE_SRV}")


class Windows:
    """One (scenario, mode)'s rounds."""

    def __init__(self):
        self.w, self.cached, self.lock = [], 0, threading.Lock()

    def add(self, window_us, cached):
        with self.lock:
            self.w.append(window_us)
            self.cached += bool(cached)


def writes(mode, path, rounds):
    """loopback / iface2: cached at XDP, written the other way, read at once."""
    ws = Windows()
    ctr = Counters(PIN)
    cli = conn(NS_CLI, IP_SRV)
    if path == "unix":
        side = redis.Redis(unix_socket_path=UNIX_SOCK, single_connection_client=True,
                           socket_timeout=10)
        side.ping()
    else:
        side = conn(NS_SRV, "127.0.0.1") if path == "loopback" else conn(NS_CLI, IP_SIDE_SRV)
    key = f"cw:{path}:{mode}"
    side.set(key, b"v0")
    for i in range(1, rounds + 1):
        old, new = f"v{i - 1}".encode(), f"v{i}".encode()
        cached = False
        for _ in range(5):
            h = ctr.get("get_hits")
            if cli.get(key) != old:
                raise RuntimeError(f"{path} round {i}: the old value is not what Redis holds")
            if ctr.get("get_hits") > h:
                cached = True
                break
        side.set(key, new)
        t_done = time.monotonic()
        last_stale = None
        while True:
            t = time.monotonic()
            got = cli.get(key)
            if got == new:
                break
            if got != old:
                raise RuntimeError(f"{path} round {i}: GET returned {got!r}")
            last_stale = t
            if t - t_done > 5:
                raise RuntimeError(f"{path} round {i}: the old value is still served after 5 s")
        ws.add(round((last_stale - t_done) * 1e6, 1) if last_stale else 0.0, cached)
    ctr.close()
    return ws


def expiry(mode, rounds, script=False):
    """Keys SET with PX through XDP: no GET sent after the expiry returns
    the value. --threads keys at a time. script: SET by a script that does
    not name the key."""
    ws = Windows()
    ctr = Counters(PIN)
    left = [rounds]
    err = []
    lock = threading.Lock()

    def worker(n):
        try:
            c = conn(NS_CLI, IP_SRV)
            i = 0
            while True:
                with lock:
                    if left[0] <= 0:
                        return
                    left[0] -= 1
                i += 1
                k = f"ex:{mode}:{n}:{i}"
                if script:
                    c.eval("redis.call('SET', ARGV[1], 'x', 'PX', ARGV[2])", 0, k, PX_MS)
                else:
                    c.set(k, b"x", px=PX_MS)
                t_done = time.monotonic()
                c.get(k)                      # the miss every write costs: fills
                h = ctr.get("get_hits")
                cached = c.get(k) == b"x" and ctr.get("get_hits") > h
                expire = t_done + (PX_MS + 1) / 1000
                time.sleep(max(0.0, expire - 0.006 - time.monotonic()))
                last_val = None
                while True:
                    t = time.monotonic()
                    got = c.get(k)
                    if got is None:
                        break
                    last_val = t
                    if t - expire > 5:
                        raise RuntimeError(f"{k} still answered 5 s after its expiry")
                    if script:
                        time.sleep(0.001)   # the window may be long: a GET a ms
                w = (last_val - expire) * 1e6 if last_val and last_val > expire else 0.0
                ws.add(round(w, 1), cached)
        except Exception as e:      # noqa: BLE001 (the run is lost, said below)
            err.append(f"thread {n}: {type(e).__name__}: {e}")

    th = [threading.Thread(target=worker, args=(n,)) for n in range(a.threads)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    ctr.close()
    if err:
        raise RuntimeError(err[0])
    return ws


def eviction(mode, rounds):
    """Keys SET through XDP and cached; on each eviction event of one,
    GETs through XDP until nil."""
    ws = Windows()
    ctr = Counters(PIN)
    cli = conn(NS_CLI, IP_SRV)
    sub = conn(NS_SRV, "127.0.0.1").pubsub(ignore_subscribe_messages=True)
    in_netns(NS_SRV, lambda: sub.subscribe("__keyevent@0__:evicted"))
    cached = {}
    # small enough for XDP's own reply: a reply handed to the TC ingress
    # path is rebuilt from its cache entry, and one invalidated under it
    # stalls the connection (a limit of that path, docs/tc-reply.md)
    val = b"e" * 100
    i = 0
    t0 = time.monotonic()
    while len(ws.w) < rounds:
        i += 1
        k = f"ev:{mode}:{i}"
        cli.set(k, val)
        cli.get(k)                            # fills
        h = ctr.get("get_hits")
        if cli.get(k) == val and ctr.get("get_hits") > h:
            cached[k] = True
        while True:
            m = sub.get_message(timeout=0)
            if not m:
                break
            t_ev = time.monotonic()
            ek = m["data"].decode()
            if ek not in cached:
                continue
            del cached[ek]
            last_val = None
            while True:
                t = time.monotonic()
                if cli.get(ek) is None:
                    break
                last_val = t
                if t - t_ev > 5:
                    raise RuntimeError(f"{ek} still answered 5 s after its eviction")
            ws.add(round((last_val - t_ev) * 1e6, 1) if last_val else 0.0, True)
        if time.monotonic() - t0 > 3600:
            raise RuntimeError("eviction: an hour without enough rounds")
    sub.close()
    ctr.close()
    return ws


def one(scenario, mode):
    """Testbed up, prestack attached by default, the scenario's rounds."""
    env = dict(os.environ)
    if scenario == "unix":
        env["PS_REDIS_ARGS"] = f"--unixsocket {UNIX_SOCK} --unixsocketperm 700"
    if subprocess.run([TB, "down"], capture_output=True).returncode or \
            subprocess.run([TB, "up"], capture_output=True, env=env).returncode:
        raise RuntimeError("testbed up failed")
    try:
        if scenario == "iface2":
            second_path(True)
        if scenario == "eviction":
            srv_cli("config", "set", "maxmemory", "3mb")
            srv_cli("config", "set", "maxmemory-policy", "allkeys-random")
        sh(PS, "attach", *TGT, "--mode", mode)
        if scenario in ("loopback", "iface2", "unix"):
            return writes(mode, scenario, a.rounds)
        if scenario in ("expiry", "script"):
            return expiry(mode, a.rounds, script=scenario == "script")
        return eviction(mode, a.rounds)
    finally:
        sh(PS, "detach", *TGT, "--force", check=False)
        second_path(False)
        sh(TB, "down", check=False)


def main():
    meta = provenance()
    hist, summ = [], []
    for sc in SCEN:
        for m in MODES:
            with live_lock(f"coherence-window {sc} {m}", budget_s=900):
                t0 = time.monotonic()
                ws = one(sc, m)
            w = ws.w
            stale = sum(1 for x in w if x > 0)
            row = {**meta, "scenario": sc, "mode": m, "rounds": len(w),
                   "cached_rounds": ws.cached, "rounds_with_stale_reads": stale,
                   "p50_us": pct(w, .5), "p99_us": pct(w, .99), "p999_us": pct(w, .999),
                   "max_us": max(w) if w else 0.0, "seconds": round(time.monotonic() - t0)}
            summ.append(row)
            counts = [0] * len(EDGES)
            for x in w:
                counts[max(0, bisect.bisect_right(EDGES, x) - 1)] += 1
            for j, n in enumerate(counts):
                if n:
                    hist.append({**meta, "scenario": sc, "mode": m, "window_lo_us": EDGES[j],
                                 "window_hi_us": EDGES[j + 1] if j + 1 < len(EDGES) else "",
                                 "rounds": n})
            print(f"# {sc} {m}: {len(w)} rounds ({ws.cached} with the old value cached at XDP): "
                  f"{stale} saw a stale read; window p50 {row['p50_us']} us, p99 {row['p99_us']} us, "
                  f"p99.9 {row['p999_us']} us, max {row['max_us']} us ({row['seconds']} s)", flush=True)
    # the cells measured now replace theirs; the others' rows stay
    done = {(r["scenario"], r["mode"]) for r in summ}
    keep = [r for r in csvio.load(a.out)
            if "scenario" in r and (r["scenario"], r["mode"]) not in done]
    csvio.save(a.out, keep + hist, stamp=False)
    sp = os.path.join(os.path.dirname(a.out), "coherence-window-summary.csv")
    csvio.append(sp, summ)
    print(f"# -> {a.out}, {sp}")


main()
