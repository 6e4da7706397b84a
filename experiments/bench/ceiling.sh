#!/usr/bin/env bash
# ceiling.sh [--loops N] [--reps N] - packet-rate ceiling: the same GET
# frames at tcpreplay's top speed into (a) the bare XDP reflector and (b)
# prestack's hit path (naive), alternating, on the testbed. The rate is
# frames that come back to the client veth per second (its RX counter), so
# both are counted the same way. Appends to results/bench-ceiling.csv
# (or $PS_RESULTS) with the ratio within each repetition.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
PS="$TOP/build/prestack"
TB="$TOP/experiments/testbed.sh"
. "$TOP/experiments/testbed.env"
TGT=(--netns "$NS_SRV" --dev "$DEV_SRV")
RES=${PS_RESULTS:-$TOP/results}
. "$TOP/experiments/rate_lib.sh"
loops=100 reps=3
while [ $# -gt 0 ]; do
	case "$1" in
	--loops) loops=$2; shift 2 ;;
	--reps) reps=$2; shift 2 ;;
	-h|--help) sed -n '2,9s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "ceiling: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" -eq 0 ] || { echo "ceiling: run as root" >&2; exit 1; }
tmp=$(mktemp -d)
cleanup() {
	rate_teardown prestack_ceiling
	ip -n "$NS_SRV" link set dev "$DEV_SRV" xdpdrv off 2>/dev/null || true
	"$PS" detach "${TGT[@]}" --force >/dev/null 2>&1 || true
	"$TB" down >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
"$TB" up >/dev/null
rate_setup "$tmp" 1000 prestack_ceiling
rx() { ip -n "$NS_CLI" -s -j link show "$DEV_CLI" | jq '.[0].stats64.rx.packets'; }
measure() { # -> "frames seconds"
	local r0 r1 t0 t1
	r0=$(rx); t0=$(date +%s.%N)
	ip netns exec "$NS_CLI" tcpreplay -q -i "$DEV_CLI" --topspeed --loop "$loops" \
		"$tmp/rate-gets.pcap" >/dev/null 2>&1
	t1=$(date +%s.%N); sleep 0.2; r1=$(rx)
	echo "$((r1 - r0)) $(echo "$t1 - $t0" | bc -l)"
}
csv="$RES/bench-ceiling.csv"
mkdir -p "$RES"
# this run's rows, appended at the end with the provenance columns
# (pylib's csvio) only if every repetition was measured
rows="$tmp/ceiling-rows.csv"
echo "offloads,rep,target,frames_sent,frames_back,seconds,frames_per_s,ratio_to_reflector" >"$rows"
sent=$((loops * 1000))
for rep in $(seq 1 "$reps"); do
	# the floor
	ip -n "$NS_SRV" link set dev "$DEV_SRV" xdpdrv obj "$TOP/build/reflector.bpf.o" sec xdp
	read -r fr fs < <(measure)
	ip -n "$NS_SRV" link set dev "$DEV_SRV" xdpdrv off
	frate=$(printf '%.0f' "$(echo "$fr / $fs" | bc -l)")
	# prestack's hit path: the flow learnt from a live SYN-ACK first
	"$PS" attach "${TGT[@]}" --mode naive >/dev/null
	"$PS" cache warm --redis "127.0.0.1:$PORT" --match 'rate:*' "${TGT[@]}" >/dev/null
	ip netns exec "$NS_CLI" tcpreplay -q -i "$DEV_CLI" "$tmp/rate-syn.pcap" >/dev/null 2>&1
	sleep 0.3
	read -r pr ps_ < <(measure)
	"$PS" detach "${TGT[@]}" --force >/dev/null
	prate=$(printf '%.0f' "$(echo "$pr / $ps_" | bc -l)")
	ratio=$(printf '%.3f' "$(echo "$prate / $frate" | bc -l)")
	echo "all-off,$rep,reflector,$sent,$fr,$fs,$frate,1.000" >>"$rows"
	echo "all-off,$rep,prestack-naive-hit,$sent,$pr,$ps_,$prate,$ratio" >>"$rows"
	echo "rep $rep: reflector $frate frames/s, prestack hit path $prate replies/s (ratio $ratio)"
done
PYTHONPATH="$TOP/pylib" /usr/bin/python3 -m prestack_lib.csvio append "$csv" -- cat "$rows"
