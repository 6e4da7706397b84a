#!/usr/bin/python3
"""pktcost_ab.py - per-path cost before and after a change, and where the
nanoseconds of a guarded GET hit go, measured side by side in one run.

Before/after: the tree at --before (default: the commit before the hit-path
rework) and the working tree are each built into build/ab/ with the same
pktcost.c and reflector, those of --harness (default HARNESS below, the
fill-only pktcost.c; --harness HEAD or any revision for today's, which
measures the deployed configuration; --harness tree for the working
tree's), so both measure the same paths, TC included, and
the two binaries run alternately, --rounds times; the median of the rounds'
medians is reported per path. results/bench-pktcost-ab.csv.

Steps: copies of the working tree in which the guarded path returns early
after each step (flow lookup, request parse, guards and lookup, reply
headers, reply written), built and run alternately with the full program;
the difference between consecutive stops is the cost of a step.
results/bench-pktcost-steps.csv. Nothing in the source tree is changed.

--nocsum adds a third binary, the working tree with the checksum
verification of hostile.h taken out (version after-nocsum): what verifying
costs, apart from the other refusals.

With --harness other than the default, only the rows of the deployed
configuration (and the floors) are kept, the ones the issue's targets are
about. PS_RESULTS=DIR writes the CSVs and plots to DIR instead of results/.

usage: pktcost_ab.py [--before REV] [--harness REV|HEAD|tree] [--rounds N]
                     [--runs N] [--no-steps] [--nocsum] [--csv NAME]
"""
import argparse
import csv
import io
import os
import re
import shutil
import statistics
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "pylib"))
from prestack_lib import csvio  # noqa: E402
from prestack_lib.provenance import provenance  # noqa: E402
RES = os.environ.get("PS_RESULTS") or os.path.join(TOP, "results")
AB = os.path.join(TOP, "build", "ab")
# the pktcost.c and reflector that measure the XDP and TC paths in both trees
HARNESS = "5db72af"

# (step, file, anchor, text inserted after it): the early returns
STOPS = [
    # (the mark after the flow's clock: xdp_time_wait has the same store)
    ("flow", "xdp/ingress.h", "\tf->last_ns = p->now_ns;\n\tPROF_MARK(0, 1);\n", "\treturn XDP_PASS;\n"),
    ("parse", "xdp/guarded.h", "\tapply_rq_flags(f, s);\n", "\treturn XDP_PASS;\n"),
    ("guards", "xdp/guarded.h", "\tif (fb == PS_FB_ANSWER) {\n", "\treturn XDP_PASS;\n"),
    ("headers", "xdp/guarded.h", "\t\tem_setup(s, p, f, srv_seq, end, tot);\n", "\t\treturn XDP_PASS;\n"),
    ("emit", "xdp/guarded.h", "\t\tif (r == PS_SENT_TX) {\n", "\t\t\treturn XDP_TX;\n"),
]
# --nocsum: the working tree with hostile.h's checksum verification taken
# out (every checksum accepted, the GET's payload sum not computed), so
# that what verifying costs is measured apart from the other refusals:
# (file, anchor, text that replaces it)
NOCSUM = [
    ("xdp/hostile.h",
     "static __always_inline int xdp_hdr_sums(struct xdp_md *ctx, struct ps_pkt *p)\n{\n",
     "static __always_inline int xdp_hdr_sums(struct xdp_md *ctx, struct ps_pkt *p)\n{\n"
     "\tif (ctx)\n\t\treturn 1;\n"),
    ("xdp/hostile.h",
     "static __always_inline int seg_csum_ok(const struct ps_pkt *p, __u32 pl_sum)\n{\n",
     "static __always_inline int seg_csum_ok(const struct ps_pkt *p, __u32 pl_sum)\n{\n"
     "\tif (p)\n\t\treturn 1;\n"),
]
# and xdp_fast_get's sum block (resp.h), from this line to rq_reset
NOCSUM_CUT = ("xdp/resp.h", "\t/* its ones' complement sum for hostile.h, from what was read",
              "\trq_reset(s, len);\n\ts->key_off[0] = koff;")


