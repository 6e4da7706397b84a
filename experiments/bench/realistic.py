#!/usr/bin/python3
"""realistic.py - prestack on traffic shaped like a real cache, not like
redis-benchmark, against Redis alone in the same run, with every reply
checked against a model of the store.

The workload (every number below is a parameter of this file):
  - key popularity: Zipf, s = 0.99 over KEYS keys (YCSB's default skew);
  - key sizes: generalized extreme value (mu 30.8, sigma 8.2, k 0.079), and
    value sizes: generalized Pareto (sigma 214.5, k 0.348), both fitted to
    Facebook's ETC memcached pool by Atikoglu et al., "Workload Analysis of
    a Large-Scale Key-Value Store", SIGMETRICS 2012 (Table 5 / Fig. 7);
    values clipped to 1..8192 B, keys to 8..64 B;
  - TTLs: a third of the SETs carry one (EX, PX or SETEX), 2..30 s; Yang et
    al., "A large scale analysis of hundreds of in-memory cache clusters at
    Twitter", OSDI 2020, report that most objects carry a TTL and that
    short TTLs are common;
  - the mix: GET 80%, SET 9% (a third with a TTL), DEL 1%, MGET of 2..8
    keys 3%, a pipeline of 2..10 GETs 4%, HGETALL of a 200-field hash 1%
    (a reply of several KB: a GSO super-segment at TC egress), HSET 1%,
    writes through another path (loopback inside the server namespace,
    which XDP never sees) 1%;
  - connections: a pool of CONNS long-lived redis-py connections from the
    client namespace, a request at a time in a random interleaving so that
    the model is exact, and one loopback connection for the other path;
  - or, with --conn-mode autopipe, the same mix sent the way an
    auto-pipelining client (ioredis's enableAutoPipelining, node-redis)
    sends it: a step picks a connection and writes 1..3 batches of 1..12
    commands, each batch one write, before reading any reply; then reads
    them all in order (autopipe() below says how the model stays exact and
    how the answered GETs are counted). Its rows go to
    results/bench-realistic-autopipe.csv unless --out says otherwise, and
    every row names its conn_mode.

Each configuration (redis: nothing attached; then one run per prestack
mode) starts from the same dataset, loaded through the other path before
prestack attaches (as on a server that already holds data), then `cache
warm`. Per run, one CSV row (results/bench-realistic.csv): GETs, the GETs
the fast path could answer ("carriable": a single GET of a key that exists,
whose value of at most SMALL bytes fits the XDP frame whatever the key,
read since its last write -- a first read after a write must go to Redis to
fill -- and more than 100 ms from its expiry), how many of those XDP
answered (each GET's own answer, read from prestack's counters around it,
and for those not answered the fallback counters that moved), all GETs
answered at XDP, the fallbacks and
untrusted flows by reason, throughput and latency (this client is one
Python process: it measures correctness and the answered share; its
throughput is the client's), server CPU per request, and wrong or stale
replies. A stale reply is a value the key held before, or a value after
its expiry; replies within the coherence window after a write through the
other path are counted apart (stale_window).

A mode name ending in "-notc" (guarded-notc, retrans-notc) attaches with
--no-tc-reply: the same mode without the TC ingress path (docs/tc-reply.md);
tc_replies counts the GETs that path answered, `answered` includes them.
One ending in "-cut" (guarded-cut, retrans-cut) attaches with --cut:
per-command answering of pipelined segments (docs/pipelines.md).
`answered` is every GET answered from the cache, whichever path did it,
and `answered_by` names that path: xdp (get_hits: XDP and its TC ingress
replies, before the stack) or post (post_hits, after the stack); rows
written before this column existed call it xdp_get_hits.

usage: realistic.py [--ops N] [--modes LIST] [--seed N] [--check FLOOR]
                    [--conn-mode sequential|autopipe] [--out CSV]
"""
import argparse
import json
import math
import os
import random
import subprocess
import sys
import time

import redis

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "pylib"))
from prestack_lib import PS, TOP, csvio, psstats  # noqa: E402
from prestack_lib.testbed import NS_CLI, NS_SRV, DEV_SRV, IP_SRV as SRV, PORT, TGT  # noqa: E402
from prestack_lib.bpfmap import Counters  # noqa: E402
from prestack_lib.netns import enter, in_netns  # noqa: E402

