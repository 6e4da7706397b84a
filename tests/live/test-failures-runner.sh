#!/usr/bin/env bash
# The failure matrix's runner fails loudly (experiments/failures/run.py):
# a cell whose middlebox is killed (--kill-mbx) is lost, the run exits 1,
# the CSV that was there stays byte for byte, the cell measured before it
# is kept in the resume sidecar; --resume then measures only the missing
# cell and writes the whole CSV, provenance columns first. Two cells of
# the `clean` scenario, --quick (~10 s a cell).
. "$(dirname "$0")/lib.sh"
plan 10
tmp=$(mktemp -d)
out="$tmp/runner-check.csv"
side="$TOP/build/failures-resume/runner-check.csv.jsonl"
trap 'teardown; rm -rf "$tmp" "$side"' EXIT
rm -f "$side"
printf 'scenario,mode,outcome\nold,old,correct\n' >"$out"
cp "$out" "$tmp/before.csv"

log=$("$PY" "$TOP/experiments/failures/run.py" --quick --only clean --modes off,guarded \
	--kill-mbx clean/guarded --out "$out" 2>&1)
rc=$?
echo "$log" | tail -4 | sed 's/^/#   /'
is "$rc" 1 "a lost cell: the run exits 1"
ok $(cmp -s "$out" "$tmp/before.csv"; echo $?) "the CSV that was there is left byte for byte"
ok $(echo "$log" | grep -q "lost clean/guarded: the middlebox was not running"; echo $?) \
	"the lost cell is named, and why"
is "$(grep -c '"scenario": "clean"' "$side" 2>/dev/null)" 1 "the cell measured before is in the sidecar"
is "$(grep -c "^" "$TOP/build/partial/runner-check.csv" 2>/dev/null)" 2 \
	"the row measured is under build/partial/ (header + 1 row)"
off_date=$("$PY" -c 'import json,sys
ls = [json.loads(x) for x in open(sys.argv[1])]
print(ls[1]["date"])' "$side" 2>/dev/null)

log=$("$PY" "$TOP/experiments/failures/run.py" --quick --only clean --modes off,guarded \
	--out "$out" --resume 2>&1)
rc=$?
echo "$log" | tail -3 | sed 's/^/#   /'
is "$rc" 0 "--resume: the missing cell measured, exit 0"
ok $(echo "$log" | grep -q "resuming: 1 cell"; echo $?) "--resume took the measured cell from the sidecar"
is "$(head -1 "$out" | cut -d, -f1-7)" "date,machine,kernel,cpu,commit,scenario,mode" \
	"the CSV: provenance columns first, then the cell"
is "$("$PY" -c 'import csv,sys
print(" ".join(r["mode"] + ("=" + r["date"] if r["mode"] == "off" else "")
               for r in csv.DictReader(open(sys.argv[1]))))' "$out")" "off=$off_date guarded" \
	"both cells in matrix order; off is the row of the first run, not measured again"
ok $([ ! -e "$side" ]; echo $?) "a complete run removes the sidecar"
rm -f "$TOP/build/partial/runner-check.csv"
finish
