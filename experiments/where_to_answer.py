#!/usr/bin/python3
"""where_to_answer.py - XDP alone, XDP + TC ingress, and post-stack, side by
side: one row per path in results/where-to-answer.csv, from the CSVs of one
run (make where runs them all, then this):

  cost        results/bench-pktcost.csv      XDP: a guarded 64 B GET hit
              results/bench-tc-reply.csv     TC: handoff + segments, VALUE B
              results/bench-poststack-cost.csv  post-stack: sk_skb verdict +
                                             sk_msg per request (bpf_stats)
  end to end  results/bench-where-summary.csv  req/s and server CPU per
                                             request at 50 clients, VALUE B and
                                             SMALL B (every path answers it),
                                             and the realistic workload's
                                             share of GETs answered
  faults      results/failures-where.csv     cells correct / wrong / stale /
                                             stalled, per path

Paths and the configuration names they run under: xdp (guarded, attached
with --no-tc-reply: guarded-notc in the failure matrix), xdp+tc (guarded,
attached as is: guarded-tc in e2e), poststack.

usage: where_to_answer.py [--value N] [--res DIR]
"""
import argparse
import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "pylib"))
from prestack_lib import csvio  # noqa: E402
from prestack_lib.provenance import COLUMNS  # noqa: E402

# path -> (e2e configuration, failure-matrix mode)
PATHS = [("xdp", "guarded", "guarded-notc"),
         ("xdp+tc", "guarded-tc", "guarded"),
         ("poststack", "poststack", "poststack")]


def rows(res, name):
    p = os.path.join(res, name)
    if not os.path.exists(p):
        sys.exit(f"where_to_answer: {p} missing (make where writes it)")
    return csvio.load(p)


def pick(rs, what, **kw):
    m = [r for r in rs if all(str(r.get(k)) == str(v) for k, v in kw.items())]
    if not m:
        sys.exit(f"where_to_answer: no row in {what} with {kw}")
    return m


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--value", type=int, default=1024,
                    help="value size (B) of the end-to-end comparison (default 1024: "
                         "too large for the XDP frame on veth)")
    ap.add_argument("--small", type=int, default=16,
                    help="a value size every path can answer (default 16: its reply is no "
                         "longer than the request, as post-stack needs)")
    ap.add_argument("--res", default=os.environ.get("PS_RESULTS") or os.path.join(TOP, "results"))
    a = ap.parse_args()

    pk = rows(a.res, "bench-pktcost.csv")
    tcr = rows(a.res, "bench-tc-reply.csv")
    post = rows(a.res, "bench-poststack-cost.csv")
    e2e = rows(a.res, "bench-where-summary.csv")
    fail = rows(a.res, "failures-where.csv")

    xdp_ns = float(pick(pk, "bench-pktcost.csv", mode="guarded", config="deployed",
                        path="get_hit", value_size=64)[0]["ns_median"])
    # the TC row closest to the comparison's value size
    tc = min(tcr, key=lambda r: abs(int(r["value_size"]) - a.value))
    tc_ns = float(tc["total_ns"])
    hit = [r for r in post if r.get("phase") == "hit"]
    post_ns = sum(float(r["ns_per_request"]) for r in hit
                  if r["prog"] in ("prog_post_verdict", "prog_post_msg"))
    cost = {"xdp": (xdp_ns, "guarded GET hit, 64 B, as deployed (BPF_PROG_TEST_RUN)"),
            "xdp+tc": (tc_ns, f"XDP handoff + TC segments, {tc['value_size']} B "
                              f"({tc['segments']} segment(s), BPF_PROG_TEST_RUN)"),
            "poststack": (post_ns, "sk_skb verdict + sk_msg per request (bpf_stats, live)")}

    out = []
    def point(cfg, size):
        g = [r for r in e2e if r["config"] == cfg and r["workload"] == "get"
             and str(r["value_size"]) == str(size) and str(r["clients"]) == "50"
             and str(r["pipeline"]) == "1" and r.get("pin", "none") == "none"]
        if not g:
            sys.exit(f"where_to_answer: no 50-client GET row for {cfg} at {size} B "
                     f"in bench-where-summary.csv")
        return g[0]

    for path, cfg, fmode in PATHS:
        g = point(cfg, a.value)
        sm = point(cfg, a.small)
        real = pick(e2e, "bench-where-summary.csv", config=cfg, workload="realistic")[0]
        cells = [r for r in fail if r["mode"] == fmode]
        if not cells:
            sys.exit(f"where_to_answer: no cell of mode {fmode} in failures-where.csv")
        oc = [r["outcome"] for r in cells]
        out.append({
            # the end-to-end run's provenance (the other inputs name theirs)
            **{k: g.get(k, "") for k in COLUMNS},
            "path": path, "config": cfg, "value_size": a.value,
            "ns_per_request": round(cost[path][0]), "ns_what": cost[path][1],
            "rps_50c": round(float(g["rps_median"])),
            "speedup_50c": g["speedup_vs_redis_median"],
            "p99_us_50c": round(float(g["p99_ms_median"]) * 1000, 1) if g["p99_ms_median"] else "",
            "server_cpu_us_per_req": g["server_cpu_us_per_req_median"],
            "answered_share": real["hit_share_median"],
            "hit_share_50c": g["hit_share_median"],
            "small_value_size": a.small,
            "rps_50c_small": round(float(sm["rps_median"])),
            "speedup_50c_small": sm["speedup_vs_redis_median"],
            "server_cpu_us_per_req_small": sm["server_cpu_us_per_req_median"],
            "hit_share_50c_small": sm["hit_share_median"],
            "realistic_wrong_stale_errors": real.get("wrong_stale_errors", ""),
            "cells": len(cells),
            "cells_correct": sum(o in ("correct", "recovered") for o in oc),
            "cells_wrong": sum(o.startswith("wrong") for o in oc),
            "cells_stale": sum(o == "stale" for o in oc),
            "cells_stall": sum(o == "stall" for o in oc),
            "fail_commit": cells[0].get("commit", ""),
        })
    dst = os.path.join(a.res, "where-to-answer.csv")
    csvio.save(dst, out)
    print(f"wrote {dst}")
    for r in out:
        print(f"  {r['path']:10s} {r['ns_per_request']:6d} ns  {r['rps_50c']:7d} req/s "
              f"(x{r['speedup_50c']})  cpu {r['server_cpu_us_per_req']} us/req  "
              f"answered {r['answered_share']}  cells {r['cells_correct']}/{r['cells']} ok, "
              f"{r['cells_wrong']} wrong, {r['cells_stale']} stale, {r['cells_stall']} stall")
    return 0


if __name__ == "__main__":
    sys.exit(main())
