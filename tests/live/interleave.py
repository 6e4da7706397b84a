#!/usr/bin/python3
"""interleave.py HOST PORT - one python3-redis connection, GETs of cached
keys interleaved with writes, counters, deletes, PINGs and misses; every
reply against a model."""
import random
import sys

import redis

host, port = sys.argv[1], int(sys.argv[2])
rnd = random.Random(2)
r = redis.Redis(host=host, port=port, single_connection_client=True,
                socket_timeout=5)
model = {f"key{i}": f"value-{i}".encode() for i in range(20)}
wrong = 0
ops = 0


def check(what, got, want):
    global wrong
    if got != want:
        wrong += 1
        if wrong <= 5:
            print(f"op {ops}: {what}: got {got!r} want {want!r}")


for ops in range(800):
    k = f"key{rnd.randrange(20)}"
    x = rnd.random()
    if x < 0.6:
        check(f"GET {k}", r.get(k), model.get(k))
    elif x < 0.7:
        v = f"new-{ops}".encode()
        check(f"SET {k}", r.set(k, v), True)
        model[k] = v
    elif x < 0.8:
        c = f"ctr{rnd.randrange(3)}"
        n = int(model.get(c, b"0")) + 1
        check(f"INCR {c}", r.incr(c), n)
        model[c] = str(n).encode()
    elif x < 0.85:
        check(f"DEL {k}", r.delete(k), 1 if k in model else 0)
        model.pop(k, None)
    elif x < 0.92:
        check("PING", r.ping(), True)
    else:
        check("GET missing", r.get(f"missing{ops}"), None)

check("final PING", r.ping(), True)
me = r.client_id()
ids = [str(c["id"]) for c in r.client_list()]
check("CLIENT LIST has this connection", str(me) in ids, True)
print(f"ops={ops + 1} wrong={wrong}")
sys.exit(1 if wrong else 0)
