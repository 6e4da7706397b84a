#!/usr/bin/python3
"""pipelined.py - pipelined load (build/pipeload: connections with exactly
P requests in flight each, the shape memtier_benchmark --pipeline makes;
and redis-benchmark -P) against Redis alone and prestack in each
configuration, interleaved, on the netns testbed.

Configurations (CONFIGS): redis (nothing attached), off, guarded, retrans;
MODE-nocoh attaches MODE with --no-coherence (no side path, no watcher, no
lease: the ablation whose ratio vs_nocoh is the coherence machinery's
cost); any other name is passed to `prestack attach --mode`. prestack
attaches as by default otherwise (side path, coherence watcher and TC
ingress path on), and `cache warm` puts every key in the cache before each
point (--no-warm: the cache fills only from Redis's replies). Points, each
with 50 connections over 2 threads, 64 B values, 10,000 keys (key:%012u,
prefilled):

  mix-p1    pipeload, GET:SET 10:1, pipeline 1, Zipf (0.99)
  mix-p16   pipeload, GET:SET 10:1, pipeline 16, Zipf
  get-p16   pipeload, GET only, pipeline 16, Zipf
  miss-p16  pipeload, GET only, pipeline 16, keys never set (a key space
            disjoint from the prefill): every GET a miss
  rbench-get-p16  redis-benchmark -t get -P 16 -c 50 --threads 2 -r 10000:
            GETs of the prefilled keys (its key:__rand_int__ names are
            pipeload's), uniform; its --csv output parsed (rbench.parse_csv).
            It reads no value: Redis's own counters stand in (a GET of a
            prefilled key that Redis found missing, keyspace_misses, or an
            error reply, total_error_replies, loses the run). Its run is
            sized by requests: the warm-up's rate times --seconds

Each repetition brings the testbed up, prefills every key once over the
veth (pipeload --prefill, nothing attached), then runs every configuration
in a shuffled order (seeded by --seed and the repetition), every point in
each: a discarded warm-up run, then the measured run, with prestack's
counters read around it. Ratios to Redis alone are taken within a
repetition. Each repetition holds /tmp/prestack-live.lock (about three
minutes with the defaults), or runs under a lock held above it.

Outputs (into results/ or $PS_RESULTS; OUT is bench-pipelined or --out):
  OUT.csv          one row per run: the generator (pipeload or
                   redis-benchmark) and its numbers (ops/s, GETs, SETs,
                   non-null GET replies, wrong values, errors, per-request
                   p50/p90/p99/p99.9 latency; redis-benchmark: p50, p95,
                   p99, max, mean), CPU per op (Redis, the
                   client, softirq; other_cpu_s: the busy time of every other
                   task, i.e. how quiet the machine was; idle_irq_s: softirq
                   and irq ticks on an idle CPU; Redis, watcher, client,
                   other_cpu_s and idle_irq_s add up to busy_cpu_s:
                   cpuacct.split), prestack's counter deltas (get_hits,
                   get_misses, fills, fq_armed, fq_unarmed, tc_handoffs,
                   fb_* that moved, ...) and answered_share = get_hits /
                   GETs issued: the GETs answered before Redis
  OUT-summary.csv  per configuration and point: median ops/s, the median
                   of the per-repetition ratios to Redis alone (and of
                   MODE to MODE-nocoh: vs_nocoh), median answered share
                   and latency

A run is lost when pipeload or redis-benchmark fails or reports an error
reply, a wrong value, a nil for a prefilled key or a value for a key never
set, or when prestack's counters cannot be read; a configuration whose attach fails
loses its runs, a repetition whose testbed or prefill fails all of them.
Then (or after Ctrl-C) the CSVs already in the results directory stay as
they were, this run's go to build/partial/, and the exit status is 1
(130 when interrupted).

usage: pipelined.py [--quick] [--reps N] [--seconds S] [--configs LIST]
                    [--points LIST] [--seed N] [--no-warm] [--out NAME]
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "pylib"))
from prestack_lib import cpuacct, csvio, psstats  # noqa: E402
from prestack_lib.medci import ci_columns as ci  # noqa: E402
from prestack_lib import rbench as rbench_parse  # noqa: E402
from prestack_lib.livelock import live_lock  # noqa: E402
from prestack_lib.provenance import provenance  # noqa: E402
from prestack_lib.loadpoint import (CONNS, DIST, KEYS, LOAD, POINTS, PS, THREADS, VALUE,  # noqa: E402
                                    Lost, detach, fresh, point_args, run, spawn, stop, teardown)
from prestack_lib import loadpoint  # noqa: E402
from prestack_lib.testbed import IP_SRV, NS_CLI, NS_SRV, PORT, TGT  # noqa: E402

RES = os.environ.get("PS_RESULTS") or os.path.join(TOP, "results")
REDIS_PID = "/run/prestack-testbed/redis.pid"

# configuration -> `prestack attach` arguments (None: nothing attached); a
# name not here is a mode: --mode NAME
CONFIGS = {
    "redis": None,
    "off": ["--mode", "off"],
    "guarded": ["--mode", "guarded"],
    "retrans": ["--mode", "retrans"],
    "guarded-nocoh": ["--mode", "guarded", "--no-coherence"],
    "guarded-cut": ["--mode", "guarded", "--cut"],
    "retrans-cut": ["--mode", "retrans", "--cut"],
}
RBENCH_GUESS = 100_000             # req/s, to size a first redis-benchmark warm-up
# the counters each run records (a name this build lacks is left empty)
COUNTERS = ("get_hits", "get_misses", "fills", "fill_skipped", "fq_armed", "fq_unarmed",
            "tc_handoffs", "tc_replies", "replies", "retrans_replies", "invalidations",
            "flows_untrusted", "fallbacks", "divergences")
LOAD_KEYS = ("ops", "seconds", "ops_per_s", "gets", "gets_at_redis", "sets", "get_hits_nonnull", "get_nulls",
             "get_wrong", "errors", "conns_failed", "p50_us", "p90_us", "p95_us", "p99_us", "p999_us",
             "max_us", "mean_us")


def dist_of(name):
    """redis-benchmark -r draws keys uniformly; pipeload as DIST says."""
    return DIST if POINTS[name][4] == "pipeload" else "uniform"

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--quick", action="store_true", help="1 repetition of 2 s runs (for tests)")
ap.add_argument("--reps", type=int, default=10)
ap.add_argument("--seconds", type=float, default=5.0, help="length of each measured run")
ap.add_argument("--warmup", type=float, default=1.0, help="length of the discarded run before each")
ap.add_argument("--configs", default="redis,off,guarded,guarded-nocoh,retrans")
ap.add_argument("--points", default=",".join(POINTS))
ap.add_argument("--seed", type=int, default=1, help="the configuration order and pipeload's keys")
ap.add_argument("--no-warm", action="store_true",
                help="no `cache warm` before each point: the cache fills from replies only")
ap.add_argument("--out", default="bench-pipelined", help="output name prefix in the results directory")
a = ap.parse_args()
if a.quick:
    a.reps, a.seconds, a.warmup = 1, 2.0, 0.5
CFGS = [c for c in a.configs.split(",") if c]
PTS = [p for p in a.points.split(",") if p]
if a.reps < 1 or a.seconds <= 0 or a.warmup < 0:
    ap.error("--reps >= 1, --seconds > 0, --warmup >= 0")
if "redis" not in CFGS:
    ap.error("--configs needs redis: every ratio is to Redis alone in the same repetition")
if len(set(CFGS)) != len(CFGS) or not all(c.replace("-", "").isalnum() for c in CFGS):
    ap.error(f"--configs: names, each once: {a.configs}")
for p in PTS:
    if p not in POINTS:
        ap.error(f"--points: {p} is not one of {','.join(POINTS)}")


def pipeload(*args, seconds):
    """build/pipeload (loadpoint.pipeload): its JSON, its stderr under
    "_stderr"; Lost without JSON."""
    res, err = loadpoint.pipeload(list(args), seconds)
    res["_stderr"] = "\n".join(err)
    return res


def attach_args(cfg):
    if cfg in CONFIGS:
        return CONFIGS[cfg]
    if cfg.endswith("-nocoh"):
        return ["--mode", cfg.removesuffix("-nocoh"), "--no-coherence"]
    return ["--mode", cfg]


def attach(cfg):
    loadpoint.attach(attach_args(cfg))


def mode_of(cfg):
    """The --mode a configuration attaches with ("-": nothing attached)."""
    args = attach_args(cfg)
    return args[args.index("--mode") + 1] if args else "-"


def watcher_pid():
    """The coherence watcher attach started (0: none)."""
    try:
        st = json.loads(run(PS, "status", *TGT, "--json", check=False).stdout)
        return int(st[0].get("watcher_pid", 0)) if st else 0
    except (ValueError, TypeError, IndexError, KeyError):
        return 0


def warm():
    """Every key into the cache again: each point starts from the same
    state, whatever the SETs of the one before invalidated."""
    if not a.no_warm:
        loadpoint.warm()


def redis_stats():
    """Redis's INFO stats counters (ints) and its GET calls (get_calls),
    over loopback in its namespace."""
    out = run("ip", "netns", "exec", NS_SRV, "redis-cli", "-h", "127.0.0.1", "-p", str(PORT),
              "info", "stats", "commandstats").stdout
    st = {k: int(v) for k, _, v in (ln.strip().partition(":") for ln in out.splitlines())
          if v.strip().isdigit()}
    calls = [ln for ln in out.splitlines() if ln.startswith("cmdstat_get:calls=")]
    st["get_calls"] = int(calls[0].split("=")[1].split(",")[0]) if calls else 0
    return st


def rbench(name, n):
    """One redis-benchmark run of point name, n requests, in the client
    namespace against Redis over the veth: its --csv row, and Redis's own
    counts of nil replies (keyspace_misses), error replies
    (total_error_replies) and GETs run (gets_at_redis) around it, in
    pipeload's JSON shape. redis-benchmark sends whole pipelines, a few
    GETs more than the n it reports: the caller counts the GETs sent as
    gets_at_redis + get_hits."""
    pipe = POINTS[name][0]
    cmd = ["ip", "netns", "exec", NS_CLI, "redis-benchmark", "-h", IP_SRV, "-p", str(PORT),
           "-t", "get", "-n", str(n), "-c", str(CONNS), "-P", str(pipe), "--threads", str(THREADS),
           "-r", str(KEYS), "-d", str(VALUE), "--csv"]
    r0 = redis_stats()
    p = spawn(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    limit = n / 1000 + 60          # 1,000 req/s would be far below anything seen
    try:
        out, err = p.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        raise Lost(f"redis-benchmark -n {n}: no result in {limit:.0f} s")
    finally:
        stop(p)
    if p.returncode:
        raise Lost(f"redis-benchmark exit {p.returncode}: {(err or out).strip()[-300:]}")
    try:
        row = rbench_parse.parse_csv(out)[0]
    except rbench_parse.ParseError as e:
        raise Lost(f"redis-benchmark: {e}")
    r1 = redis_stats()
    nulls = r1.get("keyspace_misses", 0) - r0.get("keyspace_misses", 0)
    errs = r1.get("total_error_replies", 0) - r0.get("total_error_replies", 0)
    at_redis = r1["get_calls"] - r0["get_calls"]
    if not row["rps"]:
        raise Lost("redis-benchmark: 0 requests per second")
    # a GET Redis did not run (answered before it) returned its cached value
    return {"ops": n, "seconds": round(n / row["rps"], 3), "ops_per_s": row["rps"], "gets": at_redis,
            "gets_at_redis": at_redis, "sets": 0, "get_nulls": nulls, "get_wrong": "", "errors": errs,
            "conns_failed": "", "p50_us": row["p50_ms"] * 1000, "p90_us": "",
            "p95_us": row["p95_ms"] * 1000, "p99_us": row["p99_ms"] * 1000, "p999_us": "",
            "max_us": row["max_ms"] * 1000, "mean_us": row["avg_ms"] * 1000}


EST = {}            # (configuration, point) -> the last warm-up's req/s


def load(cfg, name, rep, seconds, warmup=False):
    """One run of a point with its generator: the pipeload-shaped result."""
    if POINTS[name][4] == "pipeload":
        return pipeload(*point_args(name, seconds, a.seed * 1000 + rep), seconds=seconds)
    n = max(2000, int(seconds * EST.get((cfg, name), RBENCH_GUESS)))
    res = rbench(name, n)
    if warmup:
        EST[(cfg, name)] = res["ops_per_s"]
    return res


def judge(name, res):
    """Why a run's result is not a measurement, or ""."""
    why = []
    if res.get("interrupted"):
        why.append("interrupted")
    if res.get("errors"):
        why.append(f"{res['errors']} errors ({res['conns_failed']} connections failed)")
    if res.get("get_wrong"):
        why.append(f"{res['get_wrong']} wrong values")
    if POINTS[name][3] == "prefilled" and res.get("get_nulls"):
        why.append(f"{res['get_nulls']} GETs of prefilled keys returned nil")
    if POINTS[name][3] == "never set" and res.get("get_hits_nonnull"):
        why.append(f"{res['get_hits_nonnull']} GETs of keys never set returned a value")
    if not res.get("ops"):
        why.append("no ops")
    return "; ".join(why)


