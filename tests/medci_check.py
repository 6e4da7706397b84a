#!/usr/bin/python3
"""medci_check.py - the median's confidence interval (pylib medci), TAP."""
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pylib"))
from prestack_lib.medci import ci_columns, median_ci  # noqa: E402
from prestack_lib.tap import done, ok  # noqa: E402



ok(median_ci([1, 2, 3, 4, 5]) is None, "5 repetitions: no 95% interval (min..max covers 93.75%)")
ok(median_ci([3, 1, 2, 6, 5, 4]) == (1.0, 6.0, 0.9688), "6 repetitions: min..max, 96.88%")
# n = 10: k = 2 (P(B <= 1) = 11/1024): x(2)..x(9), 97.85%
ok(median_ci(range(10, 0, -1)) == (2.0, 9.0, 0.9785), "10 repetitions: 2nd..9th, 97.85%, unsorted input")
ok(median_ci(range(1, 21)) == (6.0, 15.0, 0.9586), "20 repetitions: 6th..15th, 95.86%")
ok(median_ci(range(1, 11), conf=0.99) == (1.0, 10.0, 0.998), "99%: a wider interval")
# coverage, simulated: the true median of an asymmetric distribution
random.seed(7)
hit = trials = 0
for _ in range(4000):
    xs = [random.expovariate(1.0) for _ in range(10)]
    lo, hi, _c = median_ci(xs)
    hit += lo <= 0.6931471805599453 <= hi
    trials += 1
ok(0.965 <= hit / trials <= 0.99, f"simulated coverage at n=10 near 97.85%: {hit / trials:.3f}")
ok(ci_columns("x", range(1, 11)) == {"x_ci95_lo": 2.0, "x_ci95_hi": 9.0} and
   ci_columns("x", range(5)) == {"x_ci95_lo": "", "x_ci95_hi": ""},
   "ci_columns: the two columns, empty below 6 values")
done()
