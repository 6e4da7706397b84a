#!/usr/bin/env bash
# replay-rate.sh [--loops N] [--gets N] - GET packets at tcpreplay's top
# speed into the testbed (client side), answered by prestack in naive mode;
# reports replies per second from prestack's counters next to tcpreplay's
# own send rate, and appends a row to results/replay-rate.csv.
#
# How the replayed flow becomes answerable: a one-SYN pcap is replayed
# first; the live server answers with a SYN-ACK that TC egress learns from
# (server ISN, options), so the flow is established for prestack. Then a
# pcap of GETs on that connection is looped. Naive answers every cached GET
# whatever its sequence number (guarded would take the loops for
# retransmissions). The client namespace's RSTs for the port are dropped
# (nftables), so nothing resets the flow.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
PS="$TOP/build/prestack"
TB="$TOP/experiments/testbed.sh"
. "$TOP/experiments/testbed.env"
TGT=(--netns "$NS_SRV" --dev "$DEV_SRV")
. "$TOP/experiments/rate_lib.sh"
loops=200 gets=1000
while [ $# -gt 0 ]; do
	case "$1" in
	--loops) loops=${2:-}; shift 2 ;;
	--gets) gets=${2:-}; shift 2 ;;
	-h|--help) sed -n '2,14s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "replay-rate: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
[[ "$loops" =~ ^[0-9]+$ && "$gets" =~ ^[0-9]+$ && $loops -gt 0 && $gets -gt 0 ]] ||
	{ echo "replay-rate: --loops and --gets take positive integers" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "replay-rate: run as root" >&2; exit 1; }

tmp=$(mktemp -d)
cleanup() {
	rate_teardown prestack_rate
	"$PS" detach "${TGT[@]}" --force >/dev/null 2>&1 || true
	"$TB" down >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$TB" up >/dev/null
rate_setup "$tmp" "$gets" prestack_rate
"$PS" attach "${TGT[@]}" --mode naive >/dev/null
"$PS" cache warm --redis "127.0.0.1:$PORT" --match 'rate:*' "${TGT[@]}" >/dev/null
ip netns exec prestack-cli tcpreplay -q -i ps-cli "$tmp/rate-syn.pcap" >/dev/null
sleep 0.3
"$PS" flows "${TGT[@]}" | grep -q " est " ||
	{ echo "replay-rate: the flow did not become established" >&2; exit 1; }
r0=$("$PS" stats "${TGT[@]}" --json | jq .replies)
t0=$(date +%s.%N)
out=$(ip netns exec prestack-cli tcpreplay -i ps-cli --topspeed --loop "$loops" "$tmp/rate-gets.pcap" 2>&1)
t1=$(date +%s.%N)
sleep 0.2
r1=$("$PS" stats "${TGT[@]}" --json | jq .replies)
sent=$((loops * gets))
replies=$((r1 - r0))
secs=$(echo "$t1 - $t0" | bc -l)
pps=$(echo "$out" | sed -n 's/.*Rated: [0-9.]* Bps, [0-9.]* Mbps, \([0-9.]*\) pps.*/\1/p' | head -1)
rate=$(printf '%.0f' "$(echo "$replies / $secs" | bc -l)")
echo "tcpreplay sent $sent GETs (${pps:-?} pps as it reports); prestack answered $replies ($rate replies/s over ${secs%????}s)"
csv="$TOP/results/replay-rate.csv"
# one row, the provenance columns first (pylib's csvio)
PYTHONPATH="$TOP/pylib" /usr/bin/python3 -m prestack_lib.csvio append "$csv" -- \
	printf 'mode,gets_sent,replies,seconds,replies_per_s,tcpreplay_pps,offloads\n%s\n' \
	"naive,$sent,$replies,${secs},$rate,${pps:-},all-off"
