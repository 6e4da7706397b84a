#!/usr/bin/env bash
# Every benchmark script runs and writes well-formed CSV (bench-quick into
# a temporary results dir). Never asserts a speed.
. "$(dirname "$0")/lib.sh"
plan 13
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
ok $($PY - "$tmp/bench-pktcost.csv" <<'PY' >/dev/null 2>&1; echo $?
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
hit = [r for r in rows if (r["mode"], r["config"], r["path"]) == ("guarded", "deployed", "get_hit")]
assert hit and all(r["verdict"] == "tx" for r in hit), hit
assert {(r["mode"], r["config"]) for r in rows} >= {("guarded", "fill-only"), ("retrans", "deployed")}
PY
) "bench-pktcost.csv: the deployed guarded hit answered (tx), the fill-only ablation beside it"
ok $(check_csv "$tmp/bench-e2e.csv" 4 rps p99_ms server_cpu_us_per_req >/dev/null 2>&1; echo $?) \
	"bench-e2e.csv: a row per configuration, numeric"
ok $(check_csv "$tmp/bench-dummy.csv" 10 ns_median added_ns mpps_per_core >/dev/null 2>&1; echo $?) \
	"bench-dummy.csv: the curve and the guards, numeric"
ok $(check_csv "$tmp/bench-ceiling.csv" 2 frames_per_s ratio_to_reflector >/dev/null 2>&1; echo $?) \
	"bench-ceiling.csv: reflector and hit path, numeric"
ok $(check_csv "$tmp/bench-e2e.csv" 5 rps p50_ms p99_ms p999_ms client_cpu_s redis_cpu_s softirq_s \
	bpf_srv_xdp_ns >/dev/null 2>&1; echo $?) "bench-e2e.csv: latency percentiles and CPU by counter, numeric"
ok $($PY - "$tmp/bench-e2e.csv" <<'PY' >"$tmp/cpucheck" 2>&1; r=$?; sed 's/^/#   /' "$tmp/cpucheck" >&2; echo $r
import csv, sys
# the CPU split adds up to the busy time and no term is negative beyond
# the counters' own rounding (/proc/PID/stat counts in 10 ms units, per
# process and field: the all-task sum can be off by a few tens of ms)
for r in csv.DictReader(open(sys.argv[1])):
    parts = [float(r[c]) for c in ("redis_cpu_s", "watcher_cpu_s", "client_cpu_s",
                                   "other_cpu_s", "idle_irq_s")]
    assert all(x >= -0.1 for x in parts), r
    assert abs(sum(parts) - float(r["busy_cpu_s"])) <= 0.01, r
    assert float(r["busy_cpu_s"]) <= float(r["seconds"]) * int(r["ncpu"]) + 0.05, r
PY
) "bench-e2e.csv: the CPU split adds up to the busy time, no term negative"
ok $(check_csv "$tmp/bench-e2e-latency-cdf.csv" 25 latency_ms count cum_share >/dev/null 2>&1 &&
	check_csv "$tmp/bench-e2e-latency.csv" 5 p50_us p99_us p999_us >/dev/null 2>&1; echo $?) \
	"bench-e2e-latency{-cdf,}.csv: a distribution per run, percentiles per point"
ok $($PY - "$tmp/bench-e2e-summary.csv" <<'PY' >/dev/null 2>&1; echo $?
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
wl = {(r["workload"], r["config"]) for r in rows}
assert {("get", "redis"), ("get", "guarded"), ("realistic", "redis"), ("realistic", "guarded")} <= wl, wl
for r in rows:
    if r["workload"] == "get" and r["config"] != "redis":
        float(r["speedup_vs_redis_median"])
PY
) "bench-e2e-summary.csv: ratios to Redis alone, the realistic workload beside them"
ok $([ -s "$tmp/bench-e2e-throughput.png" ] && [ -s "$tmp/bench-e2e-latency-cdf.pdf" ] &&
	[ -s "$tmp/bench-e2e-cpu.png" ] && [ -s "$tmp/bench-pktcost.pdf" ]; echo $?) \
	"plots drawn from the CSVs"
# the deployed XDP program against an empty one (xdpfloor.py), short
PS_RESULTS=$tmp timeout 300 "$PY" "$TOP/experiments/bench/xdpfloor.py" --reps 1 --requests 5000 \
	--clients 10 >"$tmp/floor.log" 2>&1
r=$?
tail -4 "$tmp/floor.log" | sed 's/^/#   /'
ok $r "xdpfloor.py runs to completion"
ok $($PY - "$tmp/bench-xdpfloor.csv" "$tmp/bench-xdpfloor-summary.csv" <<'PY' >"$tmp/floorcheck" 2>&1; r=$?; sed 's/^/#   /' "$tmp/floorcheck" >&2; echo $r
import csv, sys
rows = {r["config"]: r for r in csv.DictReader(open(sys.argv[1]))}
assert set(rows) == {"floor", "guarded"}, rows
assert list(next(iter(rows.values())))[:5] == ["date", "machine", "kernel", "cpu", "commit"]
assert rows["floor"]["prog"] == "xdp_pass" and rows["guarded"]["prog"] == "ps_xdp", rows
for r in rows.values():
    # every GET's segment went through the program (ACKs may add more)
    assert int(r["runs"]) >= int(r["requests"]) and float(r["ns_per_packet"]) > 0, r
assert float(rows["guarded"]["answered_share"]) > 0.9, "warmed: the GETs are hits"
summ = {r["config"]: r for r in csv.DictReader(open(sys.argv[2]))}
assert float(summ["floor"]["vs_floor_median"]) == 1.0 and float(summ["guarded"]["vs_floor_median"]) > 0
PY
) "bench-xdpfloor{,-summary}.csv: the floor (xdp_pass) and ps_xdp per packet, every GET a hit"
finish
