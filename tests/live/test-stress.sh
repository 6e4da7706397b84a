#!/usr/bin/env bash
# Parallel stress on 3 hot keys (issue class 11): 4 processes pinned over
# both CPUs x 4 connections, 30% SET / 70% GET through the attached
# interface for 15 s per mode, guarded then retrans, without the coherence
# watcher (it would invalidate a stale entry behind the race and hide it).
# tests/live/stress.py checks every GET against every SET's reply time:
# none may return a value older than a SET already replied to. Mode off
# first (Redis answers everything): the checker must find nothing there.
. "$(dirname "$0")/lib.sh"
plan 7
SECS=${PS_STRESS_SECONDS:-15}
for mode in off guarded retrans; do
	teardown
	"$TB" up >/dev/null || { echo "Bail out! testbed up failed"; exit 1; }
	trap teardown EXIT
	trap 'exit 130' INT TERM
	"$PS" attach "${TGT[@]}" --mode "$mode" --no-coherence >/dev/null ||
		{ echo "Bail out! attach failed"; exit 1; }
	f0=$(stat fills); h0=$(stat get_hits); i0=$(stat invalidations)
	out=$(cli timeout $((SECS + 40)) $PY "$TOP/tests/live/stress.py" --host "$IP_SRV" \
		--port "$PORT" --procs 4 --conns 4 --keys 3 --seconds "$SECS" 2>&1); r=$?
	echo "$out" | sed 's/^/#   /'
	ok $r "$mode: no GET returns a value older than a SET already replied to"
	[ "$mode" = off ] && continue
	f=$(( $(stat fills) - f0 )); h=$(( $(stat get_hits) - h0 )); i=$(( $(stat invalidations) - i0 ))
	echo "#   fills $f, answered at XDP $h, invalidations $i"
	ok $([ "$f" -gt 100 ] && [ "$i" -gt 100 ]; echo $?) "$mode: fills and invalidations raced ($f, $i)"
	ok $([ "$h" -gt 100 ]; echo $?) "$mode: hot GETs answered at XDP ($h)"
done
finish
