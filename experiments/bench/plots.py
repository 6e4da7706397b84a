#!/usr/bin/python3
"""plots.py [RESULTS_DIR] - figures from the benchmark CSVs only:

  bench-e2e-throughput.{png,pdf}   throughput and p99 vs clients, per mode
  bench-e2e-cpu.{png,pdf}          server-side CPU per request vs value size
  bench-e2e-speedup.{png,pdf}      throughput ratio to Redis alone vs value size
  bench-pktcost.{png,pdf}          ns/packet per path and mode, reflector floor
  bench-dummy.{png,pdf}            throughput vs added work, guards marked
"""
import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

RES = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "results")
CONFIGS = ["redis", "off", "naive", "guarded"]
STYLE = {"redis": ("k", "o"), "off": ("0.5", "s"), "naive": ("tab:red", "^"),
         "guarded": ("tab:blue", "D")}


def load(name):
    p = os.path.join(RES, name)
    return list(csv.DictReader(open(p))) if os.path.exists(p) else []


def save(fig, name):
    fig.tight_layout()
    for ext in ("png", "pdf"):
        fig.savefig(os.path.join(RES, f"{name}.{ext}"), dpi=140)
    plt.close(fig)
    print(f"wrote {RES}/{name}.{{png,pdf}}")


def e2e():
    rows = [r for r in load("bench-e2e-summary.csv") if r.get("workload", "get") == "get"]
    if not rows:
        return
    pipes = sorted({int(r["pipeline"]) for r in rows})
    size = 64 if any(int(r["value_size"]) == 64 for r in rows) else int(rows[0]["value_size"])
    fig, axes = plt.subplots(2, len(pipes), figsize=(5 * len(pipes), 6), squeeze=False)
    for j, p in enumerate(pipes):
        for cfg in CONFIGS:
            pts = sorted((int(r["clients"]), float(r["rps_median"]), float(r["p99_ms_median"]),
                          float(r["rps_min"]), float(r["rps_max"]))
                         for r in rows if r["config"] == cfg and int(r["pipeline"]) == p
                         and int(r["value_size"]) == size)
            if not pts:
                continue
            c, m = STYLE[cfg]
            x = [q[0] for q in pts]
            axes[0][j].errorbar(x, [q[1] for q in pts],
                                yerr=[[q[1] - q[3] for q in pts], [q[4] - q[1] for q in pts]],
                                color=c, marker=m, label=cfg, capsize=2)
            axes[1][j].plot(x, [q[2] for q in pts], color=c, marker=m, label=cfg)
        for i, yl in enumerate(["GET/s (median, min-max)", "p99 latency (ms)"]):
            axes[i][j].set_xscale("log")
            axes[i][j].set_xlabel("clients (redis-benchmark -c)")
            axes[i][j].set_ylabel(yl)
            axes[i][j].set_title(f"{size} B values, pipeline {p}", fontsize=9)
            axes[i][j].grid(alpha=0.3)
        axes[0][j].legend(fontsize=8)
    save(fig, "bench-e2e-throughput")

    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for cfg in CONFIGS:
        pts = sorted((int(r["value_size"]), float(r["server_cpu_us_per_req_median"]))
                     for r in rows if r["config"] == cfg and int(r["pipeline"]) == 1
                     and int(r["clients"]) == max(int(q["clients"]) for q in rows if int(q["clients"]) <= 50))
        if pts:
            c, m = STYLE[cfg]
            ax.plot([q[0] for q in pts], [q[1] for q in pts], color=c, marker=m, label=cfg)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("value size (bytes)")
    ax.set_ylabel("server-side CPU per GET (us)\nsoftirq + redis-server")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, "bench-e2e-cpu")

    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    allrows = load("bench-e2e-summary.csv")
    for wl, ls in (("get", "-"), ("mix", "--")):
        for cfg in CONFIGS[1:]:
            pts = sorted((int(r["value_size"]), float(r["speedup_vs_redis_median"]))
                         for r in allrows if r["config"] == cfg and r.get("workload", "get") == wl
                         and int(r["pipeline"]) == 1 and int(r["clients"]) == 50
                         and r["speedup_vs_redis_median"] != "")
            if pts:
                c, m = STYLE[cfg]
                ax.plot([q[0] for q in pts], [q[1] for q in pts], color=c, marker=m, ls=ls,
                        label=f"{cfg} {wl}")
    ax.axhline(1, color="k", lw=1)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("value size (bytes)")
    ax.set_ylabel("throughput / Redis alone\n(same repetition, median)")
    ax.set_title("50 clients, no pipelining", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    save(fig, "bench-e2e-speedup")


def pktcost():
    rows = load("bench-pktcost.csv")
    if not rows:
        return
    floor = [float(r["ns_median"]) for r in rows if r["mode"] == "reflector"]
    paths = []
    for r in rows:
        lab = r["path"] + (f" {r['value_size']}B" if r["path"] == "get_hit" else "")
        if r["mode"] != "reflector" and lab not in paths:
            paths.append(lab)
    modes = [m for m in ["off", "naive", "guarded", "guarded+sock", "retrans"] if any(r["mode"] == m for r in rows)]
    fig, ax = plt.subplots(figsize=(9, 3.8))
    w = 0.8 / len(modes)
    colors = {"off": "0.6", "naive": "tab:red", "guarded": "tab:blue", "guarded+sock": "tab:cyan",
              "retrans": "tab:green"}
    for i, m in enumerate(modes):
        ys = []
        for lab in paths:
            v = [float(r["ns_median"]) for r in rows if r["mode"] == m and
                 (r["path"] + (f" {r['value_size']}B" if r["path"] == "get_hit" else "")) == lab]
            ys.append(v[0] if v else 0)
        ax.bar([k + i * w for k in range(len(paths))], ys, w, label=m, color=colors[m])
    if floor:
        ax.axhline(floor[0], color="k", ls="--", lw=1, label=f"XDP reflector {floor[0]:.0f} ns")
    ax.set_xticks([k + 0.4 - w / 2 for k in range(len(paths))], paths, rotation=20, fontsize=8)
    ax.set_ylabel("ns per packet (median)")
    ax.set_title("BPF_PROG_TEST_RUN, one packet per run, state restored each run", fontsize=9)
    ax.legend(fontsize=8, ncol=3)
    ax.grid(axis="y", alpha=0.3)
    save(fig, "bench-pktcost")


def dummy():
    rows = load("bench-dummy.csv")
    if not rows:
        return
    curve = [r for r in rows if r["series"] == "naive+dummy"]
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    ax.plot([int(r["added_ns"]) for r in curve], [float(r["mpps_per_core"]) for r in curve],
            "k.-", label="naive hit + N empty iterations")
    for r in rows:
        if r["series"] != "naive+dummy":
            ax.plot(int(r["added_ns"]), float(r["mpps_per_core"]), "o", ms=8,
                    color="tab:blue" if r["series"] == "guarded" else "tab:cyan",
                    label=f"{r['series']} (+{r['added_ns']} ns)")
    ax.set_xscale("symlog", linthresh=50)
    ax.set_xlabel("ns of work added to a hit")
    ax.set_ylabel("hits per second per core (M)")
    ax.set_title("dummy-cache curve (BPF_PROG_TEST_RUN)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, "bench-dummy")


if __name__ == "__main__":
    e2e()
    pktcost()
    dummy()
