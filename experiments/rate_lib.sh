# experiments/rate_lib.sh - sourced by replay-rate.sh and bench/ceiling.sh
# (after testbed.env): the shared setup for replaying GET frames with
# tcpreplay into the testbed.

# rate_setup DIR N NFT_TABLE: rate-syn.pcap + rate-gets.pcap (N GETs) with
# the testbed's own MACs in DIR, keys rate:0..99 in Redis, and the client
# namespace's RSTs for the replayed port dropped (table NFT_TABLE).
rate_setup() {
	local dir=$1 n=$2 table=$3
	/usr/bin/python3 "$TOP/experiments/rate_pcaps.py" "$dir" "$n" \
		"$(ip -n "$NS_CLI" -br link show "$DEV_CLI" | awk '{print $3}')" \
		"$(ip -n "$NS_SRV" -br link show "$DEV_SRV" | awk '{print $3}')"
	for i in $(seq 0 99); do echo "SET rate:$i value-$i"; done |
		ip netns exec "$NS_SRV" redis-cli -h 127.0.0.1 -p "$PORT" >/dev/null
	ip netns exec "$NS_CLI" nft -f - <<NFT
table inet $table {
	chain out {
		type filter hook output priority 0; policy accept;
		tcp sport 41000 tcp flags rst drop
	}
}
NFT
}

# rate_teardown NFT_TABLE
rate_teardown() {
	ip netns exec "$NS_CLI" nft delete table inet "$1" 2>/dev/null || true
}
