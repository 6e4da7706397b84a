#!/usr/bin/python3
"""The benchmarks' reading of redis-benchmark 7.0 output
(pylib/prestack_lib/rbench.py) on captured runs: the e2e benchmark's
(tests/fixtures/redis-benchmark-7.0-get.txt: 20,000 GETs, 50 clients,
--precision 3, progress lines and carriage returns included) and
bench-pipelined's --csv (tests/fixtures/redis-benchmark-7.0-get-p16.csv:
50,000 GETs, 50 clients, -P 16, --threads 2). Exact values. Prints TAP."""
import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "pylib"))
from prestack_lib import rbench  # noqa: E402
from prestack_lib.tap import done, ok  # noqa: E402

text = open(os.path.join(TOP, "tests", "fixtures", "redis-benchmark-7.0-get.txt")).read()
r = rbench.parse(text)
ok(r["rps"] == 36363.64, "throughput from the summary line", r["rps"])
ok((r["requests"], r["seconds"]) == (20000, 0.55), "requests and seconds", (r["requests"], r["seconds"]))
ok((r["p50_ms"], r["p99_ms"], r["max_ms"]) == (0.695, 5.903, 7.055), "p50, p99, max from the summary",
   (r["p50_ms"], r["p99_ms"], r["max_ms"]))
# 99.9% of 20,000 = 19,980: between 6.703 ms (19,961) and 6.839 ms (19,981)
ok(r["p999_ms"] == 6.8322, "p99.9 interpolated between the points around it", r["p999_ms"])
ok(len(r["cdf"]) == 41 and r["cdf"][0] == (0.103, 4) and r["cdf"][-1] == (7.103, 20000),
   "the distribution: both tables' 41 distinct points, first and last", (len(r["cdf"]), r["cdf"][:1], r["cdf"][-1:]))
ok(all(a[0] < b[0] and a[1] <= b[1] for a, b in zip(r["cdf"], r["cdf"][1:])),
   "latency rising, cumulative count never falling")
q = rbench.percentile([(0.1, 10), (0.2, 50), (0.4, 100)], 0.5)
ok(q == 0.2, "a percentile on a point is that point's latency", q)
try:
    rbench.parse(text.split("Summary:")[0])
    bad = False
except rbench.ParseError:
    bad = True
ok(bad, "output without a summary is an error, not a zero")

text = open(os.path.join(TOP, "tests", "fixtures", "redis-benchmark-7.0-get-p16.csv")).read()
rows = rbench.parse_csv(text)
ok(rows == [{"test": "GET", "rps": 198412.69, "avg_ms": 1.088, "min_ms": 0.168, "p50_ms": 0.999,
             "p95_ms": 1.615, "p99_ms": 4.391, "max_ms": 5.495}],
   "--csv: the GET row, every column by name", rows)
ok(rbench.parse_csv("GET: rps=1.0 (overall: 2.0) avg_msec=0.1\r" + text) == rows,
   "--csv: a progress line before the header is skipped")
bad = []
for broken in ("", text.splitlines()[0] + "\n", text.replace("198412.69", "n/a"), text.replace("4.391", "")):
    try:
        rbench.parse_csv(broken)
        bad.append(broken[-40:])
    except rbench.ParseError:
        pass
ok(not bad, "--csv: no header, no row, a value that is not a number, an empty value: errors", bad)
done()
