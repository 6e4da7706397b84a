#!/usr/bin/python3
"""regcheck.py - the model check of tests/live/clients.js's log: every
key a register, every reply judged against the writes around it, for any
interleaving of concurrent connections and with commands pipelined inside a
batch.

Order. A write W is before a read or write X when W's reply came before X
was issued (real time: the batch's issue clock and the reply's arrival,
both CLOCK_MONOTONIC in one process), or when both are in the same batch of
one connection and W comes first (Redis runs a connection's commands in
order). The rules, each sound for any correct server:

  wrong  a value no write wrote; a value of a write after the read (issued
         after the read's reply, or later in the read's batch); two INCRs
         of a key with the same reply, or INCR replies that are not 1..n;
         a nil for a key that was never absent
  stale  the value of write W (or a nil from a DEL, the initial absence or
         an expiry) when another write to the key is after W and before
         the read; the value of a SET PX after its TTL ran out (the read
         issued more than TTL + MARGIN after the SET's reply)

Expiry of a SET PX write X is a possible source of nil between X's issue
+ TTL - MARGIN and X's reply + TTL + MARGIN (Redis starts the TTL while
running X and expires at ms granularity on its own clock).

The initial store (the driver, tests/live/clients.py, writes it before
attach) is initial() below. --sabotage checks the checker: `wrong` alters
every SET's value in the model, `stale` moves every read's issue time one
second later, `ttl` gives every SET PX a tenth of its TTL; each must be
flagged on a real log.

usage: regcheck.py LOG [--sabotage wrong|stale|ttl]   (JSON on stdout; exit 1
       when anything is wrong or stale)
"""
import argparse
import bisect
import json
import sys

MARGIN = 5_000_000          # ns: expiry's slack around a SET PX's TTL
NEG = -(1 << 62)


def initial(key):
    """The value the driver prefills for a key, None when absent."""
    cls, _, i = key.partition(":")
    if cls == "ro":
        n = int(i)
        return f"ro:{n}:" + "r" * (20 + (n * 7) % 80)
    if cls == "rw":
        return f"rw0:{i}"
    if cls == "cnt":
        return "0"
    return None


class Op:
    __slots__ = ("kind", "conn", "batch", "idx", "key", "value", "ttl", "t0", "t1")

    def __init__(self, kind, conn, batch, idx, key, value, ttl, t0, t1):
        self.kind, self.conn, self.batch, self.idx = kind, conn, batch, idx
        self.key, self.value, self.ttl, self.t0, self.t1 = key, value, ttl, t0, t1

    def same_batch(self, o):
        return self.conn == o.conn and self.batch == o.batch and self.conn >= 0


def after(w2, w):
    """Whether write w2 is certainly ordered after w."""
    if w2.same_batch(w):
        return w2.idx > w.idx
    return w2.t0 > w.t1


def before(w, r):
    """Whether write w is certainly ordered before read r."""
    if w.same_batch(r):
        return w.idx < r.idx
    return w.t1 < r.t0


def future(w, r):
    """Whether write w certainly comes after read r (r cannot see it)."""
    if w.same_batch(r):
        return w.idx > r.idx
    return w.t0 > r.t1


def load(path, sabotage=None):
    ops, errors = [], []
    for ln in open(path):
        ln = ln.rstrip("\n")
        if not ln:
            continue
        kind, conn, batch, idx, key, value, ttl, t0, t1 = ln.split("\t")
        if kind == "E":
            errors.append(ln)
            continue
        o = Op(kind, int(conn), int(batch), int(idx), key, None if value == "-" else value,
               int(ttl), int(t0), int(t1))
        if sabotage == "wrong" and kind == "S":
            o.value += "#"
        if sabotage == "stale" and kind in ("G", "M"):
            o.t0 += 1_000_000_000
        if sabotage == "ttl" and kind == "X":
            o.ttl //= 10
        ops.append(o)
    return ops, errors