def measure(m, cfg, rep, order, name):
    pipe, ratio, off, keyspace, gen = POINTS[name]
    if cfg != "redis":
        warm()
    if a.warmup > 0:        # connections, slow start, fills: discarded
        w = load(cfg, name, rep, a.warmup, warmup=True)
        if judge(name, w):
            raise Lost(f"warm-up: {judge(name, w)}")
    pid = int(open(REDIS_PID).read().strip())
    extra = [w for w in [watcher_pid() if cfg != "redis" else 0] if w]
    s0 = psstats.read(TGT, PS) if cfg != "redis" else {}
    c0 = cpuacct.Sample(pid, extra_pids=extra)
    res = load(cfg, name, rep, a.seconds)
    d = cpuacct.Sample(pid, extra_pids=extra, end=True) - c0
    s1 = psstats.read(TGT, PS) if cfg != "redis" else {}
    if cfg != "redis" and not (s0 and s1):
        raise Lost("`prestack stats --json` gave nothing")
    ops = res["ops"] or 1
    softirq = sum(c["softirq_s"] for c in d["cpus"].values())
    sp = cpuacct.split(d)
    row = {**m, "config": cfg, "mode": mode_of(cfg), "attach_args": " ".join(attach_args(cfg) or []),
           "rep": rep, "order": order, "point": name, "generator": gen, "pipeline": pipe,
           "ratio": ratio, "keyspace": keyspace, "key_offset": off, "keys": KEYS, "value_size": VALUE,
           "dist": dist_of(name), "conns": CONNS, "threads": THREADS,
           "warm": int(cfg != "redis" and not a.no_warm)}
    row.update({k: res.get(k, "") for k in LOAD_KEYS})
    row.update({"redis_cpu_us_per_op": round(d["redis_s"] * 1e6 / ops, 3),
                "client_cpu_us_per_op": round(d["children_s"] * 1e6 / ops, 3),
                "softirq_us_per_op": round(softirq * 1e6 / ops, 3),
                # the rest of the busy time, in terms that add up to it
                # (cpuacct.split): other tasks (on a shared machine, how
                # quiet it was) and ticks in softirq on an idle CPU
                "other_cpu_s": sp["other_tasks_s"], "idle_irq_s": sp["idle_irq_s"],
                "busy_cpu_s": sp["busy_s"]})
    for k in COUNTERS:
        row[k] = s1[k] - s0.get(k, 0) if k in s1 and isinstance(s1[k], int) else ""
    if gen == "redis-benchmark":
        # the GETs sent: those Redis ran and those answered before it
        res["gets"] = res["gets_at_redis"] + (row["get_hits"] or 0)
        res["get_hits_nonnull"] = res["gets"] - res["get_nulls"]
        row.update(gets=res["gets"], get_hits_nonnull=res["get_hits_nonnull"],
                   gets_at_redis=res["gets_at_redis"])
    fb = {k: s1[k] - s0.get(k, 0) for k in sorted(s1)
          if k.startswith("fb_") and isinstance(s1[k], int) and s1[k] - s0.get(k, 0)}
    row["fb_nonzero"] = json.dumps(fb, sort_keys=True) if cfg != "redis" else ""
    row["stats_mode"] = s1.get("mode", "") if cfg != "redis" else ""
    row["cache_entries_before"] = s0.get("cache_entries", "") if cfg != "redis" else ""
    row["answered_share"] = (round(row["get_hits"] / res["gets"], 4) if cfg != "redis" and res["gets"]
                             and row["get_hits"] != "" else "")
    row["error"] = judge(name, res)
    print(f"rep {rep} {cfg:13} {name:14}: {res['ops_per_s']:>10.0f} ops/s p50/p99 {res['p50_us']:.0f}/"
          f"{res['p99_us']:.0f} us, GETs {res['gets']} answered before Redis "
          f"{row['answered_share'] if row['answered_share'] != '' else '-'}"
          f" (fills {row['fills'] if row['fills'] != '' else '-'}, fb {row['fb_nonzero'] or '-'})"
          f"{'  ERROR: ' + row['error'] if row['error'] else ''}", flush=True)
    return row


