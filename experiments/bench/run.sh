#!/usr/bin/env bash
# experiments/bench/run.sh [--quick] - every benchmark, in one run:
# per-packet cost and the dummy-cache curve (pktcost), the packet-rate
# ceiling against a reflector (ceiling.sh), end to end (e2e.py); CSVs into
# results/ (or $PS_RESULTS), then the plots. --quick: about a minute.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
RES=${PS_RESULTS:-$TOP/results}
quick=
[ "${1:-}" = --quick ] && quick=--quick
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root" >&2; exit 1; }
mkdir -p "$RES"
runs=20000
[ -n "$quick" ] && runs=2000
commit=$(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo none)
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
"$TOP/build/pktcost" "$runs" |
	awk -v d="$(date -u +%FT%TZ)" -v c="$commit" -v cpu="$cpu" \
	    'NR == 1 { print "date,commit,cpu," $0; next } { print d "," c ",\"" cpu "\"," $0 }' \
	    >"$RES/bench-pktcost.csv"
echo "wrote $RES/bench-pktcost.csv"
"$TOP/build/pktcost" "$runs" --dummy |
	awk -v d="$(date -u +%FT%TZ)" -v c="$commit" -v cpu="$cpu" \
	    'NR == 1 { print "date,commit,cpu," $0; next } { print d "," c ",\"" cpu "\"," $0 }' \
	    >"$RES/bench-dummy.csv"
echo "wrote $RES/bench-dummy.csv"
if [ -n "$quick" ]; then
	"$TOP/experiments/bench/ceiling.sh" --loops 5 --reps 1
else
	"$TOP/experiments/bench/ceiling.sh" --loops 100 --reps 3
fi
/usr/bin/python3 "$TOP/experiments/bench/e2e.py" $quick
/usr/bin/python3 "$TOP/experiments/bench/plots.py" "$RES"
/usr/bin/python3 "$TOP/experiments/bench/plot_e2e.py" "$RES"
