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
# CSVs through pylib's csvio: provenance columns first (date, machine,
# kernel, cpu, commit), the file replaced only if the command succeeded
csv_save() { PYTHONPATH="$TOP/pylib" /usr/bin/python3 -m prestack_lib.csvio save "$@"; }
csv_save "$RES/bench-pktcost.csv" -- "$TOP/build/pktcost" "$runs"
csv_save "$RES/bench-dummy.csv" -- "$TOP/build/pktcost" "$runs" --dummy
csv_save "$RES/bench-tc-reply.csv" -- "$TOP/build/pktcost" "$runs" --tc-reply
if [ -n "$quick" ]; then
	"$TOP/experiments/bench/ceiling.sh" --loops 5 --reps 1
else
	"$TOP/experiments/bench/ceiling.sh" --loops 100 --reps 3
fi
/usr/bin/python3 "$TOP/experiments/bench/e2e.py" $quick
/usr/bin/python3 "$TOP/experiments/bench/plots.py" "$RES"
/usr/bin/python3 "$TOP/experiments/bench/plot_e2e.py" "$RES"