TB = os.path.join(TOP, "experiments", "testbed.sh")
RES = os.environ.get("PS_RESULTS") or os.path.join(TOP, "results")
HZ = os.sysconf("SC_CLK_TCK")

KEYS = 5000
ZIPF_S = 0.99
CONNS = 16
SMALL = 150          # values up to this size: every reply fits the XDP frame
VAL_MAX = 16384      # PS_VAL_MAX: larger values are never cached
PIN_DIR = f"/sys/fs/bpf/prestack/{NS_SRV}/{DEV_SRV}"
HASH_FIELDS = 200
COHERENCE_WINDOW = 0.0  # s after an other-path write counted apart: none, the side
                        # path invalidates before Redis reads the write

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--ops", type=int, default=100000)
ap.add_argument("--modes", default="redis,guarded,retrans")
ap.add_argument("--seed", type=int, default=2012)
ap.add_argument("--conn-mode", choices=("sequential", "autopipe"), default="sequential",
                help="sequential: one request at a time (default); autopipe: each connection "
                     "writes batches without waiting, as an auto-pipelining client does")
ap.add_argument("--out", help="default: results/bench-realistic.csv, with --conn-mode autopipe "
                              "results/bench-realistic-autopipe.csv")
ap.add_argument("--check", type=float, metavar="FLOOR",
                help="exit 1 unless every mode has zero wrong and stale replies and errors, and "
                     "every answering mode no untrusted flow and at least FLOOR of the GETs it could")
a = ap.parse_args()
if a.out is None:
    a.out = os.path.join(RES, "bench-realistic.csv" if a.conn_mode == "sequential"
                         else f"bench-realistic-{a.conn_mode}.csv")
MODES = a.modes.split(",")
for m in MODES:
    # any other name goes to `prestack attach --mode`, which rejects what it does not know
    if not m.replace("-", "").isalnum():
        ap.error(f"not a mode name: {m}")
if a.ops < 100:
    ap.error("--ops >= 100")


def run(*cmd, check=True, **kw):
    return subprocess.run(cmd, check=check, capture_output=True, text=True, **kw)


def connect(host):
    c = redis.Redis(host=host, port=PORT, single_connection_client=True, socket_timeout=10)
    c.ping()
    return c


# ---- the workload ----

class Workload:
    def __init__(self, seed):
        self.rnd = random.Random(seed)
        r = self.rnd
        # Zipf by inverse CDF over ranks
        w = [1.0 / (i + 1) ** ZIPF_S for i in range(KEYS)]
        tot = sum(w)
        acc, self.cdf = 0.0, []
        for x in w:
            acc += x / tot
            self.cdf.append(acc)
        self.keys = [self.key_name(i, self.gev(r)) for i in range(KEYS)]
        self.hash_key = "rw:hash:profile"

    @staticmethod
    def gev(r, mu=30.7984, sigma=8.20449, k=0.078688):
        u = min(max(r.random(), 1e-9), 1 - 1e-9)
        x = mu + sigma * ((-math.log(u)) ** (-k) - 1) / k
        return int(min(max(x, 8), 64))

    @staticmethod
    def key_name(i, n):
        base = f"rw:{i}:"
        return (base + "k" * max(0, n - len(base)))[:max(n, len(base))]

    def value_size(self):
        r = self.rnd
        u = min(r.random(), 1 - 1e-9)
        sigma, k = 214.476, 0.348238
        x = sigma * ((1 - u) ** (-k) - 1) / k
        return int(min(max(x, 1), 8192))

    def key(self):
        u = self.rnd.random()
        lo, hi = 0, KEYS - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if self.cdf[mid] < u:
                lo = mid + 1
            else:
                hi = mid
        return self.keys[lo]

    def value(self, tag):
        n = self.value_size()
        head = f"{tag}:".encode()
        return (head + b"v" * max(0, n - len(head)))[:max(n, len(head))]

    def ttl(self):
        return self.rnd.uniform(2, 30)

    def op(self):
        x = self.rnd.random()
        for name, p in (("get", .80), ("set", .09), ("del", .01), ("mget", .03),
                        ("pipe", .04), ("hgetall", .01), ("hset", .01)):
            if x < p:
                return name
            x -= p
        return "side"


