#!/usr/bin/env bash
# (d) 8 connections, 50 keys, 100000 mixed GET/SET/DEL in guarded mode, one
# at a time in a random interleaving so the model is exact: zero wrong
# values, zero stale reads, zero errors, and hits at XDP. Then the same with
# 30% of the writes over loopback inside the server namespace (the side
# path's), in guarded and in retrans.
. "$(dirname "$0")/lib.sh"
plan 6
setup guarded
h0=$(stat get_hits)
out=$(cli timeout 600 $PY "$TOP/tests/live/checker.py" --host "$IP_SRV" --port "$PORT" --ops 100000 --conns 8 --keys 50 2>&1)
r=$?
echo "$out" | sed 's/^/#   /'
ok $r "checker: every reply matches the model"
h=$(( $(stat get_hits) - h0 ))
ok $([ "$h" -gt 0 ]; echo $?) "GETs answered at XDP during the run ($h)"
"$PS" stats "${TGT[@]}" --json | sed 's/^/#   /'
for mode in guarded retrans; do
	"$PS" mode "$mode" "${TGT[@]}" --force >/dev/null
	h0=$(stat get_hits)
	out=$(cli timeout 600 $PY "$TOP/tests/live/checker.py" --host "$IP_SRV" --port "$PORT" \
		--ops 100000 --conns 8 --keys 50 --seed 2 --side "$REDIS_LO" --side-netns "$NS_SRV" 2>&1)
	r=$?
	echo "$out" | sed 's/^/#   /'
	ok $r "$mode, writes over loopback too: every reply matches the model"
	h=$(( $(stat get_hits) - h0 ))
	ok $([ "$h" -gt 0 ]; echo $?) "$mode: GETs answered at XDP during the run ($h)"
done
finish
