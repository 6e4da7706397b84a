#!/usr/bin/python3
"""Parallel stress on a few hot keys (issue class 11: a fill that checks the
key's epoch and then inserts, with an invalidation on another CPU between
the two, leaves the old value cached).

--procs processes (spread over every CPU), each with --conns connections,
SET and GET a few hot keys in parallel through the fronted Redis for
--seconds. Every operation is logged with CLOCK_MONOTONIC (one clock for
every process) at issue and at reply; every SET's value is unique. Then
a register check, sound for any interleaving: a GET that returns the value
of write W is stale if some write W2 to the same key was issued after W's
reply and replied before the GET was issued (W2 is then ordered after W,
and the GET after W2). A value no SET ever wrote is wrong. Prints one
summary line (and the first stale reads); exit 1 if anything is stale or
wrong.
"""
import argparse
import bisect
import os
import random
import socket
import sys
import time

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("--host", required=True)
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--procs", type=int, default=2 * (os.cpu_count() or 1))
ap.add_argument("--conns", type=int, default=4, help="connections per process")
ap.add_argument("--keys", type=int, default=3)
ap.add_argument("--seconds", type=float, default=20)
ap.add_argument("--set-ratio", type=float, default=0.3)
ap.add_argument("--seed", type=int, default=11)
ap.add_argument("--cpus", default="", help="CPUs to pin workers on, e.g. 0,1 (default: all)")
a = ap.parse_args()
keys = [f"hot:{i}".encode() for i in range(a.keys)]


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for x in args:
        out += b"$%d\r\n%s\r\n" % (len(x), x)
    return out


class Conn:
    def __init__(self):
        self.s = socket.create_connection((a.host, a.port), timeout=5)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def need(self, pred):
        while not pred():
            d = self.s.recv(65536)
            if not d:
                raise ConnectionError("closed")
            self.buf += d

    def reply(self):
        self.need(lambda: b"\r\n" in self.buf)
        ln, rest = self.buf.split(b"\r\n", 1)
        if ln[:1] == b"$":
            n = int(ln[1:])
            if n < 0:
                self.buf = rest
                return None
            self.need(lambda: len(self.buf) >= len(ln) + 2 + n + 2)
            v = self.buf[len(ln) + 2:len(ln) + 2 + n]
            self.buf = self.buf[len(ln) + 2 + n + 2:]
            return v
        self.buf = rest
        return ln


def worker(wid, out):
    rnd = random.Random(a.seed * 1000 + wid)
    conns = [Conn() for _ in range(a.conns)]
    log = []
    n = 0
    end = time.monotonic() + a.seconds
    while time.monotonic() < end:
        c, k = rnd.choice(conns), rnd.choice(keys)
        if rnd.random() < a.set_ratio:
            n += 1
            v = b"w%d.%d" % (wid, n)
            ti = time.monotonic()
            c.s.sendall(resp(b"SET", k, v))
            r = c.reply()
            tr = time.monotonic()
            if r != b"+OK":
                log.append(("E", k, repr(r), ti, tr))
            log.append(("S", k, v.decode(), ti, tr))
        else:
            ti = time.monotonic()
            c.s.sendall(resp(b"GET", k))
            r = c.reply()
            tr = time.monotonic()
            log.append(("G", k, r.decode() if r is not None else "", ti, tr))
    with open(out, "w") as f:
        for op, k, v, ti, tr in log:
            f.write(f"{op} {k.decode()} {v or '-'} {ti:.9f} {tr:.9f}\n")


# the initial values, written before any worker starts
c0 = Conn()
for k in keys:
    c0.s.sendall(resp(b"SET", k, b"init"))
    assert c0.reply() == b"+OK"
t_init = time.monotonic()
tmp = f"/tmp/prestack-stress.{os.getpid()}"
cpus = [int(x) for x in a.cpus.split(",")] if a.cpus else sorted(os.sched_getaffinity(0))
pids = []
for w in range(a.procs):
    pid = os.fork()
    if pid == 0:
        try:
            os.sched_setaffinity(0, {cpus[w % len(cpus)]})
            worker(w, f"{tmp}.{w}")
            os._exit(0)
        except Exception as e:  # noqa: BLE001 - reported by the parent
            print(f"worker {w}: {type(e).__name__} {e}", file=sys.stderr)
            os._exit(1)
    pids.append(pid)
failed = sum(os.waitpid(p, 0)[1] != 0 for p in pids)

writes = {k.decode(): [("init", t_init - 1, t_init)] for k in keys}
reads, errors = [], 0
for w in range(a.procs):
    try:
        lines = open(f"{tmp}.{w}").read().splitlines()
        os.unlink(f"{tmp}.{w}")
    except OSError:
        continue
    for ln in lines:
        op, k, v, ti, tr = ln.split()
        v = "" if v == "-" else v
        if op == "S":
            writes[k].append((v, float(ti), float(tr)))
        elif op == "G":
            reads.append((k, v, float(ti), float(tr)))
        else:
            errors += 1

stale = wrong = 0
examples = []
for k, ws in writes.items():
    ws.sort(key=lambda w: w[1])            # by issue time
    issue = [w[1] for w in ws]
    sufmin = [0.0] * len(ws)               # least reply time from index i on
    m = float("inf")
    for i in range(len(ws) - 1, -1, -1):
        m = min(m, ws[i][2])
        sufmin[i] = m
    by_value = {w[0]: w for w in ws}
    for rk, v, ti, tr in (r for r in reads if r[0] == k):
        w = by_value.get(v)
        if w is None:
            wrong += 1
            if len(examples) < 10:
                examples.append(f"wrong: GET {k} = {v!r} at {ti:.6f}")
            continue
        i = bisect.bisect_right(issue, w[2])  # writes issued after W's reply
        if i < len(ws) and sufmin[i] < ti:
            stale += 1
            if len(examples) < 10:
                newer = min((x for x in ws[i:] if x[2] < ti), key=lambda x: x[2])
                examples.append(f"stale: GET {k} issued {ti:.6f} = {v} (replied {w[2]:.6f});"
                                f" {newer[0]} was replied at {newer[2]:.6f}")
nw = sum(len(ws) - 1 for ws in writes.values())
print(f"procs={a.procs} conns={a.procs * a.conns} keys={a.keys} seconds={a.seconds} "
      f"sets={nw} gets={len(reads)} stale={stale} wrong={wrong} errors={errors} "
      f"failed_workers={failed}")
for e in examples:
    print(e)
sys.exit(1 if stale or wrong or errors or failed else 0)