# ---- the model ----

class Model:
    """What the store holds: per key its value, the values it held before,
    and when its TTL ends (earliest and latest: Redis starts the TTL
    somewhere between our send and its reply)."""

    def __init__(self):
        self.val, self.old, self.exp = {}, {}, {}
        self.side_at = {}      # key -> time of the last other-path write
        self.read_since_write = set()

    def write(self, k, v, t_send, t_recv, ttl=None):
        if k in self.val:
            self.old.setdefault(k, set()).add(self.val[k])
        if v is None:
            self.val.pop(k, None)
        else:
            self.val[k] = v
        self.exp.pop(k, None)
        if ttl is not None and v is not None:
            self.exp[k] = (t_send + ttl, t_recv + ttl)
        self.read_since_write.discard(k)

    def expire(self, now):
        for k, (lo, hi) in list(self.exp.items()):
            if now > hi + 0.002:
                self.write(k, None, now, now)

    def judge(self, k, got, t_send, t_recv):
        """correct / wrong / stale / window for one GET reply."""
        want = self.val.get(k)
        if got == want:
            return "correct"
        if got is not None and not isinstance(got, bytes):
            return "wrong"            # not a GET's reply at all (an array...)
        e = self.exp.get(k)
        if e and got is None and t_recv >= e[0]:
            return "correct"          # expired at Redis, model not yet
        side = self.side_at.get(k)
        if got is not None and got in self.old.get(k, ()) or (got is None and k in self.old):
            if side is not None and t_send - side < COHERENCE_WINDOW:
                return "window"
            return "stale"
        return "wrong"


def pct(xs, q):
    if not xs:
        return 0.0
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def prestack(*args, check=True):
    return run(PS, *args, *TGT, check=check)


def stats():
    return psstats.read(TGT)


def flows():
    r = prestack("flows", "--json", check=False)
    return json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else []


def cpu(pid):
    f = open("/proc/stat").readline().split()
    st = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[7]) / HZ, (int(st[11]) + int(st[12])) / HZ


