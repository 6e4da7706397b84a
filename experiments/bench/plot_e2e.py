#!/usr/bin/python3
"""plot_e2e.py [RESULTS_DIR] - the end-to-end figures, from e2e.py's CSVs
only (PNG and PDF, beside them):

  bench-e2e-throughput   GET/s (median, min-max) and p99 vs clients, per
                         configuration, one column per pipeline depth
  bench-e2e-speedup      throughput / Redis alone (same repetition, median)
                         vs clients; the realistic workload's share of GETs
                         answered at XDP beside it
  bench-e2e-latency-cdf  latency CDF and its tail (1 - F, log) per
                         configuration, from bench-e2e-latency-cdf.csv
  bench-e2e-cpu          CPU per request by where it was counted: Redis
                         process, server BPF programs, softirq, client
  bench-e2e-sizing       (if bench-e2e-sizing.csv exists) throughput and the
                         client's CPU vs redis-benchmark --threads, per pinning
"""
import os
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "pylib"))
from prestack_lib import plotio  # noqa: E402

RES = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "results")
KNOWN = {"redis": ("k", "o"), "off": ("0.55", "s"), "naive": ("tab:red", "^"),
         "guarded": ("tab:blue", "D"), "retrans": ("tab:green", "v"),
         "guarded-tc": ("tab:cyan", "P"), "poststack": ("tab:purple", "X")}
EXTRA = ["tab:orange", "tab:brown", "tab:pink", "tab:olive"]


def style(cfg, _seen={}):
    if cfg in KNOWN:
        return KNOWN[cfg]
    if cfg not in _seen:
        _seen[cfg] = (EXTRA[len(_seen) % len(EXTRA)], "*")
    return _seen[cfg]


def load(name):
    return plotio.load(RES, name)


def save(fig, name):
    plotio.save(fig, RES, name)


def configs(rows):
    out = []
    for r in rows:
        if r["config"] not in out:
            out.append(r["config"])
    return out


def main_setting(rows):
    """The value size, threads and pinning the grid was run with (the most
    common among GET rows)."""
    cnt = defaultdict(int)
    for r in rows:
        if r["workload"] == "get":
            cnt[(r["value_size"], r["threads"], r["pin"])] += 1
    return max(cnt, key=cnt.get) if cnt else None


def f(x):
    return float(x) if x not in ("", None) else float("nan")


def err(pts):
    """errorbar's yerr from (x, median, min, max, ...) points; rounding
    can put the median a hair outside min-max."""
    return [[max(0.0, q[1] - q[2]) for q in pts], [max(0.0, q[3] - q[1]) for q in pts]]


def throughput(rows, setting):
    size, threads, pin = setting
    get = [r for r in rows if r["workload"] == "get" and (r["value_size"], r["threads"], r["pin"]) == setting]
    pipes = sorted({int(r["pipeline"]) for r in get})
    fig, axes = plt.subplots(2, len(pipes), figsize=(5 * len(pipes), 6.5), squeeze=False)
    for j, p in enumerate(pipes):
        for cfg in configs(get):
            pts = sorted((int(r["clients"]), f(r["rps_median"]), f(r["rps_min"]), f(r["rps_max"]),
                          f(r["p99_ms_median"])) for r in get if r["config"] == cfg and int(r["pipeline"]) == p)
            if not pts:
                continue
            c, m = style(cfg)
            x = [q[0] for q in pts]
            axes[0][j].errorbar(x, [q[1] for q in pts], yerr=err(pts),
                                color=c, marker=m, label=cfg, capsize=2)
            axes[1][j].plot(x, [q[4] for q in pts], color=c, marker=m, label=cfg)
        for i, yl in enumerate(["GET/s (median, min-max)", "p99 latency (ms, median)"]):
            ax = axes[i][j]
            ax.set_xscale("log")
            ax.set_xlabel("clients (redis-benchmark -c)")
            ax.set_ylabel(yl)
            ax.set_title(f"{size} B values, pipeline {p}, --threads {threads}, pin {pin}", fontsize=9)
            ax.grid(alpha=0.3)
        axes[1][j].set_yscale("log")
        axes[0][j].legend(fontsize=8)
    save(fig, "bench-e2e-throughput")


