#!/usr/bin/python3
"""pyclient.py - the campaign's redis-py clients, every reply judged
against a model of the store; run in the client namespace by run.py.

  pyclient.py --host H --port P --shape pooled|pipelined|keepalive|churn
              [--secs S] [--seed N] [--threads T] [--pool N] [--depth D]
              [--idle-ms LO:HI] [--conns N] [--patience S] [--tag T]
  pyclient.py --preload --host 127.0.0.1 --port P   (the read-only keys)

Shapes (real redis-py connections, its own RESP parser):
  pooled     T threads share one ConnectionPool of --pool connections, one
             command at a time each (a thread gets whichever connection is
             free)
  pipelined  T threads, each its own connection, sending pipelines of
             --depth commands (transaction=False: one write, then the
             replies in order)
  keepalive  T threads, each one connection with TCP keep-alive every
             second (SO_KEEPALIVE, TCP_KEEPIDLE 1, TCP_KEEPINTVL 1), bursts
             of 1..8 commands separated by idle gaps of --idle-ms: the
             kernel's probes (seq one below the next byte) follow answered
             requests
  churn      T threads, each opening a new connection for every 1..4
             commands, until --conns connections were opened over all (or
             --secs): flow-table and retransmission-buffer eviction

The mix: GET of a read-only key (RO_KEYS of them, preloaded, sizes from 12
B to 3 KB so that XDP, TC ingress and the large-value cache all answer),
GET, SET and DEL of keys each thread owns (so a thread's replies can be
judged exactly whatever the other threads do). A key's model is the set of
values it may hold now (one, unless a write's outcome is unknown after a
stall or reset) and the set it held before. A GET reply is correct (in
the first set), stale (in the second) or wrong (neither; also an
unparsable reply or a reply of the wrong type). A SET must answer OK and a
DEL the count the model predicts. Bytes that arrive on an idle connection
(none of its commands outstanding) are wrong too: redis-py would otherwise
reconnect over them unseen.

A command without a reply for --patience seconds is a stall (redis-py's
socket timeout); a connection closed or reset under a command is a reset.
Either way the connection is dropped, the writes in flight become
uncertain, and the thread goes on with a new connection.

Prints one JSON line: replies (judged), correct, wrong, stale, errors,
stalls, resets, connections, stalls_100ms (replies later than 100 ms),
max_ms, seconds, bad (up to 10 examples).
"""
import argparse
import json
import random
import socket
import sys
import threading
import time

import redis

RO_KEYS = 64
SIZES = (12, 40, 100, 150, 300, 700, 1200, 3000)


def ro_key(i):
    return f"ro:{i}"


def ro_value(i):
    """The preloaded value of ro:<i>: sizes cycle through SIZES."""
    head = f"ro{i}:".encode()
    return head + bytes([97 + i % 26]) * (SIZES[i % len(SIZES)] - len(head))


class Key:
    __slots__ = ("cur", "old")

    def __init__(self):
        self.cur, self.old = {None}, set()

    def wrote(self, v):
        self.old |= self.cur
        self.cur = {v}

    def maybe(self, v):
        self.cur.add(v)


class Stats:
    FIELDS = ("replies", "correct", "wrong", "stale", "errors", "stalls", "resets",
              "connections", "stalls_100ms")

    def __init__(self):
        self.lock = threading.Lock()
        self.c = dict.fromkeys(self.FIELDS, 0)
        self.max_s = 0.0
        self.bad = []

    def add(self, **kw):
        with self.lock:
            for k, v in kw.items():
                self.c[k] += v

    def lat(self, s, n=1):
        with self.lock:
            if s > 0.1:
                self.c["stalls_100ms"] += n
            self.max_s = max(self.max_s, s)

    def flag(self, what, msg):
        with self.lock:
            self.c[what] += 1
            if len(self.bad) < 10:
                self.bad.append(f"{what}: {msg}"[:200])


