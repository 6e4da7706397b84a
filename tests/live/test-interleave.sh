#!/usr/bin/env bash
# (b) One connection: hundreds of XDP-answered GETs interleaved with SET,
# INCR, DEL, PING and missed GETs answered by Redis; every reply checked.
. "$(dirname "$0")/lib.sh"
plan 4
for mode in naive guarded; do
	setup $mode
	for i in $(seq 0 19); do echo "SET key$i value-$i"; done | srv_redis >/dev/null
	"$PS" cache warm --redis "$REDIS_LO" "${TGT[@]}" >/dev/null
	h0=$(stat get_hits)
	out=$(cli $PY "$TOP/tests/live/interleave.py" "$IP_SRV" "$PORT" 2>&1)
	r=$?
	echo "$out" | sed 's/^/#   /'
	ok $r "$mode: interleaved commands on one connection all correct, connection healthy"
	h=$(( $(stat get_hits) - h0 ))
	ok $([ "$h" -ge 100 ]; echo $?) "$mode: at least 100 of them answered at XDP ($h)"
	teardown
done
finish
