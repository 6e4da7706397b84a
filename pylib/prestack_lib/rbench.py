"""rbench.py - redis-benchmark (7.x) runs and their text output parsed.

redis-benchmark without -q and --csv prints, after its progress lines:

  Latency by percentile distribution:
  50.000% <= 0.695 milliseconds (cumulative count 10116)
  ...
  Cumulative distribution of latencies:
  0.020% <= 0.103 milliseconds (cumulative count 4)
  ...
  Summary:
    throughput summary: 36363.64 requests per second

Both distribution sections are read from the same HdrHistogram (the first
at percentile steps that halve towards 100%, the second at 0.1 ms steps up
to 2 ms, then 1 ms), so their union is one cumulative distribution with
more points than either: `parse()` returns it sorted. p50, p99 and max are
the summary's own (HdrHistogram's exact values); p99.9, which the summary
does not print, is interpolated linearly between the two points of the
distribution around it (--precision 3 prints microseconds).

With --csv it prints only a header and a row per test, latencies in
milliseconds:

  "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",...
  "GET","198412.69","1.088","0.168","0.999","1.615","4.391","5.495"

`parse_csv()` returns those rows."""
import csv
import io
import re

_POINT = re.compile(r"^\s*([0-9.]+)% <= ([0-9.]+) milliseconds \(cumulative count (\d+)\)\s*$")
_TPUT = re.compile(r"throughput summary:\s*([0-9.]+) requests per second")
_SUMMARY = re.compile(r"avg\s+min\s+p50\s+p95\s+p99\s+max\s*\n\s*([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)"
                      r"\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)")
_DONE = re.compile(r"(\d+) requests completed in ([0-9.]+) seconds")


class ParseError(ValueError):
    pass


def parse(text):
    """{'rps', 'requests', 'seconds', 'cdf': [(latency_ms, count)...],
    'p50_ms', 'p99_ms', 'p999_ms', 'max_ms'} from one run's stdout."""
    text = text.replace("\r", "\n")
    m = _TPUT.search(text)
    if not m:
        raise ParseError("no 'throughput summary' line (redis-benchmark failed or not 7.x?)")
    rps = float(m.group(1))
    d = _DONE.search(text)
    points = {}
    section = None
    for line in text.split("\n"):
        if line.startswith("Latency by percentile distribution"):
            section = "pct"
        elif line.startswith("Cumulative distribution of latencies"):
            section = "cum"
        elif line.startswith("Summary"):
            section = None
        elif section:
            p = _POINT.match(line)
            if p:
                lat, cnt = float(p.group(2)), int(p.group(3))
                points[lat] = max(cnt, points.get(lat, 0))
    if not points:
        raise ParseError("no latency distribution in the output")
    cdf = sorted(points.items())
    # cumulative counts never fall as latency rises: repair rounding overlap
    fixed, top = [], 0
    for lat, cnt in cdf:
        top = max(top, cnt)
        fixed.append((lat, top))
    total = fixed[-1][1]
    out = {"rps": rps, "requests": int(d.group(1)) if d else total,
           "seconds": float(d.group(2)) if d else 0.0, "cdf": fixed, "count": total}
    s = _SUMMARY.search(text)
    if s:
        out.update(avg_ms=float(s.group(1)), p50_ms=float(s.group(3)), p99_ms=float(s.group(5)),
                   max_ms=float(s.group(6)))
    else:
        out.update(avg_ms=None, p50_ms=percentile(fixed, .5), p99_ms=percentile(fixed, .99),
                   max_ms=fixed[-1][0])
    out["p999_ms"] = percentile(fixed, .999)
    return out


def percentile(cdf, q):
    """The latency at cumulative share q, linear between the points
    around it."""
    total = cdf[-1][1]
    want = q * total
    prev_lat, prev_cnt = 0.0, 0
    for lat, cnt in cdf:
        if cnt >= want - 1e-9:
            if cnt == prev_cnt:
                return lat
            return round(prev_lat + (want - prev_cnt) / (cnt - prev_cnt) * (lat - prev_lat), 4)
        prev_lat, prev_cnt = lat, cnt
    return cdf[-1][0]


# redis-benchmark --csv's columns -> our names (latencies stay in ms)
CSV_COLUMNS = {"test": "test", "rps": "rps", "avg_latency_ms": "avg_ms", "min_latency_ms": "min_ms",
               "p50_latency_ms": "p50_ms", "p95_latency_ms": "p95_ms", "p99_latency_ms": "p99_ms",
               "max_latency_ms": "max_ms"}


def parse_csv(text):
    """[{'test', 'rps', 'avg_ms', 'min_ms', 'p50_ms', 'p95_ms', 'p99_ms',
    'max_ms'}, ...], one per test, from redis-benchmark --csv's stdout;
    ParseError without its header, without a row, or with a value that is
    not a number."""
    lines = [ln for ln in text.replace("\r", "\n").split("\n") if ln.strip()]
    start = next((i for i, ln in enumerate(lines) if ln.startswith('"test","rps"')), None)
    if start is None:
        raise ParseError("no CSV header (redis-benchmark failed, or ran without --csv?)")
    rows = list(csv.DictReader(io.StringIO("\n".join(lines[start:]))))
    if not rows:
        raise ParseError("a CSV header and no test row")
    out = []
    for r in rows:
        missing = [c for c in CSV_COLUMNS if r.get(c) in (None, "")]
        if missing:
            raise ParseError(f"CSV row without {', '.join(missing)}: {r}")
        try:
            out.append({new: (r[old] if new == "test" else float(r[old])) for old, new in CSV_COLUMNS.items()})
        except ValueError:
            raise ParseError(f"CSV row with a value that is not a number: {r}")
    return out