class Worker:
    """One thread's keys, model and random stream."""

    def __init__(self, a, st, tid):
        self.a, self.st, self.tid = a, st, tid
        self.rnd = random.Random(a.seed * 1000 + tid)
        self.keys = [f"{a.tag}:{tid}:{i}" for i in range(8)]
        self.model = {k: Key() for k in self.keys}
        self.n = 0

    def value(self):
        self.n += 1
        head = f"{self.a.tag}{self.tid}:{self.n}:".encode()
        size = self.rnd.choice(SIZES)
        return head + b"v" * max(0, size - len(head))

    def draw(self):
        """One command: (kind, key, value)."""
        x = self.rnd.random()
        if x < 0.45:
            return ("get", ro_key(self.rnd.randrange(RO_KEYS)), None)
        k = self.rnd.choice(self.keys)
        if x < 0.80:
            return ("get", k, None)
        if x < 0.95:
            return ("set", k, self.value())
        return ("del", k, None)

    def judge(self, op, r):
        kind, k, v = op
        st = self.st
        if isinstance(r, redis.exceptions.ResponseError):
            st.flag("errors", f"{kind} {k}: {r}")
            if kind != "get":
                self.uncertain(op)
            return
        if isinstance(r, Exception):
            st.flag("wrong", f"{kind} {k}: {type(r).__name__}: {r}")
            return
        st.add(replies=1)
        if kind == "get":
            if k.startswith("ro:"):
                want, old = {ro_value(int(k[3:]))}, set()
            else:
                want, old = self.model[k].cur, self.model[k].old
            if r in want:
                st.add(correct=1)
            elif r in old:
                st.flag("stale", f"GET {k}: got {r!r:.60} want {sorted(map(repr, want))[:2]}")
            else:
                st.flag("wrong", f"GET {k}: got {r!r:.60} want {sorted(map(repr, want))[:2]}")
        elif kind == "set":
            if r is True:
                st.add(correct=1)
                self.model[k].wrote(v)
            else:
                st.flag("wrong", f"SET {k}: got {r!r:.60}")
                self.uncertain(op)
        else:
            m = self.model[k]
            can = {0 if x is None else 1 for x in m.cur}
            if isinstance(r, int) and not isinstance(r, bool) and r in can:
                st.add(correct=1)
                m.wrote(None)
            else:
                st.flag("wrong", f"DEL {k}: got {r!r:.60}, model allows {sorted(can)}")
                self.uncertain(op)

    def uncertain(self, op):
        kind, k, v = op
        if kind == "set":
            self.model[k].maybe(v)
        elif kind == "del":
            self.model[k].maybe(None)

    def failed(self, ops, e):
        """The connection failed under ops (their writes may or may not
        have happened)."""
        for op in ops:
            self.uncertain(op)
        if isinstance(e, redis.exceptions.TimeoutError):
            self.st.flag("stalls", f"{ops[0][0]} {ops[0][1]}: no reply in {self.a.patience} s")
        else:
            self.st.flag("resets", f"{ops[0][0]} {ops[0][1]}: {type(e).__name__}: {e}")

    def one(self, cli, op):
        kind, k, v = op
        t0 = time.monotonic()
        try:
            if kind == "get":
                r = cli.get(k)
            elif kind == "set":
                r = cli.set(k, v)
            else:
                r = cli.delete(k)
        except (redis.exceptions.TimeoutError, redis.exceptions.ConnectionError) as e:
            self.failed([op], e)
            return False
        except redis.exceptions.ResponseError as e:
            r = e
        except (redis.exceptions.InvalidResponse, redis.exceptions.DataError, ValueError,
                UnicodeDecodeError) as e:
            r = e                       # the stream is corrupt: judged wrong
            self.st.lat(time.monotonic() - t0)
            self.judge(op, r)
            return False
        self.st.lat(time.monotonic() - t0)
        self.judge(op, r)
        return True

    def batch(self, cli, ops):
        pipe = cli.pipeline(transaction=False)
        for kind, k, v in ops:
            if kind == "get":
                pipe.get(k)
            elif kind == "set":
                pipe.set(k, v)
            else:
                pipe.delete(k)
        t0 = time.monotonic()
        try:
            rs = pipe.execute(raise_on_error=False)
        except (redis.exceptions.TimeoutError, redis.exceptions.ConnectionError) as e:
            self.failed(ops, e)
            return False
        except (redis.exceptions.InvalidResponse, redis.exceptions.DataError, ValueError,
                UnicodeDecodeError) as e:
            for op in ops:
                self.uncertain(op)
            self.st.flag("wrong", f"pipeline of {len(ops)}: {type(e).__name__}: {e}")
            return False
        self.st.lat(time.monotonic() - t0, len(ops))
        for op, r in zip(ops, rs):
            self.judge(op, r)
        return True


class CountingConnection(redis.Connection):
    """A connection that counts its connects, and bytes that arrive with no
    command outstanding: the pool asks can_read() before it hands out an
    idle connection, and would silently reconnect over them (a duplicated
    or misplaced reply); here they are a wrong reply."""
    stats = None

    def on_connect(self):
        if self.stats is not None:
            self.stats.add(connections=1)
        super().on_connect()

    def can_read(self, timeout=0):
        r = super().can_read(timeout)
        if r and self.stats is not None:
            self.stats.flag("wrong", f"bytes arrived on an idle connection: {self._peek()!r:.60}")
        return r

    def _peek(self):
        """The start of what is buffered (redis-py's own buffer: can_read
        has already taken it off the socket), for the example."""
        try:
            b = self._parser._buffer
            return b._buffer.getvalue()[b.bytes_read:][:60]
        except AttributeError:
            return b"?"


