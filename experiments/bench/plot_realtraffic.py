#!/usr/bin/python3
"""plot_realtraffic.py - the plots of realistic.py and coherence_window.py,
drawn from their CSVs only (the last run of each mode in
results/bench-realistic.csv; results/coherence-window.csv):

  results/bench-realistic.{png,pdf}    share of GETs answered at XDP per mode
                                       (carriable and all), wrong/stale counts
  results/coherence-window.{png,pdf}   CDF of the stale window per scenario and mode

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
    """CDF of the windows of each (scenario, mode), from the histogram."""
    path = os.path.join(RES, "coherence-window.csv")
    if not os.path.exists(path):
        return
    rows = list(csv.DictReader(open(path)))
    if not rows or "scenario" not in rows[0]:
        return      # the per-round CSV of the watcher-only days
    fig, ax = plt.subplots(figsize=(6, 3.2))
    # one colour per scenario, a line style per mode (more scenarios than
    # the default cycle's colours otherwise repeat)
    styles = {"guarded": "-", "retrans": "--"}
    for i, sc in enumerate(dict.fromkeys(r["scenario"] for r in rows)):
        for m in dict.fromkeys(r["mode"] for r in rows if r["scenario"] == sc):
            mine = sorted((float(r["window_lo_us"]), int(r["rounds"])) for r in rows
                          if r["scenario"] == sc and r["mode"] == m)
            n = sum(c for _, c in mine)
            xs, ys, acc = [], [], 0
            for lo, c in mine:
                acc += c
                xs.append(max(lo, 0.1))
                ys.append(acc / n)
            ax.step(xs, ys, where="post", color=f"C{i}", linestyle=styles.get(m, ":"),
                    label=f"{sc} {m} ({n} rounds)")
    ax.set_xscale("log")
    ax.set_xlabel("stale window after the change (us, lower bucket edge; 0 drawn at 0.1)")
    ax.set_ylabel("fraction of rounds")
    ax.set_ylim(0, 1.02)
    commits = ", ".join(dict.fromkeys(r["commit"] for r in rows))
    ax.set_title(f"coherence window ({rows[0]['kernel']}, {commits})", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(True, which="both", alpha=0.3)
    save(fig, "coherence-window")


realistic()
window()
