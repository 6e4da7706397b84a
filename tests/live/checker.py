#!/usr/bin/python3
"""Linearizable checker: several python3-redis connections, one operation at
a time in a random interleaving, every reply compared with a model of the
store. A wrong reply that equals an older value of the key is a stale read.
With --side HOST:PORT --side-netns NS, a share of the writes goes through
another path (a connection made in that namespace, e.g. loopback inside
the server's), which prestack sees only through its side path."""
import argparse
import os
import random
import sys
import time

import redis

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "pylib"))
from prestack_lib.netns import in_netns  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("--host", required=True)
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--ops", type=int, default=100000)
ap.add_argument("--conns", type=int, default=8)
ap.add_argument("--keys", type=int, default=50)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--max-seconds", type=float, default=540)
ap.add_argument("--max-value", type=int, default=300,
                help="SET values of 1..N bytes after their 'i:' prefix")
ap.add_argument("--side", help="HOST:PORT of another path for a share of the writes")
ap.add_argument("--side-netns", help="the namespace of --side")
ap.add_argument("--side-share", type=float, default=0.3, help="writes sent through --side")
a = ap.parse_args()

rnd = random.Random(a.seed)
conns = [redis.Redis(host=a.host, port=a.port, single_connection_client=True,
                     socket_timeout=10) for _ in range(a.conns)]
side = None
if a.side:
    h, p = a.side.rsplit(":", 1)

    def mk():
        c = redis.Redis(host=h, port=int(p), single_connection_client=True, socket_timeout=10)
        c.ping()    # connected there
        return c
    side = in_netns(a.side_netns, mk) if a.side_netns else mk()
keys = [f"ck:{i}" for i in range(a.keys)]
model = {}
history = {k: set() for k in keys}   # every value a key ever held
conns[0].delete(*keys)

gets = wrong = stale = errors = 0
t0 = time.monotonic()
for i in range(a.ops):
    if time.monotonic() - t0 > a.max_seconds:
        print(f"time bound hit after {i} ops")
        errors += 1
        break
    c = rnd.choice(conns)
    k = rnd.choice(keys)
    x = rnd.random()
    if side is not None and x >= 0.7 and rnd.random() < a.side_share:
        c = side        # a write through the other path
    try:
        if x < 0.7:
            gets += 1
            got = c.get(k)
            want = model.get(k)
            if got != want:
                if got is not None and got in history[k] or got is None and want is not None and k in history:
                    stale += 1
                else:
                    wrong += 1
                if wrong + stale <= 10:
                    print(f"op {i}: GET {k} -> {got!r}, model {want!r}")
        elif x < 0.9:
            v = (f"{i}:" + "x" * rnd.randrange(1, a.max_value)).encode()
            if c.set(k, v) is not True:
                errors += 1
            model[k] = v
            history[k].add(v)
        else:
            n = c.delete(k)
            if n != (1 if k in model else 0):
                wrong += 1
                print(f"op {i}: DEL {k} -> {n}, model has key: {k in model}")
            model.pop(k, None)
    except redis.RedisError as e:
        errors += 1
        if errors <= 10:
            print(f"op {i}: {type(e).__name__}: {e}")
        c.connection_pool.reset()

print(f"ops={i + 1} gets={gets} wrong={wrong} stale={stale} errors={errors} "
      f"{'side_writes=on ' if side is not None else ''}"
      f"seconds={time.monotonic() - t0:.1f}")
sys.exit(1 if wrong or stale or errors else 0)
