#!/usr/bin/python3
"""plots.py [RESULTS_DIR] - figures from the benchmark CSVs only:

  bench-e2e-throughput.{png,pdf}   throughput and p99 vs clients, per mode
  bench-e2e-cpu.{png,pdf}          server-side CPU per request vs value size
  bench-pktcost.{png,pdf}          ns/packet per path and mode, reflector floor
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
    rows = load("bench-e2e-summary.csv")
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
    modes = [m for m in ["off", "naive", "guarded", "guarded+sock"] if any(r["mode"] == m for r in rows)]
    fig, ax = plt.subplots(figsize=(9, 3.8))
    w = 0.8 / len(modes)
    colors = {"off": "0.6", "naive": "tab:red", "guarded": "tab:blue", "guarded+sock": "tab:cyan"}
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


if __name__ == "__main__":
    e2e()
    pktcost()
