#!/usr/bin/env bash
# Hostile and odd segments on real connections to the real Redis through
# the attached programs, guarded and retrans (tests/live/hostile.py, one
# TAP line per case and mode): after each hostile segment the client must
# have received exactly what Linux and Redis would send (nothing answered
# for a segment the kernel drops, a challenge ACK where Linux sends one,
# the stream byte-exact and nothing shifted afterwards). Mode off first:
# nothing answered before the stack, so every case must pass there; that
# checks the client and the expectations themselves. The client
# namespace's own kernel RSTs for our ports are dropped (nftables): the
# client is scapy.
# Beyond single segments: cross_db (a SELECTed connection's miss must not
# fill the cache db 0 reads, nor db 0's cached value answer it), reject_*
# (GETs in shapes Redis's parser refuses or reads as inline: Redis's own
# reply, never the cache's) and first_window (the window of a first reply
# answered at XDP after a window-scaled handshake: the kernel's, scaled).
# HOSTILE_CASES="a b" runs only those cases (when breaking a guard on
# purpose to see a case fail).
. "$(dirname "$0")/lib.sh"
NFT_TABLE=prestack_hostile
CASES=${HOSTILE_CASES:-"bad_checksum corrupt_set ack_unsent paws rst_out_of_window rst_in_window syn_again urg fragments tiny_fragments after_quit quit_then_get cross_db reject_cr reject_count0 reject_len0 reject_empty first_window"}
plan $(( 3 * $(echo $CASES | wc -w) ))
cleanup_hostile() {
	cli nft delete table inet "$NFT_TABLE" 2>/dev/null
	teardown
}
port=41000
for mode in off guarded retrans; do
	teardown
	"$TB" up >/dev/null || { echo "Bail out! testbed up failed"; exit 1; }
	trap cleanup_hostile EXIT
	trap 'exit 130' INT TERM
	"$PS" attach "${TGT[@]}" --mode "$mode" --no-coherence >/dev/null ||
		{ echo "Bail out! attach failed"; exit 1; }
	srv_redis flushall >/dev/null
	srv_redis set h:a alpha-value >/dev/null
	srv_redis set h:b bravo-value >/dev/null
	"$PS" cache warm --redis "$REDIS_LO" "${TGT[@]}" >/dev/null
	cli nft -f - <<-NFT
	table inet $NFT_TABLE {
		chain out {
			type filter hook output priority 0; policy accept;
			tcp sport 41000-41999 tcp flags rst drop
		}
	}
	NFT
	mac=$(ip -n "$NS_SRV" -br link show "$DEV_SRV" | awk '{print $3}')
	out=$(cli timeout 360 $PY "$TOP/tests/live/hostile.py" --dst-mac "$mac" \
		--base-port "$port" --mode "$mode" $CASES 2>&1)
	port=$((port + 100))
	for c in $CASES; do
		line=$(echo "$out" | grep -F "\"case\": \"$c\"")
		[ -n "$line" ] || { ok 1 "$mode: $c: no result"; continue; }
		why=$(echo "$line" | jq -r .why)
		[ -n "$why" ] && echo "#   $why"
		echo "$line" | jq -c '{hostile_data, hostile_acks, hostile_rsts, received, expected}' | sed 's/^/#   /'
		echo "$line" | jq -c 'select(.info) | .info' | sed 's/^/#   /'
		ok "$([ "$(echo "$line" | jq -r .ok)" = true ]; echo $?)" "$mode: $(echo "$line" | jq -r .desc)"
	done
	echo "$out" | grep -v '^{' | sed 's/^/#   /'
	"$PS" stats "${TGT[@]}" --json | jq -c '{get_hits,replies,flows_new,flows_closed,flows_untrusted,fragments,dropped}' | sed 's/^/#   /'
	cli nft delete table inet "$NFT_TABLE" 2>/dev/null
done
finish
