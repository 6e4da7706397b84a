#!/usr/bin/python3
"""arch.py - the paper's architecture figure: a request's path through the
server's hooks, the side path, the watcher and the maps they share.

  /usr/bin/python3 experiments/paper/arch.py OUT.pdf

gen.py draws it into build/paper/gen/fig-arch.pdf (with the ladders).
Drawn with matplotlib because the paper's LaTeX packages (make deps-paper)
have no TikZ. What it shows follows docs/architecture.md and
docs/tc-reply.md: ps_xdp and ps_tc_in on ingress, ps_tc on egress
(xdp/prestack.bpf.c), ps_side_in/ps_side_out (xdp/sidepath.bpf.c), the
maps of xdp/maps.h. No measured number is drawn.
"""
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

FS = 7.5          # body text, pt: the figure is drawn at \linewidth (16.6 cm)
HOOK = "#dbe8f6"
KERN = "#eeeeee"
USER = "#fff3d6"
MAPC = "#e9f3e2"
HIT = "#1a7f37"
PASS = "#333333"


def box(ax, x, y, w, h, title, body="", color=KERN, ls="-", tfs=FS + 0.5):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.06",
                                fc=color, ec="#444444", lw=0.8, ls=ls))
    if body:
        ax.text(x + w / 2, y + h - 0.07, title, ha="center", va="top", fontsize=tfs, weight="bold")
        ax.text(x + w / 2, y + h - 0.27, body, ha="center", va="top", fontsize=FS - 0.5,
                linespacing=1.15)
    else:
        ax.text(x + w / 2, y + h / 2, title, ha="center", va="center", fontsize=tfs, weight="bold")


def arrow(ax, a, b, color=PASS, text="", tx=None, ty=None, ha="center", rad=0.0, ls="-", lw=1.1,
          both=False, tfs=FS - 0.5):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle="<|-|>" if both else "-|>", mutation_scale=8,
                                 color=color, lw=lw, ls=ls, connectionstyle=f"arc3,rad={rad}",
                                 shrinkA=1, shrinkB=1))
    if text:
        x = tx if tx is not None else (a[0] + b[0]) / 2
        y = ty if ty is not None else (a[1] + b[1]) / 2
        ax.text(x, y, text, ha=ha, va="center", fontsize=tfs, color=color, linespacing=1.1)


