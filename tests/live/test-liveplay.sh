#!/usr/bin/env bash
# Live replay smoke test, one scenario per mode: the outcome the
# replay-suite matrix records for it. experiments/liveplay sets up and tears
# down the testbed itself.
. "$(dirname "$0")/lib.sh"
plan 3
run() { # scenario mode want
	local out
	out=$(timeout 120 "$TOP/experiments/liveplay" "$1" --mode "$2" 2>&1 | tail -1)
	echo "#   $out"
	is "$(echo "$out" | jq -r .outcome 2>/dev/null)" "$3" "liveplay $1 [$2] is $3"
}
run clean_mix off correct
run split_set naive stale
run retrans_answered_get guarded correct
finish
