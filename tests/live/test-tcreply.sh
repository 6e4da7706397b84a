#!/usr/bin/env bash
# (t) The TC ingress path (docs/tc-reply.md): values up to PS_VAL_MAX are
# answered before the stack byte-exact, multi-segment replies included,
# and Redis executes none of them; with --no-tc-reply they go to Redis.
# A large value not warmed is filled at TC egress and then answered. The
# checker with values up to 8 KB finds nothing wrong or stale.
. "$(dirname "$0")/lib.sh"
plan 18
SIZES="100 600 1024 1025 1500 5000 9000 16384"
DIR=$(mktemp -d)
KEYS=""
for n in $SIZES; do
	head -c "$n" /dev/urandom | base64 -w0 | head -c "$n" >"$DIR/tc$n"
	KEYS="$KEYS tc$n"
done
cleanup() { teardown; rm -rf "$DIR"; }

attach_with() { # mode [attach options]
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	teardown
	"$TB" up >/dev/null || { echo "Bail out! testbed up failed"; exit 1; }
	"$PS" attach "${TGT[@]}" --mode "$@" >/dev/null ||
		{ echo "Bail out! attach failed"; exit 1; }
	for k in $KEYS; do srv_redis -x set "$k" <"$DIR/$k" >/dev/null; done
}
# Each hook counted every packet's verdict at its one exit: packets equal
# the sum of their verdicts (read until two reads agree: a packet between
# its hook's entry and exit can be caught half-counted)
verdicts_add_up() {
	local q='if .packets == .passed + .tx + .dropped + .redirected and
		.tc_packets == .tc_ok + .tc_shot + .tc_redirect and
		.tcin_packets == .tcin_ok + .tcin_shot + .tcin_redirect then "ok" else
		"packets \(.packets) passed \(.passed) tx \(.tx) dropped \(.dropped) redirected \(.redirected); tc \(.tc_packets) = \(.tc_ok)+\(.tc_shot)+\(.tc_redirect); tcin \(.tcin_packets) = \(.tcin_ok)+\(.tcin_shot)+\(.tcin_redirect)" end'
	local a b i
	for i in 1 2 3 4 5; do
		a=$("$PS" stats "${TGT[@]}" --json | jq -r "$q")
		[ "$a" = ok ] && { echo ok; return; }
		b=$("$PS" stats "${TGT[@]}" --json | jq -r "$q")
		[ "$a" = "$b" ] && break
		sleep 0.2
	done
	echo "$a"
}
fetch() { # rounds
	cli $PY "$TOP/tests/live/tcreply.py" --host "$IP_SRV" --port "$PORT" --dir "$DIR" \
		--rounds "$1" $KEYS
}

for mode in guarded retrans; do
	attach_with $mode
	"$PS" cache warm --redis "$REDIS_LO" "${TGT[@]}" >/dev/null
	g0=$(getcalls); t0=$(stat tc_replies); s0=$(stat tc_segments)
	out=$(fetch 5); r=$?
	echo "$out" | sed 's/^/#   /'
	ok $r "$mode: 8 sizes 100..16384 B x 5 rounds byte-exact"
	is "$(( $(getcalls) - g0 ))" 0 "$mode: Redis executed none of them"
	# over XDP's frame on veth: everything from 600 B (7 sizes x 5)
	tc=$(( $(stat tc_replies) - t0 )); segs=$(( $(stat tc_segments) - s0 ))
	ok $([ "$tc" -ge 30 ]; echo $?) "$mode: $tc replies built at TC ingress, $segs segments"
	is "$(stat tc_lost)" 0 "$mode: no handoff lost"
	is "$(verdicts_add_up)" ok "$mode: every verdict counted once ($(stat tcin_redirect) TC ingress redirects, $(stat tx) XDP_TX)"
	"$PS" stats "${TGT[@]}" --json | jq -c '{get_hits,replies,tc_handoffs,tc_replies,tc_segments,tc_lost,fb_mss,fb_window,flows_untrusted}' | sed 's/^/#   /'
done

# a large value filled at TC egress from Redis's reply, then answered
"$PS" cache flush "${TGT[@]}" >/dev/null
f0=$(stat tc_fills); g0=$(getcalls)
fetch 1 >/dev/null
ok $([ "$(( $(stat tc_fills) - f0 ))" -ge 1 ]; echo $?) "retrans: large values filled at TC egress"
g1=$(getcalls); out=$(fetch 1); r=$?
ok $r "retrans: filled values answered byte-exact"
ok $([ "$(( $(getcalls) - g1 ))" -lt "$(( g1 - g0 ))" ]; echo $?) \
	"retrans: fewer GETs reach Redis once filled ($(( g1 - g0 )) then $(( $(getcalls) - g1 )))"

# the checker, SET values up to 8 KB
out=$(cli timeout 300 $PY "$TOP/tests/live/checker.py" --host "$IP_SRV" --port "$PORT" \
	--ops 20000 --conns 4 --keys 30 --max-value 8000 2>&1); r=$?
echo "$out" | tail -3 | sed 's/^/#   /'
ok $r "retrans: checker with values up to 8 KB: nothing wrong or stale"
ok $([ "$(stat tc_replies)" -gt 0 ]; echo $?) "retrans: the checker's large GETs went through TC ingress"

attach_with guarded --no-tc-reply
"$PS" cache warm --redis "$REDIS_LO" "${TGT[@]}" >/dev/null
g0=$(getcalls); x0=$(stat replies)
out=$(fetch 1); r=$?
ok $r "--no-tc-reply: byte-exact from Redis"
is "$(stat tc_handoffs)" 0 "--no-tc-reply: nothing handed to TC"
# XDP answers what fits its frame: 100 B always, 600 B when the veth
# frame it got has the room (it can: 1 XDP_TX of the 35 over 100 B in
# the runs above); a value over a page (5000, 9000, 16384) never fits
g=$(( $(getcalls) - g0 )); x=$(( $(stat replies) - x0 ))
ok $([ "$g" -ge 3 ] && [ "$(( g + x ))" -eq 8 ]; echo $?) \
	"--no-tc-reply: each GET answered once, $g by Redis (the 3 over a page at least), $x in XDP's frame"
finish
