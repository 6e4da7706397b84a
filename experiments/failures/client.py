#!/usr/bin/python3
"""client.py - the failure experiments' Redis client, with a model of the
store, run inside the client namespace.

  client.py --host H --port P --workload seq|pipe|gets|setget|load|clamp [--ops N]
            [--secs S] [--conns C] [--seed N] [--timeout T]

Speaks RESP over a plain TCP socket (TCP_NODELAY, one send() per command)
so that the segments on the wire are exactly the commands. Every reply is
judged against the model: correct, wrong (bytes no version ever had),
stale (an older value of the key), error (a RESP error), and timed; a
reply that does not arrive within --timeout ends the connection as a
stall. Prints one JSON object: counts, stalls, latencies, resets.
"""
import argparse
import json
import random
import socket
import threading
import time

KEYS = [f"fk{i}" for i in range(8)]
MISS_KEYS = [f"fmiss{i}" for i in range(4)]


def cmd(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, host, port, timeout, rcvbuf=0):
        self.s = socket.socket()
        if rcvbuf:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.s.settimeout(timeout)
        self.s.connect((host, port))
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def _fill(self):
        b = self.s.recv(65536)
        if not b:
            raise ConnectionResetError("closed by peer")
        self.buf += b

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        """One reply: bytes for a bulk, None for null, ('+', s), ('-', s), (':', n)."""
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            v, self.buf = self.buf[:n], self.buf[n + 2:]
            return v
        if t in (b"+", b"-", b":"):
            return (t.decode(), rest.decode(errors="replace"))
        raise ValueError(f"unexpected reply type {line[:20]!r}")

    def close(self):
        self.s.close()


class Model:
    """Current value and every older value of each key."""

    def __init__(self):
        self.cur = {}
        self.old = {}
        self.lock = threading.Lock()

    def set(self, k, v):
        with self.lock:
            if k in self.cur:
                self.old.setdefault(k, set()).add(self.cur[k])
            self.cur[k] = v

    def judge(self, k, got):
        with self.lock:
            want = self.cur.get(k)
            if got == want:
                return "correct"
            if got in self.old.get(k, set()) or (got is None and k in self.old):
                return "stale"
            return "wrong"


class Stats:
    def __init__(self):
        self.c = {"correct": 0, "wrong": 0, "stale": 0, "error": 0}
        self.lat = []
        self.stalls = 0
        self.resets = 0
        self.timeouts = 0
        self.bad = []
        self.lock = threading.Lock()

    def add(self, verdict, lat, what):
        with self.lock:
            self.c[verdict] += 1
            self.lat.append(lat)
            if verdict != "correct" and len(self.bad) < 10:
                self.bad.append(what)


def timed(conn, data, n=1):
    t0 = time.monotonic()
    conn.send(data)
    out = [conn.reply() for _ in range(n)]
    return out, time.monotonic() - t0


def seq_session(a, model, st, rnd, ops, deadline, rcvbuf=0, vlen=8, keys=KEYS):
    """GET/SET on keys, one command at a time (each connection of the load
    workload has keys of its own: no judging across concurrent writers)."""
    c = Conn(a.host, a.port, a.timeout, rcvbuf)
    try:
        i = 0
        while (ops and i < ops) or (deadline and time.monotonic() < deadline):
            i += 1
            k = rnd.choice(keys)
            if rnd.random() < 0.25:
                v = ("v%d-" % rnd.randrange(10**6)).encode().ljust(vlen, b"x")
                (r,), lat = timed(c, cmd("SET", k, v))
                if r != ("+", "OK"):
                    st.add("error", lat, f"SET {k}: {r!r}")
                    continue
                model.set(k, v)
                st.add("correct", lat, "")
            else:
                (r,), lat = timed(c, cmd("GET", k))
                if isinstance(r, tuple):
                    st.add("error", lat, f"GET {k}: {r!r}")
                else:
                    v = model.judge(k, r)
                    st.add(v, lat, f"GET {k}: got {r!r} want {model.cur.get(k)!r}")
    finally:
        c.close()