def check(path, sabotage=None, max_examples=10):
    ops, errors = load(path, sabotage)
    writes, reads = {}, {}
    for o in ops:
        (reads if o.kind in ("G", "M") else writes).setdefault(o.key, []).append(o)
    res = {"ops": len(ops) + len(errors), "reads": sum(map(len, reads.values())),
           "writes": sum(map(len, writes.values())), "errors": len(errors),
           "wrong": 0, "stale": 0, "examples": [e.split("\t")[5] for e in errors[:3]]}

    def flag(what, msg):
        res[what] += 1
        if len(res["examples"]) < max_examples:
            res["examples"].append(f"{what}: {msg}")

    for key in set(writes) | set(reads):
        ws = sorted(writes.get(key, []), key=lambda w: w.t0)
        init = initial(key)
        # the initial state: a write before everything
        first = Op("init", -1, -1, 0, key, init, 0, NEG, NEG + 1)
        # INCR replies: 1..n, each once (counters start at 0 and are never
        # set or deleted)
        incrs = [w for w in ws if w.kind == "I"]
        if incrs:
            got = sorted(int(w.value) for w in incrs)
            if got != list(range(1, len(got) + 1)):
                flag("wrong", f"INCR {key}: replies {got[:5]}... are not 1..{len(got)}")
        by_value = {}
        for w in ws:
            if w.value is not None:
                by_value.setdefault(w.value, w)
        if init is not None:
            by_value.setdefault(init, first)
        all_w = [first] + ws
        issue = [w.t0 for w in all_w]
        # least reply time among the writes from index i on (by issue time)
        sufmin = [0] * len(all_w)
        m = 1 << 62
        for i in range(len(all_w) - 1, -1, -1):
            m = min(m, all_w[i].t1)
            sufmin[i] = m
        # nil sources: the initial absence, DELs, possible expiries
        nils = [first] if init is None else []
        nils += [w for w in ws if w.kind == "D"]
        for x in (w for w in ws if w.kind == "X"):
            # an expiry of x could have happened unless a write certainly
            # after x was certainly done before x's TTL could run out
            if not any(after(w2, x) and w2.t1 < x.t0 + x.ttl * 1_000_000 - MARGIN
                       for w2 in ws if w2 is not x):
                nils.append(Op("exp", -1, -1, 0, key, None, 0,
                               x.t0 + x.ttl * 1_000_000 - MARGIN, x.t1 + x.ttl * 1_000_000 + MARGIN))
        nils.sort(key=lambda n: -n.t1)
        # the writes of each batch, for the program-order rules
        batch_w = {}
        for w in ws:
            batch_w.setdefault((w.conn, w.batch), []).append(w)

        def superseded(w, r):
            """A write to key certainly after w and before read r."""
            i = bisect.bisect_right(issue, w.t1)        # real time: issued after w's reply
            if i < len(all_w) and sufmin[i] < r.t0:
                return True
            for w2 in batch_w.get((w.conn, w.batch), ()):    # later in w's batch
                if w2.idx > w.idx and before(w2, r):
                    return True
            for w2 in batch_w.get((r.conn, r.batch), ()):    # earlier in r's batch
                if w2 is not w and w2.idx < r.idx and after(w2, w):
                    return True
            return False

        for r in reads.get(key, []):
            desc = f"{'GET' if r.kind == 'G' else 'MGET'} {key} conn {r.conn} batch {r.batch}"
            if r.value is None:
                cands = [n for n in nils if not future(n, r)]
                if not cands:
                    flag("wrong", f"{desc}: nil, but the key was never absent")
                elif all(superseded(n, r) for n in cands):
                    flag("stale", f"{desc}: nil, after a write that followed every DEL/expiry")
                continue
            w = by_value.get(r.value)
            if w is None:
                flag("wrong", f"{desc}: {r.value[:40]!r}, which no write wrote")
            elif w is not first and future(w, r):
                flag("wrong", f"{desc}: {r.value[:40]!r}, written after the read")
            elif superseded(w, r):
                flag("stale", f"{desc}: {r.value[:40]!r}, overwritten before the read was issued")
            elif w.kind == "X" and r.t0 > w.t1 + w.ttl * 1_000_000 + MARGIN:
                flag("stale", f"{desc}: {r.value[:40]!r}, {(r.t0 - w.t1) / 1e6:.1f} ms after its "
                              f"SET with PX {w.ttl}")
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("log")
    ap.add_argument("--sabotage", choices=("wrong", "stale", "ttl"))
    a = ap.parse_args()
    res = check(a.log, a.sabotage)
    print(json.dumps(res))
    return 1 if res["wrong"] or res["stale"] else 0


if __name__ == "__main__":
    sys.exit(main())