def one_rep(m, rep, rows, lost):
    """One repetition: testbed up, prefill, every configuration in a
    shuffled order, every point; the testbed down again."""
    cfgs = list(CFGS)
    random.Random(a.seed * 1000 + rep).shuffle(cfgs)
    print(f"# rep {rep}: {', '.join(cfgs)}", flush=True)
    try:
        fresh()
        for order, cfg in enumerate(cfgs, 1):
            try:
                if cfg != "redis":
                    attach(cfg)
                for name in PTS:
                    try:
                        row = measure(m, cfg, rep, order, name)
                    except (Lost, OSError, ValueError, subprocess.SubprocessError) as e:
                        lost.append((f"rep {rep} {cfg} {name}", str(e)))
                        print(f"# lost: rep {rep} {cfg} {name}: {e}", file=sys.stderr, flush=True)
                        continue
                    rows.append(row)
                    if row["error"]:
                        lost.append((f"rep {rep} {cfg} {name}", row["error"]))
            except (Lost, OSError, subprocess.SubprocessError) as e:
                for name in PTS:
                    lost.append((f"rep {rep} {cfg} {name}", f"attach: {e}"))
                print(f"# lost: rep {rep} {cfg}: {e}", file=sys.stderr, flush=True)
            finally:
                detach()
    except (Lost, OSError, subprocess.SubprocessError) as e:
        done = {(r["config"], r["point"]) for r in rows if r["rep"] == rep}
        lost.extend((f"rep {rep} {c} {p}", f"repetition: {e}") for c in CFGS for p in PTS
                    if (c, p) not in done)
        print(f"# lost: rep {rep}: {e}", file=sys.stderr, flush=True)
    finally:
        teardown()


