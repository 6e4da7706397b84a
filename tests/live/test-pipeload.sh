#!/usr/bin/env bash
# build/pipeload (experiments/bench/pipeload.c) against the testbed's Redis
# over the veth, nothing attached: --prefill sets every key, a run at
# pipeline 16 completes with every GET answered with its key's value; bad
# arguments exit 2; and experiments/bench/pipelined.py --quick runs to the
# end and writes both CSVs (into a temporary directory: PS_RESULTS), with
# a row for every configuration (guarded-nocoh attached with
# --no-coherence) and point (rbench-get-p16 from redis-benchmark's --csv,
# every GET of a prefilled key); cutsoak.py runs one short soak and
# liveprof.py one short profile (guarded --cut: the BPF programs'
# samples and bpf_stats rows are there). Never asserts a speed.
. "$(dirname "$0")/lib.sh"
plan 12
LOAD="$TOP/build/pipeload"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; teardown' EXIT
trap 'exit 130' INT TERM
teardown
"$TB" up >/dev/null || { echo "Bail out! testbed up failed"; exit 1; }
load() { cli "$LOAD" --host "$IP_SRV" --port "$PORT" "$@"; }
field() { jq -r ".$2" "$1"; } # file key

# (a) prefill, then 2 s at pipeline 16 over 10 connections, GET:SET 10:1
load --prefill --keys 2000 -d 100 -c 4 -t 1 -P 32 >"$tmp/pre.json" 2>"$tmp/pre.err"
r=$?
[ $r -eq 0 ] || sed 's/^/#   /' "$tmp/pre.err"
is "$r $(field "$tmp/pre.json" sets) $(field "$tmp/pre.json" errors) $(srv_redis dbsize)" \
	"0 2000 0 2000" "--prefill: every key SET once, over the veth"
load -P 16 -c 10 -t 2 --keys 2000 -d 100 --ratio 10:1 --dist zipf --seconds 2 \
	>"$tmp/run.json" 2>"$tmp/run.err"
r=$?
[ $r -eq 0 ] || sed 's/^/#   /' "$tmp/run.err"
sed 's/^/#   /' "$tmp/run.json"
ok $r "a run at pipeline 16 exits 0"
ok "$(jq -e '.ops > 0 and .gets > 0 and .sets > 0 and .pipeline == 16' "$tmp/run.json" >/dev/null; echo $?)" \
	"it reports ops > 0, with GETs and SETs"
is "$(field "$tmp/run.json" errors) $(field "$tmp/run.json" get_wrong)" "0 0" \
	"no errors, no wrong value"
is "$(field "$tmp/run.json" get_hits_nonnull)" "$(field "$tmp/run.json" gets)" \
	"every key prefilled: every GET returned a value (get_hits_nonnull = gets)"
# the same key space moved past the prefill: every GET a miss
load -P 16 -c 4 -t 1 --keys 2000 --key-offset 50000000 --ratio 1:0 -n 5000 >"$tmp/miss.json" 2>&1
is "$? $(field "$tmp/miss.json" gets) $(field "$tmp/miss.json" get_nulls) $(field "$tmp/miss.json" get_hits_nonnull)" \
	"0 5000 5000 0" "-n 5000 on keys never set: 5000 GETs, every one nil"

# (b) bad arguments: exit 2, one line naming the problem
bad=0
for args in "--pipeline 0" "--ratio 10" "--dist pareto" "--conns" "--seconds 1 --requests 5" \
	"--bogus" "--threads 3 --conns 2" "--host 198.18.0.x" "--prefill --ratio 1:1" "extra"; do
	# shellcheck disable=SC2086
	"$LOAD" $args >/dev/null 2>"$tmp/bad.err"
	r=$?
	if [ $r -ne 2 ] || ! grep -q '^pipeload: ' "$tmp/bad.err"; then
		echo "#   pipeload $args: exit $r: $(head -1 "$tmp/bad.err")"
		bad=1
	fi
done
"$LOAD" --help >"$tmp/help" && grep -q '^usage: pipeload' "$tmp/help" || bad=1
ok $bad "bad arguments exit 2 with a 'pipeload:' message; --help prints the usage"
teardown

