#!/usr/bin/env bash
# (c) redis-benchmark -t get,set -c 50 -n 100000 against guarded mode:
# finishes, reports no error, and GETs are answered at XDP.
. "$(dirname "$0")/lib.sh"
plan 3
setup guarded
# without -r redis-benchmark uses the literal key "key:__rand_int__"
srv_redis set key:__rand_int__ xxx >/dev/null
"$PS" cache warm --redis "$REDIS_LO" "${TGT[@]}" >/dev/null
h0=$(stat get_hits)
raw=$(mktemp)
cli timeout 300 redis-benchmark -h "$IP_SRV" -p "$PORT" -t get,set -c 50 -n 100000 -q >"$raw" 2>&1
r=$?
out=$(tr '\r' '\n' <"$raw" | grep -v 'rps=' | grep '[^[:space:]]')
rm -f "$raw"
echo "$out" | sed 's/^/#   /'
ok $r "redis-benchmark exits 0"
ok $(echo "$out" | grep -qiE 'error|err ' ; [ $? -ne 0 ]; echo $?) "no error in its output"
h=$(( $(stat get_hits) - h0 ))
ok $([ "$h" -gt 0 ]; echo $?) "GETs answered at XDP ($h)"
finish
