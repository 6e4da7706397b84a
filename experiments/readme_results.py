#!/usr/bin/python3
"""readme_results.py - the README's headline table, generated from the CSVs
in results/ (never typed): it rewrites what lies between the lines
"<!-- results:begin -->" and "<!-- results:end -->" of README.md.

  --check   change nothing; exit 1 if the README's table is not what the
            committed CSVs give (make test runs this: a number that drifted
            from its CSV fails)

Sources: bench-pktcost.csv (per packet, the deployed configuration and
the fill-only ablation), bench-pktcost-ab.csv (before/after the hit-path
rework), bench-e2e-summary.csv (redis-benchmark, 64 B GETs of a cached key),
where-to-answer.csv (the three paths), bench-e2e-summary.csv's realistic
rows. A missing file leaves its lines out, and says so.

usage: readme_results.py [--check] [--readme PATH] [--res DIR]
"""
import argparse
import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "pylib"))
from prestack_lib import csvio  # noqa: E402
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def load(res, name):
    p = os.path.join(res, name)
    return csvio.load(p) if os.path.exists(p) else None


def f1(x):
    return f"{float(x):.1f}"


PER_PACKET = [("guarded GET hit, 64 B", "guarded", "get_hit", "64", "reflect", "3x"),
              ("guarded GET miss", "guarded", "get_miss", "0", "reflect", "2x"),
              ("guarded SET", "guarded", "set", "0", "reflect", "2x"),
              ("TC translation of a server segment", "guarded", "tc_translate", "0", "tc_floor", "2x"),
              ("retrans GET hit, 64 B", "retrans", "get_hit", "64", "reflect", "4x")]


def per_packet(res, out):
    pk = load(res, "bench-pktcost.csv")
    if not pk or "config" not in pk[0]:
        out.append("- per packet: `results/bench-pktcost.csv` missing or of an older format "
                   "(`sudo make bench`)")
        return
    v = {(r["mode"], r["config"], r["path"], r["value_size"]): float(r["ns_median"]) for r in pk}
    r0 = pk[0]
    out.append(f"Per packet (`build/pktcost`: BPF_PROG_TEST_RUN, median of {r0['runs']} runs, ns, "
               f"{r0['commit']}, kernel {r0['kernel']}, {r0['date'][:10]}). *deployed*: as "
               f"`prestack attach` deploys it (its default flags, a live lease, a real socket for "
               f"the flow); *fill-only*: the ablation (fills only, no socket check, no lease), "
               f"what these rows measured before:")
    out.append("")
    out.append("| path | deployed | / floor | fill-only | / floor | target |")
    out.append("|---|---:|---:|---:|---:|---:|")
    for lab, m, p, s, fl, tgt in PER_PACKET:
        d = v.get((m, "deployed", p, s))
        if d is None:
            continue
        f = v.get((m, "fill-only", p, s))
        floor = v[("reflector", "floor", fl, "0")]
        fcells = f"{int(f)} | {f / floor:.1f}x" if f else "- | -"
        out.append(f"| {lab} | {int(d)} | {d / floor:.1f}x | {fcells} | {tgt} |")
    out.append("")
    out.append(f"(floors: XDP reflector {int(v[('reflector', 'floor', 'reflect', '0')])} ns, "
               f"TC header walk {int(v[('reflector', 'floor', 'tc_floor', '0')])} ns, same run; "
               f"where the rest goes: `results/bench-pktcost-steps.csv`, `docs/architecture.md`)")
    ab = load(res, "bench-pktcost-ab.csv")
    if not ab:
        return
    a = {(r["version"], r["mode"], r["path"], r["value_size"]): float(r["ns_median"]) for r in ab}
    parts = []
    for lab, m, p, s, _, _ in PER_PACKET:
        b, n = a.get(("before", m, p, s)), a.get(("after", m, p, s))
        if b and n:
            parts.append(f"{lab.split(',')[0].replace('guarded ', '')} {int(b)} -> {int(n)}")
    out.append("")
    out.append(f"The hit-path rework, fill-only (`make pktcost-ab`, before = {ab[0]['before_commit']}, "
               f"after = {ab[0]['commit']}, kernel {ab[0]['kernel']}, {ab[0]['date'][:10]}): " + "; ".join(parts) + " ns.")


