#!/usr/bin/python3
"""coherence_window.py - how long after a write XDP never sees (loopback,
inside the server namespace) can a GET through XDP still be answered with
the old value? Default prestack: attach starts the coherence watcher.

Each round: the key holds the old value and is cached at XDP (a GET that
fills, then one answered at XDP, checked on the counters); the other path
writes a new value; as soon as its reply is back, GETs through XDP are sent
back to back until one returns the new value. The window of a round is the
send time of the last GET answered with the old value, from the write's
completion (0 when the first GET already saw the new value). This client
sends a GET every ~100 us: windows shorter than that read as 0.

CSV: results/coherence-window.csv (one row per round) and a summary line
per run in results/coherence-window-summary.csv (p50/p99/p99.9/max).

usage: coherence_window.py [--rounds N]
"""
import argparse
import os
import subprocess
import sys
import time

import redis

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "pylib"))
from prestack_lib import csvio  # noqa: E402
from prestack_lib.provenance import provenance  # noqa: E402
from prestack_lib import PS, TOP  # noqa: E402
from prestack_lib.testbed import NS_CLI, NS_SRV, DEV_SRV, IP_SRV, PORT, TGT  # noqa: E402
from prestack_lib.bpfmap import Counters  # noqa: E402
from prestack_lib.netns import in_netns  # noqa: E402

RES = os.environ.get("PS_RESULTS") or os.path.join(TOP, "results")
TB = os.path.join(TOP, "experiments", "testbed.sh")
ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--rounds", type=int, default=2000)
ap.add_argument("--out", default=os.path.join(RES, "coherence-window.csv"))
a = ap.parse_args()
if a.rounds < 10:
    ap.error("--rounds >= 10")


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main():
    if subprocess.run([TB, "up"], capture_output=True).returncode:
        sys.exit("coherence_window: testbed up failed")
    rows = []
    try:
        subprocess.run([PS, "attach", *TGT, "--mode", "guarded"], check=True, capture_output=True)
        side = in_netns(NS_SRV, lambda: redis.Redis(host="127.0.0.1", port=PORT,
                                                    single_connection_client=True))
        in_netns(NS_SRV, side.ping)   # connects there
        cli = in_netns(NS_CLI, lambda: redis.Redis(host=IP_SRV, port=PORT,
                                                   single_connection_client=True))
        in_netns(NS_CLI, cli.ping)
        ctr = Counters(f"/sys/fs/bpf/prestack/{NS_SRV}/{DEV_SRV}")
        key = "cw:key"
        side.set(key, b"v0")
        for i in range(1, a.rounds + 1):
            old, new = f"v{i - 1}".encode(), f"v{i}".encode()
            # cached at XDP: a fill, then a hit
            cached = False
            for _ in range(20):
                h = ctr.get("get_hits")
                if cli.get(key) != old:
                    sys.exit(f"round {i}: the old value is not what Redis holds")
                if ctr.get("get_hits") > h:
                    cached = True
                    break
            side.set(key, new)
            t_done = time.monotonic()
            last_stale, gets = None, 0
            while True:
                t = time.monotonic()
                got = cli.get(key)
                gets += 1
                if got == new:
                    break
                if got != old:
                    sys.exit(f"round {i}: GET returned {got!r}")
                last_stale = t
                if t - t_done > 5:
                    sys.exit(f"round {i}: the old value is still served after 5 s")
            rows.append({"round": i, "cached": int(cached), "gets": gets,
                         "window_us": round((last_stale - t_done) * 1e6, 1) if last_stale else 0.0})
        ctr.close()
    finally:
        subprocess.run([PS, "detach", *TGT, "--force"], capture_output=True)
        subprocess.run([TB, "down"], capture_output=True)
    meta = provenance()
    csvio.save(a.out, [{**meta, **r} for r in rows])
    win = [r["window_us"] for r in rows]
    stale = sum(1 for x in win if x > 0)
    summ = {**meta, "rounds": len(rows), "cached_rounds": sum(r["cached"] for r in rows),
            "rounds_with_stale_reads": stale,
            "p50_us": pct(win, .5), "p99_us": pct(win, .99), "p999_us": pct(win, .999),
            "max_us": max(win)}
    sp = os.path.join(os.path.dirname(a.out), "coherence-window-summary.csv")
    csvio.append(sp, [summ])
    print(f"# {len(rows)} rounds ({summ['cached_rounds']} with the old value cached at XDP): "
          f"{stale} saw a stale read; window p50 {summ['p50_us']} us, p99 {summ['p99_us']} us, "
          f"p99.9 {summ['p999_us']} us, max {summ['max_us']} us -> {a.out}, {sp}")


main()
