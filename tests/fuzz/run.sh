#!/usr/bin/env bash
# tests/fuzz/run.sh [SECONDS] - fuzz the XDP program's parsers (built as
# user-space C, see fuzz_parsers.c) for SECONDS (default 300), TAP output.
# The corpus grows in build/fuzz/corpus (seeded from tests/fuzz/seeds);
# a finding is saved as build/fuzz/crash-* and reported as not ok.
set -uo pipefail
cd "$(dirname "$0")/../.."

secs=${1:-300}
case "$secs" in ''|*[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;; esac
bin=build/fuzz/fuzz_parsers
corpus=build/fuzz/corpus
if [ ! -x "$bin" ]; then
	echo "not ok 1 - $bin missing (make $bin)"
	exit 1
fi
mkdir -p "$corpus"
log=$(mktemp)
tmpd=$(mktemp -d)
trap 'rm -rf "$log" "$tmpd"' EXIT
n=0 bad=0
t() { # ok?, description
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; bad=1; fi
}

echo "1..3"
# the oracle is live: a deliberately wrong reference must be caught at once
PS_FUZZ_SABOTAGE=1 "$bin" -runs=0 -artifact_prefix="$tmpd/" tests/fuzz/seeds >"$log" 2>&1
grep -q '^fuzz: requests: GET 0 key at' "$log"
t $? "a wrong reference parser is caught on the seeds (the checks can fail)"

"$bin" -runs=0 -artifact_prefix="$tmpd/" tests/fuzz/seeds >"$log" 2>&1
t $? "seeds (incl. past findings) pass"

"$bin" -max_total_time="$secs" -max_len=3000 -timeout=10 -print_final_stats=1 \
	-artifact_prefix=build/fuzz/ "$corpus" tests/fuzz/seeds >"$log" 2>&1
rc=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
if [ $rc -ne 0 ]; then
	grep -E '^fuzz:|SUMMARY|runtime error|^artifact' "$log" | head -5 | sed 's/^/# /'
fi
t $rc "fuzzed ${runs:-0} inputs in ${secs}s (requests vs reference, split, fast path; replies; every hook's window walks; frames + options under ASan/UBSan)"
exit $bad