def speedup(rows, setting):
    get = [r for r in rows if r["workload"] == "get" and (r["value_size"], r["threads"], r["pin"]) == setting]
    real = [r for r in rows if r["workload"] == "realistic"]
    pipes = sorted({int(r["pipeline"]) for r in get})
    n = len(pipes) + (1 if real else 0)
    fig, axes = plt.subplots(1, n, figsize=(4.6 * n, 3.6), squeeze=False)
    for j, p in enumerate(pipes):
        ax = axes[0][j]
        for cfg in configs(get)[0:]:
            if cfg == "redis":
                continue
            pts = sorted((int(r["clients"]), f(r["speedup_vs_redis_median"]), f(r["speedup_min"]), f(r["speedup_max"]))
                         for r in get if r["config"] == cfg and int(r["pipeline"]) == p)
            if pts:
                c, m = style(cfg)
                ax.errorbar([q[0] for q in pts], [q[1] for q in pts],
                            yerr=err(pts),
                            color=c, marker=m, label=cfg, capsize=2)
        ax.axhline(1, color="k", lw=1)
        ax.set_xscale("log")
        ax.set_xlabel("clients")
        ax.set_ylabel("GET/s / Redis alone\n(same repetition; median, min-max)")
        ax.set_title(f"redis-benchmark, {setting[0]} B, pipeline {p}", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if real:
        # the realistic client is one Python process that reads prestack's
        # counters around every GET: its share answered, not its ops/s
        ax = axes[0][-1]
        cf = [r["config"] for r in real]
        w = 0.4
        ax.bar([i - w / 2 for i in range(len(cf))], [f(r["hit_share_median"]) for r in real], w,
               color=[style(c)[0] for c in cf], label="of all GETs")
        ax.bar([i + w / 2 for i in range(len(cf))], [f(r["carriable_answered_median"]) for r in real], w,
               color=[style(c)[0] for c in cf], alpha=0.45, label="of the GETs XDP could carry")
        ax.set_xticks(range(len(cf)), cf, rotation=20, fontsize=8)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("share of GETs answered at XDP (median)")
        ax.set_title("realistic workload (realistic.py)", fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(axis="y", alpha=0.3)
    save(fig, "bench-e2e-speedup")


def cdf(lat, setting):
    size, threads, pin = setting
    lat = [r for r in lat if r["workload"] == "get" and (r["value_size"], r["threads"], r["pin"]) == setting
           and r["pipeline"] == "1"]
    if not lat:
        return
    clients = sorted({int(r["clients"]) for r in lat})
    fig, axes = plt.subplots(2, len(clients), figsize=(4.2 * len(clients), 6.2), squeeze=False)
    runs = defaultdict(list)
    for r in lat:
        runs[(int(r["clients"]), r["config"], r["rep"])].append((f(r["latency_ms"]), f(r["cum_share"])))
    labelled = set()
    for (c, cfg, rep), pts in sorted(runs.items()):
        pts.sort()
        j = clients.index(c)
        col, _ = style(cfg)
        lab = cfg if (j, cfg) not in labelled else None
        labelled.add((j, cfg))
        x = [0] + [q[0] for q in pts]
        y = [0] + [q[1] for q in pts]
        axes[0][j].step(x, y, where="post", color=col, lw=1, alpha=0.8, label=lab)
        tail = [(a, 1 - b) for a, b in zip(x, y) if 1 - b > 0]
        axes[1][j].step([q[0] for q in tail], [q[1] for q in tail], where="post", color=col, lw=1,
                        alpha=0.8, label=lab)
    for j, c in enumerate(clients):
        axes[0][j].set_ylabel("share of GETs <= latency")
        axes[1][j].set_ylabel("share of GETs > latency")
        axes[1][j].set_yscale("log")
        axes[1][j].set_ylim(1e-4, 1)
        for i in (0, 1):
            axes[i][j].set_xscale("log")
            axes[i][j].set_xlabel("latency (ms)")
            axes[i][j].set_title(f"{c} clients, pipeline 1, {size} B (every repetition)", fontsize=9)
            axes[i][j].grid(alpha=0.3)
        axes[0][j].legend(fontsize=7)
    save(fig, "bench-e2e-latency-cdf")


def cpu(rows, setting):
    """Top: per counter, the unpinned grid (they overlap: see README).
    Bottom, if the run has --pin steer points: per CPU, server and client."""
    get = [r for r in rows if r["workload"] == "get" and (r["value_size"], r["threads"], r["pin"]) == setting
           and r["pipeline"] == "1"]
    steer = [r for r in rows if r["workload"] == "get" and r["pin"] == "steer" and r["pipeline"] == "1"
             and r["value_size"] == setting[0]]
    clients = sorted({int(r["clients"]) for r in get})
    if not clients:
        return
    parts = [("redis_cpu_us_per_req_median", "redis-server (utime+stime)", "tab:red"),
             ("bpf_srv_us_per_req_median", "server BPF programs (bpf_stats)", "tab:blue"),
             ("softirq_us_per_req_median", "softirq, every CPU", "0.6"),
             ("client_us_per_req_median", "redis-benchmark (utime+stime)", "tab:olive")]
    by_cpu = [("srv_cpu_steer_us_per_req_median", "server: busy CPU 0 + server XDP (--pin steer)", "tab:purple"),
              ("cli_cpu_steer_us_per_req_median", "client: busy CPU 1 - server XDP (--pin steer)", "tab:orange")]
    nrow = 2 if steer else 1
    fig, axes = plt.subplots(nrow, len(clients), figsize=(4.2 * len(clients), 3.6 * nrow),
                             squeeze=False, sharey=True)
    for i, (sel, prt, what) in enumerate([(get, parts, "unpinned, by counter"),
                                          (steer, by_cpu, "--pin steer, by CPU")][:nrow]):
        for j, c in enumerate(clients):
            ax = axes[i][j]
            mine = [r for r in sel if int(r["clients"]) == c]
            cf = [r["config"] for r in mine]
            bottom = [0.0] * len(mine)
            for k, lab, col in prt:
                v = [f(r[k]) if r[k] != "" else 0.0 for r in mine]
                ax.bar(range(len(mine)), v, bottom=bottom, color=col, label=lab if j == 0 else None)
                bottom = [x + y for x, y in zip(bottom, v)]
            ax.set_xticks(range(len(cf)), cf, rotation=20, fontsize=8)
            ax.set_title(f"{c} clients, pipeline 1 ({what})", fontsize=8)
            ax.grid(axis="y", alpha=0.3)
        axes[i][0].set_ylabel("CPU µs per request (median)")
        axes[i][0].legend(fontsize=6, loc="upper right")
    axes[0][0].set_ylim(top=axes[0][0].get_ylim()[1] * 1.3)   # shared: room for the legends
    save(fig, "bench-e2e-cpu")


def sizing():
    rows = [r for r in load("bench-e2e-sizing-summary.csv") if r["workload"] == "get"]
    if not rows:
        return
    clients = sorted({int(r["clients"]) for r in rows})
    fig, axes = plt.subplots(2, len(clients), figsize=(4.2 * len(clients), 6), squeeze=False)
    for j, c in enumerate(clients):
        for cfg in configs(rows):
            for pin, ls in (("none", "-"), ("split", "--")):
                pts = sorted((int(r["threads"]), f(r["rps_median"]), f(r["rps_min"]), f(r["rps_max"]),
                              f(r["client_cpu_util_median"]))
                             for r in rows if r["config"] == cfg and int(r["clients"]) == c and r["pin"] == pin)
                if not pts:
                    continue
                col, m = style(cfg)
                x = [q[0] for q in pts]
                axes[0][j].errorbar(x, [q[1] for q in pts], yerr=err(pts),
                                    color=col, marker=m, ls=ls, capsize=2, label=f"{cfg}, pin {pin}")
                axes[1][j].plot(x, [q[4] for q in pts], color=col, marker=m, ls=ls, label=f"{cfg}, pin {pin}")
        axes[0][j].set_ylabel("GET/s (median, min-max)")
        axes[1][j].set_ylabel("redis-benchmark CPU (cores)")
        for i in (0, 1):
            axes[i][j].set_xlabel("redis-benchmark --threads")
            axes[i][j].set_xticks(sorted({int(r["threads"]) for r in rows}))
            axes[i][j].set_title(f"{c} clients, pipeline 1", fontsize=9)
            axes[i][j].grid(alpha=0.3)
            axes[i][j].set_ylim(bottom=0)
        axes[0][j].legend(fontsize=7)
    save(fig, "bench-e2e-sizing")


def main():
    rows = load("bench-e2e-summary.csv")
    setting = main_setting(rows)
    if setting:
        throughput(rows, setting)
        speedup(rows, setting)
        cdf(load("bench-e2e-latency-cdf.csv"), setting)
        cpu(rows, setting)
    sizing()


if __name__ == "__main__":
    main()