def autopipe(wl, model, conns, side, ctr, hit_name, fb_names, n, lat, examples, why, hash_model):
    """--conn-mode autopipe: the same mix, sent as an auto-pipelining client
    sends it. A step picks a connection and writes BATCHES_IN_FLIGHT (1..3)
    batches of 1..12 commands back to back, each batch one write, before it
    reads any reply; then it reads every reply in order. Nothing else is in
    flight meanwhile (other-path writes run between steps), so Redis runs the
    commands in the order sent and the model stays exact. A GET is carriable
    here when its key is in the cache as far as the model knows: the key
    exists, its value is within VAL_MAX (every value this workload writes),
    it was read since its last write (that read's reply fills the cache) and
    it is more than 100 ms from its expiry; judged at its place in the step.
    The size limit of sequential mode (SMALL, what one XDP frame carries) is
    left out: a batch's replies go out through the TC ingress path too.
    Prestack's counters are read around each step; only carriable GETs and
    those within 100 ms of their expiry can be hits, so the carriable GETs
    answered in a step are at least hits - (GETs near expiry) and at most
    min(hits, carriable GETs); the first is returned as answered, the
    second as answered_max.
    Returns (answered, answered_max)."""
    answered = answered_max = 0
    i = 0
    side_due = 0        # other-path writes drawn inside a step, run after it

    def side_write():
        k, v = wl.key(), wl.value(f"side{i}")
        t_send = time.monotonic()
        try:
            side.set(k, v)
        except redis.RedisError as ex:
            n["errors"] += 1
            if len(examples) < 10:
                examples.append(f"op {i}: side SET: {ex}")
            return
        t_recv = time.monotonic()
        model.write(k, v, t_send, t_recv)
        model.side_at[k] = t_recv

    while i < a.ops:
        for _ in range(side_due):
            side_write()
        side_due = 0
        op = wl.op()
        if op == "side":       # another path: only while nothing is in flight
            i += 1
            side_write()
            continue
        c = wl.rnd.choice(conns)
        batches = []
        for _ in range(wl.rnd.randrange(1, 4)):
            cmds = []
            for _ in range(wl.rnd.randrange(1, 13)):
                if i >= a.ops:
                    break
                i += 1
                op = op or wl.op()
                k = wl.key()
                if op == "side":   # after this step: nothing may be in flight
                    side_due += 1
                elif op == "get":
                    cmds.append(("get", k, ("GET", k)))
                elif op == "set":
                    v = wl.value(f"{i}")
                    ttl = wl.ttl() if wl.rnd.random() < 1 / 3 else None
                    if ttl is None:
                        cmds.append(("set", k, ("SET", k, v), v, None))
                    elif wl.rnd.random() < 0.5:
                        cmds.append(("set", k, ("SET", k, v, "EX", max(1, int(ttl))), v, max(1, int(ttl))))
                    else:
                        cmds.append(("set", k, ("PSETEX", k, int(ttl * 1000), v), v, int(ttl * 1000) / 1000))
                elif op == "del":
                    cmds.append(("del", k, ("DEL", k)))
                elif op in ("mget", "pipe"):
                    ks = [wl.key() for _ in range(wl.rnd.randrange(2, 9 if op == "mget" else 11))]
                    if op == "mget":
                        cmds.append(("mget", ks, ("MGET", *ks)))
                    else:      # a pipeline of GETs is more of the same batch
                        cmds += [("get", kk, ("GET", kk)) for kk in ks]
                elif op == "hgetall":
                    cmds.append(("hgetall", wl.hash_key, ("HGETALL", wl.hash_key)))
                elif op == "hset":
                    f = f"f{wl.rnd.randrange(HASH_FIELDS)}"
                    cmds.append(("hset", f, ("HSET", wl.hash_key, f, f"set-{i}"), f"set-{i}"))
                op = None
            if cmds:
                batches.append(cmds)
        if not batches:
            continue
        conn = c.connection
        before = ctr.read([hit_name] + fb_names) if ctr else None
        t_send = time.monotonic()
        replies, failed = [], None
        try:
            for cmds in batches:
                # one write per batch, as an auto-pipelining client makes it
                conn.send_packed_command([b"".join(conn.pack_commands([x[2] for x in cmds]))])
            for cmds in batches:
                for _ in cmds:
                    try:
                        replies.append(conn.read_response())
                    except redis.ResponseError as ex:
                        replies.append(ex)
        except redis.RedisError as ex:
            failed = ex
            conn.disconnect()
        t_recv = time.monotonic()
        after = ctr.read([hit_name] + fb_names) if ctr else None
        sent = [x for cmds in batches for x in cmds]
        replies += [failed] * (len(sent) - len(replies))    # a step cut short
        carriable = other_gets = 0
        for cmd, got in zip(sent, replies):
            lat.append(t_recv - t_send)
            kind = cmd[0]
            model.expire(t_send)
            if isinstance(got, Exception):
                n["errors"] += 1
                if len(examples) < 10:
                    examples.append(f"step at op {i}: {kind}: {type(got).__name__}: {got}")
                if kind == "get":
                    n["gets"] += 1
                continue
            if kind == "get":
                k = cmd[1]
                n["gets"] += 1
                v, e = model.val.get(k), model.exp.get(k)
                cached = v is not None and len(v) <= VAL_MAX and k in model.read_since_write
                car = cached and (e is None or e[0] - t_send > 0.1)
                carriable += car
                # a hit that is not carriable: a key close to its expiry (a
                # GET of a missing key or the first read after a write cannot
                # be answered from the cache)
                other_gets += cached and not car
                verdict = model.judge(k, got, t_send, t_recv)
                n[verdict] += 1
                if verdict not in ("correct", "window") and len(examples) < 10:
                    examples.append(f"step at op {i}: GET {k} -> {str(got)[:60] if got else got!r}, "
                                    f"model {model.val.get(k, b'')[:40]!r}")
                if got is not None:
                    model.read_since_write.add(k)
            elif kind == "set":
                if got != b"OK":
                    n["errors"] += 1
                model.write(cmd[1], cmd[3], t_send, t_recv, cmd[4])
            elif kind == "del":
                model.write(cmd[1], None, t_send, t_recv)
            elif kind == "mget":
                if not isinstance(got, list) or len(got) != len(cmd[1]):
                    # a reply out of place: each key's answer is wrong
                    n["wrong"] += len(cmd[1])
                else:
                    for kk, g in zip(cmd[1], got):
                        n[model.judge(kk, g, t_send, t_recv)] += 1
            elif kind == "hgetall":
                # a reply out of place may be anything: not a field list is wrong
                try:
                    d = {got[j].decode(): got[j + 1].decode() for j in range(0, len(got), 2)}
                except (AttributeError, TypeError, IndexError):
                    d = None
                n["correct" if d == hash_model else "wrong"] += 1
            elif kind == "hset":
                hash_model[cmd[1]] = cmd[3]
        n["carriable"] += carriable
        if ctr and carriable:
            hits = after[hit_name] - before[hit_name]
            lo, hi = max(0, min(carriable, hits - other_gets)), min(hits, carriable)
            answered += lo
            answered_max += hi
            if lo < carriable:
                moved = [x for x in fb_names if after[x] > before[x]] or ["none"]
                for x in moved:
                    why[x] = why.get(x, 0) + carriable - lo
    for _ in range(side_due):
        side_write()
    return answered, answered_max


