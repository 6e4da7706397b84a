#!/usr/bin/python3
"""A client that pipelines across answers (issue class 7).

Raw sockets (TCP_NODELAY) to the fronted Redis: each round sends a batch of
GET hits, GET misses, SETs and DELs, one command per send() with short
random gaps and without reading, so that XDP's answers to the early GETs
and the kernel's replies to the writes arrive while later requests are
still going out: the client's ACKs (and its later data segments) cover
several answered runs at once. Then every reply of the batch is read and
compared with an exact model of the store (one connection at a time, so
the model is exact). Every third round goes through a redis-py pipeline
(transaction=False: the whole batch in one write) instead.

A round slower than --slow seconds is counted as a stall: a segment the
kernel dropped is recovered only at the client's RTO (>= 200 ms), so a
stall is how a mistranslated ACK shows on the wire. Prints one summary
line; exit 1 if any reply differs or any round stalls.
"""
import argparse
import random
import socket
import sys
import time

import redis

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("--host", required=True)
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--conns", type=int, default=4)
ap.add_argument("--rounds", type=int, default=600)
ap.add_argument("--keys", type=int, default=16)
ap.add_argument("--seed", type=int, default=19)
ap.add_argument("--slow", type=float, default=0.15)
ap.add_argument("--max-seconds", type=float, default=120)
a = ap.parse_args()
rnd = random.Random(a.seed)


class Conn:
    def __init__(self):
        self.s = socket.create_connection((a.host, a.port), timeout=5)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self, *args):
        out = b"*%d\r\n" % len(args)
        for x in args:
            x = x if isinstance(x, bytes) else str(x).encode()
            out += b"$%d\r\n%s\r\n" % (len(x), x)
        self.s.sendall(out)

    def line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise ConnectionError("closed")
            self.buf += d
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln

    def reply(self):
        ln = self.line()
        t, rest = ln[:1], ln[1:]
        if t == b"+":
            return rest
        if t == b"-":
            return ("error", rest)
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                d = self.s.recv(65536)
                if not d:
                    raise ConnectionError("closed")
                self.buf += d
            v, self.buf = self.buf[:n], self.buf[n + 2:]
            return v
        raise ValueError(f"unexpected reply {ln!r}")


keys = [f"pl:{i}" for i in range(a.keys)]
missing = [f"pl:none:{i}" for i in range(4)]
conns = [Conn() for _ in range(a.conns)]
pipes = [redis.Redis(host=a.host, port=a.port, single_connection_client=True,
                     socket_timeout=5) for _ in range(a.conns)]
model = {}
conns[0].send("DEL", *keys, *missing)
conns[0].reply()
for k in keys:  # every key set, missed once (filled), so the next GET is answered
    v = f"init:{k}".encode()
    conns[0].send("SET", k, v)
    conns[0].send("GET", k)
    assert conns[0].reply() == b"OK" and conns[0].reply() == v
    model[k] = v


def batch(i):
    """Commands and their expected replies, the model updated in order."""
    cmds = []
    for j in range(rnd.randrange(4, 13)):
        r = rnd.random()
        if r < 0.55:
            k = rnd.choice(keys)
            cmds.append((("GET", k), model.get(k)))
        elif r < 0.65:
            k = rnd.choice(missing)
            cmds.append((("GET", k), None))
        elif r < 0.90:
            k, v = rnd.choice(keys), f"{i}.{j}:".encode() + b"x" * rnd.randrange(0, 80)
            model[k] = v
            cmds.append((("SET", k, v), b"OK"))
        else:
            k = rnd.choice(keys)
            cmds.append((("DEL", k), 1 if model.pop(k, None) is not None else 0))
    return cmds


replies = mismatches = stalls = 0
worst = 0.0
t0 = time.monotonic()
for i in range(a.rounds):
    if time.monotonic() - t0 > a.max_seconds:
        print(f"time bound hit after {i} rounds")
        mismatches += 1
        break
    j = rnd.randrange(a.conns)
    cmds = batch(i)
    ts = time.monotonic()
    try:
        if i % 3 == 2:
            p = pipes[j].pipeline(transaction=False)
            for c, _ in cmds:
                p.execute_command(*c)
            got = p.execute(raise_on_error=False)  # SET's reply as True
        else:
            c = conns[j]
            for cmd, _ in cmds:
                c.send(*cmd)
                gap = rnd.choice((0, 0, 0.0002, 0.001, 0.003))
                if gap:
                    time.sleep(gap)
            got = [c.reply() for _ in cmds]
    except (OSError, ConnectionError, redis.RedisError) as e:
        print(f"round {i}: {type(e).__name__} {e}")
        mismatches += 1
        break
    dt = time.monotonic() - ts
    worst = max(worst, dt)
    if dt > a.slow:
        stalls += 1
        if stalls <= 10:
            print(f"round {i}: {len(cmds)} commands took {dt * 1000:.0f} ms")
    for (cmd, want), g in zip(cmds, got):
        replies += 1
        if g is True and want == b"OK":
            continue
        if g != want:
            mismatches += 1
            if mismatches <= 10:
                print(f"round {i}: {cmd[0]} {cmd[1]}: got {g!r} want {want!r}")
print(f"rounds={i + 1} replies={replies} mismatches={mismatches} stalls={stalls} "
      f"worst_round_ms={worst * 1000:.0f} seconds={time.monotonic() - t0:.1f}")
sys.exit(1 if mismatches or stalls else 0)
