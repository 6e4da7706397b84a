"""medci.py - a confidence interval for a median from the repetitions
themselves, without assuming a distribution (the order-statistic interval:
the repetitions are independent draws, and each falls below the true median
with probability 1/2, so the number below is Binomial(n, 1/2)).

  median_ci(xs, conf=0.95) -> (lo, hi, coverage) or None
  ci_columns(prefix, xs)   -> {prefix_ci95_lo, prefix_ci95_hi}: the
                              summaries' columns, empty below 6 values

(lo, hi) = (x_(k), x_(n-k+1)) of the sorted values for the largest k whose
interval still covers the median with probability >= conf; coverage is that
probability, exactly. None when n is too small for any interval to reach
conf (n <= 5 at 95%: even (min, max) covers with 1 - 2/2^n < 0.95)."""
from math import comb


def _below(k, n):
    """P(Binomial(n, 1/2) <= k)."""
    return sum(comb(n, i) for i in range(k + 1)) / 2 ** n


def median_ci(xs, conf=0.95):
    xs = sorted(float(x) for x in xs)
    n = len(xs)
    best = None
    for k in range(1, n // 2 + 1):
        cover = 1 - 2 * _below(k - 1, n)
        if cover < conf:
            break
        best = (xs[k - 1], xs[n - k], round(cover, 4))
    return best


def ci_columns(prefix, xs):
    """The median's 95% interval as a summary's two columns, empty with
    fewer than 6 values (no 95% interval exists below that)."""
    c = median_ci(xs) if len(xs) >= 6 else None
    return {f"{prefix}_ci95_lo": round(c[0], 4) if c else "",
            f"{prefix}_ci95_hi": round(c[1], 4) if c else ""}
