#!/usr/bin/env bash
# tests/readme_check.sh - the README's results table is what the committed
# CSVs in results/ give (experiments/readme_results.py), and the check can
# fail: a table with one number changed is caught. TAP.
set -uo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gen=experiments/readme_results.py
echo "1..3"
/usr/bin/python3 "$gen" --check >"$tmp/out" 2>&1
if [ $? -eq 0 ]; then echo "ok 1 - README's results table matches results/"; else
	echo "not ok 1 - README's results table matches results/"; sed 's/^/# /' "$tmp/out"; fi
# a drifted number: the first digit inside the block changed
/usr/bin/python3 - "$tmp/README.md" <<'PY'
import re, sys
t = open("README.md").read()
b, e = t.index("<!-- results:begin -->"), t.index("<!-- results:end -->")
blk = t[b:e]
m = re.search(r"\| (\d)", blk)
blk = blk[:m.start(1)] + str((int(m.group(1)) + 1) % 10) + blk[m.end(1):] if m else blk + "x"
open(sys.argv[1], "w").write(t[:b] + blk + t[e:])
PY
/usr/bin/python3 "$gen" --check --readme "$tmp/README.md" >/dev/null 2>&1
[ $? -eq 1 ] && echo "ok 2 - a number changed by hand is caught" || echo "not ok 2 - a number changed by hand is caught"
# a README without the block is refused, not silently passed
grep -v 'results:begin\|results:end' README.md >"$tmp/README2.md"
/usr/bin/python3 "$gen" --check --readme "$tmp/README2.md" >/dev/null 2>&1
[ $? -eq 2 ] && echo "ok 3 - a README without the table's markers is refused" || echo "not ok 3 - a README without the table's markers is refused"