def med(xs):
    xs = [float(x) for x in xs if x not in ("", None)]
    return round(statistics.median(xs), 4) if xs else ""


def summarize(rows):
    """Medians per configuration and point; the ratio to Redis alone taken
    within each repetition, then its median."""
    out = []
    ok = [r for r in rows if not r["error"]]
    for name in PTS:
        same = [r for r in ok if r["point"] == name]
        base = {r["rep"]: r["ops_per_s"] for r in same if r["config"] == "redis"}
        for cfg in CFGS:
            mine = [r for r in same if r["config"] == cfg]
            if not mine:
                continue
            ratio = [r["ops_per_s"] / base[r["rep"]] for r in mine if base.get(r["rep"])]
            # the coherence machinery's cost: MODE against MODE-nocoh, per repetition
            twin = {r["rep"]: r["ops_per_s"] for r in same if r["config"] == cfg + "-nocoh"}
            vs_nocoh = [r["ops_per_s"] / twin[r["rep"]] for r in mine if twin.get(r["rep"])]
            pipe, mix, _, keyspace, gen = POINTS[name]
            out.append({"config": cfg, "point": name, "generator": gen, "pipeline": pipe, "ratio": mix,
                        "keyspace": keyspace, "conns": CONNS, "threads": THREADS, "value_size": VALUE,
                        "keys": KEYS, "dist": dist_of(name), "reps": len(mine),
                        "ops_per_s_median": med(r["ops_per_s"] for r in mine),
                        "ops_per_s_min": min(r["ops_per_s"] for r in mine),
                        "ops_per_s_max": max(r["ops_per_s"] for r in mine),
                        "vs_redis_median": med(ratio),
                        "vs_redis_min": round(min(ratio), 4) if ratio else "",
                        "vs_redis_max": round(max(ratio), 4) if ratio else "",
                        **ci("ops_per_s", [r["ops_per_s"] for r in mine]), **ci("vs_redis", ratio),
                        "vs_nocoh_median": med(vs_nocoh),
                        "vs_nocoh_min": round(min(vs_nocoh), 4) if vs_nocoh else "",
                        "vs_nocoh_max": round(max(vs_nocoh), 4) if vs_nocoh else "",
                        "answered_share_median": med(r["answered_share"] for r in mine),
                        "p50_us_median": med(r["p50_us"] for r in mine),
                        "p99_us_median": med(r["p99_us"] for r in mine),
                        "redis_cpu_us_per_op_median": med(r["redis_cpu_us_per_op"] for r in mine),
                        "fills_median": med(r["fills"] for r in mine),
                        "other_cpu_s_median": med(r["other_cpu_s"] for r in mine)})
    return out