def pipe_session(a, model, st, rnd, ops):
    """Rounds of SET then 4 GETs (hits and misses), each command its own
    segment, sent back to back before any reply is read: the SET's reply
    comes from Redis while the GETs after it may be answered at XDP."""
    c = Conn(a.host, a.port, a.timeout)
    try:
        for _ in range(max(1, ops // 5)):
            k = rnd.choice(KEYS)
            v = ("p%d" % rnd.randrange(10**6)).encode()
            keys = [rnd.choice(KEYS + MISS_KEYS) for _ in range(4)]
            t0 = time.monotonic()
            c.send(cmd("SET", k, v))
            for g in keys:
                c.send(cmd("GET", g))
            r = c.reply()
            model.set(k, v)          # Redis runs them in order: GETs see it
            rs = [c.reply() for _ in keys]
            lat = time.monotonic() - t0
            st.add("correct" if r == ("+", "OK") else "error", lat, f"SET {k}: {r!r}")
            for g, r in zip(keys, rs):
                verdict = "error" if isinstance(r, tuple) else model.judge(g, r)
                st.add(verdict, lat, f"GET {g}: got {r!r} want {model.cur.get(g)!r}")
    finally:
        c.close()


def gets_session(a, model, st, rnd, ops):
    """Rounds of 4 GETs of cached keys, each its own segment, back to back:
    several replies injected at XDP are in flight at once."""
    c = Conn(a.host, a.port, a.timeout)
    try:
        for _ in range(max(1, ops // 4)):
            keys = [rnd.choice(KEYS) for _ in range(4)]
            t0 = time.monotonic()
            for g in keys:
                c.send(cmd("GET", g))
            rs = [c.reply() for _ in keys]
            lat = time.monotonic() - t0
            for g, r in zip(keys, rs):
                verdict = "error" if isinstance(r, tuple) else model.judge(g, r)
                st.add(verdict, lat, f"GET {g}: got {r!r} want {model.cur.get(g)!r}")
    finally:
        c.close()


def setget_session(a, model, st, rnd, ops):
    """Rounds of SET on a key of its own (Redis replies) and then GET of a
    cached key (answered at XDP), one at a time: the GET's segment carries
    the client's ACK of the kernel's +OK, so if the GET's reply is lost the
    kernel's RTO retransmits that +OK."""
    c = Conn(a.host, a.port, a.timeout)
    try:
        for _ in range(max(1, ops // 2)):
            v = ("w%d" % rnd.randrange(10**6)).encode()
            (r,), lat = timed(c, cmd("SET", "fw", v))
            if r != ("+", "OK"):
                st.add("error", lat, f"SET fw: {r!r}")
                continue
            model.set("fw", v)
            st.add("correct", lat, "")
            g = rnd.choice(KEYS)
            (r,), lat = timed(c, cmd("GET", g))
            verdict = "error" if isinstance(r, tuple) else model.judge(g, r)
            st.add(verdict, lat, f"GET {g}: got {r!r} want {model.cur.get(g)!r}")
    finally:
        c.close()


def guarded_run(fn, st):
    try:
        fn()
    except socket.timeout:
        st.timeouts += 1
    except (ConnectionResetError, BrokenPipeError, ConnectionRefusedError):
        st.resets += 1
    except ValueError as e:
        st.add("wrong", 0.0, f"unparsable reply: {e}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--workload", choices=["seq", "pipe", "gets", "setget", "load", "clamp", "big",
                                         "bigload"],
                    required=True)
    ap.add_argument("--ops", type=int, default=60)
    ap.add_argument("--secs", type=float, default=8.0)
    ap.add_argument("--conns", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=3.0)
    ap.add_argument("--preloaded", action="store_true",
                    help="fk0..fk7 = init-<key> and no fmiss* keys already (loopback, cache warm)")
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    model, st = Model(), Stats()

    # the known key space: written here, or (--preloaded) by the caller
    # over a path the faults do not touch, with the same values
    for k in KEYS:
        model.set(k, b"init-" + k.encode())
    if not a.preloaded:
        c = Conn(a.host, a.port, 5.0)
        for k in KEYS:
            c.send(cmd("SET", k, model.cur[k]))
            c.reply()
        c.send(cmd("DEL", *MISS_KEYS))
        c.reply()
        for k in KEYS:              # read once: the cache fills
            c.send(cmd("GET", k))
            c.reply()
        c.close()

    t0 = time.monotonic()
    if a.workload == "seq":
        guarded_run(lambda: seq_session(a, model, st, rnd, a.ops, 0), st)
    elif a.workload == "big":
        # 4,000-byte values: replies of 3 segments, built at TC ingress
        guarded_run(lambda: seq_session(a, model, st, rnd, a.ops, 0, vlen=4000), st)
    elif a.workload == "clamp":
        guarded_run(lambda: seq_session(a, model, st, rnd, a.ops, 0, rcvbuf=1024, vlen=200), st)
    elif a.workload == "pipe":
        guarded_run(lambda: pipe_session(a, model, st, rnd, a.ops), st)
    elif a.workload == "gets":
        guarded_run(lambda: gets_session(a, model, st, rnd, a.ops), st)
    elif a.workload == "setget":
        guarded_run(lambda: setget_session(a, model, st, rnd, a.ops), st)
    else:
        deadline = time.monotonic() + a.secs
        vlen = 4000 if a.workload == "bigload" else 8
        ths = [threading.Thread(target=guarded_run, args=(
            (lambda r=random.Random(a.seed + i), ks=KEYS[i % len(KEYS)::a.conns] or KEYS[:1]:
             seq_session(a, model, st, r, 0, deadline, vlen=vlen, keys=ks)), st))
            for i in range(a.conns)]
        for t in ths:
            t.start()
        for t in ths:
            t.join()
    lat = sorted(st.lat) or [0.0]
    print(json.dumps({
        **st.c,
        "replies": len(st.lat),
        "stalls_100ms": sum(1 for x in lat if x > 0.1),
        "max_ms": round(lat[-1] * 1000, 1),
        "p50_ms": round(lat[len(lat) // 2] * 1000, 2),
        "timeouts": st.timeouts,
        "resets": st.resets,
        "seconds": round(time.monotonic() - t0, 2),
        "bad": st.bad,
    }))


if __name__ == "__main__":
    main()
