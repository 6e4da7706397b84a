#!/usr/bin/env bash
# Every benchmark script runs and writes well-formed CSV (bench-quick into
# a temporary results dir). Never asserts a speed.
. "$(dirname "$0")/lib.sh"
plan 6
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; teardown' EXIT
PS_RESULTS=$tmp timeout 600 "$TOP/experiments/bench/run.sh" --quick >"$tmp/log" 2>&1
r=$?
tail -3 "$tmp/log" | sed 's/^/#   /'
ok $r "bench-quick runs"
check_csv() { # file min_rows numeric_columns...
	$PY - "$@" <<'PY'
import csv, sys
f, n, cols = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
rows = list(csv.DictReader(open(f)))
assert len(rows) >= n, f"{len(rows)} rows"
for r in rows:
    for c in cols:
        float(r[c])
PY
}
ok $(check_csv "$tmp/bench-pktcost.csv" 30 ns_median ns_p10 ns_p90 runs >/dev/null 2>&1; echo $?) \
	"bench-pktcost.csv: every path and mode, numeric"
ok $(check_csv "$tmp/bench-e2e.csv" 4 rps p99_ms server_cpu_us_per_req >/dev/null 2>&1; echo $?) \
	"bench-e2e.csv: a row per configuration, numeric"
ok $(check_csv "$tmp/bench-dummy.csv" 10 ns_median added_ns mpps_per_core >/dev/null 2>&1; echo $?) \
	"bench-dummy.csv: the curve and the guards, numeric"
ok $(check_csv "$tmp/bench-ceiling.csv" 2 frames_per_s ratio_to_reflector >/dev/null 2>&1; echo $?) \
	"bench-ceiling.csv: reflector and hit path, numeric"
ok $([ -s "$tmp/bench-e2e-throughput.png" ] && [ -s "$tmp/bench-pktcost.pdf" ]; echo $?) \
	"plots drawn from the CSVs"
finish
