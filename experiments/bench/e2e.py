#!/usr/bin/python3
"""e2e.py - redis-benchmark GET against Redis alone and prestack in each
configuration, side by side in one run, on the netns testbed; the realistic
workload (realistic.py) per configuration next to it.

Configurations are names from CONFIGS below (redis = nothing attached, off,
naive, guarded, retrans, guarded-tc = guarded with the TC reply path; and
two more baselines with nothing attached, what a user would run instead
on the same two CPUs: redis-io2 = Redis restarted with --io-threads 2
--io-threads-do-reads yes, redis-pinned = Redis on CPU 0 and the client on
CPU 1 whatever the point's pinning);
any other name is taken as a `prestack attach --mode` name (poststack, ...)
and fails clearly if attach rejects it. Repetitions are interleaved: rep 1
of every configuration, then rep 2, ...; the configuration order rotates.

The load generator is redis-benchmark 7 with --threads THREADS (never more
threads than clients), sized with --sizing (README, Benchmarks): on this
2-core machine 2 threads, unpinned (--pin none), so that the client can
use whatever CPU the server leaves; --pin split puts Redis and prestack's
coherence watcher on CPU 0 and the client on CPU 1 (taskset); --pin steer
does the same and steers each veth end's receive processing (RPS) to its
own side's CPU, for CPU attribution by CPU (--steer-clients: the points run
that way besides the unpinned grid). A warm-up run
precedes every measured one, and each measured run is sized to last about
--seconds. Latency is the run's whole distribution (redis-benchmark's
percentile and cumulative tables, --precision 3).

CPU per run, each from its own counter (limits in README, Benchmarks):
  redis_cpu_s     redis-server's utime+stime (/proc/PID/stat), which also
                  holds the TC egress program and the send path (process
                  context); the coherence watcher's apart (watcher_cpu_s)
  bpf_srv_*_ns    run time of the server's BPF programs
                  (kernel.bpf_stats_enabled=1, bpftool prog show): XDP,
                  TC, any other program prestack status lists
  client_cpu_s    redis-benchmark's own utime+stime (getrusage of children)
  softirq_cpuN_s  the softirq column of /proc/stat per CPU. On veth the
                  receive side of a packet runs in softirq on the CPU of
                  its *sender*: the server's receive path (XDP, TCP into
                  Redis's socket) on the client's CPU, the client's receive
                  path on Redis's CPU. So the softirq total bounds the
                  server's kernel work from above, the server's BPF time
                  from below:
  server_cpu_us_per_req        (redis + all softirq) / requests: upper bound
  server_cpu_lower_us_per_req  (redis + server XDP and other BPF) / requests
  With --pin steer the CPUs themselves separate the sides (see README):
  srv_cpu_steer_us_per_req     (busy CPU 0 + server XDP) / requests
  cli_cpu_steer_us_per_req     (busy CPU 1 - server XDP) / requests
  (valid on a quiet machine only: other_cpu_s, the CPU time of every other
  task, says how quiet it was)
  The busy time adds up (cpuacct.split): redis_cpu_s + watcher_cpu_s +
  client_cpu_s + other_cpu_s + idle_irq_s = busy_cpu_s, idle_irq_s being
  the softirq and irq ticks that interrupted an idle CPU. The softirq
  column overlaps these terms (without IRQ time accounting a tick in
  softirq is also charged to the task it interrupted), so it is never
  subtracted from them.

Outputs (into results/ or $PS_RESULTS; OUT is bench-e2e or --out):
  OUT.csv           one row per run
  OUT-latency-cdf.csv  the latency distribution of every run (the CDF's points)
  OUT-latency.csv   p50/p99/p99.9 (us) per configuration and point, medians
                    of the repetitions (the paper's table)
  OUT-summary.csv   medians per configuration and point, ratio to Redis
                    alone in the same repetition (speedup_vs_redis_median)
                    and to the best baseline of that repetition
                    (vs_best_baseline_median); the realistic workload's
                    rows (workload=realistic, Redis alone its only
                    baseline) beside them
  OUT-realistic.csv realistic.py's own rows

Runs that use the testbed take /tmp/prestack-live.lock (flock) for at
most ~4 minutes at a time: the run is cut into pieces (one repetition of
one value size and pipeline depth, all configurations), each bringing the
testbed up and down.

usage: e2e.py [--quick] [--reps N] [--configs LIST] [--sizes LIST]
              [--clients LIST] [--pipelines LIST] [--threads LIST]
              [--pin LIST] [--seconds S] [--realistic-ops N] [--sizing]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "pylib"))
from prestack_lib import cpuacct, csvio, psstats, rbench  # noqa: E402
from prestack_lib.medci import ci_columns as ci  # noqa: E402
from prestack_lib.livelock import live_lock  # noqa: E402
from prestack_lib.provenance import provenance  # noqa: E402
from prestack_lib.testbed import DEV_CLI, DEV_SRV, IP_SRV, NS_CLI, NS_SRV, PORT, TGT  # noqa: E402

PS = os.path.join(TOP, "build", "prestack")
TB = os.path.join(TOP, "experiments", "testbed.sh")
REALISTIC = os.path.join(TOP, "experiments", "bench", "realistic.py")
RES = os.environ.get("PS_RESULTS") or os.path.join(TOP, "results")
LOCK_BUDGET_S = 240      # one lock hold, planned (the rule is <= 5 min)
KEYSPACE = 1000
THREADS = 2              # redis-benchmark --threads: see --sizing and README
PIN = "none"             # see --sizing and README
SRV_CPU, CLI_CPU = 0, 1  # --pin split, steer

# A configuration: nothing attached (None), or a prestack mode and whether
# the TC reply path may carry replies (attach without --no-tc-reply).
# A name not in this table is a mode name, TC reply path off. Baselines
# (nothing attached) besides Redis alone, what a user would pick instead
# on the same two CPUs: Redis 7 with two I/O threads (reads and writes
# threaded; Redis restarted with redis_args), and Redis alone pinned to
# CPU 0 with the client on CPU 1 (pin: whatever the point's own pinning).
CONFIGS = {
    "redis": None,
    "redis-io2": {"baseline": True, "redis_args": "--io-threads 2 --io-threads-do-reads yes"},
    "redis-pinned": {"baseline": True, "pin": "split"},
    "off": {"mode": "off"},
    "naive": {"mode": "naive"},
    "guarded": {"mode": "guarded"},
    "retrans": {"mode": "retrans"},
    "guarded-tc": {"mode": "guarded", "tc_reply": True},
}


def config(name):
    return CONFIGS[name] if name in CONFIGS else {"mode": name}


def baseline(name):
    """Nothing attached: Redis alone, or one of the baselines above."""
    return name == "redis" or bool((CONFIGS.get(name) or {}).get("baseline"))


def redis_args(name):
    return (CONFIGS.get(name) or {}).get("redis_args", "")


def ints(s):
    return [int(x) for x in s.split(",") if x]


ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--quick", action="store_true", help="about a minute: 64 B, 50 clients, P 1, 1 s runs")
ap.add_argument("--sizing", action="store_true",
                help="size the client: redis,guarded x --threads 1,2,3,4 x --pin none,split "
                     "at 1/50/200 clients -> OUT bench-e2e-sizing")
ap.add_argument("--reps", type=int, default=10)
ap.add_argument("--configs", default="redis,redis-io2,redis-pinned,off,naive,guarded,retrans")
ap.add_argument("--sizes", default="64,16,256,1024", help="value sizes (B); the first gets the whole grid, "
                "the others 50 clients without pipelining")
ap.add_argument("--clients", default="1,10,50,200")
ap.add_argument("--pipelines", default="1,16")
ap.add_argument("--threads", default=str(THREADS), help="redis-benchmark --threads (a list: a grid)")
ap.add_argument("--pin", default=PIN, help="none, split (Redis CPU 0, client CPU 1) or steer "
                "(split, and RPS: each side's receive path on its own CPU); a list: a grid")
ap.add_argument("--steer-clients", default="1,50", help="also run these client counts (GET, P 1, "
                "first size) with --pin steer, for CPU attribution; empty: none")
ap.add_argument("--workloads", default="get,mix", help="get; mix = 90/10 GET/SET at 50 clients, P 1")
ap.add_argument("--seconds", type=float, default=3.0, help="length of each measured run")
ap.add_argument("--realistic-ops", type=int, default=20000, help="0: skip the realistic workload")
ap.add_argument("--dry-run", action="store_true", help="print the plan and its duration, run nothing")
ap.add_argument("--out", default="bench-e2e", help="output name prefix in the results directory")
a = ap.parse_args()
if a.sizing:
    a.configs, a.threads, a.pin, a.clients, a.pipelines = "redis,guarded", "1,2,3,4", "none,split", "1,50,200", "1"
    a.workloads, a.sizes, a.realistic_ops, a.steer_clients = "get", "64", 0, ""
    a.out = a.out if a.out != "bench-e2e" else "bench-e2e-sizing"
    a.reps = min(a.reps, 3)
if a.quick:
    a.reps, a.sizes, a.clients, a.pipelines, a.seconds = 1, "64", "50", "1", 1.0
    a.workloads, a.realistic_ops = "get", min(a.realistic_ops, 2000)
    a.steer_clients = "50" if a.steer_clients else ""
CFGS = a.configs.split(",")
SIZES, CLIENTS, PIPES, THR = ints(a.sizes), ints(a.clients), ints(a.pipelines), ints(a.threads)
PINS = a.pin.split(",")
STEER_CLIENTS = ints(a.steer_clients)
WORKLOADS = a.workloads.split(",")
if a.reps < 1 or a.seconds <= 0 or not all(CLIENTS + PIPES + THR + SIZES):
    ap.error("--reps >= 1; clients, pipelines, threads, sizes > 0")
for p in PINS:
    if p not in ("split", "none", "steer"):
        ap.error(f"--pin: none, split or steer, not {p}")
if "redis" not in CFGS:
    ap.error("--configs needs redis: every ratio is to Redis alone in the same repetition")


def run(*cmd, check=True, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if check and r.returncode:
        raise RuntimeError(f"{' '.join(cmd)}: exit {r.returncode}: {(r.stderr or r.stdout).strip()}")
    return r


def attach_knows(flag):
    return flag in run(PS, "attach", "--help", check=False).stdout


def status():
    r = run(PS, "status", *TGT, "--json", check=False)
    try:
        st = json.loads(r.stdout)
    except ValueError:
        return {}
    return st[0] if st else {}


def attach(name):
    cfg = config(name)
    args = [PS, "attach", *TGT, "--mode", cfg["mode"]]
    if attach_knows("--no-tc-reply"):
        if not cfg.get("tc_reply"):
            args.append("--no-tc-reply")
    elif cfg.get("tc_reply"):
        sys.exit(f"e2e: configuration {name} needs the TC reply path, and this prestack "
                 f"attach has no --no-tc-reply")
    r = run(*args, check=False)
    if r.returncode:
        sys.exit(f"e2e: configuration {name}: `prestack attach --mode {cfg['mode']}` failed:\n"
                 f"{(r.stderr or r.stdout).strip()}")
    run(PS, "cache", "warm", "--redis", f"127.0.0.1:{PORT}", *TGT)


def detach():
    if status():
        run(PS, "detach", *TGT, "--force", check=False)


def redis_pid():
    return int(open("/run/prestack-testbed/redis.pid").read().strip())


def pin(pid, cpus):
    run("taskset", "-a", "-p", "-c", cpus, str(pid), check=False)


def server_pids():
    return [p for p in (redis_pid(), status().get("watcher_pid", 0)) if p]


def rps(ns, dev, cpu):
    """Receive packet steering of every rx queue of dev: to `cpu`, or off
    (None). sysfs as seen from inside the namespace."""
    mask = f"{1 << cpu:x}" if cpu is not None else "0"
    run("ip", "netns", "exec", ns, "sh", "-c",
        f"for q in /sys/class/net/{dev}/queues/rx-*/rps_cpus; do echo {mask} > $q; done")


def set_pin(mode):
    all_cpus = f"0-{os.cpu_count() - 1}"
    for p in server_pids():
        pin(p, str(SRV_CPU) if mode in ("split", "steer") else all_cpus)
    # veth runs a packet's receive side on the sender's CPU: steer it back
    rps(NS_SRV, DEV_SRV, SRV_CPU if mode == "steer" else None)
    rps(NS_CLI, DEV_CLI, CLI_CPU if mode == "steer" else None)


def prog_ids():
    """{id: side}: the client veth's XDP program, and every program
    `prestack status` lists (xdp_prog_id, tc_prog_id, any *_prog_id)."""
    ids = {}
    r = run("ip", "-n", NS_CLI, "-j", "link", "show", DEV_CLI, check=False)
    try:
        ids[json.loads(r.stdout)[0]["xdp"]["prog"]["id"]] = "cli"
    except (ValueError, KeyError, IndexError):
        pass
    for k, v in status().items():
        if k.endswith("prog_id") and v:
            ids[v] = "srv"
    return ids


def answered(cfg):
    """GETs answered from the cache so far, and by which path: XDP and TC
    (get_hits) or after the stack (post_hits), as the configuration's mode
    says."""
    n, by = psstats.answered(psstats.read(TGT, PS), (config(cfg) or {}).get("mode", ""))
    return n, by


def populate(size):
    run("ip", "netns", "exec", NS_SRV, "redis-cli", "-h", "127.0.0.1", "-p", str(PORT), "flushall")
    v = "x" * size
    cmds = "".join(f"SET key:{i:012d} {v}\n" for i in range(KEYSPACE))
    run("ip", "netns", "exec", NS_SRV, "redis-cli", "-h", "127.0.0.1", "-p", str(PORT), input=cmds)


def rb_cmd(test, size, clients, pipe, threads, n, pinmode):
    cmd = ["ip", "netns", "exec", NS_CLI]
    if pinmode in ("split", "steer"):
        cmd += ["taskset", "-c", str(CLI_CPU)]
    cmd += ["redis-benchmark", "-h", IP_SRV, "-p", str(PORT), "-t", test, "-n", str(n),
            "-c", str(clients), "-P", str(pipe), "-d", str(size), "-r", str(KEYSPACE),
            "--precision", "3"]
    if min(threads, clients) > 1:
        cmd += ["--threads", str(min(threads, clients))]
    return cmd


def bench(wl, size, clients, pipe, threads, n, pinmode):
    """One redis-benchmark run (two side by side for the mix) -> parsed."""
    if wl == "get":
        r = subprocess.run(rb_cmd("get", size, clients, pipe, threads, n, pinmode),
                           capture_output=True, text=True, timeout=600)
        if r.returncode:
            raise rbench.ParseError(f"redis-benchmark exit {r.returncode}: {r.stderr.strip()[-200:]}")
        out = rbench.parse(r.stdout)
        out["gets"] = out["requests"]
        return out
    # 90/10: a GET group and a SET group, clients and requests 9:1
    # (redis-benchmark runs one command type per process)
    gc, sc = max(1, clients * 9 // 10), max(1, clients // 10)
    gp = subprocess.Popen(rb_cmd("get", size, gc, pipe, threads, n * 9 // 10, pinmode),
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    sp = subprocess.Popen(rb_cmd("set", size, sc, pipe, 1, n // 10, pinmode),
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    g, s = gp.communicate(timeout=600)[0], sp.communicate(timeout=600)[0]
    if gp.returncode or sp.returncode:
        raise rbench.ParseError("redis-benchmark (mix) failed")
    g, s = rbench.parse(g), rbench.parse(s)
    # latency is the GET group's; throughput the sum
    g["rps"] += s["rps"]
    g["gets"] = g["requests"]
    g["requests"] += s["requests"]
    return g


def meta():
    return {**provenance(), "ncpu": os.cpu_count(),
            "offloads": "tso,gso,gro,tx,rx,sg off both ends"}


EST = {}   # (size, clients, pipe, threads, pin, wl) -> highest req/s seen


def measure(m, cfg, rep, wl, size, clients, pipe, threads, pinmode, run_pin=None):
    """One measured run; pinmode is the point's (the row's), run_pin the
    pinning it runs with (a baseline's own, else the point's)."""
    run_pin = run_pin or pinmode
    key = (size, clients, pipe, threads, run_pin, wl)
    guess = EST.get(key, 20000 * min(clients, 8) * pipe)
    # warm-up (connections, slow start, cache fill), discarded; sizes the run
    try:
        w = bench(wl, size, clients, pipe, threads, max(2000, int(guess * 0.4)), run_pin)
        EST[key] = max(EST.get(key, 0), w["rps"])
    except (rbench.ParseError, subprocess.TimeoutExpired):
        pass
    n = max(2000, min(20_000_000, int(a.seconds * EST.get(key, guess))))
    ids = prog_ids()
    spids = server_pids()
    h0, by = answered(cfg) if not baseline(cfg) else (0, "")
    s0 = cpuacct.Sample(spids[0], ids, spids[1:])
    err, r = "", None
    try:
        r = bench(wl, size, clients, pipe, threads, n, run_pin)
    except (rbench.ParseError, subprocess.TimeoutExpired) as e:
        err = str(e)[:200]
    d = cpuacct.Sample(spids[0], ids, spids[1:], end=True) - s0
    hits = answered(cfg)[0] - h0 if not baseline(cfg) else 0
    reqs = r["requests"] if r else n
    bpf = {"srv_xdp": 0, "srv_tc": 0, "srv_other": 0, "cli": 0, "srv_runs": 0}
    for i, p in d["progs"].items():
        if ids.get(i) == "cli":
            bpf["cli"] += p["run_time_ns"]
        else:
            kind = {"xdp": "srv_xdp", "sched_cls": "srv_tc"}.get(p["type"], "srv_other")
            bpf[kind] += p["run_time_ns"]
            bpf["srv_runs"] += p["run_cnt"]
    softirq = sum(c["softirq_s"] for c in d["cpus"].values())
    sp = cpuacct.split(d)
    per = 1e6 / reqs
    row = {**m, "config": cfg, "mode": (config(cfg) or {}).get("mode", "-") if not baseline(cfg) else "-",
           "rep": rep, "workload": wl, "value_size": size, "clients": clients, "pipeline": pipe,
           "threads": threads, "threads_used": min(threads, clients), "pin": pinmode, "requests": reqs,
           "seconds": round(d["wall_s"], 3),
           "rps": r["rps"] if r else "", "p50_ms": r["p50_ms"] if r else "",
           "p99_ms": r["p99_ms"] if r else "", "p999_ms": r["p999_ms"] if r else "",
           "max_ms": r["max_ms"] if r else "",
           "answered": hits, "answered_by": by, "hit_share": round(hits / r["gets"], 4) if r and not baseline(cfg) else "",
           "redis_cpu_s": round(d["redis_s"], 3), "watcher_cpu_s": round(d["extra_s"], 3),
           "client_cpu_s": round(d["children_s"], 3),
           "client_cpu_util": round(d["children_s"] / d["wall_s"], 3),
           "softirq_s": round(softirq, 3),
           # the rest of the busy time, in terms that add up to it
           # (cpuacct.split): every other task (how quiet a shared machine
           # was) and softirq/irq ticks on an idle CPU, charged to no task
           "other_cpu_s": sp["other_tasks_s"], "idle_irq_s": sp["idle_irq_s"],
           "busy_cpu_s": sp["busy_s"]}
    for c in sorted(d["cpus"]):
        row[f"softirq_cpu{c}_s"] = round(d["cpus"][c]["softirq_s"], 3)
    for c in sorted(d["cpus"]):
        row[f"busy_cpu{c}_s"] = round(d["cpus"][c]["busy_s"], 3)
    row.update({"bpf_srv_xdp_ns": bpf["srv_xdp"], "bpf_srv_tc_ns": bpf["srv_tc"],
                "bpf_srv_other_ns": bpf["srv_other"], "bpf_srv_runs": bpf["srv_runs"],
                "bpf_cli_ns": bpf["cli"],
                "redis_cpu_us_per_req": round(d["redis_s"] * per, 3),
                "bpf_srv_us_per_req": round((bpf["srv_xdp"] + bpf["srv_tc"] + bpf["srv_other"]) / 1e3 / reqs, 3),
                "softirq_us_per_req": round(softirq * per, 3),
                "client_us_per_req": round(d["children_s"] * per, 3),
                "server_cpu_us_per_req": round((d["redis_s"] + softirq) * per, 3),
                "server_cpu_lower_us_per_req": round(d["redis_s"] * per +
                                                     (bpf["srv_xdp"] + bpf["srv_other"]) / 1e3 / reqs, 3),
                "srv_cpu_steer_us_per_req": round(d["cpus"][SRV_CPU]["busy_s"] * per + bpf["srv_xdp"] / 1e3 / reqs, 3)
                if pinmode == "steer" else "",
                "cli_cpu_steer_us_per_req": round(d["cpus"][CLI_CPU]["busy_s"] * per - bpf["srv_xdp"] / 1e3 / reqs, 3)
                if pinmode == "steer" else "",
                "error": err})
    lat = [{"date": m["date"], "commit": m["commit"], "config": cfg, "rep": rep, "workload": wl,
            "value_size": size, "clients": clients, "pipeline": pipe, "threads": threads,
            "pin": pinmode, "latency_ms": x, "count": c, "cum_share": round(c / r["count"], 6)}
           for x, c in r["cdf"]] if r else []
    print(f"{cfg:10} {wl:3} d={size:<4} c={clients:<3} P={pipe:<2} t={threads} pin={pinmode:5} rep {rep}: "
          f"{row['rps'] or 'FAILED ' + err} req/s p50/p99/p99.9 {row['p50_ms']}/{row['p99_ms']}/"
          f"{row['p999_ms']} ms hits {row['hit_share']} | us/req redis {row['redis_cpu_us_per_req']} "
          f"bpf {row['bpf_srv_us_per_req']} softirq {row['softirq_us_per_req']} "
          f"client {row['client_us_per_req']} (client {row['client_cpu_util']:.2f} CPUs)", flush=True)
    return row, lat


def points(size, pipe):
    """(workload, clients, threads, pin) of one piece."""
    first = size == SIZES[0]
    out = []
    if first and pipe == 1 and "steer" not in PINS:
        # one thread: the client has one CPU (two time-slice it: 4 ms tails)
        out += [("get", c, 1, "steer") for c in STEER_CLIENTS]
    for pinmode in PINS:
        for threads in THR:
            for wl in WORKLOADS:
                for c in CLIENTS:
                    if wl == "mix" and (c != 50 or pipe != 1):
                        continue
                    if not first and (c != 50 or pipe != 1):
                        continue
                    out.append((wl, c, threads, pinmode))
    return out


def pieces():
    """Lock-sized pieces: (rep, size, pipe, [points]) in run order."""
    out = []
    per_run = 2 * a.seconds + 1.5     # warm-up, measured run, counters
    for rep in range(1, a.reps + 1):
        for size in SIZES:
            for pipe in PIPES:
                pts = points(size, pipe)
                if not pts:
                    continue
                per_piece = max(1, int((LOCK_BUDGET_S - 10) / (len(CFGS) * (per_run + 0.5))))
                for i in range(0, len(pts), per_piece):
                    out.append((rep, size, pipe, pts[i:i + per_piece]))
    return out


def testbed_up(args):
    """The testbed, Redis started with args (PS_REDIS_ARGS)."""
    run(TB, "down", check=False)
    run(TB, "up", env=dict(os.environ, PS_REDIS_ARGS=args))


def one_piece(m, rep, size, pipe, pts, rows, lats):
    up = None
    try:
        k = (rep - 1) % len(CFGS)
        for cfg in CFGS[k:] + CFGS[:k]:
            # a baseline with Redis's own options has Redis restarted
            if up != redis_args(cfg):
                testbed_up(redis_args(cfg))
                up = redis_args(cfg)
                populate(size)
            if not baseline(cfg):
                attach(cfg)
            try:
                for wl, c, threads, pinmode in pts:
                    run_pin = (CONFIGS.get(cfg) or {}).get("pin", pinmode)
                    set_pin(run_pin)
                    row, lat = measure(m, cfg, rep, wl, size, c, pipe, threads, pinmode, run_pin)
                    rows.append(row)
                    lats.extend(lat)
            finally:
                detach()
    finally:
        detach()
        run(TB, "down", check=False)


def realistic(rep, rows):
    """realistic.py for every configuration, into OUT-realistic.csv (rows
    labelled with the configuration's name)."""
    # realistic.py attaches with the TC reply path unless a mode ends in
    # "-notc": our configurations say it the other way round
    def rmode(c):
        if c == "redis" or c not in CONFIGS:
            return c
        if CONFIGS[c].get("tc_reply"):
            return CONFIGS[c]["mode"]
        return CONFIGS[c]["mode"] + ("-notc" if CONFIGS[c]["mode"] in ("guarded", "retrans") else "")
    # (the baselines besides Redis alone are for redis-benchmark only)
    cfgs = [c for c in CFGS if c == "redis" or not baseline(c)]
    k = (rep - 1) % len(cfgs)
    cfgs = cfgs[k:] + cfgs[:k]
    name = {rmode(c): c for c in cfgs}
    modes = [rmode(c) for c in cfgs]
    # into build/partial/ until the whole run is in (main copies it)
    out = os.path.join(csvio.PARTIAL_DIR, f"{a.out}-realistic.csv")
    if rep == 1 and os.path.exists(out):
        os.unlink(out)        # this run's rows only, like the other outputs
    before = len(csvio.load(out))
    r = run("/usr/bin/python3", REALISTIC, "--ops", str(a.realistic_ops), "--modes", ",".join(modes),
            "--out", out, check=False)
    for line in r.stdout.splitlines():
        if line.startswith("# ") and ":" in line:
            print(f"realistic rep {rep} {line[2:]}"[:200], flush=True)
    if r.returncode:
        print(f"# realistic.py exit {r.returncode}: {r.stderr.strip()[-300:]}", flush=True)
    new = csvio.load(out)
    if r.returncode or len(new) - before != len(modes):
        raise RuntimeError(f"realistic rep {rep}: {len(new) - before} of {len(modes)} modes measured")
    for x in new[before:]:
        x["rep"] = rep
        x["mode"] = name.get(x["mode"], x["mode"])
        rows.append(x)


def write(name, rows, quiet=False, where=None):
    """rows into where (the results directory) as name, atomically."""
    if not rows:
        return
    where = where or RES
    csvio.save(os.path.join(where, name), rows)
    if not quiet:
        print(f"wrote {where}/{name} ({len(rows)} rows)")


def med(xs):
    xs = [float(x) for x in xs if x not in ("", None)]
    return round(statistics.median(xs), 4) if xs else ""


def summarize(rows, real, where):
    """Medians per configuration and point; ratios to Redis alone taken
    within each repetition, then their median."""
    out = []
    ok = [r for r in rows if r["rps"] != ""]
    keys = sorted({(r["workload"], r["value_size"], r["clients"], r["pipeline"], r["threads"], r["pin"])
                   for r in ok})
    for key in keys:
        same = [r for r in ok if (r["workload"], r["value_size"], r["clients"], r["pipeline"],
                                  r["threads"], r["pin"]) == key]
        base = {r["rep"]: r for r in same if r["config"] == "redis"}
        # the best of what a user would pick instead, per repetition
        best = {}
        for r in same:
            if baseline(r["config"]) and r["rps"] > best.get(r["rep"], 0):
                best[r["rep"]] = r["rps"]
        for cfg in CFGS:
            mine = [r for r in same if r["config"] == cfg]
            if not mine:
                continue
            sp = [r["rps"] / base[r["rep"]]["rps"] for r in mine if r["rep"] in base]
            spb = [r["rps"] / best[r["rep"]] for r in mine if r["rep"] in best]
            p99r = [r["p99_ms"] / base[r["rep"]]["p99_ms"] for r in mine
                    if r["rep"] in base and base[r["rep"]]["p99_ms"]]
            rps = [r["rps"] for r in mine]
            o = {"date": mine[0]["date"], "commit": mine[0]["commit"], "kernel": mine[0]["kernel"],
                 "config": cfg, "workload": key[0], "value_size": key[1], "clients": key[2],
                 "pipeline": key[3], "threads": key[4], "pin": key[5], "reps": len(mine),
                 "rps_median": med(rps), "rps_min": min(rps), "rps_max": max(rps),
                 "speedup_vs_redis_median": med(sp), "speedup_min": round(min(sp), 3) if sp else "",
                 "speedup_max": round(max(sp), 3) if sp else "",
                 "vs_best_baseline_median": med(spb),
                 **ci("rps", rps), **ci("speedup", sp), **ci("vs_best_baseline", spb),
                 "p99_vs_redis_median": med(p99r)}
            for c in ("p50_ms", "p99_ms", "p999_ms", "hit_share", "redis_cpu_us_per_req", "bpf_srv_us_per_req",
                      "softirq_us_per_req", "client_us_per_req", "server_cpu_us_per_req",
                      "server_cpu_lower_us_per_req", "srv_cpu_steer_us_per_req",
                      "cli_cpu_steer_us_per_req", "client_cpu_util", "other_cpu_s"):
                o[f"{c}_median"] = med(r[c] for r in mine)
            out.append(o)
    write(f"{a.out}-latency.csv", [
        {"date": o["date"], "commit": o["commit"], "kernel": o["kernel"], "config": o["config"],
         "workload": o["workload"], "value_size": o["value_size"], "clients": o["clients"],
         "pipeline": o["pipeline"], "threads": o["threads"], "pin": o["pin"], "reps": o["reps"],
         "p50_us": round(o["p50_ms_median"] * 1e3, 1), "p99_us": round(o["p99_ms_median"] * 1e3, 1),
         "p999_us": round(o["p999_ms_median"] * 1e3, 1)}
        for o in out if o["p50_ms_median"] != ""], where=where)
    # the realistic workload: one Python client, request at a time
    base = {int(r["rep"]): r for r in real if r["mode"] == "redis"}
    for cfg in CFGS:
        mine = [r for r in real if r["mode"] == cfg]
        if not mine:
            continue
        sp = [float(r["ops_per_s"]) / float(base[int(r["rep"])]["ops_per_s"]) for r in mine
              if int(r["rep"]) in base]
        out.append({"date": mine[0]["date"], "commit": mine[0]["commit"], "kernel": mine[0]["kernel"],
                    "config": cfg, "workload": "realistic", "value_size": "etc", "clients": 16,
                    "pipeline": 1, "threads": 1, "pin": "-", "reps": len(mine),
                    "rps_median": med(r["ops_per_s"] for r in mine),
                    "rps_min": min(float(r["ops_per_s"]) for r in mine),
                    "rps_max": max(float(r["ops_per_s"]) for r in mine),
                    # not a throughput ratio: in prestack modes realistic.py
                    # reads the counters around every carriable GET
                    "ops_vs_redis_median": med(sp),
                    "p50_ms_median": med(float(r["p50_us"]) / 1e3 for r in mine),
                    "p99_ms_median": med(float(r["p99_us"]) / 1e3 for r in mine),
                    "hit_share_median": med(r["answered_of_all_gets"] for r in mine),
                    "carriable_answered_median": med(r["answered_share"] for r in mine),
                    "redis_cpu_us_per_req_median": med(r["redis_cpu_us_per_op"] for r in mine),
                    "softirq_us_per_req_median": med(r["softirq_cpu_us_per_op"] for r in mine),
                    "wrong_stale_errors": sum(int(r["wrong"]) + int(r["stale"]) + int(r["errors"])
                                              for r in mine)})
    write(f"{a.out}-summary.csv", out, where=where)


def main():
    plan = pieces()
    # measured here: ~0.9 s per run besides its --seconds (warm-up,
    # counters), ~2 s per configuration per piece (attach, warm, detach)
    est = len(plan) * (5 + 2 * len(CFGS)) + sum(len(p[3]) for p in plan) * len(CFGS) * (a.seconds + 0.9) + \
        (a.reps * len(CFGS) * (a.realistic_ops / 1500 + 4) if a.realistic_ops else 0)
    print(f"# e2e: {len(plan)} pieces, about {est / 60:.0f} min; configs {','.join(CFGS)}; "
          f"threads {a.threads}, pin {a.pin}", flush=True)
    if a.dry_run:
        for rep, size, pipe, pts in plan:
            print(f"#   rep {rep}, {size} B, P {pipe}: {' '.join(f'{w}/c{c}/t{t}/{p}' for w, c, t, p in pts)}")
        return 0
    if os.geteuid():
        sys.exit("e2e: run as root")
    if not os.path.exists(PS):
        sys.exit("e2e: build/prestack missing: run make first")
    os.makedirs(RES, exist_ok=True)
    m = meta()
    rows, lats, real = [], [], []
    # every configuration attaches before anything is measured: a name
    # prestack does not know fails here, not after an hour
    with live_lock("check configurations"):
        run(TB, "down", check=False)
        run(TB, "up")
        try:
            for cfg in CFGS:
                if not baseline(cfg):
                    attach(cfg)
                    detach()
        finally:
            detach()
            run(TB, "down", check=False)
    last = {p[0]: i for i, p in enumerate(plan)}     # the last piece of each repetition
    failed = 0
    for i, (rep, size, pipe, pts) in enumerate(plan):
        # bpf_stats is global: on only while this run holds the testbed
        try:
            with live_lock(f"rep {rep}, {size} B, P {pipe}, {len(pts)} points"), cpuacct.bpf_stats():
                one_piece(m, rep, size, pipe, pts, rows, lats)
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            # one piece lost (testbed, attach) is not the whole run lost
            failed += 1
            print(f"# piece failed: rep {rep}, {size} B, P {pipe}: {e}", file=sys.stderr, flush=True)
        if a.realistic_ops and last[rep] == i:
            try:
                with live_lock(f"rep {rep}, realistic"):
                    realistic(rep, real)
            except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                failed += 1
                print(f"# {e}", file=sys.stderr, flush=True)
        # what is measured so far, on disk (a long run stopped keeps it),
        # never over the results
        write(f"{a.out}.csv", rows, quiet=True, where=csvio.PARTIAL_DIR)
        write(f"{a.out}-latency-cdf.csv", lats, quiet=True, where=csvio.PARTIAL_DIR)
    bad = [r for r in rows if r["error"]]
    # the results only from a run that lost nothing; else build/partial/
    where = RES if rows and not bad and not failed else csvio.PARTIAL_DIR
    write(f"{a.out}.csv", rows, where=where)
    write(f"{a.out}-latency-cdf.csv", lats, where=where)
    if real:
        write(f"{a.out}-realistic.csv", real_rows_of_file(), where=where)
    summarize(rows, real, where)
    if where != RES:
        print(f"# {len(bad)} runs and {failed} pieces failed: {RES} left as it was, "
              f"this run's CSVs are in {where}", file=sys.stderr)
        return 1
    for n in ("", "-latency-cdf", "-realistic"):       # the progress copies
        p = os.path.join(csvio.PARTIAL_DIR, f"{a.out}{n}.csv")
        if os.path.exists(p):
            os.unlink(p)
    return 0


def real_rows_of_file():
    """The realistic rows of this run as realistic.py wrote them."""
    return csvio.load(os.path.join(csvio.PARTIAL_DIR, f"{a.out}-realistic.csv"))


if __name__ == "__main__":
    sys.exit(main())
