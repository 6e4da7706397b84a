#!/usr/bin/python3
"""plot_realtraffic.py - the plots of realistic.py and coherence_window.py,
drawn from their CSVs only (the last run of each mode in
results/bench-realistic.csv; results/coherence-window.csv):

  results/bench-realistic.{png,pdf}    share of GETs answered at XDP per mode
                                       (carriable and all), wrong/stale counts
  results/coherence-window.{png,pdf}   CDF of the stale window per round

usage: plot_realtraffic.py [RESULTS_DIR]
"""
import csv
import os
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

RES = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "results")


def save(fig, name):
    for ext in ("png", "pdf"):
        fig.savefig(os.path.join(RES, f"{name}.{ext}"), dpi=130, bbox_inches="tight")
    plt.close(fig)


def realistic():
    path = os.path.join(RES, "bench-realistic.csv")
    if not os.path.exists(path):
        return
    last = {}
    for r in csv.DictReader(open(path)):
        last[r["mode"]] = r
    modes = [m for m in ("redis", "off", "naive", "guarded", "retrans") if m in last]
    fig, ax = plt.subplots(figsize=(6, 3.2))
    x = range(len(modes))
    car = [100 * float(last[m]["answered_share"]) for m in modes]
    allg = [100 * float(last[m]["answered_of_all_gets"]) for m in modes]
    ax.bar([i - 0.2 for i in x], car, 0.4, label="of carriable GETs")
    ax.bar([i + 0.2 for i in x], allg, 0.4, label="of all GETs")
    for i, m in enumerate(modes):
        r = last[m]
        ax.text(i, max(car[i], allg[i]) + 2, f"wrong {r['wrong']}\nstale {r['stale']}",
                ha="center", fontsize=7)
    ax.set_xticks(list(x), modes)
    ax.set_ylim(0, 115)
    ax.set_ylabel("GETs answered at XDP (%)")
    r0 = last[modes[-1]]
    ax.set_title(f"realistic workload, {r0['ops']} ops ({r0['kernel']}, {r0['commit']})", fontsize=9)
    ax.legend(fontsize=8, loc="upper left")
    save(fig, "bench-realistic")


def window():
    path = os.path.join(RES, "coherence-window.csv")
    if not os.path.exists(path):
        return
    rows = list(csv.DictReader(open(path)))
    w = sorted(float(r["window_us"]) for r in rows)
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot([max(x, 0.1) for x in w], [(i + 1) / len(w) for i in range(len(w))])
    ax.set_xscale("log")
    ax.set_xlabel("stale window after a loopback write (us; 0 drawn at 0.1)")
    ax.set_ylabel("fraction of rounds")
    ax.set_title(f"coherence window, {len(w)} rounds ({rows[0]['kernel']}, {rows[0]['commit']})",
                 fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    save(fig, "coherence-window")


realistic()
window()
