#!/usr/bin/python3
"""gen.py - the paper's numbers, tables and ladder diagrams, from results/.

  /usr/bin/python3 experiments/paper/gen.py [--out build/paper/gen] [--no-ladders]
  /usr/bin/python3 experiments/paper/gen.py --check [--out DIR]   (what the tests run)

Reads the CSVs in results/ (SOURCES below) and the limits in the code
(CODE_CONSTANTS), and writes into --out:

  macros.tex       one \\newcommand per number the text quotes (\\GuardedHitNs ...),
                   and \\ifHaveX switches for the results that are still to come
  tab-*.tex        tables (failure matrices, per-packet cost, end to end, ...),
                   each with a footnote line naming its CSV, commit, kernel, date
  provenance.tex   a table: every CSV the paper reads, its rows, commits, kernels, dates
  ladder-*.pdf     ladder diagrams of the captures in paper/ladders.json
  ladder-*.json    the arrows each diagram was drawn from
  fig-arch.pdf     the architecture figure (arch.py: drawn, no data)
  sources.json     which macro came from which file (for humans and tests)

Nothing here types a measured number: every value is read from a CSV, a
capture or a #define. A CSV the paper needs that is missing, or lacks a
column the paper uses, or has no row (or two rows) where one is expected,
stops the generator with a message naming the file: the paper is never
built from stale or partial data. Extra columns and rows are ignored
(tables that list every mode or path pick new ones up).

--check (no LaTeX needed) also parses paper/*.tex: every capitalised
macro used must be defined here or in paper/, every \\input{gen/...} must
have been written, every \\includegraphics file must exist, and every
figure in results/ the paper includes must be committed no earlier than
the CSV it is drawn from. TAP output.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAPER = os.path.join(TOP, "paper")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "pylib"))
from prestack_lib import csvio  # noqa: E402


class GenError(Exception):
    pass


# ---------------------------------------------------------------- sources
# name -> (path under the repo, columns the paper uses, required?)
# Optional sources are the results of work in progress: when the file is
# there, its tables and macros are generated and \ifHave<Name> is true;
# when not, the paper prints a marked placeholder. Their expected columns
# are the contract with the experiments that will write them
# (paper/README.md).
SOURCES = {
    "pktcost": ("results/bench-pktcost.csv",
                ["mode", "config", "path", "value_size", "ns_median", "ns_p10", "ns_p90"], True),
    "pktab": ("results/bench-pktcost-ab.csv",
              ["version", "mode", "path", "value_size", "ns_median", "rounds", "runs",
               "before_commit"], True),
    "steps": ("results/bench-pktcost-steps.csv", ["step", "what", "ns_to_here", "ns_step"], True),
    "dummy": ("results/bench-dummy.csv",
              ["series", "extra_iterations", "ns_median", "added_ns", "mpps_per_core"], True),
    "ceiling": ("results/bench-ceiling.csv",
                ["rep", "target", "frames_per_s", "ratio_to_reflector"], True),
    "replayrate": ("results/replay-rate.csv", ["mode", "gets_sent", "replies", "replies_per_s"], True),
    "e2e": ("results/bench-e2e-summary.csv",
            ["config", "workload", "value_size", "clients", "pipeline", "reps", "rps_median",
             "p50_ms_median", "p99_ms_median", "server_cpu_us_per_req_median",
             "redis_cpu_us_per_req_median", "speedup_vs_redis_median", "p99_vs_redis_median",
             "client_us_per_req_median", "threads", "pin"], True),
    "realistic": ("results/bench-realistic.csv",
                  ["mode", "ops", "carriable_not_answered", "gets", "carriable_gets", "carriable_answered", "answered_share",
                   "answered_of_all_gets", "flows", "flows_untrusted", "p50_us", "p99_us",
                   "redis_cpu_us_per_op", "softirq_cpu_us_per_op", "wrong", "stale", "errors"], True),
    "pipelined": ("results/bench-pipelined-summary.csv",
                  ["config", "point", "pipeline", "reps", "ops_per_s_median", "vs_redis_median",
                   "vs_nocoh_median", "answered_share_median"], True),
    "autopipe": ("results/bench-realistic-autopipe.csv",
                 ["mode", "conn_mode", "seed", "ops", "gets", "answered", "answered_of_all_gets",
                  "answered_share", "cut_gets", "wrong", "stale", "errors", "flows_untrusted"], True),
    "coherence": ("results/coherence-window-summary.csv",
                  ["rounds", "cached_rounds", "rounds_with_stale_reads", "p50_us", "p99_us",
                   "p999_us", "max_us"], True),
    "live": ("results/failures-live.csv",
             ["scenario", "mode", "outcome", "wrong", "stale", "error", "timeouts", "max_ms", "get_hits",
              "retrans_replies", "ack_held", "rtx_dupack", "dropped"], True),
    "campaign": ("results/campaign-summary.csv",
                 ["mode", "seeds", "rows", "replies", "wrong", "stale", "errors", "stalls", "resets",
                  "unchecked", "connections", "answered", "stall_cells", "reset_cells"], True),
    "lossrep": ("results/failures-loss-repeats.csv",
                ["seed", "scenario", "mode", "outcome", "timeouts", "ack_held"], True),
    "replay": ("results/failures-replay.csv",
               ["scenario", "mode", "offline_outcome", "model_exact", "live_outcome"], True),
    "ladderrun": ("results/ladders/failures-ladder.csv",
                  ["scenario", "mode", "outcome", "max_ms", "capture"], True),
    # ---- coming: issue 13 (performance, end to end)
    "e2elat": ("results/bench-e2e-latency.csv",
               ["config", "workload", "value_size", "clients", "pipeline", "p50_us", "p99_us",
                "p999_us"], False),
    # ---- coming: issue 15 (where to answer: XDP, TC, post-stack)
    "where": ("results/where-to-answer.csv",
              ["path", "ns_per_request", "rps_50c", "server_cpu_us_per_req", "answered_share",
               "cells_wrong", "cells_stale", "cells_stall", "hit_share_50c", "small_value_size",
               "rps_50c_small", "speedup_50c_small", "server_cpu_us_per_req_small",
               "hit_share_50c_small", "speedup_50c", "cells", "cells_correct"], False),
}

# Rows the paper reads from each source, when a CSV grows a column that
# tells runs apart (issue 13's before/after, a --threads setting): e.g.
# "pktcost": {"build": "after"}. Applied to every row that has the column,
# before any number or table is made; rows without it are kept.
FILTERS = {
    # issue 13: the unpinned grid with redis-benchmark --threads 2 (the
    # --pin steer points and the realistic rows have threads 1)
    "e2e": {"threads": "2", "pin": "none"},
    "e2elat": {"threads": "2", "pin": "none"},
}

# the limits the text quotes, read from the code: macro -> (file, #define)
CODE_CONSTANTS = {
    "KeyMax": ("xdp/prestack.h", "PS_KEY_MAX"),
    "ValMax": ("xdp/prestack.h", "PS_VAL_MAX"),
    "CacheEntries": ("xdp/prestack.h", "PS_CACHE_ENTRIES"),
    "FlowEntries": ("xdp/prestack.h", "PS_FLOW_ENTRIES"),
    "RtxEntries": ("xdp/prestack.h", "PS_RTX_ENTRIES"),
    "RtxRing": ("xdp/prestack.h", "PS_RTX_RING"),
    "RtxBytes": ("xdp/prestack.h", "PS_RTX_BYTES"),
    "SeqadjPoints": ("xdp/prestack.h", "PS_SEQADJ_POINTS"),
    "LeaseMs": ("ctl/deploy.h", "LEASE_MS"),
    "LeaseEveryMs": ("ctl/deploy.h", "LEASE_EVERY_MS"),
}

# figures the paper includes from results/ -> the CSV each is drawn from
FIGURES = {
    "results/failures-live.pdf": "results/failures-live.csv",
    "results/failures-replay-matrix.pdf": "results/failures-replay.csv",
    "results/failures-replay-live-matrix.pdf": "results/failures-replay.csv",
    "results/bench-pktcost.pdf": "results/bench-pktcost.csv",
    "results/bench-dummy.pdf": "results/bench-dummy.csv",
    "results/bench-e2e-speedup.pdf": "results/bench-e2e-summary.csv",
    "results/bench-e2e-cpu.pdf": "results/bench-e2e-summary.csv",
    "results/bench-e2e-latency-cdf.pdf": "results/bench-e2e-latency-cdf.csv",
    "results/bench-pktcost-ab.pdf": "results/bench-pktcost-ab.csv",
    "results/bench-realistic.pdf": "results/bench-realistic.csv",
    "results/coherence-window.pdf": "results/coherence-window.csv",
}


# who writes each CSV the paper reads: the experiment script that writes it
# (first; it is in tests/csv_check.py's WRITERS) and the measuring programs
# of experiments/ it runs. tests/paper_check.py --freshness holds every row's
# commit against the last change to xdp/, ctl/ and these files. The shared
# testbed (experiments/testbed.sh) and pylib/ are not counted.
WRITERS = {
    "results/bench-pktcost.csv": ["experiments/bench/run.sh", "experiments/bench/pktcost.c"],
    "results/bench-dummy.csv": ["experiments/bench/run.sh", "experiments/bench/pktcost.c"],
    "results/bench-pktcost-ab.csv": ["experiments/bench/pktcost_ab.py", "experiments/bench/pktcost.c"],
    "results/bench-pktcost-steps.csv": ["experiments/bench/pktcost_ab.py", "experiments/bench/pktcost.c"],
    "results/bench-ceiling.csv": ["experiments/bench/ceiling.sh", "experiments/rate_lib.sh"],
    "results/replay-rate.csv": ["experiments/replay-rate.sh", "experiments/rate_lib.sh",
                                "experiments/rate_pcaps.py"],
    "results/bench-e2e-summary.csv": ["experiments/bench/e2e.py"],
    "results/bench-e2e-latency.csv": ["experiments/bench/e2e.py"],
    "results/bench-e2e-latency-cdf.csv": ["experiments/bench/e2e.py"],
    "results/bench-realistic.csv": ["experiments/bench/realistic.py"],
    "results/bench-realistic-autopipe.csv": ["experiments/bench/realistic.py"],
    "results/bench-pipelined-summary.csv": ["experiments/bench/pipelined.py", "experiments/bench/pipeload.c"],
    "results/coherence-window-summary.csv": ["experiments/bench/coherence_window.py"],
    "results/coherence-window.csv": ["experiments/bench/coherence_window.py"],
    # run.py --seed N --out results/failures-loss-repeats.csv (the random-loss
    # cells), --keep-captures --out results/ladders/failures-ladder.csv
    "results/failures-live.csv": ["experiments/failures/run.py", "experiments/failures/client.py",
                                  "experiments/mbx/mbx.c"],
    "results/failures-loss-repeats.csv": ["experiments/failures/run.py", "experiments/failures/client.py",
                                          "experiments/mbx/mbx.c"],
    "results/ladders/failures-ladder.csv": ["experiments/failures/run.py", "experiments/failures/client.py",
                                            "experiments/mbx/mbx.c"],
    "results/failures-replay.csv": ["experiments/replay_suite.py", "experiments/liveplay"],
    "results/campaign-summary.csv": ["experiments/campaign/run.py", "experiments/campaign/pyclient.py",
                                     "experiments/mbx/mbx.c", "experiments/bench/pipeload.c"],
    "results/where-to-answer.csv": ["experiments/where_to_answer.py", "experiments/where.sh"],
}

# Stale CSVs the paper keeps on purpose: path -> why. Each table sourced
# from one says "historical: measured at <commit>" in its source line, and
# the text and figure captions that use one must carry \Historical{<file
# name without .csv>} beside the use (tests/paper_check.py --freshness
# checks both). Empty: every CSV is to be re-run on the current code.
HISTORICAL = {}


def row_commits(rows):
    """The distinct commits of rows, +dirty stripped, in first-seen order."""
    return list(dict.fromkeys(r["commit"].split("+")[0] for r in rows if r.get("commit")))


def historical_commits(path):
    """The commits a historical CSV's marker names (all its rows')."""
    return row_commits(csvio.load(os.path.join(TOP, path)))


def read_source(name):
    path, cols, required = SOURCES[name]
    full = os.path.join(TOP, path)
    if not os.path.exists(full):
        if required:
            raise GenError(f"{path}: missing (the paper needs it; rerun its experiment)")
        return None
    # by name, and columns renamed since the file was written also under
    # their current names (prestack_lib.csvio.RENAMED)
    rows = csvio.load(full)
    if not rows:
        raise GenError(f"{path}: no rows")
    missing = [c for c in cols if c not in rows[0]]
    if missing:
        raise GenError(f"{path}: no column {', '.join(missing)} (the paper uses it)")
    flt = FILTERS.get(name, {})
    rows = [r for r in rows if all(r[k] == str(v) for k, v in flt.items() if k in r)]
    if not rows:
        raise GenError(f"{path}: no row left after FILTERS[{name!r}] = {flt}")
    return rows


def one(rows, src, **kw):
    """The single row matching every key=value (values compared as strings)."""
    hit = [r for r in rows if all(str(r.get(k)) == str(v) for k, v in kw.items())]
    if len(hit) != 1:
        what = ", ".join(f"{k}={v}" for k, v in kw.items())
        raise GenError(f"{SOURCES[src][0]}: {len(hit)} rows with {what}, expected one")
    return hit[0]


def git_date(path):
    try:
        out = subprocess.run(["git", "-C", TOP, "log", "-1", "--format=%cs", "--", path],
                             capture_output=True, text=True, timeout=20).stdout.strip()
        return out or None
    except (OSError, subprocess.SubprocessError):
        return None


def provenance(name, rows):
    """commit(s), kernel(s), date(s) of a CSV's rows; the date is the rows'
    own when they carry one, else the day the file was last committed."""
    def uniq(col):
        return sorted({r[col] for r in rows if r.get(col)})
    commits, kernels = uniq("commit"), uniq("kernel") or uniq("host_kernel")
    dates = sorted({r["date"][:10] for r in rows if r.get("date")})
    if dates:
        date = dates[0] if len(dates) == 1 else f"{dates[0]}--{dates[-1]}"
    else:
        d = git_date(SOURCES[name][0])
        date = f"committed {d}" if d else "undated"
    return {"file": SOURCES[name][0], "rows": len(rows), "commit": ", ".join(commits) or "?",
            "kernel": ", ".join(kernels) or "?", "date": date}


# ---------------------------------------------------------------- output
def tex_escape(s):
    s = str(s)
    for a, b in [("\\", r"\textbackslash{}"), ("_", r"\_"), ("%", r"\%"), ("&", r"\&"),
                 ("#", r"\#"), ("$", r"\$"), ("{", r"\{"), ("}", r"\}"), ("~", r"\~{}"),
                 ("^", r"\^{}")]:
        s = s.replace(a, b)
    return s


def fmt_int(v):
    return f"{int(round(float(v))):,}".replace(",", "{,}")


def fmt(v, digits=1):
    v = float(v)
    s = f"{v:,.{digits}f}"
    return s.replace(",", "{,}")


class Out:
    def __init__(self):
        self.macros = {}      # name -> (value, source)
        self.switches = {}    # name -> bool
        self.tables = {}      # file name -> text
        self.prov = {}        # source name -> provenance
        self.ladder_src = {}  # ladder name -> "capture, frames a--b" (\\LadderSrc{name})

    def m(self, name, value, src):
        if not re.fullmatch(r"[A-Z][A-Za-z]+", name):
            raise GenError(f"bad macro name {name!r}: letters only, capitalised")
        if name in self.macros:
            raise GenError(f"macro \\{name} defined twice")
        self.macros[name] = (str(value), src)

    def note(self, *srcs):
        """The provenance line under a table."""
        parts = []
        for s in srcs:
            p = self.prov[s]
            hist = (f", historical: measured at {tex_escape(', '.join(historical_commits(p['file'])))}"
                    if p["file"] in HISTORICAL else "")
            parts.append(f"\\texttt{{{tex_escape(p['file'])}}}: commit {tex_escape(p['commit'])}, "
                         f"kernel {tex_escape(p['kernel'])}, {tex_escape(p['date'])}{hist}")
        return "\\par\\smallskip{\\scriptsize Source: " + "; ".join(parts) + ".}\n"


OUTCOME_TEX = {"correct": r"\OcOk", "recovered": r"\OcRec", "stall": r"\OcStall", "wrong": r"\OcWrong",
               "wrong-bytes": r"\OcWrong", "stale": r"\OcStale", "reset": r"\OcReset", "error": r"\OcReset",
               "n/a": r"--"}


# ---------------------------------------------------------------- sections
def gen_pktcost(o, rows):
    """Per path and mode as attach deploys them (config "deployed": its
    flags, a live lease, a real socket for the flow), the fill-only
    ablation beside them, and the two floors, all from one run."""
    o.prov["pktcost"] = provenance("pktcost", rows)

    def ns(mode, path, size, config="deployed"):
        return float(one(rows, "pktcost", mode=mode, config=config, path=path,
                         value_size=size)["ns_median"])
    refl = ns("reflector", "reflect", 0, "floor")
    tcfloor = ns("reflector", "tc_floor", 0, "floor")
    hit_sizes = sorted({int(r["value_size"]) for r in rows if r["path"] == "get_hit"})
    g = {s: ns("guarded", "get_hit", s) for s in hit_sizes}
    rt = {s: ns("retrans", "get_hit", s) for s in hit_sizes}
    small = hit_sizes[0]
    o.m("ReflectorNs", fmt_int(refl), "pktcost")
    o.m("TcFloorNs", fmt_int(tcfloor), "pktcost")
    o.m("OffHitNs", fmt_int(ns("off", "get_hit", small)), "pktcost")
    o.m("NaiveHitNs", fmt_int(ns("naive", "get_hit", small)), "pktcost")
    o.m("GuardedHitNs", fmt_int(g[small]), "pktcost")
    o.m("GuardedHitMaxNs", fmt_int(max(g.values())), "pktcost")
    o.m("GuardedHitRatio", fmt(g[small] / refl), "pktcost")
    o.m("GuardedMissNs", fmt_int(ns("guarded", "get_miss", 0)), "pktcost")
    o.m("GuardedMissRatio", fmt(ns("guarded", "get_miss", 0) / refl), "pktcost")
    o.m("GuardedSetNs", fmt_int(ns("guarded", "set", 0)), "pktcost")
    o.m("GuardedSetRatio", fmt(ns("guarded", "set", 0) / refl), "pktcost")
    o.m("GuardedOtherNs", fmt_int(ns("guarded", "other_tcp", 0)), "pktcost")
    o.m("GuardedTcNs", fmt_int(ns("guarded", "tc_translate", 0)), "pktcost")
    o.m("GuardedTcRatio", fmt(ns("guarded", "tc_translate", 0) / tcfloor), "pktcost")
    o.m("RetransHitMinNs", fmt_int(min(rt.values())), "pktcost")
    o.m("RetransHitMaxNs", fmt_int(max(rt.values())), "pktcost")
    o.m("RetransHitRatio", fmt(rt[small] / refl), "pktcost")
    # the ablation: fills only, no socket check, no lease (what these
    # rows measured before they measured the deployed configuration)
    fo = ns("guarded", "get_hit", small, "fill-only")
    o.m("FillOnlyHitNs", fmt_int(fo), "pktcost")
    o.m("FillOnlyHitRatio", fmt(fo / refl), "pktcost")
    o.m("DeployedHitExtraNs", fmt_int(g[small] - fo), "pktcost")
    o.m("FillOnlyMissNs", fmt_int(ns("guarded", "get_miss", 0, "fill-only")), "pktcost")
    o.m("FillOnlySetNs", fmt_int(ns("guarded", "set", 0, "fill-only")), "pktcost")
    o.m("FillOnlyTcNs", fmt_int(ns("guarded", "tc_translate", 0, "fill-only")), "pktcost")
    o.m("FillOnlyRetransHitNs", fmt_int(ns("retrans", "get_hit", small, "fill-only")), "pktcost")
    o.m("PktSmallValue", small, "pktcost")
    o.m("PktRuns", fmt_int(rows[0]["runs"]) if "runs" in rows[0] else "?", "pktcost")
    # the table: a row per (path, size) in file order, a column per
    # (mode, config): the deployed modes, then the ablation
    series = [k for k in dict.fromkeys((r["mode"], r["config"]) for r in rows)
              if k[0] != "reflector"]
    keys = [k for k in dict.fromkeys((r["path"], r["value_size"]) for r in rows)
            if k[0] not in ("reflect", "tc_floor")]

    def head(m, c):
        return f"\\texttt{{{tex_escape(m)}}}" + ("" if c == "deployed" else f" ({tex_escape(c)})")
    n = len(series)
    t = ["\\begin{tabular}{l" + "r" * n + "}", "\\toprule",
         "path & " + " & ".join(head(m, c) for m, c in series) + " \\\\", "\\midrule",
         f"reflector (\\texttt{{XDP\\_TX}}, floor) & \\multicolumn{{{n}}}{{l}}{{{fmt_int(refl)}}} \\\\",
         f"TC header walk (floor) & \\multicolumn{{{n}}}{{l}}{{{fmt_int(tcfloor)}}} \\\\"]
    for path, size in keys:
        cells = []
        for m, c in series:
            hit = [r for r in rows if r["mode"] == m and r["config"] == c and r["path"] == path
                   and r["value_size"] == size]
            cells.append(fmt_int(hit[0]["ns_median"]) if len(hit) == 1 else "--")
        lab = tex_escape(path) + (f" ({size}\\,B)" if path == "get_hit" else "")
        t.append(f"{lab} & " + " & ".join(cells) + " \\\\")
    t += ["\\bottomrule", "\\end{tabular}", o.note("pktcost")]
    o.tables["tab-pktcost.tex"] = "\n".join(t)


def gen_perf(o, ab, steps):
    """The hit-path rework: before/after in one run, and where a hit's
    nanoseconds go (one early return per step)."""
    o.prov["pktab"] = provenance("pktab", ab)
    o.prov["steps"] = provenance("steps", steps)

    def ns(ver, mode, path, size):
        return float(one(ab, "pktab", version=ver, mode=mode, path=path, value_size=size)["ns_median"])
    floor = ns("after", "reflector", "reflect", 0)
    tfloor = ns("after", "reflector", "tc_floor", 0)
    o.m("AbRounds", ab[0]["rounds"], "pktab")
    o.m("AbBefore", tex_escape(ab[0]["before_commit"]), "pktab")
    o.m("AbFloorNs", fmt_int(floor), "pktab")
    o.m("AbTcFloorNs", fmt_int(tfloor), "pktab")
    for name, mode, path, size, fl in (("Hit", "guarded", "get_hit", 64, floor),
                                        ("Miss", "guarded", "get_miss", 0, floor),
                                        ("Set", "guarded", "set", 0, floor),
                                        ("Tc", "guarded", "tc_translate", 0, tfloor),
                                        ("Retrans", "retrans", "get_hit", 64, floor)):
        b, a = ns("before", mode, path, size), ns("after", mode, path, size)
        o.m(f"Ab{name}BeforeNs", fmt_int(b), "pktab")
        o.m(f"Ab{name}AfterNs", fmt_int(a), "pktab")
        o.m(f"Ab{name}Ratio", fmt(a / fl), "pktab")
        o.m(f"Ab{name}BeforeRatio", fmt(b / fl), "pktab")
    t = ["\\begin{tabular}{lrr}", "\\toprule", "step of a guarded 64\\,B hit & ns & cumulative \\\\",
         "\\midrule"]
    for r in steps:
        t.append(f"{tex_escape(r['what'])} & {fmt_int(r['ns_step'])} & {fmt_int(r['ns_to_here'])} \\\\")
        o.m("Step" + "".join(w.capitalize() for w in re.findall(r"[a-z]+", r["step"])) + "Ns",
            fmt_int(r["ns_step"]), "steps")
    t += ["\\bottomrule", "\\end{tabular}", o.note("steps")]
    o.tables["tab-steps.tex"] = "\n".join(t)


def gen_dummy(o, rows, ceil, rr):
    o.prov["dummy"] = provenance("dummy", rows)
    o.prov["ceiling"] = provenance("ceiling", ceil)
    o.prov["replayrate"] = provenance("replayrate", rr)
    d = sorted((int(r["extra_iterations"]), float(r["ns_median"])) for r in rows
               if r["series"] == "naive+dummy")
    if len(d) < 2:
        raise GenError("results/bench-dummy.csv: fewer than two naive+dummy rows")
    # least-squares slope: ns per empty bpf_loop iteration
    mx = statistics.fmean(x for x, _ in d)
    my = statistics.fmean(y for _, y in d)
    slope = sum((x - mx) * (y - my) for x, y in d) / sum((x - mx) ** 2 for x, _ in d)
    o.m("DummyNsPerIter", fmt(slope), "dummy")
    o.m("DummyBaseNs", fmt_int(one(rows, "dummy", series="naive+dummy", extra_iterations=0)["ns_median"]),
        "dummy")
    o.m("DummyBaseMpps", fmt(one(rows, "dummy", series="naive+dummy", extra_iterations=0)["mpps_per_core"], 2),
        "dummy")
    # the guards alone (fills only), and as attach deploys them (the
    # socket check on a real socket, the lease, ...)
    gd = float(one(rows, "dummy", series="guarded fill-only", extra_iterations=0)["added_ns"])
    gs = float(one(rows, "dummy", series="guarded deployed", extra_iterations=0)["added_ns"])
    # added_ns is against one reference run; the distances are differences
    n0 = float(one(rows, "dummy", series="naive+dummy", extra_iterations=0)["added_ns"])
    o.m("DummyGuardedAddedNs", fmt_int(gd - n0), "dummy")
    o.m("DummyDeployedAddedNs", fmt_int(gs - gd), "dummy")
    o.m("DummyMaxIter", fmt_int(d[-1][0]), "dummy")
    o.m("DummyMaxIterMpps", fmt(one(rows, "dummy", series="naive+dummy",
                                    extra_iterations=d[-1][0])["mpps_per_core"], 3), "dummy")
    refl = [float(r["frames_per_s"]) for r in ceil if r["target"] == "reflector"]
    hit = [float(r["frames_per_s"]) for r in ceil if r["target"] != "reflector"]
    ratio = [float(r["ratio_to_reflector"]) for r in ceil if r["target"] != "reflector"]
    if not refl or not hit:
        raise GenError("results/bench-ceiling.csv: needs reflector and prestack rows")
    o.m("CeilReflectorKfps", fmt(statistics.median(refl) / 1000, 0), "ceiling")
    o.m("CeilHitKfps", fmt(statistics.median(hit) / 1000, 0), "ceiling")
    o.m("CeilRatio", fmt(statistics.median(ratio), 2), "ceiling")
    o.m("CeilReps", len(refl), "ceiling")
    r = rr[-1]
    o.m("ReplayRateGets", fmt_int(r["gets_sent"]), "replayrate")
    o.m("ReplayRateReplies", fmt_int(r["replies"]), "replayrate")
    o.m("ReplayRateKrps", fmt(float(r["replies_per_s"]) / 1000, 0), "replayrate")


CONFIG_ORDER = ["redis", "off", "naive", "guarded", "retrans"]


def gen_e2e(o, rows):
    o.prov["e2e"] = provenance("e2e", rows)

    def row(cfg, wl, size, cl, pl=1):
        return one(rows, "e2e", config=cfg, workload=wl, value_size=size, clients=cl, pipeline=pl)
    sizes = sorted({int(r["value_size"]) for r in rows})
    small = sizes[0]
    clients = sorted({int(r["clients"]) for r in rows})
    many = 50 if 50 in clients else clients[-1]
    o.m("EeClients", many, "e2e")
    o.m("EeReps", row("redis", "get", small, many)["reps"], "e2e")
    o.m("EeRedisKrps", fmt(float(row("redis", "get", small, many)["rps_median"]) / 1000), "e2e")
    sp = [float(row("guarded", "get", s, many)["speedup_vs_redis_median"]) for s in sizes]
    o.m("EeGuardedSpeedupMin", fmt(min(sp), 2), "e2e")
    o.m("EeGuardedSpeedupMax", fmt(max(sp), 2), "e2e")
    o.m("EeGuardedSpeedupSmall", fmt(sp[0], 2), "e2e")
    r_redis, r_g = row("redis", "get", small, many), row("guarded", "get", small, many)
    cr, cg = float(r_redis["server_cpu_us_per_req_median"]), float(r_g["server_cpu_us_per_req_median"])
    o.m("EeRedisCpuUs", fmt(cr), "e2e")
    o.m("EeGuardedCpuUs", fmt(cg), "e2e")
    o.m("EeCpuRatio", fmt(cr / cg), "e2e")
    o.m("EeRedisOwnCpuUs", fmt(r_redis["redis_cpu_us_per_req_median"]), "e2e")
    o.m("EeGuardedOwnCpuUs", fmt(r_g["redis_cpu_us_per_req_median"]), "e2e")
    o.m("EeOffSpeedup", fmt(row("off", "get", small, many)["speedup_vs_redis_median"], 2), "e2e")
    o.m("EeSmallValue", small, "e2e")
    o.m("EeSizeMax", fmt_int(sizes[-1]), "e2e")
    o.m("EeRedisPNinetyNineMs", fmt(r_redis["p99_ms_median"], 3), "e2e")
    o.m("EeGuardedPNinetyNineMs", fmt(r_g["p99_ms_median"], 3), "e2e")
    one_cl = [r for r in rows if r["clients"] == "1" and r["pipeline"] == "1" and r["workload"] == "get"
              and r["config"] == "guarded"]
    if one_cl:
        s1 = sorted(one_cl, key=lambda r: int(r["value_size"]))
        sz = [s for s in (64, small) if any(int(r["value_size"]) == s for r in s1)][0]
        r1 = one(rows, "e2e", config="guarded", workload="get", value_size=sz, clients=1, pipeline=1)
        o.m("EeOneClientSpeedup", fmt(r1["speedup_vs_redis_median"], 2), "e2e")
        o.m("EeOneClientValue", sz, "e2e")
        o.m("EeOneClientPNinetyNineRatio", fmt(r1["p99_vs_redis_median"], 2), "e2e")
        o.m("EeOneClientRedisPNinetyNineMs", fmt(one(rows, "e2e", config="redis", workload="get",
                                                     value_size=sz, clients=1,
                                                     pipeline=1)["p99_ms_median"], 3), "e2e")
        o.m("EeOneClientGuardedPNinetyNineMs", fmt(r1["p99_ms_median"], 3), "e2e")
    o.m("EeGuardedPNinetyNineRatio", fmt(r_g["p99_vs_redis_median"], 2), "e2e")
    o.m("EeClientUsPerReq", fmt(r_g["client_us_per_req_median"]), "e2e")
    o.m("EeThreads", r_g["threads"], "e2e")
    piped = [r for r in rows if r["config"] == "guarded" and r["workload"] == "get"
             and r["value_size"] == str(small) and r["clients"] == str(many) and r["pipeline"] != "1"]
    if piped:
        o.m("EePipeDepth", piped[0]["pipeline"], "e2e")
        o.m("EePipeGuardedSpeedup", fmt(piped[0]["speedup_vs_redis_median"], 2), "e2e")
    # the table: `many` clients, no pipelining; a row per workload and size
    cfgs = [c for c in CONFIG_ORDER if any(r["config"] == c for r in rows)]
    cfgs += [c for c in dict.fromkeys(r["config"] for r in rows) if c not in cfgs]
    others = [c for c in cfgs if c != "redis"]
    t = ["\\begin{tabular}{ll r" + "r" * len(others) + " r}", "\\toprule",
         "workload & value & Redis alone & " + " & ".join(f"\\texttt{{{tex_escape(c)}}}" for c in others)
         + " & CPU/req (\\textmu s), Redis $\\to$ \\texttt{guarded} \\\\", "\\midrule"]
    for wl in dict.fromkeys(r["workload"] for r in rows):
        for s in sizes:
            base = [r for r in rows if r["config"] == "redis" and r["workload"] == wl
                    and r["value_size"] == str(s) and r["clients"] == str(many) and r["pipeline"] == "1"]
            if len(base) != 1:
                continue
            cells = []
            for c in others:
                h = [r for r in rows if r["config"] == c and r["workload"] == wl and r["value_size"] == str(s)
                     and r["clients"] == str(many) and r["pipeline"] == "1"]
                cells.append(fmt(h[0]["speedup_vs_redis_median"], 2) + "$\\times$" if len(h) == 1 else "--")
            gh = [r for r in rows if r["config"] == "guarded" and r["workload"] == wl
                  and r["value_size"] == str(s) and r["clients"] == str(many) and r["pipeline"] == "1"]
            cpu = (f"{fmt(base[0]['server_cpu_us_per_req_median'])} $\\to$ "
                   f"{fmt(gh[0]['server_cpu_us_per_req_median'])}") if len(gh) == 1 else "--"
            t.append(f"{tex_escape(wl)} & {s}\\,B & {fmt(float(base[0]['rps_median']) / 1000)}k/s & "
                     + " & ".join(cells) + f" & {cpu} \\\\")
    t += ["\\bottomrule", "\\end{tabular}", o.note("e2e")]
    o.tables["tab-e2e.tex"] = "\n".join(t)


def gen_realistic(o, rows, coh):
    o.prov["realistic"] = provenance("realistic", rows)
    o.prov["coherence"] = provenance("coherence", coh)
    g = one(rows, "realistic", mode="guarded")
    o.m("RealOps", fmt_int(g["ops"]), "realistic")
    o.m("RealGuardedSharePct", fmt(100 * float(g["answered_share"])), "realistic")
    o.m("RealGuardedAnswered", fmt_int(g["carriable_answered"]), "realistic")
    o.m("RealGuardedCarriable", fmt_int(g["carriable_gets"]), "realistic")
    o.m("RealGuardedAllPct", fmt(100 * float(g["answered_of_all_gets"])), "realistic")
    o.m("RealWrongTotal", sum(int(r["wrong"]) for r in rows), "realistic")
    o.m("RealStaleTotal", sum(int(r["stale"]) for r in rows), "realistic")
    o.m("RealUntrustedTotal", sum(int(r["flows_untrusted"]) for r in rows), "realistic")
    o.m("RealFlows", g["flows"], "realistic")
    rd = one(rows, "realistic", mode="redis")
    o.m("RealRedisCpuUs", fmt(rd["redis_cpu_us_per_op"]), "realistic")
    o.m("RealGuardedRedisCpuUs", fmt(g["redis_cpu_us_per_op"]), "realistic")
    try:
        why = json.loads(g.get("carriable_not_answered") or "{}")
    except ValueError:
        raise GenError("results/bench-realistic.csv: carriable_not_answered is not JSON")
    o.m("RealGuardedNotAnswered", ", ".join(f"\\texttt{{{tex_escape(k)}}} {fmt_int(v)}"
                                            for k, v in sorted(why.items())) or "nothing", "realistic")
    rt = [r for r in rows if r["mode"] == "retrans"]
    if rt:
        o.m("RealRetransSharePct", fmt(100 * float(rt[0]["answered_share"])), "realistic")
    modes = [r["mode"] for r in rows]
    t = ["\\begin{tabular}{l rrrr rr rr}", "\\toprule",
         "mode & carriable GETs & answered at XDP & share & of all GETs & p50 (\\textmu s) & "
         "p99 (\\textmu s) & wrong & stale \\\\", "\\midrule"]
    for m in modes:
        r = one(rows, "realistic", mode=m)
        t.append(f"\\texttt{{{tex_escape(m)}}} & {fmt_int(r['carriable_gets'])} & "
                 f"{fmt_int(r['carriable_answered'])} & {fmt(100 * float(r['answered_share']))}\\,\\% & "
                 f"{fmt(100 * float(r['answered_of_all_gets']))}\\,\\% & {fmt(r['p50_us'])} & "
                 f"{fmt(r['p99_us'])} & {r['wrong']} & {r['stale']} \\\\")
    t += ["\\bottomrule", "\\end{tabular}", o.note("realistic")]
    o.tables["tab-realistic.tex"] = "\n".join(t)
    # the write over loopback in guarded mode (rows before scenarios: the last)
    lo = [r for r in coh if r.get("scenario", "loopback") == "loopback" and
          r.get("mode", "guarded") == "guarded"]
    c = (lo or coh)[-1]
    o.m("CohRounds", fmt_int(c["rounds"]), "coherence")
    o.m("CohStaleRounds", fmt_int(c["rounds_with_stale_reads"]), "coherence")
    o.m("CohStalePct", fmt(100 * int(c["rounds_with_stale_reads"]) / int(c["rounds"]), 0), "coherence")
    o.m("CohPFiftyUs", fmt(c["p50_us"]), "coherence")
    o.m("CohPNinetyNineUs", fmt(c["p99_us"]), "coherence")
    o.m("CohPNineNineNineMs", fmt(float(c["p999_us"]) / 1000), "coherence")
    o.m("CohMaxMs", fmt(float(c["max_us"]) / 1000), "coherence")
    # eviction, which no packet shows (the watcher's events), guarded
    ev = [r for r in coh if r.get("scenario") == "eviction" and r.get("mode") == "guarded"]
    if ev:
        e = ev[-1]
        o.m("CohEvictRounds", fmt_int(e["rounds"]), "coherence")
        o.m("CohEvictStalePct", fmt(100 * int(e["rounds_with_stale_reads"]) / int(e["rounds"]), 0),
            "coherence")
        o.m("CohEvictPNineNineNineMs", fmt(float(e["p999_us"]) / 1000), "coherence")
        o.m("CohEvictMaxMs", fmt(float(e["max_us"]) / 1000), "coherence")


PIPE_CONFIGS = ["off", "guarded", "guarded-nocoh", "retrans"]
PIPE_POINTS = {"mix-p1": ("MixOne", "GET:SET 10:1, $P{=}1$"),
               "mix-p16": ("MixSixteen", "GET:SET 10:1, $P{=}16$"),
               "get-p16": ("GetSixteen", "GET, $P{=}16$"),
               "miss-p16": ("MissSixteen", "GET misses, $P{=}16$"),
               "rbench-get-p16": ("RbenchSixteen", "\\texttt{redis-benchmark} GET, $P{=}16$")}


CAMPAIGN_MODES = ["off", "guarded", "retrans", "guarded-cut", "retrans-cut"]


def gen_campaign(o, rows):
    """The randomized fault campaign: per mode, replies judged, wrong and
    stale ones, the cells that stalled or reset (seed/client)."""
    o.prov["campaign"] = provenance("campaign", rows)
    modes = [m for m in CAMPAIGN_MODES if any(r["mode"] == m for r in rows)]
    if "guarded" not in modes:
        raise GenError("results/campaign-summary.csv: no guarded row")
    t = ["\\begin{tabular}{l r r r r r r r}", "\\toprule",
         "mode & seeds & replies judged & answered before Redis & wrong & stale & stalled & reset \\\\",
         "\\midrule"]
    for m in modes:
        r = one(rows, "campaign", mode=m)
        t.append(f"\\texttt{{{tex_escape(m)}}} & {r['seeds']} & {fmt_int(r['replies'])} & "
                 f"{fmt_int(r['answered'])} & {r['wrong']} & {r['stale']} & {r['stalls']} & "
                 f"{r['resets']} \\\\")
    t += ["\\bottomrule", "\\end{tabular}", o.note("campaign")]
    o.tables["tab-campaign.tex"] = "\n".join(t)
    safe = [one(rows, "campaign", mode=m) for m in modes if m != "off"]
    o.m("CampSeeds", one(rows, "campaign", mode="guarded")["seeds"], "campaign")
    o.m("CampReplies", fmt_int(sum(int(r["replies"]) for r in rows)), "campaign")
    o.m("CampSafeReplies", fmt_int(sum(int(r["replies"]) for r in safe)), "campaign")
    o.m("CampSafeAnswered", fmt_int(sum(int(r["answered"]) for r in safe)), "campaign")
    o.m("CampSafeBad", sum(int(r["wrong"]) + int(r["stale"]) for r in safe), "campaign")
    o.m("CampConnections", fmt_int(sum(int(r["connections"]) for r in rows)), "campaign")
    for m, name in (("off", "Off"), ("guarded", "Guarded"), ("retrans", "Retrans")):
        if m in modes:
            r = one(rows, "campaign", mode=m)
            o.m(f"Camp{name}StallCells", len(r["stall_cells"].split()), "campaign")
            o.m(f"Camp{name}ResetCells", len(r["reset_cells"].split()), "campaign")


def gen_pipelines(o, summ, ap):
    """The pipelined load (ratios to Redis alone within a repetition,
    medians; vs_nocoh: the coherence machinery's cost) and the realistic
    mix from auto-pipelining connections, without and with --cut."""
    o.prov["pipelined"] = provenance("pipelined", summ)
    o.prov["autopipe"] = provenance("autopipe", ap)
    cfgs = [c for c in PIPE_CONFIGS if any(r["config"] == c for r in summ)]
    points = [p for p in PIPE_POINTS if any(r["point"] == p for r in summ)]
    if "guarded" not in cfgs or not points:
        raise GenError("results/bench-pipelined-summary.csv: no guarded rows")
    o.m("PipeReps", one(summ, "pipelined", config="guarded", point=points[0])["reps"], "pipelined")
    for pt in points:
        name = PIPE_POINTS[pt][0]
        for cfg, cn in (("guarded", "Guarded"), ("off", "Off")):
            if cfg in cfgs:
                r = one(summ, "pipelined", config=cfg, point=pt)
                o.m(f"Pipe{name}{cn}Ratio", fmt(r["vs_redis_median"], 2), "pipelined")
        g = one(summ, "pipelined", config="guarded", point=pt)
        o.m(f"Pipe{name}GuardedSharePct", fmt(100 * float(g["answered_share_median"] or 0), 0),
            "pipelined")
        if g.get("vs_nocoh_median"):
            o.m(f"Pipe{name}CohCost", fmt(g["vs_nocoh_median"], 2), "pipelined")
    t = ["\\begin{tabular}{l r " + "r" * len(cfgs) + " r r}", "\\toprule",
         "load & Redis kops/s & " + " & ".join(f"\\texttt{{{tex_escape(c)}}}" for c in cfgs) +
         " & answered & vs.\\ \\texttt{nocoh} \\\\", "\\midrule"]
    for pt in points:
        rd = one(summ, "pipelined", config="redis", point=pt)
        g = one(summ, "pipelined", config="guarded", point=pt)
        cells = [fmt(one(summ, "pipelined", config=c, point=pt)["vs_redis_median"], 2) + "$\\times$"
                 for c in cfgs]
        t.append(f"{PIPE_POINTS[pt][1]} & {fmt(float(rd['ops_per_s_median']) / 1000, 0)} & "
                 + " & ".join(cells) +
                 f" & {fmt(100 * float(g['answered_share_median'] or 0), 0)}\\,\\% & "
                 f"{fmt(g['vs_nocoh_median'], 2) if g.get('vs_nocoh_median') else '--'} \\\\")
    t += ["\\bottomrule", "\\end{tabular}", o.note("pipelined")]
    o.tables["tab-pipelines.tex"] = "\n".join(t)
    ap = [r for r in ap if r["conn_mode"] == "autopipe"]
    seeds = sorted({r["seed"] for r in ap})
    o.m("ApSeeds", len(seeds), "autopipe")
    o.m("ApSeedFirst", seeds[0], "autopipe")
    o.m("ApSeedLast", seeds[-1], "autopipe")
    o.m("ApOps", fmt_int(ap[0]["ops"]), "autopipe")
    pm = [r for r in ap if r["mode"] not in ("redis", "off")]
    o.m("ApRuns", len(pm), "autopipe")
    for k, name in (("wrong", "ApWrong"), ("stale", "ApStale"), ("errors", "ApErrors")):
        o.m(name, fmt_int(sum(int(r[k]) for r in pm)), "autopipe")

    def med(mode, col):
        v = sorted(float(r[col]) for r in ap if r["mode"] == mode)
        if not v:
            raise GenError(f"results/bench-realistic-autopipe.csv: no {mode} rows")
        return fmt(100 * v[len(v) // 2], 1)
    for mode, name in (("guarded", "Guarded"), ("guarded-cut", "Cut")):
        o.m(f"Ap{name}SharePct", med(mode, "answered_share"), "autopipe")


LIVE_MODES = ["off", "naive", "guarded-nohold", "guarded", "retrans"]


def cell_tex(r, patience=True):
    oc = r["outcome"]
    s = OUTCOME_TEX.get(oc, tex_escape(oc))
    if oc == "recovered":
        s += f" {fmt(r['max_ms'], 0)}"
    elif oc in ("wrong", "stale"):
        s += f" ({r[oc]})"
    return s


def gen_live(o, rows, lossrep, ladderrun):
    o.prov["live"] = provenance("live", rows)
    o.prov["lossrep"] = provenance("lossrep", lossrep)
    o.prov["ladderrun"] = provenance("ladderrun", ladderrun)
    scen = list(dict.fromkeys(r["scenario"] for r in rows))
    modes = [m for m in LIVE_MODES if any(r["mode"] == m for r in rows)]
    modes += [m for m in dict.fromkeys(r["mode"] for r in rows) if m not in modes]
    # one column per mode (eight today): scaled to the text width
    t = ["\\resizebox{\\linewidth}{!}{%", "\\begin{tabular}{l" + "c" * len(modes) + "}", "\\toprule",
         "fault & " + " & ".join(f"\\texttt{{{tex_escape(m)}}}" for m in modes) + " \\\\", "\\midrule"]
    for s in scen:
        cells = []
        for m in modes:
            h = [r for r in rows if r["scenario"] == s and r["mode"] == m]
            cells.append(cell_tex(h[0]) if len(h) == 1 else "")
        t.append(f"\\texttt{{{tex_escape(s)}}} & " + " & ".join(cells) + " \\\\")
    t += ["\\bottomrule", "\\end{tabular}}", o.note("live")]
    o.tables["tab-failures-live.tex"] = "\n".join(t)
    o.m("LiveCells", len(rows), "live")
    o.m("LiveScenarios", len(scen), "live")
    bad_other = [r for r in rows if r["mode"] != "naive" and r["outcome"] in ("wrong", "stale")]
    o.m("LiveWrongOutsideNaive", len(bad_other), "live")
    # the guarded XDP modes alone (naive and the post-stack mode out)
    guarded = [r for r in rows if r["mode"] not in ("naive", "poststack", "off")]
    o.m("LiveGuardedModeCells", len(guarded), "live")
    o.m("LiveGuardedModeWrong", sum(1 for r in guarded if r["outcome"] in ("wrong", "stale")), "live")
    # which cells those are, for the text that says so (none: "none")
    o.m("LiveWrongOutsideNaiveWhere", ", ".join(
        f"\\Mode{{{tex_escape(r['mode'])}}} under \\texttt{{{tex_escape(r['scenario'])}}}"
        for r in bad_other) or "none", "live")
    o.m("LiveCellsOutsideNaive", sum(1 for r in rows if r["mode"] != "naive"), "live")
    o.m("LiveNaiveBadCells", sum(1 for r in rows if r["mode"] == "naive"
                                  and r["outcome"] in ("wrong", "stale", "stall")), "live")
    o.m("LiveRetransNotCorrect", sum(1 for r in rows if r["mode"] == "retrans"
                                      and r["outcome"] not in ("correct", "recovered")), "live")
    o.m("LiveGuardedStalls", sum(1 for r in rows if r["mode"] == "guarded" and r["outcome"] == "stall"),
        "live")

    def ms(sc, m):
        r = one(rows, "live", scenario=sc, mode=m)
        return r
    r = ms("lost_xdp_reply", "guarded")
    o.m("LostReplyGuardedMs", fmt(r["max_ms"], 0), "live")
    r = ms("lost_xdp_reply_after_set", "guarded")
    o.m("AfterSetGuardedOutcome", r["outcome"], "live")
    o.m("AfterSetGuardedMs", fmt(r["max_ms"], 0), "live")
    o.m("AfterSetNoholdOutcome", ms("lost_xdp_reply_after_set", "guarded-nohold")["outcome"], "live")
    o.m("PipelinedGuardedOutcome", ms("lost_xdp_reply_pipelined", "guarded")["outcome"], "live")
    o.m("PipelinedRetransOutcome", ms("lost_xdp_reply_pipelined", "retrans")["outcome"], "live")
    o.m("PipelinedRetransDupack", ms("lost_xdp_reply_pipelined", "retrans")["rtx_dupack"], "live")
    o.m("CleanNaiveOutcome", ms("clean", "naive")["outcome"], "live")
    o.m("ReorderedGuardedDropped", ms("reordered", "guarded")["dropped"], "live")
    for sc, name in (("loss_1pct", "LossOne"), ("loss_5pct", "LossFive")):
        o.m(f"{name}GuardedAckHeld", ms(sc, "guarded")["ack_held"], "live")
        o.m(f"{name}GuardedRetransReplies", ms(sc, "guarded")["retrans_replies"], "live")
        o.m(f"{name}NaiveErrors", ms(sc, "naive")["error"], "live")
    # the repeated random-loss cells
    seeds = sorted({r["seed"] for r in lossrep})
    o.m("LossRepSeeds", len(seeds), "lossrep")
    nh = [r for r in lossrep if r["mode"] == "guarded-nohold"]
    gd = [r for r in lossrep if r["mode"] == "guarded"]
    o.m("LossRepNoholdCells", len(nh), "lossrep")
    o.m("LossRepNoholdStallCells", sum(1 for r in nh if r["outcome"] == "stall"), "lossrep")
    o.m("LossRepGuardedCells", len(gd), "lossrep")
    o.m("LossRepGuardedStallCells", sum(1 for r in gd if r["outcome"] == "stall"), "lossrep")
    o.m("LossRepAckHeldMin", min(int(r["ack_held"]) for r in gd), "lossrep")
    o.m("LossRepAckHeldMax", max(int(r["ack_held"]) for r in gd), "lossrep")
    o.m("LossRepNoholdStallConnsMax", max(int(r["timeouts"]) for r in nh), "lossrep")
    # the run the ladder captures come from
    for sc, m, name in (("lost_xdp_reply_after_set", "guarded", "LadderAfterSetGuarded"),
                        ("lost_xdp_reply_after_set", "guarded-nohold", "LadderAfterSetNohold"),
                        ("lost_xdp_reply_pipelined", "guarded", "LadderPipelinedGuarded"),
                        ("lost_xdp_reply_pipelined", "retrans", "LadderPipelinedRetrans")):
        r = one(ladderrun, "ladderrun", scenario=sc, mode=m)
        o.m(name + "Outcome", r["outcome"], "ladderrun")
    differ = [f"{r['scenario']}/{r['mode']}" for r in ladderrun
              if any(x["scenario"] == r["scenario"] and x["mode"] == r["mode"]
                     and x["outcome"] != r["outcome"] for x in rows)]
    o.m("LadderAgreement", "their outcomes match the full matrix's" if not differ else
        "their outcomes differ from the full matrix's in " + tex_escape(", ".join(differ)), "ladderrun")
    o.m("LadderAfterSetGuardedMs", fmt(one(ladderrun, "ladderrun", scenario="lost_xdp_reply_after_set",
                                           mode="guarded")["max_ms"], 0), "ladderrun")


def gen_replay(o, rows):
    o.prov["replay"] = provenance("replay", rows)
    scen = list(dict.fromkeys(r["scenario"] for r in rows))
    modes = list(dict.fromkeys(r["mode"] for r in rows))
    t = ["\\begin{tabular}{l" + "cc" * len(modes) + "}", "\\toprule",
         " & " + " & ".join(f"\\multicolumn{{2}}{{c}}{{\\texttt{{{tex_escape(m)}}}}}" for m in modes)
         + " \\\\",
         "scenario & " + " & ".join("offline & live" for _ in modes) + " \\\\", "\\midrule"]
    for s in scen:
        cells = []
        for m in modes:
            h = [r for r in rows if r["scenario"] == s and r["mode"] == m]
            if len(h) != 1:
                cells += ["", ""]
                continue
            off = OUTCOME_TEX.get(h[0]["offline_outcome"], tex_escape(h[0]["offline_outcome"]))
            if h[0]["offline_outcome"] != "n/a" and h[0]["model_exact"] == "0":
                off += "$^{\\approx}$"
            cells += [off, OUTCOME_TEX.get(h[0]["live_outcome"], tex_escape(h[0]["live_outcome"]))]
        t.append(f"\\texttt{{{tex_escape(s)}}} & " + " & ".join(cells) + " \\\\")
    t += ["\\bottomrule", "\\end{tabular}", o.note("replay")]
    o.tables["tab-failures-replay.tex"] = "\n".join(t)
    o.m("ReplayScenarios", len(scen), "replay")
    g = [r for r in rows if r["mode"] == "guarded"]
    o.m("ReplayGuardedBad", sum(1 for r in g if r["offline_outcome"] in ("wrong-bytes", "stale")
                                 or r["live_outcome"] in ("wrong-bytes", "stale")), "replay")
    nv = [r for r in rows if r["mode"] == "naive"]
    o.m("ReplayNaiveBadLive", sum(1 for r in nv if r["live_outcome"] in ("wrong-bytes", "stale")), "replay")
    o.m("ReplayCleanMixNaiveLive", one(rows, "replay", scenario="clean_mix", mode="naive")["live_outcome"],
        "replay")


def gen_coming(o, e2elat, where):
    """Issue 13 and 15: tables when their CSVs exist, a switch either way."""
    o.switches["HaveEeLatency"] = e2elat is not None
    o.switches["HaveWhere"] = where is not None
    if e2elat is not None:
        o.prov["e2elat"] = provenance("e2elat", e2elat)
        t = ["\\begin{tabular}{llrrr rrr}", "\\toprule",
             "config & workload & value & clients & pipeline & p50 (\\textmu s) & p99 & p99.9 \\\\",
             "\\midrule"]
        for r in e2elat:
            t.append(f"\\texttt{{{tex_escape(r['config'])}}} & {tex_escape(r['workload'])} & "
                     f"{r['value_size']}\\,B & {r['clients']} & {r['pipeline']} & {fmt(r['p50_us'])} & "
                     f"{fmt(r['p99_us'])} & {fmt(r['p999_us'])} \\\\")
        t += ["\\bottomrule", "\\end{tabular}", o.note("e2elat")]
        o.tables["tab-e2e-latency.tex"] = "\n".join(t)
    if where is not None:
        o.prov["where"] = provenance("where", where)
        t = ["\\begin{tabular}{l rrrr rrr}", "\\toprule",
             "path & ns/request & req/s (50 cl.) & CPU/req (\\textmu s) & answered & "
             "wrong & stale & stall \\\\", "\\midrule"]
        for r in where:
            t.append(f"\\texttt{{{tex_escape(r['path'])}}} & {fmt_int(r['ns_per_request'])} & "
                     f"{fmt_int(r['rps_50c'])} & {fmt(r['server_cpu_us_per_req'])} & "
                     f"{fmt(100 * float(r['answered_share']))}\\,\\% & {r['cells_wrong']} & "
                     f"{r['cells_stale']} & {r['cells_stall']} \\\\")
        t += ["\\bottomrule", "\\end{tabular}", o.note("where")]
        o.tables["tab-where.tex"] = "\n".join(t)
        names = {"xdp": "Xdp", "xdp+tc": "Tc", "poststack": "Post"}
        for r in where:
            n = names.get(r["path"])
            if not n:
                continue
            o.m(f"Where{n}Ns", fmt_int(r["ns_per_request"]), "where")
            o.m(f"Where{n}Krps", fmt(float(r["rps_50c"]) / 1000), "where")
            o.m(f"Where{n}Speedup", fmt(r["speedup_50c"], 2), "where")
            o.m(f"Where{n}CpuUs", fmt(r["server_cpu_us_per_req"]), "where")
            o.m(f"Where{n}Answered", fmt(100 * float(r["answered_share"]), 0), "where")
            o.m(f"Where{n}Cells", r["cells"], "where")
            o.m(f"Where{n}CellsOk", r["cells_correct"], "where")
            o.m(f"Where{n}CellsBad", int(r["cells_wrong"]) + int(r["cells_stale"]), "where")
            o.m(f"Where{n}CellsStall", r["cells_stall"], "where")
            o.m(f"Where{n}Hit", fmt(100 * float(r["hit_share_50c"] or 0), 0), "where")
            o.m(f"Where{n}KrpsSmall", fmt(float(r["rps_50c_small"]) / 1000), "where")
            o.m(f"Where{n}SpeedupSmall", fmt(r["speedup_50c_small"], 2), "where")
            o.m(f"Where{n}CpuUsSmall", fmt(r["server_cpu_us_per_req_small"]), "where")
            o.m(f"Where{n}HitSmall", fmt(100 * float(r["hit_share_50c_small"] or 0), 0), "where")
        o.m("WhereValue", where[0]["value_size"], "where")
        o.m("WhereSmallValue", where[0]["small_value_size"], "where")


def gen_constants(o):
    vals = {}
    for name, (path, define) in CODE_CONSTANTS.items():
        text = open(os.path.join(TOP, path)).read()
        m = re.search(rf"^#define\s+{define}\s+\(?([0-9]+)", text, re.M)
        if not m:
            raise GenError(f"{path}: no #define {define} (the paper quotes it)")
        o.m(name, fmt_int(m.group(1)), path)
        vals[name] = int(m.group(1))
    # derived: the retransmission buffer's preallocated size
    o.m("RtxMemMiB", fmt_int(vals["RtxEntries"] * vals["RtxBytes"] / 2**20), "xdp/prestack.h")


def gen_provenance(o):
    t = ["\\begin{tabular}{l r l l l}", "\\toprule", "file & rows & commit & kernel & date \\\\",
         "\\midrule"]
    for p in o.prov.values():
        hist = " (historical)" if p["file"] in HISTORICAL else ""
        t.append(f"\\texttt{{{tex_escape(p['file'])}}} & {p['rows']} & {tex_escape(p['commit'])}{hist} & "
                 f"{tex_escape(p['kernel'])} & {tex_escape(p['date'])} \\\\")
    t += ["\\bottomrule", "\\end{tabular}"]
    o.tables["provenance.tex"] = "\n".join(t) + "\n"


def gen_ladders(o, outdir, draw=True):
    import ladder
    spec = json.load(open(os.path.join(PAPER, "ladders.json")))
    for lad in spec:
        cap = os.path.join(TOP, lad["capture"])
        if not os.path.exists(cap):
            raise GenError(f"{lad['capture']}: missing (paper/ladders.json draws it)")
        mbx = os.path.join(TOP, lad["mbx"]) if lad.get("mbx") else None
        first, last = lad["frames"]
        res = ladder.load(cap, first, last, mbx, s2c_drops_injected=lad.get("s2c_drops_injected", False),
                          notes=lad.get("notes"))
        for k, want in lad.get("expect", {}).items():   # the spec's own sanity checks
            got = sum(1 for a in res["arrows"] if a.get(k))
            if got != want:
                raise GenError(f"{lad['capture']} {first}-{last}: {got} arrows {k}, ladders.json expects {want}")
        base = os.path.join(outdir, f"ladder-{lad['name']}")
        with open(base + ".json", "w") as f:
            json.dump(res, f, indent=1)
        if draw:
            ladder.draw(res, base + ".pdf")
        # \\nolinkurl: a path that may break at its slashes
        cap_tex = (f"\\nolinkurl{{{lad['capture']}}}, frames {first}--{last}"
                   + (f"; drops from \\nolinkurl{{{lad['mbx']}}}" if lad.get("mbx") else ""))
        o.ladder_src[lad["name"]] = cap_tex


def write(o, outdir):
    os.makedirs(outdir, exist_ok=True)
    lines = ["% generated by experiments/paper/gen.py from results/: do not edit"]
    for name, (val, src) in sorted(o.macros.items()):
        lines.append(f"\\newcommand{{\\{name}}}{{{val}}}% {src}")
    for name, on in sorted(o.switches.items()):
        lines.append(f"\\newif\\if{name}\\{name}{'true' if on else 'false'}")
    for name, text in sorted(o.ladder_src.items()):
        lines.append(f"\\expandafter\\def\\csname laddersrc@{name}\\endcsname{{{text}}}")
    # \Historical{name} beside a use of a historical CSV (paper/prestack.tex)
    for path in sorted(HISTORICAL):
        name = os.path.basename(path)[:-len(".csv")]
        text = "historical: measured at " + tex_escape(", ".join(historical_commits(path)))
        lines.append(f"\\expandafter\\def\\csname hist@{name}\\endcsname{{{text}}}")
    with open(os.path.join(outdir, "macros.tex"), "w") as f:
        f.write("\n".join(lines) + "\n")
    for fn, text in o.tables.items():
        with open(os.path.join(outdir, fn), "w") as f:
            f.write("% generated by experiments/paper/gen.py: do not edit\n" + text)
    with open(os.path.join(outdir, "sources.json"), "w") as f:
        json.dump({"macros": {k: {"value": v, "source": s} for k, (v, s) in o.macros.items()},
                   "switches": o.switches, "tables": sorted(o.tables), "provenance": o.prov},
                  f, indent=1, sort_keys=True)


def generate(outdir, draw_ladders=True, ladders=True):
    o = Out()
    src = {n: read_source(n) for n in SOURCES}
    gen_constants(o)
    gen_pktcost(o, src["pktcost"])
    gen_perf(o, src["pktab"], src["steps"])
    gen_dummy(o, src["dummy"], src["ceiling"], src["replayrate"])
    gen_e2e(o, src["e2e"])
    gen_realistic(o, src["realistic"], src["coherence"])
    gen_pipelines(o, src["pipelined"], src["autopipe"])
    gen_live(o, src["live"], src["lossrep"], src["ladderrun"])
    gen_campaign(o, src["campaign"])
    gen_replay(o, src["replay"])
    gen_coming(o, src["e2elat"], src["where"])
    gen_provenance(o)
    os.makedirs(outdir, exist_ok=True)
    if ladders:
        gen_ladders(o, outdir, draw_ladders)
        if draw_ladders:                 # the architecture figure (no data)
            import arch
            arch.draw(os.path.join(outdir, "fig-arch.pdf"))
    write(o, outdir)
    return o


# ---------------------------------------------------------------- --check
# capitalised control sequences that LaTeX or its packages define
LATEX_UPPER = {"LaTeX", "TeX", "Large", "LARGE", "Huge", "S", "P", "Alph", "Roman", "AtBeginDocument",
               "Needspace", "Description", "DeclareRobustCommand"}


def paper_tex():
    return sorted(os.path.join(PAPER, f) for f in os.listdir(PAPER) if f.endswith(".tex"))


def checks(outdir):
    """The paper against what the generator wrote: a list of (passed, what)."""
    res = []

    def ok(cond, what):
        res.append((bool(cond), what))
    try:
        o = generate(outdir)
        ok(True, f"generator: {len(o.macros)} macros, {len(o.tables)} tables from results/")
    except GenError as e:
        ok(False, f"generator: {e}")
        return res
    texs = paper_tex()
    text = "\n".join(re.sub(r"(?<!\\)%.*", "", open(p).read()) for p in texs)
    defined = set(o.macros) | set(LATEX_UPPER)
    for sw in o.switches:
        defined |= {f"if{sw}", f"{sw}true", f"{sw}false"}
    defined |= set(re.findall(r"\\(?:(?:re)?newcommand|DeclareRobustCommand)\*?\{?\\([A-Za-z]+)", text))
    defined |= set(re.findall(r"\\(?:newif)\\if([A-Za-z]+)", text))
    defined |= set(re.findall(r"\\def\\([A-Za-z]+)", text))
    defined |= set(re.findall(r"\\DeclareMathOperator\{?\\([A-Za-z]+)", text))
    used = set(re.findall(r"\\([A-Z][A-Za-z]*)", text))
    undefined = sorted(used - defined)
    ok(not undefined, "every capitalised macro the paper uses is generated or defined in paper/"
       + (f": undefined {', '.join(undefined)}" if undefined else ""))
    lads_names = {x["name"] for x in json.load(open(os.path.join(PAPER, "ladders.json")))}
    lref = set(re.findall(r"\\Ladder(?:Src)?\{([^}]+)\}", text)) - {"#1"}
    ok(lref and lref <= lads_names, f"every ladder the paper shows is in paper/ladders.json ({len(lref)})"
       + (f": unknown {', '.join(sorted(lref - lads_names))}" if lref - lads_names else ""))
    inputs = re.findall(r"\\input\{gen/([^}]+)\}", text)
    miss = [i for i in inputs if not os.path.exists(os.path.join(outdir, i if i.endswith(".tex") else i + ".tex"))]
    # tables of the coming results are input only under their \ifHave switch
    coming = {"tab-e2e-latency.tex": "HaveEeLatency", "tab-where.tex": "HaveWhere"}
    miss = [i for i in miss if not (coming.get(i if i.endswith(".tex") else i + ".tex")
                                    and not o.switches[coming[i if i.endswith('.tex') else i + '.tex']])]
    ok(inputs and not miss, f"every generated table the paper inputs exists ({len(inputs)})"
       + (f": missing {', '.join(miss)}" if miss else ""))
    graphics = [g for g in re.findall(r"\\includegraphics(?:\[[^]]*\])?\{([^}]+)\}", text)
                if "#" not in g]           # a macro's parameter: its uses are checked as ladders
    gmiss = []
    for g in graphics:
        cands = [os.path.join(TOP, g), os.path.join(outdir, os.path.basename(g)),
                 os.path.join(outdir, g.replace("gen/", "", 1))]
        if not any(os.path.exists(c) or os.path.exists(c + ".pdf") for c in cands):
            gmiss.append(g)
    ok(graphics and not gmiss, f"every figure the paper includes exists ({len(graphics)})"
       + (f": missing {', '.join(gmiss)}" if gmiss else ""))
    used_res = [g for g in graphics if g.startswith("results/")]
    stale = []
    for g in used_res:
        csvp = FIGURES.get(g)
        if csvp is None:
            stale.append(f"{g} (not in FIGURES: which CSV is it drawn from?)")
            continue
        tf, tc = git_time(g), git_time(csvp)
        if tf is not None and tc is not None and tf < tc:
            stale.append(f"{g} older than {csvp}")
    ok(not stale, "every figure from results/ is committed no earlier than its CSV"
       + (f": {'; '.join(stale)}" if stale else ""))
    labels = ["injected", "dropped"]
    lads = json.load(open(os.path.join(PAPER, "ladders.json")))
    ok(len(lads) >= 3 and all(os.path.exists(os.path.join(outdir, f"ladder-{x['name']}.pdf")) for x in lads),
       f"{len(lads)} ladder diagrams drawn")
    for x in lads:
        lj = json.load(open(os.path.join(outdir, f"ladder-{x['name']}.json")))
        marks = {k: sum(1 for a in lj["arrows"] if a.get(k)) for k in labels}
        ok(all(marks[k] >= 1 for k in x.get("must_mark", [])),
           f"ladder {x['name']}: marks {marks} (must mark {', '.join(x.get('must_mark', [])) or 'nothing'})")
    return res


def check(outdir):
    """TAP on stdout; exit status 1 if anything failed."""
    res = checks(outdir)
    for i, (good, what) in enumerate(res, 1):
        print(f"{'ok' if good else 'not ok'} {i} - {what}")
    print(f"1..{len(res)}")
    return 0 if all(g for g, _ in res) else 1


def git_time(path):
    try:
        out = subprocess.run(["git", "-C", TOP, "log", "-1", "--format=%ct", "--", path],
                             capture_output=True, text=True, timeout=20).stdout.strip()
        return int(out) if out else None
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(TOP, "build/paper/gen"))
    ap.add_argument("--no-ladders", action="store_true", help="compute the ladders, do not draw them")
    ap.add_argument("--check", action="store_true", help="TAP: the paper against the generated files")
    a = ap.parse_args()
    if a.check:
        return check(a.out)
    try:
        o = generate(a.out, not a.no_ladders)
    except GenError as e:
        print(f"gen: {e}", file=sys.stderr)
        return 1
    print(f"  GEN      {os.path.relpath(a.out, TOP)}: {len(o.macros)} macros, {len(o.tables)} tables")
    return 0


if __name__ == "__main__":
    sys.exit(main())
