#!/usr/bin/env bash
# tests/run.sh [unit|live|all] - what `make test` runs.
# Passes every test's TAP through, counts ok / not ok across all of them and
# ends with one line "N passed, N failed". Exit status 1 if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

what=${1:-all}
case "$what" in unit|live|all) ;; *) echo "usage: $0 [unit|live|all]" >&2; exit 2 ;; esac
if [ "$(id -u)" -ne 0 ]; then
	echo "tests need root (BPF, namespaces): sudo make test" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

pass=0 fail=0
run_one() { # name, command...
	local name=$1 out rc p f
	shift
	echo "# === $name"
	out=$(mktemp)
	"$@" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	p=$(grep -cE '^ok [0-9]+' "$out")
	f=$(grep -cE '^not ok [0-9]+' "$out")
	if [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && [ "$rc" -ne 0 ]; then
		echo "not ok - $name exited $rc without a result"
		f=1
	elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - $name exited $rc"
		f=1
	fi
	pass=$((pass + p))
	fail=$((fail + f))
	rm -f "$out"
}

if [ "$what" != live ]; then
	run_one unit ./build/test_prog
	run_one replay-offline /usr/bin/python3 tests/replay_check.py
	run_one rbench-parse /usr/bin/python3 tests/rbench_check.py
	run_one campaign-judges /usr/bin/python3 tests/campaign_check.py
	run_one fuzz-smoke ./tests/fuzz/run.sh "${PS_FUZZ_SMOKE:-30}"
	run_one install ./tests/install-check.sh
	run_one paper /usr/bin/python3 tests/paper_check.py
	run_one paper-freshness-logic /usr/bin/python3 tests/freshness_check.py
	run_one csv /usr/bin/python3 tests/csv_check.py
	run_one median-ci /usr/bin/python3 tests/medci_check.py
	run_one cpu-split /usr/bin/python3 tests/cpuacct_check.py
	run_one readme ./tests/readme_check.sh
fi
if [ "$what" != unit ]; then
	for t in tests/live/test-*.sh; do
		[ -x "$t" ] || continue
		run_one "$(basename "$t" .sh)" timeout 900 "$t"
	done
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
