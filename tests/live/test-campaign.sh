#!/usr/bin/env bash
# The randomized fault campaign (experiments/campaign/run.py) on a few
# seeds: it writes a row per (seed, mode, client) and a summary per mode,
# judges thousands of replies, and its judge can fail: naive (one offset,
# no guards) is caught delivering wrong values under the same faults under
# which guarded delivers none. Then a lost cell: the middlebox killed
# (--kill-mbx) exits 1, leaves the CSV byte for byte, and --resume measures
# only that cell. Seeds 3 and 5 (their mixes drop, split, dup and reorder
# both ways), redis-py pooled and pipelined and hiredis pipeload, 6 s a cell.
. "$(dirname "$0")/lib.sh"
plan 12
tmp=$(mktemp -d)
out="$tmp/campaign-check.csv"
sum="$tmp/campaign-check-summary.csv"
side="$TOP/build/failures-resume/campaign-check.csv.jsonl"
trap 'teardown; rm -rf "$tmp" "$side" "$TOP/build/partial/campaign-check.csv" \
	"$TOP/build/partial/campaign-check-summary.csv"' EXIT
rm -f "$side"
CL=redis-py-pooled,redis-py-pipelined,hiredis-pipeload
col() { # file mode column: the column summed over the mode's rows
	"$PY" -c 'import csv,sys
print(sum(int(r[sys.argv[3]] or 0) for r in csv.DictReader(open(sys.argv[1])) if r["mode"] == sys.argv[2]))' "$@"
}

log=$("$PY" "$TOP/experiments/campaign/run.py" --seeds 3,5 --modes guarded,naive --clients $CL \
	--secs 6 --out "$out" 2>&1)
rc=$?
echo "$log" | grep -E "^seed|^campaign" | sed 's/^/#   /'
is "$rc" 0 "a campaign whose cells all ran exits 0 (wrong replies are results, not lost cells)"
is "$(grep -c "^" "$out" 2>/dev/null)" 13 "one row per seed, mode and client (2 x 2 x 3) + header"
is "$(head -1 "$out" | cut -d, -f1-8)" "date,machine,kernel,cpu,commit,seed,mode,client" \
	"provenance columns first, then the cell"
g=$(col "$out" guarded replies)
ok $([ "${g:-0}" -ge 2000 ]; echo $?) "guarded: thousands of replies judged ($g)"
is "$(col "$out" guarded wrong)/$(col "$out" guarded stale)" "0/0" "guarded: no wrong, no stale reply"
w=$(col "$out" naive wrong)
ok $([ "${w:-0}" -gt 0 ]; echo $?) "naive: wrong replies caught ($w): the judge can fail"
is "$("$PY" -c 'import csv,sys
print(" ".join(r["mode"] + ":" + r["replies"] for r in csv.DictReader(open(sys.argv[1]))))' "$sum" |
	sed 's/:[0-9]*//g')" "guarded naive" "the summary: one row per mode"
is "$(col "$sum" guarded replies)" "$g" "the summary's replies are the rows' sum"

printf 'seed,mode,client\nold,old,old\n' >"$out"
cp "$out" "$tmp/before.csv"
log=$("$PY" "$TOP/experiments/campaign/run.py" --seeds 3 --modes off,guarded \
	--clients redis-py-pooled --secs 2 --kill-mbx 3/guarded --out "$out" 2>&1)
rc=$?
echo "$log" | tail -3 | sed 's/^/#   /'
is "$rc" 1 "a lost cell (the middlebox killed): exit 1"
ok $(cmp -s "$out" "$tmp/before.csv"; echo $?) "the CSV that was there is left byte for byte"
log=$("$PY" "$TOP/experiments/campaign/run.py" --seeds 3 --modes off,guarded \
	--clients redis-py-pooled --secs 2 --out "$out" --resume 2>&1)
rc=$?
echo "$log" | tail -2 | sed 's/^/#   /'
ok $([ "$rc" = 0 ] && echo "$log" | grep -q "resuming: 1 cell"; echo $?) \
	"--resume measures only the lost cell, exit 0"
is "$("$PY" -c 'import csv,sys
print(" ".join(r["seed"] + "/" + r["mode"] for r in csv.DictReader(open(sys.argv[1]))))' "$out")" \
	"3/off 3/guarded" "the CSV: both cells, in order"
finish
