#!/usr/bin/env bash
# experiments/where.sh [--quick] - where to answer: XDP alone, XDP + TC
# ingress, and post-stack, measured in one run on the same work, then
# experiments/where_to_answer.py puts one row per path in
# results/where-to-answer.csv. Each piece writes its own CSV into results/
# (or $PS_RESULTS):
#   bench-pktcost.csv, bench-tc-reply.csv   per-packet cost (BPF_PROG_TEST_RUN)
#   bench-poststack-cost.csv                post-stack programs (bpf_stats, live)
#   bench-where*.csv                        redis-benchmark at 50 clients, 16 B
#                                           (a reply no longer than its request:
#                                           every path can answer it) and 1024 B,
#                                           and the realistic workload
#   failures-where.csv                      the live failure matrix per path
# --quick: one repetition, fewer operations (a smoke run, not a result).
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
RES=${PS_RESULTS:-$TOP/results}
quick=0
case "${1:-}" in
--quick) quick=1 ;;
"") ;;
-h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
*) echo "usage: $0 [--quick]" >&2; exit 2 ;;
esac
[ "$(id -u)" -eq 0 ] || { echo "where: run as root" >&2; exit 1; }
[ -x "$TOP/build/prestack" ] || { echo "where: build first (make)" >&2; exit 1; }
mkdir -p "$RES"
export PS_RESULTS=$RES
runs=20000 reps=3 ops=6000 fq=
if [ $quick = 1 ]; then runs=2000 reps=1 ops=1500 fq=--quick; fi

# provenance columns first, the file replaced only if pktcost succeeded
csv_save() { PYTHONPATH="$TOP/pylib" /usr/bin/python3 -m prestack_lib.csvio save "$@"; }
csv_save "$RES/bench-pktcost.csv" -- "$TOP/build/pktcost" "$runs"
csv_save "$RES/bench-tc-reply.csv" -- "$TOP/build/pktcost" "$runs" --tc-reply

/usr/bin/python3 "$TOP/experiments/bench/poststack_cost.py" --out "$RES/bench-poststack-cost.csv"
/usr/bin/python3 "$TOP/experiments/bench/e2e.py" --configs redis,guarded,guarded-tc,poststack \
	--sizes 1024,16 --clients 50 --pipelines 1 --reps "$reps" --realistic-ops "$ops" \
	--steer-clients '' --workloads get --out bench-where
/usr/bin/python3 "$TOP/experiments/failures/run.py" $fq --modes guarded-notc,guarded,poststack \
	--out "$RES/failures-where.csv"
/usr/bin/python3 "$TOP/experiments/where_to_answer.py" --value 1024