def draw(path):
    fig = plt.figure(figsize=(6.5, 3.6))
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(0, 6.5)
    ax.set_ylim(0, 3.6)
    ax.axis("off")

    # the client, the veth, the server's namespace
    box(ax, 0.02, 1.2, 0.5, 1.9, "client", "redis-py,\nhiredis,\nredis-\nbench-\nmark", USER, tfs=FS)
    ax.add_patch(FancyBboxPatch((0.95, 0.04), 5.5, 3.52, boxstyle="round,pad=0.0,rounding_size=0.08",
                                fc="none", ec="#888888", lw=0.8, ls="--"))
    ax.text(1.02, 3.5, "server network namespace (the veth's server end)", fontsize=FS - 0.5, va="top",
            color="#555555", style="italic")

    # ingress lane (top): XDP -> TC ingress -> stack -> Redis
    box(ax, 1.08, 2.05, 1.2, 1.15, "XDP  ps_xdp",
        "parse, guards;\na cached GET: the\nframe turned into\nthe reply; writes\ninvalidate; the rest:\nseq/ack to kernel",
        HOOK)
    box(ax, 2.72, 2.05, 1.12, 1.15, "TC ingress",
        "ps_tc_in: replies\nXDP cannot carry\n(> 1 MSS, > 1 KB):\nbuilt as segments,\nredirected to egress",
        HOOK)
    box(ax, 4.1, 1.2, 0.8, 1.9, "kernel\nTCP/IP", "", KERN)
    ax.text(4.5, 1.55, "unmodified;\nsees kernel\nspace only", ha="center", fontsize=FS - 0.5,
            linespacing=1.15)
    box(ax, 5.2, 1.2, 1.15, 1.9, "Redis", "", USER)
    ax.text(5.775, 1.55, "unmodified;\nanswers what\nXDP passes", ha="center", fontsize=FS - 0.5,
            linespacing=1.15)
    # egress lane (bottom): stack -> TC egress -> client
    box(ax, 1.08, 1.2, 2.76, 0.68, "TC egress  ps_tc",
        "kernel segments into client space (ACK hold); inserts\nthe replies of cut GETs; fills the cache from replies\n"
        "to misses; TC ingress's segments pass as they are", HOOK)

    # the packet's paths
    arrow(ax, (0.52, 2.9), (1.08, 2.9), text="request", tx=0.74, ty=3.0)
    arrow(ax, (1.08, 2.3), (0.52, 2.3), color=HIT, lw=1.8)
    ax.text(0.74, 2.4, "hit:\nXDP_TX", fontsize=FS - 0.5, color=HIT, ha="center", va="bottom",
            weight="bold", linespacing=1.0)
    arrow(ax, (1.08, 1.5), (0.52, 1.5), text="reply", tx=0.74, ty=1.6)
    arrow(ax, (2.28, 2.85), (2.72, 2.85))
    ax.text(2.5, 2.93, "XDP_PASS", fontsize=FS - 1.5, ha="center", va="bottom")
    arrow(ax, (2.28, 2.3), (2.72, 2.3), color="#1f5fa8")
    ax.text(2.5, 2.38, "handoff in\ndata_meta", fontsize=FS - 1.5, ha="center", va="bottom",
            color="#1f5fa8", linespacing=1.0)
    arrow(ax, (3.84, 2.85), (4.1, 2.85))
    arrow(ax, (4.9, 2.85), (5.2, 2.85))
    arrow(ax, (5.2, 1.5), (4.9, 1.5))
    arrow(ax, (4.1, 1.5), (3.84, 1.5))
    # TC ingress's segments leave through egress, marked
    arrow(ax, (3.28, 2.05), (3.28, 1.88), color="#1f5fa8")

    # side path and watcher
    box(ax, 4.1, 3.17, 2.25, 0.33, "", "", HOOK)
    ax.text(5.225, 3.335, "side path ps_side_in/out: TC on lo, other\ninterfaces, IPv6: "
            "every write Redis reads invalidates", fontsize=FS - 1.5, ha="center", va="center",
            linespacing=1.05)
    box(ax, 5.2, 0.55, 1.15, 0.5, "", "", USER)
    ax.text(5.775, 0.9, "watcher (prestack)", fontsize=FS, ha="center", va="center", weight="bold")
    ax.text(5.775, 0.68, "keyspace events,\nTTLs, the lease", fontsize=FS - 1.5, ha="center", va="center",
            linespacing=1.05)
    arrow(ax, (5.775, 1.2), (5.775, 1.05), both=True)

    # the maps
    ax.text(1.08, 1.05, "BPF maps the programs share (xdp/maps.h)", fontsize=FS - 0.5, weight="bold",
            va="center")
    maps = [("ps_flows", "mirrors, offset\nhistory, per flow", 1.08),
            ("ps_cache", "replies by key\n(ps_cache_big\nover 1 KB)", 2.06),
            ("ps_runs", "cut GETs' replies,\nXDP to TC egress", 3.04),
            ("ps_rtx", "injected replies\nuntil acked\n(retrans mode)", 4.02)]
    for name, body, x in maps:
        box(ax, x, 0.1, 0.92, 0.8, name, body, MAPC, tfs=FS)
    ax.text(5.2, 0.25, "also: ps_tcr_refs (XDP to\nTC ingress), ps_lease,\nps_epochs, ps_wr_inflight,\nps_ttl, ps_stats",
            fontsize=FS - 1.5, va="center", linespacing=1.1)
    fig.savefig(path, dpi=220)
    plt.close(fig)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__.split("\n")[2].strip(), file=sys.stderr)
        sys.exit(2)
    draw(sys.argv[1])
