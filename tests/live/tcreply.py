#!/usr/bin/python3
"""GET each key named on the command line through redis-py and compare it
byte for byte with the file of the same name in --dir; prints one line per
key and exits 1 if any differs."""
import argparse
import os
import sys

import redis

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("--host", required=True)
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--dir", required=True)
ap.add_argument("--rounds", type=int, default=1)
ap.add_argument("keys", nargs="+")
a = ap.parse_args()

r = redis.Redis(host=a.host, port=a.port, single_connection_client=True, socket_timeout=5)
bad = 0
for _ in range(a.rounds):
    for k in a.keys:
        with open(os.path.join(a.dir, k), "rb") as f:
            want = f.read()
        got = r.get(k)
        if got != want:
            bad += 1
            print(f"{k}: got {len(got) if got is not None else None} bytes, want {len(want)}")
print(f"keys={len(a.keys)} rounds={a.rounds} bad={bad}")
sys.exit(1 if bad else 0)