def nocsum(tree):
    """Patch tree (an export of the working tree) into the --nocsum variant."""
    for f, anchor, text in NOCSUM:
        p = os.path.join(tree, f)
        s = open(p).read()
        if anchor not in s:
            sys.exit(f"pktcost_ab: --nocsum: anchor not found in {f}")
        open(p, "w").write(s.replace(anchor, text, 1))
    f, a, b = NOCSUM_CUT
    p = os.path.join(tree, f)
    s = open(p).read()
    if a not in s or b not in s or s.index(a) > s.index(b):
        sys.exit(f"pktcost_ab: --nocsum: the payload sum not found in {f}")
    open(p, "w").write(s[:s.index(a)] + s[s.index(b):])


STEP_NOTES = {
    "flow": "config, headers and options, scratch, flow lookup, clock",
    "parse": "request parse (canonical GET in place, key loaded)",
    "guards": "guards, lease, cache lookup",
    "headers": "reply header fields (seq, ack, TSval)",
    "emit": "frame grown, headers and checksums written, value copied",
    "full": "accounting in the mirrors, counters",
}


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def export(rev, dst, harness=HARNESS):
    """The tree at rev (None: the working tree, tracked files) into dst,
    with harness's pktcost.c and reflector (None: the working tree's)."""
    if os.path.exists(dst):
        shutil.rmtree(dst)
    os.makedirs(dst)
    if rev is None:
        files = subprocess.run(["git", "-C", TOP, "ls-files", "-z"], check=True,
                               capture_output=True).stdout.split(b"\0")
        for f in files:
            if not f:
                continue
            src = os.path.join(TOP, f.decode())
            if not os.path.isfile(src):
                continue
            out = os.path.join(dst, f.decode())
            os.makedirs(os.path.dirname(out), exist_ok=True)
            shutil.copy2(src, out)
    else:
        arc = subprocess.run(["git", "-C", TOP, "archive", rev], check=True,
                             capture_output=True).stdout
        sh(["tar", "-x", "-C", dst], input=arc)
    # both measure the same paths with the same harness and floors: the
    # ones of HARNESS (today's pktcost.c also drives the TC ingress path,
    # which the older tree does not have)
    for f in ("experiments/bench/pktcost.c", "xdp/reflector.bpf.c"):
        if harness is None:
            src = open(os.path.join(TOP, f), "rb").read()
        else:
            src = subprocess.run(["git", "-C", TOP, "show", f"{harness}:{f}"], check=True,
                                 capture_output=True).stdout
        open(os.path.join(dst, f), "wb").write(src)
    hash_keyed_puts(dst)


def hash_keyed_puts(tree):
    """A harness older than the cache keyed by the key's hash (its entries
    hold the key) fills ps_cache with a raw map update under the whole key:
    in such a tree that is no entry of any key, and every hit would be
    timed as a miss. There its puts go through the tree's ps_cache_put,
    called as the tree declares it: with ps_present's fd (xdp/maps.h) in
    a tree that has the presence bits, without it in one before them."""
    if "struct ps_cache_key key;" not in open(os.path.join(tree, "xdp/prestack.h")).read():
        return
    present = "int present_fd" in open(os.path.join(tree, "ctl/cachefmt.h")).read()
    p = os.path.join(tree, "experiments/bench/pktcost.c")
    s = re.sub(r"bpf_map_update_elem\(e\.cache, ([^,]+), ([^,]+), BPF_ANY\)",
               r"ps_cache_put(e.cache, \1, \2)", open(p).read())
    if present:
        s = re.sub(r"ps_cache_put\(e\.cache, (?!e\.present)", "ps_cache_put(e.cache, e.present, ", s)
    else:
        s = s.replace("ps_cache_put(e.cache, e.present, ", "ps_cache_put(e.cache, ")
    open(p, "w").write(s)


def build(tree):
    sh(["make", "-s", "-C", tree, "build/pktcost"], stdout=subprocess.DEVNULL,
       stderr=subprocess.DEVNULL)
    return os.path.join(tree, "build", "pktcost")


