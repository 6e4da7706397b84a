#!/usr/bin/python3
"""plots.py [RESULTS_DIR] - figures from the per-packet benchmark CSVs only
(the end-to-end ones: plot_e2e.py):

  bench-pktcost.{png,pdf}          ns/packet per path, mode and config, the floors
  bench-dummy.{png,pdf}            throughput vs added work, guards marked
"""
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "pylib"))
from prestack_lib import plotio  # noqa: E402

RES = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "results")


def load(name):
    return plotio.load(RES, name)


def save(fig, name):
    plotio.save(fig, RES, name)


def pktcost():
    rows = load("bench-pktcost.csv")
    if not rows:
        return
    floors = {r["path"]: float(r["ns_median"]) for r in rows if r["mode"] == "reflector"}

    def lab(r):
        return r["path"] + (f" {r['value_size']}B" if r["path"] == "get_hit" else "")
    paths = list(dict.fromkeys(lab(r) for r in rows if r["mode"] != "reflector"))
    # one bar per (mode, config): every mode as attach deploys it, then
    # the fill-only ablation, hatched
    series = [s for s in dict.fromkeys((r["mode"], r.get("config", "deployed")) for r in rows)
              if s[0] != "reflector"]
    fig, ax = plt.subplots(figsize=(9, 3.8))
    w = 0.8 / len(series)
    colors = {"off": "0.6", "naive": "tab:red", "guarded": "tab:blue", "retrans": "tab:green"}
    for i, (m, c) in enumerate(series):
        ys = []
        for p in paths:
            v = [float(r["ns_median"]) for r in rows if r["mode"] == m and
                 r.get("config", "deployed") == c and lab(r) == p]
            ys.append(v[0] if v else 0)
        ablation = c != "deployed"
        ax.bar([k + i * w for k in range(len(paths))], ys, w,
               label=f"{m} ({c})" if ablation else m, color=colors.get(m, "0.3"),
               alpha=0.45 if ablation else 1.0, hatch="//" if ablation else None)
    if "reflect" in floors:
        ax.axhline(floors["reflect"], color="k", ls="--", lw=1,
                   label=f"XDP reflector {floors['reflect']:.0f} ns")
    if "tc_floor" in floors:
        ax.axhline(floors["tc_floor"], color="k", ls=":", lw=1,
                   label=f"TC header walk {floors['tc_floor']:.0f} ns")
    ax.set_xticks([k + 0.4 - w / 2 for k in range(len(paths))], paths, rotation=20, fontsize=8)
    ax.set_ylabel("ns per packet (median)")
    ax.set_title("BPF_PROG_TEST_RUN, one packet per run, state restored each run; "
                 "modes as attach deploys them (flags, lease, a real socket)", fontsize=9)
    ax.legend(fontsize=7, ncol=3)
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
                    color="tab:blue" if r["series"] == "guarded deployed" else "tab:cyan",
                    label=f"{r['series']} (+{r['added_ns']} ns)")
    ax.set_xscale("symlog", linthresh=50)
    ax.set_xlabel("ns of work added to a hit")
    ax.set_ylabel("hits per second per core (M)")
    ax.set_title("dummy-cache curve (BPF_PROG_TEST_RUN)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, "bench-dummy")


if __name__ == "__main__":
    pktcost()
    dummy()
