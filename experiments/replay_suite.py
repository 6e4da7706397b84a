#!/usr/bin/python3
"""replay_suite.py - every pcaps/ scenario, offline, in every mode.

For each scenario x mode: `prestack replay` (the BPF programs through
BPF_PROG_TEST_RUN), then what the client would receive is rebuilt from
the replay's output: the XDP replies and the translated kernel segments,
placed by sequence number in the client's space. That byte stream is
compared with the scenario's expected RESP stream:

  correct      the client gets exactly the expected bytes
  wrong-bytes  bytes differ, or two segments disagree on the same bytes
  stale        the difference is a cached value the store no longer holds
  stall        a prefix is right but bytes are missing (nobody sends them)

This is a model of the client: it takes every segment, window or not (the
live replay, experiments/liveplay, measures real clients). Writes
results/failures-replay.csv (or --out FILE) and
failures-replay-matrix.{png,pdf} beside it. A scenario that cannot be
replayed (or, with --live, played) is a lost cell: the run exits 1 and
the CSV is left as it was.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile


TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "pylib"))
from prestack_lib import csvio  # noqa: E402
from prestack_lib.outcome import classify, client_stream, replay, trace  # noqa: E402
from prestack_lib.testbed import PORT  # noqa: E402
RESULTS = os.path.join(TOP, "results")
# poststack is not here: its programs (sk_skb, sk_msg) run on a live
# socket, which BPF_PROG_TEST_RUN cannot give them (`prestack replay`
# refuses it); the live failure matrix (experiments/failures) covers it
MODES = ["off", "naive", "guarded"]
OUTCOMES = ["correct", "stall", "stale", "wrong-bytes", "reset", "n/a", "error"]
COLORS = {"correct": "#4caf50", "stall": "#ffb300", "stale": "#fb8c00",
          "wrong-bytes": "#e53935", "reset": "#8e24aa", "n/a": "#e0e0e0",
          "error": "#757575"}


def sh(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True).stdout.strip()


def run(meta, mode, tmp):
    rows, out, _ = replay(meta, mode, tmp, f"{meta['name']}-{mode}")
    if rows is None:
        return None
    counters = {}
    for x in rows:
        for kv in filter(None, x["counters"].split(";")):
            k, v = kv.split("=+")
            counters[k] = counters.get(k, 0) + int(v)
    got, conflict, extra, rst = client_stream(out, meta["server_isn"], PORT)
    return {"trace": trace(rows), "counters": counters,
            "outcome": classify(got, conflict, extra, rst, meta),
            "received": len(got), "expected": len(meta["expected_stream"])}


def matrix(rows, path, key="offline_outcome", title="what the client receives (offline replay, pcaps/)"):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    names = sorted({r["scenario"] for r in rows})
    cell = {(r["scenario"], r["mode"]): r[key] for r in rows}
    live_panel = key != "offline_outcome"
    exact = {(r["scenario"], r["mode"]): 1 if live_panel else r["model_exact"] for r in rows}
    fig, ax = plt.subplots(figsize=(6.4, 0.36 * len(names) + 1.4))
    for y, n in enumerate(names):
        for x, m in enumerate(MODES):
            o = cell.get((n, m), "error")
            ax.add_patch(plt.Rectangle((x, y), 1, 1, facecolor=COLORS[o], edgecolor="white",
                                       hatch=None if exact.get((n, m)) or o == "n/a" else "///"))
            ax.text(x + 0.5, y + 0.5, o, ha="center", va="center", fontsize=7)
    ax.set_xlim(0, len(MODES))
    ax.set_ylim(0, len(names))
    ax.invert_yaxis()
    ax.set_xticks([i + 0.5 for i in range(len(MODES))], MODES)
    ax.set_yticks([i + 0.5 for i in range(len(names))], names, fontsize=8)
    ax.xaxis.tick_top()
    ax.set_title(title, fontsize=9, pad=22)
    ax.legend(handles=[Patch(color=COLORS[o], label=o) for o in OUTCOMES[:6]] +
              ([] if live_panel else
               [Patch(facecolor="white", edgecolor="black", hatch="///",
                      label="approximate (decides unlike the capture)")]),
              loc="upper center", bbox_to_anchor=(0.5, -0.01), ncol=3, fontsize=7,
              frameon=False)
    fig.tight_layout()
    for ext in ("png", "pdf"):
        fig.savefig(f"{path}.{ext}", dpi=150)


def live(name, mode):
    """experiments/liveplay against the testbed; None if it failed to run."""
    r = subprocess.run([os.path.join(TOP, "experiments", "liveplay"), name, "--mode", mode],
                       capture_output=True, text=True, timeout=120)
    try:
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        sys.stderr.write(f"liveplay {name} {mode} failed: {r.stderr[-300:]}\n")
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--live", action="store_true", help="also play each scenario on the testbed")
    ap.add_argument("--out", default=os.path.join(RESULTS, "failures-replay.csv"))
    a = ap.parse_args()
    do_live = a.live
    res_dir = os.path.dirname(os.path.abspath(a.out))
    os.makedirs(res_dir, exist_ok=True)
    result = csvio.Run(a.out, who="replay_suite.py")
    rows = result.rows
    with tempfile.TemporaryDirectory(prefix="ps-suite-") as tmp:
        for js in sorted(f for f in os.listdir(os.path.join(TOP, "pcaps")) if f.endswith(".json")):
            meta = json.load(open(os.path.join(TOP, "pcaps", js)))
            # a scenario names the modes it was built for (the cut_* ones
            # only guarded and retrans; coalesced and pipelined_miss_hit
            # only off and naive, cut_middle being their guarded form)
            for mode in [m for m in MODES if m in meta["expect"]]:
                r = run(meta, mode, tmp)
                if r is None:
                    result.lose(f"{meta['name']}/{mode}", "prestack replay failed")
                want = meta["expect"][mode].replace(" ", "")
                # the capture's kernel frames are those of a server behind
                # guarded prestack: the model is exact when the mode decides
                # like guarded on every client frame, approximate otherwise,
                # and says nothing for off (the kernel's replies to what
                # guarded answers are not in the capture)
                world = meta["expect"].get("guarded", "").replace(" ", "")
                exact = int(mode != "off" and r is not None and bool(world) and r["trace"] == world)
                c = r["counters"] if r else {}
                lv = live(meta["name"], mode) if do_live else None
                if do_live and lv is None:
                    result.lose(f"{meta['name']}/{mode}", "live replay failed")
                if do_live:
                    print(f"  live {meta['name']:<22} {mode:<8} "
                          f"{lv['outcome'] if lv else 'error'}", flush=True)
                rows.append({
                    "scenario": meta["name"], "mode": mode,
                    "expected_trace": want, "offline_trace": r["trace"] if r else "",
                    "trace_as_expected": int(bool(r) and r["trace"] == want),
                    "offline_outcome": ("n/a" if mode == "off" else
                                        r["outcome"] if r else "error"),
                    "model_exact": exact,
                    "predicted_live": meta["live"].get(mode, ""),
                    "live_outcome": (lv["outcome"] if lv else "error") if do_live else "not-run",
                    "live_hits": lv.get("get_hits", "") if lv else "",
                    "live_retrans_replies": lv.get("retrans_replies", "") if lv else "",
                    "live_capture": lv.get("capture", "") if lv else "",
                    "bytes_received": r["received"] if r else 0,
                    "bytes_expected": r["expected"] if r else 0,
                    "get_hits": c.get("get_hits", 0), "replies": c.get("replies", 0),
                    "retrans_replies": c.get("retrans_replies", 0),
                    "fallbacks": sum(v for k, v in c.items() if k.startswith("fb_")),
                    "dropped": c.get("dropped", 0),
                    "invalidations": c.get("invalidations", 0),
                    "flushes": c.get("flushes", 0)})
    out = a.out
    if result.finish():
        return 1
    matrix(rows, os.path.join(res_dir, "failures-replay-matrix"))
    if do_live:
        matrix(rows, os.path.join(res_dir, "failures-replay-live-matrix"), "live_outcome",
               "what the client receives (live replay, testbed)")
    width = max(len(r["scenario"]) for r in rows)
    print(f"{'scenario (offline / live)':<{width + 4}}  " + "  ".join(f"{m:<24}" for m in MODES))
    for n in sorted({r["scenario"] for r in rows}):
        cells = {r["mode"]: f"{r['offline_outcome']} / {r['live_outcome']}"
                 for r in rows if r["scenario"] == n}
        print(f"{n:<{width + 4}}  " + "  ".join(f"{cells.get(m, '-'):<24}" for m in MODES))
    print(f"wrote {out} and failures-replay-matrix.{{png,pdf}} beside it")
    bad = [r for r in rows if r["mode"] == "guarded" and
           (r["offline_outcome"] in ("wrong-bytes", "stale") or
            r["live_outcome"] in ("wrong-bytes", "stale"))]
    if bad:
        print("guarded delivered wrong or stale bytes in: " + ", ".join(r["scenario"] for r in bad))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