def run(binary, runs, config=None):
    """{(mode, path, value_size): (median ns, verdict)}; with config, only that
    configuration's rows and the floors (a harness without the column
    has one configuration)."""
    out = subprocess.run([binary, str(runs)], check=True, capture_output=True,
                         text=True).stdout
    rows = {}
    for r in csv.DictReader(io.StringIO(out)):
        if config and r.get("config", config) not in (config, "floor"):
            continue
        rows[(r["mode"], r["path"], r["value_size"])] = (int(r["ns_median"]), r["verdict"])
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", default="e8ee9e0",
                    help="the tree to compare with (default: before the hit-path rework)")
    ap.add_argument("--harness", default=HARNESS,
                    help="the revision whose pktcost.c and reflector both trees run "
                    "(default %(default)s, fill-only; HEAD: today's, deployed; "
                    "tree: the working tree's)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=5001)
    ap.add_argument("--no-steps", action="store_true")
    ap.add_argument("--nocsum", action="store_true",
                    help="also the working tree without checksum verification (rows "
                    "version=after-nocsum): what verifying costs, apart")
    ap.add_argument("--csv", default="bench-pktcost-ab.csv",
                    help="the before/after CSV's name in results/ (default %(default)s; "
                    "the plot is made for the default only)")
    a = ap.parse_args()
    if a.rounds < 1 or a.runs < 101:
        ap.error("--rounds >= 1, --runs >= 101")
    if os.path.basename(a.csv) != a.csv or not a.csv.endswith(".csv"):
        ap.error("--csv takes a file name ending in .csv (written in results/)")
    if os.geteuid() != 0:
        sys.exit("pktcost_ab: run as root (BPF_PROG_TEST_RUN)")
    try:
        before_commit = subprocess.run(["git", "-C", TOP, "rev-parse", "--short", a.before],
                                       check=True, capture_output=True, text=True).stdout.strip()
    except subprocess.CalledProcessError:
        sys.exit(f"pktcost_ab: no such revision: {a.before}")
    harness = None if a.harness == "tree" else a.harness
    if harness is not None:
        try:
            harness = subprocess.run(["git", "-C", TOP, "rev-parse", "--short", harness],
                                     check=True, capture_output=True, text=True).stdout.strip()
        except subprocess.CalledProcessError:
            sys.exit(f"pktcost_ab: no such revision: {a.harness}")
    # today's harness prints every mode twice (deployed, fill-only): the
    # deployed rows are the ones measured
    config = None if a.harness == HARNESS else "deployed"
    meta = provenance()

    bins = {}
    export(a.before, os.path.join(AB, "before"), harness)
    bins["before"] = build(os.path.join(AB, "before"))
    export(None, os.path.join(AB, "after"), harness)
    bins["after"] = build(os.path.join(AB, "after"))
    if a.nocsum:
        export(None, os.path.join(AB, "after-nocsum"), harness)
        nocsum(os.path.join(AB, "after-nocsum"))
        bins["after-nocsum"] = build(os.path.join(AB, "after-nocsum"))
    if not a.no_steps:
        for name, path, anchor, text in STOPS:
            tree = os.path.join(AB, "stop-" + name)
            export(None, tree, harness)
            p = os.path.join(tree, path)
            s = open(p).read()
            if anchor not in s:
                sys.exit(f"pktcost_ab: anchor for step {name} not found in {path}")
            open(p, "w").write(s.replace(anchor, anchor + text, 1))
            bins["stop-" + name] = build(tree)

    meds = {k: {} for k in bins}
    verdicts = {k: {} for k in bins}
    for rnd in range(a.rounds):
        order = list(bins)
        order = order[rnd % len(order):] + order[:rnd % len(order)]
        for k in order:
            for key, (ns, verdict) in run(bins[k], a.runs, config).items():
                meds[k].setdefault(key, []).append(ns)
                verdicts[k][key] = verdict
        print(f"round {rnd + 1}/{a.rounds} done", file=sys.stderr)
    # the two trees must take the same path for a row to compare them (a
    # hit in one and a miss in the other is a harness that does not fit
    # one of the trees): nothing is written otherwise
    differ = [f"{'/'.join(key)}: before {verdicts['before'][key]}, after {v}"
              for key, v in sorted(verdicts["after"].items())
              if key in verdicts["before"] and verdicts["before"][key] != v]
    if differ:
        sys.exit("pktcost_ab: the trees' verdicts differ, so their times are of different paths "
                 f"(another --harness?): {'; '.join(differ[:6])}; {RES} left as it was")

    os.makedirs(RES, exist_ok=True)
    ab = [{**meta, "before_commit": before_commit, "harness": harness or "tree", "version": ver, "mode": mode, "path": path,
           "value_size": vs, "rounds": a.rounds, "runs": a.runs,
           "ns_median": int(statistics.median(v))}
          for ver in ("before", "after", "after-nocsum") if ver in meds
          for (mode, path, vs), v in sorted(meds[ver].items())]
    csvio.save(os.path.join(RES, a.csv), ab)
    print(f"wrote {RES}/{a.csv}")
    if a.csv == "bench-pktcost-ab.csv":
        plot(RES)
    if a.no_steps:
        return
    key = ("guarded", "get_hit", "64")
    floor = statistics.median(meds["after"][("reflector", "reflect", "0")])
    prev = floor
    steps = [{**meta, "step": "floor", "what": "the XDP reflector", "ns_to_here": int(floor),
              "ns_step": int(floor), "rounds": a.rounds, "runs": a.runs}]
    for name in [s[0] for s in STOPS] + ["full"]:
        k = "after" if name == "full" else "stop-" + name
        here = statistics.median(meds[k][key])
        steps.append({**meta, "step": name, "what": STEP_NOTES[name], "ns_to_here": int(here),
                      "ns_step": int(here - prev), "rounds": a.rounds, "runs": a.runs})
        prev = here
    csvio.save(os.path.join(RES, "bench-pktcost-steps.csv"), steps)
    print(f"wrote {RES}/bench-pktcost-steps.csv")


def plot(res):
    """bench-pktcost-ab.{pdf,png} from the CSV only: the paths of the
    guarded and retrans modes, before and after, with the floors."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = list(csv.DictReader(open(os.path.join(res, "bench-pktcost-ab.csv"))))
    want = [("reflector", "reflect", "0", "XDP floor"), ("reflector", "tc_floor", "0", "TC floor"),
            ("guarded", "get_hit", "64", "guarded hit"), ("guarded", "get_miss", "0", "guarded miss"),
            ("guarded", "set", "0", "guarded SET"), ("guarded", "tc_translate", "0", "TC translation"),
            ("retrans", "get_hit", "64", "retrans hit"), ("naive", "get_hit", "64", "naive hit")]
    val = {(r["version"], r["mode"], r["path"], r["value_size"]): int(r["ns_median"]) for r in rows}
    labels, before, after = [], [], []
    for m, p, v, lab in want:
        if ("after", m, p, v) not in val:
            continue
        labels.append(lab)
        before.append(val.get(("before", m, p, v), 0))
        after.append(val[("after", m, p, v)])
    fig, ax = plt.subplots(figsize=(7, 3.2))
    x = range(len(labels))
    ax.bar([i - 0.2 for i in x], before, 0.4, label="before (%s)" % rows[0]["before_commit"])
    ax.bar([i + 0.2 for i in x], after, 0.4, label="after (%s)" % rows[0]["commit"])
    ax.set_xticks(list(x))
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("ns per packet (median)")
    ax.legend(fontsize=8)
    ax.set_title("BPF_PROG_TEST_RUN, %s, one run" % rows[0]["kernel"], fontsize=8)
    fig.tight_layout()
    for ext in ("pdf", "png"):
        fig.savefig(os.path.join(res, "bench-pktcost-ab." + ext))
    print(f"wrote {res}/bench-pktcost-ab.pdf")


if __name__ == "__main__":
    main()