def end_to_end(res, out):
    s = load(res, "bench-e2e-summary.csv")
    if not s or "pin" not in s[0]:
        out.append("- end to end: `results/bench-e2e-summary.csv` missing or of an older format")
        return
    g = [r for r in s if r["workload"] == "get" and r["value_size"] == "64" and r["pin"] == "none"
         and r["pipeline"] == "1" and r["config"] in ("redis", "guarded", "retrans")]
    if not g:
        return
    r0 = g[0]
    out.append("")
    out.append(f"End to end (`e2e.py`: redis-benchmark GET of a cached 64 B key, --threads "
               f"{r0['threads']}, median of {r0['reps']} interleaved repetitions, {r0['commit']}, "
               f"{r0['date'][:10]}; ratios to Redis alone in the same repetition):")
    out.append("")
    out.append("| clients | config | req/s | x Redis | p99 (ms) | p99 / Redis | server CPU per GET (us, upper bound) |")
    out.append("|---:|---|---:|---:|---:|---:|---:|")
    for c in sorted({int(r["clients"]) for r in g}):
        for cfg in ("redis", "guarded", "retrans"):
            m = [r for r in g if int(r["clients"]) == c and r["config"] == cfg]
            if not m:
                continue
            r = m[0]
            out.append(f"| {c} | {cfg} | {int(float(r['rps_median']))} | "
                       f"{float(r['speedup_vs_redis_median']):.2f} | {float(r['p99_ms_median']):.3f} | "
                       f"{float(r['p99_vs_redis_median']):.2f} | "
                       f"{f1(r['server_cpu_us_per_req_median'])} |")
    real = [r for r in s if r["workload"] == "realistic" and r["config"] != "redis"]
    if real:
        out.append("")
        out.append("Realistic workload (Zipf keys, mixed sizes, TTLs, pipelines, other-path writes): "
                   + "; ".join(f"{r['config']} answered {100 * float(r['hit_share_median']):.0f}% of all "
                               f"GETs, {r['wrong_stale_errors']} wrong/stale/errors" for r in real) + ".")


def where(res, out):
    w = load(res, "where-to-answer.csv")
    if not w:
        out.append("")
        out.append("- where to answer: `results/where-to-answer.csv` missing (`sudo make where`)")
        return
    r0 = w[0]
    out.append("")
    out.append(f"Where to answer (`make where`, {r0['value_size']} B values end to end, "
               f"{r0['commit']}, {r0['date'][:10]}):")
    out.append("")
    out.append("| path | BPF ns per request | req/s, 50 clients | x Redis | server CPU/GET (us) | "
               "realistic GETs answered | fault cells ok / wrong / stale / stall |")
    out.append("|---|---:|---:|---:|---:|---:|---|")
    for r in w:
        out.append(f"| {r['path']} | {r['ns_per_request']} | {r['rps_50c']} | "
                   f"{float(r['speedup_50c']):.2f} | {f1(r['server_cpu_us_per_req'])} | "
                   f"{100 * float(r['answered_share']):.0f}% | {r['cells_correct']}/{r['cells']} / "
                   f"{r['cells_wrong']} / {r['cells_stale']} / {r['cells_stall']} |")


def render(res):
    out = []
    per_packet(res, out)
    end_to_end(res, out)
    where(res, out)
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--readme", default=os.path.join(TOP, "README.md"))
    ap.add_argument("--res", default=os.path.join(TOP, "results"))
    a = ap.parse_args()
    text = open(a.readme).read()
    if BEGIN not in text or END not in text:
        print(f"readme_results: {a.readme} has no {BEGIN} ... {END} block", file=sys.stderr)
        return 2
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = head + BEGIN + "\n" + render(a.res) + END + tail
    if a.check:
        if new != text:
            print("readme_results: README's results table differs from results/ "
                  "(run experiments/readme_results.py)", file=sys.stderr)
            return 1
        print("readme_results: README's results table matches results/")
        return 0
    if new != text:
        open(a.readme, "w").write(new)
        print(f"readme_results: rewrote the results table in {a.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