def pool_kw(a, keepalive=False):
    kw = {"connection_class": CountingConnection, "host": a.host, "port": a.port,
          "socket_timeout": a.patience, "socket_connect_timeout": a.patience,
          "retry_on_timeout": False}
    if keepalive:
        kw["socket_keepalive"] = True
        kw["socket_keepalive_options"] = {socket.TCP_KEEPIDLE: 1, socket.TCP_KEEPINTVL: 1,
                                          socket.TCP_KEEPCNT: 30}
    return kw


def connect(a, w, keepalive=False):
    """A client of one connection of its own (pipelines take it from the
    pool, single commands too), connected now; None if the connect failed
    (a stall or a reset)."""
    cli = redis.Redis(connection_pool=redis.ConnectionPool(max_connections=1,
                                                           **pool_kw(a, keepalive)))
    try:
        cli.connection_pool.release(cli.connection_pool.get_connection("PING"))
    except (redis.exceptions.TimeoutError, redis.exceptions.ConnectionError) as e:
        w.failed([("connect", "-", None)], e)
        cli.close()
        return None
    return cli


def run_thread(a, st, tid, deadline, shared):
    w = Worker(a, st, tid)
    if a.shape == "pooled":
        cli = redis.Redis(connection_pool=shared["pool"])
        while time.monotonic() < deadline:
            w.one(cli, w.draw())
        return
    if a.shape == "churn":
        while time.monotonic() < deadline:
            with shared["lock"]:
                if shared["left"] <= 0:
                    return
                shared["left"] -= 1
            cli = connect(a, w)
            if cli is None:
                continue
            for _ in range(w.rnd.randint(1, 4)):
                if not w.one(cli, w.draw()):
                    break
            cli.connection_pool.disconnect()
        return
    lo, hi = (int(x) for x in a.idle_ms.split(":"))
    cli = None
    while time.monotonic() < deadline:
        if cli is None:
            cli = connect(a, w, keepalive=a.shape == "keepalive")
            if cli is None:
                continue
        if a.shape == "pipelined":
            ok = w.batch(cli, [w.draw() for _ in range(a.depth)])
        else:
            ok = all(w.one(cli, w.draw()) for _ in range(w.rnd.randint(1, 8)))
            if ok:
                time.sleep(min(w.rnd.uniform(lo, hi) / 1000, max(0.0, deadline - time.monotonic())))
        if not ok:                       # a new connection for what follows
            cli.connection_pool.disconnect()
            cli = None
    if cli is not None:
        cli.connection_pool.disconnect()


def preload(a):
    r = redis.Redis(host=a.host, port=a.port, socket_timeout=10)
    r.mset({ro_key(i): ro_value(i) for i in range(RO_KEYS)})
    print(json.dumps({"preloaded": RO_KEYS}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--shape", choices=("pooled", "pipelined", "keepalive", "churn"))
    ap.add_argument("--preload", action="store_true", help="write the read-only keys and exit")
    ap.add_argument("--secs", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--pool", type=int, default=2, help="pooled: connections in the pool")
    ap.add_argument("--depth", type=int, default=8, help="pipelined: commands per pipeline")
    ap.add_argument("--idle-ms", default="1100:2000", help="keepalive: idle gap LO:HI ms")
    ap.add_argument("--conns", type=int, default=1000, help="churn: connections to open")
    ap.add_argument("--patience", type=float, default=10.0,
                    help="seconds without a reply that make a stall")
    ap.add_argument("--tag", default="", help="prefix of the owned keys (default: the shape)")
    a = ap.parse_args()
    if a.preload:
        preload(a)
        return 0
    if not a.shape:
        ap.error("--shape or --preload")
    a.tag = a.tag or a.shape
    st = Stats()
    shared = {"lock": threading.Lock(), "left": a.conns}
    CountingConnection.stats = st
    if a.shape == "pooled":
        # a thread waits for a free connection rather than failing
        shared["pool"] = redis.BlockingConnectionPool(max_connections=a.pool, timeout=None,
                                                      **pool_kw(a))
    t0 = time.monotonic()
    deadline = t0 + a.secs
    ths = [threading.Thread(target=run_thread, args=(a, st, i, deadline, shared), daemon=True)
           for i in range(a.threads)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    print(json.dumps({**st.c, "max_ms": round(st.max_s * 1000, 1),
                      "seconds": round(time.monotonic() - t0, 2), "bad": st.bad}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