def write(where, rows):
    """Both CSVs into where, each through a temporary file."""
    os.makedirs(where, exist_ok=True)
    if rows:
        csvio.save(os.path.join(where, f"{a.out}.csv"), rows)
    summ = summarize(rows)
    if summ:
        csvio.save(os.path.join(where, f"{a.out}-summary.csv"), summ)
    return summ


def main():
    loadpoint.preflight("pipelined", PS, LOAD)
    n_runs = a.reps * len(CFGS) * len(PTS)
    est = a.reps * (8 + 3 * (len(CFGS) - 1)) + n_runs * (a.seconds + a.warmup + 0.6)
    print(f"# pipelined: {a.reps} reps x {len(CFGS)} configs x {len(PTS)} points, "
          f"about {est / 60:.0f} min", flush=True)
    m = {**provenance(), "ncpu": os.cpu_count(), "offloads": "tso,gso,gro,tx,rx,sg off both ends"}
    rows, lost = [], []
    interrupted = False
    try:
        for rep in range(1, a.reps + 1):
            with live_lock(f"pipelined rep {rep}"):
                one_rep(m, rep, rows, lost)
    except KeyboardInterrupt:
        interrupted = True
        print("pipelined: interrupted, cleaning up", file=sys.stderr, flush=True)
    finally:
        teardown()
    measured = {(r["rep"], r["config"], r["point"]) for r in rows if not r["error"]}
    whole = not interrupted and not lost and len(measured) == n_runs
    where = RES if whole else csvio.PARTIAL_DIR
    summ = write(where, rows) if rows else []
    if not whole:
        for cell, why in lost[:10]:
            print(f"# lost {cell}: {why}", file=sys.stderr)
        print(f"pipelined: {n_runs - len(measured)} of {n_runs} runs not measured"
              f"{' (interrupted)' if interrupted else ''}; {RES} left as it was"
              f"{', the runs measured are in ' + where if rows else ''}", file=sys.stderr)
        return 130 if interrupted else 1
    for p in (f"{a.out}.csv", f"{a.out}-summary.csv"):     # an earlier failed run's
        if os.path.exists(os.path.join(csvio.PARTIAL_DIR, p)):
            os.unlink(os.path.join(csvio.PARTIAL_DIR, p))
    print(f"wrote {where}/{a.out}.csv ({len(rows)} rows) and {a.out}-summary.csv")
    print(f"{'config':14} {'point':14} {'ops/s':>10} {'vs redis':>8} {'vs nocoh':>8} {'answered':>8}")
    for s in summ:
        print(f"{s['config']:14} {s['point']:14} {s['ops_per_s_median']:>10} {s['vs_redis_median']:>8} "
              f"{s['vs_nocoh_median']!s:>8} {s['answered_share_median']!s:>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