def one_run(mode, seed):
    wl = Workload(seed)
    model = Model()
    side = in_netns(NS_SRV, lambda: connect("127.0.0.1"))
    side.flushall()
    # the dataset, through the other path, before prestack attaches
    t = time.monotonic()
    pipe = side.pipeline(transaction=False)
    for i, k in enumerate(wl.keys):
        v = wl.value(f"pre{i}")
        if i % 3 == 0:
            ttl = wl.ttl() + 30     # outlives the load and the warm
            pipe.set(k, v, px=int(ttl * 1000))
            model.write(k, v, t, t, ttl)
        else:
            pipe.set(k, v)
            model.write(k, v, t, t)
    fields = {f"f{i}": f"value-{i}-" + "x" * (i % 40) for i in range(HASH_FIELDS)}
    pipe.hset(wl.hash_key, mapping=fields)
    in_netns(NS_SRV, pipe.execute)   # a pipeline opens its own connection
    for k in wl.keys:
        model.old.pop(k, None)
    # `cache warm` copies the dataset: no first read is compulsory
    model.read_since_write = set(wl.keys)
    hash_model = dict(fields)

    if mode != "redis":
        # the coherence watcher starts with attach (the default)
        base, extra = mode, []
        for suffix, flag in (("-cut", "--cut"), ("-notc", "--no-tc-reply")):
            if base.endswith(suffix):
                base, extra = base.removesuffix(suffix), [flag] + extra
        prestack("attach", "--mode", base, *extra)
        prestack("cache", "warm", "--redis", f"127.0.0.1:{PORT}")
    conns = [connect(SRV) for _ in range(CONNS)]
    pconn = connect(SRV)
    s0 = stats()
    ctr = Counters(PIN_DIR) if mode != "redis" else None
    # poststack answers after the stack: its hits and pass reasons are post_*
    answered_by = psstats.answered_by(mode)
    hit_name = psstats.ANSWER_COUNTER.get(answered_by, "get_hits")
    fb_prefix = "post_pass_" if answered_by == "post" else "fb_"
    fb_names = [x for x in ctr.names if x.startswith(fb_prefix)] if ctr else []
    why = {}            # carriable GETs not answered: fallback counters that moved
    answered = 0
    pid = int(open("/run/prestack-testbed/redis.pid").read().strip())
    cpu0 = cpu(pid)
    lat = []
    n = {"gets": 0, "carriable": 0, "correct": 0, "wrong": 0, "stale": 0, "window": 0, "errors": 0}
    examples = []
    t0 = time.monotonic()
    if a.conn_mode == "autopipe":
        answered, answered_max = autopipe(wl, model, conns, side, ctr, hit_name, fb_names, n, lat,
                                          examples, why, hash_model)
    else:
        for i in range(a.ops):
            op = wl.op()
            c = wl.rnd.choice(conns)
            k = wl.key()
            t_send = time.monotonic()
            model.expire(t_send)
            try:
                if op == "get":
                    n["gets"] += 1
                    v = model.val.get(k)
                    e = model.exp.get(k)
                    carriable = v is not None and len(v) <= SMALL and \
                        k in model.read_since_write and (e is None or e[0] - t_send > 0.1)
                    n["carriable"] += carriable
                    if ctr and carriable:
                        before = ctr.read([hit_name] + fb_names)
                    t_send = time.monotonic()
                    got = c.get(k)
                    t_recv = time.monotonic()
                    if ctr and carriable:
                        after = ctr.read([hit_name] + fb_names)
                        if after[hit_name] > before[hit_name]:
                            answered += 1
                        else:
                            moved = [x for x in fb_names if after[x] > before[x]] or ["none"]
                            for x in moved:
                                why[x] = why.get(x, 0) + 1
                    verdict = model.judge(k, got, t_send, t_recv)
                    n[verdict] += 1
                    if verdict not in ("correct", "window") and len(examples) < 10:
                        examples.append(f"op {i}: GET {k} -> {got[:40] if got else got!r}, "
                                        f"model {model.val.get(k, b'')[:40]!r}")
                    if got is not None:
                        model.read_since_write.add(k)
                elif op in ("set", "side"):
                    v = wl.value(f"{i}")
                    ttl = wl.ttl() if op == "set" and wl.rnd.random() < 1 / 3 else None
                    cc = side if op == "side" else c
                    if ttl is None:
                        cc.set(k, v)
                    elif wl.rnd.random() < 0.5:
                        cc.set(k, v, ex=max(1, int(ttl)))
                        ttl = max(1, int(ttl))
                    else:
                        cc.psetex(k, int(ttl * 1000), v)
                    t_recv = time.monotonic()
                    model.write(k, v, t_send, t_recv, ttl)
                    if op == "side":
                        model.side_at[k] = t_recv
                elif op == "del":
                    c.delete(k)
                    model.write(k, None, t_send, time.monotonic())
                elif op == "mget":
                    ks = [wl.key() for _ in range(wl.rnd.randrange(2, 9))]
                    got = c.mget(ks)
                    t_recv = time.monotonic()
                    for kk, g in zip(ks, got):
                        n[model.judge(kk, g, t_send, t_recv)] += 1
                elif op == "pipe":
                    ks = [wl.key() for _ in range(wl.rnd.randrange(2, 11))]
                    p = pconn.pipeline(transaction=False)
                    for kk in ks:
                        p.get(kk)
                    got = p.execute()
                    t_recv = time.monotonic()
                    n["gets"] += len(ks)
                    for kk, g in zip(ks, got):
                        n[model.judge(kk, g, t_send, t_recv)] += 1
                elif op == "hgetall":
                    got = {x.decode(): y.decode() for x, y in c.hgetall(wl.hash_key).items()}
                    n["correct" if got == hash_model else "wrong"] += 1
                elif op == "hset":
                    f = f"f{wl.rnd.randrange(HASH_FIELDS)}"
                    val = f"set-{i}"
                    c.hset(wl.hash_key, f, val)
                    hash_model[f] = val
            except redis.RedisError as ex:
                n["errors"] += 1
                if len(examples) < 10:
                    examples.append(f"op {i}: {op}: {type(ex).__name__}: {ex}")
                c.connection_pool.reset()
            lat.append(time.monotonic() - t_send)
        answered_max = answered
    secs = time.monotonic() - t0
    cpu1 = cpu(pid)
    s1 = stats()
    fl = flows() if mode != "redis" else []
    if ctr:
        ctr.close()
    for x in conns + [pconn, side]:
        x.close()
    if mode != "redis":
        prestack("detach", "--force", check=False)

    d = {k: s1.get(k, 0) - s0.get(k, 0) for k in s1 if isinstance(s1.get(k), int)}
    if os.environ.get("PS_REALISTIC_STATS"):
        print("# counters moved: " + json.dumps({k: v for k, v in d.items() if v}))
    fbs = {k: v for k, v in d.items() if k.startswith(fb_prefix) and v}
    untrusted = {}
    for f in fl:
        if "UNTRUSTED" in f.get("flags", ""):
            untrusted[f["untrusted_reason"]] = untrusted.get(f["untrusted_reason"], 0) + 1
    hits = d.get(hit_name, 0)
    row = {
        "mode": mode, "conn_mode": a.conn_mode, "seed": seed, "ops": a.ops, "seconds": round(secs, 2),
        "ops_per_s": round(a.ops / secs, 1),
        "p50_us": round(pct(lat, .5) * 1e6, 1), "p99_us": round(pct(lat, .99) * 1e6, 1),
        "gets": n["gets"], "carriable_gets": n["carriable"], "carriable_answered": answered,
        "answered_share": round(answered / n["carriable"], 4) if n["carriable"] else 0,
        # autopipe: the most the step counters allow (sequential: = carriable_answered)
        "carriable_answered_max": answered_max,
        "answered": hits, "answered_by": answered_by,
        "tc_replies": d.get("tc_replies", 0),
        "answered_of_all_gets": round(hits / n["gets"], 4) if n["gets"] else 0,
        "carriable_not_answered": json.dumps(why, sort_keys=True),
        "fallbacks": json.dumps(fbs, sort_keys=True),
        # every GET not answered before the stack, by prestack's per-GET
        # reason (ga_*: xdp/cut.h), and the GETs cut from pipelined segments
        "gets_not_answered": json.dumps({k: v for k, v in d.items()
                                         if k.startswith("ga_") and v}, sort_keys=True),
        "cut_gets": d.get("cut_gets", 0),
        "flows": len(fl), "flows_untrusted": sum(untrusted.values()),
        "untrusted_reasons": json.dumps(untrusted, sort_keys=True),
        "redis_cpu_us_per_op": round((cpu1[1] - cpu0[1]) / a.ops * 1e6, 2),
        "softirq_cpu_us_per_op": round((cpu1[0] - cpu0[0]) / a.ops * 1e6, 2),
        "correct": n["correct"], "wrong": n["wrong"], "stale": n["stale"],
        "stale_window": n["window"], "errors": n["errors"],
    }
    return row, examples