# (c) the benchmark, quick, into a temporary results directory
PS_RESULTS=$tmp/res timeout 600 "$PY" "$TOP/experiments/bench/pipelined.py" --quick >"$tmp/bench.log" 2>&1
r=$?
tail -20 "$tmp/bench.log" | sed 's/^/#   /'
ok $r "pipelined.py --quick runs to completion"
ok "$("$PY" - "$tmp/res/bench-pipelined.csv" "$tmp/res/bench-pipelined-summary.csv" <<'PY' >"$tmp/check" 2>&1; echo $?
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
summ = list(csv.DictReader(open(sys.argv[2])))
want = {(c, p) for c in ("redis", "off", "guarded", "guarded-nocoh", "retrans")
        for p in ("mix-p1", "mix-p16", "get-p16", "miss-p16", "rbench-get-p16")}
assert {(r["config"], r["point"]) for r in rows} == want, "a row per configuration and point"
assert list(rows[0])[:5] == ["date", "machine", "kernel", "cpu", "commit"], "provenance first"
for r in rows:
    rb = r["point"] == "rbench-get-p16"
    assert not r["error"] and int(r["errors"]) == 0, r
    # redis-benchmark reads no value: no wrong count, every GET found by Redis
    assert r["get_wrong"] == ("" if rb else "0"), r
    assert r["generator"] == ("redis-benchmark" if rb else "pipeload"), r
    if rb:
        assert int(r["get_nulls"]) == 0 and int(r["gets"]) >= int(r["ops"]) > 0, r
        assert int(r["gets"]) == int(r["gets_at_redis"]) + int(r["get_hits"] or 0), r
    assert float(r["ops_per_s"]) > 0 and int(r["ops"]) > 0
    # CPU: the terms of the busy time, none negative (tick rounding aside)
    assert float(r["other_cpu_s"]) >= -0.1 and float(r["idle_irq_s"]) >= -0.1, r
    assert r["attach_args"] == {"redis": "", "guarded-nocoh": "--mode guarded --no-coherence"}.get(
        r["config"], "--mode " + r["config"]), r
    if r["config"] != "redis":
        share = float(r["answered_share"])
        assert 0 <= share <= 1 and r["get_hits"] != "" and r["get_misses"] != "", r
assert {(s["config"], s["point"]) for s in summ} == want
for s in summ:
    float(s["vs_redis_median"]), float(s["ops_per_s_median"])
PY
)" "bench-pipelined{,-summary}.csv: every configuration and point (redis-benchmark's too), errors 0, shares in [0, 1]"
sed 's/^/#   /' "$tmp/check"

# (d) cutsoak.py and liveprof.py, short, on the same shared driver
timeout 300 "$PY" "$TOP/experiments/bench/cutsoak.py" --runs 1 --seconds 2 >"$tmp/soak.log" 2>&1
r=$?
tail -3 "$tmp/soak.log" | sed 's/^/#   /'
ok "$([ $r -eq 0 ] && grep -q '"get_wrong": 0' "$tmp/soak.log" && grep -q '"cut_gets": [1-9]' "$tmp/soak.log"; echo $?)" \
	"cutsoak.py --runs 1: exit 0, no wrong value, GETs cut"
PS_RESULTS=$tmp/res timeout 300 "$PY" "$TOP/experiments/bench/liveprof.py" --attach "--mode guarded --cut" \
	--seconds 4 --profile-seconds 1 --freq 500 >"$tmp/prof.log" 2>&1
r=$?
tail -8 "$tmp/prof.log" | sed 's/^/#   /'
ok $r "liveprof.py runs to completion"
ok "$("$PY" - "$tmp/res/liveprof.csv" <<'PY' >"$tmp/check" 2>&1; echo $?
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
kinds = {r["kind"] for r in rows}
assert kinds == {"task", "bpf", "bpf_prog", "load"}, kinds
assert list(rows[0])[:5] == ["date", "machine", "kernel", "cpu", "commit"], "provenance first"
xdp = [r for r in rows if r["kind"] == "bpf_prog" and r["prog"] == "ps_xdp"]
assert len(xdp) == 1 and int(xdp[0]["runs"]) > 0 and float(xdp[0]["ns_per_run"]) > 0, xdp
assert any(r["kind"] == "bpf" and r["prog"] == "ps_xdp" for r in rows), "samples inside ps_xdp"
n = int(rows[0]["samples"])
assert abs(sum(int(r["count"]) for r in rows if r["kind"] == "task")
           + sum(int(r["count"]) for r in rows if r["kind"] == "bpf") - n) <= n, "counts within the samples"
load = [r for r in rows if r["kind"] == "load"][0]
assert int(load["get_wrong"]) == 0 and float(load["answered_share"]) > 0, load
PY
)" "liveprof.csv: task, bpf, bpf_prog (ps_xdp runs, ns per run) and load rows, provenance first"
sed 's/^/#   /' "$tmp/check"
finish