def main():
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    if run(TB, "up", check=False).returncode:
        sys.exit("realistic: testbed up failed")
    rows, ok = [], True
    # the client side lives in the client namespace (prestack and the
    # testbed script enter the server's themselves)
    enter(NS_CLI)
    try:
        for m in MODES:
            row, ex = one_run(m, a.seed)
            rows.append(row)
            rng = (f"-{row['carriable_answered_max']}"
                   if row["carriable_answered_max"] != row["carriable_answered"] else "")
            print(f"# {m} ({a.conn_mode}): answered {row['carriable_answered']}{rng} of {row['carriable_gets']} "
                  f"carriable GETs ({row['answered_share']:.1%}; not answered: "
                  f"{row['carriable_not_answered']}); {row['answered']} GETs answered ({row['answered_by'] or '-'}) in all, "
                  f"{row['answered_of_all_gets']:.1%} of all {row['gets']}; wrong {row['wrong']}, stale {row['stale']} "
                  f"(+{row['stale_window']} in the coherence window), errors {row['errors']}, "
                  f"untrusted flows {row['flows_untrusted']} {row['untrusted_reasons']}, "
                  f"fallbacks {row['fallbacks']}, GETs cut {row['cut_gets']}, not answered "
                  f"{row['gets_not_answered']}, {row['ops_per_s']} ops/s, "
                  f"p50 {row['p50_us']} us, p99 {row['p99_us']} us", flush=True)
            for e in ex:
                print(f"#   {e}")
            if a.check is not None and (row["wrong"] or row["stale"] or row["errors"]):
                ok = False
            if a.check is not None and m not in ("redis", "off"):
                if row["flows_untrusted"] or row["answered_share"] < a.check:
                    ok = False
    finally:
        run(PS, "detach", *TGT, "--force", check=False)
        run(TB, "down", check=False)
    # every mode's row or none: a run cut short appends nothing
    if len(rows) != len(MODES):
        sys.exit(f"realistic: {len(MODES) - len(rows)} mode(s) not measured; {a.out} left as it was")
    csvio.append(a.out, rows)
    print(f"# {len(rows)} rows appended to {a.out}")
    sys.exit(0 if ok else 1)


main()
